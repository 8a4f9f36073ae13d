#include "engine/engine_impl.h"
#include "core/alloc.h"
#include "core/log.h"
#include "core/random.h"
#include "proto/bare.h"
#include "proto/rp_v7.h"

#include <stdio.h>
#include <string.h>

static void eng_wake_waiters(eng_t *e, eng_actor_t *a, int err);

int64_t eng_now_ms(eng_t *e)
{
    uv_timeval64_t tv;
    uv_gettimeofday(&tv);
    (void)e;
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* Ids are 30 characters of base36, the shape of Rivet's ids, from the kernel's random source. */
void eng_random_id(char out[31])
{
    static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    uint8_t r[30];
    rnd_bytes(r, sizeof r);
    for (int i = 0; i < 30; i++)
        out[i] = digits[r[i] % 36];
    out[30] = '\0';
}

eng_ns_t *eng_ns_add(eng_t *e, const char *name, const char *display)
{
    eng_ns_t *ns = sx_calloc(1, sizeof *ns);
    char id[31];
    eng_random_id(id);
    ns->namespace_id = sx_strdup(id);
    ns->name = sx_strdup(name);
    ns->display_name = sx_strdup(display ? display : name);
    ns->create_ts = eng_now_ms(e);
    e->ns = sx_realloc(e->ns, (e->nns + 1) * sizeof *e->ns);
    size_t i = e->nns;
    while (i > 0 && strcmp(e->ns[i - 1]->name, name) > 0) {
        e->ns[i] = e->ns[i - 1];
        i--;
    }
    e->ns[i] = ns;
    e->nns++;
    return ns;
}

eng_t *eng_new(uv_loop_t *loop, store_t *store, bus_t *bus, const eng_config_t *cfg)
{
    eng_t *e = sx_calloc(1, sizeof *e);
    e->loop = loop;
    e->clk = clk_new(loop);
    e->store = store;
    e->bus = bus;
    e->cfg = *cfg;
    map_init(&e->actors);
    map_init(&e->keys);
    map_init(&e->runners);
    eng_resync_init(e);
    e->m_actors_created = met_counter("sett_actors_created_total", "Actors created.", NULL);
    e->m_actor_starts = met_counter("sett_actor_starts_total", "CommandStartActor sent.", NULL);
    e->m_runner_connects = met_counter("sett_runner_connections_total",
                                       "Runner sockets that completed the handshake.", NULL);
    e->m_runners_lost = met_counter("sett_runners_lost_total",
                                    "Runners that stayed away past the lost threshold.", NULL);
    e->m_actors_pending = met_gauge("sett_actors_pending", "Actors waiting for a runner.", NULL);
    e->m_actors_running = met_gauge("sett_actors_running", "Actors running.", NULL);
    e->m_runners_connected = met_gauge("sett_runners_connected", "Runners connected.", NULL);
    eng_ns_add(e, "default", "Default");
    return e;
}

const eng_config_t *eng_config(const eng_t *e)
{
    return &e->cfg;
}

clk_t *eng_clock(eng_t *e)
{
    return e->clk;
}

void eng_on_actor_stop(eng_t *e, void (*fn)(void *ud, eng_actor_t *a), void *ud)
{
    e->stop_fn = fn;
    e->stop_ud = ud;
}

void eng_on_actor_ready(eng_t *e, void (*fn)(void *ud, eng_actor_t *a), void *ud)
{
    e->ready_fn = fn;
    e->ready_ud = ud;
}

void eng_on_place(eng_t *e, eng_place_fn fn, void *ud)
{
    e->place_fn = fn;
    e->place_ud = ud;
}

static void eng_notify_stop(eng_t *e, eng_actor_t *a)
{
    if (e->stop_fn)
        e->stop_fn(e->stop_ud, a);
}

/* ---- Namespaces ---- */

const eng_ns_t *eng_ns_get(eng_t *e, const char *name)
{
    for (size_t i = 0; i < e->nns; i++)
        if (strcmp(e->ns[i]->name, name) == 0)
            return e->ns[i];
    return NULL;
}

static void eng_err(eng_error_t *err, int status, const char *group, const char *code,
                    const char *fmt, const char *arg)
{
    if (!err)
        return;
    err->status = status;
    err->group = group;
    err->code = code;
    snprintf(err->message, sizeof err->message, fmt, arg ? arg : "");
}

static int eng_valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return 0;
    }
    return 1;
}

