/* The store: everything the engine keeps beyond one connection goes through this one asynchronous
 * interface (namespaces, actors, runners, actor KV, hibernating-request rows). There are two
 * implementations behind it, in memory (store_memory.h) and Redis, and both pass the shared suite
 * in tests/unit/store_suite.h.
 *
 * Completion contract, the same for every implementation:
 * - Every operation returns void and invokes its callback exactly once, never from inside the
 *   call that submitted it, so a callback may submit further operations or close the store
 *   without re-entrancy hazards. The memory store completes from a uv_idle handle: in the idle
 *   phase of the current loop iteration when the call came from a timer callback, of the next
 *   one otherwise. Operations submitted from a completion callback wait for the next iteration.
 * - The store copies whatever it needs from the arguments before the call returns; the caller may
 *   free or reuse them at once.
 * - Results handed to a callback (records, arrays, KV entries, messages) are borrowed and valid
 *   only until the callback returns; copy what must outlive it (store_*_copy).
 * - Operations on one store take effect in submission order. The memory store also completes them
 *   in submission order; an implementation with a network backend may complete an operation it
 *   refuses up front (invalid arguments, backend down) ahead of earlier ones.
 * - Errors are the negative STORE_E* codes below; store_strerror() names them. KV callbacks also
 *   get a message suitable for KvErrorResponse. */
#ifndef SETT_STORE_STORE_H
#define SETT_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "core/slice.h"

typedef struct store store_t;

enum store_err {
    STORE_OK = 0,
    STORE_ENOTFOUND = -1,    /* no record with that id, name or key */
    STORE_EEXIST = -2,       /* store_actor_create: the id or the live key is taken */
    STORE_EINVAL = -3,       /* malformed: a missing id, keys and values of unequal length */
    STORE_ELIMIT = -4,       /* a KV limit or the per-actor storage quota */
    STORE_EUNAVAILABLE = -5, /* the backend cannot be reached, or the store is closing */
};

/* A static, lower-case description of an error code ("not found"); never NULL. */
const char *store_strerror(int err);

/* ---- Records. Strings are NUL-terminated and owned by the struct that holds them; a struct
 * filled by store_*_copy is released with store_*_clear, which frees the fields (not the struct
 * itself, which the caller owns and may keep on the stack). Adding a field means adding it to the
 * matching copy and clear in store_record.c and to each implementation's encoding. ---- */

typedef struct store_ns {
    char *namespace_id;
    char *name;        /* unique; the key the namespace is stored under */
    int64_t create_ts; /* ms since the epoch */
} store_ns_t;

typedef enum store_crash_policy {
    STORE_CRASH_RESTART = 0,
    STORE_CRASH_SLEEP = 1,
    STORE_CRASH_DESTROY = 2,
} store_crash_policy_t;

typedef struct store_actor {
    char *actor_id;
    char *namespace_id;
    char *name;
    char *key;      /* NULL when the actor has no key */
    uint8_t *input; /* meaningful only when has_input; may be NULL when input_len is 0 */
    size_t input_len;
    bool has_input;
    char *runner_name_selector;
    store_crash_policy_t crash_policy;
    int64_t create_ts; /* ms */
    uint32_t generation;
    /* The state the engine persists so another node, or a restart with Redis, can resume. */
    char *runner_id; /* NULL while the actor is not allocated to a runner */
    bool sleeping;
    bool connectable;
    int64_t destroy_ts; /* 0 while the actor is alive */
    bool has_alarm;
    int64_t alarm_ts; /* ms; meaningful only when has_alarm */
} store_actor_t;

typedef struct store_runner {
    char *runner_id;
    char *namespace_id;
    char *name;
    char *runner_key;
    uint32_t version;
    uint32_t total_slots;
    char *metadata;       /* JSON text, NULL when the runner sent none */
    int64_t create_ts;    /* ms */
    int64_t last_ping_ts; /* ms */
} store_runner_t;

/* One hibernating WebSocket of an actor (protocol §6.5). The actor id is borrowed in both
 * directions: the caller's string on upsert, the store's during a list callback. */
