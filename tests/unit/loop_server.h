/* A test's listener on its uv loop (loop_wait.h): loop_server_start creates `srv` and listens on
 * a free loopback port, loop_server_stop shuts it down and waits for it, and loop_server_finish
 * runs the loop out and checks that no handle is left open. In between the test frees what it
 * built on the loop. */
#ifndef SETT_TEST_LOOP_SERVER_H
#define SETT_TEST_LOOP_SERVER_H

#include "listen_port.h"
#include "loop_wait.h"
#include "t.h"

#include "core/metrics.h"
#include "net/server.h"

static net_server_t *srv;
static int loop_server_stopped;

/* Returns the port it listens on, or 0 when no free port could be bound. */
static int loop_server_start(const net_limits_t *limits, net_request_cb on_request, void *ud)
{
    srv = net_server_new(&loop, limits);
    return listen_port(srv,
                       (net_listen_opts_t){ .name = "main", .on_request = on_request, .ud = ud });
}

static void loop_server_on_shutdown(void *ud)
{
    loop_server_stopped = 1;
    net_server_destroy(srv);
}

static void loop_server_stop(void)
{
    net_server_shutdown(srv, 1000, loop_server_on_shutdown, NULL);
    CHECK(RUN_UNTIL(loop_server_stopped, 3000));
}

static void loop_server_finish(void)
{
    loop_wait_close();
    uv_run(&loop, UV_RUN_DEFAULT);
    net_server_finish(srv);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(uv_loop_close(&loop), 0);
    met_free_all();
}

#endif
