/*
 * xmlout.c owns the rendering of Query-protocol success responses: an
 * operation's JSON result walked along the output shape of the generated
 * service model and written as XML (contract in api/xmlout.h).
 *
 * It may call libc, jansson (read only), emu/model (tables, lookups),
 * emu/buf (the output), emu/clock (timestamp formats), emu/log (debug
 * notes on ignored members) and emu/err.  It does no I/O of its own.
 *
 * Invariants: the document is well-formed XML 1.0 in UTF-8 whatever the
 * strings hold (see put_text); element names come only from the model
 * tables, never from the JSON; members are written in model order, so the
 * same result always gives the same bytes; recursion is bounded by
 * XMLOUT_MAX_DEPTH; nothing is allocated here (b grows by itself, under its
 * own cap, and a failure there is checked once at the end).
 *
 * Reading rules this follows (botocore QueryParser, parsers.py): a
 * structure's children are found by element name, so names must be the
 * model's (query_name, which already applies the flattened-list rule); a
 * non-flattened list or map iterates its element's children whatever their
 * names; a flattened one collects repeated elements of the member's name;
 * scalars take the element text ("" when empty), booleans are "true" or
 * anything else, timestamps go through dateutil (ISO 8601 with or without
 * fraction).  Whitespace between elements is ignored, so the document is
 * indented like AWS's own answers.
 */
#include "api/xmlout.h"

#include "emu/clock.h"
#include "emu/log.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATH_CAP 256               /* bytes of a member path in messages */
#define TS_MAX 253402300800.0      /* 10000-01-01T00:00:00Z: four-digit years only */
#define REPLACEMENT "\xEF\xBF\xBD" /* U+FFFD */

struct xo {
	const struct model_service *svc;
	const char *op;
	const char *request_id;
	struct buf *b;
	struct emu_err *err;
	char path[PATH_CAP]; /* "Users.2.CreateDate", for messages */
	size_t plen;
};

/* ------------------------------------------------------------------ */
/* Member paths (messages only; truncated silently when long) */

static size_t path_push(struct xo *x, const char *seg)
{
	size_t old = x->plen;
	int n = snprintf(x->path + old, PATH_CAP - old, "%s%s", old ? "." : "", seg);
	if (n > 0)
		x->plen = (size_t)n >= PATH_CAP - old ? PATH_CAP - 1 : old + (size_t)n;
	return old;
}

static size_t path_push_index(struct xo *x, size_t i)
{
	char tmp[24];
	snprintf(tmp, sizeof tmp, "%zu", i + 1); /* from 1, as Query keys count */
	return path_push(x, tmp);
}

static void path_pop(struct xo *x, size_t old)
{
	x->plen = old;
	x->path[old] = '\0';
}

static int fail(struct xo *x, const char *what)
{
	return emu_err_set(x->err, ERR_INTERNAL, "Result of %s: %s at '%s'", x->op, what,
			   x->plen ? x->path : "(root)");
}

/* ------------------------------------------------------------------ */
/* Text */

/* Length of the valid UTF-8 sequence (2..4 bytes) that starts with the
 * non-ASCII byte s[0], with its code point; 0 if it is not one (bad lead
 * byte, bad or missing continuation, overlong form, surrogate, > U+10FFFF). */
static size_t utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned char c = s[0];
	size_t len;
	unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2;
		*cp = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		*cp = c & 0x0F;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		*cp = c & 0x07;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else {
		return 0;
	}
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		*cp = (*cp << 6) | (s[i] & 0x3F);
	}
	return len;
}

/* Appends n bytes of s as XML character data: & < > escaped, CR as a
 * character reference (a literal one would be read as LF), and anything
 * XML 1.0 has no character for replaced by U+FFFD.  Safe runs are copied
 * in one piece. */
static void put_text(struct buf *b, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t run = 0, i = 0;
	while (i < n) {
		const char *rep = NULL;
		size_t adv = 1;
		unsigned char c = u[i];
		if (c < 0x80) {
			if (c == '&')
				rep = "&amp;";
			else if (c == '<')
				rep = "&lt;";
			else if (c == '>')
				rep = "&gt;";
			else if (c == '\r')
				rep = "&#xD;";
			else if (c < 0x20 && c != '\t' && c != '\n')
				rep = REPLACEMENT;
		} else {
			uint32_t cp = 0;
			size_t len = utf8_seq(u + i, n - i, &cp);
			if (len == 0) {
				rep = REPLACEMENT; /* this byte only; resynchronise on the next */
			} else {
				adv = len;
				if (cp == 0xFFFE || cp == 0xFFFF)
					rep = REPLACEMENT;
			}
		}
		if (rep) {
			buf_put(b, s + run, i - run);
			buf_puts(b, rep);
			run = i + adv;
		}
		i += adv;
	}
	buf_put(b, s + run, n - run);
}

