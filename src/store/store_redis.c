/* The Redis store's connection and operation machinery: one hiredis async connection, the queue of
 * operations, reconnects with backoff, the connect and command timeouts, and close. The operations
 * themselves are in store_redis_rec.c, store_redis_kv.c and store_redis_hib.c.
 *
 * Every command goes through rds_send, which records when it was sent in a ring that mirrors
 * hiredis' own FIFO of callbacks; rds_on_reply pops it. The oldest entry is what the command
 * timeout watches, and an empty ring is how the store knows that nothing is in flight, which
 * decides when refused operations may be failed (after those in flight, to keep their order) and
 * when a closing store may let go of its handles.
 *
 * Completions run straight from the reply callback when the reply is there. Failures caused by a
 * lost connection, and refusals while Redis is down, go through the store's defer queue instead,
 * because hiredis runs the pending callbacks from inside its own teardown, where nothing may submit
 * commands, and because a refusal must never complete inside the call that submitted it. */
#include "store/store_redis_impl.h"

#include "core/alloc.h"
#include "core/log.h"
#include "core/metrics.h"
#include "store/redis_uv.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const store_vtable_t store_redis_vtable;

static void rds_connect(store_redis_t *r);
static void rds_after(store_redis_t *r);
static void rds_on_reply(redisAsyncContext *ac, void *reply, void *privdata);
static void rds_on_conn_timer(uv_timer_t *t);
static void rds_on_cmd_timer(uv_timer_t *t);

/* ---- Metrics. The series are looked up when used: these events are rare, and holding pointers
 * would dangle across met_free_all. ---- */

static void rds_count_error(const char *reason)
{
    char labels[64];
    snprintf(labels, sizeof labels, "store=\"redis\",reason=\"%s\"", reason);
    met_series_t *m = met_counter("sett_store_errors_total",
                                  "Store operations that failed with store.unavailable, by reason.",
                                  labels);
    if (m)
        met_inc(m);
}

static void rds_count_connection(const char *result)
{
    char labels[32];
    snprintf(labels, sizeof labels, "result=\"%s\"", result);
    met_series_t *m = met_counter("sett_store_redis_connections_total",
                                  "Redis store connections: set up, failed to connect, or lost.",
                                  labels);
    if (m)
        met_inc(m);
}

static void rds_set_up_gauge(bool up)
{
    met_series_t *m = met_gauge("sett_store_redis_up",
                                "1 while the Redis store's connection is up and set up.", NULL);
    if (m)
        met_set(m, up ? 1 : 0);
}

/* ---- The ring of send times. ---- */

static void rds_ring_push(store_redis_t *r, uint64_t t)
{
    if (r->ring_n == r->ring_cap) {
        size_t cap = r->ring_cap ? r->ring_cap * 2 : 64;
        uint64_t *ring = sx_malloc(cap * sizeof *ring);
        for (size_t i = 0; i < r->ring_n; i++)
            ring[i] = r->sent[(r->ring_head + i) % r->ring_cap];
        free(r->sent);
        r->sent = ring;
        r->ring_cap = cap;
        r->ring_head = 0;
    }
    r->sent[(r->ring_head + r->ring_n) % r->ring_cap] = t;
    r->ring_n++;
}

static void rds_ring_pop(store_redis_t *r)
{
    if (r->ring_n == 0)
        return;
    r->ring_head = (r->ring_head + 1) % r->ring_cap;
    r->ring_n--;
}

/* ---- Operations. ---- */

rds_op_t *rds_op_new(store_redis_t *r, size_t size, store_cb_kind_t kind, store_cb_t cb, void *ud,
                     int (*step)(rds_op_t *), int (*reply)(rds_op_t *, const redisReply *))
{
    rds_op_t *op = sx_calloc(1, size);
    op->r = r;
    op->kind = kind;
    op->cb = cb;
    op->ud = ud;
    op->step = step;
    op->reply = reply;
    return op;
}

void rds_op_free(rds_op_t *op)
{
    if (op->destroy)
        op->destroy(op);
    free(op);
}

void rds_release(rds_op_t *op)
{
    op->barrier = false;
    if (op->r->barrier == op)
        op->r->barrier = NULL;
}

