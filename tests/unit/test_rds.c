/*
 * Unit tests for the RDS DB instance domain (emu/rds.c) and its operation
 * table (api/rds.c) on an in-memory store: create (identifiers, engines,
 * IAM auth per the matrix, passwords, tags), describe (by id and ARN,
 * filters, pagination), modify, reboot, delete, tagging, and the start/stop
 * hooks.
 */
#include "api/rds.h"
#include "emu/engines.h"
#include "emu/rds.h"
#include "emu/rds_common.h"
#include "emu/rds_endpoint.h"
#include "emu/store.h"
#include "tests/unit/tap.h"

#include <stdlib.h>
#include <string.h>

#define ACCT "123456789012"

static struct store *S;
static struct emu_call C;
static struct emu_err E;

static int call(int (*fn)(struct emu_call *, json_t *, json_t **, struct emu_err *), const char *json, json_t **out)
{
	json_t *in = json_loads(json, 0, NULL);
	if (!in) {
		fprintf(stderr, "bad test json: %s\n", json);
		abort();
	}
	json_t *o = NULL;
	emu_err_clear(&E);
	int rc = fn(&C, in, &o, &E);
	json_decref(in);
	if (out)
		*out = o;
	else
		json_decref(o);
	return rc;
}

static void expect_err(int (*fn)(struct emu_call *, json_t *, json_t **, struct emu_err *), const char *json,
                       enum emu_err_code code, const char *what)
{
	int rc = call(fn, json, NULL);
	ok(rc == -1 && E.code == code, "%s (got %d: %s)", what, (int)E.code, E.msg);
}

static const char *sget(json_t *o, const char *path1, const char *path2)
{
	json_t *v = json_object_get(o, path1);
	if (path2)
		v = json_object_get(v, path2);
	return json_string_value(v);
}

static int starts, stops;
static int hook_start(void *ctx, const char *account, const char *region, const json_t *inst, const char *pw,
                      struct emu_err *err)
{
	(void)ctx;
	(void)err;
	(void)pw;
	ok(strcmp(account, ACCT) == 0 && strcmp(region, "us-east-1") == 0 && json_is_object(inst), "hook args");
	starts++;
	return 0;
}
static void hook_stop(void *ctx, const char *account, const char *region, const char *id)
{
	(void)ctx;
	(void)account;
	(void)region;
	(void)id;
	stops++;
}

#define PGBASE "\"DBInstanceClass\":\"db.t3.micro\",\"Engine\":\"postgres\",\"MasterUsername\":\"admin1\",\"MasterUserPassword\":\"secret123\""

