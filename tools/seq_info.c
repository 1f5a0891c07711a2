/* loom info, model files: the sequence-model layer's answer to the hook
 * tools/info.c declares for files in the safetensors layout. */
#include "config.h"
#include "cli.h"
#include "base/error.h"
#include "classify/model.h"
#include "seq/model_file.h"

#include <stdio.h>
#include <stdlib.h>

int info_model_file(const char *path);

/* Describes a loom sequence model or classifier on stdout; returns an
 * exit status. */
int info_model_file(const char *path)
{
    char *text;
    if (loom_cls_is_model_file(path) ? loom_cls_describe(&text, path) < 0
                                     : loom_seq_describe(&text, path) < 0)
        return cli_fail();
    fputs(text, stdout);
    free(text);
    return fflush(stdout) == 0 ? CLI_EXIT_OK : cli_failf("writing to stdout failed");
}
