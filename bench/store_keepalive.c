/* store-keepalive: the hibernation keepalive path of the Redis store at scale, without sockets
 * (benchmark scenario 4's store-level run). It plays one gateway holding N hibernatable WebSockets
 * spread over A actors and drives the store exactly as src/gateway/gw.c does:
 *
 * - insert: one store_hib_upsert of one row per socket, as gw_keepalive_one writes it when a
 *   socket opens (at most SK_INSERT_WINDOW calls in flight, so that three million commands are
 *   not all handed to hiredis at once and timed out behind each other);
 * - tick: one store_hib_upsert of every socket's row stamped with the same now, as
 *   gw_keepalive_tick sends it, T times back to back, each waiting for its completion.
 *
 * Every row carries the gateway's id (random, as gw_new draws it) and a request id of its own;
 * actor ids have the engine's shape, 30 base36 characters. Keys are under a per-process prefix
 * and expire on their own ttl after the last tick (PEXPIRE), so nothing needs cleaning up.
 *
 *   store-keepalive --redis redis://127.0.0.1:PORT/0 [--rows 1000000] [--actors 10000]
 *                   [--ticks 5]
 *
 * Prints one line on stdout: rows= actors= ticks= insert_ms= insert_cpu_us_per_row= tick_ms=
 * tick_max_ms= cpu_us_per_row= cmds_per_tick= writes_per_tick= errors=, where tick_ms is the mean
 * wall time of a tick, cpu_us_per_row this process's CPU over the ticks per row refreshed, and
 * cmds_per_tick / writes_per_tick the commands and socket writes the store made per tick. Progress
 * goes to stderr. Exits 1 when any store call failed. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include "core/alloc.h"
#include "core/random.h"
#include "engine/engine.h"
#include "store/store_redis.h"

/* hibernation.eligible_threshold_ms's default: the gateway passes it as every upsert's ttl. */
#define SK_TTL_MS 90000
#define SK_INSERT_WINDOW 1024

/* One hibernatable socket of the simulated gateway: what gw_req_t holds for its keepalive row. */
typedef struct sk_sock {
    const char *actor_id;
    uint8_t rid[4];
} sk_sock_t;

typedef struct sk_bench {
    uv_loop_t loop;
    store_t *store;
    uint8_t gateway_id[4];
    sk_sock_t *socks;
    size_t rows, next, done;
    uint64_t errors;
    int inserted, tick_done, closed;
} sk_bench_t;

/* This process's user and system CPU so far, in µs: the cost the gateway's node would pay. */
static double sk_cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + ru.ru_utime.tv_usec
        + ru.ru_stime.tv_usec;
}

/* Runs the loop until *flag is set. A loop with nothing left to wait on cannot set it any more,
 * so that ends the wait as an error instead of spinning. */
static int sk_wait(sk_bench_t *b, const int *flag, const char *what)
{
    while (!*flag) {
        if (!uv_run(&b->loop, UV_RUN_ONCE) && !*flag) {
            fprintf(stderr, "store-keepalive: %s stalled with nothing in flight\n", what);
            b->errors++;
            return -1;
        }
    }
    return 0;
}

static void sk_insert_next(sk_bench_t *b);

static void sk_inserted(void *ud, int err)
{
    sk_bench_t *b = ud;
    if (err != STORE_OK && b->errors++ == 0)
        fprintf(stderr, "store-keepalive: insert failed: %s\n", store_strerror(err));
    b->inserted = ++b->done == b->rows;
    sk_insert_next(b);
}

/* The row gw_keepalive_one writes when a hibernatable socket opens: one row, one call. */
static void sk_insert_next(sk_bench_t *b)
{
    if (b->next >= b->rows)
        return;
    const sk_sock_t *k = &b->socks[b->next++];
    store_hib_row_t row = { k->actor_id, { 0 }, { 0 }, store_now_ms(b->store) };
    memcpy(row.gateway_id, b->gateway_id, 4);
    memcpy(row.request_id, k->rid, 4);
    store_hib_upsert(b->store, &row, 1, SK_TTL_MS, sk_inserted, b);
}

static void sk_ticked(void *ud, int err)
{
    sk_bench_t *b = ud;
    if (err != STORE_OK) {
        b->errors++;
        fprintf(stderr, "store-keepalive: tick failed: %s\n", store_strerror(err));
    }
    b->tick_done = 1;
}

/* gw_keepalive_tick's batch: every socket's row, stamped with one now, in one store call; the
 * array is built afresh each tick as the gateway builds it from its request list. */
static void sk_tick(sk_bench_t *b)
{
    store_hib_row_t *rows = sx_calloc(b->rows, sizeof *rows);
    int64_t now = store_now_ms(b->store);
    for (size_t i = 0; i < b->rows; i++) {
        rows[i].actor_id = b->socks[i].actor_id;
        memcpy(rows[i].gateway_id, b->gateway_id, 4);
        memcpy(rows[i].request_id, b->socks[i].rid, 4);
        rows[i].last_ping_ts = now;
    }
    b->tick_done = 0;
    store_hib_upsert(b->store, rows, b->rows, SK_TTL_MS, sk_ticked, b);
    free(rows);
}

