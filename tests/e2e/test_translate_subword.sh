# End-to-end: sequence models on subword units. A SentencePiece model is
# trained here on tests/fixtures/subword/tatoeba.txt, then tiny seq2seq
# models on its pieces (joint and separate, resumed); `loom translate`
# reads raw cased text with punctuation and writes raw detokenised text
# (--pieces: the pieces), with beams, n-best lists and alignments merged to
# words; a damaged embedded model is one error naming file and tensor.
. "$LOOM_SRCDIR/tests/e2e/lib.sh"
PAIRS="$LOOM_SRCDIR/corpus/tatoeba-eng-fra.valid.tsv.gz"
FIXTURE="$FIXTURES/translate/en-fr-subword.loom"
EDIT="$LOOM_SRCDIR/tests/e2e/st_edit.py"
cd "$TMP" || exit 1
gzip -dc "$PAIRS" | head -n 40 >valid.tsv
printf '%s\n' "Tom is here." "I don't know, really!" "Where's my car?" "\"Hello,\" she said." \
    "It costs 42 euros." >raw.txt

expect_status "subword train" 0 "$LOOM" subword train "$FIXTURES/subword/tatoeba.txt" -o sp.model \
    --vocab-size 400 --threads 1 -q
expect_status "subword train (a second model)" 0 "$LOOM" subword train \
    "$FIXTURES/subword/tatoeba.txt" -o sp2.model --vocab-size 300 --type bpe --threads 1 -q

# ---- training on pieces ----
expect_status "seq2seq --joint-subword --tie-embeddings" 0 "$LOOM" seq2seq "$PAIRS" -o joint.loom \
    --joint-subword sp.model --tie-embeddings --emb 16 --hidden 16 --max-steps 30 --valid valid.tsv
expect_grep "training reports the pieces" "pieces of sp.model \(400-piece SentencePiece model\)" \
    "$TMP/err"
"$LOOM" info joint.loom >info.txt 2>&1
expect_grep "info: the joint model is embedded once" \
    "^source subword model: SentencePiece, 400 pieces \(tensor 'subword.joint'" info.txt
expect_grep "info: the vocabulary holds pieces" "^target vocabulary: [0-9]+ pieces" info.txt
rm sp.model # the model file carries it

# ---- raw text in, raw text out ----
expect_status "translate raw text" 0 "$LOOM" translate joint.loom raw.txt --quiet
cp "$TMP/out" text.txt
expect_lines "one line per input line" 5 text.txt
if grep -q '▁' text.txt; then not_ok "the text holds no U+2581"; else ok "the text holds no U+2581"; fi
expect_status "translate --pieces" 0 "$LOOM" translate joint.loom raw.txt --pieces --quiet
cp "$TMP/out" pieces.txt
expect_lines "--pieces: one line per input line" 5 pieces.txt
expect_grep "--pieces gives pieces (a word start is U+2581)" "^▁" pieces.txt
# the pieces decoded by SentencePiece itself are translate's text
embedded() { # MODEL.loom OUT.model: the bytes of its tensor subword.joint
    /usr/bin/python3 - "$1" "$2" <<'PY'
import json, struct, sys
blob = open(sys.argv[1], "rb").read()
(n,) = struct.unpack("<Q", blob[:8])
t = json.loads(blob[8:8 + n])["subword.joint"]
a, b = t["data_offsets"]
open(sys.argv[2], "wb").write(blob[8 + n + a:8 + n + b])
PY
}
embedded joint.loom sp.from-file.model
expect_status "the embedded model is a .model file" 0 "$LOOM" subword decode sp.from-file.model \
    pieces.txt
expect_same "translate's text is its pieces decoded by SentencePiece" "$TMP/out" text.txt

# the fixture (trained longer) writes cased, detokenised French
expect_status "fixture: translate" 0 "$LOOM" translate "$FIXTURE" raw.txt --beam 4 --quiet
cp "$TMP/out" fx.txt
expect_grep "fixture: output is cased" "^[A-Z]" fx.txt
expect_grep "fixture: a full stop is glued to its word" "[[:alpha:]]\.$" fx.txt
if grep -q ' \.$\|⁇\|<unk>' fx.txt; then not_ok "fixture: no ' .', ⁇ or <unk> ($(head -n 2 fx.txt))"
else ok "fixture: no ' .', ⁇ or <unk>"; fi

