/*
 * Unit tests for emu/model.c (validation against the generated Secrets
 * Manager and STS tables, the pattern matcher, base64) and api/jsonreq.c
 * (JSON body decoding and its limits).  Expected messages follow coral's
 * format (aws-behaviour.md 5.1 and the choices documented in emu/model.c).
 * Valid bodies come from botocore's own serializer
 * (fixtures/fuzz/jsonreq/valid_*, made by scripts/make_query_samples.py).
 */
#include "api/jsonreq.h"
#include "emu/model.h"
#include "tests/unit/tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct emu_err err;

/* Whether s is valid UTF-8 (jansson refuses anything else). */
static bool utf8ok(const char *s)
{
	json_t *j = json_string(s);
	json_decref(j);
	return j != NULL;
}

/* Decodes body and validates it for op; returns the error code (ERR_OK on
 * success), message in err.msg. */
static enum emu_err_code run(const struct model_service *svc, const char *op, const char *body)
{
	json_t *in = NULL;
	emu_err_clear(&err);
	if (jsonreq_decode(body, strlen(body), &in, &err) < 0)
		return err.code;
	int rc = model_validate(svc, op, in, &err);
	json_decref(in);
	return rc < 0 ? err.code : ERR_OK;
}

#define VALID(op, body) is_int(run(&model_sm, op, body), ERR_OK, "%s %s valid", op, body)
#define VFAIL(op, body, want)                                                                          \
	do {                                                                                           \
		is_int(run(&model_sm, op, body), ERR_VALIDATION, "%s %s: ValidationException", op, body); \
		is_str(err.msg, want, "  message");                                                    \
	} while (0)
#define SFAIL(op, body, want)                                                                          \
	do {                                                                                           \
		is_int(run(&model_sm, op, body), ERR_SERIALIZATION, "%s %s: SerializationException", op, body); \
		is_str(err.msg, want, "  message");                                                    \
	} while (0)

#define V1 "1 validation error detected: "

static const struct {
	const char *op, *msg;
} required[] = {
	{"BatchGetSecretValue", ""},
	{"CancelRotateSecret", V1 "Value null at 'secretId' failed to satisfy constraint: Member must not be null"},
	{"CreateSecret", V1 "Value null at 'name' failed to satisfy constraint: Member must not be null"},
	{"DeleteResourcePolicy", V1 "Value null at 'secretId' failed to satisfy constraint: Member must not be null"},
	{"DeleteSecret", V1 "Value null at 'secretId' failed to satisfy constraint: Member must not be null"},
	{"DescribeSecret", V1 "Value null at 'secretId' failed to satisfy constraint: Member must not be null"},
	{"GetRandomPassword", ""},
	{"GetResourcePolicy", V1 "Value null at 'secretId' failed to satisfy constraint: Member must not be null"},
	{"GetSecretValue", V1 "Value null at 'secretId' failed to satisfy constraint: Member must not be null"},
	{"ListSecretVersionIds", V1 "Value null at 'secretId' failed to satisfy constraint: Member must not be null"},
	{"ListSecrets", ""},
	{"PutResourcePolicy", "2 validation errors detected: Value null at 'secretId' failed to satisfy constraint: Member must not be null; Value null at 'resourcePolicy' failed to satisfy constraint: Member must not be null"},
	{"PutSecretValue", V1 "Value null at 'secretId' failed to satisfy constraint: Member must not be null"},
	{"RemoveRegionsFromReplication", "2 validation errors detected: Value null at 'secretId' failed to satisfy constraint: Member must not be null; Value null at 'removeReplicaRegions' failed to satisfy constraint: Member must not be null"},
	{"ReplicateSecretToRegions", "2 validation errors detected: Value null at 'secretId' failed to satisfy constraint: Member must not be null; Value null at 'addReplicaRegions' failed to satisfy constraint: Member must not be null"},
	{"RestoreSecret", V1 "Value null at 'secretId' failed to satisfy constraint: Member must not be null"},
	{"RotateSecret", V1 "Value null at 'secretId' failed to satisfy constraint: Member must not be null"},
	{"StopReplicationToReplica", V1 "Value null at 'secretId' failed to satisfy constraint: Member must not be null"},
	{"TagResource", "2 validation errors detected: Value null at 'secretId' failed to satisfy constraint: Member must not be null; Value null at 'tags' failed to satisfy constraint: Member must not be null"},
	{"UntagResource", "2 validation errors detected: Value null at 'secretId' failed to satisfy constraint: Member must not be null; Value null at 'tagKeys' failed to satisfy constraint: Member must not be null"},
	{"UpdateSecret", V1 "Value null at 'secretId' failed to satisfy constraint: Member must not be null"},
	{"UpdateSecretVersionStage", "2 validation errors detected: Value null at 'secretId' failed to satisfy constraint: Member must not be null; Value null at 'versionStage' failed to satisfy constraint: Member must not be null"},
	{"ValidateResourcePolicy", V1 "Value null at 'resourcePolicy' failed to satisfy constraint: Member must not be null"},
};

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *p = malloc(1 << 20);
	*len = p ? fread(p, 1, (1 << 20) - 1, f) : 0;
	fclose(f);
	if (p)
		p[*len] = '\0';
	return p;
}

