/* The JSON module: every value kind, escapes and surrogate pairs, each rejection with its code
 * and byte offset, int64 edges, number conversion against strtod, the writers' escaping and
 * round trips, the streaming builder's comma placement and misuse, the schema checks, and
 * the error body. */
#include "t.h"

#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "core/json.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rng(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static int parse(const char *s, json_doc *d)
{
    json_err e;
    return json_parse(s, strlen(s), d, &e);
}

/* Checks that text[0..len) is rejected with the code and offset given. */
static void reject_n(const char *text, size_t len, int code, size_t off, int line)
{
    json_doc d;
    json_err e;
    int rc = json_parse(text, len, &d, &e);
    if (rc != code || e.code != code || e.offset != off || !e.msg) {
        t_fail++;
        fprintf(stderr, "%s:%d: parse -> %d (err %d '%s' at %zu), expected %d at %zu\n", __FILE__,
                line, rc, e.code, e.msg ? e.msg : "", e.offset, code, off);
    } else {
        t_pass++;
    }
    CHECK(d.root.type == JSON_NULL && d.chunks == NULL);
    json_doc_free(&d);
}

#define REJECT(s, code, off) reject_n((s), strlen(s), (code), (off), __LINE__)
#define REJECT_N(s, n, code, off) reject_n((s), (n), (code), (off), __LINE__)

static void accept_n(const char *text, size_t len, int line)
{
    json_doc d;
    json_err e;
    int rc = json_parse(text, len, &d, &e);
    if (rc != JSON_OK) {
        t_fail++;
        fprintf(stderr, "%s:%d: parse of '%.*s' failed: %s at %zu\n", __FILE__, line, (int)len,
                text, e.msg, e.offset);
    } else {
        t_pass++;
    }
    json_doc_free(&d);
}

#define ACCEPT(s) accept_n((s), strlen(s), __LINE__)

/* Parses s, which must be a single string value, and compares its decoded bytes. */
static void check_str(const char *s, const char *want, size_t want_len, int line)
{
    json_doc d;
    const char *got = NULL;
    size_t n = 0;
    int rc = parse(s, &d);
    if (rc == JSON_OK)
        rc = json_get_str(json_doc_root(&d), &got, &n);
    if (rc != JSON_OK || n != want_len || memcmp(got, want, n) != 0 || got[n] != '\0') {
        t_fail++;
        fprintf(stderr, "%s:%d: string %s decoded wrongly (rc %d, len %zu)\n", __FILE__, line, s,
                rc, n);
    } else {
        t_pass++;
    }
    json_doc_free(&d);
}

#define CHECK_STR(s, want) check_str((s), (want), sizeof(want) - 1, __LINE__)

static void test_values(void)
{
    json_doc d;
    const json_value *r;

    CHECK_EQ_INT(parse("null", &d), JSON_OK);
    CHECK(json_is_null(json_doc_root(&d)));
    json_doc_free(&d);

    bool b = false;
    CHECK_EQ_INT(parse(" true ", &d), JSON_OK);
    CHECK_EQ_INT(json_get_bool(json_doc_root(&d), &b), JSON_OK);
    CHECK(b);
    json_doc_free(&d);
    CHECK_EQ_INT(parse("false", &d), JSON_OK);
    CHECK_EQ_INT(json_get_bool(json_doc_root(&d), &b), JSON_OK);
    CHECK(!b);
    json_doc_free(&d);

    CHECK_EQ_INT(parse("\t\r\n 42 \n", &d), JSON_OK);
    r = json_doc_root(&d);
    CHECK(json_is_number(r) && json_is_int(r));
    int64_t i = 0;
    CHECK_EQ_INT(json_get_int64(r, &i), JSON_OK);
    CHECK_EQ_INT(i, 42);
    json_doc_free(&d);

    CHECK_EQ_INT(parse("\"hello\"", &d), JSON_OK);
    const char *s;
    size_t n;
    CHECK_EQ_INT(json_get_str(json_doc_root(&d), &s, &n), JSON_OK);
    CHECK(n == 5 && strcmp(s, "hello") == 0);
    json_doc_free(&d);

    CHECK_EQ_INT(parse("[]", &d), JSON_OK);
    CHECK(json_is_array(json_doc_root(&d)) && json_len(json_doc_root(&d)) == 0);
    CHECK(json_arr_at(json_doc_root(&d), 0) == NULL);
    json_doc_free(&d);

    CHECK_EQ_INT(parse("{}", &d), JSON_OK);
    CHECK(json_is_object(json_doc_root(&d)) && json_len(json_doc_root(&d)) == 0);
    CHECK(json_obj_get(json_doc_root(&d), "a") == NULL);
    json_doc_free(&d);

    /* A Rivet create-actor body, nested values and member order. */
    const char *body =
        "{\"name\":\"chat\",\"key\":\"room-1\",\"input\":\"aGk=\","
        "\"runner_name_selector\":\"default\",\"crash_policy\":\"sleep\","
        "\"tags\":{\"b\":\"2\",\"a\":\"1\"},\"list\":[1,[2,[3,{}]],null,true],"
        "\"ts\":1700000000123}";
    CHECK_EQ_INT(parse(body, &d), JSON_OK);
    r = json_doc_root(&d);
    CHECK_EQ_INT(json_len(r), 8);
    const char *keys[] = { "name",         "key",  "input", "runner_name_selector",
                           "crash_policy", "tags", "list",  "ts" };
    for (size_t k = 0; k < 8; k++) {
        const json_member *m = json_obj_at(r, k);
        CHECK(m && strcmp(m->key, keys[k]) == 0 && m->key_len == strlen(keys[k]));
    }
    CHECK(json_obj_at(r, 8) == NULL);
    const json_value *tags = json_obj_get(r, "tags");
    CHECK(strcmp(json_obj_at(tags, 0)->key, "b") == 0);
    CHECK(strcmp(json_obj_at(tags, 1)->key, "a") == 0);
    CHECK_EQ_INT(json_get_str(json_obj_get(tags, "a"), &s, &n), JSON_OK);
    CHECK(strcmp(s, "1") == 0);
    const json_value *list = json_obj_get(r, "list");
    CHECK_EQ_INT(json_len(list), 4);
    CHECK(json_is_int(json_arr_at(list, 0)));
    const json_value *inner = json_arr_at(json_arr_at(list, 1), 1);
    CHECK_EQ_INT(json_len(inner), 2);
    CHECK(json_is_object(json_arr_at(inner, 1)));
    CHECK(json_is_null(json_arr_at(list, 2)));
    CHECK(json_is_bool(json_arr_at(list, 3)));
    CHECK(json_arr_at(list, 4) == NULL);
    CHECK_EQ_INT(json_get_int64(json_obj_get(r, "ts"), &i), JSON_OK);
    CHECK_EQ_INT(i, 1700000000123LL);
    buf_t bin = BUF_INIT;
    CHECK_EQ_INT(json_get_b64(json_obj_get(r, "input"), &bin), JSON_OK);
    CHECK(bin.len == 2 && memcmp(bin.data, "hi", 2) == 0);
    CHECK_EQ_INT(json_get_b64(json_obj_get(r, "key"), &bin), JSON_EBASE64);
    buf_free(&bin);

    /* Typed getters on the wrong type or on nothing. */
    double dv;
    CHECK_EQ_INT(json_get_str(json_obj_get(r, "ts"), &s, &n), JSON_ETYPE);
    CHECK_EQ_INT(json_get_int64(json_obj_get(r, "name"), &i), JSON_ETYPE);
    CHECK_EQ_INT(json_get_double(json_obj_get(r, "name"), &dv), JSON_ETYPE);
    CHECK_EQ_INT(json_get_bool(json_obj_get(r, "name"), &b), JSON_ETYPE);
    CHECK_EQ_INT(json_get_str(json_obj_get(r, "nope"), &s, &n), JSON_EMISSING);
    CHECK_EQ_INT(json_get_int64(NULL, &i), JSON_EMISSING);
    CHECK_EQ_INT(json_get_double(NULL, &dv), JSON_EMISSING);
    CHECK_EQ_INT(json_get_bool(NULL, &b), JSON_EMISSING);
    CHECK_EQ_INT(json_get_b64(NULL, &bin), JSON_EMISSING);
    CHECK(json_obj_get(json_obj_get(r, "nope"), "deeper") == NULL);
    CHECK(json_obj_get(list, "a") == NULL);
    CHECK(json_arr_at(r, 0) == NULL);
    CHECK(json_obj_at(list, 0) == NULL);
    CHECK_EQ_INT(json_len(json_obj_get(r, "name")), 0);
    CHECK_EQ_INT(json_len(NULL), 0);
    CHECK(!json_is_null(NULL) && !json_is_int(NULL) && !json_is_string(NULL));
    CHECK_EQ_INT(json_get_str(json_obj_get(r, "name"), &s, NULL), JSON_OK);
    json_doc_free(&d);
    json_doc_free(&d);

    /* Keys may hold NULs, and lookups compare whole keys. */
    CHECK_EQ_INT(parse("{\"a\\u0000b\":1,\"a\":2}", &d), JSON_OK);
    r = json_doc_root(&d);
    CHECK_EQ_INT(json_get_int64(json_obj_getn(r, "a\0b", 3), &i), JSON_OK);
    CHECK_EQ_INT(i, 1);
    CHECK_EQ_INT(json_get_int64(json_obj_get(r, "a"), &i), JSON_OK);
    CHECK_EQ_INT(i, 2);
    CHECK(json_obj_getn(r, "a\0", 2) == NULL);
    json_doc_free(&d);
}

