/* loom: a sequence model as ONNX. `loom export` writes a directory:
 *   encoder.onnx       source ids and lengths -> encoder outputs, the
 *                      attention keys projected once, the source mask and
 *                      the decoder's initial state
 *   decoder_step.onnx  previous token, state, encoder outputs, keys, mask
 *                      -> log-probabilities, new state, attention weights
 *   vocab.json         both vocabularies (id order), special ids and the
 *                      tokenizers' options
 *   interface.json     each graph's inputs and outputs (names, dtypes,
 *                      shapes with their symbolic dimensions), the model's
 *                      sizes and the search's rules, so that a runtime loop
 *                      can be written from it alone
 * The graphs are the model's layers (seq/model.h) in ONNX operators,
 * dynamic in batch and lengths; the search (greedy, beam) stays outside,
 * as in pytorch/translate and Marian. The directory appears complete or
 * not at all. */
#ifndef LOOM_EXPORT_SEQ_ONNX_H
#define LOOM_EXPORT_SEQ_ONNX_H

#include "seq/model_file.h"

/* How the decoder step's cell is written: ONNX's GRU/LSTM operator on a
 * sequence of one step, or unrolled into MatMul/Sigmoid/Tanh. The encoder
 * always uses the operators (they run the whole sequence). */
typedef enum { LOOM_EXPORT_CELL_OP = 0, LOOM_EXPORT_CELL_UNROLLED = 1 } loom_export_cell;

extern const char *const loom_export_cell_names[]; /* "op", "unrolled", NULL */

typedef struct {
    loom_export_cell step_cell;
    int web;             /* 1: also the browser page (export/web.h) */
    const char *ort_web; /* onnxruntime-web's dist directory to copy from, or NULL */
} loom_export_opts;

void loom_export_opts_default(loom_export_opts *o);

/* LOOM_EINVAL naming the option when the model has one the exporter
 * cannot write (before anything is written). */
int loom_export_seq_check(const loom_seq_bundle *b, const char *model_path);

/* Writes the directory `dir` (which must not exist, or be empty): files go
 * to a temporary directory beside it, renamed to `dir` when all are
 * written. */
int loom_export_seq(const loom_seq_bundle *b, const char *model_path, const char *dir,
                    const loom_export_opts *o);

/* The files an export may write, for loom_outdir_begin (export/outdir.h):
 * `own` (NULL-terminated) then the browser page's; names has room for max
 * entries, NULL-terminated. */
void loom_export_file_names(const char **names, int max, const char *const *own);

#endif
