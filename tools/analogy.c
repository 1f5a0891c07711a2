/* loom analogy: "A is to B as C is to ?" by 3CosAdd or 3CosMul. Questions
 * come from the command line or stdin (batched, one GEMM per batch); this
 * file reads and prints, src/embed/query.c searches. */
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
    "usage: loom analogy VECTORS [A B C] [OPTIONS]\n"
    "\n"
    "Answers 'A is to B as C is to ?': the K words x that best fit, with A, B\n"
    "and C themselves left out, as word<TAB>score lines under an 'A : B :: C : ?'\n"
    "header. Without A B C, reads one question 'A B C' per line from stdin\n"
    "(with a prompt when stdin is a terminal). Unknown words and malformed lines\n"
    "are reported on stderr, the other questions are still answered, and the\n"
    "exit status is then 1.\n"
    "\n"
    "Methods (Levy and Goldberg 2014), on unit vectors:\n"
    "  add   3CosAdd: cos(x, B - A + C), the score printed (gensim's most_similar)\n"
    "  mul   3CosMul: cos'(x,B) cos'(x,C) / (cos'(x,A) + 1e-6) with\n"
    "        cos' = (1 + cos) / 2 (gensim's most_similar_cosmul)\n"
    "\n"
    "options:\n"
    "  -k, --top N            answers per question (default 10)\n"
    "  -m, --method add|mul   3CosAdd (default) or 3CosMul\n"
    "      --restrict N       only the first N words are candidates (default 0: all)\n" VECCLI_HELP
    "\n"
    "examples:\n"
    "  loom analogy tests/fixtures/vectors/sotu.bin man woman he -k 3\n"
    "  echo 'France Paris Germany' | loom analogy tests/fixtures/vectors/sotu.bin --method mul\n";

enum { BATCH = 1024, OPT_RESTRICT = 0x2000 };

typedef struct {
    const loom_vectors *v;
    const loom_index *ix;
    size_t k, limit;
    int method;
    int failed;
    long long line; /* stdin line number of the batch's first line */
} analogy_ctx;

static int answer(analogy_ctx *c, char **lines, size_t n)
{
    long *abc = loom_malloc(3 * n, sizeof *abc);
    char **words = loom_malloc(3 * n, sizeof *words);
    loom_hit *hits = loom_malloc(n * c->k, sizeof *hits);
    int *ok = loom_calloc(n, sizeof *ok);
    int rc = abc && words && hits && ok ? 0 : LOOM_ENOMEM;
    size_t m = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char **w = words + 3 * i;
        size_t nw = veccli_split(lines[i], w, 3);
        if (nw == 0)
            continue;
        if (nw != 3) {
            fprintf(stderr, "loom analogy: line %lld: expected 3 words (A B C), got %zu\n",
                    c->line + (long long)i, nw);
            c->failed = 1;
            continue;
        }
        if (veccli_lookup("analogy", c->v, w, 3, abc + 3 * m) > 0) {
            c->failed = 1;
            continue;
        }
        ok[i] = 1;
        m++;
    }
    if (rc == 0 && m > 0)
        rc = loom_index_analogy(c->ix, m, abc, c->method, c->k, c->limit, hits);
    for (size_t i = 0, a = 0; i < n && rc == 0; i++) {
        if (!ok[i])
            continue;
        char **w = words + 3 * i;
        printf("%s : %s :: %s : ?\n", w[0], w[1], w[2]);
        veccli_print_hits(stdout, c->v, hits + a * c->k, c->k);
        a++;
    }
    free(abc);
    free(words);
    free(hits);
    free(ok);
    return rc;
}

/* One batch of stdin lines; c->line numbers them for error messages. */
static int answer_batch(void *ctx, char **lines, size_t n)
{
    analogy_ctx *c = ctx;
    int rc = answer(c, lines, n);
    c->line += (long long)n;
    return rc;
}

static int answer_stdin(analogy_ctx *c)
{
    c->line = 1;
    return veccli_answer_stdin("A B C> ", BATCH, answer_batch, c);
}

static int run_analogy(int argc, char **argv)
{
    static const struct option longopts[] = {{"top", required_argument, 0, 'k'},
                                             {"method", required_argument, 0, 'm'},
                                             {"restrict", required_argument, 0, OPT_RESTRICT},
                                             VECCLI_LONGOPTS,
                                             {0, 0, 0, 0}};
    static const char *const methods[] = {"add", "mul", NULL};
    long long k = 10, limit = 0, threads = cli_default_threads();
    int method = LOOM_ANALOGY_ADD, c, st;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "k:m:hq", longopts, NULL)) != -1) {
        switch (c) {
        case 'k':
            if (cli_int("analogy", "top", optarg, 1, 100000, &k) < 0)
                return CLI_EXIT_USAGE;
            break;
        case 'm':
            if ((method = cli_choice("analogy", "method", optarg, methods)) < 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_RESTRICT:
            if (cli_int("analogy", "restrict", optarg, 0, 1LL << 40, &limit) < 0)
                return CLI_EXIT_USAGE;
            break;
        default:
            if ((st = veccli_option("analogy", c, &threads, argc, argv)) != CLI_IO_NEXT)
                return st;
        }
    }
    if (optind >= argc)
        return cli_usage("analogy", "expects a vector file");
    int nwords = argc - optind - 1;
    if (nwords != 0 && nwords != 3)
        return cli_usage("analogy", "expects three words A B C (or none to read stdin), not %d",
                         nwords);
    loom_vectors *v;
    loom_index *ix;
    if (veccli_open(argv[optind], (int)threads, &v, &ix))
        return CLI_EXIT_ERROR;
    analogy_ctx ctx = {.v = v, .ix = ix, .k = (size_t)k, .limit = (size_t)limit, .method = method};
    int rc;
    if (nwords == 3) {
        char line[3 * 1024];
        snprintf(line, sizeof line, "%s %s %s", argv[optind + 1], argv[optind + 2],
                 argv[optind + 3]);
        char *lines[1] = {line};
        rc = answer(&ctx, lines, 1);
    } else {
        rc = answer_stdin(&ctx);
    }
    fflush(stdout);
    loom_index_free(ix);
    loom_vectors_free(v);
    if (rc < 0)
        return cli_fail();
    return ctx.failed ? CLI_EXIT_ERROR : CLI_EXIT_OK;
}

const cli_command cmd_analogy = {"analogy", run_analogy,
                                 "A is to B as C is to ? (3CosAdd, 3CosMul)", help};
