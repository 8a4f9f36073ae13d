/* The gateway record: the in-flight table of request ids, the list of every request, request
 * records and their one timer, encoding and publishing tunnel frames, the bus handler that
 * dispatches what the runner half sends, and the GC pass. */
#include "gateway/gw_impl.h"
#include "core/alloc.h"
#include "core/log.h"
#include "core/random.h"
#include "core/utf8.h"
#include "proto/bare.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* Close reasons carry the request id as the ray id: "guard.<code>#<8 hex>", or
 * "<group>.<code>#<8 hex>" for a code that names its group, at most 123 bytes. */
void gw_close_reason(gw_req_t *r, const char *code, char *out, size_t n)
{
    snprintf(out, n, "%s%s#%02x%02x%02x%02x", strchr(code, '.') ? "" : "guard.", code, r->rid[0],
             r->rid[1], r->rid[2], r->rid[3]);
}

/* ---- In-flight table ---- */

void gw_register(gw_t *gw, gw_req_t *r)
{
    /* Request ids are random and unique among requests in flight. */
    for (int i = 0; i < 100; i++) {
        rnd_bytes(r->rid, 4);
        if (!map_get(&gw->inflight, r->rid, 4))
            break;
    }
    map_put(&gw->inflight, r->rid, 4, r);
    r->registered = 1;
    met_add(r->kind == GW_HTTP ? gw->m_http_inflight : gw->m_ws_inflight, 1);
}

void gw_unregister(gw_t *gw, gw_req_t *r)
{
    if (!r->registered)
        return;
    if (map_get(&gw->inflight, r->rid, 4) == r)
        map_del(&gw->inflight, r->rid, 4);
    r->registered = 0;
    met_add(r->kind == GW_HTTP ? gw->m_http_inflight : gw->m_ws_inflight, -1);
}

void gw_set_policy(gw_t *gw, struct lh_policy *pol)
{
    gw->pol = pol;
}

void gw_set_server(gw_t *gw, net_server_t *srv)
{
    gw->srv = srv;
}

void gw_req_timeouts(gw_t *gw, const gw_req_t *r, int lreq, lh_timeouts_t *to)
{
    *to = gw->cfg.timeouts;
    eng_actor_t *a = eng_actor_get(gw->eng, r->actor_id);
    if (a && gw->pol)
        lh_policy_timeouts(gw->pol, a, lreq, to);
}

size_t gw_in_flight(const gw_t *gw)
{
    return gw->inflight.n;
}

gw_req_t *gw_req_new(gw_t *gw, enum gw_kind kind, const char *actor_id)
{
    gw_req_t *r = sx_calloc(1, kind == GW_HTTP ? sizeof(gw_http_req_t) : sizeof(gw_ws_req_t));
    r->gw = gw;
    r->kind = kind;
    r->actor_id = sx_strdup(actor_id);
    r->timer.data = r;
    r->next = gw->reqs;
    if (gw->reqs)
        gw->reqs->prev = r;
    gw->reqs = r;
    return r;
}

static void gw_req_on_timer(clk_timer_t *t)
{
    gw_req_t *r = t->data;
    if (r->kind == GW_HTTP)
        gw_http_on_timer(r->gw, r);
    else
        gw_ws_on_timer(r->gw, r);
}

void gw_timer_start(gw_req_t *r, uint64_t ms)
{
    clk_start(r->gw->clk, &r->timer, gw_req_on_timer, ms);
}

void gw_timer_stop(gw_req_t *r)
{
    clk_stop(r->gw->clk, &r->timer);
}

static void gw_req_free(gw_req_t *r)
{
    /* Only a released request is freed: nothing may still find it or time it. */
    assert(r->state == GW_DONE && !r->registered && !r->waiter && !clk_active(&r->timer));
    if (r->kind == GW_HTTP) {
        free(gw_http(r)->path);
    } else {
        gw_hib_free_pending(r);
        free(gw_ws(r)->open);
        lh_policy_req_free(r->gw->pol, gw_ws(r)->req);
    }
    free(r->actor_id);
    free(r->subject);
    free(r);
}

static void gw_reap(clk_timer_t *t)
{
    gw_t *gw = t->data;
    while (gw->dead) {
        gw_req_t *r = gw->dead;
        gw->dead = r->prev;
        gw_req_free(r);
    }
}

