/* loom: embedding initialisation from word vector files. */
#include "config.h"
#include "seq/transfer.h"

#include <math.h>
#include <string.h>

#include "base/error.h"
#include "base/rng.h"
#include "embed/vectors.h"

int loom_seq_init_embedding(loom_param *emb, const loom_vocab *v, const char *path, int unit_sd,
                            uint64_t seed, loom_seq_coverage *cov)
{
    memset(cov, 0, sizeof *cov);
    size_t n = loom_vocab_size(v);
    if (emb->ndim != 2 || (size_t)emb->shape[0] != n)
        return loom_error(LOOM_EINVAL, "%s: the embedding has %d rows for %zu words", path,
                          emb->ndim == 2 ? emb->shape[0] : 0, n);
    size_t dim = (size_t)emb->shape[1];
    loom_vectors *vec;
    int rc = loom_vectors_load_dim(&vec, path, dim, "the model's embedding size", "emb");
    if (rc)
        return rc;
    double sd = loom_vectors_sd(vec);
    double scale = unit_sd ? 1 / sd : 1;
    cov->sd = sd, cov->scale = scale;
    loom_rng rng;
    loom_rng_seed(&rng, seed, 11);
    for (size_t id = 0; id < n; id++) {
        float *row = emb->value + id * dim;
        long k = -1;
        if (id >= 4) {
            uint64_t c = loom_vocab_count(v, (int32_t)id);
            k = loom_vectors_find(vec, loom_vocab_word(v, (int32_t)id));
            cov->words++;
            cov->tokens += c;
            if (k >= 0)
                cov->found++, cov->tokens_found += c;
        }
        if (k >= 0 && !unit_sd)
            memcpy(row, loom_vectors_row(vec, (size_t)k), dim * sizeof(float));
        else if (k >= 0)
            for (size_t j = 0; j < dim; j++)
                row[j] = (float)(loom_vectors_row(vec, (size_t)k)[j] * scale);
        else
            loom_init_normal(row, dim, (float)(sd * scale), &rng);
    }
    loom_vectors_free(vec);
    return 0;
}

int loom_seq_vocab_with_vectors(loom_vocab **out, const loom_vocab *counts, uint64_t min_count,
                                size_t max_size, const char *path, size_t vec_words, size_t *added)
{
    *out = NULL, *added = 0;
    loom_vectors *vec;
    int rc = loom_vectors_load_opts(&vec, path, 0, vec_words);
    if (rc)
        return rc;
    loom_vocab *v = NULL;
    if ((rc = loom_vocab_new(&v)) || (rc = loom_vocab_add_specials(v)))
        goto done;
    /* counts is sorted by count, so the first max_size words that reach
     * min_count are the ones loom_vocab_finalize would keep */
    size_t n = loom_vocab_size(counts), kept = 0;
    for (int32_t id = 4; (size_t)id < n && (!max_size || kept < max_size); id++) {
        const char *w = loom_vocab_word(counts, id);
        uint64_t c = loom_vocab_count(counts, id);
        if (c < min_count)
            break;
        if ((rc = loom_vocab_add(v, w, strlen(w), c)))
            goto done;
        kept++;
    }
    for (size_t i = 0; i < loom_vectors_count(vec); i++) {
        const char *w = loom_vectors_word(vec, i);
        size_t len = strlen(w);
        if (loom_vocab_find(v, w, len) >= 0) /* kept already, or a special such as </s> */
            continue;
        int32_t id = loom_vocab_find(counts, w, len);
        if ((rc = loom_vocab_add(v, w, len, id >= 0 ? loom_vocab_count(counts, id) : 0)))
            goto done;
        (*added)++;
    }
    rc = loom_vocab_finalize(v, 0, 0);
done:
    loom_vectors_free(vec);
    if (rc) {
        loom_vocab_free(v);
        *added = 0;
        return rc;
    }
    *out = v;
    return 0;
}
