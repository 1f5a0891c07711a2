/* loom: the one C++ file. Wraps Google's SentencePiece (Debian's
 * libsentencepiece 0.1.97) in the C interface of subword.h: training from
 * loom's readers, loading from files or bytes, encoding with byte offsets,
 * decoding. No C++ type or exception crosses the interface: every entry
 * point catches, and SentencePiece's statuses become loom errors.
 * Built as the module loom_subword.so, not into libloom: its functions are
 * hidden (-fvisibility=hidden) and reach subword.c through the one table
 * at the end (subword_module.h). */
#include "config.h"

#include "text/subword_module.h"
extern "C" {
#include "base/error.h"
}

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

#include <sys/stat.h>

namespace spm = sentencepiece;

/* subword_host.c */
extern "C" void loom_subword_set_host(const loom_subword_host *h);

struct loom_subword {
    spm::SentencePieceProcessor proc;
    std::string bytes; /* the serialized model, as loaded */
    std::string name;  /* for messages */
};

/* A .model file larger than this is refused before it is read whole
 * (SentencePiece models of 1M pieces are about 20 MB). */
static const size_t MAX_MODEL_BYTES = (size_t)512 << 20;

/* SentencePiece's messages read "./src/file.cc(LINE) [condition] detail";
 * the detail is what a user can act on, the rest is noise to them. Returns
 * "" when there is no detail. */
static std::string status_text(const spm::util::Status &st)
{
    std::string m = st.message() ? st.message() : "";
    size_t open = m.find(") [");
    if (open == std::string::npos)
        return m;
    int depth = 0;
    size_t i = open + 2;
    for (; i < m.size(); i++) {
        if (m[i] == '[')
            depth++;
        else if (m[i] == ']' && --depth == 0)
            break;
    }
    if (i >= m.size())
        return m;
    size_t start = m.find_first_not_of(' ', i + 1);
    if (start == std::string::npos)
        return std::string();
    m = m.substr(start);
    /* It names its own flags; loom's are spelt with hyphens. */
    size_t at = m.find("--character_coverage");
    if (at != std::string::npos)
        m.replace(at, strlen("--character_coverage"), "--character-coverage");
    return m;
}

/* Runs `f`, turning C++ exceptions into loom errors: nothing may unwind
 * into C callers. */
template <class F> static int guarded(const char *what, F f)
{
    try {
        return f();
    } catch (const std::bad_alloc &) {
        return loom_error(LOOM_ENOMEM, "%s: out of memory", what);
    } catch (const std::exception &e) {
        return loom_error(LOOM_EFORMAT, "%s: %s", what, e.what());
    } catch (...) {
        return loom_error(LOOM_EFORMAT, "%s: SentencePiece failed", what);
    }
}

/* ---- loading ---- */

static int load_bytes(loom_subword **out, std::string &&bytes, const char *name)
{
    *out = NULL;
    std::unique_ptr<loom_subword> sw(new loom_subword);
    sw->name = name;
    sw->bytes = std::move(bytes);
    spm::util::Status st =
        sw->proc.LoadFromSerializedProto(absl::string_view(sw->bytes.data(), sw->bytes.size()));
    if (!st.ok()) {
        std::string why = status_text(st);
        return loom_error(LOOM_EFORMAT, "%s: not a SentencePiece model (%s)", name,
                          why.empty() ? "its protocol buffer does not parse" : why.c_str());
    }
    if (sw->proc.GetPieceSize() <= 0)
        return loom_error(LOOM_EFORMAT, "%s: SentencePiece model without pieces", name);
    *out = sw.release();
    return 0;
}

extern "C" int loom_subword_load_bytes(loom_subword **out, const void *data, size_t size,
                                       const char *name)
{
    *out = NULL;
    return guarded(name,
                   [&] { return load_bytes(out, std::string((const char *)data, size), name); });
}

