/* loom seq2seq: trains an attention + RNN encoder-decoder on parallel text.
 * Parsing, data set-up, vector initialisation report and printing only;
 * the model, the loop and the file format live in src/seq. */
#include "config.h"
#include "cli.h"
#include "tokflags.h"
#include "base/error.h"
#include "base/progress.h"
#include "base/writer.h"
#include "core/blas.h"
#include "embed/vectors.h"
#include "seq/data.h"
#include "seq/model_file.h"
#include "seq/train.h"
#include "seq/transfer.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: loom seq2seq [OPTIONS] PAIRS -o MODEL\n"
    "       loom seq2seq [OPTIONS] --src FILE --tgt FILE -o MODEL\n"
    "\n"
    "Trains a sequence-to-sequence model (embeddings, a GRU, LSTM or Elman encoder,\n"
    "attention, a decoder with input feeding, softmax) on parallel text and\n"
    "writes one model file that 'loom translate' needs nothing else to use.\n"
    "PAIRS has 'source<TAB>target' lines (further columns ignored, as in\n"
    "Tatoeba's files); .gz is read transparently.\n"
    "\n"
    "data:\n"
    "  -o, --output MODEL     the model file (safetensors; required)\n"
    "      --src FILE, --tgt FILE  aligned files instead of PAIRS\n"
    "      --valid FILE       validation pairs: loss, greedy BLEU and exact match\n"
    "                         after each epoch; the best model (by loss) is kept\n"
    "      --valid-every N    validate every N steps instead of once per epoch\n"
    "      --min-count N      drop words seen fewer than N times (default 1)\n"
    "      --max-vocab N      keep at most N words per side (default 0: all)\n"
    "      --max-len N        drop pairs with a side over N tokens (default 50; 0: none)\n"
    "model:\n"
    "      --cell gru|lstm|elman  recurrent cell of encoder and decoder (default gru);\n"
    "                         elman is the plain h = tanh(x U + h' W + b)\n"
    "      --layers N         encoder layers (default 1)\n"
    "      --bidirectional    bidirectional encoder (the default)\n"
    "      --unidirectional   left-to-right encoder\n"
    "      --attention bahdanau|dot|general|none   (default bahdanau)\n"
    "      --emb N            embedding size (default 64, or the vectors' size)\n"
    "      --hidden N         hidden size (default 128)\n"
    "      --attn-dim N       Bahdanau attention size (default: --hidden)\n"
    "      --dropout P        dropout on embeddings, between layers and before the\n"
    "                         output layer (default 0)\n"
    "      --tie-embeddings   one vocabulary and one embedding table for both sides\n"
    "                         (languages sharing words, or tasks such as copying)\n"
    "transfer learning:\n"
    "      --src-vectors FILE, --tgt-vectors FILE  initialise the embeddings of the\n"
    "                         words found in a vector file (any format loom reads)\n"
    "      --freeze src|tgt|both  keep those embeddings fixed\n"
    "      --scale-vectors    multiply each vector file by one factor so that its values\n"
    "                         have standard deviation 1, the scale of the random\n"
    "                         initialisation (word2vec vectors have ~0.1-0.3, too small\n"
    "                         for the encoder to learn from quickly); frozen rows are\n"
    "                         then the scaled vectors\n"
    "      --src-vocab-from-vectors N  add to the source vocabulary the first N words\n"
    "                         of --src-vectors (0: all) that it lacks, so that words\n"
    "                         training never saw (or saw under --min-count) are read\n"
    "                         through their vectors instead of as <unk>; best with\n"
    "                         --freeze src, which keeps the unseen words' vectors in\n"
    "                         the space the encoder learns (default: off)\n"
    "training:\n"
    "      --lr X             Adam learning rate (default 0.002)\n"
    "      --clip X           global gradient-norm clipping (default 1; 0: off)\n"
    "      --label-smoothing X  (default 0)\n"
    "      --batch N          sentences per batch (default 64)\n"
    "      --epochs N         (default 10)\n"
    "      --patience N       stop after N validations without improvement (default 0: never)\n"
    "      --best-by loss|bleu  what the kept model and --patience go by: validation\n"
    "                         loss (default) or greedy BLEU (Marian's --valid-metrics)\n"
    "      --seed N           (default 1); a seed and a thread count repeat a run bit for bit\n"
    "      --threads N        threads, each taking a share of every batch (default 1)\n"
    "      --checkpoint FILE  checkpoint file (default MODEL.ckpt)\n"
    "      --checkpoint-every MIN  minutes between checkpoints (default 10)\n"
    "      --resume FILE      continue from a checkpoint (its model and data position)\n"
    "      --max-steps N      stop after N steps (and write a checkpoint)\n"
    "      --stop-at-exact X  stop once validation exact match reaches X (0..1)\n" TOKFLAGS_HELP
    "  --src-keep-case, --tgt-keep-case, --src-punct, --tgt-punct, --src-pretokenized,\n"
    "  --tgt-pretokenized     the same for one side only\n"
    "  -q, --quiet            no progress and no report lines\n"
    "      --progress         show progress even when stderr is not a terminal\n"
    "  -h, --help             this help\n"
    "\n"
    "examples:\n"
    "  loom seq2seq tests/fixtures/seq/reverse-train.tsv -o reverse.loom --epochs 5\n"
    "  loom seq2seq tests/fixtures/seq/reverse-train.tsv -o elman.loom --cell elman --epochs 2\n"
    "  loom seq2seq corpus/tatoeba-eng-fra.train.tsv.gz --valid corpus/tatoeba-eng-fra.valid.tsv.gz"
    " -o en-fr.loom --epochs 1 --max-steps 50\n"
    "  loom embed corpus/sotu.txt.gz -o sotu.vec --dim 32 --epochs 1 --quiet && loom seq2seq"
    " corpus/tatoeba-eng-fra.train.tsv.gz -o en-fr.loom --src-vectors sotu.vec"
    " --src-vocab-from-vectors 20000 --scale-vectors --freeze src --max-steps 10\n";

