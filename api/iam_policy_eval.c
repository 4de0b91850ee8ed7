/*
 * iam_policy_eval.c owns the decision for one request: which statements
 * apply (Action/NotAction, Resource/NotResource, Principal/NotPrincipal,
 * Condition), how the policy types combine, the values of the condition
 * keys derived from the request, and AWS's AccessDenied text.
 *
 * May call: libc, iam_pattern.c, iam_cond.c.  No allocation, no I/O: all
 * per-request state (struct iam_ev) lives on the caller's stack.
 *
 * Evaluation (IAM User Guide, "Policy evaluation logic", "Cross-account
 * policy evaluation logic", "Permissions boundaries", "Session policies"):
 * 1. An applicable Deny statement in any policy -> explicit deny.  The type
 *    reported is the first of: identity-based, resource-based, permissions
 *    boundary, session policy (AWS's order when several deny is not
 *    documented).
 * 2. Root of the account: identity policies do not apply; allowed within
 *    its account, and across accounts when the resource policy allows.
 *    Services, web-identity callers and anonymous callers are allowed only by
 *    a resource policy that names them (or "*").
 * 3. IAM principals (users, role sessions, federated users), same account:
 *    - a resource-policy Allow naming the caller exactly (user ARN, role
 *      session ARN, federated-user ARN) allows whatever the identity policy,
 *      boundary and session policies say;
 *    - one naming the role ARN (or "*", or via NotPrincipal) allows when the
 *      boundary and session policies, if any, also allow;
 *    - one naming the account (id or :root) delegates to IAM: the identity
 *      side must allow;
 *    - otherwise an identity-based Allow, then the boundary, then the session
 *      policies must allow; the first that does not is the reason.
 *    A trust policy (or resource_required) must allow in every case.
 * 4. Cross-account: the identity side (identity, boundary, session) and the
 *    resource policy must both allow (any principal form).
 * Principal matching: "*" matches every caller; an account matches every
 * principal of that account; a role ARN matches the role's sessions (by the
 * role ARN with path when given, else by account and role name); unique ids
 * (AIDA/AROA) match the user or the role.  NotPrincipal excludes a caller
 * only when all its identities are listed (account, and user / role and
 * session / federated user), and never one that has a permissions boundary
 * in a Deny statement (both as documented for NotPrincipal).
 */
#include "api/iam_policy_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

struct iam_ev {
	const struct iam_request *rq;
	bool has_boundary;
	const char *pa; /* aws:PrincipalArn */
	const char *username;
	const char *ptype;      /* aws:PrincipalType */
	const char *role_name;  /* assumed role: role name */
	size_t role_nlen;
	const char *resource;
	size_t resource_len;
	const char *action;
	size_t action_len;
	char pa_buf[512];
};

/* Match classes of a resource-policy Allow, weakest first. */
enum {
	CLS_NONE,
	CLS_ACCOUNT, /* the account: delegates to IAM */
	CLS_ROLE,    /* role ARN, "*", NotPrincipal: limited by boundary/session */
	CLS_EXACT,   /* user / session / federated-user ARN, service, provider */
};

static bool streq(const char *a, const char *b) { return a && b && strcmp(a, b) == 0; }
static bool streqn(const char *a, const char *b, size_t n) { return a && strlen(a) == n && memcmp(a, b, n) == 0; }

/* ---- request-derived condition keys ---- */

static const char *type_name(enum iam_principal_type t)
{
	switch (t) {
	case IAM_PRINCIPAL_USER:
		return "User";
	case IAM_PRINCIPAL_ASSUMED_ROLE:
		return "AssumedRole";
	case IAM_PRINCIPAL_ROOT:
		return "Account";
	case IAM_PRINCIPAL_FEDERATED_USER:
		return "FederatedUser";
	case IAM_PRINCIPAL_ANONYMOUS:
		return "Anonymous";
	default:
		return NULL;
	}
}

/* t within [0, year 10000): "YYYY-MM-DDTHH:MM:SSZ". */
static void fmt_time(double t, char out[64])
{
	long long s = (long long)t;
	long long days = s / 86400, rem = s % 86400;
	/* civil_from_days (proleptic Gregorian) */
	long long z = days + 719468;
	long long era = z / 146097;
	long long doe = z - era * 146097;
	long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	long long y = yoe + era * 400, doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
	long long d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
	y += m <= 2;
	snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02dZ", (int)(y % 10000), (int)m, (int)d, (int)(rem / 3600),
	         (int)(rem / 60 % 60), (int)(rem % 60));
}

