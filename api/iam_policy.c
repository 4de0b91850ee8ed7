/*
 * iam_policy.c owns IAM policy documents as text: size limits, the JSON
 * grammar of each policy kind, IAM's MalformedPolicyDocument texts, and the
 * compilation of a valid document into struct iam_policy (one arena).
 *
 * May call: libc, jansson, emu/err, iam_pattern.c and iam_cond.c (compile
 * side).  No I/O, no store.
 *
 * Invariants:
 * - Limits come first: a text over IAM_POLICY_MAX_TEXT bytes or its kind's
 *   character limit, or nested deeper than MAX_DEPTH, is refused before
 *   jansson allocates anything; everything compiled is bounded by the text.
 * - A document is compiled only after the whole of it passed validation; the
 *   compiled form holds its own copies of every string.
 * - Messages quote policy text only where IAM does (a Resource, an invalid
 *   principal, a vendor), capped and with control and non-ASCII bytes
 *   replaced.
 *
 * Which error wins when a document has several: the first by stage, in the
 * order of the checks below (syntax, version, kind, legacy parsing, Sid,
 * actions present, resources present, resource format, action format,
 * principal format, condition keys), which follows what IAM is observed to
 * report first (moto's reproduction of it); within a stage, the first
 * statement.  Choices where IAM's behaviour is not documented:
 * - Duplicate JSON keys are "Syntax errors in policy." (IAM's parser is not
 *   documented on this; refusing avoids two readings of one document).
 * - Version must be 2012-10-17 for MANAGED/BOUNDARY ("Policy document must be
 *   version 2012-10-17 or greater."); other kinds accept 2008-10-17 or no
 *   Version, where ${...} is literal text.
 * - Sids must be alphanumeric in IAM's own policies (not in resource
 *   policies), and unique when non-empty.
 * - An unknown condition operator with a non-empty block is a syntax error;
 *   a condition key must have a vendor prefix ("aws:", "secretsmanager:").
 * - Service principals must end in .amazonaws.com or .amazonaws.com.cn;
 *   AWS principals are "*", an account id, or an IAM/STS ARN of a root, user,
 *   role, assumed-role session or federated user, or a unique id (AIDA/AROA);
 *   no partial wildcards.  Whether the principal exists is the caller's
 *   check (iam_policy_foreach_principal).
 * - Invalid numbers, CIDRs and booleans in conditions are accepted and never
 *   match (IAM's validation of them is not documented); invalid dates fail
 *   "legacy parsing", as IAM does.
 */
#include "api/iam_policy_int.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_DEPTH 8
#define MSG_SYNTAX "Syntax errors in policy."
#define MSG_LEGACY "The policy failed legacy parsing"

/* ---- arena ---- */

struct iam_arena_blk {
	struct iam_arena_blk *next;
	size_t used, cap;
	_Alignas(16) unsigned char data[];
};

void *iam_arena_alloc(struct iam_arena *a, size_t n)
{
	n = (n + 15) & ~(size_t)15;
	struct iam_arena_blk *b = a->head;
	if (!b || b->cap - b->used < n) {
		size_t cap = n > 8192 ? n : 8192;
		b = calloc(1, sizeof *b + cap);
		if (!b)
			abort();
		b->cap = cap;
		b->next = a->head;
		a->head = b;
	}
	void *p = b->data + b->used;
	b->used += n;
	return p;
}

char *iam_arena_strndup(struct iam_arena *a, const char *s, size_t n)
{
	char *d = iam_arena_alloc(a, n + 1);
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

void iam_arena_free(struct iam_arena *a)
{
	struct iam_arena_blk *b = a->head;
	while (b) {
		struct iam_arena_blk *next = b->next;
		free(b);
		b = next;
	}
	a->head = NULL;
}

/* ---- errors by stage ---- */

enum stage {
	ST_SYNTAX = 1,
	ST_VERSION,
	ST_KIND,
	ST_LEGACY,
	ST_SID,
	ST_ACTIONS,
	ST_RESOURCES,
	ST_RESFMT,
	ST_ACTFMT,
	ST_PRINCIPAL,
	ST_COND,
	ST_NONE,
};

struct chk {
	enum iam_policy_kind kind;
	int stage;
	char msg[600];
	bool v2012;
};

static void fail(struct chk *c, int stage, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(struct chk *c, int stage, const char *fmt, ...)
{
	if (stage >= c->stage)
		return;
	c->stage = stage;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->msg, sizeof c->msg, fmt, ap);
	va_end(ap);
}

/* User text for a message: at most 200 bytes, printable ASCII. */
static const char *clean(const char *s, char out[208])
{
	size_t i = 0;
	for (; s[i] && i < 200; i++)
		out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	out[i] = '\0';
	if (s[i])
		memcpy(out + i, "...", 4);
	return out;
}

/* ---- limits ---- */

/* Characters (UTF-8 code points), optionally without white space. */
static size_t count_chars(const char *s, size_t len, bool skip_ws)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c & 0xC0) == 0x80)
			continue;
		if (skip_ws && (c == ' ' || c == '\t' || c == '\n' || c == '\r'))
			continue;
		n++;
	}
	return n;
}

