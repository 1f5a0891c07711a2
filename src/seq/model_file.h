/* loom: the sequence model file. One safetensors file (base/safetensors.h)
 * holds the weights as named tensors and, in __metadata__, the format name
 * and version, every hyperparameter, both vocabularies and both tokenizers'
 * options, so that a model file is all `loom translate` needs. Training
 * checkpoints are the same file plus optimizer and progress state. */
#ifndef LOOM_SEQ_MODEL_FILE_H
#define LOOM_SEQ_MODEL_FILE_H

#include "base/safetensors.h"
#include "seq/model.h"
#include "seq/options.h"
#include "text/subword.h"
#include "text/tokenizer.h"
#include "text/vocab.h"

#define LOOM_SEQ_FORMAT "loom-seq2seq"
#define LOOM_SEQ_FORMAT_VERSION "1"

/* The tensors that embed a side's SentencePiece model (its .model file's
 * bytes, dtype U8, one dimension); one model for both sides is stored
 * once, as subword.joint. */
#define LOOM_SEQ_SUBWORD_SRC "subword.src"
#define LOOM_SEQ_SUBWORD_TGT "subword.tgt"
#define LOOM_SEQ_SUBWORD_JOINT "subword.joint"
/* The largest embedded subword model a file may hold. */
#define LOOM_SEQ_SUBWORD_MAX_BYTES ((size_t)64 << 20)

/* A model with what it needs to read and write words. */
typedef struct {
    loom_seq_model *model;
    loom_vocab *vocab[2]; /* source, target */
    loom_tok_opts tok[2];
    /* A side read as SentencePiece pieces (NULL: words, by tok[side]); the
     * vocabulary then holds pieces. Saved as the U8 tensors above; owned
     * by the bundle (two objects even when both sides share one model). */
    loom_subword *subword[2];
} loom_seq_bundle;

void loom_seq_bundle_free(loom_seq_bundle *b); /* frees the members, not b */

/* Starts a writer holding the model's tensors and metadata; the caller may
 * add more (training hyperparameters, optimizer state) before
 * loom_st_writer_save. `b` must outlive the writer. */
int loom_seq_file_writer(loom_st_writer **out, const loom_seq_bundle *b);

/* Opens a model file, checks format and version, and rebuilds the bundle
 * (model, vocabularies, tokenizers). Nothing in it is trusted: every
 * metadata value is checked by the options table's rules, the
 * vocabularies must list their words in id order, the tensors must have
 * the shapes the metadata implies (checked before the model's memory is
 * taken) and hold no NaN or infinity, and an embedded subword model
 * must load (LOOM_EFORMAT naming file and tensor otherwise); LOOM_EFORMAT
 * names file and key. When f_out is not NULL the
 * open file is handed back (for checkpoint state); close it with loom_st_close. */
int loom_seq_file_load(loom_seq_bundle *b, const char *path, loom_st_file **f_out);

/* A human-readable description of a model file (format, sizes,
 * hyperparameters, vocabularies, parameter count), malloc'd in *out.
 * LOOM_EFORMAT when the file is not a loom sequence model. */
int loom_seq_describe(char **out, const char *path);
/* Checkpoint averaging: writes to `out` the model of paths[0] with every
 * weight the mean of the n files' (summed in double, in order, so the
 * mean of identical files is bit for bit their weights). The files must
 * differ in their weights only: LOOM_EINVAL naming the file whose shape,
 * vocabularies, tokenizers or subword models differ. The output holds the
 * model's metadata, not the runs' training options. */
int loom_seq_average(const char *const *paths, int n, const char *out);

/* 1 when `path` is a safetensors file whose format is loom-seq2seq. */
int loom_seq_is_model_file(const char *path);

#endif
