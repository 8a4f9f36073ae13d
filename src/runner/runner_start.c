#include "runner/runner_impl.h"
#include "core/alloc.h"
#include "core/log.h"
#include "proto/bare.h"

#include <string.h>

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

void rn_out_push(rn_conn_t *rc, uint8_t tag, const uint8_t *f, size_t n)
{
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

void rn_out_free_all(rn_conn_t *rc)
{
    while (rc->outq) {
        rn_out_t *o = rc->outq;
        rc->outq = o->next;
        rn_out_free(o);
    }
    rc->outq_tail = NULL;
}
