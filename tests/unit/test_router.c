/* The request router: which actor a request names and the path the actor sees (rt_target_find
 * on parsed requests: /gateway/{id}[@token]/..., x-rivet-target and x-rivet-actor, the
 * rivet_target.actor and rivet_actor.<id> subprotocols, and the malformed paths), then the whole
 * router on a real listener, engine, gateway and runner half over the local bus and the memory
 * store, asked over real sockets on 127.0.0.1: health, the runner endpoint, actor routes and
 * their errors, CORS (cors.origins, preflights, the REST API's and the gateway's headers), the
 * REST API, the 404, the policy's route hook before the built-in routes, and its cors hook. */
#include "t.h"
#include "loop_server.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "api/api.h"
#include "bus/bus.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/metrics.h"
#include "engine/engine.h"
#include "lua/host.h"
#include "lua/policy.h"
#include "net/http_req.h"
#include "net/server.h"
#include "router/router.h"
#include "router/rt_target.h"
#include "store/store_impl.h"
#include "store/store_memory.h"

/* ---- Which actor a request names ---- */

/* Parses one raw request and finds its target; t is freed by the caller. */
static int target(const char *raw, rt_target_t *t)
{
    hreq req;
    hreq_init(&req);
    size_t used;
    int rc = RT_TARGET_NONE;
    memset(t, 0, sizeof *t);
    if (hreq_feed(&req, raw, strlen(raw), &used) == HREQ_DONE) {
        url_parts u;
        url_split((const char *)req.url.p, req.url.len, &u);
        rc = rt_target_find(&req, &u, t);
    } else {
        CHECK(!"the request does not parse");
    }
    hreq_free(&req);
    return rc;
}

static void expect_actor(const char *raw, const char *actor_id, const char *path)
{
    rt_target_t t;
    int rc = target(raw, &t);
    CHECK_EQ_INT(rc, RT_TARGET_ACTOR);
    if (rc == RT_TARGET_ACTOR) {
        CHECK(strcmp(t.actor_id, actor_id) == 0);
        CHECK(strcmp((const char *)t.path.data, path) == 0);
        if (strcmp(t.actor_id, actor_id) != 0 || strcmp((const char *)t.path.data, path) != 0)
            fprintf(stderr, "  %s -> %s %s\n", raw, t.actor_id, (const char *)t.path.data);
    }
    rt_target_free(&t);
}

static void expect_none(const char *raw)
{
    rt_target_t t;
    CHECK_EQ_INT(target(raw, &t), RT_TARGET_NONE);
    CHECK(t.actor_id == NULL);
    rt_target_free(&t);
}

static void expect_bad(const char *raw, const char *error)
{
    rt_target_t t;
    CHECK_EQ_INT(target(raw, &t), RT_TARGET_BAD);
    CHECK(t.actor_id == NULL);
    CHECK(t.error && strcmp(t.error, error) == 0);
    rt_target_free(&t);
}

#define GET(target) "GET " target " HTTP/1.1\r\nHost: x\r\n"
#define WS_UPGRADE(target, protos)                                                 \
    "GET " target                                                                  \
    " HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"        \
    "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" \
    "Sec-WebSocket-Protocol: " protos "\r\n\r\n"

static void test_targets(void)
{
    /* By path: the actor sees the rest of the path and the query, byte for byte. */
    expect_actor(GET("/gateway/abc/x/y?q=1+2&r=%41") "\r\n", "abc", "/x/y?q=1+2&r=%41");
    expect_actor(GET("/gateway/abc/p%2Fq") "\r\n", "abc", "/p%2Fq");
    expect_actor(GET("/gateway/abc") "\r\n", "abc", "/");
    expect_actor(GET("/gateway/abc/") "\r\n", "abc", "/");
    expect_actor(GET("/gateway/abc?x") "\r\n", "abc", "/?x");
    expect_actor(GET("/gateway/abc?") "\r\n", "abc", "/?");
    expect_actor(GET("/gateway/abc@token/p") "\r\n", "abc", "/p");
    expect_actor(GET("/gateway/a%41b@t@u/p") "\r\n", "aAb", "/p");
    /* The path decides before the headers. */
    expect_actor(GET("/gateway/abc/p") "x-rivet-target: actor\r\nx-rivet-actor: other\r\n\r\n",
                 "abc", "/p");
    expect_bad(GET("/gateway/") "\r\n", "bad actor id in the path");
    expect_bad(GET("/gateway//p") "\r\n", "bad actor id in the path");
    expect_bad(GET("/gateway/@token/p") "\r\n", "bad actor id in the path");
    expect_bad(GET("/gateway/a%zzb/p") "\r\n", "bad actor id in the path");
    expect_bad(GET("/gateway/a%2Fb/p") "\r\n", "bad actor id in the path");
    expect_bad(GET("/gateway/a%00b/p") "\r\n", "bad actor id in the path");
    expect_bad(GET("/gateway/abc//p") "\r\n", "empty path segment");
    expect_none(GET("/gatewayx/abc/p") "\r\n");
    expect_none(GET("/gateway") "\r\n");
    expect_none(GET("/other/gateway/abc") "\r\n");

    /* By header: the actor sees the whole target; the id is taken as sent. */
    expect_actor(GET("/any/path?q=1") "X-Rivet-Target: actor\r\nx-rivet-actor: a%41b\r\n\r\n",
                 "a%41b", "/any/path?q=1");
    expect_none(GET("/any") "x-rivet-target: actor\r\n\r\n");
    expect_none(GET("/any") "x-rivet-target: actors\r\nx-rivet-actor: a\r\n\r\n");
    expect_none(GET("/any") "x-rivet-actor: a\r\n\r\n");

    /* By subprotocol, on upgrades only: the first rivet_actor.<id>, decoded (a slash allowed),
     * counts once rivet_target.actor is offered too. */
    expect_actor(WS_UPGRADE("/any?x=1",
                            "rivet, rivet_target.actor, rivet_actor.a%2Fb, rivet_actor.c"),
                 "a/b", "/any?x=1");
    expect_actor(WS_UPGRADE("/ws", "rivet_actor.abc, rivet_target.actor"), "abc", "/ws");
    expect_actor(WS_UPGRADE("/ws", "rivet_actor.a%zz, rivet_actor.b, rivet_target.actor"), "b",
                 "/ws");
    expect_none(WS_UPGRADE("/ws", "rivet, rivet_actor.abc"));
    expect_none(WS_UPGRADE("/ws", "rivet_target.actor"));
    expect_none(WS_UPGRADE("/ws", "rivet_target.actor, rivet_actor."));
    expect_none(GET("/ws") "Sec-WebSocket-Protocol: rivet_target.actor, rivet_actor.abc\r\n\r\n");
}

