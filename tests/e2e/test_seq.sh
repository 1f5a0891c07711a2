# End-to-end: loom seq2seq and loom translate. Training runs are tiny (a
# few dozen steps on the reverse task of tests/fixtures/seq).
. "$LOOM_SRCDIR/tests/e2e/lib.sh"
SEQ="$FIXTURES/seq"
TRAIN="$SEQ/reverse-train.tsv"
SMALL="--emb 8 --hidden 12 --batch 32 --lr 0.01 --quiet"

# ---- training and translating ----
expect_status "seq2seq trains" 0 "$LOOM" seq2seq "$TRAIN" -o "$TMP/m.loom" $SMALL --epochs 1
[ -s "$TMP/m.loom" ] && ok "the model file exists" || not_ok "the model file exists"
[ -s "$TMP/m.loom.ckpt" ] && ok "the final checkpoint exists" || not_ok "the final checkpoint exists"

expect_status "progress lines name step, tokens/s and validation" 0 "$LOOM" seq2seq "$TRAIN" \
    -o "$TMP/v.loom" --valid "$SEQ/reverse-valid.tsv" --emb 8 --hidden 12 --batch 32 --epochs 1
expect_grep "epoch line" '^loom seq2seq: epoch 1/1: step [0-9]+, train loss [0-9.]+, [0-9]+ tokens/s' "$TMP/err"
expect_grep "validation line" 'step [0-9]+: valid loss [0-9.]+, BLEU [0-9.]+, exact match [0-9.]+%' "$TMP/err"

printf 'a b c\n\nh g f e d\n' >"$TMP/in.txt"
expect_status "translate runs" 0 "$LOOM" translate "$SEQ/reverse.loom" "$TMP/in.txt"
expect_lines "one output line per input line" 3 "$TMP/out"
expect_grep "a closing summary on stderr" '^loom translate: 3 sentences, 8 words out, in [0-9.]+ s \([0-9]+ sentences/s' "$TMP/err"
expect_status "translate --quiet" 0 "$LOOM" translate "$SEQ/reverse.loom" "$TMP/in.txt" --quiet
[ ! -s "$TMP/err" ] && ok "--quiet prints nothing on stderr" || not_ok "--quiet prints nothing on stderr"
expect_status "translate --progress" 0 "$LOOM" translate "$SEQ/reverse.loom" "$TMP/in.txt" --progress
expect_grep "a progress line counts sentences" '^translate: 100.0%  [0-9.k]+ sentences/s' "$TMP/err"
expect_grep "the fixture model reverses" '^c b a$' "$TMP/out"
expect_grep "an empty line stays empty" '^$' "$TMP/out"
printf 'c b a\n\nd e f g h\n' >"$TMP/want.txt"
expect_same "translations of the fixture" "$TMP/out" "$TMP/want.txt"

expect_status "stdin and batch 1" 0 sh -c "\"$LOOM\" translate \"$SEQ/reverse.loom\" --batch 1 <\"$TMP/in.txt\""
expect_same "batch 1 gives the same" "$TMP/out" "$TMP/want.txt"

for i in $(seq 40); do printf 'a b c\nd e f g h\nh\n\nb a d\n'; done >"$TMP/many.txt"
"$LOOM" translate "$SEQ/reverse.loom" "$TMP/many.txt" --batch 1 >"$TMP/one.out"
expect_status "batches of 7 on 3 threads" 0 "$LOOM" translate "$SEQ/reverse.loom" "$TMP/many.txt" --batch 7 --threads 3
expect_same "batched, threaded decoding keeps input order and results" "$TMP/out" "$TMP/one.out"

