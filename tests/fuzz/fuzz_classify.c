/* libFuzzer target for the classifier's readers (src/classify): the same
 * bytes are read as training data in fastText's format and as
 * label<TAB>text (dictionary, then examples), and as a model file. Any
 * input must load or be refused with a message, never crash or read out
 * of bounds. Built and run by scripts/fuzz. */
#include "config.h"
#include "base/error.h"
#include "classify/data.h"
#include "classify/model.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void read_as_data(const char *path, int tsv)
{
    loom_cls_format f;
    loom_cls_format_default(&f);
    f.tsv = tsv;
    f.word_ngrams = 2;
    f.bucket = 1000;
    loom_cls_dict *d;
    if (loom_cls_dict_build(&d, path, &f, 1, 1)) {
        if (!*loom_error_message())
            abort(); /* refused without saying why */
        return;
    }
    loom_cls_data *x;
    if (loom_cls_data_read(&x, d, path, LOOM_CLS_NEED_LABELS | LOOM_CLS_KNOWN_LABELS))
        abort(); /* what the dictionary pass accepted, the second pass reads */
    size_t rows = loom_cls_dict_rows(d);
    for (size_t i = 0; i < x->id_off[x->n]; i++) /* every id indexes the table */
        if (x->ids[i] < 0 || (size_t)x->ids[i] >= rows)
            abort();
    for (size_t i = 0; i < x->lab_off[x->n]; i++)
        if (x->lab[i] < 0 || (size_t)x->lab[i] >= loom_cls_dict_nlabels(d))
            abort();
    loom_cls_data_free(x);
    loom_cls_dict_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    if (!path[0])
        snprintf(path, sizeof path, "/tmp/loom-fuzz-classify.%d", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    if (size && fwrite(data, 1, size, f) != size)
        abort();
    fclose(f);
    read_as_data(path, 0);
    read_as_data(path, 1);
    loom_classifier *m;
    if (loom_classifier_load(&m, path) == 0)
        loom_classifier_free(m);
    else if (!*loom_error_message())
        abort();
    unlink(path);
    return 0;
}
