/* Tests for the model container (src/base/safetensors) and for saving and
 * loading parameter sets through it (src/core/param): exact round trips,
 * metadata, gzip, and every way a truncated or foreign file is refused. */
#include "config.h"
#include "base/error.h"
#include "base/safetensors.h"
#include "core/param.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "testutil.h"

/* A file with the given JSON header (length prefix added) and data bytes. */
static void write_raw(const char *path, const char *json, const void *data, size_t ndata)
{
    size_t len = strlen(json);
    unsigned char *buf = malloc(8 + len + ndata);
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)((uint64_t)len >> (8 * i));
    memcpy(buf + 8, json, len);
    if (ndata)
        memcpy(buf + 8 + len, data, ndata);
    test_write_file(path, buf, 8 + len + ndata);
    free(buf);
}

static void save_sample(const char *path)
{
    static const float f[6] = {1.5f, -2.25f, 3e-8f, 1e30f, 0.0f, -0.0f};
    static const int32_t i32[3] = {-1, 0, 2147483647};
    static const int64_t i64[2] = {-5, 1LL << 40};
    static const uint8_t u8[5] = {0, 0x80, 0xff, 'a', 10}; /* an odd length, laid out last */
    loom_st_writer *w;
    ck_assert_int_eq(loom_st_writer_new(&w), 0);
    int shape[2] = {2, 3};
    int64_t s3 = 3, s2 = 2;
    ck_assert_int_eq(loom_st_writer_add_f32(w, "weights", 2, shape, f), 0);
    ck_assert_int_eq(loom_st_writer_add(w, "ids", LOOM_ST_I32, 1, &s3, i32), 0);
    ck_assert_int_eq(loom_st_writer_add(w, "big", LOOM_ST_I64, 1, &s2, i64), 0);
    int64_t s5 = 5;
    ck_assert_int_eq(loom_st_writer_add(w, "bytes", LOOM_ST_U8, 1, &s5, u8), 0);
    ck_assert_int_eq(loom_st_writer_add(w, "ids", LOOM_ST_I32, 1, &s3, i32), LOOM_EINVAL);
    ck_assert_int_eq(loom_st_writer_meta(w, "format", "loom-test"), 0);
    ck_assert_int_eq(loom_st_writer_meta(w, "config", "{\"dim\": 3, \"name\": \"\\u00e9\"}"), 0);
    ck_assert_int_eq(loom_st_writer_meta(w, "format", "loom-test 2"), 0);
    ck_assert_int_eq(loom_st_writer_save(w, path), 0);
    loom_st_writer_free(w);
}

static void check_sample(const char *path)
{
    loom_st_file *f;
    ck_assert_int_eq(loom_st_open(&f, path), 0);
    ck_assert_uint_eq(loom_st_count(f), 4);
    ck_assert_str_eq(loom_st_at(f, 0)->name, "weights"); /* header keeps the order of _add */
    const loom_st_tensor *t = loom_st_find(f, "weights");
    ck_assert_int_eq(t->dtype, LOOM_ST_F32);
    ck_assert_int_eq(t->ndim, 2);
    ck_assert_int_eq(t->shape[0], 2);
    ck_assert_int_eq(t->shape[1], 3);
    const float *v;
    int64_t shape[2] = {2, 3};
    ck_assert_int_eq(loom_st_get_f32(f, "weights", 2, shape, &v), 0);
    const float want[6] = {1.5f, -2.25f, 3e-8f, 1e30f, 0.0f, -0.0f};
    ck_assert_int_eq(memcmp(v, want, sizeof want), 0);
    const int32_t *ids = loom_st_find(f, "ids")->data;
    ck_assert_int_eq(ids[2], 2147483647);
    const int64_t *big = loom_st_find(f, "big")->data;
    ck_assert(big[1] == 1LL << 40 && big[0] == -5);
    ck_assert_uint_eq((uintptr_t)big % 8, 0);
    const loom_st_tensor *b = loom_st_find(f, "bytes");
    ck_assert(b->dtype == LOOM_ST_U8 && b->numel == 5 && b->nbytes == 5);
    ck_assert_str_eq(loom_st_dtype_name(b->dtype), "U8");
    ck_assert_int_eq(memcmp(b->data,
                            "\0\x80\xff"
                            "a\n",
                            5),
                     0);
    ck_assert_str_eq(loom_st_meta(f, "format"), "loom-test 2");
    ck_assert_str_eq(loom_st_meta(f, "config"), "{\"dim\": 3, \"name\": \"\\u00e9\"}");
    ck_assert_ptr_null(loom_st_meta(f, "nope"));
    ck_assert_uint_eq(loom_st_meta_count(f), 2);
    ck_assert_ptr_null(loom_st_find(f, "nope"));
    ck_assert_int_eq(loom_st_get_f32(f, "nope", 0, NULL, &v), LOOM_ENOTFOUND);
    ck_assert_int_eq(loom_st_get_f32(f, "ids", 0, NULL, &v), LOOM_EFORMAT);
    int64_t wrong[2] = {3, 2};
    ck_assert_int_eq(loom_st_get_f32(f, "weights", 2, wrong, &v), LOOM_EFORMAT);
    ck_assert_ptr_nonnull(strstr(loom_error_message(), "shape (2,3), expected (3,2)"));
    loom_st_close(f);
}

