/* The transport's limits against careless and hostile clients, on real sockets: request heads
 * and bodies that trickle in get 408 at their deadline (which trickling does not push back),
 * also when hundreds do it at once beside a client that must still be served; connections
 * over the process-wide and per-address caps get 503 while open ones and a runner's go on;
 * a client that does not read what it is sent is cut (a WebSocket with 1008, an HTTP stream
 * dropped) over its output cap, its send timeout or the process-wide cap, while other sockets,
 * and a runner's socket over the cap, keep flowing. Each refusal is counted by reason. The
 * server runs on its own uv loop in a thread; the test sets its limits between cases. */
#include "listen_port.h"
#include "t.h"

#include <poll.h>
#include <pthread.h>
#include <uv.h>

#include "core/metrics.h"
#include "net/server.h"
#include "net_client.h"

static uv_loop_t loop;
static net_server_t *srv;
static uv_async_t cmd_async;
static uv_timer_t flood_timer;
static pthread_mutex_t cmd_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cmd_cv = PTHREAD_COND_INITIALIZER;
static int cmd_pending; /* 1: set limits, 2: render metrics, 3: stop */
static net_limits_t cmd_limits;
static buf_t cmd_metrics;

static const net_limits_t base = { .max_header_bytes = 65536,
                                   .max_body_bytes = 1 << 20,
                                   .max_message_bytes = 1 << 20,
                                   .idle_timeout_ms = 5000,
                                   .header_timeout_ms = 600,
                                   .body_timeout_ms = 600 };

/* Connections the server sends to on every timer tick, whether they read or not. */
typedef struct flood {
    net_conn_t *c;
    size_t left;
    int http;
} flood_t;
static flood_t floods[8];

static flood_t *flood_of(net_conn_t *c)
{
    for (size_t i = 0; i < 8; i++)
        if (floods[i].c == c)
            return &floods[i];
    return NULL;
}

static void flood_add(net_conn_t *c, size_t bytes, int http)
{
    flood_t *f = flood_of(NULL);
    if (f)
        *f = (flood_t){ c, bytes, http };
}

static void flood_tick(uv_timer_t *t)
{
    static uint8_t chunk[64 << 10];
    for (size_t i = 0; i < 8; i++) {
        flood_t *f = &floods[i];
        for (int n = 0; f->c && f->left && n < 8; n++) {
            size_t len = f->left < sizeof chunk ? f->left : sizeof chunk;
            f->left -= len;
            if (f->http)
                net_http_chunk(f->c, chunk, len);
            else
                net_ws_send(f->c, 1, chunk, len);
        }
        if (f->c && !f->left) {
            if (f->http)
                net_http_end(f->c);
            f->c = NULL;
        }
    }
}

static void on_message(net_conn_t *c, void *ud, int binary, const uint8_t *data, size_t len)
{
    if (len > 6 && memcmp(data, "flood:", 6) == 0) {
        flood_add(c, strtoul((const char *)data + 6, NULL, 10), 0);
        return;
    }
    net_ws_send(c, binary, data, len);
}

static void on_closed(net_conn_t *c, void *ud)
{
    flood_t *f = flood_of(c);
    if (f)
        f->c = NULL;
}

static void on_abort(net_conn_t *c, void *ud)
{
    on_closed(c, ud);
}

static const net_ws_handler_t echo = { on_message, NULL, on_closed, NULL };

static void on_request(net_conn_t *c, hreq *req, void *ud)
{
    if (req->url.len == 5 && memcmp(req->url.p, "/echo", 5) == 0) {
        net_ws_accept(c, req, NULL, 0, &echo, NULL);
        return;
    }
    if (req->url.len == 7 && memcmp(req->url.p, "/runner", 7) == 0) {
        net_ws_accept(c, req, NULL, 0, &echo, NULL);
        return;
    }
    if (req->url.len > 8 && memcmp(req->url.p, "/stream/", 8) == 0) {
        net_http_begin(c, 200, NULL);
        net_http_on_abort(c, on_abort, NULL);
        flood_add(c, strtoul((const char *)req->url.p + 8, NULL, 10), 1);
        return;
    }
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
    uv_close((uv_handle_t *)&cmd_async, NULL);
    uv_close((uv_handle_t *)&flood_timer, NULL);
}

