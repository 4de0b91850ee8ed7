/* Unit tests for emu/util.c: base64 through OpenSSL, hex digits, ids. */
#include "emu/util.h"
#include "tests/unit/tap.h"

#include <openssl/crypto.h>
#include <stdlib.h>

static void dec(const char *in, const char *want)
{
	unsigned char *out = NULL;
	size_t n = 0;
	bool okd = util_b64_decode(in, strlen(in), &out, &n);
	if (!want) {
		ok(!okd, "base64 '%s' refused", in);
	} else {
		ok(okd && n == strlen(want) && memcmp(out, want, n) == 0, "base64 '%s' -> '%s'", in, want);
	}
	free(out);
}

int main(void)
{
	dec("", "");
	dec("Zg==", "f");
	dec("Zg", "f");
	dec("Zm8=", "fo");
	dec("Zm8", "fo");
	dec("Zm9v", "foo");
	dec("Zm9vYmFy", "foobar");
	dec("Zg=", NULL);
	dec("Z", NULL);
	dec("Zm9v!", NULL);
	dec("Zg==Zg==", NULL);
	dec("Zm9v\n", NULL);
	dec("====", NULL);
	is_int(util_hexval('a'), 10, "hex a");
	is_int(util_hexval('F'), 15, "hex F");
	is_int(util_hexval('g'), -1, "hex g refused");
	char a[37], b[37];
	util_request_id(a);
	util_request_id(b);
	ok(strlen(a) == 36 && a[14] == '4' && strcmp(a, b) != 0, "request ids are UUID-shaped and distinct");
	return done_testing();
}
