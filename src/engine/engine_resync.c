/* Write-through that survives a store outage. The engine's memory is the authority for
 * namespaces, actors and runners; the store holds a copy. A write the store could not take
 * (STORE_EUNAVAILABLE: Redis down, a lost connection) marks its record, and once the store can
 * be reached again every marked record is written once more from its current state, or deleted
 * again if it is gone. So the store catches up with what happened during the outage, without
 * replaying each change. */
#include "engine/engine_impl.h"
#include "core/alloc.h"
#include "core/log.h"

#include <stdlib.h>
#include <string.h>

/* How often marked records are tried again while the store stays away. */
#define ENG_RESYNC_MS 250

/* Outlives the engine while writes are in flight (their callbacks find e NULL after eng_free)
 * and until its timer is closed. */
struct eng_sync {
    eng_t *e;
    size_t refs;
    uv_timer_t timer;
};

typedef struct eng_write {
    struct eng_sync *sync;
    size_t klen;
    char key[]; /* kind byte, then the id or name */
} eng_write_t;

static void eng_sync_unref(struct eng_sync *s)
{
    if (--s->refs == 0)
        free(s);
}

static void eng_resync_tick(uv_timer_t *t);

static void eng_written(void *ud, int err)
{
    eng_write_t *w = ud;
    eng_t *e = w->sync->e;
    if (e && err == STORE_EUNAVAILABLE) {
        map_put(&e->dirty, w->key, w->klen, e);
        if (!uv_is_active((uv_handle_t *)&e->sync->timer))
            uv_timer_start(&e->sync->timer, eng_resync_tick, ENG_RESYNC_MS, 0);
    }
    eng_sync_unref(w->sync);
    free(w);
}

/* A callback argument for one write of record kind ('a' actor, 'r' runner, 'n' namespace,
 * 'k' an actor's KV drop) and id. */
static eng_write_t *eng_write_new(eng_t *e, char kind, const char *id)
{
    size_t n = strlen(id);
    eng_write_t *w = sx_malloc(sizeof *w + n + 1);
    w->sync = e->sync;
    w->sync->refs++;
    w->klen = n + 1;
    w->key[0] = kind;
    memcpy(w->key + 1, id, n);
    return w;
}

void eng_store_actor(eng_t *e, const store_actor_t *rec)
{
    store_actor_put(e->store, rec, eng_written, eng_write_new(e, 'a', rec->actor_id));
}

void eng_store_runner(eng_t *e, const store_runner_t *rec)
{
    store_runner_put(e->store, rec, eng_written, eng_write_new(e, 'r', rec->runner_id));
}

void eng_store_runner_delete(eng_t *e, const char *runner_id)
{
    store_runner_delete(e->store, runner_id, eng_written, eng_write_new(e, 'r', runner_id));
}

void eng_store_ns(eng_t *e, const eng_ns_t *ns)
{
    store_ns_t rec = { ns->namespace_id, ns->name, ns->create_ts };
    store_ns_put(e->store, &rec, eng_written, eng_write_new(e, 'n', ns->name));
}

static void eng_kv_dropped(void *ud, int err, const store_kv_res_t *res)
{
    (void)res;
    eng_written(ud, err);
}

void eng_store_kv_drop(eng_t *e, const char *actor_id)
{
    store_kv_drop(e->store, actor_id, eng_kv_dropped, eng_write_new(e, 'k', actor_id));
}

static void eng_resync_one(eng_t *e, char kind, const char *id)
{
    if (kind == 'a') {
        eng_actor_t *a = eng_actor_get(e, id);
        if (a)
            eng_persist_actor(e, a);
    } else if (kind == 'r') {
        eng_runner_t *r = map_gets(&e->runners, id);
        if (r)
            eng_persist_runner(e, r);
        else
            eng_store_runner_delete(e, id);
    } else if (kind == 'n') {
        const eng_ns_t *ns = eng_ns_get(e, id);
        if (ns)
            eng_store_ns(e, ns);
    } else if (kind == 'k') {
        eng_store_kv_drop(e, id);
    }
}

static void eng_resync_tick(uv_timer_t *t)
{
    struct eng_sync *sync = t->data;
    eng_t *e = sync->e;
    if (!e || !e->dirty.n)
        return;
    if (!store_available(e->store)) {
        uv_timer_start(t, eng_resync_tick, ENG_RESYNC_MS, 0);
        return;
    }
    /* The set is taken whole: writes that fail again mark their records in a fresh one. */
    map_t todo = e->dirty;
    map_init(&e->dirty);
    log_info("engine: rewriting records the store missed", LF_U("records", todo.n));
    size_t it = 0;
    const map_slot_t *s;
    while ((s = map_next(&todo, &it))) {
        char *id = sx_strndup((const char *)s->key + 1, s->klen - 1);
        eng_resync_one(e, (char)s->key[0], id);
        free(id);
    }
    map_free(&todo);
}

void eng_resync_init(eng_t *e)
{
    e->sync = sx_calloc(1, sizeof *e->sync);
    e->sync->e = e;
    e->sync->refs = 2; /* the engine's and the timer handle's */
    map_init(&e->dirty);
    uv_timer_init(e->loop, &e->sync->timer);
    e->sync->timer.data = e->sync;
}

static void eng_resync_closed(uv_handle_t *h)
{
    eng_sync_unref(h->data);
}

void eng_resync_free(eng_t *e)
{
    e->sync->e = NULL;
    uv_close((uv_handle_t *)&e->sync->timer, eng_resync_closed);
    eng_sync_unref(e->sync);
    map_free(&e->dirty);
}
