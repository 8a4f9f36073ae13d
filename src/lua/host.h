/* The Lua host: one LuaJIT state with luv bound to sett's uv loop, the embedded `sett.*`
 * modules preloaded, and the parts of luv that would let a script drive or walk the shared loop
 * removed. */
#ifndef SETT_LUA_HOST_H
#define SETT_LUA_HOST_H

#include <stdint.h>
#include <uv.h>

struct lua_State;

typedef struct lh {
    struct lua_State *L;
    uv_loop_t *loop;
} lh_t;

/* Creates the state. A NULL loop gives a state without luv (for `sett check`). */
void lh_init(lh_t *h, uv_loop_t *loop);
/* Closes every luv handle still open, lets the loop run their close callbacks, and closes the
 * state; luv handles left open at lua_close would otherwise be freed under libuv's feet. */
void lh_close(lh_t *h);
/* Calls the function below nargs arguments on the stack in protected mode with a traceback;
 * on error logs it under `what` and returns non-zero with the message on the stack. */
int lh_pcall(lh_t *h, int nargs, int nresults, const char *what);
/* Calls the function below nargs arguments like lua_pcall with no message handler, but stops it
 * with the error "call exceeded its time budget" once it has run budget_ns (checked
 * every 1000 VM instructions, so only interpreted code is stopped). Inside another budgeted
 * call the earlier deadline of the two applies. Returns lua_pcall's code. */
int lh_pcall_budget(lh_t *h, int nargs, int nresults, uint64_t budget_ns);

#endif
