/* loom: a thread's share of the corpus as word ids (see idstream.h). */
#include "config.h"
#include "embed/idstream.h"
#include "base/alloc.h"

#include <stdlib.h>

void loom_idstream_start(loom_idstream *s, size_t limit)
{
    loom_idstream_drop(s);
    s->limit = limit;
    s->state = limit ? LOOM_IDS_RECORDING : LOOM_IDS_OFF;
}

void loom_idstream_drop(loom_idstream *s)
{
    free(s->ids);
    s->ids = NULL;
    s->n = s->cap = 0;
    s->state = LOOM_IDS_OFF;
}

void loom_idstream_push_slow(loom_idstream *s, int32_t id)
{
    if (s->state != LOOM_IDS_RECORDING)
        return;
    if (s->n >= s->limit ||
        loom_grow_max((void **)&s->ids, &s->cap, s->n + 1, s->limit, sizeof *s->ids) < 0) {
        loom_idstream_drop(s);
        return;
    }
    s->ids[s->n++] = id;
}

void loom_idstream_finish(loom_idstream *s, const int32_t *map, size_t nmap)
{
    if (s->state != LOOM_IDS_RECORDING) {
        loom_idstream_drop(s);
        return;
    }
    if (map) {
        size_t m = 0;
        for (size_t i = 0; i < s->n; i++) {
            int32_t id = s->ids[i];
            if (id >= 0 && (id = (size_t)id < nmap ? map[id] : -1) < 0)
                continue; /* a word the trainer does not know */
            s->ids[m++] = id;
        }
        s->n = m;
    }
    if (s->n < s->cap) {
        int32_t *p = loom_realloc(s->ids, s->n ? s->n : 1, sizeof *s->ids);
        if (p) {
            s->ids = p;
            s->cap = s->n ? s->n : 1;
        }
    }
    s->state = LOOM_IDS_READY;
}
