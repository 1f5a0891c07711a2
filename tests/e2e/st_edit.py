#!/usr/bin/env python3
"""Rewrites a safetensors file (loom's model and checkpoint layout) to build
the hostile files that the end-to-end tests feed to loom.

usage: st_edit.py IN OUT [EDIT...]
  KEY=VALUE          set __metadata__[KEY] to VALUE
  reverse:KEY        reverse the order of the lines of __metadata__[KEY]
  fill:TENSOR:X      set every element of a float32 tensor to X (nan, inf, 0.5)
  bytes:TENSOR:N     set every byte of a U8 tensor (an embedded file) to N (0-255)

Only the header and the edited tensors change; offsets stay valid, so the
file is well-formed safetensors and only its content is wrong."""
import json
import struct
import sys


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    src, dst, edits = argv[0], argv[1], argv[2:]
    with open(src, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + n])
    data = bytearray(blob[8 + n :])
    meta = header.setdefault("__metadata__", {})
    for e in edits:
        if e.startswith("reverse:"):
            key = e[len("reverse:") :]
            lines = [line for line in meta[key].split("\n") if line]
            meta[key] = "".join(line + "\n" for line in reversed(lines))
        elif e.startswith("fill:"):
            _, name, value = e.split(":", 2)
            t = header[name]
            assert t["dtype"] == "F32", name + " is not float32"
            a, b = t["data_offsets"]
            data[a:b] = struct.pack("<f", float(value)) * ((b - a) // 4)
        elif e.startswith("bytes:"):
            _, name, value = e.split(":", 2)
            t = header[name]
            assert t["dtype"] == "U8", name + " is not U8"
            a, b = t["data_offsets"]
            data[a:b] = bytes([int(value)]) * (b - a)
        else:
            key, value = e.split("=", 1)
            meta[key] = value
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(dst, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + bytes(data))


if __name__ == "__main__":
    main(sys.argv[1:])
