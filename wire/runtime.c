/*
 * runtime.c owns the live side of RDS resources: which database servers
 * run for which instance, their roles (primary / streaming standby), the
 * endpoint listeners, and the statuses the servers imply (contract in
 * runtime.h).
 * May call: emu/store (reads rows), emu/rds (status setters, hooks),
 * emu/dbsup, emu/engines, emu/util, emu/log, wire/forward.
 * Invariants: one srv record per server the supervisor knows of, one lst
 * record per open listener; a record whose resource is gone from the store
 * is wound down (server stopped, data removed; listener closed) by the next
 * sync; the loop is never blocked except in runtime_shutdown.
 *
 * Naming: a server's id is "s" + 16 hex of SHA-256(account/region/
 * DbiResourceId/slot), so a deleted and re-created instance of the same
 * name never meets its predecessor's data.  Slot "a" is an instance's own
 * server, slot "b" the standby of a Multi-AZ PostgreSQL instance; after a
 * forced failover "b" is the primary and "a" the standby (which one is
 * primary is kept in memory and, across restarts, read from the data
 * directories: the primary is the one without standby.signal).
 *
 * Choices: MariaDB has no standby here (Multi-AZ MariaDB instances run one
 * server and a forced failover restarts it); Aurora MySQL readers share the
 * writer's server (Aurora's instances share one storage volume), so reads
 * through a reader see the writer's data and writes through a reader are
 * not refused.  max_connections follows RDS's formula from the instance
 * class's memory (DBInstanceClassMemory/9531392 for PostgreSQL,
 * /12582880 for MySQL), capped at 500 to fit a developer machine.
 * An instance tagged rdsemu:backend=HOST:PORT runs no server: its endpoint
 * relays to that existing server (e.g. a container of docker/compose.yaml),
 * and the master credentials are taken to be that server's.
 */
#include "wire/runtime.h"

#include "emu/clock.h"
#include "emu/dbsup.h"
#include "emu/fixtures.h"
#include "emu/engines.h"
#include "emu/err.h"
#include "emu/log.h"
#include "emu/loop.h"
#include "emu/rds.h"
#include "emu/rds_endpoint.h"
#include "emu/store.h"
#include "emu/util.h"
#include "wire/forward.h"
#include "wire/pgproxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define ID_CAP 24
#define KEY_CAP 160

enum role { ROLE_PRIMARY, ROLE_STANDBY };

struct srv {
	struct srv *next;
	char id[ID_CAP];
	char inst[KEY_CAP];        /* account/region/instance (for logs) */
	enum dbsup_engine engine;
	bool started;              /* dbsup_start called and not yet forgotten */
	enum dbsup_state state;
	char following[ID_CAP];    /* the primary it was started/rebuilt to follow; "" = primary */
	bool promoting, rebuilding, restart, mark;
	char *known_pw;            /* the master password the server has (NULL: unknown) */
	char *pending_pw;          /* being set by an admin statement */
};

struct inst {
	struct inst *next;
	char account[16], region[32], id[64], cluster[64];
	bool external;
	struct fwd_backend ext;
	char ext_tag[160];         /* the rdsemu:backend value ext was resolved from */
	int max_conn;              /* the server's max_connections (0 = its default, 100) */
	bool pg;                   /* a PostgreSQL server: its endpoint checks IAM logins (wire/pgproxy.c) */
	char srv[2][ID_CAP];       /* slot a, slot b ("" = none) */
	int active;                /* slot of the primary */
	bool active_known, failover, reboot, mark;
	bool aurora_mysql_reader;  /* relays to the writer's server */
};

struct lst {
	struct lst *next;
	char kind[16], account[16], region[32], owner[64], addr[64], dns[256];
	int port;
	unsigned rr;               /* reader round robin */
	struct fwd_listener *f;
	struct pgproxy_listener *pg; /* proxy endpoints (PostgreSQL family) */
	bool mark, warned;
};

static struct {
	struct loop *loop;
	struct store *store;
	char root[512];
	bool up, dirty;
	bool servers;              /* the supervisor runs servers (else external instances only) */
	bool proxies;              /* proxy endpoints listen (the PostgreSQL front-end is set up) */
	bool all_up;               /* every instance available at the last sync */
	long long since_ms;        /* when some instance was last seen not available */
	struct srv *srvs;
	struct inst *insts;
	struct lst *lsts;
} R;

/* ---- records ------------------------------------------------------------------ */

static struct srv *srv_find(const char *id)
{
	for (struct srv *v = R.srvs; v; v = v->next)
		if (strcmp(v->id, id) == 0)
			return v;
	return NULL;
}

static struct inst *inst_find(const char *account, const char *region, const char *id)
{
	for (struct inst *i = R.insts; i; i = i->next)
		if (strcmp(i->account, account) == 0 && strcmp(i->region, region) == 0 && strcmp(i->id, id) == 0)
			return i;
	return NULL;
}

static void server_id(const char *account, const char *region, const char *resid, char slot, char out[ID_CAP])
{
	char buf[256], hex[65];
	int n = snprintf(buf, sizeof buf, "%s/%s/%s/%c", account, region, resid, slot);
	util_sha256_hex(buf, n > 0 ? (size_t)n : 0, hex);
	snprintf(out, ID_CAP, "s%.16s", hex);
}

/* From the data directory alone (servers not started yet): 1 standby,
 * 0 primary, -1 no data. */
