# End-to-end: loom subword train/encode/decode, and the interchange of
# .model files with Python's sentencepiece (Debian's python3-sentencepiece,
# which scripts/setup installs) in both directions, run live on the small
# corpus tests/fixtures/subword/tatoeba.txt.
. "$LOOM_SRCDIR/tests/e2e/lib.sh"
CORPUS="$FIXTURES/subword/tatoeba.txt"
PY=/usr/bin/python3
if ! "$PY" -c 'import sentencepiece' 2>/dev/null; then
    echo "not ok - sentencepiece cannot be imported by $PY (apt-get install python3-sentencepiece)"
    echo "0 passed, 1 failed"
    exit 1
fi

# Lines beyond the corpus: other scripts, emoji, digits, odd spacing, an
# empty line, characters the corpus never shows.
printf '%s\n' "Don't panic: it's only 42 euros." "Qu'en penses-tu ?" "Zoë ♥ 東京 ١٢٣" \
    "" "ÉCOLE    normale	supérieure" "x" "naïve café, crème brûlée!" >"$TMP/extra.txt"
cat "$CORPUS" "$TMP/extra.txt" >"$TMP/text.txt"

# py_train PREFIX TYPE VOCAB [KEY=VALUE...]: trains with Python's trainer.
py_train() {
    "$PY" - "$CORPUS" "$@" <<'EOF'
import sys, sentencepiece as spm
corpus, prefix, typ, vocab = sys.argv[1:5]
extra = dict(a.split("=", 1) for a in sys.argv[5:])
spm.SentencePieceTrainer.train(input=corpus, model_prefix=prefix, model_type=typ,
                               vocab_size=int(vocab), character_coverage=0.9995,
                               num_threads=1, minloglevel=3, **extra)
EOF
}

# py_encode MODEL FILE ids|pieces: Python's segmentation, a line per line.
py_encode() {
    "$PY" - "$@" <<'EOF'
import sys, sentencepiece as spm
sp = spm.SentencePieceProcessor(model_file=sys.argv[1])
with open(sys.argv[2], encoding="utf-8", newline="\n") as f, \
        open(sys.stdout.fileno(), "w", encoding="utf-8", closefd=False) as out:
    for line in f:
        line = line.rstrip("\n")
        if sys.argv[3] == "ids":
            out.write(" ".join(str(i) for i in sp.encode(line)) + "\n")
        else:
            out.write(" ".join(sp.encode(line, out_type=str)) + "\n")
EOF
}

# ---- training, and Python training the same model ----
cd "$TMP" || exit 1
expect_status "train unigram" 0 "$LOOM" subword train "$CORPUS" -o uni.model --vocab-size 800 --threads 1
expect_lines "the .vocab has one line per piece" 800 uni.vocab
if head -n 3 uni.vocab | cut -f1 | tr '\n' ' ' | grep -qx '<unk> <s> </s> '; then
    ok ".vocab starts with <unk> <s> </s>"
else not_ok ".vocab starts with <unk> <s> </s> ($(head -n 3 uni.vocab | tr '\n' ' '))"; fi
expect_grep "train prints a summary" "^subword: 800-piece unigram model in .* -> uni.model, uni.vocab" "$TMP/err"

py_train py-uni unigram 800
expect_same "Python's trainer gives the same unigram vocabulary and scores" py-uni.vocab uni.vocab
# SentencePiece is loom's module loom_subword.so, opened by the first model:
# without it, one line naming it
expect_status "no subword module: exit 1" 1 \
    env LOOM_MODULE_DIR="$TMP/nowhere" "$LOOM" subword encode uni.model
expect_lines "no subword module: one line" 1 "$TMP/err"
expect_grep "no subword module: names the file" "nowhere/loom_subword.so: No such file" "$TMP/err"

expect_status "train bpe" 0 "$LOOM" subword train "$CORPUS" -o bpe.model --vocab-size 600 --type bpe -q
py_train py-bpe bpe 600
expect_same "Python's trainer gives the same bpe vocabulary and scores" py-bpe.vocab bpe.vocab
if [ ! -s "$TMP/err" ]; then ok "--quiet prints nothing"; else not_ok "--quiet printed: $(head -n 2 "$TMP/err")"; fi

# ---- segmenting: loom's models in Python, Python's models in loom ----
for m in uni bpe py-uni py-bpe; do
    "$LOOM" subword encode $m.model text.txt >loom-$m.pieces 2>"$TMP/err"
    "$LOOM" subword encode $m.model text.txt --ids >loom-$m.ids 2>>"$TMP/err"
    py_encode $m.model text.txt pieces >py-$m.pieces
    py_encode $m.model text.txt ids >py-$m.ids
    expect_same "$m.model: loom and Python give the same pieces" loom-$m.pieces py-$m.pieces
    expect_same "$m.model: loom and Python give the same ids" loom-$m.ids py-$m.ids
