/* The actor engine: namespaces, runners and actors of one node, kept in memory and written
 * through to the store. It places actors on runners, starts, stops, sleeps and wakes them by
 * publishing ToRunner commands on the bus, applies the events runners send back (once each, by
 * checkpoint), applies crash policies, and reschedules the actors of a lost runner.
 *
 * Everything here runs on the loop thread; records returned by lookups stay valid until the next
 * turn of the loop that may remove them (actors are never freed while a caller holds one inside
 * a callback). */
#ifndef SETT_ENGINE_ENGINE_H
#define SETT_ENGINE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "bus/bus.h"
#include "core/clock.h"
#include "store/store.h"

typedef struct eng eng_t;
typedef struct eng_actor eng_actor_t;
typedef struct eng_runner eng_runner_t;

typedef struct eng_config {
    int64_t runner_lost_threshold_ms; /* 15000: a disconnected runner's actors move after this */
    int64_t runner_eligible_ms;       /* 10000: runners pinged longer ago are not placed on */
    int64_t actor_stop_threshold_ms;  /* 1800000: sent to runners in ToClientInit */
} eng_config_t;

/* clang-format off */
#define ENG_CONFIG_DEFAULT { 15000, 10000, 1800000 }
/* clang-format on */

typedef enum eng_actor_state {
    ENG_ACTOR_PENDING = 0, /* waiting for a runner with a free slot */
    ENG_ACTOR_STARTING,    /* CommandStartActor sent; waiting for Running */
    ENG_ACTOR_RUNNING,     /* routable */
    ENG_ACTOR_STOPPING,    /* CommandStopActor sent; waiting for Stopped */
    ENG_ACTOR_SLEEPING,    /* stopped until a request or an alarm wakes it */
    ENG_ACTOR_DESTROYED,
} eng_actor_state_t;

typedef struct eng_ns {
    char *namespace_id;
    char *name;
    char *display_name;
    int64_t create_ts;
} eng_ns_t;

/* What a runner has; read-only for callers. */
struct eng_runner {
    char *runner_id;
    const eng_ns_t *ns;
    char *name;
    char *runner_key;
    uint32_t version;
    uint32_t total_slots;
    uint32_t used_slots;
    char *metadata; /* JSON text or NULL */
    int64_t create_ts;
    int64_t last_ping_ts; /* ms; last pong (or init) */
    int64_t rtt_ms;
    int64_t last_connect_ts;
    bool connected;
    bool draining; /* sent ToServerStopping */
    /* Private to the engine. */
    struct eng_runner_priv *priv;
};

/* What an actor has; read-only for callers. */
struct eng_actor {
    char *actor_id;
    const eng_ns_t *ns;
    char *name;
    char *key; /* NULL when the actor has no key */
    uint8_t *input;
    size_t input_len;
    bool has_input;
    char *runner_name_selector;
    store_crash_policy_t crash_policy;
    int64_t create_ts;
    int64_t start_ts;              /* 0 until first Running */
    int64_t connectable_ts;        /* 0 while not Running */
    int64_t sleep_ts;              /* 0 while not sleeping */
    int64_t pending_allocation_ts; /* 0 unless waiting for a runner */
    int64_t destroy_ts;            /* 0 while alive */
    eng_actor_state_t state;
    uint32_t generation;
    eng_runner_t *runner; /* while allocated */
    bool has_alarm;
    int64_t alarm_ts;
    /* Private to the engine. */
    struct eng_actor_priv *priv;
};

typedef struct eng_actor_spec {
    const char *namespace_name;
    const char *name;
    const char *key; /* NULL: no key */
    const uint8_t *input;
    size_t input_len;
    bool has_input;
    const char *runner_name_selector;
    store_crash_policy_t crash_policy;
} eng_actor_spec_t;

/* An error an API can answer with: Rivet's {group, code, message} and an HTTP status. */
typedef struct eng_error {
    int status;
    const char *group;
    const char *code;
    char message[160];
} eng_error_t;

eng_t *eng_new(uv_loop_t *loop, store_t *store, bus_t *bus, const eng_config_t *cfg);
/* A new id: 30 characters of base36, the shape of Rivet's ids. */
void eng_random_id(char out[31]);
/* Stops timers and frees every record; call before closing the store. */
void eng_free(eng_t *e);
/* The store the engine writes through to (the API reads actors' KV from it). */
store_t *eng_store(eng_t *e);

/* Loads what the store holds from an earlier run: namespaces keep their ids, actors come back
 * asleep (their runners' sockets died with that run; the next request or alarm wakes them, with
 * the next generation) or destroyed, and runner records are deleted, since a runner that
 * connects again is a new runner. Call once, after eng_new and before anything creates
 * namespaces or actors; cb gets 0, or a store error (the store is away) after which the call may
 * be repeated. */