/* Drops the request's last ties: the table entry, the list entry, the waiter and the timer. */
void gw_req_release(gw_req_t *r)
{
    gw_t *gw = r->gw;
    if (r->state == GW_DONE)
        return;
    r->state = GW_DONE;
    if (r->kind == GW_WS && r->can_hibernate) {
        gw_keepalive_forget(gw, r);
        gw_hib_count(gw, r->actor_id, -1);
    }
    gw_unregister(gw, r);
    if (r->waiter) {
        eng_waiter_cancel(r->waiter);
        r->waiter = NULL;
    }
    if (r->prev)
        r->prev->next = r->next;
    else
        gw->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    gw_timer_stop(r);
    /* The request is freed from the loop, after this turn's callbacks, so that callers up the
     * stack may still look at it (and a loop over the list that held it may still step on from
     * its next). */
    r->prev = gw->dead;
    gw->dead = r;
    if (!clk_active(&gw->reap))
        clk_start(gw->clk, &gw->reap, gw_reap, 0);
}

void gw_set_runner(gw_req_t *r, const eng_runner_t *runner)
{
    size_t n = sizeof "pegboard.runner." + strlen(runner->runner_id);
    free(r->subject);
    r->subject = sx_malloc(n);
    snprintf(r->subject, n, "pegboard.runner.%s", runner->runner_id);
}

void gw_encode(gw_t *gw, gw_req_t *r, uint16_t index, const rp_to_client_tunnel_message_kind_t *k)
{
    rp_to_runner_t m;
    m.tag = RP_TO_RUNNER_CLIENT_TUNNEL_MESSAGE;
    memcpy(m.val.client_tunnel_message.message_id.gateway_id, gw->id, 4);
    memcpy(m.val.client_tunnel_message.message_id.request_id, r->rid, 4);
    m.val.client_tunnel_message.message_id.message_index = index;
    m.val.client_tunnel_message.message_kind = *k;
    buf_reset(&gw->scratch);
    rp_to_runner_encode_versioned(&gw->scratch, &m);
}

void gw_publish(gw_t *gw, gw_req_t *r, const uint8_t *frame, size_t len)
{
    if (!r->subject)
        return; /* the actor never ran: there is no runner to tell */
    rp_to_runner_tag_t tag;
    size_t body;
    rp_to_client_tunnel_message_t tm;
    if (rp_to_runner_peek_versioned(frame, len, &tag, &body) == BARE_OK &&
        tag == RP_TO_RUNNER_CLIENT_TUNNEL_MESSAGE &&
        rp_to_client_tunnel_message_peek(frame + body, len - body, &tm) == BARE_OK)
        met_inc(gw->m_msgs_out[tm.message_kind.tag]);
    if (bus_publish(gw->bus, r->subject, frame, len) == 1 && r->c && !r->paused &&
        r->kind == GW_WS) {
        /* The runner is behind: stop reading this client until it catches up. */
        r->paused = 1;
        net_conn_pause(r->c, 1);
    }
}

void gw_send_at(gw_t *gw, gw_req_t *r, uint16_t index, const rp_to_client_tunnel_message_kind_t *k)
{
    gw_encode(gw, r, index, k);
    gw_publish(gw, r, gw->scratch.data, gw->scratch.len);
}

static void gw_on_drain(void *ud, const char *subject)
{
    gw_t *gw = ud;
    for (gw_req_t *r = gw->reqs; r; r = r->next) {
        if (r->paused && r->subject && strcmp(r->subject, subject) == 0) {
            r->paused = 0;
            if (r->c && r->state == GW_ACTIVE)
                net_conn_pause(r->c, 0);
        }
    }
}

void gw_send(gw_t *gw, gw_req_t *r, const rp_to_client_tunnel_message_kind_t *k)
{
    gw_send_at(gw, r, r->next_index++, k);
}

/* Headers go to the actor with lowercase names, one value per name (the last wins, as in Rivet's
 * gateway), and the subprotocol offer list joined whole. A value keeps its tabs (Rivet does) and
 * its bytes above 0x7f, each read as one Latin-1 character as Node and browsers read header
 * bytes: fetch sends a string such as RivetKit's JSON connection parameters one byte per
 * character, so the actor reads back the string the client sent. A value with any other control
 * byte is left out. The UTF-8 of such values is kept in the one allocation after the items. */
