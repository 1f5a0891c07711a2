# End-to-end: loom nearest, analogy, eval, convert and info on vector files
# written by gensim (tests/fixtures/vectors, made by make-fixtures.py),
# compared with the numbers gensim gives on the same files.
. "$LOOM_SRCDIR/tests/e2e/lib.sh"
V="$FIXTURES/vectors"

# expect_near NAME GOT WANT TOL: |GOT - WANT| <= TOL.
expect_near() {
    if awk -v a="$2" -v b="$3" -v t="$4" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= t) }'; then
        ok "$1"
    else
        not_ok "$1 (got $2, want $3 within $4)"
    fi
}

# ---- eval equals gensim's evaluate_word_analogies / evaluate_word_pairs ----
for r in 30000 2000; do
    expect_status "eval --restrict $r runs" 0 "$LOOM" eval "$V/sotu.bin" --restrict "$r" \
        --analogies "$V/questions-words-sample.txt" --similarity "$V/wordsim353.tsv"
    cp "$TMP/out" "$TMP/eval.$r"
    # "  name  acc  correct/seen  seen S of T" -> "name seen total"; accuracy apart.
    awk -v r="$r" '/^  / && $4 == "seen" { split($3, cs, "/"); print r, $1, cs[2], $7 }' \
        "$TMP/eval.$r" | grep -v -E ' (semantic|syntactic) ' >"$TMP/seen.loom"
    awk -v r="$r" '$1 == r && $2 != "similarity" { print $1, $2, $4, $5 }' \
        "$V/expected-eval.txt" >"$TMP/seen.gensim"
    expect_same "restrict $r: questions seen per section and in total as gensim's" \
        "$TMP/seen.loom" "$TMP/seen.gensim"
    got=$(awk '$1 == "total" { split($3, cs, "/"); printf "%.6f", 100 * cs[1] / cs[2] }' "$TMP/eval.$r")
    want=$(awk -v r="$r" '$1 == r && $2 == "total" { printf "%.6f", 100 * $3 / $4 }' "$V/expected-eval.txt")
    expect_near "restrict $r: total accuracy as gensim's (points)" "$got" "$want" 0.05
    got=$(awk '$1 == "spearman" { print $2 }' "$TMP/eval.$r")
    want=$(awk -v r="$r" '$1 == r && $2 == "similarity" { print $3 }' "$V/expected-eval.txt")
    expect_near "restrict $r: Spearman as gensim's" "$got" "$want" 0.002
    got=$(awk '$1 == "spearman" { print $7, $9 }' "$TMP/eval.$r")
    want=$(awk -v r="$r" '$1 == r && $2 == "similarity" { print $4, $5 }' "$V/expected-eval.txt")
    if [ "$got" = "$want" ]; then ok "restrict $r: pairs found as gensim's ($got)"; else
        not_ok "restrict $r: pairs found $got, gensim $want"; fi
done
expect_grep "eval prints semantic and syntactic" '^  syntactic ' "$TMP/eval.2000"

expect_status "eval --json" 0 "$LOOM" eval "$V/sotu.bin" --json \
    --analogies "$V/questions-words-sample.txt" --similarity "$V/wordsim353.tsv"
expect_grep "eval --json has the total" '"name": "total"' "$TMP/out"
expect_grep "eval --json has Spearman" '"spearman": 0\.4' "$TMP/out"
expect_status "eval with nothing to evaluate is a usage error" 2 "$LOOM" eval "$V/sotu.bin"
expect_status "eval of a missing question file fails" 1 "$LOOM" eval "$V/sotu.bin" --analogies "$TMP/none"

# ---- nearest equals gensim's most_similar (100 random words) ----
sed -n 's/^query: //p' "$V/expected-nearest.txt" >"$TMP/words"
expect_status "nearest answers 100 queries from stdin" 0 "$LOOM" nearest "$V/sotu.bin" <"$TMP/words"
sed 's/\t.*//' "$TMP/out" >"$TMP/nearest.loom"
expect_same "nearest top 10 equals gensim's most_similar for 100 words" \
    "$TMP/nearest.loom" "$V/expected-nearest.txt"

expect_status "nearest -k 3 on the command line" 0 "$LOOM" nearest "$V/sotu.bin" war peace -k 3
expect_lines "two headers and three neighbours each" 8 "$TMP/out"
expect_grep "a header per query" '^query: peace$' "$TMP/out"
expect_grep "word<TAB>similarity lines" '^[^	]+	0\.[0-9]{6}$' "$TMP/out"
expect_status "nearest with an unknown word exits 1" 1 "$LOOM" nearest "$V/sotu.bin" war zzzunknown peace
expect_grep "the unknown word is named on stderr" "unknown word 'zzzunknown'" "$TMP/err"
expect_grep "the other queries are still answered" '^query: peace$' "$TMP/out"
printf 'war peace\n' | "$LOOM" nearest "$V/sotu.bin" -k 1 >"$TMP/sum" 2>&1
expect_grep "several words on a line are summed into one query" '^query: war peace$' "$TMP/sum"
if grep -qE '^(war|peace)	' "$TMP/sum"; then not_ok "query words excluded"; else ok "query words excluded"; fi

# ---- analogy ----
expect_status "analogy A B C" 0 "$LOOM" analogy "$V/sotu.bin" man woman he -k 5
expect_grep "analogy header" '^man : woman :: he : \?$' "$TMP/out"
expect_lines "analogy prints k answers" 6 "$TMP/out"
if grep -qE '^(man|woman|he)	' "$TMP/out"; then not_ok "analogy excludes A B C"; else ok "analogy excludes A B C"; fi
printf 'man woman he\nbad line\n' | "$LOOM" analogy "$V/sotu.bin" --method mul -k 2 >"$TMP/out" 2>"$TMP/err"
st=$?
if [ "$st" -eq 1 ]; then ok "analogy stdin with a malformed line exits 1"; else not_ok "analogy stdin exit $st"; fi
expect_grep "analogy stdin answers the good line" '^man : woman :: he : \?$' "$TMP/out"
expect_grep "analogy names the malformed line" 'line 2: expected 3 words' "$TMP/err"
expect_status "analogy with two words is a usage error" 2 "$LOOM" analogy "$V/sotu.bin" man king

