/* Base64 against the RFC 4648 vectors, the refusal of every non-canonical form, round trips of
 * every length, and the fixed-size writer. */
#include "t.h"

#include <stdint.h>

#include "core/base64.h"

static void test_base64(void)
{
    static const char *vec[][2] = {
        { "", "" },
        { "f", "Zg==" },
        { "fo", "Zm8=" },
        { "foo", "Zm9v" },
        { "foob", "Zm9vYg==" },
        { "fooba", "Zm9vYmE=" },
        { "foobar", "Zm9vYmFy" },
    };
    buf_t b = BUF_INIT;
    for (size_t k = 0; k < sizeof vec / sizeof *vec; k++) {
        buf_reset(&b);
        base64_encode(&b, (const uint8_t *)vec[k][0], strlen(vec[k][0]));
        CHECK(b.len == strlen(vec[k][1]) && (!b.len || memcmp(b.data, vec[k][1], b.len) == 0));
        buf_reset(&b);
        CHECK_EQ_INT(base64_decode(&b, vec[k][1], strlen(vec[k][1])), BASE64_OK);
        CHECK(b.len == strlen(vec[k][0]) && (!b.len || memcmp(b.data, vec[k][0], b.len) == 0));
    }
    buf_reset(&b);
    base64_encode(&b, (const uint8_t *)"\xFB\xFF\xBF", 3);
    CHECK(b.len == 4 && memcmp(b.data, "+/+/", 4) == 0);

    /* Non-canonical or foreign forms are refused and leave the buffer as it was. */
    static const struct {
        const char *s;
        size_t n;
    } bad[] = {
#define B64_BAD(lit) { lit, sizeof(lit) - 1 }
        B64_BAD("Zg"),           B64_BAD("Zg="),   B64_BAD("Zg==="),  B64_BAD("Z==="),
        B64_BAD("===="),         B64_BAD("=Zg="),  B64_BAD("Zh=="),   B64_BAD("Zm9="),
        B64_BAD("Zg==Zg=="),     B64_BAD("Zg=a"),  B64_BAD("Zm9v\n"), B64_BAD("Zm9v YmFy"),
        B64_BAD(" Zm9v"),        B64_BAD("Zm-v"),  B64_BAD("Zm_v"),   B64_BAD("Zm9v\r\n"),
        B64_BAD("Zm9\x80"),      B64_BAD("Zm9\0"), B64_BAD("A"),      B64_BAD("AB=C"),
        B64_BAD("Zm9vYmFy===="),
#undef B64_BAD
    };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        buf_reset(&b);
        buf_append(&b, "keep", 4);
        if (base64_decode(&b, bad[k].s, bad[k].n) != BASE64_EINVALID || b.len != 4) {
            t_fail++;
            fprintf(stderr, "base64 accepted '%s'\n", bad[k].s);
        } else {
            t_pass++;
        }
    }

    /* Every length and byte value round-trips, and appending keeps what was there. */
    uint8_t raw[300];
    buf_t enc = BUF_INIT;
    for (size_t n = 0; n <= sizeof raw; n++) {
        for (size_t j = 0; j < n; j++)
            raw[j] = (uint8_t)(j * 131 + n * 7);
        buf_reset(&enc);
        base64_encode(&enc, raw, n);
        CHECK_EQ_INT(enc.len, (n + 2) / 3 * 4);
        buf_reset(&b);
        buf_push(&b, 'x');
        CHECK_EQ_INT(base64_decode(&b, (const char *)enc.data, enc.len), BASE64_OK);
        CHECK(b.len == n + 1 && b.data[0] == 'x' && memcmp(b.data + 1, raw, n) == 0);
    }
    buf_free(&enc);

    /* The fixed-size form writes the same characters, and the alphabet test matches it. */
    char out[BASE64_LEN(20)];
    CHECK_EQ_INT(base64_encode_to(out, raw, 20), 28);
    buf_reset(&b);
    base64_encode(&b, raw, 20);
    CHECK(b.len == 28 && memcmp(b.data, out, 28) == 0);
    int chars = 0;
    for (unsigned c = 0; c < 256; c++)
        chars += base64_char((uint8_t)c);
    CHECK_EQ_INT(chars, 64);
    CHECK(base64_char('+') && base64_char('/') && !base64_char('=') && !base64_char('-'));
    buf_free(&b);
}

int main(void)
{
    test_base64();
    return T_DONE();
}
