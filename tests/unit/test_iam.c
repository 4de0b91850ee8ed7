/*
 * Unit tests for the IAM domain (emu/iam*.c) and its operation table
 * (api/iam.c) against an in-memory store: every operation's success and
 * error paths with exact codes and messages, DeleteConflict rules, policy
 * versions, access keys appearing in access_keys (where SigV4 reads them),
 * the identity policies of users, roles and role sessions, role lookup for
 * STS, fixtures (including rollback), and robustness against ill-typed
 * input to every operation.
 */
#include "api/iam.h"
#include "emu/iam.h"
#include "emu/store.h"
#include "tests/unit/tap.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define ACCT "123456789012"
#define OTHER "210987654321"
#define T0 1700000000.0
#define ROOT_ARN "arn:aws:iam::" ACCT ":root"

#define DOC_SM                                                                                         \
	"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":"                 \
	"\"secretsmanager:GetSecretValue\",\"Resource\":\"*\"}]}"
#define DOC_RDS                                                                                        \
	"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"rds-db:connect\"," \
	"\"Resource\":\"*\"}]}"
#define DOC_TRUST                                                                                      \
	"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Service\":"   \
	"\"lambda.amazonaws.com\"},\"Action\":\"sts:AssumeRole\"}]}"
#define DOC_TRUST2                                                                                     \
	"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":"       \
	"\"arn:aws:iam::" ACCT ":root\"},\"Action\":\"sts:AssumeRole\"}]}"
#define ADMIN_ARN "arn:aws:iam::aws:policy/AdministratorAccess"
#define SMRW_ARN "arn:aws:iam::aws:policy/SecretsManagerReadWrite"
#define LAMBDA_ARN "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"

static struct store *S;
static struct emu_call C;
static struct emu_err E;

static void as(const char *principal, const char *user_id)
{
	C = (struct emu_call){.store = S, .account = ACCT, .region = "us-east-1", .principal_arn = principal,
	                      .user_id = user_id, .access_key_id = "test", .request_id = "req", .now = T0};
}

/* A request object from key/value string pairs (NULL-terminated). */
static json_t *O(const char *k, ...)
{
	json_t *o = json_object();
	va_list ap;
	va_start(ap, k);
	for (; k; k = va_arg(ap, const char *)) {
		const char *v = va_arg(ap, const char *);
		json_object_set_new(o, k, json_string(v));
	}
	va_end(ap);
	return o;
}

/* JSON from a template written with ' for " (values must not contain '). */
__attribute__((format(printf, 1, 2))) static json_t *J(const char *fmt, ...)
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

static json_t *with(json_t *o, const char *k, json_t *v)
{
	json_object_set_new(o, k, v);
	return o;
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
		printf("#   error %s: %s\n", emu_err_query_code(E.code), E.msg);
	return o;
}

static void ok_do(api_json_fn fn, json_t *in, const char *what) { json_decref(ok_run(fn, in, what)); }

static void err_run(api_json_fn fn, json_t *in, enum emu_err_code code, const char *msg, const char *what)
{
	json_t *o = run(fn, in);
	ok(!o && E.code == code, "%s -> %s", what, emu_err_query_code(code));
	if (o || E.code != code)
		printf("#   got %s: %s\n", o ? "success" : emu_err_query_code(E.code), o ? "" : E.msg);
	if (msg && !o)
		is_str(E.msg, msg, "%s: message", what);
	json_decref(o);
}

/* Value at a dotted path ("User.Tags.0.Key"; numbers index arrays). */
static json_t *at(json_t *o, const char *path)
{
	char buf[256];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *save = NULL, *t = strtok_r(buf, ".", &save); t && o; t = strtok_r(NULL, ".", &save))
		o = json_is_array(o) ? json_array_get(o, (size_t)strtoul(t, NULL, 10)) : json_object_get(o, t);
	return o;
}
static const char *G(json_t *o, const char *path) { return json_string_value(at(o, path)); }
static long long GI(json_t *o, const char *path) { return (long long)json_integer_value(at(o, path)); }

