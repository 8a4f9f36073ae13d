/* Hostile input on real sockets: hand-made HTTP/1.1 requests that RFC 9112 says to refuse
 * (request smuggling forms, bad framing, Host rules, CONNECT, absolute form) and hand-made
 * WebSocket frames that RFC 6455 sections 5 and 7.4 say to fail. Each form is one case: the
 * socket must see the right status as a Rivet-shaped JSON error, or the right close code, and
 * then the server must close the connection; nothing hidden behind a refused request is ever
 * served. The server runs on its own uv loop in a thread. */
#include "listen_port.h"
#include "t.h"

#include <pthread.h>
#include <stdatomic.h>
#include <uv.h>

#include "core/json.h"
#include "net/server.h"
#include "net_client.h"

static uv_loop_t loop;
static net_server_t *srv;
static uv_async_t stop_async;
static atomic_int hidden_served; /* requests for /hidden that reached the handler */

static void on_message(net_conn_t *c, void *ud, int binary, const uint8_t *data, size_t len)
{
    net_ws_send(c, binary, data, len);
}

static const net_ws_handler_t echo = { on_message, NULL, NULL, NULL };

static void on_request(net_conn_t *c, hreq *req, void *ud)
{
    if (req->url.len == 5 && memcmp(req->url.p, "/echo", 5) == 0) {
        net_ws_accept(c, req, NULL, 0, &echo, NULL);
        return;
    }
    if (req->url.len >= 7 && memcmp(req->url.p, "/hidden", 7) == 0)
        atomic_fetch_add(&hidden_served, 1);
    /* Everything else answers with the target and the body as the handler saw them. */
    buf_t b = BUF_INIT;
    buf_append(&b, req->url.p, req->url.len);
    buf_push(&b, '|');
    buf_append(&b, req->body.p, req->body.len);
    net_http_respond(c, 200, "text/plain", NULL, b.data, b.len);
    buf_free(&b);
}

static void on_stopped(void *ud)
{
    net_server_destroy(srv);
    uv_close((uv_handle_t *)&stop_async, NULL);
}

static void on_stop(uv_async_t *a)
{
    net_server_shutdown(srv, 1000, on_stopped, NULL);
}

static void *server_thread(void *arg)
{
    uv_run(&loop, UV_RUN_DEFAULT);
    return NULL;
}

/* ---- HTTP ---- */

/* Checks that a response body is exactly {"group","code","message"}, all non-empty strings. */
static int rivet_error_shaped(const char *body, size_t len)
{
    json_doc doc;
    json_err err;
    if (json_parse(body, len, &doc, &err) != 0)
        return 0;
    const json_value *root = json_doc_root(&doc);
    int ok = json_is_object(root) && json_len(root) == 3;
    static const char *const keys[] = { "group", "code", "message" };
    for (size_t i = 0; ok && i < 3; i++) {
        const char *s;
        size_t n;
        ok = json_get_str(json_obj_get(root, keys[i]), &s, &n) == 0 && n > 0;
    }
    json_doc_free(&doc);
    return ok;
}

/* Sends one hostile request (whole, then followed by a pipelined GET /hidden) and expects one
 * JSON error with the status, "Connection: close", and the socket closed after it. */
static void expect_refused(const char *what, const char *req, size_t len, int status)
{
    int fd = dial();
    buf_t out = BUF_INIT;
    buf_append(&out, req, len);
    buf_append_str(&out, "GET /hidden HTTP/1.1\r\nHost: h\r\n\r\n");
    send_all(fd, out.data, out.len);
    buf_free(&out);
    buf_t b = BUF_INIT;
    size_t n = recv_response(fd, &b, 0);
    char line[32];
    snprintf(line, sizeof line, "HTTP/1.1 %d ", status);
    const char *body = n ? memmem(b.data, n, "\r\n\r\n", 4) : NULL;
    int ok = n > 0 && memcmp(b.data, line, strlen(line)) == 0 &&
             memmem(b.data, n, "\r\nContent-Type: application/json\r\n", 34) != NULL &&
             memmem(b.data, n, "\r\nConnection: close\r\n", 21) != NULL && body &&
             rivet_error_shaped(body + 4, (size_t)((const char *)b.data + n - body - 4));
    /* Nothing follows the answer: the socket closes. */
    int closed = b.len == n && nc_peer_closes(fd);
    if (!ok || !closed)
        fprintf(stderr, "%s: expected %d as a JSON error and a close, got %.*s\n", what, status,
                (int)b.len, (const char *)b.data);
    CHECK(ok);
    CHECK(closed);
    close(fd);
    buf_free(&b);
}

