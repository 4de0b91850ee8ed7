/*
 * api/xmlout.c: Query-protocol results rendered as XML, checked byte for
 * byte, plus the STS GetCallerIdentity domain function and op table.
 *
 *   test_xmlout              TAP checks
 *   test_xmlout --render DIR renders every NAME.json in DIR ({service,
 *                            op, request_id, expect}) into NAME.xml: the
 *                            random results scripts/check_xmlout.py makes
 *                            for every operation of STS and IAM
 *   test_xmlout --dump DIR   also writes every botocore-readable case as
 *                            NN-name.xml and NN-name.json in DIR
 *                            ({service, op, request_id, expect});
 *                            scripts/check_xmlout.py parses each XML with
 *                            botocore's QueryParser and the real model and
 *                            compares with `expect` (the result, or what
 *                            botocore should read when that differs).
 *
 * The xtest service (tests/unit/xmlout_model.json, generated into
 * tests/unit/model_xtest.c) has every layout botocore reads: renamed
 * members, lists with and without element names, flattened lists and maps,
 * nested lists, maps with custom key/value names, recursion, every scalar.
 */
#include "tap.h"

#include "api/sts.h"
#include "api/xmlout.h"
#include "emu/call.h"
#include "emu/sts.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

extern const struct model_service model_xtest; /* tests/unit/model_xtest.c */

#define RID "0b1e2a3c-4d5e-6f70-8192-a3b4c5d6e7f8"
#define STS_NS "https://sts.amazonaws.com/doc/2011-06-15/"
#define IAM_NS "https://iam.amazonaws.com/doc/2010-05-08/"
#define XT_NS "https://xtest.example.com/doc/2024-01-01/"
#define HEAD(op, ns) "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<" op "Response xmlns=\"" ns "\">"
#define TAIL(op) "\n  <ResponseMetadata>\n    <RequestId>" RID "</RequestId>\n  </ResponseMetadata>\n</" op "Response>\n"

static const char *dump_dir;
static int dump_n;

/* A copy of the xtest service that shows timestamps with milliseconds. */
static struct model_service xtest_millis;

static const char *svc_name(const struct model_service *svc)
{
	return svc == &xtest_millis ? "xtest" : svc->name;
}

static void dump(const char *name, const struct model_service *svc, const char *op, json_t *result, json_t *expect,
		 const char *xml)
{
	if (!dump_dir)
		return;
	char path[512];
	snprintf(path, sizeof path, "%s/%02d-%s.xml", dump_dir, ++dump_n, name);
	FILE *f = fopen(path, "wb");
	if (!f || fputs(xml, f) < 0 || fclose(f) != 0) {
		fprintf(stderr, "cannot write %s\n", path);
		exit(2);
	}
	/* The result itself may hold what JSON cannot (invalid UTF-8): only
	 * what botocore should read is written. */
	json_t *meta = json_pack("{s:s, s:s, s:s, s:O?}", "service", svc_name(svc), "op", op, "request_id", RID,
				 "expect", expect ? expect : result);
	snprintf(path, sizeof path, "%s/%02d-%s.json", dump_dir, dump_n, name);
	if (!meta || json_dump_file(meta, path, JSON_INDENT(1) | JSON_PRESERVE_ORDER) != 0) {
		fprintf(stderr, "cannot write %s\n", path);
		exit(2);
	}
	json_decref(meta);
}

static json_t *parse(const char *text)
{
	if (!text)
		return NULL;
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);
	if (!j)
		printf("# bad test JSON: %s\n", je.text);
	return j;
}

/* Renders `result` and compares with the exact document; dumps it for
 * botocore (expect_text: what botocore should read back when it differs
 * from the result: nulls and unknown members are left out by the checker
 * itself). */
static void check_json(const char *name, const struct model_service *svc, const char *op, json_t *result,
		       const char *expect_text, const char *want)
{
	struct buf b;
	buf_init(&b, 0);
	struct emu_err err;
	emu_err_clear(&err);
	int rc = xmlout_render(svc, op, result, RID, &b, &err);
	ok(rc == 0, "%s: renders", name);
	if (rc != 0)
		printf("#   error: %s\n", err.msg);
	is_str(buf_cstr(&b), want, "%s: exact XML", name);
	json_t *expect = parse(expect_text);
	if (rc == 0)
		dump(name, svc, op, result, expect, buf_cstr(&b));
	json_decref(expect);
	buf_free(&b);
}

static void check(const char *name, const struct model_service *svc, const char *op, const char *result_text,
		  const char *expect_text, const char *want)
{
	json_t *result = parse(result_text);
	ok(!result_text || result, "%s: test JSON parses", name);
	check_json(name, svc, op, result, expect_text, want);
	json_decref(result);
}

