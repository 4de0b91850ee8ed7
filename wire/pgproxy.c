/*
 * pgproxy.c owns the PostgreSQL data plane of RDS Proxy endpoints: client
 * connections, backend connections and their pools (contract in pgproxy.h).
 * May call: emu/loop, emu/store (proxy rows), emu/rds (DebugLogging),
 * emu/log, emu/util, emu/buf, emu/clock, wire/pgproto, wire/scram,
 * wire/pinning, wire/tls, wire/runtime (where an instance's server is),
 * and the hooks of pgproxy.h for everything in api/.
 *
 * Invariants: a client holds at most one backend (c->b) and a backend at
 * most one client (b->c); a backend is in its pool's idle list exactly
 * when it is ready and unowned; a client waits in at most one pool queue;
 * a client's bytes reach its backend whole messages at a time except a
 * message larger than the input buffer, which is streamed (pass_left); the
 * backend goes back to its pool only at ReadyForQuery 'I' with no reply
 * outstanding and no pin; a backend whose client vanished mid-transaction
 * is closed, never handed on dirty.
 *
 * Choices (aws-behaviour.md marks these [?] or is silent):
 * - BackendKeyData is the proxy's own and a CancelRequest with it goes to
 *   the backend the client holds then (AWS ignores cancels: an extension
 *   users asked for; nothing is cancelled between transactions).
 * - A pinned backend, or one in a transaction ('T'/'E'), is closed when its
 *   client leaves (its session state would leak to the next client).
 * - Borrow timeout and a backend lost under a client are FATAL: the client
 *   connection closes (08000 / 08006); idle clients hold no backend and are
 *   untouched by a failover.
 * - Backends log in with the client's start-up runtime parameters; pools
 *   are per parameter set, so every client_encoding works.
 * - Settings and secrets are cached until the next API request (store_touches).
 * - A login failure that looks like a restarting server (refused, EOF,
 *   57P0x) keeps clients queued up to their borrow timeout; others fail them.
 * - Backends reached over TCP are asked for TLS (SSLRequest) and use it when
 *   the server offers it; unix sockets stay plain.
 * - The client-connection, connection-rate and IAM-rate limits (unpublished
 *   by AWS) come from the proxy's tags rdsemu:MaxClientConnections,
 *   rdsemu:MaxConnectionRate and rdsemu:MaxIAMAuthRate (per second, in
 *   one-second windows); without them there is no limit.
 */
#include "wire/pgproxy.h"

#include "emu/buf.h"
#include "emu/clock.h"
#include "emu/err.h"
#include "emu/log.h"
#include "emu/loop.h"
#include "emu/rds.h"
#include "emu/store.h"
#include "emu/util.h"
#include "wire/forward.h"
#include "wire/pgproto.h"
#include "wire/pinning.h"
#include "wire/runtime.h"
#include "wire/scram.h"
#include "wire/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define IN_CAP 65536          /* input buffered per side before streaming / back-pressure */
#define OUT_HIGH 262144       /* stop reading the other side above this much pending output */
#define MSG_MAX (1 << 30)     /* PostgreSQL's own message limit */

/* ---- byte queues -------------------------------------------------------------------- */

struct q {
	uint8_t *p;
	size_t off, len, cap;
};

static bool q_room(struct q *q, size_t n)
{
	if (q->off && q->off + q->len + n > q->cap) {
		memmove(q->p, q->p + q->off, q->len);
		q->off = 0;
	}
	if (q->len + n <= q->cap)
		return true;
	size_t cap = q->cap ? q->cap : 4096;
	while (cap < q->len + n)
		cap *= 2;
	uint8_t *p = realloc(q->p, cap);
	if (!p)
		return false;
	q->p = p;
	q->cap = cap;
	return true;
}

static bool q_put(struct q *q, const void *d, size_t n)
{
	if (!q_room(q, n))
		return false;
	memcpy(q->p + q->off + q->len, d, n);
	q->len += n;
	return true;
}

static void q_eat(struct q *q, size_t n)
{
	q->off += n;
	q->len -= n;
	if (q->len == 0) {
		q->off = 0;
		if (q->cap > 4 * 4096) { /* an idle connection keeps no big buffer */
			free(q->p);
			q->p = NULL;
			q->cap = 0;
		}
	}
}

static void q_free(struct q *q)
{
	free(q->p);
	memset(q, 0, sizeof *q);
}

/* An empty queue gives its buffer back (idle connections hold none). */
static void q_trim(struct q *q)
{
	if (!q->len && q->p)
		q_free(q);
}

static const uint8_t *q_data(const struct q *q)
{
	return q->p ? q->p + q->off : (const uint8_t *)"";
}

/* ---- connections ------------------------------------------------------------------ */

struct pool;
struct client;

/* B_SSLREQ/B_TLS: TCP backends are asked for TLS first (an SSLRequest),
 * used when the server offers it; local servers are on unix sockets. */
enum bstate { B_CONNECTING, B_SSLREQ, B_TLS, B_LOGIN, B_INIT, B_READY, B_DEAD };

struct backend {
	struct pool *pool;
	struct backend *next;      /* pool's all-list */
	struct backend *next_idle; /* pool's idle list */
	struct client *c;
	int fd;
	SSL *ssl;                  /* when the server took the SSLRequest */
	long long kick_timer;      /* TLS bytes OpenSSL holds that epoll cannot see */
	enum bstate st;
	struct q in, out;
	size_t pass_left;          /* bytes of a large message still to stream to the client */
	struct scram_client *scram;
	json_t *params;            /* ParameterStatus from its login: {name: value} */
	char instance[64];
	struct fwd_backend at;     /* where it is connected (a cancel goes there too) */
	int32_t pid;               /* the server's BackendKeyData */
	uint32_t key;
	unsigned gen;              /* topology generation it was made in */
	double born, idle_since;   /* emulator clock (MaxIdleConnectionsPercent, lifetime) */
	bool retryable;            /* its login failed in a way a failover explains */
	char txn;                  /* status of its last ReadyForQuery: 'I' idle, 'T' / 'E' in a transaction */
	char password[512];        /* login only; wiped after */
};

struct pool {
	struct pool *next;
	char key[400];             /* proxy_id / user / database */
	char proxy_id[40], user[128], db[128], account[16], region[32];
	bool read_only;            /* a READ_ONLY endpoint's pool: backends on readers */
	char opts[1400];           /* start-up parameters its backends log in with (session_opts) */
	size_t opts_len;
	bool e2e_iam;              /* backends log in with IAM as the proxy's role, not a secret */
	char role_arn[300];
	struct backend *all, *idle;
	int total, max, max_pct, max_idle_pct, max_conn;
	bool failing;              /* logged that no target is reachable */
	struct client *wait_head, *wait_tail;
	json_t *params;            /* of the last login: replayed to new clients */
	char secret_pw[512];       /* backend password (from the secret), refreshed per client login */
	char init_query[4096];
	long long retry_timer;     /* no target reachable (a failover): try again soon */
	unsigned rr;               /* round robin over readers */
};

/* A proxy's settings as a login saw them, shared by its clients (refcounted)
 * and cached per listener while the store is unchanged (store_touches). */
struct auth_ent {
	char *secret_arn;
	bool iam_required, md5;
};

struct pcfg {
	int refs;
	unsigned long touches;
	char proxy_id[40], proxy_name[80], role_arn[300];
	int idle_timeout_s, borrow_timeout_s, max_pct, max_idle_pct;
	bool debug, require_tls, read_only;
	bool e2e_iam;              /* DefaultAuthScheme IAM_AUTH: IAM from the client to the database */
	double debug_until;        /* emulator clock; 0 = not on or no end */
	/* the proxy's limits (tags rdsemu:MaxClientConnections, rdsemu:MaxConnectionRate,
	 * rdsemu:MaxIAMAuthRate; AWS does not publish its own): 0 = none */
	int max_clients, conn_rate, iam_rate;
	char *init_query;
	size_t nauth;
	struct auth_ent *auth;
};

enum cstate {
	C_STARTUP, C_TLS, C_AUTH_TOKEN, C_AUTH_MD5, C_AUTH_SASL1, C_AUTH_SASL2, C_WELCOME, C_READY,
	C_DIRECT_WAIT,  /* instance endpoint: the client's StartupMessage went to the server */
	C_DIRECT_TOKEN, /* the server trusts an rds_iam member: the client owes a token first */
	C_RELAY,        /* instance endpoint after login: bytes both ways, unchanged */
	C_CLOSED
};

/* What a client needs only while it logs in. */
struct login {
	char secret_arn[300], secret_version[96];
	char *secret_pw;             /* the matching secret's password (wiped on free) */
	uint8_t md5_salt[4];
	struct scram_server *scram;
	char opts[1400];             /* the session's start-up parameters (session_opts) */
	size_t opts_len;
};

/* Instance endpoints (pattern C): the one server connection. */
struct direct {
	int fd;
	struct q in, out;
	bool connecting, iam_enabled;
	char resource_id[40];
};

/* Kept small: an idle client is this, its two strings and its socket. */
struct client {
	struct pgproxy_listener *l;
	struct client *prev, *next;  /* listener's list */
	struct client *wait_next;    /* pool queue */
	struct pcfg *cfg;            /* proxy endpoints, from the start-up on */
	struct pool *pool;
	struct backend *b;
	struct login *login;
	struct direct *d;
	SSL *ssl;
	char *user, *db;             /* one allocation: db points into it */
	struct q in, out;
	size_t pass_left;            /* bytes of a large message still to stream to the backend */
	long long wait_timer;
	long long kick_timer;        /* TLS bytes OpenSSL holds that epoll cannot see */
	long long last_ms;           /* last client activity (IdleClientTimeout) */
	unsigned long id;
	uint32_t cancel_key;         /* BackendKeyData: (id, cancel_key) */
	int fd;
	int replies;                 /* ReadyForQuery messages still expected */
	enum cstate st;
	bool waiting, pinned;
	bool counted;                /* in its proxy's ClientConnections */
};

struct pgproxy_listener {
	int fd;
	char addr[64], account[16], region[32], kind[20], owner[64], dns[256];
	int port;
	bool direct; /* an instance endpoint (pattern C), not a proxy */
	struct pcfg *cfg; /* the proxy's settings, cached */
	struct client *clients;
	struct pgproxy_listener *next;
};

/* Per-proxy counters, CloudWatch names (aws-behaviour.md 3.11). */
struct pstat {
	char proxy_id[40], name[80];
	long long received, setup_ok, setup_failed_auth, closed, conns, conns_tls, conns_notls;
	long long window_ms;       /* start of the current one-second window (monotonic) */
	int window_logins, window_iam; /* start-ups and token checks in it (rate limits) */
	long long db_requests, db_ok, db_failed, queries, queries_tls, queries_notls;
	/* the last backend login: what TargetHealth reports when it failed */
	char login_target[64];
	const char *login_reason; /* NULL = it worked; "AUTH_FAILURE", "CONNECTION_FAILED" */
	char login_desc[200];
};
#define PSTAT_MAX 128

static struct {
	struct loop *loop;
	struct store *store;
	struct pgproxy_hooks h;
	struct pstat stats[PSTAT_MAX];
	int nstats;
	struct pool *pools;
	struct pgproxy_listener *listeners;
	long long sweep_timer;
	struct client *dead_clients;   /* closed, freed before the loop sleeps */
	struct backend *dead_backends;
	unsigned long next_id;
} P;

static void client_close(struct client *c);
static void login_free(struct client *c);
static void pcfg_put(struct pcfg *g);
static void client_events(struct client *c);
static void direct_events(struct client *c);

/* The counters of a proxy (a fixed table: past PSTAT_MAX proxies, the last
 * slot is shared). */
static struct pstat *pstat(const char *proxy_id, const char *name)
{
	for (int i = 0; i < P.nstats; i++)
		if (strcmp(P.stats[i].proxy_id, proxy_id) == 0) {
			if (name && *name)
				snprintf(P.stats[i].name, sizeof P.stats[i].name, "%s", name);
			return &P.stats[i];
		}
	struct pstat *st = &P.stats[P.nstats < PSTAT_MAX ? P.nstats++ : PSTAT_MAX - 1];
	memset(st, 0, sizeof *st);
	snprintf(st->proxy_id, sizeof st->proxy_id, "%s", proxy_id);
	snprintf(st->name, sizeof st->name, "%s", name ? name : "");
	return st;
}
static void backend_events(struct backend *b);
static void client_process(struct client *c);
static void pool_hand_over(struct pool *p);
static void pool_retry_soon(struct pool *p, const char *why);
static void send_welcome_or_wait(struct client *c);

void pgproxy_set_hooks(const struct pgproxy_hooks *h)
{
	if (h)
		P.h = *h;
	else
		memset(&P.h, 0, sizeof P.h);
}

/* Can the proxy's role read at least one secret of its Auth list?  0 yes
 * (or nothing to read: end-to-end IAM), -1 with the first reason. */
