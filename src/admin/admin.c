#include "admin/admin.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/metrics.h"
#include "core/secret.h"
#include "net/url.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static const char adm_json[] = "application/json";

static int (*adm_reload_fn)(void *ud, adm_reload_report_t *report);
static void *adm_reload_ud;
static char *adm_token;

void adm_set_token(const char *token)
{
    free(adm_token);
    adm_token = token ? sx_strdup(token) : NULL;
}

bool adm_exposed(const char *host, const char *token)
{
    struct in_addr a;
    if (token)
        return false;
    /* 127.0.0.0/8 is this machine only; anything else, 0.0.0.0 included, may be reached. */
    return inet_pton(AF_INET, host, &a) != 1 || (ntohl(a.s_addr) >> 24) != 127;
}

/* The token check of /admin/ routes; returns true when the request may go on. */
static bool adm_authorized(net_conn_t *c, const hreq *req)
{
    if (!adm_token)
        return true;
    const slice_t *h = hreq_header(req, "authorization");
    switch (sec_bearer(adm_token, h ? h->p : NULL, h ? h->len : 0)) {
    case SEC_BEARER_OK: return true;
    case SEC_BEARER_MISSING:
        net_http_error(c, 401, "admin", "unauthorized", "Authentication required",
                       "WWW-Authenticate: Bearer\r\n");
        return false;
    case SEC_BEARER_WRONG: break;
    }
    net_http_error(c, 403, "admin", "forbidden", "Access denied", NULL);
    return false;
}

void adm_set_reload(int (*fn)(void *ud, adm_reload_report_t *report), void *ud)
{
    adm_reload_fn = fn;
    adm_reload_ud = ud;
}

void adm_reload_report_free(adm_reload_report_t *r)
{
    buf_free(&r->error);
    buf_free(&r->live);
    buf_free(&r->restart);
}

void adm_join_names(const buf_t *names, buf_t *out)
{
    for (size_t i = 0; i < names->len;) {
        const char *s = (const char *)names->data + i;
        if (i)
            buf_push(out, ',');
        buf_append_str(out, s);
        i += strlen(s) + 1;
    }
    buf_push(out, '\0');
}

static void adm_names(json_w *w, const char *key, const buf_t *names)
{
    json_w_key(w, key);
    json_w_arr_begin(w);
    for (size_t i = 0; i < names->len;) {
        const char *s = (const char *)names->data + i;
        json_w_str(w, s);
        i += strlen(s) + 1;
    }
    json_w_end(w);
}

/* Answers 200 with what changed, or 422 with the part that was refused and why; a refused
 * reload changed nothing. */
static void adm_reload(net_conn_t *c)
{
    adm_reload_report_t rep = { NULL, BUF_INIT, BUF_INIT, BUF_INIT, "none" };
    if (!adm_reload_fn || adm_reload_fn(adm_reload_ud, &rep) != 0) {
        net_http_error(c, 422, rep.group ? rep.group : "admin", "reload_failed",
                       rep.error.len ? (const char *)rep.error.data : "reload is not available",
                       NULL);
        adm_reload_report_free(&rep);
        return;
    }
    buf_t body = BUF_INIT;
    json_w w;
    json_w_init(&w, &body);
    json_w_obj_begin(&w);
    json_w_key(&w, "reloaded");
    json_w_bool(&w, true);
    json_w_key(&w, "policy");
    json_w_str(&w, rep.policy);
    adm_names(&w, "changed", &rep.live);
    adm_names(&w, "restart_required", &rep.restart);
    json_w_end(&w);
    net_http_respond(c, 200, adm_json, NULL, body.data, body.len);
    buf_free(&body);
    adm_reload_report_free(&rep);
}

void adm_on_request(net_conn_t *c, hreq *req, void *ud)
{
    (void)ud;
    url_parts u;
    url_split((const char *)req->url.p, req->url.len, &u);
    const char *method = req->method;

    if (u.path.len == 7 && memcmp(u.path.p, "/health", 7) == 0) {
        static const char ok[] = "{\"status\":\"ok\"}";
        net_http_respond(c, 200, adm_json, NULL, ok, sizeof ok - 1);
        return;
    }
    if (u.path.len == 8 && memcmp(u.path.p, "/metrics", 8) == 0) {
        if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
            net_http_error(c, 405, "admin", "method_not_allowed", "use GET",
                           "Allow: GET, HEAD\r\n");
            return;
        }
        buf_t out = BUF_INIT;
        met_render(&out);
        net_http_respond(c, 200, "text/plain; version=0.0.4; charset=utf-8", NULL, out.data,
                         out.len);
        buf_free(&out);
        return;
    }
    if (u.path.len >= 7 && memcmp(u.path.p, "/admin/", 7) == 0 && !adm_authorized(c, req))
        return;
    if (u.path.len == 13 && memcmp(u.path.p, "/admin/reload", 13) == 0) {
        if (strcmp(method, "POST") != 0) {
            net_http_error(c, 405, "admin", "method_not_allowed", "use POST", "Allow: POST\r\n");
            return;
        }
        adm_reload(c);
        return;
    }
    net_http_error(c, 404, "admin", "not_found", "no such admin route", NULL);
}