# ---- formats written by gensim, and conversions ----
"$LOOM" convert "$V/sotu.bin" "$TMP/first40.txt" --max-words 40 2>"$TMP/err"
for f in small-gensim.bin small-gensim.txt small-noheader.txt; do
    expect_status "convert reads gensim's $f" 0 "$LOOM" convert "$V/$f" "$TMP/$f.txt"
    expect_same "$f holds the first 40 rows of sotu.bin" "$TMP/$f.txt" "$TMP/first40.txt"
done
expect_same "loom's text is gensim's text, byte for byte" "$TMP/first40.txt" "$V/small-gensim.txt"
gzip -c "$V/small-noheader.txt" >"$TMP/noheader.txt.gz"
"$LOOM" convert - "$TMP/stdin.txt" <"$TMP/noheader.txt.gz"
expect_same "gzip text without a header, read from stdin" "$TMP/stdin.txt" "$TMP/first40.txt"
"$LOOM" convert "$V/sotu.bin" "$TMP/a.bin" && "$LOOM" convert "$TMP/a.bin" "$TMP/a.vec.gz" &&
    "$LOOM" convert "$TMP/a.vec.gz" "$TMP/b.bin"
expect_same "bin -> vec.gz -> bin round trip is exact" "$TMP/a.bin" "$TMP/b.bin"
expect_status "convert --normalize" 0 "$LOOM" convert "$V/sotu.bin" "$TMP/n.bin" --normalize
"$LOOM" info "$TMP/n.bin" >"$TMP/out"
expect_grep "info sees unit vectors after --normalize" 'unit-normalised' "$TMP/out"
expect_status "info on a gzip text file" 0 "$LOOM" info "$TMP/a.vec.gz"
expect_grep "info names the format" '^format: +word2vec text / fastText \.vec, gzip' "$TMP/out"
expect_grep "info counts the words" '^words: +2203$' "$TMP/out"
expect_grep "info gives the dimensions" '^dimensions: +24$' "$TMP/out"

# Variants that must be tolerated.
sed 's/$/\r/' "$V/small-gensim.txt" >"$TMP/crlf.txt"
sed 's/$/  /' "$V/small-gensim.txt" >"$TMP/trailing.txt"
head -c -1 "$V/small-gensim.txt" >"$TMP/nofinalnl.txt"
for f in crlf trailing nofinalnl; do
    expect_status "reads text with $f" 0 "$LOOM" convert "$TMP/$f.txt" "$TMP/$f.out.txt"
    expect_same "$f text reads as the original" "$TMP/$f.out.txt" "$V/small-gensim.txt"
done

# ---- bad files: a clear error naming the record, exit 1, no crash ----
bad() { # bad NAME FILE PATTERN
    expect_status "$1: exit 1" 1 "$LOOM" info "$2"
    expect_grep "$1: says what is wrong" "$3" "$TMP/err"
}
size=$(wc -c <"$V/small-gensim.bin")
for cut in 3 7 20 101 350 1000 2345 3000 "$((size - 60))" "$((size - 1))"; do
    head -c "$cut" "$V/small-gensim.bin" >"$TMP/cut.bin"
    bad "binary cut at byte $cut" "$TMP/cut.bin" 'record [0-9]+|header'
done
awk 'NR == 5 { NF = NF - 1 } { print }' "$V/small-gensim.txt" >"$TMP/short.txt"
bad "text with a short row" "$TMP/short.txt" 'record 4 .*short row: 23 values, expected 24'
sed '1s/^40 /41 /' "$V/small-gensim.txt" >"$TMP/lie.txt"
bad "header claiming more words" "$TMP/lie.txt" 'header says 41 words but the file ends after 40'
sed '1s/^40 /39 /' "$V/small-gensim.bin" >"$TMP/lie.bin"
bad "header claiming fewer words" "$TMP/lie.bin" 'header says 39 words but more follow \(record 40'
gzip -c "$V/small-gensim.txt" | head -c 3000 >"$TMP/cut.txt.gz"
bad "gzip cut short" "$TMP/cut.txt.gz" 'record [0-9]+'
: >"$TMP/empty.bin"
bad "empty file" "$TMP/empty.bin" 'empty\.bin: empty file'
printf '3 0\n' >"$TMP/dim0.txt"
bad "dimension 0" "$TMP/dim0.txt" 'dimension 0'
awk 'NR == 7 { $3 = "nan" } { print }' "$V/small-gensim.txt" >"$TMP/nan.txt"
bad "a NaN value" "$TMP/nan.txt" 'record 6 .*NaN or infinite'
awk 'NR == 1 { print "41 24"; next } { print } NR == 3 { print }' "$V/small-gensim.txt" >"$TMP/dup.txt"
bad "a repeated word" "$TMP/dup.txt" "record 3: duplicate word 'of' \(first at record 2\)"
expect_status "convert --drop-duplicates keeps the first" 0 "$LOOM" convert "$TMP/dup.txt" "$TMP/dedup.txt" --drop-duplicates
expect_same "deduplicated file is the original" "$TMP/dedup.txt" "$V/small-gensim.txt"
bad "not a vector file" "$LOOM_SRCDIR/README.md" 'not a vector file|record'

finish
