#!/bin/sh
# loom export: every fixture model (GRU and LSTM, each attention, tied
# tables, bidirectional and stacked encoders) exported with both step
# cells; onnx.checker (python3-onnx, full_check) accepts every graph and
# interface.json names their inputs and outputs; onnxruntime-node
# (tests/onnx, installed by scripts/setup) gives loom's per-token log p
# within 1e-4 and the same greedy and beam-5 translations (or a tie
# within 1e-4); a model the exporter cannot express is refused with the
# option named, exit 1 and nothing written.
. "$LOOM_SRCDIR/tests/e2e/lib.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
SEQ="$FIXTURES/seq"
HELPER="$LOOM_BUILDDIR/tests/helper_seq_logp"
CHECK="$LOOM_SRCDIR/tests/onnx/check.js"
MODULES=${LOOM_NODE_MODULES:-$LOOM_SRCDIR/tests/onnx/node_modules}

# onnxruntime-node comes from npm (scripts/setup installs it); without it
# the runtime checks are reported as skipped, unless CI asks for them
# (LOOM_REQUIRE_ONNXRUNTIME=1, as scripts/check does), where it fails.
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

cat >"$TMP/check.py" <<'EOF'
import json, sys
import onnx
d = sys.argv[1]
iface = json.load(open(d + "/interface.json"))
types = {1: "float32", 7: "int64"}
for key, g in iface["graphs"].items():
    m = onnx.load(d + "/" + g["file"])
    onnx.checker.check_model(m, full_check=True)
    for io, vis in (("inputs", m.graph.input), ("outputs", m.graph.output)):
        got = [(v.name, types[v.type.tensor_type.elem_type],
                [x.dim_param or x.dim_value for x in v.type.tensor_type.shape.dim]) for v in vis]
        want = [(x["name"], x["dtype"], x["shape"]) for x in g[io]]
        assert got == want, (key, io, got, want)
print("ok", d)
EOF

cut -f1 "$SEQ/equiv.tsv" >"$TMP/equiv.src"
cut -f1 "$SEQ/reverse-valid.tsv" >"$TMP/reverse.src"
for m in gru-bahdanau gru-dot gru-general gru-none gru-tied lstm-bahdanau lstm-dot lstm-general \
    lstm-none reverse old-lstm; do
    case $m in
    reverse | old-lstm) model="$SEQ/$m.loom" pairs="$SEQ/reverse-valid.tsv" src="$TMP/reverse.src" ;;
    *) model="$SEQ/equiv-$m.loom" pairs="$SEQ/equiv.tsv" src="$TMP/equiv.src" ;;
    esac
    for cell in op unrolled; do
        out="$TMP/$m-$cell"
        expect_status "$m ($cell step): loom export" 0 "$LOOM" export "$model" -o "$out" \
            --step-cell "$cell" -q
        expect_status "$m ($cell step): onnx.checker accepts both graphs, interface.json matches" \
            0 "$PY" "$TMP/check.py" "$out"
    done
    [ "$have_ort" = 1 ] || continue
    "$HELPER" "$model" "$pairs" >"$TMP/ref" 2>"$TMP/err" || not_ok "$m: helper_seq_logp"
    for cell in op unrolled; do
        expect_status "$m ($cell step): onnxruntime log p = loom's within 1e-4" 0 \
            node "$CHECK" logp "$TMP/$m-$cell" "$TMP/ref"
        cat "$TMP/out"
    done
    for k in 1 5; do
        "$LOOM" translate "$model" "$src" --beam $k -q >"$TMP/loom.$k"
        expect_status "$m: onnxruntime's beam-$k translations = loom's" 0 \
            node "$CHECK" translate "$TMP/$m-op" "$src" "$TMP/loom.$k" --beam $k
        cat "$TMP/out"
    done
done

# the page's tokenizer (web/loom-onnx.js) against loom's: the Tatoeba test
# split's both sides, the UDHR in 14 languages and the rules' hard cases
if [ "$have_ort" = 1 ]; then
    zcat "$LOOM_SRCDIR/corpus/tatoeba-eng-fra.test.tsv.gz" | tr '\t' '\n' >"$TMP/tok-in"
    cat "$FIXTURES"/text/udhr-*.txt >>"$TMP/tok-in"
    printf "Stra\303\237e caf\303\251 \357\254\201ne \357\274\222 don't l\342\200\231homme 3.14 1,000\n" >>"$TMP/tok-in"
    printf "hi!!! \360\237\221\215\360\237\217\275 x-y \316\243\316\237\316\246\316\237\316\243.\n" >>"$TMP/tok-in"
    "$LOOM" tokenize "$TMP/tok-in" -q >"$TMP/tok.loom"
    node "$CHECK" tokenize "$TMP/tok-in" >"$TMP/tok.js"
    expect_same "loom-onnx.js tokenizes $(wc -l <"$TMP/tok-in") lines as loom tokenize does" \
        "$TMP/tok.loom" "$TMP/tok.js"
