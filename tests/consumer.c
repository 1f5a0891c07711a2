/* A program that uses loom through <loom.h> alone, as a library user's
 * would: built and run by `make check` against the built library, and by
 * `make installcheck` (so by distcheck) against the installed header and
 * library. It tokenizes, builds a vocabulary, trains word vectors on a
 * small corpus it writes, saves and loads them, queries them, trains a
 * small translation model on pairs it writes and translates with it, and
 * checks that errors come back as codes with messages naming the file or
 * the option. */
#include <loom.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "consumer.c:%d: check failed: %s (%s)\n", __LINE__, #cond,             \
                    loom_error_message());                                                         \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

/* Collects tokens into a vocabulary and a space-joined string. */
typedef struct {
    loom_vocab *v;
    char text[256];
} collect;

static int on_token(void *ctx, const char *tok, size_t len)
{
    collect *c = ctx;
    size_t n = strlen(c->text);
    if (n + len + 2 > sizeof c->text)
        return 1;
    snprintf(c->text + n, sizeof c->text - n, "%s%.*s", n ? " " : "", (int)len, tok);
    return loom_vocab_add(c->v, tok, len, 1);
}

static void tokenize_and_count(void)
{
    loom_tokenizer *t;
    CHECK(loom_tokenizer_new(&t, NULL) == 0);
    collect c = {NULL, ""};
    CHECK(loom_vocab_new(&c.v) == 0);
    const char *s = "The cat saw the Dog, and the dog saw 3.5 cats!";
    CHECK(loom_tokenize_string(t, s, strlen(s), on_token, &c) == 0);
    CHECK(strcmp(c.text, "the cat saw the dog , and the dog saw 3.5 cats !") == 0);
    CHECK(loom_vocab_finalize(c.v, 2, 0) == 0);
    /* kept: the (3), dog (2), saw (2), by count then bytes */
    CHECK(loom_vocab_size(c.v) == 3);
    CHECK(strcmp(loom_vocab_word(c.v, 0), "the") == 0 && loom_vocab_count(c.v, 0) == 3);
    CHECK(strcmp(loom_vocab_word(c.v, 1), "dog") == 0);
    CHECK(loom_vocab_find(c.v, "saw", 3) == 2 && loom_vocab_find(c.v, "cat", 3) == -1);
    CHECK(loom_vocab_total(c.v) == 7);
    loom_vocab_free(c.v);

    /* invalid UTF-8 is an error by default, with the byte offset */
    const char bad[] = "ok \xff no";
    CHECK(loom_tokenize_string(t, bad, sizeof bad - 1, on_token, &c) == LOOM_EFORMAT);
    CHECK(strstr(loom_error_message(), "UTF-8") != NULL);
    loom_tokenizer_free(t);
}

/* Words 0..5 in two groups of three that share their contexts. */
static int write_corpus(const char *path)
{
    static const char *const a[] = {"red", "green", "blue"}, *const b[] = {"one", "two", "three"};
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    unsigned x = 1;
    for (int line = 0; line < 400; line++) {
        for (int i = 0; i < 12; i++) {
            x = x * 1103515245u + 12345u;
            int k = (int)(x >> 16) % 3;
            fprintf(f, i % 2 ? "%s colour paint " : "%s number count ", i % 2 ? a[k] : b[k]);
        }
        fputc('\n', f);
    }
    return fclose(f);
}

static void vectors_and_queries(void)
{
    const char *corpus = "consumer-corpus.txt", *out = "consumer-vectors.txt";
    CHECK(write_corpus(corpus) == 0);
    loom_w2v_opts o;
    loom_w2v_opts_default(&o);
    o.dim = 16;
    o.min_count = 1;
    o.epochs = 3;
    o.sample = 0;
    loom_w2v *w;
    CHECK(loom_w2v_new(&w, &o, &corpus, 1) == 0);
    if (!w)
        return;
    CHECK(loom_w2v_count(w, NULL) == 0);
    CHECK(loom_vocab_size(loom_w2v_vocab(w)) == 10);
    CHECK(loom_w2v_train(w, NULL) == 0);
    loom_w2v_stats st;
    loom_w2v_get_stats(w, &st);
    CHECK(st.words == 3 * 400 * 12 * 3 && st.loss > 0 && isfinite(st.loss));
    CHECK(loom_w2v_save(w, out, LOOM_VEC_AUTO) == 0);
    loom_w2v_free(w);

    loom_vectors *v;
    CHECK(loom_vectors_load(&v, out) == 0);
    if (!v)
        return;
    CHECK(loom_vectors_count(v) == 10 && loom_vectors_dim(v) == 16);
    long red = loom_vectors_find(v, "red");
    CHECK(red >= 0 && strcmp(loom_vectors_word(v, (size_t)red), "red") == 0);
    loom_index *ix;
    CHECK(loom_index_new(&ix, v, 0, 1) == 0);
    loom_hit hits[2];
    CHECK(loom_index_nearest(ix, &red, 1, 2, 0, hits) == 0);
    /* red's nearest words are the other colours */
    for (int i = 0; i < 2; i++) {
        const char *word = hits[i].row >= 0 ? loom_vectors_word(v, (size_t)hits[i].row) : "";
        CHECK(strcmp(word, "green") == 0 || strcmp(word, "blue") == 0);
        CHECK(hits[i].score > 0.5f && hits[i].score <= 1.0001f);
    }
    loom_index_free(ix);
    loom_vectors_free(v);
    remove(corpus);
    remove(out);
}

