/*
 * Copyright (c) 2026 The ovs-balancer authors.
 *
 * Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at:
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 *
 * Unless required by applicable law or agreed to in writing, software
 * distributed under the License is distributed on an "AS IS" BASIS,
 * WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 * See the License for the specific language governing permissions and
 * limitations under the License.
 */

/* Short TCP connections, for the datapath benchmark
 * (utilities/ovs-balancer-benchmark-datapath): how many a second a client
 * opens through a path, and how long each handshake takes.
 *
 *   ovs-balancer-tcp-load server IP PORT
 *       accepts connections; answers each one-byte request with one byte
 *       and closes.
 *   ovs-balancer-tcp-load client IP PORT SECONDS CONCURRENCY
 *       keeps CONCURRENCY connections in flight for SECONDS: each
 *       connects, sends a byte, reads the answer and closes with RST (so
 *       that no port waits in TIME_WAIT).  Prints the connections made a
 *       second, the failures, and the connect time (SYN to SYN-ACK, as the
 *       client sees it) at the median and the 99th percentile, in
 *       microseconds.
 *
 * It is plain epoll and sockets, with no OVS library: it stands for any
 * client and server. */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long long int
now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static void
fail(const char *what)
{
    perror(what);
    exit(1);
}

static struct sockaddr_in
parse_addr(const char *ip, const char *port)
{
    struct sockaddr_in sin = { .sin_family = AF_INET };

    if (inet_pton(AF_INET, ip, &sin.sin_addr) != 1) {
        fprintf(stderr, "%s: not an IPv4 address\n", ip);
        exit(1);
    }
    sin.sin_port = htons(atoi(port));
    return sin;
}

static void
server(const struct sockaddr_in *sin)
{
    int one = 1;
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

    if (lfd < 0) {
        fail("socket");
    }
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(lfd, (const struct sockaddr *) sin, sizeof *sin)
        || listen(lfd, 4096)) {
        fail("bind/listen");
    }
    int ep = epoll_create1(0);
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = lfd };
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);

    for (;;) {
        struct epoll_event evs[256];
        int n = epoll_wait(ep, evs, 256, -1);

        if (n < 0 && errno != EINTR) {
            fail("epoll_wait");
        }
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == lfd) {
                int c;
                while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    struct epoll_event cev = { .events = EPOLLIN,
                                               .data.fd = c };
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
                }
            } else {
                char buf[64];
                ssize_t r = read(fd, buf, sizeof buf);
                if (r > 0) {
                    ssize_t w = write(fd, "y", 1);
                    (void) w;
                }
                if (r != -1 || errno != EAGAIN) {
                    close(fd);
                }
            }
        }
    }
}

struct conn {
    int fd;
    bool connected;
    long long int started;
};

static int
compare_ll(const void *a_, const void *b_)
{
    long long int a = *(const long long int *) a_;
    long long int b = *(const long long int *) b_;
    return a < b ? -1 : a > b;
}

static void
start(int ep, struct conn *c, const struct sockaddr_in *sin)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (c->fd < 0) {
        fail("socket");
    }
    c->connected = false;
    c->started = now_us();
    if (connect(c->fd, (const struct sockaddr *) sin, sizeof *sin)
        && errno != EINPROGRESS) {
        fail("connect");
    }
    struct epoll_event ev = { .events = EPOLLOUT | EPOLLIN, .data.ptr = c };
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

static void
finish(struct conn *c)
{
    struct linger lg = { .l_onoff = 1, .l_linger = 0 };

    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(c->fd);
}

static int
client(const struct sockaddr_in *sin, int seconds, int concurrency)
{
    size_t max_samples = 4000000, n_samples = 0;
    long long int *samples = malloc(max_samples * sizeof *samples);
    struct conn *conns = calloc(concurrency, sizeof *conns);
    long long int done = 0, failed = 0;
    int ep = epoll_create1(0);

    long long int begin = now_us(), end = begin + seconds * 1000000LL;
    for (int i = 0; i < concurrency; i++) {
        start(ep, &conns[i], sin);
    }
    while (now_us() < end) {
        struct epoll_event evs[256];
        int n = epoll_wait(ep, evs, 256, 100);

        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            int err = 0;
            socklen_t len = sizeof err;

            getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err || evs[i].events & EPOLLERR) {
                failed++;
                close(c->fd);
                start(ep, c, sin);
                continue;
            }
            if (!c->connected) {
                if (!(evs[i].events & EPOLLOUT)) {
                    continue;
                }
                c->connected = true;
                if (n_samples < max_samples) {
                    samples[n_samples++] = now_us() - c->started;
                }
                if (write(c->fd, "x", 1) != 1) {
                    failed++;
                    close(c->fd);
                    start(ep, c, sin);
                    continue;
                }
                struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
            } else if (evs[i].events & EPOLLIN) {
                char buf[64];
                ssize_t r = read(c->fd, buf, sizeof buf);
                if (r > 0) {
                    done++;
                } else if (r < 0 && errno == EAGAIN) {
                    continue;
                } else {
                    failed++;
                }
                finish(c);
                start(ep, c, sin);
            }
        }
    }
    double elapsed = (now_us() - begin) / 1e6;
    qsort(samples, n_samples, sizeof *samples, compare_ll);
    printf("%.0f connections/s, %lld failed, connect p50 %lld us, "
           "p99 %lld us\n", done / elapsed, failed,
           n_samples ? samples[n_samples / 2] : 0,
           n_samples ? samples[n_samples * 99 / 100] : 0);
    return 0;
}

int
main(int argc, char *argv[])
{
    if (argc == 4 && !strcmp(argv[1], "server")) {
        struct sockaddr_in sin = parse_addr(argv[2], argv[3]);
        server(&sin);
    } else if (argc == 6 && !strcmp(argv[1], "client")) {
        struct sockaddr_in sin = parse_addr(argv[2], argv[3]);
        return client(&sin, atoi(argv[4]), atoi(argv[5]));
    }
    fprintf(stderr, "usage: %s server IP PORT\n"
            "       %s client IP PORT SECONDS CONCURRENCY\n",
            argv[0], argv[0]);
    return 1;
}