# beams, n-best lists, alignments (merged to words; per piece with --pieces)
expect_status "n-best" 0 "$LOOM" translate "$FIXTURE" raw.txt --beam 4 --nbest 3 --quiet
expect_lines "n-best: 3 hypotheses a line" 15 "$TMP/out"
expect_grep "n-best lines are LINE ||| text ||| score" "^5 \|\|\| [^▁]* \|\|\| -[0-9.]+$" "$TMP/out"
expect_status "hard alignment" 0 "$LOOM" translate "$FIXTURE" raw.txt --align hard --quiet
awk -F ' \\|\\|\\| ' '{ nw = split($1, w, " "); np = split($2, p, " ");
    if (nw != np) { print "line " NR ": " nw " words, " np " pairs"; bad = 1 }
    for (i = 1; i <= np; i++) { split(p[i], st, "-"); if (st[1] > 4 || st[2] != i - 1) bad = 1 } }
    END { exit bad }' "$TMP/out" >check.txt
if [ $? -eq 0 ]; then ok "alignment: one pair per output word, source words in range"
else not_ok "alignment merged to words ($(head -n 2 check.txt))"; fi
expect_status "hard alignment --pieces" 0 "$LOOM" translate "$FIXTURE" raw.txt --align hard \
    --pieces --quiet
awk -F ' \\|\\|\\| ' '{ if (split($1, w, " ") != split($2, p, " ")) bad = 1 } END { exit bad }' \
    "$TMP/out"
if [ $? -eq 0 ]; then ok "alignment --pieces: one pair per piece"; else
    not_ok "alignment --pieces: one pair per piece ($(head -n 1 "$TMP/out"))"; fi
expect_status "soft alignment" 0 "$LOOM" translate "$FIXTURE" raw.txt --align soft --quiet
expect_status "--replace-unk" 0 "$LOOM" translate "$FIXTURE" raw.txt --replace-unk --quiet
mkdir svg
expect_status "--attention-svg" 0 "$LOOM" translate "$FIXTURE" raw.txt --attention-svg svg --quiet
expect_grep "the heat map's rows are pieces" "▁" svg/000001.svg

# ---- validation BLEU: the detokenised text against the raw references ----
cut -f1 valid.tsv >valid.en
cut -f2 valid.tsv >valid.fr
expect_status "seq2seq --best-by bleu (subword target)" 0 "$LOOM" seq2seq "$PAIRS" -o vb.loom \
    --joint-subword sp.from-file.model --emb 32 --hidden 32 --lr 0.01 --max-steps 240 \
    --valid valid.tsv --best-by bleu --threads 1
vb=$(tr '\r' '\n' <"$TMP/err" | sed -n 's/.*valid loss [0-9.]*, BLEU \([0-9.]*\),.*(best, saved).*/\1/p' | tail -n 1)
"$LOOM" translate vb.loom valid.en --beam 1 --quiet >vb.hyp
tb=$("$LOOM" bleu valid.fr vb.hyp | sed -n 's/^BLEU = \([0-9.]*\) .*/\1/p')
if [ -n "$vb" ] && [ "$vb" = "$tb" ] && [ "$vb" != "0.00" ]; then
    ok "validation BLEU is loom bleu of the greedy text on the raw references ($vb)"
else not_ok "validation BLEU ($vb) is loom bleu of the greedy text on the raw references ($tb)"; fi

# ---- loom serve: tokenize and token counts read the embedded model's pieces ----
embedded "$FIXTURE" fx.model
printf '%s\n' "Incomprehensibilities everywhere." >long.txt
"$LOOM" subword encode fx.model raw.txt long.txt >fx.pieces
"$LOOM" serve --model sw="$FIXTURE" --max-tokens 12 --port 0 --threads 1 >serve.out 2>serve.err &
spid=$!
serve_port "$spid" serve.out
if [ -z "$port" ]; then
    not_ok "serve starts with a subword model ($(head -n 2 serve.err))"
else
    /usr/bin/python3 - "$port" raw.txt long.txt fx.pieces >serve.check 2>&1 <<'PY'
import http.client, json, sys
port, raw, long_, pieces = sys.argv[1:]
texts = open(raw).read().splitlines() + open(long_).read().splitlines()
want = [l.split(" ") for l in open(pieces).read().splitlines()]
def post(path, body):
    c = http.client.HTTPConnection("127.0.0.1", int(port), timeout=30)
    c.request("POST", path, body=json.dumps(body).encode())
    r = c.getresponse()
    return r.status, json.loads(r.read().decode())
