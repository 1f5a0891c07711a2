# src/seq: sources, headers, commands and tests of this layer.

# bleu and chrF (corpus BLEU-4 and chrF as sacreBLEU; `loom bleu`)
libloom_la_SOURCES += src/seq/bleu.c
loomseqbleuincdir = $(includedir)/loom/seq
loomseqbleuinc_HEADERS = src/seq/bleu.h
loom_SOURCES += tools/bleu.c
check_PROGRAMS += tests/test_bleu
TESTS += tests/test_bleu tests/e2e/test_bleu.sh
EXTRA_DIST += tests/e2e/test_bleu.sh tests/fixtures/bleu
tests_test_bleu_SOURCES = tests/test_bleu.c
tests_test_bleu_CFLAGS = $(TEST_CFLAGS)
tests_test_bleu_LDADD = $(TEST_LIBS)
