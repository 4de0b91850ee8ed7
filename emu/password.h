/*
 * GetRandomPassword, pure: the option set of the Secrets Manager API and a
 * generator drawing every character uniformly with util_random_below.
 */
#ifndef EMU_PASSWORD_H
#define EMU_PASSWORD_H

#include "emu/err.h"

#include <stdbool.h>
#include <stddef.h>

#define PASSWORD_MAX 4096
#define PASSWORD_DEFAULT_LEN 32
/* The punctuation set Secrets Manager draws from. */
#define PASSWORD_PUNCTUATION "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"

struct password_opts {
	size_t length;           /* 1..4096 (PASSWORD_DEFAULT_LEN when 0) */
	const char *exclude;     /* characters never used (NULL = none) */
	bool exclude_numbers, exclude_punctuation, exclude_uppercase, exclude_lowercase;
	bool include_space;
	bool require_each;       /* at least one character of each included type */
};

/* Default options: length 32, every type, no space, require each type. */
void password_opts_default(struct password_opts *o);
/* Writes o->length characters and a NUL into out (PASSWORD_MAX + 1 bytes).
 * InvalidParameterException when no character is left to draw from or
 * the length cannot hold one of each required type. */
int password_generate(const struct password_opts *o, char *out, struct emu_err *err);

#endif
