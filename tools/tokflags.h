/* loom command line: the tokenizer flags shared by every command that
 * reads a corpus (tokenize, vocab, embed, seq2seq, ...): --keep-case,
 * --punct keep|drop, --invalid error|replace, --pretokenized, --chars. Put
 * TOKFLAGS_LONGOPTS in the command's option table, pass unknown option
 * codes to tokflags_option(), and include TOKFLAGS_HELP in the help. */
#ifndef LOOM_TOOLS_TOKFLAGS_H
#define LOOM_TOOLS_TOKFLAGS_H

#include "text/tokenizer.h"

#include <getopt.h>

enum {
    TOKFLAGS_KEEP_CASE = 0x2000,
    TOKFLAGS_PUNCT,
    TOKFLAGS_INVALID,
    TOKFLAGS_PRETOKENIZED,
    TOKFLAGS_CHARS
};

/* clang-format off */
#define TOKFLAGS_LONGOPTS                                                                          \
    {"keep-case", no_argument, 0, TOKFLAGS_KEEP_CASE},                                             \
        {"punct", required_argument, 0, TOKFLAGS_PUNCT},                                           \
        {"invalid", required_argument, 0, TOKFLAGS_INVALID},                                       \
        {"pretokenized", no_argument, 0, TOKFLAGS_PRETOKENIZED},                                   \
        {"chars", no_argument, 0, TOKFLAGS_CHARS}

#define TOKFLAGS_HELP                                                                              \
    "      --keep-case        keep letter case (default: Unicode case folding)\n"                 \
    "      --punct keep|drop  punctuation and symbols as tokens (default) or dropped\n"           \
    "      --invalid error|replace\n"                                                            \
    "                         stop at invalid UTF-8 (default) or read it as U+FFFD\n"            \
    "      --pretokenized     split on ASCII white space only, no normalisation\n"               \
    "                         (rules: 'loom help tokenize')\n"                                    \
    "      --chars            each grapheme cluster a token (NFKC, case folded unless\n"        \
    "                         --keep-case); white space between two is one '\xe2\x96\x81'\n"

/* clang-format on */

/* Applies option `opt` (with `arg`) to o. Returns 1 when opt is a tokenizer
 * flag, 0 when it is not, -1 after printing a usage error for a bad value. */
int tokflags_option(const char *cmd, int opt, const char *arg, loom_tok_opts *o);

#endif