# ---- characters as tokens: the reverse task written without spaces ----
tr -d ' ' <"$TRAIN" >"$TMP/chars.tsv"
expect_status "seq2seq --chars trains" 0 "$LOOM" seq2seq "$TMP/chars.tsv" -o "$TMP/chars.loom" $SMALL --chars --epochs 3
printf 'abc\nhgfed\n' >"$TMP/cin.txt"
printf 'cba\ndefgh\n' >"$TMP/cwant.txt"
expect_status "a character model translates" 0 "$LOOM" translate "$TMP/chars.loom" "$TMP/cin.txt" -q
expect_same "its output joins the characters without spaces" "$TMP/out" "$TMP/cwant.txt"
expect_status "loom info on it" 0 "$LOOM" info "$TMP/chars.loom"
expect_grep "both tokenizers say chars=1" 'target vocabulary: .*pretokenized=0 chars=1$' "$TMP/out"
# spaces are the white space token, and come back as spaces
cut -f1 "$TRAIN" | awk '{print $0 "\t" $0}' >"$TMP/copy.tsv"
expect_status "--src-char --tgt-char trains a copy task" 0 "$LOOM" seq2seq "$TMP/copy.tsv" -o "$TMP/copy.loom" $SMALL --src-char --tgt-char --epochs 3
printf 'a b c\nh g f e d\n' >"$TMP/cin.txt"
expect_status "the copy model translates" 0 "$LOOM" translate "$TMP/copy.loom" "$TMP/cin.txt" -q
expect_same "white space tokens come back as spaces" "$TMP/out" "$TMP/cin.txt"
# a character source and a phoneme target, as in spelling -> pronunciation
printf 'ab\tA B\nba\tB A\n' >"$TMP/g2p.tsv"
expect_status "--src-char --tgt-pretokenized" 0 "$LOOM" seq2seq "$TMP/g2p.tsv" -o "$TMP/g2p.loom" $SMALL --src-char --tgt-pretokenized --tgt-keep-case --epochs 1
expect_status "loom info on the G2P model" 0 "$LOOM" info "$TMP/g2p.loom"
expect_grep "its source reads characters" 'source vocabulary: 6 words .*chars=1$' "$TMP/out"
expect_grep "its target reads symbols" 'target vocabulary: 6 words \(A B\).*pretokenized=1$' "$TMP/out"

# --replace-unk: a copy task whose second word is seen once (so <unk> on
# both sides, --min-count 2); the model learns to write <unk> there while
# attending to it, and --replace-unk puts the source token back
awk 'BEGIN { srand(5); split("a b c d e f", L, " ");
    for (i = 0; i < 600; i++) { s = L[int(rand() * 6) + 1] " w" i " " L[int(rand() * 6) + 1] " " L[int(rand() * 6) + 1]; print s "\t" s } }' >"$TMP/copy.tsv"
expect_status "copy model trains" 0 "$LOOM" seq2seq "$TMP/copy.tsv" -o "$TMP/copy.loom" --min-count 2 \
    --emb 16 --hidden 32 --batch 32 --lr 0.01 --epochs 15 --seed 1 --quiet
printf 'a w9999 b c\nd zebra e f\n' >"$TMP/copy.in"
expect_status "translate without --replace-unk" 0 "$LOOM" translate "$TMP/copy.loom" "$TMP/copy.in" -q
printf 'a <unk> b c\nd <unk> e f\n' >"$TMP/want.txt"
expect_same "unknown words come out as <unk>" "$TMP/out" "$TMP/want.txt"
expect_status "translate --replace-unk" 0 "$LOOM" translate "$TMP/copy.loom" "$TMP/copy.in" -q --replace-unk
printf 'a w9999 b c\nd zebra e f\n' >"$TMP/want.txt"
expect_same "--replace-unk copies the attended source token" "$TMP/out" "$TMP/want.txt"
expect_status "--replace-unk with a beam and n-best" 0 "$LOOM" translate "$TMP/copy.loom" "$TMP/copy.in" -q \
    --replace-unk --beam 3 --nbest 2
expect_grep "n-best lines carry the copied token" '^1 \|\|\| a w9999 b c \|\|\| ' "$TMP/out"

expect_status "beam with n-best" 0 "$LOOM" translate "$SEQ/reverse.loom" "$TMP/in.txt" --beam 4 --nbest 2
expect_grep "n-best format" '^1 \|\|\| c b a \|\|\| -?[0-9.]+$' "$TMP/out"
expect_lines "two per non-empty sentence, one for the empty" 5 "$TMP/out"

