/* loom subword: trains SentencePiece models and segments text with them
 * (train, encode, decode). The work is in src/text/subword.h; this file
 * parses options, opens inputs and outputs, and reports. */
#include "config.h"
#include "cli.h"
#include "base/error.h"
#include "base/progress.h"
#include "base/reader.h"
#include "base/writer.h"
#include "text/subword.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* clang-format off */
static const char help[] =
    "usage: loom subword train CORPUS... -o SPM.model [--vocab-size N] [--type unigram|bpe]\n"
    "                          [--character-coverage X] [--byte-fallback]\n"
    "       loom subword encode SPM.model [FILE...] [--ids] [-o FILE]\n"
    "       loom subword decode SPM.model [FILE...] [--ids] [-o FILE]\n"
    "\n"
    "Subword units with Google's SentencePiece: any word, however rare, is\n"
    "written with pieces of a fixed vocabulary, and decoding gives back the\n"
    "text, cased and with its spaces. Model files are SentencePiece's own:\n"
    "a model trained here works in Python's sentencepiece, Marian and OpenNMT,\n"
    "and theirs work here.\n"
    "\n"
    "train  learns a model from the lines of each CORPUS ('-' is stdin, .gz is\n"
    "       read transparently) and writes SPM.model and, beside it, the\n"
    "       vocabulary SPM.vocab (\"piece<TAB>score\" per id, ids from 0).\n"
    "encode segments each line of FILE (or stdin) into pieces separated by\n"
    "       spaces; a word start is marked with \xe2\x96\x81 (U+2581). --ids prints ids.\n"
    "decode joins pieces (or ids with --ids), a line per line, back into text.\n"
    "\n"
    "SentencePiece beside loom's tokenizer (loom tokenize):\n"
    "  - SentencePiece reads raw text: it normalises with NFKC (plus the rules\n"
    "    of its nmt_nfkc table: control characters removed, runs of white space\n"
    "    made one space, leading and trailing space dropped) and keeps case.\n"
    "    So encode | decode gives back each line byte for byte unless that\n"
    "    normalisation changed it. loom tokenize also applies NFKC but folds\n"
    "    case (unless --keep-case) and splits off punctuation, and its\n"
    "    output cannot be turned back into the original text.\n"
    "  - A character that training did not keep (--character-coverage) is\n"
    "    <unk> (id 0), which decodes as \xe2\x81\x87 (U+2047); with --byte-fallback it\n"
    "    is spelt with byte pieces <0x00>..<0xFF> instead and decodes exactly.\n"
    "  - Use loom's tokenizer for word vectors and word-level models (words\n"
    "    are units of meaning, a rare word is <unk>); use subwords for\n"
    "    translation and for text with many rare words, names or numbers,\n"
    "    and when output must be ordinary text.\n"
    "\n"
    "options (train):\n"
    "  -o, --output FILE             the model (required); FILE.vocab, or FILE with\n"
    "                                .model replaced by .vocab, holds the vocabulary\n"
    "      --vocab-size N            pieces in the model, <unk> <s> </s> included (8000)\n"
    "      --type unigram|bpe        unigram language model or byte-pair encoding (unigram)\n"
    "      --character-coverage X    share of the corpus's characters that get a piece\n"
    "                                (0.9995; 1.0 for small alphabets, 0.9995 for\n"
    "                                Chinese or Japanese)\n"
    "      --byte-fallback           spell unknown characters with byte pieces\n"
    "      --max-sentences N         train on a sample of N lines (0: all; default 0)\n"
    "      --max-sentence-bytes N    leave out longer lines (4192, as spm_train)\n"
    "  -t, --threads N               training threads (number of cores)\n"
    "  -v, --verbose                 show SentencePiece's own training log\n"
    "options (encode, decode):\n"
    "      --ids                     ids instead of pieces\n"
    "  -o, --output FILE             write to FILE (default stdout; .gz compresses)\n"
    "options (all):\n"
    "  -q, --quiet                   no progress or summary\n"
    "      --progress                show progress even when stderr is not a terminal\n"
    "  -h, --help                    this help\n"
    "\n"
    "examples:\n"
    "  loom subword train tests/fixtures/subword/tatoeba.txt -o sp.model --vocab-size 800\n"
    "  echo \"Don't panic: it's only 42 euros.\" | loom subword encode sp.model\n"
    "  echo \"Qu'en penses-tu ?\" | loom subword encode sp.model --ids | loom subword decode sp.model --ids\n"
    "  loom subword train tests/fixtures/subword/tatoeba.txt -o bpe.model --vocab-size 600 --type bpe --byte-fallback -q\n"
    "  echo 'Zoë ♥ 東京' | loom subword encode bpe.model\n";
/* clang-format on */

#define CMD "subword"