enum {
    OPT_SRC = 0x3000,
    OPT_TGT,
    OPT_VALID,
    OPT_VALID_EVERY,
    OPT_MIN_COUNT,
    OPT_MAX_VOCAB,
    OPT_MAX_LEN,
    OPT_CELL,
    OPT_LAYERS,
    OPT_BI,
    OPT_UNI,
    OPT_ATTENTION,
    OPT_EMB,
    OPT_HIDDEN,
    OPT_ATTN_DIM,
    OPT_DROPOUT,
    OPT_SRC_VECTORS,
    OPT_TGT_VECTORS,
    OPT_FREEZE,
    OPT_VOCAB_FROM_VECTORS,
    OPT_SCALE_VECTORS,
    OPT_LR,
    OPT_CLIP,
    OPT_SMOOTHING,
    OPT_BATCH,
    OPT_EPOCHS,
    OPT_PATIENCE,
    OPT_SEED,
    OPT_THREADS,
    OPT_CHECKPOINT,
    OPT_CHECKPOINT_EVERY,
    OPT_RESUME,
    OPT_MAX_STEPS,
    OPT_STOP_EXACT,
    OPT_BEST_BY,
    OPT_TIE,
    OPT_SIDE = 0x3100 /* + 2 * tokflag index + side */
};

static const char *const side_names[] = {"source", "target"};

typedef struct {
    const char *pairs, *src, *tgt, *valid, *output, *vectors[2], *checkpoint, *resume;
    long long min_count, max_vocab, max_len, layers, emb, hidden, attn_dim, batch, epochs;
    long long patience, seed, threads, valid_every, max_steps, vocab_from_vectors;
    double dropout, lr, clip, smoothing, ckpt_minutes, stop_exact;
    int cell, attention, bidirectional, freeze[2], emb_given, tie, scale_vectors, best_by;
    loom_tok_opts tok[2];
    int quiet, progress;
} args;

static void report(void *ctx, const char *line)
{
    loom_progress_note(ctx, "%s", line);
}

static void report_plain(void *ctx, const char *line)
{
    (void)ctx;
    fprintf(stderr, "loom seq2seq: %s\n", line);
}

