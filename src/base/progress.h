/* loom: progress on stderr for long work: percentage, rate, ETA and a
 * free-form detail (loss, epoch). Redrawn at most a few times a second.
 * The command line decides whether it is on (a terminal, --progress,
 * --quiet); library code only reports numbers to it. loom_progress_new and
 * _free are public (loom.h); a NULL progress is accepted everywhere. */
#ifndef LOOM_BASE_PROGRESS_H
#define LOOM_BASE_PROGRESS_H

#include "loom.h"

/* Reports `done` units so far; `detail` (may be NULL) is shown after the
 * rate, e.g. "loss 2.31  epoch 2/5". Thread-safe; cheap when not redrawn. */
void loom_progress_update(loom_progress *p, double done, const char *detail);
/* Is a redraw due? Lets callers skip building `detail` strings. */
int loom_progress_due(loom_progress *p);
void loom_progress_set_total(loom_progress *p, double total);
/* Prints a line of its own (above the progress line), e.g. an epoch summary. */
void loom_progress_note(loom_progress *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Draws the final state and ends the line. */
void loom_progress_finish(loom_progress *p, const char *detail);

/* Seconds from a monotonic clock. */
double loom_now(void);

#endif
