# End-to-end: loom tokenize and loom vocab on the UDHR fixtures, on gzip,
# stdin and broken inputs, and their options.
. "$LOOM_SRCDIR/tests/e2e/lib.sh"
T="$FIXTURES/text"

# The UDHR in 14 languages: loom's tokens equal those of the independent
# Python reading of the rules (tests/fixtures/text/make-udhr-fixtures).
for txt in "$T"/udhr-*.txt; do
    lang=$(basename "$txt" .txt)
    "$LOOM" tokenize "$txt" >"$TMP/$lang.tok"
    expect_same "tokenize $lang" "$T/$lang.tok" "$TMP/$lang.tok"
    "$LOOM" tokenize --keep-case --punct drop "$txt" >"$TMP/$lang.dc.tok"
    expect_same "tokenize --keep-case --punct drop $lang" "$T/$lang.drop-case.tok" "$TMP/$lang.dc.tok"
done
expect_lines "one output line per input line" "$(wc -l <"$T/udhr-eng.txt")" "$TMP/udhr-eng.tok"

# Inputs: gzip, stdin, '-', several files, and -o (plain and .gz).
gzip -c "$T/udhr-fra.txt" >"$TMP/fra.txt.gz"
expect_status "tokenize reads .gz" 0 "$LOOM" tokenize "$TMP/fra.txt.gz"
expect_same "tokens of .gz equal tokens of plain text" "$T/udhr-fra.tok" "$TMP/out"
"$LOOM" tokenize <"$T/udhr-deu.txt" >"$TMP/stdin.tok"
expect_same "tokenize reads stdin" "$T/udhr-deu.tok" "$TMP/stdin.tok"
"$LOOM" tokenize - <"$T/udhr-deu.txt" >"$TMP/dash.tok"
expect_same "tokenize reads -" "$T/udhr-deu.tok" "$TMP/dash.tok"
cat "$T/udhr-eng.tok" "$T/udhr-rus.tok" >"$TMP/two.want"
"$LOOM" tokenize "$T/udhr-eng.txt" "$T/udhr-rus.txt" >"$TMP/two.tok"
expect_same "tokenize of two files is their tokens in order" "$TMP/two.want" "$TMP/two.tok"
expect_status "tokenize -o writes a file" 0 "$LOOM" tokenize "$T/udhr-jpn.txt" -o "$TMP/jpn.tok.gz"
gzip -dc "$TMP/jpn.tok.gz" >"$TMP/jpn.tok"
expect_same "tokenize -o x.gz compresses" "$T/udhr-jpn.tok" "$TMP/jpn.tok"

# CRLF and lone CR.
printf 'One two\r\nthree\rfour\r\n' >"$TMP/crlf.txt"
"$LOOM" tokenize "$TMP/crlf.txt" >"$TMP/crlf.tok"
printf 'one two\nthree four\n' >"$TMP/crlf.want"
expect_same "CRLF ends a line, a lone CR separates" "$TMP/crlf.want" "$TMP/crlf.tok"

# Broken inputs: one error line naming the file, exit 1.
expect_status "missing input exits 1" 1 "$LOOM" tokenize "$TMP/no-such-file.txt"
expect_lines "missing input prints one line" 1 "$TMP/err"
expect_grep "missing input is named" "^loom: .*no-such-file.txt" "$TMP/err"
expect_status "vocab: missing input exits 1" 1 "$LOOM" vocab "$TMP/no-such-file.txt" -o "$TMP/v.txt"
expect_lines "vocab: missing input prints one line" 1 "$TMP/err"
expect_grep "vocab: missing input is named" "^loom: .*no-such-file.txt" "$TMP/err"
[ ! -e "$TMP/v.txt" ] && ok "vocab: no output after an error" || not_ok "vocab: no output after an error"

# A corrupt .gz: bytes in the middle of the deflate stream overwritten.
seq 1 20000 | gzip -c >"$TMP/corrupt.txt.gz"
size=$(wc -c <"$TMP/corrupt.txt.gz")
printf 'XXXXXXXXXXXXXXXX' | dd of="$TMP/corrupt.txt.gz" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
expect_status "corrupt .gz exits 1" 1 "$LOOM" tokenize "$TMP/corrupt.txt.gz"
expect_lines "corrupt .gz prints one line" 1 "$TMP/err"
expect_grep "corrupt .gz is named" "^loom: .*corrupt.txt.gz" "$TMP/err"
expect_status "vocab: corrupt .gz exits 1" 1 "$LOOM" vocab "$TMP/corrupt.txt.gz"
expect_lines "vocab: corrupt .gz prints one line" 1 "$TMP/err"
expect_grep "vocab: corrupt .gz is named" "^loom: .*corrupt.txt.gz" "$TMP/err"
seq 1 20000 | gzip -c | head -c $((size - 20)) >"$TMP/short.txt.gz"
expect_status "truncated .gz exits 1" 1 "$LOOM" tokenize "$TMP/short.txt.gz"
expect_grep "truncated .gz is named" "^loom: .*short.txt.gz" "$TMP/err"

