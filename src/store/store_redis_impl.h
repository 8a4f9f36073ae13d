/* The internals shared by the files of the Redis store: its state, the operation machinery and the
 * command builder. store_redis.c owns the connection and runs operations; the records, KV and
 * hibernating rows each have a file that turns store.h calls into operations.
 *
 * An operation is a small state machine. Its step function sends the commands of one step (all of
 * them before returning, so they leave in one write) and the reply function sees each reply of
 * that step in order; when the last reply is in, step runs again and either sends the next step or
 * completes. Most operations are one step. An operation whose later steps depend on earlier
 * replies (a find reads an index, then the record) sets barrier: operations submitted after it
 * wait in the store's queue until it sends its last step, so every operation still takes effect in
 * submission order. */
#ifndef SETT_STORE_REDIS_IMPL_H
#define SETT_STORE_REDIS_IMPL_H

#include "store/store_impl.h"
#include "store/store_redis.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

typedef struct store_redis store_redis_t;
typedef struct rds_op rds_op_t;

/* What step and reply functions return: RDS_DONE once they have completed and freed the op. */
enum { RDS_MORE = 0, RDS_DONE = 1 };

struct rds_op {
    rds_op_t *next; /* in the store's queue of operations not yet sent */
    store_redis_t *r;
    store_cb_kind_t kind;
    store_cb_t cb;
    void *ud;
    int (*step)(rds_op_t *op);
    int (*reply)(rds_op_t *op, const redisReply *rep); /* never sees NULL or error replies */
    void (*destroy)(rds_op_t *op);                     /* frees what the op owns; may be NULL */
    unsigned pending;   /* replies of the current step still to come */
    unsigned idx;       /* index of the reply being handled within the step */
    int stage;          /* the op's own state; 0 when it is first sent */
    bool barrier;       /* later operations wait until this one clears it */
    int err;            /* set when a reply failed the step */
    bool lost;          /* the failure was the connection: complete from the defer queue */
    const char *reason; /* the metrics label of a failure, when not the usual one */
    char msg[STORE_MSG_MAX];
};

/* The scripts the store loads on every connection and runs with EVALSHA. */
typedef enum rds_script {
    RDS_SC_REC_PUT,     /* replace a record hash; returns its old namespace */
    RDS_SC_REC_CREATE,  /* write a record hash unless it exists; returns the existing one */
    RDS_SC_REC_DEL,     /* delete a record hash; returns its old namespace */
    RDS_SC_IDX_SET,     /* point a key index entry at an id and list the id */
    RDS_SC_IDX_DEL,     /* remove an id from a namespace's indexes */
    RDS_SC_CLAIM,       /* take a key index entry if free, or stale as the caller saw it */
    RDS_SC_UNCLAIM,     /* release a key index entry if it still points at the id */
    RDS_SC_KV_PUT,      /* check the quota, write key/value pairs */
    RDS_SC_KV_LIST,     /* a lex range of keys with their values */
    RDS_SC_KV_DEL,      /* delete keys, give their bytes back */
    RDS_SC_KV_DELRANGE, /* delete a lex range of keys, give their bytes back */
    RDS_SC_COUNT
} rds_script_t;

const char *rds_script_text(rds_script_t sc);
/* The SHA1 of the script as 40 lower-case hex digits, computed once. */
const char *rds_script_sha(rds_script_t sc);

typedef enum rds_state {
    RDS_DOWN,       /* no connection; waiting for the backoff timer */
    RDS_CONNECTING, /* connect in progress; commands are buffered by hiredis */
    RDS_UP,
} rds_state_t;

