/* loom: the public header. Word vectors and sequence models on the CPU:
 * text -> tokens -> vocabulary -> vectors (word2vec) -> queries, and
 * sentence pairs -> translation models -> translations.
 *
 * This file is the whole interface: a program includes <loom.h> alone and
 * links with `pkg-config --cflags --libs loom`. Every object is an opaque
 * handle made by a *_new, *_load or *_open function and released by the
 * matching *_free (which accepts NULL); option structs are plain data with
 * a *_default(s) function that fills in the command line's defaults.
 *
 * Errors: every function that can fail returns 0 (or a count, where said)
 * on success and a negative LOOM_E* code on failure, and leaves a message
 * naming the file, line or option in a thread-local buffer that
 * loom_error_message() returns. On failure nothing needs freeing and the
 * *out argument is NULL. The library never prints, except progress bars
 * (loom_progress) when the caller makes one.
 *
 * Threads: different handles may be used from different threads at once;
 * one handle from several threads only where its functions say so (a
 * loom_index and a loom_translator may be shared; a loom_tokenizer may
 * not). */
#ifndef LOOM_H
#define LOOM_H

#include <stddef.h>
#include <stdint.h>

#define LOOM_VERSION "0.1.0"

#ifdef __cplusplus
extern "C" {
#endif

/* ================================ errors ================================ */

enum {
    LOOM_OK = 0,
    LOOM_EINVAL = -1,   /* bad argument or option value */
    LOOM_EIO = -2,      /* a read or write failed */
    LOOM_ENOMEM = -3,   /* out of memory */
    LOOM_EFORMAT = -4,  /* a file is malformed, truncated or corrupt */
    LOOM_ENOTFOUND = -5 /* a file, word or key does not exist */
};

/* The message of the last error on this thread, e.g. "corpus.txt:12: invalid
 * UTF-8 at byte 4031" ("" when none). Valid until the next loom call on
 * this thread. */
const char *loom_error_message(void);

/* A short name for a code ("invalid argument", "I/O error", ...); static. */
const char *loom_strerror(int code);

/* Empties this thread's message. */
void loom_error_clear(void);

/* =============================== progress =============================== */

/* A progress line on stderr (percentage, rate, ETA, detail), redrawn a few
 * times a second. Functions that take a loom_progress accept NULL: then
 * nothing is shown. */
typedef struct loom_progress loom_progress;

/* A progress line labelled `label` over `total` units named `unit` ("words",
 * "steps"; total 0 when unknown); the function it is handed to sets the
 * total. NULL (show nothing) when `enabled` is 0 or memory is short. */
loom_progress *loom_progress_new(const char *label, double total, const char *unit, int enabled);
void loom_progress_free(loom_progress *p);

/* =============================== tokenizer ============================== */

/* Words, numbers, punctuation and symbols from UTF-8 text: NFKC
 * normalisation and case folding, one token per character in scripts
 * written without spaces. The rules are those of `loom tokenize` (README,
 * "Tokenizer"). */

enum { LOOM_PUNCT_KEEP = 0, LOOM_PUNCT_DROP = 1 };
enum { LOOM_INVALID_ERROR = 0, LOOM_INVALID_REPLACE = 1 };

/* Longer tokens are cut into pieces of at most this many bytes. */
#define LOOM_TOKEN_MAX 1024

typedef struct {
    int keep_case;    /* 0 (default): Unicode case folding; 1: keep case */
    int punct;        /* LOOM_PUNCT_KEEP (default) or LOOM_PUNCT_DROP */
    int invalid;      /* invalid UTF-8: LOOM_INVALID_ERROR (default) or _REPLACE (U+FFFD) */
    int pretokenized; /* 1: split on ASCII whitespace only, no normalisation */
    int chars;        /* 1: each grapheme cluster is a token (NFKC, case folded unless
                         keep_case); a run of white space between two is one
                         LOOM_TOK_SPACE token; punct does not apply; wins over
                         pretokenized */
} loom_tok_opts;

/* The token that stands for white space between characters (chars = 1):
 * U+2581, as SentencePiece writes it. */
#define LOOM_TOK_SPACE "\xe2\x96\x81"

/* Fills o with the defaults above. */
void loom_tok_opts_default(loom_tok_opts *o);

/* Holds its options and work buffers: one per thread. */
typedef struct loom_tokenizer loom_tokenizer;

/* A tokenizer with options o (copied; NULL: the defaults). LOOM_EINVAL for
 * a value outside the enums above, LOOM_ENOMEM. */
int loom_tokenizer_new(loom_tokenizer **out, const loom_tok_opts *o);
void loom_tokenizer_free(loom_tokenizer *t);

/* Called once per token, in order. The bytes are not NUL-terminated and
 * are valid only during the call. A non-zero return stops tokenizing, and
 * loom_tokenize_string returns it. */
typedef int (*loom_token_fn)(void *ctx, const char *tok, size_t len);

/* Tokenizes s[0..n). Returns 0, what on_token returned to stop, or
 * LOOM_EFORMAT on invalid UTF-8 when o->invalid is LOOM_INVALID_ERROR (the
 * message gives the byte offset). */
int loom_tokenize_string(loom_tokenizer *t, const char *s, size_t n, loom_token_fn on_token,
                         void *ctx);

/* ============================== vocabulary ============================== */

/* Words with counts. Ids are assigned by loom_vocab_finalize: count
 * descending, then bytes ascending. */
typedef struct loom_vocab loom_vocab;

/* The special tokens' ids, first in every sequence-model vocabulary. */
enum { LOOM_PAD = 0, LOOM_UNK = 1, LOOM_BOS = 2, LOOM_EOS = 3 };

/* An empty vocabulary. LOOM_ENOMEM. */
int loom_vocab_new(loom_vocab **out);
void loom_vocab_free(loom_vocab *v);

/* Adds `count` occurrences of word[0..len) (copied; a new word goes to the
 * end until finalize). LOOM_ENOMEM. */
int loom_vocab_add(loom_vocab *v, const char *word, size_t len, uint64_t count);

/* Drops words seen fewer than min_count times, keeps the max_size most
 * frequent (0: all), and sorts: ids 0..size-1 follow. */
int loom_vocab_finalize(loom_vocab *v, uint64_t min_count, size_t max_size);

/* The id of word[0..len), or -1. */
int32_t loom_vocab_find(const loom_vocab *v, const char *word, size_t len);
/* Number of words. */
size_t loom_vocab_size(const loom_vocab *v);
/* Word `id` (0 <= id < size), owned by v. */
const char *loom_vocab_word(const loom_vocab *v, int32_t id);
/* Its count. */
uint64_t loom_vocab_count(const loom_vocab *v, int32_t id);
/* The sum of all counts. */
uint64_t loom_vocab_total(const loom_vocab *v);

/* Writes word2vec's "word count" lines, atomically (the file appears
 * whole or not at all). LOOM_EIO naming the file. */
int loom_vocab_save(const loom_vocab *v, const char *path);
/* Reads such a file, keeping its order as the ids. LOOM_EFORMAT naming file
 * and line, LOOM_ENOTFOUND, LOOM_EIO. */
int loom_vocab_load(loom_vocab **out, const char *path);

/* ============================= word vectors ============================= */

/* A matrix of word vectors with its words: word2vec binary and text files
 * and fastText .vec files, plain or gzip, the format told from the content
 * (README, "Vector files", lists what is tolerated and what refused). */
typedef struct loom_vectors loom_vectors;

/* File formats for saving. AUTO: by name, ".txt" and ".vec" (also with
 * ".gz") text, anything else binary. */
enum { LOOM_VEC_AUTO = 0, LOOM_VEC_BIN = 1, LOOM_VEC_TEXT = 2 };

/* Flags for loom_vectors_load_opts. */
enum {
    LOOM_VEC_KEEP_FIRST = 1 /* a word seen twice: keep the first row (gensim), not an error */
};

/* Reads a vector file. LOOM_EFORMAT naming the file and the record (empty
 * file, truncated row, NaN, duplicate word, ...), LOOM_ENOTFOUND, LOOM_EIO,
 * LOOM_ENOMEM. */
int loom_vectors_load(loom_vectors **out, const char *path);
/* The same with `flags`; max_words > 0 reads only the first max_words rows. */
int loom_vectors_load_opts(loom_vectors **out, const char *path, int flags, size_t max_words);
void loom_vectors_free(loom_vectors *v);

/* Rows and floats per row. */
size_t loom_vectors_count(const loom_vectors *v);
size_t loom_vectors_dim(const loom_vectors *v);
/* Row i's word and its dim floats, owned by v. */
const char *loom_vectors_word(const loom_vectors *v, size_t i);
const float *loom_vectors_row(const loom_vectors *v, size_t i);
/* The row of `word` (exact bytes), or -1. */
long loom_vectors_find(const loom_vectors *v, const char *word);
/* Scales every row to unit length (zero rows stay zero). */
void loom_vectors_normalize(loom_vectors *v);

/* Writes v to path in `format` (LOOM_VEC_*), gzip when the name ends in
 * ".gz", atomically. LOOM_EIO naming the file. */
int loom_vectors_save(const loom_vectors *v, const char *path, int format);
/* Writes n rows of dim floats (rows, row-major) with words[i] as row i's
 * word. LOOM_EINVAL for an empty word or one holding a space, tab or line
 * break. */
int loom_vectors_save_rows(const char *path, int format, size_t n, size_t dim,
                           const char *const *words, const float *rows);

/* ================================ queries =============================== */

/* Nearest words and analogies over a loom_vectors by cosine similarity:
 * one matrix product per block of queries, threads over the blocks. An
 * index may be searched from several threads at once. */
typedef struct loom_index loom_index;

/* One answer: a row of the vectors (-1: none) and its score. */
typedef struct {
    long row;
    float score;
} loom_hit;

enum {
    LOOM_INDEX_IN_PLACE = 1, /* normalise the vectors' own matrix instead of a copy */
    /* a query's hits do not depend on the queries searched with it, to the
     * bit (the matrix is also kept packed for the core's few-row product: a
     * second copy of it, searched without sgemm's per-call packing): for
     * servers that batch their clients' queries */
    LOOM_INDEX_BATCH_INVARIANT = 2
};

enum { LOOM_ANALOGY_ADD = 0, LOOM_ANALOGY_MUL = 1 };

/* An index over v, which must outlive it; `threads` <= 0: one per core.
 * Results do not depend on the thread count. LOOM_ENOMEM. */
int loom_index_new(loom_index **out, loom_vectors *v, int flags, int threads);
void loom_index_free(loom_index *ix);

/* The k rows nearest to the sum of the unit vectors of rows[0..n), those
 * rows excluded (word2vec's `distance`, gensim's most_similar), best first
 * into hits[0..k). Only rows below `limit` are candidates (0: all). Ties go
 * to the lower row; missing answers have row -1. rows must be rows of the
 * vectors. LOOM_ENOMEM. */
int loom_index_nearest(const loom_index *ix, const long *rows, size_t n, size_t k, size_t limit,
                       loom_hit *hits);

/* "a is to b as c is to ?" for m triples (abc holds m x 3 rows), a, b and c
 * excluded; method LOOM_ANALOGY_ADD (3CosAdd: cos(x, b - a + c)) or
 * LOOM_ANALOGY_MUL (3CosMul, Levy and Goldberg 2014, as gensim's
 * most_similar_cosmul). hits is m x k. LOOM_EINVAL for another method. */
int loom_index_analogy(const loom_index *ix, size_t m, const long *abc, int method, size_t k,
                       size_t limit, loom_hit *hits);

/* The best k rows for each of m query vectors Q (m x dim, any length).
 * exclude is m x nexclude rows to skip (-1: none; NULL when nexclude is 0).
 * hits is m x k. */
int loom_index_search(const loom_index *ix, size_t m, const float *Q, const long *exclude,
                      size_t nexclude, size_t k, size_t limit, loom_hit *hits);

/* =============================== word2vec =============================== */

/* Skip-gram and CBOW with negative sampling or hierarchical softmax, as
 * Mikolov et al.'s word2vec: the corpus files are streamed (or their ids
 * held in memory, cache_mb), threads train over byte ranges of them.
 *
 *   loom_w2v_new -> loom_w2v_count (or loom_w2v_set_vocab) -> loom_w2v_train
 *   -> loom_w2v_save or loom_w2v_vectors -> loom_w2v_free */

enum { LOOM_W2V_SKIPGRAM = 0, LOOM_W2V_CBOW = 1 };
enum { LOOM_W2V_NS = 0, LOOM_W2V_HS = 1 };
/* How the learning rate falls from alpha to min_alpha. LINEAR: by the
 * words all threads have read out of epochs x the corpus (word2vec.c's).
 * PER_WORKER: each thread by its own words against the whole corpus, as
 * gensim's corpus_file mode does, (epoch + words this thread read in this
 * epoch / the corpus' words) / epochs: with N threads each epoch ends
 * only 1/N of its share down, a saw-tooth that stays higher. */
enum { LOOM_W2V_LR_LINEAR = 0, LOOM_W2V_LR_PER_WORKER = 1 };

typedef struct {
    int model;           /* LOOM_W2V_SKIPGRAM (default) or LOOM_W2V_CBOW */
    int loss;            /* LOOM_W2V_NS (default) or LOOM_W2V_HS */
    int dim;             /* vector size, 100 */
    int window;          /* largest distance to a context word, 5 */
    int negative;        /* negatives per target (NS), 5 */
    double sample;       /* subsampling threshold, 1e-3; 0 keeps every word */
    uint64_t min_count;  /* rarer words are dropped, 5 */
    size_t max_vocab;    /* keep at most this many words, 0: no limit */
    int epochs;          /* passes over the corpus, 5 */
    double alpha;        /* start learning rate; 0: 0.025 skip-gram, 0.05 CBOW */
    double min_alpha;    /* the rate the decay ends at (gensim's min_alpha);
                            0: 1e-4 x alpha, about word2vec.c's ~0 */
    int lr_schedule;     /* LOOM_W2V_LR_LINEAR (default) or LOOM_W2V_LR_PER_WORKER */
    int threads;         /* 1 */
    uint64_t seed;       /* 1; with one thread the output depends on it alone */
    uint64_t sync_words; /* under mpirun: words each process reads between two
                            exchanges of the ranks' changes, 200000 */
    size_t cache_mb;     /* the corpus is read as text once (in the vocabulary
                            pass, else in the first epoch) and held as word
                            ids, 4 bytes a word, for the passes after it when
                            they fit in this many MB, 1024; 0: read and
                            tokenize the text every epoch. Same vectors. */
    loom_tok_opts tok;   /* how the corpus is cut into words */
} loom_w2v_opts;

/* Fills o with the defaults above. */
void loom_w2v_opts_default(loom_w2v_opts *o);
/* LOOM_EINVAL with a message naming the option when a value is out of range. */
int loom_w2v_opts_check(const loom_w2v_opts *o);

typedef struct loom_w2v loom_w2v;

/* A trainer over the corpus files paths[0..n) (UTF-8 text, plain or .gz;
 * "-" is stdin, copied to a temporary file; under mpirun every rank reads
 * the files itself, so stdin and pipes are refused there). Checks the
 * options (copied) and opens every file: LOOM_EINVAL, LOOM_ENOTFOUND,
 * LOOM_EIO. */
int loom_w2v_new(loom_w2v **out, const loom_w2v_opts *o, const char *const *paths, size_t n);
void loom_w2v_free(loom_w2v *w);

/* Counts the corpus' words and keeps those seen min_count times or more (at
 * most max_vocab). LOOM_EINVAL when no word is left; LOOM_EFORMAT naming
 * file and line on invalid UTF-8. */
int loom_w2v_count(loom_w2v *w, loom_progress *p);
/* Uses v as the vocabulary instead (min_count and max_vocab still apply).
 * Takes ownership of v, also on failure. */
int loom_w2v_set_vocab(loom_w2v *w, loom_vocab *v);
/* The vocabulary in use (NULL before count or set_vocab), owned by w. */
const loom_vocab *loom_w2v_vocab(const loom_w2v *w);

/* Trains for the option's epochs. The progress line shows words/s, loss,
 * learning rate and epoch. */
int loom_w2v_train(loom_w2v *w, loom_progress *p);

/* The vectors, vocabulary size x dim floats, row i for word id i; owned
 * by w. */
const float *loom_w2v_vectors(const loom_w2v *w);
/* Saves them in `format` (LOOM_VEC_*), atomically. */
int loom_w2v_save(const loom_w2v *w, const char *path, int format);

typedef struct {
    uint64_t words;      /* corpus words read in training, all epochs */
    uint64_t trained;    /* words kept by subsampling, all epochs */
    uint64_t replayed;   /* of this process's words, those read from the ids
                            held in memory (cache_mb), not from the text */
    double seconds;      /* training wall time */
    double loss;         /* mean loss per prediction over the last epoch */
    int ranks;           /* processes that trained (1 without mpirun) */
    int syncs;           /* averagings of the ranks' matrices */
    double sync_seconds; /* wall time this rank spent in them */
} loom_w2v_stats;

/* Figures of the last training run. */
void loom_w2v_get_stats(const loom_w2v *w, loom_w2v_stats *s);

/* ========================= sequence models ============================== */

/* Encoder-decoder translation models (GRU, LSTM or Elman cells, with or
 * without attention), trained on sentence pairs and saved as one model
 * file (safetensors with the vocabularies and options inside), as
 * `loom seq2seq` and `loom translate` do.
 *
 *   const char *train[] = {"hidden", "64", "epochs", "20", NULL};
 *   loom_seq_train_pairs("pairs.tsv", "model.loom", train, NULL);
 *   const char *model = "model.loom", *beam[] = {"beam", "5", NULL};
 *   loom_translator *tr;
 *   loom_translator_load(&tr, &model, 1, beam);
 *   const char *src[] = {"the cat sleeps ."};
 *   char *out[1];
 *   loom_translate_sentences(tr, src, 1, out, NULL);   // out[0]: "..."
 *   free(out[0]);
 *   loom_translator_free(tr);
 *
 * Options are given by name as `loom seq2seq` and `loom translate` take
 * them without the dashes, in a NULL-terminated array of name, value
 * pairs ({"lr", "0.003", "cell", "lstm", NULL}); NULL or an empty array
 * means the command line's defaults. */

/* Trains a new model on `pairs` (UTF-8 lines "source<TAB>target", plain or
 * .gz) and writes it to `output` atomically, checkpointing to
 * output.ckpt as it goes. `options` takes every option of `loom help
 * seq2seq` that has a value (cell, attention, layers, bidirectional, emb,
 * hidden, attn-dim, tie-embeddings, dropout, threads, valid-every,
 * patience, lr, clip, label-smoothing, batch, epochs, seed, max-len,
 * min-count, max-vocab, freeze, src-vectors, tgt-vectors, best-by, ...)
 * and "valid", a file of validation pairs: with one, the model kept is the
 * one that did best on it. Errors: LOOM_ENOTFOUND for an unknown option
 * name ("no option --foo"), LOOM_EIO naming a file that cannot be opened
 * or written, LOOM_EINVAL naming the option
 * and its range ("--lr must be between 1e-09 and 10, not 20"), LOOM_EFORMAT
 * naming file and line for bad data. The progress line (p may
 * be NULL) shows tokens/s, loss and ETA. */
int loom_seq_train_pairs(const char *pairs, const char *output, const char *const *options,
                         loom_progress *p);

/* A loaded model (or an ensemble) ready to translate. Its calls may come
 * from several threads at once; each sentence's output is what it would
 * be translated alone. */
typedef struct loom_translator loom_translator;

/* Loads the model files paths[0..n) (n > 1: an ensemble, averaging their
 * log-probabilities at every step; they must share the target vocabulary
 * and the source tokenizer). Options: "beam" (1: greedy, the default),
 * "alpha" (GNMT length penalty, 0.6), "max-len" (output tokens; 0: twice
 * the source's + 10), "batch" (sentences decoded together, 64), "threads"
 * (per call, 1) and "replace-unk" (1: an <unk> of the output becomes the
 * source word it attends to most). Errors name the file (LOOM_EIO when it
 * cannot be read, LOOM_EFORMAT for a damaged or foreign file) or the option (LOOM_EINVAL,
 * LOOM_ENOTFOUND for an unknown name). */
int loom_translator_load(loom_translator **out, const char *const *paths, int n,
                         const char *const *options);
void loom_translator_free(loom_translator *t);

/* Translates the n NUL-terminated UTF-8 sentences src[0..n), tokenized as
 * the model was trained: out[i] receives the best translation of src[i]
 * as words joined by spaces (malloc'd: free each with free(); "" for a
 * sentence without tokens) and, when scores is not NULL, scores[i] its
 * length-normalised log-probability. On error nothing is left to free:
 * LOOM_EFORMAT names a sentence the tokenizer refuses ("sentence 3:
 * invalid UTF-8 ..."), LOOM_ENOMEM. */
int loom_translate_sentences(loom_translator *t, const char *const *src, int n, char **out,
                             float *scores);

#ifdef __cplusplus
}
#endif

#endif
