/* Refusals made visible: every malformed request, WebSocket protocol error, refused runner and
 * connection cut for a limit is counted in sett_refusals_total{reason} and logged at info with
 * the peer's address, the status or close code and a fixed description; never a header, a
 * target or a payload, which may carry tokens. Hostile peers can cause refusals at any rate, so
 * at most NET_LOG_PER_SECOND lines are written a second, and the next line written says how
 * many were left out. */
#include "net/conn.h"

#include <stdio.h>

#include "core/log.h"

#define NET_LOG_PER_SECOND 10

static const char *const net_refusal_names[NET_R_COUNT] = {
    [NET_R_BAD_REQUEST] = "bad_request",
    [NET_R_HEAD_TOO_LARGE] = "request_header_too_large",
    [NET_R_BODY_TOO_LARGE] = "request_body_too_large",
    [NET_R_NOT_IMPLEMENTED] = "not_implemented",
    [NET_R_BAD_VERSION] = "http_version_not_supported",
    [NET_R_BAD_UPGRADE] = "bad_upgrade",
    [NET_R_HEADER_TIMEOUT] = "header_timeout",
    [NET_R_BODY_TIMEOUT] = "body_timeout",
    [NET_R_TOO_MANY_CONNECTIONS] = "too_many_connections",
    [NET_R_TOO_MANY_FROM_ADDRESS] = "too_many_connections_from_address",
    [NET_R_OUTPUT_LIMIT] = "output_limit",
    [NET_R_SEND_TIMEOUT] = "send_timeout",
    [NET_R_BUFFERED_LIMIT] = "buffered_limit",
    [NET_R_WS_PROTOCOL_ERROR] = "websocket_protocol_error",
    [NET_R_WS_INVALID_DATA] = "websocket_invalid_data",
    [NET_R_WS_MESSAGE_TOO_BIG] = "websocket_message_too_big",
    [NET_R_RUNNER_REFUSED] = "runner_refused",
};

const char *net_refusal_name(enum net_refusal why)
{
    return net_refusal_names[why];
}

void net_refusals_init(net_server_t *s)
{
    for (int i = 0; i < NET_R_COUNT; i++) {
        char labels[64];
        snprintf(labels, sizeof labels, "reason=\"%s\"", net_refusal_names[i]);
        s->m_refused[i] = met_counter("sett_refusals_total",
                                      "Requests and connections refused or cut, by reason.",
                                      labels);
    }
}

enum net_refusal net_refusal_of_status(int status)
{
    switch (status) {
    case 413: return NET_R_BODY_TOO_LARGE;
    case 431: return NET_R_HEAD_TOO_LARGE;
    case 501: return NET_R_NOT_IMPLEMENTED;
    case 505: return NET_R_BAD_VERSION;
    default: return NET_R_BAD_REQUEST;
    }
}

void net_refused(net_conn_t *c, enum net_refusal why, int status, const char *detail)
{
    net_server_t *s = c->lst->srv;
    met_inc(s->m_refused[why]);
    if (log_min_level > LOG_INFO)
        return;
    uint64_t second = uv_now(s->loop) / 1000;
    if (second != s->log_second) {
        s->log_second = second;
        s->log_count = 0;
    }
    if (s->log_count >= NET_LOG_PER_SECOND) {
        s->log_suppressed++;
        return;
    }
    s->log_count++;
    struct log_field f[] = { LF_S("reason", net_refusal_names[why]),
                             LF_S("peer", net_conn_peer(c)),
                             LF_S("listener", c->lst->opts.name),
                             LF_I(c->state == NET_WS ? "code" : "status", status),
                             LF_S("detail", detail ? detail : ""),
                             LF_U("not_logged_before", s->log_suppressed) };
    /* The count of lines left out is only shown when there were some. */
    if (s->log_suppressed)
        log_info("refused", f[0], f[1], f[2], f[3], f[4], f[5]);
    else
        log_info("refused", f[0], f[1], f[2], f[3], f[4]);
    s->log_suppressed = 0;
}
