/* loom serve: what /metrics reports, in Prometheus's text format: requests
 * and errors by route and status, a latency histogram per route and the
 * sizes of the batches the batchers formed. Counting is thread-safe (one
 * mutex; a request takes it twice). Knows routes by name, nothing of HTTP. */
#ifndef LOOM_SERVE_METRICS_H
#define LOOM_SERVE_METRICS_H

#include <stddef.h>

typedef struct loom_serve_metrics loom_serve_metrics;

/* routes[0..nroutes) are the names of the routes counted by index; the
 * strings must outlive the metrics. */
int loom_serve_metrics_new(loom_serve_metrics **out, const char *const *routes, int nroutes);
void loom_serve_metrics_free(loom_serve_metrics *m);

/* One answered request: its route, HTTP status and time taken. */
void loom_serve_metrics_request(loom_serve_metrics *m, int route, int status, double seconds);
/* One batch formed by the batcher `kind` ("nearest", "translate") of
 * `size` queries or sentences. */
void loom_serve_metrics_batch(loom_serve_metrics *m, int kind, size_t size);
enum { LOOM_SERVE_BATCH_NEAREST = 0, LOOM_SERVE_BATCH_TRANSLATE = 1, LOOM_SERVE_BATCH_KINDS = 2 };
/* Requests refused at the door (503) and current requests in flight. */
void loom_serve_metrics_inflight(loom_serve_metrics *m, int delta);

/* The exposition text (malloc'd), or NULL when out of memory. */
char *loom_serve_metrics_text(loom_serve_metrics *m);

#endif