START_TEST(test_roundtrip_exact_with_metadata)
{
    save_sample(test_path("m.loom"));
    check_sample(test_path("m.loom"));
    /* The header is padded to 8 bytes, so the data starts aligned. */
    FILE *fp = fopen(test_path("m.loom"), "rb");
    unsigned char len[8];
    ck_assert_uint_eq(fread(len, 1, 8, fp), 8);
    fclose(fp);
    ck_assert_uint_eq(len[0] % 8, 0);
}
END_TEST

START_TEST(test_roundtrip_gzip)
{
    save_sample(test_path("m.loom.gz"));
    FILE *fp = fopen(test_path("m.loom.gz"), "rb");
    unsigned char magic[2];
    ck_assert_uint_eq(fread(magic, 1, 2, fp), 2);
    fclose(fp);
    ck_assert(magic[0] == 0x1f && magic[1] == 0x8b);
    check_sample(test_path("m.loom.gz"));
}
END_TEST

static void expect_format_error(const char *path, const char *fragment)
{
    loom_st_file *f = (loom_st_file *)1;
    ck_assert_int_eq(loom_st_open(&f, path), LOOM_EFORMAT);
    ck_assert_ptr_null(f);
    const char *msg = loom_error_message();
    ck_assert_msg(strstr(msg, path) != NULL, "message '%s' does not name the file", msg);
    ck_assert_msg(strstr(msg, fragment) != NULL, "message '%s' lacks '%s'", msg, fragment);
}

START_TEST(test_truncated_file_is_format_error)
{
    save_sample(test_path("m.loom"));
    FILE *fp = fopen(test_path("m.loom"), "rb");
    unsigned char buf[4096];
    size_t n = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    /* Cut in the data, in the header, and in the length prefix. */
    test_write_file(test_path("cut1"), buf, n - 1);
    expect_format_error(test_path("cut1"), "truncated");
    test_write_file(test_path("cut2"), buf, 20);
    expect_format_error(test_path("cut2"), "truncated header");
    test_write_file(test_path("cut3"), buf, 5);
    expect_format_error(test_path("cut3"), "truncated header length");
    test_write_file(test_path("empty"), buf, 0);
    expect_format_error(test_path("empty"), "truncated");
    /* A byte too many is not a safetensors file either. */
    buf[n] = 0;
    test_write_file(test_path("long"), buf, n + 1);
    expect_format_error(test_path("long"), "after the last tensor");
}
END_TEST

START_TEST(test_foreign_files_are_format_errors)
{
    const char *text = "word2vec 3 2\nthe 0.1 0.2\n";
    test_write_file(test_path("text"), text, strlen(text));
    expect_format_error(test_path("text"), "header length");
    float zeros[4] = {0};
    write_raw(test_path("notjson"), "{not json}", NULL, 0);
    expect_format_error(test_path("notjson"), "bad JSON");
    write_raw(test_path("array"), "[1, 2, 3]", NULL, 0);
    expect_format_error(test_path("array"), "not a JSON object");
    write_raw(test_path("dtype"), "{\"a\":{\"dtype\":\"Q7\",\"shape\":[1],\"data_offsets\":[0,4]}}",
              zeros, 4);
    expect_format_error(test_path("dtype"), "unsupported dtype Q7");
    write_raw(test_path("size"), "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}",
              zeros, 4);
    expect_format_error(test_path("size"), "do not match");
    write_raw(test_path("past"),
              "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", zeros, 8);
    expect_format_error(test_path("past"), "truncated");
    write_raw(test_path("neg"), "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}",
              zeros, 4);
    expect_format_error(test_path("neg"), "non-negative");
    write_raw(test_path("huge"),
              "{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],"
              "\"data_offsets\":[0,4]}}",
              zeros, 4);
    expect_format_error(test_path("huge"), "too large");
    write_raw(test_path("overlap"),
              "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
              "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
              zeros, 12);
    expect_format_error(test_path("overlap"), "overlaps");
    write_raw(test_path("dup"),
              "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
              "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
              zeros, 8);
    expect_format_error(test_path("dup"), "duplicate");
    write_raw(test_path("meta"), "{\"__metadata__\":{\"k\":3}}", NULL, 0);
    expect_format_error(test_path("meta"), "not a string");
    /* A header length beyond 100 MB is refused before any allocation. */
    unsigned char big[8] = {0, 0, 0, 0, 0, 0, 0, 0x10};
    test_write_file(test_path("biglen"), big, 8);
    expect_format_error(test_path("biglen"), "out of range");
}
END_TEST

