/* loom: the ONNX graph builder (see onnx_graph.h). Every allocation is
 * recorded in one list and released by og_free, so the protobuf-c
 * structures can point at each other freely; the first failure sets a
 * flag and later calls do nothing harmful. */
#include "config.h"
#include "export/onnx_graph.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/error.h"
#include "src/export/onnx.pb-c.h"

#define OG_MAX_ATTRS 8

struct og_node {
    Onnx__NodeProto p;
    Onnx__AttributeProto *attrs[OG_MAX_ATTRS];
};

typedef struct {
    char *name, *shape;
    int dtype;
} og_io;

struct og {
    Onnx__GraphProto graph;
    char *name;
    int failed, counter;
    void **mem; /* everything allocated, freed by og_free */
    size_t nmem, capmem;
    og_node **nodes;
    size_t nnodes, capnodes;
    Onnx__TensorProto **inits;
    size_t ninits, capinits;
    og_io *io[2];
    size_t nio[2], capio[2];
    Onnx__StringStringEntryProto **meta;
    size_t nmeta, capmeta;
};

/* Zeroed memory owned by g; NULL (and g->failed) on failure. */
static void *mem(og *g, size_t n, size_t size)
{
    if (g->failed)
        return NULL;
    void *p = loom_calloc(n ? n : 1, size);
    if (!p || loom_grow((void **)&g->mem, &g->capmem, g->nmem + 1, sizeof *g->mem) < 0) {
        free(p);
        g->failed = 1;
        return NULL;
    }
    g->mem[g->nmem++] = p;
    return p;
}

static char *str(og *g, const char *s)
{
    char *p = mem(g, strlen(s) + 1, 1);
    if (p)
        strcpy(p, s);
    return p;
}

/* Appends item to the array *arr of *n (capacity *cap). */
static void push(og *g, void ***arr, size_t *n, size_t *cap, void *item)
{
    if (g->failed || !item)
        return;
    if (loom_grow((void **)arr, cap, *n + 1, sizeof **arr) < 0) {
        g->failed = 1;
        return;
    }
    (*arr)[(*n)++] = item;
}

int og_new(og **out, const char *name)
{
    og *g = loom_calloc(1, sizeof *g);
    *out = g;
    if (!g)
        return LOOM_ENOMEM;
    onnx__graph_proto__init(&g->graph);
    g->name = str(g, name);
    return g->failed ? LOOM_ENOMEM : 0;
}

void og_free(og *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->nmem; i++)
        free(g->mem[i]);
    free(g->mem);
    free(g->nodes);
    free(g->inits);
    free(g->io[0]);
    free(g->io[1]);
    free(g->meta);
    free(g);
}

og_node *og_node_new(og *g, const char *op, const char *const *in, int nin, int nout)
{
    og_node *n = mem(g, 1, sizeof *n);
    char **ins = mem(g, nin, sizeof *ins), **outs = mem(g, nout, sizeof *outs);
    if (!n || !ins || !outs)
        return NULL;
    onnx__node_proto__init(&n->p);
    char buf[64];
    int id = g->counter++;
    snprintf(buf, sizeof buf, "%s_%d", op, id);
    n->p.name = str(g, buf);
    n->p.op_type = str(g, op);
    for (int i = 0; i < nin; i++)
        ins[i] = str(g, in[i]);
    for (int k = 0; k < nout; k++) {
        snprintf(buf, sizeof buf, "%s_%d_%d", op, id, k);
        outs[k] = str(g, buf);
    }
    n->p.n_input = (size_t)nin, n->p.input = ins;
    n->p.n_output = (size_t)nout, n->p.output = outs;
    n->p.attribute = n->attrs;
    push(g, (void ***)&g->nodes, &g->nnodes, &g->capnodes, n);
    return g->failed ? NULL : n;
}

const char *og_out(const og_node *n, int k)
{
    return n && k < (int)n->p.n_output ? n->p.output[k] : "";
}

static Onnx__AttributeProto *attr(og *g, og_node *n, const char *name, int type)
{
    if (!n || n->p.n_attribute == OG_MAX_ATTRS) {
        g->failed = 1;
        return NULL;
    }
    Onnx__AttributeProto *a = mem(g, 1, sizeof *a);
    if (!a)
        return NULL;
    onnx__attribute_proto__init(a);
    a->name = str(g, name);
    a->has_type = 1;
    a->type = type;
    n->attrs[n->p.n_attribute++] = a;
    return a;
}

