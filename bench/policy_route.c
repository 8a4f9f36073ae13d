/* policy-route: nanoseconds per call of a policy's route hook, the Lua half of scenario 7 of
 * `make bench` without the network around it, so that a policy's cost can be read apart from
 * the noise of wrk and the runner.
 *
 *   policy-route [--iters N] [POLICY.lua ...]
 *
 * Without paths it takes the four policies in examples/policies. A no-op policy whose route
 * answers nil always runs first: its figure is the fixed cost of crossing into Lua and back.
 * Every policy is timed on a request that falls through to the built-in routes, and the
 * policies known to route something also on a request they route. Each case prints one line on
 * stdout (logs go to stderr):
 *
 *   policy=NAME case=routed|fallthrough ns_per_call=N kind=builtin|actor|create|respond
 *
 * A policy without a route hook prints kind=no_route_hook and the cost of finding that out.
 * After the no-op policy come two of the per-request features, each beside that baseline: `ctx`,
 * whose route returns an actor id and a ctx table that a timeouts(actor, req) hook takes, so the
 * request table is kept in a registry slot and released as the gateway does; and `authorize`,
 * an authorize hook that answers true, timed as the gateway asks it for a request route() did
 * not see (the request table built for it), case=authorize kind=allow.
 * Exits 1 when a routed case falls through, a fall-through case is routed, or the answer
 * changes during the run (a hook that fails falls back to builtin); 2 on a usage or load error. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "bus/bus.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/metrics.h"
#include "engine/engine.h"
#include "lua/core.h"
#include "lua/host.h"
#include "lua/policy.h"
#include "net/http_req.h"
#include "net/url.h"
#include "store/store_memory.h"

/* The request no example routes: scenario 7's /gateway/ID/x, with the headers curl sends,
 * because the hook's argument table grows with every header. */
static const char pr_fallthrough[] = "GET /gateway/0123456789abcdef/x HTTP/1.1\r\n"
                                     "Host: 127.0.0.1:6420\r\nUser-Agent: curl/8.5.0\r\n"
                                     "Accept: */*\r\n\r\n";

/* A request each example with a route hook routes, the first one its spec checks. */
static const struct {
    const char *policy;
    const char *raw;
} pr_routed[] = {
    { "host_routes", "GET /rooms/blue/messages HTTP/1.1\r\nHost: chat.example.com\r\n"
                     "User-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n" },
    { "rooms", "GET /rooms/bench/x HTTP/1.1\r\nHost: 127.0.0.1:6420\r\n"
               "User-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n" },
    { "ctx", "GET /rooms/bench/x HTTP/1.1\r\nHost: 127.0.0.1:6420\r\n"
             "User-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n" },
};

static const char *const pr_kinds[] = { "builtin", "actor", "create", "respond" };

static const char pr_noop_src[] =
    "return { name = \"noop\", route = function(req) return nil end }\n";

static const char pr_ctx_src[] =
    "return { name = \"ctx\",\n"
    "  route = function(req)\n"
    "    if req.path == '/rooms/bench/x' then return 'actor-1', { tenant = req.headers.host } end\n"
    "  end,\n"
    "  timeouts = function(actor, req) return nil end }\n";

static const char pr_authorize_src[] =
    "return { name = \"authorize\", authorize = function(req, target) return true end }\n";

/* One request's policy step exactly as rt_on_request takes it: the has check, the call,
 * and freeing the answer. Returns the answer's kind. */
static enum lh_route_kind pr_once(lh_policy_t *p, const hreq *req, const url_parts *u)
{
    if (!lh_policy_has(p, "route"))
        return LH_ROUTE_BUILTIN;
    lh_route_t r;
    lh_policy_route(p, req, u, "127.0.0.1", &r);
    enum lh_route_kind k = r.kind;
    lh_policy_req_free(p, r.req);
    lh_route_free(&r);
    return k;
}

/* The authorize step of gw_forward for a request route() did not see: its table is built,
 * the hook asked, the table released. Returns whether it allowed. */