static int check_size(const char *json, size_t len, enum iam_policy_kind kind, size_t *chars, struct emu_err *err)
{
	if (len > IAM_POLICY_MAX_TEXT)
		return emu_err_set(err, ERR_IAM_LIMIT_EXCEEDED, "The policy document is larger than %u bytes.",
		                   IAM_POLICY_MAX_TEXT);
	*chars = count_chars(json, len, true);
	size_t all = count_chars(json, len, false);
	switch (kind) {
	case IAM_POLICY_IDENTITY:
		if (*chars > IAM_POLICY_MAX_INLINE)
			return emu_err_set(err, ERR_IAM_LIMIT_EXCEEDED, "Maximum policy size of %d bytes exceeded.",
			                   IAM_POLICY_MAX_INLINE);
		break;
	case IAM_POLICY_MANAGED:
	case IAM_POLICY_BOUNDARY:
		if (*chars > IAM_POLICY_MAX_MANAGED)
			return emu_err_set(err, ERR_IAM_LIMIT_EXCEEDED, "Cannot exceed quota for PolicySize: %d",
			                   IAM_POLICY_MAX_MANAGED);
		break;
	case IAM_POLICY_TRUST:
		if (*chars > IAM_POLICY_MAX_TRUST)
			return emu_err_set(err, ERR_IAM_LIMIT_EXCEEDED, "Cannot exceed quota for ACLSizePerRole: %d",
			                   IAM_POLICY_MAX_TRUST);
		break;
	case IAM_POLICY_SESSION:
		if (all > IAM_POLICY_MAX_SESSION)
			return emu_err_set(err, ERR_VALIDATION,
			                   "1 validation error detected: Value at 'policy' failed to satisfy constraint: "
			                   "Member must have length less than or equal to %d",
			                   IAM_POLICY_MAX_SESSION);
		break;
	case IAM_POLICY_RESOURCE:
		if (all > IAM_POLICY_MAX_RESOURCE)
			return emu_err_set(err, ERR_VALIDATION,
			                   "1 validation error detected: Value at 'resourcePolicy' failed to satisfy "
			                   "constraint: Member must have length less than or equal to %d",
			                   IAM_POLICY_MAX_RESOURCE);
		break;
	}
	return 0;
}

/* Nesting depth outside strings; true when within MAX_DEPTH. */
static bool depth_ok(const char *p, size_t len)
{
	size_t depth = 0;
	bool in_str = false, esc = false;
	for (size_t i = 0; i < len; i++) {
		char c = p[i];
		if (in_str) {
			if (esc)
				esc = false;
			else if (c == '\\')
				esc = true;
			else if (c == '"')
				in_str = false;
		} else if (c == '"') {
			in_str = true;
		} else if (c == '[' || c == '{') {
			if (++depth > MAX_DEPTH)
				return false;
		} else if ((c == ']' || c == '}') && depth > 0) {
			depth--;
		}
	}
	return true;
}

/* ---- grammar ---- */

static bool str_or_strs(json_t *v)
{
	if (json_is_string(v))
		return true;
	if (!json_is_array(v))
		return false;
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e) if (!json_is_string(e)) return false;
	return true;
}

static size_t list_len(json_t *v) { return json_is_string(v) ? 1 : json_array_size(v); }
static const char *list_at(json_t *v, size_t i) { return json_string_value(json_is_string(v) ? v : json_array_get(v, i)); }

static bool is_scalar(json_t *v) { return json_is_string(v) || json_is_number(v) || json_is_boolean(v); }

/* Text of a JSON scalar (strings as they are; numbers and booleans as IAM
 * would read them). */
