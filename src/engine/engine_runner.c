#include "engine/engine_impl.h"
#include "engine/engine_runner.h"
#include "core/alloc.h"
#include "core/log.h"
#include "proto/bare.h"

#include <stdio.h>
#include <string.h>

void eng_runner_free(eng_runner_t *r)
{
    clk_stop(r->priv->e->clk, &r->priv->lost_timer);
    met_remove(r->priv->m_rtt);
    met_remove(r->priv->m_pong);
    free(r->runner_id);
    free(r->name);
    free(r->runner_key);
    free(r->metadata);
    free(r->priv);
    free(r);
}

void eng_persist_runner(eng_t *e, eng_runner_t *r)
{
    store_runner_t rec = {
        .runner_id = r->runner_id,
        .namespace_id = (char *)r->ns->namespace_id,
        .name = r->name,
        .runner_key = r->runner_key,
        .version = r->version,
        .total_slots = r->total_slots,
        .metadata = r->metadata,
        .create_ts = r->create_ts,
        .last_ping_ts = r->last_ping_ts,
    };
    eng_store_runner(e, &rec);
}

static char *eng_slice_dup(slice_t s)
{
    return sx_strndup((const char *)s.p, s.len);
}

eng_runner_t *eng_runner_connect(eng_t *e, const eng_ns_t *ns, const char *name, const char *key,
                                 const rp_to_server_init_t *init, bool *was_connected)
{
    *was_connected = false;
    eng_runner_t *r = NULL;
    for (eng_runner_t *x = e->runners_first; x; x = x->priv->next) {
        if (x->ns == ns && !x->priv->lost && strcmp(x->name, name) == 0 &&
            strcmp(x->runner_key, key) == 0) {
            r = x;
            break;
        }
    }
    int64_t now = eng_now_ms(e);
    if (r) {
        *was_connected = r->connected;
        clk_stop(e->clk, &r->priv->lost_timer);
        free(r->metadata);
        r->metadata = NULL;
    } else {
        r = sx_calloc(1, sizeof *r);
        r->priv = sx_calloc(1, sizeof *r->priv);
        r->priv->e = e;
        char id[31];
        eng_random_id(id);
        r->runner_id = sx_strdup(id);
        r->ns = ns;
        r->name = sx_strdup(name);
        r->runner_key = sx_strdup(key);
        r->create_ts = now;
        r->priv->lost_timer.data = r;
        snprintf(r->priv->subject, sizeof r->priv->subject, "pegboard.runner.%s", r->runner_id);
        char labels[160];
        snprintf(labels, sizeof labels, "runner_id=\"%s\",name=\"%.64s\"", r->runner_id, name);
        r->priv->m_rtt = met_gauge("sett_runner_rtt_seconds",
                                   "Last ToClientPing round trip of each runner.", labels);
        r->priv->m_pong = met_gauge("sett_runner_last_pong_timestamp_seconds",
                                    "When each runner last answered a ping (Unix time).", labels);
        map_put(&e->runners, r->runner_id, strlen(r->runner_id), r);
        r->priv->next = e->runners_first;
        if (e->runners_first)
            e->runners_first->priv->prev = r;
        e->runners_first = r;
    }
    r->version = init->version;
    r->total_slots = init->total_slots;
    if (init->has_metadata)
        r->metadata = eng_slice_dup(init->metadata);
    r->last_ping_ts = now;
    r->last_connect_ts = now;
    r->draining = false;
    if (!r->connected)
        met_add(e->m_runners_connected, 1);
    r->connected = true;
    met_inc(e->m_runner_connects);
    eng_persist_runner(e, r);
    log_info("runner connected", LF_S("runner_id", r->runner_id), LF_S("name", r->name),
             LF_S("namespace", ns->name), LF_U("version", r->version),
             LF_U("slots", r->total_slots), LF_S("reconnect", *was_connected ? "evicting" : "no"));
    return r;
}

