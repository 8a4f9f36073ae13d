/* The UTF-8 DFA of utf8.h. */
#include "core/utf8.h"

#include <string.h>

/* Byte classes for the DFA: 0 ASCII, 1 continuation 80-8F, 2 continuation 90-9F,
 * 3 continuation A0-BF, 4 never valid (C0, C1, F5-FF), 5 two-byte lead C2-DF, 6 E0, 7 other
 * three-byte leads, 8 ED, 9 F0, 10 F1-F3, 11 F4. The three continuation classes exist because
 * E0, ED, F0 and F4 restrict their second byte to exclude overlong forms, surrogates and
 * code points above U+10FFFF. */
/* clang-format off */
static const uint8_t utf8_class[256] = {
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 00 */
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 10 */
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 20 */
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 30 */
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 40 */
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 50 */
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 60 */
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 70 */
     1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  /* 80 */
     2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 90 */
     3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  /* A0 */
     3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  /* B0 */
     4,  4,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  /* C0 */
     5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  /* D0 */
     6,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  8,  7,  7,  /* E0 */
     9, 10, 10, 10, 11,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  /* F0 */
};
/* clang-format on */

/* States are pre-multiplied by the 12 classes so a step is one add and one load. */
enum {
    U_ACC = 0,  /* at a character boundary */
    U_REJ = 12, /* invalid, sticky */
    U_N1 = 24,  /* one continuation byte (80-BF) to go */
    U_N2 = 36,  /* two to go */
    U_N3 = 48,  /* three to go */
    U_E0 = 60,  /* after E0: A0-BF, then one more */
    U_ED = 72,  /* after ED: 80-9F (no surrogates), then one more */
    U_F0 = 84,  /* after F0: 90-BF, then two more */
    U_F4 = 96,  /* after F4: 80-8F (nothing above U+10FFFF), then two more */
};

_Static_assert(U_ACC == UTF8_ACCEPT && U_REJ == UTF8_REJECT, "UTF-8 state encoding");

#define R U_REJ
/* clang-format off */
static const uint8_t utf8_trans[108] = {
    /* ASCII  80-8F  90-9F  A0-BF  bad    C2-DF  E0     E1-EF  ED     F0     F1-F3  F4 */
    U_ACC, R,     R,     R,     R,     U_N1,  U_E0,  U_N2,  U_ED,  U_F0,  U_N3,  U_F4, /* ACC */
    R,     R,     R,     R,     R,     R,     R,     R,     R,     R,     R,     R,    /* REJ */
    R,     U_ACC, U_ACC, U_ACC, R,     R,     R,     R,     R,     R,     R,     R,    /* N1 */
    R,     U_N1,  U_N1,  U_N1,  R,     R,     R,     R,     R,     R,     R,     R,    /* N2 */
    R,     U_N2,  U_N2,  U_N2,  R,     R,     R,     R,     R,     R,     R,     R,    /* N3 */
    R,     R,     R,     U_N1,  R,     R,     R,     R,     R,     R,     R,     R,    /* E0 */
    R,     U_N1,  U_N1,  R,     R,     R,     R,     R,     R,     R,     R,     R,    /* ED */
    R,     R,     U_N2,  U_N2,  R,     R,     R,     R,     R,     R,     R,     R,    /* F0 */
    R,     U_N2,  R,     R,     R,     R,     R,     R,     R,     R,     R,     R,    /* F4 */
};
/* clang-format on */
#undef R

uint32_t utf8_step(uint32_t state, const uint8_t *p, size_t len)
{
    const uint8_t *end = p + len;
    while (p < end) {
        /* Most text is ASCII, so at a boundary skip whole words whose high bits are clear. */
        if (state == U_ACC) {
            while ((size_t)(end - p) >= 16) {
                uint64_t a, b;
                memcpy(&a, p, 8);
                memcpy(&b, p + 8, 8);
                if ((a | b) & 0x8080808080808080ull)
                    break;
                p += 16;
            }
            while ((size_t)(end - p) >= 8) {
                uint64_t a;
                memcpy(&a, p, 8);
                if (a & 0x8080808080808080ull)
                    break;
                p += 8;
            }
            while (p < end && *p < 0x80)
                p++;
            if (p == end)
                break;
        }
        state = utf8_trans[state + utf8_class[*p++]];
        if (state == U_REJ)
            break;
    }
    return state;
}

bool utf8_valid(const uint8_t *p, size_t len)
{
    return utf8_step(U_ACC, p, len) == U_ACC;
}

/* The DFA run one byte at a time: a sequence is well formed when the state comes back to
 * ACCEPT, and the bytes read before it turned REJECT (or before the input ended) are the
 * maximal subpart of an ill-formed one. */
size_t utf8_seq(const uint8_t *s, size_t n, size_t *bad)
{
    uint32_t state = utf8_trans[utf8_class[s[0]]];
    size_t i = 1;
    while (state != U_ACC && state != U_REJ && i < n)
        state = utf8_trans[state + utf8_class[s[i++]]];
    if (state == U_ACC)
        return i;
    *bad = state == U_REJ && i > 1 ? i - 1 : i;
    return 0;
}

size_t utf8_trim(const uint8_t *s, size_t len, size_t max)
{
    if (len <= max)
        return len;
    /* s[max] is the first byte cut off; if it continues a character, that character started
     * at most three bytes earlier and must go too. */
    size_t n = max;
    for (int i = 0; i < 3 && n > 0 && (s[n] & 0xC0) == 0x80; i++)
        n--;
    if ((s[n] & 0xC0) == 0x80)
        return max;
    return n;
}

size_t utf8_encode(uint8_t out[4], uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xC0 | cp >> 6);
        out[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xE0 | cp >> 12);
        out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | cp >> 18);
    out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}
