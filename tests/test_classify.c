/* Tests for src/classify: reading fastText and label<TAB>text data (labels
 * anywhere, multi-label, hashed word n-grams as fastText hashes them), the
 * errors every bad input must give (file and line named), top-k
 * selection, the model file round trip and its refusals, and training:
 * the bag learns the shipped fixture, is repeatable with one thread and a
 * seed, and ova predicts several labels. */
#include "config.h"
#include "base/error.h"
#include "base/safetensors.h"
#include "classify/cnn.h"
#include "classify/data.h"
#include "classify/eval.h"
#include "classify/model.h"
#include "classify/train.h"
#include "core/activation.h"
#include "testutil.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *fixture(const char *name)
{
    static char path[4][1024];
    static int k;
    const char *src = getenv("LOOM_SRCDIR");
    k = (k + 1) % 4;
    snprintf(path[k], sizeof path[k], "%s/tests/fixtures/classify/%s", src ? src : ".", name);
    return path[k];
}

static const char *write_tmp(const char *name, const char *text)
{
    const char *p = test_path(name);
    test_write_file(p, text, strlen(text));
    return p;
}

static loom_cls_dict *dict_of(const char *path, int ngrams, long bucket)
{
    loom_cls_format f;
    loom_cls_format_default(&f);
    f.word_ngrams = ngrams;
    f.bucket = bucket;
    loom_cls_dict *d;
    ck_assert_msg(loom_cls_dict_build(&d, path, &f, 1, 1) == 0, "%s", loom_error_message());
    return d;
}

/* ------------------------------------------------------------------ data */

START_TEST(test_hash_is_fasttexts_fnv1a)
{
    /* FNV-1a's published test vectors for ASCII; bytes >= 0x80 are
     * sign-extended as fastText's int8_t cast does (plain FNV-1a would
     * xor 0xc3, not 0xffffffc3). */
    ck_assert_uint_eq(loom_cls_hash("", 0), 2166136261u);
    ck_assert_uint_eq(loom_cls_hash("a", 1), 0xe40c292cu);
    ck_assert_uint_eq(loom_cls_hash("foobar", 6), 0xbf9cf968u);
    uint32_t h = 2166136261u;
    h = (h ^ 0xffffffc3u) * 16777619u;
    h = (h ^ 0xffffffa9u) * 16777619u;
    ck_assert_uint_eq(loom_cls_hash("\xc3\xa9", 2), h);
}
END_TEST

START_TEST(test_labels_anywhere_and_multi_label)
{
    const char *p = write_tmp("d.txt", "__label__a good camera\n"
                                       "\n" /* empty lines are skipped */
                                       "bad __label__b battery __label__a __label__b\n");
    loom_cls_dict *d = dict_of(p, 1, 0);
    ck_assert_uint_eq(loom_cls_dict_nlabels(d), 2);
    /* good camera bad battery </s> */
    ck_assert_uint_eq(loom_cls_dict_nwords(d), 5);
    ck_assert_int_eq(loom_vocab_find(d->words, "</s>", 4), 0); /* counted twice: first */
    loom_cls_data *data;
    ck_assert_int_eq(loom_cls_data_read(&data, d, p, LOOM_CLS_NEED_LABELS), 0);
    ck_assert_uint_eq(data->n, 2);
    ck_assert_int_eq(data->line[1], 3);
    /* line 3: two labels (b written twice counts once), words bad battery </s> */
    ck_assert_uint_eq(data->lab_off[2] - data->lab_off[1], 2);
    ck_assert_uint_eq(data->id_off[2] - data->id_off[1], 3);
    ck_assert_int_eq(data->ids[data->id_off[1]], loom_vocab_find(d->words, "bad", 3));
    ck_assert_int_eq(data->ids[data->id_off[2] - 1], 0);
    /* fastText's token count: words, labels and the end of the line */
    ck_assert_uint_eq(data->tokens[1], 2 + 3 + 1);
    loom_cls_data_free(data);
    loom_cls_dict_free(d);
}
END_TEST

