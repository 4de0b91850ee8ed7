/*
 * kms.c owns the KMS operation table: the operations of the 2014-11-01 API
 * (JSON 1.1, target prefix TrentService) that rdsemu implements, as data
 * (name, domain function, IAM action, write flag) for the JSON dispatcher in
 * api/http.c.  The meaning of each operation lives in emu/kms*.c.
 * Invariant: the table is sorted by name (binary search).
 */
#include "api/api.h"

#include "emu/kms.h"

#include <string.h>

#define OP(name, fn, write) {#name, fn, "kms:" #name, write}

const struct api_op kms_ops[] = {
	OP(CancelKeyDeletion, kms_cancel_key_deletion, true),
	OP(CreateAlias, kms_create_alias, true),
	OP(CreateKey, kms_create_key, true),
	OP(Decrypt, kms_decrypt, false),
	OP(DeleteAlias, kms_delete_alias, true),
	OP(DescribeKey, kms_describe_key, false),
	OP(DisableKey, kms_disable_key, true),
	OP(EnableKey, kms_enable_key, true),
	OP(Encrypt, kms_encrypt, false),
	OP(GenerateDataKey, kms_generate_data_key, false),
	OP(GenerateDataKeyWithoutPlaintext, kms_generate_data_key_without_plaintext, false),
	OP(GenerateRandom, kms_generate_random, false),
	OP(GetKeyPolicy, kms_get_key_policy, false),
	OP(ListAliases, kms_list_aliases, false),
	OP(ListKeyPolicies, kms_list_key_policies, false),
	OP(ListKeys, kms_list_keys, false),
	OP(ListResourceTags, kms_list_resource_tags, false),
	OP(PutKeyPolicy, kms_put_key_policy, true),
	/* IAM has no kms:ReEncrypt: the source key needs kms:ReEncryptFrom. */
	{"ReEncrypt", kms_re_encrypt, "kms:ReEncryptFrom", false},
	OP(ScheduleKeyDeletion, kms_schedule_key_deletion, true),
	OP(TagResource, kms_tag_resource, true),
	OP(UntagResource, kms_untag_resource, true),
	OP(UpdateAlias, kms_update_alias, true),
	OP(UpdateKeyDescription, kms_update_key_description, true),
};

const size_t kms_ops_count = sizeof kms_ops / sizeof kms_ops[0];

const struct api_op *kms_op_find(const char *name, size_t len)
{
	size_t lo = 0, hi = kms_ops_count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *n = kms_ops[mid].name;
		size_t nl = strlen(n);
		int c = strncmp(n, name, nl < len ? nl : len);
		if (c == 0)
			c = nl < len ? -1 : nl > len ? 1 : 0;
		if (c == 0)
			return &kms_ops[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}
