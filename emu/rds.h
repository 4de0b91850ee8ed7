/*
 * The RDS control plane domain (DB instances for now).  Functions take and
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

struct store;

struct rds_instance_hooks {
	/* inst: the DBInstance JSON (borrowed); master_password may be NULL.
	 * Return 0, or -1 with err filled (the request fails and rolls back). */
	int (*start)(void *ctx, const char *account, const char *region, const json_t *inst,
	             const char *master_password, struct emu_err *err);
	void (*stop)(void *ctx, const char *account, const char *region, const char *id);
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

#define RDS_OP(name) int rds_##name(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
RDS_OP(create_db_instance);
RDS_OP(describe_db_instances);
RDS_OP(modify_db_instance);
RDS_OP(delete_db_instance);
RDS_OP(reboot_db_instance);
RDS_OP(add_tags_to_resource);
RDS_OP(remove_tags_from_resource);
RDS_OP(list_tags_for_resource);
#undef RDS_OP

#endif