static const char *scalar_text(json_t *v, char buf[40], size_t *len)
{
	if (json_is_string(v)) {
		*len = json_string_length(v);
		return json_string_value(v);
	}
	if (json_is_integer(v))
		snprintf(buf, 40, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, 40, "%.15g", json_real_value(v));
	else
		snprintf(buf, 40, "%s", json_is_true(v) ? "true" : "false");
	*len = strlen(buf);
	return buf;
}

static const char *const partitions[] = {"aws",       "aws-cn",    "aws-us-gov", "aws-iso",
                                         "aws-iso-b", "aws-iso-e", "aws-iso-f",  "aws-eusc"};

static bool known_partition(const char *p, size_t n)
{
	for (size_t i = 0; i < sizeof partitions / sizeof partitions[0]; i++)
		if (strlen(partitions[i]) == n && memcmp(partitions[i], p, n) == 0)
			return true;
	return false;
}

static void check_resource(struct chk *c, const char *r)
{
	char cl[208];
	if (strcmp(r, "*") == 0)
		return;
	size_t colons = 0;
	for (const char *q = r; *q; q++)
		colons += *q == ':';
	if (colons == 0 || strncmp(r, "arn:", 4) != 0) {
		fail(c, ST_RESFMT, "Resource %s must be in ARN format or \"*\".", clean(r, cl));
		return;
	}
	if (strstr(r, "::") && colons < 5)
		fail(c, ST_LEGACY, MSG_LEGACY);
	/* arn:partition:service:region:account:resource */
	const char *part = r + 4, *pe = strchr(part, ':');
	size_t plen = pe ? (size_t)(pe - part) : strlen(part);
	if (!known_partition(part, plen)) {
		const char *f[4] = {"*", "*", "*", "*"};
		size_t fl[4] = {1, 1, 1, 1};
		const char *q = pe ? pe + 1 : NULL;
		for (int k = 0; q && k < 4; k++) {
			const char *e = k < 3 ? strchr(q, ':') : NULL;
			size_t n = e ? (size_t)(e - q) : strlen(q);
			if (n > 0 || e || k > 0) {
				f[k] = q;
				fl[k] = n;
			}
			q = e ? e + 1 : NULL;
		}
		char raw[208], pa[208], b[400], b2[208];
		snprintf(raw, sizeof raw, "%.*s", (int)(plen > 60 ? 60 : plen), part);
		clean(raw, pa);
		snprintf(b, sizeof b, "arn:%.64s:%.*s:%.*s:%.*s:%.*s", pa, (int)(fl[0] > 40 ? 40 : fl[0]), f[0],
		         (int)(fl[1] > 40 ? 40 : fl[1]), f[1], (int)(fl[2] > 40 ? 40 : fl[2]), f[2],
		         (int)(fl[3] > 60 ? 60 : fl[3]), f[3]);
		fail(c, ST_RESFMT, "Partition \"%s\" is not valid for resource \"%s\".", pa, clean(b, b2));
		return;
	}
	if (!pe) {
		fail(c, ST_RESFMT, "Resource vendor must be fully qualified and cannot contain regexes.");
		return;
	}
	const char *svc = pe + 1, *se = strchr(svc, ':');
	size_t slen = se ? (size_t)(se - svc) : strlen(svc);
	if (slen == 0 || memchr(svc, '*', slen) || memchr(svc, '?', slen)) {
		fail(c, ST_RESFMT, "Resource vendor must be fully qualified and cannot contain regexes.");
		return;
	}
	if (!se)
		return;
	const char *region = se + 1, *re = strchr(region, ':');
	size_t rlen = re ? (size_t)(re - region) : strlen(region);
	bool is_iam = slen == 3 && memcmp(svc, "iam", 3) == 0, is_s3 = slen == 2 && memcmp(svc, "s3", 2) == 0;
	if (is_iam && rlen > 0) {
		fail(c, ST_RESFMT, "IAM resource %s cannot contain region information.", clean(r, cl));
		return;
	}
	if (is_s3 && rlen > 0) {
		fail(c, ST_RESFMT, "Resource %s can not contain region information.", clean(r, cl));
		return;
	}
	if (is_iam && re) {
		const char *acct_end = strchr(re + 1, ':');
		if (!acct_end)
			return;
		const char *path = acct_end + 1;
		static const char *const starts[] = {"user/",     "federated-user/",    "role/",     "group/",
		                                     "instance-profile/", "mfa/", "server-certificate/", "policy/",
		                                     "sms-mfa/",  "saml-provider/",     "oidc-provider/", "report/",
		                                     "access-report/"};
		if (strcmp(path, "*") == 0)
			return;
		for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++)
			if (strncmp(path, starts[i], strlen(starts[i])) == 0)
				return;
		fail(c, ST_RESFMT,
		     "IAM resource path must either be \"*\" or start with user/, federated-user/, role/, group/, "
		     "instance-profile/, mfa/, server-certificate/, policy/, sms-mfa/, saml-provider/, oidc-provider/, "
		     "report/, access-report/.");
	}
}

