/* The public entry points: each checks its arguments, applies the KV limits, refuses work once the
 * store is closing, and only then hands the request to the implementation. Doing this here, once,
 * is what makes the memory and Redis stores refuse the same requests with the same messages. */
#include "store/store_impl.h"

#include "core/alloc.h"

#include <stdio.h>
#include <stdlib.h>

const char *store_strerror(int err)
{
    switch (err) {
    case STORE_OK: return "ok";
    case STORE_ENOTFOUND: return "not found";
    case STORE_EEXIST: return "already exists";
    case STORE_EINVAL: return "invalid request";
    case STORE_ELIMIT: return "limit exceeded";
    case STORE_EUNAVAILABLE: return "store unavailable";
    }
    return "unknown store error";
}

const char *store_kind(const store_t *s)
{
    return s->vt->kind;
}

bool store_available(const store_t *s)
{
    return !s->vt->available || s->vt->available(s);
}

uv_loop_t *store_loop(const store_t *s)
{
    return s->loop;
}

void store_set_kv_limits(store_t *s, const store_kv_limits_t *lim)
{
    s->limits = *lim;
}

const store_kv_limits_t *store_kv_limits(const store_t *s)
{
    return &s->limits;
}

void store_set_clock(store_t *s, store_clock_fn fn, void *ud)
{
    s->clock = fn;
    s->clock_ud = ud;
}