static void test_strings(void)
{
    CHECK_STR("\"\"", "");
    CHECK_STR("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\te\"", "a\"b\\c/d\b\f\n\r\te");
    CHECK_STR("\"\\u0041\\u00e9\\u00E9\\u20AC\"", "A\xC3\xA9\xC3\xA9\xE2\x82\xAC");
    CHECK_STR("\"\\u0000\"", "\0");
    CHECK_STR("\"x\\u0000y\"", "x\0y");
    CHECK_STR("\"\\uD83D\\uDE00\"", "\xF0\x9F\x98\x80");
    CHECK_STR("\"\\ud834\\udd1e!\"", "\xF0\x9D\x84\x9E!");
    CHECK_STR("\"\\uDBFF\\uDFFF\"", "\xF4\x8F\xBF\xBF");
    CHECK_STR("\"\\uFFFF\\u07FF\\u0080\\u007F\"", "\xEF\xBF\xBF\xDF\xBF\xC2\x80\x7F");
    CHECK_STR("\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF\x7F\"",
              "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF\x7F");
    CHECK_STR("\"\xED\x9F\xBF\xEE\x80\x80\"", "\xED\x9F\xBF\xEE\x80\x80");
    CHECK_STR("\"abcdefghijklmnopqrstuvwxyz0123456789\\n\"",
              "abcdefghijklmnopqrstuvwxyz0123456789\n");

    /* Every position of an escape, a quote and a multi-byte character inside a long string, so
     * the eight-byte scan meets them at each alignment. */
    for (size_t pos = 0; pos < 40; pos++) {
        char text[64], want[64];
        memset(want, 'x', 40);
        want[pos] = '"';
        text[0] = '"';
        memset(text + 1, 'x', 41);
        text[1 + pos] = '\\';
        text[2 + pos] = '"';
        text[42] = '"';
        json_doc d;
        const char *s = NULL;
        size_t n = 0;
        CHECK_EQ_INT(json_parse(text, 43, &d, NULL), JSON_OK);
        CHECK_EQ_INT(json_get_str(json_doc_root(&d), &s, &n), JSON_OK);
        CHECK(n == 40 && memcmp(s, want, 40) == 0);
        json_doc_free(&d);

        memset(text + 1, 'y', 41);
        text[1 + pos] = (char)0xC3;
        text[2 + pos] = (char)0xA9;
        CHECK_EQ_INT(json_parse(text, 43, &d, NULL), JSON_OK);
        json_doc_free(&d);
        text[1 + pos] = 0x1F;
        REJECT_N(text, 43, JSON_ESYNTAX, 1 + pos);
        text[1 + pos] = (char)0xC3;
        text[2 + pos] = 'y';
        REJECT_N(text, 43, JSON_EUTF8, 1 + pos);
    }
}