static int credentials_readable(const json_t *proxy, const char *account, const char *region, char *why,
                                size_t cap)
{
	json_t *auth = json_object_get(proxy, "Auth"), *a;
	const char *role = json_string_value(json_object_get(proxy, "RoleArn"));
	size_t i;
	if (json_array_size(auth) == 0 || !P.h.read_secret)
		return 0;
	*why = '\0';
	json_array_foreach(auth, i, a) {
		const char *arn = json_string_value(json_object_get(a, "SecretArn"));
		char *value = NULL, version[96];
		struct emu_err err;
		emu_err_clear(&err);
		if (!arn)
			continue;
		if (P.h.read_secret(P.h.ud, account, region, role ? role : "", arn, &value, version, &err) == 0) {
			OPENSSL_cleanse(value, strlen(value));
			free(value);
			return 0;
		}
		if (!*why)
			snprintf(why, cap, "Proxy can't read its credentials from Secrets Manager: %.340s", err.msg);
	}
	return -1;
}

/* TargetHealth from what the proxy sees, for a target the control plane
 * calls AVAILABLE: a target whose last backend login failed is UNAVAILABLE
 * with that reason, and AUTH_FAILURE when the proxy's role can read none of
 * its secrets (aws-behaviour.md 3.3.3). */
static int target_health(void *ctx, const json_t *proxy, const json_t *target, json_t **health)
{
	(void)ctx;
	const char *arn = json_string_value(json_object_get(proxy, "DBProxyArn"));
	const char *id = arn ? strstr(arn, ":db-proxy:") : NULL;
	const char *rid = json_string_value(json_object_get(target, "RdsResourceId"));
	if (!id || !rid)
		return -1;
	id += strlen(":db-proxy:");
	for (int i = 0; i < P.nstats; i++) {
		const struct pstat *st = &P.stats[i];
		if (strcmp(st->proxy_id, id) != 0 || !st->login_reason || strcmp(st->login_target, rid) != 0)
			continue;
		*health = json_pack("{s:s, s:s, s:s}", "State", "UNAVAILABLE", "Reason", st->login_reason, "Description",
		                    st->login_desc);
		return *health ? 0 : -1;
	}
	/* arn:aws:rds:REGION:ACCOUNT:db-proxy:ID */
	char region[32] = "", account[16] = "", why[400];
	if (sscanf(arn, "arn:%*[^:]:rds:%31[^:]:%15[^:]:", region, account) != 2)
		return -1;
	if (credentials_readable(proxy, account, region, why, sizeof why) < 0) {
		*health = json_pack("{s:s, s:s, s:s}", "State", "UNAVAILABLE", "Reason", "AUTH_FAILURE", "Description", why);
		return *health ? 0 : -1;
	}
	return -1;
}

void pgproxy_forget_stats(void)
{
	memset(P.stats, 0, sizeof P.stats);
	P.nstats = 0;
}

/* Closed connections are freed here, never inside a handler that may
 * still look at them (their state says C_CLOSED / B_DEAD meanwhile). */
static long long reap(struct loop *l, void *ud)
{
	(void)l;
	(void)ud;
	while (P.dead_clients) {
		struct client *c = P.dead_clients;
		P.dead_clients = c->next;
		free(c);
	}
	while (P.dead_backends) {
		struct backend *b = P.dead_backends;
		P.dead_backends = b->next;
		free(b);
	}
	return -1;
}

static void backend_free(struct backend *b);

/* Idle backends (aws-behaviour.md 3.5): one unused for 5 minutes counts as
 * idle, and the pool keeps at most MaxIdleConnectionsPercent of the
 * target's max_connections of those; any unused one older than 24 hours
 * is closed.  Times are the emulator's clock, so tests can move it. */
#define BACKEND_IDLE_S 300.0
#define BACKEND_LIFETIME_S 86400.0
static void pool_sweep(void)
{
	double now = clock_now();
	for (struct pool *p = P.pools; p; p = p->next) {
		int keep = p->max_conn * p->max_idle_pct / 100, idle = 0;
		for (struct backend *b = p->idle; b; b = b->next_idle)
			idle += now - b->idle_since >= BACKEND_IDLE_S;
		for (struct backend *b = p->idle, *n; b; b = n) {
			n = b->next_idle;
			bool old = now - b->born >= BACKEND_LIFETIME_S;
			bool surplus = now - b->idle_since >= BACKEND_IDLE_S && idle > keep;
			if (!old && !surplus)
				continue;
			if (now - b->idle_since >= BACKEND_IDLE_S)
				idle--;
			log_info("pgproxy", "%s: closing %s backend connection [dbConnection=%d]", p->key,
			         old ? "a 24-hour-old" : "an idle", b->fd);
			backend_free(b);
		}
	}
}

/* IdleClientTimeout: once a second, clients idle (no backend, no bytes)
 * longer than their proxy's timeout are closed. */
static void idle_sweep(struct loop *l, long long id, void *ud)
{
	(void)id;
	(void)ud;
	long long now = clock_mono_ms();
	for (struct pgproxy_listener *L = P.listeners; L; L = L->next)
		for (struct client *c = L->clients, *n; c; c = n) {
			n = c->next;
			if (!c->b && !c->in.len && !c->out.len && now - c->last_ms > 500) {
				q_free(&c->in); /* an idle client keeps no buffers */
				q_free(&c->out);
			}
			int limit = c->cfg ? c->cfg->idle_timeout_s : 0;
			if (c->st == C_READY && !c->b && !c->waiting && limit > 0 && now - c->last_ms > limit * 1000LL) {
				log_info("pgproxy", "[clientConnection=%lu] closed after IdleClientTimeout %d s", c->id, limit);
				client_close(c);
			}
		}
	pool_sweep();
	P.sweep_timer = loop_add_timer(l, 1000, idle_sweep, NULL);
}

int pgproxy_init(struct loop *l, struct store *s)
{
	P.loop = l;
	P.store = s;
	loop_add_before_sleep(l, reap, NULL);
	P.sweep_timer = loop_add_timer(l, 1000, idle_sweep, NULL);
	rds_set_target_health_hook(target_health, NULL);
	return 0;
}

/* ---- raw I/O ------------------------------------------------------------------------- */

/* Reads what is there into q (until cap bytes are buffered): 1 ok, 0 EOF,
 * -1 error.  Bytes land in a scratch buffer first, so a connection's queue
 * grows only by what arrived (an idle client holds no 16 KiB buffer). */
static uint8_t scratch[16384];
static int rd(int fd, SSL *ssl, struct q *q, size_t cap)
{
	for (int rounds = 0; rounds < 16 && q->len < cap; rounds++) {
		size_t got = 0;
		uint8_t *dst = scratch;
		if (ssl) {
			enum tls_io r = tls_read(ssl, dst, 16384, &got);
			if (r == TLS_IO_EOF)
				return 0;
			if (r == TLS_IO_ERROR)
				return -1;
			if (r != TLS_IO_OK)
				return 1;
		} else {
			ssize_t n = recv(fd, dst, 16384, 0);
			if (n == 0)
				return 0;
			if (n < 0)
				return errno == EAGAIN || errno == EINTR ? 1 : -1;
			got = (size_t)n;
		}
		if (!q_put(q, scratch, got))
			return -1;
		if (!ssl && got < 16384)
			break; /* a short read drained the socket: no second recv just to see EAGAIN */
	}
	return 1;
}

/* Writes what it can of q: 0 ok, -1 error. */
static int wr(int fd, SSL *ssl, struct q *q)
{
	while (q->len) {
		size_t put = 0;
		if (ssl) {
			enum tls_io r = tls_write(ssl, q_data(q), q->len, &put);
			if (r == TLS_IO_WANT_READ || r == TLS_IO_WANT_WRITE)
				return 0;
			if (r != TLS_IO_OK)
				return -1;
		} else {
			ssize_t n = send(fd, q_data(q), q->len, MSG_NOSIGNAL);
			if (n < 0)
				return errno == EAGAIN || errno == EINTR ? 0 : -1;
			put = (size_t)n;
		}
		q_eat(q, put);
	}
	return 0;
}

/* ---- client output helpers --------------------------------------------------------- */

static void put_buf(struct q *q, struct buf *b)
{
	if (!b->failed && b->len)
		q_put(q, b->data, b->len);
	buf_reset(b);
}

