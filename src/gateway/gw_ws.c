/* Tunnelled WebSockets, plain proxying: the client's upgrade is accepted at once and held paused
 * until the actor runs and acknowledges the open (sent with the forwarded headers), then
 * messages pass both ways and either side's close is carried to the other. The tunnel ping is in
 * gw_ping.c, the pending buffer and hibernation in gw_hib.c. */
#include "gateway/gw_impl.h"
#include "core/alloc.h"
#include "core/log.h"
#include "proto/bare.h"

#include <stdio.h>
#include <string.h>

static const net_ws_handler_t gw_ws_handler;

/* Counts why tunnelled WebSockets end; reasons are a small fixed set, so the label stays
 * bounded. */
static void gw_ws_count_close(const char *reason)
{
    char labels[96];
    snprintf(labels, sizeof labels, "reason=\"%s\"", reason);
    met_inc(met_counter("gateway_websocket_close_total", "Tunnelled WebSockets closed, by reason.",
                        labels));
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
    k.val.web_socket_close.reason = (slice_t){ (const uint8_t *)reason, len };
    gw_send(gw, r, &k);
}

/* An internal failure: the client gets 1011 guard.<code>#<request id> (or <code>#<request id>
 * for a code with its group), the actor a close. */
void gw_ws_fail(gw_t *gw, gw_req_t *r, const char *code)
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

/* A timeout in the 32 bits a socket keeps it in (a day at most comes through the configuration
 * and the policy's bounds). */
static uint32_t gw_ms32(uint64_t ms)
{
    return ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}

static void gw_ws_send_open(gw_t *gw, gw_req_t *r)
{
    gw_ws_req_t *w = gw_ws(r);
    rp_to_client_tunnel_message_kind_t k;
    memset(&k, 0, sizeof k);
    k.tag = RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_WEB_SOCKET_OPEN;
    rp_to_client_web_socket_open_t *o = &k.val.web_socket_open;
    o->actor_id = slice_cstr(r->actor_id);
    o->path = slice_cstr(w->open);
    /* The headers follow the path as name\0value\0 pairs, up to an empty name. */
    const char *first = w->open + strlen(w->open) + 1;
    size_t n = 0;
    for (const char *p = first; *p; n++) {
        p += strlen(p) + 1;
        p += strlen(p) + 1;
    }
    o->headers.items = sx_calloc(n + 1, sizeof *o->headers.items);
    for (const char *p = first; *p;) {
        size_t kl = strlen(p);
        const char *v = p + kl + 1;
        size_t vl = strlen(v);
        o->headers.items[o->headers.len].key = (slice_t){ (const uint8_t *)p, kl };
        o->headers.items[o->headers.len].value = (slice_t){ (const uint8_t *)v, vl };
        o->headers.len++;
        p = v + vl + 1;
    }
    gw_send(gw, r, &k);
    free(o->headers.items);
    r->state = GW_WAIT_OPEN;
    gw_timer_start(r, w->open_timeout_ms);
}

static void gw_ws_ready(void *ud, int err, eng_actor_t *a)
{
    gw_req_t *r = ud;
    gw_t *gw = r->gw;
    r->waiter = NULL;
    if (err != ENG_OK || !a->runner) {
        gw_ws_fail(gw, r, err == ENG_ETIMEDOUT ? "actor_ready_timeout" : "actor.not_found");
        return;
    }
    gw_set_runner(r, a->runner);
    gw_ws_send_open(gw, r);
}

/* The request's one timer: the open deadline, then the tunnel ping; asleep, the wake retry. */
void gw_ws_on_timer(gw_t *gw, gw_req_t *r)
{
    if (r->state == GW_WAIT_OPEN)
        gw_ws_fail(gw, r, "websocket_open_timeout");
    else if (r->state == GW_HIBERNATING)
        gw_hib_retry(gw, r);
    else if (r->state == GW_ACTIVE)
        gw_ping_tick(gw, r);
}

