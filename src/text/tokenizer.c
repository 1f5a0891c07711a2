/* loom: the tokenizer. Bytes in, tokens out, in bounded memory. ASCII runs
 * are classified by a 128-entry table and never touch utf8proc; a run of
 * non-ASCII text (with the ASCII character before it, which a combining
 * mark may compose with) is validated, NFKC-normalised and case-folded by
 * utf8proc and walked by grapheme cluster. Both paths feed one token
 * builder, so a word may start in one and end in the other, or span the
 * reader's pieces of a long line. Knows nothing of vocabularies or ids. */
#include "config.h"
#include "text/tokenizer.h"
#include "base/alloc.h"
#include "base/error.h"
#include "base/hash.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* A non-ASCII run longer than this is normalised in parts, cut where
 * normalisation cannot join across the cut (see seg_safe_cut). */
#define SEG_MAX 16384

/* Normalised short runs are remembered in a small direct-mapped cache:
 * in running text the same words come back, and utf8proc's decomposition
 * and composition are most of the cost of non-ASCII text. */
#define NORM_CACHE 1024
#define NORM_BYTES 46 /* runs up to this many bytes are cached */
#define NORM_CPS 48   /* with up to this many normalised code points */

typedef struct {
    unsigned char len, ncps; /* len 0: empty */
    char bytes[NORM_BYTES];
    int32_t cps[NORM_CPS];
} norm_entry;

/* Character classes, for the ASCII table and for code points. */
enum {
    K_SPACE,   /* separators: white space, controls, NUL */
    K_LETTER,  /* letters and marks: word characters */
    K_DIGIT,   /* numbers: word characters */
    K_PUNCT,   /* punctuation: a token of its own, or dropped */
    K_SYMBOL,  /* symbols, emoji, U+FFFD: a token per grapheme cluster, or dropped */
    K_NOSPACE, /* letters of scripts written without spaces: a token each */
    K_JOINER,  /* ZWJ, ZWNJ, tags: inside a cluster only, never start a token */
    K_IGNORE   /* invisible format characters (bidi marks, BOM, soft hyphen): removed */
};

/* A separator held back after a word until the next character shows
 * whether it joins the word (don't, 3.14, 1,000) or stands alone. */
enum { HELD_NONE, HELD_APOS, HELD_NUMSEP };

struct loom_tokenizer {
    loom_tok_opts o;
    utf8proc_option_t nfkc; /* utf8proc flags for NFKC (+ case folding) */
    loom_token_fn fn;
    void *ctx;
    /* The token being built and the class of its last character. */
    char tok[LOOM_TOKEN_MAX];
    size_t len;
    int last;
    int held;
    char held_text[8]; /* the held separator as written */
    size_t held_len;
    /* Pending non-ASCII text (valid UTF-8) and the code point buffer that
     * normalises it. */
    char *seg;
    size_t seg_len;
    utf8proc_int32_t *cps;
    unsigned char *cls; /* the class of each of cps, beside it */
    size_t cps_cap;
    norm_entry *cache; /* allocated at the first non-ASCII run */
    /* Characters as tokens (o.chars): the cluster being read is tok[0..len),
     * with the last code point and utf8proc's break state; a white space
     * run waits for the next cluster of its line. */
    utf8proc_int32_t ch_prev;
    utf8proc_int32_t ch_state;
    int ch_space, ch_any;
    /* Where we are, for error messages. */
    const char *path;
    long long line, base;
};

static unsigned char ascii_class[128];
static pthread_once_t ascii_once = PTHREAD_ONCE_INIT;

static void init_ascii_class(void)
{
    for (int c = 0; c < 128; c++) {
        int k = K_PUNCT;
        if (c <= ' ' || c == 0x7f)
            k = K_SPACE;
        else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
            k = K_LETTER;
        else if (c >= '0' && c <= '9')
            k = K_DIGIT;
        ascii_class[c] = (unsigned char)k;
    }
}

void loom_tok_opts_default(loom_tok_opts *o)
{
    memset(o, 0, sizeof *o);
    o->punct = LOOM_PUNCT_KEEP;
    o->invalid = LOOM_INVALID_ERROR;
}

