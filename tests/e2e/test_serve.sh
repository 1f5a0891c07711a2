# End-to-end: loom serve on a free port with the fixture vectors and a
# classifier trained here; tests/e2e/serve_check.py drives it over HTTP
# (answers against gensim, batching, every kind of bad request, SIGTERM).
# Under --enable-sanitizers the server runs with ASan and UBSan: any report
# or leak fails the exit-status and stderr checks.
. "$LOOM_SRCDIR/tests/e2e/lib.sh"
PY=/usr/bin/python3
if ! "$PY" -c 'import gensim' 2>/dev/null; then
    echo "not ok - gensim cannot be imported by $PY (apt-get install python3-gensim)"
    echo "0 passed, 1 failed"
    exit 1
fi

expect_status "classifier for the server trains" 0 \
    "$LOOM" classify train "$FIXTURES/classify/train.txt" -o "$TMP/cls.loom" --epoch 5 --threads 1 -q

expect_status "serve without anything to serve is a usage error" 2 "$LOOM" serve
expect_grep "... saying what is missing" "nothing to serve" "$TMP/err"
expect_status "serve --vectors without NAME= is a usage error" 2 "$LOOM" serve --vectors "$FIXTURES/vectors/sotu.bin"
expect_status "serve with a missing vector file fails" 1 "$LOOM" serve --vectors a="$TMP/none.bin" --port 0
expect_grep "... naming the file" "none.bin" "$TMP/err"
expect_status "serve --check loads, binds and exits" 0 \
    "$LOOM" serve --vectors sotu="$FIXTURES/vectors/sotu.bin" --port 0 --check
expect_grep "... printing where it listens" "listening on http://127.0.0.1:[0-9]+/" "$TMP/out"

cut -f1 "$FIXTURES/seq/reverse-valid.tsv" | head -n 40 >"$TMP/rev.src"
expect_status "loom translate gives the expected translations" 0 \
    "$LOOM" translate "$FIXTURES/seq/reverse.loom" "$TMP/rev.src" --beam 3 -q
cp "$TMP/out" "$TMP/rev.beam3"

"$LOOM" serve --vectors sotu="$FIXTURES/vectors/sotu.bin" --classifier reviews="$TMP/cls.loom" \
    --model rev="$FIXTURES/seq/reverse.loom" --model 100="$FIXTURES/seq/reverse.loom" --max-tokens 30 \
    --port 0 --batch-wait-ms 20 --nearest-wait-ms 20 --max-connections 64 --timeout 2 --threads 2 \
    >"$TMP/serve.out" 2>"$TMP/serve.err" &
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

"$PY" "$LOOM_SRCDIR/tests/e2e/serve_check.py" "$port" "$FIXTURES/vectors/sotu.bin" "$TMP/cls.loom" "$pid" "$TMP/rev.src" "$TMP/rev.beam3" \
    >"$TMP/check.out" 2>&1
cat "$TMP/check.out"
passed=$((passed + $(grep -c '^ok - ' "$TMP/check.out")))
failed=$((failed + $(grep -c '^not ok - ' "$TMP/check.out")))
grep -q '^ok - SIGTERM' "$TMP/check.out" || { not_ok "the checks ran to the end"; kill "$pid" 2>/dev/null; }

status=0
wait "$pid" || status=$?
if [ "$status" -eq 0 ]; then ok "after SIGTERM the server exits 0"; else
    not_ok "after SIGTERM the server exits 0 (exit $status)"
    tail -5 "$TMP/serve.err" | sed 's/^/  stderr: /'
fi
if grep -qE 'Sanitizer|runtime error|LeakSanitizer' "$TMP/serve.err"; then
    not_ok "no sanitizer report"
    grep -E -A5 'Sanitizer|runtime error' "$TMP/serve.err" | head -20
else
    ok "no sanitizer report"
fi
finish
