/* loom: reading and writing the safetensors layout (see safetensors.h).
 * The reader trusts nothing in a file: the header length, every dtype,
 * shape and offset is checked against the bytes actually present before
 * any tensor is handed out. The JSON is jansson's; data is little-endian
 * on disk and swapped on big-endian hosts. */
#include "config.h"
#include "base/safetensors.h"
#include "base/alloc.h"
#include "base/error.h"
#include "base/reader.h"
#include "base/writer.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Python's safetensors refuses headers above 100 MB; so does loom. */
#define MAX_HEADER (100u * 1024 * 1024)
#define META_KEY "__metadata__"

static const char *const dtype_names[] = {"F32", "I32", "I64", "F64", "U8"};
static const size_t dtype_sizes[] = {4, 4, 8, 8, 1};
#define NDTYPES (sizeof dtype_sizes / sizeof dtype_sizes[0])

const char *loom_st_dtype_name(loom_st_dtype dtype)
{
    return (unsigned)dtype < NDTYPES ? dtype_names[dtype] : "?";
}

size_t loom_st_dtype_size(loom_st_dtype dtype)
{
    return (unsigned)dtype < NDTYPES ? dtype_sizes[dtype] : 0;
}

static int host_is_big_endian(void)
{
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 0;
}

/* Reverses each `size`-byte element of buf in place (big-endian hosts). */
static void swap_elements(void *buf, size_t nbytes, size_t size)
{
    uint8_t *p = buf;
    for (size_t i = 0; i + size <= nbytes; i += size)
        for (size_t a = 0, b = size - 1; a < b; a++, b--) {
            uint8_t t = p[i + a];
            p[i + a] = p[i + b];
            p[i + b] = t;
        }
}

/* Product of the shape with overflow detection; 0 on overflow. */
static int shape_numel(int ndim, const int64_t *shape, size_t elsize, size_t *numel, size_t *nbytes)
{
    size_t n = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0)
            return -1;
        if (shape[d] != 0 && n > SIZE_MAX / (size_t)shape[d])
            return -1;
        n *= (size_t)shape[d];
    }
    if (n > SIZE_MAX / elsize)
        return -1;
    *numel = n;
    *nbytes = n * elsize;
    return 0;
}

/* ---------------------------------------------------------------- writing */

typedef struct {
    char *name;
    loom_st_dtype dtype;
    int ndim;
    int64_t shape[LOOM_ST_MAX_DIMS];
    size_t nbytes;
    const void *data;
} wtensor;

struct loom_st_writer {
    wtensor *t;
    size_t n, cap;
    char **keys, **values;
    size_t nmeta, capmeta;
};

int loom_st_writer_new(loom_st_writer **out)
{
    *out = loom_calloc(1, sizeof **out);
    return *out ? 0 : LOOM_ENOMEM;
}

void loom_st_writer_free(loom_st_writer *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n; i++)
        free(w->t[i].name);
    for (size_t i = 0; i < w->nmeta; i++) {
        free(w->keys[i]);
        free(w->values[i]);
    }
    free(w->t);
    free(w->keys);
    free(w->values);
    free(w);
}

int loom_st_writer_add(loom_st_writer *w, const char *name, loom_st_dtype dtype, int ndim,
                       const int64_t *shape, const void *data)
{
    if (!name || !*name || strcmp(name, META_KEY) == 0)
        return loom_error(LOOM_EINVAL, "safetensors: bad tensor name '%s'", name ? name : "");
    if ((unsigned)dtype >= NDTYPES || ndim < 0 || ndim > LOOM_ST_MAX_DIMS)
        return loom_error(LOOM_EINVAL, "safetensors: tensor '%s': bad dtype or rank", name);
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->t[i].name, name) == 0)
            return loom_error(LOOM_EINVAL, "safetensors: duplicate tensor name '%s'", name);
    wtensor t = {.dtype = dtype, .ndim = ndim, .data = data};
    size_t numel;
    for (int d = 0; d < ndim; d++)
        t.shape[d] = shape[d];
    if (shape_numel(ndim, t.shape, dtype_sizes[dtype], &numel, &t.nbytes) < 0)
        return loom_error(LOOM_EINVAL, "safetensors: tensor '%s': bad shape", name);
    if (t.nbytes > 0 && !data)
        return loom_error(LOOM_EINVAL, "safetensors: tensor '%s': no data", name);
    if (loom_grow((void **)&w->t, &w->cap, w->n + 1, sizeof *w->t) < 0)
        return LOOM_ENOMEM;
    if (!(t.name = loom_strdup(name)))
        return LOOM_ENOMEM;
    w->t[w->n++] = t;
    return 0;
}

