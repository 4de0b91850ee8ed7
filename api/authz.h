/*
 * Authorization: may the caller of this request perform `action` on
 * `resource`?  Evaluates the caller's identity policies (IAM), the
 * resource's policy (e.g. a secret's resource policy) and the account
 * boundary as AWS does, and answers AccessDenied in AWS's words.
 */
#ifndef API_AUTHZ_H
#define API_AUTHZ_H

#include "emu/call.h"
#include "emu/err.h"

#include <jansson.h>
#include <stdbool.h>

/* resource_account: owner of the resource (NULL = the caller's account).
 * resource_policy: JSON text of the resource-based policy, or NULL. */
int authz_check(struct emu_call *call, const char *action, const char *resource, const char *resource_account,
                const char *resource_policy, struct emu_err *err);
/* As authz_check, with the resource's condition keys (a JSON object key ->
 * array of strings: aws:ResourceTag/..., secretsmanager:ResourceTag/...). */
int authz_check_ctx(struct emu_call *call, const char *action, const char *resource, const char *resource_account,
                    const char *resource_policy, json_t *resource_cond, struct emu_err *err);
/* The caller is the root of `account` (NULL: of its own account). */
bool authz_is_root_of(const struct emu_call *call, const char *account);
/* The Secrets Manager domain's authorize hook. */
int authz_secret(struct emu_call *call, const char *action, const char *secret_arn, const char *secret_account,
                 const char *resource_policy, struct emu_err *err);
struct iam_role;
/* STS's hook: the role's trust policy and the caller's policies allow
 * sts:AssumeRole; a session policy must compile. */
int authz_may_assume(struct emu_call *call, const struct iam_role *role, const char *session_policy,
                     struct emu_err *err);
/* May an AWS service (service: "rds.amazonaws.com") assume the role
 * role_arn?  The role must exist and its trust policy allow the service
 * sts:AssumeRole (a service has no identity policies).  0, or -1 with
 * NoSuchEntity or AccessDenied. */
int authz_service_may_assume(struct store *s, const char *service, const char *role_arn, double now,
                             struct emu_err *err);
/* The Secrets Manager domain's KMS hook: kms:Decrypt (reads) or
 * kms:GenerateDataKey (writes) on a customer key; the AWS managed key
 * (key_arn NULL) is usable by every principal of the account.  The key's
 * policy must allow (the default one names the account root, which
 * delegates to IAM; another account must be named in it). */
int authz_kms(struct emu_call *call, const char *key_arn, bool decrypt, struct emu_err *err);
/* Drops compiled policies (after reset). */
void authz_cache_clear(void);

#endif
