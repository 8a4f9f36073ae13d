/* echo-runner: a runner in C that speaks runner protocol v7 through sett's generated codec and
 * hosts echo actors, so that the backend behind sett costs about what echo-server costs behind
 * nginx. It dials /runners/connect with its own small RFC 6455 client on libuv (sett's frame
 * codec in client mode), sends ToServerInit, answers ToClientPing, acks commands, and starts
 * every actor it is asked to (reporting Running at once, in the same loop turn).
 *
 * Each actor serves:
 *   - HTTP: the request body echoed back (200, or "echo" when the request has no body, the same
 *     four bytes echo-server answers); the path /sleep also makes the actor ask to sleep.
 *   - WebSocket: every message echoed with its type, after ToServerWebSocketOpen{canHibernate:
 *     true}, and acked with ToServerWebSocketMessageAck, so sett can drop its pending copy.
 *
 * Everything a read produces is encoded into one buffer and written with one write when the read
 * has been processed, so a burst of tunnel messages costs one syscall.
 *
 *   echo-runner --url ws://127.0.0.1:6420 [--name echo] [--key K (default per process)] [--slots N] [--namespace NS]
 *               [--sleep-idle-ms MS]
 *
 * Prints "ready runner_id=ID" on stdout once sett has answered ToClientInit, and a counter line on
 * stderr when it gets SIGTERM or SIGINT. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "net/ws_frame.h"
#include "proto/bare.h"
#include "proto/rp_v7.h"
#include "core/map.h"

/* One actor this runner hosts; the generation and event index go into every event's checkpoint. */
typedef struct er_actor {
    char *id;
    size_t id_len;
    uint32_t generation;
    int64_t next_event;        /* the checkpoint index of the next event, per generation */
    int running;
    int sleep_asked;           /* an Intent{Sleep} was sent for this generation */
    uint64_t last_active;      /* loop time, ms, of the last tunnel message */
} er_actor_t;

/* One tunnelled request (HTTP or WebSocket), keyed by its gateway id and request id. The runner's
 * own message index counts what it sends for the request. */
typedef struct er_req {
    er_actor_t *actor;
    uint16_t out_index;
} er_req_t;

static struct {
    const char *host;
    int port;
    const char *name;
    const char *key;
    const char *ns;
    unsigned slots;
    uint64_t sleep_idle_ms;
    uv_loop_t *loop;
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_write_t wreq;
    int writing;
    buf_t in;
    buf_t out;                 /* frames being built */
    buf_t wbuf;                /* frames being written */
    buf_t enc;                 /* one ToServer message being encoded */
    wsf_conn ws;
    int upgraded;
    int ready;
    map_t actors;        /* actor id -> er_actor_t */
    map_t reqs;          /* gateway id + request id (8 bytes) -> er_req_t */
    uv_timer_t idle;
    uv_signal_t sigterm, sigint;
    uint64_t ws_msgs, http_reqs, starts, stops, pings;
} er;

static const uint8_t er_mask[4] = { 0x5c, 0x13, 0xa7, 0x42 };

static void er_flush(void);

static void er_die(const char *what)
{
    fprintf(stderr, "echo-runner: %s\n", what);
    exit(1);
}

/* Encodes one ToServer message and appends it to the output as one masked binary frame. */
static void er_send(const rp_to_server_t *m)
{
    buf_reset(&er.enc);
    rp_to_server_encode(&er.enc, m);
    wsf_append_frame(&er.out, WSF_OP_BINARY, er.enc.data, er.enc.len, er_mask);
}

static void er_written(uv_write_t *w, int status)
{
    if (status)
        er_die(uv_strerror(status));
    er.writing = 0;
    buf_reset(&er.wbuf);
    if (er.out.len)
        er_flush();
}

/* Writes what has been built unless a write is in flight; its completion writes the rest. */
static void er_flush(void)
{
    if (er.writing || !er.out.len)
        return;
    buf_t t = er.wbuf;
    er.wbuf = er.out;
    er.out = t;
    buf_reset(&er.out);
    uv_buf_t b = uv_buf_init((char *)er.wbuf.data, (unsigned)er.wbuf.len);
    er.writing = 1;
    uv_write(&er.wreq, (uv_stream_t *)&er.tcp, &b, 1, er_written);
}

