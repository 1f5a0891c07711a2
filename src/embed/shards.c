/* loom: corpus byte ranges for the trainer's threads (see shards.h). */
#define _POSIX_C_SOURCE 200809L
#include "config.h"
#include "embed/shards.h"
#include "base/alloc.h"
#include "base/error.h"
#include "base/reader.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK (256u * 1024u)

typedef struct {
    char *path;       /* what the readers open */
    char *name;       /* what messages say */
    long long base;   /* offset of the file's first byte in the corpus */
    long long size;   /* uncompressed bytes */
    int spool_fd;     /* the spool of stdin, a pipe or a FIFO; -1 when none */
    char *spool_path; /* still linked when /proc/self/fd is unavailable */
} shard_file;

struct loom_shards {
    shard_file *files;
    size_t n;
    long long size;
};

static inline int is_space(unsigned char c)
{
    return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\v' || c == '\f' || c == 0;
}

/* Sets f's path (where its shards are read) and name (what messages say),
 * copies of `kept` and `name`, and opens `path` into *r. */
static int open_named(shard_file *f, const char *kept, const char *name, const char *path,
                      loom_reader **r)
{
    f->path = loom_strdup(kept);
    f->name = loom_strdup(name);
    if (!f->path || !f->name)
        return LOOM_ENOMEM;
    return loom_reader_open(r, path);
}

/* Copies stdin, a pipe or a FIFO (decompressed when it is gzip) to a
 * temporary file: threads need a file they can each seek in. */
static int spool(shard_file *f, const char *path)
{
    const char *shown = strcmp(path, "-") ? path : "stdin";
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    size_t len = strlen(dir) + 32;
    char *tmpl = loom_malloc(len, 1);
    if (!tmpl)
        return LOOM_ENOMEM;
    snprintf(tmpl, len, "%s/loom-stdin.XXXXXX", dir);
    int fd = mkstemp(tmpl);
    if (fd < 0) {
        int rc = loom_error(LOOM_EIO, "%s: cannot create a spool file for %s: %s", dir, shown,
                            strerror(errno));
        free(tmpl);
        return rc;
    }
    f->spool_fd = fd;
    /* Unlinked at once where the name can be reopened through /proc, so a
     * killed run leaves nothing behind. */
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    int unlinked = access(proc, R_OK) == 0 && unlink(tmpl) == 0;
    if (!unlinked)
        f->spool_path = tmpl;
    loom_reader *r;
    int rc = open_named(f, unlinked ? proc : tmpl, strcmp(path, "-") ? path : "<stdin>", path, &r);
    if (unlinked)
        free(tmpl);
    if (rc < 0)
        return rc;
    char *buf = loom_malloc(CHUNK, 1);
    long got = 0;
    while (buf && (got = loom_reader_read(r, buf, CHUNK)) > 0) {
        for (long done = 0; done < got;) {
            ssize_t w = write(fd, buf + done, (size_t)(got - done));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                rc = loom_error(LOOM_EIO, "%s: cannot spool %s: %s", dir, shown, strerror(errno));
                goto out;
            }
            done += w;
        }
        f->size += got;
    }
    rc = !buf ? LOOM_ENOMEM : got < 0 ? (int)got : 0;
out:
    free(buf);
    loom_reader_close(r);
    return rc;
}

/* Opens a file to check it, and measures it: stat for plain files, a full
 * decompression for gzip. */
static int measure(shard_file *f, const char *path)
{
    loom_reader *r;
    int rc = open_named(f, path, path, path, &r);
    if (rc < 0)
        return rc;
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        loom_reader_close(r);
        return loom_error(LOOM_EIO, "%s: is a directory", path);
    }
    /* Reading one chunk lets zlib tell gzip from plain. */
    char *buf = loom_malloc(CHUNK, 1);
    long got = buf ? loom_reader_read(r, buf, CHUNK) : LOOM_ENOMEM;
    if (got >= 0 && !loom_reader_is_gzip(r)) {
        f->size = (long long)st.st_size;
    } else {
        while (got > 0) {
            f->size += got;
            got = loom_reader_read(r, buf, CHUNK);
        }
    }
    free(buf);
    loom_reader_close(r);
    return got < 0 ? (int)got : 0;
}

/* A regular file (or a link to one); anything else (a pipe, a FIFO, a
 * process substitution's /dev/fd/N) can be read only once, in order. A
 * missing file counts as seekable: measure() reports it. */
static int is_seekable(const char *path)
{
    struct stat st;
    return stat(path, &st) != 0 || S_ISREG(st.st_mode) || S_ISDIR(st.st_mode);
}

int loom_shards_open(loom_shards **out, const char *const *paths, size_t n)
{
    *out = NULL;
    loom_shards *s = loom_calloc(1, sizeof *s);
    if (!s)
        return LOOM_ENOMEM;
    s->files = loom_calloc(n ? n : 1, sizeof *s->files);
    if (!s->files) {
        free(s);
        return LOOM_ENOMEM;
    }
    s->n = n;
    for (size_t i = 0; i < n; i++)
        s->files[i].spool_fd = -1;
    int rc = 0, have_stdin = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (strcmp(paths[i], "-") == 0) {
            if (have_stdin)
                rc = loom_error(LOOM_EINVAL, "stdin (\"-\") given twice");
            else
                rc = spool(&s->files[i], "-");
            have_stdin = 1;
        } else if (!is_seekable(paths[i])) {
            rc = spool(&s->files[i], paths[i]);
        } else {
            rc = measure(&s->files[i], paths[i]);
        }
        s->files[i].base = s->size;
        s->size += s->files[i].size;
    }
    if (rc < 0) {
        loom_shards_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void loom_shards_free(loom_shards *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        shard_file *f = &s->files[i];
        free(f->path), free(f->name);
        if (f->spool_path)
            unlink(f->spool_path);
        free(f->spool_path);
        if (f->spool_fd >= 0)
            close(f->spool_fd);
    }
    free(s->files);
    free(s);
}

