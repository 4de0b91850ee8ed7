/*
 * Fuzz harness for wire/pinning: the input is classified as a simple Query
 * and as a Parse (unnamed, then named by its first bytes), and every
 * reason's text is written with it as the digest's SQL, into a full and a
 * short buffer.  It must never crash, leak or read out of bounds (the input
 * is copied to a buffer of exactly its size), and:
 * - classification is deterministic, and a Parse with a name always pins;
 * - a text over PIN_MAX_QUERY bytes pins as PIN_TOO_LONG, and PIN_TOO_LONG
 *   is never given for a shorter one;
 * - every reason text is below PIN_TEXT_MAX, NUL-terminated, made of
 *   printable ASCII and UTF-8 bytes only, and the short buffer holds its
 *   prefix.
 * Seeds: fixtures/fuzz/pinning.
 */
#include "wire/pinning.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_text(enum pin_reason r, const char *sql, size_t len)
{
	char full[PIN_TEXT_MAX], small[17];
	size_t n = pin_reason_text(r, sql, len, full, sizeof full);
	if (n >= PIN_TEXT_MAX || strlen(full) != n || (r == PIN_NONE || r == PIN_REASON_COUNT) != (n == 0))
		abort();
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)full[i];
		if (c < 0x20 || c == 0x7f)
			abort();
	}
	if (pin_reason_text(r, sql, len, small, sizeof small) != n || strncmp(small, full, sizeof small - 1) != 0 ||
	    strlen(small) != (n < sizeof small ? n : sizeof small - 1))
		abort();
	if (pin_reason_text(r, sql, len, NULL, 0) != n)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *sql = malloc(size ? size : 1);
	if (!sql)
		return 0;
	memcpy(sql, data, size);

	enum pin_reason q = pin_classify_query(sql, size);
	if (q != pin_classify_query(sql, size) || q >= PIN_REASON_COUNT || q == PIN_NAMED_PARSE)
		abort();
	if ((size > PIN_MAX_QUERY) != (q == PIN_TOO_LONG))
		abort();
	if (pin_classify_parse(NULL, sql, size) != q || pin_classify_parse("", sql, size) != q)
		abort();

	/* A name made of the first bytes (up to the first NUL). */
	char name[9];
	size_t nn = 0;
	while (nn < size && nn < sizeof name - 1 && data[nn])
		nn++;
	memcpy(name, data, nn);
	name[nn] = '\0';
	enum pin_reason p = pin_classify_parse(name, sql, size);
	if (nn > 0 ? p != PIN_NAMED_PARSE : p != q)
		abort();

	/* Prefixes classify without reading past their end. */
	(void)pin_classify_query(sql, size / 2);

	for (int r = 0; r <= PIN_REASON_COUNT; r++)
		check_text((enum pin_reason)r, sql, size);
	free(sql);
	return 0;
}
