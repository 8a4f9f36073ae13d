/* The transport's limits on clients: read deadlines that a trickling client cannot push back
 * (a request head and a request body each have a deadline from their start, not from their
 * last byte), caps on client connections process-wide and per address, and caps on what is
 * queued for a client that does not read (per connection, a send timeout, and process-wide).
 *
 * A runner's connection is told apart by its request head (a WebSocket upgrade to the
 * listener's exempt path): until then every connection counts as a client. A connection that
 * arrives over a cap is still read, up to its head and within the head deadline, so that a
 * runner is admitted whatever the client load; any other request on it is answered 503. */
#include "net/conn.h"

#include <stdio.h>
#include <string.h>

#include "core/log.h"

/* Cuts a connection for a limit: a WebSocket is closed with 1008, an HTTP connection dropped;
 * what was queued for it is discarded and it reads, writes and handles nothing more. */
static void net_limit_drop(net_conn_t *c, enum net_refusal why);

/* ---- Deadlines ---- */

static uint64_t net_deadline_ms(const net_limits_t *l, enum net_deadline kind)
{
    switch (kind) {
    case NET_DL_IDLE: return l->idle_timeout_ms;
    case NET_DL_HEAD: return l->header_timeout_ms ? l->header_timeout_ms : l->idle_timeout_ms;
    case NET_DL_BODY: return l->body_timeout_ms ? l->body_timeout_ms : l->idle_timeout_ms;
    default: return 0;
    }
}

/* Deadlines are milliseconds of loop time truncated to 32 bits and compared as a signed
 * difference, which holds for limits up to 24 days (the configuration allows one); the low bit
 * is set so that 0 can mean none. */
static uint32_t net_ms_from_now(net_server_t *s, uint64_t ms)
{
    return (uint32_t)(uv_now(s->loop) + ms) | 1u;
}

void net_deadline(net_conn_t *c, enum net_deadline kind)
{
    net_server_t *s = c->lst->srv;
    c->deadline_kind = (uint8_t)kind;
    c->deadline = kind == NET_DL_NONE ? 0 : net_ms_from_now(s, net_deadline_ms(&s->limits, kind));
}

static int net_expired(uint32_t now, uint32_t deadline)
{
    return deadline && (int32_t)(now - deadline) >= 0;
}

/* One pass over the connections instead of a timer each: lws_set_timeout inserts into a list
 * sorted by deadline, which showed in profiles when armed twice per keep-alive request. */
static void net_sweep(uv_timer_t *t)
{
    net_server_t *s = t->data;
    uint32_t now = (uint32_t)uv_now(s->loop);
    net_conn_t *c = s->conns;
    while (c) {
        /* Closing takes a connection off the list at once. */
        net_conn_t *next = c->next;
        if (!c->wsi || c->gone || c->dropping) {
            c = next;
            continue;
        }
        if (net_expired(now, c->send_deadline)) {
            c->send_deadline = 0;
            net_limit_drop(c, NET_R_SEND_TIMEOUT);
        } else if (net_expired(now, c->deadline)) {
            enum net_deadline kind = c->deadline_kind;
            net_deadline(c, NET_DL_NONE);
            if (kind == NET_DL_IDLE || c->state != NET_HTTP) {
                lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
            } else {
                int head = kind == NET_DL_HEAD;
                net_refused(c, head ? NET_R_HEADER_TIMEOUT : NET_R_BODY_TIMEOUT, 408,
                            head ? "request head not complete in time"
                                 : "request body not complete in time");
                net_http_reject(c, 408, "request_timeout",
                                head ? "the request head did not arrive in time"
                                     : "the request body did not arrive in time");
            }
        }
        c = next;
    }
}

/* A deadline is acted on at most one period after it passes: a second, or half the shortest
 * limit when that is shorter. */