/* A string of n copies of unit. */
static char *rep(const char *unit, size_t n)
{
	size_t u = strlen(unit);
	char *s = malloc(u * n + 1);
	if (!s)
		abort();
	for (size_t i = 0; i < n; i++)
		memcpy(s + i * u, unit, u);
	s[u * n] = '\0';
	return s;
}

static int32_t pattern_idx(const struct model_service *svc, const char *source)
{
	for (size_t i = 0; i < svc->npatterns; i++)
		if (strcmp(svc->patterns[i].source, source) == 0)
			return (int32_t)i;
	return -1000;
}

static bool pmatch(const struct model_service *svc, const char *source, const char *s)
{
	int32_t i = pattern_idx(svc, source);
	ok(i >= 0, "pattern %s is in the %s model", source, svc->name);
	return i >= 0 && model_pattern_match(svc, i, s, strlen(s));
}

static void test_tables(void)
{
	is_int(model_sm.nops, 23, "Secrets Manager has 23 operations");
	is_int(model_sm.protocol, MODEL_PROTO_JSON, "JSON protocol");
	is_int(model_sts.protocol, MODEL_PROTO_QUERY, "STS is Query");
	for (size_t i = 0; i + 1 < model_sm.nops; i++)
		ok(strcmp(model_sm.ops[i].name, model_sm.ops[i + 1].name) < 0, "ops sorted at %zu", i);
	const struct model_op *op = model_op_find(&model_sm, "GetSecretValueXX", 14);
	ok(op && strcmp(op->name, "GetSecretValue") == 0, "find by length");
	ok(!model_op_find(&model_sm, "GetSecretValu", 13), "no prefix match");
	ok(!model_op_find(&model_sm, "", 0), "empty name");
	ok(!model_op_find(&model_sm, "Get\0SecretValue", 15), "NUL in name");
	const struct model_shape *in = model_op_input(&model_sm, op);
	ok(in && in->type == MODEL_STRUCTURE && strcmp(in->name, "GetSecretValueRequest") == 0, "input shape");
	is_int(run(&model_sm, "NoSuchOp", "{}"), ERR_UNKNOWN_OPERATION, "unknown operation");
	is_int(run(&model_sm, "No\xff\x01Op", "{}"), ERR_UNKNOWN_OPERATION, "unknown operation, odd bytes");
	is_str(err.msg, "Unknown operation No??Op", "  shown as valid UTF-8");
	op = model_op_find(&model_sts, "GetCallerIdentity", 17);
	ok(op && op->input >= 0, "STS GetCallerIdentity has an (empty) input");
}

static void test_required(void)
{
	is_int(sizeof required / sizeof required[0], model_sm.nops, "every operation listed");
	for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
		enum emu_err_code want = required[i].msg[0] ? ERR_VALIDATION : ERR_OK;
		is_int(run(&model_sm, required[i].op, "{}"), want, "%s {}", required[i].op);
		if (want)
			is_str(err.msg, required[i].msg, "  message");
		emu_err_clear(&err);
		int rc = model_validate(&model_sm, required[i].op, NULL, &err);
		ok(want ? rc < 0 && strcmp(err.msg, required[i].msg) == 0 : rc == 0, "%s NULL request = {}",
		   required[i].op);
		/* null members are absent */
		if (strstr(required[i].msg, "'secretId'"))
			is_int(run(&model_sm, required[i].op, "{\"SecretId\": null}"), ERR_VALIDATION, "  SecretId null");
	}
}

static void test_fixtures(void)
{
	char path[256];
	for (size_t i = 0; i < model_sm.nops; i++) {
		for (int full = 0; full < 2; full++) {
			snprintf(path, sizeof path, "fixtures/fuzz/jsonreq/valid_%s_%s.json", model_sm.ops[i].name,
				 full ? "full" : "min");
			size_t len;
			char *body = slurp(path, &len);
			ok(body != NULL, "read %s", path);
			if (!body)
				continue;
			is_int(run(&model_sm, model_sm.ops[i].name, body), ERR_OK, "botocore's %s %s passes",
			       model_sm.ops[i].name, full ? "full" : "min");
			if (err.code)
				printf("#   %s\n", err.msg);
			free(body);
		}
	}
}