static int disk_standby(const char *id)
{
	char p[700];
	struct stat st;
	snprintf(p, sizeof p, "%s/%s/standby.signal", R.root, id);
	if (stat(p, &st) == 0)
		return 1;
	snprintf(p, sizeof p, "%s/%s/PG_VERSION", R.root, id);
	return stat(p, &st) == 0 ? 0 : -1;
}

/* A running server that can take writes (or reads, for a standby). */
static bool srv_ready(const struct srv *v)
{
	return v && v->started && v->state == DBSUP_RUNNING && !v->promoting && !v->rebuilding && !v->restart;
}

static bool srv_is_primary(const struct srv *v)
{
	return srv_ready(v) && dbsup_is_standby(v->id) == 0;
}

/* ---- supervisor callbacks --------------------------------------------------------- */

static void on_state(void *ud, const char *id, enum dbsup_state s, const char *message)
{
	(void)ud;
	struct srv *v = srv_find(id);
	if (!v)
		return;
	v->state = s;
	if (s == DBSUP_RUNNING) {
		v->promoting = false;
		v->rebuilding = false;
	}
	if (s == DBSUP_FAILED)
		log_warn("runtime", "%s (%s): server failed: %.300s", v->inst, id, message ? message : "");
	R.dirty = true;
}

/* Removes a stopped server's data directory and files. */
static void srv_destroy_files(const char *id)
{
	char p[700];
	snprintf(p, sizeof p, "%s/%s", R.root, id);
	util_remove_tree(p);
	snprintf(p, sizeof p, "%s/%s.log", R.root, id);
	remove(p);
	snprintf(p, sizeof p, "%s/%s.done", R.root, id);
	remove(p);
}

/* ---- reconciling servers ------------------------------------------------------------ */

struct want {
	const char *account, *region, *inst;
	enum dbsup_engine engine;
	const char *user, *password, *db;
	const char *setup_sql; /* fixtures' InitSQL, statements joined */
	int max_conn;
};

/* A JSON list of SQL statements as one script; NULL when none. */
static char *join_sql(const char *list)
{
	json_t *a = list ? json_loads(list, 0, NULL) : NULL;
	size_t n = 1, i;
	json_t *v;
	json_array_foreach(a, i, v) n += strlen(json_string_value(v) ? json_string_value(v) : "") + 2;
	char *out = json_array_size(a) ? malloc(n) : NULL;
	if (out) {
		out[0] = '\0';
		json_array_foreach(a, i, v) {
			strcat(out, json_string_value(v) ? json_string_value(v) : "");
			strcat(out, ";\n");
		}
	}
	json_decref(a);
	return out;
}

static int max_connections(const char *cls, bool pg)
{
	/* GiB of memory by size, for the burstable/general families (memory-optimised: twice) */
	static const struct {
		const char *size;
		int gib;
	} sizes[] = {{"micro", 1}, {"small", 2}, {"medium", 4}, {"large", 8}, {"xlarge", 16}, {"2xlarge", 32}};
	const char *dot = cls ? strrchr(cls, '.') : NULL;
	if (!dot)
		return 0;
	long long gib = 0;
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
		if (strcmp(dot + 1, sizes[i].size) == 0)
			gib = sizes[i].gib;
	if (strncmp(cls, "db.r", 4) == 0 || strncmp(cls, "db.x", 4) == 0)
		gib *= 2;
	if (gib == 0)
		return 0;
	long long n = gib * 1073741824LL / (pg ? 9531392 : 12582880);
	return (int)(n > 500 ? 500 : n);
}

static void set_str(char **dst, const char *v)
{
	if (*dst) {
		OPENSSL_cleanse(*dst, strlen(*dst));
		free(*dst);
	}
	*dst = v ? util_strdup(v) : NULL;
}

static void on_password_set(void *ud, const char *id, int ok)
{
	(void)ud;
	struct srv *v = srv_find(id);
	if (!v)
		return;
	if (ok) {
		set_str(&v->known_pw, v->pending_pw);
		log_info("runtime", "%s: master password changed on %s", v->inst, id);
	}
	set_str(&v->pending_pw, NULL);
	R.dirty = true;
}

/* SQL literal: quotes doubled (and backslashes for MariaDB). */
static void sql_lit(char *out, size_t cap, const char *v, bool backslash)
{
	size_t o = 0;
	for (; *v && o + 3 < cap; v++) {
		if (*v == '\'' || (backslash && *v == '\\'))
			out[o++] = *v;
		out[o++] = *v;
	}
	out[o] = '\0';
}

/* ModifyDBInstance MasterUserPassword (or a rotated managed secret) on a
 * live primary: ALTER USER with the password the server still has. */
static void apply_password(struct srv *v, const struct want *w)
{
	if (!v->known_pw || v->pending_pw || !w->password || strcmp(v->known_pw, w->password) == 0)
		return;
	char lit[2100], sql[4400];
	bool pg = w->engine == DBSUP_POSTGRES;
	sql_lit(lit, sizeof lit, w->password, !pg);
	if (pg)
		snprintf(sql, sizeof sql, "ALTER USER \"%s\" PASSWORD '%s';\n", w->user, lit);
	else
		snprintf(sql, sizeof sql,
		         "ALTER USER '%s'@'%%' IDENTIFIED BY '%s';\nALTER USER 'root'@'localhost' IDENTIFIED BY '%s';\n",
		         w->user, lit, lit);
	struct emu_err err;
	emu_err_clear(&err);
	set_str(&v->pending_pw, w->password);
	if (dbsup_admin_sql(v->id, v->known_pw, sql, on_password_set, NULL, &err) < 0) {
		log_warn("runtime", "%s: cannot change the master password: %s", v->inst, err.msg);
		set_str(&v->pending_pw, NULL);
	}
	OPENSSL_cleanse(sql, sizeof sql);
	OPENSSL_cleanse(lit, sizeof lit);
}

