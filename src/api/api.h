/* The REST API on the main listener, in Rivet 2.2.1's public JSON shapes, over the engine:
 * actors (create, get-or-create, list, names, get, delete, a KV key), runners (list, names),
 * namespaces (list, create, get), metadata and datacenters. Routes, bodies and answers are in
 * docs/api.md.
 *
 * Every answer but a KV read's is given before api_handle returns; the module keeps no state
 * between requests besides the configured token. */
#ifndef SETT_API_API_H
#define SETT_API_API_H

#include "engine/engine.h"
#include "net/server.h"
#include "net/url.h"

/* Answers req when its path is under /actors, /runners, /namespaces, /metadata or /datacenters
 * (with 404, 405 or 400 when the path, method or input is wrong) and returns 1; returns 0 without
 * answering for any other path, so the caller can try its other routes. An OPTIONS request (a
 * CORS preflight) is answered 200 with no body and no token check; the CORS headers are the
 * caller's (net_http_set_extra). */
int api_handle(eng_t *e, net_conn_t *c, hreq *req, const url_parts *u);

/* When token is set, every API request must carry "Authorization: Bearer <token>": without one
 * it gets 401 api.unauthorized, with another 403 api.forbidden. NULL turns the check off. The
 * string is copied. */
void api_set_token(const char *token);

#endif
