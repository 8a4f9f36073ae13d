#include "runner/runner_impl.h"
#include "core/alloc.h"
#include "core/log.h"
#include "proto/bare.h"

#include <string.h>

/* Commands that wait for a start: a CommandStartActor is sent once its hibernatingRequests have
 * been listed from the store, and the later commands of the same actor wait behind it so they
 * cannot overtake it. Other actors' commands, and every other frame, pass: a command's checkpoint
 * index counts per actor and generation, and the runner acknowledges commands per actor, so the
 * order between actors carries nothing. */

/* One command held for its actor, encoded as the CommandWrapper the runner gets. */
typedef struct rn_held {
    struct rn_held *next;
    buf_t bytes;
    int listing; /* a start whose hibernating requests are still being listed */
} rn_held_t;

/* An actor with a start still being completed, and its commands in publication order behind
 * it. */
typedef struct rn_wait {
    rn_conn_t *rc;
    char *actor_id; /* NUL-terminated for the store; id_len bytes */
    size_t id_len;
    rn_held_t *head, *tail;
} rn_wait_t;

/* One store listing of an actor's hibernating requests, for one held start. */
typedef struct rn_listing {
    rn_wait_t *wait;
    rn_held_t *start;
    int64_t min_ts;
    uint64_t deadline; /* loop time after which the start goes without its rows */
    uv_timer_t retry;
} rn_listing_t;

/* While the store cannot be reached, the listing is tried again this often, for at most this
 * long; meanwhile the start, and the actor's commands after it, wait. Starting without the rows
 * would make the runner drop every socket it persisted for the actor. */
#define RN_HIB_RETRY_MS 100
#define RN_HIB_RETRY_MAX_MS 5000

static void rn_held_free(rn_held_t *h)
{
    buf_free(&h->bytes);
    free(h);
}

static void rn_wait_free(rn_wait_t *w)
{
    while (w->head) {
        rn_held_t *h = w->head;
        w->head = h->next;
        rn_held_free(h);
    }
    free(w->actor_id);
    free(w);
}

/* Sends count CommandWrappers, encoded one after the other in body, as one ToClientCommands. */
static void rn_commands_send(rn_conn_t *rc, size_t count, const buf_t *body)
{
    buf_t h = BUF_INIT;
    rp_to_client_encode_tag(&h, RP_TO_CLIENT_COMMANDS);
    bare_put_uint(&h, count);
    net_ws_sendv(rc->c, 1, h.data, h.len, body->data, body->len);
    buf_free(&h);
}

/* Sends the commands at the head of the actor's queue that are complete, in one frame, and
 * forgets the actor once nothing of it waits. */
static void rn_wait_flush(rn_wait_t *w)
{
    rn_conn_t *rc = w->rc;
    buf_t body = BUF_INIT;
    size_t count = 0;
    while (w->head && !w->head->listing) {
        rn_held_t *h = w->head;
        w->head = h->next;
        buf_append(&body, h->bytes.data, h->bytes.len);
        count++;
        rn_held_free(h);
    }
    if (count && !rc->closed)
        rn_commands_send(rc, count, &body);
    buf_free(&body);
    if (!w->head) {
        map_del(&rc->waits, w->actor_id, w->id_len);
        rn_wait_free(w);
    }
}

/* Puts the listed rows into the held start's hibernatingRequests. */
static void rn_start_fill(rn_held_t *h, const store_hib_row_t *rows, size_t n)
{
    rp_command_wrapper_t cw;
    bare_err_t err;
    if (rp_command_wrapper_decode(h->bytes.data, h->bytes.len, &cw, &err) != BARE_OK)
        return; /* it was encoded here; this does not happen */
    rp_list_hibernating_request_t *list = &cw.inner.val.start_actor.hibernating_requests;
    free(list->items);
    list->items = sx_calloc(n, sizeof *list->items);
    list->len = n;
    for (size_t i = 0; i < n; i++) {
        memcpy(list->items[i].gateway_id, rows[i].gateway_id, 4);
        memcpy(list->items[i].request_id, rows[i].request_id, 4);
    }
    buf_t out = BUF_INIT;
    rp_command_wrapper_encode(&out, &cw);
    rp_command_wrapper_free(&cw);
    buf_free(&h->bytes);
    h->bytes = out;
}

static void rn_listing_closed(uv_handle_t *t)
{
    free(t->data);
}

static void rn_listed(void *ud, int err, const store_hib_row_t *rows, size_t n);

static void rn_listing_retry(uv_timer_t *t)
{
    rn_listing_t *l = t->data;
    rn_conn_t *rc = l->wait->rc;
    /* A socket closed meanwhile may have outlived the runner half's record; it asks nothing. */
    if (rc->closed)
        rn_listed(l, STORE_EUNAVAILABLE, NULL, 0);
    else
        store_hib_list(rc->rn->store, l->wait->actor_id, l->min_ts, rn_listed, l);
}