void net_limits_schedule(net_server_t *s)
{
    const net_limits_t *l = &s->limits;
    uint64_t shortest = l->idle_timeout_ms;
    uint64_t more[] = { l->header_timeout_ms, l->body_timeout_ms, l->send_timeout_ms };
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++)
        if (more[i] && (!shortest || more[i] < shortest))
            shortest = more[i];
    uint64_t period = shortest / 2;
    if (period > 1000 || period == 0)
        period = 1000;
    if (period < 10)
        period = 10;
    uv_timer_start(&s->sweep, net_sweep, period, period);
}

void net_limits_init(net_server_t *s)
{
    map_init(&s->per_addr);
    uv_timer_init(s->loop, &s->sweep);
    s->sweep.data = s;
    net_limits_schedule(s);
    uv_unref((uv_handle_t *)&s->sweep);
    s->m_clients = met_gauge("sett_client_connections",
                             "Open connections counted in limits.max_connections.", NULL);
    s->m_buffered = met_gauge("sett_output_buffered_bytes",
                              "Bytes queued for peers that have not taken them yet.", NULL);
    net_refusals_init(s);
}

void net_limits_free(net_server_t *s)
{
    map_free(&s->per_addr);
}

/* ---- Connection caps ---- */

void net_caps_admit(net_conn_t *c)
{
    net_server_t *s = c->lst->srv;
    if (c->lst->opts.uncapped)
        return;
    c->client = 1;
    s->nclients++;
    met_set(s->m_clients, (double)s->nclients);
    if (s->limits.max_connections && s->nclients > s->limits.max_connections)
        c->over_cap = NET_R_TOO_MANY_CONNECTIONS;
    if (s->limits.max_connections_per_address) {
        uintptr_t n = (uintptr_t)map_get(&s->per_addr, &c->addr, sizeof c->addr) + 1;
        map_put(&s->per_addr, &c->addr, sizeof c->addr, (void *)n);
        c->from_addr = 1;
        if (n > s->limits.max_connections_per_address && !c->over_cap)
            c->over_cap = NET_R_TOO_MANY_FROM_ADDRESS;
    }
}

void net_caps_release(net_conn_t *c)
{
    net_server_t *s = c->lst->srv;
    if (c->client) {
        c->client = 0;
        s->nclients--;
        met_set(s->m_clients, (double)s->nclients);
    }
    if (c->from_addr) {
        c->from_addr = 0;
        uintptr_t n = (uintptr_t)map_get(&s->per_addr, &c->addr, sizeof c->addr);
        if (n > 1)
            map_put(&s->per_addr, &c->addr, sizeof c->addr, (void *)(n - 1));
        else
            map_del(&s->per_addr, &c->addr, sizeof c->addr);
    }
}

static int net_is_exempt(const net_conn_t *c, const hreq *req)
{
    const char *path = c->lst->opts.exempt_path;
    if (!path || !req->upgrade)
        return 0;
    size_t n = strlen(path), len = strcspn((const char *)req->url.p, "?");
    return (len == n || (len == n + 1 && req->url.p[n] == '/')) && memcmp(req->url.p, path, n) == 0;
}

int net_caps_check(net_conn_t *c, const hreq *req)
{
    if (net_is_exempt(c, req)) {
        c->exempt = 1;
        c->over_cap = 0;
        net_caps_release(c);
        return 0;
    }
    if (!c->over_cap)
        return 0;
    enum net_refusal why = c->over_cap;
    int per_addr = why == NET_R_TOO_MANY_FROM_ADDRESS;
    net_refused(c, why, 503,
                per_addr ? "over limits.max_connections_per_address"
                         : "over limits.max_connections");
    net_http_reject(c, 503, "too_many_connections",
                    per_addr ? "too many connections from this address" : "too many connections");
    return -1;
}

/* ---- Output caps ---- */

static void net_buffered_shed(net_server_t *s);

