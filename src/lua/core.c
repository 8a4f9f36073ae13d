#include "lua/core.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/metrics.h"

#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The registry key under which the engine pointer is kept; its address is the key. */
static const char lh_core_engine_key = 'e';
static const char lh_core_metric_mt[] = "sett.core.metric";

/* At most this many fields go into one log line: log_at takes a fixed argument list here, and a
 * line longer than this is no longer one event a reader can take in. */
#define LH_CORE_MAX_FIELDS 16

static eng_t *lh_core_engine(lua_State *L)
{
    lua_pushlightuserdata(L, (void *)&lh_core_engine_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    eng_t *e = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return e;
}

void lh_core_set_engine(lua_State *L, eng_t *eng)
{
    lua_pushlightuserdata(L, (void *)&lh_core_engine_key);
    if (eng)
        lua_pushlightuserdata(L, eng);
    else
        lua_pushnil(L);
    lua_rawset(L, LUA_REGISTRYINDEX);
}

/* ---- Logging ---- */

static int lh_core_cmp_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Keys the log line itself writes; a field of that name is renamed so a JSON line never holds
 * one key twice. */
static const char *lh_core_field_key(const char *k, char *tmp, size_t n)
{
    if (strcmp(k, "ts") == 0 || strcmp(k, "level") == 0 || strcmp(k, "msg") == 0) {
        snprintf(tmp, n, "field_%s", k);
        return tmp;
    }
    return k;
}

/* core.log(level, msg [, fields]): sett.log has checked the level and flattened the fields to
 * string keys and string, number or boolean values. Fields are written sorted by key, so the
 * same call gives the same line. */
static int lh_core_log(lua_State *L)
{
    enum log_level level;
    if (log_parse_level(luaL_checkstring(L, 1), &level) != 0 || level == LOG_OFF)
        return luaL_error(L, "sett.core.log: unknown level %s", lua_tostring(L, 1));
    if (level < log_min_level)
        return 0;
    const char *msg = luaL_checkstring(L, 2);
    struct log_field f[LH_CORE_MAX_FIELDS + 1];
    char renamed[LH_CORE_MAX_FIELDS][16];
    const char *keys[64];
    size_t nkeys = 0, dropped = 0;
    for (int i = 0; i <= LH_CORE_MAX_FIELDS; i++)
        f[i] = LF_END;
    if (lua_istable(L, 3)) {
        lua_pushnil(L);
        while (lua_next(L, 3)) {
            lua_pop(L, 1);
            if (lua_type(L, -1) != LUA_TSTRING)
                continue;
            if (nkeys < sizeof keys / sizeof keys[0])
                keys[nkeys++] = lua_tostring(L, -1);
            else
                dropped++;
        }
    }
    qsort(keys, nkeys, sizeof keys[0], lh_core_cmp_keys);
    size_t nf = 0;
    for (size_t i = 0; i < nkeys; i++) {
        if (nf == LH_CORE_MAX_FIELDS - 1 && nkeys - i > 1) {
            dropped += nkeys - i;
            break;
        }
        /* The key strings stay alive: the table at index 3 holds them. */
        lua_getfield(L, 3, keys[i]);
        const char *k = lh_core_field_key(keys[i], renamed[nf], sizeof renamed[nf]);
        if (lua_type(L, -1) == LUA_TNUMBER) {
            lua_Number v = lua_tonumber(L, -1);
            if (v == (lua_Number)(long long)v && v > -9e15 && v < 9e15)
                f[nf++] = LF_I(k, (long long)v);
            else
                f[nf++] = LF_D(k, v);
        } else if (lua_type(L, -1) == LUA_TBOOLEAN) {
            f[nf++] = LF_S(k, lua_toboolean(L, -1) ? "true" : "false");
        } else {
            /* The string stays referenced by the table for the rest of this call. */
            const char *s = lua_tostring(L, -1);
            f[nf++] = LF_S(k, s ? s : "");
        }
        lua_pop(L, 1);
    }
    if (dropped)
        f[nf++] = LF_U("fields_dropped", dropped);
    log_at(level, msg, f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[10], f[11],
           f[12], f[13], f[14], f[15], LF_END);
    return 0;
}

/* core.now_ms(): wall-clock milliseconds since the epoch, as sett.now() documents. */
static int lh_core_now_ms(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    lua_pushnumber(L, (lua_Number)ts.tv_sec * 1000 + (lua_Number)(ts.tv_nsec / 1000000));
    return 1;
}

/* ---- Metrics ---- */

typedef struct lh_core_metric {
    met_series_t *s;
    enum met_type type;
} lh_core_metric_t;

/* Names sett's own C metrics use: a script may not register into them, since sett removes
 * some of its series (a runner's) and a script holding one would keep a dangling series. */
static const char *const lh_core_reserved[] = { "sett_", "gateway_", "bus_", NULL };

static void lh_core_label_value(buf_t *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\\' || c == '"') {
            buf_push(b, '\\');
            buf_push(b, (uint8_t)c);
        } else if (c == '\n') {
            buf_append_str(b, "\\n");
        } else {
            buf_push(b, (uint8_t)c);
        }
    }
}

