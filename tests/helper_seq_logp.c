/* Test helper: loom's own per-token log-probabilities of reference
 * translations, for comparing an exported model against them.
 *   helper_seq_logp MODEL PAIRS.tsv
 * For each `source<TAB>target` line, prints the source ids, the target ids
 * and log p of each target token and of the closing </s> under teacher
 * forcing (loom_seq_forward), tab-separated. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "seq/data.h"
#include "seq/model_file.h"

static void print_ids(const int32_t *ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("%s%d", i ? " " : "", ids[i]);
    putchar('\t');
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: helper_seq_logp MODEL PAIRS.tsv\n");
        return 2;
    }
    loom_seq_bundle b;
    memset(&b, 0, sizeof b);
    loom_tokenizer *tok[2] = {NULL, NULL};
    loom_seq_work *w = NULL;
    FILE *f = fopen(argv[2], "r");
    if (!f || loom_seq_file_load(&b, argv[1], NULL) || loom_tokenizer_new(&tok[0], &b.tok[0]) ||
        loom_tokenizer_new(&tok[1], &b.tok[1]) || loom_seq_work_new(&w, b.model)) {
        fprintf(stderr, "helper_seq_logp: %s\n", f ? loom_error_message() : argv[2]);
        return 1;
    }
    char line[65536];
    int32_t *ids[2] = {NULL, NULL};
    size_t n[2], cap[2] = {0, 0};
    int rc = 0;
    while (!rc && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        char *tab = strchr(line, '\t');
        if (!tab)
            continue;
        *tab = 0;
        const char *side[2] = {line, tab + 1};
        for (int s = 0; s < 2 && !rc; s++) {
            n[s] = 0;
            rc = loom_seq_encode_sentence(tok[s], b.vocab[s], side[s], strlen(side[s]), &ids[s],
                                          &n[s], &cap[s]);
        }
        if (rc || n[0] == 0)
            continue;
        int T = (int)n[1] + 1, S = (int)n[0];
        int *src = malloc(S * sizeof(int)), *tin = malloc(T * sizeof(int));
        int *tout = malloc(T * sizeof(int));
        float *logp = malloc(T * sizeof(float));
        for (int i = 0; i < S; i++)
            src[i] = ids[0][i];
        tin[0] = LOOM_BOS;
        for (int t = 0; t < T - 1; t++)
            tin[t + 1] = tout[t] = ids[1][t];
        tout[T - 1] = LOOM_EOS;
        loom_seq_batch batch = {1, S, T, src, &S, tin, tout, &T};
        double loss;
        long tokens;
        rc = loom_seq_forward(b.model, w, &batch, 0, 0.0f, NULL, &loss, &tokens, logp);
        print_ids(ids[0], n[0]);
        print_ids(ids[1], n[1]);
        for (int t = 0; t < T; t++)
            printf("%s%.9g", t ? " " : "", logp[t]);
        putchar('\n');
        free(src), free(tin), free(tout), free(logp);
    }
    if (rc)
        fprintf(stderr, "helper_seq_logp: %s\n", loom_error_message());
    fclose(f);
    free(ids[0]), free(ids[1]);
    loom_tokenizer_free(tok[0]), loom_tokenizer_free(tok[1]);
    loom_seq_work_free(w);
    loom_seq_bundle_free(&b);
    return rc ? 1 : 0;
}
