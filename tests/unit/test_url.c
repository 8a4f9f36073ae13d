/* Request-target helpers: splitting, path segments, percent-decoding and query lookups. */
#include "t.h"

#include "net/url.h"

static bool str_is(slice_t s, const char *want)
{
    return s.len == strlen(want) && memcmp(s.p, want, s.len) == 0;
}

static void test_split(void)
{
    url_parts u;
    const char *t = "/a%2Fb/../c?x=1+2&y=%41";
    url_split(t, strlen(t), &u);
    CHECK(str_is(u.path, "/a%2Fb/../c"));
    CHECK(str_is(u.query, "x=1+2&y=%41"));
    CHECK(u.has_query);
    CHECK_EQ_INT(u.authority.len, 0);

    url_split("/plain", 6, &u);
    CHECK(str_is(u.path, "/plain") && !u.has_query && u.query.len == 0);
    url_split("/q?", 3, &u);
    CHECK(str_is(u.path, "/q") && u.has_query && u.query.len == 0);
    url_split("/a?b?c=d/e", 10, &u);
    CHECK(str_is(u.path, "/a") && str_is(u.query, "b?c=d/e"));
    url_split("/f?x=1#frag?y", 13, &u);
    CHECK(str_is(u.path, "/f") && str_is(u.query, "x=1"));
    url_split("/f#frag", 7, &u);
    CHECK(str_is(u.path, "/f") && !u.has_query);
    url_split("HTTP://example.com:8080/p/q?z=1", 31, &u);
    CHECK(str_is(u.authority, "example.com:8080") && str_is(u.path, "/p/q") &&
          str_is(u.query, "z=1"));
    url_split("https://h", 9, &u);
    CHECK(str_is(u.authority, "h") && u.path.len == 0 && !u.has_query);
    url_split("http://h?x", 10, &u);
    CHECK(str_is(u.authority, "h") && u.path.len == 0 && str_is(u.query, "x"));
    url_split("*", 1, &u);
    CHECK(str_is(u.path, "*"));
    url_split("example.com:443", 15, &u);
    CHECK(str_is(u.path, "example.com:443") && u.authority.len == 0);
    url_split("", 0, &u);
    CHECK(u.path.len == 0 && !u.has_query);
}

