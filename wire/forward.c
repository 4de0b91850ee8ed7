/*
 * forward.c owns 1:1 relaying between an endpoint's clients and a backend
 * server (contract in forward.h).
 * May call: emu/loop, emu/log, emu/err, libc sockets.
 * Invariants: every accepted connection is on its listener's list until
 * both of its sockets are closed; a connection holds at most FWD_BUF bytes
 * per direction and stops reading from a side whose bytes the other side
 * has not taken yet (back-pressure, bounded memory); the backend connect
 * is non-blocking, client bytes wait in the buffer until it completes.
 */
#include "wire/forward.h"

#include "emu/err.h"
#include "emu/log.h"
#include "emu/loop.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define FWD_BUF 65536

struct pipe_buf {
	size_t off, len;
	unsigned char data[FWD_BUF];
};

struct fwd_conn {
	struct fwd_listener *owner;
	struct fwd_conn *prev, *next;
	int cfd, bfd;           /* client, backend */
	bool connecting;        /* backend connect in progress */
	bool c_eof, b_eof;      /* peer finished sending */
	struct pipe_buf to_b, to_c;
};

struct fwd_listener {
	struct loop *loop;
	int fd;
	fwd_resolve_cb resolve;
	void *ud;
	struct fwd_conn *conns;
	size_t n;
	char name[80];
};

static void conn_free(struct fwd_conn *c)
{
	struct fwd_listener *f = c->owner;
	if (c->cfd >= 0) {
		loop_del_fd(f->loop, c->cfd);
		close(c->cfd);
	}
	if (c->bfd >= 0) {
		loop_del_fd(f->loop, c->bfd);
		close(c->bfd);
	}
	if (c->prev)
		c->prev->next = c->next;
	else
		f->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	f->n--;
	free(c);
}

/* Reads what fits from fd into b: 1 progress or would block, 0 EOF, -1 error. */
static int fill(int fd, struct pipe_buf *b)
{
	if (b->off == b->len)
		b->off = b->len = 0;
	if (b->len == FWD_BUF)
		return 1;
	ssize_t r = recv(fd, b->data + b->len, FWD_BUF - b->len, 0);
	if (r > 0) {
		b->len += (size_t)r;
		return 1;
	}
	if (r == 0)
		return 0;
	return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 1 : -1;
}

/* Writes what it can from b to fd: 0 ok (maybe partial), -1 error. */
static int drain(int fd, struct pipe_buf *b)
{
	while (b->off < b->len) {
		ssize_t w = send(fd, b->data + b->off, b->len - b->off, MSG_NOSIGNAL);
		if (w > 0) {
			b->off += (size_t)w;
			continue;
		}
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return 0;
		return -1;
	}
	b->off = b->len = 0;
	return 0;
}

static void on_client(struct loop *l, int fd, uint32_t ev, void *ud);
static void on_backend(struct loop *l, int fd, uint32_t ev, void *ud);

/* Re-arms both sockets for what they can do now; frees the connection when
 * nothing is left to relay. */
static void rearm(struct fwd_conn *c)
{
	bool to_b_pending = c->to_b.off < c->to_b.len, to_c_pending = c->to_c.off < c->to_c.len;
	/* one side finished and everything it sent has been delivered: close */
	if ((c->c_eof && !to_b_pending) || (c->b_eof && !to_c_pending)) {
		conn_free(c);
		return;
	}
	uint32_t ce = 0, be = 0;
	if (!c->c_eof && c->to_b.len < FWD_BUF)
		ce |= EPOLLIN;
	if (to_c_pending)
		ce |= EPOLLOUT;
	if (c->connecting) {
		be = EPOLLOUT;
	} else {
		if (!c->b_eof && c->to_c.len < FWD_BUF)
			be |= EPOLLIN;
		if (to_b_pending)
			be |= EPOLLOUT;
	}
	loop_mod_fd(c->owner->loop, c->cfd, ce);
	loop_mod_fd(c->owner->loop, c->bfd, be);
}

static void on_client(struct loop *l, int fd, uint32_t ev, void *ud)
{
	(void)l;
	(void)fd;
	struct fwd_conn *c = ud;
	if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		int r = fill(c->cfd, &c->to_b);
		if (r < 0) {
			conn_free(c);
			return;
		}
		c->c_eof = c->c_eof || r == 0;
	}
	if ((ev & EPOLLOUT) && drain(c->cfd, &c->to_c) < 0) {
		conn_free(c);
		return;
	}
	if (!c->connecting && drain(c->bfd, &c->to_b) < 0) {
		conn_free(c);
		return;
	}
	rearm(c);
}

