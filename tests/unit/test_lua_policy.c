/* The policy calls from C: which hooks a policy has (read once per load and changed only by a
 * reload that takes effect), the request table route() sees and each kind of answer, the other
 * hooks, and the time budget: a runaway hook is stopped and the built-in behaviour answers,
 * while the hook that enforces it never stops or shows itself to code run without a budget
 * (a script's debug.gethook, a reload's own load budget). */
#include "t.h"

#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/metrics.h"
#include "lua/config.h"
#include "lua/host.h"
#include "lua/policy.h"
#include "net/http_req.h"
#include "net/url.h"

static char lp_path[] = "/tmp/sett-test-policy-XXXXXX.lua";

/* Replaces the policy file's text. */
static void lp_write(const char *src)
{
    FILE *f = fopen(lp_path, "wb");
    CHECK(f != NULL);
    if (!f)
        return;
    fputs(src, f);
    fclose(f);
}

static int lp_reload(lh_policy_t *p)
{
    buf_t err = BUF_INIT;
    int rc = lh_policy_reload_from(p, lp_path, &err);
    if (rc != 0)
        fprintf(stderr, "reload: %s\n", err.len ? (const char *)err.data : "?");
    buf_free(&err);
    return rc;
}

/* Asks route() about one raw request and returns the answer (the caller frees it). */
static void lp_route(lh_policy_t *p, const char *raw, lh_route_t *out)
{
    hreq req;
    hreq_init(&req);
    size_t used;
    CHECK_EQ_INT(hreq_feed(&req, raw, strlen(raw), &used), HREQ_DONE);
    url_parts u;
    url_split((const char *)req.url.p, req.url.len, &u);
    lh_policy_route(p, &req, &u, "10.0.0.7:5555", out);
    hreq_free(&req);
}

static double lp_now_ms(void)
{
    return (double)uv_hrtime() / 1e6;
}

static const char lp_policy_v1[] =
    "return {\n"
    "  name = 'v1',\n"
    "  route = function(req)\n"
    "    if req.path == '/a' then return 'actor-1' end\n"
    "    if req.path == '/echo' then\n"
    "      local names = {}\n"
    "      for k in pairs(req.headers) do names[#names + 1] = k end\n"
    "      table.sort(names)\n"
    "      return { status = 201, headers = { ['x-v'] = '1' },\n"
    "               body = table.concat({ req.method, req.path, req.query, req.host, req.peer,\n"
    "                                     req.headers['user-agent'], table.concat(names, ',') }, '|') }\n"
    "    end\n"
    "    if req.path == '/c' then\n"
    "      return { name = 'room', key = 'k1', runner = 'pool', crash_policy = 'sleep', input = 'in' }\n"
    "    end\n"
    "    if req.path == '/cns' then return { name = 'room', namespace = 'tenant-a' } end\n"
    "    if req.path == '/json' then\n"
    "      local json = require 'sett.json'\n"
    "      local v = assert(require('sett').json.decode('{\"b\":[1,null,\"\\\\u00e9\"]}'))\n"
    "      return { status = 200, body = json.encode({ q = req.query, v = v, e = json.array() }) }\n"
    "    end\n"
    "    if req.path == '/bad' then return 42 end\n"
    "    if req.path == '/spin' then while true do end end\n"
    "    return nil\n"
    "  end,\n"
    "  can_hibernate = function(actor, req, says) return req.path == '/sleepy' end,\n"
    "  auto_response = function(actor, msg, binary) if msg == 'ping' then return 'pong:' .. actor.name end end,\n"
    "}\n";

static const char lp_policy_v2[] =
    "return { name = 'v2', timeouts = function(actor, d) return { ping_interval_ms = 2000 } end }\n";

