/*
 * model.c owns request validation against the generated service models
 * (emu/model_<svc>.c, format in emu/model.h): the JSON type checks, with
 * coral's SerializationException texts, then the constraint checks, with
 * coral's ValidationException message, plus the pattern matcher (a Thompson
 * NFA over the generator's instructions) and the base64 check for blobs.
 *
 * It may call libc, jansson (read only) and emu/err.  Nothing else.
 *
 * Invariants: the request is never modified; validation allocates nothing
 * (messages are composed in fixed buffers on the stack, so a request with
 * 10,000 bad elements costs one counter increment per element once the
 * message is full); every message is valid UTF-8 without control
 * characters, fits EMU_ERR_MSG_MAX, and never shows a value of a sensitive
 * shape (SecretString, SecretBinary, RotationToken ...).
 *
 * Choices where AWS is not documented (see also emu/model.h).  Evidence:
 * error texts quoted in public issue reports (Lambda, ACM, Cognito) and in
 * other emulators' tests that were checked against real services (Athena,
 * another coral JSON 1.1 service; DynamoDB); the rest is marked as chosen.
 *  - Type errors are reported before any constraint violation, whatever
 *    their order in the document (Athena).
 *  - Messages: "<TOKEN>_VALUE can not be converted to a(n) <Type>" with
 *    TOKEN in STRING, NUMBER (integer), DECIMAL (fraction/exponent), TRUE,
 *    FALSE; "Start of structure or map found where not expected." for an
 *    object, "Start of list found where not expected" for an array,
 *    "Expected null" for a scalar where a structure belongs, "Expected list
 *    or null" for lists (Athena, modern coral); "Expected map or null",
 *    DECIMAL_VALUE and the Timestamp/Double/Float nouns are chosen by
 *    analogy.  Blobs: "only base-64-encoded strings are convertible to
 *    bytes" and the base64 texts of model_base64_len (DynamoDB, typo
 *    "dectected" included).  Timestamps accept JSON numbers only.
 *  - Paths: lowerCamel member names joined by '.', list elements as
 *    "<list>.<n>.member" (n from 1, as DynamoDB and ECS answer), map values
 *    as "<map>.<key>" (chosen).
 *  - Several violations on one value are separate entries, in the order
 *    length, pattern, enum; members in model order, depth first (coral's
 *    own order is not stable; chosen).
 *  - A list of scalars gets one entry at the list's path when any element
 *    fails: "Member must satisfy constraint: [<every constraint of the
 *    element shape>]" with the whole list as the value (as Lambda and ACM
 *    answer), plus "Member must not be null" when an element is null.  Map
 *    keys and scalar map values likewise, as "Map keys must satisfy
 *    constraint: [...]" / "Map value must satisfy constraint: [...]".
 *  - An integer outside the 32-bit range of an Integer shape is reported
 *    against the model bound (or the type's) without a value, as Athena
 *    does ("Value at 'maxResults' failed to satisfy constraint: ...").
 *  - Lengths count code points (Smithy's definition), not UTF-16 units.
 *  - Patterns must match the whole value (Java Matcher.matches(), as
 *    DynamoDB's 'abc;' vs [a-zA-Z0-9_.-]+ shows).
 *  - Values shown are cut at VALUE_MAX bytes ("..."), control characters
 *    become '?', sensitive values are left out ("Value at 'x'", as Cognito
 *    answers for passwords), sensitive members inside a shown structure
 *    read "*** Sensitive Data Redacted ***".  When the message is full the
 *    count still covers every violation and the text ends with "; ...".
 */
#include "emu/model.h"
#include "emu/util.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATH_MAX_LEN 384   /* bytes of a rendered member path */
#define KEY_IN_PATH_MAX 64 /* bytes of a map key inside a path */
#define VALUE_MAX 200      /* bytes of a value shown in a message */
#define RENDER_DEPTH 6     /* nesting shown inside a value */
#define MAX_DEPTH 64       /* nesting the validator descends */
#define REDACTED "*** Sensitive Data Redacted ***"

/* ------------------------------------------------------------------ */
/* Bounded text writer: never splits a UTF-8 sequence, marks truncation. */

struct wr {
	char *p;
	size_t cap; /* bytes usable for text, excluding the NUL */
	size_t len;
	bool full;
};

static void wr_init(struct wr *w, char *p, size_t size)
{
	w->p = p;
	w->cap = size - 1;
	w->len = 0;
	w->full = false;
	p[0] = '\0';
}

/* Appends n bytes of s; when they do not fit, as many whole UTF-8
 * sequences as fit, and marks the writer full. */
static void wr_put(struct wr *w, const char *s, size_t n)
{
	if (w->full)
		return;
	size_t room = w->cap - w->len;
	if (n > room) {
		n = room;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
		w->full = true;
	}
	memcpy(w->p + w->len, s, n);
	w->len += n;
	w->p[w->len] = '\0';
}

