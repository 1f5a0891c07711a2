/* loom: the vocabulary. An open-addressing table (linear probing, power of
 * two, load under 1/2, the 32-bit hash stored in the slot so that a probe
 * compares a hash, then a length, before any bytes) over an array of
 * entries (count, offset into one string pool, length, hash). Knows tokens
 * as byte strings, nothing of how they were made or what vectors they will
 * get. */
#include "config.h"
#include "text/vocab.h"
#include "base/alloc.h"
#include "base/error.h"
#include "base/hash.h"
#include "base/writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const specials[4] = {"<pad>", "<unk>", "<s>", "</s>"};

typedef struct {
    uint32_t hash;
    int32_t id; /* -1: empty */
} slot;

/* One word: what a probe that matched the slot's hash needs, and the
 * count it then updates, in one cache line. */
typedef struct {
    uint64_t count;
    size_t off; /* into pool */
    uint32_t len;
    uint32_t hash;
} entry;

struct loom_vocab {
    slot *slots;
    size_t mask; /* table size - 1 */
    char *pool;  /* words, each NUL-terminated */
    size_t pool_len, pool_cap;
    entry *e;
    size_t n, cap;
    uint64_t total;
    int has_specials;
    size_t prune_at;
    unsigned prunings;
    uint64_t pruned, min_reduce;
};

int loom_vocab_new(loom_vocab **out)
{
    *out = NULL;
    loom_vocab *v = loom_calloc(1, sizeof *v);
    if (!v)
        return LOOM_ENOMEM;
    v->mask = 1024 - 1;
    v->slots = loom_malloc(v->mask + 1, sizeof *v->slots);
    if (!v->slots) {
        free(v);
        return LOOM_ENOMEM;
    }
    memset(v->slots, 0xff, (v->mask + 1) * sizeof *v->slots);
    v->prune_at = LOOM_VOCAB_PRUNE_AT;
    v->min_reduce = 1;
    *out = v;
    return 0;
}

void loom_vocab_free(loom_vocab *v)
{
    if (!v)
        return;
    free(v->slots);
    free(v->pool);
    free(v->e);
    free(v);
}

static inline int32_t lookup(const loom_vocab *v, const char *word, size_t len, uint32_t h)
{
    size_t i = h & v->mask;
    for (;;) {
        slot s = v->slots[i];
        if (s.id < 0)
            return -1;
        if (s.hash == h) {
            const entry *e = &v->e[s.id];
            if (e->len == len && loom_same_bytes(v->pool + e->off, word, len))
                return s.id;
        }
        i = (i + 1) & v->mask;
    }
}

int32_t loom_vocab_find(const loom_vocab *v, const char *word, size_t len)
{
    return lookup(v, word, len, (uint32_t)loom_hash_bytes(word, len));
}

/* Rebuilds the slots for the first n entries in a table of `size` slots. */
static int rehash(loom_vocab *v, size_t size)
{
    slot *s = loom_malloc(size, sizeof *s);
    if (!s)
        return LOOM_ENOMEM;
    memset(s, 0xff, size * sizeof *s);
    free(v->slots);
    v->slots = s;
    v->mask = size - 1;
    for (size_t id = 0; id < v->n; id++) {
        size_t i = v->e[id].hash & v->mask;
        while (s[i].id >= 0)
            i = (i + 1) & v->mask;
        s[i].hash = v->e[id].hash;
        s[i].id = (int32_t)id;
    }
    return 0;
}

/* Appends a new entry (the caller knows the word is absent). */
static int insert(loom_vocab *v, const char *word, size_t len, uint32_t h, uint64_t count)
{
    int rc;
    if (len > UINT32_MAX || v->n >= INT32_MAX)
        return loom_error(LOOM_EINVAL, "vocabulary: word or table too large");
    if ((rc = loom_grow((void **)&v->e, &v->cap, v->n + 1, sizeof *v->e)) < 0 ||
        (rc = loom_grow((void **)&v->pool, &v->pool_cap, v->pool_len + len + 1, 1)) < 0)
        return rc;
    size_t id = v->n++;
    v->e[id] = (entry){count, v->pool_len, (uint32_t)len, h};
    memcpy(v->pool + v->pool_len, word, len);
    v->pool[v->pool_len + len] = '\0';
    v->pool_len += len + 1;
    /* Keep the load factor under 1/2 so probes stay short. */
    if (v->n * 2 > v->mask + 1)
        return rehash(v, (v->mask + 1) * 2);
    size_t i = h & v->mask;
    while (v->slots[i].id >= 0)
        i = (i + 1) & v->mask;
    v->slots[i].hash = h;
    v->slots[i].id = (int32_t)id;
    return 0;
}

/* 0..3 for the special tokens (when asked for), 4 for every other word. */
static int special_rank(const loom_vocab *v, size_t id)
{
    if (v->has_specials)
        for (int k = 0; k < 4; k++)
            if (strcmp(v->pool + v->e[id].off, specials[k]) == 0)
                return k;
    return 4;
}

