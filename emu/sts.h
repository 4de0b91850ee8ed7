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

#endif
