/*
 * relay.c: the floor of a pooler's CPU per transaction on this machine.  A
 * byte relay with no logic at all: each TCP client accepted on 127.0.0.1
 * gets its own connection to a PostgreSQL unix socket and bytes are copied
 * both ways as they come (one epoll loop, level-triggered, one recv and one
 * send per readable event: the same system calls per transaction as any
 * epoll-based pooler, with no parsing, pooling, authentication or queues).
 * proxy_bench.sh runs pgbench through it beside PgBouncer and rdsemu and
 * prints its CPU per transaction: what no pooler of this design can go
 * below here, because the cost is the kernel's (TCP delivery on loopback runs
 * in the sender, and so do the wake-ups of the receivers).
 * Usage: relay PORT UNIX_SOCKET_PATH      (runs until killed)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAXFD 65536

static int peer[MAXFD];

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void drop(int ep, int fd)
{
	int p = peer[fd];
	epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
	close(fd);
	if (p >= 0) {
		epoll_ctl(ep, EPOLL_CTL_DEL, p, NULL);
		close(p);
		peer[p] = -1;
	}
	peer[fd] = -1;
}

/* A client accepted: its own backend connection, both watched. */
static void pair(int ep, int c, const char *path)
{
	int one = 1;
	struct sockaddr_un u = {.sun_family = AF_UNIX};
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	int b = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(u.sun_path, sizeof u.sun_path, "%s", path);
	if (b < 0 || b >= MAXFD || c >= MAXFD || connect(b, (struct sockaddr *)&u, sizeof u) < 0) {
		if (b >= 0)
			close(b);
		close(c);
		return;
	}
	peer[c] = b;
	peer[b] = c;
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = c};
	epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
	ev.data.fd = b;
	epoll_ctl(ep, EPOLL_CTL_ADD, b, &ev);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: relay PORT UNIX_SOCKET_PATH\n");
		return 2;
	}
	memset(peer, 0xff, sizeof peer);
	int one = 1;
	int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[1]))};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (l < 0 || setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 511) < 0)
		die("listen");
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = l};
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev) < 0)
		die("epoll");
	static char buf[65536];
	struct epoll_event evs[64];
	for (;;) {
		int n = epoll_wait(ep, evs, 64, -1);
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == l) {
				int c;
				while ((c = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0)
					pair(ep, c, argv[2]);
				continue;
			}
			if (peer[fd] < 0)
				continue; /* dropped earlier in this batch */
			ssize_t r = recv(fd, buf, sizeof buf, 0);
			if (r <= 0) {
				drop(ep, fd);
				continue;
			}
			/* bench messages are small: a short send is finished by waiting */
			for (ssize_t off = 0; off < r;) {
				ssize_t w = send(peer[fd], buf + off, (size_t)(r - off), MSG_NOSIGNAL);
				if (w > 0) {
					off += w;
				} else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
					struct pollfd pf = {.fd = peer[fd], .events = POLLOUT};
					poll(&pf, 1, 1000);
				} else {
					drop(ep, fd);
					break;
				}
			}
		}
	}
}
