/* libFuzzer target for the tokenizer (src/text/tokenizer.c): the first
 * byte picks the options, the rest is the text, tokenized both from a
 * string and streamed from a file; tokens must be non-empty and at most
 * LOOM_TOKEN_MAX bytes. */
#include "config.h"
#include "text/tokenizer.h"
#include "fuzz_util.h"

static int on_token(void *ctx, const char *tok, size_t len)
{
    (void)tok;
    if (len == 0 || len > LOOM_TOKEN_MAX)
        abort();
    ++*(size_t *)ctx;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    loom_tok_opts o;
    loom_tok_opts_default(&o);
    o.keep_case = data[0] & 1;
    o.punct = data[0] & 2 ? LOOM_PUNCT_DROP : LOOM_PUNCT_KEEP;
    o.invalid = data[0] & 4 ? LOOM_INVALID_REPLACE : LOOM_INVALID_ERROR;
    o.pretokenized = (data[0] & 8) != 0;
    loom_tokenizer *t;
    if (loom_tokenizer_new(&t, &o) < 0)
        abort();
    size_t n = 0;
    fuzz_refused(loom_tokenize_string(t, (const char *)data + 1, size - 1, on_token, &n));
    const char *path = fuzz_file("tokenize", data + 1, size - 1);
    loom_reader *r;
    if (loom_reader_open(&r, path) < 0)
        abort();
    fuzz_refused(loom_tokenize_stream(t, r, on_token, NULL, &n));
    loom_reader_close(r);
    loom_tokenizer_free(t);
    unlink(path);
    return 0;
}