static void on_cmd(uv_async_t *a)
{
    pthread_mutex_lock(&cmd_mu);
    if (cmd_pending == 1)
        net_server_set_limits(srv, &cmd_limits);
    if (cmd_pending == 2) {
        buf_reset(&cmd_metrics);
        met_render(&cmd_metrics);
        buf_push(&cmd_metrics, 0);
    }
    if (cmd_pending == 3)
        net_server_shutdown(srv, 1000, on_stopped, NULL);
    cmd_pending = 0;
    pthread_cond_signal(&cmd_cv);
    pthread_mutex_unlock(&cmd_mu);
}

/* Runs a command on the server's loop and waits for it. */
static void run_cmd(int cmd)
{
    pthread_mutex_lock(&cmd_mu);
    cmd_pending = cmd;
    uv_async_send(&cmd_async);
    while (cmd_pending)
        pthread_cond_wait(&cmd_cv, &cmd_mu);
    pthread_mutex_unlock(&cmd_mu);
}

static void set_limits(const net_limits_t *l)
{
    cmd_limits = *l;
    run_cmd(1);
}

/* The value of sett_refusals_total for a reason. */
static double refusals(const char *reason)
{
    run_cmd(2);
    char key[96];
    snprintf(key, sizeof key, "sett_refusals_total{reason=\"%s\"} ", reason);
    const char *p = strstr((const char *)cmd_metrics.data, key);
    return p ? strtod(p + strlen(key), NULL) : -1;
}

static void *server_thread(void *arg)
{
    uv_run(&loop, UV_RUN_DEFAULT);
    return NULL;
}

/* ---- helpers ---- */

static int status_of(const buf_t *b)
{
    return b->len >= 12 && memcmp(b->data, "HTTP/1.1 ", 9) == 0 ? atoi((const char *)b->data + 9)
                                                                : 0;
}

/* One request on a new connection; returns the status of its answer (0 for none). */
static int request_from(const char *src, const char *req)
{
    int fd = nc_dial_from(src);
    if (fd < 0)
        return 0;
    send_all(fd, req, strlen(req));
    buf_t b = BUF_INIT;
    recv_response(fd, &b, 0);
    int st = status_of(&b);
    buf_free(&b);
    close(fd);
    return st;
}

/* Waits for a 408 answer and the close; returns the seconds since t0, or -1. */
static double got_408_after(int fd, double t0)
{
    buf_t b = BUF_INIT;
    size_t n = recv_response(fd, &b, 0);
    double t = now_s() - t0;
    int ok = n && status_of(&b) == 408 && memmem(b.data, n, "\"code\":\"request_timeout\"", 24) &&
             nc_peer_closes(fd);
    buf_free(&b);
    return ok ? t : -1;
}

/* Sends bytes one at a time, every gap_ms, until the server answers or they run out. */
static void trickle(int fd, const char *bytes, int gap_ms)
{
    for (const char *p = bytes; *p; p++) {
        struct pollfd pf = { fd, POLLIN, 0 };
        if (poll(&pf, 1, gap_ms) > 0)
            return;
        send(fd, p, 1, MSG_NOSIGNAL);
    }
}

/* A WebSocket whose client reads slowly: a small receive buffer, so that what the server sends
 * piles up in the server rather than in the kernel. */
static int ws_open_small(const char *path)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int sz = 16 << 10;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)nc_port) };
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    struct timeval tv = { 5, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char req[512];
    int n = snprintf(req, sizeof req, nc_upgrade_fmt, path, "");
    send_all(fd, req, (size_t)n);
    buf_t b = BUF_INIT;
    size_t got = recv_response(fd, &b, 0);
    int ok = status_of(&b) == 101 && got == b.len;
    buf_free(&b);
    return ok ? fd : (close(fd), -1);
}

/* Reads a WebSocket until its close frame; returns the code (-1 without one) and the payload
 * bytes of the data frames before it in *data. */
static int read_to_close(int fd, size_t *data, char *reason, size_t rn)
{
    buf_t in = BUF_INIT;
    wsf_frame f;
    int code = -1;
    *data = 0;
    while (ws_recv(fd, &in, &f) == 0) {
        if (f.opcode == WSF_OP_CLOSE) {
            code = close_code(&f);
            if (reason)
                snprintf(reason, rn, "%.*s", f.len > 2 ? (int)f.len - 2 : 0,
                         (const char *)f.payload + 2);
            break;
        }
        *data += f.len;
        ws_drop_frame(&in, &f);
    }
    buf_free(&in);
    return code;
}

static int echoes(int fd, const char *msg)
{
    buf_t in = BUF_INIT;
    wsf_frame f;
    ws_send(fd, WSF_OP_TEXT, msg, strlen(msg));
    int ok = ws_recv(fd, &in, &f) == 0 && f.len == strlen(msg) &&
             memcmp(f.payload, msg, f.len) == 0;
    buf_free(&in);
    return ok;
}