int loom_st_writer_add_f32(loom_st_writer *w, const char *name, int ndim, const int *shape,
                           const float *data)
{
    int64_t s[LOOM_ST_MAX_DIMS];
    if (ndim < 0 || ndim > LOOM_ST_MAX_DIMS)
        return loom_error(LOOM_EINVAL, "safetensors: tensor '%s': bad rank %d", name, ndim);
    for (int d = 0; d < ndim; d++)
        s[d] = shape[d];
    return loom_st_writer_add(w, name, LOOM_ST_F32, ndim, s, data);
}

int loom_st_writer_meta(loom_st_writer *w, const char *key, const char *value)
{
    char *v = loom_strdup(value);
    if (!v)
        return LOOM_ENOMEM;
    for (size_t i = 0; i < w->nmeta; i++)
        if (strcmp(w->keys[i], key) == 0) {
            free(w->values[i]);
            w->values[i] = v;
            return 0;
        }
    if (w->nmeta == w->capmeta) { /* keys and values share one capacity */
        size_t cap = loom_grow_size(w->capmeta, w->nmeta + 1, sizeof(char *));
        char **k = cap ? loom_realloc(w->keys, cap, sizeof *k) : NULL;
        if (k)
            w->keys = k;
        char **vv = k ? loom_realloc(w->values, cap, sizeof *vv) : NULL;
        if (!vv) {
            free(v);
            return LOOM_ENOMEM;
        }
        w->values = vv;
        w->capmeta = cap;
    }
    if (!(w->keys[w->nmeta] = loom_strdup(key))) {
        free(v);
        return LOOM_ENOMEM;
    }
    w->values[w->nmeta++] = v;
    return 0;
}

/* The data section is laid out widest dtype first (as Python's safetensors
 * does), so that every tensor is aligned to its element size once the
 * header is padded to 8 bytes; the JSON keeps the order of _add. */
static void layout(const loom_st_writer *w, size_t *order, uint64_t *begin)
{
    size_t k = 0;
    uint64_t off = 0;
    for (size_t size = 8; size >= 1; size /= 2)
        for (size_t i = 0; i < w->n; i++)
            if (dtype_sizes[w->t[i].dtype] == size) {
                order[k++] = i;
                begin[i] = off;
                off += w->t[i].nbytes;
            }
}

static char *build_header(const loom_st_writer *w, const uint64_t *begin)
{
    json_t *root = json_object(), *meta = NULL;
    char *text = NULL;
    if (!root)
        return NULL;
    if (w->nmeta) {
        if (!(meta = json_object()) || json_object_set_new(root, META_KEY, meta) < 0)
            goto out;
        for (size_t i = 0; i < w->nmeta; i++)
            if (json_object_set_new(meta, w->keys[i], json_string(w->values[i])) < 0)
                goto out;
    }
    for (size_t i = 0; i < w->n; i++) {
        const wtensor *t = &w->t[i];
        json_t *shape = json_array();
        for (int d = 0; d < t->ndim; d++)
            json_array_append_new(shape, json_integer(t->shape[d]));
        json_t *obj =
            json_pack("{s:s, s:o, s:[I,I]}", "dtype", dtype_names[t->dtype], "shape", shape,
                      "data_offsets", (json_int_t)begin[i], (json_int_t)(begin[i] + t->nbytes));
        if (!obj || json_object_set_new(root, t->name, obj) < 0)
            goto out;
    }
    text = json_dumps(root, JSON_COMPACT | JSON_ENSURE_ASCII);
out:
    json_decref(root);
    return text;
}

