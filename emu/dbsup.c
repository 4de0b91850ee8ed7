/*
 * dbsup.c owns the local database servers: their data directories under
 * <data_root>/<id>, the server log <data_root>/<id>.log, the child
 * processes (initdb / mariadb-install-db, the server, the one-time setup
 * client), their pidfds and poll timers.
 *
 * May call: loop, log, err, util, clock.  Knows nothing of RDS.
 *
 * Invariants: the loop is never blocked (children are forked and watched by
 * pidfd; readiness is polled from a 100 ms timer by reading postmaster.pid or
 * connecting to the server's unix socket); only our own children are reaped,
 * by pid; servers run in their own process group as the unprivileged run
 * user when euid is 0 (PostgreSQL refuses root): system user "rdsemu",
 * created with useradd if absent, else "nobody"; passwords go to children
 * only through a 0600 file removed after initdb, a PGPASSWORD environment
 * or a stdin pipe (main.c ignores SIGPIPE), never argv, and are wiped once
 * setup is done.  on_state may be called from inside dbsup_start (STARTING,
 * or RUNNING at once on reattach, or FAILED).
 * Lifecycle: INIT (initdb) -> SERVER (start, wait ready) -> SETUP (first
 * time only: master password / db) -> RUNNING -> STOPPING -> STOPPED;
 * any unexpected exit or the 30 s start bound -> FAILED with the log tail.
 *
 * Streaming replicas (PostgreSQL): INIT is pg_basebackup -R from the
 * primary's unix socket (PGPASSWORD in the child's environment; -R records
 * the connection, password included, in the replica's 0600
 * postgresql.auto.conf for its walreceiver) and SETUP is skipped: the
 * standby is RUNNING once it accepts read-only connections.  A replica data
 * dir without PG_VERSION and standby.signal / the setup marker (a base
 * backup cut short) is emptied first (WIPE, `find -delete` as the run user)
 * and backed up again.  PROMOTE runs `pg_ctl promote -w` beside the running
 * server; a rebuild stops the server (STOP with `rebuild` set), then WIPE ->
 * INIT as a replica.  Every PostgreSQL server runs with wal_level=replica,
 * max_wal_senders and hot_standby on, and pg_hba allows local replication.
 */
#include "emu/dbsup.h"

#include "emu/clock.h"
#include "emu/err.h"
#include "emu/log.h"
#include "emu/loop.h"
#include "emu/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <openssl/crypto.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define MAX_SRV 32
#define POLL_MS 100
#define START_BOUND_MS 30000
#define STOP_BOUND_MS 15000
#define MSG_CAP 512
#define PATH_CAP 256

enum phase { PH_NONE, PH_WIPE, PH_INIT, PH_SERVER, PH_SETUP, PH_RUN, PH_PROMOTE, PH_STOP, PH_DONE };

struct srv {
	bool used, own_server, incompatible;
	bool rebuild; /* PH_STOP: wipe and start again as a replica once the server exited */
	enum dbsup_engine engine;
	enum dbsup_state state;
	enum phase phase;
	char id[64], dir[PATH_CAP], log[PATH_CAP], sock[PATH_CAP], listen[64];
	char primary[64]; /* id of the server followed as a standby; "" = none (or promoted) */
	int port, max_conn;
	char *user, *password, *db;
	char *setup_sql; /* first-time setup only (secret: may hold passwords) */
	char message[MSG_CAP];
	pid_t pid, helper;   /* server; helper child (initdb, setup client) */
	int pidfd, hpidfd;
	long long timer, deadline;
	dbsup_state_cb cb;
	void *ud;
};

static struct {
	bool up, have_pg, have_my;
	struct loop *loop;
	char pgbin[PATH_CAP], mysqld[PATH_CAP], myinstall[PATH_CAP], myclient[PATH_CAP], find[PATH_CAP];
	uid_t uid;
	gid_t gid;
	bool drop; /* switch to uid/gid in children */
	struct srv s[MAX_SRV];
} D;

/* ---- small helpers ------------------------------------------------------------------------ */

static bool is_exec(const char *p)
{
	return access(p, X_OK) == 0;
}

static void wipe_free(char **p)
{
	if (*p) {
		OPENSSL_cleanse(*p, strlen(*p));
		free(*p);
		*p = NULL;
	}
}

