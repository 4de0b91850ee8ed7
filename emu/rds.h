/*
 * The RDS control plane domain (DB instances, clusters).  Functions take and
 * return the API's JSON (member names as in botocore's rds model) and run
 * in their own savepoint, like every domain in emu/.
 *
 * Servers: the domain starts no database server itself.  The lead wires a
 * supervisor through rds_set_instance_hooks(): `start` is called after an
 * instance row is committed to status "creating" (and after a reboot, with
 * status "rebooting"); the supervisor reports back with
 * rds_instance_set_status(..., "available").  `stop` is called when an
 * instance is deleted.  With no hooks an instance is `available` at once.
 */
#ifndef EMU_RDS_H
#define EMU_RDS_H

#include "emu/call.h"
#include "emu/err.h"

#include <jansson.h>
#include <stdbool.h>

struct store;

struct rds_instance_hooks {
	/* inst: the DBInstance JSON (borrowed); master_password may be NULL.
	 * Return 0, or -1 with err filled (the request fails and rolls back). */
	int (*start)(void *ctx, const char *account, const char *region, const json_t *inst,
	             const char *master_password, struct emu_err *err);
	void (*stop)(void *ctx, const char *account, const char *region, const char *id);
	/* When set, RebootDBInstance calls this instead of stop + start
	 * (failover: ForceFailover of a Multi-AZ instance). */
	void (*reboot)(void *ctx, const char *account, const char *region, const char *id, bool failover);
	void *ctx;
};

/* NULL clears the hooks (instances become available at once). */
void rds_set_instance_hooks(const struct rds_instance_hooks *h);

/* The runtime's change hook: called by the RDS domain files (inside their
 * transaction) whenever what servers should run, or which of them is a
 * writer, may have changed (instance or cluster created, modified,
 * rebooted, deleted, failed over; proxy targets changed).  The runtime
 * only marks itself dirty there and reconciles after the request. */
void rds_set_change_hook(void (*fn)(void *ctx), void *ctx);
void rds_changed(void);

/* Supervisor callback: sets DBInstanceStatus of an instance ("available",
 * "failed", ...).  0, or -1 (not found / storage error). */
int rds_instance_set_status(struct store *s, const char *account, const char *region, const char *id,
                            const char *status, struct emu_err *err);

/* Clusters (emu/rds_cluster.c) need no server of their own: a cluster is
 * `available` at once; its members are instances.  FailoverDBCluster swaps
 * the writer in DBClusterMembers and leaves Status "failing-over"; the
 * runtime promotes the replica and then reports "available" here.
 * 0, or -1 (not found / storage error). */
int rds_cluster_set_status(struct store *s, const char *account, const char *region, const char *id,
                           const char *status, struct emu_err *err);
/* The writer instance of a cluster: 1 found (out), 0 none, -1 error. */
int rds_cluster_writer(struct store *s, const char *account, const char *region, const char *cluster,
                       char out[64]);

/* RDS Proxy (emu/rds_proxy.c).  The data plane's target health: when the
 * control plane sees an RDS_INSTANCE target as AVAILABLE (its instance is
 * available and the proxy has an Auth list or end-to-end IAM), fn gets the
 * DBProxy and DBProxyTarget JSON and returns 0 with *health a new
 * TargetHealth object, or -1 to leave it AVAILABLE.  NULL fn: no hook. */
void rds_set_target_health_hook(int (*fn)(void *ctx, const json_t *proxy, const json_t *target, json_t **health),
                                void *ctx);
/* Whether a proxy document's DebugLogging is on at time now: it turns
 * itself off RDS_PROXY_DEBUG_SECONDS after it was turned on (the time is
 * kept in the stored document under RDS_PROXY_DEBUG_SINCE, never shown). */
#define RDS_PROXY_DEBUG_SINCE "rdsemu:DebugLoggingSince"
#define RDS_PROXY_DEBUG_SECONDS 86400.0
bool rds_proxy_debug_logging(const json_t *doc, double now);
/* The ARN of the proxy named name (case-insensitive), for IAM
 * authorization at dispatch: 1 found, 0 not, -1 error. */
int rds_proxy_arn(struct store *s, const char *account, const char *region, const char *name, char out[256]);

/* Fixtures: SQL statements (a JSON list of strings) run once as the master
 * user when the instance's server is first created. */
int rds_instance_set_init_sql(struct store *s, const char *account, const char *region, const char *id,
                              json_t *statements, struct emu_err *err);

#define RDS_OP(name) int rds_##name(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
RDS_OP(create_db_instance);
RDS_OP(describe_db_instances);
RDS_OP(modify_db_instance);
RDS_OP(delete_db_instance);
RDS_OP(reboot_db_instance);
RDS_OP(create_db_cluster);
RDS_OP(describe_db_clusters);
RDS_OP(modify_db_cluster);
RDS_OP(delete_db_cluster);
RDS_OP(failover_db_cluster);
RDS_OP(create_db_proxy);
RDS_OP(describe_db_proxies);
RDS_OP(modify_db_proxy);
RDS_OP(delete_db_proxy);
RDS_OP(register_db_proxy_targets);
RDS_OP(deregister_db_proxy_targets);
RDS_OP(describe_db_proxy_targets);
RDS_OP(describe_db_proxy_target_groups);
RDS_OP(modify_db_proxy_target_group);
RDS_OP(create_db_proxy_endpoint);
RDS_OP(describe_db_proxy_endpoints);
RDS_OP(modify_db_proxy_endpoint);
RDS_OP(delete_db_proxy_endpoint);
RDS_OP(add_tags_to_resource);
RDS_OP(remove_tags_from_resource);
RDS_OP(list_tags_for_resource);
#undef RDS_OP

#endif