void eng_runner_ready(eng_t *e, eng_runner_t *r)
{
    /* Unacked commands go again, in order, in one frame; a start is skipped when the actor
     * already runs there, so a quick reconnect does not restart it. */
    buf_t body = BUF_INIT;
    size_t n = 0;
    for (eng_actor_t *a = r->priv->actors; a; a = a->priv->rnext) {
        for (eng_cmd_t *c = a->priv->cmds; c; c = c->next) {
            if (c->is_start && a->state == ENG_ACTOR_RUNNING)
                continue;
            buf_append(&body, c->bytes.data, c->bytes.len);
            n++;
        }
    }
    if (n) {
        buf_t f = BUF_INIT;
        rp_to_runner_encode_tag_versioned(&f, RP_TO_RUNNER_CLIENT_COMMANDS);
        bare_put_uint(&f, n);
        buf_append(&f, body.data, body.len);
        eng_publish(e, r, &f);
        buf_free(&f);
        log_info("runner: resent unacked commands", LF_S("runner_id", r->runner_id),
                 LF_U("commands", n));
    }
    buf_free(&body);
    eng_place_pending(e);
}

void eng_runner_pong(eng_t *e, eng_runner_t *r, int64_t rtt_ms)
{
    r->last_ping_ts = eng_now_ms(e);
    r->rtt_ms = rtt_ms;
    met_set(r->priv->m_rtt, (double)rtt_ms / 1000.0);
    met_set(r->priv->m_pong, (double)r->last_ping_ts / 1000.0);
}

static eng_actor_t *eng_actor_by_slice(eng_t *e, slice_t id)
{
    return map_get(&e->actors, id.p, id.len);
}

eng_actor_t *eng_runner_actor(eng_t *e, eng_runner_t *r, const char *actor_id, size_t len)
{
    eng_actor_t *a = map_get(&e->actors, actor_id, len);
    /* A destroyed actor's KV is gone, even while its runner still stops it. */
    return a && a->runner == r && a->state != ENG_ACTOR_DESTROYED ? a : NULL;
}

static void eng_apply_event(eng_t *e, eng_runner_t *r, eng_actor_t *a, const rp_event_t *ev)
{
    switch (ev->tag) {
    case RP_EVENT_ACTOR_STATE_UPDATE:
        if (ev->val.actor_state_update.state.tag == RP_ACTOR_STATE_RUNNING) {
            eng_actor_running(e, a);
        } else {
            const rp_actor_state_stopped_t *st = &ev->val.actor_state_update.state.val.stopped;
            log_info("actor stopped", LF_S("actor_id", a->actor_id),
                     LF_S("code", st->code == RP_STOP_CODE_OK ? "ok" : "error"));
            if (a->runner == r)
                eng_actor_stopped(e, a, st->code == RP_STOP_CODE_OK);
        }
        break;
    case RP_EVENT_ACTOR_INTENT:
        if (a->state != ENG_ACTOR_RUNNING && a->state != ENG_ACTOR_STARTING)
            break;
        eng_send_stop(e, a,
                      ev->val.actor_intent.intent.tag == RP_ACTOR_INTENT_SLEEP ? ENG_STOP_SLEEP
                                                                               : ENG_STOP_STOP);
        break;
    case RP_EVENT_ACTOR_SET_ALARM:
        if (a->state == ENG_ACTOR_DESTROYED)
            break;
        eng_actor_set_alarm(e, a, ev->val.actor_set_alarm.has_alarm_ts,
                            ev->val.actor_set_alarm.alarm_ts);
        break;
    }
}

void eng_runner_events(eng_t *e, eng_runner_t *r, const rp_to_server_events_t *ev)
{
    /* Every event is acked, applied or not, so the runner can drop its history; the ack names
     * the highest index seen per actor in this batch. */
    rp_actor_checkpoint_t *acks = sx_calloc(ev->len ? ev->len : 1, sizeof *acks);
    size_t nacks = 0;
    for (size_t i = 0; i < ev->len; i++) {
        const rp_event_wrapper_t *w = &ev->items[i];
        size_t j;
        for (j = 0; j < nacks; j++) {
            if (acks[j].actor_id.len == w->checkpoint.actor_id.len &&
                memcmp(acks[j].actor_id.p, w->checkpoint.actor_id.p, acks[j].actor_id.len) == 0 &&
                acks[j].generation == w->checkpoint.generation)
                break;
        }
        if (j == nacks)
            acks[nacks++] = w->checkpoint;
        else if (w->checkpoint.index > acks[j].index)
            acks[j].index = w->checkpoint.index;

        eng_actor_t *a = eng_actor_by_slice(e, w->checkpoint.actor_id);
        if (!a || a->generation != w->checkpoint.generation ||
            w->checkpoint.index <= a->priv->last_event_idx)
            continue;
        a->priv->last_event_idx = w->checkpoint.index;
        eng_apply_event(e, r, a, &w->inner);
    }
    if (nacks && r->connected) {
        rp_to_runner_t msg;
        memset(&msg, 0, sizeof msg);
        msg.tag = RP_TO_RUNNER_CLIENT_ACK_EVENTS;
        msg.val.client_ack_events.last_event_checkpoints.items = acks;
        msg.val.client_ack_events.last_event_checkpoints.len = nacks;
        buf_t f = BUF_INIT;
        rp_to_runner_encode_versioned(&f, &msg);
        eng_publish(e, r, &f);
        buf_free(&f);
    }
    free(acks);
}