static void wr_puts(struct wr *w, const char *s) { wr_put(w, s, strlen(s)); }

static void wr_printf(struct wr *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void wr_printf(struct wr *w, const char *fmt, ...)
{
	char tmp[160];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n > 0)
		wr_put(w, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* User text: control characters (and DEL) become '?', invalid UTF-8 bytes
 * too, so a message is always valid UTF-8 and free of framing bytes. */
static void wr_text(struct wr *w, const char *s, size_t n)
{
	size_t i = 0;
	while (i < n && !w->full) {
		unsigned char c = (unsigned char)s[i];
		size_t k = 1;
		if (c >= 0x80) {
			k = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
			for (size_t j = 1; k && j < k; j++)
				if (i + j >= n || ((unsigned char)s[i + j] & 0xC0) != 0x80)
					k = 0;
			if (!k) {
				wr_put(w, "?", 1);
				i++;
				continue;
			}
			wr_put(w, s + i, k);
		} else if (c < 0x20 || c == 0x7F) {
			wr_put(w, "?", 1);
		} else {
			wr_put(w, s + i, 1);
		}
		i += k;
	}
}

/* ------------------------------------------------------------------ */
/* Lookups */

static int op_cmp(const void *key, const void *elem)
{
	const struct model_op *op = elem;
	return strcmp(key, op->name);
}

const struct model_op *model_op_find(const struct model_service *svc, const char *name, size_t len)
{
	if (!svc || !name || len == 0 || len > 128 || memchr(name, '\0', len))
		return NULL;
	char tmp[129];
	memcpy(tmp, name, len);
	tmp[len] = '\0';
	return bsearch(tmp, svc->ops, svc->nops, sizeof svc->ops[0], op_cmp);
}

const struct model_shape *model_op_input(const struct model_service *svc, const struct model_op *op)
{
	if (!op || op->input < 0 || (size_t)op->input >= svc->nshapes)
		return NULL;
	return &svc->shapes[op->input];
}

static const struct model_result *op_result(const struct model_service *svc, const struct model_op *op)
{
	/* op must be an element of svc->ops; compared as integers, since
	 * relational operators on pointers into different arrays are UB. */
	if (!op || !svc->results || svc->nops == 0)
		return NULL;
	uintptr_t p = (uintptr_t)op, first = (uintptr_t)svc->ops;
	if (p < first || (p - first) % sizeof *op != 0 || (p - first) / sizeof *op >= svc->nops)
		return NULL;
	return &svc->results[(p - first) / sizeof *op];
}

const struct model_shape *model_op_output(const struct model_service *svc, const struct model_op *op)
{
	const struct model_result *r = op_result(svc, op);
	if (!r || r->shape < 0 || (size_t)r->shape >= svc->nshapes)
		return NULL;
	return &svc->shapes[r->shape];
}

const char *model_op_result_wrapper(const struct model_service *svc, const struct model_op *op)
{
	const struct model_result *r = op_result(svc, op);
	return r ? r->wrapper : NULL;
}

/* ------------------------------------------------------------------ */
/* UTF-8, patterns, base64 */

size_t model_utf8_len(const char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += ((unsigned char)s[i] & 0xC0) != 0x80;
	return n;
}

/* Next code point of s[i..len); U+FFFD (one byte) for an invalid sequence. */
static uint32_t utf8_next(const unsigned char *s, size_t len, size_t *i)
{
	unsigned char c = s[*i];
	uint32_t cp;
	size_t k;
	if (c < 0x80) {
		(*i)++;
		return c;
	} else if (c >= 0xC2 && c < 0xE0) {
		cp = c & 0x1F, k = 1;
	} else if (c >= 0xE0 && c < 0xF0) {
		cp = c & 0x0F, k = 2;
	} else if (c >= 0xF0 && c < 0xF5) {
		cp = c & 0x07, k = 3;
	} else {
		(*i)++;
		return 0xFFFD;
	}
	if (*i + k >= len) {
		(*i)++;
		return 0xFFFD;
	}
	for (size_t j = 1; j <= k; j++) {
		if ((s[*i + j] & 0xC0) != 0x80) {
			(*i)++;
			return 0xFFFD;
		}
		cp = (cp << 6) | (s[*i + j] & 0x3F);
	}
	*i += k + 1;
	return cp;
}

struct nfa {
	const struct model_re_inst *prog;
	const struct model_re_range *ranges;
	uint32_t mark[MODEL_RE_MAX_INST];
	uint16_t stack[MODEL_RE_MAX_INST];
	uint32_t gen;
};

/* Adds pc and everything reachable from it without consuming input to
 * list (CLASS and MATCH instructions only), once per generation. */
static void nfa_add(struct nfa *m, uint16_t *list, size_t *n, uint16_t pc, bool at_start, bool at_end)
{
	size_t sp = 0;
	if (m->mark[pc] == m->gen)
		return;
	m->mark[pc] = m->gen;
	m->stack[sp++] = pc;
	while (sp > 0) {
		const struct model_re_inst *in = &m->prog[m->stack[--sp]];
		uint16_t pcs[2];
		size_t np = 0;
		switch (in->op) {
		case MODEL_RE_JMP:
			pcs[np++] = in->x;
			break;
		case MODEL_RE_SPLIT:
			pcs[np++] = in->x;
			pcs[np++] = in->y;
			break;
		case MODEL_RE_BOL:
			if (at_start)
				pcs[np++] = (uint16_t)(in - m->prog + 1);
			break;
		case MODEL_RE_EOL:
			if (at_end)
				pcs[np++] = (uint16_t)(in - m->prog + 1);
			break;
		default:
			list[(*n)++] = (uint16_t)(in - m->prog);
			break;
		}
		for (size_t i = 0; i < np; i++) {
			if (m->mark[pcs[i]] != m->gen) {
				m->mark[pcs[i]] = m->gen;
				m->stack[sp++] = pcs[i];
			}
		}
	}
}

static bool in_class(const struct model_re_range *r, size_t n, uint32_t cp)
{
	for (size_t i = 0; i < n; i++)
		if (cp >= r[i].lo && cp <= r[i].hi)
			return true;
	return false;
}

bool model_pattern_match(const struct model_service *svc, int32_t idx, const char *s, size_t len)
{
	if (idx < 0 || !svc->patterns)
		return true;
	const struct model_pattern *p = &svc->patterns[idx];
	if (p->ninst == 0 || p->ninst > MODEL_RE_MAX_INST)
		return true;
	struct nfa m;
	uint16_t la[MODEL_RE_MAX_INST], lb[MODEL_RE_MAX_INST];
	uint16_t *cl = la, *nl = lb;
	size_t nc = 0, nn = 0;
	m.prog = svc->insts + p->first;
	m.ranges = svc->ranges;
	memset(m.mark, 0, p->ninst * sizeof m.mark[0]);
	m.gen = 1;
	nfa_add(&m, cl, &nc, 0, true, len == 0);
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;
	while (i < len) {
		uint32_t cp = utf8_next(u, len, &i);
		m.gen++;
		nn = 0;
		for (size_t t = 0; t < nc; t++) {
			const struct model_re_inst *in = &m.prog[cl[t]];
			if (in->op == MODEL_RE_CLASS && in_class(m.ranges + in->x, in->y, cp))
				nfa_add(&m, nl, &nn, (uint16_t)(cl[t] + 1), false, i == len);
		}
		uint16_t *tmp = cl;
		cl = nl;
		nl = tmp;
		nc = nn;
		if (nc == 0)
			return false;
	}
	for (size_t t = 0; t < nc; t++)
		if (m.prog[cl[t]].op == MODEL_RE_MATCH)
			return true;
	return false;
}

int model_base64_len(const char *s, size_t len, size_t *out, struct emu_err *err)
{
	if (len % 4)
		return emu_err_set(err, ERR_SERIALIZATION,
				   "Base64 encoded length is expected a multiple of 4 bytes but found: %zu", len);
	size_t pads = 0;
	while (pads < 2 && pads < len && s[len - 1 - pads] == '=')
		pads++;
	for (size_t i = 0; i < len - pads; i++)
		if (util_b64_digit((unsigned char)s[i]) < 0)
			return emu_err_set(err, ERR_SERIALIZATION, "Invalid Base64 character detected");
	if (pads) {
		/* the unused low bits of the last data character must be zero */
		int last = util_b64_digit((unsigned char)s[len - pads - 1]);
		int mask = pads == 1 ? 0x03 : 0x0F;
		if (last & mask)
			return emu_err_set(err, ERR_SERIALIZATION, "Invalid last non-pad Base64 character dectected");
	}
	*out = len / 4 * 3 - pads;
	return 0;
}

/* ------------------------------------------------------------------ */
/* The validator */

struct val {
	const struct model_service *svc;
	struct emu_err *err;
	char path[PATH_MAX_LEN];
	size_t plen;
	int nerr;
	bool dropped;                   /* a violation did not fit the message */
	struct wr msg;                  /* "Value ... ; Value ..." */
	char msgbuf[EMU_ERR_MSG_MAX - 48]; /* leaves room for the count prefix and "; ..." */
};

static const struct model_shape *shape_at(const struct val *v, uint32_t i) { return &v->svc->shapes[i]; }

/* Path: push returns the old length for pop. */
static size_t path_push(struct val *v, const char *s, size_t n, bool text)
{
	size_t old = v->plen;
	struct wr w = {v->path, sizeof v->path - 1, v->plen, false};
	if (old > 0)
		wr_put(&w, ".", 1);
	if (text)
		wr_text(&w, s, n);
	else
		wr_put(&w, s, n);
	v->plen = w.len;
	return old;
}

static size_t path_push_index(struct val *v, size_t i)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof tmp, "%zu.member", i + 1);
	return path_push(v, tmp, (size_t)n, false);
}

