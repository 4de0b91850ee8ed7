/*
 * authz.c owns authorization decisions for API requests.  It calls the IAM
 * domain for the caller's policy documents, the pure evaluator
 * (iam_policy), and the secrets domain for a secret's resource policy.
 * Invariants: a policy text is compiled once and cached by its digest (the
 * cache holds only immutable compiled policies, so a changed policy is a
 * different entry and never stale); root of an account may do everything
 * on that account's own resources except what a resource policy explicitly
 * denies; every other principal gets exactly what the policies allow.
 * Choice (documented in the README): aws:SecureTransport is true for API
 * requests, since the emulator's HTTP port stands in for AWS's HTTPS
 * endpoints and policies that deny plain HTTP must not deny every call.
 */
#include "api/authz.h"

#include "api/iam_policy.h"
#include "emu/iam.h"
#include "emu/kms.h"
#include "emu/log.h"
#include "emu/store.h"
#include "emu/util.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_SLOTS 512
#define MAX_DOCS 64

struct slot {
	unsigned char md[32];
	enum iam_policy_kind kind;
	struct iam_policy *p;
};

static struct slot cache[CACHE_SLOTS];

void authz_cache_clear(void)
{
	for (int i = 0; i < CACHE_SLOTS; i++) {
		iam_policy_free(cache[i].p);
		cache[i].p = NULL;
	}
}

/* Policies compiled for one evaluation that could not be cached (their
 * slot held another policy of the same evaluation): freed at its end. */
struct temps {
	struct iam_policy *p[MAX_DOCS + 4];
	size_t n;
	const struct slot *used[MAX_DOCS + 4]; /* slots this evaluation relies on */
	size_t nused;
};

static void temps_free(struct temps *t)
{
	for (size_t i = 0; i < t->n; i++)
		iam_policy_free(t->p[i]);
	t->n = t->nused = 0;
}

/* A compiled policy for text: from the cache, or compiled into it.  A slot
 * that an earlier policy of this same evaluation uses is never evicted (its
 * pointer is live): the policy is then compiled uncached into t. */
static const struct iam_policy *compiled(const char *text, enum iam_policy_kind kind, struct temps *t,
                                         struct emu_err *err)
{
	unsigned char md[32];
	unsigned int n = 0;
	EVP_Digest(text, strlen(text), md, &n, EVP_sha256(), NULL);
	md[0] ^= (unsigned char)kind;
	struct slot *s = &cache[((unsigned)md[1] << 8 | md[2]) % CACHE_SLOTS];
	if (s->p && s->kind == kind && memcmp(s->md, md, 32) == 0)
		goto hit;
	bool pinned = false;
	for (size_t i = 0; i < t->nused; i++)
		if (t->used[i] == s)
			pinned = true;
	struct iam_policy *p;
	if (iam_policy_parse(text, strlen(text), kind, &p, err) < 0)
		return NULL;
	if (pinned) {
		if (t->n == sizeof t->p / sizeof t->p[0]) {
			iam_policy_free(p);
			emu_err_set(err, ERR_INTERNAL, "too many policies in one evaluation");
			return NULL;
		}
		t->p[t->n++] = p;
		return p;
	}
	iam_policy_free(s->p);
	memcpy(s->md, md, 32);
	s->kind = kind;
	s->p = p;
hit:
	if (t->nused < sizeof t->used / sizeof t->used[0])
		t->used[t->nused++] = s;
	return s->p;
}

static enum iam_principal_type ptype_of(const char *arn)
{
	if (util_has_suffix(arn, ":root"))
		return IAM_PRINCIPAL_ROOT;
	if (strstr(arn, ":assumed-role/"))
		return IAM_PRINCIPAL_ASSUMED_ROLE;
	if (strstr(arn, ":federated-user/"))
		return IAM_PRINCIPAL_FEDERATED_USER;
	return IAM_PRINCIPAL_USER;
}

/* "Allow everything": what root's identity amounts to in its own account. */
static const char allow_all[] = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\","
                                "\"Resource\":\"*\"}]}";

/* The session policy and role of a temporary key (NULLs for other keys). */
static void session_of(struct emu_call *call, char **policy, char **role_arn)
{
	*policy = *role_arn = NULL;
	if (!call->access_key_id || !util_has_prefix(call->access_key_id, "ASIA"))
		return;
	sqlite3_stmt *st = store_prep(call->store, "SELECT session_policy, role_arn FROM access_keys WHERE access_key_id = ?1");
	if (!st)
		return;
	sqlite3_bind_text(st, 1, call->access_key_id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *p = store_col_text(st, 0), *r = store_col_text(st, 1);
		*policy = p ? util_strdup(p) : NULL;
		*role_arn = r ? util_strdup(r) : NULL;
	}
	sqlite3_reset(st);
}

#define MAX_CTX 64
#define MAX_CTX_VALUES 256

/* Condition keys: the request's (call->cond) then the resource's (rcond),
 * flattened into the evaluator's form; strings point into the JSON. */
struct ctx_buf {
	struct iam_ctx_entry e[MAX_CTX];
	const char *v[MAX_CTX_VALUES];
	size_t ne, nv;
};

