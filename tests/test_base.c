/* Tests for src/base: errors, the reader (plain, gzip, long lines, corrupt
 * input), the atomic writer, the arena, the growable array, the string
 * hash, the thread fan-out and its team of kept threads, and the RNG. */
#include "config.h"
#include "base/alloc.h"
#include "base/error.h"
#include "base/progress.h"
#include "base/reader.h"
#include "base/rng.h"
#include "base/safetensors.h"
#include "base/writer.h"

#include "base/hash.h"
#include "base/parallel.h"

#include <check.h>
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <zlib.h>

#include "testutil.h"

static void write_gz(const char *path, const void *data, size_t n)
{
    gzFile g = gzopen(path, "wb");
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(gzwrite(g, data, (unsigned)n), (int)n);
    gzclose(g);
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

START_TEST(error_message_carries_detail)
{
    int rc = loom_error(LOOM_EFORMAT, "bad thing at byte %d", 42);
    ck_assert_int_eq(rc, LOOM_EFORMAT);
    ck_assert_str_eq(loom_error_message(), "bad thing at byte 42");
    loom_error_prefix(rc, "f.txt", 7);
    ck_assert_str_eq(loom_error_message(), "f.txt:7: bad thing at byte 42");
    loom_error_clear();
    ck_assert_str_eq(loom_error_message(), "");
}
END_TEST

/* Reads all complete lines with the piece interface into one string
 * "line1|line2|...", checking pieces never exceed the buffer. */
static char *read_lines(const char *path, size_t bufsize)
{
    loom_reader *r;
    ck_assert_int_eq(loom_reader_open_sized(&r, path, bufsize), 0);
    size_t cap = 1 << 20, used = 0;
    char *all = malloc(cap);
    const char *p;
    size_t n;
    int complete, rc;
    while ((rc = loom_reader_line(r, &p, &n, &complete)) == 1) {
        ck_assert_uint_le(n, bufsize);
        ck_assert_uint_lt(used + n + 2, cap);
        memcpy(all + used, p, n);
        used += n;
        if (complete)
            all[used++] = '|';
    }
    ck_assert_int_eq(rc, 0);
    all[used] = '\0';
    loom_reader_close(r);
    return all;
}

START_TEST(reader_lines_crlf_and_missing_newline)
{
    const char text[] = "alpha\r\nbeta\n\ngamma\rdelta\nlast";
    test_write_file(test_path("a.txt"), text, sizeof text - 1);
    char *s = read_lines(test_path("a.txt"), 1 << 16);
    ck_assert_str_eq(s, "alpha|beta||gamma\rdelta|last|");
    free(s);
}
END_TEST

START_TEST(reader_long_line_in_pieces)
{
    /* 10,000-byte line of 2-byte UTF-8 characters through a 64-byte buffer:
     * pieces must never split a character. */
    size_t n = 10000;
    char *text = malloc(n + 8);
    for (size_t i = 0; i < n; i += 2)
        text[i] = (char)0xC3, text[i + 1] = (char)0xA9; /* é */
    memcpy(text + n, "\nok\n", 4);
    test_write_file(test_path("long.txt"), text, n + 4);
    loom_reader *r;
    ck_assert_int_eq(loom_reader_open_sized(&r, test_path("long.txt"), 65), 0);
    const char *p;
    size_t len, total = 0;
    int complete, pieces = 0;
    do {
        ck_assert_int_eq(loom_reader_line(r, &p, &len, &complete), 1);
        ck_assert_uint_eq(len % 2, 0);
        ck_assert_int_eq(loom_reader_line_number(r), 1);
        total += len;
        pieces++;
    } while (!complete);
    ck_assert_uint_eq(total, n);
    ck_assert_int_gt(pieces, 100);
    ck_assert_int_eq(loom_reader_line(r, &p, &len, &complete), 1);
    ck_assert_int_eq(loom_reader_line_number(r), 2);
    ck_assert_int_eq(loom_reader_offset(r), (long long)n + 1);
    ck_assert_uint_eq(len, 2);
    ck_assert_int_eq(loom_reader_line(r, &p, &len, &complete), 0);
    loom_reader_close(r);
    free(text);
}
END_TEST

START_TEST(reader_line_filling_buffer_exactly)
{
    test_write_file(test_path("exact.txt"), "abcdefgh", 8);
    char *s = read_lines(test_path("exact.txt"), 64);
    ck_assert_str_eq(s, "abcdefgh|");
    free(s);
    char buf[128];
    memset(buf, 'x', 64);
    test_write_file(test_path("exact64.txt"), buf, 64);
    s = read_lines(test_path("exact64.txt"), 64);
    ck_assert_uint_eq(strlen(s), 65);
    ck_assert_int_eq(s[64], '|');
    free(s);
}
END_TEST

START_TEST(reader_gzip_is_transparent)
{
    const char text[] = "one two\nthree\n";
    write_gz(test_path("t.gz"), text, sizeof text - 1);
    char *s = read_lines(test_path("t.gz"), 1 << 16);
    ck_assert_str_eq(s, "one two|three|");
    free(s);
    loom_reader *r;
    ck_assert_int_eq(loom_reader_open(&r, test_path("t.gz")), 0);
    ck_assert_int_eq(loom_reader_is_gzip(r), 1);
    char buf[64];
    ck_assert_int_eq(loom_reader_read(r, buf, sizeof buf), (long)(sizeof text - 1));
    ck_assert_int_eq(loom_reader_read(r, buf, sizeof buf), 0);
    loom_reader_close(r);
}
END_TEST

/* Drains a reader, returning the first negative code (0 if none). */
static int drain(const char *path)
{
    loom_reader *r;
    int rc = loom_reader_open(&r, path);
    if (rc < 0)
        return rc;
    char buf[4096];
    long got;
    while ((got = loom_reader_read(r, buf, sizeof buf)) > 0)
        ;
    loom_reader_close(r);
    return (int)got;
}

START_TEST(reader_corrupt_and_truncated_gzip_are_errors)
{
    char text[20000];
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = (char)('a' + (i * 7919) % 26);
    write_gz(test_path("good.gz"), text, sizeof text);
    FILE *f = fopen(test_path("good.gz"), "rb");
    unsigned char gz[40000];
    size_t n = fread(gz, 1, sizeof gz, f);
    fclose(f);

    test_write_file(test_path("cut.gz"), gz, n / 2);
    ck_assert_int_eq(drain(test_path("cut.gz")), LOOM_EFORMAT);
    /* What arrived before the cut is delivered intact before the error. */
    loom_reader *r;
    ck_assert_int_eq(loom_reader_open(&r, test_path("cut.gz")), 0);
    static char got[sizeof text];
    long total = 0, k;
    while ((k = loom_reader_read(r, got + total, sizeof got - (size_t)total)) > 0)
        total += k;
    ck_assert_int_eq(k, LOOM_EFORMAT);
    /* As many bytes as zlib's inflate can recover from the cut stream. */
    z_stream zs = {0};
    static char want[sizeof text];
    ck_assert_int_eq(inflateInit2(&zs, 16 + MAX_WBITS), Z_OK);
    zs.next_in = gz, zs.avail_in = (uInt)(n / 2);
    zs.next_out = (Bytef *)want, zs.avail_out = sizeof want;
    inflate(&zs, Z_SYNC_FLUSH);
    inflateEnd(&zs);
    ck_assert_int_gt(zs.total_out, 0);
    ck_assert_int_eq(total, (long)zs.total_out);
    ck_assert_int_eq(memcmp(got, text, (size_t)total), 0);
    loom_reader_close(r);
    ck_assert_ptr_nonnull(strstr(loom_error_message(), "cut.gz"));
    ck_assert_ptr_nonnull(strstr(loom_error_message(), "truncated"));

    for (size_t i = 20; i < 60; i++)
        gz[i] ^= 0x5A;
    test_write_file(test_path("bad.gz"), gz, n);
    ck_assert_int_eq(drain(test_path("bad.gz")), LOOM_EFORMAT);
    ck_assert_ptr_nonnull(strstr(loom_error_message(), "bad.gz"));
}
END_TEST

START_TEST(reader_missing_file_names_it)
{
    loom_reader *r;
    ck_assert_int_eq(loom_reader_open(&r, test_path("nope.txt")), LOOM_EIO);
    ck_assert_ptr_null(r);
    ck_assert_ptr_nonnull(strstr(loom_error_message(), "nope.txt"));
    ck_assert_ptr_nonnull(strstr(loom_error_message(), "No such file"));
}
END_TEST

START_TEST(reader_getline_enforces_limit)
{
    test_write_file(test_path("g.txt"), "short\nthis line is long\n", 23);
    loom_reader *r;
    ck_assert_int_eq(loom_reader_open_sized(&r, test_path("g.txt"), 64), 0);
    char *buf = NULL;
    size_t cap = 0, len;
    ck_assert_int_eq(loom_reader_getline(r, &buf, &cap, &len, 10), 1);
    ck_assert_str_eq(buf, "short");
    ck_assert_int_eq(loom_reader_getline(r, &buf, &cap, &len, 10), LOOM_EFORMAT);
    ck_assert_ptr_nonnull(strstr(loom_error_message(), "g.txt:2:"));
    free(buf);
    loom_reader_close(r);
}
END_TEST

START_TEST(writer_commit_and_abort)
{
    loom_writer *w;
    ck_assert_int_eq(loom_writer_open(&w, test_path("out.txt"), LOOM_WRITE_AUTO), 0);
    ck_assert_int_eq(loom_writer_printf(w, "%s %d\n", "hello", 7), 0);
    /* Before commit the final name does not exist; one temporary does. */
    ck_assert_int_ne(access(test_path("out.txt"), F_OK), 0);
    ck_assert_int_eq(count_entries(test_tmpdir()), 1);
    ck_assert_int_eq(loom_writer_commit(w), 0);
    char buf[32] = {0};
    FILE *f = fopen(test_path("out.txt"), "r");
    ck_assert_uint_eq(fread(buf, 1, sizeof buf, f), 8);
    fclose(f);
    ck_assert_str_eq(buf, "hello 7\n");

    ck_assert_int_eq(loom_writer_open(&w, test_path("gone.txt"), LOOM_WRITE_AUTO), 0);
    loom_writer_puts(w, "partial");
    loom_writer_abort(w);
    ck_assert_int_ne(access(test_path("gone.txt"), F_OK), 0);
    ck_assert_int_eq(count_entries(test_tmpdir()), 1);
    loom_writer_abort(NULL);
}
END_TEST

START_TEST(writer_large_gzip_roundtrip)
{
    loom_writer *w;
    ck_assert_int_eq(loom_writer_open(&w, test_path("big.gz"), LOOM_WRITE_AUTO), 0);
    for (int i = 0; i < 100000; i++)
        ck_assert_int_eq(loom_writer_printf(w, "line %d\n", i), 0);
    ck_assert_int_eq(loom_writer_commit(w), 0);
    loom_reader *r;
    ck_assert_int_eq(loom_reader_open(&r, test_path("big.gz")), 0);
    ck_assert_int_eq(loom_reader_is_gzip(r), 1);
    char *buf = NULL;
    size_t cap = 0, len;
    int i = 0;
    while (loom_reader_getline(r, &buf, &cap, &len, 100) == 1) {
        char want[32];
        snprintf(want, sizeof want, "line %d", i++);
        ck_assert_str_eq(buf, want);
    }
    ck_assert_int_eq(i, 100000);
    free(buf);
    loom_reader_close(r);
}
END_TEST

START_TEST(writer_rejects_unwritable_paths)
{
    ck_assert_int_eq(loom_check_writable(test_path("fine.txt")), 0);
    ck_assert_int_eq(loom_check_writable(test_path("missing/dir.txt")), LOOM_EIO);
    ck_assert_ptr_nonnull(strstr(loom_error_message(), "missing/dir.txt"));
    ck_assert_int_lt(loom_check_writable(test_tmpdir()), 0);
    loom_writer *w;
    ck_assert_int_lt(loom_writer_open(&w, test_path("missing/x"), LOOM_WRITE_AUTO), 0);
    ck_assert_ptr_null(w);
}
END_TEST

START_TEST(writer_refuses_declared_inputs_and_follows_links)
{
    char in[4096], hard[4096], lnk[4096];
    snprintf(in, sizeof in, "%s", test_path("in.txt"));
    snprintf(hard, sizeof hard, "%s", test_path("hard.txt"));
    snprintf(lnk, sizeof lnk, "%s", test_path("link.txt"));
    FILE *f = fopen(in, "w");
    fputs("input\n", f);
    fclose(f);
    ck_assert_int_eq(link(in, hard), 0);
    ck_assert_int_eq(symlink("in.txt", lnk), 0);
    ck_assert_int_eq(loom_check_writable(lnk), 0); /* not declared yet */
    ck_assert_int_eq(loom_writer_protect(in), 0);
    ck_assert_int_eq(loom_writer_protect("-"), 0);
    ck_assert_int_eq(loom_writer_protect(test_path("missing.txt")), 0);
    loom_writer *w;
    ck_assert_int_eq(loom_writer_open(&w, hard, LOOM_WRITE_AUTO), LOOM_EINVAL);
    ck_assert_ptr_nonnull(strstr(loom_error_message(), "hard.txt: will not write over an input"));
    ck_assert_int_eq(loom_check_writable(lnk), LOOM_EINVAL);
    ck_assert_int_eq(loom_check_writable(""), LOOM_EINVAL);
    ck_assert_str_eq(loom_error_message(), "output file name is empty");

    /* A link to an undeclared file: the target is replaced, the link kept. */
    char other[4096], olink[4096];
    snprintf(other, sizeof other, "%s", test_path("other.txt"));
    snprintf(olink, sizeof olink, "%s", test_path("olink.txt"));
    ck_assert_int_eq(symlink("other.txt", olink), 0);
    ck_assert_int_eq(loom_writer_open(&w, olink, LOOM_WRITE_AUTO), 0);
    loom_writer_puts(w, "out\n");
    ck_assert_int_eq(loom_writer_commit(w), 0);
    struct stat st;
    ck_assert_int_eq(lstat(olink, &st), 0);
    ck_assert(S_ISLNK(st.st_mode));
    ck_assert_int_eq(lstat(other, &st), 0);
    ck_assert(S_ISREG(st.st_mode));
    ck_assert_int_eq(st.st_size, 4);
}
END_TEST

START_TEST(arena_aligns_and_bounds)
{
    loom_arena *a;
    ck_assert_int_eq(loom_arena_new(&a, 1024), 0);
    float *x = loom_arena_floats(a, 10);
    float *y = loom_arena_floats(a, 10);
    ck_assert_ptr_nonnull(x);
    ck_assert_uint_eq((uintptr_t)x % 64, 0);
    ck_assert_uint_eq((uintptr_t)y % 64, 0);
    ck_assert(y >= x + 10);
    ck_assert_float_eq(y[9], 0.0f);
    ck_assert_ptr_null(loom_arena_alloc(a, 2000, 1));
    loom_arena_reset(a);
    ck_assert_uint_eq(loom_arena_used(a), 0);
    ck_assert_ptr_nonnull(loom_arena_alloc(a, 1000, 1));
    loom_arena_free(a);
    loom_arena_free(NULL);
}
END_TEST

START_TEST(grow_keeps_items_and_doubles)
{
    int *a = NULL;
    size_t cap = 0;
    ck_assert_int_eq(loom_grow((void **)&a, &cap, 1, sizeof *a), 0);
    ck_assert_uint_eq(cap, 16); /* the smallest capacity */
    for (int i = 0; i < 16; i++)
        a[i] = i;
    ck_assert_int_eq(loom_grow((void **)&a, &cap, 17, sizeof *a), 0);
    ck_assert_uint_eq(cap, 32); /* doubled */
    ck_assert_int_eq(loom_grow((void **)&a, &cap, 1000, sizeof *a), 0);
    ck_assert_uint_eq(cap, 1000); /* the need, when more than double */
    for (int i = 0; i < 16; i++)
        ck_assert_int_eq(a[i], i);
    int *before = a;
    ck_assert_int_eq(loom_grow((void **)&a, &cap, 999, sizeof *a), 0);
    ck_assert_ptr_eq(a, before); /* room enough: nothing moves */
    ck_assert_uint_eq(cap, 1000);
    free(a);
}
END_TEST

START_TEST(grow_max_stops_at_the_bound)
{
    char *a = NULL;
    size_t cap = 0;
    ck_assert_int_eq(loom_grow_max((void **)&a, &cap, 1, 10, 1), 0);
    ck_assert_uint_eq(cap, 10); /* 16 would pass the bound */
    ck_assert_int_eq(loom_grow_max((void **)&a, &cap, 11, 1000, 1), 0);
    ck_assert_uint_eq(cap, 20); /* doubled, under the bound */
    ck_assert_int_eq(loom_grow_max((void **)&a, &cap, 21, 30, 1), 0);
    ck_assert_uint_eq(cap, 30); /* doubling would pass it: stops there */
    ck_assert_int_eq(loom_grow_max((void **)&a, &cap, 31, 30, 1), 0);
    ck_assert_uint_eq(cap, 31); /* a need above the bound still gets its room */
    memset(a, 'x', cap);
    free(a);
}
END_TEST

START_TEST(grow_overflow_leaves_the_array)
{
    double *a = NULL;
    size_t cap = 0;
    ck_assert_int_eq(loom_grow((void **)&a, &cap, 4, sizeof *a), 0);
    a[3] = 2.5;
    double *before = a;
    ck_assert_int_eq(loom_grow((void **)&a, &cap, SIZE_MAX / 4, sizeof *a), LOOM_ENOMEM);
    ck_assert_ptr_nonnull(strstr(loom_error_message(), "overflows"));
    ck_assert_ptr_eq(a, before);
    ck_assert_uint_eq(cap, 16);
    ck_assert_double_eq(a[3], 2.5);
    /* doubling near the limit stops at the limit rather than wrapping */
    ck_assert_uint_eq(loom_grow_size(SIZE_MAX / 8 - 1, SIZE_MAX / 8, 8), SIZE_MAX / 8);
    ck_assert_uint_eq(loom_grow_size(0, SIZE_MAX / 8 + 1, 8), 0);
    free(a);
}
END_TEST

START_TEST(hash_depends_on_every_byte_and_not_on_address)
{
    char buf[64 + 8];
    const char *text = "the quick brown fox jumps over the lazy dog, twice over";
    size_t len = strlen(text);
    for (size_t n = 0; n <= len; n++) {
        uint64_t h = loom_hash_bytes(text, n);
        for (size_t shift = 1; shift < 8; shift++) { /* any alignment */
            memcpy(buf + shift, text, n);
            ck_assert_uint_eq(loom_hash_bytes(buf + shift, n), h);
            ck_assert(loom_same_bytes(buf + shift, text, n));
        }
        if (n > 0)
            ck_assert_uint_ne(h, loom_hash_bytes(text, n - 1)); /* length counts */
        for (size_t i = 0; i < n; i++) { /* a flipped bit anywhere changes it */
            memcpy(buf, text, n);
            buf[i] ^= 4;
            ck_assert_uint_ne(loom_hash_bytes(buf, n), h);
            ck_assert(!loom_same_bytes(buf, text, n));
        }
    }
    ck_assert_uint_eq(loom_hash_str("vocab"), loom_hash_bytes("vocabulary", 5));
}
END_TEST

START_TEST(hash_low_bits_spread)
{
    /* Words w0..w4095 into 4096 buckets by the low bits, as the tables use
     * them: a good hash leaves about 1/e of the buckets empty. */
    enum { N = 4096 };
    static unsigned char used[N];
    memset(used, 0, sizeof used);
    char w[16];
    for (int i = 0; i < N; i++) {
        int n = snprintf(w, sizeof w, "w%d", i);
        used[loom_hash_bytes(w, (size_t)n) & (N - 1)] = 1;
    }
    int empty = 0;
    for (int i = 0; i < N; i++)
        empty += !used[i];
    ck_assert_int_gt(empty, N * 33 / 100);
    ck_assert_int_lt(empty, N * 41 / 100);
}
END_TEST

typedef struct {
    pthread_t caller;
    atomic_int runs[8];
    atomic_int on_caller[8];
    int fail_from; /* shares >= this fail (their number in the message) */
} fan_ctx;

static int fan_share(void *ctx, int thread, int nthreads)
{
    fan_ctx *c = ctx;
    ck_assert_int_eq(nthreads, 8);
    atomic_fetch_add(&c->runs[thread], 1);
    if (pthread_equal(pthread_self(), c->caller))
        atomic_fetch_add(&c->on_caller[thread], 1);
    if (thread >= c->fail_from)
        return loom_error(thread % 2 ? LOOM_EFORMAT : LOOM_EIO, "share %d failed", thread);
    return 0;
}

START_TEST(parallel_runs_each_share_once)
{
    fan_ctx c = {.caller = pthread_self(), .fail_from = 8};
    ck_assert_int_eq(loom_parallel_run(8, fan_share, &c), 0);
    for (int t = 0; t < 8; t++)
        ck_assert_int_eq(atomic_load(&c.runs[t]), 1);
    ck_assert_int_eq(atomic_load(&c.on_caller[0]), 1); /* share 0 is the caller's */
    int elsewhere = 0;
    for (int t = 1; t < 8; t++)
        elsewhere += !atomic_load(&c.on_caller[t]);
    ck_assert_int_eq(elsewhere, 7);
    ck_assert_int_eq(loom_parallel_run(0, fan_share, &c), LOOM_EINVAL);
}
END_TEST

START_TEST(parallel_returns_the_first_failure_with_its_message)
{
    fan_ctx c = {.caller = pthread_self(), .fail_from = 5};
    loom_error_clear();
    /* shares 5, 6, 7 fail on their own threads; 5's code and message win */
    ck_assert_int_eq(loom_parallel_run(8, fan_share, &c), LOOM_EFORMAT);
    ck_assert_str_eq(loom_error_message(), "share 5 failed");
    for (int t = 0; t < 8; t++)
        ck_assert_int_eq(atomic_load(&c.runs[t]), 1); /* the others still ran */
}
END_TEST

/* Threads whose stacks cannot be mapped (4 EiB each, more than any
 * address space) from here on: every pthread_create fails, as under a
 * process or memory limit. Check runs each test in its own process, so
 * the default ends with the test. */
static void no_thread_can_start(void)
{
    pthread_attr_t huge;
    ck_assert_int_eq(pthread_attr_init(&huge), 0);
    ck_assert_int_eq(pthread_attr_setstacksize(&huge, (size_t)1 << 62), 0);
    ck_assert_int_eq(pthread_setattr_default_np(&huge), 0);
    pthread_attr_destroy(&huge);
}

START_TEST(parallel_runs_unstartable_shares_on_the_caller)
{
    /* every share still runs once, on the calling thread */
    no_thread_can_start();
    fan_ctx c = {.caller = pthread_self(), .fail_from = 8};
    ck_assert_int_eq(loom_parallel_run(8, fan_share, &c), 0);
    for (int t = 0; t < 8; t++) {
        ck_assert_int_eq(atomic_load(&c.runs[t]), 1);
        ck_assert_int_eq(atomic_load(&c.on_caller[t]), 1);
    }
}
END_TEST

/* the kernel's thread ids of each share's runs, to count the threads */
typedef struct {
    fan_ctx fan;
    long tid[200][8];
    int run;
} kept_ctx;

static int kept_share(void *ctx, int thread, int nthreads)
{
    kept_ctx *c = ctx;
    c->tid[c->run][thread] = (long)syscall(SYS_gettid);
    return fan_share(&c->fan, thread, nthreads);
}

START_TEST(team_runs_each_share_once_on_kept_threads)
{
    static kept_ctx c;
    loom_team *tm;
    ck_assert_int_eq(loom_team_new(&tm, 8), 0);
    for (c.run = 0; c.run < 200; c.run++) {
        c.fan = (fan_ctx){.caller = pthread_self(), .fail_from = 8};
        ck_assert_int_eq(loom_team_run(tm, kept_share, &c), 0);
        for (int t = 0; t < 8; t++)
            ck_assert_int_eq(atomic_load(&c.fan.runs[t]), 1);
        ck_assert_int_eq(atomic_load(&c.fan.on_caller[0]), 1); /* share 0 is the caller's */
    }
    loom_team_free(tm);
    /* 1,600 shares on at most 8 threads (the caller and the team's 7, or
     * the caller alone for a share taken back); loom_parallel_run would
     * have started 1,400 threads */
    long seen[8];
    int distinct = 0;
    for (int r = 0; r < 200; r++)
        for (int t = 0; t < 8; t++) {
            int known = 0;
            for (int i = 0; i < distinct && !known; i++)
                known = seen[i] == c.tid[r][t];
            ck_assert(known || distinct < 8);
            if (!known)
                seen[distinct++] = c.tid[r][t];
        }
    ck_assert_int_eq(loom_team_new(&tm, 0), LOOM_EINVAL);
    ck_assert_ptr_null(tm);
    loom_team_free(NULL);
}
END_TEST

START_TEST(team_returns_the_first_failure_with_its_message)
{
    loom_team *tm;
    ck_assert_int_eq(loom_team_new(&tm, 8), 0);
    for (int run = 0; run < 3; run++) {
        fan_ctx c = {.caller = pthread_self(), .fail_from = 5};
        loom_error_clear();
        ck_assert_int_eq(loom_team_run(tm, fan_share, &c), LOOM_EFORMAT);
        ck_assert_str_eq(loom_error_message(), "share 5 failed");
        for (int t = 0; t < 8; t++)
            ck_assert_int_eq(atomic_load(&c.runs[t]), 1);
    }
    fan_ctx ok = {.caller = pthread_self(), .fail_from = 8}; /* a failure does not stick */
    ck_assert_int_eq(loom_team_run(tm, fan_share, &ok), 0);
    loom_team_free(tm);
}
END_TEST

START_TEST(team_runs_unstartable_shares_on_the_caller)
{
    no_thread_can_start(); /* the team is made, without threads */
    loom_team *tm;
    ck_assert_int_eq(loom_team_new(&tm, 8), 0);
    for (int run = 0; run < 3; run++) {
        fan_ctx c = {.caller = pthread_self(), .fail_from = 8};
        ck_assert_int_eq(loom_team_run(tm, fan_share, &c), 0);
        for (int t = 0; t < 8; t++) {
            ck_assert_int_eq(atomic_load(&c.runs[t]), 1);
            ck_assert_int_eq(atomic_load(&c.on_caller[t]), 1);
        }
    }
    loom_team_free(tm);
}
END_TEST

typedef struct {
    loom_chunks chunks;
    atomic_int taken[1000];
} take_ctx;

static int take_share(void *ctx, int thread, int nthreads)
{
    (void)thread, (void)nthreads;
    take_ctx *c = ctx;
    size_t begin, end, last = 0;
    int first = 1;
    while (loom_chunks_take(&c->chunks, &begin, &end)) {
        ck_assert_uint_lt(begin, end);
        ck_assert_uint_le(end - begin, 7);
        ck_assert(first || begin > last); /* each taker sees increasing chunks */
        first = 0, last = begin;
        for (size_t i = begin; i < end; i++)
            atomic_fetch_add(&c->taken[i], 1);
    }
    ck_assert_int_eq(loom_chunks_take(&c->chunks, &begin, &end), 0);
    return 0;
}

START_TEST(chunks_hand_out_every_item_once)
{
    static take_ctx c;
    for (int i = 0; i < 1000; i++)
        atomic_init(&c.taken[i], 0);
    loom_chunks_init(&c.chunks, 1000, 7);
    ck_assert_int_eq(loom_parallel_run(4, take_share, &c), 0);
    for (int i = 0; i < 1000; i++)
        ck_assert_int_eq(atomic_load(&c.taken[i]), 1);
    size_t begin, end;
    loom_chunks_init(&c.chunks, 0, 7);
    ck_assert_int_eq(loom_chunks_take(&c.chunks, &begin, &end), 0);
    loom_chunks_init(&c.chunks, 3, 0); /* chunk 0 means 1 */
    ck_assert_int_eq(loom_chunks_take(&c.chunks, &begin, &end), 1);
    ck_assert_uint_eq(begin, 0);
    ck_assert_uint_eq(end, 1);
}
END_TEST

START_TEST(rng_is_repeatable_and_streams_differ)
{
    loom_rng a, b, c;
    loom_rng_seed(&a, 12345, 0);
    loom_rng_seed(&b, 12345, 0);
    loom_rng_seed(&c, 12345, 1);
    int same_c = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = loom_rng_next(&a), y = loom_rng_next(&b), z = loom_rng_next(&c);
        ck_assert_uint_eq(x, y);
        same_c += x == z;
    }
    ck_assert_int_eq(same_c, 0);
    /* Known first output of xoshiro256** seeded by splitmix64(0). */
    loom_rng_seed(&a, 0, 0);
    ck_assert_uint_eq(loom_rng_next(&a), 0x99ec5f36cb75f2b4ull);
}
END_TEST

