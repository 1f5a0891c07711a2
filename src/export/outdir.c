/* loom: an export's output directory (see outdir.h). */
#include "config.h"
#include "export/outdir.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "base/writer.h"
#include "export/onnx_graph.h"

/* 0 when dir does not exist or is an empty directory. */
static int check_target(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) != 0)
        return errno == ENOENT ? 0 : loom_error(LOOM_EIO, "%s: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return loom_error(LOOM_EINVAL, "%s: exists and is not a directory", dir);
    DIR *d = opendir(dir);
    struct dirent *e;
    int empty = 1;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            empty = 0;
    if (d)
        closedir(d);
    if (!empty)
        return loom_error(LOOM_EINVAL,
                          "%s: directory is not empty (remove it, or name a new directory)", dir);
    return 0;
}

int loom_outdir_begin(loom_outdir *d, const char *dir, const char *const *names)
{
    d->dir = dir;
    d->tmp[0] = '\0';
    d->slot = -1;
    int rc = check_target(dir);
    if (rc)
        return rc;
    if (strlen(dir) > LOOM_OUTDIR_MAX_PATH)
        return loom_error(LOOM_EINVAL, "%s: name too long", dir);
    snprintf(d->tmp, sizeof d->tmp, "%s.tmp-XXXXXX", dir);
    /* no signal between creating the directory and declaring it */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    if (!mkdtemp(d->tmp)) {
        rc = loom_error(LOOM_EIO, "%s: cannot create a directory beside it: %s", dir,
                        strerror(errno));
        d->tmp[0] = '\0';
    } else if ((d->slot = loom_writer_temp_dir(d->tmp, names)) < 0) {
        rc = d->slot;
        rmdir(d->tmp);
        d->tmp[0] = '\0';
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc)
        return rc;
    mode_t mask = umask(0); /* mkdtemp's 0700 becomes what mkdir would give */
    umask(mask);
    chmod(d->tmp, 0777 & ~mask);
    return 0;
}

int loom_outdir_bytes(const loom_outdir *d, const char *file, const void *buf, size_t len)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", d->tmp, file);
    loom_writer *w;
    int rc = loom_writer_open(&w, path, LOOM_WRITE_PLAIN);
    if (rc)
        return rc;
    rc = loom_writer_write(w, buf, len);
    return loom_writer_finish(w, rc < 0 ? rc : 0);
}

int loom_outdir_json(const loom_outdir *d, const char *file, json_t *j)
{
    if (!j)
        return loom_error(LOOM_ENOMEM, "out of memory building %s", file);
    char *s = json_dumps(j, JSON_INDENT(1) | JSON_ENSURE_ASCII);
    json_decref(j);
    if (!s)
        return loom_error(LOOM_ENOMEM, "out of memory building %s", file);
    size_t len = strlen(s);
    s[len] = '\n'; /* json_dumps's NUL becomes the file's last newline */
    int rc = loom_outdir_bytes(d, file, s, len + 1);
    free(s);
    return rc;
}

/* Removes the temporary directory and what is in it (files only). */
static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    char path[4400];
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

int loom_outdir_finish(loom_outdir *d, int rc)
{
    if (!d->tmp[0])
        return rc;
    if (!rc && rename(d->tmp, d->dir) != 0)
        rc = loom_error(LOOM_EIO, "%s: %s", d->dir, strerror(errno));
    if (rc)
        remove_dir(d->tmp);
    loom_writer_temp_dir_end(d->slot);
    d->slot = -1;
    d->tmp[0] = '\0';
    return rc;
}

static const char *dtype_name(int t)
{
    return t == OG_INT64 ? "int64" : t == OG_INT32 ? "int32" : t == OG_BOOL ? "bool" : "float32";
}

/* {"file", "inputs": [{name, dtype, shape}], "outputs": [...]} of a graph. */
json_t *loom_export_graph_json(const og *g, const char *file)
{
    json_t *o = json_pack("{s:s}", "file", file);
    for (int io = 0; io < 2 && o; io++) {
        json_t *arr = json_array();
        for (int i = 0; i < og_io_count(g, io) && arr; i++) {
            const char *name, *shape;
            int dtype;
            og_io_get(g, io, i, &name, &dtype, &shape);
            json_t *dims = json_array();
            for (const char *s = shape; *s && dims;) {
                size_t len = strcspn(s, ",");
                char tok[64];
                snprintf(tok, sizeof tok, "%.*s", (int)len, s);
                json_array_append_new(dims, tok[0] >= '0' && tok[0] <= '9'
                                                ? json_integer(strtoll(tok, NULL, 10))
                                                : json_string(tok));
                s += len + (s[len] == ',');
            }
            json_array_append_new(arr, json_pack("{s:s,s:s,s:o}", "name", name, "dtype",
                                                 dtype_name(dtype), "shape", dims));
        }
        json_object_set_new(o, io ? "outputs" : "inputs", arr);
    }
    return o;
}

int loom_export_write_graph(const loom_outdir *d, const char *file, og *g)
{
    uint8_t *buf;
    size_t len;
    int rc = og_model_bytes(g, &buf, &len);
    if (rc)
        return rc;
    rc = loom_outdir_bytes(d, file, buf, len);
    free(buf);
    return rc;
}

json_t *loom_export_tok_json(const loom_tok_opts *t)
{
    return json_pack("{s:b,s:s,s:s,s:b}", "keep_case", t->keep_case, "punct",
                     t->punct == LOOM_PUNCT_DROP ? "drop" : "keep", "invalid",
                     t->invalid == LOOM_INVALID_REPLACE ? "replace" : "error", "pretokenized",
                     t->pretokenized);
}
