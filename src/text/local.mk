# src/text: tokenizer, vocabulary and subword models, their commands and tests.
libloom_la_SOURCES += src/text/tokenizer.c src/text/vocab.c src/text/subword.cc \
	src/text/subword_stream.c

noinst_HEADERS += src/text/tokenizer.h src/text/vocab.h src/text/subword.h

loom_SOURCES += tools/tokflags.c tools/tokenize.c tools/vocab.c tools/subword.c
noinst_HEADERS += tools/tokflags.h

check_PROGRAMS += tests/test_text
TESTS += tests/test_text
tests_test_text_SOURCES = tests/test_text.c tests/testutil.c tests/testutil.h
tests_test_text_CFLAGS = $(TEST_CFLAGS)
tests_test_text_LDADD = $(TEST_LIBS)
check_PROGRAMS += tests/test_subword
TESTS += tests/test_subword
tests_test_subword_SOURCES = tests/test_subword.c tests/testutil.c tests/testutil.h
tests_test_subword_CFLAGS = $(TEST_CFLAGS)
tests_test_subword_LDADD = $(TEST_LIBS)
TESTS += tests/e2e/test_text.sh tests/e2e/test_text_corpus.sh tests/e2e/test_subword.sh
EXTRA_DIST += tests/e2e/test_text.sh tests/e2e/test_text_corpus.sh tests/e2e/test_subword.sh \
	tests/fixtures/text tests/fixtures/subword