void rds_op_finishing(rds_op_t *op)
{
    rds_release(op);
}

int rds_done(rds_op_t *op, int err)
{
    rds_op_finishing(op);
    op->cb.done(op->ud, err);
    rds_op_free(op);
    return RDS_DONE;
}

/* Failures go through the defer queue when the op never reached Redis, when the connection is
 * being torn down, or when the call comes from rds_pump (that is, from the submitting call). */
int rds_fail(rds_op_t *op, int err, const char *msg)
{
    store_redis_t *r = op->r;
    rds_op_finishing(op);
    bool defer = op->lost || r->dying || r->pumping || !r->ac;
    if (err == STORE_EUNAVAILABLE) {
        r->stats.errors++;
        rds_count_error(op->reason ? op->reason : op->lost ? "lost" : !r->ac ? "down" : "redis");
    }
    if (defer)
        store_defer_fail(&r->base, op->kind, op->cb, op->ud, err, msg);
    else
        store_cb_fail(op->kind, op->cb, op->ud, err, msg);
    rds_op_free(op);
    return RDS_DONE;
}

static void rds_op_lost(rds_op_t *op, const char *why)
{
    if (op->err)
        return;
    op->err = STORE_EUNAVAILABLE;
    op->lost = true;
    snprintf(op->msg, sizeof op->msg, "store unavailable: %s", why);
}

static int rds_send_argv(store_redis_t *r, rds_args_t *a, void *privdata)
{
    if (!r->ac || r->dying || r->state == RDS_DOWN)
        return REDIS_ERR;
    const char *stack_v[32];
    size_t stack_l[32];
    const char **v = a->n <= 32 ? stack_v : sx_malloc(a->n * sizeof *v);
    size_t *l = a->n <= 32 ? stack_l : sx_malloc(a->n * sizeof *l);
    for (size_t i = 0; i < a->n; i++) {
        v[i] = a->ptr[i] ? a->ptr[i] : a->buf + a->off[i];
        l[i] = a->len[i];
    }
    int rc = redisAsyncCommandArgv(r->ac, rds_on_reply, privdata, (int)a->n, v, l);
    if (v != stack_v)
        free(v);
    if (l != stack_l)
        free(l);
    if (rc != REDIS_OK)
        return rc;
    r->stats.commands++;
    rds_ring_push(r, uv_now(r->base.loop));
    if (r->ring_n == 1)
        uv_timer_start(&r->cmd_timer, rds_on_cmd_timer, r->opts.command_timeout_ms, 0);
    return REDIS_OK;
}

void rds_send(rds_op_t *op, rds_args_t *a)
{
    if (rds_send_argv(op->r, a, op) == REDIS_OK)
        op->pending++;
    else
        rds_op_lost(op, "the connection to redis is closing");
    rds_args_free(a);
}

/* The privdata of background commands. */
static char rds_bg_tag;

void rds_send_bg(store_redis_t *r, rds_args_t *a)
{
    rds_send_argv(r, a, &rds_bg_tag);
    rds_args_free(a);
}

/* Sends what waits in the queue, in order, until an op holds a barrier or the connection cannot
 * take commands. Ops that cannot be sent stay queued; rds_flush fails them when the connection
 * is gone. */
static void rds_pump(store_redis_t *r)
{
    if (r->pumping)
        return;
    r->pumping = true;
    while (r->qhead && !r->barrier && r->ac && !r->dying && r->state != RDS_DOWN) {
        rds_op_t *op = r->qhead;
        r->qhead = op->next;
        if (!r->qhead)
            r->qtail = NULL;
        op->next = NULL;
        if (op->barrier)
            r->barrier = op;
        if (op->step(op) == RDS_DONE)
            continue;
        if (op->pending == 0) {
            rds_op_lost(op, "the connection to redis is closing");
            rds_fail(op, op->err, op->msg);
        }
    }
    r->pumping = false;
}

/* Fails every queued op once the connection is gone and nothing is in flight, so that they
 * complete after the in-flight ops hiredis fails. */
