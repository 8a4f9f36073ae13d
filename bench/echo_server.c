/* echo-server: a plain WebSocket echo server on sett's transport (lws raw sockets and sett's
 * frame codec), the backend for the direct and nginx benchmark runs.
 *
 *   echo-server [PORT]          (default 9001; 127.0.0.1) */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#include "core/log.h"
#include "net/server.h"
#include "net/ws_handshake.h"

static void es_message(net_conn_t *c, void *ud, int binary, const uint8_t *data, size_t len)
{
    net_ws_send(c, binary, data, len);
}

static const net_ws_handler_t es_handler = { es_message, NULL, NULL, NULL };

static void es_request(net_conn_t *c, hreq *req, void *ud)
{
    if (!req->upgrade) {
        static const char body[] = "echo";
        net_http_respond(c, 200, "text/plain", NULL, body, sizeof body - 1);
        return;
    }
    wsh_offers offers;
    wsh_offers_init(&offers);
    wsh_offers_parse(&offers, req);
    const slice_t *p = wsh_select_protocol(&offers, NULL);
    net_ws_accept(c, req, p ? (const char *)p->p : NULL, p ? p->len : 0, &es_handler, NULL);
    wsh_offers_free(&offers);
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 9001;
    signal(SIGPIPE, SIG_IGN);
    log_setup(LOG_WARN, 0);
    uv_loop_t *loop = uv_default_loop();
    net_limits_t limits = { 65536, 20u << 20, 64u << 20, 60 };
    net_server_t *s = net_server_new(loop, &limits);
    const char *err = NULL;
    net_listen_opts_t o = { .name = "echo", .host = "127.0.0.1", .port = port,
                            .on_request = es_request };
    if (!s || net_listen(s, &o, &err) != 0) {
        fprintf(stderr, "echo-server: %s\n", err ? err : "cannot start");
        return 1;
    }
    fprintf(stderr, "echo-server on 127.0.0.1:%d\n", port);
    uv_run(loop, UV_RUN_DEFAULT);
    return 0;
}
