# End-to-end: hostile and unusual inputs (issue 14's reproducers). Each
# gives one line naming the file (and line or record), exit 1, and stays
# within 100 MB of memory; inputs that work elsewhere (a FIFO, a gzip or
# piped model, a byte-order mark) work here too.
. "$LOOM_SRCDIR/tests/e2e/lib.sh"
cd "$TMP" || exit 1

# peak NAME CMD...: CMD's peak resident memory is under 100 MB (its exit
# status and stderr are left in $TMP/status and $TMP/err).
peak() {
    local name=$1
    shift
    /usr/bin/time -f '%M' -o "$TMP/rss" "$@" >"$TMP/out" 2>"$TMP/err"
    echo $? >"$TMP/status"
    local kb
    kb=$(tail -1 "$TMP/rss")
    if [ "$kb" -lt 102400 ]; then ok "$name: peak RSS ${kb} KB"; else not_ok "$name: peak RSS ${kb} KB"; fi
}
status_is() {
    if [ "$(cat "$TMP/status")" = "$2" ]; then ok "$1"; else
        not_ok "$1 (exit $(cat "$TMP/status"), want $2)"
        head -3 "$TMP/err" | sed 's/^/  stderr: /'
    fi
}
# one_line NAME: stderr is exactly one line.
one_line() { expect_lines "$1" 1 "$TMP/err"; }

i=0
while [ $i -lt 50 ]; do printf 'a b\tb a\n'; i=$((i + 1)); done >p.tsv
expect_status "a small model trains" 0 "$LOOM" seq2seq p.tsv -o m.loom --emb 8 --hidden 8 --epochs 1 --quiet