static void rds_flush(store_redis_t *r)
{
    if (r->ring_n || !(r->state == RDS_DOWN || r->dying))
        return;
    r->barrier = NULL;
    while (r->qhead) {
        rds_op_t *op = r->qhead;
        r->qhead = op->next;
        op->next = NULL;
        rds_op_lost(op, r->why);
        rds_fail(op, op->err, op->msg);
    }
    r->qtail = NULL;
}

void rds_submit(store_redis_t *r, rds_op_t *op)
{
    if (r->state == RDS_DOWN || r->dying) {
        rds_op_lost(op, r->why);
        op->lost = false; /* counted as refused while down, not lost in flight */
        rds_fail(op, op->err, op->msg);
        return;
    }
    op->next = NULL;
    if (r->qtail)
        r->qtail->next = op;
    else
        r->qhead = op;
    r->qtail = op;
    rds_pump(r);
}

/* The last reply of a step is in: fail the op, or let it send its next step or complete. */
static void rds_step_end(rds_op_t *op)
{
    if (op->err) {
        rds_fail(op, op->err, op->msg);
        return;
    }
    op->idx = 0;
    if (op->step(op) == RDS_DONE)
        return;
    if (op->pending == 0) {
        rds_op_lost(op, "the connection to redis is closing");
        rds_fail(op, op->err, op->msg);
    }
}

static void rds_load_scripts(store_redis_t *r);

static void rds_on_op_reply(store_redis_t *r, rds_op_t *op, const redisReply *rep)
{
    op->pending--;
    if (!rep) {
        rds_op_lost(op, r->why);
    } else if (rep->type == REDIS_REPLY_ERROR) {
        if (!op->err) {
            op->err = STORE_EUNAVAILABLE;
            snprintf(op->msg, sizeof op->msg, "store unavailable: redis: %.*s", (int)rep->len,
                     rep->str);
        }
        log_warn("redis store: command failed", LF_S("error", rep->str));
        /* Scripts are loaded per connection; a SCRIPT FLUSH (or a failover to a server that never
         * saw them) loses them. The op fails and the caller retries after the reload. */
        if (strncmp(rep->str, "NOSCRIPT", 8) == 0)
            rds_load_scripts(r);
    } else if (!op->err && op->reply) {
        if (op->reply(op, rep) == RDS_DONE)
            return;
    }
    op->idx++;
    if (op->pending == 0)
        rds_step_end(op);
}

/* ---- The connection. ---- */

static void rds_set_why(store_redis_t *r, const char *fmt, const char *detail)
{
    snprintf(r->why, sizeof r->why, "redis %s:%d: %s%s%s", r->host, r->port, fmt,
             detail ? ": " : "", detail ? detail : "");
}

static void rds_maybe_teardown(store_redis_t *r);

/* The connection or the attempt is gone (r->ac is, or is about to be, freed by hiredis or the
 * caller). Schedules the next attempt unless the store is closing. */
static void rds_lost(store_redis_t *r, const char *what, const char *detail)
{
    bool was_ready = r->ready;
    rds_set_why(r, what, detail);
    r->ac = NULL;
    r->state = RDS_DOWN;
    r->ready = false;
    r->stats.connected = false;
    r->stats.disconnects++;
    rds_set_up_gauge(false);
    rds_count_connection(was_ready ? "lost" : "failed");
    uv_timer_stop(&r->conn_timer);
    if (!r->closing) {
        /* The first failure after a working connection is worth a warning; the retries that
         * follow while Redis stays away are not, or the log fills at the backoff's pace. */
        if (was_ready || (r->stats.connects == 0 && r->stats.disconnects == 1))
            log_warn("redis store: unavailable, reconnecting", LF_S("error", r->why),
                     LF_U("retry_ms", r->backoff_ms));
        else
            log_debug("redis store: reconnect failed", LF_S("error", r->why),
                      LF_U("retry_ms", r->backoff_ms));
        uv_timer_start(&r->conn_timer, rds_on_conn_timer, r->backoff_ms, 0);
        r->backoff_ms *= 2;
        if (r->backoff_ms > r->opts.backoff_max_ms)
            r->backoff_ms = r->opts.backoff_max_ms;
    }
    rds_flush(r);
    rds_maybe_teardown(r);
}

/* Drops the connection from our side: after a timeout or a failed setup command. Safe from timer
 * callbacks and from reply callbacks (hiredis defers the free until the callback returns), never
 * from the connect or disconnect callbacks. */
