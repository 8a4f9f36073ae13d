/* The Lua scripts of the Redis store. Each runs atomically on the keys of one hash tag, which is
 * what keeps it Redis Cluster safe: a record and its KV share {a:<id>}, a namespace's indexes share
 * {n:<namespace id>}. They are loaded with SCRIPT LOAD on every connection and run with EVALSHA,
 * so a KV put sends its data, not the script.
 *
 * Numbers the scripts store are formatted with %.0f: Redis converts a Lua number argument with its
 * shortest float form, which may use an exponent that HINCRBY and friends reject. */
#include "store/store_redis_impl.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

/* Replaces a record hash with the fields in ARGV; returns the namespace it had, or nil. */
static const char rds_sc_rec_put[] =
    "local old = redis.call('HGET', KEYS[1], 'ns')\n"
    "redis.call('DEL', KEYS[1])\n"
    "redis.call('HSET', KEYS[1], unpack(ARGV))\n"
    "return old\n";

/* Writes a record hash unless one exists; returns the existing record, or nil when it wrote. */
static const char rds_sc_rec_create[] =
    "if redis.call('EXISTS', KEYS[1]) == 1 then\n"
    "  return redis.call('HGETALL', KEYS[1])\n"
    "end\n"
    "redis.call('HSET', KEYS[1], unpack(ARGV))\n"
    "return false\n";

/* Deletes a record hash; returns the namespace it had, or nil. */
static const char rds_sc_rec_del[] =
    "local old = redis.call('HGET', KEYS[1], 'ns')\n"
    "redis.call('DEL', KEYS[1])\n"
    "return old\n";

/* KEYS: the key index (field -> id), its reverse (id -> field), the namespace's id list, and for
 * actors the claims in progress (field -> ms). ARGV: id, field ('' when the record holds no key),
 * and 'c' for a create, which only takes the field if id holds it or nobody does (returning 0
 * otherwise). The index entry now points at id (a put takes it from whoever held it: the put last
 * wins); the entry id held before is released if it still points at id; a claim on the field is
 * complete. */
static const char rds_sc_idx_set[] =
    "local id, f = ARGV[1], ARGV[2]\n"
    "if ARGV[3] == 'c' and f ~= '' then\n"
    "  local h = redis.call('HGET', KEYS[1], f)\n"
    "  if h and h ~= id then return 0 end\n"
    "end\n"
    "local old = redis.call('HGET', KEYS[2], id)\n"
    "if old and old ~= f and redis.call('HGET', KEYS[1], old) == id then\n"
    "  redis.call('HDEL', KEYS[1], old)\n"
    "end\n"
    "if f ~= '' then\n"
    "  redis.call('HSET', KEYS[1], f, id)\n"
    "  redis.call('HSET', KEYS[2], id, f)\n"
    "  if KEYS[4] then redis.call('HDEL', KEYS[4], f) end\n"
    "elseif old then\n"
    "  redis.call('HDEL', KEYS[2], id)\n"
    "end\n"
    "redis.call('ZADD', KEYS[3], 0, id)\n"
    "return 1\n";

/* KEYS as for idx_set; ARGV: id. Removes id from the namespace's indexes. */
static const char rds_sc_idx_del[] =
    "local id = ARGV[1]\n"
    "local old = redis.call('HGET', KEYS[2], id)\n"
    "if old then\n"
    "  if redis.call('HGET', KEYS[1], old) == id then\n"
    "    redis.call('HDEL', KEYS[1], old)\n"
    "    if KEYS[4] then redis.call('HDEL', KEYS[4], old) end\n"
    "  end\n"
    "  redis.call('HDEL', KEYS[2], id)\n"
    "end\n"
    "redis.call('ZREM', KEYS[3], id)\n"
    "return 1\n";

/* KEYS: the key index and the claims in progress. ARGV: field, id, then the holder and claim
 * stamp a previous call returned ('' and '' on the first call), the claim lease in ms.
 * Returns 0 when id now holds the field, 1 when it already did, and {holder, stamp} when someone
 * else holds it (stamp '' once the holder's record is written: idx_set clears it). A second call
 * takes the field over only if holder and stamp are still those the caller saw and checked (its
 * record gone, or no longer holding the key), and a stamped claim only once it is older than the
 * lease, since its record may still be on the way; it returns 2 for a younger one. A claim is
 * stamped with the Redis clock. */
