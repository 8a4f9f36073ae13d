/* redis-server processes for the C tests: a free loopback port, start (and wait until it answers),
 * stop with a signal, and a blocking hiredis client to look inside. redis-server must be on PATH;
 * a test that needs one fails without it, it never skips. */
#ifndef SETT_TEST_REDIS_SRV_H
#define SETT_TEST_REDIS_SRV_H

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "free_port.h"

typedef struct srv {
    pid_t pid;
    int port;
    const char *password;
} srv_t;

static redisContext *srv_client(int port, const char *password)
{
    struct timeval tv = { 1, 0 };
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (!c || c->err) {
        if (c)
            redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    if (password) {
        redisReply *r = redisCommand(c, "AUTH %s", password);
        if (r)
            freeReplyObject(r);
    }
    return c;
}

static bool srv_ping(int port, const char *password)
{
    redisContext *c = srv_client(port, password);
    if (!c)
        return false;
    redisReply *r = redisCommand(c, "PING");
    bool ok = r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
    if (r)
        freeReplyObject(r);
    redisFree(c);
    return ok;
}

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Starts redis-server on port (0: a free one), without persistence, and waits until it answers. */
static bool srv_start(srv_t *s, int port, const char *password)
{
    s->port = port ? port : free_port();
    s->password = password;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", s->port);
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, 1);
            dup2(null, 2);
        }
        if (password)
            execlp("redis-server", "redis-server", "--bind", "127.0.0.1", "--port", portstr,
                   "--save", "", "--appendonly", "no", "--daemonize", "no", "--requirepass",
                   password, (char *)NULL);
        else
            execlp("redis-server", "redis-server", "--bind", "127.0.0.1", "--port", portstr,
                   "--save", "", "--appendonly", "no", "--daemonize", "no", (char *)NULL);
        _exit(127);
    }
    s->pid = pid;
    for (int i = 0; i < 200; i++) {
        if (srv_ping(s->port, password))
            return true;
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            s->pid = 0;
            fprintf(stderr,
                    "redis-server exited at start (status %d); is it "
                    "installed and on PATH?\n",
                    status);
            return false;
        }
        sleep_ms(25);
    }
    fprintf(stderr, "redis-server on port %d did not answer\n", s->port);
    return false;
}

static void srv_stop(srv_t *s, int sig)
{
    if (s->pid <= 0)
        return;
    kill(s->pid, SIGCONT);
    kill(s->pid, sig);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
}

#endif