/* The last few non-empty lines of the log, joined by " | ". */
static void log_tail(const struct srv *v, char *out, size_t cap)
{
	out[0] = '\0';
	int fd = open(v->log, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	char b[2048];
	off_t end = lseek(fd, 0, SEEK_END);
	off_t from = end > (off_t)sizeof b - 1 ? end - (off_t)(sizeof b - 1) : 0;
	ssize_t n = pread(fd, b, sizeof b - 1, from);
	close(fd);
	if (n <= 0)
		return;
	b[n] = '\0';
	/* keep the last 3 lines */
	int lines = 0;
	char *p = b + n;
	while (p > b) {
		p--;
		if (*p == '\n' && p[1] != '\0' && ++lines == 3) {
			p++;
			break;
		}
	}
	size_t o = 0;
	for (; *p && o + 4 < cap; p++) {
		if (*p == '\n') {
			if (p[1] && o > 0 && o + 4 < cap) {
				memcpy(out + o, " | ", 3);
				o += 3;
			}
		} else if ((unsigned char)*p >= 0x20) {
			out[o++] = *p;
		}
	}
	out[o] = '\0';
}

static void set_state(struct srv *v, enum dbsup_state st, const char *msg)
{
	v->state = st;
	snprintf(v->message, sizeof v->message, "%s", msg ? msg : "");
	log_msg(st == DBSUP_FAILED ? LOG_LVL_WARN : LOG_LVL_INFO, "dbsup", "%s: %s%s%s", v->id, dbsup_state_name(st),
		msg && *msg ? ": " : "", msg ? msg : "");
	if (v->cb)
		v->cb(v->ud, v->id, st, v->message);
}

static void unwatch(struct loop *l, int *fd)
{
	if (*fd >= 0) {
		loop_del_fd(l, *fd);
		close(*fd);
		*fd = -1;
	}
}

static void stop_timer(struct srv *v)
{
	if (v->timer) {
		loop_del_timer(D.loop, v->timer);
		v->timer = 0;
	}
}

/* Reaps a child of ours (by pid) if it has exited; returns its status or -1. */
static int reap(pid_t pid)
{
	int st;
	pid_t r;
	while ((r = waitpid(pid, &st, WNOHANG)) < 0 && errno == EINTR)
		;
	return r == pid ? st : -1;
}

/* Kills the helper child and its process group (pg_basebackup -X stream
 * forks a WAL receiver) and reaps it. */
static void kill_helper(struct srv *v)
{
	if (v->helper <= 0)
		return;
	unwatch(D.loop, &v->hpidfd);
	kill(-v->helper, SIGKILL);
	kill(v->helper, SIGKILL);
	while (waitpid(v->helper, NULL, 0) < 0 && errno == EINTR)
		;
	v->helper = 0;
}

/* fork + (drop privileges) + exec.  stdout/stderr go to the log file;
 * stdin from in_fd (or /dev/null).  The child leads its own process group. */
static pid_t spawn(struct srv *v, char *const argv[], char *const envp[], int in_fd, char *why, size_t cap)
{
	int lfd = open(v->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	int nfd = in_fd >= 0 ? -1 : open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (lfd < 0 || (in_fd < 0 && nfd < 0)) {
		snprintf(why, cap, "open %s: %s", v->log, strerror(errno));
		if (lfd >= 0)
			close(lfd);
		if (nfd >= 0)
			close(nfd);
		return -1;
	}
	if (D.drop && fchown(lfd, D.uid, D.gid) < 0) {
		/* not fatal: the log is written through our fd */
	}
	int ifd = in_fd >= 0 ? in_fd : nfd;
	pid_t pid = fork();
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		for (int sig = 1; sig < 32; sig++)
			if (sig != SIGKILL && sig != SIGSTOP)
				signal(sig, SIG_DFL);
		setpgid(0, 0);
		if (dup2(ifd, 0) < 0 || dup2(lfd, 1) < 0 || dup2(lfd, 2) < 0)
			_exit(126);
		if (D.drop && (setgroups(0, NULL) < 0 || setgid(D.gid) < 0 || setuid(D.uid) < 0))
			_exit(126);
		if (chdir("/") < 0)
			_exit(126);
		execve(argv[0], argv, envp);
		_exit(127);
	}
	int e = errno;
	close(lfd);
	if (nfd >= 0)
		close(nfd);
	if (pid < 0) {
		snprintf(why, cap, "fork: %s", strerror(e));
		return -1;
	}
	return pid;
}

static int watch_pid(pid_t pid, loop_fd_cb cb, struct srv *v)
{
	int fd = pidfd_open(pid, 0);
	if (fd < 0)
		return -1;
	if (loop_add_fd(D.loop, fd, EPOLLIN, cb, v) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int mkdir_owned(const char *path)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -1;
	if (D.drop && chown(path, D.uid, D.gid) < 0)
		return -1;
	return 0;
}

static int write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -1;
	size_t len = strlen(text), off = 0;
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)n;
	}
	if (D.drop && fchown(fd, D.uid, D.gid) < 0) {
		close(fd);
		return -1;
	}
	return close(fd);
}

static bool file_exists(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0;
}

static void fail(struct srv *v, const char *what);
static void start_init(struct srv *v);
static void start_server(struct srv *v);
static void start_setup(struct srv *v);
static struct srv *find(const char *id);
static void on_timer(struct loop *l, long long id, void *ud);

static void arm(struct srv *v)
{
	stop_timer(v);
	v->timer = loop_add_timer(D.loop, POLL_MS, on_timer, v);
}

/* ---- engine specifics ---------------------------------------------------------------------- */

/* Reads the server pid (and, for postgres, whether it reports "ready"). */
static pid_t read_pidfile(const struct srv *v, bool *ready)
{
	char path[PATH_CAP + 32], b[1024];
	snprintf(path, sizeof path, "%s/%s", v->dir, v->engine == DBSUP_POSTGRES ? "postmaster.pid" : "mariadb.pid");
	*ready = false;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, b, sizeof b - 1);
	close(fd);
	if (n <= 0)
		return -1;
	b[n] = '\0';
	long pid = strtol(b, NULL, 10);
	if (v->engine == DBSUP_POSTGRES) {
		/* line 8 is the postmaster status (PM_STATUS_READY = "ready   ") */
		char *p = b;
		for (int line = 1; line < 8 && p; line++) {
			p = strchr(p, '\n');
			if (p)
				p++;
		}
		*ready = p && strncmp(p, "ready", 5) == 0;
	}
	return pid > 0 ? (pid_t)pid : -1;
}

static bool sock_accepts(const struct srv *v)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	if (strlen(v->sock) >= sizeof a.sun_path)
		return false;
	memcpy(a.sun_path, v->sock, strlen(v->sock) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return false;
	bool okc = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
	close(fd);
	return okc;
}

static bool server_ready(struct srv *v)
{
	bool ready;
	if (v->engine == DBSUP_POSTGRES)
		return read_pidfile(v, &ready) == v->pid && ready;
	return sock_accepts(v);
}

/* Is pid a live server process of our engine (for reattach)? */
static bool pid_is_server(const struct srv *v, pid_t pid)
{
	char path[64], comm[64] = "";
	if (pid <= 0 || kill(pid, 0) < 0)
		return false;
	snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	if (!fgets(comm, sizeof comm, f))
		comm[0] = '\0';
	fclose(f);
	if (v->engine == DBSUP_POSTGRES)
		return strncmp(comm, "postgres", 8) == 0;
	return strncmp(comm, "mariadbd", 8) == 0 || strncmp(comm, "mysqld", 6) == 0;
}

/* The primary's socket lives in its data dir: a base backup copies its lock
 * file, which would keep a replica on the same port number (in its own dir)
 * from starting while the primary runs. */
static void remove_socket_locks(const struct srv *v)
{
	DIR *d = opendir(v->dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)))
		if (strncmp(e->d_name, ".s.PGSQL.", 9) == 0) {
			char p[PATH_CAP + 300];
			snprintf(p, sizeof p, "%s/%s", v->dir, e->d_name);
			unlink(p);
		}
	closedir(d);
}

/* ---- helper children (initdb, setup) ------------------------------------------------------------ */

static void after_init(struct srv *v, int status)
{
	char pw[PATH_CAP + 16];
	snprintf(pw, sizeof pw, "%s.pw", v->dir);
	unlink(pw);
	if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (v->primary[0])
			fail(v, "pg_basebackup failed");
		else
			fail(v, v->engine == DBSUP_POSTGRES ? "initdb failed" : "mariadb-install-db failed");
		return;
	}
	if (v->primary[0])
		remove_socket_locks(v);
	start_server(v);
}

static void after_wipe(struct srv *v, int status)
{
	if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fail(v, "cannot empty the old data directory");
		return;
	}
	start_init(v);
}

static void after_promote(struct srv *v, int status)
{
	v->phase = PH_RUN;
	if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		char tail[MSG_CAP - 64], msg[MSG_CAP];
		log_tail(v, tail, sizeof tail);
		snprintf(msg, sizeof msg, "promote failed: %s", tail);
		set_state(v, DBSUP_RUNNING, msg);
		return;
	}
	v->primary[0] = '\0';
	set_state(v, DBSUP_RUNNING, "promoted");
}

