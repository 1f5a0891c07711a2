/* loom: the options of a sequence-model training run, and the one table
 * (options.c) that maps them to the metadata of model and checkpoint
 * files. Each row gives an option's metadata key, its command-line flag,
 * its type, its range and its place in the struct below; the command
 * line, the model writer, the loader, resuming and `loom info` all go
 * through that table, so a file can hold only what the command line
 * accepts. Knows files as key/value pairs; nothing of training itself. */
#ifndef LOOM_SEQ_OPTIONS_H
#define LOOM_SEQ_OPTIONS_H

#include <signal.h>
#include <stdint.h>

#include "base/safetensors.h"
#include "seq/model.h"
#include "text/tokenizer.h"

enum { LOOM_SEQ_BEST_LOSS = 0, LOOM_SEQ_BEST_BLEU = 1 };
/* How the learning rate falls after its warm-up (--lr-decay). */
enum { LOOM_SEQ_DECAY_NONE = 0, LOOM_SEQ_DECAY_INV_SQRT = 1, LOOM_SEQ_DECAY_PLATEAU = 2 };
/* --precision: the matrix products of training (core/blas.h) */
enum { LOOM_SEQ_PRECISION_FP32 = 0, LOOM_SEQ_PRECISION_BF16 = 1 };
enum {
    LOOM_SEQ_FREEZE_NONE = 0,
    LOOM_SEQ_FREEZE_SRC = 1,
    LOOM_SEQ_FREEZE_TGT = 2,
    LOOM_SEQ_FREEZE_BOTH = 3
};

/* Everything a training run is told. loom_seq_train_defaults gives the
 * command line's defaults. */
typedef struct {
    /* data */
    const char *pairs;     /* source<TAB>target lines; NULL with src and tgt */
    const char *src, *tgt; /* aligned files instead of pairs */
    const char *valid;     /* validation pairs (NULL: none) */
    const char *output;    /* the model file */
    int min_count;         /* words seen fewer times are dropped */
    int max_vocab;         /* words per side (0: all) */
    int max_len;           /* pairs with a longer side are dropped (0: none) */
    loom_tok_opts tok[2];  /* source, target */
    /* SentencePiece .model files segmenting a side into pieces (NULL: the
     * tokenizer's words); joint_subword: one model for both sides. The
     * model file embeds them. */
    const char *subword[2];
    const char *joint_subword;
    /* model: emb 0 takes the vectors' size (else 64); attn_dim 0 the hidden
     * size; the vocabulary sizes come from the data */
    loom_seq_config model;
    /* transfer learning */
    const char *vectors[2];     /* vector files initialising the embeddings */
    int freeze;                 /* LOOM_SEQ_FREEZE_*: embeddings kept fixed */
    int scale_vectors;          /* 1: vectors scaled to standard deviation 1 */
    int src_vocab_from_vectors; /* -1: off; N: the first N vector words (0: all) */
    /* training */
    float lr, clip, label_smoothing; /* Adam's rate; global-norm clip (0: off) */
    int batch, epochs;
    int threads; /* data-parallel workers (more than LOOM_SEQ_MAX_THREADS: that many) */
    uint64_t seed;
    int valid_every;           /* steps between validations; 0: once per epoch */
    int patience;              /* validations without improvement before stopping; 0: never */
    int best_by;               /* LOOM_SEQ_BEST_LOSS or _BLEU: what "best" means */
    double checkpoint_minutes; /* 0: only at the end */
    const char *checkpoint;    /* loom_seq_train: NULL is none; loom_seq_train_run: MODEL.ckpt */
    const char *resume;        /* loom_seq_train_run: a checkpoint to continue from */
    long max_steps;            /* stop (and checkpoint) after this many steps; 0: no limit */
    double stop_at_exact;      /* stop once validation exact match reaches this (0: off) */
    /* the learning-rate schedule: lr * min(1, (step + 1) / lr_warmup), then
     * inv-sqrt: * sqrt(lr_warmup / step) past the warm-up (Marian's
     * --lr-decay-inv-sqrt); plateau: * lr_decay_factor at each validation
     * that does not improve (OpenNMT's, PyTorch's ReduceLROnPlateau) */
    int lr_warmup;         /* steps (0: none) */
    int lr_decay;          /* LOOM_SEQ_DECAY_* */
    float lr_decay_factor; /* plateau: the factor, 0 < f <= 1 */
    int keep_last;         /* keep the last N validations' models as MODEL.1..N (0: none) */
    /* LOOM_SEQ_PRECISION_*: what training's matrix products compute in
     * (bf16: bfloat16 operands, float32 sums and master weights; needs
     * AVX-512 BF16, core/gemm_bf16.h) */
    int precision;
    /* Not an option of the table: when set, training stops after the batch
     * during which *stop became non-zero (a signal handler's flag: Ctrl-C),
     * writing what --max-steps writes: the checkpoint and, if validation
     * has not written it, the model. */
    const volatile sig_atomic_t *stop;
} loom_seq_train_opts;

