/* loom: the one string hash, and the short-key comparison that goes with
 * it, for the library's open-addressing tables (vocabulary, vector words,
 * evaluation forms, the tokenizer's cache). Inline: words are short, so the
 * cost of a call matters more than throughput on long keys. Not for files:
 * the values may change between versions. */
#ifndef LOOM_BASE_HASH_H
#define LOOM_BASE_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Loads of 8, 4 and 2 bytes from any address. */
static inline uint64_t loom_load64(const char *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

static inline uint32_t loom_load32(const char *p)
{
    uint32_t w;
    memcpy(&w, p, 4);
    return w;
}

static inline uint16_t loom_load16(const char *p)
{
    uint16_t w;
    memcpy(&w, p, 2);
    return w;
}

/* The murmur3 finaliser: every input bit reaches every output bit. */
static inline uint64_t loom_hash_mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

/* The last 1..8 bytes of a key as one word, from two overlapping loads of
 * fixed size rather than a byte loop (given n, the mapping is one-to-one). */
static inline uint64_t loom_hash_tail(const char *s, size_t n)
{
    if (n >= 4)
        return loom_load32(s) | (uint64_t)loom_load32(s + n - 4) << 32;
    if (n >= 2)
        return loom_load16(s) | (uint64_t)loom_load16(s + n - 2) << 16;
    return (unsigned char)s[0];
}

/* A 64-bit hash of n bytes: 8 bytes at a time, a multiply-xor mix per word
 * and the murmur3 finaliser, so that any bits of it (low bits for a
 * power-of-two table) are usable. */
static inline uint64_t loom_hash_bytes(const void *key, size_t n)
{
    const char *s = key;
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ (n * 0x2545f4914f6cdd1dULL);
    while (n > 8) {
        h = (h ^ loom_load64(s)) * 0x87c37b91114253d5ULL;
        h ^= h >> 29;
        s += 8;
        n -= 8;
    }
    if (n == 8)
        h = (h ^ loom_load64(s)) * 0x87c37b91114253d5ULL;
    else if (n)
        h = (h ^ loom_hash_tail(s, n)) * 0x87c37b91114253d5ULL;
    return loom_hash_mix(h);
}

static inline uint64_t loom_hash_str(const char *s)
{
    return loom_hash_bytes(s, strlen(s));
}

/* a[0..n) == b[0..n). Most keys are short: two overlapping loads per side
 * beat a call to memcmp. */
static inline int loom_same_bytes(const char *a, const char *b, size_t n)
{
    if (n > 16)
        return memcmp(a, b, n) == 0;
    if (n >= 8)
        return loom_load64(a) == loom_load64(b) && loom_load64(a + n - 8) == loom_load64(b + n - 8);
    if (n >= 4)
        return loom_load32(a) == loom_load32(b) && loom_load32(a + n - 4) == loom_load32(b + n - 4);
    if (n >= 2)
        return loom_load16(a) == loom_load16(b) && loom_load16(a + n - 2) == loom_load16(b + n - 2);
    return n == 0 || a[0] == b[0];
}

#endif