int eng_ns_create(eng_t *e, const char *name, const char *display_name, const eng_ns_t **out,
                  eng_error_t *err)
{
    if (!eng_valid_name(name)) {
        eng_err(err, 400, "namespace", "invalid_name",
                "namespace names are 1-64 lowercase letters, digits and '-': %s", name);
        return -1;
    }
    if (eng_ns_get(e, name)) {
        eng_err(err, 409, "namespace", "already_exists", "namespace %s already exists", name);
        return -1;
    }
    const eng_ns_t *ns = eng_ns_add(e, name, display_name);
    eng_store_ns(e, ns);
    if (out)
        *out = ns;
    return 0;
}

size_t eng_ns_count(eng_t *e)
{
    return e->nns;
}

const eng_ns_t *eng_ns_at(eng_t *e, size_t i)
{
    return i < e->nns ? e->ns[i] : NULL;
}

/* ---- Actors ---- */

const char *eng_actor_state_name(eng_actor_state_t s)
{
    static const char *const names[] = { "pending",  "starting", "running",
                                         "stopping", "sleeping", "destroyed" };
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "?";
}

static void eng_key_of(buf_t *b, const eng_ns_t *ns, const char *name, const char *key)
{
    buf_reset(b);
    buf_append(b, ns->namespace_id, strlen(ns->namespace_id) + 1);
    buf_append(b, name, strlen(name) + 1);
    buf_append_str(b, key);
}

void eng_persist_actor(eng_t *e, eng_actor_t *a)
{
    store_actor_t rec = {
        .actor_id = a->actor_id,
        .namespace_id = a->ns->namespace_id,
        .name = a->name,
        .key = a->key,
        .input = a->input,
        .input_len = a->input_len,
        .has_input = a->has_input,
        .runner_name_selector = a->runner_name_selector,
        .crash_policy = a->crash_policy,
        .create_ts = a->create_ts,
        .generation = a->generation,
        .runner_id = a->runner ? a->runner->runner_id : NULL,
        .sleeping = a->state == ENG_ACTOR_SLEEPING,
        .connectable = a->state == ENG_ACTOR_RUNNING,
        .destroy_ts = a->destroy_ts,
        .has_alarm = a->has_alarm,
        .alarm_ts = a->alarm_ts,
    };
    eng_store_actor(e, &rec);
}

void eng_actor_link(eng_t *e, eng_actor_t *a)
{
    a->priv->last_event_idx = -1;
    map_put(&e->actors, a->actor_id, strlen(a->actor_id), a);
    if (a->key && !a->destroy_ts) {
        buf_t k = BUF_INIT;
        eng_key_of(&k, a->ns, a->name, a->key);
        map_put(&e->keys, k.data, k.len, a);
        buf_free(&k);
    }
    a->priv->prev = e->last;
    if (e->last)
        e->last->priv->next = a;
    else
        e->first = a;
    e->last = a;
}

int eng_actor_create(eng_t *e, const eng_actor_spec_t *spec, eng_actor_t **out, eng_error_t *err)
{
    const eng_ns_t *ns = eng_ns_get(e, spec->namespace_name ? spec->namespace_name : "default");
    if (!ns) {
        eng_err(err, 404, "namespace", "not_found", "namespace %s does not exist",
                spec->namespace_name);
        return -1;
    }
    if (!spec->name || !*spec->name || strlen(spec->name) > 256) {
        eng_err(err, 400, "actor", "invalid_name", "actor names are 1-256 bytes%s", NULL);
        return -1;
    }
    if (!spec->runner_name_selector || !*spec->runner_name_selector) {
        eng_err(err, 400, "actor", "invalid_runner_name_selector",
                "runner_name_selector is required%s", NULL);
        return -1;
    }
    if (spec->key && strlen(spec->key) > 1024) {
        eng_err(err, 400, "actor", "invalid_key", "actor keys are at most 1024 bytes%s", NULL);
        return -1;
    }
    if (spec->key && eng_actor_find(e, ns, spec->name, spec->key)) {
        eng_err(err, 409, "actor", "duplicate_key",
                "an actor with this name and key already exists: %s", spec->key);
        return -1;
    }
    eng_actor_t *a = sx_calloc(1, sizeof *a);
    a->priv = sx_calloc(1, sizeof *a->priv);
    a->priv->e = e;
    char id[31];
    eng_random_id(id);
    a->actor_id = sx_strdup(id);
    a->ns = ns;
    a->name = sx_strdup(spec->name);
    a->key = spec->key ? sx_strdup(spec->key) : NULL;
    a->has_input = spec->has_input;
    if (spec->has_input && spec->input_len)
        a->input = sx_memdup(spec->input, spec->input_len);
    a->input_len = spec->has_input ? spec->input_len : 0;
    a->runner_name_selector = sx_strdup(spec->runner_name_selector);
    a->crash_policy = spec->crash_policy;
    a->create_ts = eng_now_ms(e);
    eng_actor_link(e, a);
    met_inc(e->m_actors_created);
    log_info("actor created", LF_S("actor_id", a->actor_id), LF_S("name", a->name),
             LF_S("runner_name", a->runner_name_selector));
    eng_place(e, a);
    eng_persist_actor(e, a);
    if (out)
        *out = a;
    return 0;
}