START_TEST(test_tsv_and_tokenizer)
{
    const char *p = write_tmp("d.tsv", "pro\tEasy to use, LIGHT!\ncon neg\tHeavy.\n");
    loom_cls_format f;
    loom_cls_format_default(&f);
    f.tsv = 1;
    loom_cls_dict *d;
    ck_assert_int_eq(loom_cls_dict_build(&d, p, &f, 1, 1), 0);
    ck_assert_uint_eq(loom_cls_dict_nlabels(d), 3); /* pro, con, neg */
    /* The text layer folds case and splits punctuation. */
    ck_assert_int_ge(loom_vocab_find(d->words, "light", 5), 0);
    ck_assert_int_ge(loom_vocab_find(d->words, ",", 1), 0);
    ck_assert_int_lt(loom_vocab_find(d->words, "LIGHT!", 6), 0);
    loom_cls_dict_free(d);
}
END_TEST

START_TEST(test_word_ngrams_hashed_as_fasttext)
{
    const char *p = write_tmp("d.txt", "__label__x a b\n__label__y b zz\n");
    loom_cls_dict *d = dict_of(p, 2, 1000);
    loom_cls_encoder *e;
    ck_assert_int_eq(loom_cls_encoder_new(&e, d), 0);
    const int32_t *ids;
    size_t n;
    /* "q" is unknown: left out of the words but part of the n-grams */
    ck_assert_int_eq(loom_cls_encode(e, "a q", 3, &ids, &n, NULL, NULL), 0);
    ck_assert_uint_eq(n, 2 + 2); /* a </s>, then the bigrams (a q) (q </s>) */
    int32_t nw = (int32_t)loom_cls_dict_nwords(d);
    const char *w[3] = {"a", "q", "</s>"};
    for (int i = 0; i < 2; i++) {
        /* fastText: uint64_t h = int32 hash (sign-extended); h = h * 116049371 + next */
        uint64_t h = (uint64_t)(int64_t)(int32_t)loom_cls_hash(w[i], strlen(w[i]));
        h = h * 116049371u + (uint64_t)(int64_t)(int32_t)loom_cls_hash(w[i + 1], strlen(w[i + 1]));
        ck_assert_int_eq(ids[2 + i], nw + (int32_t)(h % 1000));
    }
    ck_assert_uint_eq(loom_cls_dict_rows(d), (size_t)nw + 1000);
    loom_cls_encoder_free(e);
    loom_cls_dict_free(d);
    /* Without n-grams there are no buckets, whatever --bucket says (as fastText). */
    d = dict_of(p, 1, 1000);
    ck_assert_uint_eq(loom_cls_dict_rows(d), loom_cls_dict_nwords(d));
    loom_cls_dict_free(d);
}
END_TEST

/* Each bad input: an error naming the file (and line). */
START_TEST(test_bad_data_named)
{
    loom_cls_format f;
    loom_cls_format_default(&f);
    loom_cls_dict *d = NULL;
    const char *p = write_tmp("nolabel.txt", "__label__a fine\nno label here\n");
    ck_assert_int_eq(loom_cls_dict_build(&d, p, &f, 1, 1), LOOM_EFORMAT);
    ck_assert_ptr_nonnull(strstr(loom_error_message(), "nolabel.txt:2: no label"));
    p = write_tmp("empty.txt", "");
    ck_assert_int_eq(loom_cls_dict_build(&d, p, &f, 1, 1), LOOM_EFORMAT);
    ck_assert_ptr_nonnull(strstr(loom_error_message(), "empty.txt: empty file"));
    p = write_tmp("blank.txt", "\n\n");
    ck_assert_int_eq(loom_cls_dict_build(&d, p, &f, 1, 1), LOOM_EFORMAT);
    p = write_tmp("utf8.txt", "__label__a ok\n__label__b bad \xff byte\n");
    ck_assert_int_lt(loom_cls_dict_build(&d, p, &f, 1, 1), 0);
    ck_assert_msg(strstr(loom_error_message(), "utf8.txt:2"), "%s", loom_error_message());
    f.tsv = 1;
    p = write_tmp("notab.tsv", "pro\tfine\njust text\n");
    ck_assert_int_eq(loom_cls_dict_build(&d, p, &f, 1, 1), LOOM_EFORMAT);
    ck_assert_ptr_nonnull(strstr(loom_error_message(), "notab.tsv:2: no label"));
    /* An unknown label at test time. */
    f.tsv = 0;
    p = write_tmp("train.txt", "__label__a x\n__label__b y\n");
    ck_assert_int_eq(loom_cls_dict_build(&d, p, &f, 1, 1), 0);
    loom_cls_data *data = NULL;
    p = write_tmp("test.txt", "__label__a x\n__label__c y\n");
    ck_assert_int_eq(loom_cls_data_read(&data, d, p, LOOM_CLS_NEED_LABELS | LOOM_CLS_KNOWN_LABELS),
                     LOOM_EFORMAT);
    ck_assert_msg(strstr(loom_error_message(), "test.txt:2: label '__label__c'"), "%s",
                  loom_error_message());
    ck_assert_int_eq(loom_cls_data_read(&data, d, p, LOOM_CLS_NEED_LABELS), 0); /* ignored */
    loom_cls_data_free(data);
    loom_cls_dict_free(d);
}
END_TEST

