/* The Lua host's lifecycle: lh_init followed by lh_close, on a loop and without one, and
 * lh_close closing the luv handles a script left open (started, idle, listening, already
 * closing) while it leaves alone the registry's userdata that are not handles. luv 1.44 reads
 * any userdata passed to uv.is_closing as a handle before checking its type, so closing the
 * wrong ones read the loop as a handle and crashed whenever loop->data was not NULL; the cases
 * below set it both ways so that the outcome never rests on luck. Run under valgrind by
 * tests/cmake/lua_host.cmake as well. */
#include "t.h"

#include <lauxlib.h>
#include <lua.h>
#include <uv.h>

#include "core/log.h"
#include "lua/host.h"

/* Close callbacks luv ran for handles whose script asked for one. */
static int lh_test_closed;

static int lh_test_count_close(lua_State *L)
{
    (void)L;
    lh_test_closed++;
    return 0;
}

/* Runs a chunk in the host's state; returns 0 when it ran without error. */
static int lh_test_run(lh_t *h, const char *src)
{
    if (luaL_loadstring(h->L, src) != 0) {
        fprintf(stderr, "chunk does not compile: %s\n", lua_tostring(h->L, -1));
        lua_pop(h->L, 1);
        return -1;
    }
    int rc = lh_pcall(h, 0, 0, "test chunk");
    if (rc != 0)
        lua_pop(h->L, 1);
    return rc;
}

/* A bare init and close leaves the loop empty; loop_data stands for whatever the embedding
 * program keeps in loop->data, which luv's context userdata points at first. */
static void lh_test_init_close(void *loop_data)
{
    uv_loop_t loop;
    CHECK_EQ_INT(uv_loop_init(&loop), 0);
    loop.data = loop_data;
    lh_t h;
    lh_init(&h, &loop);
    CHECK(h.L != NULL);
    lh_close(&h);
    CHECK(h.L == NULL);
    CHECK_EQ_INT(uv_loop_close(&loop), 0);
}

/* A state without luv (`sett check`) closes without touching any loop. */
static void lh_test_no_loop(void)
{
    lh_t h;
    lh_init(&h, NULL);
    CHECK(h.L != NULL);
    CHECK_EQ_INT(lh_test_run(&h, "assert(package.loaded.luv == nil)"), 0);
    lh_close(&h);
    CHECK(h.L == NULL);
    lh_close(&h);
}

/* A loop with loop_data in loop->data, a state on it, and `count_close` for scripts to pass
 * as a close callback that counts into lh_test_closed. */
static void lh_test_start(uv_loop_t *loop, void *loop_data, lh_t *h)
{
    CHECK_EQ_INT(uv_loop_init(loop), 0);
    loop->data = loop_data;
    lh_init(h, loop);
    lh_test_closed = 0;
    lua_pushcfunction(h->L, lh_test_count_close);
    lua_setglobal(h->L, "count_close");
}

/* Handles a script left open are all closed by lh_close, so the loop closes with none left
 * (uv_loop_close answers UV_EBUSY otherwise); a handle the script closed itself got its own
 * close callback once; a non-handle userdata in the registry, with and without a metatable, is
 * passed over. */
static void lh_test_open_handles(void *loop_data)
{
    uv_loop_t loop;
    lh_t h;
    lh_test_start(&loop, loop_data, &h);
    CHECK_EQ_INT(lh_test_run(&h,
                             "local uv = require 'luv'\n"
                             "local reg = debug.getregistry()\n"
                             "local t = uv.new_timer()\n"
                             "t:start(60000, 60000, function() end)\n"
                             "uv.new_timer()\n"
                             "local i = uv.new_idle()\n"
                             "i:start(function() end)\n"
                             "uv.new_check():start(function() end)\n"
                             "local s = uv.new_tcp()\n"
                             "assert(s:bind('127.0.0.1', 0))\n"
                             "assert(s:listen(8, function() end))\n"
                             "local a = uv.new_async(function() end)\n"
                             "local done = uv.new_timer()\n"
                             "done:close(count_close)\n"
                             "reg.lh_test_proxy = newproxy(true)\n"
                             "reg.lh_test_bare = newproxy(false)\n"),
                 0);
    /* One loop turn finishes the close of `done`, so luv has dropped its registry reference
     * before lh_close looks. */
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK_EQ_INT(lh_test_closed, 1);
    CHECK(uv_loop_alive(&loop));
    lh_close(&h);
    CHECK(h.L == NULL);
    CHECK_EQ_INT(lh_test_closed, 1);
    CHECK_EQ_INT(uv_loop_alive(&loop), 0);
    CHECK_EQ_INT(uv_loop_close(&loop), 0);
}

/* A handle whose close the script started but the loop has not finished yet is not closed a
 * second time (luv raises on that); lh_close's own loop turn runs its callback. */
static void lh_test_closing_at_close(void)
{
    uv_loop_t loop;
    lh_t h;
    lh_test_start(&loop, &loop, &h);
    CHECK_EQ_INT(lh_test_run(&h,
                             "local uv = require 'luv'\n"
                             "local t = uv.new_timer()\n"
                             "t:start(60000, 0, function() end)\n"
                             "t:close(count_close)\n"
                             "uv.new_timer():start(60000, 0, function() end)\n"),
                 0);
    CHECK_EQ_INT(lh_test_closed, 0);
    lh_close(&h);
    CHECK_EQ_INT(lh_test_closed, 1);
    CHECK_EQ_INT(uv_loop_close(&loop), 0);
}

int main(void)
{
    log_setup(LOG_WARN, 0);
    int token = 1;
    lh_test_init_close(NULL);
    lh_test_init_close(&token);
    lh_test_no_loop();
    lh_test_open_handles(NULL);
    lh_test_open_handles(&token);
    lh_test_closing_at_close();
    return T_DONE();
}
