/* loom: writes the browser page of an exported model (see web.h). */
#include "config.h"
#include "export/web.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/writer.h"

const char *const loom_ort_web_files[] = {"ort.wasm.min.js", "ort-wasm-simd-threaded.mjs",
                                          "ort-wasm-simd-threaded.wasm", NULL};

static int copy_file(const char *from, const char *to)
{
    FILE *f = fopen(from, "rb");
    if (!f)
        return loom_error(LOOM_ENOTFOUND,
                          "%s: %s (give --ort-web onnxruntime-web's dist directory)", from,
                          strerror(errno));
    loom_writer *w;
    int rc = loom_writer_open(&w, to, LOOM_WRITE_PLAIN);
    char buf[1 << 16];
    size_t n;
    while (!rc && (n = fread(buf, 1, sizeof buf, f)) > 0)
        rc = loom_writer_write(w, buf, n);
    if (!rc && ferror(f))
        rc = loom_error(LOOM_EIO, "%s: read error", from);
    fclose(f);
    if (rc) {
        loom_writer_abort(w);
        return rc;
    }
    return loom_writer_commit(w);
}

int loom_export_web(const char *dir, const char *ort_dir)
{
    char path[4400], from[4400];
    int rc = 0;
    for (const loom_web_file *f = loom_web_files; f->name && !rc; f++) {
        loom_writer *w;
        snprintf(path, sizeof path, "%s/%s", dir, f->name);
        if ((rc = loom_writer_open(&w, path, LOOM_WRITE_PLAIN)))
            break;
        if ((rc = loom_writer_puts(w, f->text)) < 0) {
            loom_writer_abort(w);
            break;
        }
        rc = loom_writer_commit(w);
    }
    for (int i = 0; ort_dir && loom_ort_web_files[i] && !rc; i++) {
        snprintf(from, sizeof from, "%s/%s", ort_dir, loom_ort_web_files[i]);
        snprintf(path, sizeof path, "%s/%s", dir, loom_ort_web_files[i]);
        rc = copy_file(from, path);
    }
    return rc < 0 ? rc : 0;
}