START_TEST(test_huge_claims_cost_nothing)
{
    /* A header claiming 4 TB of data over 8 real bytes is refused as
     * truncated, plain (from the file size, before allocating) and gzip
     * (after reading the 8 bytes that exist), without trying to allocate. */
    const char *json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1099511627776],"
                       "\"data_offsets\":[0,4398046511104]}}";
    float zeros[2] = {0};
    write_raw(test_path("claim"), json, zeros, 8);
    expect_format_error(test_path("claim"), "truncated: tensor 'a' ends at byte 4398046511104");
    size_t len = strlen(json);
    unsigned char prefix[8];
    for (int i = 0; i < 8; i++)
        prefix[i] = (unsigned char)((uint64_t)len >> (8 * i));
    gzFile g = gzopen(test_path("claim.gz"), "wb");
    ck_assert_ptr_nonnull(g);
    gzwrite(g, prefix, 8);
    gzwrite(g, json, (unsigned)len);
    gzwrite(g, zeros, 8);
    gzclose(g);
    expect_format_error(test_path("claim.gz"), "which has only 8");
}
END_TEST

START_TEST(test_missing_file_is_io_error)
{
    loom_st_file *f;
    ck_assert_int_eq(loom_st_open(&f, test_path("absent.loom")), LOOM_EIO);
    ck_assert_ptr_nonnull(strstr(loom_error_message(), "absent.loom"));
}
END_TEST

START_TEST(test_foreign_writer_layout_is_read)
{
    /* As Python's safetensors writes: metadata, unpadded header, a scalar,
     * an empty tensor, and an odd-offset tensor that must be realigned. */
    unsigned char data[1 + 8] = {0x7f};
    float x = 2.5f;
    memcpy(data + 1, &x, 4);
    memcpy(data + 5, &x, 4);
    write_raw(test_path("py"),
              "{\"__metadata__\":{\"format\":\"pt\"},"
              "\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[1,5]},"
              "\"e\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[1,1]},"
              "\"v\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[5,9]}}",
              data, 9);
    /* Byte 0 is not covered by any tensor: refused (a gap). */
    loom_st_file *f;
    ck_assert_int_eq(loom_st_open(&f, test_path("py")), LOOM_EFORMAT);
    write_raw(test_path("py2"),
              "{\"__metadata__\":{\"format\":\"pt\"},"
              "\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
              "\"e\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[4,4]},"
              "\"v\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}   ",
              data + 1, 8);
    ck_assert_int_eq(loom_st_open(&f, test_path("py2")), 0);
    ck_assert_uint_eq(loom_st_count(f), 3);
    ck_assert_str_eq(loom_st_meta(f, "format"), "pt");
    ck_assert_int_eq(loom_st_find(f, "s")->ndim, 0);
    ck_assert_uint_eq(loom_st_find(f, "s")->numel, 1);
    ck_assert(*(const float *)loom_st_find(f, "s")->data == 2.5f);
    ck_assert_uint_eq(loom_st_find(f, "e")->numel, 0);
    ck_assert(*(const float *)loom_st_find(f, "v")->data == 2.5f);
    loom_st_close(f);
    /* An I64 at byte offset 4 is handed out realigned, value intact. */
    int32_t i32 = -7;
    int64_t i64 = -(1LL << 50);
    unsigned char mis[12];
    memcpy(mis, &i32, 4);
    memcpy(mis + 4, &i64, 8);
    write_raw(test_path("mis"),
              "{\"a\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]},"
              "\"b\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[4,12]}}",
              mis, 12);
    ck_assert_int_eq(loom_st_open(&f, test_path("mis")), 0);
    const int64_t *pb = loom_st_find(f, "b")->data;
    ck_assert_uint_eq((uintptr_t)pb % 8, 0);
    ck_assert(*pb == i64);
    ck_assert_int_eq(*(const int32_t *)loom_st_find(f, "a")->data, -7);
    loom_st_close(f);
}
END_TEST

