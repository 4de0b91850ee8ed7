/*
 * The IAM policy evaluator: policy documents compiled once into an
 * in-memory form, then evaluated many times against requests without
 * allocating.  Pure: no I/O, no store, no clock (the caller passes "now").
 *
 * Policy types follow AWS's evaluation logic (IAM User Guide, "Policy
 * evaluation logic"): an explicit Deny in any applicable policy wins; then,
 * within one account, an identity-based OR a resource-based Allow; across
 * accounts both sides must allow.  Permissions boundaries and session
 * policies intersect the identity side.  See api/iam_policy_eval.c for the
 * exact rules and the choices made where AWS is not explicit.
 */
#ifndef API_IAM_POLICY_H
#define API_IAM_POLICY_H

#include "emu/err.h"

#include <stdbool.h>
#include <stddef.h>

/* What a document is used as; it decides the grammar and the size limit. */
enum iam_policy_kind {
	IAM_POLICY_IDENTITY, /* inline user/group/role policy: no Principal; 10240 chars (role aggregate, the
	                        largest; the caller checks the per-entity aggregate with iam_policy_chars) */
	IAM_POLICY_MANAGED,  /* CreatePolicy/CreatePolicyVersion: as IDENTITY, Version 2012-10-17, 6144 chars */
	IAM_POLICY_BOUNDARY, /* a managed policy used as a permissions boundary (same rules as MANAGED) */
	IAM_POLICY_SESSION,  /* AssumeRole's inline Policy: as IDENTITY, 2048 characters of text */
	IAM_POLICY_RESOURCE, /* resource-based (secret resource policy): Principal required; 20480 characters */
	IAM_POLICY_TRUST,    /* role trust policy: Principal required, no Resource; 2048 chars */
};

/* Size limits (characters; IAM counts them without white space). */
#define IAM_POLICY_MAX_TEXT 131072 /* bytes of text accepted at all, before anything is counted */
#define IAM_POLICY_MAX_INLINE 10240
#define IAM_POLICY_MAX_MANAGED 6144
#define IAM_POLICY_MAX_SESSION 2048
#define IAM_POLICY_MAX_RESOURCE 20480
#define IAM_POLICY_MAX_TRUST 2048

struct iam_policy; /* compiled document, immutable after parse */

/*
 * Parses and compiles a policy document.  Errors (*out = NULL):
 * ERR_IAM_MALFORMED_POLICY with IAM's texts ("Syntax errors in policy.",
 * "The policy failed legacy parsing", "Policy statement must contain
 * actions.", "Policy document should not specify a principal.", "Invalid
 * principal in policy: \"AWS\":\"...\"", ...), ERR_IAM_LIMIT_EXCEEDED for a
 * document over its kind's size ("Cannot exceed quota for PolicySize:
 * 6144"), ERR_VALIDATION for a session policy over 2048 characters.  The
 * limits are checked before anything is allocated.
 */
int iam_policy_parse(const char *json, size_t len, enum iam_policy_kind kind, struct iam_policy **out,
                     struct emu_err *err);
void iam_policy_free(struct iam_policy *p);
enum iam_policy_kind iam_policy_get_kind(const struct iam_policy *p);
/* Characters of the document without white space (IAM's size measure). */
size_t iam_policy_chars(const struct iam_policy *p);

/* Principal entries of Principal/NotPrincipal elements, for the caller's
 * existence checks ("Invalid principal in policy" for unknown ARNs).
 * type is "AWS", "Service", "Federated" or "CanonicalUser".  A non-zero
 * return from cb stops the walk and is returned. */
int iam_policy_foreach_principal(const struct iam_policy *p, int (*cb)(void *arg, const char *type, const char *value),
                                 void *arg);

/* Who is calling. */
enum iam_principal_type {
	IAM_PRINCIPAL_USER,           /* IAM user: principal_arn arn:aws:iam::<acct>:user/<path><name> */
	IAM_PRINCIPAL_ASSUMED_ROLE,   /* role session: principal_arn arn:aws:sts::<acct>:assumed-role/<role>/<session> */
	IAM_PRINCIPAL_ROOT,           /* account root: principal_arn arn:aws:iam::<acct>:root */
	IAM_PRINCIPAL_FEDERATED_USER, /* GetFederationToken: arn:aws:sts::<acct>:federated-user/<name> */
	IAM_PRINCIPAL_SERVICE,        /* an AWS service: principal_arn is its name, "rds.amazonaws.com" */
	IAM_PRINCIPAL_WEB_IDENTITY,   /* AssumeRoleWithWebIdentity/SAML: principal_arn is the provider */
	IAM_PRINCIPAL_ANONYMOUS,      /* unauthenticated */
};