static void er_event(er_actor_t *a, const rp_event_t *inner)
{
    rp_event_wrapper_t w;
    memset(&w, 0, sizeof w);
    w.checkpoint.actor_id = (rp_id_t){ (const uint8_t *)a->id, a->id_len };
    w.checkpoint.generation = a->generation;
    w.checkpoint.index = a->next_event++;
    w.inner = *inner;
    rp_to_server_t m;
    memset(&m, 0, sizeof m);
    m.tag = RP_TO_SERVER_EVENTS;
    m.val.events.items = &w;
    m.val.events.len = 1;
    er_send(&m);
}

static void er_state(er_actor_t *a, int running)
{
    rp_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.tag = RP_EVENT_ACTOR_STATE_UPDATE;
    if (running) {
        ev.val.actor_state_update.state.tag = RP_ACTOR_STATE_RUNNING;
    } else {
        ev.val.actor_state_update.state.tag = RP_ACTOR_STATE_STOPPED;
        ev.val.actor_state_update.state.val.stopped.code = RP_STOP_CODE_OK;
    }
    er_event(a, &ev);
}

static void er_ask_sleep(er_actor_t *a)
{
    if (!a->running || a->sleep_asked)
        return;
    a->sleep_asked = 1;
    rp_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.tag = RP_EVENT_ACTOR_INTENT;
    ev.val.actor_intent.intent.tag = RP_ACTOR_INTENT_SLEEP;
    er_event(a, &ev);
}

static er_actor_t *er_actor(const rp_id_t *id, int create)
{
    er_actor_t *a = map_get(&er.actors, id->p, id->len);
    if (!a && create) {
        a = sx_calloc(1, sizeof *a);
        a->id = sx_strndup((const char *)id->p, id->len);
        a->id_len = id->len;
        map_put(&er.actors, id->p, id->len, a);
    }
    return a;
}

static er_req_t *er_req(const rp_message_id_t *mid, er_actor_t *a, int create)
{
    uint8_t k[8];
    memcpy(k, mid->gateway_id, 4);
    memcpy(k + 4, mid->request_id, 4);
    er_req_t *r = map_get(&er.reqs, k, 8);
    if (!r && create) {
        r = sx_calloc(1, sizeof *r);
        map_put(&er.reqs, k, 8, r);
    }
    if (r && a)
        r->actor = a;
    return r;
}

static void er_req_drop(const rp_message_id_t *mid)
{
    uint8_t k[8];
    memcpy(k, mid->gateway_id, 4);
    memcpy(k + 4, mid->request_id, 4);
    free(map_del(&er.reqs, k, 8));
}

static void er_commands(const rp_to_client_commands_t *cs)
{
    if (!cs->len)
        return;
    for (size_t i = 0; i < cs->len; i++) {
        const rp_command_wrapper_t *w = &cs->items[i];
        er_actor_t *a = er_actor(&w->checkpoint.actor_id, 1);
        if (w->inner.tag == RP_COMMAND_START_ACTOR) {
            if (a->generation != w->checkpoint.generation || !a->running) {
                a->generation = w->checkpoint.generation;
                a->next_event = 0;
            }
            a->running = 1;
            a->sleep_asked = 0;
            a->last_active = uv_now(er.loop);
            er.starts++;
            /* Requests that hibernated come back with the start; they belong to this actor. */
            const rp_list_hibernating_request_t *h = &w->inner.val.start_actor.hibernating_requests;
            for (size_t j = 0; j < h->len; j++) {
                rp_message_id_t mid;
                memcpy(mid.gateway_id, h->items[j].gateway_id, 4);
                memcpy(mid.request_id, h->items[j].request_id, 4);
                er_req(&mid, a, 1);
            }
            er_state(a, 1);
        } else {
            if (a->running) {
                a->running = 0;
                er.stops++;
                er_state(a, 0);
            }
        }
    }
    /* The commands are acked at once: this runner applies them before it reads on. */
    rp_actor_checkpoint_t *cps = sx_calloc(cs->len, sizeof *cps);
    for (size_t i = 0; i < cs->len; i++)
        cps[i] = cs->items[i].checkpoint;
    rp_to_server_t m;
    memset(&m, 0, sizeof m);
    m.tag = RP_TO_SERVER_ACK_COMMANDS;
    m.val.ack_commands.last_command_checkpoints.items = cps;
    m.val.ack_commands.last_command_checkpoints.len = cs->len;
    er_send(&m);
    free(cps);
}

