/* Private to the runner half's files: the runner half's record and one runner socket, and what
 * runner.c (the socket and the handshake) shares with runner_start.c (the start listings of
 * hibernating requests) and runner_kv.c (KV requests). */
#ifndef SETT_RUNNER_RUNNER_IMPL_H
#define SETT_RUNNER_RUNNER_IMPL_H

#include "core/buf.h"
#include "core/map.h"
#include "core/metrics.h"
#include "proto/rp_v7.h"
#include "runner/runner.h"

typedef struct rn_conn {
    rn_t *rn;
    net_conn_t *c;
    struct rn_conn *prev, *next;
    const eng_ns_t *ns;
    char *key;
    eng_runner_t *runner; /* after Init, while this socket holds the runner */
    bus_sub_t *sub;
    uv_timer_t timer;   /* the Init deadline, then the ping period */
    uint64_t last_pong; /* loop time, ms */
    int refs;           /* the socket, plus one per store request in flight */
    int closed;         /* the socket is gone */
    map_t waits;        /* actor id -> its commands held behind a start (runner_start.c) */
} rn_conn_t;

struct rn {
    uv_loop_t *loop;
    eng_t *eng;
    store_t *store;
    bus_t *bus;
    rn_config_t cfg;
    char *token;
    rn_conn_t *conns;
    size_t nconns;
    map_t by_runner;  /* runner id -> the socket holding it */
    buf_t scratch;    /* the ToGateway frame being published */
    int scratch_busy; /* publishing from scratch: a nested frame needs its own */
    buf_t encoded;    /* a ToClient frame being written (rn_send may run while a
                                * subscriber still reads scratch) */
    met_series_t *m_closed_invalid, *m_evictions, *m_ping_timeouts, *m_rtt, *m_oversized;
};

/* runner.c */
void rn_send(rn_conn_t *rc, const rp_to_client_t *m);
/* Sends a ToClient made of the tag and the member's encoding, which is forwarded as it is. */
void rn_forward(rn_conn_t *rc, rp_to_client_tag_t tag, const uint8_t *member, size_t len);
/* Drops the reference a store request held; the last one frees the socket's record. */
void rn_unref(rn_conn_t *rc);

/* runner_start.c: a ToRunner commands frame as published (f[0..n), version prefix included;
 * the commands start at f + body).
 * A start waits until its hibernating requests have been listed from the store, and the later
 * commands of the same actor wait behind it; other actors' commands go at once. */
void rn_commands(rn_conn_t *rc, const uint8_t *f, size_t n, size_t body);
/* Frees what is still held, once no store request of the socket is in flight. */
void rn_commands_free(rn_conn_t *rc);

/* runner_kv.c: a ToServerKvRequest, answered from the store with ToClientKvResponse. */
void rn_kv(rn_conn_t *rc, const rp_to_server_kv_request_t *kv);

#endif
