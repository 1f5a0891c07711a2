/* loom: reading and writing word vector files (word2vec binary and text,
 * fastText .vec, GloVe text without a header; each optionally gzip).
 * Plain files are mapped and parsed in place; gzip files and stdin stream
 * through zlib. Either way memory is the matrix plus the vocabulary.
 * Nothing here knows about similarity or queries. */
#include "config.h"
#include "embed/vectors.h"

#include "base/alloc.h"
#include "base/error.h"
#include "base/hash.h"
#include "base/writer.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#define LOOM_BIG_ENDIAN 1
#endif

enum {
    MAX_WORD = 1 << 16,         /* longest word accepted in a binary file */
    STREAM_BUF = 1 << 20,       /* buffer size when streaming */
    STREAM_PIECE = 1 << 16,     /* bytes asked of zlib at a time */
    SHOW_WORD = 40,             /* bytes of a word quoted in messages */
    MAX_FIRST_ROW = 1 << 24,    /* longest first row of a file without a header */
    SNIFF = 1 << 20,            /* bytes of the first row looked at to tell text from binary */
    MAX_VALUE_CHARS = 64,       /* a text value's characters and blanks, at most */
    STREAM_ROWS_BYTES = 1 << 26 /* rows reserved up front for a stream, at most */
};

struct loom_vectors {
    size_t n, dim, cap; /* rows held, floats per row, rows allocated */
    float *rows;        /* cap x dim */
    char *chars;        /* all words, each NUL-terminated */
    size_t chars_len, chars_cap;
    size_t *offs;    /* word i starts at chars + offs[i]; cap entries */
    uint32_t *slots; /* hash index: row + 1, 0 when empty */
    size_t mask;     /* slots has mask + 1 entries */
    int format, gzip, header;
    size_t dropped;
};

/* ---- the vocabulary: words in one buffer, an open-addressing index ---- */

static int index_grow(loom_vectors *v, size_t want)
{
    size_t size = 16;
    while (size < 2 * want)
        size *= 2;
    if (size <= v->mask + 1 && v->slots)
        return 0;
    uint32_t *slots = loom_calloc(size, sizeof *slots);
    if (!slots)
        return LOOM_ENOMEM;
    for (size_t i = 0; i < v->n; i++) {
        const char *w = v->chars + v->offs[i];
        size_t h = loom_hash_bytes(w, strlen(w)) & (size - 1);
        while (slots[h])
            h = (h + 1) & (size - 1);
        slots[h] = (uint32_t)(i + 1);
    }
    free(v->slots);
    v->slots = slots;
    v->mask = size - 1;
    return 0;
}

/* The slot where `word` is or would go. */
static size_t index_slot(const loom_vectors *v, const char *word, size_t len)
{
    size_t h = loom_hash_bytes(word, len) & v->mask;
    while (v->slots[h]) {
        const char *w = v->chars + v->offs[v->slots[h] - 1];
        if (strncmp(w, word, len) == 0 && w[len] == '\0')
            break;
        h = (h + 1) & v->mask;
    }
    return h;
}

long loom_vectors_find(const loom_vectors *v, const char *word)
{
    if (!v || !v->slots || !word)
        return -1;
    size_t h = index_slot(v, word, strlen(word));
    return v->slots[h] ? (long)v->slots[h] - 1 : -1;
}

/* Room for one more row (its floats and its word offset). */
static int reserve_row(loom_vectors *v, size_t limit)
{
    if (v->n < v->cap)
        return 0;
    /* rows and offs share one capacity: a row is an item of dim floats */
    size_t cap = v->cap;
    int rc = loom_grow_max((void **)&v->rows, &cap, v->n + 1, limit ? limit : SIZE_MAX,
                           v->dim * sizeof *v->rows);
    if (rc < 0)
        return rc;
    size_t *offs = loom_realloc(v->offs, cap, sizeof *offs);
    if (!offs)
        return LOOM_ENOMEM;
    v->offs = offs;
    v->cap = cap;
    return 0;
}

/* Stores the word of row v->n; returns 1 when it is new, 0 when it is a
 * duplicate (*first set to the earlier row), negative on error. */
static int add_word(loom_vectors *v, const char *word, size_t len, size_t *first)
{
    if (v->n + 1 >= UINT32_MAX)
        return loom_error(LOOM_EFORMAT, "more than %u words are not supported", UINT32_MAX - 2);
    if (2 * (v->n + 1) > v->mask + 1) {
        int rc = index_grow(v, v->n + 1 > v->cap ? v->n + 1 : v->cap);
        if (rc < 0)
            return rc;
    }
    size_t h = index_slot(v, word, len);
    if (v->slots[h]) {
        *first = v->slots[h] - 1;
        return 0;
    }
    int rc = loom_grow((void **)&v->chars, &v->chars_cap, v->chars_len + len + 1, 1);
    if (rc < 0)
        return rc;
    memcpy(v->chars + v->chars_len, word, len);
    v->chars[v->chars_len + len] = '\0';
    v->offs[v->n] = v->chars_len;
    v->chars_len += len + 1;
    v->slots[h] = (uint32_t)(v->n + 1);
    return 1;
}