/* Starts a ToServerTunnelMessage for the request with the runner's next message index. */
static void er_tunnel_init(rp_to_server_t *m, const rp_message_id_t *mid, er_req_t *r,
                           rp_to_server_tunnel_message_kind_tag_t tag)
{
    memset(m, 0, sizeof *m);
    m->tag = RP_TO_SERVER_TUNNEL_MESSAGE;
    rp_to_server_tunnel_message_t *t = &m->val.tunnel_message;
    memcpy(t->message_id.gateway_id, mid->gateway_id, 4);
    memcpy(t->message_id.request_id, mid->request_id, 4);
    t->message_id.message_index = r ? r->out_index++ : 0;
    t->message_kind.tag = tag;
}

static void er_http(const rp_message_id_t *mid, const rp_to_client_request_start_t *rs)
{
    static const char fixed[] = "echo";
    static rp_map_str_str_entry_t hdr = {
        { (const uint8_t *)"content-type", 12 }, { (const uint8_t *)"application/octet-stream", 24 }
    };
    er.http_reqs++;
    er_actor_t *a = er_actor(&rs->actor_id, 0);
    if (a)
        a->last_active = uv_now(er.loop);
    rp_to_server_t m;
    er_tunnel_init(&m, mid, NULL, RP_TO_SERVER_TUNNEL_MESSAGE_KIND_RESPONSE_START);
    rp_to_server_response_start_t *r = &m.val.tunnel_message.message_kind.val.response_start;
    r->status = 200;
    r->headers.items = &hdr;
    r->headers.len = 1;
    r->has_body = 1;
    if (rs->has_body && rs->body.len)
        r->body = rs->body;
    else
        r->body = (slice_t){ (const uint8_t *)fixed, 4 };
    er_send(&m);
    if (a && rs->path.len >= 6 && memcmp(rs->path.p, "/sleep", 6) == 0)
        er_ask_sleep(a);
}

static void er_tunnel(const rp_to_client_tunnel_message_t *t)
{
    const rp_message_id_t *mid = &t->message_id;
    const rp_to_client_tunnel_message_kind_t *k = &t->message_kind;
    rp_to_server_t m;
    switch (k->tag) {
    case RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_REQUEST_START:
        er_http(mid, &k->val.request_start);
        break;
    case RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_WEB_SOCKET_OPEN: {
        er_actor_t *a = er_actor(&k->val.web_socket_open.actor_id, 0);
        er_req_t *r = er_req(mid, a, 1);
        if (a)
            a->last_active = uv_now(er.loop);
        er_tunnel_init(&m, mid, r, RP_TO_SERVER_TUNNEL_MESSAGE_KIND_WEB_SOCKET_OPEN);
        m.val.tunnel_message.message_kind.val.web_socket_open.can_hibernate = 1;
        er_send(&m);
        break;
    }
    case RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_WEB_SOCKET_MESSAGE: {
        /* A request unknown here (it hibernated before this runner started) is echoed too. */
        er_req_t *r = er_req(mid, NULL, 1);
        if (er.sleep_idle_ms && r->actor)
            r->actor->last_active = uv_now(er.loop);
        er.ws_msgs++;
        er_tunnel_init(&m, mid, r, RP_TO_SERVER_TUNNEL_MESSAGE_KIND_WEB_SOCKET_MESSAGE);
        m.val.tunnel_message.message_kind.val.web_socket_message.data = k->val.web_socket_message.data;
        m.val.tunnel_message.message_kind.val.web_socket_message.binary =
            k->val.web_socket_message.binary;
        er_send(&m);
        er_tunnel_init(&m, mid, r, RP_TO_SERVER_TUNNEL_MESSAGE_KIND_WEB_SOCKET_MESSAGE_ACK);
        m.val.tunnel_message.message_kind.val.web_socket_message_ack.index = mid->message_index;
        er_send(&m);
        break;
    }
    case RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_WEB_SOCKET_CLOSE:
        er_req_drop(mid);
        break;
    case RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_REQUEST_CHUNK:
    case RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_REQUEST_ABORT:
        /* Streamed request bodies are not part of the benchmarks; sett sends whole bodies. */
        break;
    }
}