/* ---- The router on a real listener ---- */

static int port;
static rt_t router;

/* One request on its own connection, written and read on the loop through a uv_poll handle:
 * the whole answer, up to the server's close (every request says Connection: close). */
typedef struct hc {
    int fd;
    uv_poll_t poll;
    const char *out;
    size_t left;
    buf_t in;
    int done, closed;
    int ws; /* a WebSocket: answer the server's close frame once it is in */
    int close_replied;
} hc_t;

static void hc_closed(uv_handle_t *h)
{
    ((hc_t *)h->data)->closed = 1;
}

/* Once the head and the server's close frame are in, echoes the close's code, masked, as a
 * client's closing handshake does. */
static void hc_reply_close(hc_t *h)
{
    const uint8_t *end = memmem(h->in.data, h->in.len, "\r\n\r\n", 4);
    if (!end)
        return;
    const uint8_t *f = end + 4;
    size_t left = h->in.len - (size_t)(f - h->in.data);
    if (left < 4 || f[0] != 0x88)
        return;
    uint8_t frame[8] = { 0x88, 0x82, 1, 2, 3, 4, (uint8_t)(f[2] ^ 1), (uint8_t)(f[3] ^ 2) };
    CHECK(send(h->fd, frame, sizeof frame, MSG_NOSIGNAL) == (ssize_t)sizeof frame);
    h->close_replied = 1;
}

