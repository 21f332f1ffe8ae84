/* Helpers shared by the Check suites (tests only). */
#ifndef DJS_TESTS_TESTUTIL_H
#define DJS_TESTS_TESTUTIL_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

/* A fresh directory for one test (under $DJS_TEST_TMP or /var/tmp), like
 * beanstalkd's ctdir(). Returns a path in one of 8 static
 * buffers (reused after 8 calls). The directory is not removed: a
 * failed test leaves its evidence; the build tree's tmp/ is disposable. */
const char *tu_tmpdir(void);
/* Remove a directory of plain files (an LMDB environment). */
void tu_rmtree(const char *dir);
/* Read a whole file into a malloc'd buffer; *len gets its size. */
uint8_t *tu_read_file(const char *path, size_t *len);
int tu_write_file(const char *path, const void *data, size_t len);

/* Cheap assertions for hot loops: Check's ck_assert_* report every passing
 * check to the parent process (a pipe write), too slow for many thousands.
 * REQ(cond) fails the test with the file, line and expression when cond is
 * false; REQ_EQ(a, b) compares both as unsigned long long and prints them. */
#define REQ(c)                                                                                                                     \
    do {                                                                                                                           \
        if (!(c))                                                                                                                  \
            ck_abort_msg("%s:%d: assertion '%s' failed", __FILE__, __LINE__, #c);                                                  \
    } while (0)
#define REQ_EQ(a, b)                                                                                                               \
    do {                                                                                                                           \
        unsigned long long a_ = (unsigned long long)(a), b_ = (unsigned long long)(b);                                             \
        if (a_ != b_)                                                                                                              \
            ck_abort_msg("%s:%d: %s == %s failed (%llu != %llu)", __FILE__, __LINE__, #a, #b, a_, b_);                             \
    } while (0)

/* main() for a test executable made of one suite. CK_FORK stays on (the
 * default), each test in its own process. */
#define DJS_TEST_MAIN(suite_fn)                                                                                                    \
    int main(void)                                                                                                                 \
    {                                                                                                                              \
        SRunner *sr = srunner_create(suite_fn());                                                                                  \
        srunner_run_all(sr, CK_NORMAL);                                                                                            \
        int failed = srunner_ntests_failed(sr);                                                                                    \
        srunner_free(sr);                                                                                                          \
        return failed == 0 ? 0 : 1;                                                                                                \
    }

#endif
