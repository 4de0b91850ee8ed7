/*
 * iam_pattern.c owns the strings of IAM policies that match request values:
 * Action, Resource, Principal-free condition values.  It compiles a string
 * once into one of five shapes (any, exact, prefix, glob units, tokens with
 * policy variables) and matches subjects against it.
 *
 * May call: libc, iam_ev_resolve (iam_policy_eval.c) for policy variables.
 * Nothing else; no allocation at match time (expansion uses the stack).
 *
 * Invariants:
 * - Matching is bounded: the glob walk keeps one backtrack point (the last
 *   '*'), so it costs at most len(pattern) x len(subject) steps, and both are
 *   capped (IAM_EXPAND_MAX units after expansion; the caller's strings).
 *   Consecutive '*' are merged at compile time.
 * - A literal '*', '?' or '$' written as ${*}, ${?}, ${$} is a literal unit,
 *   never a wildcard; so is any byte of a variable's value.
 * - ARN mode splits pattern and subject at their first five ':' and matches
 *   the six parts separately ('*' does not cross a ':' before the resource
 *   part); a pattern with fewer than six parts is matched as a whole.
 */
#include "api/iam_policy_int.h"

#include <string.h>

/* ---- compile ---- */

/* Recognises ${...} at s[i] (s[i] == '$', s[i+1] == '{').  Returns the
 * length consumed (0 = not a variable: the '$' is literal) and fills tok:
 * TEXT for ${*} ${?} ${$}, VAR otherwise. */
static size_t var_at(const char *s, size_t len, size_t i, struct iam_tok *out)
{
	struct iam_tok t, *tok = &t;
	size_t j = i + 2, end = j;
	while (end < len && s[end] != '}')
		end++;
	if (end >= len || end == j)
		return 0;
	size_t n = end - j;
	memset(tok, 0, sizeof *tok);
	if (n == 1 && (s[j] == '*' || s[j] == '?' || s[j] == '$')) {
		tok->type = IAM_TOK_TEXT;
		tok->s = s[j] == '*' ? "*" : s[j] == '?' ? "?" : "$";
		tok->len = 1;
		*out = t;
		return end + 1 - i;
	}
	/* key [, 'default'] with optional spaces */
	size_t k = j;
	while (k < end && s[k] == ' ')
		k++;
	size_t ks = k;
	while (k < end && s[k] != ',' && s[k] != ' ')
		k++;
	size_t ke = k;
	while (k < end && s[k] == ' ')
		k++;
	if (ke == ks)
		return 0;
	tok->type = IAM_TOK_VAR;
	tok->key.name = s + ks;
	tok->key.len = (uint32_t)(ke - ks);
	if (k < end) {
		if (s[k] != ',')
			return 0;
		k++;
		while (k < end && s[k] == ' ')
			k++;
		if (k >= end || s[k] != '\'')
			return 0;
		size_t ds = ++k;
		while (k < end && s[k] != '\'')
			k++;
		if (k >= end)
			return 0;
		tok->has_def = true;
		tok->def = s + ds;
		tok->dlen = (uint32_t)(k - ds);
		k++;
		while (k < end && s[k] == ' ')
			k++;
		if (k != end)
			return 0;
	}
	*out = t;
	return end + 1 - i;
}

