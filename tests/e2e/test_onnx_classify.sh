#!/bin/sh
# loom export of text classifiers: bag (fastText's model, with hashed word
# bigrams) with each loss (softmax, ova, ns, hs on four labels of unequal
# counts, so Huffman paths differ in length) and cnn (widths longer than
# some sentences; one channel, and two with vectors), each as one graph:
# onnx.checker (python3-onnx, full_check) accepts it; in onnxruntime-node
# (tests/onnx) loom-onnx.js's encoder and the graph give `loom classify
# predict-prob`'s probabilities of every label within 1e-5 on the 500 test
# lines; --web (the translation page) is refused for a classifier.
. "$LOOM_SRCDIR/tests/e2e/lib.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
CLS="$FIXTURES/classify"
CHECK="$LOOM_SRCDIR/tests/onnx/check.js"
MODULES=${LOOM_NODE_MODULES:-$LOOM_SRCDIR/tests/onnx/node_modules}
have_ort=1
if ! command -v node >/dev/null 2>&1 || [ ! -d "$MODULES/onnxruntime-node" ]; then
    have_ort=0
    if [ "${LOOM_REQUIRE_ONNXRUNTIME:-0}" = 1 ]; then
        not_ok "onnxruntime-node present in $MODULES (run scripts/setup)"
    else
        echo "# SKIP onnxruntime checks: no node or no $MODULES/onnxruntime-node (run scripts/setup)"
    fi
fi
export NODE_PATH="$MODULES"

cat >"$TMP/check.py" <<'PYEOF'
import json, sys
import onnx
d = sys.argv[1]
iface = json.load(open(d + "/interface.json"))
g = iface["graphs"]["classifier"]
m = onnx.load(d + "/" + g["file"])
onnx.checker.check_model(m, full_check=True)
types = {1: "float32", 7: "int64"}
for io, vis in (("inputs", m.graph.input), ("outputs", m.graph.output)):
    got = [(v.name, types[v.type.tensor_type.elem_type],
            [x.dim_param or x.dim_value for x in v.type.tensor_type.shape.dim]) for v in vis]
    want = [(x["name"], x["dtype"], x["shape"]) for x in g[io]]
    assert got == want, (io, got, want)
print("ok", d)
PYEOF

# four labels of unequal counts for hs
awk '{ sub(/^__label__[a-z]* /, ""); n = NR % 13; l = n < 7 ? "a" : n < 10 ? "b" : n < 12 ? "c" : "d";
       print "__label__" l " " $0 }' "$CLS/train.txt" >"$TMP/four.txt"
awk '{ sub(/^__label__[a-z]* /, ""); n = NR % 13; l = n < 7 ? "a" : n < 10 ? "b" : n < 12 ? "c" : "d";
       print "__label__" l " " $0 }' "$CLS/test.txt" >"$TMP/four-test.txt"

train() { # NAME DATA OPTIONS...
    name=$1 data=$2
    shift 2
    expect_status "$name: loom classify train" 0 "$LOOM" classify train "$data" -o "$TMP/$name.loom" \
        --dim 24 -q "$@"
}
train bag-softmax "$CLS/train.txt" --word-ngrams 2 --bucket 5000 --epoch 3
train bag-ova "$CLS/train.txt" --loss ova --epoch 3
train bag-ns "$CLS/train.txt" --loss ns --epoch 3
train bag-hs "$TMP/four.txt" --loss hs --epoch 3 --word-ngrams 2 --bucket 3000
train cnn "$CLS/train.txt" --arch cnn --widths 2,4,7 --filters 6 --epochs 1
train cnn-2ch "$CLS/train.txt" --arch cnn --widths 3,5 --filters 6 --epochs 1 \
    --vectors "$FIXTURES/vectors/small-gensim.txt" --channels 2 --loss ova

for m in bag-softmax bag-ova bag-ns bag-hs cnn cnn-2ch; do
    test=$CLS/test.txt labels=2
    [ "$m" = bag-hs ] && test=$TMP/four-test.txt labels=4
    expect_status "$m: loom export" 0 "$LOOM" export "$TMP/$m.loom" -o "$TMP/$m" -q
    expect_status "$m: onnx.checker accepts classifier.onnx, interface.json matches" 0 \
        "$PY" "$TMP/check.py" "$TMP/$m"
    [ "$have_ort" = 1 ] || continue
    "$LOOM" classify predict-prob "$TMP/$m.loom" "$test" $labels >"$TMP/$m.want"
    expect_status "$m: onnxruntime's probabilities = loom classify predict-prob's within 1e-5" 0 \
        node "$CHECK" classify "$TMP/$m" "$test" "$TMP/$m.want"
    cat "$TMP/out"
done

expect_status "--web with a classifier is refused" 1 "$LOOM" export "$TMP/cnn.loom" -o "$TMP/w" --web
expect_grep "saying why" "cnn.loom: --web writes the translation page" "$TMP/err"
finish
