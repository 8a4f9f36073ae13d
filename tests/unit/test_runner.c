/* The runner half on a real engine, the local bus and the memory store, with runners played over
 * real WebSockets on 127.0.0.1 by a client on the same loop (sett's frame codec in client mode and
 * the generated protocol codec): the endpoint's checks, handshake and init, runner ping and pong
 * and the ping timeout, eviction, commands, events and their acks, KV requests, the start listing
 * of hibernating rows, a start held while the store is away (only that actor's frames wait), and
 * tunnel routing between the runner and the gateway subject.
 *
 * Timeouts are configured small instead of slept out; the loop runs until what a test waits for
 * has happened, with a deadline that only bounds a failure. */
#include "t.h"
#include "loop_server.h"
#include "redis_srv.h"

#include <stdlib.h>
#include <uv.h>

#include "bus/bus.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/metrics.h"
#include "engine/engine.h"
#include "engine/engine_runner.h"
#include "net/server.h"
#include "net/url.h"
#include "net/ws_frame.h"
#include "proto/bare.h"
#include "proto/rp_v7.h"
#include "runner/runner.h"
#include "store/store_memory.h"
#include "store/store_redis.h"

/* ---- One sett runner half: its engine, bus, stores and the listener's route ---- */

typedef struct world {
    bus_t *bus;
    store_t *store;    /* the engine's, in memory */
    store_t *rn_store; /* the runner half's: the same, or a Redis store */
    eng_t *eng;
    rn_t *rn;
} world_t;

static int port;
static world_t *current; /* the world the listener serves */

static void on_request(net_conn_t *c, hreq *req, void *ud)
{
    url_parts u;
    url_split((const char *)req->url.p, req->url.len, &u);
    if (!rn_handle(current->rn, c, req, &u))
        net_http_respond(c, 404, "text/plain", NULL, "none", 4);
}

static void world_open(world_t *w, store_t *rn_store, const rn_config_t *cfg)
{
    memset(w, 0, sizeof *w);
    w->bus = bus_new();
    w->store = store_memory_new(&loop);
    w->rn_store = rn_store ? rn_store : w->store;
    eng_config_t ec = ENG_CONFIG_DEFAULT;
    w->eng = eng_new(&loop, w->store, w->bus, &ec);
    w->rn = rn_new(&loop, w->eng, w->rn_store, w->bus, cfg);
    current = w;
}

static void on_store_closed(void *ud)
{
    (*(int *)ud)++;
}

/* Frees the world once its sockets are gone and waits until its stores have closed. */
static void world_close(world_t *w)
{
    rn_free(w->rn);
    eng_free(w->eng);
    int closed = 0, want = 1;
    if (w->rn_store != w->store) {
        store_close(w->rn_store, on_store_closed, &closed);
        want++;
    }
    store_close(w->store, on_store_closed, &closed);
    CHECK(RUN_UNTIL(closed == want, 3000));
    bus_free(w->bus);
}

static const rn_config_t cfg_small = {
    .token = NULL,
    .init_timeout_ms = 300,
    .ping_interval_ms = 20,
    .ping_timeout_ms = 600,
    .hib_eligible_ms = 90000,
};

/* ---- A runner played over a real WebSocket ---- */

typedef struct cl {
    uv_tcp_t tcp;
    uv_connect_t connect;
    buf_t in;
    wsf_conn ws;
    int status; /* the HTTP status of the upgrade answer, 0 until it came */
    int gone;   /* the TCP connection is closed */
    int handle_closed;
    int close_code; /* the server's close frame, 0 until one came */
    char close_reason[128];
    int auto_pong; /* answer ToClientPing at once */
    int pings;
    buf_t *msgs; /* every other ToClient message, as received */
    int *taken;
    size_t n, cap;
    char runner_id[64];
} cl_t;

static const uint8_t cl_mask[4] = { 0x37, 0xfa, 0x21, 0x3d };

typedef struct cl_write {
    uv_write_t req;
    buf_t b;
} cl_write_t;

static void cl_written(uv_write_t *w, int status)
{
    cl_write_t *cw = (cl_write_t *)w;
    buf_free(&cw->b);
    free(cw);
}

/* Writes b's bytes, which the call takes over. */
static void cl_write(cl_t *c, buf_t *b)
{
    if (c->gone) {
        buf_free(b);
        return;
    }
    cl_write_t *w = sx_calloc(1, sizeof *w);
    w->b = *b;
    *b = (buf_t)BUF_INIT;
    uv_buf_t ub = uv_buf_init((char *)w->b.data, (unsigned)w->b.len);
    uv_write(&w->req, (uv_stream_t *)&c->tcp, &ub, 1, cl_written);
}

static void cl_frame(cl_t *c, unsigned op, const void *p, size_t len)
{
    buf_t b = BUF_INIT;
    wsf_append_frame(&b, op, p, len, cl_mask);
    cl_write(c, &b);
}

static void cl_send(cl_t *c, const rp_to_server_t *m)
{
    buf_t e = BUF_INIT;
    rp_to_server_encode(&e, m);
    cl_frame(c, WSF_OP_BINARY, e.data, e.len);
    buf_free(&e);
}

static void cl_handle_closed(uv_handle_t *h)
{
    ((cl_t *)h->data)->handle_closed = 1;
}

static void cl_drop(cl_t *c)
{
    if (c->gone)
        return;
    c->gone = 1;
    uv_close((uv_handle_t *)&c->tcp, cl_handle_closed);
}

static void cl_message(cl_t *c, const uint8_t *p, size_t len)
{
    if (c->auto_pong && len && p[0] == RP_TO_CLIENT_PING) {
        rp_to_client_t m;
        bare_err_t err;
        if (rp_to_client_decode(p, len, &m, &err) == BARE_OK) {
            rp_to_server_t pong;
            memset(&pong, 0, sizeof pong);
            pong.tag = RP_TO_SERVER_PONG;
            pong.val.pong.ts = m.val.ping.ts;
            cl_send(c, &pong);
            rp_to_client_free(&m);
            c->pings++;
            return;
        }
    }
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 16;
        c->msgs = sx_realloc(c->msgs, c->cap * sizeof *c->msgs);
        c->taken = sx_realloc(c->taken, c->cap * sizeof *c->taken);
    }
    buf_init(&c->msgs[c->n]);
    buf_append(&c->msgs[c->n], p, len);
    c->taken[c->n] = 0;
    c->n++;
}

