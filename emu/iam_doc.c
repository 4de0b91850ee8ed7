/*
 * iam_doc.c owns the check IAM applies to a policy document when it is
 * written (CreatePolicy, CreatePolicyVersion, Put*Policy, CreateRole,
 * UpdateAssumeRolePolicy).  The grammar, IAM's MalformedPolicyDocument
 * texts and the per-document size quotas belong to the policy language
 * module (api/iam_policy.c, pure: no I/O, no store); this file is the one
 * place the domain reaches it, so the domain keeps no second grammar.
 * Aggregate quotas (all inline policies of a user or role) stay with the
 * callers, which know the other documents.
 *
 * May call: api/iam_policy (parse and free only), err.
 * Invariant: the document is parsed and dropped; nothing is kept.
 */
#include "emu/iam_int.h"

#include "api/iam_policy.h"

#include <string.h>

int iam_policy_doc_check(const char *doc, enum iam_doc_kind kind, struct emu_err *err)
{
	enum iam_policy_kind pk = kind == IAM_DOC_TRUST     ? IAM_POLICY_TRUST
	                          : kind == IAM_DOC_MANAGED ? IAM_POLICY_MANAGED
	                                                    : IAM_POLICY_IDENTITY;
	struct iam_policy *p = NULL;
	if (iam_policy_parse(doc ? doc : "", doc ? strlen(doc) : 0, pk, &p, err) < 0)
		return -1;
	iam_policy_free(p);
	return 0;
}
