/* trickle: a slowloris. N connections each send a request head one byte every --gap-ms and
 * never finish it; a connection the server answers (a 408 at its header deadline) or closes is
 * counted and opened again, so N trickle for the whole run.
 *
 *   trickle --port PORT -c 300 -d 10 [--gap-ms 200] [--bind 127.0.0.2]
 *
 * Prints "trickle: N open" on stderr once all are connected, and at the end:
 * opened= answered_408= closed= */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char tr_head[] = "GET /trickle HTTP/1.1\r\nHost: h\r\nX-Pad: "
                              "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                              "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

typedef struct tr_conn {
    int fd;
    size_t sent;
} tr_conn;

static struct sockaddr_in tr_dst, tr_src;
static int tr_bind;

static double tr_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int tr_dial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    if (tr_bind && bind(fd, (struct sockaddr *)&tr_src, sizeof tr_src) != 0) {
        close(fd);
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&tr_dst, sizeof tr_dst) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int main(int argc, char **argv)
{
    int n = 300, secs = 10, gap_ms = 200, port = 0;
    static const struct option opts[] = { { "port", 1, 0, 'p' }, { "gap-ms", 1, 0, 'g' },
                                          { "bind", 1, 0, 'b' }, { 0, 0, 0, 0 } };
    tr_src.sin_family = AF_INET;
    for (int o; (o = getopt_long(argc, argv, "c:d:p:", opts, NULL)) != -1;) {
        if (o == 'c')
            n = atoi(optarg);
        else if (o == 'd')
            secs = atoi(optarg);
        else if (o == 'p')
            port = atoi(optarg);
        else if (o == 'g')
            gap_ms = atoi(optarg);
        else if (o == 'b')
            tr_bind = inet_pton(AF_INET, optarg, &tr_src.sin_addr) == 1;
        else
            return 2;
    }
    if (!port || n <= 0) {
        fprintf(stderr, "usage: trickle --port PORT -c N -d SECS [--gap-ms MS] [--bind ADDR]\n");
        return 2;
    }
    tr_dst.sin_family = AF_INET;
    tr_dst.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, "127.0.0.1", &tr_dst.sin_addr);

    tr_conn *c = calloc((size_t)n, sizeof *c);
    struct pollfd *pf = calloc((size_t)n, sizeof *pf);
    unsigned long opened = 0, answered = 0, closed = 0;
    for (int i = 0; i < n; i++) {
        c[i].fd = tr_dial();
        if (c[i].fd < 0) {
            fprintf(stderr, "trickle: connect: %s\n", strerror(errno));
            return 1;
        }
        opened++;
    }
    fprintf(stderr, "trickle: %d open\n", n);
    double end = tr_now() + secs, next = tr_now();
    while (tr_now() < end) {
        for (int i = 0; i < n; i++)
            pf[i] = (struct pollfd){ c[i].fd, POLLIN, 0 };
        int wait = (int)((next - tr_now()) * 1000);
        poll(pf, (nfds_t)n, wait > 0 ? wait : 0);
        for (int i = 0; i < n; i++) {
            if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char buf[4096];
            ssize_t got = recv(c[i].fd, buf, sizeof buf, 0);
            if (got >= 12 && memcmp(buf, "HTTP/1.1 408", 12) == 0)
                answered++;
            else
                closed++;
            close(c[i].fd);
            c[i].fd = tr_dial();
            c[i].sent = 0;
            if (c[i].fd < 0)
                return 1;
            opened++;
        }
        if (tr_now() >= next) {
            for (int i = 0; i < n; i++)
                if (c[i].sent < sizeof tr_head - 1 &&
                    send(c[i].fd, tr_head + c[i].sent, 1, MSG_NOSIGNAL) == 1)
                    c[i].sent++;
            next += gap_ms / 1000.0;
        }
    }
    printf("opened=%lu answered_408=%lu closed=%lu\n", opened, answered, closed);
    return 0;
}