static const char rds_sc_claim[] =
    "local h = redis.call('HGET', KEYS[1], ARGV[1])\n"
    "if h == ARGV[2] then return 1 end\n"
    "local stamp = redis.call('HGET', KEYS[2], ARGV[1]) or ''\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "if h then\n"
    "  if h ~= ARGV[3] or stamp ~= ARGV[4] then return {h, stamp} end\n"
    "  if stamp ~= '' and now - tonumber(stamp) < tonumber(ARGV[5]) then return 2 end\n"
    "end\n"
    "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])\n"
    "redis.call('HSET', KEYS[2], ARGV[1], string.format('%.0f', now))\n"
    "return 0\n";

/* KEYS: the key index and the claims in progress. ARGV: field, id. Releases the field if id still
 * holds it. */
static const char rds_sc_unclaim[] =
    "if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then\n"
    "  redis.call('HDEL', KEYS[1], ARGV[1])\n"
    "  redis.call('HDEL', KEYS[2], ARGV[1])\n"
    "end\n"
    "return 0\n";

/* KEYS: the actor's key set (zset), values (hash key -> version(8) ts(8) value) and usage (hash:
 * b = bytes held, v = last version). ARGV: the quota, the update ts as 8 bytes, the payload,
 * then key, value pairs. Refuses the whole put with {0, used} when the payload exceeds what the
 * quota leaves, as the reference engine does even for overwrites; else writes every pair in order
 * and returns {1, used}. The version is the Redis clock in microseconds, bumped past the last
 * one, so it changes on every put of a key even across deletes and nodes. */
static const char rds_sc_kv_put[] =
    "local used = tonumber(redis.call('HGET', KEYS[3], 'b') or '0')\n"
    "local remaining = tonumber(ARGV[1]) - used\n"
    "if remaining < 0 then remaining = 0 end\n"
    "if tonumber(ARGV[3]) > remaining then return {0, string.format('%.0f', used)} end\n"
    "if #ARGV < 4 then return {1, string.format('%.0f', used)} end\n"
    "local t = redis.call('TIME')\n"
    "local v = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
    "local last = tonumber(redis.call('HGET', KEYS[3], 'v') or '0')\n"
    "if last >= v then v = last + 1 end\n"
    "local b, x = {}, v\n"
    "for i = 8, 1, -1 do b[i] = x % 256; x = math.floor(x / 256) end\n"
    "local meta = string.char(unpack(b)) .. ARGV[2]\n"
    "for i = 4, #ARGV, 2 do\n"
    "  local k, val = ARGV[i], ARGV[i + 1]\n"
    "  local old = redis.call('HGET', KEYS[2], k)\n"
    "  if old then used = used - #k - (#old - 16) else redis.call('ZADD', KEYS[1], 0, k) end\n"
    "  redis.call('HSET', KEYS[2], k, meta .. val)\n"
    "  used = used + #k + #val\n"
    "end\n"
    "redis.call('HSET', KEYS[3], 'b', string.format('%.0f', used), 'v', string.format('%.0f', v))\n"
    "return {1, string.format('%.0f', used)}\n";

/* KEYS: key set, values. ARGV: 'f' or 'r' (reverse), the two ZRANGEBYLEX bounds in the order the
 * command takes them, the limit (-1: none). Returns key, value, key, value, ... The values are
 * fetched in chunks because Lua's unpack has a small stack. */
static const char rds_sc_kv_list[] =
    "local cmd = ARGV[1] == 'r' and 'ZREVRANGEBYLEX' or 'ZRANGEBYLEX'\n"
    "local keys = redis.call(cmd, KEYS[1], ARGV[2], ARGV[3], 'LIMIT', 0, ARGV[4])\n"
    "local out, n = {}, #keys\n"
    "for i = 1, n, 256 do\n"
    "  local vals = redis.call('HMGET', KEYS[2], unpack(keys, i, math.min(i + 255, n)))\n"
    "  for x = 1, #vals do\n"
    "    out[#out + 1] = keys[i + x - 1]\n"
    "    out[#out + 1] = vals[x]\n"
    "  end\n"
    "end\n"
    "return out\n";

