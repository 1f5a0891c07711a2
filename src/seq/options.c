/* loom: the options of a sequence-model training run and the metadata keys
 * of model and checkpoint files, in one table. Setting an option from the
 * command line, checking a set of options, writing a file's metadata and
 * reading it back are loops over that table with one parser and one range
 * check per type, so a file holds nothing the command line would refuse.
 * Knows keys and values, not what training does with them. */
#include "config.h"
#include "seq/options.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "core/gemm_bf16.h"

typedef enum { T_INT, T_LONG, T_U64, T_F32, T_F64, T_ENUM, T_PATH, T_TOK } type;

enum {
    OPTIONAL = 1,    /* files of the row's section may lack it (older files did) */
    RESUME = 2,      /* a resumed run takes it from its checkpoint */
    OFF = 4,         /* T_INT: -1 is written and read as "off" */
    POS = 8,         /* a field of loom_seq_position, not of the options */
    UNSET_NAN = 16,  /* T_F64: NAN means none: not written */
    UNSET_ZERO = 32, /* T_ENUM: the default, 0, is not written (files stay as before) */
    UNSET_ONE = 64   /* T_INT: the default, 1, is not written (files stay as before) */
};

typedef struct {
    const char *key;  /* metadata key (NULL: the command line only) */
    const char *flag; /* command-line flag without "--" (NULL: files only) */
    unsigned section; /* LOOM_SEQ_META_* (0: not in files) */
    unsigned flags;
    type type;
    size_t off;               /* into loom_seq_train_opts, or loom_seq_position (POS) */
    double lo, hi;            /* numbers: the range, both ends included */
    const char *const *names; /* T_ENUM: the values' names, NULL-terminated */
    const char *fmt;          /* T_F64 in files (default: the shortest exact form) */
} row;

static const char *const freeze_names[] = {"none", "src", "tgt", "both", NULL};
static const char *const best_by_names[] = {"loss", "bleu", NULL}; /* LOOM_SEQ_BEST_* */
static const char *const decay_names[] = {"none", "inv-sqrt", "plateau", NULL}; /* _DECAY_* */
static const char *const precision_names[] = {"fp32", "bf16", NULL};            /* _PRECISION_* */

#define O(f) offsetof(loom_seq_train_opts, f)
#define P(f) offsetof(loom_seq_position, f)
#define MODEL LOOM_SEQ_META_MODEL
#define TRAIN LOOM_SEQ_META_TRAIN
#define RESULT LOOM_SEQ_META_RESULT
#define CKPT LOOM_SEQ_META_CKPT
#define INT_MAX_D 2147483647.0
#define LONG_MAX_D 9223372036854775807.0