void eng_runner_ack_commands(eng_t *e, eng_runner_t *r, const rp_to_server_ack_commands_t *ack)
{
    (void)r;
    for (size_t i = 0; i < ack->last_command_checkpoints.len; i++) {
        const rp_actor_checkpoint_t *cp = &ack->last_command_checkpoints.items[i];
        eng_actor_t *a = eng_actor_by_slice(e, cp->actor_id);
        if (!a)
            continue;
        eng_cmd_t **p = &a->priv->cmds;
        while (*p) {
            eng_cmd_t *c = *p;
            if (c->generation < cp->generation ||
                (c->generation == cp->generation && c->index <= cp->index)) {
                *p = c->next;
                buf_free(&c->bytes);
                free(c);
            } else {
                p = &c->next;
            }
        }
    }
}

void eng_runner_stopping(eng_t *e, eng_runner_t *r)
{
    r->draining = true;
    log_info("runner stopping", LF_S("runner_id", r->runner_id));
    eng_actor_t *a = r->priv->actors;
    while (a) {
        eng_actor_t *next = a->priv->rnext;
        if (a->state == ENG_ACTOR_RUNNING || a->state == ENG_ACTOR_STARTING)
            eng_send_stop(e, a, ENG_STOP_GOING_AWAY);
        a = next;
    }
}

static void eng_runner_lost(clk_timer_t *t)
{
    eng_runner_t *r = t->data;
    eng_t *e = r->priv->e;
    r->priv->lost = 1;
    log_warn("runner lost", LF_S("runner_id", r->runner_id), LF_S("name", r->name));
    met_inc(e->m_runners_lost);
    eng_actor_t *a = r->priv->actors;
    while (a) {
        eng_actor_t *next = a->priv->rnext;
        /* A lost runner's actors did not exit: their crash policy decides what comes next. */
        if (a->priv->stop_kind == ENG_STOP_NONE || a->priv->stop_kind == ENG_STOP_STOP)
            a->priv->stop_kind = ENG_STOP_NONE;
        eng_actor_stopped(e, a, 0);
        a = next;
    }
    /* Forget the runner: a runner process that comes back later is a new runner. */
    map_del(&e->runners, r->runner_id, strlen(r->runner_id));
    if (r->priv->prev)
        r->priv->prev->priv->next = r->priv->next;
    else
        e->runners_first = r->priv->next;
    if (r->priv->next)
        r->priv->next->priv->prev = r->priv->prev;
    eng_store_runner_delete(e, r->runner_id);
    eng_runner_free(r);
}

void eng_runner_disconnected(eng_t *e, eng_runner_t *r)
{
    if (!r->connected)
        return;
    r->connected = false;
    met_add(e->m_runners_connected, -1);
    log_info("runner disconnected", LF_S("runner_id", r->runner_id),
             LF_I("lost_after_ms", e->cfg.runner_lost_threshold_ms));
    clk_start(e->clk, &r->priv->lost_timer, eng_runner_lost,
              (uint64_t)e->cfg.runner_lost_threshold_ms);
}

void eng_runner_each(eng_t *e, const eng_ns_t *ns, const char *name,
                     int (*fn)(void *ud, eng_runner_t *r), void *ud)
{
    for (eng_runner_t *r = e->runners_first; r; r = r->priv->next) {
        if (r->priv->lost)
            continue;
        if (ns && r->ns != ns)
            continue;
        if (name && strcmp(r->name, name) != 0)
            continue;
        if (fn(ud, r))
            break;
    }
}

eng_runner_t *eng_runner_get(eng_t *e, const char *runner_id)
{
    eng_runner_t *r = map_get(&e->runners, runner_id, strlen(runner_id));
    return r && !r->priv->lost ? r : NULL;
}
