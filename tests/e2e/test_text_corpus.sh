# End-to-end: loom vocab and loom tokenize on the shipped SOTU corpus
# against independent counts, and bounded memory on a 50 MB line.
. "$LOOM_SRCDIR/tests/e2e/lib.sh"
CORPUS="$LOOM_SRCDIR/corpus/sotu.txt.gz"

# --pretokenized counts equal tr | sort | uniq -c exactly, word for word.
gzip -dc "$CORPUS" | tr -s ' ' '\n' | grep -v '^$' | LC_ALL=C sort | LC_ALL=C uniq -c |
    awk '{print $2, $1}' | LC_ALL=C sort -t' ' -k1,1 >"$TMP/uniq.txt"
expect_status "vocab --pretokenized on the corpus" 0 "$LOOM" vocab --quiet --pretokenized "$CORPUS" -o "$TMP/v.txt"
LC_ALL=C sort -t' ' -k1,1 "$TMP/v.txt" >"$TMP/v.sorted"
expect_same "vocab --pretokenized counts equal tr | sort | uniq -c" "$TMP/uniq.txt" "$TMP/v.sorted"
LC_ALL=C sort -s -t' ' -k2,2nr -k1,1 "$TMP/v.txt" >"$TMP/v.order"
expect_same "vocab is ordered by count, then bytes" "$TMP/v.order" "$TMP/v.txt"
awk '{n += $2} END {print n}' "$TMP/v.txt" >"$TMP/total"
gzip -dc "$CORPUS" | wc -w | tr -d ' ' >"$TMP/wc"
expect_same "vocab --pretokenized total equals wc -w" "$TMP/wc" "$TMP/total"

# Default tokenization: vocab counts what tokenize prints.
expect_status "tokenize the corpus" 0 "$LOOM" tokenize "$CORPUS" -o "$TMP/sotu.tok"
expect_lines "one token line per address" 233 "$TMP/sotu.tok"
tr ' ' '\n' <"$TMP/sotu.tok" | grep -v '^$' | LC_ALL=C sort | LC_ALL=C uniq -c |
    awk '{print $2, $1}' | LC_ALL=C sort -t' ' -k1,1 >"$TMP/tok.counts"
"$LOOM" vocab --quiet "$CORPUS" | LC_ALL=C sort -t' ' -k1,1 >"$TMP/vocab.counts"
expect_same "vocab counts equal the counts of tokenize's output" "$TMP/tok.counts" "$TMP/vocab.counts"
# The tokenized corpus is already clean: --pretokenized on it changes nothing.
"$LOOM" tokenize --pretokenized "$TMP/sotu.tok" >"$TMP/again.tok"
expect_same "tokenize --pretokenized on tokenized text is the identity" "$TMP/sotu.tok" "$TMP/again.tok"

# A single 50 MB line streams in bounded memory: its peak RSS stays within
# a few MB of a run on one short line.
rss() { # CMD...: peak RSS of CMD in KB, reading stdin, output discarded
    /usr/bin/python3 -c '
import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$@"
}
small=$(echo "one short line" | rss "$LOOM" tokenize)
unit="The people's 3.14 caf$(printf '\303\251') ideas, l$(printf '\342\200\231')homme; "
big=$(yes "$unit" | head -c 50000000 | tr -d '\n' | rss "$LOOM" tokenize)
if [ -n "$small" ] && [ -n "$big" ] && [ $((big - small)) -lt 8192 ]; then
    ok "a 50 MB line needs less than 8 MB more ($small KB -> $big KB)"
else
    not_ok "a 50 MB line needs less than 8 MB more ($small KB -> $big KB)"
fi
# Tokens cut by the reader's 1 MB pieces come out whole: 100,000 units.
unit_len=$(printf '%s' "$unit" | wc -c)
yes "$unit" | tr -d '\n' | head -c $((unit_len * 100000)) | "$LOOM" tokenize | tr ' ' '\n' |
    LC_ALL=C sort | uniq -c | awk '{print $2, $1}' >"$TMP/long.counts"
printf ", 100000\n3.14 100000\n; 100000\ncaf\303\251 100000\nideas 100000\nl'homme 100000\npeople's 100000\nthe 100000\n" >"$TMP/long.want"
expect_same "the long line's tokens all come out whole" "$TMP/long.want" "$TMP/long.counts"

finish
