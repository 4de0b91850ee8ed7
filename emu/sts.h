/*
 * The STS domain: one function per API operation, JSON in and JSON out
 * with AWS member names (the same contract as emu/secrets.h), rendered as
 * Query XML by api/xmlout.c.  GetCallerIdentity only, for now; AssumeRole
 * and GetSessionToken need IAM roles and come with them.
 */
#ifndef EMU_STS_H
#define EMU_STS_H

#include "emu/call.h"
#include "emu/err.h"

#include <jansson.h>

/*
 * GetCallerIdentity (aws-behaviour.md section 6.2): who signed the request.
 * *out = {UserId, Account, Arn} from the call's principal as authentication
 * established it: UserId is "AIDA..." for a user, "AROA...:<session>" for an
 * assumed role, the account id for root.  Needs no permission.  `in` is
 * ignored (the operation has no input members).  ERR_INTERNAL when the
 * call carries no principal.
 */
int sts_get_caller_identity(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err);

/*
 * AssumeRole: temporary ASIA credentials for a role session, after the
 * role's trust policy (and, through the hook, the caller's identity
 * policies) allow the caller.  The session's key, secret, token, expiry,
 * role and session policy are stored in access_keys, so SigV4 verification
 * and authorization treat them like any key; expired ones answer
 * ExpiredToken.  GetSessionToken: the same for the caller's own identity.
 */
int sts_assume_role(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err);
int sts_get_session_token(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err);

struct iam_role;
/* Set by the process: may the caller assume `role` (trust policy + the
 * caller's own policies)?  0 or -1 with AccessDenied. */
struct sts_hooks {
	int (*may_assume)(struct emu_call *call, const struct iam_role *role, const char *session_policy,
	                  struct emu_err *err);
};
void sts_set_hooks(const struct sts_hooks *h);

#endif
