/* loom classify: text classification (fastText's supervised mode and a
 * Kim-2014 CNN). Parses options, calls src/classify, prints. Options are
 * read with getopt_long_only, so fastText's single-dash spellings
 * (-epoch 25, -wordNgrams 2) work as well as loom's double-dash ones. */
#include "config.h"
#include "cli.h"
#include "commands.h"
#include "tokflags.h"
#include "base/error.h"
#include "base/progress.h"
#include "base/writer.h"
#include "classify/data.h"
#include "classify/eval.h"
#include "classify/model.h"
#include "classify/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: loom classify train DATA -o MODEL [OPTIONS]\n"
    "       loom classify test MODEL DATA [K [T]] [-k K] [-t T] [--per-label]\n"
    "       loom classify predict MODEL [FILE] [K] [-k K] [-t T] [--prob]\n"
    "       loom classify predict-prob MODEL [FILE] [K]\n"
    "\n"
    "Text classification. DATA holds one example per line in fastText's format\n"
    "(`__label__pos __label__other some text`: every word starting with the\n"
    "label prefix is a label, wherever it stands) or, with --tsv, label<TAB>text\n"
    "(several labels separated by spaces). The text is tokenised by loom's\n"
    "tokenizer (the flags below); each line ends with fastText's end-of-line\n"
    "word </s>. Empty lines are skipped; a line without a label, a label the\n"
    "model does not know (test), an empty file or invalid UTF-8 is an error\n"
    "naming the file and line.\n"
    "\n"
    "Architectures (--arch):\n"
    "  bag  fastText's model: the mean of the word (and hashed word n-gram)\n"
    "       embeddings -> dense -> softmax; SGD one example at a time on Hogwild\n"
    "       threads, the learning rate falling linearly to 0. fastText's defaults:\n"
    "       dim 100, lr 0.1, epoch 5, minCount 1, wordNgrams 1, bucket 2000000\n"
    "       (used only when wordNgrams > 1), loss softmax.\n"
    "  cnn  Kim (2014): embeddings -> conv1d of each width (--widths, default\n"
    "       3,4,5, --filters 100 each) -> max-pool over time -> ReLU -> dropout\n"
    "       (--dropout 0.5) -> dense -> softmax; mini-batches (--batch 50),\n"
    "       Adam (lr 0.001), 10 epochs; with --valid the epoch with the best\n"
    "       validation P@1 is kept and training stops after --patience 3 epochs\n"
    "       without a better one. Recommended: --arch cnn --vectors F --valid F.\n"
    "       Words missing from the vectors start N(0, sd^2), sd the file's.\n"
    "\n"
    "test prints fastText's lines: N (examples), P@K and R@K (precision and\n"
    "recall of the K best labels with probability >= T); --per-label adds\n"
    "F1-score, precision and recall per label first (as 'fasttext test-label').\n"
    "predict prints the K best labels of each line of FILE (default stdin),\n"
    "space-separated; with --prob (or predict-prob) each followed by its\n"
    "probability.\n"
    "\n"
    "train options (fastText's name first, then loom's where it differs):\n"
    "  -o, --output MODEL       the model file to write (safetensors)\n"
    "      --arch bag|cnn       the architecture (default bag)\n"
    "      --tsv                label<TAB>text lines instead of fastText's format\n"
    "      --label PREFIX       the label prefix (default __label__)\n"
    "      --dim N              embedding size (default 100, or the vectors')\n"
    "      --lr X               learning rate (default 0.1; cnn 0.001)\n"
    "      --epoch, --epochs N  passes over the data (default 5; cnn 10)\n"
    "      --thread, --threads N  threads (default: the number of cores; cnn:\n"
    "                           OpenBLAS threads)\n"
    "      --minCount, --min-count N  keep words seen at least N times (default 1)\n"
    "      --minCountLabel, --min-count-label N  the same for labels (default 1)\n"
    "      --wordNgrams, --word-ngrams N  also runs of up to N words (default 1)\n"
    "      --bucket N           hash buckets for the word n-grams (default 2000000)\n"
    "      --loss softmax|ova|ns|hs  softmax (default): one label per example;\n"
    "                           ova: one sigmoid per label (multi-label data);\n"
    "                           bag only, for many labels: ns (negative sampling,\n"
    "                           --neg labels per example) or hs (hierarchical\n"
    "                           softmax over the Huffman tree of the label counts)\n"
    "      --neg N              ns: negatives per example (default 5)\n"
    "      --pretrainedVectors, --vectors FILE  initialise the word embeddings\n"
    "                           from a vector file (any format loom reads)\n"
    "      --freeze             keep those embeddings fixed (Kim's \"static\")\n"
    "      --channels 1|2       cnn: 2 keeps a frozen and a tuned copy of the\n"
    "                           vectors (Kim's \"multichannel\"; needs --vectors)\n"
    "      --widths W,W,..      cnn: convolution widths (default 3,4,5)\n"
    "      --filters N          cnn: filters per width (default 100)\n"
    "      --dropout X          cnn: dropout before the output layer (default 0.5)\n"
    "      --batch N            cnn: sentences per step (default 50)\n"
    "      --valid FILE         cnn: validation data; keeps the best epoch\n"
    "      --patience N         cnn: epochs without improvement before stopping\n"
    "                           (default 3; 0 never stops early)\n"
    "      --seed N             random seed (default 1)\n"
    "test and predict options:\n"
    "  -k, --k K                how many labels (default 1)\n"
    "  -t, --threshold T        only labels with probability >= T (default 0)\n"
    "      --per-label          test: precision, recall and F1 of each label\n"
    "      --prob               predict: print each label's probability\n"
    "common options:\n" TOKFLAGS_HELP
    "  -q, --quiet              no progress or summary on stderr\n"
    "      --progress           progress even when stderr is not a terminal\n"
    "  -h, --help               this help\n"
    "\n"
    "examples:\n"
    "  loom classify train tests/fixtures/classify/train.txt -o /tmp/cls.loom --epoch 25\n"
    "  loom classify test /tmp/cls.loom tests/fixtures/classify/test.txt\n"
    "  loom classify test /tmp/cls.loom tests/fixtures/classify/test.txt --per-label\n"
    "  echo 'a great camera , light and easy' | loom classify predict /tmp/cls.loom - -k 2 --prob\n"
    "  loom classify train tests/fixtures/classify/train.tsv --tsv -o /tmp/cls2.loom -wordNgrams "
    "2\n"
    "  loom classify train tests/fixtures/classify/train.txt -o /tmp/cls3.loom -loss hs -epoch "
    "25\n";

