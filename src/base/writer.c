/* loom: write-to-temporary-then-rename. The temporary is named
 * ".NAME.tmp-PID-RANDOM" beside the destination so that rename(2) is atomic
 * (same file system) and so that the next run can recognise and remove the
 * leftovers of a killed one by their dead PID. A symbolic link is followed
 * and its target replaced; a device, FIFO or socket is written in place,
 * never replaced; a file declared as an input is never written. */
#include "config.h"
#include "base/writer.h"
#include "base/alloc.h"
#include "base/error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define WBUF (256 * 1024)
#define MAX_OPEN 64
#define MAX_INPUTS 256
#define MAX_LINKS 40

struct loom_writer {
    char *path;   /* the name given, for messages */
    char *target; /* the file replaced: path, or where its links end */
    char *tmp;    /* temporary name; NULL when written in place */
    int fd;
    gzFile gz;
    char *buf;
    size_t used;
    int slot;
};

/* The temporaries of open writers, for signal-time cleanup. Kept as fixed
 * slots of pointers so a signal handler can walk them without locks. */
static char *volatile open_tmps[MAX_OPEN];

/* Directories filled under a temporary name (loom_writer_temp_dir): each a
 * block of NUL-terminated paths, the files first, then an empty string,
 * then the directory; slots of pointers as above. */
#define MAX_TMP_DIRS 4
static char *volatile tmp_dirs[MAX_TMP_DIRS];
static pthread_mutex_t tmp_dirs_lock = PTHREAD_MUTEX_INITIALIZER;

/* The files a command has declared as its inputs (loom_writer_protect). A
 * process-wide list because an output must not replace an input wherever
 * in the program each was named; a command names both long before the
 * library opens either. */
static struct {
    dev_t dev;
    ino_t ino;
    char *path;
} inputs[MAX_INPUTS];
static size_t n_inputs;
static pthread_mutex_t inputs_lock = PTHREAD_MUTEX_INITIALIZER;

int loom_writer_protect(const char *path)
{
    struct stat st;
    if (strcmp(path, "-") == 0 || stat(path, &st) != 0)
        return 0; /* stdin, or missing: the reader reports it */
    int rc = 0;
    pthread_mutex_lock(&inputs_lock);
    size_t i = 0;
    while (i < n_inputs && !(inputs[i].dev == st.st_dev && inputs[i].ino == st.st_ino))
        i++;
    if (i == n_inputs) {
        if (n_inputs == MAX_INPUTS) {
            rc = loom_error(LOOM_EINVAL, "%s: more than %d input files", path, MAX_INPUTS);
        } else if (!(inputs[i].path = loom_strdup(path))) {
            rc = LOOM_ENOMEM;
        } else {
            inputs[i].dev = st.st_dev;
            inputs[i].ino = st.st_ino;
            n_inputs++;
        }
    }
    pthread_mutex_unlock(&inputs_lock);
    return rc;
}

/* Refuses `path` when it exists and is one of the declared inputs (by
 * device and inode, so links and other spellings are caught). */
static int refuse_input(const char *path, const struct stat *st)
{
    int rc = 0;
    pthread_mutex_lock(&inputs_lock);
    for (size_t i = 0; i < n_inputs && rc == 0; i++)
        if (inputs[i].dev == st->st_dev && inputs[i].ino == st->st_ino)
            rc = strcmp(inputs[i].path, path)
                     ? loom_error(LOOM_EINVAL,
                                  "%s: will not write over an input (the same file as %s)", path,
                                  inputs[i].path)
                     : loom_error(LOOM_EINVAL, "%s: will not write over an input", path);
    pthread_mutex_unlock(&inputs_lock);
    return rc;
}

/* The file a write to `path` lands on: `path` itself, or the end of its
 * chain of symbolic links (relative links resolved against their own
 * directory). Returns 1 when the chain passes through /proc (/dev/stdout ->
 * /proc/self/fd/1 -> an open file of the caller's shell: written in place,
 * appended, as the shell's `>>` or `>` meant), 0 otherwise. Fails on a loop
 * or a name longer than PATH_MAX. */
