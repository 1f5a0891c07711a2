/* loom: embedding initialisation from word vector files. */
#include "config.h"
#include "seq/transfer.h"

#include <math.h>
#include <string.h>

#include "base/error.h"
#include "base/rng.h"
#include "embed/vectors.h"

int loom_seq_init_embedding(loom_param *emb, const loom_vocab *v, const char *path, uint64_t seed,
                            loom_seq_coverage *cov)
{
    memset(cov, 0, sizeof *cov);
    loom_vectors *vec;
    int rc = loom_vectors_load(&vec, path);
    if (rc)
        return rc;
    size_t dim = loom_vectors_dim(vec), n = loom_vocab_size(v);
    if (emb->ndim != 2 || (size_t)emb->shape[1] != dim || (size_t)emb->shape[0] != n) {
        loom_vectors_free(vec);
        return loom_error(LOOM_EINVAL,
                          "%s: vectors of dimension %zu, but the model's embedding size is %d "
                          "(--emb)",
                          path, dim, emb->shape[1]);
    }
    double sum = 0, sq = 0;
    size_t nval = loom_vectors_count(vec) * dim;
    const float *all = loom_vectors_matrix(vec);
    for (size_t i = 0; i < nval; i++)
        sum += all[i], sq += (double)all[i] * all[i];
    double mean = nval ? sum / nval : 0;
    double sd = nval ? sqrt(fmax(sq / nval - mean * mean, 1e-12)) : 1;
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
        if (k >= 0)
            memcpy(row, loom_vectors_row(vec, (size_t)k), dim * sizeof(float));
        else
            loom_init_normal(row, dim, (float)sd, &rng);
    }
    loom_vectors_free(vec);
    return 0;
}