static void after_setup(struct srv *v, int status)
{
	if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fail(v, "first-time setup (master user, database) failed");
		return;
	}
	char mark[PATH_CAP + 16];
	snprintf(mark, sizeof mark, "%s.done", v->dir);
	if (write_file(mark, "setup done\n", 0644) < 0) {
		fail(v, "cannot write setup marker");
		return;
	}
	wipe_free(&v->password);
	wipe_free(&v->setup_sql);
	v->phase = PH_RUN;
	stop_timer(v);
	set_state(v, DBSUP_RUNNING, "");
}

static void on_helper_exit(struct loop *l, int fd, uint32_t events, void *ud)
{
	(void)fd;
	(void)events;
	struct srv *v = ud;
	int st = reap(v->helper);
	unwatch(l, &v->hpidfd);
	v->helper = 0;
	if (v->phase == PH_WIPE)
		after_wipe(v, st);
	else if (v->phase == PH_INIT)
		after_init(v, st);
	else if (v->phase == PH_SETUP)
		after_setup(v, st);
	else if (v->phase == PH_PROMOTE)
		after_promote(v, st);
}

/* Starts a helper child watched by pidfd; -1 with why on failure. */
static int launch_helper(struct srv *v, char *const argv[], char *const envp[], const char *stdin_text, char *why,
			 size_t cap)
{
	int p[2] = {-1, -1};
	if (stdin_text && pipe2(p, O_CLOEXEC) < 0) {
		snprintf(why, cap, "pipe failed");
		return -1;
	}
	pid_t pid = spawn(v, argv, envp, p[0], why, cap);
	if (p[0] >= 0)
		close(p[0]);
	if (pid > 0 && stdin_text) {
		/* small (< pipe buffer): written whole without blocking */
		size_t len = strlen(stdin_text);
		if (write(p[1], stdin_text, len) != (ssize_t)len)
			log_msg(LOG_LVL_WARN, "dbsup", "%s: short write to setup client", v->id);
	}
	if (p[1] >= 0)
		close(p[1]);
	if (pid < 0)
		return -1;
	v->helper = pid;
	v->hpidfd = watch_pid(pid, on_helper_exit, v);
	if (v->hpidfd < 0) {
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		v->helper = 0;
		snprintf(why, cap, "pidfd_open failed");
		return -1;
	}
	return 0;
}

/* launch_helper, FAILED when it cannot start. */
static int run_helper(struct srv *v, char *const argv[], char *const envp[], const char *stdin_text)
{
	char why[PATH_CAP + 300];
	if (launch_helper(v, argv, envp, stdin_text, why, sizeof why) < 0) {
		fail(v, why);
		return -1;
	}
	return 0;
}

/* Empties the data dir (kept itself: the run user may not remove it from
 * the data root) and the setup marker, then initialises it afresh.
 * PG_VERSION goes first, so that a wipe cut short is never taken for a
 * data dir. */
