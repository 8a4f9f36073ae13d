/* The REST API on the main listener, in Rivet's JSON shapes: actors, runners, namespaces. */
#ifndef SETT_API_API_H
#define SETT_API_API_H

#include "engine/engine.h"
#include "net/server.h"
#include "net/url.h"

/* Answers a REST route; returns 0 when the path is not one, so other routes can be tried. */
int api_handle(eng_t *e, net_conn_t *c, hreq *req, const url_parts *u);

#endif