/* ---- the byte stream: a mapped file or pieces from base/reader ---- */

typedef struct {
    const char *path;
    gzFile gz;              /* NULL when the file is mapped */
    unsigned char *buf;     /* the map, or the stream buffer */
    size_t cap;             /* stream buffer size */
    const unsigned char *p; /* next unread byte */
    const unsigned char *end;
    void *map;
    size_t maplen;
    int eof;
    long long base;      /* stream offset of buf[0] */
    long long file_size; /* plain files: size; else -1 */
    size_t released;     /* mapped bytes already handed back */
} vstream;

/* Hands parsed pages of a mapped file back to the kernel, so that loading
 * costs the matrix and the vocabulary, not also the file's pages. */
static void vs_release(vstream *s)
{
    enum { RELEASE_STEP = 32 << 20 };
    size_t done = (size_t)(s->p - s->buf);
    if (!s->map || done - s->released < RELEASE_STEP)
        return;
    long page = sysconf(_SC_PAGESIZE);
    size_t upto = done / (size_t)page * (size_t)page;
    madvise(s->buf + s->released, upto - s->released, MADV_DONTNEED);
    s->released = upto;
}

static size_t vs_avail(const vstream *s)
{
    return (size_t)(s->end - s->p);
}
static long long vs_offset(const vstream *s)
{
    return s->base + (s->p - s->buf);
}

/* zlib's message without the "<fd:4>: " it puts before it for a stream
 * opened with gzdopen: the caller names the file. */
static const char *zlib_message(const char *msg)
{
    const char *sep = strncmp(msg, "<fd:", 4) == 0 ? strstr(msg, ">: ") : NULL;
    return sep ? sep + 3 : msg;
}

/* Makes at least `want` bytes readable at s->p unless the input ends first. */
static int vs_fill(vstream *s, size_t want)
{
    if (vs_avail(s) >= want || s->eof)
        return 0;
    size_t have = vs_avail(s);
    memmove(s->buf, s->p, have);
    s->base += s->p - s->buf;
    s->p = s->buf;
    while (have < want) {
        /* The buffer grows with the bytes that arrive, never to `want` at
         * once: a header's claim costs memory only if the data is there. */
        if (have == s->cap) {
            if (loom_grow_max((void **)&s->buf, &s->cap, have + 1, want, 1) < 0)
                return loom_error(LOOM_ENOMEM, "%s: out of memory for a row of %zu bytes", s->path,
                                  want);
            s->p = s->buf;
        }
        size_t ask = s->cap - have < STREAM_PIECE ? s->cap - have : STREAM_PIECE;
        int k = gzread(s->gz, s->buf + have, (unsigned)ask);
        if (k <= 0) {
            /* zlib hands out what it decoded before a cut and reports the
             * cut only at the end, so the error names the record it hits
             * (base/reader.c reports it a buffer early, hence zlib here). */
            int code = Z_OK;
            const char *msg = gzerror(s->gz, &code);
            if (code == Z_BUF_ERROR)
                return loom_error(LOOM_EFORMAT, "%s: truncated gzip file (unexpected end of file)",
                                  s->path);
            if (code == Z_ERRNO || k < 0)
                return loom_error(code == Z_ERRNO ? LOOM_EIO : LOOM_EFORMAT, "%s: %s", s->path,
                                  code == Z_ERRNO ? strerror(errno) : zlib_message(msg));
            s->eof = 1;
            break;
        }
        have += (size_t)k;
    }
    s->end = s->buf + have;
    return 0;
}

static int vs_open(vstream *s, const char *path, int *gzip)
{
    memset(s, 0, sizeof *s);
    s->path = path;
    s->file_size = -1;
    *gzip = 0;
    if (strcmp(path, "-") != 0) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return loom_error(errno == ENOENT ? LOOM_ENOTFOUND : LOOM_EIO, "%s: %s", path,
                              strerror(errno));
        struct stat st;
        unsigned char magic[2] = {0, 0};
        if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
            close(fd);
            return loom_error(LOOM_EIO, "%s: is a directory", path);
        }
        int regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
        if (regular && st.st_size == 0) {
            close(fd);
            return loom_error(LOOM_EFORMAT, "%s: empty file (no header, no vectors)", path);
        }
        if (regular && pread(fd, magic, 2, 0) == 2 && !(magic[0] == 0x1f && magic[1] == 0x8b)) {
            void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
            close(fd);
            if (map != MAP_FAILED) {
                madvise(map, (size_t)st.st_size, MADV_SEQUENTIAL | MADV_WILLNEED);
                s->map = map;
                s->maplen = (size_t)st.st_size;
                s->buf = map;
                s->p = map;
                s->end = s->p + s->maplen;
                s->eof = 1;
                s->file_size = st.st_size;
                return 0;
            }
        } else {
            close(fd);
        }
    }
    int fd = strcmp(path, "-") == 0 ? dup(STDIN_FILENO) : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || !(s->gz = gzdopen(fd, "rb"))) {
        if (fd >= 0)
            close(fd);
        return loom_error(LOOM_EIO, "%s: %s", path, strerror(errno));
    }
    gzbuffer(s->gz, 1 << 17);
    s->cap = STREAM_BUF;
    s->buf = loom_malloc(s->cap, 1);
    if (!s->buf)
        return LOOM_ENOMEM;
    s->p = s->end = s->buf;
    int rc = vs_fill(s, 2);
    if (rc < 0)
        return rc;
    *gzip = !gzdirect(s->gz);
    return 0;
}

