/* Fuzzes the request-target helpers. The input is a target; everything must stay within it,
 * decoding never grows, in-place decoding equals decoding into another buffer, and whatever
 * decodes re-encodes (every byte as %XX) to something that decodes back to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "net/url.h"

static void within(slice_t s, const char *p, size_t n)
{
    if (s.len && ((const char *)s.p < p || (const char *)s.p + s.len > p + n))
        abort();
}

static void check_decode(const char *s, size_t len, bool query, unsigned flags)
{
    char *a = sx_malloc(len + 1), *b = sx_malloc(len + 1);
    memcpy(b, s, len);
    size_t na = 0, nb = 0;
    int ra = query ? url_decode_query(s, len, a, &na) : url_decode_segment(s, len, a, &na, flags);
    int rb = query ? url_decode_query(b, len, b, &nb) : url_decode_segment(b, len, b, &nb, flags);
    if (ra != rb || (ra == URL_OK && (na != nb || na > len || memcmp(a, b, na))))
        abort();
    if (ra == URL_OK) {
        if (memchr(a, 0, na) || (!query && !(flags & URL_ALLOW_SLASH) && memchr(a, '/', na) &&
                                 !memchr(s, '/', len)))
            abort();
        static const char hex[] = "0123456789ABCDEF";
        char *e = sx_malloc(na * 3 + 1), *d = sx_malloc(na * 3 + 1);
        for (size_t i = 0; i < na; i++) {
            e[3 * i] = '%';
            e[3 * i + 1] = hex[(uint8_t)a[i] >> 4];
            e[3 * i + 2] = hex[(uint8_t)a[i] & 15];
        }
        size_t nd;
        int rd = query ? url_decode_query(e, na * 3, d, &nd)
                       : url_decode_segment(e, na * 3, d, &nd, URL_ALLOW_SLASH);
        if (rd != URL_OK || nd != na || memcmp(d, a, na))
            abort();
        free(e);
        free(d);
    }
    free(a);
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    url_parts u;
    url_split(p, size, &u);
    within(u.path, p, size);
    within(u.query, p, size);
    within(u.authority, p, size);
    if (u.path.len + u.query.len + u.authority.len > size)
        abort();

    size_t pos = 0, count = 0;
    slice_t seg, name, value;
    while (url_path_next(&u.path, &pos, &seg)) {
        within(seg, p, size);
        if (pos > u.path.len || ++count > size + 1)
            abort();
        check_decode((const char *)seg.p, seg.len, false, 0);
        check_decode((const char *)seg.p, seg.len, false, URL_ALLOW_SLASH);
    }
    pos = 0;
    buf_t out = BUF_INIT;
    while (url_query_next(&u.query, &pos, &name, &value)) {
        within(name, p, size);
        within(value, p, size);
        if (pos > u.query.len)
            abort();
        check_decode((const char *)name.p, name.len, true, 0);
        check_decode((const char *)value.p, value.len, true, 0);
        /* Looking a decodable name up finds a parameter (this one or an earlier twin). */
        char *dn = sx_malloc(name.len + 1);
        size_t dl;
        if (url_decode_query((const char *)name.p, name.len, dn, &dl) == URL_OK) {
            dn[dl] = 0;
            if (url_query_get(&u.query, dn, &out) == 0)
                abort();
            if (out.data && out.data[out.len] != 0)
                abort();
        }
        free(dn);
    }
    buf_free(&out);
    return 0;
}