static void rds_kill(store_redis_t *r, const char *what, const char *detail)
{
    redisAsyncContext *ac = r->ac;
    rds_lost(r, what, detail);
    if (ac)
        redisAsyncFree(ac);
}

static void rds_on_setup_reply(store_redis_t *r, redisAsyncContext *ac, const redisReply *rep)
{
    if (r->setup_pending)
        r->setup_pending--;
    if (!rep || ac != r->ac)
        return;
    if (rep->type == REDIS_REPLY_ERROR) {
        log_error("redis store: connection setup failed", LF_S("error", rep->str));
        rds_kill(r, "setup failed", rep->str);
        return;
    }
    if (r->setup_pending == 0 && !r->ready) {
        r->ready = true;
        r->backoff_ms = r->opts.backoff_min_ms;
        r->stats.connects++;
        r->stats.connected = true;
        r->why[0] = '\0';
        uv_timer_stop(&r->conn_timer);
        rds_set_up_gauge(true);
        rds_count_connection("ok");
        log_info("redis store: connected", LF_S("host", r->host), LF_I("port", r->port),
                 LF_I("db", r->db));
    }
}

static void rds_on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    store_redis_t *r = ac->data;
    const redisReply *rep = reply;
    rds_ring_pop(r);
    if (r->ring_n == 0)
        uv_timer_stop(&r->cmd_timer);
    if (!rep) {
        /* hiredis fails the pending callbacks before it calls the disconnect callback, so the
         * reason is recorded here for the ops that fail now. */
        r->dying = true;
        if (!r->why[0])
            rds_set_why(r, "connection lost", ac->err ? ac->errstr : NULL);
    }
    if (privdata == &rds_bg_tag) {
        if (rep && rep->type == REDIS_REPLY_ERROR)
            log_warn("redis store: background command failed", LF_S("error", rep->str));
    } else if (privdata)
        rds_on_op_reply(r, privdata, rep);
    else
        rds_on_setup_reply(r, ac, rep);
    rds_after(r);
}

/* What every callback ends with: send what may now go, fail what cannot, finish a close. */
static void rds_after(store_redis_t *r)
{
    rds_pump(r);
    rds_flush(r);
    rds_maybe_teardown(r);
}

static void rds_send_setup(store_redis_t *r, rds_args_t *a)
{
    if (rds_send_argv(r, a, NULL) == REDIS_OK)
        r->setup_pending++;
    rds_args_free(a);
}

static void rds_load_scripts(store_redis_t *r)
{
    for (int i = 0; i < RDS_SC_COUNT; i++) {
        rds_args_t a;
        rds_args_init(&a);
        rds_arg_str(&a, "SCRIPT");
        rds_arg_str(&a, "LOAD");
        rds_arg_str(&a, rds_script_text((rds_script_t)i));
        rds_send_setup(r, &a);
    }
}

/* AUTH, SELECT and the scripts go first on a new connection, ahead of any operation; hiredis
 * buffers them until the connect completes. */
static void rds_setup(store_redis_t *r)
{
    r->setup_pending = 0;
    rds_args_t a;
    if (r->password) {
        rds_args_init(&a);
        rds_arg_str(&a, "AUTH");
        if (r->user)
            rds_arg_str(&a, r->user);
        rds_arg_str(&a, r->password);
        rds_send_setup(r, &a);
    }
    if (r->db) {
        rds_args_init(&a);
        rds_arg_str(&a, "SELECT");
        rds_arg_i64(&a, r->db);
        rds_send_setup(r, &a);
    }
    rds_load_scripts(r);
}

static void rds_on_connect(const redisAsyncContext *cac, int status)
{
    redisAsyncContext *ac = (redisAsyncContext *)cac;
    store_redis_t *r = ac->data;
    if (ac != r->ac)
        return;
    /* On failure hiredis frees ac after this returns and then fails its pending callbacks. */
    if (status != REDIS_OK)
        rds_lost(r, "cannot connect", ac->errstr);
    else
        r->state = RDS_UP;
}

