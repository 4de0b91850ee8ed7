/*
 * Unit tests for KMS (emu/kms*.c) and the encryption of secret values at
 * rest (emu/secrets_enc.c) against an in-memory store: the sealing format,
 * the master key file (creation, mode, reuse, refusal of a wrong or missing
 * key), every KMS operation with its errors and texts, key identifiers in
 * all four forms, aliases, encryption context binding, blob tampering,
 * disabled and pending-deletion keys, the AWS managed aws/secretsmanager
 * key, and Secrets Manager's envelope encryption (no plaintext in the
 * database, DecryptionFailure / EncryptionFailure, the kms_check hook, key
 * changes, replicas, tampering).
 */
#include "api/api.h"
#include "emu/kms.h"
#include "emu/secrets.h"
#include "emu/store.h"
#include "emu/util.h"
#include "tests/unit/tap.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ACCT "123456789012"
#define OTHER "210987654321"
#define T0 1700000000.0
#define DAY 86400.0

static struct store *S;
static struct emu_call C;
static struct emu_err E;

static void at_as(const char *account, const char *region, double now)
{
	static char principal[64];
	snprintf(principal, sizeof principal, "arn:aws:iam::%s:root", account);
	C = (struct emu_call){.store = S, .account = account, .region = region, .principal_arn = principal,
	                      .user_id = account, .access_key_id = "test", .request_id = "req", .now = now};
}

static void at(const char *region, double now) { at_as(ACCT, region, now); }

static json_t *J(const char *fmt, ...)
{
	char buf[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	for (char *p = buf; *p; p++)
		if (*p == '\'')
			*p = '"';
	json_error_t je;
	json_t *j = json_loads(buf, 0, &je);
	if (!j)
		printf("# bad test JSON: %s: %s\n", buf, je.text);
	return j;
}

static json_t *run(api_json_fn fn, json_t *in)
{
	json_t *out = NULL;
	emu_err_clear(&E);
	int rc = fn(&C, in, &out, &E);
	json_decref(in);
	if (rc < 0) {
		if (out)
			printf("# output set on failure\n");
		return NULL;
	}
	return out ? out : json_object();
}

static json_t *ok_run(api_json_fn fn, json_t *in, const char *what)
{
	json_t *o = run(fn, in);
	ok(o != NULL, "%s", what);
	if (!o)
		printf("#   error %s: %s\n", emu_err_json_type(E.code), E.msg);
	return o;
}

static void err_run(api_json_fn fn, json_t *in, enum emu_err_code code, const char *msg, const char *what)
{
	json_t *o = run(fn, in);
	ok(!o && E.code == code, "%s -> %s", what, emu_err_json_type(code));
	if (o || E.code != code)
		printf("#   got %s: %s\n", o ? "success" : emu_err_json_type(E.code), o ? "" : E.msg);
	if (msg && !o)
		is_str(E.msg, msg, "%s: message", what);
	json_decref(o);
}

static const char *str(json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

/* A new customer key; its id is copied into id (40 bytes). */
static void new_key(const char *desc, char *id)
{
	json_t *o = run(kms_create_key, desc ? J("{'Description':'%s'}", desc) : J("{}"));
	snprintf(id, 40, "%s", o ? str(json_object_get(o, "KeyMetadata"), "KeyId") : "none");
	json_decref(o);
}

static void key_arn(const char *region, const char *account, const char *id, char *out, size_t n)
{
	snprintf(out, n, "arn:aws:kms:%s:%s:key/%s", region, account, id);
}

static char *b64(const char *s) /* short ASCII strings only */
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = strlen(s), o = 0;
	char *r = calloc((n + 2) / 3 * 4 + 1, 1);
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned char)s[i] << 16 | (i + 1 < n ? (unsigned char)s[i + 1] << 8 : 0) |
		             (i + 2 < n ? (unsigned char)s[i + 2] : 0);
		r[o++] = a[v >> 18 & 63];
		r[o++] = a[v >> 12 & 63];
		r[o++] = i + 1 < n ? a[v >> 6 & 63] : '=';
		r[o++] = i + 2 < n ? a[v & 63] : '=';
	}
	return r;
}

/* Encrypt(key, text, ctx JSON or NULL) -> CiphertextBlob (new string) or NULL. */
static char *enc(const char *key, const char *text, const char *ctx)
{
	char *p = b64(text);
	json_t *o = run(kms_encrypt, ctx ? J("{'KeyId':'%s','Plaintext':'%s','EncryptionContext':%s}", key, p, ctx)
	                                 : J("{'KeyId':'%s','Plaintext':'%s'}", key, p));
	free(p);
	char *r = o ? strdup(str(o, "CiphertextBlob")) : NULL;
	json_decref(o);
	return r;
}

/* Decrypt -> plaintext as a string (static) or NULL (E set). */
static const char *dec(const char *blob, const char *ctx)
{
	static char buf[256];
	json_t *o = run(kms_decrypt, ctx ? J("{'CiphertextBlob':'%s','EncryptionContext':%s}", blob, ctx)
	                                 : J("{'CiphertextBlob':'%s'}", blob));
	if (!o)
		return NULL;
	unsigned char *p;
	size_t n;
	const char *pt = str(o, "Plaintext");
	buf[0] = '\0';
	if (pt && util_b64_decode(pt, strlen(pt), &p, &n)) {
		snprintf(buf, sizeof buf, "%.*s", (int)n, (const char *)p);
		free(p);
	}
	json_decref(o);
	return buf;
}

/* ---- sealing format ---------------------------------------------------------------------- */

static void test_seal(void)
{
	unsigned char key[32], *ct, *pt;
	size_t cl, pl;
	memset(key, 7, sizeof key);
	ok(kms_seal(key, "aad", 3, "secret", 6, &ct, &cl) == 0 && cl == 6 + KMS_SEAL_OVERHEAD, "seal: nonce+ct+tag");
	ok(kms_open(key, "aad", 3, ct, cl, &pt, &pl) == 0 && pl == 6 && memcmp(pt, "secret", 6) == 0, "open round trip");
	OPENSSL_clear_free(pt, pl + 1);
	ok(kms_open(key, "aaX", 3, ct, cl, &pt, &pl) < 0 && !pt, "other AAD: refused");
	for (size_t i = 0; i < cl; i += 5) {
		ct[i] ^= 1;
		int rc = kms_open(key, "aad", 3, ct, cl, &pt, &pl);
		ct[i] ^= 1;
		if (rc == 0) {
			ok(0, "flipped byte %zu accepted", i);
			OPENSSL_clear_free(pt, pl + 1);
		}
	}
	ok(1, "every flipped byte refused");
	ok(kms_open(key, "aad", 3, ct, KMS_SEAL_OVERHEAD - 1, &pt, &pl) < 0, "too short: refused");
	key[0] ^= 1;
	ok(kms_open(key, "aad", 3, ct, cl, &pt, &pl) < 0, "other key: refused");
	free(ct);
	unsigned char *c2;
	size_t l2;
	ok(kms_seal(key, NULL, 0, "", 0, &c2, &l2) == 0 && l2 == KMS_SEAL_OVERHEAD && kms_open(key, NULL, 0, c2, l2, &pt, &pl) == 0 && pl == 0,
	   "empty plaintext, no AAD");
	OPENSSL_clear_free(pt, 1);
	free(c2);
}

/* ---- master key -------------------------------------------------------------------------------- */

static char dir1[64], dir2[64];

static void write_file(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd >= 0) {
		if (write(fd, p, n) != (ssize_t)n)
			printf("# short write\n");
		close(fd);
	}
}