extern "C" int loom_subword_load(loom_subword **out, const char *path)
{
    *out = NULL;
    return guarded(path, [&] {
        loom_reader *r;
        int rc = loom_reader_open(&r, path);
        if (rc < 0)
            return rc;
        std::string bytes;
        char buf[1 << 16];
        long n;
        while ((n = loom_reader_read(r, buf, sizeof buf)) > 0) {
            if (bytes.size() + (size_t)n > MAX_MODEL_BYTES) {
                loom_reader_close(r);
                return loom_error(LOOM_EFORMAT, "%s: larger than %zu MB, not a SentencePiece model",
                                  path, MAX_MODEL_BYTES >> 20);
            }
            bytes.append(buf, (size_t)n);
        }
        loom_reader_close(r);
        if (n < 0)
            return (int)n;
        if (bytes.empty())
            return loom_error(LOOM_EFORMAT, "%s: empty file, not a SentencePiece model", path);
        return load_bytes(out, std::move(bytes), path);
    });
}

extern "C" void loom_subword_free(loom_subword *sw)
{
    delete sw;
}

extern "C" const void *loom_subword_bytes(const loom_subword *sw, size_t *size)
{
    *size = sw->bytes.size();
    return sw->bytes.data();
}

extern "C" int loom_subword_save(const loom_subword *sw, const char *path)
{
    loom_writer *w;
    int rc = loom_writer_open(&w, path, LOOM_WRITE_AUTO);
    if (rc < 0)
        return rc;
    rc = loom_writer_write(w, sw->bytes.data(), sw->bytes.size());
    if (rc < 0) {
        loom_writer_abort(w);
        return rc;
    }
    return loom_writer_commit(w);
}

extern "C" int loom_subword_save_vocab(const loom_subword *sw, const char *path)
{
    loom_writer *w;
    int rc = loom_writer_open(&w, path, LOOM_WRITE_AUTO);
    if (rc < 0)
        return rc;
    /* spm_train writes `piece << "\t" << score`: a float through an
     * ostream's default format, which is printf's %g. */
    int n = sw->proc.GetPieceSize();
    for (int id = 0; id < n && rc == 0; id++)
        rc = loom_writer_printf(w, "%s\t%g\n", sw->proc.IdToPiece(id).c_str(),
                                (double)sw->proc.GetScore(id));
    if (rc < 0) {
        loom_writer_abort(w);
        return rc;
    }
    return loom_writer_commit(w);
}

/* ---- the vocabulary ---- */

extern "C" int loom_subword_size(const loom_subword *sw)
{
    return sw->proc.GetPieceSize();
}

extern "C" const char *loom_subword_piece(const loom_subword *sw, int id)
{
    if (id < 0 || id >= sw->proc.GetPieceSize())
        return NULL;
    return sw->proc.IdToPiece(id).c_str();
}

extern "C" int loom_subword_find(const loom_subword *sw, const char *piece, size_t len)
{
    try {
        absl::string_view p(piece, len);
        int id = sw->proc.PieceToId(p);
        /* SentencePiece answers <unk>'s id for pieces it does not hold. */
        if (id < 0 || id >= sw->proc.GetPieceSize() || sw->proc.IdToPiece(id) != p)
            return -1;
        return id;
    } catch (...) {
        return -1;
    }
}

extern "C" float loom_subword_score(const loom_subword *sw, int id)
{
    return id >= 0 && id < sw->proc.GetPieceSize() ? sw->proc.GetScore(id) : 0.0f;
}

extern "C" loom_piece_kind loom_subword_kind(const loom_subword *sw, int id)
{
    if (id < 0 || id >= sw->proc.GetPieceSize())
        return LOOM_PIECE_UNUSED;
    if (sw->proc.IsUnknown(id))
        return LOOM_PIECE_UNKNOWN;
    if (sw->proc.IsControl(id))
        return LOOM_PIECE_CONTROL;
    if (sw->proc.IsByte(id))
        return LOOM_PIECE_BYTE;
    if (sw->proc.IsUnused(id))
        return LOOM_PIECE_UNUSED;
    return LOOM_PIECE_NORMAL;
}

