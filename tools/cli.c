/* loom command line: shared parsing and error printing. */
#include "config.h"
#include "cli.h"
#include "base/dist.h"
#include "base/error.h"
#include "base/writer.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "loom %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see 'loom help %s')\n", cmd);
    return CLI_EXIT_USAGE;
}

/* "loom: ", or "loom: rank R: " in one process of an mpirun job. */
static void fail_prefix(void)
{
    if (loom_dist_size() > 1)
        fprintf(stderr, "loom: rank %d: ", loom_dist_rank());
    else
        fputs("loom: ", stderr);
}

int cli_fail(void)
{
    const char *msg = loom_error_message();
    fail_prefix();
    fprintf(stderr, "%s\n", *msg ? msg : "unknown error");
    return CLI_EXIT_ERROR;
}

int cli_failf(const char *fmt, ...)
{
    va_list ap;
    fail_prefix();
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CLI_EXIT_ERROR;
}

int cli_int(const char *cmd, const char *opt, const char *s, long long lo, long long hi,
            long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end != '\0') {
        cli_usage(cmd, "--%s expects an integer, not '%s'", opt, s);
        return -1;
    }
    if (v < lo || v > hi) {
        cli_usage(cmd, "--%s must be between %lld and %lld, not %lld", opt, lo, hi, v);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_double(const char *cmd, const char *opt, const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end != '\0' || !isfinite(v)) {
        cli_usage(cmd, "--%s expects a number, not '%s'", opt, s);
        return -1;
    }
    if (v < lo || v > hi) {
        cli_usage(cmd, "--%s must be between %g and %g, not %g", opt, lo, hi, v);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_choice(const char *cmd, const char *opt, const char *s, const char *const *choices)
{
    for (int i = 0; choices[i]; i++)
        if (strcmp(s, choices[i]) == 0)
            return i;
    char list[256] = "";
    for (int i = 0; choices[i]; i++) {
        strncat(list, i ? "|" : "", sizeof list - strlen(list) - 1);
        strncat(list, choices[i], sizeof list - strlen(list) - 1);
    }
    cli_usage(cmd, "--%s expects %s, not '%s'", opt, list, s);
    return -1;
}

int cli_bad_option(const char *cmd, int argc, char **argv)
{
    const char *word = optind - 1 < argc && optind >= 1 ? argv[optind - 1] : "?";
    if (optopt && optopt < 0x100 && !(word[0] == '-' && word[1] == '-'))
        return cli_usage(cmd, "invalid or incomplete option '-%c'", optopt);
    return cli_usage(cmd, "unrecognized or incomplete option '%s'", word);
}

int cli_io_option(const char *cmd, int c, cli_io *io, int argc, char **argv)
{
    switch (c) {
    case 'm':
        io->model = optarg;
        return CLI_IO_NEXT;
    case 'o':
        io->output = optarg;
        return CLI_IO_NEXT;
    case CLI_OPT_HELP:
        return cli_help(cmd);
    case CLI_OPT_QUIET:
        io->quiet = 1;
        io->progress = CLI_PROGRESS_OFF;
        return CLI_IO_NEXT;
    case CLI_OPT_PROGRESS:
        io->progress = CLI_PROGRESS_ON;
        return CLI_IO_NEXT;
    default:
        return cli_bad_option(cmd, argc, argv);
    }
}

int cli_help(const char *name)
{
    const cli_command *c = cli_find(name);
    if (!c)
        return cli_usage("help", "unknown command '%s'", name);
    fputs(c->help, stdout);
    return CLI_EXIT_OK;
}

int cli_progress_enabled(int mode)
{
    if (mode == CLI_PROGRESS_ON)
        return 1;
    if (mode == CLI_PROGRESS_OFF)
        return 0;
    return isatty(STDERR_FILENO);
}

int cli_default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

int cli_inputs(char *const *paths, int n)
{
    for (int i = 0; i < n; i++)
        if (paths[i] && loom_writer_protect(paths[i]) < 0)
            return cli_fail();
    return 0;
}
