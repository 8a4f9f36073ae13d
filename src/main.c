/* sett: an actor gateway. `sett run` serves; `sett check` validates a configuration;
 * `sett proto` encodes and decodes runner-protocol frames; `sett version` prints the version.
 * The components `sett run` wires together, and reloading them, are src/app/'s. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "admin/admin.h"
#include "api/api.h"
#include "app/app.h"
#include "core/log.h"
#include "lua/core.h"
#include "proto/proto_cli.h"
#include "store/store_memory.h"
#include "store/store_redis.h"

#define SETT_DEFAULT_CONFIG "conf/sett.lua"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sett run [CONFIG]        serve (default %s)\n"
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
    if (rc == 0 && cfg.policy) {
        /* The policy is loaded as sett run would load it, so that its syntax, its options
         * (sett.check_options) and its self_test are checked too. */
        buf_t err = BUF_INIT;
        if (lh_policy_check(&lua, cfg.policy, &err) != 0) {
            fprintf(stderr, "%s: invalid policy %s\n%.*s\n", path, cfg.policy, (int)err.len,
                    (const char *)err.data);
            cfg_free(&cfg);
            rc = -1;
        }
        buf_free(&err);
    }
    lh_close(&lua);
    if (rc != 0)
        return 2;
    if (adm_exposed(cfg.admin_listen.host, cfg.admin.token))
        fprintf(stderr, "%s: warning: %s\n", path, app_exposed_warning);
    cfg_free(&cfg);
    puts("ok");
    return 0;
}

/* Runs outside every lws callback, as lws_context_destroy requires. */
static void app_stop_now(uv_timer_t *t)
{
    app_t *app = t->data;
    /* A policy's timers are handles on this loop: stopped here, they cannot keep it running
     * once the sockets are gone. */
    lh_policy_stop(app->pol);
    net_server_destroy(app->net);
    app_close_handle((uv_handle_t *)&app->sigint);
    app_close_handle((uv_handle_t *)&app->sigterm);
    app_reload_close(app);
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
            log_warn("waiting for the store to load its state",
                     LF_S("error", store_strerror(w.err)));
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
    net_listen_opts_t o = { .name = name,
                            .host = a->host,
                            .port = a->port,
                            .tls_cert = cert,
                            .tls_key = key,
                            .on_request = cb,
                            .ud = ud,
                            .exempt_path = clients ? RN_CONNECT_PATH : NULL,
                            .uncapped = !clients };
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
    lh_core_set_hibernation(app.lua.L, gw_hib_rows, gw_hib_local, app.gw);
    app.pol = lh_policy_new(&app.lua, app.eng, app.cfg.policy, app.cfg.policy_budget_ms);
    gw_set_policy(app.gw, app.pol);
    gw_set_server(app.gw, app.net);
    app.front.pol = app.pol;
    eng_on_place(app.eng, app_place, app.pol);
    app_set_bounds(app.pol, &app.cfg);
    app.front.default_runner = app.cfg.gateway.default_runner;
    app.front.cors_origins = app.cfg.cors.origins;
    app.cfg_path = path;
    app.front.eng = app.eng;
    app.front.rn = app.rn;
    app.front.gw = app.gw;
    app_reload_init(&app);

    uv_signal_init(&app.loop, &app.sigint);
    uv_signal_init(&app.loop, &app.sigterm);
    uv_timer_init(&app.loop, &app.stop_timer);
    app.sigint.data = app.sigterm.data = app.stop_timer.data = &app;

    if (restored != 0 ||
        listen_on(&app, "main", &app.cfg.listen, app.cfg.tls.cert, app.cfg.tls.key, rt_on_request,
                  &app.front, 1) != 0 ||
        listen_on(&app, "admin", &app.cfg.admin_listen, NULL, NULL, adm_on_request, &app, 0) != 0) {
        rc = 1;
        app_stop_now(&app.stop_timer);
    } else {
        uv_signal_start(&app.sigint, app_on_signal, SIGINT);
        uv_signal_start(&app.sigterm, app_on_signal, SIGTERM);
        app_reload_start(&app);
        log_info("sett started", LF_S("version", SETT_VERSION), LF_S("config", path),
                 LF_I("pid", getpid()));
        if (adm_exposed(app.cfg.admin_listen.host, app.cfg.admin.token))
            log_warn(app_exposed_warning, LF_S("admin_listen", app.cfg.admin_listen.host));
    }

    uv_run(&app.loop, UV_RUN_DEFAULT);
    net_server_finish(app.net);
    /* The sockets are gone; what remains are records and timers, closed in dependency order. */
    lh_core_set_hibernation(app.lua.L, NULL, NULL, NULL);
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
