/* libFuzzer target for loom serve's request bodies (src/serve/request.c):
 * any bytes go through the JSON reader with the default limits and then
 * through every route's parser. A refusal must carry a 4xx status and a
 * message; an accepted request must hold what its handler relies on. */
#include "config.h"
#include "serve/request.h"
#include "fuzz_util.h"

#include <string.h>

static void refused_ok(const loom_serve_status *st)
{
    if (st->status < 400 || st->status > 503 || !st->message[0])
        abort();
}

static void check_nearest(json_t *root, int analogy, const loom_serve_limits *lim)
{
    loom_serve_nearest_req r;
    loom_serve_status st = {0};
    if (loom_serve_parse_nearest(&r, root, analogy, lim, &st) == 0) {
        if (r.nqueries == 0 || r.npos == 0 || r.k < 1 || r.k > lim->max_k)
            abort();
        /* every query has its first positive word */
        for (size_t q = 0; q < r.nqueries; q++)
            if (!r.pos[q * r.npos] || strlen(r.pos[q * r.npos]) > lim->max_sentence)
                abort();
    } else {
        refused_ok(&st);
    }
    loom_serve_nearest_done(&r);
}

static void check_texts(json_t *root, int classify, const loom_serve_limits *lim)
{
    loom_serve_texts_req r;
    loom_serve_status st = {0};
    int rc = classify ? loom_serve_parse_classify(&r, root, lim, &st)
                      : loom_serve_parse_tokenize(&r, root, lim, &st);
    if (rc == 0) {
        if (r.ntexts == 0 || r.ntexts > (size_t)lim->max_sentences)
            abort();
        for (size_t i = 0; i < r.ntexts; i++)
            if (!r.texts[i] || r.lens[i] > lim->max_sentence || strlen(r.texts[i]) != r.lens[i])
                abort();
    } else {
        refused_ok(&st);
    }
    loom_serve_texts_done(&r);
}

static void check_translate(json_t *root, int onmt, const loom_serve_limits *lim)
{
    loom_serve_translate_req r;
    loom_serve_status st = {0};
    int rc = onmt ? loom_serve_parse_onmt(&r, root, lim, &st)
                  : loom_serve_parse_translate(&r, root, lim, &st);
    if (rc == 0) {
        if (r.n == 0 || r.n > (size_t)lim->max_sentences || r.beam > lim->max_beam)
            abort();
        for (size_t i = 0; i < r.n; i++)
            if (!r.src[i] || r.lens[i] > lim->max_sentence)
                abort();
    } else {
        refused_ok(&st);
    }
    loom_serve_translate_done(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    loom_serve_limits lim;
    loom_serve_limits_default(&lim);
    lim.max_array = 1000;
    loom_serve_status st = {0};
    json_t *root = loom_serve_parse_json((const char *)data, size, &lim, &st);
    if (!root) {
        refused_ok(&st);
        return 0;
    }
    check_nearest(root, 0, &lim);
    check_nearest(root, 1, &lim);
    loom_serve_similarity_req s;
    if (loom_serve_parse_similarity(&s, root, &lim, &st) == 0 && s.npairs == 0)
        abort();
    loom_serve_similarity_done(&s);
    check_texts(root, 0, &lim);
    check_texts(root, 1, &lim);
    check_translate(root, 0, &lim);
    check_translate(root, 1, &lim);
    json_decref(root);
    return 0;
}
