/* The admin listener: /health and /metrics (Prometheus text), later the admin API. */
#ifndef SETT_ADMIN_ADMIN_H
#define SETT_ADMIN_ADMIN_H

#include "core/buf.h"
#include "net/server.h"

void adm_on_request(net_conn_t *c, hreq *req, void *ud);
/* The function POST /admin/reload calls: 0, or -1 with the reason in err. */
void adm_set_reload(int (*fn)(void *ud, buf_t *err), void *ud);

#endif
