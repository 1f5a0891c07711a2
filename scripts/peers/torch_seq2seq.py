#!/usr/bin/python3
"""The PyTorch peer of `loom seq2seq` / `loom translate` for the benchmarks.

    torch_seq2seq.py reverse TRAIN HELDOUT [--seed S] [--threads N] ...
    torch_seq2seq.py translate TRAIN TEST OUT_HYP [--minutes M] ...

The model is issue 7's benchmark model and nothing more: embeddings (64) ->
bidirectional GRU encoder (128 per direction) -> tanh bridge from the two
final states to the decoder's initial state -> Bahdanau attention (dim 128,
query s_{t-1}) -> GRU decoder fed [emb(y_prev); c_t] -> logits = W [s_t; c_t;
emb(y_prev)]. Adam, global-norm clipping, batch 64, no dropout, teacher
forcing, batches of similar length. Inputs are TAB files of space-separated
tokens (the same files loom reads with --pretokenized).

`reverse` trains until the held-out exact match reaches --target (checked
every --eval-every steps; evaluation time is not counted as training time),
then measures greedy latency at batch 1, beam-5 latency at batch 1, batched
greedy sentences/s and the peak RSS, and prints one `key value` per line.
`translate` trains for a wall-clock budget and writes the test set's
translations (beam search), one line each.
"""
import argparse
import os
import random
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

PAD, UNK, BOS, EOS = 0, 1, 2, 3
SPECIALS = ["<pad>", "<unk>", "<s>", "</s>"]


def read_pairs(path, limit=0):
    """Yields (source words, target words) of a TAB file, lazily: the
    training set never sits in memory as strings."""
    n = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if len(cols) < 2:
                continue
            src, tgt = cols[0].split(), cols[1].split()
            if src and tgt:
                yield src, tgt
                n += 1
                if limit and n >= limit:
                    return


class Vocab:
    def __init__(self, seqs, min_count=1, max_size=0):
        counts = {}
        for s in seqs:
            for w in s:
                counts[w] = counts.get(w, 0) + 1
        words = sorted((w for w, c in counts.items() if c >= min_count),
                       key=lambda w: (-counts[w], w))
        if max_size:
            words = words[:max_size]
        self.itos = SPECIALS + words
        self.stoi = {w: i for i, w in enumerate(self.itos)}

    def ids(self, words):
        return [self.stoi.get(w, UNK) for w in words]

    def __len__(self):
        return len(self.itos)


