/* The transport: libwebsockets on sett's uv loop, used only to accept sockets, run TLS and
 * buffer non-blocking writes. Every accepted socket is raw; sett parses HTTP/1.1 itself
 * (http_req), does the WebSocket upgrade itself (ws_handshake) and frames messages itself
 * (ws_frame), so request targets and subprotocol lists reach handlers byte for byte.
 *
 * A listener hands each complete HTTP request to its request callback. The callback answers
 * with net_http_respond (now or later: the connection reads no further request until then) or
 * upgrades with net_ws_accept, after which the connection's WebSocket handler gets messages. */
#ifndef SETT_NET_SERVER_H
#define SETT_NET_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "net/http_req.h"

typedef struct net_server net_server_t;
typedef struct net_conn net_conn_t;

typedef void (*net_request_cb)(net_conn_t *c, hreq *req, void *ud);

typedef struct net_ws_handler {
    /* A whole text (binary == 0) or binary message; data is valid during the call only. */
    void (*on_message)(net_conn_t *c, void *ud, int binary, const uint8_t *data, size_t len);
    /* The peer sent a close frame (code 1005 when it carried none). sett answers it. */
    void (*on_close)(net_conn_t *c, void *ud, int code, const uint8_t *reason, size_t len);
    /* The socket is gone; the last call for this connection. */
    void (*on_closed)(net_conn_t *c, void *ud);
    /* The output backlog fell below the low-water mark after net_conn_backlog was high. */
    void (*on_drain)(net_conn_t *c, void *ud);
} net_ws_handler_t;

/* The limits of the transport; a zero in the fields after idle_timeout_ms means none (the two
 * request timeouts then fall back to idle_timeout_ms). */
typedef struct net_limits {
    size_t max_header_bytes;
    size_t max_body_bytes;
    size_t max_message_bytes;
    uint64_t idle_timeout_ms;   /* between requests */
    uint64_t header_timeout_ms; /* a request head must be complete this long after a new
                                   * connection, or after the first byte of a later request */
    uint64_t body_timeout_ms;   /* a request body must be complete this long after its head */
    size_t max_connections;     /* client connections at once, process-wide */
    size_t max_connections_per_address;
    size_t max_output_bytes;         /* queued for one client connection */
    uint64_t send_timeout_ms;        /* longest a client may leave its queued output untaken */
    size_t max_buffered_bytes;       /* queued for every connection together */
    size_t max_exempt_message_bytes; /* a WebSocket message on an exempt (runner's) connection;
                                      * 0: max_message_bytes */
} net_limits_t;

typedef struct net_listen_opts {
    const char *name; /* vhost name, used in logs */
    const char *host; /* IPv4 literal */
    int port;
    const char *tls_cert; /* NULL: plain TCP */
    const char *tls_key;
    net_request_cb on_request;
    void *ud;
    /* A connection whose request head is a WebSocket upgrade to this path (or the path and a
     * "/"), a runner's, leaves the client caps and the per-connection output limits: a runner
     * is never refused because clients fill the caps. NULL: none. */
    const char *exempt_path;
    /* The listener's connections are counted in no cap (the admin listener's). */
    int uncapped;
} net_listen_opts_t;

net_server_t *net_server_new(uv_loop_t *loop, const net_limits_t *limits);
/* Opens a listener; returns 0 or -1 with a static reason (e.g. address in use). */
int net_listen(net_server_t *s, const net_listen_opts_t *o, const char **err);
/* Stops accepting, closes every WebSocket with 1001 "shutdown" and a real close frame and every
 * idle HTTP connection, then calls done once all are gone or grace_ms has passed. */
void net_server_shutdown(net_server_t *s, uint64_t grace_ms, void (*done)(void *), void *ud);
/* Destroys the lws context; called from a uv callback outside any lws callback. Call
 * net_server_finish after uv_run has returned, to free what a foreign loop leaves behind. */
