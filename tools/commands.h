/* loom command line: every subcommand, defined in tools/<name>.c. */
#ifndef LOOM_TOOLS_COMMANDS_H
#define LOOM_TOOLS_COMMANDS_H

#include "cli.h"

extern const cli_command cmd_help;

#endif
