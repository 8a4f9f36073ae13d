/* The main listener's first stop: every client, runner and REST request arrives here and is
 * sent to the part of sett that serves it. */
#ifndef SETT_GATEWAY_FRONT_H
#define SETT_GATEWAY_FRONT_H

#include "net/server.h"

void gw_front_on_request(net_conn_t *c, hreq *req, void *ud);

#endif
