/* The memory store's actor KV: one sorted table (store_kvtab.h) per actor that has any entries,
 * found through a map by actor id. A table that becomes empty is freed, so an actor's KV costs
 * nothing once dropped. Results point into the tables; nothing changes them while a callback runs,
 * since every operation, including those a callback submits, runs from the queue. */
#include "store/store_memory_impl.h"

#include "core/alloc.h"

#include <stdlib.h>
#include <string.h>

static store_kvtab_t *store_memory_kvtab(store_memory_t *m, const char *actor_id)
{
    return map_gets(&m->kv, actor_id);
}

static void store_memory_kvtab_release(store_memory_t *m, const char *actor_id, store_kvtab_t *t)
{
    if (t && t->n == 0) {
        map_del(&m->kv, actor_id, strlen(actor_id));
        store_kvtab_free(t);
        free(t);
    }
}

static void store_memory_kv_entry(store_kv_entry_t *e, const store_kvtab_item_t *it)
{
    e->key.p = store_kvtab_key(it);
    e->key.len = it->key_len;
    e->value.p = store_kvtab_value(it);
    e->value.len = it->value_len;
    e->meta.version = it->version;
    e->meta.version_len = sizeof it->version;
    e->meta.update_ts = it->update_ts;
}

static void store_memory_kv_ok(store_memory_op_t *o, const store_kv_entry_t *entries, size_t n)
{
    store_kv_res_t res = { NULL, entries, n };
    o->cb.kv(o->ud, STORE_OK, &res);
}

static void store_memory_kv_get_exec(store_memory_t *m, store_memory_op_t *o)
{
    const store_kvtab_t *t = store_memory_kvtab(m, o->str[0]);
    store_kv_entry_t *entries = sx_malloc((o->n ? o->n : 1) * sizeof *entries);
    size_t n = 0;
    for (size_t i = 0; t && i < o->n; i++) {
        const store_kvtab_item_t *it = store_kvtab_get(t, o->keys[i].p, o->keys[i].len);
        if (it)
            store_memory_kv_entry(&entries[n++], it);
    }
    store_memory_kv_ok(o, entries, n);
    free(entries);
}

void store_memory_kv_get(store_t *s, const char *actor_id, const slice_t *keys, size_t n,
                         store_kv_cb cb, void *ud)
{
    store_memory_t *m = (store_memory_t *)s;
    store_memory_op_t *o = store_memory_op(store_memory_kv_get_exec, STORE_CB(kv, cb), ud, actor_id,
                                           NULL, NULL);
    o->keys = store_memory_pack(keys, n);
    o->n = n;
    store_memory_submit(m, o);
}

/* The span [*lo, *hi) of the table that the query selects, before reverse and limit. */
static void store_memory_kv_span(const store_kvtab_t *t, const store_kv_query_t *q, size_t *lo,
                                 size_t *hi)
{
    switch (q->kind) {
    case STORE_KV_ALL:
        *lo = 0;
        *hi = t->n;
        break;
    case STORE_KV_RANGE:
        *lo = store_kvtab_lower(t, q->start.p, q->start.len);
        *hi = q->exclusive ? store_kvtab_lower(t, q->end.p, q->end.len)
                           : store_kvtab_upper(t, q->end.p, q->end.len);
        break;
    case STORE_KV_PREFIX:
        *lo = store_kvtab_lower(t, q->prefix.p, q->prefix.len);
        *hi = store_kvtab_prefix_end(t, *lo, q->prefix.p, q->prefix.len);
        break;
    }
    if (*hi < *lo)
        *hi = *lo;
}

static void store_memory_kv_list_exec(store_memory_t *m, store_memory_op_t *o)
{
    const store_kvtab_t *t = store_memory_kvtab(m, o->str[0]);
    const store_kv_query_t *q = &o->query;
    size_t lo = 0, hi = 0;
    if (t)
        store_memory_kv_span(t, q, &lo, &hi);
    uint64_t limit = q->has_limit ? q->limit : m->base.limits.default_list_limit;
    size_t n = hi - lo;
    if ((uint64_t)n > limit)
        n = (size_t)limit;
    store_kv_entry_t *entries = sx_malloc((n ? n : 1) * sizeof *entries);
    for (size_t i = 0; i < n; i++)
        store_memory_kv_entry(&entries[i], t->items[q->reverse ? hi - 1 - i : lo + i]);
    store_memory_kv_ok(o, entries, n);
    free(entries);
}

void store_memory_kv_list(store_t *s, const char *actor_id, const store_kv_query_t *q,
                          store_kv_cb cb, void *ud)
{
    store_memory_t *m = (store_memory_t *)s;
    store_memory_op_t *o = store_memory_op(store_memory_kv_list_exec, STORE_CB(kv, cb), ud,
                                           actor_id, NULL, NULL);
    slice_t parts[3] = { q->start, q->end, q->prefix };
    o->keys = store_memory_pack(parts, 3);
    o->query = *q;
    o->query.start = o->keys[0];
    o->query.end = o->keys[1];
    o->query.prefix = o->keys[2];
    store_memory_submit(m, o);
}