static void test_master_key(void)
{
	char path[128];
	struct stat sb;
	struct emu_err err;
	snprintf(dir1, sizeof dir1, "/tmp/rdsemu-kms-XXXXXX");
	snprintf(dir2, sizeof dir2, "/tmp/rdsemu-kms-XXXXXX");
	if (!mkdtemp(dir1) || !mkdtemp(dir2)) {
		ok(0, "mkdtemp");
		return;
	}
	ok(kms_init(S, dir1, &err) == 0, "kms_init creates a master key in an empty state dir");
	snprintf(path, sizeof path, "%s/master.key", dir1);
	ok(stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size == 32 && (sb.st_mode & 0777) == 0600,
	   "master.key: regular, 32 bytes, mode 0600");

	at("us-east-1", T0);
	char id[40];
	new_key("k", id);
	char *blob = enc(id, "hello", NULL);
	ok(blob != NULL, "encrypt under the first master key");
	ok(kms_init(S, dir1, &err) == 0, "kms_init again reads the same file");
	const char *pt = dec(blob, NULL);
	is_str(pt, "hello", "ciphertext still opens (same master key)");

	snprintf(path, sizeof path, "%s/master.key", dir2);
	ok(kms_init(S, dir2, &err) < 0 && strstr(err.msg, "refusing to create"),
	   "missing master.key while the store holds keys: refused (%s)", err.msg);
	ok(stat(path, &sb) < 0, "and no file was created");
	unsigned char other[32];
	memset(other, 0x5a, sizeof other);
	write_file(path, other, sizeof other);
	ok(kms_init(S, dir2, &err) < 0 && strstr(err.msg, "does not unlock"), "another state's master.key: refused (%s)",
	   err.msg);
	write_file(path, other, 31);
	ok(kms_init(S, dir2, &err) < 0 && strstr(err.msg, "exactly 32 bytes"), "31-byte master.key: refused");
	unlink(path);

	kms_shutdown();
	err_run(kms_describe_key, J("{'KeyId':'%s'}", id), ERR_INTERNAL, NULL,
	        "after kms_shutdown an in-memory store gets a fresh key, which cannot open its keys");
	ok(kms_init(S, dir1, &err) == 0, "kms_init with the right file again");
	is_str(dec(blob, NULL), "hello", "readable again");
	free(blob);

	/* Material is stored sealed: 32 bytes + nonce + tag, never raw. */
	sqlite3_stmt *st;
	sqlite3_prepare_v2(store_db(S), "SELECT length(material) FROM kms_keys WHERE id = ?1", -1, &st, NULL);
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	ok(sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 32 + KMS_SEAL_OVERHEAD, "material column is sealed");
	sqlite3_finalize(st);
}

/* ---- keys --------------------------------------------------------------------------------------------- */

static char K1[40], K2[40]; /* customer keys in us-east-1 */

static void test_create_describe(void)
{
	at("us-east-1", T0 + 10);
	json_t *o = ok_run(kms_create_key,
	                   J("{'Description':'main','Tags':[{'TagKey':'env','TagValue':'dev'}],'KeyUsage':'ENCRYPT_DECRYPT',"
	                     "'KeySpec':'SYMMETRIC_DEFAULT'}"),
	                   "CreateKey");
	json_t *m = json_object_get(o, "KeyMetadata");
	snprintf(K1, sizeof K1, "%s", str(m, "KeyId") ? str(m, "KeyId") : "");
	char arn[200];
	key_arn("us-east-1", ACCT, K1, arn, sizeof arn);
	ok(strlen(K1) == 36 && K1[8] == '-' && K1[14] == '4', "KeyId is a UUIDv4 (%s)", K1);
	is_str(str(m, "Arn"), arn, "Arn = arn:aws:kms:REGION:ACCOUNT:key/ID");
	is_str(str(m, "AWSAccountId"), ACCT, "AWSAccountId");
	ok(json_is_true(json_object_get(m, "Enabled")), "Enabled");
	is_str(str(m, "KeyState"), "Enabled", "KeyState Enabled");
	is_str(str(m, "KeyManager"), "CUSTOMER", "KeyManager CUSTOMER");
	is_str(str(m, "KeySpec"), "SYMMETRIC_DEFAULT", "KeySpec");
	is_str(str(m, "CustomerMasterKeySpec"), "SYMMETRIC_DEFAULT", "CustomerMasterKeySpec");
	is_str(str(m, "KeyUsage"), "ENCRYPT_DECRYPT", "KeyUsage");
	is_str(str(m, "Origin"), "AWS_KMS", "Origin");
	is_str(str(m, "Description"), "main", "Description");
	ok(json_is_false(json_object_get(m, "MultiRegion")), "MultiRegion false");
	json_t *algs = json_object_get(m, "EncryptionAlgorithms");
	ok(json_array_size(algs) == 1 && strcmp(json_string_value(json_array_get(algs, 0)), "SYMMETRIC_DEFAULT") == 0,
	   "EncryptionAlgorithms [SYMMETRIC_DEFAULT]");
	ok(json_real_value(json_object_get(m, "CreationDate")) == T0 + 10, "CreationDate is the call's time");
	ok(!json_object_get(m, "DeletionDate"), "no DeletionDate");
	json_decref(o);
	new_key(NULL, K2);
	o = run(kms_describe_key, J("{'KeyId':'%s'}", K2));
	is_str(str(json_object_get(o, "KeyMetadata"), "Description"), "", "Description defaults to \"\"");
	json_decref(o);

	/* The four ways to name a key. */
	json_t *al = ok_run(kms_create_alias, J("{'AliasName':'alias/main','TargetKeyId':'%s'}", K1), "CreateAlias");
	json_decref(al);
	const char *forms[] = {K1, arn, "alias/main", "arn:aws:kms:us-east-1:" ACCT ":alias/main"};
	for (size_t i = 0; i < 4; i++) {
		o = run(kms_describe_key, J("{'KeyId':'%s'}", forms[i]));
		is_str(o ? str(json_object_get(o, "KeyMetadata"), "KeyId") : NULL, K1, "DescribeKey by %s", forms[i]);
		json_decref(o);
	}
	char upper[40];
	for (int i = 0; i < 37; i++)
		upper[i] = (char)(K1[i] >= 'a' && K1[i] <= 'f' ? K1[i] - 32 : K1[i]);
	o = run(kms_describe_key, J("{'KeyId':'%s'}", upper));
	ok(o != NULL, "a key id in upper case");
	json_decref(o);

	err_run(kms_describe_key, J("{'KeyId':'nope'}"), ERR_KMS_NOT_FOUND, "Invalid keyId nope", "malformed key id");
	err_run(kms_describe_key, J("{'KeyId':'00000000-0000-4000-8000-000000000000'}"), ERR_KMS_NOT_FOUND,
	        "Key 'arn:aws:kms:us-east-1:" ACCT ":key/00000000-0000-4000-8000-000000000000' does not exist",
	        "unknown key id");
	err_run(kms_describe_key, J("{'KeyId':'alias/none'}"), ERR_KMS_NOT_FOUND,
	        "Alias arn:aws:kms:us-east-1:" ACCT ":alias/none is not found.", "unknown alias");
	char west[200];
	key_arn("us-west-2", ACCT, K1, west, sizeof west);
	err_run(kms_describe_key, J("{'KeyId':'%s'}", west), ERR_KMS_NOT_FOUND, NULL, "key ARN of another region");
	err_run(kms_describe_key, J("{'KeyId':'arn:aws:s3:::bucket'}"), ERR_KMS_NOT_FOUND, NULL, "not a KMS ARN");
	at("us-west-2", T0 + 11);
	err_run(kms_describe_key, J("{'KeyId':'%s'}", K1), ERR_KMS_NOT_FOUND, NULL, "keys are per region");
	at_as(OTHER, "us-east-1", T0 + 12);
	err_run(kms_describe_key, J("{'KeyId':'%s'}", K1), ERR_KMS_NOT_FOUND, NULL, "a bare key id is the caller's account");
	o = run(kms_describe_key, J("{'KeyId':'%s'}", arn));
	ok(o != NULL, "another account's key by its ARN (authorization is the caller's business)");
	json_decref(o);
	at("us-east-1", T0 + 13);

	err_run(kms_create_key, J("{'KeyUsage':'SIGN_VERIFY','KeySpec':'RSA_2048'}"), ERR_KMS_UNSUPPORTED, NULL,
	        "asymmetric keys are not supported");
	err_run(kms_create_key, J("{'MultiRegion':true}"), ERR_KMS_UNSUPPORTED, NULL, "multi-Region keys");
	err_run(kms_create_key, J("{'Policy':'not json'}"), ERR_KMS_MALFORMED_POLICY, NULL, "malformed policy");
	err_run(kms_create_key, J("{'Tags':[{'TagKey':'aws:x','TagValue':'y'}]}"), ERR_KMS_TAG, NULL, "aws: tag prefix");
	err_run(kms_create_key, J("{'Description':5}"), ERR_SERIALIZATION, NULL, "Description of the wrong type");
	err_run(kms_create_key, J("[1]"), ERR_SERIALIZATION, NULL, "body not an object");
	err_run(kms_describe_key, J("{}"), ERR_VALIDATION,
	        "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null",
	        "KeyId missing");

	o = ok_run(kms_update_key_description, J("{'KeyId':'%s','Description':'renamed'}", K2), "UpdateKeyDescription");
	json_decref(o);
	o = run(kms_describe_key, J("{'KeyId':'%s'}", K2));
	is_str(str(json_object_get(o, "KeyMetadata"), "Description"), "renamed", "description changed");
	json_decref(o);
}