/* One tokenizer for both passes: with out == NULL it only counts. */
static uint32_t tokenize(const char *s, size_t len, unsigned flags, struct iam_tok *out)
{
	uint32_t n = 0;
	size_t i = 0;
	while (i < len) {
		struct iam_tok t;
		memset(&t, 0, sizeof t);
		size_t used = 1;
		if ((flags & IAM_PC_VARS) && s[i] == '$' && i + 1 < len && s[i + 1] == '{' &&
		    (used = var_at(s, len, i, &t)) > 0) {
			/* t filled */
		} else if ((flags & IAM_PC_WILD) && s[i] == '*') {
			used = 1;
			t.type = IAM_TOK_STAR;
		} else if ((flags & IAM_PC_WILD) && s[i] == '?') {
			used = 1;
			t.type = IAM_TOK_ONE;
		} else {
			/* a run of plain bytes */
			size_t j = i + 1;
			while (j < len && !((flags & IAM_PC_WILD) && (s[j] == '*' || s[j] == '?')) &&
			       !((flags & IAM_PC_VARS) && s[j] == '$'))
				j++;
			used = j - i;
			t.type = IAM_TOK_TEXT;
			t.s = s + i;
			t.len = (uint32_t)used;
		}
		if (out) {
			if (t.type == IAM_TOK_VAR)
				iam_key_init(&t.key, t.key.name, t.key.len);
			out[n] = t;
		}
		n++;
		i += used;
	}
	return n;
}

void iam_pattern_compile(struct iam_arena *a, const char *src, size_t len, unsigned flags, struct iam_pat *out)
{
	memset(out, 0, sizeof *out);
	const char *s = iam_arena_strndup(a, src, len);
	uint32_t ntok = tokenize(s, len, flags, NULL);
	struct iam_tok *tok = iam_arena_alloc(a, (ntok ? ntok : 1) * sizeof *tok);
	tokenize(s, len, flags, tok);
	bool vars = false;
	size_t units = 0;
	for (uint32_t i = 0; i < ntok; i++) {
		vars |= tok[i].type == IAM_TOK_VAR;
		units += tok[i].type == IAM_TOK_TEXT ? tok[i].len : 1;
	}
	if (vars) {
		out->kind = IAM_PAT_VARS;
		out->tok = tok;
		out->ntok = ntok;
		return;
	}
	uint16_t *u = iam_arena_alloc(a, (units ? units : 1) * sizeof *u);
	uint32_t nu = 0, nwild = 0;
	for (uint32_t i = 0; i < ntok; i++) {
		if (tok[i].type == IAM_TOK_TEXT) {
			for (uint32_t j = 0; j < tok[i].len; j++)
				u[nu++] = (uint8_t)tok[i].s[j];
		} else if (tok[i].type == IAM_TOK_STAR) {
			if (nu > 0 && u[nu - 1] == IAM_U_STAR)
				continue;
			u[nu++] = IAM_U_STAR;
			nwild++;
		} else {
			u[nu++] = IAM_U_ONE;
			nwild++;
		}
	}
	if (nu == 1 && u[0] == IAM_U_STAR) {
		out->kind = IAM_PAT_ANY;
		return;
	}
	if (nwild == 0 || (nwild == 1 && u[nu - 1] == IAM_U_STAR)) {
		uint32_t tl = nwild ? nu - 1 : nu;
		char *text = iam_arena_alloc(a, (size_t)tl + 1);
		for (uint32_t i = 0; i < tl; i++)
			text[i] = (char)u[i];
		out->kind = nwild ? IAM_PAT_PREFIX : IAM_PAT_EXACT;
		out->text = text;
		out->len = tl;
		return;
	}
	out->kind = IAM_PAT_GLOB;
	out->u = u;
	out->nu = nu;
}

/* ---- match ---- */

static inline unsigned char fold(unsigned char c) { return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c; }

static bool eq_bytes(const char *a, const char *b, size_t n, bool icase)
{
	if (!icase)
		return memcmp(a, b, n) == 0;
	for (size_t i = 0; i < n; i++)
		if (fold((unsigned char)a[i]) != fold((unsigned char)b[i]))
			return false;
	return true;
}

/* Wildcard match of units p[0..m) against s[0..n) with one backtrack point. */
static bool glob(const uint16_t *p, size_t m, const char *s, size_t n, bool icase)
{
	size_t i = 0, j = 0, star = SIZE_MAX, mark = 0;
	while (j < n) {
		if (i < m && p[i] != IAM_U_STAR &&
		    (p[i] == IAM_U_ONE || (icase ? fold((unsigned char)p[i]) == fold((unsigned char)s[j])
		                                 : p[i] == (unsigned char)s[j]))) {
			i++;
			j++;
		} else if (i < m && p[i] == IAM_U_STAR) {
			star = i++;
			mark = j;
		} else if (star != SIZE_MAX) {
			i = star + 1;
			j = ++mark;
		} else {
			return false;
		}
	}
	while (i < m && p[i] == IAM_U_STAR)
		i++;
	return i == m;
}

