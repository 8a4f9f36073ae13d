/* The memory store: its lifecycle, the queueing of its operations, and the records (namespaces,
 * actors, runners). Every operation copies its arguments into a store_memory_op_t and runs from
 * the shared deferred queue on the next loop iteration, so its callback never runs inside the call
 * and results can be lent straight out of the store's own structures. Lists scan every record:
 * they serve the admin API and recovery, not the request path, which uses get and find. */
#include "store/store_memory_impl.h"

#include "core/alloc.h"
#include "core/buf.h"

#include <stdlib.h>
#include <string.h>

static void store_memory_run(store_t *s, store_op_t *op)
{
    store_memory_op_t *o = (store_memory_op_t *)op;
    o->exec((store_memory_t *)s, o);
    for (int i = 0; i < 3; i++)
        free(o->str[i]);
    switch (o->rec_kind) {
    case STORE_MEM_REC_NONE: break;
    case STORE_MEM_REC_NS: store_ns_clear(&o->rec.ns); break;
    case STORE_MEM_REC_ACTOR: store_actor_clear(&o->rec.actor); break;
    case STORE_MEM_REC_RUNNER: store_runner_clear(&o->rec.runner); break;
    }
    free(o->keys);
    free(o->values);
    free(o->rows);
    free(o);
}

store_memory_op_t *store_memory_op(void (*exec)(store_memory_t *, store_memory_op_t *),
                                   store_cb_t cb, void *ud, const char *s0, const char *s1,
                                   const char *s2)
{
    store_memory_op_t *o = sx_calloc(1, sizeof *o);
    o->op.run = store_memory_run;
    o->exec = exec;
    o->cb = cb;
    o->ud = ud;
    o->str[0] = s0 ? sx_strdup(s0) : NULL;
    o->str[1] = s1 ? sx_strdup(s1) : NULL;
    o->str[2] = s2 ? sx_strdup(s2) : NULL;
    return o;
}

void store_memory_submit(store_memory_t *m, store_memory_op_t *op)
{
    store_defer(&m->base, &op->op);
}

slice_t *store_memory_pack(const slice_t *v, size_t n)
{
    size_t total = n * sizeof *v;
    for (size_t i = 0; i < n; i++)
        total += v[i].len;
    slice_t *out = sx_malloc(total ? total : 1);
    uint8_t *p = (uint8_t *)(out + n);
    for (size_t i = 0; i < n; i++) {
        out[i].p = p;
        out[i].len = v[i].len;
        if (v[i].len)
            memcpy(p, v[i].p, v[i].len);
        p += v[i].len;
    }
    return out;
}

/* The key of the (namespace, name, key) indexes; the parts are C strings, so NUL separates them
 * unambiguously. */
static void store_memory_triple(buf_t *b, const char *ns, const char *name, const char *key)
{
    buf_reset(b);
    buf_append(b, ns, strlen(ns) + 1);
    buf_append(b, name, strlen(name) + 1);
    buf_append(b, key, strlen(key));
}

/* ---- Namespaces. ---- */

static void store_memory_ns_put_exec(store_memory_t *m, store_memory_op_t *o)
{
    store_ns_t *ns = sx_malloc(sizeof *ns);
    *ns = o->rec.ns;
    o->rec_kind = STORE_MEM_REC_NONE;
    store_ns_t *old = map_put(&m->ns, ns->name, strlen(ns->name), ns);
    if (old) {
        store_ns_clear(old);
        free(old);
    }
    o->cb.done(o->ud, STORE_OK);
}

static void store_memory_ns_put(store_t *s, const store_ns_t *ns, store_done_cb cb, void *ud)
{
    store_memory_t *m = (store_memory_t *)s;
    store_memory_op_t *o = store_memory_op(store_memory_ns_put_exec, STORE_CB(done, cb), ud, NULL,
                                           NULL, NULL);
    store_ns_copy(&o->rec.ns, ns);
    o->rec_kind = STORE_MEM_REC_NS;
    store_memory_submit(m, o);
}

static void store_memory_ns_get_exec(store_memory_t *m, store_memory_op_t *o)
{
    const store_ns_t *ns = map_gets(&m->ns, o->str[0]);
    o->cb.ns(o->ud, ns ? STORE_OK : STORE_ENOTFOUND, ns);
}