static void rds_on_disconnect(const redisAsyncContext *cac, int status)
{
    redisAsyncContext *ac = (redisAsyncContext *)cac;
    store_redis_t *r = ac->data;
    if (ac != r->ac)
        return;
    rds_lost(r, "connection lost", status == REDIS_OK ? "closed" : ac->errstr);
}

static void rds_on_handle_closed(store_redis_t *r)
{
    r->handles_open--;
    if (r->handles_open == 0 && r->teardown)
        store_base_impl_closed(&r->base);
}

static void rds_on_adapter_closed(void *ud)
{
    rds_on_handle_closed(ud);
}

static void rds_on_timer_closed(uv_handle_t *h)
{
    rds_on_handle_closed(h->data);
}

/* The connect timeout covers the whole handshake: the TCP connect and the replies to the setup
 * commands, so a server that accepts but never answers (stopped, overloaded) is caught in the
 * connect timeout rather than the longer command timeout. The same timer then waits out the
 * backoff before the next attempt. */
static void rds_on_conn_timer(uv_timer_t *t)
{
    store_redis_t *r = t->data;
    if (r->state == RDS_DOWN) {
        if (!r->closing)
            rds_connect(r);
    } else if (!r->ready) {
        char ms[32];
        snprintf(ms, sizeof ms, "%" PRIu64 " ms", r->opts.connect_timeout_ms);
        rds_kill(r, "connect timeout", ms);
    }
}

static void rds_on_cmd_timer(uv_timer_t *t)
{
    store_redis_t *r = t->data;
    if (r->ring_n == 0)
        return;
    uint64_t now = uv_now(r->base.loop), age = now - r->sent[r->ring_head];
    if (age >= r->opts.command_timeout_ms) {
        char ms[48];
        snprintf(ms, sizeof ms, "no reply within %" PRIu64 " ms", r->opts.command_timeout_ms);
        rds_kill(r, "command timeout", ms);
        return;
    }
    uv_timer_start(t, rds_on_cmd_timer, r->opts.command_timeout_ms - age, 0);
}

static void rds_connect(store_redis_t *r)
{
    r->dying = false;
    r->ready = false;
    r->state = RDS_CONNECTING;
    redisAsyncContext *ac = redisAsyncConnect(r->host, r->port);
    if (!ac) {
        fprintf(stderr, "sett: out of memory (redisAsyncConnect)\n");
        abort();
    }
    if (ac->err) {
        char detail[128];
        snprintf(detail, sizeof detail, "%s", ac->errstr);
        redisAsyncFree(ac);
        rds_lost(r, "cannot connect", detail);
        return;
    }
    rds_uv_opts_t o = { rds_on_adapter_closed, r, true, &r->stats.write_events };
    if (rds_uv_attach(ac, r->base.loop, &o) != REDIS_OK) {
        redisAsyncFree(ac);
        rds_lost(r, "cannot connect", "cannot watch the socket");
        return;
    }
    r->handles_open++;
    ac->data = r;
    r->ac = ac;
    /* An idle connection whose server vanished without a FIN (host down, network split) would
     * otherwise only be noticed by the next command's timeout. */
    redisEnableKeepAlive(&ac->c);
    redisAsyncSetConnectCallback(ac, rds_on_connect);
    redisAsyncSetDisconnectCallback(ac, rds_on_disconnect);
    uv_timer_start(&r->conn_timer, rds_on_conn_timer, r->opts.connect_timeout_ms, 0);
    rds_setup(r);
    rds_pump(r);
}

/* ---- Close. ---- */

static void rds_teardown_run(store_t *s, store_op_t *op)
{
    store_redis_t *r = (store_redis_t *)s;
    uv_timer_stop(&r->conn_timer);
    uv_timer_stop(&r->cmd_timer);
    if (r->ac) {
        redisAsyncContext *ac = r->ac;
        r->ac = NULL;
        r->state = RDS_DOWN;
        r->stats.connected = false;
        rds_set_up_gauge(false);
        redisAsyncFree(ac);
    }
    uv_close((uv_handle_t *)&r->conn_timer, rds_on_timer_closed);
    uv_close((uv_handle_t *)&r->cmd_timer, rds_on_timer_closed);
}

