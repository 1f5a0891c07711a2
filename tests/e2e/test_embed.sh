# End-to-end: `loom embed` on a small slice of the shipped corpus: output
# formats read by gensim with loom's values, repeatable single-thread runs,
# stdin and gzip input, vocabulary files, and clear errors that leave no
# file behind.
. "$LOOM_SRCDIR/tests/e2e/lib.sh"

corpus="$TMP/small.txt"
gzip -dc "$LOOM_SRCDIR/corpus/sotu.txt.gz" | head -n 40 >"$corpus"
common="--dim 12 --epochs 1 --min-count 3 --quiet"

# expect_none NAME DIR: DIR holds no file (no output, no temporary left).
expect_none() {
    if [ -z "$(ls -A "$2")" ]; then ok "$1"; else not_ok "$1 ($(ls -A "$2" | head -3))"; fi
}

# --- formats, and gensim reading them -------------------------------------
for f in vec.bin vec.txt vec.bin.gz vec.vec.gz; do
    expect_status "embed writes $f" 0 "$LOOM" embed "$corpus" -o "$TMP/$f" --threads 1 --seed 3 $common
done
expect_status "embed --format txt overrides the name" 0 \
    "$LOOM" embed "$corpus" -o "$TMP/forced.bin" --format txt --threads 1 --seed 3 $common
expect_grep "--format txt writes text" '^[0-9]+ 12$' "$TMP/forced.bin"
expect_grep ".txt starts with the N D header" '^[0-9]+ 12$' "$TMP/vec.txt"

if /usr/bin/python3 -c 'import gensim' 2>/dev/null; then
    cat >"$TMP/gensim_check.py" <<'EOF'
import struct, sys, gzip
import numpy as np
from gensim.models import KeyedVectors
d = sys.argv[1]
def raw_bin(path):
    """loom's .bin parsed byte by byte, without gensim."""
    data = open(path, "rb").read()
    head, rest = data.split(b"\n", 1)
    n, dim = map(int, head.split())
    words, rows, at = [], [], 0
    for _ in range(n):
        sp = rest.index(b" ", at)
        words.append(rest[at:sp].decode())
        at = sp + 1
        rows.append(struct.unpack("<%df" % dim, rest[at:at + 4 * dim]))
        at += 4 * dim
        if rest[at:at + 1] == b"\n":
            at += 1
    assert at == len(rest), "trailing bytes"
    return words, np.array(rows, dtype=np.float32)
words, ref = raw_bin(d + "/vec.bin")
for name, binary, exact in (("vec.bin", True, True), ("vec.bin.gz", True, True),
                            ("vec.txt", False, False), ("vec.vec.gz", False, False)):
    kv = KeyedVectors.load_word2vec_format(d + "/" + name, binary=binary)
    assert list(kv.index_to_key) == words, name + ": other words or order"
    got = np.stack([kv[w] for w in words])
    if exact:
        assert np.array_equal(got, ref), name + ": vectors differ"
    else:
        assert np.allclose(got, ref, rtol=1e-5, atol=1e-6), name + ": vectors differ"
    print(name, "ok", len(words), "words")
EOF
    expect_status "gensim reads .bin, .bin.gz, .txt and .vec.gz with loom's values" 0 \
        /usr/bin/python3 "$TMP/gensim_check.py" "$TMP"
    grep -c ' ok ' "$TMP/out" >"$TMP/count"
    expect_grep "gensim checked all four files" '^4$' "$TMP/count"
else
    not_ok "python3-gensim is missing (scripts/setup installs it)"
fi

# --- repeatable, and the same from stdin or gzip ---------------------------
expect_status "a second run" 0 "$LOOM" embed "$corpus" -o "$TMP/again.bin" --threads 1 --seed 3 $common
expect_same "--threads 1 --seed 3 twice gives the same bytes" "$TMP/vec.bin" "$TMP/again.bin"
expect_status "another seed" 0 "$LOOM" embed "$corpus" -o "$TMP/seed4.bin" --threads 1 --seed 4 $common
if cmp -s "$TMP/vec.bin" "$TMP/seed4.bin"; then not_ok "another seed gives other vectors"; else
    ok "another seed gives other vectors"; fi
