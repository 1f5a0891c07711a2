/* Tests for src/seq/options.c (the one table of training options and
 * model-file metadata) and for the model loader's checks of what a file
 * claims: the command line and a model file refuse the same values with
 * the same words, options survive a file bit for bit, vocabularies must be
 * in id order, tensors must fit the metadata before memory is taken, and
 * weights must be numbers. Files are the committed reverse.loom with one
 * metadata entry or tensor rewritten. */
#include "config.h"
#include "base/error.h"
#include "base/safetensors.h"
#include "seq/model_file.h"
#include "seq/options.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "testutil.h"

static const char *fixture(const char *name)
{
    static char buf[1024];
    const char *src = getenv("LOOM_SRCDIR");
    snprintf(buf, sizeof buf, "%s/tests/fixtures/seq/%s", src ? src : ".", name);
    return buf;
}

/* Copies reverse.loom to `name` with metadata `key` set to `value` (NULL:
 * removed) and, when `tensor` is not NULL, element `at` of that tensor set
 * to x (at < 0: every element). Returns the new file's path. */
static const char *rewrite(const char *name, const char *key, const char *value, const char *tensor,
                           long at, float x)
{
    loom_st_file *f;
    loom_st_writer *w;
    ck_assert_int_eq(loom_st_open(&f, fixture("reverse.loom")), 0);
    ck_assert_int_eq(loom_st_writer_new(&w), 0);
    float *copy = NULL;
    for (size_t i = 0; i < loom_st_meta_count(f); i++) {
        const char *k, *v;
        loom_st_meta_at(f, i, &k, &v);
        if (strcmp(k, key) != 0)
            ck_assert_int_eq(loom_st_writer_meta(w, k, v), 0);
    }
    if (value)
        ck_assert_int_eq(loom_st_writer_meta(w, key, value), 0);
    for (size_t i = 0; i < loom_st_count(f); i++) {
        const loom_st_tensor *t = loom_st_at(f, i);
        const void *data = t->data;
        if (tensor && strcmp(t->name, tensor) == 0) {
            copy = malloc(t->nbytes);
            memcpy(copy, t->data, t->nbytes);
            for (size_t k = 0; k < t->numel; k++)
                if (at < 0 || (size_t)at == k)
                    copy[k] = x;
            data = copy;
        }
        ck_assert_int_eq(loom_st_writer_add(w, t->name, t->dtype, t->ndim, t->shape, data), 0);
    }
    const char *path = test_path(name);
    ck_assert_int_eq(loom_st_writer_save(w, path), 0);
    loom_st_writer_free(w);
    loom_st_close(f);
    free(copy);
    return path;
}

/* What a message says after its prefix ("--lr " or "FILE: metadata 'lr' "). */
static const char *after(const char *msg, const char *prefix)
{
    const char *p = strstr(msg, prefix);
    ck_assert_msg(p != NULL, "no '%s' in '%s'", prefix, msg);
    return p + strlen(prefix);
}

static const struct {
    const char *flag, *key, *value;
} bad_values[] = {
    {"lr", "lr", "nan"},
    {"lr", "lr", "0"},
    {"lr", "lr", "11"},
    {"clip", "clip", "-1"},
    {"label-smoothing", "label_smoothing", "2"},
    {"dropout", "dropout", "nan"},
    {"dropout", "dropout", "0.96"},
    {"batch", "batch", "-5"},
    {"batch", "batch", "0"},
    {"epochs", "epochs", "1000001"},
    {"seed", "seed", "-1"},
    {"threads", "threads", "0"},
    {"min-count", "min_count", "0"},
    {"max-len", "max_len", "x"},
    {"src-vocab-from-vectors", "src_vocab_from_vectors", "-2"},
    {"best-by", "best_by", "accuracy"},
    {"freeze", "freeze", "all"},
    {"cell", "cell", "rnn"},
    {"attention", "attention", "luong"},
    {"layers", "layers", "9"},
    {"hidden", "hidden", "65537"},
    {"emb", "emb", "1e3"},
    {"tie-embeddings", "tie_embeddings", "2"},
};