class Seq2Seq(nn.Module):
    def __init__(self, src_vocab, tgt_vocab, emb=64, hidden=128, att=128):
        super().__init__()
        self.src_emb = nn.Embedding(src_vocab, emb, padding_idx=PAD)
        self.tgt_emb = nn.Embedding(tgt_vocab, emb, padding_idx=PAD)
        self.encoder = nn.GRU(emb, hidden, batch_first=True,
                              bidirectional=True)
        self.bridge = nn.Linear(2 * hidden, hidden)
        self.att_key = nn.Linear(2 * hidden, att, bias=False)
        self.att_query = nn.Linear(hidden, att)
        self.att_v = nn.Linear(att, 1, bias=False)
        self.decoder = nn.GRUCell(emb + 2 * hidden, hidden)
        self.out = nn.Linear(hidden + 2 * hidden + emb, tgt_vocab)

    def encode(self, src, src_len):
        # src (B,S) ids, src_len (B,) -> memory (B,S,2H), keys (B,S,A),
        # mask (B,S), s0 (B,H)
        x = self.src_emb(src)
        packed = nn.utils.rnn.pack_padded_sequence(
            x, src_len, batch_first=True, enforce_sorted=False)
        out, h = self.encoder(packed)
        memory, _ = nn.utils.rnn.pad_packed_sequence(
            out, batch_first=True, total_length=src.shape[1])
        s0 = torch.tanh(self.bridge(torch.cat([h[0], h[1]], dim=1)))
        return memory, self.att_key(memory), src != PAD, s0

    def step(self, e, s, memory, keys, mask):
        # e (B,E) embedding of y_prev, s (B,H) previous decoder state
        q = self.att_query(s).unsqueeze(1)
        score = self.att_v(torch.tanh(keys + q)).squeeze(2)
        score = score.masked_fill(~mask, float("-inf"))
        a = torch.softmax(score, dim=1)
        c = torch.bmm(a.unsqueeze(1), memory).squeeze(1)
        s = self.decoder(torch.cat([e, c], dim=1), s)
        return self.out(torch.cat([s, c, e], dim=1)), s

    def loss(self, src, src_len, tgt_in, tgt_out):
        memory, keys, mask, s = self.encode(src, src_len)
        emb = self.tgt_emb(tgt_in)
        logits = []
        for t in range(tgt_in.shape[1]):
            lt, s = self.step(emb[:, t], s, memory, keys, mask)
            logits.append(lt)
        logits = torch.stack(logits, dim=1)
        return F.cross_entropy(logits.reshape(-1, logits.shape[2]),
                               tgt_out.reshape(-1), ignore_index=PAD)

    @torch.no_grad()
    def greedy(self, src, src_len, max_len):
        memory, keys, mask, s = self.encode(src, src_len)
        b = src.shape[0]
        y = torch.full((b,), BOS, dtype=torch.long)
        done = torch.zeros(b, dtype=torch.bool)
        out = []
        for _ in range(max_len):
            logits, s = self.step(self.tgt_emb(y), s, memory, keys, mask)
            y = logits.argmax(dim=1)
            out.append(y)
            done |= y == EOS
            if bool(done.all()):
                break
        out = torch.stack(out, dim=1).tolist()
        return [row[:row.index(EOS)] if EOS in row else row for row in out]

    @torch.no_grad()
    def beam(self, src, src_len, k, max_len, alpha):
        """Batch-1 beam search; only an </s> inside the top k finishes a
        hypothesis (the beam then shrinks); GNMT length penalty."""
        memory, keys, mask, s = self.encode(src, src_len)
        scores = torch.zeros(1)
        hyps = [[]]
        y = torch.tensor([BOS])
        finished = []
        for t in range(max_len):
            n = len(hyps)
            logits, s = self.step(self.tgt_emb(y), s, memory.expand(n, -1, -1),
                                  keys.expand(n, -1, -1), mask.expand(n, -1))
            cand = (scores.unsqueeze(1) + F.log_softmax(logits, dim=1)).view(-1)
            top, idx = cand.topk(min(k - len(finished), cand.numel()))
            vocab = logits.shape[1]
            keep, new_hyps = [], []
            for sc, i in zip(top.tolist(), idx.tolist()):
                h, w = divmod(i, vocab)
                if w == EOS:
                    lp = ((5 + t + 1) / 6) ** alpha
                    finished.append((sc / lp, hyps[h]))
                else:
                    keep.append(i)
                    new_hyps.append(hyps[h] + [w])
            if len(finished) >= k or not keep:
                break
            keep = torch.tensor(keep)
            scores = cand[keep]
            s = s[keep // vocab]
            y = keep % vocab
            hyps = new_hyps
        if not finished:
            lp = ((5 + max_len) / 6) ** alpha
            finished = [(sc / lp, h) for sc, h in zip(scores.tolist(), hyps)]
        return max(finished, key=lambda f: f[0])[1]


def tensor_batch(rows):
    # rows: lists of ids -> padded (B,T) tensor and lengths
    n = max(len(r) for r in rows)
    t = torch.full((len(rows), n), PAD, dtype=torch.long)
    for i, r in enumerate(rows):
        t[i, :len(r)] = torch.tensor(r)
    return t, torch.tensor([len(r) for r in rows])


def batches(data, batch, rng):
    """Endless batches of similar source length: shuffle, sort chunks of
    50 batches by length, shuffle the batches."""
    while True:
        order = list(range(len(data)))
        rng.shuffle(order)
        chunk = batch * 50
        out = []
        for i in range(0, len(order), chunk):
            part = sorted(order[i:i + chunk], key=lambda j: len(data[j][0]))
            out += [part[k:k + batch] for k in range(0, len(part), batch)]
        rng.shuffle(out)
        for b in out:
            yield [data[j] for j in b]


def make_train_batch(rows):
    src, src_len = tensor_batch([r[0] for r in rows])
    tin, _ = tensor_batch([[BOS] + r[1] for r in rows])
    tout, _ = tensor_batch([r[1] + [EOS] for r in rows])
    return src, src_len, tin, tout


def decode_greedy(model, srcs, batch, max_len_of):
    out = []
    for i in range(0, len(srcs), batch):
        part = srcs[i:i + batch]
        src, src_len = tensor_batch(part)
        out += model.greedy(src, src_len, max_len_of(max(map(len, part))))
    return out


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def train_step(model, opt, rows, clip):
    src, src_len, tin, tout = make_train_batch(rows)
    opt.zero_grad(set_to_none=True)
    loss = model.loss(src, src_len, tin, tout)
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), clip)
    opt.step()
    return float(loss), int((tout != PAD).sum())


