/* loom: greedy decoding as a running batch (continuous batching, as
 * CTranslate2's and vLLM's servers do): sentences join between decoder
 * steps, each step advances every row, and a sentence leaves as soon as it
 * ends (</s> or its length limit), so a server keeps the decoder's batch
 * full instead of waiting for the longest sentence of a batch. A
 * sentence's hypothesis is the one loom_seq_decode's greedy search (beam
 * 1) gives it, whoever it shared the steps with and whenever it joined (to
 * float rounding: seq/model.h's loom_seq_state_add). */
#ifndef LOOM_SEQ_STREAM_H
#define LOOM_SEQ_STREAM_H

#include "seq/decode.h"

typedef struct loom_seq_stream loom_seq_stream;

/* 1 when a stream can decode with options o: greedy (beam 1, nbest 1),
 * without alignments or a shortlist. */
int loom_seq_stream_fits(const loom_seq_decode_opts *o);
/* A stream over model m with room for cap rows at first (it grows). The
 * options must fit (LOOM_EINVAL otherwise); alpha and max_len are read. */
int loom_seq_stream_new(loom_seq_stream **out, loom_seq_model *m, int cap,
                        const loom_seq_decode_opts *o);
/* Frees it with the sentences still in it (their tags are not called). */
void loom_seq_stream_free(loom_seq_stream *s);
/* The sentences decoding. */
int loom_seq_stream_rows(const loom_seq_stream *s);

/* The tag of sentence i < loom_seq_stream_rows (to free what it points
 * to before freeing the stream, say). */
void *loom_seq_stream_tag(const loom_seq_stream *s, int i);

/* Encodes n sentences (ids batch-major, padded to S, lens[i] >= 1) with
 * workspace w and adds them, sentence i tagged tags[i]. */
int loom_seq_stream_add(loom_seq_stream *s, loom_seq_work *w, const int *src, const int *lens,
                        int n, int S, void *const *tags);

/* Called for each sentence that ends, with its tag and its hypothesis
 * (h->ids is the callee's: free it with loom_seq_hyps_free(h, 1)).
 * Returns 0 or a negative LOOM_E* code, which the step returns. */
typedef int (*loom_seq_stream_fn)(void *ctx, void *tag, loom_seq_hyp *h);

/* One decoder step for every sentence; those that end are handed to fn
 * and leave the stream (also when fn fails). After an error, free the
 * stream. */
int loom_seq_stream_step(loom_seq_stream *s, loom_seq_stream_fn fn, void *ctx);

#endif
