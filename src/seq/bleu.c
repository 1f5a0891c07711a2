/* loom: corpus BLEU-4 and chrF as sacreBLEU 2.x computes them by default.
 * Each pair adds integer statistics (n-gram matches and totals, lengths);
 * the scores come from the sums, so the result does not depend on the order
 * of the pairs. N-grams are fixed-size integer keys compared by sorting,
 * which keeps the module free of hash tables and of any vocabulary.
 * Knows nothing of models: the trainer and `loom bleu` both feed it. */
#include "seq/bleu.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/error.h"

/* A growable byte or array buffer. */
typedef struct {
    char *p;
    size_t n, cap;
} buf;

typedef struct {
    uint64_t a, b;
} ngram_key;

typedef struct {
    const char *s;
    size_t len;
    uint32_t id;
} token;

struct loom_bleu {
    loom_bleu_options opt;
    loom_bleu_score sum; /* integer statistics only; scores in _get */
    buf tok[2];          /* 13a output of hypothesis and reference */
    buf scratch;         /* ping-pong buffer of the 13a passes */
    buf tokens;          /* token[] of hypothesis then reference */
    buf ids;             /* uint32 ids of hypothesis then reference */
    buf keys[2];         /* ngram_key[] of hypothesis and reference */
    buf cps[2];          /* code points of hypothesis and reference */
};

static int buf_reserve(buf *b, size_t need)
{
    return loom_grow((void **)&b->p, &b->cap, need, 1);
}

static int buf_put(buf *b, const char *s, size_t n)
{
    int rc = buf_reserve(b, b->n + n + 1);
    if (rc)
        return rc;
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
    return 0;
}

static int buf_putc(buf *b, char c)
{
    return buf_put(b, &c, 1);
}

/* ---- UTF-8 and Python's idea of whitespace ---- */

/* Decodes the code point at s[i]; returns its byte length, or 0 when the
 * bytes there are not valid UTF-8 (overlong, surrogate, beyond U+10FFFF,
 * truncated). */