void gw_collect_headers(const hreq *req, rp_map_str_str_t *out)
{
    /* A value with bytes above 0x7f takes a byte more for each of them. */
    size_t extra = 0;
    for (size_t i = 0; i < req->nheaders; i++) {
        size_t high = 0;
        for (size_t j = 0; j < req->headers[i].value.len; j++)
            high += req->headers[i].value.p[j] >= 0x80;
        extra += high ? req->headers[i].value.len + high : 0;
    }
    size_t n = req->nheaders ? req->nheaders : 1;
    out->items = sx_calloc(1, n * sizeof *out->items + extra);
    uint8_t *store = (uint8_t *)(out->items + n);
    out->len = 0;
    for (size_t i = 0; i < req->nheaders; i++) {
        const hreq_hdr *h = &req->headers[i];
        int ok = h->name.len > 0;
        size_t high = 0;
        for (size_t j = 0; ok && j < h->value.len; j++) {
            unsigned char ch = (unsigned char)h->value.p[j];
            ok = ch == '\t' || (ch >= 0x20 && ch != 0x7f);
            high += ch >= 0x80;
        }
        if (!ok)
            continue;
        slice_t value = h->value;
        if (high) {
            uint8_t *v = store;
            for (size_t j = 0; j < h->value.len; j++)
                store += utf8_encode(store, h->value.p[j]);
            value = (slice_t){ v, (size_t)(store - v) };
        }
        /* Names are lowercased in place: http_req keeps them in its own buffer, and nothing
         * reads the original spelling after routing. */
        char *name = (char *)h->name.p;
        for (size_t j = 0; j < h->name.len; j++)
            name[j] = (char)tolower((unsigned char)name[j]);
        size_t k;
        for (k = 0; k < out->len; k++)
            if (out->items[k].key.len == h->name.len &&
                memcmp(out->items[k].key.p, name, h->name.len) == 0)
                break;
        if (k == out->len)
            out->len++;
        out->items[k].key = (slice_t){ (const uint8_t *)name, h->name.len };
        out->items[k].value = value;
    }
}

/* ---- From the runner half ---- */

/* The runner half routes a runner's tunnel message on its peeked id without decoding it, so a
 * message that does not decode is found here: its request ends as an aborted one (an HTTP
 * request gets 503 guard.tunnel_request_aborted, a WebSocket 1011 guard.invalid_tunnel_message). */
static void gw_invalid_message(gw_t *gw, const uint8_t *f, size_t n)
{
    rp_to_gateway_tag_t tag;
    size_t body;
    rp_to_server_tunnel_message_t tm;
    if (rp_to_gateway_peek_versioned(f, n, &tag, &body) != BARE_OK ||
        tag != RP_TO_GATEWAY_SERVER_TUNNEL_MESSAGE ||
        rp_to_server_tunnel_message_peek(f + body, n - body, &tm) != BARE_OK)
        return;
    gw_req_t *r = map_get(&gw->inflight, tm.message_id.request_id, 4);
    if (!r)
        return;
    if (r->kind == GW_HTTP) {
        rp_to_server_tunnel_message_kind_t abort;
        memset(&abort, 0, sizeof abort);
        abort.tag = RP_TO_SERVER_TUNNEL_MESSAGE_KIND_RESPONSE_ABORT;
        gw_http_on_message(gw, r, &abort);
    } else {
        gw_ws_fail(gw, r, "invalid_tunnel_message");
    }
}

static void gw_on_bus(void *ud, const char *subject, const uint8_t *f, size_t n)
{
    gw_t *gw = ud;
    (void)subject;
    rp_to_gateway_t m;
    bare_err_t err;
    if (rp_to_gateway_decode_versioned(f, n, &m, &err) != BARE_OK) {
        char detail[160];
        bare_err_format(&err, detail, sizeof detail);
        log_warn("gateway: malformed frame on the bus", LF_S("error", detail));
        gw_invalid_message(gw, f, n);
        return;
    }
    if (m.tag == RP_TO_GATEWAY_PONG) {
        gw_ping_on_pong(gw, &m.val.pong);
    } else {
        const rp_to_server_tunnel_message_t *tm = &m.val.server_tunnel_message;
        gw_req_t *r = map_get(&gw->inflight, tm->message_id.request_id, 4);
        if ((unsigned)tm->message_kind.tag < 7)
            met_inc(gw->m_msgs_in[tm->message_kind.tag]);
        if (r && r->kind == GW_HTTP)
            gw_http_on_message(gw, r, &tm->message_kind);
        else if (r)
            gw_ws_on_message(gw, r, &tm->message_kind);
    }
    rp_to_gateway_free(&m);
}