/* Sends FATAL sqlstate msg and closes the client once it is written. */
static void client_fatal(struct client *c, const char *sqlstate, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void client_fatal(struct client *c, const char *sqlstate, const char *fmt, ...)
{
	char msg[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	struct buf b;
	buf_init(&b, 4096);
	struct pgp_notice n = {.severity = "FATAL", .sqlstate = sqlstate, .message = msg};
	pgp_put_error(&b, &n);
	put_buf(&c->out, &b);
	buf_free(&b);
	wr(c->fd, c->ssl, &c->out);
	log_info("pgproxy", "[clientConnection=%lu] %s: %s", c->id, sqlstate, msg);
	client_close(c);
}

/* A protocol violation: the client sees AWS's generic text, the log why. */
static void proto_error(struct client *c, const char *why)
{
	log_info("pgproxy", "[clientConnection=%lu] protocol error: %s", c->id, why);
	client_fatal(c, "08P01", "Unknown error.");
}

static void audit(struct client *c, const char *principal, bool ok, const char *reason)
{
	/* instance endpoints have no proxy counters; the audit names the instance */
	const char *name = c->cfg ? c->cfg->proxy_name : c->l->owner;
	struct pstat *st = c->cfg ? pstat(c->cfg->proxy_id, c->cfg->proxy_name) : NULL;
	if (!st) {
	} else if (ok) {
		st->setup_ok++;
		st->conns++;
		if (c->ssl)
			st->conns_tls++;
		else
			st->conns_notls++;
		c->counted = true;
	} else {
		st->setup_failed_auth++;
	}
	if (P.h.audit)
		P.h.audit(P.h.ud, c->l->account, c->l->region, name, c->user ? c->user : "", "pgproxy", principal, ok, reason);
}

/* A start-up refused by one of the proxy's limits: audited, not an
 * authentication failure. */
static void limit_refusal(struct client *c, const char *reason, const char *msg)
{
	if (P.h.audit)
		P.h.audit(P.h.ud, c->l->account, c->l->region, c->cfg->proxy_name, c->user ? c->user : "", "pgproxy", NULL,
		          false, reason);
	client_fatal(c, "53300", "%s", msg);
}

/* Counts one event in the proxy's current one-second window; true when
 * that goes past limit (0 = no limit, nothing counted). */
static bool over_rate(struct pstat *st, int *count, int limit)
{
	if (limit <= 0)
		return false;
	long long now = clock_mono_ms();
	if (now - st->window_ms >= 1000) {
		st->window_ms = now;
		st->window_logins = st->window_iam = 0;
	}
	return ++*count > limit;
}

/* ---- backends ---------------------------------------------------------------------- */

static void backend_free(struct backend *b)
{
	struct pool *p = b->pool;
	if (b->st == B_DEAD)
		return;
	b->st = B_DEAD;
	if (b->c) {
		b->c->b = NULL;
		b->c = NULL;
	}
	if (b->kick_timer)
		loop_del_timer(P.loop, b->kick_timer);
	b->kick_timer = 0;
	tls_free(b->ssl);
	b->ssl = NULL;
	if (b->fd >= 0) {
		loop_del_fd(P.loop, b->fd);
		close(b->fd);
	}
	for (struct backend **pp = &p->all; *pp; pp = &(*pp)->next)
		if (*pp == b) {
			*pp = b->next;
			break;
		}
	for (struct backend **pp = &p->idle; *pp; pp = &(*pp)->next_idle)
		if (*pp == b) {
			*pp = b->next_idle;
			break;
		}
	p->total--;
	q_free(&b->in);
	q_free(&b->out);
	if (b->scram) {
		OPENSSL_cleanse(b->scram, sizeof *b->scram);
		free(b->scram);
	}
	json_decref(b->params);
	b->params = NULL;
	b->scram = NULL;
	OPENSSL_cleanse(b->password, sizeof b->password);
	b->next = P.dead_backends;
	P.dead_backends = b;
}

/* A backend failed: its client (if any) learns why and goes too. */
static void backend_fail(struct backend *b, const char *why)
{
	struct client *c = b->c;
	log_info("pgproxy", "backend for %s failed: %s", b->pool->key, why);
	b->c = NULL;
	if (c) {
		c->b = NULL;
		if (c->st == C_WELCOME)
			client_fatal(c, "08006", "Request returned an error: %s", why);
		else
			client_fatal(c, "08006", "The database connection was lost: %s", why);
	}
	backend_free(b);
}

static unsigned topology_gen;

/* Where the proxy's target server is now: the writer of its target. */
static int target_backend(struct pool *p, struct fwd_backend *out, char instance[64], int *max_conn, bool *cluster)
{
	sqlite3_stmt *st = store_prep(P.store, "SELECT type, rds_id FROM rds_proxy_targets WHERE proxy_id = ?1 "
	                                       "AND type IN ('RDS_INSTANCE', 'TRACKED_CLUSTER') "
	                                       "ORDER BY type DESC LIMIT 1");
	if (!st)
		return -1;
	store_bind_text(st, 1, p->proxy_id);
	char type[32] = "", id[64] = "";
	if (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(type, sizeof type, "%s", store_col_text(st, 0) ? store_col_text(st, 0) : "");
		snprintf(id, sizeof id, "%s", store_col_text(st, 1) ? store_col_text(st, 1) : "");
	}
	sqlite3_reset(st);
	if (!id[0])
		return -1;
	*cluster = strcmp(type, "TRACKED_CLUSTER") == 0;
	if (*cluster) /* the writer, or a reader for READ_ONLY endpoints */
		return runtime_cluster_backend(p->account, p->region, id, p->read_only, &p->rr, out, instance, max_conn);
	snprintf(instance, 64, "%s", id);
	return runtime_instance_backend(p->account, p->region, id, out, max_conn);
}


static void on_backend(struct loop *l, int fd, uint32_t ev, void *ud);

/* End-to-end IAM: the database must have IAM authentication on, and the
 * proxy's role needs rds-db:connect on the user there (the cluster's
 * resource id for a cluster target, the instance's otherwise). */
static int e2e_check(struct pool *p, bool cluster, const char *inst, char *why, size_t cap)
{
	sqlite3_stmt *st = store_prep(P.store, "SELECT json_extract(doc, '$.DbiResourceId'), "
	                                       "json_extract(doc, '$.IAMDatabaseAuthenticationEnabled'), "
	                                       "json_extract(doc, '$.DBClusterIdentifier') FROM rds_instances "
	                                       "WHERE account = ?1 AND region = ?2 AND id = ?3");
	if (!st)
		return -1;
	store_bind_text(st, 1, p->account);
	store_bind_text(st, 2, p->region);
	store_bind_text(st, 3, inst);
	char rid[64] = "", cl[64] = "";
	bool on = false;
	if (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(rid, sizeof rid, "%s", store_col_text(st, 0) ? store_col_text(st, 0) : "");
		on = sqlite3_column_int(st, 1) != 0;
		snprintf(cl, sizeof cl, "%s", store_col_text(st, 2) ? store_col_text(st, 2) : "");
	}
	sqlite3_reset(st);
	if (cluster && cl[0]) {
		st = store_prep(P.store, "SELECT json_extract(doc, '$.DbClusterResourceId'), "
		                         "json_extract(doc, '$.IAMDatabaseAuthenticationEnabled') FROM rds_clusters "
		                         "WHERE account = ?1 AND region = ?2 AND id = ?3");
		if (!st)
			return -1;
		store_bind_text(st, 1, p->account);
		store_bind_text(st, 2, p->region);
		store_bind_text(st, 3, cl);
		if (sqlite3_step(st) == SQLITE_ROW) {
			snprintf(rid, sizeof rid, "%s", store_col_text(st, 0) ? store_col_text(st, 0) : "");
			on = sqlite3_column_int(st, 1) != 0;
		}
		sqlite3_reset(st);
	}
	if (!on) {
		snprintf(why, cap, "PAM authentication failed for user \"%s\" (IAM database authentication is off)", p->user);
		return -1;
	}
	struct emu_err err;
	emu_err_clear(&err);
	if (!P.h.role_may_connect ||
	    P.h.role_may_connect(P.h.ud, p->account, p->region, p->role_arn, rid, p->user, &err) < 0) {
		log_info("pgproxy", "%s: the proxy's role may not connect: %s", p->key, err.msg);
		snprintf(why, cap, "PAM authentication failed for user \"%s\"", p->user);
		return -1;
	}
	return 0;
}

static void backend_put_startup(struct backend *b)
{
	struct buf m;
	buf_init(&m, PGP_STARTUP_MAX);
	struct pgp_param prm[8] = {{"user", b->pool->user}, {"database", b->pool->db}};
	size_t n = 2;
	for (size_t off = 0; off < b->pool->opts_len && n + 1 < 8;) {
		prm[n].name = b->pool->opts + off;
		off += strlen(prm[n].name) + 1;
		prm[n].value = b->pool->opts + off;
		off += strlen(prm[n].value) + 1;
		n++;
	}
	pgp_put_startup(&m, prm, n);
	put_buf(&b->out, &m);
	buf_free(&m);
}

/* Opens a new backend connection for pool p and starts its login. */
static struct backend *backend_open(struct pool *p, char *why, size_t cap, bool *fatal)
{
	*fatal = false;
	struct fwd_backend be;
	char inst[64] = "";
	int max_conn = 0;
	bool cluster = false;
	if (target_backend(p, &be, inst, &max_conn, &cluster) < 0) {
		snprintf(why, cap, "no available target");
		return NULL;
	}
	if (p->e2e_iam && e2e_check(p, cluster, inst, why, cap) < 0) {
		*fatal = true;
		return NULL;
	}
	if (max_conn > 0) {
		p->max_conn = max_conn;
		p->max = max_conn * (p->max_pct > 0 ? p->max_pct : 100) / 100;
		if (p->max < 1)
			p->max = 1;
	}
	bool connecting; /* either way completion is seen as EPOLLOUT (B_CONNECTING) */
	int fd = fwd_connect(&be, &connecting);
	if (fd < 0) {
		snprintf(why, cap, "cannot connect to the database: %s", strerror(errno));
		return NULL;
	}
	struct backend *b = calloc(1, sizeof *b);
	if (!b) {
		close(fd);
		snprintf(why, cap, "out of memory");
		return NULL;
	}
	b->pool = p;
	b->fd = fd;
	b->st = B_CONNECTING;
	b->gen = topology_gen;
	b->at = be;
	b->born = clock_now();
	snprintf(b->instance, sizeof b->instance, "%s", inst);
	snprintf(b->password, sizeof b->password, "%s", p->secret_pw);
	b->params = json_object();
	if (be.path[0]) {
		backend_put_startup(b);
	} else {
		const uint32_t ssl_request[2] = {htonl(8), htonl(80877103)};
		q_put(&b->out, ssl_request, sizeof ssl_request);
	}
	if (loop_add_fd(P.loop, fd, EPOLLOUT, on_backend, b) < 0) {
		close(fd);
		json_decref(b->params);
		free(b);
		snprintf(why, cap, "event loop");
		return NULL;
	}
	b->next = p->all;
	p->all = b;
	p->total++;
	pstat(p->proxy_id, NULL)->db_requests++;
	return b;
}

/* A backend login failed for a reason waiting will not cure (a password,
 * a missing database, IAM): while no other backend is on its way, every
 * waiting client learns why. */
static void pool_fail_waiters(struct pool *p, const char *why)
{
	while (p->wait_head && p->total == 0) {
		struct client *c = p->wait_head;
		p->wait_head = c->wait_next;
		if (!p->wait_head)
			p->wait_tail = NULL;
		c->waiting = false;
		loop_del_timer(P.loop, c->wait_timer);
		c->wait_timer = 0;
		client_fatal(c, "08006", "Request returned an error: %s", why);
	}
}

/* The backend answered a login step: R, S, K, Z, E messages. */
static int backend_login_msg(struct backend *b, const struct pgp_header *h, const uint8_t *body, char *why, size_t cap)
{
	struct emu_err err;
	emu_err_clear(&err);
	struct buf m;
	buf_init(&m, 1 << 16);
	int rc = 0;
	if (h->type == 'E') {
		struct pgp_notice n;
		if (pgp_parse_notice(body, h->body_len, &n, &err) == 0) {
			snprintf(why, cap, "%s", n.message ? n.message : "error");
			/* shutting down, starting up, cannot connect now: a failover */
			b->retryable = n.sqlstate && strncmp(n.sqlstate, "57P0", 4) == 0;
		}
		else
			snprintf(why, cap, "malformed error from the database");
		rc = -1;
	} else if (h->type == 'R') {
		struct pgp_auth a;
		if (pgp_parse_auth(body, h->body_len, &a, &err) < 0) {
			rc = -1;
		} else if (b->pool->e2e_iam && a.code != PGP_AUTH_OK) {
			/* the server wants a password: the user is not an IAM user there */
			snprintf(why, cap, "PAM authentication failed for user \"%s\"", b->pool->user);
			return -1;
		} else if (a.code == PGP_AUTH_OK) {
			/* parameters follow */
		} else if (a.code == PGP_AUTH_CLEARTEXT) {
			pgp_put_password(&m, b->password);
		} else if (a.code == PGP_AUTH_MD5) {
			char md5[PGP_MD5_LEN + 1];
			if (pgp_md5_password(b->pool->user, b->password, a.data, md5) < 0)
				rc = -1;
			else
				pgp_put_password(&m, md5);
			OPENSSL_cleanse(md5, sizeof md5);
		} else if (a.code == PGP_AUTH_SASL && pgp_sasl_offers(&a, "SCRAM-SHA-256")) {
			struct buf first;
			buf_init(&first, 4096);
			b->scram = calloc(1, sizeof *b->scram);
			if (b->scram)
				scram_client_init(b->scram, 0);
			if (!b->scram || scram_client_first(b->scram, b->pool->user, &first, &err) < 0)
				rc = -1;
			else
				pgp_put_sasl_initial(&m, "SCRAM-SHA-256", first.data, first.len);
			buf_free(&first);
		} else if (a.code == PGP_AUTH_SASL_CONTINUE && b->scram) {
			struct buf fin;
			buf_init(&fin, 4096);
			if (scram_client_final(b->scram, b->password, strlen(b->password), (const char *)a.data, a.len, &fin,
			                       &err) < 0)
				rc = -1;
			else
				pgp_put_sasl_response(&m, fin.data, fin.len);
			buf_free(&fin);
		} else if (a.code == PGP_AUTH_SASL_FINAL && b->scram) {
			if (scram_client_verify(b->scram, (const char *)a.data, a.len, &err) < 0)
				rc = -1;
		} else {
			snprintf(why, cap, "the database asked for an authentication method the proxy does not support (%u)",
			         a.code);
			return -1;
		}
		if (rc < 0 && !why[0])
			snprintf(why, cap, "login to the database failed: %.200s", err.msg);
	} else if (h->type == 'S') {
		const char *name, *value;
		if (pgp_parse_parameter_status(body, h->body_len, &name, &value, &err) == 0)
			json_object_set_new(b->params, name, json_string(value));
	} else if (h->type == 'Z') {
		OPENSSL_cleanse(b->password, sizeof b->password);
		if (b->pool->init_query[0] && b->st == B_LOGIN) {
			pgp_put_query(&m, b->pool->init_query);
			b->st = B_INIT;
		} else {
			b->st = B_READY;
		}
	} else if (h->type == 'K') { /* kept for cancels */
		uint32_t pid = 0;
		if (pgp_parse_backend_key(body, h->body_len, &pid, &b->key, &err) == 0)
			b->pid = (int32_t)pid;
	}
	/* 'N' notices: nothing to do */
	put_buf(&b->out, &m);
	buf_free(&m);
	return rc;
}

/* Releases b to its pool (or to a waiting client). */
static void backend_release(struct backend *b)
{
	struct pool *p = b->pool;
	struct client *c = b->c;
	if (c) {
		c->b = NULL;
		b->c = NULL;
	}
	if (b->gen != topology_gen) { /* made before a failover: may point at the old writer */
		backend_free(b);
		pool_hand_over(p);
		return;
	}
	b->idle_since = clock_now();
	b->next_idle = p->idle;
	p->idle = b;
	backend_events(b);
	pool_hand_over(p);
}

/* Backend bytes while owned: forwarded to the client; ReadyForQuery counted. */
static int backend_to_client(struct backend *b)
{
	struct client *c = b->c;
	while (b->in.len && c && c->out.len < OUT_HIGH) {
		if (b->pass_left) {
			size_t n = b->in.len < b->pass_left ? b->in.len : b->pass_left;
			q_put(&c->out, q_data(&b->in), n);
			q_eat(&b->in, n);
			b->pass_left -= n;
			continue;
		}
		struct pgp_header h;
		enum pgp_frame f = pgp_header_peek(q_data(&b->in), b->in.len, MSG_MAX, &h);
		if (f == PGP_FRAME_BAD)
			return -1;
		if (f == PGP_FRAME_MORE)
			break;
		if (h.total > b->in.len) {
			if (h.type == 'Z' || b->in.len < IN_CAP)
				break; /* wait for the whole message */
			b->pass_left = h.total;
			continue;
		}
		char status = 0;
		if (h.type == 'Z') {
			struct emu_err err;
			if (pgp_parse_ready(q_data(&b->in) + 5, h.body_len, &status, &err) < 0)
				return -1;
		}
		q_put(&c->out, q_data(&b->in), h.total);
		q_eat(&b->in, h.total);
		if (h.type == 'Z') {
			b->txn = status;
			if (c->replies > 0)
				c->replies--;
			if (c->replies == 0 && status == 'I' && !c->pinned && c->pass_left == 0) {
				backend_release(b);
				return 1;
			}
		}
	}
	return 0;
}

static void on_backend(struct loop *l, int fd, uint32_t ev, void *ud)
{
	(void)l;
	(void)fd;
	struct backend *b = ud;
	char why[300] = "";
	if (b->st == B_CONNECTING) {
		int e = 0;
		socklen_t el = sizeof e;
		if (getsockopt(b->fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0 || e) {
			snprintf(why, sizeof why, "cannot connect to the database: %s", strerror(e ? e : errno));
			goto fail;
		}
		b->st = b->at.path[0] ? B_LOGIN : B_SSLREQ;
	}
	if (b->st != B_TLS && (ev & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
		int r = rd(b->fd, b->ssl, &b->in, IN_CAP);
		if (r <= 0) {
			b->retryable = true;
			snprintf(why, sizeof why, r == 0 ? "the database closed the connection" : "read error");
			goto fail;
		}
	}
	if (b->st == B_SSLREQ && b->in.len) { /* 'S': TLS it is; 'N': in clear */
		uint8_t answer = q_data(&b->in)[0];
		q_eat(&b->in, 1);
		if (b->in.len || (answer != 'S' && answer != 'N')) {
			snprintf(why, sizeof why, "protocol error from the database (SSLRequest answer)");
			goto fail;
		}
		if (answer == 'S' && !(b->ssl = tls_new_client(tls_client_ctx(), b->fd))) {
			snprintf(why, sizeof why, "TLS to the database: %s", tls_error());
			goto fail;
		}
		b->st = answer == 'S' ? B_TLS : B_LOGIN;
		if (answer == 'N')
			backend_put_startup(b);
	}
	if (b->st == B_TLS) {
		enum tls_io r = tls_handshake(b->ssl);
		if (r == TLS_IO_WANT_READ || r == TLS_IO_WANT_WRITE) {
			loop_mod_fd(P.loop, b->fd, r == TLS_IO_WANT_READ ? EPOLLIN : EPOLLOUT);
			return;
		}
		if (r != TLS_IO_OK) {
			b->retryable = true;
			snprintf(why, sizeof why, "TLS to the database: %s", tls_error());
			goto fail;
		}
		b->st = B_LOGIN;
		backend_put_startup(b);
	}
	if (b->st == B_LOGIN || b->st == B_INIT) {
		while (b->in.len && (b->st == B_LOGIN || b->st == B_INIT)) {
			struct pgp_header h;
			enum pgp_frame f = pgp_header_peek(q_data(&b->in), b->in.len, 1 << 20, &h);
			if (f == PGP_FRAME_BAD) {
				snprintf(why, sizeof why, "protocol error from the database");
				goto fail;
			}
			if (f == PGP_FRAME_MORE || h.total > b->in.len)
				break;
			int rc;
			if (b->st == B_INIT) { /* InitQuery: errors fail the backend, Z ends it */
				rc = 0;
				if (h.type == 'E') {
					struct pgp_notice n;
					struct emu_err err;
					rc = -1;
					snprintf(why, sizeof why, "InitQuery failed: %s",
					         pgp_parse_notice(q_data(&b->in) + 5, h.body_len, &n, &err) == 0 && n.message
					                 ? n.message
					                 : "?");
				} else if (h.type == 'Z') {
					b->st = B_READY;
				}
			} else {
				rc = backend_login_msg(b, &h, q_data(&b->in) + 5, why, sizeof why);
			}
			q_eat(&b->in, h.total);
			if (rc < 0)
				goto fail;
		}
		if (b->st == B_READY) {
			struct pstat *st = pstat(b->pool->proxy_id, NULL);
			st->db_ok++;
			st->login_reason = NULL;
			b->pool->failing = false;
			b->txn = 'I';
			log_info("pgproxy", "%s: new database connection [dbConnection=%d] to %s%s", b->pool->key, b->fd,
			         b->instance, b->ssl ? " (TLS)" : "");
			snprintf(st->login_target, sizeof st->login_target, "%s", b->instance);
			json_decref(b->pool->params);
			b->pool->params = json_incref(b->params);
			backend_release(b);
			return;
		}
	} else if (b->st == B_READY) {
		if (!b->c && b->in.len) {
			/* an idle backend spoke: a shutdown notice or an error */
			snprintf(why, sizeof why, "the database sent data on an idle connection");
			goto fail;
		}
		struct client *c = b->c;
		int r = c ? backend_to_client(b) : 0;
		if (r < 0) {
			snprintf(why, sizeof why, "protocol error from the database");
			goto fail;
		}
		if (r == 1) { /* released: b may belong to another client (or be gone) now */
			if (wr(c->fd, c->ssl, &c->out) < 0) {
				client_close(c);
				return;
			}
			q_trim(&c->out);
			client_events(c);
			client_process(c); /* more may be buffered: the next transaction */
			return;
		}
	}
	if (wr(b->fd, b->ssl, &b->out) < 0) {
		snprintf(why, sizeof why, "write error");
		goto fail;
	}
	if (b->c) {
		struct client *c = b->c;
		if (wr(c->fd, c->ssl, &c->out) < 0) {
			client_close(c);
			return;
		}
		q_trim(&c->out);
		client_events(c);
	}
	backend_events(b);
	return;
fail:
	/* a login that fails while clients wait: every waiter learns why */
	if (b->st != B_READY) {
		struct pool *p = b->pool;
		struct pstat *st = pstat(p->proxy_id, NULL);
		st->db_failed++;
		st->login_reason = b->st == B_CONNECTING ? "CONNECTION_FAILED"
		                   : strstr(why, "password") || strstr(why, "authentication") ? "AUTH_FAILURE"
		                                                                              : "CONNECTION_FAILED";
		snprintf(st->login_target, sizeof st->login_target, "%s", b->instance);
		snprintf(st->login_desc, sizeof st->login_desc, "%.190s", why);
		bool retry = b->retryable || b->st == B_CONNECTING;
		backend_free(b);
		if (retry && p->wait_head) { /* the server went away (a failover): wait for the next one */
			pool_retry_soon(p, why);
			return;
		}
		pool_fail_waiters(p, why);
		return;
	}
	backend_fail(b, why);
}

static void on_backend_kick(struct loop *l, long long id, void *ud)
{
	(void)id;
	struct backend *b = ud;
	b->kick_timer = 0;
	if (b->st != B_DEAD)
		on_backend(l, b->fd, EPOLLIN, b);
}

static void backend_events(struct backend *b)
{
	uint32_t ev = 0;
	if (b->st == B_CONNECTING)
		ev = EPOLLOUT;
	else {
		if (!b->c || b->c->out.len < OUT_HIGH)
			ev |= EPOLLIN;
		if (b->out.len)
			ev |= EPOLLOUT;
	}
	loop_mod_fd(P.loop, b->fd, ev);
	/* decrypted bytes left inside OpenSSL (a read stopped at the buffer's
	 * limit) raise no epoll event: come back for them */
	if ((ev & EPOLLIN) && b->ssl && b->st != B_TLS && !b->kick_timer && tls_pending(b->ssl))
		b->kick_timer = loop_add_timer(P.loop, 0, on_backend_kick, b);
}

/* ---- pools --------------------------------------------------------------------------- */

static struct pool *pool_get(struct client *c)
{
	char key[400];
	snprintf(key, sizeof key, "%s/%s/%s%s", c->cfg->proxy_id, c->user, c->db, c->cfg->read_only ? "/ro" : "");
	const struct login *g = c->login;
	for (struct pool *p = P.pools; p; p = p->next)
		if (strcmp(p->key, key) == 0 && p->opts_len == g->opts_len && memcmp(p->opts, g->opts, g->opts_len) == 0)
			return p;
	struct pool *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	snprintf(p->key, sizeof p->key, "%s", key);
	snprintf(p->proxy_id, sizeof p->proxy_id, "%s", c->cfg->proxy_id);
	p->read_only = c->cfg->read_only;
	memcpy(p->opts, g->opts, g->opts_len);
	p->opts_len = g->opts_len;
	snprintf(p->user, sizeof p->user, "%s", c->user);
	snprintf(p->db, sizeof p->db, "%s", c->db);
	snprintf(p->account, sizeof p->account, "%s", c->l->account);
	snprintf(p->region, sizeof p->region, "%s", c->l->region);
	p->max = 100;
	p->next = P.pools;
	P.pools = p;
	return p;
}

static void on_borrow_timeout(struct loop *l, long long id, void *ud)
{
	(void)l;
	(void)id;
	struct client *c = ud;
	struct pool *p = c->pool;
	c->wait_timer = 0;
	for (struct client **pp = &p->wait_head, *prev = NULL; *pp; prev = *pp, pp = &(*pp)->wait_next)
		if (*pp == c) {
			*pp = c->wait_next;
			if (p->wait_tail == c)
				p->wait_tail = prev;
			break;
		}
	c->waiting = false;
	client_fatal(c, "08000", "Timed-out waiting to acquire database connection.");
}

static void on_pool_retry(struct loop *l, long long id, void *ud)
{
	(void)l;
	(void)id;
	struct pool *p = ud;
	p->retry_timer = 0;
	pool_hand_over(p);
}

/* No target could be reached (a failover in progress): waiting clients
 * stay queued, up to their borrow timeout, and the pool tries again. */
static void pool_retry_soon(struct pool *p, const char *why)
{
	if (!p->failing)
		log_info("pgproxy", "%s: %s (clients wait up to the borrow timeout)", p->key, why);
	p->failing = true;
	if (!p->retry_timer && p->wait_head)
		p->retry_timer = loop_add_timer(P.loop, 200, on_pool_retry, p);
}

/* Gives idle backends to waiting clients; opens new ones while allowed. */
static void pool_hand_over(struct pool *p)
{
	while (p->wait_head) {
		struct backend *b = p->idle;
		while (b && b->gen != topology_gen) { /* stale after a failover */
			struct backend *n = b->next_idle;
			backend_free(b);
			b = n;
		}
		if (!b) {
			int pending = 0;
			for (struct backend *x = p->all; x; x = x->next)
				pending += x->st != B_READY;
			int waiting = 0;
			for (struct client *w = p->wait_head; w; w = w->wait_next)
				waiting++;
			if (pending < waiting && p->total < p->max) {
				char why[300];
				bool fatal;
				if (backend_open(p, why, sizeof why, &fatal))
					;
				else if (fatal)
					pool_fail_waiters(p, why);
				else
					pool_retry_soon(p, why);
			}
			return;
		}
		p->idle = b->next_idle;
		struct client *c = p->wait_head;
		p->wait_head = c->wait_next;
		if (!p->wait_head)
			p->wait_tail = NULL;
		c->waiting = false;
		if (c->wait_timer)
			loop_del_timer(P.loop, c->wait_timer);
		c->wait_timer = 0;
		c->b = b;
		b->c = c;
		backend_events(b);
		if (c->st == C_WELCOME)
			send_welcome_or_wait(c);
		else
			client_process(c);
	}
}

/* The client needs a backend: an idle one at once, else it queues. */
static void client_borrow(struct client *c)
{
	struct pool *p = c->pool;
	if (c->waiting || c->b)
		return;
	struct backend *b = p->idle;
	if (!p->wait_head && b && b->gen == topology_gen) { /* the common case: no queue, no timer */
		p->idle = b->next_idle;
		c->b = b;
		b->c = c;
		backend_events(b);
		if (c->st == C_WELCOME)
			send_welcome_or_wait(c);
		else
			client_process(c);
		return;
	}
	c->waiting = true;
	c->wait_next = NULL;
	if (p->wait_tail)
		p->wait_tail->wait_next = c;
	else
		p->wait_head = c;
	p->wait_tail = c;
	int limit = c->cfg->borrow_timeout_s;
	c->wait_timer = loop_add_timer(P.loop, limit > 0 ? limit * 1000LL : 1, on_borrow_timeout, c);
	pool_hand_over(p);
}

/* ---- clients --------------------------------------------------------------------------- */

static void on_client(struct loop *l, int fd, uint32_t ev, void *ud);

static void client_close(struct client *c)
{
	if (c->st == C_CLOSED)
		return;
	c->st = C_CLOSED;
	if (c->waiting) {
		struct pool *p = c->pool;
		for (struct client **pp = &p->wait_head, *prev = NULL; *pp; prev = *pp, pp = &(*pp)->wait_next)
			if (*pp == c) {
				*pp = c->wait_next;
				if (p->wait_tail == c)
					p->wait_tail = prev;
				break;
			}
	}
	if (c->wait_timer)
		loop_del_timer(P.loop, c->wait_timer);
	if (c->kick_timer)
		loop_del_timer(P.loop, c->kick_timer);
	c->kick_timer = 0;
	if (c->b) {
		struct backend *b = c->b;
		b->c = NULL;
		c->b = NULL;
		/* mid-transaction or pinned: its state must not reach another client */
		if (c->replies || c->pinned || b->txn != 'I' || b->pass_left || b->in.len || c->pass_left)
			backend_free(b);
		else
			backend_release(b);
	}
	if (c->d) {
		if (c->d->fd >= 0) {
			loop_del_fd(P.loop, c->d->fd);
			close(c->d->fd);
		}
		q_free(&c->d->in);
		q_free(&c->d->out);
		free(c->d);
		c->d = NULL;
	}
	if (c->counted) {
		struct pstat *st = pstat(c->cfg->proxy_id, NULL);
		st->conns--;
		st->closed++;
		if (c->ssl)
			st->conns_tls--;
		else
			st->conns_notls--;
	}
	tls_free(c->ssl);
	c->ssl = NULL;
	loop_del_fd(P.loop, c->fd);
	close(c->fd);
	struct pgproxy_listener *L = c->l;
	if (c->prev)
		c->prev->next = c->next;
	else
		L->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	q_free(&c->in);
	q_free(&c->out);
	login_free(c);
	pcfg_put(c->cfg);
	c->cfg = NULL;
	free(c->user); /* db lives in the same allocation */
	c->user = c->db = NULL;
	c->next = P.dead_clients;
	P.dead_clients = c;
}

/* Before the session a whole message must fit (a PasswordMessage with a
 * 64 KiB token); in it, larger messages are streamed. */
static size_t in_cap(const struct client *c)
{
	return c->st == C_READY || c->st == C_RELAY ? IN_CAP : PGP_AUTH_MSG_MAX + 8;
}

static void on_client_kick(struct loop *l, long long id, void *ud)
{
	(void)id;
	struct client *c = ud;
	c->kick_timer = 0;
	if (c->st != C_CLOSED)
		on_client(l, c->fd, EPOLLIN, c);
}

static void client_events(struct client *c)
{
	if (c->st == C_CLOSED)
		return;
	uint32_t ev = 0;
	if (c->in.len < in_cap(c) && (!c->b || c->b->out.len < OUT_HIGH) && (!c->d || c->d->out.len < OUT_HIGH))
		ev |= EPOLLIN;
	if (c->out.len)
		ev |= EPOLLOUT;
	loop_mod_fd(P.loop, c->fd, ev);
	if ((ev & EPOLLIN) && c->ssl && c->st != C_TLS && !c->kick_timer && tls_pending(c->ssl))
		c->kick_timer = loop_add_timer(P.loop, 0, on_client_kick, c);
}


/* ---- proxy configuration ---------------------------------------------------------------- */

static void pcfg_put(struct pcfg *g)
{
	if (!g || --g->refs > 0)
		return;
	for (size_t i = 0; i < g->nauth; i++)
		free(g->auth[i].secret_arn);
	free(g->auth);
	if (g->init_query)
		OPENSSL_cleanse(g->init_query, strlen(g->init_query));
	free(g->init_query);
	free(g);
}

static int pct(json_t *pc, const char *name, int dflt)
{
	json_t *v = json_object_get(pc, name);
	return json_is_integer(v) ? (int)json_integer_value(v) : dflt;
}

/* A limit from the proxy's tags: a positive integer value, else 0 (none). */
static int tag_limit(json_t *doc, const char *key)
{
	json_t *t;
	size_t i;
	json_array_foreach(json_object_get(doc, "TagList"), i, t) {
		const char *k = json_string_value(json_object_get(t, "Key"));
		const char *v = json_string_value(json_object_get(t, "Value"));
		char *end;
		if (!k || !v || strcmp(k, key) != 0)
			continue;
		long n = strtol(v, &end, 10);
		return end != v && !*end && n > 0 && n <= 1000000000 ? (int)n : 0;
	}
	return 0;
}

/* Reads the settings of the listener's proxy (its row, the default target
 * group, the endpoint's role) from the store.  NULL when it is gone. */
static struct pcfg *pcfg_load(struct pgproxy_listener *L)
{
	sqlite3_stmt *st;
	bool endpoint = strcmp(L->kind, "proxy") != 0;
	if (!endpoint) {
		st = store_prep(P.store, "SELECT doc, proxy_id, 'READ_WRITE' FROM rds_proxies WHERE proxy_id = ?1");
		if (st)
			store_bind_text(st, 1, L->owner);
	} else {
		st = store_prep(P.store, "SELECT p.doc, p.proxy_id, json_extract(e.doc, '$.TargetRole') FROM rds_proxies p "
		                         "JOIN rds_proxy_endpoints e USING (proxy_id) WHERE e.arn LIKE '%:' || ?1");
		if (st)
			store_bind_text(st, 1, L->owner);
	}
	if (!st)
		return NULL;
	json_t *doc = NULL;
	struct pcfg *g = calloc(1, sizeof *g);
	if (g && sqlite3_step(st) == SQLITE_ROW) {
		doc = json_loads(store_col_text(st, 0) ? store_col_text(st, 0) : "", 0, NULL);
		snprintf(g->proxy_id, sizeof g->proxy_id, "%s", store_col_text(st, 1) ? store_col_text(st, 1) : "");
		g->read_only = store_col_text(st, 2) && strcmp(store_col_text(st, 2), "READ_ONLY") == 0;
	}
	sqlite3_reset(st);
	if (!doc) {
		free(g);
		return NULL;
	}
	g->refs = 1;
	g->touches = store_touches();
	snprintf(g->proxy_name, sizeof g->proxy_name, "%s", json_string_value(json_object_get(doc, "DBProxyName")));
	snprintf(g->role_arn, sizeof g->role_arn, "%s", json_string_value(json_object_get(doc, "RoleArn")));
	g->idle_timeout_s = (int)json_integer_value(json_object_get(doc, "IdleClientTimeout"));
	g->debug = rds_proxy_debug_logging(doc, clock_now());
	json_t *since = json_object_get(doc, RDS_PROXY_DEBUG_SINCE);
	g->debug_until = g->debug && json_is_number(since) ? json_number_value(since) + RDS_PROXY_DEBUG_SECONDS : 0;
	g->require_tls = json_is_true(json_object_get(doc, "RequireTLS"));
	g->max_clients = tag_limit(doc, "rdsemu:MaxClientConnections");
	g->conn_rate = tag_limit(doc, "rdsemu:MaxConnectionRate");
	g->iam_rate = tag_limit(doc, "rdsemu:MaxIAMAuthRate");
	const char *scheme = json_string_value(json_object_get(doc, "DefaultAuthScheme"));
	g->e2e_iam = scheme && strcmp(scheme, "IAM_AUTH") == 0;
	json_t *auth = json_object_get(doc, "Auth");
	g->auth = calloc(json_array_size(auth) + 1, sizeof *g->auth);
	size_t i;
	json_t *a;
	json_array_foreach(auth, i, a) {
		const char *arn = json_string_value(json_object_get(a, "SecretArn"));
		const char *iam = json_string_value(json_object_get(a, "IAMAuth"));
		const char *cpat = json_string_value(json_object_get(a, "ClientPasswordAuthType"));
		if (!arn || !g->auth || !(g->auth[g->nauth].secret_arn = util_strdup(arn)))
			continue;
		g->auth[g->nauth].iam_required = iam && strcmp(iam, "REQUIRED") == 0;
		g->auth[g->nauth].md5 = cpat && strcmp(cpat, "POSTGRES_MD5") == 0;
		g->nauth++;
	}
	json_decref(doc);
	/* the target group's pool settings */
	g->max_pct = 100;
	g->max_idle_pct = 50;
	g->borrow_timeout_s = 120;
	st = store_prep(P.store, "SELECT doc FROM rds_proxy_target_groups WHERE proxy_id = ?1 AND name = 'default'");
	if (st) {
		store_bind_text(st, 1, g->proxy_id);
		if (sqlite3_step(st) == SQLITE_ROW) {
			json_t *tg = json_loads(store_col_text(st, 0) ? store_col_text(st, 0) : "", 0, NULL);
			json_t *pc = json_object_get(tg, "ConnectionPoolConfig");
			g->borrow_timeout_s = pct(pc, "ConnectionBorrowTimeout", 120);
			g->max_pct = pct(pc, "MaxConnectionsPercent", 100);
			g->max_idle_pct = pct(pc, "MaxIdleConnectionsPercent", g->max_pct / 2);
			const char *iq = json_string_value(json_object_get(pc, "InitQuery"));
			g->init_query = iq && *iq ? util_strdup(iq) : NULL;
			json_decref(tg);
		}
		sqlite3_reset(st);
	}
	return g;
}

/* The listener's proxy settings, from the cache while the store is unchanged. */
static struct pcfg *pcfg_get(struct pgproxy_listener *L)
{
	if (!L->cfg || L->cfg->touches != store_touches() || (L->cfg->debug_until && clock_now() >= L->cfg->debug_until)) {
		pcfg_put(L->cfg);
		L->cfg = pcfg_load(L);
	}
	if (L->cfg)
		L->cfg->refs++;
	return L->cfg;
}

/* DebugLogging as the proxy's settings say now: turned on or off since a
 * session logged in, the session's next statement sees it (the settings
 * are re-read only after an API request, or at the end of the 24 hours). */
static bool debug_on(struct pgproxy_listener *L)
{
	struct pcfg *g = pcfg_get(L);
	bool on = g && g->debug && (!g->debug_until || clock_now() < g->debug_until);
	pcfg_put(g);
	return on;
}

/* Secrets as the proxy's role read them, by (role, secret), while the store
 * is unchanged: a login does not decrypt every secret of the Auth list. */
#define SCACHE 64
static struct scache {
	char role[300], arn[300], version[96];
	char *user, *pw; /* NULL user: the role could not read it */
	unsigned long touches;
} scache[SCACHE];
static unsigned scache_next;

static void scache_wipe(struct scache *e)
{
	if (e->pw)
		OPENSSL_cleanse(e->pw, strlen(e->pw));
	free(e->pw);
	free(e->user);
	memset(e, 0, sizeof *e);
}

static const struct scache *secret_as(const struct pgproxy_listener *L, const struct pcfg *g, const char *arn)
{
	unsigned long now = store_touches();
	for (int i = 0; i < SCACHE; i++)
		if (scache[i].touches == now && strcmp(scache[i].arn, arn) == 0 && strcmp(scache[i].role, g->role_arn) == 0)
			return &scache[i];
	struct scache *e = &scache[scache_next++ % SCACHE];
	scache_wipe(e);
	snprintf(e->role, sizeof e->role, "%s", g->role_arn);
	snprintf(e->arn, sizeof e->arn, "%s", arn);
	e->touches = now;
	char *value = NULL;
	struct emu_err err;
	emu_err_clear(&err);
	if (!P.h.read_secret ||
	    P.h.read_secret(P.h.ud, L->account, L->region, g->role_arn, arn, &value, e->version, &err) < 0) {
		log_info("pgproxy", "proxy %s cannot read secret %s: %s", g->proxy_name, arn, err.msg);
		return e;
	}
	json_t *v = json_loads(value, 0, NULL);
	OPENSSL_cleanse(value, strlen(value));
	free(value);
	const char *u = json_string_value(json_object_get(v, "username"));
	const char *p = json_string_value(json_object_get(v, "password"));
	if (u && p) {
		e->user = util_strdup(u);
		e->pw = util_strdup(p);
	}
	json_decref(v);
	return e;
}

/* The Auth entry whose secret names the client's user.  1 found, 0 none. */
static int find_secret(struct client *c, const struct auth_ent **entry)
{
	*entry = NULL;
	for (size_t i = 0; i < c->cfg->nauth; i++) {
		const struct scache *e = secret_as(c->l, c->cfg, c->cfg->auth[i].secret_arn);
		if (e->user && e->pw && strcmp(e->user, c->user) == 0) {
			*entry = &c->cfg->auth[i];
			c->login->secret_pw = util_strdup(e->pw);
			snprintf(c->login->secret_arn, sizeof c->login->secret_arn, "%s", e->arn);
			snprintf(c->login->secret_version, sizeof c->login->secret_version, "%s", e->version);
			return c->login->secret_pw ? 1 : 0;
		}
	}
	return 0;
}

/* SCRAM verifiers are derived once per secret version (PBKDF2 is the
 * expensive part of a login), kept in a small ring. */
#define VCACHE 64
static struct vcache {
	char key[400];
	struct scram_verifier v;
} vcache[VCACHE];
static unsigned vcache_next;

static const struct scram_verifier *verifier_for(struct client *c, struct emu_err *err)
{
	char key[400];
	snprintf(key, sizeof key, "%s#%s", c->login->secret_arn, c->login->secret_version);
	for (int i = 0; i < VCACHE; i++)
		if (vcache[i].key[0] && strcmp(vcache[i].key, key) == 0)
			return &vcache[i].v;
	struct vcache *e = &vcache[vcache_next++ % VCACHE];
	scram_verifier_wipe(&e->v);
	e->key[0] = '\0';
	if (scram_verifier_make(c->login->secret_pw, strlen(c->login->secret_pw), NULL, 0, SCRAM_ITERATIONS, &e->v,
	                        err) < 0)
		return NULL;
	snprintf(e->key, sizeof e->key, "%s", key);
	return &e->v;
}

static void login_free(struct client *c)
{
	struct login *g = c->login;
	if (!g)
		return;
	if (g->scram) {
		scram_server_wipe(g->scram);
		free(g->scram);
	}
	if (g->secret_pw) {
		OPENSSL_cleanse(g->secret_pw, strlen(g->secret_pw));
		free(g->secret_pw);
	}
	free(g);
	c->login = NULL;
}

/* ---- start-up and authentication ---------------------------------------------------------- */

/* ---- instance endpoints (pattern C): the server does the login, except for IAM -------- */

static void on_direct(struct loop *l, int fd, uint32_t ev, void *ud);

static void direct_events(struct client *c)
{
	if (!c->d || c->d->fd < 0 || c->st == C_CLOSED)
		return;
	uint32_t ev = c->d->connecting ? EPOLLOUT : 0;
	if (!c->d->connecting && c->out.len < OUT_HIGH && c->st != C_DIRECT_TOKEN)
		ev |= EPOLLIN;
	if (!c->d->connecting && c->d->out.len)
		ev |= EPOLLOUT;
	loop_mod_fd(P.loop, c->d->fd, ev);
}

/* Loads the instance's (or cluster's) resource id and IAM setting (they may change). */
static int direct_instance(struct client *c)
{
	bool cluster = strcmp(c->l->kind, "instance") != 0;
	sqlite3_stmt *st = cluster ? store_prep(P.store, "SELECT json_extract(doc, '$.DbClusterResourceId'), "
	                                                 "json_extract(doc, '$.IAMDatabaseAuthenticationEnabled') "
	                                                 "FROM rds_clusters WHERE account = ?1 AND region = ?2 AND id = ?3")
	                           : store_prep(P.store, "SELECT json_extract(doc, '$.DbiResourceId'), "
	                                                 "json_extract(doc, '$.IAMDatabaseAuthenticationEnabled') "
	                                                 "FROM rds_instances WHERE account = ?1 AND region = ?2 AND id = ?3");
	if (!st)
		return -1;
	store_bind_text(st, 1, c->l->account);
	store_bind_text(st, 2, c->l->region);
	store_bind_text(st, 3, c->l->owner);
	int rc = -1;
	if (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(c->d->resource_id, sizeof c->d->resource_id, "%s", store_col_text(st, 0) ? store_col_text(st, 0) : "");
		c->d->iam_enabled = sqlite3_column_int(st, 1) != 0;
		rc = 0;
	}
	sqlite3_reset(st);
	return rc;
}

/* The client's StartupMessage goes to the instance's server as it was. */
static int direct_start(struct client *c, const struct pgp_startup *s)
{
	const char *user = pgp_startup_get(s, "user");
	c->user = util_strdup(user ? user : "");
	c->d = calloc(1, sizeof *c->d);
	if (!c->user || !c->d) {
		client_fatal(c, "XX000", "Unknown error.");
		return -1;
	}
	c->d->fd = -1;
	struct fwd_backend be;
	if (direct_instance(c) < 0 ||
	    runtime_endpoint_backend(c->l->kind, c->l->account, c->l->region, c->l->owner, &be) < 0) {
		client_fatal(c, "57P03", "the database system is not accepting connections");
		return -1;
	}
	bool connecting; /* either way completion is seen as EPOLLOUT (dconnecting) */
	c->d->fd = fwd_connect(&be, &connecting);
	if (c->d->fd < 0 || loop_add_fd(P.loop, c->d->fd, EPOLLOUT, on_direct, c) < 0) {
		if (c->d->fd >= 0)
			close(c->d->fd);
		c->d->fd = -1;
		client_fatal(c, "08006", "could not connect to the database server");
		return -1;
	}
	c->d->connecting = true;
	struct buf m;
	buf_init(&m, PGP_STARTUP_MAX);
	pgp_put_startup(&m, s->params, s->nparams);
	put_buf(&c->d->out, &m);
	buf_free(&m);
	c->st = C_DIRECT_WAIT;
	return 0;
}

/* The server's first answer: AuthenticationOk at once means trust, i.e. an
 * rds_iam member (pg_hba), who must show a token to this endpoint first. */
static void direct_first(struct client *c)
{
	struct pgp_header h;
	enum pgp_frame f = pgp_header_peek(q_data(&c->d->in), c->d->in.len, 1 << 20, &h);
	if (f == PGP_FRAME_MORE || (f == PGP_FRAME_OK && h.total > c->d->in.len))
		return;
	struct pgp_auth a;
	struct emu_err err;
	bool trusted = f == PGP_FRAME_OK && h.type == 'R' &&
	               pgp_parse_auth(q_data(&c->d->in) + 5, h.body_len, &a, &err) == 0 && a.code == PGP_AUTH_OK;
	if (!trusted) { /* a password login (or an error): the client and the server talk */
		c->st = C_RELAY;
		return;
	}
	if (!c->d->iam_enabled) { /* rds_iam members cannot log in while IAM authentication is off */
		audit(c, NULL, false, "IAM database authentication is disabled");
		client_fatal(c, "28000", "PAM authentication failed for user \"%s\"", c->user);
		return;
	}
	struct buf m;
	buf_init(&m, 64);
	pgp_put_auth_cleartext(&m);
	put_buf(&c->out, &m);
	buf_free(&m);
	c->st = C_DIRECT_TOKEN;
}

static void direct_token(struct client *c, const struct pgp_header *h, const uint8_t *body)
{
	struct emu_err err;
	emu_err_clear(&err);
	const char *tok;
	size_t len;
	if (h->type != 'p' || pgp_parse_password(body, h->body_len, &tok, &len, &err) < 0) {
		proto_error(c, err.msg[0] ? err.msg : "expected a password message");
		return;
	}
	const char *hosts[3] = {c->l->addr, "localhost", c->l->dns};
	struct pgproxy_token t = {.token = tok, .len = len, .user = c->user, .region = c->l->region,
	                          .resource_id = c->d->resource_id, .hosts = hosts, .n_hosts = 3, .port = c->l->port};
	char principal[512] = "";
	int rc = P.h.verify_token ? P.h.verify_token(P.h.ud, &t, principal, sizeof principal, &err)
	                          : emu_err_set(&err, ERR_INTERNAL, "no token verifier");
	audit(c, principal, rc == 0, rc == 0 ? NULL : err.msg);
	if (rc < 0) {
		client_fatal(c, "28000", "PAM authentication failed for user \"%s\"", c->user);
		return;
	}
	c->st = C_RELAY; /* the server's AuthenticationOk and the rest follow */
}

static void on_direct(struct loop *l, int fd, uint32_t ev, void *ud)
{
	(void)l;
	(void)fd;
	struct client *c = ud;
	if (c->d->connecting) {
		int e = 0;
		socklen_t el = sizeof e;
		if (getsockopt(c->d->fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0 || e) {
			client_fatal(c, "08006", "could not connect to the database server");
			return;
		}
		c->d->connecting = false;
	}
	if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		int r = rd(c->d->fd, NULL, &c->d->in, IN_CAP);
		if (r < 0 || (r == 0 && !c->d->in.len)) {
			wr(c->fd, c->ssl, &c->out);
			client_close(c);
			return;
		}
	}
	if (c->st == C_DIRECT_WAIT && c->d->in.len)
		direct_first(c);
	if (c->st == C_CLOSED)
		return;
	if (c->st == C_RELAY && c->d->in.len) {
		q_put(&c->out, q_data(&c->d->in), c->d->in.len);
		q_eat(&c->d->in, c->d->in.len);
	}
	if (wr(c->d->fd, NULL, &c->d->out) < 0 || wr(c->fd, c->ssl, &c->out) < 0) {
		client_close(c);
		return;
	}
	client_events(c);
	direct_events(c);
}

/* ---- CancelRequest ------------------------------------------------------------------------ */

/* A CancelRequest on its way to a server: connect, write 16 bytes, close. */
struct canceller {
	int fd;
	uint8_t pkt[16];
};

static void on_canceller(struct loop *l, int fd, uint32_t ev, void *ud)
{
	(void)ev;
	struct canceller *k = ud;
	if (send(fd, k->pkt, sizeof k->pkt, MSG_NOSIGNAL) != (ssize_t)sizeof k->pkt)
		log_info("pgproxy", "a cancel request could not be passed on: %s", strerror(errno));
	loop_del_fd(l, fd);
	close(fd);
	free(k);
}

static void send_cancel(const struct fwd_backend *at, uint32_t pid, const uint8_t key[4])
{
	struct canceller *k = calloc(1, sizeof *k);
	bool connecting;
	if (!k || (k->fd = fwd_connect(at, &connecting)) < 0) {
		free(k);
		return;
	}
	const uint32_t v[3] = {htonl(16), htonl(80877102), htonl(pid)};
	memcpy(k->pkt, v, sizeof v);
	memcpy(k->pkt + 12, key, 4);
	if (loop_add_fd(P.loop, k->fd, EPOLLOUT, on_canceller, k) < 0) {
		close(k->fd);
		free(k);
	}
}

/* Proxy endpoints: the key is the proxy's own (sent as BackendKeyData at
 * login); the cancel goes to the backend the client holds now, with that
 * server's key.  Between transactions there is nothing to cancel.  Instance
 * endpoints relay the server's own key, so the request goes on as it is.
 * (RDS Proxy itself ignores CancelRequest, aws-behaviour.md 3.4.) */
static void cancel_request(struct client *c, const struct pgp_startup *s)
{
	if (s->cancel_key_len != 4)
		return;
	struct fwd_backend be;
	if (c->l->direct) {
		if (runtime_endpoint_backend(c->l->kind, c->l->account, c->l->region, c->l->owner, &be) == 0)
			send_cancel(&be, s->cancel_pid, s->cancel_key);
		return;
	}
	uint32_t key;
	memcpy(&key, s->cancel_key, 4);
	key = ntohl(key);
	for (struct pgproxy_listener *L = P.listeners; L; L = L->next)
		for (struct client *t = L->clients; t; t = t->next) {
			if (L->direct || (t->id & 0x7fffffff) != s->cancel_pid || t->st != C_READY)
				continue;
			if (CRYPTO_memcmp(&t->cancel_key, &key, sizeof key) != 0)
				return;
			if (t->b && t->b->pid) {
				uint32_t bk = htonl(t->b->key);
				log_info("pgproxy", "[clientConnection=%lu] cancel request passed on to [dbConnection=%d]", t->id,
				         t->b->fd);
				send_cancel(&t->b->at, (uint32_t)t->b->pid, (const uint8_t *)&bk);
			}
			return;
		}
}

/* The runtime parameters a client may give at start-up (application_name,
 * client_encoding, DateStyle, TimeZone, extra_float_digits) are session
 * state: backends log in with them, and a pool serves only clients that
 * gave the same ones (so a LATIN1 client never gets a UTF8 backend).
 * Encoded as name NUL value NUL pairs, in a fixed order.  NULL, or the
 * name of a parameter whose value is too long. */
static const char *session_opts(struct login *g, const struct pgp_startup *s)
{
	static const char *const names[] = {"application_name", "client_encoding", "DateStyle", "TimeZone",
	                                    "extra_float_digits", NULL};
	g->opts_len = 0;
	for (const char *const *n = names; *n; n++) {
		const char *v = NULL;
		for (size_t i = 0; i < s->nparams && !v; i++)
			if (strcasecmp(s->params[i].name, *n) == 0)
				v = s->params[i].value;
		if (!v)
			continue;
		size_t nl = strlen(*n) + 1, vl = strlen(v) + 1;
		if (vl > 256 || g->opts_len + nl + vl > sizeof g->opts)
			return *n; /* that one's value is too long */
		memcpy(g->opts + g->opts_len, *n, nl);
		memcpy(g->opts + g->opts_len + nl, v, vl);
		g->opts_len += nl + vl;
	}
	return NULL;
}

static const char *const startup_allowed[] = {"user", "database", "application_name", "client_encoding",
                                              "DateStyle", "TimeZone", "extra_float_digits", NULL};

static int client_startup(struct client *c, const struct pgp_startup *s)
{
	if (s->kind == PGP_GSSENC_REQUEST) {
		q_put(&c->out, "N", 1);
		return 0;
	}
	if (s->kind == PGP_CANCEL_REQUEST) {
		cancel_request(c, s);
		client_close(c);
		return -1;
	}
	if (s->kind == PGP_SSL_REQUEST) {
		if (c->ssl || c->in.len) { /* a second SSLRequest, or bytes after it: not a real client */
			client_fatal(c, "08P01", "Unknown error.");
			return -1;
		}
		struct pgproxy_listener *L = c->l;
		const char *names[3] = {L->addr, "localhost", L->dns};
		struct emu_err err;
		emu_err_clear(&err);
		SSL_CTX *ctx = tls_server_ctx(names, 3, &err);
		if (!ctx || send(c->fd, "S", 1, MSG_NOSIGNAL) != 1 || !(c->ssl = tls_new_server(ctx, c->fd))) {
			client_close(c);
			return -1;
		}
		c->st = C_TLS;
		return 0;
	}
	if (s->major != 3) {
		client_fatal(c, "0A000",
		             "Feature not supported: RDS Proxy supports only version 3.0 of the PostgreSQL messaging protocol.");
		return -1;
	}
	if (c->l->direct)
		return direct_start(c, s);
	struct buf m;
	buf_init(&m, 8192);
	const char *unknown_pq[PGP_MAX_PARAMS];
	size_t nunknown = 0;
	for (size_t i = 0; i < s->nparams; i++) {
		const char *n = s->params[i].name;
		bool ok = false;
		for (const char *const *a = startup_allowed; *a; a++)
			ok = ok || strcasecmp(*a, n) == 0; /* GUC names ignore case (libpq sends "timezone") */
		if (strncmp(n, "_pq_.", 5) == 0) {
			unknown_pq[nunknown++] = n;
			continue;
		}
		if (ok)
			continue;
		buf_free(&m);
		if (strcmp(n, "options") == 0)
			client_fatal(c, "0A000", "Feature not supported: RDS Proxy currently doesn\xe2\x80\x99t support command-line options.");
		else if (strcmp(n, "replication") == 0)
			client_fatal(c, "0A000", "Feature not supported: RDS Proxy currently doesn't support streaming replication mode.");
		else
			client_fatal(c, "0A000", "Feature not supported: RDS Proxy currently doesn't support the option %.64s.", n);
		return -1;
	}
	if (s->minor > 0 || nunknown)
		pgp_put_negotiate_version(&m, 0, unknown_pq, nunknown);
	put_buf(&c->out, &m);
	buf_free(&m);
	const char *user = pgp_startup_get(s, "user");
	const char *db = pgp_startup_get(s, "database");
	if (!user || !*user) {
		client_fatal(c, "28000", "A user name is missing from the connection startup packet. Provide a user name "
		                         "for this connection.");
		return -1;
	}
	if (!db || !*db)
		db = user;
	size_t ul = strlen(user) + 1, dl = strlen(db) + 1;
	if ((c->user = malloc(ul + dl))) { /* one allocation for both names */
		memcpy(c->user, user, ul);
		c->db = c->user + ul;
		memcpy(c->db, db, dl);
	}
	c->cfg = pcfg_get(c->l);
	c->login = calloc(1, sizeof *c->login);
	if (!c->user || !c->db || !c->cfg || !c->login) {
		client_fatal(c, "XX000", "Unknown error.");
		return -1;
	}
	const char *too_long = session_opts(c->login, s);
	if (too_long) {
		client_fatal(c, "22023", "invalid value for parameter \"%s\": too long", too_long);
		return -1;
	}
	struct pcfg *g = c->cfg;
	struct pstat *ps = pstat(g->proxy_id, g->proxy_name);
	ps->received++;
	char lim[100];
	if (g->max_clients > 0 && ps->conns >= g->max_clients) {
		snprintf(lim, sizeof lim, "The maximum number of client connections to the proxy exceeded %d.", g->max_clients);
		limit_refusal(c, "too many client connections", lim);
		return -1;
	}
	if (over_rate(ps, &ps->window_logins, g->conn_rate)) {
		snprintf(lim, sizeof lim, "Rate of connection to proxy exceeded %d.", g->conn_rate);
		limit_refusal(c, "connection rate", lim);
		return -1;
	}
	if (g->require_tls && !c->ssl) {
		audit(c, NULL, false, "TLS required");
		client_fatal(c, "28000", "This RDS Proxy requires TLS connections");
		return -1;
	}
	if (g->e2e_iam) { /* every client shows a token; no secret is involved */
		if (!c->ssl) {
			audit(c, NULL, false, "IAM without TLS");
			client_fatal(c, "28000", "IAM authentication is allowed only with SSL connections.");
			return -1;
		}
		buf_init(&m, 64);
		pgp_put_auth_cleartext(&m);
		put_buf(&c->out, &m);
		buf_free(&m);
		c->st = C_AUTH_TOKEN;
		return 0;
	}
	const struct auth_ent *entry;
	if (!find_secret(c, &entry)) {
		audit(c, NULL, false, "no credentials");
		client_fatal(c, "28000",
		             "This RDS proxy has no credentials for the role %s. Check the credentials for this role and try "
		             "again.",
		             c->user);
		return -1;
	}
	buf_init(&m, 256);
	if (entry->iam_required) {
		if (!c->ssl) {
			buf_free(&m);
			audit(c, NULL, false, "IAM without TLS");
			client_fatal(c, "28000", "IAM authentication is allowed only with SSL connections.");
			return -1;
		}
		pgp_put_auth_cleartext(&m);
		c->st = C_AUTH_TOKEN;
	} else if (entry->md5) {
		RAND_bytes(c->login->md5_salt, 4);
		pgp_put_auth_md5(&m, c->login->md5_salt);
		c->st = C_AUTH_MD5;
	} else {
		const char *mechs[1] = {"SCRAM-SHA-256"};
		pgp_put_auth_sasl(&m, mechs, 1);
		c->st = C_AUTH_SASL1;
	}
	put_buf(&c->out, &m);
	buf_free(&m);
	return 0;
}

/* Authenticated: AuthenticationOk, then parameters from a backend's login. */
static void client_authenticated(struct client *c, const char *principal)
{
	audit(c, principal, true, NULL);
	struct buf m;
	buf_init(&m, 64);
	pgp_put_auth_ok(&m);
	put_buf(&c->out, &m);
	buf_free(&m);
	c->pool = pool_get(c);
	if (!c->pool) {
		client_fatal(c, "XX000", "Unknown error.");
		return;
	}
	/* the backend logs in with the secret's password as it is now (a rotation is picked up) */
	struct pool *p = c->pool;
	snprintf(p->secret_pw, sizeof p->secret_pw, "%s", c->login->secret_pw ? c->login->secret_pw : "");
	snprintf(p->init_query, sizeof p->init_query, "%s", c->cfg->init_query ? c->cfg->init_query : "");
	p->max_pct = c->cfg->max_pct;
	p->max_idle_pct = c->cfg->max_idle_pct;
	p->e2e_iam = c->cfg->e2e_iam;
	snprintf(p->role_arn, sizeof p->role_arn, "%s", c->cfg->role_arn);
	login_free(c);
	c->st = C_WELCOME;
	send_welcome_or_wait(c);
}

static void send_welcome_or_wait(struct client *c)
{
	if (!c->pool->params && !c->b) {
		client_borrow(c); /* a first login gives the parameters */
		return;
	}
	json_t *params = c->b ? c->b->params : c->pool->params;
	struct buf m;
	buf_init(&m, 1 << 16);
	const char *k;
	json_t *v;
	json_object_foreach(params, k, v) pgp_put_parameter_status(&m, k, json_string_value(v));
	/* a key of the proxy's own: a CancelRequest with it reaches whichever
	 * backend the client holds at that moment */
	RAND_bytes((unsigned char *)&c->cancel_key, sizeof c->cancel_key);
	pgp_put_backend_key(&m, (uint32_t)(c->id & 0x7fffffff), c->cancel_key);
	pgp_put_ready(&m, 'I');
	put_buf(&c->out, &m);
	buf_free(&m);
	c->st = C_READY;
	log_info("pgproxy", "[clientConnection=%lu] %s@%s via %s%s", c->id, c->user, c->db, c->cfg->proxy_name,
	         c->ssl ? " (TLS)" : "");
	if (c->b)
		backend_release(c->b);
	if (c->st == C_CLOSED)
		return;
	if (wr(c->fd, c->ssl, &c->out) < 0) {
		client_close(c);
		return;
	}
	client_events(c);
	if (c->in.len) /* a client that did not wait for ReadyForQuery */
		client_process(c);
}

static void auth_failed(struct client *c, const char *principal, const char *reason, const char *sqlstate,
                        const char *msg)
{
	audit(c, principal, false, reason);
	client_fatal(c, sqlstate, "%s", msg);
}

static void client_auth_msg(struct client *c, const struct pgp_header *h, const uint8_t *body)
{
	struct emu_err err;
	emu_err_clear(&err);
	char msg[300];
	if (h->type != 'p') {
		proto_error(c, "expected a password message");
		return;
	}
	if (c->st == C_AUTH_TOKEN) {
		const char *tok;
		size_t len;
		if (pgp_parse_password(body, h->body_len, &tok, &len, &err) < 0) {
			proto_error(c, err.msg);
			return;
		}
		struct pstat *ps = pstat(c->cfg->proxy_id, NULL);
		if (over_rate(ps, &ps->window_iam, c->cfg->iam_rate)) {
			limit_refusal(c, "IAM authentication rate",
			              "The IAM authentication failed because of too many competing requests.");
			return;
		}
		const char *hosts[3] = {c->l->addr, "localhost", c->l->dns};
		struct pgproxy_token t = {.token = tok, .len = len, .user = c->user, .region = c->l->region,
		                          .resource_id = c->cfg->proxy_id, .hosts = hosts, .n_hosts = 3, .port = c->l->port};
		char principal[512] = "";
		int rc = P.h.verify_token ? P.h.verify_token(P.h.ud, &t, principal, sizeof principal, &err)
		                          : emu_err_set(&err, ERR_INTERNAL, "no token verifier");
		if (rc < 0) {
			snprintf(msg, sizeof msg,
			         "The IAM authentication failed for the role %s. Check the IAM token for this role and try again.",
			         c->user);
			auth_failed(c, principal, err.msg, "28000", msg);
			return;
		}
		client_authenticated(c, principal);
		return;
	}
	snprintf(msg, sizeof msg, "The password that was provided for the role %s is wrong.", c->user);
	if (c->st == C_AUTH_MD5) {
		const char *got;
		size_t len;
		char want[PGP_MD5_LEN + 1];
		if (pgp_parse_password(body, h->body_len, &got, &len, &err) < 0 ||
		    pgp_md5_password(c->user, c->login->secret_pw, c->login->md5_salt, want) < 0) {
			proto_error(c, err.msg);
			return;
		}
		bool ok = len == PGP_MD5_LEN && CRYPTO_memcmp(got, want, PGP_MD5_LEN) == 0;
		OPENSSL_cleanse(want, sizeof want);
		if (!ok)
			auth_failed(c, NULL, "wrong password (md5)", "28P01", msg);
		else
			client_authenticated(c, NULL);
		return;
	}
	struct buf out;
	buf_init(&out, 4096);
	if (c->st == C_AUTH_SASL1) {
		const char *mech;
		const uint8_t *data;
		size_t len;
		if (pgp_parse_sasl_initial(body, h->body_len, &mech, &data, &len, &err) < 0 ||
		    strcmp(mech, "SCRAM-SHA-256") != 0 || !data) {
			buf_free(&out);
			client_fatal(c, "28000", "RDS Proxy supports only IAM, MD5, or SCRAM authentication.");
			return;
		}
		const struct scram_verifier *v = verifier_for(c, &err);
		struct scram_server *ss = v ? malloc(sizeof *ss) : NULL;
		c->login->scram = ss;
		if (ss)
			scram_server_init(ss, v);
		if (!ss || scram_server_first(ss, (const char *)data, len, &out, &err) < 0) {
			buf_free(&out);
			proto_error(c, err.msg);
			return;
		}
		struct buf m;
		buf_init(&m, 8192);
		pgp_put_auth_sasl_continue(&m, out.data, out.len);
		put_buf(&c->out, &m);
		buf_free(&m);
		c->st = C_AUTH_SASL2;
	} else if (c->st == C_AUTH_SASL2) {
		const uint8_t *data;
		size_t len;
		int rc = pgp_parse_sasl_response(body, h->body_len, &data, &len, &err);
		if (rc == 0)
			rc = scram_server_final(c->login->scram, (const char *)data, len, &out, &err);
		if (rc < 0) {
			buf_free(&out);
			if (rc == SCRAM_BAD_PROOF)
				auth_failed(c, NULL, "wrong password (scram)", "28P01", msg);
			else
				proto_error(c, err.msg);
			return;
		}
		struct buf m;
		buf_init(&m, 8192);
		pgp_put_auth_sasl_final(&m, out.data, out.len);
		put_buf(&c->out, &m);
		buf_free(&m);
		client_authenticated(c, NULL);
	}
	buf_free(&out);
}

/* ---- the session: client messages -------------------------------------------------------------- */

static void pin(struct client *c, enum pin_reason r, const char *sql, size_t len)
{
	if (c->pinned)
		return;
	c->pinned = true;
	char why[600];
	pin_reason_text(r, sql, len, why, sizeof why);
	log_msg(LOG_LVL_WARN, "pgproxy",
	        "%s [clientConnection=%lu] The client session was pinned to the database connection "
	        "[dbConnection=%d] for the remainder of the session. The proxy can't reuse this connection until "
	        "the session ends. Reason: %s",
	        c->l->kind[0] == 'p' && strcmp(c->l->kind, "proxy") == 0 ? "default" : c->l->owner, c->id,
	        c->b ? c->b->fd : -1, why);
}

/* Moves whole client messages to the backend while it has one. */
static void client_process(struct client *c)
{
	while (c->st == C_READY && (c->in.len || c->pass_left)) {
		if (c->pass_left) {
			if (!c->b)
				return;
			size_t n = c->in.len < c->pass_left ? c->in.len : c->pass_left;
			q_put(&c->b->out, q_data(&c->in), n);
			q_eat(&c->in, n);
			c->pass_left -= n;
			continue;
		}
		struct pgp_header h;
		enum pgp_frame f = pgp_header_peek(q_data(&c->in), c->in.len, MSG_MAX, &h);
		if (f == PGP_FRAME_BAD) {
			client_fatal(c, "08P01", "Unknown error.");
			return;
		}
		if (f == PGP_FRAME_MORE)
			break;
		bool whole = h.total <= c->in.len;
		if (!whole && c->in.len < IN_CAP)
			break;
		if (h.type == 'X') { /* Terminate: not forwarded; the backend stays clean */
			client_close(c);
			return;
		}
		if (!c->b) {
			/* a backend handed over at once runs client_process itself */
			client_borrow(c);
			return;
		}
		const uint8_t *body = q_data(&c->in) + 5;
		if (h.type == 'Q' || h.type == 'P') {
			enum pin_reason r = PIN_NONE;
			const char *sql = NULL, *stmt = "";
			size_t len = 0;
			struct emu_err err;
			uint16_t np;
			if (!whole)
				r = PIN_TOO_LONG;
			else if (h.type == 'Q' && pgp_parse_query(body, h.body_len, &sql, &len, &err) == 0)
				r = pin_classify_query(sql, len);
			else if (h.type == 'P' && pgp_parse_parse(body, h.body_len, &stmt, &sql, &np, &err) == 0)
				r = pin_classify_parse(stmt, sql, strlen(sql));
			if (sql && debug_on(c->l))
				log_info("pgproxy", "[clientConnection=%lu] %s: %.*s", c->id, h.type == 'Q' ? "query" : "parse",
				         (int)(len ? len : strlen(sql)), sql);
			if (r != PIN_NONE)
				pin(c, r, sql ? sql : "", sql ? (len ? len : strlen(sql)) : 0);
		}
		if (h.type == 'Q' || h.type == 'S' || h.type == 'F') {
			c->replies++;
			struct pstat *st = pstat(c->cfg->proxy_id, NULL);
			st->queries++;
			if (c->ssl)
				st->queries_tls++;
			else
				st->queries_notls++;
		}
		if (whole) {
			q_put(&c->b->out, q_data(&c->in), h.total);
			q_eat(&c->in, h.total);
		} else {
			c->pass_left = h.total;
		}
	}
	if (c->b) {
		wr(c->b->fd, c->b->ssl, &c->b->out);
		backend_events(c->b);
	}
}

static void on_client(struct loop *l, int fd, uint32_t ev, void *ud)
{
	(void)l;
	(void)fd;
	struct client *c = ud;
	c->last_ms = clock_mono_ms();
	if (c->st == C_TLS) {
		enum tls_io r = tls_handshake(c->ssl);
		if (r == TLS_IO_OK) {
			c->st = C_STARTUP;
		} else if (r == TLS_IO_WANT_READ || r == TLS_IO_WANT_WRITE) {
			loop_mod_fd(P.loop, c->fd, r == TLS_IO_WANT_READ ? EPOLLIN : EPOLLOUT);
			return;
		} else {
			log_info("pgproxy", "[clientConnection=%lu] TLS handshake failed: %s", c->id, tls_error());
			client_close(c);
			return;
		}
	}
	if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR) || (c->ssl && tls_pending(c->ssl))) {
		int r = rd(c->fd, c->ssl, &c->in, in_cap(c));
		if (r <= 0) {
			client_close(c);
			return;
		}
	}
	while (c->st != C_CLOSED && c->st != C_READY && c->st != C_WELCOME && c->st != C_TLS && c->st != C_RELAY &&
	       c->st != C_DIRECT_WAIT && c->in.len) {
		if (c->st == C_STARTUP) {
			size_t len;
			enum pgp_frame f = pgp_startup_length(q_data(&c->in), c->in.len, &len);
			if (f == PGP_FRAME_BAD) {
				client_close(c);
				return;
			}
			if (f == PGP_FRAME_MORE || len > c->in.len)
				break;
			struct pgp_startup s;
			struct emu_err err;
			emu_err_clear(&err);
			uint8_t pkt[PGP_STARTUP_MAX];
			memcpy(pkt, q_data(&c->in), len);
			q_eat(&c->in, len);
			if (pgp_startup_parse(pkt, len, &s, &err) < 0) {
				proto_error(c, err.msg);
				return;
			}
			if (client_startup(c, &s) < 0)
				return;
			if (c->st == C_TLS) {
				on_client(l, c->fd, 0, c);
				return;
			}
			continue;
		}
		struct pgp_header h;
		enum pgp_frame f = pgp_header_peek(q_data(&c->in), c->in.len, PGP_AUTH_MSG_MAX, &h);
		if (f == PGP_FRAME_BAD) {
			client_fatal(c, "08P01", "Unknown error.");
			return;
		}
		if (f == PGP_FRAME_MORE || h.total > c->in.len)
			break;
		uint8_t *copy = malloc(h.total);
		if (!copy) {
			client_close(c);
			return;
		}
		memcpy(copy, q_data(&c->in), h.total);
		q_eat(&c->in, h.total);
		if (c->st == C_DIRECT_TOKEN)
			direct_token(c, &h, copy + 5);
		else
			client_auth_msg(c, &h, copy + 5);
		OPENSSL_cleanse(copy, h.total);
		free(copy);
		if (c->st == C_CLOSED)
			return;
	}
	if (c->st == C_READY) {
		client_process(c);
		if (c->st == C_CLOSED)
			return;
	}
	if (c->st == C_RELAY && c->in.len) {
		q_put(&c->d->out, q_data(&c->in), c->in.len);
		q_eat(&c->in, c->in.len);
	}
	if (c->d && c->d->fd >= 0 && !c->d->connecting && wr(c->d->fd, NULL, &c->d->out) < 0) {
		client_close(c);
		return;
	}
	if (c->st == C_RELAY && c->d && c->d->in.len) { /* the server spoke while the token was checked */
		q_put(&c->out, q_data(&c->d->in), c->d->in.len);
		q_eat(&c->d->in, c->d->in.len);
	}
	if (wr(c->fd, c->ssl, &c->out) < 0) {
		client_close(c);
		return;
	}
	q_trim(&c->out);
	if (!c->b)
		q_trim(&c->in);
	client_events(c);
	direct_events(c);
}

static void on_accept(struct loop *l, int fd, uint32_t ev, void *ud)
{
	(void)ev;
	struct pgproxy_listener *L = ud;
	/* one connection per readiness event: the listener is level-triggered, so
	 * more pending ones come with the next epoll_wait (which runs anyway)
	 * rather than through an accept that ends in EAGAIN every time */
	int cfd = fwd_accept(fd);
	if (cfd < 0)
		return;
	struct client *c = calloc(1, sizeof *c);
	if (!c || loop_add_fd(l, cfd, EPOLLIN, on_client, c) < 0) {
		free(c);
		close(cfd);
		return;
	}
	c->l = L;
	c->fd = cfd;
	c->st = C_STARTUP;
	c->id = ++P.next_id;
	c->next = L->clients;
	if (L->clients)
		L->clients->prev = c;
	L->clients = c;
	/* a client sends its first packet with the connection: read it now,
	 * not after another epoll_wait (EAGAIN costs one recv) */
	on_client(l, cfd, EPOLLIN, c);
}

struct pgproxy_listener *pgproxy_listen(const char *addr, int port, const char *dns, const char *account,
                                        const char *region, const char *kind, const char *owner, struct emu_err *err)
{
	if (!P.loop) {
		emu_err_set(err, ERR_INTERNAL, "the proxy front-end is not initialised");
		return NULL;
	}
	int fd = fwd_listen_socket(addr, port, err);
	if (fd < 0)
		return NULL;
	struct pgproxy_listener *L = calloc(1, sizeof *L);
	if (!L || loop_add_fd(P.loop, fd, EPOLLIN, on_accept, L) < 0) {
		free(L);
		close(fd);
		emu_err_set(err, ERR_INTERNAL, "out of memory");
		return NULL;
	}
	L->fd = fd;
	L->port = port;
	snprintf(L->addr, sizeof L->addr, "%s", addr);
	snprintf(L->account, sizeof L->account, "%s", account);
	snprintf(L->region, sizeof L->region, "%s", region);
	snprintf(L->kind, sizeof L->kind, "%s", kind);
	snprintf(L->owner, sizeof L->owner, "%s", owner);
	snprintf(L->dns, sizeof L->dns, "%s", dns && *dns ? dns : "localhost");
	L->direct = strcmp(kind, "instance") == 0 || strcmp(kind, "cluster") == 0 || strcmp(kind, "cluster-ro") == 0;
	L->next = P.listeners;
	P.listeners = L;
	return L;
}

void pgproxy_close(struct pgproxy_listener *L)
{
	if (!L)
		return;
	while (L->clients)
		client_close(L->clients);
	for (struct pgproxy_listener **pl = &P.listeners; *pl; pl = &(*pl)->next)
		if (*pl == L) {
			*pl = L->next;
			break;
		}
	loop_del_fd(P.loop, L->fd);
	close(L->fd);
	pcfg_put(L->cfg);
	free(L);
}

void pgproxy_topology_changed(void)
{
	topology_gen++;
}

void pgproxy_shutdown(void)
{
	rds_set_target_health_hook(NULL, NULL);
	if (P.sweep_timer)
		loop_del_timer(P.loop, P.sweep_timer);
	P.sweep_timer = 0;
	for (int i = 0; i < VCACHE; i++) {
		scram_verifier_wipe(&vcache[i].v);
		vcache[i].key[0] = '\0';
	}
	for (int i = 0; i < SCACHE; i++)
		scache_wipe(&scache[i]);
	scram_client_forget();
	while (P.pools) {
		struct pool *p = P.pools;
		P.pools = p->next;
		while (p->all)
			backend_free(p->all);
		json_decref(p->params);
		if (p->retry_timer)
			loop_del_timer(P.loop, p->retry_timer);
		OPENSSL_cleanse(p->secret_pw, sizeof p->secret_pw);
		free(p);
	}
	reap(NULL, NULL);
}

/* Gauges computed from the pools; counters from pstat. */
static json_t *proxy_metrics(const struct pstat *st)
{
	long long dbconns = 0, borrowed = 0, pinned = 0, in_txn = 0, max = 0;
	for (struct pool *p = P.pools; p; p = p->next) {
		if (strcmp(p->proxy_id, st->proxy_id) != 0)
			continue;
		max += p->max;
		for (struct backend *b = p->all; b; b = b->next) {
			dbconns++;
			if (b->c) {
				borrowed++;
				pinned += b->c->pinned;
				in_txn += b->c->replies > 0;
			}
		}
	}
	return json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
	                 "s:I}",
	                 "ProxyName", st->name, "ProxyId", st->proxy_id, "ClientConnections", st->conns,
	                 "ClientConnectionsTLS", st->conns_tls, "ClientConnectionsNoTLS", st->conns_notls,
	                 "ClientConnectionsReceived", st->received, "ClientConnectionsSetupSucceeded", st->setup_ok,
	                 "ClientConnectionsSetupFailedAuth", st->setup_failed_auth, "ClientConnectionsClosed", st->closed,
	                 "DatabaseConnections", dbconns, "DatabaseConnectionRequests", st->db_requests,
	                 "DatabaseConnectionsSetupSucceeded", st->db_ok, "DatabaseConnectionsSetupFailed", st->db_failed,
	                 "DatabaseConnectionsCurrentlyBorrowed", borrowed, "DatabaseConnectionsCurrentlySessionPinned",
	                 pinned, "DatabaseConnectionsCurrentlyInTransaction", in_txn, "MaxDatabaseConnectionsAllowed", max,
	                 "QueryRequests", st->queries, "QueryRequestsTLS", st->queries_tls, "QueryRequestsNoTLS",
	                 st->queries_notls);
}

char *pgproxy_metrics(const char *format)
{
	json_t *all = json_array();
	for (int i = 0; i < P.nstats; i++)
		json_array_append_new(all, proxy_metrics(&P.stats[i]));
	char *out = NULL;
	if (strcmp(format, "json") == 0) {
		json_t *o = json_pack("{s:o}", "Proxies", all);
		out = o ? json_dumps(o, JSON_COMPACT) : NULL;
		json_decref(o);
		return out;
	}
	struct buf b;
	buf_init(&b, 1 << 22);
	size_t i;
	json_t *m;
	json_array_foreach(all, i, m) {
		const char *k;
		json_t *v;
		json_object_foreach(m, k, v) if (json_is_integer(v))
			buf_printf(&b, "rds_proxy_%s{ProxyName=\"%s\"} %lld\n", k,
			           json_string_value(json_object_get(m, "ProxyName")), (long long)json_integer_value(v));
	}
	json_decref(all);
	out = b.failed ? NULL : buf_steal(&b, NULL);
	buf_free(&b);
	return out ? out : util_strdup("");
}
