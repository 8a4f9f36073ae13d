/* WebSocket opening handshake: Sec-WebSocket-Accept (RFC 6455 example), the validation order
 * and statuses, subprotocol lists of any length, selection, and the 101 response. */
#include "t.h"

#include <stdlib.h>

#include "net/http_req.h"
#include "net/ws_handshake.h"

static const char BASE[] =
    "GET /gateway/a1/connect HTTP/1.1\r\n"
    "Host: 127.0.0.1\r\n";
static const char GOOD[] =
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n";

/* Parses a request (it must complete) into r. */
static void parse(hreq *r, const char *s, size_t len)
{
    size_t used;
    hreq_reset(r);
    r->max_head = 1 << 20;
    int rc = hreq_feed(r, s, len, &used);
    CHECK_EQ_INT(rc, HREQ_DONE);
}

static int check_of(const char *req, wsh_result *res)
{
    hreq r;
    hreq_init(&r);
    parse(&r, req, strlen(req));
    int st = wsh_check(&r, res);
    hreq_free(&r);
    return st;
}

static void test_accept(void)
{
    char out[WSH_ACCEPT_LEN + 1];
    wsh_accept_key("dGhlIHNhbXBsZSBub25jZQ==", 24, out);
    CHECK(!strcmp(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
    /* A second vector, checked against Python's hashlib. */
    wsh_accept_key("x3JJHMbDL1EzLkh9GBhXDw==", 24, out);
    CHECK(!strcmp(out, "HSmrc0sMlYUkAGmm5OPpG2HaGWk="));

    wsh_result res;
    char req[512];
    snprintf(req, sizeof req, "%s%s\r\n", BASE, GOOD);
    CHECK_EQ_INT(check_of(req, &res), 0);
    CHECK(!strcmp(res.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
    /* Header names in any case, tokens in lists, whitespace around the key. */
    snprintf(req, sizeof req,
             "%s"
             "upgrade: WebSocket\r\n"
             "CONNECTION: keep-alive, Upgrade\r\n"
             "sec-websocket-key:   dGhlIHNhbXBsZSBub25jZQ==  \r\n"
             "sec-websocket-version: 13\r\n\r\n",
             BASE);
    CHECK_EQ_INT(check_of(req, &res), 0);
    CHECK(!strcmp(res.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
    /* Upgrade and Connection spread over repeated headers. */
    snprintf(req, sizeof req,
             "%s"
             "Upgrade: h2c\r\nUpgrade: websocket\r\n"
             "Connection: keep-alive\r\nConnection: upgrade\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
             "Sec-WebSocket-Version: 13\r\n\r\n",
             BASE);
    CHECK_EQ_INT(check_of(req, &res), 0);
}

static void test_errors(void)
{
    static const struct {
        const char *req;
        int status;
    } cases[] = {
        { "POST / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
          400 },
        { "GET / HTTP/1.0\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
          400 },
        { "GET / HTTP/1.1\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
          400 },
        { "GET / HTTP/1.1\r\nUpgrade: websockets\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
          400 },
        { "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
          400 },
        { "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
          426 },
        { "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
          426 },
        { "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
          "Sec-WebSocket-Version: 13\r\n\r\n",
          426 },
        { "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Version: 13\r\n\r\n",
          400 },
        { "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=\r\nSec-WebSocket-Version: 13\r\n\r\n",
          400 },
        { "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ\r\nSec-WebSocket-Version: 13\r\n\r\n",
          400 },
        { "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j*Q==\r\nSec-WebSocket-Version: 13\r\n\r\n",
          400 },
        { "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==dGhl\r\nSec-WebSocket-Version: 13\r\n\r\n",
          400 },
        { "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
          "Sec-WebSocket-Version: 13\r\n\r\n",
          400 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        wsh_result res;
        int st = check_of(cases[i].req, &res);
        if (st != cases[i].status)
            fprintf(stderr, "case %zu\n", i);
        CHECK_EQ_INT(st, cases[i].status);
        CHECK_EQ_INT(res.status, cases[i].status);
        CHECK(res.reason != NULL);
        if (cases[i].status == 426)
            CHECK(res.extra_headers && !strcmp(res.extra_headers, "Sec-WebSocket-Version: 13\r\n"));
        else
            CHECK(res.extra_headers == NULL);
    }
}

static void test_protocols(void)
{
    hreq r;
    wsh_offers o;
    hreq_init(&r);
    wsh_offers_init(&o);
    static const char *const pref[] = { "rivet", NULL };

    /* The node ws client's form, a browser's form, repeated headers. */
    const char *req =
        "GET / HTTP/1.1\r\n"
        "Sec-WebSocket-Protocol: rivet_encoding.bare,rivet,rivet_conn_params.%7B%22a%22%3A1%7D\r\n"
        "Sec-WebSocket-Protocol: rivet_target.actor ,  rivet_actor.abc\t,,rivet_token.t0k\r\n"
        "\r\n";
    parse(&r, req, strlen(req));
    CHECK_EQ_INT(wsh_offers_parse(&o, &r), 6);
    static const char *want[] = {
        "rivet_encoding.bare", "rivet",           "rivet_conn_params.%7B%22a%22%3A1%7D",
        "rivet_target.actor",  "rivet_actor.abc", "rivet_token.t0k"
    };
    for (size_t i = 0; i < o.n && i < 6; i++)
        CHECK(o.v[i].len == strlen(want[i]) && !memcmp(o.v[i].p, want[i], o.v[i].len));
    const slice_t *sel = wsh_select_protocol(&o, pref);
    CHECK(sel == &o.v[1]);
    /* Without a preference match, the first offer. */
    static const char *const other[] = { "nope", "also-not", NULL };
    CHECK(wsh_select_protocol(&o, other) == &o.v[0]);
    CHECK(wsh_select_protocol(&o, NULL) == &o.v[0]);
    /* Preference order decides, not offer order. */
    static const char *const two[] = { "rivet_token.t0k", "rivet", NULL };
    CHECK(wsh_select_protocol(&o, two) == &o.v[5]);
    /* Names are case-sensitive. */
    req = "GET / HTTP/1.1\r\nSec-WebSocket-Protocol: Rivet, x\r\n\r\n";
    parse(&r, req, strlen(req));
    wsh_offers_parse(&o, &r);
    CHECK(wsh_select_protocol(&o, pref) == &o.v[0] && o.v[0].len == 5 && o.v[0].p[0] == 'R');
    /* Nothing offered. */
    req = "GET / HTTP/1.1\r\n\r\n";
    parse(&r, req, strlen(req));
    CHECK_EQ_INT(wsh_offers_parse(&o, &r), 0);
    CHECK(wsh_select_protocol(&o, pref) == NULL);
    req = "GET / HTTP/1.1\r\nSec-WebSocket-Protocol: \r\nSec-WebSocket-Protocol: , ,\r\n\r\n";
    parse(&r, req, strlen(req));
    CHECK_EQ_INT(wsh_offers_parse(&o, &r), 0);

    /* 2 KiB: one 2048-byte name, and a list of 44 names of about 47 bytes. */
    buf_t b = BUF_INIT;
    buf_append_str(&b, "GET / HTTP/1.1\r\nSec-WebSocket-Protocol: rivet_conn_params.");
    for (int i = 0; i < 2048 - 18; i++)
        buf_push(&b, (uint8_t)('a' + i % 26));
    buf_append_str(&b, ", rivet\r\n\r\n");
    parse(&r, (const char *)b.data, b.len);
    CHECK_EQ_INT(wsh_offers_parse(&o, &r), 2);
    CHECK_EQ_INT(o.v[0].len, 2048);
    CHECK(wsh_select_protocol(&o, pref) == &o.v[1]);
    static const char *const none[] = { NULL };
    CHECK(wsh_select_protocol(&o, none) == &o.v[0]);
    buf_reset(&b);
    buf_append_str(&b, "GET / HTTP/1.1\r\nSec-WebSocket-Protocol: ");
    for (int i = 0; i < 44; i++)
        buf_printf(&b, "%sproto_%02d_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", i ? "," : "", i);
    buf_append_str(&b, "\r\n\r\n");
    parse(&r, (const char *)b.data, b.len);
    CHECK_EQ_INT(wsh_offers_parse(&o, &r), 44);
    CHECK(o.n == 44 && o.v[43].len == 47 && !memcmp(o.v[43].p, "proto_43_", 9));

    /* The zero-allocation iterator over one value. */
    slice_t list = { (const uint8_t *)" a,b  c\t,", 9 }, tok;
    size_t pos = 0, n = 0;
    while (wsh_protocol_next(&list, &pos, &tok))
        n++;
    CHECK_EQ_INT(n, 3);

    wsh_offers_free(&o);
    buf_free(&b);
    hreq_free(&r);
}

static void test_101(void)
{
    buf_t b = BUF_INIT;
    wsh_build_101(&b, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "rivet", 5, NULL);
    const char *want =
        "HTTP/1.1 101 Switching Protocols\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
        "Sec-WebSocket-Protocol: rivet\r\n"
        "\r\n";
    CHECK_EQ_INT(b.len, strlen(want));
    CHECK_MEM(b.data, want, b.len);
    buf_reset(&b);
    wsh_build_101(&b, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", NULL, 0, "X-Sett: 1\r\n");
    want =
        "HTTP/1.1 101 Switching Protocols\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
        "X-Sett: 1\r\n"
        "\r\n";
    CHECK_EQ_INT(b.len, strlen(want));
    CHECK_MEM(b.data, want, b.len);
    /* A long selected name goes out whole. */
    char name[2049];
    memset(name, 'n', 2048);
    name[2048] = 0;
    buf_reset(&b);
    wsh_build_101(&b, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", name, 2048, NULL);
    CHECK(memmem(b.data, b.len, name, 2048) != NULL);
    CHECK(memmem(b.data, b.len, "Sec-WebSocket-Extensions", 24) == NULL);
    buf_free(&b);
}

int main(void)
{
    test_accept();
    test_errors();
    test_protocols();
    test_101();
    return T_DONE();
}