extern "C" int loom_subword_unk_id(const loom_subword *sw)
{
    return sw->proc.unk_id();
}
extern "C" int loom_subword_bos_id(const loom_subword *sw)
{
    return sw->proc.bos_id();
}
extern "C" int loom_subword_eos_id(const loom_subword *sw)
{
    return sw->proc.eos_id();
}
extern "C" int loom_subword_pad_id(const loom_subword *sw)
{
    return sw->proc.pad_id();
}

/* ---- encoding and decoding ---- */

/* Grows *buf to hold `need` bytes (amortised doubling). */
static int reserve(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 256;
    while (c < need)
        c *= 2;
    char *b = (char *)realloc(*buf, c);
    if (!b)
        return loom_error(LOOM_ENOMEM, "subword: out of memory (%zu bytes)", c);
    *buf = b;
    *cap = c;
    return 0;
}

/* Copies SentencePiece's segmentation into `out`: the pieces' strings go
 * to one store, and their pointers are set once the store stops moving. */
static int fill_pieces(const spm::ImmutableSentencePieceText &spt, loom_pieces *out)
{
    size_t n = spt.pieces_size();
    if (n > out->cap) {
        size_t c = out->cap ? out->cap : 64;
        while (c < n)
            c *= 2;
        void *v = realloc(out->v, c * sizeof *out->v);
        if (!v)
            return loom_error(LOOM_ENOMEM, "subword: out of memory (%zu pieces)", c);
        out->v = (loom_piece *)v;
        out->cap = c;
    }
    out->store_len = 0;
    for (size_t i = 0; i < n; i++) {
        spm::ImmutableSentencePieceText_ImmutableSentencePiece p = spt.pieces((int)i);
        const std::string &s = p.piece();
        int rc = reserve(&out->store, &out->store_cap, out->store_len + s.size() + 1);
        if (rc < 0)
            return rc;
        memcpy(out->store + out->store_len, s.data(), s.size());
        out->store[out->store_len + s.size()] = '\0';
        out->v[i].id = (int32_t)p.id();
        out->v[i].piece = NULL;
        out->v[i].piece_len = s.size();
        out->v[i].begin = p.begin();
        out->v[i].end = p.end();
        out->store_len += s.size() + 1;
    }
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        out->v[i].piece = out->store + off;
        off += out->v[i].piece_len + 1;
    }
    out->n = n;
    return 0;
}

static int set_text(const std::string &s, loom_pieces *out)
{
    int rc = reserve(&out->text, &out->text_cap, s.size() + 1);
    if (rc < 0)
        return rc;
    memcpy(out->text, s.data(), s.size());
    out->text[s.size()] = '\0';
    out->text_len = s.size();
    return 0;
}

extern "C" int loom_subword_encode(const loom_subword *sw, const char *text, size_t len,
                                   loom_pieces *out)
{
    out->n = 0;
    out->text_len = 0;
    return guarded(sw->name.c_str(), [&] {
        spm::ImmutableSentencePieceText spt;
        spm::util::Status st = sw->proc.Encode(absl::string_view(text, len), spt.mutable_proto());
        if (!st.ok())
            return loom_error(LOOM_EINVAL, "%s: cannot encode: %s", sw->name.c_str(),
                              status_text(st).c_str());
        return fill_pieces(spt, out);
    });
}

static int decoded(const loom_subword *sw, const spm::util::Status &st,
                   const spm::ImmutableSentencePieceText &spt, loom_pieces *out)
{
    if (!st.ok())
        return loom_error(LOOM_EINVAL, "%s: cannot decode: %s", sw->name.c_str(),
                          status_text(st).c_str());
    int rc = fill_pieces(spt, out);
    return rc < 0 ? rc : set_text(spt.text(), out);
}

