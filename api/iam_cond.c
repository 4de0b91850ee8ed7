/*
 * iam_cond.c owns IAM condition blocks: condition key names, operator names
 * (with the ForAnyValue:/ForAllValues: qualifiers and the IfExists suffix),
 * the typed compilation of policy values (numbers, dates, booleans, CIDRs,
 * string and ARN patterns) and their evaluation against the request
 * context.
 *
 * May call: libc (inet_pton), iam_pattern.c, iam_ev_resolve.  No allocation
 * at evaluation.
 *
 * Semantics (IAM User Guide, "Condition operators" and "Single-valued vs.
 * multivalued context keys"):
 * - Several values for one key are ORed; several keys and operators are
 *   ANDed (the statement's loop).  Keys compare case-insensitively.
 * - A negated operator (StringNotEquals, NotIpAddress, ...) is the negation
 *   of its positive form, so it is true when the key is absent.
 * - Without a qualifier, a key with several context values matches when any
 *   of them matches (negated: when none does).
 * - ForAnyValue: absent/empty key -> false (IfExists does not change that);
 *   else true when some context value matches (negated: is not matched by
 *   any policy value).  ForAllValues: absent/empty key -> true; else every
 *   context value must match (negated: none may be matched).
 * - ...IfExists without a qualifier: absent key -> true.
 * - Null: "true" matches an absent key, "false" a present one.
 * - A policy value that does not parse for its operator (a number that is
 *   not one, an invalid CIDR, a Bool that is neither true nor false) never
 *   matches; invalid Dates are refused at parse time ("legacy parsing").
 * - IPv4 CIDRs never match IPv6 addresses and the reverse.
 * - IgnoreCase folds ASCII only.
 */
#include "api/iam_policy_int.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---- keys ---- */

static const struct {
	const char *name;
	uint8_t id;
} known_keys[] = {
	{"aws:PrincipalArn", IAM_KEY_PRINCIPAL_ARN},     {"aws:PrincipalAccount", IAM_KEY_PRINCIPAL_ACCOUNT},
	{"aws:PrincipalType", IAM_KEY_PRINCIPAL_TYPE},   {"aws:username", IAM_KEY_USERNAME},
	{"aws:userid", IAM_KEY_USERID},                  {"aws:SourceIp", IAM_KEY_SOURCE_IP},
	{"aws:SecureTransport", IAM_KEY_SECURE_TRANSPORT}, {"aws:CurrentTime", IAM_KEY_CURRENT_TIME},
	{"aws:EpochTime", IAM_KEY_EPOCH_TIME},           {"aws:ResourceAccount", IAM_KEY_RESOURCE_ACCOUNT},
};

void iam_key_init(struct iam_key *k, const char *name, size_t len)
{
	k->name = name;
	k->len = (uint32_t)len;
	k->id = IAM_KEY_OTHER;
	for (size_t i = 0; i < sizeof known_keys / sizeof known_keys[0]; i++)
		if (strlen(known_keys[i].name) == len && strncasecmp(known_keys[i].name, name, len) == 0) {
			k->id = known_keys[i].id;
			return;
		}
}

/* ---- operators ---- */

static const struct {
	const char *name;
	uint8_t op;
	bool neg;
} operators[] = {
	{"StringEquals", IAM_COP_STR_EQ, false},
	{"StringNotEquals", IAM_COP_STR_EQ, true},
	{"StringEqualsIgnoreCase", IAM_COP_STR_EQ_IC, false},
	{"StringNotEqualsIgnoreCase", IAM_COP_STR_EQ_IC, true},
	{"StringLike", IAM_COP_STR_LIKE, false},
	{"StringNotLike", IAM_COP_STR_LIKE, true},
	{"NumericEquals", IAM_COP_NUM_EQ, false},
	{"NumericNotEquals", IAM_COP_NUM_EQ, true},
	{"NumericLessThan", IAM_COP_NUM_LT, false},
	{"NumericLessThanEquals", IAM_COP_NUM_LE, false},
	{"NumericGreaterThan", IAM_COP_NUM_GT, false},
	{"NumericGreaterThanEquals", IAM_COP_NUM_GE, false},
	{"DateEquals", IAM_COP_DATE_EQ, false},
	{"DateNotEquals", IAM_COP_DATE_EQ, true},
	{"DateLessThan", IAM_COP_DATE_LT, false},
	{"DateLessThanEquals", IAM_COP_DATE_LE, false},
	{"DateGreaterThan", IAM_COP_DATE_GT, false},
	{"DateGreaterThanEquals", IAM_COP_DATE_GE, false},
	{"Bool", IAM_COP_BOOL, false},
	{"BinaryEquals", IAM_COP_BIN_EQ, false},
	{"IpAddress", IAM_COP_IP, false},
	{"NotIpAddress", IAM_COP_IP, true},
	{"ArnEquals", IAM_COP_ARN, false},
	{"ArnLike", IAM_COP_ARN, false},
	{"ArnNotEquals", IAM_COP_ARN, true},
	{"ArnNotLike", IAM_COP_ARN, true},
	{"Null", IAM_COP_NULL, false},
};

