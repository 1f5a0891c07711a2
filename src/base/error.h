/* loom: errors. Every library function returns 0 or a negative LOOM_E* code
 * and leaves the detail (file, line, byte offset) in a thread-local message.
 * The library never prints; the command line prints and picks the exit code. */
#ifndef LOOM_BASE_ERROR_H
#define LOOM_BASE_ERROR_H

#include <stdarg.h>

enum {
    LOOM_OK = 0,
    LOOM_EINVAL = -1,   /* bad argument or option value */
    LOOM_EIO = -2,      /* a read or write failed */
    LOOM_ENOMEM = -3,   /* out of memory */
    LOOM_EFORMAT = -4,  /* a file is malformed, truncated or corrupt */
    LOOM_ENOTFOUND = -5 /* a file, word or key does not exist */
};

/* Sets the thread's message with printf formatting; returns `code` so that
 * `return loom_error(LOOM_EIO, "%s: %s", path, strerror(errno));` reads well. */
int loom_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int loom_verror(int code, const char *fmt, va_list ap);

/* Prefixes the current message with "PATH: " (or "PATH:LINE: " when line > 0),
 * for callers that know the file but not the detail. Returns `code`. */
int loom_error_prefix(int code, const char *path, long long line);

/* The message of the last error on this thread ("" when none). */
const char *loom_error_message(void);

/* A short name for a code ("invalid argument", "I/O error", ...). */
const char *loom_strerror(int code);

void loom_error_clear(void);

#endif