static int side_option(int c, const char *arg, args *a)
{
    static const int flags[] = {TOKFLAGS_KEEP_CASE, TOKFLAGS_PUNCT, TOKFLAGS_PRETOKENIZED};
    int k = c - OPT_SIDE;
    return tokflags_option("seq2seq", flags[k / 2], arg, &a->tok[k % 2]) < 0 ? -1 : 1;
}

/* Returns 0 to go on, or an exit status + 1. */
static int parse(int argc, char **argv, args *a)
{
    static const struct option longopts[] = {
        {"output", required_argument, 0, 'o'},
        {"src", required_argument, 0, OPT_SRC},
        {"tgt", required_argument, 0, OPT_TGT},
        {"valid", required_argument, 0, OPT_VALID},
        {"valid-every", required_argument, 0, OPT_VALID_EVERY},
        {"min-count", required_argument, 0, OPT_MIN_COUNT},
        {"max-vocab", required_argument, 0, OPT_MAX_VOCAB},
        {"max-len", required_argument, 0, OPT_MAX_LEN},
        {"cell", required_argument, 0, OPT_CELL},
        {"layers", required_argument, 0, OPT_LAYERS},
        {"bidirectional", no_argument, 0, OPT_BI},
        {"unidirectional", no_argument, 0, OPT_UNI},
        {"attention", required_argument, 0, OPT_ATTENTION},
        {"emb", required_argument, 0, OPT_EMB},
        {"hidden", required_argument, 0, OPT_HIDDEN},
        {"attn-dim", required_argument, 0, OPT_ATTN_DIM},
        {"dropout", required_argument, 0, OPT_DROPOUT},
        {"src-vectors", required_argument, 0, OPT_SRC_VECTORS},
        {"tgt-vectors", required_argument, 0, OPT_TGT_VECTORS},
        {"freeze", required_argument, 0, OPT_FREEZE},
        {"src-vocab-from-vectors", required_argument, 0, OPT_VOCAB_FROM_VECTORS},
        {"scale-vectors", no_argument, 0, OPT_SCALE_VECTORS},
        {"lr", required_argument, 0, OPT_LR},
        {"clip", required_argument, 0, OPT_CLIP},
        {"label-smoothing", required_argument, 0, OPT_SMOOTHING},
        {"batch", required_argument, 0, OPT_BATCH},
        {"epochs", required_argument, 0, OPT_EPOCHS},
        {"patience", required_argument, 0, OPT_PATIENCE},
        {"seed", required_argument, 0, OPT_SEED},
        {"threads", required_argument, 0, OPT_THREADS},
        {"checkpoint", required_argument, 0, OPT_CHECKPOINT},
        {"checkpoint-every", required_argument, 0, OPT_CHECKPOINT_EVERY},
        {"resume", required_argument, 0, OPT_RESUME},
        {"max-steps", required_argument, 0, OPT_MAX_STEPS},
        {"stop-at-exact", required_argument, 0, OPT_STOP_EXACT},
        {"best-by", required_argument, 0, OPT_BEST_BY},
        {"tie-embeddings", no_argument, 0, OPT_TIE},
        {"src-keep-case", no_argument, 0, OPT_SIDE + 0},
        {"tgt-keep-case", no_argument, 0, OPT_SIDE + 1},
        {"src-punct", required_argument, 0, OPT_SIDE + 2},
        {"tgt-punct", required_argument, 0, OPT_SIDE + 3},
        {"src-pretokenized", no_argument, 0, OPT_SIDE + 4},
        {"tgt-pretokenized", no_argument, 0, OPT_SIDE + 5},
        TOKFLAGS_LONGOPTS,
        CLI_COMMON_LONGOPTS,
        {0, 0, 0, 0}};
    static const char *const freezes[] = {"src", "tgt", "both", NULL};
    static const char *const best_bys[] = {"loss", "bleu", NULL};
    const char *cmd = "seq2seq";
    int c, k;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:hq", longopts, NULL)) != -1) {
        long long *iv = NULL, lo = 1, hi = INT32_MAX;
        double *dv = NULL, dlo = 0, dhi = 1e9;
        const char *name = NULL;
        if (c >= TOKFLAGS_KEEP_CASE && c <= TOKFLAGS_PRETOKENIZED) {
            if (tokflags_option(cmd, c, optarg, &a->tok[0]) < 0)
                return 1 + CLI_EXIT_USAGE;
            tokflags_option(cmd, c, optarg, &a->tok[1]);
            continue;
        }
        if (c >= OPT_SIDE && c < OPT_SIDE + 6) {
            if (side_option(c, optarg, a) < 0)
                return 1 + CLI_EXIT_USAGE;
            continue;
        }
        switch (c) {
        case 'o':
            a->output = optarg;
            break;
        case OPT_SRC:
            a->src = optarg;
            break;
        case OPT_TGT:
            a->tgt = optarg;
            break;
        case OPT_VALID:
            a->valid = optarg;
            break;
        case OPT_SRC_VECTORS:
            a->vectors[0] = optarg;
            break;
        case OPT_TGT_VECTORS:
            a->vectors[1] = optarg;
            break;
        case OPT_CHECKPOINT:
            a->checkpoint = optarg;
            break;
        case OPT_RESUME:
            a->resume = optarg;
            break;
        case OPT_BI:
            a->bidirectional = 1;
            break;
        case OPT_UNI:
            a->bidirectional = 0;
            break;
        case OPT_TIE:
            a->tie = 1;
            break;
        case OPT_SCALE_VECTORS:
            a->scale_vectors = 1;
            break;
        case OPT_VALID_EVERY:
            iv = &a->valid_every, name = "valid-every", lo = 0;
            break;
        case OPT_MIN_COUNT:
            iv = &a->min_count, name = "min-count";
            break;
        case OPT_MAX_VOCAB:
            iv = &a->max_vocab, name = "max-vocab", lo = 0;
            break;
        case OPT_VOCAB_FROM_VECTORS:
            iv = &a->vocab_from_vectors, name = "src-vocab-from-vectors", lo = 0;
            break;
        case OPT_MAX_LEN:
            iv = &a->max_len, name = "max-len", lo = 0;
            break;
        case OPT_LAYERS:
            iv = &a->layers, name = "layers", hi = 8;
            break;
        case OPT_EMB:
            iv = &a->emb, name = "emb", hi = 65536, a->emb_given = 1;
            break;
        case OPT_HIDDEN:
            iv = &a->hidden, name = "hidden", hi = 65536;
            break;
        case OPT_ATTN_DIM:
            iv = &a->attn_dim, name = "attn-dim", hi = 65536;
            break;
        case OPT_BATCH:
            iv = &a->batch, name = "batch", hi = 65536;
            break;
        case OPT_EPOCHS:
            iv = &a->epochs, name = "epochs", hi = 1000000;
            break;
        case OPT_PATIENCE:
            iv = &a->patience, name = "patience", lo = 0;
            break;
        case OPT_SEED:
            iv = &a->seed, name = "seed", lo = 0, hi = INT64_MAX;
            break;
        case OPT_THREADS:
            iv = &a->threads, name = "threads", hi = 256;
            break;
        case OPT_MAX_STEPS:
            iv = &a->max_steps, name = "max-steps", lo = 0, hi = INT64_MAX;
            break;
        case OPT_DROPOUT:
            dv = &a->dropout, name = "dropout", dhi = 0.95;
            break;
        case OPT_LR:
            dv = &a->lr, name = "lr", dlo = 1e-9, dhi = 10;
            break;
        case OPT_CLIP:
            dv = &a->clip, name = "clip";
            break;
        case OPT_SMOOTHING:
            dv = &a->smoothing, name = "label-smoothing", dhi = 0.99;
            break;
        case OPT_CHECKPOINT_EVERY:
            dv = &a->ckpt_minutes, name = "checkpoint-every";
            break;
        case OPT_STOP_EXACT:
            dv = &a->stop_exact, name = "stop-at-exact", dhi = 1;
            break;
        case OPT_CELL:
            if ((k = cli_choice(cmd, "cell", optarg, loom_rnn_cell_names)) < 0)
                return 1 + CLI_EXIT_USAGE;
            a->cell = k;
            break;
        case OPT_ATTENTION:
            if ((k = cli_choice(cmd, "attention", optarg, loom_attn_kind_names)) < 0)
                return 1 + CLI_EXIT_USAGE;
            a->attention = k;
            break;
        case OPT_BEST_BY:
            if ((k = cli_choice(cmd, "best-by", optarg, best_bys)) < 0)
                return 1 + CLI_EXIT_USAGE;
            a->best_by = k;
            break;
        case OPT_FREEZE:
            if ((k = cli_choice(cmd, "freeze", optarg, freezes)) < 0)
                return 1 + CLI_EXIT_USAGE;
            a->freeze[0] = k != 1, a->freeze[1] = k != 0;
            break;
        case CLI_OPT_HELP:
            return 1 + cli_help(cmd);
        case CLI_OPT_QUIET:
            a->quiet = 1, a->progress = CLI_PROGRESS_OFF;
            break;
        case CLI_OPT_PROGRESS:
            a->progress = CLI_PROGRESS_ON;
            break;
        default:
            return 1 + cli_bad_option(cmd, argc, argv);
        }
        if (iv && cli_int(cmd, name, optarg, lo, hi, iv) < 0)
            return 1 + CLI_EXIT_USAGE;
        if (dv && cli_double(cmd, name, optarg, dlo, dhi, dv) < 0)
            return 1 + CLI_EXIT_USAGE;
    }
    if (optind < argc)
        a->pairs = argv[optind++];
    if (optind < argc)
        return 1 + cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
    if (!a->output)
        return 1 + cli_usage(cmd, "needs -o MODEL");
    if (!a->pairs == !(a->src && a->tgt) || (!a->src != !a->tgt))
        return 1 + cli_usage(cmd, "needs PAIRS or both --src and --tgt");
    if (a->tie && a->vectors[1])
        return 1 + cli_usage(cmd, "with --tie-embeddings, --src-vectors initialises the one table");
    if (a->vocab_from_vectors >= 0 && !a->vectors[0] && !a->resume)
        return 1 + cli_usage(cmd, "--src-vocab-from-vectors needs --src-vectors");
    if (a->vocab_from_vectors >= 0 && a->tie)
        return 1 + cli_usage(cmd, "--src-vocab-from-vectors cannot be used with --tie-embeddings "
                                  "(the one vocabulary is the target's too)");
    if (a->tie && (a->freeze[0] || a->freeze[1]))
        a->freeze[0] = 1, a->freeze[1] = 0;
    if (a->scale_vectors && !a->vectors[0] && !a->vectors[1] && !a->resume)
        return 1 + cli_usage(cmd, "--scale-vectors needs --src-vectors or --tgt-vectors");
    if (a->freeze[0] && !a->vectors[0] && !a->resume)
        return 1 + cli_usage(cmd, "--freeze src needs --src-vectors");
    if (a->freeze[1] && !a->vectors[1] && !a->resume)
        return 1 + cli_usage(cmd, "--freeze tgt needs --tgt-vectors");
    if (a->attention == LOOM_ATTN_DOT && a->bidirectional)
        return 1 + cli_usage(cmd, "--attention dot needs --unidirectional (the decoder's state "
                                  "and the encoder's outputs must have one size)");
    return 0;
}

