#include "lua/host.h"
#include "lua/core.h"
#include "lua/embed.h"
#include "core/log.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <lua5.1/luv/luv.h>

static int lh_traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    luaL_traceback(L, L, msg ? msg : "(error object is not a string)", 1);
    return 1;
}

/* The deadline of the budgeted call running now (lh_pcall_budget), or 0 outside one. Calls on the
 * loop thread never overlap, and a nested budgeted call restores the outer deadline, so one
 * value serves every state. */
static uint64_t lh_budget_deadline;

/* The count hook of budgeted calls: every LH_BUDGET_COUNT VM instructions it compares the clock
 * with the deadline, so a runaway hook is stopped within microseconds of it. Outside a budgeted
 * call the hook is only parked (see lh_pcall_budget) and removes itself the first time it fires
 * there, so no other code pays for it or is stopped by it. */
#define LH_BUDGET_COUNT 1000

static void lh_budget_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    if (lh_budget_deadline == 0) {
        lua_sethook(L, NULL, 0, 0);
        return;
    }
    if (uv_hrtime() > lh_budget_deadline)
        luaL_error(L, "call exceeded its time budget");
}

/* Removes a parked budget hook before code without a budget runs: the time check would be a
 * waste there, and a script's debug.gethook would find a hook it cannot put back. Inside a
 * budgeted call the hook stays, so nested code stays under the outer call's budget. */
static void lh_budget_unpark(lua_State *L)
{
    if (lh_budget_deadline == 0 && lua_gethook(L) == lh_budget_hook)
        lua_sethook(L, NULL, 0, 0);
}

int lh_pcall_budget(lh_t *h, int nargs, int nresults, uint64_t budget_ns)
{
    lua_State *L = h->L;
    uint64_t outer = lh_budget_deadline;
    uint64_t deadline = uv_hrtime() + budget_ns;
    if (outer != 0 && outer < deadline)
        deadline = outer;
    /* Installing or removing a hook makes LuaJIT rewrite its dispatch table, which cost more
     * than the rest of a short call; so the hook is installed once and left parked between
     * budgeted calls, and only the deadline changes per call. */
    if (lua_gethook(L) != lh_budget_hook || lua_gethookmask(L) != LUA_MASKCOUNT ||
        lua_gethookcount(L) != LH_BUDGET_COUNT)
        lua_sethook(L, lh_budget_hook, LUA_MASKCOUNT, LH_BUDGET_COUNT);
    lh_budget_deadline = deadline;
    int rc = lua_pcall(L, nargs, nresults, 0);
    lh_budget_deadline = outer;
    return rc;
}

/* luv's default callback handler exits the process on a Lua error; sett logs it instead, so a
 * faulty script timer can never take the gateway down. */
static int lh_luv_pcall(lua_State *L, int nargs, int nresults, int flags)
{
    lh_budget_unpark(L);
    int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, lh_traceback);
    lua_insert(L, base);
    int rc = lua_pcall(L, nargs, nresults, base);
    lua_remove(L, base);
    if (rc != 0) {
        log_error("lua callback failed", LF_S("error", lua_tostring(L, -1)));
        lua_pop(L, 1);
        return -rc;
    }
    return nresults == LUA_MULTRET ? lua_gettop(L) - base + 1 : nresults;
}

int lh_pcall(lh_t *h, int nargs, int nresults, const char *what)
{
    lua_State *L = h->L;
    lh_budget_unpark(L);
    int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, lh_traceback);
    lua_insert(L, base);
    int rc = lua_pcall(L, nargs, nresults, base);
    lua_remove(L, base);
    if (rc != 0)
        log_error("lua call failed", LF_S("what", what), LF_S("error", lua_tostring(L, -1)));
    return rc;
}

void lh_init(lh_t *h, uv_loop_t *loop)
{
    lua_State *L = luaL_newstate();
    if (!L) {
        log_error("cannot create the Lua state");
        abort();
    }
    luaL_openlibs(L);
    h->L = L;
    h->loop = loop;
    lh_preload(L);
    if (!loop)
        return;
    /* Only a serving host has a core to offer; `sett check` and busted use the stand-ins. */
    lh_core_preload(L);

    luv_set_loop(L, loop);
    luv_set_callback(L, lh_luv_pcall);
    luaopen_luv(L);
    /* The loop belongs to the host: running, stopping or reconfiguring it from a script would
     * re-enter uv_run, and uv.walk would hand lws and hiredis handles to luv as its own. */
    static const char *const hidden[] = { "run",        "stop",           "walk",
                                          "loop_close", "loop_configure", "loop_alive",
                                          NULL };
    for (int i = 0; hidden[i]; i++) {
        lua_pushnil(L);
        lua_setfield(L, -2, hidden[i]);
    }
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "loaded");
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "luv");
    lua_pop(L, 3);
}

/* Closes luv handles the scripts left open: luv keeps one registry reference per live handle.
 * The registry also holds userdata that are not handles (luv's own luv_context, at least), and
 * luv's handle check in 1.44 dereferences the userdata as a handle before it looks at the
 * metatable, so such a value passed to uv.is_closing reads the loop as a handle and can crash.
 * A value is therefore taken as a handle only when its metatable is one of those luv lists in
 * registry.uv_handle (the metatables uv_timer, uv_tcp and the other handle types share). The
 * calls stay protected so that one handle luv refuses cannot leave the rest open. */
static const char lh_close_handles[] =
    "local uv = require 'luv'\n"
    "local reg = debug.getregistry()\n"
    "local handle_mts = reg.uv_handle\n"
    "if type(handle_mts) ~= 'table' then return end\n"
    "local getmt = debug.getmetatable\n"
    "for _, v in pairs(reg) do\n"
    "  if type(v) == 'userdata' then\n"
    "    local mt = getmt(v)\n"
    "    if mt ~= nil and handle_mts[mt] == true then\n"
    "      local ok, closing = pcall(uv.is_closing, v)\n"
    "      if ok and closing == false then pcall(uv.close, v) end\n"
    "    end\n"
    "  end\n"
    "end\n";

void lh_close(lh_t *h)
{
    if (!h->L)
        return;
    lh_budget_unpark(h->L);
    if (h->loop) {
        if (luaL_loadbuffer(h->L, lh_close_handles, sizeof lh_close_handles - 1, "=lh_close") == 0)
            lh_pcall(h, 0, 0, "close luv handles");
        else
            lua_pop(h->L, 1);
        /* Their close callbacks read luv state, so they must run before lua_close. */
        uv_run(h->loop, UV_RUN_NOWAIT);
    }
    lua_close(h->L);
    h->L = NULL;
}