static void test_json_test_suite(void)
{
    /* Accepted, in the spirit of JSONTestSuite's y_ cases. */
    ACCEPT("[]");
    ACCEPT("[[[[[]]]]]");
    ACCEPT(" [ 1 , 2 ] ");
    ACCEPT("{\"a\":{\"b\":[null,{\"c\":[]}]}}");
    ACCEPT("{\"\":0}");
    ACCEPT("0");
    ACCEPT("-0");
    ACCEPT("-0.0e-0");
    ACCEPT("1E+2");
    ACCEPT("1e-2");
    ACCEPT("1E22");
    ACCEPT("123e65");
    ACCEPT("0e1");
    ACCEPT("1e-400");
    ACCEPT("1.7976931348623157e308");
    ACCEPT("123456789012345678901234567890");
    ACCEPT("[-1,0.5,1e1,\"\",true,false,null,{},[]]");
    ACCEPT("\"\\uFFFF\"");
    ACCEPT("\"\xEF\xBF\xBF\"");
    ACCEPT("\"\x7F\"");
    ACCEPT("\"\\/\"");

    /* Rejected (JSONTestSuite's n_ cases and sett's own rules), with code and offset. */
    REJECT("", JSON_ESYNTAX, 0);
    REJECT("   \n", JSON_ESYNTAX, 4);
    REJECT_N("\0", 1, JSON_ESYNTAX, 0);
    REJECT_N("1\0", 2, JSON_ESYNTAX, 1);
    REJECT("[1,]", JSON_ESYNTAX, 3);
    REJECT("[1, ]", JSON_ESYNTAX, 4);
    REJECT("{\"a\":1,}", JSON_ESYNTAX, 7);
    REJECT("[,1]", JSON_ESYNTAX, 1);
    REJECT("[1,,2]", JSON_ESYNTAX, 3);
    REJECT("[1 2]", JSON_ESYNTAX, 3);
    REJECT("[", JSON_ESYNTAX, 1);
    REJECT("[1", JSON_ESYNTAX, 2);
    REJECT("{", JSON_ESYNTAX, 1);
    REJECT("{\"a\"", JSON_ESYNTAX, 4);
    REJECT("{\"a\":", JSON_ESYNTAX, 5);
    REJECT("{\"a\":1", JSON_ESYNTAX, 6);
    REJECT("{\"a\" 1}", JSON_ESYNTAX, 5);
    REJECT("{\"a\"::1}", JSON_ESYNTAX, 5);
    REJECT("{a:1}", JSON_ESYNTAX, 1);
    REJECT("{'a':1}", JSON_ESYNTAX, 1);
    REJECT("{1:1}", JSON_ESYNTAX, 1);
    REJECT("{\"a\":1 \"b\":2}", JSON_ESYNTAX, 7);
    REJECT("{\"a\":}", JSON_ESYNTAX, 5);
    REJECT("{,}", JSON_ESYNTAX, 1);
    REJECT("[1]]", JSON_ESYNTAX, 3);
    REJECT("]", JSON_ESYNTAX, 0);
    REJECT("1 2", JSON_ESYNTAX, 2);
    REJECT("{} {}", JSON_ESYNTAX, 3);
    REJECT("01", JSON_ESYNTAX, 0);
    REJECT("-01", JSON_ESYNTAX, 0);
    REJECT("00", JSON_ESYNTAX, 0);
    REJECT("[00]", JSON_ESYNTAX, 1);
    REJECT("1.", JSON_ESYNTAX, 2);
    REJECT("1.e1", JSON_ESYNTAX, 2);
    REJECT(".5", JSON_ESYNTAX, 0);
    REJECT("1e", JSON_ESYNTAX, 2);
    REJECT("1e+", JSON_ESYNTAX, 3);
    REJECT("1E-x", JSON_ESYNTAX, 3);
    REJECT("-", JSON_ESYNTAX, 1);
    REJECT("- 1", JSON_ESYNTAX, 1);
    REJECT("+1", JSON_ESYNTAX, 0);
    REJECT("0x10", JSON_ESYNTAX, 1);
    REJECT("1.5.", JSON_ESYNTAX, 3);
    REJECT("NaN", JSON_ESYNTAX, 0);
    REJECT("Infinity", JSON_ESYNTAX, 0);
    REJECT("-Infinity", JSON_ESYNTAX, 1);
    REJECT("[NaN]", JSON_ESYNTAX, 1);
    REJECT("tru", JSON_ESYNTAX, 0);
    REJECT("nul", JSON_ESYNTAX, 0);
    REJECT("True", JSON_ESYNTAX, 0);
    REJECT("truex", JSON_ESYNTAX, 4);
    REJECT("[true false]", JSON_ESYNTAX, 6);
    REJECT("/* c */ 1", JSON_ESYNTAX, 0);
    REJECT("[1] // c", JSON_ESYNTAX, 4);
    REJECT("[1,/*x*/2]", JSON_ESYNTAX, 3);
    REJECT("\xEF\xBB\xBF{}", JSON_ESYNTAX, 0);
    REJECT("\x0B 1", JSON_ESYNTAX, 0);
    REJECT(
        "\xC2\xA0"
        "1",
        JSON_ESYNTAX, 0);
    REJECT("'a'", JSON_ESYNTAX, 0);
    REJECT("1e400", JSON_ERANGE, 0);
    REJECT("[-1e400]", JSON_ERANGE, 1);
    REJECT("123456789e999999999999999999", JSON_ERANGE, 0);

    /* Strings. */
    REJECT("\"abc", JSON_ESYNTAX, 0);
    REJECT("[\"abc\\\"]", JSON_ESYNTAX, 1);
    REJECT("\"abc\\", JSON_ESYNTAX, 0);
    REJECT("\"\\x\"", JSON_ESYNTAX, 1);
    REJECT("\"\\'\"", JSON_ESYNTAX, 1);
    REJECT("\"\\U0041\"", JSON_ESYNTAX, 1);
    REJECT("\"\\u12\"", JSON_ESYNTAX, 1);
    REJECT("\"\\u12G4\"", JSON_ESYNTAX, 1);
    REJECT("\"\\u", JSON_ESYNTAX, 1);
    REJECT("\"\\uD800\"", JSON_EUTF8, 1);
    REJECT("\"\\uDBFF\"", JSON_EUTF8, 1);
    REJECT("\"\\uDC00\"", JSON_EUTF8, 1);
    REJECT("\"a\\uDFFFb\"", JSON_EUTF8, 2);
    REJECT("\"\\uD800\\u0041\"", JSON_EUTF8, 1);
    REJECT("\"\\uD800\\uD800\"", JSON_EUTF8, 1);
    REJECT("\"\\uD800\\n\"", JSON_EUTF8, 1);
    REJECT("\"\\uD800x\"", JSON_EUTF8, 1);
    REJECT("\"\\uD800\\uZZZZ\"", JSON_ESYNTAX, 7);
    REJECT("\"\x01\"", JSON_ESYNTAX, 1);
    REJECT("\"a\tb\"", JSON_ESYNTAX, 2);
    REJECT("\"\n\"", JSON_ESYNTAX, 1);
    REJECT_N("\"\0\"", 3, JSON_ESYNTAX, 1);
    REJECT("\"\x80\"", JSON_EUTF8, 1);
    REJECT("\"\xBF\"", JSON_EUTF8, 1);
    REJECT("\"\xC0\xAF\"", JSON_EUTF8, 1);
    REJECT("\"\xC1\xBF\"", JSON_EUTF8, 1);
    REJECT("\"\xE0\x80\xAF\"", JSON_EUTF8, 1);
    REJECT("\"\xE0\x9F\xBF\"", JSON_EUTF8, 1);
    REJECT("\"\xF0\x80\x80\xAF\"", JSON_EUTF8, 1);
    REJECT("\"\xF0\x8F\xBF\xBF\"", JSON_EUTF8, 1);
    REJECT("\"\xED\xA0\x80\"", JSON_EUTF8, 1);
    REJECT("\"\xED\xBF\xBF\"", JSON_EUTF8, 1);
    REJECT("\"\xF4\x90\x80\x80\"", JSON_EUTF8, 1);
    REJECT("\"\xF5\x80\x80\x80\"", JSON_EUTF8, 1);
    REJECT("\"ab\xE2\x82\"", JSON_EUTF8, 3);
    REJECT("\"\xE2\x82", JSON_EUTF8, 1);
    REJECT("\"\xF0\x9F\x98\"", JSON_EUTF8, 1);
    REJECT("\"\xFE\"", JSON_EUTF8, 1);
    REJECT("\"\xFF\"", JSON_EUTF8, 1);
    REJECT("{\"\xFF\":1}", JSON_EUTF8, 2);
}

static void test_duplicates(void)
{
    REJECT("{\"a\":1,\"a\":2}", JSON_EDUPKEY, 7);
    REJECT("{\"a\":1,\"b\":{\"a\":1,\"c\":2,\"c\":3},\"d\":0}", JSON_EDUPKEY, 24);
    REJECT("{\"a\":1,\"\\u0061\":2}", JSON_EDUPKEY, 7);
    REJECT("{\"\":1,\"\":2}", JSON_EDUPKEY, 6);
    ACCEPT("{\"a\":{\"a\":{\"a\":1}},\"b\":[{\"a\":1},{\"a\":1}]}");
    ACCEPT("{\"a\":1,\"A\":1,\"a \":1,\"a\\u0000\":1}");

    /* Objects past the pairwise threshold take the sorting path; the first repetition in text
     * order is the one reported. */
    buf_t b = BUF_INIT;
    size_t offs[64];
    buf_push(&b, '{');
    for (int k = 0; k < 60; k++) {
        if (k)
            buf_push(&b, ',');
        offs[k] = b.len;
        int name = k == 40 ? 7 : k == 50 ? 3 : k == 45 ? 40 : k;
        buf_printf(&b, "\"key%d\":%d", name, k);
    }
    buf_push(&b, '}');
    REJECT_N((const char *)b.data, b.len, JSON_EDUPKEY, offs[40]);

    buf_reset(&b);
    buf_push(&b, '{');
    for (int k = 0; k < 5000; k++)
        buf_printf(&b, "%s\"k%d\":%d", k ? "," : "", k, k);
    buf_push(&b, '}');
    json_doc d;
    CHECK_EQ_INT(json_parse((const char *)b.data, b.len, &d, NULL), JSON_OK);
    CHECK_EQ_INT(json_len(json_doc_root(&d)), 5000);
    int64_t i;
    CHECK_EQ_INT(json_get_int64(json_obj_get(json_doc_root(&d), "k4321"), &i), JSON_OK);
    CHECK_EQ_INT(i, 4321);
    json_doc_free(&d);
    b.len--;
    buf_append_str(&b, ",\"k4999\":0}");
    REJECT_N((const char *)b.data, b.len, JSON_EDUPKEY, b.len - 10);
    buf_free(&b);
}

