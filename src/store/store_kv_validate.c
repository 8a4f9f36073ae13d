/* The KV limits of the protocol (§5.5), checked in one place for every store implementation. The
 * order of the checks follows the reference engine (count, then payload, then each key and value),
 * so a request that breaks several limits is refused for the same one. The messages name the
 * offending size and the limit, because they reach the actor's developer through
 * KvErrorResponse. */
#include "store/store.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int store_kv_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    if (c != 0)
        return c;
    return alen < blen ? -1 : alen > blen;
}

/* Writes the message and returns err, so a check can fail in one statement. */
static int store_kv_fail(int err, char *msg, size_t msglen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int store_kv_fail(int err, char *msg, size_t msglen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (msg && msglen)
        vsnprintf(msg, msglen, fmt, ap);
    va_end(ap);
    return err;
}

static int store_kv_check_key(const store_kv_limits_t *lim, const char *what, slice_t key,
                              char *msg, size_t msglen)
{
    if (key.len && !key.p)
        return store_kv_fail(STORE_EINVAL, msg, msglen, "%s has no data", what);
    if (key.len > lim->max_key)
        return store_kv_fail(STORE_ELIMIT, msg, msglen, "%s too large: %zu bytes (max %zu)", what,
                             key.len, lim->max_key);
    return STORE_OK;
}

static int store_kv_check_count(const store_kv_limits_t *lim, const void *arr, size_t n, char *msg,
                                size_t msglen)
{
    if (n && !arr)
        return store_kv_fail(STORE_EINVAL, msg, msglen, "keys missing");
    if (n > lim->max_keys)
        return store_kv_fail(STORE_ELIMIT, msg, msglen, "too many keys: %zu (max %zu)", n,
                             lim->max_keys);
    return STORE_OK;
}

int store_kv_validate_keys(const store_kv_limits_t *lim, const slice_t *keys, size_t n, char *msg,
                           size_t msglen)
{
    int err = store_kv_check_count(lim, keys, n, msg, msglen);
    for (size_t i = 0; err == STORE_OK && i < n; i++)
        err = store_kv_check_key(lim, "key", keys[i], msg, msglen);
    return err;
}

uint64_t store_kv_payload(const slice_t *keys, const slice_t *values, size_t n)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (uint64_t)keys[i].len + values[i].len;
    return sum;
}

int store_kv_validate_put(const store_kv_limits_t *lim, const slice_t *keys, size_t n_keys,
                          const slice_t *values, size_t n_values, char *msg, size_t msglen)
{
    if (n_keys != n_values)
        return store_kv_fail(STORE_EINVAL, msg, msglen,
                             "keys and values differ in length: %zu keys, %zu values", n_keys,
                             n_values);
    int err = store_kv_check_count(lim, keys, n_keys, msg, msglen);
    if (err == STORE_OK && n_values && !values)
        err = store_kv_fail(STORE_EINVAL, msg, msglen, "values missing");
    if (err != STORE_OK)
        return err;
    for (size_t i = 0; i < n_values; i++)
        if (values[i].len && !values[i].p)
            return store_kv_fail(STORE_EINVAL, msg, msglen, "value has no data");
    uint64_t payload = store_kv_payload(keys, values, n_keys);
    if (payload > lim->max_put_payload)
        return store_kv_fail(STORE_ELIMIT, msg, msglen,
                             "put payload too large: %" PRIu64 " bytes (max %zu)", payload,
                             lim->max_put_payload);
    for (size_t i = 0; err == STORE_OK && i < n_keys; i++)
        err = store_kv_check_key(lim, "key", keys[i], msg, msglen);
    for (size_t i = 0; err == STORE_OK && i < n_values; i++)
        if (values[i].len > lim->max_value)
            err = store_kv_fail(STORE_ELIMIT, msg, msglen, "value too large: %zu bytes (max %zu)",
                                values[i].len, lim->max_value);
    return err;
}

int store_kv_validate_range(const store_kv_limits_t *lim, slice_t start, slice_t end, char *msg,
                            size_t msglen)
{
    int err = store_kv_check_key(lim, "start key", start, msg, msglen);
    if (err == STORE_OK)
        err = store_kv_check_key(lim, "end key", end, msg, msglen);
    return err;
}

int store_kv_validate_query(const store_kv_limits_t *lim, const store_kv_query_t *q, char *msg,
                            size_t msglen)
{
    if (!q)
        return store_kv_fail(STORE_EINVAL, msg, msglen, "list query missing");
    switch (q->kind) {
    case STORE_KV_ALL: return STORE_OK;
    case STORE_KV_RANGE: return store_kv_validate_range(lim, q->start, q->end, msg, msglen);
    case STORE_KV_PREFIX: return store_kv_check_key(lim, "prefix key", q->prefix, msg, msglen);
    }
    return store_kv_fail(STORE_EINVAL, msg, msglen, "unknown list query kind %d", (int)q->kind);
}

int store_kv_validate_quota(const store_kv_limits_t *lim, uint64_t used, uint64_t payload,
                            char *msg, size_t msglen)
{
    uint64_t remaining = used < lim->max_storage ? lim->max_storage - used : 0;
    if (payload > remaining)
        return store_kv_fail(STORE_ELIMIT, msg, msglen,
                             "storage quota exceeded: put of %" PRIu64 " bytes, %" PRIu64
                             " bytes remaining "
                             "(max %" PRIu64 ")",
                             payload, remaining, lim->max_storage);
    return STORE_OK;
}