done
expect_lines "one output line per input line, empty lines kept" "$(wc -l <text.txt)" loom-uni.pieces

# ---- round trips ----
# SentencePiece normalises with NFKC: on this corpus that only turns the
# no-break spaces of French typography (U+00A0, U+202F; 96 lines) into
# spaces. Runs of white space become one space, leading and trailing space
# goes.
sed 's/\xc2\xa0/ /g; s/\xe2\x80\xaf/ /g' "$CORPUS" >want-corpus.txt
printf '%s\n' "Don't panic: it's only 42 euros." "Qu'en penses-tu ?" "Zoë ♥ 東京 ١٢٣" \
    "" "ÉCOLE normale supérieure" "x" "naïve café, crème brûlée!" >want-extra.txt
cat want-corpus.txt want-extra.txt >want.txt
"$LOOM" subword decode uni.model loom-uni.pieces >back.txt
head -n "$(wc -l <"$CORPUS")" back.txt >back-corpus.txt
if cmp -s "$CORPUS" back-corpus.txt; then not_ok "the corpus has no no-break space any more?"; fi
expect_same "encode | decode gives the text back but for SentencePiece's normalisation" want.txt back.txt
# An id cannot carry the text of a character outside the model (<unk>,
# id 0), which decodes as ⁇; every other line comes back.
"$LOOM" subword decode uni.model --ids loom-uni.ids >back-ids.txt
if "$PY" - <<'EOF'; then ok "ids decode to the text, but <unk> as ⁇"; else not_ok "ids decode to the text, but <unk> as ⁇"; fi
ids = open("loom-uni.ids", encoding="utf-8").read().split("\n")
want = open("want.txt", encoding="utf-8").read().split("\n")
got = open("back-ids.txt", encoding="utf-8").read().split("\n")
assert len(ids) == len(want) == len(got), (len(ids), len(want), len(got))
unk = 0
for i, w, g in zip(ids, want, got):
    if "0" in i.split():
        unk += 1
        assert "\u2047" in g and g != w, (i, w, g)
    else:
        assert g == w, (i, w, g)
assert 0 < unk < 100, unk
EOF
"$PY" -c '
import sys, sentencepiece as spm
sp = spm.SentencePieceProcessor(model_file="uni.model")
for line in open("loom-uni.ids", encoding="utf-8"):
    print(sp.decode([int(i) for i in line.split()]))' >py-back.txt
expect_same "Python decodes loom's ids to loom's text" back-ids.txt py-back.txt

