/*
 * Tests for emu/dbsup.c against real servers: PostgreSQL (initdb, start,
 * libpq connect over TCP with the master credentials, clean stop, restart
 * on the same data dir, port-in-use failure; a unix-socket-only primary
 * with a streaming replica, promotion and the old primary rebuilt as a
 * replica of the new one) and MariaDB (the same through the `mariadb`
 * client binary, and unix-socket-only).  Every server started here is
 * stopped and the temp dir removed.  Engines whose binaries are missing are
 * skipped.
 */
#include "emu/dbsup.h"
#include "emu/err.h"
#include "emu/loop.h"
#include "tap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libpq-fe.h>
#include <signal.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct loop *L;
static enum dbsup_state last_state;
static char last_msg[600];
static int changes;

/* The last report per server, for tests running several at once. */
static struct seen {
	char id[16];
	enum dbsup_state s;
	char msg[600];
} seen[16];

static struct seen *seen_of(const char *id)
{
	for (size_t i = 0; i < sizeof seen / sizeof seen[0]; i++) {
		if (!seen[i].id[0])
			snprintf(seen[i].id, sizeof seen[i].id, "%s", id);
		if (strcmp(seen[i].id, id) == 0)
			return &seen[i];
	}
	return &seen[0];
}

static void on_state(void *ud, const char *id, enum dbsup_state s, const char *msg)
{
	(void)ud;
	last_state = s;
	snprintf(last_msg, sizeof last_msg, "%s", msg);
	changes++;
	struct seen *e = seen_of(id);
	e->s = s;
	snprintf(e->msg, sizeof e->msg, "%s", msg);
}

/* Runs the loop until id reports want (with a message starting with
 * msg_prefix, if given), a terminal state or the bound. */
static enum dbsup_state wait_id(const char *id, enum dbsup_state want, const char *msg_prefix, int secs)
{
	struct seen *e = seen_of(id);
	for (int i = 0; i < secs * 20; i++) {
		if (e->s == want && (!msg_prefix || strncmp(e->msg, msg_prefix, strlen(msg_prefix)) == 0))
			break;
		if (want != DBSUP_FAILED && want != DBSUP_STOPPED && (e->s == DBSUP_FAILED || e->s == DBSUP_STOPPED))
			break;
		loop_once(L, 50);
	}
	return e->s;
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Runs the loop until the state is reached or a terminal state / bound. */
static enum dbsup_state wait_for(enum dbsup_state want, int secs)
{
	for (int i = 0; i < secs * 20; i++) {
		if (last_state == want)
			break;
		if (want != DBSUP_FAILED && (last_state == DBSUP_FAILED || last_state == DBSUP_STOPPED) && changes)
			break;
		loop_once(L, 50);
	}
	return last_state;
}

/* A TCP port free right now, and a listening socket holding another. */
static int free_port(int *hold_fd)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof a;
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		return -1;
	if (hold_fd) {
		listen(fd, 1);
		*hold_fd = fd;
	} else {
		close(fd);
	}
	return ntohs(a.sin_port);
}

static struct dbsup_spec spec_of(enum dbsup_engine eng, const char *root, const char *id, int port,
				 const char *listen, const char *primary)
{
	struct dbsup_spec sp = {.engine = eng, .id = id, .data_root = root, .listen_addr = listen,
				.port = port, .master_user = "master", .master_password = "s3cr'et\\pw",
				.db_name = "appdb", .max_connections = 20, .primary_id = primary};
	return sp;
}

/* listen NULL = unix socket only; primary = follow that server. */
static int start_ex(enum dbsup_engine eng, const char *root, const char *id, int port, const char *listen,
		    const char *primary)
{
	struct emu_err err;
	struct dbsup_spec sp = spec_of(eng, root, id, port, listen, primary);
	last_state = DBSUP_STARTING;
	changes = 0;
	seen_of(id)->s = DBSUP_STARTING;
	int rc = dbsup_start(&sp, on_state, NULL, &err);
	if (rc < 0)
		printf("# dbsup_start: %s\n", err.msg);
	return rc;
}

static int start(enum dbsup_engine eng, const char *root, const char *id, int port)
{
	return start_ex(eng, root, id, port, "127.0.0.1", NULL);
}

static int stop(const char *id)
{
	struct emu_err err;
	enum dbsup_state s;
	changes = 0;
	if (dbsup_stop(id, &err) < 0 || dbsup_status(id, &s, NULL, 0) < 0)
		return -1;
	if (s == DBSUP_FAILED) /* nothing to wait for */
		return -1;
	return wait_id(id, DBSUP_STOPPED, NULL, 30) == DBSUP_STOPPED ? 0 : -1;
}