/* clang-format off */
static const row table[] = {
    /* the model's shape and tokenizers: every model file, required */
    {"cell", "cell", MODEL, RESUME, T_ENUM, O(model.cell), 0, 0, loom_rnn_cell_names, NULL},
    {"attention", "attention", MODEL, RESUME, T_ENUM, O(model.attention), 0, 0, loom_attn_kind_names, NULL},
    {"layers", "layers", MODEL, RESUME, T_INT, O(model.layers), 1, LOOM_SEQ_MAX_LAYERS, NULL, NULL},
    {"bidirectional", "bidirectional", MODEL, RESUME, T_INT, O(model.bidirectional), 0, 1, NULL, NULL},
    {"emb", "emb", MODEL, RESUME, T_INT, O(model.emb), 0, 65536, NULL, NULL},
    {"hidden", "hidden", MODEL, RESUME, T_INT, O(model.hidden), 1, 65536, NULL, NULL},
    {"attn_dim", "attn-dim", MODEL, RESUME, T_INT, O(model.attn_dim), 0, 65536, NULL, NULL},
    {"src_vocab_size", NULL, MODEL, RESUME, T_INT, O(model.src_vocab), 5, 1 << 30, NULL, NULL},
    {"tgt_vocab_size", NULL, MODEL, RESUME, T_INT, O(model.tgt_vocab), 5, 1 << 30, NULL, NULL},
    {"tie_embeddings", "tie-embeddings", MODEL, RESUME | OPTIONAL, T_INT, O(model.tie_embeddings), 0, 1, NULL, NULL},
    {"dropout", "dropout", MODEL, RESUME | OPTIONAL, T_F32, O(model.dropout), 0, 0.95, NULL, NULL},
    {"dec_layers", "dec-layers", MODEL, RESUME | OPTIONAL | UNSET_ONE, T_INT, O(model.dec_layers), 1, LOOM_SEQ_MAX_LAYERS, NULL, NULL},
    {"src_tokenizer", NULL, MODEL, RESUME, T_TOK, O(tok[0]), 0, 0, NULL, NULL},
    {"tgt_tokenizer", NULL, MODEL, RESUME, T_TOK, O(tok[1]), 0, 0, NULL, NULL},
    /* how the model was trained; a resumed run keeps what continues the run */
    {"threads", "threads", TRAIN, OPTIONAL, T_INT, O(threads), 1, 256, NULL, NULL},
    {"valid_every", "valid-every", TRAIN, OPTIONAL, T_INT, O(valid_every), 0, INT_MAX_D, NULL, NULL},
    {"patience", "patience", TRAIN, OPTIONAL, T_INT, O(patience), 0, INT_MAX_D, NULL, NULL},
    {"lr", "lr", TRAIN, OPTIONAL | RESUME, T_F32, O(lr), 1e-9, 10, NULL, NULL},
    {"clip", "clip", TRAIN, OPTIONAL | RESUME, T_F32, O(clip), 0, 1e9, NULL, NULL},
    {"label_smoothing", "label-smoothing", TRAIN, OPTIONAL | RESUME, T_F32, O(label_smoothing), 0, 0.99, NULL, NULL},
    {"batch", "batch", TRAIN, OPTIONAL | RESUME, T_INT, O(batch), 1, 65536, NULL, NULL},
    {"epochs", "epochs", TRAIN, OPTIONAL, T_INT, O(epochs), 1, 1000000, NULL, NULL},
    {"seed", "seed", TRAIN, OPTIONAL | RESUME, T_U64, O(seed), 0, LONG_MAX_D, NULL, NULL},
    {"max_len", "max-len", TRAIN, OPTIONAL | RESUME, T_INT, O(max_len), 0, INT_MAX_D, NULL, NULL},
    {"min_count", "min-count", TRAIN, OPTIONAL | RESUME, T_INT, O(min_count), 1, INT_MAX_D, NULL, NULL},
    {"max_vocab", "max-vocab", TRAIN, OPTIONAL | RESUME, T_INT, O(max_vocab), 0, INT_MAX_D, NULL, NULL},
    {"src_vocab_from_vectors", "src-vocab-from-vectors", TRAIN, OPTIONAL | RESUME | OFF, T_INT, O(src_vocab_from_vectors), 0, INT_MAX_D, NULL, NULL},
    {"scale_vectors", "scale-vectors", TRAIN, OPTIONAL | RESUME, T_INT, O(scale_vectors), 0, 1, NULL, NULL},
    {"freeze", "freeze", TRAIN, OPTIONAL | RESUME, T_ENUM, O(freeze), 0, 0, freeze_names, NULL},
    {"src_vectors", "src-vectors", TRAIN, OPTIONAL | RESUME, T_PATH, O(vectors[0]), 0, 0, NULL, NULL},
    {"tgt_vectors", "tgt-vectors", TRAIN, OPTIONAL | RESUME, T_PATH, O(vectors[1]), 0, 0, NULL, NULL},
    {"best_by", "best-by", TRAIN, OPTIONAL | RESUME, T_ENUM, O(best_by), 0, 0, best_by_names, NULL},
    {"lr_warmup", "lr-warmup", TRAIN, OPTIONAL | RESUME, T_INT, O(lr_warmup), 0, INT_MAX_D, NULL, NULL},
    {"lr_decay", "lr-decay", TRAIN, OPTIONAL | RESUME, T_ENUM, O(lr_decay), 0, 0, decay_names, NULL},
    {"lr_decay_factor", "lr-decay-factor", TRAIN, OPTIONAL | RESUME, T_F32, O(lr_decay_factor), 0.001, 1, NULL, NULL},
    {"keep_last", "keep-last", TRAIN, OPTIONAL, T_INT, O(keep_last), 0, 16, NULL, NULL},
    {"precision", "precision", TRAIN, OPTIONAL | UNSET_ZERO, T_ENUM, O(precision), 0, 0, precision_names, NULL},
    /* the files the subword models came from (the model file embeds their bytes) */
    {"src_subword", "src-subword", TRAIN, OPTIONAL | RESUME, T_PATH, O(subword[0]), 0, 0, NULL, NULL},
    {"tgt_subword", "tgt-subword", TRAIN, OPTIONAL | RESUME, T_PATH, O(subword[1]), 0, 0, NULL, NULL},
    {"joint_subword", "joint-subword", TRAIN, OPTIONAL | RESUME, T_PATH, O(joint_subword), 0, 0, NULL, NULL},
    /* the command line only */
    {NULL, "checkpoint-every", 0, 0, T_F64, O(checkpoint_minutes), 0, 1e9, NULL, NULL},
    {NULL, "max-steps", 0, 0, T_LONG, O(max_steps), 0, LONG_MAX_D, NULL, NULL},
    {NULL, "stop-at-exact", 0, 0, T_F64, O(stop_at_exact), 0, 1, NULL, NULL},
    /* what the run reached (before the checkpoint rows: those win on reading) */
    {"steps", NULL, RESULT, OPTIONAL | POS, T_LONG, P(step), 0, LONG_MAX_D, NULL, NULL},
    {"epoch", NULL, RESULT, OPTIONAL | POS, T_INT, P(epoch), 0, 1000000, NULL, NULL},
    {"best_valid_loss", NULL, RESULT, OPTIONAL | POS | UNSET_NAN, T_F64, P(best_loss), 0, 1e9, NULL, "%.6f"},
    {"best_valid_bleu", NULL, RESULT, OPTIONAL | POS | UNSET_NAN, T_F64, P(best_bleu), 0, 100, NULL, "%.2f"},
    /* where the loop stands: checkpoints, required there */
    {"train_epoch", NULL, CKPT, POS, T_INT, P(epoch), 0, 1000000, NULL, NULL},
    {"train_batch", NULL, CKPT, POS, T_LONG, P(batch), 0, LONG_MAX_D, NULL, NULL},
    {"train_step", NULL, CKPT, POS, T_LONG, P(step), 0, LONG_MAX_D, NULL, NULL},
    {"train_tokens", NULL, CKPT, POS, T_LONG, P(tokens), 0, LONG_MAX_D, NULL, NULL},
    {"train_best", NULL, CKPT, POS, T_F64, P(best), -100, INFINITY, NULL, "%a"},
    {"train_bad", NULL, CKPT, POS, T_INT, P(bad), 0, INT_MAX_D, NULL, NULL},
    {"train_lr_scale", NULL, CKPT, POS | OPTIONAL, T_F64, P(lr_scale), 0, 1, NULL, "%a"},
    {"train_validations", NULL, CKPT, POS | OPTIONAL, T_INT, P(nvalid), 0, INT_MAX_D, NULL, NULL},
};
/* clang-format on */
#define NROWS (sizeof table / sizeof table[0])