static bool pr_authorize_once(lh_policy_t *p, const hreq *req, const eng_actor_t *a)
{
    int lreq = lh_policy_wants_req(p, false) ? lh_policy_req_new(p, req, "127.0.0.1") : LH_REQ_NONE;
    lh_route_t r;
    bool ok = lh_policy_authorize(p, lreq, req, "127.0.0.1", a, &r);
    lh_route_free(&r);
    lh_policy_req_free(p, lreq);
    return ok;
}

static double pr_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Parses raw, warms the hook up (so LuaJIT has compiled what it will compile), times iters
 * calls and prints the line. Returns 0, or 1 when the answer is not the expected one. */
static int pr_case(lh_policy_t *p, const char *name, const char *raw, int routed, long iters)
{
    hreq req;
    hreq_init(&req);
    size_t used;
    if (hreq_feed(&req, raw, strlen(raw), &used) != HREQ_DONE) {
        fprintf(stderr, "policy-route: %s: the %s request does not parse\n", name,
                routed ? "routed" : "fall-through");
        hreq_free(&req);
        return 1;
    }
    url_parts u;
    url_split((const char *)req.url.p, req.url.len, &u);
    bool hook = lh_policy_has(p, "route");
    enum lh_route_kind kind = pr_once(p, &req, &u);
    for (long i = 0; i < iters / 10 + 1000; i++)
        pr_once(p, &req, &u);
    long changed = 0;
    double t0 = pr_now_ns();
    for (long i = 0; i < iters; i++)
        changed += pr_once(p, &req, &u) != kind;
    double ns = (pr_now_ns() - t0) / (double)iters;
    hreq_free(&req);
    printf("policy=%s case=%s ns_per_call=%.1f kind=%s\n", name,
           routed ? "routed" : "fallthrough", ns, hook ? pr_kinds[kind] : "no_route_hook");
    fflush(stdout);
    if (changed) {
        fprintf(stderr, "policy-route: %s: %ld answers differed from the first\n", name, changed);
        return 1;
    }
    if ((kind != LH_ROUTE_BUILTIN) != (routed != 0)) {
        fprintf(stderr, "policy-route: %s: the %s request got kind %s\n", name,
                routed ? "routed" : "fall-through", pr_kinds[kind]);
        return 1;
    }
    return 0;
}

/* Times the authorize policy on the fall-through request; returns 0, or 1 when it refused. */
static int pr_authorize_case(lh_policy_t *p, long iters)
{
    hreq req;
    hreq_init(&req);
    size_t used;
    if (hreq_feed(&req, pr_fallthrough, strlen(pr_fallthrough), &used) != HREQ_DONE) {
        hreq_free(&req);
        return 1;
    }
    eng_ns_t ns = { .name = "default" };
    eng_actor_t a = { .actor_id = "0123456789abcdef", .ns = &ns, .name = "room" };
    for (long i = 0; i < iters / 10 + 1000; i++)
        pr_authorize_once(p, &req, &a);
    long refused = 0;
    double t0 = pr_now_ns();
    for (long i = 0; i < iters; i++)
        refused += !pr_authorize_once(p, &req, &a);
    double ns_per = (pr_now_ns() - t0) / (double)iters;
    hreq_free(&req);
    printf("policy=authorize case=authorize ns_per_call=%.1f kind=%s\n", ns_per,
           refused ? "refused" : "allow");
    fflush(stdout);
    if (refused)
        fprintf(stderr, "policy-route: authorize: %ld calls refused\n", refused);
    return refused != 0;
}

/* Loads one policy and runs its cases. The load goes through reload_from rather than
 * lh_policy_new's path because only the reload says whether the file loaded, and a file that
 * did not would otherwise look like a policy without a route hook. */