static PGconn *pg_connect(int port)
{
	char conninfo[256];
	snprintf(conninfo, sizeof conninfo,
		 "host=127.0.0.1 port=%d user=master password='s3cr\\'et\\\\pw' dbname=appdb connect_timeout=5", port);
	return PQconnectdb(conninfo);
}

/* libpq over the server's unix socket, from dbsup_socket_path. */
static PGconn *pg_connect_sock(const char *id)
{
	char path[256], conninfo[512];
	if (dbsup_socket_path(id, path, sizeof path) < 0)
		return NULL;
	char *sock = strrchr(path, '/');
	if (!sock || strncmp(sock, "/.s.PGSQL.", 10) != 0)
		return NULL;
	*sock = '\0';
	snprintf(conninfo, sizeof conninfo,
		 "host=%s port=%s user=master password='s3cr\\'et\\\\pw' dbname=appdb connect_timeout=5", path,
		 sock + 10);
	return PQconnectdb(conninfo);
}

/* Is a TCP connect to 127.0.0.1:port refused (nothing listening)? */
static int tcp_refused(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int rc = connect(fd, (struct sockaddr *)&a, sizeof a);
	int e = errno;
	close(fd);
	return rc < 0 && e == ECONNREFUSED;
}

/* The SQLSTATE of a statement, "OK" on success. */
static char *pg_sqlstate(PGconn *c, const char *sql)
{
	static char out[16];
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	const char *code = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	snprintf(out, sizeof out, "%s", st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? "OK" : code ? code : "?");
	PQclear(r);
	return out;
}

static char *pg_one(PGconn *c, const char *sql)
{
	static char out[128];
	PGresult *r = PQexec(c, sql);
	out[0] = '\0';
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0)
		snprintf(out, sizeof out, "%s", PQgetvalue(r, 0, 0));
	else if (PQresultStatus(r) == PGRES_COMMAND_OK)
		snprintf(out, sizeof out, "OK");
	else
		printf("# %s\n", PQresultErrorMessage(r));
	PQclear(r);
	return out;
}

/* Polls a query on c until it returns want (replication lag), up to secs. */
static int pg_poll(PGconn *c, const char *sql, const char *want, int secs)
{
	for (int i = 0; i < secs * 10; i++) {
		if (strcmp(pg_one(c, sql), want) == 0)
			return 1;
		loop_once(L, 100);
	}
	return 0;
}

/* The live server pid from postmaster.pid, or 0. */
static pid_t pg_pid(const char *root, const char *id)
{
	char path[256];
	long pid = 0;
	snprintf(path, sizeof path, "%s/%s/postmaster.pid", root, id);
	FILE *f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%ld", &pid) != 1)
			pid = 0;
		fclose(f);
	}
	return (pid_t)pid;
}

/* pgA: unix-socket-only primary; pgB: its streaming replica, promoted; pgA
 * then rebuilt as a replica of pgB.  Both use the same port number: only
 * their socket dirs differ. */
