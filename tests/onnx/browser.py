"""Translates with the page of `loom export --web` in headless Chromium.

    browser.py DIR SOURCES EXPECTED BEAM

Serves DIR over HTTP from this process, opens index.html in headless
Chromium (Debian's chromium and chromium-driver, through selenium), waits
for the model to load in onnxruntime-web, translates SOURCES (one sentence
a line) with the page's own function at beam BEAM and compares with
EXPECTED (`loom translate`'s lines). Prints the counts; exit 0 when every
line is identical, 1 otherwise."""
import functools
import http.server
import sys
import threading
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service


class Quiet(http.server.SimpleHTTPRequestHandler):
    extensions_map = dict(http.server.SimpleHTTPRequestHandler.extensions_map,
                          **{".mjs": "text/javascript", ".js": "text/javascript",
                             ".wasm": "application/wasm", ".json": "application/json"})

    def log_message(self, *args):
        pass


def main():
    d, sources, expected, beam = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    src = open(sources, encoding="utf-8").read().splitlines()
    want = open(expected, encoding="utf-8").read().splitlines()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=d))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        opts.add_argument(a)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    try:
        driver.get("http://127.0.0.1:%d/index.html" % server.server_address[1])
        deadline = time.time() + 120
        while time.time() < deadline:
            state = driver.execute_script("return [window.loomReady || false, window.loomError || '']")
            if state[0] or state[1]:
                break
            time.sleep(0.2)
        if not state[0]:
            print("page did not load the model: %s" % (state[1] or "timeout"))
            for e in driver.get_log("browser")[:5]:
                print("  console:", e.get("message"))
            return 1
        driver.set_script_timeout(600)
        t0 = time.time()
        got = driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "window.loomTranslate(arguments[0], arguments[1]).then(done, (e) => done(['ERROR ' + e]));",
            src, beam)
        secs = time.time() - t0
    finally:
        driver.quit()
        server.shutdown()
    same = sum(1 for a, b in zip(got, want) if a == b)
    print("browser beam %d: %d sentences, identical %d, different %d (%.2f s in the page)"
          % (beam, len(src), same, len(src) - same, secs))
    for i, (a, b) in enumerate(zip(got, want)):
        if a != b:
            print("  line %d: browser '%s' loom '%s'" % (i + 1, a, b))
            break
    return 0 if same == len(src) == len(got) == len(want) else 1


if __name__ == "__main__":
    sys.exit(main())
