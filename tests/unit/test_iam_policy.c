/*
 * Unit tests of the IAM policy evaluator (api/iam_policy.h), table-driven
 * from the JSON files of fixtures/policies (run from the repository root).  Each file
 * is a list of cases of two shapes:
 *
 *   evaluation: {"name", "policies": {"identity": [doc...], "boundary": doc,
 *     "session": [doc...], "resource": doc, "resource_kind": "trust",
 *     "resource_required": bool}, "request": {...}, "expect":
 *     "Allow"|"ExplicitDeny"|"ImplicitDeny", "reason"?, "message"?, "sid"?}
 *   parsing: {"name", "parse": {"kind", "policy": doc | "text": "..."},
 *     "error": "MalformedPolicyDocument"|"LimitExceeded"|...|null,
 *     "message"?}
 *
 * A doc is a JSON object (serialised) or a string (the raw text).  The
 * request's principal defaults to IAM user alice of 111122223333.  Then the
 * checks that tables cannot express: limits on generated documents,
 * pathological wildcards, messages, principal walking.  With --bench it
 * prints evaluations per second for a typical Lambda role instead.
 */
#include "api/iam_policy.h"
#include "tap.h"

#include <dirent.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FIXDIR "fixtures/policies"
#define MAXP 16
#define MAXCTX 32

static const char *jstr(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static int kind_of(const char *s, enum iam_policy_kind *k)
{
	static const struct {
		const char *name;
		enum iam_policy_kind kind;
	} kinds[] = {{"identity", IAM_POLICY_IDENTITY}, {"managed", IAM_POLICY_MANAGED},
	             {"boundary", IAM_POLICY_BOUNDARY}, {"session", IAM_POLICY_SESSION},
	             {"resource", IAM_POLICY_RESOURCE}, {"trust", IAM_POLICY_TRUST}};
	for (size_t i = 0; s && i < sizeof kinds / sizeof kinds[0]; i++)
		if (strcmp(s, kinds[i].name) == 0) {
			*k = kinds[i].kind;
			return 0;
		}
	return -1;
}

/* Parses a doc (object or raw string) as kind. */
static struct iam_policy *load(json_t *doc, enum iam_policy_kind kind, struct emu_err *err)
{
	struct iam_policy *p = NULL;
	if (json_is_string(doc)) {
		iam_policy_parse(json_string_value(doc), json_string_length(doc), kind, &p, err);
		return p;
	}
	char *text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!text)
		return NULL;
	iam_policy_parse(text, strlen(text), kind, &p, err);
	free(text);
	return p;
}

struct loaded {
	struct iam_policy *all[3 * MAXP];
	size_t n;
	const struct iam_policy *identity[MAXP], *session[MAXP];
	struct iam_eval_input in;
};

static int load_list(struct loaded *l, json_t *v, enum iam_policy_kind kind, const struct iam_policy **dst,
                     size_t *n, const char *name)
{
	json_t *one = json_is_array(v) ? NULL : v;
	size_t cnt = one ? 1 : json_array_size(v);
	for (size_t i = 0; i < cnt && i < MAXP; i++) {
		struct emu_err err;
		emu_err_clear(&err);
		struct iam_policy *p = load(one ? one : json_array_get(v, i), kind, &err);
		if (!p) {
			ok(0, "%s: policy parses (%s)", name, err.msg);
			return -1;
		}
		l->all[l->n++] = p;
		dst[(*n)++] = p;
	}
	return 0;
}

static enum iam_principal_type ptype_of(const char *s)
{
	if (!s || strcmp(s, "user") == 0)
		return IAM_PRINCIPAL_USER;
	if (strcmp(s, "assumed-role") == 0)
		return IAM_PRINCIPAL_ASSUMED_ROLE;
	if (strcmp(s, "root") == 0)
		return IAM_PRINCIPAL_ROOT;
	if (strcmp(s, "federated-user") == 0)
		return IAM_PRINCIPAL_FEDERATED_USER;
	if (strcmp(s, "service") == 0)
		return IAM_PRINCIPAL_SERVICE;
	if (strcmp(s, "web-identity") == 0)
		return IAM_PRINCIPAL_WEB_IDENTITY;
	return IAM_PRINCIPAL_ANONYMOUS;
}

