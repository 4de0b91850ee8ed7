/*
 * query.c owns the AWS Query protocol's request decoding: form/URL
 * decoding into pairs (query_parse) and the model-driven conversion of
 * pairs into the JSON request form (query_to_json).  It calls libc,
 * jansson, emu/model (tables and lookups) and emu/err; it does no I/O.
 *
 * Invariants: every limit of query.h is checked before the allocation it
 * bounds; decoded keys and values never contain NUL; error messages are
 * valid UTF-8, quote at most QUOTE_MAX bytes of a value, and never quote a
 * value of a sensitive shape.
 *
 * query_to_json builds the tree in one pass over the pairs with every list
 * and map held as a JSON object keyed by element number ("1", "2", ...),
 * then one pass over the model turns those into arrays (in index order)
 * and maps.  The cost is linear in the number of pairs times key depth.
 */
#include "api/query.h"

#include "emu/util.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define QUOTE_MAX 64 /* bytes of a value quoted in an error */

/* ------------------------------------------------------------------ */
/* Form decoding */

/* Decodes s[0..n) into a new string of at most `limit` bytes. */
static int decode(const char *s, size_t n, size_t limit, const char *what, char **out, struct emu_err *err)
{
	*out = NULL;
	/* each decoded byte takes 1..3 input bytes */
	if (n / 3 > limit)
		return emu_err_set(err, ERR_SERIALIZATION, "A query %s is longer than %zu bytes", what, limit);
	char *d = malloc(n + 1);
	if (!d)
		return emu_err_set(err, ERR_INTERNAL, NULL);
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			if (n - i < 3 || util_hexval(s[i + 1]) < 0 || util_hexval(s[i + 2]) < 0) {
				free(d);
				return emu_err_set(err, ERR_SERIALIZATION, "Malformed percent-encoding in a query %s", what);
			}
			c = (char)(util_hexval(s[i + 1]) * 16 + util_hexval(s[i + 2]));
			i += 2;
			if (c == '\0') {
				free(d);
				return emu_err_set(err, ERR_SERIALIZATION, "A query %s contains %%00", what);
			}
		} else if (c == '\0') {
			free(d);
			return emu_err_set(err, ERR_SERIALIZATION, "A query %s contains a NUL byte", what);
		}
		d[o++] = c;
	}
	d[o] = '\0';
	if (o > limit) {
		free(d);
		return emu_err_set(err, ERR_SERIALIZATION, "A query %s is longer than %zu bytes", what, limit);
	}
	*out = d;
	return 0;
}

void query_free(struct query_params *q)
{
	if (!q)
		return;
	for (size_t i = 0; i < q->n; i++) {
		free(q->v[i].key);
		free(q->v[i].value);
	}
	free(q->v);
	q->v = NULL;
	q->n = 0;
}

int query_parse(const char *s, size_t len, struct query_params *out, struct emu_err *err)
{
	out->v = NULL;
	out->n = 0;
	if (len > QUERY_MAX_INPUT)
		return emu_err_set(err, ERR_REQUEST_TOO_LARGE, NULL);
	/* count the pairs that will be kept before allocating for them */
	size_t count = 0;
	for (size_t a = 0; a <= len;) {
		const char *amp = memchr(s + a, '&', len - a);
		size_t b = amp ? (size_t)(amp - s) : len;
		if (b > a && s[a] != '=')
			count++;
		a = b + 1;
	}
	if (count > QUERY_MAX_PARAMS)
		return emu_err_set(err, ERR_SERIALIZATION, "The query has more than %d parameters", QUERY_MAX_PARAMS);
	if (count == 0)
		return 0;
	out->v = calloc(count, sizeof out->v[0]);
	if (!out->v)
		return emu_err_set(err, ERR_INTERNAL, NULL);
	for (size_t a = 0; a <= len;) {
		const char *amp = memchr(s + a, '&', len - a);
		size_t b = amp ? (size_t)(amp - s) : len;
		if (b > a && s[a] != '=') {
			const char *eq = memchr(s + a, '=', b - a);
			size_t kend = eq ? (size_t)(eq - s) : b;
			size_t vstart = eq ? kend + 1 : b;
			struct query_param *p = &out->v[out->n];
			if (decode(s + a, kend - a, QUERY_MAX_KEY, "key", &p->key, err) < 0 ||
			    decode(s + vstart, b - vstart, QUERY_MAX_VALUE, "value", &p->value, err) < 0) {
				free(p->key);
				p->key = NULL;
				query_free(out);
				return -1;
			}
			out->n++;
		}
		a = b + 1;
	}
	return 0;
}

