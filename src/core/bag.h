/* loom: the mean of a bag of embedding rows (PyTorch's nn.EmbeddingBag,
 * mode "mean"): the input layer of fastText's classifier. B bags of ids
 * are given as one array of ids and B + 1 offsets; bag b is
 * ids[offsets[b] .. offsets[b + 1]). Like the embedding, the backward pass
 * touches only the rows of the ids seen (sparse gradient rows), so a step
 * costs O(N D) however many rows the table has. This file knows ids, not
 * words or n-grams. */
#ifndef LOOM_CORE_BAG_H
#define LOOM_CORE_BAG_H

/* ids (N = offsets[B]), each in [0, V); offsets (B + 1), non-decreasing,
 * offsets[0] = 0; E (V, D)  ->  out (B, D), out[b] = mean of E[ids[j]]
 * over the bag. An empty bag gives a zero row (as PyTorch). */
void loom_bag_mean_forward(float *out, const int *ids, const int *offsets, const float *E, int B,
                           int D);

/* dE[ids[j]] += dout[b] / n_b for every id j of bag b (n_b its size);
 * dout (B, D). dE NULL (frozen table) does nothing. dE may be E itself
 * when the caller folds an SGD step into dout (-lr * gradient), as
 * fastText updates its rows in place. */
void loom_bag_mean_backward(float *dE, const float *dout, const int *ids, const int *offsets, int B,
                            int D);

#endif
