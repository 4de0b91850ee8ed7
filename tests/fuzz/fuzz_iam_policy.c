/*
 * Fuzz harness for the IAM policy evaluator (api/iam_policy*.c, iam_cond.c,
 * iam_pattern.c).  Input: a policy document, optionally followed by a line
 * "--" and a request as JSON: {"action", "resource", "type" (0..6), "arn",
 * "account", "role_arn", "userid", "ip", "ctx": {key: value | [values]}}.
 * The document is parsed as every policy kind; each one that parses is
 * evaluated as identity, boundary, session and resource policy against the
 * fuzzed request and a few fixed ones.  Nothing may crash, leak or read out
 * of bounds; a refusal must carry one of the three expected codes and a
 * printable ASCII message; the AccessDenied text must be NUL-terminated
 * within its buffer.  Seeds: fixtures/fuzz/iam_policy.
 */
#include "api/iam_policy.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXCTX 8

static void check_err(const struct emu_err *err)
{
	if (err->code != ERR_IAM_MALFORMED_POLICY && err->code != ERR_IAM_LIMIT_EXCEEDED && err->code != ERR_VALIDATION)
		abort();
	size_t n = strnlen(err->msg, sizeof err->msg);
	if (n == 0 || n >= sizeof err->msg)
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)err->msg[i] < 0x20 || (unsigned char)err->msg[i] > 0x7e)
			abort();
}

static const char *js(json_t *o, const char *k, const char *def)
{
	json_t *v = json_object_get(o, k);
	return json_is_string(v) ? json_string_value(v) : def;
}

static void evaluate(const struct iam_policy *p, const struct iam_request *rq)
{
	const struct iam_policy *one[] = {p};
	struct iam_eval_input ins[] = {
		{.rq = rq, .identity = one, .nidentity = 1},
		{.rq = rq, .identity = one, .nidentity = 1, .boundary = p, .session = one, .nsession = 1},
		{.rq = rq, .resource = p},
		{.rq = rq, .identity = one, .nidentity = 1, .resource = p, .resource_required = true},
	};
	for (size_t i = 0; i < sizeof ins / sizeof ins[0]; i++) {
		struct iam_result res;
		bool a = iam_policy_evaluate(&ins[i], &res);
		if (a != (res.decision == IAM_ALLOW))
			abort();
		char msg[160];
		iam_policy_denied_message(rq, &res, msg, sizeof msg);
		if (strnlen(msg, sizeof msg) >= sizeof msg)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	size_t tlen = size;
	json_t *req = NULL;
	const uint8_t *sep = NULL;
	for (size_t i = 0; i + 4 <= size; i++)
		if (memcmp(data + i, "\n--\n", 4) == 0) {
			sep = data + i;
			break;
		}
	if (sep) {
		tlen = (size_t)(sep - data);
		req = json_loadb((const char *)sep + 4, size - tlen - 4, JSON_DECODE_ANY, NULL);
	}
	/* the fuzzed request */
	struct iam_ctx_entry ctx[MAXCTX];
	const char *vals[MAXCTX][4];
	size_t nctx = 0;
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(req, "ctx"), k, v) {
		if (nctx == MAXCTX)
			break;
		ctx[nctx] = (struct iam_ctx_entry){k, vals[nctx], 0};
		size_t n = json_is_array(v) ? json_array_size(v) : 1;
		for (size_t i = 0; i < n && i < 4; i++) {
			json_t *x = json_is_array(v) ? json_array_get(v, i) : v;
			if (json_is_string(x))
				vals[nctx][ctx[nctx].nvalues++] = json_string_value(x);
		}
		nctx++;
	}
	json_t *t = json_object_get(req, "type");
	struct iam_request rqs[4] = {
		{.action = js(req, "action", "secretsmanager:GetSecretValue"),
		 .resource = js(req, "resource", "arn:aws:secretsmanager:us-east-1:111122223333:secret:db-AbCdEf"),
		 .resource_account = js(req, "resource_account", NULL),
		 .ptype = json_is_integer(t) ? (enum iam_principal_type)(json_integer_value(t) & 7) % 7
		                             : IAM_PRINCIPAL_USER,
		 .principal_arn = js(req, "arn", "arn:aws:iam::111122223333:user/alice"),
		 .principal_account = js(req, "account", "111122223333"),
		 .role_arn = js(req, "role_arn", NULL),
		 .userid = js(req, "userid", NULL),
		 .source_ip = js(req, "ip", "10.1.2.3"),
		 .secure_transport = 1,
		 .now = 1.7e9,
		 .ctx = ctx,
		 .nctx = nctx},
		{.action = "rds-db:connect", .resource = "arn:aws:rds-db:us-east-1:111122223333:dbuser:prx-1/u",
		 .ptype = IAM_PRINCIPAL_ASSUMED_ROLE,
		 .principal_arn = "arn:aws:sts::111122223333:assumed-role/fn/s", .principal_account = "111122223333",
		 .userid = "AROAEXAMPLE000000001:s", .source_ip = "2001:db8::1", .secure_transport = 0, .now = -1},
		{.action = "sts:AssumeRole", .resource = "arn:aws:iam::111122223333:role/r", .resource_account = "444455556666",
		 .ptype = IAM_PRINCIPAL_SERVICE, .principal_arn = "rds.amazonaws.com", .secure_transport = -1, .now = 0},
		{.action = "s3:GetObject", .resource = "*", .ptype = IAM_PRINCIPAL_ROOT,
		 .principal_arn = "arn:aws:iam::111122223333:root", .principal_account = "111122223333",
		 .secure_transport = -1, .now = 1e300},
	};
	static const enum iam_policy_kind kinds[] = {IAM_POLICY_IDENTITY, IAM_POLICY_MANAGED, IAM_POLICY_BOUNDARY,
	                                            IAM_POLICY_SESSION,  IAM_POLICY_RESOURCE, IAM_POLICY_TRUST};
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		struct iam_policy *p = NULL;
		struct emu_err err;
		emu_err_clear(&err);
		if (iam_policy_parse(text, tlen, kinds[i], &p, &err) < 0) {
			check_err(&err);
			if (p)
				abort();
			continue;
		}
		if (!p || iam_policy_get_kind(p) != kinds[i] || iam_policy_chars(p) > tlen)
			abort();
		for (size_t r = 0; r < sizeof rqs / sizeof rqs[0]; r++)
			evaluate(p, &rqs[r]);
		iam_policy_free(p);
	}
	json_decref(req);
	return 0;
}
