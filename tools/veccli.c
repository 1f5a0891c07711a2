/* loom command line: shared helpers of the vector commands. */
#include "config.h"
#include "veccli.h"
#include "cli.h"
#include "base/alloc.h"
#include "base/error.h"
#include <stdlib.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

int veccli_option(const char *cmd, int c, long long *threads, int argc, char **argv)
{
    switch (c) {
    case VECCLI_OPT_THREADS:
        return cli_int(cmd, "threads", optarg, 1, 1024, threads) < 0 ? CLI_EXIT_USAGE : CLI_IO_NEXT;
    case CLI_OPT_HELP:
        return cli_help(cmd);
    case CLI_OPT_QUIET:
    case CLI_OPT_PROGRESS:
        return CLI_IO_NEXT;
    default:
        return cli_bad_option(cmd, argc, argv);
    }
}

int veccli_open(const char *path, int threads, loom_vectors **v, loom_index **ix)
{
    *v = NULL;
    if (ix)
        *ix = NULL;
    if (loom_vectors_load(v, path) < 0)
        return cli_fail();
    if (ix && loom_index_new(ix, *v, LOOM_INDEX_IN_PLACE, threads) < 0) {
        loom_vectors_free(*v);
        *v = NULL;
        return cli_fail();
    }
    return 0;
}

size_t veccli_split(char *line, char **words, size_t max)
{
    size_t n = 0;
    char *save = NULL;
    for (char *w = strtok_r(line, " \t\r\n", &save); w; w = strtok_r(NULL, " \t\r\n", &save)) {
        if (n < max)
            words[n] = w;
        n++;
    }
    return n;
}

size_t veccli_lookup(const char *cmd, const loom_vectors *v, char **words, size_t n, long *rows)
{
    size_t unknown = 0;
    for (size_t i = 0; i < n; i++) {
        rows[i] = loom_vectors_find(v, words[i]);
        if (rows[i] < 0) {
            fprintf(stderr, "loom %s: unknown word '%s'\n", cmd, words[i]);
            unknown++;
        }
    }
    return unknown;
}

void veccli_print_hits(FILE *out, const loom_vectors *v, const loom_hit *hits, size_t k)
{
    for (size_t i = 0; i < k; i++)
        if (hits[i].row >= 0)
            fprintf(out, "%s\t%.6f\n", loom_vectors_word(v, (size_t)hits[i].row), hits[i].score);
}

int veccli_read_query(char **buf, size_t *cap, const char *prompt)
{
    if (isatty(STDIN_FILENO)) {
        fputs(prompt, stderr);
        fflush(stderr);
    }
    ssize_t n = getline(buf, cap, stdin);
    if (n < 0) {
        if (isatty(STDIN_FILENO))
            fputc('\n', stderr);
        return 0;
    }
    while (n > 0 && ((*buf)[n - 1] == '\n' || (*buf)[n - 1] == '\r'))
        (*buf)[--n] = '\0';
    return 1;
}

int veccli_answer_stdin(const char *prompt, size_t batch, veccli_answer_fn answer, void *ctx)
{
    if (isatty(STDIN_FILENO))
        batch = 1;
    char **lines = loom_calloc(batch, sizeof *lines);
    size_t *caps = loom_calloc(batch, sizeof *caps);
    int rc = lines && caps ? 0 : LOOM_ENOMEM;
    while (rc == 0) {
        size_t n = 0;
        while (n < batch && veccli_read_query(&lines[n], &caps[n], prompt))
            n++;
        if (n == 0)
            break;
        rc = answer(ctx, lines, n);
        fflush(stdout);
        if (n < batch)
            break;
    }
    for (size_t i = 0; lines && i < batch; i++)
        free(lines[i]);
    free(lines);
    free(caps);
    return rc;
}
