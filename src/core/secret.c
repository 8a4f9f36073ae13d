#include "core/secret.h"

#include <stdint.h>
#include <string.h>

bool sec_equal(const char *want, const void *got, size_t len)
{
    const uint8_t *g = got;
    size_t wl = strlen(want);
    unsigned diff = (unsigned)(wl ^ len);
    for (size_t i = 0; i < len; i++)
        diff |= (unsigned)g[i] ^ (unsigned)(uint8_t)want[i % (wl ? wl : 1)];
    return diff == 0;
}
