/* The per-request values a policy's timeouts hook may set (docs/policy.md): one field per key of
 * CFG_TIMEOUTS, generated from sett.config's TIMEOUT_BOUND_KEYS, in its order. The gateway
 * keeps one per request and socket, so this header needs nothing else of the Lua host. */
#ifndef SETT_LUA_TIMEOUTS_H
#define SETT_LUA_TIMEOUTS_H

#include <stdint.h>

#include "lua/config_keys.h"

typedef struct lh_timeouts {
#define LH_TIMEOUT_FIELD(key, member) uint64_t key;
    CFG_TIMEOUTS(LH_TIMEOUT_FIELD)
#undef LH_TIMEOUT_FIELD
} lh_timeouts_t;

#endif
