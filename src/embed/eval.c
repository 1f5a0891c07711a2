/* loom: analogy and word-pair similarity evaluation, numbered exactly as
 * gensim's KeyedVectors.evaluate_word_analogies and evaluate_word_pairs.
 * Reads the question files, maps words to rows and scores them; the
 * search itself is embed/query.c's (all questions in one batched call). */
#include "config.h"
#include "embed/eval.h"

#include "base/alloc.h"
#include "base/error.h"
#include "base/hash.h"
#include "base/reader.h"
#include "core/blas.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

enum { MAX_LINE = 1 << 20, CANDIDATES = 5 /* gensim's topn in evaluate_word_analogies */ };

/* ---- uppercasing like Python's str.upper (simple mappings, plus ß -> SS) ---- */

static char *upper_dup(const char *s)
{
    size_t len = strlen(s);
    char *out = loom_malloc(2 * len + 8, 1); /* SS from ß; simple mappings never grow more */
    if (!out)
        return NULL;
    size_t o = 0, cap = 2 * len + 8;
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
    while (*p) {
        if (*p < 0x80) {
            out[o++] = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
            p++;
            continue;
        }
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate(p, -1, &cp);
        if (n <= 0) { /* invalid UTF-8: keep the byte */
            out[o++] = (char)*p++;
            continue;
        }
        p += n;
        if (loom_grow((void **)&out, &cap, o + 8, 1) < 0) {
            free(out);
            return NULL;
        }
        if (cp == 0xDF) {
            out[o++] = 'S';
            out[o++] = 'S';
            continue;
        }
        o += (size_t)utf8proc_encode_char(utf8proc_toupper(cp), (utf8proc_uint8_t *)out + o);
    }
    out[o] = '\0';
    return out;
}

/* ---- the known words: matching form -> first row with it ---- */

typedef struct {
    char **forms; /* forms[row]: the row's matching form (uppercased or not) */
    long *canon;  /* canon[row]: the first row with the same form */
    size_t n;     /* rows known: min(restrict, count) */
    long *slots;  /* hash of forms: row + 1, 0 when empty */
    size_t mask;
    int case_sensitive;
} known_words;

static size_t known_slot(const known_words *kw, const char *form)
{
    size_t h = loom_hash_str(form) & kw->mask;
    while (kw->slots[h] && strcmp(kw->forms[kw->slots[h] - 1], form) != 0)
        h = (h + 1) & kw->mask;
    return h;
}

static void known_free(known_words *kw)
{
    for (size_t i = 0; kw->forms && i < kw->n; i++)
        if (!kw->case_sensitive)
            free(kw->forms[i]);
    free(kw->forms);
    free(kw->canon);
    free(kw->slots);
}

static int known_init(known_words *kw, const loom_index *ix, const loom_eval_opts *opts)
{
    const loom_vectors *v = loom_index_vectors(ix);
    memset(kw, 0, sizeof *kw);
    kw->case_sensitive = opts->case_sensitive;
    kw->n = loom_vectors_count(v);
    if (opts->restrict_vocab && opts->restrict_vocab < kw->n)
        kw->n = opts->restrict_vocab;
    size_t size = 16;
    while (size < 2 * kw->n)
        size *= 2;
    kw->mask = size - 1;
    kw->forms = loom_calloc(kw->n ? kw->n : 1, sizeof *kw->forms);
    kw->canon = loom_malloc(kw->n ? kw->n : 1, sizeof *kw->canon);
    kw->slots = loom_calloc(size, sizeof *kw->slots);
    if (!kw->forms || !kw->canon || !kw->slots)
        return LOOM_ENOMEM;
    for (size_t i = 0; i < kw->n; i++) {
        const char *w = loom_vectors_word(v, i);
        kw->forms[i] = kw->case_sensitive ? (char *)w : upper_dup(w);
        if (!kw->forms[i])
            return LOOM_ENOMEM;
        size_t h = known_slot(kw, kw->forms[i]);
        if (!kw->slots[h])
            kw->slots[h] = (long)i + 1; /* the first row with a form wins */
        kw->canon[i] = kw->slots[h] - 1;
    }
    return 0;
}

