/* loom: buffered reading through zlib's gz* functions, which pass plain
 * files through untouched. Knows nothing of words or vectors: it hands out
 * bytes and lines and keeps count of where they came from. */
#include "config.h"
#include "base/reader.h"
#include "base/alloc.h"
#include "base/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define DEFAULT_BUFSIZE (1u << 20)

struct loom_reader {
    gzFile gz;
    char *path;
    char *buf;
    size_t cap, start, end;
    int eof;
    long long line;         /* number of the line of the last piece */
    int line_done;          /* the last piece completed its line */
    long long buf_offset;   /* stream offset of buf[0] */
    long long piece_offset; /* stream offset of the last piece */
};

int loom_reader_open_sized(loom_reader **out, const char *path, size_t bufsize)
{
    *out = NULL;
    if (bufsize < 64)
        bufsize = 64;
    int fd = strcmp(path, "-") == 0 ? dup(STDIN_FILENO) : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return loom_error(LOOM_EIO, "%s: cannot open: %s", path, strerror(errno));
    loom_reader *r = loom_calloc(1, sizeof *r);
    if (!r) {
        close(fd);
        return LOOM_ENOMEM;
    }
    r->path = loom_strdup(strcmp(path, "-") == 0 ? "<stdin>" : path);
    r->buf = loom_malloc(bufsize, 1);
    r->gz = gzdopen(fd, "rb");
    if (!r->path || !r->buf || !r->gz) {
        if (!r->gz)
            close(fd);
        loom_reader_close(r);
        return loom_error(LOOM_ENOMEM, "%s: cannot allocate a reader", path);
    }
    gzbuffer(r->gz, 256 * 1024);
    r->cap = bufsize;
    r->line_done = 1;
    *out = r;
    return 0;
}

int loom_reader_open(loom_reader **out, const char *path)
{
    return loom_reader_open_sized(out, path, DEFAULT_BUFSIZE);
}

/* gzread hides a truncated gzip stream as a short read at the end; only
 * gzerror tells, so ask it after every read. Bytes that did arrive are
 * good: they are handed out first, and the error is reported by the read
 * that finds nothing more (zlib keeps the error state until then). */
static int check_gz(loom_reader *r, int n)
{
    if (n > 0)
        return 0;
    int code = Z_OK;
    const char *msg = gzerror(r->gz, &code);
    if (n < 0 || (code != Z_OK && code != Z_STREAM_END)) {
        if (code == Z_ERRNO)
            return loom_error(LOOM_EIO, "%s: read error: %s", r->path, strerror(errno));
        if (code == Z_BUF_ERROR)
            return loom_error(LOOM_EFORMAT, "%s: truncated gzip file (unexpected end of file)",
                              r->path);
        /* zlib names a stream opened with gzdopen "<fd:N>"; we name the file. */
        const char *sep = strncmp(msg, "<fd:", 4) == 0 ? strstr(msg, ">: ") : NULL;
        return loom_error(LOOM_EFORMAT, "%s: corrupt gzip data: %s", r->path, sep ? sep + 3 : msg);
    }
    return 0;
}

long loom_reader_read(loom_reader *r, void *buf, size_t n)
{
    /* Hand out what the line buffer still holds first. */
    if (r->start < r->end) {
        size_t k = r->end - r->start < n ? r->end - r->start : n;
        memcpy(buf, r->buf + r->start, k);
        r->start += k;
        return (long)k;
    }
    if (n > (1u << 30))
        n = 1u << 30;
    int got = gzread(r->gz, buf, (unsigned)n);
    int rc = check_gz(r, got);
    if (rc < 0)
        return rc;
    r->buf_offset += got;
    return got;
}

/* Moves the unread bytes to the front and reads more behind them. */
static int refill(loom_reader *r)
{
    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->buf_offset += (long long)r->start;
        r->end -= r->start;
        r->start = 0;
    }
    if (r->eof || r->end == r->cap)
        return 0;
    int got = gzread(r->gz, r->buf + r->end, (unsigned)(r->cap - r->end));
    int rc = check_gz(r, got);
    if (rc < 0)
        return rc;
    if (got == 0)
        r->eof = 1;
    r->end += (size_t)got;
    return got;
}

/* Largest prefix of p[0..n) that does not cut a UTF-8 sequence or a CRLF. */
static size_t safe_cut(const char *p, size_t n)
{
    size_t cut = n;
    if (cut > 0 && p[cut - 1] == '\r')
        cut--;
    /* Walk back over at most 3 continuation bytes to the lead byte. */
    size_t i = cut, back = 0;
    while (i > 0 && back < 3 && ((unsigned char)p[i - 1] & 0xC0) == 0x80) {
        i--;
        back++;
    }
    if (i > 0) {
        unsigned char lead = (unsigned char)p[i - 1];
        size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
        if (lead >= 0xC0 && need > back + 1)
            cut = i - 1; /* sequence incomplete: leave it for the next piece */
    }
    return cut > 0 ? cut : n; /* never return an empty incomplete piece */
}

