/* loom: one reader for every input: a file path, "-" for stdin, and gzip
 * files (zlib reads plain and gzip alike). Memory is bounded by the buffer
 * size whatever the input: a 100 MB line arrives in pieces. */
#ifndef LOOM_BASE_READER_H
#define LOOM_BASE_READER_H

#include <stddef.h>

typedef struct loom_reader loom_reader;

/* Opens `path` ("-" is stdin). A missing or unreadable file is LOOM_EIO
 * with a message naming it. */
int loom_reader_open(loom_reader **out, const char *path);
/* As above, with the piece buffer sized `bufsize` bytes (at least 64). */
int loom_reader_open_sized(loom_reader **out, const char *path, size_t bufsize);

/* Chunk interface: reads up to n bytes into buf. Returns the count (> 0),
 * 0 at the end of input, or a negative LOOM_E* code (corrupt or truncated
 * gzip, read error) with the file named in the message. */
long loom_reader_read(loom_reader *r, void *buf, size_t n);

/* Line interface. Delivers the next piece of a line: *line points into the
 * reader's buffer (valid until the next call), *len bytes long, without the
 * "\n" or "\r\n" that ends it. *complete is 1 when the piece ends its line
 * (at a newline or at the end of input) and 0 when the line goes on in the
 * next piece because it is longer than the buffer; an incomplete piece
 * never ends inside a UTF-8 sequence or between "\r" and "\n".
 * Returns 1 for a piece, 0 at the end of input, negative on error.
 * A lone "\r" is not a line break: it is left in the line. */
int loom_reader_line(loom_reader *r, const char **line, size_t *len, int *complete);

/* Whole lines into a buffer that grows up to `max` bytes (a longer line is
 * LOOM_EFORMAT naming the file and line). *buf and *cap may start as NULL and 0; the
 * caller frees *buf. Returns 1 for a line, 0 at end, negative on error. */
int loom_reader_getline(loom_reader *r, char **buf, size_t *cap, size_t *len, size_t max);

/* The 1-based line number of the piece last delivered by the line interface. */
long long loom_reader_line_number(const loom_reader *r);
/* The byte offset (in the uncompressed stream) of that piece's start. */
long long loom_reader_offset(const loom_reader *r);
/* Bytes consumed so far from the underlying file (compressed bytes for
 * gzip), for progress against the file size. */
long long loom_reader_raw_offset(const loom_reader *r);
/* 1 if the input is gzip-compressed. */
int loom_reader_is_gzip(const loom_reader *r);
/* The path given to open ("-" shows as "<stdin>"). */
const char *loom_reader_path(const loom_reader *r);

void loom_reader_close(loom_reader *r);

/* ---- additions beyond the first interface ---- */

/* Opens `path` like loom_reader_open and starts reading at byte `offset` of
 * its (uncompressed) stream: a plain file seeks there, a gzip file is
 * decompressed up to it. Offsets reported afterwards count from the
 * stream's start. Not for stdin ("-" cannot seek: LOOM_EINVAL). Used by
 * the word vector trainer to give each thread its own byte range. */
int loom_reader_open_at(loom_reader **out, const char *path, long long offset);

/* Called with each non-empty line (without its newline; writable, valid
 * during the call), the file's name as loom_reader_path gives it, and the
 * 1-based line number. A non-zero return stops the file: negative is an
 * error, positive an early end. */
typedef int (*loom_line_fn)(void *ctx, char *line, size_t len, const char *name, long long lineno);

/* Opens path and calls fn on each of its non-empty lines (at most `max`
 * bytes, as loom_reader_getline). Returns 0 or a negative code: the
 * reader's or fn's. When `if_empty` is not NULL, a file without a
 * non-empty line is LOOM_EFORMAT "NAME: if_empty". */
int loom_reader_each_line(const char *path, size_t max, loom_line_fn fn, void *ctx,
                          const char *if_empty);

#endif