static void rn_listed(void *ud, int err, const store_hib_row_t *rows, size_t n)
{
    rn_listing_t *l = ud;
    rn_wait_t *w = l->wait;
    rn_conn_t *rc = w->rc;
    if (err == STORE_EUNAVAILABLE && !rc->closed && uv_now(rc->rn->loop) < l->deadline) {
        uv_timer_start(&l->retry, rn_listing_retry, RN_HIB_RETRY_MS, 0);
        return;
    }
    if (err == STORE_OK && n) {
        rn_start_fill(l->start, rows, n);
    } else if (err != STORE_OK && !rc->closed) {
        log_warn("runner: cannot list hibernating requests; starting without them",
                 LF_S("actor_id", w->actor_id), LF_S("error", store_strerror(err)));
    }
    l->start->listing = 0;
    uv_close((uv_handle_t *)&l->retry, rn_listing_closed);
    rn_wait_flush(w);
    rn_unref(rc);
}

/* Holds a command behind the actor's waiting start, or makes a start wait: its
 * hibernatingRequests are filled at send time from the keepalive rows refreshed within the
 * threshold, as pegboard-runner does. */
static void rn_hold(rn_conn_t *rc, rn_wait_t *w, rp_command_wrapper_t *cw, int64_t min_ts)
{
    rn_t *rn = rc->rn;
    const rp_id_t *id = &cw->checkpoint.actor_id;
    if (!w) {
        w = sx_calloc(1, sizeof *w);
        w->rc = rc;
        w->actor_id = sx_strndup((const char *)id->p, id->len);
        w->id_len = id->len;
        map_put(&rc->waits, id->p, id->len, w);
    }
    rn_held_t *h = sx_calloc(1, sizeof *h);
    int start = cw->inner.tag == RP_COMMAND_START_ACTOR;
    if (start) {
        /* The rows are the store's to give; whatever the publisher put there is replaced. */
        rp_list_hibernating_request_t *list = &cw->inner.val.start_actor.hibernating_requests;
        free(list->items);
        list->items = NULL;
        list->len = 0;
        h->listing = 1;
    }
    rp_command_wrapper_encode(&h->bytes, cw);
    if (w->tail)
        w->tail->next = h;
    else
        w->head = h;
    w->tail = h;
    if (!start)
        return;
    rn_listing_t *l = sx_calloc(1, sizeof *l);
    l->wait = w;
    l->start = h;
    l->min_ts = min_ts;
    uint64_t max_wait = rn->cfg.hib_eligible_ms < RN_HIB_RETRY_MAX_MS ? rn->cfg.hib_eligible_ms
                                                                      : RN_HIB_RETRY_MAX_MS;
    l->deadline = uv_now(rn->loop) + max_wait;
    uv_timer_init(rn->loop, &l->retry);
    l->retry.data = l;
    rc->refs++;
    store_hib_list(rn->store, w->actor_id, min_ts, rn_listed, l);
}

/* The actor's wait when it has one, or NULL. */
static rn_wait_t *rn_wait_of(rn_conn_t *rc, const rp_command_wrapper_t *cw)
{
    if (!rc->waits.n)
        return NULL;
    return map_get(&rc->waits, cw->checkpoint.actor_id.p, cw->checkpoint.actor_id.len);
}

void rn_commands(rn_conn_t *rc, const uint8_t *f, size_t n, size_t body)
{
    rp_to_runner_t m;
    bare_err_t err;
    if (rp_to_runner_decode_versioned(f, n, &m, &err) != BARE_OK)
        return;
    rp_to_client_commands_t *cmds = &m.val.client_commands;
    size_t held = 0;
    for (size_t i = 0; i < cmds->len; i++)
        held += cmds->items[i].inner.tag == RP_COMMAND_START_ACTOR ||
                rn_wait_of(rc, &cmds->items[i]) != NULL;
    if (!held) {
        /* No command of the frame waits: it goes as published, as acks and tunnel messages do. */
        rn_forward(rc, RP_TO_CLIENT_COMMANDS, f + body, n - body);
        rp_to_runner_free(&m);
        return;
    }
    /* The commands of actors with nothing waiting go at once, in one frame, with the indices
     * they were published with; the others are held. */
    int64_t min_ts = eng_now_ms(rc->rn->eng) - (int64_t)rc->rn->cfg.hib_eligible_ms;
    buf_t now = BUF_INIT;
    size_t count = 0;
    for (size_t i = 0; i < cmds->len; i++) {
        rp_command_wrapper_t *cw = &cmds->items[i];
        rn_wait_t *w = rn_wait_of(rc, cw);
        if (!w && cw->inner.tag != RP_COMMAND_START_ACTOR) {
            rp_command_wrapper_encode(&now, cw);
            count++;
        } else {
            rn_hold(rc, w, cw, min_ts);
        }
    }
    if (count)
        rn_commands_send(rc, count, &now);
    buf_free(&now);
    rp_to_runner_free(&m);
}

void rn_commands_free(rn_conn_t *rc)
{
    size_t it = 0;
    const map_slot_t *s;
    while ((s = map_next(&rc->waits, &it)))
        rn_wait_free(s->value);
    map_free(&rc->waits);
}