/* Keeps the entries for which keep[id] is set, in their order, compacting
 * the pool, and rebuilds the table. */
static int compact(loom_vocab *v, const unsigned char *keep)
{
    size_t n = 0, pool_len = 0;
    for (size_t id = 0; id < v->n; id++) {
        if (!keep[id])
            continue;
        entry e = v->e[id];
        memmove(v->pool + pool_len, v->pool + e.off, e.len + 1);
        e.off = pool_len;
        pool_len += e.len + 1;
        v->e[n++] = e;
    }
    v->n = n;
    v->pool_len = pool_len;
    size_t size = 1024;
    while (size < n * 2 + 2)
        size *= 2;
    return rehash(v, size);
}

/* word2vec's ReduceVocab: drop the words seen at most min_reduce times. */
static int prune(loom_vocab *v)
{
    unsigned char *keep = loom_malloc(v->n ? v->n : 1, 1);
    if (!keep)
        return LOOM_ENOMEM;
    uint64_t dropped = 0;
    for (size_t id = 0; id < v->n; id++) {
        keep[id] = v->e[id].count > v->min_reduce || special_rank(v, id) < 4;
        dropped += !keep[id];
    }
    int rc = compact(v, keep);
    free(keep);
    v->prunings++;
    v->pruned += dropped;
    v->min_reduce++;
    return rc;
}

int loom_vocab_add_id(loom_vocab *v, const char *word, size_t len, uint64_t count, int32_t *id)
{
    uint32_t h = (uint32_t)loom_hash_bytes(word, len);
    *id = lookup(v, word, len, h);
    if (*id >= 0) {
        v->e[*id].count += count;
        return 0;
    }
    *id = (int32_t)v->n;
    int rc = insert(v, word, len, h, count);
    if (rc == 0 && v->prune_at && v->n > v->prune_at) {
        rc = prune(v);
        *id = -1;
    }
    return rc;
}

int loom_vocab_add(loom_vocab *v, const char *word, size_t len, uint64_t count)
{
    int32_t id;
    return loom_vocab_add_id(v, word, len, count, &id);
}

static int count_token(void *ctx, const char *tok, size_t len)
{
    return loom_vocab_add(ctx, tok, len, 1);
}

int loom_vocab_count_stream(loom_vocab *v, loom_tokenizer *t, loom_reader *r)
{
    return loom_tokenize_stream(t, r, count_token, NULL, v);
}

