/* loom: argmax and top-k selection over a row (select.h). */
#include "config.h"
#include "core/select.h"

int loom_argmax(const float *x, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}

void loom_topk_offer(loom_scored *top, int *have, int k, const float *x, int n, float add, int id0)
{
    int m = *have;
    for (int i = 0; i < n; i++) {
        float s = x[i] + add;
        if (m == k && s <= top[k - 1].score)
            continue;
        int at = m < k ? m++ : k - 1;
        while (at > 0 && top[at - 1].score < s) {
            top[at] = top[at - 1];
            at--;
        }
        top[at] = (loom_scored){s, id0 + i};
    }
    *have = m;
}
