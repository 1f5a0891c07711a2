# The README's "Using libloom from C" program (extracted from README.md by
# the build into tests/readme_example.c, linked with the built library)
# trains on the reverse task and prints what the README says it prints.
. "$LOOM_SRCDIR/tests/e2e/lib.sh"
EXAMPLE="$LOOM_BUILDDIR/tests/readme_example"

expect_status "the README's example runs as printed" 0 \
    "$EXAMPLE" "$FIXTURES/seq/reverse-train.tsv" "$TMP/reverse.loom" "a b c d" "e f g"
printf 'd c b a\ng f e\n' >"$TMP/want"
expect_same "it prints the README's output" "$TMP/want" "$TMP/out"
# the output the README shows is the one it prints
awk '/^\$ \.\/example /{p=1; next} p && /^```/{exit} p' "$LOOM_SRCDIR/README.md" >"$TMP/readme-out"
expect_same "the README shows that output" "$TMP/want" "$TMP/readme-out"

expect_status "no sentence: exit 2" 2 "$EXAMPLE" "$FIXTURES/seq/reverse-train.tsv" "$TMP/r.loom"
expect_status "missing pairs: exit 1" 1 "$EXAMPLE" "$TMP/none.tsv" "$TMP/r.loom" "a"
expect_grep "names the file" 'example: .*none\.tsv' "$TMP/err"

finish
