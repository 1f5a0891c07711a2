/* loom eval: analogy accuracy and word-pair similarity of a vector file,
 * the numbers gensim's evaluate_word_analogies / evaluate_word_pairs give.
 * This file parses options and prints (text or JSON); src/embed/eval.c
 * evaluates. */
#include "config.h"
#include "cli.h"
#include "veccli.h"
#include "base/error.h"
#include "embed/eval.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: loom eval VECTORS [--analogies FILE] [--similarity FILE...] [OPTIONS]\n"
    "\n"
    "Evaluates word vectors, with the numbers of gensim's evaluate_word_analogies\n"
    "and evaluate_word_pairs on the same file and restriction:\n"
    "\n"
    "  --analogies FILE     questions in word2vec's questions-words.txt format\n"
    "                       (': section' lines, then 'A B C D' lines: A is to B as\n"
    "                       C is to D). Each question is answered by 3CosAdd among\n"
    "                       the first N words of VECTORS, A, B and C excluded; a\n"
    "                       question counts as seen when its four words are among\n"
    "                       those N. Prints the accuracy per section, semantic\n"
    "                       (sections not named gram*), syntactic and total, as\n"
    "                       correct/seen and questions seen of all.\n"
    "  --similarity FILE    word pairs with a human score, 'w1<TAB>w2<TAB>score' or\n"
    "                       'w1 w2 score', '#' comments: Spearman's rho (ties by\n"
    "                       average rank) and Pearson's r between the scores and\n"
    "                       the cosines, and the pairs found. May be repeated.\n"
    "\n"
    "Words match case-insensitively (as gensim's default): each uppercased form\n"
    "stands for the first, most frequent, word that has it.\n"
    "\n"
    "options:\n"
    "      --restrict N       only the first N words of VECTORS are known\n"
    "                         (default 30000, as word2vec's compute-accuracy; 0: all)\n"
    "  -m, --method add|mul   3CosAdd (default; gensim's evaluation knows only this)\n"
    "                         or 3CosMul (answers as gensim's most_similar_cosmul)\n"
    "      --case-sensitive   match words exactly\n"
    "      --json             print one JSON object instead of the table\n" VECCLI_HELP "\n"
    "examples:\n"
    "  loom eval tests/fixtures/vectors/sotu.bin --analogies "
    "tests/fixtures/vectors/questions-words-sample.txt\n"
    "  loom eval tests/fixtures/vectors/sotu.bin --similarity "
    "tests/fixtures/vectors/wordsim353.tsv --json\n";

enum { OPT_ANALOGIES = 0x2000, OPT_SIMILARITY, OPT_RESTRICT, OPT_JSON, OPT_CASE };

static json_t *section_json(const loom_analogy_section *s)
{
    json_t *o =
        json_pack("{s:s, s:I, s:I, s:I}", "name", s->name, "correct", (json_int_t)s->correct,
                  "seen", (json_int_t)s->seen, "total", (json_int_t)s->total);
    json_object_set_new(o, "accuracy",
                        s->seen ? json_real((double)s->correct / (double)s->seen) : json_null());
    return o;
}

static json_t *number_or_null(double x)
{
    return isnan(x) ? json_null() : json_real(x);
}

static void print_section(const loom_analogy_section *s)
{
    char acc[32] = "-";
    if (s->seen)
        snprintf(acc, sizeof acc, "%.2f%%", 100.0 * (double)s->correct / (double)s->seen);
    printf("  %-28s %8s  %6zu/%-6zu seen %zu of %zu\n", s->name, acc, s->correct, s->seen, s->seen,
           s->total);
}

static void print_analogies(const char *path, const loom_analogy_eval *e, size_t restrict_vocab,
                            int method)
{
    printf("analogies: %s (%s, ", path, method == LOOM_ANALOGY_MUL ? "3CosMul" : "3CosAdd");
    if (restrict_vocab)
        printf("first %zu words)\n", restrict_vocab);
    else
        printf("all words)\n");
    for (size_t i = 0; i < e->nsections; i++)
        print_section(&e->sections[i]);
    print_section(&e->semantic);
    print_section(&e->syntactic);
    print_section(&e->total);
    if (e->skipped_lines)
        printf("  (%zu malformed lines skipped)\n", e->skipped_lines);
}

static void print_similarity(const char *path, const loom_similarity_eval *s)
{
    printf("similarity: %s\n", path);
    printf("  spearman %.4f  pearson %.4f  pairs found %zu of %zu\n", s->spearman, s->pearson,
           s->found, s->pairs);
    if (s->skipped_lines)
        printf("  (%zu malformed lines skipped)\n", s->skipped_lines);
}