static void put_indent(struct buf *b, int level)
{
	static const char spaces[] = "                                                                ";
	size_t n = (size_t)level * 2;
	buf_putc(b, '\n');
	while (n > 0) {
		size_t k = n < sizeof spaces - 1 ? n : sizeof spaces - 1;
		buf_put(b, spaces, k);
		n -= k;
	}
}

static void open_tag(struct buf *b, const char *name, int level)
{
	put_indent(b, level);
	buf_putc(b, '<');
	buf_puts(b, name);
	buf_putc(b, '>');
}

static void close_tag(struct buf *b, const char *name, int level)
{
	if (level >= 0)
		put_indent(b, level);
	buf_puts(b, "</");
	buf_puts(b, name);
	buf_putc(b, '>');
}

static void empty_tag(struct buf *b, const char *name, int level)
{
	put_indent(b, level);
	buf_putc(b, '<');
	buf_puts(b, name);
	buf_puts(b, "/>");
}

/* Shortest of %.15g..%.17g that reads back as the same double. */
static void put_double(struct buf *b, double d)
{
	char tmp[40];
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(tmp, sizeof tmp, "%.*g", prec, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
	buf_puts(b, tmp);
}

/* ------------------------------------------------------------------ */
/* Values */

static int element(struct xo *x, const char *name, uint32_t si, json_t *v, int level, int depth);

static const struct model_shape *shape_at(const struct xo *x, uint32_t si) { return &x->svc->shapes[si]; }

static bool is_flat(const struct model_shape *sh)
{
	return (sh->type == MODEL_LIST || sh->type == MODEL_MAP) && (sh->flags & MODEL_F_FLATTENED);
}

/* Whether member value v writes any element: a flattened list or map
 * writes one per entry, so an empty one writes none. */
static bool member_writes(const struct xo *x, const struct model_member *m, json_t *v)
{
	if (!v || json_is_null(v))
		return false;
	const struct model_shape *sh = shape_at(x, m->shape);
	if (is_flat(sh)) {
		if (json_is_array(v))
			return json_array_size(v) > 0;
		if (json_is_object(v))
			return json_object_size(v) > 0;
	}
	return true; /* wrong types are reported when written */
}

static bool struct_writes(const struct xo *x, const struct model_shape *sh, json_t *obj)
{
	for (uint32_t i = 0; i < sh->nmembers; i++) {
		const struct model_member *m = &x->svc->members[sh->members + i];
		if (member_writes(x, m, json_object_get(obj, m->name)))
			return true;
	}
	return false;
}

static void note_unknown(const struct xo *x, const struct model_shape *sh, json_t *obj)
{
	const char *key;
	json_t *v;
	json_object_foreach(obj, key, v) {
		bool known = false;
		for (uint32_t i = 0; i < sh->nmembers && !known; i++)
			known = strcmp(x->svc->members[sh->members + i].name, key) == 0;
		if (!known)
			log_debug(x->request_id, "%s result: member %.64s%s%.64s is not in the model (%s), ignored", x->op,
				  x->path, x->plen ? "." : "", key, sh->name);
	}
}

/* The members of structure shape sh, from object obj, at `level`. */
static int put_members(struct xo *x, const struct model_shape *sh, json_t *obj, int level, int depth)
{
	for (uint32_t i = 0; i < sh->nmembers; i++) {
		const struct model_member *m = &x->svc->members[sh->members + i];
		json_t *v = json_object_get(obj, m->name);
		if (!v || json_is_null(v))
			continue;
		const struct model_shape *msh = shape_at(x, m->shape);
		size_t old = path_push(x, m->name);
		int rc = 0;
		if (msh->type == MODEL_LIST && (msh->flags & MODEL_F_FLATTENED)) {
			/* <Name>e1</Name><Name>e2</Name> in place of the list */
			if (!json_is_array(v)) {
				rc = fail(x, "expected a list");
			} else {
				size_t j;
				json_t *item;
				json_array_foreach(v, j, item) {
					size_t o2 = path_push_index(x, j);
					rc = json_is_null(item) ? fail(x, "null list element")
								: element(x, m->query_name, msh->item, item, level, depth + 1);
					path_pop(x, o2);
					if (rc < 0)
						break;
				}
			}
		} else if (msh->type == MODEL_MAP && (msh->flags & MODEL_F_FLATTENED)) {
			/* <Name><key>k</key><value>v</value></Name> per entry */
			if (!json_is_object(v)) {
				rc = fail(x, "expected a map");
			} else {
				const char *k;
				json_t *val;
				json_object_foreach(v, k, val) {
					size_t o2 = path_push(x, k);
					if (json_is_null(val)) {
						rc = fail(x, "null map value");
					} else {
						open_tag(x->b, m->query_name, level);
						open_tag(x->b, msh->item_name, level + 1);
						put_text(x->b, k, strlen(k));
						close_tag(x->b, msh->item_name, -1);
						rc = element(x, msh->value_name, msh->value, val, level + 1, depth + 1);
						close_tag(x->b, m->query_name, level);
					}
					path_pop(x, o2);
					if (rc < 0)
						break;
				}
			}
		} else {
			rc = element(x, m->query_name, m->shape, v, level, depth);
		}
		path_pop(x, old);
		if (rc < 0)
			return -1;
	}
	if (log_get_level() >= LOG_LVL_DEBUG)
		note_unknown(x, sh, obj);
	return 0;
}

static int put_scalar(struct xo *x, const struct model_shape *sh, json_t *v)
{
	struct buf *b = x->b;
	switch (sh->type) {
	case MODEL_STRING:
	case MODEL_BLOB: /* blobs are carried as base64 text both ways */
		if (!json_is_string(v))
			return fail(x, "expected a string");
		put_text(b, json_string_value(v), json_string_length(v));
		return 0;
	case MODEL_INTEGER:
	case MODEL_LONG:
		if (!json_is_integer(v))
			return fail(x, "expected an integer");
		buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return 0;
	case MODEL_FLOAT:
	case MODEL_DOUBLE:
		if (json_is_integer(v))
			buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		else if (json_is_real(v))
			put_double(b, json_real_value(v));
		else
			return fail(x, "expected a number");
		return 0;
	case MODEL_BOOLEAN:
		if (!json_is_boolean(v))
			return fail(x, "expected a boolean");
		buf_puts(b, json_is_true(v) ? "true" : "false");
		return 0;
	case MODEL_TIMESTAMP: {
		if (!json_is_number(v))
			return fail(x, "expected a timestamp (epoch seconds)");
		double t = json_number_value(v);
		if (!(t >= 0.0 && t < TS_MAX))
			return fail(x, "timestamp outside years 1970..9999");
		if (x->svc->flags & MODEL_SVC_XML_TIMESTAMP_MILLIS) {
			char ts[25];
			clock_fmt_iso(t, ts);
			buf_puts(b, ts);
		} else {
			char ts[21];
			clock_fmt_iso_s(t, ts);
			buf_puts(b, ts);
		}
		return 0;
	}
	default:
		return fail(x, "shape of unknown type in the model");
	}
}

/* One element <name>...</name> for value v of shape si at `level`. */
static int element(struct xo *x, const char *name, uint32_t si, json_t *v, int level, int depth)
{
	if (depth > XMLOUT_MAX_DEPTH)
		return fail(x, "nesting deeper than XMLOUT_MAX_DEPTH");
	const struct model_shape *sh = shape_at(x, si);
	struct buf *b = x->b;
	switch (sh->type) {
	case MODEL_STRUCTURE:
		if (!json_is_object(v))
			return fail(x, "expected an object");
		if (!struct_writes(x, sh, v)) {
			if (log_get_level() >= LOG_LVL_DEBUG)
				note_unknown(x, sh, v);
			empty_tag(b, name, level);
			return 0;
		}
		open_tag(b, name, level);
		if (put_members(x, sh, v, level + 1, depth + 1) < 0)
			return -1;
		close_tag(b, name, level);
		return 0;
	case MODEL_LIST: {
		/* A list directly inside a list cannot be flattened: written wrapped. */
		if (!json_is_array(v))
			return fail(x, "expected a list");
		if (json_array_size(v) == 0) {
			empty_tag(b, name, level);
			return 0;
		}
		const char *item_name = sh->item_name ? sh->item_name : "member";
		open_tag(b, name, level);
		size_t i;
		json_t *item;
		json_array_foreach(v, i, item) {
			size_t old = path_push_index(x, i);
			int rc = json_is_null(item) ? fail(x, "null list element")
						    : element(x, item_name, sh->item, item, level + 1, depth + 1);
			path_pop(x, old);
			if (rc < 0)
				return -1;
		}
		close_tag(b, name, level);
		return 0;
	}
	case MODEL_MAP: {
		if (!json_is_object(v))
			return fail(x, "expected a map");
		if (json_object_size(v) == 0) {
			empty_tag(b, name, level);
			return 0;
		}
		open_tag(b, name, level);
		const char *k;
		json_t *val;
		json_object_foreach(v, k, val) {
			size_t old = path_push(x, k);
			if (json_is_null(val))
				return fail(x, "null map value");
			open_tag(b, "entry", level + 1);
			open_tag(b, sh->item_name, level + 2);
			put_text(b, k, strlen(k));
			close_tag(b, sh->item_name, -1);
			if (element(x, sh->value_name, sh->value, val, level + 2, depth + 1) < 0)
				return -1;
			close_tag(b, "entry", level + 1);
			path_pop(x, old);
		}
		close_tag(b, name, level);
		return 0;
	}
	default:
		open_tag(b, name, level);
		if (put_scalar(x, sh, v) < 0)
			return -1;
		close_tag(b, name, -1);
		return 0;
	}
}

/* ------------------------------------------------------------------ */

int xmlout_render(const struct model_service *svc, const char *op, json_t *out, const char *request_id,
		  struct buf *b, struct emu_err *err)
{
	if (!svc || svc->protocol != MODEL_PROTO_QUERY || !svc->xml_namespace)
		return emu_err_set(err, ERR_INTERNAL, "XML result for a service that is not a Query service");
	const struct model_op *o = op ? model_op_find(svc, op, strlen(op)) : NULL;
	if (!o)
		return emu_err_set(err, ERR_INTERNAL, "XML result for an unknown %s operation", svc->name);
	if (out && !json_is_object(out))
		return emu_err_set(err, ERR_INTERNAL, "Result of %s is not an object", o->name);
	const struct model_shape *osh = model_op_output(svc, o);
	if (osh && osh->type != MODEL_STRUCTURE)
		return emu_err_set(err, ERR_INTERNAL, "Output shape of %s is not a structure", o->name);

	struct xo x = {.svc = svc, .op = o->name, .request_id = request_id, .b = b, .err = err};
	x.path[0] = '\0';

	buf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<");
	buf_puts(b, o->name);
	buf_puts(b, "Response xmlns=\"");
	buf_puts(b, svc->xml_namespace); /* model data: a URL without quotes */
	buf_puts(b, "\">");

	/* The wrapper: the model's resultWrapper, or <Op>Result for an
	 * operation without output (botocore does not look for it then, but
	 * AWS's answers and other SDKs' parsers expect it). */
	char wrapper[160];
	const char *rw = model_op_result_wrapper(svc, o);
	snprintf(wrapper, sizeof wrapper, "%s%s", rw ? rw : o->name, rw ? "" : "Result");
	if (osh && out && struct_writes(&x, osh, out)) {
		open_tag(b, wrapper, 1);
		if (put_members(&x, osh, out, 2, 1) < 0)
			return -1;
		close_tag(b, wrapper, 1);
	} else {
		if (out && json_object_size(out) > 0 && log_get_level() >= LOG_LVL_DEBUG) {
			if (osh)
				note_unknown(&x, osh, out);
			else
				log_debug(request_id, "%s has no output shape: result members ignored", o->name);
		}
		empty_tag(b, wrapper, 1);
	}

	buf_puts(b, "\n  <ResponseMetadata>\n    <RequestId>");
	if (request_id)
		put_text(b, request_id, strlen(request_id));
	buf_puts(b, "</RequestId>\n  </ResponseMetadata>\n</");
	buf_puts(b, o->name);
	buf_puts(b, "Response>\n");
	if (b->failed)
		return emu_err_set(err, ERR_INTERNAL, "Result of %s does not fit the response buffer", o->name);
	return 0;
}