bool iam_cond_operator(const char *name, struct iam_cond *c)
{
	size_t n = strlen(name);
	c->set = IAM_SET_NONE;
	c->if_exists = false;
	if (n > 12 && strncmp(name, "ForAnyValue:", 12) == 0) {
		c->set = IAM_SET_ANY;
		name += 12;
		n -= 12;
	} else if (n > 13 && strncmp(name, "ForAllValues:", 13) == 0) {
		c->set = IAM_SET_ALL;
		name += 13;
		n -= 13;
	}
	if (n > 8 && strcmp(name + n - 8, "IfExists") == 0) {
		c->if_exists = true;
		n -= 8;
	}
	for (size_t i = 0; i < sizeof operators / sizeof operators[0]; i++)
		if (strlen(operators[i].name) == n && strncmp(operators[i].name, name, n) == 0) {
			c->op = operators[i].op;
			c->neg = operators[i].neg;
			return true;
		}
	return false;
}

/* ---- typed values ---- */

/* [+-]digits[.digits] or [+-].digits */
static bool parse_num(const char *s, size_t len, double *out)
{
	size_t i = 0;
	double sign = 1, v = 0;
	if (i < len && (s[i] == '+' || s[i] == '-'))
		sign = s[i++] == '-' ? -1 : 1;
	size_t digits = 0;
	while (i < len && s[i] >= '0' && s[i] <= '9') {
		v = v * 10 + (s[i++] - '0');
		digits++;
	}
	if (i < len && s[i] == '.') {
		double scale = 0.1;
		i++;
		while (i < len && s[i] >= '0' && s[i] <= '9') {
			v += (s[i++] - '0') * scale;
			scale /= 10;
			digits++;
		}
	}
	if (digits == 0 || i != len || !isfinite(v))
		return false;
	*out = sign * v;
	return true;
}

static bool parse_bool(const char *s, size_t len, double *out)
{
	if (len == 4 && strncasecmp(s, "true", 4) == 0)
		*out = 1;
	else if (len == 5 && strncasecmp(s, "false", 5) == 0)
		*out = 0;
	else
		return false;
	return true;
}

/* Reads exactly n digits at s[*i]. */
static bool dig(const char *s, size_t len, size_t *i, int n, long *out)
{
	long v = 0;
	for (int k = 0; k < n; k++, (*i)++) {
		if (*i >= len || s[*i] < '0' || s[*i] > '9')
			return false;
		v = v * 10 + (s[*i] - '0');
	}
	*out = v;
	return true;
}

static long long days_from_civil(long y, long m, long d)
{
	y -= m <= 2;
	long era = (y >= 0 ? y : y - 399) / 400;
	long yoe = y - era * 400;
	long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (long long)era * 146097 + doe - 719468;
}

