/* The configuration as each component reads it: startup and every reload go through here. */
#include <sys/resource.h>

#include "admin/admin.h"
#include "api/api.h"
#include "app/app.h"
#include "core/log.h"
#include "proto/bare.h"

gw_config_t app_gw_config(const cfg_t *c)
{
    gw_config_t g = {
        .ready_timeout_ms = c->gateway.ready_timeout_ms,
        .gc_interval_ms = c->gateway.gc_interval_ms,
        .retries = c->gateway.retries,
        .max_body_bytes = c->limits.max_body_bytes,
    };
#define APP_TIMEOUT(key, member) g.timeouts.key = c->member;
    CFG_TIMEOUTS(APP_TIMEOUT)
#undef APP_TIMEOUT
    return g;
}

_Static_assert((int)CFG_LOG_LEVEL_DEBUG == (int)LOG_DEBUG &&
                   (int)CFG_LOG_LEVEL_ERROR == (int)LOG_ERROR,
               "log.level's values in the order of enum log_level");

void app_log_setup(const cfg_t *c)
{
    log_setup((enum log_level)c->log.level, c->log.format == CFG_LOG_FORMAT_JSON);
}

void app_set_bounds(lh_policy_t *pol, const cfg_t *c)
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

net_limits_t app_limits(const cfg_t *c)
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
        /* A runner's socket takes every frame the decoders accept, however small clients'
         * messages are kept: a runner's KV write or 20 MiB answer is not a client's message. */
        .max_exempt_message_bytes = c->limits.max_message_bytes > bare_max_frame
                                        ? c->limits.max_message_bytes
                                        : bare_max_frame,
    };
    /* By default clients may take every descriptor but 256, which stay for runners, the store,
     * the admin listener and files. */
    struct rlimit rl;
    if (!l.max_connections && getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        l.max_connections = rl.rlim_cur > 512 ? (size_t)rl.rlim_cur - 256 : (size_t)rl.rlim_cur / 2;
    return l;
}

void app_create_namespaces(app_t *app)
{
    for (char **ns = app->cfg.namespaces; ns && *ns; ns++) {
        eng_error_t err;
        if (!eng_ns_get(app->eng, *ns) && eng_ns_create(app->eng, *ns, NULL, NULL, &err) != 0)
            log_error("cannot create namespace", LF_S("namespace", *ns),
                      LF_S("error", err.message));
    }
}

/* Applying a value that did not change is harmless, so a reload applies them all. */
void app_apply_config(app_t *app)
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
