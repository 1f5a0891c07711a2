/* loom command line: every subcommand, each defined in tools/<name>.c.
 * The declarations are weak so that the table in tools/loom.c can list a
 * command before its file is part of the build: an absent one is skipped. */
#ifndef LOOM_TOOLS_COMMANDS_H
#define LOOM_TOOLS_COMMANDS_H

#include "cli.h"

#define CLI_WEAK __attribute__((weak))

extern const cli_command cmd_tokenize CLI_WEAK;
extern const cli_command cmd_vocab CLI_WEAK;
extern const cli_command cmd_embed CLI_WEAK;
extern const cli_command cmd_nearest CLI_WEAK;
extern const cli_command cmd_analogy CLI_WEAK;
extern const cli_command cmd_eval CLI_WEAK;
extern const cli_command cmd_convert CLI_WEAK;
extern const cli_command cmd_seq2seq CLI_WEAK;
extern const cli_command cmd_translate CLI_WEAK;
extern const cli_command cmd_bleu CLI_WEAK;
extern const cli_command cmd_info CLI_WEAK;
extern const cli_command cmd_help;

#endif
