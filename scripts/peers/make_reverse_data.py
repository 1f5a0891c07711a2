#!/usr/bin/python3
"""Writes the reverse task of scripts/bench-seq2seq as TAB files.

    make_reverse_data.py OUTDIR [--train N] [--seed S]

OUTDIR/reverse.train.tsv: N pairs (default 200,000; seed S, default 1),
OUTDIR/reverse.heldout.tsv: the fixed held-out set of 1,000 pairs (always
seed 20251125, never in train). Each source is 5..15 tokens drawn uniformly
from 30 symbols (t0..t29), space-separated; the target is the same tokens
reversed. Both loom (--pretokenized) and the PyTorch peer read these files,
so they train on the same sequences in the same task.
"""
import argparse
import os
import random

SYMBOLS = [f"t{i}" for i in range(30)]
HELDOUT_SEED = 20251125
HELDOUT_N = 1000


def sequence(rng):
    return [rng.choice(SYMBOLS) for _ in range(rng.randint(5, 15))]


def write(path, seqs):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="ascii") as f:
        for s in seqs:
            f.write(" ".join(s) + "\t" + " ".join(reversed(s)) + "\n")
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--train", type=int, default=200000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    rng = random.Random(HELDOUT_SEED)
    held = [sequence(rng) for _ in range(HELDOUT_N)]
    seen = {tuple(s) for s in held}
    rng = random.Random(a.seed)
    train = []
    while len(train) < a.train:
        s = sequence(rng)
        if tuple(s) not in seen:
            train.append(s)
    write(os.path.join(a.outdir, "reverse.heldout.tsv"), held)
    write(os.path.join(a.outdir, "reverse.train.tsv"), train)


if __name__ == "__main__":
    main()
