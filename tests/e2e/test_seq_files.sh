# End-to-end: model and checkpoint files that lie. Each file is a real
# model or checkpoint with one metadata entry or tensor rewritten by
# st_edit.py (beside this script); loom must give one line naming the file
# and the key, exit 1, no sanitizer report, little memory, and never train
# or translate on what the file claims.
. "$LOOM_SRCDIR/tests/e2e/lib.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
EDIT="$LOOM_SRCDIR/tests/e2e/st_edit.py"

for i in $(seq 50); do printf 'a b\tb a\n'; done >"$TMP/p.tsv"
printf 'a b\nb a\n' >"$TMP/in.txt"
cd "$TMP" || exit 1
expect_status "a small model trains" 0 "$LOOM" seq2seq p.tsv -o m.loom --emb 8 --hidden 8 \
    --epochs 1 --quiet

# bad NAME FROM EDIT...: FROM rewritten into NAME
bad() {
    local name=$1 from=$2
    shift 2
    "$PY" "$EDIT" "$from" "$name" "$@" || not_ok "st_edit.py made $name"
}

# every file of the folder with its checksum (err and out are the test's)
files_sum() { cksum -- * 2>/dev/null | grep -vE ' (err|out)$'; }

# refused NAME KEY_PATTERN CMD...: exit 1, one line naming the file and
# the key, nothing from a sanitizer, nothing replaced: the output model
# and its checkpoint (there from an earlier run) and every input are
# byte-identical afterwards, and no file appears.
refused() {
    local name=$1 pattern=$2
    shift 2
    echo "an earlier model" >m2.loom
    echo "an earlier checkpoint" >m2.loom.ckpt
    local before
    before=$(files_sum)
    expect_status "$name: exit 1" 1 "$@"
    expect_grep "$name: the message names file and key" "^loom: $pattern" "$TMP/err"
    if grep -qE 'Sanitizer|runtime error' "$TMP/err"; then not_ok "$name: no sanitizer report"; fi
    [ "$(wc -l <"$TMP/err")" -eq 1 ] || not_ok "$name: one line ($(wc -l <"$TMP/err") lines)"
    [ "$(files_sum)" = "$before" ] && ok "$name: nothing replaced or added" ||
        not_ok "$name: nothing replaced or added"
}

# the control: a rewrite that changes nothing loads, resumes and translates
bad same.ckpt m.loom.ckpt
expect_status "an unchanged rewrite resumes" 0 "$LOOM" seq2seq p.tsv -o same.loom --epochs 2 \
    --resume same.ckpt --quiet
expect_status "and translates" 0 "$LOOM" translate same.ckpt in.txt --quiet

# ---- checkpoints are checked as the command line is ----
bad b1.ckpt m.loom.ckpt train_batch=-5
refused "train_batch -5" "b1.ckpt: metadata 'train_batch' must be at least 0, not -5" \
    "$LOOM" seq2seq p.tsv -o m2.loom --epochs 2 --resume b1.ckpt
bad b2.ckpt m.loom.ckpt train_batch=99999
refused "train_batch past the data" \
    "b2.ckpt: metadata 'train_batch' is 99999, but the data make 1 batches of 64" \
    "$LOOM" seq2seq p.tsv -o m2.loom --epochs 2 --resume b2.ckpt --quiet
bad e.ckpt m.loom.ckpt train_epoch=-1000000
refused "train_epoch -1000000" "e.ckpt: metadata 'train_epoch' must be between 0 and 1000000" \
    timeout 60 "$LOOM" seq2seq p.tsv -o m2.loom --epochs 2 --resume e.ckpt
bad lr.ckpt m.loom.ckpt lr=nan
refused "lr nan" "lr.ckpt: metadata 'lr' expects a number, not 'nan'" \
    "$LOOM" seq2seq p.tsv -o m2.loom --epochs 2 --resume lr.ckpt
bad clip.ckpt m.loom.ckpt clip=-1
refused "clip -1" "clip.ckpt: metadata 'clip' must be between 0 and 1e\+09, not -1" \
    "$LOOM" seq2seq p.tsv -o m2.loom --epochs 2 --resume clip.ckpt
bad ls.ckpt m.loom.ckpt label_smoothing=2
refused "label_smoothing 2" "ls.ckpt: metadata 'label_smoothing' must be between 0 and 0.99, not 2" \
    "$LOOM" seq2seq p.tsv -o m2.loom --epochs 2 --resume ls.ckpt
# the same rule, word for word, on the command line (a usage error there)
expect_status "--label-smoothing 2 on the command line: exit 2" 2 "$LOOM" seq2seq p.tsv \
    -o m2.loom --label-smoothing 2
expect_grep "with the same reason" "--label-smoothing must be between 0 and 0.99, not 2" "$TMP/err"

# ---- sizes are checked against the tensors before memory is taken ----
# peak KB of a command's run: the child's maximum resident set size
peak_kb() {
    "$PY" -c 'import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$@"
}
bad h.loom m.loom hidden=4096 attn_dim=4096
refused "hidden 4096 (info)" \
    "h.loom: tensor 'encoder.weight_ih_l0' has shape \(8,24\), expected \(8,12288\), as metadata 'emb' 8, 'hidden' 4096" \
    "$LOOM" info h.loom
kb=$(peak_kb "$LOOM" info h.loom)
[ "$kb" -lt 100000 ] && ok "hidden 4096: peak RSS $kb KB, under 100 MB" ||
    not_ok "hidden 4096: peak RSS $kb KB, not under 100 MB"
bad h2.loom m.loom hidden=16384 attn_dim=16384
kb=$(peak_kb "$LOOM" translate h2.loom in.txt)
[ "$kb" -lt 100000 ] && ok "hidden 16384: peak RSS $kb KB, under 100 MB" ||
    not_ok "hidden 16384: peak RSS $kb KB, not under 100 MB"
refused "hidden 16384 (translate)" "h2.loom: tensor .* as metadata 'emb' 8, 'hidden' 16384" \
    "$LOOM" translate h2.loom in.txt

# ---- silent wrong answers ----
bad v.loom m.loom reverse:src_vocab
refused "vocabulary out of order" "v.loom: metadata 'src_vocab' line 1 is out of order" \
    "$LOOM" translate v.loom in.txt
bad nan.loom m.loom fill:out.weight:nan fill:out.bias:nan
refused "NaN weights" "nan.loom: tensor 'out.weight' holds NaN \(element 0\)" \
    "$LOOM" translate nan.loom in.txt
bad inf.loom m.loom fill:decoder.weight_hh:inf
refused "infinite weights" "inf.loom: tensor 'decoder.weight_hh' holds an infinity" \
    "$LOOM" translate inf.loom in.txt
bad d.loom m.loom dropout=nan
refused "dropout nan" "d.loom: metadata 'dropout' expects a number, not 'nan'" \
    "$LOOM" translate d.loom in.txt
bad k.loom m.loom "src_tokenizer=keep_case=7 punct=keep invalid=error pretokenized=0"
refused "keep_case=7" "k.loom: metadata 'src_tokenizer' is not 'keep_case=0\|1 " \
    "$LOOM" translate k.loom in.txt
refused "keep_case=7 (info)" "k.loom: metadata 'src_tokenizer'" "$LOOM" info k.loom
bad k2.ckpt m.loom.ckpt "tgt_tokenizer=keep_case=0 punct=keep invalid=error pretokenized=2"
refused "pretokenized=2 in a checkpoint" "k2.ckpt: metadata 'tgt_tokenizer'" \
    "$LOOM" seq2seq p.tsv -o m2.loom --epochs 2 --resume k2.ckpt

finish
