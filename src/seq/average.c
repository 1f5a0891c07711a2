/* loom: checkpoint averaging. The mean of the weights of several model
 * files of one run (the last validations' models, or checkpoints), written
 * as one model file: a cheap ensemble that decodes at the cost of one
 * model. The files must agree on everything but the weights. */
#include "config.h"
#include "seq/model_file.h"

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/error.h"

/* LOOM_EINVAL naming `path` when b differs from first in anything but its
 * weights: shape, vocabularies, tokenizers, subword models. */
static int same_model(const loom_seq_bundle *b, const loom_seq_bundle *first, const char *path,
                      const char *first_path)
{
    const loom_seq_config *x = loom_seq_model_config(b->model);
    const loom_seq_config *y = loom_seq_model_config(first->model);
    const char *what = NULL;
    char t1[160], t2[160];
    if (memcmp(x, y, sizeof *x) != 0)
        what = "model shape (cell, layers, sizes)";
    for (int s = 0; s < 2 && !what; s++) {
        loom_seq_tok_format(t1, sizeof t1, &b->tok[s]);
        loom_seq_tok_format(t2, sizeof t2, &first->tok[s]);
        size_t n1 = 0, n2 = 0;
        const void *sw1 = b->subword[s] ? loom_subword_bytes(b->subword[s], &n1) : NULL;
        const void *sw2 = first->subword[s] ? loom_subword_bytes(first->subword[s], &n2) : NULL;
        if (!loom_vocab_same(b->vocab[s], first->vocab[s]))
            what = s ? "target vocabulary" : "source vocabulary";
        else if (strcmp(t1, t2) != 0)
            what = s ? "target tokenizer options" : "source tokenizer options";
        else if (n1 != n2 || !sw1 != !sw2 || (n1 && memcmp(sw1, sw2, n1) != 0))
            what = s ? "target subword model" : "source subword model";
    }
    if (what)
        return loom_error(LOOM_EINVAL,
                          "%s: not the same %s as %s (only models of one run, differing in "
                          "their weights, can be averaged)",
                          path, what, first_path);
    return 0;
}

int loom_seq_average(const char *const *paths, int n, const char *out)
{
    if (n < 1)
        return loom_error(LOOM_EINVAL, "averaging needs at least one model file");
    loom_seq_bundle first, b;
    int rc = loom_seq_file_load(&first, paths[0], NULL);
    if (rc)
        return rc;
    size_t nf;
    float *w = loom_params_values(loom_seq_model_params(first.model), &nf);
    double *sum = loom_malloc(nf ? nf : 1, sizeof *sum);
    if (!sum) {
        loom_seq_bundle_free(&first);
        return LOOM_ENOMEM;
    }
    /* sums in double, in file order: the mean of equal weights is exact */
    for (size_t i = 0; i < nf; i++)
        sum[i] = w[i];
    for (int k = 1; k < n && !rc; k++) {
        if ((rc = loom_seq_file_load(&b, paths[k], NULL)))
            break;
        rc = same_model(&b, &first, paths[k], paths[0]);
        size_t nb;
        const float *v = loom_params_values(loom_seq_model_params(b.model), &nb);
        for (size_t i = 0; !rc && i < nf; i++)
            sum[i] += v[i];
        loom_seq_bundle_free(&b);
    }
    if (!rc) {
        for (size_t i = 0; i < nf; i++)
            w[i] = (float)(sum[i] / n);
        loom_st_writer *wr;
        if (!(rc = loom_seq_file_writer(&wr, &first))) {
            rc = loom_st_writer_save(wr, out);
            loom_st_writer_free(wr);
        }
    }
    free(sum);
    loom_seq_bundle_free(&first);
    return rc < 0 ? rc : rc ? LOOM_EINVAL : 0;
}
