# src/classify: text classifiers (fastText's bag and Kim's CNN) on the core;
# `loom classify`.
libloom_la_SOURCES += src/classify/data.c src/classify/model.c src/classify/cnn.c \
	src/classify/train.c src/classify/eval.c
noinst_HEADERS += src/classify/data.h src/classify/model.h src/classify/cnn.h \
	src/classify/train.h src/classify/eval.h
loom_SOURCES += tools/classify.c
check_PROGRAMS += tests/test_classify
TESTS += tests/test_classify tests/e2e/test_classify.sh
EXTRA_DIST += tests/e2e/test_classify.sh tests/fixtures/classify tests/fuzz/fuzz_classify.c
tests_test_classify_SOURCES = tests/test_classify.c tests/testutil.c tests/testutil.h
tests_test_classify_CFLAGS = $(TEST_CFLAGS)
tests_test_classify_LDADD = $(TEST_LIBS)
