/* loom: subword units (BPE and the unigram language model) through Google's
 * SentencePiece, behind a C interface. Models are SentencePiece's own
 * .model files, interchangeable with Python's sentencepiece, Marian and
 * OpenNMT. This layer turns text into pieces and back; it knows nothing of
 * vectors or models, which keep a model as the bytes loom_subword_bytes()
 * gives and load it again with loom_subword_load_bytes(). */
#ifndef LOOM_TEXT_SUBWORD_H
#define LOOM_TEXT_SUBWORD_H

#include <stddef.h>
#include <stdint.h>

/* The base headers are C: subword.cc includes this header too. */
#ifdef __cplusplus
extern "C" {
#endif

#include "base/progress.h"
#include "base/reader.h"
#include "base/writer.h"
#include "text/tokenizer.h"

typedef struct loom_subword loom_subword;

/* The segmentation algorithms SentencePiece trains. */
typedef enum { LOOM_SUBWORD_UNIGRAM = 0, LOOM_SUBWORD_BPE = 1 } loom_subword_type;

typedef struct {
    int vocab_size;            /* pieces in the model, specials included (8000) */
    loom_subword_type type;    /* LOOM_SUBWORD_UNIGRAM */
    double character_coverage; /* share of the characters kept as pieces (0.9995) */
    int byte_fallback;         /* unknown characters become <0xNN> byte pieces (0) */
    int threads;               /* SentencePiece's trainer threads (1) */
    long long max_sentences;   /* sample at most this many lines (0 = all) */
    int max_sentence_bytes;    /* longer lines are left out (4192, as spm_train) */
    int verbose;               /* let SentencePiece log its training on stderr (0) */
} loom_subword_opts;

void loom_subword_opts_default(loom_subword_opts *o);

/* Trains a model on the lines of `paths` (files, "-" for stdin, .gz read
 * transparently). Progress (MB read, then the training phase) goes to
 * `progress` (may be NULL). A corpus too small for vocab_size is LOOM_EINVAL
 * with SentencePiece's explanation. */
int loom_subword_train(loom_subword **out, const char *const *paths, int npaths,
                       const loom_subword_opts *opts, loom_progress *progress);

/* Loads a .model file (or .model.gz). A file that is not a SentencePiece
 * model is LOOM_EFORMAT naming it. */
int loom_subword_load(loom_subword **out, const char *path);
/* Loads a model from its serialized bytes (copied); `name` is used in
 * messages, e.g. "model.loom: tensor subword.src". */
int loom_subword_load_bytes(loom_subword **out, const void *data, size_t size, const char *name);
void loom_subword_free(loom_subword *sw);

/* The serialized model (valid while sw lives), as saved to .model files. */
const void *loom_subword_bytes(const loom_subword *sw, size_t *size);
/* Writes the .model file through the atomic writer. */
int loom_subword_save(const loom_subword *sw, const char *path);
/* Writes SentencePiece's .vocab file: "piece<TAB>score" per id. */
int loom_subword_save_vocab(const loom_subword *sw, const char *path);

/* ---- the vocabulary ---- */

/* What an id stands for. */
typedef enum {
    LOOM_PIECE_NORMAL = 0,
    LOOM_PIECE_UNKNOWN = 1, /* <unk> */
    LOOM_PIECE_CONTROL = 2, /* <s>, </s>, <pad>: never produced by encoding */
    LOOM_PIECE_BYTE = 3,    /* <0x41>: one byte of a character outside the vocabulary */
    LOOM_PIECE_UNUSED = 4
} loom_piece_kind;

int loom_subword_size(const loom_subword *sw);
/* The piece text of an id (NUL-terminated, valid while sw lives); NULL when
 * id is out of range. Word starts are marked with U+2581 "▁". */
const char *loom_subword_piece(const loom_subword *sw, int id);
/* The id of a piece, or -1 when the vocabulary does not hold it. */
int loom_subword_find(const loom_subword *sw, const char *piece, size_t len);
float loom_subword_score(const loom_subword *sw, int id);
loom_piece_kind loom_subword_kind(const loom_subword *sw, int id);
/* The special ids, -1 when the model has none (SentencePiece's defaults:
 * <unk> 0, <s> 1, </s> 2, no <pad>). */
int loom_subword_unk_id(const loom_subword *sw);
int loom_subword_bos_id(const loom_subword *sw);
int loom_subword_eos_id(const loom_subword *sw);
int loom_subword_pad_id(const loom_subword *sw);

/* ---- encoding and decoding ---- */

/* One piece of a segmentation. `begin` and `end` are byte offsets of the
 * text the piece covers: in the input for encoding (before normalisation,
 * so input[begin, end) is what the piece came from), in the output for
 * decoding. */
typedef struct {
    int32_t id;
    const char *piece; /* as Python's encode(out_type=str) gives it; NUL-terminated */
    size_t piece_len;
    size_t begin, end;
} loom_piece;

/* A segmentation, reused from call to call; start zeroed, end with
 * loom_pieces_free. `text` holds the decoded text (decoding only). */
typedef struct {
    loom_piece *v;
    size_t n;
    char *text;
    size_t text_len;
    /* private */
    size_t cap, text_cap;
    char *store;
    size_t store_len, store_cap;
} loom_pieces;

void loom_pieces_free(loom_pieces *p);

/* Segments `len` bytes of UTF-8 text (a sentence; no newline) into pieces.
 * Invalid UTF-8 is read as U+FFFD, as SentencePiece does. */
int loom_subword_encode(const loom_subword *sw, const char *text, size_t len, loom_pieces *out);
/* Joins ids back into text in out->text, with each id's span in out->v.
 * An id out of range is LOOM_EINVAL. Control ids (<s>, </s>) give no text. */
int loom_subword_decode(const loom_subword *sw, const int32_t *ids, size_t n, loom_pieces *out);
/* The same for pieces given as text (lens[i] bytes each); a piece the
 * vocabulary does not hold decodes as <unk> does. */
int loom_subword_decode_pieces(const loom_subword *sw, const char *const *pieces,
                               const size_t *lens, size_t n, loom_pieces *out);

/* ---- pieces as tokens (src/text/subword_stream.c) ---- */

/* Segments one sentence and calls on_token for each piece's text, as
 * loom_tokenize_string calls it for words (tokenizer.h), so that the
 * callers of the tokenizer read pieces the same way. A piece holding white
 * space (a model made without SentencePiece's escaping of it) is
 * LOOM_EFORMAT: pieces must stay one token each in files of pieces. */
int loom_subword_tokenize(const loom_subword *sw, const char *s, size_t n, loom_token_fn on_token,
                          void *ctx);

/* 1 when a piece begins a word: it starts with U+2581 "▁" (the first piece
 * of a sentence always does unless the text began with a non-space that
 * SentencePiece kept glued, which the caller treats as a start too). */
int loom_subword_piece_starts_word(const char *piece, size_t len);

/* The raw text of pieces given as text (a model's output, whose
 * vocabulary holds pieces): each run of the subword model's own pieces
 * decoded by SentencePiece; a piece it lacks (a character its training
 * left out, which a vocabulary of seen pieces keeps as a piece of its own)
 * passes through as written, never as SentencePiece's " ⁇ ". Each "▁"
 * that opens a word is a space, except at the start of the text. *out is
 * NUL-terminated, malloc'ed; the caller frees it. */
int loom_subword_pieces_text(const loom_subword *sw, const char *const *pieces, int n, char **out);

/* ---- whole inputs (src/text/subword_stream.c) ---- */

/* The longest line the streams accept (longer is LOOM_EFORMAT naming the
 * file and line). */
#define LOOM_SUBWORD_MAX_LINE ((size_t)1 << 24)

/* Encodes every line of r to a line of w: pieces, or ids when `ids` is 1,
 * separated by single spaces. Progress in MB of r goes to `progress`, offset
 * by `mb_before` (the MB of earlier inputs). */
int loom_subword_encode_stream(const loom_subword *sw, loom_reader *r, loom_writer *w, int ids,
                               loom_progress *progress, double mb_before);
/* The reverse: each line of r holds pieces (or ids when `ids` is 1)
 * separated by spaces, and becomes a line of text. A word that is not an id,
 * or an id out of range, is LOOM_EFORMAT naming the file and line. */
int loom_subword_decode_stream(const loom_subword *sw, loom_reader *r, loom_writer *w, int ids,
                               loom_progress *progress, double mb_before);

#ifdef __cplusplus
}
#endif

#endif