def run_reverse(a):
    sv = Vocab(p[0] for p in read_pairs(a.train))
    tv = Vocab(p[1] for p in read_pairs(a.train))
    data = [(sv.ids(s), tv.ids(t)) for s, t in read_pairs(a.train)]
    held = list(read_pairs(a.heldout))
    held_src = [sv.ids(s) for s, _ in held]
    held_ref = [tv.ids(t) for _, t in held]
    torch.manual_seed(a.seed)
    model = Seq2Seq(len(sv), len(tv), a.emb, a.hidden, a.att)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    rng = random.Random(a.seed)
    max_len_of = lambda n: 2 * n + 10  # noqa: E731

    train_time, train_cpu, tokens, step, exact = 0.0, 0.0, 0, 0, 0.0
    reached = None
    it = batches(data, a.batch, rng)
    while step < a.max_steps:
        t0, c0 = time.perf_counter(), time.process_time()
        model.train()
        loss, ntok = train_step(model, opt, next(it), a.clip)
        train_time += time.perf_counter() - t0
        train_cpu += time.process_time() - c0
        tokens += ntok
        step += 1
        if step % a.eval_every == 0:
            model.eval()
            hyp = decode_greedy(model, held_src, 500, max_len_of)
            exact = sum(h == r for h, r in zip(hyp, held_ref)) / len(held_ref)
            if not a.quiet:
                print(f"step {step} loss {loss:.4f} exact {exact:.4f} "
                      f"time {train_time:.2f}", file=sys.stderr, flush=True)
            if exact >= a.target:
                reached = (step, train_time, train_cpu)
                break
    model.eval()
    print(f"threads {torch.get_num_threads()}")
    print(f"steps_to_target {reached[0] if reached else 'none'}")
    print(f"seconds_to_target {reached[1] if reached else float('nan'):.2f}")
    print(f"cpu_seconds_to_target {reached[2] if reached else float('nan'):.2f}")
    print(f"final_exact {exact:.4f}")
    print(f"train_tokens_per_s {tokens / train_time:.0f}")
    print(f"cpu_train_tokens_per_s {tokens / train_cpu:.0f}")

    # Wall-clock figures, and the same in CPU time of this process: with
    # one thread, CPU time is what the wall clock shows on an idle machine,
    # so the cpu_ figures stay meaningful when other jobs share the cores.
    lat_src = held_src[:a.latency_n]
    t0, c0 = time.perf_counter(), time.process_time()
    for s in lat_src:
        src, n = tensor_batch([s])
        model.greedy(src, n, max_len_of(len(s)))
    print(f"greedy_ms {(time.perf_counter() - t0) * 1000 / len(lat_src):.3f}")
    print(f"cpu_greedy_ms {(time.process_time() - c0) * 1000 / len(lat_src):.3f}")
    t0, c0 = time.perf_counter(), time.process_time()
    beam_ok = 0
    for s, r in zip(lat_src, held_ref):
        src, n = tensor_batch([s])
        beam_ok += model.beam(src, n, 5, max_len_of(len(s)), a.alpha) == r
    print(f"beam5_ms {(time.perf_counter() - t0) * 1000 / len(lat_src):.3f}")
    print(f"cpu_beam5_ms {(time.process_time() - c0) * 1000 / len(lat_src):.3f}")
    print(f"beam5_exact {beam_ok / len(lat_src):.4f}")
    t0, c0 = time.perf_counter(), time.process_time()
    decode_greedy(model, held_src, a.decode_batch, max_len_of)
    print(f"batched_greedy_sent_per_s {len(held_src) / (time.perf_counter() - t0):.0f}")
    print(f"cpu_batched_greedy_sent_per_s "
          f"{len(held_src) / (time.process_time() - c0):.0f}")
    print(f"peak_rss_mib {peak_rss_mib():.0f}")