void net_out_account(net_conn_t *c)
{
    net_server_t *s = c->lst->srv;
    if (c->dropping)
        return;
    size_t now = net_conn_backlog(c) + c->held;
    s->buffered = s->buffered - c->counted + now;
    c->counted = now;
    met_set(s->m_buffered, (double)s->buffered);
    if (!c->exempt && s->limits.max_output_bytes && now > s->limits.max_output_bytes)
        net_limit_drop(c, NET_R_OUTPUT_LIMIT);
    else if (s->limits.max_buffered_bytes && s->buffered + s->held > s->limits.max_buffered_bytes)
        net_buffered_shed(s);
}

/* Over the process-wide cap, the clients holding most output are cut until it holds again:
 * the ones that read nothing, not the ones that happen to write next. Runners are never cut for
 * it. Bytes held outside the queues count in the total but are not cut here: their holder
 * refuses what would pass the cap (net_server_hold). */
static void net_buffered_shed(net_server_t *s)
{
    while (s->buffered + s->held > s->limits.max_buffered_bytes) {
        net_conn_t *worst = NULL;
        for (net_conn_t *c = s->conns; c; c = c->next)
            if (!c->exempt && !c->dropping && !c->gone && c->counted &&
                (!worst || c->counted > worst->counted))
                worst = c;
        if (!worst)
            return;
        net_limit_drop(worst, NET_R_BUFFERED_LIMIT);
    }
}

int net_server_hold(net_server_t *s, size_t n)
{
    size_t max = s->limits.max_buffered_bytes;
    if (max && (n > max || s->buffered + s->held > max - n))
        return -1;
    s->held += n;
    return 0;
}

void net_server_unhold(net_server_t *s, size_t n)
{
    s->held = n < s->held ? s->held - n : 0;
}

void net_send_progress(net_conn_t *c, size_t written)
{
    /* lws keeps what the socket did not take of a write and reports no part of it leaving;
     * while it holds some, the whole write counts as held, and the peer has send_timeout_ms
     * from then to take it. */
    net_server_t *s = c->lst->srv;
    if (lws_partial_buffered(c->wsi)) {
        if (written)
            c->held = written;
        if (!c->send_deadline && !c->exempt && s->limits.send_timeout_ms)
            c->send_deadline = net_ms_from_now(s, s->limits.send_timeout_ms);
    } else {
        c->held = 0;
        c->send_deadline = 0;
    }
    net_out_account(c);
}

static void net_limit_drop(net_conn_t *c, enum net_refusal why)
{
    net_server_t *s = c->lst->srv;
    if (c->dropping || c->gone || !c->wsi)
        return;
    static const char *const details[NET_R_COUNT] = {
        [NET_R_OUTPUT_LIMIT] = "over limits.max_output_bytes",
        [NET_R_SEND_TIMEOUT] = "output not taken within limits.send_timeout_ms",
        [NET_R_BUFFERED_LIMIT] = "over limits.max_buffered_bytes",
    };
    int ws = c->state == NET_WS && !c->close_sent;
    net_refused(c, why, ws ? 1008 : 0, details[why]);
    s->buffered -= c->counted;
    c->counted = 0;
    met_set(s->m_buffered, (double)s->buffered);
    c->dropping = 1;
    c->send_deadline = 0;
    net_deadline(c, NET_DL_NONE);
    /* What lws holds stays until the socket closes; nothing queued after it is sent. */
    buf_free(&c->out);
    buf_free(&c->in);
    if (ws) {
        /* The close frame waits behind what lws holds, for a peer that may read again soon;
         * the close timeout ends the socket either way. */
        char reason[64];
        int n = snprintf(reason, sizeof reason, "guard.%s", net_refusal_name(why));
        c->close_sent = 1;
        net_out_prepare(c);
        wsf_append_close(&c->out, 1008, reason, (size_t)n, NULL);
        net_close_after_flush(c);
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_ACK, NET_CLOSE_WAIT_S);
    } else {
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    }
}
