/* loom vocab: counts the tokens of a corpus and writes word2vec's
 * "word count" lines, most frequent first. Parsing and reporting only;
 * counting, pruning and sorting live in src/text/vocab.c. */
#include "config.h"
#include "cli.h"
#include "tokflags.h"
#include "base/error.h"
#include "base/progress.h"
#include "base/reader.h"
#include "base/writer.h"
#include "text/tokenizer.h"
#include "text/vocab.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* clang-format off */
static const char help[] =
    "usage: loom vocab [OPTIONS] CORPUS... [-o VOCAB]\n"
    "\n"
    "Counts the tokens of each CORPUS file ('-' is stdin, .gz is read\n"
    "transparently) with the tokenizer of 'loom tokenize' and writes one\n"
    "'word count' line per word (word2vec's vocabulary format), by count\n"
    "descending, ties in byte order of the word.\n"
    "\n"
    "options:\n"
    "  -o, --output FILE      write the vocabulary to FILE (default stdout)\n"
    "      --min-count N      drop words seen fewer than N times (default 1)\n"
    "      --max-size N       keep at most N words, specials included (default 0: all)\n"
    "      --specials         put <pad> <unk> <s> </s> first (ids 0-3, count 0),\n"
    "                         for sequence models\n"
    "      --prune-at N       memory bound while counting: past N distinct words,\n"
    "                         drop the rarest as word2vec does (default 20000000;\n"
    "                         0: never); the closing note says when it happened\n" TOKFLAGS_HELP
    "  -q, --quiet            no progress and no closing note\n"
    "      --progress         show progress even when stderr is not a terminal\n"
    "  -h, --help             this help\n"
    "\n"
    "examples:\n"
    "  loom vocab corpus/sotu.txt.gz -o sotu.vocab --min-count 5\n"
    "  loom vocab corpus/sotu.txt.gz --max-size 10 --quiet\n";
/* clang-format on */

enum { OPT_MIN_COUNT = 0x3000, OPT_MAX_SIZE, OPT_SPECIALS, OPT_PRUNE_AT };

/* Counting with progress: every 64K tokens, the bytes read so far. */
typedef struct {
    loom_vocab *v;
    loom_reader *r;
    loom_progress *p;
    double done; /* MB of the files before this one */
    unsigned long long tokens;
} count_ctx;

static int count_token(void *ctx, const char *tok, size_t len)
{
    count_ctx *c = ctx;
    if ((++c->tokens & 0xffff) == 0 && loom_progress_due(c->p))
        loom_progress_update(c->p, c->done + (double)loom_reader_raw_offset(c->r) / 1e6, NULL);
    return loom_vocab_add(c->v, tok, len, 1);
}

static int count_file(count_ctx *c, loom_tokenizer *t, const char *path)
{
    int rc = loom_reader_open(&c->r, path);
    if (rc < 0)
        return rc;
    rc = loom_tokenize_stream(t, c->r, count_token, NULL, c);
    c->done += (double)loom_reader_raw_offset(c->r) / 1e6;
    loom_progress_update(c->p, c->done, NULL);
    loom_reader_close(c->r);
    c->r = NULL;
    return rc;
}

static int run_vocab(int argc, char **argv)
{
    static const struct option longopts[] = {{"output", required_argument, 0, 'o'},
                                             {"min-count", required_argument, 0, OPT_MIN_COUNT},
                                             {"max-size", required_argument, 0, OPT_MAX_SIZE},
                                             {"specials", no_argument, 0, OPT_SPECIALS},
                                             {"prune-at", required_argument, 0, OPT_PRUNE_AT},
                                             TOKFLAGS_LONGOPTS,
                                             CLI_COMMON_LONGOPTS,
                                             {0, 0, 0, 0}};
    loom_tok_opts opts;
    loom_tok_opts_default(&opts);
    cli_io io = {.output = "-", .progress = CLI_PROGRESS_AUTO};
    long long min_count = 1, max_size = 0, prune_at = LOOM_VOCAB_PRUNE_AT;
    int specials = 0, c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:hq", longopts, NULL)) != -1) {
        int k = tokflags_option("vocab", c, optarg, &opts);
        if (k < 0)
            return CLI_EXIT_USAGE;
        if (k > 0)
            continue;
        switch (c) {
        case OPT_MIN_COUNT:
            if (cli_int("vocab", "min-count", optarg, 1, INT64_MAX, &min_count) < 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_MAX_SIZE:
            if (cli_int("vocab", "max-size", optarg, 0, INT32_MAX, &max_size) < 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_PRUNE_AT:
            if (cli_int("vocab", "prune-at", optarg, 0, INT32_MAX, &prune_at) < 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_SPECIALS:
            specials = 1;
            break;
        default:
            if ((k = cli_io_option("vocab", c, &io, argc, argv)) != CLI_IO_NEXT)
                return k;
        }
    }
    if (optind >= argc)
        return cli_usage("vocab", "expects at least one corpus file ('-' for stdin)");
    if (cli_inputs(argv + optind, argc - optind))
        return CLI_EXIT_ERROR;
    if (strcmp(io.output, "-") != 0 && loom_check_writable(io.output) < 0)
        return cli_fail();

    double total = 0;
    for (int i = optind; i < argc; i++) {
        struct stat st;
        if (strcmp(argv[i], "-") != 0 && stat(argv[i], &st) == 0)
            total += (double)st.st_size / 1e6;
    }
    loom_tokenizer *t = NULL;
    loom_vocab *v = NULL;
    int rc = loom_tokenizer_new(&t, &opts);
    if (rc == 0)
        rc = loom_vocab_new(&v);
    if (rc < 0) {
        loom_tokenizer_free(t);
        return cli_fail();
    }
    loom_vocab_set_prune_limit(v, (size_t)prune_at);
    if (specials)
        rc = loom_vocab_add_specials(v);
    count_ctx cc = {v, NULL, NULL, 0, 0};
    cc.p = loom_progress_new("vocab", total, "MB", cli_progress_enabled(io.progress));
    for (int i = optind; i < argc && rc == 0; i++)
        rc = count_file(&cc, t, argv[i]);
    loom_progress_finish(cc.p, NULL);
    loom_progress_free(cc.p);
    if (rc == 0)
        rc = loom_vocab_finalize(v, (uint64_t)min_count, (size_t)max_size);
    if (rc == 0)
        rc = loom_vocab_save(v, io.output);
    if (rc == 0 && !io.quiet) {
        unsigned prunings;
        uint64_t dropped, threshold;
        loom_vocab_prune_stats(v, &prunings, &dropped, &threshold);
        fprintf(stderr, "loom vocab: %zu words, %llu tokens kept\n", loom_vocab_size(v),
                (unsigned long long)loom_vocab_total(v));
        if (prunings)
            fprintf(stderr,
                    "loom vocab: the table passed %lld words, so %llu rare words were pruned "
                    "while counting (%u times, last at count <= %llu); counts up to %llu may "
                    "be low\n",
                    prune_at, (unsigned long long)dropped, prunings, (unsigned long long)threshold,
                    (unsigned long long)threshold);
    }
    loom_vocab_free(v);
    loom_tokenizer_free(t);
    return rc < 0 ? cli_fail() : CLI_EXIT_OK;
}

const cli_command cmd_vocab = {"vocab", run_vocab, "count the words of a corpus", help};
