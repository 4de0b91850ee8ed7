/*
 * Unit tests for the Secrets Manager domain (emu/secrets*.c) against an
 * in-memory store: every operation's success and error paths with exact
 * codes and messages, the staging-label state machine, ClientRequestToken
 * idempotency, SecretId resolution, deletion and restore, filters and
 * pagination, replication, rotation bookkeeping (no processes), schedules,
 * and robustness against ill-typed input.
 */
#include "api/api.h"
#include "emu/clock.h"
#include "emu/kms.h"
#include "emu/secrets.h"
#include "emu/store.h"
#include "tests/unit/tap.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ACCT "123456789012"
#define T0 1700000000.0 /* 2023-11-14T22:13:20Z */
#define DAY 86400.0

static struct store *S;
static struct emu_call C;
static struct emu_err E;

static void at(const char *region, double now)
{
	C = (struct emu_call){.store = S, .account = ACCT, .region = region, .principal_arn = "arn:aws:iam::" ACCT ":root",
	                      .user_id = ACCT, .access_key_id = "test", .request_id = "req", .now = now};
}

/* JSON from a printf template written with ' for " (values must not contain '). */
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
	json_t *j = json_loads(buf, JSON_ALLOW_NUL, &je);
	if (!j)
		printf("# bad test JSON: %s: %s\n", buf, je.text);
	return j;
}

/* Runs fn; returns its output (NULL on failure, with E set). */
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

static char *dup_str(json_t *o, const char *k)
{
	const char *s = str(o, k);
	return s ? strdup(s) : NULL;
}

/* Labels of version vid in DescribeSecret's VersionIdsToStages, as "A,B". */
static const char *labels(const char *id, const char *vid)
{
	static char buf[256];
	buf[0] = '\0';
	json_t *d = run(sm_describe_secret, J("{'SecretId':'%s'}", id));
	json_t *a = json_object_get(json_object_get(d, "VersionIdsToStages"), vid);
	size_t i;
	json_t *e;
	json_array_foreach(a, i, e) {
		if (i)
			strcat(buf, ",");
		strcat(buf, json_string_value(e));
	}
	json_decref(d);
	return buf;
}

static const char *get_value(const char *id)
{
	static char buf[256];
	json_t *o = run(sm_get_secret_value, J("{'SecretId':'%s'}", id));
	snprintf(buf, sizeof buf, "%s", o ? (str(o, "SecretString") ? str(o, "SecretString") : "(binary)") : "(error)");
	json_decref(o);
	return buf;
}

#define TOK(c) c c c c c c c c "-" c c c c "-" c c c c "-" c c c c "-" c c c c c c c c c c c c /* 36 chars */

static void test_create_get(void)
{
	at("us-east-1", T0);
	json_t *o = ok_run(sm_create_secret,
	                   J("{'Name':'app/db','SecretString':'{\\'password\\':\\'p1\\'}','ClientRequestToken':'%s',"
	                     "'Description':'Main DB'}",
	                     TOK("a")),
	                   "CreateSecret with a value");
	const char *arn = str(o, "ARN");
	const char *want = "arn:aws:secretsmanager:us-east-1:" ACCT ":secret:app/db-";
	size_t wl = strlen(want);
	ok(arn && strncmp(arn, want, wl) == 0 && strlen(arn) == wl + 6,
	   "ARN = prefix + name + '-' + 6 characters (%s)", arn ? arn : "");
	bool alnum = arn != NULL;
	for (size_t i = wl; alnum && i < wl + 6; i++)
		alnum = (arn[i] >= 'a' && arn[i] <= 'z') || (arn[i] >= 'A' && arn[i] <= 'Z') || (arn[i] >= '0' && arn[i] <= '9');
	ok(alnum, "random suffix is alphanumeric");
	is_str(str(o, "VersionId"), TOK("a"), "VersionId is the ClientRequestToken");
	is_str(str(o, "Name"), "app/db", "Name");
	char *full = dup_str(o, "ARN");
	json_decref(o);

	o = ok_run(sm_get_secret_value, J("{'SecretId':'app/db'}"), "GetSecretValue by name");
	is_str(str(o, "SecretString"), "{\"password\":\"p1\"}", "SecretString");
	is_str(str(o, "ARN"), full, "ARN in GetSecretValue");
	ok(json_is_real(json_object_get(o, "CreatedDate")) &&
	       fabs(json_real_value(json_object_get(o, "CreatedDate")) - T0) < 0.001,
	   "CreatedDate is epoch seconds (real)");
	ok(json_array_size(json_object_get(o, "VersionStages")) == 1 &&
	       strcmp(json_string_value(json_array_get(json_object_get(o, "VersionStages"), 0)), "AWSCURRENT") == 0,
	   "VersionStages [AWSCURRENT]");
	json_decref(o);

	is_str(get_value(full), "{\"password\":\"p1\"}", "GetSecretValue by full ARN");
	char partial[128];
	snprintf(partial, sizeof partial, "%.*s", (int)strlen(full) - 7, full);
	is_str(get_value(partial), "{\"password\":\"p1\"}", "GetSecretValue by partial ARN");
	char other[128];
	snprintf(other, sizeof other, "%.*sQ", (int)strlen(full) - 1, full);
	err_run(sm_get_secret_value, J("{'SecretId':'%s'}", other), ERR_SM_RESOURCE_NOT_FOUND,
	        "Secrets Manager can't find the specified secret.", "wrong ARN suffix");
	err_run(sm_get_secret_value, J("{'SecretId':'nope'}"), ERR_SM_RESOURCE_NOT_FOUND,
	        "Secrets Manager can't find the specified secret.", "unknown secret");
	at("eu-west-1", T0);
	err_run(sm_get_secret_value, J("{'SecretId':'app/db'}"), ERR_SM_RESOURCE_NOT_FOUND, NULL,
	        "other region does not see the secret");
	at("us-east-1", T0);

	/* Name whose own tail looks like a suffix: the full ARN is still exact. */
	o = ok_run(sm_create_secret, J("{'Name':'app/db-abcdef','SecretString':'x'}"), "name ending in -XXXXXX");
	is_str(get_value(str(o, "ARN")), "x", "its full ARN resolves to it");
	is_str(get_value("app/db-abcdef"), "x", "and its name");
	is_str(get_value(partial), "{\"password\":\"p1\"}", "partial ARN of app/db still resolves to app/db");
	json_decref(o);

	err_run(sm_create_secret, J("{'Name':'app/db','SecretString':'other'}"), ERR_SM_RESOURCE_EXISTS,
	        "The operation failed because the secret app/db already exists.", "CreateSecret on an existing name");
	o = ok_run(sm_create_secret,
	           J("{'Name':'app/db','SecretString':'{\\'password\\':\\'p1\\'}','ClientRequestToken':'%s'}", TOK("a")),
	           "CreateSecret retried with the same token and value");
	is_str(str(o, "ARN"), full, "retry returns the same ARN");
	is_str(str(o, "VersionId"), TOK("a"), "retry returns the same VersionId");
	json_decref(o);
	char msg[512];
	snprintf(msg, sizeof msg,
	         "You can't use ClientRequestToken %s because that value is already in use for a version of secret %s.",
	         TOK("a"), full);
	err_run(sm_create_secret, J("{'Name':'app/db','SecretString':'changed','ClientRequestToken':'%s'}", TOK("a")),
	        ERR_SM_RESOURCE_EXISTS, msg, "same token, different value");

	err_run(sm_create_secret, J("{'Name':'bad name!'}"), ERR_VALIDATION,
	        "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: "
	        "-/_+=.@!",
	        "invalid name");
	char longname[600];
	memset(longname, 'n', 513);
	longname[513] = '\0';
	err_run(sm_create_secret, J("{'Name':'%s'}", longname), ERR_VALIDATION, NULL, "name of 513 characters");
	err_run(sm_create_secret, J("{'Name':'t1','ClientRequestToken':'short'}"), ERR_SM_INVALID_PARAMETER,
	        "ClientRequestToken must be 32-64 characters long.", "short token");
	err_run(sm_create_secret, J("{'Name':'t2','SecretString':'a','SecretBinary':'YQ=='}"), ERR_SM_INVALID_PARAMETER,
	        NULL, "both SecretString and SecretBinary");

	/* Without a value: no version. */
	o = ok_run(sm_create_secret, J("{'Name':'empty','ClientRequestToken':'%s'}", TOK("e")), "CreateSecret without a value");
	ok(!json_object_get(o, "VersionId"), "no VersionId without a value");
	json_decref(o);
	o = ok_run(sm_create_secret, J("{'Name':'empty','ClientRequestToken':'%s'}", TOK("e")),
	           "value-less CreateSecret retried with its token");
	json_decref(o);
	err_run(sm_get_secret_value, J("{'SecretId':'empty'}"), ERR_SM_RESOURCE_NOT_FOUND,
	        "Secrets Manager can't find the specified secret value for staging label: AWSCURRENT",
	        "GetSecretValue on a secret without a value");
	o = ok_run(sm_describe_secret, J("{'SecretId':'empty'}"), "DescribeSecret without versions");
	ok(!json_object_get(o, "VersionIdsToStages") && !json_object_get(o, "RotationEnabled") &&
	       !json_object_get(o, "KmsKeyId") && !json_object_get(o, "DeletedDate"),
	   "members without value are left out");
	json_decref(o);

	/* Binary. */
	o = ok_run(sm_create_secret, J("{'Name':'bin','SecretBinary':'AAEC/w=='}"), "CreateSecret with SecretBinary");
	json_decref(o);
	o = ok_run(sm_get_secret_value, J("{'SecretId':'bin'}"), "GetSecretValue binary");
	is_str(str(o, "SecretBinary"), "AAEC/w==", "SecretBinary round-trips as base64");
	ok(!json_object_get(o, "SecretString"), "no SecretString for a binary secret");
	json_decref(o);
	err_run(sm_create_secret, J("{'Name':'bin2','SecretBinary':'not base64!'}"), ERR_SERIALIZATION, NULL,
	        "invalid base64");
	free(full);
}