static void path_pop(struct val *v, size_t old)
{
	v->plen = old;
	v->path[old] = '\0';
}

/* Whether a value of sh is hidden as a whole: a sensitive shape, or a
 * list or map of them (sensitive structure members are redacted inside). */
static bool is_sensitive(const struct val *v, const struct model_shape *sh)
{
	for (int d = 0; d < 8; d++) {
		if (sh->flags & MODEL_F_SENSITIVE)
			return true;
		if (sh->type == MODEL_LIST) {
			sh = shape_at(v, sh->item);
		} else if (sh->type == MODEL_MAP) {
			if (shape_at(v, sh->item)->flags & MODEL_F_SENSITIVE)
				return true;
			sh = shape_at(v, sh->value);
		} else {
			return false;
		}
	}
	return true; /* deeper than any model nests lists: hide */
}

/* Java-ish rendering of a value: strings bare, lists "[a, b]", maps
 * "{k=v}", structures "{Name: v, ...}". */
static void render(const struct val *v, struct wr *w, const struct model_shape *sh, json_t *j, int depth)
{
	if (sh && (sh->flags & MODEL_F_SENSITIVE)) {
		wr_puts(w, REDACTED);
		return;
	}
	if (depth > RENDER_DEPTH) {
		wr_puts(w, "...");
		return;
	}
	switch (json_typeof(j)) {
	case JSON_STRING:
		wr_text(w, json_string_value(j), json_string_length(j));
		break;
	case JSON_INTEGER:
		wr_printf(w, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
		break;
	case JSON_REAL:
		wr_printf(w, "%.15g", json_real_value(j));
		break;
	case JSON_TRUE:
		wr_puts(w, "true");
		break;
	case JSON_FALSE:
		wr_puts(w, "false");
		break;
	case JSON_NULL:
		wr_puts(w, "null");
		break;
	case JSON_ARRAY: {
		const struct model_shape *item = sh && sh->type == MODEL_LIST ? shape_at(v, sh->item) : NULL;
		wr_puts(w, "[");
		for (size_t i = 0; i < json_array_size(j) && !w->full; i++) {
			if (i)
				wr_puts(w, ", ");
			render(v, w, item, json_array_get(j, i), depth + 1);
		}
		wr_puts(w, "]");
		break;
	}
	case JSON_OBJECT:
		wr_puts(w, "{");
		if (sh && sh->type == MODEL_STRUCTURE) {
			bool first = true;
			for (uint32_t i = 0; i < sh->nmembers && !w->full; i++) {
				const struct model_member *m = &v->svc->members[sh->members + i];
				json_t *c = json_object_get(j, m->name);
				if (!c || json_is_null(c))
					continue;
				if (!first)
					wr_puts(w, ", ");
				first = false;
				wr_puts(w, m->name);
				wr_puts(w, ": ");
				render(v, w, shape_at(v, m->shape), c, depth + 1);
			}
		} else {
			const struct model_shape *val = sh && sh->type == MODEL_MAP ? shape_at(v, sh->value) : NULL;
			bool hide_keys = sh && sh->type == MODEL_MAP && (shape_at(v, sh->item)->flags & MODEL_F_SENSITIVE);
			const char *k;
			json_t *c;
			bool first = true;
			json_object_foreach(j, k, c) {
				if (w->full)
					break;
				if (!first)
					wr_puts(w, ", ");
				first = false;
				if (hide_keys)
					wr_puts(w, REDACTED);
				else
					wr_text(w, k, strlen(k));
				wr_puts(w, "=");
				render(v, w, val, c, depth + 1);
			}
		}
		wr_puts(w, "}");
		break;
	}
}

/* How a violation shows its value. */
enum shown { SHOW_VALUE, SHOW_NULL, SHOW_NONE };

/* Records one violation at the current path; `constraint` is the text
 * after "failed to satisfy constraint: ". */
static void violation(struct val *v, const struct model_shape *sh, json_t *j, enum shown how, const char *constraint)
{
	v->nerr++;
	if (v->dropped)
		return;
	char ebuf[sizeof v->msgbuf];
	struct wr e;
	wr_init(&e, ebuf, sizeof ebuf - 3);
	if (how == SHOW_NULL || !j) {
		wr_puts(&e, "Value null ");
	} else if (how == SHOW_NONE || is_sensitive(v, sh)) {
		wr_puts(&e, "Value ");
	} else {
		char vbuf[VALUE_MAX + 4];
		struct wr vw;
		wr_init(&vw, vbuf, VALUE_MAX + 1);
		render(v, &vw, sh, j, 0);
		wr_puts(&e, "Value '");
		wr_put(&e, vbuf, vw.len);
		wr_puts(&e, vw.full ? "...' " : "' ");
	}
	wr_puts(&e, "at '");
	wr_put(&e, v->path, v->plen);
	wr_puts(&e, "' failed to satisfy constraint: ");
	wr_puts(&e, constraint);
	if (e.full) {
		e.cap += 3;
		e.full = false;
		wr_puts(&e, "...");
	}
	size_t sep = v->msg.len ? 2 : 0;
	if (v->msg.len + sep + e.len > v->msg.cap) {
		if (v->msg.len == 0) { /* the first one always shows, cut */
			wr_put(&v->msg, ebuf, e.len);
			v->msg.full = false;
		}
		v->dropped = true;
		return;
	}
	if (sep)
		wr_put(&v->msg, "; ", 2);
	wr_put(&v->msg, ebuf, e.len);
}

static const char *token_of(json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_STRING:
		return "STRING_VALUE";
	case JSON_INTEGER:
		return "NUMBER_VALUE";
	case JSON_REAL:
		return "DECIMAL_VALUE";
	case JSON_TRUE:
		return "TRUE_VALUE";
	case JSON_FALSE:
		return "FALSE_VALUE";
	default:
		return "NULL_VALUE";
	}
}