typedef struct store_hib_row {
    const char *actor_id;
    uint8_t gateway_id[4];
    uint8_t request_id[4];
    int64_t last_ping_ts; /* ms */
} store_hib_row_t;

void store_ns_copy(store_ns_t *dst, const store_ns_t *src);
void store_ns_clear(store_ns_t *ns);
void store_actor_copy(store_actor_t *dst, const store_actor_t *src);
void store_actor_clear(store_actor_t *a);
void store_runner_copy(store_runner_t *dst, const store_runner_t *src);
void store_runner_clear(store_runner_t *r);

/* ---- KV types (protocol §2.1, §5.5). ---- */

/* The metadata of a KV value. version is opaque to callers and changes on every put of the key;
 * the memory store uses a per-store counter bumped once per put request, as 8 big-endian bytes,
 * so all keys written by one put share a version. update_ts is the store clock at the put. */
typedef struct store_kv_meta {
    const uint8_t *version;
    size_t version_len;
    int64_t update_ts;
} store_kv_meta_t;

typedef struct store_kv_entry {
    slice_t key;
    slice_t value;
    store_kv_meta_t meta;
} store_kv_entry_t;

/* What a KV callback receives; never NULL. message is non-NULL exactly when err is not STORE_OK and
 * says what was wrong ("key too large: 2049 bytes (max 2048)"), ready for KvErrorResponse.
 * entries is filled by get and list only. */
typedef struct store_kv_res {
    const char *message;
    const store_kv_entry_t *entries;
    size_t n;
} store_kv_res_t;

typedef enum store_kv_query_kind {
    STORE_KV_ALL = 0,
    STORE_KV_RANGE = 1,  /* [start, end], or [start, end) when exclusive */
    STORE_KV_PREFIX = 2, /* keys starting with prefix, byte-wise */
} store_kv_query_kind_t;

typedef struct store_kv_query {
    store_kv_query_kind_t kind;
    slice_t start;  /* STORE_KV_RANGE */
    slice_t end;    /* STORE_KV_RANGE */
    bool exclusive; /* STORE_KV_RANGE */
    slice_t prefix; /* STORE_KV_PREFIX */
    bool reverse;   /* descending key order; the limit then keeps the last keys */
    bool has_limit; /* without it, limits.default_list_limit applies */
    uint64_t limit; /* 0 returns nothing, as the reference engine does */
} store_kv_query_t;

/* The reference engine's limits (§5.5). They are per store so that a deployment can tune them and
 * the tests can reach the storage quota without writing 10 GiB. */
typedef struct store_kv_limits {
    size_t max_key;         /* bytes per key */
    size_t max_value;       /* bytes per value */
    size_t max_keys;        /* keys per get, put or delete request */
    size_t max_put_payload; /* sum of key and value bytes in one put */
    uint64_t max_storage;   /* sum of key and value bytes held per actor */
    uint64_t default_list_limit;
} store_kv_limits_t;

#define STORE_KV_MAX_KEY 2048
#define STORE_KV_MAX_VALUE (128 * 1024)
#define STORE_KV_MAX_KEYS 128
#define STORE_KV_MAX_PUT_PAYLOAD (976 * 1024)
#define STORE_KV_MAX_STORAGE (10ULL * 1024 * 1024 * 1024)
#define STORE_KV_DEFAULT_LIST_LIMIT 16384

/* clang-format off */
#define STORE_KV_LIMITS_DEFAULT { STORE_KV_MAX_KEY, STORE_KV_MAX_VALUE, STORE_KV_MAX_KEYS, \
    STORE_KV_MAX_PUT_PAYLOAD, STORE_KV_MAX_STORAGE, STORE_KV_DEFAULT_LIST_LIMIT }
/* clang-format on */

/* The validation every implementation applies, so that both refuse the same requests with the same
 * messages. Each returns STORE_OK, or STORE_EINVAL / STORE_ELIMIT with a NUL-terminated message
 * written to msg (STORE_MSG_MAX bytes is always enough). store.c runs the first four before an
 * operation reaches an implementation; the quota check needs the actor's current usage, so
 * implementations call it themselves. */
#define STORE_MSG_MAX 160
int store_kv_validate_keys(const store_kv_limits_t *lim, const slice_t *keys, size_t n, char *msg,
                           size_t msglen);
