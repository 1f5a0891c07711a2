/* loom serve: the HTTP side. libmicrohttpd runs a pool of threads that
 * read requests; this file routes them, gathers bodies within the size
 * limit, calls the route's handler, suspends connections whose answer waits
 * in a batcher and resumes them when it is ready, and counts everything for
 * /metrics. Handlers live in vectors.c, texts.c and translate.c. */
#include "config.h"
#include "serve/internal.h"
#include "serve/mhd.h"

#include "base/alloc.h"
#include "base/error.h"
#include "base/progress.h"
#include "classify/model.h"
#include "core/blas.h"
#include "embed/query.h"
#include "embed/vectors.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

void loom_serve_defaults(loom_serve_opts *o)
{
    memset(o, 0, sizeof *o);
    o->host = "127.0.0.1";
    o->port = 8080;
    long c = sysconf(_SC_NPROCESSORS_ONLN);
    o->threads = c > 0 ? (int)c : 1;
    o->http_threads = 2;
    o->max_connections = 256;
    o->timeout = 10;
    o->batch_wait_ms = 2;
    o->nearest_wait_ms = 0;
    o->max_batch = 64;
    o->max_pending = 4096;
    loom_serve_limits_default(&o->limits);
}

/* ---- answers ---- */

answer serve_error(int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* a message quoting the request's bytes may cut a UTF-8 sequence */
    json_t *m = json_string(msg);
    if (!m)
        m = json_string("(the message is not valid UTF-8)");
    return (answer){status, json_pack("{s:{s:i,s:o}}", "error", "code", status, "message", m), NULL,
                    NULL};
}

answer serve_error_st(const loom_serve_status *st)
{
    return serve_error(st->status ? st->status : 400, "%s", st->message);
}

answer serve_ok(json_t *body)
{
    if (!body)
        return serve_error(503, "out of memory");
    return (answer){200, body, NULL, NULL};
}

void *serve_begin(loom_server *s, const char *body, size_t n, size_t size, void **state,
                  json_t **root, answer *err)
{
    loom_serve_status bad = {0};
    if (!(*root = loom_serve_parse_json(body, n, &s->o.limits, &bad))) {
        *err = serve_error_st(&bad);
        return NULL;
    }
    if (!(*state = loom_calloc(1, size))) {
        json_decref(*root);
        *err = serve_error(503, "out of memory");
    }
    return *state;
}

/* ---- what is served ---- */

static served_vectors *find_vec(loom_server *s, const char *name)
{
    for (size_t i = 0; i < s->nvec; i++)
        if (!name || strcmp(s->vec[i].name, name) == 0)
            return &s->vec[i];
    return NULL;
}
served_vectors *serve_find_vectors(loom_server *s, const char *name)
{
    return find_vec(s, name);
}
served_model *serve_find_model(loom_server *s, const char *name)
{
    for (size_t i = 0; i < s->nmod; i++)
        if (!name || strcmp(s->mod[i].name, name) == 0)
            return &s->mod[i];
    return NULL;
}
served_classifier *serve_find_classifier(loom_server *s, const char *name)
{
    for (size_t i = 0; i < s->ncls; i++)
        if (!name || strcmp(s->cls[i].name, name) == 0)
            return &s->cls[i];
    return NULL;
}

static int check_name(const char *name)
{
    if (!name || !*name || strlen(name) > 128)
        return loom_error(LOOM_EINVAL, "a name must have 1 to 128 bytes");
    return 0;
}

static int name_taken(loom_server *s, const char *name)
{
    if (find_vec(s, name) || serve_find_model(s, name) || serve_find_classifier(s, name))
        return loom_error(LOOM_EINVAL, "the name '%s' is given twice", name);
    return 0;
}

int loom_server_add_vectors(loom_server *s, const char *name, const char *path)
{
    int rc = check_name(name);
    if (rc == 0)
        rc = name_taken(s, name);
    if (rc == 0)
        rc = loom_grow((void **)&s->vec, &s->capvec, s->nvec + 1, sizeof *s->vec);
    if (rc < 0)
        return rc;
    served_vectors *sv = &s->vec[s->nvec];
    memset(sv, 0, sizeof *sv);
    rc = loom_vectors_load(&sv->v, path);
    if (rc == 0)
        rc = loom_index_new(&sv->ix, sv->v, LOOM_INDEX_IN_PLACE | LOOM_INDEX_BATCH_INVARIANT,
                            s->o.threads);
    if (rc == 0 && (!(sv->name = loom_strdup(name)) || !(sv->path = loom_strdup(path))))
        rc = LOOM_ENOMEM;
    if (rc < 0) {
        loom_index_free(sv->ix);
        loom_vectors_free(sv->v);
        free(sv->name);
        free(sv->path);
        return rc;
    }
    s->nvec++;
    return 0;
}