static const char *type_noun(uint8_t t)
{
	switch (t) {
	case MODEL_STRING:
		return "a String";
	case MODEL_INTEGER:
		return "an Integer";
	case MODEL_LONG:
		return "a Long";
	case MODEL_FLOAT:
		return "a Float";
	case MODEL_DOUBLE:
		return "a Double";
	case MODEL_BOOLEAN:
		return "a Boolean";
	case MODEL_TIMESTAMP:
		return "a Timestamp";
	default:
		return "a Blob";
	}
}

/* The SerializationException for JSON value j where shape sh belongs. */
static int type_error(struct val *v, const struct model_shape *sh, json_t *j)
{
	const char *msg;
	if (json_is_object(j))
		msg = "Start of structure or map found where not expected.";
	else if (json_is_array(j))
		msg = "Start of list found where not expected";
	else if (sh->type == MODEL_STRUCTURE)
		msg = "Expected null";
	else if (sh->type == MODEL_LIST)
		msg = "Expected list or null";
	else if (sh->type == MODEL_MAP)
		msg = "Expected map or null";
	else if (sh->type == MODEL_BLOB)
		msg = "only base-64-encoded strings are convertible to bytes";
	else
		return emu_err_set(v->err, ERR_SERIALIZATION, "%s can not be converted to %s", token_of(j),
				   type_noun(sh->type));
	return emu_err_set(v->err, ERR_SERIALIZATION, "%s", msg);
}

