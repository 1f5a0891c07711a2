/* loom: a small builder of ONNX graphs over the protobuf-c structures that
 * protoc-c generates from Debian's onnx.proto (libonnx-dev): nodes,
 * attributes, initializers, typed inputs and outputs with symbolic
 * dimensions, and the serialised ModelProto. It knows ONNX's message
 * layout, not what the graph computes (the exporters say that). Every
 * string and array it makes belongs to the builder and goes with og_free.
 * Errors (out of memory) are remembered and reported by og_model_bytes. */
#ifndef LOOM_EXPORT_ONNX_GRAPH_H
#define LOOM_EXPORT_ONNX_GRAPH_H

#include <stddef.h>
#include <stdint.h>

/* The opset the graphs use (onnx 1.12's checker knows up to 17). */
#define LOOM_ONNX_OPSET 17
#define LOOM_ONNX_IR_VERSION 8

enum { OG_FLOAT = 1, OG_INT32 = 6, OG_INT64 = 7, OG_BOOL = 9 };

typedef struct og og;
typedef struct og_node og_node;

int og_new(og **out, const char *name);
void og_free(og *g); /* accepts NULL */

/* A node of `op` reading nin inputs ("" for an omitted optional one) and
 * writing nout outputs under fresh names. */
og_node *og_node_new(og *g, const char *op, const char *const *in, int nin, int nout);
/* The name of output k of n. */
const char *og_out(const og_node *n, int k);
void og_attr_int(og *g, og_node *n, const char *name, int64_t v);
void og_attr_ints(og *g, og_node *n, const char *name, const int64_t *v, int count);
void og_attr_float(og *g, og_node *n, const char *name, float v);
void og_attr_str(og *g, og_node *n, const char *name, const char *s);

/* One-output shorthands: og_op(g, "Tanh", 1, x) is tanh(x); the return is
 * the output's name. */
const char *og_op(og *g, const char *op, int nin, ...);
/* op with a single int attribute (Softmax axis, Cast to, ...). */
const char *og_op_i(og *g, const char *op, const char *attr, int64_t v, int nin, ...);

/* Initializers: a float tensor (data copied when copy, else referenced:
 * it must outlive og_model_bytes) and small int64 tensors. dims: nd sizes;
 * nd = 0 is a scalar. */
const char *og_init_f32(og *g, const char *name, const int64_t *dims, int nd, const float *data,
                        int copy);
const char *og_init_i64(og *g, const char *name, const int64_t *dims, int nd, const int64_t *v);
/* A 1-d int64 constant from n int values (shapes, axes). */
const char *og_ints(og *g, int n, ...);

/* A graph input or output: dtype OG_*, shape as comma-separated sizes or
 * symbolic names ("batch,src_len,16"). For an output, `value` (a node's
 * output) is renamed `name` everywhere. */
void og_input(og *g, const char *name, int dtype, const char *shape);
void og_output(og *g, const char *value, const char *name, int dtype, const char *shape);

/* The inputs and outputs as declared: io 0 inputs, 1 outputs. */
int og_io_count(const og *g, int io);
void og_io_get(const og *g, int io, int i, const char **name, int *dtype, const char **shape);

/* Adds a metadata_props entry to the model. */
void og_meta(og *g, const char *key, const char *value);

/* Serialises the model (IR version, opset, producer, graph, metadata):
 * *buf malloc'd, caller frees. LOOM_ENOMEM when anything failed before. */
int og_model_bytes(og *g, uint8_t **buf, size_t *len);

#endif