static void test_limits(void)
{
    char deep[2 * JSON_DEPTH_HARD_MAX + 8];
    size_t n = JSON_DEFAULT_MAX_DEPTH;
    memset(deep, '[', n);
    memset(deep + n, ']', n);
    json_doc d;
    CHECK_EQ_INT(json_parse(deep, 2 * n, &d, NULL), JSON_OK);
    json_doc_free(&d);
    memset(deep, '[', n + 1);
    memset(deep + n + 1, ']', n + 1);
    REJECT_N(deep, 2 * n + 2, JSON_EDEPTH, n);
    memset(deep, '[', n + 1);
    REJECT_N(deep, n + 1, JSON_EDEPTH, n);

    /* Objects count towards the same depth, and the limit is the caller's to set. */
    buf_t b = BUF_INIT;
    for (int k = 0; k < 10; k++)
        buf_append_str(&b, "{\"a\":[");
    buf_append_str(&b, "1");
    for (int k = 0; k < 10; k++)
        buf_append_str(&b, "]}");
    json_limits lim = { 0, 0, 20 };
    json_err e;
    CHECK_EQ_INT(json_parse_ex((const char *)b.data, b.len, &lim, &d, &e), JSON_OK);
    json_doc_free(&d);
    lim.max_depth = 19;
    CHECK_EQ_INT(json_parse_ex((const char *)b.data, b.len, &lim, &d, &e), JSON_EDEPTH);
    CHECK_EQ_INT(e.offset, 5 + 9 * 6);
    lim.max_depth = 1;
    CHECK_EQ_INT(json_parse_ex("[1]", 3, &lim, &d, &e), JSON_OK);
    json_doc_free(&d);
    CHECK_EQ_INT(json_parse_ex("[[1]]", 5, &lim, &d, &e), JSON_EDEPTH);
    buf_free(&b);

    /* A raised limit is clamped to the hard maximum. */
    lim.max_depth = 1000000;
    n = JSON_DEPTH_HARD_MAX;
    memset(deep, '[', n);
    memset(deep + n, ']', n);
    CHECK_EQ_INT(json_parse_ex(deep, 2 * n, &lim, &d, &e), JSON_OK);
    json_doc_free(&d);
    memset(deep, '[', n + 1);
    memset(deep + n + 1, ']', n + 1);
    CHECK_EQ_INT(json_parse_ex(deep, 2 * n + 2, &lim, &d, &e), JSON_EDEPTH);

    /* The input size is checked before anything is read. */
    lim.max_depth = 0;
    lim.max_input = 5;
    CHECK_EQ_INT(json_parse_ex("[1,2]", 5, &lim, &d, &e), JSON_OK);
    json_doc_free(&d);
    CHECK_EQ_INT(json_parse_ex("[1,2] ", 6, &lim, &d, &e), JSON_ETOOBIG);
    CHECK_EQ_INT(e.offset, 5);
    CHECK(d.chunks == NULL);
    CHECK_EQ_INT(json_parse_ex("[1,2]", 5, NULL, &d, &e), JSON_OK);
    json_doc_free(&d);

    /* The value count bounds the tree's memory; the root and every member value count. */
    lim.max_input = 0;
    lim.max_values = 4;
    CHECK_EQ_INT(json_parse_ex("[1,[2]]", 7, &lim, &d, &e), JSON_OK);
    json_doc_free(&d);
    CHECK_EQ_INT(json_parse_ex("[1,[2,3]]", 9, &lim, &d, &e), JSON_ETOOBIG);
    CHECK_EQ_INT(e.offset, 6);
    CHECK_EQ_INT(json_parse_ex("{\"a\":1,\"b\":{\"c\":2}}", 19, &lim, &d, &e), JSON_OK);
    json_doc_free(&d);
    CHECK_EQ_INT(json_parse_ex("{\"a\":1,\"b\":2,\"c\":3,\"d\":4}", 25, &lim, &d, &e),
                 JSON_ETOOBIG);
    CHECK_EQ_INT(e.offset, 23);
    lim.max_values = 0;
    buf_t big = BUF_INIT;
    buf_push(&big, '[');
    for (size_t k = 0; k + 1 < JSON_DEFAULT_MAX_VALUES; k++)
        buf_append(&big, k ? ",0" : "0", k ? 2 : 1);
    buf_push(&big, ']');
    CHECK_EQ_INT(json_parse_ex((const char *)big.data, big.len, &lim, &d, &e), JSON_OK);
    json_doc_free(&d);
    big.len--;
    buf_append(&big, ",0]", 3);
    CHECK_EQ_INT(json_parse_ex((const char *)big.data, big.len, &lim, &d, &e), JSON_ETOOBIG);
    CHECK_EQ_INT(e.offset, big.len - 2);
    buf_free(&big);
    CHECK_EQ_INT(json_parse(NULL, 0, &d, &e), JSON_ESYNTAX);
    CHECK_EQ_INT(json_parse("x", 1, &d, NULL), JSON_ESYNTAX);

    char msg[96];
    CHECK_EQ_INT(json_parse("{\"ab\" 1}", 8, &d, &e), JSON_ESYNTAX);
    json_err_format(&e, msg, sizeof msg);
    CHECK(strcmp(msg, "expected ':' after object key at byte 6") == 0);
    CHECK(strcmp(json_strerror(JSON_EDUPKEY), "duplicate object key") == 0);
    CHECK(strcmp(json_strerror(12345), "unknown JSON error") == 0);

    /* A large document: many values, long strings, several arena chunks. */
    buf_reset(&b);
    buf_push(&b, '[');
    for (int k = 0; k < 100000; k++)
        buf_printf(&b, "%s{\"id\":%d,\"s\":\"v\\n%d\"}", k ? "," : "", k, k);
    buf_push(&b, ']');
    CHECK_EQ_INT(json_parse((const char *)b.data, b.len, &d, &e), JSON_OK);
    CHECK_EQ_INT(json_len(json_doc_root(&d)), 100000);
    const char *s;
    CHECK_EQ_INT(json_get_str(json_obj_get(json_arr_at(json_doc_root(&d), 99999), "s"), &s, &n),
                 JSON_OK);
    CHECK(strcmp(s, "v\n99999") == 0);
    json_doc_free(&d);
    buf_free(&b);
}

static void check_int(const char *s, int64_t want, double want_d, int line)
{
    json_doc d;
    int64_t i = 0;
    double dv = 0;
    int rc = parse(s, &d);
    if (rc == JSON_OK)
        rc = json_get_int64(json_doc_root(&d), &i);
    if (rc == JSON_OK)
        rc = json_get_double(json_doc_root(&d), &dv);
    if (rc != JSON_OK || i != want || dv != want_d) {
        t_fail++;
        fprintf(stderr, "%s:%d: %s gave rc %d, %lld, %.17g\n", __FILE__, line, s, rc, (long long)i,
                dv);
    } else {
        t_pass++;
    }
    json_doc_free(&d);
}

/* Checks a number that is not an integer to json_get_int64, and its double. */
static void check_dbl(const char *s, double want, int line)
{
    json_doc d;
    int64_t i;
    double dv = 0;
    int rc = parse(s, &d);
    bool ok = rc == JSON_OK && !json_is_int(json_doc_root(&d)) &&
              json_get_int64(json_doc_root(&d), &i) == JSON_ERANGE &&
              json_get_double(json_doc_root(&d), &dv) == JSON_OK &&
              memcmp(&dv, &want, sizeof dv) == 0;
    if (!ok) {
        t_fail++;
        fprintf(stderr, "%s:%d: %s gave rc %d, %.17g, expected %.17g\n", __FILE__, line, s, rc, dv,
                want);
    } else {
        t_pass++;
    }
    json_doc_free(&d);
}

