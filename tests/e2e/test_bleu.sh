# End-to-end: `loom bleu` on the fixtures of tests/fixtures/bleu (figures
# from make_bleu_fixtures.py, sacreBLEU 2.x's algorithm), and its errors.
. "$LOOM_SRCDIR/tests/e2e/lib.sh"
B="$FIXTURES/bleu"

expect_status "bleu scores a corpus" 0 "$LOOM" bleu "$B/ref.txt" "$B/hyp.txt"
expect_grep "BLEU line as sacreBLEU's" '^BLEU = 59\.15 [0-9.]+/[0-9.]+/[0-9.]+/[0-9.]+ \(BP = 0\.944 ratio = 0\.945 hyp_len = 2046 ref_len = 2164\)$' "$TMP/out"
expect_grep "chrF line" '^chrF2 = 75\.99$' "$TMP/out"

expect_status "--ref-column reads the target of TAB pairs" 0 "$LOOM" bleu -b --ref-column 2 "$B/pairs.tsv" "$B/hyp.txt"
expect_grep "--score-only prints BLEU and chrF" '^59\.15 75\.99$' "$TMP/out"

gzip -c "$B/ref.txt" >"$TMP/ref.txt.gz"
expect_status "gzip reference and stdin hypothesis" 0 sh -c "\"$LOOM\" bleu -b \"$TMP/ref.txt.gz\" - <\"$B/hyp.txt\""
expect_grep "same figures from .gz and stdin" '^59\.15 75\.99$' "$TMP/out"

expect_status "--tokenize none --smooth none" 0 "$LOOM" bleu -b --tokenize none --smooth none "$B/short.ref" "$B/short.hyp"
expect_grep "no smoothing: no 4-gram match gives 0" '^0\.00 49\.02$' "$TMP/out"
expect_status "default exp smoothing" 0 "$LOOM" bleu -b "$B/short.ref" "$B/short.hyp"
expect_grep "exp smoothing as sacreBLEU" '^28\.18 49\.02$' "$TMP/out"

head -n 10 "$B/hyp.txt" >"$TMP/short-hyp.txt"
expect_status "line counts differ: exit 1" 1 "$LOOM" bleu "$B/ref.txt" "$TMP/short-hyp.txt"
expect_grep "names the shorter file" 'short-hyp\.txt ends after 10 lines' "$TMP/err"

printf 'bon\nmauvais \303(\n' >"$TMP/bad.txt"
printf 'bon\nmauvais\n' >"$TMP/good.txt"
expect_status "invalid UTF-8: exit 1" 1 "$LOOM" bleu "$TMP/good.txt" "$TMP/bad.txt"
expect_grep "names file, line and byte" 'bad\.txt:2: hypothesis: invalid UTF-8 at byte 8' "$TMP/err"

expect_status "no column 2: exit 1" 1 "$LOOM" bleu --ref-column 2 "$B/ref.txt" "$B/hyp.txt"
expect_grep "names the file and line" 'ref\.txt:1: no column 2' "$TMP/err"

expect_status "missing file: exit 1" 1 "$LOOM" bleu "$TMP/nonexistent" "$B/hyp.txt"
expect_grep "names the missing file" 'nonexistent' "$TMP/err"
expect_status "one file only: exit 2" 2 "$LOOM" bleu "$B/ref.txt"
expect_status "bad --tokenize: exit 2" 2 "$LOOM" bleu --tokenize intl "$B/ref.txt" "$B/hyp.txt"
expect_status "bad --ref-column: exit 2" 2 "$LOOM" bleu --ref-column 0 "$B/ref.txt" "$B/hyp.txt"

finish