static void sk_closed(void *ud)
{
    *(int *)ud = 1;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "redis", required_argument, NULL, 'r' }, { "rows", required_argument, NULL, 'n' },
        { "actors", required_argument, NULL, 'a' }, { "ticks", required_argument, NULL, 't' },
        { NULL, 0, NULL, 0 },
    };
    const char *url = NULL;
    long long rows = 1000000, actors = 10000, ticks = 5;
    int ch, bad = 0;
    while ((ch = getopt_long(argc, argv, "r:n:a:t:", opts, NULL)) != -1) {
        switch (ch) {
        case 'r': url = optarg; break;
        case 'n': rows = atoll(optarg); break;
        case 'a': actors = atoll(optarg); break;
        case 't': ticks = atoll(optarg); break;
        default: bad = 1; break;
        }
    }
    if (bad || optind < argc || !url || rows < 1 || rows > UINT32_MAX || actors < 1
        || actors > rows || ticks < 1) {
        fprintf(stderr, "usage: store-keepalive --redis redis://HOST:PORT/DB [--rows N] "
            "[--actors A (<= N)] [--ticks T]\n");
        return 2;
    }

    sk_bench_t b = { .rows = (size_t)rows };
    uv_loop_init(&b.loop);
    char prefix[64], err[256];
    snprintf(prefix, sizeof prefix, "sett-bench-%ld:", (long)getpid());
    b.store = store_redis_new(&b.loop, url, prefix, err, sizeof err);
    if (!b.store) {
        fprintf(stderr, "store-keepalive: %s\n", err);
        return 2;
    }
    /* Sockets are dealt to actors in turn, so a tick's rows interleave actors as a gateway's
     * request list does. Request ids are the row number times an odd constant: distinct without
     * a map, and spread over the id space like the random ones the gateway draws. */
    rnd_bytes(b.gateway_id, 4);
    char (*ids)[31] = sx_malloc((size_t)actors * sizeof *ids);
    for (long long a = 0; a < actors; a++)
        eng_random_id(ids[a]);
    b.socks = sx_malloc(b.rows * sizeof *b.socks);
    for (size_t i = 0; i < b.rows; i++) {
        uint32_t rid = (uint32_t)i * 2654435761u;
        b.socks[i].actor_id = ids[i % (size_t)actors];
        memcpy(b.socks[i].rid, &rid, 4);
    }

    fprintf(stderr, "store-keepalive: inserting %zu rows over %lld actors\n", b.rows, actors);
    double c0 = sk_cpu_us();
    uint64_t t0 = uv_hrtime();
    for (int i = 0; i < SK_INSERT_WINDOW; i++)
        sk_insert_next(&b);
    sk_wait(&b, &b.inserted, "insert");
    double insert_ms = (uv_hrtime() - t0) / 1e6, insert_cpu = sk_cpu_us() - c0;
    fprintf(stderr, "store-keepalive: inserted in %.0f ms\n", insert_ms);

    double tick_sum = 0, tick_max = 0, tick_cpu = 0;
    store_redis_stats_t st0, st1;
    store_redis_stats(b.store, &st0);
    long long t_run = 0;
    for (; !b.errors && t_run < ticks; t_run++) {
        c0 = sk_cpu_us();
        t0 = uv_hrtime();
        sk_tick(&b);
        if (sk_wait(&b, &b.tick_done, "tick") < 0)
            break;
        double ms = (uv_hrtime() - t0) / 1e6;
        tick_cpu += sk_cpu_us() - c0;
        tick_sum += ms;
        tick_max = ms > tick_max ? ms : tick_max;
        fprintf(stderr, "store-keepalive: tick %lld: %.1f ms\n", t_run + 1, ms);
    }
    store_redis_stats(b.store, &st1);

    store_close(b.store, sk_closed, &b.closed);
    sk_wait(&b, &b.closed, "close");
    uv_loop_close(&b.loop);
    double n_ticks = t_run ? (double)t_run : 1;
    printf("rows=%zu actors=%lld ticks=%lld insert_ms=%.0f insert_cpu_us_per_row=%.2f "
        "tick_ms=%.1f tick_max_ms=%.1f cpu_us_per_row=%.3f cmds_per_tick=%.0f "
        "writes_per_tick=%.1f errors=%" PRIu64 "\n", b.rows, actors, t_run, insert_ms,
        insert_cpu / b.rows, tick_sum / n_ticks, tick_max, tick_cpu / n_ticks / b.rows,
        (st1.commands - st0.commands) / n_ticks, (st1.write_events - st0.write_events) / n_ticks,
        b.errors);
    free(b.socks);
    free(ids);
    return b.errors ? 1 : 0;
}
