#include "net/conn.h"
#include "core/alloc.h"
#include "core/json.h"

#include <stdlib.h>
#include <string.h>

void net_http_reject(net_conn_t *c, int status, const char *code, const char *reason)
{
    c->state = NET_HTTP_WAIT;
    c->keep_alive = 0;
    net_deadline(c, NET_DL_NONE);
    net_http_error(c, status, "http", code, reason ? reason : hreq_status_text(status), NULL);
    buf_free(&c->in);
}

/* Answers a request the parser refused; its reason is a fixed description. */
static void net_http_refuse(net_conn_t *c, int status, const char *reason)
{
    static const struct {
        int status;
        const char *code;
    } codes[] = {
        { 400, "bad_request" },
        { 413, "request_body_too_large" },
        { 431, "request_header_too_large" },
        { 501, "not_implemented" },
        { 505, "http_version_not_supported" },
    };
    const char *code = "bad_request";
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (codes[i].status == status)
            code = codes[i].code;
    net_refused(c, net_refusal_of_status(status), status, reason);
    net_http_reject(c, status, code, reason);
}

void net_http_feed(net_conn_t *c)
{
    if (c->in_callback)
        return;
    c->in_callback = 1;
    while (c->state == NET_HTTP && !c->gone && !c->dropping && !c->paused &&
           !c->close_after_flush && c->in.len) {
        if (!c->req) {
            c->req = sx_malloc(sizeof *c->req);
            hreq_init(c->req);
            c->req->max_head = c->lst->srv->limits.max_header_bytes;
            c->req->max_body = c->lst->srv->limits.max_body_bytes;
        }
        size_t used = 0;
        int r = hreq_feed(c->req, (const char *)c->in.data, c->in.len, &used);
        buf_consume(&c->in, used);
        if (r == HREQ_AGAIN) {
            /* The head is in and a body is on its way: the body's deadline starts. */
            if (c->deadline_kind == NET_DL_HEAD && hreq_head_done(c->req))
                net_deadline(c, NET_DL_BODY);
            break;
        }
        if (r != HREQ_ERROR)
            r = hreq_server_check(c->req) == 0 ? r : HREQ_ERROR;
        if (r == HREQ_ERROR) {
            net_http_refuse(c, c->req->status, c->req->reason);
            break;
        }
        if (net_caps_check(c, c->req) != 0)
            break;
        if (r == HREQ_CONTINUE) {
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            net_deadline(c, NET_DL_BODY);
            net_out_append(c, cont, sizeof cont - 1);
            continue;
        }
        c->keep_alive = c->req->keep_alive;
        c->state = NET_HTTP_WAIT;
        /* The handler may take its time; its own timeouts apply, not the transport's. */
        net_deadline(c, NET_DL_NONE);
        c->lst->opts.on_request(c, c->req, c->lst->opts.ud);
    }
    c->in_callback = 0;
    if (c->state == NET_WS && c->in.len && !c->gone)
        net_ws_feed(c);
    /* After an upgrade the request's bytes are gone for good: a WebSocket parses in lws's
     * read buffer, so an idle socket keeps no input buffer. */
    if (c->in.len == 0 && (c->state == NET_WS || c->in.cap > (64u << 10)))
        buf_free(&c->in);
}

/* Appends the status line and the headers every answer carries. */
static void net_http_head(net_conn_t *c, buf_t *b, int status, const char *content_type,
                          const char *headers)
{
    buf_printf(b, "HTTP/1.1 %d %s\r\n", status, hreq_status_text(status));
    if (content_type)
        buf_printf(b, "Content-Type: %s\r\n", content_type);
    if (headers)
        buf_append_str(b, headers);
    if (c->extra) {
        buf_append_str(b, c->extra);
        free(c->extra);
        c->extra = NULL;
    }
    if (!c->keep_alive)
        buf_append_str(b, "Connection: close\r\n");
    else if (c->req && c->req->http_major == 1 && c->req->http_minor == 0)
        buf_append_str(b, "Connection: keep-alive\r\n");
}

static void net_http_finish(net_conn_t *c)
{
    c->state = NET_HTTP;
    c->on_abort = NULL;
    c->abort_ud = NULL;
    if (c->dropping)
        return;
    if (!c->keep_alive || c->lst->srv->shutting_down) {
        net_close_after_flush(c);
        return;
    }
    net_deadline(c, NET_DL_IDLE);
    if (c->rx_held) {
        c->rx_held = 0;
        net_rx_flow(c);
    }
    if (!c->in_callback && c->in.len) {
        /* A pipelined request has already begun. */
        net_deadline(c, NET_DL_HEAD);
        net_http_feed(c);
    }
}