/* One rule for both: the value the command line refuses, a model file
 * refuses too, with the same reason. */
START_TEST(command_line_and_model_file_refuse_the_same_values)
{
    const char *flag = bad_values[_i].flag, *key = bad_values[_i].key;
    const char *value = bad_values[_i].value;
    loom_seq_train_opts o;
    loom_seq_train_defaults(&o);
    ck_assert_int_eq(loom_seq_opt_set(&o, flag, value), LOOM_EINVAL);
    char cli[512], cli_prefix[64], file_prefix[64];
    snprintf(cli, sizeof cli, "%s", loom_error_message());
    snprintf(cli_prefix, sizeof cli_prefix, "--%s ", flag);
    snprintf(file_prefix, sizeof file_prefix, "metadata '%s' ", key);
    const char *path = rewrite("bad.loom", key, value, NULL, 0, 0);
    loom_seq_bundle b;
    ck_assert_int_eq(loom_seq_file_load(&b, path, NULL), LOOM_EFORMAT);
    const char *msg = loom_error_message();
    ck_assert_msg(strncmp(msg, path, strlen(path)) == 0, "'%s' does not name the file", msg);
    ck_assert_str_eq(after(msg, file_prefix), after(cli, cli_prefix));
    ck_assert_ptr_null(b.model);
}
END_TEST

START_TEST(the_reasons_read_well)
{
    loom_seq_train_opts o;
    loom_seq_train_defaults(&o);
    ck_assert_int_eq(loom_seq_opt_set(&o, "label-smoothing", "2"), LOOM_EINVAL);
    ck_assert_str_eq(loom_error_message(), "--label-smoothing must be between 0 and 0.99, not 2");
    ck_assert_int_eq(loom_seq_opt_set(&o, "batch", "-5"), LOOM_EINVAL);
    ck_assert_str_eq(loom_error_message(), "--batch must be between 1 and 65536, not -5");
    ck_assert_int_eq(loom_seq_opt_set(&o, "lr", "nan"), LOOM_EINVAL);
    ck_assert_str_eq(loom_error_message(), "--lr expects a number, not 'nan'");
    ck_assert_int_eq(loom_seq_opt_set(&o, "nonsense", "1"), LOOM_ENOTFOUND);
}
END_TEST

/* The ends of each range are accepted by both. */
START_TEST(range_ends_are_accepted_by_both)
{
    static const char *const good[][3] = {
        {"lr", "lr", "10"},           {"dropout", "dropout", "0.95"},
        {"batch", "batch", "65536"},  {"label-smoothing", "label_smoothing", "0.99"},
        {"seed", "seed", "0"},        {"src-vocab-from-vectors", "src_vocab_from_vectors", "off"},
        {"freeze", "freeze", "both"},
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        loom_seq_train_opts o;
        loom_seq_train_defaults(&o);
        ck_assert_msg(loom_seq_opt_set(&o, good[i][0], good[i][2]) == 0, "%s",
                      loom_error_message());
        ck_assert_msg(loom_seq_opts_check(&o) == 0 || strcmp(good[i][0], "freeze") == 0, "%s",
                      loom_error_message());
        loom_seq_bundle b;
        const char *path = rewrite("good.loom", good[i][1], good[i][2], NULL, 0, 0);
        ck_assert_msg(loom_seq_file_load(&b, path, NULL) == 0, "%s", loom_error_message());
        loom_seq_bundle_free(&b);
    }
    /* dropout 0.95 reaches the model as the float nearest 0.95 */
    loom_seq_bundle b;
    ck_assert_int_eq(loom_seq_file_load(&b, rewrite("d.loom", "dropout", "0.95", NULL, 0, 0), NULL),
                     0);
    ck_assert_float_eq(loom_seq_model_config(b.model)->dropout, 0.95f);
    loom_seq_bundle_free(&b);
}
END_TEST

