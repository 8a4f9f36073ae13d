/* The loaded configuration as C reads it. The Lua module sett.config owns the schema, the
 * defaults and the validation; this file copies the validated table into a plain struct. */
#ifndef SETT_LUA_CONFIG_H
#define SETT_LUA_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/log.h"
#include "lua/host.h"

typedef struct cfg_addr {
    char host[64];
    int port;
} cfg_addr_t;

typedef struct cfg {
    cfg_addr_t listen;
    cfg_addr_t admin_listen;
    enum log_level log_level;
    int log_json;
    char *tls_cert; /* NULL when TLS is off */
    char *tls_key;
    size_t max_header_bytes;
    size_t max_body_bytes;
    size_t max_message_bytes;
    uint64_t idle_timeout_ms;
    uint64_t header_timeout_ms;
    uint64_t body_timeout_ms;
    size_t max_connections;  /* 0: the open-file limit less 256 */
    size_t max_connections_per_address;
    size_t max_output_bytes;
    uint64_t send_timeout_ms;
    size_t max_buffered_bytes;
    uint64_t shutdown_grace_ms;
    char **namespaces;     /* NULL-terminated */
    char *runner_token;    /* NULL: no check */
    char *api_token;       /* NULL: the REST API is open */
    char *admin_token;     /* NULL: the admin routes are open */
    uint64_t runner_init_timeout_ms;
    uint64_t runner_ping_interval_ms;
    uint64_t runner_ping_timeout_ms;
    uint64_t runner_lost_threshold_ms;
    uint64_t runner_eligible_ms;
    uint64_t tunnel_ping_interval_ms;
    uint64_t tunnel_ping_timeout_ms;
    uint64_t gw_ready_timeout_ms;
    uint64_t gw_response_start_timeout_ms;
    uint64_t gw_websocket_open_timeout_ms;
    uint64_t gw_gc_interval_ms;
    unsigned gw_retries;
    size_t hib_max_pending_bytes;
    uint64_t hib_ack_timeout_ms;
    uint64_t hib_eligible_threshold_ms;
    int store_redis;       /* store.kind == "redis" */
    char *store_url;
    char *store_prefix;
    uint64_t store_connect_timeout_ms;
    uint64_t store_command_timeout_ms;
    uint64_t store_reconnect_max_ms;
    char *gw_default_runner; /* NULL: the one runner name connected in the namespace */
    char *policy;          /* NULL: no policy file */
    uint64_t policy_budget_ms;
    /* timeout_bounds, in the order of CFG_BOUND_KEYS; 0 where the file gives none (a tenth or
     * ten times the configured value then). */
    uint64_t bound_min[7];
    uint64_t bound_max[7];
} cfg_t;

/* The keys of timeout_bounds, in the order of lh_timeouts_t's fields. */
extern const char *const cfg_bound_keys[7];

/* How long running and checking a configuration file may take: 10 s, generous enough for a
 * slow machine or valgrind, and short enough that a file that never ends cannot hang a reload
 * for long. A fuzz target lowers it. */
extern uint64_t cfg_load_budget_ns;

/* Loads, validates and copies the file at path. On failure returns -1 and appends one line per
 * error to errors. */
int cfg_load(lh_t *h, const char *path, cfg_t *out, buf_t *errors);
void cfg_free(cfg_t *c);

/* Compares the running configuration with one just loaded, for a reload. Keys that cannot
 * change while sett serves (listen addresses, TLS, the store, the runner endpoint's token and
 * timers, the hibernation threshold the runner half also reads) keep their running value in
 * next, so that next describes what runs, and their names are appended to restart; the names
 * of changed keys that take effect live are appended to live. Each name ends with a NUL.
 * Strings of restart-only keys move from running to next (pointers others hold stay valid as
 * long as next lives); afterwards running is only fit for cfg_free. */
void cfg_merge(cfg_t *running, cfg_t *next, buf_t *live, buf_t *restart);

#endif