START_TEST(test_top_k)
{
    const float probs[5] = {0.1f, 0.4f, 0.05f, 0.3f, 0.15f};
    int lab[5];
    float p[5];
    ck_assert_int_eq(loom_cls_top_k(probs, 5, 3, 0.0f, lab, p), 3);
    ck_assert_int_eq(lab[0], 1);
    ck_assert_int_eq(lab[1], 3);
    ck_assert_int_eq(lab[2], 4);
    ck_assert_float_eq(p[1], 0.3f);
    ck_assert_int_eq(loom_cls_top_k(probs, 5, 5, 0.12f, lab, p), 3); /* threshold */
    ck_assert_int_eq(lab[2], 4);
    ck_assert_int_eq(loom_cls_top_k(probs, 5, 0, 0.0f, lab, p), 5); /* k 0: all */
    ck_assert_int_eq(lab[4], 2);
}
END_TEST

/* ------------------------------------------------------- model and train */

static loom_classifier *train_fixture(int threads, loom_cls_loss loss, int epochs, int ngrams)
{
    loom_cls_dict *d = dict_of(fixture("train.txt"), ngrams, ngrams > 1 ? 100000 : 0);
    loom_cls_data *data;
    ck_assert_int_eq(loom_cls_data_read(&data, d, fixture("train.txt"), LOOM_CLS_NEED_LABELS), 0);
    loom_cls_config c;
    loom_cls_config_default(&c, LOOM_CLS_BAG);
    c.loss = loss;
    loom_classifier *m;
    ck_assert_int_eq(loom_classifier_new(&m, &c, d), 0);
    loom_classifier_init(m, 7);
    loom_cls_train_opts o;
    loom_cls_train_opts_default(&o, LOOM_CLS_BAG);
    o.threads = threads;
    o.epochs = epochs;
    o.seed = 7;
    loom_cls_train_stats st;
    ck_assert_int_eq(loom_cls_train(m, data, NULL, &o, NULL, &st), 0);
    ck_assert_uint_eq(st.examples, (uint64_t)epochs * data->n);
    loom_cls_data_free(data);
    return m;
}

static double test_p1(const loom_classifier *m, const char *name)
{
    loom_cls_data *data;
    ck_assert_int_eq(loom_cls_data_read(&data, m->dict, fixture(name),
                                        LOOM_CLS_NEED_LABELS | LOOM_CLS_KNOWN_LABELS),
                     0);
    loom_cls_meter mt;
    ck_assert_int_eq(loom_cls_test(m, data, 1, 0.0f, &mt), 0);
    ck_assert_uint_eq(mt.examples, data->n);
    double p = loom_cls_precision(&mt, -1);
    /* one label per example and k = 1: precision equals recall */
    ck_assert_double_eq_tol(p, loom_cls_recall(&mt, -1), 1e-12);
    loom_cls_meter_free(&mt);
    loom_cls_data_free(data);
    return p;
}