static void start_wipe(struct srv *v)
{
	char path[PATH_CAP + 16];
	snprintf(path, sizeof path, "%s.done", v->dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/PG_VERSION", v->dir);
	unlink(path);
	v->phase = PH_WIPE;
	if (!file_exists(v->dir)) {
		start_init(v);
		return;
	}
	char *argv[] = {D.find, v->dir, "-mindepth", "1", "-delete", NULL};
	run_helper(v, argv, environ, NULL);
}

/* A replica's first start: a base backup of its primary over the primary's
 * unix socket, with the WAL streamed alongside (-X stream) and the standby
 * configuration written (-R). */
static void start_basebackup(struct srv *v)
{
	struct srv *p = find(v->primary);
	if (!p || p->engine != DBSUP_POSTGRES || p->phase != PH_RUN) {
		char why[128];
		snprintf(why, sizeof why, "primary %s is not running", v->primary);
		fail(v, why);
		return;
	}
	char bb[PATH_CAP + 16], portopt[16], envpw[1200];
	snprintf(bb, sizeof bb, "%s/pg_basebackup", D.pgbin);
	snprintf(portopt, sizeof portopt, "%d", p->port);
	snprintf(envpw, sizeof envpw, "PGPASSWORD=%s", v->password ? v->password : "");
	char *envp[] = {envpw, "PGCONNECT_TIMEOUT=10", "LC_ALL=C", NULL};
	char *argv[] = {bb, "-D", v->dir, "-h", p->dir, "-p", portopt, "-U", v->user, "-X", "stream", "-R",
			"--checkpoint=fast", "--no-sync", "--no-password", NULL};
	run_helper(v, argv, envp, NULL);
	OPENSSL_cleanse(envpw, sizeof envpw);
}

static void start_init(struct srv *v)
{
	v->phase = PH_INIT;
	if (mkdir_owned(v->dir) < 0) {
		fail(v, "cannot create data directory");
		return;
	}
	if (v->primary[0]) {
		start_basebackup(v);
	} else if (v->engine == DBSUP_POSTGRES) {
		char initdb[PATH_CAP + 16], pw[PATH_CAP + 16], pwopt[PATH_CAP + 40], uopt[160];
		snprintf(initdb, sizeof initdb, "%s/initdb", D.pgbin);
		snprintf(pw, sizeof pw, "%s.pw", v->dir);
		snprintf(pwopt, sizeof pwopt, "--pwfile=%s", pw);
		snprintf(uopt, sizeof uopt, "--username=%s", v->user);
		char line[1100];
		snprintf(line, sizeof line, "%s\n", v->password);
		int rc = write_file(pw, line, 0600);
		OPENSSL_cleanse(line, sizeof line);
		if (rc < 0) {
			fail(v, "cannot write password file");
			return;
		}
		char *argv[] = {initdb, "-D", v->dir, uopt, pwopt, "--auth=scram-sha-256", "--encoding=UTF8",
				"--no-locale", "--no-sync", NULL};
		run_helper(v, argv, environ, NULL);
	} else {
		char dd[PATH_CAP + 16];
		snprintf(dd, sizeof dd, "--datadir=%s", v->dir);
		char *argv[] = {D.myinstall, "--no-defaults", dd, "--auth-root-authentication-method=normal",
				"--skip-test-db", NULL};
		run_helper(v, argv, environ, NULL);
	}
}

/* A MariaDB string literal body: quote and backslash doubled. */
static void sql_quote(char *out, size_t cap, const char *s)
{
	size_t o = 0;
	for (; *s && o + 3 < cap; s++) {
		if (*s == '\'' || *s == '\\')
			out[o++] = *s;
		out[o++] = *s;
	}
	out[o] = '\0';
}

/* Identifiers are restricted to [A-Za-z0-9_$] by dbsup_start, so only
 * literals need escaping. */
static void start_setup(struct srv *v)
{
	char pwq[2200], sql[9000];
	v->phase = PH_SETUP;
	size_t xl = v->setup_sql ? strlen(v->setup_sql) : 0;
	char *full = malloc(sizeof sql + xl + 200);
	if (!full) {
		fail(v, "out of memory");
		return;
	}
	if (v->engine == DBSUP_POSTGRES) {
		/* a standby is read-only and holds the primary's users and databases */
		if (v->primary[0]) {
			free(full);
			after_setup(v, 0);
			return;
		}
		char psql[PATH_CAP + 16], portopt[16];
		snprintf(psql, sizeof psql, "%s/psql", D.pgbin);
		snprintf(portopt, sizeof portopt, "%d", v->port);
		/* rds_iam: the role RDS gives IAM database users (GRANT rds_iam TO x) */
		static const char iam_role[] = "SELECT 'CREATE ROLE rds_iam NOLOGIN' WHERE NOT EXISTS "
					       "(SELECT 1 FROM pg_roles WHERE rolname = 'rds_iam')\\gexec\n";
		if (v->db)
			snprintf(sql, sizeof sql,
				 "%sSELECT 'CREATE DATABASE \"%s\"' WHERE NOT EXISTS "
				 "(SELECT 1 FROM pg_database WHERE datname = '%s')\\gexec\n\\connect \"%s\"\n",
				 iam_role, v->db, v->db, v->db);
		else
			snprintf(sql, sizeof sql, "%s", iam_role);
		snprintf(full, sizeof sql + xl + 200, "%s%s\n", sql, xl ? v->setup_sql : "");
		char envpw[1200];
		snprintf(envpw, sizeof envpw, "PGPASSWORD=%s", v->password);
		char *envp[] = {envpw, "PGCONNECT_TIMEOUT=10", "LC_ALL=C", NULL};
		char *argv[] = {psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", v->dir, "-p", portopt,
				"-U", v->user, "-d", "postgres", NULL};
		run_helper(v, argv, envp, full);
		OPENSSL_cleanse(envpw, sizeof envpw);
	} else {
		sql_quote(pwq, sizeof pwq, v->password);
		char dbs[200] = "";
		if (v->db)
			snprintf(dbs, sizeof dbs, "CREATE DATABASE IF NOT EXISTS `%s`;\n", v->db);
		snprintf(sql, sizeof sql,
			 "CREATE USER IF NOT EXISTS '%s'@'%%' IDENTIFIED BY '%s';\n"
			 "ALTER USER '%s'@'%%' IDENTIFIED BY '%s';\n"
			 "GRANT ALL PRIVILEGES ON *.* TO '%s'@'%%' WITH GRANT OPTION;\n"
			 "%s"
			 "ALTER USER 'root'@'localhost' IDENTIFIED BY '%s';\n"
			 "FLUSH PRIVILEGES;\n",
			 v->user, pwq, v->user, pwq, v->user, dbs, pwq);
		char use[160] = "";
		if (v->db && xl)
			snprintf(use, sizeof use, "USE `%s`;\n", v->db);
		snprintf(full, sizeof sql + xl + 200, "%s%s%s\n", sql, use, xl ? v->setup_sql : "");
		char sockopt[PATH_CAP + 16];
		snprintf(sockopt, sizeof sockopt, "--socket=%s", v->sock);
		char *argv[] = {D.myclient, "--no-defaults", sockopt, "-uroot", "--batch", NULL};
		run_helper(v, argv, environ, full);
		OPENSSL_cleanse(pwq, sizeof pwq);
	}
	OPENSSL_cleanse(sql, sizeof sql);
	OPENSSL_cleanse(full, strlen(full));
	free(full);
}

/* ---- the server ------------------------------------------------------------------------------------ */

static void on_server_exit(struct loop *l, int fd, uint32_t events, void *ud)
{
	(void)fd;
	(void)events;
	struct srv *v = ud;
	if (v->own_server)
		reap(v->pid);
	unwatch(l, &v->pidfd);
	v->pid = 0;
	kill_helper(v);
	stop_timer(v);
	if (v->phase == PH_STOP && v->rebuild) {
		v->rebuild = false;
		start_wipe(v);
	} else if (v->phase == PH_STOP) {
		v->phase = PH_DONE;
		set_state(v, DBSUP_STOPPED, "");
	} else {
		fail(v, "server exited");
	}
}

/* Rewritten at every start, so data dirs made before a rule was added get it. */
static int write_hba(const struct srv *v)
{
	char hba[PATH_CAP + 16];
	snprintf(hba, sizeof hba, "%s/pg_hba.conf", v->dir);
	/* md5 in pg_hba performs SCRAM for SCRAM-stored passwords and md5 for
	 * md5-stored ones (PostgreSQL docs, 21.5), so one method covers both.
	 * "all" does not match physical replication connections: replicas take
	 * their base backup and stream over the primary's socket. */
	/* Members of rds_iam log in with RDS IAM tokens, which rdsemu's instance
	 * endpoint checks before it logs them in over the socket (whose
	 * directory only rdsemu can reach): trust here, as PAM stands in on RDS. */
	return write_file(hba,
			  "# written by rdsemu\n"
			  "local all +rds_iam trust\n"
			  "local all all scram-sha-256\n"
			  "local replication all scram-sha-256\n"
			  "host all all 127.0.0.0/8 md5\n"
			  "host all all ::1/128 md5\n",
			  0600);
}

static void start_server(struct srv *v)
{
	char why[PATH_CAP + 300];
	char lopt[128], popt[32], sopt[PATH_CAP + 40], mopt[48], bin[PATH_CAP + 16];
	v->phase = PH_SERVER;
	if (v->engine == DBSUP_POSTGRES) {
		if (write_hba(v) < 0) {
			fail(v, "cannot write pg_hba.conf");
			return;
		}
		int conns = v->max_conn > 0 ? v->max_conn : 100;
		/* a hot standby refuses to run with fewer connections than its primary */
		const struct srv *p = v->primary[0] ? find(v->primary) : NULL;
		if (p && p->engine == DBSUP_POSTGRES && p->max_conn > conns)
			conns = p->max_conn;
		snprintf(bin, sizeof bin, "%s/postgres", D.pgbin);
		snprintf(lopt, sizeof lopt, "listen_addresses=%s", v->listen); /* "" = no TCP */
		snprintf(popt, sizeof popt, "port=%d", v->port);
		snprintf(sopt, sizeof sopt, "unix_socket_directories=%s", v->dir);
		snprintf(mopt, sizeof mopt, "max_connections=%d", conns);
		char *argv[] = {bin, "-D", v->dir, "-c", lopt, "-c", popt, "-c", sopt, "-c", mopt,
				"-c", "password_encryption=scram-sha-256", "-c", "ssl=off", "-c", "wal_level=replica",
				"-c", "max_wal_senders=10", "-c", "hot_standby=on", "-c", "recovery_init_sync_method=syncfs", NULL};
		v->pid = spawn(v, argv, environ, -1, why, sizeof why);
	} else {
		char dd[PATH_CAP + 16], pidf[PATH_CAP + 32];
		snprintf(dd, sizeof dd, "--datadir=%s", v->dir);
		snprintf(lopt, sizeof lopt, "--bind-address=%s", v->listen);
		snprintf(popt, sizeof popt, "--port=%d", v->port);
		snprintf(sopt, sizeof sopt, "--socket=%s", v->sock);
		snprintf(pidf, sizeof pidf, "--pid-file=%s/mariadb.pid", v->dir);
		snprintf(mopt, sizeof mopt, "--max-connections=%d", v->max_conn > 0 ? v->max_conn : 151);
		char *argv[16];
		int n = 0;
		argv[n++] = D.mysqld;
		argv[n++] = "--no-defaults";
		argv[n++] = dd;
		if (v->listen[0]) {
			argv[n++] = lopt;
			argv[n++] = popt;
			argv[n++] = "--skip-networking=0";
		} else {
			argv[n++] = "--skip-networking"; /* unix socket only */
		}
		argv[n++] = sopt;
		argv[n++] = pidf;
		argv[n++] = mopt;
		argv[n++] = "--skip-name-resolve";
		argv[n] = NULL;
		v->pid = spawn(v, argv, environ, -1, why, sizeof why);
	}
	if (v->pid < 0) {
		v->pid = 0;
		fail(v, why);
		return;
	}
	v->own_server = true;
	v->pidfd = watch_pid(v->pid, on_server_exit, v);
	if (v->pidfd < 0) {
		kill(v->pid, SIGKILL);
		while (waitpid(v->pid, NULL, 0) < 0 && errno == EINTR)
			;
		v->pid = 0;
		fail(v, "pidfd_open failed");
		return;
	}
	v->deadline = clock_mono_ms() + START_BOUND_MS;
	arm(v);
}

static void kill_server(struct srv *v, int sig)
{
	if (v->pid <= 0)
		return;
	if (sig == SIGKILL && getpgid(v->pid) == v->pid)
		kill(-v->pid, SIGKILL);
	kill(v->pid, sig);
}

static void on_timer(struct loop *l, long long id, void *ud)
{
	(void)l;
	(void)id;
	struct srv *v = ud;
	v->timer = 0;
	if (v->phase == PH_SERVER) {
		if (server_ready(v)) {
			char mark[PATH_CAP + 16];
			snprintf(mark, sizeof mark, "%s.done", v->dir);
			if (file_exists(mark)) {
				wipe_free(&v->password);
				wipe_free(&v->setup_sql);
				v->phase = PH_RUN;
				set_state(v, DBSUP_RUNNING, "");
			} else {
				start_setup(v);
			}
			return;
		}
		if (clock_mono_ms() > v->deadline) {
			kill_server(v, SIGKILL);
			fail(v, "server did not accept connections within 30 s");
			return;
		}
		arm(v);
	} else if (v->phase == PH_STOP) {
		if (clock_mono_ms() > v->deadline) {
			log_msg(LOG_LVL_WARN, "dbsup", "%s: clean shutdown timed out, SIGKILL", v->id);
			kill_server(v, SIGKILL);
			v->deadline = clock_mono_ms() + STOP_BOUND_MS;
		}
		arm(v);
	}
}

/* Reports FAILED with the log tail; kills what is left of our processes. */
static void fail(struct srv *v, const char *what)
{
	char tail[MSG_CAP - 64], msg[MSG_CAP];
	log_tail(v, tail, sizeof tail);
	snprintf(msg, sizeof msg, "%s%s%s", what, tail[0] ? ": " : "", tail);
	/* the server rejected its configuration (what AWS reports as
	 * incompatible-parameters) rather than crashing */
	static const char *const conf[] = {"Address already in use", "could not create any TCP/IP sockets",
					   "invalid value for parameter", "unrecognized configuration parameter",
					   "unknown variable", "Bind on TCP/IP port", "Cannot assign requested address",
					   "insufficient parameter settings", NULL};
	v->incompatible = false;
	for (int i = 0; conf[i]; i++)
		v->incompatible |= strstr(tail, conf[i]) != NULL;
	stop_timer(v);
	kill_helper(v);
	v->rebuild = false;
	if (v->pid > 0) {
		unwatch(D.loop, &v->pidfd);
		kill_server(v, SIGKILL);
		if (v->own_server)
			while (waitpid(v->pid, NULL, 0) < 0 && errno == EINTR)
				;
		v->pid = 0;
	}
	wipe_free(&v->password);
	wipe_free(&v->setup_sql);
	v->phase = PH_DONE;
	set_state(v, DBSUP_FAILED, msg);
}

/* ---- API ------------------------------------------------------------------------------------------- */

static struct srv *find(const char *id)
{
	for (int i = 0; i < MAX_SRV; i++)
		if (D.s[i].used && strcmp(D.s[i].id, id) == 0)
			return &D.s[i];
	return NULL;
}

static void find_pg(void)
{
	DIR *d = opendir("/usr/lib/postgresql");
	long best = -1;
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		char *end;
		long n = strtol(e->d_name, &end, 10);
		char p[PATH_CAP];
		if (*end || end == e->d_name || n <= best)
			continue;
		snprintf(p, sizeof p, "/usr/lib/postgresql/%ld/bin/postgres", n);
		if (is_exec(p)) {
			best = n;
			snprintf(D.pgbin, sizeof D.pgbin, "/usr/lib/postgresql/%ld/bin", n);
		}
	}
	closedir(d);
	D.have_pg = best >= 0;
}

