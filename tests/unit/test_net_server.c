/* The transport end to end over real sockets: the server runs on its own uv loop in a thread
 * and the test speaks HTTP/1.1 and RFC 6455 to it through plain blocking sockets. */
#include "listen_port.h"
#include "t.h"

#include <pthread.h>
#include <stdatomic.h>
#include <uv.h>

#include "net/server.h"
#include "net/ws_handshake.h"
#include "net_client.h"

static uv_loop_t loop;
static net_server_t *srv;
static uv_async_t cmd_async;
static atomic_int cmd; /* 1: shutdown, 2: resume paused connection; 0 once the server ran it */
static net_conn_t *paused_conn;
static atomic_int paused; /* the server paused the /pause connection */
static atomic_int shutdown_done;
static uv_timer_t slow_timer;
static net_conn_t *slow_conn;

static void on_message(net_conn_t *c, void *ud, int binary, const uint8_t *data, size_t len)
{
    if (ud == (void *)2 && !paused_conn) {
        /* The first message on /pause stops reading until the test resumes it. */
        paused_conn = c;
        net_conn_pause(c, 1);
        paused = 1;
    }
    net_ws_send(c, binary, data, len);
}

static void on_close(net_conn_t *c, void *ud, int code, const uint8_t *reason, size_t len)
{
}
static void on_closed(net_conn_t *c, void *ud)
{
    if (c == paused_conn)
        paused_conn = NULL;
}

static const net_ws_handler_t echo = { on_message, on_close, on_closed, NULL };

static void slow_fire(uv_timer_t *t)
{
    static const char body[] = "slow";
    if (slow_conn)
        net_http_respond(slow_conn, 200, "text/plain", NULL, body, 4);
    slow_conn = NULL;
}

static void slow_abort(net_conn_t *c, void *ud)
{
    slow_conn = NULL;
}

static void on_request(net_conn_t *c, hreq *req, void *ud)
{
    if (req->url.len >= 5 && memcmp(req->url.p, "/echo", 5) == 0) {
        static const char *const pref[] = { "rivet", NULL };
        wsh_offers offers;
        wsh_offers_init(&offers);
        wsh_offers_parse(&offers, req);
        const slice_t *p = wsh_select_protocol(&offers, pref);
        net_ws_accept(c, req, p ? (const char *)p->p : NULL, p ? p->len : 0, &echo, (void *)1);
        wsh_offers_free(&offers);
        return;
    }
    if (req->url.len == 5 && memcmp(req->url.p, "/lean", 5) == 0) {
        /* A lean socket, as a hibernating one is, still echoes: its buffers come and go. */
        net_ws_accept(c, req, NULL, 0, &echo, (void *)1);
        net_conn_lean(c, 1);
        return;
    }
    if (req->url.len >= 6 && memcmp(req->url.p, "/pause", 6) == 0) {
        net_ws_accept(c, req, NULL, 0, &echo, (void *)2);
        return;
    }
    if (req->url.len == 5 && memcmp(req->url.p, "/slow", 5) == 0) {
        slow_conn = c;
        net_http_on_abort(c, slow_abort, NULL);
        uv_timer_start(&slow_timer, slow_fire, 50, 0);
        return;
    }
    if (req->url.len == 7 && memcmp(req->url.p, "/stream", 7) == 0) {
        net_http_begin(c, 200, "Content-Type: text/plain\r\n");
        net_http_chunk(c, "hello ", 6);
        net_http_chunk(c, "world", 5);
        net_http_end(c);
        return;
    }
    /* Everything else answers with the request target and body, byte for byte. */
    buf_t b = BUF_INIT;
    buf_append(&b, req->url.p, req->url.len);
    if (req->body.len) {
        buf_push(&b, '|');
        buf_append(&b, req->body.p, req->body.len);
    }
    net_http_respond(c, 200, "text/plain", NULL, b.data, b.len);
    buf_free(&b);
}

static void on_shutdown_done(void *ud)
{
    shutdown_done = 1;
    net_server_destroy(srv);
    uv_close((uv_handle_t *)&cmd_async, NULL);
    uv_close((uv_handle_t *)&slow_timer, NULL);
}

static void on_cmd(uv_async_t *a)
{
    if (cmd == 1)
        net_server_shutdown(srv, 2000, on_shutdown_done, NULL);
    if (cmd == 2 && paused_conn)
        net_conn_pause(paused_conn, 0);
    cmd = 0;
}

static void *server_thread(void *arg)
{
    uv_run(&loop, UV_RUN_DEFAULT);
    return NULL;
}

/* Polls until flag equals want, for at most 3 s; true when it did. The server runs in its own
 * thread, so the test waits on what the server has done rather than for a fixed time. */
