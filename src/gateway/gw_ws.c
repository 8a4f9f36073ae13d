#include "gateway/gw_impl.h"
#include "core/alloc.h"
#include "core/log.h"
#include "core/random.h"
#include "net/ws_handshake.h"
#include "proto/bare.h"

#include <stdio.h>
#include <string.h>

static const net_ws_handler_t gw_ws_handler;

static void gw_ws_timer(uv_timer_t *t);

/* Counts why tunnelled WebSockets end; reasons are a small fixed set, so the label stays
 * bounded. */
static void gw_ws_count_close(const char *reason)
{
    char labels[96];
    snprintf(labels, sizeof labels, "reason=\"%s\"", reason);
    met_inc(met_counter("gateway_websocket_close_total", "Tunnelled WebSockets closed, by reason.",
                        labels));
}
static void gw_ws_hibernate(gw_t *gw, gw_req_t *r);
static void gw_ws_wake(gw_t *gw, gw_req_t *r);

/* How long a hibernating socket whose wake timed out, or found the store unreachable, waits
 * before trying again. */
#define GW_WAKE_RETRY_MS 250

/* Index order wraps at 65536: a is after b when it is less than half the circle ahead. */
static int gw_wrapping_gt(uint16_t a, uint16_t b)
{
    return a != b && (uint16_t)(a - b) < 32767;
}

static void gw_ws_ack(gw_req_t *r, uint16_t ack)
{
    while (r->pend_head && !gw_wrapping_gt(r->pend_head->index, ack)) {
        gw_pending_t *p = r->pend_head;
        r->pend_head = p->next;
        if (!r->pend_head)
            r->pend_tail = NULL;
        r->pend_bytes -= p->len;
        r->pend_count--;
        free(p);
    }
}

void gw_ws_free_pending(gw_req_t *r)
{
    while (r->pend_head) {
        gw_pending_t *p = r->pend_head;
        r->pend_head = p->next;
        free(p);
    }
    r->pend_tail = NULL;
    r->pend_bytes = 0;
    r->pend_count = 0;
}

/* Sends ToClientWebSocketClose to the actor. */
static void gw_ws_close_tunnel(gw_t *gw, gw_req_t *r, int code, const char *reason, size_t len)
{
    if (r->state != GW_WAIT_OPEN && r->state != GW_ACTIVE)
        return;
    rp_to_client_tunnel_message_kind_t k;
    memset(&k, 0, sizeof k);
    k.tag = RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_WEB_SOCKET_CLOSE;
    k.val.web_socket_close.has_code = code != 0;
    k.val.web_socket_close.code = (uint16_t)code;
    k.val.web_socket_close.has_reason = reason != NULL;
    k.val.web_socket_close.reason = (bare_str_t){ (const uint8_t *)reason, len };
    gw_send(gw, r, &k);
}

/* An internal failure: the client gets 1011 guard.<code>#<request id>, the actor a close. */
static void gw_ws_fail(gw_t *gw, gw_req_t *r, const char *code)
{
    char reason[128];
    gw_close_reason(r, code, reason, sizeof reason);
    log_info("gateway: closing websocket", LF_S("actor_id", r->actor_id), LF_S("reason", reason));
    gw_ws_count_close(code);
    gw_ws_close_tunnel(gw, r, 1011, "ws.downstream_closed", 20);
    if (r->c) {
        net_ws_close(r->c, 1011, reason, strlen(reason));
        net_conn_set_ud(r->c, NULL);
        r->c = NULL;
    }
    gw_req_release(r);
}