/* Initialises one side's embeddings from vectors and reports coverage. */
static int init_from_vectors(loom_param *e, const loom_vocab *v, const char *path, int side,
                             const args *a)
{
    loom_seq_coverage cov;
    int rc = loom_seq_init_embedding(e, v, path, a->scale_vectors,
                                     (uint64_t)a->seed + (uint64_t)side, &cov);
    if (rc || a->quiet)
        return rc;
    fprintf(stderr,
            "loom seq2seq: %s vectors %s: %zu of %zu words found (coverage %.1f%% of the "
            "vocabulary, %.1f%% of the running tokens)\n",
            side_names[side], path, cov.found, cov.words,
            cov.words ? 100.0 * cov.found / cov.words : 0,
            cov.tokens ? 100.0 * cov.tokens_found / cov.tokens : 0);
    if (a->scale_vectors)
        fprintf(stderr,
                "loom seq2seq: %s vectors scaled by %.4g to standard deviation 1 (from %.4g; "
                "--scale-vectors)\n",
                side_names[side], cov.scale, cov.sd);
    return 0;
}

/* A resumed run takes its training settings from the checkpoint, so that
 * it continues the same run; only --epochs and --max-steps may change. */
static void resume_args(args *a, const loom_st_file *f)
{
    const char *v;
    if ((v = loom_st_meta(f, "lr")))
        a->lr = strtod(v, NULL);
    if ((v = loom_st_meta(f, "clip")))
        a->clip = strtod(v, NULL);
    if ((v = loom_st_meta(f, "label_smoothing")))
        a->smoothing = strtod(v, NULL);
    if ((v = loom_st_meta(f, "batch")))
        a->batch = atoll(v);
    if ((v = loom_st_meta(f, "seed")))
        a->seed = atoll(v);
    if ((v = loom_st_meta(f, "max_len")))
        a->max_len = atoll(v);
    if ((v = loom_st_meta(f, "freeze"))) {
        a->freeze[0] = strcmp(v, "src") == 0 || strcmp(v, "both") == 0;
        a->freeze[1] = strcmp(v, "tgt") == 0 || strcmp(v, "both") == 0;
    }
    if ((v = loom_st_meta(f, "src_vectors")) && strcmp(v, "none") != 0)
        a->vectors[0] = v;
    if ((v = loom_st_meta(f, "tgt_vectors")) && strcmp(v, "none") != 0)
        a->vectors[1] = v;
    if ((v = loom_st_meta(f, "best_by")))
        a->best_by = strcmp(v, "bleu") == 0;
}

