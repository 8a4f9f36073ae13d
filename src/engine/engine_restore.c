/* Loading an earlier run's state from the store at start. With the Redis store, a restarted sett
 * keeps its namespaces (with their ids), its actors (ids, keys, inputs, generations, alarms, and
 * through the store their KV) and forgets the runners, whose sockets died with the old process.
 * An actor that was running comes back asleep: the runner that hosted it may reconnect or not,
 * and the next request or alarm starts it with the next generation wherever there is room
 * (the npm runner replaces an actor it still holds when it is started again). One that never
 * got a runner waits for one again. */
#include "engine/engine_impl.h"
#include "core/alloc.h"
#include "core/log.h"

#include <stdlib.h>
#include <string.h>

typedef struct eng_restore_op {
    eng_t *e;
    eng_restore_cb cb;
    void *ud;
    size_t actors;
    size_t ns_next; /* the namespace whose runners are listed next */
    size_t stale;
} eng_restore_op_t;

static void eng_restore_done(eng_restore_op_t *op, int err)
{
    op->cb(op->ud, err);
    free(op);
}

static const eng_ns_t *eng_ns_by_id(eng_t *e, const char *id)
{
    for (size_t i = 0; i < e->nns; i++)
        if (strcmp(e->ns[i]->namespace_id, id) == 0)
            return e->ns[i];
    return NULL;
}

static void eng_restore_actor(eng_t *e, const store_actor_t *rec)
{
    const eng_ns_t *ns = eng_ns_by_id(e, rec->namespace_id);
    if (!ns) {
        log_warn("restore: actor of an unknown namespace skipped", LF_S("actor_id", rec->actor_id),
                 LF_S("namespace_id", rec->namespace_id));
        return;
    }
    eng_actor_t *a = sx_calloc(1, sizeof *a);
    a->priv = sx_calloc(1, sizeof *a->priv);
    a->priv->e = e;
    a->actor_id = sx_strdup(rec->actor_id);
    a->ns = ns;
    a->name = sx_strdup(rec->name);
    a->key = rec->key ? sx_strdup(rec->key) : NULL;
    a->has_input = rec->has_input;
    if (rec->has_input && rec->input_len)
        a->input = sx_memdup(rec->input, rec->input_len);
    a->input_len = rec->has_input ? rec->input_len : 0;
    a->runner_name_selector = sx_strdup(rec->runner_name_selector ? rec->runner_name_selector : "");
    a->crash_policy = rec->crash_policy;
    a->create_ts = rec->create_ts;
    a->generation = rec->generation;
    a->destroy_ts = rec->destroy_ts;
    /* An actor that was placed before starts its next run with the next generation. */
    bool placed = rec->runner_id || rec->sleeping || rec->connectable || rec->generation > 0;
    a->priv->started_once = placed;
    if (a->destroy_ts) {
        a->state = ENG_ACTOR_DESTROYED;
    } else {
        a->state = ENG_ACTOR_SLEEPING;
        a->sleep_ts = eng_now_ms(e);
    }
    eng_actor_link(e, a);
    if (!a->destroy_ts && !placed) {
        eng_place(e, a); /* it was waiting for a runner, and waits again */
        eng_persist_actor(e, a);
    } else if (!a->destroy_ts && rec->has_alarm)
        eng_actor_set_alarm(e, a, true, rec->alarm_ts); /* writes the record */
    else if (rec->runner_id || rec->connectable || !rec->sleeping)
        eng_persist_actor(e, a); /* the record said running; it is asleep now */
}

static void eng_restore_runners(void *ud, int err, const store_runner_t *items, size_t n);

/* Runner records are listed one namespace at a time; when every namespace is done, the restore
 * is. */
static void eng_restore_next_ns(eng_restore_op_t *op)
{
    eng_t *e = op->e;
    if (op->ns_next < e->nns) {
        store_runner_list(e->store, e->ns[op->ns_next++]->namespace_id, NULL, eng_restore_runners,
                          op);
        return;
    }
    /* Namespaces created fresh (default, on a first run) are written now that their ids are
     * settled. */
    for (size_t i = 0; i < e->nns; i++)
        eng_store_ns(e, e->ns[i]);
    log_info("restored from the store", LF_S("store", store_kind(e->store)),
             LF_U("namespaces", e->nns), LF_U("actors", op->actors),
             LF_U("stale_runners", op->stale));
    eng_restore_done(op, 0);
}

static void eng_restore_runners(void *ud, int err, const store_runner_t *items, size_t n)
{
    eng_restore_op_t *op = ud;
    eng_t *e = op->e;
    if (err != STORE_OK) {
        eng_restore_done(op, err);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (!map_gets(&e->runners, items[i].runner_id)) {
            eng_store_runner_delete(e, items[i].runner_id);
            op->stale++;
        }
    }
    eng_restore_next_ns(op);
}

static void eng_restore_actors(void *ud, int err, const store_actor_t *items, size_t n)
{
    eng_restore_op_t *op = ud;
    eng_t *e = op->e;
    if (err != STORE_OK) {
        eng_restore_done(op, err);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (eng_actor_get(e, items[i].actor_id))
            continue; /* a repeated call after a failure */
        eng_restore_actor(e, &items[i]);
        op->actors++;
    }
    eng_restore_next_ns(op);
}

static void eng_restore_namespaces(void *ud, int err, const store_ns_t *items, size_t n)
{
    eng_restore_op_t *op = ud;
    eng_t *e = op->e;
    if (err != STORE_OK) {
        eng_restore_done(op, err);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        eng_ns_t *ns = (eng_ns_t *)eng_ns_get(e, items[i].name);
        if (!ns)
            ns = eng_ns_add(e, items[i].name, strcmp(items[i].name, "default") ? NULL : "Default");
        free(ns->namespace_id);
        ns->namespace_id = sx_strdup(items[i].namespace_id);
        ns->create_ts = items[i].create_ts;
    }
    store_actor_list(e->store, NULL, eng_restore_actors, op);
}

void eng_restore(eng_t *e, eng_restore_cb cb, void *ud)
{
    eng_restore_op_t *op = sx_calloc(1, sizeof *op);
    op->e = e;
    op->cb = cb;
    op->ud = ud;
    store_ns_list(e->store, eng_restore_namespaces, op);
}
