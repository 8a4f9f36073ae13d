/* Fuzzes the Redis store's reply parsers with replies Redis never sent: the input is RESP bytes
 * (a corrupted or hostile server, or keys someone else wrote), split into replies by hiredis's
 * own reader, and every reply, and every element of an array reply, goes through each parser.
 * A parser must not read outside the reply, must return only strings that live in it, and what
 * it accepts must copy and free cleanly. */
#include <hiredis/hiredis.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_redis_impl.h"

static int inside(const redisReply *rep, const void *p, size_t len)
{
    if (!p)
        return 1;
    if (rep->type == REDIS_REPLY_STRING || rep->type == REDIS_REPLY_STATUS ||
        rep->type == REDIS_REPLY_ERROR) {
        const char *s = rep->str;
        if ((const char *)p >= s && (const char *)p + len <= s + rep->len + 1)
            return 1;
    }
    for (size_t i = 0; rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i++)
        if (inside(rep->element[i], p, len))
            return 1;
    return 0;
}

static void check_str(const redisReply *rep, const char *s)
{
    if (s && !inside(rep, s, strlen(s) + 1))
        abort();
}

static void parse_all(const redisReply *rep, int depth)
{
    store_actor_t a;
    if (rds_actor_parse(rep, &a)) {
        check_str(rep, a.actor_id);
        check_str(rep, a.namespace_id);
        check_str(rep, a.name);
        check_str(rep, a.key);
        check_str(rep, a.runner_name_selector);
        check_str(rep, a.runner_id);
        if (a.has_input && !inside(rep, a.input, a.input_len))
            abort();
        store_actor_t c;
        store_actor_copy(&c, &a);
        store_actor_clear(&c);
    }
    store_runner_t r;
    if (rds_runner_parse(rep, &r)) {
        check_str(rep, r.runner_id);
        check_str(rep, r.namespace_id);
        check_str(rep, r.name);
        check_str(rep, r.runner_key);
        check_str(rep, r.metadata);
        store_runner_t c;
        store_runner_copy(&c, &r);
        store_runner_clear(&c);
    }
    store_ns_t ns;
    if (rds_ns_parse("n", rep, &ns)) {
        check_str(rep, ns.namespace_id);
        store_ns_t c;
        store_ns_copy(&c, &ns);
        store_ns_clear(&c);
    }
    int64_t v;
    rds_reply_i64(rep, &v);
    size_t n;
    store_kv_entry_t *e = rds_kv_list_parse(rep, &n);
    for (size_t i = 0; i < n; i++)
        if (!inside(rep, e[i].key.p, e[i].key.len) ||
            !inside(rep, e[i].value.p, e[i].value.len) ||
            !inside(rep, e[i].meta.version, e[i].meta.version_len))
            abort();
    free(e);
    store_hib_row_t *rows = rds_hib_list_parse(rep, "actor", &n);
    if (rep->type == REDIS_REPLY_ARRAY && n > rep->elements / 2)
        abort();
    free(rows);
    for (size_t i = 0; depth < 4 && rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i++)
        parse_all(rep->element[i], depth + 1);
}

/* hiredis 0.14 allocates a multi-bulk reply's element array as soon as it reads the count (it
 * has no maxelements yet), so ten bytes such as "*600000000\r\n" ask it for gigabytes. That is
 * hiredis trusting the Redis server, not a parser of sett's; inputs with counts that no reply
 * here comes near are skipped. hiredis's count reader takes a sign first, so "*+400000000"
 * is such a count too. */
static int huge_count(const uint8_t *data, size_t size)
{
    for (size_t i = 0; i < size; i++) {
        if (data[i] != '*')
            continue;
        size_t j = i + 1;
        if (j < size && (data[j] == '+' || data[j] == '-'))
            j++;
        uint64_t n = 0;
        for (; j < size && data[j] >= '0' && data[j] <= '9' && n <= 65536; j++)
            n = n * 10 + (uint64_t)(data[j] - '0');
        if (n > 65536)
            return 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (huge_count(data, size))
        return 0;
    redisReader *rd = redisReaderCreate();
    if (redisReaderFeed(rd, (const char *)data, size) == REDIS_OK) {
        void *reply;
        for (int i = 0; i < 64 && redisReaderGetReply(rd, &reply) == REDIS_OK && reply; i++) {
            parse_all(reply, 0);
            freeReplyObject(reply);
        }
    }
    redisReaderFree(rd);
    return 0;
}