enum {
    OPT_ARCH = 0x3000,
    OPT_TSV,
    OPT_LABEL,
    OPT_DIM,
    OPT_LR,
    OPT_EPOCH,
    OPT_THREAD,
    OPT_MINCOUNT,
    OPT_MINCOUNT_LABEL,
    OPT_NGRAMS,
    OPT_BUCKET,
    OPT_LOSS,
    OPT_NEG,
    OPT_VECTORS,
    OPT_FREEZE,
    OPT_SEED,
    OPT_PER_LABEL,
    OPT_PROB,
    OPT_FILTERS,
    OPT_WIDTHS,
    OPT_DROPOUT,
    OPT_CHANNELS,
    OPT_BATCH,
    OPT_VALID,
    OPT_PATIENCE
};

static const struct option longopts[] = {
    {"output", required_argument, 0, 'o'},
    {"arch", required_argument, 0, OPT_ARCH},
    {"tsv", no_argument, 0, OPT_TSV},
    {"label", required_argument, 0, OPT_LABEL},
    {"dim", required_argument, 0, OPT_DIM},
    {"lr", required_argument, 0, OPT_LR},
    {"epoch", required_argument, 0, OPT_EPOCH},
    {"epochs", required_argument, 0, OPT_EPOCH},
    {"thread", required_argument, 0, OPT_THREAD},
    {"threads", required_argument, 0, OPT_THREAD},
    {"minCount", required_argument, 0, OPT_MINCOUNT},
    {"min-count", required_argument, 0, OPT_MINCOUNT},
    {"minCountLabel", required_argument, 0, OPT_MINCOUNT_LABEL},
    {"min-count-label", required_argument, 0, OPT_MINCOUNT_LABEL},
    {"wordNgrams", required_argument, 0, OPT_NGRAMS},
    {"word-ngrams", required_argument, 0, OPT_NGRAMS},
    {"bucket", required_argument, 0, OPT_BUCKET},
    {"loss", required_argument, 0, OPT_LOSS},
    {"neg", required_argument, 0, OPT_NEG},
    {"pretrainedVectors", required_argument, 0, OPT_VECTORS},
    {"vectors", required_argument, 0, OPT_VECTORS},
    {"freeze", no_argument, 0, OPT_FREEZE},
    {"seed", required_argument, 0, OPT_SEED},
    {"k", required_argument, 0, 'k'},
    {"threshold", required_argument, 0, 't'},
    {"per-label", no_argument, 0, OPT_PER_LABEL},
    {"prob", no_argument, 0, OPT_PROB},
    {"filters", required_argument, 0, OPT_FILTERS},
    {"widths", required_argument, 0, OPT_WIDTHS},
    {"dropout", required_argument, 0, OPT_DROPOUT},
    {"channels", required_argument, 0, OPT_CHANNELS},
    {"batch", required_argument, 0, OPT_BATCH},
    {"valid", required_argument, 0, OPT_VALID},
    {"patience", required_argument, 0, OPT_PATIENCE},
    TOKFLAGS_LONGOPTS,
    CLI_COMMON_LONGOPTS,
    {0, 0, 0, 0}};