static void test_versions(void)
{
	at("us-east-1", T0 + 100);
	json_t *o = ok_run(sm_create_secret, J("{'Name':'v','SecretString':'one','ClientRequestToken':'%s'}", TOK("1")),
	                   "create v");
	json_decref(o);
	at("us-east-1", T0 + 200);
	o = ok_run(sm_put_secret_value, J("{'SecretId':'v','SecretString':'two','ClientRequestToken':'%s'}", TOK("2")),
	           "PutSecretValue");
	is_str(str(o, "VersionId"), TOK("2"), "PutSecretValue VersionId");
	ok(json_array_size(json_object_get(o, "VersionStages")) == 1, "new version has one label");
	json_decref(o);
	is_str(labels("v", TOK("2")), "AWSCURRENT", "AWSCURRENT moved to the new version");
	is_str(labels("v", TOK("1")), "AWSPREVIOUS", "AWSPREVIOUS on the old one");
	is_str(get_value("v"), "two", "GetSecretValue returns the new value");

	o = ok_run(sm_put_secret_value, J("{'SecretId':'v','SecretString':'two','ClientRequestToken':'%s'}", TOK("2")),
	           "PutSecretValue retried (same token, same value)");
	json_decref(o);
	char msg[512];
	o = run(sm_describe_secret, J("{'SecretId':'v'}"));
	snprintf(msg, sizeof msg,
	         "You can't use ClientRequestToken %s because that value is already in use for a version of secret %s.",
	         TOK("2"), str(o, "ARN"));
	json_decref(o);
	err_run(sm_put_secret_value, J("{'SecretId':'v','SecretString':'other','ClientRequestToken':'%s'}", TOK("2")),
	        ERR_SM_RESOURCE_EXISTS, msg, "same token, different value");

	at("us-east-1", T0 + 300);
	o = ok_run(sm_put_secret_value, J("{'SecretId':'v','SecretString':'three','ClientRequestToken':'%s'}", TOK("3")),
	           "third value");
	json_decref(o);
	is_str(labels("v", TOK("3")), "AWSCURRENT", "AWSCURRENT on v3");
	is_str(labels("v", TOK("2")), "AWSPREVIOUS", "AWSPREVIOUS follows to v2");
	is_str(labels("v", TOK("1")), "", "v1 is deprecated (not in VersionIdsToStages)");

	o = ok_run(sm_list_secret_version_ids, J("{'SecretId':'v'}"), "ListSecretVersionIds");
	is_int(json_array_size(json_object_get(o, "Versions")), 2, "deprecated versions left out");
	json_decref(o);
	o = ok_run(sm_list_secret_version_ids, J("{'SecretId':'v','IncludeDeprecated':true}"),
	           "ListSecretVersionIds IncludeDeprecated");
	json_t *vs = json_object_get(o, "Versions");
	is_int(json_array_size(vs), 3, "all three versions");
	json_t *last = json_array_get(vs, 2);
	is_str(str(last, "VersionId"), TOK("1"), "newest first; the oldest is last");
	ok(!json_object_get(last, "VersionStages"), "a deprecated version has no VersionStages member");
	ok(json_is_array(json_object_get(last, "KmsKeyIds")), "KmsKeyIds present");
	json_decref(o);

	/* Paging through versions. */
	o = ok_run(sm_list_secret_version_ids, J("{'SecretId':'v','IncludeDeprecated':true,'MaxResults':2}"), "page 1");
	is_int(json_array_size(json_object_get(o, "Versions")), 2, "two on page 1");
	char *tok = dup_str(o, "NextToken");
	ok(tok != NULL, "NextToken on page 1");
	json_decref(o);
	o = ok_run(sm_list_secret_version_ids,
	           J("{'SecretId':'v','IncludeDeprecated':true,'MaxResults':2,'NextToken':'%s'}", tok ? tok : ""), "page 2");
	is_int(json_array_size(json_object_get(o, "Versions")), 1, "one on page 2");
	ok(!json_object_get(o, "NextToken"), "no NextToken at the end");
	json_decref(o);
	err_run(sm_list_secret_version_ids, J("{'SecretId':'v','NextToken':'%s'}", tok ? tok : ""),
	        ERR_SM_INVALID_NEXT_TOKEN, NULL, "token of another listing (IncludeDeprecated differs)");
	err_run(sm_list_secret_version_ids, J("{'SecretId':'v','NextToken':'garbage'}"), ERR_SM_INVALID_NEXT_TOKEN, NULL,
	        "garbage NextToken");
	free(tok);

	/* GetSecretValue combinations. */
	is_str(get_value("v"), "three", "default AWSCURRENT");
	o = ok_run(sm_get_secret_value, J("{'SecretId':'v','VersionStage':'AWSPREVIOUS'}"), "by VersionStage");
	is_str(str(o, "SecretString"), "two", "AWSPREVIOUS value");
	json_decref(o);
	o = ok_run(sm_get_secret_value, J("{'SecretId':'v','VersionId':'%s'}", TOK("1")), "deprecated version by VersionId");
	is_str(str(o, "SecretString"), "one", "deprecated value still readable by id");
	json_decref(o);
	o = ok_run(sm_get_secret_value, J("{'SecretId':'v','VersionId':'%s','VersionStage':'AWSCURRENT'}", TOK("3")),
	           "VersionId and matching VersionStage");
	json_decref(o);
	err_run(sm_get_secret_value, J("{'SecretId':'v','VersionId':'%s','VersionStage':'AWSCURRENT'}", TOK("2")),
	        ERR_SM_INVALID_REQUEST, "You provided a VersionStage that is not associated to the provided VersionId.",
	        "VersionId and VersionStage disagree");
	err_run(sm_get_secret_value, J("{'SecretId':'v','VersionId':'%s'}", TOK("9")), ERR_SM_RESOURCE_NOT_FOUND,
	        "Secrets Manager can't find the specified secret value for VersionId: " TOK("9"), "unknown VersionId");
	err_run(sm_get_secret_value, J("{'SecretId':'v','VersionStage':'NOPE'}"), ERR_SM_RESOURCE_NOT_FOUND,
	        "Secrets Manager can't find the specified secret value for staging label: NOPE", "unknown label");

	/* Custom labels. */
	o = ok_run(sm_put_secret_value,
	           J("{'SecretId':'v','SecretString':'four','ClientRequestToken':'%s','VersionStages':['STAGED','X']}",
	             TOK("4")),
	           "PutSecretValue with VersionStages");
	json_decref(o);
	is_str(labels("v", TOK("4")), "STAGED,X", "exactly the given labels");
	is_str(labels("v", TOK("3")), "AWSCURRENT", "AWSCURRENT did not move");
	o = ok_run(sm_put_secret_value,
	           J("{'SecretId':'v','SecretString':'five','ClientRequestToken':'%s','VersionStages':['X']}", TOK("5")),
	           "label X moves to a newer version");
	json_decref(o);
	is_str(labels("v", TOK("4")), "STAGED", "X left v4");
	err_run(sm_put_secret_value, J("{'SecretId':'v','ClientRequestToken':'%s'}", TOK("6")), ERR_SM_INVALID_REQUEST,
	        "You must provide either SecretString or SecretBinary.", "PutSecretValue without a value");
	err_run(sm_put_secret_value, J("{'SecretId':'v','SecretString':'a','SecretBinary':'YQ=='}"),
	        ERR_SM_INVALID_PARAMETER, NULL, "PutSecretValue with both");
	err_run(sm_put_secret_value, J("{'SecretId':'v','SecretString':'a','RotationToken':'bad token with spaces and more "
	                               "than 36 characters'}"),
	        ERR_VALIDATION, NULL, "RotationToken pattern");

	/* First value of an empty secret becomes AWSCURRENT even if not listed. */
	o = ok_run(sm_create_secret, J("{'Name':'first'}"), "empty secret");
	json_decref(o);
	o = ok_run(sm_put_secret_value,
	           J("{'SecretId':'first','SecretString':'v','ClientRequestToken':'%s','VersionStages':['MINE']}", TOK("f")),
	           "first PutSecretValue with custom labels");
	json_decref(o);
	is_str(labels("first", TOK("f")), "AWSCURRENT,MINE", "AWSCURRENT attached to the first version");

	/* UpdateSecret. */
	at("us-east-1", T0 + 400);
	o = ok_run(sm_update_secret, J("{'SecretId':'v','Description':'new text','ClientRequestToken':'%s'}", TOK("7")),
	           "UpdateSecret metadata only (SDK token ignored)");
	ok(!json_object_get(o, "VersionId"), "no VersionId when no version is created");
	json_decref(o);
	o = ok_run(sm_describe_secret, J("{'SecretId':'v'}"), "describe");
	is_str(str(o, "Description"), "new text", "Description updated");
	ok(json_real_value(json_object_get(o, "LastChangedDate")) >= T0 + 400 - 0.001, "LastChangedDate updated");
	ok(!json_object_get(json_object_get(o, "VersionIdsToStages"), TOK("7")), "no version for the ignored token");
	json_decref(o);
	o = ok_run(sm_update_secret, J("{'SecretId':'v','SecretString':'six','ClientRequestToken':'%s'}", TOK("8")),
	           "UpdateSecret with a value");
	is_str(str(o, "VersionId"), TOK("8"), "UpdateSecret VersionId");
	json_decref(o);
	is_str(labels("v", TOK("8")), "AWSCURRENT", "UpdateSecret value becomes AWSCURRENT");
	is_str(labels("v", TOK("3")), "AWSPREVIOUS", "and the old current AWSPREVIOUS");
	err_run(sm_update_secret, J("{'SecretId':'v','SecretString':'six','ClientRequestToken':'%s'}", TOK("8")),
	        ERR_SM_RESOURCE_EXISTS, NULL, "UpdateSecret reusing a version's token");
	o = ok_run(sm_update_secret, J("{'SecretId':'v','KmsKeyId':'alias/mine'}"), "UpdateSecret KmsKeyId");
	json_decref(o);
	o = run(sm_describe_secret, J("{'SecretId':'v'}"));
	is_str(str(o, "KmsKeyId"), "alias/mine", "KmsKeyId shown for a customer key");
	json_decref(o);
	o = ok_run(sm_update_secret, J("{'SecretId':'v','KmsKeyId':''}"), "UpdateSecret KmsKeyId \"\"");
	json_decref(o);
	o = run(sm_describe_secret, J("{'SecretId':'v'}"));
	ok(o && !json_object_get(o, "KmsKeyId"), "KmsKeyId \"\" switches back to aws/secretsmanager (left out)");
	json_decref(o);
}

