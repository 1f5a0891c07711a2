/* loom convert: rewrites a vector file in another format (binary, text,
 * gzip by name), optionally unit-normalised or cut to the first N words.
 * Reading and writing are src/embed/vectors.c's; this file parses options. */
#include "config.h"
#include "cli.h"
#include "base/error.h"
#include "base/writer.h"
#include "embed/vectors.h"

#include <stdio.h>
#include <string.h>

static const char help[] =
    "usage: loom convert IN OUT [OPTIONS]\n"
    "\n"
    "Reads the vector file IN (word2vec binary or text, fastText .vec, GloVe text\n"
    "without a header; gzip or not, detected from the content) and writes OUT.\n"
    "OUT's format follows its name unless --to says otherwise: .bin binary,\n"
    ".txt or .vec text (the 'N D' header line, then 'word v1 ... vD' lines with\n"
    "the shortest decimals that read back as the same float32), anything else\n"
    "binary; a further .gz compresses. OUT is written atomically.\n"
    "\n"
    "options:\n"
    "      --to bin|text        the output format, whatever OUT's name\n"
    "      --normalize          scale every vector to unit length\n"
    "      --max-words N        keep only the first N words (the most frequent in\n"
    "                           word2vec and fastText files); the rest of IN is not read\n"
    "      --drop-duplicates    keep the first of repeated words instead of refusing\n"
    "                           the file (gensim's behaviour)\n"
    "  -q, --quiet              no progress\n"
    "      --progress           show progress even when stderr is not a terminal\n"
    "  -h, --help               this help\n"
    "\n"
    "examples:\n"
    "  loom convert tests/fixtures/vectors/sotu.bin /tmp/sotu.vec.gz\n"
    "  loom convert tests/fixtures/vectors/sotu.bin /tmp/sotu-top100.txt --max-words 100 "
    "--normalize\n";

enum { OPT_TO = 0x2000, OPT_NORMALIZE, OPT_MAX_WORDS, OPT_DEDUPE };

static int run_convert(int argc, char **argv)
{
    static const struct option longopts[] = {{"to", required_argument, 0, OPT_TO},
                                             {"normalize", no_argument, 0, OPT_NORMALIZE},
                                             {"max-words", required_argument, 0, OPT_MAX_WORDS},
                                             {"drop-duplicates", no_argument, 0, OPT_DEDUPE},
                                             CLI_COMMON_LONGOPTS,
                                             {0, 0, 0, 0}};
    static const char *const formats[] = {"bin", "text", NULL};
    int format = LOOM_VEC_AUTO, normalize = 0, flags = 0, c;
    long long max_words = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "hq", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_TO: {
            int f = cli_choice("convert", "to", optarg, formats);
            if (f < 0)
                return CLI_EXIT_USAGE;
            format = f == 0 ? LOOM_VEC_BIN : LOOM_VEC_TEXT;
            break;
        }
        case OPT_NORMALIZE:
            normalize = 1;
            break;
        case OPT_MAX_WORDS:
            if (cli_int("convert", "max-words", optarg, 1, 1LL << 40, &max_words) < 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_DEDUPE:
            flags |= LOOM_VEC_KEEP_FIRST;
            break;
        case CLI_OPT_HELP:
            return cli_help("convert");
        case CLI_OPT_QUIET:
        case CLI_OPT_PROGRESS:
            break;
        default:
            return cli_bad_option("convert", argc, argv);
        }
    }
    if (argc - optind != 2)
        return cli_usage("convert", "expects IN and OUT, not %d file names", argc - optind);
    const char *in = argv[optind], *out = argv[optind + 1];
    if (cli_inputs(argv + optind, 1))
        return CLI_EXIT_ERROR;
    if (loom_check_writable(out) < 0)
        return cli_fail();
    loom_vectors *v;
    if (loom_vectors_load_opts(&v, in, flags, (size_t)max_words) < 0)
        return cli_fail();
    if (loom_vectors_dropped(v))
        fprintf(stderr, "loom convert: %s: dropped %zu repeated words (kept the first of each)\n",
                in, loom_vectors_dropped(v));
    if (normalize)
        loom_vectors_normalize(v);
    int rc = loom_vectors_save(v, out, format);
    loom_vectors_free(v);
    return rc < 0 ? cli_fail() : CLI_EXIT_OK;
}

const cli_command cmd_convert = {"convert", run_convert, "convert between vector file formats",
                                 help};