struct reqbuf {
	struct iam_request rq;
	struct iam_ctx_entry ctx[MAXCTX];
	const char *vals[MAXCTX][16];
};

static void build_request(json_t *r, struct reqbuf *b)
{
	memset(b, 0, sizeof *b);
	struct iam_request *rq = &b->rq;
	rq->action = jstr(r, "action");
	rq->resource = jstr(r, "resource");
	rq->resource_shown = jstr(r, "resource_shown");
	rq->resource_account = jstr(r, "resource_account");
	json_t *p = json_object_get(r, "principal");
	rq->ptype = ptype_of(jstr(p, "type"));
	rq->principal_arn = p ? jstr(p, "arn") : "arn:aws:iam::111122223333:user/alice";
	rq->principal_account = p ? jstr(p, "account") : "111122223333";
	rq->role_arn = jstr(p, "role_arn");
	rq->username = jstr(p, "username");
	rq->userid = p ? jstr(p, "userid") : "AIDAEXAMPLEALICE00001";
	rq->source_ip = jstr(r, "source_ip");
	json_t *st = json_object_get(r, "secure_transport");
	rq->secure_transport = json_is_boolean(st) ? json_is_true(st) : -1;
	json_t *now = json_object_get(r, "now");
	rq->now = -1;
	if (json_is_number(now))
		rq->now = json_number_value(now);
	else if (json_is_string(now)) {
		struct tm tm = {0};
		if (strptime(json_string_value(now), "%Y-%m-%dT%H:%M:%SZ", &tm))
			rq->now = (double)timegm(&tm);
	}
	json_t *ctx = json_object_get(r, "context");
	const char *k;
	json_t *v;
	json_object_foreach(ctx, k, v) {
		if (rq->nctx == MAXCTX)
			break;
		struct iam_ctx_entry *e = &b->ctx[rq->nctx];
		e->key = k;
		e->values = b->vals[rq->nctx];
		size_t n = json_is_array(v) ? json_array_size(v) : 1;
		for (size_t i = 0; i < n && i < 16; i++) {
			json_t *x = json_is_array(v) ? json_array_get(v, i) : v;
			b->vals[rq->nctx][e->nvalues++] = json_is_string(x) ? json_string_value(x) : "";
		}
		rq->nctx++;
	}
	rq->ctx = b->ctx;
}

static const char *decision_name(enum iam_decision d)
{
	return d == IAM_ALLOW ? "Allow" : d == IAM_DENY_EXPLICIT ? "ExplicitDeny" : "ImplicitDeny";
}

static const char *reason_name(enum iam_reason r)
{
	static const char *const n[] = {"none", "identity-based policy", "resource-based policy", "permissions boundary",
	                                "session policy"};
	return n[r];
}

static void run_eval(json_t *c, const char *name)
{
	struct loaded l;
	memset(&l, 0, sizeof l);
	json_t *ps = json_object_get(c, "policies");
	bool okp = true;
	json_t *v;
	if ((v = json_object_get(ps, "identity")))
		okp &= load_list(&l, v, IAM_POLICY_IDENTITY, l.identity, &l.in.nidentity, name) == 0;
	if ((v = json_object_get(ps, "session")))
		okp &= load_list(&l, v, IAM_POLICY_SESSION, l.session, &l.in.nsession, name) == 0;
	const struct iam_policy *one[1];
	size_t n1 = 0;
	if ((v = json_object_get(ps, "boundary")) && load_list(&l, v, IAM_POLICY_BOUNDARY, one, &n1, name) == 0)
		l.in.boundary = one[0];
	else if (v)
		okp = false;
	n1 = 0;
	const char *rk = jstr(ps, "resource_kind");
	enum iam_policy_kind kind = rk && strcmp(rk, "trust") == 0 ? IAM_POLICY_TRUST : IAM_POLICY_RESOURCE;
	if ((v = json_object_get(ps, "resource")) && load_list(&l, v, kind, one, &n1, name) == 0)
		l.in.resource = one[0];
	else if (v)
		okp = false;
	l.in.resource_required = json_is_true(json_object_get(ps, "resource_required"));
	l.in.identity = l.identity;
	l.in.session = l.session;
	if (okp) {
		struct reqbuf b;
		build_request(json_object_get(c, "request"), &b);
		l.in.rq = &b.rq;
		struct iam_result res;
		bool allowed = iam_policy_evaluate(&l.in, &res);
		const char *want = jstr(c, "expect");
		is_str(decision_name(res.decision), want, "%s: decision", name);
		ok(allowed == (res.decision == IAM_ALLOW), "%s: return value agrees", name);
		const char *reason = jstr(c, "reason");
		if (reason)
			is_str(reason_name(res.reason), reason, "%s: reason", name);
		const char *msg = jstr(c, "message");
		if (msg) {
			char out[1024];
			iam_policy_denied_message(&b.rq, &res, out, sizeof out);
			is_str(out, msg, "%s: message", name);
		}
		json_t *sid = json_object_get(c, "sid");
		if (sid)
			is_str(res.deny_sid ? res.deny_sid : "(none)", json_is_string(sid) ? json_string_value(sid) : "(none)",
			       "%s: denying Sid", name);
	}
	for (size_t i = 0; i < l.n; i++)
		iam_policy_free(l.all[i]);
}

