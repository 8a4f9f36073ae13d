/* Request-target splitting and percent-decoding. */
#include "net/url.h"

#include <string.h>

static int url_hex(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Reads one byte of s[i..len), decoding "%XX" (and '+' when plus is set); *step says how many
 * input bytes it took. */
static int url_byte(const char *s, size_t len, size_t i, bool plus, size_t *step)
{
    unsigned char c = (unsigned char)s[i];
    if (c == '%') {
        if (len - i < 3)
            return URL_EESCAPE;
        int hi = url_hex((unsigned char)s[i + 1]), lo = url_hex((unsigned char)s[i + 2]);
        if (hi < 0 || lo < 0)
            return URL_EESCAPE;
        *step = 3;
        return hi << 4 | lo;
    }
    *step = 1;
    return plus && c == '+' ? ' ' : c;
}

static int url_decode(const char *s, size_t len, char *out, size_t *out_len, bool plus,
                      bool allow_slash)
{
    size_t i = 0, o = 0;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            size_t step;
            int d = url_byte(s, len, i, plus, &step);
            if (d < 0)
                return d;
            if (d == '/' && !allow_slash)
                return URL_ESLASH;
            c = (unsigned char)d;
            i += step;
        } else {
            if (plus && c == '+')
                c = ' ';
            i++;
        }
        /* A literal NUL cannot pass http-parser, but the decoders are also used on other
         * input, so both spellings are refused here. */
        if (c == 0)
            return URL_ENUL;
        out[o++] = (char)c;
    }
    *out_len = o;
    return URL_OK;
}

int url_decode_segment(const char *s, size_t len, char *out, size_t *out_len, unsigned flags)
{
    return url_decode(s, len, out, out_len, false, flags & URL_ALLOW_SLASH);
}

int url_decode_query(const char *s, size_t len, char *out, size_t *out_len)
{
    return url_decode(s, len, out, out_len, true, true);
}

static bool url_prefix_ci(const char *s, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    if (len < n)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((s[i] | 0x20) != prefix[i])
            return false;
    return true;
}

void url_split(const char *target, size_t len, url_parts *out)
{
    const char *hash = memchr(target, '#', len);
    if (hash)
        len = (size_t)(hash - target);
    memset(out, 0, sizeof *out);
    out->authority.p = (const uint8_t *)target;
    out->query.p = (const uint8_t *)target + len;

    size_t start = 0;
    size_t scheme = url_prefix_ci(target, len, "http://")    ? 7
                    : url_prefix_ci(target, len, "https://") ? 8
                                                             : 0;
    if (scheme) {
        size_t i = scheme;
        while (i < len && target[i] != '/' && target[i] != '?')
            i++;
        out->authority.p = (const uint8_t *)target + scheme;
        out->authority.len = i - scheme;
        start = i;
    }
    const char *q = memchr(target + start, '?', len - start);
    size_t path_end = q ? (size_t)(q - target) : len;
    out->path.p = (const uint8_t *)target + start;
    out->path.len = path_end - start;
    if (q) {
        out->has_query = true;
        out->query.p = (const uint8_t *)q + 1;
        out->query.len = len - path_end - 1;
    }
}

bool url_path_next(const slice_t *path, size_t *pos, slice_t *seg)
{
    size_t i = *pos;
    if (i >= path->len)
        return false;
    if (path->p[i] == '/')
        i++;
    size_t s = i;
    while (i < path->len && path->p[i] != '/')
        i++;
    seg->p = path->p + s;
    seg->len = i - s;
    *pos = i;
    return true;
}

bool url_query_next(const slice_t *query, size_t *pos, slice_t *name, slice_t *value)
{
    size_t i = *pos;
    while (i < query->len && query->p[i] == '&')
        i++;
    if (i >= query->len) {
        *pos = i;
        return false;
    }
    size_t s = i, eq = 0;
    bool has_eq = false;
    while (i < query->len && query->p[i] != '&') {
        if (!has_eq && query->p[i] == '=') {
            has_eq = true;
            eq = i;
        }
        i++;
    }
    name->p = query->p + s;
    name->len = (has_eq ? eq : i) - s;
    value->p = has_eq ? query->p + eq + 1 : query->p + i;
    value->len = has_eq ? i - eq - 1 : 0;
    *pos = i;
    return true;
}

/* Compares a raw query name with a plain one while decoding, so a lookup allocates nothing. */
static bool url_name_eq(const slice_t *raw, const char *name)
{
    size_t i = 0, k = 0, step;
    while (i < raw->len) {
        int c = url_byte((const char *)raw->p, raw->len, i, true, &step);
        if (c < 0 || name[k] == 0 || (unsigned char)name[k] != c)
            return false;
        k++;
        i += step;
    }
    return name[k] == 0;
}

int url_query_get(const slice_t *query, const char *name, buf_t *out)
{
    size_t pos = 0;
    slice_t n, v;
    while (url_query_next(query, &pos, &n, &v)) {
        if (!url_name_eq(&n, name))
            continue;
        buf_reset(out);
        char *dst = (char *)buf_reserve(out, v.len + 1);
        size_t len;
        int rc = url_decode_query((const char *)v.p, v.len, dst, &len);
        if (rc != URL_OK) {
            dst[0] = 0;
            return rc;
        }
        dst[len] = 0;
        out->len = len;
        return 1;
    }
    return 0;
}
