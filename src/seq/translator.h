/* loom: translation as a library call. A translator holds one or more
 * loaded sequence models (several are decoded as an ensemble, their
 * log-probabilities averaged at every step), the source tokenizer, the
 * decode options and a pool of workspaces; it turns sentences (text) into
 * translations (words, ids, scores, n-best lists, attention). It knows
 * nothing of printing: `loom translate` and a server print what it returns.
 *
 *   loom_translator *tr;
 *   loom_translate_opts o;
 *   loom_translate_defaults(&o);
 *   o.decode.beam = 5;
 *   const char *models[] = {"model.loom"};
 *   if (loom_translator_open(&tr, models, 1, &o) == 0) {
 *       const char *src[] = {"the cat sleeps .", "hello !"};
 *       loom_translation out[2];
 *       if (loom_translator_translate(tr, src, NULL, 2, out) == 0) {
 *           puts(out[0].n ? out[0].hyps[0].text : "");
 *           loom_translations_free(out, 2);
 *       }
 *       loom_translator_free(tr);
 *   }
 *
 * Every call may come from its own thread at the same time (each takes a
 * workspace from the translator's pool), and a sentence's output never
 * depends on the sentences it is translated with: a server may merge the
 * requests of many clients into one call. */
#ifndef LOOM_SEQ_TRANSLATOR_H
#define LOOM_SEQ_TRANSLATOR_H

#include <stddef.h>
#include <stdint.h>

#include "seq/decode.h"
#include "seq/model_file.h"

#define LOOM_TRANSLATE_MAX_THREADS 64

/* One output hypothesis of a sentence. */
typedef struct {
    /* what the search found: target ids (without </s>), log-probability,
     * length-normalised score, whether it ended with </s>, and when the
     * options ask for them the attention weights hyp.align,
     * (hyp.len + hyp.finished) x hyp.src_len */
    loom_seq_hyp hyp;
    /* hyp.len output words: the target vocabulary's, or with replace_unk
     * the source token an <unk> attends to most (they point into the
     * translator's vocabulary or the translation's source tokens) */
    const char **words;
    /* the output as one string (malloc'd): the words joined by spaces, or
     * what the postprocess hook made of them (detokenised text, say) */
    char *text;
    /* word-level attention for output that post-processing merged (subword
     * pieces into words): word_len x word_src_len, malloc'd by the hook;
     * NULL when nothing was merged, hyp.align then being the alignment */
    float *word_align;
    int word_len, word_src_len;
} loom_translation_hyp;

/* The translation of one sentence. */
typedef struct {
    int src_len;             /* source tokens */
    const char **src_tokens; /* as the source tokenizer wrote them */
    int32_t *src_ids;        /* in the (first) model's source vocabulary; <unk> for unknown */
    int n;                   /* hypotheses, best first: 0 when the sentence has no tokens */
    loom_translation_hyp *hyps;
    int32_t *member_ids; /* storage: each ensemble member's source ids */
} loom_translation;

/* A hook run on every hypothesis once it is decoded (and <unk> replaced),
 * for output post-processing: detokenisation, merging subword pieces into
 * words. It may replace h->text (free the old string, store a malloc'd
 * one) and fill h->word_align, word_len and word_src_len (malloc'd; freed
 * with the translation); h->words, h->hyp and t stay as decoded. Returns 0
 * or a negative LOOM_E* code, which ends the call. Called from the
 * translating threads: it must be thread-safe. A hook that joins BPE
 * pieces ("new@@ s" -> "news"):
 *
 *   static int join_bpe(void *ctx, const loom_translation *t, loom_translation_hyp *h)
 *   {
 *       int n = h->hyp.len, words = 0, *word = malloc((n + 1) * sizeof *word);
 *       char *p = h->text; // the joined text is never longer
 *       for (int k = 0; k < n; k++) {
 *           size_t len = strlen(h->words[k]);
 *           int piece = len > 2 && strcmp(h->words[k] + len - 2, "@@") == 0;
 *           memcpy(p, h->words[k], len - 2 * piece);
 *           p += len - 2 * piece;
 *           if (!piece && k + 1 < n)
 *               *p++ = ' ';
 *           word[k] = words;
 *           words += !piece || k + 1 == n;
 *       }
 *       *p = '\0';
 *       int rc = loom_translation_merge_align(t, h, word, words, NULL, t->src_len);
 *       free(word);
 *       return rc;
 *   }
 */
