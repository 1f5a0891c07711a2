# End-to-end: `loom classify` train, test, predict and predict-prob on the
# pros-and-cons fixture; fastText's flag spellings and output lines; the
# exit status and message of each bad input; no partial model file.
. "$LOOM_SRCDIR/tests/e2e/lib.sh"
F="$FIXTURES/classify"

expect_status "train (fastText format, fastText's single-dash flags)" 0 \
    "$LOOM" classify train "$F/train.txt" -o "$TMP/m.loom" -epoch 10 -thread 1 -minCount 1 --seed 3
expect_grep "train summary on stderr" "trained bag on 30000 examples" "$TMP/err"
expect_status "test" 0 "$LOOM" classify test "$TMP/m.loom" "$F/test.txt"
expect_lines "test prints N, P@1, R@1" 3 "$TMP/out"
expect_grep "N line" "^N	500$" "$TMP/out"
awk -F'\t' '$1 == "P@1" && $2 > 0.85 { ok = 1 } END { exit !ok }' "$TMP/out" &&
    ok "P@1 above 0.85" || not_ok "P@1 above 0.85 ($(grep P@1 "$TMP/out"))"
expect_status "test --per-label" 0 "$LOOM" classify test "$TMP/m.loom" "$F/test.txt" --per-label
expect_grep "per-label line" "^F1-Score : 0\.[0-9]{6}  Precision : 0\.[0-9]{6}  Recall : 0\.[0-9]{6}   __label__(pro|con)$" "$TMP/out"
expect_grep "per-label general lines in fixed notation" "^P@1	0\.[0-9]{3}$" "$TMP/out"
expect_status "test with k 2 (positional, as fastText)" 0 "$LOOM" classify test "$TMP/m.loom" "$F/test.txt" 2
expect_grep "R@2 is 1 with two labels" "^R@2	1$" "$TMP/out"
expect_grep "P@2 is 0.5 with two labels" "^P@2	0.5$" "$TMP/out"
expect_status "test -k 2 -t 0.9 (flags)" 0 "$LOOM" classify test "$TMP/m.loom" "$F/test.txt" -k 2 -t 0.9
expect_grep "P@2 with a threshold is above 0.5" "^P@2	0\.(5[0-9]*[1-9]|[6-9])" "$TMP/out"

# fastText's losses for many labels: hierarchical softmax, negative sampling
for loss in hs ns; do
    expect_status "train -loss $loss" 0 "$LOOM" classify train "$F/train.txt" -o "$TMP/$loss.loom" -loss $loss -epoch 10 -thread 1 -neg 3 -q
    expect_status "test -loss $loss" 0 "$LOOM" classify test "$TMP/$loss.loom" "$F/test.txt"
    awk -F'\t' '$1 == "P@1" && $2 > 0.85 { ok = 1 } END { exit !ok }' "$TMP/out" &&
        ok "$loss: P@1 above 0.85" || not_ok "$loss: P@1 above 0.85 ($(grep P@1 "$TMP/out"))"
    expect_status "info names the loss" 0 "$LOOM" info "$TMP/$loss.loom"
    expect_grep "info: loss $loss" "^loss: +$loss$" "$TMP/out"
done
expect_status "--loss hs with the cnn is a usage error" 2 "$LOOM" classify train "$F/train.txt" -o "$TMP/x.loom" --arch cnn --loss hs

cut -d' ' -f2- "$F/test.txt" | head -n 20 >"$TMP/text"
expect_status "predict" 0 "$LOOM" classify predict "$TMP/m.loom" "$TMP/text"
expect_lines "one prediction per line" 20 "$TMP/out"
expect_grep "a label per line" "^__label__(pro|con)$" "$TMP/out"
expect_status "predict-prob from stdin, k 2" 0 sh -c "printf 'great zoom\n\nawful battery\n' | '$LOOM' classify predict-prob '$TMP/m.loom' - 2"
expect_lines "empty line still answered" 3 "$TMP/out"
expect_grep "label probability pairs" "^__label__(pro|con) [0-9.e-]+ __label__(pro|con) [0-9.e-]+$" "$TMP/out"
expect_status "threshold 1.1 is a usage error" 2 "$LOOM" classify predict "$TMP/m.loom" "$TMP/text" -t 1.1

expect_status "tsv data, word bigrams, loom's spellings" 0 \
    "$LOOM" classify train "$F/train.tsv" --tsv -o "$TMP/t.loom" --epochs 5 --threads 2 --word-ngrams 2 --bucket 100000 -q
[ -s "$TMP/err" ] && not_ok "--quiet prints nothing" || ok "--quiet prints nothing"
expect_status "test reads the model's own data format" 0 "$LOOM" classify test "$TMP/t.loom" "$F/test.tsv"
expect_status "info describes a classifier" 0 "$LOOM" info "$TMP/t.loom"
expect_grep "info: arch" "^arch: +bag" "$TMP/out"
expect_grep "info: n-grams" "^word n-grams: 2 \(100000 buckets\)" "$TMP/out"

