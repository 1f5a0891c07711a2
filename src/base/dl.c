/* loom: opening the libraries that only some commands use (see dl.h). */
#include "config.h"
#include "base/dl.h"
#include "base/error.h"

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* 1 when the object holding this code lies in the build tree. */
static int in_build_tree(void)
{
    Dl_info info;
    struct link_map *map = NULL;
    if (!dladdr1((void *)in_build_tree, &info, (void **)&map, RTLD_DL_LINKMAP) || !map)
        return 0;
    /* the program itself (libloom linked statically, as in loom) has no
     * name in its link map, and its argv[0] may be a bare name on the PATH */
    const char *object = map->l_name[0] ? map->l_name : "/proc/self/exe";
    char *path = realpath(object, NULL), *build = realpath(LOOM_ABS_BUILDDIR, NULL);
    size_t n = build ? strlen(build) : 0;
    int in = path && build && strncmp(path, build, n) == 0 && path[n] == '/';
    free(path), free(build);
    return in;
}

int loom_dl_module_path(char *buf, size_t n, const char *name)
{
    const char *dir = getenv("LOOM_MODULE_DIR");
    if (!dir || !*dir)
        dir = in_build_tree() ? LOOM_ABS_BUILDDIR "/.libs" : LOOM_PKGLIBDIR;
    int len = snprintf(buf, n, "%s/%s", dir, name);
    if (len < 0 || (size_t)len >= n)
        return loom_error(LOOM_EINVAL, "%s/%s: path too long", dir, name);
    return 0;
}

static int load(loom_dl_lib *lib)
{
    char path[4096];
    const char *file = lib->file;
    if (lib->module) {
        int rc = loom_dl_module_path(path, sizeof path, lib->file);
        if (rc)
            return rc;
        file = path;
    }
    if (lib->module && access(file, R_OK) != 0)
        return loom_error(LOOM_ENOTFOUND,
                          "%s: %s (one of loom's modules: run make install, or set "
                          "LOOM_MODULE_DIR to the directory that holds it)",
                          file, strerror(errno));
    void *h = dlopen(file, RTLD_NOW | (lib->global ? RTLD_GLOBAL : RTLD_LOCAL));
    if (!h)
        return loom_error(LOOM_ENOTFOUND, "%s (loom needs the Debian package %s)", dlerror(),
                          lib->package);
    for (const loom_dl_sym *s = lib->syms; s->name; s++) {
        dlerror();
        *s->addr = dlsym(h, s->name);
        if (!*s->addr) /* not dlclose'd: Open MPI and C++ libraries do not unload cleanly */
            return loom_error(LOOM_ENOTFOUND, "%s: no %s in it (loom needs the Debian package %s)",
                              file, s->name, lib->package);
    }
    return 0;
}

int loom_dl_load(loom_dl_lib *lib)
{
    pthread_mutex_lock(&lock);
    int rc = lib->loaded ? 0 : load(lib);
    if (rc == 0)
        lib->loaded = 1;
    pthread_mutex_unlock(&lock);
    return rc;
}