#define CHECK_INT(s, i, d) check_int((s), (i), (d), __LINE__)
#define CHECK_DBL(s, d) check_dbl((s), (d), __LINE__)

static void test_numbers(void)
{
    CHECK_INT("0", 0, 0.0);
    CHECK_INT("-1", -1, -1.0);
    CHECK_INT("1700000000000", 1700000000000LL, 1700000000000.0);
    CHECK_INT("9223372036854775807", INT64_MAX, 9223372036854775807.0);
    CHECK_INT("-9223372036854775807", -INT64_MAX, -9223372036854775807.0);
    CHECK_INT("-9223372036854775808", INT64_MIN, -9223372036854775808.0);
    CHECK_INT("9007199254740993", 9007199254740993LL, 9007199254740992.0);
    CHECK_INT("-9007199254740993", -9007199254740993LL, -9007199254740992.0);
    CHECK_INT("1000000000000000000", 1000000000000000000LL, 1e18);

    /* "-0" is the integer 0 and keeps its sign as a double. */
    json_doc d;
    CHECK_EQ_INT(parse("-0", &d), JSON_OK);
    CHECK(json_is_int(json_doc_root(&d)) && d.root.u.num.i == 0 && signbit(d.root.u.num.d));
    json_doc_free(&d);

    /* Integer literals above INT64_MAX are kept exactly while they fit uint64_t. */
    uint64_t u = 0;
    CHECK_EQ_INT(parse("18446744073709551615", &d), JSON_OK);
    CHECK(d.root.is_u64 && !d.root.is_int && d.root.u.num.u == UINT64_MAX);
    CHECK(json_get_uint64(json_doc_root(&d), &u) == JSON_OK && u == UINT64_MAX);
    json_doc_free(&d);
    CHECK_EQ_INT(parse("9223372036854775808", &d), JSON_OK);
    CHECK(json_get_uint64(json_doc_root(&d), &u) == JSON_OK && u == (uint64_t)1 << 63);
    json_doc_free(&d);
    CHECK_EQ_INT(parse("7", &d), JSON_OK);
    CHECK(!d.root.is_u64 && json_get_uint64(json_doc_root(&d), &u) == JSON_OK && u == 7);
    json_doc_free(&d);
    static const char *const not_u64[] = {
        "18446744073709551616", "-1", "1.0", "1e3", "-9223372036854775809", "184467440737095516150"
    };
    for (size_t k = 0; k < sizeof not_u64 / sizeof *not_u64; k++) {
        CHECK_EQ_INT(parse(not_u64[k], &d), JSON_OK);
        CHECK(!d.root.is_u64);
        CHECK_EQ_INT(json_get_uint64(json_doc_root(&d), &u), JSON_ERANGE);
        json_doc_free(&d);
    }
    CHECK_EQ_INT(json_get_uint64(NULL, &u), JSON_EMISSING);

    CHECK_DBL("9223372036854775808", 9223372036854775808.0);
    CHECK_DBL("-9223372036854775809", -9223372036854775808.0);
    CHECK_DBL("18446744073709551615", 18446744073709551616.0);
    CHECK_DBL("18446744073709551616", 18446744073709551616.0);
    CHECK_DBL("99999999999999999999", 1e20);
    CHECK_DBL("1.0", 1.0);
    CHECK_DBL("1e3", 1000.0);
    CHECK_DBL("-0.0", -0.0);
    CHECK_DBL("0e0", 0.0);
    CHECK_DBL("0.1", 0.1);
    CHECK_DBL("-2.5E-3", -0.0025);
    CHECK_DBL("3.141592653589793", 3.141592653589793);
    CHECK_DBL("0.30000000000000004", 0.30000000000000004);
    CHECK_DBL("1e22", 1e22);
    CHECK_DBL("1e23", 1e23);
    CHECK_DBL("1.7976931348623157e308", 1.7976931348623157e308);
    CHECK_DBL("2.2250738585072014e-308", 2.2250738585072014e-308);
    CHECK_DBL("4.9406564584124654e-324", 4.9406564584124654e-324);
    CHECK_DBL("1e-400", 0.0);
    CHECK_DBL("9007199254740993.0", 9007199254740992.0);
    CHECK_DBL("9007199254740995.0", 9007199254740996.0);
    CHECK_DBL("0.000000000000000000000000000001", 1e-30);
    CHECK_DBL("1.00000000000000011102230246251565404236316680908203125", 1.0);
    CHECK_DBL("1.00000000000000011102230246251565404236316680908203126", 1.0000000000000002);
    CHECK_DBL("123456789012345678901234567890e-10", 12345678901234567890.0);

    /* Random literals of every shape against strtod, which glibc rounds correctly: this pits the
     * fast path and the digit truncation against the reference. */
    for (int k = 0; k < 200000; k++) {
        char s[64];
        size_t n = 0;
        if (rng() & 1)
            s[n++] = '-';
        int ints = (int)(rng() % 21), fracs = (int)(rng() % 21);
        s[n++] = (char)('1' + rng() % 9);
        for (int j = 0; j < ints; j++)
            s[n++] = (char)('0' + rng() % 10);
        if (fracs) {
            s[n++] = '.';
            for (int j = 0; j < fracs; j++)
                s[n++] = (char)('0' + (rng() % 3 ? rng() % 10 : 0));
        }
        if (rng() & 1)
            n += (size_t)snprintf(s + n, sizeof s - n, "e%d", (int)(rng() % 80) - 40);
        s[n] = '\0';
        double want = strtod(s, NULL), got;
        CHECK_EQ_INT(json_parse(s, n, &d, NULL), JSON_OK);
        CHECK_EQ_INT(json_get_double(json_doc_root(&d), &got), JSON_OK);
        if (memcmp(&got, &want, sizeof got) != 0) {
            t_fail++;
            fprintf(stderr, "%s: got %.17g, strtod %.17g\n", s, got, want);
        }
        json_doc_free(&d);
    }

    /* A number of a million digits is still correct (and not quadratic). */
    buf_t b = BUF_INIT;
    buf_append_str(&b, "0.");
    for (int k = 0; k < 1000000; k++)
        buf_push(&b, (uint8_t)('0' + k % 10));
    double got;
    CHECK_EQ_INT(json_parse((const char *)b.data, b.len, &d, NULL), JSON_OK);
    CHECK_EQ_INT(json_get_double(json_doc_root(&d), &got), JSON_OK);
    CHECK(got == 0.01234567890123456789);
    json_doc_free(&d);
    buf_free(&b);
}

static void test_equal(void)
{
    json_doc a, b;
    CHECK_EQ_INT(parse("{\"x\":[1,2.5,\"s\",null,true,{}],\"y\":1e2}", &a), JSON_OK);
    CHECK_EQ_INT(parse("{\"x\":[1,2.5,\"s\",null,true,{}],\"y\":100}", &b), JSON_OK);
    CHECK(json_equal(json_doc_root(&a), json_doc_root(&b)));
    json_doc_free(&b);
    const char *other[] = {
        "{\"y\":100,\"x\":[1,2.5,\"s\",null,true,{}]}",
        "{\"x\":[1,2.5,\"s\",null,false,{}],\"y\":100}",
        "{\"x\":[1,2.5,\"t\",null,true,{}],\"y\":100}",
        "{\"x\":[1,2.5,\"s\",null,true,[]],\"y\":100}",
        "{\"x\":[1,2.5,\"s\",null,true],\"y\":100}",
        "{\"x\":[1,2.5,\"s\",null,true,{}],\"y\":101}",
        "{\"x\":[1,2.5,\"s\",null,true,{}]}",
    };
    for (size_t k = 0; k < sizeof other / sizeof *other; k++) {
        CHECK_EQ_INT(parse(other[k], &b), JSON_OK);
        CHECK(!json_equal(json_doc_root(&a), json_doc_root(&b)));
        json_doc_free(&b);
    }
    json_doc_free(&a);
    CHECK(json_equal(NULL, NULL));
    CHECK_EQ_INT(parse("9007199254740993", &a), JSON_OK);
    CHECK_EQ_INT(parse("9007199254740992", &b), JSON_OK);
    CHECK(!json_equal(json_doc_root(&a), json_doc_root(&b)));
    CHECK(!json_equal(json_doc_root(&a), NULL));
    json_doc_free(&a);
    json_doc_free(&b);
    CHECK_EQ_INT(parse("18446744073709551615", &a), JSON_OK);
    CHECK_EQ_INT(parse("18446744073709551614", &b), JSON_OK);
    CHECK(!json_equal(json_doc_root(&a), json_doc_root(&b)));
    json_doc_free(&b);
    CHECK_EQ_INT(parse("18446744073709551615", &b), JSON_OK);
    CHECK(json_equal(json_doc_root(&a), json_doc_root(&b)));
    json_doc_free(&a);
    json_doc_free(&b);
}