int loom_tokenizer_new(loom_tokenizer **out, const loom_tok_opts *o)
{
    *out = NULL;
    loom_tok_opts def;
    if (!o) {
        loom_tok_opts_default(&def);
        o = &def;
    }
    if ((o->punct != LOOM_PUNCT_KEEP && o->punct != LOOM_PUNCT_DROP) ||
        (o->invalid != LOOM_INVALID_ERROR && o->invalid != LOOM_INVALID_REPLACE))
        return loom_error(LOOM_EINVAL, "tokenizer: bad option value");
    pthread_once(&ascii_once, init_ascii_class);
    loom_tokenizer *t = loom_calloc(1, sizeof *t);
    if (!t)
        return LOOM_ENOMEM;
    t->o = *o;
    t->nfkc = UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
    if (!o->keep_case)
        t->nfkc |= UTF8PROC_CASEFOLD;
    t->seg = loom_malloc(SEG_MAX + 8, 1);
    t->cps_cap = SEG_MAX;
    t->cps = loom_malloc(t->cps_cap, sizeof *t->cps);
    t->cls = loom_malloc(t->cps_cap, 1);
    if (!t->seg || !t->cps || !t->cls) {
        loom_tokenizer_free(t);
        return LOOM_ENOMEM;
    }
    *out = t;
    return 0;
}

void loom_tokenizer_free(loom_tokenizer *t)
{
    if (!t)
        return;
    free(t->seg);
    free(t->cps);
    free(t->cls);
    free(t->cache);
    free(t);
}

/* ---- The token builder ------------------------------------------------ */

static int emit_word(loom_tokenizer *t)
{
    size_t n = t->len;
    t->len = 0;
    return n ? t->fn(t->ctx, t->tok, n) : 0;
}

static int emit_punct(loom_tokenizer *t, const char *s, size_t n)
{
    return t->o.punct == LOOM_PUNCT_DROP ? 0 : t->fn(t->ctx, s, n);
}

/* Appends bytes of one character or cluster; a token that would outgrow
 * LOOM_TOKEN_MAX is emitted first and goes on as a new token. */
static int append(loom_tokenizer *t, const char *s, size_t n)
{
    while (t->len + n > LOOM_TOKEN_MAX) {
        if (t->len == 0) { /* one cluster longer than the limit */
            int rc = t->fn(t->ctx, s, LOOM_TOKEN_MAX);
            if (rc)
                return rc;
            s += LOOM_TOKEN_MAX, n -= LOOM_TOKEN_MAX;
            continue;
        }
        int rc = emit_word(t);
        if (rc)
            return rc;
    }
    char *d = t->tok + t->len;
    t->len += n;
    if (n > 8) {
        memcpy(d, s, n);
        return 0;
    }
    while (n--) /* one character: a call to memcpy would cost more */
        *d++ = *s++;
    return 0;
}

/* Ends the current token, and the held separator after it. */
static int end_token(loom_tokenizer *t)
{
    int rc = emit_word(t);
    if (rc == 0 && t->held) {
        t->held = HELD_NONE;
        rc = emit_punct(t, t->held_text, t->held_len);
    }
    return rc;
}

/* Before a word character of class k: the held separator joins the word
 * or is emitted on its own. */
static int resolve_held(loom_tokenizer *t, int k)
{
    int joins = (t->held == HELD_APOS && t->last == K_LETTER && k == K_LETTER) ||
                (t->held == HELD_NUMSEP && t->last == K_DIGIT && k == K_DIGIT);
    if (joins) {
        t->held = HELD_NONE;
        /* Apostrophes inside words are written ' whatever the input used. */
        return t->held_text[0] == '.' || t->held_text[0] == ',' ? append(t, t->held_text, 1)
                                                                : append(t, "'", 1);
    }
    return end_token(t);
}

static int word_char(loom_tokenizer *t, const char *s, size_t n, int k)
{
    if (t->held) {
        int rc = resolve_held(t, k);
        if (rc)
            return rc;
    }
    t->last = k;
    return append(t, s, n);
}

static int is_apostrophe(int32_t c)
{
    return c == '\'' || c == 0x2019;
}

