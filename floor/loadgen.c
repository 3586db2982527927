/* The floor for load generators: the cheapest one this machine can run, to measure upcase bench
 * against. One thread, epoll, one buffer. It sends upcase bench's requests (a 10-digit number,
 * then lowercase letters) and checks every byte of every reply against the request upper-cased,
 * as it comes, so no connection keeps a reply of its own. TCP: CONNS connections, WINDOW
 * requests in flight on each. UDP: CONNS connected sockets, WINDOW datagrams in flight on each,
 * sent by sendmmsg and received by recvmmsg in batches of 64; a reply that does not come within
 * a second is counted lost and sent again. No latency is measured.
 *
 *   cc -O2 -o loadgen floor/loadgen.c
 *   ./loadgen tcp|udp PORT CONNS WINDOW SECONDS [SIZE]
 *
 * Prints one JSON line: {"replies":N,"seconds":S,"replies_per_second":R,"wrong":W,"lost":L}.
 * Exits 1 on any wrong reply. Loopback only: 127.0.0.1. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DIGITS 10
#define BATCH 64
#define EVENTS 256

static int size = 64, window = 1;

static void die(const char *what) { perror(what); exit(2); }

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

/* Byte i of the reply to request seq, upper-cased: its number, then letters. */
static char expected(uint64_t seq, int i) {
    if (i < DIGITS) {
        uint64_t n = seq % 10000000000ULL;
        for (int d = DIGITS - 1; d > i; d--) n /= 10;
        return '0' + n % 10;
    }
    return 'A' + (seq + i) % 26;
}

static void request(uint64_t seq, char *out) {
    for (int i = 0; i < size; i++) {
        char c = expected(seq, i);
        out[i] = i < DIGITS ? c : c + 32;
    }
}

static int connected(int type, int port) {
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(port) };
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, type, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) die("connect");
    int one = 1;
    if (type == SOCK_STREAM) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* One TCP connection: the next request to send, the reply being read and how far into it. */
struct conn { int fd; uint64_t next, reading; int at; };

static void tcp(int port, int conns, double seconds, uint64_t *replies, uint64_t *wrong) {
    int ep = epoll_create1(0);
    struct conn *c = calloc(conns, sizeof *c);
    static char buf[1 << 16];
    for (int i = 0; i < conns; i++) {
        c[i].fd = connected(SOCK_STREAM, port);
        struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };
        epoll_ctl(ep, EPOLL_CTL_ADD, c[i].fd, &ev);
    }
    double end = now() + seconds;
    for (int i = 0; i < conns; i++)
        for (int w = 0; w < window; w++) {
            request(c[i].next++, buf);
            if (write(c[i].fd, buf, size) != size) die("write");
        }
    struct epoll_event events[EVENTS];
    while (now() < end) {
        int n = epoll_wait(ep, events, EVENTS, 100);
        for (int e = 0; e < n; e++) {
            struct conn *k = &c[events[e].data.u32];
            ssize_t r = read(k->fd, buf, sizeof buf);
            if (r <= 0) die("read");
            int done = 0;
            for (ssize_t i = 0; i < r; i++) {
                if (buf[i] != expected(k->reading, k->at)) (*wrong)++;
                if (++k->at == size) { k->at = 0; k->reading++; done++; }
            }
            *replies += done;
            for (int d = 0; d < done; d++) {
                request(k->next++, buf);
                if (write(k->fd, buf, size) != size) die("write");
            }
        }
    }
}

/* One UDP socket: the next request to send, and when each of the window's was sent. */
struct sock { int fd; uint64_t next; int out; double oldest; };

static void udp(int port, int conns, double seconds, uint64_t *replies, uint64_t *wrong,
                uint64_t *lost) {
    int ep = epoll_create1(0);
    struct sock *s = calloc(conns, sizeof *s);
    static char buf[BATCH][1 << 16];
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    for (int i = 0; i < conns; i++) {
        s[i].fd = connected(SOCK_DGRAM, port);
        struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };
        epoll_ctl(ep, EPOLL_CTL_ADD, s[i].fd, &ev);
    }
    double end = now() + seconds;
    struct epoll_event events[EVENTS];
    for (;;) {
        double t = now();
        if (t >= end) break;
        for (int i = 0; i < conns; i++) {
            if (s[i].out > 0 && t - s[i].oldest > 1.0) { *lost += s[i].out; s[i].out = 0; }
            int want = window - s[i].out;
            if (want <= 0) continue;
            if (want > BATCH) want = BATCH;
            for (int m = 0; m < want; m++) {
                request(s[i].next++, buf[m]);
                iov[m] = (struct iovec){ .iov_base = buf[m], .iov_len = size };
                msgs[m].msg_hdr = (struct msghdr){ .msg_iov = &iov[m], .msg_iovlen = 1 };
            }
            int sent = sendmmsg(s[i].fd, msgs, want, 0);
            if (sent < 0) die("sendmmsg");
            if (s[i].out == 0) s[i].oldest = t;
            s[i].out += sent;
        }
        int n = epoll_wait(ep, events, EVENTS, 100);
        for (int e = 0; e < n; e++) {
            struct sock *k = &s[events[e].data.u32];
            for (int m = 0; m < BATCH; m++) {
                iov[m] = (struct iovec){ .iov_base = buf[m], .iov_len = sizeof buf[m] };
                msgs[m].msg_hdr = (struct msghdr){ .msg_iov = &iov[m], .msg_iovlen = 1 };
            }
            int got = recvmmsg(k->fd, msgs, BATCH, MSG_DONTWAIT, NULL);
            if (got < 0 && errno != EAGAIN) die("recvmmsg");
            for (int m = 0; m < got; m++) {
                char *p = buf[m];
                uint64_t seq = 0;
                for (int i = 0; i < DIGITS; i++) seq = seq * 10 + (p[i] - '0');
                int ok = (int)msgs[m].msg_len == size;
                for (int i = DIGITS; ok && i < size; i++) ok = p[i] == expected(seq, i);
                if (ok) (*replies)++; else (*wrong)++;
                if (k->out > 0) k->out--;
            }
            if (got > 0) k->oldest = now();
        }
    }
}

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: loadgen tcp|udp PORT CONNS WINDOW SECONDS [SIZE]\n");
        return 2;
    }
    int port = atoi(argv[2]), conns = atoi(argv[3]);
    window = atoi(argv[4]);
    double seconds = atof(argv[5]);
    if (argc > 6) size = atoi(argv[6]);
    if (size < DIGITS || size > 65000 || conns < 1 || window < 1) die("bad arguments");
    uint64_t replies = 0, wrong = 0, lost = 0;
    if (strcmp(argv[1], "tcp") == 0) tcp(port, conns, seconds, &replies, &wrong);
    else udp(port, conns, seconds, &replies, &wrong, &lost);
    printf("{\"replies\":%llu,\"seconds\":%.3f,\"replies_per_second\":%.1f,\"wrong\":%llu,"
           "\"lost\":%llu}\n", (unsigned long long)replies, seconds, replies / seconds,
           (unsigned long long)wrong, (unsigned long long)lost);
    return wrong ? 1 : 0;
}