/* The row a question word stands for, or -1. */
static long known_find(const known_words *kw, const char *word)
{
    char *form = kw->case_sensitive ? (char *)word : upper_dup(word);
    if (!form)
        return -1;
    long row = kw->slots[known_slot(kw, form)] - 1;
    if (!kw->case_sensitive)
        free(form);
    return row;
}

/* ---- analogies ---- */

static size_t split_ws(char *line, char **w, size_t max)
{
    size_t n = 0;
    char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\v' || *p == '\f')
            p++;
        if (!*p)
            return n;
        if (n < max)
            w[n] = p;
        n++;
        while (*p && !(*p == ' ' || *p == '\t' || *p == '\r' || *p == '\v' || *p == '\f'))
            p++;
        if (*p)
            *p++ = '\0';
    }
}

typedef struct {
    long abc[3];
    long expected;
    size_t section;
} question;

static int add_section(loom_analogy_eval *e, const char *name, size_t len)
{
    int rc =
        loom_grow((void **)&e->sections, &e->sections_cap, e->nsections + 1, sizeof *e->sections);
    if (rc < 0)
        return rc;
    loom_analogy_section *s = &e->sections[e->nsections];
    memset(s, 0, sizeof *s);
    s->name = loom_malloc(len + 1, 1);
    if (!s->name)
        return LOOM_ENOMEM;
    memcpy(s->name, name, len);
    s->name[len] = '\0';
    e->nsections++;
    return 0;
}

/* Reads the questions: sections into e, answerable ones into *qs. */
static int read_questions(loom_analogy_eval *e, const known_words *kw, const char *path,
                          question **qs, size_t *nq)
{
    loom_reader *r;
    int rc = loom_reader_open(&r, path);
    if (rc < 0)
        return rc;
    char *line = NULL;
    size_t cap = 0, len, qcap = 0;
    while ((rc = loom_reader_getline(r, &line, &cap, &len, MAX_LINE)) > 0) {
        if (len >= 2 && line[0] == ':' && line[1] == ' ') {
            /* gensim: line.lstrip(': ').strip() */
            const char *p = line, *end = line + len;
            while (p < end && (*p == ':' || *p == ' '))
                p++;
            while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
                end--;
            if ((rc = add_section(e, p, (size_t)(end - p))) < 0)
                break;
            continue;
        }
        char *w[4];
        size_t n = split_ws(line, w, 4);
        if (n != 4) {
            e->skipped_lines += n != 0;
            continue;
        }
        if (e->nsections == 0) {
            rc = loom_error(LOOM_EFORMAT, "%s:%lld: a question before the first ': section' line",
                            path, loom_reader_line_number(r));
            break;
        }
        loom_analogy_section *s = &e->sections[e->nsections - 1];
        s->total++;
        long rows[4];
        int known = 1;
        for (int i = 0; i < 4; i++)
            known &= (rows[i] = known_find(kw, w[i])) >= 0;
        if (!known)
            continue;
        s->seen++;
        if ((rc = loom_grow((void **)qs, &qcap, *nq + 1, sizeof **qs)) < 0)
            break;
        (*qs)[(*nq)++] = (question){{rows[0], rows[1], rows[2]}, rows[3], e->nsections - 1};
    }
    free(line);
    loom_reader_close(r);
    return rc < 0 ? rc : 0;
}

/* gensim's rule: walk the top candidates (inputs already excluded); the
 * first whose form is not one of the question's words is the answer. */
static int answered_right(const known_words *kw, const question *q, const loom_hit *hits)
{
    long predicted = -1;
    for (size_t j = 0; j < CANDIDATES && hits[j].row >= 0; j++) {
        predicted = kw->canon[hits[j].row];
        if (predicted != q->abc[0] && predicted != q->abc[1] && predicted != q->abc[2])
            break;
    }
    return predicted >= 0 && predicted == q->expected;
}