expect_status "hard alignments" 0 "$LOOM" translate "$SEQ/reverse.loom" "$TMP/in.txt" --align hard
expect_grep "hard pairs" '^c b a \|\|\| [0-9]+-0 [0-9]+-1 [0-9]+-2$' "$TMP/out"
expect_status "soft alignments" 0 "$LOOM" translate "$SEQ/reverse.loom" "$TMP/in.txt" --align soft
expect_grep "soft rows" '^c b a \|\|\| [0-9.]+ [0-9.]+ [0-9.]+ \| ' "$TMP/out"
mkdir "$TMP/svg"
expect_status "attention heat maps" 0 "$LOOM" translate "$SEQ/reverse.loom" "$TMP/in.txt" --attention-svg "$TMP/svg"
[ -s "$TMP/svg/000001.svg" ] && [ -s "$TMP/svg/000003.svg" ] && ok "one SVG per sentence" || not_ok "one SVG per sentence"
expect_grep "an SVG names the words" '<text[^>]*>h</text>' "$TMP/svg/000003.svg"

# ---- usage errors ----
expect_status "--beam 0 is a usage error" 2 "$LOOM" translate "$SEQ/reverse.loom" "$TMP/in.txt" --beam 0
expect_grep "--beam 0 is explained" 'beam' "$TMP/err"
expect_status "--nbest above the beam" 2 "$LOOM" translate "$SEQ/reverse.loom" --nbest 3
expect_status "seq2seq without -o" 2 "$LOOM" seq2seq "$TRAIN"
expect_status "dot attention with a bidirectional encoder" 2 "$LOOM" seq2seq "$TRAIN" -o "$TMP/x.loom" --attention dot

# ---- bad data: clear error, exit 1, no model file ----
bad_data() { # name text pattern
    printf "$2" >"$TMP/bad.tsv"
    rm -f "$TMP/bad.loom"
    expect_status "$1: exit 1" 1 "$LOOM" seq2seq "$TMP/bad.tsv" -o "$TMP/bad.loom" $SMALL
    expect_grep "$1: names file and line" "$3" "$TMP/err"
    expect_lines "$1: one line" 1 "$TMP/err"
    [ ! -e "$TMP/bad.loom" ] && ok "$1: no model file" || not_ok "$1: no model file"
}
bad_data "line without a TAB" 'a b\tb a\nno tab\n' 'bad.tsv:2: no TAB'
bad_data "empty source side" 'a b\tb a\n \tb\n' 'bad.tsv:2: empty source side'
bad_data "empty target side" 'a\ta\nb\tb\nc\t\n' 'bad.tsv:3: empty target side'
bad_data "invalid UTF-8" 'a\ta\nb \377\tb\n' 'bad.tsv:2:.*UTF-8'

printf '3 5\na 1 2 3 4 5\nb 1 2 3 4 5\nzz 1 2 3 4 5\n' >"$TMP/v5.txt"
rm -f "$TMP/bad.loom"
expect_status "vectors of the wrong dimension: exit 1" 1 "$LOOM" seq2seq "$TRAIN" -o "$TMP/bad.loom" \
    --src-vectors "$TMP/v5.txt" --emb 8 --hidden 12 --quiet
expect_grep "the dimension error names the file" 'v5.txt: vectors of dimension 5.*embedding size is 8' "$TMP/err"
[ ! -e "$TMP/bad.loom" ] && ok "no model file after the dimension error" || not_ok "no model file after the dimension error"

# ---- transfer learning: coverage report, frozen rows ----
expect_status "vectors decide the embedding size and are frozen" 0 "$LOOM" seq2seq "$TRAIN" \
    -o "$TMP/f.loom" --src-vectors "$TMP/v5.txt" --freeze src --hidden 12 --max-steps 5
expect_grep "coverage is reported" 'source vectors .*v5.txt: 2 of 8 words found \(coverage 25.0% of the vocabulary, [0-9.]+% of the running tokens\)' "$TMP/err"

expect_status "--scale-vectors" 0 "$LOOM" seq2seq "$TRAIN" -o "$TMP/s.loom" --src-vectors "$TMP/v5.txt" \
    --scale-vectors --hidden 12 --max-steps 2