static int wait_until(atomic_int *flag, int want)
{
    for (int i = 0; i < 3000 && *flag != want; i++)
        usleep(1000);
    return *flag == want;
}

/* Runs command c on the server's loop and returns once it has run. */
static void send_cmd(int c)
{
    cmd = c;
    uv_async_send(&cmd_async);
    CHECK(wait_until(&cmd, 0));
}

static void test_http(void)
{
    int fd = dial();
    CHECK(fd >= 0);
    /* The request target reaches the handler exactly as sent. */
    const char *req = "GET /a%2Fb/../c?x=1+2&y=%41 HTTP/1.1\r\nHost: x\r\n\r\n";
    send_all(fd, req, strlen(req));
    buf_t b = BUF_INIT;
    size_t n = recv_response(fd, &b, 0);
    CHECK(n > 0);
    CHECK(memmem(b.data, n, "HTTP/1.1 200 OK\r\n", 17) == b.data);
    CHECK(memmem(b.data, n, "\r\n\r\n/a%2Fb/../c?x=1+2&y=%41", 27) != NULL);

    /* Three pipelined requests, one of them answered late, come back in order. */
    buf_reset(&b);
    const char *three =
        "GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /slow HTTP/1.1\r\nHost: x\r\n\r\n"
        "POST /three HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc";
    send_all(fd, three, strlen(three));
    size_t r1 = recv_response(fd, &b, 0);
    size_t r2 = recv_response(fd, &b, r1);
    size_t r3 = recv_response(fd, &b, r1 + r2);
    CHECK(r1 && r2 && r3);
    CHECK(memmem(b.data, r1, "\r\n\r\n/one", 8) != NULL);
    CHECK(memmem(b.data + r1, r2, "\r\n\r\nslow", 8) != NULL);
    CHECK(memmem(b.data + r1 + r2, r3, "\r\n\r\n/three|abc", 14) != NULL);

    /* A streamed answer is chunked. */
    buf_reset(&b);
    send_all(fd, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n", 33);
    n = recv_response(fd, &b, 0);
    CHECK(memmem(b.data, n, "Transfer-Encoding: chunked", 26) != NULL);
    CHECK(memmem(b.data, n, "6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n", 26) != NULL);
    close(fd);

    /* A head over the cap gets 431 and the connection closes. */
    fd = dial();
    buf_t big = BUF_INIT;
    buf_append_str(&big, "GET / HTTP/1.1\r\nX-Big: ");
    for (int i = 0; i < 70000; i++)
        buf_push(&big, 'a');
    buf_append_str(&big, "\r\n\r\n");
    send_all(fd, big.data, big.len);
    buf_reset(&b);
    n = recv_response(fd, &b, 0);
    CHECK(n > 0 && memmem(b.data, n, "HTTP/1.1 431 ", 13) == b.data);
    CHECK(memmem(b.data, n, "Connection: close", 17) != NULL);
    buf_free(&big);
    close(fd);

    /* Garbage gets 400. */
    fd = dial();
    send_all(fd, "\x16\x03\x01 hello\r\n\r\n", 13);
    buf_reset(&b);
    n = recv_response(fd, &b, 0);
    CHECK(n > 0 && memmem(b.data, n, "HTTP/1.1 400 ", 13) == b.data);
    close(fd);
    buf_free(&b);
}

static void test_ws_echo(void)
{
    buf_t resp = BUF_INIT;
    /* A long subprotocol offer (2 KiB) is accepted and `rivet` is chosen. */
    buf_t offer = BUF_INIT;
    buf_append_str(&offer, "Sec-WebSocket-Protocol: rivet_conn_params.");
    for (int i = 0; i < 2000; i++)
        buf_push(&offer, 'p');
    buf_append_str(&offer, ", rivet, rivet_target.actor\r\n");
    buf_push(&offer, 0);
    int fd = ws_open("/echo?x=1", (char *)offer.data, &resp);
    buf_free(&offer);
    CHECK(memmem(resp.data, resp.len, "HTTP/1.1 101 ", 13) == resp.data);
    CHECK(memmem(resp.data, resp.len, "Sec-WebSocket-Protocol: rivet\r\n", 31) != NULL);
    CHECK(memmem(resp.data, resp.len, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", 28) != NULL);

    static const size_t sizes[] = { 0, 1, 125, 126, 65535, 65536, 1 << 20 };
    uint8_t *payload = malloc(1 << 20);
    for (size_t i = 0; i < (1 << 20); i++)
        payload[i] = (uint8_t)(i * 7);
    buf_t in = BUF_INIT;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        for (int binary = 0; binary < 2; binary++) {
            uint8_t *p = payload;
            buf_t text = BUF_INIT;
            if (!binary) {
                for (size_t i = 0; i < sizes[s]; i++)
                    buf_push(&text, 'a' + i % 26);
                p = text.data;
            }
            ws_send(fd, binary ? WSF_OP_BINARY : WSF_OP_TEXT, p, sizes[s]);
            wsf_frame f;
            int ok = ws_recv(fd, &in, &f) == 0;
            CHECK(ok);
            if (ok) {
                CHECK_EQ_INT(f.opcode, binary ? WSF_OP_BINARY : WSF_OP_TEXT);
                CHECK_EQ_INT(f.len, sizes[s]);
                CHECK(sizes[s] == 0 || memcmp(f.payload, p, sizes[s]) == 0);
                ws_drop_frame(&in, &f);
            }
            buf_free(&text);
        }
    }
    free(payload);

    /* Many messages in one write come back in order; a fragmented one comes back whole. */
    buf_t burst = BUF_INIT;
    for (int i = 0; i < 100; i++) {
        char m[16];
        int n = snprintf(m, sizeof m, "m%d", i);
        wsf_append_frame(&burst, WSF_OP_TEXT, m, (size_t)n, mask_key);
    }
    wsf_append_frame_ex(&burst, WSF_OP_TEXT, false, "frag", 4, mask_key);
    wsf_append_frame(&burst, WSF_OP_PING, "pp", 2, mask_key);
    wsf_append_frame_ex(&burst, WSF_OP_CONT, true, "ment", 4, mask_key);
    send_all(fd, burst.data, burst.len);
    buf_free(&burst);
    int in_order = 1;
    for (int i = 0; i < 100; i++) {
        wsf_frame f;
        char m[16];
        int n = snprintf(m, sizeof m, "m%d", i);
        if (ws_recv(fd, &in, &f) != 0 || f.len != (uint64_t)n || memcmp(f.payload, m, (size_t)n)) {
            in_order = 0;
            break;
        }
        ws_drop_frame(&in, &f);
    }
    CHECK(in_order);
    wsf_frame f;
    CHECK(ws_recv(fd, &in, &f) == 0 && f.opcode == WSF_OP_PONG && f.len == 2);
    ws_drop_frame(&in, &f);
    CHECK(ws_recv(fd, &in, &f) == 0 && f.len == 8 && memcmp(f.payload, "fragment", 8) == 0);
    ws_drop_frame(&in, &f);

    /* The client's close code and reason are echoed. */
    buf_t cl = BUF_INIT;
    wsf_append_close(&cl, 4001, "bye", 3, mask_key);
    send_all(fd, cl.data, cl.len);
    buf_free(&cl);
    CHECK(ws_recv(fd, &in, &f) == 0 && f.opcode == WSF_OP_CLOSE && close_code(&f) == 4001 &&
          f.len == 5 && memcmp(f.payload + 2, "bye", 3) == 0);
    ws_drop_frame(&in, &f);
    close(fd);
    buf_free(&in);
    buf_free(&resp);
}

static void test_ws_pause(void)
{
    /* Reading pauses after the first message; what the client sends meanwhile is kept and
     * delivered once reading resumes. */
    buf_t resp = BUF_INIT, in = BUF_INIT, burst = BUF_INIT;
    int fd = ws_open("/pause", NULL, &resp);
    CHECK(memmem(resp.data, resp.len, "HTTP/1.1 101 ", 13) == resp.data);
    for (int i = 0; i < 200; i++) {
        char m[16];
        int n = snprintf(m, sizeof m, "p%d", i);
        wsf_append_frame(&burst, WSF_OP_BINARY, m, (size_t)n, mask_key);
    }
    send_all(fd, burst.data, burst.len);
    CHECK(wait_until(&paused, 1));
    send_cmd(2);
    int all = 1;
    for (int i = 0; i < 200; i++) {
        wsf_frame f;
        char m[16];
        int n = snprintf(m, sizeof m, "p%d", i);
        if (ws_recv(fd, &in, &f) != 0 || f.len != (uint64_t)n || memcmp(f.payload, m, (size_t)n)) {
            all = 0;
            fprintf(stderr, "pause: message %d missing\n", i);
            break;
        }
        ws_drop_frame(&in, &f);
    }
    CHECK(all);
    close(fd);
    buf_free(&resp);
    buf_free(&in);
    buf_free(&burst);
}

/* The idle limit (2 s here, and the head's limit with it) answers a connection that stalls
 * mid-request with 408 and closes one idle between keep-alive requests, and never a WebSocket,
 * whose owner pings it. */
static void test_idle(void)
{
    buf_t r = BUF_INIT;
    int ws = ws_open("/echo", NULL, &r);
    CHECK(ws >= 0);
    buf_reset(&r);

    int fd = dial();
    const char *part = "GET / HTTP/1.1\r\nHo";
    send_all(fd, part, strlen(part));
    double t0 = now_s();
    CHECK(recv_response(fd, &r, 0) > 0 && memcmp(r.data, "HTTP/1.1 408 ", 13) == 0);
    double t = now_s() - t0;
    CHECK(t >= 1.95 && t <= 4.5);
    CHECK(closed_after(fd) >= 0);
    close(fd);
    buf_reset(&r);

    fd = dial();
    const char *req = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
    send_all(fd, req, strlen(req));
    buf_t b = BUF_INIT;
    CHECK(recv_response(fd, &b, 0) > 0);
    t = closed_after(fd);
    CHECK(t >= 1.95 && t <= 4.5);
    close(fd);
    buf_free(&b);

    wsf_frame f;
    /* A lean socket echoes small and large messages and pings like any other. */
    buf_t lr = BUF_INIT;
    int lean = ws_open("/lean", NULL, &lr);
    CHECK(memmem(lr.data, lr.len, "HTTP/1.1 101 ", 13) == lr.data);
    buf_reset(&lr);
    static uint8_t big[100000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 7);
    for (int round = 0; round < 3; round++) {
        ws_send(lean, WSF_OP_BINARY, "x", 1);
        ws_send(lean, WSF_OP_BINARY, big, sizeof big);
        ws_send(lean, WSF_OP_PING, "p", 1);
        CHECK(ws_recv(lean, &lr, &f) == 0 && f.len == 1);
        ws_drop_frame(&lr, &f);
        CHECK(ws_recv(lean, &lr, &f) == 0 && f.len == sizeof big &&
              memcmp(lr.data + f.header_len, big, sizeof big) == 0);
        ws_drop_frame(&lr, &f);
        CHECK(ws_recv(lean, &lr, &f) == 0 && f.opcode == WSF_OP_PONG);
        ws_drop_frame(&lr, &f);
    }
    buf_free(&lr);
    close(lean);

    /* The WebSocket opened first has now been idle for longer than the limit. */
    ws_send(ws, WSF_OP_TEXT, "still here", 10);
    CHECK(ws_recv(ws, &r, &f) == 0);
    CHECK(f.len == 10 && memcmp(r.data + f.header_len, "still here", 10) == 0);
    buf_free(&r);
    close(ws);
}

static void test_shutdown(void)
{
    /* Open sockets get a real 1001 "shutdown" close frame. */
    buf_t resp = BUF_INIT, in = BUF_INIT;
    int fd = ws_open("/echo", NULL, &resp);
    CHECK(memmem(resp.data, resp.len, "HTTP/1.1 101 ", 13) == resp.data);
    send_cmd(1);
    wsf_frame f;
    CHECK(ws_recv(fd, &in, &f) == 0 && f.opcode == WSF_OP_CLOSE && close_code(&f) == 1001 &&
          f.len == 10 && memcmp(f.payload + 2, "shutdown", 8) == 0);
    ws_drop_frame(&in, &f);
    buf_t cl = BUF_INIT;
    wsf_append_close(&cl, 1001, NULL, 0, mask_key);
    send_all(fd, cl.data, cl.len);
    buf_free(&cl);
    uint8_t tmp[16];
    CHECK(recv(fd, tmp, sizeof tmp, 0) == 0);
    close(fd);
    CHECK(wait_until(&shutdown_done, 1));
    buf_free(&resp);
    buf_free(&in);
}

int main(void)
{
    uv_loop_init(&loop);
    net_limits_t limits = { .max_header_bytes = 65536,
                            .max_body_bytes = 1 << 20,
                            .max_message_bytes = 1 << 20,
                            .idle_timeout_ms = 2000 };
    srv = net_server_new(&loop, &limits);
    CHECK(srv != NULL);
    uv_async_init(&loop, &cmd_async, on_cmd);
    uv_timer_init(&loop, &slow_timer);
    nc_port = listen_port(srv, (net_listen_opts_t){ .name = "test", .on_request = on_request });
    CHECK(nc_port != 0);
    pthread_t th;
    pthread_create(&th, NULL, server_thread, NULL);

    test_http();
    test_ws_echo();
    test_ws_pause();
    test_idle();
    test_shutdown();

    pthread_join(th, NULL);
    net_server_finish(srv);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(uv_loop_close(&loop), 0);
    return T_DONE();
}
