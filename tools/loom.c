/* loom command line: the table of subcommands and the dispatch. Each
 * subcommand lives in tools/<name>.c; this file only finds it. */
#include "config.h"
#include "commands.h"
#include "base/error.h"
#include "base/writer.h"
#include "core/blas.h"
#include "base/dist.h"
#include "core/vmath.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* In the order of the data flow: bytes -> tokens -> vectors -> models. */
static const cli_command *const commands[] = {
    &cmd_tokenize, &cmd_vocab,   &cmd_subword,  &cmd_embed,     &cmd_nearest,   &cmd_analogy,
    &cmd_eval,     &cmd_convert, &cmd_seq2seq,  &cmd_translate, &cmd_shortlist, &cmd_average,
    &cmd_export,   &cmd_bleu,    &cmd_classify, &cmd_info,      &cmd_serve,     &cmd_help,
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

const cli_command *cli_find(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i]->name, name) == 0)
            return commands[i];
    return NULL;
}

static void print_overview(FILE *out)
{
    fprintf(out,
            "loom %s: text embeddings and sequence models on the CPU\n\n"
            "usage: loom COMMAND [OPTIONS] [ARGS]\n\ncommands:\n",
            LOOM_VERSION);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(out, "\n'loom help COMMAND' or 'loom COMMAND --help' shows a command's options.\n"
                 "Exit status: 0 success, 1 runtime error (bad data, I/O), 2 usage error.\n");
}

static int run_help(int argc, char **argv)
{
    if (argc > 2)
        return cli_usage("help", "expects at most one command name");
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
        return cli_help("help");
    if (argc == 2)
        return cli_help(argv[1]);
    print_overview(stdout);
    return CLI_EXIT_OK;
}

const cli_command cmd_help = {
    "help", run_help, "show the commands, or one command's options",
    "usage: loom help [COMMAND]\n\n"
    "Without a command, lists the commands; with one, shows its options.\n\n"
    "example:\n  loom help tokenize\n"};

/* A killed or interrupted run must not leave temporaries behind. */
static void on_signal(int sig)
{
    loom_writer_cleanup_all();
    signal(sig, SIG_DFL);
    raise(sig);
}

/* OpenBLAS took this CPU for an old one and loaded generic kernels (see
 * loom_blas_better_core): start again with the kernels the CPU can run.
 * Not under valgrind, whose CPU lacks AVX-512 and which would not follow
 * the new process. If exec fails, the run goes on with what it has. */
static void blas_restart(char **argv)
{
    const char *core = loom_blas_better_core(), *pre = getenv("LD_PRELOAD");
    if (!core || (pre && strstr(pre, "vgpreload")))
        return;
    if (setenv("OPENBLAS_CORETYPE", core, 0) == 0)
        execv("/proc/self/exe", argv);
}

/* The commands that train over several processes under mpirun. */
static int runs_distributed(const cli_command *c)
{
    return strcmp(c->name, "embed") == 0 || strcmp(c->name, "seq2seq") == 0;
}

/* Runs c, as one rank of an mpirun job when launched by mpirun: a rank that
 * fails stops the others (they would wait for it in their next exchange). */
static int run_command(const cli_command *c, int argc, char **argv)
{
    if (loom_dist_init(&argc, &argv) < 0) {
        fprintf(stderr, "loom %s: %s\n", c->name, loom_error_message());
        return CLI_EXIT_ERROR;
    }
    if (loom_dist_size() > 1 && !runs_distributed(c)) {
        if (loom_dist_rank() == 0)
            fprintf(stderr,
                    "loom %s: does not run under mpirun with %d processes (embed and seq2seq do)\n",
                    c->name, loom_dist_size());
        loom_dist_finalize();
        return CLI_EXIT_USAGE;
    }
    int rc = c->run(argc - 1, argv + 1);
    if (rc != CLI_EXIT_OK && loom_dist_size() > 1) {
        fflush(stderr);
        loom_dist_abort(rc);
    }
    loom_dist_finalize();
    return rc;
}

int main(int argc, char **argv)
{
    blas_restart(argv);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);
    signal(SIGPIPE, SIG_DFL);
    if (argc < 2) {
        print_overview(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0) {
        const char *mpi = loom_dist_library();
        printf("loom %s (OpenBLAS kernels: %s; loom kernels: %s; %s%s)\n", LOOM_VERSION,
               loom_blas_core(), loom_simd_name(loom_simd_level()), mpi ? "MPI: " : "no MPI",
               mpi ? mpi : "");
        return CLI_EXIT_OK;
    }
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0)
        name = "help";
    const cli_command *c = cli_find(name);
    if (!c) {
        fprintf(stderr, "loom: unknown command '%s' (see 'loom help')\n", name);
        return CLI_EXIT_USAGE;
    }
    return run_command(c, argc, argv);
}