static void store_memory_ns_get(store_t *s, const char *name, store_ns_cb cb, void *ud)
{
    store_memory_t *m = (store_memory_t *)s;
    store_memory_submit(m, store_memory_op(store_memory_ns_get_exec, STORE_CB(ns, cb), ud, name,
                                           NULL, NULL));
}

static int store_memory_ns_order(const void *a, const void *b)
{
    return strcmp(((const store_ns_t *)a)->name, ((const store_ns_t *)b)->name);
}

static void store_memory_ns_list_exec(store_memory_t *m, store_memory_op_t *o)
{
    store_ns_t *items = sx_malloc((m->ns.n ? m->ns.n : 1) * sizeof *items);
    size_t n = 0, it = 0;
    for (const map_slot_t *sl; (sl = map_next(&m->ns, &it));)
        items[n++] = *(const store_ns_t *)sl->value;
    qsort(items, n, sizeof *items, store_memory_ns_order);
    o->cb.ns_list(o->ud, STORE_OK, items, n);
    free(items);
}

static void store_memory_ns_list(store_t *s, store_ns_list_cb cb, void *ud)
{
    store_memory_t *m = (store_memory_t *)s;
    store_memory_submit(m, store_memory_op(store_memory_ns_list_exec, STORE_CB(ns_list, cb), ud,
                                           NULL, NULL, NULL));
}

/* ---- Actors. ---- */

static bool store_memory_actor_live_key(const store_actor_t *a)
{
    return a->key && a->destroy_ts == 0;
}

/* Drops a's index entry if the index points to a. */
static void store_memory_actor_unindex(store_memory_t *m, const store_actor_t *a, buf_t *b)
{
    if (!a->key)
        return;
    store_memory_triple(b, a->namespace_id, a->name, a->key);
    if (map_get(&m->actor_keys, b->data, b->len) == a)
        map_del(&m->actor_keys, b->data, b->len);
}

/* Stores the op's actor, replacing any record with its id, and returns it. */
static store_actor_t *store_memory_actor_store(store_memory_t *m, store_memory_op_t *o)
{
    buf_t b = BUF_INIT;
    store_actor_t *a = sx_malloc(sizeof *a);
    *a = o->rec.actor;
    o->rec_kind = STORE_MEM_REC_NONE;
    store_actor_t *old = map_put(&m->actors, a->actor_id, strlen(a->actor_id), a);
    if (old) {
        store_memory_actor_unindex(m, old, &b);
        store_actor_clear(old);
        free(old);
    }
    if (store_memory_actor_live_key(a)) {
        store_memory_triple(&b, a->namespace_id, a->name, a->key);
        map_put(&m->actor_keys, b.data, b.len, a);
    }
    buf_free(&b);
    return a;
}

static void store_memory_actor_put_exec(store_memory_t *m, store_memory_op_t *o)
{
    store_memory_actor_store(m, o);
    o->cb.done(o->ud, STORE_OK);
}

static void store_memory_actor_put(store_t *s, const store_actor_t *a, store_done_cb cb, void *ud)
{
    store_memory_t *m = (store_memory_t *)s;
    store_memory_op_t *o = store_memory_op(store_memory_actor_put_exec, STORE_CB(done, cb), ud,
                                           NULL, NULL, NULL);
    store_actor_copy(&o->rec.actor, a);
    o->rec_kind = STORE_MEM_REC_ACTOR;
    store_memory_submit(m, o);
}

static void store_memory_actor_create_exec(store_memory_t *m, store_memory_op_t *o)
{
    const store_actor_t *a = &o->rec.actor;
    const store_actor_t *in_way = map_gets(&m->actors, a->actor_id);
    if (!in_way && store_memory_actor_live_key(a)) {
        buf_t b = BUF_INIT;
        store_memory_triple(&b, a->namespace_id, a->name, a->key);
        in_way = map_get(&m->actor_keys, b.data, b.len);
        buf_free(&b);
    }
    if (in_way) {
        o->cb.actor(o->ud, STORE_EEXIST, in_way);
        return;
    }
    o->cb.actor(o->ud, STORE_OK, store_memory_actor_store(m, o));
}