/* Ensures server id runs in role (following `primary` for a standby). */
static void ensure_server(const struct want *w, const char *id, enum role role, const char *primary)
{
	struct srv *v = srv_find(id);
	if (!v) {
		v = calloc(1, sizeof *v);
		if (!v)
			return;
		snprintf(v->id, sizeof v->id, "%s", id);
		snprintf(v->inst, sizeof v->inst, "%s/%s/%s", w->account, w->region, w->inst);
		v->engine = w->engine;
		v->next = R.srvs;
		R.srvs = v;
	}
	v->mark = true;
	struct srv *p = primary ? srv_find(primary) : NULL;
	struct emu_err err;
	emu_err_clear(&err);
	if (!v->started) {
		char path[700];
		struct stat st;
		snprintf(path, sizeof path, "%s/%s", R.root, id);
		bool exists = stat(path, &st) == 0;
		if (role == ROLE_STANDBY && !exists && !srv_is_primary(p))
			return; /* a new standby waits for its primary */
		struct dbsup_spec spec = {.engine = w->engine, .id = id, .data_root = R.root, .listen_addr = "",
		                          .port = w->engine == DBSUP_POSTGRES ? 5432 : 3306,
		                          .master_user = w->user, .master_password = w->password,
		                          .db_name = w->db, .max_connections = w->max_conn,
		                          .primary_id = role == ROLE_STANDBY && !exists ? primary : NULL,
		                          .setup_sql = role == ROLE_PRIMARY ? w->setup_sql : NULL};
		v->started = true;
		v->state = DBSUP_STARTING;
		set_str(&v->known_pw, w->password);
		snprintf(v->following, sizeof v->following, "%s", role == ROLE_STANDBY ? primary : "");
		log_info("runtime", "%s: starting %s server %s%s%s", v->inst,
		         w->engine == DBSUP_POSTGRES ? "PostgreSQL" : "MariaDB", id,
		         role == ROLE_STANDBY ? " as a standby of " : "", role == ROLE_STANDBY ? primary : "");
		if (dbsup_start(&spec, on_state, NULL, &err) < 0) {
			log_warn("runtime", "%s: cannot start server %s: %s", v->inst, id, err.msg);
			v->state = DBSUP_FAILED;
		}
		return;
	}
	if (v->restart && (v->state == DBSUP_STOPPED || v->state == DBSUP_FAILED)) {
		dbsup_forget(id);
		v->started = false;
		v->restart = false;
		R.dirty = true;
		return;
	}
	if (v->state != DBSUP_RUNNING || v->promoting || v->rebuilding || v->restart)
		return;
	if (w->engine != DBSUP_POSTGRES) {
		apply_password(v, w);
		return;
	}
	int standby = dbsup_is_standby(id);
	if (role == ROLE_PRIMARY && standby == 0)
		apply_password(v, w);
	else if (role == ROLE_STANDBY)
		set_str(&v->known_pw, w->password); /* replicated from the primary */
	if (role == ROLE_PRIMARY && standby == 1) {
		log_info("runtime", "%s: promoting %s", v->inst, id);
		if (dbsup_promote(id, &err) < 0)
			log_warn("runtime", "%s: promote %s failed: %s", v->inst, id, err.msg);
		else
			v->promoting = true;
		pgproxy_topology_changed();
	} else if (role == ROLE_STANDBY && (standby == 0 || strcmp(v->following, primary) != 0) && srv_is_primary(p)) {
		struct dbsup_spec spec = {.engine = w->engine, .id = id, .data_root = R.root, .listen_addr = "",
		                          .port = 5432, .master_user = w->user, .master_password = w->password,
		                          .db_name = w->db, .max_connections = w->max_conn, .primary_id = primary};
		log_info("runtime", "%s: rebuilding %s as a standby of %s", v->inst, id, primary);
		if (dbsup_rebuild_as_replica(&spec, on_state, NULL, &err) < 0) {
			log_warn("runtime", "%s: rebuild of %s failed: %s", v->inst, id, err.msg);
		} else {
			v->rebuilding = true;
			v->state = DBSUP_STARTING;
			snprintf(v->following, sizeof v->following, "%s", primary);
		}
	}
}

/* The AWS status an instance's servers imply, or NULL for "leave it". */
static const char *implied_status(const struct inst *i, const char *current)
{
	if (i->external || i->aurora_mysql_reader)
		return "available";
	struct srv *p = srv_find(i->srv[i->active]);
	if (p && p->started && p->state == DBSUP_FAILED) {
		const char *s = dbsup_aws_status(p->id);
		return s ? s : "failed";
	}
	bool pg = p && p->engine == DBSUP_POSTGRES;
	bool up = pg ? srv_is_primary(p) : srv_ready(p);
	if (i->cluster[0] && pg && !up && srv_ready(p) && dbsup_is_standby(p->id) == 1)
		up = true; /* a reader: a running standby is what it should be */
	if (!up)
		return NULL;
	if (strcmp(current, "creating") == 0 || strcmp(current, "rebooting") == 0 || strcmp(current, "modifying") == 0 ||
	    strcmp(current, "failed") == 0 || strcmp(current, "incompatible-parameters") == 0)
		return "available";
	return NULL;
}