static void test_update_stage(void)
{
	at("us-east-1", T0 + 1000);
	json_t *o = ok_run(sm_create_secret, J("{'Name':'st','SecretString':'a','ClientRequestToken':'%s'}", TOK("a")), "st");
	json_decref(o);
	o = ok_run(sm_put_secret_value,
	           J("{'SecretId':'st','SecretString':'b','ClientRequestToken':'%s','VersionStages':['NEXT']}", TOK("b")),
	           "st version b");
	json_decref(o);
	err_run(sm_update_secret_version_stage, J("{'SecretId':'st','VersionStage':'AWSCURRENT','MoveToVersionId':'%s'}", TOK("b")),
	        ERR_SM_INVALID_PARAMETER,
	        "The parameter RemoveFromVersionId can't be empty. Staging label AWSCURRENT is currently attached to "
	        "version " TOK("a") ", so you must explicitly reference that version in RemoveFromVersionId.",
	        "moving AWSCURRENT without RemoveFromVersionId");
	err_run(sm_update_secret_version_stage,
	        J("{'SecretId':'st','VersionStage':'AWSCURRENT','MoveToVersionId':'%s','RemoveFromVersionId':'%s'}", TOK("b"),
	          TOK("b")),
	        ERR_SM_INVALID_PARAMETER, NULL, "RemoveFromVersionId that does not hold the label");
	err_run(sm_update_secret_version_stage,
	        J("{'SecretId':'st','VersionStage':'AWSCURRENT','MoveToVersionId':'%s','RemoveFromVersionId':'%s'}", TOK("z"),
	          TOK("a")),
	        ERR_SM_INVALID_PARAMETER, "Not a valid version: " TOK("z"), "unknown MoveToVersionId");
	o = ok_run(sm_update_secret_version_stage,
	           J("{'SecretId':'st','VersionStage':'AWSCURRENT','MoveToVersionId':'%s','RemoveFromVersionId':'%s'}",
	             TOK("b"), TOK("a")),
	           "move AWSCURRENT with RemoveFromVersionId");
	is_str(str(o, "Name"), "st", "UpdateSecretVersionStage returns Name");
	json_decref(o);
	is_str(labels("st", TOK("b")), "AWSCURRENT,NEXT", "labels are added to the version's labels");
	is_str(labels("st", TOK("a")), "AWSPREVIOUS", "AWSPREVIOUS moves to the version AWSCURRENT left");
	is_str(get_value("st"), "b", "GetSecretValue follows AWSCURRENT");

	o = ok_run(sm_update_secret_version_stage, J("{'SecretId':'st','VersionStage':'NEW','MoveToVersionId':'%s'}", TOK("a")),
	           "attach an unattached label");
	json_decref(o);
	is_str(labels("st", TOK("a")), "AWSPREVIOUS,NEW", "NEW attached");
	o = ok_run(sm_update_secret_version_stage,
	           J("{'SecretId':'st','VersionStage':'NEW','RemoveFromVersionId':'%s'}", TOK("a")), "remove a label");
	json_decref(o);
	is_str(labels("st", TOK("a")), "AWSPREVIOUS", "NEW removed");
	err_run(sm_update_secret_version_stage,
	        J("{'SecretId':'st','VersionStage':'NEW','RemoveFromVersionId':'%s'}", TOK("a")), ERR_SM_INVALID_PARAMETER,
	        "Staging label NEW is not attached to version " TOK("a") ".", "removing a label the version lacks");
	err_run(sm_update_secret_version_stage,
	        J("{'SecretId':'st','VersionStage':'AWSCURRENT','RemoveFromVersionId':'%s'}", TOK("b")),
	        ERR_SM_INVALID_PARAMETER, NULL, "removing AWSCURRENT without moving it");
	err_run(sm_update_secret_version_stage, J("{'SecretId':'st','VersionStage':'X'}"), ERR_SM_INVALID_PARAMETER, NULL,
	        "neither MoveToVersionId nor RemoveFromVersionId");
	err_run(sm_update_secret_version_stage, J("{'SecretId':'st'}"), ERR_VALIDATION,
	        "1 validation error detected: Value null at 'versionStage' failed to satisfy constraint: Member must not be "
	        "null",
	        "VersionStage required");
}

static void test_delete_restore(void)
{
	at("us-east-1", T0 + 2000);
	json_t *o = ok_run(sm_create_secret, J("{'Name':'del','SecretString':'x'}"), "del");
	char *arn = dup_str(o, "ARN");
	json_decref(o);
	err_run(sm_delete_secret, J("{'SecretId':'del','RecoveryWindowInDays':7,'ForceDeleteWithoutRecovery':true}"),
	        ERR_SM_INVALID_PARAMETER,
	        "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.", "both options");
	err_run(sm_delete_secret, J("{'SecretId':'del','RecoveryWindowInDays':6}"), ERR_SM_INVALID_PARAMETER,
	        "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).", "window 6");
	err_run(sm_delete_secret, J("{'SecretId':'del','RecoveryWindowInDays':31}"), ERR_SM_INVALID_PARAMETER, NULL,
	        "window 31");
	o = ok_run(sm_delete_secret, J("{'SecretId':'del'}"), "DeleteSecret (default window)");
	ok(fabs(json_real_value(json_object_get(o, "DeletionDate")) - (T0 + 2000 + 30 * DAY)) < 0.001,
	   "DeletionDate = now + 30 days");
	is_str(str(o, "ARN"), arn, "DeleteSecret ARN");
	json_decref(o);
	const char *marked = "You can't perform this operation on the secret because it was marked for deletion.";
	err_run(sm_get_secret_value, J("{'SecretId':'del'}"), ERR_SM_INVALID_REQUEST, marked, "GetSecretValue after delete");
	err_run(sm_put_secret_value, J("{'SecretId':'del','SecretString':'y'}"), ERR_SM_INVALID_REQUEST, marked,
	        "PutSecretValue after delete");
	err_run(sm_update_secret, J("{'SecretId':'del','Description':'d'}"), ERR_SM_INVALID_REQUEST, marked,
	        "UpdateSecret after delete");
	err_run(sm_delete_secret, J("{'SecretId':'del'}"), ERR_SM_INVALID_REQUEST, NULL, "DeleteSecret twice");
	o = ok_run(sm_describe_secret, J("{'SecretId':'del'}"), "DescribeSecret still works");
	ok(json_object_get(o, "DeletedDate") != NULL, "DeletedDate shown");
	json_decref(o);
	err_run(sm_create_secret, J("{'Name':'del','SecretString':'z'}"), ERR_SM_INVALID_REQUEST,
	        "You can't create this secret because a secret with this name is already scheduled for deletion.",
	        "same name while scheduled for deletion");

	o = ok_run(sm_list_secrets, J("{}"), "ListSecrets");
	bool seen = false;
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(o, "SecretList"), i, e) seen |= strcmp(str(e, "Name"), "del") == 0;
	ok(!seen, "ListSecrets hides secrets scheduled for deletion");
	json_decref(o);
	o = ok_run(sm_list_secrets, J("{'IncludePlannedDeletion':true,'Filters':[{'Key':'name','Values':['del']}]}"),
	           "ListSecrets IncludePlannedDeletion");
	is_int(json_array_size(json_object_get(o, "SecretList")), 1, "shown with IncludePlannedDeletion");
	json_decref(o);

	o = ok_run(sm_restore_secret, J("{'SecretId':'del'}"), "RestoreSecret");
	is_str(str(o, "Name"), "del", "RestoreSecret Name");
	json_decref(o);
	is_str(get_value("del"), "x", "usable again after restore");
	o = ok_run(sm_restore_secret, J("{'SecretId':'del'}"), "RestoreSecret on a live secret is a no-op");
	json_decref(o);

	o = ok_run(sm_delete_secret, J("{'SecretId':'del','RecoveryWindowInDays':7}"), "delete with 7 days");
	json_decref(o);
	is_int(secrets_purge_due(S, T0 + 2000 + 6 * DAY), 0, "nothing purged before the window ends");
	is_int(secrets_purge_due(S, T0 + 2000 + 7 * DAY + 1), 1, "purged after the window");
	err_run(sm_describe_secret, J("{'SecretId':'del'}"), ERR_SM_RESOURCE_NOT_FOUND, NULL, "gone after purge");
	o = ok_run(sm_create_secret, J("{'Name':'del','SecretString':'again'}"), "name free again");
	ok(strcmp(str(o, "ARN"), arn) != 0, "a new secret with the old name gets a new ARN suffix");
	json_decref(o);

	o = ok_run(sm_delete_secret, J("{'SecretId':'del','ForceDeleteWithoutRecovery':true}"), "forced deletion");
	json_decref(o);
	err_run(sm_describe_secret, J("{'SecretId':'del'}"), ERR_SM_RESOURCE_NOT_FOUND, NULL, "gone at once");
	o = ok_run(sm_delete_secret, J("{'SecretId':'never-existed','ForceDeleteWithoutRecovery':true}"),
	           "forced deletion of an unknown secret succeeds");
	is_str(str(o, "Name"), "never-existed", "echoes the name");
	json_decref(o);
	err_run(sm_delete_secret, J("{'SecretId':'never-existed'}"), ERR_SM_RESOURCE_NOT_FOUND, NULL,
	        "unforced deletion of an unknown secret");
	free(arn);
}