static void gw_ws_send_open(gw_t *gw, gw_req_t *r)
{
    rp_to_client_tunnel_message_kind_t k;
    memset(&k, 0, sizeof k);
    k.tag = RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_WEB_SOCKET_OPEN;
    rp_to_client_web_socket_open_t *o = &k.val.web_socket_open;
    o->actor_id = (bare_str_t){ (const uint8_t *)r->actor_id, strlen(r->actor_id) };
    o->path = (bare_str_t){ (const uint8_t *)r->path, strlen(r->path) };
    /* The headers were kept as name\0value\0 pairs when the request was upgraded. */
    size_t n = 0;
    for (size_t i = 0; i < r->headers.len; i++)
        n += r->headers.data[i] == '\0';
    o->headers.items = sx_calloc(n / 2 + 1, sizeof *o->headers.items);
    const char *p = (const char *)r->headers.data, *end = p + r->headers.len;
    while (p < end) {
        size_t kl = strlen(p);
        const char *v = p + kl + 1;
        size_t vl = strlen(v);
        o->headers.items[o->headers.len].key = (bare_str_t){ (const uint8_t *)p, kl };
        o->headers.items[o->headers.len].value = (bare_str_t){ (const uint8_t *)v, vl };
        o->headers.len++;
        p = v + vl + 1;
    }
    gw_send(gw, r, &k);
    free(o->headers.items);
    r->state = GW_WAIT_OPEN;
    gw_timer_start(r, gw_ws_timer, r->to.websocket_open_timeout_ms);
}

static void gw_ws_ready(void *ud, int err, eng_actor_t *a)
{
    gw_req_t *r = ud;
    gw_t *gw = r->gw;
    r->waiter = NULL;
    if (err != ENG_OK || !a->runner) {
        gw_ws_fail(gw, r, err == ENG_ETIMEDOUT ? "actor_ready_timeout" : "actor_not_found");
        return;
    }
    gw_set_runner(r, a->runner);
    gw_ws_send_open(gw, r);
}

