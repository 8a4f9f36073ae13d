/* Private to the gateway's files: the gateway record and one in-flight request. */
#ifndef SETT_GATEWAY_GW_IMPL_H
#define SETT_GATEWAY_GW_IMPL_H

#include <assert.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/metrics.h"
#include "gateway/gw.h"
#include "proto/rp_v7.h"
#include "lua/policy.h"
#include "core/map.h"

enum gw_kind { GW_HTTP = 0, GW_WS = 1 };

enum gw_state {
    GW_WAIT_READY = 0, /* waiting for the actor to run */
    GW_WAIT_RESPONSE,  /* HTTP: RequestStart sent */
    GW_STREAMING,      /* HTTP: a streamed answer is being relayed */
    GW_WAIT_OPEN,      /* WebSocket: open sent */
    GW_ACTIVE,         /* WebSocket: open acknowledged */
    GW_HIBERNATING,    /* WebSocket: the actor sleeps, the client stays connected */
    GW_DONE,
};

/* A client message sent to a hibernatable actor and not yet acked, kept as the encoded frame so
 * it can be resent with its original index after the actor wakes. */
typedef struct gw_pending {
    struct gw_pending *next;
    uint16_t index;
    uint64_t sent_at; /* clock time, ms */
    size_t len;
    uint8_t bytes[];
} gw_pending_t;

/* What every tunnelled request has; an HTTP request (gw_http_req_t) and a WebSocket
 * (gw_ws_req_t) each add their own part after it, so a socket carries nothing of HTTP's and a
 * hibernating socket only what it needs to wake. */
typedef struct gw_req {
    struct gw_req *prev, *next;
    struct gw *gw;
    net_conn_t *c; /* NULL once the client is gone */
    char *actor_id;
    char *subject; /* the runner's bus subject while the actor runs for it */
    eng_waiter_t *waiter;
    clk_timer_t timer; /* response-start, open and ping deadlines, retries */
    uint8_t rid[4];
    uint16_t next_index;
    uint8_t state; /* enum gw_state */
    /* The WebSocket's flags sit here too, where they take no room of their own. */
    uint8_t kind : 1;          /* enum gw_kind */
    uint8_t registered : 1;    /* in the in-flight table */
    uint8_t can_hibernate : 1; /* WebSocket: the actor and the policy said so at the open */
    uint8_t paused : 1;        /* WebSocket: the client is paused while its runner is congested */
} gw_req_t;

typedef struct gw_http_req {
    gw_req_t r;
    hreq *req;      /* valid until answered */
    char *path;     /* what the actor sees: rest of the path and the query */
    uint64_t start; /* clock time, ms */
    uint64_t response_start_timeout_ms;
    uint8_t attempts;
} gw_http_req_t;

typedef struct gw_ws_req {
    gw_req_t r;
    /* Until the open is acked: the path the actor sees, NUL-terminated, then the forwarded
     * headers as name\0value\0 pairs, ended by an empty name. */
    char *open;
    uint64_t last_pong; /* clock time, ms */
    gw_pending_t *pend_head, *pend_tail;
    size_t pend_bytes;
    size_t max_pending_bytes;
    uint32_t pend_count;
    /* The request table the hooks share (lh_policy's), while can_hibernate or auto_response
     * may still ask for it; LH_REQ_NONE otherwise. It fills what was padding. */
    int req;
    /* This socket's timeouts, asked of the policy once (lh_timeouts_t); the configuration and
     * the policy's bounds keep each under a day, so milliseconds fit 32 bits. */
    uint32_t open_timeout_ms, ping_interval_ms, ping_timeout_ms, ack_timeout_ms;
} gw_ws_req_t;

/* What a hibernating socket costs the gateway is this record (with its actor id): bytes per
 * hibernating socket is a tracked figure (docs/benchmarks.md, scenario 3) that must not grow. */
_Static_assert(sizeof(gw_ws_req_t) <= 168, "a hibernating WebSocket's record grew");

static inline gw_http_req_t *gw_http(gw_req_t *r)
{
    assert(r->kind == GW_HTTP);
    return (gw_http_req_t *)r;
}

static inline gw_ws_req_t *gw_ws(gw_req_t *r)
{
    assert(r->kind == GW_WS);
    return (gw_ws_req_t *)r;
}

struct gw {
    uv_loop_t *loop;
    eng_t *eng;
    bus_t *bus;
    store_t *store;
    lh_policy_t *pol;
    gw_config_t cfg;
    clk_t *clk;            /* the engine's: times every deadline of the gateway */
    clk_timer_t keepalive; /* refreshes every hibernatable socket's row in one batch */
    uint8_t id[4];
    char subject[32];
    bus_sub_t *sub;
    map_t inflight; /* request id -> gw_req_t */
    /* actor id -> how many of its sockets may hibernate, as a pointer-sized count (never 0:
     * an actor without any has no entry) */
    map_t hib_counts;
    gw_req_t *reqs; /* every request, for the stop hook and GC */
    clk_timer_t gc;
    clk_timer_t reap;     /* frees released requests from the loop */
    gw_req_t *dead;       /* released requests, linked by prev, until reaped */
    buf_t scratch;        /* one encode buffer reused for every frame */
    net_server_t *srv;    /* whose total counts pending bytes too, or NULL */
    size_t pending_bytes; /* unacked messages of every hibernatable socket */
    met_series_t *m_ping, *m_pong_dropped, *m_http_inflight, *m_ws_inflight, *m_http_duration;
    met_series_t *m_msgs_in[7], *m_msgs_out[6], *m_bytes_in, *m_bytes_out, *m_gc_removed;
    met_series_t *m_pending;
};

