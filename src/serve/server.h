/* loom serve: word vectors, translation models and classifiers behind an
 * HTTP JSON API and a web page (libmicrohttpd in thread-pool mode, jansson).
 * The server holds what it loaded read-only; nearest queries and sentences
 * to translate from many connections meet in batchers (batcher.h), so one
 * GEMM answers many clients. It never takes a file path or a command from
 * a request. The routes are listed in `loom help serve` and README.md.
 *
 *   loom_serve_opts o;
 *   loom_serve_defaults(&o);
 *   o.port = 0; // any free port
 *   loom_server *s;
 *   if (loom_server_new(&s, &o) == 0 &&
 *       loom_server_add_vectors(s, "en", "vectors.bin") == 0 &&
 *       loom_server_start(s) == 0) {
 *       printf("port %d\n", loom_server_port(s));
 *       ... wait for a signal ...
 *       loom_server_stop(s, 10000);
 *   }
 *   loom_server_free(s); */
#ifndef LOOM_SERVE_SERVER_H
#define LOOM_SERVE_SERVER_H

#include "serve/request.h"

typedef struct {
    const char *host;    /* address to listen on (default 127.0.0.1) */
    int port;            /* default 8080; 0 picks a free port */
    int threads;         /* compute threads (searches, decoding); default: cores */
    int http_threads;    /* libmicrohttpd's pool (parsing, answers); default 2 */
    int max_connections; /* open connections at once (default 256) */
    int timeout;         /* seconds an idle or slow connection is kept (default 10) */
    int batch_wait_ms;   /* how long a sentence waits for company (default 2) */
    int nearest_wait_ms; /* how long a nearest query waits for company (default 0) */
    int max_batch;       /* queries or sentences per batch (default 64) */
    int max_pending;     /* queued queries or sentences before 503 (default 4096) */
    loom_serve_limits limits;
} loom_serve_opts;

void loom_serve_defaults(loom_serve_opts *o);

typedef struct loom_server loom_server;

int loom_server_new(loom_server **out, const loom_serve_opts *o);
void loom_server_free(loom_server *s); /* stops it first; accepts NULL */

/* What to serve, before loom_server_start. Names are what requests use
 * ("vectors", "model", "classifier" fields); errors name the file. */
int loom_server_add_vectors(loom_server *s, const char *name, const char *path);
int loom_server_add_model(loom_server *s, const char *name, const char *path);
int loom_server_add_classifier(loom_server *s, const char *name, const char *path);

/* Starts listening and answering (on libmicrohttpd's threads). */
int loom_server_start(loom_server *s);
/* The port listened on (the one picked when 0 was asked). */
int loom_server_port(const loom_server *s);
/* Stops accepting connections, lets the requests in flight finish (for at
 * most drain_ms), then closes everything. Safe to call twice. */
void loom_server_stop(loom_server *s, int drain_ms);

#endif
