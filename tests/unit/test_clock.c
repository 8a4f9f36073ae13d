/* The clock and its timers on a real loop, driven by hand: order of due times and of ties,
 * re-arming and stopping, callbacks that free their timer or arm more, the bound on one turn,
 * and a manual clock that keeps armed timers' remaining time. */
#include "t.h"

#include <stdlib.h>
#include <uv.h>

#include "core/clock.h"

static uv_loop_t loop;
static clk_t *clk;
static int fired[64], nfired;

static void on_fire(clk_timer_t *t)
{
    fired[nfired++] = (int)(intptr_t)t->data;
}

static void run(void)
{
    uv_run(&loop, UV_RUN_NOWAIT);
}

/* A callback that frees the record holding its timer. */
typedef struct owner {
    int tag;
    clk_timer_t t;
} owner_t;

static void on_fire_free(clk_timer_t *t)
{
    owner_t *o = t->data;
    fired[nfired++] = o->tag;
    free(o);
}

/* Counts firings and those not at their due time. */
static int nmany, many_late;
static void on_fire_many(clk_timer_t *t)
{
    nmany++;
    many_late += t->due != clk_now(clk);
}

/* A callback that re-arms its own timer due at once, forever. */
static int spins;
static void on_spin(clk_timer_t *t)
{
    spins++;
    clk_start(clk, t, on_spin, 0);
}

int main(void)
{
    uv_loop_init(&loop);
    clk = clk_new(&loop);
    clk_set_manual(clk, 5000);
    CHECK_EQ_INT(clk_now(clk), 5000);

    /* Due times fire in order; nothing fires before its time or inside the advance. */
    clk_timer_t a = { 0 }, b = { 0 }, c = { 0 };
    a.data = (void *)1;
    b.data = (void *)2;
    c.data = (void *)3;
    clk_start(clk, &a, on_fire, 30);
    clk_start(clk, &b, on_fire, 10);
    clk_start(clk, &c, on_fire, 20);
    CHECK(clk_active(&a) && clk_active(&b) && clk_active(&c));
    run();
    CHECK_EQ_INT(nfired, 0);
    clk_advance(clk, 9);
    run();
    CHECK_EQ_INT(nfired, 0);
    clk_advance(clk, 1);
    CHECK_EQ_INT(nfired, 0);
    run();
    CHECK_EQ_INT(nfired, 1);
    CHECK_EQ_INT(fired[0], 2);
    CHECK(!clk_active(&b));
    clk_advance(clk, 100);
    run();
    CHECK_EQ_INT(nfired, 3);
    CHECK_EQ_INT(fired[1], 3);
    CHECK_EQ_INT(fired[2], 1);

    /* Equal due times fire in the order they were started; a re-armed timer goes to the back,
     * a stopped one never fires. */
    nfired = 0;
    clk_timer_t ties[6];
    memset(ties, 0, sizeof ties);
    for (int i = 0; i < 6; i++) {
        ties[i].data = (void *)(intptr_t)(10 + i);
        clk_start(clk, &ties[i], on_fire, 50);
    }
    clk_start(clk, &ties[1], on_fire, 50);
    clk_stop(clk, &ties[3]);
    clk_stop(clk, &ties[3]); /* twice is harmless */
    CHECK(!clk_active(&ties[3]));
    clk_advance(clk, 50);
    run();
    CHECK_EQ_INT(nfired, 5);
    int want[5] = { 10, 12, 14, 15, 11 };
    for (int i = 0; i < 5; i++)
        CHECK_EQ_INT(fired[i], want[i]);

    /* A re-armed timer fires at its new time only. */
    nfired = 0;
    clk_start(clk, &a, on_fire, 10);
    clk_start(clk, &a, on_fire, 40);
    clk_advance(clk, 20);
    run();
    CHECK_EQ_INT(nfired, 0);
    clk_advance(clk, 20);
    run();
    CHECK_EQ_INT(nfired, 1);

    /* A callback may free the record that holds its timer; a due-at-once timer fires on the
     * next turn, not inside clk_start. */
    nfired = 0;
    for (int i = 0; i < 3; i++) {
        owner_t *o = calloc(1, sizeof *o);
        o->tag = 100 + i;
        o->t.data = o;
        clk_start(clk, &o->t, on_fire_free, 0);
    }
    CHECK_EQ_INT(nfired, 0);
    run();
    CHECK_EQ_INT(nfired, 3);
    CHECK_EQ_INT(fired[0], 100);
    CHECK_EQ_INT(fired[2], 102);

    /* A callback that keeps arming a timer due at once does not stall the loop: one turn fires
     * at most what was armed when it began. */
    clk_timer_t spin = { 0 };
    clk_start(clk, &spin, on_spin, 0);
    run();
    CHECK_EQ_INT(spins, 1);
    /* The next firing comes on a later turn (how many turns a millisecond allows depends on the
     * machine, so only progress is checked). */
    while (spins < 2)
        uv_run(&loop, UV_RUN_ONCE);
    CHECK(spins >= 2);
    clk_stop(clk, &spin);

    /* Many timers: the heap keeps its order while it grows and shrinks, and each fires once,
     * at its own time. */
    enum { N = 500 };
    clk_timer_t *many = calloc(N, sizeof *many);
    for (int i = 0; i < N; i++)
        clk_start(clk, &many[i], on_fire_many, (uint64_t)((i * 7919) % N) + 1);
    for (int i = 0; i < N; i += 2)
        clk_stop(clk, &many[i]);
    for (int step = 0; step < N; step++) {
        clk_advance(clk, 1);
        run();
    }
    CHECK_EQ_INT(nmany, N / 2);
    CHECK(many_late == 0);
    for (int i = 0; i < N; i++)
        CHECK(!clk_active(&many[i]));
    free(many);

    /* Switching to a manual time keeps what armed timers have left. */
    clk_start(clk, &a, on_fire, 25);
    clk_set_manual(clk, 1);
    CHECK_EQ_INT(clk_now(clk), 1);
    CHECK_EQ_INT(a.due, 26);
    nfired = 0;
    clk_advance(clk, 25);
    run();
    CHECK_EQ_INT(nfired, 1);

    clk_free(clk);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(uv_loop_close(&loop), 0);
    return T_DONE();
}
