#include "lua/config.h"
#include "core/alloc.h"

#include <lauxlib.h>
#include <lua.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

uint64_t cfg_load_budget_ns = (uint64_t)10000000000;

const char *const cfg_bound_keys[7] = { "ping_interval_ms", "ping_timeout_ms",
                                        "websocket_open_timeout_ms", "response_start_timeout_ms",
                                        "hibernation_threshold_ms", "max_pending_bytes",
                                        "ack_timeout_ms" };

/* Pushes the value at a dotted path below the table on top of the stack (nil if absent). */
static void cfg_push_path(lua_State *L, const char *path)
{
    char key[64];
    lua_pushvalue(L, -1);
    while (*path) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        snprintf(key, sizeof key, "%.*s", (int)n, path);
        if (!lua_istable(L, -1)) {
            lua_pop(L, 1);
            lua_pushnil(L);
            return;
        }
        lua_getfield(L, -1, key);
        lua_remove(L, -2);
        path += n + (dot ? 1 : 0);
    }
}

static const char *cfg_str(lua_State *L, const char *path, char *dst, size_t n)
{
    cfg_push_path(L, path);
    const char *s = lua_tostring(L, -1);
    if (dst && s)
        snprintf(dst, n, "%s", s);
    lua_pop(L, 1);
    return s;
}

static char *cfg_strdup(lua_State *L, const char *path)
{
    cfg_push_path(L, path);
    char *s = lua_isstring(L, -1) ? sx_strdup(lua_tostring(L, -1)) : NULL;
    lua_pop(L, 1);
    return s;
}

static double cfg_num(lua_State *L, const char *path)
{
    cfg_push_path(L, path);
    double v = lua_tonumber(L, -1);
    lua_pop(L, 1);
    return v;
}

static void cfg_addr(lua_State *L, const char *path, cfg_addr_t *a)
{
    char tmp[64] = "";
    cfg_str(L, path, tmp, sizeof tmp);
    char *colon = strrchr(tmp, ':');
    if (colon) {
        *colon = '\0';
        a->port = atoi(colon + 1);
    }
    snprintf(a->host, sizeof a->host, "%s", tmp);
}