typedef struct {
    const char *sub; /* train, test, predict */
    cli_io io;       /* -o, --quiet, --progress */
    const char *vectors, *valid;
    loom_cls_config cfg;
    loom_cls_format fmt;
    loom_cls_train_opts train;
    long long min_count, min_count_label;
    int dim_set, lr_set, epochs_set, freeze, per_label, prob;
    long long k;
    double threshold;
    const char *pos[4];
    int npos;
} args;

static const char *const arch_names[] = {"bag", "cnn", NULL};

static int parse(args *a, int argc, char **argv)
{
    char cmd[64];
    snprintf(cmd, sizeof cmd, "classify %s", a->sub);
    long long v;
    double x;
    int c, k;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long_only(argc, argv, "-ho:k:t:q", longopts, NULL)) != -1) {
        int tf = tokflags_option(cmd, c, optarg, &a->fmt.tok);
        if (tf < 0)
            return -1;
        if (tf > 0)
            continue;
        switch (c) {
        case 1: /* a positional argument, kept in order */
            if (a->npos == 4)
                return cli_usage("classify", "too many arguments"), -1;
            a->pos[a->npos++] = optarg;
            break;
        case OPT_ARCH:
            if ((k = cli_choice(cmd, "arch", optarg, arch_names)) < 0)
                return -1;
            a->cfg.arch = (loom_cls_arch)k;
            break;
        case OPT_TSV:
            a->fmt.tsv = 1;
            break;
        case OPT_LABEL:
            if (!*optarg || strlen(optarg) >= sizeof a->fmt.label_prefix || strpbrk(optarg, " \t"))
                return cli_usage(cmd, "--label: a prefix of 1 to 63 bytes without spaces"), -1;
            strcpy(a->fmt.label_prefix, optarg);
            break;
        case OPT_DIM:
            if (cli_int(cmd, "dim", optarg, 1, 4096, &v) < 0)
                return -1;
            a->cfg.dim = (int)v, a->dim_set = 1;
            break;
        case OPT_LR:
            if (cli_double(cmd, "lr", optarg, 1e-9, 100, &x) < 0)
                return -1;
            a->train.lr = x, a->lr_set = 1;
            break;
        case OPT_EPOCH:
            if (cli_int(cmd, "epoch", optarg, 1, 100000, &v) < 0)
                return -1;
            a->train.epochs = (int)v, a->epochs_set = 1;
            break;
        case OPT_THREAD:
            if (cli_int(cmd, "thread", optarg, 1, 1024, &v) < 0)
                return -1;
            a->train.threads = (int)v;
            break;
        case OPT_MINCOUNT:
            if (cli_int(cmd, "minCount", optarg, 1, 1LL << 40, &a->min_count) < 0)
                return -1;
            break;
        case OPT_MINCOUNT_LABEL:
            if (cli_int(cmd, "minCountLabel", optarg, 1, 1LL << 40, &a->min_count_label) < 0)
                return -1;
            break;
        case OPT_NGRAMS:
            if (cli_int(cmd, "wordNgrams", optarg, 1, 64, &v) < 0)
                return -1;
            a->fmt.word_ngrams = (int)v;
            break;
        case OPT_BUCKET:
            if (cli_int(cmd, "bucket", optarg, 1, 100000000, &v) < 0)
                return -1;
            a->fmt.bucket = (long)v;
            break;
        case OPT_LOSS:
            if ((k = cli_choice(cmd, "loss", optarg, loom_cls_loss_names)) < 0)
                return -1;
            a->cfg.loss = (loom_cls_loss)k;
            break;
        case OPT_NEG:
            if (cli_int(cmd, "neg", optarg, 1, 1000, &v) < 0)
                return -1;
            a->train.neg = (int)v;
            break;
        case OPT_VECTORS:
            a->vectors = optarg;
            break;
        case OPT_FREEZE:
            a->freeze = 1;
            break;
        case OPT_SEED:
            if (cli_int(cmd, "seed", optarg, 0, (long long)(~0ULL >> 1), &v) < 0)
                return -1;
            a->train.seed = (uint64_t)v;
            break;
        case 'k':
            if (cli_int(cmd, "k", optarg, 1, 1 << 24, &a->k) < 0)
                return -1;
            break;
        case 't':
            if (cli_double(cmd, "threshold", optarg, 0, 1, &a->threshold) < 0)
                return -1;
            break;
        case OPT_FILTERS:
            if (cli_int(cmd, "filters", optarg, 1, 4096, &v) < 0)
                return -1;
            a->cfg.filters = (int)v;
            break;
        case OPT_WIDTHS: {
            const char *p = optarg;
            a->cfg.nwidths = 0;
            while (*p) {
                char *end;
                long wv = strtol(p, &end, 10);
                if (end == p || wv < 1 || wv > 64 || a->cfg.nwidths == LOOM_CLS_MAX_WIDTHS ||
                    (*end && *end != ','))
                    return cli_usage(cmd, "--widths: 1 to %d widths in [1, 64], e.g. 3,4,5",
                                     LOOM_CLS_MAX_WIDTHS),
                           -1;
                a->cfg.widths[a->cfg.nwidths++] = (int)wv;
                p = *end ? end + 1 : end;
            }
            if (a->cfg.nwidths == 0)
                return cli_usage(cmd, "--widths: at least one width"), -1;
            break;
        }
        case OPT_DROPOUT:
            if (cli_double(cmd, "dropout", optarg, 0, 0.99, &x) < 0)
                return -1;
            a->cfg.dropout = (float)x;
            break;
        case OPT_CHANNELS:
            if (cli_int(cmd, "channels", optarg, 1, 2, &v) < 0)
                return -1;
            a->cfg.channels = (int)v;
            break;
        case OPT_BATCH:
            if (cli_int(cmd, "batch", optarg, 1, 100000, &v) < 0)
                return -1;
            a->train.batch = (int)v;
            break;
        case OPT_VALID:
            a->valid = optarg;
            break;
        case OPT_PATIENCE:
            if (cli_int(cmd, "patience", optarg, 0, 100000, &v) < 0)
                return -1;
            a->train.patience = (int)v;
            break;
        case OPT_PER_LABEL:
            a->per_label = 1;
            break;
        case OPT_PROB:
            a->prob = 1;
            break;
        case CLI_OPT_HELP: /* the actions share one help */
            return cli_help("classify"), 1;
        default:
            if (cli_io_option(cmd, c, &a->io, argc, argv) != CLI_IO_NEXT)
                return -1;
        }
    }
    return 0;
}

