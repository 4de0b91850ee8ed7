/*
 * The one HTTP port: every AWS API and the admin endpoints, served by
 * libmicrohttpd in external-epoll mode on the process's loop.
 */
#ifndef API_HTTP_H
#define API_HTTP_H

#include "emu/config.h"
#include "emu/err.h"

#include <jansson.h>

struct loop;
struct store;

/* What the HTTP side needs from the process (filled by main). */
struct http_env {
	struct store *store;
	const struct emu_config *cfg;
	/* Wipes all state, re-seeds built-ins and reloads start-up fixtures. */
	int (*reset)(void *ud, struct emu_err *err);
	/* Loads one fixture document (same code path as --fixtures). */
	int (*load_fixture)(void *ud, json_t *doc, struct emu_err *err);
	/* The local CA certificate (PEM) of the database endpoints, or NULL. */
	const char *(*ca_pem)(void);
	/* Proxy data-plane metrics: "json" or "prometheus"; malloc'd text or NULL. */
	char *(*proxy_metrics)(const char *format);
	void *ud;
};

struct http_server;

int http_start(struct http_server **out, struct loop *l, struct http_env *env, struct emu_err *err);
void http_stop(struct http_server *h);
/* The port actually bound (useful with --port 0). */
int http_port(const struct http_server *h);

#endif
