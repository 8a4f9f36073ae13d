/* Tunnelled HTTP requests: RequestStart with the whole body once the actor runs, the answer
 * relayed whole or chunked as it streams, retries while the actor restarts, and the deadlines
 * for the actor to become ready and to start answering. */
#include "gateway/gw_impl.h"
#include "core/alloc.h"
#include "core/log.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static void gw_http_ready(void *ud, int err, eng_actor_t *a);

static void gw_http_finish(gw_t *gw, gw_req_t *r)
{
    /* Answering cleared the connection's abort hook; a pipelined request may own it now. */
    met_observe(gw->m_http_duration, (double)(clk_now(gw->clk) - gw_http(r)->start) / 1000.0);
    r->c = NULL;
    gw_req_release(r);
}

static void gw_http_fail(gw_t *gw, gw_req_t *r, int status, const char *group, const char *code,
                         const char *msg)
{
    if (r->c)
        net_http_error(r->c, status, group, code, msg, NULL);
    gw_http_finish(gw, r);
}

static void gw_http_abort_tunnel(gw_t *gw, gw_req_t *r)
{
    if (r->state != GW_WAIT_RESPONSE && r->state != GW_STREAMING)
        return;
    rp_to_client_tunnel_message_kind_t k;
    memset(&k, 0, sizeof k);
    k.tag = RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_REQUEST_ABORT;
    gw_send(gw, r, &k);
}

static void gw_http_send_start(gw_t *gw, gw_req_t *r)
{
    gw_http_req_t *h = gw_http(r);
    hreq *req = h->req;
    rp_to_client_tunnel_message_kind_t k;
    memset(&k, 0, sizeof k);
    k.tag = RP_TO_CLIENT_TUNNEL_MESSAGE_KIND_REQUEST_START;
    rp_to_client_request_start_t *s = &k.val.request_start;
    s->actor_id = slice_cstr(r->actor_id);
    s->method = slice_cstr(req->method);
    s->path = slice_cstr(h->path);
    gw_collect_headers(req, &s->headers);
    s->has_body = req->body.len > 0;
    s->body = req->body;
    s->stream = false;
    met_add(gw->m_bytes_out, (double)req->body.len);
    gw_send(gw, r, &k);
    free(s->headers.items);
    r->state = GW_WAIT_RESPONSE;
    gw_timer_start(r, h->response_start_timeout_ms);
}

static void gw_http_wait(gw_t *gw, gw_req_t *r)
{
    eng_actor_t *a = eng_actor_get(gw->eng, r->actor_id);
    if (!a || a->state == ENG_ACTOR_DESTROYED) {
        gw_http_fail(gw, r, 404, "actor", "not_found",
                     "The actor does not exist or was destroyed.");
        return;
    }
    r->state = GW_WAIT_READY;
    r->waiter = eng_actor_wait_ready(gw->eng, a, gw->cfg.ready_timeout_ms, gw_http_ready, r);
}

static void gw_http_ready(void *ud, int err, eng_actor_t *a)
{
    gw_req_t *r = ud;
    gw_t *gw = r->gw;
    r->waiter = NULL;
    if (err == ENG_ETIMEDOUT) {
        gw_http_fail(gw, r, 503, "guard", "actor_ready_timeout",
                     "The actor did not become ready in time.");
        return;
    }
    if (err != ENG_OK || !a->runner) {
        gw_http_fail(gw, r, 404, "actor", "not_found",
                     "The actor does not exist or was destroyed.");
        return;
    }
    gw_set_runner(r, a->runner);
    gw_http_send_start(gw, r);
}

/* The request's one timer: the response-start deadline, or the end of a retry's backoff. */
void gw_http_on_timer(gw_t *gw, gw_req_t *r)
{
    if (r->state == GW_WAIT_RESPONSE) {
        gw_http_abort_tunnel(gw, r);
        gw_http_fail(gw, r, 504, "guard", "gateway_response_start_timeout",
                     "The actor did not start answering in time.");
    } else if (r->state == GW_WAIT_READY && !r->waiter) {
        gw_http_wait(gw, r); /* a retry's backoff has passed */
    }
}

/* The client went away before its answer. */
static void gw_http_on_abort(net_conn_t *c, void *ud)
{
    gw_req_t *r = ud;
    (void)c;
    r->c = NULL;
    gw_http_abort_tunnel(r->gw, r);
    gw_req_release(r);
}

void gw_http_start(gw_t *gw, net_conn_t *c, hreq *req, const char *actor_id, const char *path,
                   int lreq)
{
    gw_req_t *r = gw_req_new(gw, GW_HTTP, actor_id);
    gw_http_req_t *h = gw_http(r);
    h->req = req;
    h->path = sx_strdup(path);
    h->start = clk_now(gw->clk);
    r->c = c;
    gw_register(gw, r);
    lh_timeouts_t to;
    gw_req_timeouts(gw, r, lreq, &to);
    h->response_start_timeout_ms = to.response_start_timeout_ms;
    net_http_on_abort(c, gw_http_on_abort, r);
    gw_http_wait(gw, r);
}

