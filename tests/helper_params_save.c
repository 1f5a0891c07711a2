/* Test helper: saves a small seeded parameter set to argv[1] with
 * metadata, and prints each parameter as "name d0,d1 bits bits ..." (the
 * float32 bit patterns in hex) so that an independent reader can check the
 * file holds exactly these tensors. */
#include "config.h"
#include "base/error.h"
#include "core/param.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: helper_params_save OUT\n");
        return 2;
    }
    loom_params *ps;
    loom_param *p[4];
    int conv[3] = {3, 4, 2};
    if (loom_params_new(&ps) < 0 || loom_params_add2(ps, &p[0], "enc.emb", 6, 4) < 0 ||
        loom_params_add(ps, &p[1], "conv.K", 3, conv) < 0 ||
        loom_params_add1(ps, &p[2], "conv.b", 2) < 0 ||
        loom_params_add2(ps, &p[3], "dec.W_hh", 5, 5) < 0 || loom_params_alloc(ps) < 0) {
        fprintf(stderr, "%s\n", loom_error_message());
        return 1;
    }
    loom_rng rng;
    loom_rng_seed(&rng, 42, 0);
    loom_init_uniform(p[0]->value, p[0]->size, 0.5f, &rng);
    loom_init_glorot(p[1]->value, 12, 2, &rng);
    p[2]->value[0] = -0.0f;
    p[2]->value[1] = 1e-40f; /* a denormal survives too */
    loom_init_orthogonal(p[3]->value, 5, 5, 1.0f, &rng);
    const char *meta[] = {"format", "loom", "config", "{\"dim\": 4}", NULL};
    if (loom_params_save(ps, argv[1], meta) < 0) {
        fprintf(stderr, "%s\n", loom_error_message());
        return 1;
    }
    for (int i = 0; i < 4; i++) {
        printf("%s ", p[i]->name);
        for (int d = 0; d < p[i]->ndim; d++)
            printf("%s%d", d ? "," : "", p[i]->shape[d]);
        for (size_t j = 0; j < p[i]->size; j++) {
            unsigned bits;
            memcpy(&bits, &p[i]->value[j], 4);
            printf(" %08x", bits);
        }
        printf("\n");
    }
    loom_params_free(ps);
    return 0;
}