static void cl_alloc(uv_handle_t *h, size_t hint, uv_buf_t *out)
{
    cl_t *c = h->data;
    uint8_t *p = buf_reserve(&c->in, 65536);
    *out = uv_buf_init((char *)p, 65536);
}

static void cl_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    cl_t *c = s->data;
    if (nread < 0) {
        cl_drop(c);
        return;
    }
    c->in.len += (size_t)nread;
    if (!c->status) {
        uint8_t *end = c->in.len ? memmem(c->in.data, c->in.len, "\r\n\r\n", 4) : NULL;
        if (!end)
            return;
        sscanf((const char *)c->in.data, "HTTP/1.1 %d", &c->status);
        if (c->status != 101)
            return; /* the answer stays in c->in for the test to read */
        buf_consume(&c->in, (size_t)(end + 4 - c->in.data));
    }
    if (c->status != 101)
        return;
    for (;;) {
        size_t used = 0;
        wsf_event ev;
        int r = wsf_feed(&c->ws, c->in.data, c->in.len, &used, &ev);
        if (r == WSF_OK && (ev.type == WSF_EV_BINARY || ev.type == WSF_EV_TEXT)) {
            cl_message(c, ev.data, ev.len);
        } else if (r == WSF_OK && ev.type == WSF_EV_PING) {
            buf_t f = BUF_INIT;
            wsf_append_frame(&f, WSF_OP_PONG, ev.data, ev.len, cl_mask);
            cl_write(c, &f);
        } else if (r == WSF_OK && ev.type == WSF_EV_CLOSE) {
            c->close_code = ev.code;
            snprintf(c->close_reason, sizeof c->close_reason, "%.*s", (int)ev.len,
                     (const char *)ev.data);
            buf_t f = BUF_INIT;
            wsf_append_close(&f, ev.code, NULL, 0, cl_mask);
            cl_write(c, &f);
        }
        buf_consume(&c->in, used);
        if (r != WSF_OK)
            break;
    }
}

static void cl_connected(uv_connect_t *req, int status)
{
    cl_t *c = req->data;
    if (status != 0) {
        cl_drop(c);
        return;
    }
    uv_read_start((uv_stream_t *)&c->tcp, cl_alloc, cl_read);
}

/* Connects and sends the request head: an upgrade to target with the given subprotocols, or a
 * plain GET when protos is NULL. */