static loom_params *sample_params(uint64_t seed)
{
    loom_params *ps;
    loom_param *emb, *w, *b;
    ck_assert_int_eq(loom_params_new(&ps), 0);
    ck_assert_int_eq(loom_params_add2(ps, &emb, "emb", 7, 5), 0);
    ck_assert_int_eq(loom_params_add2(ps, &w, "dense.W", 5, 3), 0);
    ck_assert_int_eq(loom_params_add1(ps, &b, "dense.b", 3), 0);
    ck_assert_int_eq(loom_params_alloc(ps), 0);
    loom_rng rng;
    loom_rng_seed(&rng, seed, 0);
    loom_init_uniform(emb->value, emb->size, 1.0f, &rng);
    loom_init_glorot(w->value, 5, 3, &rng);
    loom_init_normal(b->value, b->size, 0.1f, &rng);
    return ps;
}

START_TEST(test_params_save_load_roundtrip)
{
    loom_params *a = sample_params(1), *b = sample_params(2);
    const char *meta[] = {"format", "loom-test", "vocab", "[\"a\",\"b\"]", NULL};
    ck_assert_int_eq(loom_params_save(a, test_path("p.loom"), meta), 0);
    ck_assert_int_ne(memcmp(loom_params_at(a, 0)->value, loom_params_at(b, 0)->value, 35 * 4), 0);
    ck_assert_int_eq(loom_params_load(b, test_path("p.loom")), 0);
    for (size_t i = 0; i < loom_params_len(a); i++) {
        loom_param *pa = loom_params_at(a, i), *pb = loom_params_at(b, i);
        ck_assert_int_eq(memcmp(pa->value, pb->value, pa->size * sizeof(float)), 0);
    }
    loom_st_file *f;
    ck_assert_int_eq(loom_st_open(&f, test_path("p.loom")), 0);
    ck_assert_str_eq(loom_st_meta(f, "vocab"), "[\"a\",\"b\"]");
    ck_assert_int_eq(loom_st_find(f, "dense.W")->shape[0], 5);
    loom_st_close(f);
    loom_params_free(a);
    loom_params_free(b);
}
END_TEST

START_TEST(test_params_load_checks_names_and_shapes)
{
    loom_params *a = sample_params(1);
    ck_assert_int_eq(loom_params_save(a, test_path("p.loom"), NULL), 0);
    loom_params *ps;
    ck_assert_int_eq(loom_params_new(&ps), 0);
    ck_assert_int_eq(loom_params_add2(ps, NULL, "dense.W", 3, 5), 0);
    ck_assert_int_eq(loom_params_alloc(ps), 0);
    ck_assert_int_eq(loom_params_load(ps, test_path("p.loom")), LOOM_EFORMAT);
    ck_assert_ptr_nonnull(strstr(loom_error_message(), "dense.W"));
    loom_params_free(ps);
    ck_assert_int_eq(loom_params_new(&ps), 0);
    ck_assert_int_eq(loom_params_add1(ps, NULL, "dec.b", 3), 0);
    ck_assert_int_eq(loom_params_alloc(ps), 0);
    ck_assert_int_eq(loom_params_load(ps, test_path("p.loom")), LOOM_EFORMAT);
    ck_assert_ptr_nonnull(strstr(loom_error_message(), "lacks parameter 'dec.b'"));
    loom_params_free(ps);
    loom_params_free(a);
}
END_TEST

static Suite *safetensors_suite(void)
{
    Suite *s = suite_create("safetensors");
    TCase *tc = tcase_create("safetensors");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, test_setup_tmpdir, test_teardown_tmpdir);
    tcase_add_test(tc, test_roundtrip_exact_with_metadata);
    tcase_add_test(tc, test_roundtrip_gzip);
    tcase_add_test(tc, test_truncated_file_is_format_error);
    tcase_add_test(tc, test_foreign_files_are_format_errors);
    tcase_add_test(tc, test_huge_claims_cost_nothing);
    tcase_add_test(tc, test_missing_file_is_io_error);
    tcase_add_test(tc, test_foreign_writer_layout_is_read);
    tcase_add_test(tc, test_params_save_load_roundtrip);
    tcase_add_test(tc, test_params_load_checks_names_and_shapes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(safetensors_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
