/* The internals shared by the files of the memory store: its state and its queued operation. The
 * records, KV and hibernating rows each have their own file; this header joins them. */
#ifndef SETT_STORE_MEMORY_IMPL_H
#define SETT_STORE_MEMORY_IMPL_H

#include "store/store_impl.h"
#include "store/store_kvtab.h"
#include "core/map.h"
#include "store/store_memory.h"

typedef struct store_memory {
    store_t base;
    map_t ns;               /* name -> store_ns_t * */
    map_t actors;           /* actor id -> store_actor_t * */
    map_t actor_keys;       /* namespace \0 name \0 key -> live store_actor_t * */
    map_t runners;          /* runner id -> store_runner_t * */
    map_t runner_keys;      /* namespace \0 name \0 runner key -> store_runner_t * */
    map_t kv;               /* actor id -> store_kvtab_t * */
    map_t hib;              /* actor id -> store_memory_hibset_t * */
    uint64_t kv_version;    /* bumped once per successful put; its BE bytes are the version */
    int64_t hib_next_sweep; /* store clock at which upsert next drops expired rows */
} store_memory_t;

typedef enum store_memory_rec {
    STORE_MEM_REC_NONE,
    STORE_MEM_REC_NS,
    STORE_MEM_REC_ACTOR,
    STORE_MEM_REC_RUNNER,
} store_memory_rec_t;

/* A queued operation: a copy of its arguments and the function that applies it on the next loop
 * iteration. exec must invoke cb exactly once; store_memory_run frees the op afterwards. */
typedef struct store_memory_op store_memory_op_t;
struct store_memory_op {
    store_op_t op;
    void (*exec)(store_memory_t *m, store_memory_op_t *op);
    store_cb_t cb;
    void *ud;
    char *str[3]; /* ids, names and keys */
    store_memory_rec_t rec_kind;
    union {
        store_ns_t ns;
        store_actor_t actor;
        store_runner_t runner;
    } rec;         /* exec may take it over and set rec_kind to NONE */
    slice_t *keys; /* one block each: the array, then the bytes */
    slice_t *values;
    size_t n;
    store_kv_query_t query; /* its byte strings point into keys */
    store_hib_row_t *rows;  /* one block: the rows, then their actor ids */
    int64_t i64;
    uint8_t b8[8];
};

/* A new op for exec, with copies of up to three strings (NULL allowed). */
store_memory_op_t *store_memory_op(void (*exec)(store_memory_t *, store_memory_op_t *),
                                   store_cb_t cb, void *ud, const char *s0, const char *s1,
                                   const char *s2);
/* Queues op to run on the next loop iteration. */
void store_memory_submit(store_memory_t *m, store_memory_op_t *op);
/* Copies an array of byte strings and their bytes into one block, freed with free(). */
slice_t *store_memory_pack(const slice_t *v, size_t n);

/* The KV and hibernating-row halves (store_memory_kv.c, store_memory_hib.c). */
void store_memory_kv_get(store_t *s, const char *actor_id, const slice_t *keys, size_t n,
                         store_kv_cb cb, void *ud);
void store_memory_kv_list(store_t *s, const char *actor_id, const store_kv_query_t *q,
                          store_kv_cb cb, void *ud);
void store_memory_kv_put(store_t *s, const char *actor_id, const slice_t *keys,
                         const slice_t *values, size_t n, store_kv_cb cb, void *ud);
void store_memory_kv_delete(store_t *s, const char *actor_id, const slice_t *keys, size_t n,
                            store_kv_cb cb, void *ud);
void store_memory_kv_delete_range(store_t *s, const char *actor_id, slice_t start, slice_t end,
                                  store_kv_cb cb, void *ud);
void store_memory_kv_drop(store_t *s, const char *actor_id, store_kv_cb cb, void *ud);
void store_memory_kv_free(store_memory_t *m);

void store_memory_hib_upsert(store_t *s, const store_hib_row_t *rows, size_t n, int64_t ttl_ms,
                             store_done_cb cb, void *ud);
void store_memory_hib_list(store_t *s, const char *actor_id, int64_t min_ts, store_hib_list_cb cb,
                           void *ud);
void store_memory_hib_delete(store_t *s, const char *actor_id, const uint8_t gateway_id[4],
                             const uint8_t request_id[4], store_done_cb cb, void *ud);
size_t store_memory_hib_count(const store_memory_t *m);
void store_memory_hib_free(store_memory_t *m);

#endif