int64_t store_now_ms(store_t *s)
{
    if (s->clock)
        return s->clock(s->clock_ud);
    uv_timeval64_t tv;
    if (uv_gettimeofday(&tv) != 0)
        return 0;
    return tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

void store_close(store_t *s, store_close_cb close_cb, void *ud)
{
    if (s->closing)
        return;
    s->closing = true;
    s->close_cb = close_cb;
    s->close_ud = ud;
    s->vt->close(s);
}

/* Writes whose outcome the caller does not need (a write-through of engine state) pass a NULL
 * callback; these stand in for it. */
static void store_done_ignore(void *ud, int err)
{
    (void)ud;
    (void)err;
}

static void store_kv_ignore(void *ud, int err, const store_kv_res_t *res)
{
    (void)ud;
    (void)err;
    (void)res;
}

/* Refuses an operation, on a later iteration, when the store is closing or an argument is
 * missing; returns true when it did. */
static bool store_refuse(store_t *s, store_cb_kind_t kind, store_cb_t cb, void *ud, bool args_ok,
                         const char *what)
{
    if (s->closing) {
        store_defer_fail(s, kind, cb, ud, STORE_EUNAVAILABLE, "store is closing");
        return true;
    }
    if (!args_ok) {
        char msg[STORE_MSG_MAX];
        snprintf(msg, sizeof msg, "%s missing", what);
        store_defer_fail(s, kind, cb, ud, STORE_EINVAL, msg);
        return true;
    }
    return false;
}

void store_ns_put(store_t *s, const store_ns_t *ns, store_done_cb cb, void *ud)
{
    if (!cb)
        cb = store_done_ignore;
    if (!store_refuse(s, STORE_CB_DONE, STORE_CB(done, cb), ud, ns && ns->namespace_id && ns->name,
                      "namespace id or name"))
        s->vt->ns_put(s, ns, cb, ud);
}

void store_ns_get(store_t *s, const char *name, store_ns_cb cb, void *ud)
{
    if (!store_refuse(s, STORE_CB_NS, STORE_CB(ns, cb), ud, name != NULL, "namespace name"))
        s->vt->ns_get(s, name, cb, ud);
}

void store_ns_list(store_t *s, store_ns_list_cb cb, void *ud)
{
    if (!store_refuse(s, STORE_CB_NS_LIST, STORE_CB(ns_list, cb), ud, true, ""))
        s->vt->ns_list(s, cb, ud);
}

static bool store_actor_ok(const store_actor_t *a)
{
    return a && a->actor_id && a->namespace_id && a->name &&
           (unsigned)a->crash_policy <= STORE_CRASH_DESTROY &&
           (!a->has_input || a->input || a->input_len == 0);
}

void store_actor_put(store_t *s, const store_actor_t *a, store_done_cb cb, void *ud)
{
    if (!cb)
        cb = store_done_ignore;
    if (!store_refuse(s, STORE_CB_DONE, STORE_CB(done, cb), ud, store_actor_ok(a),
                      "actor id, namespace or name"))
        s->vt->actor_put(s, a, cb, ud);
}

void store_actor_create(store_t *s, const store_actor_t *a, store_actor_cb cb, void *ud)
{
    if (!store_refuse(s, STORE_CB_ACTOR, STORE_CB(actor, cb), ud, store_actor_ok(a),
                      "actor id, namespace or name"))
        s->vt->actor_create(s, a, cb, ud);
}

void store_actor_get(store_t *s, const char *actor_id, store_actor_cb cb, void *ud)
{
    if (!store_refuse(s, STORE_CB_ACTOR, STORE_CB(actor, cb), ud, actor_id != NULL, "actor id"))
        s->vt->actor_get(s, actor_id, cb, ud);
}

void store_actor_find(store_t *s, const char *namespace_id, const char *name, const char *key,
                      store_actor_cb cb, void *ud)
{
    if (!store_refuse(s, STORE_CB_ACTOR, STORE_CB(actor, cb), ud, namespace_id && name && key,
                      "namespace, name or key"))
        s->vt->actor_find(s, namespace_id, name, key, cb, ud);
}

void store_actor_list(store_t *s, const store_actor_filter_t *f, store_actor_list_cb cb, void *ud)
{
    static const store_actor_filter_t any = { NULL, NULL, NULL };
    if (!store_refuse(s, STORE_CB_ACTOR_LIST, STORE_CB(actor_list, cb), ud, true, ""))
        s->vt->actor_list(s, f ? f : &any, cb, ud);
}

void store_actor_delete(store_t *s, const char *actor_id, store_done_cb cb, void *ud)
{
    if (!cb)
        cb = store_done_ignore;
    if (!store_refuse(s, STORE_CB_DONE, STORE_CB(done, cb), ud, actor_id != NULL, "actor id"))
        s->vt->actor_delete(s, actor_id, cb, ud);
}

void store_runner_put(store_t *s, const store_runner_t *r, store_done_cb cb, void *ud)
{
    if (!cb)
        cb = store_done_ignore;
    if (!store_refuse(s, STORE_CB_DONE, STORE_CB(done, cb), ud,
                      r && r->runner_id && r->namespace_id && r->name && r->runner_key,
                      "runner id, namespace, name or key"))
        s->vt->runner_put(s, r, cb, ud);
}

void store_runner_get(store_t *s, const char *runner_id, store_runner_cb cb, void *ud)
{
    if (!store_refuse(s, STORE_CB_RUNNER, STORE_CB(runner, cb), ud, runner_id != NULL, "runner id"))
        s->vt->runner_get(s, runner_id, cb, ud);
}

void store_runner_find(store_t *s, const char *namespace_id, const char *name,
                       const char *runner_key, store_runner_cb cb, void *ud)
{
    if (!store_refuse(s, STORE_CB_RUNNER, STORE_CB(runner, cb), ud,
                      namespace_id && name && runner_key, "namespace, name or runner key"))
        s->vt->runner_find(s, namespace_id, name, runner_key, cb, ud);
}

void store_runner_list(store_t *s, const char *namespace_id, const char *name,
                       store_runner_list_cb cb, void *ud)
{
    if (!store_refuse(s, STORE_CB_RUNNER_LIST, STORE_CB(runner_list, cb), ud, namespace_id != NULL,
                      "namespace"))
        s->vt->runner_list(s, namespace_id, name, cb, ud);
}

void store_runner_delete(store_t *s, const char *runner_id, store_done_cb cb, void *ud)
{
    if (!cb)
        cb = store_done_ignore;
    if (!store_refuse(s, STORE_CB_DONE, STORE_CB(done, cb), ud, runner_id != NULL, "runner id"))
        s->vt->runner_delete(s, runner_id, cb, ud);
}

/* The KV entry points share this: the closing and actor-id checks, then one validation result. */
static bool store_kv_refuse(store_t *s, const char *actor_id, store_kv_cb cb, void *ud, int err,
                            const char *msg)
{
    if (store_refuse(s, STORE_CB_KV, STORE_CB(kv, cb), ud, actor_id != NULL, "actor id"))
        return true;
    if (err == STORE_OK)
        return false;
    store_defer_fail(s, STORE_CB_KV, STORE_CB(kv, cb), ud, err, msg);
    return true;
}

void store_kv_get(store_t *s, const char *actor_id, const slice_t *keys, size_t n, store_kv_cb cb,
                  void *ud)
{
    if (!cb)
        cb = store_kv_ignore;
    char msg[STORE_MSG_MAX] = "";
    int err = store_kv_validate_keys(&s->limits, keys, n, msg, sizeof msg);
    if (!store_kv_refuse(s, actor_id, cb, ud, err, msg))
        s->vt->kv_get(s, actor_id, keys, n, cb, ud);
}

void store_kv_list(store_t *s, const char *actor_id, const store_kv_query_t *q, store_kv_cb cb,
                   void *ud)
{
    char msg[STORE_MSG_MAX] = "";
    int err = store_kv_validate_query(&s->limits, q, msg, sizeof msg);
    if (!store_kv_refuse(s, actor_id, cb, ud, err, msg))
        s->vt->kv_list(s, actor_id, q, cb, ud);
}

void store_kv_put(store_t *s, const char *actor_id, const slice_t *keys, size_t n_keys,
                  const slice_t *values, size_t n_values, store_kv_cb cb, void *ud)
{
    if (!cb)
        cb = store_kv_ignore;
    char msg[STORE_MSG_MAX] = "";
    int err = store_kv_validate_put(&s->limits, keys, n_keys, values, n_values, msg, sizeof msg);
    if (!store_kv_refuse(s, actor_id, cb, ud, err, msg))
        s->vt->kv_put(s, actor_id, keys, values, n_keys, cb, ud);
}

void store_kv_delete(store_t *s, const char *actor_id, const slice_t *keys, size_t n,
                     store_kv_cb cb, void *ud)
{
    if (!cb)
        cb = store_kv_ignore;
    char msg[STORE_MSG_MAX] = "";
    int err = store_kv_validate_keys(&s->limits, keys, n, msg, sizeof msg);
    if (!store_kv_refuse(s, actor_id, cb, ud, err, msg))
        s->vt->kv_delete(s, actor_id, keys, n, cb, ud);
}

typedef struct kv_ok_op {
    store_op_t op;
    store_kv_cb cb;
    void *ud;
} kv_ok_op_t;

static void kv_ok_run(store_t *s, store_op_t *op)
{
    kv_ok_op_t *k = (kv_ok_op_t *)op;
    store_kv_res_t res = { NULL, NULL, 0 };
    k->cb(k->ud, STORE_OK, &res);
    free(k);
}

void store_kv_delete_range(store_t *s, const char *actor_id, slice_t start, slice_t end,
                           store_kv_cb cb, void *ud)
{
    if (!cb)
        cb = store_kv_ignore;
    char msg[STORE_MSG_MAX] = "";
    int err = store_kv_validate_range(&s->limits, start, end, msg, sizeof msg);
    if (store_kv_refuse(s, actor_id, cb, ud, err, msg))
        return;
    if (store_kv_cmp(start.p, start.len, end.p, end.len) >= 0) {
        kv_ok_op_t *k = sx_calloc(1, sizeof *k);
        k->op.run = kv_ok_run;
        k->cb = cb;
        k->ud = ud;
        store_defer(s, &k->op);
        return;
    }
    s->vt->kv_delete_range(s, actor_id, start, end, cb, ud);
}

void store_kv_drop(store_t *s, const char *actor_id, store_kv_cb cb, void *ud)
{
    if (!cb)
        cb = store_kv_ignore;
    if (!store_kv_refuse(s, actor_id, cb, ud, STORE_OK, NULL))
        s->vt->kv_drop(s, actor_id, cb, ud);
}

void store_hib_upsert(store_t *s, const store_hib_row_t *rows, size_t n, int64_t ttl_ms,
                      store_done_cb cb, void *ud)
{
    if (!cb)
        cb = store_done_ignore;
    bool ok = ttl_ms > 0 && (rows || n == 0);
    for (size_t i = 0; ok && i < n; i++)
        ok = rows[i].actor_id != NULL;
    if (!store_refuse(s, STORE_CB_DONE, STORE_CB(done, cb), ud, ok, "row actor id or ttl"))
        s->vt->hib_upsert(s, rows, n, ttl_ms, cb, ud);
}

void store_hib_list(store_t *s, const char *actor_id, int64_t min_ts, store_hib_list_cb cb,
                    void *ud)
{
    if (!store_refuse(s, STORE_CB_HIB_LIST, STORE_CB(hib_list, cb), ud, actor_id != NULL,
                      "actor id"))
        s->vt->hib_list(s, actor_id, min_ts, cb, ud);
}

void store_hib_delete(store_t *s, const char *actor_id, const uint8_t gateway_id[4],
                      const uint8_t request_id[4], store_done_cb cb, void *ud)
{
    if (!cb)
        cb = store_done_ignore;
    if (!store_refuse(s, STORE_CB_DONE, STORE_CB(done, cb), ud,
                      actor_id && gateway_id && request_id, "actor id or request"))
        s->vt->hib_delete(s, actor_id, gateway_id, request_id, cb, ud);
}