/* Rendering must fail with ERR_INTERNAL and a message containing `needle`. */
static void check_fail(const char *name, const struct model_service *svc, const char *op, json_t *result,
		       const char *needle)
{
	struct buf b;
	buf_init(&b, 0);
	struct emu_err err;
	emu_err_clear(&err);
	int rc = xmlout_render(svc, op, result, RID, &b, &err);
	ok(rc < 0 && err.code == ERR_INTERNAL, "%s: ERR_INTERNAL", name);
	ok(strstr(err.msg, needle) != NULL, "%s: message names '%s'", name, needle);
	if (!strstr(err.msg, needle))
		printf("#   message: %s\n", err.msg);
	buf_free(&b);
}

static void check_fail_text(const char *name, const struct model_service *svc, const char *op, const char *text,
			    const char *needle)
{
	json_t *j = parse(text);
	check_fail(name, svc, op, j, needle);
	json_decref(j);
}

static void test_sts(void)
{
	check("get-caller-identity", &model_sts, "GetCallerIdentity",
	      "{\"UserId\": \"AIDAJQABLZS4A3QDU576Q\", \"Account\": \"123456789012\","
	      " \"Arn\": \"arn:aws:iam::123456789012:user/Alice\"}",
	      NULL,
	      HEAD("GetCallerIdentity", STS_NS)
	      "\n  <GetCallerIdentityResult>"
	      "\n    <UserId>AIDAJQABLZS4A3QDU576Q</UserId>"
	      "\n    <Account>123456789012</Account>"
	      "\n    <Arn>arn:aws:iam::123456789012:user/Alice</Arn>"
	      "\n  </GetCallerIdentityResult>"
	      TAIL("GetCallerIdentity"));

	check("assume-role", &model_sts, "AssumeRole",
	      "{\"AssumedRoleUser\": {\"Arn\": \"arn:aws:sts::123456789012:assumed-role/demo/TestAR\","
	      "  \"AssumedRoleId\": \"AROA3XFRBF535PLBIFPI4:TestAR\"},"
	      " \"Credentials\": {\"AccessKeyId\": \"ASIAIOSFODNN7EXAMPLE\","
	      "  \"SecretAccessKey\": \"wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY\","
	      "  \"SessionToken\": \"IQoJb3JpZ2luX2VjE+/=\", \"Expiration\": 1704070800},"
	      " \"PackedPolicySize\": 6, \"SourceIdentity\": \"ci-runner\"}",
	      NULL,
	      HEAD("AssumeRole", STS_NS)
	      "\n  <AssumeRoleResult>"
	      "\n    <Credentials>"
	      "\n      <AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>"
	      "\n      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>"
	      "\n      <SessionToken>IQoJb3JpZ2luX2VjE+/=</SessionToken>"
	      "\n      <Expiration>2024-01-01T01:00:00Z</Expiration>"
	      "\n    </Credentials>"
	      "\n    <AssumedRoleUser>"
	      "\n      <AssumedRoleId>AROA3XFRBF535PLBIFPI4:TestAR</AssumedRoleId>"
	      "\n      <Arn>arn:aws:sts::123456789012:assumed-role/demo/TestAR</Arn>"
	      "\n    </AssumedRoleUser>"
	      "\n    <PackedPolicySize>6</PackedPolicySize>"
	      "\n    <SourceIdentity>ci-runner</SourceIdentity>"
	      "\n  </AssumeRoleResult>"
	      TAIL("AssumeRole"));

	/* An output shape, nothing in it: the wrapper is still there. */
	check("get-session-token-empty", &model_sts, "GetSessionToken", "{}", NULL,
	      HEAD("GetSessionToken", STS_NS) "\n  <GetSessionTokenResult/>" TAIL("GetSessionToken"));
	check("get-session-token-null", &model_sts, "GetSessionToken", NULL, "{}",
	      HEAD("GetSessionToken", STS_NS) "\n  <GetSessionTokenResult/>" TAIL("GetSessionToken"));
}