expect_grep "reports the factor" 'source vectors scaled by 0.7071 to standard deviation 1 \(from 1.414;' "$TMP/err"
expect_status "--scale-vectors needs vectors" 2 "$LOOM" seq2seq "$TRAIN" -o "$TMP/x.loom" --scale-vectors

# ---- a source vocabulary that also holds the vectors' words ----
printf '3 5\nzz 1 2 3 4 5\na 5 4 3 2 1\nyy 0 1 0 1 0\n' >"$TMP/vv.txt"
expect_status "--src-vocab-from-vectors trains" 0 "$LOOM" seq2seq "$TRAIN" -o "$TMP/vv.loom" \
    --src-vectors "$TMP/vv.txt" --src-vocab-from-vectors 0 --freeze src --hidden 12 --max-steps 3
expect_grep "it says how many words it added" '^loom seq2seq: 2 source words added from .*vv.txt' "$TMP/err"
expect_grep "the added words count in the coverage" 'source vectors .*vv.txt: 3 of 10 words found' "$TMP/err"
expect_status "loom info on that model" 0 "$LOOM" info "$TMP/vv.loom"
expect_grep "the model file holds the added words" '^source vocabulary: 14 words' "$TMP/out"
expect_grep "and the setting" '^src_vocab_from_vectors: 0$' "$TMP/out"
expect_status "--src-vocab-from-vectors 1: the first word of the file only" 0 "$LOOM" seq2seq "$TRAIN" \
    -o "$TMP/vv1.loom" --src-vectors "$TMP/vv.txt" --src-vocab-from-vectors 1 --hidden 12 --max-steps 3
expect_grep "one word added" '^loom seq2seq: 1 source words added' "$TMP/err"
printf 'zz a\n' >"$TMP/zz.txt"
expect_status "a word only the vectors know translates" 0 "$LOOM" translate "$TMP/vv.loom" "$TMP/zz.txt"
expect_status "--src-vocab-from-vectors needs --src-vectors" 2 "$LOOM" seq2seq "$TRAIN" -o "$TMP/x.loom" \
    --src-vocab-from-vectors 0
expect_grep "and says so" 'needs --src-vectors' "$TMP/err"
expect_status "--src-vocab-from-vectors refuses --tie-embeddings" 2 "$LOOM" seq2seq "$TRAIN" \
    -o "$TMP/x.loom" --src-vectors "$TMP/vv.txt" --src-vocab-from-vectors 0 --tie-embeddings

# ---- --best-by bleu: the kept model is the best by validation BLEU ----
expect_status "training with --best-by bleu" 0 "$LOOM" seq2seq "$TRAIN" -o "$TMP/bb.loom" \
    --valid "$SEQ/reverse-valid.tsv" --valid-every 10 --emb 8 --hidden 12 --batch 32 --lr 0.01 \
    --epochs 2 --best-by bleu
# every "(best, saved)" validation has a BLEU above all earlier ones, every
# other one does not; the model file records the best BLEU
awk '/valid loss/ { b = $0; sub(/.*BLEU /, "", b); b += 0; saved = /best, saved/;
       if (saved != (n == 0 || b > best)) bad++; if (saved) best = b; n++ }
     END { if (n < 3 || bad) exit 1; printf "%.2f\n", best }' "$TMP/err" >"$TMP/bestbleu" &&
    ok "models are kept by BLEU ($(wc -l <"$TMP/err") report lines)" ||
    not_ok "models are kept by BLEU"
expect_status "loom info on the --best-by bleu model" 0 "$LOOM" info "$TMP/bb.loom"
expect_grep "the model file carries best_by" 'best_by: bleu' "$TMP/out"
expect_grep "and the best BLEU" "best_valid_bleu: $(cat "$TMP/bestbleu")" "$TMP/out"
expect_status "--best-by rejects other measures" 2 "$LOOM" seq2seq "$TRAIN" -o "$TMP/x.loom" \
    --best-by accuracy

