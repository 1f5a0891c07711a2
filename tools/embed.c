/* loom embed: trains word vectors (word2vec skip-gram or CBOW) on a corpus
 * and writes them in word2vec's binary or text format. Parsing, checks
 * that must come before a long run, and reporting only; the trainer is
 * src/embed/word2vec.c. */
#include "config.h"
#include "cli.h"
#include "tokflags.h"
#include "base/dist.h"
#include "base/error.h"
#include "base/progress.h"
#include "base/writer.h"
#include "embed/vectors.h"
#include "embed/word2vec.h"
#include "text/subword.h"
#include "text/vocab.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const char help[] =
    "usage: loom embed [OPTIONS] CORPUS... -o VECTORS\n"
    "\n"
    "Trains word vectors on the CORPUS files ('-' is stdin, .gz is read\n"
    "transparently), tokenized as by 'loom tokenize', one sentence per line,\n"
    "with word2vec's skip-gram or CBOW model. Each thread reads its own byte\n"
    "range of the corpus (stdin is first copied to an unlinked temporary file\n"
    "in $TMPDIR, else /tmp; a .gz file is decompressed up to each thread's\n"
    "start). The text is read and tokenized once, in the vocabulary pass (else\n"
    "in the first epoch), and the epochs replay it as word ids held in memory,\n"
    "4 bytes a word, when they fit in --cache-mb; else it is streamed again\n"
    "every epoch.\n"
    "\n"
    "options (word2vec's and fastText's names and defaults):\n"
    "  -o, --output FILE      the vectors; .bin word2vec binary, .txt or .vec\n"
    "                         text, either with .gz (any other name: binary)\n"
    "      --format bin|txt   the format whatever the name\n"
    "      --model skipgram|cbow  (default skipgram)\n"
    "      --loss ns|hs       negative sampling (default) or hierarchical softmax\n"
    "      --dim N            vector size (default 100)\n"
    "      --window N         context words on each side, at most (default 5)\n"
    "      --negative N       negatives per target word (default 5)\n"
    "      --sample T         subsampling threshold of frequent words (default\n"
    "                         1e-3; 0: none)\n"
    "      --min-count N      ignore words seen fewer than N times (default 5)\n"
    "      --max-vocab N      keep only the N most frequent words (default: all)\n"
    "      --epochs N         passes over the corpus (default 5)\n"
    "      --alpha A          start learning rate, decayed linearly to ~0\n"
    "                         (default 0.025 skip-gram, 0.05 CBOW)\n"
    "      --min-alpha A      end the decay at A instead (gensim's min_alpha;\n"
    "                         default 0: 1e-4 x --alpha, word2vec.c's ~0)\n"
    "      --lr-schedule linear|per-worker  how the rate falls: linear (default,\n"
    "                         word2vec.c's) by the words all threads have read;\n"
    "                         per-worker as gensim's corpus_file mode: each thread\n"
    "                         by its own words against the whole corpus, so with\n"
    "                         N threads an epoch ends 1/N of its share down (a\n"
    "                         saw-tooth: 2 threads, 3 epochs end at ~alpha/6).\n"
    "                         To train as gensim corpus_file does:\n"
    "                         --lr-schedule per-worker --min-alpha 0.0001\n"
    "      --threads N        training threads (default: all cores)\n"
    "      --seed S           random seed (default 1); with --threads 1 the output\n"
    "                         file is byte-identical on every run\n"
    "      --save-vocab FILE  also write the vocabulary ('word count' lines)\n"
    "      --read-vocab FILE  use this vocabulary instead of counting the corpus\n"
    "                         (--min-count and --max-vocab still apply)\n"
    "      --cache-mb N       hold the corpus as word ids in memory when they fit\n"
    "                         in N MB (default 1024; 0: tokenize the text every\n"
    "                         epoch); the vectors are the same either way\n"
    "      --sync-words N     under mpirun: words each process reads between two\n"
    "                         exchanges of the processes' changes (default 200000)\n"
    "      --subword SPM      read the corpus as the pieces of this SentencePiece\n"
    "                         model ('loom subword'), as it streams: vectors for\n"
    "                         pieces, which seq2seq --src-vectors loads for a model\n"
    "                         on those pieces (--src-subword/--joint-subword SPM);\n"
    "                         the tokenizer options below do not apply\n" TOKFLAGS_HELP
    "  -q, --quiet            no progress and no summary\n"
    "      --progress         show progress even when stderr is not a terminal\n"
    "  -h, --help             this help\n"
    "\n"
    "Progress shows the epoch, percent done, words/s in total and per thread,\n"
    "the mean loss over the last interval and the time left.\n"
    "\n"
    "Under 'mpirun -np N loom embed ...' (a loom built with Open MPI: see\n"
    "'loom --version') the N processes train one model: each reads its own\n"
    "part of the corpus (every process must see the same files), they count\n"
    "the vocabulary together, add up their changes every --sync-words words,\n"
    "and the first writes the output. See the README, 'More than one machine'.\n"
    "\n"
    "examples:\n"
    "  loom embed corpus/sotu.txt.gz -o sotu.bin --epochs 3\n"
    "  loom embed corpus/sotu.txt.gz -o sotu.vec --model cbow --loss hs --dim 50 --quiet\n"
    "  loom embed corpus/sotu.txt.gz -o sotu.bin --threads 2 --lr-schedule per-worker --min-alpha "
    "1e-4\n"
    "  loom subword train tests/fixtures/subword/tatoeba.txt -o sp.model --vocab-size 400 -q\n"
    "  loom embed tests/fixtures/subword/tatoeba.txt --subword sp.model -o pieces.vec --dim 32\n";

