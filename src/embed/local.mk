# src/embed: vector files, nearest/analogy queries, evaluation; the
# commands nearest, analogy, eval, convert, info; their tests.
# (The word2vec trainer has its own fragment, train.mk.)
libloom_la_SOURCES += src/embed/vectors.c src/embed/query.c src/embed/eval.c

noinst_HEADERS += src/embed/vectors.h src/embed/query.h src/embed/eval.h

loom_SOURCES += tools/veccli.c tools/nearest.c tools/analogy.c tools/eval.c tools/convert.c tools/info.c
noinst_HEADERS += tools/veccli.h
loom_LDADD += $(JANSSON_LIBS)

TESTS += tests/e2e/test_vectors.sh tests/e2e/test_vectors_gensim.sh
EXTRA_DIST += tests/e2e/test_vectors.sh tests/e2e/test_vectors_gensim.sh tests/fixtures/vectors

check_PROGRAMS += tests/test_vectors
TESTS += tests/test_vectors
tests_test_vectors_SOURCES = tests/test_vectors.c tests/testutil.c tests/testutil.h
tests_test_vectors_CFLAGS = $(TEST_CFLAGS)
tests_test_vectors_LDADD = $(TEST_LIBS)
EXTRA_DIST += tests/fuzz/fuzz_vectors.c