const char *query_get(const struct query_params *q, const char *key)
{
	for (size_t i = 0; q && i < q->n; i++)
		if (strcmp(q->v[i].key, key) == 0)
			return q->v[i].value;
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Helpers for query_to_json */

struct qctx {
	const struct model_service *svc;
	struct emu_err *err;
};

static const struct model_shape *shape_of(const struct qctx *c, uint32_t i) { return &c->svc->shapes[i]; }

static bool is_container(const struct model_shape *sh)
{
	return sh->type == MODEL_STRUCTURE || sh->type == MODEL_LIST || sh->type == MODEL_MAP;
}

/* Strict UTF-8: no overlong forms, surrogates or code points past U+10FFFF. */
static bool utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned char c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t k;
		uint32_t cp, min;
		if (c >= 0xC2 && c <= 0xDF)
			k = 1, cp = c & 0x1F, min = 0x80;
		else if (c >= 0xE0 && c <= 0xEF)
			k = 2, cp = c & 0x0F, min = 0x800;
		else if (c >= 0xF0 && c <= 0xF4)
			k = 3, cp = c & 0x07, min = 0x10000;
		else
			return false;
		if (n - i <= k)
			return false;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + j] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += k + 1;
	}
	return true;
}

/* Copies at most max bytes of s for a message: whole UTF-8 sequences only,
 * control characters and invalid bytes as '?'. */
static void quote(char *dst, size_t size, const char *s, size_t max)
{
	size_t o = 0, n = strlen(s);
	bool cut = n > max;
	if (cut)
		n = max;
	for (size_t i = 0; i < n && o + 4 < size;) {
		unsigned char c = (unsigned char)s[i];
		size_t k = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
		if (k > 1 && (i + k > n || !utf8_valid((const unsigned char *)s + i, k)))
			k = 0;
		if (k == 0 || (k == 1 && (c < 0x20 || c == 0x7F))) {
			dst[o++] = '?';
			i++;
			continue;
		}
		memcpy(dst + o, s + i, k);
		o += k;
		i += k;
	}
	if (cut && o + 4 <= size) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
}

static int bad_value(struct qctx *c, const struct model_shape *sh, const char *key, const char *value,
		     const char *what)
{
	char k[QUERY_MAX_KEY / 4 + 8], v[QUOTE_MAX + 8];
	quote(k, sizeof k, key, QUERY_MAX_KEY / 4);
	if (sh->flags & MODEL_F_SENSITIVE)
		return emu_err_set(c->err, ERR_INVALID_PARAMETER_VALUE, "Invalid value for parameter %s: not %s", k,
				   what);
	quote(v, sizeof v, value, QUOTE_MAX);
	return emu_err_set(c->err, ERR_INVALID_PARAMETER_VALUE, "Invalid value for parameter %s: '%s' is not %s", k, v,
			   what);
}

