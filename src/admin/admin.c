#include "admin/admin.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/metrics.h"
#include "net/url.h"

#include <string.h>

static const char adm_json[] = "application/json";

static int (*adm_reload_fn)(void *ud, buf_t *err);
static void *adm_reload_ud;

void adm_set_reload(int (*fn)(void *ud, buf_t *err), void *ud)
{
    adm_reload_fn = fn;
    adm_reload_ud = ud;
}

static void adm_reload(net_conn_t *c)
{
    buf_t err = BUF_INIT, body = BUF_INIT;
    if (!adm_reload_fn || adm_reload_fn(adm_reload_ud, &err) != 0) {
        json_w w;
        json_w_init(&w, &body);
        json_w_obj_begin(&w);
        json_w_key(&w, "group");
        json_w_str(&w, "policy");
        json_w_key(&w, "code");
        json_w_str(&w, "reload_failed");
        json_w_key(&w, "message");
        json_w_str(&w, err.len ? (const char *)err.data : "no policy is configured");
        json_w_end(&w);
        net_http_respond(c, 422, adm_json, NULL, body.data, body.len);
    } else {
        static const char ok[] = "{\"reloaded\":true}";
        net_http_respond(c, 200, adm_json, NULL, ok, sizeof ok - 1);
    }
    buf_free(&err);
    buf_free(&body);
}

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
    if (u.path.len == 13 && memcmp(u.path.p, "/admin/reload", 13) == 0) {
        if (strcmp(method, "POST") != 0) {
            static const char body[] = "{\"group\":\"admin\",\"code\":\"method_not_allowed\","
                                       "\"message\":\"use POST\"}";
            net_http_respond(c, 405, adm_json, "Allow: POST\r\n", body, sizeof body - 1);
            return;
        }
        adm_reload(c);
        return;
    }
    static const char nf[] = "{\"group\":\"admin\",\"code\":\"not_found\",\"message\":\"no such "
                             "admin route\"}";
    net_http_respond(c, 404, adm_json, NULL, nf, sizeof nf - 1);
}