static void test_list_keys(void)
{
	at("eu-west-1", T0 + 20);
	char ids[3][40];
	for (int i = 0; i < 3; i++)
		new_key(NULL, ids[i]);
	json_t *o = ok_run(kms_list_keys, J("{}"), "ListKeys");
	is_int(json_array_size(json_object_get(o, "Keys")), 3, "three keys in eu-west-1");
	ok(json_is_false(json_object_get(o, "Truncated")) && !json_object_get(o, "NextMarker"), "Truncated false");
	json_t *k0 = json_array_get(json_object_get(o, "Keys"), 0);
	char arn[200];
	key_arn("eu-west-1", ACCT, ids[0], arn, sizeof arn);
	ok(str(k0, "KeyId") && strcmp(str(k0, "KeyId"), ids[0]) == 0 && strcmp(str(k0, "KeyArn"), arn) == 0,
	   "KeyId and KeyArn, in creation order");
	json_decref(o);
	o = ok_run(kms_list_keys, J("{'Limit':2}"), "ListKeys Limit 2");
	is_int(json_array_size(json_object_get(o, "Keys")), 2, "two on the first page");
	ok(json_is_true(json_object_get(o, "Truncated")), "Truncated");
	char marker[64];
	snprintf(marker, sizeof marker, "%s", str(o, "NextMarker") ? str(o, "NextMarker") : "");
	json_decref(o);
	o = ok_run(kms_list_keys, J("{'Limit':2,'Marker':'%s'}", marker), "page 2");
	is_int(json_array_size(json_object_get(o, "Keys")), 1, "one on the second page");
	is_str(str(json_array_get(json_object_get(o, "Keys"), 0), "KeyId"), ids[2], "the third key");
	json_decref(o);
	err_run(kms_list_keys, J("{'Marker':'bogus'}"), ERR_KMS_INVALID_MARKER, NULL, "invalid Marker");
	err_run(kms_list_keys, J("{'Marker':'aliases.1'}"), ERR_KMS_INVALID_MARKER, NULL, "another listing's Marker");
	err_run(kms_list_keys, J("{'Limit':0}"), ERR_VALIDATION, NULL, "Limit 0");
}

/* ---- aliases ------------------------------------------------------------------------------------------ */

static void test_aliases(void)
{
	at("us-east-1", T0 + 30);
	err_run(kms_create_alias, J("{'AliasName':'alias/main','TargetKeyId':'%s'}", K2), ERR_KMS_ALREADY_EXISTS,
	        "An alias with the name arn:aws:kms:us-east-1:" ACCT ":alias/main already exists", "duplicate alias");
	err_run(kms_create_alias, J("{'AliasName':'main2','TargetKeyId':'%s'}", K2), ERR_VALIDATION,
	        "Alias must start with the prefix \"alias/\". Please see "
	        "https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html",
	        "alias without the alias/ prefix");
	err_run(kms_create_alias, J("{'AliasName':'alias/aws/mine','TargetKeyId':'%s'}", K2), ERR_KMS_INVALID_ALIAS_NAME,
	        NULL, "alias/aws/ is reserved");
	err_run(kms_create_alias, J("{'AliasName':'alias/','TargetKeyId':'%s'}", K2), ERR_KMS_INVALID_ALIAS_NAME, NULL,
	        "empty alias name");
	err_run(kms_create_alias, J("{'AliasName':'alias/x','TargetKeyId':'alias/main'}"), ERR_VALIDATION, NULL,
	        "an alias cannot target an alias");
	err_run(kms_create_alias, J("{'AliasName':'alias/x','TargetKeyId':'00000000-0000-4000-8000-000000000000'}"),
	        ERR_KMS_NOT_FOUND, NULL, "alias to an unknown key");
	json_t *o = ok_run(kms_create_alias, J("{'AliasName':'alias/second','TargetKeyId':'%s'}", K2), "second alias");
	json_decref(o);

	o = ok_run(kms_list_aliases, J("{}"), "ListAliases");
	json_t *a = json_object_get(o, "Aliases");
	is_int(json_array_size(a), 2, "two aliases");
	json_t *first = json_array_get(a, 0);
	is_str(str(first, "AliasName"), "alias/main", "sorted by name");
	is_str(str(first, "AliasArn"), "arn:aws:kms:us-east-1:" ACCT ":alias/main", "AliasArn");
	is_str(str(first, "TargetKeyId"), K1, "TargetKeyId");
	ok(json_is_real(json_object_get(first, "CreationDate")) && json_is_real(json_object_get(first, "LastUpdatedDate")),
	   "CreationDate and LastUpdatedDate");
	json_decref(o);
	o = ok_run(kms_list_aliases, J("{'KeyId':'%s'}", K2), "ListAliases for one key");
	a = json_object_get(o, "Aliases");
	ok(json_array_size(a) == 1 && strcmp(str(json_array_get(a, 0), "AliasName"), "alias/second") == 0,
	   "only that key's alias");
	json_decref(o);
	o = ok_run(kms_list_aliases, J("{'Limit':1}"), "ListAliases Limit 1");
	ok(json_is_true(json_object_get(o, "Truncated")) && str(o, "NextMarker"), "paged");
	json_decref(o);

	o = ok_run(kms_update_alias, J("{'AliasName':'alias/second','TargetKeyId':'%s'}", K1), "UpdateAlias");
	json_decref(o);
	o = run(kms_describe_key, J("{'KeyId':'alias/second'}"));
	is_str(o ? str(json_object_get(o, "KeyMetadata"), "KeyId") : NULL, K1, "alias now names the other key");
	json_decref(o);
	err_run(kms_update_alias, J("{'AliasName':'alias/none','TargetKeyId':'%s'}", K1), ERR_KMS_NOT_FOUND,
	        "Alias arn:aws:kms:us-east-1:" ACCT ":alias/none is not found.", "UpdateAlias of an unknown alias");
	o = ok_run(kms_delete_alias, J("{'AliasName':'alias/second'}"), "DeleteAlias");
	json_decref(o);
	err_run(kms_describe_key, J("{'KeyId':'alias/second'}"), ERR_KMS_NOT_FOUND, NULL, "deleted alias is gone");
	err_run(kms_delete_alias, J("{'AliasName':'alias/second'}"), ERR_KMS_NOT_FOUND, NULL, "deleting it again");
	at_as(OTHER, "us-east-1", T0 + 31);
	char arn[200];
	key_arn("us-east-1", ACCT, K1, arn, sizeof arn);
	err_run(kms_create_alias, J("{'AliasName':'alias/theirs','TargetKeyId':'%s'}", arn), ERR_KMS_NOT_FOUND, NULL,
	        "an alias cannot name another account's key");
}

/* ---- cryptography ------------------------------------------------------------------------------------- */

