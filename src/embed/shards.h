/* loom: a corpus of one or more files read as one stream of bytes and cut
 * into byte ranges at word boundaries, so that each trainer thread reads
 * its own part without the corpus ever being in memory.
 *  - plain files are entered at an offset by seeking;
 *  - gzip files are measured once (decompressed to count their bytes) and
 *    entered by decompressing up to the offset;
 *  - stdin ("-") is spooled once to an unlinked temporary file (in $TMPDIR,
 *    else /tmp) and read from there like a plain file.
 * A range [begin, end) holds the tokens that start at or after begin's
 * first word boundary and before end's, so ranges that meet share no word
 * and lose none. Lines are sentences. Knows bytes and tokens, not ids. */
#ifndef LOOM_EMBED_SHARDS_H
#define LOOM_EMBED_SHARDS_H

#include <stddef.h>

#include "text/subword.h"
#include "text/tokenizer.h"

typedef struct loom_shards loom_shards;

/* Opens every path (checking that it can be read) and measures it. */
int loom_shards_open(loom_shards **out, const char *const *paths, size_t n);
void loom_shards_free(loom_shards *s);

/* Total bytes of the corpus (uncompressed). */
long long loom_shards_size(const loom_shards *s);

/* What a scan calls: each token, each end of sentence (line end, file end
 * and range end), and after each chunk of input with its size in bytes
 * (for progress; may be NULL). A non-zero return from a callback stops
 * the scan and is returned. With `subword` set, the tokens are that
 * SentencePiece model's pieces instead of t's words: a line is segmented
 * a stretch between two spaces at a time at most, which gives the pieces
 * of the whole line for models that split at white space (SentencePiece's
 * default: no piece crosses a space). */
typedef struct {
    loom_token_fn on_token;
    loom_eol_fn on_eol;
    int (*on_bytes)(void *ctx, size_t n);
    void *ctx;
    const loom_subword *subword; /* may be NULL: t's tokens */
} loom_scan_fns;

/* Tokenizes the range [begin, end) of the corpus with t (or fns->subword). */
int loom_shards_scan(const loom_shards *s, long long begin, long long end, loom_tokenizer *t,
                     const loom_scan_fns *fns);

#endif