/* Decimal integer, all of s, within [lo, hi]. */
static bool parse_int(const char *s, long long lo, long long hi, long long *out)
{
	if (!((*s >= '0' && *s <= '9') || ((*s == '-' || *s == '+') && s[1] >= '0' && s[1] <= '9')))
		return false;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

static bool parse_double(const char *s, double *out)
{
	if (!*s || !((*s >= '0' && *s <= '9') || *s == '-' || *s == '+' || *s == '.'))
		return false;
	char *end;
	errno = 0;
	double d = strtod(s, &end);
	if (*end || !isfinite(d) || errno == ERANGE)
		return false;
	*out = d;
	return true;
}

static bool digits(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		char c = (*p)[i];
		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*out = v;
	return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static long long days_from_civil(long long y, int m, int d)
{
	y -= m <= 2;
	long long era = (y >= 0 ? y : y - 399) / 400;
	long long yoe = y - era * 400;
	long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* ISO 8601 "YYYY-MM-DDThh:mm:ss[.f...][Z|+hh:mm|+hhmm]" (no zone = UTC), or
 * epoch seconds. */
static bool parse_timestamp(const char *s, double *out, bool *whole)
{
	double d;
	if (strchr(s, '-') == NULL || s[0] == '-') {
		if (!parse_double(s, &d))
			return false;
		*out = d;
		*whole = d == floor(d) && fabs(d) < 9e15;
		return true;
	}
	const char *p = s;
	int y, mo, da, h, mi, se;
	if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' || !digits(&p, 2, &da))
		return false;
	if ((*p != 'T' && *p != 't' && *p != ' ') || (p++, !digits(&p, 2, &h)) || *p++ != ':' || !digits(&p, 2, &mi) ||
	    *p++ != ':' || !digits(&p, 2, &se))
		return false;
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (mo < 1 || mo > 12 || da < 1 || da > mdays[mo - 1] || h > 23 || mi > 59 || se > 60)
		return false;
	if (mo == 2 && da == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return false;
	double frac = 0;
	if (*p == '.') {
		p++;
		double scale = 0.1;
		if (*p < '0' || *p > '9')
			return false;
		while (*p >= '0' && *p <= '9') {
			frac += (*p++ - '0') * scale;
			scale /= 10;
		}
	}
	long long off = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p++ == '-' ? -1 : 1, oh, om;
		if (!digits(&p, 2, &oh))
			return false;
		if (*p == ':')
			p++;
		if (!digits(&p, 2, &om) || oh > 23 || om > 59)
			return false;
		off = sign * (oh * 3600LL + om * 60LL);
	}
	if (*p)
		return false;
	long long secs = days_from_civil(y, mo, da) * 86400LL + h * 3600LL + mi * 60LL + se - off;
	*out = (double)secs + frac;
	*whole = frac == 0;
	return true;
}

/* The JSON value of a scalar parameter, or NULL with err set. */
static json_t *convert(struct qctx *c, const struct model_shape *sh, const char *key, const char *value)
{
	long long n;
	double d;
	bool whole;
	json_t *j = NULL;
	switch (sh->type) {
	case MODEL_STRING:
	case MODEL_BLOB:
		if (!utf8_valid((const unsigned char *)value, strlen(value))) {
			char k[QUERY_MAX_KEY / 4 + 8];
			quote(k, sizeof k, key, QUERY_MAX_KEY / 4);
			emu_err_set(c->err, ERR_SERIALIZATION, "The value of parameter %s is not valid UTF-8", k);
			return NULL;
		}
		j = json_string(value);
		break;
	case MODEL_INTEGER:
		if (!parse_int(value, INT32_MIN, INT32_MAX, &n)) {
			bad_value(c, sh, key, value, "a valid integer");
			return NULL;
		}
		j = json_integer(n);
		break;
	case MODEL_LONG:
		if (!parse_int(value, INT64_MIN, INT64_MAX, &n)) {
			bad_value(c, sh, key, value, "a valid long integer");
			return NULL;
		}
		j = json_integer(n);
		break;
	case MODEL_FLOAT:
	case MODEL_DOUBLE:
		if (!parse_double(value, &d)) {
			bad_value(c, sh, key, value, "a valid number");
			return NULL;
		}
		j = json_real(d);
		break;
	case MODEL_BOOLEAN:
		if (strcasecmp(value, "true") == 0)
			j = json_true();
		else if (strcasecmp(value, "false") == 0)
			j = json_false();
		else {
			bad_value(c, sh, key, value, "a boolean (true or false)");
			return NULL;
		}
		break;
	case MODEL_TIMESTAMP:
		if (!parse_timestamp(value, &d, &whole)) {
			bad_value(c, sh, key, value, "an ISO 8601 timestamp");
			return NULL;
		}
		j = whole ? json_integer((json_int_t)d) : json_real(d);
		break;
	default:
		break;
	}
	if (!j)
		emu_err_set(c->err, ERR_INTERNAL, NULL);
	return j;
}

/* A leaf: the last segment of a key names `name` inside container cont. */
static int set_leaf(struct qctx *c, json_t *cont, const char *name, const struct model_shape *sh, const char *key,
		    const char *value)
{
	if (json_object_get(cont, name))
		return 0; /* the first of duplicates wins */
	if (sh->type == MODEL_STRUCTURE)
		return 0;
	if (sh->type == MODEL_LIST || sh->type == MODEL_MAP) {
		if (value[0] != '\0')
			return 0;
		json_t *e = json_object(); /* "L=": an empty list */
		if (!e || json_object_set_new(cont, name, e) < 0)
			return emu_err_set(c->err, ERR_INTERNAL, NULL);
		return 0;
	}
	json_t *j = convert(c, sh, key, value);
	if (!j)
		return -1;
	if (json_object_set_new(cont, name, j) < 0)
		return emu_err_set(c->err, ERR_INTERNAL, NULL);
	return 0;
}

/* The container object under name in cont, created if absent. */
static json_t *child(struct qctx *c, json_t *cont, const char *name)
{
	json_t *j = json_object_get(cont, name);
	if (j)
		return json_is_object(j) ? j : NULL;
	j = json_object();
	if (!j || json_object_set_new(cont, name, j) < 0) {
		emu_err_set(c->err, ERR_INTERNAL, NULL);
		return NULL;
	}
	return j;
}

struct seg {
	const char *p;
	size_t n;
	const char *rest; /* after the '.', or NULL at the last segment */
};

static void seg_first(struct seg *s, const char *key)
{
	const char *dot = strchr(key, '.');
	s->p = key;
	s->n = dot ? (size_t)(dot - key) : strlen(key);
	s->rest = dot ? dot + 1 : NULL;
}

static bool seg_next(struct seg *s)
{
	if (!s->rest)
		return false;
	seg_first(s, s->rest);
	return true;
}

static bool seg_is(const struct seg *s, const char *name)
{
	return name && strlen(name) == s->n && memcmp(s->p, name, s->n) == 0;
}

/* Element number of a list or map segment (1 on; canonical text in buf).
 * Returns 1, 0 when the segment is not an element number (the pair is
 * ignored) or -2 when it is a number over QUERY_MAX_INDEX. */
static int seg_index(const struct seg *s, char buf[16])
{
	if (s->n == 0 || s->p[0] == '0')
		return 0;
	for (size_t i = 0; i < s->n; i++)
		if (s->p[i] < '0' || s->p[i] > '9')
			return 0;
	if (s->n > 9)
		return -2;
	unsigned long v = 0;
	for (size_t i = 0; i < s->n; i++)
		v = v * 10 + (unsigned long)(s->p[i] - '0');
	if (v > QUERY_MAX_INDEX)
		return -2;
	snprintf(buf, 16, "%lu", v);
	return 1;
}

static int index_error(struct qctx *c, const char *key)
{
	char k[QUERY_MAX_KEY / 4 + 8];
	quote(k, sizeof k, key, QUERY_MAX_KEY / 4);
	return emu_err_set(c->err, ERR_INVALID_PARAMETER_VALUE,
			   "Invalid value for parameter %s: element numbers run from 1 to %d", k, QUERY_MAX_INDEX);
}

static const struct model_member *member_by_query_name(const struct qctx *c, const struct model_shape *sh,
							const struct seg *s)
{
	for (uint32_t i = 0; i < sh->nmembers; i++) {
		const struct model_member *m = &c->svc->members[sh->members + i];
		if (seg_is(s, m->query_name))
			return m;
	}
	return NULL;
}

/* One level of a key's path in the tree being built: a member name, an
 * element number, or "k"/"v" inside a map entry. */
struct step {
	const char *name;
	char idx[16];
};

#define MAX_STEPS (QUERY_MAX_KEY / 2 + 2) /* a segment takes at least 2 bytes with its '.' */

/*
 * Puts one pair into the tree rooted at root (an object of shape sh).  The
 * key is resolved against the model first; containers are created only
 * once it names a leaf, so an ignored pair leaves no trace.
 */
static int place(struct qctx *c, const struct model_shape *sh, json_t *root, const char *key, const char *value)
{
	struct step steps[MAX_STEPS];
	size_t n = 0;
	struct seg s;
	seg_first(&s, key);
	for (;;) {
		if (n >= MAX_STEPS)
			return 0;
		struct step *st = &steps[n++];
		switch (sh->type) {
		case MODEL_STRUCTURE: {
			const struct model_member *m = member_by_query_name(c, sh, &s);
			if (!m)
				return 0;
			st->name = m->name;
			sh = shape_of(c, m->shape);
			break;
		}
		case MODEL_LIST: {
			if (!(sh->flags & MODEL_F_FLATTENED) && (!seg_is(&s, sh->item_name) || !seg_next(&s)))
				return 0;
			int r = seg_index(&s, st->idx);
			if (r == -2)
				return index_error(c, key);
			if (r <= 0)
				return 0;
			st->name = st->idx;
			sh = shape_of(c, sh->item);
			break;
		}
		case MODEL_MAP: {
			if (!(sh->flags & MODEL_F_FLATTENED) && (!seg_is(&s, "entry") || !seg_next(&s)))
				return 0;
			int r = seg_index(&s, st->idx);
			if (r == -2)
				return index_error(c, key);
			if (r <= 0 || !seg_next(&s) || n >= MAX_STEPS)
				return 0;
			st->name = st->idx;
			st = &steps[n++];
			if (seg_is(&s, sh->item_name)) {
				st->name = "k";
				sh = shape_of(c, sh->item);
			} else if (seg_is(&s, sh->value_name)) {
				st->name = "v";
				sh = shape_of(c, sh->value);
			} else {
				return 0;
			}
			break;
		}
		default:
			return 0; /* a scalar with more segments after it */
		}
		if (!seg_next(&s))
			break;
		if (!is_container(sh))
			return 0;
	}
	json_t *cont = root;
	for (size_t i = 0; i + 1 < n; i++) {
		if (!(cont = child(c, cont, steps[i].name)))
			return c->err->code ? -1 : 0;
	}
	return set_leaf(c, cont, steps[n - 1].name, sh, key, value);
}

struct slot {
	unsigned long idx;
	json_t *v;
};

static int slot_cmp(const void *a, const void *b)
{
	const struct slot *x = a, *y = b;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* The index-keyed object j as slots sorted by index (caller frees). */
static struct slot *slots_of(struct qctx *c, json_t *j, size_t *n)
{
	*n = json_object_size(j);
	struct slot *s = calloc(*n ? *n : 1, sizeof *s);
	if (!s) {
		emu_err_set(c->err, ERR_INTERNAL, NULL);
		return NULL;
	}
	const char *k;
	json_t *v;
	size_t i = 0;
	json_object_foreach(j, k, v) {
		s[i].idx = strtoul(k, NULL, 10);
		s[i].v = v;
		i++;
	}
	qsort(s, *n, sizeof *s, slot_cmp);
	return s;
}

static json_t *finalize(struct qctx *c, const struct model_shape *sh, json_t *j);

/* Replaces every container member of structure j by its final form. */
static int finalize_members(struct qctx *c, const struct model_shape *sh, json_t *j)
{
	for (uint32_t i = 0; i < sh->nmembers; i++) {
		const struct model_member *m = &c->svc->members[sh->members + i];
		const struct model_shape *msh = shape_of(c, m->shape);
		json_t *v = json_object_get(j, m->name);
		if (!v || !is_container(msh))
			continue;
		json_t *f = finalize(c, msh, v);
		if (!f || json_object_set_new(j, m->name, f) < 0)
			return emu_err_set(c->err, ERR_INTERNAL, NULL);
	}
	return 0;
}

/* New reference to the final form of container j (shape sh), or NULL. */
static json_t *finalize(struct qctx *c, const struct model_shape *sh, json_t *j)
{
	if (sh->type == MODEL_STRUCTURE) {
		if (finalize_members(c, sh, j) < 0)
			return NULL;
		return json_incref(j);
	}
	size_t n;
	struct slot *s = slots_of(c, j, &n);
	if (!s)
		return NULL;
	json_t *out = sh->type == MODEL_LIST ? json_array() : json_object();
	bool fail = !out;
	for (size_t i = 0; i < n && !fail; i++) {
		if (sh->type == MODEL_LIST) {
			const struct model_shape *esh = shape_of(c, sh->item);
			json_t *e = is_container(esh) ? finalize(c, esh, s[i].v) : json_incref(s[i].v);
			fail = !e || json_array_append_new(out, e) < 0;
		} else {
			json_t *k = json_object_get(s[i].v, "k"), *v = json_object_get(s[i].v, "v");
			if (!json_is_string(k) || !v || json_object_get(out, json_string_value(k)))
				continue; /* an entry without key or value, or a repeated key */
			const struct model_shape *vsh = shape_of(c, sh->value);
			json_t *e = is_container(vsh) ? finalize(c, vsh, v) : json_incref(v);
			fail = !e || json_object_set_new(out, json_string_value(k), e) < 0;
		}
	}
	free(s);
	if (fail) {
		json_decref(out);
		if (!c->err->code)
			emu_err_set(c->err, ERR_INTERNAL, NULL);
		return NULL;
	}
	return out;
}

/* MissingParameter check: the first absent required member, depth first,
 * named by its Query key ("Tags.Tag.2.Key"). */
static int required(struct qctx *c, const struct model_shape *sh, json_t *j, char *path, size_t plen, int depth)
{
	const size_t cap = QUERY_MAX_KEY;
	if (depth > 32 || sh->type != MODEL_STRUCTURE)
		return 0;
	for (uint32_t i = 0; i < sh->nmembers; i++) {
		const struct model_member *m = &c->svc->members[sh->members + i];
		const struct model_shape *msh = shape_of(c, m->shape);
		json_t *v = json_object_get(j, m->name);
		int n = snprintf(path + plen, cap - plen, "%s%s", plen ? "." : "", m->query_name);
		size_t len = n > 0 && (size_t)n < cap - plen ? plen + (size_t)n : cap - 1;
		if (!v) {
			if (m->flags & MODEL_M_REQUIRED)
				return emu_err_set(c->err, ERR_MISSING_PARAMETER, "The request must contain the parameter %s",
						   path);
		} else if (msh->type == MODEL_STRUCTURE) {
			if (required(c, msh, v, path, len, depth + 1) < 0)
				return -1;
		} else if (msh->type == MODEL_LIST && shape_of(c, msh->item)->type == MODEL_STRUCTURE) {
			const struct model_shape *esh = shape_of(c, msh->item);
			for (size_t k = 0; k < json_array_size(v); k++) {
				bool flat = (msh->flags & MODEL_F_FLATTENED) || !msh->item_name;
				int e = snprintf(path + len, cap - len, ".%s%s%zu", flat ? "" : msh->item_name,
						 flat ? "" : ".", k + 1);
				size_t elen = e > 0 && (size_t)e < cap - len ? len + (size_t)e : cap - 1;
				if (required(c, esh, json_array_get(v, k), path, elen, depth + 1) < 0)
					return -1;
			}
		}
		path[plen] = '\0';
	}
	return 0;
}

int query_to_json(const struct model_service *svc, const char *op, const struct query_params *q, json_t **out,
		  struct emu_err *err)
{
	*out = NULL;
	struct qctx c = {svc, err};
	const struct model_op *o = op ? model_op_find(svc, op, strlen(op)) : NULL;
	if (!o) {
		char name[QUOTE_MAX + 8];
		quote(name, sizeof name, op ? op : "", QUOTE_MAX);
		return emu_err_set(err, ERR_UNKNOWN_OPERATION, "Could not find operation %s for version %s", name,
				   svc->api_version);
	}
	json_t *root = json_object();
	if (!root)
		return emu_err_set(err, ERR_INTERNAL, NULL);
	const struct model_shape *in = model_op_input(svc, o);
	if (!in) {
		*out = root;
		return 0;
	}
	err->code = ERR_OK;
	for (size_t i = 0; q && i < q->n; i++) {
		if (place(&c, in, root, q->v[i].key, q->v[i].value) < 0) {
			json_decref(root);
			return -1;
		}
	}
	if (finalize_members(&c, in, root) < 0) {
		json_decref(root);
		return -1;
	}
	if (svc->flags & MODEL_SVC_QUERY_MISSING_PARAMETER) {
		char path[QUERY_MAX_KEY];
		path[0] = '\0';
		if (required(&c, in, root, path, 0, 0) < 0) {
			json_decref(root);
			return -1;
		}
	}
	*out = root;
	return 0;
}