bool iam_cond_parse_date(const char *s, size_t len, double *out)
{
	if (len == 0 || len > 64)
		return false;
	bool iso = false;
	for (size_t k = 0; k < len; k++)
		iso |= s[k] == '-' || s[k] == 'T' || s[k] == 't' || s[k] == ':';
	if (!iso) {
		/* epoch seconds: digits only */
		double v = 0;
		for (size_t k = 0; k < len; k++) {
			if (s[k] < '0' || s[k] > '9')
				return false;
			v = v * 10 + (s[k] - '0');
		}
		if (v > 9.3e18)
			return false;
		*out = v;
		return true;
	}
	size_t i = 0;
	long y, mo = 1, d = 1, h = 0, mi = 0, sec = 0;
	double frac = 0, tz = 0;
	if (!dig(s, len, &i, 4, &y))
		return false;
	if (i < len && s[i] == '-') {
		i++;
		if (!dig(s, len, &i, 2, &mo))
			return false;
		if (i < len && s[i] == '-') {
			i++;
			if (!dig(s, len, &i, 2, &d))
				return false;
		}
	}
	if (i < len && (s[i] == 'T' || s[i] == 't')) {
		i++;
		if (!dig(s, len, &i, 2, &h))
			return false;
		if (i < len && s[i] == ':') {
			i++;
			if (!dig(s, len, &i, 2, &mi))
				return false;
			if (i < len && s[i] == ':') {
				i++;
				if (!dig(s, len, &i, 2, &sec))
					return false;
				if (i < len && s[i] == '.') {
					double scale = 0.1;
					size_t start = ++i;
					while (i < len && s[i] >= '0' && s[i] <= '9') {
						frac += (s[i++] - '0') * scale;
						scale /= 10;
					}
					if (i == start)
						return false;
				}
			}
		}
		if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
			i++;
		} else if (i < len && (s[i] == '+' || s[i] == '-')) {
			int sign = s[i++] == '-' ? -1 : 1;
			long th, tm = 0;
			if (!dig(s, len, &i, 2, &th) || th > 23)
				return false;
			if (i < len && s[i] == ':')
				i++;
			if (i < len && !dig(s, len, &i, 2, &tm))
				return false;
			if (tm > 59)
				return false;
			tz = sign * (double)(th * 3600 + tm * 60);
		}
	}
	if (i != len)
		return false;
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 59)
		return false;
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (mo == 2 && d == 29 && !leap)
		return false;
	*out = (double)days_from_civil(y, mo, d) * 86400.0 + (double)(h * 3600 + mi * 60 + sec) + frac - tz;
	return true;
}

/* "a.b.c.d[/n]" or an IPv6 address[/n]. */
static bool parse_ip(const char *s, size_t len, bool cidr, struct iam_cidr *out)
{
	char buf[64];
	size_t alen = len;
	long bits = -1;
	const char *slash = memchr(s, '/', len);
	if (slash) {
		if (!cidr)
			return false;
		alen = (size_t)(slash - s);
		size_t i = alen + 1;
		if (i >= len || len - i > 3)
			return false;
		bits = 0;
		for (; i < len; i++) {
			if (s[i] < '0' || s[i] > '9')
				return false;
			bits = bits * 10 + (s[i] - '0');
		}
	}
	if (alen == 0 || alen >= sizeof buf)
		return false;
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	memset(out, 0, sizeof *out);
	if (inet_pton(AF_INET, buf, out->addr) == 1) {
		out->family = 4;
		if (bits > 32)
			return false;
		out->bits = (uint8_t)(bits < 0 ? 32 : bits);
	} else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
		out->family = 6;
		if (bits > 128)
			return false;
		out->bits = (uint8_t)(bits < 0 ? 128 : bits);
	} else {
		return false;
	}
	return true;
}

static bool cidr_has(const struct iam_cidr *net, const struct iam_cidr *ip)
{
	if (net->family != ip->family)
		return false;
	unsigned full = net->bits / 8, rest = net->bits % 8;
	if (memcmp(net->addr, ip->addr, full) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xFF << (8 - rest));
	return (net->addr[full] & mask) == (ip->addr[full] & mask);
}

bool iam_cond_value(struct iam_arena *a, const struct iam_cond *c, const char *s, size_t len, bool v2012,
                    struct iam_cval *out)
{
	memset(out, 0, sizeof *out);
	unsigned vars = v2012 ? IAM_PC_VARS : 0;
	switch (c->op) {
	case IAM_COP_STR_EQ:
	case IAM_COP_STR_EQ_IC:
		iam_pattern_compile(a, s, len, vars, &out->pat);
		out->ok = true;
		break;
	case IAM_COP_STR_LIKE:
	case IAM_COP_ARN:
		iam_pattern_compile(a, s, len, vars | IAM_PC_WILD, &out->pat);
		out->ok = true;
		break;
	case IAM_COP_BIN_EQ:
		iam_pattern_compile(a, s, len, 0, &out->pat);
		out->ok = true;
		break;
	case IAM_COP_NUM_EQ:
	case IAM_COP_NUM_LT:
	case IAM_COP_NUM_LE:
	case IAM_COP_NUM_GT:
	case IAM_COP_NUM_GE:
		out->ok = parse_num(s, len, &out->num);
		break;
	case IAM_COP_DATE_EQ:
	case IAM_COP_DATE_LT:
	case IAM_COP_DATE_LE:
	case IAM_COP_DATE_GT:
	case IAM_COP_DATE_GE:
		if (!iam_cond_parse_date(s, len, &out->num))
			return false;
		out->ok = true;
		break;
	case IAM_COP_BOOL:
	case IAM_COP_NULL:
		out->ok = parse_bool(s, len, &out->num);
		break;
	case IAM_COP_IP:
		out->ok = parse_ip(s, len, true, &out->ip);
		break;
	default:
		break;
	}
	return true;
}

