/* loom: the tokenizer. Turns UTF-8 text into word, number, punctuation and
 * symbol tokens: NFKC normalisation and case folding (utf8proc), one token
 * per character for scripts written without spaces, strict or replacing
 * handling of invalid UTF-8. Streams any input in bounded memory; ASCII
 * text takes a fast path that never calls into utf8proc. The rules are
 * spelled out in `loom help tokenize` and in README.md. */
#ifndef LOOM_TEXT_TOKENIZER_H
#define LOOM_TEXT_TOKENIZER_H

#include <stddef.h>

#include "base/reader.h"

enum { LOOM_PUNCT_KEEP = 0, LOOM_PUNCT_DROP = 1 };
enum { LOOM_INVALID_ERROR = 0, LOOM_INVALID_REPLACE = 1 };

/* A token longer than this many bytes (a pathological run of letters or of
 * combining marks) is emitted as consecutive pieces of at most this size,
 * cut at character boundaries: memory stays bounded on any input. */
#define LOOM_TOKEN_MAX 1024

typedef struct {
    int keep_case;    /* 0 (default): Unicode case folding; 1: keep case */
    int punct;        /* LOOM_PUNCT_KEEP (default) or LOOM_PUNCT_DROP */
    int invalid;      /* LOOM_INVALID_ERROR (default) or LOOM_INVALID_REPLACE */
    int pretokenized; /* split on ASCII whitespace only, no normalisation */
} loom_tok_opts;

void loom_tok_opts_default(loom_tok_opts *o);

/* A tokenizer holds its options and small work buffers; one per thread. */
typedef struct loom_tokenizer loom_tokenizer;

int loom_tokenizer_new(loom_tokenizer **out, const loom_tok_opts *o);
void loom_tokenizer_free(loom_tokenizer *t);

/* Called for each token (bytes not NUL-terminated, valid during the call);
 * a non-zero return stops tokenizing and is returned by the caller. */
typedef int (*loom_token_fn)(void *ctx, const char *tok, size_t len);
/* Called at the end of each input line (a sentence boundary); may be NULL. */
typedef int (*loom_eol_fn)(void *ctx);

/* Streams all of r in bounded memory. Errors name file, line, byte offset. */
int loom_tokenize_stream(loom_tokenizer *t, loom_reader *r, loom_token_fn on_token,
                         loom_eol_fn on_eol, void *ctx);
/* Tokenizes one in-memory string (a sentence or a query). */
int loom_tokenize_string(loom_tokenizer *t, const char *s, size_t n, loom_token_fn on_token,
                         void *ctx);

#endif