# ---- the Elman cell: trains, is named in the file, translates ----
expect_status "seq2seq --cell elman trains" 0 "$LOOM" seq2seq "$TRAIN" -o "$TMP/elman.loom" \
    --cell elman --emb 16 --hidden 32 --batch 32 --lr 0.01 --epochs 4 --seed 1 --quiet
expect_status "info reads the Elman model" 0 "$LOOM" info "$TMP/elman.loom"
expect_grep "info names the Elman cell" '^model: elman encoder, .*; elman decoder' "$TMP/out"
printf 'a b c\nh g f e d\n' >"$TMP/el.in"
expect_status "the Elman model translates" 0 "$LOOM" translate "$TMP/elman.loom" "$TMP/el.in" -q
printf 'c b a\nd e f g h\n' >"$TMP/want.txt"
expect_same "and has learnt to reverse" "$TMP/out" "$TMP/want.txt"
expect_status "--cell rejects other cells" 2 "$LOOM" seq2seq "$TRAIN" -o "$TMP/x.loom" --cell rnn
expect_grep "and lists the three" 'elman' "$TMP/err"

# ---- bad model files ----
head -c 300 "$SEQ/reverse.loom" >"$TMP/cut.loom"
expect_status "a truncated model: exit 1" 1 "$LOOM" translate "$TMP/cut.loom" "$TMP/in.txt"
expect_grep "the truncated file is named" 'cut.loom' "$TMP/err"
expect_status "a foreign file: exit 1" 1 "$LOOM" translate "$TRAIN" "$TMP/in.txt"
expect_grep "the foreign file is named" 'reverse-train.tsv' "$TMP/err"
expect_status "a missing model: exit 1" 1 "$LOOM" translate "$TMP/nothing.loom"

# ---- resume: same result as the uninterrupted run ----
R="$TRAIN -o"
"$LOOM" seq2seq $R "$TMP/a.loom" $SMALL --epochs 2 --seed 5 --dropout 0.1
"$LOOM" seq2seq $R "$TMP/b.loom" $SMALL --epochs 2 --seed 5 --dropout 0.1 --max-steps 70
expect_status "resume from the checkpoint" 0 "$LOOM" seq2seq $R "$TMP/b.loom" $SMALL --epochs 2 \
    --resume "$TMP/b.loom.ckpt"
expect_same "resumed model equals the uninterrupted one" "$TMP/a.loom" "$TMP/b.loom"
expect_status "resuming a model without optimizer state fails" 1 "$LOOM" seq2seq $R "$TMP/c.loom" \
    $SMALL --resume "$SEQ/reverse.loom"
expect_grep "and says so" 'not a training checkpoint' "$TMP/err"

# ---- learning-rate schedule ----
V="--valid $SEQ/reverse-valid.tsv --valid-every 10"
expect_status "--lr-warmup 40" 0 "$LOOM" seq2seq $R "$TMP/w.loom" --emb 8 --hidden 12 --lr 0.01 $V --max-steps 20 --lr-warmup 40
expect_grep "the rate at step 10 is 11/40 of --lr" 'step 10: valid .*, lr 0.00275,' "$TMP/err"
expect_status "--lr-decay inv-sqrt" 0 "$LOOM" seq2seq $R "$TMP/w.loom" --emb 8 --hidden 12 --lr 0.01 $V --max-steps 30 --lr-warmup 10 --lr-decay inv-sqrt
expect_grep "past the warm-up it falls as sqrt(10 / step)" 'step 30: valid .*, lr 0.0056[78],' "$TMP/err"
expect_status "inv-sqrt without a warm-up is a usage error" 2 "$LOOM" seq2seq $R "$TMP/w.loom" --lr-decay inv-sqrt
expect_status "plateau without --valid is a usage error" 2 "$LOOM" seq2seq $R "$TMP/w.loom" --lr-decay plateau
# (a rate of 10 without clipping makes the validation loss climb)
expect_status "--lr-decay plateau" 0 "$LOOM" seq2seq $R "$TMP/p.loom" --emb 8 --hidden 12 --batch 32 --lr 10 --clip 0 --valid "$SEQ/reverse-valid.tsv" --valid-every 5 --max-steps 40 --lr-decay plateau --lr-decay-factor 0.25
tr '\r' '\n' <"$TMP/err" | grep 'valid loss' >"$TMP/pl"
awk '{ lr = $0; sub(/.*, lr /, "", lr); sub(/,.*/, "", lr); if (!/best, saved/) f *= 0.25; want = 10 * f
       if (lr + 0 < want * 0.999 || lr + 0 > want * 1.001) bad++ } BEGIN { f = 1 } END { exit !(NR == 8 && !bad && f < 1) }' "$TMP/pl" &&
    ok "each validation that is not the best divides the rate by 4" || not_ok "plateau decay ($(cat "$TMP/pl"))"
