/* The one byte-slice type: a borrowed range of bytes that some other object owns (a request's
 * buffer, a decoded frame's input, a caller's key). A slice never frees anything and stays
 * valid as long as its owner does. The bytes need not be text and are not NUL-terminated;
 * code that treats them as text casts p to const char *. */
#ifndef SETT_CORE_SLICE_H
#define SETT_CORE_SLICE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct slice {
    const uint8_t *p;
    size_t len;
} slice_t;

/* The bytes of a NUL-terminated string, without the NUL. */
static inline slice_t slice_cstr(const char *s)
{
    return (slice_t){ (const uint8_t *)s, strlen(s) };
}

#endif
