/*
 * iam.c (api/) owns the IAM operation table: the operations of the
 * 2010-05-08 Query API that rdsemu implements, as data (name, domain
 * function, IAM action, write flag) for the Query dispatcher in
 * api/http.c.  The meaning of each operation lives in emu/iam*.c; nothing
 * here looks inside a request.  Invariant: the table is sorted by name
 * (strcmp order; binary search).
 */
#include "api/iam.h"

#include "emu/iam.h"

#include <string.h>

#define OP(name, fn, write) {#name, fn, "iam:" #name, write}

const struct api_op iam_ops[] = {
	OP(AttachRolePolicy, iam_attach_role_policy, true),
	OP(AttachUserPolicy, iam_attach_user_policy, true),
	OP(CreateAccessKey, iam_create_access_key, true),
	OP(CreatePolicy, iam_create_policy, true),
	OP(CreatePolicyVersion, iam_create_policy_version, true),
	OP(CreateRole, iam_create_role, true),
	OP(CreateUser, iam_create_user, true),
	OP(DeleteAccessKey, iam_delete_access_key, true),
	OP(DeletePolicy, iam_delete_policy, true),
	OP(DeletePolicyVersion, iam_delete_policy_version, true),
	OP(DeleteRole, iam_delete_role, true),
	OP(DeleteRolePolicy, iam_delete_role_policy, true),
	OP(DeleteUser, iam_delete_user, true),
	OP(DeleteUserPolicy, iam_delete_user_policy, true),
	OP(DetachRolePolicy, iam_detach_role_policy, true),
	OP(DetachUserPolicy, iam_detach_user_policy, true),
	OP(GetAccessKeyLastUsed, iam_get_access_key_last_used, false),
	OP(GetPolicy, iam_get_policy, false),
	OP(GetPolicyVersion, iam_get_policy_version, false),
	OP(GetRole, iam_get_role, false),
	OP(GetRolePolicy, iam_get_role_policy, false),
	OP(GetUser, iam_get_user, false),
	OP(GetUserPolicy, iam_get_user_policy, false),
	OP(ListAccessKeys, iam_list_access_keys, false),
	OP(ListAttachedRolePolicies, iam_list_attached_role_policies, false),
	OP(ListAttachedUserPolicies, iam_list_attached_user_policies, false),
	OP(ListEntitiesForPolicy, iam_list_entities_for_policy, false),
	OP(ListPolicies, iam_list_policies, false),
	OP(ListPolicyTags, iam_list_policy_tags, false),
	OP(ListPolicyVersions, iam_list_policy_versions, false),
	OP(ListRolePolicies, iam_list_role_policies, false),
	OP(ListRoleTags, iam_list_role_tags, false),
	OP(ListRoles, iam_list_roles, false),
	OP(ListUserPolicies, iam_list_user_policies, false),
	OP(ListUserTags, iam_list_user_tags, false),
	OP(ListUsers, iam_list_users, false),
	OP(PutRolePolicy, iam_put_role_policy, true),
	OP(PutUserPolicy, iam_put_user_policy, true),
	OP(SetDefaultPolicyVersion, iam_set_default_policy_version, true),
	OP(TagPolicy, iam_tag_policy, true),
	OP(TagRole, iam_tag_role, true),
	OP(TagUser, iam_tag_user, true),
	OP(UntagPolicy, iam_untag_policy, true),
	OP(UntagRole, iam_untag_role, true),
	OP(UntagUser, iam_untag_user, true),
	OP(UpdateAccessKey, iam_update_access_key, true),
	OP(UpdateAssumeRolePolicy, iam_update_assume_role_policy, true),
	OP(UpdateRole, iam_update_role, true),
	OP(UpdateRoleDescription, iam_update_role_description, true),
	OP(UpdateUser, iam_update_user, true),
};

const size_t iam_ops_count = sizeof iam_ops / sizeof iam_ops[0];

const struct api_op *iam_op_find(const char *name, size_t len)
{
	size_t lo = 0, hi = iam_ops_count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *n = iam_ops[mid].name;
		size_t nl = strlen(n);
		int c = strncmp(n, name, nl < len ? nl : len);
		if (c == 0)
			c = nl < len ? -1 : nl > len ? 1 : 0;
		if (c == 0)
			return &iam_ops[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}