fi

# a subword model (one SentencePiece model for both sides, embedded):
# the .model files and pieces are exported; loom-onnx.js segments the
# Tatoeba test sources as `loom subword encode` does with the exported
# source.model, and onnxruntime gives loom translate's pieces (--pieces)
# and detokenised text, greedy and beam 5
SW="$FIXTURES/translate/en-fr-subword.loom"
expect_status "subword model: loom export" 0 "$LOOM" export "$SW" -o "$TMP/sw" -q
expect_status "subword model: onnx.checker accepts both graphs" 0 "$PY" "$TMP/check.py" "$TMP/sw"
expect_status "subword model: source.model is a SentencePiece model loom reads" 0 \
    "$LOOM" subword encode "$TMP/sw/source.model" "$TMP/equiv.src"
if [ "$have_ort" = 1 ]; then
    zcat "$LOOM_SRCDIR/corpus/tatoeba-eng-fra.test.tsv.gz" | head -200 | cut -f1 >"$TMP/sw.src"
    "$LOOM" subword encode "$TMP/sw/source.model" "$TMP/sw.src" >"$TMP/sw.seg"
    node "$CHECK" segment "$TMP/sw" "$TMP/sw.src" >"$TMP/sw.seg.js"
    expect_same "loom-onnx.js segments 200 sentences as SentencePiece does" "$TMP/sw.seg" \
        "$TMP/sw.seg.js"
    for k in 1 5; do
        "$LOOM" translate "$SW" "$TMP/sw.src" --pieces --beam $k -q >"$TMP/sw.p$k"
        expect_status "subword model: onnxruntime's beam-$k pieces = loom translate --pieces" 0 \
            node "$CHECK" translate "$TMP/sw" "$TMP/sw.src" "$TMP/sw.p$k" --beam $k
        cat "$TMP/out"
        "$LOOM" translate "$SW" "$TMP/sw.src" --beam $k -q >"$TMP/sw.t$k"
        expect_status "subword model: onnxruntime's beam-$k text = loom translate's" 0 \
            node "$CHECK" translate "$TMP/sw" "$TMP/sw.src" "$TMP/sw.t$k" --beam $k --text
        cat "$TMP/out"
    done
fi

# an option the exporter cannot express: refused by name, nothing written
expect_status "elman model refused, exit 1" 1 "$LOOM" export "$SEQ/equiv-elman-bahdanau.loom" \
    -o "$TMP/elman"
expect_grep "the message names the option cell=elman" "equiv-elman-bahdanau.loom: option cell=elman" \
    "$TMP/err"
if [ ! -e "$TMP/elman" ] && [ -z "$(ls -d "$TMP"/elman.* 2>/dev/null)" ]; then
    ok "no output directory, no temporary left"
else
    not_ok "something was written for the refused model"
fi
# characters as tokens: refused by name (the page has no such tokenizer)
"$LOOM" seq2seq "$SEQ/reverse-valid.tsv" -o "$TMP/chars.loom" --tgt-char --emb 8 --hidden 8 \
    --max-steps 2 -q 2>"$TMP/err" || not_ok "a --tgt-char model trains"
expect_status "a --tgt-char model is refused, exit 1" 1 "$LOOM" export "$TMP/chars.loom" \
    -o "$TMP/chars"
expect_grep "naming the option tgt-char" "chars.loom: option tgt-char" "$TMP/err"
[ ! -e "$TMP/chars" ] && ok "nothing written for it" || not_ok "a directory was written for it"
# a directory with files in it is not replaced
mkdir "$TMP/full" && echo keep >"$TMP/full/mine"
expect_status "a non-empty output directory is refused" 1 "$LOOM" export "$SEQ/reverse.loom" \
    -o "$TMP/full"
expect_grep "saying so" "full: directory is not empty" "$TMP/err"
expect_grep "its file untouched" "^keep$" "$TMP/full/mine"
expect_status "no -o is a usage error" 2 "$LOOM" export "$SEQ/reverse.loom"
finish
