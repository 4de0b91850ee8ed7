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
	DBSUP_STARTING, /* initdb / server start / first-time setup in progress */
	DBSUP_RUNNING,  /* accepting connections */
	DBSUP_STOPPING, /* shutdown signal sent */
	DBSUP_STOPPED,  /* server exited after a stop */
	DBSUP_FAILED,   /* could not start or exited unexpectedly; message = log tail */
};

struct dbsup_spec {
	enum dbsup_engine engine;
	const char *id;        /* instance id: names <data_root>/<id> and <data_root>/<id>.log */
	const char *data_root; /* <state-dir>/db, or a temp dir; must be traversable by the run user */
	const char *listen_addr;
	int port;
	const char *master_user, *master_password, *db_name; /* db_name may be NULL */
	int max_connections;                                  /* 0 = server default */
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
/* At emulator exit, after loop_run has returned: stops every server, running
 * the loop itself (loop_once) for at most ~17 s. */
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

#endif