static bool one(struct iam_vals *out, const char *s)
{
	if (!s)
		return false;
	out->one = s;
	out->v = &out->one;
	out->n = 1;
	return true;
}

static bool derived(const struct iam_ev *ev, uint8_t id, struct iam_vals *out)
{
	const struct iam_request *rq = ev->rq;
	switch (id) {
	case IAM_KEY_PRINCIPAL_ARN:
		return one(out, ev->pa);
	case IAM_KEY_PRINCIPAL_ACCOUNT:
		return ev->pa ? one(out, rq->principal_account) : false;
	case IAM_KEY_PRINCIPAL_TYPE:
		return one(out, ev->ptype);
	case IAM_KEY_USERNAME:
		return one(out, ev->username);
	case IAM_KEY_USERID:
		return one(out, rq->userid ? rq->userid
		                           : rq->ptype == IAM_PRINCIPAL_ROOT ? rq->principal_account : NULL);
	case IAM_KEY_SOURCE_IP:
		return one(out, rq->source_ip);
	case IAM_KEY_SECURE_TRANSPORT:
		return rq->secure_transport < 0 ? false : one(out, rq->secure_transport ? "true" : "false");
	case IAM_KEY_CURRENT_TIME:
	case IAM_KEY_EPOCH_TIME:
		if (!(rq->now >= 0 && rq->now < 253402300800.0)) /* absent, NaN, or past year 9999 */
			return false;
		if (id == IAM_KEY_CURRENT_TIME)
			fmt_time(rq->now, out->buf);
		else
			snprintf(out->buf, sizeof out->buf, "%lld", (long long)rq->now);
		out->is_now = true;
		out->num = rq->now;
		return one(out, out->buf);
	case IAM_KEY_RESOURCE_ACCOUNT:
		return one(out, rq->resource_account ? rq->resource_account : rq->principal_account);
	default:
		return false;
	}
}

bool iam_ev_resolve(const struct iam_ev *ev, const struct iam_key *k, struct iam_vals *out)
{
	out->is_now = false;
	out->n = 0;
	if (k->id != IAM_KEY_OTHER && derived(ev, k->id, out))
		return true;
	const struct iam_request *rq = ev->rq;
	for (size_t i = 0; i < rq->nctx; i++) {
		const struct iam_ctx_entry *e = &rq->ctx[i];
		if (e->key && strlen(e->key) == k->len && strncasecmp(e->key, k->name, k->len) == 0) {
			if (e->nvalues == 0 || !e->values)
				return false;
			out->v = e->values;
			out->n = e->nvalues;
			return true;
		}
	}
	return false;
}

/* ---- principals ---- */

/* "arn:<part>:sts::<acct>:assumed-role/<name>/<session>": the role name. */
static bool session_role(const char *arn, const char **name, size_t *nlen)
{
	const char *p = arn ? strstr(arn, ":assumed-role/") : NULL;
	if (!p)
		return false;
	p += strlen(":assumed-role/");
	const char *e = strchr(p, '/');
	if (!e || e == p)
		return false;
	*name = p;
	*nlen = (size_t)(e - p);
	return true;
}

static void ev_init(struct iam_ev *ev, const struct iam_eval_input *in)
{
	const struct iam_request *rq = in->rq;
	memset(ev, 0, offsetof(struct iam_ev, pa_buf));
	ev->pa_buf[0] = '\0';
	ev->rq = rq;
	ev->has_boundary = in->boundary != NULL;
	ev->ptype = type_name(rq->ptype);
	ev->resource = rq->resource ? rq->resource : "";
	ev->resource_len = strlen(ev->resource);
	ev->action = rq->action ? rq->action : "";
	ev->action_len = strlen(ev->action);
	switch (rq->ptype) {
	case IAM_PRINCIPAL_USER:
		ev->pa = rq->principal_arn;
		ev->username = rq->username;
		if (!ev->username && rq->principal_arn) {
			const char *slash = strrchr(rq->principal_arn, '/');
			ev->username = slash ? slash + 1 : NULL;
		}
		break;
	case IAM_PRINCIPAL_ROOT:
	case IAM_PRINCIPAL_FEDERATED_USER:
		ev->pa = rq->principal_arn;
		break;
	case IAM_PRINCIPAL_ASSUMED_ROLE:
		if (rq->role_arn) {
			ev->pa = rq->role_arn;
			const char *slash = strrchr(rq->role_arn, '/');
			if (slash) {
				ev->role_name = slash + 1;
				ev->role_nlen = strlen(slash + 1);
			}
		} else if (session_role(rq->principal_arn, &ev->role_name, &ev->role_nlen)) {
			const char *part = rq->principal_arn + 4, *pe = strchr(part, ':');
			int plen = pe ? (int)(pe - part) : 3;
			int n = snprintf(ev->pa_buf, sizeof ev->pa_buf, "arn:%.*s:iam::%s:role/%.*s", plen, part,
			                 rq->principal_account ? rq->principal_account : "", (int)ev->role_nlen,
			                 ev->role_name);
			ev->pa = n > 0 && (size_t)n < sizeof ev->pa_buf ? ev->pa_buf : NULL;
		}
		break;
	default:
		break;
	}
}