static void check_action(struct chk *c, const char *a)
{
	char cl[208];
	if (strcmp(a, "*") == 0)
		return;
	const char *colon = strchr(a, ':');
	if (!colon) {
		fail(c, ST_ACTFMT, "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.");
		return;
	}
	if (strchr(colon + 1, ':')) {
		fail(c, ST_ACTFMT, "Actions/Condition can contain only one colon.");
		return;
	}
	size_t vlen = (size_t)(colon - a);
	if (memchr(a, '*', vlen) || memchr(a, '?', vlen)) {
		fail(c, ST_ACTFMT, "Action vendors (e.g., aws, ec2, etc.) must not contain wildcards");
		return;
	}
	for (size_t i = 0; i < vlen; i++) {
		char ch = a[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
		      ch == '.')) {
			char v[208];
			snprintf(v, sizeof v, "%.*s", (int)(vlen > 100 ? 100 : vlen), a);
			fail(c, ST_ACTFMT, "Vendor %s is not valid", clean(v, cl));
			return;
		}
	}
	if (vlen == 0)
		fail(c, ST_ACTFMT, "Vendor  is not valid");
}

static bool all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* Parses one principal value; false when IAM would call it invalid.  Only
 * fills out->type/acct/name offsets relative to v. */
static bool prin_parse(const char *type, const char *v, struct iam_prin *out)
{
	memset(out, 0, sizeof *out);
	size_t n = strlen(v);
	out->s = v;
	out->len = (uint32_t)n;
	if (strcmp(type, "Service") == 0) {
		out->type = IAM_PRIN_SERVICE;
		bool suffix = (n > 14 && strcmp(v + n - 14, ".amazonaws.com") == 0) ||
		              (n > 17 && strcmp(v + n - 17, ".amazonaws.com.cn") == 0);
		return suffix && !strpbrk(v, "*? ");
	}
	if (strcmp(type, "Federated") == 0) {
		out->type = IAM_PRIN_FEDERATED;
		return n > 0 && !strpbrk(v, "*?");
	}
	if (strcmp(type, "CanonicalUser") == 0) {
		out->type = IAM_PRIN_CANONICAL;
		return n > 0 && !strpbrk(v, "*?");
	}
	/* AWS */
	if (strcmp(v, "*") == 0) {
		out->type = IAM_PRIN_ANY;
		return true;
	}
	if (strpbrk(v, "*?"))
		return false;
	if (n == 12 && all_digits(v, 12)) {
		out->type = IAM_PRIN_ACCOUNT;
		memcpy(out->acct, v, 12);
		return true;
	}
	if (n >= 16 && (strncmp(v, "AIDA", 4) == 0 || strncmp(v, "AROA", 4) == 0)) {
		for (size_t i = 4; i < n; i++)
			if (!((v[i] >= 'A' && v[i] <= 'Z') || (v[i] >= '0' && v[i] <= '9')))
				return false;
		out->type = IAM_PRIN_UNIQUE_ID;
		return true;
	}
	/* arn:<partition>:<iam|sts>::<12 digits>:<rest> */
	if (strncmp(v, "arn:", 4) != 0)
		return false;
	const char *part = v + 4, *pe = strchr(part, ':');
	if (!pe || !known_partition(part, (size_t)(pe - part)))
		return false;
	const char *svc = pe + 1;
	bool iam = strncmp(svc, "iam::", 5) == 0, sts = strncmp(svc, "sts::", 5) == 0;
	if (!iam && !sts)
		return false;
	const char *acct = svc + 5;
	if (strlen(acct) < 14 || !all_digits(acct, 12) || acct[12] != ':')
		return false;
	memcpy(out->acct, acct, 12);
	const char *rest = acct + 13;
	if (iam && strcmp(rest, "root") == 0) {
		out->type = IAM_PRIN_ACCOUNT;
		return true;
	}
	const char *last = strrchr(rest, '/');
	if (!last || last[1] == '\0')
		return false;
	if (iam && strncmp(rest, "user/", 5) == 0) {
		out->type = IAM_PRIN_USER;
		return true;
	}
	if (iam && strncmp(rest, "role/", 5) == 0) {
		out->type = IAM_PRIN_ROLE;
		out->name = last + 1;
		out->nlen = (uint32_t)strlen(last + 1);
		return true;
	}
	if (sts && strncmp(rest, "assumed-role/", 13) == 0) {
		const char *slash = strchr(rest + 13, '/');
		out->type = IAM_PRIN_SESSION;
		return slash && slash > rest + 13 && slash[1] != '\0' && !strchr(slash + 1, '/');
	}
	if (sts && strncmp(rest, "federated-user/", 15) == 0) {
		out->type = IAM_PRIN_FEDUSER;
		return !strchr(rest + 15, '/');
	}
	return false;
}