static void test_iam(void)
{
	check("list-users", &model_iam, "ListUsers",
	      "{\"Users\": ["
	      "  {\"Path\": \"/\", \"UserName\": \"alice\", \"UserId\": \"AIDAEXAMPLEALICE0001\","
	      "   \"Arn\": \"arn:aws:iam::123456789012:user/alice\", \"CreateDate\": 1704067200,"
	      "   \"PasswordLastUsed\": 1717200000, \"Tags\": [{\"Key\": \"team\", \"Value\": \"db\"}]},"
	      "  {\"Path\": \"/ops/\", \"UserName\": \"bob\", \"UserId\": \"AIDAEXAMPLEBOB000002\","
	      "   \"Arn\": \"arn:aws:iam::123456789012:user/ops/bob\", \"CreateDate\": 1704153600,"
	      "   \"PermissionsBoundary\": {\"PermissionsBoundaryType\": \"PermissionsBoundaryPolicy\","
	      "    \"PermissionsBoundaryArn\": \"arn:aws:iam::aws:policy/PowerUserAccess\"},"
	      "   \"Tags\": []}],"
	      " \"IsTruncated\": true, \"Marker\": \"bS0y\"}",
	      NULL,
	      HEAD("ListUsers", IAM_NS)
	      "\n  <ListUsersResult>"
	      "\n    <Users>"
	      "\n      <member>"
	      "\n        <Path>/</Path>"
	      "\n        <UserName>alice</UserName>"
	      "\n        <UserId>AIDAEXAMPLEALICE0001</UserId>"
	      "\n        <Arn>arn:aws:iam::123456789012:user/alice</Arn>"
	      "\n        <CreateDate>2024-01-01T00:00:00Z</CreateDate>"
	      "\n        <PasswordLastUsed>2024-06-01T00:00:00Z</PasswordLastUsed>"
	      "\n        <Tags>"
	      "\n          <member>"
	      "\n            <Key>team</Key>"
	      "\n            <Value>db</Value>"
	      "\n          </member>"
	      "\n        </Tags>"
	      "\n      </member>"
	      "\n      <member>"
	      "\n        <Path>/ops/</Path>"
	      "\n        <UserName>bob</UserName>"
	      "\n        <UserId>AIDAEXAMPLEBOB000002</UserId>"
	      "\n        <Arn>arn:aws:iam::123456789012:user/ops/bob</Arn>"
	      "\n        <CreateDate>2024-01-02T00:00:00Z</CreateDate>"
	      "\n        <PermissionsBoundary>"
	      "\n          <PermissionsBoundaryType>PermissionsBoundaryPolicy</PermissionsBoundaryType>"
	      "\n          <PermissionsBoundaryArn>arn:aws:iam::aws:policy/PowerUserAccess</PermissionsBoundaryArn>"
	      "\n        </PermissionsBoundary>"
	      "\n        <Tags/>"
	      "\n      </member>"
	      "\n    </Users>"
	      "\n    <IsTruncated>true</IsTruncated>"
	      "\n    <Marker>bS0y</Marker>"
	      "\n  </ListUsersResult>"
	      TAIL("ListUsers"));

	check("list-users-empty", &model_iam, "ListUsers", "{\"Users\": [], \"IsTruncated\": false}", NULL,
	      HEAD("ListUsers", IAM_NS)
	      "\n  <ListUsersResult>"
	      "\n    <Users/>"
	      "\n    <IsTruncated>false</IsTruncated>"
	      "\n  </ListUsersResult>"
	      TAIL("ListUsers"));

	/* No output shape at all (IAM DeleteUser): only the wrapper. */
	check("delete-user", &model_iam, "DeleteUser", NULL, "{}",
	      HEAD("DeleteUser", IAM_NS) "\n  <DeleteUserResult/>" TAIL("DeleteUser"));
	check("delete-user-extra", &model_iam, "DeleteUser", "{\"Ignored\": 1}", "{}",
	      HEAD("DeleteUser", IAM_NS) "\n  <DeleteUserResult/>" TAIL("DeleteUser"));

	check("get-account-summary", &model_iam, "GetAccountSummary",
	      "{\"SummaryMap\": {\"Users\": 2, \"Roles\": 0, \"AccountMFAEnabled\": 1}}", NULL,
	      HEAD("GetAccountSummary", IAM_NS)
	      "\n  <GetAccountSummaryResult>"
	      "\n    <SummaryMap>"
	      "\n      <entry>"
	      "\n        <key>Users</key>"
	      "\n        <value>2</value>"
	      "\n      </entry>"
	      "\n      <entry>"
	      "\n        <key>Roles</key>"
	      "\n        <value>0</value>"
	      "\n      </entry>"
	      "\n      <entry>"
	      "\n        <key>AccountMFAEnabled</key>"
	      "\n        <value>1</value>"
	      "\n      </entry>"
	      "\n    </SummaryMap>"
	      "\n  </GetAccountSummaryResult>"
	      TAIL("GetAccountSummary"));

	/* Text escaping: markup characters, CR kept as a reference, controls
	 * and U+FFFF replaced, quotes and non-ASCII as they are. */
	check("get-user-escapes", &model_iam, "GetUser",
	      "{\"User\": {\"Path\": \"/a&b<c>]]>/\", \"UserName\": \"q\\\"u'o\","
	      " \"UserId\": \"tab\\there\\nnl\\rcr\\r\\n\","
	      " \"Arn\": \"ctl\\u0001\\u001f\\u007f end \\u00e9\\u4e2d\\ud83d\\ude00 \\uffff\\ufffe\\ufffd\","
	      " \"CreateDate\": 0}}",
	      "{\"User\": {\"Path\": \"/a&b<c>]]>/\", \"UserName\": \"q\\\"u'o\","
	      " \"UserId\": \"tab\\there\\nnl\\rcr\\r\\n\","
	      " \"Arn\": \"ctl\\ufffd\\ufffd\\u007f end \\u00e9\\u4e2d\\ud83d\\ude00 \\ufffd\\ufffd\\ufffd\","
	      " \"CreateDate\": 0}}",
	      HEAD("GetUser", IAM_NS)
	      "\n  <GetUserResult>"
	      "\n    <User>"
	      "\n      <Path>/a&amp;b&lt;c&gt;]]&gt;/</Path>"
	      "\n      <UserName>q\"u'o</UserName>"
	      "\n      <UserId>tab\there\nnl&#xD;cr&#xD;\n</UserId>"
	      "\n      <Arn>ctl\xEF\xBF\xBD\xEF\xBF\xBD\x7f end \xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80 "
	      "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD</Arn>"
	      "\n      <CreateDate>1970-01-01T00:00:00Z</CreateDate>"
	      "\n    </User>"
	      "\n  </GetUserResult>"
	      TAIL("GetUser"));

	/* Invalid UTF-8 (jansson can hold it when built with _nocheck): each
	 * bad byte becomes U+FFFD; NUL too. */
	json_t *r = json_pack("{s:{s:o, s:s, s:s, s:s, s:i}}", "User", "Path",
			      json_stringn_nocheck("/\xff/\xed\xa0\x80/\xc0\xaf/\x00/\xe4\xb8", 14), "UserName", "u", "UserId",
			      "i", "Arn", "a", "CreateDate", 0);
	check_json("get-user-bad-utf8", &model_iam, "GetUser", r,
		   "{\"User\": {\"Path\": \"/\\ufffd/\\ufffd\\ufffd\\ufffd/\\ufffd\\ufffd/\\ufffd/\\ufffd\\ufffd\","
		   " \"UserName\": \"u\", \"UserId\": \"i\", \"Arn\": \"a\", \"CreateDate\": 0}}",
		   HEAD("GetUser", IAM_NS)
		   "\n  <GetUserResult>"
		   "\n    <User>"
		   "\n      <Path>/\xEF\xBF\xBD/\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD/\xEF\xBF\xBD\xEF\xBF\xBD/"
		   "\xEF\xBF\xBD/\xEF\xBF\xBD\xEF\xBF\xBD</Path>"
		   "\n      <UserName>u</UserName>"
		   "\n      <UserId>i</UserId>"
		   "\n      <Arn>a</Arn>"
		   "\n      <CreateDate>1970-01-01T00:00:00Z</CreateDate>"
		   "\n    </User>"
		   "\n  </GetUserResult>"
		   TAIL("GetUser"));
	json_decref(r);
}

