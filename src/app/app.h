/* The process: the components `sett run` wires together, how the configuration is handed to
 * them (app_config.c), and how a reload replaces it while serving (app_reload.c). main.c keeps
 * the command line, startup and shutdown. Nothing below src/app/ includes it. */
#ifndef SETT_APP_APP_H
#define SETT_APP_APP_H

#include <uv.h>

#include "bus/bus.h"
#include "core/metrics.h"
#include "engine/engine.h"
#include "gateway/gw.h"
#include "lua/config.h"
#include "lua/host.h"
#include "lua/policy.h"
#include "net/server.h"
#include "router/router.h"
#include "runner/runner.h"
#include "store/store.h"

/* The reload triggers (SIGHUP, a change of either file) and what reloads are measured by. */
typedef struct app_reload {
    uv_signal_t sighup;
    uv_fs_event_t watch_policy;
    uv_fs_event_t watch_cfg;
    uv_timer_t timer; /* lets an editor's last write land before a file change reloads */
    met_series_t *m_reloads, *m_errors, *m_duration;
} app_reload_t;

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
    app_reload_t reload;
    uv_signal_t sigint, sigterm;
    uv_timer_t stop_timer;
    int stopping;
} app_t;

/* Closes h unless it is closing already; the app's handles live in app_t, so no callback frees. */
static inline void app_close_handle(uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* What the gateway half, the listeners and the logger read from the configuration. */
gw_config_t app_gw_config(const cfg_t *c);
net_limits_t app_limits(const cfg_t *c);
void app_log_setup(const cfg_t *c);
/* timeout_bounds, as the policy clamps the timeouts hook's answers to them. */
void app_set_bounds(lh_policy_t *pol, const cfg_t *c);
/* Creates the configured namespaces the engine does not hold yet. */
void app_create_namespaces(app_t *app);
/* Hands every key that can change while serving to the component that reads it. */
void app_apply_config(app_t *app);

/* Registers the reload with the admin listener, creates its metrics and handles and starts
 * watching the configuration and policy files. Needs every component of app to exist. */
void app_reload_init(app_t *app);
/* Starts reloading on SIGHUP, once sett serves. */
void app_reload_start(app_t *app);
/* Closes the reload's handles, at shutdown. */
void app_reload_close(app_t *app);

#endif