static bool has_account(enum iam_principal_type t)
{
	return t == IAM_PRINCIPAL_USER || t == IAM_PRINCIPAL_ASSUMED_ROLE || t == IAM_PRINCIPAL_ROOT ||
	       t == IAM_PRINCIPAL_FEDERATED_USER;
}

/* Is the caller's role the one this ROLE entry names? */
static bool role_is(const struct iam_ev *ev, const struct iam_prin *e)
{
	const struct iam_request *rq = ev->rq;
	if (rq->ptype != IAM_PRINCIPAL_ASSUMED_ROLE)
		return false;
	if (rq->role_arn)
		return streqn(rq->role_arn, e->s, e->len);
	return streq(rq->principal_account, e->acct) && ev->role_name && ev->role_nlen == e->nlen &&
	       memcmp(ev->role_name, e->name, e->nlen) == 0;
}

/* AROA... matches "AROA...:session"; AIDA... matches exactly. */
static bool uid_is(const struct iam_request *rq, const struct iam_prin *e)
{
	if (!rq->userid)
		return false;
	size_t n = strcspn(rq->userid, ":");
	return n == e->len && memcmp(rq->userid, e->s, n) == 0;
}

static int prin_class(const struct iam_ev *ev, const struct iam_prin *e)
{
	const struct iam_request *rq = ev->rq;
	switch (e->type) {
	case IAM_PRIN_ANY:
		return CLS_ROLE;
	case IAM_PRIN_ACCOUNT:
		if (!has_account(rq->ptype) || !streq(rq->principal_account, e->acct))
			return CLS_NONE;
		return rq->ptype == IAM_PRINCIPAL_ROOT ? CLS_EXACT : CLS_ACCOUNT;
	case IAM_PRIN_USER:
		return rq->ptype == IAM_PRINCIPAL_USER && streqn(rq->principal_arn, e->s, e->len) ? CLS_EXACT : CLS_NONE;
	case IAM_PRIN_ROLE:
		return role_is(ev, e) ? CLS_ROLE : CLS_NONE;
	case IAM_PRIN_SESSION:
		return rq->ptype == IAM_PRINCIPAL_ASSUMED_ROLE && streqn(rq->principal_arn, e->s, e->len) ? CLS_EXACT
		                                                                                         : CLS_NONE;
	case IAM_PRIN_FEDUSER:
		return rq->ptype == IAM_PRINCIPAL_FEDERATED_USER && streqn(rq->principal_arn, e->s, e->len) ? CLS_EXACT
		                                                                                           : CLS_NONE;
	case IAM_PRIN_UNIQUE_ID:
		if (rq->ptype == IAM_PRINCIPAL_USER && uid_is(rq, e))
			return CLS_EXACT;
		if (rq->ptype == IAM_PRINCIPAL_ASSUMED_ROLE && uid_is(rq, e))
			return CLS_ROLE;
		return CLS_NONE;
	case IAM_PRIN_SERVICE:
		return rq->ptype == IAM_PRINCIPAL_SERVICE && rq->principal_arn && strlen(rq->principal_arn) == e->len &&
		               strncasecmp(rq->principal_arn, e->s, e->len) == 0
		           ? CLS_EXACT
		           : CLS_NONE;
	case IAM_PRIN_FEDERATED:
		return rq->ptype == IAM_PRINCIPAL_WEB_IDENTITY && streqn(rq->principal_arn, e->s, e->len) ? CLS_EXACT
		                                                                                         : CLS_NONE;
	default:
		return CLS_NONE;
	}
}