/* Scalar type check: 0 when j (not null) has the JSON type sh needs. */
static int scalar_type(struct val *v, const struct model_shape *sh, json_t *j, size_t *bloblen)
{
	switch (sh->type) {
	case MODEL_STRING:
		if (json_is_string(j))
			return 0;
		break;
	case MODEL_INTEGER:
	case MODEL_LONG:
		if (json_is_integer(j))
			return 0;
		break;
	case MODEL_FLOAT:
	case MODEL_DOUBLE:
	case MODEL_TIMESTAMP:
		if (json_is_number(j))
			return 0;
		break;
	case MODEL_BOOLEAN:
		if (json_is_boolean(j))
			return 0;
		break;
	case MODEL_BLOB:
		if (json_is_string(j))
			return model_base64_len(json_string_value(j), json_string_length(j), bloblen, v->err);
		break;
	default:
		break;
	}
	return type_error(v, sh, j);
}

/* What a failed constraint says; used alone or inside "[...]". */
static void say_len_max(struct wr *w, int64_t n) { wr_printf(w, "Member must have length less than or equal to %" PRId64, n); }
static void say_len_min(struct wr *w, int64_t n) { wr_printf(w, "Member must have length greater than or equal to %" PRId64, n); }
static void say_val_max(struct wr *w, int64_t n) { wr_printf(w, "Member must have value less than or equal to %" PRId64, n); }
static void say_val_min(struct wr *w, int64_t n) { wr_printf(w, "Member must have value greater than or equal to %" PRId64, n); }