static void er_frame(const uint8_t *p, size_t n)
{
    rp_to_client_t m;
    bare_err_t err;
    if (rp_to_client_decode(p, n, &m, &err) != BARE_OK) {
        char msg[160];
        bare_err_format(&err, msg, sizeof msg);
        er_die(msg);
    }
    switch (m.tag) {
    case RP_TO_CLIENT_INIT:
        if (!er.ready) {
            er.ready = 1;
            printf("ready runner_id=%.*s\n", (int)m.val.init.runner_id.len,
                   (const char *)m.val.init.runner_id.p);
            fflush(stdout);
        }
        break;
    case RP_TO_CLIENT_COMMANDS:
        er_commands(&m.val.commands);
        break;
    case RP_TO_CLIENT_PING: {
        rp_to_server_t r;
        memset(&r, 0, sizeof r);
        r.tag = RP_TO_SERVER_PONG;
        r.val.pong.ts = m.val.ping.ts;
        er.pings++;
        er_send(&r);
        break;
    }
    case RP_TO_CLIENT_TUNNEL_MESSAGE:
        er_tunnel(&m.val.tunnel_message);
        break;
    case RP_TO_CLIENT_ACK_EVENTS:
    case RP_TO_CLIENT_KV_RESPONSE:
        break;
    }
    rp_to_client_free(&m);
}

static void er_handshake(void)
{
    char *end = memmem(er.in.data, er.in.len, "\r\n\r\n", 4);
    if (!end)
        return;
    if (er.in.len < 12 || memcmp(er.in.data, "HTTP/1.1 101", 12) != 0) {
        fprintf(stderr, "echo-runner: upgrade refused: %.*s\n", (int)(end - (char *)er.in.data),
                (char *)er.in.data);
        exit(1);
    }
    buf_consume(&er.in, (size_t)(end - (char *)er.in.data) + 4);
    er.upgraded = 1;
    rp_to_server_t m;
    memset(&m, 0, sizeof m);
    m.tag = RP_TO_SERVER_INIT;
    m.val.init.name = slice_cstr(er.name);
    m.val.init.version = 1;
    m.val.init.total_slots = er.slots;
    er_send(&m);
}

static void er_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    b->base = (char *)buf_reserve(&er.in, 65536);
    b->len = 65536;
}

static void er_on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    if (n < 0)
        er_die(n == UV_EOF ? "sett closed the connection" : uv_strerror((int)n));
    er.in.len += (size_t)n;
    if (!er.upgraded) {
        er_handshake();
        if (!er.upgraded) {
            er_flush();
            return;
        }
    }
    size_t off = 0;
    for (;;) {
        size_t used = 0;
        wsf_event ev;
        int r = wsf_feed(&er.ws, er.in.data + off, er.in.len - off, &used, &ev);
        off += used;
        if (r == WSF_AGAIN)
            break;
        if (r == WSF_ERR)
            er_die(ev.reason);
        switch (ev.type) {
        case WSF_EV_BINARY:
            er_frame(ev.data, ev.len);
            break;
        case WSF_EV_PING:
            wsf_append_frame(&er.out, WSF_OP_PONG, ev.data, ev.len, er_mask);
            break;
        case WSF_EV_CLOSE:
            fprintf(stderr, "echo-runner: sett closed the socket: %u %.*s\n", ev.code,
                    (int)ev.len, (const char *)ev.data);
            exit(1);
        default:
            break;
        }
    }
    buf_consume(&er.in, off);
    er_flush();
}

static void er_on_connect(uv_connect_t *req, int status)
{
    if (status)
        er_die(uv_strerror(status));
    uv_tcp_nodelay(&er.tcp, 1);
    buf_printf(&er.out,
               "GET /runners/connect?protocol_version=7&namespace=%s&runner_key=%s&runner_name=%s"
               "&total_slots=%u HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: rivet\r\n\r\n",
               er.ns, er.key, er.name, er.slots, er.host, er.port);
    er_flush();
    uv_read_start((uv_stream_t *)&er.tcp, er_alloc, er_on_read);
}