static void test_pg_replication(const char *root)
{
	struct emu_err err;
	int pa = free_port(NULL), pb = pa;
	double t0 = now_s();
	ok(start_ex(DBSUP_POSTGRES, root, "pgA", pa, NULL, NULL) == 0, "unix-only postgres: start accepted");
	is_str(dbsup_state_name(wait_id("pgA", DBSUP_RUNNING, NULL, 60)), "running", "unix-only postgres: running (%s)",
	       seen_of("pgA")->msg);
	char path[256];
	ok(dbsup_socket_path("pgA", path, sizeof path) == 0 && strstr(path, "/pgA/.s.PGSQL.") != NULL,
	   "unix-only postgres: socket path %s", path);
	ok(dbsup_socket_path("pgA", path, 8) < 0 && dbsup_socket_path("nosuch", path, sizeof path) < 0,
	   "socket path: small buffer, unknown id refused");
	PGconn *a = pg_connect_sock("pgA");
	ok(a && PQstatus(a) == CONNECTION_OK, "unix-only postgres: connect on the socket (%s)",
	   a ? PQerrorMessage(a) : "no path");
	ok(tcp_refused(pa), "unix-only postgres: nothing on TCP port %d", pa);
	is_str(pg_one(a, "CREATE TABLE r (x int); INSERT INTO r VALUES (1)"), "OK", "primary: create table");
	ok(dbsup_is_standby("pgA") == 0 && dbsup_is_standby("nosuch") == -1, "primary: is_standby 0");

	ok(start_ex(DBSUP_POSTGRES, root, "pgX", free_port(NULL), NULL, "nosuch") == 0 &&
		   wait_id("pgX", DBSUP_FAILED, NULL, 10) == DBSUP_FAILED &&
		   strstr(seen_of("pgX")->msg, "primary nosuch is not running") != NULL,
	   "replica of a primary not running: failed (%s)", seen_of("pgX")->msg);
	dbsup_forget("pgX");

	ok(start_ex(DBSUP_POSTGRES, root, "pgB", pb, NULL, "pgA") == 0, "replica: start accepted");
	is_str(dbsup_state_name(wait_id("pgB", DBSUP_RUNNING, NULL, 60)), "running", "replica: running (%s)",
	       seen_of("pgB")->msg);
	ok(dbsup_is_standby("pgB") == 1, "replica: is_standby 1");
	PGconn *b = pg_connect_sock("pgB");
	ok(b && PQstatus(b) == CONNECTION_OK, "replica: connect on its socket (%s)", b ? PQerrorMessage(b) : "");
	is_str(pg_one(b, "SELECT pg_is_in_recovery()"), "t", "replica: in recovery");
	is_str(pg_one(a, "INSERT INTO r VALUES (2)"), "OK", "primary: insert");
	ok(pg_poll(b, "SELECT string_agg(x::text, ',' ORDER BY x) FROM r", "1,2", 10), "replica: row streamed");
	is_str(pg_sqlstate(b, "INSERT INTO r VALUES (3)"), "25006", "replica: write refused (read-only transaction)");

	ok(dbsup_promote("pgA", &err) < 0, "promote refused on a primary: %s", err.msg);
	ok(dbsup_promote("pgB", &err) == 0, "promote accepted");
	ok(wait_id("pgB", DBSUP_RUNNING, "promote", 30) == DBSUP_RUNNING && strcmp(seen_of("pgB")->msg, "promoted") == 0,
	   "promote: reported running, \"promoted\" (%s)", seen_of("pgB")->msg);
	ok(dbsup_is_standby("pgB") == 0, "promoted: is_standby 0");
	is_str(pg_one(b, "INSERT INTO r VALUES (3)"), "OK", "promoted: accepts writes");

	/* failover: the old primary becomes a replica of the promoted one */
	PQfinish(a);
	struct dbsup_spec sp = spec_of(DBSUP_POSTGRES, root, "pgA", pa, NULL, "pgB");
	ok(dbsup_rebuild_as_replica(&sp, on_state, NULL, &err) == 0, "rebuild accepted");
	ok(seen_of("pgA")->s == DBSUP_STARTING && strstr(seen_of("pgA")->msg, "rebuilding") != NULL,
	   "rebuild: starting (%s)", seen_of("pgA")->msg);
	is_str(dbsup_state_name(wait_id("pgA", DBSUP_RUNNING, NULL, 60)), "running", "rebuild: running (%s)",
	       seen_of("pgA")->msg);
	ok(dbsup_is_standby("pgA") == 1, "rebuilt: is_standby 1");
	is_str(pg_one(b, "INSERT INTO r VALUES (4)"), "OK", "new primary: insert");
	a = pg_connect_sock("pgA");
	ok(a && PQstatus(a) == CONNECTION_OK && pg_poll(a, "SELECT string_agg(x::text, ',' ORDER BY x) FROM r",
							  "1,2,3,4", 10),
	   "rebuilt: row streamed from the new primary");
	PQfinish(a);

	/* restart safety: a standby data dir starts as a standby again */
	ok(stop("pgA") == 0, "rebuilt replica: stopped");
	ok(start_ex(DBSUP_POSTGRES, root, "pgA", pa, NULL, "pgB") == 0 &&
		   wait_id("pgA", DBSUP_RUNNING, NULL, 60) == DBSUP_RUNNING && dbsup_is_standby("pgA") == 1,
	   "replica restarted as a standby (%s)", seen_of("pgA")->msg);
	is_str(pg_one(b, "INSERT INTO r VALUES (5)"), "OK", "new primary: insert");
	a = pg_connect_sock("pgA");
	ok(a && PQstatus(a) == CONNECTION_OK && pg_poll(a, "SELECT count(*) FROM r", "5", 10),
	   "restarted replica: streaming again");
	PQfinish(a);
	PQfinish(b);

	/* the primary stops while its replica runs, then stop_all */
	pid_t pida = pg_pid(root, "pgA"), pidb = pg_pid(root, "pgB");
	double t1 = now_s();
	ok(stop("pgB") == 0 && now_s() - t1 < 10, "primary stopped under a running replica (%.1f s)", now_s() - t1);
	t1 = now_s();
	dbsup_stop_all();
	enum dbsup_state s;
	ok(dbsup_status("pgA", &s, NULL, 0) == 0 && s == DBSUP_STOPPED && now_s() - t1 < 10,
	   "stop_all: replica stopped (%.1f s)", now_s() - t1);
	ok(pida > 0 && pidb > 0 && kill(pida, 0) < 0 && kill(pidb, 0) < 0 && pg_pid(root, "pgA") == 0 &&
		   pg_pid(root, "pgB") == 0,
	   "no server left running");
	printf("# replication tests: %.1f s\n", now_s() - t0);
}