/* Every option and the position come back from a file exactly. */
START_TEST(options_round_trip_through_a_file)
{
    loom_seq_train_opts o, back;
    loom_seq_position p = {0}, pb;
    loom_seq_train_defaults(&o);
    o.model.cell = LOOM_RNN_LSTM, o.model.attention = LOOM_ATTN_GENERAL;
    o.model.layers = 3, o.model.bidirectional = 0, o.model.emb = 17, o.model.hidden = 33;
    o.model.attn_dim = 9, o.model.src_vocab = 40, o.model.tgt_vocab = 41;
    o.model.dropout = 0.123456789f, o.model.tie_embeddings = 1;
    o.tok[0].keep_case = 1, o.tok[1].punct = LOOM_PUNCT_DROP, o.tok[1].invalid = 1;
    o.tok[1].pretokenized = 1;
    o.lr = 0.0123456789f, o.clip = 2.5f, o.label_smoothing = 0.1f;
    o.batch = 7, o.epochs = 3, o.threads = 5, o.seed = 9007199254740993ull;
    o.valid_every = 11, o.patience = 4, o.best_by = LOOM_SEQ_BEST_BLEU;
    o.min_count = 2, o.max_vocab = 1000, o.max_len = 0, o.src_vocab_from_vectors = -1;
    o.freeze = LOOM_SEQ_FREEZE_TGT, o.scale_vectors = 1, o.vectors[1] = "some/vectors.bin";
    p.epoch = 2, p.batch = 5, p.step = 123456789012l, p.tokens = 99, p.best = INFINITY;
    p.bad = 3, p.best_loss = NAN, p.best_bleu = 12.5;
    loom_st_writer *w;
    ck_assert_int_eq(loom_st_writer_new(&w), 0);
    ck_assert_int_eq(loom_seq_meta_write(w, LOOM_SEQ_META_ALL, &o, &p), 0);
    const char *path = test_path("meta.safetensors");
    ck_assert_int_eq(loom_st_writer_save(w, path), 0);
    loom_st_writer_free(w);
    loom_st_file *f;
    ck_assert_int_eq(loom_st_open(&f, path), 0);
    ck_assert_ptr_null(loom_st_meta(f, "best_valid_loss")); /* none: not written */
    loom_seq_train_defaults(&back);
    memset(&pb, 0, sizeof pb);
    pb.best_loss = NAN;
    ck_assert_int_eq(loom_seq_meta_read(f, LOOM_SEQ_META_ALL, LOOM_SEQ_META_ALL, &back, &pb), 0);
    ck_assert_mem_eq(&back.model, &o.model, sizeof o.model);
    ck_assert_mem_eq(back.tok, o.tok, sizeof o.tok);
    ck_assert(back.lr == o.lr && back.clip == o.clip);
    ck_assert(back.label_smoothing == o.label_smoothing);
    ck_assert_int_eq(back.batch, 7);
    ck_assert_int_eq(back.epochs, 3);
    ck_assert_int_eq(back.threads, 5);
    ck_assert(back.seed == o.seed);
    ck_assert_int_eq(back.valid_every, 11);
    ck_assert_int_eq(back.patience, 4);
    ck_assert_int_eq(back.best_by, LOOM_SEQ_BEST_BLEU);
    ck_assert_int_eq(back.min_count, 2);
    ck_assert_int_eq(back.max_vocab, 1000);
    ck_assert_int_eq(back.max_len, 0);
    ck_assert_int_eq(back.src_vocab_from_vectors, -1);
    ck_assert_int_eq(back.freeze, LOOM_SEQ_FREEZE_TGT);
    ck_assert_int_eq(back.scale_vectors, 1);
    ck_assert_ptr_null(back.vectors[0]);
    ck_assert_str_eq(back.vectors[1], "some/vectors.bin");
    ck_assert_int_eq(pb.epoch, 2);
    ck_assert_int_eq(pb.batch, 5);
    ck_assert(pb.step == 123456789012l && pb.tokens == 99 && pb.bad == 3);
    ck_assert(isinf(pb.best) && isnan(pb.best_loss) && pb.best_bleu == 12.5);
    /* a resumed run takes the run's settings and keeps its own length */
    loom_seq_train_opts cli;
    loom_seq_train_defaults(&cli);
    cli.epochs = 20, cli.threads = 2, cli.max_steps = 5;
    loom_seq_opts_resume(&cli, &back);
    ck_assert(cli.lr == o.lr && cli.seed == o.seed && cli.batch == 7);
    ck_assert_mem_eq(&cli.model, &o.model, sizeof o.model);
    ck_assert_int_eq(cli.epochs, 20);
    ck_assert_int_eq(cli.threads, 2);
    ck_assert_int_eq(cli.max_steps, 5);
    loom_st_close(f);
}
END_TEST