static void test_tags(void)
{
	at("us-east-1", T0 + 3000);
	json_t *o = ok_run(sm_create_secret, J("{'Name':'tagged','SecretString':'x','Tags':[{'Key':'env','Value':'prod'}]}"),
	                   "create with tags");
	json_decref(o);
	o = ok_run(sm_tag_resource, J("{'SecretId':'tagged','Tags':[{'Key':'team','Value':'db'},{'Key':'env','Value':'dev'}]}"),
	           "TagResource");
	ok(o && json_object_size(o) == 0, "TagResource returns {}");
	json_decref(o);
	o = run(sm_describe_secret, J("{'SecretId':'tagged'}"));
	json_t *tags = json_object_get(o, "Tags");
	ok(json_array_size(tags) == 2 && strcmp(str(json_array_get(tags, 0), "Key"), "env") == 0 &&
	       strcmp(str(json_array_get(tags, 0), "Value"), "dev") == 0,
	   "existing key overwritten, order kept");
	json_decref(o);
	o = ok_run(sm_untag_resource, J("{'SecretId':'tagged','TagKeys':['env','unknown']}"), "UntagResource (unknown ignored)");
	json_decref(o);
	o = run(sm_describe_secret, J("{'SecretId':'tagged'}"));
	is_int(json_array_size(json_object_get(o, "Tags")), 1, "one tag left");
	json_decref(o);
	err_run(sm_tag_resource, J("{'SecretId':'tagged','Tags':[{'Key':'aws:x','Value':'y'}]}"), ERR_SM_INVALID_PARAMETER,
	        NULL, "aws: prefix reserved");
	json_t *many = json_array();
	for (int i = 0; i < 50; i++) {
		char k[16];
		snprintf(k, sizeof k, "k%d", i);
		json_array_append_new(many, json_pack("{s:s, s:s}", "Key", k, "Value", "v"));
	}
	json_t *in = json_pack("{s:s, s:o}", "SecretId", "tagged", "Tags", many);
	err_run(sm_tag_resource, in, ERR_SM_INVALID_PARAMETER, NULL, "51 tags refused");
	o = run(sm_describe_secret, J("{'SecretId':'tagged'}"));
	is_int(json_array_size(json_object_get(o, "Tags")), 1, "failed TagResource changed nothing");
	json_decref(o);
	err_run(sm_tag_resource, J("{'SecretId':'tagged','Tags':'x'}"), ERR_SERIALIZATION, NULL, "Tags of wrong type");
	err_run(sm_tag_resource, J("{'SecretId':'tagged'}"), ERR_VALIDATION, NULL, "Tags required");
}

static bool names_are(json_t *list_out, const char *want)
{
	char got[1024] = "";
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(list_out, "SecretList"), i, e) {
		if (i)
			strcat(got, ",");
		strcat(got, str(e, "Name"));
	}
	if (strcmp(got, want) != 0)
		printf("#   names: %s (want %s)\n", got, want);
	return strcmp(got, want) == 0;
}

static void test_list(void)
{
	at("ap-south-1", T0 + 10);
	json_t *o = ok_run(sm_create_secret, J("{'Name':'prod/db','SecretString':'x','Description':'Primary Database',"
	                                       "'Tags':[{'Key':'Environment','Value':'production'}]}"),
	                   "prod/db");
	json_decref(o);
	at("ap-south-1", T0 + 20);
	o = ok_run(sm_create_secret, J("{'Name':'prod/cache','SecretString':'x','Description':'redis cache',"
	                               "'Tags':[{'Key':'Environment','Value':'production'},{'Key':'team','Value':'web'}]}"),
	           "prod/cache");
	json_decref(o);
	at("ap-south-1", T0 + 30);
	o = ok_run(sm_create_secret, J("{'Name':'dev/db','SecretString':'x','Tags':[{'Key':'Environment','Value':'dev'}]}"),
	           "dev/db");
	json_decref(o);
	at("ap-south-1", T0 + 40);
	o = ok_run(sm_create_secret, J("{'Name':'misc'}"), "misc");
	json_decref(o);

	o = ok_run(sm_list_secrets, J("{}"), "ListSecrets, default order");
	ok(names_are(o, "misc,dev/db,prod/cache,prod/db"), "default: CreatedDate, newest first");
	json_t *first = json_array_get(json_object_get(o, "SecretList"), 1);
	ok(json_object_get(first, "SecretVersionsToStages") && !json_object_get(first, "VersionIdsToStages"),
	   "SecretListEntry uses SecretVersionsToStages");
	json_decref(o);
	o = run(sm_list_secrets, J("{'SortOrder':'asc'}"));
	ok(names_are(o, "prod/db,prod/cache,dev/db,misc"), "SortOrder asc");
	json_decref(o);
	o = run(sm_list_secrets, J("{'SortBy':'name','SortOrder':'asc'}"));
	ok(names_are(o, "dev/db,misc,prod/cache,prod/db"), "SortBy name asc");
	json_decref(o);
	o = run(sm_list_secrets, J("{'Filters':[{'Key':'name','Values':['prod/']}]}"));
	ok(names_are(o, "prod/cache,prod/db"), "name prefix");
	json_decref(o);
	o = run(sm_list_secrets, J("{'Filters':[{'Key':'name','Values':['Prod/']}]}"));
	ok(names_are(o, ""), "name is case-sensitive");
	json_decref(o);
	o = run(sm_list_secrets, J("{'Filters':[{'Key':'name','Values':['!prod/']}]}"));
	ok(names_are(o, "misc,dev/db"), "! negates");
	json_decref(o);
	o = run(sm_list_secrets, J("{'Filters':[{'Key':'name','Values':['dev','misc']}]}"));
	ok(names_are(o, "misc,dev/db"), "values OR");
	json_decref(o);
	o = run(sm_list_secrets, J("{'Filters':[{'Key':'tag-value','Values':['production']},{'Key':'tag-key','Values':['team']}]}"));
	ok(names_are(o, "prod/cache"), "filters AND");
	json_decref(o);
	o = run(sm_list_secrets, J("{'Filters':[{'Key':'tag-key','Values':['!team']}]}"));
	ok(names_are(o, "misc,dev/db,prod/db"), "!tag-key: no tag key starting with it");
	json_decref(o);
	o = run(sm_list_secrets, J("{'Filters':[{'Key':'description','Values':['primary']}]}"));
	ok(names_are(o, "prod/db"), "description: case-insensitive prefix");
	json_decref(o);
	o = run(sm_list_secrets, J("{'Filters':[{'Key':'description','Values':['cache']}]}"));
	ok(names_are(o, "prod/cache"), "description: word prefix");
	json_decref(o);
	o = run(sm_list_secrets, J("{'Filters':[{'Key':'all','Values':['PRODUCTION']}]}"));
	ok(names_are(o, "prod/cache,prod/db"), "all: any attribute, case-insensitive");
	json_decref(o);
	o = run(sm_list_secrets, J("{'Filters':[{'Key':'all','Values':['db']}]}"));
	ok(names_are(o, "dev/db,prod/db"), "all: words of the name");
	json_decref(o);
	o = run(sm_list_secrets, J("{'Filters':[{'Key':'primary-region','Values':['ap-south']}]}"));
	ok(names_are(o, "misc,dev/db,prod/cache,prod/db"), "primary-region");
	json_decref(o);
	err_run(sm_list_secrets, J("{'Filters':[{'Key':'color','Values':['x']}]}"), ERR_VALIDATION, NULL, "unknown filter key");
	err_run(sm_list_secrets, J("{'SortBy':'size'}"), ERR_VALIDATION, NULL, "unknown SortBy");
	err_run(sm_list_secrets, J("{'MaxResults':0}"), ERR_VALIDATION, NULL, "MaxResults 0");

	/* Pagination. */
	char *tok = NULL;
	int pages = 0, total = 0;
	do {
		json_t *in = tok ? J("{'MaxResults':3,'NextToken':'%s'}", tok) : J("{'MaxResults':3}");
		free(tok);
		tok = NULL;
		o = run(sm_list_secrets, in);
		if (!o)
			break;
		pages++;
		total += (int)json_array_size(json_object_get(o, "SecretList"));
		tok = dup_str(o, "NextToken");
		json_decref(o);
	} while (tok && pages < 10);
	ok(pages == 2 && total == 4, "4 secrets in 2 pages of 3 (%d pages, %d)", pages, total);
	o = run(sm_list_secrets, J("{'MaxResults':1}"));
	tok = dup_str(o, "NextToken");
	json_decref(o);
	err_run(sm_list_secrets, J("{'MaxResults':1,'NextToken':'%s','SortBy':'name'}", tok), ERR_SM_INVALID_NEXT_TOKEN,
	        "The NextToken value is invalid.", "NextToken of a differently sorted listing");
	at("us-east-1", T0 + 40);
	err_run(sm_list_secrets, J("{'MaxResults':1,'NextToken':'%s'}", tok), ERR_SM_INVALID_NEXT_TOKEN, NULL,
	        "NextToken from another region");
	free(tok);

	/* BatchGetSecretValue. */
	at("ap-south-1", T0 + 50);
	o = ok_run(sm_batch_get_secret_value, J("{'SecretIdList':['prod/db','nope','misc']}"), "BatchGetSecretValue by ids");
	is_int(json_array_size(json_object_get(o, "SecretValues")), 1, "one value");
	json_t *errs = json_object_get(o, "Errors");
	ok(json_array_size(errs) == 2 && strcmp(str(json_array_get(errs, 0), "SecretId"), "nope") == 0 &&
	       strcmp(str(json_array_get(errs, 0), "ErrorCode"), "ResourceNotFoundException") == 0 &&
	       strcmp(str(json_array_get(errs, 1), "ErrorCode"), "ResourceNotFoundException") == 0,
	   "per-secret errors in Errors[] (unknown secret, secret without value)");
	json_decref(o);
	o = ok_run(sm_batch_get_secret_value, J("{'Filters':[{'Key':'tag-key','Values':['Environment']}],'MaxResults':2}"),
	           "BatchGetSecretValue by filters");
	is_int(json_array_size(json_object_get(o, "SecretValues")), 2, "first page of 2");
	tok = dup_str(o, "NextToken");
	json_decref(o);
	o = ok_run(sm_batch_get_secret_value,
	           J("{'Filters':[{'Key':'tag-key','Values':['Environment']}],'MaxResults':2,'NextToken':'%s'}", tok ? tok : ""),
	           "second page");
	is_int(json_array_size(json_object_get(o, "SecretValues")), 1, "last value");
	json_decref(o);
	free(tok);
	err_run(sm_batch_get_secret_value, J("{'SecretIdList':['a'],'Filters':[{'Key':'name','Values':['a']}]}"),
	        ERR_SM_INVALID_PARAMETER, NULL, "SecretIdList and Filters together");
	err_run(sm_batch_get_secret_value, J("{}"), ERR_SM_INVALID_PARAMETER, NULL, "neither SecretIdList nor Filters");
	err_run(sm_batch_get_secret_value, J("{'SecretIdList':['a'],'MaxResults':5}"), ERR_SM_INVALID_PARAMETER, NULL,
	        "MaxResults without Filters");

	/* LastAccessedDate: day resolution. */
	at("ap-south-1", T0 + 60);
	o = run(sm_get_secret_value, J("{'SecretId':'dev/db'}"));
	json_decref(o);
	o = run(sm_describe_secret, J("{'SecretId':'dev/db'}"));
	double la = json_real_value(json_object_get(o, "LastAccessedDate"));
	ok(la > 0 && fmod(la, DAY) == 0 && la <= T0 + 60 && la > T0 + 60 - DAY, "LastAccessedDate is midnight UTC of today");
	json_decref(o);
}