static int resolve_links(const char *path, char *out, size_t outsz)
{
    if (snprintf(out, outsz, "%s", path) >= (int)outsz)
        return loom_error(LOOM_EINVAL, "%s: name too long", path);
    int via_proc = 0;
    for (int hops = 0;; hops++) {
        struct stat st;
        if (strncmp(out, "/proc/", 6) == 0)
            via_proc = 1;
        if (lstat(out, &st) != 0 || !S_ISLNK(st.st_mode))
            return via_proc;
        if (hops == MAX_LINKS)
            return loom_error(LOOM_EIO, "%s: too many levels of symbolic links", path);
        char link[PATH_MAX];
        ssize_t n = readlink(out, link, sizeof link - 1);
        if (n < 0)
            return loom_error(LOOM_EIO, "%s: cannot read link %s: %s", path, out, strerror(errno));
        link[n] = '\0';
        char next[PATH_MAX];
        const char *slash = strrchr(out, '/');
        int len = link[0] == '/' || !slash
                      ? snprintf(next, sizeof next, "%s", link)
                      : snprintf(next, sizeof next, "%.*s/%s", (int)(slash - out), out, link);
        if (len < 0 || (size_t)len >= sizeof next || (size_t)len >= outsz)
            return loom_error(LOOM_EINVAL, "%s: name too long", path);
        memcpy(out, next, (size_t)len + 1);
    }
}

int loom_has_suffix(const char *path, const char *suffix)
{
    size_t n = strlen(path), k = strlen(suffix);
    return n >= k && strcmp(path + n - k, suffix) == 0;
}

static void split_path(const char *path, char *dir, size_t dirsz, const char **base)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        snprintf(dir, dirsz, ".");
        *base = path;
    } else if (slash == path) {
        snprintf(dir, dirsz, "/");
        *base = slash + 1;
    } else {
        snprintf(dir, dirsz, "%.*s", (int)(slash - path), path);
        *base = slash + 1;
    }
}

/* 1 when `path` exists and is neither a regular file nor a directory: a
 * device, FIFO or socket, written in place (`-o /dev/null`, `-o /dev/stdout`). */
static int is_special(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode);
}

int loom_check_writable(const char *path)
{
    if (strcmp(path, "-") == 0)
        return 0;
    if (*path == '\0')
        return loom_error(LOOM_EINVAL, "output file name is empty");
    struct stat st;
    if (stat(path, &st) == 0 && refuse_input(path, &st) < 0)
        return LOOM_EINVAL;
    if (is_special(path))
        return 0;
    char target[PATH_MAX];
    int rc = resolve_links(path, target, sizeof target);
    if (rc < 0)
        return rc;
    char dir[PATH_MAX];
    const char *base;
    split_path(target, dir, sizeof dir, &base);
    if (*base == '\0')
        return loom_error(LOOM_EINVAL, "%s: output path names a directory", path);
    if (stat(dir, &st) != 0)
        return loom_error(LOOM_EIO, "%s: cannot write: directory %s: %s", path, dir,
                          strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return loom_error(LOOM_EIO, "%s: cannot write: %s is not a directory", path, dir);
    if (access(dir, W_OK | X_OK) != 0)
        return loom_error(LOOM_EIO, "%s: cannot write: directory %s: %s", path, dir,
                          strerror(errno));
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return loom_error(LOOM_EIO, "%s: cannot write: is a directory", path);
    return 0;
}

/* Removes ".BASE.tmp-PID-*" files in dir whose PID no longer runs. */
static void remove_stale(const char *dir, const char *base)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    char prefix[NAME_MAX + 16];
    int plen = snprintf(prefix, sizeof prefix, ".%s.tmp-", base);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (plen <= 0 || (size_t)plen >= sizeof prefix ||
            strncmp(e->d_name, prefix, (size_t)plen) != 0)
            continue;
        char *end;
        long pid = strtol(e->d_name + plen, &end, 10);
        if (end == e->d_name + plen || *end != '-' || pid <= 0)
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue; /* still running (or not ours to judge) */
        char full[PATH_MAX];
        if (snprintf(full, sizeof full, "%s/%s", dir, e->d_name) < (int)sizeof full)
            unlink(full);
    }
    closedir(d);
}

static int claim_slot(char *tmp)
{
    for (int i = 0; i < MAX_OPEN; i++) {
        if (open_tmps[i] == NULL) {
            open_tmps[i] = tmp;
            return i;
        }
    }
    return -1;
}

