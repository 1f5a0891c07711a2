/* Built by `make installcheck` (and so by distcheck) against the installed
 * <loom.h> and libloom only: the public header must stand on its own. */
#include <loom.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    loom_vocab *v;
    if (loom_vocab_new(&v) != 0)
        return 1;
    loom_vocab_add(v, "loom", 4, 3);
    loom_vocab_finalize(v, 1, 0);
    int ok = loom_vocab_size(v) == 1 && strcmp(loom_vocab_word(v, 0), "loom") == 0;
    loom_vocab_free(v);
    printf("%s %s\n", ok ? "ok" : "FAILED", LOOM_VERSION);
    return ok ? 0 : 1;
}