void net_server_destroy(net_server_t *s);
void net_server_finish(net_server_t *s);
size_t net_server_conn_count(const net_server_t *s);
/* Replaces the limits on a configuration reload. The caps apply to connections accepted from
 * then on, the timeouts to deadlines set from then on, the size limits to requests and
 * WebSockets that start from then on. */
void net_server_set_limits(net_server_t *s, const net_limits_t *limits);
/* Bytes the process keeps for clients outside the transport's queues (the gateway's unacked
 * messages of hibernatable sockets) count in the same process-wide total as the output queues,
 * the one limits.max_buffered_bytes bounds. net_server_hold adds n and returns 0, or adds
 * nothing and returns -1 when the total would pass the limit; net_server_unhold gives back
 * what was held. */
int net_server_hold(net_server_t *s, size_t n);
void net_server_unhold(net_server_t *s, size_t n);

/* HTTP answers. headers is NULL or raw "Name: value\r\n" lines. The connection goes on with the
 * next pipelined request afterwards, or closes when the request asked it to. */
void net_http_respond(net_conn_t *c, int status, const char *content_type, const char *headers,
                      const void *body, size_t len);
/* Answers with Rivet's error body {"group","code","message"} (json_error_body). */
void net_http_error(net_conn_t *c, int status, const char *group, const char *code,
                    const char *message, const char *headers);
/* Headers (raw "Name: value\r\n" lines) that the answer to the request being handled carries
 * besides its own, whichever part of sett gives that answer (net_http_respond, net_http_error,
 * net_http_begin): for headers the router decides for every answer of a route, such as CORS.
 * The string is copied and forgotten once the answer is written or the connection upgrades;
 * NULL forgets what was set. */
void net_http_set_extra(net_conn_t *c, const char *headers);
/* Asks to be told when the connection closes while its request is still unanswered; the
 * callback runs once, and net_http_respond must not be called afterwards. */
void net_http_on_abort(net_conn_t *c, void (*cb)(net_conn_t *c, void *ud), void *ud);
/* A streamed answer: chunked transfer encoding, ended by net_http_end. */
void net_http_begin(net_conn_t *c, int status, const char *headers);
void net_http_chunk(net_conn_t *c, const void *data, size_t len);
void net_http_end(net_conn_t *c);

/* Upgrades the connection whose request is being handled. proto is the selected subprotocol
 * (one of the offers: see wsh_select_protocol) or NULL. Returns 0, or -1 after answering a
 * request that is not a valid upgrade with the right error itself. */
int net_ws_accept(net_conn_t *c, hreq *req, const char *proto, size_t proto_len,
                  const net_ws_handler_t *h, void *ud);
/* Queues one message; frames queued in one loop turn leave in one write. */
void net_ws_send(net_conn_t *c, int binary, const void *data, size_t len);
/* Queues one message made of two pieces, copied once into the output: a frame built from a
 * small header of the caller's and a payload it forwards. */
void net_ws_sendv(net_conn_t *c, int binary, const void *a, size_t alen, const void *b,
                  size_t blen);
/* Starts the closing handshake; reason is cut to 123 bytes. Idempotent. */
void net_ws_close(net_conn_t *c, int code, const char *reason, size_t reason_len);

void net_conn_set_ud(net_conn_t *c, void *ud);
/* Bytes queued for the peer and not yet handed to the kernel. */
size_t net_conn_backlog(const net_conn_t *c);
/* True while the output backlog is over the high-water mark; on_drain fires once it is written. */
int net_conn_congested(const net_conn_t *c);
/* Stops or resumes reading from the socket; bytes already read are kept and delivered later. */
void net_conn_pause(net_conn_t *c, int paused);
/* While lean, a connection keeps no buffer between uses: for a socket that idles a long
 * while, such as a hibernating one. Turning it on frees the buffers if they are empty. */
void net_conn_lean(net_conn_t *c, int lean);
const char *net_conn_peer(const net_conn_t *c);

#endif