static void test_crypto(void)
{
	at("us-east-1", T0 + 40);
	char *blob = enc("alias/main", "attack at dawn", "{'purpose':'test','app':'x'}");
	ok(blob != NULL, "Encrypt by alias with an encryption context");
	is_str(dec(blob, "{'app':'x','purpose':'test'}"), "attack at dawn", "Decrypt without KeyId (same context, any order)");
	ok(!dec(blob, NULL) && E.code == ERR_KMS_INVALID_CIPHERTEXT, "no context -> InvalidCiphertextException");
	ok(!dec(blob, "{'purpose':'test','app':'y'}") && E.code == ERR_KMS_INVALID_CIPHERTEXT && E.msg[0] == '\0',
	   "other context -> InvalidCiphertextException (no message, as AWS)");

	json_t *o = run(kms_decrypt, J("{'CiphertextBlob':'%s','EncryptionContext':{'app':'x','purpose':'test'},'KeyId':'%s'}",
	                               blob, K2));
	ok(!o && E.code == ERR_KMS_INCORRECT_KEY, "Decrypt with another KeyId -> IncorrectKeyException");
	o = run(kms_decrypt, J("{'CiphertextBlob':'%s','EncryptionContext':{'app':'x','purpose':'test'},'KeyId':'alias/main'}",
	                       blob));
	char arn[200];
	key_arn("us-east-1", ACCT, K1, arn, sizeof arn);
	ok(o && strcmp(str(o, "KeyId"), arn) == 0 && strcmp(str(o, "EncryptionAlgorithm"), "SYMMETRIC_DEFAULT") == 0,
	   "Decrypt with the right KeyId; KeyId answered as the key ARN");
	json_decref(o);

	/* Tampering: every byte of the decoded blob matters. */
	unsigned char *raw;
	size_t n;
	ok(util_b64_decode(blob, strlen(blob), &raw, &n) && n == 17 + 12 + 14 + 16, "blob = 1 + 16 + 12 + len + 16 bytes");
	int refused = 0;
	for (size_t i = 0; i < n; i++) {
		raw[i] ^= 0x40;
		size_t cap = (n + 2) / 3 * 4 + 1;
		unsigned char *e = calloc(cap, 1);
		EVP_EncodeBlock(e, raw, (int)n);
		raw[i] ^= 0x40;
		if (!dec((const char *)e, "{'app':'x','purpose':'test'}") &&
		    (E.code == ERR_KMS_INVALID_CIPHERTEXT || E.code == ERR_KMS_NOT_FOUND))
			refused++;
		free(e);
	}
	is_int(refused, (long long)n, "every tampered byte -> InvalidCiphertextException");
	free(raw);
	ok(!dec("AQID", NULL) && E.code == ERR_KMS_INVALID_CIPHERTEXT, "a 3-byte blob");
	err_run(kms_decrypt, J("{'CiphertextBlob':'not base64!'}"), ERR_SERIALIZATION, NULL, "blob not base64");
	err_run(kms_decrypt, J("{}"), ERR_VALIDATION, NULL, "CiphertextBlob missing");

	char *p = b64("x");
	err_run(kms_encrypt, J("{'KeyId':'%s','Plaintext':'%s','EncryptionAlgorithm':'RSAES_OAEP_SHA_256'}", K1, p),
	        ERR_KMS_INVALID_KEY_USAGE, NULL, "asymmetric algorithm on a symmetric key");
	err_run(kms_encrypt, J("{'KeyId':'%s','Plaintext':'%s','DryRun':true}", K1, p), ERR_KMS_DRY_RUN,
	        "The request would have succeeded, but the DryRun parameter was set.", "DryRun");
	err_run(kms_encrypt, J("{'KeyId':'%s','Plaintext':'%s','EncryptionContext':{'a':1}}", K1, p), ERR_SERIALIZATION,
	        NULL, "context values must be strings");
	free(p);
	char *big = malloc(4097 * 2);
	memset(big, 'A', 5464);
	big[5464] = '\0'; /* 4098 decoded bytes */
	err_run(kms_encrypt, J("{'KeyId':'%s','Plaintext':'%s'}", K1, big), ERR_VALIDATION, NULL, "Plaintext over 4096 bytes");
	free(big);

	/* GenerateDataKey */
	o = ok_run(kms_generate_data_key, J("{'KeyId':'%s','KeySpec':'AES_256','EncryptionContext':{'k':'v'}}", K1),
	           "GenerateDataKey AES_256");
	unsigned char *dk;
	size_t dkl;
	ok(o && util_b64_decode(str(o, "Plaintext"), strlen(str(o, "Plaintext")), &dk, &dkl) && dkl == 32,
	   "32-byte plaintext data key");
	json_t *d = o ? run(kms_decrypt, J("{'CiphertextBlob':'%s','EncryptionContext':{'k':'v'}}", str(o, "CiphertextBlob")))
	              : NULL;
	ok(d && strcmp(str(d, "Plaintext"), str(o, "Plaintext")) == 0, "its CiphertextBlob decrypts to the same key");
	json_decref(d);
	json_decref(o);
	OPENSSL_clear_free(dk, dkl);
	o = ok_run(kms_generate_data_key, J("{'KeyId':'%s','NumberOfBytes':7}", K1), "GenerateDataKey NumberOfBytes 7");
	ok(o && strlen(str(o, "Plaintext")) == 12, "7 bytes");
	json_decref(o);
	err_run(kms_generate_data_key, J("{'KeyId':'%s'}", K1), ERR_VALIDATION, NULL, "neither KeySpec nor NumberOfBytes");
	err_run(kms_generate_data_key, J("{'KeyId':'%s','KeySpec':'AES_128','NumberOfBytes':16}", K1), ERR_VALIDATION,
	        NULL, "both");
	o = ok_run(kms_generate_data_key_without_plaintext, J("{'KeyId':'%s','KeySpec':'AES_128'}", K1),
	           "GenerateDataKeyWithoutPlaintext");
	ok(o && !json_object_get(o, "Plaintext") && str(o, "CiphertextBlob"), "no Plaintext member");
	json_decref(o);

	/* ReEncrypt */
	o = ok_run(kms_re_encrypt,
	           J("{'CiphertextBlob':'%s','SourceEncryptionContext':{'app':'x','purpose':'test'},'DestinationKeyId':'%s'}",
	             blob, K2),
	           "ReEncrypt to another key");
	char arn2[200];
	key_arn("us-east-1", ACCT, K2, arn2, sizeof arn2);
	ok(o && strcmp(str(o, "SourceKeyId"), arn) == 0 && strcmp(str(o, "KeyId"), arn2) == 0, "SourceKeyId and KeyId");
	is_str(o ? dec(str(o, "CiphertextBlob"), NULL) : NULL, "attack at dawn", "new blob opens without context");
	json_decref(o);
	err_run(kms_re_encrypt,
	        J("{'CiphertextBlob':'%s','SourceEncryptionContext':{'app':'x','purpose':'test'},'SourceKeyId':'%s',"
	          "'DestinationKeyId':'%s'}",
	          blob, K2, K1),
	        ERR_KMS_INCORRECT_KEY, NULL, "ReEncrypt with the wrong SourceKeyId");

	o = ok_run(kms_generate_random, J("{'NumberOfBytes':16}"), "GenerateRandom");
	ok(o && strlen(str(o, "Plaintext")) == 24, "16 random bytes");
	json_decref(o);
	at("us-west-2", T0 + 41);
	ok(!dec(blob, "{'app':'x','purpose':'test'}") && E.code == ERR_KMS_INVALID_CIPHERTEXT,
	   "a blob of another region's key does not open here");
	free(blob);
}