enum {
    OPT_VOCAB_SIZE = 0x2000,
    OPT_TYPE,
    OPT_COVERAGE,
    OPT_BYTE_FALLBACK,
    OPT_MAX_SENTENCES,
    OPT_MAX_SENTENCE_BYTES,
    OPT_IDS
};

static const struct option longopts[] = {
    {"output", required_argument, 0, 'o'},
    {"vocab-size", required_argument, 0, OPT_VOCAB_SIZE},
    {"type", required_argument, 0, OPT_TYPE},
    {"character-coverage", required_argument, 0, OPT_COVERAGE},
    {"byte-fallback", no_argument, 0, OPT_BYTE_FALLBACK},
    {"max-sentences", required_argument, 0, OPT_MAX_SENTENCES},
    {"max-sentence-bytes", required_argument, 0, OPT_MAX_SENTENCE_BYTES},
    {"threads", required_argument, 0, 't'},
    {"verbose", no_argument, 0, 'v'},
    {"ids", no_argument, 0, OPT_IDS},
    CLI_COMMON_LONGOPTS,
    {0, 0, 0, 0}};

typedef struct {
    loom_subword_opts train;
    cli_io io; /* -o, --quiet, --progress */
    int ids;
    int seen_train_option; /* a training option was given */
    int seen_ids;
} subword_args;

/* Parses the options of all three actions; each action then refuses the
 * ones that are not its own. Returns -1 to go on, or an exit status. */
static int parse(int argc, char **argv, subword_args *a)
{
    static const char *const types[] = {"unigram", "bpe", NULL};
    long long v;
    double x;
    int c, k;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:t:vhq", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_VOCAB_SIZE:
            if (cli_int(CMD, "vocab-size", optarg, 4, 10000000, &v) < 0)
                return CLI_EXIT_USAGE;
            a->train.vocab_size = (int)v;
            a->seen_train_option = 1;
            break;
        case OPT_TYPE:
            if ((k = cli_choice(CMD, "type", optarg, types)) < 0)
                return CLI_EXIT_USAGE;
            a->train.type = k == 1 ? LOOM_SUBWORD_BPE : LOOM_SUBWORD_UNIGRAM;
            a->seen_train_option = 1;
            break;
        case OPT_COVERAGE:
            if (cli_double(CMD, "character-coverage", optarg, 0.5, 1.0, &x) < 0)
                return CLI_EXIT_USAGE;
            a->train.character_coverage = x;
            a->seen_train_option = 1;
            break;
        case OPT_BYTE_FALLBACK:
            a->train.byte_fallback = 1;
            a->seen_train_option = 1;
            break;
        case OPT_MAX_SENTENCES:
            if (cli_int(CMD, "max-sentences", optarg, 0, 1000000000000LL, &v) < 0)
                return CLI_EXIT_USAGE;
            a->train.max_sentences = v;
            a->seen_train_option = 1;
            break;
        case OPT_MAX_SENTENCE_BYTES:
            if (cli_int(CMD, "max-sentence-bytes", optarg, 16, 1 << 24, &v) < 0)
                return CLI_EXIT_USAGE;
            a->train.max_sentence_bytes = (int)v;
            a->seen_train_option = 1;
            break;
        case 't':
            if (cli_int(CMD, "threads", optarg, 1, 1024, &v) < 0)
                return CLI_EXIT_USAGE;
            a->train.threads = (int)v;
            a->seen_train_option = 1;
            break;
        case 'v':
            a->train.verbose = 1;
            a->seen_train_option = 1;
            break;
        case OPT_IDS:
            a->ids = 1;
            a->seen_ids = 1;
            break;
        default:
            if ((k = cli_io_option(CMD, c, &a->io, argc, argv)) != CLI_IO_NEXT)
                return k;
        }
    }
    return -1;
}

/* SPM.model -> SPM.vocab, as spm_train names them; other names get
 * ".vocab" appended. */
static char *vocab_path(const char *model)
{
    size_t n = strlen(model);
    if (loom_has_suffix(model, ".model"))
        n -= strlen(".model");
    char *p = malloc(n + sizeof ".vocab");
    if (p) {
        memcpy(p, model, n);
        memcpy(p + n, ".vocab", sizeof ".vocab");
    }
    return p;
}

