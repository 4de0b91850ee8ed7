/*
 * Tests for emu/dbsup.c against real servers: PostgreSQL (initdb, start,
 * libpq connect over TCP with the master credentials, clean stop, restart
 * on the same data dir, port-in-use failure) and MariaDB (the same through
 * the `mariadb` client binary).  Every server started here is stopped and
 * the temp dir removed.  Engines whose binaries are missing are skipped.
 */
#include "emu/dbsup.h"
#include "emu/err.h"
#include "emu/loop.h"
#include "tap.h"

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static struct loop *L;
static enum dbsup_state last_state;
static char last_msg[600];
static int changes;

static void on_state(void *ud, const char *id, enum dbsup_state s, const char *msg)
{
	(void)ud;
	(void)id;
	last_state = s;
	snprintf(last_msg, sizeof last_msg, "%s", msg);
	changes++;
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

static int start(enum dbsup_engine eng, const char *root, const char *id, int port)
{
	struct emu_err err;
	struct dbsup_spec sp = {.engine = eng, .id = id, .data_root = root, .listen_addr = "127.0.0.1",
				.port = port, .master_user = "master", .master_password = "s3cr'et\\pw",
				.db_name = "appdb", .max_connections = 20};
	last_state = DBSUP_STARTING;
	changes = 0;
	int rc = dbsup_start(&sp, on_state, NULL, &err);
	if (rc < 0)
		printf("# dbsup_start: %s\n", err.msg);
	return rc;
}

static int stop(const char *id)
{
	struct emu_err err;
	changes = 0;
	if (dbsup_stop(id, &err) < 0)
		return -1;
	return wait_for(DBSUP_STOPPED, 30) == DBSUP_STOPPED ? 0 : -1;
}

static PGconn *pg_connect(int port)
{
	char conninfo[256];
	snprintf(conninfo, sizeof conninfo,
		 "host=127.0.0.1 port=%d user=master password='s3cr\\'et\\\\pw' dbname=appdb connect_timeout=5", port);
	return PQconnectdb(conninfo);
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
}

static int run_mariadb(const char *port, const char *sql, char *out, size_t cap)
{
	int p[2];
	if (pipe(p) < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		dup2(p[1], 1);
		dup2(p[1], 2);
		char portopt[64];
		snprintf(portopt, sizeof portopt, "--port=%s", port);
		execl("/usr/bin/mariadb", "mariadb", "--no-defaults", "--protocol=TCP", "-h127.0.0.1", portopt,
			      "-umaster", "-ps3cr'et\\pw", "-N", "-B", "appdb", "-e", sql, (char *)NULL);
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
