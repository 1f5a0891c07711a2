/* loom: the sequence-model part of <loom.h>: training a model from a
 * pairs file and translating sentences with options given by name, over
 * loom_seq_train_run (run.c) and the translator (translator.c). */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/error.h"
#include "seq/train.h"
#include "seq/translator.h"

int loom_seq_train_pairs(const char *pairs, const char *output, const char *const *options,
                         loom_progress *progress)
{
    loom_seq_train_opts o;
    loom_seq_train_defaults(&o);
    o.pairs = pairs;
    o.output = output;
    for (size_t i = 0; options && options[i]; i += 2) {
        if (!options[i + 1])
            return loom_error(LOOM_EINVAL, "option --%s has no value", options[i]);
        int rc = strcmp(options[i], "valid") == 0
                     ? (o.valid = options[i + 1], 0)
                     : loom_seq_opt_set(&o, options[i], options[i + 1]);
        if (rc)
            return rc;
    }
    loom_seq_train_result res;
    return loom_seq_train_run(&o, progress, NULL, NULL, &res);
}

/* One translation option from its text: a number in [lo, hi]. */
static int set_number(const char *flag, const char *value, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double x = strtod(value, &end);
    if (end == value || *end || errno || !(x >= lo && x <= hi))
        return loom_error(LOOM_EINVAL, "--%s must be a number between %g and %g, not '%s'", flag,
                          lo, hi, value);
    *out = x;
    return 0;
}

int loom_translator_load(loom_translator **out, const char *const *paths, int n,
                         const char *const *options)
{
    *out = NULL;
    loom_translate_opts o;
    loom_translate_defaults(&o);
    static const struct {
        const char *flag;
        double lo, hi;
        int integer;
    } known[] = {{"beam", 1, 1000, 1},
                 {"alpha", 0, 10, 0},
                 {"max-len", 0, 1e6, 1},
                 {"batch", 1, 65536, 1},
                 {"threads", 1, LOOM_TRANSLATE_MAX_THREADS, 1},
                 {"replace-unk", 0, 1, 1}};
    for (size_t i = 0; options && options[i]; i += 2) {
        if (!options[i + 1])
            return loom_error(LOOM_EINVAL, "option --%s has no value", options[i]);
        size_t k = 0;
        while (k < sizeof known / sizeof *known && strcmp(known[k].flag, options[i]) != 0)
            k++;
        if (k == sizeof known / sizeof *known)
            return loom_error(LOOM_ENOTFOUND, "no translation option --%s", options[i]);
        double x = 0;
        int rc = set_number(options[i], options[i + 1], known[k].lo, known[k].hi, &x);
        if (rc)
            return rc;
        if (known[k].integer && x != floor(x))
            return loom_error(LOOM_EINVAL, "--%s must be a whole number, not '%s'", options[i],
                              options[i + 1]);
        switch (k) {
        case 0:
            o.decode.beam = (int)x;
            break;
        case 1:
            o.decode.alpha = (float)x;
            break;
        case 2:
            o.decode.max_len = (int)x;
            break;
        case 3:
            o.batch = (int)x;
            break;
        case 4:
            o.threads = (int)x;
            break;
        default:
            o.replace_unk = (int)x;
        }
    }
    return loom_translator_open(out, paths, n, &o);
}

int loom_translate_sentences(loom_translator *t, const char *const *src, int n, char **out,
                             float *scores)
{
    if (n < 0)
        return loom_error(LOOM_EINVAL, "a negative number of sentences (%d)", n);
    loom_translation *tr = loom_calloc((size_t)n ? (size_t)n : 1, sizeof *tr);
    if (!tr)
        return LOOM_ENOMEM;
    int rc = loom_translator_translate(t, src, NULL, n, tr);
    if (rc) {
        free(tr);
        return rc;
    }
    for (int i = 0; i < n; i++) {
        loom_translation_hyp *h = tr[i].n ? &tr[i].hyps[0] : NULL;
        out[i] = h ? h->text : NULL;
        if (h)
            h->text = NULL; /* the caller's now */
        else if (!(out[i] = calloc(1, 1)))
            rc = loom_error(LOOM_ENOMEM, "out of memory");
        if (scores)
            scores[i] = h ? h->hyp.score : 0.0f;
    }
    loom_translations_free(tr, n);
    free(tr);
    if (rc)
        for (int i = 0; i < n; i++)
            free(out[i]), out[i] = NULL;
    return rc;
}
