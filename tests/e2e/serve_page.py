#!/usr/bin/env python3
"""Drives the page of a running `loom serve` in headless Chromium.

usage: serve_page.py PORT WORD SENTENCE TEXT

Opens http://127.0.0.1:PORT/ (Debian's chromium and chromium-driver,
through selenium), types as a person would: WORD into the nearest-words
box, an analogy, SENTENCE into the translation box and TEXT into the
classifier's, presses each button and reads what the page shows. Each is
compared with the JSON API's answer to the same request, asked here
directly: the words and scores of the table, the words of the PCA map, the
translation, its score and the cells of its attention heat map, the labels
and probabilities. Prints "ok - ..." / "not ok - ..." lines; exit 1 on a
failure."""
import http.client
import json
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

PORT, WORD, SENTENCE, TEXT = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
failures = 0


def ok(cond, name, detail=""):
    global failures
    if cond:
        print("ok - " + name)
    else:
        failures += 1
        print("not ok - " + name + (": " + str(detail)[:400] if detail else ""))


def api(path, body):
    c = http.client.HTTPConnection("127.0.0.1", int(PORT), timeout=30)
    c.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
    r = c.getresponse()
    j = json.loads(r.read())
    c.close()
    return r.status, j


def wait_for(driver, script, what, secs=120):
    """Polls a JavaScript expression until it is true; False on timeout."""
    deadline = time.time() + secs
    while time.time() < deadline:
        if driver.execute_script("return " + script):
            return True
        time.sleep(0.1)
    print("# timed out waiting for " + what)
    return False


def table(driver, tid):
    return [[td.text for td in tr.find_elements(By.TAG_NAME, "td")]
            for tr in driver.find_elements(By.CSS_SELECTOR, "#%s tbody tr" % tid)]


def typed(driver, eid, text):
    e = driver.find_element(By.ID, eid)
    e.clear()
    e.send_keys(text)


def main():
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        opts.add_argument(a)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    try:
        driver.get("http://127.0.0.1:%s/" % PORT)
        ok(wait_for(driver, "document.getElementById('loaded').textContent.startsWith('serving')",
                    "the list of models"), "the page lists what is served")
        loaded = driver.find_element(By.ID, "loaded").text
        ok(loaded == "serving 1 vector file(s), 1 translation model(s), 1 classifier(s)",
           "... one of each", loaded)

        # nearest words: the table and the map
        typed(driver, "word", WORD)
        driver.find_element(By.ID, "k").clear()
        driver.find_element(By.ID, "k").send_keys("8")
        driver.find_element(By.ID, "nearest-go").click()
        ok(wait_for(driver, "document.querySelectorAll('#nearest-table tbody tr').length > 0",
                    "the nearest words"), "nearest: the page shows a table")
        shown = table(driver, "nearest-table")
        s, j = api("/v1/nearest", {"positive": [WORD], "k": 8, "method": "add"})
        want = [[h["word"], "%.4f" % h["score"]] for h in j["results"][0]["neighbours"]] if s == 200 else None
        ok(shown == want and len(shown) == 8,
           "nearest: the page's %d words and scores are the API's for '%s'" % (len(shown), WORD), (shown, want))
        words = [t.text for t in driver.find_elements(By.CSS_SELECTOR, "#map text.map-word")]
        ok(want is not None and words == [WORD] + [w for w, _ in want],
           "nearest: the PCA map places the word and its 8 neighbours", words)
        xs = {c.get_attribute("cx") for c in driver.find_elements(By.CSS_SELECTOR, "#map circle")}
        ok(len(xs) > 1, "... at different places", xs)

        # an unknown word: the API's message on the page
        typed(driver, "word", "qqqnotaword")
        driver.find_element(By.ID, "nearest-go").click()
        ok(wait_for(driver, "document.getElementById('nearest-error').textContent.length > 0", "the error"),
           "nearest: an unknown word shows an error")
        s, j = api("/v1/nearest", {"positive": ["qqqnotaword"], "k": 8})
        ok(s == 422 and driver.find_element(By.ID, "nearest-error").text == j["error"]["message"]
           and not table(driver, "nearest-table"), "... the API's message, and no table",
           driver.find_element(By.ID, "nearest-error").text)

        # analogy
        for eid, w in (("a", "man"), ("b", "woman"), ("c", "he")):
            typed(driver, eid, w)
        driver.find_element(By.ID, "analogy-go").click()
        ok(wait_for(driver, "document.querySelectorAll('#analogy-table tbody tr').length > 0", "the analogy"),
           "analogy: the page shows a table")
        shown = table(driver, "analogy-table")
        s, j = api("/v1/analogy", {"a": "man", "b": "woman", "c": "he", "k": 5, "method": "add"})
        want = [[h["word"], "%.4f" % h["score"]] for h in j["results"][0]["neighbours"]] if s == 200 else None
        ok(shown == want, "analogy: man : woman :: he : ? as the API answers", (shown, want))

        # translation: the output, its score and the heat map
        typed(driver, "src", SENTENCE)
        driver.find_element(By.ID, "beam").clear()
        driver.find_element(By.ID, "beam").send_keys("3")
        driver.find_element(By.ID, "translate-go").click()
        ok(wait_for(driver, "document.getElementById('tgt').textContent.length > 0", "the translation"),
           "translate: the page shows a translation")
        s, j = api("/v1/translate", {"src": [SENTENCE], "beam": 3, "align": True})
        t = j["translations"][0] if s == 200 else {}
        got = driver.find_element(By.ID, "tgt").text
        ok(got == t.get("tgt") and got, "translate: '%s' is the API's translation" % got, (got, t.get("tgt")))
        ok(driver.find_element(By.ID, "tgt-score").text == "score %.4f" % t.get("score", 0),
           "... and its score", driver.find_element(By.ID, "tgt-score").text)
        cells = driver.find_elements(By.CSS_SELECTOR, "#heat rect.heat-cell")
        weights = [float(c.find_element(By.TAG_NAME, "title").get_attribute("textContent")) for c in cells]
        flat = ["%.3f" % a for row in t.get("align", []) for a in row]
        ok(["%.3f" % w for w in weights] == flat and len(cells) == len(t["align"]) * len(t["src_tokens"]),
           "translate: the heat map has a cell per output token (and </s>) and source token, "
           "with the API's attention (%d cells)" % len(cells), (len(cells), len(flat)))
        labels = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#heat text")]
        ok(labels == t["src_tokens"] + t["tokens"] + ["</s>"], "... labelled by the source and output words", labels)

        # classification
        typed(driver, "text", TEXT)
        driver.find_element(By.ID, "classify-go").click()
        ok(wait_for(driver, "document.querySelectorAll('#classify-table tbody tr').length > 0", "the labels"),
           "classify: the page shows the labels")
        shown = [r[:2] for r in table(driver, "classify-table")]
        s, j = api("/v1/classify", {"text": TEXT, "k": 0})
        want = [[l["label"], "%.4f" % l["prob"]] for l in j["labels"]] if s == 200 else None
        ok(shown == want and len(shown) >= 2, "classify: every label and probability as the API gives", (shown, want))

        errors = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"
                  and "qqqnotaword" not in e.get("message", "") and "422" not in e.get("message", "")]
        ok(not errors, "no error in the browser's console", errors[:3])
    finally:
        driver.quit()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
