/* loom: the tokenizer. Turns UTF-8 text into word, number, punctuation and
 * symbol tokens: NFKC normalisation and case folding (utf8proc), one token
 * per character for scripts written without spaces, strict or replacing
 * handling of invalid UTF-8. Streams any input in bounded memory; ASCII
 * text takes a fast path that never calls into utf8proc. The rules are
 * spelled out in `loom help tokenize` and in README.md. The options, the
 * tokenizer object and loom_tokenize_string are public (loom.h). */
#ifndef LOOM_TEXT_TOKENIZER_H
#define LOOM_TEXT_TOKENIZER_H

#include <stddef.h>

#include "base/reader.h"
#include "loom.h"

/* Called at the end of each input line (a sentence boundary); may be NULL. */
typedef int (*loom_eol_fn)(void *ctx);

/* Streams all of r in bounded memory. Errors name file, line, byte offset. */
int loom_tokenize_stream(loom_tokenizer *t, loom_reader *r, loom_token_fn on_token,
                         loom_eol_fn on_eol, void *ctx);

#endif
