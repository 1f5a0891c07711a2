# src/text: tokenizer and vocabulary, their commands and tests.
libloom_la_SOURCES += src/text/tokenizer.c src/text/vocab.c

loomtextincdir = $(includedir)/loom/text
loomtextinc_HEADERS = src/text/tokenizer.h src/text/vocab.h

loom_SOURCES += tools/tokflags.c tools/tokenize.c tools/vocab.c
noinst_HEADERS += tools/tokflags.h
