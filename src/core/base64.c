/* RFC 4648 base64, standard alphabet, padded; the decoder takes the canonical form only. */
#include "core/base64.h"

static const char base64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Each alphabet character maps to its value plus one, so that 0 marks every other byte. */
/* clang-format off */
static const uint8_t base64_value[256] = {
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0, 63,  0,  0,  0, 64,
    53, 54, 55, 56, 57, 58, 59, 60, 61, 62,  0,  0,  0,  0,  0,  0,
     0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14, 15,
    16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26,  0,  0,  0,  0,  0,
     0, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41,
    42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52,  0,  0,  0,  0,  0,
};
/* clang-format on */

size_t base64_encode_to(char *out, const uint8_t *p, size_t n)
{
    char *d = out;
    size_t i = 0;
    for (; n - i >= 3; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *d++ = base64_alphabet[v >> 18];
        *d++ = base64_alphabet[(v >> 12) & 63];
        *d++ = base64_alphabet[(v >> 6) & 63];
        *d++ = base64_alphabet[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        *d++ = base64_alphabet[v >> 18];
        *d++ = base64_alphabet[(v >> 12) & 63];
        *d++ = '=';
        *d++ = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        *d++ = base64_alphabet[v >> 18];
        *d++ = base64_alphabet[(v >> 12) & 63];
        *d++ = base64_alphabet[(v >> 6) & 63];
        *d++ = '=';
    }
    return (size_t)(d - out);
}

void base64_encode(buf_t *out, const uint8_t *p, size_t n)
{
    if (!n)
        return;
    out->len += base64_encode_to((char *)buf_reserve(out, BASE64_LEN(n)), p, n);
}

bool base64_char(uint8_t c)
{
    return base64_value[c] != 0;
}

int base64_decode(buf_t *out, const char *str, size_t len)
{
    const uint8_t *s = (const uint8_t *)str;
    if (len % 4)
        return BASE64_EINVALID;
    if (len == 0)
        return BASE64_OK;
    size_t pad = s[len - 1] == '=' ? (s[len - 2] == '=' ? 2 : 1) : 0;
    uint8_t *d = buf_reserve(out, len / 4 * 3), *d0 = d;
    size_t full = len - (pad ? 4 : 0);
    for (size_t i = 0; i < full; i += 4) {
        uint32_t a = base64_value[s[i]], b = base64_value[s[i + 1]];
        uint32_t c = base64_value[s[i + 2]], e = base64_value[s[i + 3]];
        if (!a || !b || !c || !e)
            return BASE64_EINVALID;
        uint32_t v = (a - 1) << 18 | (b - 1) << 12 | (c - 1) << 6 | (e - 1);
        *d++ = (uint8_t)(v >> 16);
        *d++ = (uint8_t)(v >> 8);
        *d++ = (uint8_t)v;
    }
    if (pad) {
        const uint8_t *t = s + full;
        uint32_t a = base64_value[t[0]], b = base64_value[t[1]];
        if (!a || !b)
            return BASE64_EINVALID;
        uint32_t v = (a - 1) << 18 | (b - 1) << 12;
        if (pad == 1) {
            uint32_t c = base64_value[t[2]];
            if (!c || ((c - 1) & 3))
                return BASE64_EINVALID;
            v |= (c - 1) << 6;
            *d++ = (uint8_t)(v >> 16);
            *d++ = (uint8_t)(v >> 8);
        } else {
            if ((b - 1) & 15)
                return BASE64_EINVALID;
            *d++ = (uint8_t)(v >> 16);
        }
    }
    out->len += (size_t)(d - d0);
    return BASE64_OK;
}
