/*
 * What the RDS domain files call in each other beyond rds_common.h: the
 * cluster membership of DB instances (emu/rds_cluster.c, called by the
 * instance operations of emu/rds.c).  Every function runs inside the
 * caller's savepoint.  Internal to emu/rds*.c.
 */
#ifndef EMU_RDS_INT_H
#define EMU_RDS_INT_H

#include "emu/call.h"
#include "emu/err.h"

#include <jansson.h>

/* May an instance of engine join cluster (an identifier or cluster ARN)?
 * DBClusterNotFoundFault, or InvalidParameterCombination when the engines
 * differ.  *port = the cluster's port, which its members take. */
int rds_cluster_member_check(struct emu_call *call, const char *cluster, const char *engine, int *port,
                             struct emu_err *err);

/* Adds instance (lower case) to the DBClusterMembers of cluster: the first
 * member is the writer, later ones readers; tier is its PromotionTier
 * (0..15).  Fills inst_doc with what a member takes from its cluster
 * (DBClusterIdentifier, MasterUsername, DBName, EngineVersion,
 * IAMDatabaseAuthenticationEnabled, PromotionTier, storage).  Checks as
 * rds_cluster_member_check. */
int rds_cluster_add_member(struct emu_call *call, const char *cluster, const char *instance, long long tier,
                           json_t *inst_doc, struct emu_err *err);

/* Drops instance from the members of cluster (no error when either is
 * gone).  A deleted writer hands over to the reader with the lowest
 * PromotionTier, then name. */
int rds_cluster_remove_member(struct emu_call *call, const char *cluster, const char *instance,
                              struct emu_err *err);

#endif