static void ctx_add(struct ctx_buf *cb, json_t *obj)
{
	const char *k;
	json_t *vals;
	json_object_foreach(obj, k, vals) {
		if (cb->ne == MAX_CTX || !json_is_array(vals))
			continue;
		size_t start = cb->nv, i;
		json_t *v;
		json_array_foreach(vals, i, v) if (json_is_string(v) && cb->nv < MAX_CTX_VALUES) cb->v[cb->nv++] =
			json_string_value(v);
		cb->e[cb->ne++] = (struct iam_ctx_entry){k, cb->v + start, cb->nv - start};
	}
}

static int evaluate_ctx(struct emu_call *call, const char *action, const char *resource, const char *resource_account,
                        const char *resource_policy, enum iam_policy_kind rkind, json_t *rcond, bool required,
                        struct emu_err *err);

/* Evaluates in: 0 on Allow, else -1 with AccessDenied and IAM's message. */
static int decide(const struct iam_eval_input *in, struct emu_err *err)
{
	struct iam_result r;
	iam_policy_evaluate(in, &r);
	if (r.decision == IAM_ALLOW)
		return 0;
	char msg[EMU_ERR_MSG_MAX];
	iam_policy_denied_message(in->rq, &r, msg, sizeof msg);
	return emu_err_set(err, ERR_ACCESS_DENIED, "%s", msg);
}

static int evaluate(struct emu_call *call, const char *action, const char *resource, const char *resource_account,
                    const char *resource_policy, enum iam_policy_kind rkind, struct emu_err *err)
{
	return evaluate_ctx(call, action, resource, resource_account, resource_policy, rkind, NULL,
	                    rkind == IAM_POLICY_TRUST, err);
}

static int evaluate_ctx(struct emu_call *call, const char *action, const char *resource, const char *resource_account,
                        const char *resource_policy, enum iam_policy_kind rkind, json_t *rcond, bool required,
                        struct emu_err *err)
{
	const char *racct = resource_account ? resource_account : call->account;
	/* Fast path, no store access: root in its own account, nothing that could deny. */
	if (!resource_policy && !required && strcmp(racct, call->account) == 0 &&
	    ptype_of(call->principal_arn) == IAM_PRINCIPAL_ROOT)
		return 0;
	json_t *docs = NULL;
	int kind = iam_principal_policies(call->store, call->principal_arn, &docs, err);
	if (kind < 0)
		return -1;
	const struct iam_policy *ids[MAX_DOCS], *sess[1];
	size_t nids = 0, nsess = 0;
	char *spolicy = NULL, *role_arn = NULL;
	struct temps tmp;
	tmp.n = tmp.nused = 0;
	int rc = -1;
	if (kind == IAM_DOCS_ROOT) {
		if (strcmp(racct, call->account) == 0) {
			const struct iam_policy *p = compiled(allow_all, IAM_POLICY_IDENTITY, &tmp, err);
			if (!p)
				goto out;
			ids[nids++] = p;
		}
	} else {
		size_t i;
		json_t *d;
		json_array_foreach(docs, i, d) {
			const char *text = json_string_value(json_object_get(d, "document"));
			if (!text || nids == MAX_DOCS)
				continue;
			struct emu_err perr;
			const struct iam_policy *p = compiled(text, IAM_POLICY_IDENTITY, &tmp, &perr);
			if (!p) {
				/* Stored documents were validated on write; log, do not fail open. */
				log_warn("authz", "policy %s of %s does not compile: %s",
				         json_string_value(json_object_get(d, "source")), call->principal_arn, perr.msg);
				continue;
			}
			ids[nids++] = p;
		}
	}
	session_of(call, &spolicy, &role_arn);
	if (spolicy) {
		struct emu_err perr;
		const struct iam_policy *p = compiled(spolicy, IAM_POLICY_SESSION, &tmp, &perr);
		if (p)
			sess[nsess++] = p;
	}
	const struct iam_policy *res = NULL;
	if (resource_policy && *resource_policy) {
		struct emu_err perr;
		res = compiled(resource_policy, rkind, &tmp, &perr);
		if (!res)
			log_warn("authz", "resource policy of %s does not compile: %s", resource, perr.msg);
	}
	struct ctx_buf cb;
	cb.ne = cb.nv = 0;
	if (call->cond)
		ctx_add(&cb, call->cond);
	if (rcond)
		ctx_add(&cb, rcond);
	struct iam_request rq = {
		.ctx = cb.e,
		.nctx = cb.ne,
		.action = action,
		.resource = resource ? resource : "*",
		.resource_account = racct,
		.ptype = ptype_of(call->principal_arn),
		.principal_arn = call->principal_arn,
		.principal_account = call->account,
		.role_arn = role_arn,
		.userid = call->user_id,
		.source_ip = call->source_ip,
		.secure_transport = 1,
		.now = call->now,
	};
	struct iam_eval_input in = {.rq = &rq, .identity = ids, .nidentity = nids, .session = sess, .nsession = nsess,
	                            .resource = res, .resource_required = required};
	rc = decide(&in, err);
out:
	temps_free(&tmp);
	free(spolicy);
	free(role_arn);
	json_decref(docs);
	return rc;
}

