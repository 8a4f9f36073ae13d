#include "proto/bare.h"
#include "core/utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

size_t bare_max_frame = BARE_DEFAULT_MAX_FRAME;

/* Maps of at most this many entries are checked for duplicate keys by scanning. */
#define BARE_KEYSET_SCAN_MAX 16

const char *bare_strerror(int code)
{
    switch (code) {
    case BARE_OK: return "ok";
    case BARE_ETRUNC: return "unexpected end of input";
    case BARE_ETRAILING: return "trailing bytes after the message";
    case BARE_ETAG: return "unknown union tag";
    case BARE_EENUM: return "unknown enum value";
    case BARE_EBOOL: return "invalid bool (must be 0 or 1)";
    case BARE_EOPTIONAL: return "invalid optional marker (must be 0 or 1)";
    case BARE_EVARINT: return "non-minimal or over-long LEB128 integer";
    case BARE_ELENGTH: return "length exceeds the remaining bytes";
    case BARE_ECOUNT: return "count exceeds what the remaining bytes can hold";
    case BARE_EUTF8: return "invalid UTF-8 in str";
    case BARE_EDUPKEY: return "duplicate map key";
    case BARE_ELIMIT: return "frame exceeds the size limit";
    case BARE_EVERSION: return "unsupported protocol version";
    default: return "unknown error";
    }
}

void bare_err_format(const bare_err_t *e, char *out, size_t n)
{
    if (!n)
        return;
    const char *msg = e->msg ? e->msg : bare_strerror(e->code);
    if (e->path)
        snprintf(out, n, "offset %zu: %s (in %s)", e->offset, msg, e->path);
    else
        snprintf(out, n, "offset %zu: %s", e->offset, msg);
}

int bare_fail(bare_reader_t *r, int code, const uint8_t *at, const char *path)
{
    bare_err_t *e = r->err;
    if (e->code == BARE_OK) {
        e->code = code;
        e->msg = bare_strerror(code);
        e->offset = (size_t)(at - r->start);
    }
    if (!e->path)
        e->path = path;
    return e->code;
}

int bare_reader_init(bare_reader_t *r, const uint8_t *p, size_t n, bare_err_t *err)
{
    static const uint8_t empty[1];
    if (!p)
        p = empty;
    r->start = r->p = p;
    r->end = p + n;
    r->err = err ? err : &r->own;
    r->err->code = BARE_OK;
    r->err->msg = NULL;
    r->err->offset = 0;
    r->err->path = NULL;
    size_t limit = bare_max_frame < UINT32_MAX ? bare_max_frame : UINT32_MAX;
    if (n > limit)
        return bare_fail(r, BARE_ELIMIT, p, NULL);
    return BARE_OK;
}

int bare_reader_finish(bare_reader_t *r)
{
    if (r->p != r->end)
        return bare_fail(r, BARE_ETRAILING, r->p, NULL);
    return BARE_OK;
}

int bare_read_version(bare_reader_t *r, uint16_t version, const char *msg)
{
    const uint8_t *at = r->p;
    uint16_t v = 0;
    if (bare_read_u16(r, &v))
        return bare_where(r, "version prefix");
    if (v != version) {
        bare_fail(r, BARE_EVERSION, at, "version prefix");
        r->err->msg = msg;
        return r->err->code;
    }
    return BARE_OK;
}

int bare_read_uint_slow(bare_reader_t *r, uint64_t *v)
{
    const uint8_t *at = r->p;
    const uint8_t *p = r->p;
    uint64_t x = 0;
    for (unsigned i = 0;; i++) {
        if (p == r->end)
            return bare_fail(r, BARE_ETRUNC, p, NULL);
        uint8_t b = *p++;
        /* The tenth byte may only carry bit 63. */
        if (i == 9 && b > 1)
            return bare_fail(r, BARE_EVARINT, at, NULL);
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            if (i > 0 && b == 0)
                return bare_fail(r, BARE_EVARINT, at, NULL);
            break;
        }
    }
    r->p = p;
    *v = x;
    return BARE_OK;
}

int bare_read_count(bare_reader_t *r, size_t *n, size_t min_size)
{
    const uint8_t *at = r->p;
    uint64_t v;
    if (bare_read_uint(r, &v))
        return r->err->code;
    if (v > (uint64_t)(r->end - r->p) / min_size)
        return bare_fail(r, BARE_ECOUNT, at, NULL);
    *n = (size_t)v;
    return BARE_OK;
}

int bare_read_data(bare_reader_t *r, slice_t *v)
{
    const uint8_t *at = r->p;
    uint64_t len;
    if (bare_read_uint(r, &len))
        return r->err->code;
    if (len > (uint64_t)(r->end - r->p))
        return bare_fail(r, BARE_ELENGTH, at, NULL);
    v->p = r->p;
    v->len = (size_t)len;
    r->p += len;
    return BARE_OK;
}

int bare_read_str(bare_reader_t *r, slice_t *v)
{
    if (bare_read_data(r, v))
        return r->err->code;
    if (!utf8_valid(v->p, v->len))
        return bare_fail(r, BARE_EUTF8, v->p, NULL);
    return BARE_OK;
}

/* Strict UTF-8 as WHATWG's fatal TextDecoder and bare-ts's own reader define it: no overlong
 * forms, no surrogates, nothing above U+10FFFF. ASCII runs are skipped eight bytes at a time. */
static slice_t bare_keyset_key(const bare_keyset_t *ks, size_t i)
{
    slice_t k;
    memcpy(&k, ks->first + i * ks->stride, sizeof k);
    if (k.len >= 256 && k.p[0] == 0xef && k.p[1] == 0xbb && k.p[2] == 0xbf) {
        k.p += 3;
        k.len -= 3;
    }
    return k;
}

static bool bare_keyset_eq(slice_t a, slice_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

void bare_keyset_init(bare_keyset_t *ks, const void *first, size_t stride, size_t count)
{
    ks->first = first;
    ks->stride = stride;
    ks->hashed = count > BARE_KEYSET_SCAN_MAX;
    map_init(&ks->seen);
}

bool bare_keyset_add(bare_keyset_t *ks, size_t i)
{
    slice_t k = bare_keyset_key(ks, i);
    if (!ks->hashed) {
        for (size_t j = 0; j < i; j++)
            if (bare_keyset_eq(k, bare_keyset_key(ks, j)))
                return true;
        return false;
    }
    /* The value only marks presence; a key seen before is a duplicate. */
    return map_put(&ks->seen, k.p, k.len, ks) != NULL;
}

void bare_keyset_free(bare_keyset_t *ks)
{
    map_free(&ks->seen);
}

void bare_put_uint_slow(buf_t *b, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (uint8_t)v;
    buf_append(b, tmp, n);
}
