/* BARE runtime for the codecs that tools/barec.lua generates from schemas/: bounds-checked readers
 * over one input buffer, writers that append to a buf_t, and the decoding error record.
 *
 * Decoded `str` and `data` values are slices into the input buffer, so a frame is decoded without
 * copying its payloads; the slices stay valid while the input does. Readers accept exactly what
 * the TypeScript decoder of @rivetkit/engine-runner-protocol (@rivetkit/bare-ts 0.6.2) accepts:
 * minimal LEB128 only, bools and optional markers 0 or 1, strict UTF-8 in `str`, no duplicate map
 * keys, no trailing bytes. Accepting nothing more is what makes encode(decode(b)) == b hold for
 * every frame a decoder accepts. */
#ifndef SETT_PROTO_BARE_H
#define SETT_PROTO_BARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/map.h"
#include "core/slice.h"

/* The runner's MAX_PAYLOAD_SIZE: the largest HTTP body and WebSocket message the npm runner
 * sends. It bounds a payload, not the frame that carries it. */
#define BARE_MAX_PAYLOAD ((size_t)20 * 1024 * 1024)

/* What a frame may carry besides its payload: the message id, the status or kind, the headers
 * and the BARE framing. A response whose body is exactly BARE_MAX_PAYLOAD bytes is a frame a
 * little larger than that, and must decode; a MiB leaves room for far more headers than any
 * HTTP server sends. */
#define BARE_FRAME_HEADROOM ((size_t)1024 * 1024)

/* The default limit on a whole frame: the largest payload plus the headroom around it. */
#define BARE_DEFAULT_MAX_FRAME (BARE_MAX_PAYLOAD + BARE_FRAME_HEADROOM)

/* Decoders reject inputs longer than this many bytes before reading them. The process sets it
 * once at start-up (it is not synchronised); values above 4 GiB are treated as 4 GiB. */
extern size_t bare_max_frame;

/* Decoding results. Every decoder returns BARE_OK or one of the negative codes. */
enum {
    BARE_OK = 0,
    BARE_ETRUNC = -1,    /* the input ends inside a value */
    BARE_ETRAILING = -2, /* bytes follow the message */
    BARE_ETAG = -3,      /* a union tag the schema does not declare */
    BARE_EENUM = -4,     /* an enum value the schema does not declare */
    BARE_EBOOL = -5,     /* a bool byte other than 0 or 1 */
    BARE_EOPTIONAL = -6, /* an optional marker other than 0 or 1 */
    BARE_EVARINT = -7,   /* a non-minimal or over-long LEB128 integer */
    BARE_ELENGTH = -8,   /* a str or data length beyond the remaining bytes */
    BARE_ECOUNT = -9,    /* a list or map count that the remaining bytes cannot hold */
    BARE_EUTF8 = -10,    /* a str that is not valid UTF-8 */
    BARE_EDUPKEY = -11,  /* a map key that appeared earlier in the same map */
    BARE_ELIMIT = -12,   /* the frame is longer than bare_max_frame */
    BARE_EVERSION = -13, /* the embedded version prefix is not the schema's version */
};

/* Where and why decoding failed. `msg` and `path` are static strings; `path` names the innermost
 * schema field or type being read ("ToServerInit.name"), or is NULL. `offset` counts from the
 * first byte of the frame, version prefix included. */
typedef struct bare_err {
    int code;
    const char *msg;
    size_t offset;
    const char *path;
} bare_err_t;

typedef struct bare_reader {
    const uint8_t *start;
    const uint8_t *p;
    const uint8_t *end;
    bare_err_t *err;
    bare_err_t own; /* used when the caller passes no error record */
} bare_reader_t;

const char *bare_strerror(int code);
/* Formats "offset N: message (in path)" into out, always NUL-terminated. */
void bare_err_format(const bare_err_t *e, char *out, size_t n);