void loom_seq_train_defaults(loom_seq_train_opts *o)
{
    memset(o, 0, sizeof *o);
    o->min_count = 1;
    o->max_len = 50;
    loom_tok_opts_default(&o->tok[0]);
    loom_tok_opts_default(&o->tok[1]);
    o->model.cell = LOOM_RNN_GRU;
    o->model.attention = LOOM_ATTN_BAHDANAU;
    o->model.layers = 1;
    o->model.dec_layers = 1;
    o->model.bidirectional = 1;
    o->model.hidden = 128;
    o->src_vocab_from_vectors = -1;
    o->lr = 2e-3f;
    o->clip = 1.0f;
    o->batch = 64;
    o->epochs = 10;
    o->seed = 1;
    o->threads = 1;
    o->checkpoint_minutes = 10;
    o->lr_decay_factor = 0.5f;
}

/* ---- tokenizer options as one string ---- */

void loom_seq_tok_format(char *buf, size_t n, const loom_tok_opts *o)
{
    /* chars=1 only when set: word tokenizers read as they always did */
    snprintf(buf, n, "keep_case=%d punct=%s invalid=%s pretokenized=%d%s", o->keep_case,
             o->punct == LOOM_PUNCT_DROP ? "drop" : "keep",
             o->invalid == LOOM_INVALID_REPLACE ? "replace" : "error", o->pretokenized,
             o->chars ? " chars=1" : "");
}

