/* The UTF-8 validator: every sequence of up to three bytes and the four-byte edges against a
 * reference decoder, incremental validation at every split, the classic valid and invalid cases,
 * the maximal subparts utf8_seq reports, trimming, and encoding every code point. */
#include "t.h"

#include <stdbool.h>
#include <stdint.h>

#include "core/utf8.h"

static bool ref_utf8(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        uint32_t cp;
        size_t k;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            k = 1;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            k = 2;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            k = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        for (size_t j = 1; j <= k; j++) {
            if (i + j >= n || (s[i + j] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + j] & 0x3F);
        }
        if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += k + 1;
    }
    return true;
}

static void test_utf8_exhaustive(void)
{
    uint8_t s[8];
    size_t bad = 0;
    for (unsigned a = 0; a < 256; a++) {
        s[0] = (uint8_t)a;
        bad += utf8_valid(s, 1) != ref_utf8(s, 1);
        for (unsigned b = 0; b < 256; b++) {
            s[1] = (uint8_t)b;
            bad += utf8_valid(s, 2) != ref_utf8(s, 2);
            for (unsigned c = 0; c < 256; c++) {
                s[2] = (uint8_t)c;
                bad += utf8_valid(s, 3) != ref_utf8(s, 3);
            }
        }
    }
    CHECK_EQ_INT(bad, 0);
    /* Four-byte sequences: every lead from F0 and every second byte, with boundary values
     * for the last two. */
    static const uint8_t edge[] = {
        0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xFF
    };
    bad = 0;
    for (unsigned a = 0xF0; a < 0x100; a++)
        for (unsigned b = 0; b < 256; b++)
            for (size_t c = 0; c < sizeof edge; c++)
                for (size_t d = 0; d < sizeof edge; d++) {
                    uint8_t q[4] = { (uint8_t)a, (uint8_t)b, edge[c], edge[d] };
                    bad += utf8_valid(q, 4) != ref_utf8(q, 4);
                }
    CHECK_EQ_INT(bad, 0);
    /* Incremental validation at every split equals whole validation, on random strings that
     * are mostly valid, including long ASCII runs for the word-at-a-time path. */
    uint32_t seed = 12345;
    bad = 0;
    for (int iter = 0; iter < 20000; iter++) {
        uint8_t t[64];
        size_t n = 0;
        size_t want = 1 + (seed = seed * 1103515245 + 12345) % 60;
        while (n < want) {
            seed = seed * 1103515245 + 12345;
            uint32_t r = seed >> 8;
            static const char *pieces[] = { "a",
                                            "abcdefghijklmnopq",
                                            "\xC3\xA9",
                                            "\xE2\x82\xAC",
                                            "\xF0\x9F\x98\x80",
                                            "\xED\x9F\xBF",
                                            "\xEE\x80\x80",
                                            "\xF4\x8F\xBF\xBF" };
            if (r % 50 == 0) {
                t[n++] = (uint8_t)(r >> 8);
                continue;
            }
            const char *p = pieces[r % 8];
            size_t pl = strlen(p);
            if (n + pl > sizeof t)
                break;
            memcpy(t + n, p, pl);
            n += pl;
        }
        bool whole = utf8_valid(t, n);
        bad += whole != ref_utf8(t, n);
        for (size_t cut = 0; cut <= n; cut++) {
            uint32_t st = utf8_step(UTF8_ACCEPT, t, cut);
            st = utf8_step(st, t + cut, n - cut);
            bad += (st == UTF8_ACCEPT) != whole;
        }
    }
    CHECK_EQ_INT(bad, 0);
}

