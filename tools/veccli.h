/* loom command line: what nearest, analogy, eval, convert and info share:
 * loading a vector file with its error reported, splitting query lines,
 * printing hits. No search logic here (src/embed/query.h). */
#ifndef LOOM_TOOLS_VECCLI_H
#define LOOM_TOOLS_VECCLI_H

#include <getopt.h>
#include <stddef.h>
#include <stdio.h>

#include "cli.h"
#include "embed/query.h"
#include "embed/vectors.h"

/* The options nearest, analogy and eval share: --threads N for the search
 * and the common ones (--quiet and --progress are accepted and do nothing:
 * there is no progress to show). Put VECCLI_LONGOPTS at the end of the
 * command's table (before the zero terminator; it holds
 * CLI_COMMON_LONGOPTS), VECCLI_HELP at the end of its help's options, and
 * pass every option code the command does not take itself to
 * veccli_option. */
enum { VECCLI_OPT_THREADS = 0x2800 };
/* clang-format off */
#define VECCLI_LONGOPTS                                                                            \
    {"threads", required_argument, 0, VECCLI_OPT_THREADS}, CLI_COMMON_LONGOPTS
#define VECCLI_HELP                                                                                \
    "      --threads N        worker threads (default: one per core)\n"                           \
    "  -q, --quiet            no progress\n"                                                      \
    "      --progress         show progress even when stderr is not a terminal\n"                 \
    "  -h, --help             this help\n"
/* clang-format on */
/* Applies getopt_long's result c (threads set by --threads). Returns
 * CLI_IO_NEXT when c was one of these options (parsing goes on), else the
 * exit code the command returns now: 0 after --help, 2 after a usage
 * error (a bad thread count, an unknown option). */
int veccli_option(const char *cmd, int c, long long *threads, int argc, char **argv);

/* Loads `path` and, when ix is not NULL, indexes it in place (the raw
 * vectors are then unit length). Prints the error and returns 1 on
 * failure, 0 on success. */
int veccli_open(const char *path, int threads, loom_vectors **v, loom_index **ix);

/* Splits `line` in place at blanks; returns the number of words (at most
 * max are stored). */
size_t veccli_split(char *line, char **words, size_t max);

/* Looks every word up; reports unknown ones on stderr as
 * "loom CMD: unknown word 'w'" and returns how many were unknown. */
size_t veccli_lookup(const char *cmd, const loom_vectors *v, char **words, size_t n, long *rows);

/* Prints hits as word<TAB>score lines (rows -1 are skipped). */
void veccli_print_hits(FILE *out, const loom_vectors *v, const loom_hit *hits, size_t k);

/* Reads one line of stdin without its line break into *buf (getline's
 * buffer); returns 1, or 0 at the end. Prints `prompt` first on a terminal. */
int veccli_read_query(char **buf, size_t *cap, const char *prompt);

/* Answers queries read from stdin, one per line: in batches of up to
 * `batch` lines (one at a time on a terminal, with `prompt`), each batch
 * passed to answer(ctx, lines, n) and stdout flushed after it. Returns the
 * first non-zero answer or LOOM_ENOMEM. */
typedef int (*veccli_answer_fn)(void *ctx, char **lines, size_t n);
int veccli_answer_stdin(const char *prompt, size_t batch, veccli_answer_fn answer, void *ctx);

#endif
