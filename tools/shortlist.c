/* loom shortlist: writes a vocabulary shortlist table for a sequence model
 * from training pairs (the library's loom_shortlist_build); parses, calls,
 * prints. */
#include "config.h"
#include "cli.h"
#include "base/error.h"
#include "base/writer.h"
#include "seq/model_file.h"
#include "seq/shortlist.h"

#include <stdio.h>
#include <string.h>

static const char help[] =
    "usage: loom shortlist PAIRS --model MODEL -o FILE [--best M]\n"
    "\n"
    "Writes a lexical table for 'loom translate --shortlist' (a vocabulary\n"
    "shortlist, as Marian's lexical shortlists and CTranslate2's vocabulary\n"
    "maps): for each source word of MODEL seen in PAIRS ('source<TAB>target'\n"
    "lines, plain or .gz, read with MODEL's tokenizers or subword models), the\n"
    "M target words of highest Dice coefficient 2 c(s,t) / (c(s) + c(t)), c\n"
    "counting the pairs a word (or both) occurs in; no aligner needed. FILE\n"
    "holds one line per source word, 'source<TAB>target target ...', best\n"
    "first, as CTranslate2's vmap files do (.gz compresses); a line with an\n"
    "empty source lists targets that are always candidates. Use the pairs\n"
    "the model was trained on.\n"
    "\n"
    "options:\n"
    "  -m, --model MODEL      the sequence model whose vocabularies the table uses\n"
    "                         (required)\n"
    "  -o, --output FILE      the table (required)\n"
    "      --best M           targets per source word (default 50)\n"
    "  -q, --quiet            no report line\n"
    "  -h, --help             this help\n"
    "\n"
    "examples:\n"
    "  loom shortlist tests/fixtures/seq/reverse-train.tsv --model "
    "tests/fixtures/seq/reverse.loom -o reverse.shortlist --best 3\n";

enum { OPT_BEST = 0x3000 };

static int run_shortlist(int argc, char **argv)
{
    static const struct option longopts[] = {CLI_MODEL_LONGOPT,
                                             CLI_OUTPUT_LONGOPT,
                                             {"best", required_argument, 0, OPT_BEST},
                                             CLI_COMMON_LONGOPTS,
                                             {0, 0, 0, 0}};
    const char *cmd = "shortlist";
    cli_io io = {0};
    long long best = 50;
    int c, rc;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "m:o:hq", longopts, NULL)) != -1) {
        if (c == OPT_BEST) {
            if (cli_int(cmd, "best", optarg, 1, 1000000, &best) < 0)
                return CLI_EXIT_USAGE;
        } else if ((rc = cli_io_option(cmd, c, &io, argc, argv)) != CLI_IO_NEXT)
            return rc;
    }
    const char *out = io.output;
    char *model = io.model;
    if (optind >= argc)
        return cli_usage(cmd, "expects a PAIRS file");
    if (argc - optind > 1)
        return cli_usage(cmd, "unexpected argument '%s'", argv[optind + 1]);
    if (!model)
        return cli_usage(cmd, "needs --model MODEL");
    if (!out)
        return cli_usage(cmd, "needs -o FILE");
    char *inputs[] = {argv[optind], model};
    if (cli_inputs(inputs, 2))
        return CLI_EXIT_ERROR;
    if (loom_check_writable(out) < 0)
        return cli_fail();
    loom_seq_bundle b = {0};
    size_t nsources = 0;
    rc = loom_seq_file_load(&b, model, NULL);
    if (!rc)
        rc = loom_shortlist_build(argv[optind], &b, (int)best, out, &nsources);
    loom_seq_bundle_free(&b);
    if (rc < 0)
        return cli_fail();
    if (!io.quiet)
        fprintf(stderr,
                "loom shortlist: %zu source words, up to %lld targets each, written to %s\n",
                nsources, best, out);
    return CLI_EXIT_OK;
}

const cli_command cmd_shortlist = {"shortlist", run_shortlist,
                                   "a vocabulary shortlist table for translate --shortlist", help};
