#!/bin/sh
# loom export interrupted: SIGINT, SIGTERM or SIGHUP while the directory
# is being written leaves neither DIR nor DIR.tmp-* behind. The export is
# held mid-way by a FIFO standing for one of onnxruntime-web's files
# (--ort-web): loom blocks opening it, after the graphs and the JSON are
# written into the temporary directory.
. "$LOOM_SRCDIR/tests/e2e/lib.sh"
MODEL="$FIXTURES/seq/reverse.loom"
mkdir "$TMP/ort"
mkfifo "$TMP/ort/ort.wasm.min.js"

graphs_written() { [ -n "$(ls "$out".tmp-*/encoder.onnx 2>/dev/null)" ]; }
for sig in INT TERM HUP; do
    out="$TMP/out-$sig"
    "$LOOM" export "$MODEL" -o "$out" --ort-web "$TMP/ort" -q 2>"$TMP/err-$sig" &
    pid=$!
    # wait (120 s at most) until the temporary directory holds the graphs
    if wait_until 120 graphs_written; then
        ok "SIG$sig: the export is under way in $(basename "$out").tmp-*"
    else
        not_ok "SIG$sig: the export is under way in $(basename "$out").tmp-*"
    fi
    kill -s "$sig" "$pid"
    wait "$pid"
    st=$?
    case $sig in INT) want=130 ;; TERM) want=143 ;; HUP) want=129 ;; esac
    if [ "$st" -eq "$want" ]; then ok "SIG$sig ends loom by the signal (exit $st)"; else
        not_ok "SIG$sig ends loom by the signal (exit $st, want $want)"
        kill -9 "$pid" 2>/dev/null
    fi
    if [ ! -e "$out" ] && [ -z "$(ls -d "$out".* 2>/dev/null)" ]; then
        ok "SIG$sig: no $(basename "$out"), no $(basename "$out").tmp-* left"
    else
        not_ok "SIG$sig: something left: $(ls -d "$out"* | tr '\n' ' ')"
    fi
done
finish
