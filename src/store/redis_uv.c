/* The hiredis libuv adapter (see redis_uv.h). Its shape follows hiredis' own adapter: one uv_poll
 * handle per context, started and stopped as hiredis asks for read and write interest. */
#include "store/redis_uv.h"

#include "core/alloc.h"

#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

typedef struct rds_uv {
    redisAsyncContext *ac; /* NULL once hiredis has called cleanup */
    uv_poll_t poll;
    int events; /* the interest hiredis asked for */
    rds_uv_opts_t opts;
} rds_uv_t;

/* libuv reports a socket error (POLLERR) as a non-zero status with no events and stops the
 * handle. hiredis only learns about the error by reading or writing, so on error both handlers
 * the context is interested in are run; they find the error and disconnect, which is what makes a
 * refused connect call the connect callback. */
static void rds_uv_on_poll(uv_poll_t *h, int status, int events)
{
    rds_uv_t *p = h->data;
    int ev = status ? p->events : events;
    if (p->ac && (ev & UV_READABLE))
        redisAsyncHandleRead(p->ac);
    if (p->ac && (ev & UV_WRITABLE)) {
        if (p->opts.write_events)
            (*p->opts.write_events)++;
        redisAsyncHandleWrite(p->ac);
    }
}

static void rds_uv_update(rds_uv_t *p)
{
    if (p->events)
        uv_poll_start(&p->poll, p->events, rds_uv_on_poll);
    else
        uv_poll_stop(&p->poll);
}

static void rds_uv_add_read(void *privdata)
{
    rds_uv_t *p = privdata;
    p->events |= UV_READABLE;
    rds_uv_update(p);
}

static void rds_uv_del_read(void *privdata)
{
    rds_uv_t *p = privdata;
    p->events &= ~UV_READABLE;
    rds_uv_update(p);
}

static void rds_uv_add_write(void *privdata)
{
    rds_uv_t *p = privdata;
    p->events |= UV_WRITABLE;
    rds_uv_update(p);
}

static void rds_uv_del_write(void *privdata)
{
    rds_uv_t *p = privdata;
    p->events &= ~UV_WRITABLE;
    rds_uv_update(p);
}

static void rds_uv_on_close(uv_handle_t *h)
{
    rds_uv_t *p = h->data;
    if (p->opts.on_closed)
        p->opts.on_closed(p->opts.ud);
    free(p);
}

/* hiredis calls this while freeing the context, before it closes the socket; uv_close stops the
 * watcher at once, so libuv never polls the closed descriptor. */
static void rds_uv_cleanup(void *privdata)
{
    rds_uv_t *p = privdata;
    p->ac = NULL;
    uv_close((uv_handle_t *)&p->poll, rds_uv_on_close);
}

int rds_uv_attach(redisAsyncContext *ac, uv_loop_t *loop, const rds_uv_opts_t *opts)
{
    if (ac->ev.data != NULL || ac->c.fd < 0)
        return REDIS_ERR;
    rds_uv_t *p = sx_calloc(1, sizeof *p);
    if (uv_poll_init(loop, &p->poll, ac->c.fd) != 0) {
        free(p);
        return REDIS_ERR;
    }
    if (opts)
        p->opts = *opts;
    p->ac = ac;
    p->poll.data = p;
    if (p->opts.unref)
        uv_unref((uv_handle_t *)&p->poll);
    ac->ev.addRead = rds_uv_add_read;
    ac->ev.delRead = rds_uv_del_read;
    ac->ev.addWrite = rds_uv_add_write;
    ac->ev.delWrite = rds_uv_del_write;
    ac->ev.cleanup = rds_uv_cleanup;
    ac->ev.data = p;
    return REDIS_OK;
}