/* Where a training run stands, as checkpoints record it, and what the
 * kept model reached. */
typedef struct {
    int epoch;  /* current epoch */
    long batch; /* next batch within it */
    long step, tokens;
    double best;      /* best validation score, lower is better: loss, or -BLEU (INFINITY: none) */
    int bad;          /* validations since the best */
    double best_loss; /* the kept model's validation loss or BLEU (NAN: none) */
    double best_bleu;
    double lr_scale; /* what --lr-decay plateau has made of the rate so far (1: nothing) */
    int nvalid;      /* validations run */
} loom_seq_position;

void loom_seq_train_defaults(loom_seq_train_opts *o);

/* Sets the option of command-line flag `flag` ("lr", "label-smoothing",
 * "cell") from its text, by the table's rules. LOOM_EINVAL with a message
 * naming the flag ("--lr must be between 1e-09 and 10, not nan");
 * LOOM_ENOTFOUND when no option has that flag. */
int loom_seq_opt_set(loom_seq_train_opts *o, const char *flag, const char *value);

/* Checks every option against its row of the table, and the combinations
 * that need no data (dot attention and a bidirectional encoder, vectors
 * the other options need, ...). LOOM_EINVAL with a message. */
int loom_seq_opts_check(const loom_seq_train_opts *o);

/* What part of a file a key belongs to. */
enum {
    LOOM_SEQ_META_MODEL = 1,  /* the model's shape and tokenizers: every model file */
    LOOM_SEQ_META_TRAIN = 2,  /* how it was trained: files the trainer writes */
    LOOM_SEQ_META_RESULT = 4, /* steps, epochs and the best validation score */
    LOOM_SEQ_META_CKPT = 8,   /* where the loop stands: checkpoints only */
    LOOM_SEQ_META_ALL = 15
};

/* Writes the keys of `sections` (LOOM_SEQ_META_*) from o and p. */
int loom_seq_meta_write(loom_st_writer *w, unsigned sections, const loom_seq_train_opts *o,
                        const loom_seq_position *p);

/* Reads the keys of `sections` that f holds into o and p, each checked by
 * the same rules as its command-line flag; fields whose key is absent keep
 * their values. A key of the `required` sections that f lacks (unless
 * older files lacked it too), or a value out of its range, is LOOM_EFORMAT
 * naming the file and the key. */
int loom_seq_meta_read(const loom_st_file *f, unsigned sections, unsigned required,
                       loom_seq_train_opts *o, loom_seq_position *p);

/* The training options a resumed run takes from its checkpoint (it
 * continues that run; --epochs, --max-steps and the like stay the
 * caller's): copies those fields from `from` into o. */
void loom_seq_opts_resume(loom_seq_train_opts *o, const loom_seq_train_opts *from);

/* Calls fn(ctx, key, value) for every key of `sections` that f holds, in
 * the table's order (for descriptions such as `loom info`'s); stops at and
 * returns fn's first non-zero result. */
int loom_seq_meta_each(const loom_st_file *f, unsigned sections,
                       int (*fn)(void *ctx, const char *key, const char *value), void *ctx);

/* Tokenizer options as one metadata string ("keep_case=0 punct=keep
 * invalid=error pretokenized=0", then " chars=1" for characters as
 * tokens) and back; parsing is strict. */
void loom_seq_tok_format(char *buf, size_t n, const loom_tok_opts *o);
int loom_seq_tok_parse(loom_tok_opts *o, const char *s);

#endif
