/* Shared helpers for loom's Check suites: a fresh temporary directory per
 * test (a checked fixture) and small file writers. */
#ifndef LOOM_TESTS_TESTUTIL_H
#define LOOM_TESTS_TESTUTIL_H

#include <stddef.h>

/* Checked fixture: creates /tmp/loom-test.XXXXXX before each test and
 * removes it after. */
void test_setup_tmpdir(void);
void test_teardown_tmpdir(void);
const char *test_tmpdir(void);
/* test_tmpdir()/name, in one of 8 rotating buffers. */
const char *test_path(const char *name);
/* Writes n bytes to path, failing the test on error. */
void test_write_file(const char *path, const void *data, size_t n);

#endif
