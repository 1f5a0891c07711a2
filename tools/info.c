/* loom info: what a file holds. Vector files (word2vec binary or text,
 * fastText .vec, GloVe; gzip or not) are described here; model files in
 * the safetensors layout are recognised by their header and handed to
 * info_model_file(), which the sequence-model layer defines. */
#include "config.h"
#include "cli.h"
#include "base/error.h"
#include "base/reader.h"
#include "embed/vectors.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Describes a model file on stdout; returns an exit status. Weak so that
 * `loom info` builds before the model layer provides it (tools/<x>.c
 * there defines it; nothing here needs to change). */
int info_model_file(const char *path) __attribute__((weak));

static const char help[] =
    "usage: loom info FILE [OPTIONS]\n"
    "\n"
    "Prints what FILE holds. For a vector file (word2vec binary or text,\n"
    "fastText .vec, GloVe text; gzip or not): its format, words, dimensions,\n"
    "the spread of the vector lengths (norms) and the first words. Reading the\n"
    "whole file also checks it: a truncated or malformed file is an error\n"
    "naming the record. Model files (safetensors layout) are described by the\n"
    "model layer.\n"
    "\n"
    "options:\n"
    "      --words N          show the first N words (default 10)\n"
    "  -q, --quiet            no progress\n"
    "      --progress         show progress even when stderr is not a terminal\n"
    "  -h, --help             this help\n"
    "\n"
    "example:\n"
    "  loom info tests/fixtures/vectors/sotu.bin\n";

/* The safetensors layout: an 8-byte little-endian header length, then a
 * JSON header starting with '{' (looked for through gzip too). */
static int is_safetensors(const char *path)
{
    loom_reader *r;
    if (loom_reader_open(&r, path) < 0) {
        loom_error_clear();
        return 0;
    }
    unsigned char b[9];
    size_t got = 0;
    long k = 1;
    while (got < 9 && (k = loom_reader_read(r, b + got, 9 - got)) > 0)
        got += (size_t)k;
    loom_reader_close(r);
    loom_error_clear();
    uint64_t n = 0;
    for (int i = 7; i >= 0 && got == 9; i--)
        n = n << 8 | b[i];
    return got == 9 && b[8] == '{' && n >= 2 && n < (1ULL << 32);
}

/* stdin can be read only once, and info reads twice (the kind, then the
 * file): a copy in a temporary file, unlinked at once, stands in for it.
 * Returns the file's /proc/self/fd name in `name`, or -1 with a message. */
static int spool_stdin(char *name, size_t size)
{
    const char *dir = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/loom-info.XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(tmpl);
    if (fd < 0)
        return cli_failf("%s: cannot copy stdin: %s", tmpl, strerror(errno));
    unlink(tmpl);
    char buf[1 << 16];
    ssize_t k;
    while ((k = read(STDIN_FILENO, buf, sizeof buf)) > 0 || (k < 0 && errno == EINTR))
        if (k > 0 && write(fd, buf, (size_t)k) != k)
            return cli_failf("%s: cannot copy stdin: %s", tmpl, strerror(errno));
    if (k < 0)
        return cli_failf("<stdin>: read error: %s", strerror(errno));
    snprintf(name, size, "/proc/self/fd/%d", fd); /* left open: the name lives while it is */
    return 0;
}

static const char *format_name(const loom_vectors *v)
{
    if (loom_vectors_format(v) == LOOM_VEC_BIN)
        return "word2vec binary";
    return loom_vectors_has_header(v) ? "word2vec text / fastText .vec"
                                      : "text without header (GloVe)";
}

static void print_norms(const loom_vectors *v)
{
    size_t n = loom_vectors_count(v), dim = loom_vectors_dim(v), zero = 0;
    double lo = INFINITY, hi = 0, sum = 0;
    for (size_t i = 0; i < n; i++) {
        const float *r = loom_vectors_row(v, i);
        double ss = 0;
        for (size_t j = 0; j < dim; j++)
            ss += (double)r[j] * r[j];
        double norm = sqrt(ss);
        zero += norm == 0;
        lo = norm < lo ? norm : lo;
        hi = norm > hi ? norm : hi;
        sum += norm;
    }
    if (n)
        printf("norms:       min %.4g  mean %.4g  max %.4g%s\n", lo, sum / (double)n, hi,
               fabs(lo - 1) < 1e-4 && fabs(hi - 1) < 1e-4 ? "  (unit-normalised)" : "");
    if (zero)
        printf("zero rows:   %zu\n", zero);
}

static int run_info(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"words", required_argument, 0, 'w'}, CLI_COMMON_LONGOPTS, {0, 0, 0, 0}};
    long long show = 10;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "hq", longopts, NULL)) != -1) {
        switch (c) {
        case 'w':
            if (cli_int("info", "words", optarg, 0, 1000000, &show) < 0)
                return CLI_EXIT_USAGE;
            break;
        case CLI_OPT_HELP:
            return cli_help("info");
        case CLI_OPT_QUIET:
        case CLI_OPT_PROGRESS:
            break;
        default:
            return cli_bad_option("info", argc, argv);
        }
    }
    if (argc - optind != 1)
        return cli_usage("info", "expects one file");
    const char *path = argv[optind];
    char spooled[64];
    if (strcmp(path, "-") == 0) {
        if (spool_stdin(spooled, sizeof spooled))
            return CLI_EXIT_ERROR;
        path = spooled;
    }
    if (is_safetensors(path)) {
        if (info_model_file)
            return info_model_file(path);
        return cli_failf("%s: a model file (safetensors layout); this build cannot describe it yet",
                         path);
    }
    loom_vectors *v;
    if (loom_vectors_load(&v, path) < 0) {
        /* Messages name the spool; the user gave "-". */
        const char *m = loom_error_message();
        size_t n = strlen(path);
        if (path == spooled && strncmp(m, path, n) == 0)
            return cli_failf("<stdin>%s", m + n);
        return cli_fail();
    }
    struct stat st;
    printf("file:        %s\n", strcmp(argv[optind], "-") ? path : "<stdin>");
    printf("format:      %s%s\n", format_name(v), loom_vectors_gzip(v) ? ", gzip" : "");
    printf("words:       %zu\n", loom_vectors_count(v));
    printf("dimensions:  %zu\n", loom_vectors_dim(v));
    if (strcmp(path, "-") != 0 && stat(path, &st) == 0)
        printf("size:        %.1f MB on disk, %.1f MB as a matrix\n", (double)st.st_size / 1e6,
               (double)loom_vectors_count(v) * (double)loom_vectors_dim(v) * 4 / 1e6);
    print_norms(v);
    if (show > 0 && loom_vectors_count(v) > 0) {
        fputs("first words:", stdout);
        for (size_t i = 0; i < (size_t)show && i < loom_vectors_count(v); i++)
            printf(" %s", loom_vectors_word(v, i));
        putchar('\n');
    }
    loom_vectors_free(v);
    return CLI_EXIT_OK;
}

const cli_command cmd_info = {"info", run_info, "what a vector or model file holds", help};