/* core.metric(kind, name, help, labels): sett.counter and friends have checked the name and
 * the label names; labels are rendered sorted by name as Prometheus text. */
static int lh_core_metric(lua_State *L)
{
    static const char *const kinds[] = { "counter", "gauge", "histogram", NULL };
    static const enum met_type types[] = { MET_COUNTER, MET_GAUGE, MET_HISTOGRAM };
    int kind = luaL_checkoption(L, 1, NULL, kinds);
    const char *name = luaL_checkstring(L, 2);
    const char *help = luaL_optstring(L, 3, "");
    for (int i = 0; lh_core_reserved[i]; i++)
        if (strncmp(name, lh_core_reserved[i], strlen(lh_core_reserved[i])) == 0)
            return luaL_error(L, "sett.%s: names starting with %s are sett's own", kinds[kind],
                              lh_core_reserved[i]);
    buf_t labels = BUF_INIT;
    if (lua_istable(L, 4)) {
        const char *keys[64];
        size_t n = 0;
        lua_pushnil(L);
        while (lua_next(L, 4)) {
            lua_pop(L, 1);
            if (lua_type(L, -1) == LUA_TSTRING && n < sizeof keys / sizeof keys[0])
                keys[n++] = lua_tostring(L, -1);
        }
        qsort(keys, n, sizeof keys[0], lh_core_cmp_keys);
        for (size_t i = 0; i < n; i++) {
            lua_getfield(L, 4, keys[i]);
            size_t vl = 0;
            const char *v = lua_tolstring(L, -1, &vl);
            buf_printf(&labels, "%s%s=\"", i ? "," : "", keys[i]);
            lh_core_label_value(&labels, v ? v : "", v ? vl : 0);
            buf_push(&labels, '"');
            lua_pop(L, 1);
        }
    }
    buf_push(&labels, '\0');
    met_series_t *s = met_get(types[kind], name, help, (const char *)labels.data, NULL, 0);
    buf_free(&labels);
    if (!s)
        return luaL_error(L, "sett.%s: %s is already registered as another kind", kinds[kind],
                          name);
    lh_core_metric_t *m = lua_newuserdata(L, sizeof *m);
    m->s = s;
    m->type = types[kind];
    luaL_getmetatable(L, lh_core_metric_mt);
    lua_setmetatable(L, -2);
    return 1;
}

static lh_core_metric_t *lh_core_check_metric(lua_State *L, enum met_type type, const char *what)
{
    lh_core_metric_t *m = luaL_checkudata(L, 1, lh_core_metric_mt);
    if (m->type != type)
        luaL_error(L, "%s: not a %s", what,
                   type == MET_COUNTER ? "counter"
                   : type == MET_GAUGE ? "gauge"
                                       : "histogram");
    return m;
}