void og_attr_int(og *g, og_node *n, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = attr(g, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    if (a)
        a->has_i = 1, a->i = v;
}

void og_attr_ints(og *g, og_node *n, const char *name, const int64_t *v, int count)
{
    Onnx__AttributeProto *a = attr(g, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    int64_t *p = mem(g, count, sizeof *p);
    if (a && p) {
        memcpy(p, v, count * sizeof *p);
        a->n_ints = (size_t)count, a->ints = p;
    }
}

void og_attr_float(og *g, og_node *n, const char *name, float v)
{
    Onnx__AttributeProto *a = attr(g, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    if (a)
        a->has_f = 1, a->f = v;
}

void og_attr_str(og *g, og_node *n, const char *name, const char *s)
{
    Onnx__AttributeProto *a = attr(g, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    char *p = str(g, s);
    if (a && p)
        a->has_s = 1, a->s.len = strlen(p), a->s.data = (uint8_t *)p;
}

#define OG_MAX_IN 8

static og_node *node_va(og *g, const char *op, int nin, va_list ap)
{
    const char *in[OG_MAX_IN];
    if (nin > OG_MAX_IN) {
        g->failed = 1;
        return NULL;
    }
    for (int i = 0; i < nin; i++)
        in[i] = va_arg(ap, const char *);
    return og_node_new(g, op, in, nin, 1);
}

const char *og_op(og *g, const char *op, int nin, ...)
{
    va_list ap;
    va_start(ap, nin);
    og_node *n = node_va(g, op, nin, ap);
    va_end(ap);
    return og_out(n, 0);
}

const char *og_op_i(og *g, const char *op, const char *name, int64_t v, int nin, ...)
{
    va_list ap;
    va_start(ap, nin);
    og_node *n = node_va(g, op, nin, ap);
    va_end(ap);
    if (n)
        og_attr_int(g, n, name, v);
    return og_out(n, 0);
}

static Onnx__TensorProto *tensor(og *g, const char *name, const int64_t *dims, int nd, int dtype)
{
    Onnx__TensorProto *t = mem(g, 1, sizeof *t);
    int64_t *d = mem(g, nd, sizeof *d);
    if (!t || !d)
        return NULL;
    onnx__tensor_proto__init(t);
    char buf[64];
    if (!name) {
        snprintf(buf, sizeof buf, "const_%d", g->counter++);
        name = buf;
    }
    t->name = str(g, name);
    if (nd) /* a scalar has no dims (and dims may be NULL) */
        memcpy(d, dims, nd * sizeof *d);
    t->n_dims = (size_t)nd, t->dims = d;
    t->has_data_type = 1, t->data_type = dtype;
    push(g, (void ***)&g->inits, &g->ninits, &g->capinits, t);
    return g->failed ? NULL : t;
}

static size_t numel(const int64_t *dims, int nd)
{
    size_t n = 1;
    for (int i = 0; i < nd; i++)
        n *= (size_t)dims[i];
    return n;
}

/* raw_data is little-endian, as the floats and ints of the machines loom
 * runs on (safetensors makes the same assumption). */
const char *og_init_f32(og *g, const char *name, const int64_t *dims, int nd, const float *data,
                        int copy)
{
    Onnx__TensorProto *t = tensor(g, name, dims, nd, OG_FLOAT);
    size_t bytes = numel(dims, nd) * sizeof(float);
    void *p = copy ? mem(g, bytes, 1) : (void *)data;
    if (!t || !p)
        return "";
    if (copy)
        memcpy(p, data, bytes);
    t->has_raw_data = 1, t->raw_data.len = bytes, t->raw_data.data = p;
    return t->name;
}

const char *og_init_i64(og *g, const char *name, const int64_t *dims, int nd, const int64_t *v)
{
    Onnx__TensorProto *t = tensor(g, name, dims, nd, OG_INT64);
    size_t bytes = numel(dims, nd) * sizeof(int64_t);
    void *p = mem(g, bytes, 1);
    if (!t || !p)
        return "";
    memcpy(p, v, bytes);
    t->has_raw_data = 1, t->raw_data.len = bytes, t->raw_data.data = p;
    return t->name;
}

const char *og_ints(og *g, int n, ...)
{
    int64_t v[16], dims[1] = {n};
    if (n > 16) {
        g->failed = 1;
        return "";
    }
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        v[i] = va_arg(ap, int);
    va_end(ap);
    return og_init_i64(g, NULL, dims, 1, v);
}

static void io_add(og *g, int io, const char *name, int dtype, const char *shape)
{
    if (g->failed ||
        loom_grow((void **)&g->io[io], &g->capio[io], g->nio[io] + 1, sizeof *g->io[io]) < 0) {
        g->failed = 1;
        return;
    }
    g->io[io][g->nio[io]++] = (og_io){str(g, name), str(g, shape), dtype};
}

void og_input(og *g, const char *name, int dtype, const char *shape)
{
    io_add(g, 0, name, dtype, shape);
}

void og_output(og *g, const char *value, const char *name, int dtype, const char *shape)
{
    char *v = str(g, value), *nm = str(g, name);
    if (!v || !nm)
        return;
    /* the value's producer and every reader now use the graph's name */
    for (size_t i = 0; i < g->nnodes; i++) {
        Onnx__NodeProto *p = &g->nodes[i]->p;
        for (size_t k = 0; k < p->n_input; k++)
            if (strcmp(p->input[k], v) == 0)
                p->input[k] = nm;
        for (size_t k = 0; k < p->n_output; k++)
            if (strcmp(p->output[k], v) == 0)
                p->output[k] = nm;
    }
    io_add(g, 1, name, dtype, shape);
}

int og_io_count(const og *g, int io)
{
    return (int)g->nio[io];
}

void og_io_get(const og *g, int io, int i, const char **name, int *dtype, const char **shape)
{
    *name = g->io[io][i].name;
    *dtype = g->io[io][i].dtype;
    *shape = g->io[io][i].shape;
}

void og_meta(og *g, const char *key, const char *value)
{
    Onnx__StringStringEntryProto *e = mem(g, 1, sizeof *e);
    if (!e)
        return;
    onnx__string_string_entry_proto__init(e);
    e->key = str(g, key);
    e->value = str(g, value);
    push(g, (void ***)&g->meta, &g->nmeta, &g->capmeta, e);
}

/* The ValueInfoProto of a declared input or output. */
static Onnx__ValueInfoProto *value_info(og *g, const og_io *io)
{
    Onnx__ValueInfoProto *vi = mem(g, 1, sizeof *vi);
    Onnx__TypeProto *tp = mem(g, 1, sizeof *tp);
    Onnx__TypeProto__Tensor *tt = mem(g, 1, sizeof *tt);
    Onnx__TensorShapeProto *sh = mem(g, 1, sizeof *sh);
    size_t nd = 1;
    for (const char *s = io->shape; *s; s++)
        nd += *s == ',';
    Onnx__TensorShapeProto__Dimension **dims = mem(g, nd, sizeof *dims);
    if (!vi || !tp || !tt || !sh || !dims)
        return NULL;
    onnx__value_info_proto__init(vi);
    onnx__type_proto__init(tp);
    onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(sh);
    const char *s = io->shape;
    for (size_t i = 0; i < nd; i++) {
        Onnx__TensorShapeProto__Dimension *d = mem(g, 1, sizeof *d);
        size_t len = strcspn(s, ",");
        char *tok = mem(g, len + 1, 1);
        if (!d || !tok)
            return NULL;
        onnx__tensor_shape_proto__dimension__init(d);
        memcpy(tok, s, len);
        if (tok[0] >= '0' && tok[0] <= '9') {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = strtoll(tok, NULL, 10);
        } else {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d->dim_param = tok;
        }
        dims[i] = d;
        s += len + (s[len] == ',');
    }
    sh->n_dim = nd, sh->dim = dims;
    tt->has_elem_type = 1, tt->elem_type = io->dtype;
    tt->shape = sh;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    vi->name = io->name;
    vi->type = tp;
    return vi;
}

int og_model_bytes(og *g, uint8_t **buf, size_t *len)
{
    *buf = NULL, *len = 0;
    Onnx__ValueInfoProto **vi[2];
    for (int io = 0; io < 2; io++) {
        vi[io] = mem(g, g->nio[io], sizeof *vi[io]);
        for (size_t i = 0; vi[io] && i < g->nio[io]; i++)
            vi[io][i] = value_info(g, &g->io[io][i]);
    }
    Onnx__NodeProto **nodes = mem(g, g->nnodes, sizeof *nodes);
    Onnx__OperatorSetIdProto *opset = mem(g, 1, sizeof *opset);
    Onnx__OperatorSetIdProto **opsets = mem(g, 1, sizeof *opsets);
    if (g->failed || !nodes || !opset || !opsets)
        return loom_error(LOOM_ENOMEM, "out of memory building the ONNX graph %s", g->name);
    for (size_t i = 0; i < g->nnodes; i++)
        nodes[i] = &g->nodes[i]->p;
    Onnx__GraphProto *gp = &g->graph;
    gp->name = g->name;
    gp->n_node = g->nnodes, gp->node = nodes;
    gp->n_initializer = g->ninits, gp->initializer = g->inits;
    gp->n_input = g->nio[0], gp->input = vi[0];
    gp->n_output = g->nio[1], gp->output = vi[1];

    onnx__operator_set_id_proto__init(opset);
    opset->domain = (char *)"";
    opset->has_version = 1, opset->version = LOOM_ONNX_OPSET;
    opsets[0] = opset;
    Onnx__ModelProto m = ONNX__MODEL_PROTO__INIT;
    m.has_ir_version = 1, m.ir_version = LOOM_ONNX_IR_VERSION;
    m.n_opset_import = 1, m.opset_import = opsets;
    m.producer_name = (char *)"loom";
    m.producer_version = (char *)PACKAGE_VERSION;
    m.graph = gp;
    m.n_metadata_props = g->nmeta, m.metadata_props = g->meta;
    size_t n = onnx__model_proto__get_packed_size(&m);
    uint8_t *p = loom_malloc(n ? n : 1, 1);
    if (!p)
        return LOOM_ENOMEM;
    *len = onnx__model_proto__pack(&m, p);
    *buf = p;
    return 0;
}
