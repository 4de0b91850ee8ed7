/*
 * sts.c owns the meaning of the STS operations (contracts in emu/sts.h).
 *
 * It may call jansson and emu/err; GetCallerIdentity reads only the call
 * context (no store access: the principal was resolved by authentication).
 *
 * Invariants: *out is set only on success, to a new object the caller
 * owns; nothing else is allocated past return.
 */
#include "emu/sts.h"

int sts_get_caller_identity(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	(void)in;
	if (!call || !call->user_id || !call->account || !call->principal_arn)
		return emu_err_set(err, ERR_INTERNAL, "GetCallerIdentity without an authenticated principal");
	json_t *o = json_object();
	if (!o || json_object_set_new(o, "UserId", json_string(call->user_id)) < 0 ||
	    json_object_set_new(o, "Account", json_string(call->account)) < 0 ||
	    json_object_set_new(o, "Arn", json_string(call->principal_arn)) < 0) {
		json_decref(o);
		return emu_err_set(err, ERR_INTERNAL, NULL);
	}
	*out = o;
	return 0;
}