static void test_states(void)
{
	at("us-east-1", T0 + 50);
	char k[40], arn[200], msg[300];
	new_key("states", k);
	key_arn("us-east-1", ACCT, k, arn, sizeof arn);
	char *blob = enc(k, "v", NULL);
	json_t *o = ok_run(kms_disable_key, J("{'KeyId':'%s'}", k), "DisableKey");
	json_decref(o);
	o = run(kms_describe_key, J("{'KeyId':'%s'}", k));
	json_t *m = json_object_get(o, "KeyMetadata");
	ok(json_is_false(json_object_get(m, "Enabled")) && strcmp(str(m, "KeyState"), "Disabled") == 0,
	   "Disabled: Enabled false, KeyState Disabled");
	json_decref(o);
	snprintf(msg, sizeof msg, "%s is disabled.", arn);
	char *p = b64("x");
	err_run(kms_encrypt, J("{'KeyId':'%s','Plaintext':'%s'}", k, p), ERR_KMS_DISABLED, msg, "Encrypt with a disabled key");
	ok(!dec(blob, NULL) && E.code == ERR_KMS_DISABLED, "Decrypt with a disabled key -> DisabledException");
	o = ok_run(kms_disable_key, J("{'KeyId':'%s'}", k), "DisableKey twice is fine");
	json_decref(o);
	o = ok_run(kms_enable_key, J("{'KeyId':'%s'}", k), "EnableKey");
	json_decref(o);
	is_str(dec(blob, NULL), "v", "usable again");

	err_run(kms_schedule_key_deletion, J("{'KeyId':'%s','PendingWindowInDays':6}", k), ERR_VALIDATION, NULL,
	        "PendingWindowInDays 6");
	err_run(kms_schedule_key_deletion, J("{'KeyId':'%s','PendingWindowInDays':31}", k), ERR_VALIDATION, NULL,
	        "PendingWindowInDays 31");
	o = ok_run(kms_schedule_key_deletion, J("{'KeyId':'%s'}", k), "ScheduleKeyDeletion (default 30 days)");
	ok(o && strcmp(str(o, "KeyId"), arn) == 0 && strcmp(str(o, "KeyState"), "PendingDeletion") == 0 &&
	       json_integer_value(json_object_get(o, "PendingWindowInDays")) == 30 &&
	       json_real_value(json_object_get(o, "DeletionDate")) == T0 + 50 + 30 * DAY,
	   "KeyId (ARN), KeyState, PendingWindowInDays, DeletionDate");
	json_decref(o);
	o = run(kms_describe_key, J("{'KeyId':'%s'}", k));
	m = json_object_get(o, "KeyMetadata");
	ok(m && strcmp(str(m, "KeyState"), "PendingDeletion") == 0 && json_is_false(json_object_get(m, "Enabled")) &&
	       json_real_value(json_object_get(m, "DeletionDate")) == T0 + 50 + 30 * DAY,
	   "DescribeKey: PendingDeletion with DeletionDate");
	json_decref(o);
	snprintf(msg, sizeof msg, "%s is pending deletion.", arn);
	err_run(kms_encrypt, J("{'KeyId':'%s','Plaintext':'%s'}", k, p), ERR_KMS_INVALID_STATE, msg,
	        "Encrypt with a key pending deletion");
	ok(!dec(blob, NULL) && E.code == ERR_KMS_INVALID_STATE, "Decrypt -> KMSInvalidStateException");
	err_run(kms_enable_key, J("{'KeyId':'%s'}", k), ERR_KMS_INVALID_STATE, msg, "EnableKey while pending deletion");
	err_run(kms_schedule_key_deletion, J("{'KeyId':'%s'}", k), ERR_KMS_INVALID_STATE, msg, "scheduling twice");
	o = ok_run(kms_cancel_key_deletion, J("{'KeyId':'%s'}", k), "CancelKeyDeletion");
	is_str(o ? str(o, "KeyId") : NULL, arn, "answers the key ARN");
	json_decref(o);
	o = run(kms_describe_key, J("{'KeyId':'%s'}", k));
	is_str(str(json_object_get(o, "KeyMetadata"), "KeyState"), "Disabled", "a cancelled deletion leaves the key Disabled");
	ok(!json_object_get(json_object_get(o, "KeyMetadata"), "DeletionDate"), "no DeletionDate");
	json_decref(o);
	err_run(kms_cancel_key_deletion, J("{'KeyId':'%s'}", k), ERR_KMS_INVALID_STATE, NULL, "cancelling when not pending");

	/* The waiting period ends: the key, its aliases and tags are gone. */
	o = run(kms_create_alias, J("{'AliasName':'alias/doomed','TargetKeyId':'%s'}", k));
	json_decref(o);
	o = run(kms_schedule_key_deletion, J("{'KeyId':'%s','PendingWindowInDays':7}", k));
	json_decref(o);
	at("us-east-1", T0 + 50 + 7 * DAY - 1);
	o = run(kms_describe_key, J("{'KeyId':'%s'}", k));
	ok(o != NULL, "still there a second before the deletion date");
	json_decref(o);
	at("us-east-1", T0 + 50 + 7 * DAY);
	err_run(kms_describe_key, J("{'KeyId':'%s'}", k), ERR_KMS_NOT_FOUND, NULL, "gone at the deletion date");
	err_run(kms_describe_key, J("{'KeyId':'alias/doomed'}"), ERR_KMS_NOT_FOUND, NULL, "its alias too");
	ok(!dec(blob, NULL) && E.code == ERR_KMS_INVALID_CIPHERTEXT, "its ciphertexts are unrecoverable");
	free(p);
	free(blob);
	at("us-east-1", T0 + 60);
}

static void test_tags_policy(void)
{
	at("us-east-1", T0 + 70);
	json_t *o = ok_run(kms_tag_resource,
	                   J("{'KeyId':'%s','Tags':[{'TagKey':'team','TagValue':'db'},{'TagKey':'env','TagValue':'prod'}]}", K1),
	                   "TagResource (overwrites env, adds team)");
	json_decref(o);
	o = ok_run(kms_list_resource_tags, J("{'KeyId':'%s'}", K1), "ListResourceTags");
	json_t *t = json_object_get(o, "Tags");
	ok(json_array_size(t) == 2 && strcmp(str(json_array_get(t, 0), "TagKey"), "env") == 0 &&
	       strcmp(str(json_array_get(t, 0), "TagValue"), "prod") == 0,
	   "two tags, env overwritten in place");
	ok(json_is_false(json_object_get(o, "Truncated")), "Truncated false");
	json_decref(o);
	o = ok_run(kms_list_resource_tags, J("{'KeyId':'%s','Limit':1}", K1), "Limit 1");
	ok(json_is_true(json_object_get(o, "Truncated")), "truncated");
	json_decref(o);
	o = ok_run(kms_untag_resource, J("{'KeyId':'%s','TagKeys':['env','missing']}", K1), "UntagResource");
	json_decref(o);
	o = run(kms_list_resource_tags, J("{'KeyId':'%s'}", K1));
	is_int(json_array_size(json_object_get(o, "Tags")), 1, "one tag left");
	json_decref(o);
	err_run(kms_tag_resource, J("{'KeyId':'%s','Tags':[{'TagKey':'aws:cf','TagValue':'x'}]}", K1), ERR_KMS_TAG, NULL,
	        "aws: tags refused");

	o = ok_run(kms_get_key_policy, J("{'KeyId':'%s'}", K1), "GetKeyPolicy");
	ok(o && strstr(str(o, "Policy"), "\"Sid\" : \"Enable IAM User Permissions\"") &&
	       strstr(str(o, "Policy"), "arn:aws:iam::" ACCT ":root") && strcmp(str(o, "PolicyName"), "default") == 0,
	   "the default key policy");
	json_decref(o);
	const char *pol = "{\\'Version\\':\\'2012-10-17\\',\\'Statement\\':[]}";
	o = ok_run(kms_put_key_policy, J("{'KeyId':'%s','Policy':'%s'}", K1, pol), "PutKeyPolicy");
	json_decref(o);
	o = run(kms_get_key_policy, J("{'KeyId':'%s','PolicyName':'default'}", K1));
	is_str(o ? str(o, "Policy") : NULL, "{\"Version\":\"2012-10-17\",\"Statement\":[]}", "stored as given");
	json_decref(o);
	err_run(kms_get_key_policy, J("{'KeyId':'%s','PolicyName':'other'}", K1), ERR_KMS_NOT_FOUND, NULL,
	        "only the default policy exists");
	err_run(kms_put_key_policy, J("{'KeyId':'%s','Policy':'[]'}", K1), ERR_KMS_MALFORMED_POLICY, NULL,
	        "malformed policy");
	o = ok_run(kms_list_key_policies, J("{'KeyId':'%s'}", K1), "ListKeyPolicies");
	ok(o && json_array_size(json_object_get(o, "PolicyNames")) == 1, "[default]");
	json_decref(o);
}