store_t *eng_store(eng_t *e)
{
    return e->store;
}

eng_actor_t *eng_actor_get(eng_t *e, const char *actor_id)
{
    return map_get(&e->actors, actor_id, strlen(actor_id));
}

eng_actor_t *eng_actor_find(eng_t *e, const eng_ns_t *ns, const char *name, const char *key)
{
    buf_t k = BUF_INIT;
    eng_key_of(&k, ns, name, key);
    eng_actor_t *a = map_get(&e->keys, k.data, k.len);
    buf_free(&k);
    return a;
}

void eng_actor_each(eng_t *e, const eng_ns_t *ns, const char *name, const char *key,
                    int (*fn)(void *ud, eng_actor_t *a), void *ud)
{
    for (eng_actor_t *a = e->first; a; a = a->priv->next) {
        if (ns && a->ns != ns)
            continue;
        if (name && strcmp(a->name, name) != 0)
            continue;
        if (key && (!a->key || strcmp(a->key, key) != 0))
            continue;
        if (fn(ud, a))
            break;
    }
}

static void eng_queue_remove(eng_t *e, eng_actor_t *a)
{
    if (!a->priv->queued)
        return;
    eng_actor_t **p = &e->queue_head;
    eng_actor_t *prev = NULL;
    while (*p && *p != a) {
        prev = *p;
        p = &(*p)->priv->qnext;
    }
    if (*p) {
        *p = a->priv->qnext;
        if (e->queue_tail == a)
            e->queue_tail = prev;
    }
    a->priv->qnext = NULL;
    a->priv->queued = 0;
    a->pending_allocation_ts = 0;
    met_add(e->m_actors_pending, -1);
}

static void eng_mark_destroyed(eng_t *e, eng_actor_t *a)
{
    eng_queue_remove(e, a);
    a->state = ENG_ACTOR_DESTROYED;
    a->destroy_ts = eng_now_ms(e);
    a->connectable_ts = 0;
    clk_stop(e->clk, &a->priv->alarm);
    a->has_alarm = 0;
    if (a->key) {
        buf_t k = BUF_INIT;
        eng_key_of(&k, a->ns, a->name, a->key);
        if (map_get(&e->keys, k.data, k.len) == a)
            map_del(&e->keys, k.data, k.len);
        buf_free(&k);
    }
    /* An actor still on its runner keeps its unacked stop for a reconnect to resend; what is
     * in flight to it is told when the runner reports it stopped (eng_actor_stopped). */
    if (!a->runner) {
        while (a->priv->cmds) {
            eng_cmd_t *c = a->priv->cmds;
            a->priv->cmds = c->next;
            buf_free(&c->bytes);
            free(c);
        }
    }
    eng_store_kv_drop(e, a->actor_id);
    eng_persist_actor(e, a);
    eng_wake_waiters(e, a, ENG_ENOTFOUND);
    if (!a->runner)
        eng_notify_stop(e, a);
    log_info("actor destroyed", LF_S("actor_id", a->actor_id));
}