# resuming keeps the plateau's rate (the checkpoint holds it)
PL="$SMALL --valid $SEQ/reverse-valid.tsv --valid-every 5 --epochs 2 --lr 10 --clip 0 --lr-decay plateau"
"$LOOM" seq2seq $R "$TMP/pa.loom" $PL
"$LOOM" seq2seq $R "$TMP/pb.loom" $PL --max-steps 70
expect_status "resume a plateau run" 0 "$LOOM" seq2seq $R "$TMP/pb.loom" $PL --resume "$TMP/pb.loom.ckpt"
expect_same "resumed plateau run equals the uninterrupted one" "$TMP/pa.loom" "$TMP/pb.loom"

# ---- checkpoint averaging ----
expect_status "--keep-last 3" 0 "$LOOM" seq2seq $R "$TMP/k.loom" $SMALL $V --max-steps 50 --keep-last 3
[ -s "$TMP/k.loom.1" ] && [ -s "$TMP/k.loom.2" ] && [ -s "$TMP/k.loom.3" ] && [ ! -e "$TMP/k.loom.4" ] &&
    ok "it keeps three models" || not_ok "it keeps three models"
expect_status "loom average of two copies" 0 "$LOOM" average "$TMP/k.loom.1" "$TMP/k.loom.1" -o "$TMP/avg.loom"
/usr/bin/python3 - "$TMP/k.loom.1" "$TMP/avg.loom" "$TMP/k.loom.2" "$TMP/avg2.loom" <<'PYEOF' >"$TMP/avgcheck" 2>&1
import json, struct, sys
from array import array
def tensors(path):
    blob = open(path, "rb").read()
    (n,) = struct.unpack("<Q", blob[:8])
    h = json.loads(blob[8:8 + n])
    return {k: blob[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]] for k, v in h.items() if k != "__metadata__"}
a, avg = tensors(sys.argv[1]), tensors(sys.argv[2])
assert a.keys() == avg.keys() and all(a[k] == avg[k] for k in a), "two copies: not byte-identical"
print("identical", len(a))
PYEOF
expect_grep "averaging two identical models gives the model, byte for byte" '^identical [0-9]+$' "$TMP/avgcheck"
expect_status "loom average of two models" 0 "$LOOM" average "$TMP/k.loom.1" "$TMP/k.loom.2" -o "$TMP/avg2.loom"
/usr/bin/python3 - "$TMP/k.loom.1" "$TMP/k.loom.2" "$TMP/avg2.loom" <<'PYEOF' >"$TMP/avgcheck" 2>&1
import json, struct, sys
from array import array
def tensors(path):
    blob = open(path, "rb").read()
    (n,) = struct.unpack("<Q", blob[:8])
    h = json.loads(blob[8:8 + n])
    return {k: array("f", blob[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]]) for k, v in h.items() if k != "__metadata__" and v["dtype"] == "F32"}