static bool id_ok(const char *id, const char *prefix)
{
	if (!id || strlen(id) != 21 || strncmp(id, prefix, 4) != 0)
		return false;
	for (const char *p = id + 4; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
			return false;
	return true;
}

/* One-column, one-row SQL probe ("" when no row). */
static const char *sql1(const char *sql, const char *arg)
{
	static char buf[512];
	buf[0] = '\0';
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(store_db(S), sql, -1, &st, NULL) != SQLITE_OK)
		return "(bad sql)";
	if (arg)
		sqlite3_bind_text(st, 1, arg, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		snprintf(buf, sizeof buf, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return buf;
}

/* URL-encoding as IAM puts documents on the wire. */
static const char *enc(const char *s)
{
	static char buf[4096];
	size_t w = 0;
	for (; *s && w + 4 < sizeof buf; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr("-_.~", c))
			buf[w++] = (char)c;
		else
			w += (size_t)snprintf(buf + w, 4, "%%%02X", c);
	}
	buf[w] = '\0';
	return buf;
}

static void reset(void)
{
	if (store_reset(S, &E) < 0)
		printf("# reset failed: %s\n", E.msg);
	as(ROOT_ARN, ACCT);
}

/* ---- the operation table -------------------------------------------------------- */

static void test_table(void)
{
	bool sorted = true;
	for (size_t i = 1; i < iam_ops_count; i++)
		if (strcmp(iam_ops[i - 1].name, iam_ops[i].name) >= 0)
			sorted = false;
	ok(sorted, "op table sorted by name (%zu operations)", iam_ops_count);
	bool found = true, actions = true;
	for (size_t i = 0; i < iam_ops_count; i++) {
		const struct api_op *op = iam_op_find(iam_ops[i].name, strlen(iam_ops[i].name));
		found = found && op == &iam_ops[i];
		char want[96];
		snprintf(want, sizeof want, "iam:%s", iam_ops[i].name);
		actions = actions && strcmp(iam_ops[i].iam_action, want) == 0 && iam_ops[i].fn;
	}
	ok(found, "every operation found by name");
	ok(actions, "IAM actions are iam:<Operation>");
	ok(iam_op_find("GetUserX", 7) == iam_op_find("GetUser", 7), "length-bounded lookup");
	ok(!iam_op_find("GetUsers", 8) && !iam_op_find("", 0) && !iam_op_find("Zzz", 3), "unknown operations");
	const struct api_op *g = iam_op_find("GetRole", 7), *c = iam_op_find("CreateRole", 10);
	ok(g && !g->write && c && c->write, "write flags");
	ok(iam_op_find("CreateUser", 10) && iam_op_find("ListPolicies", 12) && iam_op_find("CreateAccessKey", 15) &&
	       iam_op_find("SetDefaultPolicyVersion", 23) && iam_op_find("ListAttachedRolePolicies", 24),
	   "the operations setup scripts use are present");
}

/* ---- users ------------------------------------------------------------------------ */

static void test_users(void)
{
	reset();
	json_t *o = ok_run(iam_create_user, O("UserName", "Alice", NULL), "CreateUser");
	is_str(G(o, "User.UserName"), "Alice", "UserName");
	is_str(G(o, "User.Path"), "/", "default Path");
	is_str(G(o, "User.Arn"), "arn:aws:iam::" ACCT ":user/Alice", "user ARN");
	ok(id_ok(G(o, "User.UserId"), "AIDA"), "UserId AIDA + 17 [A-Z0-9] (%s)", G(o, "User.UserId"));
	ok(json_is_integer(at(o, "User.CreateDate")) && GI(o, "User.CreateDate") == (long long)T0,
	   "CreateDate in whole epoch seconds");
	ok(!at(o, "User.Tags") && !at(o, "User.PermissionsBoundary"), "no Tags or boundary when none");
	json_decref(o);

	o = ok_run(iam_create_user,
	           with(O("UserName", "bob", "Path", "/division/team/", NULL), "Tags",
	                J("[{'Key':'Dept','Value':'eng'},{'Key':'cost','Value':''}]")),
	           "CreateUser with Path and Tags");
	is_str(G(o, "User.Arn"), "arn:aws:iam::" ACCT ":user/division/team/bob", "ARN carries the path");
	is_str(G(o, "User.Tags.0.Key"), "Dept", "tags in order");
	is_str(G(o, "User.Tags.1.Value"), "", "empty tag value");
	json_decref(o);

	err_run(iam_create_user, O("UserName", "alice", NULL), ERR_IAM_ENTITY_EXISTS,
	        "User with name alice already exists.", "names are unique whatever the case");
	err_run(iam_create_user, O("UserName", "bad name", NULL), ERR_VALIDATION,
	        "1 validation error detected: Value 'bad name' at 'userName' failed to satisfy constraint: Member must "
	        "satisfy regular expression pattern: [\\w+=,.@-]+",
	        "name pattern");
	err_run(iam_create_user, O("UserName", "a1234567890123456789012345678901234567890123456789012345678901234", NULL),
	        ERR_VALIDATION,
	        "1 validation error detected: Value 'a1234567890123456789012345678901234567890123456789012345678901234' "
	        "at 'userName' failed to satisfy constraint: Member must have length less than or equal to 64",
	        "name of 65 characters");
	err_run(iam_create_user, O("Path", "/", NULL), ERR_VALIDATION,
	        "1 validation error detected: Value null at 'userName' failed to satisfy constraint: Member must not be "
	        "null",
	        "UserName required");
	err_run(iam_create_user, O("UserName", "carol", "Path", "division", NULL), ERR_VALIDATION,
	        "1 validation error detected: Value 'division' at 'path' failed to satisfy constraint: Member must "
	        "satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)",
	        "path pattern");
	err_run(iam_create_user, O("UserName", "carol", "Path", "//", NULL), ERR_VALIDATION, NULL, "empty path segment");
	err_run(iam_create_user, with(O("UserName", "carol", NULL), "Tags", J("[{'Key':'a','Value':'1'},{'Key':'A','Value':'2'}]")),
	        ERR_IAM_INVALID_INPUT, "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
	        "duplicate tag keys");
	err_run(iam_create_user, with(O("UserName", "carol", NULL), "Tags", J("[{'Key':'a'}]")), ERR_VALIDATION,
	        "1 validation error detected: Value null at 'tags.1.member.value' failed to satisfy constraint: Member "
	        "must not be null",
	        "tag without a value");
	err_run(iam_create_user, J("{'UserName':5}"), ERR_SERIALIZATION, NULL, "UserName of the wrong type");
	err_run(iam_create_user, J("[]"), ERR_SERIALIZATION, NULL, "request not an object");
	err_run(iam_create_user, O("UserName", "carol", "PermissionsBoundary", "arn:aws:iam::" ACCT ":policy/nope", NULL),
	        ERR_IAM_NO_SUCH_ENTITY, "Policy arn:aws:iam::" ACCT ":policy/nope does not exist or is not attachable.",
	        "boundary must exist");
	err_run(iam_get_user, O("UserName", "carol", NULL), ERR_IAM_NO_SUCH_ENTITY, NULL,
	        "failed CreateUser calls leave nothing behind");

	o = ok_run(iam_create_user, O("UserName", "dave", "PermissionsBoundary", ADMIN_ARN, NULL), "boundary (AWS policy)");
	is_str(G(o, "User.PermissionsBoundary.PermissionsBoundaryArn"), ADMIN_ARN, "boundary rendered");
	is_str(G(o, "User.PermissionsBoundary.PermissionsBoundaryType"), "PermissionsBoundaryPolicy", "boundary type");
	json_decref(o);

	/* GetUser */
	o = ok_run(iam_get_user, O("UserName", "ALICE", NULL), "GetUser (case-insensitive)");
	is_str(G(o, "User.UserName"), "Alice", "stored case kept");
	json_decref(o);
	err_run(iam_get_user, O("UserName", "ghost", NULL), ERR_IAM_NO_SUCH_ENTITY, "The user with name ghost cannot be found.",
	        "GetUser unknown");
	o = ok_run(iam_get_user, NULL, "GetUser as root");
	is_str(G(o, "User.UserId"), ACCT, "root UserId is the account");
	is_str(G(o, "User.Arn"), ROOT_ARN, "root Arn");
	ok(!at(o, "User.UserName") && at(o, "User.CreateDate"), "root has no UserName, has CreateDate");
	json_decref(o);
	as("arn:aws:iam::" ACCT ":user/division/team/bob", "AIDAX");
	o = ok_run(iam_get_user, json_object(), "GetUser as a user");
	is_str(G(o, "User.UserName"), "bob", "the caller");
	json_decref(o);
	as("arn:aws:sts::" ACCT ":assumed-role/r/s", "AROAX:s");
	err_run(iam_get_user, NULL, ERR_VALIDATION, "Must specify userName when calling with non-User credentials",
	        "GetUser as a role session");
	as(ROOT_ARN, ACCT);

	/* ListUsers: by name, paths, paging */
	ok_do(iam_create_user, O("UserName", "erin", "Path", "/division/", NULL), "CreateUser erin");
	o = ok_run(iam_list_users, NULL, "ListUsers");
	is_int(json_array_size(at(o, "Users")), 4, "four users");
	is_str(G(o, "Users.0.UserName"), "Alice", "sorted by name");
	is_str(G(o, "Users.3.UserName"), "erin", "last by name");
	ok(json_is_false(at(o, "IsTruncated")) && !at(o, "Marker"), "not truncated");
	ok(!at(o, "Users.1.Tags"), "list entries carry no tags");
	json_decref(o);
	o = ok_run(iam_list_users, O("PathPrefix", "/division/", NULL), "ListUsers PathPrefix");
	is_int(json_array_size(at(o, "Users")), 2, "two under /division/");
	json_decref(o);
	o = ok_run(iam_list_users, J("{'MaxItems':3}"), "ListUsers MaxItems 3");
	ok(json_is_true(at(o, "IsTruncated")) && G(o, "Marker"), "truncated with a Marker");
	is_int(json_array_size(at(o, "Users")), 3, "page of three");
	char marker[64];
	snprintf(marker, sizeof marker, "%s", G(o, "Marker") ? G(o, "Marker") : "");
	json_decref(o);
	o = ok_run(iam_list_users, with(J("{'MaxItems':3}"), "Marker", json_string(marker)), "ListUsers next page");
	is_int(json_array_size(at(o, "Users")), 1, "the rest");
	is_str(G(o, "Users.0.UserName"), "erin", "continues after the page");
	json_decref(o);
	err_run(iam_list_users, O("Marker", "bogus", NULL), ERR_VALIDATION, "Invalid Marker.", "bad marker");
	err_run(iam_list_users, J("{'MaxItems':0}"), ERR_VALIDATION,
	        "1 validation error detected: Value '0' at 'maxItems' failed to satisfy constraint: Member must have value "
	        "greater than or equal to 1",
	        "MaxItems 0");

	/* UpdateUser: rename moves the ARN, also in access_keys */
	o = ok_run(iam_create_access_key, O("UserName", "erin", NULL), "key for erin");
	char kid[32];
	snprintf(kid, sizeof kid, "%s", G(o, "AccessKey.AccessKeyId") ? G(o, "AccessKey.AccessKeyId") : "");
	json_decref(o);
	err_run(iam_update_user, O("UserName", "erin", "NewUserName", "ALICE", NULL), ERR_IAM_ENTITY_EXISTS,
	        "User with name ALICE already exists.", "rename onto another user");
	ok_do(iam_update_user, O("UserName", "erin", "NewUserName", "Erin2", "NewPath", "/ops/", NULL), "UpdateUser");
	o = ok_run(iam_get_user, O("UserName", "erin2", NULL), "renamed user found");
	is_str(G(o, "User.Arn"), "arn:aws:iam::" ACCT ":user/ops/Erin2", "new ARN");
	json_decref(o);
	is_str(sql1("SELECT principal_arn FROM access_keys WHERE access_key_id = ?1", kid),
	       "arn:aws:iam::" ACCT ":user/ops/Erin2", "access key follows the rename");
	ok_do(iam_update_user, O("UserName", "Erin2", "NewUserName", "erin2", NULL), "rename to a case variant of itself");
	err_run(iam_update_user, O("UserName", "nobody", NULL), ERR_IAM_NO_SUCH_ENTITY,
	        "The user with name nobody cannot be found.", "UpdateUser unknown");
}

static void test_delete_user(void)
{
	reset();
	ok_do(iam_create_user, with(O("UserName", "u", NULL), "Tags", J("[{'Key':'k','Value':'v'}]")), "CreateUser u");
	json_t *o = ok_run(iam_create_access_key, O("UserName", "u", NULL), "key");
	char kid[32];
	snprintf(kid, sizeof kid, "%s", G(o, "AccessKey.AccessKeyId") ? G(o, "AccessKey.AccessKeyId") : "");
	json_decref(o);
	ok_do(iam_put_user_policy, O("UserName", "u", "PolicyName", "p", "PolicyDocument", DOC_SM, NULL), "inline policy");
	ok_do(iam_attach_user_policy, O("UserName", "u", "PolicyArn", ADMIN_ARN, NULL), "attached policy");
	err_run(iam_delete_user, O("UserName", "u", NULL), ERR_IAM_DELETE_CONFLICT,
	        "Cannot delete entity, must delete access keys first.", "DeleteUser with keys");
	ok_do(iam_delete_access_key, O("UserName", "u", "AccessKeyId", kid, NULL), "DeleteAccessKey");
	err_run(iam_delete_user, O("UserName", "u", NULL), ERR_IAM_DELETE_CONFLICT,
	        "Cannot delete entity, must delete policies first.", "DeleteUser with inline policies");
	ok_do(iam_delete_user_policy, O("UserName", "u", "PolicyName", "p", NULL), "DeleteUserPolicy");
	err_run(iam_delete_user, O("UserName", "u", NULL), ERR_IAM_DELETE_CONFLICT,
	        "Cannot delete entity, must detach all policies first.", "DeleteUser with attached policies");
	ok_do(iam_detach_user_policy, O("UserName", "u", "PolicyArn", ADMIN_ARN, NULL), "DetachUserPolicy");
	ok_do(iam_delete_user, O("UserName", "u", NULL), "DeleteUser");
	err_run(iam_get_user, O("UserName", "u", NULL), ERR_IAM_NO_SUCH_ENTITY, NULL, "gone");
	is_str(sql1("SELECT count(*) FROM iam_tags", NULL), "0", "its tags are gone");
	err_run(iam_delete_user, O("UserName", "u", NULL), ERR_IAM_NO_SUCH_ENTITY, "The user with name u cannot be found.",
	        "DeleteUser twice");
}

/* ---- access keys --------------------------------------------------------------------- */

static void test_access_keys(void)
{
	reset();
	ok_do(iam_create_user, O("UserName", "svc", NULL), "CreateUser svc");
	char uid[32];
	snprintf(uid, sizeof uid, "%s", sql1("SELECT unique_id FROM iam_principals WHERE name = 'svc'", NULL));
	json_t *o = ok_run(iam_create_access_key, O("UserName", "svc", NULL), "CreateAccessKey");
	const char *id = G(o, "AccessKey.AccessKeyId"), *secret = G(o, "AccessKey.SecretAccessKey");
	ok(id && strlen(id) == 20 && strncmp(id, "AKIA", 4) == 0, "AKIA key id of 20 characters (%s)", id ? id : "");
	ok(secret && strlen(secret) == 40, "secret of 40 characters");
	is_str(G(o, "AccessKey.Status"), "Active", "Active");
	is_str(G(o, "AccessKey.UserName"), "svc", "UserName");
	char k1[32], s1[48];
	snprintf(k1, sizeof k1, "%s", id ? id : "");
	snprintf(s1, sizeof s1, "%s", secret ? secret : "");
	json_decref(o);
	is_str(sql1("SELECT secret_access_key FROM access_keys WHERE access_key_id = ?1", k1), s1, "secret stored for SigV4");
	is_str(sql1("SELECT principal_arn FROM access_keys WHERE access_key_id = ?1", k1), "arn:aws:iam::" ACCT ":user/svc",
	       "principal_arn is the user's ARN");
	is_str(sql1("SELECT user_id FROM access_keys WHERE access_key_id = ?1", k1), uid, "user_id is the AIDA id");
	is_str(sql1("SELECT status || account || coalesce(session_token, '-') FROM access_keys WHERE access_key_id = ?1", k1),
	       "Active" ACCT "-", "Active, account, long-term");

	o = ok_run(iam_create_access_key, O("UserName", "svc", NULL), "second key");
	char k2[32];
	snprintf(k2, sizeof k2, "%s", G(o, "AccessKey.AccessKeyId") ? G(o, "AccessKey.AccessKeyId") : "");
	json_decref(o);
	err_run(iam_create_access_key, O("UserName", "svc", NULL), ERR_IAM_LIMIT_EXCEEDED,
	        "Cannot exceed quota for AccessKeysPerUser: 2", "third key");
	err_run(iam_create_access_key, O("UserName", "nobody", NULL), ERR_IAM_NO_SUCH_ENTITY,
	        "The user with name nobody cannot be found.", "key for an unknown user");

	o = ok_run(iam_list_access_keys, O("UserName", "svc", NULL), "ListAccessKeys");
	is_int(json_array_size(at(o, "AccessKeyMetadata")), 2, "two keys");
	ok(!at(o, "AccessKeyMetadata.0.SecretAccessKey"), "no secrets in the list");
	is_str(G(o, "AccessKeyMetadata.0.UserName"), "svc", "UserName in entries");
	json_decref(o);

	ok_do(iam_update_access_key, O("UserName", "svc", "AccessKeyId", k1, "Status", "Inactive", NULL), "UpdateAccessKey");
	is_str(sql1("SELECT status FROM access_keys WHERE access_key_id = ?1", k1), "Inactive", "status Inactive");
	err_run(iam_update_access_key, O("UserName", "svc", "AccessKeyId", k1, "Status", "Off", NULL), ERR_VALIDATION,
	        "1 validation error detected: Value 'Off' at 'status' failed to satisfy constraint: Member must satisfy "
	        "enum value set: [Active, Inactive, Expired]",
	        "bad status");
	ok_do(iam_create_user, O("UserName", "other", NULL), "CreateUser other");
	char msg[128];
	snprintf(msg, sizeof msg, "The Access Key with id %s cannot be found.", k1);
	err_run(iam_update_access_key, O("UserName", "other", "AccessKeyId", k1, "Status", "Active", NULL),
	        ERR_IAM_NO_SUCH_ENTITY, msg, "someone else's key");
	err_run(iam_delete_access_key, O("AccessKeyId", k1, NULL), ERR_IAM_NO_SUCH_ENTITY, msg,
	        "no UserName as root: root's keys only");
	err_run(iam_delete_access_key, O("UserName", "svc", "AccessKeyId", "short", NULL), ERR_VALIDATION, NULL,
	        "key id too short");

	/* GetAccessKeyLastUsed */
	o = ok_run(iam_get_access_key_last_used, O("AccessKeyId", k2, NULL), "GetAccessKeyLastUsed (never)");
	is_str(G(o, "UserName"), "svc", "owner");
	is_str(G(o, "AccessKeyLastUsed.ServiceName"), "N/A", "ServiceName N/A");
	is_str(G(o, "AccessKeyLastUsed.Region"), "N/A", "Region N/A");
	ok(!at(o, "AccessKeyLastUsed.LastUsedDate"), "no date");
	json_decref(o);
	ok(iam_access_key_mark_used(S, k2, "secretsmanager", "eu-west-1", T0 + 60.5, &E) == 0, "mark used");
	o = ok_run(iam_get_access_key_last_used, O("AccessKeyId", k2, NULL), "GetAccessKeyLastUsed (used)");
	is_int(GI(o, "AccessKeyLastUsed.LastUsedDate"), (long long)T0 + 60, "LastUsedDate");
	is_str(G(o, "AccessKeyLastUsed.ServiceName"), "secretsmanager", "ServiceName");
	is_str(G(o, "AccessKeyLastUsed.Region"), "eu-west-1", "Region");
	json_decref(o);
	err_run(iam_get_access_key_last_used, O("AccessKeyId", "AKIAAAAAAAAAAAAAAAAA", NULL), ERR_IAM_NO_SUCH_ENTITY,
	        "The Access Key with id AKIAAAAAAAAAAAAAAAAA cannot be found.", "unknown key");

	ok_do(iam_delete_access_key, O("UserName", "svc", "AccessKeyId", k2, NULL), "DeleteAccessKey");
	is_str(sql1("SELECT count(*) FROM access_keys WHERE access_key_id = ?1", k2), "0", "row gone (SigV4 refuses it)");

	/* The caller's own keys when UserName is absent. */
	as("arn:aws:iam::" ACCT ":user/svc", uid);
	o = ok_run(iam_create_access_key, NULL, "CreateAccessKey for the calling user");
	is_str(G(o, "AccessKey.UserName"), "svc", "the caller's key");
	json_decref(o);
	o = ok_run(iam_list_access_keys, NULL, "ListAccessKeys for the calling user");
	is_int(json_array_size(at(o, "AccessKeyMetadata")), 2, "both of the caller's keys");
	json_decref(o);
	as("arn:aws:sts::" ACCT ":assumed-role/r/s", "AROAX:s");
	err_run(iam_create_access_key, NULL, ERR_VALIDATION, "Must specify userName when calling with non-User credentials",
	        "CreateAccessKey as a role session");
	as(ROOT_ARN, ACCT);
	o = ok_run(iam_create_access_key, NULL, "CreateAccessKey as root");
	ok(!at(o, "AccessKey.UserName"), "root key has no UserName");
	is_str(sql1("SELECT principal_arn || ' ' || user_id FROM access_keys WHERE access_key_id = ?1",
	            G(o, "AccessKey.AccessKeyId")),
	       ROOT_ARN " " ACCT, "root key: root ARN, account as user id");
	json_decref(o);
}

/* ---- roles ------------------------------------------------------------------------------- */

static void test_roles(void)
{
	reset();
	json_t *o = ok_run(iam_create_role,
	                   with(O("RoleName", "app", "AssumeRolePolicyDocument", DOC_TRUST, "Description", "the app",
	                          "Path", "/svc/", NULL),
	                        "Tags", J("[{'Key':'team','Value':'a'}]")),
	                   "CreateRole");
	is_str(G(o, "Role.RoleName"), "app", "RoleName");
	ok(id_ok(G(o, "Role.RoleId"), "AROA"), "RoleId AROA...");
	is_str(G(o, "Role.Arn"), "arn:aws:iam::" ACCT ":role/svc/app", "role ARN with path");
	is_int(GI(o, "Role.MaxSessionDuration"), 3600, "default MaxSessionDuration");
	is_str(G(o, "Role.AssumeRolePolicyDocument"), enc(DOC_TRUST), "trust policy URL-encoded");
	is_str(G(o, "Role.Description"), "the app", "Description");
	is_str(G(o, "Role.Tags.0.Key"), "team", "Tags");
	ok(!at(o, "Role.RoleLastUsed"), "CreateRole reports no RoleLastUsed");
	json_decref(o);

	err_run(iam_create_role, O("RoleName", "App", "AssumeRolePolicyDocument", DOC_TRUST, NULL), ERR_IAM_ENTITY_EXISTS,
	        "Role with name App already exists.", "duplicate role");
	err_run(iam_create_role, O("RoleName", "r2", NULL), ERR_VALIDATION,
	        "1 validation error detected: Value null at 'assumeRolePolicyDocument' failed to satisfy constraint: "
	        "Member must not be null",
	        "trust policy required");
	err_run(iam_create_role, with(O("RoleName", "r2", "AssumeRolePolicyDocument", DOC_TRUST, NULL), "MaxSessionDuration",
	                              json_integer(100)),
	        ERR_VALIDATION,
	        "1 validation error detected: Value '100' at 'maxSessionDuration' failed to satisfy constraint: Member "
	        "must have value greater than or equal to 3600",
	        "MaxSessionDuration too small");
	err_run(iam_create_role, with(O("RoleName", "r2", "AssumeRolePolicyDocument", DOC_TRUST, NULL), "MaxSessionDuration",
	                              json_integer(43201)),
	        ERR_VALIDATION,
	        "1 validation error detected: Value '43201' at 'maxSessionDuration' failed to satisfy constraint: Member "
	        "must have value less than or equal to 43200",
	        "MaxSessionDuration too large");
	err_run(iam_create_role, O("RoleName", "r2", "AssumeRolePolicyDocument", "not json", NULL),
	        ERR_IAM_MALFORMED_POLICY, "Syntax errors in policy.", "trust policy not JSON");
	err_run(iam_create_role, O("RoleName", "r2", "AssumeRolePolicyDocument", DOC_SM, NULL), ERR_IAM_MALFORMED_POLICY,
	        NULL, "an identity policy is not a trust policy");
	err_run(iam_create_role, O("RoleName", "r2", "AssumeRolePolicyDocument", DOC_TRUST, "Description", "bad\x01", NULL),
	        ERR_VALIDATION, NULL, "Description characters");
	err_run(iam_get_role, O("RoleName", "r2", NULL), ERR_IAM_NO_SUCH_ENTITY, "The role with name r2 cannot be found.",
	        "failed creates left nothing");

	o = ok_run(iam_create_role,
	           with(O("RoleName", "long", "AssumeRolePolicyDocument", DOC_TRUST2, NULL), "MaxSessionDuration",
	                json_integer(43200)),
	           "CreateRole with MaxSessionDuration 43200");
	is_int(GI(o, "Role.MaxSessionDuration"), 43200, "kept");
	ok(!at(o, "Role.Description"), "no Description when none");
	json_decref(o);

	o = ok_run(iam_get_role, O("RoleName", "APP", NULL), "GetRole");
	is_str(G(o, "Role.RoleName"), "app", "found case-insensitively");
	ok(json_is_object(at(o, "Role.RoleLastUsed")) && json_object_size(at(o, "Role.RoleLastUsed")) == 0,
	   "RoleLastUsed empty before use");
	json_decref(o);
	ok(iam_role_mark_used(S, "arn:aws:iam::" ACCT ":role/svc/app", "eu-central-1", T0 + 5, &E) == 0, "mark used");
	o = ok_run(iam_get_role, O("RoleName", "app", NULL), "GetRole after use");
	is_int(GI(o, "Role.RoleLastUsed.LastUsedDate"), (long long)T0 + 5, "LastUsedDate");
	is_str(G(o, "Role.RoleLastUsed.Region"), "eu-central-1", "Region");
	json_decref(o);

	o = ok_run(iam_list_roles, NULL, "ListRoles");
	is_int(json_array_size(at(o, "Roles")), 2, "two roles");
	is_str(G(o, "Roles.0.RoleName"), "app", "by name");
	ok(!at(o, "Roles.0.Tags") && !at(o, "Roles.0.RoleLastUsed"), "list entries: no Tags, no RoleLastUsed");
	ok(G(o, "Roles.0.AssumeRolePolicyDocument") != NULL, "list entries carry the trust policy");
	json_decref(o);
	o = ok_run(iam_list_roles, O("PathPrefix", "/svc", NULL), "ListRoles PathPrefix");
	is_int(json_array_size(at(o, "Roles")), 1, "one under /svc");
	json_decref(o);

	o = ok_run(iam_update_role, with(O("RoleName", "app", "Description", "new", NULL), "MaxSessionDuration",
	                                 json_integer(7200)),
	           "UpdateRole");
	ok(json_is_object(o) && json_object_size(o) == 0, "UpdateRole answers an empty result");
	json_decref(o);
	o = ok_run(iam_update_role_description, O("RoleName", "app", "Description", "newer", NULL), "UpdateRoleDescription");
	is_str(G(o, "Role.Description"), "newer", "returns the role");
	is_int(GI(o, "Role.MaxSessionDuration"), 7200, "MaxSessionDuration updated by UpdateRole");
	json_decref(o);
	err_run(iam_update_role_description, O("RoleName", "app", NULL), ERR_VALIDATION,
	        "1 validation error detected: Value null at 'description' failed to satisfy constraint: Member must not "
	        "be null",
	        "UpdateRoleDescription needs Description");
	ok_do(iam_update_role, O("RoleName", "app", NULL), "UpdateRole with nothing to change");
	err_run(iam_update_role, O("RoleName", "nope", NULL), ERR_IAM_NO_SUCH_ENTITY, "The role with name nope cannot be found.",
	        "UpdateRole unknown");

	ok_do(iam_update_assume_role_policy, O("RoleName", "app", "PolicyDocument", DOC_TRUST2, NULL), "UpdateAssumeRolePolicy");
	err_run(iam_update_assume_role_policy, O("RoleName", "app", "PolicyDocument", "{", NULL), ERR_IAM_MALFORMED_POLICY,
	        "Syntax errors in policy.", "malformed trust update");

	/* iam_role_get for STS */
	struct iam_role r;
	ok(iam_role_get(S, ACCT, "app", &r, &E) == 0, "iam_role_get by name");
	is_str(r.arn, "arn:aws:iam::" ACCT ":role/svc/app", "arn");
	ok(id_ok(r.role_id, "AROA"), "role id");
	is_str(r.trust_policy, DOC_TRUST2, "raw (not encoded) trust policy, as updated");
	is_int(r.max_session_duration, 7200, "max session duration");
	is_str(r.path, "/svc/", "path");
	iam_role_free(&r);
	ok(iam_role_get(S, OTHER, "arn:aws:iam::" ACCT ":role/svc/app", &r, &E) == 0, "by ARN (the ARN's account)");
	is_str(r.name, "app", "name");
	is_str(r.account, ACCT, "account");
	iam_role_free(&r);
	ok(iam_role_get(S, OTHER, "app", &r, &E) < 0 && E.code == ERR_IAM_NO_SUCH_ENTITY, "by name: only in the given account");
	is_str(E.msg, "The role with name app cannot be found.", "message");
	iam_role_free(&r);
	ok(iam_role_get(S, ACCT, "arn:aws:iam::" ACCT ":user/app", &r, &E) < 0 && E.code == ERR_IAM_NO_SUCH_ENTITY,
	   "a user ARN is not a role");
	iam_role_free(&r);

	/* DeleteRole */
	ok_do(iam_put_role_policy, O("RoleName", "app", "PolicyName", "p", "PolicyDocument", DOC_SM, NULL), "PutRolePolicy");
	ok_do(iam_attach_role_policy, O("RoleName", "app", "PolicyArn", LAMBDA_ARN, NULL), "AttachRolePolicy");
	err_run(iam_delete_role, O("RoleName", "app", NULL), ERR_IAM_DELETE_CONFLICT,
	        "Cannot delete entity, must delete policies first.", "DeleteRole with inline policies");
	ok_do(iam_delete_role_policy, O("RoleName", "app", "PolicyName", "p", NULL), "DeleteRolePolicy");
	err_run(iam_delete_role, O("RoleName", "app", NULL), ERR_IAM_DELETE_CONFLICT,
	        "Cannot delete entity, must detach all policies first.", "DeleteRole with attached policies");
	ok_do(iam_detach_role_policy, O("RoleName", "app", "PolicyArn", LAMBDA_ARN, NULL), "DetachRolePolicy");
	ok_do(iam_delete_role, O("RoleName", "app", NULL), "DeleteRole");
	err_run(iam_delete_role, O("RoleName", "app", NULL), ERR_IAM_NO_SUCH_ENTITY, NULL, "DeleteRole twice");
	is_str(sql1("SELECT count(*) FROM iam_tags WHERE kind = 2", NULL), "0", "role tags gone");
}

/* ---- managed policies and versions ------------------------------------------------------ */

static void test_policies(void)
{
	reset();
	const char *arn = "arn:aws:iam::" ACCT ":policy/app/read-secrets";
	json_t *o = ok_run(iam_create_policy,
	                   with(O("PolicyName", "read-secrets", "Path", "/app/", "PolicyDocument", DOC_SM, "Description",
	                          "reads", NULL),
	                        "Tags", J("[{'Key':'Env','Value':'dev'}]")),
	                   "CreatePolicy");
	is_str(G(o, "Policy.Arn"), arn, "policy ARN");
	ok(id_ok(G(o, "Policy.PolicyId"), "ANPA"), "PolicyId ANPA...");
	is_str(G(o, "Policy.DefaultVersionId"), "v1", "v1");
	is_int(GI(o, "Policy.AttachmentCount"), 0, "AttachmentCount 0");
	ok(json_is_true(at(o, "Policy.IsAttachable")), "IsAttachable");
	is_str(G(o, "Policy.Description"), "reads", "Description");
	is_str(G(o, "Policy.Tags.0.Key"), "Env", "Tags");
	is_int(GI(o, "Policy.UpdateDate"), (long long)T0, "UpdateDate");
	json_decref(o);

	err_run(iam_create_policy, O("PolicyName", "READ-SECRETS", "PolicyDocument", DOC_SM, NULL), ERR_IAM_ENTITY_EXISTS,
	        "A policy called READ-SECRETS already exists. Duplicate names are not allowed.", "duplicate policy name");
	err_run(iam_create_policy, O("PolicyName", "x", "PolicyDocument", "{\"Version\":", NULL), ERR_IAM_MALFORMED_POLICY,
	        "Syntax errors in policy.", "malformed document");
	err_run(iam_create_policy, O("PolicyName", "x", "PolicyDocument", DOC_TRUST, NULL), ERR_IAM_MALFORMED_POLICY,
	        "Policy document should not specify a principal.", "principal in an identity policy");
	err_run(iam_create_policy, O("PolicyName", "x", "Path", "/a//", "PolicyDocument", DOC_SM, NULL), ERR_VALIDATION,
	        "1 validation error detected: Value '/a//' at 'path' failed to satisfy constraint: Member must satisfy "
	        "regular expression pattern: ((/[A-Za-z0-9\\.,\\+@=_-]+)*)/",
	        "policy path pattern");
	err_run(iam_create_policy, O("PolicyName", "x", "PolicyDocument", "{\"Version\":\"2012-10-17\",\"Statement\":[]}\xc4\x80", NULL),
	        ERR_VALIDATION, NULL, "document characters beyond U+00FF");

	o = ok_run(iam_get_policy, O("PolicyArn", arn, NULL), "GetPolicy");
	is_str(G(o, "Policy.PolicyName"), "read-secrets", "PolicyName");
	is_str(G(o, "Policy.Path"), "/app/", "Path");
	json_decref(o);
	err_run(iam_get_policy, O("PolicyArn", "arn:aws:iam::" ACCT ":policy/nope", NULL), ERR_IAM_NO_SUCH_ENTITY,
	        "Policy arn:aws:iam::" ACCT ":policy/nope was not found.", "GetPolicy unknown");
	err_run(iam_get_policy, O("PolicyArn", "this-is-not-an-arn-at-all", NULL), ERR_IAM_INVALID_INPUT,
	        "ARN this-is-not-an-arn-at-all is not valid.", "GetPolicy with a bad ARN");
	err_run(iam_get_policy, O("PolicyArn", "arn:aws:iam::" OTHER ":policy/app/read-secrets", NULL),
	        ERR_IAM_NO_SUCH_ENTITY, NULL, "another account's policy is not visible");

	/* AWS managed */
	o = ok_run(iam_get_policy, O("PolicyArn", ADMIN_ARN, NULL), "GetPolicy AdministratorAccess");
	is_str(G(o, "Policy.PolicyName"), "AdministratorAccess", "name");
	is_str(G(o, "Policy.DefaultVersionId"), "v1", "version");
	ok(id_ok(G(o, "Policy.PolicyId"), "ANPA"), "PolicyId");
	ok(G(o, "Policy.Description") != NULL, "Description");
	json_decref(o);
	o = ok_run(iam_get_policy_version, O("PolicyArn", LAMBDA_ARN, "VersionId", "v1", NULL), "AWSLambdaBasicExecutionRole v1");
	ok(G(o, "PolicyVersion.Document") && strstr(G(o, "PolicyVersion.Document"), "logs%3APutLogEvents"),
	   "real document, URL-encoded");
	ok(json_is_true(at(o, "PolicyVersion.IsDefaultVersion")), "default");
	json_decref(o);
	o = ok_run(iam_get_policy_version, O("PolicyArn", SMRW_ARN, "VersionId", "v5", NULL), "SecretsManagerReadWrite v5");
	ok(G(o, "PolicyVersion.Document") && strstr(G(o, "PolicyVersion.Document"), "secretsmanager%3A%2A"),
	   "grants secretsmanager:*");
	json_decref(o);
	err_run(iam_get_policy_version, O("PolicyArn", SMRW_ARN, "VersionId", "v1", NULL), ERR_IAM_NO_SUCH_ENTITY,
	        "Policy " SMRW_ARN " version v1 does not exist or is not attachable.", "old AWS versions are not kept");
	err_run(iam_get_policy, O("PolicyArn", "arn:aws:iam::aws:policy/NoSuchPolicy", NULL), ERR_IAM_NO_SUCH_ENTITY,
	        "Policy arn:aws:iam::aws:policy/NoSuchPolicy was not found.", "unknown AWS policy");
	char denied[256];
	snprintf(denied, sizeof denied,
	         "User: %s is not authorized to perform: iam:DeletePolicy on resource: policy %s", ROOT_ARN, ADMIN_ARN);
	err_run(iam_delete_policy, O("PolicyArn", ADMIN_ARN, NULL), ERR_ACCESS_DENIED, denied, "AWS policies are read-only");
	err_run(iam_create_policy_version, O("PolicyArn", ADMIN_ARN, "PolicyDocument", DOC_SM, NULL), ERR_ACCESS_DENIED,
	        NULL, "no versions of AWS policies");
	err_run(iam_tag_policy, with(O("PolicyArn", ADMIN_ARN, NULL), "Tags", J("[{'Key':'a','Value':'b'}]")),
	        ERR_ACCESS_DENIED, NULL, "no tags on AWS policies");

	/* ListPolicies */
	o = ok_run(iam_list_policies, O("Scope", "Local", NULL), "ListPolicies Local");
	is_int(json_array_size(at(o, "Policies")), 1, "one local policy");
	ok(!at(o, "Policies.0.Description") && !at(o, "Policies.0.Tags"), "list entries: no Description, no Tags");
	json_decref(o);
	o = ok_run(iam_list_policies, O("Scope", "AWS", NULL), "ListPolicies AWS");
	size_t naws = json_array_size(at(o, "Policies"));
	ok(naws >= 3, "AWS managed policies listed (%zu)", naws);
	bool have_admin = false, have_ro = false, have_sm = false;
	for (size_t i = 0; i < naws; i++) {
		const char *n = G(json_array_get(at(o, "Policies"), i), "PolicyName");
		have_admin |= n && strcmp(n, "AdministratorAccess") == 0;
		have_ro |= n && strcmp(n, "ReadOnlyAccess") == 0;
		have_sm |= n && strcmp(n, "SecretsManagerReadWrite") == 0;
	}
	ok(have_admin && have_ro && have_sm, "AdministratorAccess, ReadOnlyAccess, SecretsManagerReadWrite");
	json_decref(o);
	o = ok_run(iam_list_policies, NULL, "ListPolicies (All)");
	is_int(json_array_size(at(o, "Policies")), naws + 1, "All = AWS + Local");
	is_str(G(o, "Policies.0.PolicyName"), "read-secrets", "customer policies first");
	json_decref(o);
	o = ok_run(iam_list_policies, O("PathPrefix", "/service-role/", NULL), "ListPolicies PathPrefix");
	is_int(json_array_size(at(o, "Policies")), 2, "the two Lambda service-role policies");
	json_decref(o);
	err_run(iam_list_policies, O("Scope", "Mine", NULL), ERR_VALIDATION,
	        "1 validation error detected: Value 'Mine' at 'scope' failed to satisfy constraint: Member must satisfy "
	        "enum value set: [All, AWS, Local]",
	        "bad Scope");

	/* Versions */
	o = ok_run(iam_create_policy_version, O("PolicyArn", arn, "PolicyDocument", DOC_RDS, NULL), "CreatePolicyVersion v2");
	is_str(G(o, "PolicyVersion.VersionId"), "v2", "v2");
	ok(json_is_false(at(o, "PolicyVersion.IsDefaultVersion")), "not default");
	ok(!at(o, "PolicyVersion.Document"), "CreatePolicyVersion returns no Document");
	json_decref(o);
	o = ok_run(iam_create_policy_version, with(O("PolicyArn", arn, "PolicyDocument", DOC_RDS, NULL), "SetAsDefault",
	                                             json_true()),
	           "CreatePolicyVersion v3 as default");
	ok(json_is_true(at(o, "PolicyVersion.IsDefaultVersion")), "default");
	json_decref(o);
	C.now = T0 + 100;
	ok_do(iam_create_policy_version, O("PolicyArn", arn, "PolicyDocument", DOC_SM, NULL), "v4");
	ok_do(iam_create_policy_version, O("PolicyArn", arn, "PolicyDocument", DOC_SM, NULL), "v5");
	err_run(iam_create_policy_version, O("PolicyArn", arn, "PolicyDocument", DOC_SM, NULL), ERR_IAM_LIMIT_EXCEEDED,
	        "A managed policy can have up to 5 versions. Before you create a new version, you must delete an "
	        "existing version.",
	        "sixth version");
	o = ok_run(iam_list_policy_versions, O("PolicyArn", arn, NULL), "ListPolicyVersions");
	is_int(json_array_size(at(o, "Versions")), 5, "five versions");
	is_str(G(o, "Versions.0.VersionId"), "v5", "newest first");
	ok(json_is_true(at(o, "Versions.2.IsDefaultVersion")), "v3 is the default");
	ok(!at(o, "Versions.0.Document"), "no documents in the list");
	json_decref(o);
	o = ok_run(iam_get_policy_version, O("PolicyArn", arn, "VersionId", "v3", NULL), "GetPolicyVersion");
	is_str(G(o, "PolicyVersion.Document"), enc(DOC_RDS), "document URL-encoded");
	json_decref(o);
	o = ok_run(iam_get_policy, O("PolicyArn", arn, NULL), "GetPolicy after SetAsDefault");
	is_str(G(o, "Policy.DefaultVersionId"), "v3", "default moved");
	json_decref(o);
	err_run(iam_get_policy_version, O("PolicyArn", arn, "VersionId", "v9", NULL), ERR_IAM_NO_SUCH_ENTITY,
	        "Policy arn:aws:iam::" ACCT ":policy/app/read-secrets version v9 does not exist or is not attachable.",
	        "unknown version");
	err_run(iam_get_policy_version, O("PolicyArn", arn, "VersionId", "1", NULL), ERR_VALIDATION,
	        "1 validation error detected: Value '1' at 'versionId' failed to satisfy constraint: Member must satisfy "
	        "regular expression pattern: v[1-9][0-9]*(\\.[A-Za-z0-9-]*)?",
	        "version id pattern");
	err_run(iam_delete_policy_version, O("PolicyArn", arn, "VersionId", "v3", NULL), ERR_IAM_DELETE_CONFLICT,
	        "Cannot delete the default version of a policy.", "delete the default version");
	ok_do(iam_delete_policy_version, O("PolicyArn", arn, "VersionId", "v5", NULL), "DeletePolicyVersion v5");
	o = ok_run(iam_create_policy_version, O("PolicyArn", arn, "PolicyDocument", DOC_SM, NULL), "a new version");
	is_str(G(o, "PolicyVersion.VersionId"), "v6", "version ids are not reused");
	json_decref(o);
	ok_do(iam_set_default_policy_version, O("PolicyArn", arn, "VersionId", "v6", NULL), "SetDefaultPolicyVersion");
	err_run(iam_set_default_policy_version, O("PolicyArn", arn, "VersionId", "v5", NULL), ERR_IAM_NO_SUCH_ENTITY, NULL,
	        "SetDefault to a deleted version");
	o = ok_run(iam_get_policy, O("PolicyArn", arn, NULL), "GetPolicy");
	is_str(G(o, "Policy.DefaultVersionId"), "v6", "v6 default");
	is_int(GI(o, "Policy.UpdateDate"), (long long)T0 + 100, "UpdateDate moved");
	is_int(GI(o, "Policy.CreateDate"), (long long)T0, "CreateDate kept");
	json_decref(o);

	/* DeletePolicy rules */
	ok_do(iam_create_user, O("UserName", "u", NULL), "CreateUser");
	ok_do(iam_attach_user_policy, O("UserName", "u", "PolicyArn", arn, NULL), "attach");
	o = ok_run(iam_get_policy, O("PolicyArn", arn, NULL), "GetPolicy attached");
	is_int(GI(o, "Policy.AttachmentCount"), 1, "AttachmentCount 1");
	json_decref(o);
	err_run(iam_delete_policy, O("PolicyArn", arn, NULL), ERR_IAM_DELETE_CONFLICT,
	        "Cannot delete a policy attached to entities.", "DeletePolicy while attached");
	ok_do(iam_detach_user_policy, O("UserName", "u", "PolicyArn", arn, NULL), "detach");
	err_run(iam_delete_policy, O("PolicyArn", arn, NULL), ERR_IAM_DELETE_CONFLICT,
	        "This policy has more than one version. Before you delete a policy, you must delete the policy's "
	        "versions. The default version is deleted with the policy.",
	        "DeletePolicy with versions");
	for (int v = 1; v <= 4; v++) {
		char vid[8];
		snprintf(vid, sizeof vid, "v%d", v);
		ok_do(iam_delete_policy_version, O("PolicyArn", arn, "VersionId", vid, NULL), "delete a version");
	}
	ok_do(iam_delete_policy, O("PolicyArn", arn, NULL), "DeletePolicy");
	err_run(iam_get_policy, O("PolicyArn", arn, NULL), ERR_IAM_NO_SUCH_ENTITY, NULL, "gone");
	is_str(sql1("SELECT count(*) FROM iam_policy_versions", NULL), "0", "versions gone");
	is_str(sql1("SELECT count(*) FROM iam_tags WHERE kind = 3", NULL), "0", "policy tags gone");

	/* A boundary in use also blocks deletion. */
	ok_do(iam_create_policy, O("PolicyName", "fence", "PolicyDocument", DOC_SM, NULL), "boundary policy");
	ok_do(iam_create_user, O("UserName", "fenced", "PermissionsBoundary", "arn:aws:iam::" ACCT ":policy/fence", NULL),
	      "user with boundary");
	o = ok_run(iam_get_policy, O("PolicyArn", "arn:aws:iam::" ACCT ":policy/fence", NULL), "GetPolicy boundary");
	is_int(GI(o, "Policy.PermissionsBoundaryUsageCount"), 1, "PermissionsBoundaryUsageCount");
	json_decref(o);
	err_run(iam_delete_policy, O("PolicyArn", "arn:aws:iam::" ACCT ":policy/fence", NULL), ERR_IAM_DELETE_CONFLICT,
	        NULL, "DeletePolicy of a boundary in use");
	o = ok_run(iam_list_entities_for_policy,
	           O("PolicyArn", "arn:aws:iam::" ACCT ":policy/fence", "PolicyUsageFilter", "PermissionsBoundary", NULL),
	           "ListEntitiesForPolicy (boundary)");
	is_str(G(o, "PolicyUsers.0.UserName"), "fenced", "the boundary's user");
	json_decref(o);

	/* Policy tags: keys are case-sensitive on policies. */
	const char *f = "arn:aws:iam::" ACCT ":policy/fence";
	ok_do(iam_tag_policy, with(O("PolicyArn", f, NULL), "Tags", J("[{'Key':'Env','Value':'1'},{'Key':'x','Value':'2'}]")),
	      "TagPolicy");
	ok_do(iam_tag_policy, with(O("PolicyArn", f, NULL), "Tags", J("[{'Key':'env','Value':'3'}]")), "TagPolicy env");
	o = ok_run(iam_list_policy_tags, O("PolicyArn", f, NULL), "ListPolicyTags");
	is_int(json_array_size(at(o, "Tags")), 3, "Env and env are different keys on a policy");
	json_decref(o);
	ok_do(iam_untag_policy, with(O("PolicyArn", f, NULL), "TagKeys", J("['Env','nothere']")), "UntagPolicy");
	o = ok_run(iam_list_policy_tags, O("PolicyArn", f, NULL), "ListPolicyTags after untag");
	is_int(json_array_size(at(o, "Tags")), 2, "one removed");
	is_str(G(o, "Tags.1.Key"), "env", "order kept");
	json_decref(o);
	o = ok_run(iam_list_policy_tags, O("PolicyArn", ADMIN_ARN, NULL), "ListPolicyTags of an AWS policy");
	is_int(json_array_size(at(o, "Tags")), 0, "none");
	json_decref(o);
}

/* ---- inline, attached, tags of users and roles ---------------------------------------- */

static void test_inline_attached_tags(void)
{
	reset();
	ok_do(iam_create_user, O("UserName", "u", NULL), "CreateUser");
	ok_do(iam_create_role, O("RoleName", "r", "AssumeRolePolicyDocument", DOC_TRUST, NULL), "CreateRole");

	ok_do(iam_put_user_policy, O("UserName", "u", "PolicyName", "b", "PolicyDocument", DOC_SM, NULL), "PutUserPolicy b");
	ok_do(iam_put_user_policy, O("UserName", "u", "PolicyName", "a", "PolicyDocument", DOC_SM, NULL), "PutUserPolicy a");
	ok_do(iam_put_user_policy, O("UserName", "u", "PolicyName", "a", "PolicyDocument", DOC_RDS, NULL), "replace a");
	json_t *o = ok_run(iam_get_user_policy, O("UserName", "u", "PolicyName", "a", NULL), "GetUserPolicy");
	is_str(G(o, "UserName"), "u", "UserName");
	is_str(G(o, "PolicyName"), "a", "PolicyName");
	is_str(G(o, "PolicyDocument"), enc(DOC_RDS), "replaced document, URL-encoded");
	json_decref(o);
	o = ok_run(iam_list_user_policies, O("UserName", "u", NULL), "ListUserPolicies");
	is_int(json_array_size(at(o, "PolicyNames")), 2, "two names");
	is_str(G(o, "PolicyNames.0"), "a", "sorted");
	json_decref(o);
	err_run(iam_get_user_policy, O("UserName", "u", "PolicyName", "zz", NULL), ERR_IAM_NO_SUCH_ENTITY,
	        "The user policy with name zz cannot be found.", "GetUserPolicy unknown");
	err_run(iam_delete_user_policy, O("UserName", "u", "PolicyName", "zz", NULL), ERR_IAM_NO_SUCH_ENTITY,
	        "The user policy with name zz cannot be found.", "DeleteUserPolicy unknown");
	err_run(iam_put_user_policy, O("UserName", "ghost", "PolicyName", "a", "PolicyDocument", DOC_SM, NULL),
	        ERR_IAM_NO_SUCH_ENTITY, "The user with name ghost cannot be found.", "PutUserPolicy unknown user");
	err_run(iam_put_user_policy, O("UserName", "u", "PolicyName", "bad", "PolicyDocument", "[]", NULL),
	        ERR_IAM_MALFORMED_POLICY, "Syntax errors in policy.", "PutUserPolicy malformed");

	/* Aggregate inline size: 2048 non-whitespace characters for a user. */
	char big[4096];
	int n = snprintf(big, sizeof big,
	                 "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Resource\":\"*\",\"Action\":[");
	for (int i = 0; i < 70; i++)
		n += snprintf(big + n, sizeof big - (size_t)n, "%s\"secretsmanager:GetSecretValue%02d\"", i ? "," : "", i);
	snprintf(big + n, sizeof big - (size_t)n, "]}]}");
	err_run(iam_put_user_policy, O("UserName", "u", "PolicyName", "big", "PolicyDocument", big, NULL),
	        ERR_IAM_LIMIT_EXCEEDED, "Maximum policy size of 2048 bytes exceeded for user u", "user inline aggregate");
	ok_do(iam_put_role_policy, O("RoleName", "r", "PolicyName", "big", "PolicyDocument", big, NULL),
	      "a role allows 10240");
	o = ok_run(iam_get_role_policy, O("RoleName", "r", "PolicyName", "big", NULL), "GetRolePolicy");
	is_str(G(o, "RoleName"), "r", "RoleName");
	json_decref(o);
	err_run(iam_get_role_policy, O("RoleName", "r", "PolicyName", "nope", NULL), ERR_IAM_NO_SUCH_ENTITY,
	        "The role policy with name nope cannot be found.", "GetRolePolicy unknown");
	o = ok_run(iam_list_role_policies, O("RoleName", "r", NULL), "ListRolePolicies");
	is_str(G(o, "PolicyNames.0"), "big", "listed");
	json_decref(o);

	/* Attachments */
	ok_do(iam_create_policy, O("PolicyName", "mine", "Path", "/x/", "PolicyDocument", DOC_SM, NULL), "CreatePolicy");
	const char *mine = "arn:aws:iam::" ACCT ":policy/x/mine";
	ok_do(iam_attach_user_policy, O("UserName", "u", "PolicyArn", SMRW_ARN, NULL), "attach AWS policy");
	ok_do(iam_attach_user_policy, O("UserName", "u", "PolicyArn", mine, NULL), "attach customer policy");
	ok_do(iam_attach_user_policy, O("UserName", "u", "PolicyArn", mine, NULL), "attaching twice is fine");
	err_run(iam_attach_user_policy, O("UserName", "u", "PolicyArn", "arn:aws:iam::aws:policy/Nope", NULL),
	        ERR_IAM_NO_SUCH_ENTITY, "Policy arn:aws:iam::aws:policy/Nope does not exist or is not attachable.",
	        "attach unknown");
	err_run(iam_attach_user_policy, O("UserName", "u", "PolicyArn", "not-an-arn-but-long-enough", NULL),
	        ERR_IAM_INVALID_INPUT, "ARN not-an-arn-but-long-enough is not valid.", "attach a bad ARN");
	err_run(iam_attach_role_policy, O("RoleName", "nobody", "PolicyArn", mine, NULL), ERR_IAM_NO_SUCH_ENTITY,
	        "The role with name nobody cannot be found.", "attach to an unknown role");
	o = ok_run(iam_list_attached_user_policies, O("UserName", "u", NULL), "ListAttachedUserPolicies");
	is_int(json_array_size(at(o, "AttachedPolicies")), 2, "two");
	is_str(G(o, "AttachedPolicies.0.PolicyName"), "SecretsManagerReadWrite", "attachment order");
	is_str(G(o, "AttachedPolicies.1.PolicyArn"), mine, "ARN");
	json_decref(o);
	o = ok_run(iam_list_attached_user_policies, O("UserName", "u", "PathPrefix", "/x/", NULL), "PathPrefix");
	is_int(json_array_size(at(o, "AttachedPolicies")), 1, "only /x/");
	json_decref(o);
	o = ok_run(iam_get_policy, O("PolicyArn", SMRW_ARN, NULL), "AttachmentCount of an AWS policy");
	is_int(GI(o, "Policy.AttachmentCount"), 1, "counted in this account");
	json_decref(o);
	o = ok_run(iam_list_policies, with(O("Scope", "AWS", NULL), "OnlyAttached", json_true()), "OnlyAttached");
	is_int(json_array_size(at(o, "Policies")), 1, "only the attached AWS policy");
	json_decref(o);
	err_run(iam_detach_user_policy, O("UserName", "u", "PolicyArn", ADMIN_ARN, NULL), ERR_IAM_NO_SUCH_ENTITY,
	        "Policy " ADMIN_ARN " was not found.", "detach what is not attached");
	const char *const many[] = {"AdministratorAccess", "ReadOnlyAccess", "IAMFullAccess", "IAMReadOnlyAccess",
	                            "AmazonRDSFullAccess", "AmazonRDSReadOnlyAccess", "AmazonRDSDataFullAccess",
	                            "PowerUserAccess"};
	for (size_t i = 0; i < sizeof many / sizeof many[0]; i++) {
		char a[128];
		snprintf(a, sizeof a, "arn:aws:iam::aws:policy/%s", many[i]);
		ok_do(iam_attach_user_policy, O("UserName", "u", "PolicyArn", a, NULL), "attach another");
	}
	err_run(iam_attach_user_policy, O("UserName", "u", "PolicyArn", LAMBDA_ARN, NULL), ERR_IAM_LIMIT_EXCEEDED,
	        "Cannot exceed quota for PoliciesPerUser: 10", "eleventh attachment");
	ok_do(iam_attach_role_policy, O("RoleName", "r", "PolicyArn", mine, NULL), "AttachRolePolicy");
	o = ok_run(iam_list_entities_for_policy, O("PolicyArn", mine, NULL), "ListEntitiesForPolicy");
	is_str(G(o, "PolicyUsers.0.UserName"), "u", "user");
	is_str(G(o, "PolicyRoles.0.RoleName"), "r", "role");
	ok(id_ok(G(o, "PolicyRoles.0.RoleId"), "AROA"), "RoleId");
	ok(json_array_size(at(o, "PolicyGroups")) == 0, "no groups");
	json_decref(o);
	o = ok_run(iam_list_entities_for_policy, O("PolicyArn", mine, "EntityFilter", "Role", NULL), "EntityFilter Role");
	ok(json_array_size(at(o, "PolicyUsers")) == 0 && json_array_size(at(o, "PolicyRoles")) == 1, "roles only");
	json_decref(o);

	/* Tags of users: case-insensitive keys, case preserved, quota. */
	ok_do(iam_tag_user, with(O("UserName", "u", NULL), "Tags", J("[{'Key':'Team','Value':'a'},{'Key':'b','Value':'1'}]")),
	      "TagUser");
	ok_do(iam_tag_user, with(O("UserName", "u", NULL), "Tags", J("[{'Key':'team','Value':'z'}]")), "TagUser team");
	o = ok_run(iam_list_user_tags, O("UserName", "u", NULL), "ListUserTags");
	is_int(json_array_size(at(o, "Tags")), 2, "replaced, not added");
	is_str(G(o, "Tags.0.Key"), "team", "new case kept");
	is_str(G(o, "Tags.0.Value"), "z", "new value");
	ok(json_is_false(at(o, "IsTruncated")), "IsTruncated false");
	json_decref(o);
	ok_do(iam_untag_user, with(O("UserName", "u", NULL), "TagKeys", J("['TEAM']")), "UntagUser (any case)");
	o = ok_run(iam_get_user, O("UserName", "u", NULL), "GetUser shows tags");
	is_int(json_array_size(at(o, "User.Tags")), 1, "one left");
	json_decref(o);
	json_t *tags = json_array();
	for (int i = 0; i < 49; i++) {
		char k[16];
		snprintf(k, sizeof k, "k%d", i);
		json_t *t = json_object();
		json_object_set_new(t, "Key", json_string(k));
		json_object_set_new(t, "Value", json_string("v"));
		json_array_append_new(tags, t);
	}
	ok_do(iam_tag_user, with(O("UserName", "u", NULL), "Tags", tags), "fifty tags");
	err_run(iam_tag_user, with(O("UserName", "u", NULL), "Tags", J("[{'Key':'one-more','Value':'v'}]")),
	        ERR_IAM_LIMIT_EXCEEDED, "Cannot exceed quota for TagsPerUser: 50", "fifty-first tag");
	ok_do(iam_tag_user, with(O("UserName", "u", NULL), "Tags", J("[{'Key':'K0','Value':'w'}]")),
	      "replacing at the quota is fine");
	err_run(iam_untag_user, O("UserName", "u", NULL), ERR_VALIDATION, NULL, "TagKeys required");
	ok_do(iam_tag_role, with(O("RoleName", "r", NULL), "Tags", J("[{'Key':'a','Value':'b'}]")), "TagRole");
	o = ok_run(iam_list_role_tags, with(O("RoleName", "r", NULL), "MaxItems", json_integer(1)), "ListRoleTags");
	is_str(G(o, "Tags.0.Key"), "a", "role tag");
	json_decref(o);
	ok_do(iam_untag_role, with(O("RoleName", "r", NULL), "TagKeys", J("['a']")), "UntagRole");
	err_run(iam_list_role_tags, O("RoleName", "zz", NULL), ERR_IAM_NO_SUCH_ENTITY, NULL, "ListRoleTags unknown role");
}

/* ---- identity policies of principals --------------------------------------------------- */

static const char *source_at(json_t *docs, size_t i) { return G(json_array_get(docs, i), "source"); }
static const char *doc_at(json_t *docs, size_t i) { return G(json_array_get(docs, i), "document"); }

static void test_principal_policies(void)
{
	reset();
	ok_do(iam_create_user, O("UserName", "alice", "Path", "/eng/", NULL), "CreateUser");
	ok_do(iam_create_policy, O("PolicyName", "rds", "PolicyDocument", DOC_RDS, NULL), "CreatePolicy");
	const char *rds = "arn:aws:iam::" ACCT ":policy/rds";
	ok_do(iam_put_user_policy, O("UserName", "alice", "PolicyName", "sm", "PolicyDocument", DOC_SM, NULL), "inline");
	ok_do(iam_attach_user_policy, O("UserName", "alice", "PolicyArn", rds, NULL), "attach customer");
	ok_do(iam_attach_user_policy, O("UserName", "alice", "PolicyArn", ADMIN_ARN, NULL), "attach AWS");

	json_t *docs = NULL;
	int rc = iam_principal_policies(S, "arn:aws:iam::" ACCT ":user/eng/alice", &docs, &E);
	is_int(rc, 0, "user: ordinary principal");
	is_int(json_array_size(docs), 3, "inline + 2 attached");
	is_str(source_at(docs, 0), "inline:sm", "inline first");
	is_str(doc_at(docs, 0), DOC_SM, "raw document");
	is_str(source_at(docs, 1), rds, "customer managed by ARN");
	is_str(doc_at(docs, 1), DOC_RDS, "its default version");
	is_str(source_at(docs, 2), ADMIN_ARN, "AWS managed by ARN");
	ok(doc_at(docs, 2) && strstr(doc_at(docs, 2), "\"Action\":\"*\""), "AdministratorAccess document");
	json_decref(docs);

	ok_do(iam_create_policy_version, with(O("PolicyArn", rds, "PolicyDocument", DOC_SM, NULL), "SetAsDefault", json_true()),
	      "new default version");
	iam_principal_policies(S, "arn:aws:iam::" ACCT ":user/eng/alice", &docs, &E);
	is_str(doc_at(docs, 1), DOC_SM, "the new default version applies");
	json_decref(docs);

	ok_do(iam_create_role, O("RoleName", "lambda-role", "AssumeRolePolicyDocument", DOC_TRUST, NULL), "CreateRole");
	ok_do(iam_attach_role_policy, O("RoleName", "lambda-role", "PolicyArn", LAMBDA_ARN, NULL), "attach");
	ok_do(iam_put_role_policy, O("RoleName", "lambda-role", "PolicyName", "db", "PolicyDocument", DOC_RDS, NULL), "inline");
	rc = iam_principal_policies(S, "arn:aws:sts::" ACCT ":assumed-role/lambda-role/my-fn", &docs, &E);
	is_int(rc, 0, "assumed role: ordinary principal");
	is_int(json_array_size(docs), 2, "the role's two policies");
	is_str(source_at(docs, 0), "inline:db", "role inline");
	is_str(source_at(docs, 1), LAMBDA_ARN, "role attached");
	json_decref(docs);
	rc = iam_principal_policies(S, "arn:aws:iam::" ACCT ":role/lambda-role", &docs, &E);
	is_int(json_array_size(docs), 2, "role ARN: the same");
	json_decref(docs);

	rc = iam_principal_policies(S, ROOT_ARN, &docs, &E);
	is_int(rc, IAM_DOCS_ROOT, "root is flagged");
	ok(json_is_array(docs) && json_array_size(docs) == 0, "root: no documents");
	json_decref(docs);
	rc = iam_principal_policies(S, "arn:aws:iam::" ACCT ":user/ghost", &docs, &E);
	ok(rc == 0 && json_array_size(docs) == 0, "deleted user: nothing (implicit deny)");
	json_decref(docs);
	rc = iam_principal_policies(S, "arn:aws:sts::" ACCT ":assumed-role/ghost/s", &docs, &E);
	ok(rc == 0 && json_array_size(docs) == 0, "session of a deleted role: nothing");
	json_decref(docs);
	rc = iam_principal_policies(S, "arn:aws:sts::" OTHER ":assumed-role/lambda-role/s", &docs, &E);
	ok(rc == 0 && json_array_size(docs) == 0, "same role name in another account: not this role");
	json_decref(docs);
	rc = iam_principal_policies(S, "arn:aws:sts::" ACCT ":federated-user/bob", &docs, &E);
	ok(rc == 0 && json_array_size(docs) == 0, "federated user: nothing");
	json_decref(docs);
	rc = iam_principal_policies(S, "garbage", &docs, &E);
	ok(rc == 0 && json_array_size(docs) == 0, "garbage: nothing");
	json_decref(docs);
	rc = iam_principal_policies(S, "arn:aws:sts::" ACCT ":assumed-role/lambda-role", &docs, &E);
	ok(rc == 0 && json_array_size(docs) == 0, "assumed-role ARN without a session: nothing");
	json_decref(docs);
}

/* ---- fixtures ------------------------------------------------------------------------------ */

static void test_fixtures(void)
{
	reset();
	json_t *fx = J("{'policies':[{'PolicyName':'read','Path':'/fx/','PolicyDocument':{'Version':'2012-10-17',"
	               "'Statement':[{'Effect':'Allow','Action':'secretsmanager:GetSecretValue','Resource':'*'}]}}],"
	               "'users':[{'UserName':'ci','Path':'/bots/','Tags':[{'Key':'k','Value':'v'}],"
	               "'Policies':[{'PolicyName':'inl','PolicyDocument':{'Version':'2012-10-17','Statement':"
	               "{'Effect':'Allow','Action':'rds:Describe*','Resource':'*'}}}],"
	               "'AttachedPolicies':['arn:aws:iam::" ACCT ":policy/fx/read','" SMRW_ARN "'],"
	               "'AccessKeys':[{'AccessKeyId':'AKIAFIXTUREKEY000001','SecretAccessKey':'fixture/secret+key'},{}]}],"
	               "'roles':[{'RoleName':'fn','MaxSessionDuration':7200,'AssumeRolePolicyDocument':{'Version':"
	               "'2012-10-17','Statement':[{'Effect':'Allow','Principal':{'Service':'lambda.amazonaws.com'},"
	               "'Action':'sts:AssumeRole'}]},'Policies':[{'PolicyName':'p','PolicyDocument':'" "{\\'Version\\':"
	               "\\'2012-10-17\\',\\'Statement\\':[{\\'Effect\\':\\'Allow\\',\\'Action\\':\\'*\\',\\'Resource\\':"
	               "\\'*\\'}]}'}],'AttachedPolicies':['" LAMBDA_ARN "']}]}");
	ok(fx != NULL, "fixture JSON");
	int rc = iam_fixture_load(S, ACCT, fx, &E);
	ok(rc == 0, "iam_fixture_load");
	if (rc < 0)
		printf("#   %s\n", E.msg);
	json_decref(fx);
	is_str(sql1("SELECT secret_access_key FROM access_keys WHERE access_key_id = 'AKIAFIXTUREKEY000001'", NULL),
	       "fixture/secret+key", "fixed key stored as given");
	is_str(sql1("SELECT principal_arn FROM access_keys WHERE access_key_id = 'AKIAFIXTUREKEY000001'", NULL),
	       "arn:aws:iam::" ACCT ":user/bots/ci", "for the user");
	is_str(sql1("SELECT count(*) FROM access_keys WHERE principal_arn = ?1", "arn:aws:iam::" ACCT ":user/bots/ci"), "2",
	       "and a generated one");
	json_t *docs = NULL;
	iam_principal_policies(S, "arn:aws:iam::" ACCT ":user/bots/ci", &docs, &E);
	is_int(json_array_size(docs), 3, "user: inline + two attached");
	is_str(source_at(docs, 1), "arn:aws:iam::" ACCT ":policy/fx/read", "fixture policy attached");
	json_decref(docs);
	struct iam_role r;
	ok(iam_role_get(S, ACCT, "fn", &r, &E) == 0, "fixture role");
	is_int(r.max_session_duration, 7200, "MaxSessionDuration");
	ok(r.trust_policy && strstr(r.trust_policy, "lambda.amazonaws.com"), "trust policy from an object");
	iam_role_free(&r);
	iam_principal_policies(S, "arn:aws:sts::" ACCT ":assumed-role/fn/s", &docs, &E);
	is_int(json_array_size(docs), 2, "role: inline (string document) + attached");
	json_decref(docs);
	json_t *o = ok_run(iam_get_user, O("UserName", "ci", NULL), "fixture user visible to the API");
	is_str(G(o, "User.Tags.0.Key"), "k", "tags");
	json_decref(o);

	/* Errors: the whole section rolls back, and the message names the entry. */
	fx = J("{'users':[{'UserName':'ok1'},{'UserName':'bad','AttachedPolicies':['arn:aws:iam::aws:policy/Nope']}]}");
	rc = iam_fixture_load(S, ACCT, fx, &E);
	json_decref(fx);
	ok(rc < 0 && E.code == ERR_IAM_NO_SUCH_ENTITY, "attach of an unknown policy fails");
	is_str(E.msg, "fixture iam.users[1] (bad): Policy arn:aws:iam::aws:policy/Nope does not exist or is not attachable.",
	       "message names the entry");
	err_run(iam_get_user, O("UserName", "ok1", NULL), ERR_IAM_NO_SUCH_ENTITY, NULL, "nothing of it kept");
	fx = J("{'users':[{'UserName':'x','Color':'red'}]}");
	rc = iam_fixture_load(S, ACCT, fx, &E);
	json_decref(fx);
	ok(rc < 0 && E.code == ERR_VALIDATION, "unknown key refused");
	is_str(E.msg, "fixture iam.users[0]: unknown key 'Color'", "message");
	fx = J("{'groups':[]}");
	rc = iam_fixture_load(S, ACCT, fx, &E);
	json_decref(fx);
	ok(rc < 0 && strcmp(E.msg, "fixture iam: unknown key 'groups'") == 0, "unknown section refused");
	fx = J("{'users':[{'UserName':'k','AccessKeys':[{'AccessKeyId':'AKIAFIXTUREKEY000002'}]}]}");
	rc = iam_fixture_load(S, ACCT, fx, &E);
	json_decref(fx);
	ok(rc < 0 && E.code == ERR_VALIDATION, "a fixed key id needs its secret");
	fx = J("{'users':[{'UserName':'k2','AccessKeys':[{'AccessKeyId':'AKIAFIXTUREKEY000001','SecretAccessKey':'s'}]}]}");
	rc = iam_fixture_load(S, ACCT, fx, &E);
	json_decref(fx);
	ok(rc < 0 && E.code == ERR_IAM_ENTITY_EXISTS, "a key id already in use is refused");
	fx = J("{'users':[{'UserName':'k3','AccessKeys':[{'AccessKeyId':'AKIAFIXTUREKEY000003','SecretAccessKey':"
	       "'has a space, SECRET-TEXT'}]}]}");
	rc = iam_fixture_load(S, ACCT, fx, &E);
	json_decref(fx);
	ok(rc < 0 && E.code == ERR_VALIDATION && !strstr(E.msg, "SECRET-TEXT"), "a bad secret is refused without echo (%s)",
	   E.msg);
	fx = J("{'roles':[{'RoleName':'r','AssumeRolePolicyDocument':{'Version':'2012-10-17','Statement':[]}}]}");
	rc = iam_fixture_load(S, ACCT, fx, &E);
	json_decref(fx);
	ok(rc < 0 && E.code == ERR_IAM_MALFORMED_POLICY, "a malformed trust policy is refused");
	fx = J("{'users':'nope'}");
	rc = iam_fixture_load(S, ACCT, fx, &E);
	json_decref(fx);
	is_str(E.msg, "fixture iam.users: must be a list", "sections are lists");
	fx = J("{}");
	ok(iam_fixture_load(S, "12", fx, &E) < 0, "account must be 12 digits");
	ok(iam_fixture_load(S, OTHER, fx, &E) == 0, "an empty section loads");
	json_decref(fx);
	/* Fixtures in another account are separate. */
	fx = J("{'users':[{'UserName':'ci'}]}");
	ok(iam_fixture_load(S, OTHER, fx, &E) == 0, "same user name in another account");
	json_decref(fx);
}

/* ---- robustness ------------------------------------------------------------------------------ */

static void test_robustness(void)
{
	reset();
	ok_do(iam_create_user, O("UserName", "u", NULL), "CreateUser");
	ok_do(iam_create_role, O("RoleName", "r", "AssumeRolePolicyDocument", DOC_TRUST, NULL), "CreateRole");
	const char *keys[] = {"UserName", "RoleName", "PolicyArn", "PolicyName", "PolicyDocument",
	                      "AssumeRolePolicyDocument", "VersionId", "AccessKeyId", "Status", "Tags", "TagKeys",
	                      "Marker", "MaxItems", "Path", "PathPrefix", "Scope", "Description", "MaxSessionDuration",
	                      "NewUserName", "SetAsDefault", "OnlyAttached", "EntityFilter", "PermissionsBoundary"};
	json_t *vals[] = {json_integer(7), json_string(""), json_array(), json_object(), json_true(), json_null(),
	                  json_real(1.5), json_string("zz")};
	size_t crashes = 0, outs = 0, runs = 0;
	for (size_t i = 0; i < iam_ops_count; i++) {
		for (size_t v = 0; v < sizeof vals / sizeof vals[0]; v++) {
			json_t *in = json_object();
			for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
				json_object_set(in, keys[k], vals[v]);
			json_t *out = NULL;
			emu_err_clear(&E);
			int rc = iam_ops[i].fn(&C, in, &out, &E);
			runs++;
			if (rc < 0 && out)
				outs++;
			if (rc < 0 && E.code == ERR_OK)
				crashes++;
			json_decref(out);
			json_decref(in);
		}
		json_t *out = NULL;
		int rc = iam_ops[i].fn(&C, NULL, &out, &E);
		if (rc < 0 && out)
			outs++;
		json_decref(out);
		json_t *arr = json_array();
		rc = iam_ops[i].fn(&C, arr, &out, &E);
		if (rc == 0 || E.code != ERR_SERIALIZATION)
			crashes++;
		json_decref(arr);
	}
	for (size_t v = 0; v < sizeof vals / sizeof vals[0]; v++)
		json_decref(vals[v]);
	ok(crashes == 0, "every failure of %zu ill-typed calls sets an error", runs);
	ok(outs == 0, "no output on failure");
	json_t *o = ok_run(iam_get_user, O("UserName", "u", NULL), "state intact");
	json_decref(o);
	o = ok_run(iam_get_role, O("RoleName", "r", NULL), "role intact");
	json_decref(o);
}

int main(void)
{
	struct emu_err e;
	if (store_open(&S, NULL, &e) < 0) {
		printf("Bail out! store_open: %s\n", e.msg);
		return 1;
	}
	as(ROOT_ARN, ACCT);
	test_table();
	test_users();
	test_delete_user();
	test_access_keys();
	test_roles();
	test_policies();
	test_inline_attached_tags();
	test_principal_policies();
	test_fixtures();
	test_robustness();
	store_close(S);
	return done_testing();
}
