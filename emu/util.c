/*
 * util.c: randomness, ids and digests via OpenSSL; string helpers.
 */
#include "emu/util.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void util_random(void *p, size_t n)
{
	if (n && RAND_bytes(p, (int)n) != 1) {
		fputs("rdsemu: CSPRNG failure\n", stderr);
		abort();
	}
}

uint32_t util_random_below(uint32_t bound)
{
	if (bound < 2)
		return 0;
	uint32_t lim = UINT32_MAX - UINT32_MAX % bound, v;
	do
		util_random(&v, sizeof v);
	while (v >= lim);
	return v % bound;
}

void util_uuid(char out[37])
{
	unsigned char b[16];
	util_random(b, sizeof b);
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
	         b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

void util_request_id(char out[37])
{
	static unsigned char base[16];
	static uint64_t counter;
	if (counter == 0)
		util_random(base, sizeof base);
	counter++;
	unsigned char b[16];
	memcpy(b, base, sizeof b);
	for (int i = 0; i < 8; i++)
		b[15 - i] ^= (unsigned char)(counter >> (8 * i));
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
	         b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

void util_random_from(char *out, size_t n, const char *alphabet)
{
	uint32_t k = (uint32_t)strlen(alphabet);
	for (size_t i = 0; i < n; i++)
		out[i] = alphabet[util_random_below(k)];
	out[n] = '\0';
}

void util_hex(const void *p, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hx[b[i] >> 4];
		out[2 * i + 1] = hx[b[i] & 15];
	}
	out[2 * n] = '\0';
}

void util_sha256_hex(const void *p, size_t n, char out[65])
{
	unsigned char md[32];
	unsigned int len = 0;
	EVP_Digest(p, n, md, &len, EVP_sha256(), NULL);
	util_hex(md, 32, out);
}

bool util_streq_ct(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la != lb)
		return false;
	return CRYPTO_memcmp(a, b, la) == 0;
}

bool util_has_prefix(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

bool util_has_suffix(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

int util_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int util_b64_digit(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

bool util_b64_decode(const char *s, size_t len, unsigned char **out, size_t *outlen)
{
	size_t n = len, pads = 0;
	while (n > 0 && s[n - 1] == '=' && pads < 2) {
		n--;
		pads++;
	}
	if (n % 4 == 1 || (pads && (n + pads) % 4 != 0) || n > (size_t)INT32_MAX / 2)
		return false;
	for (size_t i = 0; i < n; i++)
		if (util_b64_digit((unsigned char)s[i]) < 0)
			return false;
	/* EVP_DecodeBlock wants whole quanta: re-pad an unpadded tail. */
	size_t padded = (n + 3) / 4 * 4;
	char *in = util_xcalloc(padded + 1, 1);
	memcpy(in, s, n);
	memset(in + n, '=', padded - n);
	unsigned char *d = util_xcalloc(padded / 4 * 3 + 1, 1);
	int got = padded ? EVP_DecodeBlock(d, (const unsigned char *)in, (int)padded) : 0;
	OPENSSL_clear_free(in, padded + 1);
	if (got < 0) {
		OPENSSL_clear_free(d, padded / 4 * 3 + 1);
		return false;
	}
	*out = d;
	*outlen = (size_t)got - (padded - n); /* EVP_DecodeBlock counts pad bytes as zeros */
	return true;
}

char *util_strdup(const char *s)
{
	char *d = strdup(s ? s : "");
	if (!d)
		abort();
	return d;
}

char *util_strndup(const char *s, size_t n)
{
	char *d = strndup(s, n);
	if (!d)
		abort();
	return d;
}

void *util_xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz ? sz : 1);
	if (!p)
		abort();
	return p;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	remove(path);
	return 0;
}

void util_remove_tree(const char *path)
{
	nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}
