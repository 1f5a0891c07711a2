/* loom: a training run from files, as `loom seq2seq` does it: the pairs,
 * both vocabularies (or a checkpoint's), the model and its embeddings from
 * vector files, freezing, then the loop of train.c. Tells what it finds
 * through the report callback; never prints. */
#include "config.h"
#include "seq/train.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base/dist.h"
#include "base/error.h"
#include "base/writer.h"
#include "core/blas.h"
#include "embed/vectors.h"
#include "seq/transfer.h"

static const char *const side_names[] = {"source", "target"};

static void note(loom_seq_report_fn report, void *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void note(loom_seq_report_fn report, void *ctx, const char *fmt, ...)
{
    if (!report)
        return;
    char buf[4352];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    report(ctx, buf);
}

typedef struct {
    const loom_seq_train_opts *o;
    loom_seq_report_fn report;
    void *ctx;
} run;

/* One side's vocabulary: the training words (both sides' with tied
 * embeddings), with --src-vocab-from-vectors the vectors' words too. */
static int build_vocab(loom_vocab **out, const loom_seq_pairs *p, int side, const run *r)
{
    const loom_seq_train_opts *o = r->o;
    int rc = loom_vocab_new(out);
    if (!rc)
        rc = loom_vocab_add_specials(*out);
    if (!rc)
        rc = loom_seq_pairs_count_vocab(p, side, *out);
    if (!rc && o->model.tie_embeddings)
        rc = loom_seq_pairs_count_vocab(p, 1 - side, *out);
    if (rc || side != 0 || o->src_vocab_from_vectors < 0)
        return rc ? rc : loom_vocab_finalize(*out, (uint64_t)o->min_count, (size_t)o->max_vocab);
    loom_vocab *counts = *out;
    size_t added;
    *out = NULL;
    if (!(rc = loom_vocab_finalize(counts, 1, 0)))
        rc = loom_seq_vocab_with_vectors(out, counts, (uint64_t)o->min_count, (size_t)o->max_vocab,
                                         o->vectors[0], (size_t)o->src_vocab_from_vectors, &added);
    loom_vocab_free(counts);
    if (!rc)
        note(r->report, r->ctx, "%zu source words added from %s (--src-vocab-from-vectors)", added,
             o->vectors[0]);
    return rc;
}

/* A new model: the embedding size from the vectors unless given, then
 * each side's embeddings from its vector file, with coverage reported. */
static int new_model(loom_seq_bundle *b, const run *r)
{
    const loom_seq_train_opts *o = r->o;
    loom_seq_config c = o->model;
    int rc = 0;
    for (int s = 1; s >= 0 && !c.emb; s--) {
        loom_vectors *v;
        if (o->vectors[s] && !(rc = loom_vectors_load_opts(&v, o->vectors[s], 0, 1))) {
            c.emb = (int)loom_vectors_dim(v);
            loom_vectors_free(v);
        }
        if (rc)
            return rc;
    }
    c.emb = c.emb ? c.emb : 64;
    c.attn_dim = c.attn_dim ? c.attn_dim : c.hidden;
    c.src_vocab = (int)loom_vocab_size(b->vocab[0]);
    c.tgt_vocab = (int)loom_vocab_size(b->vocab[1]);
    if ((rc = loom_seq_model_new(&b->model, &c, o->seed)))
        return rc;
    loom_params *ps = loom_seq_model_params(b->model);
    for (int s = 0; s < 2; s++) {
        loom_seq_coverage cov;
        if (!o->vectors[s])
            continue;
        if ((rc = loom_seq_init_embedding(
                 loom_params_find(ps, s ? "tgt_emb.weight" : "src_emb.weight"), b->vocab[s],
                 o->vectors[s], o->scale_vectors, o->seed + (uint64_t)s, &cov)))
            return rc;
        note(r->report, r->ctx,
             "%s vectors %s: %zu of %zu %s found (coverage %.1f%% of the vocabulary, %.1f%% "
             "of the running tokens)",
             side_names[s], o->vectors[s], cov.found, cov.words, b->subword[s] ? "pieces" : "words",
             cov.words ? 100.0 * cov.found / cov.words : 0,
             cov.tokens ? 100.0 * cov.tokens_found / cov.tokens : 0);
        if (o->scale_vectors)
            note(r->report, r->ctx,
                 "%s vectors scaled by %.4g to standard deviation 1 (from %.4g; --scale-vectors)",
                 side_names[s], cov.scale, cov.sd);
    }
    return 0;
}

/* The subword models of a new run (a resumed one has its checkpoint's
 * embedded ones): each side's .model file, or the joint one for both. */
static int load_subword(loom_seq_bundle *b, const run *r)
{
    const loom_seq_train_opts *o = r->o;
    for (int s = 0; s < 2; s++) {
        const char *path = o->joint_subword ? o->joint_subword : o->subword[s];
        int rc = path ? loom_subword_load(&b->subword[s], path) : 0;
        if (rc)
            return rc;
        if (path)
            note(r->report, r->ctx, "%s side: pieces of %s (%d-piece SentencePiece model)",
                 side_names[s], path, loom_subword_size(b->subword[s]));
    }
    return 0;
}

/* A resumed run continues its checkpoint's run: the model, vocabularies
 * and the options that make the run (options.c's RESUME rows) come from
 * the file, checked as the command line's are. */
static int resume_from(loom_seq_bundle *b, loom_st_file **f, loom_seq_train_opts *o)
{
    int rc = loom_seq_file_load(b, o->resume, f);
    if (rc)
        return rc;
    loom_seq_train_opts from;
    loom_seq_position pos;
    loom_seq_train_defaults(&from);
    rc = loom_seq_meta_read(*f, LOOM_SEQ_META_MODEL | LOOM_SEQ_META_TRAIN, LOOM_SEQ_META_MODEL,
                            &from, &pos);
    if (!rc)
        loom_seq_opts_resume(o, &from);
    return rc;
}

static void data_report(const run *r, const loom_seq_bundle *b, const loom_seq_corpus *train,
                        const loom_seq_corpus *valid)
{
    loom_params *ps = loom_seq_model_params(b->model);
    note(r->report, r->ctx,
         "%zu training pairs (%zu dropped over --max-len %d), %zu validation pairs; "
         "vocabularies %zu + %zu words; %zu parameters (%zu trainable)",
         train->n, train->dropped, r->o->max_len, valid ? valid->n : 0,
         loom_vocab_size(b->vocab[0]), loom_vocab_size(b->vocab[1]), loom_params_numel(ps, 0),
         loom_params_numel(ps, 1));
    if (train->unknown[0] || train->unknown[1])
        note(r->report, r->ctx, "unknown words in training: %.2f%% source, %.2f%% target",
             100.0 * train->unknown[0] / train->tokens[0],
             100.0 * train->unknown[1] / train->tokens[1]);
}

int loom_seq_train_run(const loom_seq_train_opts *given, loom_progress *progress,
                       loom_seq_report_fn report, void *ctx, loom_seq_train_result *res)
{
    loom_seq_train_opts o = *given;
    run r = {&o, report, ctx};
    memset(res, 0, sizeof *res);
    int rc = loom_seq_opts_check(&o);
    if (rc)
        return rc;
    if (!o.output || !o.pairs == !(o.src && o.tgt) || !o.src != !o.tgt)
        return loom_error(LOOM_EINVAL, "a training run needs an output and pairs or two files");
    if ((rc = loom_check_writable(o.output)) < 0)
        return rc;
    const char *inputs[] = {o.pairs, o.src, o.tgt, o.valid};
    for (size_t i = 0; i < 4 && loom_dist_size() > 1; i++) {
        struct stat st;
        if (inputs[i] &&
            (strcmp(inputs[i], "-") == 0 || (stat(inputs[i], &st) == 0 && !S_ISREG(st.st_mode))))
            return loom_error(LOOM_EINVAL,
                              "%s: under mpirun every process reads the data itself: give a "
                              "regular file, not stdin or a pipe",
                              strcmp(inputs[i], "-") == 0 ? "stdin" : inputs[i]);
    }
    char ckpt[4200];
    if (!o.checkpoint) {
        snprintf(ckpt, sizeof ckpt, "%s.ckpt", o.output);
        o.checkpoint = ckpt;
    }
    loom_blas_set_threads(1); /* the trainer's own threads split each batch */
    loom_seq_bundle b = {0};
    loom_st_file *resume = NULL;
    loom_seq_pairs *pairs = NULL, *vpairs = NULL;
    loom_seq_corpus *train = NULL, *valid = NULL;
    const char *data = o.pairs ? o.pairs : o.src;
    if (o.resume && (rc = resume_from(&b, &resume, &o)))
        goto done;
    if (o.model.tie_embeddings && o.freeze) /* one table: the source's */
        o.freeze = LOOM_SEQ_FREEZE_SRC;
    if (!resume && (rc = load_subword(&b, &r)))
        goto done;
    const loom_subword *const *sw = (const loom_subword *const *)b.subword;
    if ((rc = loom_seq_pairs_read_subword(&pairs, data, o.pairs ? NULL : o.tgt, &o.tok[0],
                                          &o.tok[1], sw)) ||
        (o.valid &&
         (rc = loom_seq_pairs_read_subword(&vpairs, o.valid, NULL, &o.tok[0], &o.tok[1], sw))))
        goto done;
    if (!resume) {
        if ((rc = build_vocab(&b.vocab[0], pairs, 0, &r)) ||
            (rc = build_vocab(&b.vocab[1], pairs, 1, &r)))
            goto done;
        b.tok[0] = o.tok[0], b.tok[1] = o.tok[1];
    }
    if ((rc = loom_seq_corpus_build(&train, pairs, b.vocab[0], b.vocab[1], o.max_len)) ||
        (vpairs && (rc = loom_seq_corpus_build(&valid, vpairs, b.vocab[0], b.vocab[1], 0))) ||
        (vpairs && b.subword[1] &&
         (rc = loom_seq_corpus_set_tgt_text(valid, vpairs, b.subword[1]))))
        goto done;
    loom_seq_pairs_free(pairs), pairs = NULL;
    loom_seq_pairs_free(vpairs), vpairs = NULL;
    if (train->n == 0) {
        rc = loom_error(LOOM_EINVAL, "%s: no pairs left to train on (--max-len %d)", data,
                        o.max_len);
        goto done;
    }
    if (!resume && (rc = new_model(&b, &r)))
        goto done;
    loom_params *ps = loom_seq_model_params(b.model);
    loom_params_freeze(ps, "src_emb.", (o.freeze & LOOM_SEQ_FREEZE_SRC) != 0);
    loom_params_freeze(ps, "tgt_emb.", (o.freeze & LOOM_SEQ_FREEZE_TGT) != 0);
    data_report(&r, &b, train, valid);
    rc = loom_seq_train(&b, train, valid, &o, o.output, resume, progress, report, ctx, res);
done:
    loom_seq_pairs_free(pairs);
    loom_seq_pairs_free(vpairs);
    loom_seq_corpus_free(train);
    loom_seq_corpus_free(valid);
    loom_st_close(resume);
    loom_seq_bundle_free(&b);
    return rc;
}
