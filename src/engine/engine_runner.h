/* The engine's side of a runner connection: what the runner half (src/runner/) tells the engine
 * about the runner socket it serves. Commands travel the other way on the bus. */
#ifndef SETT_ENGINE_ENGINE_RUNNER_H
#define SETT_ENGINE_ENGINE_RUNNER_H

#include "engine/engine.h"
#include "proto/rp_v7.h"

/* A runner sent ToServerInit. Returns the runner: the same record (and id) when this
 * (namespace, name, key) is known and not lost, so a quick reconnect keeps its actors; a new
 * one otherwise. *was_connected tells the caller that an older socket still holds the runner
 * and must be evicted. */
eng_runner_t *eng_runner_connect(eng_t *e, const eng_ns_t *ns, const char *name, const char *key,
                                 const rp_to_server_init_t *init, bool *was_connected);
/* ToClientInit has been sent: resend commands the runner has not acked (except starts of
 * actors already running there) and place waiting actors. */
void eng_runner_ready(eng_t *e, eng_runner_t *r);
void eng_runner_pong(eng_t *e, eng_runner_t *r, int64_t rtt_ms);
void eng_runner_events(eng_t *e, eng_runner_t *r, const rp_to_server_events_t *ev);
void eng_runner_ack_commands(eng_t *e, eng_runner_t *r, const rp_to_server_ack_commands_t *ack);
/* ToServerStopping: every actor on the runner is stopped and moves elsewhere. */
void eng_runner_stopping(eng_t *e, eng_runner_t *r);
/* The runner's socket closed; after the lost threshold its actors are rescheduled. */
void eng_runner_disconnected(eng_t *e, eng_runner_t *r);
/* The actor with this id, if it is allocated to r and not destroyed; for the KV ownership
 * check. */
eng_actor_t *eng_runner_actor(eng_t *e, eng_runner_t *r, const char *actor_id, size_t len);

#endif
