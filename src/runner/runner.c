#include "runner/runner_impl.h"
#include "core/alloc.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/random.h"
#include "core/secret.h"
#include "engine/engine_runner.h"
#include "net/ws_handshake.h"
#include "proto/bare.h"

#include <stdio.h>
#include <string.h>

/* Enough of a frame to read its ToServer tag, a tunnel message's id and its kind's tag. */
#define RN_PEEK_BYTES 64

static const net_ws_handler_t rn_ws_handler;

rn_t *rn_new(uv_loop_t *loop, eng_t *eng, store_t *store, bus_t *bus, const rn_config_t *cfg)
{
    rn_t *rn = sx_calloc(1, sizeof *rn);
    rn->loop = loop;
    rn->eng = eng;
    rn->store = store;
    rn->bus = bus;
    rn->cfg = *cfg;
    rn->token = cfg->token ? sx_strdup(cfg->token) : NULL;
    rn->cfg.token = rn->token;
    map_init(&rn->by_runner);
    rn->m_closed_invalid = met_counter("sett_runner_invalid_packets_total",
                                       "Runner sockets closed for a malformed frame.", NULL);
    rn->m_oversized =
        met_counter("sett_runner_oversized_tunnel_messages_total",
                    "Runner tunnel messages over the frame limit, whose requests were "
                    "ended.",
                    NULL);
    rn->m_evictions = met_counter("sett_runner_evictions_total",
                                  "Runner sockets replaced by a newer one with the same key.",
                                  NULL);
    rn->m_ping_timeouts = met_counter("sett_runner_ping_timeouts_total",
                                      "Runner sockets closed for not answering pings.", NULL);
    rn->m_rtt = met_histogram("sett_runner_ping_duration",
                              "Round trip of ToClientPing/ToServerPong on runner sockets, seconds.",
                              NULL, NULL, 0);
    return rn;
}

size_t rn_count(const rn_t *rn)
{
    return rn->nconns;
}

static void rn_conn_free(uv_handle_t *h)
{
    rn_conn_t *rc = h->data;
    rn_commands_free(rc);
    free(rc->key);
    free(rc);
}

void rn_unref(rn_conn_t *rc)
{
    if (--rc->refs == 0)
        uv_close((uv_handle_t *)&rc->timer, rn_conn_free);
}

/* Close reasons follow Rivet's "{group}.{code}#{ray id}" so runners parse them the same way. */
static void rn_close(rn_conn_t *rc, int code, const char *reason)
{
    if (rc->closed)
        return;
    uint32_t ray;
    rnd_bytes(&ray, sizeof ray);
    char r[128];
    int n = snprintf(r, sizeof r, "%s#%08x", reason, ray);
    net_ws_close(rc->c, code, r, (size_t)n);
}

void rn_send(rn_conn_t *rc, const rp_to_client_t *m)
{
    buf_t *b = &rc->rn->encoded;
    buf_reset(b);
    rp_to_client_encode(b, m);
    net_ws_send(rc->c, 1, b->data, b->len);
    if (b->cap > (64u << 10))
        buf_free(b);
}

void rn_forward(rn_conn_t *rc, rp_to_client_tag_t tag, const uint8_t *member, size_t len)
{
    buf_t *b = &rc->rn->encoded;
    buf_reset(b);
    rp_to_client_encode_tag(b, tag);
    net_ws_sendv(rc->c, 1, b->data, b->len, member, len);
}

/* Gives up the runner this socket holds: the engine learns of the disconnect unless another
 * socket has taken the runner over. */
static void rn_detach(rn_conn_t *rc, int tell_engine)
{
    if (!rc->runner)
        return;
    rn_t *rn = rc->rn;
    const char *id = rc->runner->runner_id;
    if (map_get(&rn->by_runner, id, strlen(id)) == rc)
        map_del(&rn->by_runner, id, strlen(id));
    if (rc->sub) {
        bus_unsubscribe(rn->bus, rc->sub);
        rc->sub = NULL;
    }
    if (tell_engine)
        eng_runner_disconnected(rn->eng, rc->runner);
    rc->runner = NULL;
}

/* ---- The bus: ToRunner frames for this runner ---- */