static void test_schema(void)
{
    json_doc d;
    const char *bad = NULL;
    CHECK_EQ_INT(parse("{\"name\":\"a\",\"key\":null,\"input\":\"aGk=\",\"tags\":{}}", &d),
                 JSON_OK);
    const json_value *r = json_doc_root(&d);
    static const char *const allowed[] = { "name", "key", "input", "tags", "durable", NULL };
    static const char *const fewer[] = { "name", "key", "tags", NULL };
    CHECK_EQ_INT(json_obj_check_keys(r, allowed, &bad), JSON_OK);
    CHECK_EQ_INT(json_obj_check_keys(r, fewer, &bad), JSON_EUNKNOWN);
    CHECK(bad && strcmp(bad, "input") == 0);
    CHECK_EQ_INT(json_obj_check_keys(r, fewer, NULL), JSON_EUNKNOWN);
    CHECK_EQ_INT(json_obj_check_keys(json_obj_get(r, "name"), allowed, &bad), JSON_ETYPE);
    CHECK_EQ_INT(json_obj_check_keys(NULL, allowed, &bad), JSON_EMISSING);
    CHECK_EQ_INT(json_obj_check_keys(json_obj_get(r, "tags"), fewer + 3, &bad), JSON_OK);

    const json_field fields[] = {
        { "name", JSON_MASK(JSON_STRING), true },
        { "key", JSON_MASK(JSON_STRING) | JSON_MASK(JSON_NULL), false },
        { "input", JSON_MASK(JSON_STRING), false },
        { "tags", JSON_MASK(JSON_OBJECT), false },
        { "durable", JSON_MASK(JSON_BOOL), false },
    };
    CHECK_EQ_INT(json_obj_check(r, fields, 5, &bad), JSON_OK);
    CHECK_EQ_INT(json_obj_check(r, fields, 3, &bad), JSON_EUNKNOWN);
    CHECK(strcmp(bad, "tags") == 0);
    json_doc_free(&d);

    CHECK_EQ_INT(parse("{\"key\":\"k\",\"name\":1}", &d), JSON_OK);
    CHECK_EQ_INT(json_obj_check(json_doc_root(&d), fields, 5, &bad), JSON_ETYPE);
    CHECK(strcmp(bad, "name") == 0);
    json_doc_free(&d);
    CHECK_EQ_INT(parse("{\"key\":\"k\"}", &d), JSON_OK);
    CHECK_EQ_INT(json_obj_check(json_doc_root(&d), fields, 5, &bad), JSON_EMISSING);
    CHECK(strcmp(bad, "name") == 0);
    json_doc_free(&d);
    CHECK_EQ_INT(parse("{\"name\":\"n\",\"durable\":\"yes\"}", &d), JSON_OK);
    CHECK_EQ_INT(json_obj_check(json_doc_root(&d), fields, 5, &bad), JSON_ETYPE);
    CHECK(strcmp(bad, "durable") == 0);
    json_doc_free(&d);
    CHECK_EQ_INT(parse("{\"name\\u0000\":\"n\"}", &d), JSON_OK);
    CHECK_EQ_INT(json_obj_check(json_doc_root(&d), fields, 5, &bad), JSON_EUNKNOWN);
    json_doc_free(&d);
    const json_field any[] = { { "v", 0, true } };
    CHECK_EQ_INT(parse("{\"v\":[1]}", &d), JSON_OK);
    CHECK_EQ_INT(json_obj_check(json_doc_root(&d), any, 1, &bad), JSON_OK);
    json_doc_free(&d);
    CHECK_EQ_INT(json_obj_check(NULL, any, 1, &bad), JSON_EMISSING);
    CHECK_EQ_INT(parse("[]", &d), JSON_OK);
    CHECK_EQ_INT(json_obj_check(json_doc_root(&d), any, 1, &bad), JSON_ETYPE);
    json_doc_free(&d);
}

static void check_write_str(const char *in, size_t n, const char *want, int line)
{
    buf_t b = BUF_INIT;
    buf_append_str(&b, "x");
    json_write_str(&b, in, n);
    if (b.len != strlen(want) + 1 || memcmp(b.data + 1, want, b.len - 1) != 0) {
        t_fail++;
        fprintf(stderr, "%s:%d: wrote %.*s, expected %s\n", __FILE__, line, (int)b.len - 1,
                (const char *)b.data + 1, want);
    } else {
        t_pass++;
    }
    buf_free(&b);
}

#define CHECK_WSTR(in, want) check_write_str((in), sizeof(in) - 1, (want), __LINE__)

static void check_write_dbl(double v, const char *want, int line)
{
    buf_t b = BUF_INIT;
    json_write_double(&b, v);
    buf_push(&b, 0);
    if (strcmp((const char *)b.data, want) != 0) {
        t_fail++;
        fprintf(stderr, "%s:%d: wrote %s, expected %s\n", __FILE__, line, b.data, want);
    } else {
        t_pass++;
    }
    buf_free(&b);
}

#define CHECK_WDBL(v, want) check_write_dbl((v), (want), __LINE__)

