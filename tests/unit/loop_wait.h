/* Running a test's uv loop (`loop`) until something has happened: RUN_UNTIL(cond, ms) runs it
 * until cond holds, with a deadline that only bounds a failure, and evaluates to cond. Call
 * loop_wait_init after uv_loop_init and loop_wait_close before the last run of the loop. */
#ifndef SETT_TEST_LOOP_WAIT_H
#define SETT_TEST_LOOP_WAIT_H

#include <uv.h>

static uv_loop_t loop;
static uv_timer_t loop_guard;
static int loop_guard_fired;

static void loop_guard_cb(uv_timer_t *t)
{
    loop_guard_fired = 1;
}

#define RUN_UNTIL(cond, ms)                                  \
    ({                                                       \
        loop_guard_fired = 0;                                \
        uv_timer_start(&loop_guard, loop_guard_cb, (ms), 0); \
        while (!(cond) && !loop_guard_fired)                 \
            uv_run(&loop, UV_RUN_ONCE);                      \
        uv_timer_stop(&loop_guard);                          \
        (cond);                                              \
    })

static inline void loop_wait_init(void)
{
    uv_loop_init(&loop);
    uv_timer_init(&loop, &loop_guard);
}

static inline void loop_wait_close(void)
{
    uv_close((uv_handle_t *)&loop_guard, NULL);
}

#endif