extern "C" int loom_subword_decode(const loom_subword *sw, const int32_t *ids, size_t n,
                                   loom_pieces *out)
{
    out->n = 0;
    out->text_len = 0;
    return guarded(sw->name.c_str(), [&] {
        int size = sw->proc.GetPieceSize();
        std::vector<int> v(n);
        for (size_t i = 0; i < n; i++) {
            if (ids[i] < 0 || ids[i] >= size)
                return loom_error(LOOM_EINVAL, "%s: id %d out of range (the model has %d pieces)",
                                  sw->name.c_str(), (int)ids[i], size);
            v[i] = ids[i];
        }
        spm::ImmutableSentencePieceText spt;
        spm::util::Status st = sw->proc.Decode(v, spt.mutable_proto());
        return decoded(sw, st, spt, out);
    });
}

extern "C" int loom_subword_decode_pieces(const loom_subword *sw, const char *const *pieces,
                                          const size_t *lens, size_t n, loom_pieces *out)
{
    out->n = 0;
    out->text_len = 0;
    return guarded(sw->name.c_str(), [&] {
        std::vector<absl::string_view> v(n);
        for (size_t i = 0; i < n; i++)
            v[i] = absl::string_view(pieces[i], lens[i]);
        spm::ImmutableSentencePieceText spt;
        spm::util::Status st = sw->proc.Decode(v, spt.mutable_proto());
        return decoded(sw, st, spt, out);
    });
}

/* ---- training ---- */

/* Feeds SentencePiece's trainer the lines of loom's readers, so that .gz
 * and stdin work as everywhere else, and reports progress in MB. Lines
 * longer than the trainer takes are skipped here, in pieces, so a huge
 * line never sits in memory. */
class reader_iterator : public spm::SentenceIterator
{
  public:
    reader_iterator(const char *const *paths, int npaths, size_t max_bytes, loom_progress *p)
        : paths_(paths), npaths_(npaths), max_bytes_(max_bytes), progress_(p)
    {
        Next();
    }
    ~reader_iterator() override
    {
        loom_reader_close(r_);
    }
    bool done() const override
    {
        return done_;
    }
    const std::string &value() const override
    {
        return line_;
    }
    spm::util::Status status() const override
    {
        return spm::util::Status();
    }
    void Next() override;

    int error = 0; /* a loom error met while reading (its message is set) */
    long long sentences = 0, skipped = 0;
    double mb_done = 0; /* MB of the files already finished */

  private:
    const char *const *paths_;
    int npaths_, next_ = 0;
    size_t max_bytes_;
    loom_progress *progress_;
    loom_reader *r_ = NULL;
    std::string line_;
    bool done_ = false;
};

void reader_iterator::Next()
{
    line_.clear();
    bool too_long = false;
    for (;;) {
        if (!r_) {
            if (next_ == npaths_ || error) {
                done_ = true;
                return;
            }
            int rc = loom_reader_open(&r_, paths_[next_++]);
            if (rc < 0) {
                error = rc;
                r_ = NULL;
                done_ = true;
                return;
            }
        }
        const char *piece;
        size_t len;
        int complete;
        int rc = loom_reader_line(r_, &piece, &len, &complete);
        if (rc < 0) {
            error = rc;
            done_ = true;
            return;
        }
        if (rc == 0) {
            mb_done += (double)loom_reader_raw_offset(r_) / 1e6;
            loom_reader_close(r_);
            r_ = NULL;
            continue;
        }
        if (!too_long && line_.size() + len > max_bytes_) {
            too_long = true;
            line_.clear();
        }
        if (!too_long)
            line_.append(piece, len);
        if (!complete)
            continue;
        if (too_long) {
            skipped++;
            too_long = false;
            continue;
        }
        if ((++sentences & 0x3ff) == 0 && loom_progress_due(progress_)) {
            char detail[64];
            snprintf(detail, sizeof detail, "%lld lines", sentences);
            loom_progress_update(progress_, mb_done + (double)loom_reader_raw_offset(r_) / 1e6,
                                 detail);
        }
        return;
    }
}