enum {
    OPT_FORMAT = 0x3000,
    OPT_MODEL,
    OPT_LOSS,
    OPT_DIM,
    OPT_WINDOW,
    OPT_NEGATIVE,
    OPT_SAMPLE,
    OPT_MIN_COUNT,
    OPT_MAX_VOCAB,
    OPT_EPOCHS,
    OPT_ALPHA,
    OPT_MIN_ALPHA,
    OPT_LR_SCHEDULE,
    OPT_THREADS,
    OPT_SEED,
    OPT_SAVE_VOCAB,
    OPT_READ_VOCAB,
    OPT_SYNC_WORDS,
    OPT_CACHE_MB,
    OPT_SUBWORD
};

static const struct option longopts[] = {{"output", required_argument, 0, 'o'},
                                         {"format", required_argument, 0, OPT_FORMAT},
                                         {"model", required_argument, 0, OPT_MODEL},
                                         {"loss", required_argument, 0, OPT_LOSS},
                                         {"dim", required_argument, 0, OPT_DIM},
                                         {"window", required_argument, 0, OPT_WINDOW},
                                         {"negative", required_argument, 0, OPT_NEGATIVE},
                                         {"sample", required_argument, 0, OPT_SAMPLE},
                                         {"min-count", required_argument, 0, OPT_MIN_COUNT},
                                         {"max-vocab", required_argument, 0, OPT_MAX_VOCAB},
                                         {"epochs", required_argument, 0, OPT_EPOCHS},
                                         {"alpha", required_argument, 0, OPT_ALPHA},
                                         {"min-alpha", required_argument, 0, OPT_MIN_ALPHA},
                                         {"lr-schedule", required_argument, 0, OPT_LR_SCHEDULE},
                                         {"threads", required_argument, 0, OPT_THREADS},
                                         {"seed", required_argument, 0, OPT_SEED},
                                         {"save-vocab", required_argument, 0, OPT_SAVE_VOCAB},
                                         {"read-vocab", required_argument, 0, OPT_READ_VOCAB},
                                         {"sync-words", required_argument, 0, OPT_SYNC_WORDS},
                                         {"cache-mb", required_argument, 0, OPT_CACHE_MB},
                                         {"subword", required_argument, 0, OPT_SUBWORD},
                                         TOKFLAGS_LONGOPTS,
                                         CLI_COMMON_LONGOPTS,
                                         {0, 0, 0, 0}};

typedef struct {
    loom_w2v_opts w;
    const char *output, *save_vocab, *read_vocab, *subword;
    int format, progress, quiet;
} embed_args;

