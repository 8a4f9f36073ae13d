/* A minimal test harness for the C unit tests: CHECK records a failure and goes on, and
 * T_DONE() prints the plain summary line and returns the exit code ctest reads. */
#ifndef SETT_TEST_T_H
#define SETT_TEST_T_H

#include <stdio.h>
#include <string.h>

static int t_pass, t_fail;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (cond) {                                                                  \
            t_pass++;                                                                \
        } else {                                                                     \
            t_fail++;                                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                            \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                     \
    do {                                                                                       \
        long long t_a = (long long)(a), t_b = (long long)(b);                                  \
        if (t_a == t_b) {                                                                      \
            t_pass++;                                                                          \
        } else {                                                                               \
            t_fail++;                                                                          \
            fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__, #a, t_a, \
                    t_b);                                                                      \
        }                                                                                      \
    } while (0)

#define CHECK_MEM(p, q, n)                                                                  \
    do {                                                                                    \
        if (memcmp((p), (q), (n)) == 0) {                                                   \
            t_pass++;                                                                       \
        } else {                                                                            \
            t_fail++;                                                                       \
            fprintf(stderr, "%s:%d: bytes differ: %s vs %s\n", __FILE__, __LINE__, #p, #q); \
        }                                                                                   \
    } while (0)

#define T_DONE() (printf("%d passed, %d failed\n", t_pass, t_fail), t_fail ? 1 : 0)

#endif
