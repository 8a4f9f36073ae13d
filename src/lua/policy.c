#include "lua/policy.h"
#include "core/alloc.h"
#include "core/log.h"
#include "core/metrics.h"
#include "lua/config.h"
#include "lua/core.h"

#include <lauxlib.h>
#include <lua.h>
#include <string.h>

/* The hooks C asks, in the order of sett.policy's HOOKS, and the module function that calls each
 * one and checks its answer. */
enum lh_hook {
    LH_HOOK_ROUTE = 0,
    LH_HOOK_PLACE,
    LH_HOOK_CAN_HIBERNATE,
    LH_HOOK_TIMEOUTS,
    LH_HOOK_AUTO_RESPONSE,
    LH_HOOK_AUTHORIZE,
    LH_HOOK_CORS,
    LH_HOOK_COUNT
};

static const char *const lh_hook_names[LH_HOOK_COUNT] = {
    "route", "place", "can_hibernate", "timeouts", "auto_response", "authorize", "cors"
};
static const char *const lh_hook_callers[LH_HOOK_COUNT] = { "call_route",         "call_place",
                                                            "call_can_hibernate", "call_timeouts",
                                                            "call_auto_response", "call_authorize",
                                                            "call_cors" };

/* route()'s caller: it takes the request's fields as arguments and builds the table in Lua,
 * where a constructor with constant keys copies a template whose keys are already in place;
 * built from C, each of the six keys would be hashed and inserted on every request. It returns
 * call_route's answer and the table, which then holds the ctx route returned, for the later
 * hooks of the request. */
static const char lh_route_caller_src[] =
    "local call_route = ...\n"
    "return function(pol, method, path, query, headers, host, peer)\n"
    "  local req = { method = method, path = path, query = query, headers = headers,\n"
    "                host = host, peer = peer }\n"
    "  local kind, v = call_route(pol, req)\n"
    "  return kind, v, req\n"
    "end\n";

/* The request table of a request route() did not see, built the same way. */
static const char lh_req_builder_src[] =
    "return function(method, path, query, headers, host, peer)\n"
    "  return { method = method, path = path, query = query, headers = headers,\n"
    "           host = host, peer = peer }\n"
    "end\n";

/* cors()'s caller, built the same way. */
static const char lh_cors_caller_src[] =
    "local call_cors = ...\n"
    "return function(pol, method, path, query, headers, host, peer)\n"
    "  return call_cors(pol, { method = method, path = path, query = query, headers = headers,\n"
    "                          host = host, peer = peer })\n"
    "end\n";

struct lh_policy {
    lh_t *h;
    eng_t *eng;
    char *path;
    uint64_t budget_ns;
    int ref; /* the loaded policy table, or LUA_NOREF */
    int mod; /* the sett.policy module */
    /* Which hooks the loaded policy defines, one bit per enum lh_hook, read once per load so
     * that asking costs nothing per request (sett.policy builds the hooks table at load and
     * nothing changes it afterwards); 0 without a policy. */
    unsigned hooks;
    int callers[LH_HOOK_COUNT]; /* the module's call_* functions, or LUA_NOREF */
    int route_caller;           /* lh_route_caller_src bound to call_route, or LUA_NOREF */
    int cors_caller;            /* lh_cors_caller_src bound to call_cors, or LUA_NOREF */
    int req_builder;            /* lh_req_builder_src's function, or LUA_NOREF */
    /* The hooks of the loaded policy whose function declares the req parameter that came later
     * (timeouts, auto_response), one bit per enum lh_hook: only for them is a request's table
     * built and kept. */
    unsigned takes_req;
    lh_timeouts_t bmin, bmax; /* timeout bounds; 0: a tenth or ten times the default */
    met_series_t *m_errors, *m_reloads, *m_reload_errors, *m_calls;
};

/* Calls P.<fn>(pol, nargs...) with the function and arguments already pushed after the policy;
 * returns 0 with nres results on the stack, or -1 after logging and counting the failure. */
static int lh_policy_call(lh_policy_t *p, const char *hook, int nargs, int nres)
{
    lua_State *L = p->h->L;
    met_inc(p->m_calls);
    int base = lua_gettop(L) - nargs - 1;
    int rc = lh_pcall_budget(p->h, nargs, nres, p->budget_ns);
    if (rc != 0) {
        met_inc(p->m_errors);
        char labels[64];
        snprintf(labels, sizeof labels, "hook=\"%s\"", hook);
        met_inc(met_counter("sett_policy_hook_errors_total",
                            "Policy hook calls that failed; the built-in behaviour answered.",
                            labels));
        log_error("policy hook failed; using the built-in behaviour", LF_S("hook", hook),
                  LF_S("error", lua_tostring(L, -1)));
        lua_settop(L, base);
        return -1;
    }
    return 0;
}

