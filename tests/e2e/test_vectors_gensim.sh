# End-to-end: loom eval and loom nearest against gensim run live on the
# fixture vectors (Debian's python3-gensim, which scripts/setup installs). The
# committed expected-*.txt make the same checks without gensim; this one
# also catches a fixture and its expected numbers drifting apart.
. "$LOOM_SRCDIR/tests/e2e/lib.sh"
V="$FIXTURES/vectors"
PY=/usr/bin/python3
if ! "$PY" -c 'import gensim' 2>/dev/null; then
    echo "not ok - gensim cannot be imported by $PY (apt-get install python3-gensim)"
    echo "0 passed, 1 failed"
    exit 1
fi

"$LOOM" eval "$V/sotu.bin" --json --restrict 2000 --analogies "$V/questions-words-sample.txt" \
    --similarity "$V/wordsim353.tsv" >"$TMP/eval.json" 2>"$TMP/err"
sed -n 's/^query: //p' "$V/expected-nearest.txt" | head -n 50 >"$TMP/words"
"$LOOM" nearest "$V/sotu.bin" <"$TMP/words" >"$TMP/nearest.txt" 2>>"$TMP/err"
printf 'man woman he\nFrance Paris Germany\ngood better bad\nwar peace men\n' >"$TMP/triples"
"$LOOM" analogy "$V/sotu.bin" --method mul -k 5 <"$TMP/triples" >"$TMP/mul.txt" 2>>"$TMP/err"
"$LOOM" analogy "$V/sotu.bin" -k 5 <"$TMP/triples" >"$TMP/add.txt" 2>>"$TMP/err"
"$LOOM" convert "$V/sotu.bin" "$TMP/loom.bin" 2>>"$TMP/err"
"$LOOM" convert "$V/sotu.bin" "$TMP/loom.vec.gz" 2>>"$TMP/err"

"$PY" - "$V" "$TMP" >"$TMP/report" 2>&1 <<'PYEOF'
import json, sys
from gensim.models import KeyedVectors
V, T = sys.argv[1], sys.argv[2]
kv = KeyedVectors.load_word2vec_format(V + "/sotu.bin", binary=True)
loom = json.load(open(T + "/eval.json"))
_, secs = kv.evaluate_word_analogies(V + "/questions-words-sample.txt", restrict_vocab=2000)
total = secs[-1]
c, seen = len(total["correct"]), len(total["correct"]) + len(total["incorrect"])
lt = loom["analogies"]["total"]
import numpy
for name, binary in (("loom.bin", True), ("loom.vec.gz", False)):
    back = KeyedVectors.load_word2vec_format(T + "/" + name, binary=binary)
    same = back.index_to_key == kv.index_to_key and numpy.array_equal(back.vectors, kv.vectors)
    print("gensim-reads-" + name, "ok" if same else "DIFFER", len(back))
print("seen", "ok" if seen == lt["seen"] else "DIFFER", seen, lt["seen"])
acc = 100.0 * c / seen
print("accuracy", "ok" if abs(acc - 100 * lt["accuracy"]) <= 0.05 else "DIFFER", acc, 100 * lt["accuracy"])
for g, l in zip(secs[:-1], loom["analogies"]["sections"]):
    n = len(g["correct"]) + len(g["incorrect"])
    print("section", "ok" if (g["section"], n) == (l["name"], l["seen"]) else "DIFFER", g["section"], n, l["seen"])
pearson, spearman, oov = kv.evaluate_word_pairs(V + "/wordsim353.tsv", restrict_vocab=2000)
ls = loom["similarity"][0]
print("spearman", "ok" if abs(spearman.statistic - ls["spearman"]) <= 0.002 else "DIFFER",
      spearman.statistic, ls["spearman"])
found = round(ls["pairs"] * (1 - oov / 100))
print("pairs", "ok" if found == ls["found"] else "DIFFER", found, ls["found"])
answers, cur = [], None
for line in open(T + "/nearest.txt"):
    if line.startswith("query: "):
        cur = (line[7:].strip(), [])
        answers.append(cur)
    else:
        cur[1].append(line.split("\t")[0])
same = sum([w for w, _ in kv.most_similar(q, topn=10)] == got for q, got in answers)
print("nearest", "ok" if same == len(answers) == 50 else "DIFFER", same, len(answers))
for method, fn in (("add", kv.most_similar), ("mul", kv.most_similar_cosmul)):
    got = [l.split("\t")[0] for l in open(T + "/%s.txt" % method) if "\t" in l]
    want = []
    for l in open(T + "/triples"):
        a, b, c = l.split()
        want += [w for w, _ in fn(positive=[b, c], negative=[a], topn=5)]
    print("analogy-" + method, "ok" if got == want else "DIFFER", len(got), len(want))
PYEOF
while read -r what verdict rest; do
    if [ "$verdict" = ok ]; then ok "live gensim: $what ($rest)"; else not_ok "live gensim: $what $verdict $rest"; fi
done <"$TMP/report"
expect_grep "live gensim compared the nearest lists" '^nearest ' "$TMP/report"
finish