static void store_memory_kv_put_exec(store_memory_t *m, store_memory_op_t *o)
{
    store_kvtab_t *t = store_memory_kvtab(m, o->str[0]);
    char msg[STORE_MSG_MAX];
    int err = store_kv_validate_quota(&m->base.limits, t ? t->bytes : 0,
                                      store_kv_payload(o->keys, o->values, o->n), msg, sizeof msg);
    if (err != STORE_OK) {
        store_kv_res_t res = { msg, NULL, 0 };
        o->cb.kv(o->ud, err, &res);
        return;
    }
    if (!t && o->n) {
        t = sx_calloc(1, sizeof *t);
        map_put(&m->kv, o->str[0], strlen(o->str[0]), t);
    }
    uint64_t version = ++m->kv_version;
    int64_t now = store_now_ms(&m->base);
    for (size_t i = 0; i < o->n; i++) {
        store_kvtab_item_t *it = store_kvtab_item_new(o->keys[i].p, o->keys[i].len, o->values[i].p,
                                                      o->values[i].len);
        for (int b = 0; b < 8; b++)
            it->version[b] = (uint8_t)(version >> (56 - 8 * b));
        it->update_ts = now;
        store_kvtab_set(t, it);
    }
    store_memory_kv_ok(o, NULL, 0);
}

void store_memory_kv_put(store_t *s, const char *actor_id, const slice_t *keys,
                         const slice_t *values, size_t n, store_kv_cb cb, void *ud)
{
    store_memory_t *m = (store_memory_t *)s;
    store_memory_op_t *o = store_memory_op(store_memory_kv_put_exec, STORE_CB(kv, cb), ud, actor_id,
                                           NULL, NULL);
    o->keys = store_memory_pack(keys, n);
    o->values = store_memory_pack(values, n);
    o->n = n;
    store_memory_submit(m, o);
}

static void store_memory_kv_delete_exec(store_memory_t *m, store_memory_op_t *o)
{
    store_kvtab_t *t = store_memory_kvtab(m, o->str[0]);
    for (size_t i = 0; t && i < o->n; i++)
        store_kvtab_del(t, o->keys[i].p, o->keys[i].len);
    store_memory_kvtab_release(m, o->str[0], t);
    store_memory_kv_ok(o, NULL, 0);
}

void store_memory_kv_delete(store_t *s, const char *actor_id, const slice_t *keys, size_t n,
                            store_kv_cb cb, void *ud)
{
    store_memory_t *m = (store_memory_t *)s;
    store_memory_op_t *o = store_memory_op(store_memory_kv_delete_exec, STORE_CB(kv, cb), ud,
                                           actor_id, NULL, NULL);
    o->keys = store_memory_pack(keys, n);
    o->n = n;
    store_memory_submit(m, o);
}

static void store_memory_kv_delete_range_exec(store_memory_t *m, store_memory_op_t *o)
{
    store_kvtab_t *t = store_memory_kvtab(m, o->str[0]);
    if (t) {
        size_t lo = store_kvtab_lower(t, o->keys[0].p, o->keys[0].len);
        size_t hi = store_kvtab_lower(t, o->keys[1].p, o->keys[1].len);
        store_kvtab_del_span(t, lo, hi);
        store_memory_kvtab_release(m, o->str[0], t);
    }
    store_memory_kv_ok(o, NULL, 0);
}

void store_memory_kv_delete_range(store_t *s, const char *actor_id, slice_t start, slice_t end,
                                  store_kv_cb cb, void *ud)
{
    store_memory_t *m = (store_memory_t *)s;
    store_memory_op_t *o = store_memory_op(store_memory_kv_delete_range_exec, STORE_CB(kv, cb), ud,
                                           actor_id, NULL, NULL);
    slice_t parts[2] = { start, end };
    o->keys = store_memory_pack(parts, 2);
    store_memory_submit(m, o);
}

static void store_memory_kv_drop_exec(store_memory_t *m, store_memory_op_t *o)
{
    store_kvtab_t *t = map_del(&m->kv, o->str[0], strlen(o->str[0]));
    if (t) {
        store_kvtab_free(t);
        free(t);
    }
    store_memory_kv_ok(o, NULL, 0);
}

void store_memory_kv_drop(store_t *s, const char *actor_id, store_kv_cb cb, void *ud)
{
    store_memory_t *m = (store_memory_t *)s;
    store_memory_submit(m, store_memory_op(store_memory_kv_drop_exec, STORE_CB(kv, cb), ud,
                                           actor_id, NULL, NULL));
}

void store_memory_kv_free(store_memory_t *m)
{
    size_t it = 0;
    for (const map_slot_t *sl; (sl = map_next(&m->kv, &it));) {
        store_kvtab_free(sl->value);
        free(sl->value);
    }
    map_free(&m->kv);
}