static void test_aws_managed(void)
{
	at("ap-south-1", T0 + 80);
	json_t *o = ok_run(kms_describe_key, J("{'KeyId':'alias/aws/secretsmanager'}"),
	                   "DescribeKey alias/aws/secretsmanager creates the AWS managed key");
	json_t *m = json_object_get(o, "KeyMetadata");
	is_str(str(m, "KeyManager"), "AWS", "KeyManager AWS");
	is_str(str(m, "Description"), "Default key that protects my Secrets Manager data when no other key is defined",
	       "its description");
	char id[40], msg[400];
	snprintf(id, sizeof id, "%s", str(m, "KeyId") ? str(m, "KeyId") : "");
	json_decref(o);
	o = run(kms_describe_key, J("{'KeyId':'arn:aws:kms:ap-south-1:" ACCT ":alias/aws/secretsmanager'}"));
	is_str(o ? str(json_object_get(o, "KeyMetadata"), "KeyId") : NULL, id, "the same key by alias ARN, created once");
	json_decref(o);
	o = run(kms_list_aliases, J("{}"));
	json_t *a = json_array_get(json_object_get(o, "Aliases"), 0);
	ok(a && strcmp(str(a, "AliasName"), "alias/aws/secretsmanager") == 0 && strcmp(str(a, "TargetKeyId"), id) == 0,
	   "ListAliases shows alias/aws/secretsmanager");
	json_decref(o);
	o = run(kms_get_key_policy, J("{'KeyId':'%s'}", id));
	ok(o && strstr(str(o, "Policy"), "secretsmanager.ap-south-1.amazonaws.com"), "its policy allows use via Secrets Manager");
	json_decref(o);
	snprintf(msg, sizeof msg,
	         "User: arn:aws:iam::" ACCT ":root is not authorized to perform: kms:DisableKey on resource: "
	         "arn:aws:kms:ap-south-1:" ACCT ":key/%s because no resource-based policy allows the kms:DisableKey action",
	         id);
	err_run(kms_disable_key, J("{'KeyId':'%s'}", id), ERR_ACCESS_DENIED, msg, "customers cannot disable it");
	err_run(kms_schedule_key_deletion, J("{'KeyId':'%s'}", id), ERR_ACCESS_DENIED, NULL, "nor schedule its deletion");
	err_run(kms_tag_resource, J("{'KeyId':'%s','Tags':[{'TagKey':'a','TagValue':'b'}]}", id), ERR_ACCESS_DENIED, NULL,
	        "nor tag it");
	char *p = b64("x");
	err_run(kms_encrypt, J("{'KeyId':'alias/aws/secretsmanager','Plaintext':'%s'}", p), ERR_ACCESS_DENIED, NULL,
	        "nor use it directly");
	free(p);
	err_run(kms_create_alias, J("{'AliasName':'alias/mine','TargetKeyId':'%s'}", id), ERR_ACCESS_DENIED, NULL,
	        "nor alias it");
	err_run(kms_delete_alias, J("{'AliasName':'alias/aws/secretsmanager'}"), ERR_KMS_INVALID_ALIAS_NAME, NULL,
	        "nor delete its alias");
	err_run(kms_describe_key, J("{'KeyId':'alias/aws/s3'}"), ERR_KMS_NOT_FOUND, NULL, "other AWS aliases do not exist");
}

/* ---- Secrets Manager: values at rest ----------------------------------------------------------------- */

static int hook_calls, hook_decrypts, hook_deny;
static char hook_last[KMS_ARN_MAX];

static int kms_hook(struct emu_call *call, const char *key_id, bool decrypt, struct emu_err *err)
{
	(void)call;
	hook_calls++;
	hook_decrypts += decrypt;
	snprintf(hook_last, sizeof hook_last, "%s", key_id ? key_id : "(aws/secretsmanager)");
	if (hook_deny)
		return emu_err_set(err, ERR_ACCESS_DENIED, "Access to KMS is not allowed");
	return 0;
}

/* Does any column of secret_versions (any file page, really) hold needle? */
static bool db_holds(const void *needle, size_t n)
{
	sqlite3_stmt *st;
	bool found = false;
	sqlite3_prepare_v2(store_db(S), "SELECT value, data_keys, kms_key_ids FROM secret_versions", -1, &st, NULL);
	while (sqlite3_step(st) == SQLITE_ROW)
		for (int c = 0; c < 3; c++) {
			const unsigned char *p = sqlite3_column_blob(st, c);
			size_t l = (size_t)sqlite3_column_bytes(st, c);
			for (size_t i = 0; p && i + n <= l && !found; i++)
				found = memcmp(p + i, needle, n) == 0;
		}
	sqlite3_finalize(st);
	return found;
}

static const char *sm_get(const char *id, const char *vid)
{
	static char buf[256];
	json_t *o = run(sm_get_secret_value, vid ? J("{'SecretId':'%s','VersionId':'%s'}", id, vid) : J("{'SecretId':'%s'}", id));
	snprintf(buf, sizeof buf, "%s", o ? (str(o, "SecretString") ? str(o, "SecretString") : "(binary)") : "(error)");
	json_decref(o);
	return o ? buf : NULL;
}

static void exec_sql(const char *sql)
{
	char *m = NULL;
	if (sqlite3_exec(store_db(S), sql, NULL, NULL, &m) != SQLITE_OK)
		printf("# sql: %s\n", m ? m : "?");
	sqlite3_free(m);
}