/* Punctuation: held if it may join the word before it, else its own token. */
static int punct(loom_tokenizer *t, const char *s, size_t n, int32_t first)
{
    if (t->len && !t->held && n <= sizeof t->held_text &&
        ((is_apostrophe(first) && t->last == K_LETTER) ||
         ((first == '.' || first == ',') && t->last == K_DIGIT))) {
        t->held = is_apostrophe(first) ? HELD_APOS : HELD_NUMSEP;
        memcpy(t->held_text, s, n);
        t->held_len = n;
        return 0;
    }
    int rc = end_token(t);
    return rc ? rc : emit_punct(t, s, n);
}

/* ---- ASCII fast path ---------------------------------------------------- */

static inline int is_word_class(int k)
{
    return k == K_LETTER || k == K_DIGIT;
}

/* Could byte c, after a word character of class last, be held? */
static inline int may_join(unsigned char c, int last)
{
    return (c == '\'' && last == K_LETTER) || ((c == '.' || c == ',') && last == K_DIGIT);
}

/* Appends s[0..n) (word characters), folding case unless asked not to. */
static int append_ascii_word(loom_tokenizer *t, const char *s, size_t n)
{
    int fold = !t->o.keep_case;
    while (n) {
        if (t->len == LOOM_TOKEN_MAX) {
            int rc = emit_word(t);
            if (rc)
                return rc;
        }
        size_t k = LOOM_TOKEN_MAX - t->len < n ? LOOM_TOKEN_MAX - t->len : n;
        char *d = t->tok + t->len;
        for (size_t i = 0; i < k; i++) {
            unsigned char c = (unsigned char)s[i];
            d[i] = (char)(fold && (unsigned)(c - 'A') < 26u ? c + ('a' - 'A') : c);
        }
        t->len += k;
        s += k, n -= k;
    }
    return 0;
}

/* End of the run of ASCII letters and digits that starts at p[j], and
 * whether it holds an upper-case letter. Sixteen bytes at a time where
 * SSE2 is there: most words end within one load. */
static inline size_t scan_word(const unsigned char *p, size_t j, size_t n, int *upper)
{
#ifdef __SSE2__
    while (j + 16 <= n) {
        __m128i c = _mm_loadu_si128((const __m128i *)(p + j));
        __m128i folded = _mm_or_si128(c, _mm_set1_epi8(0x20));
        /* Signed compares: bytes >= 0x80 are negative and match no range. */
        __m128i alpha = _mm_and_si128(_mm_cmpgt_epi8(folded, _mm_set1_epi8('a' - 1)),
                                      _mm_cmplt_epi8(folded, _mm_set1_epi8('z' + 1)));
        __m128i digit = _mm_and_si128(_mm_cmpgt_epi8(c, _mm_set1_epi8('0' - 1)),
                                      _mm_cmplt_epi8(c, _mm_set1_epi8('9' + 1)));
        __m128i up = _mm_and_si128(_mm_cmpgt_epi8(c, _mm_set1_epi8('A' - 1)),
                                   _mm_cmplt_epi8(c, _mm_set1_epi8('Z' + 1)));
        unsigned word = (unsigned)_mm_movemask_epi8(_mm_or_si128(alpha, digit));
        unsigned ups = (unsigned)_mm_movemask_epi8(up);
        if (word != 0xFFFF) {
            unsigned k = (unsigned)__builtin_ctz(~word);
            *upper |= (ups & ((1u << k) - 1)) != 0;
            return j + k;
        }
        *upper |= ups != 0;
        j += 16;
    }
#endif
    while (j < n && is_word_class(ascii_class[p[j]])) {
        *upper |= (unsigned)(p[j] - 'A') < 26u;
        j++;
    }
    return j;
}

