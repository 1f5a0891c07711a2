// Runs a model exported by `loom export` in onnxruntime-node and compares
// it with loom's own results.
//   node check.js logp DIR REF
//       REF: helper_seq_logp's lines (source ids, target ids, loom's log p
//       of each target token and </s>); checks onnxruntime's log p of the
//       same tokens within --tol (default 1e-4).
//   node check.js translate DIR SOURCES LOOM_OUTPUT [--beam K]
//       translates SOURCES (one sentence a line, tokenized by
//       loom-onnx.js's tokenizer) with the same search as loom and
//       compares with `loom translate`'s lines: identical, or a tie (the
//       two hypotheses' scores under the exported model within --tol),
//       or different (a failure).
//       With --text the lines compared are the text (a subword target's
//       pieces decoded), not the tokens (loom translate without --pieces).
//   node check.js segment DIR FILE [source|target]
//       prints loom-onnx.js's SentencePiece segmentation of each line, as
//       `loom subword encode DIR/source.model FILE` does.
//   node check.js tokenize FILE
//       prints loom-onnx.js's tokens of each line, space-separated, as
//       `loom tokenize FILE` does (loom's default options).
//   node check.js classify DIR FILE LOOM_PROBS [--batch N]
//       the label probabilities of each line of FILE by the exported
//       classifier (loom-onnx.js's encoder: tokenizer, ids, hashed
//       n-grams) against `loom classify predict-prob MODEL FILE L`'s lines
//       (label prob pairs), within --tol (default 1e-5 here).
//   node check.js run DIR SOURCES [--beam K] [--batch N]
//       prints the translations and, on stderr, the CPU seconds of the
//       decoding (for scripts/bench-onnx).
// Exit 0 when everything agrees, 1 otherwise.
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');
const { Translator, Classifier, score, tokenize, segment } = require(path.join(__dirname, '..', '..', 'web', 'loom-onnx.js'));

function opt(args, name, def) {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
}