static double total_mb(const char *const *paths, int npaths)
{
    double mb = 0;
    struct stat st;
    for (int i = 0; i < npaths; i++)
        if (strcmp(paths[i], "-") != 0 && stat(paths[i], &st) == 0)
            mb += (double)st.st_size / 1e6;
    return mb;
}

/* "a.txt, b.txt" for messages. */
static std::string joined(const char *const *paths, int npaths)
{
    std::string s;
    for (int i = 0; i < npaths; i++) {
        if (i)
            s += ", ";
        s += strcmp(paths[i], "-") == 0 ? "<stdin>" : paths[i];
    }
    return s;
}

static int train(loom_subword **out, const char *const *paths, int npaths,
                 const loom_subword_opts *o, loom_progress *progress)
{
    std::string what = joined(paths, npaths);
    if (o->vocab_size < 4)
        return loom_error(LOOM_EINVAL, "subword: vocabulary size %d is below 4", o->vocab_size);
    if (!(o->character_coverage > 0 && o->character_coverage <= 1))
        return loom_error(LOOM_EINVAL, "subword: character coverage %g is not in (0, 1]",
                          o->character_coverage);
    std::unordered_map<std::string, std::string> args = {
        {"model_type", o->type == LOOM_SUBWORD_BPE ? "bpe" : "unigram"},
        {"vocab_size", std::to_string(o->vocab_size)},
        {"character_coverage", std::to_string(o->character_coverage)},
        {"byte_fallback", o->byte_fallback ? "true" : "false"},
        {"num_threads", std::to_string(o->threads > 0 ? o->threads : 1)},
        {"input_sentence_size", std::to_string(o->max_sentences > 0 ? o->max_sentences : 0)},
        {"max_sentence_length", std::to_string(o->max_sentence_bytes)},
        /* The trainer logs everything at INFO on stderr; the library
         * stays quiet unless asked (errors come back as statuses). */
        {"minloglevel", o->verbose ? "0" : "3"},
    };
    loom_progress_set_total(progress, total_mb(paths, npaths));
    reader_iterator it(paths, npaths, (size_t)o->max_sentence_bytes, progress);
    std::string model;
    spm::util::Status st = spm::SentencePieceTrainer::Train(args, &it, &model);
    if (it.error)
        return it.error;
    if (!st.ok()) {
        if (it.sentences == 0)
            return loom_error(LOOM_EINVAL, "%s: no lines to train on", what.c_str());
        return loom_error(LOOM_EINVAL, "%s: cannot train a %s model of %d pieces: %s", what.c_str(),
                          o->type == LOOM_SUBWORD_BPE ? "bpe" : "unigram", o->vocab_size,
                          status_text(st).c_str());
    }
    return load_bytes(out, std::move(model), "subword model");
}

extern "C" int loom_subword_train(loom_subword **out, const char *const *paths, int npaths,
                                  const loom_subword_opts *opts, loom_progress *progress)
{
    *out = NULL;
    return guarded("subword train", [&] { return train(out, paths, npaths, opts, progress); });
}

extern "C" __attribute__((visibility("default")))
const loom_subword_module loom_subword_module_table = {
    LOOM_SUBWORD_MODULE_VERSION, loom_subword_set_host, loom_subword_train,  loom_subword_load,
    loom_subword_load_bytes,     loom_subword_free,     loom_subword_bytes,  loom_subword_save,
    loom_subword_save_vocab,     loom_subword_size,     loom_subword_piece,  loom_subword_find,
    loom_subword_score,          loom_subword_kind,     loom_subword_unk_id, loom_subword_bos_id,
    loom_subword_eos_id,         loom_subword_pad_id,   loom_subword_encode, loom_subword_decode,
    loom_subword_decode_pieces};