int loom_server_add_classifier(loom_server *s, const char *name, const char *path)
{
    int rc = check_name(name);
    if (rc == 0)
        rc = name_taken(s, name);
    if (rc == 0)
        rc = loom_grow((void **)&s->cls, &s->capcls, s->ncls + 1, sizeof *s->cls);
    if (rc < 0)
        return rc;
    served_classifier *c = &s->cls[s->ncls];
    memset(c, 0, sizeof *c);
    rc = loom_classifier_load(&c->m, path);
    if (rc == 0)
        rc = loom_cls_describe(&c->info, path);
    if (rc == 0 && (!(c->name = loom_strdup(name)) || !(c->path = loom_strdup(path))))
        rc = LOOM_ENOMEM;
    if (rc < 0) {
        loom_classifier_free(c->m);
        free(c->info);
        free(c->name);
        free(c->path);
        return rc;
    }
    s->ncls++;
    return 0;
}

/* ---- routes ---- */

typedef enum {
    R_PAGE,
    R_HEALTH,
    R_METRICS,
    R_MODELS,
    R_NEAREST,
    R_ANALOGY,
    R_SIMILARITY,
    R_TOKENIZE,
    R_CLASSIFY,
    R_TRANSLATE,
    R_ONMT,
    R_OTHER,
    NROUTES
} route_id;

static const char *const route_names[NROUTES] = {"/",
                                                 "/healthz",
                                                 "/metrics",
                                                 "/v1/models",
                                                 "/v1/nearest",
                                                 "/v1/analogy",
                                                 "/v1/similarity",
                                                 "/v1/tokenize",
                                                 "/v1/classify",
                                                 "/v1/translate",
                                                 "/translator/translate",
                                                 "other"};

typedef struct {
    route_id id;
    const char *method;
    const handler *h; /* POST routes */
} route;

static const route routes[] = {
    {R_PAGE, "GET", NULL},
    {R_HEALTH, "GET", NULL},
    {R_METRICS, "GET", NULL},
    {R_MODELS, "GET", NULL},
    {R_NEAREST, "POST", &serve_nearest_handler},
    {R_ANALOGY, "POST", &serve_analogy_handler},
    {R_SIMILARITY, "POST", &serve_similarity_handler},
    {R_TOKENIZE, "POST", &serve_tokenize_handler},
    {R_CLASSIFY, "POST", &serve_classify_handler},
    {R_TRANSLATE, "POST", &serve_translate_handler},
    {R_ONMT, "POST", &serve_onmt_handler},
};

static const route *find_route(const char *url, route_id *id)
{
    *id = R_OTHER;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (strcmp(url, route_names[routes[i].id]) == 0) {
            *id = routes[i].id;
            return &routes[i];
        }
    return NULL;
}

struct request {
    loom_server *s;
    struct MHD_Connection *conn;
    route_id id;
    const route *rt;
    double t0;
    int status;
    char *body;
    size_t n, cap;
    int too_large;
    int suspended;
    char refused[96]; /* why the batcher refused the request (503), else "" */
    void *state;
};

static enum MHD_Result send_text(request *r, int status, const char *type, char *text, size_t len,
                                 enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *resp = serve_mhd.create_response_from_buffer(len, text, mode);
    if (!resp) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free(text);
        return MHD_NO;
    }
    serve_mhd.add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (status == 405)
        serve_mhd.add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->rt ? r->rt->method : "GET");
    r->status = status;
    enum MHD_Result ok = serve_mhd.queue_response(r->conn, (unsigned)status, resp);
    serve_mhd.destroy_response(resp);
    return ok;
}

static enum MHD_Result send_answer(request *r, answer a)
{
    /* most answers (a nearest query's ten neighbours: about 500 bytes) fit
     * a buffer on the stack, dumped once and copied once by MHD, instead of
     * json_dumps' string grown by doubling and then a realloc for the
     * newline; a larger one is dumped again into one malloc of its size */
    enum { SMALL = 8192 };
    char small[SMALL];
    const size_t flags = JSON_COMPACT | JSON_REAL_PRECISION(9);
    size_t len = a.body ? json_dumpb(a.body, small, SMALL - 1, flags) : 0;
    char *text = small;
    enum MHD_ResponseMemoryMode mode = MHD_RESPMEM_MUST_COPY;
    if (len > SMALL - 1 && (text = malloc(len + 1)) != NULL) {
        len = json_dumpb(a.body, text, len, flags);
        mode = MHD_RESPMEM_MUST_FREE;
    }
    json_decref(a.body);
    if (len == 0 || !text) {
        free(text == small ? NULL : text);
        static const char oom[] = "{\"error\":{\"code\":503,\"message\":\"out of memory\"}}";
        return send_text(r, 503, "application/json", (char *)oom, sizeof oom - 1,
                         MHD_RESPMEM_PERSISTENT);
    }
    /* a final newline, as curl users expect */
    text[len++] = '\n';
    return send_text(r, a.status, "application/json", text, len, mode);
}