/* Parses one option into a; returns 0, or an exit status (> 0) to stop. */
static int parse_option(embed_args *a, int c, int argc, char **argv)
{
    static const char *const models[] = {"skipgram", "cbow", NULL};
    static const char *const losses[] = {"ns", "hs", NULL};
    static const char *const formats[] = {"bin", "txt", NULL};
    static const char *const schedules[] = {"linear", "per-worker", NULL};
    long long v; /* a numeric option's value, checked by cli_int or cli_double */
    double d;
    int k = tokflags_option("embed", c, optarg, &a->w.tok);
    if (k != 0)
        return k < 0 ? CLI_EXIT_USAGE : 0;
#define NUM_OPT(parse, var, name, lo, hi, field)                                                   \
    if (parse("embed", name, optarg, lo, hi, &var) < 0)                                            \
        return CLI_EXIT_USAGE;                                                                     \
    a->w.field = var;                                                                              \
    return 0
#define INT_OPT(name, lo, hi, field) NUM_OPT(cli_int, v, name, lo, hi, field)
#define DOUBLE_OPT(name, lo, hi, field) NUM_OPT(cli_double, d, name, lo, hi, field)
    switch (c) {
    case 'o':
        a->output = optarg;
        return 0;
    case OPT_FORMAT:
        if ((k = cli_choice("embed", "format", optarg, formats)) < 0)
            return CLI_EXIT_USAGE;
        a->format = k == 0 ? LOOM_VEC_BIN : LOOM_VEC_TEXT;
        return 0;
    case OPT_MODEL:
        if ((k = cli_choice("embed", "model", optarg, models)) < 0)
            return CLI_EXIT_USAGE;
        a->w.model = k == 0 ? LOOM_W2V_SKIPGRAM : LOOM_W2V_CBOW;
        return 0;
    case OPT_LOSS:
        if ((k = cli_choice("embed", "loss", optarg, losses)) < 0)
            return CLI_EXIT_USAGE;
        a->w.loss = k == 0 ? LOOM_W2V_NS : LOOM_W2V_HS;
        return 0;
    case OPT_DIM:
        INT_OPT("dim", 1, 100000, dim);
    case OPT_WINDOW:
        INT_OPT("window", 1, 10000, window);
    case OPT_NEGATIVE:
        INT_OPT("negative", 1, 1000, negative);
    case OPT_MIN_COUNT:
        INT_OPT("min-count", 1, INT64_MAX, min_count);
    case OPT_MAX_VOCAB:
        INT_OPT("max-vocab", 0, INT32_MAX / 2, max_vocab);
    case OPT_EPOCHS:
        INT_OPT("epochs", 1, 100000, epochs);
    case OPT_THREADS:
        INT_OPT("threads", 1, 1024, threads);
    case OPT_SEED:
        INT_OPT("seed", 0, INT64_MAX, seed);
    case OPT_SYNC_WORDS:
        INT_OPT("sync-words", 1000, INT64_MAX, sync_words);
    case OPT_CACHE_MB:
        INT_OPT("cache-mb", 0, 1 << 30, cache_mb);
    case OPT_SAMPLE:
        DOUBLE_OPT("sample", 0, 1, sample);
    case OPT_ALPHA:
        DOUBLE_OPT("alpha", 1e-9, 10, alpha);
    case OPT_MIN_ALPHA:
        DOUBLE_OPT("min-alpha", 0, 10, min_alpha);
    case OPT_LR_SCHEDULE:
        if ((k = cli_choice("embed", "lr-schedule", optarg, schedules)) < 0)
            return CLI_EXIT_USAGE;
        a->w.lr_schedule = k == 0 ? LOOM_W2V_LR_LINEAR : LOOM_W2V_LR_PER_WORKER;
        return 0;
    case OPT_SAVE_VOCAB:
        a->save_vocab = optarg;
        return 0;
    case OPT_READ_VOCAB:
        a->read_vocab = optarg;
        return 0;
    case OPT_SUBWORD:
        a->subword = optarg;
        return 0;
    case CLI_OPT_HELP:
        cli_help("embed");
        return -1;
    case CLI_OPT_QUIET:
        a->progress = CLI_PROGRESS_OFF;
        a->quiet = 1;
        return 0;
    case CLI_OPT_PROGRESS:
        a->progress = CLI_PROGRESS_ON;
        return 0;
    default:
        return cli_bad_option("embed", argc, argv);
    }
#undef DOUBLE_OPT
#undef INT_OPT
#undef NUM_OPT
}

/* Everything that can fail before a long run fails here. */
static int check_outputs(const embed_args *a)
{
    if (loom_check_writable(a->output) < 0)
        return -1;
    if (a->save_vocab && loom_check_writable(a->save_vocab) < 0)
        return -1;
    return 0;
}