static void rn_on_bus(void *ud, const char *subject, const uint8_t *f, size_t n)
{
    rn_conn_t *rc = ud;
    (void)subject;
    rp_to_runner_tag_t in;
    size_t body;
    if (rc->closed || rp_to_runner_peek_versioned(f, n, &in, &body) != BARE_OK)
        return;
    /* Commands, acks and tunnel messages have the same bytes in ToRunner and ToClient; only
     * the union tag differs, so they are forwarded without decoding, except commands that must
     * wait for a start (runner_start.c). */
    rp_to_client_tag_t tag;
    switch (in) {
    case RP_TO_RUNNER_CLIENT_COMMANDS: rn_commands(rc, f, n, body); return;
    case RP_TO_RUNNER_CLIENT_ACK_EVENTS: tag = RP_TO_CLIENT_ACK_EVENTS; break;
    case RP_TO_RUNNER_CLIENT_TUNNEL_MESSAGE: tag = RP_TO_CLIENT_TUNNEL_MESSAGE; break;
    case RP_TO_RUNNER_PING: {
        /* The runner half answers tunnel pings itself: a pong means the path to a live runner
         * socket works. */
        rp_to_runner_t m;
        bare_err_t err;
        if (rp_to_runner_decode_versioned(f, n, &m, &err) != BARE_OK)
            return;
        rp_to_gateway_t pong;
        memset(&pong, 0, sizeof pong);
        pong.tag = RP_TO_GATEWAY_PONG;
        memcpy(pong.val.pong.request_id, m.val.ping.request_id, 4);
        pong.val.pong.ts = m.val.ping.ts;
        char subj[40];
        const uint8_t *g = m.val.ping.gateway_id;
        snprintf(subj, sizeof subj, "pegboard.gateway.%02x%02x%02x%02x", g[0], g[1], g[2], g[3]);
        buf_t b = BUF_INIT;
        rp_to_gateway_encode_versioned(&b, &pong);
        bus_publish(rc->rn->bus, subj, b.data, b.len);
        buf_free(&b);
        rp_to_runner_free(&m);
        return;
    }
    case RP_TO_RUNNER_CLOSE: rn_close(rc, 1000, "ws.eviction"); return;
    default: return;
    }
    /* Acks and tunnel messages never wait for a start: a tunnel request reaches an actor only
     * once it runs, and an ack concerns events of a generation the runner already has. */
    rn_forward(rc, tag, f + body, n - body);
    /* A runner that reads slowly makes the gateway pause the clients feeding it, so memory
     * stays bounded; its on_drain lifts that. */
    if (net_conn_congested(rc->c))
        bus_set_congested(rc->rn->bus, rc->sub, 1);
}

/* ---- Frames from the runner ---- */

static void rn_on_timer(uv_timer_t *t);

static void rn_init(rn_conn_t *rc, const rp_to_server_init_t *init)
{
    rn_t *rn = rc->rn;
    char *name = sx_strndup((const char *)init->name.p, init->name.len);
    bool was_connected = false;
    eng_runner_t *r = eng_runner_connect(rn->eng, rc->ns, name, rc->key, init, &was_connected);
    free(name);
    rn_conn_t *old = map_get(&rn->by_runner, r->runner_id, strlen(r->runner_id));
    if (old && old != rc) {
        /* The older socket of the same runner makes way; "ws.eviction" tells its SDK not to
         * reconnect, and it is sent for nothing else. */
        met_inc(rn->m_evictions);
        log_info("runner evicted by a newer socket", LF_S("runner_id", r->runner_id));
        rn_detach(old, 0);
        rn_close(old, 1000, "ws.eviction");
    }
    rc->runner = r;
    map_put(&rn->by_runner, r->runner_id, strlen(r->runner_id), rc);
    char subj[96];
    snprintf(subj, sizeof subj, "pegboard.runner.%s", r->runner_id);
    rc->sub = bus_subscribe(rn->bus, subj, rn_on_bus, rc);

    rp_to_client_t m;
    memset(&m, 0, sizeof m);
    m.tag = RP_TO_CLIENT_INIT;
    m.val.init.runner_id = slice_cstr(r->runner_id);
    m.val.init.metadata.runner_lost_threshold = eng_config(rn->eng)->runner_lost_threshold_ms;
    m.val.init.metadata.actor_stop_threshold = eng_config(rn->eng)->actor_stop_threshold_ms;
    rn_send(rc, &m);
    rc->last_pong = uv_now(rn->loop);
    uv_timer_start(&rc->timer, rn_on_timer, rn->cfg.ping_interval_ms + rnd_jitter_ms(), 0);
    eng_runner_ready(rn->eng, r);
}

