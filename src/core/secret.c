#include "core/secret.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

bool sec_equal(const char *want, const void *got, size_t len)
{
    const uint8_t *g = got;
    size_t wl = strlen(want);
    unsigned diff = (unsigned)(wl ^ len);
    for (size_t i = 0; i < len; i++)
        diff |= (unsigned)g[i] ^ (unsigned)(uint8_t)want[i % (wl ? wl : 1)];
    return diff == 0;
}

enum sec_bearer_result sec_bearer(const char *want, const void *value, size_t len)
{
    static const char scheme[] = "Bearer ";
    const size_t n = sizeof scheme - 1;
    if (!value || len < n || strncasecmp(value, scheme, n) != 0)
        return SEC_BEARER_MISSING;
    return sec_equal(want, (const char *)value + n, len - n) ? SEC_BEARER_OK : SEC_BEARER_WRONG;
}
