/* loom: the public header. Text embeddings and sequence models on the CPU:
 * bytes -> tokens -> ids -> vectors -> models -> output. Each layer's
 * headers are included here, lowest layer first; a layer uses only the
 * layers above it in this list. Compile with `pkg-config --cflags loom`. */
#ifndef LOOM_H
#define LOOM_H

#define LOOM_VERSION "0.1.0"

/* base: errors, allocation, files, progress, random numbers */
#include "base/error.h"
#include "base/alloc.h"
#include "base/reader.h"
#include "base/writer.h"
#include "base/progress.h"
#include "base/rng.h"
#include "base/safetensors.h"

/* text: tokenizer, vocabulary, subword models (SentencePiece) */
#include "text/tokenizer.h"
#include "text/vocab.h"
#include "text/subword.h"

/* core: matrices, parameters, layers, losses, optimizers */
#include "core/blas.h"
#include "core/param.h"
#include "core/dense.h"
#include "core/activation.h"
#include "core/embedding.h"
#include "core/conv1d.h"
#include "core/dropout.h"
#include "core/loss.h"
#include "core/optim.h"
#include "core/rnn.h"
#include "core/attention.h"

/* embed: vector files, queries, evaluation, the word2vec trainer */
#include "embed/vectors.h"
#include "embed/query.h"
#include "embed/eval.h"
#include "embed/word2vec.h"

/* seq: data, encoder-decoder model, model files, training, decoding,
 * translation, BLEU */
#include "seq/data.h"
#include "seq/model.h"
#include "seq/model_file.h"
#include "seq/train.h"
#include "seq/decode.h"
#include "seq/translator.h"
#include "seq/transfer.h"
#include "seq/bleu.h"

#endif