static int write_data(loom_writer *out, const void *data, size_t nbytes, size_t elsize)
{
    if (!host_is_big_endian())
        return loom_writer_write(out, data, nbytes);
    uint8_t buf[4096];
    for (size_t off = 0; off < nbytes; off += sizeof buf) {
        size_t n = nbytes - off < sizeof buf ? nbytes - off : sizeof buf;
        memcpy(buf, (const uint8_t *)data + off, n);
        swap_elements(buf, n, elsize);
        int rc = loom_writer_write(out, buf, n);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int loom_st_writer_save(loom_st_writer *w, const char *path)
{
    size_t *order = loom_calloc(w->n + 1, sizeof *order);
    uint64_t *begin = loom_calloc(w->n + 1, sizeof *begin);
    char *json = NULL;
    loom_writer *out = NULL;
    int rc = LOOM_ENOMEM;
    if (!order || !begin)
        goto done;
    layout(w, order, begin);
    if (!(json = build_header(w, begin))) {
        rc = loom_error(LOOM_ENOMEM, "%s: cannot build the safetensors header", path);
        goto done;
    }
    size_t len = strlen(json), padded = (len + 7) / 8 * 8;
    uint8_t lenbytes[8];
    for (int i = 0; i < 8; i++)
        lenbytes[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    if ((rc = loom_writer_open(&out, path, LOOM_WRITE_AUTO)) < 0)
        goto done;
    if ((rc = loom_writer_write(out, lenbytes, 8)) < 0 ||
        (rc = loom_writer_write(out, json, len)) < 0 ||
        (rc = loom_writer_write(out, "        ", padded - len)) < 0)
        goto done;
    for (size_t k = 0; k < w->n; k++) {
        const wtensor *t = &w->t[order[k]];
        if ((rc = write_data(out, t->data, t->nbytes, dtype_sizes[t->dtype])) < 0)
            goto done;
    }
    rc = loom_writer_commit(out);
    out = NULL;
done:
    loom_writer_abort(out);
    free(json);
    free(order);
    free(begin);
    return rc;
}

/* ---------------------------------------------------------------- reading */

struct loom_st_file {
    char *path;
    json_t *header; /* owns the name strings */
    loom_st_tensor *t;
    size_t n;
    const char **mkeys, **mvalues;
    size_t nmeta;
    uint8_t *data; /* the data section */
    size_t ndata;
    void **copies; /* aligned copies of misaligned tensors */
    size_t ncopies;
};

void loom_st_close(loom_st_file *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->ncopies; i++)
        free(f->copies[i]);
    free(f->copies);
    free(f->t);
    free(f->mkeys);
    free(f->mvalues);
    free(f->data);
    json_decref(f->header);
    free(f->path);
    free(f);
}

/* Reads exactly n bytes; a short read is a truncated file. */
static int read_exact(loom_reader *r, void *buf, size_t n, const char *path, const char *what)
{
    size_t got = 0;
    while (got < n) {
        long k = loom_reader_read(r, (uint8_t *)buf + got, n - got);
        if (k < 0)
            return (int)k;
        if (k == 0)
            return loom_error(LOOM_EFORMAT,
                              "%s: not a safetensors file: truncated %s (%zu of %zu bytes)", path,
                              what, got, n);
        got += (size_t)k;
    }
    return 0;
}

static int bad(const loom_st_file *f, const char *key, const char *why)
{
    return loom_error(LOOM_EFORMAT, "%s: not a valid safetensors file: tensor '%s': %s", f->path,
                      key, why);
}

static int get_u64(json_t *v, uint64_t *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return -1;
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

static int parse_metadata(loom_st_file *f, json_t *meta)
{
    if (!json_is_object(meta))
        return loom_error(LOOM_EFORMAT, "%s: __metadata__ is not an object", f->path);
    size_t n = json_object_size(meta);
    f->mkeys = loom_calloc(n + 1, sizeof *f->mkeys);
    f->mvalues = loom_calloc(n + 1, sizeof *f->mvalues);
    if (!f->mkeys || !f->mvalues)
        return LOOM_ENOMEM;
    const char *key;
    json_t *value;
    json_object_foreach(meta, key, value)
    {
        if (!json_is_string(value))
            return loom_error(LOOM_EFORMAT, "%s: __metadata__ value of '%s' is not a string",
                              f->path, key);
        f->mkeys[f->nmeta] = key;
        f->mvalues[f->nmeta++] = json_string_value(value);
    }
    return 0;
}

static int parse_tensor(loom_st_file *f, const char *key, json_t *obj, loom_st_tensor *t,
                        uint64_t off[2])
{
    json_t *dtype = json_object_get(obj, "dtype"), *shape = json_object_get(obj, "shape");
    json_t *offs = json_object_get(obj, "data_offsets");
    if (!json_is_object(obj) || !json_is_string(dtype) || !json_is_array(shape) ||
        !json_is_array(offs) || json_array_size(offs) != 2)
        return bad(f, key, "needs dtype, shape and data_offsets");
    t->name = key;
    size_t d;
    for (d = 0; d < NDTYPES; d++)
        if (strcmp(json_string_value(dtype), dtype_names[d]) == 0)
            break;
    if (d == NDTYPES)
        return loom_error(LOOM_EFORMAT, "%s: tensor '%s': unsupported dtype %s", f->path, key,
                          json_string_value(dtype));
    t->dtype = (loom_st_dtype)d;
    if (json_array_size(shape) > LOOM_ST_MAX_DIMS)
        return bad(f, key, "too many dimensions");
    t->ndim = (int)json_array_size(shape);
    for (int i = 0; i < t->ndim; i++) {
        uint64_t s;
        if (get_u64(json_array_get(shape, (size_t)i), &s) < 0 || s > INT64_MAX)
            return bad(f, key, "shape entries must be non-negative integers");
        t->shape[i] = (int64_t)s;
    }
    if (shape_numel(t->ndim, t->shape, dtype_sizes[d], &t->numel, &t->nbytes) < 0)
        return bad(f, key, "shape too large");
    if (get_u64(json_array_get(offs, 0), &off[0]) < 0 ||
        get_u64(json_array_get(offs, 1), &off[1]) < 0 || off[0] > off[1])
        return bad(f, key, "data_offsets must be two non-negative integers, begin <= end");
    if (off[1] - off[0] != t->nbytes)
        return bad(f, key, "data_offsets do not match dtype and shape");
    return 0;
}

/* Tensors may not overlap and must cover the data exactly (as Python's
 * safetensors requires): anything else is a corrupt or foreign file. */
static int check_coverage(loom_st_file *f, uint64_t (*off)[2])
{
    size_t *idx = loom_calloc(f->n + 1, sizeof *idx);
    if (!idx)
        return LOOM_ENOMEM;
    for (size_t i = 0; i < f->n; i++) { /* insertion sort by begin: n is small */
        size_t j = i;
        while (j > 0 && off[idx[j - 1]][0] > off[i][0]) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = i;
    }
    uint64_t end = 0;
    int rc = 0;
    for (size_t k = 0; k < f->n && rc == 0; k++) {
        if (off[idx[k]][0] != end)
            rc = bad(f, f->t[idx[k]].name, "data overlaps another tensor or leaves a gap");
        end = off[idx[k]][1];
    }
    if (rc == 0 && end != f->ndata)
        rc = loom_error(LOOM_EFORMAT, "%s: %zu bytes of data after the last tensor", f->path,
                        f->ndata - (size_t)end);
    free(idx);
    return rc;
}

/* Points each tensor at its bytes, copying the rare misaligned one. */
static int place_data(loom_st_file *f, uint64_t (*off)[2])
{
    f->copies = loom_calloc(f->n + 1, sizeof *f->copies);
    if (!f->copies)
        return LOOM_ENOMEM;
    for (size_t i = 0; i < f->n; i++) {
        loom_st_tensor *t = &f->t[i];
        uint8_t *p = f->data + off[i][0];
        size_t size = dtype_sizes[t->dtype];
        if (host_is_big_endian())
            swap_elements(p, t->nbytes, size);
        if ((uintptr_t)p % size != 0) {
            void *copy = loom_aligned_alloc(t->nbytes ? t->nbytes : 1, 1);
            if (!copy)
                return LOOM_ENOMEM;
            memcpy(copy, p, t->nbytes);
            f->copies[f->ncopies++] = copy;
            p = copy;
        }
        t->data = p;
    }
    return 0;
}

/* Parses the JSON header into f->t and the offsets (*offs, caller frees). */
static int parse_header(loom_st_file *f, const char *text, size_t len, uint64_t (**offs)[2])
{
    json_error_t err;
    f->header = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    if (!f->header || !json_is_object(f->header))
        return loom_error(LOOM_EFORMAT, "%s: not a safetensors file: bad JSON header: %s", f->path,
                          f->header ? "not an object" : err.text);
    size_t n = json_object_size(f->header);
    uint64_t(*off)[2] = loom_calloc(n + 1, sizeof *off);
    f->t = loom_calloc(n + 1, sizeof *f->t);
    if (!off || !f->t) {
        free(off);
        return LOOM_ENOMEM;
    }
    *offs = off;
    const char *key;
    json_t *value;
    json_object_foreach(f->header, key, value)
    {
        int rc = 0;
        if (strcmp(key, META_KEY) == 0)
            rc = parse_metadata(f, value);
        else if ((rc = parse_tensor(f, key, value, &f->t[f->n], off[f->n])) == 0)
            f->n++;
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int truncated(const loom_st_file *f, uint64_t (*off)[2], uint64_t have)
{
    size_t i = 0;
    while (i + 1 < f->n && off[i][1] <= have)
        i++;
    return loom_error(LOOM_EFORMAT,
                      "%s: truncated: tensor '%s' ends at byte %llu of the data, which has only "
                      "%llu",
                      f->path, f->n ? f->t[i].name : "?", (unsigned long long)off[i][1],
                      (unsigned long long)have);
}

/* Reads the data section: exactly `total` bytes (the end of the last
 * tensor), then expects the end of input. When the file's size is known
 * (`avail`, else UINT64_MAX) a short file is refused before anything is
 * allocated; otherwise (gzip, stdin) memory grows only with the bytes that
 * actually arrive, so a header claiming more than the file holds costs
 * nothing. */
static int read_data(loom_st_file *f, loom_reader *r, uint64_t total, uint64_t avail,
                     uint64_t (*off)[2])
{
    if (avail != UINT64_MAX && avail < total)
        return truncated(f, off, avail);
    if (total > SIZE_MAX / 2)
        return loom_error(LOOM_EFORMAT, "%s: data section of %llu bytes is too large", f->path,
                          (unsigned long long)total);
    size_t cap = avail != UINT64_MAX || total < (1u << 20) ? (size_t)total : (1u << 20), n = 0;
    uint8_t *buf = loom_malloc(cap ? cap : 1, 1);
    if (!buf)
        return LOOM_ENOMEM;
    f->data = buf;
    while (n < total) {
        if (n == cap) {
            int rc = loom_grow_max((void **)&f->data, &cap, n + 1, (size_t)total, 1);
            if (rc < 0)
                return rc;
            buf = f->data;
        }
        long k = loom_reader_read(r, buf + n, cap - n);
        if (k < 0)
            return (int)k;
        if (k == 0)
            return truncated(f, off, n);
        n += (size_t)k;
    }
    f->ndata = n;
    uint8_t extra;
    long k = loom_reader_read(r, &extra, 1);
    if (k < 0)
        return (int)k;
    if (k > 0)
        return loom_error(LOOM_EFORMAT, "%s: more data after the last tensor", f->path);
    return 0;
}

int loom_st_open(loom_st_file **out, const char *path)
{
    return loom_st_open_checked(out, path, NULL, NULL);
}

int loom_st_open_checked(loom_st_file **out, const char *path, loom_st_check_fn check, void *ctx)
{
    loom_reader *r = NULL;
    char *header = NULL;
    uint64_t(*off)[2] = NULL;
    uint8_t lenbytes[8];
    *out = NULL;
    loom_st_file *f = loom_calloc(1, sizeof *f);
    if (!f || !(f->path = loom_strdup(path))) {
        free(f);
        return LOOM_ENOMEM;
    }
    int rc = loom_reader_open(&r, path);
    if (rc < 0)
        goto fail;
    if ((rc = read_exact(r, lenbytes, 8, path, "header length")) < 0)
        goto fail;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | lenbytes[i];
    if (hlen < 2 || hlen > MAX_HEADER) {
        rc = loom_error(LOOM_EFORMAT,
                        "%s: not a safetensors file: header length %llu is out of range", path,
                        (unsigned long long)hlen);
        goto fail;
    }
    if (!(header = loom_malloc(hlen, 1))) {
        rc = LOOM_ENOMEM;
        goto fail;
    }
    if ((rc = read_exact(r, header, hlen, path, "header")) < 0)
        goto fail;
    if (header[0] != '{') {
        rc = loom_error(LOOM_EFORMAT, "%s: not a safetensors file: header is not a JSON object",
                        path);
        goto fail;
    }
    /* The padding is spaces, which JSON ignores. */
    if ((rc = parse_header(f, header, hlen, &off)) < 0)
        goto fail;
    if (check && (rc = check(f, ctx)) < 0)
        goto fail;
    uint64_t total = 0, avail = UINT64_MAX;
    for (size_t i = 0; i < f->n; i++)
        total = off[i][1] > total ? off[i][1] : total;
    struct stat st;
    if (!loom_reader_is_gzip(r) && strcmp(path, "-") != 0 && stat(path, &st) == 0 &&
        S_ISREG(st.st_mode))
        avail = (uint64_t)st.st_size > 8 + hlen ? (uint64_t)st.st_size - 8 - hlen : 0;
    if ((rc = read_data(f, r, total, avail, off)) < 0 || (rc = check_coverage(f, off)) < 0 ||
        (rc = place_data(f, off)) < 0)
        goto fail;
    free(off);
    free(header);
    loom_reader_close(r);
    *out = f;
    return 0;
fail:
    free(off);
    free(header);
    loom_reader_close(r);
    loom_st_close(f);
    return rc;
}

const char *loom_st_path(const loom_st_file *f)
{
    return f->path;
}

size_t loom_st_count(const loom_st_file *f)
{
    return f->n;
}

const loom_st_tensor *loom_st_at(const loom_st_file *f, size_t i)
{
    return i < f->n ? &f->t[i] : NULL;
}

const loom_st_tensor *loom_st_find(const loom_st_file *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->t[i].name, name) == 0)
            return &f->t[i];
    return NULL;
}

int loom_st_get_f32(const loom_st_file *f, const char *name, int ndim, const int64_t *shape,
                    const float **data)
{
    const loom_st_tensor *t = loom_st_find(f, name);
    if (!t)
        return loom_error(LOOM_ENOTFOUND, "%s: no tensor '%s'", f->path, name);
    if (t->dtype != LOOM_ST_F32)
        return loom_error(LOOM_EFORMAT, "%s: tensor '%s' is %s, expected F32", f->path, name,
                          dtype_names[t->dtype]);
    if (shape) {
        int same = t->ndim == ndim;
        for (int d = 0; same && d < ndim; d++)
            same = t->shape[d] == shape[d];
        if (!same) {
            char got[160] = "", want[160] = "";
            for (int d = 0; d < t->ndim && d < 8; d++)
                snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", d ? "," : "",
                         (long long)t->shape[d]);
            for (int d = 0; d < ndim && d < 8; d++)
                snprintf(want + strlen(want), sizeof want - strlen(want), "%s%lld", d ? "," : "",
                         (long long)shape[d]);
            return loom_error(LOOM_EFORMAT, "%s: tensor '%s' has shape (%s), expected (%s)",
                              f->path, name, got, want);
        }
    }
    *data = t->data;
    return 0;
}

const char *loom_st_meta(const loom_st_file *f, const char *key)
{
    for (size_t i = 0; i < f->nmeta; i++)
        if (strcmp(f->mkeys[i], key) == 0)
            return f->mvalues[i];
    return NULL;
}

size_t loom_st_meta_count(const loom_st_file *f)
{
    return f->nmeta;
}

int loom_st_meta_at(const loom_st_file *f, size_t i, const char **key, const char **value)
{
    if (i >= f->nmeta)
        return LOOM_EINVAL;
    *key = f->mkeys[i];
    *value = f->mvalues[i];
    return 0;
}
