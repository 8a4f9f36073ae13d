/* The Redis store: the production implementation of store.h, and the only one several sett nodes
 * can share. It speaks to one Redis server through one hiredis async connection on the uv loop
 * (redis_uv.h), pipelines every operation, and keeps each actor's record, KV and hibernating rows
 * under one hash tag so that the keys are Redis Cluster safe. The data model and the failure
 * contract are in docs/store.md ("The Redis store").
 *
 * While Redis cannot be reached, operations complete with STORE_EUNAVAILABLE (never inline) and
 * the store reconnects on its own with a backoff; writes are not queued for later: callers
 * retry. */
#ifndef SETT_STORE_REDIS_H
#define SETT_STORE_REDIS_H

#include "store/store.h"

typedef struct store_redis_opts {
    uint64_t connect_timeout_ms; /* 0: 1000 */
    uint64_t command_timeout_ms; /* 0: 5000; the oldest unanswered command drops the connection */
    uint64_t backoff_min_ms;     /* 0: 100; the first reconnect waits this long, then doubles */
    uint64_t backoff_max_ms;     /* 0: 5000 */
} store_redis_opts_t;

/* A new store on loop that starts connecting at once; operations may be submitted immediately and
 * are sent when the connection is up. url is redis://[[user]:password@]host[:port][/db] with an IP
 * literal host (IPv6 in brackets): a name lookup would block the loop. prefix starts every key
 * (NULL: "sett:") and must not contain '{' or '}', which would change the hash tags. Returns NULL
 * with a message in err for a bad URL or prefix; a Redis that cannot be reached is not an error
 * here, it makes operations fail with STORE_EUNAVAILABLE until it can be. opts may be NULL. */
store_t *store_redis_new(uv_loop_t *loop, const char *url, const char *prefix, char *err,
                         size_t errlen);
store_t *store_redis_new_opts(uv_loop_t *loop, const char *url, const char *prefix,
                              const store_redis_opts_t *opts, char *err, size_t errlen);
/* The URL as it may be logged: a password in it becomes "***". */
void store_redis_url_redact(const char *url, char *out, size_t n);

/* What a Redis store has done, for metrics, the admin API and tests. Counters only grow. */
typedef struct store_redis_stats {
    bool connected;        /* the connection is up and set up (AUTH, SELECT, scripts) */
    uint64_t connects;     /* connections that were set up */
    uint64_t disconnects;  /* connections or attempts lost: refused, timed out, dropped */
    uint64_t commands;     /* commands handed to hiredis */
    uint64_t write_events; /* socket writes hiredis made (one per flush of the pipeline) */
    uint64_t errors;       /* operations that failed with STORE_EUNAVAILABLE */
    size_t in_flight;      /* commands awaiting a reply */
} store_redis_stats_t;

/* Fills *out; returns STORE_EINVAL when s is not a Redis store. */
int store_redis_stats(const store_t *s, store_redis_stats_t *out);

#endif