static void test_policy(void)
{
	at("us-east-1", T0 + 4000);
	json_t *o = ok_run(sm_create_secret, J("{'Name':'pol','SecretString':'x'}"), "pol");
	json_decref(o);
	const char *good = "{\\'Version\\':\\'2012-10-17\\',\\'Statement\\':[{\\'Effect\\':\\'Allow\\',\\'Principal\\':"
	                   "{\\'AWS\\':\\'arn:aws:iam::111122223333:root\\'},\\'Action\\':\\'secretsmanager:GetSecretValue\\',"
	                   "\\'Resource\\':\\'*\\'}]}";
	o = ok_run(sm_put_resource_policy, J("{'SecretId':'pol','ResourcePolicy':'%s','BlockPublicPolicy':true}", good),
	           "PutResourcePolicy");
	is_str(str(o, "Name"), "pol", "PutResourcePolicy Name");
	json_decref(o);
	o = ok_run(sm_get_resource_policy, J("{'SecretId':'pol'}"), "GetResourcePolicy");
	ok(str(o, "ResourcePolicy") && strstr(str(o, "ResourcePolicy"), "111122223333"), "policy text returned");
	json_decref(o);
	err_run(sm_put_resource_policy, J("{'SecretId':'pol','ResourcePolicy':'{not json'}"), ERR_SM_MALFORMED_POLICY, NULL,
	        "malformed JSON");
	err_run(sm_put_resource_policy,
	        J("{'SecretId':'pol','ResourcePolicy':'{\\'Statement\\':[{\\'Principal\\':\\'*\\',\\'Action\\':\\'*\\',"
	          "\\'Resource\\':\\'*\\'}]}'}"),
	        ERR_SM_MALFORMED_POLICY, NULL, "statement without Effect");
	err_run(sm_put_resource_policy,
	        J("{'SecretId':'pol','ResourcePolicy':'{\\'Version\\':\\'2012-10-17\\',\\'Statement\\':[{\\'Effect\\':"
	          "\\'Allow\\',\\'Action\\':\\'secretsmanager:*\\',\\'Resource\\':\\'*\\'}]}'}"),
	        ERR_SM_MALFORMED_POLICY, NULL, "resource policy without Principal");
	const char *pub = "{\\'Version\\':\\'2012-10-17\\',\\'Statement\\':{\\'Effect\\':\\'Allow\\',\\'Principal\\':"
	                  "{\\'AWS\\':\\'*\\'},\\'Action\\':\\'secretsmanager:GetSecretValue\\',\\'Resource\\':\\'*\\'}}";
	err_run(sm_put_resource_policy, J("{'SecretId':'pol','ResourcePolicy':'%s','BlockPublicPolicy':true}", pub),
	        ERR_SM_PUBLIC_POLICY,
	        "The BlockPublicPolicy parameter is set to true, and the resource policy did not prevent broad access to "
	        "the secret.",
	        "public policy blocked");
	o = ok_run(sm_put_resource_policy, J("{'SecretId':'pol','ResourcePolicy':'%s'}", pub),
	           "public policy allowed without BlockPublicPolicy");
	json_decref(o);
	const char *pinned = "{\\'Version\\':\\'2012-10-17\\',\\'Statement\\':{\\'Effect\\':\\'Allow\\',\\'Principal\\':"
	                     "\\'*\\',\\'Action\\':\\'secretsmanager:GetSecretValue\\',\\'Resource\\':\\'*\\',"
	                     "\\'Condition\\':{\\'StringEquals\\':{\\'aws:PrincipalAccount\\':\\'111122223333\\'}}}}";
	o = ok_run(sm_put_resource_policy, J("{'SecretId':'pol','ResourcePolicy':'%s','BlockPublicPolicy':true}", pinned),
	           "Principal * restricted by aws:PrincipalAccount is not public");
	json_decref(o);
	o = ok_run(sm_validate_resource_policy, J("{'ResourcePolicy':'%s'}", pub), "ValidateResourcePolicy public");
	ok(json_is_false(json_object_get(o, "PolicyValidationPassed")) &&
	       json_array_size(json_object_get(o, "ValidationErrors")) == 1,
	   "broad access reported in ValidationErrors");
	json_decref(o);
	o = ok_run(sm_validate_resource_policy, J("{'ResourcePolicy':'%s','SecretId':'pol'}", good), "Validate good");
	ok(json_is_true(json_object_get(o, "PolicyValidationPassed")), "PolicyValidationPassed");
	json_decref(o);
	err_run(sm_validate_resource_policy, J("{'ResourcePolicy':'[1,2]'}"), ERR_SM_MALFORMED_POLICY, NULL,
	        "Validate malformed");
	o = ok_run(sm_delete_resource_policy, J("{'SecretId':'pol'}"), "DeleteResourcePolicy");
	json_decref(o);
	o = run(sm_get_resource_policy, J("{'SecretId':'pol'}"));
	ok(o && !json_object_get(o, "ResourcePolicy"), "ResourcePolicy left out when there is none");
	json_decref(o);
}