int authz_check(struct emu_call *call, const char *action, const char *resource, const char *resource_account,
                const char *resource_policy, struct emu_err *err)
{
	return evaluate(call, action, resource, resource_account, resource_policy, IAM_POLICY_RESOURCE, err);
}

int authz_check_ctx(struct emu_call *call, const char *action, const char *resource, const char *resource_account,
                    const char *resource_policy, json_t *resource_cond, struct emu_err *err)
{
	return evaluate_ctx(call, action, resource, resource_account, resource_policy, IAM_POLICY_RESOURCE, resource_cond,
	                    false, err);
}

bool authz_is_root_of(const struct emu_call *call, const char *account)
{
	return ptype_of(call->principal_arn) == IAM_PRINCIPAL_ROOT && (!account || strcmp(account, call->account) == 0);
}

int authz_may_assume(struct emu_call *call, const struct iam_role *role, const char *session_policy,
                     struct emu_err *err)
{
	if (session_policy) {
		struct iam_policy *p;
		if (iam_policy_parse(session_policy, strlen(session_policy), IAM_POLICY_SESSION, &p, err) < 0)
			return -1;
		iam_policy_free(p);
	}
	/* The trust policy must allow the caller, even in the role's own account. */
	return evaluate(call, "sts:AssumeRole", role->arn, role->account, role->trust_policy ? role->trust_policy : "",
	                IAM_POLICY_TRUST, err);
}

int authz_service_may_assume(struct store *s, const char *service, const char *role_arn, double now,
                             struct emu_err *err)
{
	struct iam_role role;
	if (iam_role_get(s, NULL, role_arn, &role, err) < 0)
		return -1;
	struct temps tmp;
	tmp.n = tmp.nused = 0;
	int rc = -1;
	const struct iam_policy *trust = compiled(role.trust_policy ? role.trust_policy : "", IAM_POLICY_TRUST, &tmp, err);
	if (trust) {
		struct iam_request rq = {.action = "sts:AssumeRole", .resource = role.arn, .resource_account = role.account,
		                         .ptype = IAM_PRINCIPAL_SERVICE, .principal_arn = service, .secure_transport = 1,
		                         .now = now};
		struct iam_eval_input in = {.rq = &rq, .resource = trust, .resource_required = true};
		rc = decide(&in, err);
	}
	temps_free(&tmp);
	iam_role_free(&role);
	return rc;
}

int authz_secret(struct emu_call *call, const char *action, const char *secret_arn, const char *secret_account,
                 const char *resource_policy, struct emu_err *err)
{
	return authz_check(call, action, secret_arn, secret_account, resource_policy, err);
}

int authz_kms(struct emu_call *call, const char *key_arn, bool decrypt, struct emu_err *err)
{
	/* The AWS managed key aws/secretsmanager: its key policy lets every
	 * principal of the account use it through Secrets Manager. */
	if (!key_arn)
		return 0;
	/* arn:aws:kms:REGION:ACCOUNT:key/ID */
	char region[64] = "", account[13] = "";
	const char *f[6] = {0};
	int nf = 0;
	for (const char *p = key_arn; p && nf < 6; nf++) {
		f[nf] = p;
		p = strchr(p, ':');
		if (p)
			p++;
	}
	if (nf == 6) {
		snprintf(region, sizeof region, "%.*s", (int)(f[4] - f[3] - 1), f[3]);
		snprintf(account, sizeof account, "%.*s", (int)(f[5] - f[4] - 1), f[4]);
	}
	/* The key policy is a required resource policy (as AWS evaluates KMS):
	 * the default one names the account root, which hands the decision to
	 * IAM; another account must be named in it. */
	char *policy = NULL;
	struct emu_call owner = *call;
	owner.account = account;
	owner.region = region;
	owner.action = NULL;
	owner.cond = NULL;
	json_t *in = json_pack("{s:s,s:s}", "KeyId", key_arn, "PolicyName", "default"), *out = NULL;
	struct emu_err perr;
	if (account[0] && kms_get_key_policy(&owner, in, &out, &perr) == 0) {
		const char *p = json_string_value(json_object_get(out, "Policy"));
		if (p)
			policy = util_strdup(p);
	}
	json_decref(in);
	json_decref(out);
	/* Secrets Manager asks KMS to decrypt (reads) or to make a data key (writes). */
	int rc = evaluate_ctx(call, decrypt ? "kms:Decrypt" : "kms:GenerateDataKey", key_arn, account[0] ? account : NULL,
	                      policy, IAM_POLICY_RESOURCE, NULL, policy != NULL, err);
	free(policy);
	if (rc == 0)
		return 0;
	/* Secrets Manager's own words for this case; the evaluator's reason goes to the log. */
	log_info(call->request_id ? call->request_id : "authz", "KMS denied: %s", err->msg);
	return emu_err_set(err, ERR_ACCESS_DENIED, "Access to KMS is not allowed");
}