static void say_pattern(const struct val *v, struct wr *w, const struct model_shape *sh)
{
	wr_puts(w, "Member must satisfy regular expression pattern: ");
	wr_puts(w, v->svc->patterns[sh->pattern].source);
}

static void say_enum(const struct val *v, struct wr *w, const struct model_shape *sh)
{
	wr_puts(w, "Member must satisfy enum value set: [");
	for (uint32_t i = 0; i < sh->nenum; i++) {
		if (i)
			wr_puts(w, ", ");
		wr_puts(w, v->svc->enums[sh->enums + i]);
	}
	wr_puts(w, "]");
}

static bool is_length_shape(const struct model_shape *sh)
{
	return sh->type == MODEL_STRING || sh->type == MODEL_BLOB || sh->type == MODEL_LIST || sh->type == MODEL_MAP;
}

/* Every constraint of sh, comma separated (for "Member must satisfy
 * constraint: [...]"). */
static void say_all(const struct val *v, struct wr *w, const struct model_shape *sh, bool null_seen)
{
	size_t start = w->len;
#define SEP() (w->len > start ? wr_puts(w, ", ") : (void)0)
	bool len = is_length_shape(sh);
	if (sh->flags & MODEL_F_HAS_MAX) {
		SEP();
		len ? say_len_max(w, sh->max) : say_val_max(w, sh->max);
	}
	if (sh->flags & MODEL_F_HAS_MIN) {
		SEP();
		len ? say_len_min(w, sh->min) : say_val_min(w, sh->min);
	}
	if (sh->type == MODEL_STRING && sh->pattern >= 0) {
		SEP();
		say_pattern(v, w, sh);
	}
	if (sh->type == MODEL_STRING && sh->nenum) {
		SEP();
		say_enum(v, w, sh);
	}
	if (null_seen) {
		SEP();
		wr_puts(w, "Member must not be null");
	}
#undef SEP
}

static bool in_enum(const struct val *v, const struct model_shape *sh, const char *s)
{
	for (uint32_t i = 0; i < sh->nenum; i++)
		if (strcmp(v->svc->enums[sh->enums + i], s) == 0)
			return true;
	return false;
}

/*
 * Constraints of a scalar whose JSON type is already right.  With record
 * set, each failure becomes a violation at the current path; either way
 * returns whether all hold.
 */
static bool scalar_ok(struct val *v, const struct model_shape *sh, json_t *j, size_t bloblen, bool record)
{
	bool ok = true;
	char tmp[EMU_ERR_MSG_MAX];
	struct wr w;
#define FAIL(how, SAY)                                                                                 \
	do {                                                                                           \
		ok = false;                                                                            \
		if (record) {                                                                          \
			wr_init(&w, tmp, sizeof tmp);                                                  \
			SAY;                                                                           \
			violation(v, sh, j, how, tmp);                                                 \
		}                                                                                      \
	} while (0)

	switch (sh->type) {
	case MODEL_STRING:
	case MODEL_BLOB: {
		int64_t n = sh->type == MODEL_BLOB
				    ? (int64_t)bloblen
				    : (int64_t)model_utf8_len(json_string_value(j), json_string_length(j));
		if ((sh->flags & MODEL_F_HAS_MAX) && n > sh->max)
			FAIL(SHOW_VALUE, say_len_max(&w, sh->max));
		if ((sh->flags & MODEL_F_HAS_MIN) && n < sh->min)
			FAIL(SHOW_VALUE, say_len_min(&w, sh->min));
		if (sh->type == MODEL_STRING && sh->pattern >= 0 &&
		    !model_pattern_match(v->svc, sh->pattern, json_string_value(j), json_string_length(j)))
			FAIL(SHOW_VALUE, say_pattern(v, &w, sh));
		if (sh->type == MODEL_STRING && sh->nenum && !in_enum(v, sh, json_string_value(j)))
			FAIL(SHOW_VALUE, say_enum(v, &w, sh));
		break;
	}
	case MODEL_INTEGER:
	case MODEL_LONG: {
		json_int_t n = json_integer_value(j);
		int64_t hi = (sh->flags & MODEL_F_HAS_MAX) ? sh->max : INT64_MAX;
		int64_t lo = (sh->flags & MODEL_F_HAS_MIN) ? sh->min : INT64_MIN;
		bool wide = false; /* outside the type's range: coral shows no value */
		if (sh->type == MODEL_INTEGER) {
			if (n > INT32_MAX) {
				wide = true;
				if (hi > INT32_MAX)
					hi = INT32_MAX;
			} else if (n < INT32_MIN) {
				wide = true;
				if (lo < INT32_MIN)
					lo = INT32_MIN;
			}
		}
		if (n > hi)
			FAIL(wide ? SHOW_NONE : SHOW_VALUE, say_val_max(&w, hi));
		if (n < lo)
			FAIL(wide ? SHOW_NONE : SHOW_VALUE, say_val_min(&w, lo));
		break;
	}
	case MODEL_FLOAT:
	case MODEL_DOUBLE: {
		double d = json_number_value(j);
		if ((sh->flags & MODEL_F_HAS_MAX) && d > (double)sh->max)
			FAIL(SHOW_VALUE, say_val_max(&w, sh->max));
		if ((sh->flags & MODEL_F_HAS_MIN) && d < (double)sh->min)
			FAIL(SHOW_VALUE, say_val_min(&w, sh->min));
		break;
	}
	default:
		break;
	}
#undef FAIL
	return ok;
}