static lua_Number lh_core_check_value(lua_State *L, int idx, const char *what)
{
    if (lua_type(L, idx) != LUA_TNUMBER || lua_tonumber(L, idx) != lua_tonumber(L, idx))
        luaL_error(L, "%s: expected a number, got %s", what, luaL_typename(L, idx));
    return lua_tonumber(L, idx);
}

static int lh_core_inc(lua_State *L)
{
    lh_core_metric_t *m = lh_core_check_metric(L, MET_COUNTER, "counter:inc");
    lua_Number n = lua_isnoneornil(L, 2) ? 1 : lh_core_check_value(L, 2, "counter:inc");
    if (n < 0)
        return luaL_error(L, "counter:inc: a counter only goes up, got %f", (double)n);
    met_add(m->s, n);
    return 0;
}

static int lh_core_set(lua_State *L)
{
    lh_core_metric_t *m = lh_core_check_metric(L, MET_GAUGE, "gauge:set");
    met_set(m->s, lh_core_check_value(L, 2, "gauge:set"));
    return 0;
}

static int lh_core_observe(lua_State *L)
{
    lh_core_metric_t *m = lh_core_check_metric(L, MET_HISTOGRAM, "histogram:observe");
    met_observe(m->s, lh_core_check_value(L, 2, "histogram:observe"));
    return 0;
}

/* m:get(): a counter's or gauge's value, a histogram's count and sum (for scripts that want
 * to read back what they counted, and for tests). */
static int lh_core_get(lua_State *L)
{
    lh_core_metric_t *m = luaL_checkudata(L, 1, lh_core_metric_mt);
    if (m->type == MET_HISTOGRAM) {
        lua_pushnumber(L, (lua_Number)m->s->count);
        lua_pushnumber(L, m->s->sum);
        return 2;
    }
    lua_pushnumber(L, m->s->value);
    return 1;
}

/* core.callback_failed(hook, msg): a policy callback that is not a hook call (a timer's, hook
 * "timer") failed. It is logged and counted as lua/policy.c counts a failed hook call, so one
 * pair of series says how often a policy's code failed, whatever ran it. */
static int lh_core_callback_failed(lua_State *L)
{
    const char *hook = luaL_checkstring(L, 1);
    const char *msg = luaL_optstring(L, 2, "?");
    /* The name becomes a label value: a plain word, so it never needs escaping. */
    size_t n = strlen(hook);
    if (n == 0 || n > 32 || strspn(hook, "abcdefghijklmnopqrstuvwxyz_") != n)
        return luaL_error(L, "sett.core.callback_failed: hook must be a lowercase word");
    char labels[64];
    snprintf(labels, sizeof labels, "hook=\"%s\"", hook);
    met_inc(met_counter("sett_policy_errors_total", "Policy calls that failed.", NULL));
    met_inc(met_counter("sett_policy_hook_errors_total",
                        "Policy hook calls that failed; the built-in behaviour answered.", labels));
    log_error("policy callback failed", LF_S("hook", hook), LF_S("error", msg));
    return 0;
}

/* core.timers_pending(n): how many timers policies have pending (sett.timer keeps the count),
 * so that /metrics shows whether reloads leave timers behind. */
static int lh_core_timers_pending(lua_State *L)
{
    met_set(met_gauge("sett_policy_timers", "Timers policies started that are still pending.",
                      NULL),
            luaL_checknumber(L, 1));
    return 0;
}

/* ---- Hibernating sockets (sett.hibernation) ---- */

typedef struct lh_core_hib {
    lh_hib_rows_fn rows;
    lh_hib_local_fn local;
    void *ud;
} lh_core_hib_t;

static const char lh_core_hib_key = 0;

/* One ask waiting for the store: the state and the callback's registry slot. */
typedef struct lh_core_hib_ask {
    lua_State *L;
    int fn;
} lh_core_hib_ask_t;

