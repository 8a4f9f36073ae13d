/* The gateway half on its own: a real gateway and engine on the local bus and the memory store,
 * clients on real sockets on 127.0.0.1, and the test playing the runner half: it subscribes
 * `pegboard.runner.{id}`, reads ToRunner frames with the generated codec, answers tunnel pings
 * as the runner half does, and publishes ToGateway frames to the gateway's subject. Everything
 * runs on one loop in this thread, with the engine's clock made manual: every deadline (ready,
 * response start, open, ping interval and timeout, ack timeout, GC, wake retry) is reached by
 * advancing the clock, never by sleeping. Waits are for socket I/O only, bounded by a real-time
 * limit that only a failing test reaches. */
#include "free_port.h"
#include "t.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "bus/bus.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/metrics.h"
#include "engine/engine.h"
#include "engine/engine_runner.h"
#include "gateway/gw.h"
#include "lua/core.h"
#include "net/server.h"
#include "net/ws_frame.h"
#include "proto/bare.h"
#include "proto/rp_v7.h"
#include "store/store_memory.h"

static uv_loop_t loop;
static store_t *store;
static bus_t *bus;
static eng_t *eng;
static gw_t *gw;
static clk_t *clk;
static net_server_t *srv;
static net_limits_t limits = { .max_header_bytes = 65536,
                               .max_body_bytes = 20 << 20,
                               .max_message_bytes = 1 << 20,
                               .idle_timeout_ms = 3600000 };
static int port;

/* The production defaults: the test reaches each deadline by moving the clock. */
static gw_config_t gcfg = {
    .timeouts = { .ping_interval_ms = 3000,
                  .ping_timeout_ms = 30000,
                  .response_start_timeout_ms = 300000,
                  .websocket_open_timeout_ms = 15000,
                  .max_pending_bytes = 128 << 20,
                  .ack_timeout_ms = 30000,
                  .hibernation_threshold_ms = 90000 },
    .ready_timeout_ms = 10000,
    .gc_interval_ms = 15000,
    .retries = 3,
    .max_body_bytes = 20 << 20,
};

/* ---- The loop and waiting for I/O ---- */

typedef struct cli {
    int fd;
    buf_t in;
    int eof;
} cli_t;

static cli_t *clis[16];
static int nclis;