static answer models_answer(loom_server *s)
{
    json_t *vec = json_array(), *mod = json_array(), *cls = json_array();
    for (size_t i = 0; i < s->nvec; i++)
        json_array_append_new(
            vec, json_pack("{s:s,s:s,s:I,s:I,s:s,s:b}", "name", s->vec[i].name, "path",
                           s->vec[i].path, "words", (json_int_t)loom_vectors_count(s->vec[i].v),
                           "dim", (json_int_t)loom_vectors_dim(s->vec[i].v), "format",
                           loom_vectors_format(s->vec[i].v) == LOOM_VEC_TEXT ? "text" : "binary",
                           "gzip", loom_vectors_gzip(s->vec[i].v)));
    for (size_t i = 0; i < s->nmod; i++)
        json_array_append_new(mod, json_pack("{s:s,s:s,s:s}", "name", s->mod[i].name, "path",
                                             s->mod[i].path, "info", s->mod[i].info));
    for (size_t i = 0; i < s->ncls; i++)
        json_array_append_new(cls, json_pack("{s:s,s:s,s:s}", "name", s->cls[i].name, "path",
                                             s->cls[i].path, "info", s->cls[i].info));
    return serve_ok(json_pack("{s:o,s:o,s:o}", "vectors", vec, "models", mod, "classifiers", cls));
}

static enum MHD_Result answer_get(request *r)
{
    loom_server *s = r->s;
    switch (r->id) {
    case R_PAGE:
        return send_text(r, 200, "text/html; charset=utf-8", (char *)serve_page_html,
                         strlen(serve_page_html), MHD_RESPMEM_PERSISTENT);
    case R_HEALTH:
        return send_answer(r, serve_ok(json_pack("{s:s}", "status", "ok")));
    case R_METRICS: {
        char *t = loom_serve_metrics_text(s->metrics);
        if (!t)
            return send_answer(r, serve_error(503, "out of memory"));
        return send_text(r, 200, "text/plain; version=0.0.4", t, strlen(t), MHD_RESPMEM_MUST_FREE);
    }
    case R_MODELS:
        return send_answer(r, models_answer(s));
    default:
        return send_answer(r, serve_error(404, "no such route"));
    }
}

static void resume(loom_serve_job *j)
{
    request *r = j->owner;
    serve_mhd.resume_connection(r->conn);
}

/* The body is complete (or this is a resumed request): ask the handler. */
static enum MHD_Result answer_post(request *r)
{
    if (r->refused[0])
        return send_answer(r, serve_error(503, "%s", r->refused));
    if (r->too_large)
        return send_answer(
            r, serve_error(413, "the body is larger than %zu bytes", r->s->o.limits.max_body));
    answer a = r->rt->h->handle(r->s, r->body ? r->body : "", r->n, &r->state);
    if (!a.wait)
        return send_answer(r, a);
    a.wait->complete = resume;
    a.wait->owner = r;
    serve_mhd.suspend_connection(r->conn);
    r->suspended = 1;
    if (!a.batcher || loom_serve_batcher_submit(a.batcher, a.wait) != 0) {
        /* shutting down, or busy: the batcher says which */
        snprintf(r->refused, sizeof r->refused, "%s",
                 a.batcher ? loom_error_message() : "the server is busy; try again");
        serve_mhd.resume_connection(r->conn);
    }
    return MHD_YES;
}