static int utf8_next(const unsigned char *s, size_t n, size_t i, uint32_t *cp)
{
    unsigned c = s[i];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    int len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
    if (!len || c > 0xF4 || i + (size_t)len > n)
        return 0;
    uint32_t v = c & (0x7F >> len);
    for (int k = 1; k < len; k++) {
        if ((s[i + k] & 0xC0) != 0x80)
            return 0;
        v = v << 6 | (s[i + k] & 0x3F);
    }
    static const uint32_t min_of_len[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min_of_len[len] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return len;
}

/* The characters Python's str.split() splits on (sacreBLEU uses it both
 * for 13a's final whitespace collapse and for chrF's whitespace removal). */
static int py_space(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
           c == 0x202F || c == 0x205F || c == 0x3000;
}

static int check_utf8(const char *s, size_t n, const char *what)
{
    uint32_t cp;
    for (size_t i = 0; i < n;) {
        int k = utf8_next((const unsigned char *)s, n, i, &cp);
        if (!k)
            return loom_error(LOOM_EFORMAT, "%s: invalid UTF-8 at byte %zu", what, i);
        i += (size_t)k;
    }
    return 0;
}

/* Length of s without trailing whitespace (Python's rstrip()). Valid UTF-8. */
static size_t rstrip_len(const char *s, size_t n)
{
    size_t end = 0;
    uint32_t cp;
    for (size_t i = 0; i < n;) {
        int k = utf8_next((const unsigned char *)s, n, i, &cp);
        i += (size_t)k;
        if (!py_space(cp))
            end = i;
    }
    return end;
}

/* ---- 13a tokenisation: sacreBLEU's Tokenizer13a + TokenizerRegexp ---- */

/* One str.replace(from, to) over src into dst. */
static int replace_all(buf *dst, const buf *src, const char *from, const char *to)
{
    size_t fl = strlen(from), tl = strlen(to);
    dst->n = 0;
    int rc = buf_reserve(dst, src->n + 1);
    for (size_t i = 0; !rc && i < src->n;) {
        if (src->n - i >= fl && memcmp(src->p + i, from, fl) == 0) {
            rc = buf_put(dst, to, tl);
            i += fl;
        } else {
            rc = buf_putc(dst, src->p[i++]);
        }
    }
    if (!rc && dst->cap)
        dst->p[dst->n] = '\0';
    return rc;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* ([\{-\~\[-\` -\&\(-\+\:-\@\/]): ASCII punctuation and space except
 * ' , - . (and so not digits or letters). */
static int is_13a_symbol(char c)
{
    unsigned char u = (unsigned char)c;
    return (u >= '{' && u <= '~') || (u >= '[' && u <= '`') || (u >= ' ' && u <= '&') ||
           (u >= '(' && u <= '+') || (u >= ':' && u <= '@') || u == '/';
}

/* The four regular expressions, each applied like Python's re.sub: left to
 * right, matches do not overlap. Working on bytes gives the same result as
 * on code points: no pattern byte is ever part of a multi-byte sequence. */
enum { RE_SYMBOL, RE_PERIOD_AFTER, RE_PERIOD_BEFORE, RE_DASH };

static int regex_pass(buf *dst, const buf *src, int which)
{
    const char *s = src->p;
    size_t n = src->n;
    int rc = 0;
    dst->n = 0;
    for (size_t i = 0; !rc && i < n;) {
        char c = s[i], d = i + 1 < n ? s[i + 1] : '\0';
        int two = i + 1 < n;
        if (which == RE_SYMBOL && is_13a_symbol(c)) {
            char out[3] = {' ', c, ' '}; /* ' \1 ' */
            rc = buf_put(dst, out, 3);
            i += 1;
        } else if (which == RE_PERIOD_AFTER && two && !is_digit(c) && (d == '.' || d == ',')) {
            char out[4] = {c, ' ', d, ' '}; /* '\1 \2 ' */
            rc = buf_put(dst, out, 4);
            i += 2;
        } else if (which == RE_PERIOD_BEFORE && two && (c == '.' || c == ',') && !is_digit(d)) {
            char out[4] = {' ', c, ' ', d}; /* ' \1 \2' */
            rc = buf_put(dst, out, 4);
            i += 2;
        } else if (which == RE_DASH && two && is_digit(c) && d == '-') {
            char out[4] = {c, ' ', '-', ' '}; /* '\1 \2 ' */
            rc = buf_put(dst, out, 4);
            i += 2;
        } else {
            rc = buf_putc(dst, c);
            i += 1;
        }
    }
    return rc;
}

/* ' '.join(s.split()) of src into dst. */
static int collapse_spaces(buf *dst, const buf *src)
{
    const unsigned char *s = (const unsigned char *)src->p;
    int rc = buf_reserve(dst, src->n + 1);
    dst->n = 0;
    int pending = 0;
    uint32_t cp;
    for (size_t i = 0; !rc && i < src->n;) {
        int k = utf8_next(s, src->n, i, &cp);
        if (py_space(cp)) {
            pending = dst->n > 0;
        } else {
            if (pending)
                rc = buf_putc(dst, ' ');
            if (!rc)
                rc = buf_put(dst, (const char *)s + i, (size_t)k);
            pending = 0;
        }
        i += (size_t)k;
    }
    if (!rc)
        dst->p[dst->n] = '\0';
    return rc;
}

/* Tokenises valid UTF-8 `line` into `out` using `tmp` as scratch. */
static int tokenize_13a(buf *out, buf *tmp, const char *line, size_t len)
{
    static const char *const repl[][2] = {
        {"<skipped>", ""}, {"-\n", ""},   {"\n", " "},   {"&quot;", "\""},
        {"&amp;", "&"},    {"&lt;", "<"}, {"&gt;", ">"},
    };
    buf *a = out, *b = tmp;
    a->n = 0;
    int rc = buf_put(a, line, len);
    for (size_t r = 0; !rc && r < sizeof repl / sizeof repl[0]; r++) {
        rc = replace_all(b, a, repl[r][0], repl[r][1]);
        buf *t = a;
        a = b;
        b = t;
    }
    /* " {} ".format(line), then the regular expressions. */
    if (!rc) {
        b->n = 0;
        rc = buf_putc(b, ' ');
        if (!rc && a->n)
            rc = buf_put(b, a->p, a->n);
        if (!rc)
            rc = buf_putc(b, ' ');
        buf *t = a;
        a = b;
        b = t;
    }
    for (int w = RE_SYMBOL; !rc && w <= RE_DASH; w++) {
        rc = regex_pass(b, a, w);
        buf *t = a;
        a = b;
        b = t;
    }
    if (!rc)
        rc = collapse_spaces(b, a);
    if (!rc && b != out) { /* the result must end in `out` */
        buf t = *out;
        *out = *b;
        *b = t;
    }
    return rc;
}

int loom_bleu_tokenize_13a(const char *line, size_t len, char **out, size_t *cap, size_t *out_len)
{
    int rc = check_utf8(line, len, "loom_bleu_tokenize_13a");
    if (rc)
        return rc;
    buf o = {*out, 0, *out ? *cap : 0}, tmp = {0};
    rc = tokenize_13a(&o, &tmp, line, len);
    free(tmp.p);
    *out = o.p;
    *cap = o.cap;
    *out_len = rc ? 0 : o.n;
    return rc;
}

/* ---- n-gram counting ---- */

static int key_cmp(const void *x, const void *y)
{
    const ngram_key *p = x, *q = y;
    if (p->a != q->a)
        return p->a < q->a ? -1 : 1;
    if (p->b != q->b)
        return p->b < q->b ? -1 : 1;
    return 0;
}

/* Sorts both key lists and returns the clipped matches: for each distinct
 * n-gram, min(count in hypothesis, count in reference). */
static long long clipped_matches(ngram_key *h, size_t nh, ngram_key *r, size_t nr)
{
    qsort(h, nh, sizeof *h, key_cmp);
    qsort(r, nr, sizeof *r, key_cmp);
    long long match = 0;
    size_t i = 0, j = 0;
    while (i < nh && j < nr) {
        int c = key_cmp(&h[i], &r[j]);
        if (c < 0) {
            i++;
        } else if (c > 0) {
            j++;
        } else {
            size_t ci = 0, cj = 0;
            ngram_key k = h[i];
            while (i < nh && key_cmp(&h[i], &k) == 0)
                i++, ci++;
            while (j < nr && key_cmp(&r[j], &k) == 0)
                j++, cj++;
            match += (long long)(ci < cj ? ci : cj);
        }
    }
    return match;
}

static int token_cmp(const void *x, const void *y)
{
    const token *p = x, *q = y;
    size_t n = p->len < q->len ? p->len : q->len;
    int c = memcmp(p->s, q->s, n);
    if (c)
        return c;
    return p->len < q->len ? -1 : p->len > q->len;
}

/* Splits a 13a output (single spaces) into tokens appended to b->tokens. */
static int split_tokens(loom_bleu *b, const buf *text, size_t *count)
{
    size_t start = 0;
    *count = 0;
    for (size_t i = 0; i <= text->n; i++) {
        if (i < text->n && text->p[i] != ' ')
            continue;
        if (i > start) {
            int rc = buf_reserve(&b->tokens, b->tokens.n + sizeof(token));
            if (rc)
                return rc;
            token t = {text->p + start, i - start, 0};
            memcpy(b->tokens.p + b->tokens.n, &t, sizeof t);
            b->tokens.n += sizeof t;
            (*count)++;
        }
        start = i + 1;
    }
    return 0;
}

/* Room in keys for the *count = len - n + 1 n-grams of len items (none
 * when len < n); NULL when out of memory. */
static ngram_key *keys_room(buf *keys, size_t len, int n, size_t *count)
{
    *count = len >= (size_t)n ? len - (size_t)n + 1 : 0;
    if (buf_reserve(keys, *count * sizeof(ngram_key) + 1))
        return NULL;
    return (ngram_key *)keys->p;
}

/* Word n-gram keys of order n over ids[0..len): four 32-bit ids in two
 * words, unused slots 0. */
static int word_keys(buf *keys, const uint32_t *ids, size_t len, int n, size_t *count)
{
    ngram_key *k = keys_room(keys, len, n, count);
    if (!k)
        return LOOM_ENOMEM;
    for (size_t i = 0; i < *count; i++) {
        uint32_t w[4] = {0, 0, 0, 0};
        for (int j = 0; j < n; j++)
            w[j] = ids[i + (size_t)j] + 1;
        k[i].a = (uint64_t)w[0] << 32 | w[1];
        k[i].b = (uint64_t)w[2] << 32 | w[3];
    }
    return 0;
}

/* The BLEU statistics of one pair (hypothesis and reference already 13a
 * tokenised in b->tok[0] and b->tok[1]). */
static int add_bleu(loom_bleu *b)
{
    size_t nt[2];
    b->tokens.n = 0;
    int rc = split_tokens(b, &b->tok[0], &nt[0]);
    if (!rc)
        rc = split_tokens(b, &b->tok[1], &nt[1]);
    size_t all = nt[0] + nt[1];
    if (!rc)
        rc = buf_reserve(&b->ids, (all + 1) * sizeof(uint32_t));
    if (rc)
        return rc;
    /* Ids by sorting a copy of the tokens: equal strings, equal ids. */
    token *tok = (token *)b->tokens.p;
    uint32_t *ids = (uint32_t *)b->ids.p;
    for (size_t i = 0; i < all; i++)
        tok[i].id = (uint32_t)i;
    qsort(tok, all, sizeof *tok, token_cmp);
    uint32_t next = 0;
    for (size_t i = 0; i < all; i++) {
        if (i > 0 && token_cmp(&tok[i - 1], &tok[i]) != 0)
            next++;
        ids[tok[i].id] = next;
    }
    b->sum.sys_len += (long long)nt[0];
    b->sum.ref_len += (long long)nt[1];
    for (int n = 1; n <= LOOM_BLEU_ORDER; n++) {
        size_t kh, kr;
        rc = word_keys(&b->keys[0], ids, nt[0], n, &kh);
        if (!rc)
            rc = word_keys(&b->keys[1], ids + nt[0], nt[1], n, &kr);
        if (rc)
            return rc;
        b->sum.total[n - 1] += (long long)kh;
        b->sum.correct[n - 1] +=
            clipped_matches((ngram_key *)b->keys[0].p, kh, (ngram_key *)b->keys[1].p, kr);
    }
    return 0;
}

/* Code points of s without whitespace (chrF's ''.join(s.split())). */
static int chrf_chars(buf *out, const char *s, size_t n, size_t *count)
{
    int rc = buf_reserve(out, (n + 1) * sizeof(uint32_t));
    if (rc)
        return rc;
    uint32_t *cps = (uint32_t *)out->p, cp;
    *count = 0;
    for (size_t i = 0; i < n;) {
        i += (size_t)utf8_next((const unsigned char *)s, n, i, &cp);
        if (!py_space(cp))
            cps[(*count)++] = cp;
    }
    return 0;
}

/* Character n-gram keys of order n: six 21-bit code points in two words. */
static int char_keys(buf *keys, const uint32_t *cps, size_t len, int n, size_t *count)
{
    ngram_key *k = keys_room(keys, len, n, count);
    if (!k)
        return LOOM_ENOMEM;
    for (size_t i = 0; i < *count; i++) {
        uint64_t w[6] = {0, 0, 0, 0, 0, 0};
        for (int j = 0; j < n; j++)
            w[j] = cps[i + (size_t)j];
        k[i].a = w[0] << 42 | w[1] << 21 | w[2];
        k[i].b = w[3] << 42 | w[4] << 21 | w[5];
    }
    return 0;
}

static int add_chrf(loom_bleu *b, const char *hyp, size_t hyp_len, const char *ref, size_t ref_len)
{
    size_t ch, cr;
    int rc = chrf_chars(&b->cps[0], hyp, hyp_len, &ch);
    if (!rc)
        rc = chrf_chars(&b->cps[1], ref, ref_len, &cr);
    for (int n = 1; !rc && n <= LOOM_CHRF_ORDER; n++) {
        size_t kh, kr;
        rc = char_keys(&b->keys[0], (const uint32_t *)b->cps[0].p, ch, n, &kh);
        if (!rc)
            rc = char_keys(&b->keys[1], (const uint32_t *)b->cps[1].p, cr, n, &kr);
        if (rc)
            break;
        /* sacreBLEU counts no hypothesis n-grams of an order the reference
         * lacks ("hyp_count if ref_ngrams else 0"). */
        b->sum.chrf_hyp[n - 1] += kr ? (long long)kh : 0;
        b->sum.chrf_ref[n - 1] += (long long)kr;
        b->sum.chrf_match[n - 1] +=
            clipped_matches((ngram_key *)b->keys[0].p, kh, (ngram_key *)b->keys[1].p, kr);
    }
    return rc;
}

int loom_bleu_add(loom_bleu *b, const char *hyp, size_t hyp_len, const char *ref, size_t ref_len)
{
    int rc = check_utf8(hyp, hyp_len, "hypothesis");
    if (!rc)
        rc = check_utf8(ref, ref_len, "reference");
    if (rc)
        return rc;
    const char *side[2] = {hyp, ref};
    size_t len[2] = {hyp_len, ref_len};
    for (int s = 0; s < 2; s++) {
        size_t n = rstrip_len(side[s], len[s]);
        if (b->opt.tokenize == LOOM_BLEU_TOK_13A) {
            rc = tokenize_13a(&b->tok[s], &b->scratch, side[s], n);
        } else {
            buf raw = {(char *)side[s], n, n};
            rc = collapse_spaces(&b->tok[s], &raw);
        }
        if (rc)
            return rc;
    }
    rc = add_bleu(b);
    if (!rc)
        rc = add_chrf(b, hyp, hyp_len, ref, ref_len);
    if (!rc)
        b->sum.sentences++;
    return rc;
}

/* ---- scores from the statistics ---- */

/* sacreBLEU's my_log: log, with a huge negative stand-in for log(0). */
static double sacre_log(double x)
{
    return x > 0 ? log(x) : -9999999999.0;
}

static void compute_bleu(loom_bleu_score *s, loom_bleu_smooth smooth)
{
    s->bp = 1.0;
    if (s->sys_len < s->ref_len)
        s->bp = s->sys_len > 0 ? exp(1.0 - (double)s->ref_len / (double)s->sys_len) : 0.0;
    int any = 0;
    for (int n = 0; n < LOOM_BLEU_ORDER; n++) {
        s->precision[n] = 0.0;
        any |= s->correct[n] > 0;
    }
    s->bleu = 0.0;
    if (!any) /* sacreBLEU stops early when nothing matches at all */
        return;
    double smooth_mteval = 1.0;
    for (int n = 0; n < LOOM_BLEU_ORDER; n++) {
        double total = (double)s->total[n];
        if (s->total[n] == 0)
            break;
        if (s->correct[n] > 0) {
            s->precision[n] = 100.0 * (double)s->correct[n] / total;
        } else if (smooth == LOOM_BLEU_SMOOTH_EXP) {
            smooth_mteval *= 2;
            s->precision[n] = 100.0 / (smooth_mteval * total);
        } else if (smooth == LOOM_BLEU_SMOOTH_FLOOR) {
            s->precision[n] = 100.0 * 0.1 / total;
        }
    }
    double logsum = 0.0;
    for (int n = 0; n < LOOM_BLEU_ORDER; n++)
        logsum += sacre_log(s->precision[n]);
    s->bleu = s->bp * exp(logsum / LOOM_BLEU_ORDER);
}

/* chrF with sacreBLEU 2.x's default effective-order averaging: precision
 * and recall are averaged over the orders that both sides have, then
 * combined into one F-beta (beta 2). */
static void compute_chrf(loom_bleu_score *s)
{
    const double factor = 2.0 * 2.0; /* beta^2 */
    double prec = 0.0, rec = 0.0;
    int effective = 0;
    for (int n = 0; n < LOOM_CHRF_ORDER; n++) {
        if (s->chrf_hyp[n] > 0 && s->chrf_ref[n] > 0) {
            prec += (double)s->chrf_match[n] / (double)s->chrf_hyp[n];
            rec += (double)s->chrf_match[n] / (double)s->chrf_ref[n];
            effective++;
        }
    }
    s->chrf = 0.0;
    if (!effective)
        return;
    prec /= effective;
    rec /= effective;
    if (prec + rec > 0)
        s->chrf = 100.0 * (1 + factor) * prec * rec / (factor * prec + rec);
}

void loom_bleu_get(const loom_bleu *b, loom_bleu_score *out)
{
    *out = b->sum;
    compute_bleu(out, b->opt.smooth);
    compute_chrf(out);
}

/* ---- lifetime ---- */

int loom_bleu_new(loom_bleu **out, const loom_bleu_options *opt)
{
    *out = NULL;
    if (opt && ((unsigned)opt->tokenize > LOOM_BLEU_TOK_NONE ||
                (unsigned)opt->smooth > LOOM_BLEU_SMOOTH_FLOOR))
        return loom_error(LOOM_EINVAL, "loom_bleu_new: unknown tokenize or smooth option");
    loom_bleu *b = loom_calloc(1, sizeof *b);
    if (!b)
        return LOOM_ENOMEM;
    if (opt)
        b->opt = *opt;
    *out = b;
    return 0;
}

void loom_bleu_reset(loom_bleu *b)
{
    memset(&b->sum, 0, sizeof b->sum);
}

void loom_bleu_free(loom_bleu *b)
{
    if (!b)
        return;
    free(b->tok[0].p);
    free(b->tok[1].p);
    free(b->scratch.p);
    free(b->tokens.p);
    free(b->ids.p);
    free(b->keys[0].p);
    free(b->keys[1].p);
    free(b->cps[0].p);
    free(b->cps[1].p);
    free(b);
}