/* Asks actors idle for --sleep-idle-ms to sleep, so their sockets hibernate; a pass runs every
 * tenth of that period, which keeps the per-message cost to one clock read. */
static void er_on_idle(uv_timer_t *t)
{
    uint64_t now = uv_now(er.loop);
    size_t it = 0;
    const map_slot_t *s;
    while ((s = map_next(&er.actors, &it))) {
        er_actor_t *a = s->value;
        if (a->running && !a->sleep_asked && now - a->last_active >= er.sleep_idle_ms)
            er_ask_sleep(a);
    }
    er_flush();
}

static void er_on_signal(uv_signal_t *s, int sig)
{
    fprintf(stderr, "echo-runner: ws_messages=%llu http_requests=%llu starts=%llu stops=%llu "
                    "pings=%llu\n",
            (unsigned long long)er.ws_msgs, (unsigned long long)er.http_reqs,
            (unsigned long long)er.starts, (unsigned long long)er.stops,
            (unsigned long long)er.pings);
    exit(0);
}

int main(int argc, char **argv)
{
    const char *url = "ws://127.0.0.1:6420";
    er.name = "echo";
    /* A fresh key per process: a new echo-runner is a new runner, never a reconnect that
     * inherits actors it has no record of. */
    static char key[48];
    snprintf(key, sizeof key, "echo-runner-%d", (int)getpid());
    er.key = key;
    er.ns = "default";
    er.slots = 100000;
    static const struct option opts[] = {
        { "url", required_argument, 0, 'u' }, { "name", required_argument, 0, 'n' },
        { "key", required_argument, 0, 'k' }, { "slots", required_argument, 0, 's' },
        { "namespace", required_argument, 0, 'N' },
        { "sleep-idle-ms", required_argument, 0, 'i' }, { 0, 0, 0, 0 },
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "u:n:k:s:N:i:", opts, NULL)) != -1) {
        switch (ch) {
        case 'u': url = optarg; break;
        case 'n': er.name = optarg; break;
        case 'k': er.key = optarg; break;
        case 's': er.slots = (unsigned)atoi(optarg); break;
        case 'N': er.ns = optarg; break;
        case 'i': er.sleep_idle_ms = (uint64_t)atoll(optarg); break;
        default:
            fprintf(stderr, "usage: echo-runner --url ws://HOST:PORT [--name N] [--key K] "
                            "[--slots N] [--namespace NS] [--sleep-idle-ms MS]\n");
            return 2;
        }
    }
    static char host[64];
    if (sscanf(url, "ws://%63[^:]:%d", host, &er.port) != 2) {
        fprintf(stderr, "echo-runner: bad url %s\n", url);
        return 2;
    }
    er.host = host;
    signal(SIGPIPE, SIG_IGN);
    er.loop = uv_default_loop();
    wsf_conn_init(&er.ws, WSF_ROLE_CLIENT, 0);
    map_init(&er.actors);
    map_init(&er.reqs);
    struct sockaddr_in addr;
    if (uv_ip4_addr(host, er.port, &addr) != 0) {
        fprintf(stderr, "echo-runner: bad address %s\n", host);
        return 2;
    }
    uv_tcp_init(er.loop, &er.tcp);
    uv_tcp_connect(&er.connect, &er.tcp, (struct sockaddr *)&addr, er_on_connect);
    uv_signal_init(er.loop, &er.sigterm);
    uv_signal_start(&er.sigterm, er_on_signal, SIGTERM);
    uv_signal_init(er.loop, &er.sigint);
    uv_signal_start(&er.sigint, er_on_signal, SIGINT);
    if (er.sleep_idle_ms) {
        uint64_t every = er.sleep_idle_ms / 10 ? er.sleep_idle_ms / 10 : 1;
        uv_timer_init(er.loop, &er.idle);
        uv_timer_start(&er.idle, er_on_idle, every, every);
    }
    uv_run(er.loop, UV_RUN_DEFAULT);
    return 0;
}