/* Hop-by-hop and framing headers are sett's own to set on the client connection, and so are
 * the CORS headers that say which origin may read the answer: the router decides them for
 * every answer of the route (cors.origins, the policy), and an actor's own would contradict a
 * refusal or repeat an allowed origin, which browsers refuse. */
static int gw_http_skip_header(const slice_t *k)
{
    static const char *const skip[] = { "content-length",
                                        "transfer-encoding",
                                        "connection",
                                        "keep-alive",
                                        "upgrade",
                                        "access-control-allow-origin",
                                        "access-control-allow-credentials",
                                        "access-control-expose-headers",
                                        NULL };
    for (int i = 0; skip[i]; i++)
        if (k->len == strlen(skip[i]) && strncasecmp((const char *)k->p, skip[i], k->len) == 0)
            return 1;
    return 0;
}

static void gw_http_headers(const rp_map_str_str_t *h, buf_t *out)
{
    for (size_t i = 0; i < h->len; i++) {
        const rp_map_str_str_entry_t *e = &h->items[i];
        if (gw_http_skip_header(&e->key))
            continue;
        /* A header a client could be tricked by (a line break inside) is left out. */
        if (memchr(e->key.p, '\n', e->key.len) || memchr(e->value.p, '\n', e->value.len) ||
            memchr(e->key.p, '\r', e->key.len) || memchr(e->value.p, '\r', e->value.len))
            continue;
        buf_append(out, e->key.p, e->key.len);
        buf_append_str(out, ": ");
        buf_append(out, e->value.p, e->value.len);
        buf_append_str(out, "\r\n");
    }
    buf_push(out, '\0');
}

void gw_http_on_message(gw_t *gw, gw_req_t *r, const rp_to_server_tunnel_message_kind_t *k)
{
    switch (k->tag) {
    case RP_TO_SERVER_TUNNEL_MESSAGE_KIND_RESPONSE_START: {
        if (r->state != GW_WAIT_RESPONSE || !r->c)
            return;
        const rp_to_server_response_start_t *s = &k->val.response_start;
        buf_t h = BUF_INIT;
        gw_http_headers(&s->headers, &h);
        gw_timer_stop(r);
        met_add(gw->m_bytes_in, (double)(s->has_body ? s->body.len : 0));
        if (!s->stream) {
            net_http_respond(r->c, s->status, NULL, (const char *)h.data,
                             s->has_body ? s->body.p : NULL, s->has_body ? s->body.len : 0);
            buf_free(&h);
            gw_http_finish(gw, r);
            return;
        }
        /* A streamed answer reaches the client chunked as it arrives; Rivet's gateway drops
         * such bodies, sett relays them. */
        net_http_begin(r->c, s->status, (const char *)h.data);
        buf_free(&h);
        if (s->has_body)
            net_http_chunk(r->c, s->body.p, s->body.len);
        r->state = GW_STREAMING;
        return;
    }
    case RP_TO_SERVER_TUNNEL_MESSAGE_KIND_RESPONSE_CHUNK:
        if (r->state != GW_STREAMING || !r->c)
            return;
        met_add(gw->m_bytes_in, (double)k->val.response_chunk.body.len);
        net_http_chunk(r->c, k->val.response_chunk.body.p, k->val.response_chunk.body.len);
        if (k->val.response_chunk.finish) {
            net_http_end(r->c);
            gw_http_finish(gw, r);
        }
        return;
    case RP_TO_SERVER_TUNNEL_MESSAGE_KIND_RESPONSE_ABORT:
        if (r->state == GW_WAIT_RESPONSE) {
            gw_http_fail(gw, r, 503, "guard", "tunnel_request_aborted",
                         "The actor aborted the request.");
        } else if (r->state == GW_STREAMING) {
            net_http_end(r->c);
            gw_http_finish(gw, r);
        }
        return;
    default: return; /* WebSocket kinds do not belong to an HTTP request */
    }
}

void gw_http_on_actor_stop(gw_t *gw, gw_req_t *r)
{
    if (r->state != GW_WAIT_RESPONSE)
        return;
    gw_http_req_t *h = gw_http(r);
    if (h->attempts >= gw->cfg.retries) {
        gw_http_fail(gw, r, 503, "guard", "actor_stopped_while_waiting",
                     "The actor stopped before answering.");
        return;
    }
    /* Retry after 150 ms, 300 ms, 600 ms...: the actor is being rescheduled or woken. */
    uint64_t backoff = 150u << h->attempts;
    h->attempts++;
    r->state = GW_WAIT_READY;
    log_info("gateway: actor stopped before answering, retrying", LF_S("actor_id", r->actor_id),
             LF_U("attempt", h->attempts));
    gw_timer_start(r, backoff);
}