/* ---- deadlines ---- */

static void test_header_and_body_timeouts(void)
{
    /* A head sent a byte every 100 ms is not done at 600 ms: 408 then, not later. */
    int fd = dial();
    double t0 = now_s();
    trickle(fd, "GET /a HTTP/1.1\r\nHost: h\r\nX-Long: aaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n", 100);
    double t = got_408_after(fd, t0);
    CHECK(t >= 0.55 && t <= 1.5);
    close(fd);

    /* Nothing at all: the same. */
    fd = dial();
    t0 = now_s();
    t = got_408_after(fd, t0);
    CHECK(t >= 0.55 && t <= 1.5);
    close(fd);

    /* A WebSocket upgrade's head is a head. */
    fd = dial();
    t0 = now_s();
    trickle(fd,
            "GET /echo HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
            100);
    t = got_408_after(fd, t0);
    CHECK(t >= 0.55 && t <= 1.5);
    close(fd);

    /* A body that stalls: its deadline runs from the end of the head. */
    fd = dial();
    const char *head = "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 20\r\n\r\nabc";
    send_all(fd, head, strlen(head));
    t0 = now_s();
    trickle(fd, "defghijklmnopq", 100);
    t = got_408_after(fd, t0);
    CHECK(t >= 0.55 && t <= 1.5);
    close(fd);

    /* Between keep-alive requests the idle limit applies, and the next head gets its own. */
    fd = dial();
    const char *req = "GET /k HTTP/1.1\r\nHost: h\r\n\r\n";
    send_all(fd, req, strlen(req));
    buf_t b = BUF_INIT;
    CHECK(recv_response(fd, &b, 0) > 0 && status_of(&b) == 200);
    usleep(900000);
    buf_reset(&b);
    send_all(fd, req, strlen(req));
    CHECK(recv_response(fd, &b, 0) > 0 && status_of(&b) == 200);
    buf_free(&b);
    close(fd);
    CHECK(refusals("header_timeout") >= 3);
    CHECK(refusals("body_timeout") >= 1);
}

/* Hundreds of connections trickling their heads beside one normal client: the client is served
 * at once every time, and each trickling connection gets its 408 at its deadline. */
#define SLOW 250
static void test_slowloris(void)
{
    static const char head[] =
        "GET /slow HTTP/1.1\r\nHost: h\r\nX-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    int fds[SLOW];
    double opened[SLOW], answered[SLOW];
    size_t sent[SLOW];
    int got[SLOW];
    for (int i = 0; i < SLOW; i++) {
        fds[i] = dial();
        opened[i] = now_s();
        sent[i] = 0;
        got[i] = 0;
        answered[i] = -1;
    }
    int served = 0, rounds = 0;
    double worst = 0;
    while (rounds < 40) {
        int open = 0;
        for (int i = 0; i < SLOW; i++) {
            if (got[i])
                continue;
            struct pollfd pf = { fds[i], POLLIN, 0 };
            if (poll(&pf, 1, 0) > 0) {
                buf_t b = BUF_INIT;
                recv_response(fds[i], &b, 0);
                got[i] = status_of(&b) == 408 && nc_peer_closes(fds[i]) ? 1 : -1;
                answered[i] = now_s() - opened[i];
                buf_free(&b);
                continue;
            }
            open++;
            if (sent[i] < sizeof head - 1)
                send(fds[i], head + sent[i]++, 1, MSG_NOSIGNAL);
        }
        if (!open)
            break;
        /* The normal client, on a new connection each time. */
        double t0 = now_s();
        if (request_from(NULL, "GET /normal HTTP/1.1\r\nHost: h\r\n\r\n") == 200)
            served++;
        if (now_s() - t0 > worst)
            worst = now_s() - t0;
        rounds++;
        usleep(50000);
    }
    int timed_out = 0;
    double late = 0;
    for (int i = 0; i < SLOW; i++) {
        if (got[i] == 1 && answered[i] >= 0.55) {
            timed_out++;
            if (answered[i] > late)
                late = answered[i];
        }
        close(fds[i]);
    }
    fprintf(stderr,
            "slowloris: %d of %d trickling connections got 408 (the last %.2f s after "
            "opening), %d of %d normal requests served (the slowest in %.3f s)\n",
            timed_out, SLOW, late, served, rounds, worst);
    CHECK_EQ_INT(timed_out, SLOW);
    CHECK(late <= 2.0);
    CHECK(rounds > 0 && served == rounds);
    /* Served while the trickling connections were open, not held until their deadline. */
    CHECK(worst < 1.0);
}