def check(good, name, detail):
    print(("ok - " if good else "not ok - ") + name + ("" if good else ": " + str(detail)[:300]))
s, j = post("/v1/tokenize", {"model": "sw", "texts": texts})
check(s == 200 and j["tokens"] == want, "tokenize with a subword model: the pieces of its embedded model", j)
s, j = post("/v1/tokenize", {"model": "sw", "side": "tgt", "text": texts[0], "keep_case": False})
check(s == 200 and j["tokens"] == want[0],
      "tokenize: the target side's pieces (case options do not apply to pieces)", j)
n = len(want[-1])
s, j = post("/v1/translate", {"model": "sw", "src": [texts[-1]]})
msg = j.get("error", {}).get("message", "") if isinstance(j, dict) else ""
check(n > 12 and s == 400 and ("%d tokens" % n) in msg,
      "translate: --max-tokens counts pieces (%d pieces in 2 words)" % n, (s, j))
s, j = post("/v1/translate", {"model": "sw", "src": [texts[0]]})
check(s == 200, "translate: a sentence within --max-tokens pieces", (s, j))
PY
    cat serve.check
    passed=$((passed + $(grep -c '^ok - ' serve.check)))
    failed=$((failed + $(grep -c '^not ok' serve.check)))
    [ "$(grep -c '^ok - ' serve.check)" -eq 4 ] || not_ok "the serve checks ran to the end"
fi
kill "$spid" 2>/dev/null
wait "$spid" 2>/dev/null
if grep -qE 'Sanitizer|runtime error' serve.err; then not_ok "serve: no sanitizer report"; else
    ok "serve: no sanitizer report"; fi

# ---- vectors for pieces: loom embed --subword, loaded by --src-vectors ----
gzip -dc "$PAIRS" | cut -f1 >src.txt
expect_status "embed --subword" 0 "$LOOM" embed src.txt --subword sp2.model -o pieces.vec \
    --format txt --dim 16 --min-count 1 --threads 1 --epochs 2
expect_grep "embed counts pieces" "^loom embed: [0-9]+ pieces in the vocabulary" "$TMP/err"
"$LOOM" subword encode sp2.model src.txt | "$LOOM" embed - --pretokenized -o piped.vec \
    --format txt --dim 16 --min-count 1 --threads 1 --epochs 2 -q
expect_same "embed --subword = subword encode | embed --pretokenized (one thread)" pieces.vec piped.vec
expect_status "embed --subword on 2 threads" 0 "$LOOM" embed src.txt --subword sp2.model \
    -o pieces2.vec --dim 16 --min-count 1 --threads 2 --epochs 1 --save-vocab two.vocab -q
"$LOOM" embed src.txt --subword sp2.model -o pieces1.vec --dim 16 --min-count 1 --threads 1 \
    --epochs 1 --save-vocab one.vocab -q
expect_same "2 threads count the same pieces (ranges split a line between spaces)" one.vocab two.vocab
if grep -q '^▁' one.vocab; then ok "the vocabulary holds pieces (▁...)"; else not_ok "the vocabulary holds pieces"; fi
expect_status "seq2seq --src-subword loads the pieces' vectors" 0 "$LOOM" seq2seq "$PAIRS" \
    -o vec.loom --src-subword sp2.model --emb 16 --hidden 8 --max-steps 2 --src-vectors pieces.vec
