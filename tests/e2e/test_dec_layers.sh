# End-to-end: stacked decoder layers (loom seq2seq --dec-layers N) through
# every command that reads a model: training (with dropout between the
# layers) and resuming, translate (greedy, beam, batched on threads,
# ensembles), info, average, and export's refusal by option name.
. "$LOOM_SRCDIR/tests/e2e/lib.sh"
SEQ="$FIXTURES/seq"
M="$TMP/deep.loom"

expect_status "--dec-layers 2 trains" 0 "$LOOM" seq2seq "$SEQ/reverse-train.tsv" \
    --valid "$SEQ/reverse-valid.tsv" -o "$M" --dec-layers 2 --dropout 0.1 --cell lstm --emb 16 \
    --hidden 32 --epochs 6 --batch 32 --lr 0.01 --seed 1 --keep-last 2 -q
expect_status "info" 0 "$LOOM" info "$M"
expect_grep "info shows the decoder's layers" 'lstm decoder \(2 stacked layers\)' "$TMP/out"
expect_grep "the upper layer's weights are in the file" '"decoder.weight_ih_l1"' "$M"

cut -f1 "$SEQ/reverse-valid.tsv" | head -40 >"$TMP/in.txt"
cut -f2 "$SEQ/reverse-valid.tsv" | head -40 >"$TMP/want.txt"
"$LOOM" translate "$M" "$TMP/in.txt" -q >"$TMP/greedy.out" || not_ok "greedy decoding"
right=$(paste -d'\t' "$TMP/greedy.out" "$TMP/want.txt" | awk -F'\t' '$1 == $2' | wc -l)
[ "$right" -ge 36 ] && ok "the stacked decoder learnt to reverse ($right of 40)" ||
    not_ok "the stacked decoder learnt to reverse ($right of 40)"
"$LOOM" translate "$M" "$TMP/in.txt" -q --beam 4 >"$TMP/beam.out" || not_ok "beam decoding"
right=$(paste -d'\t' "$TMP/beam.out" "$TMP/want.txt" | awk -F'\t' '$1 == $2' | wc -l)
[ "$right" -ge 36 ] && ok "beam 4 reverses ($right of 40)" || not_ok "beam 4 reverses ($right of 40)"
"$LOOM" translate "$M" "$TMP/in.txt" -q --batch 7 --threads 2 >"$TMP/batch.out"
expect_same "batched on threads = one batch" "$TMP/greedy.out" "$TMP/batch.out"
"$LOOM" translate "$M" "$TMP/in.txt" -q --beam 3 --nbest 2 >"$TMP/one.out"
"$LOOM" translate "$M" "$TMP/in.txt" -q --beam 3 --nbest 2 --ensemble "$M" >"$TMP/ens.out"
expect_same "an ensemble of the model with itself is the model" "$TMP/one.out" "$TMP/ens.out"
expect_status "an ensemble with a one-layer decoder" 0 "$LOOM" translate "$M" "$TMP/in.txt" \
    --ensemble "$SEQ/reverse.loom" --beam 3 -q
expect_status "averaging two of its validations' models" 0 "$LOOM" average "$M.1" "$M.2" \
    -o "$TMP/avg.loom"
expect_status "the average translates" 0 "$LOOM" translate "$TMP/avg.loom" "$TMP/in.txt" -q

# resuming keeps the layers; a one-layer checkpoint cannot turn into two
expect_status "a resumed run" 0 "$LOOM" seq2seq "$SEQ/reverse-train.tsv" -o "$TMP/r.loom" \
    --resume "$M.ckpt" --epochs 7 -q
"$LOOM" info "$TMP/r.loom" >"$TMP/info2" 2>&1
expect_grep "keeps two decoder layers" '2 stacked layers' "$TMP/info2"

expect_status "--dec-layers 0 is a usage error" 2 "$LOOM" seq2seq "$SEQ/reverse-train.tsv" \
    -o "$TMP/x.loom" --dec-layers 0
expect_grep "... naming the option" 'dec-layers' "$TMP/err"

# export: refused by option name, one line, exit 1, nothing written
expect_status "export refuses --dec-layers 2" 1 "$LOOM" export "$M" -o "$TMP/web"
expect_grep "naming the option dec-layers" 'deep.loom: option dec-layers=2 cannot be exported' \
    "$TMP/err"
expect_lines "in one line" 1 "$TMP/err"
[ ! -e "$TMP/web" ] && ok "no directory written" || not_ok "a directory was written"
finish