# -- bombs and limits
/usr/bin/python3 - <<'EOF'
import gzip, json, struct, zlib
d = open("m.loom", "rb").read()
n = struct.unpack("<Q", d[:8])[0]
h = json.loads(d[8:8 + n])
data = d[8 + n:]
pad = 256 << 20  # an unused tensor of 256 MB of zeros: about 250 KB compressed
h["zz_pad"] = {"dtype": "F32", "shape": [pad // 4], "data_offsets": [len(data), len(data) + pad]}
hj = json.dumps(h).encode()
hj += b" " * (-len(hj) % 8)
co = zlib.compressobj(1, zlib.DEFLATED, 31)
with open("bomb.loom.gz", "wb") as f:
    f.write(co.compress(struct.pack("<Q", len(hj)) + hj + data))
    zeros = bytes(1 << 24)
    for _ in range(pad // len(zeros)):
        f.write(co.compress(zeros))
    f.write(co.flush())
# a vector row that never ends: 32 MB of "0 " after the word
co = zlib.compressobj(9, zlib.DEFLATED, 31)
with open("endless.txt.gz", "wb") as f:
    f.write(co.compress(b"2 4\nw 0.1 0.2 0.3 0.4\nv "))
    piece = b"0 " * (1 << 20)
    for _ in range(16):
        f.write(co.compress(piece))
    f.write(co.flush())
# a header claiming 16M dimensions over 1 MB of text, read as a stream
with gzip.open("sniff.txt.gz", "wb", compresslevel=1) as f:
    f.write(b"1 16777216\nw " + b"0 " * 500000 + b"\n")
open("long.txt", "w").write("a " * 10_000_000 + "\n")
EOF
peak "a .loom.gz with an unused 256 MB tensor" "$LOOM" translate bomb.loom.gz p.tsv
status_is "is refused" 1
expect_grep "naming the file and the tensor" "^loom: bomb\.loom\.gz: tensor 'zz_pad' is not a parameter of this model$" "$TMP/err"
peak "a .txt.gz vector row that never ends" "$LOOM" info endless.txt.gz
status_is "is refused" 1
expect_grep "naming the file and record" '^loom: endless\.txt\.gz: record 2 \(byte [0-9]+\): row longer than' "$TMP/err"
peak "a streamed header claiming 16M dimensions" "$LOOM" info - <sniff.txt.gz
status_is "is refused" 1
expect_grep "as a short row of stdin" "^loom: <stdin>: record 1 \('w'\): short row: 500000 values, expected 16777216$" "$TMP/err"
peak "bleu on a 20 MB line" "$LOOM" bleu long.txt long.txt
status_is "is refused" 1
expect_grep "naming file, line and the flag" '^loom: long\.txt:1: line longer than 1048576 bytes \(--max-line raises the limit\)$' "$TMP/err"
expect_status "bleu --max-line lowers the limit" 1 "$LOOM" bleu --max-line 64 -b "$FIXTURES/bleu/ref.txt" "$FIXTURES/bleu/ref.txt"
head -c 1500000 long.txt >mid.txt
echo >>mid.txt
expect_status "and raises it" 0 "$LOOM" bleu --max-line 2000000 -b mid.txt mid.txt
expect_grep "scoring the longer line" '^100\.00 100\.00$' "$TMP/out"

# -- inputs that work elsewhere
expect_status "translate reads the model" 0 "$LOOM" translate m.loom p.tsv --quiet
cp "$TMP/out" want.txt
gzip -c m.loom >m.loom.gz
expect_status "info reads a .loom.gz model" 0 "$LOOM" info m.loom.gz
expect_grep "as a model" '^format: +loom-seq2seq' "$TMP/out"
"$LOOM" info - <m.loom >"$TMP/out" 2>"$TMP/err"
expect_grep "info - < model.loom reads the model" '^format: +loom-seq2seq' "$TMP/out"
printf 'the cat sat on the mat\nthe dog sat on the log\n' >c.txt
i=0
while [ $i -lt 7 ]; do cat c.txt c.txt c.txt c.txt; i=$((i + 1)); done >corpus.txt
mkfifo fifo
cat corpus.txt >fifo &
expect_status "embed reads a FIFO" 0 "$LOOM" embed fifo -o v.txt --dim 4 --min-count 1 --epochs 1 --threads 2 --quiet
wait
expect_grep "and trains on all of it" '^7 4$' v.txt
printf '\357\273\2772 3\na 1 2 3\nb 4 5 6\n' >bom.txt
expect_status "a vector file starting with a byte-order mark loads" 0 "$LOOM" info bom.txt
expect_grep "with its two words" '^words: +2$' "$TMP/out"

# -- messages that name their file and line
printf 'good line\nbad \377 byte\n' >bad.txt
expect_status "embed on invalid UTF-8 fails" 1 "$LOOM" embed bad.txt -o b.bin --min-count 1 --threads 2 --quiet
expect_grep "naming file, line and byte as vocab does" '^loom: bad\.txt:2: invalid UTF-8 at byte 14$' "$TMP/err"
expect_status "vocab on invalid UTF-8 fails" 1 "$LOOM" vocab bad.txt -o /dev/null --quiet
expect_grep "with the same line and byte" '^loom: bad\.txt:2: invalid UTF-8 at byte 14$' "$TMP/err"
printf -- '-3 4\na 1 2 3 4\n' >h1.txt
printf 'abc 4\na 1 2 3 4\n' >h2.txt
printf '3 4 5\na 1 2 3 4\n' >h3.txt
expect_status "header '-3 4' is refused" 1 "$LOOM" info h1.txt
expect_grep "as a bad header" "^loom: h1\.txt: line 1: '-3 4' is not an 'N D' header" "$TMP/err"
expect_status "header '3 4 5' is refused" 1 "$LOOM" info h3.txt
expect_grep "as a bad header" "^loom: h3\.txt: line 1: '3 4 5' is not an 'N D' header" "$TMP/err"
expect_status "header 'abc 4' is refused" 1 "$LOOM" info h2.txt
expect_grep "saying line 1 was read as a row" "h2\.txt: record 2 .*line 1 has two fields, so it was read as a row of dimension 1" "$TMP/err"
/usr/bin/python3 -c "
import gzip, random, zlib
raw = b'2000 3\n' + b''.join(b'w%d 1 2 3\n' % i for i in range(2000))
d = gzip.compress(raw)
for seed in range(1000):
    r = random.Random(seed); b = bytearray(d)
    for k in range(5): b[r.randrange(30, len(b) - 20)] ^= 0xff
    try: zlib.decompress(bytes(b), 31)
    except zlib.error as e:
        if 'invalid' in str(e):
            open('corrupt.txt.gz', 'wb').write(bytes(b)); break
"
expect_status "a corrupt .gz vector file is refused" 1 "$LOOM" info corrupt.txt.gz
expect_grep "naming the file, not <fd:N>" '^loom: corrupt\.txt\.gz: invalid' "$TMP/err"
one_line "in one line"
expect_status "a corrupt .gz corpus is refused" 1 "$LOOM" vocab corrupt.txt.gz -o /dev/null
expect_grep "naming the file, not <fd:N>" '^loom: corrupt\.txt\.gz: corrupt gzip data: invalid' "$TMP/err"
expect_status "bleu --ref-column x is a usage error" 2 "$LOOM" bleu --ref-column x p.tsv p.tsv
expect_grep "naming the option once" "^loom bleu: --ref-column expects an integer, not 'x'" "$TMP/err"
printf 'the 3\ncat\000x 1\n' >nul.vocab
expect_status "a vocabulary with a NUL byte in a word is refused (found by fuzz_vocab)" 1 \
    "$LOOM" embed c.txt -o n.bin --read-vocab nul.vocab --quiet
expect_grep "naming the file and line" '^loom: nul\.vocab:2: NUL byte in the line$' "$TMP/err"
expect_status "-o '' is refused" 1 "$LOOM" convert bom.txt ''
expect_grep "saying the name is empty" '^loom: output file name is empty$' "$TMP/err"

finish
