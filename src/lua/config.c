#include "lua/config.h"
#include "core/alloc.h"

#include <assert.h>
#include <lauxlib.h>
#include <lua.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t cfg_load_budget_ns = (uint64_t)10000000000;

/* Every key of the schema, from the generated CFG_KEYS: loading, freeing and a reload's
 * comparison all walk this one table. */
static const struct cfg_key {
    const char *path; /* as in the file: "gateway.retries" */
    const char *name; /* what a reload reports when the value changes */
    size_t off;       /* of the member in cfg_t */
    enum cfg_kind kind;
    int restart;        /* a reload keeps the running value */
    const char *values; /* CFG_ENUM: the names, each ended by a NUL, then an empty one */
} cfg_keys[] = {
#define CFG_KEY(path, member, kind, restart, name, values) \
    { path, name, offsetof(cfg_t, member), kind, restart, values },
    CFG_KEYS(CFG_KEY)
#undef CFG_KEY
};

static size_t cfg_kind_size(enum cfg_kind kind)
{
    switch (kind) {
    case CFG_INT: return sizeof(uint64_t);
    case CFG_BOOL:
    case CFG_ENUM: return sizeof(int);
    case CFG_STR: return sizeof(char *);
    case CFG_ADDR: return sizeof(cfg_addr_t);
    case CFG_LIST: return sizeof(char **);
    }
    assert(0 && "a kind the generator does not emit");
    return 0;
}

/* Pushes the value at a dotted path below the table on top of the stack (nil if absent). */
static void cfg_push_path(lua_State *L, const char *path)
{
    char key[64];
    lua_pushvalue(L, -1);
    while (*path) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        assert(n < sizeof key);
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

/* The index of s among an enum's values; sett.config has checked that it is one of them. */
static int cfg_enum_index(const char *values, const char *s)
{
    if (!s)
        return 0;
    int i = 0;
    for (const char *v = values; *v; v += strlen(v) + 1, i++)
        if (strcmp(v, s) == 0)
            return i;
    assert(0 && "sett.config let through a value its enum does not have");
    return 0;
}

/* "a.b.c.d:port", which sett.config has checked. */
static void cfg_parse_addr(const char *s, cfg_addr_t *a)
{
    if (!s)
        return;
    const char *colon = strrchr(s, ':');
    assert(colon && (size_t)(colon - s) < sizeof a->host);
    if (!colon)
        return;
    snprintf(a->host, sizeof a->host, "%.*s", (int)(colon - s), s);
    a->port = atoi(colon + 1);
}

static char **cfg_list(lua_State *L)
{
    size_t n = lua_istable(L, -1) ? lua_objlen(L, -1) : 0;
    char **list = sx_calloc(n + 1, sizeof *list);
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, -1, (int)i + 1);
        list[i] = sx_strdup(lua_tostring(L, -1));
        lua_pop(L, 1);
    }
    return list;
}

/* Copies one key from the configuration table on top of the stack. */
static void cfg_load_key(lua_State *L, const struct cfg_key *k, cfg_t *out)
{
    void *dst = (char *)out + k->off;
    cfg_push_path(L, k->path);
    switch (k->kind) {
    case CFG_INT: *(uint64_t *)dst = (uint64_t)lua_tonumber(L, -1); break;
    case CFG_BOOL: *(int *)dst = lua_toboolean(L, -1); break;
    case CFG_STR:
        *(char **)dst = lua_isstring(L, -1) ? sx_strdup(lua_tostring(L, -1)) : NULL;
        break;
    case CFG_ENUM: *(int *)dst = cfg_enum_index(k->values, lua_tostring(L, -1)); break;
    case CFG_ADDR: cfg_parse_addr(lua_tostring(L, -1), dst); break;
    case CFG_LIST: *(char ***)dst = cfg_list(L); break;
    }
    lua_pop(L, 1);
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
    const int table = lua_gettop(L);
    for (size_t i = 0; i < sizeof cfg_keys / sizeof cfg_keys[0]; i++) {
        cfg_load_key(L, &cfg_keys[i], out);
        assert(lua_gettop(L) == table);
    }
    (void)table; /* read only by the assert */
    /* The policy's options are Lua data for the policy alone: they stay in the state, where the
     * next policy load (lh_policy) takes them, rather than in cfg_t. */
    lua_getfield(L, table, "policy_options");
    lua_setfield(L, LUA_REGISTRYINDEX, CFG_POLICY_OPTIONS);
    lua_getfield(L, table, "policy_read_dirs");
    lua_setfield(L, LUA_REGISTRYINDEX, CFG_POLICY_READ_DIRS);
    lua_settop(L, top);
    return 0;
}

void cfg_free(cfg_t *c)
{
    for (size_t i = 0; i < sizeof cfg_keys / sizeof cfg_keys[0]; i++) {
        void *v = (char *)c + cfg_keys[i].off;
        if (cfg_keys[i].kind == CFG_STR) {
            free(*(char **)v);
            *(char **)v = NULL;
        } else if (cfg_keys[i].kind == CFG_LIST) {
            for (char **p = *(char ***)v; p && *p; p++)
                free(*p);
            free(*(char ***)v);
            *(char ***)v = NULL;
        }
    }
}

/* ---- Reload ---- */

static int cfg_same(const void *a, const void *b, enum cfg_kind kind)
{
    switch (kind) {
    case CFG_STR: {
        const char *x = *(char *const *)a, *y = *(char *const *)b;
        return x == y || (x && y && strcmp(x, y) == 0);
    }
    case CFG_LIST: {
        char *const *x = *(char **const *)a, *const *y = *(char **const *)b;
        while (x && y && *x && *y && strcmp(*x, *y) == 0)
            x++, y++;
        return !(x && *x) && !(y && *y);
    }
    default: return memcmp(a, b, cfg_kind_size(kind)) == 0;
    }
}

static void cfg_swap(void *a, void *b, enum cfg_kind kind)
{
    size_t n = cfg_kind_size(kind);
    unsigned char tmp[sizeof(cfg_addr_t)];
    assert(n <= sizeof tmp);
    memcpy(tmp, a, n);
    memcpy(a, b, n);
    memcpy(b, tmp, n);
}

void cfg_merge(cfg_t *running, cfg_t *next, buf_t *live, buf_t *restart)
{
    const char *last = NULL; /* the name last reported, so that a one_key table is named once */
    for (size_t i = 0; i < sizeof cfg_keys / sizeof cfg_keys[0]; i++) {
        const struct cfg_key *k = &cfg_keys[i];
        void *a = (char *)running + k->off, *b = (char *)next + k->off;
        int same = cfg_same(a, b, k->kind);
        if (!same && (!last || strcmp(last, k->name) != 0)) {
            buf_t *to = k->restart ? restart : live;
            buf_append(to, k->name, strlen(k->name) + 1);
            last = k->name;
        }
        /* A restart-only key keeps what runs; its string moves so pointers stay valid. */
        if (k->restart && (!same || k->kind == CFG_STR || k->kind == CFG_LIST))
            cfg_swap(a, b, k->kind);
    }
}