int loom_seq_tok_parse(loom_tok_opts *o, const char *s)
{
    char punct[16], invalid[16];
    int end = -1;
    loom_tok_opts t;
    loom_tok_opts_default(&t);
    if (sscanf(s, "keep_case=%d punct=%15s invalid=%15s pretokenized=%d%n", &t.keep_case, punct,
               invalid, &t.pretokenized, &end) != 4 ||
        (s[end] != '\0' && strcmp(s + end, " chars=1") != 0) ||
        (t.keep_case != 0 && t.keep_case != 1) || (t.pretokenized != 0 && t.pretokenized != 1))
        return LOOM_EFORMAT;
    if (strcmp(punct, "keep") != 0 && strcmp(punct, "drop") != 0)
        return LOOM_EFORMAT;
    if (strcmp(invalid, "error") != 0 && strcmp(invalid, "replace") != 0)
        return LOOM_EFORMAT;
    t.chars = s[end] != '\0';
    t.punct = strcmp(punct, "drop") == 0 ? LOOM_PUNCT_DROP : LOOM_PUNCT_KEEP;
    t.invalid = strcmp(invalid, "replace") == 0 ? LOOM_INVALID_REPLACE : LOOM_INVALID_ERROR;
    *o = t;
    return 0;
}

/* ---- one row: parse, check, format ---- */

static void *field(const row *r, void *o, void *p)
{
    return (char *)(r->flags & POS ? p : o) + r->off;
}

static const void *cfield(const row *r, const void *o, const void *p)
{
    return (const char *)(r->flags & POS ? p : o) + r->off;
}

static size_t field_size(const row *r)
{
    switch (r->type) {
    case T_LONG:
        return sizeof(long);
    case T_U64:
        return sizeof(uint64_t);
    case T_F32:
        return sizeof(float);
    case T_F64:
        return sizeof(double);
    case T_PATH:
        return sizeof(const char *);
    case T_TOK:
        return sizeof(loom_tok_opts);
    default:
        return sizeof(int);
    }
}

/* "must be between 1 and 8", or "must be at least 0" when the top is out
 * of any file's reach. */
static void range_text(char *buf, size_t n, const row *r)
{
    int prec = r->type == T_F32 || r->type == T_F64 ? 6 : 15; /* integers in full */
    if (r->hi >= LONG_MAX_D)
        snprintf(buf, n, "must be at least %.*g", prec, r->lo);
    else
        snprintf(buf, n, "must be between %.*g and %.*g", prec, r->lo, prec, r->hi);
}

/* T_ENUM: the name of value v, NULL when v has none. */
static const char *enum_name(const row *r, int v)
{
    for (int k = 0; v >= 0 && r->names[k]; k++)
        if (k == v)
            return r->names[k];
    return NULL;
}

static void enum_text(char *buf, size_t n, const row *r)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int v = 0; r->names[v] && len + 1 < n; v++)
        len += (size_t)snprintf(buf + len, n - len, "%s%s", v ? "|" : "", r->names[v]);
}

