# src/core: sources, headers, commands and tests of this layer.

# core A: BLAS wrappers, parameters, dense/conv/embedding layers, losses,
# optimizers (and tests/test_core, scripts/bench-core).
libloom_la_SOURCES += \
	src/core/blas.c src/core/param.c src/core/dense.c src/core/activation.c \
	src/core/embedding.c src/core/conv1d.c src/core/dropout.c src/core/loss.c \
	src/core/optim.c src/core/concat.c src/core/select.c

noinst_HEADERS += \
	src/core/blas.h src/core/param.h src/core/dense.h src/core/activation.h \
	src/core/embedding.h src/core/conv1d.h src/core/dropout.h src/core/loss.h \
	src/core/optim.h src/core/concat.h src/core/select.h

check_PROGRAMS += tests/test_safetensors tests/helper_params_save
TESTS += tests/test_safetensors tests/e2e/test_safetensors_python.sh
EXTRA_DIST += tests/e2e/test_safetensors_python.sh
tests_test_safetensors_SOURCES = tests/test_safetensors.c tests/testutil.c tests/testutil.h
tests_test_safetensors_CFLAGS = $(TEST_CFLAGS)
tests_test_safetensors_LDADD = $(TEST_LIBS)
tests_helper_params_save_SOURCES = tests/helper_params_save.c
tests_helper_params_save_LDADD = libloom.la

# core B: recurrent layers and attention
libloom_la_SOURCES += src/core/rnn.c src/core/attention.c src/core/vmath.c src/core/smallgemm.c \
	src/core/packmm.c src/core/gemm_bf16.c \
	src/core/attn_rnn.c
noinst_HEADERS += src/core/rnn.h src/core/attention.h src/core/attn_rnn.h
noinst_HEADERS += src/core/vmath.h src/core/smallmm.h src/core/smallgemm16.h src/core/packmm.h src/core/gemm_bf16.h
check_PROGRAMS += tests/test_rnn
TESTS += tests/test_rnn
tests_test_rnn_SOURCES = tests/test_rnn.c
tests_test_rnn_CFLAGS = $(TEST_CFLAGS)
tests_test_rnn_LDADD = $(TEST_LIBS)
EXTRA_DIST += tests/fixtures/core/make_rnn_fixtures.py \
	tests/fixtures/core/rnn_elman.safetensors tests/fixtures/core/rnn_elman_bi.safetensors \
	tests/fixtures/core/rnn_gru.safetensors tests/fixtures/core/rnn_gru_bi.safetensors \
	tests/fixtures/core/rnn_gru_long.safetensors tests/fixtures/core/rnn_lstm.safetensors \
	tests/fixtures/core/rnn_lstm_bi.safetensors tests/fixtures/core/rnn_lstm_long.safetensors \
	tests/fixtures/core/rnn_attn_bahdanau.safetensors tests/fixtures/core/rnn_attn_dot.safetensors \
	tests/fixtures/core/rnn_attn_general.safetensors \
	tests/fixtures/core/rnn_attn_rnn_gru.safetensors tests/fixtures/core/rnn_attn_rnn_lstm.safetensors
# core B: scripts/bench-rnn's driver, built with the tests so it keeps compiling.
check_PROGRAMS += tests/bench_rnn
tests_bench_rnn_SOURCES = tests/bench_rnn.c
tests_bench_rnn_LDADD = libloom.la $(OPENBLAS_LIBS)

check_PROGRAMS += tests/test_core
TESTS += tests/test_core
EXTRA_DIST += tests/fixtures/core/make_core_fixtures.py \
	tests/fixtures/core/dense.safetensors tests/fixtures/core/conv_same.safetensors \
	tests/fixtures/core/conv_valid.safetensors tests/fixtures/core/xent.safetensors \
	tests/fixtures/core/sigmoid_loss.safetensors tests/fixtures/core/activations.safetensors \
	tests/fixtures/core/optim.safetensors tests/fixtures/core/dense_blocks.safetensors \
	tests/fixtures/core/xent_sum.safetensors
tests_test_core_SOURCES = tests/test_core.c
tests_test_core_CFLAGS = $(TEST_CFLAGS)
tests_test_core_LDADD = $(TEST_LIBS)
# scripts/bench-core's driver; built with the tests so it keeps compiling.
check_PROGRAMS += tests/bench_core
tests_bench_core_SOURCES = tests/bench_core.c
tests_bench_core_LDADD = libloom.la $(OPENBLAS_LIBS)
# which OpenBLAS kernels the loom command runs with (core/blas.h)
TESTS += tests/e2e/test_blas.sh
EXTRA_DIST += tests/e2e/test_blas.sh

# the mean of a bag of embedding rows (fastText's input layer; src/classify)
libloom_la_SOURCES += src/core/bag.c
noinst_HEADERS += src/core/bag.h
check_PROGRAMS += tests/test_bag
TESTS += tests/test_bag
EXTRA_DIST += tests/fixtures/core/make_bag_fixtures.py tests/fixtures/core/bag.safetensors
tests_test_bag_SOURCES = tests/test_bag.c
tests_test_bag_CFLAGS = $(TEST_CFLAGS)
tests_test_bag_LDADD = $(TEST_LIBS)

# convolution + max-pool over time on packed sequences, with a backward
# pass through the maxima only (src/classify's CNN)
libloom_la_SOURCES += src/core/convpool.c
noinst_HEADERS += src/core/convpool.h
check_PROGRAMS += tests/test_convpool
TESTS += tests/test_convpool
tests_test_convpool_SOURCES = tests/test_convpool.c
tests_test_convpool_CFLAGS = $(TEST_CFLAGS)
tests_test_convpool_LDADD = $(TEST_LIBS)

# the bfloat16 product and loom_gemm's precision switch (core/gemm_bf16.h);
# tests/e2e/test_bf16.sh runs test_bf16 again under LOOM_NO_AVX512
check_PROGRAMS += tests/test_bf16
TESTS += tests/test_bf16 tests/e2e/test_bf16.sh
EXTRA_DIST += tests/e2e/test_bf16.sh
tests_test_bf16_SOURCES = tests/test_bf16.c
tests_test_bf16_CFLAGS = $(TEST_CFLAGS)
tests_test_bf16_LDADD = $(TEST_LIBS)