int loom_reader_line(loom_reader *r, const char **line, size_t *len, int *complete)
{
    int was_done = r->line_done;
    if (was_done)
        r->line++;
    for (;;) {
        char *p = r->buf + r->start;
        size_t avail = r->end - r->start;
        char *nl = avail ? memchr(p, '\n', avail) : NULL;
        if (nl) {
            size_t n = (size_t)(nl - p);
            r->piece_offset = r->buf_offset + (long long)r->start;
            r->start += n + 1;
            if (n > 0 && p[n - 1] == '\r')
                n--;
            *line = p, *len = n, *complete = 1;
            r->line_done = 1;
            return 1;
        }
        if (r->eof) {
            if (avail == 0) {
                if (!was_done) { /* a line that filled the buffer exactly */
                    r->piece_offset = r->buf_offset + (long long)r->start;
                    *line = p, *len = 0, *complete = 1;
                    r->line_done = 1;
                    return 1;
                }
                r->line--; /* no piece: no new line was started */
                return 0;
            }
            r->piece_offset = r->buf_offset + (long long)r->start;
            r->start = r->end;
            if (p[avail - 1] == '\r')
                avail--;
            *line = p, *len = avail, *complete = 1;
            r->line_done = 1;
            return 1;
        }
        if (r->start == 0 && r->end == r->cap) {
            size_t n = safe_cut(p, avail);
            r->piece_offset = r->buf_offset;
            r->start += n;
            *line = p, *len = n, *complete = 0;
            r->line_done = 0;
            return 1;
        }
        int rc = refill(r);
        if (rc < 0) {
            r->line_done = 0;
            return rc;
        }
    }
}

int loom_reader_getline(loom_reader *r, char **buf, size_t *cap, size_t *len, size_t max)
{
    const char *piece;
    size_t n;
    int complete, rc;
    *len = 0;
    do {
        rc = loom_reader_line(r, &piece, &n, &complete);
        if (rc <= 0)
            return rc;
        if (*len + n + 1 > max)
            return loom_error(LOOM_EFORMAT, "%s:%lld: line longer than %zu bytes", r->path, r->line,
                              max);
        if ((rc = loom_grow_max((void **)buf, cap, *len + n + 1, max + 1, 1)) < 0)
            return rc;
        memcpy(*buf + *len, piece, n);
        *len += n;
        (*buf)[*len] = '\0';
    } while (!complete);
    return 1;
}

long long loom_reader_line_number(const loom_reader *r)
{
    return r->line;
}

long long loom_reader_offset(const loom_reader *r)
{
    return r->piece_offset;
}

long long loom_reader_raw_offset(const loom_reader *r)
{
    return (long long)gzoffset(r->gz);
}

int loom_reader_is_gzip(const loom_reader *r)
{
    return !gzdirect(r->gz);
}

const char *loom_reader_path(const loom_reader *r)
{
    return r->path;
}

void loom_reader_close(loom_reader *r)
{
    if (!r)
        return;
    if (r->gz)
        gzclose(r->gz);
    free(r->buf);
    free(r->path);
    free(r);
}

int loom_reader_open_at(loom_reader **out, const char *path, long long offset)
{
    *out = NULL;
    if (strcmp(path, "-") == 0)
        return loom_error(LOOM_EINVAL, "<stdin>: cannot start reading at an offset");
    loom_reader *r;
    int rc = loom_reader_open(&r, path);
    if (rc < 0)
        return rc;
    if (offset > 0) {
        z_off_t got = gzseek(r->gz, (z_off_t)offset, SEEK_SET);
        rc = check_gz(r, got < 0 ? -1 : 0);
        if (rc == 0 && got != (z_off_t)offset)
            rc = loom_error(LOOM_EIO, "%s: cannot seek to byte %lld", r->path, offset);
        if (rc < 0) {
            loom_reader_close(r);
            return rc;
        }
        r->buf_offset = offset;
    }
    *out = r;
    return 0;
}

int loom_reader_each_line(const char *path, size_t max, loom_line_fn fn, void *ctx,
                          const char *if_empty)
{
    loom_reader *r;
    int rc = loom_reader_open(&r, path);
    if (rc)
        return rc;
    char *buf = NULL;
    size_t cap = 0, len = 0;
    long long lines = 0;
    while ((rc = loom_reader_getline(r, &buf, &cap, &len, max)) == 1) {
        if (len == 0)
            continue;
        lines++;
        if ((rc = fn(ctx, buf, len, loom_reader_path(r), loom_reader_line_number(r))))
            break;
    }
    if (rc == 0 && lines == 0 && if_empty)
        rc = loom_error(LOOM_EFORMAT, "%s: %s", loom_reader_path(r), if_empty);
    free(buf);
    loom_reader_close(r);
    return rc < 0 ? rc : 0;
}
