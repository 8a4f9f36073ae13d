/* ws-load: a closed-loop WebSocket load client. N connections each send a message, wait for its
 * echo, verify it byte for byte and send the next, for D seconds; per-message latency goes into
 * a histogram. One read and one write per round trip, on libuv, with sett's own frame codec in
 * client mode (the lws client parses frames a byte at a time and is too slow to load with).
 *
 *   ws-load --url ws://127.0.0.1:PORT/PATH -c 100 -s 64 -d 10 [--subprotocol P] [--open-only]
 *           [--path P] [--bind 127.0.0.2] [--gap-ms MS]
 *
 * --open-only holds the sockets idle (for memory figures) and says "ws-load: N open" on stderr
 * once all are upgraded. --bind picks the source address, because one source address has only
 * about 28,000 ephemeral ports towards one destination. --gap-ms waits that long after each echo
 * before the next message, so that every message can find its actor asleep (wake latency).
 *
 * Prints: rt_per_s= p50_us= p90_us= p99_us= max_us= errors= */
#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "net/ws_frame.h"

#define WL_BUCKETS 4096
/* Connections are opened at most this many at a time: thousands of simultaneous SYNs overflow
 * the listen queue and the dropped ones wait seconds for their retransmission. */
#define WL_MAX_CONNECTING 256

typedef struct wl_conn {
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_write_t wreq;
    uv_timer_t gap;
    buf_t in;
    buf_t out;
    int upgraded;
    uint64_t sent_at;
    uint32_t seq;
} wl_conn_t;

static struct {
    const char *host;
    int port;
    char path[1024];
    const char *subprotocol;
    int conns;
    size_t size;
    double duration;
    int open_only;
    uint64_t gap_ms;
    uv_loop_t *loop;
    struct wl_conn *cs;
    struct sockaddr_in addr, src;
    int bind;
    int started;
    int connecting;
    uint8_t *payload;
    int open;
    int measuring;
    int done;
    uint64_t rts;
    uint64_t errors;
    uint64_t hist[WL_BUCKETS]; /* microseconds, linear to 1 ms then log */
    uint64_t max_us;
    uv_timer_t warm, stop;
} wl;

static void wl_record(uint64_t us)
{
    size_t b = us < 1000 ? us : 1000 + (size_t)(us - 1000) / 100;
    if (b >= WL_BUCKETS)
        b = WL_BUCKETS - 1;
    wl.hist[b]++;
    if (us > wl.max_us)
        wl.max_us = us;
}

static uint64_t wl_percentile(double p)
{
    uint64_t total = 0, seen = 0;
    for (size_t i = 0; i < WL_BUCKETS; i++)
        total += wl.hist[i];
    if (!total)
        return 0;
    uint64_t want = (uint64_t)(p * (double)total);
    for (size_t i = 0; i < WL_BUCKETS; i++) {
        seen += wl.hist[i];
        if (seen > want)
            return i < 1000 ? i : 1000 + (i - 1000) * 100;
    }
    return wl.max_us;
}

static void wl_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    wl_conn_t *c = h->data;
    b->base = (char *)buf_reserve(&c->in, 65536);
    b->len = 65536;
}

static void wl_written(uv_write_t *w, int status)
{
    if (status)
        wl.errors++;
}

static void wl_send(wl_conn_t *c)
{
    static const uint8_t key[4] = { 0x37, 0xfa, 0x21, 0x3d };
    buf_reset(&c->out);
    /* The first 4 bytes carry a sequence number, so a reordered or stale echo is caught. */
    if (wl.size >= 4)
        memcpy(wl.payload, &c->seq, 4);
    wsf_append_frame(&c->out, WSF_OP_BINARY, wl.payload, wl.size, key);
    uv_buf_t b = uv_buf_init((char *)c->out.data, (unsigned)c->out.len);
    c->sent_at = uv_hrtime();
    uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, wl_written);
}

static void wl_on_connect(uv_connect_t *req, int status);

