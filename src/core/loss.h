/* loom: losses. Each forward returns the mean loss over the real (masked
 * in) items and each backward accumulates dloss * d(mean)/d(input), so the
 * usual call is backward(..., 1.0f) once per step. Loss code knows scores
 * and ids, never words. */
#ifndef LOOM_CORE_LOSS_H
#define LOOM_CORE_LOSS_H

/* Softmax cross-entropy over a padded batch of N rows (e.g. B*T decoder
 * steps) of V logits, with PyTorch's label smoothing:
 *   loss_i = (1 - eps) * -log p(target_i) + eps * mean_c -log p(c)
 * and the mean taken as sum_i m_i loss_i / sum_i m_i, where m_i = mask[i]
 * (mask NULL: all 1; a target < 0 also counts as masked out). With a 0/1
 * mask this is torch.nn.functional.cross_entropy(logits, targets,
 * ignore_index=-100 at the masked rows, label_smoothing=eps).
 *   logits (N, V), targets (N), mask (N) or NULL
 *   logp (N, V): receives the log-softmax, kept for backward
 * Returns the mean loss (0 when no row is real); *count (if not NULL)
 * receives sum_i m_i, to turn means back into sums for perplexity. */
float loom_xent_forward(float *logp, double *count, const float *logits, const int *targets,
                        const float *mask, int N, int V, float smoothing);

/* dlogits (N, V) += dloss * m_i / sum(m) * (softmax_i - q_i),
 * q_i = (1 - eps) onehot(target_i) + eps / V. */
void loom_xent_backward(float *dlogits, const float *logp, const int *targets, const float *mask,
                        int N, int V, float smoothing, float dloss);

/* The in-place variant, for decoders with large vocabularies: no second
 * (N, V) buffer for the log-softmax, and the gradient written where the
 * logits were. Rows whose target is < 0 (padding) are skipped. Returns the
 * SUM of the real rows' losses (same smoothing as above) and sets *count
 * to their number; logp_target (N) or NULL receives log p(target) (0 at
 * skipped rows). The logits are overwritten: with grad, by d sum / d logits
 * (zeros at skipped rows), which the layer below scales (e.g. by 1/count,
 * see dense.h's backward scale); without, by scratch values. */
double loom_xent_inplace(float *logits, float *logp_target, long *count, const int *targets, int N,
                         int V, float smoothing, int grad);

/* Sigmoid log loss (binary cross-entropy on logits) for negative sampling:
 *   mean_i [ -y_i log s(x_i) - (1 - y_i) log s(-x_i) ] = mean_i softplus(x_i) - y_i x_i
 * with labels y in [0, 1] (1 for the true context, 0 for the negatives);
 * torch.nn.functional.binary_cross_entropy_with_logits. */
float loom_sigmoid_loss_forward(const float *scores, const float *labels, int N);
/* dscores += dloss / N * (s(x_i) - y_i) */
void loom_sigmoid_loss_backward(float *dscores, const float *scores, const float *labels, int N,
                                float dloss);

#endif
