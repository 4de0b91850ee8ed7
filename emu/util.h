/*
 * Small helpers shared by every layer: randomness (OpenSSL's CSPRNG),
 * identifiers, hex, digests, string checks.
 */
#ifndef EMU_UTIL_H
#define EMU_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Fills p with n random bytes; aborts if the CSPRNG fails (cannot continue). */
void util_random(void *p, size_t n);
/* Uniform integer in [0, bound). */
uint32_t util_random_below(uint32_t bound);
/* Random UUIDv4, lower-case, 36 chars + NUL. */
void util_uuid(char out[37]);
/* A unique (not secret) id in UUID form: a random per-process base plus a
 * counter, so it costs no CSPRNG call.  For request ids on the hot path. */
void util_request_id(char out[37]);
/* n characters from alphabet (uniform), NUL-terminated; out has n+1 bytes. */
void util_random_from(char *out, size_t n, const char *alphabet);
void util_hex(const void *p, size_t n, char *out /* 2n+1 */);
/* sha256 of data as 64 lower-case hex + NUL. */
void util_sha256_hex(const void *p, size_t n, char out[65]);
bool util_streq_ct(const char *a, const char *b);
bool util_has_prefix(const char *s, const char *prefix);
bool util_has_suffix(const char *s, const char *suffix);
/* Value of a hex digit, or -1. */
int util_hexval(int c);
/* Value of a standard-alphabet base64 digit, or -1 ('=' is not a digit). */
int util_b64_digit(int c);
/* Strict base64 decode through OpenSSL: standard alphabet, padding optional
 * but never misplaced.  *out is malloc'd (free with OPENSSL_clear_free when
 * it holds a secret).  False on any invalid input. */
bool util_b64_decode(const char *s, size_t len, unsigned char **out, size_t *outlen);
/* strdup that aborts on OOM. */
char *util_strdup(const char *s);
/* rm -rf path (files, directories, symlinks not followed); errors ignored. */
void util_remove_tree(const char *path);
char *util_strndup(const char *s, size_t n);
void *util_xcalloc(size_t n, size_t sz);

#endif
