# Shared helpers for loom's end-to-end tests (sourced, not run).
# LOOM, LOOM_SRCDIR and LOOM_BUILDDIR come from `make check`.
set -u
: "${LOOM:?run through make check}"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/loom-e2e.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
FIXTURES="$LOOM_SRCDIR/tests/fixtures"
passed=0
failed=0

ok() { passed=$((passed + 1)); echo "ok - $1"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $1"; }

# expect_status NAME STATUS CMD...: runs CMD, captures stdout/stderr in
# $TMP/out and $TMP/err, checks the exit status.
expect_status() {
    local name=$1 want=$2
    shift 2
    "$@" >"$TMP/out" 2>"$TMP/err"
    local got=$?
    if [ "$got" -eq "$want" ]; then ok "$name"; else
        not_ok "$name (exit $got, want $want)"; sed 's/^/  stderr: /' "$TMP/err" | head -5
    fi
}

# expect_grep NAME PATTERN FILE: FILE contains a line matching PATTERN.
expect_grep() {
    if grep -qE -- "$2" "$3"; then ok "$1"; else
        not_ok "$1 (no '$2' in $(basename "$3"))"; head -5 "$3" | sed 's/^/  got: /'
    fi
}

# expect_lines NAME N FILE: FILE has exactly N lines.
expect_lines() {
    local n
    n=$(wc -l <"$3")
    if [ "$n" -eq "$2" ]; then ok "$1"; else not_ok "$1 ($n lines, want $2)"; fi
}

# expect_same NAME FILE1 FILE2: byte-identical files.
expect_same() {
    if cmp -s "$2" "$3"; then ok "$1"; else not_ok "$1 ($2 and $3 differ)"; diff "$2" "$3" | head -10; fi
}

# wait_until SECONDS CMD...: runs CMD every 0.1 s until it succeeds (0) or
# SECONDS have passed (1). For what a test waits on, instead of a fixed
# sleep: the ceiling is generous, since the machine may be loaded (CI runs
# the suite two at a time, and again under ASan).
wait_until() {
    local deadline=$(($(date +%s) + $1))
    shift
    until "$@"; do
        [ "$(date +%s)" -lt "$deadline" ] || return 1
        sleep 0.1
    done
}

# serve_port PID OUT: waits (up to 120 s) for the `loom serve` of PID to
# print where it listens into file OUT, and sets `port` to that port (empty
# when the server ended first or never said).
serve_port() {
    _serve_pid=$1 _serve_out=$2
    port=""
    wait_until 120 _serve_started
}
_serve_started() {
    port=$(sed -n 's/^loom serve: listening on http:\/\/127.0.0.1:\([0-9]*\)\/$/\1/p' "$_serve_out")
    [ -n "$port" ] || ! kill -0 "$_serve_pid" 2>/dev/null
}

finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}