a, b, m = (tensors(p) for p in sys.argv[1:4])
worst = max(abs(m[k][i] - (a[k][i] + b[k][i]) / 2) / max(abs(m[k][i]), 1) for k in a for i in range(len(a[k])))
differ = sum(a[k] != b[k] for k in a)
print("mean", "ok" if worst < 1e-6 and differ > 0 else "bad", worst, differ)
PYEOF
expect_grep "the average of two models is their mean" '^mean ok ' "$TMP/avgcheck"
expect_status "the averaged model translates" 0 "$LOOM" translate "$TMP/avg2.loom" "$TMP/in.txt" -q
expect_status "models of other runs cannot be averaged" 1 "$LOOM" average "$TMP/k.loom.1" "$TMP/chars.loom" -o "$TMP/x.loom"
expect_grep "the error names the file and what differs" "chars.loom: not the same source tokenizer options as .*k.loom.1" "$TMP/err"
[ ! -e "$TMP/x.loom" ] && ok "and writes nothing" || not_ok "and writes nothing"
expect_status "average without -o" 2 "$LOOM" average "$TMP/k.loom.1"

# ---- threads: a seed and a thread count repeat a run bit for bit ----
"$LOOM" seq2seq $R "$TMP/t1.loom" $SMALL --epochs 1 --threads 2 --dropout 0.2
"$LOOM" seq2seq $R "$TMP/t2.loom" $SMALL --epochs 1 --threads 2 --dropout 0.2
expect_same "two runs with 2 threads give one model" "$TMP/t1.loom" "$TMP/t2.loom"

# ---- early stopping ----
# (a learning rate of 10 without clipping makes the validation loss climb)
expect_status "patience stops a run that does not improve" 0 "$LOOM" seq2seq $R "$TMP/p.loom" \
    --emb 8 --hidden 12 --batch 32 --lr 10 --clip 0 --epochs 5 --valid "$SEQ/reverse-valid.tsv" \
    --valid-every 5 --patience 2
expect_grep "early stop is reported" 'no improvement in 2 validations: stopping' "$TMP/err"
expect_grep "the best model is kept" '\(best, saved\)' "$TMP/err"

# ---- Ctrl-C: training stops after its batch, writes the model and a
# checkpoint as at the end, and says so ----
for i in $(seq 30); do cat "$TRAIN"; done >"$TMP/big.tsv"
LOUD="--emb 8 --hidden 12 --batch 32 --lr 0.01" # $SMALL without --quiet
"$LOOM" seq2seq "$TMP/big.tsv" -o "$TMP/int.loom" $LOUD --epochs 50 --checkpoint-every 0.001 \
    2>"$TMP/int.err" &
pid=$!
wait_until 120 test -s "$TMP/int.loom.ckpt" || not_ok "training writes a checkpoint within 120 s"
sleep 0.5
kill -INT $pid
wait $pid
st=$?
[ $st -eq 130 ] && ok "interrupted training exits 130" || not_ok "interrupted training exits 130 (got $st)"
expect_grep "the closing line says where it stopped and what it wrote" \
    "^loom seq2seq: stopped by SIGINT after step [0-9]+: [0-9]+ target tokens in .* s \(.* tokens/s\); wrote $TMP/int.loom and the checkpoint $TMP/int.loom.ckpt\$" \
    "$TMP/int.err"
expect_status "the model after Ctrl-C loads" 0 "$LOOM" translate "$TMP/int.loom" "$TMP/in.txt"
expect_status "the checkpoint after Ctrl-C loads" 0 "$LOOM" translate "$TMP/int.loom.ckpt" "$TMP/in.txt"
n=$(sed -n 's/.*stopped by SIGINT after step \([0-9]*\):.*/\1/p' "$TMP/int.err")
expect_status "the checkpoint resumes" 0 "$LOOM" seq2seq "$TMP/big.tsv" -o "$TMP/int2.loom" $LOUD \
    --epochs 50 --resume "$TMP/int.loom.ckpt" --max-steps $((${n:-0} + 1))
expect_grep "... after the step it stopped at" "^loom seq2seq: $((${n:-0} + 1)) steps," "$TMP/err"
ls "$TMP" | grep -q 'tmp' && not_ok "no temporary files left" || ok "no temporary files left"

# ---- loom info ----
if "$LOOM" help info >/dev/null 2>&1; then
    expect_status "info describes a model" 0 "$LOOM" info "$SEQ/reverse.loom"
    expect_grep "info names the format" 'loom-seq2seq' "$TMP/out"
fi

finish
