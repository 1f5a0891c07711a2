/* loom: a text classifier (classify/model.h, `loom classify`) as one ONNX
 * graph. `loom export CLASSIFIER -o DIR` writes:
 *   classifier.onnx  ids, lens -> probs: word (and hashed n-gram) ids of
 *                    each example, padded to the longest, and their
 *                    counts -> the label probabilities loom_cls_predict
 *                    gives (softmax, one sigmoid per label for ova and ns,
 *                    the product along the label's Huffman path for hs)
 *   classifier.json  the words and labels in id order, the tokenizer's
 *                    options, the end-of-line word, the n-gram settings
 *                    and fastText's hash: how a line becomes ids
 *   interface.json   the graph's inputs and outputs (names, dtypes,
 *                    shapes with symbolic dimensions)
 * Both architectures (bag, cnn, 1 or 2 channels) and every loss are
 * written; a model whose weights do not fit one ONNX file (protobuf's
 * 2 GB) is refused naming the options that make it that large. */
#ifndef LOOM_EXPORT_CLS_ONNX_H
#define LOOM_EXPORT_CLS_ONNX_H

#include "classify/model.h"
#include "export/seq_onnx.h"

/* LOOM_EINVAL naming the option when the model cannot be written. */
int loom_export_cls_check(const loom_classifier *m, const char *model_path);

/* Writes the directory `dir` (absent or empty) as loom_export_seq does;
 * o->web is refused (the page translates). */
int loom_export_cls(const loom_classifier *m, const char *model_path, const char *dir,
                    const loom_export_opts *o);

#endif