long long loom_shards_size(const loom_shards *s)
{
    return s->size;
}

/* Invalid UTF-8 at byte `offset` of f: the tokenizer saw one string, so
 * the file, the line (counted now: this is the error path) and the
 * offset in the file are added here, as `vocab` gives them. */
static int invalid_utf8(const shard_file *f, long long offset)
{
    loom_reader *r;
    long long line = 1, pos = 0;
    if (loom_reader_open(&r, f->path) == 0) {
        char buf[1 << 16];
        long got;
        while (pos < offset && (got = loom_reader_read(r, buf, sizeof buf)) > 0) {
            for (long i = 0; i < got && pos < offset; i++, pos++)
                line += buf[i] == '\n';
        }
        loom_reader_close(r);
    }
    return loom_error(LOOM_EFORMAT, "%s:%lld: invalid UTF-8 at byte %lld", f->name, line, offset);
}

/* Tokenizes buf[0, n), which starts at byte `pos` of f: whole lines with an
 * end of sentence each; the tail after the last newline too, with an end
 * of sentence only if `final`. */
static int feed(const shard_file *f, long long pos, loom_tokenizer *t, const loom_scan_fns *fns,
                const char *buf, size_t n, int final)
{
    size_t at = 0;
    int rc;
    while (at < n) {
        const char *nl = memchr(buf + at, '\n', n - at);
        size_t len = nl ? (size_t)(nl - (buf + at)) : n - at;
        rc = fns->subword
                 ? loom_subword_tokenize(fns->subword, buf + at, len, fns->on_token, fns->ctx)
                 : loom_tokenize_string(t, buf + at, len, fns->on_token, fns->ctx);
        if (rc != 0) {
            long long k;
            if (rc == LOOM_EFORMAT &&
                sscanf(loom_error_message(), "invalid UTF-8 at byte %lld", &k) == 1)
                return invalid_utf8(f, pos + (long long)at + k);
            return rc;
        }
        if ((nl || final) && fns->on_eol && (rc = fns->on_eol(fns->ctx)) != 0)
            return rc;
        at += len + (nl ? 1 : 0);
    }
    return 0;
}

/* Errors from a spool's reader name "<stdin>" rather than its path. */
static int fail(const shard_file *f, int rc)
{
    return strcmp(f->path, f->name) != 0 ? loom_error_prefix(rc, f->name, 0) : rc;
}

/* The part of one file from the first word boundary at or after `begin` to
 * the first at or after `end` (end == size: to the end of the file). */
static int scan_file(const shard_file *f, long long begin, long long end, loom_tokenizer *t,
                     const loom_scan_fns *fns, char *buf)
{
    loom_reader *r;
    int rc = loom_reader_open_at(&r, f->path, begin > 0 ? begin - 1 : 0);
    if (rc < 0)
        return fail(f, rc);
    long long pos = begin > 0 ? begin - 1 : 0; /* corpus offset of buf[0] */
    int skipping = begin > 0, done = 0;
    size_t keep = 0; /* bytes of an unfinished word carried at buf's front */
    while (!done) {
        long got = loom_reader_read(r, buf + keep, CHUNK - keep);
        if (got < 0) {
            rc = fail(f, (int)got);
            break;
        }
        if (fns->on_bytes && got > 0 && (rc = fns->on_bytes(fns->ctx, (size_t)got)) != 0)
            break;
        size_t n = keep + (size_t)got, start = 0;
        if (got == 0)
            done = 1;
        if (skipping) { /* to just past the first space */
            while (start < n && !is_space((unsigned char)buf[start]))
                start++;
            if (start == n) {
                pos += (long long)n;
                keep = 0;
                continue;
            }
            start++;
            skipping = 0;
            if (pos + (long long)start >= end)
                break; /* this range holds no word start */
        }
        /* The range ends at the first space at or after end - 1. */
        if (end < f->size && pos + (long long)n > end - 1) {
            size_t q = end - 1 > pos + (long long)start ? (size_t)(end - 1 - pos) : start;
            while (q < n && !is_space((unsigned char)buf[q]))
                q++;
            if (q < n) {
                n = q + 1;
                done = 1;
            }
        }
        size_t cut = n;
        if (!done) { /* hold back a word that may go on in the next chunk */
            while (cut > start && !is_space((unsigned char)buf[cut - 1]))
                cut--;
            if (cut == start && n - start == CHUNK)
                cut = n; /* a word longer than the buffer: cut it anyway */
        }
        if ((rc = feed(f, pos + (long long)start, t, fns, buf + start, cut - start, done)) != 0)
            break;
        keep = n - cut;
        memmove(buf, buf + cut, keep);
        pos += (long long)cut;
    }
    loom_reader_close(r);
    return rc;
}

int loom_shards_scan(const loom_shards *s, long long begin, long long end, loom_tokenizer *t,
                     const loom_scan_fns *fns)
{
    char *buf = loom_malloc(CHUNK, 1);
    if (!buf)
        return LOOM_ENOMEM;
    int rc = 0;
    for (size_t i = 0; i < s->n && rc == 0; i++) {
        const shard_file *f = &s->files[i];
        long long b = begin - f->base, e = end - f->base;
        if (b < 0)
            b = 0;
        if (e > f->size)
            e = f->size;
        if (b < e)
            rc = scan_file(f, b, e, t, fns, buf);
    }
    free(buf);
    return rc;
}