static const char *const principal_keys[] = {"AWS", "Service", "Federated", "CanonicalUser"};

static void check_principal(struct chk *c, json_t *p)
{
	char cl[208];
	if (json_is_string(p)) {
		if (strcmp(json_string_value(p), "*") != 0)
			fail(c, ST_PRINCIPAL, "Invalid principal in policy: \"%s\"", clean(json_string_value(p), cl));
		return;
	}
	const char *k;
	json_t *v;
	json_object_foreach(p, k, v) {
		for (size_t i = 0; i < list_len(v); i++) {
			struct iam_prin tmp;
			const char *s = list_at(v, i);
			if (!prin_parse(k, s, &tmp)) {
				const char *label = strcmp(k, "Service") == 0     ? "SERVICE"
				                    : strcmp(k, "Federated") == 0 ? "FEDERATED"
				                    : strcmp(k, "AWS") == 0       ? "AWS"
				                                                  : "CANONICAL_USER";
				fail(c, ST_PRINCIPAL, "Invalid principal in policy: \"%s\":\"%s\"", label, clean(s, cl));
				return;
			}
		}
	}
}

static bool principal_syntax(json_t *p)
{
	if (json_is_string(p))
		return true;
	if (!json_is_object(p) || json_object_size(p) == 0)
		return false;
	const char *k;
	json_t *v;
	json_object_foreach(p, k, v) {
		bool known = false;
		for (size_t i = 0; i < sizeof principal_keys / sizeof principal_keys[0]; i++)
			known |= strcmp(k, principal_keys[i]) == 0;
		if (!known || !str_or_strs(v) || list_len(v) == 0)
			return false;
	}
	return true;
}

static void check_condition(struct chk *c, json_t *cond)
{
	if (!json_is_object(cond)) {
		fail(c, ST_SYNTAX, MSG_SYNTAX);
		return;
	}
	const char *op, *key;
	json_t *block, *v;
	json_object_foreach(cond, op, block) {
		if (!json_is_object(block)) {
			fail(c, ST_SYNTAX, MSG_SYNTAX);
			return;
		}
		struct iam_cond tmp;
		bool known = iam_cond_operator(op, &tmp);
		if (!known && json_object_size(block) > 0) {
			fail(c, ST_SYNTAX, MSG_SYNTAX);
			return;
		}
		json_object_foreach(block, key, v) {
			bool ok = is_scalar(v);
			if (json_is_array(v)) {
				ok = true;
				size_t i;
				json_t *e;
				json_array_foreach(v, i, e) ok &= is_scalar(e);
			}
			if (!ok) {
				fail(c, ST_SYNTAX, MSG_SYNTAX);
				return;
			}
			const char *colon = strchr(key, ':');
			if (!colon || colon == key || memchr(key, '/', (size_t)(colon - key)))
				fail(c, ST_COND, "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.");
			if (known && tmp.op >= IAM_COP_DATE_EQ && tmp.op <= IAM_COP_DATE_GE) {
				size_t n = json_is_array(v) ? json_array_size(v) : 1;
				for (size_t i = 0; i < n; i++) {
					json_t *e = json_is_array(v) ? json_array_get(v, i) : v;
					char buf[40];
					size_t len;
					const char *s = scalar_text(e, buf, &len);
					double d;
					if (json_is_boolean(e) || !iam_cond_parse_date(s, len, &d))
						fail(c, ST_LEGACY, MSG_LEGACY);
				}
			}
		}
	}
}