/* ---- connection caps ---- */

static void test_connection_caps(void)
{
    /* The connections of the tests before are gone by now. */
    usleep(200000);
    net_limits_t l = base;
    l.max_connections = 4;
    set_limits(&l);
    static const char req[] = "GET /c HTTP/1.1\r\nHost: h\r\n\r\n";
    int held[4];
    buf_t b = BUF_INIT;
    for (int i = 0; i < 4; i++) {
        held[i] = dial();
        send_all(held[i], req, sizeof req - 1);
        buf_reset(&b);
        CHECK(recv_response(held[i], &b, 0) > 0 && status_of(&b) == 200);
    }
    /* One more: 503 once its head is in, as a JSON error, and closed. */
    int fd = dial();
    send_all(fd, req, sizeof req - 1);
    buf_reset(&b);
    size_t n = recv_response(fd, &b, 0);
    CHECK(status_of(&b) == 503 && memmem(b.data, n, "\"code\":\"too_many_connections\"", 29) &&
          nc_peer_closes(fd));
    close(fd);
    /* A runner's upgrade is never refused for client load, and its socket works. */
    buf_t resp = BUF_INIT;
    int runner = ws_open("/runner", NULL, &resp);
    CHECK(status_of(&resp) == 101);
    CHECK(echoes(runner, "runner"));
    /* The open ones go on. */
    for (int i = 0; i < 4; i++) {
        send_all(held[i], req, sizeof req - 1);
        buf_reset(&b);
        CHECK(recv_response(held[i], &b, 0) > 0 && status_of(&b) == 200);
    }
    /* One closes, and one new is served; the runner does not count. */
    close(held[0]);
    usleep(100000);
    CHECK_EQ_INT(request_from(NULL, req), 200);
    for (int i = 1; i < 4; i++)
        close(held[i]);
    close(runner);

    /* Per address: three from 127.0.0.2, the fourth refused, another address served. */
    l.max_connections = 0;
    l.max_connections_per_address = 3;
    set_limits(&l);
    usleep(100000);
    for (int i = 0; i < 3; i++) {
        held[i] = nc_dial_from("127.0.0.2");
        send_all(held[i], req, sizeof req - 1);
        buf_reset(&b);
        CHECK(recv_response(held[i], &b, 0) > 0 && status_of(&b) == 200);
    }
    CHECK_EQ_INT(request_from("127.0.0.2", req), 503);
    CHECK_EQ_INT(request_from("127.0.0.3", req), 200);
    for (int i = 0; i < 3; i++)
        close(held[i]);
    usleep(100000);
    CHECK_EQ_INT(request_from("127.0.0.2", req), 200);
    CHECK(refusals("too_many_connections") == 1);
    CHECK(refusals("too_many_connections_from_address") == 1);
    buf_free(&b);
    buf_free(&resp);
    set_limits(&base);
}

/* ---- output caps ---- */

static void flood(int fd, size_t bytes)
{
    char msg[32];
    snprintf(msg, sizeof msg, "flood:%zu", bytes);
    ws_send(fd, WSF_OP_TEXT, msg, strlen(msg));
}

