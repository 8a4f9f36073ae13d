/* The engine against fake runners on the bus: placement, commands and checkpoints, events
 * applied once, sleep and wake, crash policies, lost runners and reconnects. */
#include "t.h"

#include <uv.h>

#include "bus/bus.h"
#include "core/log.h"
#include "engine/engine.h"
#include "engine/engine_runner.h"
#include "proto/bare.h"
#include "proto/rp_v7.h"
#include "store/store_memory.h"

static uv_loop_t loop;
static eng_t *eng;
static bus_t *bus;
static store_t *store;

/* What a fake runner received: the last commands (tag, actor, generation, index). */
typedef struct fake {
    char subject[96];
    int starts, stops, acks;
    uint32_t last_gen;
    int64_t last_idx;
    char last_actor[40];
    int last_tag;
} fake_t;

static void fake_on_bus(void *ud, const char *subject, const uint8_t *f, size_t n)
{
    fake_t *fk = ud;
    rp_to_runner_t m;
    bare_err_t err;
    if (rp_to_runner_decode_versioned(f, n, &m, &err) != BARE_OK) {
        fprintf(stderr, "fake runner: undecodable frame\n");
        t_fail++;
        return;
    }
    if (m.tag == RP_TO_RUNNER_CLIENT_COMMANDS) {
        for (size_t i = 0; i < m.val.client_commands.len; i++) {
            rp_command_wrapper_t *w = &m.val.client_commands.items[i];
            if (w->inner.tag == RP_COMMAND_START_ACTOR)
                fk->starts++;
            else
                fk->stops++;
            fk->last_tag = w->inner.tag;
            fk->last_gen = w->checkpoint.generation;
            fk->last_idx = w->checkpoint.index;
            snprintf(fk->last_actor, sizeof fk->last_actor, "%.*s", (int)w->checkpoint.actor_id.len,
                     (const char *)w->checkpoint.actor_id.p);
        }
    } else if (m.tag == RP_TO_RUNNER_CLIENT_ACK_EVENTS) {
        fk->acks++;
    }
    rp_to_runner_free(&m);
}

static eng_runner_t *fake_connect(fake_t *fk, const char *name, const char *key, uint32_t slots,
                                  uint32_t version, bool *was)
{
    rp_to_server_init_t init;
    memset(&init, 0, sizeof init);
    init.name = slice_cstr(name);
    init.version = version;
    init.total_slots = slots;
    eng_runner_t *r = eng_runner_connect(eng, eng_ns_get(eng, "default"), name, key, &init, was);
    snprintf(fk->subject, sizeof fk->subject, "pegboard.runner.%s", r->runner_id);
    bus_subscribe(bus, fk->subject, fake_on_bus, fk);
    eng_runner_ready(eng, r);
    return r;
}

static void send_event_gen(eng_runner_t *r, eng_actor_t *a, uint32_t gen, int64_t idx, int kind,
                           int arg)
{
    rp_event_wrapper_t w;
    memset(&w, 0, sizeof w);
    w.checkpoint.actor_id = slice_cstr(a->actor_id);
    w.checkpoint.generation = gen;
    w.checkpoint.index = idx;
    if (kind == 0) { /* running */
        w.inner.tag = RP_EVENT_ACTOR_STATE_UPDATE;
        w.inner.val.actor_state_update.state.tag = RP_ACTOR_STATE_RUNNING;
    } else if (kind == 1) { /* stopped, arg = code */
        w.inner.tag = RP_EVENT_ACTOR_STATE_UPDATE;
        w.inner.val.actor_state_update.state.tag = RP_ACTOR_STATE_STOPPED;
        w.inner.val.actor_state_update.state.val.stopped.code = (rp_stop_code_t)arg;
    } else { /* intent, arg 0 sleep 1 stop */
        w.inner.tag = RP_EVENT_ACTOR_INTENT;
        w.inner.val.actor_intent.intent.tag = (rp_actor_intent_tag_t)arg;
    }
    rp_to_server_events_t ev = { &w, 1 };
    eng_runner_events(eng, r, &ev);
}

