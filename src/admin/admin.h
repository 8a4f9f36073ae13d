/* The admin listener: /health and /metrics (Prometheus text), later the admin API. */
#ifndef SETT_ADMIN_ADMIN_H
#define SETT_ADMIN_ADMIN_H

#include "net/server.h"

void adm_on_request(net_conn_t *c, hreq *req, void *ud);

#endif