static bool first_exec(char *out, const char *const *cands)
{
	for (; *cands; cands++)
		if (is_exec(*cands)) {
			snprintf(out, PATH_CAP, "%s", *cands);
			return true;
		}
	return false;
}

static void find_run_user(void)
{
	D.drop = geteuid() == 0;
	if (!D.drop)
		return;
	struct passwd *pw = getpwnam("rdsemu");
	if (!pw) {
		/* one short blocking child at startup (a few ms) */
		char *argv[] = {"useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "rdsemu",
				NULL};
		pid_t pid;
		if (posix_spawnp(&pid, "useradd", NULL, NULL, argv, environ) == 0)
			while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
				;
		pw = getpwnam("rdsemu");
	}
	if (!pw)
		pw = getpwnam("nobody");
	if (!pw) {
		D.drop = false;
		return;
	}
	D.uid = pw->pw_uid;
	D.gid = pw->pw_gid;
}

int dbsup_init(struct loop *l, struct emu_err *err)
{
	if (!l)
		return emu_err_set(err, ERR_INTERNAL, "dbsup_init: no loop");
	memset(&D, 0, sizeof D);
	D.loop = l;
	find_pg();
	static const char *const myd[] = {"/usr/sbin/mariadbd", "/usr/sbin/mysqld", "/usr/bin/mariadbd", NULL};
	static const char *const myi[] = {"/usr/bin/mariadb-install-db", "/usr/bin/mysql_install_db",
					  "/usr/sbin/mariadb-install-db", NULL};
	static const char *const myc[] = {"/usr/bin/mariadb", "/usr/bin/mysql", NULL};
	D.have_my = first_exec(D.mysqld, myd) && first_exec(D.myinstall, myi) && first_exec(D.myclient, myc);
	static const char *const fnd[] = {"/usr/bin/find", "/bin/find", NULL};
	if (!first_exec(D.find, fnd))
		snprintf(D.find, sizeof D.find, "/usr/bin/find"); /* a replica rebuild then fails with a message */
	find_run_user();
	D.up = true;
	log_msg(LOG_LVL_INFO, "dbsup", "postgres: %s; mariadb: %s; run user uid %d", D.have_pg ? D.pgbin : "not found",
		D.have_my ? D.mysqld : "not found", D.drop ? (int)D.uid : (int)geteuid());
	return 0;
}