static lh_core_hib_t *lh_core_hib(lua_State *L)
{
    lua_pushlightuserdata(L, (void *)&lh_core_hib_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    lh_core_hib_t *h = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return h;
}

void lh_core_set_hibernation(lua_State *L, lh_hib_rows_fn rows, lh_hib_local_fn local, void *ud)
{
    lua_pushlightuserdata(L, (void *)&lh_core_hib_key);
    if (rows || local) {
        lh_core_hib_t *h = lua_newuserdata(L, sizeof *h);
        h->rows = rows;
        h->local = local;
        h->ud = ud;
    } else {
        lua_pushnil(L);
    }
    lua_rawset(L, LUA_REGISTRYINDEX);
}

static void lh_core_hex(char out[9], const uint8_t id[4])
{
    snprintf(out, 9, "%02x%02x%02x%02x", id[0], id[1], id[2], id[3]);
}

/* The store answered: the callback gets (nil, rows) or (message, nil) on a later turn of the
 * loop. It is sett.hibernation's own wrapper, which runs the policy's callback under the hook
 * budget and reports its failures, so an error here is sett's and only logged. */
static void lh_core_hib_on_rows(void *ud, const char *err, const lh_hib_row_t *rows, size_t n)
{
    lh_core_hib_ask_t *a = ud;
    lua_State *L = a->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, a->fn);
    luaL_unref(L, LUA_REGISTRYINDEX, a->fn);
    free(a);
    if (err) {
        lua_pushstring(L, err);
        lua_pushnil(L);
    } else {
        lua_pushnil(L);
        lua_createtable(L, (int)n, 0);
        for (size_t i = 0; i < n; i++) {
            char hex[9];
            lua_createtable(L, 0, 3);
            lh_core_hex(hex, rows[i].request_id);
            lua_pushstring(L, hex);
            lua_setfield(L, -2, "request_id");
            lh_core_hex(hex, rows[i].gateway_id);
            lua_pushstring(L, hex);
            lua_setfield(L, -2, "gateway_id");
            lua_pushnumber(L, (lua_Number)rows[i].last_ping_ms);
            lua_setfield(L, -2, "last_ping_ms");
            lua_rawseti(L, -2, (int)i + 1);
        }
    }
    if (lua_pcall(L, 2, 0, 0) != 0) {
        log_error("sett.hibernation: delivering an answer failed",
                  LF_S("error", lua_tostring(L, -1)));
        lua_pop(L, 1);
    }
}

/* hib_list(actor_id, fn): asks the store; fn(err, rows) later. */
static int lh_core_hib_list(lua_State *L)
{
    const char *id = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lh_core_hib_t *h = lh_core_hib(L);
    if (!h || !h->rows)
        return luaL_error(L,
                          "sett.hibernation: the gateway is not running yet (ask from a hook "
                          "or a timer, not while the policy loads at start)");
    lh_core_hib_ask_t *a = sx_malloc(sizeof *a);
    a->L = L;
    lua_pushvalue(L, 2);
    a->fn = luaL_ref(L, LUA_REGISTRYINDEX);
    h->rows(h->ud, id, lh_core_hib_on_rows, a);
    return 0;
}

/* hib_local(actor_id) -> this gateway's sockets of the actor that may hibernate. */
static int lh_core_hib_local(lua_State *L)
{
    const char *id = luaL_checkstring(L, 1);
    lh_core_hib_t *h = lh_core_hib(L);
    lua_pushnumber(L, h && h->local ? (lua_Number)h->local(h->ud, id) : 0);
    return 1;
}

/* ---- Actors and runners ---- */

void lh_core_push_actor(lua_State *L, const eng_actor_t *a)
{
    lua_createtable(L, 0, 7);
    lua_pushstring(L, a->actor_id);
    lua_setfield(L, -2, "id");
    lua_pushstring(L, a->name);
    lua_setfield(L, -2, "name");
    if (a->key) {
        lua_pushstring(L, a->key);
        lua_setfield(L, -2, "key");
    }
    lua_pushstring(L, a->ns->name);
    lua_setfield(L, -2, "namespace");
    lua_pushstring(L, eng_actor_state_name(a->state));
    lua_setfield(L, -2, "state");
    lua_pushnumber(L, a->generation);
    lua_setfield(L, -2, "generation");
    if (a->runner) {
        lua_pushstring(L, a->runner->runner_id);
        lua_setfield(L, -2, "runner_id");
    }
}

