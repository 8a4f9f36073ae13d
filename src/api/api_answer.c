/* The API's answers: Rivet's error object and the 200 JSON reply.
 *
 * Statuses: Rivet's router answers 400 for every error outside its `api` group; sett answers
 * 404 for the not_found codes and 409 for the conflicts (the engine's choice), which RivetKit
 * does not mind because it reads only group, code and message. */
#include "api/api_impl.h"

#include <stdarg.h>
#include <stdio.h>

static const char api_json_type[] = "application/json";

void api_error_ex(net_conn_t *c, int status, const char *group, const char *code,
                  const char *message, const json_meta *meta, size_t nmeta, const char *headers)
{
    buf_t b = BUF_INIT;
    json_error_body(&b, group, code, message, meta, nmeta);
    net_http_respond(c, status, api_json_type, headers, b.data, b.len);
    buf_free(&b);
}

void api_error(net_conn_t *c, int status, const char *group, const char *code, const char *message)
{
    net_http_error(c, status, group, code, message, NULL);
}

void api_bad_request(net_conn_t *c, const char *fmt, ...)
{
    char reason[512], msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    snprintf(msg, sizeof msg, "Request is invalid: %s", reason);
    json_meta m = { "reason", reason, 0 };
    api_error_ex(c, 400, "api", "bad_request", msg, &m, 1, NULL);
}

void api_invalid_input(net_conn_t *c, const char *message)
{
    json_meta m = { "message", message, 0 };
    api_error_ex(c, 400, "validation", "invalid_input", message, &m, 1, NULL);
}

void api_actor_not_found(net_conn_t *c)
{
    api_error(c, 404, "actor", "not_found", "The actor does not exist or was destroyed.");
}

void api_namespace_not_found(net_conn_t *c)
{
    api_error(c, 404, "namespace", "not_found", "The namespace does not exist.");
}

void api_route_not_found(net_conn_t *c)
{
    api_error(c, 404, "api", "not_found", "The requested resource was not found");
}

void api_method_not_allowed(net_conn_t *c, const char *allow)
{
    char msg[96], hdr[96];
    snprintf(msg, sizeof msg, "Method not allowed; this path takes %s", allow);
    snprintf(hdr, sizeof hdr, "Allow: %s\r\n", allow);
    api_error_ex(c, 405, "api", "method_not_allowed", msg, NULL, 0, hdr);
}

void api_engine_error(net_conn_t *c, const eng_error_t *err)
{
    api_error(c, err->status, err->group, err->code, err->message);
}

void api_send(net_conn_t *c, buf_t *b)
{
    net_http_respond(c, 200, api_json_type, NULL, b->data, b->len);
    buf_free(b);
}
