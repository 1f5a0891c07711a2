/* loom: subword.h's functions, in libloom: they call SentencePiece through
 * the module loom_subword.so (subword.cc), opened by the first model
 * loaded or trained (subword_module.h). A loom_subword exists only once
 * the module is open, so the functions that take one call it directly. */
#include "config.h"
#include "text/subword_module.h"

#include <stdlib.h>
#include <string.h>

#include "base/dl.h"
#include "base/error.h"
#include "base/progress.h"
#include "base/reader.h"
#include "base/writer.h"

static const loom_subword_module *sp;

/* What the module calls of libloom (subword_host.c). */
static const loom_subword_host host = {loom_verror,
                                       loom_reader_open,
                                       loom_reader_read,
                                       loom_reader_line,
                                       loom_reader_raw_offset,
                                       loom_reader_close,
                                       loom_writer_open,
                                       loom_writer_write,
                                       loom_writer_commit,
                                       loom_writer_abort,
                                       loom_progress_update,
                                       loom_progress_due,
                                       loom_progress_set_total};

/* Opens the module the first time: 0, or LOOM_ENOTFOUND naming the file
 * (or SentencePiece's library) and the package. */
static int open_module(void)
{
    static const loom_subword_module *table;
    static const loom_dl_sym syms[] = {{LOOM_SUBWORD_MODULE_SYMBOL, (void **)&table}, {NULL, NULL}};
    static loom_dl_lib lib = {"loom_subword.so", "libsentencepiece0", 1, 0, syms, 0};
    int rc = loom_dl_load(&lib);
    if (rc < 0)
        return rc;
    if (table->version != LOOM_SUBWORD_MODULE_VERSION)
        return loom_error(LOOM_EINVAL,
                          "loom_subword.so: version %d, this loom needs %d (reinstall loom)",
                          table->version, LOOM_SUBWORD_MODULE_VERSION);
    table->set_host(&host);
    sp = table;
    return 0;
}

void loom_subword_opts_default(loom_subword_opts *o)
{
    o->vocab_size = 8000;
    o->type = LOOM_SUBWORD_UNIGRAM;
    o->character_coverage = 0.9995;
    o->byte_fallback = 0;
    o->threads = 1;
    o->max_sentences = 0;
    o->max_sentence_bytes = 4192;
    o->verbose = 0;
}

int loom_subword_train(loom_subword **out, const char *const *paths, int npaths,
                       const loom_subword_opts *opts, loom_progress *progress)
{
    *out = NULL;
    int rc = open_module();
    return rc < 0 ? rc : sp->train(out, paths, npaths, opts, progress);
}

int loom_subword_load(loom_subword **out, const char *path)
{
    *out = NULL;
    int rc = open_module();
    return rc < 0 ? rc : sp->load(out, path);
}

int loom_subword_load_bytes(loom_subword **out, const void *data, size_t size, const char *name)
{
    *out = NULL;
    int rc = open_module();
    return rc < 0 ? rc : sp->load_bytes(out, data, size, name);
}

void loom_subword_free(loom_subword *sw)
{
    if (sw)
        sp->free(sw);
}

const void *loom_subword_bytes(const loom_subword *sw, size_t *size)
{
    return sp->bytes(sw, size);
}

int loom_subword_save(const loom_subword *sw, const char *path)
{
    return sp->save(sw, path);
}

int loom_subword_save_vocab(const loom_subword *sw, const char *path)
{
    return sp->save_vocab(sw, path);
}

int loom_subword_size(const loom_subword *sw)
{
    return sp->size(sw);
}

const char *loom_subword_piece(const loom_subword *sw, int id)
{
    return sp->piece(sw, id);
}

int loom_subword_find(const loom_subword *sw, const char *piece, size_t len)
{
    return sp->find(sw, piece, len);
}

float loom_subword_score(const loom_subword *sw, int id)
{
    return sp->score(sw, id);
}

loom_piece_kind loom_subword_kind(const loom_subword *sw, int id)
{
    return sp->kind(sw, id);
}

int loom_subword_unk_id(const loom_subword *sw)
{
    return sp->unk_id(sw);
}

int loom_subword_bos_id(const loom_subword *sw)
{
    return sp->bos_id(sw);
}

int loom_subword_eos_id(const loom_subword *sw)
{
    return sp->eos_id(sw);
}

int loom_subword_pad_id(const loom_subword *sw)
{
    return sp->pad_id(sw);
}

void loom_pieces_free(loom_pieces *p)
{
    if (!p)
        return;
    free(p->v);
    free(p->text);
    free(p->store);
    memset(p, 0, sizeof *p);
}

int loom_subword_encode(const loom_subword *sw, const char *text, size_t len, loom_pieces *out)
{
    return sp->encode(sw, text, len, out);
}

int loom_subword_decode(const loom_subword *sw, const int32_t *ids, size_t n, loom_pieces *out)
{
    return sp->decode(sw, ids, n, out);
}

int loom_subword_decode_pieces(const loom_subword *sw, const char *const *pieces,
                               const size_t *lens, size_t n, loom_pieces *out)
{
    return sp->decode_pieces(sw, pieces, lens, n, out);
}
