/* Private to src/engine/: the engine record and the helpers its files share. */
#ifndef SETT_ENGINE_ENGINE_IMPL_H
#define SETT_ENGINE_ENGINE_IMPL_H

#include "core/buf.h"
#include "core/clock.h"
#include "core/metrics.h"
#include "engine/engine.h"
#include "core/map.h"

/* Why an actor is being stopped; decides what its Stopped event leads to. */
enum eng_stop_kind {
    ENG_STOP_NONE = 0,   /* not asked: a crash */
    ENG_STOP_SLEEP,      /* the actor asked to sleep */
    ENG_STOP_STOP,       /* the actor asked to stop: a graceful exit destroys it */
    ENG_STOP_DESTROY,    /* DELETE /actors/{id} */
    ENG_STOP_GOING_AWAY, /* its runner is draining */
};

/* A command sent and not yet acked, kept encoded (a CommandWrapper) for resending. */
typedef struct eng_cmd {
    struct eng_cmd *next;
    uint32_t generation;
    int64_t index;
    int is_start;
    buf_t bytes;
} eng_cmd_t;

struct eng_waiter {
    struct eng_waiter *prev, *next;
    eng_t *e;
    eng_actor_t *actor;
    eng_ready_cb cb;
    void *ud;
    clk_timer_t timer;
    uint64_t deadline; /* clock time at which the wait times out */
    int done;
};

struct eng_actor_priv {
    eng_t *e;
    eng_actor_t *prev, *next;   /* every actor, in creation order */
    eng_actor_t *qnext;         /* the queue of actors waiting for a runner */
    eng_actor_t *rprev, *rnext; /* the actors allocated to one runner */
    int queued;
    int started_once;
    int64_t next_cmd_idx;
    int64_t last_event_idx;
    enum eng_stop_kind stop_kind;
    eng_cmd_t *cmds; /* unacked, oldest first */
    struct eng_waiter *waiters;
    clk_timer_t alarm;
};

struct eng_runner_priv {
    eng_t *e;
    eng_runner_t *prev, *next;
    eng_actor_t *actors;
    clk_timer_t lost_timer;
    int lost;
    char subject[96];
    met_series_t *m_rtt;  /* sett_runner_rtt_seconds{runner_id,name} */
    met_series_t *m_pong; /* sett_runner_last_pong_timestamp_seconds{runner_id,name} */
};

struct eng {
    uv_loop_t *loop;
    clk_t *clk; /* times waits, alarms and lost runners */
    store_t *store;
    bus_t *bus;
    eng_config_t cfg;
    eng_ns_t **ns;
    size_t nns;
    map_t actors; /* id -> actor */
    map_t keys;   /* namespace \0 name \0 key -> live actor */
    eng_actor_t *first, *last;
    eng_actor_t *queue_head, *queue_tail;
    map_t runners;         /* id -> runner */
    struct eng_sync *sync; /* engine_resync.c: writes the store missed */
    map_t dirty;           /* kind byte + id of each record to write again */
    eng_runner_t *runners_first;
    void (*stop_fn)(void *ud, eng_actor_t *a);
    eng_place_fn place_fn;
    void *place_ud;
    void *stop_ud;
    void (*ready_fn)(void *ud, eng_actor_t *a);
    void *ready_ud;
    met_series_t *m_actors_created, *m_actor_starts, *m_runner_connects, *m_runners_lost;
    met_series_t *m_actors_pending, *m_actors_running, *m_runners_connected;
};

void eng_persist_actor(eng_t *e, eng_actor_t *a);
void eng_persist_runner(eng_t *e, eng_runner_t *r);
/* Enters a new actor (a->priv allocated, fields set) into the id and key maps and the list. */
void eng_actor_link(eng_t *e, eng_actor_t *a);
/* Adds a namespace with a fresh id, in name order, without writing it to the store. */
eng_ns_t *eng_ns_add(eng_t *e, const char *name, const char *display);
/* Store writes whose failure marks the record for engine_resync.c to write again. */
void eng_store_actor(eng_t *e, const store_actor_t *rec);
void eng_store_runner(eng_t *e, const store_runner_t *rec);
void eng_store_runner_delete(eng_t *e, const char *runner_id);
void eng_store_ns(eng_t *e, const eng_ns_t *ns);
void eng_store_kv_drop(eng_t *e, const char *actor_id);
void eng_resync_init(eng_t *e);
void eng_resync_free(eng_t *e);
void eng_place(eng_t *e, eng_actor_t *a);
void eng_place_pending(eng_t *e);
void eng_send_stop(eng_t *e, eng_actor_t *a, enum eng_stop_kind kind);
/* The actor's runner slot is free again: after Stopped, or when its runner is lost. */
void eng_actor_stopped(eng_t *e, eng_actor_t *a, int graceful);
void eng_actor_running(eng_t *e, eng_actor_t *a);
void eng_actor_set_alarm(eng_t *e, eng_actor_t *a, bool has, int64_t ts);
void eng_runner_unlink_actor(eng_runner_t *r, eng_actor_t *a);
/* Stops the runner's timer and frees it. */
void eng_runner_free(eng_runner_t *r);
void eng_publish(eng_t *e, eng_runner_t *r, buf_t *frame);

#endif
