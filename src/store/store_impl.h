/* What a store implementation sees: the base struct every implementation embeds first, the vtable
 * store.c dispatches to, and the deferred-completion queue (store_defer.c). Engine code includes
 * store.h only.
 *
 * store.c checks the arguments and the KV limits and refuses operations once the store is closing,
 * so a vtable function is only called with a well-formed request on an open store. */
#ifndef SETT_STORE_IMPL_H
#define SETT_STORE_IMPL_H

#include "store/store.h"

/* The callback of any operation, tagged by kind, so that generic code (deferred errors, close)
 * can complete an operation without knowing which one it is. */
typedef enum store_cb_kind {
    STORE_CB_DONE,
    STORE_CB_NS,
    STORE_CB_NS_LIST,
    STORE_CB_ACTOR,
    STORE_CB_ACTOR_LIST,
    STORE_CB_RUNNER,
    STORE_CB_RUNNER_LIST,
    STORE_CB_KV,
    STORE_CB_HIB_LIST,
} store_cb_kind_t;

typedef union store_cb {
    store_done_cb done;
    store_ns_cb ns;
    store_ns_list_cb ns_list;
    store_actor_cb actor;
    store_actor_list_cb actor_list;
    store_runner_cb runner;
    store_runner_list_cb runner_list;
    store_kv_cb kv;
    store_hib_list_cb hib_list;
} store_cb_t;

/* Wraps a typed callback for the generic paths: STORE_CB(kv, cb). */
#define STORE_CB(field, f) ((store_cb_t){ .field = (f) })

/* Completes an operation with an error and empty results. msg is used by KV callbacks; NULL means
 * store_strerror(err). */
void store_cb_fail(store_cb_kind_t kind, store_cb_t cb, void *ud, int err, const char *msg);

/* A queued completion. run invokes the operation's callback exactly once and frees the op. */
typedef struct store_op store_op_t;
struct store_op {
    store_op_t *next;
    void (*run)(store_t *s, store_op_t *op);
};

typedef struct store_vtable {
    const char *kind;
    void (*ns_put)(store_t *s, const store_ns_t *ns, store_done_cb cb, void *ud);
    void (*ns_get)(store_t *s, const char *name, store_ns_cb cb, void *ud);
    void (*ns_list)(store_t *s, store_ns_list_cb cb, void *ud);
    void (*actor_put)(store_t *s, const store_actor_t *a, store_done_cb cb, void *ud);
    void (*actor_create)(store_t *s, const store_actor_t *a, store_actor_cb cb, void *ud);
    void (*actor_get)(store_t *s, const char *actor_id, store_actor_cb cb, void *ud);
    void (*actor_find)(store_t *s, const char *namespace_id, const char *name, const char *key,
                       store_actor_cb cb, void *ud);
    void (*actor_list)(store_t *s, const store_actor_filter_t *f, store_actor_list_cb cb, void *ud);
    void (*actor_delete)(store_t *s, const char *actor_id, store_done_cb cb, void *ud);
    void (*runner_put)(store_t *s, const store_runner_t *r, store_done_cb cb, void *ud);
    void (*runner_get)(store_t *s, const char *runner_id, store_runner_cb cb, void *ud);
    void (*runner_find)(store_t *s, const char *namespace_id, const char *name,
                        const char *runner_key, store_runner_cb cb, void *ud);
    void (*runner_list)(store_t *s, const char *namespace_id, const char *name,
                        store_runner_list_cb cb, void *ud);
    void (*runner_delete)(store_t *s, const char *runner_id, store_done_cb cb, void *ud);
    void (*kv_get)(store_t *s, const char *actor_id, const slice_t *keys, size_t n, store_kv_cb cb,
                   void *ud);
    void (*kv_list)(store_t *s, const char *actor_id, const store_kv_query_t *q, store_kv_cb cb,
                    void *ud);
    /* n_keys == n_values here: store.c refuses anything else. */
    void (*kv_put)(store_t *s, const char *actor_id, const slice_t *keys, const slice_t *values,
                   size_t n, store_kv_cb cb, void *ud);
    void (*kv_delete)(store_t *s, const char *actor_id, const slice_t *keys, size_t n,
                      store_kv_cb cb, void *ud);
    /* Called only when start < end: store.c completes the no-op case itself. */
    void (*kv_delete_range)(store_t *s, const char *actor_id, slice_t start, slice_t end,
                            store_kv_cb cb, void *ud);
    void (*kv_drop)(store_t *s, const char *actor_id, store_kv_cb cb, void *ud);
    void (*hib_upsert)(store_t *s, const store_hib_row_t *rows, size_t n, int64_t ttl_ms,
                       store_done_cb cb, void *ud);
    void (*hib_list)(store_t *s, const char *actor_id, int64_t min_ts, store_hib_list_cb cb,
                     void *ud);
    void (*hib_delete)(store_t *s, const char *actor_id, const uint8_t gateway_id[4],
                       const uint8_t request_id[4], store_done_cb cb, void *ud);
    /* Starts finishing in-flight work; the implementation calls store_base_impl_closed once
     * nothing of its own is pending (at once if it has nothing). */
    void (*close)(store_t *s);
    /* Whether operations can currently reach the backend; NULL means always. */
    bool (*available)(const store_t *s);
    /* Frees the implementation, base included; called after the user's close callback. */
    void (*free)(store_t *s);
} store_vtable_t;

struct store {
    const store_vtable_t *vt;
    uv_loop_t *loop;
    store_kv_limits_t limits;
    store_clock_fn clock;
    void *clock_ud;
    /* Deferred completions, run in FIFO order from an idle handle on the next loop iteration. */
    uv_idle_t idle;
    store_op_t *head, *tail;
    bool closing, impl_closed, idle_closing, draining;
    store_close_cb close_cb;
    void *close_ud;
};

void store_base_init(store_t *s, const store_vtable_t *vt, uv_loop_t *loop);
/* Tells the base that the implementation has no work of its own left after store_close. */
void store_base_impl_closed(store_t *s);

/* Queues op to run on a later loop iteration. Ops queued while the queue runs wait for the next
 * iteration, so a callback that keeps submitting cannot starve the loop. */
void store_defer(store_t *s, store_op_t *op);
/* Queues a completion with an error. */
void store_defer_fail(store_t *s, store_cb_kind_t kind, store_cb_t cb, void *ud, int err,
                      const char *msg);

#endif
