/* The connection record shared by the transport's files (server.c: lws and the write path;
 * http.c: requests and answers; ws.c: WebSocket frames). Private to src/net/. */
#ifndef SETT_NET_CONN_H
#define SETT_NET_CONN_H

#include <libwebsockets.h>

#include "core/buf.h"
#include "net/server.h"
#include "net/ws_frame.h"

enum net_state {
    NET_HTTP,        /* reading a request */
    NET_HTTP_WAIT,   /* a handler holds the request; further input waits */
    NET_HTTP_STREAM, /* a chunked answer is being sent */
    NET_WS,          /* upgraded */
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
    buf_t in;                     /* input read but not yet parsed */
    buf_t out;                    /* LWS_PRE bytes of headroom, then bytes for the peer */
    hreq *req;                  /* while speaking HTTP */
    wsf_conn *ws;                 /* once upgraded */
    const net_ws_handler_t *wsh;
    void *ud;
    void (*on_abort)(net_conn_t *c, void *ud); /* an unanswered request's owner */
    void *abort_ud;
    unsigned keep_alive : 1;
    unsigned close_after_flush : 1; /* close the socket once out has been written */
    unsigned flushing : 1;          /* the last WRITEABLE before closing was requested */
    unsigned close_sent : 1;
    unsigned close_rcvd : 1;
    unsigned paused : 1;            /* paused by the owner */
    unsigned drain_wanted : 1;
    unsigned in_callback : 1;       /* parsing input: defer re-entrant parsing */
    unsigned gone : 1;
    unsigned in_flush : 1;          /* on the server's flush list */
    unsigned trim_out : 1;          /* free the output buffer once it is written */
    unsigned lean : 1;              /* idling for long: free the buffers after every use */
    uint32_t idle_deadline;         /* loop time (ms, wrapping) at which an idle HTTP connection
                                     * is closed; 0 while it is not idle */
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
    uv_prepare_t prep;            /* flushes what timers wrote, before the loop waits */
    net_conn_t *flush;            /* connections with output to write this loop turn */
    uv_timer_t grace;
    uv_timer_t idle;              /* the periodic sweep for idle HTTP connections */
    void (*shutdown_done)(void *);
    void *shutdown_ud;
};

/* Output backlog above which on_drain is armed, and below which it fires. */
#define NET_BACKLOG_HIGH (1u << 20)
#define NET_BACKLOG_LOW (256u << 10)

/* server.c */
/* Starts or stops the idle clock of a connection between HTTP requests. */
void net_idle_arm(net_conn_t *c);
static inline void net_idle_disarm(net_conn_t *c) { c->idle_deadline = 0; }
/* Makes sure out starts with the LWS_PRE headroom; call before appending to out directly. */
void net_out_prepare(net_conn_t *c);
uint8_t *net_out_reserve(net_conn_t *c, size_t n);
void net_out_commit(net_conn_t *c, size_t n);
void net_out_append(net_conn_t *c, const void *p, size_t n);
void net_want_write(net_conn_t *c);
void net_close_after_flush(net_conn_t *c);

/* http.c */
/* What c->req points to while a connection speaks HTTP: the request parser, and the peer's
 * address once asked for, which every request a policy routes asks for again. */
typedef struct net_http_req {
    hreq req;
    char peer[64];
} net_http_req_t;

void net_http_feed(net_conn_t *c);
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
