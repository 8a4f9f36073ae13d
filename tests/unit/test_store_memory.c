/* The memory store against the shared store suite, plus what only the memory store promises:
 * that dropped KV and expired hibernating rows give their memory back. */
#include "store_suite.h"

#include "store/store_memory.h"

static store_t *make_memory(uv_loop_t *loop, void *arg)
{
    return store_memory_new(loop);
}

static void on_done(void *ud, int err)
{
    int *slot = ud;
    *slot = err == STORE_OK ? 1 : -1;
}

static void on_kv(void *ud, int err, const store_kv_res_t *res)
{
    on_done(ud, err);
}

static void on_closed(void *ud)
{
    *(int *)ud = 1;
}

static int64_t fake_now = 1000;

static int64_t fake_clock(void *ud)
{
    return fake_now;
}

/* Runs the loop until *flag is set. */
static void run_until(uv_loop_t *loop, int *flag)
{
    for (int i = 0; i < 1000 && !*flag; i++)
        uv_run(loop, UV_RUN_ONCE);
}

static void test_memory_reclaims(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_t *s = store_memory_new(&loop);
    store_set_clock(s, fake_clock, NULL);
    CHECK(strcmp(store_kind(s), "memory") == 0);
    CHECK(store_loop(s) == &loop);

    store_memory_stats_t st;
    int done = 0;
    slice_t keys[] = { { (const uint8_t *)"ab", 2 }, { (const uint8_t *)"c", 1 } };
    slice_t vals[] = { { (const uint8_t *)"xyz", 3 }, { (const uint8_t *)"", 0 } };
    store_kv_put(s, "a1", keys, 2, vals, 2, on_kv, &done);
    run_until(&loop, &done);
    CHECK_EQ_INT(done, 1);
    CHECK_EQ_INT(store_memory_stats(s, &st), STORE_OK);
    CHECK_EQ_INT(st.kv_actors, 1);
    CHECK_EQ_INT(st.kv_keys, 2);
    CHECK_EQ_INT(st.kv_bytes, 6);

    /* Overwriting replaces the bytes counted against the quota. */
    done = 0;
    store_kv_put(s, "a1", keys, 1, vals + 1, 1, on_kv, &done);
    run_until(&loop, &done);
    store_memory_stats(s, &st);
    CHECK_EQ_INT(st.kv_bytes, 3);

    /* Deleting the last key frees the actor's table. */
    done = 0;
    store_kv_delete(s, "a1", keys, 2, on_kv, &done);
    run_until(&loop, &done);
    store_memory_stats(s, &st);
    CHECK_EQ_INT(st.kv_actors, 0);
    CHECK_EQ_INT(st.kv_bytes, 0);

    /* Expired rows go at the first upsert a ttl after the last sweep. */
    fake_now = 1000;
    store_hib_row_t rows[] = { { "old", { 1 }, { 1 }, 1000 }, { "old", { 1 }, { 2 }, 1050 } };
    done = 0;
    store_hib_upsert(s, rows, 2, 100, on_done, &done);
    run_until(&loop, &done);
    store_memory_stats(s, &st);
    CHECK_EQ_INT(st.hib_rows, 2);
    fake_now = 1090;
    store_hib_row_t fresh[] = { { "new", { 2 }, { 1 }, 1090 } };
    done = 0;
    store_hib_upsert(s, fresh, 1, 100, on_done, &done);
    run_until(&loop, &done);
    store_memory_stats(s, &st);
    CHECK_EQ_INT(st.hib_rows, 3);
    fake_now = 1300;
    fresh[0].last_ping_ts = 1300;
    done = 0;
    store_hib_upsert(s, fresh, 1, 100, on_done, &done);
    run_until(&loop, &done);
    store_memory_stats(s, &st);
    CHECK_EQ_INT(st.hib_rows, 1);

    /* Stats of the records. */
    store_actor_t a = { 0 };
    a.actor_id = (char *)"a1";
    a.namespace_id = (char *)"ns";
    a.name = (char *)"n";
    done = 0;
    store_actor_put(s, &a, on_done, &done);
    run_until(&loop, &done);
    store_memory_stats(s, &st);
    CHECK_EQ_INT(st.actors, 1);
    CHECK_EQ_INT(st.namespaces, 0);
    CHECK_EQ_INT(st.runners, 0);

    int closed = 0;
    store_close(s, on_closed, &closed);
    CHECK_EQ_INT(closed, 0);
    run_until(&loop, &closed);
    CHECK_EQ_INT(closed, 1);
    CHECK_EQ_INT(uv_loop_close(&loop), 0);
}

/* Closing from inside a completion callback must be safe, and the rest of that batch of
 * completions still runs before the close callback. */
typedef struct close_in_cb {
    store_t *s;
    int first, second, closed;
} close_in_cb_t;

static void close_in_cb_closed(void *ud)
{
    close_in_cb_t *c = ud;
    CHECK_EQ_INT(c->second, 1);
    c->closed = 1;
}

static void close_in_cb_first(void *ud, int err, const store_kv_res_t *res)
{
    close_in_cb_t *c = ud;
    c->first = 1;
    store_close(c->s, close_in_cb_closed, c);
}

static void close_in_cb_second(void *ud, int err, const store_kv_res_t *res)
{
    close_in_cb_t *c = ud;
    CHECK_EQ_INT(err, STORE_OK);
    c->second = 1;
}

static void test_close_in_callback(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    close_in_cb_t c = { store_memory_new(&loop), 0, 0, 0 };
    store_kv_drop(c.s, "a", close_in_cb_first, &c);
    store_kv_drop(c.s, "b", close_in_cb_second, &c);
    run_until(&loop, &c.closed);
    CHECK_EQ_INT(c.first, 1);
    CHECK_EQ_INT(c.second, 1);
    CHECK_EQ_INT(c.closed, 1);
    CHECK_EQ_INT(uv_loop_close(&loop), 0);
}

/* An idle store keeps the loop neither alive nor busy. */
static void test_idle_store_lets_loop_end(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_t *s = store_memory_new(&loop);
    CHECK_EQ_INT(uv_run(&loop, UV_RUN_NOWAIT), 0);
    int closed = 0;
    store_close(s, on_closed, &closed);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(closed, 1);
    CHECK_EQ_INT(uv_loop_close(&loop), 0);
}

int main(void)
{
    store_suite_run(make_memory, NULL);
    test_memory_reclaims();
    test_close_in_callback();
    test_idle_store_lets_loop_end();
    return T_DONE();
}
