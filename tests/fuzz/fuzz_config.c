/* Fuzzes the configuration loader with arbitrary file text: what `sett check`, `sett run` and
 * every reload read. The text runs in the configuration sandbox and is validated; whatever
 * the file does (errors, loops, huge values, wrong types), loading returns ok or errors and
 * never crashes or hangs (a time budget stops a file that runs too long). A file that loads
 * yields values inside the schema's ranges, and merging it with a second load of itself
 * reports no changed key. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <lua.h>

#include "lua/config.h"
#include "lua/host.h"

static lh_t lua;
static char path[64];

static void remove_file(void)
{
    unlink(path);
}

static void check(const cfg_t *c)
{
    if (c->listen.port < 1 || c->listen.port > 65535 || !c->listen.host[0] ||
        c->admin_listen.port < 1 || c->admin_listen.port > 65535)
        abort();
    if (c->limits.max_header_bytes < 1024 || c->limits.max_message_bytes < 125 ||
        c->limits.idle_timeout_ms < 100)
        abort();
    if (!c->store.url || !c->store.prefix || !c->namespaces)
        abort();
    if ((c->tls.cert == NULL) != (c->tls.key == NULL))
        abort();
#define CHECK_BOUND(key, member) \
    if (c->timeout_bounds.key.min && c->timeout_bounds.key.max && \
        c->timeout_bounds.key.min > c->timeout_bounds.key.max) \
        abort();
    CFG_TIMEOUTS(CHECK_BOUND)
#undef CHECK_BOUND
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!path[0]) {
        lh_init(&lua, NULL);
        snprintf(path, sizeof path, "/tmp/sett-fuzz-config-%d.lua", (int)getpid());
        atexit(remove_file);
        /* A file that never ends costs the whole budget; a short one keeps fuzzing fast. */
        cfg_load_budget_ns = 300000000;
    }
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    fwrite(data, 1, size, f);
    fclose(f);
    cfg_t a, b;
    buf_t errors = BUF_INIT;
    if (cfg_load(&lua, path, &a, &errors) == 0) {
        if (errors.len)
            abort();
        check(&a);
        if (cfg_load(&lua, path, &b, &errors) == 0) {
            buf_t live = BUF_INIT, restart = BUF_INIT;
            cfg_merge(&a, &b, &live, &restart);
            /* os.time or os.getenv may differ between two loads; nothing else may. */
            if (restart.len && !memmem(data, size, "os.", 3))
                abort();
            buf_free(&live);
            buf_free(&restart);
            cfg_free(&b);
        }
        cfg_free(&a);
    } else if (errors.len == 0) {
        abort();
    }
    buf_free(&errors);
    lua_gc(lua.L, LUA_GCCOLLECT, 0);
    return 0;
}