int store_kv_validate_put(const store_kv_limits_t *lim, const slice_t *keys, size_t n_keys,
                          const slice_t *values, size_t n_values, char *msg, size_t msglen);
int store_kv_validate_query(const store_kv_limits_t *lim, const store_kv_query_t *q, char *msg,
                            size_t msglen);
int store_kv_validate_range(const store_kv_limits_t *lim, slice_t start, slice_t end, char *msg,
                            size_t msglen);
int store_kv_validate_quota(const store_kv_limits_t *lim, uint64_t used, uint64_t payload,
                            char *msg, size_t msglen);
/* The byte count a put adds against the quota: the sum of its key and value lengths. */
uint64_t store_kv_payload(const slice_t *keys, const slice_t *values, size_t n);
/* Lexicographic byte order, shorter first on a common prefix: <0, 0 or >0. */
int store_kv_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);

/* ---- Callbacks. ---- */

typedef void (*store_done_cb)(void *ud, int err);
typedef void (*store_ns_cb)(void *ud, int err, const store_ns_t *ns);
typedef void (*store_ns_list_cb)(void *ud, int err, const store_ns_t *items, size_t n);
typedef void (*store_actor_cb)(void *ud, int err, const store_actor_t *actor);
typedef void (*store_actor_list_cb)(void *ud, int err, const store_actor_t *items, size_t n);
typedef void (*store_runner_cb)(void *ud, int err, const store_runner_t *runner);
typedef void (*store_runner_list_cb)(void *ud, int err, const store_runner_t *items, size_t n);
typedef void (*store_kv_cb)(void *ud, int err, const store_kv_res_t *res);
typedef void (*store_hib_list_cb)(void *ud, int err, const store_hib_row_t *rows, size_t n);
typedef void (*store_close_cb)(void *ud);
/* The store clock, ms since the epoch; it stamps KV update_ts and ages hibernating rows. */
typedef int64_t (*store_clock_fn)(void *ud);

/* ---- The store handle. ---- */

/* Starts closing: operations already submitted still complete (the memory store applies them),
 * operations submitted from now on complete with STORE_EUNAVAILABLE, and once every callback has
 * run, close_cb is invoked (never inline) and then the store frees itself; the handle must not be
 * used after close_cb. A second call is ignored. */
void store_close(store_t *s, store_close_cb close_cb, void *ud);
/* The implementation's name: "memory" or "redis". */
const char *store_kind(const store_t *s);
uv_loop_t *store_loop(const store_t *s);
/* Whether the backend can be reached right now (the memory store always can; the Redis store
 * while its connection is up). Callers use it to hold work that would only fail, such as waking
 * an actor whose state the store holds. */
bool store_available(const store_t *s);
void store_set_kv_limits(store_t *s, const store_kv_limits_t *lim);
const store_kv_limits_t *store_kv_limits(const store_t *s);
/* Replaces the wall clock (uv_gettimeofday); tests use it to control time. */
void store_set_clock(store_t *s, store_clock_fn fn, void *ud);
int64_t store_now_ms(store_t *s);

/* ---- Namespaces, stored under their name. ---- */

/* Write operations (those completing with store_done_cb, and KV writes) accept a NULL callback
 * when the caller does not need the outcome. */

/* Inserts or replaces the namespace with ns->name. */
void store_ns_put(store_t *s, const store_ns_t *ns, store_done_cb cb, void *ud);
void store_ns_get(store_t *s, const char *name, store_ns_cb cb, void *ud);
/* Every namespace, ordered by name. */
void store_ns_list(store_t *s, store_ns_list_cb cb, void *ud);

/* ---- Actors, stored under their id, with an index on (namespace_id, name, key) over live
 * actors (key set, destroy_ts 0). The engine keeps at most one live actor per key; the index
 * points to the one put last. ---- */

/* Inserts or replaces the actor with a->actor_id. */
void store_actor_put(store_t *s, const store_actor_t *a, store_done_cb cb, void *ud);
/* Inserts the actor only if its id is unknown and no live actor holds its key; otherwise completes
 * with STORE_EEXIST and the actor in the way. This is the atomic step of get-or-create, which
 * matters once several nodes share a Redis store. */
