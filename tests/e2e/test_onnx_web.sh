#!/bin/sh
# loom export --web: the page translates in headless Chromium with
# onnxruntime-web (WebAssembly), entirely client-side, and gives the same
# greedy and beam-5 translations as `loom translate` on 50 sentences, for a
# GRU and an LSTM model. Needs chromium, chromium-driver, python3-selenium
# (Debian) and onnxruntime-web (npm, tests/onnx): scripts/setup installs
# them; without them the test is skipped, unless LOOM_REQUIRE_ONNXRUNTIME=1
# (scripts/check), where it fails.
. "$LOOM_SRCDIR/tests/e2e/lib.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
SEQ="$FIXTURES/seq"
MODULES=${LOOM_NODE_MODULES:-$LOOM_SRCDIR/tests/onnx/node_modules}
DIST="$MODULES/onnxruntime-web/dist"

if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ] || [ ! -d "$DIST" ] ||
    ! "$PY" -c 'import selenium' 2>/dev/null; then
    if [ "${LOOM_REQUIRE_ONNXRUNTIME:-0}" = 1 ]; then
        not_ok "chromium, chromium-driver, python3-selenium and $DIST present (run scripts/setup)"
        finish
        exit 1
    fi
    echo "# SKIP: no chromium, chromium-driver, python3-selenium or $DIST (run scripts/setup)"
    exit 77
fi

head -50 "$SEQ/reverse-valid.tsv" | cut -f1 >"$TMP/src"
expect_status "loom export --web --ort-web" 0 "$LOOM" export "$SEQ/reverse.loom" -o "$TMP/web" \
    --ort-web "$DIST" -q
for f in index.html loom-onnx.js ort.wasm.min.js ort-wasm-simd-threaded.wasm encoder.onnx; do
    if [ -s "$TMP/web/$f" ]; then ok "the page has $f"; else not_ok "the page has $f"; fi
done
expect_status "--web without --ort-web: the page alone (runtime from jsDelivr)" 0 \
    "$LOOM" export "$SEQ/reverse.loom" -o "$TMP/web-cdn" --web -q
expect_grep "which index.html names" "cdn.jsdelivr.net/npm/onnxruntime-web" "$TMP/web-cdn/index.html"
expect_status "a missing --ort-web directory fails, nothing written" 1 \
    "$LOOM" export "$SEQ/reverse.loom" -o "$TMP/web-bad" --ort-web "$TMP/nowhere"
[ ! -e "$TMP/web-bad" ] && ok "no directory for the failed export" || not_ok "directory left"

for m in reverse old-lstm; do
    [ "$m" = reverse ] || "$LOOM" export "$SEQ/$m.loom" -o "$TMP/web-$m" --ort-web "$DIST" -q
    dir="$TMP/web"
    [ "$m" = reverse ] || dir="$TMP/web-$m"
    for k in 1 5; do
        "$LOOM" translate "$SEQ/$m.loom" "$TMP/src" --beam $k -q >"$TMP/want"
        expect_status "$m: the browser's beam-$k translations of 50 sentences = loom's" 0 \
            "$PY" "$LOOM_SRCDIR/tests/onnx/browser.py" "$dir" "$TMP/src" "$TMP/want" $k
        cat "$TMP/out"
    done
done
finish
