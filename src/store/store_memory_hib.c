/* The memory store's hibernating-request rows: per actor, a map from the 8 bytes gateway id and
 * request id to the row, so an upsert is O(1) per row however many sockets an actor holds. A list
 * collects and sorts the actor's rows, which is rare (once per actor start). Expired rows are
 * dropped by a sweep over all actors that an upsert runs at most once per ttl, which bounds their
 * memory without a timer of its own; until the sweep, list's min_ts already hides them. */
#include "store/store_memory_impl.h"

#include "core/alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A row is its key in its actor's map, the gateway id then the request id, and its value, the
 * last_ping_ts itself with the top bit flipped so that it is never NULL (which the map
 * reserves): a hibernating socket costs a slot and an 8-byte key, no record of its own. */
_Static_assert(sizeof(void *) == sizeof(int64_t), "a timestamp is kept in a pointer");

static void *store_memory_hib_ts_enc(int64_t ts)
{
    if (ts == INT64_MIN)
        ts++;
    return (void *)(uintptr_t)((uint64_t)ts ^ (1ull << 63));
}

static int64_t store_memory_hib_ts(const void *v)
{
    return (int64_t)((uint64_t)(uintptr_t)v ^ (1ull << 63));
}

typedef struct store_memory_hibset {
    map_t rows;     /* id -> last_ping_ts, encoded */
    int64_t ttl_ms; /* the ttl of the last upsert into this actor */
} store_memory_hibset_t;

static void store_memory_hibset_free(store_memory_hibset_t *set)
{
    map_free(&set->rows);
    free(set);
}

/* Drops rows older than their actor's ttl, and actors left without rows. Victims are collected
 * first because a map must not change while it is iterated. */
static void store_memory_hib_sweep(store_memory_t *m, int64_t now)
{
    char **empty = NULL;
    size_t n_empty = 0, it = 0;
    for (const map_slot_t *sl; (sl = map_next(&m->hib, &it));) {
        store_memory_hibset_t *set = sl->value;
        uint8_t(*old)[8] = NULL;
        size_t n_old = 0, jt = 0;
        for (const map_slot_t *rl; (rl = map_next(&set->rows, &jt));) {
            int64_t ts = store_memory_hib_ts(rl->value);
            if (ts < now && now - ts > set->ttl_ms) {
                old = sx_realloc(old, (n_old + 1) * sizeof *old);
                memcpy(old[n_old++], rl->key, 8);
            }
        }
        for (size_t i = 0; i < n_old; i++)
            map_del(&set->rows, old[i], 8);
        free(old);
        if (set->rows.n == 0) {
            empty = sx_realloc(empty, (n_empty + 1) * sizeof *empty);
            empty[n_empty++] = (char *)sl->key;
        }
    }
    /* The keys are copied before the first removal frees any of them. */
    for (size_t i = 0; i < n_empty; i++)
        empty[i] = sx_strdup(empty[i]);
    for (size_t i = 0; i < n_empty; i++) {
        store_memory_hibset_free(map_del(&m->hib, empty[i], strlen(empty[i])));
        free(empty[i]);
    }
    free(empty);
}

static void store_memory_hib_upsert_exec(store_memory_t *m, store_memory_op_t *o)
{
    for (size_t i = 0; i < o->n; i++) {
        const store_hib_row_t *in = &o->rows[i];
        store_memory_hibset_t *set = map_gets(&m->hib, in->actor_id);
        if (!set) {
            set = sx_calloc(1, sizeof *set);
            map_put(&m->hib, in->actor_id, strlen(in->actor_id), set);
        }
        set->ttl_ms = o->i64;
        uint8_t id[8];
        memcpy(id, in->gateway_id, 4);
        memcpy(id + 4, in->request_id, 4);
        map_put(&set->rows, id, 8, store_memory_hib_ts_enc(in->last_ping_ts));
    }
    int64_t now = store_now_ms(&m->base);
    if (now >= m->hib_next_sweep) {
        store_memory_hib_sweep(m, now);
        m->hib_next_sweep = o->i64 > INT64_MAX - now ? INT64_MAX : now + o->i64;
    }
    o->cb.done(o->ud, STORE_OK);
}