/* A checkpoint's position is checked like everything else, and a
 * checkpoint needs all of it. */
START_TEST(checkpoint_keys_are_checked_and_required)
{
    static const char *const bad[][2] = {{"train_batch", "-5"},
                                         {"train_epoch", "-1000000"},
                                         {"train_best", "nan"},
                                         {"train_step", "1e3"}};
    for (size_t i = 0; i <= sizeof bad / sizeof *bad; i++) {
        loom_st_writer *w;
        ck_assert_int_eq(loom_st_writer_new(&w), 0);
        loom_seq_train_opts o;
        loom_seq_position p = {0};
        loom_seq_train_defaults(&o);
        ck_assert_int_eq(loom_seq_meta_write(w, LOOM_SEQ_META_CKPT, &o, &p), 0);
        if (i < sizeof bad / sizeof *bad)
            loom_st_writer_meta(w, bad[i][0], bad[i][1]);
        const char *path = test_path("c.ckpt");
        ck_assert_int_eq(loom_st_writer_save(w, path), 0);
        loom_st_writer_free(w);
        loom_st_file *f;
        ck_assert_int_eq(loom_st_open(&f, path), 0);
        int rc = loom_seq_meta_read(f, LOOM_SEQ_META_CKPT, LOOM_SEQ_META_CKPT, &o, &p);
        if (i == sizeof bad / sizeof *bad) {
            ck_assert_int_eq(rc, 0); /* the control: the unedited keys read */
        } else {
            ck_assert_int_eq(rc, LOOM_EFORMAT);
            ck_assert_ptr_nonnull(strstr(loom_error_message(), bad[i][0]));
            ck_assert_ptr_nonnull(strstr(loom_error_message(), "c.ckpt"));
        }
        loom_st_close(f);
    }
    /* reverse.loom is a model file: required checkpoint keys are missing */
    loom_st_file *f;
    loom_seq_train_opts o;
    loom_seq_position p;
    ck_assert_int_eq(loom_st_open(&f, fixture("reverse.loom")), 0);
    ck_assert_int_eq(loom_seq_meta_read(f, LOOM_SEQ_META_CKPT, LOOM_SEQ_META_CKPT, &o, &p),
                     LOOM_EFORMAT);
    ck_assert_ptr_nonnull(strstr(loom_error_message(), "'train_epoch' is missing"));
    loom_st_close(f);
}
END_TEST

