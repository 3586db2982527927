/* The floor: the cheapest capitalization server this machine can run, to measure upcase
 * against. One thread, no framework, ASCII only (bytes a-z upper-cased, all others as they
 * are). UDP: recvmmsg and sendmmsg in batches of 64. TCP: epoll and one shared buffer; a reply
 * that does not fit in the socket at once waits, blocking everything, for the socket to drain.
 *
 *   cc -O2 -o floor floor/server.c && ./floor PORT
 *
 * Prints "listening on udp 127.0.0.1:PORT" and the same for tcp, like upcase. Loopback only. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 64
#define DGRAM 65536
#define EVENTS 256

static void upper(char *p, ssize_t n) {
    for (ssize_t i = 0; i < n; i++)
        if (p[i] >= 'a' && p[i] <= 'z') p[i] -= 32;
}

static void die(const char *what) { perror(what); exit(1); }

static int write_all(int fd, const char *p, ssize_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w > 0) { p += w; n -= w; continue; }
        if (w < 0 && errno == EAGAIN) {
            struct pollfd out = { .fd = fd, .events = POLLOUT };
            poll(&out, 1, -1);
            continue;
        }
        return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 0;
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(port) };
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;

    int tcp = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    setsockopt(tcp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(tcp, (struct sockaddr *)&addr, sizeof addr) < 0) die("bind tcp");
    if (listen(tcp, 4096) < 0) die("listen");
    socklen_t len = sizeof addr;
    getsockname(tcp, (struct sockaddr *)&addr, &len);
    int udp = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (bind(udp, (struct sockaddr *)&addr, sizeof addr) < 0) die("bind udp");
    printf("listening on udp 127.0.0.1:%d\nlistening on tcp 127.0.0.1:%d\n", ntohs(addr.sin_port),
           ntohs(addr.sin_port));
    fflush(stdout);

    int ep = epoll_create1(0);
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = tcp };
    epoll_ctl(ep, EPOLL_CTL_ADD, tcp, &ev);
    ev.data.fd = udp;
    epoll_ctl(ep, EPOLL_CTL_ADD, udp, &ev);

    static char buf[BATCH][DGRAM];
    static char shared[1 << 16];
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    struct sockaddr_in6 from[BATCH];
    struct epoll_event events[EVENTS];

    for (;;) {
        int n = epoll_wait(ep, events, EVENTS, -1);
        for (int e = 0; e < n; e++) {
            int fd = events[e].data.fd;
            if (fd == tcp) {
                int c;
                while ((c = accept4(tcp, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct epoll_event cev = { .events = EPOLLIN, .data.fd = c };
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
                }
            } else if (fd == udp) {
                for (;;) {
                    for (int i = 0; i < BATCH; i++) {
                        iov[i] = (struct iovec){ .iov_base = buf[i], .iov_len = DGRAM };
                        msgs[i].msg_hdr = (struct msghdr){ .msg_name = &from[i],
                            .msg_namelen = sizeof from[i], .msg_iov = &iov[i], .msg_iovlen = 1 };
                    }
                    int got = recvmmsg(udp, msgs, BATCH, MSG_DONTWAIT, NULL);
                    if (got <= 0) break;
                    for (int i = 0; i < got; i++) {
                        upper(buf[i], msgs[i].msg_len);
                        iov[i].iov_len = msgs[i].msg_len;
                    }
                    sendmmsg(udp, msgs, got, 0);
                }
            } else {
                ssize_t r = read(fd, shared, sizeof shared);
                if (r <= 0) {
                    if (r < 0 && errno == EAGAIN) continue;
                    if (r == 0) shutdown(fd, SHUT_WR);
                    close(fd);
                    continue;
                }
                upper(shared, r);
                if (write_all(fd, shared, r) < 0) close(fd);
            }
        }
    }
}