static void test_postgres(const char *root)
{
	int port = free_port(NULL);
	ok(start(DBSUP_POSTGRES, root, "pg1", port) == 0, "postgres: start accepted");
	is_str(dbsup_state_name(wait_for(DBSUP_RUNNING, 60)), "running", "postgres: running (%s)", last_msg);

	PGconn *c = pg_connect(port);
	ok(PQstatus(c) == CONNECTION_OK, "postgres: libpq connect over TCP as master (%s)", PQerrorMessage(c));
	is_str(pg_one(c, "SELECT 1"), "1", "postgres: SELECT 1");
	is_str(pg_one(c, "CREATE TABLE t (x int); INSERT INTO t VALUES (42)"), "OK", "postgres: create table");
	is_str(pg_one(c, "SHOW max_connections"), "20", "postgres: max_connections applied");
	is_str(pg_one(c, "SHOW password_encryption"), "scram-sha-256", "postgres: scram");
	PQfinish(c);

	ok(stop("pg1") == 0, "postgres: stopped cleanly");
	enum dbsup_state s;
	dbsup_status("pg1", &s, NULL, 0);
	is_str(dbsup_state_name(s), "stopped", "postgres: status stopped");

	/* restart from the same data dir */
	ok(start(DBSUP_POSTGRES, root, "pg1", port) == 0, "postgres: restart accepted");
	is_str(dbsup_state_name(wait_for(DBSUP_RUNNING, 60)), "running", "postgres: running again (%s)", last_msg);
	c = pg_connect(port);
	is_str(PQstatus(c) == CONNECTION_OK ? pg_one(c, "SELECT x FROM t") : "", "42", "postgres: data kept");
	PQfinish(c);

	/* reattach: the supervisor restarts while the server keeps running */
	dbsup_shutdown();
	struct emu_err err;
	dbsup_init(L, &err);
	ok(start(DBSUP_POSTGRES, root, "pg1", port) == 0, "postgres: start after supervisor restart");
	is_str(dbsup_state_name(wait_for(DBSUP_RUNNING, 60)), "running", "postgres: reattached (%s)", last_msg);
	c = pg_connect(port);
	is_str(PQstatus(c) == CONNECTION_OK ? pg_one(c, "SELECT count(*) FROM t") : "", "1", "postgres: same server");
	PQfinish(c);

	/* port in use -> FAILED with the server's log line */
	int hold = -1, busy = free_port(&hold);
	ok(start(DBSUP_POSTGRES, root, "pg2", busy) == 0, "postgres: second instance accepted");
	is_str(dbsup_state_name(wait_for(DBSUP_FAILED, 60)), "failed", "postgres: port in use -> failed");
	ok(strstr(last_msg, "in use") != NULL || strstr(last_msg, "could not") != NULL, "postgres: log in message: %s",
	   last_msg);
	is_str(dbsup_aws_status("pg2"), "incompatible-parameters", "postgres: AWS status");
	ok(dbsup_aws_status("pg1") == NULL, "postgres: no AWS failure status while running");
	ok(start(DBSUP_POSTGRES, root, "../evil", port) < 0, "postgres: id with a slash refused");
	close(hold);

	ok(stop("pg1") == 0, "postgres: final stop");
	test_pg_replication(root);
}

