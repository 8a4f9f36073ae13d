/* Reloading the configuration and the policy while serving: on SIGHUP, on POST /admin/reload and
 * when either file changes. */
#include <signal.h>

#include <lua.h>

#include "admin/admin.h"
#include "app/app.h"
#include "core/log.h"

static void app_on_file_change(uv_fs_event_t *h, const char *filename, int events, int status);

/* (Re)arms the watches on the configuration and policy files. Editors often replace a file by
 * renaming a new one over it, which ends a watch on the old file, so every reload arms them
 * again on the paths. */
static void app_watch(app_t *app)
{
    app_reload_t *r = &app->reload;
    uv_fs_event_stop(&r->watch_cfg);
    int rc = uv_fs_event_start(&r->watch_cfg, app_on_file_change, app->cfg_path, 0);
    if (rc != 0)
        log_warn("cannot watch the configuration file", LF_S("path", app->cfg_path),
                 LF_S("error", uv_strerror(rc)));
    uv_fs_event_stop(&r->watch_policy);
    if (app->cfg.policy) {
        rc = uv_fs_event_start(&r->watch_policy, app_on_file_change, app->cfg.policy, 0);
        if (rc != 0)
            log_warn("cannot watch the policy file", LF_S("path", app->cfg.policy),
                     LF_S("error", uv_strerror(rc)));
    }
}

/* Every reload path ends here. The configuration is read and checked, then the policy it names
 * is loaded; only when both are good does anything change, so a broken file leaves sett as it
 * was. Keys that cannot change while serving keep their running value and are reported. */
static int app_reload(void *ud, adm_reload_report_t *rep)
{
    app_t *app = ud;
    app_reload_t *r = &app->reload;
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
        met_inc(r->m_errors);
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
    met_inc(r->m_reloads);
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
    met_observe(r->m_duration, (double)(uv_hrtime() - t0) / 1e9);
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
    uv_timer_start(&app->reload.timer, app_reload_later, 100, 0);
}

void app_reload_init(app_t *app)
{
    app_reload_t *r = &app->reload;
    r->m_reloads = met_counter("sett_config_reloads_total",
                               "Reloads of the configuration and policy that took effect.", NULL);
    r->m_errors = met_counter(
        "sett_config_reload_errors_total",
        "Reloads refused because the configuration was invalid; the old one stayed.", NULL);
    r->m_duration = met_histogram("sett_reload_duration_seconds",
                                  "Time one reload took, refused ones included.", NULL, NULL, 0);
    adm_set_reload(app_reload, app);
    uv_signal_init(&app->loop, &r->sighup);
    uv_timer_init(&app->loop, &r->timer);
    uv_fs_event_init(&app->loop, &r->watch_policy);
    uv_fs_event_init(&app->loop, &r->watch_cfg);
    r->sighup.data = r->timer.data = r->watch_policy.data = r->watch_cfg.data = app;
    app_watch(app);
}

void app_reload_start(app_t *app)
{
    uv_signal_start(&app->reload.sighup, app_on_hup, SIGHUP);
}

void app_reload_close(app_t *app)
{
    app_reload_t *r = &app->reload;
    app_close_handle((uv_handle_t *)&r->sighup);
    app_close_handle((uv_handle_t *)&r->timer);
    app_close_handle((uv_handle_t *)&r->watch_policy);
    app_close_handle((uv_handle_t *)&r->watch_cfg);
}
