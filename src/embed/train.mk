# src/embed (trainer): the word2vec trainer, `loom embed`, its tests.
libloom_la_SOURCES += src/embed/word2vec.c src/embed/hogbatch.c src/embed/sampling.c \
	src/embed/huffman.c src/embed/shards.c src/embed/idstream.c

noinst_HEADERS += src/embed/word2vec.h
noinst_HEADERS += src/embed/hogbatch.h src/embed/sampling.h src/embed/huffman.h \
	src/embed/shards.h src/embed/idstream.h

loom_SOURCES += tools/embed.c

check_PROGRAMS += tests/test_word2vec
TESTS += tests/test_word2vec
tests_test_word2vec_SOURCES = tests/test_word2vec.c tests/testutil.c tests/testutil.h
tests_test_word2vec_CFLAGS = $(TEST_CFLAGS)
tests_test_word2vec_LDADD = $(TEST_LIBS)

TESTS += tests/e2e/test_embed.sh
EXTRA_DIST += tests/e2e/test_embed.sh
