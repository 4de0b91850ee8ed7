/*
 * The RDS operation table (api/rds.c) for the Query dispatcher: signing
 * name "rds", API version 2014-10-31; resources are scoped by the caller's
 * account and the credential scope's region.
 */
#ifndef API_RDS_H
#define API_RDS_H

#include "api/api.h"

#include <stddef.h>

/* Operation by exact name (len bytes, need not be NUL-terminated), or NULL. */
const struct api_op *rds_op_find(const char *name, size_t len);
extern const struct api_op rds_ops[];
extern const size_t rds_ops_count;

/* The resource an RDS request is authorized on: the instance or cluster ARN
 * its DBInstanceIdentifier / DBClusterIdentifier names (identifier or ARN),
 * the proxy its DBProxyName names (Register/DeregisterDBProxyTargets are
 * authorized on "*": they name a database too), the ResourceName of the
 * tagging calls, or "*" (left as is in out). */
void rds_authz_resource(struct emu_call *call, json_t *in, char *out, size_t n);

#endif