typedef int (*loom_translate_post_fn)(void *ctx, const loom_translation *t,
                                      loom_translation_hyp *h);

typedef struct {
    loom_seq_decode_opts decode; /* beam, alpha, n-best, max_len, align */
    int batch;                   /* sentences decoded together (default 64) */
    int threads;     /* threads one call uses, each decoding whole batches (default 1) */
    int replace_unk; /* each <unk> of the output becomes the source token it attends to most */
    /* Models that read and write SentencePiece pieces (loom_seq_bundle's
     * subword) take raw text: the source is segmented by its subword model
     * and each hypothesis's text is the pieces decoded into raw text (its
     * word_align the attention merged to whitespace-separated words, both
     * sides) before postprocess runs. pieces = 1 leaves the text as the
     * pieces joined by spaces (and the alignment per piece). */
    int pieces;
    loom_translate_post_fn postprocess; /* NULL: the text is the words joined by spaces */
    void *postprocess_ctx;
} loom_translate_opts;

void loom_translate_defaults(loom_translate_opts *o);

typedef struct loom_translator loom_translator;

/* A translator over n models (n > 1: an ensemble). Every model must have
 * the first one's target vocabulary and source tokenizer options, and the
 * same subword models (source vocabularies may differ): LOOM_EINVAL naming the member otherwise.
 * The translator borrows the bundles, which must outlive it; it prepares their models for decoding
 * (loom_seq_model_prepare_decoding), so make it before any thread translates with them. */
int loom_translator_new(loom_translator **out, loom_seq_bundle *const *models, int n,
                        const loom_translate_opts *o);
/* The same from model files, which the translator loads and owns. Errors
 * name the file. */
int loom_translator_open(loom_translator **out, const char *const *paths, int n,
                         const loom_translate_opts *o);
void loom_translator_free(loom_translator *t);

const loom_translate_opts *loom_translator_opts(const loom_translator *t);
/* Decodes with a vocabulary shortlist (seq/shortlist.h, read for the first
 * model's vocabularies; borrowed, it must outlive the translator), or
 * exactly again with NULL. Call it before any thread translates. With a
 * shortlist, a sentence's output may depend on the sentences of its batch
 * (their candidates join its own). */
void loom_translator_set_shortlist(loom_translator *t, const loom_shortlist *sl);
/* The vocabularies of the first model (0: source, 1: target). */
const loom_vocab *loom_translator_vocab(const loom_translator *t, int side);

/* Translates n sentences (UTF-8; lens[i] bytes, or NUL-terminated when
 * lens is NULL) into out[0..n), in their order. Sentences are sorted by
 * length and decoded in batches on the option's threads (loom_parallel_run,
 * the library's one fan-out); the result of each is what it would be alone
 * (text and ids; scores and attention to float rounding). Free the results
 * with loom_translations_free.
 * On error nothing is left to free; a sentence the tokenizer refuses
 * (invalid UTF-8) is LOOM_EFORMAT naming it ("sentence 3: ..."). */
int loom_translator_translate(loom_translator *t, const char *const *src, const size_t *lens, int n,
                              loom_translation *out);
void loom_translations_free(loom_translation *out, int n);
/* The same with other options for this call (a server's request may ask
 * for its own beam, n-best, alpha or alignments): the translator's models
 * and workspaces, o's search, batch, threads and post-processing. */
int loom_translator_translate_with(loom_translator *t, const loom_translate_opts *o,
                                   const char *const *src, const size_t *lens, int n,
                                   loom_translation *out);

/* Called for each line's translation, in input order; `line` is 1-based.
 * A non-zero return stops the file and is returned. */
typedef int (*loom_translation_fn)(void *ctx, long long line, const loom_translation *t);

