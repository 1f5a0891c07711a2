# src/embed: vector files, nearest/analogy queries, evaluation; the
# commands nearest, analogy, eval, convert, info; their tests.
# (The word2vec trainer has its own fragment, train.mk.)
libloom_la_SOURCES += src/embed/vectors.c

loomembedioincdir = $(includedir)/loom/embed
loomembedioinc_HEADERS = src/embed/vectors.h