int loom_vocab_add_specials(loom_vocab *v)
{
    v->has_specials = 1;
    for (int k = 0; k < 4; k++) {
        int rc = loom_vocab_add(v, specials[k], strlen(specials[k]), 0);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Sort order: specials first in their fixed order, then count descending,
 * then bytes ascending (a shorter word before its extensions). */
typedef struct {
    const loom_vocab *v;
    size_t id;
    int special; /* 0..3, or 4 for ordinary words */
} sort_item;

static int cmp_items(const void *pa, const void *pb)
{
    const sort_item *a = pa, *b = pb;
    if (a->special != b->special)
        return a->special < b->special ? -1 : 1;
    const loom_vocab *v = a->v;
    const entry *ea = &v->e[a->id], *eb = &v->e[b->id];
    if (ea->count != eb->count)
        return ea->count > eb->count ? -1 : 1;
    size_t la = ea->len, lb = eb->len;
    int c = memcmp(v->pool + ea->off, v->pool + eb->off, la < lb ? la : lb);
    if (c)
        return c;
    return la < lb ? -1 : la > lb;
}

int loom_vocab_finalize(loom_vocab *v, uint64_t min_count, size_t max_size)
{
    sort_item *items = loom_malloc(v->n ? v->n : 1, sizeof *items);
    if (!items)
        return LOOM_ENOMEM;
    size_t m = 0;
    for (size_t id = 0; id < v->n; id++) {
        int sp = special_rank(v, id);
        if (sp < 4 || v->e[id].count >= min_count)
            items[m++] = (sort_item){v, id, sp};
    }
    qsort(items, m, sizeof *items, cmp_items);
    if (max_size && m > max_size)
        m = max_size;
    /* Rebuild the entries and the pool in the sorted order. */
    char *pool = loom_malloc(v->pool_len ? v->pool_len : 1, 1);
    entry *e = loom_malloc(m ? m : 1, sizeof *e);
    if (!pool || !e) {
        free(items), free(pool), free(e);
        return LOOM_ENOMEM;
    }
    size_t pool_len = 0;
    uint64_t total = 0;
    for (size_t i = 0; i < m; i++) {
        e[i] = v->e[items[i].id];
        memcpy(pool + pool_len, v->pool + e[i].off, e[i].len + 1);
        e[i].off = pool_len;
        pool_len += e[i].len + 1;
        total += e[i].count;
    }
    free(items);
    free(v->pool);
    free(v->e);
    v->pool = pool;
    v->e = e;
    v->pool_cap = v->pool_len ? v->pool_len : 1;
    v->pool_len = pool_len;
    v->n = v->cap = m;
    v->total = total;
    size_t size = 1024;
    while (size < m * 2 + 2)
        size *= 2;
    return rehash(v, size);
}

size_t loom_vocab_size(const loom_vocab *v)
{
    return v->n;
}

const char *loom_vocab_word(const loom_vocab *v, int32_t id)
{
    if (id < 0 || (size_t)id >= v->n)
        return NULL;
    return v->pool + v->e[id].off;
}

uint64_t loom_vocab_count(const loom_vocab *v, int32_t id)
{
    if (id < 0 || (size_t)id >= v->n)
        return 0;
    return v->e[id].count;
}

uint64_t loom_vocab_total(const loom_vocab *v)
{
    return v->total;
}

void loom_vocab_set_prune_limit(loom_vocab *v, size_t max_words)
{
    v->prune_at = max_words;
}

void loom_vocab_prune_stats(const loom_vocab *v, unsigned *prunings, uint64_t *dropped,
                            uint64_t *threshold)
{
    if (prunings)
        *prunings = v->prunings;
    if (dropped)
        *dropped = v->pruned;
    if (threshold)
        *threshold = v->prunings ? v->min_reduce - 1 : 0;
}

int loom_vocab_save(const loom_vocab *v, const char *path)
{
    loom_writer *w;
    int rc = loom_writer_open(&w, path, LOOM_WRITE_AUTO);
    if (rc < 0)
        return rc;
    char num[32];
    for (size_t id = 0; id < v->n && rc >= 0; id++) {
        rc = loom_writer_write(w, v->pool + v->e[id].off, v->e[id].len);
        if (rc >= 0) {
            /* " COUNT\n", digits written from the end */
            char *p = num + sizeof num;
            uint64_t c = v->e[id].count;
            *--p = '\n';
            do
                *--p = (char)('0' + c % 10);
            while (c /= 10);
            *--p = ' ';
            rc = loom_writer_write(w, p, (size_t)(num + sizeof num - p));
        }
    }
    return loom_writer_finish(w, rc);
}

/* One "word count" line: the word is everything before the last space. */
static int parse_line(loom_vocab *v, const char *path, long long lineno, const char *s, size_t n)
{
    const char *sp = NULL;
    for (size_t i = n; i > 0; i--)
        if (s[i - 1] == ' ' || s[i - 1] == '\t') {
            sp = s + i - 1;
            break;
        }
    if (!sp || sp == s)
        return loom_error(LOOM_EFORMAT, "%s:%lld: expected 'word count'", path, lineno);
    uint64_t count = 0;
    const char *p = sp + 1, *end = s + n;
    if (p == end)
        return loom_error(LOOM_EFORMAT, "%s:%lld: missing count", path, lineno);
    for (; p < end; p++) {
        if (*p < '0' || *p > '9' || count > (UINT64_MAX - 9) / 10)
            return loom_error(LOOM_EFORMAT, "%s:%lld: bad count '%.*s'", path, lineno,
                              (int)(end - sp - 1), sp + 1);
        count = count * 10 + (uint64_t)(*p - '0');
    }
    size_t len = (size_t)(sp - s);
    uint32_t h = (uint32_t)loom_hash_bytes(s, len);
    if (lookup(v, s, len, h) >= 0)
        return loom_error(LOOM_EFORMAT, "%s:%lld: duplicate word '%.*s'", path, lineno, (int)len,
                          s);
    int rc = insert(v, s, len, h, count);
    if (rc == 0)
        v->total += count;
    return rc;
}

int loom_vocab_load(loom_vocab **out, const char *path)
{
    *out = NULL;
    loom_reader *r;
    int rc = loom_reader_open(&r, path);
    if (rc < 0)
        return rc;
    loom_vocab *v;
    if ((rc = loom_vocab_new(&v)) < 0) {
        loom_reader_close(r);
        return rc;
    }
    char *buf = NULL;
    size_t cap = 0, len;
    while ((rc = loom_reader_getline(r, &buf, &cap, &len, 1u << 20)) > 0) {
        if (len == 0)
            continue;
        if (memchr(buf, '\0', len)) { /* words are C strings everywhere after this */
            rc = loom_error(LOOM_EFORMAT, "%s:%lld: NUL byte in the line", loom_reader_path(r),
                            loom_reader_line_number(r));
            break;
        }
        rc = parse_line(v, loom_reader_path(r), loom_reader_line_number(r), buf, len);
        if (rc < 0)
            break;
    }
    free(buf);
    loom_reader_close(r);
    if (rc < 0) {
        loom_vocab_free(v);
        return rc;
    }
    for (size_t id = 0; id < v->n && id < 4; id++)
        if (strcmp(v->pool + v->e[id].off, specials[id]) == 0)
            v->has_specials = 1;
    *out = v;
    return 0;
}

int loom_vocab_same(const loom_vocab *a, const loom_vocab *b)
{
    size_t n = loom_vocab_size(a);
    if (a == b)
        return 1;
    if (n != loom_vocab_size(b))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(loom_vocab_word(a, (int32_t)i), loom_vocab_word(b, (int32_t)i)) != 0)
            return 0;
    return 1;
}
