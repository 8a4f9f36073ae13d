/* Listening on a free loopback port: o's host and port are filled in and a port taken between
 * free_port and the bind is replaced by another, up to 20 times. Returns the port, or 0. */
#ifndef SETT_TEST_LISTEN_PORT_H
#define SETT_TEST_LISTEN_PORT_H

#include "free_port.h"

#include "net/server.h"

static int listen_port(net_server_t *srv, net_listen_opts_t o)
{
    const char *err = NULL;
    o.host = "127.0.0.1";
    for (int attempt = 0; attempt < 20; attempt++) {
        o.port = free_port();
        if (o.port > 0 && net_listen(srv, &o, &err) == 0)
            return o.port;
    }
    return 0;
}

#endif