/* As Rivet's actor workflow does on its Destroy signal, the actor is destroyed at once, in
 * whatever state it is: starting, running or already stopping, it gets a stop command (unless
 * one is out) and is gone for lookups, requests and its key straight away, without waiting for
 * the runner's Stopped. Its runner slot stays taken until that Stopped (or the runner's loss),
 * since the runner still runs it until then. */
void eng_actor_destroy(eng_t *e, eng_actor_t *a)
{
    switch (a->state) {
    case ENG_ACTOR_STARTING:
    case ENG_ACTOR_RUNNING:
        eng_send_stop(e, a, ENG_STOP_DESTROY);
        eng_mark_destroyed(e, a);
        break;
    case ENG_ACTOR_STOPPING:
        a->priv->stop_kind = ENG_STOP_DESTROY;
        eng_mark_destroyed(e, a);
        break;
    case ENG_ACTOR_PENDING:
    case ENG_ACTOR_SLEEPING: eng_mark_destroyed(e, a); break;
    case ENG_ACTOR_DESTROYED: break;
    }
}

/* ---- Commands ---- */

void eng_publish(eng_t *e, eng_runner_t *r, buf_t *frame)
{
    bus_publish(e->bus, r->priv->subject, frame->data, frame->len);
}

/* Encodes one command for the actor, keeps it until acked, and publishes it to the runner as
 * ToRunner{ToClientCommands[...]}. */
static void eng_send_command(eng_t *e, eng_actor_t *a, const rp_command_t *inner)
{
    rp_command_wrapper_t w;
    memset(&w, 0, sizeof w);
    w.checkpoint.actor_id = slice_cstr(a->actor_id);
    w.checkpoint.generation = a->generation;
    w.checkpoint.index = a->priv->next_cmd_idx++;
    w.inner = *inner;

    eng_cmd_t *c = sx_calloc(1, sizeof *c);
    c->generation = a->generation;
    c->index = w.checkpoint.index;
    c->is_start = inner->tag == RP_COMMAND_START_ACTOR;
    rp_command_wrapper_encode(&c->bytes, &w);
    eng_cmd_t **p = &a->priv->cmds;
    while (*p)
        p = &(*p)->next;
    *p = c;

    if (!a->runner)
        return;
    buf_t f = BUF_INIT;
    rp_to_runner_encode_tag_versioned(&f, RP_TO_RUNNER_CLIENT_COMMANDS);
    bare_put_uint(&f, 1);
    buf_append(&f, c->bytes.data, c->bytes.len);
    eng_publish(e, a->runner, &f);
    buf_free(&f);
}

static void eng_send_start(eng_t *e, eng_actor_t *a)
{
    rp_command_t cmd;
    memset(&cmd, 0, sizeof cmd);
    cmd.tag = RP_COMMAND_START_ACTOR;
    rp_actor_config_t *cfg = &cmd.val.start_actor.config;
    cfg->name = slice_cstr(a->name);
    cfg->has_key = a->key != NULL;
    if (a->key)
        cfg->key = slice_cstr(a->key);
    cfg->create_ts = a->create_ts;
    cfg->has_input = a->has_input;
    if (a->has_input)
        cfg->input = (slice_t){ a->input, a->input_len };
    met_inc(e->m_actor_starts);
    eng_send_command(e, a, &cmd);
}

void eng_send_stop(eng_t *e, eng_actor_t *a, enum eng_stop_kind kind)
{
    a->priv->stop_kind = kind;
    if (a->state == ENG_ACTOR_RUNNING)
        met_add(e->m_actors_running, -1);
    a->state = ENG_ACTOR_STOPPING;
    a->connectable_ts = 0;
    rp_command_t cmd;
    memset(&cmd, 0, sizeof cmd);
    cmd.tag = RP_COMMAND_STOP_ACTOR;
    eng_send_command(e, a, &cmd);
    eng_persist_actor(e, a);
}

/* ---- Placement ---- */

/* A runner an actor may be placed on: connected, not draining, of the selected name, with a
 * fresh pong. */
static int eng_runner_eligible(const eng_t *e, const eng_runner_t *r, const eng_actor_t *a,
                               int64_t now)
{
    return r->ns == a->ns && r->connected && !r->draining && !r->priv->lost &&
           now - r->last_ping_ts <= e->cfg.runner_eligible_ms &&
           strcmp(r->name, a->runner_name_selector) == 0;
}

