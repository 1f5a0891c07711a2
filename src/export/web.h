/* loom: the static page that translates in the browser with an exported
 * model (web/index.html, web/loom-onnx.js, built into loom by
 * src/export/embed-files.sh) and the copy of onnxruntime-web's files
 * beside it. */
#ifndef LOOM_EXPORT_WEB_H
#define LOOM_EXPORT_WEB_H

typedef struct {
    const char *name, *text;
} loom_web_file;

/* The page's files, ending with {NULL, NULL}. */
extern const loom_web_file loom_web_files[];

/* onnxruntime-web's files the page loads (the WebAssembly build). */
extern const char *const loom_ort_web_files[];

/* Writes the page's files into dir and, when ort_dir is not NULL, copies
 * loom_ort_web_files from it (onnxruntime-web's dist directory); without
 * it the page loads them from jsDelivr. */
int loom_export_web(const char *dir, const char *ort_dir);

#endif