static void test_replication(void)
{
	at("us-east-1", T0 + 5000);
	json_t *o = ok_run(sm_create_secret, J("{'Name':'rep','SecretString':'v1','Tags':[{'Key':'a','Value':'b'}],"
	                                       "'AddReplicaRegions':[{'Region':'us-west-2'}]}"),
	                   "CreateSecret with AddReplicaRegions");
	json_t *rs = json_object_get(o, "ReplicationStatus");
	ok(json_array_size(rs) == 1 && strcmp(str(json_array_get(rs, 0), "Region"), "us-west-2") == 0 &&
	       strcmp(str(json_array_get(rs, 0), "Status"), "InSync") == 0,
	   "ReplicationStatus InSync");
	char *arn = dup_str(o, "ARN");
	json_decref(o);
	o = run(sm_describe_secret, J("{'SecretId':'rep'}"));
	is_str(str(o, "PrimaryRegion"), "us-east-1", "primary shows PrimaryRegion");
	ok(json_array_size(json_object_get(o, "ReplicationStatus")) == 1, "DescribeSecret ReplicationStatus");
	json_decref(o);

	at("us-west-2", T0 + 5001);
	is_str(get_value("rep"), "v1", "replica readable by name in its region");
	char rarn[256];
	snprintf(rarn, sizeof rarn, "arn:aws:secretsmanager:us-west-2:%s", arn + strlen("arn:aws:secretsmanager:us-east-1:"));
	is_str(get_value(rarn), "v1", "replica ARN = primary ARN with the replica region");
	o = run(sm_describe_secret, J("{'SecretId':'rep'}"));
	is_str(str(o, "PrimaryRegion"), "us-east-1", "replica PrimaryRegion");
	ok(json_array_size(json_object_get(o, "Tags")) == 1, "tags replicated");
	json_decref(o);
	const char *rmsg = "Operation not permitted on a replica secret. Call must be made in primary secret's region.";
	err_run(sm_put_secret_value, J("{'SecretId':'rep','SecretString':'x'}"), ERR_SM_INVALID_PARAMETER, rmsg,
	        "PutSecretValue on a replica");
	err_run(sm_tag_resource, J("{'SecretId':'rep','Tags':[{'Key':'x','Value':'y'}]}"), ERR_SM_INVALID_PARAMETER, rmsg,
	        "TagResource on a replica");
	err_run(sm_delete_secret, J("{'SecretId':'rep'}"), ERR_SM_INVALID_PARAMETER, rmsg, "DeleteSecret on a replica");

	at("us-east-1", T0 + 5002);
	o = ok_run(sm_put_secret_value, J("{'SecretId':'rep','SecretString':'v2'}"), "write to the primary");
	json_decref(o);
	at("us-west-2", T0 + 5003);
	is_str(get_value("rep"), "v2", "write propagated to the replica");
	o = run(sm_get_secret_value, J("{'SecretId':'rep','VersionStage':'AWSPREVIOUS'}"));
	is_str(str(o, "SecretString"), "v1", "labels propagated");
	json_decref(o);

	/* Name clash in the target region. */
	at("eu-central-1", T0 + 5004);
	o = ok_run(sm_create_secret, J("{'Name':'rep','SecretString':'local'}"), "same name in eu-central-1");
	json_decref(o);
	at("us-east-1", T0 + 5005);
	o = ok_run(sm_replicate_secret_to_regions, J("{'SecretId':'rep','AddReplicaRegions':[{'Region':'eu-central-1'}]}"),
	           "ReplicateSecretToRegions onto a name clash");
	rs = json_object_get(o, "ReplicationStatus");
	json_t *eu = NULL;
	size_t i;
	json_t *e;
	json_array_foreach(rs, i, e) if (strcmp(str(e, "Region"), "eu-central-1") == 0) eu = e;
	ok(eu && strcmp(str(eu, "Status"), "Failed") == 0 &&
	       strcmp(str(eu, "StatusMessage"), "Secret with this name already exists in this region") == 0,
	   "Status Failed with a message");
	json_decref(o);
	at("eu-central-1", T0 + 5006);
	is_str(get_value("rep"), "local", "the local secret was left alone");
	/* A replica's KmsKeyId must name a key of the replica's region. */
	o = ok_run(kms_create_key, J("{}"), "a KMS key in eu-central-1");
	json_decref(ok_run(kms_create_alias,
	                   J("{'AliasName':'alias/eu','TargetKeyId':'%s'}", str(json_object_get(o, "KeyMetadata"), "KeyId")),
	                   "alias/eu"));
	json_decref(o);
	at("us-east-1", T0 + 5007);
	o = ok_run(sm_replicate_secret_to_regions,
	           J("{'SecretId':'rep','AddReplicaRegions':[{'Region':'eu-central-1','KmsKeyId':'alias/eu'}],"
	             "'ForceOverwriteReplicaSecret':true}"),
	           "ForceOverwriteReplicaSecret");
	json_decref(o);
	at("eu-central-1", T0 + 5008);
	is_str(get_value("rep"), "v2", "overwritten by the replica");

	at("us-east-1", T0 + 5009);
	err_run(sm_delete_secret, J("{'SecretId':'rep'}"), ERR_SM_INVALID_PARAMETER, NULL,
	        "a primary with replicas cannot be deleted");
	o = ok_run(sm_remove_regions_from_replication, J("{'SecretId':'rep','RemoveReplicaRegions':['eu-central-1']}"),
	           "RemoveRegionsFromReplication");
	is_int(json_array_size(json_object_get(o, "ReplicationStatus")), 1, "one replica left");
	json_decref(o);
	at("eu-central-1", T0 + 5010);
	err_run(sm_get_secret_value, J("{'SecretId':'rep'}"), ERR_SM_RESOURCE_NOT_FOUND, NULL, "removed replica is gone");

	at("us-west-2", T0 + 5011);
	o = ok_run(sm_stop_replication_to_replica, J("{'SecretId':'rep'}"), "StopReplicationToReplica");
	json_decref(o);
	o = ok_run(sm_put_secret_value, J("{'SecretId':'rep','SecretString':'standalone'}"), "promoted replica is writable");
	json_decref(o);
	o = run(sm_describe_secret, J("{'SecretId':'rep'}"));
	ok(o && !json_object_get(o, "PrimaryRegion"), "promoted: no PrimaryRegion");
	json_decref(o);
	at("us-east-1", T0 + 5012);
	o = run(sm_describe_secret, J("{'SecretId':'rep'}"));
	ok(o && !json_object_get(o, "ReplicationStatus") && !json_object_get(o, "PrimaryRegion"),
	   "primary without replicas");
	json_decref(o);
	is_str(get_value("rep"), "v2", "primary kept its value");
	err_run(sm_stop_replication_to_replica, J("{'SecretId':'rep'}"), ERR_SM_INVALID_REQUEST, NULL,
	        "StopReplicationToReplica on a non-replica");
	err_run(sm_replicate_secret_to_regions, J("{'SecretId':'rep','AddReplicaRegions':[{'Region':'us-east-1'}]}"),
	        ERR_SM_INVALID_PARAMETER, NULL, "replica in the primary's own region");
	o = ok_run(sm_delete_secret, J("{'SecretId':'rep','ForceDeleteWithoutRecovery':true}"),
	           "deletable once it has no replicas");
	json_decref(o);
	free(arn);
}

static int count_jobs(double now, struct secrets_job *out)
{
	struct secrets_job jobs[8];
	int n = 0;
	struct emu_err err;
	if (secrets_jobs_due(S, now, jobs, 8, &n, &err) < 0)
		return -1;
	if (out && n > 0)
		*out = jobs[0];
	return n;
}

static void step_ok(struct secrets_job *job, double now, const char *what)
{
	bool more = false;
	struct emu_err err;
	ok(secrets_job_done(S, job, true, NULL, now, &more, &err) == 0, "%s", what);
}

#define LAMBDA "arn:aws:lambda:us-east-1:" ACCT ":function:rotator"