static void rn_on_timer(uv_timer_t *t)
{
    rn_conn_t *rc = t->data;
    rn_t *rn = rc->rn;
    if (rc->closed)
        return;
    if (!rc->runner) {
        log_warn("runner sent no init in time", LF_S("peer", net_conn_peer(rc->c)));
        rn_close(rc, 1011, "ws.timed_out_waiting_for_init");
        return;
    }
    if (uv_now(rn->loop) - rc->last_pong > rn->cfg.ping_timeout_ms) {
        met_inc(rn->m_ping_timeouts);
        log_warn("runner ping timed out", LF_S("runner_id", rc->runner->runner_id));
        eng_runner_t *r = rc->runner;
        rn_detach(rc, 0);
        eng_runner_disconnected(rn->eng, r);
        rn_close(rc, 1011, "ws.ping_timed_out");
        return;
    }
    rp_to_client_t m;
    memset(&m, 0, sizeof m);
    m.tag = RP_TO_CLIENT_PING;
    m.val.ping.ts = eng_now_ms(rn->eng);
    rn_send(rc, &m);
    uv_timer_start(&rc->timer, rn_on_timer, rn->cfg.ping_interval_ms + rnd_jitter_ms(), 0);
}

/* A runner's tunnel message goes to the gateway that sent the request, named by the message
 * id: ToServer and ToGateway carry the same bytes after their union tags. The runner half only
 * routes it (msg is the ToServerTunnelMessage's encoding, tm its peeked id); the gateway, which
 * consumes it, decodes it. */
static void rn_tunnel(rn_conn_t *rc, const uint8_t *msg, size_t len,
                      const rp_to_server_tunnel_message_t *tm)
{
    /* Two of these go by per round trip, so the subject is spelled without printf and the
     * frame is built in a buffer kept for it. */
    static const char hex[] = "0123456789abcdef";
    char subj[] = "pegboard.gateway.00000000";
    char *h = subj + sizeof subj - 9;
    for (int i = 0; i < 4; i++) {
        h[2 * i] = hex[tm->message_id.gateway_id[i] >> 4];
        h[2 * i + 1] = hex[tm->message_id.gateway_id[i] & 15];
    }
    rn_t *rn = rc->rn;
    /* Delivery is synchronous and can, through an HTTP answer that lets a pipelined upgrade
     * go on, reach another runner frame; that one must not write over this one. */
    buf_t nested = BUF_INIT;
    buf_t *b = rn->scratch_busy ? &nested : &rn->scratch;
    buf_reset(b);
    rp_to_gateway_encode_tag_versioned(b, RP_TO_GATEWAY_SERVER_TUNNEL_MESSAGE);
    buf_append(b, msg, len);
    rn->scratch_busy++;
    bus_publish(rn->bus, subj, b->data, b->len);
    rn->scratch_busy--;
    buf_free(&nested);
    /* A large message leaves a large buffer; it is not kept for the small ones. */
    if (rn->scratch.cap > (64u << 10) && !rn->scratch_busy)
        buf_free(&rn->scratch);
}