/* Once closing and nothing is in flight or queued, the connection and timers go, from the defer
 * queue rather than from whatever callback got here (which may be hiredis'). */
static void rds_maybe_teardown(store_redis_t *r)
{
    if (!r->closing || r->teardown || r->ring_n || r->qhead || r->barrier)
        return;
    r->teardown = true;
    r->teardown_op.run = rds_teardown_run;
    store_defer(&r->base, &r->teardown_op);
}

static void store_redis_close(store_t *s)
{
    store_redis_t *r = (store_redis_t *)s;
    r->closing = true;
    if (r->state == RDS_DOWN)
        uv_timer_stop(&r->conn_timer);
    rds_maybe_teardown(r);
}

static bool store_redis_available(const store_t *s)
{
    const store_redis_t *r = (const store_redis_t *)s;
    return !r->closing && r->stats.connected;
}

static void store_redis_free(store_t *s)
{
    store_redis_t *r = (store_redis_t *)s;
    free(r->host);
    free(r->user);
    free(r->password);
    free(r->prefix);
    free(r->sent);
    free(r);
}

/* ---- Creation. ---- */

void store_redis_url_redact(const char *url, char *out, size_t n)
{
    /* The credentials end at the last '@' before the path; the password follows their ':'. */
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    const char *end = p + strcspn(p, "/?#"), *at = NULL;
    for (const char *q = p; q < end; q++)
        if (*q == '@')
            at = q;
    const char *colon = at ? memchr(p, ':', (size_t)(at - p)) : NULL;
    if (!colon)
        snprintf(out, n, "%s", url);
    else
        snprintf(out, n, "%.*s***%s", (int)(colon + 1 - url), url, at);
}

static int rds_url_fail(char *err, size_t errlen, const char *url, const char *why)
{
    char shown[512];
    store_redis_url_redact(url, shown, sizeof shown);
    if (err && errlen)
        snprintf(err, errlen, "bad redis url \"%s\": %s", shown, why);
    return -1;
}

/* redis://[[user]:password@]host[:port][/db], host an IPv4 literal or a bracketed IPv6 one. */
static int rds_parse_url(store_redis_t *r, const char *url, char *err, size_t errlen)
{
    static const char scheme[] = "redis://";
    if (strncmp(url, scheme, sizeof scheme - 1) != 0)
        return rds_url_fail(err, errlen, url, "expected redis://host:port/db");
    const char *p = url + sizeof scheme - 1;
    const char *end = p + strcspn(p, "/?#");
    const char *at = NULL;
    for (const char *q = p; q < end; q++)
        if (*q == '@')
            at = q;
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (!colon)
            return rds_url_fail(err, errlen, url, "credentials must be user:password or :password");
        if (colon > p)
            r->user = sx_strndup(p, (size_t)(colon - p));
        r->password = sx_strndup(colon + 1, (size_t)(at - colon - 1));
        p = at + 1;
    }
    const char *host_end, *after;
    if (*p == '[') {
        host_end = memchr(p, ']', (size_t)(end - p));
        if (!host_end)
            return rds_url_fail(err, errlen, url, "unterminated [ipv6] host");
        r->host = sx_strndup(p + 1, (size_t)(host_end - p - 1));
        after = host_end + 1;
    } else {
        host_end = p;
        while (host_end < end && *host_end != ':')
            host_end++;
        r->host = sx_strndup(p, (size_t)(host_end - p));
        after = host_end;
    }
    unsigned char addr[16];
    if (inet_pton(AF_INET, r->host, addr) != 1 && inet_pton(AF_INET6, r->host, addr) != 1)
        return rds_url_fail(
            err, errlen, url,
            "the host must be an IP address (a name lookup would block the event loop)");
    r->port = 6379;
    if (after < end) {
        if (*after != ':' || after + 1 == end)
            return rds_url_fail(err, errlen, url, "bad port");
        long port = 0;
        for (const char *q = after + 1; q < end; q++) {
            if (*q < '0' || *q > '9' || port > 65535)
                return rds_url_fail(err, errlen, url, "bad port");
            port = port * 10 + (*q - '0');
        }
        if (port < 1 || port > 65535)
            return rds_url_fail(err, errlen, url, "bad port");
        r->port = (int)port;
    }
    r->db = 0;
    if (*end == '/') {
        long db = 0;
        const char *q = end + 1;
        for (; *q; q++) {
            if (*q < '0' || *q > '9' || db > 1000000)
                return rds_url_fail(err, errlen, url, "the path must be a database number");
            db = db * 10 + (*q - '0');
        }
        r->db = (int)db;
    } else if (*end) {
        return rds_url_fail(err, errlen, url, "unexpected query or fragment");
    }
    return 0;
}

