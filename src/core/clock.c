#include "core/clock.h"
#include "core/alloc.h"

#include <assert.h>

struct clk {
    uv_loop_t *loop;
    uv_timer_t tick;    /* due at the earliest timer's time */
    clk_timer_t **heap; /* a binary min-heap ordered by (due, seq) */
    uint32_t n, cap;
    uint32_t seq;
    int manual;
    uint64_t now; /* the time of a manual clock */
};

static void clk_tick(uv_timer_t *h);

clk_t *clk_new(uv_loop_t *loop)
{
    clk_t *c = sx_calloc(1, sizeof *c);
    c->loop = loop;
    uv_timer_init(loop, &c->tick);
    c->tick.data = c;
    /* Timers never keep the process alive on their own: shutdown does not wait for them. */
    uv_unref((uv_handle_t *)&c->tick);
    return c;
}

static void clk_closed(uv_handle_t *h)
{
    clk_t *c = h->data;
    free(c->heap);
    free(c);
}

void clk_free(clk_t *c)
{
    assert(c->n == 0);
    uv_close((uv_handle_t *)&c->tick, clk_closed);
}

uint64_t clk_now(const clk_t *c)
{
    return c->manual ? c->now : uv_now(c->loop);
}

static int clk_before(const clk_timer_t *a, const clk_timer_t *b)
{
    if (a->due != b->due)
        return a->due < b->due;
    return (int32_t)(a->seq - b->seq) < 0;
}

static void clk_place(clk_t *c, uint32_t i, clk_timer_t *t)
{
    c->heap[i] = t;
    t->pos = i + 1;
}

static void clk_sift_up(clk_t *c, uint32_t i)
{
    clk_timer_t *t = c->heap[i];
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (!clk_before(t, c->heap[parent]))
            break;
        clk_place(c, i, c->heap[parent]);
        i = parent;
    }
    clk_place(c, i, t);
}

static void clk_sift_down(clk_t *c, uint32_t i)
{
    clk_timer_t *t = c->heap[i];
    for (;;) {
        uint32_t child = 2 * i + 1;
        if (child >= c->n)
            break;
        if (child + 1 < c->n && clk_before(c->heap[child + 1], c->heap[child]))
            child++;
        if (!clk_before(c->heap[child], t))
            break;
        clk_place(c, i, c->heap[child]);
        i = child;
    }
    clk_place(c, i, t);
}

/* The uv timer follows the earliest due time; a manual clock's only fires for what is due. */
static void clk_arm(clk_t *c)
{
    if (c->n == 0) {
        uv_timer_stop(&c->tick);
        return;
    }
    uint64_t due = c->heap[0]->due, now = clk_now(c);
    if (due <= now)
        uv_timer_start(&c->tick, clk_tick, 0, 0);
    else if (!c->manual)
        uv_timer_start(&c->tick, clk_tick, due - now, 0);
    else
        uv_timer_stop(&c->tick);
}

static void clk_remove(clk_t *c, clk_timer_t *t)
{
    /* A timer armed on another clock, or copied while armed, would corrupt this heap. */
    assert(t->pos >= 1 && t->pos <= c->n && c->heap[t->pos - 1] == t);
    uint32_t i = t->pos - 1;
    t->pos = 0;
    c->n--;
    if (i < c->n) {
        clk_place(c, i, c->heap[c->n]);
        if (i > 0 && clk_before(c->heap[i], c->heap[(i - 1) / 2]))
            clk_sift_up(c, i);
        else
            clk_sift_down(c, i);
    }
    /* A heap that held many timers (sockets that were all pinged at once) gives the room
     * back as they go. */
    if (c->cap > 64 && c->n < c->cap / 4) {
        c->cap /= 2;
        c->heap = sx_realloc(c->heap, c->cap * sizeof *c->heap);
    }
}

void clk_start(clk_t *c, clk_timer_t *t, clk_cb cb, uint64_t ms)
{
    assert(cb != NULL);
    if (t->pos)
        clk_remove(c, t);
    t->cb = cb;
    t->due = clk_now(c) + ms;
    t->seq = c->seq++;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->heap = sx_realloc(c->heap, c->cap * sizeof *c->heap);
    }
    c->heap[c->n++] = t;
    clk_sift_up(c, c->n - 1);
    if (t->pos == 1)
        clk_arm(c);
}

void clk_stop(clk_t *c, clk_timer_t *t)
{
    /* The uv timer is left as it is: should it fire early, the tick finds nothing due and
     * follows the new earliest time. */
    if (t->pos)
        clk_remove(c, t);
}

static void clk_tick(uv_timer_t *h)
{
    clk_t *c = h->data;
    uint64_t now = clk_now(c);
    uint32_t budget = c->n;
    while (c->n > 0 && c->heap[0]->due <= now) {
        if (budget-- == 0) {
            /* Callbacks keep arming timers due at once: the loop turns, and polls, first. A
             * timer due at once would run again in this same pass of libuv's. */
            uv_timer_start(&c->tick, clk_tick, 1, 0);
            return;
        }
        clk_timer_t *t = c->heap[0];
        clk_remove(c, t);
        t->cb(t);
    }
    clk_arm(c);
}

void clk_set_manual(clk_t *c, uint64_t now_ms)
{
    uint64_t was = clk_now(c);
    /* Every armed timer moves by the same amount, so the heap's order holds. */
    for (uint32_t i = 0; i < c->n; i++)
        c->heap[i]->due = c->heap[i]->due - was + now_ms;
    c->manual = 1;
    c->now = now_ms;
    /* A test runs the loop to see due timers fire, whether or not anything else keeps it
     * alive. */
    uv_ref((uv_handle_t *)&c->tick);
    clk_arm(c);
}

void clk_advance(clk_t *c, uint64_t ms)
{
    assert(c->manual);
    c->now += ms;
    clk_arm(c);
}
