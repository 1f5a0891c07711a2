# End-to-end: scripts/make-tatoeba-corpus rebuilds the shipped Tatoeba
# split byte for byte, and the split keeps test and valid English out of
# train. Needs the source data: $LOOM_SHARED_DATA (scripts/check sets it,
# and then a missing file fails the test) or ../shared/data beside the
# repository; only a bare `make check` without either skips (77).
. "$LOOM_SRCDIR/tests/e2e/lib.sh"
SRC="${LOOM_SHARED_DATA:-$LOOM_SRCDIR/../shared/data}/tatoeba-eng-fra.tsv.gz"
if [ ! -f "$SRC" ]; then
    if [ -n "${LOOM_SHARED_DATA:-}" ]; then
        echo "not ok - $SRC not found"
        echo "0 passed, 1 failed"
        exit 1
    fi
    echo "SKIP: $SRC not found (set LOOM_SHARED_DATA)"
    exit 77
fi

expect_status "make-tatoeba-corpus runs" 0 /usr/bin/python3 "$LOOM_SRCDIR/scripts/make-tatoeba-corpus" "$SRC" "$TMP/corpus"
for s in train valid test; do
    expect_same "$s split rebuilt byte for byte" "$LOOM_SRCDIR/corpus/tatoeba-eng-fra.$s.tsv.gz" "$TMP/corpus/tatoeba-eng-fra.$s.tsv.gz"
done
expect_grep "reports the split sizes" 'train 117129, valid 1500, test 1500' "$TMP/err"

gzip -dc "$LOOM_SRCDIR/corpus/tatoeba-eng-fra.train.tsv.gz" | cut -f1 | tr 'A-Z' 'a-z' | sort -u >"$TMP/train.en"
for s in valid test; do
    gzip -dc "$LOOM_SRCDIR/corpus/tatoeba-eng-fra.$s.tsv.gz" | cut -f1 | tr 'A-Z' 'a-z' | sort -u >"$TMP/$s.en"
    comm -12 "$TMP/train.en" "$TMP/$s.en" >"$TMP/$s.common"
    expect_lines "no English sentence of $s is in train" 0 "$TMP/$s.common"
    gzip -dc "$LOOM_SRCDIR/corpus/tatoeba-eng-fra.$s.tsv.gz" | awk -F'\t' 'NF < 2 || split($1, w, " ") > 8' >"$TMP/$s.bad"
    expect_lines "every $s pair has a TAB and English of at most 8 words" 0 "$TMP/$s.bad"
done

finish
