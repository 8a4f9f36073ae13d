/* HTTP/1.1 request parser: byte-exact targets and headers, pipelining, input split at every
 * byte boundary, the head and body caps, chunked bodies, upgrades with trailing bytes,
 * keep-alive rules and the error statuses. */
#include "t.h"

#include <stdlib.h>

#include "core/alloc.h"
#include "net/http_req.h"

/* A request as the tests compare it: everything copied out of the parser. */
typedef struct got {
    char method[16];
    char url[256];
    int major, minor;
    char headers[2048]; /* "name: value\n" per header, in order */
    char body[1024];
    size_t body_len;
    int keep_alive, upgrade, chunked;
} got;

static void capture(const hreq *r, got *g)
{
    memset(g, 0, sizeof *g);
    snprintf(g->method, sizeof g->method, "%s", r->method);
    snprintf(g->url, sizeof g->url, "%.*s", (int)r->url.len, r->url.p);
    g->major = r->http_major;
    g->minor = r->http_minor;
    size_t o = 0;
    for (size_t i = 0; i < r->nheaders && o < sizeof g->headers; i++)
        o += (size_t)snprintf(g->headers + o, sizeof g->headers - o, "%.*s: %.*s\n",
                              (int)r->headers[i].name.len, r->headers[i].name.p,
                              (int)r->headers[i].value.len, r->headers[i].value.p);
    g->body_len = r->body.len < sizeof g->body ? r->body.len : sizeof g->body;
    memcpy(g->body, r->body.p, g->body_len);
    g->keep_alive = r->keep_alive;
    g->upgrade = r->upgrade;
    g->chunked = r->chunked;
}

static bool got_equal(const got *a, const got *b)
{
    return !strcmp(a->method, b->method) && !strcmp(a->url, b->url) && a->major == b->major &&
           a->minor == b->minor && !strcmp(a->headers, b->headers) && a->body_len == b->body_len &&
           !memcmp(a->body, b->body, a->body_len) && a->keep_alive == b->keep_alive &&
           a->upgrade == b->upgrade && a->chunked == b->chunked;
}

typedef struct run {
    got reqs[8];
    size_t n;
    int status;  /* of an error */
    size_t rest; /* bytes left after an upgrade */
} run;

/* Feeds src in pieces cut at the given points, as a transport with an input buffer would,
 * answering HREQ_CONTINUE and stopping at an upgrade. */
static void feed_split(const char *src, size_t len, const size_t *cuts, size_t ncuts,
                       size_t max_head, size_t max_body, run *out)
{
    hreq r;
    buf_t in = BUF_INIT;
    size_t prev = 0;
    memset(out, 0, sizeof *out);
    hreq_init(&r);
    if (max_head)
        r.max_head = max_head;
    if (max_body)
        r.max_body = max_body;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : len;
        buf_append(&in, src + prev, end - prev);
        prev = end;
        while (in.len) {
            size_t used = 0;
            int rc = hreq_feed(&r, (const char *)in.data, in.len, &used);
            CHECK(used <= in.len);
            if (rc == HREQ_ERROR) {
                out->status = r.status;
                CHECK(r.reason != NULL);
                goto done;
            }
            if (rc == HREQ_DONE) {
                if (out->n < 8)
                    capture(&r, &out->reqs[out->n]);
                out->n++;
                buf_consume(&in, used);
                if (r.upgrade) {
                    out->rest = in.len + (len - prev);
                    goto done;
                }
                continue;
            }
            buf_consume(&in, used);
            if (rc == HREQ_AGAIN)
                break;
        }
    }
done:
    hreq_free(&r);
    buf_free(&in);
}

static void feed_whole(const char *src, size_t len, size_t max_head, size_t max_body, run *out)
{
    feed_split(src, len, NULL, 0, max_head, max_body, out);
}

static int status_of(const char *src, size_t max_head, size_t max_body)
{
    run r;
    feed_whole(src, strlen(src), max_head, max_body, &r);
    return r.status;
}

