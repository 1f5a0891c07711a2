// loom-onnx.js: runs a translation model written by `loom export` in
// onnxruntime (onnxruntime-node, or onnxruntime-web in a browser): loom's
// tokenizer rules, the encoder and decoder-step graphs, and loom's greedy
// and beam search (src/seq/decode.c) around them, driven only by the
// exported interface.json and vocab.json. No dependencies besides the
// `ort` object handed in.
//
// Where the tokenizer differs from loom's (src/text/tokenizer.c): case
// folding is String.prototype.toLowerCase plus the folds of ß, ẞ and
// final sigma, not Unicode's full CaseFolding table (a few letters of
// Cherokee, Greek with iota subscripts and some ligatures fold
// differently), and grapheme clusters of punctuation are approximated as
// a character with its combining marks, variation selectors, emoji
// modifiers and ZWJ sequences.
(function (root, factory) {
  if (typeof module === 'object' && module.exports) module.exports = factory();
  else root.LoomOnnx = factory();
})(typeof self !== 'undefined' ? self : this, function () {
  'use strict';

  const WORD = /[\p{L}\p{M}\p{N}]/u;
  const LETTER = /\p{L}/u;
  const DIGIT = /\p{N}/u;
  const MARK = /\p{M}/u;
  const NOSPACE =
    /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Thai}\p{Script=Lao}\p{Script=Khmer}\p{Script=Myanmar}\p{Script=Yi}]/u;
  const SPACE = /[\s\p{Cc}\p{Z}\0]/u;
  const FORMAT = /\p{Cf}/u;
  const CLUSTER_EXT = /[\p{M}\u{FE00}-\u{FE0F}\u{1F3FB}-\u{1F3FF}\u{E0020}-\u{E007F}]/u;
  const APOS = new Set(["'", '\u2019']);

  // loom's tokenizer on one line: an array of tokens.
  function tokenize(line, opts) {
    opts = opts || {};
    if (opts.pretokenized) return line.split(/[ \t\n\v\f\r\0]+/).filter((t) => t.length > 0);
    let s = line.normalize('NFKC');
    if (!opts.keep_case)
      s = s.toLowerCase().replace(/ß|ẞ/g, 'ss').replace(/ς/g, 'σ').normalize('NFKC');
    const cs = Array.from(s).filter((c) => !(FORMAT.test(c) && c !== '\u200d' && c !== '\u200c'));
    const out = [];
    let word = '';
    const flush = () => {
      if (word) out.push(word);
      word = '';
    };
    for (let i = 0; i < cs.length; i++) {
      const c = cs[i];
      const prev = i > 0 ? cs[i - 1] : '',
        next = i + 1 < cs.length ? cs[i + 1] : '';
      if (NOSPACE.test(c)) {
        flush();
        let tok = c;
        while (i + 1 < cs.length && MARK.test(cs[i + 1])) tok += cs[++i];
        out.push(tok);
      } else if (WORD.test(c) || ((c === '\u200d' || c === '\u200c') && word)) {
        word += c;
      } else if (APOS.has(c) && word && LETTER.test(prev) && LETTER.test(next) && !NOSPACE.test(next)) {
        word += "'";
      } else if ((c === '.' || c === ',') && word && DIGIT.test(prev) && DIGIT.test(next)) {
        word += c;
      } else if (SPACE.test(c)) {
        flush();
      } else {
        flush();
        let tok = c;
        for (;;) {
          if (i + 1 < cs.length && CLUSTER_EXT.test(cs[i + 1])) tok += cs[++i];
          else if (i + 2 < cs.length && cs[i + 1] === '\u200d') tok += cs[++i] + cs[++i];
          else break;
        }
        if (opts.punct !== 'drop') out.push(tok);
      }
    }
    flush();
    return out;
  }

  // SentencePiece's unigram segmentation of one line from the pieces and
  // scores `loom export` writes for a subword side (vocab.json's
  // side.subword): Viterbi over the normal pieces, a character no piece
  // covers is one unknown piece scored min - 10, as SentencePiece does.
  // Where it differs from SentencePiece: normalisation is NFKC and white
  // space collapsed (SentencePiece's nmt_nfkc also maps a few control and
  // space characters; an identity-normalised model keeps text as it is
  // apart from white space), and BPE models are segmented as unigram ones
  // (their scores rank merges: most lines agree, not all).
  function segment(line, sw) {
    if (!sw.map) {
      sw.map = new Map();
      sw.maxLen = 1;
      let min = Infinity;
      for (const [p, score, kind] of sw.pieces) {
        if (kind !== 0) continue;
        sw.map.set(p, score);
        sw.maxLen = Math.max(sw.maxLen, Array.from(p).length);
        min = Math.min(min, score);
      }
      sw.unkScore = min - 10;
    }
    const t = line.normalize('NFKC').replace(/[ \t\n\r\f\v]+/g, ' ').trim();
    if (!t) return [];
    const cs = Array.from('\u2581' + t.replace(/ /g, '\u2581'));
    const n = cs.length;
    const best = new Float64Array(n + 1).fill(-Infinity),
      from = new Int32Array(n + 1);
    best[0] = 0;
    for (let i = 0; i < n; i++) {
      if (best[i] === -Infinity) continue;
      let piece = '',
        single = false;
      for (let k = 1; k <= sw.maxLen && i + k <= n; k++) {
        piece += cs[i + k - 1];
        const sc = sw.map.get(piece);
        if (sc === undefined) continue;
        if (k === 1) single = true;
        if (best[i] + sc > best[i + k]) (best[i + k] = best[i] + sc), (from[i + k] = i);
      }
      if (!single && best[i] + sw.unkScore > best[i + 1]) (best[i + 1] = best[i] + sw.unkScore), (from[i + 1] = i);
    }
    const out = [];
    for (let j = n; j > 0; j = from[j]) out.push(cs.slice(from[j], j).join(''));
    return out.reverse();
  }

  // SentencePiece's decoding of pieces: joined, U+2581 as a space, the
  // first one dropped.
  function unsegment(pieces) {
    return pieces.join('').replace(/\u2581/g, ' ').replace(/^ /, '');
  }

  // GNMT's length-normalised score, as loom_seq_score.
  function score(logp, len, alpha) {
    return alpha === 0 ? logp : logp / Math.pow((5 + len) / 6, alpha);
  }

  class Translator {
    // ort: the onnxruntime module; iface, vocab: the parsed JSON files;
    // encoder, step: InferenceSessions of the two graphs.
    constructor(ort, iface, vocab, encoder, step) {
      this.ort = ort;
      this.iface = iface;
      this.vocab = vocab;
      this.encoder = encoder;
      this.step = step;
      this.sp = iface.special_ids;
      this.V = iface.model.tgt_vocab;
      this.state = iface.state; // [{initial, input, output}]
      this.perSource = iface.per_source; // encoder outputs the step reads per row
      this.srcIndex = new Map(vocab.source.words.map((w, i) => [w, i]));
    }

    static async create(ort, iface, vocab, encoderModel, stepModel, sessionOptions) {
      const enc = await ort.InferenceSession.create(encoderModel, sessionOptions);
      const step = await ort.InferenceSession.create(stepModel, sessionOptions);
      return new Translator(ort, iface, vocab, enc, step);
    }

    sourceIds(line) {
      const side = this.vocab.source;
      const toks = side.subword ? segment(line, side.subword) : tokenize(line, side.tokenizer);
      return toks.map((w) =>
        this.srcIndex.has(w) ? this.srcIndex.get(w) : this.sp.unk
      );
    }

    // The target tokens (words or pieces) of ids, space-separated.
    words(ids) {
      return ids.map((i) => this.vocab.target.words[i]).join(' ');
    }

    // The text of ids: words space-separated, or pieces decoded.
    text(ids) {
      const t = this.vocab.target;
      return t.subword ? unsegment(ids.map((i) => t.words[i])) : this.words(ids);
    }

    // Encodes sentences (arrays of ids, none empty): per-sentence tensors
    // {S, h0/c0 rows, enc, keys, mask} as plain Float32Arrays.
    async encode(sents) {
      const B = sents.length,
        S = Math.max(...sents.map((s) => s.length));
      const ids = new BigInt64Array(B * S).fill(BigInt(this.sp.pad));
      const lens = new BigInt64Array(B);
      sents.forEach((s, b) => {
        s.forEach((id, k) => (ids[b * S + k] = BigInt(id)));
        lens[b] = BigInt(s.length);
      });
      const out = await this.encoder.run({
        src_ids: new this.ort.Tensor('int64', ids, [B, S]),
        src_lens: new this.ort.Tensor('int64', lens, [B]),
      });
      return { B, S, out };
    }

    // One step for R rows; rows[r] = [sentence, fromRow]. feeds as plain
    // arrays built from per-row state and the sentence's encoder outputs.
    async stepRows(enc, rowSent, prev, states) {
      const R = rowSent.length,
        S = enc.S,
        feeds = {};
      feeds.prev = new this.ort.Tensor('int64', BigInt64Array.from(prev, (v) => BigInt(v)), [R]);
      for (const st of this.state) {
        const H = states[st.input].length / R;
        feeds[st.input] = new this.ort.Tensor('float32', states[st.input], [R, H]);
      }
      for (const name of this.perSource) {
        const t = enc.out[name],
          w = t.data.length / enc.B;
        const buf = new Float32Array(R * w);
        rowSent.forEach((b, r) => buf.set(t.data.subarray(b * w, (b + 1) * w), r * w));
        feeds[name] = new this.ort.Tensor('float32', buf, w === S ? [R, S] : [R, S, w / S]);
      }
      const out = await this.step.run(feeds);
      const next = {};
      for (const st of this.state) next[st.input] = out[st.output].data;
      return { logp: out.logp.data, attn: out.attn ? out.attn.data : null, states: next };
    }

    // The initial state rows of sentences rowSent[r].
    initialStates(enc, rowSent) {
      const states = {};
      for (const st of this.state) {
        const t = enc.out[st.initial],
          H = t.data.length / enc.B;
        const buf = new Float32Array(rowSent.length * H);
        rowSent.forEach((b, r) => buf.set(t.data.subarray(b * H, (b + 1) * H), r * H));
        states[st.input] = buf;
      }
      return states;
    }

    // log p of each token of tgt (then of eos) given src, by teacher forcing.
    async scoreTokens(src, tgt) {
      const enc = await this.encode([src]);
      let states = this.initialStates(enc, [0]),
        prev = this.sp.bos;
      const lp = [];
      for (const y of tgt.concat([this.sp.eos])) {
        const r = await this.stepRows(enc, [0], [prev], states);
        lp.push(r.logp[y]);
        states = r.states;
        prev = y;
      }
      return lp;
    }

    // Greedy search over a batch of sentences: [{ids, logp, finished}].
    async greedy(sents, maxLen) {
      const enc = await this.encode(sents);
      const n = sents.length,
        V = this.V,
        sp = this.sp;
      const res = sents.map(() => ({ ids: [], logp: 0, finished: false, done: false }));
      let live = sents.map((_, i) => i),
        prev = live.map(() => sp.bos);
      let states = this.initialStates(enc, live);
      for (let t = 0; live.length > 0; t++) {
        const r = await this.stepRows(enc, live, prev, states);
        const keep = [],
          nprev = [];
        live.forEach((i, row) => {
          const lp = r.logp.subarray(row * V, (row + 1) * V);
          let best = sp.unk;
          for (let v = sp.unk; v < V; v++) if (v !== sp.bos && lp[v] > lp[best]) best = v;
          const h = res[i];
          h.logp += lp[best];
          const limit = maxLen > 0 ? maxLen : 2 * sents[i].length + 10;
          if (best === sp.eos) h.finished = true;
          else h.ids.push(best);
          if (best !== sp.eos && t < limit - 1) keep.push(row), nprev.push(best);
        });
        live = keep.map((row) => live[row]);
        prev = nprev;
        states = this.pick(r.states, keep);
      }
      return res.map((h) => ({ ids: h.ids, logp: h.logp, finished: h.finished }));
    }

    // Rows `from` of each state array.
    pick(states, from) {
      const next = {};
      for (const k in states) {
        const all = states[k],
          H = this.iface.model.hidden;
        const buf = new Float32Array(from.length * H);
        from.forEach((f, r) => buf.set(all.subarray(f * H, (f + 1) * H), r * H));
        next[k] = buf;
      }
      return next;
    }

    // Beam search of one sentence, loom's rules (src/seq/decode.c): K beam
    // rows and, for K > 1, a greedy lane; an eos candidate ends a
    // hypothesis only inside the step's top K; the best by GNMT score of
    // all endings wins (n-best: the first distinct ones).
    async beam(src, K, alpha, maxLen, nbest) {
      const enc = await this.encode([src]);
      const V = this.V,
        sp = this.sp,
        lane = K > 1 ? 1 : 0,
        G = K + lane;
      const limit = maxLen > 0 ? maxLen : 2 * src.length + 10;
      let states = this.initialStates(enc, new Array(G).fill(0));
      let cum = new Array(G).fill(-Infinity);
      cum[0] = 0;
      if (lane) cum[K] = 0;
      let prev = new Array(G).fill(sp.bos);
      let hist = new Array(G).fill(null).map(() => []); // token lists per row
      const ends = [];
      let active = true,
        laneOn = !!lane,
        beamEnds = 0;
      for (let t = 0; t < limit && (active || laneOn); t++) {
        const r = await this.stepRows(enc, new Array(G).fill(0), prev, states);
        const last = t === limit - 1;
        const ncum = new Array(G).fill(-Infinity),
          tok = new Array(G).fill(sp.pad);
        const from = [...Array(G).keys()];
        const nhist = hist.map((h) => h);
        if (laneOn) {
          const lp = r.logp.subarray(K * V, (K + 1) * V);
          let v = sp.unk;
          for (let u = sp.unk; u < V; u++) if (u !== sp.bos && lp[u] > lp[v]) v = u;
          const c = Math.fround(cum[K] + lp[v]);
          tok[K] = v;
          if (v === sp.eos) {
            ends.push({ ids: hist[K], logp: c, score: score(c, t + 1, alpha), finished: true });
            laneOn = false;
          } else {
            ncum[K] = c;
            nhist[K] = hist[K].concat([v]);
            if (last) ends.push({ ids: nhist[K], logp: c, score: score(c, t + 1, alpha), finished: false });
          }
        }
        if (active) {
          const cands = []; // top 2K by cum, ties keep the earlier
          for (let k = 0; k < K; k++) {
            if (cum[k] === -Infinity) continue;
            const lp = r.logp.subarray(k * V, (k + 1) * V);
            for (let v = sp.unk; v < V; v++) {
              if (v === sp.bos) continue;
              const c = Math.fround(cum[k] + lp[v]);
              if (cands.length === 2 * K && c <= cands[2 * K - 1].cum) continue;
              let i = cands.length < 2 * K ? cands.length : 2 * K - 1;
              if (cands.length < 2 * K) cands.push(null);
              while (i > 0 && cands[i - 1].cum < c) {
                cands[i] = cands[i - 1];
                i--;
              }
              cands[i] = { cum: c, row: k, tok: v };
            }
          }
          let live = 0;
          for (let c = 0; c < cands.length && live < K; c++) {
            const cd = cands[c];
            if (cd.tok === sp.eos) {
              if (c < K) {
                ends.push({ ids: hist[cd.row], logp: cd.cum, score: score(cd.cum, t + 1, alpha), finished: true });
                beamEnds++;
              }
              continue;
            }
            from[live] = cd.row;
            tok[live] = cd.tok;
            ncum[live] = cd.cum;
            nhist[live] = hist[cd.row].concat([cd.tok]);
            live++;
          }
          if (beamEnds >= K || live === 0) active = false;
          else if (last)
            for (let k = 0; k < live; k++)
              ends.push({ ids: nhist[k], logp: ncum[k], score: score(ncum[k], t + 1, alpha), finished: false });
        }
        if (last) active = laneOn = false;
        states = K > 1 ? this.pick(r.states, from) : r.states;
        cum = ncum;
        prev = tok;
        hist = nhist;
      }
      // best first; the first K + 1 distinct, as loom_seq_decode keeps
      ends.sort((a, b) => b.score - a.score);
      const found = [];
      for (const e of ends) {
        if (found.length > K) break;
        if (!found.some((f) => f.finished === e.finished && f.ids.join() === e.ids.join())) found.push(e);
      }
      return found.slice(0, nbest || 1);
    }
  }

  // fastText's word hash as loom_cls_hash: FNV-1a over the UTF-8 bytes
  // read as signed chars, 32 bits.
  function clsHash(word) {
    let h = 2166136261;
    for (const b of new TextEncoder().encode(word)) h = Math.imul((h ^ ((b << 24) >> 24)) >>> 0, 16777619) >>> 0;
    return h;
  }

  // A classifier written by `loom export` (classifier.json, the session
  // of classifier.onnx): a line -> ids as loom's encoder does, ids ->
  // label probabilities.
  class Classifier {
    constructor(ort, dict, session) {
      this.ort = ort;
      this.dict = dict;
      this.session = session;
      this.index = new Map(dict.words.map((w, i) => [w, i]));
    }

    static async create(ort, dict, model, sessionOptions) {
      return new Classifier(ort, dict, await ort.InferenceSession.create(model, sessionOptions));
    }

    // The ids of one line (labels on it left out).
    ids(line) {
      const d = this.dict;
      let text = line;
      if (d.tsv) {
        const tab = line.indexOf('\t');
        text = tab >= 0 ? line.slice(tab + 1) : line;
      } else {
        text = line
          .split(/([ \t\r\v\f\n]+)/)
          .map((w) => (w.startsWith(d.label_prefix) ? ' '.repeat(w.length) : w))
          .join('');
      }
      const words = tokenize(text, d.tokenizer).concat([d.eos]);
      const ids = [],
        hs = [];
      for (const w of words) {
        if (this.index.has(w)) ids.push(this.index.get(w));
        hs.push(clsHash(w));
      }
      if (d.word_ngrams > 1 && d.bucket > 0) {
        const bucket = BigInt(d.bucket);
        const s64 = (h) => BigInt.asUintN(64, BigInt(h | 0));
        for (let i = 0; i < hs.length; i++) {
          let h = s64(hs[i]);
          for (let j = i + 1; j < hs.length && j < i + d.word_ngrams; j++) {
            h = BigInt.asUintN(64, h * 116049371n + s64(hs[j]));
            ids.push(d.nwords + Number(h % bucket));
          }
        }
      }
      return ids;
    }

    // Label probabilities of each line: an array of Float32Arrays.
    async probs(lines) {
      const all = lines.map((l) => this.ids(l));
      const B = all.length,
        T = Math.max(1, ...all.map((x) => x.length));
      const ids = new BigInt64Array(B * T),
        lens = new BigInt64Array(B);
      all.forEach((x, b) => {
        x.forEach((id, k) => (ids[b * T + k] = BigInt(id)));
        lens[b] = BigInt(x.length);
      });
      const out = await this.session.run({
        ids: new this.ort.Tensor('int64', ids, [B, T]),
        lens: new this.ort.Tensor('int64', lens, [B]),
      });
      const L = this.dict.labels.length;
      return all.map((_, b) => out.probs.data.slice(b * L, (b + 1) * L));
    }
  }

  return { tokenize, segment, unsegment, score, Translator, Classifier };
});