static void test_xtest(void)
{
	check("xtest-everything", &model_xtest, "Everything",
	      "{\"Str\": \"s\", \"Int\": -5, \"Lng\": 9007199254740993, \"Dbl\": 0.1, \"Flt\": 1.5,"
	      " \"Flag\": false, \"When\": 1704067200.9, \"Data\": \"aGVsbG8=\", \"Renamed\": \"r\","
	      " \"Plain\": [\"a\", \"\"], \"Named\": [{\"Id\": \"n1\"}, {}],"
	      " \"Flat\": [\"f1\", \"f2\"], \"FlatNamed\": [{\"Id\": \"t1\", \"Tags\": [{\"Key\": \"k\"}]}],"
	      " \"Nested\": [[\"x\", \"y\"], []], \"Map\": {\"one\": 1, \"two\": 2},"
	      " \"NamedMap\": {\"m\": {\"Id\": \"v\"}}, \"FlatMap\": {\"a\": \"1\", \"b\": \"\"},"
	      " \"Inner\": {\"Id\": \"i\", \"Child\": {\"Id\": \"c\", \"Child\": {}}},"
	      " \"Opt\": null, \"NotInModel\": {\"x\": 1}}",
	      /* When: whole seconds without the millis flag */
	      "{\"Str\": \"s\", \"Int\": -5, \"Lng\": 9007199254740993, \"Dbl\": 0.1, \"Flt\": 1.5,"
	      " \"Flag\": false, \"When\": 1704067200, \"Data\": \"aGVsbG8=\", \"Renamed\": \"r\","
	      " \"Plain\": [\"a\", \"\"], \"Named\": [{\"Id\": \"n1\"}, {}],"
	      " \"Flat\": [\"f1\", \"f2\"], \"FlatNamed\": [{\"Id\": \"t1\", \"Tags\": [{\"Key\": \"k\"}]}],"
	      " \"Nested\": [[\"x\", \"y\"], []], \"Map\": {\"one\": 1, \"two\": 2},"
	      " \"NamedMap\": {\"m\": {\"Id\": \"v\"}}, \"FlatMap\": {\"a\": \"1\", \"b\": \"\"},"
	      " \"Inner\": {\"Id\": \"i\", \"Child\": {\"Id\": \"c\", \"Child\": {}}}}",
	      HEAD("Everything", XT_NS)
	      "\n  <EverythingResult>"
	      "\n    <Str>s</Str>"
	      "\n    <Int>-5</Int>"
	      "\n    <Lng>9007199254740993</Lng>"
	      "\n    <Dbl>0.1</Dbl>"
	      "\n    <Flt>1.5</Flt>"
	      "\n    <Flag>false</Flag>"
	      "\n    <When>2024-01-01T00:00:00Z</When>"
	      "\n    <Data>aGVsbG8=</Data>"
	      "\n    <OtherName>r</OtherName>"
	      "\n    <Plain>"
	      "\n      <member>a</member>"
	      "\n      <member></member>"
	      "\n    </Plain>"
	      "\n    <Named>"
	      "\n      <Item>"
	      "\n        <Id>n1</Id>"
	      "\n      </Item>"
	      "\n      <Item/>"
	      "\n    </Named>"
	      "\n    <Flat>f1</Flat>"
	      "\n    <Flat>f2</Flat>"
	      "\n    <Thing>"
	      "\n      <Id>t1</Id>"
	      "\n      <Tags>"
	      "\n        <Tag>"
	      "\n          <Key>k</Key>"
	      "\n        </Tag>"
	      "\n      </Tags>"
	      "\n    </Thing>"
	      "\n    <Nested>"
	      "\n      <member>"
	      "\n        <member>x</member>"
	      "\n        <member>y</member>"
	      "\n      </member>"
	      "\n      <member/>"
	      "\n    </Nested>"
	      "\n    <Map>"
	      "\n      <entry>"
	      "\n        <key>one</key>"
	      "\n        <value>1</value>"
	      "\n      </entry>"
	      "\n      <entry>"
	      "\n        <key>two</key>"
	      "\n        <value>2</value>"
	      "\n      </entry>"
	      "\n    </Map>"
	      "\n    <NamedMap>"
	      "\n      <entry>"
	      "\n        <Name>m</Name>"
	      "\n        <Val>"
	      "\n          <Id>v</Id>"
	      "\n        </Val>"
	      "\n      </entry>"
	      "\n    </NamedMap>"
	      "\n    <FlatMap>"
	      "\n      <K>a</K>"
	      "\n      <V>1</V>"
	      "\n    </FlatMap>"
	      "\n    <FlatMap>"
	      "\n      <K>b</K>"
	      "\n      <V></V>"
	      "\n    </FlatMap>"
	      "\n    <Inner>"
	      "\n      <Id>i</Id>"
	      "\n      <Child>"
	      "\n        <Id>c</Id>"
	      "\n        <Child/>"
	      "\n      </Child>"
	      "\n    </Inner>"
	      "\n  </EverythingResult>"
	      TAIL("Everything"));

	/* A single flattened element (botocore must still read a list/map). */
	check("xtest-flat-single", &model_xtest, "Everything",
	      "{\"Flat\": [\"only\"], \"FlatNamed\": [{}], \"FlatMap\": {\"k\": \"v\"}}", NULL,
	      HEAD("Everything", XT_NS)
	      "\n  <EverythingResult>"
	      "\n    <Flat>only</Flat>"
	      "\n    <Thing/>"
	      "\n    <FlatMap>"
	      "\n      <K>k</K>"
	      "\n      <V>v</V>"
	      "\n    </FlatMap>"
	      "\n  </EverythingResult>"
	      TAIL("Everything"));

	/* Empty flattened lists and maps write nothing; empty wrapped ones <X/>. */
	check("xtest-empties", &model_xtest, "Everything",
	      "{\"Flat\": [], \"FlatMap\": {}, \"Plain\": [], \"Map\": {}, \"Inner\": {}, \"Str\": \"\"}", NULL,
	      HEAD("Everything", XT_NS)
	      "\n  <EverythingResult>"
	      "\n    <Str></Str>"
	      "\n    <Plain/>"
	      "\n    <Map/>"
	      "\n    <Inner/>"
	      "\n  </EverythingResult>"
	      TAIL("Everything"));
	check("xtest-only-empty-flat", &model_xtest, "Everything", "{\"Flat\": [], \"Opt\": null}", NULL,
	      HEAD("Everything", XT_NS) "\n  <EverythingResult/>" TAIL("Everything"));

	check("xtest-empty-output", &model_xtest, "EmptyOutput", "{\"Bogus\": 1}", NULL,
	      HEAD("EmptyOutput", XT_NS) "\n  <EmptyOutputResult/>" TAIL("EmptyOutput"));
	check("xtest-no-output", &model_xtest, "NoOutput", "{}", "{}",
	      HEAD("NoOutput", XT_NS) "\n  <NoOutputResult/>" TAIL("NoOutput"));

	/* Numbers: shortest round-trip doubles, integers for float shapes. */
	check("xtest-numbers", &model_xtest, "Everything",
	      "{\"Int\": 2147483647, \"Lng\": -9223372036854775807, \"Dbl\": 1e300, \"Flt\": 3}", NULL,
	      HEAD("Everything", XT_NS)
	      "\n  <EverythingResult>"
	      "\n    <Int>2147483647</Int>"
	      "\n    <Lng>-9223372036854775807</Lng>"
	      "\n    <Dbl>1e+300</Dbl>"
	      "\n    <Flt>3</Flt>"
	      "\n  </EverythingResult>"
	      TAIL("Everything"));
	check("xtest-doubles", &model_xtest, "Everything", "{\"Dbl\": 0.30000000000000004, \"Flt\": -2.5e-10}", NULL,
	      HEAD("Everything", XT_NS)
	      "\n  <EverythingResult>"
	      "\n    <Dbl>0.30000000000000004</Dbl>"
	      "\n    <Flt>-2.5e-10</Flt>"
	      "\n  </EverythingResult>"
	      TAIL("Everything"));

	/* Milliseconds (RDS style) when the service asks for them. */
	check("xtest-millis", &xtest_millis, "Everything", "{\"When\": 1704067200.25, \"Flag\": true}", NULL,
	      HEAD("Everything", XT_NS)
	      "\n  <EverythingResult>"
	      "\n    <Flag>true</Flag>"
	      "\n    <When>2024-01-01T00:00:00.250Z</When>"
	      "\n  </EverythingResult>"
	      TAIL("Everything"));
	check("xtest-millis-edge", &xtest_millis, "Everything", "{\"When\": 253402300799}", NULL,
	      HEAD("Everything", XT_NS)
	      "\n  <EverythingResult>"
	      "\n    <When>9999-12-31T23:59:59.000Z</When>"
	      "\n  </EverythingResult>"
	      TAIL("Everything"));

	/* Depth: a chain of XMLOUT_MAX_DEPTH - 2 Child levels fits. */
	json_t *root = json_object(), *cur = root;
	for (int i = 0; i < 40; i++) {
		json_t *c = json_object();
		json_object_set_new(cur, "Child", c);
		cur = c;
	}
	json_t *deep = json_pack("{s:O}", "Inner", root);
	check_fail("deep", &model_xtest, "Everything", deep, "XMLOUT_MAX_DEPTH");
	json_decref(deep);
	json_decref(root);
	root = json_object();
	cur = root;
	for (int i = 0; i < XMLOUT_MAX_DEPTH - 2; i++) {
		json_t *c = json_object();
		json_object_set_new(cur, "Child", c);
		cur = c;
	}
	deep = json_pack("{s:O}", "Inner", root);
	struct buf b;
	buf_init(&b, 0);
	struct emu_err err;
	ok(xmlout_render(&model_xtest, "Everything", deep, RID, &b, &err) == 0, "depth %d renders",
	   XMLOUT_MAX_DEPTH - 2);
	buf_free(&b);
	json_decref(deep);
	json_decref(root);
}