static void rn_on_message(net_conn_t *c, void *ud, int binary, const uint8_t *data, size_t len)
{
    rn_conn_t *rc = ud;
    rn_t *rn = rc->rn;
    (void)c;
    if (!binary || rc->closed)
        return; /* the protocol is binary; text frames are ignored */
    rp_to_server_tag_t tag;
    size_t body;
    rp_to_server_tunnel_message_t tm;
    /* A frame over the limit is not decoded. When its head says it is a tunnel message, only
     * the head goes on: the gateway cannot decode it and ends the message's request as one
     * that does not decode (the client is answered at once instead of waiting for a timeout),
     * and the runner keeps its socket and its other actors. */
    size_t peek = len;
    if (len > bare_max_frame)
        peek = len < RN_PEEK_BYTES ? len : RN_PEEK_BYTES;
    if (rc->runner && rp_to_server_peek(data, peek, &tag, &body) == BARE_OK &&
        tag == RP_TO_SERVER_TUNNEL_MESSAGE &&
        rp_to_server_tunnel_message_peek(data + body, peek - body, &tm) == BARE_OK) {
        if (peek < len) {
            met_inc(rn->m_oversized);
            log_warn("runner sent a tunnel message over the frame limit; its request ends",
                     LF_U("bytes", len), LF_U("limit", bare_max_frame),
                     LF_S("runner_id", rc->runner->runner_id));
        }
        rn_tunnel(rc, data + body, peek - body, &tm);
        return;
    }
    rp_to_server_t m;
    bare_err_t err;
    memset(&err, 0, sizeof err);
    if (rp_to_server_decode(data, len, &m, &err) != BARE_OK) {
        char detail[160];
        bare_err_format(&err, detail, sizeof detail);
        met_inc(rn->m_closed_invalid);
        log_warn("runner sent a malformed frame", LF_S("error", detail), LF_U("bytes", len),
                 LF_S("runner_id", rc->runner ? rc->runner->runner_id : ""));
        eng_runner_t *r = rc->runner;
        rn_detach(rc, 0);
        if (r)
            eng_runner_disconnected(rn->eng, r);
        rn_close(rc, 1011, "ws.invalid_packet");
        return;
    }
    if (!rc->runner) {
        if (m.tag != RP_TO_SERVER_INIT) {
            met_inc(rn->m_closed_invalid);
            log_warn("runner's first frame is not ToServerInit", LF_I("tag", m.tag));
            rn_close(rc, 1011, "ws.invalid_packet");
        } else {
            rn_init(rc, &m.val.init);
        }
        rp_to_server_free(&m);
        return;
    }
    switch (m.tag) {
    case RP_TO_SERVER_INIT: break;
    case RP_TO_SERVER_EVENTS: eng_runner_events(rn->eng, rc->runner, &m.val.events); break;
    case RP_TO_SERVER_ACK_COMMANDS:
        eng_runner_ack_commands(rn->eng, rc->runner, &m.val.ack_commands);
        break;
    case RP_TO_SERVER_STOPPING: eng_runner_stopping(rn->eng, rc->runner); break;
    case RP_TO_SERVER_PONG: {
        int64_t rtt = eng_now_ms(rn->eng) - m.val.pong.ts;
        if (rtt < 0)
            rtt = 0;
        rc->last_pong = uv_now(rn->loop);
        eng_runner_pong(rn->eng, rc->runner, rtt);
        met_observe(rn->m_rtt, (double)rtt / 1000.0);
        break;
    }
    case RP_TO_SERVER_KV_REQUEST: rn_kv(rc, &m.val.kv_request); break;
    case RP_TO_SERVER_TUNNEL_MESSAGE: break; /* routed above: a frame the decoder accepts peeks */
    }
    rp_to_server_free(&m);
}

static void rn_on_close(net_conn_t *c, void *ud, int code, const uint8_t *reason, size_t len)
{
    rn_conn_t *rc = ud;
    log_info("runner closed its socket", LF_I("code", code),
             LF_S("runner_id", rc->runner ? rc->runner->runner_id : ""));
}

static void rn_on_closed(net_conn_t *c, void *ud)
{
    rn_conn_t *rc = ud;
    rn_t *rn = rc->rn;
    rc->closed = 1;
    rn_detach(rc, 1);
    uv_timer_stop(&rc->timer);
    if (rc->prev)
        rc->prev->next = rc->next;
    else
        rn->conns = rc->next;
    if (rc->next)
        rc->next->prev = rc->prev;
    rn->nconns--;
    rn_unref(rc);
}

static void rn_on_drain(net_conn_t *c, void *ud)
{
    rn_conn_t *rc = ud;
    if (rc->sub)
        bus_set_congested(rc->rn->bus, rc->sub, 0);
}

static const net_ws_handler_t rn_ws_handler = { rn_on_message, rn_on_close, rn_on_closed,
                                                rn_on_drain };

/* ---- The endpoint ---- */

