/* loom nearest: the words closest to each query by cosine similarity.
 * Queries come from the command line or stdin and are answered in batches
 * (one GEMM per batch, src/embed/query.c); this file reads and prints. */
#include "config.h"
#include "cli.h"
#include "veccli.h"
#include "base/alloc.h"
#include "base/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char help[] =
    "usage: loom nearest VECTORS [WORD...] [OPTIONS]\n"
    "\n"
    "Prints the K words nearest to each query by cosine similarity, as\n"
    "word<TAB>similarity lines under a 'query: WORDS' header. Each WORD argument\n"
    "is one query; a quoted argument with several words sums their unit vectors,\n"
    "as word2vec's distance does. The query words themselves are left out.\n"
    "Without WORDs, reads one query per line from stdin (with a prompt when stdin\n"
    "is a terminal). Unknown words are reported on stderr, the other queries are\n"
    "still answered, and the exit status is then 1.\n"
    "\n"
    "VECTORS is a word2vec binary or text file or a fastText .vec file, gzip or\n"
    "not (the format is detected from the content).\n"
    "\n"
    "options:\n"
    "  -k, --top N            neighbours per query (default 10)\n"
    "      --restrict N       only the first N words of the file (the most\n"
    "                         frequent ones) are candidates (default 0: all)\n" VECCLI_HELP "\n"
    "examples:\n"
    "  loom nearest tests/fixtures/vectors/sotu.bin war freedom -k 5\n"
    "  echo 'taxes revenue' | loom nearest tests/fixtures/vectors/sotu.bin\n";

enum { MAX_QUERY_WORDS = 64, BATCH = 1024, OPT_RESTRICT = 0x2000 };

typedef struct {
    const loom_vectors *v;
    const loom_index *ix;
    size_t k, limit;
    int unknown; /* any query had an unknown word */
} nearest_ctx;

/* Answers queries[0..n) (each a line of words, modified in place). */
static int answer(nearest_ctx *c, char **queries, size_t n)
{
    long *rows = loom_malloc(n * MAX_QUERY_WORDS, sizeof *rows);
    loom_hit *hits = loom_malloc(n * c->k, sizeof *hits);
    char **words = loom_malloc(n * MAX_QUERY_WORDS, sizeof *words);
    size_t *nwords = loom_calloc(n, sizeof *nwords);
    int rc = rows && hits && words && nwords ? 0 : LOOM_ENOMEM;
    size_t m = 0, width = 1;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char **w = words + i * MAX_QUERY_WORDS;
        long *r = rows + m * MAX_QUERY_WORDS;
        size_t nw = veccli_split(queries[i], w, MAX_QUERY_WORDS);
        if (nw == 0)
            continue;
        if (nw > MAX_QUERY_WORDS) {
            fprintf(stderr, "loom nearest: a query has %zu words, more than %d\n", nw,
                    MAX_QUERY_WORDS);
            c->unknown = 1;
            continue;
        }
        if (veccli_lookup("nearest", c->v, w, nw, r) > 0) {
            c->unknown = 1;
            continue;
        }
        for (size_t j = nw; j < MAX_QUERY_WORDS; j++)
            r[j] = -1;
        nwords[i] = nw;
        width = nw > width ? nw : width;
        m++;
    }
    /* Narrow the padded rows to the widest query. */
    for (size_t i = 0; rc == 0 && i < m; i++)
        memmove(rows + i * width, rows + i * MAX_QUERY_WORDS, width * sizeof *rows);
    if (rc == 0 && m > 0)
        rc = loom_index_nearest_many(c->ix, m, rows, width, c->k, c->limit, hits);
    for (size_t i = 0, a = 0; i < n && rc == 0; i++) {
        if (!nwords[i])
            continue;
        fputs("query:", stdout);
        for (size_t j = 0; j < nwords[i]; j++)
            printf(" %s", words[i * MAX_QUERY_WORDS + j]);
        putchar('\n');
        veccli_print_hits(stdout, c->v, hits + a * c->k, c->k);
        a++;
    }
    free(rows);
    free(hits);
    free(words);
    free(nwords);
    return rc;
}

static int answer_batch(void *ctx, char **lines, size_t n)
{
    return answer(ctx, lines, n);
}

static int answer_stdin(nearest_ctx *c)
{
    return veccli_answer_stdin("word(s)> ", BATCH, answer_batch, c);
}

static int run_nearest(int argc, char **argv)
{
    static const struct option longopts[] = {{"top", required_argument, 0, 'k'},
                                             {"restrict", required_argument, 0, OPT_RESTRICT},
                                             VECCLI_LONGOPTS,
                                             {0, 0, 0, 0}};
    long long k = 10, limit = 0, threads = cli_default_threads();
    int c, st;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "k:hq", longopts, NULL)) != -1) {
        switch (c) {
        case 'k':
            if (cli_int("nearest", "top", optarg, 1, 100000, &k) < 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_RESTRICT:
            if (cli_int("nearest", "restrict", optarg, 0, 1LL << 40, &limit) < 0)
                return CLI_EXIT_USAGE;
            break;
        default:
            if ((st = veccli_option("nearest", c, &threads, argc, argv)) != CLI_IO_NEXT)
                return st;
        }
    }
    if (optind >= argc)
        return cli_usage("nearest", "expects a vector file");
    loom_vectors *v;
    loom_index *ix;
    if (veccli_open(argv[optind], (int)threads, &v, &ix))
        return CLI_EXIT_ERROR;
    nearest_ctx ctx = {.v = v, .ix = ix, .k = (size_t)k, .limit = (size_t)limit};
    static char outbuf[1 << 16];
    setvbuf(stdout, outbuf, isatty(STDOUT_FILENO) ? _IOLBF : _IOFBF, sizeof outbuf);
    int rc = optind + 1 < argc ? answer(&ctx, argv + optind + 1, (size_t)(argc - optind - 1))
                               : answer_stdin(&ctx);
    fflush(stdout);
    loom_index_free(ix);
    loom_vectors_free(v);
    if (rc < 0)
        return cli_fail();
    return ctx.unknown ? CLI_EXIT_ERROR : CLI_EXIT_OK;
}

const cli_command cmd_nearest = {"nearest", run_nearest, "nearest words by cosine similarity",
                                 help};