static void test_failures(void)
{
	check_fail_text("string wanted", &model_sts, "GetCallerIdentity", "{\"UserId\": 5}", "'UserId'");
	check_fail_text("timestamp as text", &model_iam, "ListUsers",
			"{\"Users\": [{\"UserName\": \"a\"}, {\"UserName\": \"b\", \"CreateDate\": \"2024\"}]}",
			"'Users.2.CreateDate'");
	check_fail_text("null list element", &model_iam, "ListUsers", "{\"Users\": [null]}", "'Users.1'");
	check_fail_text("negative timestamp", &model_iam, "GetUser", "{\"User\": {\"CreateDate\": -1}}",
			"'User.CreateDate'");
	check_fail_text("year 10000", &model_iam, "GetUser", "{\"User\": {\"CreateDate\": 253402300800}}",
			"1970..9999");
	check_fail_text("huge timestamp", &model_iam, "GetUser", "{\"User\": {\"CreateDate\": 1e300}}", "1970..9999");
	check_fail_text("integer wanted", &model_sts, "AssumeRole", "{\"PackedPolicySize\": 6.5}", "'PackedPolicySize'");
	check_fail_text("boolean wanted", &model_iam, "ListUsers", "{\"IsTruncated\": \"true\"}", "'IsTruncated'");
	check_fail_text("list wanted", &model_iam, "ListUsers", "{\"Users\": {}}", "expected a list");
	check_fail_text("object wanted", &model_sts, "AssumeRole", "{\"Credentials\": []}", "'Credentials'");
	check_fail_text("map wanted", &model_iam, "GetAccountSummary", "{\"SummaryMap\": [1]}", "'SummaryMap'");
	check_fail_text("null map value", &model_iam, "GetAccountSummary", "{\"SummaryMap\": {\"Users\": null}}",
			"'SummaryMap.Users'");
	check_fail_text("map value type", &model_iam, "GetAccountSummary", "{\"SummaryMap\": {\"Users\": \"2\"}}",
			"'SummaryMap.Users'");
	check_fail_text("flattened list type", &model_xtest, "Everything", "{\"Flat\": \"x\"}", "'Flat'");
	check_fail_text("flattened list null", &model_xtest, "Everything", "{\"FlatNamed\": [{}, null]}",
			"'FlatNamed.2'");
	check_fail_text("flattened map type", &model_xtest, "Everything", "{\"FlatMap\": [\"x\"]}", "'FlatMap'");
	check_fail_text("flattened map null", &model_xtest, "Everything", "{\"FlatMap\": {\"k\": null}}",
			"'FlatMap.k'");
	check_fail_text("nested list element", &model_xtest, "Everything", "{\"Nested\": [[\"a\", 1]]}",
			"'Nested.1.2'");
	check_fail_text("result not an object", &model_sts, "GetCallerIdentity", "[]", "not an object");
	check_fail_text("unknown operation", &model_sts, "NoSuchThing", "{}", "unknown sts operation");
	check_fail_text("JSON service", &model_sm, "GetSecretValue", "{}", "not a Query service");
	check_fail("NULL op", &model_sts, NULL, NULL, "unknown");

	/* The output buffer's cap is an error, checked once at the end. */
	struct buf b;
	buf_init(&b, 200);
	struct emu_err err;
	json_t *j = parse("{\"UserId\": \"AIDAJQABLZS4A3QDU576Q\", \"Account\": \"123456789012\","
			  " \"Arn\": \"arn:aws:iam::123456789012:user/Alice\"}");
	ok(xmlout_render(&model_sts, "GetCallerIdentity", j, RID, &b, &err) < 0 && err.code == ERR_INTERNAL &&
		   strstr(err.msg, "does not fit"),
	   "buffer cap: ERR_INTERNAL");
	buf_free(&b);
	json_decref(j);

	/* The renderer appends: what the buffer held stays in front. */
	buf_init(&b, 0);
	buf_puts(&b, "X");
	ok(xmlout_render(&model_iam, "DeleteUser", NULL, RID, &b, &err) == 0 &&
		   strncmp(buf_cstr(&b), "X<?xml ", 7) == 0,
	   "appends to the buffer");
	buf_free(&b);

	/* A NULL request id renders an empty RequestId. */
	buf_init(&b, 0);
	ok(xmlout_render(&model_iam, "DeleteUser", NULL, NULL, &b, &err) == 0 &&
		   strstr(buf_cstr(&b), "<RequestId></RequestId>"),
	   "NULL request id");
	buf_free(&b);
}

