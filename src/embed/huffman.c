/* loom: Huffman coding of the vocabulary for hierarchical softmax, with
 * word2vec's linear-time two-queue construction over counts sorted in
 * ascending order. */
#include "config.h"
#include "embed/huffman.h"
#include "base/alloc.h"
#include "base/error.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t count;
    uint32_t index;
} item;

/* Ascending count, then descending index: the reverse of the vocabulary's
 * own order (count descending, id ascending), so ties are settled alike. */
static int cmp_items(const void *pa, const void *pb)
{
    const item *a = pa, *b = pb;
    if (a->count != b->count)
        return a->count < b->count ? -1 : 1;
    return a->index > b->index ? -1 : a->index < b->index;
}

int loom_huffman_build(loom_huffman *h, const uint64_t *counts, size_t n)
{
    memset(h, 0, sizeof *h);
    if (n == 0 || n > UINT32_MAX / 2)
        return loom_error(LOOM_EINVAL, "Huffman tree: %zu words", n);
    /* Nodes 0..n-1 are the leaves (in ascending count order), n..2n-2 the
     * inner nodes in order of creation; both queues stay sorted. */
    size_t nodes = 2 * n - 1;
    item *leaf = loom_malloc(n, sizeof *leaf);
    uint64_t *weight = loom_malloc(nodes, sizeof *weight);
    uint32_t *parent = loom_calloc(nodes, sizeof *parent);
    uint8_t *bit = loom_calloc(nodes, 1);
    uint32_t *depth = loom_calloc(nodes, sizeof *depth);
    h->offset = loom_malloc(n + 1, sizeof *h->offset);
    int rc = LOOM_ENOMEM;
    if (!leaf || !weight || !parent || !bit || !depth || !h->offset)
        goto done;
    for (size_t i = 0; i < n; i++)
        leaf[i] = (item){counts[i], (uint32_t)i};
    qsort(leaf, n, sizeof *leaf, cmp_items);
    for (size_t i = 0; i < n; i++)
        weight[i] = leaf[i].count;

    size_t next_leaf = 0, next_inner = n;
    for (size_t k = n; k < nodes; k++) {
        size_t pick[2];
        for (int j = 0; j < 2; j++) {
            if (next_leaf < n && (next_inner >= k || weight[next_leaf] <= weight[next_inner]))
                pick[j] = next_leaf++;
            else
                pick[j] = next_inner++;
        }
        weight[k] = weight[pick[0]] + weight[pick[1]];
        parent[pick[0]] = parent[pick[1]] = (uint32_t)k;
        bit[pick[1]] = 1;
    }
    /* Depths from the root (the last node) down: parents come later. */
    for (size_t k = nodes - 1; k-- > 0;)
        depth[k] = depth[parent[k]] + 1;

    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t w = leaf[i].index;
        h->offset[w] = depth[i]; /* lengths for now */
        total += depth[i];
        if (depth[i] > h->max_len)
            h->max_len = depth[i];
    }
    size_t at = 0;
    for (size_t w = 0; w < n; w++) {
        size_t len = h->offset[w];
        h->offset[w] = (uint32_t)at;
        at += len;
    }
    h->offset[n] = (uint32_t)at;
    h->points = loom_malloc(total ? total : 1, sizeof *h->points);
    h->codes = loom_malloc(total ? total : 1, 1);
    if (!h->points || !h->codes)
        goto done;
    /* Walk each leaf up to the root, filling its path from the end. Inner
     * node k is output row (2n-2) - k, so the root is row 0. */
    for (size_t i = 0; i < n; i++) {
        uint32_t w = leaf[i].index;
        size_t pos = h->offset[w + 1];
        for (size_t k = i; k != nodes - 1; k = parent[k]) {
            pos--;
            h->codes[pos] = bit[k];
            h->points[pos] = (uint32_t)(nodes - 1 - parent[k]);
        }
    }
    h->n = n;
    rc = 0;
done:
    free(leaf), free(weight), free(parent), free(bit), free(depth);
    if (rc < 0)
        loom_huffman_free(h);
    return rc;
}

void loom_huffman_free(loom_huffman *h)
{
    free(h->offset), free(h->points), free(h->codes);
    memset(h, 0, sizeof *h);
}
