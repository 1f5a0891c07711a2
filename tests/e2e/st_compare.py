#!/usr/bin/env python3
"""Compares the float32 tensors of two safetensors files (loom's model and
checkpoint layout): prints the largest relative difference over all tensors,
|a - b| / max(|a|, 1) element by element, and exits 1 when it exceeds TOL or
the files hold different tensors.

usage: st_compare.py A B TOL"""
import json
import struct
import sys
from array import array


def tensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + n])
    data = blob[8 + n :]
    out = {}
    for name, t in header.items():
        if name == "__metadata__" or t["dtype"] != "F32":
            continue
        a, b = t["data_offsets"]
        out[name] = array("f", data[a:b])
    return out


def main(argv):
    if len(argv) != 3:
        sys.exit(__doc__)
    x, y, tol = tensors(argv[0]), tensors(argv[1]), float(argv[2])
    if sorted(x) != sorted(y):
        print(f"different tensors: {sorted(set(x) ^ set(y))}")
        return 1
    worst, where = 0.0, ""
    for name in x:
        for a, b in zip(x[name], y[name]):
            d = abs(a - b) / max(abs(a), 1.0)
            if d > worst or d != d:
                worst, where = d, name
    print(f"{worst:.3g} {where}")
    return 0 if worst <= tol else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