/* ---- evaluation ---- */

/* A context value, parsed once for the operator. */
struct cv {
	const char *s;
	size_t len;
	bool ok;
	double num;
	struct iam_cidr ip;
};

static bool cmp_num(uint8_t op, double a, double b)
{
	switch (op) {
	case IAM_COP_NUM_EQ:
	case IAM_COP_DATE_EQ:
		return a == b;
	case IAM_COP_NUM_LT:
	case IAM_COP_DATE_LT:
		return a < b;
	case IAM_COP_NUM_LE:
	case IAM_COP_DATE_LE:
		return a <= b;
	case IAM_COP_NUM_GT:
	case IAM_COP_DATE_GT:
		return a > b;
	default:
		return a >= b;
	}
}

/* Does the context value match any policy value (positive form)? */
static bool match1(const struct iam_cond *c, const struct cv *x, const struct iam_ev *ev)
{
	if (!x->ok)
		return false;
	for (uint32_t i = 0; i < c->nvals; i++) {
		const struct iam_cval *v = &c->vals[i];
		if (!v->ok)
			continue;
		bool hit;
		switch (c->op) {
		case IAM_COP_STR_EQ:
		case IAM_COP_STR_LIKE:
		case IAM_COP_BIN_EQ:
			hit = iam_pattern_match(&v->pat, x->s, x->len, 0, ev);
			break;
		case IAM_COP_STR_EQ_IC:
			hit = iam_pattern_match(&v->pat, x->s, x->len, IAM_PM_ICASE, ev);
			break;
		case IAM_COP_ARN:
			hit = iam_pattern_match(&v->pat, x->s, x->len, IAM_PM_ARN, ev);
			break;
		case IAM_COP_BOOL:
			hit = x->num == v->num;
			break;
		case IAM_COP_IP:
			hit = cidr_has(&v->ip, &x->ip);
			break;
		default:
			hit = cmp_num(c->op, x->num, v->num);
			break;
		}
		if (hit)
			return true;
	}
	return false;
}

static void prepare(const struct iam_cond *c, const struct iam_vals *vals, size_t k, struct cv *x)
{
	x->s = vals->v[k];
	x->len = strlen(x->s);
	x->ok = true;
	switch (c->op) {
	case IAM_COP_NUM_EQ:
	case IAM_COP_NUM_LT:
	case IAM_COP_NUM_LE:
	case IAM_COP_NUM_GT:
	case IAM_COP_NUM_GE:
		x->ok = parse_num(x->s, x->len, &x->num);
		break;
	case IAM_COP_DATE_EQ:
	case IAM_COP_DATE_LT:
	case IAM_COP_DATE_LE:
	case IAM_COP_DATE_GT:
	case IAM_COP_DATE_GE:
		if (vals->is_now)
			x->num = vals->num;
		else
			x->ok = iam_cond_parse_date(x->s, x->len, &x->num);
		break;
	case IAM_COP_BOOL:
		x->ok = parse_bool(x->s, x->len, &x->num);
		break;
	case IAM_COP_IP:
		x->ok = parse_ip(x->s, x->len, false, &x->ip);
		break;
	default:
		break;
	}
}

bool iam_cond_eval(const struct iam_cond *c, const struct iam_ev *ev)
{
	struct iam_vals vals;
	bool present = iam_ev_resolve(ev, &c->key, &vals) && vals.n > 0;
	if (c->op == IAM_COP_NULL) {
		for (uint32_t i = 0; i < c->nvals; i++)
			if (c->vals[i].ok && (c->vals[i].num != 0) != present)
				return true;
		return false;
	}
	if (!present) {
		if (c->set == IAM_SET_ALL)
			return true;
		if (c->set == IAM_SET_ANY)
			return false;
		return c->if_exists || c->neg;
	}
	struct cv x;
	if (c->set == IAM_SET_NONE) {
		bool any = false;
		for (size_t k = 0; k < vals.n && !any; k++) {
			prepare(c, &vals, k, &x);
			any = match1(c, &x, ev);
		}
		return any != c->neg;
	}
	for (size_t k = 0; k < vals.n; k++) {
		prepare(c, &vals, k, &x);
		bool hit = match1(c, &x, ev) != c->neg;
		if (c->set == IAM_SET_ANY && hit)
			return true;
		if (c->set == IAM_SET_ALL && !hit)
			return false;
	}
	return c->set == IAM_SET_ALL;
}
