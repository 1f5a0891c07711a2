/* loom: embedding lookup. The table E is (V, D); a batch of N ids becomes
 * N rows. The backward pass adds into the gradient rows of the ids seen
 * and touches no other row (sparse gradient rows), so a step costs O(N D)
 * however large the vocabulary. A frozen table (pretrained vectors) simply
 * passes dE = NULL. Loading E from a vector file is the embed layer's job;
 * this file knows ids, not words. */
#ifndef LOOM_CORE_EMBEDDING_H
#define LOOM_CORE_EMBEDDING_H

/* ids (N), each in [0, V); E (V, D)  ->  out (N, D) with out[i] = E[ids[i]].
 * An id < 0 (padding) gives a zero row. */
void loom_embedding_forward(float *out, const int *ids, const float *E, int N, int D);

/* dE[ids[i]] += dout[i] for each i with ids[i] >= 0; dout (N, D).
 * dE NULL (frozen table) does nothing. */
void loom_embedding_backward(float *dE, const float *dout, const int *ids, int N, int D);

#endif
