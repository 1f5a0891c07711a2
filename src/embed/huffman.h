/* loom: the Huffman tree of hierarchical softmax. Each word's path from the
 * root: the inner nodes it passes (0 .. n-2, rows of the output matrix) and
 * the branch taken at each (0 or 1), as word2vec builds them: frequent
 * words get short codes. Knows counts, not words or vectors. */
#ifndef LOOM_EMBED_HUFFMAN_H
#define LOOM_EMBED_HUFFMAN_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t *offset; /* word w's path is points/codes [offset[w], offset[w+1]) */
    uint32_t *points; /* inner node index at each step, root first */
    uint8_t *codes;   /* branch bit at each step */
    size_t n;         /* words */
    size_t max_len;   /* longest path */
} loom_huffman;

/* Builds the tree for n >= 1 words with the given counts (any order; ties
 * broken by index, so the tree is the same on every run). A single word
 * gets an empty path. */
int loom_huffman_build(loom_huffman *h, const uint64_t *counts, size_t n);
void loom_huffman_free(loom_huffman *h);

#endif
