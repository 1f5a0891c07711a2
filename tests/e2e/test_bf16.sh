# End-to-end: loom seq2seq --precision fp32|bf16 (core/gemm_bf16.h).
# fp32 is the default and gives the same model bytes as no flag; bf16 needs
# AVX-512 BF16 and is refused with one line (exit 2) without it, or under
# LOOM_NO_AVX512; where the CPU has it, a short bf16 run's loss falls as
# fp32's does. test_bf16 runs again under LOOM_NO_AVX512: the fallback.
. "$LOOM_SRCDIR/tests/e2e/lib.sh"
TRAIN="$FIXTURES/seq/reverse-train.tsv"
SMALL="--emb 16 --hidden 32 --batch 32 --lr 0.01"

# the kernel's fallback: loom_gemm_bf16 is sgemm, bit for bit
if LOOM_NO_AVX512=1 "$LOOM_BUILDDIR/tests/test_bf16" >"$TMP/out" 2>&1; then
    ok "test_bf16 under LOOM_NO_AVX512 (the float32 fallback)"
else
    not_ok "test_bf16 under LOOM_NO_AVX512"; tail -3 "$TMP/out"
fi

# fp32 is the default, bit for bit, and writes no precision key
"$LOOM" seq2seq "$TRAIN" -o "$TMP/default.loom" $SMALL --epochs 1 --quiet
expect_status "--precision fp32 trains" 0 "$LOOM" seq2seq "$TRAIN" -o "$TMP/fp32.loom" $SMALL \
    --epochs 1 --quiet --precision fp32
expect_same "--precision fp32: the same model bytes as without it" "$TMP/default.loom" "$TMP/fp32.loom"
"$LOOM" info "$TMP/fp32.loom" >"$TMP/info"
if grep -q precision "$TMP/info"; then not_ok "an fp32 model names no precision"; else
    ok "an fp32 model names no precision"; fi

expect_status "--precision bf32: usage error" 2 "$LOOM" seq2seq "$TRAIN" -o "$TMP/x.loom" --precision bf32
expect_grep "it names the choices" "--precision expects fp32.bf16, not 'bf32'" "$TMP/err"

has_bf16=0
grep -qw avx512_bf16 /proc/cpuinfo 2>/dev/null && has_bf16=1
if [ "$has_bf16" = 0 ]; then
    expect_status "--precision bf16 without AVX-512 BF16: exit 2" 2 "$LOOM" seq2seq "$TRAIN" \
        -o "$TMP/x.loom" --precision bf16
else
    expect_status "--precision bf16 under LOOM_NO_AVX512: exit 2" 2 env LOOM_NO_AVX512=1 \
        "$LOOM" seq2seq "$TRAIN" -o "$TMP/x.loom" --precision bf16
fi
expect_grep "one line naming what is missing" "needs a CPU with AVX-512 BF16" "$TMP/err"
expect_lines "one line" 1 "$TMP/err"
[ ! -e "$TMP/x.loom" ] && ok "no model written" || not_ok "no model written"

if [ "$has_bf16" = 1 ]; then
    # the same short run in both precisions: the loss falls alike
    for p in fp32 bf16; do
        "$LOOM" seq2seq "$TRAIN" -o "$TMP/$p.loom" $SMALL --epochs 4 --precision "$p" 2>"$TMP/$p.err"
        sed -n 's/.*epoch \([0-9]\)\/4: .*train loss \([0-9.]*\),.*/\2/p' "$TMP/$p.err" >"$TMP/$p.loss"
    done
    expect_lines "bf16: four epochs' losses" 4 "$TMP/bf16.loss"
    if awk 'NR == FNR { f[FNR] = $1; next } { b[FNR] = $1 }
            END { exit !(b[4] < b[1] / 4 && b[4] <= 1.5 * f[4] && b[1] <= 1.1 * f[1]) }' \
        "$TMP/fp32.loss" "$TMP/bf16.loss"; then
        ok "bf16 loss falls as fp32's: $(tr '\n' ' ' <"$TMP/bf16.loss")against $(tr '\n' ' ' <"$TMP/fp32.loss")"
    else
        not_ok "bf16 loss $(tr '\n' ' ' <"$TMP/bf16.loss")against fp32 $(tr '\n' ' ' <"$TMP/fp32.loss")"
    fi
    if cmp -s "$TMP/fp32.loom" "$TMP/bf16.loom"; then not_ok "bf16 computes differently"; else
        ok "bf16 computes differently"; fi
    "$LOOM" info "$TMP/bf16.loom" >"$TMP/info"
    expect_grep "a bf16 model says so" "precision.*bf16" "$TMP/info"
fi

finish
