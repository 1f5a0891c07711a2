# End-to-end: what `-o` does to what is already there. A regular file is
# replaced atomically; a symbolic link is followed and its target replaced;
# a device or FIFO is written in place and stays what it was; a file that
# is also an input (by any name) is refused before any work, and left as it
# was; an empty name is an error.
. "$LOOM_SRCDIR/tests/e2e/lib.sh"
cd "$TMP" || exit 1

# kind NAME FILE WANT: `stat` reports FILE as WANT.
kind() {
    got=$(stat -c %F "$2" 2>/dev/null)
    if [ "$got" = "$3" ]; then ok "$1"; else not_ok "$1 (is '$got', want '$3')"; fi
}
# same_text NAME FILE TEXT: FILE holds exactly TEXT and a newline.
same_text() {
    if [ "$(cat "$2")" = "$3" ]; then ok "$1"; else not_ok "$1 (holds '$(cat "$2")')"; fi
}

echo "hello world" >in.txt
expect_status "-o /dev/null works" 0 "$LOOM" tokenize -o /dev/null in.txt
kind "/dev/null stays a character device" /dev/null "character special file"
"$LOOM" tokenize -o /dev/stdout in.txt 2>"$TMP/err" | cat >piped.txt
same_text "-o /dev/stdout through a pipe reaches the pipe" piped.txt "hello world"
echo "first" >log.txt
"$LOOM" tokenize -o /dev/stdout in.txt >>log.txt 2>"$TMP/err"
if [ "$(cat log.txt)" = "$(printf 'first\nhello world')" ]; then ok "-o /dev/stdout with >> appends"; else
    not_ok "-o /dev/stdout with >> appends (log holds '$(cat log.txt)')"
fi

mkfifo fifo
cat fifo >fifo.out &
reader=$!
expect_status "-o FIFO works" 0 "$LOOM" tokenize -o fifo in.txt
wait "$reader"
kind "the FIFO stays a FIFO" fifo "fifo"
same_text "the FIFO's reader got the output" fifo.out "hello world"

echo "old" >target.txt
ln -s target.txt link.txt
expect_status "-o SYMLINK works" 0 "$LOOM" tokenize -o link.txt in.txt
kind "the link stays a link" link.txt "symbolic link"
same_text "the link's target holds the output" target.txt "hello world"
mkdir sub
ln -s ../made.txt sub/dangling
expect_status "-o to a dangling relative link works" 0 "$LOOM" tokenize -o sub/dangling in.txt
same_text "the file the link names is created" made.txt "hello world"
kind "the dangling link stays a link" sub/dangling "symbolic link"

expect_status "-o '' is refused" 1 "$LOOM" tokenize -o '' in.txt
expect_grep "saying the name is empty" '^loom: output file name is empty$' "$TMP/err"

# Each command that reads files: its output may not be one of them.
printf 'the cat sat on the mat\nthe dog sat on the log\n' >c.txt
cp c.txt c.orig
ln c.txt hard.txt
expect_status "tokenize -o INPUT is refused" 1 "$LOOM" tokenize c.txt -o c.txt
expect_grep "naming the file" '^loom: c\.txt: will not write over an input$' "$TMP/err"
expect_status "vocab -o INPUT is refused" 1 "$LOOM" vocab c.txt -o c.txt
expect_status "embed -o INPUT is refused" 1 "$LOOM" embed c.txt -o c.txt --epochs 1 --min-count 1 --quiet
expect_status "embed --save-vocab INPUT is refused" 1 "$LOOM" embed c.txt -o v.bin --save-vocab hard.txt --min-count 1 --quiet
expect_grep "naming both names of the file" 'hard\.txt: will not write over an input \(the same file as c\.txt\)' "$TMP/err"
cp "$FIXTURES/vectors/small-gensim.txt" vec.txt
cp vec.txt vec.orig
expect_status "convert IN IN is refused" 1 "$LOOM" convert vec.txt vec.txt
ln -s vec.txt veclink.txt
expect_status "convert IN LINK-TO-IN is refused" 1 "$LOOM" convert vec.txt veclink.txt
expect_same "the vector file is untouched" vec.orig vec.txt
i=0
while [ $i -lt 50 ]; do printf 'a b\tb a\n'; i=$((i + 1)); done >p.tsv
cp p.tsv p.orig
expect_status "seq2seq -o PAIRS is refused" 1 "$LOOM" seq2seq p.tsv -o p.tsv --epochs 1 --quiet
expect_grep "before training" 'p\.tsv: will not write over an input' "$TMP/err"
expect_same "the pairs file is untouched" p.orig p.tsv
expect_same "the corpus is untouched" c.orig c.txt
kind "the hard link is still a file" hard.txt "regular file"

finish