/* Sentences of one to four words from six, each word translated alone:
 * a model learns it in a few epochs. */
static int write_pairs(const char *path)
{
    static const char *const en[] = {"one", "two", "three", "cat", "dog", "red"},
                             *const fr[] = {"un", "deux", "trois", "chat", "chien", "rouge"};
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    unsigned x = 7;
    for (int line = 0; line < 400; line++) {
        int len = 1 + line % 4, w[4];
        for (int i = 0; i < len; i++) {
            x = x * 1103515245u + 12345u;
            w[i] = (int)(x >> 16) % 6;
        }
        for (int side = 0; side < 2; side++)
            for (int i = 0; i < len; i++)
                fprintf(f, "%s%s", side ? fr[w[i]] : en[w[i]],
                        i + 1 < len ? " "
                        : side      ? "\n"
                                    : "\t");
    }
    return fclose(f);
}

static void train_and_translate(void)
{
    const char *pairs = "consumer-pairs.tsv", *model = "consumer-model.loom";
    CHECK(write_pairs(pairs) == 0);
    const char *train[] = {"hidden", "32",      "emb", "16",   "epochs", "15", "min-count",
                           "1",      "threads", "1",   "seed", "1",      NULL};
    CHECK(loom_seq_train_pairs(pairs, model, train, NULL) == 0);

    loom_translator *tr;
    const char *decode[] = {"beam", "3", NULL};
    CHECK(loom_translator_load(&tr, &model, 1, decode) == 0);
    if (!tr)
        return;
    const char *src[] = {"one red dog", "Cat two !", ""};
    char *out[3];
    float scores[3];
    CHECK(loom_translate_sentences(tr, src, 3, out, scores) == 0);
    CHECK(strcmp(out[0], "un rouge chien") == 0);
    /* tokenized as in training: case folded; "!" was never seen: <unk> */
    CHECK(strncmp(out[1], "chat deux", 9) == 0);
    CHECK(strcmp(out[2], "") == 0);
    CHECK(scores[0] < 0 && isfinite(scores[0]));
    for (int i = 0; i < 3; i++)
        free(out[i]);
    const char bad[] = "un \xff";
    const char *bad_src[] = {"one", bad};
    CHECK(loom_translate_sentences(tr, bad_src, 2, out, NULL) == LOOM_EFORMAT);
    CHECK(strstr(loom_error_message(), "sentence 2") != NULL);
    loom_translator_free(tr);
    remove(pairs);
    remove(model);
    remove("consumer-model.loom.ckpt"); /* the trainer's checkpoint */
}

static void errors(void)
{
    loom_vectors *v = (loom_vectors *)&v;
    CHECK(loom_vectors_load(&v, "consumer-no-such-file.vec") == LOOM_ENOTFOUND);
    CHECK(v == NULL);
    CHECK(strstr(loom_error_message(), "consumer-no-such-file.vec") != NULL);
    CHECK(strcmp(loom_strerror(LOOM_ENOTFOUND), loom_strerror(LOOM_EIO)) != 0);
    loom_error_clear();
    CHECK(strcmp(loom_error_message(), "") == 0);

    loom_w2v_opts o;
    loom_w2v_opts_default(&o);
    o.window = 0;
    CHECK(loom_w2v_opts_check(&o) == LOOM_EINVAL && strstr(loom_error_message(), "window"));

    /* sequence models: options by name, checked; files named */
    const char *lr[] = {"lr", "20", NULL}, *nosuch[] = {"no-such-option", "1", NULL};
    CHECK(loom_seq_train_pairs("consumer-pairs.tsv", "x.loom", lr, NULL) == LOOM_EINVAL);
    CHECK(strstr(loom_error_message(), "--lr") != NULL);
    CHECK(loom_seq_train_pairs("consumer-pairs.tsv", "x.loom", nosuch, NULL) == LOOM_ENOTFOUND);
    CHECK(strstr(loom_error_message(), "--no-such-option") != NULL);
    CHECK(loom_seq_train_pairs("consumer-no-pairs.tsv", "x.loom", NULL, NULL) == LOOM_EIO);
    CHECK(strstr(loom_error_message(), "consumer-no-pairs.tsv") != NULL);
    loom_translator *tr = (loom_translator *)&tr;
    const char *missing = "consumer-no-such-model.loom", *beam0[] = {"beam", "0", NULL};
    CHECK(loom_translator_load(&tr, &missing, 1, NULL) == LOOM_EIO && tr == NULL);
    CHECK(strstr(loom_error_message(), missing) != NULL);
    CHECK(loom_translator_load(&tr, &missing, 1, beam0) == LOOM_EINVAL && tr == NULL);
    CHECK(strstr(loom_error_message(), "--beam") != NULL);
}

int main(void)
{
    tokenize_and_count();
    vectors_and_queries();
    train_and_translate();
    errors();
    printf("%s loom %s\n", failures ? "FAILED" : "ok", LOOM_VERSION);
    return failures ? 1 : 0;
}
