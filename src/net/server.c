#include "net/conn.h"
#include "core/alloc.h"
#include "core/log.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

static int net_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                        size_t len);

static const struct lws_protocols net_protocols[] = {
    { "sett-raw", net_callback, sizeof(net_conn_t), 0, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 },
};

/* lws 4.1.6 stops its idle handle while a connection still needs forced service; waking its
 * event pipe from a uv_check restarts it (the upstream fix landed in lws 4.4). */
static void net_flush(net_server_t *s);

static void net_prep(uv_prepare_t *h)
{
    net_flush(h->data);
}

static void net_kick(uv_check_t *h)
{
    net_server_t *s = h->data;
    net_flush(s);
    if (s->ctx && !s->shutting_down && !lws_service_adjust_timeout(s->ctx, 1, 0))
        lws_cancel_service(s->ctx);
}

/* lws's own messages go through sett's log, so every line on stderr has one format. */
static void net_lws_log(int level, const char *line)
{
    size_t n = strlen(line);
    char msg[512];
    /* lws prefixes a timestamp and a level tag and ends with a newline; keep the text only. */
    const char *p = strstr(line, ": ");
    if (p && p - line < 40)
        line = p + 2;
    n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == ' '))
        n--;
    snprintf(msg, sizeof msg, "%.*s", (int)n, line);
    if (level & LLL_ERR)
        log_error("libwebsockets", LF_S("detail", msg));
    else
        log_warn("libwebsockets", LF_S("detail", msg));
}

net_server_t *net_server_new(uv_loop_t *loop, const net_limits_t *limits)
{
    net_server_t *s = sx_calloc(1, sizeof *s);
    s->loop = loop;
    s->limits = *limits;

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    void *loops[1] = { loop };
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS |
                   LWS_SERVER_OPTION_DISABLE_IPV6 | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.foreign_loops = loops;
    info.pcontext = &s->ctx;
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = net_protocols;
    info.user = s;
    /* One read per message up to 64 KiB instead of one per 4 KiB. */
    info.pt_serv_buf_size = 65536;
    info.timeout_secs = 10;
    lws_set_log_level(LLL_ERR | LLL_WARN, net_lws_log);
    s->ctx = lws_create_context(&info);
    if (!s->ctx) {
        log_error("cannot create the libwebsockets context");
        free(s);
        return NULL;
    }
    uv_check_init(loop, &s->kick);
    s->kick.data = s;
    uv_check_start(&s->kick, net_kick);
    uv_unref((uv_handle_t *)&s->kick);
    /* The check flushes what I/O callbacks wrote; the prepare what timers wrote, which would
     * otherwise wait for the next I/O wake-up. */
    uv_prepare_init(loop, &s->prep);
    s->prep.data = s;
    uv_prepare_start(&s->prep, net_prep);
    uv_unref((uv_handle_t *)&s->prep);
    uv_timer_init(loop, &s->grace);
    s->grace.data = s;
    uv_unref((uv_handle_t *)&s->grace);
    net_limits_init(s);
    return s;
}

int net_listen(net_server_t *s, const net_listen_opts_t *o, const char **err)
{
    /* lws lets vhosts on one port share a listen socket; sett's listeners are separate
     * services, so a second one on the same port is a configuration error. */
    for (net_listener_t *e = s->listeners; e; e = e->next) {
        if (e->opts.port == o->port) {
            *err = "address in use by another sett listener";
            return -1;
        }
    }
    net_listener_t *l = sx_calloc(1, sizeof *l);
    l->opts = *o;
    l->srv = s;

    struct lws_context_creation_info vi;
    memset(&vi, 0, sizeof vi);
    vi.vhost_name = o->name;
    vi.iface = o->host;
    vi.port = o->port;
    vi.protocols = net_protocols;
    vi.options = LWS_SERVER_OPTION_ADOPT_APPLY_LISTEN_ACCEPT_CONFIG |
                 LWS_SERVER_OPTION_DISABLE_IPV6;
    vi.listen_accept_role = "raw-skt";
    vi.listen_accept_protocol = "sett-raw";
    vi.user = l;
    vi.keepalive_timeout = 5;
    if (o->tls_cert) {
        /* On a raw vhost TLS stays off unless the vhost itself asks for the global init, and
         * lws would offer h2 by ALPN, which sett does not speak. */
        vi.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        vi.ssl_cert_filepath = o->tls_cert;
        vi.ssl_private_key_filepath = o->tls_key;
        vi.alpn = "http/1.1";
    }
    l->vhost = lws_create_vhost(s->ctx, &vi);
    if (!l->vhost || lws_get_vhost_listen_port(l->vhost) <= 0) {
        *err = o->tls_cert ? "cannot listen (address in use, or bad TLS certificate or key)"
                           : "cannot listen (address in use or not local)";
        if (l->vhost)
            lws_vhost_destroy(l->vhost);
        free(l);
        return -1;
    }
    l->next = s->listeners;
    s->listeners = l;
    return 0;
}