async function load(dir, threads) {
  const iface = JSON.parse(fs.readFileSync(path.join(dir, 'interface.json'), 'utf8'));
  const vocab = JSON.parse(fs.readFileSync(path.join(dir, 'vocab.json'), 'utf8'));
  const so = { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential' };
  return Translator.create(
    ort,
    iface,
    vocab,
    path.join(dir, iface.graphs.encoder.file),
    path.join(dir, iface.graphs.decoder_step.file),
    so
  );
}

const lines = (f) => fs.readFileSync(f, 'utf8').split('\n').filter((l) => l.length > 0);

async function checkLogp(tr, ref, tol) {
  let n = 0,
    worst = 0,
    bad = 0;
  for (const line of lines(ref)) {
    const [s, t, lp] = line.split('\t');
    const src = s.split(' ').map(Number),
      tgt = t.length ? t.split(' ').map(Number) : [];
    const want = lp.split(' ').map(Number);
    const got = await tr.scoreTokens(src, tgt);
    for (let k = 0; k < want.length; k++) {
      const d = Math.abs(got[k] - want[k]);
      worst = Math.max(worst, d);
      n++;
      if (!(d <= tol)) bad++;
    }
  }
  console.log(`logp: ${n} tokens, max |onnxruntime - loom| ${worst.toExponential(2)}, over ${tol}: ${bad}`);
  return bad === 0 && n > 0;
}

async function translateAll(tr, sources, K, batch) {
  const ids = sources.map((s) => tr.sourceIds(s));
  const out = new Array(ids.length);
  if (K === 1) {
    for (let i = 0; i < ids.length; i += batch) {
      const idx = [];
      for (let j = i; j < Math.min(i + batch, ids.length); j++) if (ids[j].length) idx.push(j);
      if (!idx.length) continue;
      const res = await tr.greedy(idx.map((j) => ids[j]), 0);
      idx.forEach((j, k) => (out[j] = res[k]));
    }
  } else {
    for (let j = 0; j < ids.length; j++) if (ids[j].length) out[j] = (await tr.beam(ids[j], K, 0.6, 0, 1))[0];
  }
  return { ids, out };
}

// The exported model's score of a hypothesis (ids, finished) as loom scores it.
async function hypScore(tr, src, ids, finished, alpha) {
  const lp = await tr.scoreTokens(src, ids);
  let sum = 0;
  for (let k = 0; k < ids.length + (finished ? 1 : 0); k++) sum = Math.fround(sum + lp[k]);
  return score(sum, ids.length + (finished ? 1 : 0), alpha);
}

async function checkTranslate(tr, sourcesFile, loomFile, K, tol, asText) {
  const sources = lines(sourcesFile);
  const want = fs.readFileSync(loomFile, 'utf8').split('\n');
  const { ids, out } = await translateAll(tr, sources, K, 64);
  const tgtIndex = new Map(tr.vocab.target.words.map((w, i) => [w, i]));
  let same = 0,
    ties = 0,
    diff = 0;
  for (let i = 0; i < sources.length; i++) {
    const got = out[i] ? (asText ? tr.text(out[i].ids) : tr.words(out[i].ids)) : '';
    if (got === want[i]) {
      same++;
      continue;
    }
    if (asText) {
      diff++;
      if (diff <= 5) console.log(`  line ${i + 1}: onnxruntime '${got}' loom '${want[i]}'`);
      continue;
    }
    // a tie when the exported model scores loom's hypothesis within tol
    const theirs = want[i].length ? want[i].split(' ').map((w) => tgtIndex.get(w)) : [];
    const limit = 2 * ids[i].length + 10;
    const alpha = K === 1 ? 0 : 0.6;
    const a = await hypScore(tr, ids[i], out[i].ids, out[i].finished, alpha);
    const b = await hypScore(tr, ids[i], theirs, theirs.length < limit, alpha);
    if (Math.abs(a - b) <= tol) ties++;
    else {
      diff++;
      if (diff <= 5)
        console.log(`  line ${i + 1}: onnxruntime '${got}' (${a.toFixed(6)}) loom '${want[i]}' (${b.toFixed(6)})`);
    }
  }
  console.log(`translate beam ${K}: ${sources.length} sentences, identical ${same}, ties within ${tol} ${ties}, different ${diff}`);
  return diff === 0;
}

async function checkClassify(dir, file, loomFile, tol, batch) {
  const dict = JSON.parse(fs.readFileSync(path.join(dir, 'classifier.json'), 'utf8'));
  const so = { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential' };
  const cl = await Classifier.create(ort, dict, path.join(dir, 'classifier.onnx'), so);
  const input = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim().length > 0);
  const want = lines(loomFile);
  if (want.length !== input.length) {
    console.log(`classify: ${input.length} lines but loom printed ${want.length}`);
    return false;
  }
  let n = 0,
    worst = 0,
    bad = 0,
    argmax = 0;
  for (let i = 0; i < input.length; i += batch) {
    const got = await cl.probs(input.slice(i, i + batch));
    got.forEach((p, k) => {
      const f = want[i + k].split(' ');
      const ref = new Map();
      for (let j = 0; j + 1 < f.length; j += 2) ref.set(f[j], Number(f[j + 1]));
      let best = 0;
      dict.labels.forEach((lab, l) => {
        if (p[l] > p[best]) best = l;
        if (!ref.has(lab)) return;
        const d = Math.abs(p[l] - ref.get(lab));
        worst = Math.max(worst, d);
        n++;
        if (!(d <= tol)) bad++;
      });
      if (ref.size !== dict.labels.length) bad++; // loom printed every label
      if (dict.labels[best] === f[0]) argmax++;
    });
  }
  console.log(
    `classify: ${input.length} lines, ${n} probabilities, max |onnxruntime - loom| ${worst.toExponential(2)}, over ${tol}: ${bad}; same best label ${argmax}`
  );
  return bad === 0 && n > 0;
}

async function main() {
  const args = process.argv.slice(2);
  const cmd = args[0],
    dir = args[1];
  if (cmd === 'tokenize') {
    const out = fs.readFileSync(args[1], 'utf8').split('\n');
    if (out[out.length - 1] === '') out.pop();
    process.stdout.write(out.map((l) => tokenize(l, {}).join(' ')).join('\n') + '\n');
    return;
  }
  if (cmd === 'segment') {
    const vocab = JSON.parse(fs.readFileSync(path.join(dir, 'vocab.json'), 'utf8'));
    const sw = vocab[args[3] || 'source'].subword;
    const out = fs.readFileSync(args[2], 'utf8').split('\n');
    if (out[out.length - 1] === '') out.pop();
    process.stdout.write(out.map((l) => segment(l, sw).join(' ')).join('\n') + '\n');
    return;
  }
  if (cmd === 'classify') {
    const ok = await checkClassify(dir, args[2], args[3], Number(opt(args, '--tol', '1e-5')), Number(opt(args, '--batch', '50')));
    process.exit(ok ? 0 : 1);
  }
  const tol = Number(opt(args, '--tol', '1e-4'));
  const K = Number(opt(args, '--beam', '1'));
  const tr = await load(dir, Number(opt(args, '--threads', '1')));
  let ok;
  if (cmd === 'logp') ok = await checkLogp(tr, args[2], tol);
  else if (cmd === 'translate') ok = await checkTranslate(tr, args[2], args[3], K, tol, args.includes('--text'));
  else if (cmd === 'run') {
    const sources = lines(args[2]);
    const t0 = process.cpuUsage();
    const { out } = await translateAll(tr, sources, K, Number(opt(args, '--batch', '64')));
    const t = process.cpuUsage(t0);
    process.stdout.write(out.map((h) => (h ? tr.words(h.ids) : '')).join('\n') + '\n');
    console.error(`cpu ${((t.user + t.system) / 1e6).toFixed(3)} s`);
    ok = true;
  } else {
    console.error('usage: node check.js logp|translate|run DIR ...');
    process.exit(2);
  }
  process.exit(ok ? 0 : 1);
}

main().catch((e) => {
  console.error(`check.js: ${e.message}`);
  process.exit(1);
});