def run_translate(a):
    pairs = lambda: read_pairs(a.train, a.limit)  # noqa: E731
    sv = Vocab((p[0] for p in pairs()), a.min_count, a.max_vocab)
    tv = Vocab((p[1] for p in pairs()), a.min_count, a.max_vocab)
    data = [(sv.ids(s), tv.ids(t)) for s, t in pairs()
            if len(s) <= a.max_len and len(t) <= a.max_len]
    test_pairs = list(read_pairs(a.test))
    torch.manual_seed(a.seed)
    model = Seq2Seq(len(sv), len(tv), a.emb, a.hidden, a.att)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    rng = random.Random(a.seed)
    budget = a.minutes * 60.0
    start = time.perf_counter()
    it = batches(data, a.batch, rng)
    step, tokens = 0, 0
    model.train()
    while time.perf_counter() - start < budget:
        loss, ntok = train_step(model, opt, next(it), a.clip)
        tokens += ntok
        step += 1
        if not a.quiet and step % 200 == 0:
            el = time.perf_counter() - start
            print(f"step {step} loss {loss:.4f} tokens/s {tokens / el:.0f} "
                  f"epoch {step * a.batch / len(data):.2f}",
                  file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - start
    model.eval()
    t0 = time.perf_counter()
    with open(a.out, "w", encoding="utf-8") as f:
        for s, _ in test_pairs:
            src, n = tensor_batch([sv.ids(s)])
            if a.beam > 1:
                h = model.beam(src, n, a.beam, 2 * len(s) + 10, a.alpha)
            else:
                h = model.greedy(src, n, 2 * len(s) + 10)[0]
            f.write(" ".join(tv.itos[w] for w in h) + "\n")
    print(f"threads {torch.get_num_threads()}")
    print(f"train_pairs {len(data)}")
    print(f"src_vocab {len(sv)} tgt_vocab {len(tv)}")
    print(f"steps {step} epochs {step * a.batch / len(data):.2f}")
    print(f"train_seconds {elapsed:.1f}")
    print(f"train_tokens_per_s {tokens / elapsed:.0f}")
    print(f"decode_seconds {time.perf_counter() - t0:.1f}")
    print(f"peak_rss_mib {peak_rss_mib():.0f}")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="mode", required=True)
    for name in ("reverse", "translate"):
        p = sub.add_parser(name)
        p.add_argument("train")
        if name == "reverse":
            p.add_argument("heldout")
            p.add_argument("--target", type=float, default=0.99)
            p.add_argument("--eval-every", type=int, default=20)
            p.add_argument("--max-steps", type=int, default=4000)
            p.add_argument("--latency-n", type=int, default=1000)
            p.add_argument("--decode-batch", type=int, default=256)
        else:
            p.add_argument("test")
            p.add_argument("out")
            p.add_argument("--minutes", type=float, default=10.0)
            p.add_argument("--limit", type=int, default=0)
            p.add_argument("--min-count", type=int, default=2)
            p.add_argument("--max-vocab", type=int, default=0)
            p.add_argument("--max-len", type=int, default=50)
            p.add_argument("--beam", type=int, default=5)
        p.add_argument("--seed", type=int, default=1)
        p.add_argument("--threads", type=int, default=1)
        p.add_argument("--emb", type=int, default=64)
        p.add_argument("--hidden", type=int, default=128)
        p.add_argument("--att", type=int, default=128)
        p.add_argument("--lr", type=float, default=2e-3)
        p.add_argument("--clip", type=float, default=1.0)
        p.add_argument("--batch", type=int, default=64)
        p.add_argument("--alpha", type=float, default=0.6)
        p.add_argument("--quiet", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if os.environ.get("OPENBLAS_NUM_THREADS") is None:
        print("torch_seq2seq: set OPENBLAS_NUM_THREADS (1 is fastest)",
              file=sys.stderr)
    if a.mode == "reverse":
        run_reverse(a)
    else:
        run_translate(a)


if __name__ == "__main__":
    main()
