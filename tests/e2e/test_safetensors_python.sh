# End-to-end: a parameter set saved by loom is read back by an independent
# reader (Python with only json and struct) that finds the same tensors,
# bit for bit, and the metadata.
. "$LOOM_SRCDIR/tests/e2e/lib.sh"
HELPER="$LOOM_BUILDDIR/tests/helper_params_save"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

expect_status "helper saves a parameter set" 0 "$HELPER" "$TMP/p.loom"
cp "$TMP/out" "$TMP/expected"

cat >"$TMP/read.py" <<'PYEOF'
import json, struct, sys
path, expected = sys.argv[1], sys.argv[2]
raw = open(path, "rb").read()
(n,) = struct.unpack("<Q", raw[:8])
assert n % 8 == 0, "header not padded to 8 bytes"
header = json.loads(raw[8:8 + n].decode("utf-8"))
data = raw[8 + n:]
meta = header.pop("__metadata__")
assert meta == {"format": "loom", "config": "{\"dim\": 4}"}, meta
ends = []
for line in open(expected):
    fields = line.split()
    name, shape = fields[0], [int(d) for d in fields[1].split(",")]
    t = header.pop(name)
    assert t["dtype"] == "F32", t
    assert t["shape"] == shape, (name, t["shape"], shape)
    b, e = t["data_offsets"]
    count = 1
    for d in shape:
        count *= d
    assert e - b == 4 * count
    bits = struct.unpack("<%dI" % count, data[b:e])
    assert ["%08x" % x for x in bits] == fields[2:], name
    ends.append((b, e))
assert not header, "unexpected tensors: %s" % list(header)
ends.sort()
assert ends[0][0] == 0 and ends[-1][1] == len(data)
assert all(a[1] == b[0] for a, b in zip(ends, ends[1:]))
print("ok %d tensors" % len(ends))
PYEOF
expect_status "python json+struct reads the file" 0 "$PY" "$TMP/read.py" "$TMP/p.loom" "$TMP/expected"
expect_grep "python finds all four tensors with the same bits" "^ok 4 tensors" "$TMP/out"
finish
