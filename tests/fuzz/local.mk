# libFuzzer harnesses, one per reader (see tests/fuzz/fuzz_util.h). Built
# only by ./configure --enable-fuzzing (clang, ASan, UBSan); scripts/fuzz
# builds and runs them with the seeds in tests/fuzz/corpus/NAME/.
FUZZ_TARGETS = tests/fuzz/fuzz_vectors tests/fuzz/fuzz_model tests/fuzz/fuzz_pairs \
	tests/fuzz/fuzz_vocab tests/fuzz/fuzz_eval tests/fuzz/fuzz_tokenize tests/fuzz/fuzz_request \
	tests/fuzz/fuzz_subword tests/fuzz/fuzz_classify tests/fuzz/fuzz_shortlist
if FUZZING
noinst_PROGRAMS = $(FUZZ_TARGETS)
endif
FUZZ_LINK_LIBS = libloom.la $(ZLIB_LIBS) $(OPENBLAS_LIBS) $(UTF8PROC_LIBS) $(JANSSON_LIBS) \
	$(PROTOBUF_C_LIBS) -lm -lpthread
# The harnesses are linked by the C++ compiler (clang++): UBSan's checks in
# the subword module they open (loom_subword.so, C++) need the C++ part of
# clang's UBSan run-time (__ubsan_vptr_type_cache), which clang++ links.
FUZZ_LINK_FLAGS = $(AM_LDFLAGS) -static -fsanitize=fuzzer
tests_fuzz_fuzz_vectors_SOURCES = tests/fuzz/fuzz_vectors.c tests/fuzz/fuzz_util.h
tests_fuzz_fuzz_vectors_LDADD = $(FUZZ_LINK_LIBS)
tests_fuzz_fuzz_vectors_LDFLAGS = $(FUZZ_LINK_FLAGS)
nodist_EXTRA_tests_fuzz_fuzz_vectors_SOURCES = tools/cxxlink.cc
tests_fuzz_fuzz_model_SOURCES = tests/fuzz/fuzz_model.c tests/fuzz/fuzz_util.h
tests_fuzz_fuzz_model_LDADD = $(FUZZ_LINK_LIBS)
tests_fuzz_fuzz_model_LDFLAGS = $(FUZZ_LINK_FLAGS)
nodist_EXTRA_tests_fuzz_fuzz_model_SOURCES = tools/cxxlink.cc
tests_fuzz_fuzz_pairs_SOURCES = tests/fuzz/fuzz_pairs.c tests/fuzz/fuzz_util.h
tests_fuzz_fuzz_pairs_LDADD = $(FUZZ_LINK_LIBS)
tests_fuzz_fuzz_pairs_LDFLAGS = $(FUZZ_LINK_FLAGS)
nodist_EXTRA_tests_fuzz_fuzz_pairs_SOURCES = tools/cxxlink.cc
tests_fuzz_fuzz_vocab_SOURCES = tests/fuzz/fuzz_vocab.c tests/fuzz/fuzz_util.h
tests_fuzz_fuzz_vocab_LDADD = $(FUZZ_LINK_LIBS)
tests_fuzz_fuzz_vocab_LDFLAGS = $(FUZZ_LINK_FLAGS)
nodist_EXTRA_tests_fuzz_fuzz_vocab_SOURCES = tools/cxxlink.cc
tests_fuzz_fuzz_eval_SOURCES = tests/fuzz/fuzz_eval.c tests/fuzz/fuzz_util.h
tests_fuzz_fuzz_eval_LDADD = $(FUZZ_LINK_LIBS)
tests_fuzz_fuzz_eval_LDFLAGS = $(FUZZ_LINK_FLAGS)
nodist_EXTRA_tests_fuzz_fuzz_eval_SOURCES = tools/cxxlink.cc
tests_fuzz_fuzz_tokenize_SOURCES = tests/fuzz/fuzz_tokenize.c tests/fuzz/fuzz_util.h
tests_fuzz_fuzz_tokenize_LDADD = $(FUZZ_LINK_LIBS)
tests_fuzz_fuzz_tokenize_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_request_SOURCES = tests/fuzz/fuzz_request.c tests/fuzz/fuzz_util.h
tests_fuzz_fuzz_request_LDADD = $(FUZZ_LINK_LIBS)
tests_fuzz_fuzz_request_LDFLAGS = $(FUZZ_LINK_FLAGS)
nodist_EXTRA_tests_fuzz_fuzz_request_SOURCES = tools/cxxlink.cc
nodist_EXTRA_tests_fuzz_fuzz_tokenize_SOURCES = tools/cxxlink.cc
tests_fuzz_fuzz_subword_SOURCES = tests/fuzz/fuzz_subword.c tests/fuzz/fuzz_util.h
tests_fuzz_fuzz_subword_LDADD = $(FUZZ_LINK_LIBS)
tests_fuzz_fuzz_subword_LDFLAGS = $(FUZZ_LINK_FLAGS)
nodist_EXTRA_tests_fuzz_fuzz_subword_SOURCES = tools/cxxlink.cc
tests_fuzz_fuzz_classify_SOURCES = tests/fuzz/fuzz_classify.c tests/fuzz/fuzz_util.h
tests_fuzz_fuzz_classify_LDADD = $(FUZZ_LINK_LIBS)
tests_fuzz_fuzz_classify_LDFLAGS = $(FUZZ_LINK_FLAGS)
nodist_EXTRA_tests_fuzz_fuzz_classify_SOURCES = tools/cxxlink.cc
tests_fuzz_fuzz_shortlist_SOURCES = tests/fuzz/fuzz_shortlist.c tests/fuzz/fuzz_util.h
tests_fuzz_fuzz_shortlist_LDADD = $(FUZZ_LINK_LIBS)
tests_fuzz_fuzz_shortlist_LDFLAGS = $(FUZZ_LINK_FLAGS)
nodist_EXTRA_tests_fuzz_fuzz_shortlist_SOURCES = tools/cxxlink.cc
EXTRA_DIST += tests/fuzz/corpus tests/fuzz/make-corpus