static int tokenize_ascii(loom_tokenizer *t, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    int rc = 0;
    while (i < n && rc == 0) {
        int k = ascii_class[p[i]];
        if (k == K_SPACE) {
            if (t->len || t->held)
                rc = end_token(t);
            i++;
            continue;
        }
        if (k == K_PUNCT) {
            rc = punct(t, s + i, 1, p[i]);
            i++;
            continue;
        }
        int upper = 0;
        size_t j = scan_word(p, i, n, &upper);
        int last = ascii_class[p[j - 1]];
        /* The common case: a whole word, ended by a byte that cannot join
         * it, emitted straight from the input when no case needs folding. */
        if (t->len == 0 && !t->held && j < n && !may_join(p[j], last) && j - i <= LOOM_TOKEN_MAX &&
            (!upper || t->o.keep_case)) {
            rc = t->fn(t->ctx, s + i, j - i);
            i = j;
            continue;
        }
        if (t->held && (rc = resolve_held(t, k)) != 0)
            break;
        if ((rc = append_ascii_word(t, s + i, j - i)) != 0)
            break;
        t->last = last;
        i = j;
    }
    return rc;
}

/* ---- UTF-8 validation --------------------------------------------------- */

/* Length of the valid sequence at s (lead byte >= 0x80, n bytes available),
 * or minus the length of its maximal ill-formed subpart (Unicode 3.9, "U+FFFD
 * substitution of maximal subparts"): overlong forms, surrogates, values past
 * U+10FFFF, stray continuation bytes and truncated sequences. */
static int utf8_sequence(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    int need;
    unsigned lo = 0x80, hi = 0xBF;
    if (c < 0xC2)
        return -1;
    if (c < 0xE0)
        need = 1;
    else if (c < 0xF0) {
        need = 2;
        lo = c == 0xE0 ? 0xA0 : 0x80;
        hi = c == 0xED ? 0x9F : 0xBF;
    } else if (c < 0xF5) {
        need = 3;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF;
    } else
        return -1;
    if (n < 2 || s[1] < lo || s[1] > hi)
        return -1;
    for (int k = 2; k <= need; k++)
        if ((size_t)k >= n || (s[k] & 0xC0) != 0x80)
            return -k;
    return need + 1;
}

static int invalid_utf8(const loom_tokenizer *t, size_t at)
{
    if (t->path)
        return loom_error(LOOM_EFORMAT, "%s:%lld: invalid UTF-8 at byte %lld", t->path, t->line,
                          t->base + (long long)at);
    return loom_error(LOOM_EFORMAT, "invalid UTF-8 at byte %lld", t->base + (long long)at);
}

static const char replacement[3] = {(char)0xEF, (char)0xBF, (char)0xBD}; /* U+FFFD */

/* ---- The Unicode path --------------------------------------------------- */

static int in_nospace_script(int32_t c)
{
    if (c < 0x0E00) /* Latin, Greek, Cyrillic, Hebrew, Arabic, Indic, ... */
        return 0;
    return (c >= 0x0E00 && c <= 0x0EFF) ||   /* Thai, Lao */
           (c >= 0x1000 && c <= 0x109F) ||   /* Myanmar */
           (c >= 0x1780 && c <= 0x17FF) ||   /* Khmer */
           (c >= 0x1980 && c <= 0x1AAF) ||   /* New Tai Lue, Khmer symbols, Tai Tham */
           (c >= 0x2E80 && c <= 0x2FFF) ||   /* CJK and Kangxi radicals */
           (c >= 0x3005 && c <= 0x3007) ||   /* 々 〆 〇 */
           (c >= 0x3021 && c <= 0x3029) ||   /* Hangzhou numerals */
           (c >= 0x3031 && c <= 0x303C) ||   /* kana repeat marks */
           (c >= 0x3040 && c <= 0x31FF) ||   /* Hiragana, Katakana, Bopomofo */
           (c >= 0x3400 && c <= 0x4DBF) ||   /* CJK extension A */
           (c >= 0x4E00 && c <= 0x9FFF) ||   /* CJK unified ideographs */
           (c >= 0xA000 && c <= 0xA4CF) ||   /* Yi */
           (c >= 0xA9E0 && c <= 0xA9FF) ||   /* Myanmar extended B */
           (c >= 0xAA60 && c <= 0xAADF) ||   /* Myanmar extended A, Tai Viet */
           (c >= 0xF900 && c <= 0xFAFF) ||   /* CJK compatibility ideographs */
           (c >= 0x1B000 && c <= 0x1B2FF) || /* kana supplements, Nushu */
           (c >= 0x20000 && c <= 0x323AF);   /* CJK extensions B-H */
}

