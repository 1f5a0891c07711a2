/* loom: the thread-local error message behind every LOOM_E* return code.
 * This is the library's only mutable global state. */
#include "config.h"
#include "base/error.h"

#include <stdio.h>
#include <string.h>

static _Thread_local char message[1024];

int loom_verror(int code, const char *fmt, va_list ap)
{
    vsnprintf(message, sizeof message, fmt, ap);
    return code;
}

int loom_error(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    loom_verror(code, fmt, ap);
    va_end(ap);
    return code;
}

int loom_error_prefix(int code, const char *path, long long line)
{
    char old[sizeof message];
    memcpy(old, message, sizeof old);
    int k = line > 0 ? snprintf(message, sizeof message, "%s:%lld: ", path, line)
                     : snprintf(message, sizeof message, "%s: ", path);
    if (k > 0 && (size_t)k < sizeof message - 1) {
        /* a message longer than the buffer is cut, which is fine */
        size_t room = sizeof message - (size_t)k - 1, n = strlen(old);
        memcpy(message + k, old, n < room ? n : room);
        message[(size_t)k + (n < room ? n : room)] = '\0';
    }
    return code;
}

const char *loom_error_message(void)
{
    return message;
}

void loom_error_clear(void)
{
    message[0] = '\0';
}

const char *loom_strerror(int code)
{
    switch (code) {
    case LOOM_OK: return "success";
    case LOOM_EINVAL: return "invalid argument";
    case LOOM_EIO: return "I/O error";
    case LOOM_ENOMEM: return "out of memory";
    case LOOM_EFORMAT: return "malformed input";
    case LOOM_ENOTFOUND: return "not found";
    default: return "unknown error";
    }
}