static void test_simple(void)
{
    const char *req =
        "GET /a%2Fb/../c?x=1+2&y=%41 HTTP/1.1\r\n"
        "Host: example.com\r\n"
        "X-Mixed-Case: Some Value\r\n"
        "Empty:\r\n"
        "Sec-WebSocket-Protocol: rivet, rivet_encoding.bare\r\n"
        "sec-websocket-protocol: rivet_conn_params.%7B%7D\r\n"
        "\r\n";
    hreq r;
    hreq_init(&r);
    size_t used;
    CHECK_EQ_INT(hreq_feed(&r, req, strlen(req), &used), HREQ_DONE);
    CHECK_EQ_INT(used, strlen(req));
    CHECK(!strcmp(r.method, "GET"));
    CHECK_EQ_INT(r.url.len, strlen("/a%2Fb/../c?x=1+2&y=%41"));
    CHECK_MEM(r.url.p, "/a%2Fb/../c?x=1+2&y=%41", r.url.len);
    CHECK_EQ_INT(r.url.p[r.url.len], 0);
    CHECK_EQ_INT(r.http_major, 1);
    CHECK_EQ_INT(r.http_minor, 1);
    CHECK_EQ_INT(r.nheaders, 5);
    CHECK(r.nheaders == 5 && r.headers[1].name.len == 12 &&
          !memcmp(r.headers[1].name.p, "X-Mixed-Case", 12));
    const slice_t *v = hreq_header(&r, "x-mixed-case");
    CHECK(v && v->len == 10 && !memcmp(v->p, "Some Value", 10) && v->p[10] == 0);
    v = hreq_header(&r, "EMPTY");
    CHECK(v && v->len == 0 && v->p[0] == 0);
    CHECK(hreq_header(&r, "missing") == NULL);
    v = hreq_header(&r, "sec-websocket-protocol");
    CHECK(v && v->len == 26);
    buf_t j = BUF_INIT;
    CHECK_EQ_INT(hreq_header_join(&r, "Sec-WebSocket-Protocol", &j), 2);
    const char *joined = "rivet, rivet_encoding.bare, rivet_conn_params.%7B%7D";
    CHECK_EQ_INT(j.len, strlen(joined));
    CHECK_MEM(j.data, joined, j.len);
    buf_free(&j);
    CHECK(r.keep_alive);
    CHECK(!r.upgrade);
    CHECK_EQ_INT(r.body.len, 0);
    CHECK(hreq_header_has_token(&r, "sec-websocket-protocol", "RIVET"));
    CHECK(!hreq_header_has_token(&r, "sec-websocket-protocol", "rive"));
    slice_t list = { (const uint8_t *)"keep-alive , Upgrade", 20 };
    CHECK(hreq_list_has(&list, "upgrade"));
    CHECK(hreq_list_has(&list, "keep-alive"));
    CHECK(!hreq_list_has(&list, "close"));
    hreq_free(&r);

    CHECK(!strcmp(hreq_status_text(431), "Request Header Fields Too Large"));
    CHECK(!strcmp(hreq_status_text(101), "Switching Protocols"));
    CHECK(!strcmp(hreq_status_text(799), "Unknown"));
}

static const char PIPE[] =
    "\r\nGET /one HTTP/1.1\r\nHost: h\r\n\r\n"
    "POST /two?q=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\nContent-Type: text/plain\r\n\r\nhello world"
    "PUT /three HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
    "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer-Field: x\r\n\r\n"
    "GET /four HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
    "GET /five HTTP/1.1\r\nHost: h\r\n\r\n";