static void test_output_caps(void)
{
    net_limits_t l = base;
    l.max_output_bytes = 1 << 20;
    set_limits(&l);
    char reason[128];
    size_t got;

    /* A client that reads nothing while 64 MiB is sent to it: closed 1008 once more than 1 MiB
     * waits in the server, having received less than what was sent. Another socket echoes on
     * meanwhile, and a runner's socket over the cap is not cut. */
    int slow = ws_open_small("/echo"), other = ws_open_small("/echo"),
        runner = ws_open_small("/runner");
    CHECK(slow >= 0 && other >= 0 && runner >= 0);
    flood(slow, 64u << 20);
    flood(runner, 8u << 20);
    usleep(500000);
    CHECK(echoes(other, "still flowing"));
    CHECK_EQ_INT(read_to_close(slow, &got, reason, sizeof reason), 1008);
    CHECK(strcmp(reason, "guard.output_limit") == 0);
    CHECK(got < (16u << 20));
    size_t runner_got = 0;
    buf_t in = BUF_INIT;
    wsf_frame f;
    while (runner_got < (8u << 20) && ws_recv(runner, &in, &f) == 0 && f.opcode == WSF_OP_BINARY) {
        runner_got += f.len;
        ws_drop_frame(&in, &f);
    }
    CHECK_EQ_INT(runner_got, 8u << 20);
    buf_free(&in);
    close(slow);
    close(runner);

    /* An HTTP stream to a client that reads nothing is dropped: no last chunk arrives. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int sz = 16 << 10;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)nc_port) };
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    CHECK(connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
    struct timeval tv = { 5, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    static const char sreq[] = "GET /stream/67108864 HTTP/1.1\r\nHost: h\r\n\r\n";
    send_all(fd, sreq, sizeof sreq - 1);
    usleep(500000);
    buf_t b = BUF_INIT;
    recv_until(fd, &b, (size_t)-1);
    CHECK(b.len > 0 && b.len < (16u << 20) && status_of(&b) == 200);
    CHECK(b.len < 5 || memcmp(b.data + b.len - 5, "0\r\n\r\n", 5) != 0);
    buf_free(&b);
    close(fd);
    CHECK(refusals("output_limit") == 2);

    /* A send timeout: 16 MiB (more than the kernel's buffers take), under the cap, left
     * untaken for longer than 400 ms. */
    l.max_output_bytes = 64u << 20;
    l.send_timeout_ms = 400;
    set_limits(&l);
    slow = ws_open_small("/echo");
    flood(slow, 16u << 20);
    usleep(1500000);
    CHECK(echoes(other, "still flowing"));
    CHECK_EQ_INT(read_to_close(slow, &got, reason, sizeof reason), 1008);
    CHECK(strcmp(reason, "guard.send_timeout") == 0);
    CHECK(got < (16u << 20));
    close(slow);
    CHECK(refusals("send_timeout") == 1);

    /* The process-wide cap: two clients reading nothing are cut once 2 MiB wait in all; the
     * one that reads goes on. */
    l.send_timeout_ms = 0;
    l.max_buffered_bytes = 2u << 20;
    set_limits(&l);
    int s1 = ws_open_small("/echo"), s2 = ws_open_small("/echo");
    flood(s1, 32u << 20);
    flood(s2, 32u << 20);
    usleep(500000);
    CHECK(echoes(other, "still flowing"));
    CHECK_EQ_INT(read_to_close(s1, &got, reason, sizeof reason), 1008);
    CHECK(strcmp(reason, "guard.buffered_limit") == 0);
    CHECK_EQ_INT(read_to_close(s2, &got, reason, sizeof reason), 1008);
    CHECK(strcmp(reason, "guard.buffered_limit") == 0);
    CHECK(echoes(other, "still flowing"));
    close(s1);
    close(s2);
    close(other);
    CHECK(refusals("buffered_limit") == 2);
    set_limits(&base);
}

/* A runner's socket (the exempt path) has its own message limit: a message a client may not
 * send (1009) passes on it. */
static void test_exempt_message_limit(void)
{
    net_limits_t l = base;
    l.max_message_bytes = 4096;
    l.max_exempt_message_bytes = 64 << 10;
    set_limits(&l);
    static char msg[10000];
    memset(msg, 'm', sizeof msg);
    int client = ws_open_small("/echo"), runner = ws_open_small("/runner");
    CHECK(client >= 0 && runner >= 0);
    buf_t in = BUF_INIT;
    wsf_frame f;
    ws_send(runner, WSF_OP_BINARY, msg, sizeof msg);
    CHECK(ws_recv(runner, &in, &f) == 0 && f.opcode == WSF_OP_BINARY && f.len == sizeof msg);
    buf_free(&in);
    ws_send(client, WSF_OP_BINARY, msg, sizeof msg);
    size_t got;
    CHECK_EQ_INT(read_to_close(client, &got, NULL, 0), 1009);
    close(client);
    close(runner);
    set_limits(&base);
}

int main(void)
{
    uv_loop_init(&loop);
    srv = net_server_new(&loop, &base);
    CHECK(srv != NULL);
    uv_async_init(&loop, &cmd_async, on_cmd);
    uv_timer_init(&loop, &flood_timer);
    uv_timer_start(&flood_timer, flood_tick, 1, 1);
    nc_port = listen_port(srv, (net_listen_opts_t){ .name = "limits",
                                                    .on_request = on_request,
                                                    .exempt_path = "/runner" });
    CHECK(nc_port != 0);
    pthread_t th;
    pthread_create(&th, NULL, server_thread, NULL);

    test_header_and_body_timeouts();
    test_slowloris();
    test_connection_caps();
    test_output_caps();
    test_exempt_message_limit();

    run_cmd(3);
    pthread_join(th, NULL);
    net_server_finish(srv);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(uv_loop_close(&loop), 0);
    buf_free(&cmd_metrics);
    met_free_all();
    return T_DONE();
}