/* A map key against its string shape (no value shown, nothing recorded). */
static bool key_ok(const struct val *v, const struct model_shape *sh, const char *k)
{
	size_t n = strlen(k);
	int64_t cps = (int64_t)model_utf8_len(k, n);
	if ((sh->flags & MODEL_F_HAS_MAX) && cps > sh->max)
		return false;
	if ((sh->flags & MODEL_F_HAS_MIN) && cps < sh->min)
		return false;
	if (sh->pattern >= 0 && !model_pattern_match(v->svc, sh->pattern, k, n))
		return false;
	if (sh->nenum && !in_enum(v, sh, k))
		return false;
	return true;
}

static bool is_scalar(const struct model_shape *sh)
{
	return sh->type != MODEL_STRUCTURE && sh->type != MODEL_LIST && sh->type != MODEL_MAP;
}

static int walk(struct val *v, uint32_t si, json_t *j, int depth);

/* A collection's count against sh's min/max (value: the collection). */
static void check_count(struct val *v, const struct model_shape *sh, json_t *j, size_t n)
{
	char tmp[128];
	struct wr w;
	if ((sh->flags & MODEL_F_HAS_MAX) && (int64_t)n > sh->max) {
		wr_init(&w, tmp, sizeof tmp);
		say_len_max(&w, sh->max);
		violation(v, sh, j, SHOW_VALUE, tmp);
	}
	if ((sh->flags & MODEL_F_HAS_MIN) && (int64_t)n < sh->min) {
		wr_init(&w, tmp, sizeof tmp);
		say_len_min(&w, sh->min);
		violation(v, sh, j, SHOW_VALUE, tmp);
	}
}

/* "<lead> [<all constraints of elem>]" at the current path. */
static void composite(struct val *v, const struct model_shape *sh, json_t *j, const char *lead,
		      const struct model_shape *elem, bool null_seen)
{
	char tmp[EMU_ERR_MSG_MAX];
	struct wr w;
	wr_init(&w, tmp, sizeof tmp);
	wr_puts(&w, lead);
	wr_puts(&w, " [");
	say_all(v, &w, elem, null_seen);
	wr_puts(&w, "]");
	violation(v, sh, j, SHOW_VALUE, tmp);
}