int cfg_load(lh_t *h, const char *path, cfg_t *out, buf_t *errors)
{
    lua_State *L = h->L;
    int top = lua_gettop(L);
    memset(out, 0, sizeof *out);
    lua_getglobal(L, "require");
    lua_pushstring(L, "sett.config");
    if (lh_pcall(h, 1, 1, "require sett.config") != 0) {
        buf_printf(errors, "internal: %s\n", lua_tostring(L, -1));
        lua_settop(L, top);
        return -1;
    }
    lua_getfield(L, -1, "load");
    lua_pushstring(L, path);
    /* A configuration file is a program: one that never ends would hang a reload, and with it
     * the gateway, so loading it has a time budget like a policy hook. */
    if (lh_pcall_budget(h, 1, 2, cfg_load_budget_ns) != 0) {
        buf_printf(errors, "internal: %s\n", lua_tostring(L, -1));
        lua_settop(L, top);
        return -1;
    }
    if (lua_isnil(L, -2)) {
        size_t n = lua_objlen(L, -1);
        for (size_t i = 1; i <= n; i++) {
            lua_rawgeti(L, -1, (int)i);
            buf_printf(errors, "%s\n", lua_tostring(L, -1));
            lua_pop(L, 1);
        }
        lua_settop(L, top);
        return -1;
    }
    lua_pop(L, 1); /* the nil error slot; the configuration table is on top */

    cfg_addr(L, "listen", &out->listen);
    cfg_addr(L, "admin_listen", &out->admin_listen);
    char level[16] = "info", format[16] = "text";
    cfg_str(L, "log.level", level, sizeof level);
    cfg_str(L, "log.format", format, sizeof format);
    log_parse_level(level, &out->log_level);
    out->log_json = strcmp(format, "json") == 0;
    out->tls_cert = cfg_strdup(L, "tls.cert");
    out->tls_key = cfg_strdup(L, "tls.key");
    out->max_header_bytes = (size_t)cfg_num(L, "limits.max_header_bytes");
    out->max_body_bytes = (size_t)cfg_num(L, "limits.max_body_bytes");
    out->max_message_bytes = (size_t)cfg_num(L, "limits.max_message_bytes");
    out->idle_timeout_ms = (uint64_t)cfg_num(L, "limits.idle_timeout_ms");
    out->header_timeout_ms = (uint64_t)cfg_num(L, "limits.header_timeout_ms");
    out->body_timeout_ms = (uint64_t)cfg_num(L, "limits.body_timeout_ms");
    out->max_connections = (size_t)cfg_num(L, "limits.max_connections");
    out->max_connections_per_address = (size_t)cfg_num(L, "limits.max_connections_per_address");
    out->max_output_bytes = (size_t)cfg_num(L, "limits.max_output_bytes");
    out->send_timeout_ms = (uint64_t)cfg_num(L, "limits.send_timeout_ms");
    out->max_buffered_bytes = (size_t)cfg_num(L, "limits.max_buffered_bytes");
    out->shutdown_grace_ms = (uint64_t)cfg_num(L, "shutdown_grace_ms");
    out->runner_token = cfg_strdup(L, "runner.token");
    out->api_token = cfg_strdup(L, "api.token");
    out->admin_token = cfg_strdup(L, "admin.token");
    out->runner_init_timeout_ms = (uint64_t)cfg_num(L, "runner.init_timeout_ms");
    out->runner_ping_interval_ms = (uint64_t)cfg_num(L, "runner.ping_interval_ms");
    out->runner_ping_timeout_ms = (uint64_t)cfg_num(L, "runner.ping_timeout_ms");
    out->runner_lost_threshold_ms = (uint64_t)cfg_num(L, "runner.lost_threshold_ms");
    out->runner_eligible_ms = (uint64_t)cfg_num(L, "runner.eligible_ms");
    out->tunnel_ping_interval_ms = (uint64_t)cfg_num(L, "tunnel.ping_interval_ms");
    out->tunnel_ping_timeout_ms = (uint64_t)cfg_num(L, "tunnel.ping_timeout_ms");
    out->gw_ready_timeout_ms = (uint64_t)cfg_num(L, "gateway.ready_timeout_ms");
    out->gw_response_start_timeout_ms = (uint64_t)cfg_num(L, "gateway.response_start_timeout_ms");
    out->gw_websocket_open_timeout_ms = (uint64_t)cfg_num(L, "gateway.websocket_open_timeout_ms");
    out->gw_gc_interval_ms = (uint64_t)cfg_num(L, "gateway.gc_interval_ms");
    out->gw_retries = (unsigned)cfg_num(L, "gateway.retries");
    out->hib_max_pending_bytes = (size_t)cfg_num(L, "hibernation.max_pending_bytes");
    out->hib_ack_timeout_ms = (uint64_t)cfg_num(L, "hibernation.ack_timeout_ms");
    out->hib_eligible_threshold_ms = (uint64_t)cfg_num(L, "hibernation.eligible_threshold_ms");
    char kind[16] = "memory";
    cfg_str(L, "store.kind", kind, sizeof kind);
    out->store_redis = strcmp(kind, "redis") == 0;
    out->store_url = cfg_strdup(L, "store.url");
    out->store_prefix = cfg_strdup(L, "store.prefix");
    out->store_connect_timeout_ms = (uint64_t)cfg_num(L, "store.connect_timeout_ms");
    out->store_command_timeout_ms = (uint64_t)cfg_num(L, "store.command_timeout_ms");
    out->store_reconnect_max_ms = (uint64_t)cfg_num(L, "store.reconnect_max_ms");
    out->gw_default_runner = cfg_strdup(L, "gateway.default_runner");
    for (int i = 0; i < 7; i++) {
        char key[96];
        snprintf(key, sizeof key, "timeout_bounds.%s.min", cfg_bound_keys[i]);
        out->bound_min[i] = (uint64_t)cfg_num(L, key);
        snprintf(key, sizeof key, "timeout_bounds.%s.max", cfg_bound_keys[i]);
        out->bound_max[i] = (uint64_t)cfg_num(L, key);
    }
    out->policy = cfg_strdup(L, "policy");
    out->policy_budget_ms = (uint64_t)cfg_num(L, "policy_budget_ms");
    cfg_push_path(L, "namespaces");
    size_t n = lua_istable(L, -1) ? lua_objlen(L, -1) : 0;
    out->namespaces = sx_calloc(n + 1, sizeof *out->namespaces);
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, -1, (int)i + 1);
        out->namespaces[i] = sx_strdup(lua_tostring(L, -1));
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    lua_settop(L, top);
    return 0;
}

