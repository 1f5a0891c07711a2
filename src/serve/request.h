/* loom serve: the API's request bodies. Turns a JSON body (jansson) into
 * one request struct per route, checking every bound (body size, nesting,
 * array lengths, sentences, k) and every type before anything else sees
 * it. A refusal is an HTTP status (400, 413, 422) and a one-line message.
 * Knows JSON and the limits, not models: names are resolved by the server,
 * words by the vectors. This is what tests/fuzz/fuzz_request drives. */
#ifndef LOOM_SERVE_REQUEST_H
#define LOOM_SERVE_REQUEST_H

#include <stddef.h>

#include <jansson.h>

/* What a request may ask for at most; each is a `loom serve` flag. */
typedef struct {
    size_t max_body;     /* bytes of a request body (413 above) */
    int max_depth;       /* nesting of JSON arrays and objects */
    size_t max_array;    /* elements of any one array */
    int max_sentences;   /* sentences (or texts) per request */
    size_t max_sentence; /* bytes of one sentence or text */
    int max_tokens;      /* tokens of one sentence to translate */
    int max_k;           /* neighbours per query */
    int max_query_words; /* positive + negative words of one query */
    int max_beam;        /* beam (and n-best) of a translate request */
} loom_serve_limits;

void loom_serve_limits_default(loom_serve_limits *l);

/* A refusal: the HTTP status and what was wrong ("words[3]: not a string"). */
typedef struct {
    int status;
    char message[256];
} loom_serve_status;

/* Sets st and returns st->status (printf formatting). */
int loom_serve_fail(loom_serve_status *st, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Parses a body: JSON text (valid UTF-8, no NUL in strings, one value),
 * within the limits; the result's type is not checked. Returns the root
 * (json_decref it) or NULL with st set (413 too large, 400 otherwise). */
json_t *loom_serve_parse_json(const char *body, size_t n, const loom_serve_limits *lim,
                              loom_serve_status *st);

/* ---- requests; strings point into `root`, released by _done ---- */

enum { LOOM_SERVE_MAX_K_DEFAULT = 10 };

/* POST /v1/nearest, /v1/analogy: each query has positive and negative words
 * and is answered on its own. /v1/nearest's "words" makes one query per
 * word; its "positive"/"negative" one combined query (gensim's
 * most_similar); /v1/analogy's "queries" [[a, b, c], ...] (or "a", "b",
 * "c") are positive [b, c], negative [a]. */
typedef struct {
    const char **pos, **neg; /* npos, nneg per query, padded with NULL */
} loom_serve_query;

typedef struct {
    json_t *root;
    const char *vectors; /* NULL: the server's only (or first) vectors */
    int method;          /* LOOM_ANALOGY_ADD or LOOM_ANALOGY_MUL (embed/query.h) */
    int k;
    long restrict_vocab; /* only the first N words are candidates; 0: all */
    int by_word;         /* "words": one query per word */
    int with_vectors;    /* "with_vectors": unit vectors of the query and neighbours too */
    size_t nqueries, npos, nneg;
    const char **pos; /* nqueries x npos, NULL padding */
    const char **neg; /* nqueries x nneg */
} loom_serve_nearest_req;

int loom_serve_parse_nearest(loom_serve_nearest_req *r, json_t *root, int analogy,
                             const loom_serve_limits *lim, loom_serve_status *st);
void loom_serve_nearest_done(loom_serve_nearest_req *r);

/* POST /v1/similarity {"vectors", "pairs": [[w1, w2], ...]} */
typedef struct {
    json_t *root;
    const char *vectors;
    size_t npairs;
    const char **words; /* npairs x 2 */
} loom_serve_similarity_req;

int loom_serve_parse_similarity(loom_serve_similarity_req *r, json_t *root,
                                const loom_serve_limits *lim, loom_serve_status *st);
void loom_serve_similarity_done(loom_serve_similarity_req *r);

/* Texts: POST /v1/tokenize {"text" | "texts", "model"?, "side"?,
 * "keep_case"?, "punct"?} ("model": a classifier or a translation model
 * whose tokenizer to use, "side": "src" (default) or "tgt" of a
 * translation model), POST /v1/classify {"classifier", "text" | "texts", "k",
 * "threshold"}. One text ("text") answers with one object, "texts" with
 * a list. */
typedef struct {
    json_t *root;
    const char *model; /* a model or classifier name, or NULL */
    int many;          /* "texts" was given */
    size_t ntexts;
    const char **texts;
    size_t *lens;
    int keep_case, punct_drop; /* tokenize; -1 when absent */
    int side;                  /* tokenize: 0 "src" (also when absent), 1 "tgt" */
    int k;                     /* classify: labels per text (default 1, 0: all) */
    double threshold;          /* classify: minimum probability (default 0) */
} loom_serve_texts_req;

int loom_serve_parse_tokenize(loom_serve_texts_req *r, json_t *root, const loom_serve_limits *lim,
                              loom_serve_status *st);
int loom_serve_parse_classify(loom_serve_texts_req *r, json_t *root, const loom_serve_limits *lim,
                              loom_serve_status *st);
void loom_serve_texts_done(loom_serve_texts_req *r);

/* POST /v1/translate {"model", "src": [sentences], "beam", "nbest",
 * "alpha", "align"}; POST /translator/translate (OpenNMT-py) is a list of
 * {"src", "id"} with one model id for all. Absent numbers are -1 (the
 * translator's defaults apply). */
typedef struct {
    json_t *root;
    const char *model; /* name, or NULL for the first model */
    size_t n;
    const char **src;
    size_t *lens;
    int beam, nbest, align;
    double alpha; /* NAN when absent */
} loom_serve_translate_req;

int loom_serve_parse_translate(loom_serve_translate_req *r, json_t *root,
                               const loom_serve_limits *lim, loom_serve_status *st);
/* OpenNMT-py's body: [{"src": "...", "id": 100}, ...]; the id is a number
 * or a string naming the model (every entry the same). */
int loom_serve_parse_onmt(loom_serve_translate_req *r, json_t *root, const loom_serve_limits *lim,
                          loom_serve_status *st);
void loom_serve_translate_done(loom_serve_translate_req *r);

#endif