static void hc_io(uv_poll_t *p, int status, int events)
{
    hc_t *h = p->data;
    if (status == 0 && (events & UV_WRITABLE) && h->left) {
        ssize_t n = send(h->fd, h->out, h->left, MSG_NOSIGNAL);
        if (n > 0) {
            h->out += n;
            h->left -= (size_t)n;
        }
        if (h->left == 0)
            uv_poll_start(p, UV_READABLE, hc_io);
        return;
    }
    if (status == 0 && (events & UV_READABLE)) {
        uint8_t *b = buf_reserve(&h->in, 65536);
        ssize_t n = recv(h->fd, b, 65536, 0);
        if (n > 0) {
            h->in.len += (size_t)n;
            if (h->ws && !h->close_replied)
                hc_reply_close(h);
            return;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
    }
    h->done = 1;
    uv_poll_stop(p);
}

typedef struct answer {
    int status;
    buf_t head; /* status line and headers */
    buf_t body; /* NUL-terminated */
} answer_t;

static void answer_free(answer_t *a)
{
    buf_free(&a->head);
    buf_free(&a->body);
}

/* Sends the request head (ending in its header lines, without the blank line) and returns the
 * status of the answer, which stays in *a. A WebSocket upgrade (ws) is sent as it is and the
 * server's close frame answered; the answer then ends with the server's close of the
 * connection, which must come within ms. */
static int ask_ws(const char *head, answer_t *a, int ws, int ms)
{
    memset(a, 0, sizeof *a);
    a->status = -1;
    buf_t req = BUF_INIT;
    buf_printf(&req, ws ? "%s\r\n" : "%sConnection: close\r\n\r\n", head);
    hc_t h;
    memset(&h, 0, sizeof h);
    h.ws = ws;
    h.fd = socket(AF_INET, SOCK_STREAM, 0);
    fcntl(h.fd, F_SETFL, fcntl(h.fd, F_GETFL) | O_NONBLOCK);
    struct sockaddr_in sa = { .sin_family = AF_INET,
                              .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int rc = connect(h.fd, (struct sockaddr *)&sa, sizeof sa);
    CHECK(rc == 0 || errno == EINPROGRESS);
    h.out = (const char *)req.data;
    h.left = req.len;
    uv_poll_init(&loop, &h.poll, h.fd);
    h.poll.data = &h;
    uv_poll_start(&h.poll, UV_WRITABLE, hc_io);
    CHECK(RUN_UNTIL(h.done, ms));
    uv_close((uv_handle_t *)&h.poll, hc_closed);
    RUN_UNTIL(h.closed, 1000);
    close(h.fd);
    buf_free(&req);
    const char *end = h.in.len ? memmem(h.in.data, h.in.len, "\r\n\r\n", 4) : NULL;
    if (end) {
        size_t hl = (size_t)(end - (const char *)h.in.data);
        buf_append(&a->head, h.in.data, hl);
        buf_append(&a->body, end + 4, h.in.len - hl - 4);
        sscanf((const char *)h.in.data, "HTTP/1.1 %d", &a->status);
    }
    buf_push(&a->head, 0);
    buf_push(&a->body, 0);
    buf_free(&h.in);
    return a->status;
}

static int ask(const char *head, answer_t *a)
{
    return ask_ws(head, a, 0, 5000);
}

static bool has(const buf_t *b, const char *s)
{
    return b->len && strstr((const char *)b->data, s) != NULL;
}

/* Asks and checks the status and a piece of the body. */
static void expect(const char *head, int status, const char *body)
{
    answer_t a;
    int got = ask(head, &a);
    CHECK_EQ_INT(got, status);
    CHECK(has(&a.body, body));
    if (got != status || !has(&a.body, body))
        fprintf(stderr, "  %s-> %d %s\n", head, got, (const char *)a.body.data);
    answer_free(&a);
}

#define REQ(method, target) method " " target " HTTP/1.1\r\nHost: router.test\r\n"
#define UPGRADE_REQ(target, protocols)                                             \
    REQ("GET", target)                                                             \
    "Upgrade: websocket\r\nConnection: Upgrade\r\n"                                \
    "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" \
    "Sec-WebSocket-Protocol: " protocols "\r\n"

/* A WebSocket refused before its tunnel: upgraded (answering the subprotocol proto, or none
 * for NULL), then closed 1011 with "<reason>#<8 hex digits>", and the connection closed as soon
 * as the client has answered the close (well before the 2 s close wait). */
static void expect_ws_refused(const char *head, const char *proto, const char *reason)
{
    char labels[128];
    snprintf(labels, sizeof labels, "reason=\"%s\"", reason);
    met_series_t *refused = met_counter("gateway_websocket_refused_total", NULL, labels);
    double before = refused->value;
    answer_t a;
    int got = ask_ws(head, &a, 1, 1500);
    CHECK(refused->value == before + 1);
    CHECK_EQ_INT(got, 101);
    char line[128];
    snprintf(line, sizeof line, "\r\nSec-WebSocket-Protocol: %s", proto ? proto : "");
    CHECK(proto ? has(&a.head, line) : !has(&a.head, "Sec-WebSocket-Protocol"));
    const uint8_t *f = a.body.data;
    size_t rl = strlen(reason);
    int ok = a.body.len >= 4 && f[0] == 0x88 && f[1] == 2 + rl + 9 && f[2] == 1011 >> 8 &&
             f[3] == (1011 & 0xff) && memcmp(f + 4, reason, rl) == 0 && f[4 + rl] == '#' &&
             strspn((const char *)f + 5 + rl, "0123456789abcdef") >= 8;
    CHECK(ok);
    /* The close frame is all the server sends. */
    CHECK_EQ_INT(a.body.len, ok ? 2 + 2 + rl + 9 + 1 : a.body.len); /* + ask's NUL */
    if (got != 101 || !ok)
        fprintf(stderr, "  %s-> %d %.*s\n", head, got, (int)a.body.len, (const char *)a.body.data);
    answer_free(&a);
}

static void test_routes(const char *actor_id)
{
    char head[512];
    expect(REQ("GET", "/health"), 200, "{\"status\":\"ok\"}");
    expect(REQ("GET", "/runners/connect"), 200, "pegboard-runner WebSocket endpoint");
    expect(REQ("GET", "/nothing/here"), 404, "\"no_route\"");
    expect(REQ("GET", "/gateway/a%zz/x"), 400, "bad actor id in the path");
    expect(REQ("GET", "/gateway/abc//x"), 400, "empty path segment");
    expect(REQ("GET", "/gateway/nope/x"), 404, "\"not_found\"");
    expect(REQ("GET", "/any") "x-rivet-target: actor\r\nx-rivet-actor: nope\r\n", 404,
           "\"not_found\"");
    /* A WebSocket for an actor that does not exist is upgraded, then closed with the reason
     * RivetKit reads, whichever way it names the actor; the subprotocol answered is the one a
     * tunnelled socket gets. */
    expect_ws_refused(UPGRADE_REQ("/ws", "rivet, rivet_target.actor, rivet_actor.nope"), "rivet",
                      "actor.not_found");
    expect_ws_refused(UPGRADE_REQ("/gateway/nope/connect", "rivet, rivet_encoding.bare"), "rivet",
                      "actor.not_found");
    expect_ws_refused(UPGRADE_REQ("/gateway/nope/connect", "rivet_encoding.bare"),
                      "rivet_encoding.bare", "actor.not_found");
    expect_ws_refused(UPGRADE_REQ("/gateway/a%zz/x", "rivet"), "rivet", "guard.invalid_path");
    /* An upgrade that is not valid still gets its 4xx. */
    expect(REQ("GET", "/gateway/nope/x") "Upgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Version: 13\r\n", 400, "\"bad_upgrade\"");
    /* The REST API answers what no other route takes. */
    expect(REQ("GET", "/namespaces"), 200, "\"namespaces\"");

    /* A CORS preflight for an actor that exists is answered by the router, with the origin and
     * the requested headers echoed. */
    answer_t a;
    snprintf(head, sizeof head, REQ("OPTIONS", "/gateway/%s/x")
             "Origin: http://o.example\r\nAccess-Control-Request-Method: POST\r\n"
             "Access-Control-Request-Headers: x-a, x-b\r\n", actor_id);
    CHECK_EQ_INT(ask(head, &a), 204);
    CHECK(has(&a.head, "\r\nAccess-Control-Allow-Origin: http://o.example\r\n"));
    CHECK(has(&a.head, "\r\nAccess-Control-Allow-Credentials: true\r\n"));
    CHECK(has(&a.head, "\r\nAccess-Control-Expose-Headers: *\r\n"));
    CHECK(has(&a.head,
              "\r\nAccess-Control-Allow-Methods: GET, POST, PUT, DELETE, OPTIONS, PATCH\r\n"));
    CHECK(has(&a.head, "\r\nAccess-Control-Allow-Headers: x-a, x-b\r\n"));
    CHECK(has(&a.head, "\r\nAccess-Control-Max-Age: 86400\r\n"));
    CHECK(has(&a.head, "\r\nVary: Origin\r\n"));
    answer_free(&a);
    /* Without an Origin: "*", and "*" for the headers; nothing to vary on. */
    snprintf(head, sizeof head,
             REQ("OPTIONS", "/elsewhere") "x-rivet-target: actor\r\nx-rivet-actor: %s\r\n",
             actor_id);
    CHECK_EQ_INT(ask(head, &a), 204);
    CHECK(has(&a.head, "\r\nAccess-Control-Allow-Origin: *\r\n"));
    CHECK(has(&a.head, "\r\nAccess-Control-Allow-Headers: *\r\n"));
    CHECK(!has(&a.head, "Vary"));
    answer_free(&a);
}

/* CORS as Rivet 2.3.5 answers it (recorded against its engine): actor routes mirror the Origin
 * or say "*", with credentials and every header exposed; the REST API mirrors an Origin only
 * when one is sent and varies on three headers; a path no route takes says "*" without
 * credentials. cors.origins refuses an Origin with no CORS header at all. */
static void test_cors(void)
{
    answer_t a;
    /* An actor that does not exist: the gateway's 404 carries the headers, and a preflight is
     * answered 204 all the same, as Rivet's guard does. */
    CHECK_EQ_INT(ask(REQ("GET", "/gateway/nope/x") "Origin: https://app.example\r\n", &a), 404);
    CHECK(has(&a.head, "\r\nAccess-Control-Allow-Origin: https://app.example\r\n"));
    CHECK(has(&a.head, "\r\nAccess-Control-Allow-Credentials: true\r\n"));
    CHECK(has(&a.head, "\r\nAccess-Control-Expose-Headers: *\r\n"));
    CHECK(has(&a.head, "\r\nVary: Origin\r\n"));
    CHECK(!has(&a.head, "Access-Control-Allow-Methods"));
    answer_free(&a);
    CHECK_EQ_INT(ask(REQ("GET", "/gateway/nope/x"), &a), 404);
    CHECK(has(&a.head, "\r\nAccess-Control-Allow-Origin: *\r\n"));
    CHECK(!has(&a.head, "Vary"));
    answer_free(&a);
    CHECK_EQ_INT(ask(REQ("OPTIONS", "/gateway/nope/x") "Origin: https://app.example\r\n"
                                                       "Access-Control-Request-Method: GET\r\n",
                     &a),
                 204);
    CHECK(has(&a.head, "\r\nAccess-Control-Allow-Origin: https://app.example\r\n"));
    CHECK(has(&a.head, "\r\nAccess-Control-Max-Age: 86400\r\n"));
    CHECK_EQ_INT((int)a.body.len, 1);       /* the NUL ask adds: no body */
    CHECK(!has(&a.head, "Content-Length")); /* a 204 may not carry one (RFC 9110, 8.6) */
    answer_free(&a);
    /* A malformed actor path is the gateway's too. */
    CHECK_EQ_INT(ask(REQ("GET", "/gateway/abc//x") "Origin: https://app.example\r\n", &a), 400);
    CHECK(has(&a.head, "\r\nAccess-Control-Allow-Origin: https://app.example\r\n"));
    answer_free(&a);

    /* The REST API: the Origin mirrored, credentials, the three-header Vary; no "*". */
    CHECK_EQ_INT(ask(REQ("GET", "/namespaces") "Origin: https://app.example\r\n", &a), 200);
    CHECK(has(&a.head, "\r\nAccess-Control-Allow-Origin: https://app.example\r\n"));
    CHECK(has(&a.head, "\r\nAccess-Control-Allow-Credentials: true\r\n"));
    CHECK(has(&a.head,
              "\r\nVary: origin, access-control-request-method, "
              "access-control-request-headers\r\n"));
    CHECK(!has(&a.head, "Expose"));
    answer_free(&a);
    CHECK_EQ_INT(ask(REQ("GET", "/namespaces"), &a), 200);
    CHECK(!has(&a.head, "Access-Control-Allow-Origin"));
    CHECK(has(&a.head, "\r\nAccess-Control-Allow-Credentials: true\r\n"));
    CHECK(has(&a.head, "\r\nVary: origin,"));
    answer_free(&a);
    /* An API error carries them too. */
    CHECK_EQ_INT(ask(REQ("DELETE", "/metadata") "Origin: https://app.example\r\n", &a), 405);
    CHECK(has(&a.head, "\r\nAccess-Control-Allow-Origin: https://app.example\r\n"));
    answer_free(&a);
    /* The API's preflight: 200, no body, method and headers mirrored when asked for. */
    CHECK_EQ_INT(ask(REQ("OPTIONS",
                         "/actors") "Origin: https://app.example\r\n"
                                    "Access-Control-Request-Method: POST\r\n"
                                    "Access-Control-Request-Headers: content-type,x-foo\r\n",
                     &a),
                 200);
    CHECK(has(&a.head, "\r\nAccess-Control-Allow-Origin: https://app.example\r\n"));
    CHECK(has(&a.head, "\r\nAccess-Control-Allow-Methods: POST\r\n"));
    CHECK(has(&a.head, "\r\nAccess-Control-Allow-Headers: content-type,x-foo\r\n"));
    CHECK(has(&a.head, "\r\nContent-Length: 0"));
    CHECK_EQ_INT((int)a.body.len, 1);
    answer_free(&a);
    CHECK_EQ_INT(ask(REQ("OPTIONS", "/actors") "Origin: https://app.example\r\n", &a), 200);
    CHECK(!has(&a.head, "Access-Control-Allow-Methods"));
    CHECK(!has(&a.head, "Access-Control-Allow-Headers"));
    answer_free(&a);
    /* With api.token set a preflight still needs none: browsers send it without. */
    api_set_token("s3cret");
    CHECK_EQ_INT(ask(REQ("OPTIONS", "/actors") "Origin: https://app.example\r\n"
                                               "Access-Control-Request-Method: GET\r\n",
                     &a),
                 200);
    CHECK(has(&a.head, "\r\nAccess-Control-Allow-Origin: https://app.example\r\n"));
    answer_free(&a);
    /* The 401 of a request without the token is readable by the page, so it can say why. */
    CHECK_EQ_INT(ask(REQ("GET", "/actors") "Origin: https://app.example\r\n", &a), 401);
    CHECK(has(&a.head, "\r\nAccess-Control-Allow-Origin: https://app.example\r\n"));
    answer_free(&a);
    api_set_token(NULL);

    /* A path no route takes: "*", every header exposed, no credentials; its preflight 200. */
    CHECK_EQ_INT(ask(REQ("GET", "/nothing/here") "Origin: https://app.example\r\n", &a), 404);
    CHECK(has(&a.head, "\r\nAccess-Control-Allow-Origin: *\r\n"));
    CHECK(has(&a.head, "\r\nAccess-Control-Expose-Headers: *\r\n"));
    CHECK(!has(&a.head, "Credentials"));
    CHECK(has(&a.head, "\r\nVary: origin,"));
    answer_free(&a);
    CHECK_EQ_INT(ask(REQ("OPTIONS", "/nothing/here") "Origin: https://app.example\r\n"
                                                     "Access-Control-Request-Method: POST\r\n",
                     &a),
                 200);
    CHECK(has(&a.head, "\r\nAccess-Control-Allow-Origin: *\r\n"));
    CHECK(has(&a.head, "\r\nAccess-Control-Allow-Methods: *\r\n"));
    CHECK(has(&a.head, "\r\nAccess-Control-Allow-Headers: *\r\n"));
    CHECK(!has(&a.head, "Expose"));
    answer_free(&a);
    /* The health check and the runner endpoint carry none. */
    CHECK_EQ_INT(ask(REQ("GET", "/health") "Origin: https://app.example\r\n", &a), 200);
    CHECK(!has(&a.head, "Access-Control"));
    answer_free(&a);

    /* cors.origins lists one origin: it is mirrored, another gets no CORS header at all (only
     * Vary), a preflight from it is answered without them, and "*" is never said. */
    char *const one[] = { "https://app.example", NULL };
    router.cors_origins = one;
    CHECK_EQ_INT(ask(REQ("GET", "/gateway/nope/x") "Origin: https://app.example\r\n", &a), 404);
    CHECK(has(&a.head, "\r\nAccess-Control-Allow-Origin: https://app.example\r\n"));
    answer_free(&a);
    const char *refused[] = {
        REQ("GET", "/gateway/nope/x") "Origin: https://evil.example\r\n",
        REQ("OPTIONS", "/gateway/nope/x") "Origin: https://evil.example\r\n"
            "Access-Control-Request-Method: GET\r\n",
        REQ("GET", "/namespaces") "Origin: https://evil.example\r\n",
        REQ("OPTIONS", "/actors") "Origin: https://evil.example\r\n"
            "Access-Control-Request-Method: GET\r\n",
        REQ("GET", "/nothing/here") "Origin: https://evil.example\r\n",
        REQ("OPTIONS", "/nothing") "Origin: https://evil.example\r\n",
        /* An Origin that only starts like an allowed one, and a request without one. */
        REQ("GET", "/namespaces") "Origin: https://app.example.evil\r\n",
        REQ("GET", "/gateway/nope/x"),
    };
    const int statuses[] = { 404, 204, 200, 200, 404, 200, 200, 404 };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        CHECK_EQ_INT(ask(refused[i], &a), statuses[i]);
        CHECK(!has(&a.head, "Access-Control"));
        if (has(&a.head, "Access-Control"))
            fprintf(stderr, "  %s-> %s\n", refused[i], (const char *)a.head.data);
        answer_free(&a);
    }
    char *const none[] = { NULL };
    router.cors_origins = none;
    CHECK_EQ_INT(ask(REQ("GET", "/namespaces") "Origin: https://app.example\r\n", &a), 200);
    CHECK(!has(&a.head, "Access-Control"));
    answer_free(&a);
    char *const any[] = { "https://app.example", "*", NULL };
    router.cors_origins = any;
    CHECK_EQ_INT(ask(REQ("GET", "/namespaces") "Origin: https://other.example\r\n", &a), 200);
    CHECK(has(&a.head, "\r\nAccess-Control-Allow-Origin: https://other.example\r\n"));
    answer_free(&a);
    router.cors_origins = NULL;
}

static bool store_away(const store_t *s)
{
    return false;
}

/* A destroyed actor, and an actor that would have to start while the store is away: the
 * socket is upgraded and closed with the reason, as for an unknown actor. */
static void test_ws_refusals(eng_t *eng, store_t *store, const char *actor_id)
{
    char head[512];
    eng_actor_spec_t spec = { .namespace_name = "default",
                              .name = "doomed",
                              .runner_name_selector = "pool",
                              .crash_policy = STORE_CRASH_DESTROY };
    eng_actor_t *a = NULL;
    eng_error_t err;
    CHECK(eng_actor_create(eng, &spec, &a, &err) == 0);
    if (a) {
        eng_actor_destroy(eng, a);
        snprintf(head, sizeof head,
                 UPGRADE_REQ("/gateway/%s/connect", "rivet, rivet_encoding.bare"), a->actor_id);
        expect_ws_refused(head, "rivet", "actor.not_found");
        snprintf(head, sizeof head, REQ("GET", "/gateway/%s/x"), a->actor_id);
        expect(head, 404, "\"actor\",\"code\":\"not_found\"");
    }

    /* The memory store is never away; a copy of its table that says so stands in for Redis
     * being down. */
    const store_vtable_t *vt = store->vt;
    store_vtable_t away = *vt;
    away.available = store_away;
    store->vt = &away;
    snprintf(head, sizeof head, UPGRADE_REQ("/gateway/%s/connect", "rivet"), actor_id);
    expect_ws_refused(head, "rivet", "store.unavailable");
    snprintf(head, sizeof head, REQ("GET", "/gateway/%s/x"), actor_id);
    expect(head, 503, "\"unavailable\"");
    store->vt = vt;
}

/* The policy's route() decides before the built-in routes, after health and the runner
 * endpoint; what it does not take falls through. */
static void test_policy(lh_t *h, eng_t *eng, const char *actor_id)
{
    char path[] = "/tmp/sett-test-router-XXXXXX.lua";
    int fd = mkstemps(path, 4);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    char src[2048];
    int n = snprintf(
        src, sizeof src,
        "return { route = function(req)\n"
        "  if req.path == '/health' or req.path == '/runners/connect' then\n"
        "    return { status = 500, body = 'policy' } end\n"
        "  if req.path == '/mine' then return { status = 201, body = 'policy' } end\n"
        "  if req.path == '/a' then return '%s' end\n"
        "  if req.path == '/gone' then return 'no-such-actor' end\n"
        "  if req.path == '/c' then return { name = 'room', key = 'k' } end\n"
        "  if req.path == '/r500' then return { status = 500, body = 'policy' } end\n"
        "  if req.path == '/ns' then\n"
        "    return { name = 'room', key = 'k', namespace = 'nope' } end\n"
        "  return nil\n"
        "end,\n"
        "authorize = function(req, target)\n"
        "  if req.path:find('/x-deny', 1, true) then return false end\n"
        "  if req.path:find('/x-token', 1, true) then\n"
        "    return { status = 401, body = 'bad token' } end\n"
        "  if req.path:find('/x-json', 1, true) then\n"
        "    return { status = 429, body = '{\"group\":\"rate\",\"code\":\"limited\"}' } end\n"
        "  if req.path:find('/x-dotted', 1, true) then\n"
        "    return { status = 429, body = '{\"group\":\"a.b\",\"code\":\"c\"}' } end\n"
        "  if req.path:find('/x-fail', 1, true) then error('boom') end\n"
        "  return true\n"
        "end }\n",
        actor_id);
    CHECK(write(fd, src, (size_t)n) == n);
    close(fd);
    lh_policy_t *p = lh_policy_new(h, eng, path, 200);
    CHECK(lh_policy_has(p, "route"));
    router.pol = p;
    gw_set_policy(router.gw, p);

    expect(REQ("GET", "/health"), 200, "{\"status\":\"ok\"}");
    expect(REQ("GET", "/runners/connect"), 200, "pegboard-runner WebSocket endpoint");
    expect(REQ("GET", "/mine"), 201, "policy");
    expect(REQ("GET", "/gone"), 404, "\"not_found\"");
    expect(REQ("GET", "/gateway/nope/x"), 404, "\"not_found\"");
    expect(REQ("GET", "/nothing/here"), 404, "\"no_route\"");
    /* An actor the policy names gets the same preflight as a built-in route. */
    answer_t a;
    CHECK_EQ_INT(ask(REQ("OPTIONS", "/a") "Origin: http://p.example\r\n", &a), 204);
    CHECK(has(&a.head, "\r\nAccess-Control-Allow-Origin: http://p.example\r\n"));
    answer_free(&a);
    /* A new actor without a runner name, and no runner connected to guess one from. */
    expect(REQ("GET", "/c"), 503, "\"no_runner\"");

    /* The policy's errors reach a WebSocket as a close after the upgrade: route()'s answers of
     * 400 or more and its errors, and authorize()'s refusals, with the group and code of a
     * Rivet error body, else "policy" and the status's name. An answer below 400 stays HTTP. */
    expect(UPGRADE_REQ("/mine", "rivet"), 201, "policy");
    expect_ws_refused(UPGRADE_REQ("/r500", "rivet"), "rivet", "policy.refused");
    expect_ws_refused(UPGRADE_REQ("/gone", "rivet"), "rivet", "actor.not_found");
    expect_ws_refused(UPGRADE_REQ("/c", "rivet"), "rivet", "policy.no_runner");
    expect_ws_refused(UPGRADE_REQ("/ns", "rivet"), "rivet", "namespace.not_found");
    char head[512];
    static const struct {
        const char *path, *reason;
    } refusals[] = {
        { "x-deny", "policy.forbidden" },
        { "x-token", "policy.unauthorized" },
        { "x-json", "rate.limited" },
        { "x-dotted", "policy.rate_limited" },
        { "x-fail", "policy.authorize_failed" },
    };
    for (size_t i = 0; i < sizeof refusals / sizeof refusals[0]; i++) {
        snprintf(head, sizeof head, UPGRADE_REQ("/gateway/%s/%s", "rivet, rivet_encoding.json"),
                 actor_id, refusals[i].path);
        expect_ws_refused(head, "rivet", refusals[i].reason);
    }
    /* HTTP keeps the policy's answer. */
    snprintf(head, sizeof head, REQ("GET", "/gateway/%s/x-token"), actor_id);
    expect(head, 401, "bad token");
    /* gateway.default_runner names it: the actor is created and the preflight answered. */
    router.default_runner = "pool";
    CHECK_EQ_INT(ask(REQ("OPTIONS", "/c"), &a), 204);
    answer_free(&a);
    CHECK(eng_actor_find(eng, eng_ns_get(eng, "default"), "room", "k") != NULL);
    router.default_runner = NULL;

    router.pol = NULL;
    gw_set_policy(router.gw, NULL);
    lh_policy_free(p);
    unlink(path);
}

/* The policy's cors hook decides before cors.origins: true mirrors the Origin, false refuses
 * it, a string is sent instead, nil leaves it to cors.origins, and so does a hook that fails. */
static void test_cors_hook(lh_t *h, eng_t *eng)
{
    char path[] = "/tmp/sett-test-router-cors-XXXXXX.lua";
    int fd = mkstemps(path, 4);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    static const char src[] =
        "return { cors = function(req)\n"
        "  local o = req.headers.origin\n"
        "  if o == 'https://app.example' then return true end\n"
        "  if o == 'https://evil.example' then return false end\n"
        "  if o == 'https://one.example' then return 'https://canonical.example' end\n"
        "  if o == 'https://boom.example' then error('boom') end\n"
        "  if o == 'https://odd.example' then return 42 end\n"
        "  return nil\n"
        "end }\n";
    CHECK(write(fd, src, sizeof src - 1) == (ssize_t)(sizeof src - 1));
    close(fd);
    lh_policy_t *p = lh_policy_new(h, eng, path, 200);
    CHECK(lh_policy_has(p, "cors"));
    router.pol = p;
    char *const listed[] = { "https://listed.example", NULL };
    router.cors_origins = listed;
    answer_t a;

    /* Allowed by the hook though not listed: on an actor route, the REST API, a preflight. */
    CHECK_EQ_INT(ask(REQ("GET", "/gateway/nope/x") "Origin: https://app.example\r\n", &a), 404);
    CHECK(has(&a.head, "\r\nAccess-Control-Allow-Origin: https://app.example\r\n"));
    answer_free(&a);
    CHECK_EQ_INT(ask(REQ("GET", "/namespaces") "Origin: https://app.example\r\n", &a), 200);
    CHECK(has(&a.head, "\r\nAccess-Control-Allow-Origin: https://app.example\r\n"));
    answer_free(&a);
    CHECK_EQ_INT(ask(REQ("OPTIONS", "/actors") "Origin: https://app.example\r\n"
                                               "Access-Control-Request-Method: PUT\r\n",
                     &a),
                 200);
    CHECK(has(&a.head, "\r\nAccess-Control-Allow-Methods: PUT\r\n"));
    answer_free(&a);
    /* The origin the hook names is sent instead of the mirrored one. */
    CHECK_EQ_INT(ask(REQ("GET", "/gateway/nope/x") "Origin: https://one.example\r\n", &a), 404);
    CHECK(has(&a.head, "\r\nAccess-Control-Allow-Origin: https://canonical.example\r\n"));
    CHECK(!has(&a.head, "one.example"));
    answer_free(&a);
    /* Refused by the hook: no CORS header. */
    CHECK_EQ_INT(ask(REQ("GET", "/namespaces") "Origin: https://evil.example\r\n", &a), 200);
    CHECK(!has(&a.head, "Access-Control"));
    answer_free(&a);
    /* nil, an error and a wrong answer leave it to cors.origins: a listed Origin is mirrored,
     * the others refused. */
    const char *to_list[] = { "https://listed.example", "https://boom.example",
                              "https://odd.example" };
    for (int i = 0; i < 3; i++) {
        char head[256];
        snprintf(head, sizeof head, REQ("GET", "/namespaces") "Origin: %s\r\n", to_list[i]);
        CHECK_EQ_INT(ask(head, &a), 200);
        CHECK_EQ_INT(has(&a.head, "Access-Control-Allow-Origin"), i == 0);
        answer_free(&a);
    }
    router.cors_origins = NULL;
    CHECK_EQ_INT(ask(REQ("GET", "/namespaces") "Origin: https://boom.example\r\n", &a), 200);
    CHECK(has(&a.head, "\r\nAccess-Control-Allow-Origin: https://boom.example\r\n"));
    answer_free(&a);
    met_series_t *errs = met_counter(
        "sett_policy_hook_errors_total",
        "Policy hook calls that failed; the built-in behaviour answered.", "hook=\"cors\"");
    CHECK(errs->value == 3);
    /* A WebSocket upgrade is not asked about and carries no CORS header. */
    CHECK_EQ_INT(ask(REQ("GET",
                         "/gateway/nope/x") "Origin: https://boom.example\r\n"
                                            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                                            "Sec-WebSocket-Version: 13\r\n"
                                            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
                     &a),
                 101);
    CHECK(!has(&a.head, "Access-Control"));
    answer_free(&a);
    CHECK(errs->value == 3);

    router.pol = NULL;
    lh_policy_free(p);
    unlink(path);
}

static void on_store_closed(void *ud)
{
    (*(int *)ud)++;
}

int main(void)
{
    log_setup(LOG_OFF, 0);
    test_targets();

    loop_wait_init();
    bus_t *bus = bus_new();
    store_t *store = store_memory_new(&loop);
    eng_config_t ec = ENG_CONFIG_DEFAULT;
    eng_t *eng = eng_new(&loop, store, bus, &ec);
    gw_config_t gc = { .timeouts = { .ping_interval_ms = 3000,
                                     .ping_timeout_ms = 30000,
                                     .response_start_timeout_ms = 300000,
                                     .websocket_open_timeout_ms = 15000,
                                     .max_pending_bytes = 1 << 20,
                                     .ack_timeout_ms = 30000,
                                     .hibernation_threshold_ms = 90000 },
                       .ready_timeout_ms = 10000,
                       .gc_interval_ms = 15000,
                       .retries = 3,
                       .max_body_bytes = 1 << 20 };
    gw_t *gw = gw_new(&loop, eng, bus, store, &gc);
    rn_config_t rc = { .init_timeout_ms = 5000,
                       .ping_interval_ms = 3000,
                       .ping_timeout_ms = 30000,
                       .hib_eligible_ms = 90000 };
    rn_t *rn = rn_new(&loop, eng, store, bus, &rc);
    lh_t h;
    lh_init(&h, &loop);
    router = (rt_t){ .eng = eng, .rn = rn, .gw = gw };

    net_limits_t limits = { .max_header_bytes = 65536,
                            .max_body_bytes = 1 << 20,
                            .max_message_bytes = 1 << 20,
                            .idle_timeout_ms = 10000 };
    port = loop_server_start(&limits, rt_on_request, &router);
    CHECK(port != 0);

    /* An actor that exists and waits for a runner named pool: the gateway can reach it. */
    eng_actor_spec_t spec = { .namespace_name = "default",
                              .name = "target",
                              .runner_name_selector = "pool",
                              .crash_policy = STORE_CRASH_DESTROY };
    eng_actor_t *actor = NULL;
    eng_error_t eerr;
    CHECK(eng_actor_create(eng, &spec, &actor, &eerr) == 0);
    if (port && actor) {
        char id[64];
        snprintf(id, sizeof id, "%s", actor->actor_id);
        test_routes(id);
        test_cors();
        test_ws_refusals(eng, store, id);
        test_policy(&h, eng, id);
        test_cors_hook(&h, eng);
    }

    loop_server_stop();
    gw_free(gw);
    rn_free(rn);
    eng_free(eng);
    int closed = 0;
    store_close(store, on_store_closed, &closed);
    CHECK(RUN_UNTIL(closed == 1, 3000));
    bus_free(bus);
    lh_close(&h);
    loop_server_finish();
    return T_DONE();
}