/* One condition key of the request context and its values (several for
 * multi-valued keys such as aws:TagKeys).  Keys match case-insensitively;
 * an entry with no values is the same as no entry. */
struct iam_ctx_entry {
	const char *key;
	const char *const *values;
	size_t nvalues;
};

struct iam_request {
	const char *action;         /* "secretsmanager:GetSecretValue" */
	const char *resource;       /* ARN, or "*" for actions without a resource */
	const char *resource_shown; /* resource as the message names it (NULL = resource; "" or "*" = omitted) */
	const char *resource_account; /* owner of the resource (NULL = the principal's account) */
	enum iam_principal_type ptype;
	const char *principal_arn;
	const char *principal_account;
	const char *role_arn;  /* ASSUMED_ROLE: the role's ARN with its path (NULL: derived without the path) */
	const char *username;  /* aws:username (NULL: derived for IAM users from the ARN) */
	const char *userid;    /* aws:userid: AIDA... / AROA...:session / the account id for root */
	const char *source_ip; /* aws:SourceIp (NULL = absent) */
	int secure_transport;  /* aws:SecureTransport: 1, 0, or -1 = absent */
	double now;            /* aws:CurrentTime / aws:EpochTime, seconds since the epoch (< 0 = absent) */
	/* Every other key: aws:ResourceTag/..., aws:RequestTag/..., aws:TagKeys,
	 * aws:PrincipalTag/..., secretsmanager:*, ...  Request fields above win
	 * over entries for the same keys unless the field is NULL/absent. */
	const struct iam_ctx_entry *ctx;
	size_t nctx;
};

/* The policies that apply to one request. */
struct iam_eval_input {
	const struct iam_request *rq;
	const struct iam_policy *const *identity; /* the principal's identity-based policies (inline + managed) */
	size_t nidentity;
	const struct iam_policy *const *session; /* session policies (inline + managed); nsession > 0 = in force */
	size_t nsession;
	const struct iam_policy *boundary; /* permissions boundary, NULL = none */
	const struct iam_policy *resource; /* resource-based or trust policy, NULL = none */
	/* The resource policy must allow even within the account, as a role's
	 * trust policy (implied for IAM_POLICY_TRUST) or a KMS key policy. */
	bool resource_required;
};

enum iam_decision {
	IAM_ALLOW,
	IAM_DENY_EXPLICIT,
	IAM_DENY_IMPLICIT,
};

/* The policy type a denial is about. */
enum iam_reason {
	IAM_REASON_NONE,
	IAM_REASON_IDENTITY, /* "identity-based policy" */
	IAM_REASON_RESOURCE, /* "resource-based policy" */
	IAM_REASON_BOUNDARY, /* "permissions boundary" */
	IAM_REASON_SESSION,  /* "session policy" */
};

struct iam_result {
	enum iam_decision decision;
	enum iam_reason reason;  /* explicit: the type holding the Deny; implicit: the type that did not allow */
	const char *deny_sid;    /* Sid of the denying statement (NULL when none or no Sid); points into the policy */
};

/* Evaluates one request; always fills *out (never fails, never allocates).
 * Returns true when the request is allowed. */
bool iam_policy_evaluate(const struct iam_eval_input *in, struct iam_result *out);

/* AWS's AccessDenied text, e.g. "User: arn:aws:iam::123456789012:user/alice
 * is not authorized to perform: secretsmanager:GetSecretValue on resource:
 * mysecret because no identity-based policy allows the
 * secretsmanager:GetSecretValue action", or "... with an explicit deny in a
 * resource-based policy".  Truncated to cap (always NUL-terminated). */
void iam_policy_denied_message(const struct iam_request *rq, const struct iam_result *res, char *out, size_t cap);

#endif