/* Starts reading n bytes at p; fails with BARE_ELIMIT when n exceeds bare_max_frame. */
int bare_reader_init(bare_reader_t *r, const uint8_t *p, size_t n, bare_err_t *err);
/* Fails with BARE_ETRAILING unless the whole input was consumed. */
int bare_reader_finish(bare_reader_t *r);
/* Reads a 2-byte little-endian version prefix and fails with BARE_EVERSION and `msg` unless it
 * equals `version`. */
int bare_read_version(bare_reader_t *r, uint16_t version, const char *msg);

/* Records the first failure (later ones keep the first) and returns its code. */
int bare_fail(bare_reader_t *r, int code, const uint8_t *at, const char *path)
    __attribute__((cold));

/* Names the innermost field that failed, unless a deeper reader already did; returns the code. */
static inline int bare_where(bare_reader_t *r, const char *path)
{
    if (!r->err->path)
        r->err->path = path;
    return r->err->code;
}

int bare_read_uint_slow(bare_reader_t *r, uint64_t *v);

/* An unsigned LEB128 integer, minimal encoding only, at most 64 bits. Union tags and enum values
 * are read with it too: the TypeScript decoder reads them as one byte, which accepts the same
 * inputs because every tag in our schemas is below 128. */
static inline int bare_read_uint(bare_reader_t *r, uint64_t *v)
{
    if (r->p < r->end && *r->p < 0x80) {
        *v = *r->p++;
        return BARE_OK;
    }
    return bare_read_uint_slow(r, v);
}

/* A list or map count; `min_size` is the fewest bytes one element can occupy, so a count that the
 * rest of the input cannot hold fails before anything is allocated for it. */
int bare_read_count(bare_reader_t *r, size_t *n, size_t min_size);
int bare_read_data(bare_reader_t *r, slice_t *v);
int bare_read_str(bare_reader_t *r, slice_t *v);

static inline int bare_need(bare_reader_t *r, size_t n)
{
    if ((size_t)(r->end - r->p) < n)
        return bare_fail(r, BARE_ETRUNC, r->p, NULL);
    return BARE_OK;
}

static inline int bare_read_fixed(bare_reader_t *r, uint8_t *dst, size_t n)
{
    if (bare_need(r, n))
        return r->err->code;
    for (size_t i = 0; i < n; i++)
        dst[i] = r->p[i];
    r->p += n;
    return BARE_OK;
}

static inline int bare_read_u8(bare_reader_t *r, uint8_t *v)
{
    if (bare_need(r, 1))
        return r->err->code;
    *v = *r->p++;
    return BARE_OK;
}

static inline int bare_read_u16(bare_reader_t *r, uint16_t *v)
{
    if (bare_need(r, 2))
        return r->err->code;
    *v = (uint16_t)(r->p[0] | r->p[1] << 8);
    r->p += 2;
    return BARE_OK;
}

static inline int bare_read_u32(bare_reader_t *r, uint32_t *v)
{
    if (bare_need(r, 4))
        return r->err->code;
    *v = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 | (uint32_t)r->p[2] << 16 |
         (uint32_t)r->p[3] << 24;
    r->p += 4;
    return BARE_OK;
}

static inline int bare_read_u64(bare_reader_t *r, uint64_t *v)
{
    if (bare_need(r, 8))
        return r->err->code;
    uint64_t x = 0;
    for (int i = 7; i >= 0; i--)
        x = x << 8 | r->p[i];
    *v = x;
    r->p += 8;
    return BARE_OK;
}

/* Signed fixed-width integers are two's complement little-endian (i64 is not zig-zag). */
static inline int bare_read_i8(bare_reader_t *r, int8_t *v)
{
    uint8_t u = 0;
    if (bare_read_u8(r, &u))
        return r->err->code;
    *v = (int8_t)u;
    return BARE_OK;
}

static inline int bare_read_i16(bare_reader_t *r, int16_t *v)
{
    uint16_t u = 0;
    if (bare_read_u16(r, &u))
        return r->err->code;
    *v = (int16_t)u;
    return BARE_OK;
}

static inline int bare_read_i32(bare_reader_t *r, int32_t *v)
{
    uint32_t u = 0;
    if (bare_read_u32(r, &u))
        return r->err->code;
    *v = (int32_t)u;
    return BARE_OK;
}

