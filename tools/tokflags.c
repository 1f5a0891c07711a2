/* loom command line: parsing of the shared tokenizer flags. */
#include "config.h"
#include "tokflags.h"
#include "cli.h"

int tokflags_option(const char *cmd, int opt, const char *arg, loom_tok_opts *o)
{
    static const char *const punct[] = {"keep", "drop", NULL};
    static const char *const invalid[] = {"error", "replace", NULL};
    int k;
    switch (opt) {
    case TOKFLAGS_KEEP_CASE:
        o->keep_case = 1;
        return 1;
    case TOKFLAGS_PRETOKENIZED:
        o->pretokenized = 1;
        return 1;
    case TOKFLAGS_CHARS:
        o->chars = 1;
        return 1;
    case TOKFLAGS_PUNCT:
        if ((k = cli_choice(cmd, "punct", arg, punct)) < 0)
            return -1;
        o->punct = k == 0 ? LOOM_PUNCT_KEEP : LOOM_PUNCT_DROP;
        return 1;
    case TOKFLAGS_INVALID:
        if ((k = cli_choice(cmd, "invalid", arg, invalid)) < 0)
            return -1;
        o->invalid = k == 0 ? LOOM_INVALID_ERROR : LOOM_INVALID_REPLACE;
        return 1;
    default:
        return 0;
    }
}
