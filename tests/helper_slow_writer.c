/* Test helper: writes `megabytes` MB to PATH through loom's atomic writer,
 * pausing `pause_ms` between megabytes, so a test can kill it half-way. */
#include "config.h"
#include "base/alloc.h"
#include "base/error.h"
#include "base/progress.h"
#include "base/reader.h"
#include "base/rng.h"
#include "base/safetensors.h"
#include "base/writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: helper_slow_writer PATH MEGABYTES PAUSE_MS\n");
        return 2;
    }
    int mb = atoi(argv[2]), pause_ms = atoi(argv[3]);
    loom_writer *w;
    if (loom_writer_open(&w, argv[1], LOOM_WRITE_AUTO) < 0) {
        fprintf(stderr, "loom: %s\n", loom_error_message());
        return 1;
    }
    static char block[1 << 20];
    for (size_t i = 0; i < sizeof block; i++)
        block[i] = (char)('a' + i % 26);
    for (int i = 0; i < mb; i++) {
        if (loom_writer_write(w, block, sizeof block) < 0) {
            loom_writer_abort(w);
            fprintf(stderr, "loom: %s\n", loom_error_message());
            return 1;
        }
        if (pause_ms > 0) {
            struct timespec ts = {pause_ms / 1000, (long)(pause_ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    if (loom_writer_commit(w) < 0) {
        fprintf(stderr, "loom: %s\n", loom_error_message());
        return 1;
    }
    return 0;
}