typedef void (*eng_restore_cb)(void *ud, int err);
void eng_restore(eng_t *e, eng_restore_cb cb, void *ud);
const eng_config_t *eng_config(const eng_t *e);
/* The clock the engine times waits, alarms and lost runners with; the gateway times with it
 * too, so that a test drives both by making it manual. */
clk_t *eng_clock(eng_t *e);
int64_t eng_now_ms(eng_t *e);

/* ---- Namespaces. "default" always exists. ---- */
const eng_ns_t *eng_ns_get(eng_t *e, const char *name);
int eng_ns_create(eng_t *e, const char *name, const char *display_name, const eng_ns_t **out,
                  eng_error_t *err);
size_t eng_ns_count(eng_t *e);
const eng_ns_t *eng_ns_at(eng_t *e, size_t i); /* ordered by name */

/* ---- Actors. ---- */
/* Creates an actor and places it (or queues it). Fails with 400 (bad name, unknown runner
 * selector is not an error: the actor waits), 404 namespace.not_found, or 409
 * actor.duplicate_key when a live actor of that name holds the key. */
int eng_actor_create(eng_t *e, const eng_actor_spec_t *spec, eng_actor_t **out, eng_error_t *err);
eng_actor_t *eng_actor_get(eng_t *e, const char *actor_id);
/* The live actor of (namespace, name, key), or NULL. */
eng_actor_t *eng_actor_find(eng_t *e, const eng_ns_t *ns, const char *name, const char *key);
/* Calls fn for every actor of the namespace matching name and key when not NULL, destroyed ones
 * included, in creation order; fn returns non-zero to stop. */
void eng_actor_each(eng_t *e, const eng_ns_t *ns, const char *name, const char *key,
                    int (*fn)(void *ud, eng_actor_t *a), void *ud);
/* Stops the actor if it runs and marks it destroyed. */
void eng_actor_destroy(eng_t *e, eng_actor_t *a);
const char *eng_actor_state_name(eng_actor_state_t s);

/* Waits until the actor runs, waking it when it sleeps. cb gets 0 and the actor, or an error:
 * ENG_ENOTFOUND (destroyed while waiting), ENG_ETIMEDOUT. The waiter is freed after cb. */
enum { ENG_OK = 0, ENG_ENOTFOUND = -1, ENG_ETIMEDOUT = -2, ENG_ECANCELED = -3 };
typedef struct eng_waiter eng_waiter_t;
typedef void (*eng_ready_cb)(void *ud, int err, eng_actor_t *a);
eng_waiter_t *eng_actor_wait_ready(eng_t *e, eng_actor_t *a, uint64_t timeout_ms, eng_ready_cb cb,
                                   void *ud);
/* Cancels a pending wait; cb is not called. */
void eng_waiter_cancel(eng_waiter_t *w);

/* Registers the one function told when an actor stops running on its runner (it stopped,
 * crashed, was lost with its runner, or was destroyed); the gateway uses it to retry or close
 * what it had in flight to that actor. */
void eng_on_actor_stop(eng_t *e, void (*fn)(void *ud, eng_actor_t *a), void *ud);

/* Registers the one function told when an actor runs, after the waiters of its start were
 * answered; the gateway re-enters the sockets that hibernated on it. */
void eng_on_actor_ready(eng_t *e, void (*fn)(void *ud, eng_actor_t *a), void *ud);

/* Registers the function that may choose among placement candidates (the policy's place
 * hook); it returns one of cands, or NULL for the built-in weighted choice. */
typedef eng_runner_t *(*eng_place_fn)(void *ud, const eng_actor_t *a, eng_runner_t **cands,
                                      size_t n);
void eng_on_place(eng_t *e, eng_place_fn fn, void *ud);

/* ---- Runners, for readers (REST). ---- */
void eng_runner_each(eng_t *e, const eng_ns_t *ns, const char *name,
                     int (*fn)(void *ud, eng_runner_t *r), void *ud);
eng_runner_t *eng_runner_get(eng_t *e, const char *runner_id);

/* Added for the configuration reload (src/main.c): replaces the engine's settings. The engine
 * reads them at each use, so the next placement and the next lost runner use the new values;
 * a runner already counted as disconnected keeps the timer it got. The record is the engine's
 * own mutable copy, hence the cast. */
static inline void eng_set_config(eng_t *e, const eng_config_t *cfg)
{
    *(eng_config_t *)eng_config(e) = *cfg;
}

#endif