static int build_vocab(loom_vocab **out, const loom_seq_pairs *p, int side, const args *a)
{
    int rc = loom_vocab_new(out);
    if (!rc)
        rc = loom_vocab_add_specials(*out);
    if (!rc)
        rc = loom_seq_pairs_count_vocab(p, side, *out);
    if (!rc && a->tie) /* one vocabulary: the other side's words too */
        rc = loom_seq_pairs_count_vocab(p, 1 - side, *out);
    if (rc || side != 0 || a->vocab_from_vectors < 0)
        return rc ? rc : loom_vocab_finalize(*out, (uint64_t)a->min_count, (size_t)a->max_vocab);
    loom_vocab *counts = *out;
    size_t added;
    *out = NULL;
    if (!(rc = loom_vocab_finalize(counts, 1, 0)))
        rc = loom_seq_vocab_with_vectors(out, counts, (uint64_t)a->min_count, (size_t)a->max_vocab,
                                         a->vectors[0], (size_t)a->vocab_from_vectors, &added);
    loom_vocab_free(counts);
    if (!rc && !a->quiet)
        fprintf(stderr, "loom seq2seq: %zu source words added from %s (--src-vocab-from-vectors)\n",
                added, a->vectors[0]);
    return rc;
}

static int run_seq2seq(int argc, char **argv)
{
    args a = {0};
    a.min_count = 1, a.max_len = 50, a.layers = 1, a.emb = 64, a.hidden = 128, a.batch = 64;
    a.epochs = 10, a.seed = 1, a.threads = 1, a.lr = 2e-3, a.clip = 1, a.ckpt_minutes = 10;
    a.cell = LOOM_RNN_GRU, a.attention = LOOM_ATTN_BAHDANAU, a.bidirectional = 1,
    a.vocab_from_vectors = -1;
    loom_tok_opts_default(&a.tok[0]);
    loom_tok_opts_default(&a.tok[1]);
    int st = parse(argc, argv, &a);
    if (st)
        return st - 1;
    char *inputs[] = {(char *)a.pairs, (char *)a.src,        (char *)a.tgt,
                      (char *)a.valid, (char *)a.vectors[0], (char *)a.vectors[1]};
    if (cli_inputs(inputs, 6))
        return CLI_EXIT_ERROR;
    if (loom_check_writable(a.output) < 0)
        return cli_fail();
    char ckpt_default[4096];
    if (!a.checkpoint) {
        snprintf(ckpt_default, sizeof ckpt_default, "%s.ckpt", a.output);
        a.checkpoint = ckpt_default;
    }
    loom_blas_set_threads(1); /* the trainer's own threads split each batch */

    loom_seq_bundle b = {0};
    loom_st_file *resume = NULL;
    loom_seq_pairs *pairs = NULL, *vpairs = NULL;
    loom_seq_corpus *train = NULL, *valid = NULL;
    int rc = 0;
    if (a.resume) {
        if ((rc = loom_seq_file_load(&b, a.resume, &resume)))
            goto done;
        a.tok[0] = b.tok[0], a.tok[1] = b.tok[1];
        resume_args(&a, resume);
    }
    if ((rc = loom_seq_pairs_read(&pairs, a.pairs ? a.pairs : a.src, a.pairs ? NULL : a.tgt,
                                  &a.tok[0], &a.tok[1])))
        goto done;
    if (a.valid && (rc = loom_seq_pairs_read(&vpairs, a.valid, NULL, &a.tok[0], &a.tok[1])))
        goto done;
    if (!a.resume) {
        if ((rc = build_vocab(&b.vocab[0], pairs, 0, &a)) ||
            (rc = build_vocab(&b.vocab[1], pairs, 1, &a)))
            goto done;
        b.tok[0] = a.tok[0], b.tok[1] = a.tok[1];
    }
    if ((rc = loom_seq_corpus_build(&train, pairs, b.vocab[0], b.vocab[1], (int)a.max_len)))
        goto done;
    if (vpairs && (rc = loom_seq_corpus_build(&valid, vpairs, b.vocab[0], b.vocab[1], 0)))
        goto done;
    loom_seq_pairs_free(pairs), pairs = NULL;
    loom_seq_pairs_free(vpairs), vpairs = NULL;
    if (train->n == 0) {
        rc = loom_error(LOOM_EINVAL, "%s: no pairs left to train on (--max-len %lld)",
                        a.pairs ? a.pairs : a.src, a.max_len);
        goto done;
    }
    if (!a.resume) {
        if (!a.emb_given) { /* the vectors decide the embedding size */
            for (int s = 1; s >= 0; s--) {
                loom_vectors *v;
                if (a.vectors[s] && (rc = loom_vectors_load_opts(&v, a.vectors[s], 0, 1)) == 0) {
                    a.emb = (long long)loom_vectors_dim(v);
                    loom_vectors_free(v);
                }
                if (rc)
                    goto done;
            }
        }
        loom_seq_config c = {a.cell,
                             a.attention,
                             (int)a.layers,
                             a.bidirectional,
                             (int)a.emb,
                             (int)a.hidden,
                             (int)(a.attn_dim ? a.attn_dim : a.hidden),
                             (int)loom_vocab_size(b.vocab[0]),
                             (int)loom_vocab_size(b.vocab[1]),
                             (float)a.dropout,
                             a.tie};
        if ((rc = loom_seq_model_new(&b.model, &c, (uint64_t)a.seed)))
            goto done;
        loom_params *ps = loom_seq_model_params(b.model);
        for (int s = 0; s < 2; s++)
            if (a.vectors[s] && (rc = init_from_vectors(
                                     loom_params_find(ps, s ? "tgt_emb.weight" : "src_emb.weight"),
                                     b.vocab[s], a.vectors[s], s, &a)))
                goto done;
    }
    loom_params *ps = loom_seq_model_params(b.model);
    for (int s = 0; s < 2; s++)
        if (a.freeze[s])
            loom_params_freeze(ps, s ? "tgt_emb." : "src_emb.", 1);
    if (!a.quiet) {
        fprintf(stderr,
                "loom seq2seq: %zu training pairs (%zu dropped over --max-len %lld), "
                "%zu validation pairs; vocabularies %zu + %zu words; %zu parameters "
                "(%zu trainable)\n",
                train->n, train->dropped, a.max_len, valid ? valid->n : 0,
                loom_vocab_size(b.vocab[0]), loom_vocab_size(b.vocab[1]), loom_params_numel(ps, 0),
                loom_params_numel(ps, 1));
        if (train->unknown[0] || train->unknown[1])
            fprintf(stderr,
                    "loom seq2seq: unknown words in training: %.2f%% source, %.2f%% target\n",
                    100.0 * train->unknown[0] / train->tokens[0],
                    100.0 * train->unknown[1] / train->tokens[1]);
    }

    char buf[13][32];
    snprintf(buf[12], 32, "%lld", a.vocab_from_vectors);
    snprintf(buf[9], 32, "%lld", a.threads);
    snprintf(buf[10], 32, "%lld", a.valid_every);
    snprintf(buf[11], 32, "%lld", a.patience);
    snprintf(buf[0], 32, "%g", a.lr);
    snprintf(buf[1], 32, "%g", a.clip);
    snprintf(buf[2], 32, "%g", a.smoothing);
    snprintf(buf[3], 32, "%lld", a.batch);
    snprintf(buf[4], 32, "%lld", a.epochs);
    snprintf(buf[5], 32, "%lld", a.seed);
    snprintf(buf[6], 32, "%lld", a.max_len);
    snprintf(buf[7], 32, "%lld", a.min_count);
    snprintf(buf[8], 32, "%lld", a.max_vocab);
    const char *freeze = a.freeze[0] && a.freeze[1] ? "both"
                         : a.freeze[0]              ? "src"
                         : a.freeze[1]              ? "tgt"
                                                    : "none";
    const char *meta[] = {"threads",
                          buf[9],
                          "valid_every",
                          buf[10],
                          "patience",
                          buf[11],
                          "lr",
                          buf[0],
                          "clip",
                          buf[1],
                          "label_smoothing",
                          buf[2],
                          "batch",
                          buf[3],
                          "epochs",
                          buf[4],
                          "seed",
                          buf[5],
                          "max_len",
                          buf[6],
                          "min_count",
                          buf[7],
                          "max_vocab",
                          buf[8],
                          "src_vocab_from_vectors",
                          a.vocab_from_vectors >= 0 ? buf[12] : "off",
                          "freeze",
                          freeze,
                          "scale_vectors",
                          a.scale_vectors ? "1" : "0",
                          "src_vectors",
                          a.vectors[0] ? a.vectors[0] : "none",
                          "tgt_vectors",
                          a.vectors[1] ? a.vectors[1] : "none",
                          "best_by",
                          a.best_by ? "bleu" : "loss",
                          NULL,
                          NULL};
    loom_seq_train_opts o;
    loom_seq_train_defaults(&o);
    o.lr = (float)a.lr, o.clip = (float)a.clip, o.label_smoothing = (float)a.smoothing;
    o.batch = (int)a.batch, o.epochs = (int)a.epochs, o.seed = (uint64_t)a.seed;
    o.threads = (int)a.threads;
    o.valid_every = (int)a.valid_every, o.patience = (int)a.patience;
    o.checkpoint_minutes = a.ckpt_minutes, o.checkpoint = a.checkpoint;
    o.max_steps = a.max_steps, o.stop_at_exact = a.stop_exact, o.meta = meta;
    o.best_by = a.best_by;
    int show = cli_progress_enabled(a.progress);
    loom_progress *p = loom_progress_new("seq2seq", 0, "steps", show);
    loom_seq_train_result res;
    rc = loom_seq_train(&b, train, valid, &o, a.output, resume, p,
                        a.quiet ? NULL
                        : show  ? report
                                : report_plain,
                        p, &res);
    loom_progress_finish(p, NULL);
    loom_progress_free(p);
    if (!rc && !a.quiet)
        fprintf(stderr,
                "loom seq2seq: %ld steps, %ld target tokens in %.1f s (%.0f tokens/s); "
                "wrote %s%s\n",
                res.steps, res.tokens, res.seconds, res.tokens_per_s, a.output,
                res.hit_max_steps ? " and the checkpoint (--max-steps)" : "");
done:
    loom_seq_pairs_free(pairs);
    loom_seq_pairs_free(vpairs);
    loom_seq_corpus_free(train);
    loom_seq_corpus_free(valid);
    loom_st_close(resume);
    loom_seq_bundle_free(&b);
    return rc ? cli_fail() : CLI_EXIT_OK;
}

const cli_command cmd_seq2seq = {"seq2seq", run_seq2seq,
                                 "train a sequence-to-sequence model on parallel text", help};