size_t net_server_conn_count(const net_server_t *s)
{
    return s->nconns;
}

void net_out_prepare(net_conn_t *c)
{
    /* lws_write needs LWS_PRE writable bytes in front of what it sends. */
    if (c->out.len == 0) {
        buf_reserve(&c->out, LWS_PRE + 256);
        c->out.len = LWS_PRE;
    }
}

void net_out_append(net_conn_t *c, const void *p, size_t n)
{
    net_out_prepare(c);
    memcpy(buf_reserve(&c->out, n), p, n);
    c->out.len += n;
    net_want_write(c);
}

/* Output is written at the end of the loop turn that produced it, straight to the socket when
 * nothing is queued in lws: every frame of the turn leaves in one write, and the socket's
 * poll set is not changed twice per message as asking for WRITEABLE would. */
void net_want_write(net_conn_t *c)
{
    if (!c->wsi || c->gone)
        return;
    net_out_account(c);
    if (c->in_flush)
        return;
    net_server_t *s = c->lst->srv;
    c->in_flush = 1;
    c->flush_next = s->flush;
    s->flush = c;
}

static int net_writeable(net_conn_t *c);

static void net_flush(net_server_t *s)
{
    net_conn_t *c = s->flush;
    s->flush = NULL;
    while (c) {
        net_conn_t *next = c->flush_next;
        c->in_flush = 0;
        c->flush_next = NULL;
        if (c->wsi && !c->gone) {
            /* Only a write lws still holds must wait for WRITEABLE; a full socket buffer is
             * found by the write itself (lws keeps the rest), which spares a poll() per flush. */
            if (c->close_after_flush || lws_partial_buffered(c->wsi))
                lws_callback_on_writable(c->wsi);
            else if (net_writeable(c) != 0)
                lws_callback_on_writable(c->wsi);
        }
        c = next;
    }
}

void net_close_after_flush(net_conn_t *c)
{
    c->close_after_flush = 1;
    net_want_write(c);
}

size_t net_conn_backlog(const net_conn_t *c)
{
    return c->out.len > LWS_PRE ? c->out.len - LWS_PRE : 0;
}

int net_conn_congested(const net_conn_t *c)
{
    return c->drain_wanted;
}

void net_conn_set_ud(net_conn_t *c, void *ud)
{
    c->ud = ud;
}

void net_conn_lean(net_conn_t *c, int lean)
{
    c->lean = !!lean;
    if (!lean)
        return;
    if (c->out.len <= LWS_PRE)
        buf_free(&c->out);
    if (c->in.len == 0 && !c->in_callback)
        buf_free(&c->in);
}

const char *net_conn_peer(const net_conn_t *c)
{
    static char peer[INET_ADDRSTRLEN];
    if (!c->addr || !inet_ntop(AF_INET, &c->addr, peer, sizeof peer))
        return "?";
    return peer;
}

void net_rx_flow(net_conn_t *c)
{
    lws_rx_flow_control(c->wsi, !(c->paused || c->rx_held));
}

void net_conn_pause(net_conn_t *c, int paused)
{
    if (c->gone || (unsigned)!!paused == c->paused)
        return;
    c->paused = !!paused;
    net_rx_flow(c);
    /* Input read before the pause waits in c->in; resuming must deliver it without waiting
     * for new bytes from the socket. */
    if (!paused && c->in.len && !c->in_callback) {
        if (c->state == NET_WS)
            net_ws_feed(c);
        else if (c->state == NET_HTTP)
            net_http_feed(c);
    }
}