static bool units_match(const uint16_t *p, size_t m, const char *s, size_t n, unsigned mode)
{
	bool icase = mode & IAM_PM_ICASE;
	if (!(mode & IAM_PM_ARN))
		return glob(p, m, s, n, icase);
	size_t pc[6], sc[6];
	int np = 1, ns = 1;
	pc[0] = 0;
	for (size_t i = 0; i < m && np < 6; i++)
		if (p[i] == ':')
			pc[np++] = i + 1;
	if (np < 6)
		return glob(p, m, s, n, icase);
	sc[0] = 0;
	for (size_t i = 0; i < n && ns < 6; i++)
		if (s[i] == ':')
			sc[ns++] = i + 1;
	if (ns < 6)
		return false;
	for (int k = 0; k < 6; k++) {
		size_t pe = k < 5 ? pc[k + 1] - 1 : m, se = k < 5 ? sc[k + 1] - 1 : n;
		if (!glob(p + pc[k], pe - pc[k], s + sc[k], se - sc[k], icase))
			return false;
	}
	return true;
}

static bool put_bytes(uint16_t *u, size_t *nu, const char *s, size_t n)
{
	if (n > IAM_EXPAND_MAX - *nu)
		return false;
	for (size_t i = 0; i < n; i++)
		u[(*nu)++] = (uint8_t)s[i];
	return true;
}

/* Expands a VARS pattern into units; false when a variable cannot be
 * resolved or the result is too long. */
static bool expand(const struct iam_pat *p, const struct iam_ev *ev, uint16_t *u, size_t *nu)
{
	*nu = 0;
	for (uint32_t i = 0; i < p->ntok; i++) {
		const struct iam_tok *t = &p->tok[i];
		switch (t->type) {
		case IAM_TOK_TEXT:
			if (!put_bytes(u, nu, t->s, t->len))
				return false;
			break;
		case IAM_TOK_STAR:
		case IAM_TOK_ONE:
			if (*nu >= IAM_EXPAND_MAX)
				return false;
			if (t->type == IAM_TOK_STAR && *nu > 0 && u[*nu - 1] == IAM_U_STAR)
				break;
			u[(*nu)++] = t->type == IAM_TOK_STAR ? IAM_U_STAR : IAM_U_ONE;
			break;
		default: {
			struct iam_vals v;
			if (iam_ev_resolve(ev, &t->key, &v) && v.n == 1) {
				size_t vl = strnlen(v.v[0], IAM_VALUE_MAX + 1);
				if (vl > IAM_VALUE_MAX || !put_bytes(u, nu, v.v[0], vl))
					return false;
			} else if (t->has_def) {
				if (!put_bytes(u, nu, t->def, t->dlen))
					return false;
			} else {
				return false;
			}
			break;
		}
		}
	}
	return true;
}

bool iam_pattern_match(const struct iam_pat *p, const char *s, size_t n, unsigned mode, const struct iam_ev *ev)
{
	bool icase = mode & IAM_PM_ICASE;
	switch (p->kind) {
	case IAM_PAT_ANY:
		return true;
	case IAM_PAT_EXACT:
		return n == p->len && eq_bytes(p->text, s, n, icase);
	case IAM_PAT_PREFIX:
		return n >= p->len && eq_bytes(p->text, s, p->len, icase);
	case IAM_PAT_GLOB:
		return units_match(p->u, p->nu, s, n, mode);
	default: {
		uint16_t u[IAM_EXPAND_MAX];
		size_t nu;
		if (!expand(p, ev, u, &nu))
			return false;
		return units_match(u, nu, s, n, mode);
	}
	}
}