START_TEST(tokenizer_options_are_parsed_strictly)
{
    loom_tok_opts t;
    ck_assert_int_eq(loom_seq_tok_parse(&t, "keep_case=1 punct=drop invalid=replace "
                                            "pretokenized=1"),
                     0);
    ck_assert(t.keep_case == 1 && t.punct == LOOM_PUNCT_DROP && t.pretokenized == 1);
    ck_assert_int_eq(t.invalid, LOOM_INVALID_REPLACE);
    ck_assert_int_eq(t.chars, 0);
    /* characters as tokens: written only when set, and read back */
    char buf[128];
    t.chars = 1;
    loom_seq_tok_format(buf, sizeof buf, &t);
    ck_assert_str_eq(buf, "keep_case=1 punct=drop invalid=replace pretokenized=1 chars=1");
    memset(&t, 0, sizeof t);
    ck_assert_int_eq(loom_seq_tok_parse(&t, buf), 0);
    ck_assert(t.chars == 1 && t.keep_case == 1 && t.pretokenized == 1);
    t.chars = 0;
    loom_seq_tok_format(buf, sizeof buf, &t);
    ck_assert_str_eq(buf, "keep_case=1 punct=drop invalid=replace pretokenized=1");
    static const char *const bad[] = {
        "keep_case=0 punct=keep invalid=error pretokenized=0 chars=0",
        "keep_case=0 punct=keep invalid=error pretokenized=0 chars=1 ",
        "keep_case=0 punct=keep invalid=error pretokenized=0 chars=2",
        "keep_case=7 punct=keep invalid=error pretokenized=0",
        "keep_case=0 punct=maybe invalid=error pretokenized=0",
        "keep_case=0 punct=keep invalid=ignore pretokenized=0",
        "keep_case=0 punct=keep invalid=error pretokenized=-1",
        "keep_case=0 punct=keep invalid=error pretokenized=0 extra",
        "keep_case=0",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ck_assert_int_eq(loom_seq_tok_parse(&t, bad[i]), LOOM_EFORMAT);
        loom_seq_bundle b;
        ck_assert_int_eq(
            loom_seq_file_load(&b, rewrite("t.loom", "src_tokenizer", bad[i], NULL, 0, 0), NULL),
            LOOM_EFORMAT);
        ck_assert_ptr_nonnull(strstr(loom_error_message(), "'src_tokenizer'"));
    }
}
END_TEST

/* Ids are the lines' order; a list in another order is refused, not
 * re-sorted (which would give words other words' embedding rows). */
START_TEST(vocabulary_out_of_order_is_refused)
{
    /* reverse.loom's source words, counts descending: d a g f c e h b */
    const char *swapped = "a\t1020\nd\t1049\ng\t1017\nf\t1004\nc\t999\ne\t968\nh\t966\nb\t938\n";
    loom_seq_bundle b;
    ck_assert_int_eq(
        loom_seq_file_load(&b, rewrite("v.loom", "src_vocab", swapped, NULL, 0, 0), NULL),
        LOOM_EFORMAT);
    ck_assert_ptr_nonnull(strstr(loom_error_message(), "'src_vocab' line 1 is out of order"));
    /* equal counts: the order is by bytes */
    const char *ties = "d\t1049\na\t1020\ng\t1017\nf\t1004\nc\t999\ne\t968\nh\t5\nb\t5\n";
    ck_assert_int_eq(loom_seq_file_load(&b, rewrite("v.loom", "src_vocab", ties, NULL, 0, 0), NULL),
                     LOOM_EFORMAT);
    ck_assert_ptr_nonnull(strstr(loom_error_message(), "line 7 is out of order"));
    static const char *const malformed[] = {
        "d\t1049\na\t1020\ng\t1017\nf\t1004\nc\t999\ne\t968\nh\t966\nb\tmany\n",
        "d\t1049\na\t1020\ng\t1017\nf\t1004\nc\t999\ne\t968\nh\t966\nb\t938",
        "d\t1049\na\t1020\ng\t1017\nf\t1004\nc\t999\ne\t968\nh\t966\n\t938\n",
    };
    for (size_t i = 0; i < sizeof malformed / sizeof *malformed; i++) {
        ck_assert_int_eq(
            loom_seq_file_load(&b, rewrite("v.loom", "src_vocab", malformed[i], NULL, 0, 0), NULL),
            LOOM_EFORMAT);
        ck_assert_ptr_nonnull(strstr(loom_error_message(), "line 8 is not word<TAB>count"));
    }
    const char *repeated = "d\t1049\na\t1020\ng\t1017\nf\t1004\nc\t999\ne\t968\nh\t966\nh\t966\n";
    ck_assert_int_eq(
        loom_seq_file_load(&b, rewrite("v.loom", "src_vocab", repeated, NULL, 0, 0), NULL),
        LOOM_EFORMAT);
    ck_assert_ptr_nonnull(strstr(loom_error_message(), "repeated"));
}
END_TEST

