# End-to-end: loom translate's ensembles (--ensemble), on the reverse
# fixture and the same model trained from another seed.
. "$LOOM_SRCDIR/tests/e2e/lib.sh"
M1="$FIXTURES/seq/reverse.loom"
M2="$FIXTURES/translate/reverse-seed2.loom"

for i in $(seq 20); do printf 'a b c\nd e f g h\nh\n\nb a d\n'; done >"$TMP/in.txt"

# an ensemble of a model with itself is the model, scores included
"$LOOM" translate "$M1" "$TMP/in.txt" --beam 3 --nbest 2 --align soft -q >"$TMP/single.out"
expect_status "an ensemble of a model with itself" 0 "$LOOM" translate "$M1" "$TMP/in.txt" \
    --ensemble "$M1" --beam 3 --nbest 2 --align soft -q
expect_same "... translates as the model alone" "$TMP/out" "$TMP/single.out"

# two models trained from different seeds: the ensemble reverses too, and
# its scores are neither member's
expect_status "an ensemble of two models" 0 "$LOOM" translate "$M1" "$TMP/in.txt" --ensemble "$M2" \
    --beam 3 --nbest 2 -q
cp "$TMP/out" "$TMP/ens.out"
expect_grep "the ensemble reverses" '^1 \|\|\| c b a \|\|\| ' "$TMP/ens.out"
"$LOOM" translate "$M1" "$TMP/in.txt" --beam 3 --nbest 2 -q >"$TMP/m1.out"
"$LOOM" translate "$M2" "$TMP/in.txt" --beam 3 --nbest 2 -q >"$TMP/m2.out"
if ! cmp -s "$TMP/ens.out" "$TMP/m1.out" && ! cmp -s "$TMP/ens.out" "$TMP/m2.out"; then
    ok "the ensemble's scores are its own"
else
    not_ok "the ensemble's scores are its own"
fi
expect_status "the ensemble batched on threads" 0 "$LOOM" translate "$M1" "$TMP/in.txt" \
    --ensemble "$M2" --beam 3 --nbest 2 -q --batch 3 --threads 2
expect_same "... gives the same" "$TMP/out" "$TMP/ens.out"
expect_status "three members, hard alignments" 0 "$LOOM" translate "$M1" "$TMP/in.txt" \
    --ensemble "$M2,$M1" --align hard -q
expect_grep "... align each output word" '^c b a \|\|\| [0-9]-0 [0-9]-1 [0-9]-2$' "$TMP/out"

# a model with another target vocabulary: one clear error naming it, exit 1
printf 'x y\ty x\nz y\ty z\n' >"$TMP/other.tsv"
"$LOOM" seq2seq "$TMP/other.tsv" -o "$TMP/other.loom" --emb 4 --hidden 4 --max-steps 1 --quiet
expect_status "an ensemble member with another vocabulary: exit 1" 1 "$LOOM" translate "$M1" \
    "$TMP/in.txt" --ensemble "$TMP/other.loom"
expect_grep "... named, with the reason" 'other\.loom: its target vocabulary differs' "$TMP/err"
expect_status "a missing ensemble member: exit 1" 1 "$LOOM" translate "$M1" "$TMP/in.txt" \
    --ensemble "$M2,$TMP/nothing.loom"
expect_grep "... named" 'nothing\.loom' "$TMP/err"
expect_status "an empty name in --ensemble: exit 2" 2 "$LOOM" translate "$M1" --ensemble "$M2,"
expect_grep "... explained" 'ensemble' "$TMP/err"

finish
