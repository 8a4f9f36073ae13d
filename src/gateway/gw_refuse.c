/* Requests for actors that are answered with an error before they reach the tunnel. HTTP gets
 * Rivet's JSON error. A WebSocket upgrade cannot carry an answer a browser or RivetKit reads, so
 * it is accepted, as Rivet's gateway does, and closed at once with 1011 and the reason
 * "<group>.<code>#<ray id>": RivetKit reads that reason (a stale handle re-resolves its actor on
 * `actor.not_found`), and a socket refused before the upgrade only fires `error` there. */
#include "gateway/gw_impl.h"
#include "core/json.h"
#include "core/log.h"
#include "core/random.h"
#include "net/ws_handshake.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

int gw_ws_upgrade(net_conn_t *c, hreq *req, const net_ws_handler_t *h, void *ud)
{
    wsh_offers offers;
    wsh_offers_init(&offers);
    wsh_offers_parse(&offers, req);
    static const char *const pref[] = { "rivet", NULL };
    const slice_t *proto = wsh_select_protocol(&offers, pref);
    int rc = net_ws_accept(c, req, proto ? (const char *)proto->p : NULL, proto ? proto->len : 0, h,
                           ud);
    wsh_offers_free(&offers);
    return rc;
}

/* A refused socket reads nothing: what the client sends before its close is dropped, and its
 * close frame is answered by the transport. */
static const net_ws_handler_t gw_refused_handler = { NULL, NULL, NULL, NULL };

/* Upgrades and closes 1011 "<group>.<code>#<ray id>"; the transport then closes the connection
 * once the client's close frame is in, or after its close wait. The ray id is 8 random hex
 * digits, as in every close reason sett writes. Group and code are ASCII identifiers, kept to
 * GW_REFUSE_NAME_MAX bytes each so that the reason fits in the 123 bytes a close frame holds. */
#define GW_REFUSE_NAME_MAX 56
static void gw_refuse_ws(net_conn_t *c, hreq *req, const char *group, size_t glen, const char *code,
                         size_t clen)
{
    uint8_t ray[4];
    rnd_bytes(ray, sizeof ray);
    glen = glen > GW_REFUSE_NAME_MAX ? GW_REFUSE_NAME_MAX : glen;
    clen = clen > GW_REFUSE_NAME_MAX ? GW_REFUSE_NAME_MAX : clen;
    char reason[2 * GW_REFUSE_NAME_MAX + 16];
    int n = snprintf(reason, sizeof reason, "%.*s.%.*s#%02x%02x%02x%02x", (int)glen, group,
                     (int)clen, code, ray[0], ray[1], ray[2], ray[3]);
    if (gw_ws_upgrade(c, req, &gw_refused_handler, NULL) != 0)
        return;
    /* At debug, as the HTTP refusals are not logged either: a client may ask for unknown
     * actors as often as it likes. The count is by group and code, without the ray id, so its
     * series are as few as the errors sett and the policy name. */
    log_debug("gateway: websocket refused", LF_S("reason", reason));
    char labels[2 * GW_REFUSE_NAME_MAX + 16];
    snprintf(labels, sizeof labels, "reason=\"%.*s.%.*s\"", (int)glen, group, (int)clen, code);
    met_inc(met_counter("gateway_websocket_refused_total",
                        "WebSockets upgraded and closed 1011 before reaching an actor, by reason.",
                        labels));
    net_ws_close(c, 1011, reason, (size_t)n);
}

/* A group or code that may stand in a close reason: a short identifier (Rivet's are
 * snake_case), so it needs no cutting and cannot break the reason's UTF-8 or its syntax. */
static bool gw_refuse_name(const char *s, size_t len)
{
    if (len == 0 || len > GW_REFUSE_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-'))
            return false;
    }
    return true;
}

void gw_refuse(net_conn_t *c, hreq *req, int status, const char *group, const char *code,
               const char *message, const char *headers)
{
    if (req && req->upgrade)
        gw_refuse_ws(c, req, group, strlen(group), code, strlen(code));
    else
        net_http_error(c, status, group, code, message, headers);
}

/* The code a policy's answer stands for when its body is no Rivet error: the common refusals
 * by name, any other status as "refused". */
static const char *gw_status_code(int status)
{
    switch (status) {
    case 400: return "bad_request";
    case 401: return "unauthorized";
    case 403: return "forbidden";
    case 404: return "not_found";
    case 429: return "rate_limited";
    default: return "refused";
    }
}

void gw_refuse_answer(net_conn_t *c, hreq *req, int status, const char *headers, const void *body,
                      size_t len)
{
    if (!req || !req->upgrade || status < 400) {
        net_http_respond(c, status, NULL, headers, body, len);
        return;
    }
    /* A body that is a Rivet error {"group":..,"code":..} names the reason itself. */
    const char *g = NULL, *k = NULL;
    size_t gl = 0, kl = 0;
    json_doc doc;
    json_err err;
    int parsed = len && json_parse(body, len, &doc, &err) == JSON_OK;
    if (parsed) {
        const json_value *root = json_doc_root(&doc);
        if (json_get_str(json_obj_get(root, "group"), &g, &gl) != JSON_OK ||
            json_get_str(json_obj_get(root, "code"), &k, &kl) != JSON_OK ||
            !gw_refuse_name(g, gl) || !gw_refuse_name(k, kl))
            g = NULL;
    }
    if (g) {
        gw_refuse_ws(c, req, g, gl, k, kl);
    } else {
        const char *code = gw_status_code(status);
        gw_refuse_ws(c, req, "policy", 6, code, strlen(code));
    }
    if (parsed)
        json_doc_free(&doc);
}