static void store_memory_actor_create(store_t *s, const store_actor_t *a, store_actor_cb cb,
                                      void *ud)
{
    store_memory_t *m = (store_memory_t *)s;
    store_memory_op_t *o = store_memory_op(store_memory_actor_create_exec, STORE_CB(actor, cb), ud,
                                           NULL, NULL, NULL);
    store_actor_copy(&o->rec.actor, a);
    o->rec_kind = STORE_MEM_REC_ACTOR;
    store_memory_submit(m, o);
}

static void store_memory_actor_get_exec(store_memory_t *m, store_memory_op_t *o)
{
    const store_actor_t *a = map_gets(&m->actors, o->str[0]);
    o->cb.actor(o->ud, a ? STORE_OK : STORE_ENOTFOUND, a);
}

static void store_memory_actor_get(store_t *s, const char *actor_id, store_actor_cb cb, void *ud)
{
    store_memory_t *m = (store_memory_t *)s;
    store_memory_submit(m, store_memory_op(store_memory_actor_get_exec, STORE_CB(actor, cb), ud,
                                           actor_id, NULL, NULL));
}

static void store_memory_actor_find_exec(store_memory_t *m, store_memory_op_t *o)
{
    buf_t b = BUF_INIT;
    store_memory_triple(&b, o->str[0], o->str[1], o->str[2]);
    const store_actor_t *a = map_get(&m->actor_keys, b.data, b.len);
    buf_free(&b);
    o->cb.actor(o->ud, a ? STORE_OK : STORE_ENOTFOUND, a);
}

static void store_memory_actor_find(store_t *s, const char *namespace_id, const char *name,
                                    const char *key, store_actor_cb cb, void *ud)
{
    store_memory_t *m = (store_memory_t *)s;
    store_memory_submit(m, store_memory_op(store_memory_actor_find_exec, STORE_CB(actor, cb), ud,
                                           namespace_id, name, key));
}

static bool store_memory_match(const char *want, const char *have)
{
    return !want || (have && strcmp(want, have) == 0);
}

static int store_memory_actor_order(const void *a, const void *b)
{
    return strcmp(((const store_actor_t *)a)->actor_id, ((const store_actor_t *)b)->actor_id);
}

static void store_memory_actor_list_exec(store_memory_t *m, store_memory_op_t *o)
{
    store_actor_t *items = sx_malloc((m->actors.n ? m->actors.n : 1) * sizeof *items);
    size_t n = 0, it = 0;
    for (const map_slot_t *sl; (sl = map_next(&m->actors, &it));) {
        const store_actor_t *a = sl->value;
        if (store_memory_match(o->str[0], a->namespace_id) &&
            store_memory_match(o->str[1], a->name) && store_memory_match(o->str[2], a->runner_id))
            items[n++] = *a;
    }
    qsort(items, n, sizeof *items, store_memory_actor_order);
    o->cb.actor_list(o->ud, STORE_OK, items, n);
    free(items);
}

static void store_memory_actor_list(store_t *s, const store_actor_filter_t *f,
                                    store_actor_list_cb cb, void *ud)
{
    store_memory_t *m = (store_memory_t *)s;
    store_memory_submit(m, store_memory_op(store_memory_actor_list_exec, STORE_CB(actor_list, cb),
                                           ud, f->namespace_id, f->name, f->runner_id));
}

static void store_memory_actor_delete_exec(store_memory_t *m, store_memory_op_t *o)
{
    store_actor_t *a = map_del(&m->actors, o->str[0], strlen(o->str[0]));
    if (a) {
        buf_t b = BUF_INIT;
        store_memory_actor_unindex(m, a, &b);
        buf_free(&b);
        store_actor_clear(a);
        free(a);
    }
    o->cb.done(o->ud, STORE_OK);
}

static void store_memory_actor_delete(store_t *s, const char *actor_id, store_done_cb cb, void *ud)
{
    store_memory_t *m = (store_memory_t *)s;
    store_memory_submit(m, store_memory_op(store_memory_actor_delete_exec, STORE_CB(done, cb), ud,
                                           actor_id, NULL, NULL));
}

/* ---- Runners. ---- */

