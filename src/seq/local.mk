# src/seq: sources, headers, commands and tests of this layer.

# bleu and chrF (corpus BLEU-4 and chrF as sacreBLEU; `loom bleu`)
libloom_la_SOURCES += src/seq/bleu.c
noinst_HEADERS += src/seq/bleu.h
loom_SOURCES += tools/bleu.c
check_PROGRAMS += tests/test_bleu
TESTS += tests/test_bleu tests/e2e/test_bleu.sh tests/e2e/test_tatoeba_corpus.sh
EXTRA_DIST += tests/e2e/test_bleu.sh tests/e2e/test_tatoeba_corpus.sh tests/fixtures/bleu
tests_test_bleu_SOURCES = tests/test_bleu.c
tests_test_bleu_CFLAGS = $(TEST_CFLAGS)
tests_test_bleu_LDADD = $(TEST_LIBS)

# the encoder-decoder: data, model, file format, training, decoding;
# `loom seq2seq`, `loom translate`
libloom_la_SOURCES += src/seq/data.c src/seq/model.c src/seq/model_file.c src/seq/options.c \
	src/seq/train.c src/seq/run.c src/seq/decode.c src/seq/transfer.c src/seq/translator.c \
	src/seq/api.c src/seq/average.c src/seq/shortlist.c src/seq/stream.c
# the model's parameters (params.c) and passes (model.c) share model_impl.h
libloom_la_SOURCES += src/seq/params.c
noinst_HEADERS += src/seq/model_impl.h
noinst_HEADERS += src/seq/data.h src/seq/model.h src/seq/model_file.h src/seq/options.h \
	src/seq/train.h src/seq/decode.h src/seq/transfer.h src/seq/translator.h src/seq/shortlist.h \
	src/seq/stream.h
loom_SOURCES += tools/seq2seq.c tools/translate.c tools/seq_info.c tools/average.c tools/shortlist.c
check_PROGRAMS += tests/test_seq
TESTS += tests/test_seq tests/e2e/test_seq.sh tests/e2e/test_old_models.sh tests/e2e/test_dec_layers.sh
EXTRA_DIST += tests/e2e/test_seq.sh tests/e2e/test_old_models.sh tests/e2e/test_dec_layers.sh tests/fixtures/seq
tests_test_seq_SOURCES = tests/test_seq.c tests/testutil.c tests/testutil.h
tests_test_seq_CFLAGS = $(TEST_CFLAGS)
tests_test_seq_LDADD = $(TEST_LIBS)

# the options table and the checks of what model and checkpoint files claim
check_PROGRAMS += tests/test_seq_options
TESTS += tests/test_seq_options tests/e2e/test_seq_files.sh
EXTRA_DIST += tests/e2e/test_seq_files.sh tests/e2e/st_edit.py
tests_test_seq_options_SOURCES = tests/test_seq_options.c tests/testutil.c tests/testutil.h
tests_test_seq_options_CFLAGS = $(TEST_CFLAGS)
tests_test_seq_options_LDADD = $(TEST_LIBS)

# the translator (translation as a library call)
check_PROGRAMS += tests/test_translate
TESTS += tests/test_translate tests/e2e/test_translate.sh tests/e2e/test_translate_subword.sh
EXTRA_DIST += tests/e2e/test_translate.sh tests/e2e/test_translate_subword.sh tests/fixtures/translate
tests_test_translate_SOURCES = tests/test_translate.c tests/testutil.c tests/testutil.h
tests_test_translate_CFLAGS = $(TEST_CFLAGS)
tests_test_translate_LDADD = $(TEST_LIBS)

# the decode-time vocabulary shortlist (`loom shortlist`, translate --shortlist)
check_PROGRAMS += tests/test_shortlist
TESTS += tests/test_shortlist tests/e2e/test_shortlist.sh
EXTRA_DIST += tests/e2e/test_shortlist.sh
tests_test_shortlist_SOURCES = tests/test_shortlist.c tests/testutil.c tests/testutil.h
tests_test_shortlist_CFLAGS = $(TEST_CFLAGS)
tests_test_shortlist_LDADD = $(TEST_LIBS)
