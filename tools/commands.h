/* loom command line: every subcommand, each defined in tools/<name>.c and
 * listed in the table of tools/loom.c. */
#ifndef LOOM_TOOLS_COMMANDS_H
#define LOOM_TOOLS_COMMANDS_H

#include "cli.h"

extern const cli_command cmd_tokenize;
extern const cli_command cmd_vocab;
extern const cli_command cmd_subword;
extern const cli_command cmd_embed;
extern const cli_command cmd_nearest;
extern const cli_command cmd_analogy;
extern const cli_command cmd_eval;
extern const cli_command cmd_convert;
extern const cli_command cmd_seq2seq;
extern const cli_command cmd_classify;
extern const cli_command cmd_translate;
extern const cli_command cmd_average;
extern const cli_command cmd_shortlist;
extern const cli_command cmd_export;
extern const cli_command cmd_bleu;
extern const cli_command cmd_info;
extern const cli_command cmd_serve;
extern const cli_command cmd_help;

#endif
