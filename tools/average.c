/* loom average: checkpoint averaging of sequence models (the library's
 * loom_seq_average); parses, calls, prints. */
#include "config.h"
#include "cli.h"
#include "base/error.h"
#include "seq/decode.h"
#include "seq/model_file.h"

#include <stdio.h>

static const char help[] =
    "usage: loom average MODEL1 MODEL2 [MODEL...] -o MODEL\n"
    "\n"
    "Checkpoint averaging: writes one sequence model whose every weight is the\n"
    "mean of the given models' (summed in double, so averaging copies of one\n"
    "model gives that model bit for bit). The models must come from one run,\n"
    "differing only in their weights: the same shape, vocabularies, tokenizers\n"
    "and subword models (an error names the file that differs). Average the\n"
    "last few validations' models of a run (seq2seq --keep-last N keeps\n"
    "them as MODEL.N) for a model that decodes like a small ensemble at the\n"
    "cost of one. At most 16 models.\n"
    "\n"
    "options:\n"
    "  -o, --output MODEL     the averaged model (required)\n"
    "  -q, --quiet            no report line\n"
    "  -h, --help             this help\n"
    "\n"
    "examples:\n"
    "  loom average tests/fixtures/seq/reverse.loom tests/fixtures/seq/reverse.loom -o avg.loom\n";

static const struct option longopts[] = {CLI_OUTPUT_LONGOPT, CLI_COMMON_LONGOPTS, {0, 0, 0, 0}};

static int run_average(int argc, char **argv)
{
    const char *cmd = "average";
    cli_io io = {0};
    int c, rc;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:hq", longopts, NULL)) != -1)
        if ((rc = cli_io_option(cmd, c, &io, argc, argv)) != CLI_IO_NEXT)
            return rc;
    const char *out = io.output;
    int n = argc - optind;
    if (!out)
        return cli_usage(cmd, "needs -o MODEL");
    if (n < 1 || n > LOOM_SEQ_MAX_ENSEMBLE)
        return cli_usage(cmd, "takes 1 to %d model files, not %d", LOOM_SEQ_MAX_ENSEMBLE, n);
    if (cli_inputs(argv + optind, n))
        return CLI_EXIT_ERROR;
    if (loom_seq_average((const char *const *)(argv + optind), n, out) < 0)
        return cli_fail();
    if (!io.quiet)
        fprintf(stderr, "loom average: the mean of %d models written to %s\n", n, out);
    return CLI_EXIT_OK;
}

const cli_command cmd_average = {
    "average", run_average, "average the weights of sequence models (checkpoint averaging)", help};