static int append_body(request *r, const char *data, size_t n)
{
    size_t max = r->s->o.limits.max_body;
    if (r->too_large || r->n + n > max) {
        r->too_large = 1;
        return 0;
    }
    if (loom_grow((void **)&r->body, &r->cap, r->n + n + 1, 1) != 0)
        return -1;
    memcpy(r->body + r->n, data, n);
    r->n += n;
    r->body[r->n] = 0;
    return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    loom_server *s = cls;
    request *r = *con_cls;
    if (!r) {
        r = loom_calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        r->s = s;
        r->conn = conn;
        r->t0 = loom_now();
        r->rt = find_route(url, &r->id);
        *con_cls = r;
        pthread_mutex_lock(&s->mu);
        s->inflight++;
        pthread_mutex_unlock(&s->mu);
        loom_serve_metrics_inflight(s->metrics, 1);
        if (!r->rt)
            return send_answer(r, serve_error(404, "no such route: see GET /v1/models and the "
                                                   "README for the API"));
        if (strcmp(method, r->rt->method) != 0)
            return send_answer(r, serve_error(405, "%s takes %s, not %s", route_names[r->id],
                                              r->rt->method, method));
        if (!r->rt->h)
            return answer_get(r);
        const char *cl = serve_mhd.lookup_connection_value(conn, MHD_HEADER_KIND,
                                                           MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > s->o.limits.max_body)
            return send_answer(r, serve_error(413, "the body (%s bytes) is larger than %zu bytes",
                                              cl, s->o.limits.max_body));
        return MHD_YES;
    }
    if (*upload_size) {
        if (append_body(r, upload, *upload_size) != 0)
            return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    return answer_post(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode why)
{
    (void)conn, (void)why;
    loom_server *s = cls;
    request *r = *con_cls;
    if (!r)
        return;
    loom_serve_metrics_request(s->metrics, r->id, r->status ? r->status : 500, loom_now() - r->t0);
    loom_serve_metrics_inflight(s->metrics, -1);
    if (r->rt && r->rt->h && r->rt->h->done)
        r->rt->h->done(r->state);
    free(r->body);
    free(r);
    *con_cls = NULL;
    pthread_mutex_lock(&s->mu);
    if (--s->inflight == 0)
        pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->mu);
}

/* libmicrohttpd's own messages (a client that broke the protocol) are not
 * the library's to print. */
static void quiet_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls, (void)fmt, (void)ap;
}

/* ---- life ---- */

int loom_server_new(loom_server **out, const loom_serve_opts *o)
{
    *out = NULL;
    int rc = serve_mhd_load();
    if (rc < 0)
        return rc;
    loom_server *s = loom_calloc(1, sizeof *s);
    if (!s)
        return LOOM_ENOMEM;
    s->o = *o;
    snprintf(s->host, sizeof s->host, "%s", o->host ? o->host : "127.0.0.1");
    s->o.host = s->host;
    if (s->o.threads <= 0)
        s->o.threads = 1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->idle, NULL);
    rc = loom_serve_metrics_new(&s->metrics, route_names, NROUTES);
    if (rc < 0) {
        loom_server_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* Each connection's memory pool holds its request line and headers, the
 * body's read buffer (the body is handed over in pieces and gathered by
 * append_body) and the response's headers. libmicrohttpd's default is 32 KB,
 * which it zeroes for every request on a kept-alive connection: 8 KB holds
 * any sane request's headers (nginx's default header buffer is 8 KB too)
 * at a quarter of that cost. */
enum { CONNECTION_MEMORY = 8192 };