static struct srv *inst_primary(const struct inst *i)
{
	return i ? srv_find(i->srv[i->active]) : NULL;
}

/* Reads clusters: fills each member's role.  Returns a JSON object
 * "account/region/cluster" -> {writer, readers[], status, pw, user, db}. */
static json_t *load_clusters(void)
{
	json_t *all = json_object();
	sqlite3_stmt *st = store_prep(R.store, "SELECT account, region, id, doc, master_password FROM rds_clusters");
	if (!st)
		return all;
	while (sqlite3_step(st) == SQLITE_ROW) {
		json_t *doc = json_loads(store_col_text(st, 3) ? store_col_text(st, 3) : "", 0, NULL);
		if (!doc)
			continue;
		char key[KEY_CAP];
		snprintf(key, sizeof key, "%s/%s/%s", store_col_text(st, 0), store_col_text(st, 1), store_col_text(st, 2));
		json_t *c = json_pack("{s:s?, s:s?, s:s?, s:s?, s:s?, s:[]}", "status",
		                      json_string_value(json_object_get(doc, "Status")), "engine",
		                      json_string_value(json_object_get(doc, "Engine")), "user",
		                      json_string_value(json_object_get(doc, "MasterUsername")), "db",
		                      json_string_value(json_object_get(doc, "DatabaseName")), "pw", store_col_text(st, 4),
		                      "readers");
		size_t k;
		json_t *m;
		json_array_foreach(json_object_get(doc, "DBClusterMembers"), k, m) {
			const char *mid = json_string_value(json_object_get(m, "DBInstanceIdentifier"));
			if (!mid)
				continue;
			if (json_is_true(json_object_get(m, "IsClusterWriter")))
				json_object_set_new(c, "writer", json_string(mid));
			else
				json_array_append_new(json_object_get(c, "readers"), json_string(mid));
		}
		json_object_set_new(all, key, c);
		json_decref(doc);
	}
	sqlite3_reset(st);
	return all;
}

/* rdsemu:backend=HOST:PORT; a host name (a compose service) is resolved
 * once per tag value, not per sync. */
static bool parse_backend_tag(json_t *doc, struct fwd_backend *b, char *seen, size_t seen_cap)
{
	size_t k;
	json_t *t;
	json_array_foreach(json_object_get(doc, "TagList"), k, t) {
		const char *key = json_string_value(json_object_get(t, "Key"));
		const char *v = json_string_value(json_object_get(t, "Value"));
		if (!key || strcmp(key, "rdsemu:backend") != 0 || !v)
			continue;
		if (strcmp(seen, v) == 0 && b->port > 0)
			return true;
		const char *colon = strrchr(v, ':');
		memset(b, 0, sizeof *b);
		snprintf(seen, seen_cap, "%s", v);
		char host[256];
		if (!colon || colon == v || (size_t)(colon - v) >= sizeof host)
			return false;
		memcpy(host, v, (size_t)(colon - v));
		host[colon - v] = '\0';
		struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *ai = NULL;
		if (getaddrinfo(host, NULL, &hints, &ai) != 0 || !ai) {
			log_warn("runtime", "rdsemu:backend %.200s: cannot resolve %s", v, host);
			return false;
		}
		inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)ai->ai_addr)->sin_addr, b->host, sizeof b->host);
		freeaddrinfo(ai);
		b->port = atoi(colon + 1);
		return b->port > 0 && b->port <= 65535;
	}
	return false;
}

static void set_instance_status(struct inst *i, const char *status)
{
	struct emu_err err;
	emu_err_clear(&err);
	if (rds_instance_set_status(R.store, i->account, i->region, i->id, status, &err) < 0)
		log_warn("runtime", "%s/%s: cannot set status: %s", i->region, i->id, err.msg);
	else
		log_info("runtime", "%s/%s/%s: %s", i->account, i->region, i->id, status);
}