static int run_eval(int argc, char **argv)
{
    static const struct option longopts[] = {{"analogies", required_argument, 0, OPT_ANALOGIES},
                                             {"similarity", required_argument, 0, OPT_SIMILARITY},
                                             {"restrict", required_argument, 0, OPT_RESTRICT},
                                             {"method", required_argument, 0, 'm'},
                                             {"json", no_argument, 0, OPT_JSON},
                                             {"case-sensitive", no_argument, 0, OPT_CASE},
                                             VECCLI_LONGOPTS,
                                             {0, 0, 0, 0}};
    static const char *const methods[] = {"add", "mul", NULL};
    const char *analogies = NULL;
    const char **similarity = calloc((size_t)argc, sizeof *similarity);
    size_t nsim = 0;
    long long restrict_vocab = 30000, threads = cli_default_threads();
    int json = 0, c, k, rc = CLI_EXIT_OK;
    loom_eval_opts opts = {0};
    if (!similarity)
        return cli_failf("out of memory");
    opterr = 0;
    while ((c = getopt_long(argc, argv, "m:hq", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_ANALOGIES:
            analogies = optarg;
            break;
        case OPT_SIMILARITY:
            similarity[nsim++] = optarg;
            break;
        case OPT_RESTRICT:
            if (cli_int("eval", "restrict", optarg, 0, 1LL << 40, &restrict_vocab) < 0)
                rc = CLI_EXIT_USAGE;
            break;
        case 'm':
            if ((opts.method = cli_choice("eval", "method", optarg, methods)) < 0)
                rc = CLI_EXIT_USAGE;
            break;
        case OPT_JSON:
            json = 1;
            break;
        case OPT_CASE:
            opts.case_sensitive = 1;
            break;
        default:
            if ((k = veccli_option("eval", c, &threads, argc, argv)) != CLI_IO_NEXT) {
                free(similarity);
                return k;
            }
        }
        if (rc != CLI_EXIT_OK)
            break;
    }
    if (rc == CLI_EXIT_OK && optind + 1 != argc)
        rc =
            cli_usage("eval", optind >= argc ? "expects a vector file" : "expects one vector file");
    if (rc == CLI_EXIT_OK && !analogies && nsim == 0)
        rc = cli_usage("eval",
                       "nothing to evaluate: give --analogies FILE and/or --similarity FILE");
    loom_vectors *v = NULL;
    loom_index *ix = NULL;
    if (rc == CLI_EXIT_OK && veccli_open(argv[optind], (int)threads, &v, &ix))
        rc = CLI_EXIT_ERROR;
    if (rc != CLI_EXIT_OK) {
        free(similarity);
        return rc;
    }
    opts.restrict_vocab = (size_t)restrict_vocab;
    json_t *root = json_pack(
        "{s:s, s:I, s:I, s:I}", "vectors", argv[optind], "words", (json_int_t)loom_vectors_count(v),
        "dim", (json_int_t)loom_vectors_dim(v), "restrict", (json_int_t)restrict_vocab);
    if (analogies) {
        loom_analogy_eval *e;
        if (loom_eval_analogies(&e, ix, analogies, &opts) < 0) {
            rc = cli_fail();
        } else if (json) {
            json_t *secs = json_array();
            for (size_t i = 0; i < e->nsections; i++)
                json_array_append_new(secs, section_json(&e->sections[i]));
            json_object_set_new(
                root, "analogies",
                json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:I}", "file", analogies, "method",
                          opts.method == LOOM_ANALOGY_MUL ? "3CosMul" : "3CosAdd", "sections", secs,
                          "semantic", section_json(&e->semantic), "syntactic",
                          section_json(&e->syntactic), "total", section_json(&e->total),
                          "skipped_lines", (json_int_t)e->skipped_lines));
        } else {
            print_analogies(analogies, e, opts.restrict_vocab, opts.method);
        }
        loom_analogy_eval_free(e);
    }
    json_t *sims = json_array();
    for (size_t i = 0; i < nsim && rc == CLI_EXIT_OK; i++) {
        loom_similarity_eval s;
        if (loom_eval_similarity(&s, ix, similarity[i], &opts) < 0) {
            rc = cli_fail();
        } else if (json) {
            json_array_append_new(
                sims, json_pack("{s:s, s:o, s:o, s:I, s:I, s:I}", "file", similarity[i], "spearman",
                                number_or_null(s.spearman), "pearson", number_or_null(s.pearson),
                                "found", (json_int_t)s.found, "pairs", (json_int_t)s.pairs,
                                "skipped_lines", (json_int_t)s.skipped_lines));
        } else {
            print_similarity(similarity[i], &s);
        }
    }
    if (nsim)
        json_object_set(root, "similarity", sims);
    json_decref(sims);
    if (json && rc == CLI_EXIT_OK) {
        char *text =
            json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
        if (text)
            puts(text);
        free(text);
    }
    json_decref(root);
    loom_index_free(ix);
    loom_vectors_free(v);
    free(similarity);
    return rc;
}

const cli_command cmd_eval = {"eval", run_eval, "analogy accuracy and word-pair similarity", help};