void loom_writer_cleanup_all(void)
{
    for (int i = 0; i < MAX_OPEN; i++) {
        char *t = open_tmps[i];
        if (t)
            unlink(t);
    }
    for (int i = 0; i < MAX_TMP_DIRS; i++) {
        const char *p = tmp_dirs[i];
        if (!p)
            continue;
        for (; *p; p++) {
            unlink(p);
            while (*p)
                p++;
        }
        rmdir(p + 1);
    }
}

int loom_writer_temp_dir(const char *dir, const char *const *names)
{
    size_t dlen = strlen(dir), len = dlen + 2;
    for (int i = 0; names[i]; i++)
        len += dlen + strlen(names[i]) + 2;
    char *b = loom_malloc(len, 1), *p = b;
    if (!b)
        return LOOM_ENOMEM;
    for (int i = 0; names[i]; i++)
        p += sprintf(p, "%s/%s", dir, names[i]) + 1;
    *p++ = '\0';
    memcpy(p, dir, dlen + 1);
    int slot = -1;
    pthread_mutex_lock(&tmp_dirs_lock);
    for (int i = 0; i < MAX_TMP_DIRS && slot < 0; i++)
        if (!tmp_dirs[i])
            tmp_dirs[slot = i] = b;
    pthread_mutex_unlock(&tmp_dirs_lock);
    if (slot < 0) {
        free(b);
        return loom_error(LOOM_EINVAL, "%s: more than %d temporary directories at once", dir,
                          MAX_TMP_DIRS);
    }
    return slot;
}

void loom_writer_temp_dir_end(int slot)
{
    if (slot < 0 || slot >= MAX_TMP_DIRS)
        return;
    pthread_mutex_lock(&tmp_dirs_lock);
    char *b = tmp_dirs[slot];
    tmp_dirs[slot] = NULL;
    pthread_mutex_unlock(&tmp_dirs_lock);
    free(b);
}

int loom_writer_open(loom_writer **out, const char *path, int mode)
{
    *out = NULL;
    int gzip = mode == LOOM_WRITE_GZIP || (mode == LOOM_WRITE_AUTO && loom_has_suffix(path, ".gz"));
    loom_writer *w = loom_calloc(1, sizeof *w);
    if (!w)
        return LOOM_ENOMEM;
    w->fd = -1;
    w->slot = -1;
    w->path = loom_strdup(path);
    w->buf = loom_malloc(WBUF, 1);
    if (!w->path || !w->buf)
        goto nomem;
    char target[PATH_MAX];
    int rc = strcmp(path, "-") ? loom_check_writable(path) : 0;
    int in_place = rc == 0 && strcmp(path, "-") ? resolve_links(path, target, sizeof target) : 0;
    if (rc < 0 || in_place < 0) {
        loom_writer_abort(w);
        return rc < 0 ? rc : in_place;
    }
    if (strcmp(path, "-") == 0) {
        w->fd = dup(STDOUT_FILENO);
    } else if (in_place || is_special(path)) {
        /* A device, FIFO or an open descriptor of the caller: never replaced. */
        struct stat st;
        int append = stat(path, &st) == 0 && S_ISREG(st.st_mode) ? O_APPEND : 0;
        w->fd = open(path, O_WRONLY | O_CLOEXEC | append);
    } else {
        if (!(w->target = loom_strdup(target)))
            goto nomem;
        char dir[PATH_MAX];
        const char *base;
        split_path(target, dir, sizeof dir, &base);
        remove_stale(dir, base);
        size_t n = strlen(target) + 64;
        w->tmp = loom_malloc(n, 1);
        if (!w->tmp)
            goto nomem;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        unsigned rnd = (unsigned)(ts.tv_nsec ^ (ts.tv_sec << 10));
        for (int attempt = 0; attempt < 100 && w->fd < 0; attempt++) {
            snprintf(w->tmp, n, "%s%s.%s.tmp-%ld-%08x", strcmp(dir, ".") ? dir : "",
                     strcmp(dir, ".") ? (strcmp(dir, "/") ? "/" : "") : "", base, (long)getpid(),
                     rnd + (unsigned)attempt * 2654435761u);
            w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
            if (w->fd < 0 && errno != EEXIST)
                break;
        }
        if (w->fd < 0) {
            int err = errno;
            free(w->tmp);
            w->tmp = NULL;
            loom_writer_abort(w);
            return loom_error(LOOM_EIO, "%s: cannot create a file in %s: %s", path, dir,
                              strerror(err));
        }
        w->slot = claim_slot(w->tmp);
    }
    if (w->fd < 0) {
        loom_writer_abort(w);
        return loom_error(LOOM_EIO, "%s: cannot open: %s", path, strerror(errno));
    }
    if (gzip) {
        int fd2 = dup(w->fd);
        w->gz = fd2 >= 0 ? gzdopen(fd2, "wb6") : NULL;
        if (!w->gz) {
            if (fd2 >= 0)
                close(fd2);
            goto nomem;
        }
        gzbuffer(w->gz, 256 * 1024);
    }
    *out = w;
    return 0;
nomem:
    loom_writer_abort(w);
    return loom_error(LOOM_ENOMEM, "%s: out of memory opening for writing", path);
}

