#include "proto/proto_path.h"

#include <stdio.h>
#include <string.h>

/* Map keys longer than this are shortened in messages. */
#define PROTO_PATH_KEY_MAX 40

static size_t proto_path_put(const proto_path_t *p, char *out, size_t n, size_t len)
{
    if (p->up)
        len = proto_path_put(p->up, out, n, len);
    if (len >= n)
        return len;
    int w;
    if (!p->up)
        w = snprintf(out + len, n - len, "%s", p->name ? p->name : "value");
    else if (p->name)
        w = snprintf(out + len, n - len, ".%s", p->name);
    else if (p->key)
        w = snprintf(out + len, n - len, "[\"%.*s%s\"]",
                     (int)(p->keylen > PROTO_PATH_KEY_MAX ? PROTO_PATH_KEY_MAX : p->keylen), p->key,
                     p->keylen > PROTO_PATH_KEY_MAX ? "..." : "");
    else
        w = snprintf(out + len, n - len, "[%zu]", p->index);
    return w < 0 ? len : len + (size_t)w;
}

char *proto_path_format(const proto_path_t *p, char *out, size_t n)
{
    if (!n)
        return out;
    out[0] = '\0';
    proto_path_put(p, out, n, 0);
    return out;
}