#define REFUSED(what, req, status) expect_refused(what, req, sizeof req - 1, status)

/* Sends a request and returns the body of its 200 answer (the target and body the handler saw),
 * or an empty string. */
static void expect_served(const char *what, const char *req, const char *want)
{
    int fd = dial();
    send_all(fd, req, strlen(req));
    buf_t b = BUF_INIT;
    size_t n = recv_response(fd, &b, 0);
    const char *body = n ? memmem(b.data, n, "\r\n\r\n", 4) : NULL;
    int ok = body && memcmp(b.data, "HTTP/1.1 200 ", 13) == 0 &&
             (size_t)((const char *)b.data + n - body - 4) == strlen(want) &&
             memcmp(body + 4, want, strlen(want)) == 0;
    if (!ok)
        fprintf(stderr, "%s: expected 200 \"%s\", got %.*s\n", what, want, (int)b.len,
                (const char *)b.data);
    CHECK(ok);
    close(fd);
    buf_free(&b);
}

static void test_http_smuggling(void)
{
    /* RFC 9112 section 6.3: Content-Length with Transfer-Encoding, in either order. */
    REFUSED("cl_and_te",
            "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
            "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            400);
    REFUSED("te_and_cl",
            "POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
            "Content-Length: 5\r\n\r\n0\r\n\r\n",
            400);
    /* Duplicate or invalid Content-Length. */
    REFUSED("cl_twice_same",
            "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n"
            "Content-Length: 3\r\n\r\nabc",
            400);
    REFUSED("cl_twice_diff",
            "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n"
            "Content-Length: 30\r\n\r\nabc",
            400);
    REFUSED("cl_list", "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 3\r\n\r\nabc", 400);
    REFUSED("cl_letters", "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: abc\r\n\r\n", 400);
    REFUSED("cl_negative", "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400);
    REFUSED("cl_plus", "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: +3\r\n\r\nabc", 400);
    REFUSED("cl_space", "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 1 2\r\n\r\nabc", 400);
    REFUSED("cl_overflow",
            "POST /a HTTP/1.1\r\nHost: h\r\n"
            "Content-Length: 99999999999999999999999\r\n\r\n",
            400);
    /* Invalid chunk sizes and chunk framing. */
    REFUSED("chunk_letters",
            "POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
            "zz\r\n",
            400);
    REFUSED("chunk_negative",
            "POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
            "-1\r\n",
            400);
    REFUSED("chunk_overflow",
            "POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
            "fffffffffffffffff\r\n",
            400);
    REFUSED("chunk_no_crlf",
            "POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
            "5\r\nhelloX0\r\n\r\n",
            400);
    REFUSED("te_twice",
            "POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
            "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            400);
    REFUSED("te_unknown", "POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 501);
    REFUSED("te_http10",
            "POST /a HTTP/1.0\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
            "0\r\n\r\n",
            400);
    REFUSED("te_space_name",
            "POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\n\r\n"
            "0\r\n\r\n",
            400);
    /* Obsolete line folding, bare CR and NUL. */
    REFUSED("obs_fold", "GET /a HTTP/1.1\r\nHost: h\r\nX-A: one\r\n two\r\n\r\n", 400);
    REFUSED("obs_fold_tab", "GET /a HTTP/1.1\r\nHost: h\r\nX-A: one\r\n\ttwo\r\n\r\n", 400);
    REFUSED("bare_cr_header", "GET /a HTTP/1.1\r\nHost: h\r\nX-A: one\rX-B: two\r\n\r\n", 400);
    REFUSED("bare_cr_blank_line", "GET /a HTTP/1.1\r\nHost: h\r\n\r\r\n", 400);
    REFUSED("bare_cr_request_line", "GET /a\r HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    REFUSED("nul_header", "GET /a HTTP/1.1\r\nHost: h\r\nX-A: o\0ne\r\n\r\n", 400);
    REFUSED("nul_target", "GET /a\0b HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    /* Versions, garbage, and a head over the cap. */
    REFUSED("http2_preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400);
    REFUSED("http2_version", "GET /a HTTP/2.0\r\nHost: h\r\n\r\n", 505);
    REFUSED("bad_version", "GET /a HTTP/1.x\r\nHost: h\r\n\r\n", 400);
    REFUSED("garbage", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400);
    buf_t big = BUF_INIT;
    buf_append_str(&big, "GET /a HTTP/1.1\r\nHost: h\r\nX-Big: ");
    for (int i = 0; i < 70000; i++)
        buf_push(&big, 'a');
    buf_append_str(&big, "\r\n\r\n");
    expect_refused("head_too_large", (const char *)big.data, big.len, 431);
    buf_free(&big);
    REFUSED("body_too_large", "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 2000000\r\n\r\n",
            413);
    CHECK_EQ_INT(atomic_load(&hidden_served), 0);
}

static void test_http_target_and_host(void)
{
    /* RFC 9112 section 3.2: no Host, two Host headers, or a Host that is no host. */
    REFUSED("no_host", "GET /a HTTP/1.1\r\nX-A: b\r\n\r\n", 400);
    REFUSED("two_hosts", "GET /a HTTP/1.1\r\nHost: h\r\nHost: h\r\n\r\n", 400);
    REFUSED("two_hosts_other", "GET /a HTTP/1.1\r\nHost: h\r\nHost: evil\r\n\r\n", 400);
    REFUSED("bad_host", "GET /a HTTP/1.1\r\nHost: h/../x\r\n\r\n", 400);
    REFUSED("no_host_upgrade",
            "GET /echo HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n",
            400);
    expect_served("http10_no_host", "GET /ten HTTP/1.0\r\n\r\n", "/ten|");
    /* A gateway is no forward proxy: CONNECT is refused, other schemes too; an absolute-form
     * target (RFC 9112 section 3.2.2) is served as its origin form. */
    REFUSED("connect", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 501);
    REFUSED("absolute_ftp", "GET ftp://h/a HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    REFUSED("absolute_userinfo", "GET http://u:p@h/a HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    REFUSED("asterisk_get", "GET * HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    REFUSED("authority_form_get", "GET h:80 HTTP/1.1\r\nHost: h\r\n\r\n", 400);
    expect_served("absolute_form", "GET http://h:8/p/q?x=%41 HTTP/1.1\r\nHost: h:8\r\n\r\n",
                  "/p/q?x=%41|");
    expect_served("absolute_form_no_path", "GET https://h HTTP/1.1\r\nHost: h\r\n\r\n", "/|");
    /* A request hidden in a body is body, never a request. */
    static const char hidden[] = "GET /hidden HTTP/1.1\r\nHost: h\r\n\r\n";
    char req[256];
    snprintf(req, sizeof req, "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: %zu\r\n\r\n%s",
             sizeof hidden - 1, hidden);
    char want[128];
    snprintf(want, sizeof want, "/b|%s", hidden);
    expect_served("request_in_body", req, want);
    snprintf(req, sizeof req,
             "POST /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
             "%zx\r\n%s\r\n0\r\n\r\n",
             sizeof hidden - 1, hidden);
    expect_served("request_in_chunked_body", req, want);
    /* After "Connection: close" nothing more is read. */
    expect_served("after_close",
                  "GET /c HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
                  "GET /hidden HTTP/1.1\r\nHost: h\r\n\r\n",
                  "/c|");
    CHECK_EQ_INT(atomic_load(&hidden_served), 0);
}

/* ---- WebSocket ---- */

static void frame(buf_t *b, uint8_t b0, const void *payload, size_t len)
{
    uint8_t hdr[WSF_MAX_HEADER];
    size_t h = wsf_write_header(hdr, b0 & 0x0F, (b0 & 0x80) != 0, len, mask_key);
    hdr[0] = b0;
    buf_append(b, hdr, h);
    size_t at = b->len;
    buf_append(b, payload, len);
    wsf_mask(b->data + at, len, mask_key, 0);
}

/* Opens a WebSocket, sends the bytes, and expects a close frame with the code (after the echo
 * of any whole message before the error), then the server closing the socket. */
static void expect_close(const char *what, const void *bytes, size_t n, int code)
{
    buf_t resp = BUF_INIT, in = BUF_INIT;
    int fd = ws_open("/echo", NULL, &resp);
    CHECK(memcmp(resp.data, "HTTP/1.1 101 ", 13) == 0);
    send_all(fd, bytes, n);
    wsf_frame f;
    int got;
    while ((got = ws_recv(fd, &in, &f)) == 0 && f.opcode != WSF_OP_CLOSE)
        ws_drop_frame(&in, &f);
    int ok = got == 0 && close_code(&f) == code;
    if (ok)
        ws_drop_frame(&in, &f);
    int closed = ok && in.len == 0 && nc_peer_closes(fd);
    if (!ok || !closed)
        fprintf(stderr, "%s: expected close %d and the socket closed\n", what, code);
    CHECK(ok);
    CHECK(closed);
    close(fd);
    buf_free(&resp);
    buf_free(&in);
}

#define FIN 0x80

static void test_ws_protocol_errors(void)
{
    buf_t b = BUF_INIT;
    /* Section 5.1: a client frame must be masked. */
    static const uint8_t unmasked[] = { 0x81, 0x02, 'h', 'i' };
    expect_close("unmasked", unmasked, sizeof unmasked, 1002);
    /* Section 5.2: reserved bits without an extension, reserved opcodes. */
    static const uint8_t rsv[3] = { 0x40, 0x20, 0x10 };
    for (int i = 0; i < 3; i++) {
        buf_reset(&b);
        frame(&b, FIN | rsv[i] | WSF_OP_TEXT, "x", 1);
        expect_close("rsv bit", b.data, b.len, 1002);
    }
    static const uint8_t ops[] = { 0x3, 0x7, 0xB, 0xF };
    for (size_t i = 0; i < sizeof ops; i++) {
        buf_reset(&b);
        frame(&b, FIN | ops[i], "x", 1);
        expect_close("reserved opcode", b.data, b.len, 1002);
    }
    /* Section 5.5: control frames are at most 125 bytes and never fragmented. */
    static uint8_t p126[126];
    buf_reset(&b);
    frame(&b, FIN | WSF_OP_PING, p126, sizeof p126);
    expect_close("ping of 126 bytes", b.data, b.len, 1002);
    buf_reset(&b);
    frame(&b, FIN | WSF_OP_CLOSE, p126, sizeof p126);
    expect_close("close of 126 bytes", b.data, b.len, 1002);
    buf_reset(&b);
    frame(&b, WSF_OP_PING, "p", 1);
    expect_close("fragmented ping", b.data, b.len, 1002);
    /* Section 5.4: continuation errors. */
    buf_reset(&b);
    frame(&b, FIN | WSF_OP_CONT, "x", 1);
    expect_close("continuation first", b.data, b.len, 1002);
    buf_reset(&b);
    frame(&b, WSF_OP_TEXT, "a", 1);
    frame(&b, FIN | WSF_OP_TEXT, "b", 1);
    expect_close("new message inside a fragmented one", b.data, b.len, 1002);
    buf_reset(&b);
    frame(&b, WSF_OP_BINARY, "a", 1);
    frame(&b, FIN | WSF_OP_CONT, "b", 1);
    frame(&b, FIN | WSF_OP_CONT, "c", 1);
    expect_close("continuation after the final fragment", b.data, b.len, 1002);
    /* Section 5.2: a 64-bit length with the most significant bit set. */
    static const uint8_t top[] = { 0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4 };
    expect_close("length top bit", top, sizeof top, 1002);
    buf_free(&b);
}

static void test_ws_data_errors(void)
{
    buf_t b = BUF_INIT;
    /* Section 8.1: text must be UTF-8, checked across fragments too. */
    frame(&b, FIN | WSF_OP_TEXT, "\xc3\x28", 2);
    expect_close("invalid utf-8", b.data, b.len, 1007);
    buf_reset(&b);
    frame(&b, FIN | WSF_OP_TEXT, "\xed\xa0\x80", 3);
    expect_close("utf-8 surrogate", b.data, b.len, 1007);
    buf_reset(&b);
    frame(&b, FIN | WSF_OP_TEXT, "ok\xe2\x82", 4);
    expect_close("utf-8 cut at the end", b.data, b.len, 1007);
    buf_reset(&b);
    frame(&b, WSF_OP_TEXT, "\xe2\x82", 2);
    frame(&b, FIN | WSF_OP_CONT, "(", 1);
    expect_close("invalid utf-8 across fragments", b.data, b.len, 1007);
    buf_reset(&b);
    frame(&b, WSF_OP_TEXT, "a", 1);
    frame(&b, FIN | WSF_OP_CONT, "\xff", 1);
    expect_close("invalid byte in the last fragment", b.data, b.len, 1007);
    /* A character split across fragments is fine, and arrives whole. */
    buf_t resp = BUF_INIT, in = BUF_INIT;
    int fd = ws_open("/echo", NULL, &resp);
    buf_reset(&b);
    frame(&b, WSF_OP_TEXT, "\xe2\x82", 2);
    frame(&b, FIN | WSF_OP_CONT, "\xac", 1);
    send_all(fd, b.data, b.len);
    wsf_frame f;
    CHECK(ws_recv(fd, &in, &f) == 0 && f.opcode == WSF_OP_TEXT && f.len == 3 &&
          memcmp(f.payload, "\xe2\x82\xac", 3) == 0);
    close(fd);
    buf_free(&resp);
    buf_free(&in);

    /* Section 7.4 and 5.5.1: close payloads. */
    buf_reset(&b);
    frame(&b, FIN | WSF_OP_CLOSE, "\x03", 1);
    expect_close("1-byte close payload", b.data, b.len, 1002);
    static const unsigned bad_codes[] = { 0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535 };
    for (size_t i = 0; i < sizeof bad_codes / sizeof bad_codes[0]; i++) {
        uint8_t p[2] = { (uint8_t)(bad_codes[i] >> 8), (uint8_t)bad_codes[i] };
        buf_reset(&b);
        frame(&b, FIN | WSF_OP_CLOSE, p, 2);
        char what[64];
        snprintf(what, sizeof what, "close code %u", bad_codes[i]);
        expect_close(what, b.data, b.len, 1002);
    }
    buf_reset(&b);
    frame(&b, FIN | WSF_OP_CLOSE, "\x03\xe8\xc3\x28", 4);
    expect_close("close reason not utf-8", b.data, b.len, 1007);

    /* Section 7.4.1: too big, from the header alone or summed over fragments (1 MiB here). */
    uint8_t hdr[WSF_MAX_HEADER];
    size_t h = wsf_write_header(hdr, WSF_OP_BINARY, true, (2u << 20), mask_key);
    expect_close("too big", hdr, h, 1009);
    static uint8_t half[600 << 10];
    buf_reset(&b);
    frame(&b, WSF_OP_BINARY, half, sizeof half);
    frame(&b, FIN | WSF_OP_CONT, half, sizeof half);
    expect_close("too big in fragments", b.data, b.len, 1009);
    buf_free(&b);
}

int main(void)
{
    uv_loop_init(&loop);
    net_limits_t limits = { .max_header_bytes = 65536,
                            .max_body_bytes = 1 << 20,
                            .max_message_bytes = 1 << 20,
                            .idle_timeout_ms = 10000 };
    srv = net_server_new(&loop, &limits);
    CHECK(srv != NULL);
    uv_async_init(&loop, &stop_async, on_stop);
    nc_port = listen_port(srv, (net_listen_opts_t){ .name = "hostile", .on_request = on_request });
    CHECK(nc_port != 0);
    pthread_t th;
    pthread_create(&th, NULL, server_thread, NULL);

    test_http_smuggling();
    test_http_target_and_host();
    test_ws_protocol_errors();
    test_ws_data_errors();

    uv_async_send(&stop_async);
    pthread_join(th, NULL);
    net_server_finish(srv);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(uv_loop_close(&loop), 0);
    return T_DONE();
}
