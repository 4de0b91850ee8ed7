/*
 * secretsmanager.c owns the Secrets Manager operation table: the 23
 * operations of the 2017-10-17 API as data (name, domain function, IAM
 * action, write flag) for the JSON dispatcher in api/http.c.  The meaning
 * of each operation lives in emu/secrets*.c; nothing here looks inside a
 * request.  Invariant: the table is sorted by name (binary search).
 */
#include "api/api.h"

#include "emu/secrets.h"

#include <string.h>

#define OP(name, fn, write) {#name, fn, "secretsmanager:" #name, write}

const struct api_op sm_ops[] = {
	OP(BatchGetSecretValue, sm_batch_get_secret_value, false),
	OP(CancelRotateSecret, sm_cancel_rotate_secret, true),
	OP(CreateSecret, sm_create_secret, true),
	OP(DeleteResourcePolicy, sm_delete_resource_policy, true),
	OP(DeleteSecret, sm_delete_secret, true),
	OP(DescribeSecret, sm_describe_secret, false),
	OP(GetRandomPassword, sm_get_random_password, false),
	OP(GetResourcePolicy, sm_get_resource_policy, false),
	OP(GetSecretValue, sm_get_secret_value, false),
	OP(ListSecretVersionIds, sm_list_secret_version_ids, false),
	OP(ListSecrets, sm_list_secrets, false),
	OP(PutResourcePolicy, sm_put_resource_policy, true),
	OP(PutSecretValue, sm_put_secret_value, true),
	OP(RemoveRegionsFromReplication, sm_remove_regions_from_replication, true),
	OP(ReplicateSecretToRegions, sm_replicate_secret_to_regions, true),
	OP(RestoreSecret, sm_restore_secret, true),
	OP(RotateSecret, sm_rotate_secret, true),
	OP(StopReplicationToReplica, sm_stop_replication_to_replica, true),
	OP(TagResource, sm_tag_resource, true),
	OP(UntagResource, sm_untag_resource, true),
	OP(UpdateSecret, sm_update_secret, true),
	OP(UpdateSecretVersionStage, sm_update_secret_version_stage, true),
	OP(ValidateResourcePolicy, sm_validate_resource_policy, false),
};

const size_t sm_ops_count = sizeof sm_ops / sizeof sm_ops[0];

const struct api_op *sm_op_find(const char *name, size_t len)
{
	size_t lo = 0, hi = sm_ops_count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *n = sm_ops[mid].name;
		size_t nl = strlen(n);
		int c = strncmp(n, name, nl < len ? nl : len);
		if (c == 0)
			c = nl < len ? -1 : nl > len ? 1 : 0;
		if (c == 0)
			return &sm_ops[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}