void net_http_respond(net_conn_t *c, int status, const char *content_type, const char *headers,
                      const void *body, size_t len)
{
    if (c->gone || c->dropping || c->state != NET_HTTP_WAIT)
        return;
    if (c->exempt) {
        /* A runner's connection is out of the client caps for its upgrade only: a refused one
         * is closed, so that no other request rides on it uncounted. */
        c->keep_alive = 0;
        if (status >= 400)
            net_refused(c, NET_R_RUNNER_REFUSED, status, "the runner endpoint refused the upgrade");
    }
    int head = c->req && c->req->method && strcmp(c->req->method, "HEAD") == 0;
    net_out_prepare(c);
    net_http_head(c, &c->out, status, content_type, headers);
    /* A 204 has no body and may not carry Content-Length (RFC 9110, 8.6): one an actor sends
     * anyway is left out, so that the next answer on the connection is read from its start. */
    if (status == 204) {
        buf_append_str(&c->out, "\r\n");
    } else {
        buf_printf(&c->out, "Content-Length: %zu\r\n\r\n", len);
        if (!head)
            buf_append(&c->out, body, len);
    }
    net_want_write(c);
    net_http_finish(c);
}

void net_http_error(net_conn_t *c, int status, const char *group, const char *code,
                    const char *message, const char *headers)
{
    buf_t body = BUF_INIT;
    json_error_body(&body, group, code, message, NULL, 0);
    net_http_respond(c, status, "application/json", headers, body.data, body.len);
    buf_free(&body);
}

void net_http_set_extra(net_conn_t *c, const char *headers)
{
    free(c->extra);
    c->extra = headers && *headers ? sx_strdup(headers) : NULL;
}

void net_http_on_abort(net_conn_t *c, void (*cb)(net_conn_t *c, void *ud), void *ud)
{
    c->on_abort = cb;
    c->abort_ud = ud;
}

void net_http_begin(net_conn_t *c, int status, const char *headers)
{
    if (c->gone || c->dropping || c->state != NET_HTTP_WAIT)
        return;
    /* HTTP/1.0 has no chunked encoding: the body then ends with the connection. */
    int chunked = !(c->req && c->req->http_major == 1 && c->req->http_minor == 0);
    if (!chunked)
        c->keep_alive = 0;
    net_out_prepare(c);
    net_http_head(c, &c->out, status, NULL, headers);
    buf_append_str(&c->out, chunked ? "Transfer-Encoding: chunked\r\n\r\n" : "\r\n");
    c->state = NET_HTTP_STREAM;
    net_want_write(c);
}

void net_http_chunk(net_conn_t *c, const void *data, size_t len)
{
    if (c->gone || c->dropping || c->state != NET_HTTP_STREAM || len == 0)
        return;
    net_out_prepare(c);
    if (c->keep_alive || !(c->req && c->req->http_minor == 0)) {
        buf_printf(&c->out, "%zx\r\n", len);
        buf_append(&c->out, data, len);
        buf_append_str(&c->out, "\r\n");
    } else {
        buf_append(&c->out, data, len);
    }
    net_want_write(c);
}

void net_http_end(net_conn_t *c)
{
    if (c->gone || c->dropping || c->state != NET_HTTP_STREAM)
        return;
    if (!(c->req && c->req->http_major == 1 && c->req->http_minor == 0)) {
        net_out_prepare(c);
        buf_append_str(&c->out, "0\r\n\r\n");
        net_want_write(c);
    }
    net_http_finish(c);
}

void net_http_shutdown(net_conn_t *c)
{
    /* An answer in progress finishes first; an idle keep-alive connection just closes. */
    c->keep_alive = 0;
    if (c->state == NET_HTTP)
        net_close_after_flush(c);
}

void net_http_upgraded(net_conn_t *c)
{
    c->on_abort = NULL;
    net_http_free(c);
}

void net_http_free(net_conn_t *c)
{
    free(c->extra);
    c->extra = NULL;
    if (c->req) {
        hreq_free(c->req);
        free(c->req);
        c->req = NULL;
    }
}
