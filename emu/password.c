/*
 * password.c owns GetRandomPassword's generator (aws-behaviour.md 5.6).
 * Pure apart from the CSPRNG: it may call util (util_random_below) and err.
 * Invariants: every character is drawn uniformly from the allowed set;
 * with require_each, the result is uniform over the passwords that contain
 * each required type (rejection sampling), with a bounded fallback that
 * plants one character of each type at random positions.
 */
#include "emu/password.h"

#include "emu/util.h"

#include <openssl/crypto.h>
#include <string.h>

#define REJECTION_TRIES 1000

enum { T_UPPER, T_LOWER, T_DIGIT, T_PUNCT, T_COUNT };

struct charsets {
	char set[T_COUNT][40]; /* each type after exclusions */
	size_t len[T_COUNT];
	char all[128]; /* union (plus space) */
	size_t nall;
};

void password_opts_default(struct password_opts *o)
{
	memset(o, 0, sizeof *o);
	o->length = PASSWORD_DEFAULT_LEN;
	o->require_each = true;
}

static void build(const struct password_opts *o, struct charsets *cs)
{
	static const char *const base[T_COUNT] = {"ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz", "0123456789",
	                                          PASSWORD_PUNCTUATION};
	const bool off[T_COUNT] = {o->exclude_uppercase, o->exclude_lowercase, o->exclude_numbers,
	                           o->exclude_punctuation};
	memset(cs, 0, sizeof *cs);
	for (int t = 0; t < T_COUNT; t++) {
		if (off[t])
			continue;
		for (const char *p = base[t]; *p; p++) {
			if (o->exclude && strchr(o->exclude, *p))
				continue;
			cs->set[t][cs->len[t]++] = *p;
			cs->all[cs->nall++] = *p;
		}
	}
	if (o->include_space && !(o->exclude && strchr(o->exclude, ' ')))
		cs->all[cs->nall++] = ' ';
}

static bool has_each(const struct charsets *cs, const char *pw, size_t n)
{
	for (int t = 0; t < T_COUNT; t++) {
		if (!cs->len[t])
			continue;
		bool found = false;
		for (size_t i = 0; i < n && !found; i++)
			found = memchr(cs->set[t], pw[i], cs->len[t]) != NULL;
		if (!found)
			return false;
	}
	return true;
}

static void fill(const struct charsets *cs, char *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = cs->all[util_random_below((uint32_t)cs->nall)];
	out[n] = '\0';
}

int password_generate(const struct password_opts *o, char *out, struct emu_err *err)
{
	size_t n = o->length ? o->length : PASSWORD_DEFAULT_LEN;
	if (n > PASSWORD_MAX)
		return emu_err_set(err, ERR_VALIDATION,
		                   "1 validation error detected: Value '%zu' at 'passwordLength' failed to satisfy "
		                   "constraint: Member must have value less than or equal to 4096",
		                   n);
	struct charsets cs;
	build(o, &cs);
	if (cs.nall == 0)
		/* [?] text */
		return emu_err_set(err, ERR_SM_INVALID_PARAMETER,
		                   "The exclusions leave no characters to generate a password from.");
	/* Space is not a "type": RequireEachIncludedType asks for upper case,
	 * lower case, digits and punctuation, each only if included. */
	size_t required = 0;
	for (int t = 0; t < T_COUNT; t++)
		required += o->require_each && cs.len[t] > 0;
	if (n < required)
		return emu_err_set(err, ERR_SM_INVALID_PARAMETER, "Password length is too short based on the required types.");
	for (int i = 0; i < REJECTION_TRIES; i++) {
		fill(&cs, out, n);
		if (!o->require_each || has_each(&cs, out, n))
			return 0;
	}
	/* Rare (short passwords over skewed sets): plant one of each type. */
	unsigned short idx[PASSWORD_MAX];
	for (size_t i = 0; i < n; i++)
		idx[i] = (unsigned short)i;
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = util_random_below((uint32_t)(i + 1));
		unsigned short tmp = idx[i];
		idx[i] = idx[j];
		idx[j] = tmp;
	}
	size_t k = 0;
	for (int t = 0; t < T_COUNT; t++)
		if (cs.len[t])
			out[idx[k++]] = cs.set[t][util_random_below((uint32_t)cs.len[t])];
	OPENSSL_cleanse(&cs, sizeof cs);
	return 0;
}