static int train(const embed_args *a, char **files, int nfiles)
{
    loom_w2v *w;
    /* under mpirun the first process speaks for all */
    int first = loom_dist_rank() == 0, quiet = a->quiet || !first;
    int show = first && cli_progress_enabled(a->progress);
    loom_subword *sw = NULL;
    if (a->subword && loom_subword_load(&sw, a->subword) < 0)
        return cli_fail();
    if (loom_w2v_new(&w, &a->w, (const char *const *)files, (size_t)nfiles) < 0) {
        loom_subword_free(sw);
        return cli_fail();
    }
    if (sw)
        loom_w2v_set_subword(w, sw);
    int rc;
    if (a->read_vocab) {
        loom_vocab *v;
        rc = loom_vocab_load(&v, a->read_vocab);
        if (rc == 0)
            rc = loom_w2v_set_vocab(w, v);
    } else {
        loom_progress *p = loom_progress_new("embed: counting", 0, "MB", show);
        rc = loom_w2v_count(w, p);
        loom_progress_free(p);
    }
    if (rc == 0 && a->save_vocab && first)
        rc = loom_vocab_save(loom_w2v_vocab(w), a->save_vocab);
    if (rc == 0 && !quiet) {
        const loom_vocab *v = loom_w2v_vocab(w);
        const char *unit = sw ? "pieces" : "words";
        fprintf(stderr, "loom embed: %zu %s in the vocabulary, %llu corpus %s, %.1f MB\n",
                loom_vocab_size(v), unit, (unsigned long long)loom_vocab_total(v), unit,
                (double)loom_w2v_corpus_bytes(w) / 1e6);
    }
    if (rc == 0) {
        loom_progress *p = loom_progress_new("embed", 0, "words", show);
        rc = loom_w2v_train(w, p);
        loom_progress_free(p);
    }
    if (rc == 0 && first)
        rc = loom_w2v_save(w, a->output, a->format);
    if (rc == 0 && !quiet) {
        loom_w2v_stats s;
        loom_w2v_get_stats(w, &s);
        double rate = s.seconds > 0 ? (double)s.words / s.seconds : 0;
        fprintf(stderr,
                "loom embed: %llu words in %.1f s: %.0f words/s, %.0f per thread; loss %.4f; "
                "wrote %s\n",
                (unsigned long long)s.words, s.seconds, rate, rate / a->w.threads / s.ranks, s.loss,
                a->output);
        if (s.ranks > 1)
            fprintf(stderr,
                    "loom embed: %d processes x %d threads; %d averagings took %.1f s, %.1f%% "
                    "of the first process' time\n",
                    s.ranks, a->w.threads, s.syncs, s.sync_seconds,
                    s.seconds > 0 ? 100 * s.sync_seconds / s.seconds : 0.0);
    }
    loom_w2v_free(w);
    loom_subword_free(sw);
    return rc < 0 ? cli_fail() : CLI_EXIT_OK;
}

static int run_embed(int argc, char **argv)
{
    embed_args a = {.output = NULL, .format = LOOM_VEC_AUTO, .progress = CLI_PROGRESS_AUTO};
    loom_w2v_opts_default(&a.w);
    a.w.threads = cli_default_threads();
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:hq", longopts, NULL)) != -1) {
        int rc = parse_option(&a, c, argc, argv);
        if (rc != 0)
            return rc < 0 ? CLI_EXIT_OK : rc;
    }
    if (optind >= argc)
        return cli_usage("embed", "expects at least one corpus file ('-' for stdin)");
    if (!a.output)
        return cli_usage("embed", "needs an output file: -o VECTORS");
    if (strcmp(a.output, "-") == 0)
        return cli_usage("embed", "writes a file, not stdout: give -o a file name");
    if (loom_w2v_opts_check(&a.w) < 0)
        return cli_usage("embed", "%s", loom_error_message());
    char *vocab_in[] = {(char *)a.read_vocab, (char *)a.subword};
    if (cli_inputs(argv + optind, argc - optind) || cli_inputs(vocab_in, 2))
        return CLI_EXIT_ERROR;
    if (check_outputs(&a) < 0)
        return cli_fail();
    return train(&a, argv + optind, argc - optind);
}

const cli_command cmd_embed = {"embed", run_embed, "train word vectors (word2vec)", help};