static void sync_instances(json_t *clusters)
{
	sqlite3_stmt *st = store_prep(R.store, "SELECT account, region, id, doc, master_password, init_sql "
	                                       "FROM rds_instances");
	if (!st)
		return;
	json_t *rows = json_array();
	while (sqlite3_step(st) == SQLITE_ROW) {
		json_t *doc = json_loads(store_col_text(st, 3) ? store_col_text(st, 3) : "", 0, NULL);
		if (doc)
			json_array_append_new(rows, json_pack("{s:s, s:s, s:s, s:o, s:s?, s:s?}", "a", store_col_text(st, 0),
			                                      "r", store_col_text(st, 1), "i", store_col_text(st, 2), "doc",
			                                      doc, "pw", store_col_text(st, 4), "init", store_col_text(st, 5)));
	}
	sqlite3_reset(st);
	/* Writers first, so their readers find a running primary in the same pass. */
	for (int pass = 0; pass < 2; pass++) {
		size_t k;
		json_t *row;
		json_array_foreach(rows, k, row) {
			const char *account = json_string_value(json_object_get(row, "a"));
			const char *region = json_string_value(json_object_get(row, "r"));
			const char *id = json_string_value(json_object_get(row, "i"));
			json_t *doc = json_object_get(row, "doc");
			const char *engine = json_string_value(json_object_get(doc, "Engine"));
			const char *status = json_string_value(json_object_get(doc, "DBInstanceStatus"));
			const char *cl = json_string_value(json_object_get(doc, "DBClusterIdentifier"));
			const char *resid = json_string_value(json_object_get(doc, "DbiResourceId"));
			const struct engine_info *eng = engines_find(engine ? engine : "");
			char ckey[KEY_CAP];
			snprintf(ckey, sizeof ckey, "%s/%s/%s", account, region, cl ? cl : "");
			json_t *c = cl ? json_object_get(clusters, ckey) : NULL;
			const char *writer = json_string_value(json_object_get(c, "writer"));
			bool is_reader = c && !(writer && strcmp(writer, id) == 0);
			if ((pass == 0) == is_reader)
				continue;
			if (!eng || eng->server == ENGINE_SERVER_NONE || !resid || !status || strcmp(status, "deleting") == 0)
				continue;
			struct inst *i = inst_find(account, region, id);
			if (!i) {
				i = calloc(1, sizeof *i);
				if (!i)
					continue;
				snprintf(i->account, sizeof i->account, "%s", account);
				snprintf(i->region, sizeof i->region, "%s", region);
				snprintf(i->id, sizeof i->id, "%s", id);
				i->next = R.insts;
				R.insts = i;
			}
			i->mark = true;
			snprintf(i->cluster, sizeof i->cluster, "%s", cl ? cl : "");
			i->external = parse_backend_tag(doc, &i->ext, i->ext_tag, sizeof i->ext_tag);
			bool pg = eng->server == ENGINE_SERVER_POSTGRES;
			i->pg = pg;
			i->aurora_mysql_reader = is_reader && !pg;
			server_id(account, region, resid, 'a', i->srv[0]);
			bool multi = pg && !c && json_is_true(json_object_get(doc, "MultiAZ"));
			if (multi)
				server_id(account, region, resid, 'b', i->srv[1]);
			else
				i->srv[1][0] = '\0';
			if (!multi)
				i->active = 0;
			else if (!i->active_known) /* after a restart: the slot without standby.signal */
				i->active = disk_standby(i->srv[0]) == 1 && disk_standby(i->srv[1]) == 0 ? 1 : 0;
			i->active_known = true;
			if (i->failover && multi) {
				struct srv *other = srv_find(i->srv[1 - i->active]);
				if (srv_ready(other)) {
					i->active = 1 - i->active;
					pgproxy_topology_changed();
					log_info("runtime", "%s/%s: failing over to %s", region, id, i->srv[i->active]);
				}
			}
			i->failover = false;
			if (i->reboot) {
				for (int s = 0; s < 2; s++) {
					struct srv *v = srv_find(i->srv[s]);
					if (v && v->started && v->state == DBSUP_RUNNING && !v->restart) {
						struct emu_err err;
						v->restart = dbsup_stop(v->id, &err) == 0;
					}
				}
				i->reboot = false;
			}
			if (!R.servers && !i->external)
				continue; /* control plane only */
			if (i->external || i->aurora_mysql_reader) {
				const char *want = implied_status(i, status);
				if (want && strcmp(want, status) != 0)
					set_instance_status(i, want);
				continue;
			}
			struct want w = {.account = account, .region = region, .inst = id,
			                 .engine = pg ? DBSUP_POSTGRES : DBSUP_MARIADB,
			                 .user = json_string_value(json_object_get(doc, "MasterUsername")),
			                 .password = json_string_value(json_object_get(row, "pw")),
			                 .db = json_string_value(json_object_get(doc, "DBName")),
			                 .max_conn = max_connections(json_string_value(json_object_get(doc, "DBInstanceClass")), pg)};
			if (c) {
				w.password = json_string_value(json_object_get(c, "pw"));
				w.user = json_string_value(json_object_get(c, "user"));
				w.db = json_string_value(json_object_get(c, "db"));
			}
			i->max_conn = w.max_conn ? w.max_conn : 100;
			if (!w.user || !w.password)
				continue;
			char *setup = join_sql(json_string_value(json_object_get(row, "init")));
			w.setup_sql = setup;
			if (is_reader) {
				struct inst *wi = writer ? inst_find(account, region, writer) : NULL;
				if (wi && pg)
					ensure_server(&w, i->srv[0], ROLE_STANDBY, wi->srv[wi->active]);
			} else {
				ensure_server(&w, i->srv[i->active], ROLE_PRIMARY, NULL);
				if (multi)
					ensure_server(&w, i->srv[1 - i->active], ROLE_STANDBY, i->srv[i->active]);
			}
			if (setup)
				OPENSSL_cleanse(setup, strlen(setup));
			free(setup);
			const char *want = implied_status(i, status);
			if (want && strcmp(want, status) != 0)
				set_instance_status(i, want);
		}
	}
	json_decref(rows);
}

/* Logs once each time every DB instance has become available: how long it
 * took, and the fixtures' "connect" lines (how to reach each pattern). */