# Invalid UTF-8: FILE:LINE: invalid UTF-8 at byte N (N from 0), or U+FFFD.
printf 'fine\nbad \300\257 here\n' >"$TMP/bad.txt"
expect_status "invalid UTF-8 exits 1" 1 "$LOOM" tokenize "$TMP/bad.txt"
expect_lines "invalid UTF-8 prints one line" 1 "$TMP/err"
expect_grep "invalid UTF-8 names file, line and byte" "^loom: $TMP/bad.txt:2: invalid UTF-8 at byte 9\$" "$TMP/err"
gzip -c "$TMP/bad.txt" >"$TMP/bad.txt.gz"
expect_status "invalid UTF-8 in .gz exits 1" 1 "$LOOM" tokenize "$TMP/bad.txt.gz"
expect_grep "byte offsets count uncompressed bytes" "^loom: $TMP/bad.txt.gz:2: invalid UTF-8 at byte 9\$" "$TMP/err"
expect_status "--invalid replace goes on" 0 "$LOOM" tokenize --invalid replace "$TMP/bad.txt"
printf 'fine\nbad \357\277\275 \357\277\275 here\n' >"$TMP/bad.want"
expect_same "--invalid replace writes U+FFFD per bad sequence" "$TMP/bad.want" "$TMP/out"
expect_status "vocab: invalid UTF-8 exits 1" 1 "$LOOM" vocab "$TMP/bad.txt"
expect_grep "vocab: invalid UTF-8 names file, line and byte" "bad.txt:2: invalid UTF-8 at byte 9\$" "$TMP/err"

# Option values.
expect_status "--punct with a bad value exits 2" 2 "$LOOM" tokenize --punct maybe "$T/udhr-eng.txt"
expect_grep "--punct names the choices" "keep\|drop" "$TMP/err"
expect_status "--invalid with a bad value exits 2" 2 "$LOOM" vocab --invalid ignore "$T/udhr-eng.txt"
expect_status "vocab without a corpus exits 2" 2 "$LOOM" vocab -o "$TMP/v.txt"
expect_status "vocab --min-count 0 exits 2" 2 "$LOOM" vocab --min-count 0 "$T/udhr-eng.txt"

# vocab counts what tokenize prints, sorted by count then bytes.
"$LOOM" tokenize "$T/udhr-eng.txt" "$T/udhr-fra.txt" | tr ' ' '\n' | grep -v '^$' |
    LC_ALL=C sort | uniq -c | awk '{print $2, $1}' | LC_ALL=C sort -t' ' -k2,2nr -k1,1 >"$TMP/count.want"
expect_status "vocab of two files" 0 "$LOOM" vocab "$T/udhr-eng.txt" "$T/udhr-fra.txt" -o "$TMP/v.txt"
expect_same "vocab counts equal counts of tokenize's output, in order" "$TMP/count.want" "$TMP/v.txt"
expect_grep "vocab closes with a note" "^loom vocab: [0-9]+ words, [0-9]+ tokens kept" "$TMP/err"
expect_status "vocab --quiet" 0 "$LOOM" vocab --quiet "$T/udhr-eng.txt" -o "$TMP/v.txt"
expect_lines "vocab --quiet prints nothing" 0 "$TMP/err"

"$LOOM" vocab --quiet "$T/udhr-eng.txt" --min-count 2 --max-size 20 >"$TMP/v20.txt"
expect_lines "vocab --max-size 20 keeps 20 words" 20 "$TMP/v20.txt"
"$LOOM" vocab --quiet "$T/udhr-eng.txt" --min-count 2 | awk '$2 < 2' >"$TMP/under"
expect_lines "vocab --min-count 2 drops rarer words" 0 "$TMP/under"
"$LOOM" vocab --quiet --specials "$T/udhr-eng.txt" | head -n 5 >"$TMP/sp.txt"
printf '<pad> 0\n<unk> 0\n<s> 0\n</s> 0\nof 21\n' >"$TMP/sp.want"
expect_same "vocab --specials puts <pad> <unk> <s> </s> first" "$TMP/sp.want" "$TMP/sp.txt"

# The memory bound: past --prune-at words the rarest are pruned and the
# closing note says so.
expect_status "vocab --prune-at" 0 "$LOOM" vocab --prune-at 100 "$T/udhr-eng.txt" -o "$TMP/pruned.txt"
expect_grep "the closing note reports the pruning" "rare words were pruned while counting" "$TMP/err"
head -n 3 "$TMP/pruned.txt" >"$TMP/p3"
"$LOOM" vocab --quiet "$T/udhr-eng.txt" | head -n 3 >"$TMP/u3"
expect_same "pruning keeps the frequent words' ranks" "$TMP/u3" "$TMP/p3"

finish