static void send_event(eng_runner_t *r, eng_actor_t *a, int64_t idx, int kind, int arg)
{
    send_event_gen(r, a, a->generation, idx, kind, arg);
}

static eng_actor_t *create(const char *name, const char *key, store_crash_policy_t cp)
{
    eng_actor_spec_t spec = { .namespace_name = "default",
                              .name = name,
                              .key = key,
                              .runner_name_selector = "pool",
                              .crash_policy = cp };
    eng_actor_t *a = NULL;
    eng_error_t err;
    CHECK(eng_actor_create(eng, &spec, &a, &err) == 0);
    return a;
}

static int ready_calls, ready_err;
static void on_ready(void *ud, int err, eng_actor_t *a)
{
    ready_calls++;
    ready_err = err;
}

static void run_a_bit(void)
{
    for (int i = 0; i < 5; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
}

int main(void)
{
    log_setup(LOG_WARN, 0);
    uv_loop_init(&loop);
    store = store_memory_new(&loop);
    bus = bus_new();
    eng_config_t cfg = ENG_CONFIG_DEFAULT;
    cfg.runner_lost_threshold_ms = 50;
    eng = eng_new(&loop, store, bus, &cfg);
    /* Time moves only when the test moves it. */
    clk_t *clk = eng_clock(eng);
    clk_set_manual(clk, 1000000);

    /* No runner yet: the actor waits. */
    eng_actor_t *a = create("counter", "k1", STORE_CRASH_RESTART);
    CHECK_EQ_INT(a->state, ENG_ACTOR_PENDING);
    CHECK(a->pending_allocation_ts > 0);
    eng_error_t err;
    eng_actor_spec_t dup = {
        .namespace_name = "default", .name = "counter", .key = "k1", .runner_name_selector = "pool"
    };
    CHECK(eng_actor_create(eng, &dup, NULL, &err) != 0 && err.status == 409);
    eng_actor_spec_t nons = { .namespace_name = "nope", .name = "x", .runner_name_selector = "p" };
    CHECK(eng_actor_create(eng, &nons, NULL, &err) != 0 && err.status == 404);

    /* A runner connects: the queued actor starts there with generation 0, index 0. */
    fake_t f1 = { 0 };
    bool was = true;
    eng_runner_t *r1 = fake_connect(&f1, "pool", "key-1", 2, 1, &was);
    CHECK(!was);
    CHECK_EQ_INT(f1.starts, 1);
    CHECK_EQ_INT(f1.last_gen, 0);
    CHECK_EQ_INT(f1.last_idx, 0);
    CHECK_EQ_INT(a->state, ENG_ACTOR_STARTING);
    CHECK(a->runner == r1);
    CHECK_EQ_INT(r1->used_slots, 1);

    /* Running makes it routable; the same event again changes nothing; events are acked. */
    send_event(r1, a, 0, 0, 0);
    CHECK_EQ_INT(a->state, ENG_ACTOR_RUNNING);
    CHECK(a->connectable_ts > 0);
    CHECK_EQ_INT(f1.acks, 1);
    send_event(r1, a, 0, 0, 0);
    CHECK_EQ_INT(f1.acks, 2);

    /* Sleep intent: a stop command (index 1), then Stopped puts it to sleep. */
    send_event(r1, a, 1, 2, 0);
    CHECK_EQ_INT(a->state, ENG_ACTOR_STOPPING);
    CHECK_EQ_INT(f1.stops, 1);
    CHECK_EQ_INT(f1.last_idx, 1);
    send_event(r1, a, 2, 1, RP_STOP_CODE_OK);
    CHECK_EQ_INT(a->state, ENG_ACTOR_SLEEPING);
    CHECK(a->sleep_ts > 0);
    CHECK_EQ_INT(r1->used_slots, 0);

    /* A request wakes it: generation 1, index 0 again. */
    eng_actor_wait_ready(eng, a, 1000, on_ready, NULL);
    CHECK_EQ_INT(f1.starts, 2);
    CHECK_EQ_INT(a->generation, 1);
    CHECK_EQ_INT(f1.last_idx, 0);
    /* An event of the old generation is ignored. */
    send_event_gen(r1, a, 0, 5, 0, 0);
    CHECK_EQ_INT(a->state, ENG_ACTOR_STARTING);
    send_event(r1, a, 0, 0, 0);
    run_a_bit();
    CHECK_EQ_INT(ready_calls, 1);
    CHECK_EQ_INT(ready_err, ENG_OK);

    /* A quick reconnect keeps the runner and does not restart the running actor. */
    eng_runner_disconnected(eng, r1);
    int starts_before = f1.starts;
    eng_runner_t *r1b = NULL;
    {
        rp_to_server_init_t init;
        memset(&init, 0, sizeof init);
        init.name = (slice_t){ (const uint8_t *)"pool", 4 };
        init.version = 1;
        init.total_slots = 2;
        r1b = eng_runner_connect(eng, eng_ns_get(eng, "default"), "pool", "key-1", &init, &was);
        eng_runner_ready(eng, r1b);
    }
    CHECK(r1b == r1);
    CHECK(!was);
    CHECK_EQ_INT(f1.starts, starts_before);
    CHECK_EQ_INT(a->state, ENG_ACTOR_RUNNING);

    /* The runner is lost: the actor (restart policy) moves to a second runner. */
    fake_t f2 = { 0 };
    eng_runner_t *r2 = fake_connect(&f2, "pool", "key-2", 4, 1, &was);
    eng_runner_disconnected(eng, r1);
    clk_advance(clk, 49);
    run_a_bit();
    CHECK_EQ_INT(a->state, ENG_ACTOR_RUNNING); /* not yet: the threshold has not passed */
    clk_advance(clk, 1);
    run_a_bit();
    CHECK(a->runner == r2);
    CHECK_EQ_INT(a->state, ENG_ACTOR_STARTING);
    CHECK_EQ_INT(a->generation, 2);
    CHECK_EQ_INT(f2.starts, 1);
    send_event(r2, a, 0, 0, 0);
    CHECK_EQ_INT(a->state, ENG_ACTOR_RUNNING);

    /* A crash with policy destroy destroys; with sleep, sleeps; a stop intent with OK destroys. */
    eng_actor_t *d = create("doomed", NULL, STORE_CRASH_DESTROY);
    CHECK(d->runner == r2);
    send_event(r2, d, 0, 0, 0);
    send_event(r2, d, 1, 1, RP_STOP_CODE_ERROR);
    CHECK_EQ_INT(d->state, ENG_ACTOR_DESTROYED);
    CHECK(d->destroy_ts > 0);
    eng_actor_t *s = create("sleepy", NULL, STORE_CRASH_SLEEP);
    send_event(r2, s, 0, 0, 0);
    send_event(r2, s, 1, 1, RP_STOP_CODE_ERROR);
    CHECK_EQ_INT(s->state, ENG_ACTOR_SLEEPING);
    eng_actor_t *q = create("quitter", "qk", STORE_CRASH_RESTART);
    send_event(r2, q, 0, 0, 0);
    send_event(r2, q, 1, 2, 1); /* stop intent */
    send_event(r2, q, 2, 1, RP_STOP_CODE_OK);
    CHECK_EQ_INT(q->state, ENG_ACTOR_DESTROYED);
    /* Its key is free again. */
    eng_actor_t *q2 = create("quitter", "qk", STORE_CRASH_RESTART);
    CHECK(q2 != NULL && q2 != q);

    /* Delete a running actor: destroyed at once, as Rivet does, with a stop command; its slot
     * stays taken until the runner's Stopped. */
    ready_calls = 0;
    int stops_before = f2.stops;
    uint32_t used_before = r2->used_slots;
    eng_actor_destroy(eng, a);
    CHECK_EQ_INT(a->state, ENG_ACTOR_DESTROYED);
    CHECK(a->destroy_ts > 0);
    CHECK_EQ_INT(f2.stops, stops_before + 1);
    CHECK(eng_actor_find(eng, eng_ns_get(eng, "default"), "counter", "k1") == NULL);
    CHECK_EQ_INT(r2->used_slots, used_before);
    send_event(r2, a, 1, 1, RP_STOP_CODE_OK);
    CHECK_EQ_INT(a->state, ENG_ACTOR_DESTROYED);
    CHECK_EQ_INT(r2->used_slots, used_before - 1);
    CHECK(a->runner == NULL);

    /* Destroyed while it starts: gone at once for waiters and its key, before any Running;
     * the Running, a SetAlarm and the Stopped that follow change nothing but free the slot. */
    {
        eng_actor_t *st = create("racer", "rk", STORE_CRASH_SLEEP);
        CHECK_EQ_INT(st->state, ENG_ACTOR_STARTING);
        eng_runner_t *rr = st->runner;
        uint32_t used = rr->used_slots;
        ready_calls = 0;
        ready_err = 0;
        eng_actor_wait_ready(eng, st, 5000, on_ready, NULL);
        eng_actor_destroy(eng, st);
        CHECK_EQ_INT(st->state, ENG_ACTOR_DESTROYED);
        CHECK_EQ_INT(ready_calls, 1);
        CHECK_EQ_INT(ready_err, ENG_ENOTFOUND);
        CHECK(eng_actor_find(eng, eng_ns_get(eng, "default"), "racer", "rk") == NULL);
        eng_actor_t *again = create("racer", "rk", STORE_CRASH_SLEEP);
        CHECK(again != NULL && again != st);
        CHECK(eng_runner_actor(eng, rr, st->actor_id, strlen(st->actor_id)) == NULL);
        send_event(rr, st, 0, 0, 0);
        CHECK_EQ_INT(st->state, ENG_ACTOR_DESTROYED);
        CHECK(st->connectable_ts == 0);
        rp_event_wrapper_t w;
        memset(&w, 0, sizeof w);
        w.checkpoint.actor_id = slice_cstr(st->actor_id);
        w.checkpoint.generation = st->generation;
        w.checkpoint.index = 1;
        w.inner.tag = RP_EVENT_ACTOR_SET_ALARM;
        w.inner.val.actor_set_alarm.has_alarm_ts = true;
        w.inner.val.actor_set_alarm.alarm_ts = eng_now_ms(eng) + 10;
        rp_to_server_events_t ev = { &w, 1 };
        eng_runner_events(eng, rr, &ev);
        CHECK(!st->has_alarm);
        /* An ungraceful Stopped of a destroyed actor neither sleeps nor restarts it. */
        send_event(rr, st, 2, 1, RP_STOP_CODE_ERROR);
        CHECK_EQ_INT(st->state, ENG_ACTOR_DESTROYED);
        CHECK(st->runner == NULL);
        CHECK_EQ_INT(rr->used_slots, used); /* st's slot freed, again's taken */
        clk_advance(clk, 20);
        run_a_bit();
        CHECK_EQ_INT(st->state, ENG_ACTOR_DESTROYED);

        /* Stopped by its own stop intent while it starts (RivetKit's c.destroy() during
         * onWake): a request waiting for it is answered not found once Stopped comes, however
         * long the stop takes within the wait's deadline. */
        eng_actor_t *si = create("selfstop", NULL, STORE_CRASH_SLEEP);
        eng_runner_t *sr = si->runner;
        send_event(sr, si, 0, 2, 1);
        CHECK_EQ_INT(si->state, ENG_ACTOR_STOPPING);
        ready_calls = 0;
        eng_actor_wait_ready(eng, si, 1000, on_ready, NULL);
        clk_advance(clk, 900);
        run_a_bit();
        CHECK_EQ_INT(ready_calls, 0);
        send_event(sr, si, 1, 0, 0); /* a late Running does not make it routable */
        CHECK_EQ_INT(si->state, ENG_ACTOR_STOPPING);
        send_event(sr, si, 2, 1, RP_STOP_CODE_OK);
        CHECK_EQ_INT(si->state, ENG_ACTOR_DESTROYED);
        run_a_bit();
        CHECK_EQ_INT(ready_calls, 1);
        CHECK_EQ_INT(ready_err, ENG_ENOTFOUND);

        /* Destroyed while it stops to sleep: destroyed at once, and its Stopped does not put
         * it to sleep. */
        eng_actor_t *sl = create("sleeper", NULL, STORE_CRASH_SLEEP);
        eng_runner_t *slr = sl->runner;
        send_event(slr, sl, 0, 0, 0);
        send_event(slr, sl, 1, 2, 0);
        CHECK_EQ_INT(sl->state, ENG_ACTOR_STOPPING);
        CHECK(slr == r2);
        int sl_stops = f2.stops;
        eng_actor_destroy(eng, sl);
        CHECK_EQ_INT(sl->state, ENG_ACTOR_DESTROYED);
        CHECK_EQ_INT(f2.stops, sl_stops); /* its stop is already out */
        send_event(slr, sl, 2, 1, RP_STOP_CODE_OK);
        CHECK_EQ_INT(sl->state, ENG_ACTOR_DESTROYED);
        CHECK(sl->sleep_ts == 0);
        eng_actor_destroy(eng, again);
        CHECK_EQ_INT(again->state, ENG_ACTOR_DESTROYED);
        CHECK(again->runner != NULL);
    }

    /* A draining runner's actors move elsewhere. */
    fake_t f3 = { 0 };
    eng_runner_t *r3 = fake_connect(&f3, "pool", "key-3", 4, 1, &was);
    eng_runner_stopping(eng, r2);
    CHECK(q2->state == ENG_ACTOR_STOPPING);
    send_event(r2, q2, 1, 1, RP_STOP_CODE_OK);
    CHECK(q2->runner == r3);

    /* SetAlarm on an actor that then sleeps wakes it when the alarm comes due. */
    eng_actor_t *al = create("alarmed", NULL, STORE_CRASH_RESTART);
    send_event(al->runner, al, 0, 0, 0);
    {
        rp_event_wrapper_t w;
        memset(&w, 0, sizeof w);
        w.checkpoint.actor_id = slice_cstr(al->actor_id);
        w.checkpoint.generation = al->generation;
        w.checkpoint.index = 1;
        w.inner.tag = RP_EVENT_ACTOR_SET_ALARM;
        w.inner.val.actor_set_alarm.has_alarm_ts = true;
        w.inner.val.actor_set_alarm.alarm_ts = eng_now_ms(eng) + 30;
        rp_to_server_events_t ev = { &w, 1 };
        eng_runner_events(eng, al->runner, &ev);
    }
    CHECK(al->has_alarm);
    send_event(al->runner, al, 2, 2, 0);
    send_event(al->runner, al, 3, 1, RP_STOP_CODE_OK);
    CHECK_EQ_INT(al->state, ENG_ACTOR_SLEEPING);
    clk_advance(clk, 40);
    run_a_bit();
    CHECK_EQ_INT(al->state, ENG_ACTOR_STARTING);
    CHECK_EQ_INT(al->generation, 1);

    /* Higher versions win placement. */
    fake_t f4 = { 0 };
    eng_runner_t *r4 = fake_connect(&f4, "pool", "key-4", 4, 2, &was);
    eng_actor_t *v = create("versioned", NULL, STORE_CRASH_RESTART);
    CHECK(v->runner == r4);

    /* Destroyed on a runner that is then lost before its Stopped: it stays destroyed and is
     * not placed again, whatever its crash policy. */
    eng_actor_destroy(eng, v);
    CHECK_EQ_INT(v->state, ENG_ACTOR_DESTROYED);
    CHECK(v->runner == r4);
    eng_runner_disconnected(eng, r4);
    clk_advance(clk, 50);
    run_a_bit();
    CHECK_EQ_INT(v->state, ENG_ACTOR_DESTROYED);
    CHECK(v->runner == NULL);

    eng_free(eng);
    store_close(store, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    bus_free(bus);
    CHECK_EQ_INT(uv_loop_close(&loop), 0);
    return T_DONE();
}