static void test_write(void)
{
    CHECK_WSTR("", "\"\"");
    CHECK_WSTR("plain text/with slash", "\"plain text/with slash\"");
    CHECK_WSTR("q\"b\\", "\"q\\\"b\\\\\"");
    CHECK_WSTR("\b\f\n\r\t", "\"\\b\\f\\n\\r\\t\"");
    CHECK_WSTR("\x01\x1f\x7f", "\"\\u0001\\u001f\x7f\"");
    CHECK_WSTR("a\0b", "\"a\\u0000b\"");
    CHECK_WSTR("caf\xC3\xA9 \xF0\x9F\x98\x80", "\"caf\xC3\xA9 \xF0\x9F\x98\x80\"");
    CHECK_WSTR("\xFF", "\"\xEF\xBF\xBD\"");
    CHECK_WSTR("a\x80z", "\"a\xEF\xBF\xBDz\"");
    CHECK_WSTR("\xE2\x82", "\"\xEF\xBF\xBD\"");
    CHECK_WSTR("\xE2\x82z", "\"\xEF\xBF\xBDz\"");
    CHECK_WSTR("\xF0\x9F\x98", "\"\xEF\xBF\xBD\"");
    CHECK_WSTR("\xC0\xAF", "\"\xEF\xBF\xBD\xEF\xBF\xBD\"");
    CHECK_WSTR("\xED\xA0\x80", "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");
    CHECK_WSTR("\xF4\x90\x80\x80", "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");
    CHECK_WSTR("\xE2\x82\xAC\xE2", "\"\xE2\x82\xAC\xEF\xBF\xBD\"");

    buf_t b = BUF_INIT;
    int64_t ints[] = { 0, 1, -1, 42, 1700000000123LL, INT64_MAX, INT64_MIN, -INT64_MAX };
    const char *iw[] = { "0",
                         "1",
                         "-1",
                         "42",
                         "1700000000123",
                         "9223372036854775807",
                         "-9223372036854775808",
                         "-9223372036854775807" };
    for (size_t k = 0; k < 8; k++) {
        buf_reset(&b);
        json_write_int64(&b, ints[k]);
        CHECK(b.len == strlen(iw[k]) && memcmp(b.data, iw[k], b.len) == 0);
    }

    CHECK_WDBL(0.0, "0");
    CHECK_WDBL(-0.0, "-0.0");
    CHECK_WDBL(3.0, "3");
    CHECK_WDBL(-42.0, "-42");
    CHECK_WDBL(1e15, "1000000000000000");
    CHECK_WDBL(9007199254740991.0, "9007199254740991");
    CHECK_WDBL(9007199254740992.0, "9007199254740992");
    CHECK_WDBL(0.1, "0.1");
    CHECK_WDBL(-2.5, "-2.5");
    CHECK_WDBL(1.0 / 3, "0.3333333333333333");
    CHECK_WDBL(0.30000000000000004, "0.30000000000000004");
    CHECK_WDBL(1e300, "1e+300");
    CHECK_WDBL(1e21, "1e+21");
    CHECK_WDBL(1.5e-7, "1.5e-07");
    CHECK_WDBL(1.7976931348623157e308, "1.7976931348623157e+308");
    CHECK_WDBL(NAN, "null");
    CHECK_WDBL(INFINITY, "null");
    CHECK_WDBL(-INFINITY, "null");

    /* Written doubles read back exactly, whatever their magnitude. */
    for (int k = 0; k < 100000; k++) {
        uint64_t bits = rng();
        double v;
        memcpy(&v, &bits, sizeof v);
        if (!isfinite(v))
            continue;
        buf_reset(&b);
        json_write_double(&b, v);
        json_doc d;
        double got = 0;
        CHECK_EQ_INT(json_parse((const char *)b.data, b.len, &d, NULL), JSON_OK);
        json_get_double(json_doc_root(&d), &got);
        if (memcmp(&got, &v, sizeof v) != 0 && !(v == 0 && got == 0)) {
            t_fail++;
            fprintf(stderr, "double %.17g wrote %.*s, read %.17g\n", v, (int)b.len,
                    (const char *)b.data, got);
        }
        json_doc_free(&d);
    }

    /* A locale with a decimal comma changes nothing, when the system has one. */
    if (setlocale(LC_NUMERIC, "de_DE.UTF-8") || setlocale(LC_NUMERIC, "fr_FR.UTF-8")) {
        CHECK_WDBL(0.5, "0.5");
        json_doc d;
        double got = 0;
        CHECK_EQ_INT(parse("1.25e-300", &d), JSON_OK);
        json_get_double(json_doc_root(&d), &got);
        CHECK(got == 1.25e-300);
        json_doc_free(&d);
        setlocale(LC_NUMERIC, "C");
    }
    buf_free(&b);
}

/* Writes the parse of text, parses that, and checks that the trees are equal and that writing
 * again gives the same bytes. */
static void check_round_trip(const char *text, const char *want, int line)
{
    json_doc a, b;
    buf_t out = BUF_INIT, again = BUF_INIT;
    int ok = parse(text, &a) == JSON_OK;
    if (ok) {
        json_write_value(&out, json_doc_root(&a));
        ok = json_parse((const char *)out.data, out.len, &b, NULL) == JSON_OK;
        if (ok) {
            ok = json_equal(json_doc_root(&a), json_doc_root(&b));
            json_write_value(&again, json_doc_root(&b));
            ok = ok && again.len == out.len && memcmp(again.data, out.data, out.len) == 0;
            json_doc_free(&b);
        }
        ok = ok && (!want || (out.len == strlen(want) && memcmp(out.data, want, out.len) == 0));
    }
    if (!ok) {
        t_fail++;
        fprintf(stderr, "%s:%d: round trip of %s wrote %.*s\n", __FILE__, line, text, (int)out.len,
                out.data ? (const char *)out.data : "");
    } else {
        t_pass++;
    }
    json_doc_free(&a);
    buf_free(&out);
    buf_free(&again);
}

#define ROUND_TRIP(text, want) check_round_trip((text), (want), __LINE__)

static void test_round_trip(void)
{
    ROUND_TRIP(" { \"a\" : [ 1 , -2.5e3 , \"x\\ty\" , null , true , false , { } , [ ] ] } ",
               "{\"a\":[1,-2500,\"x\\ty\",null,true,false,{},[]]}");
    ROUND_TRIP("\"\\u00e9\\uD83D\\uDE00\\u0000\\u001F\\/\"",
               "\"\xC3\xA9\xF0\x9F\x98\x80\\u0000\\u001f/\"");
    ROUND_TRIP("[9223372036854775807,-9223372036854775808,9223372036854775808,-0,-0.0]",
               "[9223372036854775807,-9223372036854775808,9223372036854775808,0,-0.0]");
    ROUND_TRIP("[0.1,1e-7,123456789012345678901234567890,5e-324,1e308]", NULL);
    ROUND_TRIP("{\"k\\u0000\":{\"\":[[[\"\"]]]}}", "{\"k\\u0000\":{\"\":[[[\"\"]]]}}");

    /* Any bytes written as a string parse back as a string; valid UTF-8 comes back unchanged. */
    buf_t b = BUF_INIT;
    for (int k = 0; k < 20000; k++) {
        uint8_t raw[24];
        size_t n = rng() % sizeof raw;
        for (size_t j = 0; j < n; j++) {
            uint64_t r = rng();
            raw[j] = (uint8_t)(r % 4 == 0   ? r >> 8
                               : r % 4 == 1 ? 0x80 + (r >> 8) % 0x40
                               : r % 4 == 2 ? 0xC2 + (r >> 8) % 0x33
                                            : 0x20 + (r >> 8) % 0x60);
        }
        buf_reset(&b);
        json_write_str(&b, (const char *)raw, n);
        json_doc d;
        const char *s;
        size_t len;
        CHECK_EQ_INT(json_parse((const char *)b.data, b.len, &d, NULL), JSON_OK);
        CHECK_EQ_INT(json_get_str(json_doc_root(&d), &s, &len), JSON_OK);
        bool valid = true;
        for (size_t j = 0; j < b.len; j++)
            valid &= !(b.data[j] == 0xEF && j + 2 < b.len && b.data[j + 1] == 0xBF &&
                       b.data[j + 2] == 0xBD);
        if (valid)
            CHECK(len == n && memcmp(s, raw, n) == 0);
        json_doc_free(&d);
    }
    buf_free(&b);
}

