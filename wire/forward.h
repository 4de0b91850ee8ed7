/*
 * A 1:1 byte forwarder: a TCP listener on the event loop whose connections
 * are relayed, unchanged, to a backend (a unix socket or host:port) that a
 * callback picks at accept time.  This is what an instance or cluster
 * endpoint is until the data plane speaks the database protocols: the
 * client talks to the real server, login included.  Picking the backend
 * per connection is what makes a cluster writer endpoint follow a failover.
 */
#ifndef WIRE_FORWARD_H
#define WIRE_FORWARD_H

#include <stdbool.h>
#include <stddef.h>

struct loop;
struct emu_err;

struct fwd_backend {
	char path[108]; /* unix socket path; "" = use host:port */
	char host[64];
	int port;
};

/* 0 with *out filled, or -1: no backend now (the client is closed). */
typedef int (*fwd_resolve_cb)(void *ud, struct fwd_backend *out);

struct fwd_listener;

/* A non-blocking connect to b (unix socket or IPv4 host:port): the fd, or
 * -1; *connecting when it completes later (EPOLLOUT, then SO_ERROR). */
int fwd_connect(const struct fwd_backend *b, bool *connecting);
/* A non-blocking listening TCP socket on addr:port (IPv4 literal,
 * SO_REUSEADDR): the fd, or -1 with err. */
int fwd_listen_socket(const char *addr, int port, struct emu_err *err);
/* One pending connection of a listening socket, non-blocking, close-on-exec,
 * TCP_NODELAY (inherited from a fwd_listen_socket listener); -1 when none is
 * waiting (errno). */
int fwd_accept(int listen_fd);

/* Listens on addr:port (IPv4 literal).  NULL with err on bind failure. */
struct fwd_listener *fwd_listen(struct loop *l, const char *addr, int port, fwd_resolve_cb resolve, void *ud,
                                struct emu_err *err);
/* Closes the listener and every connection it accepted. */
void fwd_close(struct fwd_listener *f);
/* Cuts every open connection (a failover: clients see the server go away). */
void fwd_drop_connections(struct fwd_listener *f);
size_t fwd_connections(const struct fwd_listener *f);

#endif
