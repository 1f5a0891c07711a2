/* loom: the table of SentencePiece functions that the module
 * loom_subword.so (subword.cc, with SentencePiece and the C++ run-time)
 * exports, and subword.c calls once it has opened it (base/dl.h). Loaded
 * by the first model loaded or trained, so that no other command pays for
 * the C++ libraries. Each entry is the subword.h function of the same
 * name. The libloom functions subword.cc calls (errors, readers, writers,
 * progress) reach it the other way, in the host table that subword.c
 * hands the module (subword_host.c): a program that links libloom
 * statically exports none of its functions, and holds only those it uses. */
#ifndef LOOM_TEXT_SUBWORD_MODULE_H
#define LOOM_TEXT_SUBWORD_MODULE_H

#include <stdarg.h>

#include "text/subword.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Raised when an entry changes: a module of another version is refused. */
#define LOOM_SUBWORD_MODULE_VERSION 1

/* libloom's functions that the module calls, as base/ declares them. */
typedef struct {
    int (*verror)(int code, const char *fmt, va_list ap);
    int (*reader_open)(loom_reader **out, const char *path);
    long (*reader_read)(loom_reader *r, void *buf, size_t n);
    int (*reader_line)(loom_reader *r, const char **line, size_t *len, int *complete);
    long long (*reader_raw_offset)(const loom_reader *r);
    void (*reader_close)(loom_reader *r);
    int (*writer_open)(loom_writer **out, const char *path, int mode);
    int (*writer_write)(loom_writer *w, const void *buf, size_t n);
    int (*writer_commit)(loom_writer *w);
    void (*writer_abort)(loom_writer *w);
    void (*progress_update)(loom_progress *p, double done, const char *detail);
    int (*progress_due)(loom_progress *p);
    void (*progress_set_total)(loom_progress *p, double total);
} loom_subword_host;

typedef struct {
    int version;
    /* first call: the host's functions (the table outlives the module) */
    void (*set_host)(const loom_subword_host *host);
    int (*train)(loom_subword **out, const char *const *paths, int npaths,
                 const loom_subword_opts *opts, loom_progress *progress);
    int (*load)(loom_subword **out, const char *path);
    int (*load_bytes)(loom_subword **out, const void *data, size_t size, const char *name);
    void (*free)(loom_subword *sw);
    const void *(*bytes)(const loom_subword *sw, size_t *size);
    int (*save)(const loom_subword *sw, const char *path);
    int (*save_vocab)(const loom_subword *sw, const char *path);
    int (*size)(const loom_subword *sw);
    const char *(*piece)(const loom_subword *sw, int id);
    int (*find)(const loom_subword *sw, const char *piece, size_t len);
    float (*score)(const loom_subword *sw, int id);
    loom_piece_kind (*kind)(const loom_subword *sw, int id);
    int (*unk_id)(const loom_subword *sw);
    int (*bos_id)(const loom_subword *sw);
    int (*eos_id)(const loom_subword *sw);
    int (*pad_id)(const loom_subword *sw);
    int (*encode)(const loom_subword *sw, const char *text, size_t len, loom_pieces *out);
    int (*decode)(const loom_subword *sw, const int32_t *ids, size_t n, loom_pieces *out);
    int (*decode_pieces)(const loom_subword *sw, const char *const *pieces, const size_t *lens,
                         size_t n, loom_pieces *out);
} loom_subword_module;

/* The module's one exported symbol. */
#define LOOM_SUBWORD_MODULE_SYMBOL "loom_subword_module_table"

#ifdef __cplusplus
}
#endif

#endif
