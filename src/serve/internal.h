/* loom serve: what the server's files share (not installed). A request's
 * life: server.c gathers the body, a route's handler parses it and either
 * answers at once or hands a job to a batcher and suspends the connection;
 * the batcher's worker fills the job and resumes the connection; the
 * handler is called again and answers from the job. */
#ifndef LOOM_SERVE_INTERNAL_H
#define LOOM_SERVE_INTERNAL_H

#include "serve/batcher.h"
#include "serve/metrics.h"
#include "serve/server.h"
#include "seq/model_file.h"
#include "seq/translator.h"

#include <jansson.h>
#include <pthread.h>
#include <stddef.h>

typedef struct {
    char *name, *path;
    struct loom_vectors *v;
    struct loom_index *ix;
} served_vectors;

typedef struct {
    char *name, *path;
    char *info;              /* loom info's description */
    loom_seq_bundle *bundle; /* the model, its vocabularies and tokenizers */
    loom_translator *translator;
} served_model;

void serve_model_free(served_model *m);

typedef struct {
    char *name, *path;
    char *info;
    struct loom_classifier *m;
} served_classifier;

struct loom_server {
    loom_serve_opts o;
    char host[256];
    served_vectors *vec;
    size_t nvec, capvec;
    served_model *mod;
    size_t nmod, capmod;
    served_classifier *cls;
    size_t ncls, capcls;
    loom_serve_metrics *metrics;
    loom_serve_batcher *nearest_batcher, *translate_batcher;
    struct MHD_Daemon *daemon;
    int port;
    int stopped;
    pthread_mutex_t mu; /* in flight count */
    pthread_cond_t idle;
    long inflight;
};

/* A request in progress (libmicrohttpd's per-request pointer). */
typedef struct request request;

/* The answer a handler gives: a status and a JSON body (taken over), or a
 * job to wait for (the handler is called again once it is complete). */
typedef struct {
    int status;
    json_t *body;
    loom_serve_job *wait;        /* not NULL: suspend until this job completes */
    loom_serve_batcher *batcher; /* ... on this batcher */
} answer;

/* JSON {"error": {"code", "message"}} answers. */
answer serve_error(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
answer serve_error_st(const loom_serve_status *st);
answer serve_ok(json_t *body);

/* The first call of a handler: parses the body into *root and sets
 * *state to a zeroed state of `size` bytes, which it returns. NULL with
 * *err the answer to send (a 4xx for the body, 503 for memory). */
void *serve_begin(loom_server *s, const char *body, size_t n, size_t size, void **state,
                  json_t **root, answer *err);

/* Handlers: `body` is the request body (NUL-terminated, n bytes); `state`
 * is the handler's own pointer for the request, NULL on the first call,
 * freed by `done` (called once at the end, may be NULL). */
typedef struct {
    answer (*handle)(loom_server *s, const char *body, size_t n, void **state);
    void (*done)(void *state);
} handler;

extern const handler serve_nearest_handler, serve_analogy_handler, serve_similarity_handler,
    serve_translate_handler, serve_onmt_handler, serve_classify_handler, serve_tokenize_handler;

/* The nearest batcher's function (vectors.c) and the translate one. */
void serve_nearest_batch(void *ctx, loom_serve_job **jobs, int n, size_t items);
void serve_translate_batch(void *ctx, loom_serve_job **jobs, int n, size_t items);
/* The translate batcher's workers: continuous batching (translate.c). */
void serve_translate_loop(void *ctx, loom_serve_batcher *b);

/* Finds a served thing by name (NULL name: the first); NULL when absent. */
served_vectors *serve_find_vectors(loom_server *s, const char *name);
served_model *serve_find_model(loom_server *s, const char *name);
served_classifier *serve_find_classifier(loom_server *s, const char *name);

/* The page at GET / (page.c). */
extern const char serve_page_html[];

#endif