int dbsup_available(enum dbsup_engine engine)
{
	return engine == DBSUP_POSTGRES ? D.have_pg : D.have_my;
}

static bool ident_ok(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > max)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' ||
		      (*s == '-')))
			return false;
	return true;
}

static int check_spec(const struct dbsup_spec *spec, struct emu_err *err)
{
	if (!D.up)
		return emu_err_set(err, ERR_INTERNAL, "database supervisor not initialised");
	if (!dbsup_available(spec->engine))
		return emu_err_set(err, ERR_INTERNAL, "%s binaries not found",
				   spec->engine == DBSUP_POSTGRES ? "PostgreSQL" : "MariaDB");
	const char *listen = spec->listen_addr ? spec->listen_addr : "";
	if (!ident_ok(spec->id, 63) || !ident_ok(spec->master_user, 63) ||
	    (spec->db_name && !ident_ok(spec->db_name, 63)) || !spec->master_password ||
	    strlen(spec->master_password) > 1000 || !spec->data_root || strlen(listen) > 45 || spec->port <= 0 ||
	    spec->port > 65535 || (spec->setup_sql && strlen(spec->setup_sql) > 60000))
		return emu_err_set(err, ERR_INVALID_PARAMETER_VALUE, "invalid database server spec");
	if (spec->primary_id && (spec->engine != DBSUP_POSTGRES || !ident_ok(spec->primary_id, 63) ||
				 strcmp(spec->primary_id, spec->id) == 0))
		return emu_err_set(err, ERR_INVALID_PARAMETER_VALUE, "invalid primary for a streaming replica");
	size_t n = strlen(spec->data_root) + 1 + strlen(spec->id) + strlen("/mysql.sock");
	if (n >= sizeof((struct sockaddr_un *)0)->sun_path - 20)
		return emu_err_set(err, ERR_INVALID_PARAMETER_VALUE, "data directory path too long for a unix socket");
	return 0;
}

/* Copies the spec into v (paths checked by check_spec); keeps the runtime
 * fields (pids, fds, timer, phase). */
static void configure(struct srv *v, const struct dbsup_spec *spec, dbsup_state_cb on_state, void *ud)
{
	snprintf(v->dir, sizeof v->dir, "%s/%s", spec->data_root, spec->id);
	snprintf(v->sock, sizeof v->sock, "%s/%s/mysql.sock", spec->data_root, spec->id);
	snprintf(v->log, sizeof v->log, "%s/%s.log", spec->data_root, spec->id);
	snprintf(v->id, sizeof v->id, "%s", spec->id);
	snprintf(v->listen, sizeof v->listen, "%s", spec->listen_addr ? spec->listen_addr : "");
	snprintf(v->primary, sizeof v->primary, "%s", spec->primary_id ? spec->primary_id : "");
	v->engine = spec->engine;
	v->port = spec->port;
	v->max_conn = spec->max_connections;
	wipe_free(&v->password);
	wipe_free(&v->setup_sql);
	free(v->user);
	free(v->db);
	v->user = util_strdup(spec->master_user);
	v->password = util_strdup(spec->master_password);
	v->db = spec->db_name ? util_strdup(spec->db_name) : NULL;
	v->setup_sql = spec->setup_sql && *spec->setup_sql ? util_strdup(spec->setup_sql) : NULL;
	v->cb = on_state;
	v->ud = ud;
}

/* Sends the shutdown signal; on_server_exit finishes (STOPPED, or a rebuild). */
static void begin_stop(struct srv *v)
{
	kill_helper(v);
	v->phase = PH_STOP;
	kill_server(v, v->engine == DBSUP_POSTGRES ? SIGINT : SIGTERM);
	v->deadline = clock_mono_ms() + STOP_BOUND_MS;
	arm(v);
}

static void begin_rebuild(struct srv *v)
{
	char msg[128];
	snprintf(msg, sizeof msg, "rebuilding as a replica of %s", v->primary);
	if (v->pid > 0) {
		v->rebuild = true;
		begin_stop(v);
		set_state(v, DBSUP_STARTING, msg);
	} else {
		kill_helper(v);
		stop_timer(v);
		set_state(v, DBSUP_STARTING, msg);
		start_wipe(v);
	}
}

/* Is the data dir fully initialised?  For a replica, a base backup cut
 * short has PG_VERSION but neither standby.signal nor the setup marker. */
static bool initialised(const struct srv *v)
{
	char p[PATH_CAP + 24];
	snprintf(p, sizeof p, "%s/%s", v->dir, v->engine == DBSUP_POSTGRES ? "PG_VERSION" : "mysql");
	if (!file_exists(p))
		return false;
	if (!v->primary[0])
		return true;
	snprintf(p, sizeof p, "%s/standby.signal", v->dir);
	if (file_exists(p))
		return true;
	snprintf(p, sizeof p, "%s.done", v->dir);
	return file_exists(p);
}