static void test_segments(void)
{
    slice_t path = { (const uint8_t *)"/gateway/a1b2%40x@tok%2Fen/websocket/chat/room", 0 };
    path.len = strlen((const char *)path.p);
    size_t pos = 0;
    slice_t seg;
    CHECK(url_path_next(&path, &pos, &seg) && str_is(seg, "gateway"));
    CHECK(url_path_next(&path, &pos, &seg) && str_is(seg, "a1b2%40x@tok%2Fen"));
    /* The rest of the path, raw, for forwarding. */
    CHECK(!strcmp((const char *)path.p + pos, "/websocket/chat/room"));
    CHECK(url_path_next(&path, &pos, &seg) && str_is(seg, "websocket"));
    CHECK(url_path_next(&path, &pos, &seg) && str_is(seg, "chat"));
    CHECK(url_path_next(&path, &pos, &seg) && str_is(seg, "room"));
    CHECK(!url_path_next(&path, &pos, &seg));

    const char *cases[][4] = {
        { "/", "", NULL, NULL },   { "/a/", "a", "", NULL }, { "//x", "", "x", NULL },
        { "a/b", "a", "b", NULL }, { "", NULL, NULL, NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        slice_t p = slice_cstr(cases[i][0]);
        size_t k = 0, j = 1;
        while (url_path_next(&p, &k, &seg)) {
            CHECK(j < 4 && cases[i][j] && str_is(seg, cases[i][j]));
            j++;
        }
        CHECK(j == 4 || cases[i][j] == NULL);
    }
}

static void test_decode(void)
{
    char out[64];
    size_t n;
    CHECK_EQ_INT(url_decode_segment("a%40b+c%7e", 10, out, &n, 0), URL_OK);
    CHECK(n == 6 && !memcmp(out, "a@b+c~", 6));
    CHECK_EQ_INT(url_decode_segment("%E2%82%AC", 9, out, &n, 0), URL_OK);
    CHECK(n == 3 && !memcmp(out, "\xE2\x82\xAC", 3));
    CHECK_EQ_INT(url_decode_segment("", 0, out, &n, 0), URL_OK);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(url_decode_segment("a%2Fb", 5, out, &n, 0), URL_ESLASH);
    CHECK_EQ_INT(url_decode_segment("a%2fb", 5, out, &n, URL_ALLOW_SLASH), URL_OK);
    CHECK(n == 3 && !memcmp(out, "a/b", 3));
    CHECK_EQ_INT(url_decode_segment("a%00b", 5, out, &n, URL_ALLOW_SLASH), URL_ENUL);
    CHECK_EQ_INT(url_decode_segment("a\0b", 3, out, &n, 0), URL_ENUL);
    CHECK_EQ_INT(url_decode_segment("%", 1, out, &n, 0), URL_EESCAPE);
    CHECK_EQ_INT(url_decode_segment("%4", 2, out, &n, 0), URL_EESCAPE);
    CHECK_EQ_INT(url_decode_segment("%4g", 3, out, &n, 0), URL_EESCAPE);
    CHECK_EQ_INT(url_decode_segment("%g4", 3, out, &n, 0), URL_EESCAPE);
    CHECK_EQ_INT(url_decode_segment("x%", 2, out, &n, 0), URL_EESCAPE);
    /* In place. */
    char buf[] = "%41%42c";
    CHECK_EQ_INT(url_decode_segment(buf, 7, buf, &n, 0), URL_OK);
    CHECK(n == 3 && !memcmp(buf, "ABc", 3));

    CHECK_EQ_INT(url_decode_query("1+2%2B3", 7, out, &n), URL_OK);
    CHECK(n == 5 && !memcmp(out, "1 2+3", 5));
    CHECK_EQ_INT(url_decode_query("a%2Fb", 5, out, &n), URL_OK);
    CHECK(n == 3 && !memcmp(out, "a/b", 3));
    CHECK_EQ_INT(url_decode_query("%zz", 3, out, &n), URL_EESCAPE);
    CHECK_EQ_INT(url_decode_query("%00", 3, out, &n), URL_ENUL);
}

static void test_query(void)
{
    slice_t q = { (const uint8_t *)"protocol_version=7&namespace=default&runner_key=k%2B1+2&&flag&=v&a=b=c&"
                  "n%61me=x&namespace=second", 0 };
    q.len = strlen((const char *)q.p);
    size_t pos = 0, count = 0;
    slice_t name, value;
    while (url_query_next(&q, &pos, &name, &value))
        count++;
    CHECK_EQ_INT(count, 8);
    pos = 0;
    CHECK(url_query_next(&q, &pos, &name, &value) && str_is(name, "protocol_version") &&
          str_is(value, "7"));

    buf_t out = BUF_INIT;
    CHECK_EQ_INT(url_query_get(&q, "protocol_version", &out), 1);
    CHECK(out.len == 1 && !strcmp((char *)out.data, "7"));
    CHECK_EQ_INT(url_query_get(&q, "namespace", &out), 1);
    CHECK(out.len == 7 && !strcmp((char *)out.data, "default"));
    CHECK_EQ_INT(url_query_get(&q, "runner_key", &out), 1);
    CHECK(out.len == 5 && !strcmp((char *)out.data, "k+1 2"));
    CHECK_EQ_INT(url_query_get(&q, "flag", &out), 1);
    CHECK(out.len == 0 && out.data[0] == 0);
    CHECK_EQ_INT(url_query_get(&q, "", &out), 1);
    CHECK(out.len == 1 && !strcmp((char *)out.data, "v"));
    CHECK_EQ_INT(url_query_get(&q, "a", &out), 1);
    CHECK(!strcmp((char *)out.data, "b=c"));
    /* Names are compared decoded. */
    CHECK_EQ_INT(url_query_get(&q, "name", &out), 1);
    CHECK(!strcmp((char *)out.data, "x"));
    CHECK_EQ_INT(url_query_get(&q, "missing", &out), 0);
    CHECK_EQ_INT(url_query_get(&q, "protocol", &out), 0);
    CHECK_EQ_INT(url_query_get(&q, "protocol_version_x", &out), 0);

    slice_t bad = { (const uint8_t *)"a=%zz&b=1&%zz=2", 15 };
    CHECK_EQ_INT(url_query_get(&bad, "a", &out), URL_EESCAPE);
    CHECK_EQ_INT(url_query_get(&bad, "b", &out), 1);
    CHECK_EQ_INT(url_query_get(&bad, "%zz", &out), 0);
    slice_t empty = { (const uint8_t *)"", 0 };
    CHECK_EQ_INT(url_query_get(&empty, "a", &out), 0);
    buf_free(&out);
}

int main(void)
{
    test_split();
    test_segments();
    test_decode();
    test_query();
    return T_DONE();
}