static bool identity_like(enum iam_policy_kind k)
{
	return k == IAM_POLICY_IDENTITY || k == IAM_POLICY_MANAGED || k == IAM_POLICY_BOUNDARY || k == IAM_POLICY_SESSION;
}

static bool sid_alnum(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')))
			return false;
	return true;
}

static void check_statement(struct chk *c, json_t *st, json_t *all, size_t idx)
{
	static const char *const known[] = {"Sid",      "Effect",    "Principal",   "NotPrincipal", "Action",
	                                    "NotAction", "Resource", "NotResource", "Condition"};
	if (!json_is_object(st)) {
		fail(c, ST_SYNTAX, MSG_SYNTAX);
		return;
	}
	const char *k;
	json_t *v;
	json_object_foreach(st, k, v) {
		bool found = false;
		for (size_t j = 0; j < sizeof known / sizeof known[0]; j++)
			found |= strcmp(k, known[j]) == 0;
		if (!found)
			fail(c, ST_SYNTAX, MSG_SYNTAX);
	}
	json_t *eff = json_object_get(st, "Effect"), *sid = json_object_get(st, "Sid");
	json_t *a = json_object_get(st, "Action"), *na = json_object_get(st, "NotAction");
	json_t *r = json_object_get(st, "Resource"), *nr = json_object_get(st, "NotResource");
	json_t *p = json_object_get(st, "Principal"), *np = json_object_get(st, "NotPrincipal");
	json_t *cond = json_object_get(st, "Condition");
	if (!json_is_string(eff) || (strcasecmp(json_string_value(eff), "Allow") != 0 &&
	                             strcasecmp(json_string_value(eff), "Deny") != 0)) {
		fail(c, ST_SYNTAX, MSG_SYNTAX);
	} else if (strcmp(json_string_value(eff), "Allow") != 0 && strcmp(json_string_value(eff), "Deny") != 0) {
		fail(c, ST_LEGACY, MSG_LEGACY);
	}
	if ((a && na) || (r && nr) || (p && np))
		fail(c, ST_SYNTAX, MSG_SYNTAX);
	json_t *acts = a ? a : na, *ress = r ? r : nr, *prin = p ? p : np;
	if ((acts && !str_or_strs(acts)) || (ress && !str_or_strs(ress)) || (prin && !principal_syntax(prin)))
		fail(c, ST_SYNTAX, MSG_SYNTAX);
	if (sid && !json_is_string(sid))
		fail(c, ST_SYNTAX, MSG_SYNTAX);
	if (cond)
		check_condition(c, cond);
	if (c->stage == ST_SYNTAX)
		return;

	/* kind rules */
	if (identity_like(c->kind) && prin)
		fail(c, ST_KIND, "Policy document should not specify a principal.");
	if (c->kind == IAM_POLICY_TRUST && ress)
		fail(c, ST_KIND, "Has prohibited field %s", r ? "Resource" : "NotResource");
	if ((c->kind == IAM_POLICY_TRUST || c->kind == IAM_POLICY_RESOURCE) && !prin)
		fail(c, ST_KIND, "Missing required field Principal");

	/* Sid */
	if (json_is_string(sid) && json_string_length(sid) > 0) {
		const char *s = json_string_value(sid);
		if (c->kind != IAM_POLICY_RESOURCE && !sid_alnum(s))
			fail(c, ST_SID, "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the "
			                "regular expression [0-9A-Za-z]*");
		for (size_t j = 0; j < idx; j++) {
			json_t *o = json_object_get(json_array_get(all, j), "Sid");
			if (json_is_string(o) && strcmp(json_string_value(o), s) == 0)
				fail(c, ST_SID, "Statement IDs (SID) in a single policy must be unique.");
		}
	}
	if (!acts || list_len(acts) == 0)
		fail(c, ST_ACTIONS, "Policy statement must contain actions.");
	if (c->kind != IAM_POLICY_TRUST && (!ress || list_len(ress) == 0))
		fail(c, ST_RESOURCES, "Policy statement must contain resources.");
	for (size_t i = 0; ress && i < list_len(ress); i++)
		check_resource(c, list_at(ress, i));
	for (size_t i = 0; acts && i < list_len(acts); i++)
		check_action(c, list_at(acts, i));
	if (prin)
		check_principal(c, prin);
}