static int cp_class(int32_t c)
{
    if (c < 128)
        return ascii_class[c];
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
        return in_nospace_script(c) ? K_NOSPACE : K_LETTER;
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
        return K_LETTER;
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
        return K_DIGIT;
    case UTF8PROC_CATEGORY_PC:
    case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI:
    case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
        return K_PUNCT;
    case UTF8PROC_CATEGORY_ZS:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
    case UTF8PROC_CATEGORY_CC:
        return K_SPACE;
    case UTF8PROC_CATEGORY_CF:
        /* Joiners and tag characters hold emoji and Indic clusters
         * together; the other format characters are invisible. */
        if (c == 0x200C || c == 0x200D || (c >= 0xE0020 && c <= 0xE007F))
            return K_JOINER;
        return K_IGNORE;
    default: /* symbols, private use, unassigned */
        return K_SYMBOL;
    }
}

/* Encodes cps[i..j) as UTF-8 into out (room for 4 bytes per code point). */
static size_t encode(const utf8proc_int32_t *cps, size_t i, size_t j, char *out)
{
    size_t n = 0;
    for (; i < j; i++)
        n += (size_t)utf8proc_encode_char(cps[i], (utf8proc_uint8_t *)out + n);
    return n;
}

/* Walks normalised code points. Word characters join the current word one
 * by one (its marks and joiners with it); punctuation, symbols and letters
 * of scripts without spaces are taken a grapheme cluster at a time, the
 * cluster's class being that of its first code point. */
static int tokenize_cps(loom_tokenizer *t, utf8proc_int32_t *cps, size_t n)
{
    /* Drop the invisible format characters first, so that they split
     * nothing (a soft hyphen or a bidi mark inside a word). */
    unsigned char *cls = t->cls;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        int k = cp_class(cps[i]);
        if (k != K_IGNORE) {
            cls[m] = (unsigned char)k;
            cps[m++] = cps[i];
        }
    }
    char buf[4 * 64];
    size_t i = 0;
    int rc = 0;
    while (i < m && rc == 0) {
        int k = cls[i];
        switch (k) {
        case K_SPACE:
            if (t->len || t->held)
                rc = end_token(t);
            i++;
            continue;
        case K_JOINER: /* inside a word it stays (ZWNJ in Persian); else nothing */
            if (t->len && !t->held)
                rc = append(t, buf, encode(cps, i, i + 1, buf));
            i++;
            continue;
        case K_LETTER:
        case K_DIGIT:
            rc = word_char(t, buf, encode(cps, i, i + 1, buf), k);
            i++;
            continue;
        }
        utf8proc_int32_t state = 0;
        size_t j = i + 1;
        while (j < m && j - i < 64 && !utf8proc_grapheme_break_stateful(cps[j - 1], cps[j], &state))
            j++;
        size_t len = encode(cps, i, j, buf);
        if (k == K_PUNCT)
            rc = punct(t, buf, len, cps[i]);
        else if ((rc = end_token(t)) == 0)
            rc = k == K_NOSPACE ? t->fn(t->ctx, buf, len) : emit_punct(t, buf, len);
        i = j;
    }
    return rc;
}

