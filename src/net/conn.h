/* The connection record shared by the transport's files (server.c: lws and the write path;
 * http.c: requests and answers; ws.c: WebSocket frames). Private to src/net/. */
#ifndef SETT_NET_CONN_H
#define SETT_NET_CONN_H

#include <libwebsockets.h>

#include "core/buf.h"
#include "core/map.h"
#include "core/metrics.h"
#include "net/server.h"
#include "net/ws_frame.h"

enum net_state {
    NET_HTTP,        /* reading a request */
    NET_HTTP_WAIT,   /* a handler holds the request; further input waits */
    NET_HTTP_STREAM, /* a chunked answer is being sent */
    NET_WS,          /* upgraded */
};

/* What a connection's read deadline is for (limits.c). */
enum net_deadline {
    NET_DL_NONE,
    NET_DL_IDLE, /* between requests: closed without an answer */
    NET_DL_HEAD, /* a request head has begun or is awaited on a new connection: 408 */
    NET_DL_BODY, /* a request body is being read: 408 */
};

/* Why a connection or a request was refused or cut: the reason label of sett_refusals_total
 * (refuse.c). */
enum net_refusal {
    NET_R_BAD_REQUEST,
    NET_R_HEAD_TOO_LARGE,
    NET_R_BODY_TOO_LARGE,
    NET_R_NOT_IMPLEMENTED,
    NET_R_BAD_VERSION,
    NET_R_BAD_UPGRADE,
    NET_R_HEADER_TIMEOUT,
    NET_R_BODY_TIMEOUT,
    NET_R_TOO_MANY_CONNECTIONS,
    NET_R_TOO_MANY_FROM_ADDRESS,
    NET_R_OUTPUT_LIMIT,
    NET_R_SEND_TIMEOUT,
    NET_R_BUFFERED_LIMIT,
    NET_R_WS_PROTOCOL_ERROR,
    NET_R_WS_INVALID_DATA,
    NET_R_WS_MESSAGE_TOO_BIG,
    NET_R_RUNNER_REFUSED,
    NET_R_COUNT
};

typedef struct net_listener {
    struct net_listener *next;
    net_listen_opts_t opts;
    struct lws_vhost *vhost;
    net_server_t *srv;
} net_listener_t;

struct net_conn {
    struct lws *wsi;
    net_listener_t *lst;
    struct net_conn *prev, *next; /* every open connection, for shutdown */
    enum net_state state;
    buf_t in;     /* input read but not yet parsed */
    buf_t out;    /* LWS_PRE bytes of headroom, then bytes for the peer */
    hreq *req;    /* while speaking HTTP */
    wsf_conn *ws; /* once upgraded */
    const net_ws_handler_t *wsh;
    void *ud;
    char *extra; /* headers the answer to the current request carries besides
                                   * its own (net_http_set_extra), or NULL */
    void (*on_abort)(net_conn_t *c, void *ud); /* an unanswered request's owner */
    void *abort_ud;
    unsigned keep_alive : 1;
    unsigned close_after_flush : 1; /* close the socket once out has been written */
    unsigned flushing : 1;          /* the last WRITEABLE before closing was requested */
    unsigned close_sent : 1;
    unsigned close_rcvd : 1;
    unsigned paused : 1; /* paused by the owner */
    unsigned drain_wanted : 1;
    unsigned in_callback : 1; /* parsing input: defer re-entrant parsing */
    unsigned gone : 1;
    unsigned in_flush : 1;  /* on the server's flush list */
    unsigned trim_out : 1;  /* free the output buffer once it is written */
    unsigned lean : 1;      /* idling for long: free the buffers after every use */
    unsigned client : 1;    /* counted in the connection caps (limits.c) */
    unsigned from_addr : 1; /* counted in its address's connections as well */
    unsigned exempt : 1;    /* a runner's: under no client cap (the listener's exempt
                                     * path was asked for) */
    unsigned dropping : 1;  /* cut for a limit: nothing more is read, written or handled */
    unsigned rx_held : 1;   /* reading stopped while a handler holds a request */
    uint8_t over_cap;       /* accepted over a cap (its refusal), or 0: only an exempt
                                     * request head is served */
    uint8_t deadline_kind;  /* enum net_deadline */
    uint32_t addr;          /* the peer's IPv4 address, network order */
    uint32_t deadline;      /* loop time (ms, wrapping, never 0) of the read deadline */
    uint32_t send_deadline; /* loop time by which the peer must have taken what lws
                                     * holds, or 0 */
    size_t held;            /* bytes of the last write that lws may still hold */
    size_t counted;         /* this connection's bytes in the server's output total */
    struct net_conn *flush_next;
};