START_TEST(test_bag_learns_and_repeats)
{
    loom_classifier *m = train_fixture(1, LOOM_CLS_SOFTMAX, 10, 1);
    double p1 = test_p1(m, "test.txt");
    /* Majority class is ~50%; fastText reaches ~0.89 on this fixture. */
    ck_assert_msg(p1 > 0.85, "P@1 %.3f", p1);
    /* One thread and a seed: bit for bit the same weights. */
    loom_classifier *m2 = train_fixture(1, LOOM_CLS_SOFTMAX, 10, 1);
    ck_assert_int_eq(memcmp(m->emb->value, m2->emb->value, m->emb->size * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(m->out_w->value, m2->out_w->value, m->out_w->size * sizeof(float)), 0);
    loom_classifier_free(m2);
    /* Two Hogwild threads learn as well. */
    m2 = train_fixture(2, LOOM_CLS_SOFTMAX, 10, 2);
    p1 = test_p1(m2, "test.txt");
    ck_assert_msg(p1 > 0.85, "2 threads, bigrams: P@1 %.3f", p1);
    loom_classifier_free(m2);
    loom_classifier_free(m);
}
END_TEST

START_TEST(test_model_file_round_trip)
{
    loom_classifier *m = train_fixture(1, LOOM_CLS_SOFTMAX, 2, 2), *back;
    const char *path = test_path("m.loom");
    const char *extra[] = {"lr", "0.1", NULL};
    ck_assert_int_eq(loom_classifier_save(m, path, extra), 0);
    ck_assert(loom_cls_is_model_file(path));
    ck_assert_msg(loom_classifier_load(&back, path) == 0, "%s", loom_error_message());
    ck_assert_int_eq(back->dict->fmt.word_ngrams, 2);
    ck_assert_int_eq(back->dict->fmt.bucket, 100000);
    /* The bag keeps no gradient buffers (SGD in place): half the memory. */
    ck_assert_ptr_null(m->emb->grad);
    ck_assert_ptr_null(back->emb->grad);
    ck_assert_uint_eq(loom_cls_dict_nwords(back->dict), loom_cls_dict_nwords(m->dict));
    for (int32_t i = 0; i < (int32_t)loom_cls_dict_nwords(m->dict); i++)
        ck_assert_str_eq(loom_vocab_word(back->dict->words, i), loom_vocab_word(m->dict->words, i));
    /* Same predictions, bit for bit. */
    loom_cls_encoder *e1, *e2;
    loom_cls_work *w1, *w2;
    ck_assert_int_eq(loom_cls_encoder_new(&e1, m->dict), 0);
    ck_assert_int_eq(loom_cls_encoder_new(&e2, back->dict), 0);
    ck_assert_int_eq(loom_cls_work_new(&w1, m), 0);
    ck_assert_int_eq(loom_cls_work_new(&w2, back), 0);
    const char *line = "Great zoom, but the battery dies fast";
    const int32_t *ids1, *ids2;
    size_t n1, n2;
    float p1[2], p2[2];
    ck_assert_int_eq(loom_cls_encode(e1, line, strlen(line), &ids1, &n1, NULL, NULL), 0);
    ck_assert_int_eq(loom_cls_predict(m, w1, ids1, n1, p1), 0);
    ck_assert_int_eq(loom_cls_encode(e2, line, strlen(line), &ids2, &n2, NULL, NULL), 0);
    ck_assert_int_eq(loom_cls_predict(back, w2, ids2, n2, p2), 0);
    ck_assert_uint_eq(n1, n2);
    ck_assert_int_eq(memcmp(p1, p2, sizeof p1), 0);
    ck_assert_float_eq_tol(p1[0] + p1[1], 1.0f, 1e-6);
    char *desc;
    ck_assert_int_eq(loom_cls_describe(&desc, path), 0);
    ck_assert_ptr_nonnull(strstr(desc, "arch:        bag"));
    free(desc);
    loom_cls_encoder_free(e1), loom_cls_encoder_free(e2);
    loom_cls_work_free(w1), loom_cls_work_free(w2);
    loom_classifier_free(back);
    loom_classifier_free(m);
}
END_TEST

START_TEST(test_model_file_refusals)
{
    loom_classifier *m;
    /* A safetensors file of another kind. */
    loom_st_writer *w;
    ck_assert_int_eq(loom_st_writer_new(&w), 0);
    ck_assert_int_eq(loom_st_writer_meta(w, "format", "loom-seq2seq"), 0);
    const char *other = test_path("other.loom");
    ck_assert_int_eq(loom_st_writer_save(w, other), 0);
    loom_st_writer_free(w);
    ck_assert_int_eq(loom_classifier_load(&m, other), LOOM_EFORMAT);
    ck_assert_msg(strstr(loom_error_message(), "not a loom classifier"), "%s",
                  loom_error_message());
    ck_assert(!loom_cls_is_model_file(other));
    /* Not a model at all. */
    ck_assert_int_lt(loom_classifier_load(&m, fixture("train.txt")), 0);
    ck_assert_ptr_nonnull(strstr(loom_error_message(), "train.txt"));
    /* A header whose sizes disagree with the tensors: refused before allocating. */
    loom_classifier *good = train_fixture(1, LOOM_CLS_SOFTMAX, 1, 1);
    const char *path = test_path("bad.loom");
    const char *extra[] = {"dim", "50", NULL}; /* a width the tensors do not have */
    ck_assert_int_eq(loom_classifier_save(good, path, extra), 0);
    ck_assert_int_eq(loom_classifier_load(&m, path), LOOM_EFORMAT);
    ck_assert_msg(strstr(loom_error_message(), "tensor 'emb'"), "%s", loom_error_message());
    loom_classifier_free(good);
}
END_TEST

START_TEST(test_ova_predicts_several_labels)
{
    /* Two independent labels: "zoom" marks __label__z, "light" __label__l. */
    char text[4096] = "";
    const char *lines[4] = {"__label__z zoom good\n", "__label__l light fine\n",
                            "__label__z __label__l zoom light\n", "__label__n plain words\n"};
    for (int r = 0; r < 20; r++)
        for (int i = 0; i < 4; i++)
            strcat(text, lines[i]);
    const char *p = write_tmp("ova.txt", text);
    loom_cls_dict *d = dict_of(p, 1, 0);
    loom_cls_data *data;
    ck_assert_int_eq(loom_cls_data_read(&data, d, p, LOOM_CLS_NEED_LABELS), 0);
    loom_cls_config c;
    loom_cls_config_default(&c, LOOM_CLS_BAG);
    c.loss = LOOM_CLS_OVA;
    loom_classifier *m;
    ck_assert_int_eq(loom_classifier_new(&m, &c, d), 0);
    loom_classifier_init(m, 3);
    loom_cls_train_opts o;
    loom_cls_train_opts_default(&o, LOOM_CLS_BAG);
    o.epochs = 50;
    o.lr = 0.5;
    ck_assert_int_eq(loom_cls_train(m, data, NULL, &o, NULL, NULL), 0);
    loom_cls_encoder *e;
    loom_cls_work *w;
    ck_assert_int_eq(loom_cls_encoder_new(&e, m->dict), 0);
    ck_assert_int_eq(loom_cls_work_new(&w, m), 0);
    const int32_t *ids;
    size_t n;
    float probs[3], pk[3];
    int lab[3];
    ck_assert_int_eq(loom_cls_encode(e, "zoom light", 10, &ids, &n, NULL, NULL), 0);
    ck_assert_int_eq(loom_cls_predict(m, w, ids, n, probs), 0);
    ck_assert_int_eq(loom_cls_top_k(probs, 3, 3, 0.5f, lab, pk), 2);
    int32_t z = loom_vocab_find(m->dict->labels, "__label__z", 10),
            l = loom_vocab_find(m->dict->labels, "__label__l", 10);
    ck_assert((lab[0] == z && lab[1] == l) || (lab[0] == l && lab[1] == z));
    ck_assert_int_eq(loom_cls_encode(e, "plain", 5, &ids, &n, NULL, NULL), 0);
    ck_assert_int_eq(loom_cls_predict(m, w, ids, n, probs), 0);
    ck_assert_int_eq(loom_cls_top_k(probs, 3, 3, 0.5f, lab, pk), 1);
    ck_assert_int_eq(lab[0], loom_vocab_find(m->dict->labels, "__label__n", 10));
    loom_cls_encoder_free(e);
    loom_cls_work_free(w);
    loom_cls_data_free(data);
    loom_classifier_free(m);
}
END_TEST

/* fastText's two losses for many labels, on 12 labels of unequal counts
 * (so the Huffman tree has paths of several lengths): each learns the
 * signature word of each label; hs gives probabilities that sum to 1 over
 * the labels (the paths and branch bits agree) and survives the model
 * file; ns gives one sigmoid per label. */
START_TEST(test_ns_and_hs_learn_many_labels)
{
    enum { L = 12 };
    static char text[L * 40 * 64];
    text[0] = '\0';
    for (int l = 0; l < L; l++)
        for (int r = 0; r < 3 * (l + 1); r++) {
            char line[64];
            snprintf(line, sizeof line, "__label__c%d w%d filler %s\n", l, l,
                     r % 2 ? "more" : "other");
            strcat(text, line);
        }
    const char *p = write_tmp("many.txt", text);
    for (int k = 0; k < 2; k++) {
        loom_cls_loss loss = k ? LOOM_CLS_HS : LOOM_CLS_NS;
        loom_cls_dict *d = dict_of(p, 1, 0);
        loom_cls_data *data;
        ck_assert_int_eq(loom_cls_data_read(&data, d, p, LOOM_CLS_NEED_LABELS), 0);
        loom_cls_config c;
        loom_cls_config_default(&c, LOOM_CLS_BAG);
        c.loss = loss;
        c.dim = 16;
        loom_classifier *m;
        ck_assert_int_eq(loom_classifier_new(&m, &c, d), 0);
        ck_assert_ptr_null(m->out_w);
        ck_assert_int_eq(m->out_rows->shape[0], loss == LOOM_CLS_HS ? L - 1 : L);
        loom_classifier_init(m, 5);
        loom_cls_train_opts o;
        loom_cls_train_opts_default(&o, LOOM_CLS_BAG);
        o.epochs = 40;
        o.lr = 0.5;
        ck_assert_int_eq(loom_cls_train(m, data, NULL, &o, NULL, NULL), 0);
        loom_cls_meter mt;
        ck_assert_int_eq(loom_cls_test(m, data, 1, 0.0f, &mt), 0);
        double p1 = loom_cls_precision(&mt, -1);
        loom_cls_meter_free(&mt);
        ck_assert_msg(p1 > 0.95, "%s: P@1 %.3f", loom_cls_loss_names[loss], p1);
        const char *path = test_path("many.loom");
        ck_assert_int_eq(loom_classifier_save(m, path, NULL), 0);
        loom_classifier *back;
        ck_assert_msg(loom_classifier_load(&back, path) == 0, "%s", loom_error_message());
        ck_assert_int_eq(back->cfg.loss, loss);
        loom_cls_encoder *e;
        loom_cls_work *w, *wb;
        ck_assert_int_eq(loom_cls_encoder_new(&e, m->dict), 0);
        ck_assert_int_eq(loom_cls_work_new(&w, m), 0);
        ck_assert_int_eq(loom_cls_work_new(&wb, back), 0);
        const char *inputs[] = {"w3 filler", "w11", "filler other", "nothing known"};
        for (int i = 0; i < 4; i++) {
            const int32_t *ids;
            size_t n;
            float probs[L], pb[L];
            ck_assert_int_eq(loom_cls_encode(e, inputs[i], strlen(inputs[i]), &ids, &n, NULL, NULL),
                             0);
            ck_assert_int_eq(loom_cls_predict(m, w, ids, n, probs), 0);
            ck_assert_int_eq(loom_cls_predict(back, wb, ids, n, pb), 0);
            double sum = 0;
            for (int l = 0; l < L; l++) {
                ck_assert_msg(probs[l] >= 0 && probs[l] <= 1, "%s '%s': p[%d] = %g",
                              loom_cls_loss_names[loss], inputs[i], l, (double)probs[l]);
                ck_assert_float_eq(probs[l], pb[l]);
                sum += probs[l];
            }
            if (loss == LOOM_CLS_HS)
                ck_assert_msg(fabs(sum - 1) < 1e-5, "'%s': sum %.7f", inputs[i], sum);
        }
        loom_cls_encoder_free(e);
        loom_cls_work_free(w);
        loom_cls_work_free(wb);
        loom_classifier_free(back);
        loom_cls_data_free(data);
        loom_classifier_free(m);
    }
    /* and on the two-label fixture as well as softmax does */
    loom_classifier *m = train_fixture(1, LOOM_CLS_HS, 10, 1);
    double p1 = test_p1(m, "test.txt");
    ck_assert_msg(p1 > 0.85, "hs: P@1 %.3f", p1);
    loom_classifier_free(m);
    m = train_fixture(1, LOOM_CLS_NS, 10, 1);
    p1 = test_p1(m, "test.txt");
    ck_assert_msg(p1 > 0.85, "ns: P@1 %.3f", p1);
    loom_classifier_free(m);
}
END_TEST

/* ------------------------------------------------------------------ cnn */

/* A classifier whose dictionary has V words and L labels, for fixtures. */
static loom_classifier *bare_classifier(const loom_cls_config *c, int V, int L)
{
    loom_cls_dict *d = calloc(1, sizeof *d);
    loom_cls_format_default(&d->fmt);
    ck_assert_int_eq(loom_vocab_new(&d->words), 0);
    ck_assert_int_eq(loom_vocab_new(&d->labels), 0);
    char w[32];
    for (int i = 0; i < V; i++) { /* counts fall, so ids follow i */
        snprintf(w, sizeof w, "w%02d", i);
        ck_assert_int_eq(loom_vocab_add(d->words, w, strlen(w), (uint64_t)(100 - i)), 0);
    }
    for (int i = 0; i < L; i++) {
        snprintf(w, sizeof w, "__label__%d", i);
        ck_assert_int_eq(loom_vocab_add(d->labels, w, strlen(w), (uint64_t)(100 - i)), 0);
    }
    ck_assert_int_eq(loom_vocab_finalize(d->words, 1, 0), 0);
    ck_assert_int_eq(loom_vocab_finalize(d->labels, 1, 0), 0);
    loom_classifier *m;
    ck_assert_int_eq(loom_classifier_new(&m, c, d), 0);
    return m;
}

static const loom_st_tensor *need(const loom_st_file *f, const char *name, size_t numel)
{
    const loom_st_tensor *t = loom_st_find(f, name);
    ck_assert_msg(t != NULL, "fixture lacks %s", name);
    ck_assert_msg(t->numel == numel, "%s: %zu values, want %zu", name, t->numel, numel);
    return t;
}

static void expect_close(const char *what, const float *got, const float *want, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(fabsf(got[i] - want[i]) <= 1e-4f * fmaxf(1.0f, fabsf(want[i])),
                      "%s[%zu]: loom %.7g, PyTorch %.7g", what, i, got[i], want[i]);
}

/* The CNN's forward and backward on a batch match PyTorch's within 1e-4
 * (tests/fixtures/classify/make_cnn_fixture.py): two channels, widths 2
 * and 3, a sentence shorter than the widest filter, padding. */
START_TEST(test_cnn_matches_torch)
{
    loom_st_file *f;
    ck_assert_msg(loom_st_open(&f, fixture("cnn.safetensors")) == 0, "%s", loom_error_message());
    ck_assert_ptr_nonnull(loom_st_meta(f, "torch_version"));
    enum { V = 12, D = 5, F = 4, L = 3, B = 4, T = 6 };
    loom_cls_config c;
    loom_cls_config_default(&c, LOOM_CLS_CNN);
    c.dim = D, c.filters = F, c.nwidths = 2, c.widths[0] = 2, c.widths[1] = 3;
    c.channels = 2, c.dropout = 0.5f;
    loom_classifier *m = bare_classifier(&c, V, L);
    for (size_t i = 0; i < loom_params_len(m->params); i++) {
        loom_param *p = loom_params_at(m->params, i);
        memcpy(p->value, need(f, p->name, p->size)->data, p->size * sizeof(float));
    }
    const int32_t *ids = need(f, "ids", B * T)->data;
    const int *lens = need(f, "lens", B)->data, *targets = need(f, "targets", B)->data;
    loom_cls_cnn_work *w;
    ck_assert_int_eq(loom_cls_cnn_work_new(&w, m), 0);
    float logits[B * L], work[B * L], dlogits[B * L];
    /* the fixture's padded rows, packed as training packs them */
    const int32_t *seqs[B];
    int32_t packed[B * T];
    int start[B];
    for (int b = 0; b < B; b++)
        seqs[b] = ids + b * T;
    int N = loom_cls_cnn_pack(m, packed, start, seqs, lens, B);
    ck_assert_int_eq(N, 6 + 4 + 3 + 3); /* the one-word sentence takes the widest filter's 3 */
    ck_assert_int_eq(packed[6 + 4 + 1], -1);
    /* no rng: evaluation, no dropout (the fixture has none) */
    ck_assert_int_eq(loom_cls_cnn_forward(m, w, packed, start, lens, B, N, logits, NULL), 0);
    expect_close("logits", logits, need(f, "logits", B * L)->data, B * L);
    double loss = loom_cls_loss_step(m, logits, targets, NULL, NULL, B, work, dlogits, 1.0f / B);
    ck_assert_double_eq_tol(loss / B, ((const float *)need(f, "loss", 1)->data)[0], 1e-5);
    loom_params_zero_grad(m->params);
    loom_cls_cnn_backward(m, w, dlogits);
    char name[64];
    for (size_t i = 0; i < loom_params_len(m->params); i++) {
        loom_param *p = loom_params_at(m->params, i);
        if (p->frozen) { /* the static channel gets no gradient */
            for (size_t j = 0; j < p->size; j++)
                ck_assert_float_eq(p->grad[j], 0.0f);
            continue;
        }
        snprintf(name, sizeof name, "grad.%s", p->name);
        expect_close(name, p->grad, need(f, name, p->size)->data, p->size);
    }
    /* Predicting one sentence gives the batch's row: padding is invisible. */
    float probs[L], row[L];
    loom_cls_work *pw;
    ck_assert_int_eq(loom_cls_work_new(&pw, m), 0);
    ck_assert_int_eq(loom_cls_predict(m, pw, ids + 2 * T, (size_t)lens[2], probs), 0);
    loom_softmax_forward(row, logits + 2 * L, 1, L);
    expect_close("single sentence", probs, row, L);
    loom_cls_work_free(pw);
    loom_cls_cnn_work_free(w);
    loom_classifier_free(m);
    loom_st_close(f);
}
END_TEST

START_TEST(test_cnn_learns_and_stops_early)
{
    loom_cls_dict *d = dict_of(fixture("train.txt"), 1, 0);
    loom_cls_data *train, *valid;
    ck_assert_int_eq(loom_cls_data_read(&train, d, fixture("train.txt"), LOOM_CLS_NEED_LABELS), 0);
    ck_assert_int_eq(loom_cls_data_read(&valid, d, fixture("test.txt"), LOOM_CLS_NEED_LABELS), 0);
    loom_cls_config c;
    loom_cls_config_default(&c, LOOM_CLS_CNN);
    c.dim = 32, c.filters = 16;
    loom_classifier *m;
    ck_assert_int_eq(loom_classifier_new(&m, &c, d), 0);
    loom_classifier_init(m, 5);
    loom_cls_train_opts o;
    loom_cls_train_opts_default(&o, LOOM_CLS_CNN);
    o.epochs = 4;
    o.patience = 1;
    loom_cls_train_stats st;
    ck_assert_int_eq(loom_cls_train(m, train, valid, &o, NULL, &st), 0);
    ck_assert_int_ge(st.best_epoch, 1);
    ck_assert_int_le(st.epochs_run, 4);
    /* the kept weights are the best epoch's: their score is the best score */
    ck_assert_double_eq_tol(test_p1(m, "test.txt"), st.best_valid, 1e-12);
    ck_assert_msg(st.best_valid > 0.8, "CNN P@1 %.3f", st.best_valid);
    loom_cls_data_free(train);
    loom_cls_data_free(valid);
    loom_classifier_free(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("classify");
    TCase *tc = tcase_create("data");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, test_setup_tmpdir, test_teardown_tmpdir);
    tcase_add_test(tc, test_hash_is_fasttexts_fnv1a);
    tcase_add_test(tc, test_labels_anywhere_and_multi_label);
    tcase_add_test(tc, test_tsv_and_tokenizer);
    tcase_add_test(tc, test_word_ngrams_hashed_as_fasttext);
    tcase_add_test(tc, test_bad_data_named);
    tcase_add_test(tc, test_top_k);
    suite_add_tcase(s, tc);
    tc = tcase_create("model");
    tcase_add_checked_fixture(tc, test_setup_tmpdir, test_teardown_tmpdir);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_bag_learns_and_repeats);
    tcase_add_test(tc, test_model_file_round_trip);
    tcase_add_test(tc, test_model_file_refusals);
    tcase_add_test(tc, test_ova_predicts_several_labels);
    tcase_add_test(tc, test_ns_and_hs_learn_many_labels);
    tcase_add_test(tc, test_cnn_matches_torch);
    tcase_add_test(tc, test_cnn_learns_and_stops_early);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