/* gw.c */
/* A request of the kind's size on the gateway's list; released by gw_req_release. */
gw_req_t *gw_req_new(gw_t *gw, enum gw_kind kind, const char *actor_id);
/* The request's timeouts: the configuration's, then the policy's timeouts hook, which gets the
 * request table lreq. */
void gw_req_timeouts(gw_t *gw, const gw_req_t *r, int lreq, lh_timeouts_t *to);
/* Encodes a tunnel message with the given index into gw->scratch without publishing it. */
void gw_encode(gw_t *gw, gw_req_t *r, uint16_t index, const rp_to_client_tunnel_message_kind_t *k);
void gw_register(gw_t *gw, gw_req_t *r);
void gw_unregister(gw_t *gw, gw_req_t *r);
/* Encodes a tunnel message for the request with the next index and publishes it. */
void gw_send(gw_t *gw, gw_req_t *r, const rp_to_client_tunnel_message_kind_t *kind);
/* Publishes a frame for the request, pausing its client when the runner is congested. */
void gw_publish(gw_t *gw, gw_req_t *r, const uint8_t *frame, size_t len);
void gw_send_at(gw_t *gw, gw_req_t *r, uint16_t index, const rp_to_client_tunnel_message_kind_t *k);
void gw_close_reason(gw_req_t *r, const char *code, char *out, size_t n);
void gw_req_release(gw_req_t *r);
/* Arms the request's one timer; when it fires, gw_http_on_timer or gw_ws_on_timer is called. */
void gw_timer_start(gw_req_t *r, uint64_t ms);
void gw_timer_stop(gw_req_t *r);
/* Points the request at the runner now hosting its actor. */
void gw_set_runner(gw_req_t *r, const eng_runner_t *runner);
void gw_collect_headers(const hreq *req, rp_map_str_str_t *out);

/* gw_http.c: tunnelled HTTP requests and their answers, whole or streamed. */
void gw_http_start(gw_t *gw, net_conn_t *c, hreq *req, const char *actor_id, const char *path,
                   int lreq);
void gw_http_on_message(gw_t *gw, gw_req_t *r, const rp_to_server_tunnel_message_kind_t *k);
void gw_http_on_actor_stop(gw_t *gw, gw_req_t *r);
void gw_http_on_timer(gw_t *gw, gw_req_t *r);

/* gw_refuse.c: accepts the client's upgrade with the subprotocol a tunnelled socket answers
 * ("rivet" when offered, else none); returns net_ws_accept's result. */
int gw_ws_upgrade(net_conn_t *c, hreq *req, const net_ws_handler_t *h, void *ud);
/* gw_ws.c: tunnelled WebSockets: the open, messages both ways, the close. */
/* lreq: the request table, kept in the socket when can_hibernate or auto_response takes it. */
void gw_ws_start(gw_t *gw, net_conn_t *c, hreq *req, const char *actor_id, const char *path,
                 int lreq);
void gw_ws_on_message(gw_t *gw, gw_req_t *r, const rp_to_server_tunnel_message_kind_t *k);
void gw_ws_on_actor_stop(gw_t *gw, gw_req_t *r);
void gw_ws_on_timer(gw_t *gw, gw_req_t *r);
/* An internal failure: the client gets 1011 guard.<code>#<request id> (<code>#<request id> when
 * the code names its group, as "actor.not_found" does), the actor a close, and the request is
 * released. */
void gw_ws_fail(gw_t *gw, gw_req_t *r, const char *code);

/* gw_ping.c: the tunnel ping of open WebSockets. */
void gw_ping_init(gw_t *gw);
/* The open was acked or the socket re-entered: the path counts as alive now, first ping due. */
void gw_ping_start(gw_t *gw, gw_req_t *r);
/* The request's timer fired while it is open: closes it when no pong came for the ping
 * timeout, pings otherwise. */
void gw_ping_tick(gw_t *gw, gw_req_t *r);
void gw_ping_on_pong(gw_t *gw, const rp_to_gateway_pong_t *pong);

/* gw_hib.c: the pending buffer and acks, hibernation, wake, keepalive rows. */
/* Decides whether the socket may hibernate (the runner's word, then the policy's) once its open
 * is acked, and writes its keepalive row when it may. */
void gw_hib_on_open(gw_t *gw, gw_req_t *r, int can_hibernate);
/* A client message on a hibernatable socket: kept until acked, published, or waking the actor. */
void gw_hib_client_message(gw_t *gw, gw_req_t *r, const rp_to_client_tunnel_message_kind_t *k);
void gw_hib_ack(gw_req_t *r, uint16_t ack);
void gw_hib_free_pending(gw_req_t *r);
void gw_hib_hibernate(gw_t *gw, gw_req_t *r);
/* The timer of a hibernating socket fired: a wake that failed is tried again. */
void gw_hib_retry(gw_t *gw, gw_req_t *r);
/* The actor of a hibernating socket runs (woken by anything) or its runner sent on the socket:
 * the socket re-enters. Does nothing for a socket that is not hibernating. */
void gw_hib_actor_ready(gw_t *gw, gw_req_t *r, eng_actor_t *a);
/* The GC pass: closes a socket whose oldest unacked message is older than the ack timeout. */
void gw_hib_gc(gw_t *gw, gw_req_t *r, uint64_t now);
void gw_keepalive_init(gw_t *gw);
/* Writes the keepalive row of one hibernatable socket now. */
void gw_keepalive_one(gw_t *gw, gw_req_t *r);
void gw_keepalive_forget(gw_t *gw, gw_req_t *r);
/* Counts a socket that may hibernate in or out of its actor's count (gw_hib_local). */
void gw_hib_count(gw_t *gw, const char *actor_id, int delta);

#endif