static void check_doc(struct chk *c, json_t *doc)
{
	if (!json_is_object(doc)) {
		fail(c, ST_SYNTAX, MSG_SYNTAX);
		return;
	}
	const char *k;
	json_t *v;
	json_object_foreach(doc, k, v) {
		if (strcmp(k, "Version") != 0 && strcmp(k, "Id") != 0 && strcmp(k, "Statement") != 0)
			fail(c, ST_SYNTAX, MSG_SYNTAX);
	}
	json_t *ver = json_object_get(doc, "Version"), *id = json_object_get(doc, "Id");
	if (ver && !(json_is_string(ver) && (strcmp(json_string_value(ver), "2012-10-17") == 0 ||
	                                     strcmp(json_string_value(ver), "2008-10-17") == 0)))
		fail(c, ST_SYNTAX, MSG_SYNTAX);
	if (id && !json_is_string(id))
		fail(c, ST_SYNTAX, MSG_SYNTAX);
	c->v2012 = json_is_string(ver) && strcmp(json_string_value(ver), "2012-10-17") == 0;
	if ((c->kind == IAM_POLICY_MANAGED || c->kind == IAM_POLICY_BOUNDARY) && !c->v2012)
		fail(c, ST_VERSION, "Policy document must be version 2012-10-17 or greater.");
	json_t *sts = json_object_get(doc, "Statement");
	if (json_is_object(sts)) {
		check_statement(c, sts, NULL, 0);
	} else if (json_is_array(sts) && json_array_size(sts) > 0) {
		size_t i;
		json_t *st;
		json_array_foreach(sts, i, st) check_statement(c, st, sts, i);
	} else {
		fail(c, ST_SYNTAX, MSG_SYNTAX);
	}
}

/* ---- compile ---- */

static void compile_list(struct iam_arena *a, json_t *v, unsigned flags, struct iam_pat **out, uint32_t *n)
{
	*n = (uint32_t)list_len(v);
	*out = iam_arena_alloc(a, (*n ? *n : 1) * sizeof **out);
	for (uint32_t i = 0; i < *n; i++) {
		const char *s = list_at(v, i);
		iam_pattern_compile(a, s, strlen(s), flags, &(*out)[i]);
	}
}

static void compile_principal(struct iam_arena *a, json_t *p, struct iam_stmt *st)
{
	if (json_is_string(p)) {
		st->nprin = 1;
		st->prin = iam_arena_alloc(a, sizeof *st->prin);
		st->prin[0].type = IAM_PRIN_ANY;
		st->prin[0].s = "*";
		st->prin[0].len = 1;
		return;
	}
	const char *k;
	json_t *v;
	uint32_t n = 0;
	json_object_foreach(p, k, v) n += (uint32_t)list_len(v);
	st->prin = iam_arena_alloc(a, (n ? n : 1) * sizeof *st->prin);
	json_object_foreach(p, k, v) {
		for (size_t i = 0; i < list_len(v); i++) {
			const char *s = list_at(v, i);
			const char *copy = iam_arena_strndup(a, s, strlen(s));
			struct iam_prin *e = &st->prin[st->nprin++];
			prin_parse(k, copy, e); /* validated: cannot fail */
		}
	}
}

static void compile_conditions(struct iam_arena *a, json_t *cond, bool v2012, struct iam_stmt *st)
{
	const char *op, *key;
	json_t *block, *v;
	uint32_t n = 0;
	json_object_foreach(cond, op, block) n += (uint32_t)json_object_size(block);
	st->cond = iam_arena_alloc(a, (n ? n : 1) * sizeof *st->cond);
	json_object_foreach(cond, op, block) {
		json_object_foreach(block, key, v) {
			struct iam_cond *c = &st->cond[st->ncond++];
			iam_cond_operator(op, c);
			size_t klen = strlen(key);
			iam_key_init(&c->key, iam_arena_strndup(a, key, klen), klen);
			c->nvals = (uint32_t)(json_is_array(v) ? json_array_size(v) : 1);
			c->vals = iam_arena_alloc(a, (c->nvals ? c->nvals : 1) * sizeof *c->vals);
			for (uint32_t i = 0; i < c->nvals; i++) {
				json_t *e = json_is_array(v) ? json_array_get(v, i) : v;
				char buf[40];
				size_t len;
				const char *s = scalar_text(e, buf, &len);
				iam_cond_value(a, c, s, len, v2012, &c->vals[i]);
			}
		}
	}
}