struct net_server {
    uv_loop_t *loop;
    struct lws_context *ctx;
    net_limits_t limits;
    net_listener_t *listeners;
    net_conn_t *conns;
    size_t nconns;
    int shutting_down;
    uv_check_t kick;
    uv_prepare_t prep; /* flushes what timers wrote, before the loop waits */
    net_conn_t *flush; /* connections with output to write this loop turn */
    uv_timer_t grace;
    uv_timer_t sweep; /* the periodic check of deadlines (limits.c) */
    void (*shutdown_done)(void *);
    void *shutdown_ud;
    size_t nclients; /* connections counted in the caps */
    map_t per_addr;  /* IPv4 address (4 bytes) to its counted connections */
    size_t buffered; /* output bytes of every connection, lws's included */
    size_t held;     /* bytes kept outside the queues (net_server_hold), in the
                                   * same total as buffered */
    met_series_t *m_refused[NET_R_COUNT];
    met_series_t *m_clients, *m_buffered;
    uint64_t log_second; /* the rate limit of refusal logs (refuse.c) */
    unsigned log_count;
    uint64_t log_suppressed;
};

/* Close handshakes the peer does not finish within this many seconds end with the socket. */
#define NET_CLOSE_WAIT_S 2

/* Output backlog above which on_drain is armed; it fires once the output has all been written. */
#define NET_BACKLOG_HIGH (1u << 20)

/* server.c */
/* Makes sure out starts with the LWS_PRE headroom; call before appending to out directly. */
void net_out_prepare(net_conn_t *c);
void net_out_append(net_conn_t *c, const void *p, size_t n);
void net_want_write(net_conn_t *c);
void net_close_after_flush(net_conn_t *c);
/* Applies the owner's pause and the transport's own hold to the socket's reading. */
void net_rx_flow(net_conn_t *c);

/* limits.c: deadlines, connection caps and output caps. */
void net_limits_init(net_server_t *s);
/* Frees what the caps keep; after the sweep's timer is closed and every connection is gone. */
void net_limits_free(net_server_t *s);
/* Starts the sweep again after the limits changed. */
void net_limits_schedule(net_server_t *s);
/* Sets the read deadline of a kind from now (NET_DL_NONE clears it). */
void net_deadline(net_conn_t *c, enum net_deadline kind);
/* Counts a new connection in the caps, marking it over_cap when it is over one. */
void net_caps_admit(net_conn_t *c);
/* Takes a connection out of the caps: it is closing, or it is a runner's. */
void net_caps_release(net_conn_t *c);
/* Called for each complete request head: a runner's connection leaves the caps; a connection
 * accepted over a cap is refused (503) unless it is a runner's. Returns 0 to serve it. */
int net_caps_check(net_conn_t *c, const hreq *req);
/* Brings the server's output total up to date after c's output changed, and enforces the
 * per-connection and process-wide output caps. */
void net_out_account(net_conn_t *c);
/* After a write: arms or clears the send timeout from what lws still holds. */
void net_send_progress(net_conn_t *c, size_t written);

/* refuse.c: every refusal counted by reason and logged, at most ten lines a second. */
void net_refusals_init(net_server_t *s);
void net_refused(net_conn_t *c, enum net_refusal why, int status, const char *detail);
/* The reason label, such as "header_timeout". */
const char *net_refusal_name(enum net_refusal why);
/* The refusal of a parser's answer status (400, 413, 431, 501, 505). */
enum net_refusal net_refusal_of_status(int status);

/* http.c */
void net_http_feed(net_conn_t *c);
/* Answers a request the parser refused, or one that took too long, and reads no more. */
void net_http_reject(net_conn_t *c, int status, const char *code, const char *reason);
void net_http_free(net_conn_t *c);
void net_http_shutdown(net_conn_t *c);
/* The upgrade response is queued: the request parser is no longer needed. */
void net_http_upgraded(net_conn_t *c);

/* ws.c */
void net_ws_feed(net_conn_t *c);
/* Parses frames straight from p (the transport's read buffer); returns the bytes consumed. */
size_t net_ws_parse(net_conn_t *c, uint8_t *p, size_t len);
void net_ws_free(net_conn_t *c);

#endif
