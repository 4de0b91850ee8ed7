/*
 * The IAM domain: users, roles, customer managed policies (with versions),
 * AWS managed policies (static data), inline and attached policies, access
 * keys and tags; one function per API operation (JSON in, JSON out, the
 * IAM model's member names), plus the entry points the rest of rdsemu
 * needs: the identity policies of a principal (for authorization), a
 * role's trust policy and session limit (for STS AssumeRole), key usage
 * bookkeeping and the fixture loader.
 *
 * Every operation: `in` is the request object (NULL reads as {}; wrong
 * member types give an error, never a crash); on success *out is a new
 * object holding exactly the members of the operation's output shape
 * (without the Query result wrapper), or NULL for operations without
 * output; on failure -1 with err set.  IAM is global: state is scoped by
 * call->account and call->region is ignored.  Timestamps are whole epoch
 * seconds (JSON integers).  Policy documents in outputs (PolicyDocument,
 * AssumeRolePolicyDocument, PolicyVersion.Document) are URL-encoded
 * (RFC 3986), as IAM returns them on the wire; botocore decodes them.
 */
#ifndef EMU_IAM_H
#define EMU_IAM_H

#include "emu/call.h"
#include "emu/err.h"

#include <jansson.h>
#include <stdbool.h>

struct store;

#define IAM_OP(name) int iam_##name(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
/* users (emu/iam_users.c) */
IAM_OP(create_user);
IAM_OP(get_user);
IAM_OP(list_users);
IAM_OP(update_user);
IAM_OP(delete_user);
/* access keys (emu/iam_users.c) */
IAM_OP(create_access_key);
IAM_OP(list_access_keys);
IAM_OP(update_access_key);
IAM_OP(delete_access_key);
IAM_OP(get_access_key_last_used);
/* roles (emu/iam_roles.c) */
IAM_OP(create_role);
IAM_OP(get_role);
IAM_OP(list_roles);
IAM_OP(update_role);
IAM_OP(update_role_description);
IAM_OP(update_assume_role_policy);
IAM_OP(delete_role);
/* inline policies, attachments and tags of users and roles (emu/iam_attach.c) */
IAM_OP(put_user_policy);
IAM_OP(get_user_policy);
IAM_OP(delete_user_policy);
IAM_OP(list_user_policies);
IAM_OP(put_role_policy);
IAM_OP(get_role_policy);
IAM_OP(delete_role_policy);
IAM_OP(list_role_policies);
IAM_OP(attach_user_policy);
IAM_OP(detach_user_policy);
IAM_OP(list_attached_user_policies);
IAM_OP(attach_role_policy);
IAM_OP(detach_role_policy);
IAM_OP(list_attached_role_policies);
IAM_OP(tag_user);
IAM_OP(untag_user);
IAM_OP(list_user_tags);
IAM_OP(tag_role);
IAM_OP(untag_role);
IAM_OP(list_role_tags);
/* managed policies and versions (emu/iam_policies.c) */
IAM_OP(create_policy);
IAM_OP(get_policy);
IAM_OP(list_policies);
IAM_OP(delete_policy);
IAM_OP(create_policy_version);
IAM_OP(get_policy_version);
IAM_OP(list_policy_versions);
IAM_OP(delete_policy_version);
IAM_OP(set_default_policy_version);
IAM_OP(list_entities_for_policy);
IAM_OP(tag_policy);
IAM_OP(untag_policy);
IAM_OP(list_policy_tags);
#undef IAM_OP

/*
 * Every identity-based policy that applies to principal_arn, as a new JSON
 * array of {"source": "<policy ARN>" | "inline:<name>", "document": "<JSON
 * text>"} (inline policies first, by name; then attached managed policies'
 * default versions, in attachment order).  Principals:
 *   arn:aws:iam::ACCT:user/PATH/NAME             the user's policies
 *   arn:aws:sts::ACCT:assumed-role/ROLE/SESSION  the role's policies
 *   arn:aws:iam::ACCT:role/PATH/NAME             the role's policies
 *   arn:aws:iam::ACCT:root                       none; returns IAM_DOCS_ROOT
 * Returns IAM_DOCS_ROOT (1) for the root of an account, meaning "every
 * action on the account's own resources is allowed" (the caller compares
 * the account in the ARN with the resource's); 0 for any other principal,
 * whose access is exactly what the documents allow.  A user or role that
 * does not exist (deleted while a session lives on) or another principal
 * type (federated user) yields 0 with an empty array: implicit deny.
 * -1 with err on a storage error.  *docs_out is set in both success cases.
 */
