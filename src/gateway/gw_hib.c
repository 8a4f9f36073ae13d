/* Hibernation of tunnelled WebSockets. A socket the actor (and the policy) calls hibernatable
 * keeps every client message it sent until the actor acks it (the pending buffer, indices
 * wrapping at 65536), so none is lost when the actor sleeps or its runner dies. When the actor
 * sleeps the client stays connected and hears nothing; the next client message, or messages
 * still unacked, wake the actor, and the socket re-enters without a second open, every unacked
 * message resent with its original index. Each hibernatable socket has a keepalive row in the
 * store, refreshed every half hibernation threshold, which the runner half lists in the start of
 * the actor. The GC pass closes a socket whose oldest unacked message is older than the ack
 * timeout. */
#include "gateway/gw_impl.h"
#include "core/alloc.h"
#include "core/log.h"
#include "core/random.h"
#include "lua/core.h"

#include <string.h>

/* How long a hibernating socket whose wake timed out, or found the store unreachable, waits
 * before trying again. */
#define GW_WAKE_RETRY_MS 250

/* How often a keepalive tick that found the store unreachable looks again. */
#define GW_KEEPALIVE_RETRY_MS 100

static void gw_hib_wake(gw_t *gw, gw_req_t *r);

/* ---- Pending messages and acks ---- */

/* Index order wraps at 65536: a is after b when it is less than half the circle ahead. */
static int gw_wrapping_gt(uint16_t a, uint16_t b)
{
    return a != b && (uint16_t)(a - b) < 32767;
}

/* Gives back n pending bytes to the gateway's count and the process-wide total. */
static void gw_pending_release(gw_t *gw, size_t n)
{
    gw->pending_bytes -= n;
    met_set(gw->m_pending, (double)gw->pending_bytes);
    if (gw->srv)
        net_server_unhold(gw->srv, n);
}

void gw_hib_ack(gw_req_t *r, uint16_t ack)
{
    gw_ws_req_t *w = gw_ws(r);
    size_t freed = 0;
    while (w->pend_head && !gw_wrapping_gt(w->pend_head->index, ack)) {
        gw_pending_t *p = w->pend_head;
        w->pend_head = p->next;
        if (!w->pend_head)
            w->pend_tail = NULL;
        w->pend_bytes -= p->len;
        w->pend_count--;
        freed += p->len;
        free(p);
    }
    if (freed)
        gw_pending_release(r->gw, freed);
}

void gw_hib_free_pending(gw_req_t *r)
{
    gw_ws_req_t *w = gw_ws(r);
    while (w->pend_head) {
        gw_pending_t *p = w->pend_head;
        w->pend_head = p->next;
        free(p);
    }
    if (w->pend_bytes)
        gw_pending_release(r->gw, w->pend_bytes);
    w->pend_tail = NULL;
    w->pend_bytes = 0;
    w->pend_count = 0;
}