static void test_utf8_cases(void)
{
    /* Valid: Autobahn 6.2's "Hello-µ@ßöäüàá-UTF-8!!" and the code point boundaries. */
    const char *ok[] = {
        "",
        "Hello-\xC2\xB5@\xC3\x9F\xC3\xB6\xC3\xA4\xC3\xBC\xC3\xA0\xC3\xA1-UTF-8!!",
        "\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5",
        "\x7F",
        "\xC2\x80",
        "\xDF\xBF",
        "\xE0\xA0\x80",
        "\xEF\xBF\xBF",
        "\xED\x9F\xBF",
        "\xEE\x80\x80",
        "\xF0\x90\x80\x80",
        "\xF4\x8F\xBF\xBF",
        "\xEF\xBF\xBE",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        CHECK(utf8_valid((const uint8_t *)ok[i], strlen(ok[i])));
    /* Invalid: overlong forms, surrogates, beyond U+10FFFF, stray and missing continuations. */
    const char *bad[] = {
        "\xC0\x80",
        "\xC1\xBF",
        "\xE0\x80\x80",
        "\xE0\x9F\xBF",
        "\xF0\x80\x80\x80",
        "\xF0\x8F\xBF\xBF",
        "\xED\xA0\x80",
        "\xED\xBF\xBF",
        "\xED\xA0\x80\xED\xB0\x80",
        "\xF4\x90\x80\x80",
        "\xF5\x80\x80\x80",
        "\xFE",
        "\xFF",
        "\x80",
        "\xBF",
        "\xC2",
        "\xE2\x82",
        "\xF0\x9F\x98",
        "a\xC2"
        "a",
        "\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5\xED\xA0\x80"
        "edited",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(!utf8_valid((const uint8_t *)bad[i], strlen(bad[i])));
    /* Fail fast: the state is REJECT as soon as the second byte rules the sequence out. */
    const char *fast[] = { "\xE0\x80", "\xED\xA0", "\xF0\x80", "\xF4\x90", "\xC0", "\xF5" };
    for (size_t i = 0; i < sizeof fast / sizeof fast[0]; i++)
        CHECK_EQ_INT(utf8_step(UTF8_ACCEPT, (const uint8_t *)fast[i], strlen(fast[i])),
                     UTF8_REJECT);
    /* A valid prefix is not rejected. */
    CHECK(utf8_step(UTF8_ACCEPT, (const uint8_t *)"\xF0\x9F\x98", 3) != UTF8_REJECT);
}

/* Trimming to a character boundary. */
static void test_utf8_trim(void)
{
    const uint8_t *e = (const uint8_t *)"ab\xE2\x82\xAC" "cd";
    CHECK_EQ_INT(utf8_trim(e, 7, 100), 7);
    CHECK_EQ_INT(utf8_trim(e, 7, 5), 5);
    CHECK_EQ_INT(utf8_trim(e, 7, 4), 2);
    CHECK_EQ_INT(utf8_trim(e, 7, 3), 2);
    CHECK_EQ_INT(utf8_trim(e, 7, 2), 2);
    CHECK_EQ_INT(utf8_trim(e, 7, 0), 0);
}

/* The maximal subpart of an ill-formed sequence, by the ranges of Unicode table 3-7: an
 * implementation independent of the DFA. */
static size_t ref_seq(const uint8_t *s, size_t n, size_t *bad)
{
    uint8_t c = s[0], lo = 0x80, hi = 0xBF;
    size_t need;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
    } else if (c == 0xE0) {
        need = 2;
        lo = 0xA0;
    } else if (c == 0xED) {
        need = 2;
        hi = 0x9F;
    } else if (c >= 0xE1 && c <= 0xEF) {
        need = 2;
    } else if (c == 0xF0) {
        need = 3;
        lo = 0x90;
    } else if (c == 0xF4) {
        need = 3;
        hi = 0x8F;
    } else if (c >= 0xF1 && c <= 0xF3) {
        need = 3;
    } else {
        *bad = 1;
        return 0;
    }
    for (size_t i = 1; i <= need; i++) {
        if (i >= n || s[i] < lo || s[i] > hi) {
            *bad = i;
            return 0;
        }
        lo = 0x80;
        hi = 0xBF;
    }
    return need + 1;
}

static void test_utf8_seq(void)
{
    static const uint8_t edge[] = { 0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0,
                                    0xBF, 0xC0, 0xC2, 0xE0, 0xF0, 0xF4, 0xFF };
    size_t bad = 0;
    for (unsigned a = 0; a < 256; a++)
        for (unsigned b = 0; b < 256; b++)
            for (size_t c = 0; c < sizeof edge; c++)
                for (size_t d = 0; d < sizeof edge; d++) {
                    uint8_t q[4] = { (uint8_t)a, (uint8_t)b, edge[c], edge[d] };
                    for (size_t n = 1; n <= 4; n++) {
                        size_t b1 = 99, b2 = 99;
                        size_t got = utf8_seq(q, n, &b1), want = ref_seq(q, n, &b2);
                        bad += got != want || (!got && b1 != b2);
                    }
                }
    CHECK_EQ_INT(bad, 0);
    /* Examples of Unicode's "U+FFFD substitution of maximal subparts" table. */
    size_t b = 0;
    CHECK(utf8_seq((const uint8_t *)"\xE1\x80", 2, &b) == 0 && b == 2);
    CHECK(utf8_seq((const uint8_t *)"\xF0\x80\x80", 3, &b) == 0 && b == 1);
    CHECK(utf8_seq((const uint8_t *)"\xED\xA0\x80", 3, &b) == 0 && b == 1);
    CHECK(utf8_seq((const uint8_t *)"\xF4\x8F\xBF", 3, &b) == 0 && b == 3);
    CHECK_EQ_INT(utf8_seq((const uint8_t *)"\xF4\x8F\xBF\xBF", 4, &b), 4);
}

/* Every scalar value encodes to a sequence that validates, is as long as it should be, and
 * decodes back to it. */
static void test_utf8_encode(void)
{
    size_t bad = 0;
    for (uint32_t cp = 0; cp <= 0x10FFFF; cp++) {
        if (cp >= 0xD800 && cp <= 0xDFFF)
            continue;
        uint8_t out[4];
        size_t n = utf8_encode(out, cp), b;
        size_t want = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
        uint32_t back = n == 1 ? out[0] : (uint32_t)(out[0] & (0x7F >> n));
        for (size_t i = 1; i < n; i++)
            back = back << 6 | (out[i] & 0x3F);
        bad += n != want || utf8_seq(out, n, &b) != n || back != cp;
    }
    CHECK_EQ_INT(bad, 0);
}

int main(void)
{
    test_utf8_exhaustive();
    test_utf8_cases();
    test_utf8_seq();
    test_utf8_trim();
    test_utf8_encode();
    return T_DONE();
}