static inline int bare_read_i64(bare_reader_t *r, int64_t *v)
{
    uint64_t u = 0;
    if (bare_read_u64(r, &u))
        return r->err->code;
    *v = (int64_t)u;
    return BARE_OK;
}

static inline int bare_read_bool(bare_reader_t *r, bool *v)
{
    if (bare_need(r, 1))
        return r->err->code;
    if (*r->p > 1)
        return bare_fail(r, BARE_EBOOL, r->p, NULL);
    *v = *r->p++ != 0;
    return BARE_OK;
}

/* The byte in front of an optional value: 0 absent, 1 present. */
static inline int bare_read_present(bare_reader_t *r, bool *v)
{
    if (bare_need(r, 1))
        return r->err->code;
    if (*r->p > 1)
        return bare_fail(r, BARE_EOPTIONAL, r->p, NULL);
    *v = *r->p++ != 0;
    return BARE_OK;
}

/* Duplicate-key detection for one map being decoded: keys are the slice_t at `first`,
 * `first + stride`, ... Small maps are scanned; larger ones fill a temporary map. Keys of 256
 * bytes or more compare without a leading U+FEFF, because the TypeScript decoder reads those with
 * TextDecoder, which drops it, and then sees the two keys as equal. */
typedef struct bare_keyset {
    const uint8_t *first;
    size_t stride;
    bool hashed; /* the keys seen so far are in `seen` */
    map_t seen;
} bare_keyset_t;

void bare_keyset_init(bare_keyset_t *ks, const void *first, size_t stride, size_t count);
/* Adds key i (keys 0..i-1 were added before); returns true if it equals one of them. */
bool bare_keyset_add(bare_keyset_t *ks, size_t i);
void bare_keyset_free(bare_keyset_t *ks);

void bare_put_uint_slow(buf_t *b, uint64_t v);

static inline void bare_put_uint(buf_t *b, uint64_t v)
{
    if (v < 0x80)
        buf_push(b, (uint8_t)v);
    else
        bare_put_uint_slow(b, v);
}

static inline void bare_put_u8(buf_t *b, uint8_t v)
{
    buf_push(b, v);
}

static inline void bare_put_u16(buf_t *b, uint16_t v)
{
    uint8_t *d = buf_reserve(b, 2);
    d[0] = (uint8_t)v;
    d[1] = (uint8_t)(v >> 8);
    b->len += 2;
}

static inline void bare_put_u32(buf_t *b, uint32_t v)
{
    uint8_t *d = buf_reserve(b, 4);
    for (int i = 0; i < 4; i++)
        d[i] = (uint8_t)(v >> (8 * i));
    b->len += 4;
}

static inline void bare_put_u64(buf_t *b, uint64_t v)
{
    uint8_t *d = buf_reserve(b, 8);
    for (int i = 0; i < 8; i++)
        d[i] = (uint8_t)(v >> (8 * i));
    b->len += 8;
}

static inline void bare_put_i8(buf_t *b, int8_t v)
{
    bare_put_u8(b, (uint8_t)v);
}
static inline void bare_put_i16(buf_t *b, int16_t v)
{
    bare_put_u16(b, (uint16_t)v);
}
static inline void bare_put_i32(buf_t *b, int32_t v)
{
    bare_put_u32(b, (uint32_t)v);
}
static inline void bare_put_i64(buf_t *b, int64_t v)
{
    bare_put_u64(b, (uint64_t)v);
}
static inline void bare_put_bool(buf_t *b, bool v)
{
    buf_push(b, v ? 1 : 0);
}

static inline void bare_put_fixed(buf_t *b, const uint8_t *p, size_t n)
{
    buf_append(b, p, n);
}

/* str and data share one wire form; the caller guarantees that a str is valid UTF-8. */
static inline void bare_put_data(buf_t *b, slice_t v)
{
    bare_put_uint(b, v.len);
    buf_append(b, v.p, v.len);
}

static inline void bare_put_str(buf_t *b, slice_t v)
{
    bare_put_data(b, v);
}

#endif