static void store_memory_runner_unindex(store_memory_t *m, const store_runner_t *r, buf_t *b)
{
    store_memory_triple(b, r->namespace_id, r->name, r->runner_key);
    if (map_get(&m->runner_keys, b->data, b->len) == r)
        map_del(&m->runner_keys, b->data, b->len);
}

static void store_memory_runner_put_exec(store_memory_t *m, store_memory_op_t *o)
{
    buf_t b = BUF_INIT;
    store_runner_t *r = sx_malloc(sizeof *r);
    *r = o->rec.runner;
    o->rec_kind = STORE_MEM_REC_NONE;
    store_runner_t *old = map_put(&m->runners, r->runner_id, strlen(r->runner_id), r);
    if (old) {
        store_memory_runner_unindex(m, old, &b);
        store_runner_clear(old);
        free(old);
    }
    store_memory_triple(&b, r->namespace_id, r->name, r->runner_key);
    map_put(&m->runner_keys, b.data, b.len, r);
    buf_free(&b);
    o->cb.done(o->ud, STORE_OK);
}

static void store_memory_runner_put(store_t *s, const store_runner_t *r, store_done_cb cb, void *ud)
{
    store_memory_t *m = (store_memory_t *)s;
    store_memory_op_t *o = store_memory_op(store_memory_runner_put_exec, STORE_CB(done, cb), ud,
                                           NULL, NULL, NULL);
    store_runner_copy(&o->rec.runner, r);
    o->rec_kind = STORE_MEM_REC_RUNNER;
    store_memory_submit(m, o);
}

static void store_memory_runner_get_exec(store_memory_t *m, store_memory_op_t *o)
{
    const store_runner_t *r = map_gets(&m->runners, o->str[0]);
    o->cb.runner(o->ud, r ? STORE_OK : STORE_ENOTFOUND, r);
}

static void store_memory_runner_get(store_t *s, const char *runner_id, store_runner_cb cb, void *ud)
{
    store_memory_t *m = (store_memory_t *)s;
    store_memory_submit(m, store_memory_op(store_memory_runner_get_exec, STORE_CB(runner, cb), ud,
                                           runner_id, NULL, NULL));
}

static void store_memory_runner_find_exec(store_memory_t *m, store_memory_op_t *o)
{
    buf_t b = BUF_INIT;
    store_memory_triple(&b, o->str[0], o->str[1], o->str[2]);
    const store_runner_t *r = map_get(&m->runner_keys, b.data, b.len);
    buf_free(&b);
    o->cb.runner(o->ud, r ? STORE_OK : STORE_ENOTFOUND, r);
}

static void store_memory_runner_find(store_t *s, const char *namespace_id, const char *name,
                                     const char *runner_key, store_runner_cb cb, void *ud)
{
    store_memory_t *m = (store_memory_t *)s;
    store_memory_submit(m, store_memory_op(store_memory_runner_find_exec, STORE_CB(runner, cb), ud,
                                           namespace_id, name, runner_key));
}

static int store_memory_runner_order(const void *a, const void *b)
{
    return strcmp(((const store_runner_t *)a)->runner_id, ((const store_runner_t *)b)->runner_id);
}

static void store_memory_runner_list_exec(store_memory_t *m, store_memory_op_t *o)
{
    store_runner_t *items = sx_malloc((m->runners.n ? m->runners.n : 1) * sizeof *items);
    size_t n = 0, it = 0;
    for (const map_slot_t *sl; (sl = map_next(&m->runners, &it));) {
        const store_runner_t *r = sl->value;
        if (store_memory_match(o->str[0], r->namespace_id) &&
            store_memory_match(o->str[1], r->name))
            items[n++] = *r;
    }
    qsort(items, n, sizeof *items, store_memory_runner_order);
    o->cb.runner_list(o->ud, STORE_OK, items, n);
    free(items);
}

static void store_memory_runner_list(store_t *s, const char *namespace_id, const char *name,
                                     store_runner_list_cb cb, void *ud)
{
    store_memory_t *m = (store_memory_t *)s;
    store_memory_submit(m, store_memory_op(store_memory_runner_list_exec, STORE_CB(runner_list, cb),
                                           ud, namespace_id, name, NULL));
}

