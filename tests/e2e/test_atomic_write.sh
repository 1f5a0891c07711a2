# End-to-end: a writer killed half-way leaves no file under the final name,
# and the next successful run leaves no stray temporary behind.
. "$LOOM_SRCDIR/tests/e2e/lib.sh"
WRITER="$LOOM_BUILDDIR/tests/helper_slow_writer"
out="$TMP/big.out"

# 1 MB every 0.2 s: the writer cannot finish (200 s) before the wait below
# gives up, however loaded the machine
"$WRITER" "$out" 1000 200 &
pid=$!
# Wait until the temporary holds some data, then kill without warning.
has_data() { [ -n "$(find "$TMP" -name '.big.out.tmp-*' -size +1M 2>/dev/null)" ]; }
wait_until 120 has_data || not_ok "the writer's temporary holds data within 120 s"
kill -9 "$pid"
wait "$pid" 2>/dev/null
if [ ! -e "$out" ]; then ok "killed writer left no final file"; else not_ok "killed writer left $out"; fi
n=$(find "$TMP" -name '.big.out.tmp-*' | wc -l)
if [ "$n" -eq 1 ]; then ok "killed writer's temporary is the only trace"; else not_ok "expected 1 temporary, found $n"; fi

expect_status "the next run succeeds" 0 "$WRITER" "$out" 3 0
size=$(stat -c %s "$out")
if [ "$size" -eq $((3 * 1048576)) ]; then ok "final file complete"; else not_ok "final file has $size bytes"; fi
n=$(find "$TMP" -name '.big.out.tmp-*' | wc -l)
if [ "$n" -eq 0 ]; then ok "no stray temporary after the next run"; else not_ok "$n stray temporaries"; fi

# gzip by name: the output is a valid gzip stream holding the same bytes.
expect_status "gzip output by name" 0 "$WRITER" "$TMP/small.gz" 2 0
if gzip -t "$TMP/small.gz" && [ "$(gzip -dc "$TMP/small.gz" | wc -c)" -eq $((2 * 1048576)) ]; then
    ok "gzip output decompresses to the data"
else not_ok "gzip output invalid"; fi

# An unwritable destination fails before writing, with the path named.
expect_status "missing directory is an error" 1 "$WRITER" "$TMP/no/such/dir/x" 1 0
expect_grep "error names the path" "no/such/dir/x" "$TMP/err"

finish
