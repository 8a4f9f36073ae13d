/* The tunnel ping of every open WebSocket: while the open is acknowledged, each request pings its
 * runner (ToRunnerPing with a wall-clock timestamp) every ping interval plus jitter; the runner
 * half answers ToGatewayPong with the timestamp echoed, which gives the RTT of the real path
 * (gateway_tunnel_ping_duration) and keeps the socket alive. A socket that heard no pong for the
 * ping timeout closes 1011 guard.websocket_service_timeout. */
#include "gateway/gw_impl.h"
#include "core/random.h"

#include <string.h>

static int64_t gw_ping_wall_ms(void)
{
    uv_timeval64_t tv;
    uv_gettimeofday(&tv);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

void gw_ping_init(gw_t *gw)
{
    gw->m_ping = met_histogram("gateway_tunnel_ping_duration",
                               "RTT of messages from gateway to pegboard", NULL, NULL, 0);
    gw->m_pong_dropped = met_counter("gateway_tunnel_pong_dropped_total",
                                     "Pongs for requests no longer in flight.", NULL);
}

void gw_ping_start(gw_t *gw, gw_req_t *r)
{
    gw_ws(r)->last_pong = clk_now(gw->clk);
    gw_timer_start(r, gw_ws(r)->ping_interval_ms + rnd_jitter_ms());
}

static void gw_ping_send(gw_t *gw, gw_req_t *r)
{
    rp_to_runner_t m;
    m.tag = RP_TO_RUNNER_PING;
    memcpy(m.val.ping.gateway_id, gw->id, 4);
    memcpy(m.val.ping.request_id, r->rid, 4);
    m.val.ping.ts = gw_ping_wall_ms();
    buf_reset(&gw->scratch);
    rp_to_runner_encode_versioned(&gw->scratch, &m);
    bus_publish(gw->bus, r->subject, gw->scratch.data, gw->scratch.len);
}

void gw_ping_tick(gw_t *gw, gw_req_t *r)
{
    /* The timeout is checked against the last pong before each ping goes out. */
    gw_ws_req_t *w = gw_ws(r);
    if (clk_now(gw->clk) - w->last_pong > w->ping_timeout_ms) {
        gw_ws_fail(gw, r, "websocket_service_timeout");
        return;
    }
    gw_ping_send(gw, r);
    gw_timer_start(r, w->ping_interval_ms + rnd_jitter_ms());
}

void gw_ping_on_pong(gw_t *gw, const rp_to_gateway_pong_t *pong)
{
    gw_req_t *r = map_get(&gw->inflight, pong->request_id, 4);
    if (!r) {
        met_inc(gw->m_pong_dropped);
        return;
    }
    int64_t rtt = gw_ping_wall_ms() - pong->ts;
    met_observe(gw->m_ping, (double)(rtt < 0 ? 0 : rtt) / 1000.0);
    /* Only sockets are pinged; a pong naming an HTTP request has no socket to keep alive. */
    if (r->kind == GW_WS)
        gw_ws(r)->last_pong = clk_now(gw->clk);
}