static void run_parse(json_t *c, const char *name)
{
	json_t *p = json_object_get(c, "parse");
	enum iam_policy_kind kind;
	if (kind_of(jstr(p, "kind"), &kind) < 0) {
		ok(0, "%s: known kind", name);
		return;
	}
	json_t *doc = json_object_get(p, "policy");
	if (!doc)
		doc = json_object_get(p, "text");
	struct emu_err err;
	emu_err_clear(&err);
	struct iam_policy *pol = load(doc, kind, &err);
	const char *want = jstr(c, "error");
	if (!want) {
		ok(pol != NULL, "%s: parses%s%s", name, pol ? "" : ": ", pol ? "" : err.msg);
	} else {
		ok(pol == NULL, "%s: refused", name);
		is_str(pol ? "(none)" : emu_err_query_code(err.code), want, "%s: error code", name);
		const char *msg = jstr(c, "message");
		if (msg)
			is_str(pol ? "(none)" : err.msg, msg, "%s: message", name);
	}
	iam_policy_free(pol);
}

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void run_fixtures(void)
{
	DIR *d = opendir(FIXDIR);
	ok(d != NULL, "fixture directory %s", FIXDIR);
	if (!d)
		return;
	char *names[256];
	size_t nn = 0;
	struct dirent *de;
	while ((de = readdir(d)) && nn < 256) {
		size_t n = strlen(de->d_name);
		if (n > 5 && strcmp(de->d_name + n - 5, ".json") == 0)
			names[nn++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, nn, sizeof *names, cmp_names);
	size_t cases = 0;
	for (size_t f = 0; f < nn; f++) {
		char path[512];
		snprintf(path, sizeof path, "%s/%s", FIXDIR, names[f]);
		json_error_t je;
		json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
		ok(json_is_array(root), "%s loads (%s)", path, root ? "" : je.text);
		size_t i;
		json_t *c;
		json_array_foreach(root, i, c)
		{
			char name[300];
			snprintf(name, sizeof name, "%s: %s", names[f], jstr(c, "name") ? jstr(c, "name") : "?");
			if (json_object_get(c, "parse"))
				run_parse(c, name);
			else
				run_eval(c, name);
			cases++;
		}
		json_decref(root);
		free(names[f]);
	}
	ok(cases >= 150, "%zu table cases", cases);
}

/* ---- checks tables cannot express ---- */

static struct iam_policy *parse_str(const char *s, enum iam_policy_kind kind, struct emu_err *err)
{
	struct iam_policy *p = NULL;
	emu_err_clear(err);
	iam_policy_parse(s, strlen(s), kind, &p, err);
	return p;
}

static void test_limits(void)
{
	struct emu_err err;
	/* a managed policy of 6144 characters without white space passes, one more fails */
	const char *head = "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\","
	                   "\"Resource\":\"arn:aws:s3:::";
	const char *tail = "\"}}";
	size_t fixed = strlen(head) + strlen(tail);
	char *doc = malloc(200000);
	if (!doc)
		return;
	for (int extra = 0; extra <= 1; extra++) {
		size_t pad = IAM_POLICY_MAX_MANAGED - fixed + (size_t)extra;
		size_t off = strlen(head);
		memcpy(doc, head, off);
		memset(doc + off, 'b', pad);
		strcpy(doc + off + pad, tail);
		struct iam_policy *p = parse_str(doc, IAM_POLICY_MANAGED, &err);
		if (!extra) {
			ok(p != NULL, "managed policy of exactly 6144 characters parses (%s)", p ? "" : err.msg);
			ok(p && iam_policy_chars(p) == IAM_POLICY_MAX_MANAGED, "iam_policy_chars counts 6144");
		} else {
			ok(p == NULL && err.code == ERR_IAM_LIMIT_EXCEEDED, "6145 characters: LimitExceeded");
			is_str(err.msg, "Cannot exceed quota for PolicySize: 6144", "quota text");
		}
		iam_policy_free(p);
	}
	/* white space does not count */
	size_t off = strlen(head);
	memcpy(doc, head, off);
	memset(doc + off, 'b', 3000);
	size_t pos = off + 3000;
	strcpy(doc + pos, tail);
	pos += strlen(tail);
	memset(doc + pos, ' ', 20000);
	doc[pos + 20000] = '\0';
	struct iam_policy *p = parse_str(doc, IAM_POLICY_MANAGED, &err);
	ok(p != NULL, "white space does not count against the managed size");
	iam_policy_free(p);
	/* but a resource policy counts every character (the API's length) */
	p = parse_str(doc, IAM_POLICY_RESOURCE, &err);
	ok(p == NULL && err.code == ERR_VALIDATION, "resource policy of 23000 characters: ValidationError");
	/* text beyond the hard cap is refused before it is read */
	memset(doc, ' ', IAM_POLICY_MAX_TEXT + 10);
	p = NULL;
	emu_err_clear(&err);
	ok(iam_policy_parse(doc, IAM_POLICY_MAX_TEXT + 10, IAM_POLICY_IDENTITY, &p, &err) < 0 &&
	       err.code == ERR_IAM_LIMIT_EXCEEDED,
	   "text over %u bytes refused", IAM_POLICY_MAX_TEXT);
	/* deep nesting refused without recursion */
	memset(doc, '[', 5000);
	p = NULL;
	ok(iam_policy_parse(doc, 5000, IAM_POLICY_IDENTITY, &p, &err) < 0 && err.code == ERR_IAM_MALFORMED_POLICY,
	   "deep nesting: MalformedPolicyDocument");
	/* many statements: compiled and evaluated */
	struct buf_s {
		char *p;
		size_t n;
	} b = {doc, 0};
	b.n += (size_t)sprintf(b.p, "{\"Version\":\"2012-10-17\",\"Statement\":[");
	for (int i = 0; i < 150; i++)
		b.n += (size_t)sprintf(b.p + b.n, "%s{\"Effect\":\"Allow\",\"Action\":\"s3:Get%d\",\"Resource\":\"*\"}",
		                       i ? "," : "", i);
	b.n += (size_t)sprintf(b.p + b.n, "]}");
	p = parse_str(doc, IAM_POLICY_IDENTITY, &err);
	ok(p != NULL, "150 statements parse (%s)", p ? "" : err.msg);
	if (p) {
		const struct iam_policy *ids[] = {p};
		struct iam_request rq = {.action = "s3:get149", .resource = "arn:aws:s3:::x/y", .ptype = IAM_PRINCIPAL_USER,
		                         .principal_arn = "arn:aws:iam::111122223333:user/alice",
		                         .principal_account = "111122223333", .secure_transport = -1, .now = -1};
		struct iam_eval_input in = {.rq = &rq, .identity = ids, .nidentity = 1};
		struct iam_result res;
		ok(iam_policy_evaluate(&in, &res), "the last of 150 statements allows (action case-insensitive)");
		iam_policy_free(p);
	}
	free(doc);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_pathological(void)
{
	/* a*a*a*...*b against aaaa...: one backtrack point keeps this quadratic at worst */
	char pat[1200], subj[2100];
	size_t n = 0;
	n += (size_t)sprintf(pat, "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"s3:*\","
	                          "\"Resource\":\"arn:aws:s3:::");
	for (int i = 0; i < 200; i++)
		n += (size_t)sprintf(pat + n, "a*");
	sprintf(pat + n, "b\"}}");
	memset(subj, 'a', 2000);
	memcpy(subj, "arn:aws:s3:::", 13);
	subj[2000] = '\0';
	struct emu_err err;
	struct iam_policy *p = parse_str(pat, IAM_POLICY_IDENTITY, &err);
	ok(p != NULL, "pathological pattern parses (%s)", p ? "" : err.msg);
	if (!p)
		return;
	const struct iam_policy *ids[] = {p};
	struct iam_request rq = {.action = "s3:GetObject", .resource = subj, .ptype = IAM_PRINCIPAL_USER,
	                         .principal_arn = "arn:aws:iam::111122223333:user/alice",
	                         .principal_account = "111122223333", .secure_transport = -1, .now = -1};
	struct iam_eval_input in = {.rq = &rq, .identity = ids, .nidentity = 1};
	struct iam_result res;
	double t0 = now_s();
	bool a = iam_policy_evaluate(&in, &res);
	double dt = now_s() - t0;
	ok(!a && res.decision == IAM_DENY_IMPLICIT, "a*a*...b does not match a...a");
	ok(dt < 0.5, "and takes %.3f ms (bounded)", dt * 1000);
	iam_policy_free(p);
}

static int collect(void *arg, const char *type, const char *value)
{
	char *out = arg;
	size_t n = strlen(out);
	snprintf(out + n, 512 - n, "%s=%s;", type, value);
	return 0;
}

static int stop_at_service(void *arg, const char *type, const char *value)
{
	(void)value;
	(*(int *)arg)++;
	return strcmp(type, "Service") == 0 ? 7 : 0;
}

static void test_api(void)
{
	struct emu_err err;
	struct iam_policy *p = parse_str(
		"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":[\"111122223333\","
		"\"arn:aws:iam::444455556666:role/x\"],\"Service\":\"rds.amazonaws.com\"},\"Action\":\"sts:AssumeRole\"}]}",
		IAM_POLICY_TRUST, &err);
	ok(p != NULL, "trust policy parses");
	if (p) {
		char out[512] = "";
		iam_policy_foreach_principal(p, collect, out);
		is_str(out, "AWS=111122223333;AWS=arn:aws:iam::444455556666:role/x;Service=rds.amazonaws.com;",
		       "principals walked in order");
		int calls = 0;
		is_int(iam_policy_foreach_principal(p, stop_at_service, &calls), 7, "a callback's non-zero stops the walk");
		is_int(calls, 3, "after three calls");
		ok(iam_policy_get_kind(p) == IAM_POLICY_TRUST, "kind kept");
		iam_policy_free(p);
	}
	/* messages: truncation keeps a NUL and whole UTF-8 characters */
	struct iam_request rq = {.action = "secretsmanager:GetSecretValue", .resource = "arn:aws:secretsmanager:x",
	                         .resource_shown = "s\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", .ptype = IAM_PRINCIPAL_USER,
	                         .principal_arn = "arn:aws:iam::111122223333:user/alice"};
	struct iam_result res = {.decision = IAM_DENY_IMPLICIT, .reason = IAM_REASON_IDENTITY};
	char full[512], small[132];
	iam_policy_denied_message(&rq, &res, full, sizeof full);
	size_t at = strstr(full, "s\xc3\xa9") - full;
	for (size_t cap = at + 1; cap < at + 10 && cap < sizeof small; cap++) {
		iam_policy_denied_message(&rq, &res, small, cap);
		size_t n = strlen(small);
		bool whole = n < cap && (n == 0 || ((unsigned char)small[n - 1] & 0xC0) != 0xC0);
		if (n >= 2 && ((unsigned char)small[n - 1] & 0xC0) == 0x80)
			whole = whole && ((unsigned char)small[n - 2] & 0xE0) == 0xC0;
		ok(whole, "message cut at %zu ends on a whole character", cap);
	}
	res.decision = IAM_ALLOW;
	iam_policy_denied_message(&rq, &res, full, sizeof full);
	is_str(full, "", "no message when allowed");
	iam_policy_free(NULL);
	ok(1, "iam_policy_free(NULL) is a no-op");
	p = NULL;
	emu_err_clear(&err);
	ok(iam_policy_parse(NULL, 0, IAM_POLICY_IDENTITY, &p, &err) < 0 && err.code == ERR_IAM_MALFORMED_POLICY,
	   "NULL text refused");
	ok(iam_policy_parse("", 0, IAM_POLICY_IDENTITY, &p, &err) < 0, "empty text refused");
	is_str(err.msg, "Syntax errors in policy.", "as a syntax error");
	/* NUL inside the text */
	ok(iam_policy_parse("{\"Version\":\"2012-10-17\"\0}", 25, IAM_POLICY_IDENTITY, &p, &err) < 0,
	   "a NUL byte inside the text is refused");
}

/* ---- benchmark ---- */

static const char *const lambda_role =
	"{\"Version\":\"2012-10-17\",\"Statement\":["
	"{\"Sid\":\"Logs\",\"Effect\":\"Allow\",\"Action\":[\"logs:CreateLogGroup\",\"logs:CreateLogStream\","
	"\"logs:PutLogEvents\"],\"Resource\":\"arn:aws:logs:us-east-1:111122223333:*\"},"
	"{\"Sid\":\"ReadDbSecret\",\"Effect\":\"Allow\",\"Action\":[\"secretsmanager:GetSecretValue\","
	"\"secretsmanager:DescribeSecret\"],\"Resource\":\"arn:aws:secretsmanager:us-east-1:111122223333:secret:prod/db-*\","
	"\"Condition\":{\"StringEquals\":{\"aws:ResourceTag/app\":\"orders\"}}},"
	"{\"Sid\":\"Kms\",\"Effect\":\"Allow\",\"Action\":\"kms:Decrypt\",\"Resource\":\"arn:aws:kms:us-east-1:"
	"111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab\"},"
	"{\"Sid\":\"Connect\",\"Effect\":\"Allow\",\"Action\":\"rds-db:connect\",\"Resource\":\"arn:aws:rds-db:us-east-1:"
	"111122223333:dbuser:prx-0123456789abcdef0/app_user\"}]}";

static int bench(void)
{
	struct emu_err err;
	struct iam_policy *p = parse_str(lambda_role, IAM_POLICY_IDENTITY, &err);
	if (!p) {
		fprintf(stderr, "bench policy: %s\n", err.msg);
		return 1;
	}
	const struct iam_policy *ids[] = {p};
	const char *app[] = {"orders"};
	struct iam_ctx_entry ctx[] = {{"aws:ResourceTag/app", app, 1}};
	struct iam_request connect = {
		.action = "rds-db:connect",
		.resource = "arn:aws:rds-db:us-east-1:111122223333:dbuser:prx-0123456789abcdef0/app_user",
		.ptype = IAM_PRINCIPAL_ASSUMED_ROLE,
		.principal_arn = "arn:aws:sts::111122223333:assumed-role/orders-fn-role/orders-fn",
		.principal_account = "111122223333",
		.userid = "AROAEXAMPLEROLE000001:orders-fn",
		.secure_transport = 1,
		.now = 1.7e9,
	};
	struct iam_request secret = connect;
	secret.action = "secretsmanager:GetSecretValue";
	secret.resource = "arn:aws:secretsmanager:us-east-1:111122223333:secret:prod/db-AbCdEf";
	secret.ctx = ctx;
	secret.nctx = 1;
	const struct {
		const char *what;
		const struct iam_request *rq;
	} runs[] = {{"rds-db:connect (token verification)", &connect}, {"GetSecretValue with a tag condition", &secret}};
	int rc = 0;
	for (size_t r = 0; r < 2; r++) {
		struct iam_eval_input in = {.rq = runs[r].rq, .identity = ids, .nidentity = 1};
		struct iam_result res;
		const long n = 2000000;
		long allowed = 0;
		double t0 = now_s();
		for (long i = 0; i < n; i++)
			allowed += iam_policy_evaluate(&in, &res);
		double dt = now_s() - t0;
		printf("%s: %ld evaluations in %.3f s: %.0f evaluations/s, %.0f ns each\n", runs[r].what, n, dt, n / dt,
		       dt / n * 1e9);
		if (allowed != n)
			rc = 1;
	}
	const long np = 20000;
	double t0 = now_s();
	for (long i = 0; i < np; i++) {
		struct iam_policy *q = parse_str(lambda_role, IAM_POLICY_IDENTITY, &err);
		iam_policy_free(q);
	}
	double dt = now_s() - t0;
	printf("parse+compile of the role policy: %.1f us each\n", dt / np * 1e6);
	iam_policy_free(p);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--bench") == 0)
		return bench();
	run_fixtures();
	test_limits();
	test_pathological();
	test_api();
	return done_testing();
}
