/* Unit tests for emu/password.c and sm_get_random_password: options,
 * lengths, required types, exclusions, errors, distribution sanity. */
#include "emu/password.h"
#include "emu/secrets.h"
#include "tests/unit/tap.h"

#include <ctype.h>
#include <string.h>

static bool only_from(const char *pw, const char *set)
{
	for (const char *p = pw; *p; p++)
		if (!strchr(set, *p))
			return false;
	return true;
}

static bool has_any(const char *pw, int (*cls)(int))
{
	for (const char *p = pw; *p; p++)
		if (cls((unsigned char)*p))
			return true;
	return false;
}

static int is_punct_(int c) { return c && strchr(PASSWORD_PUNCTUATION, c) != NULL; }

int main(void)
{
	struct password_opts o;
	struct emu_err err;
	char pw[PASSWORD_MAX + 1];
	const char *all = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789" PASSWORD_PUNCTUATION;

	password_opts_default(&o);
	ok(password_generate(&o, pw, &err) == 0, "default options generate");
	is_int(strlen(pw), 32, "default length is 32");
	ok(only_from(pw, all), "default set: letters, digits, punctuation, no space");
	ok(has_any(pw, isupper) && has_any(pw, islower) && has_any(pw, isdigit) && has_any(pw, is_punct_),
	   "each type present by default");

	int each = 1;
	for (int i = 0; i < 2000 && each; i++) {
		o.length = 4;
		each = password_generate(&o, pw, &err) == 0 && strlen(pw) == 4 && has_any(pw, isupper) &&
		       has_any(pw, islower) && has_any(pw, isdigit) && has_any(pw, is_punct_);
	}
	ok(each, "length 4 always holds one of each of the 4 types (2000 runs)");

	o.length = 3;
	ok(password_generate(&o, pw, &err) < 0 && err.code == ERR_SM_INVALID_PARAMETER, "length 3 < 4 required types");
	is_str(err.msg, "Password length is too short based on the required types.", "too-short message");
	o.require_each = false;
	o.length = 1;
	ok(password_generate(&o, pw, &err) == 0 && strlen(pw) == 1, "length 1 without RequireEachIncludedType");

	password_opts_default(&o);
	o.length = 4096;
	ok(password_generate(&o, pw, &err) == 0 && strlen(pw) == 4096, "maximum length 4096");
	o.length = 4097;
	ok(password_generate(&o, pw, &err) < 0 && err.code == ERR_VALIDATION, "4097 refused");

	password_opts_default(&o);
	o.exclude_numbers = o.exclude_punctuation = true;
	o.length = 200;
	ok(password_generate(&o, pw, &err) == 0 && !has_any(pw, isdigit) && !has_any(pw, is_punct_),
	   "ExcludeNumbers + ExcludePunctuation");
	o.exclude_numbers = o.exclude_punctuation = false;
	o.exclude_uppercase = o.exclude_lowercase = true;
	ok(password_generate(&o, pw, &err) == 0 && !has_any(pw, isalpha), "ExcludeUppercase + ExcludeLowercase");

	password_opts_default(&o);
	o.length = 500;
	o.exclude = "abcdefABCDEF012345!\"#$%&'()*";
	ok(password_generate(&o, pw, &err) == 0 && strpbrk(pw, o.exclude) == NULL, "ExcludeCharacters honoured");

	password_opts_default(&o);
	o.length = 400;
	o.include_space = true;
	ok(password_generate(&o, pw, &err) == 0 && strchr(pw, ' ') != NULL, "IncludeSpace adds spaces (400 chars)");
	o.include_space = false;
	ok(password_generate(&o, pw, &err) == 0 && strchr(pw, ' ') == NULL, "no space by default");

	password_opts_default(&o);
	o.exclude_uppercase = o.exclude_lowercase = o.exclude_numbers = o.exclude_punctuation = true;
	ok(password_generate(&o, pw, &err) < 0 && err.code == ERR_SM_INVALID_PARAMETER, "nothing left to draw from");
	o.include_space = true;
	o.length = 5;
	ok(password_generate(&o, pw, &err) == 0 && strcmp(pw, "     ") == 0, "only spaces when only space is left");

	/* Types reduced to one character each: rejection rarely succeeds, the
	 * fallback must still plant one of each. */
	password_opts_default(&o);
	o.length = 4;
	o.exclude = "BCDEFGHIJKLMNOPQRSTUVWXYZ123456789\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
	int planted = 1;
	for (int i = 0; i < 50 && planted; i++)
		planted = password_generate(&o, pw, &err) == 0 && strchr(pw, 'A') && strchr(pw, '0') && strchr(pw, '!') &&
		          has_any(pw, islower);
	ok(planted, "skewed sets: every required type present (fallback path)");

	/* Distribution: digits only, 100000 draws, chi-square with 9 degrees of
	 * freedom; 40 is far beyond the 99.99th percentile (~33.7). */
	password_opts_default(&o);
	o.exclude_uppercase = o.exclude_lowercase = o.exclude_punctuation = true;
	o.length = 4000;
	long counts[10] = {0}, total = 0;
	for (int r = 0; r < 25; r++) {
		if (password_generate(&o, pw, &err) < 0)
			break;
		for (const char *p = pw; *p; p++, total++)
			counts[*p - '0']++;
	}
	double chi = 0, expect = (double)total / 10.0;
	for (int i = 0; i < 10; i++)
		chi += ((double)counts[i] - expect) * ((double)counts[i] - expect) / expect;
	ok(total == 100000 && chi < 40.0, "digits are uniform (chi-square %.2f over %ld draws)", chi, total);

	/* Through the operation. */
	struct emu_call call = {.account = "123456789012", .region = "us-east-1"};
	json_t *out = NULL;
	json_t *in = json_pack("{s:i, s:b, s:s}", "PasswordLength", 20, "ExcludePunctuation", 1, "ExcludeCharacters", "xyz");
	ok(sm_get_random_password(&call, in, &out, &err) == 0, "GetRandomPassword");
	const char *rp = json_string_value(json_object_get(out, "RandomPassword"));
	ok(rp && strlen(rp) == 20 && !has_any(rp, is_punct_) && !strpbrk(rp, "xyz"), "RandomPassword honours options");
	json_decref(in);
	json_decref(out);
	out = NULL;
	ok(sm_get_random_password(&call, NULL, &out, &err) == 0 &&
	       strlen(json_string_value(json_object_get(out, "RandomPassword"))) == 32,
	   "no input: 32 characters");
	json_decref(out);
	out = NULL;
	in = json_pack("{s:i}", "PasswordLength", 5000);
	ok(sm_get_random_password(&call, in, &out, &err) < 0 && err.code == ERR_VALIDATION, "PasswordLength 5000");
	is_str(err.msg,
	       "1 validation error detected: Value '5000' at 'passwordLength' failed to satisfy constraint: Member must "
	       "have value less than or equal to 4096",
	       "validation message as AWS");
	json_decref(in);
	in = json_pack("{s:s}", "PasswordLength", "12");
	ok(sm_get_random_password(&call, in, &out, &err) < 0 && err.code == ERR_SERIALIZATION, "wrong type refused");
	json_decref(in);
	in = json_pack("{s:i}", "PasswordLength", 2);
	ok(sm_get_random_password(&call, in, &out, &err) < 0 && err.code == ERR_SM_INVALID_PARAMETER,
	   "2 characters cannot hold the 4 required types");
	json_decref(in);
	in = json_array();
	ok(sm_get_random_password(&call, in, &out, &err) < 0, "non-object input refused");
	json_decref(in);
	return done_testing();
}