int loom_server_start(loom_server *s)
{
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    char port[16];
    snprintf(port, sizeof port, "%d", s->o.port);
    int e = getaddrinfo(s->host, port, &hints, &ai);
    if (e != 0)
        return loom_error(LOOM_EINVAL, "--host %s: %s", s->host, gai_strerror(e));
    /* the searches and the decoder run their own threads: OpenBLAS's
     * threads would only compete with them */
    loom_blas_set_threads(1);
    /* Nearest: one worker, and by default no wait. One search runs at a
     * time and the queries that come during it are the next batch, taken
     * as soon as it ends: at 64 connections the other core reads requests
     * and writes answers meanwhile. With a worker per thread, each batch
     * waiting --batch-wait-ms for company, the clients' requests spent
     * their time waiting on the timer and the cores idled (about 1.1 of 2
     * busy; bench-serve's nearest at 64 connections 10,400-10,900 queries/s
     * against 16,800-18,800 this way, 0.098-0.105 ms of server CPU a query
     * against 0.084-0.093). A request of more than --max-batch queries
     * is still searched on every thread (the index's --threads). */
    int rc =
        loom_serve_batcher_new(&s->nearest_batcher, serve_nearest_batch, s, (size_t)s->o.max_batch,
                               s->o.nearest_wait_ms, (size_t)s->o.max_pending, 1);
    /* a batch of 12-63 queries is split between two threads (embed/query.c):
     * the second half goes to the batcher's helper thread, not to a thread
     * started per batch (about 200 a second at 64 connections); without
     * it (no thread to be had) the searches start their threads as before */
    if (rc == 0 && s->o.threads == 2 && s->nvec > 0 &&
        loom_serve_batcher_add_helper(s->nearest_batcher) == 0)
        for (size_t i = 0; i < s->nvec; i++)
            loom_index_set_fanout(s->vec[i].ix, loom_serve_batcher_fanout, s->nearest_batcher);
    /* translate: a batcher worker per compute thread, each batch on its
     * own thread: while one batch is decoded the next one gathers (with one
     * worker running each batch on every thread, the cores idled while the
     * clients of the last batch sent their next requests) */
    if (rc == 0 && s->nmod > 0)
        rc = loom_serve_batcher_new_loop(&s->translate_batcher, serve_translate_loop, s,
                                         (size_t)s->o.max_batch, s->o.batch_wait_ms,
                                         (size_t)s->o.max_pending, s->o.threads);
    if (rc < 0) {
        freeaddrinfo(ai);
        return rc;
    }
    /* poll(), not epoll: libmicrohttpd 0.9.75's MHD_quiesce_daemon takes
     * the listening socket out of each pool thread's epoll set while the
     * thread may be doing the same, and aborts the process when it loses
     * that race ("Failed to remove listen FD from epoll set", about 3 in
     * 1,000 SIGTERMs that came with connections); with poll() quiescing
     * only wakes the threads. A thread polls at most --max-connections
     * sockets. */
    unsigned flags = MHD_USE_POLL | MHD_USE_INTERNAL_POLLING_THREAD | MHD_ALLOW_SUSPEND_RESUME;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    s->daemon = serve_mhd.start_daemon(
        flags, (uint16_t)s->o.port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(s->o.http_threads > 0 ? s->o.http_threads : 1),
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)s->o.max_connections,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)s->o.timeout, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, s, MHD_OPTION_EXTERNAL_LOGGER, quiet_log, NULL, MHD_OPTION_END);
    e = errno;
    freeaddrinfo(ai);
    if (!s->daemon)
        return loom_error(LOOM_EIO, "cannot listen on %s port %d: %s", s->host, s->o.port,
                          e ? strerror(e) : "libmicrohttpd refused the options");
    const union MHD_DaemonInfo *info =
        serve_mhd.get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : s->o.port;
    return 0;
}

int loom_server_port(const loom_server *s)
{
    return s->port;
}

void loom_server_stop(loom_server *s, int drain_ms)
{
    if (!s || !s->daemon || s->stopped)
        return;
    s->stopped = 1;
    /* libmicrohttpd's thread may still use the listening socket until the
     * daemon stops, so it is closed only then (closed here, its number
     * could be reused under the thread); shut down, it takes no more
     * connections: a client is refused at once instead of waiting in the
     * backlog for an accept that never comes */
    MHD_socket fd = serve_mhd.quiesce_daemon(s->daemon);
    if (fd != MHD_INVALID_SOCKET)
        shutdown(fd, SHUT_RDWR);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    long long ns = until.tv_nsec + (long long)drain_ms * 1000000;
    until.tv_sec += (time_t)(ns / 1000000000);
    until.tv_nsec = (long)(ns % 1000000000);
    pthread_mutex_lock(&s->mu);
    while (s->inflight > 0)
        if (pthread_cond_timedwait(&s->idle, &s->mu, &until) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&s->mu);
    /* the batchers finish what they hold (and resume its connections)
     * before the daemon goes; they refuse (503) what still comes on
     * connections kept alive, and are freed after the daemon */
    loom_serve_batcher_stop(s->nearest_batcher);
    loom_serve_batcher_stop(s->translate_batcher);
    serve_mhd.stop_daemon(s->daemon);
    s->daemon = NULL;
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
}

void loom_server_free(loom_server *s)
{
    if (!s)
        return;
    loom_server_stop(s, 0);
    loom_serve_batcher_free(s->nearest_batcher);
    loom_serve_batcher_free(s->translate_batcher);
    for (size_t i = 0; i < s->nvec; i++) {
        loom_index_free(s->vec[i].ix);
        loom_vectors_free(s->vec[i].v);
        free(s->vec[i].name);
        free(s->vec[i].path);
    }
    free(s->vec);
    for (size_t i = 0; i < s->ncls; i++) {
        loom_classifier_free(s->cls[i].m);
        free(s->cls[i].info);
        free(s->cls[i].name);
        free(s->cls[i].path);
    }
    free(s->cls);
    for (size_t i = 0; i < s->nmod; i++)
        serve_model_free(&s->mod[i]);
    free(s->mod);
    loom_serve_metrics_free(s->metrics);
    pthread_cond_destroy(&s->idle);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