static void test_secrets_at_rest(void)
{
	at("us-east-1", T0 + 100);
	static const struct secrets_hooks hooks = {.kms_check = kms_hook};
	secrets_set_hooks(&hooks);
	char k[40], arn[200];
	new_key("secrets", k);
	key_arn("us-east-1", ACCT, k, arn, sizeof arn);
	json_t *o = run(kms_create_alias, J("{'AliasName':'alias/sm','TargetKeyId':'%s'}", k));
	json_decref(o);

	hook_calls = hook_decrypts = 0;
	o = ok_run(sm_create_secret, J("{'Name':'cust','SecretString':'tOpSeCrEt-0042','KmsKeyId':'alias/sm'}"),
	           "CreateSecret under a customer key");
	json_decref(o);
	ok(hook_calls == 1 && hook_decrypts == 0 && strcmp(hook_last, arn) == 0,
	   "kms_check asked once, to encrypt, with the key ARN (%s)", hook_last);
	is_str(sm_get("cust", NULL), "tOpSeCrEt-0042", "GetSecretValue decrypts");
	ok(hook_calls == 2 && hook_decrypts == 1 && strcmp(hook_last, arn) == 0, "kms_check asked to decrypt, key ARN");
	ok(!db_holds("tOpSeCrEt-0042", 14), "the database does not hold the plaintext");
	o = ok_run(sm_create_secret, J("{'Name':'bin','SecretBinary':'3q2+78r+'}"), "CreateSecret binary, default key");
	json_decref(o);
	ok(strcmp(hook_last, "(aws/secretsmanager)") == 0, "kms_check gets NULL for the AWS managed key");
	ok(!db_holds("\xde\xad\xbe\xef\xca\xfe", 6), "no plaintext binary either");
	o = run(kms_describe_key, J("{'KeyId':'alias/aws/secretsmanager'}"));
	ok(o && strcmp(str(json_object_get(o, "KeyMetadata"), "KeyManager"), "AWS") == 0,
	   "aws/secretsmanager was created by the first secret that needed it");
	json_decref(o);
	o = run(sm_list_secret_version_ids, J("{'SecretId':'bin'}"));
	json_t *ids = json_object_get(json_array_get(json_object_get(o, "Versions"), 0), "KmsKeyIds");
	ok(json_array_size(ids) == 1 && strcmp(json_string_value(json_array_get(ids, 0)), "DefaultEncryptionKey") == 0,
	   "KmsKeyIds [DefaultEncryptionKey]");
	json_decref(o);
	o = run(sm_list_secret_version_ids, J("{'SecretId':'cust'}"));
	ids = json_object_get(json_array_get(json_object_get(o, "Versions"), 0), "KmsKeyIds");
	ok(json_array_size(ids) == 1 && strcmp(json_string_value(json_array_get(ids, 0)), "alias/sm") == 0,
	   "KmsKeyIds [alias/sm]");
	json_decref(o);

	/* Denied by the hook: the hook's error, as is. */
	hook_deny = 1;
	err_run(sm_get_secret_value, J("{'SecretId':'cust'}"), ERR_ACCESS_DENIED, "Access to KMS is not allowed",
	        "kms:Decrypt denied");
	err_run(sm_put_secret_value, J("{'SecretId':'cust','SecretString':'x'}"), ERR_ACCESS_DENIED, NULL,
	        "kms:GenerateDataKey denied");
	hook_deny = 0;

	/* Key states. */
	o = run(kms_disable_key, J("{'KeyId':'%s'}", k));
	json_decref(o);
	char msg[600];
	snprintf(msg, sizeof msg,
	         "Secrets Manager can't decrypt the protected secret text using the provided KMS key. "
	         "(DisabledException: %s is disabled.)",
	         arn);
	err_run(sm_get_secret_value, J("{'SecretId':'cust'}"), ERR_SM_DECRYPTION_FAILURE, msg, "disabled key on read");
	err_run(sm_put_secret_value, J("{'SecretId':'cust','SecretString':'x'}"), ERR_SM_ENCRYPTION_FAILURE, NULL,
	        "disabled key on write");
	o = run(sm_batch_get_secret_value, J("{'SecretIdList':['cust','bin']}"));
	json_t *errs = json_object_get(o, "Errors");
	ok(json_array_size(json_object_get(o, "SecretValues")) == 1 && json_array_size(errs) == 1 &&
	       strcmp(str(json_array_get(errs, 0), "ErrorCode"), "DecryptionFailure") == 0,
	   "BatchGetSecretValue reports DecryptionFailure per secret");
	json_decref(o);
	o = run(kms_enable_key, J("{'KeyId':'%s'}", k));
	json_decref(o);
	is_str(sm_get("cust", NULL), "tOpSeCrEt-0042", "EnableKey: readable again");
	o = run(kms_schedule_key_deletion, J("{'KeyId':'%s','PendingWindowInDays':7}", k));
	json_decref(o);
	err_run(sm_get_secret_value, J("{'SecretId':'cust'}"), ERR_SM_DECRYPTION_FAILURE, NULL, "key pending deletion");
	ok(strstr(E.msg, "is pending deletion."), "with KMS's reason");
	o = run(kms_cancel_key_deletion, J("{'KeyId':'%s'}", k));
	json_decref(o);
	o = run(kms_enable_key, J("{'KeyId':'%s'}", k));
	json_decref(o);
	is_str(sm_get("cust", NULL), "tOpSeCrEt-0042", "cancelled and enabled: readable again");
	err_run(sm_create_secret, J("{'Name':'nokey','SecretString':'x','KmsKeyId':'alias/none'}"),
	        ERR_SM_ENCRYPTION_FAILURE, NULL, "CreateSecret with an unknown key");
	o = ok_run(sm_create_secret, J("{'Name':'nokey','KmsKeyId':'alias/none'}"),
	           "a secret without a value names any key (nothing is encrypted)");
	json_decref(o);

	/* Idempotent PutSecretValue compares against the decrypted value. */
	o = ok_run(sm_put_secret_value, J("{'SecretId':'cust','SecretString':'second','ClientRequestToken':'%s'}",
	                                  "11111111-1111-4111-8111-111111111111"),
	           "PutSecretValue");
	json_decref(o);
	o = ok_run(sm_put_secret_value, J("{'SecretId':'cust','SecretString':'second','ClientRequestToken':'%s'}",
	                                  "11111111-1111-4111-8111-111111111111"),
	           "same token, same value: idempotent");
	json_decref(o);
	err_run(sm_put_secret_value, J("{'SecretId':'cust','SecretString':'other','ClientRequestToken':'%s'}",
	                               "11111111-1111-4111-8111-111111111111"),
	        ERR_SM_RESOURCE_EXISTS, NULL, "same token, other value");

	/* Changing the key: labelled versions get an envelope under the new
	 * key too; older versions keep only the old key. */
	o = ok_run(sm_put_secret_value, J("{'SecretId':'cust','SecretString':'third','ClientRequestToken':'%s'}",
	                                  "22222222-2222-4222-8222-222222222222"),
	           "third value (first one is now deprecated)");
	json_decref(o);
	char k2[40], arn2[200];
	new_key("second", k2);
	key_arn("us-east-1", ACCT, k2, arn2, sizeof arn2);
	o = ok_run(sm_update_secret, J("{'SecretId':'cust','KmsKeyId':'%s'}", arn2), "UpdateSecret KmsKeyId");
	json_decref(o);
	o = run(sm_list_secret_version_ids, J("{'SecretId':'cust','IncludeDeprecated':true}"));
	json_t *vs = json_object_get(o, "Versions");
	/* by stage, not position: versions made in the same millisecond list in any order */
	json_t *cur = NULL, *prev = NULL, *old = NULL, *ver;
	size_t vi;
	json_array_foreach(vs, vi, ver) {
		const char *stage = json_string_value(json_array_get(json_object_get(ver, "VersionStages"), 0));
		if (!stage)
			old = ver;
		else if (strcmp(stage, "AWSCURRENT") == 0)
			cur = ver;
		else if (strcmp(stage, "AWSPREVIOUS") == 0)
			prev = ver;
	}
	ok(json_array_size(json_object_get(cur, "KmsKeyIds")) == 2 &&
	       strcmp(json_string_value(json_array_get(json_object_get(cur, "KmsKeyIds"), 1)), arn2) == 0,
	   "AWSCURRENT: KmsKeyIds [alias/sm, new key]");
	ok(json_array_size(json_object_get(prev, "KmsKeyIds")) == 2, "AWSPREVIOUS too");
	ok(json_array_size(json_object_get(old, "KmsKeyIds")) == 1, "the deprecated version keeps the old key only");
	char oldvid[64];
	snprintf(oldvid, sizeof oldvid, "%s", str(old, "VersionId") ? str(old, "VersionId") : "");
	json_decref(o);
	o = run(kms_disable_key, J("{'KeyId':'%s'}", k));
	json_decref(o);
	is_str(sm_get("cust", NULL), "third", "old key disabled: AWSCURRENT opens with the new key");
	is_str(sm_get("cust", "11111111-1111-4111-8111-111111111111"), "second", "and AWSPREVIOUS");
	ok(!sm_get("cust", oldvid) && E.code == ERR_SM_DECRYPTION_FAILURE, "a deprecated version needs the old key");
	o = run(kms_enable_key, J("{'KeyId':'%s'}", k));
	json_decref(o);
	o = run(kms_disable_key, J("{'KeyId':'%s'}", k2));
	json_decref(o);
	is_str(sm_get("cust", NULL), "third", "new key disabled: the old key still opens AWSCURRENT");
	o = run(kms_enable_key, J("{'KeyId':'%s'}", k2));
	json_decref(o);
	at("us-east-1", T0 + 150);
	o = ok_run(sm_put_secret_value, J("{'SecretId':'cust','SecretString':'fourth'}"), "a new value");
	json_decref(o);
	o = run(sm_list_secret_version_ids, J("{'SecretId':'cust'}"));
	ids = json_object_get(json_array_get(json_object_get(o, "Versions"), 0), "KmsKeyIds");
	ok(json_array_size(ids) == 1 && strcmp(json_string_value(json_array_get(ids, 0)), arn2) == 0,
	   "new versions are under the new key only");
	json_decref(o);
	o = ok_run(sm_update_secret, J("{'SecretId':'cust','KmsKeyId':'alias/none'}"),
	           "UpdateSecret to an unusable key: recorded, nothing re-encrypted");
	json_decref(o);
	err_run(sm_put_secret_value, J("{'SecretId':'cust','SecretString':'x'}"), ERR_SM_ENCRYPTION_FAILURE, NULL,
	        "and the next value fails");
	o = run(sm_update_secret, J("{'SecretId':'cust','KmsKeyId':''}"));
	json_decref(o);
	is_str(sm_get("cust", NULL), "fourth", "back on aws/secretsmanager: still readable");
	secrets_set_hooks(NULL);
}

