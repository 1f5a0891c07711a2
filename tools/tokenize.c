/* loom tokenize: prints the tokens of its inputs, separated by single
 * spaces, one output line per input line. The rules live in src/text; this
 * file parses options, buffers output and reports. */
#include "config.h"
#include "cli.h"
#include "tokflags.h"
#include "base/error.h"
#include "base/progress.h"
#include "base/reader.h"
#include "base/writer.h"
#include "text/tokenizer.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* clang-format off */
static const char help[] =
    "usage: loom tokenize [OPTIONS] [FILE...]\n"
    "\n"
    "Prints the tokens of each FILE (or stdin; '-' is stdin, .gz is read\n"
    "transparently) separated by single spaces, one output line per input line.\n"
    "\n"
    "The rules:\n"
    "  - Text is NFKC-normalised (the ligature \xef\xac\x81 -> fi, full-width ２ -> 2)\n"
    "    and case-folded (Straße -> strasse, final ς -> σ) unless --keep-case.\n"
    "  - A word is a run of letters, combining marks and digits.\n"
    "  - An apostrophe (' or ’) between two letters stays in the word and is\n"
    "    written ' (don't, l'homme, rock'n'roll are one token each).\n"
    "  - A '.' or ',' between two digits stays in the number (3.14, 1,000).\n"
    "  - Every other punctuation mark or symbol (emoji included, with its\n"
    "    modifiers and ZWJ sequence) is a token of its own, one per grapheme\n"
    "    cluster; --punct drop leaves them out. A hyphen splits words.\n"
    "  - Letters of scripts written without spaces (Han, Hiragana, Katakana,\n"
    "    Thai, Lao, Khmer, Myanmar, Yi) are one token per character, with its\n"
    "    combining marks.\n"
    "  - White space, control characters and NUL separate tokens; a lone CR\n"
    "    is white space, CRLF ends a line like LF. Invisible format characters\n"
    "    (bidi marks, BOM, soft hyphen) are removed; ZWJ and ZWNJ are kept\n"
    "    inside a cluster.\n"
    "  - Invalid UTF-8 (overlong forms, surrogates, truncated sequences, bytes\n"
    "    C0, C1, F5-FF, stray continuation bytes, a sequence cut by the end\n"
    "    of the file) stops with\n"
    "    'FILE:LINE: invalid UTF-8 at byte N' (N counts from 0); with\n"
    "    --invalid replace each bad sequence reads as U+FFFD (a symbol).\n"
    "  - A token longer than 1024 bytes is cut into pieces of at most 1024.\n"
    "  - --pretokenized splits on ASCII white space (and NUL) only and keeps\n"
    "    the text as it is (no normalisation, no case folding).\n"
    "\n"
    "options:\n"
    "  -o, --output FILE      write the tokens to FILE (default stdout; .gz compresses)\n" TOKFLAGS_HELP
    "  -q, --quiet            no progress\n"
    "      --progress         show progress even when stderr is not a terminal\n"
    "  -h, --help             this help\n"
    "\n"
    "examples:\n"
    "  loom tokenize corpus/sotu.txt.gz | head -c 300\n"
    "  echo \"Don't pay 3.14 dollars, café!\" | loom tokenize --punct drop\n";
/* clang-format on */

/* Output is gathered in a buffer and written in large blocks. */
typedef struct {
    loom_writer *w;
    char buf[1 << 16];
    size_t len;
    int first; /* no token yet on this line */
    double tokens;
    loom_progress *progress;
    loom_reader *r;
} out_ctx;

static int out_flush(out_ctx *o)
{
    int rc = o->len ? loom_writer_write(o->w, o->buf, o->len) : 0;
    o->len = 0;
    return rc;
}

static int on_token(void *ctx, const char *tok, size_t len)
{
    out_ctx *o = ctx;
    if (o->len + len + 2 > sizeof o->buf) {
        int rc = out_flush(o);
        if (rc)
            return rc;
        if (len + 2 > sizeof o->buf) { /* cannot happen: tokens are short */
            if (!o->first && (rc = loom_writer_write(o->w, " ", 1)) != 0)
                return rc;
            o->first = 0;
            return loom_writer_write(o->w, tok, len);
        }
    }
    if (!o->first)
        o->buf[o->len++] = ' ';
    o->first = 0;
    memcpy(o->buf + o->len, tok, len);
    o->len += len;
    if (((unsigned long long)++o->tokens & 0xffff) == 0 && loom_progress_due(o->progress))
        loom_progress_update(o->progress, (double)loom_reader_raw_offset(o->r) / 1e6, NULL);
    return 0;
}

static int on_eol(void *ctx)
{
    out_ctx *o = ctx;
    if (o->len + 1 > sizeof o->buf) {
        int rc = out_flush(o);
        if (rc)
            return rc;
    }
    o->buf[o->len++] = '\n';
    o->first = 1;
    return 0;
}

static int tokenize_file(loom_tokenizer *t, const char *path, out_ctx *o, int progress_mode)
{
    loom_reader *r;
    int rc = loom_reader_open(&r, path);
    if (rc < 0)
        return rc;
    struct stat st;
    double total = strcmp(path, "-") != 0 && stat(path, &st) == 0 ? (double)st.st_size / 1e6 : 0;
    o->r = r;
    o->progress = loom_progress_new("tokenize", total, "MB", cli_progress_enabled(progress_mode));
    o->first = 1;
    rc = loom_tokenize_stream(t, r, on_token, on_eol, o);
    if (rc == 0)
        rc = out_flush(o);
    loom_progress_finish(o->progress, NULL);
    loom_progress_free(o->progress);
    o->progress = NULL;
    loom_reader_close(r);
    return rc;
}

static int run_tokenize(int argc, char **argv)
{
    static const struct option longopts[] = {{"output", required_argument, 0, 'o'},
                                             TOKFLAGS_LONGOPTS,
                                             CLI_COMMON_LONGOPTS,
                                             {0, 0, 0, 0}};
    loom_tok_opts opts;
    loom_tok_opts_default(&opts);
    cli_io io = {.output = "-", .progress = CLI_PROGRESS_AUTO};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:hq", longopts, NULL)) != -1) {
        int k = tokflags_option("tokenize", c, optarg, &opts);
        if (k < 0)
            return CLI_EXIT_USAGE;
        if (k == 0 && (k = cli_io_option("tokenize", c, &io, argc, argv)) != CLI_IO_NEXT)
            return k;
    }
    static char *const stdin_only[] = {"-", NULL};
    char *const *files = optind < argc ? argv + optind : stdin_only;
    int nfiles = optind < argc ? argc - optind : 1;

    if (cli_inputs(files, nfiles))
        return CLI_EXIT_ERROR;
    loom_tokenizer *t;
    if (loom_tokenizer_new(&t, &opts) < 0)
        return cli_fail();
    out_ctx *o = calloc(1, sizeof *o);
    int rc = o ? loom_writer_open(&o->w, io.output, LOOM_WRITE_AUTO) : LOOM_ENOMEM;
    for (int i = 0; i < nfiles && rc == 0; i++)
        rc = tokenize_file(t, files[i], o, io.progress);
    if (o)
        rc = loom_writer_finish(o->w, rc);
    free(o);
    loom_tokenizer_free(t);
    return rc < 0 ? cli_fail() : CLI_EXIT_OK;
}

const cli_command cmd_tokenize = {"tokenize", run_tokenize,
                                  "split text into tokens, one sentence per line", help};