/* The fastText-style positional K and T after the files. */
static int positional_k(const args *a, int first, args *out)
{
    char cmd[64];
    snprintf(cmd, sizeof cmd, "classify %s", a->sub);
    if (a->npos > first && cli_int(cmd, "K", a->pos[first], 1, 1 << 24, &out->k) < 0)
        return -1;
    if (a->npos > first + 1 && cli_double(cmd, "T", a->pos[first + 1], 0, 1, &out->threshold) < 0)
        return -1;
    if (a->npos > first + 2)
        return cli_usage(cmd, "too many arguments"), -1;
    return 0;
}

/* ---------------------------------------------------------------- train */

static int do_train(args *a)
{
    if (a->npos != 1)
        return cli_usage("classify train", "expects one DATA file (and -o MODEL)");
    if (!a->io.output)
        return cli_usage("classify train", "-o MODEL is required");
    if (a->freeze && !a->vectors)
        return cli_usage("classify train", "--freeze needs --vectors");
    if (a->cfg.arch == LOOM_CLS_CNN && a->fmt.word_ngrams > 1)
        return cli_usage("classify train",
                         "--wordNgrams is for --arch bag (the CNN sees word order)");
    if (a->cfg.arch == LOOM_CLS_CNN && (a->cfg.loss == LOOM_CLS_NS || a->cfg.loss == LOOM_CLS_HS))
        return cli_usage("classify train",
                         "--loss ns and hs are for --arch bag (cnn: softmax or ova)");
    if (a->cfg.channels == 2 && !a->vectors)
        return cli_usage("classify train",
                         "--channels 2 needs --vectors (a frozen and a tuned copy)");
    if (a->cfg.arch == LOOM_CLS_CNN) { /* the CNN's own defaults (Adam) */
        loom_cls_train_opts d;
        loom_cls_train_opts_default(&d, LOOM_CLS_CNN);
        a->train.lr = a->lr_set ? a->train.lr : d.lr;
        a->train.epochs = a->epochs_set ? a->train.epochs : d.epochs;
    }
    const char *data_path = a->pos[0];
    char *inputs[] = {(char *)data_path, (char *)a->valid, (char *)a->vectors};
    if (cli_inputs(inputs, 3))
        return CLI_EXIT_ERROR;
    if (loom_check_writable(a->io.output))
        return cli_fail();
    if (a->fmt.word_ngrams > 1 && a->fmt.bucket == 0)
        a->fmt.bucket = 2000000;
    if (a->vectors) {
        int dim;
        if (loom_cls_vectors_dim(a->vectors, &dim))
            return cli_fail();
        if (a->dim_set && dim != a->cfg.dim)
            return cli_failf("%s: vectors of dimension %d, but --dim is %d", a->vectors, dim,
                             a->cfg.dim);
        a->cfg.dim = dim;
    }
    int show = cli_progress_enabled(a->io.progress), quiet = a->io.progress == CLI_PROGRESS_OFF;
    loom_cls_dict *dict;
    double t0 = loom_now();
    if (loom_cls_dict_build(&dict, data_path, &a->fmt, (uint64_t)a->min_count,
                            (uint64_t)a->min_count_label))
        return cli_fail();
    loom_cls_data *data;
    if (loom_cls_data_read(&data, dict, data_path, LOOM_CLS_NEED_LABELS)) {
        loom_cls_dict_free(dict);
        return cli_fail();
    }
    if (!quiet)
        fprintf(stderr,
                "loom classify: %s: %zu examples, %llu tokens, %zu words, %zu labels (read in "
                "%.1f s)\n",
                data_path, data->n, (unsigned long long)data->ntokens, loom_cls_dict_nwords(dict),
                loom_cls_dict_nlabels(dict), loom_now() - t0);
    loom_cls_data *valid = NULL;
    if (a->valid &&
        loom_cls_data_read(&valid, dict, a->valid, LOOM_CLS_NEED_LABELS | LOOM_CLS_KNOWN_LABELS)) {
        loom_cls_data_free(data);
        loom_cls_dict_free(dict);
        return cli_fail();
    }
    loom_classifier *m;
    if (loom_classifier_new(&m, &a->cfg, dict)) { /* takes dict */
        loom_cls_data_free(data);
        loom_cls_data_free(valid);
        return cli_fail();
    }
    loom_classifier_init(m, a->train.seed);
    int rc = 0;
    if (a->vectors) {
        loom_cls_coverage cov;
        if ((rc = loom_cls_init_vectors(m, a->vectors, a->train.seed, &cov)) == 0 && !quiet)
            fprintf(stderr,
                    "loom classify: vectors %s: %zu of %zu words found (coverage %.1f%% of the "
                    "words, %.1f%% of the running tokens)%s\n",
                    a->vectors, cov.found, cov.words,
                    cov.words ? 100.0 * (double)cov.found / (double)cov.words : 0,
                    cov.tokens ? 100.0 * (double)cov.tokens_found / (double)cov.tokens : 0,
                    a->freeze ? ", frozen" : "");
        m->emb->frozen = a->freeze;
    }
    loom_cls_train_stats st;
    if (!rc) {
        loom_progress *p = loom_progress_new("classify", 0, "tokens", show);
        rc = loom_cls_train(m, data, valid, &a->train, p, &st);
        loom_progress_finish(p, NULL);
        loom_progress_free(p);
    }
    char lr[32], epochs[32], mc[32], seed[32];
    snprintf(lr, sizeof lr, "%g", a->train.lr);
    snprintf(epochs, sizeof epochs, "%d", a->train.epochs);
    snprintf(mc, sizeof mc, "%lld", a->min_count);
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)a->train.seed);
    const char *extra[] = {"lr",        lr,
                           "epochs",    epochs,
                           "min_count", mc,
                           "seed",      seed,
                           "vectors",   a->vectors ? a->vectors : "",
                           "freeze",    a->freeze ? "1" : "0",
                           NULL};
    if (!rc)
        rc = loom_classifier_save(m, a->io.output, extra);
    if (!rc && !quiet)
        fprintf(stderr,
                "loom classify: trained %s on %llu examples in %.2f s (%.0f examples/s, %d "
                "threads), loss %.4f; wrote %s\n",
                a->cfg.arch == LOOM_CLS_BAG ? "bag" : "cnn", (unsigned long long)st.examples,
                st.seconds, st.seconds > 0 ? (double)st.examples / st.seconds : 0, a->train.threads,
                st.loss, a->io.output);
    if (!rc && !quiet && valid && st.best_epoch > 0)
        fprintf(stderr, "loom classify: kept epoch %d of %d (validation P@1 %.4f)\n", st.best_epoch,
                st.epochs_run, st.best_valid);
    loom_classifier_free(m);
    loom_cls_data_free(data);
    loom_cls_data_free(valid);
    return rc ? cli_fail() : CLI_EXIT_OK;
}