static void announce(void)
{
	sqlite3_stmt *st = store_prep(R.store, "SELECT count(*), coalesce(sum(json_extract(doc, "
	                                       "'$.DBInstanceStatus') = 'available'), 0) FROM rds_instances");
	if (!st)
		return;
	long long n = 0, up = 0;
	if (sqlite3_step(st) == SQLITE_ROW) {
		n = sqlite3_column_int64(st, 0);
		up = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	bool all = n > 0 && up == n;
	if (!all) {
		if (R.all_up || n == 0) /* counting from when something was first missing */
			R.since_ms = clock_mono_ms();
		R.all_up = false;
		return;
	}
	if (R.all_up)
		return;
	R.all_up = true;
	log_info("runtime", "all %lld DB instances available in %lld ms", n, clock_mono_ms() - R.since_ms);
	size_t i;
	json_t *line;
	json_array_foreach(fixtures_connect_notes(), i, line) {
		if (i == 0)
			printf("\nHow to connect (fixtures' \"connect\" notes):\n");
		printf("  %s\n", json_string_value(line));
	}
	fflush(stdout);
}

/* Failing-over clusters become available once the new writer takes writes. */
static void sync_clusters(json_t *clusters)
{
	const char *key;
	json_t *c;
	json_object_foreach(clusters, key, c) {
		const char *status = json_string_value(json_object_get(c, "status"));
		const char *writer = json_string_value(json_object_get(c, "writer"));
		if (!status || strcmp(status, "failing-over") != 0 || !writer)
			continue;
		char account[16], region[32], id[64];
		if (sscanf(key, "%15[^/]/%31[^/]/%63s", account, region, id) != 3)
			continue;
		struct inst *wi = inst_find(account, region, writer);
		struct srv *p = inst_primary(wi);
		bool up = wi && (wi->external || (p && (p->engine == DBSUP_POSTGRES ? srv_is_primary(p) : srv_ready(p))));
		if (!up)
			continue;
		struct emu_err err;
		emu_err_clear(&err);
		if (rds_cluster_set_status(R.store, account, region, id, "available", &err) < 0)
			log_warn("runtime", "cluster %s: cannot set status: %s", id, err.msg);
		else
			log_info("runtime", "cluster %s/%s: failover done, writer %s", region, id, writer);
	}
}

/* Servers and instances the store no longer has are wound down. */
static void sweep(void)
{
	for (struct inst **pi = &R.insts; *pi;) {
		struct inst *i = *pi;
		if (!i->mark) {
			*pi = i->next;
			free(i);
		} else {
			i->mark = false;
			pi = &i->next;
		}
	}
	for (struct srv **pv = &R.srvs; *pv;) {
		struct srv *v = *pv;
		if (v->mark) {
			v->mark = false;
			pv = &v->next;
			continue;
		}
		if (v->started && (v->state == DBSUP_STARTING || v->state == DBSUP_RUNNING)) {
			struct emu_err err;
			if (dbsup_stop(v->id, &err) == 0)
				v->state = DBSUP_STOPPING;
		}
		if (v->started && v->state == DBSUP_STOPPING) {
			pv = &v->next;
			continue;
		}
		if (v->started)
			dbsup_forget(v->id);
		srv_destroy_files(v->id);
		log_info("runtime", "%s: server %s removed with its data", v->inst, v->id);
		*pv = v->next;
		set_str(&v->known_pw, NULL);
		set_str(&v->pending_pw, NULL);
		free(v);
	}
}

/* ---- listeners ------------------------------------------------------------------------ */

static int socket_of(const struct srv *v, struct fwd_backend *out)
{
	memset(out, 0, sizeof *out);
	return v && dbsup_socket_path(v->id, out->path, sizeof out->path) == 0 ? 0 : -1;
}

/* The backend for an instance's endpoint. */
static int resolve_instance(struct inst *i, struct fwd_backend *out)
{
	if (!i)
		return -1;
	if (i->external) {
		*out = i->ext;
		return 0;
	}
	if (i->aurora_mysql_reader) {
		for (struct inst *w = R.insts; w; w = w->next)
			if (w != i && strcmp(w->cluster, i->cluster) == 0 && !w->aurora_mysql_reader &&
			    strcmp(w->account, i->account) == 0 && strcmp(w->region, i->region) == 0)
				return resolve_instance(w, out);
		return -1;
	}
	struct srv *p = inst_primary(i);
	if (!srv_ready(p))
		return -1;
	return socket_of(p, out);
}

/* A cluster's writer (only once it is a primary: never a standby still
 * being promoted) or, for ro, one of its ready readers in round robin
 * (the writer when none is).  instance (may be NULL) gets the chosen id. */
static int resolve_cluster(const char *account, const char *region, const char *cluster, bool ro, unsigned *rr,
                           struct fwd_backend *out, char *instance)
{
	/* from the cluster row, read now (a failover just committed counts) */
	json_t *clusters = load_clusters();
	char key[KEY_CAP];
	snprintf(key, sizeof key, "%s/%s/%s", account, region, cluster);
	json_t *c = json_object_get(clusters, key);
	const char *writer = json_string_value(json_object_get(c, "writer"));
	const char *chosen = NULL;
	int rc = -1;
	if (ro) {
		json_t *readers = json_object_get(c, "readers");
		size_t n = json_array_size(readers);
		for (size_t k = 0; k < n && rc < 0; k++) {
			const char *r = json_string_value(json_array_get(readers, (*rr + k) % n));
			struct inst *ri = r ? inst_find(account, region, r) : NULL;
			if (ri && (ri->aurora_mysql_reader || srv_ready(inst_primary(ri))) && resolve_instance(ri, out) == 0) {
				rc = 0;
				chosen = r;
			}
		}
		(*rr)++;
	}
	if (rc < 0 && writer) {
		struct inst *wi = inst_find(account, region, writer);
		struct srv *p = inst_primary(wi);
		if (wi && (wi->external || (p && (p->engine != DBSUP_POSTGRES || srv_is_primary(p)))) &&
		    resolve_instance(wi, out) == 0) {
			rc = 0;
			chosen = writer;
		}
	}
	if (rc == 0 && instance)
		snprintf(instance, 64, "%s", chosen);
	json_decref(clusters);
	return rc;
}

static int resolve(void *ud, struct fwd_backend *out)
{
	struct lst *t = ud;
	if (strcmp(t->kind, RDS_EP_KIND_INSTANCE) == 0)
		return resolve_instance(inst_find(t->account, t->region, t->owner), out);
	return resolve_cluster(t->account, t->region, t->owner, strcmp(t->kind, RDS_EP_KIND_CLUSTER_RO) == 0, &t->rr, out,
	                       NULL);
}

int runtime_cluster_backend(const char *account, const char *region, const char *cluster, bool reader, unsigned *rr,
                            struct fwd_backend *out, char instance[64], int *max_conn)
{
	*max_conn = 0;
	if (resolve_cluster(account, region, cluster, reader, rr, out, instance) < 0)
		return -1;
	struct inst *i = inst_find(account, region, instance);
	*max_conn = i ? i->max_conn : 0;
	return 0;
}

int runtime_endpoint_backend(const char *kind, const char *account, const char *region, const char *owner,
                             struct fwd_backend *out)
{
	for (struct lst *t = R.lsts; t; t = t->next)
		if (strcmp(t->kind, kind) == 0 && strcmp(t->account, account) == 0 && strcmp(t->region, region) == 0 &&
		    strcmp(t->owner, owner) == 0)
			return resolve(t, out);
	return -1;
}

/* Is the cluster an Aurora PostgreSQL one (its endpoints check IAM logins)? */
static bool cluster_is_pg(const char *account, const char *region, const char *id)
{
	sqlite3_stmt *st = store_prep(R.store, "SELECT json_extract(doc, '$.Engine') FROM rds_clusters "
	                                       "WHERE account = ?1 AND region = ?2 AND id = ?3");
	if (!st)
		return false;
	store_bind_text(st, 1, account);
	store_bind_text(st, 2, region);
	store_bind_text(st, 3, id);
	bool pg = sqlite3_step(st) == SQLITE_ROW && store_col_text(st, 0) &&
	          strcmp(store_col_text(st, 0), "aurora-postgresql") == 0;
	sqlite3_reset(st);
	return pg;
}

static void sync_listeners(void)
{
	/* proxy endpoints listen when their proxy's family has a front-end (PostgreSQL) */
	sqlite3_stmt *st = store_prep(R.store, "SELECT kind, account, region, owner, addr, port, dns FROM rds_endpoints e "
	                                       "WHERE kind IN ('instance', 'cluster', 'cluster-ro') "
	                                       "OR (kind = 'proxy' AND EXISTS (SELECT 1 FROM rds_proxies p "
	                                       "WHERE p.proxy_id = e.owner AND json_extract(p.doc, '$.EngineFamily') = "
	                                       "'POSTGRESQL')) "
	                                       "OR (kind = 'proxy-endpoint' AND EXISTS (SELECT 1 FROM rds_proxy_endpoints "
	                                       "x JOIN rds_proxies p USING (proxy_id) WHERE x.arn LIKE '%:' || e.owner "
	                                       "AND json_extract(p.doc, '$.EngineFamily') = 'POSTGRESQL'))");
	if (!st)
		return;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *kind = store_col_text(st, 0), *account = store_col_text(st, 1);
		const char *region = store_col_text(st, 2), *owner = store_col_text(st, 3), *addr = store_col_text(st, 4);
		int port = sqlite3_column_int(st, 5);
		if (!kind || !account || !region || !owner || !addr)
			continue;
		struct lst *t = R.lsts;
		for (; t; t = t->next)
			if (strcmp(t->kind, kind) == 0 && strcmp(t->account, account) == 0 && strcmp(t->region, region) == 0 &&
			    strcmp(t->owner, owner) == 0 && strcmp(t->addr, addr) == 0 && t->port == port)
				break;
		if (!t) {
			t = calloc(1, sizeof *t);
			if (!t)
				continue;
			snprintf(t->kind, sizeof t->kind, "%s", kind);
			snprintf(t->account, sizeof t->account, "%s", account);
			snprintf(t->region, sizeof t->region, "%s", region);
			snprintf(t->owner, sizeof t->owner, "%s", owner);
			snprintf(t->addr, sizeof t->addr, "%s", addr);
			t->port = port;
			t->next = R.lsts;
			R.lsts = t;
		}
		t->mark = true;
		snprintf(t->dns, sizeof t->dns, "%s", store_col_text(st, 6) ? store_col_text(st, 6) : "");
	}
	sqlite3_reset(st);
	for (struct lst **pt = &R.lsts; *pt;) {
		struct lst *t = *pt;
		if (t->mark) {
			t->mark = false;
			pt = &t->next;
			continue;
		}
		fwd_close(t->f);
		pgproxy_close(t->pg);
		*pt = t->next;
		free(t);
	}
	/* open after closing: a reset and a new resource may reuse an address in one sync */
	for (struct lst *t = R.lsts; t; t = t->next) {
		bool proxy = strncmp(t->kind, "proxy", 5) == 0;
		if (t->f || t->pg || (proxy && !R.proxies))
			continue;
		struct emu_err err;
		emu_err_clear(&err);
		/* a PostgreSQL instance of our own: the endpoint checks IAM tokens for rds_iam members */
		struct inst *i = strcmp(t->kind, RDS_EP_KIND_INSTANCE) == 0 ? inst_find(t->account, t->region, t->owner) : NULL;
		bool cluster = strcmp(t->kind, RDS_EP_KIND_CLUSTER) == 0 || strcmp(t->kind, RDS_EP_KIND_CLUSTER_RO) == 0;
		bool direct = R.proxies && R.servers &&
		              ((i && i->pg && !i->external) || (cluster && cluster_is_pg(t->account, t->region, t->owner)));
		if (proxy || direct)
			t->pg = pgproxy_listen(t->addr, t->port, t->dns, t->account, t->region, t->kind, t->owner, &err);
		else
			t->f = fwd_listen(R.loop, t->addr, t->port, resolve, t, &err);
		if (t->f || t->pg)
			log_info("runtime", "%s endpoint %s/%s listening on %s:%d", t->kind, t->region, t->owner, t->addr,
			         t->port);
		else if (!t->warned)
			log_warn("runtime", "%s endpoint %s/%s: %s", t->kind, t->region, t->owner, err.msg);
		t->warned = !t->f && !t->pg;
	}
}