void gw_hib_client_message(gw_t *gw, gw_req_t *r, const rp_to_client_tunnel_message_kind_t *k)
{
    gw_ws_req_t *w = gw_ws(r);
    const rp_to_client_web_socket_message_t *m = &k->val.web_socket_message;
    if (r->state == GW_HIBERNATING && gw->pol) {
        /* A keep-alive the policy can answer must not wake a sleeping actor. */
        eng_actor_t *a = eng_actor_get(gw->eng, r->actor_id);
        buf_t answer = BUF_INIT;
        if (a && lh_policy_auto_response(gw->pol, a, w->req, m->data.p, m->data.len, m->binary,
                                         &answer)) {
            net_ws_send(r->c, m->binary, answer.data, answer.len);
            buf_free(&answer);
            return;
        }
        buf_free(&answer);
    }
    uint16_t index = r->next_index++;
    gw_encode(gw, r, index, k);
    /* An empty buffer takes any message the transport accepted (limits.max_message_bytes
     * bounds it, and the configuration keeps the cap at least that): the encoding around the
     * payload, or a policy's lower cap, must not refuse a message sett let in. */
    if ((w->pend_head && w->pend_bytes + gw->scratch.len > w->max_pending_bytes) ||
        w->pend_count >= 65535) {
        gw_ws_fail(gw, r, "websocket_pending_limit_reached");
        return;
    }
    /* The process-wide total counts output queues and the pending messages of every socket
     * together; the message that would pass it closes its socket. */
    if (gw->srv && net_server_hold(gw->srv, gw->scratch.len) != 0) {
        gw_ws_fail(gw, r, "websocket_pending_total_limit_reached");
        return;
    }
    gw->pending_bytes += gw->scratch.len;
    met_set(gw->m_pending, (double)gw->pending_bytes);
    gw_pending_t *p = sx_malloc(sizeof *p + gw->scratch.len);
    p->next = NULL;
    p->index = index;
    p->sent_at = clk_now(gw->clk);
    p->len = gw->scratch.len;
    memcpy(p->bytes, gw->scratch.data, p->len);
    if (w->pend_tail)
        w->pend_tail->next = p;
    else
        w->pend_head = p;
    w->pend_tail = p;
    w->pend_bytes += p->len;
    w->pend_count++;
    if (r->state == GW_ACTIVE) {
        gw_publish(gw, r, p->bytes, p->len);
    } else if (!r->waiter) {
        gw_hib_wake(gw, r);
    }
}

/* The GC pass: closes a socket whose oldest unacked message is older than the ack timeout. */
void gw_hib_gc(gw_t *gw, gw_req_t *r, uint64_t now)
{
    gw_ws_req_t *w = gw_ws(r);
    if (w->pend_head && now - w->pend_head->sent_at > w->ack_timeout_ms && r->state == GW_ACTIVE)
        gw_ws_fail(gw, r, "websocket_service_timeout");
}

/* ---- Hibernate, wake, re-entry ---- */

void gw_hib_on_open(gw_t *gw, gw_req_t *r, int can_hibernate)
{
    r->can_hibernate = can_hibernate;
    if (gw->pol) {
        eng_actor_t *a = eng_actor_get(gw->eng, r->actor_id);
        if (a)
            r->can_hibernate = lh_policy_can_hibernate(gw->pol, a, gw_ws(r)->req, gw_ws(r)->open,
                                                       r->can_hibernate);
    }
    /* Past the open only auto_response may ask for the request table, and only while the
     * socket may hibernate: otherwise its memory goes now rather than with the socket. */
    if (!r->can_hibernate || !lh_policy_wants_req_later(gw->pol, true)) {
        lh_policy_req_free(gw->pol, gw_ws(r)->req);
        gw_ws(r)->req = LH_REQ_NONE;
    }
    if (r->can_hibernate) {
        gw_keepalive_one(gw, r);
        gw_hib_count(gw, r->actor_id, 1);
    }
}

/* The actor sleeps or its runner went away: the client stays connected and hears nothing;
 * its next data frame, or messages still unacked, wake the actor. */
void gw_hib_hibernate(gw_t *gw, gw_req_t *r)
{
    r->state = GW_HIBERNATING;
    gw_timer_stop(r);
    if (r->c)
        net_conn_lean(r->c, 1);
    log_info("gateway: websocket hibernating", LF_S("actor_id", r->actor_id),
             LF_U("pending", gw_ws(r)->pend_count));
    if (gw_ws(r)->pend_head)
        gw_hib_wake(gw, r);
}

/* The actor runs again: the socket re-enters without a second open, every unacked message is
 * resent with its original index, and the index counter goes on where it was. */
static void gw_hib_reenter(gw_t *gw, gw_req_t *r, eng_actor_t *a)
{
    gw_ws_req_t *w = gw_ws(r);
    gw_set_runner(r, a->runner);
    r->state = GW_ACTIVE;
    if (r->c)
        net_conn_lean(r->c, 0);
    /* The ack timeout of a resent message counts from its resending, not from its first send
     * to an actor that was asleep or gone. */
    uint64_t now = clk_now(gw->clk);
    for (gw_pending_t *p = w->pend_head; p; p = p->next) {
        p->sent_at = now;
        gw_publish(gw, r, p->bytes, p->len);
    }
    gw_ping_start(gw, r);
    log_info("gateway: websocket re-entered after hibernation", LF_S("actor_id", r->actor_id),
             LF_U("resent", w->pend_count));
}