static bool lh_policy_has_hook(const lh_policy_t *p, enum lh_hook hook)
{
    return p && (p->hooks & (1u << hook)) != 0;
}

/* When the policy defines the hook, pushes the module's call_* function for it and the policy
 * table and returns 0; otherwise pushes nothing and returns -1. */
static int lh_policy_push(lh_policy_t *p, enum lh_hook hook)
{
    if (!lh_policy_has_hook(p, hook) || p->callers[hook] == LUA_NOREF)
        return -1;
    lua_State *L = p->h->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, p->callers[hook]);
    lua_rawgeti(L, LUA_REGISTRYINDEX, p->ref);
    return 0;
}

bool lh_policy_has(const lh_policy_t *p, const char *hook)
{
    for (int i = 0; i < LH_HOOK_COUNT; i++)
        if (strcmp(hook, lh_hook_names[i]) == 0)
            return lh_policy_has_hook(p, (enum lh_hook)i);
    return false;
}

/* Reads which hooks the policy table on top of the stack defines (it stays on the stack). */
static unsigned lh_policy_scan_takes_req(lua_State *L)
{
    unsigned bits = 0;
    lua_getfield(L, -1, "takes_req");
    if (lua_istable(L, -1)) {
        for (int i = 0; i < LH_HOOK_COUNT; i++) {
            lua_getfield(L, -1, lh_hook_names[i]);
            if (lua_toboolean(L, -1))
                bits |= 1u << i;
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    return bits;
}

static unsigned lh_policy_scan_hooks(lua_State *L)
{
    unsigned bits = 0;
    lua_getfield(L, -1, "hooks");
    if (lua_istable(L, -1)) {
        for (int i = 0; i < LH_HOOK_COUNT; i++) {
            lua_getfield(L, -1, lh_hook_names[i]);
            if (lua_isfunction(L, -1))
                bits |= 1u << i;
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    return bits;
}

/* Calls sett.policy.retire on the policy in the registry slot ref: its timers stop and it can
 * start no more. */
static void lh_policy_retire_ref(lh_policy_t *p, int ref)
{
    lua_State *L = p->h->L;
    if (ref == LUA_NOREF || p->mod == LUA_NOREF)
        return;
    lua_rawgeti(L, LUA_REGISTRYINDEX, p->mod);
    lua_getfield(L, -1, "retire");
    lua_remove(L, -2);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
    if (lh_pcall(p->h, 1, 0, "sett.policy.retire") != 0)
        lua_pop(L, 1);
}

void lh_policy_stop(lh_policy_t *p)
{
    if (p && p->h->L)
        lh_policy_retire_ref(p, p->ref);
}

/* Stops what the policy in the registry slot ref started (its timers) and drops the slot: the
 * policy is being replaced or removed, and nothing of it may run afterwards. */
static void lh_policy_retire(lh_policy_t *p, int ref)
{
    if (ref == LUA_NOREF)
        return;
    lh_policy_retire_ref(p, ref);
    luaL_unref(p->h->L, LUA_REGISTRYINDEX, ref);
}

/* Tells sett.policy the budget of one timer callback: the budget of a hook call. */
static void lh_policy_push_budget(lh_policy_t *p)
{
    lua_State *L = p->h->L;
    if (p->mod == LUA_NOREF)
        return;
    lua_rawgeti(L, LUA_REGISTRYINDEX, p->mod);
    lua_pushnumber(L, (lua_Number)p->budget_ns / 1e6);
    lua_setfield(L, -2, "budget_ms");
    lua_pop(L, 1);
}

/* The options of sett.policy.load: { options =, read_dirs = } from the configuration loaded
 * last. */
static void lh_policy_push_load_opts(lua_State *L)
{
    lua_createtable(L, 0, 2);
    lua_getfield(L, LUA_REGISTRYINDEX, CFG_POLICY_OPTIONS);
    lua_setfield(L, -2, "options");
    lua_getfield(L, LUA_REGISTRYINDEX, CFG_POLICY_READ_DIRS);
    lua_setfield(L, -2, "read_dirs");
}

int lh_policy_check(lh_t *h, const char *path, buf_t *err)
{
    lua_State *L = h->L;
    int top = lua_gettop(L);
    lua_getglobal(L, "require");
    lua_pushstring(L, "sett.policy");
    if (lh_pcall(h, 1, 1, "require sett.policy") != 0) {
        buf_printf(err, "%s", lua_tostring(L, -1));
        lua_settop(L, top);
        return -1;
    }
    lua_getfield(L, -1, "load");
    lua_pushstring(L, path);
    lh_policy_push_load_opts(L);
    int rc = 0;
    if (lh_pcall(h, 2, 2, "sett.policy.load") != 0) {
        buf_printf(err, "%s", lua_tostring(L, -1));
        rc = -1;
    } else if (lua_isnil(L, -2)) {
        buf_printf(err, "%s", lua_tostring(L, -1));
        rc = -1;
    } else {
        /* Nothing of a checked policy may run later. */
        lua_getfield(L, -3, "retire");
        lua_pushvalue(L, -3);
        if (lh_pcall(h, 1, 0, "sett.policy.retire") != 0)
            lua_pop(L, 1);
    }
    lua_settop(L, top);
    return rc;
}

static int lh_policy_load(lh_policy_t *p, const char *path, buf_t *err)
{
    lua_State *L = p->h->L;
    if (p->mod == LUA_NOREF) {
        buf_printf(err, "the policy module did not load (see the log)");
        return -1;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, p->mod);
    lua_getfield(L, -1, "load");
    lua_remove(L, -2);
    lua_pushstring(L, path);
    lh_policy_push_load_opts(L);
    if (lh_pcall(p->h, 2, 2, "sett.policy.load") != 0) {
        buf_printf(err, "%s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    if (lua_isnil(L, -2)) {
        buf_printf(err, "%s", lua_tostring(L, -1));
        lua_pop(L, 2);
        return -1;
    }
    lua_pop(L, 1);
    /* The new policy replaces the old in one step: requests already running used the old
     * one for their decisions, later ones use this. The hook bits change with it. */
    unsigned hooks = lh_policy_scan_hooks(L);
    unsigned takes_req = lh_policy_scan_takes_req(L);
    int ref = luaL_ref(L, LUA_REGISTRYINDEX);
    int old = p->ref;
    p->ref = ref;
    p->hooks = hooks;
    p->takes_req = takes_req;
    lh_policy_retire(p, old);
    return 0;
}

/* Compiles a caller (lh_route_caller_src, lh_cors_caller_src) and binds it to the module's
 * call_* function for the hook; returns its registry slot or LUA_NOREF. */
static int lh_policy_bind_caller(lh_policy_t *p, enum lh_hook hook, const char *src, size_t len,
                                 const char *name)
{
    lua_State *L = p->h->L;
    if (p->callers[hook] == LUA_NOREF)
        return LUA_NOREF;
    if (luaL_loadbuffer(L, src, len, name) != 0) {
        log_error("a hook caller does not compile", LF_S("caller", name + 1),
                  LF_S("error", lua_tostring(L, -1)));
        lua_pop(L, 1);
        return LUA_NOREF;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, p->callers[hook]);
    if (lh_pcall(p->h, 1, 1, name + 1) != 0) {
        lua_pop(L, 1);
        return LUA_NOREF;
    }
    return luaL_ref(L, LUA_REGISTRYINDEX);
}

lh_policy_t *lh_policy_new(lh_t *h, eng_t *eng, const char *path, uint64_t budget_ms)
{
    lh_policy_t *p = sx_calloc(1, sizeof *p);
    p->h = h;
    p->eng = eng;
    p->ref = LUA_NOREF;
    p->mod = LUA_NOREF;
    for (int i = 0; i < LH_HOOK_COUNT; i++)
        p->callers[i] = LUA_NOREF;
    p->route_caller = LUA_NOREF;
    p->cors_caller = LUA_NOREF;
    p->req_builder = LUA_NOREF;
    p->budget_ns = budget_ms * 1000000ull;
    p->m_errors = met_counter("sett_policy_errors_total", "Policy calls that failed.", NULL);
    p->m_calls = met_counter("sett_policy_calls_total", "Policy hook calls.", NULL);
    p->m_reloads = met_counter("sett_policy_reloads_total", "Policy reloads that took effect.",
                               NULL);
    p->m_reload_errors = met_counter("sett_policy_reload_errors_total",
                                     "Policy reloads refused; the old policy stayed.", NULL);
    /* The module is loaded even without a policy file, so a reload can add one later. */
    lua_State *L = h->L;
    lua_getglobal(L, "require");
    lua_pushstring(L, "sett.policy");
    if (lh_pcall(h, 1, 1, "require sett.policy") != 0) {
        lua_pop(L, 1);
    } else {
        /* Policies see the module read-only and sett never replaces its functions, so the
         * call_* functions are looked up once rather than by name on every call. */
        for (int i = 0; i < LH_HOOK_COUNT; i++) {
            lua_getfield(L, -1, lh_hook_callers[i]);
            if (lua_isfunction(L, -1))
                p->callers[i] = luaL_ref(L, LUA_REGISTRYINDEX);
            else
                lua_pop(L, 1);
        }
        p->mod = luaL_ref(L, LUA_REGISTRYINDEX);
        lh_policy_push_budget(p);
    }
    p->route_caller = lh_policy_bind_caller(p, LH_HOOK_ROUTE, lh_route_caller_src,
                                            sizeof lh_route_caller_src - 1, "=route caller");
    p->cors_caller = lh_policy_bind_caller(p, LH_HOOK_CORS, lh_cors_caller_src,
                                           sizeof lh_cors_caller_src - 1, "=cors caller");
    if (luaL_loadbuffer(L, lh_req_builder_src, sizeof lh_req_builder_src - 1, "=req builder") ==
            0 &&
        lh_pcall(h, 0, 1, "req builder") == 0)
        p->req_builder = luaL_ref(L, LUA_REGISTRYINDEX);
    else
        lua_pop(L, 1);
    if (!path)
        return p;
    p->path = sx_strdup(path);
    buf_t err = BUF_INIT;
    if (lh_policy_load(p, path, &err) != 0) {
        log_error("policy not loaded; built-in behaviour applies", LF_S("path", path),
                  LF_S("error", err.len ? (char *)err.data : "?"));
    } else {
        log_info("policy loaded", LF_S("path", path));
    }
    buf_free(&err);
    return p;
}

int lh_policy_reload_from(lh_policy_t *p, const char *path, buf_t *err)
{
    if (!path) {
        /* The configuration names no policy any more: every decision is built in again. */
        if (p->ref != LUA_NOREF) {
            int old = p->ref;
            p->ref = LUA_NOREF;
            p->hooks = 0;
            p->takes_req = 0;
            lh_policy_retire(p, old);
            log_info("policy removed; built-in behaviour applies", LF_S("path", p->path));
        }
        free(p->path);
        p->path = NULL;
        return 0;
    }
    if (lh_policy_load(p, path, err) != 0) {
        buf_push(err, '\0');
        met_inc(p->m_reload_errors);
        log_error("policy reload refused; the old policy stays", LF_S("path", path),
                  LF_S("error", (char *)err->data));
        return -1;
    }
    if (p->path != path) {
        free(p->path);
        p->path = sx_strdup(path);
    }
    met_inc(p->m_reloads);
    log_info("policy reloaded", LF_S("path", path));
    return 0;
}

void lh_policy_set_budget(lh_policy_t *p, uint64_t budget_ms)
{
    p->budget_ns = budget_ms * 1000000ull;
    lh_policy_push_budget(p);
}

void lh_policy_set_bounds(lh_policy_t *p, const lh_timeouts_t *min, const lh_timeouts_t *max)
{
    p->bmin = *min;
    p->bmax = *max;
}

void lh_policy_free(lh_policy_t *p)
{
    if (!p)
        return;
    if (p->h->L) {
        lh_policy_retire(p, p->ref);
        if (p->mod != LUA_NOREF)
            luaL_unref(p->h->L, LUA_REGISTRYINDEX, p->mod);
        for (int i = 0; i < LH_HOOK_COUNT; i++)
            if (p->callers[i] != LUA_NOREF)
                luaL_unref(p->h->L, LUA_REGISTRYINDEX, p->callers[i]);
        if (p->route_caller != LUA_NOREF)
            luaL_unref(p->h->L, LUA_REGISTRYINDEX, p->route_caller);
        if (p->cors_caller != LUA_NOREF)
            luaL_unref(p->h->L, LUA_REGISTRYINDEX, p->cors_caller);
        if (p->req_builder != LUA_NOREF)
            luaL_unref(p->h->L, LUA_REGISTRYINDEX, p->req_builder);
    }
    free(p->path);
    free(p);
}

/* ---- Tables the hooks see ---- */

static void lh_push_req(lua_State *L, const hreq *req, const url_parts *u, const char *peer);

static void lh_policy_push_ref(lua_State *L, int lreq)
{
    if (lreq > 0)
        lua_rawgeti(L, LUA_REGISTRYINDEX, lreq);
    else
        lua_pushnil(L);
}

/* Pushes a new request table of req, as route() gets it (nil without the builder). */
static void lh_policy_build_req(lh_policy_t *p, const hreq *req, const char *peer)
{
    lua_State *L = p->h->L;
    if (p->req_builder == LUA_NOREF) {
        lua_pushnil(L);
        return;
    }
    url_parts u;
    url_split((const char *)req->url.p, req->url.len, &u);
    lua_rawgeti(L, LUA_REGISTRYINDEX, p->req_builder);
    lh_push_req(L, req, &u, peer);
    if (lua_pcall(L, 6, 1, 0) != 0) {
        lua_pop(L, 1);
        lua_pushnil(L);
    }
}

bool lh_policy_wants_req(const lh_policy_t *p, bool websocket)
{
    if (!p)
        return false;
    unsigned now = (1u << LH_HOOK_AUTHORIZE) | (p->takes_req & (1u << LH_HOOK_TIMEOUTS));
    unsigned later = websocket ? (1u << LH_HOOK_CAN_HIBERNATE) |
                                     (p->takes_req & (1u << LH_HOOK_AUTO_RESPONSE))
                               : 0;
    return (p->hooks & (now | later)) != 0;
}

bool lh_policy_wants_req_later(const lh_policy_t *p, bool open_acked)
{
    if (!p)
        return false;
    unsigned later = p->takes_req & (1u << LH_HOOK_AUTO_RESPONSE);
    if (!open_acked)
        later |= 1u << LH_HOOK_CAN_HIBERNATE;
    return (p->hooks & later) != 0;
}

int lh_policy_req_new(lh_policy_t *p, const hreq *req, const char *peer)
{
    if (!p)
        return LH_REQ_NONE;
    lh_policy_build_req(p, req, peer);
    if (lua_isnil(p->h->L, -1)) {
        lua_pop(p->h->L, 1);
        return LH_REQ_NONE;
    }
    return luaL_ref(p->h->L, LUA_REGISTRYINDEX);
}

int lh_policy_req_keep(lh_policy_t *p, int lreq)
{
    if (!p || lreq <= 0)
        return LH_REQ_NONE;
    lua_rawgeti(p->h->L, LUA_REGISTRYINDEX, lreq);
    return luaL_ref(p->h->L, LUA_REGISTRYINDEX);
}

void lh_policy_req_free(lh_policy_t *p, int lreq)
{
    if (p && lreq > 0 && p->h->L)
        luaL_unref(p->h->L, LUA_REGISTRYINDEX, lreq);
}

/* Pushes the six arguments of the route caller: method, path, query, headers (a table keyed
 * by lowercased name), host and peer. */
static void lh_push_req(lua_State *L, const hreq *req, const url_parts *u, const char *peer)
{
    lua_pushstring(L, req->method);
    lua_pushlstring(L, (const char *)u->path.p, u->path.len);
    lua_pushlstring(L, (const char *)u->query.p, u->query.len);
    /* The Host header is found in the same pass that lowercases the names: the first one, as
     * hreq_header would answer. */
    const slice_t *host = NULL;
    lua_createtable(L, 0, (int)req->nheaders);
    for (size_t i = 0; i < req->nheaders; i++) {
        char name[128];
        size_t n = req->headers[i].name.len < sizeof name ? req->headers[i].name.len
                                                          : sizeof name - 1;
        for (size_t j = 0; j < n; j++) {
            char c = req->headers[i].name.p[j];
            name[j] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        }
        if (!host && req->headers[i].name.len == 4 && memcmp(name, "host", 4) == 0)
            host = &req->headers[i].value;
        lua_pushlstring(L, name, n);
        lua_pushlstring(L, (const char *)req->headers[i].value.p, req->headers[i].value.len);
        lua_rawset(L, -3);
    }
    if (host)
        lua_pushlstring(L, (const char *)host->p, host->len);
    else
        lua_pushliteral(L, "");
    lua_pushstring(L, peer ? peer : "");
}

static char *lh_field_str(lua_State *L, int idx, const char *k)
{
    lua_getfield(L, idx, k);
    char *s = lua_isstring(L, -1) ? sx_strdup(lua_tostring(L, -1)) : NULL;
    lua_pop(L, 1);
    return s;
}

void lh_route_free(lh_route_t *r)
{
    free(r->actor_id);
    free((char *)r->create.namespace_name);
    free((char *)r->create.name);
    free((char *)r->create.key);
    free((char *)r->create.runner_name_selector);
    free((void *)r->create.input);
    buf_free(&r->headers);
    buf_free(&r->body);
    memset(r, 0, sizeof *r);
}

/* Reads a direct answer {status, headers, body} that sett.policy has checked, at index t. */
static void lh_policy_read_answer(lua_State *L, int t, lh_route_t *out)
{
    out->kind = LH_ROUTE_RESPOND;
    lua_getfield(L, t, "status");
    out->status = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, t, "headers");
    if (lua_istable(L, -1)) {
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            size_t kl, vl;
            const char *k = lua_tolstring(L, -2, &kl);
            const char *v = lua_tolstring(L, -1, &vl);
            if (k && v && !memchr(k, '\n', kl) && !memchr(v, '\n', vl) && !memchr(k, '\r', kl) &&
                !memchr(v, '\r', vl)) {
                buf_append(&out->headers, k, kl);
                buf_append_str(&out->headers, ": ");
                buf_append(&out->headers, v, vl);
                buf_append_str(&out->headers, "\r\n");
            }
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    buf_push(&out->headers, '\0');
    lua_getfield(L, t, "body");
    size_t bl = 0;
    const char *b = lua_tolstring(L, -1, &bl);
    if (b)
        buf_append(&out->body, b, bl);
    lua_pop(L, 1);
}

void lh_policy_route(lh_policy_t *p, const hreq *req, const url_parts *u, const char *peer,
                     lh_route_t *out)
{
    memset(out, 0, sizeof *out);
    if (!lh_policy_has_hook(p, LH_HOOK_ROUTE) || p->route_caller == LUA_NOREF)
        return;
    lua_State *L = p->h->L;
    int top = lua_gettop(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, p->route_caller);
    lua_rawgeti(L, LUA_REGISTRYINDEX, p->ref);
    lh_push_req(L, req, u, peer);
    if (lh_policy_call(p, "route", 7, 3) != 0)
        return;
    /* The request table, with the ctx route returned, is kept for the later hooks when any
     * of them takes it. */
    if (lh_policy_wants_req(p, req->upgrade))
        out->req = luaL_ref(L, LUA_REGISTRYINDEX);
    else
        lua_pop(L, 1);
    const char *kind = lua_tostring(L, -2);
    if (kind && strcmp(kind, "actor") == 0) {
        out->kind = LH_ROUTE_ACTOR;
        out->actor_id = sx_strdup(lua_tostring(L, -1));
    } else if (kind && strcmp(kind, "create") == 0) {
        out->kind = LH_ROUTE_CREATE;
        int t = lua_gettop(L);
        out->create.namespace_name = lh_field_str(L, t, "namespace");
        if (!out->create.namespace_name)
            out->create.namespace_name = sx_strdup("default");
        out->create.name = lh_field_str(L, t, "name");
        out->create.key = lh_field_str(L, t, "key");
        out->create.runner_name_selector = lh_field_str(L, t, "runner");
        lua_getfield(L, t, "input");
        if (lua_isstring(L, -1)) {
            size_t n;
            const char *s = lua_tolstring(L, -1, &n);
            out->create.input = sx_memdup(s, n);
            out->create.input_len = n;
            out->create.has_input = true;
        }
        lua_pop(L, 1);
        char *cp = lh_field_str(L, t, "crash_policy");
        out->create.crash_policy = cp && strcmp(cp, "sleep") == 0     ? STORE_CRASH_SLEEP
                                   : cp && strcmp(cp, "destroy") == 0 ? STORE_CRASH_DESTROY
                                                                      : STORE_CRASH_RESTART;
        free(cp);
    } else if (kind && strcmp(kind, "respond") == 0) {
        lh_policy_read_answer(L, lua_gettop(L), out);
    }
    lua_settop(L, top);
}

/* The token a request carries: the part after '@' of /gateway/{id}@{token}/..., else the
 * x-rivet-token header; pushed as a string, or nil. */
static void lh_push_token(lua_State *L, const hreq *req, const url_parts *u)
{
    static const char prefix[] = "/gateway/";
    size_t n = sizeof prefix - 1;
    if (u->path.len > n && memcmp(u->path.p, prefix, n) == 0) {
        const char *seg = (const char *)u->path.p + n;
        size_t len = u->path.len - n;
        const char *slash = memchr(seg, '/', len);
        if (slash)
            len = (size_t)(slash - seg);
        const char *at = memchr(seg, '@', len);
        if (at) {
            lua_pushlstring(L, at + 1, len - (size_t)(at + 1 - seg));
            return;
        }
    }
    const slice_t *h = hreq_header(req, "x-rivet-token");
    if (h)
        lua_pushlstring(L, (const char *)h->p, h->len);
    else
        lua_pushnil(L);
}

bool lh_policy_authorize(lh_policy_t *p, int lreq, const hreq *req, const char *peer,
                         const eng_actor_t *a, lh_route_t *out)
{
    memset(out, 0, sizeof *out);
    if (lh_policy_push(p, LH_HOOK_AUTHORIZE) != 0)
        return true;
    lua_State *L = p->h->L;
    int top = lua_gettop(L) - 2;
    url_parts u;
    url_split((const char *)req->url.p, req->url.len, &u);
    if (lreq > 0)
        lua_rawgeti(L, LUA_REGISTRYINDEX, lreq);
    else
        lh_policy_build_req(p, req, peer);
    lua_createtable(L, 0, 3);
    lua_pushstring(L, a->actor_id);
    lua_setfield(L, -2, "actor_id");
    lh_core_push_actor(L, a);
    lua_setfield(L, -2, "actor");
    lh_push_token(L, req, &u);
    lua_setfield(L, -2, "token");
    if (lh_policy_call(p, "authorize", 3, 2) != 0) {
        /* A hook that cannot decide refuses: sett.policy's AUTHORIZE_FAILED answer. */
        lua_rawgeti(L, LUA_REGISTRYINDEX, p->mod);
        lua_getfield(L, -1, "AUTHORIZE_FAILED");
        lh_policy_read_answer(L, lua_gettop(L), out);
        lua_settop(L, top);
        return false;
    }
    bool allow = lua_toboolean(L, -2);
    if (!allow)
        lh_policy_read_answer(L, lua_gettop(L), out);
    lua_settop(L, top);
    return allow;
}

enum lh_cors lh_policy_cors(lh_policy_t *p, const hreq *req, const char *peer, buf_t *origin)
{
    if (!lh_policy_has_hook(p, LH_HOOK_CORS) || p->cors_caller == LUA_NOREF)
        return LH_CORS_BUILTIN;
    lua_State *L = p->h->L;
    int top = lua_gettop(L);
    url_parts u;
    url_split((const char *)req->url.p, req->url.len, &u);
    lua_rawgeti(L, LUA_REGISTRYINDEX, p->cors_caller);
    lua_rawgeti(L, LUA_REGISTRYINDEX, p->ref);
    lh_push_req(L, req, &u, peer);
    if (lh_policy_call(p, "cors", 7, 2) != 0)
        return LH_CORS_BUILTIN;
    enum lh_cors v = LH_CORS_BUILTIN;
    const char *kind = lua_tostring(L, -2);
    if (kind && strcmp(kind, "allow") == 0) {
        v = LH_CORS_ALLOW;
        size_t n;
        const char *o = lua_isstring(L, -1) ? lua_tolstring(L, -1, &n) : NULL;
        if (o)
            buf_append(origin, o, n);
    } else if (kind && strcmp(kind, "refuse") == 0) {
        v = LH_CORS_REFUSE;
    }
    lua_settop(L, top);
    return v;
}

bool lh_policy_can_hibernate(lh_policy_t *p, const eng_actor_t *a, int lreq, const char *path,
                             bool runner_says)
{
    if (lh_policy_push(p, LH_HOOK_CAN_HIBERNATE) != 0)
        return runner_says;
    lua_State *L = p->h->L;
    int top = lua_gettop(L) - 2;
    lh_core_push_actor(L, a);
    if (lreq > 0) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, lreq);
    } else {
        /* A socket that opened while the policy had no hook taking its request: the path is
         * all that is left of it. */
        lua_createtable(L, 0, 1);
        lua_pushstring(L, path ? path : "");
        lua_setfield(L, -2, "path");
    }
    lua_pushboolean(L, runner_says);
    if (lh_policy_call(p, "can_hibernate", 4, 1) != 0)
        return runner_says;
    bool v = lua_toboolean(L, -1);
    lua_settop(L, top);
    return v;
}

bool lh_policy_auto_response(lh_policy_t *p, const eng_actor_t *a, int lreq, const uint8_t *data,
                             size_t len, bool binary, buf_t *out)
{
    if (lh_policy_push(p, LH_HOOK_AUTO_RESPONSE) != 0)
        return false;
    lua_State *L = p->h->L;
    int top = lua_gettop(L) - 2;
    lh_core_push_actor(L, a);
    lua_pushlstring(L, (const char *)data, len);
    lua_pushboolean(L, binary);
    lh_policy_push_ref(L, lreq);
    if (lh_policy_call(p, "auto_response", 5, 1) != 0)
        return false;
    size_t n = 0;
    const char *s = lua_isstring(L, -1) ? lua_tolstring(L, -1, &n) : NULL;
    if (s)
        buf_append(out, s, n);
    lua_settop(L, top);
    return s != NULL;
}

static const struct {
    const char *name;
    size_t off;
} lh_timeout_fields[] = {
#define LH_TIMEOUT_FIELD(key, member) { #key, offsetof(lh_timeouts_t, key) },
    CFG_TIMEOUTS(LH_TIMEOUT_FIELD)
#undef LH_TIMEOUT_FIELD
};

void lh_policy_timeouts(lh_policy_t *p, const eng_actor_t *a, int lreq, lh_timeouts_t *io)
{
    if (lh_policy_push(p, LH_HOOK_TIMEOUTS) != 0)
        return;
    lua_State *L = p->h->L;
    int top = lua_gettop(L) - 2;
    lh_core_push_actor(L, a);
    size_t nf = sizeof lh_timeout_fields / sizeof lh_timeout_fields[0];
    lua_createtable(L, 0, (int)nf);
    lua_createtable(L, 0, (int)nf);
    for (size_t i = 0; i < nf; i++) {
        size_t off = lh_timeout_fields[i].off;
        uint64_t v = *(uint64_t *)((char *)io + off);
        uint64_t bmin = *(uint64_t *)((char *)&p->bmin + off);
        uint64_t bmax = *(uint64_t *)((char *)&p->bmax + off);
        lua_pushnumber(L, (lua_Number)v);
        lua_setfield(L, -3, lh_timeout_fields[i].name);
        uint64_t lo = bmin ? bmin : (v / 10 ? v / 10 : 1);
        uint64_t hi = bmax ? bmax : v * 10;
        if (hi < lo)
            hi = lo;
        lua_createtable(L, 2, 0);
        lua_pushnumber(L, (lua_Number)lo);
        lua_rawseti(L, -2, 1);
        lua_pushnumber(L, (lua_Number)hi);
        lua_rawseti(L, -2, 2);
        lua_setfield(L, -2, lh_timeout_fields[i].name);
    }
    lh_policy_push_ref(L, lreq);
    if (lh_policy_call(p, "timeouts", 5, 1) != 0)
        return;
    if (lua_istable(L, -1)) {
        for (size_t i = 0; i < nf; i++) {
            lua_getfield(L, -1, lh_timeout_fields[i].name);
            if (lua_isnumber(L, -1))
                *(uint64_t *)((char *)io + lh_timeout_fields[i].off) = (uint64_t)lua_tonumber(L,
                                                                                              -1);
            lua_pop(L, 1);
        }
    }
    lua_settop(L, top);
}

eng_runner_t *lh_policy_place(lh_policy_t *p, const eng_actor_t *a, eng_runner_t **cands, size_t n)
{
    if (lh_policy_push(p, LH_HOOK_PLACE) != 0)
        return NULL;
    lua_State *L = p->h->L;
    int top = lua_gettop(L) - 2;
    lh_core_push_actor(L, a);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lh_core_push_runner(L, cands[i]);
        lua_rawseti(L, -2, (int)i + 1);
    }
    if (lh_policy_call(p, "place", 3, 1) != 0)
        return NULL;
    eng_runner_t *chosen = NULL;
    const char *id = lua_tostring(L, -1);
    for (size_t i = 0; id && i < n; i++)
        if (strcmp(cands[i]->runner_id, id) == 0)
            chosen = cands[i];
    lua_settop(L, top);
    return chosen;
}