void gw_ws_start(gw_t *gw, net_conn_t *c, hreq *req, const char *actor_id, const char *path,
                 int lreq)
{
    gw_req_t *r = gw_req_new(gw, GW_WS, actor_id);
    gw_ws_req_t *w = gw_ws(r);

    /* The actor reads its encoding and connection parameters from the subprotocol list, so it
     * gets the list exactly as offered, repeated headers joined. */
    rp_map_str_str_t hm;
    gw_collect_headers(req, &hm);
    buf_t protos = BUF_INIT;
    size_t nproto = hreq_header_join(req, "sec-websocket-protocol", &protos);
    buf_t open = BUF_INIT;
    buf_append(&open, path, strlen(path) + 1);
    for (size_t i = 0; i < hm.len; i++) {
        buf_append(&open, hm.items[i].key.p, hm.items[i].key.len);
        buf_push(&open, '\0');
        if (nproto && hm.items[i].key.len == 22 &&
            memcmp(hm.items[i].key.p, "sec-websocket-protocol", 22) == 0)
            buf_append(&open, protos.data, protos.len);
        else
            buf_append(&open, hm.items[i].value.p, hm.items[i].value.len);
        buf_push(&open, '\0');
    }
    buf_push(&open, '\0');
    w->open = (char *)open.data;
    free(hm.items);
    buf_free(&protos);

    int rc = gw_ws_upgrade(c, req, &gw_ws_handler, r);
    if (rc != 0) {
        gw_req_release(r);
        return;
    }
    r->c = c;
    gw_register(gw, r);
    lh_timeouts_t to;
    gw_req_timeouts(gw, r, lreq, &to);
    if (lh_policy_wants_req_later(gw->pol, false))
        w->req = lh_policy_req_keep(gw->pol, lreq);
    w->open_timeout_ms = gw_ms32(to.websocket_open_timeout_ms);
    w->ping_interval_ms = gw_ms32(to.ping_interval_ms);
    w->ping_timeout_ms = gw_ms32(to.ping_timeout_ms);
    w->ack_timeout_ms = gw_ms32(to.ack_timeout_ms);
    w->max_pending_bytes = (size_t)to.max_pending_bytes;
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
        gw_hib_on_open(gw, r, k->val.web_socket_open.can_hibernate);
        /* Only the open carries the path and headers; a wake replays messages without a
         * second one. */
        free(gw_ws(r)->open);
        gw_ws(r)->open = NULL;
        gw_ping_start(gw, r);
        if (r->c)
            net_conn_pause(r->c, 0);
        return;
    case RP_TO_SERVER_TUNNEL_MESSAGE_KIND_WEB_SOCKET_MESSAGE:
        if (r->state == GW_HIBERNATING) {
            eng_actor_t *a = eng_actor_get(gw->eng, r->actor_id);
            if (a)
                gw_hib_actor_ready(gw, r, a);
        }
        if (r->state != GW_ACTIVE || !r->c)
            return;
        met_add(gw->m_bytes_in, (double)k->val.web_socket_message.data.len);
        net_ws_send(r->c, k->val.web_socket_message.binary, k->val.web_socket_message.data.p,
                    k->val.web_socket_message.data.len);
        return;
    case RP_TO_SERVER_TUNNEL_MESSAGE_KIND_WEB_SOCKET_MESSAGE_ACK:
        gw_hib_ack(r, k->val.web_socket_message_ack.index);
        return;
    case RP_TO_SERVER_TUNNEL_MESSAGE_KIND_WEB_SOCKET_CLOSE: {
        if (r->state != GW_WAIT_OPEN && r->state != GW_ACTIVE)
            return;
        const rp_to_server_web_socket_close_t *cl = &k->val.web_socket_close;
        if (cl->hibernate && r->can_hibernate && r->state == GW_ACTIVE) {
            gw_hib_hibernate(gw, r);
            return;
        }
        if (r->c) {
            gw_ws_count_close("runner_closed");
            if (cl->has_code)
                net_ws_close(r->c, cl->code, cl->has_reason ? (const char *)cl->reason.p : NULL,
                             cl->has_reason ? cl->reason.len : 0);
            else
                net_ws_close(r->c, 1000, "ws.closed", 9);
            net_conn_set_ud(r->c, NULL);
            r->c = NULL;
        }
        gw_req_release(r);
        return;
    }
    default: return;
    }
}

void gw_ws_on_actor_stop(gw_t *gw, gw_req_t *r)
{
    if (r->state == GW_WAIT_READY || r->state == GW_HIBERNATING)
        return; /* still waiting, or already parked: the wait covers a restart */
    if (r->can_hibernate && r->state == GW_ACTIVE) {
        gw_hib_hibernate(gw, r);
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
    k.val.web_socket_message.data = (slice_t){ data, len };
    k.val.web_socket_message.binary = binary;
    met_add(gw->m_bytes_out, (double)len);
    if (!r->can_hibernate) {
        gw_send(gw, r, &k);
        return;
    }
    /* A hibernatable socket keeps every message until the actor acks it. */
    gw_hib_client_message(gw, r, &k);
}

static void gw_ws_client_close(net_conn_t *c, void *ud, int code, const uint8_t *reason, size_t len)
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

static const net_ws_handler_t gw_ws_handler = { gw_ws_client_message, gw_ws_client_close,
                                                gw_ws_client_closed, NULL };