static void gw_hib_rewoken(void *ud, int err, eng_actor_t *a)
{
    gw_req_t *r = ud;
    gw_ws_req_t *w = gw_ws(r);
    gw_t *gw = r->gw;
    r->waiter = NULL;
    if (err == ENG_ETIMEDOUT || (err == ENG_OK && !a->runner)) {
        /* The actor could not start in time (no runner, a store outage, a crash loop): the
         * client stays connected with its messages kept, and the wake is tried again. */
        log_warn("gateway: hibernating websocket could not wake its actor; retrying",
                 LF_S("actor_id", r->actor_id), LF_U("pending", w->pend_count));
        gw_timer_start(r, GW_WAKE_RETRY_MS);
        return;
    }
    if (err != ENG_OK) {
        gw_ws_fail(gw, r, "actor.not_found");
        return;
    }
    gw_hib_reenter(gw, r, a);
}

/* Something else woke the actor (another socket's message, a request, an alarm), or its runner
 * speaks on this socket: the runner restored the socket from the start's listing and may send
 * on it before its own client does, so the socket re-enters now, as Rivet's gateway re-enters
 * every hibernating socket of an actor once the actor is ready. */
void gw_hib_actor_ready(gw_t *gw, gw_req_t *r, eng_actor_t *a)
{
    if (r->state != GW_HIBERNATING || !a->runner)
        return;
    if (r->waiter) {
        eng_waiter_cancel(r->waiter);
        r->waiter = NULL;
    }
    gw_timer_stop(r);
    gw_hib_reenter(gw, r, a);
}

static void gw_hib_wake(gw_t *gw, gw_req_t *r)
{
    eng_actor_t *a = eng_actor_get(gw->eng, r->actor_id);
    if (!a || a->state == ENG_ACTOR_DESTROYED) {
        gw_ws_fail(gw, r, "actor.not_found");
        return;
    }
    if (!store_available(gw->store)) {
        /* The actor's state and the socket rows are out of reach: a start now would lose the
         * socket, so the messages stay kept and the wake waits for the store. */
        gw_timer_start(r, GW_WAKE_RETRY_MS);
        return;
    }
    /* The row is written fresh before the start is asked for: the store applies operations in
     * submission order, so the start's listing, made later, sees it even when the last
     * keepalive was lost or has aged past the threshold. */
    gw_keepalive_one(gw, r);
    r->waiter = eng_actor_wait_ready(gw->eng, a, gw->cfg.ready_timeout_ms, gw_hib_rewoken, r);
}

void gw_hib_retry(gw_t *gw, gw_req_t *r)
{
    /* A wake that timed out is tried again while messages wait. */
    if (gw_ws(r)->pend_head && !r->waiter)
        gw_hib_wake(gw, r);
}

/* ---- Keepalive rows ---- */

void gw_keepalive_one(gw_t *gw, gw_req_t *r)
{
    store_hib_row_t row = { r->actor_id, { 0 }, { 0 }, eng_now_ms(gw->eng) };
    memcpy(row.gateway_id, gw->id, 4);
    memcpy(row.request_id, r->rid, 4);
    store_hib_upsert(gw->store, &row, 1, (int64_t)gw->cfg.timeouts.hibernation_threshold_ms, NULL,
                     NULL);
}

void gw_keepalive_forget(gw_t *gw, gw_req_t *r)
{
    store_hib_delete(gw->store, r->actor_id, gw->id, r->rid, NULL, NULL);
}

/* One tick refreshes every row in one store call, so Redis sees one pipeline per tick rather
 * than a round trip per socket. */