struct store_redis {
    store_t base;
    /* Configuration. */
    char *host;
    int port;
    int db;
    char *user;     /* NULL: AUTH with the password alone */
    char *password; /* NULL: no AUTH */
    char *prefix;
    store_redis_opts_t opts;
    /* The connection. */
    redisAsyncContext *ac; /* NULL while down; hiredis frees it, we only drop the pointer */
    rds_state_t state;
    bool dying; /* hiredis is failing the pending replies of ac */
    bool ready; /* the setup commands of this connection all succeeded */
    unsigned setup_pending;
    uint64_t backoff_ms;
    uv_timer_t conn_timer; /* the connect timeout, then the reconnect backoff */
    uv_timer_t cmd_timer;  /* the deadline of the oldest command awaiting a reply */
    uint64_t *sent;        /* ring of the loop times at which in-flight commands were sent */
    size_t ring_head, ring_n, ring_cap;
    char why[160]; /* why the last connection failed, for refusals */
    /* Operations. */
    rds_op_t *qhead, *qtail; /* submitted, not yet sent */
    rds_op_t *barrier;       /* the op that holds the queue, if any */
    bool pumping;
    /* Close. */
    bool closing, teardown;
    int handles_open; /* timers and adapter poll handles not yet closed */
    store_op_t teardown_op;
    store_redis_stats_t stats;
};

/* ---- Operations. ---- */

/* A zeroed op of size bytes (a struct that starts with rds_op_t) for the given callback. */
rds_op_t *rds_op_new(store_redis_t *r, size_t size, store_cb_kind_t kind, store_cb_t cb, void *ud,
                     int (*step)(rds_op_t *), int (*reply)(rds_op_t *, const redisReply *));
/* Sends op now or after the ops before it, or refuses it (from the defer queue) while Redis is
 * down. */
void rds_submit(store_redis_t *r, rds_op_t *op);
/* Completion: each calls the user's callback, frees op and returns RDS_DONE. */
int rds_done(rds_op_t *op, int err);
int rds_fail(rds_op_t *op, int err, const char *msg);
/* Clears op's barrier before its callback runs, so that operations the callback submits go after
 * the ones that waited; called by the completions above, and by ops that complete themselves. */
void rds_op_finishing(rds_op_t *op);
void rds_op_free(rds_op_t *op);
/* Lets the ops waiting behind op go, once op has sent its last step. */
void rds_release(rds_op_t *op);

/* ---- Commands. ---- */

/* An argument vector under construction. Arguments are either borrowed (they must live until
 * rds_send) or copied into the builder's own buffer. */
typedef struct rds_args {
    size_t n, cap;
    const char **ptr; /* borrowed pointer, or NULL for a copied argument */
    size_t *off;      /* offset into buf of a copied argument */
    size_t *len;
    char *buf;
    size_t buf_len, buf_cap;
} rds_args_t;

void rds_args_init(rds_args_t *a);
void rds_args_free(rds_args_t *a);
void rds_arg(rds_args_t *a, const void *p, size_t len);
void rds_arg_str(rds_args_t *a, const char *s);
void rds_arg_copy(rds_args_t *a, const void *p, size_t len);
void rds_arg_i64(rds_args_t *a, int64_t v);
/* Appends the key prefix{tag:id}suffix, or prefix{tag}suffix when id is NULL. */
void rds_arg_key(rds_args_t *a, const store_redis_t *r, const char *tag, const char *id,
                 const char *suffix);
/* Starts EVALSHA sc numkeys; the keys and arguments follow. */
void rds_arg_eval(rds_args_t *a, rds_script_t sc, int numkeys);
/* Sends the command as one step command of op and frees a. */
void rds_send(rds_op_t *op, rds_args_t *a);
/* Sends a command no operation waits for (index cleanup); an error reply is logged. Frees a. */
void rds_send_bg(store_redis_t *r, rds_args_t *a);

/* ---- Replies. ---- */

/* An integer reply, or a string reply holding a decimal integer; false for anything else. */
bool rds_reply_i64(const redisReply *rep, int64_t *out);
/* A decimal integer of len bytes (not NUL-terminated); 0 when malformed. */
int64_t rds_parse_i64(const char *s, size_t len);
/* The parsers of stored records, each of one reply as Redis sent it (a fuzz target feeds them
 * arbitrary replies). Strings in the results borrow the reply's. */