static void test_builder(void)
{
    buf_t b = BUF_INIT;
    json_w w;
    json_w_init(&w, &b);
    json_w_obj_begin(&w);
    json_w_key(&w, "actor");
    json_w_obj_begin(&w);
    json_w_key(&w, "actor_id");
    json_w_str(&w, "a\"1");
    json_w_key(&w, "key");
    json_w_str(&w, NULL);
    json_w_key(&w, "create_ts");
    json_w_int(&w, 1700000000123LL);
    json_w_key(&w, "sleeping");
    json_w_bool(&w, false);
    json_w_key(&w, "ready");
    json_w_bool(&w, true);
    json_w_key(&w, "destroy_ts");
    json_w_null(&w);
    json_w_key(&w, "ratio");
    json_w_double(&w, 0.25);
    json_w_keyn(&w, "in\0put", 6);
    json_w_b64(&w, (const uint8_t *)"foob", 4);
    json_w_key(&w, "meta");
    json_w_raw(&w, "{\"x\":[1]}", 9);
    json_w_key(&w, "tags");
    json_w_arr_begin(&w);
    json_w_strn(&w, "a\0b", 3);
    json_w_arr_begin(&w);
    json_w_end(&w);
    json_w_obj_begin(&w);
    json_w_end(&w);
    json_w_int(&w, -1);
    json_w_end(&w);
    json_w_end(&w);
    json_w_key(&w, "empty");
    json_w_arr_begin(&w);
    json_w_end(&w);
    json_w_key(&w, "hex");
    json_w_hex(&w, (const uint8_t *)"\x00\x1f\xa0\xff", 4);
    json_w_end(&w);
    CHECK_EQ_INT(json_w_finish(&w), JSON_OK);
    const char *want =
        "{\"actor\":{\"actor_id\":\"a\\\"1\",\"key\":null,"
        "\"create_ts\":1700000000123,\"sleeping\":false,\"ready\":true,"
        "\"destroy_ts\":null,\"ratio\":0.25,\"in\\u0000put\":\"Zm9vYg==\","
        "\"meta\":{\"x\":[1]},\"tags\":[\"a\\u0000b\",[],{},-1]},\"empty\":[],"
        "\"hex\":\"001fa0ff\"}";
    CHECK(b.len == strlen(want) && memcmp(b.data, want, b.len) == 0);
    if (b.len != strlen(want) || memcmp(b.data, want, b.len) != 0)
        fprintf(stderr, "builder wrote %.*s\n", (int)b.len, b.data);
    json_doc d;
    CHECK_EQ_INT(json_parse((const char *)b.data, b.len, &d, NULL), JSON_OK);

    /* A parsed value goes back in whole. */
    buf_t c = BUF_INIT;
    json_w_init(&w, &c);
    json_w_arr_begin(&w);
    json_w_value(&w, json_obj_get(json_doc_root(&d), "actor"));
    json_w_value(&w, json_doc_root(&d));
    json_w_end(&w);
    CHECK_EQ_INT(json_w_finish(&w), JSON_OK);
    json_doc e;
    CHECK_EQ_INT(json_parse((const char *)c.data, c.len, &e, NULL), JSON_OK);
    CHECK(json_equal(json_arr_at(json_doc_root(&e), 0), json_obj_get(json_doc_root(&d), "actor")));
    CHECK(json_equal(json_arr_at(json_doc_root(&e), 1), json_doc_root(&d)));
    CHECK_EQ_INT(json_len(json_doc_root(&e)), 2);
    json_doc_free(&e);
    json_doc_free(&d);
    buf_free(&c);

    /* Scalars at the top level. */
    buf_reset(&b);
    json_w_init(&w, &b);
    json_w_str(&w, "x");
    CHECK_EQ_INT(json_w_finish(&w), JSON_OK);
    CHECK(b.len == 3 && memcmp(b.data, "\"x\"", 3) == 0);

    /* Misuse stops the builder and is reported by finish. */
    struct {
        int step;
        const char *what;
    } cases[] = {
        { 0, "value in an object without a key" },
        { 1, "key in an array" },
        { 2, "key at the top level" },
        { 3, "end with nothing open" },
        { 4, "end after a key" },
        { 5, "two keys in a row" },
        { 6, "two top-level values" },
        { 7, "container left open" },
        { 8, "nothing written" },
        { 9, "too deep" },
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        buf_reset(&b);
        json_w_init(&w, &b);
        switch (cases[k].step) {
        case 0:
            json_w_obj_begin(&w);
            json_w_int(&w, 1);
            json_w_end(&w);
            break;
        case 1:
            json_w_arr_begin(&w);
            json_w_key(&w, "k");
            json_w_end(&w);
            break;
        case 2: json_w_key(&w, "k"); break;
        case 3:
            json_w_null(&w);
            json_w_end(&w);
            break;
        case 4:
            json_w_obj_begin(&w);
            json_w_key(&w, "k");
            json_w_end(&w);
            break;
        case 5:
            json_w_obj_begin(&w);
            json_w_key(&w, "k");
            json_w_key(&w, "l");
            break;
        case 6:
            json_w_arr_begin(&w);
            json_w_end(&w);
            json_w_null(&w);
            break;
        case 7:
            json_w_arr_begin(&w);
            json_w_obj_begin(&w);
            json_w_end(&w);
            break;
        case 8: break;
        case 9:
            for (unsigned j = 0; j <= JSON_W_MAX_DEPTH; j++)
                json_w_arr_begin(&w);
            for (unsigned j = 0; j <= JSON_W_MAX_DEPTH; j++)
                json_w_end(&w);
            break;
        }
        if (json_w_finish(&w) != JSON_EWRITER) {
            t_fail++;
            fprintf(stderr, "builder accepted %s\n", cases[k].what);
        } else {
            t_pass++;
        }
    }
    buf_reset(&b);
    json_w_init(&w, &b);
    for (unsigned j = 0; j < JSON_W_MAX_DEPTH; j++)
        json_w_arr_begin(&w);
    for (unsigned j = 0; j < JSON_W_MAX_DEPTH; j++)
        json_w_end(&w);
    CHECK_EQ_INT(json_w_finish(&w), JSON_OK);
    CHECK_EQ_INT(b.len, 2 * JSON_W_MAX_DEPTH);
    buf_free(&b);
}

/* Error bodies stay valid JSON whatever the text they carry: quotes, backslashes, control
 * bytes and invalid UTF-8 (as a runner's name from the network may hold) are escaped. */
static void test_error_body(void)
{
    static const char hostile[] = "pool-\"b\\\x01\n\x7f\xff";
    char msg[128];
    snprintf(msg, sizeof msg, "several runner names are connected (%s, pool-a)", hostile);
    buf_t b = BUF_INIT;
    json_error_body(&b, "policy", "no_runner", msg, NULL, 0);
    json_doc d;
    json_err e;
    CHECK_EQ_INT(json_parse((const char *)b.data, b.len, &d, &e), JSON_OK);
    const json_value *root = json_doc_root(&d);
    CHECK_EQ_INT(json_len(root), 3);
    const char *s;
    size_t n;
    CHECK(json_get_str(json_obj_get(root, "group"), &s, &n) == JSON_OK && strcmp(s, "policy") == 0);
    CHECK(json_get_str(json_obj_get(root, "code"), &s, &n) == JSON_OK &&
          strcmp(s, "no_runner") == 0);
    /* Everything but the invalid byte comes back as it was; that one becomes U+FFFD. */
    static const char want[] =
        "several runner names are connected (pool-\"b\\\x01\n\x7f\xef\xbf\xbd, pool-a)";
    CHECK(json_get_str(json_obj_get(root, "message"), &s, &n) == JSON_OK && n == sizeof want - 1 &&
          memcmp(s, want, n) == 0);
    json_doc_free(&d);

    /* Metadata members follow, strings and integers; a NULL message is an empty string. */
    buf_reset(&b);
    json_meta m[2] = { { "key", "a\"b", 0 }, { "max", NULL, 128 } };
    json_error_body(&b, "actor", "key_too_large", NULL, m, 2);
    static const char want2[] =
        "{\"group\":\"actor\",\"code\":\"key_too_large\",\"message\":\"\","
        "\"metadata\":{\"key\":\"a\\\"b\",\"max\":128}}";
    CHECK(b.len == sizeof want2 - 1 && memcmp(b.data, want2, b.len) == 0);
    buf_free(&b);
}

int main(void)
{
    test_values();
    test_strings();
    test_json_test_suite();
    test_duplicates();
    test_limits();
    test_numbers();
    test_equal();
    test_schema();
    test_write();
    test_round_trip();
    test_builder();
    test_error_body();
    return T_DONE();
}
