/* loom: inside the module loom_subword.so, the libloom functions that
 * subword.cc calls, each passed on to the host table that libloom handed
 * the module when it opened it (subword_module.h). Hidden
 * (-fvisibility=hidden): the module's calls bind here, never to a copy the
 * program might export. */
#include "config.h"
#include "text/subword_module.h"

#include "base/error.h"
#include "base/progress.h"
#include "base/reader.h"
#include "base/writer.h"

#include <stdio.h>
#include <stdlib.h>

static const loom_subword_host *host;

void loom_subword_set_host(const loom_subword_host *h);
void loom_subword_set_host(const loom_subword_host *h)
{
    host = h;
}

int loom_error(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = host->verror(code, fmt, ap);
    va_end(ap);
    return rc;
}

int loom_reader_open(loom_reader **out, const char *path)
{
    return host->reader_open(out, path);
}

long loom_reader_read(loom_reader *r, void *buf, size_t n)
{
    return host->reader_read(r, buf, n);
}

int loom_reader_line(loom_reader *r, const char **line, size_t *len, int *complete)
{
    return host->reader_line(r, line, len, complete);
}

long long loom_reader_raw_offset(const loom_reader *r)
{
    return host->reader_raw_offset(r);
}

void loom_reader_close(loom_reader *r)
{
    host->reader_close(r);
}

int loom_writer_open(loom_writer **out, const char *path, int mode)
{
    return host->writer_open(out, path, mode);
}

int loom_writer_write(loom_writer *w, const void *buf, size_t n)
{
    return host->writer_write(w, buf, n);
}

int loom_writer_printf(loom_writer *w, const char *fmt, ...)
{
    char small[256], *buf = small;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return loom_error(LOOM_EIO, "subword: cannot format output");
    if ((size_t)n >= sizeof small) {
        if (!(buf = malloc((size_t)n + 1)))
            return LOOM_ENOMEM;
        va_start(ap, fmt);
        vsnprintf(buf, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    int rc = host->writer_write(w, buf, (size_t)n);
    if (buf != small)
        free(buf);
    return rc;
}

int loom_writer_commit(loom_writer *w)
{
    return host->writer_commit(w);
}

void loom_writer_abort(loom_writer *w)
{
    host->writer_abort(w);
}

void loom_progress_update(loom_progress *p, double done, const char *detail)
{
    host->progress_update(p, done, detail);
}

int loom_progress_due(loom_progress *p)
{
    return host->progress_due(p);
}

void loom_progress_set_total(loom_progress *p, double total)
{
    host->progress_set_total(p, total);
}
