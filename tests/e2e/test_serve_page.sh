#!/bin/sh
# loom serve's page in headless Chromium: tests/e2e/serve_page.py types a
# word, an analogy, a sentence and a text into the page served at GET / and
# checks that what the page shows (tables, PCA map, translation, heat map,
# labels) is what the JSON API answers. Needs chromium, chromium-driver and
# python3-selenium (Debian; scripts/setup installs them): without them the
# test is skipped, unless LOOM_REQUIRE_ONNXRUNTIME=1 or LOOM_REQUIRE_BROWSER=1
# (scripts/check sets the first), where it fails.
. "$LOOM_SRCDIR/tests/e2e/lib.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ] || ! "$PY" -c 'import selenium' 2>/dev/null; then
    if [ "${LOOM_REQUIRE_ONNXRUNTIME:-0}" = 1 ] || [ "${LOOM_REQUIRE_BROWSER:-0}" = 1 ]; then
        not_ok "chromium, chromium-driver and python3-selenium present (run scripts/setup)"
        finish
        exit 1
    fi
    echo "# SKIP: no chromium, chromium-driver or python3-selenium (run scripts/setup)"
    exit 77
fi

expect_status "a classifier for the page trains" 0 \
    "$LOOM" classify train "$FIXTURES/classify/train.txt" -o "$TMP/cls.loom" --epoch 5 --threads 1 -q
"$LOOM" serve --vectors sotu="$FIXTURES/vectors/sotu.bin" --model rev="$FIXTURES/seq/reverse.loom" \
    --classifier reviews="$TMP/cls.loom" --port 0 --threads 1 >"$TMP/serve.out" 2>"$TMP/serve.err" &
pid=$!
serve_port "$pid" "$TMP/serve.out"
if [ -z "$port" ]; then
    not_ok "the server starts"
    sed 's/^/  stderr: /' "$TMP/serve.err" | head -5
    kill "$pid" 2>/dev/null
    finish
    exit 1
fi
ok "the server starts (port $port)"

"$PY" "$LOOM_SRCDIR/tests/e2e/serve_page.py" "$port" war "a b c d e f" "great pictures , easy to use" \
    >"$TMP/page.out" 2>&1
cat "$TMP/page.out"
passed=$((passed + $(grep -c '^ok - ' "$TMP/page.out")))
failed=$((failed + $(grep -c '^not ok - ' "$TMP/page.out")))
grep -q '^ok - no error in the browser' "$TMP/page.out" || not_ok "the page checks ran to the end"

kill -TERM "$pid"
status=0
wait "$pid" || status=$?
if [ "$status" -eq 0 ]; then ok "the server exits 0 on SIGTERM"; else not_ok "the server exits 0 on SIGTERM (exit $status)"; fi
if grep -qE 'Sanitizer|runtime error' "$TMP/serve.err"; then
    not_ok "no sanitizer report"
    grep -E -A5 'Sanitizer|runtime error' "$TMP/serve.err" | head -20
else
    ok "no sanitizer report"
fi
finish
