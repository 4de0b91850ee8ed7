/*
 * The RDS runtime: makes the processes and sockets match what the store
 * says.  For every DB instance it runs a real server through the supervisor
 * (a PostgreSQL streaming standby too for Multi-AZ instances; readers of an
 * Aurora PostgreSQL cluster are standbys of the writer), promotes and
 * rebuilds servers when a failover moves the writer, sets instance and
 * cluster statuses from what the servers do, and keeps one listener per
 * instance / cluster endpoint that relays connections 1:1 to the right
 * server (wire/forward.c).  Deleted instances' servers are stopped and
 * their data removed.
 *
 * Reconciling, not commanding: domain code only marks the runtime dirty
 * (rds_changed); runtime_sync() reads the committed rows after the request
 * and acts, so a rolled back request never starts anything and a restart
 * of the emulator resumes from the store and the data directories.
 */
#ifndef WIRE_RUNTIME_H
#define WIRE_RUNTIME_H

#include <stdbool.h>

struct loop;
struct store;
struct emu_err;

/* data_root: where servers keep their data (<state-dir>/db, or a temp dir);
 * NULL = run no servers (--databases off): instances are control plane only,
 * but endpoints of instances bound to existing servers (rdsemu:backend)
 * still relay.  Without the supervisor's binaries it is as with NULL. */
int runtime_init(struct loop *l, struct store *s, const char *data_root, struct emu_err *err);
/* Reconciles if something changed since the last call (cheap otherwise);
 * force: reconcile anyway (the 1 s janitor, to follow server states). */
void runtime_sync(bool force);
struct fwd_backend;
/* Where instance id's server takes connections now (its primary's socket,
 * or the existing server it is bound to) and its max_connections.  0, or
 * -1 when it has none running. */
int runtime_instance_backend(const char *account, const char *region, const char *id, struct fwd_backend *out,
                             int *max_conn);
/* Where a connection to the endpoint (kind, owner) goes now: an instance's
 * server, a cluster's writer, or one of its readers (round robin).  0, or -1. */
int runtime_endpoint_backend(const char *kind, const char *account, const char *region, const char *owner,
                             struct fwd_backend *out);
/* Where a proxy's new backend connection to a cluster goes now: its
 * writer once promoted, or (reader) one of its readers, round robin on *rr.
 * instance gets the instance id.  0, or -1 when none is reachable now. */
int runtime_cluster_backend(const char *account, const char *region, const char *cluster, bool reader, unsigned *rr,
                            struct fwd_backend *out, char instance[64], int *max_conn);
/* Proxy endpoints of the PostgreSQL family get listeners (wire/pgproxy.c,
 * once main.c has wired its hooks). */
void runtime_enable_proxies(void);

/* At exit: closes listeners, stops every server (blocking, bounded). */
void runtime_shutdown(void);

#endif