void store_memory_hib_upsert(store_t *s, const store_hib_row_t *rows, size_t n, int64_t ttl_ms,
                             store_done_cb cb, void *ud)
{
    store_memory_t *m = (store_memory_t *)s;
    store_memory_op_t *o = store_memory_op(store_memory_hib_upsert_exec, STORE_CB(done, cb), ud,
                                           NULL, NULL, NULL);
    size_t total = n * sizeof *rows;
    for (size_t i = 0; i < n; i++)
        total += strlen(rows[i].actor_id) + 1;
    o->rows = sx_malloc(total ? total : 1);
    char *p = (char *)(o->rows + n);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(rows[i].actor_id) + 1;
        o->rows[i] = rows[i];
        o->rows[i].actor_id = memcpy(p, rows[i].actor_id, len);
        p += len;
    }
    o->n = n;
    o->i64 = ttl_ms;
    store_memory_submit(m, o);
}

static int store_memory_hib_order(const void *a, const void *b)
{
    const store_hib_row_t *x = a, *y = b;
    if (x->last_ping_ts != y->last_ping_ts)
        return x->last_ping_ts < y->last_ping_ts ? -1 : 1;
    int c = memcmp(x->gateway_id, y->gateway_id, 4);
    return c ? c : memcmp(x->request_id, y->request_id, 4);
}

static void store_memory_hib_list_exec(store_memory_t *m, store_memory_op_t *o)
{
    const store_memory_hibset_t *set = map_gets(&m->hib, o->str[0]);
    size_t cap = set ? set->rows.n : 0, n = 0, it = 0;
    store_hib_row_t *rows = sx_malloc((cap ? cap : 1) * sizeof *rows);
    for (const map_slot_t *sl; set && (sl = map_next(&set->rows, &it));) {
        int64_t ts = store_memory_hib_ts(sl->value);
        if (ts < o->i64)
            continue;
        rows[n].actor_id = o->str[0];
        memcpy(rows[n].gateway_id, sl->key, 4);
        memcpy(rows[n].request_id, sl->key + 4, 4);
        rows[n].last_ping_ts = ts;
        n++;
    }
    qsort(rows, n, sizeof *rows, store_memory_hib_order);
    o->cb.hib_list(o->ud, STORE_OK, rows, n);
    free(rows);
}

void store_memory_hib_list(store_t *s, const char *actor_id, int64_t min_ts, store_hib_list_cb cb,
                           void *ud)
{
    store_memory_t *m = (store_memory_t *)s;
    store_memory_op_t *o = store_memory_op(store_memory_hib_list_exec, STORE_CB(hib_list, cb), ud,
                                           actor_id, NULL, NULL);
    o->i64 = min_ts;
    store_memory_submit(m, o);
}

static void store_memory_hib_delete_exec(store_memory_t *m, store_memory_op_t *o)
{
    store_memory_hibset_t *set = map_gets(&m->hib, o->str[0]);
    if (set) {
        map_del(&set->rows, o->b8, 8);
        if (set->rows.n == 0)
            store_memory_hibset_free(map_del(&m->hib, o->str[0], strlen(o->str[0])));
    }
    o->cb.done(o->ud, STORE_OK);
}

void store_memory_hib_delete(store_t *s, const char *actor_id, const uint8_t gateway_id[4],
                             const uint8_t request_id[4], store_done_cb cb, void *ud)
{
    store_memory_t *m = (store_memory_t *)s;
    store_memory_op_t *o = store_memory_op(store_memory_hib_delete_exec, STORE_CB(done, cb), ud,
                                           actor_id, NULL, NULL);
    memcpy(o->b8, gateway_id, 4);
    memcpy(o->b8 + 4, request_id, 4);
    store_memory_submit(m, o);
}

size_t store_memory_hib_count(const store_memory_t *m)
{
    size_t n = 0, it = 0;
    for (const map_slot_t *sl; (sl = map_next(&m->hib, &it));)
        n += ((const store_memory_hibset_t *)sl->value)->rows.n;
    return n;
}

void store_memory_hib_free(store_memory_t *m)
{
    size_t it = 0;
    for (const map_slot_t *sl; (sl = map_next(&m->hib, &it));)
        store_memory_hibset_free(sl->value);
    map_free(&m->hib);
}