/* NFKC (and case folding) of s[0..n) into t->cps; returns the count. */
static long normalise(loom_tokenizer *t, const char *s, size_t n)
{
    utf8proc_ssize_t got;
    for (;;) {
        got = utf8proc_decompose((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, t->cps,
                                 (utf8proc_ssize_t)t->cps_cap, t->nfkc);
        if (got < 0)
            return loom_error(LOOM_EFORMAT, "utf8proc: %s", utf8proc_errmsg(got));
        if ((size_t)got <= t->cps_cap)
            break;
        /* cps and cls share one capacity */
        size_t cap = t->cps_cap;
        int rc = loom_grow((void **)&t->cps, &cap, (size_t)got, sizeof *t->cps);
        if (rc < 0)
            return rc;
        unsigned char *cls = loom_realloc(t->cls, cap, 1);
        if (!cls)
            return LOOM_ENOMEM;
        t->cls = cls;
        t->cps_cap = cap;
    }
    got = utf8proc_normalize_utf32(t->cps, got, t->nfkc);
    if (got < 0)
        return loom_error(LOOM_EFORMAT, "utf8proc: %s", utf8proc_errmsg(got));
    return (long)got;
}

/* normalise() through the cache for short runs. */
static long normalise_cached(loom_tokenizer *t, const char *s, size_t n)
{
    if (n > NORM_BYTES)
        return normalise(t, s, n);
    if (!t->cache && !(t->cache = loom_calloc(NORM_CACHE, sizeof *t->cache)))
        return LOOM_ENOMEM;
    norm_entry *e = &t->cache[loom_hash_bytes(s, n) & (NORM_CACHE - 1)];
    if (e->len == n && memcmp(e->bytes, s, n) == 0) {
        memcpy(t->cps, e->cps, e->ncps * sizeof *e->cps);
        return e->ncps;
    }
    long got = normalise(t, s, n);
    if (got > 0 && got <= NORM_CPS) {
        e->len = (unsigned char)n;
        e->ncps = (unsigned char)got;
        memcpy(e->bytes, s, n);
        memcpy(e->cps, t->cps, (size_t)got * sizeof *e->cps);
    }
    return got;
}

/* Normalises and tokenizes seg[0..n) and keeps the rest for later. */
static int flush_seg(loom_tokenizer *t, size_t n)
{
    if (n == 0)
        return 0;
    long got = normalise_cached(t, t->seg, n);
    if (got < 0)
        return (int)got;
    if (n < t->seg_len)
        memmove(t->seg, t->seg + n, t->seg_len - n);
    t->seg_len -= n;
    return tokenize_cps(t, t->cps, (size_t)got);
}

/* Where a long pending run may be cut without changing its normalisation
 * or splitting a grapheme cluster: before a starter (combining class 0)
 * that is not a Hangul vowel or trailing consonant (which compose with the
 * syllable before them) and that begins a new grapheme cluster. Returns
 * 0 when there is no such place. */
static size_t seg_safe_cut(const loom_tokenizer *t)
{
    const utf8proc_uint8_t *s = (const utf8proc_uint8_t *)t->seg;
    size_t n = t->seg_len, best = 0, i = 0;
    utf8proc_int32_t prev = -1;
    while (i < n) {
        utf8proc_int32_t c;
        utf8proc_ssize_t k = utf8proc_iterate(s + i, (utf8proc_ssize_t)(n - i), &c);
        if (k <= 0)
            break;
        if (prev >= 0) {
            const utf8proc_property_t *p = utf8proc_get_property(c);
            if (p->combining_class == 0 && p->boundclass != UTF8PROC_BOUNDCLASS_V &&
                p->boundclass != UTF8PROC_BOUNDCLASS_T && utf8proc_grapheme_break(prev, c))
                best = i;
        }
        prev = c;
        i += (size_t)k;
    }
    return best;
}

static int seg_push(loom_tokenizer *t, const char *s, size_t n)
{
    if (t->seg_len + n > SEG_MAX) {
        size_t cut = seg_safe_cut(t);
        int rc = flush_seg(t, cut ? cut : t->seg_len);
        if (rc == 0 && t->seg_len + n > SEG_MAX)
            rc = flush_seg(t, t->seg_len); /* no usable cut: a run of marks */
        if (rc)
            return rc;
    }
    memcpy(t->seg + t->seg_len, s, n);
    t->seg_len += n;
    return 0;
}

/* ---- Driving the two paths ---------------------------------------------- */

/* Length of the run of ASCII bytes at s. */
static size_t ascii_run(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i + 8 <= n) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        if (w & 0x8080808080808080ULL)
            break;
        i += 8;
    }
    while (i < n && s[i] < 0x80)
        i++;
    return i;
}