static void gw_on_actor_stop(void *ud, eng_actor_t *a)
{
    gw_t *gw = ud;
    gw_req_t *r = gw->reqs;
    while (r) {
        gw_req_t *next = r->next;
        if (strcmp(r->actor_id, a->actor_id) == 0) {
            if (r->kind == GW_HTTP)
                gw_http_on_actor_stop(gw, r);
            else
                gw_ws_on_actor_stop(gw, r);
        }
        r = next;
    }
}

static void gw_on_actor_ready(void *ud, eng_actor_t *a)
{
    gw_t *gw = ud;
    for (gw_req_t *r = gw->reqs; r; r = r->next)
        if (r->kind == GW_WS && strcmp(r->actor_id, a->actor_id) == 0)
            gw_hib_actor_ready(gw, r, a);
}

/* Requests leave the table when their client or their answer ends; this pass is the safety net
 * that finds one whose client is gone without it having noticed. */
static void gw_gc(clk_timer_t *t)
{
    gw_t *gw = t->data;
    uint64_t now = clk_now(gw->clk);
    clk_start(gw->clk, &gw->gc, gw_gc, gw->cfg.gc_interval_ms);
    gw_req_t *r = gw->reqs;
    while (r) {
        gw_req_t *next = r->next;
        if (!r->c) {
            met_inc(gw->m_gc_removed);
            gw_req_release(r);
        } else if (r->kind == GW_WS) {
            gw_hib_gc(gw, r, now);
        }
        r = next;
    }
}

gw_t *gw_new(uv_loop_t *loop, eng_t *eng, bus_t *bus, store_t *store, const gw_config_t *cfg)
{
    gw_t *gw = sx_calloc(1, sizeof *gw);
    gw->loop = loop;
    gw->clk = eng_clock(eng);
    gw->eng = eng;
    gw->bus = bus;
    gw->store = store;
    gw->cfg = *cfg;
    rnd_bytes(gw->id, 4);
    snprintf(gw->subject, sizeof gw->subject, "pegboard.gateway.%02x%02x%02x%02x", gw->id[0],
             gw->id[1], gw->id[2], gw->id[3]);
    map_init(&gw->inflight);
    map_init(&gw->hib_counts);
    gw->sub = bus_subscribe(bus, gw->subject, gw_on_bus, gw);
    bus_on_drain(bus, gw_on_drain, gw);
    eng_on_actor_stop(eng, gw_on_actor_stop, gw);
    eng_on_actor_ready(eng, gw_on_actor_ready, gw);
    gw->gc.data = gw->reap.data = gw;
    clk_start(gw->clk, &gw->gc, gw_gc, cfg->gc_interval_ms);
    gw_keepalive_init(gw);
    gw_ping_init(gw);
    gw->m_http_inflight = met_gauge("gateway_in_flight", "Tunnelled requests in flight.",
                                    "kind=\"http\"");
    gw->m_ws_inflight = met_gauge("gateway_in_flight", "Tunnelled requests in flight.",
                                  "kind=\"ws\"");
    gw->m_http_duration = met_histogram("gateway_request_duration_seconds",
                                        "Tunnelled HTTP request durations.", NULL, NULL, 0);
    static const char *const in_kinds[] = { "response_start",    "response_chunk",
                                            "response_abort",    "websocket_open",
                                            "websocket_message", "websocket_message_ack",
                                            "websocket_close" };
    static const char *const out_kinds[] = { "request_start",     "request_chunk",
                                             "request_abort",     "websocket_open",
                                             "websocket_message", "websocket_close" };
    for (int i = 0; i < 7; i++) {
        char labels[96];
        snprintf(labels, sizeof labels, "direction=\"from_runner\",kind=\"%s\"", in_kinds[i]);
        gw->m_msgs_in[i] = met_counter("gateway_tunnel_messages_total", "Tunnel messages.", labels);
        if (i < 6) {
            snprintf(labels, sizeof labels, "direction=\"to_runner\",kind=\"%s\"", out_kinds[i]);
            gw->m_msgs_out[i] = met_counter("gateway_tunnel_messages_total", "Tunnel messages.",
                                            labels);
        }
    }
    gw->m_bytes_in = met_counter("gateway_bytes_total", "Payload bytes through the tunnel.",
                                 "direction=\"from_runner\"");
    gw->m_bytes_out = met_counter("gateway_bytes_total", "Payload bytes through the tunnel.",
                                  "direction=\"to_runner\"");
    gw->m_gc_removed = met_counter("gateway_gc_removed_total",
                                   "In-flight requests removed by the GC pass.", NULL);
    gw->m_pending = met_gauge("gateway_pending_bytes",
                              "Unacked client messages kept for hibernatable sockets, bytes.",
                              NULL);
    log_info("gateway ready", LF_S("gateway_id", gw->subject + 17));
    return gw;
}