void cfg_free(cfg_t *c)
{
    free(c->tls_cert);
    free(c->tls_key);
    free(c->runner_token);
    free(c->api_token);
    free(c->admin_token);
    free(c->store_url);
    free(c->store_prefix);
    free(c->policy);
    free(c->gw_default_runner);
    c->policy = c->gw_default_runner = NULL;
    for (char **p = c->namespaces; p && *p; p++)
        free(*p);
    free(c->namespaces);
    c->tls_cert = c->tls_key = c->runner_token = c->api_token = c->admin_token = NULL;
    c->namespaces = NULL;
}

/* ---- Reload ---- */

enum cfg_kind { CFG_U64, CFG_SIZE, CFG_UINT, CFG_INT, CFG_STR, CFG_ADDR };

/* Every key a reload compares, with whether it needs a restart. Keys absent here (namespaces,
 * timeout_bounds) are compared below by hand. */
static const struct {
    const char *name;
    size_t off;
    enum cfg_kind kind;
    int restart;
} cfg_keys[] = {
#define K(name, field, kind, restart) { name, offsetof(cfg_t, field), kind, restart }
    K("listen", listen, CFG_ADDR, 1),
    K("admin_listen", admin_listen, CFG_ADDR, 1),
    K("tls.cert", tls_cert, CFG_STR, 1),
    K("tls.key", tls_key, CFG_STR, 1),
    K("store.kind", store_redis, CFG_INT, 1),
    K("store.url", store_url, CFG_STR, 1),
    K("store.prefix", store_prefix, CFG_STR, 1),
    K("store.connect_timeout_ms", store_connect_timeout_ms, CFG_U64, 1),
    K("store.command_timeout_ms", store_command_timeout_ms, CFG_U64, 1),
    K("store.reconnect_max_ms", store_reconnect_max_ms, CFG_U64, 1),
    K("runner.token", runner_token, CFG_STR, 1),
    K("runner.init_timeout_ms", runner_init_timeout_ms, CFG_U64, 1),
    K("runner.ping_interval_ms", runner_ping_interval_ms, CFG_U64, 1),
    K("runner.ping_timeout_ms", runner_ping_timeout_ms, CFG_U64, 1),
    K("hibernation.eligible_threshold_ms", hib_eligible_threshold_ms, CFG_U64, 1),
    K("log.level", log_level, CFG_INT, 0),
    K("log.format", log_json, CFG_INT, 0),
    K("limits.max_header_bytes", max_header_bytes, CFG_SIZE, 0),
    K("limits.max_body_bytes", max_body_bytes, CFG_SIZE, 0),
    K("limits.max_message_bytes", max_message_bytes, CFG_SIZE, 0),
    K("limits.idle_timeout_ms", idle_timeout_ms, CFG_U64, 0),
    K("limits.header_timeout_ms", header_timeout_ms, CFG_U64, 0),
    K("limits.body_timeout_ms", body_timeout_ms, CFG_U64, 0),
    K("limits.max_connections", max_connections, CFG_SIZE, 0),
    K("limits.max_connections_per_address", max_connections_per_address, CFG_SIZE, 0),
    K("limits.max_output_bytes", max_output_bytes, CFG_SIZE, 0),
    K("limits.send_timeout_ms", send_timeout_ms, CFG_U64, 0),
    K("limits.max_buffered_bytes", max_buffered_bytes, CFG_SIZE, 0),
    K("shutdown_grace_ms", shutdown_grace_ms, CFG_U64, 0),
    K("api.token", api_token, CFG_STR, 0),
    K("admin.token", admin_token, CFG_STR, 0),
    K("runner.lost_threshold_ms", runner_lost_threshold_ms, CFG_U64, 0),
    K("runner.eligible_ms", runner_eligible_ms, CFG_U64, 0),
    K("tunnel.ping_interval_ms", tunnel_ping_interval_ms, CFG_U64, 0),
    K("tunnel.ping_timeout_ms", tunnel_ping_timeout_ms, CFG_U64, 0),
    K("gateway.ready_timeout_ms", gw_ready_timeout_ms, CFG_U64, 0),
    K("gateway.response_start_timeout_ms", gw_response_start_timeout_ms, CFG_U64, 0),
    K("gateway.websocket_open_timeout_ms", gw_websocket_open_timeout_ms, CFG_U64, 0),
    K("gateway.gc_interval_ms", gw_gc_interval_ms, CFG_U64, 0),
    K("gateway.retries", gw_retries, CFG_UINT, 0),
    K("gateway.default_runner", gw_default_runner, CFG_STR, 0),
    K("hibernation.max_pending_bytes", hib_max_pending_bytes, CFG_SIZE, 0),
    K("hibernation.ack_timeout_ms", hib_ack_timeout_ms, CFG_U64, 0),
    K("policy", policy, CFG_STR, 0),
    K("policy_budget_ms", policy_budget_ms, CFG_U64, 0),
#undef K
};