/* NotPrincipal: are all of the caller's identities listed? */
static bool all_listed(const struct iam_ev *ev, const struct iam_stmt *st)
{
	const struct iam_request *rq = ev->rq;
	bool any = false, acct = false, self = false, role = false;
	for (uint32_t i = 0; i < st->nprin; i++) {
		const struct iam_prin *e = &st->prin[i];
		int c = prin_class(ev, e);
		any |= e->type == IAM_PRIN_ANY;
		acct |= e->type == IAM_PRIN_ACCOUNT && c != CLS_NONE;
		role |= (e->type == IAM_PRIN_ROLE || e->type == IAM_PRIN_UNIQUE_ID) && c == CLS_ROLE;
		self |= e->type != IAM_PRIN_ANY && e->type != IAM_PRIN_ACCOUNT && c == CLS_EXACT;
	}
	if (any)
		return true;
	switch (rq->ptype) {
	case IAM_PRINCIPAL_ROOT:
		return acct;
	case IAM_PRINCIPAL_USER:
	case IAM_PRINCIPAL_FEDERATED_USER:
		return acct && self;
	case IAM_PRINCIPAL_ASSUMED_ROLE:
		return acct && role && self;
	case IAM_PRINCIPAL_SERVICE:
	case IAM_PRINCIPAL_WEB_IDENTITY:
		return self;
	default:
		return false;
	}
}

/* ---- statements and policies ---- */

static bool action_applies(const struct iam_ev *ev, const struct iam_stmt *st)
{
	bool hit = false;
	for (uint32_t i = 0; i < st->nact && !hit; i++)
		hit = iam_pattern_match(&st->act[i], ev->action, ev->action_len, IAM_PM_ICASE, ev);
	return hit != st->not_action;
}

static bool resource_applies(const struct iam_ev *ev, const struct iam_stmt *st)
{
	if (st->any_resource)
		return true;
	bool hit = false;
	for (uint32_t i = 0; i < st->nres && !hit; i++)
		hit = iam_pattern_match(&st->res[i], ev->resource, ev->resource_len, IAM_PM_ARN, ev);
	return hit != st->not_resource;
}

/* The match class of a statement's principal for the caller (CLS_EXACT for
 * statements without one). */
static int principal_applies(const struct iam_ev *ev, const struct iam_stmt *st)
{
	if (!st->prin)
		return CLS_EXACT;
	if (st->not_principal) {
		if (st->deny && ev->has_boundary)
			return CLS_ROLE;
		return all_listed(ev, st) ? CLS_NONE : CLS_ROLE;
	}
	int best = CLS_NONE;
	for (uint32_t i = 0; i < st->nprin && best != CLS_EXACT; i++) {
		int c = prin_class(ev, &st->prin[i]);
		if (c > best)
			best = c;
	}
	return best;
}

struct pres {
	bool deny;
	int cls; /* best Allow class (CLS_NONE: no Allow) */
	const char *deny_sid;
};

static void eval_policy(const struct iam_ev *ev, const struct iam_policy *p, struct pres *r)
{
	for (uint32_t i = 0; i < p->nst; i++) {
		const struct iam_stmt *st = &p->st[i];
		if (st->deny ? r->deny : r->cls == CLS_EXACT)
			continue; /* cannot change the outcome */
		if (!action_applies(ev, st) || !resource_applies(ev, st))
			continue;
		int cls = principal_applies(ev, st);
		if (cls == CLS_NONE)
			continue;
		bool conds = true;
		for (uint32_t k = 0; k < st->ncond && conds; k++)
			conds = iam_cond_eval(&st->cond[k], ev);
		if (!conds)
			continue;
		if (st->deny) {
			r->deny = true;
			r->deny_sid = st->sid;
		} else if (cls > r->cls) {
			r->cls = cls;
		}
	}
}

static bool finish(struct iam_result *out, enum iam_decision d, enum iam_reason why, const char *sid)
{
	out->decision = d;
	out->reason = why;
	out->deny_sid = sid;
	return d == IAM_ALLOW;
}