static void test_pipelining(void)
{
    run r;
    feed_whole(PIPE, sizeof PIPE - 1, 0, 0, &r);
    CHECK_EQ_INT(r.status, 0);
    /* The fifth request follows Connection: close and is dropped. */
    CHECK_EQ_INT(r.n, 4);
    if (r.n != 4)
        return;
    CHECK(!strcmp(r.reqs[0].method, "GET") && !strcmp(r.reqs[0].url, "/one"));
    CHECK(!strcmp(r.reqs[1].method, "POST") && !strcmp(r.reqs[1].url, "/two?q=1"));
    CHECK(r.reqs[1].body_len == 11 && !memcmp(r.reqs[1].body, "hello world", 11));
    CHECK(!strcmp(r.reqs[2].url, "/three") && r.reqs[2].chunked);
    CHECK(r.reqs[2].body_len == 11 && !memcmp(r.reqs[2].body, "hello world", 11));
    /* The trailer field is dropped; the head's headers are intact. */
    CHECK(!strcmp(r.reqs[2].headers, "Host: h\nTransfer-Encoding: chunked\n"));
    CHECK(r.reqs[0].keep_alive && r.reqs[1].keep_alive && r.reqs[2].keep_alive);
    CHECK(!r.reqs[3].keep_alive);

    /* One hreq_feed per request: each stops right after its request. */
    hreq h;
    hreq_init(&h);
    size_t used, off = 0;
    CHECK_EQ_INT(hreq_feed(&h, PIPE, sizeof PIPE - 1, &used), HREQ_DONE);
    CHECK_EQ_INT(used, strlen("\r\nGET /one HTTP/1.1\r\nHost: h\r\n\r\n"));
    off += used;
    void *text = h.text.data;
    CHECK_EQ_INT(hreq_feed(&h, PIPE + off, sizeof PIPE - 1 - off, &used), HREQ_DONE);
    CHECK(!strcmp(h.method, "POST"));
    off += used;
    CHECK_EQ_INT(hreq_feed(&h, PIPE + off, sizeof PIPE - 1 - off, &used), HREQ_DONE);
    CHECK(!strcmp(h.method, "PUT"));
    off += used;
    CHECK_EQ_INT(hreq_feed(&h, PIPE + off, sizeof PIPE - 1 - off, &used), HREQ_DONE);
    off += used;
    CHECK(!h.keep_alive);
    CHECK_EQ_INT(hreq_feed(&h, PIPE + off, sizeof PIPE - 1 - off, &used), HREQ_AGAIN);
    CHECK_EQ_INT(used, sizeof PIPE - 1 - off);
    /* The buffers were reused, not reallocated, across the small requests. */
    CHECK(h.text.data == text);
    hreq_free(&h);
}

static void test_splits(void)
{
    run ref;
    feed_whole(PIPE, sizeof PIPE - 1, 0, 0, &ref);
    size_t len = sizeof PIPE - 1, bad = 0;
    for (size_t k = 0; k <= len; k++) {
        run r;
        feed_split(PIPE, len, &k, 1, 0, 0, &r);
        bad += r.n != ref.n || r.status != ref.status;
        for (size_t i = 0; i < r.n && i < ref.n; i++)
            bad += !got_equal(&r.reqs[i], &ref.reqs[i]);
    }
    size_t *all = sx_malloc(len * sizeof *all);
    for (size_t k = 0; k < len; k++)
        all[k] = k;
    run r;
    feed_split(PIPE, len, all, len, 0, 0, &r);
    bad += r.n != ref.n || r.status != ref.status;
    for (size_t i = 0; i < r.n && i < ref.n; i++)
        bad += !got_equal(&r.reqs[i], &ref.reqs[i]);
    free(all);
    CHECK_EQ_INT(bad, 0);
}

