/* loom bleu: corpus BLEU-4 and chrF of a hypothesis file against a
 * reference file, as sacreBLEU scores them by default. Reading the two
 * files line by line and printing are all it does; the metric lives in
 * src/seq/bleu.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/reader.h"
#include "cli.h"
#include "commands.h"
#include "seq/bleu.h"

static const char help_text[] =
    "usage: loom bleu [OPTIONS] REF HYP\n"
    "\n"
    "Scores the translations in HYP (one sentence per line; '-' reads stdin)\n"
    "against the references in REF (the same number of lines; .gz files are\n"
    "read transparently) and prints corpus BLEU-4 and chrF, both 0..100:\n"
    "\n"
    "  BLEU = 59.15 89.1/68.1/54.8/46.4 (BP = 0.944 ratio = 0.945 hyp_len = 2046 ref_len = 2164)\n"
    "  chrF2 = 75.99\n"
    "\n"
    "The figures are sacreBLEU 2.x's defaults (`sacrebleu REF -i HYP -m bleu\n"
    "chrf`): BLEU uses the 13a tokenisation (mteval-v13a), the exponential\n"
    "brevity penalty exp(1 - ref_len/hyp_len) over the corpus, and sacreBLEU's\n"
    "default \"exp\" smoothing, which changes the score only when some n-gram\n"
    "order has no match at all in the whole corpus (--smooth none gives the\n"
    "unsmoothed BLEU of Papineni et al. and multi-bleu.perl, 0 in that case).\n"
    "chrF uses character 1..6-grams with whitespace removed, beta 2, and\n"
    "precision and recall averaged over the orders present (sacreBLEU's\n"
    "effective-order chrF). Trailing whitespace is ignored. Differences from\n"
    "sacreBLEU: one reference per sentence only; no --lowercase; an empty\n"
    "reference line is scored as an empty sentence (sacreBLEU may refuse it).\n"
    "The figures agree with a transcription of sacreBLEU's algorithm to 0.01\n"
    "(tests/fixtures/bleu). Invalid UTF-8 is an error naming the file and line.\n"
    "\n"
    "Options:\n"
    "  --ref-column N   take the reference from TAB-separated column N of REF\n"
    "                   (1-based; for source<TAB>target files use 2)\n"
    "  --tokenize T     13a (default) or none (split on whitespace only, for\n"
    "                   text that is already tokenised)\n"
    "  --smooth S       exp (default, as sacreBLEU), none or floor (0.1)\n"
    "  -b, --score-only print only the two numbers: BLEU chrF\n"
    "  --max-line BYTES refuse a line longer than this (default 1048576; scoring\n"
    "                   a line costs about 60 times its length in memory)\n"
    "  -q, --quiet      no progress\n"
    "      --progress   progress even when stderr is not a terminal\n"
    "  -h, --help       this text\n"
    "\n"
    "examples (from the repository root):\n"
    "  loom bleu tests/fixtures/bleu/ref.txt tests/fixtures/bleu/hyp.txt\n"
    "  loom bleu -b --ref-column 2 tests/fixtures/bleu/pairs.tsv tests/fixtures/bleu/hyp.txt\n"
    "  loom bleu --max-line 4194304 tests/fixtures/bleu/ref.txt tests/fixtures/bleu/hyp.txt\n";

/* The `column`-th (1-based) TAB-separated field of line, or the whole line
 * when column is 0. Returns 0, or -1 when the line has too few fields. */
static int pick_column(const char *line, size_t len, long long column, const char **out,
                       size_t *out_len)
{
    if (column == 0) {
        *out = line;
        *out_len = len;
        return 0;
    }
    const char *p = line, *end = line + len;
    for (long long c = 1; c < column; c++) {
        const char *tab = memchr(p, '\t', (size_t)(end - p));
        if (!tab)
            return -1;
        p = tab + 1;
    }
    const char *tab = memchr(p, '\t', (size_t)(end - p));
    *out = p;
    *out_len = (size_t)((tab ? tab : end) - p);
    return 0;
}