/* The share of a runner's slots that is free, in thousandths, as Rivet weighs candidates. */
static uint64_t eng_runner_weight(const eng_runner_t *r)
{
    return r->used_slots >= r->total_slots
               ? 0
               : (uint64_t)(r->total_slots - r->used_slots) * 1000 / r->total_slots;
}

/* Only the highest version among eligible runners is used (so a fleet drains old versions);
 * one of those with a free slot is picked at random, weighted by its free share. */
static eng_runner_t *eng_pick_runner(eng_t *e, eng_actor_t *a)
{
    int64_t now = eng_now_ms(e);
    uint32_t best = 0;
    int any = 0;
    for (eng_runner_t *r = e->runners_first; r; r = r->priv->next) {
        if (eng_runner_eligible(e, r, a, now) && (!any || r->version > best)) {
            best = r->version;
            any = 1;
        }
    }
    uint64_t total = 0;
    size_t ncands = 0;
    for (eng_runner_t *r = e->runners_first; any && r; r = r->priv->next) {
        if (r->version == best && eng_runner_eligible(e, r, a, now) && eng_runner_weight(r)) {
            total += eng_runner_weight(r);
            ncands++;
        }
    }
    if (total == 0)
        return NULL;
    if (e->place_fn) {
        eng_runner_t **cands = sx_calloc(ncands, sizeof *cands);
        size_t i = 0;
        for (eng_runner_t *r = e->runners_first; r; r = r->priv->next)
            if (r->version == best && eng_runner_eligible(e, r, a, now) && eng_runner_weight(r))
                cands[i++] = r;
        eng_runner_t *chosen = e->place_fn(e->place_ud, a, cands, ncands);
        free(cands);
        if (chosen)
            return chosen;
    }
    uint64_t pick;
    rnd_bytes(&pick, sizeof pick);
    pick %= total;
    for (eng_runner_t *r = e->runners_first; r; r = r->priv->next) {
        if (r->version != best || !eng_runner_eligible(e, r, a, now))
            continue;
        uint64_t w = eng_runner_weight(r);
        if (pick < w)
            return r;
        pick -= w;
    }
    return NULL;
}

void eng_place(eng_t *e, eng_actor_t *a)
{
    eng_runner_t *r = eng_pick_runner(e, a);
    if (!r) {
        if (!a->priv->queued) {
            a->state = ENG_ACTOR_PENDING;
            a->priv->queued = 1;
            a->pending_allocation_ts = eng_now_ms(e);
            if (e->queue_tail)
                e->queue_tail->priv->qnext = a;
            else
                e->queue_head = a;
            e->queue_tail = a;
            met_add(e->m_actors_pending, 1);
        }
        return;
    }
    eng_queue_remove(e, a);
    if (a->priv->started_once)
        a->generation++;
    a->priv->started_once = 1;
    a->priv->next_cmd_idx = 0;
    a->priv->last_event_idx = -1;
    a->priv->stop_kind = ENG_STOP_NONE;
    a->sleep_ts = 0;
    a->state = ENG_ACTOR_STARTING;
    a->runner = r;
    r->used_slots++;
    a->priv->rprev = NULL;
    a->priv->rnext = r->priv->actors;
    if (r->priv->actors)
        r->priv->actors->priv->rprev = a;
    r->priv->actors = a;
    log_info("actor starting", LF_S("actor_id", a->actor_id), LF_S("runner_id", r->runner_id),
             LF_U("generation", a->generation));
    eng_send_start(e, a);
    eng_persist_actor(e, a);
}

void eng_place_pending(eng_t *e)
{
    /* Each pass places what it can; an actor that finds no runner stays queued in order. */
    eng_actor_t *a = e->queue_head;
    while (a) {
        eng_actor_t *next = a->priv->qnext;
        eng_place(e, a);
        a = next;
    }
}

void eng_runner_unlink_actor(eng_runner_t *r, eng_actor_t *a)
{
    if (a->priv->rprev)
        a->priv->rprev->priv->rnext = a->priv->rnext;
    else if (r->priv->actors == a)
        r->priv->actors = a->priv->rnext;
    if (a->priv->rnext)
        a->priv->rnext->priv->rprev = a->priv->rprev;
    a->priv->rprev = a->priv->rnext = NULL;
    if (r->used_slots)
        r->used_slots--;
}