static void test_upgrade(void)
{
    static const char req[] =
        "GET /gateway/actor/connect HTTP/1.1\r\n"
        "Host: h\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n"
        "\r\n"
        "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"
        "GET / HTTP/1.1\r\n";
    size_t head = (size_t)(strstr(req, "\r\n\r\n") + 4 - req);
    hreq r;
    hreq_init(&r);
    size_t used;
    CHECK_EQ_INT(hreq_feed(&r, req, sizeof req - 1, &used), HREQ_DONE);
    CHECK_EQ_INT(used, head);
    CHECK(r.upgrade);
    CHECK(r.keep_alive);
    hreq_free(&r);
    /* Split anywhere, the upgrade is found and the rest is untouched. */
    size_t bad = 0;
    for (size_t k = 0; k <= sizeof req - 1; k++) {
        run x;
        feed_split(req, sizeof req - 1, &k, 1, 0, 0, &x);
        bad += x.n != 1 || !x.reqs[0].upgrade || x.rest != sizeof req - 1 - head;
    }
    CHECK_EQ_INT(bad, 0);
    /* A refused upgrade: the connection continues as HTTP. */
    static const char two[] =
        "GET /a HTTP/1.1\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n"
        "GET /b HTTP/1.1\r\n\r\n";
    hreq_init(&r);
    CHECK_EQ_INT(hreq_feed(&r, two, sizeof two - 1, &used), HREQ_DONE);
    CHECK(r.upgrade);
    size_t off = used;
    CHECK_EQ_INT(hreq_feed(&r, two + off, sizeof two - 1 - off, &used), HREQ_DONE);
    CHECK(!r.upgrade && r.url.len == 2 && !memcmp(r.url.p, "/b", 2));
    hreq_free(&r);
}