/* The client over TCP to port, or over the unix socket sock. */
static int run_mariadb_at(const char *port, const char *sock, const char *sql, char *out, size_t cap)
{
	int p[2];
	if (pipe(p) < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		dup2(p[1], 1);
		dup2(p[1], 2);
		char where[300];
		if (sock) {
			snprintf(where, sizeof where, "--socket=%s", sock);
			execl("/usr/bin/mariadb", "mariadb", "--no-defaults", "--protocol=SOCKET", where, "-umaster",
			      "-ps3cr'et\\pw", "-N", "-B", "appdb", "-e", sql, (char *)NULL);
		} else {
			snprintf(where, sizeof where, "--port=%s", port);
			execl("/usr/bin/mariadb", "mariadb", "--no-defaults", "--protocol=TCP", "-h127.0.0.1", where,
			      "-umaster", "-ps3cr'et\\pw", "-N", "-B", "appdb", "-e", sql, (char *)NULL);
		}
		_exit(127);
	}
	close(p[1]);
	size_t o = 0;
	ssize_t n;
	while (o + 1 < cap && (n = read(p[0], out + o, cap - 1 - o)) > 0)
		o += (size_t)n;
	out[o] = '\0';
	close(p[0]);
	int st;
	while (waitpid(pid, &st, 0) < 0)
		;
	while (o > 0 && out[o - 1] == '\n')
		out[--o] = '\0';
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int run_mariadb(const char *port, const char *sql, char *out, size_t cap)
{
	return run_mariadb_at(port, NULL, sql, out, cap);
}

static void test_mariadb(const char *root)
{
	int port = free_port(NULL);
	char ps[16], out[512];
	snprintf(ps, sizeof ps, "%d", port);
	ok(start(DBSUP_MARIADB, root, "my1", port) == 0, "mariadb: start accepted");
	is_str(dbsup_state_name(wait_for(DBSUP_RUNNING, 60)), "running", "mariadb: running (%s)", last_msg);
	int rc = run_mariadb(ps, "SELECT 1; CREATE TABLE t (x int); INSERT INTO t VALUES (7)", out, sizeof out);
	ok(rc == 0 && strcmp(out, "1") == 0, "mariadb: client over TCP as master (%d: %s)", rc, out);
	ok(stop("my1") == 0, "mariadb: stopped cleanly");
	ok(start(DBSUP_MARIADB, root, "my1", port) == 0, "mariadb: restart accepted");
	is_str(dbsup_state_name(wait_for(DBSUP_RUNNING, 60)), "running", "mariadb: running again (%s)", last_msg);
	rc = run_mariadb(ps, "SELECT x FROM t", out, sizeof out);
	ok(rc == 0 && strcmp(out, "7") == 0, "mariadb: data kept (%d: %s)", rc, out);

	int hold = -1, busy = free_port(&hold);
	ok(start(DBSUP_MARIADB, root, "my2", busy) == 0, "mariadb: second instance accepted");
	is_str(dbsup_state_name(wait_for(DBSUP_FAILED, 60)), "failed", "mariadb: port in use -> failed");
	ok(strstr(last_msg, "Bind") != NULL || strstr(last_msg, "in use") != NULL, "mariadb: log in message: %s",
	   last_msg);
	is_str(dbsup_aws_status("my2"), "incompatible-parameters", "mariadb: AWS status");
	close(hold);
	ok(stop("my1") == 0, "mariadb: final stop");

	/* the same data dir served on the unix socket only (--skip-networking) */
	char path[256];
	ok(start_ex(DBSUP_MARIADB, root, "my1", port, "", NULL) == 0, "unix-only mariadb: start accepted");
	is_str(dbsup_state_name(wait_for(DBSUP_RUNNING, 60)), "running", "unix-only mariadb: running (%s)", last_msg);
	ok(dbsup_socket_path("my1", path, sizeof path) == 0 && strstr(path, "/my1/mysql.sock") != NULL,
	   "unix-only mariadb: socket path %s", path);
	rc = run_mariadb_at(NULL, path, "SELECT x FROM t", out, sizeof out);
	ok(rc == 0 && strcmp(out, "7") == 0, "unix-only mariadb: client on the socket as master (%d: %s)", rc, out);
	ok(tcp_refused(port), "unix-only mariadb: nothing on TCP port %d", port);
	ok(stop("my1") == 0, "unix-only mariadb: stopped");
}

int main(void)
{
	struct emu_err err;
	char root[] = "/tmp/dbsup-test.XXXXXX";
	L = loop_new();
	ok(L && mkdtemp(root) && chmod(root, 0711) == 0, "temp dir %s", root);
	ok(dbsup_init(L, &err) == 0, "dbsup_init");
	char sub[64];
	snprintf(sub, sizeof sub, "%s/db", root);
	if (dbsup_available(DBSUP_POSTGRES))
		test_postgres(sub);
	else
		printf("# skipping postgres: binaries not found\n");
	if (dbsup_available(DBSUP_MARIADB))
		test_mariadb(sub);
	else
		printf("# skipping mariadb: binaries not found\n");
	dbsup_stop_all();
	dbsup_shutdown();
	loop_free(L);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
	ok(system(cmd) == 0, "temp dir removed");
	return done_testing();
}
