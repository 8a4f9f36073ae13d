#include "runner/runner.h"
#include "core/alloc.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/random.h"
#include "core/secret.h"
#include "engine/engine_runner.h"
#include "net/ws_handshake.h"
#include "proto/bare.h"
#include "proto/rp_v7.h"
#include "core/map.h"

#include <stdio.h>
#include <string.h>

#define RN_PROTOCOL_VERSION 7

typedef struct rn_conn {
    rn_t *rn;
    net_conn_t *c;
    struct rn_conn *prev, *next;
    const eng_ns_t *ns;
    char *key;
    eng_runner_t *runner;      /* after Init, while this socket holds the runner */
    bus_sub_t *sub;
    uv_timer_t timer;          /* the Init deadline, then the ping period */
    uint64_t last_pong;        /* loop time, ms */
    int refs;                  /* the socket, plus one per store request in flight */
    int closed;                /* the socket is gone */
    struct rn_out *outq, *outq_tail; /* frames held behind a start still being completed */
} rn_conn_t;

/* A ToClient frame waiting its turn: commands that start actors wait for their hibernating
 * requests from the store, and everything after them waits too, so the runner sees frames in
 * the order they were published. */
typedef struct rn_out {
    struct rn_out *next;
    rn_conn_t *rc;
    int waiting;               /* store lookups still outstanding */
    uint8_t tag;               /* ToClient tag for a forwarded frame */
    buf_t bytes;               /* the ToRunner frame as published */
    rp_to_runner_t msg;        /* decoded, for commands with starts */
    int decoded;
} rn_out_t;

struct rn {
    uv_loop_t *loop;
    eng_t *eng;
    store_t *store;
    bus_t *bus;
    rn_config_t cfg;
    char *token;
    rn_conn_t *conns;
    size_t nconns;
    map_t by_runner;     /* runner id -> the socket holding it */
    buf_t scratch;             /* the ToGateway frame being published */
    int scratch_busy;          /* publishing from scratch: a nested frame needs its own */
    buf_t encoded;             /* a ToClient frame being written (rn_send may run while a
                                * subscriber still reads scratch) */
    met_series_t *m_closed_invalid, *m_evictions, *m_ping_timeouts, *m_rtt;
};

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
    rn->m_evictions = met_counter("sett_runner_evictions_total",
                                  "Runner sockets replaced by a newer one with the same key.", NULL);
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

static void rn_out_free(struct rn_out *o);

static void rn_conn_free(uv_handle_t *h)
{
    rn_conn_t *rc = h->data;
    while (rc->outq) {
        struct rn_out *o = rc->outq;
        rc->outq = o->next;
        rn_out_free(o);
    }
    free(rc->key);
    free(rc);
}

static void rn_unref(rn_conn_t *rc)
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