/* Tokenizes one piece of a line; `last` is set when the line ends with it. */
static int feed(loom_tokenizer *t, const char *s, size_t n, int last)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    int rc = 0;
    while (i < n) {
        size_t run = ascii_run(p + i, n - i);
        if (run > 0) {
            if (t->seg_len && (rc = flush_seg(t, t->seg_len)) != 0)
                return rc;
            /* The ASCII character before non-ASCII text, or at the end of
             * a piece, may be the base of a combining mark: it goes with
             * the non-ASCII run into normalisation. */
            int keep_back = i + run < n || !last;
            if ((rc = tokenize_ascii(t, s + i, run - keep_back)) != 0)
                return rc;
            i += run;
            if (keep_back)
                t->seg[t->seg_len++] = s[i - 1];
            continue;
        }
        /* A run of valid sequences that fits the pending buffer: one copy. */
        size_t start = i, room = SEG_MAX - t->seg_len;
        int k;
        while ((k = utf8_sequence(p + i, n - i)) > 0 && i + (size_t)k - start <= room) {
            i += (size_t)k;
            if (i == n || p[i] < 0x80)
                break;
        }
        if (i > start) {
            memcpy(t->seg + t->seg_len, s + start, i - start);
            t->seg_len += i - start;
            continue;
        }
        if (k > 0) { /* no room: seg_push normalises part of the run first */
            rc = seg_push(t, s + i, (size_t)k);
            i += (size_t)k;
        } else if (t->o.invalid == LOOM_INVALID_REPLACE) {
            rc = seg_push(t, replacement, sizeof replacement);
            i += (size_t)-k;
        } else
            rc = invalid_utf8(t, i);
        if (rc)
            return rc;
    }
    if (last) {
        if ((rc = flush_seg(t, t->seg_len)) != 0)
            return rc;
        rc = end_token(t);
    }
    return rc;
}

/* --pretokenized: tokens are the runs between ASCII white space (and NUL),
 * taken as they are; only invalid UTF-8 is still caught. */
static inline int is_ascii_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' || c == 0;
}

static int feed_pretokenized(loom_tokenizer *t, const char *s, size_t n, int last)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    int rc = 0;
    while (i < n) {
        if (is_ascii_space(p[i])) {
            if (t->len && (rc = emit_word(t)) != 0)
                return rc;
            i++;
            continue;
        }
        size_t j = i, bad = 0;
        while (j < n && !is_ascii_space(p[j])) {
            if (p[j] < 0x80) {
                j++;
                continue;
            }
            int k = utf8_sequence(p + j, n - j);
            if (k < 0) {
                bad = 1;
                break;
            }
            j += (size_t)k;
        }
        if (!bad && t->len == 0 && (j < n || last) && j - i <= LOOM_TOKEN_MAX) {
            if ((rc = t->fn(t->ctx, s + i, j - i)) != 0)
                return rc;
            i = j;
            continue;
        }
        /* Slow lane: the token is cut by the piece, too long, or holds
         * bad bytes. Append it one character at a time. */
        while (i < n && !is_ascii_space(p[i])) {
            int k = p[i] < 0x80 ? 1 : utf8_sequence(p + i, n - i);
            if (k > 0)
                rc = append(t, s + i, (size_t)k);
            else if (t->o.invalid == LOOM_INVALID_REPLACE)
                rc = append(t, replacement, sizeof replacement);
            else
                rc = invalid_utf8(t, i);
            if (rc)
                return rc;
            i += (size_t)(k > 0 ? k : -k);
        }
    }
    return last ? emit_word(t) : 0;
}

/* ---- Characters as tokens --------------------------------------------- */

/* Emits the cluster read so far, normalised (NFKC, folded unless
 * keep_case): one token per cluster of the normalised text (a
 * compatibility character may decompose into several), after the white
 * space token when a space run came between it and the line's last one. */
static int chars_flush(loom_tokenizer *t)
{
    if (t->len == 0)
        return 0;
    size_t n = t->len;
    t->len = 0;
    long ncp = normalise(t, t->tok, n);
    if (ncp < 0)
        return (int)ncp;
    char buf[4 * 8];
    utf8proc_int32_t state = 0;
    size_t i = 0;
    int rc = 0;
    while (i < (size_t)ncp && !rc) {
        size_t j = i + 1;
        while (j < (size_t)ncp && j - i < 8 &&
               !utf8proc_grapheme_break_stateful(t->cps[j - 1], t->cps[j], &state))
            j++;
        if (t->ch_space && t->ch_any)
            rc = t->fn(t->ctx, LOOM_TOK_SPACE, sizeof LOOM_TOK_SPACE - 1);
        t->ch_space = 0;
        t->ch_any = 1;
        if (!rc)
            rc = t->fn(t->ctx, buf, encode(t->cps, i, j, buf));
        i = j;
    }
    return rc;
}