void gw_free(gw_t *gw)
{
    /* The transport may be freed already; what is released now is not counted there. */
    gw->srv = NULL;
    while (gw->reqs)
        gw_req_release(gw->reqs);
    eng_on_actor_stop(gw->eng, NULL, NULL);
    eng_on_actor_ready(gw->eng, NULL, NULL);
    bus_on_drain(gw->bus, NULL, NULL);
    bus_unsubscribe(gw->bus, gw->sub);
    map_free(&gw->inflight);
    map_free(&gw->hib_counts);
    buf_free(&gw->scratch);
    clk_stop(gw->clk, &gw->keepalive);
    clk_stop(gw->clk, &gw->gc);
    clk_stop(gw->clk, &gw->reap);
    gw_reap(&gw->reap);
    free(gw);
}

/* ---- Requests for actors ---- */

/* The policy's authorize hook, asked before a request reaches an actor (a CORS preflight is
 * answered before it: it carries no credentials); a refusal is answered here. */
static bool gw_authorized(gw_t *gw, net_conn_t *c, hreq *req, int lreq, const eng_actor_t *a)
{
    lh_route_t r;
    bool ok = lh_policy_authorize(gw->pol, lreq, req, net_conn_peer(c), a, &r);
    if (!ok)
        gw_refuse_answer(c, req, r.status, (const char *)r.headers.data, r.body.data, r.body.len);
    lh_route_free(&r);
    return ok;
}

/* gw_reachable for a request: a WebSocket upgrade (req set) hears the refusal after its
 * upgrade, as a close. */
static int gw_reachable_req(gw_t *gw, net_conn_t *c, hreq *req, const char *actor_id)
{
    eng_actor_t *a = eng_actor_get(gw->eng, actor_id);
    if (!a || a->state == ENG_ACTOR_DESTROYED) {
        gw_refuse(c, req, 404, "actor", "not_found", "The actor does not exist or was destroyed.",
                  NULL);
        return 0;
    }
    if (a->state != ENG_ACTOR_RUNNING && !store_available(gw->store)) {
        /* Starting the actor needs what the store holds (its KV, its sockets' rows); it would
         * only fail, so the client hears at once that the store is away. */
        gw_refuse(c, req, 503, "store", "unavailable",
                  "The store is unavailable, so the actor cannot be started; retry later.", NULL);
        return 0;
    }
    return 1;
}

int gw_reachable(gw_t *gw, net_conn_t *c, const char *actor_id)
{
    return gw_reachable_req(gw, c, NULL, actor_id);
}

void gw_forward_req(gw_t *gw, net_conn_t *c, hreq *req, const char *actor_id, const char *path,
                    int lreq)
{
    if (!gw_reachable_req(gw, c, req, actor_id))
        return;
    /* A request route() did not see gets its table here, when a hook takes it; the hooks of
     * one request all see the same one. */
    int own = LH_REQ_NONE;
    if (lreq == LH_REQ_NONE && lh_policy_wants_req(gw->pol, req->upgrade))
        lreq = own = lh_policy_req_new(gw->pol, req, net_conn_peer(c));
    if (gw_authorized(gw, c, req, lreq, eng_actor_get(gw->eng, actor_id))) {
        if (req->upgrade)
            gw_ws_start(gw, c, req, actor_id, path, lreq);
        else
            gw_http_start(gw, c, req, actor_id, path, lreq);
    }
    lh_policy_req_free(gw->pol, own);
}

void gw_forward(gw_t *gw, net_conn_t *c, hreq *req, const char *actor_id, const char *path)
{
    gw_forward_req(gw, c, req, actor_id, path, LH_REQ_NONE);
}

/* Added for the configuration reload (src/main.c): requests and sockets that start later use
 * the new values, those in flight keep the timeouts they were given at their start. The GC
 * timer restarts only when its period changed, so a reload does not postpone a pass. */
void gw_set_config(gw_t *gw, const gw_config_t *cfg)
{
    uint64_t gc = gw->cfg.gc_interval_ms;
    gw->cfg = *cfg;
    if (cfg->gc_interval_ms != gc)
        clk_start(gw->clk, &gw->gc, gw_gc, cfg->gc_interval_ms);
}