/* The usage update both deletes end with: `gone` keys were removed, freeing `freed` bytes; the
 * usage hash goes when the actor has no key left. */
#define RDS_SC_KV_USAGE                                                          \
    "if gone > 0 then\n"                                                         \
    "  local used = tonumber(redis.call('HGET', KEYS[3], 'b') or '0') - freed\n" \
    "  if redis.call('EXISTS', KEYS[1]) == 0 then\n"                             \
    "    redis.call('DEL', KEYS[3])\n"                                           \
    "  else\n"                                                                   \
    "    redis.call('HSET', KEYS[3], 'b', string.format('%.0f', used))\n"        \
    "  end\n"                                                                    \
    "end\n"                                                                      \
    "return gone\n"

/* KEYS: key set, values, usage. ARGV: the keys to delete. */
static const char rds_sc_kv_del[] =
    "local freed, gone = 0, 0\n"
    "for i = 1, #ARGV do\n"
    "  local old = redis.call('HGET', KEYS[2], ARGV[i])\n"
    "  if old then\n"
    "    freed = freed + #ARGV[i] + #old - 16\n"
    "    gone = gone + 1\n"
    "    redis.call('HDEL', KEYS[2], ARGV[i])\n"
    "    redis.call('ZREM', KEYS[1], ARGV[i])\n"
    "  end\n"
    "end\n" RDS_SC_KV_USAGE;

/* KEYS: key set, values, usage. ARGV: the ZRANGEBYLEX bounds of [start, end). */
static const char rds_sc_kv_delrange[] =
    "local keys = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[1], ARGV[2])\n"
    "local freed, gone = 0, #keys\n"
    "for i = 1, #keys do\n"
    "  local old = redis.call('HGET', KEYS[2], keys[i])\n"
    "  if old then\n"
    "    freed = freed + #keys[i] + #old - 16\n"
    "    redis.call('HDEL', KEYS[2], keys[i])\n"
    "  end\n"
    "end\n"
    "if gone > 0 then redis.call('ZREMRANGEBYLEX', KEYS[1], ARGV[1], ARGV[2]) end\n" RDS_SC_KV_USAGE;

static const char *const rds_scripts[RDS_SC_COUNT] = {
    [RDS_SC_REC_PUT] = rds_sc_rec_put,         [RDS_SC_REC_CREATE] = rds_sc_rec_create,
    [RDS_SC_REC_DEL] = rds_sc_rec_del,         [RDS_SC_IDX_SET] = rds_sc_idx_set,
    [RDS_SC_IDX_DEL] = rds_sc_idx_del,         [RDS_SC_CLAIM] = rds_sc_claim,
    [RDS_SC_UNCLAIM] = rds_sc_unclaim,         [RDS_SC_KV_PUT] = rds_sc_kv_put,
    [RDS_SC_KV_LIST] = rds_sc_kv_list,         [RDS_SC_KV_DEL] = rds_sc_kv_del,
    [RDS_SC_KV_DELRANGE] = rds_sc_kv_delrange,
};

const char *rds_script_text(rds_script_t sc)
{
    return rds_scripts[sc];
}

const char *rds_script_sha(rds_script_t sc)
{
    static char shas[RDS_SC_COUNT][41];
    static bool done;
    if (!done) {
        for (int i = 0; i < RDS_SC_COUNT; i++) {
            unsigned char md[EVP_MAX_MD_SIZE];
            unsigned int mdlen = 0;
            EVP_Digest(rds_scripts[i], strlen(rds_scripts[i]), md, &mdlen, EVP_sha1(), NULL);
            for (unsigned j = 0; j < mdlen && j < 20; j++)
                snprintf(&shas[i][2 * j], 3, "%02x", md[j]);
        }
        done = true;
    }
    return shas[sc];
}
