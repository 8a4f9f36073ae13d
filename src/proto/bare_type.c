#include "proto/bare_type.h"

#include <stdbool.h>
#include <string.h>

#define BARE_PRIM(id, k, ctype) \
    const bare_type_t bare_type_##id = { .kind = k, .name = #id, .size = sizeof(ctype) }

BARE_PRIM(u8, BARE_KIND_U8, uint8_t);
BARE_PRIM(u16, BARE_KIND_U16, uint16_t);
BARE_PRIM(u32, BARE_KIND_U32, uint32_t);
BARE_PRIM(u64, BARE_KIND_U64, uint64_t);
BARE_PRIM(i8, BARE_KIND_I8, int8_t);
BARE_PRIM(i16, BARE_KIND_I16, int16_t);
BARE_PRIM(i32, BARE_KIND_I32, int32_t);
BARE_PRIM(i64, BARE_KIND_I64, int64_t);
BARE_PRIM(bool, BARE_KIND_BOOL, bool);
BARE_PRIM(str, BARE_KIND_STR, slice_t);
BARE_PRIM(data, BARE_KIND_DATA, slice_t);

/* Compares a snake_case name with a query that may use '-' for '_'. */
static bool bare_codec_name_eq(const char *snake, const char *q)
{
    for (; *snake && *q; snake++, q++) {
        char c = *q == '-' ? '_' : *q;
        if (c != *snake)
            return false;
    }
    return *snake == *q;
}

const bare_codec_t *bare_codec_find(const bare_codec_t *codecs, const char *name)
{
    for (const bare_codec_t *c = codecs; c->name; c++)
        if (bare_codec_name_eq(c->name, name) || strcmp(c->type->name, name) == 0)
            return c;
    return NULL;
}

bool bare_int_fits(bare_kind_t k, bool neg, uint64_t mag)
{
    if (neg && mag == 0)
        neg = false;
    switch (k) {
    case BARE_KIND_U8: return !neg && mag <= UINT8_MAX;
    case BARE_KIND_U16: return !neg && mag <= UINT16_MAX;
    case BARE_KIND_U32: return !neg && mag <= UINT32_MAX;
    case BARE_KIND_U64: return !neg;
    case BARE_KIND_I8: return mag <= (neg ? 128u : 127u);
    case BARE_KIND_I16: return mag <= (neg ? 32768u : 32767u);
    case BARE_KIND_I32: return mag <= (neg ? 2147483648u : 2147483647u);
    case BARE_KIND_I64: return mag <= (neg ? (uint64_t)1 << 63 : ((uint64_t)1 << 63) - 1);
    default: return false;
    }
}

void bare_int_store(void *dst, bare_kind_t k, bool neg, uint64_t mag)
{
    /* Two's complement negation in unsigned arithmetic, then truncation to the width. */
    uint64_t bits = neg ? ~mag + 1 : mag;
    switch (k) {
    case BARE_KIND_U8:
    case BARE_KIND_I8: {
        uint8_t v = (uint8_t)bits;
        memcpy(dst, &v, 1);
        break;
    }
    case BARE_KIND_U16:
    case BARE_KIND_I16: {
        uint16_t v = (uint16_t)bits;
        memcpy(dst, &v, 2);
        break;
    }
    case BARE_KIND_U32:
    case BARE_KIND_I32: {
        uint32_t v = (uint32_t)bits;
        memcpy(dst, &v, 4);
        break;
    }
    default: memcpy(dst, &bits, 8); break;
    }
}

void bare_int_load(const void *src, bare_kind_t k, bool *neg, uint64_t *mag)
{
    int64_t s = 0;
    uint64_t u = 0;
    bool is_signed = false;
    switch (k) {
    case BARE_KIND_U8: {
        uint8_t v;
        memcpy(&v, src, 1);
        u = v;
        break;
    }
    case BARE_KIND_U16: {
        uint16_t v;
        memcpy(&v, src, 2);
        u = v;
        break;
    }
    case BARE_KIND_U32: {
        uint32_t v;
        memcpy(&v, src, 4);
        u = v;
        break;
    }
    case BARE_KIND_U64: memcpy(&u, src, 8); break;
    case BARE_KIND_I8: {
        int8_t v;
        memcpy(&v, src, 1);
        s = v;
        is_signed = true;
        break;
    }
    case BARE_KIND_I16: {
        int16_t v;
        memcpy(&v, src, 2);
        s = v;
        is_signed = true;
        break;
    }
    case BARE_KIND_I32: {
        int32_t v;
        memcpy(&v, src, 4);
        s = v;
        is_signed = true;
        break;
    }
    default:
        memcpy(&s, src, 8);
        is_signed = true;
        break;
    }
    if (is_signed && s < 0) {
        *neg = true;
        *mag = ~(uint64_t)s + 1;
    } else {
        *neg = false;
        *mag = is_signed ? (uint64_t)s : u;
    }
}

int bare_int_parse(const char *s, size_t n, bool *neg, uint64_t *mag)
{
    size_t i = 0;
    bool overflow = false;
    *neg = n > 0 && s[0] == '-';
    i = *neg;
    if (i == n || (s[i] == '0' && n - i > 1))
        return BARE_INT_SYNTAX;
    uint64_t v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return BARE_INT_SYNTAX;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            overflow = true;
        v = v * 10 + d;
    }
    *mag = v;
    return overflow ? BARE_INT_RANGE : 0;
}

size_t bare_int_format(char *out, bool neg, uint64_t mag)
{
    char tmp[24];
    size_t n = 0, len = 0;
    do {
        tmp[n++] = (char)('0' + mag % 10);
        mag /= 10;
    } while (mag);
    if (neg)
        out[len++] = '-';
    while (n)
        out[len++] = tmp[--n];
    out[len] = '\0';
    return len;
}

const char *bare_enum_name(const bare_type_t *t, unsigned value)
{
    for (size_t i = 0; i < t->count; i++)
        if (t->values[i].value == value)
            return t->values[i].name;
    return NULL;
}
