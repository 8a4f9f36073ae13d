/* sett: an actor gateway. `sett run` serves; `sett check` validates a configuration;
 * `sett proto` encodes and decodes runner-protocol frames; `sett version` prints the version. */
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>
#include <lua.h>

#include "admin/admin.h"
#include "api/api.h"
#include "bus/bus.h"
#include "engine/engine.h"
#include "router/router.h"
#include "runner/runner.h"
#include "store/store_memory.h"
#include "store/store_redis.h"
#include "core/log.h"
#include "core/metrics.h"
#include "lua/config.h"
#include "lua/core.h"
#include "lua/host.h"
#include "lua/policy.h"
#include "net/server.h"
#include "proto/proto_cli.h"

#define SETT_DEFAULT_CONFIG "conf/sett.lua"

typedef struct app {
    uv_loop_t loop;
    lh_t lua;
    cfg_t cfg;
    net_server_t *net;
    store_t *store;
    bus_t *bus;
    eng_t *eng;
    rn_t *rn;
    gw_t *gw;
    rt_t front;
    lh_policy_t *pol;
    const char *cfg_path;
    uv_signal_t sighup;
    uv_fs_event_t watch;       /* the policy file */
    uv_fs_event_t watch_cfg;   /* the configuration file */
    uv_timer_t reload_timer;
    met_series_t *m_cfg_reloads, *m_cfg_reload_errors, *m_reload_duration;
    uv_signal_t sigint, sigterm;
    uv_timer_t stop_timer;
    int stopping;
} app_t;

static void usage(FILE *f)
{
    fprintf(f, "usage: sett run [CONFIG]        serve (default %s)\n"
               "       sett check CONFIG        validate a configuration, print ok or errors\n"
               "       sett proto decode TYPE [HEX]\n"
               "       sett proto encode TYPE JSON\n"
               "                                TYPE: to-server, to-client, to-runner, to-gateway\n"
               "       sett version\n",
            SETT_DEFAULT_CONFIG);
}

static int load_config(lh_t *lua, const char *path, cfg_t *cfg)
{
    buf_t errors = BUF_INIT;
    int rc = cfg_load(lua, path, cfg, &errors);
    if (rc != 0) {
        fprintf(stderr, "%s: invalid configuration\n%.*s", path, (int)errors.len,
                (const char *)errors.data);
    }
    buf_free(&errors);
    return rc;
}

static const char app_exposed_warning[] =
    "admin_listen is not a loopback address and admin.token is not set: anyone who reaches it "
    "can POST /admin/reload";

static int cmd_check(const char *path)
{
    lh_t lua;
    cfg_t cfg;
    lh_init(&lua, NULL);
    int rc = load_config(&lua, path, &cfg);
    lh_close(&lua);
    if (rc != 0)
        return 2;
    if (adm_exposed(cfg.admin_listen.host, cfg.admin.token))
        fprintf(stderr, "%s: warning: %s\n", path, app_exposed_warning);
    cfg_free(&cfg);
    puts("ok");
    return 0;
}