static void test_constraints(void)
{
	/* aws-behaviour.md 5.1, verbatim */
	VFAIL("GetRandomPassword", "{\"PasswordLength\": 5000}",
	      V1 "Value '5000' at 'passwordLength' failed to satisfy constraint: Member must have value less than or equal to 4096");
	VFAIL("GetRandomPassword", "{\"PasswordLength\": 0}",
	      V1 "Value '0' at 'passwordLength' failed to satisfy constraint: Member must have value greater than or equal to 1");
	VALID("GetRandomPassword", "{\"PasswordLength\": 4096, \"ExcludeCharacters\": \"\"}");
	/* a Long takes 64-bit values and shows them */
	VFAIL("GetRandomPassword", "{\"PasswordLength\": -9223372036854775808}",
	      V1 "Value '-9223372036854775808' at 'passwordLength' failed to satisfy constraint: Member must have value greater than or equal to 1");
	/* an Integer beyond 32 bits: no value, as Athena answers */
	VFAIL("ListSecrets", "{\"MaxResults\": 99999999999}",
	      V1 "Value at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 100");
	VFAIL("ListSecrets", "{\"MaxResults\": -99999999999}",
	      V1 "Value at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1");

	/* lengths */
	VFAIL("CreateSecret", "{\"Name\": \"\"}",
	      V1 "Value '' at 'name' failed to satisfy constraint: Member must have length greater than or equal to 1");
	char *name = rep("n", 513), body[8192];
	snprintf(body, sizeof body, "{\"Name\": \"%s\"}", name);
	is_int(run(&model_sm, "CreateSecret", body), ERR_VALIDATION, "513-character name");
	char want[1024];
	snprintf(want, sizeof want,
		 V1 "Value '%.200s...' at 'name' failed to satisfy constraint: Member must have length less than or equal to 512",
		 name);
	is_str(err.msg, want, "  value cut at 200 bytes");
	name[512] = '\0';
	snprintf(body, sizeof body, "{\"Name\": \"%s\"}", name);
	VALID("CreateSecret", body);
	free(name);
	/* code points, not bytes: 2048 x U+00E9 is 4096 bytes and fits SecretId */
	char *e = rep("\xc3\xa9", 2049);
	snprintf(body, sizeof body, "{\"SecretId\": \"%s\"}", e + 2);
	VALID("DescribeSecret", body);
	snprintf(body, sizeof body, "{\"SecretId\": \"%s\"}", e);
	is_int(run(&model_sm, "DescribeSecret", body), ERR_VALIDATION, "2049 code points");
	ok(strstr(err.msg, "...' at 'secretId' failed to satisfy constraint: Member must have length less than or equal to 2048") != NULL,
	   "  cut on a character boundary: %s", err.msg + 200);
	ok(utf8ok(err.msg), "  message is valid UTF-8");
	free(e);
	VFAIL("GetSecretValue", "{\"SecretId\": \"s\", \"VersionId\": \"short\"}",
	      V1 "Value 'short' at 'versionId' failed to satisfy constraint: Member must have length greater than or equal to 32");

	/* enums, several errors in model order */
	VFAIL("ListSecrets", "{\"SortOrder\": \"up\"}",
	      V1 "Value 'up' at 'sortOrder' failed to satisfy constraint: Member must satisfy enum value set: [asc, desc]");
	VFAIL("ListSecrets", "{\"SortBy\": \"size\", \"SortOrder\": \"up\", \"NextToken\": \"\", \"MaxResults\": 0}",
	      "4 validation errors detected: "
	      "Value '0' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1; "
	      "Value '' at 'nextToken' failed to satisfy constraint: Member must have length greater than or equal to 1; "
	      "Value 'up' at 'sortOrder' failed to satisfy constraint: Member must satisfy enum value set: [asc, desc]; "
	      "Value 'size' at 'sortBy' failed to satisfy constraint: Member must satisfy enum value set: [created-date, last-accessed-date, last-changed-date, name]");
	VALID("ListSecrets", "{\"SortBy\": \"name\", \"SortOrder\": \"desc\", \"MaxResults\": 100}");

	/* patterns, nested structure path */
	VFAIL("RotateSecret", "{\"SecretId\": \"s\", \"RotationRules\": {\"Duration\": \"5d\"}}",
	      V1 "Value '5d' at 'rotationRules.duration' failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9]+h");
	VFAIL("RotateSecret", "{\"SecretId\": \"s\", \"RotationRules\": {\"Duration\": \"\"}}",
	      "2 validation errors detected: "
	      "Value '' at 'rotationRules.duration' failed to satisfy constraint: Member must have length greater than or equal to 2; "
	      "Value '' at 'rotationRules.duration' failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9]+h");
	VFAIL("RotateSecret", "{\"SecretId\": \"s\", \"RotationRules\": {\"Duration\": \"123h\"}}",
	      V1 "Value '123h' at 'rotationRules.duration' failed to satisfy constraint: Member must have length less than or equal to 3");
	VFAIL("RotateSecret", "{\"SecretId\": \"s\", \"RotationRules\": {\"AutomaticallyAfterDays\": 1001, \"ScheduleExpression\": \"rate(1 day);\"}}",
	      "2 validation errors detected: "
	      "Value '1001' at 'rotationRules.automaticallyAfterDays' failed to satisfy constraint: Member must have value less than or equal to 1000; "
	      "Value 'rate(1 day);' at 'rotationRules.scheduleExpression' failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9A-Za-z\\(\\)#\\?\\*\\-\\/, ]+");
	VALID("RotateSecret", "{\"SecretId\": \"s\", \"RotationRules\": {\"Duration\": \"12h\", \"ScheduleExpression\": \"cron(0 12 * * ? *)\"}}");
	VFAIL("ReplicateSecretToRegions", "{\"SecretId\": \"s\", \"AddReplicaRegions\": [{\"Region\": \"us-east-1\"}, {\"Region\": \"Mars\"}]}",
	      V1 "Value 'Mars' at 'addReplicaRegions.2.member.region' failed to satisfy constraint: Member must satisfy regular expression pattern: ^([a-z]+-)+\\d+$");

	/* sensitive values are never shown */
	VFAIL("PutSecretValue", "{\"SecretId\": \"s\", \"SecretString\": \"\"}",
	      V1 "Value at 'secretString' failed to satisfy constraint: Member must have length greater than or equal to 1");
	VFAIL("PutSecretValue", "{\"SecretId\": \"s\", \"RotationToken\": \"bad token!\"}",
	      "2 validation errors detected: "
	      "Value at 'rotationToken' failed to satisfy constraint: Member must have length greater than or equal to 36; "
	      "Value at 'rotationToken' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9\\-]+$");
	VFAIL("CreateSecret", "{\"Name\": \"n\", \"SecretBinary\": \"\"}",
	      V1 "Value at 'secretBinary' failed to satisfy constraint: Member must have length greater than or equal to 1");
	char *big = rep("AAAA", 21846); /* 65538 bytes decoded */
	char *bb = malloc(strlen(big) + 64);
	if (!bb)
		abort();
	sprintf(bb, "{\"Name\": \"n\", \"SecretBinary\": \"%s\"}", big);
	VFAIL("CreateSecret", bb,
	      V1 "Value at 'secretBinary' failed to satisfy constraint: Member must have length less than or equal to 65536");
	sprintf(bb, "{\"Name\": \"n\", \"SecretBinary\": \"%s\"}", big + 8); /* 65532 bytes */
	VALID("CreateSecret", bb);
	free(big);
	free(bb);
	VALID("CreateSecret", "{\"Name\": \"n\", \"SecretBinary\": \"aQ==\"}");

	/* lists of structures: tags.1.member.key */
	VFAIL("TagResource", "{\"SecretId\": \"s\", \"Tags\": [{\"Key\": \"k\"}, {\"Key\": \"\", \"Value\": \"v\"}]}",
	      V1 "Value '' at 'tags.2.member.key' failed to satisfy constraint: Member must have length greater than or equal to 1");
	VFAIL("ReplicateSecretToRegions", "{\"SecretId\": \"s\", \"AddReplicaRegions\": [null]}",
	      V1 "Value null at 'addReplicaRegions.1.member' failed to satisfy constraint: Member must not be null");
	VFAIL("ReplicateSecretToRegions", "{\"SecretId\": \"s\", \"AddReplicaRegions\": []}",
	      V1 "Value '[]' at 'addReplicaRegions' failed to satisfy constraint: Member must have length greater than or equal to 1");
	VALID("TagResource", "{\"SecretId\": \"s\", \"Tags\": []}");

	/* lists of scalars: one entry for the list, every element constraint */
	VFAIL("UntagResource", "{\"SecretId\": \"s\", \"TagKeys\": [\"ok\", \"\"]}",
	      V1 "Value '[ok, ]' at 'tagKeys' failed to satisfy constraint: Member must satisfy constraint: "
	      "[Member must have length less than or equal to 128, Member must have length greater than or equal to 1]");
	VFAIL("UntagResource", "{\"SecretId\": \"s\", \"TagKeys\": [\"ok\", null]}",
	      V1 "Value '[ok, null]' at 'tagKeys' failed to satisfy constraint: Member must satisfy constraint: "
	      "[Member must have length less than or equal to 128, Member must have length greater than or equal to 1, Member must not be null]");
	VFAIL("BatchGetSecretValue", "{\"SecretIdList\": []}",
	      V1 "Value '[]' at 'secretIdList' failed to satisfy constraint: Member must have length greater than or equal to 1");
	VFAIL("BatchGetSecretValue",
	      "{\"SecretIdList\": [\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"j\",\"k\",\"l\",\"m\",\"n\",\"o\",\"p\",\"q\",\"r\",\"s\",\"t\",\"u\"]}",
	      V1 "Value '[a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q, r, s, t, u]' at 'secretIdList' failed to satisfy constraint: Member must have length less than or equal to 20");
	VFAIL("BatchGetSecretValue", "{\"Filters\": [{\"Key\": \"bogus\", \"Values\": [\"!ok\", \"bad;\"]}]}",
	      "2 validation errors detected: "
	      "Value 'bogus' at 'filters.1.member.key' failed to satisfy constraint: Member must satisfy enum value set: "
	      "[description, name, tag-key, tag-value, primary-region, owning-service, all]; "
	      "Value '[!ok, bad;]' at 'filters.1.member.values' failed to satisfy constraint: Member must satisfy constraint: "
	      "[Member must have length less than or equal to 512, Member must satisfy regular expression pattern: ^\\!?[a-zA-Z0-9 :_@\\/\\+\\=\\.\\-\\!]*$]");
	VALID("BatchGetSecretValue", "{\"Filters\": [{\"Key\": \"tag-key\", \"Values\": [\"!env\", \"a b:c@d/e+f=g.h-i\"]}]}");

	/* control characters in a shown value */
	VFAIL("ListSecrets", "{\"SortOrder\": \"a\\u0001\\n\\u007f\\u00e9\"}",
	      V1 "Value 'a\?\?\?\xc3\xa9' at 'sortOrder' failed to satisfy constraint: Member must satisfy enum value set: [asc, desc]");

	/* unknown members are ignored, whatever their type */
	VALID("DescribeSecret", "{\"SecretId\": \"s\", \"Bogus\": {\"a\": [1, {}]}, \"secretId\": 5}");

	/* many violations: the count covers all, the text stops when full */
	char many[16384] = "{\"Filters\": [";
	for (int i = 0; i < 10; i++)
		snprintf(many + strlen(many), sizeof many - strlen(many), "%s{\"Key\": \"bogus-%d-%s\"}", i ? "," : "", i,
			 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	strcat(many, "]}");
	is_int(run(&model_sm, "BatchGetSecretValue", many), ERR_VALIDATION, "ten bad filters");
	ok(strncmp(err.msg, "10 validation errors detected: Value 'bogus-0-", 46) == 0, "  count covers all");
	size_t ml = strlen(err.msg);
	ok(ml < EMU_ERR_MSG_MAX && ml > 5 && strcmp(err.msg + ml - 5, "; ...") == 0, "  ends with '; ...' (%zu bytes)", ml);
	ok(utf8ok(err.msg), "  valid UTF-8");
}

static void test_types(void)
{
	SFAIL("ListSecrets", "{\"MaxResults\": \"1\"}", "STRING_VALUE can not be converted to an Integer");
	SFAIL("ListSecrets", "{\"MaxResults\": true}", "TRUE_VALUE can not be converted to an Integer");
	SFAIL("ListSecrets", "{\"MaxResults\": 1.5}", "DECIMAL_VALUE can not be converted to an Integer");
	SFAIL("ListSecrets", "{\"MaxResults\": [1]}", "Start of list found where not expected");
	SFAIL("ListSecrets", "{\"MaxResults\": {\"a\": 1}}", "Start of structure or map found where not expected.");
	SFAIL("GetRandomPassword", "{\"PasswordLength\": \"x\"}", "STRING_VALUE can not be converted to a Long");
	SFAIL("DescribeSecret", "{\"SecretId\": 1}", "NUMBER_VALUE can not be converted to a String");
	SFAIL("DescribeSecret", "{\"SecretId\": false}", "FALSE_VALUE can not be converted to a String");
	SFAIL("DescribeSecret", "{\"SecretId\": []}", "Start of list found where not expected");
	SFAIL("DescribeSecret", "{\"SecretId\": {}}", "Start of structure or map found where not expected.");
	SFAIL("RotateSecret", "{\"SecretId\": \"s\", \"RotationRules\": \"x\"}", "Expected null");
	SFAIL("RotateSecret", "{\"SecretId\": \"s\", \"RotationRules\": []}", "Start of list found where not expected");
	SFAIL("UntagResource", "{\"SecretId\": \"s\", \"TagKeys\": \"x\"}", "Expected list or null");
	SFAIL("UntagResource", "{\"SecretId\": \"s\", \"TagKeys\": {}}", "Start of structure or map found where not expected.");
	SFAIL("UntagResource", "{\"SecretId\": \"s\", \"TagKeys\": [\"a\", 1]}", "NUMBER_VALUE can not be converted to a String");
	SFAIL("TagResource", "{\"SecretId\": \"s\", \"Tags\": [{\"Key\": 1}]}", "NUMBER_VALUE can not be converted to a String");
	SFAIL("TagResource", "{\"SecretId\": \"s\", \"Tags\": [\"k\"]}", "Expected null");
	SFAIL("ListSecrets", "{\"IncludePlannedDeletion\": \"true\"}", "STRING_VALUE can not be converted to a Boolean");
	SFAIL("ListSecrets", "{\"IncludePlannedDeletion\": 1}", "NUMBER_VALUE can not be converted to a Boolean");
	SFAIL("CreateSecret", "{\"Name\": \"n\", \"SecretBinary\": 5}", "only base-64-encoded strings are convertible to bytes");
	SFAIL("CreateSecret", "{\"Name\": \"n\", \"SecretBinary\": \"abc\"}",
	      "Base64 encoded length is expected a multiple of 4 bytes but found: 3");
	SFAIL("CreateSecret", "{\"Name\": \"n\", \"SecretBinary\": \"ab$=\"}", "Invalid Base64 character detected");
	SFAIL("CreateSecret", "{\"Name\": \"n\", \"SecretBinary\": \"a=b=\"}", "Invalid Base64 character detected");
	SFAIL("CreateSecret", "{\"Name\": \"n\", \"SecretBinary\": \"ab+=\"}", "Invalid last non-pad Base64 character dectected");
	SFAIL("CreateSecret", "{\"Name\": \"n\", \"SecretBinary\": \"ab==\"}", "Invalid last non-pad Base64 character dectected");
	/* a type error anywhere wins over constraint violations before it */
	SFAIL("ListSecretVersionIds", "{\"SecretId\": \"\", \"MaxResults\": \"1\"}", "STRING_VALUE can not be converted to an Integer");
	SFAIL("UntagResource", "{\"TagKeys\": [\"\", true]}", "TRUE_VALUE can not be converted to a String");

	/* the root */
	json_t *a = json_array(), *s = json_string("x");
	emu_err_clear(&err);
	ok(model_validate(&model_sm, "ListSecrets", a, &err) < 0 && err.code == ERR_SERIALIZATION &&
		   strcmp(err.msg, "Start of list found where not expected") == 0,
	   "array root");
	emu_err_clear(&err);
	ok(model_validate(&model_sm, "ListSecrets", s, &err) < 0 && err.code == ERR_SERIALIZATION, "string root");
	json_decref(a);
	json_decref(s);
	json_t *n = json_integer(5);
	emu_err_clear(&err);
	ok(model_validate_shape(&model_sm, 5000, "", n, &err) < 0 && err.code == ERR_INTERNAL, "bad shape index");
	json_decref(n);
}

static void test_patterns(void)
{
	const char *region = "^([a-z]+-)+\\d+$";
	ok(pmatch(&model_sm, region, "us-east-1"), "region us-east-1");
	ok(pmatch(&model_sm, region, "a-1"), "region a-1");
	ok(!pmatch(&model_sm, region, "us-east-"), "region us-east-");
	ok(!pmatch(&model_sm, region, "US-east-1"), "region upper case");
	ok(!pmatch(&model_sm, region, "-1"), "region -1");
	ok(!pmatch(&model_sm, region, ""), "region empty");
	ok(!pmatch(&model_sm, region, "us-east-1\n"), "region trailing newline");
	ok(pmatch(&model_sm, "[0-9]+h", "12h"), "duration 12h");
	ok(!pmatch(&model_sm, "[0-9]+h", "h"), "duration h");
	ok(!pmatch(&model_sm, "[0-9]+h", "12hh"), "full match, not search");
	ok(!pmatch(&model_sm, "[0-9]+h", "x12h"), "anchored at the start");
	const char *fv = "^\\!?[a-zA-Z0-9 :_@\\/\\+\\=\\.\\-\\!]*$";
	ok(pmatch(&model_sm, fv, ""), "filter value empty");
	ok(pmatch(&model_sm, fv, "!abc"), "filter value !abc");
	ok(!pmatch(&model_sm, fv, "abc;"), "filter value abc;");
	ok(!pmatch(&model_sm, fv, "\xc3\xa9"), "filter value non-ASCII");
	const char *se = "[0-9A-Za-z\\(\\)#\\?\\*\\-\\/, ]+";
	ok(pmatch(&model_sm, se, "rate(10 days)"), "rate()");
	ok(pmatch(&model_sm, se, "cron(0 12 * * ? *)"), "cron()");
	ok(!pmatch(&model_sm, se, "\xe2\x82\xac"), "euro sign");
	ok(pmatch(&model_sm, "^[a-zA-Z0-9\\-]+$", "0123-abcd"), "rotation token");
	/* STS: a wide Unicode class (the model's \u10000 reads as \u1000 '0', as Java reads it) */
	const char *wide = "[\\u0009\\u000A\\u000D\\u0020-\\u00FF]+";
	ok(pmatch(&model_sts, wide, "h\xc3\xa9llo\tx"), "latin-1 class");
	ok(!pmatch(&model_sts, wide, "a\x01"), "control character");
	ok(!pmatch(&model_sts, wide, "\xe2\x82\xac"), "beyond U+00FF");
	const char *any = "[\\u0009\\u000A\\u000D\\u0020-\\u007E\\u0085\\u00A0-\\uD7FF\\uE000-\\uFFFD\\u10000-\\u10FFFF]+";
	ok(pmatch(&model_sts, any, "\xe2\x82\xac policy"), "BMP character");
	ok(!pmatch(&model_sts, any, "\xf0\x9f\x98\x80"), "supplementary character (as Java reads the model)");
	ok(pmatch(&model_sts, "[\\w+=,.@-]*", "Session_1@x.y"), "\\w class");
	ok(!pmatch(&model_sts, "[\\w+=,.@-]*", "s p"), "space outside \\w");
	ok(pmatch(&model_sts, "[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+", "\x01 anything"), "unchecked pattern never fails");
	ok(model_pattern_match(&model_sm, -1, "x", 1), "no pattern");
	ok(!pmatch(&model_sm, region, "us-east-\xff"), "invalid UTF-8 byte");
	ok(!pmatch(&model_sm, region, "us-east-\xe2\x82"), "truncated UTF-8");

	is_int(model_utf8_len("", 0), 0, "utf8_len empty");
	is_int(model_utf8_len("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 10), 4, "utf8_len mixed");

	size_t n = 99;
	ok(model_base64_len("", 0, &n, &err) == 0 && n == 0, "base64 empty");
	ok(model_base64_len("QUJD", 4, &n, &err) == 0 && n == 3, "base64 ABC");
	ok(model_base64_len("QUI=", 4, &n, &err) == 0 && n == 2, "base64 AB");
	ok(model_base64_len("QQ==", 4, &n, &err) == 0 && n == 1, "base64 A");
	ok(model_base64_len("Q===", 4, &n, &err) < 0, "base64 three pads");
	ok(model_base64_len("QUJD\n", 5, &n, &err) < 0, "base64 newline");
	ok(model_base64_len("QU-_", 4, &n, &err) < 0, "base64url alphabet");
}

static void test_jsonreq(void)
{
	json_t *j = NULL;
	ok(jsonreq_decode("", 0, &j, &err) == 0 && json_is_object(j) && json_object_size(j) == 0, "empty body is {}");
	json_decref(j);
	ok(jsonreq_decode(" \r\n\t", 4, &j, &err) == 0 && json_is_object(j), "whitespace body is {}");
	json_decref(j);
	ok(jsonreq_decode("{\"a\": 1, \"a\": 2}", 16, &j, &err) == 0 && json_integer_value(json_object_get(j, "a")) == 2,
	   "duplicate keys: the last wins");
	json_decref(j);

	static const struct {
		const char *body, *msg;
	} bad[] = {
		{"{", "Unexpected end of input"},
		{"{\"a\": 1,}", "Invalid JSON"},
		{"{\"a\": 1} x", "Unexpected data after the JSON value"},
		{"[]", "Start of list found where not expected"},
		{"null", "The request body must be a JSON object"},
		{"\"x\"", "The request body must be a JSON object"},
		{"{\"a\": \"\\x41\"}", "Invalid JSON"},
		{"{\"a\": \"\xff\"}", "Invalid UTF-8 in the request"},
		{"{\"a\": \"\\u0000\"}", "NUL characters are not accepted"},
		{"{\"a\": 123456789012345678901234567890}", "Number out of range"},
		{"{\"a\": 1e999}", "Number out of range"},
		{"{\"secret\": \"hunter2\" oops}", "Invalid JSON"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		emu_err_clear(&err);
		j = json_true(); /* must be reset to NULL (json_true is a singleton) */
		int rc = jsonreq_decode(bad[i].body, strlen(bad[i].body), &j, &err);
		ok(rc < 0 && j == NULL && err.code == ERR_SERIALIZATION, "bad body %zu rejected", i);
		is_str(err.msg, bad[i].msg, "  message");
		ok(!strstr(err.msg, "hunter2"), "  the body is never quoted");
	}

	/* depth */
	char deep[256];
	for (int d = 31; d <= 33; d++) {
		size_t o = 0;
		for (int i = 0; i < d; i++)
			o += (size_t)sprintf(deep + o, i ? "[" : "{\"a\":");
		deep[o++] = '1';
		for (int i = 0; i < d; i++)
			deep[o++] = i < d - 1 ? ']' : '}';
		deep[o] = '\0';
		int rc = jsonreq_decode(deep, o, &j, &err);
		if (d <= 32)
			ok(rc == 0, "depth %d accepted", d);
		else
			ok(rc < 0 && strcmp(err.msg, "The request is nested deeper than 32 levels") == 0, "depth %d rejected", d);
		json_decref(j);
	}
	const char *br = "{\"a\": \"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"}";
	ok(jsonreq_decode(br, strlen(br), &j, &err) == 0, "brackets in strings do not count");
	json_decref(j);
	br = "{\"a\": \"\\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"}";
	ok(jsonreq_decode(br, strlen(br), &j, &err) == 0, "escaped quote stays in the string");
	json_decref(j);

	/* items */
	size_t cap = 10001 * 2 + 64;
	char *many = malloc(cap);
	if (!many)
		abort();
	for (int count = 9999; count <= 10000; count++) {
		size_t o = (size_t)sprintf(many, "{\"a\": [");
		for (int i = 0; i < count; i++)
			many[o++] = '1', many[o++] = ',';
		many[o - 1] = ']';
		many[o++] = '}';
		int rc = jsonreq_decode(many, o, &j, &err);
		if (count == 9999)
			ok(rc == 0 && json_array_size(json_object_get(j, "a")) == 9999, "9,999 elements accepted");
		else
			ok(rc < 0 && strcmp(err.msg, "The request has more than 10000 elements") == 0, "10,000 elements rejected");
		json_decref(j);
	}
	free(many);

	/* string length */
	size_t big = JSONREQ_MAX_STRING + 16;
	char *s = malloc(big + 16);
	if (!s)
		abort();
	for (size_t limit = JSONREQ_MAX_STRING; limit <= JSONREQ_MAX_STRING + 1; limit++) {
		size_t o = (size_t)sprintf(s, "{\"a\": \"");
		memset(s + o, 'x', limit);
		o += limit;
		o += (size_t)sprintf(s + o, "\"}");
		int rc = jsonreq_decode(s, o, &j, &err);
		if (limit == JSONREQ_MAX_STRING)
			ok(rc == 0, "a 1 MiB string is accepted");
		else
			ok(rc < 0 && err.code == ERR_SERIALIZATION, "a longer string is rejected");
		json_decref(j);
	}
	free(s);
	ok(jsonreq_decode("{}", JSONREQ_MAX_BODY + 1, &j, &err) < 0 && err.code == ERR_REQUEST_TOO_LARGE,
	   "body over the limit");
}

/*
 * A hand-made model for what Secrets Manager lacks: a map with key and
 * value constraints, a sensitive member inside a shown structure, doubles
 * and timestamps.
 */
static const struct model_member t_members[] = {
	{"Items", "Items", "items", 1, 0},
	{"Labels", "Labels", "labels", 4, 0},
	{"Size", "Size", "size", 6, 0},
	{"When", "When", "when", 7, 0},
	{"Nested", "Nested", "nested", 8, 0},
	{"User", "User", "user", 5, MODEL_M_REQUIRED},
	{"Password", "Password", "password", 3, 0},
	{"Lst", "Lst", "lst", 11, 0},
	{"M", "M", "m", 9, 0},
};
static const char *const t_enums[] = {"a", "b"};
static const struct model_shape t_shapes[] = {
	[0] = {.name = "Root", .type = MODEL_STRUCTURE, .members = 0, .nmembers = 5, .pattern = -1},
	[1] = {.name = "Creds", .type = MODEL_LIST, .flags = MODEL_F_HAS_MAX, .max = 1, .item = 2, .item_name = "member", .pattern = -1},
	[2] = {.name = "Cred", .type = MODEL_STRUCTURE, .members = 5, .nmembers = 2, .pattern = -1},
	[3] = {.name = "Pw", .type = MODEL_STRING, .flags = MODEL_F_SENSITIVE, .pattern = -1},
	[4] = {.name = "Labels", .type = MODEL_MAP, .flags = MODEL_F_HAS_MAX, .max = 2, .item = 5, .value = 5, .item_name = "key", .value_name = "value", .pattern = -1},
	[5] = {.name = "Str", .type = MODEL_STRING, .flags = MODEL_F_HAS_MIN | MODEL_F_HAS_MAX, .min = 1, .max = 3, .enums = 0, .nenum = 2, .pattern = -1},
	[6] = {.name = "Dbl", .type = MODEL_DOUBLE, .flags = MODEL_F_HAS_MIN | MODEL_F_HAS_MAX, .min = 1, .max = 10, .pattern = -1},
	[7] = {.name = "Ts", .type = MODEL_TIMESTAMP, .pattern = -1},
	[8] = {.name = "Nested", .type = MODEL_MAP, .item = 5, .value = 1, .item_name = "key", .value_name = "value", .pattern = -1},
	[9] = {.name = "SecretKeys", .type = MODEL_MAP, .item = 3, .value = 5, .item_name = "key", .value_name = "value", .pattern = -1},
	[10] = {.name = "Wrap", .type = MODEL_STRUCTURE, .members = 7, .nmembers = 1, .pattern = -1},
	[11] = {.name = "Lst", .type = MODEL_LIST, .flags = MODEL_F_HAS_MAX, .max = 1, .item = 12, .item_name = "member", .pattern = -1},
	[12] = {.name = "Inner", .type = MODEL_STRUCTURE, .members = 8, .nmembers = 1, .pattern = -1},
};
static const struct model_op t_ops[] = {{"Op", 0}, {"Op2", 10}};
static const struct model_service t_svc = {
	.name = "test", .api_version = "1", .protocol = MODEL_PROTO_JSON, .ops = t_ops, .nops = 2,
	.shapes = t_shapes, .nshapes = 13, .members = t_members, .enums = t_enums,
};

static void test_handmade(void)
{
#define T(body, code, want)                                                                            \
	do {                                                                                           \
		is_int(run(&t_svc, "Op", body), code, "%s", body);                                     \
		if (code)                                                                              \
			is_str(err.msg, want, "  message");                                            \
	} while (0)
	T("{\"Items\": [{\"User\": \"a\", \"Password\": \"p\"}, {\"User\": \"b\"}]}", ERR_VALIDATION,
	  V1 "Value '[{User: a, Password: *** Sensitive Data Redacted ***}, {User: b}]' at 'items' failed to satisfy constraint: Member must have length less than or equal to 1");
	T("{\"Items\": [{\"Password\": \"p\"}]}", ERR_VALIDATION,
	  V1 "Value null at 'items.1.member.user' failed to satisfy constraint: Member must not be null");
	T("{\"Labels\": {\"a\": \"b\"}}", ERR_OK, "");
	T("{\"Labels\": {\"a\": \"b\", \"b\": \"a\", \"c\": \"a\"}}", ERR_VALIDATION,
	  "2 validation errors detected: "
	  "Value '{a=b, b=a, c=a}' at 'labels' failed to satisfy constraint: Member must have length less than or equal to 2; "
	  "Value '{a=b, b=a, c=a}' at 'labels' failed to satisfy constraint: Map keys must satisfy constraint: "
	  "[Member must have length less than or equal to 3, Member must have length greater than or equal to 1, Member must satisfy enum value set: [a, b]]");
	T("{\"Labels\": {\"a\": \"zz\", \"b\": null}}", ERR_VALIDATION,
	  V1 "Value '{a=zz, b=null}' at 'labels' failed to satisfy constraint: Map value must satisfy constraint: "
	  "[Member must have length less than or equal to 3, Member must have length greater than or equal to 1, Member must satisfy enum value set: [a, b], Member must not be null]");
	T("{\"Labels\": {\"a\": 1}}", ERR_SERIALIZATION, "NUMBER_VALUE can not be converted to a String");
	T("{\"Labels\": []}", ERR_SERIALIZATION, "Start of list found where not expected");
	T("{\"Labels\": \"x\"}", ERR_SERIALIZATION, "Expected map or null");
	T("{\"Nested\": {\"a\": [{\"User\": \"zzz\"}]}}", ERR_VALIDATION,
	  V1 "Value 'zzz' at 'nested.a.1.member.user' failed to satisfy constraint: Member must satisfy enum value set: [a, b]");
	T("{\"Size\": 10.5, \"When\": 1523477145.713}", ERR_VALIDATION,
	  V1 "Value '10.5' at 'size' failed to satisfy constraint: Member must have value less than or equal to 10");
	T("{\"Size\": 1, \"When\": 1523477145}", ERR_OK, "");
	T("{\"When\": \"2024-01-01T00:00:00Z\"}", ERR_SERIALIZATION, "STRING_VALUE can not be converted to a Timestamp");
	T("{\"Size\": false}", ERR_SERIALIZATION, "FALSE_VALUE can not be converted to a Double");
	is_int(run(&t_svc, "Op2", "{\"Lst\": [{\"M\": {\"topsecret\": \"a\"}}, {\"M\": {}}]}"), ERR_VALIDATION,
	       "sensitive map keys inside a shown value");
	is_str(err.msg,
	       V1 "Value '[{M: {*** Sensitive Data Redacted ***=a}}, {M: {}}]' at 'lst' failed to satisfy constraint: "
	       "Member must have length less than or equal to 1",
	       "  message");
#undef T
}

int main(void)
{
	test_tables();
	test_required();
	test_fixtures();
	test_constraints();
	test_types();
	test_patterns();
	test_jsonreq();
	test_handmade();
	return done_testing();
}