static int walk_structure(struct val *v, const struct model_shape *sh, json_t *j, int depth)
{
	for (uint32_t i = 0; i < sh->nmembers; i++) {
		const struct model_member *m = &v->svc->members[sh->members + i];
		json_t *c = json_object_get(j, m->name);
		size_t old = path_push(v, m->path_name, strlen(m->path_name), false);
		int rc = 0;
		if (!c || json_is_null(c)) {
			if (m->flags & MODEL_M_REQUIRED)
				violation(v, shape_at(v, m->shape), NULL, SHOW_NULL, "Member must not be null");
		} else {
			rc = walk(v, m->shape, c, depth + 1);
		}
		path_pop(v, old);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int walk_list(struct val *v, const struct model_shape *sh, json_t *j, int depth)
{
	size_t n = json_array_size(j);
	check_count(v, sh, j, n);
	const struct model_shape *elem = shape_at(v, sh->item);
	if (!is_scalar(elem)) {
		for (size_t i = 0; i < n; i++) {
			json_t *c = json_array_get(j, i);
			size_t old = path_push_index(v, i);
			int rc = 0;
			if (json_is_null(c))
				violation(v, elem, NULL, SHOW_NULL, "Member must not be null");
			else
				rc = walk(v, sh->item, c, depth + 1);
			path_pop(v, old);
			if (rc < 0)
				return -1;
		}
		return 0;
	}
	bool bad = false, null_seen = false;
	for (size_t i = 0; i < n; i++) {
		json_t *c = json_array_get(j, i);
		size_t bl = 0;
		if (json_is_null(c)) {
			null_seen = true;
			continue;
		}
		if (scalar_type(v, elem, c, &bl) < 0)
			return -1;
		if (!bad && !scalar_ok(v, elem, c, bl, false))
			bad = true;
	}
	if (bad || null_seen)
		composite(v, sh, j, "Member must satisfy constraint:", elem, null_seen);
	return 0;
}

static int walk_map(struct val *v, const struct model_shape *sh, json_t *j, int depth)
{
	check_count(v, sh, j, json_object_size(j));
	const struct model_shape *ksh = shape_at(v, sh->item);
	const struct model_shape *vsh = shape_at(v, sh->value);
	bool kbad = false, vbad = false, vnull = false;
	const char *k;
	json_t *c;
	json_object_foreach(j, k, c) {
		if (!kbad && ksh->type == MODEL_STRING && !key_ok(v, ksh, k))
			kbad = true;
		if (json_is_null(c)) {
			vnull = true;
			continue;
		}
		if (is_scalar(vsh)) {
			size_t bl = 0;
			if (scalar_type(v, vsh, c, &bl) < 0)
				return -1;
			if (!vbad && !scalar_ok(v, vsh, c, bl, false))
				vbad = true;
		} else {
			size_t klen = strlen(k);
			size_t cut = klen > KEY_IN_PATH_MAX ? KEY_IN_PATH_MAX : klen;
			size_t old = (ksh->flags & MODEL_F_SENSITIVE) ? path_push(v, "***", 3, false)
								    : path_push(v, k, cut, true);
			int rc = walk(v, sh->value, c, depth + 1);
			path_pop(v, old);
			if (rc < 0)
				return -1;
		}
	}
	if (kbad)
		composite(v, sh, j, "Map keys must satisfy constraint:", ksh, false);
	if (vbad || vnull)
		composite(v, sh, j, "Map value must satisfy constraint:", vsh, vnull);
	return 0;
}

static int walk(struct val *v, uint32_t si, json_t *j, int depth)
{
	const struct model_shape *sh = shape_at(v, si);
	if (depth > MAX_DEPTH)
		return emu_err_set(v->err, ERR_SERIALIZATION, "Request nesting is too deep");
	switch (sh->type) {
	case MODEL_STRUCTURE:
		if (!json_is_object(j))
			return type_error(v, sh, j);
		return walk_structure(v, sh, j, depth);
	case MODEL_LIST:
		if (!json_is_array(j))
			return type_error(v, sh, j);
		return walk_list(v, sh, j, depth);
	case MODEL_MAP:
		if (!json_is_object(j))
			return type_error(v, sh, j);
		return walk_map(v, sh, j, depth);
	default: {
		size_t bl = 0;
		if (scalar_type(v, sh, j, &bl) < 0)
			return -1;
		scalar_ok(v, sh, j, bl, true);
		return 0;
	}
	}
}

int model_validate_shape(const struct model_service *svc, uint32_t shape, const char *path, json_t *in,
			 struct emu_err *err)
{
	struct val v;
	v.svc = svc;
	v.err = err;
	v.nerr = 0;
	v.dropped = false;
	v.plen = 0;
	v.path[0] = '\0';
	wr_init(&v.msg, v.msgbuf, sizeof v.msgbuf);
	if (path && *path)
		path_push(&v, path, strlen(path), true);
	if (shape >= svc->nshapes)
		return emu_err_set(err, ERR_INTERNAL, "no shape %u in the %s model", shape, svc->name);
	const struct model_shape *sh = &svc->shapes[shape];
	if (!in || json_is_null(in)) {
		/* an absent request is {}: its required members are missing */
		if (sh->type == MODEL_STRUCTURE)
			walk_structure(&v, sh, NULL, 0);
		else
			violation(&v, sh, NULL, SHOW_NULL, "Member must not be null");
	} else if (walk(&v, shape, in, 0) < 0) {
		return -1;
	}
	if (v.nerr == 0)
		return 0;
	return emu_err_set(err, ERR_VALIDATION, "%d validation error%s detected: %s%s", v.nerr, v.nerr == 1 ? "" : "s",
			   v.msgbuf, v.dropped ? "; ..." : "");
}

int model_validate(const struct model_service *svc, const char *op, json_t *in, struct emu_err *err)
{
	const struct model_op *o = op ? model_op_find(svc, op, strlen(op)) : NULL;
	if (!o) {
		char name[72];
		struct wr w;
		wr_init(&w, name, sizeof name);
		if (op)
			wr_text(&w, op, strnlen(op, 64));
		return emu_err_set(err, ERR_UNKNOWN_OPERATION, "Unknown operation %s", name);
	}
	if (in && !json_is_object(in)) {
		if (json_is_array(in))
			return emu_err_set(err, ERR_SERIALIZATION, "Start of list found where not expected");
		return emu_err_set(err, ERR_SERIALIZATION, "Expected a JSON object as the request body");
	}
	if (o->input < 0)
		return 0;
	return model_validate_shape(svc, (uint32_t)o->input, "", in, err);
}
