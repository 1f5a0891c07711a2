/* loom: one trainer thread's share of the corpus held in memory as word
 * ids, with a mark at each end of sentence, so that the epochs after the
 * first replay it instead of reading and tokenizing the text again and
 * looking every token up in the vocabulary. Recorded as the text is read
 * (in the vocabulary pass, in ids of the thread's own count, then mapped to
 * the trainer's; or in the first epoch); dropped, not an error, when it
 * would pass its bound or memory runs out. Knows ids, not words or files. */
#ifndef LOOM_EMBED_IDSTREAM_H
#define LOOM_EMBED_IDSTREAM_H

#include <stddef.h>
#include <stdint.h>

/* The entry at each end of sentence; every other entry is an id >= 0. */
#define LOOM_IDS_EOL (-1)

enum { LOOM_IDS_OFF = 0, LOOM_IDS_RECORDING, LOOM_IDS_READY };

typedef struct {
    int32_t *ids;
    size_t n, cap;
    size_t limit; /* entries at most */
    int state;    /* LOOM_IDS_*: OFF also when dropped */
} loom_idstream;

/* Starts recording, up to `limit` entries (0: stays OFF). */
void loom_idstream_start(loom_idstream *s, size_t limit);
/* Frees the entries; the stream is OFF. */
void loom_idstream_drop(loom_idstream *s);

void loom_idstream_push_slow(loom_idstream *s, int32_t id);

/* Appends an id or LOOM_IDS_EOL while recording; drops the stream when it
 * would pass its limit or cannot grow. */
static inline void loom_idstream_push(loom_idstream *s, int32_t id)
{
    if (s->n < s->cap)
        s->ids[s->n++] = id;
    else
        loom_idstream_push_slow(s, id);
}

/* Ends recording: READY, unless it was dropped. When map is not NULL,
 * every id i becomes map[i] (0 <= i < nmap), and entries whose map[i] is
 * negative (words the trainer does not know) are removed; the ends of
 * sentence stay. The array is then shrunk to what it holds. */
void loom_idstream_finish(loom_idstream *s, const int32_t *map, size_t nmap);

#endif
