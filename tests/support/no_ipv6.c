/* Preloaded into upcase (LD_PRELOAD) to make it see a host without IPv6: creating an IPv6
 * socket fails with EAFNOSUPPORT, as on a kernel booted with ipv6.disable=1. Everything else
 * goes to the C library. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <sys/socket.h>

int socket(int domain, int type, int protocol) {
    static int (*real_socket)(int, int, int);
    if (domain == AF_INET6) {
        errno = EAFNOSUPPORT;
        return -1;
    }
    if (!real_socket) {
        real_socket = (int (*)(int, int, int))dlsym(RTLD_NEXT, "socket");
    }
    return real_socket(domain, type, protocol);
}