static int is_char_space(int32_t c)
{
    if (c < 0x80)
        return c <= 0x20 || c == 0x7F;
    utf8proc_category_t k = utf8proc_category(c);
    return k == UTF8PROC_CATEGORY_ZS || k == UTF8PROC_CATEGORY_ZL || k == UTF8PROC_CATEGORY_ZP ||
           k == UTF8PROC_CATEGORY_CC;
}

/* o.chars: grapheme clusters (utf8proc's extended grapheme breaks) of the
 * raw text, each normalised by chars_flush; a cluster may span pieces. */
static int feed_chars(loom_tokenizer *t, const char *s, size_t n, int last)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    int rc = 0;
    while (i < n && !rc) {
        int32_t c;
        int k = p[i] < 0x80 ? 1 : utf8_sequence(p + i, n - i);
        if (k > 0) {
            utf8proc_iterate(p + i, k, &c);
        } else if (t->o.invalid == LOOM_INVALID_REPLACE) {
            c = 0xFFFD;
        } else {
            return invalid_utf8(t, i);
        }
        const char *bytes = k > 0 ? s + i : replacement;
        size_t nb = k > 0 ? (size_t)k : sizeof replacement;
        i += (size_t)(k > 0 ? k : -k);
        if (is_char_space(c)) {
            rc = chars_flush(t);
            t->ch_space = 1;
            t->ch_prev = -1;
            continue;
        }
        if (t->len && utf8proc_grapheme_break_stateful(t->ch_prev, c, &t->ch_state))
            rc = chars_flush(t);
        if (t->len == 0)
            t->ch_state = 0;
        t->ch_prev = c;
        if (!rc && t->len + nb > LOOM_TOKEN_MAX) /* a cluster beyond reason: cut it */
            rc = chars_flush(t);
        if (!rc)
            rc = append(t, bytes, nb);
    }
    if (last && !rc) {
        rc = chars_flush(t);
        t->ch_space = t->ch_any = 0, t->ch_prev = -1;
    }
    return rc;
}

/* The feed for the options: characters, pretokenized, or words. */
static int feed_any(loom_tokenizer *t, const char *s, size_t n, int last)
{
    if (t->o.chars)
        return feed_chars(t, s, n, last);
    return t->o.pretokenized ? feed_pretokenized(t, s, n, last) : feed(t, s, n, last);
}

static void reset(loom_tokenizer *t, loom_token_fn fn, void *ctx)
{
    t->ch_prev = -1;
    t->ch_state = 0;
    t->ch_space = t->ch_any = 0;
    t->fn = fn;
    t->ctx = ctx;
    t->len = 0;
    t->held = HELD_NONE;
    t->seg_len = 0;
    t->path = NULL;
    t->line = 0;
    t->base = 0;
}

int loom_tokenize_stream(loom_tokenizer *t, loom_reader *r, loom_token_fn on_token,
                         loom_eol_fn on_eol, void *ctx)
{
    const char *piece;
    size_t n;
    int complete, rc;
    reset(t, on_token, ctx);
    t->path = loom_reader_path(r);
    while ((rc = loom_reader_line(r, &piece, &n, &complete)) > 0) {
        t->line = loom_reader_line_number(r);
        t->base = loom_reader_offset(r);
        rc = feed_any(t, piece, n, complete);
        if (rc)
            return rc;
        if (complete && on_eol && (rc = on_eol(ctx)) != 0)
            return rc;
    }
    return rc;
}

int loom_tokenize_string(loom_tokenizer *t, const char *s, size_t n, loom_token_fn on_token,
                         void *ctx)
{
    reset(t, on_token, ctx);
    return feed_any(t, s, n, 1);
}
