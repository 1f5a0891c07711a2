# End-to-end: every example in `loom help CMD` works as printed from the
# repository root (run here in a scratch directory that links corpus/ and
# tests/, with the built loom first on the PATH).
. "$LOOM_SRCDIR/tests/e2e/lib.sh"
ln -s "$LOOM_SRCDIR/corpus" "$TMP/corpus"
ln -s "$LOOM_SRCDIR/tests" "$TMP/tests"
PATH="$(dirname "$LOOM"):$PATH"
export PATH

"$LOOM" help | sed -n 's/^  \([a-z0-9]*\) .*/\1/p' >"$TMP/cmds"
while read -r cmd; do
    "$LOOM" help "$cmd" | sed -n '/^example/,$p' | sed -n 's/^  \(\(loom\|echo\|printf\) .*\)$/\1/p' >"$TMP/examples"
    n=$(wc -l <"$TMP/examples")
    if [ "$n" -gt 0 ]; then ok "$cmd has $n runnable examples"; else not_ok "$cmd help shows no runnable example"; fi
    while IFS= read -r example; do
        (cd "$TMP" && sh -c "$example") >"$TMP/out" 2>"$TMP/err" </dev/null
        status=$?
        if [ "$status" -eq 0 ]; then
            ok "example works: $example"
        else
            not_ok "example fails (exit $status): $example"
            sed 's/^/  stderr: /' "$TMP/err" | head -3
        fi
    done <"$TMP/examples"
done <"$TMP/cmds"

finish