static void cl_open(cl_t *c, const char *target, const char *protos)
{
    memset(c, 0, sizeof *c);
    c->auto_pong = 1;
    wsf_conn_init(&c->ws, WSF_ROLE_CLIENT, 0);
    uv_tcp_init(&loop, &c->tcp);
    c->tcp.data = c;
    c->connect.data = c;
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", port, &a);
    uv_tcp_connect(&c->connect, &c->tcp, (const struct sockaddr *)&a, cl_connected);
    buf_t b = BUF_INIT;
    buf_printf(&b, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n", target);
    if (protos)
        buf_printf(&b,
                   "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                   "Sec-WebSocket-Protocol: %s\r\n",
                   protos);
    buf_append_str(&b, "\r\n");
    /* A write queued before the connect completes goes once it has. */
    cl_write(c, &b);
}

static void cl_free(cl_t *c)
{
    cl_drop(c);
    RUN_UNTIL(c->handle_closed, 2000);
    for (size_t i = 0; i < c->n; i++)
        buf_free(&c->msgs[i]);
    free(c->msgs);
    free(c->taken);
    buf_free(&c->in);
    wsf_conn_free(&c->ws);
}

/* Finds the first message with this tag not taken yet. */
static int cl_find(cl_t *c, int tag)
{
    for (size_t i = 0; i < c->n; i++)
        if (!c->taken[i] && c->msgs[i].len && c->msgs[i].data[0] == tag)
            return (int)i;
    return -1;
}

/* Waits for the first message with this tag not taken yet, takes it and decodes it into *m (free
 * with rp_to_client_free); returns its arrival position, or -1 when none came in ms. */
static int cl_take(cl_t *c, int tag, rp_to_client_t *m, int ms)
{
    memset(m, 0, sizeof *m);
    if (!RUN_UNTIL(cl_find(c, tag) >= 0, ms))
        return -1;
    int i = cl_find(c, tag);
    c->taken[i] = 1;
    bare_err_t err;
    if (rp_to_client_decode(c->msgs[i].data, c->msgs[i].len, m, &err) != BARE_OK) {
        fprintf(stderr, "test_runner: a ToClient message does not decode\n");
        memset(m, 0, sizeof *m);
        return -1;
    }
    return i;
}

static void cl_init(cl_t *c, const char *name, uint32_t slots)
{
    rp_to_server_t m;
    memset(&m, 0, sizeof m);
    m.tag = RP_TO_SERVER_INIT;
    m.val.init.name = (slice_t){ (const uint8_t *)name, strlen(name) };
    m.val.init.version = 1;
    m.val.init.total_slots = slots;
    cl_send(c, &m);
}

#define CONNECT_PATH "/runners/connect?protocol_version=7&namespace=default&runner_key="

/* Connects a runner with this key and name and completes the handshake; false when it failed. */
static bool cl_runner(cl_t *c, const char *key, const char *name)
{
    char target[256];
    snprintf(target, sizeof target, CONNECT_PATH "%s", key);
    cl_open(c, target, "rivet");
    if (!RUN_UNTIL(c->status != 0 || c->gone, 3000) || c->status != 101)
        return false;
    cl_init(c, name, 10);
    rp_to_client_t m;
    if (cl_take(c, RP_TO_CLIENT_INIT, &m, 3000) < 0)
        return false;
    snprintf(c->runner_id, sizeof c->runner_id, "%.*s", (int)m.val.init.runner_id.len,
             (const char *)m.val.init.runner_id.p);
    rp_to_client_free(&m);
    return true;
}

/* Closes from the client's side and waits until the runner half has let the socket go. */
static void cl_close(cl_t *c, world_t *w)
{
    buf_t f = BUF_INIT;
    wsf_append_close(&f, 1000, "bye", 3, cl_mask);
    cl_write(c, &f);
    size_t before = rn_count(w->rn);
    RUN_UNTIL(c->gone || rn_count(w->rn) < before, 3000);
    cl_free(c);
}

static void cl_event(cl_t *c, const char *actor_id, uint32_t gen, int64_t idx, int running)
{
    rp_event_wrapper_t ev;
    memset(&ev, 0, sizeof ev);
    ev.checkpoint.actor_id = (rp_id_t){ (const uint8_t *)actor_id, strlen(actor_id) };
    ev.checkpoint.generation = gen;
    ev.checkpoint.index = idx;
    ev.inner.tag = RP_EVENT_ACTOR_STATE_UPDATE;
    if (running) {
        ev.inner.val.actor_state_update.state.tag = RP_ACTOR_STATE_RUNNING;
    } else {
        ev.inner.val.actor_state_update.state.tag = RP_ACTOR_STATE_STOPPED;
        ev.inner.val.actor_state_update.state.val.stopped.code = RP_STOP_CODE_OK;
    }
    rp_to_server_t m;
    memset(&m, 0, sizeof m);
    m.tag = RP_TO_SERVER_EVENTS;
    m.val.events.items = &ev;
    m.val.events.len = 1;
    cl_send(c, &m);
}

static bool id_is(rp_id_t id, const char *want)
{
    return id.len == strlen(want) && memcmp(id.p, want, id.len) == 0;
}

static bool prefix_is(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static double counter(const char *name)
{
    return met_counter(name, "", NULL)->value;
}

static eng_actor_t *create(world_t *w, const char *name, const char *runner)
{
    eng_actor_spec_t spec = { .namespace_name = "default",
                              .name = name,
                              .runner_name_selector = runner,
                              .crash_policy = STORE_CRASH_DESTROY };
    eng_actor_t *a = NULL;
    eng_error_t err;
    CHECK(eng_actor_create(w->eng, &spec, &a, &err) == 0);
    return a;
}

/* Takes the next commands frame and checks it is one command of this kind for the actor, with
 * this index; returns its arrival position or -1. */
static int take_command(cl_t *c, const char *actor_id, int tag, int64_t index)
{
    rp_to_client_t m;
    int at = cl_take(c, RP_TO_CLIENT_COMMANDS, &m, 3000);
    CHECK(at >= 0);
    if (at < 0)
        return -1;
    CHECK_EQ_INT(m.val.commands.len, 1);
    if (m.val.commands.len == 1) {
        rp_command_wrapper_t *w = &m.val.commands.items[0];
        CHECK(id_is(w->checkpoint.actor_id, actor_id));
        CHECK_EQ_INT(w->inner.tag, tag);
        CHECK_EQ_INT(w->checkpoint.index, index);
    }
    rp_to_client_free(&m);
    return at;
}

/* ---- The endpoint's checks ---- */

static void expect_http(const char *target, const char *protos, int status, const char *text)
{
    cl_t c;
    cl_open(&c, target, protos);
    CHECK(RUN_UNTIL(c.status != 0 && memmem(c.in.data, c.in.len, text, strlen(text)), 3000));
    CHECK_EQ_INT(c.status, status);
    cl_free(&c);
}

static void test_endpoint(world_t *w)
{
    expect_http("/runners/connect", NULL, 200, "pegboard-runner WebSocket endpoint");
    expect_http("/runners/connect?namespace=default&runner_key=k", "rivet", 400, "ws");
    expect_http("/runners/connect?protocol_version=6&namespace=default&runner_key=k", "rivet", 400,
                "unsupported_protocol_version");
    expect_http("/runners/connect?protocol_version=7&namespace=nope&runner_key=k", "rivet", 404,
                "namespace");
    expect_http("/runners/elsewhere", NULL, 404, "none");
    CHECK_EQ_INT(rn_count(w->rn), 0);
}

/* ---- Handshake, init, pings ---- */

static void test_handshake(world_t *w)
{
    cl_t c;
    CHECK(cl_runner(&c, "hs", "pool"));
    CHECK_EQ_INT(rn_count(w->rn), 1);
    eng_runner_t *r = eng_runner_get(w->eng, c.runner_id);
    CHECK(r != NULL);
    if (r) {
        CHECK(r->connected);
        CHECK(strcmp(r->name, "pool") == 0);
        CHECK_EQ_INT(r->total_slots, 10);
    }
    /* The runner is pinged and its pongs count: the engine sees a fresh ping. */
    int64_t before = r ? r->last_ping_ts : 0;
    CHECK(RUN_UNTIL(c.pings >= 3, 3000));
    CHECK(r && r->last_ping_ts >= before);
    /* A second Init is ignored; the socket stays. */
    cl_init(&c, "pool", 10);
    int pings = c.pings;
    CHECK(RUN_UNTIL(c.pings > pings, 3000));
    CHECK_EQ_INT(c.close_code, 0);
    cl_close(&c, w);
    CHECK_EQ_INT(rn_count(w->rn), 0);
    CHECK(r && !r->connected);
}

static void test_init_timeout(world_t *w)
{
    cl_t c;
    cl_open(&c, CONNECT_PATH "late", "rivet");
    CHECK(RUN_UNTIL(c.close_code != 0, 3000));
    CHECK_EQ_INT(c.close_code, 1011);
    CHECK(prefix_is(c.close_reason, "ws.timed_out_waiting_for_init#"));
    cl_free(&c);
}

static void test_invalid_packets(world_t *w)
{
    double invalid = counter("sett_runner_invalid_packets_total");
    cl_t c;
    cl_open(&c, CONNECT_PATH "bad1", "rivet");
    CHECK(RUN_UNTIL(c.status == 101, 3000));
    rp_to_server_t m;
    memset(&m, 0, sizeof m);
    m.tag = RP_TO_SERVER_STOPPING;
    cl_send(&c, &m); /* a first frame that is not Init */
    CHECK(RUN_UNTIL(c.close_code != 0, 3000));
    CHECK_EQ_INT(c.close_code, 1011);
    CHECK(prefix_is(c.close_reason, "ws.invalid_packet#"));
    cl_free(&c);

    CHECK(cl_runner(&c, "bad2", "pool"));
    eng_runner_t *r = eng_runner_get(w->eng, c.runner_id);
    static const uint8_t junk[] = { 0x47, 0x01, 0x02 };
    cl_frame(&c, WSF_OP_BINARY, junk, sizeof junk);
    CHECK(RUN_UNTIL(c.close_code != 0, 3000));
    CHECK_EQ_INT(c.close_code, 1011);
    CHECK(prefix_is(c.close_reason, "ws.invalid_packet#"));
    CHECK(r && !r->connected);
    CHECK(counter("sett_runner_invalid_packets_total") == invalid + 2);
    cl_free(&c);
}

static void test_ping_timeout(world_t *w)
{
    double timeouts = counter("sett_runner_ping_timeouts_total");
    cl_t c;
    CHECK(cl_runner(&c, "silent", "pool"));
    eng_runner_t *r = eng_runner_get(w->eng, c.runner_id);
    c.auto_pong = 0;
    CHECK(RUN_UNTIL(c.close_code != 0, 5000));
    CHECK_EQ_INT(c.close_code, 1011);
    CHECK(prefix_is(c.close_reason, "ws.ping_timed_out#"));
    /* The pings it did not answer arrived. */
    rp_to_client_t m;
    CHECK(cl_take(&c, RP_TO_CLIENT_PING, &m, 0) >= 0);
    rp_to_client_free(&m);
    CHECK(r && !r->connected);
    CHECK(counter("sett_runner_ping_timeouts_total") == timeouts + 1);
    cl_free(&c);
}

static void test_eviction(world_t *w)
{
    double evictions = counter("sett_runner_evictions_total");
    cl_t a, b;
    CHECK(cl_runner(&a, "twice", "pool"));
    CHECK(cl_runner(&b, "twice", "pool"));
    /* The newer socket keeps the runner and its id; the older one is told not to reconnect. */
    CHECK(strcmp(a.runner_id, b.runner_id) == 0);
    CHECK(RUN_UNTIL(a.close_code != 0, 3000));
    CHECK_EQ_INT(a.close_code, 1000);
    CHECK(prefix_is(a.close_reason, "ws.eviction#"));
    CHECK(RUN_UNTIL(a.gone, 3000));
    eng_runner_t *r = eng_runner_get(w->eng, b.runner_id);
    CHECK(r && r->connected);
    CHECK(counter("sett_runner_evictions_total") == evictions + 1);
    CHECK_EQ_INT(rn_count(w->rn), 1);
    cl_free(&a);
    cl_close(&b, w);
}

/* ---- Commands, events, KV ---- */

/* Starts an actor on the runner: its start arrives, the runner says Running. */
static eng_actor_t *start_actor(world_t *w, cl_t *c, const char *name, const char *runner)
{
    eng_actor_t *a = create(w, name, runner);
    if (!a)
        return NULL;
    char *id = sx_strdup(a->actor_id);
    take_command(c, id, RP_COMMAND_START_ACTOR, 0);
    cl_event(c, id, a->generation, 0, 1);
    CHECK(RUN_UNTIL(a->state == ENG_ACTOR_RUNNING, 3000));
    free(id);
    return a;
}

static void test_commands_events(world_t *w)
{
    cl_t c;
    CHECK(cl_runner(&c, "cmds", "pool"));
    eng_actor_t *a = start_actor(w, &c, "counter", "pool");
    if (!a) {
        cl_close(&c, w);
        return;
    }
    char id[64];
    snprintf(id, sizeof id, "%s", a->actor_id);
    /* The Running event is acked back with its checkpoint. */
    rp_to_client_t m;
    CHECK(cl_take(&c, RP_TO_CLIENT_ACK_EVENTS, &m, 3000) >= 0);
    CHECK_EQ_INT(m.val.ack_events.last_event_checkpoints.len, 1);
    if (m.val.ack_events.last_event_checkpoints.len == 1) {
        CHECK(id_is(m.val.ack_events.last_event_checkpoints.items[0].actor_id, id));
        CHECK_EQ_INT(m.val.ack_events.last_event_checkpoints.items[0].index, 0);
    }
    rp_to_client_free(&m);

    /* The runner acks the start; a destroy sends the stop with the next index. */
    rp_actor_checkpoint_t cp = { (rp_id_t){ (const uint8_t *)id, strlen(id) }, a->generation, 0 };
    rp_to_server_t ack;
    memset(&ack, 0, sizeof ack);
    ack.tag = RP_TO_SERVER_ACK_COMMANDS;
    ack.val.ack_commands.last_command_checkpoints.items = &cp;
    ack.val.ack_commands.last_command_checkpoints.len = 1;
    cl_send(&c, &ack);
    eng_actor_destroy(w->eng, a);
    take_command(&c, id, RP_COMMAND_STOP_ACTOR, 1);
    cl_event(&c, id, cp.generation, 1, 0);
    CHECK(RUN_UNTIL(a->state == ENG_ACTOR_DESTROYED, 3000));

    /* Stopping: every actor on the runner is stopped. */
    eng_actor_t *b = start_actor(w, &c, "other", "pool");
    rp_to_server_t stopping;
    memset(&stopping, 0, sizeof stopping);
    stopping.tag = RP_TO_SERVER_STOPPING;
    cl_send(&c, &stopping);
    if (b)
        take_command(&c, b->actor_id, RP_COMMAND_STOP_ACTOR, 1);
    cl_close(&c, w);
}

/* Sends one KV request and waits for its answer. */
static bool kv(cl_t *c, const char *actor_id, uint32_t request_id, const rp_kv_request_data_t *d,
               rp_to_client_t *out)
{
    rp_to_server_t m;
    memset(&m, 0, sizeof m);
    m.tag = RP_TO_SERVER_KV_REQUEST;
    m.val.kv_request.actor_id = (rp_id_t){ (const uint8_t *)actor_id, strlen(actor_id) };
    m.val.kv_request.request_id = request_id;
    m.val.kv_request.data = *d;
    cl_send(c, &m);
    if (cl_take(c, RP_TO_CLIENT_KV_RESPONSE, out, 3000) < 0)
        return false;
    CHECK_EQ_INT(out->val.kv_response.request_id, request_id);
    return true;
}

static bool kv_error_is(const rp_to_client_t *m, const char *want)
{
    const rp_kv_response_data_t *d = &m->val.kv_response.data;
    return d->tag == RP_KV_RESPONSE_DATA_ERROR_RESPONSE &&
           d->val.error_response.message.len == strlen(want) &&
           memcmp(d->val.error_response.message.p, want, strlen(want)) == 0;
}

#define D(s) ((slice_t){ (const uint8_t *)(s), sizeof(s) - 1 })

static void test_kv(world_t *w)
{
    cl_t c, other;
    CHECK(cl_runner(&c, "kv", "pool"));
    CHECK(cl_runner(&other, "kv-other", "elsewhere"));
    eng_actor_t *a = start_actor(w, &c, "kv", "pool");
    eng_actor_t *b = start_actor(w, &other, "kv-b", "elsewhere");
    if (!a || !b) {
        cl_close(&c, w);
        cl_close(&other, w);
        return;
    }
    char id[64];
    snprintf(id, sizeof id, "%s", a->actor_id);
    rp_to_client_t m;
    rp_kv_request_data_t d;

    slice_t keys[] = { D("a"), D("b"), D("c") };
    slice_t vals[] = { D("1"), D("2"), D("3") };
    memset(&d, 0, sizeof d);
    d.tag = RP_KV_REQUEST_DATA_PUT_REQUEST;
    d.val.put_request.keys = (rp_list_kv_key_t){ keys, 3 };
    d.val.put_request.values = (rp_list_kv_value_t){ vals, 3 };
    CHECK(kv(&c, id, 1, &d, &m));
    CHECK_EQ_INT(m.val.kv_response.data.tag, RP_KV_RESPONSE_DATA_PUT_RESPONSE);
    rp_to_client_free(&m);

    /* A missing key is left out of the answer. */
    slice_t get[] = { D("b"), D("zz") };
    memset(&d, 0, sizeof d);
    d.tag = RP_KV_REQUEST_DATA_GET_REQUEST;
    d.val.get_request.keys = (rp_list_kv_key_t){ get, 2 };
    CHECK(kv(&c, id, 2, &d, &m));
    CHECK_EQ_INT(m.val.kv_response.data.tag, RP_KV_RESPONSE_DATA_GET_RESPONSE);
    if (m.val.kv_response.data.tag == RP_KV_RESPONSE_DATA_GET_RESPONSE) {
        const rp_kv_get_response_t *g = &m.val.kv_response.data.val.get_response;
        CHECK_EQ_INT(g->keys.len, 1);
        CHECK(g->keys.len == 1 && g->values.len == 1 && g->metadata.len == 1 &&
              g->values.items[0].len == 1 && g->values.items[0].p[0] == '2');
    }
    rp_to_client_free(&m);

    /* A reversed range list, limited to two. */
    memset(&d, 0, sizeof d);
    d.tag = RP_KV_REQUEST_DATA_LIST_REQUEST;
    d.val.list_request.query.tag = RP_KV_LIST_QUERY_RANGE_QUERY;
    d.val.list_request.query.val.range_query.start = D("a");
    d.val.list_request.query.val.range_query.end = D("c");
    d.val.list_request.has_reverse = d.val.list_request.reverse = true;
    d.val.list_request.has_limit = true;
    d.val.list_request.limit = 2;
    CHECK(kv(&c, id, 3, &d, &m));
    CHECK_EQ_INT(m.val.kv_response.data.tag, RP_KV_RESPONSE_DATA_LIST_RESPONSE);
    if (m.val.kv_response.data.tag == RP_KV_RESPONSE_DATA_LIST_RESPONSE) {
        const rp_kv_list_response_t *l = &m.val.kv_response.data.val.list_response;
        CHECK_EQ_INT(l->keys.len, 2);
        CHECK(l->keys.len == 2 && l->keys.items[0].p[0] == 'c' && l->keys.items[1].p[0] == 'b');
    }
    rp_to_client_free(&m);

    memset(&d, 0, sizeof d);
    d.tag = RP_KV_REQUEST_DATA_DELETE_REQUEST;
    d.val.delete_request.keys = (rp_list_kv_key_t){ keys, 1 };
    CHECK(kv(&c, id, 4, &d, &m));
    CHECK_EQ_INT(m.val.kv_response.data.tag, RP_KV_RESPONSE_DATA_DELETE_RESPONSE);
    rp_to_client_free(&m);

    memset(&d, 0, sizeof d);
    d.tag = RP_KV_REQUEST_DATA_DELETE_RANGE_REQUEST;
    d.val.delete_range_request.start = D("b");
    d.val.delete_range_request.end = D("c");
    CHECK(kv(&c, id, 5, &d, &m));
    CHECK_EQ_INT(m.val.kv_response.data.tag, RP_KV_RESPONSE_DATA_DELETE_RESPONSE);
    rp_to_client_free(&m);

    /* Prefix list: only "c" is left. */
    memset(&d, 0, sizeof d);
    d.tag = RP_KV_REQUEST_DATA_LIST_REQUEST;
    d.val.list_request.query.tag = RP_KV_LIST_QUERY_PREFIX_QUERY;
    d.val.list_request.query.val.prefix_query.key = D("");
    CHECK(kv(&c, id, 6, &d, &m));
    CHECK(m.val.kv_response.data.tag == RP_KV_RESPONSE_DATA_LIST_RESPONSE &&
          m.val.kv_response.data.val.list_response.keys.len == 1);
    rp_to_client_free(&m);

    memset(&d, 0, sizeof d);
    d.tag = RP_KV_REQUEST_DATA_DROP_REQUEST;
    CHECK(kv(&c, id, 7, &d, &m));
    CHECK_EQ_INT(m.val.kv_response.data.tag, RP_KV_RESPONSE_DATA_DROP_RESPONSE);
    rp_to_client_free(&m);
    memset(&d, 0, sizeof d);
    d.tag = RP_KV_REQUEST_DATA_LIST_REQUEST;
    CHECK(kv(&c, id, 8, &d, &m));
    CHECK(m.val.kv_response.data.tag == RP_KV_RESPONSE_DATA_LIST_RESPONSE &&
          m.val.kv_response.data.val.list_response.keys.len == 0);
    rp_to_client_free(&m);

    /* The store's limits answer as errors, and so do actors that are not this runner's. */
    memset(&d, 0, sizeof d);
    d.tag = RP_KV_REQUEST_DATA_PUT_REQUEST;
    d.val.put_request.keys = (rp_list_kv_key_t){ keys, 2 };
    d.val.put_request.values = (rp_list_kv_value_t){ vals, 1 };
    CHECK(kv(&c, id, 9, &d, &m));
    CHECK_EQ_INT(m.val.kv_response.data.tag, RP_KV_RESPONSE_DATA_ERROR_RESPONSE);
    rp_to_client_free(&m);
    memset(&d, 0, sizeof d);
    d.tag = RP_KV_REQUEST_DATA_DROP_REQUEST;
    CHECK(kv(&c, b->actor_id, 10, &d, &m));
    CHECK(kv_error_is(&m, "actor does not belong to runner"));
    rp_to_client_free(&m);
    CHECK(kv(&c, "no-such-actor", 11, &d, &m));
    CHECK(kv_error_is(&m, "actor does not exist"));
    rp_to_client_free(&m);

    /* Destroyed while its runner still runs it (the stop is out, its Stopped is not in): its
     * KV was dropped, and a write the stopping actor makes (a last state save) is refused
     * rather than left behind. */
    eng_actor_destroy(w->eng, a);
    CHECK_EQ_INT(a->state, ENG_ACTOR_DESTROYED);
    take_command(&c, id, RP_COMMAND_STOP_ACTOR, 1);
    memset(&d, 0, sizeof d);
    d.tag = RP_KV_REQUEST_DATA_PUT_REQUEST;
    d.val.put_request.keys = (rp_list_kv_key_t){ keys, 1 };
    d.val.put_request.values = (rp_list_kv_value_t){ vals, 1 };
    CHECK(kv(&c, id, 12, &d, &m));
    CHECK(kv_error_is(&m, "actor does not exist"));
    rp_to_client_free(&m);

    cl_close(&c, w);
    cl_close(&other, w);
}

/* ---- Starts and the store ---- */

/* A start carries the actor's hibernating requests whose keepalive rows are recent enough. */
static void test_start_listing(world_t *w)
{
    /* Created while no runner of its name is connected, the actor waits, so its rows can be
     * written before it starts. */
    eng_actor_t *a = create(w, "sleeper", "rows");
    if (!a)
        return;
    char id[64];
    snprintf(id, sizeof id, "%s", a->actor_id);
    int64_t now = eng_now_ms(w->eng);
    store_hib_row_t rows[] = {
        { id, { 1, 2, 3, 4 }, { 9, 9, 9, 1 }, now - 1000 },
        { id, { 1, 2, 3, 4 }, { 9, 9, 9, 2 }, now - 10 },
        { id, { 5, 6, 7, 8 }, { 9, 9, 9, 3 }, now - 200000 }, /* older than hib_eligible_ms */
        { "someone-else", { 5, 6, 7, 8 }, { 9, 9, 9, 4 }, now },
    };
    /* The store applies operations in order, so the rows are there before the start lists. */
    store_hib_upsert(w->store, rows, 4, 3600000, NULL, NULL);
    cl_t c;
    CHECK(cl_runner(&c, "rows", "rows"));
    rp_to_client_t m;
    CHECK(cl_take(&c, RP_TO_CLIENT_COMMANDS, &m, 3000) >= 0);
    CHECK_EQ_INT(m.val.commands.len, 1);
    if (m.val.commands.len == 1) {
        const rp_command_wrapper_t *cw = &m.val.commands.items[0];
        CHECK(id_is(cw->checkpoint.actor_id, id));
        CHECK_EQ_INT(cw->inner.tag, RP_COMMAND_START_ACTOR);
        const rp_list_hibernating_request_t *h = &cw->inner.val.start_actor.hibernating_requests;
        CHECK_EQ_INT(h->len, 2);
        if (h->len == 2) {
            /* Ordered by keepalive time, oldest first. */
            CHECK_MEM(h->items[0].gateway_id, "\1\2\3\4", 4);
            CHECK_MEM(h->items[0].request_id, "\x09\x09\x09\x01", 4);
            CHECK_MEM(h->items[1].request_id, "\x09\x09\x09\x02", 4);
        }
    }
    rp_to_client_free(&m);
    cl_close(&c, w);
}

/* The runner half lists rows from a Redis store that goes away while an actor starts: that
 * start and its actor's later commands wait, in order, until the store is back, while the other
 * actors' commands, tunnel messages and tunnel pings go on. */
static uint8_t gw_frames[4][256];
static size_t gw_lens[4];
static int gw_count;

static void on_gateway(void *ud, const char *subject, const uint8_t *f, size_t n)
{
    if (gw_count < 4 && n <= sizeof gw_frames[0]) {
        memcpy(gw_frames[gw_count], f, n);
        gw_lens[gw_count] = n;
    }
    gw_count++;
}

static void publish_to_runner(world_t *w, const char *runner_id, const rp_to_runner_t *m)
{
    char subj[96];
    snprintf(subj, sizeof subj, "pegboard.runner.%s", runner_id);
    buf_t b = BUF_INIT;
    rp_to_runner_encode_versioned(&b, m);
    bus_publish(w->bus, subj, b.data, b.len);
    buf_free(&b);
}

/* One published frame with a start for one actor and a stop for another: the stop passes the
 * start, which waits for its listing, and both keep the checkpoints they were published with.
 * Rows the publisher put in the start are replaced by the store's (none here). */
static void test_commands_split(world_t *w)
{
    cl_t c;
    CHECK(cl_runner(&c, "split", "pool"));
    rp_hibernating_request_t junk = { { 1, 1, 1, 1 }, { 2, 2, 2, 2 } };
    rp_command_wrapper_t cmds[2];
    memset(cmds, 0, sizeof cmds);
    cmds[0].checkpoint = (rp_actor_checkpoint_t){ slice_cstr("held"), 3, 5 };
    cmds[0].inner.tag = RP_COMMAND_START_ACTOR;
    cmds[0].inner.val.start_actor.config.name = slice_cstr("n");
    cmds[0].inner.val.start_actor.hibernating_requests.items = &junk;
    cmds[0].inner.val.start_actor.hibernating_requests.len = 1;
    cmds[1].checkpoint = (rp_actor_checkpoint_t){ slice_cstr("free"), 2, 9 };
    cmds[1].inner.tag = RP_COMMAND_STOP_ACTOR;
    rp_to_runner_t t;
    memset(&t, 0, sizeof t);
    t.tag = RP_TO_RUNNER_CLIENT_COMMANDS;
    t.val.client_commands.items = cmds;
    t.val.client_commands.len = 2;
    publish_to_runner(w, c.runner_id, &t);

    rp_to_client_t m;
    int first = cl_take(&c, RP_TO_CLIENT_COMMANDS, &m, 3000);
    CHECK(first >= 0);
    CHECK_EQ_INT(m.val.commands.len, 1);
    if (m.val.commands.len == 1) {
        const rp_command_wrapper_t *cw = &m.val.commands.items[0];
        CHECK(id_is(cw->checkpoint.actor_id, "free"));
        CHECK_EQ_INT(cw->inner.tag, RP_COMMAND_STOP_ACTOR);
        CHECK_EQ_INT(cw->checkpoint.generation, 2);
        CHECK_EQ_INT(cw->checkpoint.index, 9);
    }
    rp_to_client_free(&m);
    int second = cl_take(&c, RP_TO_CLIENT_COMMANDS, &m, 3000);
    CHECK(second > first);
    CHECK_EQ_INT(m.val.commands.len, 1);
    if (m.val.commands.len == 1) {
        const rp_command_wrapper_t *cw = &m.val.commands.items[0];
        CHECK(id_is(cw->checkpoint.actor_id, "held"));
        CHECK_EQ_INT(cw->inner.tag, RP_COMMAND_START_ACTOR);
        CHECK_EQ_INT(cw->checkpoint.generation, 3);
        CHECK_EQ_INT(cw->checkpoint.index, 5);
        CHECK_EQ_INT(cw->inner.val.start_actor.hibernating_requests.len, 0);
    }
    rp_to_client_free(&m);
    cl_close(&c, w);
}

static void test_start_waits_for_store(void)
{
    srv_t rs;
    if (!srv_start(&rs, 0, NULL)) {
        CHECK(!"redis-server could not be started");
        return;
    }
    char url[64], prefix[64], err[256];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/0", rs.port);
    snprintf(prefix, sizeof prefix, "test-runner-%d:", (int)getpid());
    store_redis_opts_t opts = { 0 };
    opts.backoff_min_ms = 20;
    opts.backoff_max_ms = 100;
    store_t *rstore = store_redis_new_opts(&loop, url, prefix, &opts, err, sizeof err);
    CHECK(rstore != NULL);
    if (!rstore) {
        srv_stop(&rs, SIGTERM);
        return;
    }
    /* The loop does not run while redis-server restarts, so the runner's pongs may be read
     * late; its ping timeout is not what this test is about. */
    rn_config_t cfg = cfg_small;
    cfg.ping_timeout_ms = 60000;
    world_t w;
    world_open(&w, rstore, &cfg);
    bus_sub_t *gsub = bus_subscribe(w.bus, "pegboard.gateway.0a0b0c0d", on_gateway, NULL);
    gw_count = 0;

    cl_t c;
    CHECK(cl_runner(&c, "waits", "pool"));
    eng_actor_t *b = start_actor(&w, &c, "b", "pool");

    /* The store goes away; the next start cannot list its rows. */
    srv_stop(&rs, SIGKILL);
    CHECK(RUN_UNTIL(!store_available(rstore), 3000));
    eng_actor_t *a = create(&w, "a", "pool");
    char aid[64] = "";
    if (a)
        snprintf(aid, sizeof aid, "%s", a->actor_id);

    /* Meanwhile b's stop, a tunnel message and a tunnel ping go through. */
    if (b) {
        eng_actor_destroy(w.eng, b);
        take_command(&c, b->actor_id, RP_COMMAND_STOP_ACTOR, 1);
    }
    rp_to_runner_t t;
    memset(&t, 0, sizeof t);
    t.tag = RP_TO_RUNNER_CLIENT_TUNNEL_MESSAGE;
    memcpy(t.val.client_tunnel_message.message_id.gateway_id, "\x0a\x0b\x0c\x0d", 4);
    memcpy(t.val.client_tunnel_message.message_id.request_id, "\1\1\1\1", 4);
    t.val.client_tunnel_message.message_kind.tag =
        RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_WEB_SOCKET_MESSAGE;
    t.val.client_tunnel_message.message_kind.val.web_socket_message.data = D("hello");
    publish_to_runner(&w, c.runner_id, &t);
    rp_to_client_t m;
    CHECK(cl_take(&c, RP_TO_CLIENT_TUNNEL_MESSAGE, &m, 3000) >= 0);
    rp_to_client_free(&m);
    rp_to_runner_t ping;
    memset(&ping, 0, sizeof ping);
    ping.tag = RP_TO_RUNNER_PING;
    memcpy(ping.val.ping.gateway_id, "\x0a\x0b\x0c\x0d", 4);
    memcpy(ping.val.ping.request_id, "\2\2\2\2", 4);
    ping.val.ping.ts = 1234;
    publish_to_runner(&w, c.runner_id, &ping);
    CHECK(RUN_UNTIL(gw_count == 1, 3000));
    rp_to_gateway_t pong;
    bare_err_t berr;
    CHECK(rp_to_gateway_decode_versioned(gw_frames[0], gw_lens[0], &pong, &berr) == BARE_OK &&
          pong.tag == RP_TO_GATEWAY_PONG && pong.val.pong.ts == 1234 &&
          memcmp(pong.val.pong.request_id, "\2\2\2\2", 4) == 0);
    rp_to_gateway_free(&pong);

    /* a's start has not gone; a's stop, sent now, must not overtake it. */
    CHECK_EQ_INT(cl_find(&c, RP_TO_CLIENT_COMMANDS), -1);
    if (a)
        eng_actor_destroy(w.eng, a);
    CHECK(RUN_UNTIL(c.pings >= 3, 3000)); /* runner pings go on too */
    CHECK_EQ_INT(cl_find(&c, RP_TO_CLIENT_COMMANDS), -1);

    /* The store is back: a's start goes with the rows it lists (none), then a's stop. */
    CHECK(srv_start(&rs, rs.port, NULL));
    CHECK(cl_take(&c, RP_TO_CLIENT_COMMANDS, &m, 5000) >= 0);
    CHECK_EQ_INT(m.val.commands.len, 2);
    if (m.val.commands.len == 2) {
        CHECK(id_is(m.val.commands.items[0].checkpoint.actor_id, aid));
        CHECK_EQ_INT(m.val.commands.items[0].inner.tag, RP_COMMAND_START_ACTOR);
        CHECK_EQ_INT(m.val.commands.items[0].checkpoint.index, 0);
        CHECK(id_is(m.val.commands.items[1].checkpoint.actor_id, aid));
        CHECK_EQ_INT(m.val.commands.items[1].inner.tag, RP_COMMAND_STOP_ACTOR);
        CHECK_EQ_INT(m.val.commands.items[1].checkpoint.index, 1);
    }
    rp_to_client_free(&m);

    cl_close(&c, &w);
    bus_unsubscribe(w.bus, gsub);
    world_close(&w);
    srv_stop(&rs, SIGTERM);
}

/* ---- Tunnel routing ---- */

static void test_tunnel(world_t *w)
{
    cl_t c;
    CHECK(cl_runner(&c, "tunnel", "pool"));
    bus_sub_t *gsub = bus_subscribe(w->bus, "pegboard.gateway.0a0b0c0d", on_gateway, NULL);
    gw_count = 0;

    /* The runner's tunnel message reaches the gateway named in its message id, as ToGateway. */
    rp_to_server_t up;
    memset(&up, 0, sizeof up);
    up.tag = RP_TO_SERVER_TUNNEL_MESSAGE;
    memcpy(up.val.tunnel_message.message_id.gateway_id, "\x0a\x0b\x0c\x0d", 4);
    memcpy(up.val.tunnel_message.message_id.request_id, "\3\3\3\3", 4);
    up.val.tunnel_message.message_id.message_index = 7;
    up.val.tunnel_message.message_kind.tag = RP_TO_SERVER_TUNNEL_MESSAGE_KIND_WEB_SOCKET_MESSAGE;
    up.val.tunnel_message.message_kind.val.web_socket_message.data = D("from the actor");
    cl_send(&c, &up);
    CHECK(RUN_UNTIL(gw_count == 1, 3000));
    rp_to_gateway_t g;
    bare_err_t err;
    CHECK(rp_to_gateway_decode_versioned(gw_frames[0], gw_lens[0], &g, &err) == BARE_OK);
    CHECK_EQ_INT(g.tag, RP_TO_GATEWAY_SERVER_TUNNEL_MESSAGE);
    if (g.tag == RP_TO_GATEWAY_SERVER_TUNNEL_MESSAGE) {
        const rp_to_server_tunnel_message_t *tm = &g.val.server_tunnel_message;
        CHECK_MEM(tm->message_id.request_id, "\3\3\3\3", 4);
        CHECK_EQ_INT(tm->message_id.message_index, 7);
        CHECK_EQ_INT(tm->message_kind.tag, RP_TO_SERVER_TUNNEL_MESSAGE_KIND_WEB_SOCKET_MESSAGE);
        CHECK(tm->message_kind.val.web_socket_message.data.len == 14);
    }
    rp_to_gateway_free(&g);

    /* The runner half routes on the peeked message id without decoding the rest: a tunnel
     * message cut short after its kind tag still goes to its gateway (which decodes it and ends
     * the request), and the runner's socket stays open. */
    buf_t cut = BUF_INIT;
    rp_to_server_encode(&cut, &up);
    cl_frame(&c, WSF_OP_BINARY, cut.data, cut.len - 1);
    CHECK(RUN_UNTIL(gw_count == 2, 3000));
    CHECK(gw_lens[1] == cut.len - 1 + 2); /* the version prefix added, the ToServer tag retagged */
    CHECK(rp_to_gateway_decode_versioned(gw_frames[1], gw_lens[1], &g, &err) == BARE_ETRUNC);
    CHECK_EQ_INT(c.close_code, 0);
    buf_free(&cut);

    /* A gateway's tunnel message for the runner arrives as ToClientTunnelMessage. */
    rp_to_runner_t t;
    memset(&t, 0, sizeof t);
    t.tag = RP_TO_RUNNER_CLIENT_TUNNEL_MESSAGE;
    memcpy(t.val.client_tunnel_message.message_id.gateway_id, "\x0a\x0b\x0c\x0d", 4);
    memcpy(t.val.client_tunnel_message.message_id.request_id, "\4\4\4\4", 4);
    t.val.client_tunnel_message.message_id.message_index = 2;
    t.val.client_tunnel_message.message_kind.tag =
        RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_WEB_SOCKET_MESSAGE;
    t.val.client_tunnel_message.message_kind.val.web_socket_message.data = D("to the actor");
    t.val.client_tunnel_message.message_kind.val.web_socket_message.binary = true;
    publish_to_runner(w, c.runner_id, &t);
    rp_to_client_t m;
    CHECK(cl_take(&c, RP_TO_CLIENT_TUNNEL_MESSAGE, &m, 3000) >= 0);
    const rp_to_client_tunnel_message_t *tm = &m.val.tunnel_message;
    CHECK_MEM(tm->message_id.request_id, "\4\4\4\4", 4);
    CHECK_EQ_INT(tm->message_id.message_index, 2);
    CHECK(tm->message_kind.tag == RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_WEB_SOCKET_MESSAGE &&
          tm->message_kind.val.web_socket_message.binary &&
          tm->message_kind.val.web_socket_message.data.len == 12);
    rp_to_client_free(&m);

    /* ToRunnerClose closes the runner's socket as an eviction. */
    rp_to_runner_t close;
    memset(&close, 0, sizeof close);
    close.tag = RP_TO_RUNNER_CLOSE;
    publish_to_runner(w, c.runner_id, &close);
    CHECK(RUN_UNTIL(c.close_code != 0, 3000));
    CHECK_EQ_INT(c.close_code, 1000);
    CHECK(prefix_is(c.close_reason, "ws.eviction#"));
    bus_unsubscribe(w->bus, gsub);
    cl_free(&c);
}

int main(void)
{
    log_setup(LOG_ERROR, 0);
    loop_wait_init();
    net_limits_t limits = { .max_header_bytes = 65536,
                            .max_body_bytes = 1 << 20,
                            .max_message_bytes = 32 << 20,
                            .idle_timeout_ms = 10000 };
    port = loop_server_start(&limits, on_request, NULL);
    CHECK(port != 0);

    world_t w;
    world_open(&w, NULL, &cfg_small);
    test_endpoint(&w);
    test_handshake(&w);
    test_init_timeout(&w);
    test_invalid_packets(&w);
    test_ping_timeout(&w);
    test_eviction(&w);
    test_commands_events(&w);
    test_kv(&w);
    test_start_listing(&w);
    test_commands_split(&w);
    test_tunnel(&w);
    test_start_waits_for_store();
    current = &w;

    loop_server_stop();
    world_close(&w);
    loop_server_finish();
    return T_DONE();
}