static void on_backend(struct loop *l, int fd, uint32_t ev, void *ud)
{
	(void)l;
	(void)fd;
	struct fwd_conn *c = ud;
	if (c->connecting) {
		int e = 0;
		socklen_t el = sizeof e;
		if (getsockopt(c->bfd, SOL_SOCKET, SO_ERROR, &e, &el) < 0 || e != 0) {
			log_info("forward", "%s: backend connect failed: %s", c->owner->name, strerror(e ? e : errno));
			conn_free(c);
			return;
		}
		c->connecting = false;
	}
	if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		int r = fill(c->bfd, &c->to_c);
		if (r < 0) {
			conn_free(c);
			return;
		}
		c->b_eof = c->b_eof || r == 0;
	}
	if (drain(c->bfd, &c->to_b) < 0 || drain(c->cfd, &c->to_c) < 0) {
		conn_free(c);
		return;
	}
	rearm(c);
}

/* Non-blocking connect to the backend: fd, or -1. */
int fwd_connect(const struct fwd_backend *b, bool *connecting)
{
	int fd;
	int r;
	*connecting = false;
	if (b->path[0]) {
		struct sockaddr_un su = {.sun_family = AF_UNIX};
		if (strlen(b->path) >= sizeof su.sun_path)
			return -1;
		memcpy(su.sun_path, b->path, strlen(b->path) + 1);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -1;
		r = connect(fd, (struct sockaddr *)&su, sizeof su);
	} else {
		struct sockaddr_in si = {.sin_family = AF_INET, .sin_port = htons((uint16_t)b->port)};
		if (inet_pton(AF_INET, b->host, &si.sin_addr) != 1)
			return -1;
		fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -1;
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		r = connect(fd, (struct sockaddr *)&si, sizeof si);
	}
	if (r < 0 && errno != EINPROGRESS && errno != EAGAIN) {
		close(fd);
		return -1;
	}
	*connecting = r < 0;
	return fd;
}

int fwd_accept(int listen_fd)
{
	return accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

static void on_accept(struct loop *l, int fd, uint32_t ev, void *ud)
{
	(void)ev;
	struct fwd_listener *f = ud;
	for (int i = 0; i < 64; i++) {
		int cfd = fwd_accept(fd);
		if (cfd < 0)
			return;
		struct fwd_backend b;
		memset(&b, 0, sizeof b);
		bool connecting;
		int bfd = f->resolve(f->ud, &b) == 0 ? fwd_connect(&b, &connecting) : -1;
		struct fwd_conn *c = bfd >= 0 ? malloc(sizeof *c) : NULL;
		if (!c) {
			log_info("forward", "%s: no backend available, connection closed", f->name);
			if (bfd >= 0)
				close(bfd);
			close(cfd);
			continue;
		}
		c->owner = f;
		c->cfd = cfd;
		c->bfd = bfd;
		c->connecting = connecting;
		c->c_eof = c->b_eof = false;
		c->to_b.off = c->to_b.len = c->to_c.off = c->to_c.len = 0;
		c->prev = NULL;
		c->next = f->conns;
		if (f->conns)
			f->conns->prev = c;
		f->conns = c;
		f->n++;
		if (loop_add_fd(l, cfd, EPOLLIN, on_client, c) < 0) {
			c->cfd = -1;
			close(cfd);
			conn_free(c);
			continue;
		}
		if (loop_add_fd(l, bfd, EPOLLOUT, on_backend, c) < 0) {
			c->bfd = -1;
			close(bfd);
			conn_free(c);
			continue;
		}
		rearm(c);
	}
}

int fwd_listen_socket(const char *addr, int port, struct emu_err *err)
{
	struct sockaddr_in si = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	if (port <= 0 || port > 65535 || inet_pton(AF_INET, addr, &si.sin_addr) != 1)
		return emu_err_set(err, ERR_INVALID_PARAMETER_VALUE, "bad listen address %.64s:%d", addr, port);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	/* TCP_NODELAY here: accepted sockets inherit it (no setsockopt per connection) */
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0 ||
	    bind(fd, (struct sockaddr *)&si, sizeof si) < 0 || listen(fd, 511) < 0) {
		emu_err_set(err, ERR_INTERNAL, "cannot listen on %s:%d: %s", addr, port, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

struct fwd_listener *fwd_listen(struct loop *l, const char *addr, int port, fwd_resolve_cb resolve, void *ud,
                                struct emu_err *err)
{
	int fd = fwd_listen_socket(addr, port, err);
	if (fd < 0)
		return NULL;
	struct fwd_listener *f = calloc(1, sizeof *f);
	if (!f || loop_add_fd(l, fd, EPOLLIN, on_accept, f) < 0) {
		free(f);
		close(fd);
		emu_err_set(err, ERR_INTERNAL, "out of memory");
		return NULL;
	}
	f->loop = l;
	f->fd = fd;
	f->resolve = resolve;
	f->ud = ud;
	snprintf(f->name, sizeof f->name, "%s:%d", addr, port);
	return f;
}

void fwd_drop_connections(struct fwd_listener *f)
{
	while (f && f->conns)
		conn_free(f->conns);
}

void fwd_close(struct fwd_listener *f)
{
	if (!f)
		return;
	fwd_drop_connections(f);
	loop_del_fd(f->loop, f->fd);
	close(f->fd);
	free(f);
}

size_t fwd_connections(const struct fwd_listener *f)
{
	return f ? f->n : 0;
}