void lh_core_push_runner(lua_State *L, const eng_runner_t *r)
{
    lua_createtable(L, 0, 10);
    lua_pushstring(L, r->runner_id);
    lua_setfield(L, -2, "id");
    lua_pushstring(L, r->name);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, r->ns->name);
    lua_setfield(L, -2, "namespace");
    lua_pushnumber(L, r->version);
    lua_setfield(L, -2, "version");
    lua_pushnumber(L, r->total_slots - r->used_slots);
    lua_setfield(L, -2, "free_slots");
    lua_pushnumber(L, r->total_slots);
    lua_setfield(L, -2, "total_slots");
    lua_pushnumber(L, (lua_Number)r->rtt_ms);
    lua_setfield(L, -2, "rtt_ms");
    lua_pushboolean(L, r->connected);
    lua_setfield(L, -2, "connected");
    lua_pushboolean(L, r->draining);
    lua_setfield(L, -2, "draining");
    if (r->metadata) {
        lua_pushstring(L, r->metadata);
        lua_setfield(L, -2, "metadata");
    }
}

/* core.actor(id): the actor's table, or nil. */
static int lh_core_actor(lua_State *L)
{
    const char *id = luaL_checkstring(L, 1);
    eng_t *e = lh_core_engine(L);
    eng_actor_t *a = e ? eng_actor_get(e, id) : NULL;
    if (!a)
        lua_pushnil(L);
    else
        lh_core_push_actor(L, a);
    return 1;
}

typedef struct lh_core_list {
    lua_State *L;
    int n;
} lh_core_list_t;

static int lh_core_add_runner(void *ud, eng_runner_t *r)
{
    lh_core_list_t *l = ud;
    lh_core_push_runner(l->L, r);
    lua_rawseti(l->L, -2, ++l->n);
    return 0;
}

/* core.runners(namespace [, name]): the runners the engine knows in that namespace, connected
 * or waiting to reconnect; an unknown namespace has none. */
static int lh_core_runners(lua_State *L)
{
    const char *ns_name = luaL_checkstring(L, 1);
    const char *name = luaL_optstring(L, 2, NULL);
    eng_t *e = lh_core_engine(L);
    lua_newtable(L);
    const eng_ns_t *ns = e ? eng_ns_get(e, ns_name) : NULL;
    if (!ns)
        return 1;
    lh_core_list_t l = { L, 0 };
    eng_runner_each(e, ns, name, lh_core_add_runner, &l);
    return 1;
}

static int lh_core_open(lua_State *L)
{
    static const luaL_Reg methods[] = { { "inc", lh_core_inc },
                                        { "set", lh_core_set },
                                        { "observe", lh_core_observe },
                                        { "get", lh_core_get },
                                        { NULL, NULL } };
    static const luaL_Reg funcs[] = { { "log", lh_core_log },
                                      { "now_ms", lh_core_now_ms },
                                      { "metric", lh_core_metric },
                                      { "actor", lh_core_actor },
                                      { "runners", lh_core_runners },
                                      { "callback_failed", lh_core_callback_failed },
                                      { "timers_pending", lh_core_timers_pending },
                                      { "hib_list", lh_core_hib_list },
                                      { "hib_local", lh_core_hib_local },
                                      { NULL, NULL } };
    if (luaL_newmetatable(L, lh_core_metric_mt)) {
        lua_newtable(L);
        luaL_register(L, NULL, methods);
        lua_setfield(L, -2, "__index");
        lua_pushliteral(L, "sett.metric");
        lua_setfield(L, -2, "__metatable");
    }
    lua_pop(L, 1);
    lua_newtable(L);
    luaL_register(L, NULL, funcs);
    return 1;
}

void lh_core_preload(lua_State *L)
{
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "preload");
    lua_pushcfunction(L, lh_core_open);
    lua_setfield(L, -2, "sett.core");
    lua_pop(L, 2);
}
