# End-to-end: the `loom` command's dispatch, help and exit statuses.
. "$LOOM_SRCDIR/tests/e2e/lib.sh"

expect_status "--version exits 0" 0 "$LOOM" --version
expect_grep "--version names loom" '^loom [0-9]+\.[0-9]+' "$TMP/out"

# Open MPI, libmicrohttpd and SentencePiece (with the C++ run-time) are
# opened by the commands that use them, not linked (src/base/dl.h): linked,
# they cost every command ~6 MB of memory.
if command -v objdump >/dev/null 2>&1; then
    objdump -p "$LOOM" | sed -n 's/^ *NEEDED *//p' >"$TMP/needed"
    if grep -E 'libmpi|libmicrohttpd|libsentencepiece|libstdc\+\+' "$TMP/needed" >"$TMP/linked"; then
        not_ok "loom links none of the libraries it opens on demand ($(tr '\n' ' ' <"$TMP/linked"))"
    else
        ok "loom links none of the libraries it opens on demand"
    fi
fi

expect_status "help lists commands" 0 "$LOOM" help
expect_grep "help mentions help" '^  help ' "$TMP/out"

expect_status "no command is a usage error" 2 "$LOOM"

expect_status "unknown command exits 2" 2 "$LOOM" nosuchcommand
expect_lines "unknown command prints one line" 1 "$TMP/err"
expect_grep "unknown command is named" "unknown command 'nosuchcommand'" "$TMP/err"

expect_status "help of an unknown command exits 2" 2 "$LOOM" help nosuchcommand

# Every command answers --help with its usage and an example.
"$LOOM" help | sed -n 's/^  \([a-z0-9]*\) .*/\1/p' >"$TMP/cmds"
while read -r cmd; do
    expect_status "$cmd --help exits 0" 0 "$LOOM" "$cmd" --help
    expect_grep "$cmd --help shows usage" "^usage: loom $cmd" "$TMP/out"
    expect_grep "$cmd --help shows an example" "^example" "$TMP/out"
    "$LOOM" help "$cmd" >"$TMP/help2"
    expect_same "loom help $cmd equals $cmd --help" "$TMP/out" "$TMP/help2"
    if [ "$cmd" != help ]; then
        expect_status "$cmd --nosuchflag exits 2" 2 "$LOOM" "$cmd" --nosuchflag
        expect_lines "$cmd --nosuchflag prints one line" 1 "$TMP/err"
        expect_grep "$cmd --nosuchflag names the flag" "nosuchflag" "$TMP/err"
    fi
done <"$TMP/cmds"

finish
