#include "core/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void sx_oom(size_t n)
{
    fprintf(stderr, "sett: out of memory allocating %zu bytes\n", n);
    abort();
}

void *sx_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        sx_oom(n);
    return p;
}

void *sx_calloc(size_t count, size_t n)
{
    void *p = calloc(count ? count : 1, n ? n : 1);
    if (!p)
        sx_oom(count * n);
    return p;
}

void *sx_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        sx_oom(n);
    return q;
}

char *sx_strndup(const char *s, size_t n)
{
    char *p = sx_malloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *sx_strdup(const char *s)
{
    return sx_strndup(s, strlen(s));
}

void *sx_memdup(const void *p, size_t n)
{
    void *q = sx_malloc(n);
    if (n)
        memcpy(q, p, n);
    return q;
}