static void net_conn_open(net_server_t *s, net_conn_t *c, struct lws *wsi)
{
    memset(c, 0, sizeof *c);
    c->wsi = wsi;
    c->lst = lws_get_vhost_user(lws_get_vhost(wsi));
    c->state = NET_HTTP;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    /* Asked once: the caps count by address, and logs and policies name it. */
    struct sockaddr_in a;
    socklen_t alen = sizeof a;
    if (getpeername(lws_get_socket_fd(wsi), (struct sockaddr *)&a, &alen) == 0 &&
        a.sin_family == AF_INET)
        c->addr = a.sin_addr.s_addr;
    net_caps_admit(c);
    net_deadline(c, NET_DL_HEAD);
}

static void net_check_shutdown_done(net_server_t *s);

static void net_conn_closed(net_server_t *s, net_conn_t *c)
{
    c->gone = 1;
    if (c->in_flush) {
        net_conn_t **p = &s->flush;
        while (*p && *p != c)
            p = &(*p)->flush_next;
        if (*p)
            *p = c->flush_next;
        c->in_flush = 0;
    }
    if (c->state == NET_WS && c->wsh && c->wsh->on_closed)
        c->wsh->on_closed(c, c->ud);
    if (c->on_abort) {
        void (*cb)(net_conn_t *, void *) = c->on_abort;
        c->on_abort = NULL;
        cb(c, c->abort_ud);
    }
    net_caps_release(c);
    s->buffered -= c->counted;
    c->counted = 0;
    met_set(s->m_buffered, (double)s->buffered);
    net_http_free(c);
    net_ws_free(c);
    buf_free(&c->in);
    buf_free(&c->out);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->nconns--;
    c->wsi = NULL;
    net_check_shutdown_done(s);
}

static int net_writeable(net_conn_t *c)
{
    /* Here lws holds nothing any more: what it held has left. */
    net_send_progress(c, 0);
    if (c->out.len > LWS_PRE) {
        size_t n = c->out.len - LWS_PRE;
        if (lws_write(c->wsi, c->out.data + LWS_PRE, n, LWS_WRITE_RAW) < (int)n)
            return -1;
        c->out.len = 0;
        net_send_progress(c, n);
        /* A burst leaves a large buffer behind, and a handshake one that most WebSockets,
         * idle from then on, never use again; neither is kept, nor any buffer of a lean
         * connection. */
        if (c->out.cap > (64u << 10) || c->trim_out || c->lean) {
            buf_free(&c->out);
            c->trim_out = 0;
        }
    }
    if (c->drain_wanted) {
        /* Drained means the kernel took everything: while lws still holds part of a write,
         * wait for its next WRITEABLE. */
        if (lws_send_pipe_choked(c->wsi)) {
            lws_callback_on_writable(c->wsi);
        } else {
            c->drain_wanted = 0;
            if (c->wsh && c->wsh->on_drain)
                c->wsh->on_drain(c, c->ud);
        }
    }
    if (c->close_after_flush) {
        /* lws may still hold part of the last write; one more WRITEABLE means it has left. */
        if (!c->flushing || lws_send_pipe_choked(c->wsi)) {
            c->flushing = 1;
            lws_callback_on_writable(c->wsi);
            return 0;
        }
        return -1;
    }
    return 0;
}

static void net_rx(net_conn_t *c, uint8_t *in, size_t len)
{
    if (c->dropping)
        return;
    /* WebSocket frames are parsed in lws's read buffer, so a message reaches its handler
     * without a copy; only the tail of a frame split across reads is kept. */
    if (c->state == NET_WS && c->in.len == 0 && !c->in_callback && !c->paused) {
        size_t used = net_ws_parse(c, in, len);
        if (used < len && !c->gone && !c->close_rcvd)
            buf_append(&c->in, in + used, len - used);
        return;
    }
    if (c->close_rcvd)
        return;
    buf_append(&c->in, in, len);
    if (c->in_callback)
        return;
    if (c->state == NET_WS) {
        net_ws_feed(c);
    } else if (c->state == NET_HTTP) {
        net_http_feed(c);
    } else if (c->in.len > c->lst->srv->limits.max_header_bytes && !c->rx_held) {
        /* NET_HTTP_WAIT and NET_HTTP_STREAM keep input until the answer is done; a client
         * that pipelines more than a head meanwhile is not read until then. */
        c->rx_held = 1;
        net_rx_flow(c);
    }
}

