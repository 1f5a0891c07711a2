/* libFuzzer target for model and checkpoint files: the loader that
 * `translate` and `seq2seq --resume` use (loom_seq_file_load, through
 * base/safetensors.c) and the description `info` prints. */
#include "config.h"
#include "seq/model_file.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file("model", data, size);
    loom_seq_bundle b;
    int rc = loom_seq_file_load(&b, path, NULL);
    if (rc == 0)
        loom_seq_bundle_free(&b);
    fuzz_refused(rc);
    char *text = NULL;
    rc = loom_seq_describe(&text, path);
    free(text);
    fuzz_refused(rc);
    unlink(path);
    return 0;
}
