/* Fuzzes the JSON module with properties rather than crashes alone. Any input the parser accepts
 * must write back to text that parses to an equal tree and writes to the same bytes again; a
 * rejection must carry a code, a message and an offset inside the input. Any bytes written with
 * json_write_str must parse as one string, and base64 must decode only what it would encode. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "core/json.h"

#define FUZZ_ASSERT(cond) do { \
    if (!(cond)) { \
        fprintf(stderr, "fuzz_json: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
        abort(); \
    } \
} while (0)

static void fuzz_round_trip(const uint8_t *data, size_t size)
{
    json_doc a, b;
    json_err e;
    int rc = json_parse((const char *)data, size, &a, &e);
    if (rc != JSON_OK) {
        FUZZ_ASSERT(rc < 0 && e.code == rc && e.msg != NULL && e.offset <= size);
        FUZZ_ASSERT(a.chunks == NULL && a.root.type == JSON_NULL);
        json_doc_free(&a);
        return;
    }
    buf_t out = BUF_INIT, again = BUF_INIT;
    json_write_value(&out, json_doc_root(&a));
    rc = json_parse((const char *)out.data, out.len, &b, &e);
    if (rc != JSON_OK)
        fprintf(stderr, "fuzz_json: rewrite rejected: %s at %zu: %.*s\n", e.msg, e.offset,
                (int)out.len, (const char *)out.data);
    FUZZ_ASSERT(rc == JSON_OK);
    FUZZ_ASSERT(json_equal(json_doc_root(&a), json_doc_root(&b)));
    json_write_value(&again, json_doc_root(&b));
    FUZZ_ASSERT(again.len == out.len && memcmp(again.data, out.data, out.len) == 0);

    /* The builder writes the same bytes when handed the tree. */
    buf_reset(&again);
    json_w w;
    json_w_init(&w, &again);
    json_w_value(&w, json_doc_root(&b));
    FUZZ_ASSERT(json_w_finish(&w) == JSON_OK);
    FUZZ_ASSERT(again.len == out.len && memcmp(again.data, out.data, out.len) == 0);

    json_doc_free(&a);
    json_doc_free(&b);
    buf_free(&out);
    buf_free(&again);
}

static void fuzz_write_str(const uint8_t *data, size_t size)
{
    buf_t out = BUF_INIT, again = BUF_INIT;
    json_write_str(&out, (const char *)data, size);
    json_doc d;
    FUZZ_ASSERT(json_parse((const char *)out.data, out.len, &d, NULL) == JSON_OK);
    const char *s;
    size_t n;
    FUZZ_ASSERT(json_get_str(json_doc_root(&d), &s, &n) == JSON_OK);
    /* The decoded string is valid UTF-8, so writing it changes nothing more. */
    json_write_str(&again, s, n);
    FUZZ_ASSERT(again.len == out.len && memcmp(again.data, out.data, out.len) == 0);
    json_doc_free(&d);
    buf_free(&out);
    buf_free(&again);
}

static void fuzz_base64(const uint8_t *data, size_t size)
{
    buf_t dec = BUF_INIT, enc = BUF_INIT;
    if (base64_decode(&dec, (const char *)data, size) == BASE64_OK) {
        base64_encode(&enc, dec.data, dec.len);
        FUZZ_ASSERT(enc.len == size && (size == 0 || memcmp(enc.data, data, size) == 0));
    } else {
        FUZZ_ASSERT(dec.len == 0);
    }
    buf_reset(&enc);
    buf_reset(&dec);
    base64_encode(&enc, data, size);
    FUZZ_ASSERT(base64_decode(&dec, (const char *)enc.data, enc.len) == BASE64_OK);
    FUZZ_ASSERT(dec.len == size && (size == 0 || memcmp(dec.data, data, size) == 0));
    buf_free(&dec);
    buf_free(&enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_round_trip(data, size);
    fuzz_write_str(data, size);
    fuzz_base64(data, size);
    return 0;
}