# The shipped corpora (corpus/*.gz: 20 MB; each column of the .tsv files a
# line) through the same model: each line comes back as it was, or as
# SentencePiece's normalisation (nmt_nfkc) makes it, spelt out here: NFKC; control
# characters (U+0002 in sotu) and zero-width characters (U+200B in two
# Tatoeba lines) removed; other spaces (Unicode Zs) as spaces; runs of
# spaces as one; no space at either end.
for f in "$LOOM_SRCDIR"/corpus/*.gz; do
    name=$(basename "$f" .gz)
    gzip -dc "$f" | tr '\t' '\n' >raw.txt # each column of a .tsv on a line of its own
    "$LOOM" subword encode uni.model raw.txt | "$LOOM" subword decode uni.model >back.txt
    if "$PY" - raw.txt back.txt >rt.txt 2>&1 <<'EOF'; then ok "round trip: $name ($(cat rt.txt))"; else
import re, sys, unicodedata
raw = open(sys.argv[1], encoding="utf-8", newline="\n").read().split("\n")
back = open(sys.argv[2], encoding="utf-8", newline="\n").read().split("\n")
assert len(raw) == len(back), ("lines", len(raw), len(back))
same = 0
for n, (r, b) in enumerate(zip(raw, back), 1):
    if r == b:
        same += 1
        continue
    w = unicodedata.normalize("NFKC", r)
    w = "".join("" if (unicodedata.category(c) == "Cc" and c != "\t") or c in "\u200b\u200c\u200d\u2060\ufeff"
                else " " if c == "\t" or unicodedata.category(c) == "Zs" else c for c in w)
    w = re.sub(" +", " ", w).strip(" ")
    assert w == b, ("line", n, w[:80], b[:80])
print("%d lines as they were, %d normalised" % (same - 1, len(raw) - same))
EOF
        not_ok "round trip: $name"
        head -n 3 rt.txt | sed 's/^/  /'
    fi
done

# ---- byte fallback: nothing is unknown, every line comes back ----
expect_status "train bpe --byte-fallback" 0 "$LOOM" subword train "$CORPUS" -o bytes.model --vocab-size 600 \
    --type bpe --byte-fallback -q
expect_grep "the byte pieces are in the vocabulary" "^<0xE6>	0$" bytes.vocab
echo '東京' | "$LOOM" subword encode bytes.model >bytes.pieces
expect_grep "a character outside the model is spelt in bytes" "^▁ <0xE6> <0x9D> <0xB1> <0xE4> <0xBA> <0xAC>$" bytes.pieces
"$LOOM" subword encode bytes.model --ids text.txt | "$LOOM" subword decode bytes.model --ids >bytes-back.txt
expect_same "with byte fallback, ids decode to the text but for normalisation" want.txt bytes-back.txt
py_encode bytes.model text.txt ids >py-bytes.ids
"$LOOM" subword encode bytes.model --ids text.txt >loom-bytes.ids
expect_same "byte fallback: loom and Python give the same ids" loom-bytes.ids py-bytes.ids

# ---- gzip in and out, stdin ----
gzip -c "$CORPUS" >corpus.txt.gz
expect_status "train from .gz" 0 "$LOOM" subword train corpus.txt.gz -o gz.model --vocab-size 800 --threads 1 -q
expect_same "a .gz corpus trains the same model" uni.vocab gz.vocab
gzip -c text.txt >text.txt.gz
"$LOOM" subword encode uni.model text.txt.gz -o out.pieces.gz
gzip -dc out.pieces.gz >out.pieces
expect_same ".gz in, .gz out" loom-uni.pieces out.pieces
"$LOOM" subword train - -o stdin.model --vocab-size 800 --threads 1 -q <"$CORPUS"
expect_same "a corpus on stdin trains the same model" uni.vocab stdin.vocab
expect_status "an output name without .model gets .vocab appended" 0 "$LOOM" subword train "$CORPUS" -o plain.spm \
    --vocab-size 300 -q
if [ -s plain.spm ] && [ -s plain.spm.vocab ]; then ok "plain.spm and plain.spm.vocab written"; else
    not_ok "plain.spm.vocab missing"; fi

# ---- bad input ----
head -c 1000 uni.model >trunc.model
expect_status "a truncated .model is refused" 1 "$LOOM" subword encode trunc.model text.txt
expect_grep "the message names the file" "^loom: trunc.model: not a SentencePiece model" "$TMP/err"
head -c 4096 "$CORPUS" >text.model
expect_status "a text file as .model is refused" 1 "$LOOM" subword decode text.model text.txt
expect_grep "the message names the text file" "^loom: text.model: not a SentencePiece model" "$TMP/err"
: >empty.model
expect_status "an empty .model is refused" 1 "$LOOM" subword encode empty.model text.txt
expect_grep "the message says empty" "^loom: empty.model: empty file" "$TMP/err"
expect_status "a missing corpus" 1 "$LOOM" subword train nosuch.txt -o x.model
expect_grep "the message names the corpus" "^loom: nosuch.txt: no such corpus file" "$TMP/err"
expect_status "a vocabulary too large for the corpus" 1 "$LOOM" subword train "$CORPUS" -o big.model --vocab-size 50000
expect_grep "the message says how large it may be" "tatoeba.txt: cannot train a unigram model of 50000 pieces: Vocabulary size too high \(50000\). Please set it to a value <= [0-9]+" "$TMP/err"
if [ ! -e big.model ] && [ ! -e big.vocab ]; then ok "a failed training leaves no file"; else not_ok "big.model or big.vocab left"; fi
: >empty.txt
expect_status "an empty corpus" 1 "$LOOM" subword train empty.txt -o x.model
expect_grep "the message says so" "^loom: empty.txt: no lines to train on" "$TMP/err"
printf '5 6 x\n' >bad.ids
expect_status "a word that is not an id" 1 "$LOOM" subword decode uni.model --ids bad.ids
expect_grep "the message names file and line" "^loom: bad.ids:1: 'x' is not a piece id" "$TMP/err"
printf '5\n800\n' >big.ids
expect_status "an id out of range" 1 "$LOOM" subword decode uni.model --ids big.ids
expect_grep "the message names file, line and range" "^loom: big.ids:2: id 800 is out of range \(the model has 800 pieces\)" "$TMP/err"
expect_status "train without -o is a usage error" 2 "$LOOM" subword train "$CORPUS"
expect_status "an unknown --type is a usage error" 2 "$LOOM" subword train "$CORPUS" -o x.model --type wordpiece
expect_status "an unknown action is a usage error" 2 "$LOOM" subword split uni.model
expect_status "--ids is not a training option" 2 "$LOOM" subword train "$CORPUS" -o x.model --ids
expect_status "--vocab-size is not an encoding option" 2 "$LOOM" subword encode uni.model --vocab-size 5
expect_status "a missing model" 1 "$LOOM" subword encode nosuch.model text.txt
expect_grep "the message names the model" "^loom: nosuch.model: " "$TMP/err"

finish