static void add_counts(loom_analogy_section *to, const loom_analogy_section *from)
{
    to->correct += from->correct;
    to->seen += from->seen;
    to->total += from->total;
}

static int set_name(loom_analogy_section *s, const char *name)
{
    s->name = loom_strdup(name);
    return s->name ? 0 : LOOM_ENOMEM;
}

int loom_eval_analogies(loom_analogy_eval **out, const loom_index *ix, const char *path,
                        const loom_eval_opts *opts)
{
    *out = NULL;
    loom_analogy_eval *e = loom_calloc(1, sizeof *e);
    if (!e)
        return LOOM_ENOMEM;
    known_words kw;
    question *qs = NULL;
    size_t nq = 0;
    long *abc = NULL;
    loom_hit *hits = NULL;
    int rc = known_init(&kw, ix, opts);
    if (rc == 0)
        rc = read_questions(e, &kw, path, &qs, &nq);
    if (rc == 0 && nq > 0) {
        abc = loom_malloc(3 * nq, sizeof *abc);
        hits = loom_malloc(CANDIDATES * nq, sizeof *hits);
        rc = abc && hits ? 0 : LOOM_ENOMEM;
        for (size_t i = 0; rc == 0 && i < nq; i++)
            memcpy(abc + 3 * i, qs[i].abc, sizeof qs[i].abc);
        if (rc == 0)
            rc = loom_index_analogy(ix, nq, abc, opts->method, CANDIDATES, kw.n, hits);
        for (size_t i = 0; rc == 0 && i < nq; i++)
            e->sections[qs[i].section].correct +=
                answered_right(&kw, &qs[i], hits + i * CANDIDATES);
    }
    if (rc == 0)
        rc = set_name(&e->semantic, "semantic") || set_name(&e->syntactic, "syntactic") ||
                     set_name(&e->total, "total")
                 ? LOOM_ENOMEM
                 : 0;
    for (size_t i = 0; rc == 0 && i < e->nsections; i++) {
        const loom_analogy_section *s = &e->sections[i];
        add_counts(strncmp(s->name, "gram", 4) == 0 ? &e->syntactic : &e->semantic, s);
        add_counts(&e->total, s);
    }
    free(abc);
    free(hits);
    free(qs);
    known_free(&kw);
    if (rc < 0) {
        loom_analogy_eval_free(e);
        return rc;
    }
    *out = e;
    return 0;
}

void loom_analogy_eval_free(loom_analogy_eval *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->nsections; i++)
        free(e->sections[i].name);
    free(e->sections);
    free(e->semantic.name);
    free(e->syntactic.name);
    free(e->total.name);
    free(e);
}

/* ---- similarity ---- */

static void trim(char **s)
{
    char *p = *s, *end = p + strlen(p);
    while (*p == ' ' || *p == '\t' || *p == '\r')
        p++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
        *--end = '\0';
    *s = p;
}

/* "w1<TAB>w2<TAB>score" (fields trimmed) or "w1 w2 score"; 1 when well formed. */
static int parse_pair(char *line, char **a, char **b, double *score)
{
    char *f[3];
    size_t n = 0;
    if (strchr(line, '\t')) {
        char *p = line;
        for (;;) {
            char *tab = strchr(p, '\t');
            if (n < 3)
                f[n] = p;
            n++;
            if (!tab)
                break;
            *tab = '\0';
            p = tab + 1;
        }
        for (size_t i = 0; i < 3 && i < n; i++)
            trim(&f[i]);
    } else {
        n = split_ws(line, f, 3);
    }
    if (n != 3 || !*f[0] || !*f[1])
        return 0;
    char *end;
    *score = strtod(f[2], &end);
    if (end == f[2] || *end != '\0' || !isfinite(*score))
        return 0;
    *a = f[0];
    *b = f[1];
    return 1;
}

