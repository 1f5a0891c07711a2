/* loom: classification data. Reads fastText's format (`__label__X
 * __label__Y text` lines, labels anywhere on the line, each label a word
 * that starts with the prefix) or `label<TAB>text` lines, tokenises the
 * text with the text layer, and turns each line into word ids, hashed
 * word n-gram ids (as fastText hashes them) and label ids. Knows words and
 * labels; nothing of models or gradients. */
#ifndef LOOM_CLASSIFY_DATA_H
#define LOOM_CLASSIFY_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "text/tokenizer.h"
#include "text/vocab.h"

/* fastText ends every line with this word; it is counted and learnt like
 * any other (a per-class bias in effect), and loom keeps it. */
#define LOOM_CLS_EOS "</s>"
#define LOOM_CLS_LABEL_PREFIX "__label__"
/* A line longer than this is an error naming its file and line. */
#define LOOM_CLS_MAX_LINE (16u << 20)

typedef struct {
    int tsv;               /* 1: label<TAB>text (labels: the first field, split on spaces) */
    char label_prefix[64]; /* fastText format only; default "__label__" */
    loom_tok_opts tok;
    int word_ngrams; /* 1: words only; n: also every run of 2..n words, hashed */
    long bucket;     /* hash buckets for the n-grams (0 when word_ngrams is 1) */
} loom_cls_format;

void loom_cls_format_default(loom_cls_format *f);

/* The dictionary: the words and labels of the training data. Ids of the
 * input table: words 0..nwords-1, then n-gram bucket b at nwords + b. */
typedef struct {
    loom_cls_format fmt;
    loom_vocab *words;
    loom_vocab *labels;
} loom_cls_dict;

/* Counts the words and labels of `path` and keeps the words seen at least
 * min_count times and the labels seen at least min_count_label times.
 * A line without a label, an empty file or no label at all is LOOM_EFORMAT
 * naming the file (and line). */
int loom_cls_dict_build(loom_cls_dict **out, const char *path, const loom_cls_format *fmt,
                        uint64_t min_count, uint64_t min_count_label);
void loom_cls_dict_free(loom_cls_dict *d); /* accepts NULL */
size_t loom_cls_dict_nwords(const loom_cls_dict *d);
size_t loom_cls_dict_nlabels(const loom_cls_dict *d);
/* Rows of the input table: words plus buckets. */
size_t loom_cls_dict_rows(const loom_cls_dict *d);

/* fastText's word hash (FNV-1a over the bytes read as signed chars). */
uint32_t loom_cls_hash(const char *s, size_t len);

/* A data set in memory: example i has ids[id_off[i] .. id_off[i+1]) (words
 * in order, unknown words left out, then the n-gram buckets) and labels
 * lab[lab_off[i] .. lab_off[i+1]). `tokens` is the number of the line's
 * words as fastText counts them (with the end-of-line word and labels),
 * the unit of the learning-rate schedule. */
typedef struct {
    size_t n;
    int32_t *ids;
    size_t *id_off; /* n + 1 */
    int32_t *lab;
    size_t *lab_off;  /* n + 1 */
    uint32_t *tokens; /* n */
    long long *line;  /* n: 1-based line number in the file */
    uint64_t ntokens; /* sum of tokens */
} loom_cls_data;

enum {
    LOOM_CLS_NEED_LABELS = 1, /* a line without a label is an error (else allowed) */
    LOOM_CLS_KNOWN_LABELS = 2 /* a label the dictionary lacks is an error (else ignored) */
};

/* Reads every line of `path` with the dictionary (`flags` as above). An
 * empty file is LOOM_EFORMAT. */
int loom_cls_data_read(loom_cls_data **out, const loom_cls_dict *d, const char *path, int flags);
void loom_cls_data_free(loom_cls_data *data); /* accepts NULL */

/* One line, for prediction: a reusable encoder holding a tokenizer. */
typedef struct loom_cls_encoder loom_cls_encoder;
int loom_cls_encoder_new(loom_cls_encoder **out, const loom_cls_dict *d);
void loom_cls_encoder_free(loom_cls_encoder *e); /* accepts NULL */
/* Encodes one line (labels on it are read and, if known, returned too).
 * *ids and *labels point into the encoder, valid until the next call. */
int loom_cls_encode(loom_cls_encoder *e, const char *line, size_t len, const int32_t **ids,
                    size_t *nids, const int32_t **labels, size_t *nlabels);

#endif