static void store_memory_runner_delete_exec(store_memory_t *m, store_memory_op_t *o)
{
    store_runner_t *r = map_del(&m->runners, o->str[0], strlen(o->str[0]));
    if (r) {
        buf_t b = BUF_INIT;
        store_memory_runner_unindex(m, r, &b);
        buf_free(&b);
        store_runner_clear(r);
        free(r);
    }
    o->cb.done(o->ud, STORE_OK);
}

static void store_memory_runner_delete(store_t *s, const char *runner_id, store_done_cb cb,
                                       void *ud)
{
    store_memory_t *m = (store_memory_t *)s;
    store_memory_submit(m, store_memory_op(store_memory_runner_delete_exec, STORE_CB(done, cb), ud,
                                           runner_id, NULL, NULL));
}

/* ---- Lifecycle. ---- */

/* Nothing of the memory store's own is in flight: its pending operations sit in the base queue,
 * which runs them before the close completes. */
static void store_memory_close(store_t *s)
{
    store_base_impl_closed(s);
}

static void store_memory_free(store_t *s)
{
    store_memory_t *m = (store_memory_t *)s;
    size_t it = 0;
    for (const map_slot_t *sl; (sl = map_next(&m->ns, &it));) {
        store_ns_clear(sl->value);
        free(sl->value);
    }
    it = 0;
    for (const map_slot_t *sl; (sl = map_next(&m->actors, &it));) {
        store_actor_clear(sl->value);
        free(sl->value);
    }
    it = 0;
    for (const map_slot_t *sl; (sl = map_next(&m->runners, &it));) {
        store_runner_clear(sl->value);
        free(sl->value);
    }
    map_free(&m->ns);
    map_free(&m->actors);
    map_free(&m->actor_keys);
    map_free(&m->runners);
    map_free(&m->runner_keys);
    store_memory_kv_free(m);
    store_memory_hib_free(m);
    free(m);
}

static const store_vtable_t store_memory_vt = {
    .kind = "memory",
    .ns_put = store_memory_ns_put,
    .ns_get = store_memory_ns_get,
    .ns_list = store_memory_ns_list,
    .actor_put = store_memory_actor_put,
    .actor_create = store_memory_actor_create,
    .actor_get = store_memory_actor_get,
    .actor_find = store_memory_actor_find,
    .actor_list = store_memory_actor_list,
    .actor_delete = store_memory_actor_delete,
    .runner_put = store_memory_runner_put,
    .runner_get = store_memory_runner_get,
    .runner_find = store_memory_runner_find,
    .runner_list = store_memory_runner_list,
    .runner_delete = store_memory_runner_delete,
    .kv_get = store_memory_kv_get,
    .kv_list = store_memory_kv_list,
    .kv_put = store_memory_kv_put,
    .kv_delete = store_memory_kv_delete,
    .kv_delete_range = store_memory_kv_delete_range,
    .kv_drop = store_memory_kv_drop,
    .hib_upsert = store_memory_hib_upsert,
    .hib_list = store_memory_hib_list,
    .hib_delete = store_memory_hib_delete,
    .close = store_memory_close,
    .free = store_memory_free,
};

store_t *store_memory_new(uv_loop_t *loop)
{
    store_memory_t *m = sx_calloc(1, sizeof *m);
    store_base_init(&m->base, &store_memory_vt, loop);
    map_init(&m->ns);
    map_init(&m->actors);
    map_init(&m->actor_keys);
    map_init(&m->runners);
    map_init(&m->runner_keys);
    map_init(&m->kv);
    map_init(&m->hib);
    return &m->base;
}

int store_memory_stats(const store_t *s, store_memory_stats_t *out)
{
    if (s->vt != &store_memory_vt)
        return STORE_EINVAL;
    const store_memory_t *m = (const store_memory_t *)s;
    memset(out, 0, sizeof *out);
    out->namespaces = m->ns.n;
    out->actors = m->actors.n;
    out->runners = m->runners.n;
    out->kv_actors = m->kv.n;
    size_t it = 0;
    for (const map_slot_t *sl; (sl = map_next(&m->kv, &it));) {
        const store_kvtab_t *t = sl->value;
        out->kv_keys += t->n;
        out->kv_bytes += t->bytes;
    }
    out->hib_rows = store_memory_hib_count(m);
    return STORE_OK;
}
