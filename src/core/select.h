/* loom: selection over a row of scores: the index of the largest, and the
 * k largest kept in a list sorted best first (a greedy decoder's next word,
 * a beam search's candidates over a vocabulary times its rows). Knows
 * nothing of words: which ids may be chosen is the caller's business, given
 * as ranges of the row. */
#ifndef LOOM_CORE_SELECT_H
#define LOOM_CORE_SELECT_H

/* The index of the largest of x[0..n): the first one on ties, since a later
 * value must be strictly greater to win. 0 when n <= 1 (x[0] not read when
 * n = 0). A NaN never wins unless it is x[0]. */
int loom_argmax(const float *x, int n);

/* An entry of a top-k list. */
typedef struct {
    float score;
    int id;
} loom_scored;

/* Offers the scores x[i] + add, with ids id0 + i, for i in [0, n), to top:
 * the k largest offered so far, best first, *have of them (start with
 * *have = 0; at most k). A score enters a full list only if it is greater
 * than the last entry's, and goes after the entries it equals, so among
 * equal scores the first offered stays first. Offering a row in pieces, in
 * order, gives the same list as offering it whole. k >= 1; k is small (a
 * beam's 2K), as each entry is placed by insertion. */
void loom_topk_offer(loom_scored *top, int *have, int k, const float *x, int n, float add, int id0);

#endif
