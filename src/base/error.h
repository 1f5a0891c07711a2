/* loom: errors, the library's side. Every library function returns 0 or a
 * negative LOOM_E* code (loom.h) and leaves the detail (file, line, byte
 * offset) in a thread-local message; the caller reads it with
 * loom_error_message(). The library never prints; the command line prints
 * and picks the exit code. */
#ifndef LOOM_BASE_ERROR_H
#define LOOM_BASE_ERROR_H

#include <stdarg.h>

#include "loom.h"

/* Sets the thread's message with printf formatting; returns `code` so that
 * `return loom_error(LOOM_EIO, "%s: %s", path, strerror(errno));` reads well. */
int loom_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int loom_verror(int code, const char *fmt, va_list ap);

/* Prefixes the current message with "PATH: " (or "PATH:LINE: " when line > 0),
 * for callers that know the file but not the detail. Returns `code`. */
int loom_error_prefix(int code, const char *path, long long line);

#endif