int rn_handle(rn_t *rn, net_conn_t *c, hreq *req, const url_parts *u)
{
    static const char path[] = RN_CONNECT_PATH;
    if (!((u->path.len == sizeof path - 1 ||
           (u->path.len == sizeof path && u->path.p[sizeof path - 1] == '/')) &&
          memcmp(u->path.p, path, sizeof path - 1) == 0))
        return 0;
    if (!req->upgrade) {
        if (strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0) {
            static const char msg[] = "pegboard-runner WebSocket endpoint";
            net_http_respond(c, 200, "text/plain", NULL, msg, sizeof msg - 1);
        } else {
            net_http_error(c, 405, "api", "method_not_allowed", "use GET", NULL);
        }
        return 1;
    }

    buf_t version = BUF_INIT, ns_name = BUF_INIT, key = BUF_INIT;
    slice_t q = u->query;
    int rv = url_query_get(&q, "protocol_version", &version);
    int rn_ = url_query_get(&q, "namespace", &ns_name);
    int rk = url_query_get(&q, "runner_key", &key);
    const eng_ns_t *ns = NULL;
    wsh_offers offers;
    wsh_offers_init(&offers);
    if (rv != 1 || rn_ != 1 || rk != 1 || key.len == 0 || ns_name.len == 0) {
        net_http_error(c, 400, "ws", "invalid_url",
                       "protocol_version, namespace and runner_key are required query parameters",
                       NULL);
        goto out;
    }
    if (strcmp((char *)version.data, "7") != 0) {
        net_http_error(c, 400, "runner", "unsupported_protocol_version",
                       "sett speaks runner protocol version 7", NULL);
        goto out;
    }
    ns = eng_ns_get(rn->eng, (char *)ns_name.data);
    if (!ns) {
        net_http_error(c, 404, "namespace", "not_found", "no such namespace", NULL);
        goto out;
    }
    wsh_offers_parse(&offers, req);
    if (rn->cfg.token) {
        const slice_t *tok = NULL;
        for (size_t i = 0; i < offers.n; i++)
            if (offers.v[i].len >= 12 && memcmp(offers.v[i].p, "rivet_token.", 12) == 0)
                tok = &offers.v[i];
        if (!tok) {
            net_http_error(c, 401, "guard", "missing_header",
                           "offer the subprotocol rivet_token.<token>", NULL);
            goto out;
        }
        if (!sec_equal(rn->cfg.token, tok->p + 12, tok->len - 12)) {
            net_http_error(c, 403, "api", "forbidden", "wrong token", NULL);
            goto out;
        }
    }
    static const char *const pref[] = { "rivet", NULL };
    const slice_t *proto = wsh_select_protocol(&offers, pref);
    rn_conn_t *rc = sx_calloc(1, sizeof *rc);
    rc->rn = rn;
    rc->c = c;
    rc->ns = ns;
    rc->key = sx_strdup((char *)key.data);
    map_init(&rc->waits);
    rc->refs = 1;
    uv_timer_init(rn->loop, &rc->timer);
    rc->timer.data = rc;
    if (net_ws_accept(c, req, proto ? (const char *)proto->p : NULL, proto ? proto->len : 0,
                      &rn_ws_handler, rc) != 0) {
        rc->closed = 1;
        rn_unref(rc);
        goto out;
    }
    rc->next = rn->conns;
    if (rn->conns)
        rn->conns->prev = rc;
    rn->conns = rc;
    rn->nconns++;
    uv_timer_start(&rc->timer, rn_on_timer, rn->cfg.init_timeout_ms, 0);
out:
    wsh_offers_free(&offers);
    buf_free(&version);
    buf_free(&ns_name);
    buf_free(&key);
    return 1;
}

void rn_free(rn_t *rn)
{
    /* Sockets still open at this point are being dropped by the transport. */
    rn_conn_t *rc = rn->conns;
    while (rc) {
        rn_conn_t *next = rc->next;
        rc->closed = 1;
        rn_detach(rc, 0);
        uv_timer_stop(&rc->timer);
        rn_unref(rc);
        rc = next;
    }
    map_free(&rn->by_runner);
    buf_free(&rn->scratch);
    buf_free(&rn->encoded);
    free(rn->token);
    free(rn);
}