static void app_close_handle(uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* Runs outside every lws callback, as lws_context_destroy requires. */
static void app_stop_now(uv_timer_t *t)
{
    app_t *app = t->data;
    net_server_destroy(app->net);
    app_close_handle((uv_handle_t *)&app->sigint);
    app_close_handle((uv_handle_t *)&app->sigterm);
    app_close_handle((uv_handle_t *)&app->sighup);
    app_close_handle((uv_handle_t *)&app->reload_timer);
    app_close_handle((uv_handle_t *)&app->watch);
    app_close_handle((uv_handle_t *)&app->watch_cfg);
    app_close_handle((uv_handle_t *)&app->stop_timer);
}

static void app_drained(void *ud)
{
    app_t *app = ud;
    uv_timer_start(&app->stop_timer, app_stop_now, 0, 0);
}

static void app_on_signal(uv_signal_t *s, int signum)
{
    app_t *app = s->data;
    if (app->stopping) {
        log_warn("second signal: stopping without waiting", LF_I("signal", signum));
        uv_timer_start(&app->stop_timer, app_stop_now, 0, 0);
        return;
    }
    app->stopping = 1;
    log_info("shutting down", LF_I("signal", signum),
             LF_U("connections", net_server_conn_count(app->net)));
    net_server_shutdown(app->net, app->cfg.shutdown_grace_ms, app_drained, app);
}

static eng_runner_t *app_place(void *ud, const eng_actor_t *a, eng_runner_t **cands, size_t n)
{
    return lh_policy_place(ud, a, cands, n);
}

static gw_config_t app_gw_config(const cfg_t *c)
{
    gw_config_t g = {
#define APP_TIMEOUT(key, member) .timeouts.key = c->member,
        CFG_TIMEOUTS(APP_TIMEOUT)
#undef APP_TIMEOUT
        .ready_timeout_ms = c->gateway.ready_timeout_ms,
        .gc_interval_ms = c->gateway.gc_interval_ms,
        .retries = c->gateway.retries,
        .max_body_bytes = c->limits.max_body_bytes,
    };
    return g;
}

_Static_assert((int)CFG_LOG_LEVEL_DEBUG == (int)LOG_DEBUG && (int)CFG_LOG_LEVEL_ERROR == (int)LOG_ERROR,
               "log.level's values in the order of enum log_level");

static void app_log_setup(const cfg_t *c)
{
    log_setup((enum log_level)c->log.level, c->log.format == CFG_LOG_FORMAT_JSON);
}

/* timeout_bounds, as the policy clamps the timeouts hook's answers to them. */
static void app_set_bounds(lh_policy_t *pol, const cfg_t *c)
{
    lh_timeouts_t min = {
#define APP_BOUND(key, member) .key = c->timeout_bounds.key.min,
        CFG_TIMEOUTS(APP_BOUND)
#undef APP_BOUND
    };
    lh_timeouts_t max = {
#define APP_BOUND(key, member) .key = c->timeout_bounds.key.max,
        CFG_TIMEOUTS(APP_BOUND)
#undef APP_BOUND
    };
    lh_policy_set_bounds(pol, &min, &max);
}

static net_limits_t app_limits(const cfg_t *c)
{
    net_limits_t l = {
        .max_header_bytes = c->limits.max_header_bytes,
        .max_body_bytes = c->limits.max_body_bytes,
        .max_message_bytes = c->limits.max_message_bytes,
        .idle_timeout_ms = c->limits.idle_timeout_ms,
        .header_timeout_ms = c->limits.header_timeout_ms,
        .body_timeout_ms = c->limits.body_timeout_ms,
        .max_connections = c->limits.max_connections,
        .max_connections_per_address = c->limits.max_connections_per_address,
        .max_output_bytes = c->limits.max_output_bytes,
        .send_timeout_ms = c->limits.send_timeout_ms,
        .max_buffered_bytes = c->limits.max_buffered_bytes,
    };
    /* By default clients may take every descriptor but 256, which stay for runners, the store,
     * the admin listener and files. */
    struct rlimit rl;
    if (!l.max_connections && getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        l.max_connections = rl.rlim_cur > 512 ? (size_t)rl.rlim_cur - 256 : (size_t)rl.rlim_cur / 2;
    return l;
}

static void app_create_namespaces(app_t *app)
{
    for (char **ns = app->cfg.namespaces; ns && *ns; ns++) {
        eng_error_t err;
        if (!eng_ns_get(app->eng, *ns) && eng_ns_create(app->eng, *ns, NULL, NULL, &err) != 0)
            log_error("cannot create namespace", LF_S("namespace", *ns), LF_S("error", err.message));
    }
}

/* Hands every key that can change while serving to the component that reads it. Applying a
 * value that did not change is harmless, so a reload applies them all. */
static void app_apply_config(app_t *app)
{
    const cfg_t *c = &app->cfg;
    app_log_setup(c);
    net_limits_t limits = app_limits(c);
    net_server_set_limits(app->net, &limits);
    api_set_token(c->api.token);
    adm_set_token(c->admin.token);
    eng_config_t ecfg = *eng_config(app->eng);
    ecfg.runner_lost_threshold_ms = (int64_t)c->runner.lost_threshold_ms;
    ecfg.runner_eligible_ms = (int64_t)c->runner.eligible_ms;
    eng_set_config(app->eng, &ecfg);
    gw_config_t gcfg = app_gw_config(c);
    gw_set_config(app->gw, &gcfg);
    app_create_namespaces(app);
    lh_policy_set_budget(app->pol, c->policy_budget_ms);
    app_set_bounds(app->pol, c);
    app->front.default_runner = c->gateway.default_runner;
    app->front.cors_origins = c->cors.origins;
}

static void app_on_file_change(uv_fs_event_t *h, const char *filename, int events, int status);

/* (Re)arms the watches on the configuration and policy files. Editors often replace a file by
 * renaming a new one over it, which ends a watch on the old file, so every reload arms them
 * again on the paths. */
static void app_watch(app_t *app)
{
    uv_fs_event_stop(&app->watch_cfg);
    int rc = uv_fs_event_start(&app->watch_cfg, app_on_file_change, app->cfg_path, 0);
    if (rc != 0)
        log_warn("cannot watch the configuration file", LF_S("path", app->cfg_path),
                 LF_S("error", uv_strerror(rc)));
    uv_fs_event_stop(&app->watch);
    if (app->cfg.policy) {
        rc = uv_fs_event_start(&app->watch, app_on_file_change, app->cfg.policy, 0);
        if (rc != 0)
            log_warn("cannot watch the policy file", LF_S("path", app->cfg.policy),
                     LF_S("error", uv_strerror(rc)));
    }
}

/* Every reload path ends here: SIGHUP, POST /admin/reload, and a change of either file. The
 * configuration is read and checked, then the policy it names is loaded; only when both are
 * good does anything change, so a broken file leaves sett as it was. Keys that cannot change
 * while serving keep their running value and are reported. */
static int app_reload(void *ud, adm_reload_report_t *rep)
{
    app_t *app = ud;
    if (app->stopping) {
        /* The watches and timers are about to close; re-arming them now would race that. */
        rep->group = "admin";
        buf_printf(&rep->error, "sett is shutting down");
        buf_push(&rep->error, '\0');
        return -1;
    }
    uint64_t t0 = uv_hrtime();
    cfg_t next;
    buf_t errors = BUF_INIT;
    int rc = -1;
    if (cfg_load(&app->lua, app->cfg_path, &next, &errors) != 0) {
        while (errors.len && errors.data[errors.len - 1] == '\n')
            errors.len--;
        buf_append(&rep->error, errors.data, errors.len);
        buf_push(&rep->error, '\0');
        rep->group = "config";
        met_inc(app->m_cfg_reload_errors);
        log_error("configuration reload refused; the old configuration stays",
                  LF_S("path", app->cfg_path), LF_S("error", (const char *)rep->error.data));
        goto out;
    }
    if (lh_policy_reload_from(app->pol, next.policy, &rep->error) != 0) {
        rep->group = "policy";
        cfg_free(&next);
        goto out;
    }
    rep->policy = next.policy ? "reloaded" : app->cfg.policy ? "removed" : "none";
    cfg_merge(&app->cfg, &next, &rep->live, &rep->restart);
    cfg_free(&app->cfg);
    app->cfg = next;
    app_apply_config(app);
    met_inc(app->m_cfg_reloads);
    buf_t live = BUF_INIT, restart = BUF_INIT;
    adm_join_names(&rep->live, &live);
    adm_join_names(&rep->restart, &restart);
    double ms = (double)(uv_hrtime() - t0) / 1e6;
    log_info("reloaded", LF_S("config", app->cfg_path), LF_S("policy", rep->policy),
             LF_S("changed", (const char *)live.data), LF_D("duration_ms", ms));
    if (rep->restart.len)
        log_warn("configuration keys changed that take effect only after a restart",
                 LF_S("keys", (const char *)restart.data));
    buf_free(&live);
    buf_free(&restart);
    rc = 0;
out:
    /* A reload leaves a whole sandbox, the old policy and the parsed configuration as garbage;
     * reloads are rare, so collecting it at once keeps memory flat across many of them. */
    lua_gc(app->lua.L, LUA_GCCOLLECT, 0);
    met_observe(app->m_reload_duration, (double)(uv_hrtime() - t0) / 1e9);
    buf_free(&errors);
    app_watch(app);
    return rc;
}

static void app_reload_quietly(app_t *app)
{
    adm_reload_report_t rep = { NULL, BUF_INIT, BUF_INIT, BUF_INIT, "none" };
    app_reload(app, &rep);
    adm_reload_report_free(&rep);
}

static void app_on_hup(uv_signal_t *s, int signum)
{
    app_reload_quietly(s->data);
}

static void app_reload_later(uv_timer_t *t)
{
    app_reload_quietly(t->data);
}

/* Editors write a file in several steps; a short delay lets the last one land first. */
static void app_on_file_change(uv_fs_event_t *h, const char *filename, int events, int status)
{
    app_t *app = h->data;
    uv_timer_start(&app->reload_timer, app_reload_later, 100, 0);
}

typedef struct app_wait {
    int done;
    int err;
} app_wait_t;

static void app_restored(void *ud, int err)
{
    app_wait_t *w = ud;
    w->done = 1;
    w->err = err;
}

static void app_wait_fired(uv_timer_t *t)
{
    *(int *)t->data = 1;
}

/* Loads the store's state into the engine before anything is served. With Redis away this waits
 * for it, retrying every half second: serving without what Redis holds would hand out actors and
 * namespaces that clash with it. */
static int app_restore(app_t *app)
{
    uint64_t warned = 0;
    for (;;) {
        app_wait_t w = { 0, 0 };
        eng_restore(app->eng, app_restored, &w);
        while (!w.done)
            uv_run(&app->loop, UV_RUN_ONCE);
        if (w.err == STORE_OK)
            return 0;
        if (w.err != STORE_EUNAVAILABLE) {
            log_error("cannot load the store's state", LF_S("error", store_strerror(w.err)));
            return -1;
        }
        uint64_t now = uv_now(&app->loop);
        if (!warned || now - warned >= 5000) {
            log_warn("waiting for the store to load its state", LF_S("error", store_strerror(w.err)));
            warned = now;
        }
        int fired = 0;
        uv_timer_t t;
        uv_timer_init(&app->loop, &t);
        t.data = &fired;
        uv_timer_start(&t, app_wait_fired, 500, 0);
        while (!fired)
            uv_run(&app->loop, UV_RUN_ONCE);
        uv_close((uv_handle_t *)&t, NULL);
        uv_run(&app->loop, UV_RUN_NOWAIT);
    }
}

/* The main listener serves clients, under the client caps, and runners, which are not (their
 * upgrade to the runner endpoint takes them out); the admin listener is under none. */
static int listen_on(app_t *app, const char *name, const cfg_addr_t *a, const char *cert,
                     const char *key, net_request_cb cb, void *ud, int clients)
{
    const char *err = NULL;
    net_listen_opts_t o = { .name = name, .host = a->host, .port = a->port, .tls_cert = cert,
                            .tls_key = key, .on_request = cb, .ud = ud,
                            .exempt_path = clients ? RN_CONNECT_PATH : NULL, .uncapped = !clients };
    if (net_listen(app->net, &o, &err) != 0) {
        log_error("cannot listen", LF_S("listener", name), LF_S("host", a->host),
                  LF_I("port", a->port), LF_S("error", err));
        return -1;
    }
    log_info("listening", LF_S("listener", name), LF_S("host", a->host), LF_I("port", a->port),
             LF_S("tls", cert ? "on" : "off"));
    return 0;
}

static int cmd_run(const char *path)
{
    app_t app;
    memset(&app, 0, sizeof app);
    uv_loop_init(&app.loop);
    lh_init(&app.lua, &app.loop);
    if (load_config(&app.lua, path, &app.cfg) != 0) {
        lh_close(&app.lua);
        uv_loop_close(&app.loop);
        return 2;
    }
    app_log_setup(&app.cfg);
    signal(SIGPIPE, SIG_IGN);

    net_limits_t limits = app_limits(&app.cfg);
    int rc = 0;
    if (app.cfg.store.kind == CFG_STORE_KIND_REDIS) {
        char err[256];
        store_redis_opts_t so = { .connect_timeout_ms = app.cfg.store.connect_timeout_ms,
                                  .command_timeout_ms = app.cfg.store.command_timeout_ms,
                                  .backoff_max_ms = app.cfg.store.reconnect_max_ms };
        app.store = store_redis_new_opts(&app.loop, app.cfg.store.url, app.cfg.store.prefix, &so,
                                         err, sizeof err);
        if (!app.store) {
            log_error("invalid configuration", LF_S("key", "store"), LF_S("error", err));
            rc = 2;
            goto out_lua;
        }
        char url[512];
        store_redis_url_redact(app.cfg.store.url, url, sizeof url);
        log_info("store", LF_S("kind", "redis"), LF_S("url", url),
                 LF_S("prefix", app.cfg.store.prefix));
    } else {
        app.store = store_memory_new(&app.loop);
    }
    app.net = net_server_new(&app.loop, &limits);
    if (!app.net) {
        rc = 1;
        store_close(app.store, NULL, NULL);
        goto out_lua;
    }
    app.bus = bus_new();
    eng_config_t ecfg = ENG_CONFIG_DEFAULT;
    ecfg.runner_lost_threshold_ms = (int64_t)app.cfg.runner.lost_threshold_ms;
    ecfg.runner_eligible_ms = (int64_t)app.cfg.runner.eligible_ms;
    app.eng = eng_new(&app.loop, app.store, app.bus, &ecfg);
    lh_core_set_engine(app.lua.L, app.eng);
    int restored = app_restore(&app);
    app_create_namespaces(&app);
    rn_config_t rcfg = {
        .token = app.cfg.runner.token,
        .init_timeout_ms = app.cfg.runner.init_timeout_ms,
        .ping_interval_ms = app.cfg.runner.ping_interval_ms,
        .ping_timeout_ms = app.cfg.runner.ping_timeout_ms,
        .hib_eligible_ms = app.cfg.hibernation.eligible_threshold_ms,
    };
    app.rn = rn_new(&app.loop, app.eng, app.store, app.bus, &rcfg);
    gw_config_t gcfg = app_gw_config(&app.cfg);
    api_set_token(app.cfg.api.token);
    adm_set_token(app.cfg.admin.token);
    app.gw = gw_new(&app.loop, app.eng, app.bus, app.store, &gcfg);
    app.pol = lh_policy_new(&app.lua, app.eng, app.cfg.policy, app.cfg.policy_budget_ms);
    gw_set_policy(app.gw, app.pol);
    app.front.pol = app.pol;
    eng_on_place(app.eng, app_place, app.pol);
    app_set_bounds(app.pol, &app.cfg);
    app.front.default_runner = app.cfg.gateway.default_runner;
    app.front.cors_origins = app.cfg.cors.origins;
    app.cfg_path = path;
    app.m_cfg_reloads = met_counter("sett_config_reloads_total",
                                    "Reloads of the configuration and policy that took effect.",
                                    NULL);
    app.m_cfg_reload_errors = met_counter(
        "sett_config_reload_errors_total",
        "Reloads refused because the configuration was invalid; the old one stayed.", NULL);
    app.m_reload_duration = met_histogram("sett_reload_duration_seconds",
                                          "Time one reload took, refused ones included.", NULL,
                                          NULL, 0);
    adm_set_reload(app_reload, &app);
    uv_signal_init(&app.loop, &app.sighup);
    app.sighup.data = &app;
    uv_timer_init(&app.loop, &app.reload_timer);
    app.reload_timer.data = &app;
    uv_fs_event_init(&app.loop, &app.watch);
    uv_fs_event_init(&app.loop, &app.watch_cfg);
    app.watch.data = app.watch_cfg.data = &app;
    app_watch(&app);
    app.front.eng = app.eng;
    app.front.rn = app.rn;
    app.front.gw = app.gw;

    uv_signal_init(&app.loop, &app.sigint);
    uv_signal_init(&app.loop, &app.sigterm);
    uv_timer_init(&app.loop, &app.stop_timer);
    app.sigint.data = app.sigterm.data = app.stop_timer.data = &app;

    if (restored != 0 ||
        listen_on(&app, "main", &app.cfg.listen, app.cfg.tls.cert, app.cfg.tls.key,
                  rt_on_request, &app.front, 1) != 0 ||
        listen_on(&app, "admin", &app.cfg.admin_listen, NULL, NULL, adm_on_request, &app, 0) != 0) {
        rc = 1;
        app_stop_now(&app.stop_timer);
    } else {
        uv_signal_start(&app.sigint, app_on_signal, SIGINT);
        uv_signal_start(&app.sigterm, app_on_signal, SIGTERM);
        uv_signal_start(&app.sighup, app_on_hup, SIGHUP);
        log_info("sett started", LF_S("version", SETT_VERSION), LF_S("config", path),
                 LF_I("pid", getpid()));
        if (adm_exposed(app.cfg.admin_listen.host, app.cfg.admin.token))
            log_warn(app_exposed_warning, LF_S("admin_listen", app.cfg.admin_listen.host));
    }

    uv_run(&app.loop, UV_RUN_DEFAULT);
    net_server_finish(app.net);
    /* The sockets are gone; what remains are records and timers, closed in dependency order. */
    gw_free(app.gw);
    lh_policy_free(app.pol);
    rn_free(app.rn);
    lh_core_set_engine(app.lua.L, NULL);
    eng_free(app.eng);
    store_close(app.store, NULL, NULL);
    uv_run(&app.loop, UV_RUN_DEFAULT);
    bus_free(app.bus);
out_lua:
    lh_close(&app.lua);
    uv_run(&app.loop, UV_RUN_DEFAULT);
    int lc = uv_loop_close(&app.loop);
    if (lc != 0) {
        log_error("event loop still has open handles at exit", LF_S("error", uv_strerror(lc)));
        rc = 1;
    } else if (rc == 0) {
        log_info("sett stopped");
    }
    cfg_free(&app.cfg);
    api_set_token(NULL);
    adm_set_token(NULL);
    met_free_all();
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    for (int i = 2; i < argc && strcmp(cmd, "proto") != 0; i++) {
        if (argv[i][0] == '-') {
            fprintf(stderr, "sett: unknown flag: %s\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (strcmp(cmd, "run") == 0 && argc <= 3)
        return cmd_run(argc == 3 ? argv[2] : SETT_DEFAULT_CONFIG);
    if (strcmp(cmd, "check") == 0 && argc == 3)
        return cmd_check(argv[2]);
    if (strcmp(cmd, "version") == 0 && argc == 2) {
        printf("sett %s\n", SETT_VERSION);
        return 0;
    }
    if (strcmp(cmd, "proto") == 0)
        return proto_cli_main(argc - 1, argv + 1);
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "sett: unknown command or arguments: %s\n", cmd);
    usage(stderr);
    return 2;
}