static int run_train(int nfiles, char **files, subword_args *a)
{
    if (a->seen_ids)
        return cli_usage(CMD, "train: --ids is an option of encode and decode");
    if (nfiles == 0)
        return cli_usage(CMD, "train: expects at least one CORPUS file");
    if (!a->io.output)
        return cli_usage(CMD, "train: needs -o SPM.model");
    if (strcmp(a->io.output, "-") == 0)
        return cli_usage(CMD, "train: -o must name a file (the .vocab goes beside it)");
    char *vocab = vocab_path(a->io.output);
    if (!vocab)
        return cli_failf("out of memory");
    /* Missing inputs and unwritable outputs are found before training. */
    int rc = loom_check_writable(a->io.output);
    if (rc == 0)
        rc = loom_check_writable(vocab);
    for (int i = 0; i < nfiles && rc == 0; i++) {
        struct stat st;
        if (strcmp(files[i], "-") != 0 && stat(files[i], &st) != 0)
            rc = loom_error(LOOM_ENOTFOUND, "%s: no such corpus file", files[i]);
    }
    if (rc < 0) {
        free(vocab);
        return cli_fail();
    }
    int show = cli_progress_enabled(a->io.progress);
    loom_progress *p = loom_progress_new("subword train", 0, "MB", show);
    double t0 = loom_now();
    loom_subword *sw = NULL;
    rc = loom_subword_train(&sw, (const char *const *)files, nfiles, &a->train, p);
    loom_progress_finish(p, rc == 0 ? "trained" : NULL);
    loom_progress_free(p);
    if (rc == 0)
        rc = loom_subword_save(sw, a->io.output);
    if (rc == 0)
        rc = loom_subword_save_vocab(sw, vocab);
    if (rc == 0 && a->io.progress != CLI_PROGRESS_OFF)
        fprintf(stderr, "subword: %d-piece %s model in %.1f s -> %s, %s\n", loom_subword_size(sw),
                a->train.type == LOOM_SUBWORD_BPE ? "bpe" : "unigram", loom_now() - t0,
                a->io.output, vocab);
    loom_subword_free(sw);
    free(vocab);
    return rc < 0 ? cli_fail() : CLI_EXIT_OK;
}

static int run_codec(int encode, int nfiles, char **files, subword_args *a)
{
    if (a->seen_train_option)
        return cli_usage(CMD, "%s: training options (--vocab-size, --type, ...) belong to train",
                         encode ? "encode" : "decode");
    if (nfiles == 0)
        return cli_usage(CMD, "%s: expects the model SPM.model", encode ? "encode" : "decode");
    loom_subword *sw;
    if (loom_subword_load(&sw, files[0]) < 0)
        return cli_fail();
    static char *stdin_only[] = {"-", NULL};
    char **inputs = nfiles > 1 ? files + 1 : stdin_only;
    int ninputs = nfiles > 1 ? nfiles - 1 : 1;
    double total = 0;
    struct stat st;
    for (int i = 0; i < ninputs; i++)
        if (strcmp(inputs[i], "-") != 0 && stat(inputs[i], &st) == 0)
            total += (double)st.st_size / 1e6;
    loom_progress *p = loom_progress_new(encode ? "subword encode" : "subword decode", total, "MB",
                                         cli_progress_enabled(a->io.progress));
    loom_writer *w;
    int rc = loom_writer_open(&w, a->io.output ? a->io.output : "-", LOOM_WRITE_AUTO);
    double done = 0;
    for (int i = 0; i < ninputs && rc == 0; i++) {
        loom_reader *r;
        if ((rc = loom_reader_open(&r, inputs[i])) < 0)
            break;
        rc = encode ? loom_subword_encode_stream(sw, r, w, a->ids, p, done)
                    : loom_subword_decode_stream(sw, r, w, a->ids, p, done);
        done += (double)loom_reader_raw_offset(r) / 1e6;
        loom_reader_close(r);
    }
    if (rc == 0)
        rc = loom_writer_commit(w);
    else
        loom_writer_abort(w);
    loom_progress_finish(p, NULL);
    loom_progress_free(p);
    loom_subword_free(sw);
    return rc < 0 ? cli_fail() : CLI_EXIT_OK;
}

static int run_subword(int argc, char **argv)
{
    if (argc < 2)
        return cli_usage(CMD, "expects an action: train, encode or decode");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
        return cli_help(CMD);
    const char *action = argv[1];
    int which = strcmp(action, "train") == 0    ? 0
                : strcmp(action, "encode") == 0 ? 1
                : strcmp(action, "decode") == 0 ? 2
                                                : -1;
    if (which < 0)
        return cli_usage(CMD, "unknown action '%s' (train, encode or decode)", action);
    subword_args a = {.io.progress = CLI_PROGRESS_AUTO};
    loom_subword_opts_default(&a.train);
    a.train.threads = cli_default_threads();
    int st = parse(argc - 1, argv + 1, &a);
    if (st >= 0)
        return st;
    int nfiles = argc - 1 - optind;
    char **files = argv + 1 + optind;
    return which == 0 ? run_train(nfiles, files, &a) : run_codec(which == 1, nfiles, files, &a);
}

const cli_command cmd_subword = {
    "subword", run_subword, "train SentencePiece subword models; text to pieces and back", help};