static int write_all(int fd, const char *p, size_t n, const char *path)
{
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return loom_error(LOOM_EIO, "%s: write failed: %s", path, strerror(errno));
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static int flush_buf(loom_writer *w)
{
    if (w->used == 0)
        return 0;
    size_t n = w->used;
    w->used = 0;
    if (w->gz) {
        if (gzwrite(w->gz, w->buf, (unsigned)n) != (int)n) {
            int code;
            const char *msg = gzerror(w->gz, &code);
            return loom_error(LOOM_EIO, "%s: write failed: %s", w->path,
                              code == Z_ERRNO ? strerror(errno) : msg);
        }
        return 0;
    }
    return write_all(w->fd, w->buf, n, w->path);
}

int loom_writer_write(loom_writer *w, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        if (w->used == WBUF) {
            int rc = flush_buf(w);
            if (rc < 0)
                return rc;
        }
        size_t k = WBUF - w->used < n ? WBUF - w->used : n;
        memcpy(w->buf + w->used, p, k);
        w->used += k;
        p += k;
        n -= k;
    }
    return 0;
}

int loom_writer_puts(loom_writer *w, const char *s)
{
    return loom_writer_write(w, s, strlen(s));
}

int loom_writer_printf(loom_writer *w, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return loom_error(LOOM_EINVAL, "%s: formatting failed", w->path);
    if ((size_t)n < sizeof small)
        return loom_writer_write(w, small, (size_t)n);
    char *big = loom_malloc((size_t)n + 1, 1);
    if (!big)
        return LOOM_ENOMEM;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int rc = loom_writer_write(w, big, (size_t)n);
    free(big);
    return rc;
}

static void release(loom_writer *w)
{
    if (w->slot >= 0)
        open_tmps[w->slot] = NULL;
    if (w->fd >= 0)
        close(w->fd);
    free(w->tmp);
    free(w->target);
    free(w->path);
    free(w->buf);
    free(w);
}

/* fsync the directory so the rename itself survives a crash. */
static void sync_dir(const char *path)
{
    char dir[PATH_MAX];
    const char *base;
    split_path(path, dir, sizeof dir, &base);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int loom_writer_commit(loom_writer *w)
{
    int rc = flush_buf(w);
    if (w->gz) {
        int zrc = gzclose(w->gz);
        w->gz = NULL;
        if (rc == 0 && zrc != Z_OK)
            rc = loom_error(LOOM_EIO, "%s: write failed while finishing gzip stream", w->path);
    }
    if (rc == 0 && w->tmp && fsync(w->fd) != 0)
        rc = loom_error(LOOM_EIO, "%s: fsync failed: %s", w->path, strerror(errno));
    if (rc == 0 && w->tmp && rename(w->tmp, w->target) != 0)
        rc = loom_error(LOOM_EIO, "%s: cannot rename into place: %s", w->path, strerror(errno));
    if (rc < 0) {
        loom_writer_abort(w);
        return rc;
    }
    if (w->tmp)
        sync_dir(w->target);
    release(w);
    return 0;
}

void loom_writer_abort(loom_writer *w)
{
    if (!w)
        return;
    if (w->gz)
        gzclose(w->gz);
    w->gz = NULL;
    if (w->tmp)
        unlink(w->tmp);
    release(w);
}

int loom_writer_finish(loom_writer *w, int rc)
{
    if (rc != 0) {
        loom_writer_abort(w);
        return rc;
    }
    return loom_writer_commit(w);
}

const char *loom_writer_path(const loom_writer *w)
{
    return w->path;
}