static void test_rotation(void)
{
	at("us-east-1", T0 + 6000);
	json_t *o = ok_run(sm_create_secret, J("{'Name':'rot','SecretString':'old','ClientRequestToken':'%s'}", TOK("c")),
	                   "rot");
	json_decref(o);
	err_run(sm_rotate_secret, J("{'SecretId':'rot'}"), ERR_SM_INVALID_REQUEST,
	        "You tried to enable rotation on a secret that doesn't already have a Lambda function ARN configured and "
	        "you didn't include such an ARN as a parameter in this call.",
	        "RotateSecret without a Lambda");
	err_run(sm_rotate_secret, J("{'SecretId':'rot','RotationLambdaARN':'" LAMBDA "'}"), ERR_ACCESS_DENIED,
	        "Secrets Manager cannot invoke the specified Lambda function. Ensure that the function policy grants "
	        "access to the principal secretsmanager.amazonaws.com.",
	        "unknown Lambda");
	err_run(sm_cancel_rotate_secret, J("{'SecretId':'rot'}"), ERR_SM_INVALID_REQUEST, NULL,
	        "CancelRotateSecret without rotation configured");
	json_t *argv = json_pack("[s, s]", "/bin/true", "x");
	json_t *env = json_pack("{s:s}", "A", "b");
	struct emu_err err;
	ok(secrets_lambda_register(S, ACCT, "us-east-1", LAMBDA, argv, env, 5, &err) == 0, "register a Lambda");
	json_t *argv2 = NULL, *env2 = NULL;
	int timeout = 0;
	ok(secrets_lambda_get(S, LAMBDA ":$LATEST", &argv2, &env2, &timeout, &err) == 0 && timeout == 5 &&
	       json_equal(argv, argv2),
	   "qualified ARN resolves to the function");
	json_decref(argv2);
	json_decref(env2);
	json_t *bad = json_pack("[i]", 1);
	ok(secrets_lambda_register(S, ACCT, "us-east-1", LAMBDA "x", bad, NULL, 5, &err) < 0, "argv must be strings");
	json_decref(bad);
	json_decref(argv);
	json_decref(env);

	err_run(sm_rotate_secret,
	        J("{'SecretId':'rot','RotationLambdaARN':'" LAMBDA "','RotationRules':{'AutomaticallyAfterDays':7,"
	          "'ScheduleExpression':'rate(10 days)'}}"),
	        ERR_SM_INVALID_PARAMETER, NULL, "AutomaticallyAfterDays with ScheduleExpression");
	err_run(sm_rotate_secret,
	        J("{'SecretId':'rot','RotationLambdaARN':'" LAMBDA "','RotationRules':{'ScheduleExpression':'rate(3 hours)'}}"),
	        ERR_SM_INVALID_PARAMETER, NULL, "rate below 4 hours");
	err_run(sm_rotate_secret,
	        J("{'SecretId':'rot','RotationLambdaARN':'" LAMBDA "','RotationRules':{'ScheduleExpression':'cron(0 8 * * * *)'}}"),
	        ERR_SM_INVALID_PARAMETER, NULL, "cron without ? in a day field");
	err_run(sm_rotate_secret,
	        J("{'SecretId':'rot','RotationLambdaARN':'" LAMBDA "','RotationRules':{'AutomaticallyAfterDays':7,'Duration':'25h'}}"),
	        ERR_SM_INVALID_PARAMETER, NULL, "Duration over 24h");
	ok(count_jobs(T0 + 6000, NULL) == 0, "no rotation work recorded by failed calls");

	o = ok_run(sm_rotate_secret,
	           J("{'SecretId':'rot','RotationLambdaARN':'" LAMBDA "','ClientRequestToken':'%s',"
	             "'RotationRules':{'AutomaticallyAfterDays':7,'Duration':'3h'}}",
	             TOK("p")),
	           "RotateSecret");
	is_str(str(o, "VersionId"), TOK("p"), "RotateSecret returns the AWSPENDING version");
	json_decref(o);
	is_str(labels("rot", TOK("p")), "AWSPENDING", "placeholder carries AWSPENDING");
	err_run(sm_get_secret_value, J("{'SecretId':'rot','VersionId':'%s','VersionStage':'AWSPENDING'}", TOK("p")),
	        ERR_SM_RESOURCE_NOT_FOUND, "Secrets Manager can't find the specified secret value for VersionId: " TOK("p"),
	        "placeholder has no value");
	o = run(sm_describe_secret, J("{'SecretId':'rot'}"));
	ok(json_is_true(json_object_get(o, "RotationEnabled")), "RotationEnabled true");
	is_str(str(o, "RotationLambdaARN"), LAMBDA, "RotationLambdaARN");
	ok(json_integer_value(json_object_get(json_object_get(o, "RotationRules"), "AutomaticallyAfterDays")) == 7,
	   "RotationRules kept");
	ok(fabs(json_real_value(json_object_get(o, "NextRotationDate")) - (T0 + 6000 + 7 * DAY)) < 0.01,
	   "NextRotationDate = now + 7 days");
	json_decref(o);
	err_run(sm_rotate_secret, J("{'SecretId':'rot'}"), ERR_SM_INVALID_REQUEST,
	        "A previous rotation isn't complete. That rotation will be reattempted.", "rotation already in progress");
	o = ok_run(sm_rotate_secret, J("{'SecretId':'rot','ClientRequestToken':'%s'}", TOK("p")),
	           "RotateSecret retried with the pending token");
	json_decref(o);

	struct secrets_job job;
	ok(count_jobs(T0 + 6000, &job) == 1, "one job recorded");
	ok(job.step == SECRETS_STEP_CREATE && !job.test_only && strcmp(job.version_id, TOK("p")) == 0 &&
	       strcmp(job.lambda_arn, LAMBDA) == 0 && strlen(job.rotation_token) == 36 && strstr(job.arn, ":secret:rot-"),
	   "job: createSecret on the pending version");
	is_str(secrets_step_name(job.step), "createSecret", "step name");

	/* Play the template function: createSecret fills the placeholder. */
	o = ok_run(sm_put_secret_value, J("{'SecretId':'rot','ClientRequestToken':'%s','SecretString':'new',"
	                                  "'VersionStages':['AWSPENDING']}",
	                                  TOK("p")),
	           "createSecret: PutSecretValue(token, AWSPENDING) fills the placeholder");
	json_decref(o);
	o = ok_run(sm_get_secret_value, J("{'SecretId':'rot','VersionId':'%s','VersionStage':'AWSPENDING'}", TOK("p")),
	           "pending value readable");
	json_decref(o);
	is_str(get_value("rot"), "old", "AWSCURRENT unchanged during rotation");
	step_ok(&job, T0 + 6001, "createSecret done");
	ok(count_jobs(T0 + 6001, &job) == 1 && job.step == SECRETS_STEP_SET, "next step setSecret");
	step_ok(&job, T0 + 6002, "setSecret done");
	ok(count_jobs(T0 + 6002, &job) == 1 && job.step == SECRETS_STEP_TEST, "next step testSecret");
	step_ok(&job, T0 + 6003, "testSecret done");
	ok(count_jobs(T0 + 6003, &job) == 1 && job.step == SECRETS_STEP_FINISH, "next step finishSecret");

	/* finishSecret that does not move AWSCURRENT is a failure. */
	bool more = true;
	ok(secrets_job_done(S, &job, true, NULL, T0 + 6004, &more, &err) == 0 && !more, "finish without move recorded");
	ok(count_jobs(T0 + 6004, NULL) == 0, "failed rotation waits for its back-off");
	ok(count_jobs(T0 + 6004 + 6, &job) == 1 && job.step == SECRETS_STEP_CREATE && job.attempts == 1,
	   "retried from createSecret after 5 s");
	for (int s = 0; s < 3; s++) {
		step_ok(&job, T0 + 6010 + s, "step again");
		count_jobs(T0 + 6010 + s, &job);
	}
	o = ok_run(sm_update_secret_version_stage,
	           J("{'SecretId':'rot','VersionStage':'AWSCURRENT','MoveToVersionId':'%s','RemoveFromVersionId':'%s'}",
	             TOK("p"), TOK("c")),
	           "finishSecret: move AWSCURRENT");
	json_decref(o);
	ok(job.step == SECRETS_STEP_FINISH, "at finishSecret");
	step_ok(&job, T0 + 6020, "finishSecret done");
	ok(count_jobs(T0 + 6020, NULL) == 0, "rotation complete: no job left");
	is_str(get_value("rot"), "new", "AWSCURRENT is the rotated value");
	is_str(labels("rot", TOK("p")), "AWSCURRENT", "AWSPENDING removed after completion");
	is_str(labels("rot", TOK("c")), "AWSPREVIOUS", "old version AWSPREVIOUS");
	o = run(sm_describe_secret, J("{'SecretId':'rot'}"));
	ok(fabs(json_real_value(json_object_get(o, "LastRotatedDate")) - (T0 + 6020)) < 0.01, "LastRotatedDate set");
	ok(fabs(json_real_value(json_object_get(o, "NextRotationDate")) - (T0 + 6020 + 7 * DAY)) < 0.01,
	   "NextRotationDate from the rotation");
	json_decref(o);

	/* Scheduled rotation comes due on the domain clock. */
	ok(count_jobs(T0 + 6020 + 7 * DAY - 1, NULL) == 0, "not due yet");
	ok(count_jobs(T0 + 6020 + 7 * DAY + 1, &job) == 1 && job.step == SECRETS_STEP_CREATE, "scheduled rotation starts");
	char sched[80];
	snprintf(sched, sizeof sched, "%s", job.version_id);
	is_str(labels("rot", sched), "AWSPENDING", "scheduled rotation created a placeholder");

	/* Exhausting the retries. */
	for (int a = 0; a < 5; a++) {
		more = true;
		secrets_job_done(S, &job, false, "boom", T0 + 7 * DAY + 7000 + a * 1000, &more, &err);
		count_jobs(T0 + 7 * DAY + 7000 + a * 1000 + 400, &job);
	}
	ok(count_jobs(T0 + 7 * DAY + 20000, NULL) == 0, "gave up after 5 attempts");
	is_str(labels("rot", sched), "AWSPENDING", "AWSPENDING stays on the half-built version");
	o = run(sm_describe_secret, J("{'SecretId':'rot'}"));
	ok(json_real_value(json_object_get(o, "NextRotationDate")) > T0 + 13 * DAY, "next attempt at the next schedule");
	json_decref(o);

	/* Cancel. */
	at("us-east-1", T0 + 8 * DAY);
	o = ok_run(sm_cancel_rotate_secret, J("{'SecretId':'rot'}"), "CancelRotateSecret");
	is_str(str(o, "VersionId"), sched, "CancelRotateSecret returns the half-built version");
	json_decref(o);
	o = run(sm_describe_secret, J("{'SecretId':'rot'}"));
	ok(json_is_false(json_object_get(o, "RotationEnabled")) && !json_object_get(o, "NextRotationDate") &&
	       json_object_get(o, "RotationRules") && json_object_get(o, "RotationLambdaARN"),
	   "disabled; rules and Lambda kept");
	json_decref(o);
	ok(count_jobs(T0 + 30 * DAY, NULL) == 0, "no scheduled rotation while disabled");
	o = ok_run(sm_update_secret_version_stage,
	           J("{'SecretId':'rot','VersionStage':'AWSPENDING','RemoveFromVersionId':'%s'}", sched),
	           "caller removes AWSPENDING");
	json_decref(o);

	/* RotateImmediately=false: testSecret only, then the test version goes. */
	o = ok_run(sm_rotate_secret, J("{'SecretId':'rot','RotateImmediately':false,'ClientRequestToken':'%s'}", TOK("t")),
	           "RotateSecret RotateImmediately=false (stored Lambda)");
	json_decref(o);
	ok(count_jobs(T0 + 8 * DAY, &job) == 1 && job.test_only && job.step == SECRETS_STEP_TEST, "test-only job");
	step_ok(&job, T0 + 8 * DAY + 1, "testSecret done");
	ok(count_jobs(T0 + 8 * DAY + 1, NULL) == 0, "test job finished");
	o = run(sm_list_secret_version_ids, J("{'SecretId':'rot','IncludeDeprecated':true}"));
	bool gone = true;
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(o, "Versions"), i, e) gone &= strcmp(str(e, "VersionId"), TOK("t")) != 0;
	ok(gone, "test version removed");
	json_decref(o);

	/* Cancel during a running rotation: the job disappears. */
	o = ok_run(sm_rotate_secret, J("{'SecretId':'rot','ClientRequestToken':'%s'}", TOK("u")), "another rotation");
	json_decref(o);
	ok(secrets_job_current(S, 0, TOK("u")) == false, "job_current needs the right secret");
	ok(count_jobs(T0 + 8 * DAY, &job) == 1 && secrets_job_current(S, job.secret_id, TOK("u")), "job current");
	o = ok_run(sm_cancel_rotate_secret, J("{'SecretId':'rot'}"), "cancel in progress");
	json_decref(o);
	ok(!secrets_job_current(S, job.secret_id, TOK("u")), "cancelled job no longer current");
	more = true;
	ok(secrets_job_done(S, &job, true, NULL, T0 + 8 * DAY + 2, &more, &err) == 0 && !more,
	   "a late result of a cancelled job is ignored");

	/* A manual change counts as a rotation for the schedule (rule 12). */
	o = ok_run(sm_update_secret_version_stage,
	           J("{'SecretId':'rot','VersionStage':'AWSPENDING','RemoveFromVersionId':'%s'}", TOK("u")), "clean up");
	json_decref(o);
	o = ok_run(sm_rotate_secret, J("{'SecretId':'rot','RotateImmediately':false,'ClientRequestToken':'%s'}", TOK("w")),
	           "re-enable");
	json_decref(o);
	ok(count_jobs(T0 + 8 * DAY, &job) == 1, "test job");
	step_ok(&job, T0 + 8 * DAY, "test done");
	at("us-east-1", T0 + 9 * DAY);
	o = ok_run(sm_put_secret_value, J("{'SecretId':'rot','SecretString':'manual'}"), "manual PutSecretValue");
	json_decref(o);
	o = run(sm_describe_secret, J("{'SecretId':'rot'}"));
	ok(fabs(json_real_value(json_object_get(o, "NextRotationDate")) - (T0 + 16 * DAY)) < 0.01,
	   "NextRotationDate recomputed from the manual change");
	json_decref(o);

	/* A deleted secret does not rotate; force deletion drops its work. */
	o = ok_run(sm_delete_secret, J("{'SecretId':'rot','ForceDeleteWithoutRecovery':true}"), "delete rot");
	json_decref(o);
	ok(count_jobs(T0 + 100 * DAY, NULL) == 0, "no work for a deleted secret");
}

