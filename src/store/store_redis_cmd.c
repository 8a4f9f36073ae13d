/* The Redis store's command builder and reply helpers. Commands are built as argument vectors and
 * handed to hiredis with redisAsyncCommandArgv, so keys and values are binary safe: KV keys may
 * hold any byte, NUL included. Arguments are borrowed when the caller's bytes outlive the send and
 * copied into the builder's one buffer otherwise (numbers, composed keys), so a command costs a
 * few allocations whatever its size. */
#include "store/store_redis_impl.h"

#include "core/alloc.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Command arguments. ---- */

void rds_args_init(rds_args_t *a)
{
    memset(a, 0, sizeof *a);
}

void rds_args_free(rds_args_t *a)
{
    free(a->ptr);
    free(a->off);
    free(a->len);
    free(a->buf);
    memset(a, 0, sizeof *a);
}

static void rds_args_grow(rds_args_t *a)
{
    if (a->n < a->cap)
        return;
    a->cap = a->cap ? a->cap * 2 : 16;
    a->ptr = sx_realloc(a->ptr, a->cap * sizeof *a->ptr);
    a->off = sx_realloc(a->off, a->cap * sizeof *a->off);
    a->len = sx_realloc(a->len, a->cap * sizeof *a->len);
}

void rds_arg(rds_args_t *a, const void *p, size_t len)
{
    rds_args_grow(a);
    a->ptr[a->n] = len ? p : "";
    a->off[a->n] = 0;
    a->len[a->n] = len;
    a->n++;
}

void rds_arg_str(rds_args_t *a, const char *s)
{
    rds_arg(a, s, strlen(s));
}

/* Reserves len bytes of the builder's buffer for a new copied argument and returns them. */
static char *rds_arg_reserve(rds_args_t *a, size_t len)
{
    rds_args_grow(a);
    if (a->buf_len + len > a->buf_cap) {
        size_t cap = a->buf_cap ? a->buf_cap * 2 : 256;
        while (cap < a->buf_len + len)
            cap *= 2;
        a->buf = sx_realloc(a->buf, cap);
        a->buf_cap = cap;
    }
    a->ptr[a->n] = NULL;
    a->off[a->n] = a->buf_len;
    a->len[a->n] = len;
    a->n++;
    char *p = a->buf + a->buf_len;
    a->buf_len += len;
    return p;
}

void rds_arg_copy(rds_args_t *a, const void *p, size_t len)
{
    char *dst = rds_arg_reserve(a, len);
    if (len)
        memcpy(dst, p, len);
}

void rds_arg_i64(rds_args_t *a, int64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%" PRId64, v);
    rds_arg_copy(a, tmp, (size_t)n);
}

void rds_arg_key(rds_args_t *a, const store_redis_t *r, const char *tag, const char *id,
                 const char *suffix)
{
    size_t plen = strlen(r->prefix), tlen = strlen(tag), ilen = id ? strlen(id) + 1 : 0;
    size_t slen = suffix ? strlen(suffix) : 0;
    char *p = rds_arg_reserve(a, plen + 1 + tlen + ilen + 1 + slen);
    memcpy(p, r->prefix, plen);
    p += plen;
    *p++ = '{';
    memcpy(p, tag, tlen);
    p += tlen;
    if (id) {
        *p++ = ':';
        memcpy(p, id, ilen - 1);
        p += ilen - 1;
    }
    *p++ = '}';
    if (slen)
        memcpy(p, suffix, slen);
}

void rds_arg_eval(rds_args_t *a, rds_script_t sc, int numkeys)
{
    rds_arg_str(a, "EVALSHA");
    rds_arg(a, rds_script_sha(sc), 40);
    rds_arg_i64(a, numkeys);
}

/* ---- Replies. ---- */

int64_t rds_parse_i64(const char *s, size_t len)
{
    char tmp[32];
    if (!s || len == 0 || len >= sizeof tmp)
        return 0;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    return strtoll(tmp, NULL, 10);
}

bool rds_reply_i64(const redisReply *rep, int64_t *out)
{
    if (rep->type == REDIS_REPLY_INTEGER) {
        *out = rep->integer;
        return true;
    }
    if (rep->type == REDIS_REPLY_STRING) {
        *out = rds_parse_i64(rep->str, rep->len);
        return true;
    }
    return false;
}
