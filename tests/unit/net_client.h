/* A blocking test client for the transport tests: plain sockets to 127.0.0.1 that speak
 * HTTP/1.1 and RFC 6455 with hand-made bytes, so a test sees exactly what a peer would. The
 * test sets nc_port to the server's port before dialling. */
#ifndef SETT_TEST_NET_CLIENT_H
#define SETT_TEST_NET_CLIENT_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "net/ws_frame.h"

static int nc_port;

/* Connects to the server (from a loopback source address of the caller's choosing, when src
 * is not NULL) with a 5 s receive timeout; returns the socket or -1. */
static inline int nc_dial_from(const char *src)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (src) {
        struct sockaddr_in b = { .sin_family = AF_INET };
        inet_pton(AF_INET, src, &b.sin_addr);
        bind(fd, (struct sockaddr *)&b, sizeof b);
    }
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)nc_port) };
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct timeval tv = { 5, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static inline int dial(void)
{
    return nc_dial_from(NULL);
}

static inline void send_all(int fd, const void *p, size_t n)
{
    const char *s = p;
    while (n) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

/* Reads until the buffer holds `want` bytes or the peer closes; returns the bytes held. */
static inline size_t recv_until(int fd, buf_t *b, size_t want)
{
    while (b->len < want) {
        uint8_t *p = buf_reserve(b, 65536);
        ssize_t r = recv(fd, p, 65536, 0);
        if (r <= 0)
            break;
        b->len += (size_t)r;
    }
    return b->len;
}

/* Reads one HTTP response (Content-Length or chunked) and returns its total length. */
static inline size_t recv_response(int fd, buf_t *b, size_t start)
{
    for (;;) {
        size_t avail = b->len - start;
        char *s = b->len > start ? (char *)b->data + start : NULL;
        char *end = s ? memmem(s, avail, "\r\n\r\n", 4) : NULL;
        if (end) {
            size_t head = (size_t)(end - s) + 4;
            char *cl = memmem(s, head, "Content-Length: ", 16);
            if (cl) {
                size_t n = strtoul(cl + 16, NULL, 10);
                if (avail >= head + n)
                    return head + n;
            } else if (memmem(s, head, "chunked", 7)) {
                char *z = memmem(s + head, avail - head, "0\r\n\r\n", 5);
                if (z)
                    return (size_t)(z - s) + 5;
            } else {
                return head;
            }
        }
        size_t before = b->len;
        if (recv_until(fd, b, b->len + 1) == before)
            return 0;
    }
}

/* True when the peer closes the socket (rather than sending more, or nothing for 5 s). */
static inline int nc_peer_closes(int fd)
{
    uint8_t tmp[256];
    ssize_t r = recv(fd, tmp, sizeof tmp, 0);
    /* Bytes after the last expected frame or answer are a failure too. */
    return r == 0 || (r < 0 && errno == ECONNRESET);
}

static const char nc_upgrade_fmt[] =
    "GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n%s\r\n";

static inline int ws_open(const char *path, const char *extra, buf_t *resp)
{
    int fd = dial();
    char req[8192];
    int n = snprintf(req, sizeof req, nc_upgrade_fmt, path, extra ? extra : "");
    send_all(fd, req, (size_t)n);
    buf_reset(resp);
    recv_response(fd, resp, 0);
    return fd;
}

static const uint8_t mask_key[4] = { 0x12, 0x34, 0x56, 0x78 };

static inline void ws_send(int fd, unsigned op, const void *p, size_t n)
{
    buf_t b = BUF_INIT;
    wsf_append_frame(&b, op, p, n, mask_key);
    send_all(fd, b.data, b.len);
    buf_free(&b);
}

/* Reads one whole server frame from fd into f; the payload lands in b. Returns 0 on success. */
static inline int ws_recv(int fd, buf_t *b, wsf_frame *f)
{
    for (;;) {
        if (b->len) {
            int r = wsf_parse_frame(WSF_ROLE_CLIENT, b->data, b->len, (uint64_t)1 << 32, f);
            if (r == WSF_OK)
                return 0;
            if (r == WSF_ERR)
                return -1;
        }
        size_t before = b->len;
        if (recv_until(fd, b, b->len + 1) == before)
            return -1;
    }
}

static inline void ws_drop_frame(buf_t *b, const wsf_frame *f)
{
    buf_consume(b, (size_t)f->frame_len);
}

static inline int close_code(const wsf_frame *f)
{
    return f->len >= 2 ? (f->payload[0] << 8) | f->payload[1] : 1005;
}

static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Waits for the server to close fd; returns the seconds it took, or -1 if it did not. */
static inline double closed_after(int fd)
{
    double t0 = now_s();
    char c;
    ssize_t r = recv(fd, &c, 1, 0);
    return r == 0 ? now_s() - t0 : -1;
}

#endif
