# End-to-end: scripts/make-tatoeba-corpus applies its rules (tried on a
# small source made here, so a clone of the project alone runs every check),
# and the shipped split has the properties the rules promise. When the
# original source is at hand ($LOOM_SHARED_DATA, as the maintainers' tree
# has it), the shipped files are also rebuilt from it byte for byte.
. "$LOOM_SRCDIR/tests/e2e/lib.sh"
MAKE_CORPUS="$LOOM_SRCDIR/scripts/make-tatoeba-corpus"

# -- the rules, on a source of 38 lines: 30 fillers, one English sentence in
# three spellings, one exact duplicate, an 8-word and a 9-word sentence, an
# empty French side.
{
    i=1
    while [ $i -le 30 ]; do
        printf 'Sentence number %d.\tPhrase numéro %d.\n' $i $i
        i=$((i + 1))
    done
    printf 'Go.\tVa !\n'
    printf 'go.\tVas-y.\n'
    printf ' GO.  \tFile !\n'
    printf 'Run!\tCours !\n'
    printf 'Run!\tCours !\n'
    printf 'one two three four five six seven eight\tun deux trois quatre cinq six sept huit\n'
    printf 'one two three four five six seven eight nine\tun deux trois quatre cinq six sept huit neuf\n'
    printf 'Empty.\t \n'
} | gzip -n >"$TMP/src.tsv.gz"
expect_status "make-tatoeba-corpus runs on a small source" 0 \
    /usr/bin/python3 "$MAKE_CORPUS" --test 5 --valid 5 "$TMP/src.tsv.gz" "$TMP/small"
expect_grep "reports the split sizes" 'train 2[0-9], valid 5, test 5' "$TMP/err"
for s in train valid test; do gzip -dc "$TMP/small/tatoeba-eng-fra.$s.tsv.gz" >"$TMP/small.$s"; done
expect_lines "test takes 5 groups, one pair each" 5 "$TMP/small.test"
expect_lines "valid takes 5 groups, one pair each" 5 "$TMP/small.valid"
cat "$TMP/small.train" "$TMP/small.valid" "$TMP/small.test" >"$TMP/small.all"
grep -c 'nine' "$TMP/small.all" >"$TMP/n" || true
expect_grep "a 9-word English sentence is dropped" '^0$' "$TMP/n"
grep -c '^one two three four five six seven eight	' "$TMP/small.all" >"$TMP/n" || true
expect_grep "an 8-word English sentence is kept" '^1$' "$TMP/n"
grep -c '^Empty' "$TMP/small.all" >"$TMP/n" || true
expect_grep "a pair with an empty side is dropped" '^0$' "$TMP/n"
grep -c '^Run!	Cours !$' "$TMP/small.all" >"$TMP/n" || true
expect_grep "an exact duplicate is kept once" '^1$' "$TMP/n"
spread=0
for s in train valid test; do grep -qi '^go\.	' "$TMP/small.$s" && spread=$((spread + 1)); done
echo "$spread" >"$TMP/n"
expect_grep "spellings of one English sentence go to one split" '^1$' "$TMP/n"
if grep -qi '^go\.	' "$TMP/small.train"; then
    grep -ci '^go\.	' "$TMP/small.train" >"$TMP/n"
    expect_grep "train keeps each spelling, sides stripped" '^3$' "$TMP/n"
else
    grep -hi '^go\.	' "$TMP/small.valid" "$TMP/small.test" >"$TMP/n"
    expect_grep "a held-out sentence keeps its first translation" '^Go\.	Va !$' "$TMP/n"
fi
od -An -tx1 -j4 -N4 "$TMP/small/tatoeba-eng-fra.train.tsv.gz" | tr -d ' \n' >"$TMP/n"
expect_grep "the gzip header carries no time" '^00000000$' "$TMP/n"
expect_status "a second run succeeds" 0 \
    /usr/bin/python3 "$MAKE_CORPUS" --test 5 --valid 5 "$TMP/src.tsv.gz" "$TMP/again"
for s in train valid test; do
    expect_same "$s is the same bytes on every run" "$TMP/small/tatoeba-eng-fra.$s.tsv.gz" "$TMP/again/tatoeba-eng-fra.$s.tsv.gz"
done
{
    gzip -dc "$TMP/src.tsv.gz"
    printf 'no tab here\n'
} | gzip -n >"$TMP/notab.tsv.gz"
expect_status "a line without a TAB is refused" 1 \
    /usr/bin/python3 "$MAKE_CORPUS" --test 5 --valid 5 "$TMP/notab.tsv.gz" "$TMP/notab"
expect_grep "naming the file and line" 'notab\.tsv\.gz:39: no TAB' "$TMP/err"

# -- the shipped split.
for s in train valid test; do gzip -dc "$LOOM_SRCDIR/corpus/tatoeba-eng-fra.$s.tsv.gz" >"$TMP/$s.tsv"; done
expect_lines "train has 117,129 pairs" 117129 "$TMP/train.tsv"
expect_lines "valid has 1,500 pairs" 1500 "$TMP/valid.tsv"
expect_lines "test has 1,500 pairs" 1500 "$TMP/test.tsv"
cut -f1 "$TMP/train.tsv" | tr 'A-Z' 'a-z' | sort -u >"$TMP/train.en"
for s in valid test; do
    cut -f1 "$TMP/$s.tsv" | tr 'A-Z' 'a-z' | sort -u >"$TMP/$s.en"
    comm -12 "$TMP/train.en" "$TMP/$s.en" >"$TMP/$s.common"
    expect_lines "no English sentence of $s is in train" 0 "$TMP/$s.common"
done
for s in train valid test; do
    awk -F'\t' 'NF < 2 || $1 == "" || $2 == "" || split($1, w, " ") > 8' "$TMP/$s.tsv" >"$TMP/$s.bad"
    expect_lines "every $s pair has two sides and English of at most 8 words" 0 "$TMP/$s.bad"
done
sort "$TMP/train.tsv" | uniq -d >"$TMP/train.dup"
expect_lines "train has no exact duplicates" 0 "$TMP/train.dup"

# -- provenance, where the original is at hand (not in a plain clone).
SRC="${LOOM_SHARED_DATA:-$LOOM_SRCDIR/../shared/data}/tatoeba-eng-fra.tsv.gz"
if [ -f "$SRC" ]; then
    expect_status "make-tatoeba-corpus runs on the original" 0 /usr/bin/python3 "$MAKE_CORPUS" "$SRC" "$TMP/corpus"
    for s in train valid test; do
        expect_same "$s split rebuilt byte for byte" "$LOOM_SRCDIR/corpus/tatoeba-eng-fra.$s.tsv.gz" "$TMP/corpus/tatoeba-eng-fra.$s.tsv.gz"
    done
    expect_grep "reports the split sizes" 'train 117129, valid 1500, test 1500' "$TMP/err"
fi

finish