int main(void)
{
	if (store_open(&S, NULL, &E) < 0)
		return 1;
	C = (struct emu_call){.store = S, .account = ACCT, .region = "us-east-1", .principal_arn = "arn:aws:iam::" ACCT ":root",
	                      .request_id = "req", .now = 1700000000.0};
	json_t *out = NULL, *out2 = NULL;

	ok(rds_op_find("CreateDBInstance", 16) != NULL, "op table finds CreateDBInstance");
	ok(rds_op_find("CreateDBSnapshot", 16) == NULL, "unimplemented op absent");
	for (size_t i = 1; i < rds_ops_count; i++)
		ok(strcmp(rds_ops[i - 1].name, rds_ops[i].name) < 0, "ops sorted at %zu", i);

	is_int(call(rds_create_db_instance, "{\"DBInstanceIdentifier\":\"MyDB-1\"," PGBASE ",\"EnableIAMDatabaseAuthentication\":true,"
	                                    "\"Tags\":[{\"Key\":\"env\",\"Value\":\"dev\"}]}", &out), 0, "create postgres");
	json_t *db = json_object_get(out, "DBInstance");
	is_str(sget(db, "DBInstanceIdentifier", NULL), "mydb-1", "identifier lower-cased");
	is_str(sget(db, "DBInstanceStatus", NULL), "available", "no hook: available at once");
	is_str(sget(db, "DBInstanceArn", NULL), "arn:aws:rds:us-east-1:" ACCT ":db:mydb-1", "ARN");
	const char *addr = sget(db, "Endpoint", "Address");
	is_str(addr, "127.0.0.2", "endpoint address: the first loopback address");
	is_int(json_integer_value(json_object_get(json_object_get(db, "Endpoint"), "Port")), 5432, "default port");
	const char *rid = sget(db, "DbiResourceId", NULL);
	ok(rid && strlen(rid) == 29 && strncmp(rid, "db-", 3) == 0, "DbiResourceId");
	ok(json_is_true(json_object_get(db, "IAMDatabaseAuthenticationEnabled")), "IAM auth on");
	is_int((int)json_array_size(json_object_get(db, "TagList")), 1, "tag kept");
	char addr1[256];
	snprintf(addr1, sizeof addr1, "%s", addr ? addr : "");
	json_decref(out);

	expect_err(rds_create_db_instance, "{\"DBInstanceIdentifier\":\"mydb-1\"," PGBASE "}", ERR_RDS_DB_INSTANCE_EXISTS,
	           "duplicate (case-insensitive)");
	expect_err(rds_create_db_instance, "{\"DBInstanceIdentifier\":\"1db\"," PGBASE "}", ERR_INVALID_PARAMETER_VALUE, "leading digit");
	expect_err(rds_create_db_instance, "{\"DBInstanceIdentifier\":\"a--b\"," PGBASE "}", ERR_INVALID_PARAMETER_VALUE, "double hyphen");
	expect_err(rds_create_db_instance, "{\"DBInstanceIdentifier\":\"ab-\"," PGBASE "}", ERR_INVALID_PARAMETER_VALUE, "trailing hyphen");
	expect_err(rds_create_db_instance,
	           "{\"DBInstanceIdentifier\":\"x\",\"DBInstanceClass\":\"db.t3.micro\",\"Engine\":\"nosql\",\"MasterUsername\":\"a\",\"MasterUserPassword\":\"secret123\"}",
	           ERR_INVALID_PARAMETER_VALUE, "unknown engine");
	expect_err(rds_create_db_instance,
	           "{\"DBInstanceIdentifier\":\"x\",\"DBInstanceClass\":\"db.t3.micro\",\"Engine\":\"postgres\",\"MasterUsername\":\"a\",\"MasterUserPassword\":\"short\"}",
	           ERR_INVALID_PARAMETER_VALUE, "short password");
	expect_err(rds_create_db_instance,
	           "{\"DBInstanceIdentifier\":\"x\",\"DBInstanceClass\":\"db.t3.micro\",\"Engine\":\"postgres\",\"MasterUserPassword\":\"secret123\"}",
	           ERR_INVALID_PARAMETER_VALUE, "no master user");
	expect_err(rds_create_db_instance,
	           "{\"DBInstanceIdentifier\":\"x\",\"DBInstanceClass\":\"db.m5.large\",\"Engine\":\"custom-oracle-ee\",\"MasterUsername\":\"a\","
	           "\"MasterUserPassword\":\"secret123\",\"EnableIAMDatabaseAuthentication\":true}",
	           ERR_INVALID_PARAMETER_COMBINATION, "IAM auth refused for RDS Custom");
	expect_err(rds_create_db_instance,
	           "{\"DBInstanceIdentifier\":\"x\",\"DBInstanceClass\":\"db.r5.large\",\"Engine\":\"aurora-postgresql\"}",
	           ERR_INVALID_PARAMETER_COMBINATION, "aurora needs a cluster");
	expect_err(rds_create_db_instance,
	           "{\"DBInstanceIdentifier\":\"x\",\"DBInstanceClass\":\"db.t3.micro\",\"Engine\":\"sqlserver-ex\",\"MasterUsername\":\"a\","
	           "\"MasterUserPassword\":\"secret123\",\"MultiAZ\":true}",
	           ERR_INVALID_PARAMETER_COMBINATION, "no Multi-AZ for sqlserver-ex");
	expect_err(rds_create_db_instance, "{\"DBInstanceIdentifier\":\"x\"," PGBASE ",\"ManageMasterUserPassword\":true}",
	           ERR_INVALID_PARAMETER_COMBINATION, "password and managed password together");

	/* strict matrix: MariaDB loses IAM auth */
	engines_set_strict(true);
	expect_err(rds_create_db_instance,
	           "{\"DBInstanceIdentifier\":\"maria\",\"DBInstanceClass\":\"db.t3.micro\",\"Engine\":\"mariadb\",\"MasterUsername\":\"a\","
	           "\"MasterUserPassword\":\"secret123\",\"EnableIAMDatabaseAuthentication\":true}",
	           ERR_INVALID_PARAMETER_COMBINATION, "strict: mariadb IAM refused");
	engines_set_strict(false);
	rds_endpoint_configure(&(struct rds_endpoint_config){.dns_names = true});
	is_int(call(rds_create_db_instance,
	            "{\"DBInstanceIdentifier\":\"maria\",\"DBInstanceClass\":\"db.t3.micro\",\"Engine\":\"mariadb\",\"MasterUsername\":\"a\","
	            "\"MasterUserPassword\":\"secret123\",\"EnableIAMDatabaseAuthentication\":true,\"MultiAZ\":true}", &out),
	       0, "default: mariadb IAM allowed");
	is_int(json_integer_value(json_object_get(json_object_get(json_object_get(out, "DBInstance"), "Endpoint"), "Port")), 3306, "mariadb port");
	const char *addr2 = sget(json_object_get(out, "DBInstance"), "Endpoint", "Address");
	ok(addr2 && strncmp(addr2, "maria.", 6) == 0 &&
	   strlen(addr2) == strlen("maria.") + 12 + strlen(".us-east-1.rds.amazonaws.com"),
	   "DNS mode: endpoint name %s", addr2 ? addr2 : "");
	char dns2[13];
	rds_dns_part(ACCT, "us-east-1", dns2);
	ok(addr2 && strncmp(addr2 + 6, dns2, 12) == 0 && strcmp(addr1, "127.0.0.2") == 0, "same DNS part per account and region");
	char la[64];
	int lp = 0;
	ok(rds_endpoint_listen(S, RDS_EP_KIND_INSTANCE, ACCT, "us-east-1", "maria", la, &lp) == 1 &&
	   strcmp(la, "127.0.0.3") == 0 && lp == 3306, "listen address %s:%d", la, lp);
	rds_endpoint_configure(&(struct rds_endpoint_config){.fixed_host = "127.0.0.1", .port_base = 25000});
	is_int(call(rds_create_db_instance, "{\"DBInstanceIdentifier\":\"fixed1\"," PGBASE "}", NULL), 0, "create (fixed host)");
	is_int(call(rds_create_db_instance, "{\"DBInstanceIdentifier\":\"fixed2\"," PGBASE "}", &out2), 0, "create (fixed host) 2");
	is_str(sget(json_object_get(out2, "DBInstance"), "Endpoint", "Address"), "127.0.0.1", "fixed host address");
	is_int(json_integer_value(json_object_get(json_object_get(json_object_get(out2, "DBInstance"), "Endpoint"), "Port")),
	       25001, "fixed host: ports from the base");
	json_decref(out2);
	is_int(call(rds_delete_db_instance, "{\"DBInstanceIdentifier\":\"fixed1\",\"SkipFinalSnapshot\":true}", NULL), 0,
	       "delete frees the address");
	is_int(call(rds_create_db_instance, "{\"DBInstanceIdentifier\":\"fixed3\"," PGBASE "}", &out2), 0, "create (fixed host) 3");
	is_int(json_integer_value(json_object_get(json_object_get(json_object_get(out2, "DBInstance"), "Endpoint"), "Port")),
	       25000, "freed port reused");
	json_decref(out2);
	for (int i = 2; i <= 3; i++) {
		char del[128];
		snprintf(del, sizeof del, "{\"DBInstanceIdentifier\":\"fixed%d\",\"SkipFinalSnapshot\":true}", i);
		call(rds_delete_db_instance, del, NULL);
	}
	rds_endpoint_configure(NULL);
	json_decref(out);

	/* describe */
	is_int(call(rds_describe_db_instances, "{\"DBInstanceIdentifier\":\"MYDB-1\"}", &out), 0, "describe by id");
	is_int((int)json_array_size(json_object_get(out, "DBInstances")), 1, "one");
	json_decref(out);
	is_int(call(rds_describe_db_instances, "{\"DBInstanceIdentifier\":\"arn:aws:rds:us-east-1:" ACCT ":db:mydb-1\"}", &out), 0,
	       "describe by ARN");
	json_decref(out);
	expect_err(rds_describe_db_instances, "{\"DBInstanceIdentifier\":\"nope\"}", ERR_RDS_DB_INSTANCE_NOT_FOUND, "not found");
	expect_err(rds_describe_db_instances, "{\"MaxRecords\":19}", ERR_INVALID_PARAMETER_VALUE, "MaxRecords 19");
	expect_err(rds_describe_db_instances, "{\"MaxRecords\":101}", ERR_INVALID_PARAMETER_VALUE, "MaxRecords 101");
	expect_err(rds_describe_db_instances, "{\"Filters\":[{\"Name\":\"bogus\",\"Values\":[\"x\"]}]}", ERR_INVALID_PARAMETER_VALUE,
	           "unknown filter");
	is_int(call(rds_describe_db_instances, "{\"Filters\":[{\"Name\":\"engine\",\"Values\":[\"mariadb\"]}]}", &out), 0, "filter engine");
	is_int((int)json_array_size(json_object_get(out, "DBInstances")), 1, "filter: one mariadb");
	is_str(sget(json_array_get(json_object_get(out, "DBInstances"), 0), "DBInstanceIdentifier", NULL), "maria", "it is maria");
	json_decref(out);
	for (int i = 0; i < 23; i++) {
		char j[512];
		snprintf(j, sizeof j, "{\"DBInstanceIdentifier\":\"page%02d\"," PGBASE "}", i);
		if (call(rds_create_db_instance, j, NULL) != 0)
			ok(0, "create page%02d: %s", i, E.msg);
	}
	is_int(call(rds_describe_db_instances, "{\"MaxRecords\":20}", &out), 0, "page 1");
	is_int((int)json_array_size(json_object_get(out, "DBInstances")), 20, "20 on page 1");
	const char *m = sget(out, "Marker", NULL);
	ok(m != NULL, "marker");
	char q[256];
	snprintf(q, sizeof q, "{\"MaxRecords\":20,\"Marker\":\"%s\"}", m ? m : "");
	json_decref(out);
	is_int(call(rds_describe_db_instances, q, &out), 0, "page 2");
	is_int((int)json_array_size(json_object_get(out, "DBInstances")), 5, "5 on page 2");
	ok(sget(out, "Marker", NULL) == NULL, "no marker at the end");
	json_decref(out);

	/* modify */
	is_int(call(rds_modify_db_instance, "{\"DBInstanceIdentifier\":\"mydb-1\",\"EnableIAMDatabaseAuthentication\":false}", &out), 0,
	       "modify pending");
	ok(json_is_false(json_object_get(json_object_get(json_object_get(out, "DBInstance"), "PendingModifiedValues"),
	                                 "IAMDatabaseAuthenticationEnabled")), "pending IAM off");
	ok(json_is_true(json_object_get(json_object_get(out, "DBInstance"), "IAMDatabaseAuthenticationEnabled")), "still on");
	json_decref(out);
	is_int(call(rds_modify_db_instance, "{\"DBInstanceIdentifier\":\"mydb-1\",\"EnableIAMDatabaseAuthentication\":false,"
	                                    "\"ApplyImmediately\":true,\"MasterUserPassword\":\"newpass123\"}", &out), 0, "modify now");
	ok(json_is_false(json_object_get(json_object_get(out, "DBInstance"), "IAMDatabaseAuthenticationEnabled")), "IAM off");
	is_str(sget(json_object_get(out, "DBInstance"), "PendingModifiedValues", "MasterUserPassword"), "****", "password pending shown");
	json_decref(out);
	expect_err(rds_modify_db_instance, "{\"DBInstanceIdentifier\":\"gone\"}", ERR_RDS_DB_INSTANCE_NOT_FOUND, "modify missing");

	/* reboot */
	expect_err(rds_reboot_db_instance, "{\"DBInstanceIdentifier\":\"mydb-1\",\"ForceFailover\":true}", ERR_RDS_INVALID_DB_INSTANCE_STATE,
	           "failover needs Multi-AZ");
	is_int(call(rds_reboot_db_instance, "{\"DBInstanceIdentifier\":\"maria\",\"ForceFailover\":true}", &out), 0, "failover Multi-AZ");
	is_str(sget(json_object_get(out, "DBInstance"), "DBInstanceStatus", NULL), "rebooting", "rebooting shown");
	json_decref(out);

	/* tags */
	const char *arn = "\"arn:aws:rds:us-east-1:" ACCT ":db:mydb-1\"";
	snprintf(q, sizeof q, "{\"ResourceName\":%s,\"Tags\":[{\"Key\":\"team\",\"Value\":\"a\"},{\"Key\":\"env\",\"Value\":\"prod\"}]}", arn);
	is_int(call(rds_add_tags_to_resource, q, NULL), 0, "add tags");
	snprintf(q, sizeof q, "{\"ResourceName\":%s,\"TagKeys\":[\"team\"]}", arn);
	is_int(call(rds_remove_tags_from_resource, q, NULL), 0, "remove tag");
	snprintf(q, sizeof q, "{\"ResourceName\":%s}", arn);
	is_int(call(rds_list_tags_for_resource, q, &out), 0, "list tags");
	json_t *tl = json_object_get(out, "TagList");
	ok(json_array_size(tl) == 1 && strcmp(sget(json_array_get(tl, 0), "Value", NULL), "prod") == 0, "env=prod only");
	json_decref(out);
	expect_err(rds_list_tags_for_resource, "{\"ResourceName\":\"arn:aws:rds:us-east-1:" ACCT ":db:nope\"}",
	           ERR_RDS_DB_INSTANCE_NOT_FOUND, "tags of a missing instance");

	/* delete */
	expect_err(rds_delete_db_instance, "{\"DBInstanceIdentifier\":\"mydb-1\"}", ERR_INVALID_PARAMETER_COMBINATION,
	           "final snapshot required");
	expect_err(rds_delete_db_instance, "{\"DBInstanceIdentifier\":\"mydb-1\",\"SkipFinalSnapshot\":true,\"FinalDBSnapshotIdentifier\":\"s1\"}",
	           ERR_INVALID_PARAMETER_COMBINATION, "both");
	is_int(call(rds_delete_db_instance, "{\"DBInstanceIdentifier\":\"mydb-1\",\"SkipFinalSnapshot\":true}", &out), 0, "delete");
	is_str(sget(json_object_get(out, "DBInstance"), "DBInstanceStatus", NULL), "deleting", "deleting");
	json_decref(out);
	expect_err(rds_describe_db_instances, "{\"DBInstanceIdentifier\":\"mydb-1\"}", ERR_RDS_DB_INSTANCE_NOT_FOUND, "gone");

	/* hooks */
	struct rds_instance_hooks h = {.start = hook_start, .stop = hook_stop, .ctx = NULL};
	rds_set_instance_hooks(&h);
	is_int(call(rds_create_db_instance, "{\"DBInstanceIdentifier\":\"hooked\"," PGBASE "}", &out), 0, "create hooked");
	is_str(sget(json_object_get(out, "DBInstance"), "DBInstanceStatus", NULL), "creating", "creating with a hook");
	json_decref(out);
	is_int(starts, 1, "start called");
	expect_err(rds_reboot_db_instance, "{\"DBInstanceIdentifier\":\"hooked\"}", ERR_RDS_INVALID_DB_INSTANCE_STATE, "not available yet");
	is_int(rds_instance_set_status(S, ACCT, "us-east-1", "hooked", "available", &E), 0, "supervisor reports available");
	is_int(call(rds_delete_db_instance, "{\"DBInstanceIdentifier\":\"hooked\",\"SkipFinalSnapshot\":true}", NULL), 0, "delete hooked");
	is_int(stops, 1, "stop called");
	rds_set_instance_hooks(NULL);

	/* robustness: wrong types everywhere */
	for (size_t i = 0; i < rds_ops_count; i++) {
		json_t *o = NULL;
		json_t *in = json_pack("{s:i, s:i, s:s, s:i, s:s}", "DBInstanceIdentifier", 1, "Tags", 2, "ResourceName", "x",
		                       "Filters", 3, "TagKeys", "y");
		rds_ops[i].fn(&C, in, &o, &E);
		json_decref(o);
		json_decref(in);
	}
	ok(1, "ill-typed input survived");
	store_close(S);
	return done_testing();
}