bool iam_policy_evaluate(const struct iam_eval_input *in, struct iam_result *out)
{
	struct iam_ev ev;
	ev_init(&ev, in);
	const struct iam_request *rq = in->rq;
	bool iam_caller = rq->ptype == IAM_PRINCIPAL_USER || rq->ptype == IAM_PRINCIPAL_ASSUMED_ROLE ||
	                  rq->ptype == IAM_PRINCIPAL_FEDERATED_USER;
	struct pres id = {0}, rs = {0}, bd = {0}, ss = {0};
	if (iam_caller) {
		for (size_t i = 0; i < in->nidentity; i++)
			if (in->identity[i])
				eval_policy(&ev, in->identity[i], &id);
		if (in->boundary)
			eval_policy(&ev, in->boundary, &bd);
		for (size_t i = 0; i < in->nsession; i++)
			if (in->session[i])
				eval_policy(&ev, in->session[i], &ss);
	}
	if (in->resource)
		eval_policy(&ev, in->resource, &rs);

	if (id.deny)
		return finish(out, IAM_DENY_EXPLICIT, IAM_REASON_IDENTITY, id.deny_sid);
	if (rs.deny)
		return finish(out, IAM_DENY_EXPLICIT, IAM_REASON_RESOURCE, rs.deny_sid);
	if (bd.deny)
		return finish(out, IAM_DENY_EXPLICIT, IAM_REASON_BOUNDARY, bd.deny_sid);
	if (ss.deny)
		return finish(out, IAM_DENY_EXPLICIT, IAM_REASON_SESSION, ss.deny_sid);

	bool same = !rq->resource_account || !rq->principal_account ||
	            strcmp(rq->resource_account, rq->principal_account) == 0;
	bool required = in->resource_required || (in->resource && in->resource->kind == IAM_POLICY_TRUST);
	if (rq->ptype == IAM_PRINCIPAL_ROOT) {
		if ((same && !required) || rs.cls != CLS_NONE)
			return finish(out, IAM_ALLOW, IAM_REASON_NONE, NULL);
		return finish(out, IAM_DENY_IMPLICIT, IAM_REASON_RESOURCE, NULL);
	}
	if (!iam_caller)
		return finish(out, rs.cls != CLS_NONE ? IAM_ALLOW : IAM_DENY_IMPLICIT,
		              rs.cls != CLS_NONE ? IAM_REASON_NONE : IAM_REASON_RESOURCE, NULL);

	bool bd_ok = !in->boundary || bd.cls != CLS_NONE;
	bool ss_ok = in->nsession == 0 || ss.cls != CLS_NONE;
	if (same) {
		if (rs.cls == CLS_EXACT || (rs.cls == CLS_ROLE && bd_ok && ss_ok))
			return finish(out, IAM_ALLOW, IAM_REASON_NONE, NULL);
		if (required && rs.cls == CLS_NONE)
			return finish(out, IAM_DENY_IMPLICIT, IAM_REASON_RESOURCE, NULL);
	}
	if (id.cls == CLS_NONE)
		return finish(out, IAM_DENY_IMPLICIT, IAM_REASON_IDENTITY, NULL);
	if (!bd_ok)
		return finish(out, IAM_DENY_IMPLICIT, IAM_REASON_BOUNDARY, NULL);
	if (!ss_ok)
		return finish(out, IAM_DENY_IMPLICIT, IAM_REASON_SESSION, NULL);
	if (!same && rs.cls == CLS_NONE)
		return finish(out, IAM_DENY_IMPLICIT, IAM_REASON_RESOURCE, NULL);
	return finish(out, IAM_ALLOW, IAM_REASON_NONE, NULL);
}

/* ---- AccessDenied text ---- */

void iam_policy_denied_message(const struct iam_request *rq, const struct iam_result *res, char *out, size_t cap)
{
	if (!cap)
		return;
	out[0] = '\0';
	if (res->decision == IAM_ALLOW)
		return;
	static const char *const names[] = {
		[IAM_REASON_NONE] = "identity-based policy",   [IAM_REASON_IDENTITY] = "identity-based policy",
		[IAM_REASON_RESOURCE] = "resource-based policy", [IAM_REASON_BOUNDARY] = "permissions boundary",
		[IAM_REASON_SESSION] = "session policy",
	};
	const char *type = names[(unsigned)res->reason < 5 ? res->reason : 0];
	const char *who = rq->ptype == IAM_PRINCIPAL_ANONYMOUS || !rq->principal_arn ? "anonymous" : rq->principal_arn;
	const char *action = rq->action ? rq->action : "";
	const char *shown = rq->resource_shown ? rq->resource_shown : rq->resource;
	bool on = shown && *shown && strcmp(shown, "*") != 0;
	int n;
	if (res->decision == IAM_DENY_EXPLICIT)
		n = snprintf(out, cap, "User: %s is not authorized to perform: %s%s%s with an explicit deny in %s %s", who,
		             action, on ? " on resource: " : "", on ? shown : "",
		             res->reason == IAM_REASON_IDENTITY || res->reason == IAM_REASON_NONE ? "an" : "a", type);
	else
		n = snprintf(out, cap, "User: %s is not authorized to perform: %s%s%s because no %s allows the %s action",
		             who, action, on ? " on resource: " : "", on ? shown : "", type, action);
	if (n > 0 && (size_t)n >= cap) {
		/* do not end inside a UTF-8 sequence */
		size_t end = cap - 1;
		while (end > 0 && ((unsigned char)out[end - 1] & 0xC0) == 0x80)
			end--;
		if (end > 0 && ((unsigned char)out[end - 1] & 0xC0) == 0xC0)
			end--;
		out[end] = '\0';
	}
}