int runtime_instance_backend(const char *account, const char *region, const char *id, struct fwd_backend *out,
                             int *max_conn)
{
	struct inst *i = inst_find(account, region, id);
	*max_conn = 0;
	if (!i || resolve_instance(i, out) < 0)
		return -1;
	*max_conn = i->max_conn;
	return 0;
}

void runtime_enable_proxies(void)
{
	R.proxies = true;
	R.dirty = true;
}

/* ---- hooks from the RDS domain ------------------------------------------------------------ */

static void on_change(void *ctx)
{
	(void)ctx;
	R.dirty = true;
}

static int hook_start(void *ctx, const char *account, const char *region, const json_t *inst,
                      const char *master_password, struct emu_err *err)
{
	(void)ctx, (void)account, (void)region, (void)inst, (void)master_password, (void)err;
	R.dirty = true;
	return 0;
}

static void hook_stop(void *ctx, const char *account, const char *region, const char *id)
{
	(void)ctx, (void)account, (void)region, (void)id;
	R.dirty = true;
}

static void hook_reboot(void *ctx, const char *account, const char *region, const char *id, bool failover)
{
	(void)ctx;
	struct inst *i = inst_find(account, region, id);
	if (i) {
		i->reboot = !failover || !i->srv[1][0];
		i->failover = failover;
	}
	R.dirty = true;
}

