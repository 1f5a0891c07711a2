/* loom: the public header. Text embeddings and sequence models on the CPU:
 * bytes -> tokens -> ids -> vectors -> models -> output. Each layer's
 * header is included here, lowest layer first. */
#ifndef LOOM_H
#define LOOM_H

#define LOOM_VERSION "0.1.0"

#include "base/error.h"
#include "base/alloc.h"
#include "base/reader.h"
#include "base/writer.h"
#include "base/progress.h"
#include "base/rng.h"

#endif