n=$(sed -n 's/^loom seq2seq: source vectors pieces.vec: \([0-9]*\) of \([0-9]*\) pieces found.*/\1 \2/p' "$TMP/err")
n=${n:-0 0}
found=${n% *} rows=${n#* }
if [ "$found" -gt 100 ] && [ "$found" -eq "$rows" ]; then
    ok "every source piece's row initialised from the vectors ($found of $rows)"
else not_ok "every source piece's row initialised from the vectors (got '$n')"; fi
"$LOOM" embed src.txt -o words.vec --format txt --dim 16 --min-count 1 --threads 1 --epochs 1 -q
"$LOOM" seq2seq "$PAIRS" -o vec2.loom --src-subword sp2.model --emb 16 --hidden 8 --max-steps 2 \
    --src-vectors words.vec >/dev/null 2>words.err
w=$(sed -n 's/^loom seq2seq: source vectors words.vec: \([0-9]*\) of.*/\1/p' words.err)
if [ -n "$w" ] && [ "$w" -lt $((rows / 4)) ]; then
    ok "word vectors of the same text cover few pieces ($w of $rows)"
else not_ok "word vectors of the same text cover few pieces (got '$w' of $rows)"; fi
expect_status "embed --subword: a missing .model" 1 "$LOOM" embed src.txt --subword none.model \
    -o x.vec
expect_grep "names it" "none.model" "$TMP/err"
printf 'not a model' >bad.model
expect_status "embed --subword: a corrupt .model" 1 "$LOOM" embed src.txt --subword bad.model \
    -o x.vec
expect_grep "names it" "bad.model" "$TMP/err"

# ---- separate models, resuming ----
"$LOOM" subword train "$FIXTURES/subword/tatoeba.txt" -o sp.model --vocab-size 400 --threads 1 -q
expect_status "seq2seq --src-subword --tgt-subword" 0 "$LOOM" seq2seq "$PAIRS" -o sep.loom \
    --src-subword sp.model --tgt-subword sp2.model --emb 8 --hidden 8 --max-steps 12 -q
"$LOOM" info sep.loom >info.txt 2>&1
expect_grep "info: source model" "^source subword model: SentencePiece, 400 pieces \(tensor 'subword.src'" info.txt
expect_grep "info: target model" "^target subword model: SentencePiece, 300 pieces \(tensor 'subword.tgt'" info.txt
expect_status "the separate model translates" 0 "$LOOM" translate sep.loom raw.txt --quiet
expect_lines "the separate model: a line per line" 5 "$TMP/out"
expect_status "seq2seq --src-subword only" 0 "$LOOM" seq2seq "$PAIRS" -o src-only.loom \
    --src-subword sp.model --emb 8 --hidden 8 --max-steps 5 -q --tgt-keep-case
expect_status "a source-only subword model translates (alignments)" 0 "$LOOM" translate \
    src-only.loom raw.txt --align hard --quiet
rm -f sep.loom.ckpt
expect_status "seq2seq (subword) stops at 6 steps" 0 "$LOOM" seq2seq "$PAIRS" -o sep.loom \
    --src-subword sp.model --tgt-subword sp2.model --emb 8 --hidden 8 --max-steps 6 --epochs 1 -q
mv sp.model sp.moved # the checkpoint embeds both models
expect_status "--resume from the checkpoint" 0 "$LOOM" seq2seq "$PAIRS" -o resumed.loom \
    --resume sep.loom.ckpt --max-steps 12 --epochs 1
expect_grep "the resumed run ends at step 12" "^loom seq2seq: 12 steps" "$TMP/err"
expect_status "the resumed model translates" 0 "$LOOM" translate resumed.loom raw.txt --quiet
expect_lines "the resumed model: a line per line" 5 "$TMP/out"

# ---- bad input ----
expect_status "--joint-subword with --src-subword" 2 "$LOOM" seq2seq "$PAIRS" -o x.loom \
    --joint-subword sp2.model --src-subword sp2.model
expect_grep "says why" "cannot be combined" "$TMP/err"
expect_status "--tie-embeddings with separate subword models" 2 "$LOOM" seq2seq "$PAIRS" \
    -o x.loom --src-subword sp2.model --tgt-subword sp2.model --tie-embeddings
expect_grep "says why" "needs --joint-subword" "$TMP/err"
expect_status "a missing .model file" 1 "$LOOM" seq2seq "$PAIRS" -o x.loom --joint-subword no.model
expect_grep "names it" "no.model" "$TMP/err"
printf 'not a model' >bad.model
expect_status "a corrupt .model file" 1 "$LOOM" seq2seq "$PAIRS" -o x.loom --joint-subword bad.model
expect_grep "names it" "bad.model" "$TMP/err"
/usr/bin/python3 "$EDIT" joint.loom damaged.loom bytes:subword.joint:255
expect_status "a damaged embedded model: exit 1" 1 "$LOOM" translate damaged.loom raw.txt
expect_grep "one error naming file and tensor" \
    "damaged.loom: tensor 'subword.joint': not a SentencePiece model" "$TMP/err"
expect_lines "one line" 1 "$TMP/err"
# export carries the embedded model (tests/e2e/test_onnx.sh runs it)
expect_status "export writes subword models" 0 "$LOOM" export joint.loom -o onnx-out
expect_status "one joint model: source.model = target.model" 0 cmp onnx-out/source.model \
    onnx-out/target.model
expect_status "a SentencePiece model loom reads" 0 "$LOOM" subword encode onnx-out/source.model raw.txt

finish