static void compile_statement(struct iam_policy *p, json_t *j, struct iam_stmt *st)
{
	struct iam_arena *a = &p->arena;
	json_t *sid = json_object_get(j, "Sid");
	if (json_is_string(sid))
		st->sid = iam_arena_strndup(a, json_string_value(sid), json_string_length(sid));
	st->deny = strcmp(json_string_value(json_object_get(j, "Effect")), "Deny") == 0;
	json_t *acts = json_object_get(j, "Action"), *ress = json_object_get(j, "Resource");
	json_t *prin = json_object_get(j, "Principal"), *cond = json_object_get(j, "Condition");
	if (!acts) {
		acts = json_object_get(j, "NotAction");
		st->not_action = true;
	}
	if (!ress) {
		ress = json_object_get(j, "NotResource");
		st->not_resource = ress != NULL;
	}
	if (!prin) {
		prin = json_object_get(j, "NotPrincipal");
		st->not_principal = prin != NULL;
	}
	compile_list(a, acts, IAM_PC_WILD, &st->act, &st->nact);
	if (ress)
		compile_list(a, ress, IAM_PC_WILD | (p->v2012 ? IAM_PC_VARS : 0), &st->res, &st->nres);
	else
		st->any_resource = true;
	if (prin)
		compile_principal(a, prin, st);
	if (cond)
		compile_conditions(a, cond, p->v2012, st);
}

int iam_policy_parse(const char *json, size_t len, enum iam_policy_kind kind, struct iam_policy **out,
                     struct emu_err *err)
{
	*out = NULL;
	size_t chars = 0;
	if (!json)
		return emu_err_set(err, ERR_IAM_MALFORMED_POLICY, MSG_SYNTAX);
	if (check_size(json, len, kind, &chars, err) < 0)
		return -1;
	if (!depth_ok(json, len))
		return emu_err_set(err, ERR_IAM_MALFORMED_POLICY, MSG_SYNTAX);
	json_error_t je;
	json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
	if (!doc)
		return emu_err_set(err, ERR_IAM_MALFORMED_POLICY, MSG_SYNTAX);
	struct chk c = {.kind = kind, .stage = ST_NONE};
	check_doc(&c, doc);
	if (c.stage != ST_NONE) {
		json_decref(doc);
		return emu_err_set(err, ERR_IAM_MALFORMED_POLICY, "%s", c.msg);
	}
	struct iam_arena arena = {0};
	struct iam_policy *p = iam_arena_alloc(&arena, sizeof *p);
	p->arena = arena;
	p->kind = kind;
	p->v2012 = c.v2012;
	p->chars = chars;
	json_t *sts = json_object_get(doc, "Statement");
	p->nst = (uint32_t)(json_is_object(sts) ? 1 : json_array_size(sts));
	p->st = iam_arena_alloc(&p->arena, p->nst * sizeof *p->st);
	for (uint32_t i = 0; i < p->nst; i++)
		compile_statement(p, json_is_object(sts) ? sts : json_array_get(sts, i), &p->st[i]);
	json_decref(doc);
	*out = p;
	return 0;
}

void iam_policy_free(struct iam_policy *p)
{
	if (!p)
		return;
	struct iam_arena a = p->arena; /* p lives in the arena */
	iam_arena_free(&a);
}

enum iam_policy_kind iam_policy_get_kind(const struct iam_policy *p) { return p->kind; }

size_t iam_policy_chars(const struct iam_policy *p) { return p->chars; }

int iam_policy_foreach_principal(const struct iam_policy *p, int (*cb)(void *arg, const char *type, const char *value),
                                 void *arg)
{
	static const char *const names[] = {
		[IAM_PRIN_ANY] = "AWS",        [IAM_PRIN_ACCOUNT] = "AWS", [IAM_PRIN_USER] = "AWS",
		[IAM_PRIN_ROLE] = "AWS",       [IAM_PRIN_SESSION] = "AWS", [IAM_PRIN_FEDUSER] = "AWS",
		[IAM_PRIN_UNIQUE_ID] = "AWS",  [IAM_PRIN_SERVICE] = "Service", [IAM_PRIN_FEDERATED] = "Federated",
		[IAM_PRIN_CANONICAL] = "CanonicalUser",
	};
	for (uint32_t i = 0; i < p->nst; i++)
		for (uint32_t k = 0; k < p->st[i].nprin; k++) {
			const struct iam_prin *e = &p->st[i].prin[k];
			int rc = cb(arg, names[e->type], e->s);
			if (rc)
				return rc;
		}
	return 0;
}