/* ----------------------------------------------------------------- test */

static void print_metric(const char *name, double v)
{
    if (isfinite(v))
        printf("%s : %f  ", name, v);
    else
        printf("%s : --------  ", name);
}

static int do_test(args *a)
{
    if (a->npos < 2)
        return cli_usage("classify test", "expects MODEL DATA [K [T]]");
    if (positional_k(a, 2, a) < 0)
        return CLI_EXIT_USAGE;
    loom_classifier *m;
    if (loom_classifier_load(&m, a->pos[0]))
        return cli_fail();
    loom_cls_data *data;
    if (loom_cls_data_read(&data, m->dict, a->pos[1],
                           LOOM_CLS_NEED_LABELS | LOOM_CLS_KNOWN_LABELS)) {
        loom_classifier_free(m);
        return cli_fail();
    }
    loom_cls_meter mt;
    int rc = loom_cls_test(m, data, (int)a->k, (float)a->threshold, &mt);
    if (!rc) {
        /* fastText: per-label lines in fixed notation, and then the general
         * lines with 3 decimals; without them, 3 significant digits. */
        if (a->per_label) {
            for (int l = 0; l < mt.nlabels; l++) {
                print_metric("F1-Score", loom_cls_f1(&mt, l));
                print_metric("Precision", loom_cls_precision(&mt, l));
                print_metric("Recall", loom_cls_recall(&mt, l));
                printf(" %s\n", loom_vocab_word(m->dict->labels, l));
            }
        }
        const char *f = a->per_label ? "%s@%lld\t%.3f\n" : "%s@%lld\t%.3g\n";
        printf("N\t%llu\n", (unsigned long long)mt.examples);
        printf(f, "P", a->k, loom_cls_precision(&mt, -1));
        printf(f, "R", a->k, loom_cls_recall(&mt, -1));
        loom_cls_meter_free(&mt);
    }
    loom_cls_data_free(data);
    loom_classifier_free(m);
    if (rc)
        return cli_fail();
    return fflush(stdout) == 0 ? CLI_EXIT_OK : cli_failf("writing to stdout failed");
}