/* Starts connections until WL_MAX_CONNECTING are on their way or all have been started. */
static void wl_start_more(void)
{
    while (wl.started < wl.conns && wl.connecting < WL_MAX_CONNECTING) {
        wl_conn_t *c = &wl.cs[wl.started++];
        uv_tcp_init_ex(wl.loop, &c->tcp, AF_INET);
        c->tcp.data = c;
        c->connect.data = c;
        if (wl.bind) {
            /* The port is picked at connect time, for the whole 4-tuple: a port taken by bind()
             * alone would be barred from every other connection on the machine. */
            uv_os_fd_t fd;
            int one = 1;
            if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
                setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
            uv_tcp_bind(&c->tcp, (struct sockaddr *)&wl.src, 0);
        }
        if (wl.gap_ms) {
            uv_timer_init(wl.loop, &c->gap);
            c->gap.data = c;
        }
        wl.connecting++;
        uv_tcp_connect(&c->connect, &c->tcp, (struct sockaddr *)&wl.addr, wl_on_connect);
    }
}

/* A connection is done connecting: upgraded, refused or failed. */
static void wl_connected(void)
{
    wl.connecting--;
    wl_start_more();
}

static void wl_on_gap(uv_timer_t *t)
{
    if (!wl.done)
        wl_send(t->data);
}

static void wl_on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    wl_conn_t *c = s->data;
    if (n < 0) {
        if (!wl.done)
            wl.errors++;
        uv_read_stop(s);
        if (!c->upgraded)
            wl_connected();
        return;
    }
    c->in.len += (size_t)n;
    if (!c->upgraded) {
        char *end = memmem(c->in.data, c->in.len, "\r\n\r\n", 4);
        if (!end)
            return;
        if (c->in.len < 12 || memcmp(c->in.data, "HTTP/1.1 101", 12) != 0) {
            wl.errors++;
            fprintf(stderr, "ws-load: upgrade refused: %.*s\n", (int)(end - (char *)c->in.data),
                    (char *)c->in.data);
            uv_read_stop(s);
            wl_connected();
            return;
        }
        buf_consume(&c->in, (size_t)(end - (char *)c->in.data) + 4);
        c->upgraded = 1;
        wl.open++;
        wl_connected();
        if (wl.open == wl.conns) {
            fprintf(stderr, "ws-load: %d open\n", wl.open);
            fflush(stderr);
        }
        if (!wl.open_only)
            wl_send(c);
        return;
    }
    for (;;) {
        wsf_frame f;
        int r = wsf_parse_frame(WSF_ROLE_CLIENT, c->in.data, c->in.len, (uint64_t)1 << 32, &f);
        if (r == WSF_AGAIN)
            return;
        if (r == WSF_ERR || f.opcode == WSF_OP_CLOSE) {
            wl.errors++;
            uv_read_stop(s);
            return;
        }
        uint64_t us = (uv_hrtime() - c->sent_at) / 1000;
        int ok = f.len == wl.size && (wl.size < 4 || memcmp(f.payload, &c->seq, 4) == 0) &&
                 (wl.size <= 4 || memcmp(f.payload + 4, wl.payload + 4, wl.size - 4) == 0);
        buf_consume(&c->in, (size_t)f.frame_len);
        if (!ok)
            wl.errors++;
        if (wl.measuring) {
            wl.rts++;
            wl_record(us);
        }
        c->seq++;
        if (wl.gap_ms)
            uv_timer_start(&c->gap, wl_on_gap, wl.gap_ms, 0);
        else if (!wl.done)
            wl_send(c);
    }
}

static void wl_on_connect(uv_connect_t *req, int status)
{
    wl_conn_t *c = req->data;
    if (status) {
        wl.errors++;
        fprintf(stderr, "ws-load: connect: %s\n", uv_strerror(status));
        wl_connected();
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    buf_t h = BUF_INIT;
    buf_printf(&h, "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n",
               wl.path, wl.host, wl.port);
    if (wl.subprotocol)
        buf_printf(&h, "Sec-WebSocket-Protocol: %s\r\n", wl.subprotocol);
    buf_append_str(&h, "\r\n");
    c->out = h;
    uv_buf_t b = uv_buf_init((char *)c->out.data, (unsigned)c->out.len);
    uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, wl_written);
    uv_read_start((uv_stream_t *)&c->tcp, wl_alloc, wl_on_read);
}

static void wl_start_measuring(uv_timer_t *t)
{
    wl.measuring = 1;
}

