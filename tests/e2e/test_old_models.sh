# End-to-end: model files written by an older loom (the tag wave2-base, by
# tests/fixtures/seq/make-old-model-fixtures.sh) still load, and today's
# loom translates with them to the bytes that loom printed: greedy, beam,
# hard alignments. The n-best lists must hold the same hypotheses in the
# same order; their scores (printed to 4 decimals) may move by one unit in
# the last place when the arithmetic is reordered, not more.
. "$LOOM_SRCDIR/tests/e2e/lib.sh"
SEQ="$FIXTURES/seq"
IN="$SEQ/old-model-input.txt"

for cell in gru lstm; do
    m="$SEQ/old-$cell.loom"
    expect_status "old $cell model: info reads it" 0 "$LOOM" info "$m"
    expect_grep "old $cell model: info names the cell" "^model: $cell encoder" "$TMP/out"
    expect_status "old $cell model: greedy" 0 "$LOOM" translate "$m" "$IN" --quiet
    expect_same "old $cell model: greedy output unchanged" "$TMP/out" "$SEQ/old-$cell.greedy"
    expect_status "old $cell model: beam 5" 0 "$LOOM" translate "$m" "$IN" --quiet --beam 5
    expect_same "old $cell model: beam output unchanged" "$TMP/out" "$SEQ/old-$cell.beam5"
    expect_status "old $cell model: hard alignments" 0 "$LOOM" translate "$m" "$IN" --quiet --align hard
    expect_same "old $cell model: alignments unchanged" "$TMP/out" "$SEQ/old-$cell.align"
    expect_status "old $cell model: 5-best" 0 "$LOOM" translate "$m" "$IN" --quiet --beam 5 --nbest 5
    cut -d'|' -f1-4 "$TMP/out" >"$TMP/hyp.got"
    cut -d'|' -f1-4 "$SEQ/old-$cell.nbest" >"$TMP/hyp.want"
    expect_same "old $cell model: 5-best hypotheses unchanged" "$TMP/hyp.got" "$TMP/hyp.want"
    if paste -d'\n' "$TMP/out" "$SEQ/old-$cell.nbest" | awk -F' [|][|][|] ' '
        NR % 2 == 1 { got = $3; next }
        { d = got - $3; if (d < 0) d = -d; if (d > 0.00011) { print "line " NR / 2 ": " got " vs " $3; bad = 1 } }
        END { exit bad }' >"$TMP/diff"; then
        ok "old $cell model: 5-best scores within 1e-4"
    else
        not_ok "old $cell model: 5-best scores within 1e-4"; head -5 "$TMP/diff"
    fi
done
finish