/* -------------------------------------------------------------- predict */

static int do_predict(args *a)
{
    if (a->npos < 1)
        return cli_usage("classify predict", "expects MODEL [FILE] [K]");
    if (positional_k(a, 2, a) < 0)
        return CLI_EXIT_USAGE;
    const char *path = a->npos > 1 ? a->pos[1] : "-";
    loom_classifier *m;
    if (loom_classifier_load(&m, a->pos[0]))
        return cli_fail();
    int L = loom_cls_labels(m);
    loom_cls_encoder *e = NULL;
    loom_cls_work *w = NULL;
    loom_reader *r = NULL;
    float *probs = malloc((size_t)L * sizeof *probs), *p = malloc((size_t)L * sizeof *p);
    int *top = malloc((size_t)L * sizeof *top);
    int rc = probs && p && top ? 0 : loom_error(LOOM_ENOMEM, "out of memory");
    rc = rc ? rc : loom_cls_encoder_new(&e, m->dict);
    rc = rc ? rc : loom_cls_work_new(&w, m);
    rc = rc ? rc : loom_reader_open(&r, path);
    char *buf = NULL;
    size_t cap = 0, len;
    while (!rc && (rc = loom_reader_getline(r, &buf, &cap, &len, LOOM_CLS_MAX_LINE)) == 1) {
        const int32_t *ids;
        size_t nids;
        rc = loom_cls_encode(e, buf, len, &ids, &nids, NULL, NULL);
        if (rc) {
            rc = loom_error_prefix(rc, loom_reader_path(r), loom_reader_line_number(r));
            break;
        }
        rc = loom_cls_predict(m, w, ids, nids, probs);
        if (rc)
            break;
        int got = loom_cls_top_k(probs, L, (int)a->k, (float)a->threshold, top, p);
        for (int j = 0; j < got; j++) {
            printf("%s%s", j ? " " : "", loom_vocab_word(m->dict->labels, top[j]));
            if (a->prob)
                printf(" %g", (double)p[j]);
        }
        putchar('\n');
    }
    free(buf), free(probs), free(p), free(top);
    if (r)
        loom_reader_close(r);
    loom_cls_encoder_free(e);
    loom_cls_work_free(w);
    loom_classifier_free(m);
    if (rc < 0)
        return cli_fail();
    return fflush(stdout) == 0 ? CLI_EXIT_OK : cli_failf("writing to stdout failed");
}

static int run_classify(int argc, char **argv)
{
    if (argc < 2)
        return cli_usage("classify", "expects train, test, predict or predict-prob");
    const char *sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0)
        return cli_help("classify");
    args a = {.sub = sub, .k = 1};
    loom_cls_config_default(&a.cfg, LOOM_CLS_BAG);
    loom_cls_format_default(&a.fmt);
    loom_cls_train_opts_default(&a.train, LOOM_CLS_BAG);
    a.train.threads = cli_default_threads();
    a.min_count = a.min_count_label = 1;
    int predict_prob = strcmp(sub, "predict-prob") == 0;
    if (strcmp(sub, "train") && strcmp(sub, "test") && strcmp(sub, "predict") && !predict_prob)
        return cli_usage("classify", "unknown subcommand '%s' (train, test, predict, predict-prob)",
                         sub);
    int rc = parse(&a, argc - 1, argv + 1);
    if (rc)
        return rc > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    a.prob |= predict_prob;
    if (strcmp(sub, "train") == 0)
        return do_train(&a);
    if (strcmp(sub, "test") == 0)
        return do_test(&a);
    return do_predict(&a);
}

const cli_command cmd_classify = {"classify", run_classify,
                                  "train, test and apply text classifiers (fastText format)", help};