/* Runs what is due on the loop now and reads whatever the clients were sent. */
static void pump(void)
{
    for (int i = 0; i < 3; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    for (int i = 0; i < nclis; i++) {
        cli_t *c = clis[i];
        while (!c->eof) {
            uint8_t *p = buf_reserve(&c->in, 65536);
            ssize_t r = recv(c->fd, p, 65536, MSG_DONTWAIT);
            if (r > 0)
                c->in.len += (size_t)r;
            else if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
                c->eof = 1;
            else
                break;
        }
    }
}

/* Waits for a socket event (the loop's or a client's), a few milliseconds at most. */
static void pump_wait(void)
{
    struct pollfd p[17];
    int n = 0;
    p[n++] = (struct pollfd){ .fd = uv_backend_fd(&loop), .events = POLLIN };
    for (int i = 0; i < nclis; i++)
        if (!clis[i]->eof)
            p[n++] = (struct pollfd){ .fd = clis[i]->fd, .events = POLLIN };
    poll(p, (nfds_t)n, 2);
    pump();
}

/* Waits until cond holds, evaluating it once more per event; a test that never gets there
 * fails after 10 s instead of hanging. */
#define WAIT(cond)                                                                           \
    do {                                                                                     \
        int t_ok_ = 0;                                                                       \
        uint64_t t_end_ = uv_hrtime() + 10000000000ull;                                      \
        while (!(t_ok_ = !!(cond)) && uv_hrtime() < t_end_)                                  \
            pump_wait();                                                                     \
        if (t_ok_) {                                                                         \
            t_pass++;                                                                        \
        } else {                                                                             \
            t_fail++;                                                                        \
            fprintf(stderr, "%s:%d: timed out waiting for %s\n", __FILE__, __LINE__, #cond); \
        }                                                                                    \
    } while (0)

/* Lets in-flight I/O settle: a few rounds of waiting, for checks that something did not happen. */
static void settle(void)
{
    for (int i = 0; i < 10; i++)
        pump_wait();
}

/* Moves the manual clock forward as time would pass, in steps no longer than a ping interval's
 * jitter-free part, running the loop after each so timers fire in order. */
static void advance(uint64_t ms)
{
    while (ms) {
        uint64_t step = ms < 100 ? ms : 100;
        clk_advance(clk, step);
        pump();
        ms -= step;
    }
}

/* ---- The runner half, played by the test ---- */

typedef struct rframe {
    uint8_t *p;
    size_t n;
    int taken;
} rframe_t;

typedef struct runner {
    const char *name;
    char key[32];
    char subject[96];
    eng_runner_t *er;
    bus_sub_t *sub;
    rframe_t *f;
    size_t n, cap;
    int auto_pong;
    int pings;
} runner_t;

static runner_t rt; /* the runner named "pool" */

static uint8_t gwid[4];
static int have_gwid;
static char gw_subject[40];

static void learn_gateway(const uint8_t id[4])
{
    if (have_gwid)
        return;
    memcpy(gwid, id, 4);
    have_gwid = 1;
    snprintf(gw_subject, sizeof gw_subject, "pegboard.gateway.%02x%02x%02x%02x", id[0], id[1],
             id[2], id[3]);
}

/* What the runner half does with a frame for its runner: pings are answered at once (as
 * src/runner does), everything else is kept for the test to read. */
static void runner_on_bus(void *ud, const char *subject, const uint8_t *f, size_t n)
{
    runner_t *rt = ud;
    (void)subject;
    if (n >= 3 && f[2] == RP_TO_RUNNER_PING) {
        rp_to_runner_t m;
        bare_err_t err;
        CHECK(rp_to_runner_decode_versioned(f, n, &m, &err) == BARE_OK);
        rt->pings++;
        learn_gateway(m.val.ping.gateway_id);
        if (rt->auto_pong) {
            rp_to_gateway_t pong;
            memset(&pong, 0, sizeof pong);
            pong.tag = RP_TO_GATEWAY_PONG;
            memcpy(pong.val.pong.request_id, m.val.ping.request_id, 4);
            pong.val.pong.ts = m.val.ping.ts;
            buf_t b = BUF_INIT;
            rp_to_gateway_encode_versioned(&b, &pong);
            bus_publish(bus, gw_subject, b.data, b.len);
            buf_free(&b);
        }
        rp_to_runner_free(&m);
        return;
    }
    if (rt->n == rt->cap) {
        rt->cap = rt->cap ? rt->cap * 2 : 64;
        rt->f = realloc(rt->f, rt->cap * sizeof *rt->f);
    }
    rt->f[rt->n].p = malloc(n);
    memcpy(rt->f[rt->n].p, f, n);
    rt->f[rt->n].n = n;
    rt->f[rt->n].taken = 0;
    rt->n++;
}

static void runner_connect(runner_t *rt, const char *name, const char *key)
{
    rt->name = name;
    snprintf(rt->key, sizeof rt->key, "%s", key);
    rp_to_server_init_t init;
    memset(&init, 0, sizeof init);
    init.name = slice_cstr(name);
    init.version = 1;
    init.total_slots = 100;
    bool was;
    rt->er = eng_runner_connect(eng, eng_ns_get(eng, "default"), name, key, &init, &was);
    snprintf(rt->subject, sizeof rt->subject, "pegboard.runner.%s", rt->er->runner_id);
    if (!rt->sub)
        rt->sub = bus_subscribe(bus, rt->subject, runner_on_bus, rt);
    rt->auto_pong = 1;
    eng_runner_ready(eng, rt->er);
}

static void runner_clear(runner_t *rt)
{
    for (size_t i = 0; i < rt->n; i++)
        free(rt->f[i].p);
    rt->n = 0;
}

static void runner_free(runner_t *rt)
{
    runner_clear(rt);
    free(rt->f);
    if (rt->sub)
        bus_unsubscribe(bus, rt->sub);
}

/* Takes the first frame not yet taken with this ToRunner tag (and, for tunnel messages, this
 * message kind; -1 for any) into m, which the caller frees. Returns 0 when there is none. */
static int runner_take(runner_t *rt, int tag, int kind, rp_to_runner_t *m)
{
    memset(m, 0, sizeof *m);
    for (size_t i = 0; i < rt->n; i++) {
        rframe_t *f = &rt->f[i];
        if (f->taken || f->n < 3 || f->p[2] != tag)
            continue;
        bare_err_t err;
        if (rp_to_runner_decode_versioned(f->p, f->n, m, &err) != BARE_OK) {
            fprintf(stderr, "runner: undecodable frame\n");
            t_fail++;
            f->taken = 1;
            continue;
        }
        if (tag == RP_TO_RUNNER_CLIENT_TUNNEL_MESSAGE && kind >= 0 &&
            (int)m->val.client_tunnel_message.message_kind.tag != kind) {
            rp_to_runner_free(m);
            memset(m, 0, sizeof *m);
            continue;
        }
        f->taken = 1;
        if (tag == RP_TO_RUNNER_CLIENT_TUNNEL_MESSAGE)
            learn_gateway(m->val.client_tunnel_message.message_id.gateway_id);
        return 1;
    }
    return 0;
}

static int runner_take_tunnel(runner_t *rt, int kind, rp_to_runner_t *m)
{
    return runner_take(rt, RP_TO_RUNNER_CLIENT_TUNNEL_MESSAGE, kind, m);
}

/* Tunnel frames of one kind not yet taken. */
static size_t runner_count(runner_t *rt, int kind)
{
    size_t n = 0;
    for (size_t i = 0; i < rt->n; i++) {
        rframe_t *f = &rt->f[i];
        /* The kind tag follows the version, the ToRunner tag and the 10-byte message id. */
        if (!f->taken && f->n > 13 && f->p[2] == RP_TO_RUNNER_CLIENT_TUNNEL_MESSAGE &&
            (kind < 0 || f->p[13] == kind))
            n++;
    }
    return n;
}

static uint16_t ws_index(const rp_to_runner_t *m)
{
    return m->val.client_tunnel_message.message_id.message_index;
}

static const uint8_t *rid_of(const rp_to_runner_t *m)
{
    return m->val.client_tunnel_message.message_id.request_id;
}

static int slice_is(slice_t s, const char *text)
{
    return s.len == strlen(text) && memcmp(s.p, text, s.len) == 0;
}

static const slice_t *header_of(const rp_map_str_str_t *h, const char *name)
{
    for (size_t i = 0; i < h->len; i++)
        if (slice_is(h->items[i].key, name))
            return &h->items[i].value;
    return NULL;
}

/* Publishes a ToServerTunnelMessage for request rid to the gateway, as the runner half does
 * with what the runner sends. */
static void runner_send(const uint8_t rid[4], const rp_to_server_tunnel_message_kind_t *k)
{
    static uint16_t index;
    rp_to_gateway_t m;
    memset(&m, 0, sizeof m);
    m.tag = RP_TO_GATEWAY_SERVER_TUNNEL_MESSAGE;
    memcpy(m.val.server_tunnel_message.message_id.gateway_id, gwid, 4);
    memcpy(m.val.server_tunnel_message.message_id.request_id, rid, 4);
    m.val.server_tunnel_message.message_id.message_index = index++;
    m.val.server_tunnel_message.message_kind = *k;
    buf_t b = BUF_INIT;
    rp_to_gateway_encode_versioned(&b, &m);
    bus_publish(bus, gw_subject, b.data, b.len);
    buf_free(&b);
}

static void runner_ws_open(const uint8_t rid[4], int can_hibernate)
{
    rp_to_server_tunnel_message_kind_t k;
    memset(&k, 0, sizeof k);
    k.tag = RP_TO_SERVER_TUNNEL_MESSAGE_KIND_WEB_SOCKET_OPEN;
    k.val.web_socket_open.can_hibernate = can_hibernate;
    runner_send(rid, &k);
}

static void runner_ws_message(const uint8_t rid[4], const char *text)
{
    rp_to_server_tunnel_message_kind_t k;
    memset(&k, 0, sizeof k);
    k.tag = RP_TO_SERVER_TUNNEL_MESSAGE_KIND_WEB_SOCKET_MESSAGE;
    k.val.web_socket_message.data = slice_cstr(text);
    runner_send(rid, &k);
}

static void runner_ws_ack(const uint8_t rid[4], uint16_t index)
{
    rp_to_server_tunnel_message_kind_t k;
    memset(&k, 0, sizeof k);
    k.tag = RP_TO_SERVER_TUNNEL_MESSAGE_KIND_WEB_SOCKET_MESSAGE_ACK;
    k.val.web_socket_message_ack.index = index;
    runner_send(rid, &k);
}

static void runner_ws_close(const uint8_t rid[4], int code, const char *reason, int hibernate)
{
    rp_to_server_tunnel_message_kind_t k;
    memset(&k, 0, sizeof k);
    k.tag = RP_TO_SERVER_TUNNEL_MESSAGE_KIND_WEB_SOCKET_CLOSE;
    k.val.web_socket_close.has_code = code != 0;
    k.val.web_socket_close.code = (uint16_t)code;
    k.val.web_socket_close.has_reason = reason != NULL;
    if (reason)
        k.val.web_socket_close.reason = slice_cstr(reason);
    k.val.web_socket_close.hibernate = hibernate;
    runner_send(rid, &k);
}

static void runner_respond(const uint8_t rid[4], int status, const char *body, int stream)
{
    rp_to_server_tunnel_message_kind_t k;
    memset(&k, 0, sizeof k);
    k.tag = RP_TO_SERVER_TUNNEL_MESSAGE_KIND_RESPONSE_START;
    /* The actor's own CORS headers, which the gateway leaves out for the router's. */
    rp_map_str_str_entry_t h[] = {
        { slice_cstr("x-answer"), slice_cstr("yes") },
        { slice_cstr("Access-Control-Allow-Origin"), slice_cstr("http://actor.example") },
        { slice_cstr("access-control-allow-credentials"), slice_cstr("true") },
        { slice_cstr("access-control-expose-headers"), slice_cstr("x-answer") },
    };
    k.val.response_start.status = (uint16_t)status;
    k.val.response_start.headers = (rp_map_str_str_t){ h, sizeof h / sizeof h[0] };
    k.val.response_start.has_body = body != NULL;
    if (body)
        k.val.response_start.body = slice_cstr(body);
    k.val.response_start.stream = stream;
    runner_send(rid, &k);
}

static void runner_chunk(const uint8_t rid[4], const char *body, int finish)
{
    rp_to_server_tunnel_message_kind_t k;
    memset(&k, 0, sizeof k);
    k.tag = RP_TO_SERVER_TUNNEL_MESSAGE_KIND_RESPONSE_CHUNK;
    k.val.response_chunk.body = slice_cstr(body);
    k.val.response_chunk.finish = finish;
    runner_send(rid, &k);
}

static void runner_abort(const uint8_t rid[4])
{
    rp_to_server_tunnel_message_kind_t k;
    memset(&k, 0, sizeof k);
    k.tag = RP_TO_SERVER_TUNNEL_MESSAGE_KIND_RESPONSE_ABORT;
    runner_send(rid, &k);
}

static void runner_pong(const uint8_t rid[4])
{
    rp_to_gateway_t pong;
    memset(&pong, 0, sizeof pong);
    pong.tag = RP_TO_GATEWAY_PONG;
    memcpy(pong.val.pong.request_id, rid, 4);
    uv_timeval64_t tv;
    uv_gettimeofday(&tv);
    pong.val.pong.ts = (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
    buf_t b = BUF_INIT;
    rp_to_gateway_encode_versioned(&b, &pong);
    bus_publish(bus, gw_subject, b.data, b.len);
    buf_free(&b);
}

/* ---- Actors: the runner half hands the runner's events to the engine ---- */

typedef struct evseq {
    eng_actor_t *a;
    uint32_t gen;
    int64_t next;
} evseq_t;

static evseq_t evs[32];
static int nevs;

static void actor_event(eng_actor_t *a, int kind, int arg)
{
    /* Events come from the runner the actor was placed on. */
    CHECK(a->runner != NULL);
    if (!a->runner)
        return;
    evseq_t *s = NULL;
    for (int i = 0; i < nevs; i++)
        if (evs[i].a == a)
            s = &evs[i];
    if (!s) {
        s = &evs[nevs++];
        s->a = a;
        s->gen = a->generation;
    }
    if (s->gen != a->generation) {
        s->gen = a->generation;
        s->next = 0;
    }
    rp_event_wrapper_t w;
    memset(&w, 0, sizeof w);
    w.checkpoint.actor_id = slice_cstr(a->actor_id);
    w.checkpoint.generation = a->generation;
    w.checkpoint.index = s->next++;
    if (kind == 0) {
        w.inner.tag = RP_EVENT_ACTOR_STATE_UPDATE;
        w.inner.val.actor_state_update.state.tag = RP_ACTOR_STATE_RUNNING;
    } else if (kind == 1) {
        w.inner.tag = RP_EVENT_ACTOR_STATE_UPDATE;
        w.inner.val.actor_state_update.state.tag = RP_ACTOR_STATE_STOPPED;
        w.inner.val.actor_state_update.state.val.stopped.code = (rp_stop_code_t)arg;
    } else {
        w.inner.tag = RP_EVENT_ACTOR_INTENT;
        w.inner.val.actor_intent.intent.tag = (rp_actor_intent_tag_t)arg;
    }
    rp_to_server_events_t ev = { &w, 1 };
    eng_runner_events(eng, a->runner, &ev);
}

static void actor_running(eng_actor_t *a)
{
    actor_event(a, 0, 0);
}

/* The actor asks to sleep (intent 0), is stopped, and reports Stopped. */
static void actor_sleep(eng_actor_t *a)
{
    actor_event(a, 2, 0);
    actor_event(a, 1, RP_STOP_CODE_OK);
}

static eng_actor_t *actor_new(const char *name, const char *runner_name)
{
    static int seq;
    char key[32];
    snprintf(key, sizeof key, "k%d", ++seq);
    eng_actor_spec_t spec = { .namespace_name = "default",
                              .name = name,
                              .key = key,
                              .runner_name_selector = runner_name,
                              .crash_policy = STORE_CRASH_SLEEP };
    /* A live runner pongs every few seconds, and placement skips one whose last pong is older
     * than runner_eligible_ms of wall time: the whole suite under the sanitizers takes longer
     * than that, so the pool runner pongs before each placement as it would have meanwhile. */
    if (rt.er)
        eng_runner_pong(eng, rt.er, 0);
    eng_actor_t *a = NULL;
    eng_error_t err;
    CHECK(eng_actor_create(eng, &spec, &a, &err) == 0);
    return a;
}

/* ---- Clients ---- */

static void on_request(net_conn_t *c, hreq *req, void *ud)
{
    /* /a/{actor_id}{rest}: the actor sees rest (or /). */
    const char *u = (const char *)req->url.p;
    size_t n = req->url.len, i = 3;
    if (n < 4 || memcmp(u, "/a/", 3) != 0) {
        net_http_respond(c, 404, "text/plain", NULL, "no", 2);
        return;
    }
    while (i < n && u[i] != '/' && u[i] != '?')
        i++;
    char id[64], path[1024];
    snprintf(id, sizeof id, "%.*s", (int)(i - 3), u + 3);
    snprintf(path, sizeof path, "%s%.*s", i < n && u[i] == '?' ? "/" : "", (int)(n - i), u + i);
    if (!path[0])
        snprintf(path, sizeof path, "/");
    /* What the router sets for every answer of an actor route (its CORS headers). */
    if (!req->upgrade)
        net_http_set_extra(c, "X-Router: yes\r\n");
    gw_forward(gw, c, req, id, path);
}

static cli_t *cli_dial(void)
{
    cli_t *c = calloc(1, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    CHECK(connect(c->fd, (struct sockaddr *)&a, sizeof a) == 0);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    clis[nclis++] = c;
    return c;
}

static void cli_send(cli_t *c, const void *p, size_t n)
{
    const uint8_t *s = p;
    uint64_t end = uv_hrtime() + 10000000000ull;
    while (n && uv_hrtime() < end) {
        ssize_t w = send(c->fd, s, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) {
            s += w;
            n -= (size_t)w;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            pump_wait();
        } else {
            break;
        }
    }
    CHECK(n == 0);
}

static void cli_close(cli_t *c)
{
    for (int i = 0; i < nclis; i++)
        if (clis[i] == c) {
            clis[i] = clis[--nclis];
            break;
        }
    close(c->fd);
    buf_free(&c->in);
    free(c);
}

/* The length of the whole HTTP response at the start of b (Content-Length or chunked), or 0
 * while it is incomplete. */
static size_t http_complete(const buf_t *b)
{
    char *s = (char *)b->data;
    char *end = b->len ? memmem(s, b->len, "\r\n\r\n", 4) : NULL;
    if (!end)
        return 0;
    size_t head = (size_t)(end - s) + 4;
    char *cl = memmem(s, head, "Content-Length: ", 16);
    if (cl) {
        size_t n = strtoul(cl + 16, NULL, 10);
        return b->len >= head + n ? head + n : 0;
    }
    if (memmem(s, head, "chunked", 7)) {
        char *z = memmem(s + head, b->len - head, "0\r\n\r\n", 5);
        return z ? (size_t)(z - s) + 5 : 0;
    }
    return head;
}

static void cli_http(cli_t *c, const char *method, const char *target, const char *body)
{
    buf_t r = BUF_INIT;
    buf_printf(&r, "%s %s HTTP/1.1\r\nHost: x\r\nX-Test: Yes\r\n", method, target);
    if (body)
        buf_printf(&r, "Content-Length: %zu\r\n\r\n%s", strlen(body), body);
    else
        buf_append_str(&r, "\r\n");
    cli_send(c, r.data, r.len);
    buf_free(&r);
}

static int status_of(const buf_t *b)
{
    int status = -1;
    if (b->len > 12)
        sscanf((const char *)b->data, "HTTP/1.1 %d", &status);
    return status;
}

static int has_text(const buf_t *b, const char *text)
{
    return b->len && memmem(b->data, b->len, text, strlen(text)) != NULL;
}

static const uint8_t mask_key[4] = { 0x21, 0x43, 0x65, 0x87 };

/* Upgrades a new client to a WebSocket on target; returns it once the 101 has arrived. */
static cli_t *cli_ws(const char *target, const char *extra)
{
    cli_t *c = cli_dial();
    buf_t r = BUF_INIT;
    buf_printf(&r,
               "GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
               "%s\r\n",
               target, extra ? extra : "");
    cli_send(c, r.data, r.len);
    buf_free(&r);
    WAIT(http_complete(&c->in) > 0);
    CHECK(has_text(&c->in, "HTTP/1.1 101 "));
    buf_consume(&c->in, http_complete(&c->in));
    return c;
}

static void cli_ws_send(cli_t *c, const char *text)
{
    buf_t b = BUF_INIT;
    wsf_append_frame(&b, WSF_OP_TEXT, text, strlen(text), mask_key);
    cli_send(c, b.data, b.len);
    buf_free(&b);
}

/* Parses the next whole frame the client holds into f (the payload stays in c->in until
 * cli_ws_drop). */
static int cli_ws_frame(cli_t *c, wsf_frame *f)
{
    if (!c->in.len)
        return 0;
    return wsf_parse_frame(WSF_ROLE_CLIENT, c->in.data, c->in.len, (uint64_t)1 << 32, f) == WSF_OK;
}

static void cli_ws_drop(cli_t *c, const wsf_frame *f)
{
    buf_consume(&c->in, (size_t)f->frame_len);
}

static int close_code(const wsf_frame *f)
{
    return f->len >= 2 ? (f->payload[0] << 8) | f->payload[1] : 1005;
}

/* Waits for the next frame, which must be a close with this code and a reason starting with
 * prefix (NULL: any). */
static void expect_close(cli_t *c, int code, const char *prefix)
{
    wsf_frame f;
    WAIT(cli_ws_frame(c, &f));
    CHECK_EQ_INT(f.opcode, WSF_OP_CLOSE);
    CHECK_EQ_INT(close_code(&f), code);
    if (prefix)
        CHECK(f.len >= 2 + strlen(prefix) && memcmp(f.payload + 2, prefix, strlen(prefix)) == 0);
    cli_ws_drop(c, &f);
}

static void expect_text(cli_t *c, const char *text)
{
    wsf_frame f;
    WAIT(cli_ws_frame(c, &f));
    CHECK_EQ_INT(f.opcode, WSF_OP_TEXT);
    CHECK(f.len == strlen(text) && memcmp(f.payload, text, f.len) == 0);
    cli_ws_drop(c, &f);
}

/* A WebSocket to a running actor, its open taken and acked; rid receives its request id. */
static cli_t *ws_ready(eng_actor_t *a, int can_hibernate, uint8_t rid[4])
{
    char target[96];
    snprintf(target, sizeof target, "/a/%s/ws", a->actor_id);
    cli_t *c = cli_ws(target, NULL);
    rp_to_runner_t m;
    WAIT(runner_take_tunnel(&rt, RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_WEB_SOCKET_OPEN, &m));
    memcpy(rid, rid_of(&m), 4);
    rp_to_runner_free(&m);
    runner_ws_open(rid, can_hibernate);
    return c;
}

static met_series_t *histogram(const char *name)
{
    return met_histogram(name, NULL, NULL, NULL, 0);
}

static met_series_t *counter(const char *name, const char *labels)
{
    return met_counter(name, NULL, labels);
}

/* ---- HTTP ---- */

static void test_http(void)
{
    eng_actor_t *a = actor_new("http", "pool");
    actor_running(a);
    met_series_t *dur = histogram("gateway_request_duration_seconds");
    uint64_t answered = dur->count;

    /* The request reaches the runner whole; the answer reaches the client with its headers. */
    cli_t *c = cli_dial();
    char target[128];
    snprintf(target, sizeof target, "/a/%s/echo?x=1", a->actor_id);
    cli_http(c, "POST", target, "abc");
    rp_to_runner_t m;
    WAIT(runner_take_tunnel(&rt, RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_REQUEST_START, &m));
    const rp_to_client_request_start_t *s =
        &m.val.client_tunnel_message.message_kind.val.request_start;
    CHECK(slice_is(s->method, "POST"));
    CHECK(slice_is(s->path, "/echo?x=1"));
    CHECK(slice_is(s->actor_id, a->actor_id));
    CHECK(s->has_body && slice_is(s->body, "abc"));
    const slice_t *h = header_of(&s->headers, "x-test");
    CHECK(h && slice_is(*h, "Yes"));
    CHECK_EQ_INT(ws_index(&m), 0);
    CHECK_EQ_INT(gw_in_flight(gw), 1);
    uint8_t rid[4];
    memcpy(rid, rid_of(&m), 4);
    rp_to_runner_free(&m);
    runner_respond(rid, 201, "hello", 0);
    WAIT(http_complete(&c->in) > 0);
    CHECK_EQ_INT(status_of(&c->in), 201);
    CHECK(has_text(&c->in, "x-answer: yes\r\n"));
    CHECK(has_text(&c->in, "\r\nX-Router: yes\r\n"));
    CHECK(!has_text(&c->in, "actor.example"));
    CHECK(!has_text(&c->in, "ccess-control-allow-credentials"));
    CHECK(!has_text(&c->in, "ccess-control-expose-headers"));
    CHECK(has_text(&c->in, "\r\n\r\nhello"));
    CHECK_EQ_INT(gw_in_flight(gw), 0);
    CHECK_EQ_INT(dur->count, answered + 1);
    buf_reset(&c->in);

    /* A streamed answer is relayed chunked as it comes. */
    snprintf(target, sizeof target, "/a/%s/stream", a->actor_id);
    cli_http(c, "GET", target, NULL);
    WAIT(runner_take_tunnel(&rt, RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_REQUEST_START, &m));
    memcpy(rid, rid_of(&m), 4);
    rp_to_runner_free(&m);
    runner_respond(rid, 200, "one,", 1);
    WAIT(has_text(&c->in, "4\r\none,\r\n"));
    CHECK(has_text(&c->in, "Transfer-Encoding: chunked"));
    CHECK(has_text(&c->in, "\r\nX-Router: yes\r\n"));
    CHECK(!has_text(&c->in, "actor.example"));
    runner_chunk(rid, "two,", 0);
    WAIT(has_text(&c->in, "4\r\ntwo,\r\n"));
    CHECK(http_complete(&c->in) == 0);
    runner_chunk(rid, "three", 1);
    WAIT(http_complete(&c->in) > 0);
    CHECK(has_text(&c->in, "5\r\nthree\r\n0\r\n\r\n"));
    CHECK_EQ_INT(gw_in_flight(gw), 0);
    buf_reset(&c->in);

    /* The actor aborts before answering: 503. */
    cli_http(c, "GET", target, NULL);
    WAIT(runner_take_tunnel(&rt, RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_REQUEST_START, &m));
    memcpy(rid, rid_of(&m), 4);
    rp_to_runner_free(&m);
    runner_abort(rid);
    WAIT(http_complete(&c->in) > 0);
    CHECK_EQ_INT(status_of(&c->in), 503);
    CHECK(has_text(&c->in, "\r\nX-Router: yes\r\n"));
    CHECK(has_text(&c->in, "tunnel_request_aborted"));
    buf_reset(&c->in);

    /* A pong naming an HTTP request (a runner half may answer anything) is measured and does
     * not touch the request, which is answered as usual afterwards. */
    met_series_t *ping = histogram("gateway_tunnel_ping_duration");
    uint64_t pings = ping->count;
    cli_http(c, "GET", target, NULL);
    WAIT(runner_take_tunnel(&rt, RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_REQUEST_START, &m));
    memcpy(rid, rid_of(&m), 4);
    rp_to_runner_free(&m);
    runner_pong(rid);
    CHECK_EQ_INT(ping->count, pings + 1);
    /* A pong for no request in flight is counted as dropped. */
    met_series_t *dropped = counter("gateway_tunnel_pong_dropped_total", NULL);
    double was_dropped = dropped->value;
    runner_pong((const uint8_t[4]){ 0, 1, 2, 3 });
    CHECK(dropped->value == was_dropped + 1);
    runner_respond(rid, 200, "ok", 0);
    WAIT(http_complete(&c->in) > 0);
    CHECK_EQ_INT(status_of(&c->in), 200);
    cli_close(c);
}

static void test_http_deadlines(void)
{
    eng_actor_t *a = actor_new("slow", "pool");
    actor_running(a);
    char target[128];
    snprintf(target, sizeof target, "/a/%s/", a->actor_id);

    /* No ResponseStart within the response-start timeout: 504, and the actor hears an abort. */
    cli_t *c = cli_dial();
    cli_http(c, "GET", target, NULL);
    rp_to_runner_t m;
    WAIT(runner_take_tunnel(&rt, RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_REQUEST_START, &m));
    rp_to_runner_free(&m);
    advance(gcfg.timeouts.response_start_timeout_ms - 100);
    settle();
    CHECK_EQ_INT(c->in.len, 0);
    advance(200);
    WAIT(http_complete(&c->in) > 0);
    CHECK_EQ_INT(status_of(&c->in), 504);
    CHECK(has_text(&c->in, "gateway_response_start_timeout"));
    CHECK(runner_take_tunnel(&rt, RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_REQUEST_ABORT, &m));
    rp_to_runner_free(&m);
    CHECK_EQ_INT(gw_in_flight(gw), 0);
    cli_close(c);

    /* An actor with no runner to start on: 503 after the ready timeout. */
    eng_actor_t *lost = actor_new("homeless", "nowhere");
    snprintf(target, sizeof target, "/a/%s/", lost->actor_id);
    c = cli_dial();
    cli_http(c, "GET", target, NULL);
    settle();
    CHECK_EQ_INT(gw_in_flight(gw), 1);
    advance(gcfg.ready_timeout_ms - 100);
    settle();
    CHECK_EQ_INT(c->in.len, 0);
    advance(200);
    WAIT(http_complete(&c->in) > 0);
    CHECK_EQ_INT(status_of(&c->in), 503);
    CHECK(has_text(&c->in, "actor_ready_timeout"));
    CHECK_EQ_INT(gw_in_flight(gw), 0);
    cli_close(c);

    /* The actor stops before answering: the request is sent again once it runs again. */
    c = cli_dial();
    snprintf(target, sizeof target, "/a/%s/retry", a->actor_id);
    cli_http(c, "GET", target, NULL);
    WAIT(runner_take_tunnel(&rt, RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_REQUEST_START, &m));
    rp_to_runner_free(&m);
    actor_sleep(a);
    advance(150);
    WAIT(a->state == ENG_ACTOR_STARTING);
    actor_running(a);
    WAIT(runner_take_tunnel(&rt, RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_REQUEST_START, &m));
    CHECK(slice_is(m.val.client_tunnel_message.message_kind.val.request_start.path, "/retry"));
    uint8_t rid[4];
    memcpy(rid, rid_of(&m), 4);
    rp_to_runner_free(&m);
    runner_respond(rid, 200, "again", 0);
    WAIT(http_complete(&c->in) > 0);
    CHECK(has_text(&c->in, "\r\n\r\nagain"));
    cli_close(c);
}

/* The client goes away before its answer: the actor hears an abort and nothing stays in
 * flight. */
static void test_http_client_gone(void)
{
    eng_actor_t *a = actor_new("gone", "pool");
    actor_running(a);
    char target[128];
    snprintf(target, sizeof target, "/a/%s/", a->actor_id);
    cli_t *c = cli_dial();
    cli_http(c, "GET", target, NULL);
    rp_to_runner_t m;
    WAIT(runner_take_tunnel(&rt, RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_REQUEST_START, &m));
    rp_to_runner_free(&m);
    CHECK_EQ_INT(gw_in_flight(gw), 1);
    cli_close(c);
    WAIT(runner_take_tunnel(&rt, RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_REQUEST_ABORT, &m));
    rp_to_runner_free(&m);
    CHECK_EQ_INT(gw_in_flight(gw), 0);
}

/* ---- WebSockets ---- */

static void test_ws_open(void)
{
    eng_actor_t *a = actor_new("chat", "pool");
    actor_running(a);
    char target[128];
    snprintf(target, sizeof target, "/a/%s/chat?room=1", a->actor_id);

    /* The upgrade is accepted at once with `rivet` chosen; the open carries the path and the
     * headers, the subprotocol list whole. */
    cli_t *c = cli_ws(target,
                      "Sec-WebSocket-Protocol: rivet, rivet_conn_params.x\r\nX-Custom: 7\r\n");
    cli_ws_send(c, "early");
    rp_to_runner_t m;
    WAIT(runner_take_tunnel(&rt, RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_WEB_SOCKET_OPEN, &m));
    const rp_to_client_web_socket_open_t *o =
        &m.val.client_tunnel_message.message_kind.val.web_socket_open;
    CHECK(slice_is(o->path, "/chat?room=1"));
    CHECK(slice_is(o->actor_id, a->actor_id));
    const slice_t *h = header_of(&o->headers, "sec-websocket-protocol");
    CHECK(h && slice_is(*h, "rivet, rivet_conn_params.x"));
    h = header_of(&o->headers, "x-custom");
    CHECK(h && slice_is(*h, "7"));
    CHECK_EQ_INT(ws_index(&m), 0);
    uint8_t rid[4];
    memcpy(rid, rid_of(&m), 4);
    rp_to_runner_free(&m);

    /* What the client sends before the actor accepts waits in the socket. */
    settle();
    CHECK_EQ_INT(runner_count(&rt, RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_WEB_SOCKET_MESSAGE), 0);
    runner_ws_open(rid, 0);
    WAIT(runner_take_tunnel(&rt, RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_WEB_SOCKET_MESSAGE, &m));
    CHECK(slice_is(m.val.client_tunnel_message.message_kind.val.web_socket_message.data, "early"));
    CHECK_EQ_INT(ws_index(&m), 1);
    rp_to_runner_free(&m);

    /* Both ways, then the client's close reaches the actor with its code and reason. */
    runner_ws_message(rid, "hi");
    expect_text(c, "hi");
    buf_t b = BUF_INIT;
    wsf_append_close(&b, 1000, "bye", 3, mask_key);
    cli_send(c, b.data, b.len);
    buf_free(&b);
    WAIT(runner_take_tunnel(&rt, RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_WEB_SOCKET_CLOSE, &m));
    const rp_to_client_web_socket_close_t *cl =
        &m.val.client_tunnel_message.message_kind.val.web_socket_close;
    CHECK(cl->has_code && cl->code == 1000 && slice_is(cl->reason, "bye"));
    rp_to_runner_free(&m);
    expect_close(c, 1000, NULL);
    CHECK_EQ_INT(gw_in_flight(gw), 0);
    cli_close(c);

    /* The actor closes: the client gets its code and reason. */
    c = ws_ready(a, 0, rid);
    runner_ws_close(rid, 4000, "done", 0);
    expect_close(c, 4000, "done");
    CHECK_EQ_INT(gw_in_flight(gw), 0);
    cli_close(c);

    /* No open acknowledgement within the open timeout: 1011. */
    c = cli_ws(target, NULL);
    WAIT(runner_take_tunnel(&rt, RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_WEB_SOCKET_OPEN, &m));
    rp_to_runner_free(&m);
    advance(gcfg.timeouts.websocket_open_timeout_ms - 100);
    settle();
    CHECK_EQ_INT(c->in.len, 0);
    advance(200);
    expect_close(c, 1011, "guard.websocket_open_timeout#");
    WAIT(runner_take_tunnel(&rt, RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_WEB_SOCKET_CLOSE, &m));
    CHECK_EQ_INT(m.val.client_tunnel_message.message_kind.val.web_socket_close.code, 1011);
    rp_to_runner_free(&m);
    CHECK_EQ_INT(gw_in_flight(gw), 0);
    cli_close(c);

    /* The client vanishes without a close frame: the actor hears a normal close. */
    c = ws_ready(a, 0, rid);
    settle();
    cli_close(c);
    WAIT(runner_take_tunnel(&rt, RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_WEB_SOCKET_CLOSE, &m));
    CHECK_EQ_INT(m.val.client_tunnel_message.message_kind.val.web_socket_close.code, 1000);
    rp_to_runner_free(&m);
    CHECK_EQ_INT(gw_in_flight(gw), 0);
}

/* A WebSocket to an actor still waiting for a runner opens once one connects and starts it. */
static void test_ws_queued_start(void)
{
    eng_actor_t *a = actor_new("queued", "late");
    CHECK_EQ_INT(a->state, ENG_ACTOR_PENDING);
    char target[128];
    snprintf(target, sizeof target, "/a/%s/q", a->actor_id);
    cli_t *c = cli_ws(target, NULL);
    cli_ws_send(c, "first");
    advance(gcfg.ready_timeout_ms / 2);
    settle();
    runner_t late = { 0 };
    runner_connect(&late, "late", "late-1");
    rp_to_runner_t m;
    WAIT(runner_take(&late, RP_TO_RUNNER_CLIENT_COMMANDS, -1, &m));
    CHECK(m.val.client_commands.len == 1 &&
          m.val.client_commands.items[0].inner.tag == RP_COMMAND_START_ACTOR);
    rp_to_runner_free(&m);
    CHECK_EQ_INT(runner_count(&late, RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_WEB_SOCKET_OPEN), 0);
    actor_running(a);
    WAIT(runner_take_tunnel(&late, RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_WEB_SOCKET_OPEN, &m));
    uint8_t rid[4];
    memcpy(rid, rid_of(&m), 4);
    rp_to_runner_free(&m);
    runner_ws_open(rid, 0);
    WAIT(runner_take_tunnel(&late, RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_WEB_SOCKET_MESSAGE, &m));
    CHECK(slice_is(m.val.client_tunnel_message.message_kind.val.web_socket_message.data, "first"));
    rp_to_runner_free(&m);
    cli_close(c);
    WAIT(runner_take_tunnel(&late, RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_WEB_SOCKET_CLOSE, &m));
    rp_to_runner_free(&m);
    runner_free(&late);
}

static void test_ws_ping(void)
{
    eng_actor_t *a = actor_new("pinged", "pool");
    actor_running(a);
    met_series_t *rtt = histogram("gateway_tunnel_ping_duration");
    uint64_t observed = rtt->count;
    uint8_t rid[4];
    cli_t *c = ws_ready(a, 0, rid);
    settle();

    /* A ping every interval (plus up to 127 ms of jitter); each pong is measured. */
    int pings = rt.pings;
    advance(gcfg.timeouts.ping_interval_ms - 100);
    CHECK_EQ_INT(rt.pings, pings);
    advance(228);
    CHECK_EQ_INT(rt.pings, pings + 1);
    CHECK_EQ_INT(rtt->count, observed + 1);
    /* Answered pings keep the socket open well past the ping timeout. */
    advance(2 * gcfg.timeouts.ping_timeout_ms);
    settle();
    CHECK_EQ_INT(c->in.len, 0);
    CHECK(rt.pings >= pings + 20);

    /* Unanswered, the socket closes once no pong came for the ping timeout, at the first ping
     * after it. */
    rt.auto_pong = 0;
    advance(gcfg.timeouts.ping_timeout_ms - 3500);
    settle();
    CHECK_EQ_INT(c->in.len, 0);
    advance(3500 + gcfg.timeouts.ping_interval_ms + 128);
    expect_close(c, 1011, "guard.websocket_service_timeout#");
    rp_to_runner_t m;
    WAIT(runner_take_tunnel(&rt, RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_WEB_SOCKET_CLOSE, &m));
    CHECK(memcmp(rid_of(&m), rid, 4) == 0);
    CHECK_EQ_INT(m.val.client_tunnel_message.message_kind.val.web_socket_close.code, 1011);
    rp_to_runner_free(&m);
    CHECK_EQ_INT(gw_in_flight(gw), 0);
    rt.auto_pong = 1;
    cli_close(c);
}

/* Unacked messages of a hibernatable socket: the byte cap, the count cap, the ack timeout. */
static void test_ws_pending(void)
{
    eng_actor_t *a = actor_new("pending", "pool");
    actor_running(a);
    rp_to_runner_t m;
    uint8_t rid[4];

    /* Bytes: the message that would take the buffer over max_pending_bytes closes the socket. */
    gw_config_t small = gcfg;
    small.timeouts.max_pending_bytes = 4096;
    gw_set_config(gw, &small);
    cli_t *c = ws_ready(a, 1, rid);
    char msg[201];
    memset(msg, 'x', 200);
    msg[200] = '\0';
    for (int i = 0; i < 30; i++)
        cli_ws_send(c, msg);
    expect_close(c, 1011, "guard.websocket_pending_limit_reached#");
    /* A kept frame is 217 bytes (17 of encoding around the 200): 18 fit in 4096. */
    CHECK_EQ_INT(runner_count(&rt, RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_WEB_SOCKET_MESSAGE), 18);
    CHECK_EQ_INT(gw_in_flight(gw), 0);
    cli_close(c);
    runner_clear(&rt);

    /* Count: 65,535 unacked messages are kept; the next one closes. */
    small.timeouts.max_pending_bytes = 64 << 20;
    gw_set_config(gw, &small);
    c = ws_ready(a, 1, rid);
    buf_t batch = BUF_INIT;
    for (int i = 0; i < 65535; i++)
        wsf_append_frame(&batch, WSF_OP_TEXT, "m", 1, mask_key);
    cli_send(c, batch.data, batch.len);
    buf_free(&batch);
    WAIT(runner_count(&rt, RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_WEB_SOCKET_MESSAGE) == 65535);
    settle();
    CHECK_EQ_INT(c->in.len, 0);
    cli_ws_send(c, "one too many");
    expect_close(c, 1011, "guard.websocket_pending_limit_reached#");
    CHECK_EQ_INT(runner_count(&rt, RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_WEB_SOCKET_MESSAGE), 65535);
    cli_close(c);
    runner_clear(&rt);
    gw_set_config(gw, &gcfg);

    /* A message unacked for longer than the ack timeout closes the socket at the next GC pass;
     * pongs keep coming, so it is the ack that times out. */
    c = ws_ready(a, 1, rid);
    cli_ws_send(c, "unacked");
    WAIT(runner_take_tunnel(&rt, RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_WEB_SOCKET_MESSAGE, &m));
    rp_to_runner_free(&m);
    advance(gcfg.timeouts.ack_timeout_ms - 100);
    settle();
    CHECK_EQ_INT(c->in.len, 0);
    advance(gcfg.gc_interval_ms + 200);
    expect_close(c, 1011, "guard.websocket_service_timeout#");
    CHECK_EQ_INT(gw_in_flight(gw), 0);
    cli_close(c);

    /* Acked in time, the same socket stays. */
    c = ws_ready(a, 1, rid);
    cli_ws_send(c, "acked");
    WAIT(runner_take_tunnel(&rt, RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_WEB_SOCKET_MESSAGE, &m));
    runner_ws_ack(rid, ws_index(&m));
    rp_to_runner_free(&m);
    advance(gcfg.timeouts.ack_timeout_ms + 2 * gcfg.gc_interval_ms);
    settle();
    CHECK_EQ_INT(c->in.len, 0);
    cli_close(c);
    WAIT(runner_take_tunnel(&rt, RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_WEB_SOCKET_CLOSE, &m));
    rp_to_runner_free(&m);
    runner_clear(&rt);
}

/* Sends one text message of n bytes of c. */
static void cli_ws_send_n(cli_t *cl, size_t n, char c)
{
    char *text = malloc(n);
    CHECK(text != NULL);
    memset(text, c, n);
    buf_t frame = BUF_INIT;
    wsf_append_frame(&frame, WSF_OP_TEXT, text, n, mask_key);
    cli_send(cl, frame.data, frame.len);
    buf_free(&frame);
    free(text);
}

static double pending_gauge(void)
{
    return met_gauge("gateway_pending_bytes", NULL, NULL)->value;
}

/* A message as large as the transport accepts (1 MiB here) is kept on a hibernatable socket and
 * resent whole, with its index, when the socket re-enters; the gauge counts it until acked. */
static void test_ws_pending_large(void)
{
    eng_actor_t *a = actor_new("large", "pool");
    actor_running(a);
    uint8_t rid[4];
    cli_t *c = ws_ready(a, 1, rid);
    size_t n = limits.max_message_bytes;
    cli_ws_send_n(c, n, 'L');
    rp_to_runner_t m;
    WAIT(runner_take_tunnel(&rt, RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_WEB_SOCKET_MESSAGE, &m));
    CHECK_EQ_INT(ws_index(&m), 1);
    CHECK_EQ_INT(m.val.client_tunnel_message.message_kind.val.web_socket_message.data.len, n);
    rp_to_runner_free(&m);
    CHECK(pending_gauge() > (double)n);
    CHECK_EQ_INT(c->in.len, 0);
    /* The actor goes away unacked: the socket wakes it and resends the message. */
    runner_ws_close(rid, 0, NULL, 1);
    WAIT(runner_take_tunnel(&rt, RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_WEB_SOCKET_MESSAGE, &m));
    CHECK_EQ_INT(ws_index(&m), 1);
    const slice_t *d = &m.val.client_tunnel_message.message_kind.val.web_socket_message.data;
    CHECK_EQ_INT(d->len, n);
    CHECK(d->p[0] == 'L' && d->p[n - 1] == 'L');
    rp_to_runner_free(&m);
    runner_ws_ack(rid, 1);
    WAIT(pending_gauge() == 0);
    CHECK_EQ_INT(c->in.len, 0);
    cli_close(c);
    WAIT(gw_in_flight(gw) == 0);
    runner_clear(&rt);
}

/* The pending messages of every hibernatable socket count in limits.max_buffered_bytes with
 * the output queues: the message that would pass it closes its own socket with 1011
 * guard.websocket_pending_total_limit_reached, and the other sockets keep theirs. */
static void test_ws_pending_total(void)
{
    met_series_t *closes = counter("gateway_websocket_close_total",
                                   "reason=\"websocket_pending_total_limit_reached\"");
    double closed_before = closes->value;
    net_limits_t small = limits;
    small.max_buffered_bytes = 64 << 10;
    net_server_set_limits(srv, &small);
    eng_actor_t *a = actor_new("total", "pool");
    actor_running(a);
    uint8_t rid1[4], rid2[4];
    cli_t *c1 = ws_ready(a, 1, rid1);
    cli_t *c2 = ws_ready(a, 1, rid2);
    /* Each message is kept as its encoded frame, a little over 10,000 bytes: four on the first
     * socket and two on the second fit in 64 KiB, a third on the second does not. */
    for (int i = 0; i < 4; i++) {
        cli_ws_send_n(c1, 10000, 'a');
        WAIT(runner_count(&rt, RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_WEB_SOCKET_MESSAGE) ==
             (size_t)i + 1);
    }
    double first = pending_gauge();
    CHECK(first > 40000 && first < 41000);
    for (int i = 0; i < 2; i++) {
        cli_ws_send_n(c2, 10000, 'b');
        WAIT(runner_count(&rt, RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_WEB_SOCKET_MESSAGE) ==
             (size_t)i + 5);
    }
    CHECK(pending_gauge() > 60000);
    cli_ws_send_n(c2, 10000, 'b');
    expect_close(c2, 1011, "guard.websocket_pending_total_limit_reached#");
    CHECK_EQ_INT(runner_count(&rt, RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_WEB_SOCKET_MESSAGE), 6);
    CHECK(closes->value == closed_before + 1);
    /* The closed socket's messages leave the total; the first socket keeps its own. */
    WAIT(pending_gauge() == first);
    settle();
    CHECK_EQ_INT(c1->in.len, 0);
    /* Acked, they leave it too, and the first socket may send again. */
    runner_ws_ack(rid1, 4);
    WAIT(pending_gauge() == 0);
    runner_clear(&rt);
    cli_ws_send_n(c1, 10000, 'c');
    WAIT(runner_count(&rt, RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_WEB_SOCKET_MESSAGE) == 1);
    runner_ws_ack(rid1, 5);
    WAIT(pending_gauge() == 0);
    cli_close(c1);
    cli_close(c2);
    WAIT(gw_in_flight(gw) == 0);
    runner_clear(&rt);
    net_server_set_limits(srv, &limits);
}

/* Indices wrap at 65,536 and acks follow them across the wrap: after re-entry, exactly the
 * unacked messages are resent, with their original indices. */
static void test_ws_ack_wrap(void)
{
    eng_actor_t *a = actor_new("wrap", "pool");
    actor_running(a);
    uint8_t rid[4];
    cli_t *c = ws_ready(a, 1, rid);
    /* The open took index 0; messages 1..65,540 take 1..65,535, then 0..4. */
    int sent = 0;
    while (sent < 65540) {
        int n = 65540 - sent < 5000 ? 65540 - sent : 5000;
        buf_t batch = BUF_INIT;
        for (int i = 0; i < n; i++) {
            char text[16];
            int len = snprintf(text, sizeof text, "%d", sent + i + 1);
            wsf_append_frame(&batch, WSF_OP_TEXT, text, (size_t)len, mask_key);
        }
        cli_send(c, batch.data, batch.len);
        buf_free(&batch);
        sent += n;
        WAIT(runner_count(&rt, RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_WEB_SOCKET_MESSAGE) == (size_t)n);
        /* The runner acks all but the newest few of each batch. */
        rp_to_runner_t m;
        for (int i = 0; i < n; i++) {
            CHECK(runner_take_tunnel(&rt, RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_WEB_SOCKET_MESSAGE, &m));
            CHECK_EQ_INT(ws_index(&m), (uint16_t)(sent - n + i + 1));
            if (i == n - 3)
                runner_ws_ack(rid, ws_index(&m));
            rp_to_runner_free(&m);
        }
        runner_clear(&rt);
    }
    /* Unacked now: indices 3 and 4 (messages 65,539 and 65,540). The actor's side goes away
     * asking the socket to hibernate; with messages unacked the socket wakes it at once and
     * resends them. */
    runner_ws_close(rid, 0, NULL, 1);
    rp_to_runner_t m;
    WAIT(runner_count(&rt, RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_WEB_SOCKET_MESSAGE) == 2);
    CHECK(runner_take_tunnel(&rt, RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_WEB_SOCKET_MESSAGE, &m));
    CHECK_EQ_INT(ws_index(&m), 3);
    CHECK(slice_is(m.val.client_tunnel_message.message_kind.val.web_socket_message.data, "65539"));
    rp_to_runner_free(&m);
    CHECK(runner_take_tunnel(&rt, RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_WEB_SOCKET_MESSAGE, &m));
    CHECK_EQ_INT(ws_index(&m), 4);
    CHECK(slice_is(m.val.client_tunnel_message.message_kind.val.web_socket_message.data, "65540"));
    rp_to_runner_free(&m);
    CHECK_EQ_INT(runner_count(&rt, RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_WEB_SOCKET_OPEN), 0);
    /* The counter goes on where it was. */
    cli_ws_send(c, "next");
    WAIT(runner_take_tunnel(&rt, RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_WEB_SOCKET_MESSAGE, &m));
    CHECK_EQ_INT(ws_index(&m), 5);
    rp_to_runner_free(&m);
    CHECK_EQ_INT(c->in.len, 0);
    cli_close(c);
    WAIT(runner_take_tunnel(&rt, RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_WEB_SOCKET_CLOSE, &m));
    rp_to_runner_free(&m);
    runner_clear(&rt);
}

static size_t hib_rows;
static void on_hib_list(void *ud, int err, const store_hib_row_t *rows, size_t n)
{
    hib_rows = err ? (size_t)-1 : n;
    if (n == 1)
        memcpy(ud, rows[0].request_id, 4);
}

/* The same for gw_hib_rows, sett.hibernation's view of the rows. */
static void on_lh_rows(void *ud, const char *err, const lh_hib_row_t *rows, size_t n)
{
    hib_rows = err ? (size_t)-1 : n;
    if (n == 1)
        memcpy(ud, rows[0].request_id, 4);
}

/* The actor sleeps under a hibernatable socket: the client stays connected, its row stays in
 * the store, and its next message wakes the actor; the socket re-enters without a second open
 * and the message arrives with the next index. */
static void test_ws_hibernate(void)
{
    eng_actor_t *a = actor_new("sleeper", "pool");
    actor_running(a);
    uint8_t rid[4];
    cli_t *c = ws_ready(a, 1, rid);
    cli_ws_send(c, "before");
    rp_to_runner_t m;
    WAIT(runner_take_tunnel(&rt, RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_WEB_SOCKET_MESSAGE, &m));
    CHECK_EQ_INT(ws_index(&m), 1);
    runner_ws_ack(rid, 1);
    rp_to_runner_free(&m);
    uint8_t row_rid[4] = { 0 };
    hib_rows = 0;
    store_hib_list(store, a->actor_id, 0, on_hib_list, row_rid);
    WAIT(hib_rows == 1);
    CHECK(memcmp(row_rid, rid, 4) == 0);
    /* sett.hibernation's view: this gateway's count, and the store's rows within the threshold. */
    CHECK_EQ_INT(gw_hib_local(gw, a->actor_id), 1);
    CHECK_EQ_INT(gw_hib_local(gw, "nobody"), 0);
    hib_rows = 0;
    memset(row_rid, 0, 4);
    gw_hib_rows(gw, a->actor_id, on_lh_rows, row_rid);
    WAIT(hib_rows == 1);
    CHECK(memcmp(row_rid, rid, 4) == 0);

    /* The actor sleeps: no close reaches the client and nothing is pinged. */
    actor_sleep(a);
    CHECK_EQ_INT(a->state, ENG_ACTOR_SLEEPING);
    int pings = rt.pings;
    advance(3 * gcfg.timeouts.ping_interval_ms);
    settle();
    CHECK_EQ_INT(rt.pings, pings);
    CHECK_EQ_INT(c->in.len, 0);
    CHECK_EQ_INT(gw_in_flight(gw), 1);
    hib_rows = 0;
    store_hib_list(store, a->actor_id, 0, on_hib_list, row_rid);
    WAIT(hib_rows == 1);
    runner_clear(&rt);

    /* The client's message wakes it. */
    cli_ws_send(c, "wake up");
    WAIT(a->state == ENG_ACTOR_STARTING);
    WAIT(runner_take(&rt, RP_TO_RUNNER_CLIENT_COMMANDS, RP_COMMAND_START_ACTOR, &m));
    rp_to_runner_free(&m);
    actor_running(a);
    WAIT(runner_take_tunnel(&rt, RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_WEB_SOCKET_MESSAGE, &m));
    CHECK_EQ_INT(ws_index(&m), 2);
    CHECK(
        slice_is(m.val.client_tunnel_message.message_kind.val.web_socket_message.data, "wake up"));
    CHECK(memcmp(rid_of(&m), rid, 4) == 0);
    runner_ws_ack(rid, 2);
    rp_to_runner_free(&m);
    CHECK_EQ_INT(runner_count(&rt, RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_WEB_SOCKET_OPEN), 0);
    runner_ws_message(rid, "good morning");
    expect_text(c, "good morning");
    /* Pinged again. */
    advance(gcfg.timeouts.ping_interval_ms + 128);
    CHECK(rt.pings > pings);

    /* A client that leaves while its actor sleeps takes its row with it. */
    actor_sleep(a);
    settle();
    cli_close(c);
    WAIT(gw_in_flight(gw) == 0);
    CHECK_EQ_INT(gw_hib_local(gw, a->actor_id), 0);
    hib_rows = 1;
    store_hib_list(store, a->actor_id, 0, on_hib_list, row_rid);
    WAIT(hib_rows == 0);
    runner_clear(&rt);
}

/* Two sockets hibernate on one actor and one of them wakes it: the other re-enters too, without
 * a second open, so what the actor sends it (the runner restored it from the start's listing)
 * reaches its client before that client has said anything; also when the actor sends while it
 * is still starting. */
static void test_ws_hibernate_siblings(void)
{
    eng_actor_t *a = actor_new("siblings", "pool");
    actor_running(a);
    uint8_t rid1[4], rid2[4];
    cli_t *c1 = ws_ready(a, 1, rid1);
    cli_t *c2 = ws_ready(a, 1, rid2);
    rp_to_runner_t m;

    for (int early = 0; early < 2; early++) {
        actor_sleep(a);
        CHECK_EQ_INT(a->state, ENG_ACTOR_SLEEPING);
        settle();
        runner_clear(&rt);
        char text[32];
        snprintf(text, sizeof text, "wake %d", early);
        cli_ws_send(c1, text);
        WAIT(a->state == ENG_ACTOR_STARTING);
        WAIT(runner_take(&rt, RP_TO_RUNNER_CLIENT_COMMANDS, RP_COMMAND_START_ACTOR, &m));
        rp_to_runner_free(&m);
        if (early) {
            /* The actor speaks on the restored socket before it reports Running. */
            runner_ws_message(rid2, "early news");
            expect_text(c2, "early news");
            actor_running(a);
        } else {
            actor_running(a);
            settle();
            int pings = rt.pings;
            runner_ws_message(rid2, "news for two");
            expect_text(c2, "news for two");
            /* The sibling is pinged again without having sent anything. */
            advance(gcfg.timeouts.ping_interval_ms + 128);
            CHECK(rt.pings >= pings + 2);
        }
        WAIT(runner_take_tunnel(&rt, RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_WEB_SOCKET_MESSAGE, &m));
        CHECK(memcmp(rid_of(&m), rid1, 4) == 0);
        runner_ws_ack(rid1, ws_index(&m));
        rp_to_runner_free(&m);
        CHECK_EQ_INT(runner_count(&rt, RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_WEB_SOCKET_OPEN), 0);
    }
    CHECK_EQ_INT(gw_in_flight(gw), 2);
    cli_close(c1);
    cli_close(c2);
    WAIT(gw_in_flight(gw) == 0);
    runner_clear(&rt);
}

/* A hibernating socket whose wake cannot start the actor (its runner is away) keeps the
 * client and its messages, tries again, and delivers once the runner is back. */
static void test_ws_wake_retry(void)
{
    runner_t away = { 0 };
    runner_connect(&away, "away", "away-1");
    eng_actor_t *a = actor_new("retried", "away");
    actor_running(a);
    char target[128];
    snprintf(target, sizeof target, "/a/%s/r", a->actor_id);
    cli_t *c = cli_ws(target, NULL);
    rp_to_runner_t m;
    WAIT(runner_take_tunnel(&away, RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_WEB_SOCKET_OPEN, &m));
    uint8_t rid[4];
    memcpy(rid, rid_of(&m), 4);
    rp_to_runner_free(&m);
    runner_ws_open(rid, 1);
    actor_sleep(a);
    eng_runner_disconnected(eng, away.er);

    /* The wake waits the ready timeout for a runner, then tries again after a short pause. */
    cli_ws_send(c, "anyone?");
    settle();
    CHECK_EQ_INT(a->state, ENG_ACTOR_PENDING);
    advance(gcfg.ready_timeout_ms + 300);
    settle();
    CHECK_EQ_INT(c->in.len, 0);
    CHECK_EQ_INT(gw_in_flight(gw), 1);

    /* The runner comes back within its lost threshold: the actor starts and the message is
     * resent with its index, which only a wake begun after the first one timed out can do. */
    runner_connect(&away, "away", "away-1");
    WAIT(runner_take(&away, RP_TO_RUNNER_CLIENT_COMMANDS, -1, &m));
    rp_to_runner_free(&m);
    WAIT(a->state == ENG_ACTOR_STARTING);
    actor_running(a);
    WAIT(runner_take_tunnel(&away, RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_WEB_SOCKET_MESSAGE, &m));
    CHECK(
        slice_is(m.val.client_tunnel_message.message_kind.val.web_socket_message.data, "anyone?"));
    CHECK_EQ_INT(ws_index(&m), 1);
    rp_to_runner_free(&m);
    CHECK_EQ_INT(runner_count(&away, RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_WEB_SOCKET_OPEN), 0);
    runner_ws_message(rid, "here");
    expect_text(c, "here");
    cli_close(c);
    WAIT(runner_take_tunnel(&away, RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_WEB_SOCKET_CLOSE, &m));
    rp_to_runner_free(&m);
    runner_free(&away);
}

/* ---- Setup and teardown ---- */

static int shutdown_done;
static void on_shutdown_done(void *ud)
{
    shutdown_done = 1;
    net_server_destroy(srv);
}

static void on_store_closed(void *ud)
{
}

int main(void)
{
    log_setup(LOG_ERROR, 0);
    uv_loop_init(&loop);
    store = store_memory_new(&loop);
    bus = bus_new();
    eng_config_t ecfg = ENG_CONFIG_DEFAULT;
    eng = eng_new(&loop, store, bus, &ecfg);
    clk = eng_clock(eng);
    clk_set_manual(clk, 1000000);
    gw = gw_new(&loop, eng, bus, store, &gcfg);
    srv = net_server_new(&loop, &limits);
    gw_set_server(gw, srv);
    const char *err = NULL;
    for (int attempt = 0; attempt < 20; attempt++) {
        port = free_port();
        net_listen_opts_t o = {
            .name = "gw", .host = "127.0.0.1", .port = port, .on_request = on_request
        };
        if (net_listen(srv, &o, &err) == 0)
            break;
        port = 0;
    }
    CHECK(port != 0);
    runner_connect(&rt, "pool", "pool-1");

    test_http();
    test_http_deadlines();
    test_http_client_gone();
    test_ws_open();
    test_ws_queued_start();
    test_ws_ping();
    test_ws_pending();
    test_ws_pending_large();
    test_ws_pending_total();
    test_ws_ack_wrap();
    test_ws_hibernate();
    test_ws_hibernate_siblings();
    test_ws_wake_retry();

    while (nclis)
        cli_close(clis[0]);
    net_server_shutdown(srv, 1000, on_shutdown_done, NULL);
    WAIT(shutdown_done);
    gw_free(gw);
    runner_free(&rt);
    eng_free(eng);
    store_close(store, on_store_closed, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    net_server_finish(srv);
    uv_run(&loop, UV_RUN_DEFAULT);
    bus_free(bus);
    CHECK_EQ_INT(uv_loop_close(&loop), 0);
    return T_DONE();
}