static void wl_stop(uv_timer_t *t)
{
    wl.done = 1;
    wl.measuring = 0;
    uv_stop(wl.loop);
}

int main(int argc, char **argv)
{
    const char *url = "ws://127.0.0.1:6420/";
    wl.conns = 1;
    wl.size = 64;
    wl.duration = 5;
    static const struct option opts[] = {
        { "url", required_argument, 0, 'u' }, { "conns", required_argument, 0, 'c' },
        { "size", required_argument, 0, 's' }, { "duration", required_argument, 0, 'd' },
        { "subprotocol", required_argument, 0, 'p' }, { "open-only", no_argument, 0, 'o' },
        { "path", required_argument, 0, 'P' }, { "bind", required_argument, 0, 'b' },
        { "gap-ms", required_argument, 0, 'g' }, { 0, 0, 0, 0 },
    };
    const char *path_opt = NULL;
    const char *bind_addr = NULL;
    int ch;
    while ((ch = getopt_long(argc, argv, "u:c:s:d:p:oP:b:g:", opts, NULL)) != -1) {
        switch (ch) {
        case 'u': url = optarg; break;
        case 'c': wl.conns = atoi(optarg); break;
        case 's': wl.size = (size_t)atol(optarg); break;
        case 'd': wl.duration = atof(optarg); break;
        case 'p': wl.subprotocol = optarg; break;
        case 'o': wl.open_only = 1; break;
        case 'P': path_opt = optarg; break;
        case 'b': bind_addr = optarg; break;
        case 'g': wl.gap_ms = (uint64_t)atoll(optarg); break;
        default:
            fprintf(stderr, "usage: ws-load --url ws://HOST:PORT/PATH [-c N] [-s BYTES] [-d SECS] "
                            "[--subprotocol P] [--path P] [--open-only] [--bind ADDR] "
                            "[--gap-ms MS]\n");
            return 2;
        }
    }
    static char host[64];
    if (sscanf(url, "ws://%63[^:]:%d%1023s", host, &wl.port, wl.path) < 2) {
        fprintf(stderr, "ws-load: bad url %s\n", url);
        return 2;
    }
    if (!wl.path[0])
        strcpy(wl.path, "/");
    if (path_opt)
        snprintf(wl.path, sizeof wl.path, "%s", path_opt);
    wl.host = host;
    wl.payload = sx_malloc(wl.size ? wl.size : 1);
    for (size_t i = 0; i < wl.size; i++)
        wl.payload[i] = (uint8_t)('a' + i % 26);
    wl.loop = uv_default_loop();
    uv_ip4_addr(host, wl.port, &wl.addr);
    if (bind_addr && uv_ip4_addr(bind_addr, 0, &wl.src) != 0) {
        fprintf(stderr, "ws-load: bad bind address %s\n", bind_addr);
        return 2;
    }
    wl.bind = bind_addr != NULL;
    wl.cs = sx_calloc((size_t)wl.conns, sizeof *wl.cs);
    wl_start_more();
    uv_timer_init(wl.loop, &wl.warm);
    uv_timer_init(wl.loop, &wl.stop);
    /* One second of warm-up is left out of the figures. */
    uv_timer_start(&wl.warm, wl_start_measuring, 1000, 0);
    uv_timer_start(&wl.stop, wl_stop, (uint64_t)((wl.duration + 1) * 1000), 0);
    uint64_t t0 = uv_hrtime();
    uv_run(wl.loop, UV_RUN_DEFAULT);
    double secs = (double)(uv_hrtime() - t0) / 1e9 - 1.0;
    if (wl.open_only) {
        printf("open=%d errors=%llu\n", wl.open, (unsigned long long)wl.errors);
    } else {
        printf("rt_per_s=%.0f p50_us=%llu p90_us=%llu p99_us=%llu max_us=%llu errors=%llu open=%d\n",
               secs > 0 ? (double)wl.rts / secs : 0.0, (unsigned long long)wl_percentile(0.50),
               (unsigned long long)wl_percentile(0.90), (unsigned long long)wl_percentile(0.99),
               (unsigned long long)wl.max_us, (unsigned long long)wl.errors, wl.open);
    }
    return wl.errors ? 1 : 0;
}