store_t *store_redis_new_opts(uv_loop_t *loop, const char *url, const char *prefix,
                              const store_redis_opts_t *opts, char *err, size_t errlen)
{
    if (!url) {
        if (err && errlen)
            snprintf(err, errlen, "redis url missing");
        return NULL;
    }
    if (!prefix)
        prefix = "sett:";
    if (strpbrk(prefix, "{}")) {
        if (err && errlen)
            snprintf(err, errlen, "redis key prefix \"%s\" must not contain { or }", prefix);
        return NULL;
    }
    store_redis_t *r = sx_calloc(1, sizeof *r);
    if (rds_parse_url(r, url, err, errlen) != 0) {
        store_redis_free(&r->base);
        return NULL;
    }
    r->prefix = sx_strdup(prefix);
    if (opts)
        r->opts = *opts;
    if (!r->opts.connect_timeout_ms)
        r->opts.connect_timeout_ms = 1000;
    if (!r->opts.command_timeout_ms)
        r->opts.command_timeout_ms = 5000;
    if (!r->opts.backoff_min_ms)
        r->opts.backoff_min_ms = 100;
    if (!r->opts.backoff_max_ms)
        r->opts.backoff_max_ms = 5000;
    if (r->opts.backoff_max_ms < r->opts.backoff_min_ms)
        r->opts.backoff_max_ms = r->opts.backoff_min_ms;
    r->backoff_ms = r->opts.backoff_min_ms;
    store_base_init(&r->base, &store_redis_vtable, loop);
    uv_timer_init(loop, &r->conn_timer);
    uv_timer_init(loop, &r->cmd_timer);
    r->conn_timer.data = r;
    r->cmd_timer.data = r;
    /* An idle store must not keep the loop alive; commands in flight do, through cmd_timer. */
    uv_unref((uv_handle_t *)&r->conn_timer);
    r->handles_open = 2;
    rds_connect(r);
    return &r->base;
}

store_t *store_redis_new(uv_loop_t *loop, const char *url, const char *prefix, char *err,
                         size_t errlen)
{
    return store_redis_new_opts(loop, url, prefix, NULL, err, errlen);
}

int store_redis_stats(const store_t *s, store_redis_stats_t *out)
{
    if (!s || s->vt != &store_redis_vtable)
        return STORE_EINVAL;
    const store_redis_t *r = (const store_redis_t *)s;
    *out = r->stats;
    out->in_flight = r->ring_n;
    return STORE_OK;
}

static const store_vtable_t store_redis_vtable = {
    .kind = "redis",
    .ns_put = store_redis_ns_put,
    .ns_get = store_redis_ns_get,
    .ns_list = store_redis_ns_list,
    .actor_put = store_redis_actor_put,
    .actor_create = store_redis_actor_create,
    .actor_get = store_redis_actor_get,
    .actor_find = store_redis_actor_find,
    .actor_list = store_redis_actor_list,
    .actor_delete = store_redis_actor_delete,
    .runner_put = store_redis_runner_put,
    .runner_get = store_redis_runner_get,
    .runner_find = store_redis_runner_find,
    .runner_list = store_redis_runner_list,
    .runner_delete = store_redis_runner_delete,
    .kv_get = store_redis_kv_get,
    .kv_list = store_redis_kv_list,
    .kv_put = store_redis_kv_put,
    .kv_delete = store_redis_kv_delete,
    .kv_delete_range = store_redis_kv_delete_range,
    .kv_drop = store_redis_kv_drop,
    .hib_upsert = store_redis_hib_upsert,
    .hib_list = store_redis_hib_list,
    .hib_delete = store_redis_hib_delete,
    .close = store_redis_close,
    .available = store_redis_available,
    .free = store_redis_free,
};
