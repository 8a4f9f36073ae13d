/* The admin listener: /health, /metrics (Prometheus text) and POST /admin/reload. When an admin
 * token is set, every /admin/ route needs it as "Authorization: Bearer <token>"; /health and
 * /metrics stay open for probes and scrapers. */
#ifndef SETT_ADMIN_ADMIN_H
#define SETT_ADMIN_ADMIN_H

#include <stdbool.h>

#include "core/buf.h"
#include "net/server.h"

/* What one reload did, as POST /admin/reload answers it. */
typedef struct adm_reload_report {
    const char *group;  /* on failure: "config" or "policy", the part that was refused */
    buf_t error;        /* on failure: why, NUL-terminated */
    buf_t live;         /* changed keys applied while serving, each name NUL-terminated */
    buf_t restart;      /* changed keys that take effect only after a restart, the same way */
    const char *policy; /* on success: "reloaded", "removed" or "none" */
} adm_reload_report_t;

void adm_on_request(net_conn_t *c, hreq *req, void *ud);
/* Sets the token /admin/ routes need: without one they answer 401 admin.unauthorized, with
 * another 403 admin.forbidden. NULL leaves them open. The string is copied. */
void adm_set_token(const char *token);
/* True when the admin listener on host (an IPv4 literal) can be reached from other machines and
 * no token guards it: anyone who reaches it could reload the configuration. */
bool adm_exposed(const char *host, const char *token);
/* The function POST /admin/reload calls: 0, or -1 with report->group and report->error set. */
void adm_set_reload(int (*fn)(void *ud, adm_reload_report_t *report), void *ud);
void adm_reload_report_free(adm_reload_report_t *r);
/* Appends the NUL-separated names in names as one comma-separated, NUL-terminated string. */
void adm_join_names(const buf_t *names, buf_t *out);

#endif