static void gw_keepalive_tick(clk_timer_t *t)
{
    gw_t *gw = t->data;
    if (!store_available(gw->store)) {
        /* Writes now would only fail; the rows go out as soon as the store is back, so that
         * they are rewritten within one period of its return. */
        clk_start(gw->clk, &gw->keepalive, gw_keepalive_tick, GW_KEEPALIVE_RETRY_MS);
        return;
    }
    size_t n = 0;
    for (gw_req_t *r = gw->reqs; r; r = r->next)
        n += r->kind == GW_WS && r->can_hibernate;
    if (n) {
        store_hib_row_t *rows = sx_calloc(n, sizeof *rows);
        int64_t now = eng_now_ms(gw->eng);
        size_t i = 0;
        for (gw_req_t *r = gw->reqs; r; r = r->next) {
            if (r->kind != GW_WS || !r->can_hibernate)
                continue;
            rows[i].actor_id = r->actor_id;
            memcpy(rows[i].gateway_id, gw->id, 4);
            memcpy(rows[i].request_id, r->rid, 4);
            rows[i].last_ping_ts = now;
            i++;
        }
        store_hib_upsert(gw->store, rows, n, (int64_t)gw->cfg.timeouts.hibernation_threshold_ms,
                         NULL, NULL);
        free(rows);
    }
    clk_start(gw->clk, &gw->keepalive, gw_keepalive_tick,
              gw->cfg.timeouts.hibernation_threshold_ms / 2 + rnd_jitter_ms());
}

/* ---- Counts for sett.hibernation ---- */

void gw_hib_count(gw_t *gw, const char *actor_id, int delta)
{
    size_t len = strlen(actor_id);
    uintptr_t n = (uintptr_t)map_get(&gw->hib_counts, actor_id, len);
    n = delta > 0 ? n + 1 : n > 0 ? n - 1 : 0;
    if (n)
        map_put(&gw->hib_counts, actor_id, len, (void *)n);
    else
        map_del(&gw->hib_counts, actor_id, len);
}

size_t gw_hib_local(void *ud, const char *actor_id)
{
    gw_t *gw = ud;
    return (size_t)(uintptr_t)map_gets(&gw->hib_counts, actor_id);
}

/* One sett.hibernation ask on its way through the store. */
typedef struct gw_hib_ask {
    void (*cb)(void *cb_ud, const char *err, const lh_hib_row_t *rows, size_t n);
    void *cb_ud;
} gw_hib_ask_t;

static void gw_hib_on_rows(void *ud, int err, const store_hib_row_t *rows, size_t n)
{
    gw_hib_ask_t *a = ud;
    lh_hib_row_t *out = n ? sx_calloc(n, sizeof *out) : NULL;
    for (size_t i = 0; i < n; i++) {
        memcpy(out[i].gateway_id, rows[i].gateway_id, 4);
        memcpy(out[i].request_id, rows[i].request_id, 4);
        out[i].last_ping_ms = rows[i].last_ping_ts;
    }
    a->cb(a->cb_ud, err == STORE_OK ? NULL : store_strerror(err), out, err == STORE_OK ? n : 0);
    free(out);
    free(a);
}

void gw_hib_rows(void *ud, const char *actor_id,
                 void (*cb)(void *cb_ud, const char *err, const lh_hib_row_t *rows, size_t n),
                 void *cb_ud)
{
    gw_t *gw = ud;
    gw_hib_ask_t *a = sx_malloc(sizeof *a);
    a->cb = cb;
    a->cb_ud = cb_ud;
    int64_t min_ts = eng_now_ms(gw->eng) - (int64_t)gw->cfg.timeouts.hibernation_threshold_ms;
    store_hib_list(gw->store, actor_id, min_ts, gw_hib_on_rows, a);
}

void gw_keepalive_init(gw_t *gw)
{
    gw->keepalive.data = gw;
    clk_start(gw->clk, &gw->keepalive, gw_keepalive_tick,
              gw->cfg.timeouts.hibernation_threshold_ms / 2);
}
