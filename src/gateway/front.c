#include "gateway/front.h"
#include "net/url.h"

#include <string.h>

void gw_front_on_request(net_conn_t *c, hreq *req, void *ud)
{
    gw_front_t *f = ud;
    url_parts u;
    url_split(req->url.p, req->url.len, &u);
    if (u.path.len == 7 && memcmp(u.path.p, "/health", 7) == 0) {
        static const char ok[] = "{\"status\":\"ok\"}";
        net_http_respond(c, 200, "application/json", NULL, ok, sizeof ok - 1);
        return;
    }
    if (rn_handle(f->rn, c, req, &u))
        return;
    if (gw_handle(f->gw, c, req, &u))
        return;
    static const char nf[] = "{\"group\":\"guard\",\"code\":\"no_route\",\"message\":\"no route "
                             "for this path\"}";
    net_http_respond(c, 404, "application/json", NULL, nf, sizeof nf - 1);
}