static void test_keep_alive(void)
{
    static const struct {
        const char *req;
        int ka;
    } cases[] = {
        { "GET / HTTP/1.1\r\n\r\n", 1 },
        { "GET / HTTP/1.1\r\nConnection: close\r\n\r\n", 0 },
        { "GET / HTTP/1.1\r\nConnection: Close\r\n\r\n", 0 },
        { "GET / HTTP/1.0\r\n\r\n", 0 },
        { "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 1 },
        { "POST / HTTP/1.0\r\nContent-Length: 2\r\n\r\nab", 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run r;
        feed_whole(cases[i].req, strlen(cases[i].req), 0, 0, &r);
        CHECK_EQ_INT(r.n, 1);
        CHECK_EQ_INT(r.reqs[0].keep_alive, cases[i].ka);
    }
    run r;
    feed_whole("GET / HTTP/1.0\r\n\r\n", 18, 0, 0, &r);
    CHECK(r.reqs[0].major == 1 && r.reqs[0].minor == 0);
}

static char *repeat_header(size_t total_head)
{
    /* A request whose head is exactly total_head bytes. */
    const char *pre = "GET / HTTP/1.1\r\nX-Fill: ";
    size_t fill = total_head - strlen(pre) - 4;
    char *s = sx_malloc(total_head + 1);
    strcpy(s, pre);
    memset(s + strlen(pre), 'f', fill);
    strcpy(s + strlen(pre) + fill, "\r\n\r\n");
    return s;
}

static void test_caps(void)
{
    char *s = repeat_header(1024);
    CHECK_EQ_INT(strlen(s), 1024);
    CHECK_EQ_INT(status_of(s, 1024, 0), 0);
    CHECK_EQ_INT(status_of(s, 1023, 0), 431);
    free(s);
    /* 70 KB and 90 KB of headers against the default 64 KiB cap. */
    s = repeat_header(70000);
    CHECK_EQ_INT(status_of(s, 0, 0), 431);
    free(s);
    s = repeat_header(90000);
    CHECK_EQ_INT(status_of(s, 0, 0), 431);
    /* Above http-parser's built-in 80 KiB when the cap is raised. */
    CHECK_EQ_INT(status_of(s, 200000, 0), 0);
    free(s);
    /* Many small headers count too. */
    buf_t b = BUF_INIT;
    buf_append_str(&b, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < 5000; i++)
        buf_printf(&b, "H%d: v\r\n", i);
    buf_append_str(&b, "\r\n");
    buf_push(&b, 0);
    CHECK_EQ_INT(status_of((char *)b.data, 0, 0), 0);
    CHECK_EQ_INT(status_of((char *)b.data, 20000, 0), 431);
    buf_free(&b);
    /* A never-ending request line. */
    s = sx_malloc(100001);
    memset(s, 'a', 100000);
    memcpy(s, "GET /", 5);
    s[100000] = 0;
    CHECK_EQ_INT(status_of(s, 0, 0), 431);
    free(s);

    /* The body cap: known from Content-Length before the body arrives, counted for chunked. */
    CHECK_EQ_INT(status_of("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789", 0, 10), 0);
    CHECK_EQ_INT(status_of("POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n", 0, 10), 413);
    CHECK_EQ_INT(status_of("POST / HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n", 0, 0), 413);
    CHECK_EQ_INT(status_of("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n",
                           0, 10),
                 0);
    CHECK_EQ_INT(status_of("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "5\r\nhello\r\n6\r\nworld!\r\n0\r\n\r\n",
                           0, 10),
                 413);
}

static void test_errors(void)
{
    CHECK_EQ_INT(status_of("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 0, 0), 400);
    CHECK_EQ_INT(status_of("GET / HTTP/2.0\r\n\r\n", 0, 0), 505);
    CHECK_EQ_INT(status_of("GET / HTTP/3.1\r\n\r\n", 0, 0), 505);
    CHECK_EQ_INT(status_of("GET / HTTP/x\r\n\r\n", 0, 0), 400);
    CHECK_EQ_INT(status_of("GET / FOO/1.1\r\n\r\n", 0, 0), 400);
    CHECK_EQ_INT(status_of("GET / HTTP/1.1\r\nBad Header: x\r\n\r\n", 0, 0), 400);
    CHECK_EQ_INT(status_of("POST / HTTP/1.1\r\nTransfer-Encoding : chunked\r\n\r\n", 0, 0), 400);
    CHECK_EQ_INT(status_of("GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n", 0, 0), 400);
    CHECK_EQ_INT(status_of("GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", 0, 0), 400);
    CHECK_EQ_INT(status_of("GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 0, 0), 400);
    CHECK_EQ_INT(status_of("GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 0,
                           0),
                 400);
    CHECK_EQ_INT(status_of("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 0, 0),
                 501);
    CHECK_EQ_INT(status_of("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 0, 0), 501);
    CHECK_EQ_INT(status_of("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 0, 0),
                 400);
    CHECK_EQ_INT(status_of("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                           "Content-Length: 5\r\n\r\n",
                           0, 0),
                 400);
    CHECK_EQ_INT(status_of("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0, 0),
                 400);
    /* An error is sticky. */
    hreq r;
    hreq_init(&r);
    size_t used;
    CHECK_EQ_INT(hreq_feed(&r, "BAD\r\n", 5, &used), HREQ_ERROR);
    CHECK_EQ_INT(r.status, 400);
    CHECK_EQ_INT(hreq_feed(&r, "GET / HTTP/1.1\r\n\r\n", 18, &used), HREQ_ERROR);
    /* hreq_reset recovers. */
    hreq_reset(&r);
    CHECK_EQ_INT(hreq_feed(&r, "GET / HTTP/1.1\r\n\r\n", 18, &used), HREQ_DONE);
    hreq_free(&r);
}

static void test_expect_continue(void)
{
    static const char req[] =
        "PUT /up HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n";
    hreq r;
    hreq_init(&r);
    size_t used;
    CHECK_EQ_INT(hreq_feed(&r, req, sizeof req - 1, &used), HREQ_CONTINUE);
    CHECK(r.expect_continue);
    CHECK(!strcmp(r.method, "PUT") && r.url.len == 3);
    /* The last LF may be left for the next call; feed it again with the body. */
    buf_t b = BUF_INIT;
    buf_append(&b, req + used, sizeof req - 1 - used);
    buf_append(&b, "abcde", 5);
    CHECK_EQ_INT(hreq_feed(&r, (const char *)b.data, b.len, &used), HREQ_DONE);
    CHECK_EQ_INT(used, b.len);
    CHECK(r.body.len == 5 && !memcmp(r.body.p, "abcde", 6));
    buf_free(&b);
    /* Too large: refused before the client sends it. */
    hreq_reset(&r);
    r.max_body = 4;
    CHECK_EQ_INT(hreq_feed(&r, req, sizeof req - 1, &used), HREQ_ERROR);
    CHECK_EQ_INT(r.status, 413);
    /* Without a body there is nothing to wait for. */
    hreq_reset(&r);
    static const char nob[] = "GET / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n";
    CHECK_EQ_INT(hreq_feed(&r, nob, sizeof nob - 1, &used), HREQ_DONE);
    hreq_free(&r);
    /* Split anywhere, a transport that answers CONTINUE gets the same request. */
    static const char both[] =
        "PUT /up HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nabcde";
    size_t bad = 0;
    for (size_t k = 0; k <= sizeof both - 1; k++) {
        run x;
        feed_split(both, sizeof both - 1, &k, 1, 0, 0, &x);
        bad += x.n != 1 || x.reqs[0].body_len != 5;
    }
    CHECK_EQ_INT(bad, 0);
}

static void test_whitespace_and_bytes(void)
{
    /* Leading whitespace of a value is dropped by http-parser; what else is kept is exact. */
    static const char req[] =
        "GET /%E2%82%AC?q=%ZZ HTTP/1.1\r\nX-A:    spaced value\r\n"
        "X-B:\tv \t\r\nX-C: \"quoted, list\"\r\n\r\n";
    run r;
    feed_whole(req, sizeof req - 1, 0, 0, &r);
    CHECK_EQ_INT(r.n, 1);
    CHECK(!strcmp(r.reqs[0].url, "/%E2%82%AC?q=%ZZ"));
    CHECK(strstr(r.reqs[0].headers, "X-A: spaced value\n") != NULL);
    CHECK(strstr(r.reqs[0].headers, "X-B: v\n") != NULL);
    hreq h;
    size_t used;
    hreq_init(&h);
    CHECK_EQ_INT(hreq_feed(&h, req, sizeof req - 1, &used), HREQ_DONE);
    const slice_t *xb = hreq_header(&h, "x-b");
    CHECK(xb && xb->len == 1 && xb->p[1] == 0);
    hreq_free(&h);
    CHECK(strstr(r.reqs[0].headers, "X-C: \"quoted, list\"\n") != NULL);
    /* Obsolete line folding and a bare CR are refused (RFC 9112 sections 5.2 and 2.2), split
     * anywhere, while a body may start with whitespace or hold a CR. */
    static const char *const refused[] = {
        "GET / HTTP/1.1\r\nX-D: a\r\n folded\r\n\r\n",
        "GET / HTTP/1.1\r\nX-D: a\r\n\tfolded\r\n\r\n",
        "GET / HTTP/1.1\r\nX-D:\r\n folded\r\n\r\n",
        "GET / HTTP/1.1\nX-D: a\n folded\n\n",
        "GET / HTTP/1.1\r\nX-D: a\r\n\r\r\n",
        "GET / HTTP/1.1\r\nX-D: a\rb: c\r\n\r\n",
        "GET /\r HTTP/1.1\r\n\r\n",
    };
    size_t wrong = 0;
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        size_t n = strlen(refused[i]);
        for (size_t k = 0; k <= n; k++) {
            run x;
            feed_split(refused[i], n, &k, 1, 0, 0, &x);
            if (x.status != 400 || x.n != 0) {
                fprintf(stderr, "not refused: case %zu cut at %zu\n", i, k);
                wrong++;
            }
        }
    }
    CHECK_EQ_INT(wrong, 0);
    static const char body[] = "POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\n \r x";
    for (size_t k = 0; k <= sizeof body - 1; k++) {
        run x;
        feed_split(body, sizeof body - 1, &k, 1, 0, 0, &x);
        wrong += x.n != 1 || x.reqs[0].body_len != 4 || memcmp(x.reqs[0].body, " \r x", 4);
    }
    CHECK_EQ_INT(wrong, 0);
    /* A long subprotocol header is kept whole. */
    buf_t b = BUF_INIT;
    buf_append_str(&b, "GET / HTTP/1.1\r\nSec-WebSocket-Protocol: rivet, rivet_conn_params.");
    for (int i = 0; i < 2048; i++)
        buf_push(&b, (uint8_t)('a' + i % 26));
    buf_append_str(&b, "\r\n\r\n");
    hreq_init(&h);
    CHECK_EQ_INT(hreq_feed(&h, (const char *)b.data, b.len, &used), HREQ_DONE);
    const slice_t *v = hreq_header(&h, "sec-websocket-protocol");
    CHECK(v && v->len == 7 + 18 + 2048);
    hreq_free(&h);
    buf_free(&b);
}

/* Parses one head and applies hreq_server_check; returns the status (0 when accepted) and
 * copies the target the handler would see. */
static int server_status(const char *src, char *url, size_t url_cap)
{
    hreq h;
    size_t used;
    hreq_init(&h);
    int rc = hreq_feed(&h, src, strlen(src), &used);
    if (rc == HREQ_DONE)
        rc = hreq_server_check(&h);
    int status = rc == HREQ_ERROR ? h.status : 0;
    if (url)
        snprintf(url, url_cap, "%.*s", (int)h.url.len, h.url.p);
    CHECK(status == 0 || h.reason != NULL);
    hreq_free(&h);
    return status;
}

static void test_server_check(void)
{
    char url[128];
    CHECK_EQ_INT(server_status("GET /a HTTP/1.1\r\nHost: h\r\n\r\n", url, sizeof url), 0);
    CHECK(!strcmp(url, "/a"));
    /* RFC 9112 section 3.2: HTTP/1.1 needs exactly one Host; HTTP/1.0 at most one. */
    CHECK_EQ_INT(server_status("GET / HTTP/1.1\r\n\r\n", NULL, 0), 400);
    CHECK_EQ_INT(server_status("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", NULL, 0), 400);
    CHECK_EQ_INT(server_status("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", NULL, 0), 400);
    CHECK_EQ_INT(server_status("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", NULL, 0), 400);
    CHECK_EQ_INT(server_status("GET / HTTP/1.1\r\nHost:\r\n\r\n", NULL, 0), 0);
    CHECK_EQ_INT(server_status("GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", NULL, 0), 0);
    CHECK_EQ_INT(server_status("GET / HTTP/1.0\r\n\r\n", NULL, 0), 0);
    CHECK_EQ_INT(server_status("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", NULL, 0), 400);
    /* Absolute form reaches handlers in origin form; other schemes and forms are refused. */
    CHECK_EQ_INT(server_status("GET http://x:1/p/q?y=%41 HTTP/1.1\r\nHost: x:1\r\n\r\n", url,
                               sizeof url),
                 0);
    CHECK(!strcmp(url, "/p/q?y=%41"));
    CHECK_EQ_INT(server_status("GET HTTPS://x HTTP/1.1\r\nHost: x\r\n\r\n", url, sizeof url), 0);
    CHECK(!strcmp(url, "/"));
    CHECK_EQ_INT(server_status("GET http://x?q HTTP/1.1\r\nHost: x\r\n\r\n", url, sizeof url), 0);
    CHECK(!strcmp(url, "/?q"));
    CHECK_EQ_INT(server_status("GET ftp://x/p HTTP/1.1\r\nHost: x\r\n\r\n", NULL, 0), 400);
    CHECK_EQ_INT(server_status("GET http:///p HTTP/1.1\r\nHost: x\r\n\r\n", NULL, 0), 400);
    CHECK_EQ_INT(server_status("GET http://u@x/p HTTP/1.1\r\nHost: x\r\n\r\n", NULL, 0), 400);
    CHECK_EQ_INT(server_status("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", NULL, 0), 0);
    CHECK_EQ_INT(server_status("GET * HTTP/1.1\r\nHost: x\r\n\r\n", NULL, 0), 400);
    CHECK_EQ_INT(server_status("CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n", NULL, 0), 501);
    /* RFC 9112 section 6.1: Transfer-Encoding in HTTP/1.0 is faulty framing. */
    CHECK_EQ_INT(status_of("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 0, 0),
                 400);
}

int main(void)
{
    test_simple();
    test_pipelining();
    test_splits();
    test_upgrade();
    test_keep_alive();
    test_caps();
    test_errors();
    test_expect_continue();
    test_whitespace_and_bytes();
    test_server_check();
    return T_DONE();
}