static void test_schedules(void)
{
	struct emu_err err;
	const char *good[] = {"rate(4 hours)", "rate(1 day)", "rate(10 days)", "cron(0 8 1 * ? *)",
	                      "cron(0 */6 ? * MON-FRI *)", "cron(0 0 L * ? *)", "cron(30 12 ? * 6L 2030-2040)",
	                      "cron(0 0 ? * 2#1 *)", "cron(15 10 ? * SUN,SAT *)", "cron(0 4 15W * ? *)"};
	for (size_t i = 0; i < sizeof good / sizeof *good; i++)
		ok(secrets_schedule_check(good[i], &err) == 0, "valid: %s", good[i]);
	const char *bad[] = {"rate(3 hours)", "rate(5 minutes)", "rate(0 days)", "rate(2 weeks)", "cron(0 8 * * * *)",
	                     "cron(0 8 1 * ?)", "cron(61 8 1 * ? *)", "cron(0 24 1 * ? *)", "cron(0 8 ? * 8 *)",
	                     "cron(0 8 ? * MON *) x", "every day", "cron(0 8 ? JANUARY MON *)"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		ok(secrets_schedule_check(bad[i], &err) < 0 && err.code == ERR_SM_INVALID_PARAMETER, "invalid: %s", bad[i]);

	struct tm tm = {.tm_year = 2024 - 1900, .tm_mon = 0, .tm_mday = 15, .tm_hour = 10, .tm_min = 30};
	double t = (double)timegm(&tm); /* Mon 2024-01-15 10:30:00Z */
	char out[25];
#define NEXT_IS(expr, want)                                                                       \
	do {                                                                                      \
		double n_ = secrets_schedule_next(expr, t);                                       \
		if (n_ > 0)                                                                       \
			clock_fmt_iso(n_, out);                                                   \
		else                                                                              \
			snprintf(out, sizeof out, "never");                                       \
		is_str(out, want, "next of %s", expr);                                            \
	} while (0)
	NEXT_IS("rate(4 hours)", "2024-01-15T14:30:00.000Z");
	NEXT_IS("rate(2 days)", "2024-01-17T10:30:00.000Z");
	NEXT_IS("cron(0 8 1 * ? *)", "2024-02-01T08:00:00.000Z");
	NEXT_IS("cron(0 */6 ? * MON-FRI *)", "2024-01-15T12:00:00.000Z");
	NEXT_IS("cron(30 10 * * ? *)", "2024-01-16T10:30:00.000Z");
	NEXT_IS("cron(0 0 L * ? *)", "2024-01-31T00:00:00.000Z");
	NEXT_IS("cron(0 12 ? * 6L *)", "2024-01-26T12:00:00.000Z");
	NEXT_IS("cron(0 0 ? * 2#1 *)", "2024-02-05T00:00:00.000Z");
	NEXT_IS("cron(0 9 ? * SAT *)", "2024-01-20T09:00:00.000Z");
	NEXT_IS("cron(0 0 29 FEB ? *)", "2024-02-29T00:00:00.000Z");
	NEXT_IS("cron(0 0 1 1 ? 2025)", "2025-01-01T00:00:00.000Z");
	NEXT_IS("cron(0 0 1 1 ? 2020)", "never");
	NEXT_IS("cron(0 4 15W * ? *)", "2024-02-15T04:00:00.000Z");
	NEXT_IS("cron(0 4 3W * ? *)", "2024-02-02T04:00:00.000Z"); /* Sat 3 Feb -> Fri 2 Feb */
	NEXT_IS("cron(0 0 LW * ? *)", "2024-01-31T00:00:00.000Z");
}

/* Every operation survives ill-typed and absent input without crashing. */
static void test_robustness(void)
{
	at("us-east-1", T0 + 9000);
	json_t *o = run(sm_create_secret, J("{'Name':'robust','SecretString':'x'}"));
	json_decref(o);
	const char *inputs[] = {
		"[]", "{}", "{'SecretId':5}", "{'SecretId':'robust','VersionId':[]}", "{'SecretId':'robust','VersionStage':{}}",
		"{'SecretId':'robust','SecretString':7}", "{'SecretId':'robust','SecretBinary':true}",
		"{'SecretId':'robust','Tags':[1]}", "{'SecretId':'robust','Tags':[{'Key':5}]}", "{'SecretId':'robust','TagKeys':'k'}",
		"{'SecretId':'robust','Filters':{}}", "{'Filters':[{'Key':'name'}]}", "{'Filters':[{'Key':'name','Values':[1]}]}",
		"{'SecretId':'robust','MaxResults':'5'}", "{'SecretId':'robust','NextToken':1}",
		"{'SecretId':'robust','RotationRules':[]}", "{'SecretId':'robust','RotationRules':{'AutomaticallyAfterDays':'x'}}",
		"{'SecretId':'robust','AddReplicaRegions':[1]}", "{'SecretId':'robust','AddReplicaRegions':'x'}",
		"{'SecretId':'robust','RemoveReplicaRegions':[null]}", "{'SecretId':'robust','ResourcePolicy':{}}",
		"{'SecretIdList':'x'}", "{'SecretIdList':[]}", "{'Name':null}", "{'SecretId':'robust','RecoveryWindowInDays':1.5}",
		"{'SecretId':'robust','ForceDeleteWithoutRecovery':'yes'}", "{'SecretId':'robust','VersionStages':[[]]}",
		"{'SecretId':'robust','ExternalSecretRotationMetadata':5}", "{'PasswordLength':-1}",
		"{'SecretId':'\\u0000'}", "{'SecretId':'robust','ClientRequestToken':12}",
	};
	size_t crashes = 0, calls = 0;
	for (size_t i = 0; i < sm_ops_count; i++) {
		for (size_t k = 0; k < sizeof inputs / sizeof *inputs; k++) {
			json_t *in = J("%s", inputs[k]);
			json_t *out = NULL;
			emu_err_clear(&E);
			int rc = sm_ops[i].fn(&C, in, &out, &E);
			calls++;
			if (rc < 0 && (out || E.code == ERR_OK))
				crashes++;
			if (rc == 0 && strcmp(sm_ops[i].name, "DeleteSecret") == 0) {
				json_t *again = run(sm_create_secret, J("{'Name':'robust','SecretString':'x'}"));
				json_decref(again);
			}
			json_decref(out);
			json_decref(in);
		}
		json_t *out = NULL;
		emu_err_clear(&E);
		int rc = sm_ops[i].fn(&C, NULL, &out, &E);
		if (rc < 0 && E.code == ERR_OK)
			crashes++;
		json_decref(out);
	}
	ok(crashes == 0, "%zu ill-typed calls over %zu operations: errors always set, never output on failure", calls,
	   sm_ops_count);
}

static void test_op_table(void)
{
	is_int(sm_ops_count, 23, "23 operations");
	bool sorted = true, named = true;
	for (size_t i = 0; i < sm_ops_count; i++) {
		if (i && strcmp(sm_ops[i - 1].name, sm_ops[i].name) >= 0)
			sorted = false;
		char want[96];
		snprintf(want, sizeof want, "secretsmanager:%s", sm_ops[i].name);
		named &= strcmp(want, sm_ops[i].iam_action) == 0 && sm_op_find(sm_ops[i].name, strlen(sm_ops[i].name)) == &sm_ops[i];
	}
	ok(sorted, "table sorted by name");
	ok(named, "IAM actions and lookups");
	ok(sm_op_find("GetSecretValueX", 14) == &sm_ops[8], "lookup by length");
	ok(!sm_op_find("GetSecret", 9) && !sm_op_find("", 0) && !sm_op_find("Zzz", 3), "unknown names");
	ok(!sm_op_find("GetSecretValue", 14)->write && sm_op_find("PutSecretValue", 14)->write, "write flags");
}

int main(void)
{
	struct emu_err err;
	if (store_open(&S, NULL, &err) < 0) {
		printf("Bail out! store_open: %s\n", err.msg);
		return 1;
	}
	test_create_get();
	test_versions();
	test_update_stage();
	test_delete_restore();
	test_tags();
	test_list();
	test_policy();
	test_replication();
	test_rotation();
	test_schedules();
	test_robustness();
	test_op_table();
	store_close(S);
	return done_testing();
}