/* Checks the value at `v`; on failure writes why to `why`. */
static int check(const row *r, const void *v, char *why, size_t n)
{
    char range[96];
    range_text(range, sizeof range, r);
    double x;
    switch (r->type) {
    case T_INT:
        x = *(const int *)v;
        if (x == -1 && (r->flags & OFF))
            return 0;
        break;
    case T_LONG:
        x = (double)*(const long *)v;
        break;
    case T_U64:
        x = (double)*(const uint64_t *)v;
        break;
    case T_F32: /* the float nearest each bound is in: 0.99 as a float is above 0.99 */
        x = *(const float *)v;
        if (x >= (float)r->lo && x <= (float)r->hi)
            return 0;
        break;
    case T_F64:
        x = *(const double *)v;
        if (isnan(x) && (r->flags & UNSET_NAN))
            return 0;
        break;
    case T_ENUM:
        if (enum_name(r, *(const int *)v))
            return 0;
        enum_text(range, sizeof range, r);
        snprintf(why, n, "expects %s, not %d", range, *(const int *)v);
        return -1;
    default:
        return 0;
    }
    if (x >= r->lo && x <= r->hi) /* false for NaN */
        return 0;
    snprintf(why, n, "%s, not %.*g", range, r->type == T_F32 || r->type == T_F64 ? 6 : 20, x);
    return -1;
}

/* Parses text into the field at `v` and checks it. */
static int parse(const row *r, const char *s, void *v, char *why, size_t n)
{
    char *end;
    errno = 0;
    if ((r->flags & OFF) && strcmp(s, "off") == 0) {
        *(int *)v = -1;
        return 0;
    }
    switch (r->type) {
    case T_INT:
    case T_LONG:
    case T_U64: {
        long long x = strtoll(s, &end, 10);
        if (errno || end == s || *end) {
            snprintf(why, n, "expects an integer, not '%s'", s);
            return -1;
        }
        if (r->type == T_U64 && x < 0) {
            snprintf(why, n, "must be at least 0, not %lld", x);
            return -1;
        }
        if (r->type == T_INT && (x < INT_MIN || x > INT_MAX)) {
            char range[96];
            range_text(range, sizeof range, r);
            snprintf(why, n, "%s, not %s", range, s);
            return -1;
        }
        if (r->type == T_INT)
            *(int *)v = (int)x;
        else if (r->type == T_LONG)
            *(long *)v = (long)x;
        else
            *(uint64_t *)v = (uint64_t)x;
        break;
    }
    case T_F32:
    case T_F64: {
        double x = strtod(s, &end);
        if (errno == EINVAL || end == s || *end || isnan(x) || (isinf(x) && !isinf(r->hi))) {
            snprintf(why, n, "expects a number, not '%s'", s);
            return -1;
        }
        if (r->type == T_F32)
            *(float *)v = (float)x;
        else
            *(double *)v = x;
        break;
    }
    case T_ENUM:
        for (int k = 0; r->names[k]; k++)
            if (strcmp(s, r->names[k]) == 0) {
                *(int *)v = k;
                return 0;
            }
        char list[96];
        enum_text(list, sizeof list, r);
        snprintf(why, n, "expects %s, not '%s'", list, s);
        return -1;
    case T_PATH:
        *(const char **)v = strcmp(s, "none") == 0 ? NULL : s;
        return 0;
    case T_TOK:
        if (loom_seq_tok_parse(v, s) == 0)
            return 0;
        snprintf(why, n,
                 "is not 'keep_case=0|1 punct=keep|drop invalid=error|replace "
                 "pretokenized=0|1[ chars=1]': '%s'",
                 s);
        return -1;
    }
    return check(r, v, why, n);
}

/* The shortest text that reads back as the same float or double. */
static void format_real(char *buf, size_t n, double x, int single)
{
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, x);
        double back = strtod(buf, NULL);
        if (single ? (float)back == (float)x : back == x)
            return;
    }
}