# The CNN: trains with validation data, keeps its best epoch, predicts.
expect_status "cnn with --valid" 0 "$LOOM" classify train "$F/train.txt" -o "$TMP/c.loom" --arch cnn \
    --dim 24 --filters 16 --epochs 3 --valid "$F/test.txt" --seed 2 --threads 1
expect_grep "cnn keeps its best epoch" "kept epoch [1-3] of [1-3] \(validation P@1 0\.[0-9]+\)" "$TMP/err"
expect_status "cnn test" 0 "$LOOM" classify test "$TMP/c.loom" "$F/test.txt"
awk -F'\t' '$1 == "P@1" && $2 > 0.7 { ok = 1 } END { exit !ok }' "$TMP/out" &&
    ok "cnn P@1 above 0.7" || not_ok "cnn P@1 above 0.7 ($(grep P@1 "$TMP/out"))"
expect_status "cnn predict" 0 "$LOOM" classify predict "$TMP/c.loom" "$TMP/text"
expect_lines "cnn: one prediction per line" 20 "$TMP/out"
expect_status "info describes a cnn" 0 "$LOOM" info "$TMP/c.loom"
expect_grep "info: widths" "^widths: +3 4 5" "$TMP/out"
# Transfer: vectors from loom embed, frozen and in two channels.
cut -d' ' -f2- "$F/train.txt" >"$TMP/text.txt"
"$LOOM" embed "$TMP/text.txt" -o "$TMP/v.txt" --dim 24 --min-count 2 --epochs 1 --threads 1 -q
expect_status "cnn from vectors, two channels" 0 "$LOOM" classify train "$F/train.txt" -o "$TMP/v.loom" \
    --arch cnn --vectors "$TMP/v.txt" --channels 2 --filters 8 --epochs 1 --threads 1
expect_grep "coverage reported" "vectors .*v.txt: [0-9]+ of [0-9]+ words found \(coverage" "$TMP/err"
expect_status "frozen vectors (static)" 0 "$LOOM" classify train "$F/train.txt" -o "$TMP/s.loom" \
    --arch cnn --pretrainedVectors "$TMP/v.txt" --freeze --filters 8 --epochs 1 --threads 1 -q
expect_status "vectors of another dimension" 1 "$LOOM" classify train "$F/train.txt" -o "$TMP/x.loom" \
    --vectors "$TMP/v.txt" --dim 30
expect_status "--channels 2 without vectors" 2 "$LOOM" classify train "$F/train.txt" -o "$TMP/x.loom" --arch cnn --channels 2
expect_status "--wordNgrams with the cnn" 2 "$LOOM" classify train "$F/train.txt" -o "$TMP/x.loom" --arch cnn --wordNgrams 2
expect_status "the data file cannot be the output" 1 "$LOOM" classify train "$TMP/text.txt" -o "$TMP/text.txt"

# Bad input: one clear message naming the file (and line), status 1 or 2.
printf '__label__a fine\nno label here\n' >"$TMP/nolabel.txt"
expect_status "a line without a label" 1 "$LOOM" classify train "$TMP/nolabel.txt" -o "$TMP/bad.loom"
expect_grep "names file and line" "nolabel.txt:2: no label" "$TMP/err"
[ -e "$TMP/bad.loom" ] && not_ok "no model file after a failure" || ok "no model file after a failure"
: >"$TMP/empty.txt"
expect_status "an empty file" 1 "$LOOM" classify train "$TMP/empty.txt" -o "$TMP/bad.loom"
expect_grep "empty file named" "empty.txt: empty file" "$TMP/err"
printf '__label__pro ok\n__label__con bad \377 byte\n' >"$TMP/utf8.txt"
expect_status "invalid UTF-8" 1 "$LOOM" classify train "$TMP/utf8.txt" -o "$TMP/bad.loom"
expect_grep "invalid UTF-8 named" "utf8.txt:2" "$TMP/err"
printf '__label__pro fine\n__label__maybe what\n' >"$TMP/unknown.txt"
expect_status "an unknown label at test time" 1 "$LOOM" classify test "$TMP/m.loom" "$TMP/unknown.txt"
expect_grep "unknown label named" "unknown.txt:2: label '__label__maybe'" "$TMP/err"
expect_status "a model file of another kind" 1 "$LOOM" classify test "$F/train.txt" "$F/test.txt"
expect_grep "model file named" "train.txt" "$TMP/err"
expect_status "a vector file is not a model" 1 "$LOOM" classify predict "$FIXTURES/vectors/sotu.bin" "$TMP/text"
expect_status "unknown option" 2 "$LOOM" classify train "$F/train.txt" -o "$TMP/x.loom" --nonsense
expect_status "missing -o" 2 "$LOOM" classify train "$F/train.txt"
expect_status "unknown subcommand" 2 "$LOOM" classify fit "$F/train.txt"
expect_status "bad --loss" 2 "$LOOM" classify train "$F/train.txt" -o "$TMP/x.loom" --loss hinge
expect_status "help" 0 "$LOOM" classify --help
expect_grep "help lists fastText's flag names" "wordNgrams" "$TMP/out"

finish
