/* A clock in milliseconds with one-shot timers on it, for the modules whose deadlines tests must
 * drive (the engine and the gateway). A clock follows its loop (uv_now) until a test calls
 * clk_set_manual; from then on its time moves only by clk_advance. Either way a due timer fires
 * from the loop (on its next turn when a test advanced the clock), never inside the call that
 * armed it or moved the time, so a test runs the same code paths as production.
 *
 * The timers of one clock sit in one binary heap behind a single uv timer: a timer is a small
 * record inside its owner, with no handle of its own to close. Timers due at the same time fire
 * in the order they were started. One turn of the loop fires at most as many timers as were
 * armed when it began, so callbacks that keep arming timers due at once cannot stall the loop. */
#ifndef SETT_CORE_CLOCK_H
#define SETT_CORE_CLOCK_H

#include <stdint.h>
#include <uv.h>

typedef struct clk clk_t;
typedef struct clk_timer clk_timer_t;
typedef void (*clk_cb)(clk_timer_t *t);

/* Owned by the caller, who zeroes it before first use and may read data and clk_active. The
 * timer is disarmed before its callback runs and the clock does not touch it afterwards, so the
 * callback may free the record holding it. */
struct clk_timer {
    uint64_t due; /* clock time at which it fires */
    clk_cb cb;
    void *data;   /* the caller's */
    uint32_t pos; /* heap index + 1; 0 while disarmed */
    uint32_t seq; /* start order, which breaks ties between equal due times */
};

clk_t *clk_new(uv_loop_t *loop);
/* Closes the clock's handle (it is freed once closed); every timer must be disarmed. */
void clk_free(clk_t *c);
uint64_t clk_now(const clk_t *c);
/* Arms t to call cb ms from now, re-arming it if it was armed. */
void clk_start(clk_t *c, clk_timer_t *t, clk_cb cb, uint64_t ms);
void clk_stop(clk_t *c, clk_timer_t *t);
static inline int clk_active(const clk_timer_t *t)
{
    return t->pos != 0;
}

/* Tests: from now on the clock reads now_ms and moves only by clk_advance; armed timers keep
 * the time they had left. A loop clock never keeps its loop alive; a manual one does while a
 * timer is due. */
void clk_set_manual(clk_t *c, uint64_t now_ms);
/* Tests: moves a manual clock forward; timers due by then fire on the loop's next turn. */
void clk_advance(clk_t *c, uint64_t ms);

#endif
