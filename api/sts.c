/*
 * sts.c owns the STS operation table: the implemented operations of the
 * 2011-06-15 API as data (name, domain function, IAM action, write flag)
 * for the Query dispatcher in api/http.c, which decodes the request
 * (query_to_json + model_validate against emu/model_sts.c), calls the
 * function and renders the result with api/xmlout.c.  The meaning of each
 * operation lives in emu/sts.c; nothing here looks inside a request.
 *
 * Invariant: the table is sorted by name (binary search).
 */
#include "api/sts.h"

#include "emu/sts.h"

#include <string.h>

#define OP(name, fn, write) {#name, fn, "sts:" #name, write}

/* Sorted by name: sts_op_find searches it by bisection. */
const struct api_op sts_ops[] = {
	/* Needs no permission: an explicit Deny on sts:GetCallerIdentity does
	 * not block it (aws-behaviour.md 6.2).  The dispatcher must skip the
	 * authorization step for it (the action is kept for logs and for an
	 * "auth free" flag when struct api_op gains one). */
	OP(AssumeRole, sts_assume_role, true),
	OP(GetCallerIdentity, sts_get_caller_identity, false),
	OP(GetSessionToken, sts_get_session_token, true),
};

const size_t sts_ops_count = sizeof sts_ops / sizeof sts_ops[0];

const struct api_op *sts_op_find(const char *name, size_t len)
{
	size_t lo = 0, hi = sts_ops_count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *n = sts_ops[mid].name;
		size_t nl = strlen(n);
		int c = strncmp(n, name, nl < len ? nl : len);
		if (c == 0)
			c = nl < len ? -1 : nl > len ? 1 : 0;
		if (c == 0)
			return &sts_ops[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}