/* ---- entry points ---------------------------------------------------------------------- */

int runtime_init(struct loop *l, struct store *s, const char *data_root, struct emu_err *err)
{
	size_t rl = data_root ? strlen(data_root) : 0;
	if (rl >= sizeof R.root - 64)
		return emu_err_set(err, ERR_INVALID_PARAMETER_VALUE, "database data dir path too long: %.200s", data_root);
	memset(&R, 0, sizeof R);
	R.loop = l;
	R.store = s;
	if (data_root) {
		memcpy(R.root, data_root, rl + 1);
		if (mkdir(data_root, 0755) < 0 && errno != EEXIST)
			return emu_err_set(err, ERR_INTERNAL, "cannot create %s: %s", data_root, strerror(errno));
		chmod(data_root, 0755); /* the servers' run user must traverse it */
		if (dbsup_init(l, err) < 0)
			return -1;
		R.servers = dbsup_available(DBSUP_POSTGRES) || dbsup_available(DBSUP_MARIADB);
		if (!R.servers)
			log_warn("runtime", "no PostgreSQL or MariaDB binaries: DB instances are control plane only");
	}
	static const struct rds_instance_hooks hooks = {
		.start = hook_start, .stop = hook_stop, .reboot = hook_reboot};
	if (R.servers)
		rds_set_instance_hooks(&hooks);
	rds_set_change_hook(on_change, NULL);
	R.up = true;
	R.dirty = true;
	R.since_ms = clock_mono_ms();
	return 0;
}

void runtime_sync(bool force)
{
	if (!R.up || (!R.dirty && !force))
		return;
	R.dirty = false;
	json_t *clusters = load_clusters();
	sync_instances(clusters);
	json_decref(clusters);
	clusters = load_clusters(); /* statuses may have moved */
	sync_clusters(clusters);
	json_decref(clusters);
	sweep();
	sync_listeners();
	announce();
}

void runtime_shutdown(void)
{
	if (!R.up)
		return;
	R.up = false; /* no reconciling while the loop drains the stopping servers */
	rds_set_instance_hooks(NULL);
	rds_set_change_hook(NULL, NULL);
	for (struct lst *t = R.lsts, *n; t; t = n) {
		n = t->next;
		fwd_close(t->f);
		pgproxy_close(t->pg);
		free(t);
	}
	if (R.root[0]) {
		dbsup_stop_all();
		dbsup_shutdown();
	}
	for (struct srv *v = R.srvs, *n; v; v = n) {
		n = v->next;
		set_str(&v->known_pw, NULL);
		set_str(&v->pending_pw, NULL);
		free(v);
	}
	for (struct inst *i = R.insts, *n; i; i = n) {
		n = i->next;
		free(i);
	}
	memset(&R, 0, sizeof R);
}