static void vs_close(vstream *s)
{
    if (s->map)
        munmap(s->map, s->maplen);
    else
        free(s->buf);
    if (s->gz)
        gzclose(s->gz);
}

/* ---- parsing ---- */

typedef struct {
    loom_vectors *v;
    vstream s;
    const char *path;
    size_t declared; /* words in the header (0 when none) */
    size_t limit;    /* stop after this many records (0: all) */
    size_t record;   /* 1-based record being read */
    int flags;
    int dim_from_pair; /* no header, and line 1 was "word number": dimension 1 */
    char *line;        /* text: a NUL-terminated copy of the current row */
    size_t line_cap;
    char **tok; /* text: token starts */
    size_t tok_cap;
} parser;

static int is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static int numeric_token(const unsigned char *t, size_t len)
{
    if (len == 0)
        return 0;
    static const char *const words[] = {"nan",  "-nan",     "inf",      "-inf",
                                        "+inf", "infinity", "-infinity"};
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        if (strlen(words[i]) == len && strncasecmp((const char *)t, words[i], len) == 0)
            return 1;
    int digit = 0;
    for (size_t i = 0; i < len; i++) {
        if (t[i] >= '0' && t[i] <= '9')
            digit = 1;
        else if (!strchr("+-.eE", t[i]))
            return 0;
    }
    return digit;
}

/* Splits [p, e) at runs of blanks into at most `max` tokens; returns the
 * count (which may exceed max: the rest are counted, not stored). */
static size_t split(const unsigned char *p, const unsigned char *e, const unsigned char **ts,
                    size_t *lens, size_t max)
{
    size_t n = 0;
    while (p < e) {
        while (p < e && is_space(*p))
            p++;
        if (p == e)
            break;
        const unsigned char *t = p;
        while (p < e && !is_space(*p))
            p++;
        if (n < max) {
            ts[n] = t;
            lens[n] = (size_t)(p - t);
        }
        n++;
    }
    return n;
}

/* Reads the "N D" header if there is one. Returns 1 when found, 0 when the
 * file starts with a row instead. */
static int parse_header(parser *ps, size_t *n, size_t *dim)
{
    vstream *s = &ps->s;
    int rc = vs_fill(s, 256);
    if (rc < 0)
        return rc;
    if (vs_avail(s) >= 3 && memcmp(s->p, "\xEF\xBB\xBF", 3) == 0)
        s->p += 3; /* a UTF-8 byte-order mark, as some editors write */
    if (vs_avail(s) == 0)
        return loom_error(LOOM_EFORMAT, "%s: empty file (no header, no vectors)", ps->path);
    const unsigned char *p = s->p, *e = s->end;
    const unsigned char *nl = memchr(p, '\n', (size_t)(e - p));
    const unsigned char *le = nl ? nl : e;
    const unsigned char *ts[3];
    size_t lens[3];
    size_t k = split(p, le, ts, lens, 3);
    size_t digits = 0;
    while (p + digits < e && strchr("0123456789 \t\r", p[digits]) && p[digits])
        digits++;
    if (!nl && s->eof && p + digits == e)
        return loom_error(LOOM_EFORMAT,
                          "%s: header: truncated (the file ends inside the 'N D' line)", ps->path);
    size_t whole = 0; /* of the first three tokens, whole numbers (signed or not) */
    for (size_t i = 0; i < k && i < 3; i++) {
        size_t sign = ts[i][0] == '-' || ts[i][0] == '+', j = sign;
        while (j < lens[i] && ts[i][j] >= '0' && ts[i][j] <= '9')
            j++;
        whole += j == lens[i] && lens[i] > sign;
    }
    /* "-3 4" or "3 4 5": meant as a header, not a row (rows start with a word). */
    if (nl && k >= 2 && whole == (k < 3 ? k : 3) && (k != 2 || ts[0][0] == '-' || ts[1][0] == '-'))
        return loom_error(LOOM_EFORMAT,
                          "%s: line 1: '%.*s' is not an 'N D' header (two whole numbers: words, "
                          "dimension)",
                          ps->path, (int)(le - p < SHOW_WORD ? le - p : SHOW_WORD),
                          (const char *)p);
    if (k != 2 || !nl)
        return 0;
    unsigned long long vals[2];
    for (int i = 0; i < 2; i++) {
        if (lens[i] > 18)
            return loom_error(LOOM_EFORMAT, "%s: header: number too large", ps->path);
        unsigned long long x = 0;
        for (size_t j = 0; j < lens[i]; j++) {
            if (ts[i][j] < '0' || ts[i][j] > '9')
                return 0;
            x = x * 10 + (ts[i][j] - '0');
        }
        vals[i] = x;
    }
    if (vals[1] == 0)
        return loom_error(LOOM_EFORMAT, "%s: header: dimension 0 (header '%llu %llu')", ps->path,
                          vals[0], vals[1]);
    if (vals[1] > (1u << 24))
        return loom_error(LOOM_EFORMAT, "%s: header: dimension %llu is implausibly large", ps->path,
                          vals[1]);
    if (vals[0] >= UINT32_MAX - 2)
        return loom_error(LOOM_EFORMAT, "%s: header: %llu words are more than supported", ps->path,
                          vals[0]);
    *n = (size_t)vals[0];
    *dim = (size_t)vals[1];
    s->p = nl + 1;
    return 1;
}