START_TEST(rng_ranges_and_moments)
{
    loom_rng r;
    loom_rng_seed(&r, 7, 3);
    double sum = 0, sumsq = 0;
    int counts[10] = {0};
    for (int i = 0; i < 100000; i++) {
        float u = loom_rng_uniform(&r);
        ck_assert(u >= 0.0f && u < 1.0f);
        uint32_t k = loom_rng_below(&r, 10);
        ck_assert_uint_lt(k, 10);
        counts[k]++;
        double g = loom_rng_normal(&r);
        sum += g;
        sumsq += g * g;
    }
    for (int k = 0; k < 10; k++)
        ck_assert(counts[k] > 9500 && counts[k] < 10500);
    ck_assert(sum / 100000 > -0.02 && sum / 100000 < 0.02);
    ck_assert(sumsq / 100000 > 0.98 && sumsq / 100000 < 1.02);
}
END_TEST

static Suite *base_suite(void)
{
    Suite *s = suite_create("base");
    TCase *tc = tcase_create("base");
    tcase_add_checked_fixture(tc, test_setup_tmpdir, test_teardown_tmpdir);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, error_message_carries_detail);
    tcase_add_test(tc, reader_lines_crlf_and_missing_newline);
    tcase_add_test(tc, reader_long_line_in_pieces);
    tcase_add_test(tc, reader_line_filling_buffer_exactly);
    tcase_add_test(tc, reader_gzip_is_transparent);
    tcase_add_test(tc, reader_corrupt_and_truncated_gzip_are_errors);
    tcase_add_test(tc, reader_missing_file_names_it);
    tcase_add_test(tc, reader_getline_enforces_limit);
    tcase_add_test(tc, writer_commit_and_abort);
    tcase_add_test(tc, writer_large_gzip_roundtrip);
    tcase_add_test(tc, writer_rejects_unwritable_paths);
    tcase_add_test(tc, writer_refuses_declared_inputs_and_follows_links);
    tcase_add_test(tc, arena_aligns_and_bounds);
    tcase_add_test(tc, grow_keeps_items_and_doubles);
    tcase_add_test(tc, grow_overflow_leaves_the_array);
    tcase_add_test(tc, grow_max_stops_at_the_bound);
    tcase_add_test(tc, hash_depends_on_every_byte_and_not_on_address);
    tcase_add_test(tc, hash_low_bits_spread);
    tcase_add_test(tc, parallel_runs_each_share_once);
    tcase_add_test(tc, parallel_returns_the_first_failure_with_its_message);
    tcase_add_test(tc, parallel_runs_unstartable_shares_on_the_caller);
    tcase_add_test(tc, team_runs_each_share_once_on_kept_threads);
    tcase_add_test(tc, team_returns_the_first_failure_with_its_message);
    tcase_add_test(tc, team_runs_unstartable_shares_on_the_caller);
    tcase_add_test(tc, chunks_hand_out_every_item_once);
    tcase_add_test(tc, rng_is_repeatable_and_streams_differ);
    tcase_add_test(tc, rng_ranges_and_moments);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(base_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