#define IAM_DOCS_ROOT 1
int iam_principal_policies(struct store *s, const char *principal_arn, json_t **docs_out, struct emu_err *err);

/* What STS needs to know about a role. */
struct iam_role {
	char account[13];
	char name[65];
	char path[513];
	char arn[1100];
	char role_id[32];          /* AROA... */
	char *trust_policy;        /* owned JSON text (not URL-encoded); iam_role_free() */
	int max_session_duration;  /* seconds, 3600..43200 */
	double created;
};

/* The role named role_name_or_arn: a name (looked up in `account`) or a
 * role ARN arn:aws:iam::ACCT:role/[PATH/]NAME (looked up in the ARN's
 * account by name; the path is not compared).  NoSuchEntity ("The role
 * with name X cannot be found.") when there is none. */
int iam_role_get(struct store *s, const char *account, const char *role_name_or_arn, struct iam_role *out,
                 struct emu_err *err);
void iam_role_free(struct iam_role *r);
/* Records a successful AssumeRole for GetRole's RoleLastUsed (best effort). */
int iam_role_mark_used(struct store *s, const char *role_arn, const char *region, double now, struct emu_err *err);
/* Records the use of a long-term access key for GetAccessKeyLastUsed
 * (service: the signing name, e.g. "secretsmanager"; best effort). */
int iam_access_key_mark_used(struct store *s, const char *access_key_id, const char *service, const char *region,
                             double now, struct emu_err *err);

/* What a policy document is written as. */
enum iam_doc_kind {
	IAM_DOC_INLINE,  /* Put{User,Role}Policy: identity grammar */
	IAM_DOC_MANAGED, /* CreatePolicy(Version): identity grammar, Version 2012-10-17, PolicySize 6144 */
	IAM_DOC_TRUST,   /* AssumeRolePolicyDocument: Principal required, no Resource, ACLSizePerRole 2048 */
};
/*
 * The check IAM applies to a policy document on write: grammar and size,
 * answered with MalformedPolicyDocument / LimitExceeded and IAM's texts.
 * The one place the domain meets the policy language (api/iam_policy.c's
 * parser does the work).
 */
int iam_policy_doc_check(const char *doc, enum iam_doc_kind kind, struct emu_err *err);

/*
 * Fixtures: {"users": [{"UserName", "Path"?, "PermissionsBoundary"?, "Tags"?,
 *                       "Policies": [{"PolicyName", "PolicyDocument"}],
 *                       "AttachedPolicies": ["arn..."],
 *                       "AccessKeys": [{"AccessKeyId", "SecretAccessKey", "Status"?}]}],
 *            "roles": [{"RoleName", "AssumeRolePolicyDocument", "Path"?, "Description"?,
 *                       "MaxSessionDuration"?, "PermissionsBoundary"?, "Tags"?,
 *                       "Policies": [...], "AttachedPolicies": [...]}],
 *            "policies": [{"PolicyName", "PolicyDocument", "Path"?, "Description"?, "Tags"?}]}
 * Policy documents may be JSON objects or strings.  Access keys may be
 * fixed (AccessKeyId 16..128 [A-Za-z0-9_], SecretAccessKey 1..128
 * printable) so tests can sign with known keys; an empty object asks for
 * generated ones.  Policies load first (so users and roles can attach
 * them), then users, then roles.  Every entry goes through the same domain
 * functions as the API; the whole document loads in one savepoint (nothing
 * is kept on error; err names the entry).
 */
int iam_fixture_load(struct store *s, const char *account, json_t *iam, struct emu_err *err);

#endif
