/*
 * Fuzz harness for api/sigv4: the input is a raw HTTP-ish request, run
 * through parse, scope and time checks, every signing stage, verify (with
 * the key of the test vectors' secret, so valid seeds verify) and, for
 * presigned inputs, presigning again.  It must never crash, leak or read
 * out of bounds.
 *
 * Input format (lines end with '\n'):
 *   line 1   "<METHOD> <raw path>"          (no space: the whole line is the method, path "/")
 *   line 2   raw query string               (may be empty)
 *   line 3   host override for tokens       (empty = use the Host header)
 *   then     "Name: value" header lines, up to an empty line
 *   the rest is the body.
 * scripts/gen_sigv4_vectors.py writes the seed corpus in fixtures/fuzz/sigv4.
 */
#include "api/sigv4.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define MAX_FUZZ_HEADERS 80

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Next line of s (up to '\n' or the end), NUL-terminated in place. */
static char *line(char **s, char *end)
{
	if (*s >= end)
		return NULL;
	char *l = *s, *nl = memchr(l, '\n', (size_t)(end - l));
	if (nl) {
		*nl = '\0';
		*s = nl + 1;
	} else {
		*s = end;
	}
	return l;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	char *p = copy, *end = copy + size;

	char *first = line(&p, end);
	char *query = line(&p, end);
	char *host = line(&p, end);
	const char *method = first ? first : "GET", *path = "/";
	char *sp = first ? strchr(first, ' ') : NULL;
	if (sp) {
		*sp = '\0';
		path = sp + 1;
	}
	struct sigv4_header h[MAX_FUZZ_HEADERS];
	size_t nh = 0;
	char *l;
	while ((l = line(&p, end)) && *l) {
		char *colon = strchr(l, ':');
		if (!colon || nh == MAX_FUZZ_HEADERS)
			continue;
		char *v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		h[nh++] = (struct sigv4_header){l, (size_t)(colon - l), v, strlen(v)};
	}
	struct sigv4_request req = {
		.method = method,
		.path = path,
		.query = query,
		.headers = h,
		.nheaders = nh,
		.body = p < end ? p : "",
		.body_len = p < end ? (size_t)(end - p) : 0,
		.host = host && *host ? host : NULL,
	};

	struct sigv4_auth a;
	struct emu_err e;
	if (sigv4_parse(&req, &a, &e) == 0) {
		(void)sigv4_check_scope(&a, "us-east-1", "secretsmanager", &e);
		(void)sigv4_check_time(&a, 1704067200.0, 300, &e);
		(void)sigv4_check_time(&a, (double)a.request_time + 1e6, 900, &e);
		struct buf cr, sts;
		buf_init(&cr, SIGV4_MAX_CANONICAL);
		buf_init(&sts, 0);
		if (sigv4_canonical_request(&req, &a, &cr) == 0 && sigv4_string_to_sign(&a, cr.data, cr.len, &sts) == 0) {
			unsigned char key[32];
			char sig[65];
			sigv4_signing_key(SECRET, a.date, a.region, a.service, key);
			sigv4_signature(key, sts.data, sts.len, sig);
			(void)sigv4_verify(&req, &a, key, &e);
		}
		buf_free(&cr);
		buf_free(&sts);
		if (a.presigned) {
			struct sigv4_param prm[] = {{"Action", "connect"}, {"DBUser", query ? query : ""}};
			struct sigv4_presign ps = {
				.method = method,
				.url_host = req.host ? req.host : "h",
				.path = path,
				.params = prm,
				.nparams = 2,
				.access_key_id = a.access_key_id,
				.secret = SECRET,
				.session_token = a.security_token,
				.region = a.region,
				.service = a.service,
				.when = a.request_time,
				.expires = a.expires < 0 ? 900 : a.expires,
			};
			struct buf out;
			buf_init(&out, 0);
			(void)sigv4_presign_url(&ps, &out, &e);
			buf_free(&out);
		}
		sigv4_auth_free(&a);
	}
	free(copy);
	return 0;
}