/* ---- Lifecycle ---- */

void eng_actor_running(eng_t *e, eng_actor_t *a)
{
    if (a->state != ENG_ACTOR_STARTING)
        return;
    a->state = ENG_ACTOR_RUNNING;
    a->connectable_ts = eng_now_ms(e);
    if (!a->start_ts)
        a->start_ts = a->connectable_ts;
    met_add(e->m_actors_running, 1);
    log_info("actor running", LF_S("actor_id", a->actor_id), LF_U("generation", a->generation));
    eng_persist_actor(e, a);
    eng_wake_waiters(e, a, ENG_OK);
    if (e->ready_fn && a->state == ENG_ACTOR_RUNNING)
        e->ready_fn(e->ready_ud, a);
}

void eng_actor_stopped(eng_t *e, eng_actor_t *a, int graceful)
{
    eng_runner_t *r = a->runner;
    if (a->state == ENG_ACTOR_RUNNING)
        met_add(e->m_actors_running, -1);
    if (r)
        eng_runner_unlink_actor(r, a);
    a->runner = NULL;
    a->connectable_ts = 0;
    /* Commands of a finished generation are never resent. */
    while (a->priv->cmds) {
        eng_cmd_t *c = a->priv->cmds;
        a->priv->cmds = c->next;
        buf_free(&c->bytes);
        free(c);
    }
    enum eng_stop_kind kind = a->priv->stop_kind;
    a->priv->stop_kind = ENG_STOP_NONE;
    if (a->state == ENG_ACTOR_DESTROYED) {
        /* Destroyed while it ran (eng_actor_destroy): only its slot and what was in flight to
         * it were left. */
        eng_notify_stop(e, a);
        if (r)
            eng_place_pending(e);
        return;
    }
    if (kind != ENG_STOP_DESTROY && !(kind == ENG_STOP_STOP && graceful))
        eng_notify_stop(e, a);
    if (kind == ENG_STOP_DESTROY || (kind == ENG_STOP_STOP && graceful)) {
        eng_mark_destroyed(e, a);
    } else if (kind == ENG_STOP_SLEEP ||
               (kind != ENG_STOP_STOP && a->crash_policy == STORE_CRASH_SLEEP)) {
        a->state = ENG_ACTOR_SLEEPING;
        a->sleep_ts = eng_now_ms(e);
        log_info("actor sleeping", LF_S("actor_id", a->actor_id));
        /* A request that arrived while it was stopping wakes it straight away. */
        if (a->priv->waiters)
            eng_place(e, a);
        eng_persist_actor(e, a);
    } else if (a->crash_policy == STORE_CRASH_DESTROY && kind != ENG_STOP_GOING_AWAY) {
        eng_mark_destroyed(e, a);
    } else {
        log_info("actor rescheduling", LF_S("actor_id", a->actor_id),
                 LF_S("reason", kind == ENG_STOP_GOING_AWAY ? "runner draining" : "crashed"));
        a->state = ENG_ACTOR_PENDING;
        eng_place(e, a);
        eng_persist_actor(e, a);
    }
    if (r)
        eng_place_pending(e);
}

static void eng_alarm_fire(clk_timer_t *t)
{
    eng_actor_t *a = t->data;
    a->has_alarm = 0;
    if (a->state == ENG_ACTOR_SLEEPING) {
        log_info("actor alarm: waking", LF_S("actor_id", a->actor_id));
        eng_place(a->priv->e, a);
    }
}

void eng_actor_set_alarm(eng_t *e, eng_actor_t *a, bool has, int64_t ts)
{
    a->has_alarm = has;
    a->alarm_ts = has ? ts : 0;
    if (!has) {
        clk_stop(e->clk, &a->priv->alarm);
        return;
    }
    a->priv->alarm.data = a;
    int64_t delay = ts - eng_now_ms(e);
    clk_start(e->clk, &a->priv->alarm, eng_alarm_fire, delay > 0 ? (uint64_t)delay : 0);
    eng_persist_actor(e, a);
}

/* ---- Waiting for Running ---- */