int loom_eval_similarity(loom_similarity_eval *out, const loom_index *ix, const char *path,
                         const loom_eval_opts *opts)
{
    memset(out, 0, sizeof *out);
    out->spearman = out->pearson = NAN;
    known_words kw;
    int rc = known_init(&kw, ix, opts);
    loom_reader *r = NULL;
    if (rc == 0)
        rc = loom_reader_open(&r, path);
    char *line = NULL;
    size_t cap = 0, len, vcap = 0;
    double *gold = NULL, *model = NULL;
    size_t dim = loom_vectors_dim(loom_index_vectors(ix));
    while (rc == 0 && (rc = loom_reader_getline(r, &line, &cap, &len, MAX_LINE)) > 0) {
        rc = 0;
        char *a, *b;
        double score;
        if (line[0] == '#')
            continue;
        if (!parse_pair(line, &a, &b, &score)) {
            out->skipped_lines += strspn(line, " \t\r") != len;
            continue;
        }
        out->pairs++;
        long ra = known_find(&kw, a), rb = known_find(&kw, b);
        if (ra < 0 || rb < 0)
            continue;
        if (out->found == vcap) {
            /* gold and model share one capacity */
            vcap = loom_grow_size(vcap, out->found + 1, sizeof *gold);
            double *g = vcap ? loom_realloc(gold, vcap, sizeof *g) : NULL;
            if (g)
                gold = g;
            double *m = g ? loom_realloc(model, vcap, sizeof *m) : NULL;
            if (!m) {
                rc = LOOM_ENOMEM;
                break;
            }
            model = m;
        }
        gold[out->found] = score;
        model[out->found] =
            loom_dot(dim, loom_index_unit(ix, (size_t)ra), loom_index_unit(ix, (size_t)rb));
        out->found++;
    }
    if (rc == 0 && out->found > 0) {
        out->spearman = loom_spearman(gold, model, out->found);
        out->pearson = loom_pearson(gold, model, out->found);
    }
    free(line);
    free(gold);
    free(model);
    loom_reader_close(r);
    known_free(&kw);
    return rc < 0 ? rc : 0;
}

/* ---- rank correlation ---- */

double loom_pearson(const double *x, const double *y, size_t n)
{
    if (n < 2)
        return NAN;
    double mx = 0, my = 0;
    for (size_t i = 0; i < n; i++) {
        mx += x[i];
        my += y[i];
    }
    mx /= (double)n;
    my /= (double)n;
    double sxy = 0, sxx = 0, syy = 0;
    for (size_t i = 0; i < n; i++) {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) * (x[i] - mx);
        syy += (y[i] - my) * (y[i] - my);
    }
    return sxx > 0 && syy > 0 ? sxy / sqrt(sxx * syy) : NAN;
}

typedef struct {
    double value;
    size_t index;
} ranked;

static int by_value(const void *a, const void *b)
{
    double x = ((const ranked *)a)->value, y = ((const ranked *)b)->value;
    return x < y ? -1 : x > y;
}

/* Ranks 1..n, tied values sharing their average rank. */
static int average_ranks(const double *x, size_t n, double *rank)
{
    ranked *r = loom_malloc(n, sizeof *r);
    if (!r)
        return LOOM_ENOMEM;
    for (size_t i = 0; i < n; i++)
        r[i] = (ranked){x[i], i};
    qsort(r, n, sizeof *r, by_value);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && r[j + 1].value == r[i].value)
            j++;
        double avg = (double)(i + j) / 2 + 1;
        for (size_t t = i; t <= j; t++)
            rank[r[t].index] = avg;
        i = j + 1;
    }
    free(r);
    return 0;
}

double loom_spearman(const double *x, const double *y, size_t n)
{
    if (n < 2)
        return NAN;
    double *rx = loom_malloc(2 * n, sizeof *rx);
    if (!rx)
        return NAN;
    double *ry = rx + n, rho = NAN;
    if (average_ranks(x, n, rx) == 0 && average_ranks(y, n, ry) == 0)
        rho = loom_pearson(rx, ry, n);
    free(rx);
    return rho;
}
