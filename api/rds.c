/*
 * rds.c (api/) owns the RDS operation table: the operations of the
 * 2014-10-31 Query API that rdsemu implements, as data (name, domain
 * function, IAM action, write flag) for the Query dispatcher in
 * api/http.c.  The meaning of each operation lives in emu/rds*.c.
 * Invariant: the table is sorted by name (strcmp order; binary search).
 */
#include "api/rds.h"

#include "emu/rds.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define OP(name, fn, write) {#name, fn, "rds:" #name, write}

const struct api_op rds_ops[] = {
	OP(AddTagsToResource, rds_add_tags_to_resource, true),
	OP(CreateDBCluster, rds_create_db_cluster, true),
	OP(CreateDBInstance, rds_create_db_instance, true),
	OP(CreateDBProxy, rds_create_db_proxy, true),
	OP(CreateDBProxyEndpoint, rds_create_db_proxy_endpoint, true),
	OP(DeleteDBCluster, rds_delete_db_cluster, true),
	OP(DeleteDBInstance, rds_delete_db_instance, true),
	OP(DeleteDBProxy, rds_delete_db_proxy, true),
	OP(DeleteDBProxyEndpoint, rds_delete_db_proxy_endpoint, true),
	OP(DeregisterDBProxyTargets, rds_deregister_db_proxy_targets, true),
	OP(DescribeDBClusters, rds_describe_db_clusters, false),
	OP(DescribeDBInstances, rds_describe_db_instances, false),
	OP(DescribeDBProxies, rds_describe_db_proxies, false),
	OP(DescribeDBProxyEndpoints, rds_describe_db_proxy_endpoints, false),
	OP(DescribeDBProxyTargetGroups, rds_describe_db_proxy_target_groups, false),
	OP(DescribeDBProxyTargets, rds_describe_db_proxy_targets, false),
	OP(FailoverDBCluster, rds_failover_db_cluster, true),
	OP(ListTagsForResource, rds_list_tags_for_resource, false),
	OP(ModifyDBCluster, rds_modify_db_cluster, true),
	OP(ModifyDBInstance, rds_modify_db_instance, true),
	OP(ModifyDBProxy, rds_modify_db_proxy, true),
	OP(ModifyDBProxyEndpoint, rds_modify_db_proxy_endpoint, true),
	OP(ModifyDBProxyTargetGroup, rds_modify_db_proxy_target_group, true),
	OP(RebootDBInstance, rds_reboot_db_instance, true),
	OP(RegisterDBProxyTargets, rds_register_db_proxy_targets, true),
	OP(RemoveTagsFromResource, rds_remove_tags_from_resource, true),
};

const size_t rds_ops_count = sizeof rds_ops / sizeof rds_ops[0];

const struct api_op *rds_op_find(const char *name, size_t len)
{
	size_t lo = 0, hi = rds_ops_count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *n = rds_ops[mid].name;
		size_t nl = strlen(n);
		int c = strncmp(n, name, nl < len ? nl : len);
		if (c == 0)
			c = nl < len ? -1 : nl > len ? 1 : 0;
		if (c == 0)
			return &rds_ops[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

void rds_authz_resource(struct emu_call *call, json_t *in, char *out, size_t n)
{
	const char *region = call->region, *account = call->account;
	const char *proxy = json_string_value(json_object_get(in, "DBProxyName"));
	if (proxy && !json_object_get(in, "DBInstanceIdentifiers") && !json_object_get(in, "DBClusterIdentifiers")) {
		/* a proxy's ARN carries its resource id, not its name: looked up */
		char arn[256];
		if (rds_proxy_arn(call->store, account, region, proxy, arn) == 1)
			snprintf(out, n, "%s", arn);
		return;
	}
	const char *v = json_string_value(json_object_get(in, "DBInstanceIdentifier"));
	const char *r = json_string_value(json_object_get(in, "ResourceName"));
	const char *type = "db";
	if (!v && (v = json_string_value(json_object_get(in, "DBClusterIdentifier"))))
		type = "cluster";
	if (v && strncmp(v, "arn:", 4) != 0) {
		char lower[64];
		size_t i = 0;
		for (; v[i] && i < sizeof lower - 1; i++)
			lower[i] = (char)tolower((unsigned char)v[i]);
		lower[i] = '\0';
		snprintf(out, n, "arn:aws:rds:%s:%s:%s:%s", region, account, type, lower);
	} else if (v || r) {
		snprintf(out, n, "%.1100s", v ? v : r);
	}
}