static int cfg_same(const void *a, const void *b, enum cfg_kind kind)
{
    switch (kind) {
    case CFG_U64:
        return *(const uint64_t *)a == *(const uint64_t *)b;
    case CFG_SIZE:
        return *(const size_t *)a == *(const size_t *)b;
    case CFG_UINT:
        return *(const unsigned *)a == *(const unsigned *)b;
    case CFG_INT:
        return *(const int *)a == *(const int *)b;
    case CFG_STR: {
        const char *x = *(char *const *)a, *y = *(char *const *)b;
        return x == y || (x && y && strcmp(x, y) == 0);
    }
    case CFG_ADDR:
        return memcmp(a, b, sizeof(cfg_addr_t)) == 0;
    }
    return 1;
}

static void cfg_swap(void *a, void *b, enum cfg_kind kind)
{
    size_t n = kind == CFG_U64    ? sizeof(uint64_t)
               : kind == CFG_SIZE ? sizeof(size_t)
               : kind == CFG_UINT ? sizeof(unsigned)
               : kind == CFG_INT  ? sizeof(int)
               : kind == CFG_STR  ? sizeof(char *)
                                  : sizeof(cfg_addr_t);
    unsigned char tmp[sizeof(cfg_addr_t)];
    memcpy(tmp, a, n);
    memcpy(a, b, n);
    memcpy(b, tmp, n);
}

static void cfg_name(buf_t *b, const char *name)
{
    buf_append(b, name, strlen(name) + 1);
}

void cfg_merge(cfg_t *running, cfg_t *next, buf_t *live, buf_t *restart)
{
    for (size_t i = 0; i < sizeof cfg_keys / sizeof cfg_keys[0]; i++) {
        void *a = (char *)running + cfg_keys[i].off, *b = (char *)next + cfg_keys[i].off;
        int same = cfg_same(a, b, cfg_keys[i].kind);
        if (!same)
            cfg_name(cfg_keys[i].restart ? restart : live, cfg_keys[i].name);
        /* A restart-only key keeps what runs; its string moves so pointers stay valid. */
        if (cfg_keys[i].restart && (!same || cfg_keys[i].kind == CFG_STR))
            cfg_swap(a, b, cfg_keys[i].kind);
    }
    for (int i = 0; i < 7; i++) {
        if (running->bound_min[i] != next->bound_min[i] ||
            running->bound_max[i] != next->bound_max[i]) {
            char name[64];
            snprintf(name, sizeof name, "timeout_bounds.%s", cfg_bound_keys[i]);
            cfg_name(live, name);
        }
    }
    char *const *x = running->namespaces, *const *y = next->namespaces;
    while (x && y && *x && *y && strcmp(*x, *y) == 0)
        x++, y++;
    if ((x && *x) || (y && *y))
        cfg_name(live, "namespaces");
}