static void rn_send(rn_conn_t *rc, const rp_to_client_t *m)
{
    buf_t *b = &rc->rn->encoded;
    buf_reset(b);
    rp_to_client_encode(b, m);
    net_ws_send(rc->c, 1, b->data, b->len);
    if (b->cap > (64u << 10))
        buf_free(b);
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

static void rn_out_free(rn_out_t *o)
{
    /* The filled-in lists come from the same allocator as decoded ones and go with them. */
    if (o->decoded)
        rp_to_runner_free(&o->msg);
    buf_free(&o->bytes);
    free(o);
}

static void rn_out_send(rn_conn_t *rc, rn_out_t *o)
{
    if (rc->closed)
        return;
    if (o->decoded) {
        rp_to_client_t m;
        memset(&m, 0, sizeof m);
        m.tag = RP_TO_CLIENT_COMMANDS;
        m.val.commands = o->msg.val.client_commands;
        rn_send(rc, &m);
    } else {
        net_ws_sendv(rc->c, 1, &o->tag, 1, o->bytes.data + 3, o->bytes.len - 3);
    }
}

static void rn_out_flush(rn_conn_t *rc)
{
    while (rc->outq && !rc->outq->waiting) {
        rn_out_t *o = rc->outq;
        rc->outq = o->next;
        if (!rc->outq)
            rc->outq_tail = NULL;
        rn_out_send(rc, o);
        rn_out_free(o);
    }
}

typedef struct rn_hib_q {
    rn_out_t *out;
    rp_command_start_actor_t *start;
    char *actor_id;
    int64_t min_ts;
    uint64_t deadline;         /* loop time after which the start goes without its rows */
    uv_timer_t retry;
} rn_hib_q_t;

/* While the store cannot be reached, the listing is tried again this often, for at most this
 * long; meanwhile the start, and the frames after it, wait. Starting without the rows would
 * make the runner drop every socket it persisted for the actor. */
#define RN_HIB_RETRY_MS 100
#define RN_HIB_RETRY_MAX_MS 5000

static void rn_hib_listed(void *ud, int err, const store_hib_row_t *rows, size_t n);

static void rn_hib_q_closed(uv_handle_t *h)
{
    rn_hib_q_t *q = h->data;
    free(q->actor_id);
    free(q);
}

static void rn_hib_retry(uv_timer_t *t)
{
    rn_hib_q_t *q = t->data;
    store_hib_list(q->out->rc->rn->store, q->actor_id, q->min_ts, rn_hib_listed, q);
}

static void rn_hib_listed(void *ud, int err, const store_hib_row_t *rows, size_t n)
{
    rn_hib_q_t *q = ud;
    rn_out_t *o = q->out;
    rn_conn_t *rc = o->rc;
    if (err == STORE_EUNAVAILABLE && !rc->closed && uv_now(rc->rn->loop) < q->deadline) {
        uv_timer_start(&q->retry, rn_hib_retry, RN_HIB_RETRY_MS, 0);
        return;
    }
    if (err == STORE_OK && n) {
        rp_hibernating_request_t *items = sx_calloc(n, sizeof *items);
        for (size_t i = 0; i < n; i++) {
            memcpy(items[i].gateway_id, rows[i].gateway_id, 4);
            memcpy(items[i].request_id, rows[i].request_id, 4);
        }
        q->start->hibernating_requests.items = items;
        q->start->hibernating_requests.len = n;
    } else if (err != STORE_OK) {
        log_warn("runner: cannot list hibernating requests; starting without them",
                 LF_S("actor_id", q->actor_id), LF_S("error", store_strerror(err)));
    }
    uv_close((uv_handle_t *)&q->retry, rn_hib_q_closed);
    o->waiting--;
    if (!o->waiting)
        rn_out_flush(rc);
    rn_unref(rc);
}

/* Fills CommandStartActor.hibernatingRequests at send time from the keepalive rows of each
 * actor refreshed within the threshold, as pegboard-runner does. */
static int rn_commands_with_starts(rn_conn_t *rc, rn_out_t *o)
{
    rn_t *rn = rc->rn;
    bare_err_t err;
    if (rp_to_runner_decode_versioned(o->bytes.data, o->bytes.len, &o->msg, &err) != BARE_OK)
        return 0;
    o->decoded = 1;
    int64_t min_ts = eng_now_ms(rn->eng) - (int64_t)rn->cfg.hib_eligible_ms;
    rp_to_client_commands_t *cmds = &o->msg.val.client_commands;
    for (size_t i = 0; i < cmds->len; i++) {
        rp_command_wrapper_t *w = &cmds->items[i];
        if (w->inner.tag != RP_COMMAND_START_ACTOR)
            continue;
        free(w->inner.val.start_actor.hibernating_requests.items);
        w->inner.val.start_actor.hibernating_requests.items = NULL;
        w->inner.val.start_actor.hibernating_requests.len = 0;
        rn_hib_q_t *q = sx_calloc(1, sizeof *q);
        q->out = o;
        q->start = &w->inner.val.start_actor;
        q->actor_id = sx_strndup((const char *)w->checkpoint.actor_id.p,
                                 w->checkpoint.actor_id.len);
        q->min_ts = min_ts;
        uint64_t max_wait = rn->cfg.hib_eligible_ms < RN_HIB_RETRY_MAX_MS ? rn->cfg.hib_eligible_ms
                                                                          : RN_HIB_RETRY_MAX_MS;
        q->deadline = uv_now(rn->loop) + max_wait;
        uv_timer_init(rn->loop, &q->retry);
        q->retry.data = q;
        o->waiting++;
        rc->refs++;
        store_hib_list(rn->store, q->actor_id, min_ts, rn_hib_listed, q);
    }
    return 1;
}

static void rn_on_bus(void *ud, const char *subject, const uint8_t *f, size_t n)
{
    rn_conn_t *rc = ud;
    (void)subject;
    if (rc->closed || n < 3 || f[0] != RN_PROTOCOL_VERSION || f[1] != 0)
        return;
    /* Commands, acks and tunnel messages have the same bytes in ToRunner and ToClient; only
     * the union tag differs, so they are forwarded without decoding. */
    uint8_t tag;
    switch (f[2]) {
    case RP_TO_RUNNER_CLIENT_COMMANDS:
        tag = RP_TO_CLIENT_COMMANDS;
        break;
    case RP_TO_RUNNER_CLIENT_ACK_EVENTS:
        tag = RP_TO_CLIENT_ACK_EVENTS;
        break;
    case RP_TO_RUNNER_CLIENT_TUNNEL_MESSAGE:
        tag = RP_TO_CLIENT_TUNNEL_MESSAGE;
        break;
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
    case RP_TO_RUNNER_CLOSE:
        rn_close(rc, 1000, "ws.eviction");
        return;
    default:
        return;
    }
    if (!rc->outq && f[2] != RP_TO_RUNNER_CLIENT_COMMANDS) {
        net_ws_sendv(rc->c, 1, &tag, 1, f + 3, n - 3);
        /* A runner that reads slowly makes the gateway pause the clients feeding it, so
         * memory stays bounded; its on_drain lifts that. */
        if (net_conn_congested(rc->c))
            bus_set_congested(rc->rn->bus, rc->sub, 1);
        return;
    }
    rn_out_t *o = sx_calloc(1, sizeof *o);
    o->rc = rc;
    o->tag = tag;
    buf_append(&o->bytes, f, n);
    if (f[2] == RP_TO_RUNNER_CLIENT_COMMANDS && !rn_commands_with_starts(rc, o)) {
        rn_out_free(o);
        return;
    }
    if (rc->outq_tail)
        rc->outq_tail->next = o;
    else
        rc->outq = o;
    rc->outq_tail = o;
    rn_out_flush(rc);
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

/* ---- KV ---- */

typedef struct rn_kv_op {
    rn_conn_t *rc;
    uint32_t request_id;
    rp_kv_request_data_tag_t kind;
} rn_kv_op_t;

static void rn_kv_reply_error(rn_conn_t *rc, uint32_t request_id, const char *msg)
{
    rp_to_client_t m;
    memset(&m, 0, sizeof m);
    m.tag = RP_TO_CLIENT_KV_RESPONSE;
    m.val.kv_response.request_id = request_id;
    m.val.kv_response.data.tag = RP_KV_RESPONSE_DATA_ERROR_RESPONSE;
    m.val.kv_response.data.val.error_response.message =
        slice_cstr(msg);
    rn_send(rc, &m);
}

static void rn_kv_done(void *ud, int err, const store_kv_res_t *res)
{
    rn_kv_op_t *op = ud;
    rn_conn_t *rc = op->rc;
    if (!rc->closed) {
        if (err != STORE_OK) {
            rn_kv_reply_error(rc, op->request_id, res->message);
        } else {
            rp_to_client_t m;
            memset(&m, 0, sizeof m);
            m.tag = RP_TO_CLIENT_KV_RESPONSE;
            m.val.kv_response.request_id = op->request_id;
            rp_kv_key_t *keys = NULL;
            rp_kv_value_t *vals = NULL;
            rp_kv_metadata_t *meta = NULL;
            switch (op->kind) {
            case RP_KV_REQUEST_DATA_GET_REQUEST:
            case RP_KV_REQUEST_DATA_LIST_REQUEST: {
                size_t n = res->n;
                keys = sx_calloc(n ? n : 1, sizeof *keys);
                vals = sx_calloc(n ? n : 1, sizeof *vals);
                meta = sx_calloc(n ? n : 1, sizeof *meta);
                for (size_t i = 0; i < n; i++) {
                    const store_kv_entry_t *en = &res->entries[i];
                    keys[i] = en->key;
                    vals[i] = en->value;
                    meta[i].version = (slice_t){ en->meta.version, en->meta.version_len };
                    meta[i].update_ts = en->meta.update_ts;
                }
                rp_list_kv_key_t lk = { keys, n };
                rp_list_kv_value_t lv = { vals, n };
                rp_list_kv_metadata_t lm = { meta, n };
                if (op->kind == RP_KV_REQUEST_DATA_GET_REQUEST) {
                    m.val.kv_response.data.tag = RP_KV_RESPONSE_DATA_GET_RESPONSE;
                    m.val.kv_response.data.val.get_response =
                        (rp_kv_get_response_t){ lk, lv, lm };
                } else {
                    m.val.kv_response.data.tag = RP_KV_RESPONSE_DATA_LIST_RESPONSE;
                    m.val.kv_response.data.val.list_response =
                        (rp_kv_list_response_t){ lk, lv, lm };
                }
                break;
            }
            case RP_KV_REQUEST_DATA_PUT_REQUEST:
                m.val.kv_response.data.tag = RP_KV_RESPONSE_DATA_PUT_RESPONSE;
                break;
            case RP_KV_REQUEST_DATA_DELETE_REQUEST:
            case RP_KV_REQUEST_DATA_DELETE_RANGE_REQUEST:
                /* The reference engine answers a range delete with KvDeleteResponse too. */
                m.val.kv_response.data.tag = RP_KV_RESPONSE_DATA_DELETE_RESPONSE;
                break;
            case RP_KV_REQUEST_DATA_DROP_REQUEST:
                m.val.kv_response.data.tag = RP_KV_RESPONSE_DATA_DROP_RESPONSE;
                break;
            }
            rn_send(rc, &m);
            free(keys);
            free(vals);
            free(meta);
        }
    }
    free(op);
    rn_unref(rc);
}

static void rn_kv(rn_conn_t *rc, const rp_to_server_kv_request_t *kv)
{
    rn_t *rn = rc->rn;
    eng_actor_t *a = eng_runner_actor(rn->eng, rc->runner, (const char *)kv->actor_id.p,
                                      kv->actor_id.len);
    if (!a) {
        char *id = sx_strndup((const char *)kv->actor_id.p, kv->actor_id.len);
        int exists = eng_actor_get(rn->eng, id) != NULL;
        free(id);
        rn_kv_reply_error(rc, kv->request_id,
                          exists ? "actor does not belong to runner" : "actor does not exist");
        return;
    }
    rn_kv_op_t *op = sx_calloc(1, sizeof *op);
    op->rc = rc;
    op->request_id = kv->request_id;
    op->kind = kv->data.tag;
    rc->refs++;
    const rp_kv_request_data_t *d = &kv->data;
    switch (d->tag) {
    case RP_KV_REQUEST_DATA_GET_REQUEST: {
        store_kv_get(rn->store, a->actor_id, d->val.get_request.keys.items,
                     d->val.get_request.keys.len, rn_kv_done, op);
        break;
    }
    case RP_KV_REQUEST_DATA_LIST_REQUEST: {
        const rp_kv_list_request_t *l = &d->val.list_request;
        store_kv_query_t q;
        memset(&q, 0, sizeof q);
        if (l->query.tag == RP_KV_LIST_QUERY_RANGE_QUERY) {
            q.kind = STORE_KV_RANGE;
            q.start = l->query.val.range_query.start;
            q.end = l->query.val.range_query.end;
            q.exclusive = l->query.val.range_query.exclusive;
        } else if (l->query.tag == RP_KV_LIST_QUERY_PREFIX_QUERY) {
            q.kind = STORE_KV_PREFIX;
            q.prefix = l->query.val.prefix_query.key;
        } else {
            q.kind = STORE_KV_ALL;
        }
        q.reverse = l->has_reverse && l->reverse;
        q.has_limit = l->has_limit;
        q.limit = l->limit;
        store_kv_list(rn->store, a->actor_id, &q, rn_kv_done, op);
        break;
    }
    case RP_KV_REQUEST_DATA_PUT_REQUEST: {
        const rp_kv_put_request_t *p = &d->val.put_request;
        store_kv_put(rn->store, a->actor_id, p->keys.items, p->keys.len, p->values.items,
                     p->values.len, rn_kv_done, op);
        break;
    }
    case RP_KV_REQUEST_DATA_DELETE_REQUEST: {
        store_kv_delete(rn->store, a->actor_id, d->val.delete_request.keys.items,
                        d->val.delete_request.keys.len, rn_kv_done, op);
        break;
    }
    case RP_KV_REQUEST_DATA_DELETE_RANGE_REQUEST: {
        const rp_kv_delete_range_request_t *r = &d->val.delete_range_request;
        store_kv_delete_range(rn->store, a->actor_id, r->start, r->end, rn_kv_done, op);
        break;
    }
    case RP_KV_REQUEST_DATA_DROP_REQUEST:
        store_kv_drop(rn->store, a->actor_id, rn_kv_done, op);
        break;
    }
}

/* A runner's tunnel message goes to the gateway that sent the request, named by the message
 * id: ToServer and ToGateway carry the same bytes after their union tags. */
static void rn_tunnel(rn_conn_t *rc, const uint8_t *data, size_t len,
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
    bare_put_u16(b, RN_PROTOCOL_VERSION);
    bare_put_uint(b, RP_TO_GATEWAY_SERVER_TUNNEL_MESSAGE);
    buf_append(b, data + 1, len - 1);
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
    case RP_TO_SERVER_INIT:
        break;
    case RP_TO_SERVER_EVENTS:
        eng_runner_events(rn->eng, rc->runner, &m.val.events);
        break;
    case RP_TO_SERVER_ACK_COMMANDS:
        eng_runner_ack_commands(rn->eng, rc->runner, &m.val.ack_commands);
        break;
    case RP_TO_SERVER_STOPPING:
        eng_runner_stopping(rn->eng, rc->runner);
        break;
    case RP_TO_SERVER_PONG: {
        int64_t rtt = eng_now_ms(rn->eng) - m.val.pong.ts;
        if (rtt < 0)
            rtt = 0;
        rc->last_pong = uv_now(rn->loop);
        eng_runner_pong(rn->eng, rc->runner, rtt);
        met_observe(rn->m_rtt, (double)rtt / 1000.0);
        break;
    }
    case RP_TO_SERVER_KV_REQUEST:
        rn_kv(rc, &m.val.kv_request);
        break;
    case RP_TO_SERVER_TUNNEL_MESSAGE:
        rn_tunnel(rc, data, len, &m.val.tunnel_message);
        break;
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
    static const char path[] = "/runners/connect";
    if (!((u->path.len == sizeof path - 1 || (u->path.len == sizeof path && u->path.p[sizeof path - 1] == '/')) &&
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
    rc->refs = 1;
    uv_timer_init(rn->loop, &rc->timer);
    rc->timer.data = rc;
    if (net_ws_accept(c, req, proto ? (const char *)proto->p : NULL, proto ? proto->len : 0, &rn_ws_handler,
                      rc) != 0) {
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
