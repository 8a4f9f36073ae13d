/* The Redis store against the shared store suite, on a real redis-server, plus what only a network
 * store has to get right: a refused connect, a server killed and restarted, a server that stops
 * answering (command and connect timeouts), pipelining of hibernating-row upserts, AUTH and
 * SELECT, and URL checking.
 *
 * The suite runs on the server named by SETT_TEST_REDIS_URL (make test starts one), or on one this
 * test starts itself; every store it makes gets its own key prefix, and the keys are deleted by
 * prefix at the end. The Redis-only tests always start their own servers, since they kill and stop
 * them. redis-server must be on PATH: without it the test fails, it never skips. */
#include "store_suite.h"
#include "redis_srv.h"

#include "core/log.h"
#include "core/metrics.h"
#include "store/store_redis.h"

#include <errno.h>

/* ---- A look inside redis-server. ---- */

/* The calls counted for a command in INFO commandstats, or -1. */
static long long srv_calls(int port, const char *password, const char *cmd)
{
    redisContext *c = srv_client(port, password);
    if (!c)
        return -1;
    redisReply *r = redisCommand(c, "INFO commandstats");
    long long calls = -1;
    if (r && r->type == REDIS_REPLY_STRING) {
        char needle[64];
        snprintf(needle, sizeof needle, "cmdstat_%s:calls=", cmd);
        const char *p = strstr(r->str, needle);
        calls = p ? atoll(p + strlen(needle)) : 0;
    }
    if (r)
        freeReplyObject(r);
    redisFree(c);
    return calls;
}

