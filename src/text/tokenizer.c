/* loom: the tokenizer (first cut: splits on ASCII whitespace and folds
 * ASCII case; the Unicode rules follow). */
#include "config.h"
#include "text/tokenizer.h"
#include "base/alloc.h"
#include "base/error.h"

#include <stdlib.h>
#include <string.h>

struct loom_tokenizer {
    loom_tok_opts o;
    char tok[LOOM_TOKEN_MAX];
    size_t len;
};

void loom_tok_opts_default(loom_tok_opts *o)
{
    memset(o, 0, sizeof *o);
}

int loom_tokenizer_new(loom_tokenizer **out, const loom_tok_opts *o)
{
    loom_tokenizer *t = loom_calloc(1, sizeof *t);
    *out = t;
    if (!t)
        return LOOM_ENOMEM;
    if (o)
        t->o = *o;
    return 0;
}

void loom_tokenizer_free(loom_tokenizer *t)
{
    free(t);
}

static int flush(loom_tokenizer *t, loom_token_fn fn, void *ctx)
{
    int rc = 0;
    if (t->len)
        rc = fn(ctx, t->tok, t->len);
    t->len = 0;
    return rc;
}

static int feed(loom_tokenizer *t, const char *s, size_t n, loom_token_fn fn, void *ctx)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f' || !c) {
            int rc = flush(t, fn, ctx);
            if (rc)
                return rc;
            continue;
        }
        if (t->len == LOOM_TOKEN_MAX) {
            int rc = flush(t, fn, ctx);
            if (rc)
                return rc;
        }
        if (!t->o.keep_case && !t->o.pretokenized && c >= 'A' && c <= 'Z')
            c += 'a' - 'A';
        t->tok[t->len++] = (char)c;
    }
    return 0;
}

int loom_tokenize_stream(loom_tokenizer *t, loom_reader *r, loom_token_fn on_token,
                         loom_eol_fn on_eol, void *ctx)
{
    const char *piece;
    size_t n;
    int complete, rc;
    t->len = 0;
    while ((rc = loom_reader_line(r, &piece, &n, &complete)) > 0) {
        if ((rc = feed(t, piece, n, on_token, ctx)) != 0)
            return rc;
        if (complete) {
            if ((rc = flush(t, on_token, ctx)) != 0)
                return rc;
            if (on_eol && (rc = on_eol(ctx)) != 0)
                return rc;
        }
    }
    return rc;
}

int loom_tokenize_string(loom_tokenizer *t, const char *s, size_t n, loom_token_fn on_token,
                         void *ctx)
{
    t->len = 0;
    int rc = feed(t, s, n, on_token, ctx);
    if (rc == 0)
        rc = flush(t, on_token, ctx);
    return rc;
}