static void lp_test_no_policy(lh_t *h)
{
    lh_policy_t *p = lh_policy_new(h, NULL, NULL, 20);
    CHECK(!lh_policy_has(p, "route"));
    CHECK(!lh_policy_has(NULL, "route"));
    lh_route_t r;
    lp_route(p, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    CHECK_EQ_INT(r.kind, LH_ROUTE_BUILTIN);
    lh_route_free(&r);
    lh_policy_free(p);
}

static void lp_test_answers(lh_t *h)
{
    lp_write(lp_policy_v1);
    lh_policy_t *p = lh_policy_new(h, NULL, lp_path, 20);
    CHECK(lh_policy_has(p, "route"));
    CHECK(lh_policy_has(p, "can_hibernate"));
    CHECK(lh_policy_has(p, "auto_response"));
    CHECK(!lh_policy_has(p, "place"));
    CHECK(!lh_policy_has(p, "timeouts"));
    CHECK(!lh_policy_has(p, "self_test"));
    CHECK(!lh_policy_has(p, "bogus"));

    lh_route_t r;
    lp_route(p, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    CHECK_EQ_INT(r.kind, LH_ROUTE_ACTOR);
    CHECK(r.actor_id && strcmp(r.actor_id, "actor-1") == 0);
    lh_route_free(&r);

    /* The request table: method, path, query, the first Host, the peer, and the headers by
     * lowercased name. */
    lp_route(p,
             "POST /echo?x=1&y=2 HTTP/1.1\r\nHost: one.example\r\nUser-Agent: t/1\r\n"
             "X-Mixed-Case: v\r\nhost: two.example\r\nContent-Length: 0\r\n\r\n",
             &r);
    CHECK_EQ_INT(r.kind, LH_ROUTE_RESPOND);
    CHECK_EQ_INT(r.status, 201);
    static const char want[] =
        "POST|/echo|x=1&y=2|one.example|10.0.0.7:5555|t/1|"
        "content-length,host,user-agent,x-mixed-case";
    CHECK_EQ_INT(r.body.len, sizeof want - 1);
    if (r.body.len == sizeof want - 1)
        CHECK_MEM(r.body.data, want, sizeof want - 1);
    else
        fprintf(stderr, "body: %.*s\n", (int)r.body.len, (const char *)r.body.data);
    CHECK(r.headers.data && strcmp((const char *)r.headers.data, "x-v: 1\r\n") == 0);
    lh_route_free(&r);

    /* No Host header: host is the empty string. */
    lp_route(p, "GET /echo HTTP/1.0\r\nUser-Agent: t/2\r\n\r\n", &r);
    static const char want0[] = "GET|/echo|||10.0.0.7:5555|t/2|user-agent";
    CHECK_EQ_INT(r.body.len, sizeof want0 - 1);
    if (r.body.len == sizeof want0 - 1)
        CHECK_MEM(r.body.data, want0, sizeof want0 - 1);
    else
        fprintf(stderr, "body: %.*s\n", (int)r.body.len, (const char *)r.body.data);
    lh_route_free(&r);

    lp_route(p, "GET /c HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    CHECK_EQ_INT(r.kind, LH_ROUTE_CREATE);
    CHECK(r.create.name && strcmp(r.create.name, "room") == 0);
    CHECK(r.create.key && strcmp(r.create.key, "k1") == 0);
    CHECK(r.create.runner_name_selector && strcmp(r.create.runner_name_selector, "pool") == 0);
    CHECK_EQ_INT(r.create.crash_policy, STORE_CRASH_SLEEP);
    CHECK(r.create.has_input && r.create.input_len == 2 && memcmp(r.create.input, "in", 2) == 0);
    CHECK(r.create.namespace_name && strcmp(r.create.namespace_name, "default") == 0);
    lh_route_free(&r);

    /* A get-or-create target may name its namespace. */
    lp_route(p, "GET /cns HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    CHECK_EQ_INT(r.kind, LH_ROUTE_CREATE);
    CHECK(r.create.namespace_name && strcmp(r.create.namespace_name, "tenant-a") == 0);
    CHECK(!r.create.key && !r.create.runner_name_selector && !r.create.has_input);
    lh_route_free(&r);

    /* The host gives policies sett.json, as require "sett.json" and as sett.json. */
    lp_route(p, "GET /json?k=1 HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    CHECK_EQ_INT(r.kind, LH_ROUTE_RESPOND);
    static const char wantj[] = "{\"e\":[],\"q\":\"k=1\",\"v\":{\"b\":[1,null,\"\xc3\xa9\"]}}";
    CHECK_EQ_INT(r.body.len, sizeof wantj - 1);
    if (r.body.len == sizeof wantj - 1)
        CHECK_MEM(r.body.data, wantj, sizeof wantj - 1);
    else
        fprintf(stderr, "body: %.*s\n", (int)r.body.len, (const char *)r.body.data);
    lh_route_free(&r);

    /* A wrong answer is an error: the built-in routing answers. */
    lp_route(p, "GET /bad HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    CHECK_EQ_INT(r.kind, LH_ROUTE_BUILTIN);
    lh_route_free(&r);
    lp_route(p, "GET /other HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    CHECK_EQ_INT(r.kind, LH_ROUTE_BUILTIN);
    lh_route_free(&r);

    eng_ns_t ns = { .name = "default" };
    eng_actor_t a = { .actor_id = "actor-1", .ns = &ns, .name = "chat" };
    CHECK(lh_policy_can_hibernate(p, &a, LH_REQ_NONE, "/sleepy", false));
    CHECK(!lh_policy_can_hibernate(p, &a, LH_REQ_NONE, "/awake", true));
    buf_t out = BUF_INIT;
    CHECK(lh_policy_auto_response(p, &a, LH_REQ_NONE, (const uint8_t *)"ping", 4, false, &out));
    CHECK(out.len == 9 && memcmp(out.data, "pong:chat", 9) == 0);
    buf_free(&out);
    CHECK(!lh_policy_auto_response(p, &a, LH_REQ_NONE, (const uint8_t *)"other", 5, false, &out));
    buf_free(&out);
    lh_timeouts_t to = { 3000, 10000, 15000, 30000, 90000, 1048576, 30000 };
    lh_policy_timeouts(p, &a, LH_REQ_NONE, &to);
    CHECK_EQ_INT(to.ping_interval_ms, 3000);

    /* A reload to a policy with other hooks changes what has() answers and what is asked. */
    lp_write(lp_policy_v2);
    CHECK_EQ_INT(lp_reload(p), 0);
    CHECK(!lh_policy_has(p, "route"));
    CHECK(!lh_policy_has(p, "can_hibernate"));
    CHECK(lh_policy_has(p, "timeouts"));
    lp_route(p, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    CHECK_EQ_INT(r.kind, LH_ROUTE_BUILTIN);
    lh_route_free(&r);
    CHECK(lh_policy_can_hibernate(p, &a, LH_REQ_NONE, "/awake", true));
    lh_policy_timeouts(p, &a, LH_REQ_NONE, &to);
    CHECK_EQ_INT(to.ping_interval_ms, 2000);

    /* A refused reload leaves the old policy and its hooks. */
    lp_write("return { route = function( end }");
    CHECK(lp_reload(p) != 0);
    CHECK(!lh_policy_has(p, "route"));
    CHECK(lh_policy_has(p, "timeouts"));

    /* Removing the policy leaves no hook. */
    buf_t err = BUF_INIT;
    CHECK_EQ_INT(lh_policy_reload_from(p, NULL, &err), 0);
    buf_free(&err);
    CHECK(!lh_policy_has(p, "timeouts"));
    lh_policy_free(p);
}

/* Runs a chunk without a budget through lh_pcall; returns its code. */
/* A loop of interpreted code for 60 ms (compiled traces never call hooks, so the JIT is off). */
static const char lp_busy[] =
    "local function busy()\n"
    "  local t = os.clock() while os.clock() - t < 0.06 do end\n"
    "end\n"
    "jit.off(busy)\n"
    "busy()\n";

static int lp_run(lh_t *h, const char *src)
{
    CHECK_EQ_INT(luaL_loadstring(h->L, src), 0);
    int rc = lh_pcall(h, 0, 0, "test chunk");
    if (rc != 0)
        lua_pop(h->L, 1);
    return rc;
}

static void lp_test_budget(lh_t *h)
{
    lp_write(lp_policy_v1);
    lh_policy_t *p = lh_policy_new(h, NULL, lp_path, 20);
    met_series_t *errors = met_counter("sett_policy_errors_total", "Policy calls that failed.",
                                       NULL);
    double errors0 = errors->value;

    lh_route_t r;
    double t0 = lp_now_ms();
    lp_route(p, "GET /spin HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    double took = lp_now_ms() - t0;
    CHECK_EQ_INT(r.kind, LH_ROUTE_BUILTIN);
    lh_route_free(&r);
    CHECK(took >= 19.0);
    CHECK(took < 2000.0);
    CHECK_EQ_INT(errors->value - errors0, 1);

    /* The next call runs normally under a fresh deadline. */
    lp_route(p, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    CHECK_EQ_INT(r.kind, LH_ROUTE_ACTOR);
    lh_route_free(&r);

    /* Code run without a budget sees no hook and is never stopped, however long it runs. */
    CHECK_EQ_INT(lp_run(h, "assert(debug.gethook() == nil)"), 0);
    lp_route(p, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    lh_route_free(&r);
    CHECK_EQ_INT(lp_run(h, lp_busy), 0);

    /* Nor is code that enters Lua some other way (a plain lua_pcall here, a finalizer in the
     * gateway): the parked hook removes itself the first time it fires there. */
    lp_route(p, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    lh_route_free(&r);
    CHECK(lua_gethook(h->L) != NULL);
    CHECK_EQ_INT(luaL_loadstring(h->L, lp_busy), 0);
    CHECK_EQ_INT(lua_pcall(h->L, 0, 0, 0), 0);
    CHECK(lua_gethook(h->L) == NULL);

    /* A reload after budgeted calls loads under sett.policy's own budget, which saves and puts
     * back whatever hook it finds. */
    lp_route(p, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    lh_route_free(&r);
    lp_write(lp_policy_v2);
    CHECK_EQ_INT(lp_reload(p), 0);
    CHECK(lh_policy_has(p, "timeouts"));

    /* A runaway load is still stopped by the load budget. */
    lp_write("while true do end");
    CHECK(lp_reload(p) != 0);
    CHECK(lh_policy_has(p, "timeouts"));
    lh_policy_free(p);
}

/* Timers on sett's loop through luv: every policy in a reload storm starts a repeating and a
 * one-shot timer, and each reload stops the old policy's, so that only the last policy's are
 * pending (on the loop and in sett_policy_timers); a failing callback (started by /fail) is
 * counted under hook="timer" and the repeating timer goes on; removing the policy stops the
 * rest. */
static const char lp_policy_timers[] =
    "local sett = require 'sett'\n"
    "local n = 0\n"
    "sett.timer.every(1, function() n = n + 1 end)\n"
    "require('sett.timer').after(600000, function() end)\n"
    "return { route = function(req)\n"
    "  if req.path == '/fail' then sett.timer.after(0, function() error('timer boom') end) end\n"
    "  return { status = 200, body = tostring(n) }\n"
    "end }\n";

static void lp_count_timer(uv_handle_t *hd, void *arg)
{
    if (hd->type == UV_TIMER)
        (*(unsigned *)arg)++;
}

/* The timer handles on the loop once closed ones have gone. */
static unsigned lp_timers(uv_loop_t *loop)
{
    uv_run(loop, UV_RUN_NOWAIT);
    unsigned n = 0;
    uv_walk(loop, lp_count_timer, &n);
    return n;
}

/* How often the policy's repeating timer has fired, as its route answer says. */
static long lp_ticks(lh_policy_t *p)
{
    lh_route_t r;
    lp_route(p, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    long n = r.kind == LH_ROUTE_RESPOND ? strtol((const char *)r.body.data, NULL, 10) : -1;
    lh_route_free(&r);
    return n;
}

static void lp_test_timers(lh_t *h)
{
    unsigned base = lp_timers(h->loop);
    met_series_t *timer_errors = met_counter(
        "sett_policy_hook_errors_total",
        "Policy hook calls that failed; the built-in behaviour answered.", "hook=\"timer\"");
    met_series_t *pending = met_gauge("sett_policy_timers",
                                      "Timers policies started that are still pending.", NULL);
    double errors0 = timer_errors->value;
    lp_write(lp_policy_timers);
    lh_policy_t *p = lh_policy_new(h, NULL, lp_path, 20);
    CHECK_EQ_INT(lp_timers(h->loop) - base, 2);
    for (int i = 0; i < 100; i++)
        CHECK_EQ_INT(lp_reload(p), 0);
    CHECK_EQ_INT(lp_timers(h->loop) - base, 2);
    CHECK_EQ_INT(pending->value, 2);
    CHECK_EQ_INT(timer_errors->value - errors0, 0);

    /* The loop runs the last policy's timers: a one-shot that fails is counted once and is
     * gone, the repeating one goes on. */
    lh_route_t r;
    lp_route(p, "GET /fail HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    lh_route_free(&r);
    CHECK_EQ_INT(pending->value, 3);
    long start = lp_ticks(p);
    for (int i = 0; i < 10000 && (lp_ticks(p) < start + 3 || timer_errors->value == errors0); i++)
        uv_run(h->loop, UV_RUN_ONCE);
    CHECK(lp_ticks(p) >= start + 3);
    CHECK_EQ_INT(timer_errors->value - errors0, 1);
    CHECK_EQ_INT(lp_timers(h->loop) - base, 2);
    CHECK_EQ_INT(pending->value, 2);

    /* A refused reload keeps the policy and its timer, and leaves none of its own. */
    lp_write("require('sett.timer').every(1, function() end) return { nope = 1 }");
    CHECK(lp_reload(p) != 0);
    CHECK_EQ_INT(lp_timers(h->loop) - base, 2);
    long before = lp_ticks(p);
    for (int i = 0; i < 10000 && lp_ticks(p) == before; i++)
        uv_run(h->loop, UV_RUN_ONCE);
    CHECK(lp_ticks(p) > before);

    /* Removing the policy stops its timers. */
    buf_t err = BUF_INIT;
    CHECK_EQ_INT(lh_policy_reload_from(p, NULL, &err), 0);
    buf_free(&err);
    CHECK_EQ_INT(lp_timers(h->loop) - base, 0);
    CHECK_EQ_INT(pending->value, 0);
    lh_policy_free(p);
}

/* Per-request context: route's ctx lands in the request table, which C keeps as one registry
 * slot and hands to authorize, timeouts, can_hibernate and auto_response; a policy whose hooks
 * do not take the request gets no table built. */
static void lp_test_ctx(lh_t *h)
{
    lp_write(
        "return {\n"
        "  route = function(req) return 'actor-1', { tenant = req.headers['x-tenant'] } end,\n"
        "  authorize = function(req, target) return req.ctx.tenant ~= 'blocked' end,\n"
        "  timeouts = function(actor, req)\n"
        "    if req.ctx and req.ctx.tenant == 'fast' then return { ping_interval_ms = 1000 } end\n"
        "    if req.path == '/slow' then return { ping_interval_ms = 9000 } end\n"
        "  end,\n"
        "  can_hibernate = function(actor, req, says) return req.ctx.tenant == 'sleepy' end,\n"
        "  auto_response = function(actor, msg, binary, req) return req.ctx.tenant .. ':' .. msg end,\n"
        "}\n");
    lh_policy_t *p = lh_policy_new(h, NULL, lp_path, 50);
    CHECK(lh_policy_wants_req(p, false));
    CHECK(lh_policy_wants_req_later(p, true));
    eng_ns_t ns = { .name = "default" };
    eng_actor_t a = { .actor_id = "actor-1", .ns = &ns, .name = "chat" };
    const char *tenants[] = { "fast", "sleepy", "blocked" };
    for (int i = 0; i < 3; i++) {
        char raw[128];
        snprintf(raw, sizeof raw, "GET /ws HTTP/1.1\r\nHost: x\r\nX-Tenant: %s\r\n\r\n",
                 tenants[i]);
        hreq req;
        hreq_init(&req);
        size_t used;
        CHECK_EQ_INT(hreq_feed(&req, raw, strlen(raw), &used), HREQ_DONE);
        url_parts u;
        url_split((const char *)req.url.p, req.url.len, &u);
        lh_route_t r;
        lh_policy_route(p, &req, &u, "10.0.0.7:5555", &r);
        CHECK_EQ_INT(r.kind, LH_ROUTE_ACTOR);
        CHECK(r.req != LH_REQ_NONE);
        lh_route_t ans;
        bool allowed = lh_policy_authorize(p, r.req, &req, "10.0.0.7:5555", &a, &ans);
        CHECK(allowed == (i != 2));
        if (!allowed)
            CHECK_EQ_INT(ans.status, 403);
        lh_route_free(&ans);
        lh_timeouts_t to = { 3000, 10000, 15000, 30000, 90000, 1048576, 30000 };
        lh_policy_timeouts(p, &a, r.req, &to);
        CHECK_EQ_INT(to.ping_interval_ms, i == 0 ? 1000 : 3000);
        /* A socket keeps its own slot; the router's is released when routing ends. */
        int kept = lh_policy_req_keep(p, r.req);
        lh_policy_req_free(p, r.req);
        CHECK(lh_policy_can_hibernate(p, &a, kept, "/ws", false) == (i == 1));
        buf_t out = BUF_INIT;
        CHECK(lh_policy_auto_response(p, &a, kept, (const uint8_t *)"ping", 4, false, &out));
        char want[32];
        snprintf(want, sizeof want, "%s:ping", tenants[i]);
        CHECK(out.len == strlen(want) && memcmp(out.data, want, out.len) == 0);
        buf_free(&out);
        lh_policy_req_free(p, kept);
        lh_route_free(&r);
        hreq_free(&req);
    }
    /* A request route() did not see gets a table of its own, without ctx. */
    const char *raw = "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n";
    hreq req;
    hreq_init(&req);
    size_t used;
    CHECK_EQ_INT(hreq_feed(&req, raw, strlen(raw), &used), HREQ_DONE);
    int lreq = lh_policy_req_new(p, &req, "10.0.0.7:5555");
    CHECK(lreq != LH_REQ_NONE);
    lh_timeouts_t to = { 3000, 10000, 15000, 30000, 90000, 1048576, 30000 };
    lh_policy_timeouts(p, &a, lreq, &to);
    CHECK_EQ_INT(to.ping_interval_ms, 9000);
    lh_policy_req_free(p, lreq);
    hreq_free(&req);

    /* Hooks written without the request parameter cost no table: nothing asks for one. */
    lp_write(
        "return {\n"
        "  route = function(req) return 'actor-1' end,\n"
        "  timeouts = function(actor) return { ping_interval_ms = 2000 } end,\n"
        "  auto_response = function(actor, msg) return msg end,\n"
        "}\n");
    CHECK_EQ_INT(lp_reload(p), 0);
    CHECK(!lh_policy_wants_req(p, true));
    CHECK(!lh_policy_wants_req_later(p, false));
    lh_route_t r;
    lp_route(p, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    CHECK_EQ_INT(r.kind, LH_ROUTE_ACTOR);
    CHECK_EQ_INT(r.req, LH_REQ_NONE);
    lh_route_free(&r);
    lh_policy_free(p);
}

/* The configuration's policy.options reach the policy as sett.options on every load: cfg_load
 * leaves them in the state, and a reload after another cfg_load sees the new ones. */
static void lp_test_options(lh_t *h)
{
    char cfg_path[] = "/tmp/sett-test-policy-cfg-XXXXXX.lua";
    int fd = mkstemps(cfg_path, 4);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    close(fd);
    lp_write(
        "local sett = require 'sett'\n"
        "local o = sett.check_options({ greeting = { type = 'string', default = 'hi' } })\n"
        "return { route = function() return { status = 200, body = o.greeting } end }\n");
    const char *greetings[] = { "hello", NULL };
    for (int i = 0; i < 2; i++) {
        FILE *f = fopen(cfg_path, "wb");
        CHECK(f != NULL);
        if (!f)
            break;
        if (greetings[i])
            fprintf(f, "return { policy = { file = '%s', options = { greeting = '%s' } } }\n",
                    lp_path, greetings[i]);
        else
            fprintf(f, "return { policy = '%s' }\n", lp_path);
        fclose(f);
        cfg_t cfg;
        buf_t errors = BUF_INIT;
        CHECK_EQ_INT(cfg_load(h, cfg_path, &cfg, &errors), 0);
        buf_free(&errors);
        lh_policy_t *p = lh_policy_new(h, NULL, cfg.policy, 50);
        lh_route_t r;
        lp_route(p, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", &r);
        CHECK_EQ_INT(r.kind, LH_ROUTE_RESPOND);
        const char *want = greetings[i] ? greetings[i] : "hi";
        CHECK(r.body.len == strlen(want) && memcmp(r.body.data, want, r.body.len) == 0);
        lh_route_free(&r);
        lh_policy_free(p);
        cfg_free(&cfg);
    }
    unlink(cfg_path);
}

int main(void)
{
    log_setup(LOG_OFF, 0);
    int fd = mkstemps(lp_path, 4);
    CHECK(fd >= 0);
    if (fd >= 0)
        close(fd);
    uv_loop_t loop;
    uv_loop_init(&loop);
    lh_t h;
    lh_init(&h, &loop);
    lp_test_no_policy(&h);
    lp_test_answers(&h);
    lp_test_budget(&h);
    lp_test_timers(&h);
    lp_test_options(&h);
    lp_test_ctx(&h);
    lh_close(&h);
    CHECK_EQ_INT(uv_loop_close(&loop), 0);
    met_free_all();
    unlink(lp_path);
    return T_DONE();
}