static int pr_policy(lh_t *h, eng_t *eng, const char *name, const char *path, long iters)
{
    lh_policy_t *p = lh_policy_new(h, eng, NULL, 5);
    buf_t err = BUF_INIT;
    if (lh_policy_reload_from(p, path, &err) != 0) {
        fprintf(stderr, "policy-route: %s: %s\n", path, (const char *)err.data);
        buf_free(&err);
        lh_policy_free(p);
        return 2;
    }
    buf_free(&err);
    if (strcmp(name, "authorize") == 0) {
        int arc = pr_authorize_case(p, iters);
        lh_policy_free(p);
        return arc;
    }
    int rc = pr_case(p, name, pr_fallthrough, 0, iters);
    const char *routed = NULL;
    for (size_t i = 0; i < sizeof pr_routed / sizeof pr_routed[0]; i++)
        if (strcmp(pr_routed[i].policy, name) == 0)
            routed = pr_routed[i].raw;
    if (routed)
        rc |= pr_case(p, name, routed, 1, iters);
    else if (lh_policy_has(p, "route") && strcmp(name, "noop") != 0)
        fprintf(stderr, "policy-route: %s: no routed request known; fall-through only\n", name);
    lh_policy_free(p);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = { { "iters", required_argument, NULL, 'n' },
                                          { NULL, 0, NULL, 0 } };
    long iters = 1000000;
    int c;
    while ((c = getopt_long(argc, argv, "n:", opts, NULL)) != -1) {
        if (c != 'n' || (iters = strtol(optarg, NULL, 10)) <= 0) {
            fprintf(stderr, "usage: policy-route [--iters N] [POLICY.lua ...]\n");
            return 2;
        }
    }
    static const char *const defaults[] = {
        SETT_SOURCE_DIR "/examples/policies/host_routes.lua",
        SETT_SOURCE_DIR "/examples/policies/rooms.lua",
        SETT_SOURCE_DIR "/examples/policies/runner_pools.lua",
        SETT_SOURCE_DIR "/examples/policies/timeouts.lua",
    };
    const char *const *paths = optind < argc ? (const char *const *)argv + optind : defaults;
    int npaths = optind < argc ? argc - optind : 4;

    char noop[] = "/tmp/policy-route-noop-XXXXXX.lua";
    char ctx[] = "/tmp/policy-route-ctx-XXXXXX.lua";
    char authz[] = "/tmp/policy-route-authorize-XXXXXX.lua";
    struct {
        char *path;
        const char *src;
        size_t len;
    } synth[] = { { noop, pr_noop_src, sizeof pr_noop_src - 1 },
                  { ctx, pr_ctx_src, sizeof pr_ctx_src - 1 },
                  { authz, pr_authorize_src, sizeof pr_authorize_src - 1 } };
    for (size_t i = 0; i < sizeof synth / sizeof synth[0]; i++) {
        int fd = mkstemps(synth[i].path, 4);
        if (fd < 0 || write(fd, synth[i].src, synth[i].len) != (ssize_t)synth[i].len) {
            perror("policy-route: a built-in policy");
            return 2;
        }
        close(fd);
    }

    /* The same surroundings as the gateway's: a Lua host on the loop with sett.core reading a
     * real engine over the memory store, so sett.* calls in a hook cost what they cost there. */
    log_setup(LOG_WARN, 0);
    uv_loop_t loop;
    uv_loop_init(&loop);
    lh_t h;
    lh_init(&h, &loop);
    store_t *store = store_memory_new(&loop);
    bus_t *bus = bus_new();
    eng_config_t ecfg = ENG_CONFIG_DEFAULT;
    eng_t *eng = eng_new(&loop, store, bus, &ecfg);
    lh_core_set_engine(h.L, eng);

    int rc = pr_policy(&h, eng, "noop", noop, iters);
    if (rc < 2)
        rc |= pr_policy(&h, eng, "ctx", ctx, iters);
    if (rc < 2)
        rc |= pr_policy(&h, eng, "authorize", authz, iters);
    for (int i = 0; i < npaths && rc < 2; i++) {
        const char *base = strrchr(paths[i], '/') ? strrchr(paths[i], '/') + 1 : paths[i];
        size_t n = strlen(base);
        char name[128];
        if (n > 4 && strcmp(base + n - 4, ".lua") == 0)
            n -= 4;
        snprintf(name, sizeof name, "%.*s", (int)n, base);
        rc |= pr_policy(&h, eng, name, paths[i], iters);
    }

    unlink(noop);
    unlink(ctx);
    unlink(authz);
    lh_core_set_engine(h.L, NULL);
    eng_free(eng);
    store_close(store, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    bus_free(bus);
    lh_close(&h);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    met_free_all();
    return rc > 1 ? 2 : rc;
}
