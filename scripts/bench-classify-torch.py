#!/usr/bin/python3
"""The PyTorch peer of `loom classify train --arch cnn` for
scripts/bench-classify: the same Kim (2014) CNN at the same settings, as a
PyTorch user writes it.

    bench-classify-torch.py TRAIN VALID TEST [--threads N] [--epochs N]
                            [--patience N] [--seed S]

Each file holds `label<TAB>tokens` lines, the tokens already split by
`loom tokenize` (so both programs see the same words). Like loom: every
line ends with the word </s>; the vocabulary is every training word;
words unknown to it are left out; embeddings (D = 100) start N(0, 1)
(nn.Embedding's default), a padding row is zero; Conv1d of widths 3, 4, 5
with 100 filters each over each batch padded to its longest sentence (at
least 5 steps), positions past a sentence's windows masked to -inf,
max-pool over time, ReLU, dropout 0.5, Linear, mean cross-entropy; Adam
(lr 0.001), batches of 50 drawn from a new shuffle each epoch, 10 epochs;
after each epoch the validation P@1 is measured and the best epoch's
weights are kept, stopping after --patience (3) epochs without a better one.

Prints to stdout, one `key value` per line: threads, epochs, best_epoch,
test_p1, train_cpu_s (process CPU seconds of the training loop, validation
included: user + sys of every thread), train_wall_s, and per-epoch CPU.
"""
import argparse
import copy
import os
import resource
import sys
import time

import torch
import torch.nn.functional as F


def read(path, words, labels, grow):
    """(list of id lists, list of label ids); adds words/labels when grow."""
    xs, ys = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            label, _, text = line.partition("\t")
            ids = []
            for w in text.split() + ["</s>"]:
                if w not in words and grow:
                    words[w] = len(words)
                if w in words:
                    ids.append(words[w])
            if label not in labels:
                if not grow:
                    sys.exit("%s: unknown label %s" % (path, label))
                labels[label] = len(labels)
            xs.append(ids)
            ys.append(labels[label])
    return xs, ys


class KimCNN(torch.nn.Module):
    def __init__(self, vocab, dim, widths, filters, labels, dropout):
        super().__init__()
        self.pad = vocab
        self.widths = widths
        self.emb = torch.nn.Embedding(vocab + 1, dim, padding_idx=vocab)
        self.convs = torch.nn.ModuleList(torch.nn.Conv1d(dim, filters, w) for w in widths)
        self.drop = torch.nn.Dropout(dropout)
        self.out = torch.nn.Linear(filters * len(widths), labels)

    def forward(self, ids, lens):
        x = self.emb(ids).transpose(1, 2)  # (B, D, T)
        feats = []
        for w, conv in zip(self.widths, self.convs):
            y = conv(x)  # (B, F, T - w + 1)
            lens_out = torch.clamp(lens, min=w) - w + 1
            steps = torch.arange(y.shape[2]).unsqueeze(0)
            valid = (steps < lens_out.unsqueeze(1)).unsqueeze(1)
            feats.append(y.masked_fill(~valid, float("-inf")).max(dim=2).values)
        h = torch.relu(torch.cat(feats, dim=1))  # pool before the ReLU, as loom
        return self.out(self.drop(h))


def batch(xs, idx, pad, tmin):
    lens = [len(xs[i]) for i in idx]
    T = max(max(lens), tmin)
    ids = torch.full((len(idx), T), pad, dtype=torch.long)
    for r, i in enumerate(idx):
        ids[r, : lens[r]] = torch.tensor(xs[i], dtype=torch.long)
    return ids, torch.tensor(lens)


def p_at_1(model, xs, ys, tmin, bs=500):
    model.eval()
    right = 0
    with torch.no_grad():
        for lo in range(0, len(xs), bs):
            idx = list(range(lo, min(lo + bs, len(xs))))
            ids, lens = batch(xs, idx, model.pad, tmin)
            pred = model(ids, lens).argmax(dim=1)
            right += sum(int(pred[r]) == ys[i] for r, i in enumerate(idx))
    model.train()
    return right / len(xs)


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("train")
    ap.add_argument("valid")
    ap.add_argument("test")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--patience", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--batch", type=int, default=50)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    words, labels = {}, {}
    xs, ys = read(a.train, words, labels, True)
    vx, vy = read(a.valid, words, labels, False)
    tx, ty = read(a.test, words, labels, False)
    widths = [3, 4, 5]
    tmin = max(widths)
    model = KimCNN(len(words), 100, widths, 100, len(labels), 0.5)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    targets = torch.tensor(ys)
    best, best_epoch, best_state, since = -1.0, 0, None, 0
    c0, w0 = cpu(), time.time()
    epoch_cpu = []
    for epoch in range(a.epochs):
        ce = cpu()
        order = torch.randperm(len(xs)).tolist()
        for lo in range(0, len(order), a.batch):
            idx = order[lo : lo + a.batch]
            ids, lens = batch(xs, idx, model.pad, tmin)
            loss = F.cross_entropy(model(ids, lens), targets[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        score = p_at_1(model, vx, vy, tmin)
        epoch_cpu.append(cpu() - ce)
        print("epoch %d: validation P@1 %.4f, %.1f CPU s" % (epoch + 1, score, epoch_cpu[-1]),
              file=sys.stderr)
        if score > best:
            best, best_epoch, since = score, epoch + 1, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            since += 1
            if a.patience > 0 and since >= a.patience:
                break
    train_cpu, train_wall = cpu() - c0, time.time() - w0
    model.load_state_dict(best_state)
    print("threads", a.threads)
    print("torch", torch.__version__)
    print("epochs", len(epoch_cpu))
    print("best_epoch", best_epoch)
    print("test_p1 %.4f" % p_at_1(model, tx, ty, tmin))
    print("train_cpu_s %.2f" % train_cpu)
    print("train_wall_s %.2f" % train_wall)
    print("epoch_cpu_s", " ".join("%.2f" % c for c in epoch_cpu))


if __name__ == "__main__":
    main()