/* The field's text as files hold it; "" when it is not written. */
static void format(const row *r, const void *v, char *buf, size_t n)
{
    buf[0] = '\0';
    switch (r->type) {
    case T_INT:
        if (*(const int *)v == -1 && (r->flags & OFF))
            snprintf(buf, n, "off");
        else if (*(const int *)v == 1 && (r->flags & UNSET_ONE))
            break;
        else
            snprintf(buf, n, "%d", *(const int *)v);
        break;
    case T_LONG:
        snprintf(buf, n, "%ld", *(const long *)v);
        break;
    case T_U64:
        snprintf(buf, n, "%" PRIu64, *(const uint64_t *)v);
        break;
    case T_F32:
        format_real(buf, n, *(const float *)v, 1);
        break;
    case T_F64:
        if (isnan(*(const double *)v) && (r->flags & UNSET_NAN))
            break;
        if (r->fmt)
            snprintf(buf, n, r->fmt, *(const double *)v);
        else
            format_real(buf, n, *(const double *)v, 0);
        break;
    case T_ENUM:
        if (*(const int *)v == 0 && (r->flags & UNSET_ZERO))
            break;
        snprintf(buf, n, "%s", enum_name(r, *(const int *)v) ? enum_name(r, *(const int *)v) : "?");
        break;
    case T_PATH:
        snprintf(buf, n, "%s", *(const char *const *)v ? *(const char *const *)v : "none");
        break;
    case T_TOK:
        loom_seq_tok_format(buf, n, v);
        break;
    }
}

/* ---- the table as a whole ---- */

int loom_seq_opt_set(loom_seq_train_opts *o, const char *flag, const char *value)
{
    for (size_t i = 0; i < NROWS; i++) {
        const row *r = &table[i];
        if (!r->flag || strcmp(r->flag, flag) != 0)
            continue;
        char why[256];
        if (parse(r, value, field(r, o, NULL), why, sizeof why))
            return loom_error(LOOM_EINVAL, "--%s %s", flag, why);
        return 0;
    }
    return loom_error(LOOM_ENOTFOUND, "no option --%s", flag);
}

