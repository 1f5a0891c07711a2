# src/text: tokenizer, vocabulary and subword models, their commands and tests.
libloom_la_SOURCES += src/text/tokenizer.c src/text/vocab.c src/text/subword.c \
	src/text/subword_stream.c

noinst_HEADERS += src/text/tokenizer.h src/text/vocab.h src/text/subword.h \
	src/text/subword_module.h

# SentencePiece (C++) is a module that libloom opens when the first subword
# model is loaded or trained (src/text/subword_module.h): the other commands
# do not load it and the C++ run-time. It reaches libloom through the
# table libloom hands it (subword_host.c).
pkglib_LTLIBRARIES = loom_subword.la
loom_subword_la_SOURCES = src/text/subword.cc src/text/subword_host.c
loom_subword_la_CXXFLAGS = $(AM_CXXFLAGS) -fvisibility=hidden
loom_subword_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden
loom_subword_la_LIBADD = $(SENTENCEPIECE_LIBS)
loom_subword_la_LDFLAGS = $(AM_LDFLAGS) -module -avoid-version -shared

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