static int net_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                        size_t len)
{
    net_conn_t *c = user;
    struct lws_context *ctx = lws_get_context(wsi);
    net_server_t *s = ctx ? lws_context_user(ctx) : NULL;

    switch (reason) {
    case LWS_CALLBACK_RAW_ADOPT:
        if (!s || s->shutting_down)
            return -1;
        net_conn_open(s, c, wsi);
        return 0;
    case LWS_CALLBACK_RAW_RX:
        if (!c->wsi || c->gone)
            return 0;
        /* The first byte of a request starts its head's deadline, which later bytes do not
         * push back. */
        if (c->state == NET_HTTP && c->deadline_kind == NET_DL_IDLE)
            net_deadline(c, NET_DL_HEAD);
        net_rx(c, in, len);
        return 0;
    case LWS_CALLBACK_RAW_WRITEABLE:
        if (!c->wsi)
            return 0;
        return net_writeable(c);
    case LWS_CALLBACK_RAW_CLOSE:
        if (c->wsi)
            net_conn_closed(s, c);
        return 0;
    default: return 0;
    }
}

static void net_check_shutdown_done(net_server_t *s)
{
    if (!s->shutting_down || s->nconns || !s->shutdown_done)
        return;
    void (*done)(void *) = s->shutdown_done;
    s->shutdown_done = NULL;
    uv_timer_stop(&s->grace);
    done(s->shutdown_ud);
}

static void net_grace_expired(uv_timer_t *t)
{
    net_server_t *s = t->data;
    if (!s->shutdown_done)
        return;
    log_warn("shutdown grace expired", LF_U("open_connections", s->nconns));
    void (*done)(void *) = s->shutdown_done;
    s->shutdown_done = NULL;
    done(s->shutdown_ud);
}

void net_server_shutdown(net_server_t *s, uint64_t grace_ms, void (*done)(void *), void *ud)
{
    s->shutting_down = 1;
    s->shutdown_done = done;
    s->shutdown_ud = ud;
    /* From here RAW_ADOPT refuses new sockets; destroying the vhosts now would drop the open
     * ones without their close frames, so the listen sockets go with the context. */
    for (net_conn_t *c = s->conns; c; c = c->next) {
        if (c->state == NET_WS)
            net_ws_close(c, 1001, "shutdown", 8);
        else
            net_http_shutdown(c);
    }
    uv_timer_start(&s->grace, net_grace_expired, grace_ms, 0);
    net_check_shutdown_done(s);
}

void net_server_destroy(net_server_t *s)
{
    s->shutting_down = 1;
    uv_check_stop(&s->kick);
    uv_close((uv_handle_t *)&s->kick, NULL);
    uv_prepare_stop(&s->prep);
    uv_close((uv_handle_t *)&s->prep, NULL);
    uv_timer_stop(&s->grace);
    uv_close((uv_handle_t *)&s->grace, NULL);
    uv_timer_stop(&s->sweep);
    uv_close((uv_handle_t *)&s->sweep, NULL);
    if (s->ctx)
        lws_context_destroy(s->ctx);
}

void net_server_finish(net_server_t *s)
{
    /* With a foreign loop, lws 4.1.6 frees the context only on a second destroy. */
    if (s->ctx)
        lws_context_destroy(s->ctx);
    net_listener_t *l = s->listeners;
    while (l) {
        net_listener_t *n = l->next;
        free(l);
        l = n;
    }
    net_limits_free(s);
    free(s);
}

/* Limits are read where they apply (a connection's first request, a WebSocket's accept, a
 * deadline being set, an accept, a write), so replacing them is enough; deadlines already set
 * stay. */
void net_server_set_limits(net_server_t *s, const net_limits_t *limits)
{
    s->limits = *limits;
    net_limits_schedule(s);
}
