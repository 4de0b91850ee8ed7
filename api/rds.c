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
	OP(CreateDBInstance, rds_create_db_instance, true),
	OP(DeleteDBInstance, rds_delete_db_instance, true),
	OP(DescribeDBInstances, rds_describe_db_instances, false),
	OP(ListTagsForResource, rds_list_tags_for_resource, false),
	OP(ModifyDBInstance, rds_modify_db_instance, true),
	OP(RebootDBInstance, rds_reboot_db_instance, true),
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

void rds_authz_resource(const char *region, const char *account, json_t *in, char *out, size_t n)
{
	const char *v = json_string_value(json_object_get(in, "DBInstanceIdentifier"));
	const char *r = json_string_value(json_object_get(in, "ResourceName"));
	if (v && strncmp(v, "arn:", 4) != 0) {
		char lower[64];
		size_t i = 0;
		for (; v[i] && i < sizeof lower - 1; i++)
			lower[i] = (char)tolower((unsigned char)v[i]);
		lower[i] = '\0';
		snprintf(out, n, "arn:aws:rds:%s:%s:db:%s", region, account, lower);
	} else if (v || r) {
		snprintf(out, n, "%.1100s", v ? v : r);
	}
}