static int start_or_rebuild(const struct dbsup_spec *spec, dbsup_state_cb on_state, void *ud, bool rebuild,
			    struct emu_err *err)
{
	if (check_spec(spec, err) < 0)
		return -1;
	if (rebuild && !spec->primary_id)
		return emu_err_set(err, ERR_INVALID_PARAMETER_VALUE, "a rebuild needs the new primary");
	struct srv *v = find(spec->id);
	if (v && v->phase != PH_DONE) {
		if (!rebuild)
			return emu_err_set(err, ERR_INVALID_PARAMETER_VALUE, "database %s is already managed", spec->id);
		char dir[PATH_CAP];
		snprintf(dir, sizeof dir, "%s/%s", spec->data_root, spec->id);
		if (v->engine != spec->engine || strcmp(dir, v->dir) != 0)
			return emu_err_set(err, ERR_INVALID_PARAMETER_VALUE, "database %s: engine or data root differs",
					   spec->id);
		configure(v, spec, on_state, ud);
		begin_rebuild(v);
		return 0;
	}
	if (!v)
		for (int i = 0; i < MAX_SRV && !v; i++)
			if (!D.s[i].used)
				v = &D.s[i];
	if (!v)
		return emu_err_set(err, ERR_INTERNAL, "too many database servers");
	wipe_free(&v->password);
	wipe_free(&v->setup_sql);
	free(v->user);
	free(v->db);
	memset(v, 0, sizeof *v);
	v->pidfd = v->hpidfd = -1;
	configure(v, spec, on_state, ud);
	v->used = true;
	v->state = DBSUP_STARTING;
	v->phase = PH_NONE;

	char mark[PATH_CAP + 16];
	snprintf(mark, sizeof mark, "%s.done", v->dir);
	bool ready;
	pid_t old = read_pidfile(v, &ready);
	if (file_exists(mark) && pid_is_server(v, old)) {
		/* reattach: adopt the live server (not our child: watched, never reaped) */
		v->pid = old;
		/* our own child only if we started it before a supervisor restart */
		v->own_server = waitpid(old, NULL, WNOHANG) == 0;
		v->pidfd = watch_pid(old, on_server_exit, v);
		if (v->pidfd < 0) {
			v->pid = 0;
			v->used = false;
			return emu_err_set(err, ERR_INTERNAL, "pidfd_open(%d) failed", (int)old);
		}
		log_msg(LOG_LVL_INFO, "dbsup", "%s: reattached to running server pid %d", v->id, (int)old);
		if (rebuild) {
			begin_rebuild(v);
			return 0;
		}
		v->phase = PH_SERVER;
		v->deadline = clock_mono_ms() + START_BOUND_MS;
		set_state(v, DBSUP_STARTING, "");
		on_timer(D.loop, 0, v);
		return 0;
	}
	if (mkdir(spec->data_root, 0711) < 0 && errno != EEXIST)
		return emu_err_set(err, ERR_INTERNAL, "cannot create %s: %s", spec->data_root, strerror(errno));
	if (rebuild) {
		begin_rebuild(v);
		return 0;
	}
	set_state(v, DBSUP_STARTING, "");
	if (initialised(v)) {
		if (old > 0 && !pid_is_server(v, old)) {
			/* stale pid file of a dead server: the server itself handles postmaster.pid */
			if (v->engine == DBSUP_MARIADB) {
				char pf[PATH_CAP + 16];
				snprintf(pf, sizeof pf, "%s/mariadb.pid", v->dir);
				unlink(pf);
			}
		}
		start_server(v);
	} else if (v->primary[0]) {
		start_wipe(v); /* nothing, or the remains of a base backup cut short */
	} else {
		start_init(v);
	}
	return 0;
}

int dbsup_start(const struct dbsup_spec *spec, dbsup_state_cb on_state, void *ud, struct emu_err *err)
{
	return start_or_rebuild(spec, on_state, ud, false, err);
}

int dbsup_rebuild_as_replica(const struct dbsup_spec *spec, dbsup_state_cb on_state, void *ud, struct emu_err *err)
{
	return start_or_rebuild(spec, on_state, ud, true, err);
}

int dbsup_stop(const char *id, struct emu_err *err)
{
	struct srv *v = id ? find(id) : NULL;
	if (!v)
		return emu_err_set(err, ERR_INVALID_PARAMETER_VALUE, "no database server %s", id ? id : "");
	if (v->phase == PH_DONE)
		return 0;
	wipe_free(&v->password);
	wipe_free(&v->setup_sql);
	if (v->phase == PH_STOP) {
		if (v->rebuild) {
			/* a rebuild was stopping the server: just stop */
			v->rebuild = false;
			set_state(v, DBSUP_STOPPING, "");
		}
		return 0;
	}
	kill_helper(v);
	if (v->pid <= 0) {
		stop_timer(v);
		v->phase = PH_DONE;
		set_state(v, DBSUP_STOPPED, "");
		return 0;
	}
	begin_stop(v);
	set_state(v, DBSUP_STOPPING, "");
	return 0;
}

void dbsup_stop_all(void)
{
	if (!D.up)
		return;
	/* standbys first, so they let go of their primaries' WAL senders; all
	 * shut down concurrently, a primary's fast shutdown does not wait for
	 * its standbys beyond their connection closing */
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < MAX_SRV; i++)
			if (D.s[i].used && D.s[i].phase != PH_DONE && (dbsup_is_standby(D.s[i].id) == 1) == (pass == 0))
				dbsup_stop(D.s[i].id, NULL);
	long long end = clock_mono_ms() + STOP_BOUND_MS + 2000;
	for (;;) {
		bool busy = false;
		for (int i = 0; i < MAX_SRV; i++)
			busy |= D.s[i].used && D.s[i].phase == PH_STOP;
		if (!busy || clock_mono_ms() > end)
			break;
		loop_once(D.loop, POLL_MS);
	}
}

void dbsup_forget(const char *id)
{
	struct srv *v = find(id);
	if (!v || v->phase != PH_DONE)
		return;
	wipe_free(&v->password);
	wipe_free(&v->setup_sql);
	free(v->user);
	free(v->db);
	memset(v, 0, sizeof *v);
}

int dbsup_status(const char *id, enum dbsup_state *s, char *message, size_t cap)
{
	struct srv *v = find(id);
	if (!v)
		return -1;
	*s = v->state;
	if (message && cap)
		snprintf(message, cap, "%s", v->message);
	return 0;
}

const char *dbsup_aws_status(const char *id)
{
	struct srv *v = find(id);
	if (!v || v->state != DBSUP_FAILED)
		return NULL;
	return v->incompatible ? "incompatible-parameters" : "failed";
}

void dbsup_shutdown(void)
{
	if (!D.up)
		return;
	for (int i = 0; i < MAX_SRV; i++) {
		struct srv *v = &D.s[i];
		if (!v->used)
			continue;
		/* servers still running are left running (reattached by the next
		 * dbsup_start on the same data dir); helpers are killed */
		kill_helper(v);
		unwatch(D.loop, &v->pidfd);
		stop_timer(v);
		wipe_free(&v->password);
		wipe_free(&v->setup_sql);
		free(v->user);
		free(v->db);
		memset(v, 0, sizeof *v);
	}
	D.up = false;
}