int loom_seq_opts_check(const loom_seq_train_opts *o)
{
    char why[256];
    for (size_t i = 0; i < NROWS; i++) {
        const row *r = &table[i];
        if (r->flag && !(r->flags & POS) && check(r, cfield(r, o, NULL), why, sizeof why))
            return loom_error(LOOM_EINVAL, "--%s %s", r->flag, why);
    }
    /* the model's own combinations, on the sizes the run will resolve */
    loom_seq_config c = o->model;
    c.emb = c.emb ? c.emb : 64;
    c.attn_dim = c.attn_dim ? c.attn_dim : c.hidden;
    c.src_vocab = c.tgt_vocab = 5;
    int rc = loom_seq_config_check(&c);
    if (rc)
        return rc;
    int resume = o->resume != NULL, tie = o->model.tie_embeddings;
    int freeze_src = (o->freeze & LOOM_SEQ_FREEZE_SRC) || (tie && o->freeze);
    int freeze_tgt = !tie && (o->freeze & LOOM_SEQ_FREEZE_TGT);
    if (tie && o->vectors[1])
        return loom_error(LOOM_EINVAL,
                          "with --tie-embeddings, --src-vectors initialises the one table");
    if (o->src_vocab_from_vectors >= 0 && tie)
        return loom_error(LOOM_EINVAL, "--src-vocab-from-vectors cannot be used with "
                                       "--tie-embeddings (the one vocabulary is the target's too)");
    if (o->joint_subword && (o->subword[0] || o->subword[1]))
        return loom_error(LOOM_EINVAL, "--joint-subword segments both sides: it cannot be "
                                       "combined with --src-subword or --tgt-subword");
    if (tie && !o->joint_subword && (o->subword[0] || o->subword[1]))
        return loom_error(LOOM_EINVAL, "--tie-embeddings with subword models needs "
                                       "--joint-subword (one model, one vocabulary of pieces)");
    if (o->lr_decay == LOOM_SEQ_DECAY_INV_SQRT && o->lr_warmup == 0)
        return loom_error(LOOM_EINVAL, "--lr-decay inv-sqrt needs --lr-warmup STEPS (the rate "
                                       "falls as sqrt(STEPS / step) after them)");
    if (o->lr_decay == LOOM_SEQ_DECAY_PLATEAU && !o->valid)
        return loom_error(LOOM_EINVAL, "--lr-decay plateau needs --valid (it acts on validations)");
    if (o->precision == LOOM_SEQ_PRECISION_BF16 && !loom_gemm_bf16_available())
        return loom_error(LOOM_EINVAL, "--precision bf16 needs a CPU with AVX-512 BF16 (this one "
                                       "has none, or LOOM_NO_AVX512 is set); use fp32");
    if (o->keep_last && !o->valid)
        return loom_error(LOOM_EINVAL, "--keep-last needs --valid (it keeps validations' models)");
    if (resume)
        return 0; /* the checkpoint names its vectors */
    if (o->src_vocab_from_vectors >= 0 && !o->vectors[0])
        return loom_error(LOOM_EINVAL, "--src-vocab-from-vectors needs --src-vectors");
    if (o->scale_vectors && !o->vectors[0] && !o->vectors[1])
        return loom_error(LOOM_EINVAL, "--scale-vectors needs --src-vectors or --tgt-vectors");
    if (freeze_src && !o->vectors[0])
        return loom_error(LOOM_EINVAL, "--freeze src needs --src-vectors");
    if (freeze_tgt && !o->vectors[1])
        return loom_error(LOOM_EINVAL, "--freeze tgt needs --tgt-vectors");
    return 0;
}

int loom_seq_meta_write(loom_st_writer *w, unsigned sections, const loom_seq_train_opts *o,
                        const loom_seq_position *p)
{
    char buf[4200];
    for (size_t i = 0; i < NROWS; i++) {
        const row *r = &table[i];
        if (!(r->section & sections))
            continue;
        format(r, cfield(r, o, p), buf, sizeof buf);
        if (buf[0] && loom_st_writer_meta(w, r->key, buf))
            return LOOM_ENOMEM;
    }
    return 0;
}

int loom_seq_meta_read(const loom_st_file *f, unsigned sections, unsigned required,
                       loom_seq_train_opts *o, loom_seq_position *p)
{
    char why[512];
    for (size_t i = 0; i < NROWS; i++) {
        const row *r = &table[i];
        if (!(r->section & sections))
            continue;
        const char *s = loom_st_meta(f, r->key);
        if (!s && (r->section & required) && !(r->flags & OPTIONAL))
            return loom_error(LOOM_EFORMAT, "%s: metadata '%s' is missing", loom_st_path(f),
                              r->key);
        if (s && parse(r, s, field(r, o, p), why, sizeof why))
            return loom_error(LOOM_EFORMAT, "%s: metadata '%s' %s", loom_st_path(f), r->key, why);
    }
    return 0;
}

void loom_seq_opts_resume(loom_seq_train_opts *o, const loom_seq_train_opts *from)
{
    for (size_t i = 0; i < NROWS; i++) {
        const row *r = &table[i];
        if (r->flags & RESUME)
            memcpy(field(r, o, NULL), cfield(r, from, NULL), field_size(r));
    }
}

int loom_seq_meta_each(const loom_st_file *f, unsigned sections,
                       int (*fn)(void *ctx, const char *key, const char *value), void *ctx)
{
    for (size_t i = 0; i < NROWS; i++) {
        const char *s = table[i].section & sections ? loom_st_meta(f, table[i].key) : NULL;
        int rc = s ? fn(ctx, table[i].key, s) : 0;
        if (rc)
            return rc;
    }
    return 0;
}