/* An HGETALL of an actor or runner hash; false for an empty or incomplete record. */
bool rds_actor_parse(const redisReply *rep, store_actor_t *out);
bool rds_runner_parse(const redisReply *rep, store_runner_t *out);
/* One namespace entry, "<create_ts>:<namespace id>", stored under name. */
bool rds_ns_parse(const char *name, const redisReply *v, store_ns_t *out);
/* A KV list script's [key, stored value, ...] reply; malformed pairs are skipped. The array is
 * the caller's to free. */
store_kv_entry_t *rds_kv_list_parse(const redisReply *rep, size_t *count);
/* A ZRANGEBYSCORE WITHSCORES of hibernating rows; malformed pairs are skipped. The array is the
 * caller's to free. */
store_hib_row_t *rds_hib_list_parse(const redisReply *rep, const char *actor_id, size_t *count);

/* ---- The vtable entries of the other files. ---- */

void store_redis_ns_put(store_t *s, const store_ns_t *ns, store_done_cb cb, void *ud);
void store_redis_ns_get(store_t *s, const char *name, store_ns_cb cb, void *ud);
void store_redis_ns_list(store_t *s, store_ns_list_cb cb, void *ud);
void store_redis_actor_put(store_t *s, const store_actor_t *a, store_done_cb cb, void *ud);
void store_redis_actor_create(store_t *s, const store_actor_t *a, store_actor_cb cb, void *ud);
void store_redis_actor_get(store_t *s, const char *actor_id, store_actor_cb cb, void *ud);
void store_redis_actor_find(store_t *s, const char *namespace_id, const char *name, const char *key,
                            store_actor_cb cb, void *ud);
void store_redis_actor_list(store_t *s, const store_actor_filter_t *f, store_actor_list_cb cb,
                            void *ud);
void store_redis_actor_delete(store_t *s, const char *actor_id, store_done_cb cb, void *ud);
void store_redis_runner_put(store_t *s, const store_runner_t *r, store_done_cb cb, void *ud);
void store_redis_runner_get(store_t *s, const char *runner_id, store_runner_cb cb, void *ud);
void store_redis_runner_find(store_t *s, const char *namespace_id, const char *name,
                             const char *runner_key, store_runner_cb cb, void *ud);
void store_redis_runner_list(store_t *s, const char *namespace_id, const char *name,
                             store_runner_list_cb cb, void *ud);
void store_redis_runner_delete(store_t *s, const char *runner_id, store_done_cb cb, void *ud);

void store_redis_kv_get(store_t *s, const char *actor_id, const slice_t *keys, size_t n,
                        store_kv_cb cb, void *ud);
void store_redis_kv_list(store_t *s, const char *actor_id, const store_kv_query_t *q,
                         store_kv_cb cb, void *ud);
void store_redis_kv_put(store_t *s, const char *actor_id, const slice_t *keys,
                        const slice_t *values, size_t n, store_kv_cb cb, void *ud);
void store_redis_kv_delete(store_t *s, const char *actor_id, const slice_t *keys, size_t n,
                           store_kv_cb cb, void *ud);
void store_redis_kv_delete_range(store_t *s, const char *actor_id, slice_t start, slice_t end,
                                 store_kv_cb cb, void *ud);
void store_redis_kv_drop(store_t *s, const char *actor_id, store_kv_cb cb, void *ud);

void store_redis_hib_upsert(store_t *s, const store_hib_row_t *rows, size_t n, int64_t ttl_ms,
                            store_done_cb cb, void *ud);
void store_redis_hib_list(store_t *s, const char *actor_id, int64_t min_ts, store_hib_list_cb cb,
                          void *ud);
void store_redis_hib_delete(store_t *s, const char *actor_id, const uint8_t gateway_id[4],
                            const uint8_t request_id[4], store_done_cb cb, void *ud);

#endif
