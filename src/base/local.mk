# src/base: errors, allocation, reading, atomic writing, progress, RNG.
libloom_la_SOURCES += \
	src/base/error.c src/base/alloc.c src/base/reader.c src/base/writer.c \
	src/base/progress.c src/base/rng.c src/base/safetensors.c \
	src/base/parallel.c src/base/dist.c src/base/dl.c

noinst_HEADERS += \
	src/base/error.h src/base/alloc.h src/base/reader.h src/base/writer.h \
	src/base/progress.h src/base/rng.h src/base/safetensors.h
# internal: built into the library, not installed
noinst_HEADERS += src/base/parallel.h src/base/hash.h src/base/dist.h src/base/dl.h

check_PROGRAMS += tests/test_base tests/helper_slow_writer
TESTS += tests/test_base tests/e2e/test_cli.sh tests/e2e/test_atomic_write.sh tests/e2e/test_outputs.sh tests/e2e/test_hostile_inputs.sh tests/e2e/test_help_examples.sh tests/e2e/test_mpi.sh
EXTRA_DIST += tests/e2e/test_mpi.sh tests/e2e/st_compare.py tests/lsan-mpi.supp tests/e2e/test_cli.sh tests/e2e/test_atomic_write.sh tests/e2e/test_outputs.sh tests/e2e/test_hostile_inputs.sh tests/e2e/test_help_examples.sh
tests_test_base_SOURCES = tests/test_base.c tests/testutil.c tests/testutil.h
tests_test_base_CFLAGS = $(TEST_CFLAGS)
tests_test_base_LDADD = $(TEST_LIBS)
tests_helper_slow_writer_SOURCES = tests/helper_slow_writer.c
tests_helper_slow_writer_LDADD = libloom.la
