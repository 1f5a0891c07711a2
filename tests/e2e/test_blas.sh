#!/bin/sh
# OpenBLAS's kernels: `loom --version` names the set in use; on a CPU with
# AVX2 and FMA the command never runs OpenBLAS's generic SSE3 kernels (which
# OpenBLAS falls back to for CPU models it does not know: loom starts itself
# again with OPENBLAS_CORETYPE set), and a set the user chose is kept. It
# also names loom's own kernels (core/vmath.h's dispatch point).
. "$LOOM_SRCDIR/tests/e2e/lib.sh"

expect_status "--version runs" 0 env -u OPENBLAS_CORETYPE "$LOOM" --version
expect_grep "--version names the OpenBLAS kernels and loom's" '^loom [0-9.]+ \(OpenBLAS kernels: [A-Za-z0-9_]+; loom kernels: (portable|avx2|avx512); (no MPI|MPI: [^)]+)\)$' "$TMP/out"
core=$(sed -n 's/.*OpenBLAS kernels: \([A-Za-z0-9_]*\).*/\1/p' "$TMP/out")
if grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo; then
    case $core in
    Prescott | Core2 | Penryn | Dunnington | Nehalem | Atom | Nano) not_ok "AVX2 CPU runs generic kernels ($core)" ;;
    *) ok "AVX2 CPU runs AVX2-or-better kernels ($core)" ;;
    esac
else
    ok "no AVX2 on this CPU: kernels $core kept"
fi
# the restart keeps arguments, standard input and the exit status
printf 'Hello, World!\n' | env -u OPENBLAS_CORETYPE "$LOOM" tokenize >"$TMP/tok" 2>"$TMP/err"
printf 'hello , world !\n' >"$TMP/tok.want"
expect_same "stdin and arguments survive the restart" "$TMP/tok.want" "$TMP/tok"
expect_status "a usage error keeps exit 2 through the restart" 2 env -u OPENBLAS_CORETYPE "$LOOM" tokenize --nosuchflag
expect_status "OPENBLAS_CORETYPE given by the user" 0 env OPENBLAS_CORETYPE=Haswell "$LOOM" --version
expect_grep "is kept" 'OpenBLAS kernels: Haswell' "$TMP/out"
# loom's own SIMD kernels: LOOM_NO_AVX2 gives the portable ones (what they
# compute is checked in test_rnn's "portable" case)
expect_status "LOOM_NO_AVX2=1" 0 env LOOM_NO_AVX2=1 "$LOOM" --version
expect_grep "gives the portable kernels" 'loom kernels: portable;' "$TMP/out"
if grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo; then
    expect_status "LOOM_NO_AVX512=1" 0 env LOOM_NO_AVX512=1 "$LOOM" --version
    expect_grep "gives AVX2's on this CPU" 'loom kernels: avx2;' "$TMP/out"
fi
finish
