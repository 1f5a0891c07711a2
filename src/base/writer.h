/* loom: atomic output files. Everything loom writes goes to a temporary
 * name in the destination's directory and is renamed into place only when
 * complete, so a killed run never leaves a partial file under the final
 * name. A symbolic link is followed and its target replaced; a device or
 * FIFO (`/dev/null`, `/dev/stdout`) is written in place, never replaced; a
 * file declared an input (loom_writer_protect) is refused. Names ending in
 * ".gz" are gzip-compressed; "-" is stdout. */
#ifndef LOOM_BASE_WRITER_H
#define LOOM_BASE_WRITER_H

#include <stddef.h>

typedef struct loom_writer loom_writer;

enum {
    LOOM_WRITE_AUTO = 0,  /* gzip when the name ends in ".gz" */
    LOOM_WRITE_PLAIN = 1, /* never compress */
    LOOM_WRITE_GZIP = 2   /* always compress */
};

/* Creates the temporary file. Stale temporaries of `path` left by killed
 * runs (their process is gone) are removed first. */
int loom_writer_open(loom_writer **out, const char *path, int mode);
int loom_writer_write(loom_writer *w, const void *buf, size_t n);
int loom_writer_puts(loom_writer *w, const char *s);
int loom_writer_printf(loom_writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Flushes, fsyncs and renames into place; frees w whatever the outcome
 * (on failure the temporary is removed). */
int loom_writer_commit(loom_writer *w);
/* Removes the temporary and frees w. Accepts NULL. */
void loom_writer_abort(loom_writer *w);
/* The end of a writer whatever came before: commits w when rc is 0 (its
 * result is returned), otherwise aborts it and returns rc, so that
 * `return loom_writer_finish(w, rc);` ends a save. */
int loom_writer_finish(loom_writer *w, int rc);
const char *loom_writer_path(const loom_writer *w);

/* Checks, before long work starts, that `path` can be created: it is not
 * empty, not a declared input, its directory exists and is writable and
 * `path` is not a directory. */
int loom_check_writable(const char *path);

/* Declares `path` an input of this process: any later loom_check_writable
 * or loom_writer_open of the same file (same device and inode, whatever
 * the name) fails with a message naming both. A missing file or "-" is
 * ignored. Commands declare their input files before they check outputs. */
int loom_writer_protect(const char *path);

/* 1 when `path` ends with `suffix`. */
int loom_has_suffix(const char *path, const char *suffix);

/* Removes the temporaries of all open writers, and the directories
 * declared by loom_writer_temp_dir with the files named in them.
 * Async-signal-safe: the command line calls it from its SIGINT/SIGTERM
 * handler. */
void loom_writer_cleanup_all(void);

/* Declares `dir` a directory being filled under a temporary name (one that
 * is renamed into place when complete, as `loom export` writes DIR): until
 * loom_writer_temp_dir_end, loom_writer_cleanup_all removes the files of
 * `names` (NULL-terminated, names inside dir) and then dir. Returns a slot
 * (>= 0) for loom_writer_temp_dir_end, or LOOM_ENOMEM / LOOM_EINVAL (more
 * than a few such directories at once). */
int loom_writer_temp_dir(const char *dir, const char *const *names);
/* Forgets the directory of `slot` (after renaming or removing it); a
 * negative slot is ignored. */
void loom_writer_temp_dir_end(int slot);

#endif