/* Deletes every key under prefix in db. */
static void srv_delete_prefix(int port, const char *password, int db, const char *prefix)
{
    redisContext *c = srv_client(port, password);
    if (!c)
        return;
    redisReply *r = redisCommand(c, "SELECT %d", db);
    if (r)
        freeReplyObject(r);
    char cursor[32] = "0";
    do {
        r = redisCommand(c, "SCAN %s MATCH %s* COUNT 1000", cursor, prefix);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            if (r)
                freeReplyObject(r);
            break;
        }
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        for (size_t i = 0; i < r->element[1]->elements; i++) {
            redisReply *d = redisCommand(c, "UNLINK %b", r->element[1]->element[i]->str,
                                         r->element[1]->element[i]->len);
            if (d)
                freeReplyObject(d);
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    redisFree(c);
}

static long long srv_count_prefix(int port, const char *password, int db, const char *prefix)
{
    redisContext *c = srv_client(port, password);
    if (!c)
        return -1;
    redisReply *r = redisCommand(c, "SELECT %d", db);
    if (r)
        freeReplyObject(r);
    long long n = 0;
    char cursor[32] = "0";
    do {
        r = redisCommand(c, "SCAN %s MATCH %s* COUNT 1000", cursor, prefix);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            if (r)
                freeReplyObject(r);
            n = -1;
            break;
        }
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        n += (long long)r->element[1]->elements;
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    redisFree(c);
    return n;
}

/* ---- The suite. ---- */

typedef struct suite_ctx {
    char url[128];
    char base[96]; /* the prefix of every key this run writes */
    int n;
} suite_ctx_t;

static store_t *make_redis(uv_loop_t *loop, void *arg)
{
    suite_ctx_t *ctx = arg;
    char prefix[160], err[256];
    snprintf(prefix, sizeof prefix, "%s%d:", ctx->base, ctx->n++);
    store_t *s = store_redis_new(loop, ctx->url, prefix, err, sizeof err);
    if (!s)
        fprintf(stderr, "test_store_redis: %s\n", err);
    return s;
}

/* ---- Helpers for the Redis-only tests. ---- */

typedef struct res {
    int calls;
    int err;
    int order; /* completion sequence number */
    char msg[256];
} res_t;

static int g_order;

static void on_done(void *ud, int err)
{
    res_t *r = ud;
    r->calls++;
    r->err = err;
    r->order = ++g_order;
}

static void on_kv(void *ud, int err, const store_kv_res_t *res)
{
    on_done(ud, err);
    res_t *r = ud;
    snprintf(r->msg, sizeof r->msg, "%s", res->message ? res->message : "");
}

static void on_actor(void *ud, int err, const store_actor_t *a)
{
    on_done(ud, err);
}

static void on_hib_list(void *ud, int err, const store_hib_row_t *rows, size_t n)
{
    on_done(ud, err);
    res_t *r = ud;
    snprintf(r->msg, sizeof r->msg, "%zu", n);
}

static void on_closed(void *ud)
{
    *(int *)ud = 1;
}

static void on_timeout(uv_timer_t *t)
{
    *(int *)t->data = 1;
}

/* Runs the loop until *flag is set or ms pass; returns whether the flag was set. */
static bool run_until(uv_loop_t *loop, const int *flag, int ms)
{
    uv_timer_t t;
    int expired = 0;
    uv_timer_init(loop, &t);
    t.data = &expired;
    uv_timer_start(&t, on_timeout, (uint64_t)ms, 0);
    while (!*flag && !expired)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return *flag != 0;
}

static void close_store(uv_loop_t *loop, store_t *s)
{
    int closed = 0;
    store_close(s, on_closed, &closed);
    CHECK(!closed);
    CHECK(run_until(loop, &closed, 10000));
}

static void finish_loop(uv_loop_t *loop)
{
    uv_run(loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(uv_loop_close(loop), 0);
}

static const slice_t k_key = { (const uint8_t *)"k", 1 };
static const slice_t k_val = { (const uint8_t *)"v", 1 };

/* A put, waited for; returns its error. */
static int do_put(uv_loop_t *loop, store_t *s, const char *actor)
{
    res_t r = { 0 };
    store_kv_put(s, actor, &k_key, 1, &k_val, 1, on_kv, &r);
    CHECK_EQ_INT(r.calls, 0);
    run_until(loop, &r.calls, 10000);
    CHECK_EQ_INT(r.calls, 1);
    return r.calls ? r.err : 1;
}

static uint64_t ms_since(uint64_t t0)
{
    return (uv_hrtime() - t0) / 1000000;
}

static char g_base[64];

static void unique_prefix(char *out, size_t len, const char *what)
{
    snprintf(out, len, "%s%s:", g_base, what);
}

/* ---- Redis-only tests. ---- */

static void test_bad_config(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    char err[256];
    static const char *const bad[] = {
        "http://127.0.0.1:6379/0",
        "redis://localhost:6379/0",
        "redis://127.0.0.1:0/0",
        "redis://127.0.0.1:65536/0",
        "redis://127.0.0.1:x/0",
        "redis://127.0.0.1:6379/db",
        "redis://[::1/0",
        "redis://user@127.0.0.1/0",
        "redis://127.0.0.1:6379/0?x=1",
        "redis://",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        store_t *s = store_redis_new(&loop, bad[i], NULL, err, sizeof err);
        CHECK(s == NULL);
        CHECK(strstr(err, "redis url") != NULL);
        if (s)
            close_store(&loop, s);
    }
    CHECK(store_redis_new(&loop, NULL, NULL, err, sizeof err) == NULL);
    /* Bracketed IPv6 literals, a missing port and a missing db are fine. */
    static const char *const good[] = { "redis://[::1]:1/0", "redis://127.0.0.1",
                                        "redis://127.0.0.1:1", "redis://:pw@127.0.0.1:1/3" };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        store_t *s = store_redis_new(&loop, good[i], NULL, err, sizeof err);
        CHECK(s != NULL);
        if (s)
            close_store(&loop, s);
    }
    err[0] = '\0';
    CHECK(store_redis_new(&loop, "redis://127.0.0.1:6379/0", "bad{tag}:", err, sizeof err) == NULL);
    CHECK(strstr(err, "prefix") != NULL);
    /* A password is never shown: not in an error, not where the URL is logged. */
    CHECK(store_redis_new(&loop, "redis://u:s3cret@127.0.0.1:x/0", NULL, err, sizeof err) == NULL);
    CHECK(strstr(err, "s3cret") == NULL && strstr(err, "redis://u:***@127.0.0.1:x/0") != NULL);
    char shown[128];
    store_redis_url_redact("redis://:p@w@127.0.0.1:1/2", shown, sizeof shown);
    CHECK(strcmp(shown, "redis://:***@127.0.0.1:1/2") == 0);
    store_redis_url_redact("redis://127.0.0.1:1/2", shown, sizeof shown);
    CHECK(strcmp(shown, "redis://127.0.0.1:1/2") == 0);
    finish_loop(&loop);
}

/* A closed port: operations fail with STORE_EUNAVAILABLE at once, never inline, and the store
 * still closes clean while it keeps retrying. */
static void test_refused(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    char url[64], err[256];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/0", free_port());
    store_t *s = store_redis_new(&loop, url, "t:", err, sizeof err);
    CHECK(s != NULL);
    if (!s) {
        finish_loop(&loop);
        return;
    }
    CHECK(strcmp(store_kind(s), "redis") == 0);
    uint64_t t0 = uv_hrtime();
    res_t r = { 0 }, a = { 0 };
    store_kv_put(s, "x", &k_key, 1, &k_val, 1, on_kv, &r);
    store_actor_get(s, "x", on_actor, &a);
    CHECK(r.calls == 0 && a.calls == 0);
    run_until(&loop, &a.calls, 5000);
    CHECK_EQ_INT(r.calls, 1);
    CHECK_EQ_INT(r.err, STORE_EUNAVAILABLE);
    CHECK(strstr(r.msg, "store unavailable") != NULL);
    CHECK_EQ_INT(a.err, STORE_EUNAVAILABLE);
    CHECK(ms_since(t0) < 500);

    /* Later operations, while the store backs off, are refused at once too. */
    sleep_ms(20);
    res_t later = { 0 };
    t0 = uv_hrtime();
    store_kv_get(s, "x", &k_key, 1, on_kv, &later);
    CHECK_EQ_INT(later.calls, 0);
    run_until(&loop, &later.calls, 5000);
    CHECK_EQ_INT(later.err, STORE_EUNAVAILABLE);
    CHECK(ms_since(t0) < 500);

    store_redis_stats_t st;
    CHECK_EQ_INT(store_redis_stats(s, &st), STORE_OK);
    CHECK(!st.connected);
    CHECK(st.disconnects >= 1);
    CHECK(st.errors >= 3);
    close_store(&loop, s);
    finish_loop(&loop);
}

/* The server is killed: operations fail with STORE_EUNAVAILABLE; it comes back on the same port
 * and the store reconnects by itself. */
static void test_kill_and_return(void)
{
    srv_t srv;
    if (!srv_start(&srv, 0, NULL)) {
        CHECK(!"redis-server could not be started");
        return;
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    char url[64], prefix[96], err[256];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/0", srv.port);
    unique_prefix(prefix, sizeof prefix, "kill");
    store_redis_opts_t opts = { 0 };
    opts.backoff_min_ms = 50;
    opts.backoff_max_ms = 200;
    store_t *s = store_redis_new_opts(&loop, url, prefix, &opts, err, sizeof err);
    CHECK(s != NULL);
    CHECK_EQ_INT(do_put(&loop, s, "a"), STORE_OK);

    /* Scripts flushed behind the store's back: the next script fails, the store reloads them,
     * and the one after succeeds. */
    redisContext *c = srv_client(srv.port, NULL);
    redisReply *rep = c ? redisCommand(c, "SCRIPT FLUSH") : NULL;
    CHECK(rep != NULL);
    if (rep)
        freeReplyObject(rep);
    if (c)
        redisFree(c);
    CHECK_EQ_INT(do_put(&loop, s, "a"), STORE_EUNAVAILABLE);
    CHECK_EQ_INT(do_put(&loop, s, "a"), STORE_OK);

    srv_stop(&srv, SIGKILL);
    uint64_t t0 = uv_hrtime();
    int err_seen = STORE_OK;
    while (ms_since(t0) < 3000 && (err_seen = do_put(&loop, s, "a")) == STORE_OK)
        sleep_ms(10);
    CHECK_EQ_INT(err_seen, STORE_EUNAVAILABLE);
    store_redis_stats_t st;
    store_redis_stats(s, &st);
    CHECK(!st.connected);

    CHECK(srv_start(&srv, srv.port, NULL));
    t0 = uv_hrtime();
    while (ms_since(t0) < 3000 && (err_seen = do_put(&loop, s, "a")) != STORE_OK) {
        int tick = 0;
        run_until(&loop, &tick, 20);
    }
    CHECK_EQ_INT(err_seen, STORE_OK);
    store_redis_stats(s, &st);
    CHECK(st.connected);
    CHECK_EQ_INT(st.connects, 2);
    res_t r = { 0 };
    store_kv_get(s, "a", &k_key, 1, on_kv, &r);
    run_until(&loop, &r.calls, 5000);
    CHECK_EQ_INT(r.err, STORE_OK);

    close_store(&loop, s);
    finish_loop(&loop);
    srv_stop(&srv, SIGTERM);
}

/* A server that stops answering (SIGSTOP): the command timeout fails what is in flight and drops
 * the connection; a new store's handshake hits the connect timeout; after SIGCONT both work. */
static void test_timeouts(void)
{
    srv_t srv;
    if (!srv_start(&srv, 0, NULL)) {
        CHECK(!"redis-server could not be started");
        return;
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    char url[64], prefix[96], err[256];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/0", srv.port);
    unique_prefix(prefix, sizeof prefix, "timeout");
    store_redis_opts_t opts = { 300, 300, 50, 200 };
    store_t *s = store_redis_new_opts(&loop, url, prefix, &opts, err, sizeof err);
    CHECK_EQ_INT(do_put(&loop, s, "a"), STORE_OK);

    kill(srv.pid, SIGSTOP);
    uint64_t t0 = uv_hrtime();
    res_t r = { 0 };
    store_kv_get(s, "a", &k_key, 1, on_kv, &r);
    run_until(&loop, &r.calls, 5000);
    uint64_t took = ms_since(t0);
    CHECK_EQ_INT(r.err, STORE_EUNAVAILABLE);
    CHECK(strstr(r.msg, "timeout") != NULL);
    CHECK(took >= 200 && took < 2000);

    /* A fresh store: the kernel accepts the connection, nobody answers the handshake. */
    store_t *s2 = store_redis_new_opts(&loop, url, prefix, &opts, err, sizeof err);
    res_t r2 = { 0 };
    t0 = uv_hrtime();
    store_kv_get(s2, "a", &k_key, 1, on_kv, &r2);
    run_until(&loop, &r2.calls, 5000);
    took = ms_since(t0);
    CHECK_EQ_INT(r2.err, STORE_EUNAVAILABLE);
    CHECK(strstr(r2.msg, "connect timeout") != NULL);
    CHECK(took >= 200 && took < 2000);

    kill(srv.pid, SIGCONT);
    int e = STORE_EUNAVAILABLE;
    t0 = uv_hrtime();
    while (ms_since(t0) < 3000 && (e = do_put(&loop, s, "a")) != STORE_OK) {
        int tick = 0;
        run_until(&loop, &tick, 20);
    }
    CHECK_EQ_INT(e, STORE_OK);
    e = STORE_EUNAVAILABLE;
    t0 = uv_hrtime();
    while (ms_since(t0) < 3000 && (e = do_put(&loop, s2, "b")) != STORE_OK) {
        int tick = 0;
        run_until(&loop, &tick, 20);
    }
    CHECK_EQ_INT(e, STORE_OK);
    close_store(&loop, s);
    close_store(&loop, s2);
    finish_loop(&loop);
    srv_stop(&srv, SIGTERM);
}

/* Closing with a command in flight to a server that does not answer: the command fails when its
 * timeout drops the connection, and only then does the store finish closing. */
static void test_close_in_flight(void)
{
    srv_t srv;
    if (!srv_start(&srv, 0, NULL)) {
        CHECK(!"redis-server could not be started");
        return;
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    char url[64], prefix[96], err[256];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/0", srv.port);
    unique_prefix(prefix, sizeof prefix, "close");
    store_redis_opts_t opts = { 300, 300, 50, 200 };
    store_t *s = store_redis_new_opts(&loop, url, prefix, &opts, err, sizeof err);
    CHECK_EQ_INT(do_put(&loop, s, "a"), STORE_OK);
    kill(srv.pid, SIGSTOP);
    res_t r = { 0 };
    store_kv_get(s, "a", &k_key, 1, on_kv, &r);
    int closed = 0;
    store_close(s, on_closed, &closed);
    CHECK(run_until(&loop, &closed, 5000));
    CHECK_EQ_INT(r.calls, 1);
    CHECK_EQ_INT(r.err, STORE_EUNAVAILABLE);
    CHECK(strstr(r.msg, "command timeout") != NULL);
    finish_loop(&loop);
    srv_stop(&srv, SIGTERM);
}

/* One keepalive tick's upsert, 1,000 rows of 100 actors, is one ZADD per actor, all handed to
 * hiredis before the call returns and written out together: no round trip per row or actor. */
static void test_hib_pipeline(void)
{
    srv_t srv;
    if (!srv_start(&srv, 0, NULL)) {
        CHECK(!"redis-server could not be started");
        return;
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    char url[64], prefix[96], err[256];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/0", srv.port);
    unique_prefix(prefix, sizeof prefix, "pipe");
    store_t *s = store_redis_new(&loop, url, prefix, err, sizeof err);
    CHECK_EQ_INT(do_put(&loop, s, "warm-up"), STORE_OK);

    enum { ROWS = 1000, ACTORS = 100 };
    static char ids[ACTORS][16];
    store_hib_row_t *rows = sx_calloc(ROWS, sizeof *rows);
    int64_t now = store_now_ms(s);
    for (int i = 0; i < ROWS; i++) {
        int a = i % ACTORS;
        snprintf(ids[a], sizeof ids[a], "pa-%d", a);
        rows[i].actor_id = ids[a];
        rows[i].gateway_id[0] = 7;
        rows[i].request_id[0] = (uint8_t)(i >> 8);
        rows[i].request_id[1] = (uint8_t)i;
        rows[i].last_ping_ts = now;
    }
    long long zadd0 = srv_calls(srv.port, NULL, "zadd");
    store_redis_stats_t st0, st1, st2;
    store_redis_stats(s, &st0);
    res_t r = { 0 };
    store_hib_upsert(s, rows, ROWS, 90000, on_done, &r);
    store_redis_stats(s, &st1);
    CHECK_EQ_INT(st1.commands - st0.commands, 3 * ACTORS);
    CHECK_EQ_INT(st1.write_events, st0.write_events);
    run_until(&loop, &r.calls, 10000);
    CHECK_EQ_INT(r.err, STORE_OK);
    store_redis_stats(s, &st2);
    CHECK_EQ_INT(srv_calls(srv.port, NULL, "zadd") - zadd0, ACTORS);
    /* The whole pipeline leaves in one write; a second one is allowed only for what the socket
     * buffer did not take the first time. */
    CHECK(st2.write_events - st1.write_events >= 1 && st2.write_events - st1.write_events <= 2);
    printf("hib pipeline: %llu commands, %llu socket writes for %d rows of %d actors\n",
           (unsigned long long)(st2.commands - st0.commands),
           (unsigned long long)(st2.write_events - st1.write_events), ROWS, ACTORS);

    res_t l = { 0 };
    store_hib_list(s, "pa-42", 0, on_hib_list, &l);
    run_until(&loop, &l.calls, 5000);
    CHECK_EQ_INT(l.err, STORE_OK);
    CHECK(strcmp(l.msg, "10") == 0);

    /* The key expires on its own: a ttl after the newest row. */
    redisContext *c = srv_client(srv.port, NULL);
    redisReply *rep = c ? redisCommand(c, "PTTL %s{a:pa-42}:hib", prefix) : NULL;
    CHECK(rep && rep->type == REDIS_REPLY_INTEGER && rep->integer > 80000 && rep->integer <= 90000);
    if (rep)
        freeReplyObject(rep);
    if (c)
        redisFree(c);
    free(rows);
    close_store(&loop, s);
    finish_loop(&loop);
    srv_stop(&srv, SIGTERM);
}

/* AUTH and SELECT from the URL; a wrong password makes operations fail, not hang. */
static void test_auth_and_db(void)
{
    srv_t srv;
    if (!srv_start(&srv, 0, "s3cret")) {
        CHECK(!"redis-server could not be started");
        return;
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    char url[96], prefix[96], err[256];
    snprintf(url, sizeof url, "redis://:s3cret@127.0.0.1:%d/2", srv.port);
    unique_prefix(prefix, sizeof prefix, "auth");
    store_t *s = store_redis_new(&loop, url, prefix, err, sizeof err);
    CHECK(s != NULL);
    CHECK_EQ_INT(do_put(&loop, s, "a"), STORE_OK);
    CHECK_EQ_INT(srv_count_prefix(srv.port, "s3cret", 2, prefix), 3);
    CHECK_EQ_INT(srv_count_prefix(srv.port, "s3cret", 0, prefix), 0);
    /* An idle, connected store keeps the loop neither alive nor busy. */
    CHECK_EQ_INT(uv_run(&loop, UV_RUN_DEFAULT), 0);
    close_store(&loop, s);

    snprintf(url, sizeof url, "redis://default:wrong@127.0.0.1:%d/0", srv.port);
    s = store_redis_new(&loop, url, prefix, err, sizeof err);
    CHECK(s != NULL);
    CHECK_EQ_INT(do_put(&loop, s, "a"), STORE_EUNAVAILABLE);
    store_redis_stats_t st;
    store_redis_stats(s, &st);
    CHECK(!st.connected);
    CHECK_EQ_INT(st.connects, 0);
    close_store(&loop, s);
    finish_loop(&loop);
    srv_delete_prefix(srv.port, "s3cret", 2, prefix);
    srv_stop(&srv, SIGTERM);
}

/* Index entries that no record backs, as a crash between a create's claim and its write, or a
 * race between nodes, leaves them: a fresh claim holds the key for its lease (its create may
 * still be on the way), an expired or unstamped one is taken over, and find never returns them. */
static void test_stale_index(void)
{
    srv_t srv;
    if (!srv_start(&srv, 0, NULL)) {
        CHECK(!"redis-server could not be started");
        return;
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    char url[64], prefix[96], err[256], ak[160], akt[160], rec[160];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/0", srv.port);
    unique_prefix(prefix, sizeof prefix, "stale");
    snprintf(ak, sizeof ak, "%s{n:ns}:ak", prefix);
    snprintf(akt, sizeof akt, "%s{n:ns}:akt", prefix);
    store_t *s = store_redis_new(&loop, url, prefix, err, sizeof err);
    redisContext *c = srv_client(srv.port, NULL);
    CHECK(c != NULL);
    if (!s || !c) {
        srv_stop(&srv, SIGTERM);
        return;
    }
    redisReply *rep = redisCommand(c, "TIME");
    long long now_ms = atoll(rep->element[0]->str) * 1000 + atoll(rep->element[1]->str) / 1000;
    freeReplyObject(rep);

    static const char lobby[] = "room\0lobby", hall[] = "room\0hall", den[] = "room\0den";
    rep = redisCommand(c, "HSET %s %b ghost", ak, lobby, sizeof lobby - 1);
    freeReplyObject(rep);
    rep = redisCommand(c, "HSET %s %b %lld", akt, lobby, sizeof lobby - 1, now_ms);
    freeReplyObject(rep);

    store_actor_t a = ss_actor("actor-x", "ns", "room", "lobby");
    res_t r = { 0 };
    store_actor_create(s, &a, on_actor, &r);
    run_until(&loop, &r.calls, 5000);
    CHECK_EQ_INT(r.err, STORE_EUNAVAILABLE);
    r = (res_t){ 0 };
    store_actor_find(s, "ns", "room", "lobby", on_actor, &r);
    run_until(&loop, &r.calls, 5000);
    CHECK_EQ_INT(r.err, STORE_ENOTFOUND);

    /* The claim's lease has run out: the create takes the key. */
    rep = redisCommand(c, "HSET %s %b %lld", akt, lobby, sizeof lobby - 1, now_ms - 60000);
    freeReplyObject(rep);
    r = (res_t){ 0 };
    store_actor_create(s, &a, on_actor, &r);
    run_until(&loop, &r.calls, 5000);
    CHECK_EQ_INT(r.err, STORE_OK);
    r = (res_t){ 0 };
    store_actor_find(s, "ns", "room", "lobby", on_actor, &r);
    run_until(&loop, &r.calls, 5000);
    CHECK_EQ_INT(r.err, STORE_OK);

    /* An entry without a claim stamp (its record was deleted) is taken at once. */
    rep = redisCommand(c, "HSET %s %b ghost2", ak, hall, sizeof hall - 1);
    freeReplyObject(rep);
    store_actor_t b = ss_actor("actor-y", "ns", "room", "hall");
    r = (res_t){ 0 };
    store_actor_create(s, &b, on_actor, &r);
    run_until(&loop, &r.calls, 5000);
    CHECK_EQ_INT(r.err, STORE_OK);

    /* The holder's record exists but no longer holds the key (destroyed behind the index's
     * back): taken over too. */
    store_actor_t z = ss_actor("actor-z", "ns", "room", "den");
    r = (res_t){ 0 };
    store_actor_put(s, &z, on_done, &r);
    run_until(&loop, &r.calls, 5000);
    snprintf(rec, sizeof rec, "%s{a:actor-z}", prefix);
    rep = redisCommand(c, "HSET %s dts 5", rec);
    freeReplyObject(rep);
    store_actor_t w = ss_actor("actor-w", "ns", "room", "den");
    r = (res_t){ 0 };
    store_actor_create(s, &w, on_actor, &r);
    run_until(&loop, &r.calls, 5000);
    CHECK_EQ_INT(r.err, STORE_OK);
    rep = redisCommand(c, "HGET %s %b", ak, den, sizeof den - 1);
    CHECK(rep && rep->type == REDIS_REPLY_STRING && strcmp(rep->str, "actor-w") == 0);
    freeReplyObject(rep);

    /* Completed creates leave no claim behind. */
    rep = redisCommand(c, "HLEN %s", akt);
    CHECK(rep && rep->type == REDIS_REPLY_INTEGER && rep->integer == 0);
    freeReplyObject(rep);
    redisFree(c);
    close_store(&loop, s);
    finish_loop(&loop);
    srv_stop(&srv, SIGTERM);
}

/* Two nodes on one Redis get-or-create the same keys at the same time: for each key exactly one
 * create wins, and the other is refused with the winner (or, while the winner's write is on its
 * way, told to retry and then refused with it). Every create gets a store of its own, as it would
 * on another node, so the creates interleave at every step rather than wait behind each other. */
enum { RACE_KEYS = 30 };

typedef struct race_res {
    int calls, err;
    char holder[32];
} race_res_t;

static void on_race(void *ud, int err, const store_actor_t *a)
{
    race_res_t *r = ud;
    r->calls++;
    r->err = err;
    snprintf(r->holder, sizeof r->holder, "%s", a ? a->actor_id : "");
}

static void test_two_nodes(void)
{
    srv_t srv;
    if (!srv_start(&srv, 0, NULL)) {
        CHECK(!"redis-server could not be started");
        return;
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    char url[64], prefix[96], err[256];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/0", srv.port);
    unique_prefix(prefix, sizeof prefix, "race");
    static store_t *node[2][RACE_KEYS];
    static race_res_t res[2][RACE_KEYS];
    static char ids[2][RACE_KEYS][16], keys[RACE_KEYS][16];
    memset(res, 0, sizeof res);
    for (int i = 0; i < RACE_KEYS; i++) {
        snprintf(keys[i], sizeof keys[i], "k-%d", i);
        for (int k = 0; k < 2; k++) {
            int n = (i + k) % 2;
            node[n][i] = store_redis_new(&loop, url, prefix, err, sizeof err);
            snprintf(ids[n][i], sizeof ids[n][i], "%c-%d", 'A' + n, i);
            store_actor_t a = ss_actor(ids[n][i], "ns", "room", keys[i]);
            store_actor_create(node[n][i], &a, on_race, &res[n][i]);
        }
    }
    int retries = 0;
    for (int pass = 0; pass < 100; pass++) {
        int tick = 0;
        run_until(&loop, &tick, 10);
        bool all = true;
        for (int i = 0; i < RACE_KEYS; i++)
            for (int n = 0; n < 2; n++) {
                race_res_t *r = &res[n][i];
                if (r->calls && r->err == STORE_EUNAVAILABLE) {
                    /* A retry, as a caller would after a 503. */
                    store_actor_t a = ss_actor(ids[n][i], "ns", "room", keys[i]);
                    *r = (race_res_t){ 0 };
                    store_actor_create(node[n][i], &a, on_race, r);
                    retries++;
                }
                all = all && r->calls;
            }
        if (all)
            break;
    }
    int wins = 0;
    for (int i = 0; i < RACE_KEYS; i++) {
        race_res_t *a = &res[0][i], *b = &res[1][i];
        bool a_won = a->err == STORE_OK && b->err == STORE_EEXIST &&
                     strcmp(b->holder, ids[0][i]) == 0;
        bool b_won = b->err == STORE_OK && a->err == STORE_EEXIST &&
                     strcmp(a->holder, ids[1][i]) == 0;
        CHECK(a->calls == 1 && b->calls == 1);
        CHECK(a_won || b_won);
        if (!a_won && !b_won)
            fprintf(stderr, "key %d: A %d/%d holder %s, B %d/%d holder %s\n", i, a->calls, a->err,
                    a->holder, b->calls, b->err, b->holder);
        wins += a_won;
    }
    printf("two nodes: A won %d of %d keys, B %d; %d retries after 503\n", wins, RACE_KEYS,
           RACE_KEYS - wins, retries);
    for (int i = 0; i < RACE_KEYS; i++)
        for (int n = 0; n < 2; n++)
            close_store(&loop, node[n][i]);
    finish_loop(&loop);
    srv_stop(&srv, SIGTERM);
}

/* ---- Churn: a stream of mixed operations while the server is killed, restarted, stopped and
 * resumed under it. Whatever happens, every callback runs exactly once with a known code, and the
 * store closes clean. ---- */

enum { CHURN_OPS = 20000 };

typedef struct churn {
    res_t res[CHURN_OPS];
    int n;
} churn_t;

static void on_list_any(void *ud, int err, const store_actor_t *items, size_t n)
{
    on_done(ud, err);
}

static void churn_submit(churn_t *ch, store_t *s, int i)
{
    res_t *r = &ch->res[ch->n++];
    char id[32], key[32];
    snprintf(id, sizeof id, "c-%d", i % 17);
    snprintf(key, sizeof key, "key-%d", i % 5);
    store_actor_t a;
    memset(&a, 0, sizeof a);
    a.actor_id = id;
    a.namespace_id = (char *)"ns";
    a.name = (char *)"n";
    a.key = key;
    store_hib_row_t row = { id, { 1, 2, 3, 4 }, { (uint8_t)i, 0, 0, 0 }, store_now_ms(s) };
    store_actor_filter_t f = { "ns", NULL, NULL };
    switch (i % 9) {
    case 0: store_kv_put(s, id, &k_key, 1, &k_val, 1, on_kv, r); break;
    case 1: store_kv_get(s, id, &k_key, 1, on_kv, r); break;
    case 2: store_actor_create(s, &a, on_actor, r); break;
    case 3: store_actor_find(s, "ns", "n", key, on_actor, r); break;
    case 4: store_actor_list(s, &f, on_list_any, r); break;
    case 5: store_actor_put(s, &a, on_done, r); break;
    case 6: store_actor_delete(s, id, on_done, r); break;
    case 7: store_hib_upsert(s, &row, 1, 90000, on_done, r); break;
    default: store_hib_list(s, id, 0, on_hib_list, r); break;
    }
    CHECK_EQ_INT(r->calls, 0);
}

static void test_churn(void)
{
    srv_t srv;
    if (!srv_start(&srv, 0, NULL)) {
        CHECK(!"redis-server could not be started");
        return;
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    char url[64], prefix[96], err[256];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/0", srv.port);
    unique_prefix(prefix, sizeof prefix, "churn");
    store_redis_opts_t opts = { 200, 200, 20, 100 };
    store_t *s = store_redis_new_opts(&loop, url, prefix, &opts, err, sizeof err);
    churn_t *ch = sx_calloc(1, sizeof *ch);
    uint64_t t0 = uv_hrtime();
    int phase = 0, ok = 0;
    for (int i = 0; phase < 5 && i < CHURN_OPS; i++) {
        churn_submit(ch, s, i);
        if (i % 10 == 9) {
            int tick = 0;
            run_until(&loop, &tick, 2);
        }
        uint64_t ms = ms_since(t0);
        if (phase == 0 && ms > 150) {
            srv_stop(&srv, SIGKILL);
            phase = 1;
        } else if (phase == 1 && ms > 300) {
            CHECK(srv_start(&srv, srv.port, NULL));
            phase = 2;
        } else if (phase == 2 && ms > 500) {
            kill(srv.pid, SIGSTOP);
            phase = 3;
        } else if (phase == 3 && ms > 750) {
            kill(srv.pid, SIGCONT);
            phase = 4;
        } else if (phase == 4 && ms > 1000) {
            phase = 5;
        }
    }
    int last = 0;
    bool in_order = true;
    for (int i = 0; i < ch->n; i++) {
        if (!ch->res[i].calls)
            run_until(&loop, &ch->res[i].calls, 5000);
    }
    for (int i = 0; i < ch->n; i++) {
        const res_t *r = &ch->res[i];
        if (r->calls != 1 || (r->err != STORE_OK && r->err != STORE_ENOTFOUND &&
                              r->err != STORE_EEXIST && r->err != STORE_EUNAVAILABLE)) {
            CHECK_EQ_INT(r->calls, 1);
            CHECK_EQ_INT(r->err, STORE_OK);
            break;
        }
        /* What Redis answered completes in submission order; only refusals may overtake. */
        if (r->err != STORE_EUNAVAILABLE) {
            in_order = in_order && r->order > last;
            last = r->order;
            ok++;
        }
    }
    CHECK(in_order);
    printf("churn: %d operations, %d answered by redis, phase %d\n", ch->n, ok, phase);
    CHECK(ok > 0 && ok < ch->n);
    free(ch);
    close_store(&loop, s);
    finish_loop(&loop);
    srv_stop(&srv, SIGTERM);
}

/* The failures above were counted in the metrics. */
static void test_metrics(void)
{
    met_series_t *m = met_counter("sett_store_errors_total", NULL,
                                  "store=\"redis\",reason=\"down\"");
    CHECK(m && m->value >= 1);
    m = met_counter("sett_store_errors_total", NULL, "store=\"redis\",reason=\"lost\"");
    CHECK(m && m->value >= 1);
    m = met_counter("sett_store_errors_total", NULL, "store=\"redis\",reason=\"contended\"");
    CHECK(m && m->value >= 1);
    m = met_counter("sett_store_redis_connections_total", NULL, "result=\"ok\"");
    CHECK(m && m->value >= 1);
}

int main(void)
{
    /* A write to a connection the server closed must fail with EPIPE, not kill the test; sett's
     * main does the same. */
    signal(SIGPIPE, SIG_IGN);
    /* The store logs each connect at info; the warnings about lost connections are the ones
     * worth seeing next to a failure. */
    log_setup(LOG_WARN, 0);
    unsigned rnd = (unsigned)(uv_hrtime() ^ (uint64_t)getpid());
    snprintf(g_base, sizeof g_base, "sett-test:%d:%08x:", (int)getpid(), rnd);

    suite_ctx_t ctx;
    memset(&ctx, 0, sizeof ctx);
    snprintf(ctx.base, sizeof ctx.base, "%ssuite:", g_base);
    srv_t own = { 0 };
    const char *env = getenv("SETT_TEST_REDIS_URL");
    int port = 0, db = 0;
    if (env && *env) {
        snprintf(ctx.url, sizeof ctx.url, "%s", env);
        if (sscanf(env, "redis://127.0.0.1:%d/%d", &port, &db) < 1)
            port = 0;
    } else {
        if (!srv_start(&own, 0, NULL)) {
            fprintf(stderr,
                    "test_store_redis: SETT_TEST_REDIS_URL is not set and redis-server "
                    "could not be started from PATH; install redis-server or run `make test`\n");
            return 1;
        }
        port = own.port;
        snprintf(ctx.url, sizeof ctx.url, "redis://127.0.0.1:%d/0", port);
    }
    printf("store suite on %s\n", ctx.url);
    store_suite_run(make_redis, &ctx);
    if (port) {
        srv_delete_prefix(port, NULL, db, g_base);
        CHECK_EQ_INT(srv_count_prefix(port, NULL, db, g_base), 0);
    }
    srv_stop(&own, SIGTERM);

    test_bad_config();
    test_refused();
    test_kill_and_return();
    test_timeouts();
    test_close_in_flight();
    test_hib_pipeline();
    test_auth_and_db();
    test_stale_index();
    test_two_nodes();
    test_churn();
    test_metrics();
    met_free_all();
    return T_DONE();
}