static void test_get_caller_identity(void)
{
	struct emu_call call = {
		.account = "123456789012",
		.region = "us-east-1",
		.principal_arn = "arn:aws:sts::123456789012:assumed-role/demo/TestAR",
		.user_id = "AROA3XFRBF535PLBIFPI4:TestAR",
		.access_key_id = "ASIAIOSFODNN7EXAMPLE",
		.request_id = RID,
	};
	const struct api_op *op = sts_op_find("GetCallerIdentity", strlen("GetCallerIdentity"));
	ok(op && op->fn == sts_get_caller_identity, "sts_op_find(GetCallerIdentity)");
	ok(op && strcmp(op->iam_action, "sts:GetCallerIdentity") == 0 && !op->write, "  sts:GetCallerIdentity, read");
	ok(!sts_op_find("GetCallerIdentityX", 18) && !sts_op_find("GetCallerIdentit", 16) && !sts_op_find("", 0),
	   "no prefix or extension matches");
	ok(sts_op_find("GetCallerIdentityX", 17) == op, "name by length");
	ok(sts_op_find("AssumeRole", 10) && strcmp(sts_op_find("AssumeRole", 10)->iam_action, "sts:AssumeRole") == 0,
	   "AssumeRole found by bisection");
	ok(sts_op_find("GetSessionToken", 15) && !sts_op_find("AssumeRol", 9), "GetSessionToken found, prefixes not");
	for (size_t i = 0; i + 1 < sts_ops_count; i++)
		ok(strcmp(sts_ops[i].name, sts_ops[i + 1].name) < 0, "sts ops sorted at %zu", i);
	for (size_t i = 0; i < sts_ops_count; i++)
		ok(model_op_find(&model_sts, sts_ops[i].name, strlen(sts_ops[i].name)) != NULL, "%s is in the model",
		   sts_ops[i].name);

	json_t *in = json_object(), *out = NULL;
	struct emu_err err;
	emu_err_clear(&err);
	ok(sts_get_caller_identity(&call, in, &out, &err) == 0 && out, "GetCallerIdentity: ok");
	check_json("get-caller-identity-role", &model_sts, "GetCallerIdentity", out, NULL,
		   HEAD("GetCallerIdentity", STS_NS)
		   "\n  <GetCallerIdentityResult>"
		   "\n    <UserId>AROA3XFRBF535PLBIFPI4:TestAR</UserId>"
		   "\n    <Account>123456789012</Account>"
		   "\n    <Arn>arn:aws:sts::123456789012:assumed-role/demo/TestAR</Arn>"
		   "\n  </GetCallerIdentityResult>"
		   TAIL("GetCallerIdentity"));
	json_decref(out);
	out = NULL;

	call.user_id = NULL;
	ok(sts_get_caller_identity(&call, in, &out, &err) < 0 && err.code == ERR_INTERNAL && !out,
	   "no principal: ERR_INTERNAL, no output");
	json_decref(in);
}

