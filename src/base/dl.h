/* loom: the libraries only some commands use (Open MPI for mpirun,
 * libmicrohttpd for loom serve, SentencePiece and the C++ run-time for
 * subword models), opened when a command first needs them rather than
 * linked: linked, their loading and initialisers cost every run of every
 * command about 6.4 MB of resident memory (`loom --version` 11.7 MB
 * against 5.0 MB without them). Each user lists the functions it calls in
 * a table; this file opens the library and fills it. Knows nothing of what
 * the libraries do. Nothing is ever closed: a library stays for the
 * process' life, as a linked one would. */
#ifndef LOOM_BASE_DL_H
#define LOOM_BASE_DL_H

#include <stddef.h>

/* One function (or variable) to look up: *addr receives its address. */
typedef struct {
    const char *name;
    void **addr;
} loom_dl_sym;

/* A library and what its user needs of it. `file` is a soname
 * ("libmicrohttpd.so.12"), or with `module` set the name of one of loom's
 * own loadable modules ("loom_subword.so"), found by loom_dl_module_path. */
typedef struct {
    const char *file;
    const char *package; /* the Debian package that installs it */
    int module;
    int global;              /* RTLD_GLOBAL: libraries it opens in turn see its symbols */
    const loom_dl_sym *syms; /* ends with a NULL name */
    int loaded;              /* private */
} loom_dl_lib;

/* Opens lib and fills its table the first time (thread-safe; later calls
 * return at once). On failure LOOM_ENOTFOUND with one line naming the
 * library, why it did not load and the package to install, e.g.
 * "libmicrohttpd.so.12: cannot open shared object file: No such file or
 * directory (loom needs the Debian package libmicrohttpd12)". */
int loom_dl_load(loom_dl_lib *lib);

/* Where loom's module `name` is: in the build tree's .libs when the
 * running libloom (or loom, which holds it) is the build tree's, else in
 * the installed $(pkglibdir); $LOOM_MODULE_DIR overrides both. Writes the
 * path to buf (n bytes); LOOM_EINVAL when it does not fit. */
int loom_dl_module_path(char *buf, size_t n, const char *name);

#endif