static void gw_ws_ping(gw_t *gw, gw_req_t *r)
{
    rp_to_runner_t m;
    m.tag = RP_TO_RUNNER_PING;
    memcpy(m.val.ping.gateway_id, gw->id, 4);
    memcpy(m.val.ping.request_id, r->rid, 4);
    uv_timeval64_t tv;
    uv_gettimeofday(&tv);
    m.val.ping.ts = (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
    buf_reset(&gw->scratch);
    rp_to_runner_encode_versioned(&gw->scratch, &m);
    bus_publish(gw->bus, r->subject, gw->scratch.data, gw->scratch.len);
}

static void gw_ws_timer(uv_timer_t *t)
{
    gw_req_t *r = t->data;
    gw_t *gw = r->gw;
    if (r->state == GW_WAIT_OPEN) {
        gw_ws_fail(gw, r, "websocket_open_timeout");
        return;
    }
    if (r->state == GW_HIBERNATING) {
        /* A wake that timed out is tried again while messages wait. */
        if (r->pend_head && !r->waiter)
            gw_ws_wake(gw, r);
        return;
    }
    if (r->state != GW_ACTIVE)
        return;
    /* The timeout is checked against the last pong before each ping goes out. */
    if (uv_now(gw->loop) - r->last_pong > r->to.ping_timeout_ms) {
        gw_ws_fail(gw, r, "websocket_service_timeout");
        return;
    }
    gw_ws_ping(gw, r);
    gw_timer_start(r, gw_ws_timer, r->to.ping_interval_ms + rnd_jitter_ms());
}

void gw_ws_on_pong(gw_t *gw, gw_req_t *r)
{
    r->last_pong = uv_now(gw->loop);
}

void gw_ws_start(gw_t *gw, net_conn_t *c, hreq *req, const char *actor_id, const char *path)
{
    gw_req_t *r = gw_req_new(gw, GW_WS, actor_id, path);

    /* The actor reads its encoding and connection parameters from the subprotocol list, so it
     * gets the list exactly as offered, repeated headers joined. */
    rp_map_str_str_t hm;
    gw_collect_headers(req, &hm);
    buf_t protos = BUF_INIT;
    size_t nproto = hreq_header_join(req, "sec-websocket-protocol", &protos);
    for (size_t i = 0; i < hm.len; i++) {
        buf_append(&r->headers, hm.items[i].key.ptr, hm.items[i].key.len);
        buf_push(&r->headers, '\0');
        if (nproto && hm.items[i].key.len == 22 &&
            memcmp(hm.items[i].key.ptr, "sec-websocket-protocol", 22) == 0)
            buf_append(&r->headers, protos.data, protos.len);
        else
            buf_append(&r->headers, hm.items[i].value.ptr, hm.items[i].value.len);
        buf_push(&r->headers, '\0');
    }
    free(hm.items);
    buf_free(&protos);

    wsh_offers offers;
    wsh_offers_init(&offers);
    wsh_offers_parse(&offers, req);
    static const char *const pref[] = { "rivet", NULL };
    const hreq_str *proto = wsh_select_protocol(&offers, pref);
    int rc = net_ws_accept(c, req, proto ? proto->p : NULL, proto ? proto->len : 0,
                           &gw_ws_handler, r);
    wsh_offers_free(&offers);
    if (rc != 0) {
        gw_req_release(r);
        return;
    }
    r->c = c;
    gw_register(gw, r);
    gw_req_timeouts(gw, r);
    /* Client messages wait in the socket until the actor has accepted the open. */
    net_conn_pause(c, 1);
    eng_actor_t *a = eng_actor_get(gw->eng, actor_id);
    r->state = GW_WAIT_READY;
    r->waiter = eng_actor_wait_ready(gw->eng, a, gw->cfg.ready_timeout_ms, gw_ws_ready, r);
}

void gw_ws_on_message(gw_t *gw, gw_req_t *r, const rp_to_server_tunnel_message_kind_t *k)
{
    switch (k->tag) {
    case RP_TO_SERVER_TUNNEL_MESSAGE_KIND_WEB_SOCKET_OPEN:
        if (r->state != GW_WAIT_OPEN)
            return;
        r->state = GW_ACTIVE;
        /* Only the open carries the headers; a wake replays messages without a second one. */
        buf_free(&r->headers);
        r->can_hibernate = k->val.web_socket_open.can_hibernate;
        if (gw->pol) {
            eng_actor_t *a = eng_actor_get(gw->eng, r->actor_id);
            if (a)
                r->can_hibernate = lh_policy_can_hibernate(gw->pol, a, r->path, r->can_hibernate);
        }
        free(r->path);
        r->path = NULL;
        if (r->can_hibernate)
            gw_keepalive_one(gw, r);
        r->last_pong = uv_now(gw->loop);
        gw_timer_start(r, gw_ws_timer, r->to.ping_interval_ms + rnd_jitter_ms());
        if (r->c)
            net_conn_pause(r->c, 0);
        return;
    case RP_TO_SERVER_TUNNEL_MESSAGE_KIND_WEB_SOCKET_MESSAGE:
        if (r->state != GW_ACTIVE || !r->c)
            return;
        met_add(gw->m_bytes_in, (double)k->val.web_socket_message.data.len);
        net_ws_send(r->c, k->val.web_socket_message.binary, k->val.web_socket_message.data.ptr,
                    k->val.web_socket_message.data.len);
        return;
    case RP_TO_SERVER_TUNNEL_MESSAGE_KIND_WEB_SOCKET_MESSAGE_ACK:
        gw_ws_ack(r, k->val.web_socket_message_ack.index);
        return;
    case RP_TO_SERVER_TUNNEL_MESSAGE_KIND_WEB_SOCKET_CLOSE: {
        if (r->state != GW_WAIT_OPEN && r->state != GW_ACTIVE)
            return;
        const rp_to_server_web_socket_close_t *cl = &k->val.web_socket_close;
        if (cl->hibernate && r->can_hibernate && r->state == GW_ACTIVE) {
            gw_ws_hibernate(gw, r);
            return;
        }
        if (r->c) {
            gw_ws_count_close("runner_closed");
            if (cl->has_code)
                net_ws_close(r->c, cl->code, cl->has_reason ? (const char *)cl->reason.ptr : NULL,
                             cl->has_reason ? cl->reason.len : 0);
            else
                net_ws_close(r->c, 1000, "ws.closed", 9);
            net_conn_set_ud(r->c, NULL);
            r->c = NULL;
        }
        gw_req_release(r);
        return;
    }
    default:
        return;
    }
}

void gw_ws_on_actor_stop(gw_t *gw, gw_req_t *r)
{
    if (r->state == GW_WAIT_READY || r->state == GW_HIBERNATING)
        return; /* still waiting, or already parked: the wait covers a restart */
    if (r->can_hibernate && r->state == GW_ACTIVE) {
        gw_ws_hibernate(gw, r);
        return;
    }
    if (r->c) {
        gw_ws_count_close("actor_stopped");
        net_ws_close(r->c, 1000, "actor.stopped", 13);
        net_conn_set_ud(r->c, NULL);
        r->c = NULL;
    }
    gw_req_release(r);
}

static void gw_ws_client_message(net_conn_t *c, void *ud, int binary, const uint8_t *data,
                                 size_t len)
{
    gw_req_t *r = ud;
    if (!r || (r->state != GW_ACTIVE && r->state != GW_HIBERNATING))
        return;
    gw_t *gw = r->gw;
    rp_to_client_tunnel_message_kind_t k;
    k.tag = RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_WEB_SOCKET_MESSAGE;
    k.val.web_socket_message.data = (bare_data_t){ data, len };
    k.val.web_socket_message.binary = binary;
    met_add(gw->m_bytes_out, (double)len);
    if (!r->can_hibernate) {
        gw_send(gw, r, &k);
        return;
    }
    if (r->state == GW_HIBERNATING && gw->pol) {
        /* A keep-alive the policy can answer must not wake a sleeping actor. */
        eng_actor_t *a = eng_actor_get(gw->eng, r->actor_id);
        buf_t answer = BUF_INIT;
        if (a && lh_policy_auto_response(gw->pol, a, data, len, binary, &answer)) {
            net_ws_send(c, binary, answer.data, answer.len);
            buf_free(&answer);
            return;
        }
        buf_free(&answer);
    }
    /* A hibernatable socket keeps every message until the actor acks it, so none is lost when
     * the actor sleeps or its runner dies. */
    uint16_t index = r->next_index++;
    gw_encode(gw, r, index, &k);
    if (r->pend_bytes + gw->scratch.len > r->to.max_pending_bytes || r->pend_count >= 65535) {
        gw_ws_fail(gw, r, "websocket_pending_limit_reached");
        return;
    }
    gw_pending_t *p = sx_malloc(sizeof *p + gw->scratch.len);
    p->next = NULL;
    p->index = index;
    p->sent_at = uv_now(gw->loop);
    p->len = gw->scratch.len;
    memcpy(p->bytes, gw->scratch.data, p->len);
    if (r->pend_tail)
        r->pend_tail->next = p;
    else
        r->pend_head = p;
    r->pend_tail = p;
    r->pend_bytes += p->len;
    r->pend_count++;
    if (r->state == GW_ACTIVE) {
        gw_publish(gw, r, p->bytes, p->len);
    } else if (!r->waiter) {
        gw_ws_wake(gw, r);
    }
}

static void gw_ws_client_close(net_conn_t *c, void *ud, int code, const uint8_t *reason,
                               size_t len)
{
    gw_req_t *r = ud;
    if (!r)
        return;
    gw_ws_count_close("client_closed");
    gw_ws_close_tunnel(r->gw, r, code == 1005 ? 0 : code, len ? (const char *)reason : NULL, len);
    net_conn_set_ud(c, NULL);
    r->c = NULL;
    gw_req_release(r);
}

static void gw_ws_client_closed(net_conn_t *c, void *ud)
{
    gw_req_t *r = ud;
    if (!r)
        return;
    r->c = NULL;
    gw_ws_count_close("client_gone");
    /* The client vanished without a close frame: the actor hears of a normal end. */
    gw_ws_close_tunnel(r->gw, r, 1000, NULL, 0);
    gw_req_release(r);
}

/* The actor runs again: the socket re-enters without a second open, every unacked message is
 * resent with its original index, and the index counter goes on where it was. */
static void gw_ws_rewoken(void *ud, int err, eng_actor_t *a)
{
    gw_req_t *r = ud;
    gw_t *gw = r->gw;
    r->waiter = NULL;
    if (err == ENG_ETIMEDOUT || (err == ENG_OK && !a->runner)) {
        /* The actor could not start in time (no runner, a store outage, a crash loop): the
         * client stays connected with its messages kept, and the wake is tried again. */
        log_warn("gateway: hibernating websocket could not wake its actor; retrying",
                 LF_S("actor_id", r->actor_id), LF_U("pending", r->pend_count));
        gw_timer_start(r, gw_ws_timer, GW_WAKE_RETRY_MS);
        return;
    }
    if (err != ENG_OK) {
        gw_ws_fail(gw, r, "actor_not_found");
        return;
    }
    gw_set_runner(r, a->runner);
    r->state = GW_ACTIVE;
    if (r->c)
        net_conn_lean(r->c, 0);
    /* The ack timeout of a resent message counts from its resending, not from its first send
     * to an actor that was asleep or gone. */
    uint64_t now = uv_now(gw->loop);
    for (gw_pending_t *p = r->pend_head; p; p = p->next) {
        p->sent_at = now;
        gw_publish(gw, r, p->bytes, p->len);
    }
    r->last_pong = now;
    gw_timer_start(r, gw_ws_timer, r->to.ping_interval_ms + rnd_jitter_ms());
    log_info("gateway: websocket re-entered after hibernation", LF_S("actor_id", r->actor_id),
             LF_U("resent", r->pend_count));
}

static void gw_ws_wake(gw_t *gw, gw_req_t *r)
{
    eng_actor_t *a = eng_actor_get(gw->eng, r->actor_id);
    if (!a || a->state == ENG_ACTOR_DESTROYED) {
        gw_ws_fail(gw, r, "actor_not_found");
        return;
    }
    if (!store_available(gw->store)) {
        /* The actor's state and the socket rows are out of reach: a start now would lose the
         * socket, so the messages stay kept and the wake waits for the store. */
        gw_timer_start(r, gw_ws_timer, GW_WAKE_RETRY_MS);
        return;
    }
    /* The row is written fresh before the start is asked for: the store applies operations in
     * submission order, so the start's listing, made later, sees it even when the last
     * keepalive was lost or has aged past the threshold. */
    gw_keepalive_one(gw, r);
    r->waiter = eng_actor_wait_ready(gw->eng, a, gw->cfg.ready_timeout_ms, gw_ws_rewoken, r);
}

/* The actor sleeps or its runner went away: the client stays connected and hears nothing;
 * its next data frame, or messages still unacked, wake the actor. */
static void gw_ws_hibernate(gw_t *gw, gw_req_t *r)
{
    r->state = GW_HIBERNATING;
    gw_timer_drop(r);
    if (r->c)
        net_conn_lean(r->c, 1);
    log_info("gateway: websocket hibernating", LF_S("actor_id", r->actor_id),
             LF_U("pending", r->pend_count));
    if (r->pend_head)
        gw_ws_wake(gw, r);
}

void gw_ws_gc(gw_t *gw, gw_req_t *r, uint64_t now)
{
    if (r->pend_head && now - r->pend_head->sent_at > r->to.ack_timeout_ms &&
        r->state == GW_ACTIVE)
        gw_ws_fail(gw, r, "websocket_service_timeout");
}

static const net_ws_handler_t gw_ws_handler = { gw_ws_client_message, gw_ws_client_close,
                                                gw_ws_client_closed, NULL };
