/* loom command line: what every subcommand shares. Option parsing helpers
 * that turn bad values into one-line usage errors (exit 2), the printing of
 * library errors (exit 1), and the progress switch. No model logic here. */
#ifndef LOOM_TOOLS_CLI_H
#define LOOM_TOOLS_CLI_H

#include <getopt.h>
#include <stdint.h>

#define CLI_EXIT_OK 0
#define CLI_EXIT_ERROR 1
#define CLI_EXIT_USAGE 2

typedef struct {
    const char *name; /* "tokenize" */
    int (*run)(int argc, char **argv);
    const char *summary; /* one line for `loom help` */
    const char *help;    /* full text for `loom help CMD`, ending in examples */
} cli_command;

/* Looks a command up in tools/loom.c's table (NULL when unknown). */
const cli_command *cli_find(const char *name);

/* Prints "loom CMD: message (see 'loom help CMD')" to stderr; returns 2. */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "loom: <the library's last error message>"; returns 1. */
int cli_fail(void);
/* Prints "loom: message"; returns 1. */
int cli_failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parse option values; on a bad value print a usage error and return -1. */
int cli_int(const char *cmd, const char *opt, const char *s, long long lo, long long hi,
            long long *out);
int cli_double(const char *cmd, const char *opt, const char *s, double lo, double hi, double *out);
/* Parses one of `choices` (NULL-terminated); returns its index or -1. */
int cli_choice(const char *cmd, const char *opt, const char *s, const char *const *choices);

/* Reports getopt_long's '?' and ':' results as usage errors. `argv` and the
 * current optind locate the offending word. Returns 2. */
int cli_bad_option(const char *cmd, int argc, char **argv);

/* Prints the command's help text to stdout; returns 0. */
int cli_help(const char *cmd);

/* Progress: on when stderr is a terminal, forced by --progress, off by
 * --quiet. Commands keep a cli_progress_mode and pass it here. */
enum { CLI_PROGRESS_AUTO = 0, CLI_PROGRESS_ON = 1, CLI_PROGRESS_OFF = 2 };
int cli_progress_enabled(int mode);

/* Declares the command's input files (NULL entries skipped): no output may
 * then replace one of them. Call before checking outputs; on failure prints
 * the error and returns 1. */
int cli_inputs(char *const *paths, int n);

/* Default thread count: the number of online cores. */
int cli_default_threads(void);

/* Long options every command accepts; put at the end of a command's table
 * (before the zero terminator) with CLI_COMMON_LONGOPTS and handle with
 * cli_io_option() (below) or cases of the command's own. */
enum { CLI_OPT_HELP = 'h', CLI_OPT_QUIET = 'q', CLI_OPT_PROGRESS = 0x1000 };
#define CLI_COMMON_LONGOPTS                                                                        \
    {"help", no_argument, 0, CLI_OPT_HELP}, {"quiet", no_argument, 0, CLI_OPT_QUIET},              \
    {                                                                                              \
        "progress", no_argument, 0, CLI_OPT_PROGRESS                                               \
    }

/* What the commands that read a model or write one output share (shortlist,
 * average, export, tokenize, vocab, subword, classify; serve takes only the
 * common options): -m/--model, -o/--output and the common options. Put CLI_MODEL_LONGOPT and/or
 * CLI_OUTPUT_LONGOPT ("m:" and "o:" in the short options) in the table with
 * CLI_COMMON_LONGOPTS, and pass every option code the command does not take
 * itself to cli_io_option: */
typedef struct {
    char *model;  /* -m, --model FILE */
    char *output; /* -o, --output FILE */
    int quiet;    /* -q, --quiet */
    int progress; /* CLI_PROGRESS_*: --progress, --quiet */
} cli_io;
#define CLI_MODEL_LONGOPT                                                                          \
    {                                                                                              \
        "model", required_argument, 0, 'm'                                                         \
    }
#define CLI_OUTPUT_LONGOPT                                                                         \
    {                                                                                              \
        "output", required_argument, 0, 'o'                                                        \
    }
/* Applies getopt_long's result c to io. Returns CLI_IO_NEXT when c was one
 * of these options (parsing goes on), else the exit code the command
 * returns now: 0 after --help, 2 after a usage error (an unknown option). */
enum { CLI_IO_NEXT = -1 };
int cli_io_option(const char *cmd, int c, cli_io *io, int argc, char **argv);

#endif