static long peak_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* Sizes from the metadata meet the tensors before memory is taken: a
 * small file claiming hidden 4096 (about 2.6 GB of parameters and
 * gradients) is refused within a few MB. */
START_TEST(tensors_are_checked_against_the_metadata_before_allocation)
{
    const char *path = rewrite("h.loom", "hidden", "4096", NULL, 0, 0);
    const char *path2 = rewrite("h2.loom", "attn_dim", "4096", NULL, 0, 0);
    const char *path3 = rewrite("h3.loom", "src_vocab_size", "1073741824", NULL, 0, 0);
    long before = peak_rss_kb();
    loom_seq_bundle b;
    ck_assert_int_eq(loom_seq_file_load(&b, path, NULL), LOOM_EFORMAT);
    ck_assert_ptr_nonnull(strstr(loom_error_message(), "'hidden' 4096"));
    ck_assert_ptr_nonnull(strstr(loom_error_message(), "h.loom"));
    ck_assert_int_eq(loom_seq_file_load(&b, path2, NULL), LOOM_EFORMAT);
    ck_assert_ptr_nonnull(strstr(loom_error_message(), "'attn_dim' 4096"));
    ck_assert_int_eq(loom_seq_file_load(&b, path3, NULL), LOOM_EFORMAT);
    ck_assert_ptr_nonnull(strstr(loom_error_message(), "vocabulary sizes 1073741824"));
    long grown = peak_rss_kb() - before;
    ck_assert_msg(grown < 50 * 1024, "peak RSS grew by %ld KB", grown);
}
END_TEST

START_TEST(weights_that_are_not_numbers_are_refused)
{
    loom_seq_bundle b;
    ck_assert_int_eq(
        loom_seq_file_load(&b, rewrite("n.loom", "", NULL, "out.weight", -1, NAN), NULL),
        LOOM_EFORMAT);
    ck_assert_ptr_nonnull(strstr(loom_error_message(), "n.loom: tensor 'out.weight' holds NaN"));
    ck_assert_int_eq(
        loom_seq_file_load(&b, rewrite("i.loom", "", NULL, "decoder.bias_hh", 5, -INFINITY), NULL),
        LOOM_EFORMAT);
    ck_assert_ptr_nonnull(strstr(loom_error_message(), "'decoder.bias_hh' holds an infinity "
                                                       "(element 5)"));
    /* the control: the same rewrite with a number loads */
    ck_assert_int_eq(
        loom_seq_file_load(&b, rewrite("ok.loom", "", NULL, "decoder.bias_hh", 5, 0.5f), NULL), 0);
    loom_seq_bundle_free(&b);
}
END_TEST

static Suite *options_suite(void)
{
    Suite *s = suite_create("seq_options");
    TCase *tc = tcase_create("seq_options");
    tcase_add_checked_fixture(tc, test_setup_tmpdir, test_teardown_tmpdir);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, command_line_and_model_file_refuse_the_same_values, 0,
                        (int)(sizeof bad_values / sizeof *bad_values));
    tcase_add_test(tc, the_reasons_read_well);
    tcase_add_test(tc, range_ends_are_accepted_by_both);
    tcase_add_test(tc, options_round_trip_through_a_file);
    tcase_add_test(tc, checkpoint_keys_are_checked_and_required);
    tcase_add_test(tc, tokenizer_options_are_parsed_strictly);
    tcase_add_test(tc, vocabulary_out_of_order_is_refused);
    tcase_add_test(tc, tensors_are_checked_against_the_metadata_before_allocation);
    tcase_add_test(tc, weights_that_are_not_numbers_are_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(options_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