static const struct model_service *svc_by_name(const char *name)
{
	static const struct model_service *const all[] = {&model_sts, &model_iam, &model_sm, &model_xtest};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		if (strcmp(all[i]->name, name) == 0)
			return all[i];
	return NULL;
}

/* --render DIR: one XML per JSON case; a case that does not render gets
 * "ERROR: <message>" in its .xml (the checker reports it). */
static int render_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d) {
		perror(dir);
		return 2;
	}
	int n = 0, rc = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0)
			continue;
		char path[1024];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		json_error_t je;
		json_t *c = json_load_file(path, 0, &je);
		const char *svc = json_string_value(json_object_get(c, "service"));
		const char *op = json_string_value(json_object_get(c, "op"));
		const char *rid = json_string_value(json_object_get(c, "request_id"));
		if (!c || !svc || !op || !rid || !svc_by_name(svc)) {
			fprintf(stderr, "%s: not a case (%s)\n", path, c ? "fields" : je.text);
			json_decref(c);
			rc = 2;
			continue;
		}
		struct buf b;
		buf_init(&b, 0);
		struct emu_err err;
		emu_err_clear(&err);
		if (xmlout_render(svc_by_name(svc), op, json_object_get(c, "expect"), rid, &b, &err) < 0) {
			buf_reset(&b);
			buf_printf(&b, "ERROR: %s\n", err.msg);
		}
		snprintf(path + strlen(path) - 5, 6, ".xml");
		FILE *f = fopen(path, "wb");
		bool written = f && fwrite(buf_cstr(&b), 1, b.len, f) == b.len;
		if (f && fclose(f) != 0)
			written = false;
		if (!written) {
			perror(path);
			rc = 2;
		}
		buf_free(&b);
		json_decref(c);
		n++;
	}
	closedir(d);
	printf("%d cases rendered\n", n);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--render") == 0)
		return render_dir(argv[2]);
	if (argc == 3 && strcmp(argv[1], "--dump") == 0) {
		dump_dir = argv[2];
		if (mkdir(dump_dir, 0755) < 0 && errno != EEXIST) {
			perror(dump_dir);
			return 2;
		}
	} else if (argc != 1) {
		fprintf(stderr, "usage: %s [--dump DIR | --render DIR]\n", argv[0]);
		return 2;
	}
	xtest_millis = model_xtest;
	xtest_millis.flags |= MODEL_SVC_XML_TIMESTAMP_MILLIS;

	ok(strcmp(model_sts.xml_namespace, STS_NS) == 0 && strcmp(model_sts.api_version, "2011-06-15") == 0,
	   "STS namespace and version");
	ok(strcmp(model_iam.xml_namespace, IAM_NS) == 0 && strcmp(model_iam.api_version, "2010-05-08") == 0,
	   "IAM namespace and version");
	ok(model_sm.xml_namespace == NULL, "Secrets Manager (JSON) has no namespace");
	ok(!(model_sts.flags & MODEL_SVC_XML_TIMESTAMP_MILLIS) && !(model_iam.flags & MODEL_SVC_XML_TIMESTAMP_MILLIS),
	   "STS and IAM timestamps without millis");
	const struct model_op *op = model_op_find(&model_sts, "AssumeRole", 10);
	ok(op && model_op_result_wrapper(&model_sts, op) &&
		   strcmp(model_op_result_wrapper(&model_sts, op), "AssumeRoleResult") == 0,
	   "AssumeRole wrapper");
	ok(op && model_op_output(&model_sts, op) &&
		   strcmp(model_op_output(&model_sts, op)->name, "AssumeRoleResponse") == 0,
	   "AssumeRole output shape");
	op = model_op_find(&model_iam, "DeleteUser", 10);
	ok(op && !model_op_output(&model_iam, op) && !model_op_result_wrapper(&model_iam, op),
	   "IAM DeleteUser has no output");
	op = model_op_find(&model_sm, "GetSecretValue", 14);
	ok(op && model_op_output(&model_sm, op) && !model_op_result_wrapper(&model_sm, op),
	   "JSON outputs have no wrapper");
	struct model_op copy = {"AssumeRole", 0};
	ok(!model_op_output(&model_sts, &copy) && !model_op_result_wrapper(&model_sts, &copy),
	   "an op outside the table has no result");

	test_sts();
	test_iam();
	test_xtest();
	test_failures();
	test_get_caller_identity();
	if (dump_dir)
		printf("# %d cases written to %s\n", dump_n, dump_dir);
	return done_testing();
}
