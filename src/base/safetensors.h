/* loom: the model container, in the safetensors layout: an 8-byte
 * little-endian header length N, N bytes of JSON (padded with spaces to a
 * multiple of 8) giving each tensor's dtype, shape and data_offsets plus a
 * "__metadata__" map of strings, then the raw little-endian tensor data.
 * Python's safetensors and PyTorch read what loom writes and vice versa.
 * This file knows bytes and shapes, not what a tensor means. */
#ifndef LOOM_BASE_SAFETENSORS_H
#define LOOM_BASE_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#define LOOM_ST_MAX_DIMS 8

typedef enum {
    LOOM_ST_F32 = 0, /* "F32" */
    LOOM_ST_I32 = 1, /* "I32" */
    LOOM_ST_I64 = 2, /* "I64" */
    LOOM_ST_F64 = 3, /* "F64" */
    LOOM_ST_U8 = 4   /* "U8": bytes (an embedded file, such as a subword model) */
} loom_st_dtype;

/* ---- writing ---- */

typedef struct loom_st_writer loom_st_writer;

int loom_st_writer_new(loom_st_writer **out);
/* Adds a tensor. `data` is borrowed (not copied) and must stay valid until
 * _save; it holds the product of `shape` elements of `dtype` in row-major
 * order. ndim 0 is a scalar. Names are unique (LOOM_EINVAL otherwise) and
 * must not be "__metadata__". */
int loom_st_writer_add(loom_st_writer *w, const char *name, loom_st_dtype dtype, int ndim,
                       const int64_t *shape, const void *data);
/* Float32 shorthand with an int shape (as loom_param has). */
int loom_st_writer_add_f32(loom_st_writer *w, const char *name, int ndim, const int *shape,
                           const float *data);
/* Sets __metadata__[key] = value (both copied; a repeated key replaces). */
int loom_st_writer_meta(loom_st_writer *w, const char *key, const char *value);
/* Writes the file atomically through base/writer.h (".gz" names are
 * compressed). The writer stays usable (and must still be freed). */
int loom_st_writer_save(loom_st_writer *w, const char *path);
void loom_st_writer_free(loom_st_writer *w); /* accepts NULL */

/* ---- reading ---- */

typedef struct {
    const char *name;
    loom_st_dtype dtype;
    int ndim;
    int64_t shape[LOOM_ST_MAX_DIMS];
    size_t numel;     /* product of shape (1 for a scalar) */
    size_t nbytes;    /* numel * element size */
    const void *data; /* aligned to the element size; owned by the file */
} loom_st_tensor;

typedef struct loom_st_file loom_st_file;

/* Reads and validates the whole file (plain or .gz, bounded by the file's
 * own header): the header length, the JSON, every dtype, shape and offset
 * (within the data, sized as the shape says, not overlapping). A
 * truncated, corrupt or foreign file is LOOM_EFORMAT naming the file. */
int loom_st_open(loom_st_file **out, const char *path);

/* As loom_st_open, but `check` runs once the header is read and validated
 * and before any tensor data is read or memory taken for it: it sees the
 * metadata and every tensor's name, dtype and shape (data still NULL) and
 * may refuse the file by returning a negative LOOM_E* code, which the open
 * returns. A model loader uses it to refuse tensors it has no use for, so
 * a small .gz claiming gigabytes of them is never inflated. */
typedef int (*loom_st_check_fn)(const loom_st_file *header, void *ctx);
int loom_st_open_checked(loom_st_file **out, const char *path, loom_st_check_fn check, void *ctx);
void loom_st_close(loom_st_file *f); /* accepts NULL */

const char *loom_st_path(const loom_st_file *f);
size_t loom_st_count(const loom_st_file *f);                                 /* tensors */
const loom_st_tensor *loom_st_at(const loom_st_file *f, size_t i);           /* file order */
const loom_st_tensor *loom_st_find(const loom_st_file *f, const char *name); /* NULL if absent */

/* Looks up a float32 tensor, checking its shape when `shape` is not NULL
 * (ndim entries). Missing: LOOM_ENOTFOUND; other dtype or shape:
 * LOOM_EFORMAT; both with file and tensor named in the message. */
int loom_st_get_f32(const loom_st_file *f, const char *name, int ndim, const int64_t *shape,
                    const float **data);

/* __metadata__: the value for `key`, or NULL. */
const char *loom_st_meta(const loom_st_file *f, const char *key);
size_t loom_st_meta_count(const loom_st_file *f);
/* The i-th entry (file order); returns 0, or LOOM_EINVAL when i is out of range. */
int loom_st_meta_at(const loom_st_file *f, size_t i, const char **key, const char **value);

const char *loom_st_dtype_name(loom_st_dtype dtype);
size_t loom_st_dtype_size(loom_st_dtype dtype);

#endif