/* Translates every line of a file (plain or .gz; "-" is stdin) and hands
 * each translation to fn. Lines are read 16 batches at a time and sorted by
 * length; at batch 1 stdin is read line by line (each line answered before
 * the next is read). Errors name the file and line. */
int loom_translator_translate_file(loom_translator *t, const char *path, loom_translation_fn fn,
                                   void *ctx);

/* Writes each <unk> of h as the source token it attends to most (OpenNMT's
 * -replace_unk); needs attention weights, else does nothing. */
void loom_translation_replace_unk(const loom_translation *t, loom_translation_hyp *h);

/* Word-level attention for a post-processing hook that merged pieces:
 * output piece k (k < h->hyp.len) belongs to output word tgt_word[k]
 * (0..ntgt-1) and source token q to source word src_word[q] (0..nsrc-1;
 * src_word NULL: the tokens are the words, nsrc = t->src_len). Sets
 * h->word_align (ntgt x nsrc; </s> has no row), word_len and word_src_len:
 * a word's row is the mean of its pieces' rows and a source word's weight
 * the sum of its tokens', so rows stay distributions over the source.
 * Without h->hyp.align it does nothing; LOOM_EINVAL when an index is out
 * of range, LOOM_ENOMEM. */
int loom_translation_merge_align(const loom_translation *t, loom_translation_hyp *h,
                                 const int *tgt_word, int ntgt, const int *src_word, int nsrc);

/* Writes the attention of hypothesis h of tr as an SVG heat map to path
 * (through the atomic writer; never compressed): one column per source
 * token (the first model's source word of its id, <unk> when unknown), one
 * row per output word of the target vocabulary and a last for </s> when
 * the hypothesis ended, each cell's opacity its weight (empty cells
 * without h->hyp.align). Errors name the file. */
int loom_translator_write_svg(const loom_translator *t, const loom_translation *tr,
                              const loom_translation_hyp *h, const char *path);

/* ---- continuous batching ----
 * Greedy translation as a running batch (seq/stream.h), for a server:
 * sentences join between decoder steps and each leaves with its
 * translation as soon as it ends, so the decoder's batch stays full. A
 * sentence's translation is what loom_translator_translate_with gives it
 * with the same options (to float rounding in scores), whoever it shared
 * the steps with and whenever it joined. One thread uses a stream at a
 * time; it holds one of the translator's workspaces until freed. */
typedef struct loom_translator_stream loom_translator_stream;

/* 1 when a stream can translate with options o: one model, no
 * replace_unk, and decoding options a decoding stream takes
 * (loom_seq_stream_fits: greedy, no alignments or shortlist). */
int loom_translator_stream_fits(const loom_translator *t, const loom_translate_opts *o);
/* A stream with options o (LOOM_EINVAL when they do not fit), room for
 * cap sentences at first (it grows). */
int loom_translator_stream_new(loom_translator_stream **out, loom_translator *t,
                               const loom_translate_opts *o, int cap);
/* Frees it with the sentences it still holds (their callbacks never run). */
void loom_translator_stream_free(loom_translator_stream *ts);
/* Reads (tokenises) n sentences, which join at the next step; sentence i
 * is handed back as (tag, i). Errors name the sentence (nothing joins
 * then). */
int loom_translator_stream_add(loom_translator_stream *ts, const char *const *src,
                               const size_t *lens, int n, void *tag);
/* Sentences added and not handed back yet. */
int loom_translator_stream_size(const loom_translator_stream *ts);

/* Receives a finished translation: *tr is the callee's (free it with
 * loom_translations_free(tr, 1) after copying it out or not). */
typedef int (*loom_translator_stream_fn)(void *ctx, void *tag, int index, loom_translation *tr);
/* Encodes the sentences that joined, runs one decoder step, and hands
 * every sentence that ended (sentences without tokens at once: no
 * hypothesis) to fn. Returns 0 or the first error (fn's included); after
 * an error, free the stream. */
int loom_translator_stream_step(loom_translator_stream *ts, loom_translator_stream_fn fn,
                                void *ctx);

#endif