void store_actor_create(store_t *s, const store_actor_t *a, store_actor_cb cb, void *ud);
void store_actor_get(store_t *s, const char *actor_id, store_actor_cb cb, void *ud);
/* The live actor with that key; STORE_ENOTFOUND when none. */
void store_actor_find(store_t *s, const char *namespace_id, const char *name, const char *key,
                      store_actor_cb cb, void *ud);

/* A NULL member matches anything. */
typedef struct store_actor_filter {
    const char *namespace_id;
    const char *name;
    const char *runner_id;
} store_actor_filter_t;

/* The actors matching the filter (NULL matches all), destroyed ones included, ordered by actor
 * id. */
void store_actor_list(store_t *s, const store_actor_filter_t *f, store_actor_list_cb cb, void *ud);
/* Removes the record; deleting an unknown id succeeds. The actor's KV and hibernating rows are
 * separate (store_kv_drop, store_hib_delete). */
void store_actor_delete(store_t *s, const char *actor_id, store_done_cb cb, void *ud);

/* ---- Runners, stored under their id, with an index on (namespace_id, name, runner_key) that
 * points to the runner put last with that key. ---- */

void store_runner_put(store_t *s, const store_runner_t *r, store_done_cb cb, void *ud);
void store_runner_get(store_t *s, const char *runner_id, store_runner_cb cb, void *ud);
void store_runner_find(store_t *s, const char *namespace_id, const char *name,
                       const char *runner_key, store_runner_cb cb, void *ud);
/* The runners of a namespace, of one name when name is not NULL, ordered by runner id. */
void store_runner_list(store_t *s, const char *namespace_id, const char *name,
                       store_runner_list_cb cb, void *ud);
/* Removes the record; deleting an unknown id succeeds. */
void store_runner_delete(store_t *s, const char *runner_id, store_done_cb cb, void *ud);

/* ---- Actor KV (protocol §5.5), per actor id; the store does not check that the actor exists,
 * the runner half does that before it asks. Every callback gets a store_kv_res_t. ---- */

/* The entries of the keys that exist, in request order; missing keys are left out. */
void store_kv_get(store_t *s, const char *actor_id, const slice_t *keys, size_t n, store_kv_cb cb,
                  void *ud);
void store_kv_list(store_t *s, const char *actor_id, const store_kv_query_t *q, store_kv_cb cb,
                   void *ud);
/* Writes every pair, in order (a key given twice keeps its last value), all or nothing. */
void store_kv_put(store_t *s, const char *actor_id, const slice_t *keys, size_t n_keys,
                  const slice_t *values, size_t n_values, store_kv_cb cb, void *ud);
void store_kv_delete(store_t *s, const char *actor_id, const slice_t *keys, size_t n,
                     store_kv_cb cb, void *ud);
/* Deletes [start, end); a no-op when start >= end. */
void store_kv_delete_range(store_t *s, const char *actor_id, slice_t start, slice_t end,
                           store_kv_cb cb, void *ud);
/* Deletes every key of the actor. */
void store_kv_drop(store_t *s, const char *actor_id, store_kv_cb cb, void *ud);

/* ---- Hibernating-request rows (protocol §6.5), keyed by (actor, gateway id, request id). ---- */

/* Inserts or refreshes every row to its last_ping_ts, in one round trip. Rows whose last_ping_ts
 * falls more than ttl_ms behind the store clock are removed eventually; until then list's min_ts
 * is what hides them. */
void store_hib_upsert(store_t *s, const store_hib_row_t *rows, size_t n, int64_t ttl_ms,
                      store_done_cb cb, void *ud);
/* The actor's rows with last_ping_ts >= min_ts, ordered by last_ping_ts, then gateway id, then
 * request id. */
void store_hib_list(store_t *s, const char *actor_id, int64_t min_ts, store_hib_list_cb cb,
                    void *ud);
/* Removes one row; removing an unknown row succeeds. */
void store_hib_delete(store_t *s, const char *actor_id, const uint8_t gateway_id[4],
                      const uint8_t request_id[4], store_done_cb cb, void *ud);

#endif