static void test_secrets_tamper_and_replicas(void)
{
	at("us-east-1", T0 + 200);
	json_t *o = ok_run(sm_create_secret, J("{'Name':'tamper','SecretString':'abc','ClientRequestToken':'%s'}",
	                                      "33333333-3333-4333-8333-333333333333"),
	                   "secret to tamper with");
	json_decref(o);
	o = run(sm_put_secret_value, J("{'SecretId':'tamper','SecretString':'def','ClientRequestToken':'%s'}",
	                               "44444444-4444-4444-8444-444444444444"));
	json_decref(o);
	exec_sql("UPDATE secret_versions SET value = CAST(value AS BLOB) || x'00' WHERE version_id = "
	         "'33333333-3333-4333-8333-333333333333'");
	ok(!sm_get("tamper", "33333333-3333-4333-8333-333333333333") && E.code == ERR_SM_DECRYPTION_FAILURE,
	   "a changed ciphertext -> DecryptionFailure");
	/* Version B's value and data key moved onto version A: the data key's
	 * context and the value's AAD name B, so A cannot open them. */
	exec_sql("UPDATE secret_versions SET value = (SELECT value FROM secret_versions WHERE version_id = "
	         "'44444444-4444-4444-8444-444444444444'), data_keys = (SELECT data_keys FROM secret_versions WHERE "
	         "version_id = '44444444-4444-4444-8444-444444444444') WHERE version_id = "
	         "'33333333-3333-4333-8333-333333333333'");
	ok(!sm_get("tamper", "33333333-3333-4333-8333-333333333333") && E.code == ERR_SM_DECRYPTION_FAILURE,
	   "another version's ciphertext -> DecryptionFailure");
	is_str(sm_get("tamper", NULL), "def", "the untouched version still reads");
	exec_sql("UPDATE secret_versions SET value = CAST('legacy' AS BLOB), data_keys = NULL WHERE version_id = "
	         "'33333333-3333-4333-8333-333333333333'");
	is_str(sm_get("tamper", "33333333-3333-4333-8333-333333333333"), "legacy",
	       "a value stored before encryption (no data keys) reads as stored");

	/* Replicas re-encrypt under their region's key. */
	o = ok_run(sm_create_secret, J("{'Name':'repl','SecretString':'r1','AddReplicaRegions':[{'Region':'us-west-2'}]}"),
	           "CreateSecret with a replica");
	json_decref(o);
	at("us-west-2", T0 + 201);
	is_str(sm_get("repl", NULL), "r1", "the replica reads in us-west-2");
	o = run(kms_describe_key, J("{'KeyId':'alias/aws/secretsmanager'}"));
	char west_key[KMS_ARN_MAX] = "";
	if (o)
		snprintf(west_key, sizeof west_key, "%s", str(json_object_get(o, "KeyMetadata"), "Arn"));
	json_decref(o);
	sqlite3_stmt *st;
	sqlite3_prepare_v2(store_db(S),
	                   "SELECT v.data_keys FROM secret_versions v JOIN secrets s ON s.id = v.secret_id "
	                   "WHERE s.name = 'repl' AND s.region = 'us-west-2'",
	                   -1, &st, NULL);
	bool wrapped = false;
	if (sqlite3_step(st) == SQLITE_ROW && west_key[0]) {
		const unsigned char *p = sqlite3_column_blob(st, 0);
		size_t l = (size_t)sqlite3_column_bytes(st, 0), kl = strlen(west_key);
		for (size_t j = 0; p && j + kl <= l && !wrapped; j++)
			wrapped = memcmp(p + j, west_key, kl) == 0;
	}
	ok(wrapped, "its data key is wrapped by us-west-2's aws/secretsmanager");
	sqlite3_finalize(st);
	at("us-east-1", T0 + 202);
	o = ok_run(sm_put_secret_value, J("{'SecretId':'repl','SecretString':'r2'}"), "new value on the primary");
	json_decref(o);
	at("us-west-2", T0 + 203);
	is_str(sm_get("repl", NULL), "r2", "propagated (re-encrypted) to the replica");
	at("us-east-1", T0 + 204);
	o = ok_run(sm_replicate_secret_to_regions,
	           J("{'SecretId':'repl','AddReplicaRegions':[{'Region':'eu-north-1','KmsKeyId':'alias/none'}]}"),
	           "replica under a key that does not exist there");
	json_t *rs = json_object_get(o, "ReplicationStatus");
	json_t *eu = NULL, *e;
	size_t i;
	json_array_foreach(rs, i, e) if (strcmp(str(e, "Region"), "eu-north-1") == 0) eu = e;
	ok(eu && strcmp(str(eu, "Status"), "Failed") == 0 && strstr(str(eu, "StatusMessage"), "can't encrypt"),
	   "Status Failed with Secrets Manager's reason (%s)", eu ? str(eu, "StatusMessage") : "none");
	json_decref(o);
	at("eu-north-1", T0 + 205);
	ok(!sm_get("repl", NULL), "no value in the failed replica");
}

static void test_op_table(void)
{
	const char *names[] = {"CancelKeyDeletion", "CreateAlias", "CreateKey", "Decrypt", "DeleteAlias", "DescribeKey",
	                       "DisableKey", "EnableKey", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
	                       "GenerateRandom", "GetKeyPolicy", "ListAliases", "ListKeyPolicies", "ListKeys",
	                       "ListResourceTags", "PutKeyPolicy", "ReEncrypt", "ScheduleKeyDeletion", "TagResource",
	                       "UntagResource", "UpdateAlias", "UpdateKeyDescription"};
	int found = 0;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		const struct api_op *op = kms_op_find(names[i], strlen(names[i]));
		found += op && strcmp(op->name, names[i]) == 0 && op->fn;
	}
	is_int(found, (long long)(sizeof names / sizeof names[0]), "every operation is in the sorted table");
	is_int((long long)kms_ops_count, (long long)(sizeof names / sizeof names[0]), "and nothing else");
	ok(!kms_op_find("Sign", 4) && !kms_op_find("CreateKe", 8), "unknown names are not found");
	const struct api_op *op = kms_op_find("ReEncrypt", 9);
	is_str(op ? op->iam_action : NULL, "kms:ReEncryptFrom", "ReEncrypt is authorized as kms:ReEncryptFrom");
}

static void cleanup_dir(const char *d)
{
	char p[128];
	snprintf(p, sizeof p, "%s/master.key", d);
	unlink(p);
	rmdir(d);
}

int main(void)
{
	struct emu_err err;
	if (store_open(&S, NULL, &err) < 0) {
		printf("Bail out! store_open: %s\n", err.msg);
		return 1;
	}
	test_seal();
	test_master_key();
	test_create_describe();
	test_list_keys();
	test_aliases();
	test_crypto();
	test_states();
	test_tags_policy();
	test_aws_managed();
	test_secrets_at_rest();
	test_secrets_tamper_and_replicas();
	test_op_table();
	store_close(S);
	kms_shutdown();
	cleanup_dir(dir1);
	cleanup_dir(dir2);
	return done_testing();
}
