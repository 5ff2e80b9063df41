/* A tiny test harness: CHECK records a failure and goes on; the test's main
 * returns nc_test_summary(), which prints "N passed, N failed". */
#ifndef NC_TEST_UTIL_H
#define NC_TEST_UTIL_H

#include <stdio.h>

static int nc_test_pass_, nc_test_fail_;

#define CHECK(cond)                                                         \
    do {                                                                    \
        if (cond) {                                                         \
            nc_test_pass_++;                                                \
        } else {                                                            \
            nc_test_fail_++;                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                   \
    } while (0)

#define CHECK_MSG(cond, ...)                                                \
    do {                                                                    \
        if (cond) {                                                         \
            nc_test_pass_++;                                                \
        } else {                                                            \
            nc_test_fail_++;                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                   \
            fputc('\n', stderr);                                            \
        }                                                                   \
    } while (0)

static inline int nc_test_summary(void) {
    printf("%d passed, %d failed\n", nc_test_pass_, nc_test_fail_);
    return nc_test_fail_ ? 1 : 0;
}

#endif
