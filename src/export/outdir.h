/* loom: the directory an export writes, which appears complete or not at
 * all: its files go to DIR.tmp-XXXXXX beside it, renamed to DIR when all
 * are written and removed otherwise, also when the process is interrupted
 * (SIGINT, SIGTERM, SIGHUP: the command line's handler calls
 * loom_writer_cleanup_all, which knows the directory and its files). */
#ifndef LOOM_EXPORT_OUTDIR_H
#define LOOM_EXPORT_OUTDIR_H

#include <jansson.h>
#include <stddef.h>

#include "export/onnx_graph.h"
#include "text/tokenizer.h"

#define LOOM_OUTDIR_MAX_PATH 4000

typedef struct {
    const char *dir; /* the final name */
    char tmp[4096];  /* the temporary directory */
    int slot;        /* loom_writer_temp_dir's, or -1 */
} loom_outdir;

/* Checks that dir does not exist or is an empty directory, then creates
 * the temporary directory beside it (mode as mkdir would give), declaring
 * the files it may hold (`names`, NULL-terminated) for cleanup. */
int loom_outdir_begin(loom_outdir *d, const char *dir, const char *const *names);
/* Writes `file` in the directory (through the atomic writer). */
int loom_outdir_bytes(const loom_outdir *d, const char *file, const void *buf, size_t len);
/* Writes j (taken over; NULL means out of memory) as indented ASCII JSON
 * ending in a newline. */
int loom_outdir_json(const loom_outdir *d, const char *file, json_t *j);
/* The end whatever came before: with rc 0 renames the directory into
 * place (its result returned), otherwise removes it and returns rc. */
int loom_outdir_finish(loom_outdir *d, int rc);

/* Writes graph g as `file`. */
int loom_export_write_graph(const loom_outdir *d, const char *file, og *g);
/* {"file", "inputs": [{name, dtype, shape}], "outputs": [...]} of a graph
 * (interface.json's entry). */
json_t *loom_export_graph_json(const og *g, const char *file);
/* A tokenizer's options as JSON (keep_case, punct, invalid, pretokenized). */
json_t *loom_export_tok_json(const loom_tok_opts *t);

#endif
