/* loom: cross-entropy with masking and label smoothing, and the sigmoid log
 * loss (see loss.h). Sums over rows run in double: a batch holds thousands
 * of tokens and the mean must not depend on their order beyond 1e-7. */
#include "core/loss.h"
#include "core/activation.h"

#include "core/vmath.h"

#include <math.h>
#include <string.h>

static float row_weight(const int *targets, const float *mask, int i)
{
    if (targets[i] < 0)
        return 0.0f;
    return mask ? mask[i] : 1.0f;
}

float loom_xent_forward(float *logp, double *count, const float *logits, const int *targets,
                        const float *mask, int N, int V, float smoothing)
{
    loom_log_softmax_forward(logp, logits, N, V);
    double total = 0, weight = 0;
    for (int i = 0; i < N; i++) {
        float m = row_weight(targets, mask, i);
        if (m == 0.0f)
            continue;
        const float *lp = logp + (size_t)i * V;
        double loss = -(1.0 - smoothing) * lp[targets[i]];
        if (smoothing > 0) /* mean_c -log p(c), summed four lanes wide */
            loss -= smoothing * (double)loom_row_sum(lp, V) / V;
        total += m * loss;
        weight += m;
    }
    if (count)
        *count = weight;
    return weight > 0 ? (float)(total / weight) : 0.0f;
}

void loom_xent_backward(float *dlogits, const float *logp, const int *targets, const float *mask,
                        int N, int V, float smoothing, float dloss)
{
    double weight = 0;
    for (int i = 0; i < N; i++)
        weight += row_weight(targets, mask, i);
    if (weight == 0)
        return;
    float off = smoothing / (float)V; /* q_c for c != target */
    for (int i = 0; i < N; i++) {
        float m = row_weight(targets, mask, i);
        if (m == 0.0f)
            continue;
        /* forward was loss = -sum_c q_c logp_c with logp = log_softmax(logits),
         * whose gradient is softmax - q since sum_c q_c = 1. */
        float scale = (float)(dloss * m / weight);
        const float *lp = logp + (size_t)i * V;
        float *d = dlogits + (size_t)i * V;
        loom_exp_axpy(d, scale, lp, off, V);
        d[targets[i]] -= scale * (1.0f - smoothing);
    }
}

/* One row in place: returns the loss and log p(y) in *lp; z becomes
 * d loss / d z when grad. The max and the exponentials' sum use vmath's
 * eight-lane reductions (the sum in double): a serial chain over a
 * vocabulary was the cost of the scalar version. */
LOOM_VECTORIZE static float xent_row(float *restrict z, int V, int y, float eps, int grad,
                                     float *lp)
{
    float mx = loom_vmax(z, (size_t)V);
    double zsum = eps > 0 ? loom_vsum(z, (size_t)V) : 0;
    float zy = z[y];
    for (int j = 0; j < V; j++)
        z[j] -= mx;
    loom_vexp(z, z, (size_t)V); /* z now holds exp(z - max) */
    double sum = loom_vsum(z, (size_t)V);
    float lse = mx + (float)log(sum);
    float logp_y = zy - lse;
    *lp = logp_y;
    /* loss = -(1 - eps) log p(y) - eps/V sum_c log p(c), sum_c log p(c) = sum z - V lse */
    float loss = -(1 - eps) * logp_y - eps / V * (float)(zsum - (double)V * lse);
    if (grad) { /* d loss / d z = softmax - q, q = (1 - eps) onehot(y) + eps / V */
        float inv = (float)(1.0 / sum), off = eps / V;
        for (int j = 0; j < V; j++)
            z[j] = z[j] * inv - off;
        z[y] -= 1 - eps;
    }
    return loss;
}

double loom_xent_inplace(float *logits, float *logp_target, long *count, const int *targets, int N,
                         int V, float smoothing, int grad)
{
    double total = 0;
    long n = 0;
    for (int i = 0; i < N; i++) {
        float *z = logits + (size_t)i * V, lp = 0;
        if (targets[i] < 0) {
            if (grad)
                memset(z, 0, (size_t)V * sizeof *z);
        } else {
            total += xent_row(z, V, targets[i], smoothing, grad, &lp);
            n++;
        }
        if (logp_target)
            logp_target[i] = lp;
    }
    *count = n;
    return total;
}

static double softplus(double x)
{
    return (x > 0 ? x : 0) + log1p(exp(-fabs(x)));
}

float loom_sigmoid_loss_forward(const float *scores, const float *labels, int N)
{
    double total = 0;
    for (int i = 0; i < N; i++)
        total += softplus(scores[i]) - (double)labels[i] * scores[i];
    return N > 0 ? (float)(total / N) : 0.0f;
}

void loom_sigmoid_loss_backward(float *dscores, const float *scores, const float *labels, int N,
                                float dloss)
{
    if (N <= 0)
        return;
    float scale = dloss / (float)N;
    for (int i = 0; i < N; i++) {
        float x = scores[i];
        float s = x >= 0 ? 1.0f / (1.0f + expf(-x)) : expf(x) / (1.0f + expf(x));
        dscores[i] += scale * (s - labels[i]);
    }
}
