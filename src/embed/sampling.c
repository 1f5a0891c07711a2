/* loom: negative-sampling noise (Walker/Vose alias method) and frequent-word
 * subsampling for the word2vec trainer. Works on counts only. */
#include "config.h"
#include "embed/sampling.h"
#include "base/alloc.h"
#include "base/error.h"

#include <math.h>
#include <stdlib.h>

int loom_noise_build(loom_noise *t, const uint64_t *counts, size_t n, double power)
{
    t->cells = NULL;
    t->n = 0;
    if (n == 0 || n > UINT32_MAX)
        return loom_error(LOOM_EINVAL, "noise distribution: %zu words", n);
    double *w = loom_malloc(n, sizeof *w);
    uint32_t *small = loom_malloc(n, sizeof *small);
    uint32_t *large = loom_malloc(n, sizeof *large);
    t->cells = loom_malloc(n, sizeof *t->cells);
    if (!w || !small || !large || !t->cells) {
        free(w), free(small), free(large), loom_noise_free(t);
        return LOOM_ENOMEM;
    }
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += w[i] = pow((double)counts[i], power);
    if (!(sum > 0)) {
        free(w), free(small), free(large), loom_noise_free(t);
        return loom_error(LOOM_EINVAL, "noise distribution: every count is 0");
    }
    /* Vose: scale weights to mean 1; pair each light cell with a heavy one
     * that tops it up to exactly 1. */
    size_t ns = 0, nl = 0;
    for (size_t i = 0; i < n; i++) {
        w[i] = w[i] * (double)n / sum;
        if (w[i] < 1.0)
            small[ns++] = (uint32_t)i;
        else
            large[nl++] = (uint32_t)i;
    }
    while (ns > 0 && nl > 0) {
        uint32_t s = small[--ns], l = large[nl - 1];
        t->cells[s].prob = (uint32_t)ldexp(w[s], 32);
        t->cells[s].alias = l;
        w[l] -= 1.0 - w[s];
        if (w[l] < 1.0) {
            nl--;
            small[ns++] = l;
        }
    }
    /* What is left is 1 up to rounding: always keep self. */
    while (nl > 0) {
        uint32_t l = large[--nl];
        t->cells[l].prob = UINT32_MAX;
        t->cells[l].alias = l;
    }
    while (ns > 0) {
        uint32_t s = small[--ns];
        t->cells[s].prob = UINT32_MAX;
        t->cells[s].alias = s;
    }
    t->n = (uint32_t)n;
    free(w), free(small), free(large);
    return 0;
}

void loom_noise_free(loom_noise *t)
{
    free(t->cells);
    t->cells = NULL;
    t->n = 0;
}

void loom_subsample_thresholds(uint64_t *keep, const uint64_t *counts, size_t n, uint64_t total,
                               double sample)
{
    const uint64_t always = (uint64_t)1 << 32;
    for (size_t i = 0; i < n; i++) {
        if (sample <= 0 || counts[i] == 0 || total == 0) {
            keep[i] = always;
            continue;
        }
        double f = (double)counts[i] / (double)total;
        double p = (sqrt(f / sample) + 1.0) * sample / f;
        keep[i] = p >= 1.0 ? always : (uint64_t)ldexp(p, 32);
    }
}
