# End-to-end: loom shortlist (a lexical table from pairs) and translate
# --shortlist on the reverse fixture: the table built from the training
# pairs decodes as exact mode; a narrower one never writes other words;
# bad tables and options are refused with one message and the right exit.
. "$LOOM_SRCDIR/tests/e2e/lib.sh"
M="$FIXTURES/seq/reverse.loom"
PAIRS="$FIXTURES/seq/reverse-train.tsv"

for i in $(seq 10); do printf 'a b c\nd e f g h\nh\n\nb a d\n'; done >"$TMP/in.txt"

expect_status "loom shortlist builds a table" 0 "$LOOM" shortlist "$PAIRS" --model "$M" \
    -o "$TMP/t.txt" --best 2
expect_grep "... each word's own translation first" '^a	a [a-h]$' "$TMP/t.txt"
expect_grep "... and says what it wrote" 'loom shortlist: 8 source words' "$TMP/err"

"$LOOM" shortlist "$PAIRS" --model "$M" -o "$TMP/t3.txt" --best 3 -q
expect_same "... the committed fixture is that table at --best 3" "$TMP/t3.txt" "$FIXTURES/seq/reverse.shortlist"

"$LOOM" translate "$M" "$TMP/in.txt" --beam 3 --nbest 2 -q >"$TMP/exact.out"
expect_status "translate --shortlist (the built table, only the specials on top)" 0 \
    "$LOOM" translate "$M" "$TMP/in.txt" --beam 3 --nbest 2 -q --shortlist "$TMP/t.txt" \
    --shortlist-top 4
expect_same "... decodes the reverse task as exact mode" "$TMP/out" "$TMP/exact.out"

printf 'a\tb\nb\tb\nc\tb\nd\tb\ne\tb\nf\tb\ng\tb\nh\tb\n' >"$TMP/b.txt"
expect_status "a table that offers only b" 0 "$LOOM" translate "$M" "$TMP/in.txt" -q \
    --shortlist "$TMP/b.txt" --shortlist-top 4 --beam 4
if grep -q '[ac-h]' "$TMP/out"; then
    not_ok "... never writes another word"
else
    ok "... never writes another word"
fi

printf 'a\tb\nb c\n' >"$TMP/bad.txt"
expect_status "a table line without a TAB: exit 1" 1 "$LOOM" translate "$M" "$TMP/in.txt" \
    --shortlist "$TMP/bad.txt"
expect_grep "... named with its line" 'bad\.txt:2: expected' "$TMP/err"
expect_status "a missing table: exit 1" 1 "$LOOM" translate "$M" "$TMP/in.txt" \
    --shortlist "$TMP/none.txt"
expect_grep "... named" 'none\.txt' "$TMP/err"
expect_status "--shortlist-top below the specials: exit 2" 2 "$LOOM" translate "$M" \
    --shortlist "$TMP/t.txt" --shortlist-top 3
expect_status "loom shortlist without --model: exit 2" 2 "$LOOM" shortlist "$PAIRS" -o "$TMP/x.txt"
expect_status "loom shortlist without -o: exit 2" 2 "$LOOM" shortlist "$PAIRS" --model "$M"
expect_status "loom shortlist over its own input: exit 1" 1 "$LOOM" shortlist "$PAIRS" \
    --model "$M" -o "$PAIRS"
printf 'a b\n' >"$TMP/notab.tsv"
expect_status "loom shortlist of bad pairs: exit 1" 1 "$LOOM" shortlist "$TMP/notab.tsv" \
    --model "$M" -o "$TMP/x.txt"
expect_grep "... named with its line" 'notab\.tsv:1' "$TMP/err"

finish
