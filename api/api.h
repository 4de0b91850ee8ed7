/*
 * The operation tables every AWS service registers with the HTTP layer.
 * Redis-style: an operation is data (name, handler, IAM action, read/write);
 * the dispatcher in api/http.c does every generic step (authentication,
 * body decoding, model validation, authorization, error rendering) before a
 * handler runs, so handlers hold only meaning.
 */
#ifndef API_API_H
#define API_API_H

#include "emu/call.h"
#include "emu/err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* A JSON-protocol operation: `in` is the decoded request object (already
 * checked against the service model), `*out` a new JSON object on success
 * (NULL means `{}`).  Returns 0, or -1 with err filled. */
typedef int (*api_json_fn)(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err);

struct api_op {
	const char *name;       /* "GetSecretValue" */
	api_json_fn fn;
	const char *iam_action; /* "secretsmanager:GetSecretValue" */
	bool write;             /* changes state */
};

/* Secrets Manager (api/secretsmanager.c). */
const struct api_op *sm_op_find(const char *name, size_t len);
extern const struct api_op sm_ops[];
extern const size_t sm_ops_count;

/* CloudTrail LookupEvents over the audit trail (api/cloudtrail.c). */
const struct api_op *ct_op_find(const char *name, size_t len);
extern const struct api_op ct_ops[];
extern const size_t ct_ops_count;

/* KMS (api/kms.c). */
const struct api_op *kms_op_find(const char *name, size_t len);
extern const struct api_op kms_ops[];
extern const size_t kms_ops_count;

#endif