expect_status "stdin as corpus" 0 sh -c "\"$LOOM\" embed - -o \"$TMP/stdin.bin\" --threads 1 --seed 3 $common <\"$corpus\""
expect_same "stdin gives what the file gives" "$TMP/vec.bin" "$TMP/stdin.bin"
gzip -c "$corpus" >"$TMP/small.txt.gz"
expect_status "gzip corpus" 0 "$LOOM" embed "$TMP/small.txt.gz" -o "$TMP/gz.bin" --threads 1 --seed 3 $common
expect_same "gzip input gives what plain input gives" "$TMP/vec.bin" "$TMP/gz.bin"
expect_status "stdin with 3 threads" 0 sh -c "\"$LOOM\" embed - -o \"$TMP/stdin3.bin\" --threads 3 $common <\"$corpus\""
head -n 1 "$TMP/vec.bin" >"$TMP/h1"
head -n 1 "$TMP/stdin3.bin" >"$TMP/h3"
expect_same "3 threads over stdin keep the vocabulary" "$TMP/h1" "$TMP/h3"
expect_status "two files, CBOW, HS" 0 "$LOOM" embed "$corpus" "$TMP/small.txt.gz" -o "$TMP/two.txt" \
    --model cbow --loss hs --threads 2 $common

# --- vocabulary files ------------------------------------------------------
expect_status "--save-vocab" 0 "$LOOM" embed "$corpus" -o "$TMP/sv.bin" --save-vocab "$TMP/v.txt" \
    --threads 1 --seed 3 $common
expect_grep "the vocabulary is 'word count' lines" '^[^ ]+ [0-9]+$' "$TMP/v.txt"
expect_status "--read-vocab" 0 "$LOOM" embed "$corpus" -o "$TMP/rv.bin" --read-vocab "$TMP/v.txt" \
    --threads 1 --seed 3 $common
expect_same "a read vocabulary trains what a counted one does" "$TMP/sv.bin" "$TMP/rv.bin"

# --- progress ---------------------------------------------------------------
expect_status "--progress" 0 "$LOOM" embed "$corpus" -o "$TMP/p.bin" --dim 12 --epochs 2 \
    --min-count 3 --threads 2 --progress
expect_grep "progress shows the epoch summary" 'epoch 2/2: loss [0-9.]+' "$TMP/err"
expect_grep "progress ends with words/s per thread" 'words/s/thread' "$TMP/err"

# --- errors ----------------------------------------------------------------
mkdir "$TMP/o"
: >"$TMP/empty.txt"
expect_status "empty corpus exits 1" 1 "$LOOM" embed "$TMP/empty.txt" -o "$TMP/o/x.bin"
expect_grep "empty corpus is named" 'empty' "$TMP/err"
expect_lines "empty corpus: one line" 1 "$TMP/err"
printf 'a b c\nd e f\n' >"$TMP/rare.txt"
expect_status "no word reaching --min-count exits 1" 1 "$LOOM" embed "$TMP/rare.txt" -o "$TMP/o/x.bin"
expect_grep "min-count is explained" 'min-count' "$TMP/err"
expect_status "unwritable output exits 1" 1 "$LOOM" embed "$corpus" -o "$TMP/nodir/x.bin" --epochs 50 \
    --progress
expect_grep "unwritable output is named" 'nodir' "$TMP/err"
expect_lines "unwritable output is found before training (no progress shown)" 1 "$TMP/err"
expect_status "unwritable --save-vocab exits 1" 1 "$LOOM" embed "$corpus" -o "$TMP/o/x.bin" \
    --save-vocab "$TMP/nodir/v.txt"
expect_status "--dim 0 exits 2" 2 "$LOOM" embed "$corpus" -o "$TMP/o/x.bin" --dim 0
expect_grep "--dim 0 names the option" 'dim' "$TMP/err"
expect_status "--window -1 exits 2" 2 "$LOOM" embed "$corpus" -o "$TMP/o/x.bin" --window -1
expect_grep "--window -1 names the option" 'window' "$TMP/err"
expect_status "--min-alpha above --alpha exits 2" 2 "$LOOM" embed "$corpus" -o "$TMP/o/x.bin" \
    --alpha 0.01 --min-alpha 0.02
expect_grep "--min-alpha above --alpha names the option" 'min-alpha' "$TMP/err"
expect_status "--min-alpha -1 exits 2" 2 "$LOOM" embed "$corpus" -o "$TMP/o/x.bin" --min-alpha -1
expect_status "--lr-schedule bad exits 2" 2 "$LOOM" embed "$corpus" -o "$TMP/o/x.bin" \
    --lr-schedule cosine
expect_grep "--lr-schedule bad names the option" 'lr-schedule' "$TMP/err"
expect_status "--model bad exits 2" 2 "$LOOM" embed "$corpus" -o "$TMP/o/x.bin" --model glove
expect_status "no output exits 2" 2 "$LOOM" embed "$corpus"
expect_status "missing corpus exits 1" 1 "$LOOM" embed "$TMP/none.txt" -o "$TMP/o/x.bin"
expect_status "bad --read-vocab exits 1" 1 "$LOOM" embed "$corpus" -o "$TMP/o/x.bin" \
    --read-vocab "$TMP/none.txt"
expect_none "no error left a file or a temporary" "$TMP/o"

finish
