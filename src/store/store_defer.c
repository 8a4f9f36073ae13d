/* The deferred-completion queue every store shares: the memory store runs all its operations from
 * it, and any store uses it to refuse an operation without calling back inline. An idle handle
 * runs the queue once per loop iteration and is stopped while the queue is empty, so an idle store
 * keeps the loop neither alive nor spinning. It also carries the last steps of store_close. */
#include "store/store_impl.h"

#include "core/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fail_op {
    store_op_t op;
    store_cb_kind_t kind;
    store_cb_t cb;
    void *ud;
    int err;
    char msg[STORE_MSG_MAX];
} fail_op_t;

static void store_defer_maybe_finish(store_t *s);

void store_cb_fail(store_cb_kind_t kind, store_cb_t cb, void *ud, int err, const char *msg)
{
    switch (kind) {
    case STORE_CB_DONE: cb.done(ud, err); break;
    case STORE_CB_NS: cb.ns(ud, err, NULL); break;
    case STORE_CB_NS_LIST: cb.ns_list(ud, err, NULL, 0); break;
    case STORE_CB_ACTOR: cb.actor(ud, err, NULL); break;
    case STORE_CB_ACTOR_LIST: cb.actor_list(ud, err, NULL, 0); break;
    case STORE_CB_RUNNER: cb.runner(ud, err, NULL); break;
    case STORE_CB_RUNNER_LIST: cb.runner_list(ud, err, NULL, 0); break;
    case STORE_CB_HIB_LIST: cb.hib_list(ud, err, NULL, 0); break;
    case STORE_CB_KV: {
        store_kv_res_t res = { msg && *msg ? msg : store_strerror(err), NULL, 0 };
        cb.kv(ud, err, &res);
        break;
    }
    }
}

static void fail_run(store_t *s, store_op_t *op)
{
    fail_op_t *f = (fail_op_t *)op;
    store_cb_fail(f->kind, f->cb, f->ud, f->err, f->msg);
    free(f);
}

void store_defer_fail(store_t *s, store_cb_kind_t kind, store_cb_t cb, void *ud, int err,
                      const char *msg)
{
    fail_op_t *f = sx_calloc(1, sizeof *f);
    f->op.run = fail_run;
    f->kind = kind;
    f->cb = cb;
    f->ud = ud;
    f->err = err;
    if (msg)
        snprintf(f->msg, sizeof f->msg, "%s", msg);
    store_defer(s, &f->op);
}

/* Runs the ops queued before this iteration; the queue is detached first so that ops the
 * callbacks submit land in a fresh queue for the next iteration. */
static void store_defer_drain(store_t *s)
{
    store_op_t *op = s->head;
    s->head = s->tail = NULL;
    s->draining = true;
    while (op) {
        store_op_t *next = op->next;
        op->run(s, op);
        op = next;
    }
    s->draining = false;
}

static void store_defer_on_idle(uv_idle_t *h)
{
    store_t *s = h->data;
    store_defer_drain(s);
    if (!s->head) {
        uv_idle_stop(&s->idle);
        store_defer_maybe_finish(s);
    }
}

void store_defer(store_t *s, store_op_t *op)
{
    op->next = NULL;
    if (s->tail)
        s->tail->next = op;
    else
        s->head = op;
    s->tail = op;
    if (!s->idle_closing)
        uv_idle_start(&s->idle, store_defer_on_idle);
}

/* The idle handle is closed last; ops refused between uv_close and this callback (by other
 * handles' callbacks in the same iteration) are completed here, still never inline, before the
 * user hears that the store is closed. */
static void store_defer_on_closed(uv_handle_t *h)
{
    store_t *s = h->data;
    while (s->head)
        store_defer_drain(s);
    if (s->close_cb)
        s->close_cb(s->close_ud);
    s->vt->free(s);
}

static void store_defer_maybe_finish(store_t *s)
{
    if (!s->closing || !s->impl_closed || s->idle_closing || s->draining || s->head)
        return;
    s->idle_closing = true;
    uv_close((uv_handle_t *)&s->idle, store_defer_on_closed);
}

void store_base_init(store_t *s, const store_vtable_t *vt, uv_loop_t *loop)
{
    static const store_kv_limits_t defaults = STORE_KV_LIMITS_DEFAULT;
    memset(s, 0, sizeof *s);
    s->vt = vt;
    s->loop = loop;
    s->limits = defaults;
    uv_idle_init(loop, &s->idle);
    s->idle.data = s;
}

void store_base_impl_closed(store_t *s)
{
    s->impl_closed = true;
    store_defer_maybe_finish(s);
}
