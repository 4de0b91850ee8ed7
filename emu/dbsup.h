/*
 * The local database supervisor: real PostgreSQL / MariaDB servers behind
 * emulated RDS instances.  Pure process management (no RDS knowledge): the
 * RDS domain names an instance, a data root, a loopback address and port and
 * the master credentials; this module initialises the data directory, runs
 * the server as a child watched on the loop and reports state changes.
 */
#ifndef EMU_DBSUP_H
#define EMU_DBSUP_H

#include <stddef.h>

struct loop;
struct emu_err;

enum dbsup_engine { DBSUP_POSTGRES, DBSUP_MARIADB };

enum dbsup_state {
	DBSUP_STARTING, /* initdb or base backup / server start / first-time setup in progress */
	DBSUP_RUNNING,  /* accepting connections (read-only ones for a standby) */
	DBSUP_STOPPING, /* shutdown signal sent */
	DBSUP_STOPPED,  /* server exited after a stop */
	DBSUP_FAILED,   /* could not start or exited unexpectedly; message = log tail */
};

struct dbsup_spec {
	enum dbsup_engine engine;
	const char *id;        /* instance id: names <data_root>/<id> and <data_root>/<id>.log */
	const char *data_root; /* <state-dir>/db, or a temp dir; must be traversable by the run user */
	const char *listen_addr; /* TCP address; NULL or "" = unix socket only (see dbsup_socket_path) */
	int port;                /* TCP port; for PostgreSQL also names the socket, so needed anyway */
	const char *master_user, *master_password, *db_name; /* db_name may be NULL */
	int max_connections;                                  /* 0 = server default */
	/* PostgreSQL only: the id of a managed server to follow as a streaming
	 * hot standby, NULL = a normal server.  The first start takes a base
	 * backup of it (it must then be RUNNING, else FAILED "primary ... is not
	 * running"); master_user / master_password must be the primary's (the
	 * data is a physical copy).  A data dir that already holds a standby
	 * (standby.signal) starts as one again without needing the primary; one
	 * that holds a primary (e.g. promoted) starts as a primary: use
	 * dbsup_rebuild_as_replica to turn it into a standby. */
	const char *primary_id;
	/* SQL run once as the master user when the data dir is first created
	 * (after the master user and db_name exist; in db_name when given),
	 * e.g. application users and grants; NULL = none.  At most 60000 bytes.
	 * A failing statement fails the start (FAILED, with the client's error). */
	const char *setup_sql;
};

typedef void (*dbsup_state_cb)(void *ud, const char *id, enum dbsup_state s, const char *message);

/* Finds the server binaries and the unprivileged run user (when euid is 0:
 * system user "rdsemu", created with useradd if absent, else "nobody"). */
int dbsup_init(struct loop *l, struct emu_err *err);
/* True when the engine's binaries were found by dbsup_init. */
int dbsup_available(enum dbsup_engine engine);
/* Non-blocking: adopts a live server on the data dir, or initialises (first
 * time) and starts one; on_state is called on every change. */
int dbsup_start(const struct dbsup_spec *spec, dbsup_state_cb on_state, void *ud, struct emu_err *err);
/* Non-blocking clean shutdown; STOPPED is reported when the server exits
 * (SIGKILL after a bound). */
int dbsup_stop(const char *id, struct emu_err *err);
/* At emulator exit, after loop_run has returned: stops every server (standbys
 * are signalled first, all shut down concurrently), running the loop itself
 * (loop_once) for at most ~17 s. */
void dbsup_stop_all(void);
/* Forgets a STOPPED or FAILED instance. */
void dbsup_forget(const char *id);
int dbsup_status(const char *id, enum dbsup_state *s, char *message, size_t cap);
/* For a FAILED server, the AWS DB instance status: "incompatible-parameters"
 * when the server rejected its configuration (port in use, bad parameter),
 * else "failed"; NULL when not failed or unknown. */
const char *dbsup_aws_status(const char *id);
/* Releases every record (call dbsup_stop_all first); servers still running
 * are left running and reattached by a later dbsup_start. */
void dbsup_shutdown(void);
const char *dbsup_state_name(enum dbsup_state s);
/* The server's unix socket, to connect() to: <dir>/.s.PGSQL.<port> for
 * PostgreSQL (libpq: host=<dir> port=<port>), the socket file for MariaDB.
 * Its directory is private to the run user: connect as root or as that user.
 * 0, or -1 for an unknown id or a too small buffer. */
int dbsup_socket_path(const char *id, char *out, size_t cap);
/* 1 for a PostgreSQL standby (standby.signal present, or a promotion under
 * way), 0 for a primary, -1 unknown (no such server, MariaDB, no data dir). */
int dbsup_is_standby(const char *id);
/* Non-blocking promotion of a RUNNING standby (pg_ctl promote, waiting for
 * the end of recovery): on_state then reports RUNNING with the message
 * "promoted" once the server accepts writes, or RUNNING with "promote failed:
 * <log tail>" when it stays a standby (the server keeps running either way). */
int dbsup_promote(const char *id, struct emu_err *err);
/* Turns a server into a fresh standby of spec->primary_id (required; e.g. an
 * old primary after a failover): stops it if it runs, empties its data dir
 * and starts it as by dbsup_start with a new base backup.  on_state reports
 * STARTING "rebuilding as a replica of <primary>" at once (no STOPPING or
 * STOPPED on the way), then RUNNING or FAILED.  The data root must not change. */
int dbsup_rebuild_as_replica(const struct dbsup_spec *spec, dbsup_state_cb on_state, void *ud, struct emu_err *err);
/* Runs SQL (on stdin of psql / the mariadb client) as the master user with
 * `password` over the socket of a RUNNING server, without blocking; done
 * (may be NULL) is called with ok = the client's success.  For changing the
 * master password of a live server (ModifyDBInstance).  A job still running
 * at dbsup_shutdown is abandoned (its child is reaped by nobody). */
typedef void (*dbsup_done_cb)(void *ud, const char *id, int ok);
int dbsup_admin_sql(const char *id, const char *password, const char *sql, dbsup_done_cb done, void *ud,
                    struct emu_err *err);

#endif
