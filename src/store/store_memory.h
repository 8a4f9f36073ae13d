/* The in-memory store: the embedded default for a single node. Everything lives in this process's
 * heap and nothing survives a restart; two sett processes cannot share it (that is what the Redis
 * store is for). Operations run on the next loop iteration, in submission order, and complete
 * there. */
#ifndef SETT_STORE_MEMORY_H
#define SETT_STORE_MEMORY_H

#include "store/store.h"

/* A new, empty store on loop. It owns one uv_idle handle, inactive while nothing is queued; release
 * everything with store_close. */
store_t *store_memory_new(uv_loop_t *loop);

/* What a memory store holds, for metrics, the admin API and tests. */
typedef struct store_memory_stats {
    size_t namespaces;
    size_t actors;
    size_t runners;
    size_t kv_actors; /* actors with at least one KV entry */
    size_t kv_keys;
    uint64_t kv_bytes; /* key and value bytes, what the storage quota counts */
    size_t hib_rows;
} store_memory_stats_t;

/* Fills *out; returns STORE_EINVAL when s is not a memory store. */
int store_memory_stats(const store_t *s, store_memory_stats_t *out);

#endif
