/*
 * The PostgreSQL front-end of RDS Proxy endpoints (aws-behaviour.md 3):
 * listeners on proxy endpoint addresses, client start-up (SSLRequest and
 * TLS, StartupMessage checks), client authentication per the proxy's Auth
 * list (IAM token as a cleartext password over TLS, or the secret's
 * password with SCRAM-SHA-256 or MD5), pools of backend connections per
 * (target instance, user, database) logged in with the secret's
 * credentials, and transaction-level multiplexing: a backend is borrowed at
 * the first message of a transaction and returned at ReadyForQuery 'I',
 * unless a statement pinned the session (wire/pinning.c).
 *
 * Everything reaches the rest of the emulator through the store (proxy,
 * target and endpoint rows) and the hooks below (token verification and
 * rds-db:connect, reading a secret as the proxy's role, the audit trail),
 * which main.c wires to api/ and emu/.
 */
#ifndef WIRE_PGPROXY_H
#define WIRE_PGPROXY_H

#include <stdbool.h>
#include <stddef.h>

struct loop;
struct store;
struct emu_err;

struct pgproxy_token {
	const char *token;
	size_t len;
	const char *user, *region;
	const char *resource_id;      /* prx-... */
	const char *const *hosts;     /* the endpoint's names */
	size_t n_hosts;
	int port;
};

struct pgproxy_hooks {
	/* 0 accepted; -1 with err (reason) otherwise; principal gets the caller. */
	int (*verify_token)(void *ud, const struct pgproxy_token *t, char *principal, size_t cap, struct emu_err *err);
	/* The SecretString (AWSCURRENT) of secret_arn read as role_arn would
	 * (its policies and KMS apply): *value malloc'd, version (<= 80 chars). */
	int (*read_secret)(void *ud, const char *account, const char *region, const char *role_arn,
	                   const char *secret_arn, char **value, char *version, struct emu_err *err);
	/* End-to-end IAM (DefaultAuthScheme IAM_AUTH): may role_arn (the
	 * proxy's role) connect as db_user to the database whose resource id
	 * (db-... or cluster-...) is given?  0 yes; -1 with err otherwise. */
	int (*role_may_connect)(void *ud, const char *account, const char *region, const char *role_arn,
	                        const char *resource_id, const char *db_user, struct emu_err *err);
	/* One database login decision. */
	void (*audit)(void *ud, const char *account, const char *region, const char *proxy, const char *user,
	              const char *source, const char *principal, bool ok, const char *reason);
	void *ud;
};

void pgproxy_set_hooks(const struct pgproxy_hooks *h);
int pgproxy_init(struct loop *l, struct store *s);

struct pgproxy_listener;
/* A listener for the proxy endpoint (kind "proxy" owner prx-..., or
 * "proxy-endpoint" owner prx-endpoint-...) at addr:port; dns is its
 * AWS-style name (TLS certificates and IAM tokens may name either).
 * NULL with err. */
struct pgproxy_listener *pgproxy_listen(const char *addr, int port, const char *dns, const char *account,
                                        const char *region, const char *kind, const char *owner, struct emu_err *err);
/* Closes the listener and every client connection it accepted. */
void pgproxy_close(struct pgproxy_listener *p);
/* Every connection and pool closed (exit, or a reset). */
void pgproxy_shutdown(void);

/* A failover moved a writer: idle backends made before are not reused. */
void pgproxy_topology_changed(void);

/* Per-proxy metrics with CloudWatch's names (aws-behaviour.md 3.11):
 * format "json" ({"Proxies": [{ProxyName, ClientConnections, ...}]}) or
 * "prometheus" (rds_proxy_<Metric>{ProxyName="..."} N lines); malloc'd. */
char *pgproxy_metrics(const char *format);
/* Forgets the counters (a state reset). */
void pgproxy_forget_stats(void);

#endif