const char *dbsup_state_name(enum dbsup_state s)
{
	switch (s) {
	case DBSUP_STARTING: return "starting";
	case DBSUP_RUNNING: return "running";
	case DBSUP_STOPPING: return "stopping";
	case DBSUP_STOPPED: return "stopped";
	case DBSUP_FAILED: return "failed";
	}
	return "unknown";
}

int dbsup_socket_path(const char *id, char *out, size_t cap)
{
	struct srv *v = id ? find(id) : NULL;
	if (!v || !out || cap == 0)
		return -1;
	int n = v->engine == DBSUP_POSTGRES ? snprintf(out, cap, "%s/.s.PGSQL.%d", v->dir, v->port)
					    : snprintf(out, cap, "%s", v->sock);
	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

int dbsup_is_standby(const char *id)
{
	struct srv *v = id ? find(id) : NULL;
	if (!v || v->engine != DBSUP_POSTGRES)
		return -1;
	if (v->phase == PH_PROMOTE)
		return 1; /* standby.signal may go a moment before writes are accepted */
	char p[PATH_CAP + 24];
	snprintf(p, sizeof p, "%s/PG_VERSION", v->dir);
	if (!file_exists(p))
		return -1;
	snprintf(p, sizeof p, "%s/standby.signal", v->dir);
	return file_exists(p) ? 1 : 0;
}

int dbsup_promote(const char *id, struct emu_err *err)
{
	struct srv *v = id ? find(id) : NULL;
	if (!v || v->engine != DBSUP_POSTGRES)
		return emu_err_set(err, ERR_INVALID_PARAMETER_VALUE, "no PostgreSQL server %s", id ? id : "");
	if (v->phase != PH_RUN || dbsup_is_standby(id) != 1)
		return emu_err_set(err, ERR_INVALID_PARAMETER_VALUE, "database %s is not a running standby", id);
	/* pg_ctl -w returns once the control file says "in production", which
	 * the startup process writes after it lets backends write WAL */
	char ctl[PATH_CAP + 16], why[PATH_CAP + 300];
	snprintf(ctl, sizeof ctl, "%s/pg_ctl", D.pgbin);
	char *argv[] = {ctl, "promote", "-D", v->dir, "-w", "-t", "60", "-s", NULL};
	v->phase = PH_PROMOTE;
	if (launch_helper(v, argv, environ, NULL, why, sizeof why) < 0) {
		v->phase = PH_RUN;
		return emu_err_set(err, ERR_INTERNAL, "database %s: cannot run pg_ctl promote: %s", id, why);
	}
	log_msg(LOG_LVL_INFO, "dbsup", "%s: promoting", v->id);
	return 0;
}

/* ---- admin statements on a running server ---------------------------------------------------- */

struct admin_job {
	struct srv *v;
	pid_t pid;
	int pidfd;
	dbsup_done_cb done;
	void *ud;
	char id[64];
};

static void on_admin_exit(struct loop *l, int fd, uint32_t events, void *ud)
{
	(void)events;
	struct admin_job *j = ud;
	int st = 0;
	while (waitpid(j->pid, &st, 0) < 0 && errno == EINTR)
		;
	loop_del_fd(l, fd);
	close(fd);
	bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
	if (!ok)
		log_msg(LOG_LVL_WARN, "dbsup", "%s: admin statement failed (see %s)", j->id, j->v->log);
	if (j->done)
		j->done(j->ud, j->id, ok);
	free(j);
}

int dbsup_admin_sql(const char *id, const char *password, const char *sql, dbsup_done_cb done, void *ud,
                    struct emu_err *err)
{
	struct srv *v = find(id);
	if (!v || v->state != DBSUP_RUNNING || v->phase != PH_RUN)
		return emu_err_set(err, ERR_INVALID_PARAMETER_VALUE, "database %s is not running", id ? id : "");
	if (!password || strlen(password) > 1000 || !sql || strlen(sql) > 60000)
		return emu_err_set(err, ERR_INVALID_PARAMETER_VALUE, "invalid admin statement");
	struct admin_job *j = calloc(1, sizeof *j);
	if (!j)
		return emu_err_set(err, ERR_INTERNAL, "out of memory");
	j->v = v;
	j->done = done;
	j->ud = ud;
	snprintf(j->id, sizeof j->id, "%s", id);
	char envpw[1200], portopt[16], psql[PATH_CAP + 16], sockopt[PATH_CAP + 16];
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		free(j);
		return emu_err_set(err, ERR_INTERNAL, "pipe failed");
	}
	char why[PATH_CAP + 300] = "";
	if (v->engine == DBSUP_POSTGRES) {
		snprintf(psql, sizeof psql, "%s/psql", D.pgbin);
		snprintf(portopt, sizeof portopt, "%d", v->port);
		snprintf(envpw, sizeof envpw, "PGPASSWORD=%s", password);
		char *envp[] = {envpw, "PGCONNECT_TIMEOUT=10", "LC_ALL=C", NULL};
		char *argv[] = {psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", v->dir, "-p", portopt,
				"-U", v->user, "-d", "postgres", NULL};
		j->pid = spawn(v, argv, envp, p[0], why, sizeof why);
	} else {
		/* root@localhost carries the master password too (start_setup) */
		snprintf(sockopt, sizeof sockopt, "--socket=%s", v->sock);
		snprintf(envpw, sizeof envpw, "MYSQL_PWD=%s", password);
		char *envp[] = {envpw, "LC_ALL=C", NULL};
		char *argv[] = {D.myclient, "--no-defaults", sockopt, "-uroot", "--batch", NULL};
		j->pid = spawn(v, argv, envp, p[0], why, sizeof why);
	}
	OPENSSL_cleanse(envpw, sizeof envpw);
	close(p[0]);
	if (j->pid > 0) {
		size_t len = strlen(sql);
		if (write(p[1], sql, len) != (ssize_t)len)
			log_msg(LOG_LVL_WARN, "dbsup", "%s: short write to the admin client", v->id);
	}
	close(p[1]);
	if (j->pid <= 0) {
		free(j);
		return emu_err_set(err, ERR_INTERNAL, "%s", why);
	}
	j->pidfd = pidfd_open(j->pid, 0);
	if (j->pidfd < 0 || loop_add_fd(D.loop, j->pidfd, EPOLLIN, on_admin_exit, j) < 0) {
		kill(j->pid, SIGKILL);
		while (waitpid(j->pid, NULL, 0) < 0 && errno == EINTR)
			;
		if (j->pidfd >= 0)
			close(j->pidfd);
		free(j);
		return emu_err_set(err, ERR_INTERNAL, "pidfd_open failed");
	}
	return 0;
}
