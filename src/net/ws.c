#include "net/conn.h"
#include "core/alloc.h"
#include "net/ws_handshake.h"

#include <string.h>

size_t net_ws_parse(net_conn_t *c, uint8_t *p, size_t len)
{
    size_t off = 0;
    int was = c->in_callback;
    c->in_callback = 1;
    while (!c->gone && !c->paused && !c->close_rcvd && off < len) {
        size_t used = 0;
        wsf_event ev;
        int r = wsf_feed(c->ws, p + off, len - off, &used, &ev);
        off += used;
        if (r == WSF_AGAIN)
            break;
        if (r == WSF_ERR) {
            net_refused(c,
                        ev.code == 1007   ? NET_R_WS_INVALID_DATA
                        : ev.code == 1009 ? NET_R_WS_MESSAGE_TOO_BIG
                                          : NET_R_WS_PROTOCOL_ERROR,
                        ev.code, ev.reason);
            net_ws_close(c, ev.code, ev.reason, strlen(ev.reason));
            /* Whatever follows a broken frame is not to be read. */
            off = len;
            c->close_rcvd = 1;
            net_close_after_flush(c);
            break;
        }
        switch (ev.type) {
        case WSF_EV_TEXT:
        case WSF_EV_BINARY:
            if (!c->close_sent && c->wsh->on_message)
                c->wsh->on_message(c, c->ud, ev.type == WSF_EV_BINARY, ev.data, ev.len);
            break;
        case WSF_EV_PING:
            if (!c->close_sent) {
                net_out_prepare(c);
                wsf_append_frame(&c->out, WSF_OP_PONG, ev.data, ev.len, NULL);
                net_want_write(c);
            }
            break;
        case WSF_EV_PONG: break;
        case WSF_EV_CLOSE:
            c->close_rcvd = 1;
            if (!c->close_sent) {
                if (c->wsh->on_close)
                    c->wsh->on_close(c, c->ud, ev.code, ev.data, ev.len);
                /* Echo the peer's code and reason, as a closing handshake expects. */
                if (!c->close_sent && !c->gone) {
                    c->close_sent = 1;
                    net_out_prepare(c);
                    wsf_append_close(&c->out, ev.code == WSF_CLOSE_NO_STATUS ? 0 : ev.code,
                                     (const char *)ev.data, ev.len, NULL);
                }
            }
            if (!c->gone)
                net_close_after_flush(c);
            break;
        }
    }
    c->in_callback = was;
    return off;
}

void net_ws_feed(net_conn_t *c)
{
    size_t used = net_ws_parse(c, c->in.data, c->in.len);
    buf_consume(&c->in, used);
    /* Frames are parsed in lws's read buffer; this one only carries a frame split across
     * reads, so an idle socket should not keep it. */
    if (c->in.len == 0)
        buf_free(&c->in);
}

int net_ws_accept(net_conn_t *c, hreq *req, const char *proto, size_t proto_len,
                  const net_ws_handler_t *h, void *ud)
{
    wsh_result res;
    if (c->gone || c->state != NET_HTTP_WAIT)
        return -1;
    if (wsh_check(req, &res) != 0) {
        if (!c->exempt)
            net_refused(c, NET_R_BAD_UPGRADE, res.status, res.reason);
        net_http_error(c, res.status, "guard", "bad_upgrade", res.reason, res.extra_headers);
        return -1;
    }
    net_out_prepare(c);
    wsh_build_101(&c->out, res.accept, proto, proto_len, NULL);
    c->trim_out = 1;
    net_want_write(c);
    net_http_upgraded(c);
    c->state = NET_WS;
    c->wsh = h;
    c->ud = ud;
    c->ws = sx_malloc(sizeof *c->ws);
    const net_limits_t *l = &c->lst->srv->limits;
    wsf_conn_init(c->ws, WSF_ROLE_SERVER,
                  c->exempt && l->max_exempt_message_bytes ? l->max_exempt_message_bytes
                                                           : l->max_message_bytes);
    /* A WebSocket has no read deadline of its own; its owner pings it. */
    net_deadline(c, NET_DL_NONE);
    /* Frames may have arrived right behind the handshake. */
    if (c->in.len && !c->in_callback)
        net_ws_feed(c);
    return 0;
}

void net_ws_send(net_conn_t *c, int binary, const void *data, size_t len)
{
    if (c->gone || c->close_sent || c->state != NET_WS)
        return;
    net_out_prepare(c);
    wsf_append_frame(&c->out, binary ? WSF_OP_BINARY : WSF_OP_TEXT, data, len, NULL);
    if (net_conn_backlog(c) > NET_BACKLOG_HIGH)
        c->drain_wanted = 1;
    net_want_write(c);
}

void net_ws_sendv(net_conn_t *c, int binary, const void *a, size_t alen, const void *b, size_t blen)
{
    if (c->gone || c->close_sent || c->state != NET_WS)
        return;
    net_out_prepare(c);
    uint8_t *p = buf_reserve(&c->out, WSF_MAX_HEADER + alen + blen);
    size_t h = wsf_write_header(p, binary ? WSF_OP_BINARY : WSF_OP_TEXT, true, alen + blen, NULL);
    if (alen)
        memcpy(p + h, a, alen);
    if (blen)
        memcpy(p + h + alen, b, blen);
    c->out.len += h + alen + blen;
    if (net_conn_backlog(c) > NET_BACKLOG_HIGH)
        c->drain_wanted = 1;
    net_want_write(c);
}

void net_ws_close(net_conn_t *c, int code, const char *reason, size_t reason_len)
{
    if (c->gone || c->close_sent || c->state != NET_WS)
        return;
    c->close_sent = 1;
    net_out_prepare(c);
    wsf_append_close(&c->out, (uint16_t)code, reason, reason_len, NULL);
    if (c->close_rcvd) {
        net_close_after_flush(c);
    } else {
        net_want_write(c);
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_ACK, NET_CLOSE_WAIT_S);
    }
}

void net_ws_free(net_conn_t *c)
{
    if (c->ws) {
        wsf_conn_free(c->ws);
        free(c->ws);
        c->ws = NULL;
    }
}