static void eng_waiter_unlink(struct eng_waiter *w)
{
    if (!w->actor)
        return;
    if (w->prev)
        w->prev->next = w->next;
    else
        w->actor->priv->waiters = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->actor = NULL;
}

static void eng_waiter_finish(struct eng_waiter *w, int err, eng_actor_t *a)
{
    if (w->done)
        return;
    w->done = 1;
    eng_waiter_unlink(w);
    clk_stop(w->e->clk, &w->timer);
    w->cb(w->ud, err, a);
    free(w);
}

static void eng_waiter_timeout(clk_timer_t *t)
{
    struct eng_waiter *w = t->data;
    eng_actor_t *a = w->actor;
    uint64_t now = clk_now(w->e->clk);
    if (a && a->state == ENG_ACTOR_RUNNING) {
        eng_waiter_finish(w, ENG_OK, a);
    } else if (a && a->state == ENG_ACTOR_DESTROYED) {
        eng_waiter_finish(w, ENG_ENOTFOUND, a);
    } else if (a && now < w->deadline) {
        /* The actor was running when the wait began (its runner may just have been lost) and
         * is now on its way elsewhere: wait for that start instead of failing at once. */
        if (a->state == ENG_ACTOR_SLEEPING)
            eng_place(w->e, a);
        clk_start(w->e->clk, &w->timer, eng_waiter_timeout, w->deadline - now);
    } else {
        eng_waiter_finish(w, ENG_ETIMEDOUT, a);
    }
}

eng_waiter_t *eng_actor_wait_ready(eng_t *e, eng_actor_t *a, uint64_t timeout_ms, eng_ready_cb cb,
                                   void *ud)
{
    struct eng_waiter *w = sx_calloc(1, sizeof *w);
    w->e = e;
    w->actor = a;
    w->cb = cb;
    w->ud = ud;
    w->timer.data = w;
    w->next = a->priv->waiters;
    if (w->next)
        w->next->prev = w;
    a->priv->waiters = w;
    w->deadline = clk_now(e->clk) + timeout_ms;
    if (a->state == ENG_ACTOR_RUNNING || a->state == ENG_ACTOR_DESTROYED) {
        /* Answered on the next loop turn, never inside the caller's call. */
        clk_start(e->clk, &w->timer, eng_waiter_timeout, 0);
        return w;
    }
    if (a->state == ENG_ACTOR_SLEEPING) {
        log_info("waking actor", LF_S("actor_id", a->actor_id));
        eng_place(e, a);
    }
    clk_start(e->clk, &w->timer, eng_waiter_timeout, timeout_ms);
    return w;
}

void eng_waiter_cancel(eng_waiter_t *w)
{
    if (w->done)
        return;
    w->done = 1;
    eng_waiter_unlink(w);
    clk_stop(w->e->clk, &w->timer);
    free(w);
}

static void eng_wake_waiters(eng_t *e, eng_actor_t *a, int err)
{
    (void)e;
    while (a->priv->waiters)
        eng_waiter_finish(a->priv->waiters, err, a);
}

/* ---- Teardown ---- */

void eng_free(eng_t *e)
{
    eng_actor_t *a = e->first;
    while (a) {
        eng_actor_t *next = a->priv->next;
        while (a->priv->waiters)
            eng_waiter_finish(a->priv->waiters, ENG_ECANCELED, a);
        while (a->priv->cmds) {
            eng_cmd_t *c = a->priv->cmds;
            a->priv->cmds = c->next;
            buf_free(&c->bytes);
            free(c);
        }
        clk_stop(e->clk, &a->priv->alarm);
        free(a->actor_id);
        free(a->name);
        free(a->key);
        free(a->input);
        free(a->runner_name_selector);
        free(a->priv);
        free(a);
        a = next;
    }
    eng_runner_t *r = e->runners_first;
    while (r) {
        eng_runner_t *next = r->priv->next;
        eng_runner_free(r);
        r = next;
    }
    for (size_t i = 0; i < e->nns; i++) {
        free(e->ns[i]->namespace_id);
        free(e->ns[i]->name);
        free(e->ns[i]->display_name);
        free(e->ns[i]);
    }
    free(e->ns);
    map_free(&e->actors);
    map_free(&e->keys);
    map_free(&e->runners);
    eng_resync_free(e);
    clk_free(e->clk);
    free(e);
}
