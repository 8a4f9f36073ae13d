#include "admin/admin.h"
#include "core/buf.h"
#include "core/metrics.h"
#include "net/url.h"

#include <string.h>

static const char adm_json[] = "application/json";

void adm_on_request(net_conn_t *c, hreq *req, void *ud)
{
    (void)ud;
    url_parts u;
    url_split(req->url.p, req->url.len, &u);
    const char *method = req->method;

    if (u.path.len == 7 && memcmp(u.path.p, "/health", 7) == 0) {
        static const char ok[] = "{\"status\":\"ok\"}";
        net_http_respond(c, 200, adm_json, NULL, ok, sizeof ok - 1);
        return;
    }
    if (u.path.len == 8 && memcmp(u.path.p, "/metrics", 8) == 0) {
        if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
            static const char body[] = "{\"group\":\"admin\",\"code\":\"method_not_allowed\","
                                       "\"message\":\"use GET\"}";
            net_http_respond(c, 405, adm_json, "Allow: GET, HEAD\r\n", body, sizeof body - 1);
            return;
        }
        buf_t out = BUF_INIT;
        met_render(&out);
        net_http_respond(c, 200, "text/plain; version=0.0.4; charset=utf-8", NULL, out.data,
                         out.len);
        buf_free(&out);
        return;
    }
    static const char nf[] = "{\"group\":\"admin\",\"code\":\"not_found\",\"message\":\"no such "
                             "admin route\"}";
    net_http_respond(c, 404, adm_json, NULL, nf, sizeof nf - 1);
}
