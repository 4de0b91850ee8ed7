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

/* resource_account: owner of the resource (NULL = the caller's account).
 * resource_policy: JSON text of the resource-based policy, or NULL. */
int authz_check(struct emu_call *call, const char *action, const char *resource, const char *resource_account,
                const char *resource_policy, struct emu_err *err);
/* The Secrets Manager domain's authorize hook. */
int authz_secret(struct emu_call *call, const char *action, const char *secret_arn, const char *secret_account,
                 const char *resource_policy, struct emu_err *err);
struct iam_role;
/* STS's hook: the role's trust policy and the caller's policies allow
 * sts:AssumeRole; a session policy must compile. */
int authz_may_assume(struct emu_call *call, const struct iam_role *role, const char *session_policy,
                     struct emu_err *err);
/* Drops compiled policies (after reset). */
void authz_cache_clear(void);

#endif