/* A control byte: never in a text file's rows (tab, CR and LF aside). */
static inline int control_byte(unsigned char c)
{
    return (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f;
}

/* Do the dim floats of a binary row starting at p (its word, a space, 4
 * dim bytes) hold a control byte, as float bytes nearly always do and a
 * text file's values never? Only the bytes before e are looked at. */
static int binary_values(const unsigned char *p, const unsigned char *e, size_t dim)
{
    const unsigned char *sp = memchr(p, ' ', (size_t)(e - p));
    if (!sp)
        return 0;
    size_t room = (size_t)(e - sp - 1);
    const unsigned char *end = room / 4 > dim ? sp + 1 + 4 * dim : e;
    for (const unsigned char *q = sp + 1; q < end; q++)
        if (control_byte(*q))
            return 1;
    return 0;
}

/* Is the first row after the header text? A text row's last fields are
 * numbers and its bytes printable; a binary row's float bytes are neither.
 * But a binary row's first floats can read as a short text line: word ','
 * and the bytes 31 0a ("1\n") as its first float made ", 1" a text row of
 * 1 value (a file loom embed wrote, refused as "short row"). So with the
 * header's dimension, a whole first line of fewer values whose row, read
 * as binary, holds control bytes is binary. */
static int looks_like_text(parser *ps, size_t dim, size_t *fields)
{
    vstream *s = &ps->s;
    /* Enough of the first row to see its kind, never the whole of a row
     * that a header's dimension says is huge. */
    size_t want = 64 + 48 * dim < SNIFF ? 64 + 48 * dim : SNIFF;
    int rc = vs_fill(s, want);
    /* Without a header the first row's length gives the dimension, so it
     * must be whole: read on to its end. */
    while (rc == 0 && dim == 0 && !s->eof && want < MAX_FIRST_ROW &&
           !memchr(s->p, '\n', vs_avail(s))) {
        want *= 4;
        rc = vs_fill(s, want);
    }
    if (rc < 0)
        return rc;
    const unsigned char *p = s->p, *e = s->end;
    while (p < e && (*p == '\n' || is_space(*p)))
        p++;
    size_t rest = e > p ? (size_t)(e - p) : 0;
    const unsigned char *nl = rest ? memchr(p, '\n', rest) : NULL;
    const unsigned char *le = nl ? nl : e;
    for (const unsigned char *q = p; q < le; q++)
        if (control_byte(*q)) /* the line ends before its LF */
            return 0;
    enum { MAXT = 4096 };
    static __thread const unsigned char *ts[MAXT];
    static __thread size_t lens[MAXT];
    size_t k = split(p, le, ts, lens, MAXT);
    *fields = k;
    if (dim && nl && k <= dim && binary_values(p, e, dim))
        return 0;
    if (k < 2 || k > MAXT)
        return k > MAXT;
    size_t check = dim && dim < k - 1 ? dim : k - 1;
    for (size_t i = k - check; i < k; i++)
        if (!numeric_token(ts[i], lens[i]))
            return 0;
    return 1;
}

static int finite_row(const float *row, size_t dim)
{
    for (size_t j = 0; j < dim; j++)
        if (!isfinite(row[j]))
            return 0;
    return 1;
}

static int bad_value(parser *ps, const char *word, size_t len)
{
    return loom_error(LOOM_EFORMAT,
                      "%s: record %zu ('%.*s'): NaN or infinite value (vectors must be finite)",
                      ps->path, ps->record, (int)(len < SHOW_WORD ? len : SHOW_WORD), word);
}

/* Adds the row just written at v->rows[v->n] under `word`. */
static int commit_row(parser *ps, const char *word, size_t len)
{
    loom_vectors *v = ps->v;
    size_t first = 0;
    if (!finite_row(v->rows + v->n * v->dim, v->dim))
        return bad_value(ps, word, len);
    if (memchr(word, '\0', len))
        return loom_error(LOOM_EFORMAT, "%s: record %zu: the word holds a NUL byte", ps->path,
                          ps->record);
    int rc = add_word(v, word, len, &first);
    if (rc < 0)
        return rc;
    if (rc == 0) {
        if (ps->flags & LOOM_VEC_KEEP_FIRST) {
            v->dropped++;
            return 0;
        }
        return loom_error(LOOM_EFORMAT,
                          "%s: record %zu: duplicate word '%.*s' (first at record %zu)", ps->path,
                          ps->record, (int)(len < SHOW_WORD ? len : SHOW_WORD), word, first + 1);
    }
    v->n++;
    return 0;
}

/* Reader errors (a cut gzip stream) get the record number added. */
static int stream_error(parser *ps, int rc)
{
    char msg[512];
    snprintf(msg, sizeof msg, "%s", loom_error_message());
    if (ps->record == 0)
        return loom_error(rc, "%s (while reading the header and the first record)", msg);
    return loom_error(rc, "%s (while reading record %zu)", msg, ps->record);
}

/* Skips blanks and line breaks; returns 1 when a record follows. */
static int more_records(parser *ps)
{
    vstream *s = &ps->s;
    vs_release(s);
    for (;;) {
        while (s->p < s->end && (*s->p == '\n' || is_space(*s->p)))
            s->p++;
        if (s->p < s->end)
            return 1;
        if (s->eof)
            return 0;
        int rc = vs_fill(s, 1);
        if (rc < 0)
            return stream_error(ps, rc);
    }
}

static int read_binary_row(parser *ps)
{
    vstream *s = &ps->s;
    loom_vectors *v = ps->v;
    size_t rowbytes = v->dim * sizeof(float);
    const unsigned char *sp = memchr(s->p, ' ', vs_avail(s));
    size_t look = 256;
    while (!sp && !s->eof && vs_avail(s) < MAX_WORD) {
        look = look * 4 < MAX_WORD ? look * 4 : MAX_WORD;
        int rc = vs_fill(s, look > vs_avail(s) ? look : vs_avail(s) + 1);
        if (rc < 0)
            return stream_error(ps, rc);
        sp = memchr(s->p, ' ', vs_avail(s) < MAX_WORD ? vs_avail(s) : MAX_WORD);
    }
    if (!sp || (size_t)(sp - s->p) >= MAX_WORD) {
        if (s->eof && vs_avail(s) < MAX_WORD)
            return loom_error(LOOM_EFORMAT,
                              "%s: record %zu: truncated: the file ends inside the word", ps->path,
                              ps->record);
        return loom_error(LOOM_EFORMAT,
                          "%s: record %zu (byte %lld): no space after the word within %d bytes "
                          "(not a word2vec binary file?)",
                          ps->path, ps->record, vs_offset(s), MAX_WORD);
    }
    size_t wlen = (size_t)(sp - s->p);
    if (vs_avail(s) < wlen + 1 + rowbytes) {
        int rc = vs_fill(s, wlen + 1 + rowbytes);
        if (rc < 0)
            return stream_error(ps, rc);
    }
    const char *word = (const char *)s->p;
    if (vs_avail(s) < wlen + 1 + rowbytes) {
        size_t got = (vs_avail(s) - wlen - 1) / sizeof(float);
        return loom_error(
            LOOM_EFORMAT,
            "%s: record %zu ('%.*s'): truncated: the file ends after %zu of %zu values", ps->path,
            ps->record, (int)(wlen < SHOW_WORD ? wlen : SHOW_WORD), word, got, v->dim);
    }
    int rc = reserve_row(v, ps->declared);
    if (rc < 0)
        return rc;
    float *row = v->rows + v->n * v->dim;
    memcpy(row, s->p + wlen + 1, rowbytes);
#ifdef LOOM_BIG_ENDIAN
    for (size_t j = 0; j < v->dim; j++) {
        uint32_t u;
        memcpy(&u, row + j, 4);
        u = __builtin_bswap32(u);
        memcpy(row + j, &u, 4);
    }
#endif
    rc = commit_row(ps, word, wlen);
    s->p += wlen + 1 + rowbytes;
    return rc;
}

/* One text row: "word v1 ... vD", blanks separated, CR and trailing
 * blanks ignored; a word may hold spaces when the last D fields are the
 * numbers and the fields before them are not. */
static int read_text_row(parser *ps)
{
    vstream *s = &ps->s;
    loom_vectors *v = ps->v;
    /* A row of D values needs at most this many bytes; a longer one (a row
     * that never ends in a decompression bomb) is refused before it grows. */
    size_t max_row = MAX_WORD + MAX_VALUE_CHARS * v->dim;
    const unsigned char *nl = memchr(s->p, '\n', vs_avail(s));
    while (!nl && !s->eof) {
        size_t had = vs_avail(s);
        if (had > max_row)
            return loom_error(LOOM_EFORMAT,
                              "%s: record %zu (byte %lld): row longer than %zu bytes, more than "
                              "%zu values can take",
                              ps->path, ps->record, vs_offset(s), max_row, v->dim);
        int rc = vs_fill(s, had * 2 > 4096 ? had * 2 : 4096);
        if (rc < 0)
            return stream_error(ps, rc);
        nl = memchr(s->p + had, '\n', vs_avail(s) - had);
    }
    const unsigned char *le = nl ? nl : s->end;
    size_t len = (size_t)(le - s->p);
    int rc = loom_grow((void **)&ps->line, &ps->line_cap, len + 1, 1);
    if (rc < 0)
        return rc;
    memcpy(ps->line, s->p, len);
    ps->line[len] = '\0';
    s->p = nl ? nl + 1 : s->end;
    if (memchr(ps->line, '\0', len))
        return loom_error(LOOM_EFORMAT, "%s: record %zu: NUL byte in the line", ps->path,
                          ps->record);

    /* Tokens, in place: each field NUL-terminated for strtod. */
    size_t k = 0;
    char *p = ps->line, *e = ps->line + len;
    while (p < e) {
        while (p < e && is_space((unsigned char)*p))
            p++;
        if (p == e)
            break;
        if (k == ps->tok_cap &&
            (rc = loom_grow((void **)&ps->tok, &ps->tok_cap, k < v->dim + 8 ? v->dim + 8 : k + 1,
                            sizeof *ps->tok)) < 0)
            return rc;
        ps->tok[k++] = p;
        while (p < e && !is_space((unsigned char)*p))
            p++;
        *p = '\0';
        if (p < e)
            p++;
    }
    const char *word = ps->tok[0];
    size_t wlen = strlen(word);
    int shown = (int)(wlen < SHOW_WORD ? wlen : SHOW_WORD);
    /* "abc 4" on line 1 reads as a row of dimension 1; say so when the
     * rows that follow disagree, as it was most likely a broken header. */
    const char *hint = ps->dim_from_pair && ps->record > 1 && k != 2
                           ? " (line 1 has two fields, so it was read as a row of dimension 1, "
                             "not an 'N D' header)"
                           : "";
    if (k - 1 < v->dim)
        return loom_error(LOOM_EFORMAT,
                          "%s: record %zu ('%.*s'): short row: %zu values, expected %zu%s",
                          ps->path, ps->record, shown, word, k - 1, v->dim, hint);
    size_t first = k - v->dim; /* the first number */
    if (first > 1) {
        for (size_t i = 1; i < first; i++)
            if (numeric_token((const unsigned char *)ps->tok[i], strlen(ps->tok[i])))
                return loom_error(LOOM_EFORMAT,
                                  "%s: record %zu ('%.*s'): long row: %zu values, expected %zu%s",
                                  ps->path, ps->record, shown, word, k - 1, v->dim, hint);
        for (size_t i = 1; i < first; i++)
            ps->tok[i][-1] = ' '; /* rejoin "new york" */
        wlen = strlen(word);
        shown = (int)(wlen < SHOW_WORD ? wlen : SHOW_WORD);
    }
    rc = reserve_row(v, ps->declared);
    if (rc < 0)
        return rc;
    float *row = v->rows + v->n * v->dim;
    for (size_t j = 0; j < v->dim; j++) {
        char *end;
        const char *t = ps->tok[first + j];
        row[j] = (float)strtod(t, &end);
        if (end == t || *end != '\0')
            return loom_error(LOOM_EFORMAT,
                              "%s: record %zu ('%.*s'): value %zu '%.20s' is not a number",
                              ps->path, ps->record, shown, word, j + 1, t);
    }
    return commit_row(ps, word, wlen);
}

static int parse(parser *ps)
{
    loom_vectors *v = ps->v;
    size_t n = 0, dim = 0, fields = 0;
    int rc = parse_header(ps, &n, &dim);
    if (rc < 0)
        return rc;
    v->header = rc;
    int text = looks_like_text(ps, rc ? dim : 0, &fields);
    if (text < 0)
        return stream_error(ps, text);
    if (!v->header) {
        if (!text || fields < 2)
            return loom_error(LOOM_EFORMAT,
                              "%s: line 1 is neither an 'N D' header nor a 'word v1 ... vD' row "
                              "(not a vector file?)",
                              ps->path);
        dim = fields - 1;
        ps->dim_from_pair = dim == 1;
    }
    v->format = text ? LOOM_VEC_TEXT : LOOM_VEC_BIN;
    v->dim = dim;
    ps->declared = n;
    if (ps->limit && (!n || ps->limit < n))
        n = ps->limit;
    /* Reserve what the header promises, but no more than the file can hold,
     * so that a lying header cannot make us allocate terabytes. */
    size_t guess = v->header ? n : 1024;
    if (ps->s.file_size > 0) {
        size_t min_row = text ? 1 + 2 * dim : 2 + 4 * dim;
        size_t fit = (size_t)ps->s.file_size / min_row + 1;
        if (guess > fit)
            guess = fit;
    } else if (guess > STREAM_ROWS_BYTES / (4 * dim)) {
        guess = STREAM_ROWS_BYTES / (4 * dim) + 1; /* reserve_row grows it as rows arrive */
    }
    if (guess) {
        float *rows = loom_malloc(guess * dim, sizeof *rows);
        size_t *offs = loom_malloc(guess, sizeof *offs);
        if (!rows || !offs) {
            free(rows);
            free(offs);
            return LOOM_ENOMEM;
        }
        v->rows = rows;
        v->offs = offs;
        v->cap = guess;
        rc = index_grow(v, guess);
        if (rc < 0)
            return rc;
    }
    size_t limit = ps->limit ? ps->limit : (size_t)-1;
    for (ps->record = 1; ps->record <= limit; ps->record++) {
        if (v->header && ps->record > ps->declared) {
            rc = more_records(ps);
            if (rc < 0)
                return rc;
            if (rc)
                return loom_error(
                    LOOM_EFORMAT,
                    "%s: the header says %zu words but more follow (record %zu at byte %lld)",
                    ps->path, ps->declared, ps->record, vs_offset(&ps->s));
            break;
        }
        rc = more_records(ps);
        if (rc < 0)
            return rc;
        if (!rc) {
            if (v->header && ps->record <= ps->declared)
                return loom_error(LOOM_EFORMAT,
                                  "%s: the header says %zu words but the file ends after %zu "
                                  "(truncated, or the header lies)",
                                  ps->path, ps->declared, ps->record - 1);
            break;
        }
        rc = text ? read_text_row(ps) : read_binary_row(ps);
        if (rc < 0)
            return rc;
    }
    if (v->n == 0 && !(v->header && ps->declared == 0))
        return loom_error(LOOM_EFORMAT, "%s: no vectors", ps->path);
    return 0;
}

int loom_vectors_load_opts(loom_vectors **out, const char *path, int flags, size_t max_words)
{
    *out = NULL;
    loom_vectors *v = loom_calloc(1, sizeof *v);
    if (!v)
        return LOOM_ENOMEM;
    parser ps = {.v = v, .path = path, .limit = max_words, .flags = flags};
    int rc = vs_open(&ps.s, path, &v->gzip);
    if (rc == 0)
        rc = parse(&ps);
    vs_close(&ps.s);
    free(ps.line);
    free(ps.tok);
    if (rc < 0) {
        loom_vectors_free(v);
        return rc;
    }
    *out = v;
    return 0;
}

int loom_vectors_load(loom_vectors **out, const char *path)
{
    return loom_vectors_load_opts(out, path, 0, 0);
}

void loom_vectors_free(loom_vectors *v)
{
    if (!v)
        return;
    free(v->rows);
    free(v->chars);
    free(v->offs);
    free(v->slots);
    free(v);
}

size_t loom_vectors_count(const loom_vectors *v)
{
    return v->n;
}
size_t loom_vectors_dim(const loom_vectors *v)
{
    return v->dim;
}
const char *loom_vectors_word(const loom_vectors *v, size_t i)
{
    return v->chars + v->offs[i];
}
const float *loom_vectors_row(const loom_vectors *v, size_t i)
{
    return v->rows + i * v->dim;
}
float *loom_vectors_matrix(loom_vectors *v)
{
    return v->rows;
}
int loom_vectors_format(const loom_vectors *v)
{
    return v->format;
}
int loom_vectors_gzip(const loom_vectors *v)
{
    return v->gzip;
}
int loom_vectors_has_header(const loom_vectors *v)
{
    return v->header;
}
size_t loom_vectors_dropped(const loom_vectors *v)
{
    return v->dropped;
}

void loom_vectors_normalize(loom_vectors *v)
{
    for (size_t i = 0; i < v->n; i++) {
        float *row = v->rows + i * v->dim;
        double ss = 0;
        for (size_t j = 0; j < v->dim; j++)
            ss += (double)row[j] * row[j];
        if (ss > 0) {
            float inv = (float)(1.0 / sqrt(ss));
            for (size_t j = 0; j < v->dim; j++)
                row[j] *= inv;
        }
    }
}

/* ---- writing ---- */

int loom_vectors_format_for(const char *path)
{
    static const char *const text[] = {".txt", ".vec", ".txt.gz", ".vec.gz"};
    for (size_t i = 0; i < sizeof text / sizeof *text; i++)
        if (loom_has_suffix(path, text[i]))
            return LOOM_VEC_TEXT;
    return LOOM_VEC_BIN;
}

/* The shortest "%g" form that reads back as the same float, like Python's
 * repr of a numpy float32. */
static int format_float(char *buf, size_t size, float x)
{
    int n = 0;
    for (int prec = 6; prec <= 9; prec++) {
        n = snprintf(buf, size, "%.*g", prec, (double)x);
        if (strtof(buf, NULL) == x)
            break;
    }
    return n;
}

static int check_rows(size_t n, size_t dim, const char *const *words, const float *rows)
{
    if (dim == 0)
        return loom_error(LOOM_EINVAL, "cannot write vectors of dimension 0");
    for (size_t i = 0; i < n; i++) {
        const char *w = words[i];
        if (!w || !*w)
            return loom_error(LOOM_EINVAL, "row %zu has an empty word", i + 1);
        for (const char *c = w; *c; c++)
            if (*c == ' ' || *c == '\t' || *c == '\n' || *c == '\r' || *c == '\v' || *c == '\f')
                return loom_error(LOOM_EINVAL,
                                  "row %zu: the word '%.*s' contains a space, tab or line break, "
                                  "which vector files use as separators",
                                  i + 1, SHOW_WORD, w);
        if (!finite_row(rows + i * dim, dim))
            return loom_error(LOOM_EINVAL, "row %zu ('%.*s') holds a NaN or infinite value", i + 1,
                              SHOW_WORD, w);
    }
    return 0;
}

int loom_vectors_save_rows(const char *path, int format, size_t n, size_t dim,
                           const char *const *words, const float *rows)
{
    int rc = check_rows(n, dim, words, rows);
    if (rc < 0)
        return loom_error_prefix(rc, path, 0);
    if (format == LOOM_VEC_AUTO)
        format = loom_vectors_format_for(path);
    if (format != LOOM_VEC_BIN && format != LOOM_VEC_TEXT)
        return loom_error(LOOM_EINVAL, "unknown vector format %d", format);
    loom_writer *w;
    rc = loom_writer_open(&w, path, LOOM_WRITE_AUTO);
    if (rc < 0)
        return rc;
    size_t cap = dim * 18 + 64;
    char *buf = loom_malloc(cap, 1);
    if (!buf) {
        loom_writer_abort(w);
        return LOOM_ENOMEM;
    }
    rc = loom_writer_printf(w, "%zu %zu\n", n, dim);
    for (size_t i = 0; i < n && rc == 0; i++) {
        const float *row = rows + i * dim;
        rc = loom_writer_puts(w, words[i]);
        if (rc < 0)
            break;
        if (format == LOOM_VEC_BIN) {
            rc = loom_writer_write(w, " ", 1);
#ifdef LOOM_BIG_ENDIAN
            for (size_t j = 0; j < dim && rc == 0; j++) {
                uint32_t u;
                memcpy(&u, row + j, 4);
                u = __builtin_bswap32(u);
                rc = loom_writer_write(w, &u, 4);
            }
#else
            if (rc == 0)
                rc = loom_writer_write(w, row, dim * sizeof *row);
#endif
            if (rc == 0)
                rc = loom_writer_write(w, "\n", 1);
        } else {
            size_t len = 0;
            for (size_t j = 0; j < dim; j++) {
                buf[len++] = ' ';
                len += (size_t)format_float(buf + len, cap - len, row[j]);
            }
            buf[len++] = '\n';
            rc = loom_writer_write(w, buf, len);
        }
    }
    free(buf);
    return loom_writer_finish(w, rc);
}

int loom_vectors_save(const loom_vectors *v, const char *path, int format)
{
    const char **words = loom_malloc(v->n ? v->n : 1, sizeof *words);
    if (!words)
        return LOOM_ENOMEM;
    for (size_t i = 0; i < v->n; i++)
        words[i] = loom_vectors_word(v, i);
    int rc = loom_vectors_save_rows(path, format, v->n, v->dim, words, v->rows);
    free(words);
    return rc;
}

int loom_vectors_load_dim(loom_vectors **out, const char *path, size_t dim, const char *what,
                          const char *flag)
{
    loom_vectors *v;
    int rc = loom_vectors_load(&v, path);
    if (rc)
        return rc;
    size_t d = loom_vectors_dim(v);
    if (d != dim) {
        loom_vectors_free(v);
        return loom_error(LOOM_EINVAL, "%s: vectors of dimension %zu, but %s is %zu (--%s)", path,
                          d, what, dim, flag);
    }
    *out = v;
    return 0;
}

double loom_vectors_sd(const loom_vectors *v)
{
    size_t nval = loom_vectors_count(v) * loom_vectors_dim(v);
    const float *all = nval ? loom_vectors_row(v, 0) : NULL; /* the rows are contiguous */
    double sum = 0, sq = 0;
    for (size_t i = 0; i < nval; i++)
        sum += all[i], sq += (double)all[i] * all[i];
    double mean = nval ? sum / (double)nval : 0;
    return nval ? sqrt(fmax(sq / (double)nval - mean * mean, 1e-12)) : 1;
}