static int score_files(const char *ref_path, const char *hyp_path, long long column,
                       size_t max_line, const loom_bleu_options *opt, loom_bleu_score *score)
{
    loom_reader *ref = NULL, *hyp = NULL;
    loom_bleu *bleu = NULL;
    char *rbuf = NULL, *hbuf = NULL;
    size_t rcap = 0, hcap = 0, rlen, hlen;
    int rc = loom_reader_open(&ref, ref_path);
    if (!rc)
        rc = loom_reader_open(&hyp, hyp_path);
    if (!rc)
        rc = loom_bleu_new(&bleu, opt);
    while (!rc) {
        int gr = loom_reader_getline(ref, &rbuf, &rcap, &rlen, max_line);
        int gh = gr < 0 ? 0 : loom_reader_getline(hyp, &hbuf, &hcap, &hlen, max_line);
        if (gr < 0 || gh < 0) {
            rc = gr < 0 ? gr : gh;
            if (strstr(loom_error_message(), "line longer than")) {
                char msg[512];
                snprintf(msg, sizeof msg, "%s", loom_error_message());
                rc = loom_error(rc, "%s (--max-line raises the limit)", msg);
            }
            break;
        }
        if (!gr && !gh)
            break;
        if (gr != gh) {
            const loom_reader *longer = gr ? ref : hyp, *shorter = gr ? hyp : ref;
            rc = loom_error(LOOM_EFORMAT, "%s ends after %lld lines but %s has more",
                            loom_reader_path(shorter), loom_reader_line_number(longer) - 1,
                            loom_reader_path(longer));
            break;
        }
        const char *r;
        size_t rl;
        if (pick_column(rbuf, rlen, column, &r, &rl) < 0) {
            rc = loom_error(LOOM_EFORMAT, "%s:%lld: no column %lld (TAB-separated)",
                            loom_reader_path(ref), loom_reader_line_number(ref), column);
            break;
        }
        rc = loom_bleu_add(bleu, hbuf, hlen, r, rl);
        if (rc) {
            /* The message says which side; name the file of that side. */
            int is_hyp = strncmp(loom_error_message(), "hypothesis", 10) == 0;
            const loom_reader *bad = is_hyp ? hyp : ref;
            loom_error_prefix(rc, loom_reader_path(bad), loom_reader_line_number(bad));
        }
    }
    if (!rc)
        loom_bleu_get(bleu, score);
    free(rbuf);
    free(hbuf);
    loom_bleu_free(bleu);
    loom_reader_close(ref);
    loom_reader_close(hyp);
    return rc;
}

static int run_bleu(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"ref-column", required_argument, 0, 'c'},
        {"tokenize", required_argument, 0, 't'},
        {"smooth", required_argument, 0, 's'},
        {"score-only", no_argument, 0, 'b'},
        {"max-line", required_argument, 0, 'm'},
        CLI_COMMON_LONGOPTS,
        {0, 0, 0, 0},
    };
    static const char *const tokenizers[] = {"13a", "none", NULL};
    static const char *const smooths[] = {"exp", "none", "floor", NULL};
    loom_bleu_options opt = {LOOM_BLEU_TOK_13A, LOOM_BLEU_SMOOTH_EXP};
    long long column = 0, max_line = 1 << 20;
    int score_only = 0, c, k;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "bhq", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            if (cli_int("bleu", "ref-column", optarg, 1, 1000000, &column) < 0)
                return CLI_EXIT_USAGE;
            break;
        case 't':
            if ((k = cli_choice("bleu", "tokenize", optarg, tokenizers)) < 0)
                return CLI_EXIT_USAGE;
            opt.tokenize = (loom_bleu_tokenize)k;
            break;
        case 's':
            if ((k = cli_choice("bleu", "smooth", optarg, smooths)) < 0)
                return CLI_EXIT_USAGE;
            opt.smooth = (loom_bleu_smooth)k;
            break;
        case 'b':
            score_only = 1;
            break;
        case 'm':
            if (cli_int("bleu", "max-line", optarg, 16, (long long)1 << 40, &max_line) < 0)
                return CLI_EXIT_USAGE;
            break;
        case CLI_OPT_HELP:
            return cli_help("bleu");
        case CLI_OPT_QUIET:
        case CLI_OPT_PROGRESS:
            break; /* scoring is quick: no progress to show */
        default:
            return cli_bad_option("bleu", argc, argv);
        }
    }
    if (argc - optind != 2)
        return cli_usage("bleu", "expected REF and HYP, got %d file%s", argc - optind,
                         argc - optind == 1 ? "" : "s");
    loom_bleu_score s;
    if (score_files(argv[optind], argv[optind + 1], column, (size_t)max_line, &opt, &s))
        return cli_fail();
    if (score_only) {
        printf("%.2f %.2f\n", s.bleu, s.chrf);
    } else {
        double ratio = s.ref_len ? (double)s.sys_len / (double)s.ref_len : 0.0;
        printf("BLEU = %.2f %.1f/%.1f/%.1f/%.1f (BP = %.3f ratio = %.3f hyp_len = %lld "
               "ref_len = %lld)\n",
               s.bleu, s.precision[0], s.precision[1], s.precision[2], s.precision[3], s.bp, ratio,
               s.sys_len, s.ref_len);
        printf("chrF2 = %.2f\n", s.chrf);
    }
    return fflush(stdout) == 0 ? CLI_EXIT_OK : cli_failf("bleu: cannot write the scores");
}

const cli_command cmd_bleu = {"bleu", run_bleu, "corpus BLEU-4 and chrF of translations",
                              help_text};
