/*
 * Unit tests for the RDS DB cluster domain (emu/rds_cluster.c) on an
 * in-memory store: create (engines, master user, endpoints, tags),
 * membership through CreateDBInstance / DeleteDBInstance (writer, readers,
 * writer hand-over), FailoverDBCluster and rds_cluster_set_status, modify
 * and rename, describe (id, ARN, filters, pages), delete, tags by cluster
 * ARN, every error path, and that failed requests leave no rows.
 */
#include "api/rds.h"
#include "emu/rds.h"
#include "emu/store.h"
#include "tests/unit/tap.h"

#include <stdlib.h>
#include <string.h>

#define ACCT "123456789012"
#define REGION "us-east-1"

static struct store *S;
static struct emu_call C;
static struct emu_err E;

typedef int (*op_fn)(struct emu_call *, json_t *, json_t **, struct emu_err *);

static int call(op_fn fn, const char *json, json_t **out)
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

static void expect_err(op_fn fn, const char *json, enum emu_err_code code, const char *what)
{
	int rc = call(fn, json, NULL);
	ok(rc == -1 && E.code == code, "%s (got %d: %s)", what, (int)E.code, E.msg);
}

static const char *sget(json_t *o, const char *key) { return json_string_value(json_object_get(o, key)); }

/* One integer from SQL (row counts). */
static long long q1(const char *sql)
{
	sqlite3_stmt *st;
	long long v = -1;
	if (sqlite3_prepare_v2(store_db(S), sql, -1, &st, NULL) != SQLITE_OK)
		return -2;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* The DBCluster document of id (new reference) or NULL. */
static json_t *cluster(const char *id)
{
	char q[256];
	json_t *out = NULL;
	snprintf(q, sizeof q, "{\"DBClusterIdentifier\":\"%s\"}", id);
	if (call(rds_describe_db_clusters, q, &out) < 0)
		return NULL;
	json_t *c = json_incref(json_array_get(json_object_get(out, "DBClusters"), 0));
	json_decref(out);
	return c;
}

static json_t *instance(const char *id)
{
	char q[256];
	json_t *out = NULL;
	snprintf(q, sizeof q, "{\"DBInstanceIdentifier\":\"%s\"}", id);
	if (call(rds_describe_db_instances, q, &out) < 0)
		return NULL;
	json_t *d = json_incref(json_array_get(json_object_get(out, "DBInstances"), 0));
	json_decref(out);
	return d;
}

/* "w1,r1*,r2" style summary of DBClusterMembers: '*' marks the writer. */
static const char *members(const char *id)
{
	static char buf[512];
	buf[0] = '\0';
	json_t *c = cluster(id);
	size_t i;
	json_t *m;
	json_array_foreach(json_object_get(c, "DBClusterMembers"), i, m) {
		size_t n = strlen(buf);
		snprintf(buf + n, sizeof buf - n, "%s%s%s", n ? "," : "", sget(m, "DBInstanceIdentifier"),
		         json_is_true(json_object_get(m, "IsClusterWriter")) ? "*" : "");
	}
	json_decref(c);
	return buf;
}

static int add_instance(const char *id, const char *cl, int tier)
{
	char q[512];
	if (tier >= 0)
		snprintf(q, sizeof q,
		         "{\"DBInstanceIdentifier\":\"%s\",\"DBInstanceClass\":\"db.r6g.large\",\"Engine\":\"aurora-postgresql\","
		         "\"DBClusterIdentifier\":\"%s\",\"PromotionTier\":%d}",
		         id, cl, tier);
	else
		snprintf(q, sizeof q,
		         "{\"DBInstanceIdentifier\":\"%s\",\"DBInstanceClass\":\"db.r6g.large\",\"Engine\":\"aurora-postgresql\","
		         "\"DBClusterIdentifier\":\"%s\"}",
		         id, cl);
	int rc = call(rds_create_db_instance, q, NULL);
	if (rc < 0)
		printf("# create %s: %s\n", id, E.msg);
	return rc;
}

static int del_instance(const char *id)
{
	char q[256];
	snprintf(q, sizeof q, "{\"DBInstanceIdentifier\":\"%s\",\"SkipFinalSnapshot\":true}", id);
	return call(rds_delete_db_instance, q, NULL);
}

static int start_hook(void *ctx, const char *account, const char *region, const json_t *inst, const char *pw,
                      struct emu_err *err)
{
	(void)ctx, (void)account, (void)region, (void)inst, (void)pw, (void)err;
	return 0;
}

#define PGC "\"Engine\":\"aurora-postgresql\",\"MasterUsername\":\"admin1\",\"MasterUserPassword\":\"secret123\""
#define ROWS "SELECT (SELECT count(*) FROM rds_clusters) * 1000 + (SELECT count(*) FROM rds_endpoints) * 10 " \
             "+ (SELECT count(*) FROM rds_instances)"

static void test_create(void)
{
	json_t *out = NULL;
	is_int(call(rds_create_db_cluster,
	            "{\"DBClusterIdentifier\":\"MyCluster\"," PGC ",\"DatabaseName\":\"app\","
	            "\"EnableIAMDatabaseAuthentication\":true,\"Tags\":[{\"Key\":\"env\",\"Value\":\"dev\"}]}",
	            &out),
	       0, "create aurora-postgresql cluster");
	json_t *c = json_object_get(out, "DBCluster");
	is_str(sget(c, "DBClusterIdentifier"), "mycluster", "identifier lower-cased");
	is_str(sget(c, "DBClusterArn"), "arn:aws:rds:" REGION ":" ACCT ":cluster:mycluster", "cluster ARN");
	const char *rid = sget(c, "DbClusterResourceId");
	ok(rid && strlen(rid) == 34 && strncmp(rid, "cluster-", 8) == 0 && strspn(rid + 8, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") == 26,
	   "DbClusterResourceId %s", rid ? rid : "");
	is_str(sget(c, "Status"), "available", "available at once");
	is_str(sget(c, "Engine"), "aurora-postgresql", "engine");
	is_str(sget(c, "EngineVersion"), "16.2", "default engine version");
	is_str(sget(c, "EngineMode"), "provisioned", "engine mode");
	is_str(sget(c, "DBClusterParameterGroup"), "default.aurora-postgresql16", "parameter group");
	is_int(json_integer_value(json_object_get(c, "Port")), 5432, "port");
	is_str(sget(c, "MasterUsername"), "admin1", "master user");
	is_str(sget(c, "DatabaseName"), "app", "database name");
	ok(json_object_get(c, "MasterUserPassword") == NULL, "no password in the document");
	ok(json_is_true(json_object_get(c, "IAMDatabaseAuthenticationEnabled")), "IAM auth on");
	ok(json_is_false(json_object_get(c, "MultiAZ")), "no readers: not Multi-AZ");
	is_int((int)json_array_size(json_object_get(c, "DBClusterMembers")), 0, "no members");
	is_int((int)json_array_size(json_object_get(c, "AvailabilityZones")), 3, "three AZs");
	is_int((int)json_array_size(json_object_get(c, "TagList")), 1, "tag kept");
	const char *w = sget(c, "Endpoint"), *r = sget(c, "ReaderEndpoint");
	ok(w && r && strncmp(w, "127.0.0.", 8) == 0 && strncmp(r, "127.0.0.", 8) == 0 && strcmp(w, r) != 0,
	   "writer %s and reader %s: distinct loopback addresses", w ? w : "", r ? r : "");
	is_int(q1("SELECT count(*) FROM rds_endpoints WHERE owner = 'mycluster' AND dns LIKE 'mycluster.cluster-%.us-east-1.rds.amazonaws.com' "
	          "AND kind = 'cluster'"),
	       1, "writer DNS name stored");
	is_int(q1("SELECT count(*) FROM rds_endpoints WHERE owner = 'mycluster' AND dns LIKE 'mycluster.cluster-ro-%' AND kind = 'cluster-ro'"),
	       1, "reader DNS name stored");
	is_int(q1("SELECT count(*) FROM rds_clusters WHERE master_password = 'secret123' AND doc NOT LIKE '%secret123%'"), 1,
	       "password kept in its column only");
	json_decref(out);

	is_int(call(rds_create_db_cluster,
	            "{\"DBClusterIdentifier\":\"my-sql\",\"Engine\":\"Aurora-MySQL\",\"MasterUsername\":\"admin\","
	            "\"MasterUserPassword\":\"secret123\",\"Port\":3307,\"DeletionProtection\":true}",
	            &out),
	       0, "create aurora-mysql cluster");
	c = json_object_get(out, "DBCluster");
	is_int(json_integer_value(json_object_get(c, "Port")), 3307, "given port");
	is_str(sget(c, "DBClusterParameterGroup"), "default.aurora-mysql8.0", "mysql parameter group");
	ok(json_is_true(json_object_get(c, "DeletionProtection")), "deletion protection");
	json_decref(out);

	long long before = q1(ROWS);
	expect_err(rds_create_db_cluster, "{\"DBClusterIdentifier\":\"MYCLUSTER\"," PGC "}", ERR_RDS_DB_CLUSTER_EXISTS,
	           "duplicate (case-insensitive)");
	expect_err(rds_create_db_cluster, "{\"DBClusterIdentifier\":\"a--b\"," PGC "}", ERR_INVALID_PARAMETER_VALUE, "bad identifier");
	expect_err(rds_create_db_cluster, "{" PGC "}", ERR_INVALID_PARAMETER_VALUE, "no identifier");
	expect_err(rds_create_db_cluster,
	           "{\"DBClusterIdentifier\":\"x\",\"Engine\":\"postgres\",\"MasterUsername\":\"a\",\"MasterUserPassword\":\"secret123\"}",
	           ERR_INVALID_PARAMETER_COMBINATION, "Multi-AZ DB cluster refused");
	expect_err(rds_create_db_cluster,
	           "{\"DBClusterIdentifier\":\"x\",\"Engine\":\"mariadb\",\"MasterUsername\":\"a\",\"MasterUserPassword\":\"secret123\"}",
	           ERR_INVALID_PARAMETER_VALUE, "mariadb has no clusters");
	expect_err(rds_create_db_cluster, "{\"DBClusterIdentifier\":\"x\",\"MasterUsername\":\"a\",\"MasterUserPassword\":\"secret123\"}",
	           ERR_INVALID_PARAMETER_VALUE, "no engine");
	expect_err(rds_create_db_cluster, "{\"DBClusterIdentifier\":\"x\",\"Engine\":\"aurora-postgresql-and-a-very-long-name-indeed\"}",
	           ERR_INVALID_PARAMETER_VALUE, "long engine name");
	expect_err(rds_create_db_cluster, "{\"DBClusterIdentifier\":\"x\",\"Engine\":\"aurora-postgresql\",\"MasterUserPassword\":\"secret123\"}",
	           ERR_INVALID_PARAMETER_VALUE, "no master user");
	expect_err(rds_create_db_cluster, "{\"DBClusterIdentifier\":\"x\",\"Engine\":\"aurora-postgresql\",\"MasterUsername\":\"1a\",\"MasterUserPassword\":\"secret123\"}",
	           ERR_INVALID_PARAMETER_VALUE, "bad master user");
	expect_err(rds_create_db_cluster, "{\"DBClusterIdentifier\":\"x\",\"Engine\":\"aurora-postgresql\",\"MasterUsername\":\"a\"}",
	           ERR_INVALID_PARAMETER_VALUE, "no password");
	expect_err(rds_create_db_cluster, "{\"DBClusterIdentifier\":\"x\",\"Engine\":\"aurora-postgresql\",\"MasterUsername\":\"a\",\"MasterUserPassword\":\"short\"}",
	           ERR_INVALID_PARAMETER_VALUE, "short password");
	expect_err(rds_create_db_cluster, "{\"DBClusterIdentifier\":\"x\",\"Engine\":\"aurora-postgresql\",\"MasterUsername\":\"a\",\"MasterUserPassword\":\"has/slash1\"}",
	           ERR_INVALID_PARAMETER_VALUE, "password with '/'");
	expect_err(rds_create_db_cluster,
	           "{\"DBClusterIdentifier\":\"x\",\"Engine\":\"aurora-mysql\",\"MasterUsername\":\"a\",\"MasterUserPassword\":\"123456789012345678901234567890123456789012\"}",
	           ERR_INVALID_PARAMETER_VALUE, "MySQL password longer than 41");
	expect_err(rds_create_db_cluster, "{\"DBClusterIdentifier\":\"x\"," PGC ",\"ManageMasterUserPassword\":true}",
	           ERR_INVALID_PARAMETER_COMBINATION, "password and managed password together");
	expect_err(rds_create_db_cluster,
	           "{\"DBClusterIdentifier\":\"x\",\"Engine\":\"aurora-postgresql\",\"MasterUsername\":\"a\",\"ManageMasterUserPassword\":true}",
	           ERR_INVALID_PARAMETER_COMBINATION, "managed password not yet");
	expect_err(rds_create_db_cluster, "{\"DBClusterIdentifier\":\"x\"," PGC ",\"EngineMode\":\"serverless\"}",
	           ERR_INVALID_PARAMETER_COMBINATION, "serverless v1 refused");
	expect_err(rds_create_db_cluster, "{\"DBClusterIdentifier\":\"x\"," PGC ",\"Port\":80}", ERR_INVALID_PARAMETER_VALUE, "port 80");
	expect_err(rds_create_db_cluster, "{\"DBClusterIdentifier\":\"x\"," PGC ",\"BackupRetentionPeriod\":0}",
	           ERR_INVALID_PARAMETER_VALUE, "backup retention 0");
	expect_err(rds_create_db_cluster, "{\"DBClusterIdentifier\":\"x\"," PGC ",\"Tags\":[{\"Key\":\"aws:x\",\"Value\":\"1\"}]}",
	           ERR_INVALID_PARAMETER_VALUE, "reserved tag key");
	is_int(q1(ROWS), before, "failed creates left no rows and no endpoints");
}

static void test_membership(void)
{
	long long before = q1(ROWS);
	expect_err(rds_create_db_instance, "{\"DBInstanceIdentifier\":\"x\",\"DBInstanceClass\":\"db.r6g.large\",\"Engine\":\"aurora-postgresql\"}",
	           ERR_INVALID_PARAMETER_COMBINATION, "aurora instance needs a cluster");
	expect_err(rds_create_db_instance,
	           "{\"DBInstanceIdentifier\":\"x\",\"DBInstanceClass\":\"db.r6g.large\",\"Engine\":\"aurora-postgresql\",\"DBClusterIdentifier\":\"nope\"}",
	           ERR_RDS_DB_CLUSTER_NOT_FOUND, "unknown cluster");
	expect_err(rds_create_db_instance,
	           "{\"DBInstanceIdentifier\":\"x\",\"DBInstanceClass\":\"db.r6g.large\",\"Engine\":\"aurora-mysql\",\"DBClusterIdentifier\":\"mycluster\"}",
	           ERR_INVALID_PARAMETER_COMBINATION, "engine differs from the cluster's");
	expect_err(rds_create_db_instance,
	           "{\"DBInstanceIdentifier\":\"x\",\"DBInstanceClass\":\"db.r6g.large\",\"Engine\":\"aurora-postgresql\",\"DBClusterIdentifier\":\"mycluster\","
	           "\"MasterUsername\":\"a\"}",
	           ERR_INVALID_PARAMETER_COMBINATION, "member with a master user");
	expect_err(rds_create_db_instance,
	           "{\"DBInstanceIdentifier\":\"x\",\"DBInstanceClass\":\"db.r6g.large\",\"Engine\":\"aurora-postgresql\",\"DBClusterIdentifier\":\"mycluster\","
	           "\"MasterUserPassword\":\"secret123\"}",
	           ERR_INVALID_PARAMETER_COMBINATION, "member with a master password");
	expect_err(rds_create_db_instance,
	           "{\"DBInstanceIdentifier\":\"x\",\"DBInstanceClass\":\"db.r6g.large\",\"Engine\":\"aurora-postgresql\",\"DBClusterIdentifier\":\"mycluster\","
	           "\"PromotionTier\":16}",
	           ERR_INVALID_PARAMETER_VALUE, "PromotionTier 16");
	expect_err(rds_create_db_instance,
	           "{\"DBInstanceIdentifier\":\"x\",\"DBInstanceClass\":\"db.t3.micro\",\"Engine\":\"postgres\",\"DBClusterIdentifier\":\"mycluster\","
	           "\"MasterUsername\":\"a\",\"MasterUserPassword\":\"secret123\"}",
	           ERR_INVALID_PARAMETER_COMBINATION, "postgres instance cannot join a cluster");
	is_int(q1(ROWS), before, "failed member creates left no rows");
	is_str(members("mycluster"), "", "still no members");

	is_int(add_instance("W1", "MyCluster", -1), 0, "first member");
	json_t *d = instance("w1");
	is_str(sget(d, "DBClusterIdentifier"), "mycluster", "instance names its cluster");
	is_str(sget(d, "MasterUsername"), "admin1", "cluster's master user");
	is_str(sget(d, "DBName"), "app", "cluster's database name");
	ok(json_is_true(json_object_get(d, "IAMDatabaseAuthenticationEnabled")), "cluster's IAM auth");
	is_int(json_integer_value(json_object_get(d, "PromotionTier")), 1, "default PromotionTier 1");
	is_int(json_integer_value(json_object_get(json_object_get(d, "Endpoint"), "Port")), 5432, "cluster's port");
	json_decref(d);
	is_int(q1("SELECT count(*) FROM rds_instances WHERE id = 'w1' AND master_password IS NULL"), 1,
	       "member keeps no password of its own");
	is_str(members("mycluster"), "w1*", "first member is the writer");
	is_int(add_instance("r1", "arn:aws:rds:" REGION ":" ACCT ":cluster:mycluster", 2), 0, "reader by cluster ARN");
	is_int(add_instance("r2", "mycluster", 0), 0, "reader tier 0");
	is_str(members("mycluster"), "w1*,r1,r2", "writer then readers");
	json_t *c = cluster("mycluster");
	ok(json_is_true(json_object_get(c, "MultiAZ")), "readers: Multi-AZ");
	json_t *m = json_array_get(json_object_get(c, "DBClusterMembers"), 1);
	is_int(json_integer_value(json_object_get(m, "PromotionTier")), 2, "member PromotionTier");
	is_str(sget(m, "DBClusterParameterGroupStatus"), "in-sync", "parameter group status");
	json_decref(c);
	json_t *out = NULL;
	is_int(call(rds_describe_db_instances, "{\"Filters\":[{\"Name\":\"db-cluster-id\",\"Values\":[\"mycluster\"]}]}", &out), 0,
	       "instances by db-cluster-id");
	is_int((int)json_array_size(json_object_get(out, "DBInstances")), 3, "three members");
	json_decref(out);
	char w[64] = "";
	is_int(rds_cluster_writer(S, ACCT, REGION, "mycluster", w), 1, "rds_cluster_writer finds one");
	is_str(w, "w1", "writer w1");
	is_int(rds_cluster_writer(S, ACCT, REGION, "my-sql", w), 0, "no writer without members");
	is_int(rds_cluster_writer(S, ACCT, REGION, "nope", w), 0, "no writer of a missing cluster");
}

static void test_failover(void)
{
	is_int(call(rds_create_db_instance,
	            "{\"DBInstanceIdentifier\":\"solo\",\"DBInstanceClass\":\"db.t3.micro\",\"Engine\":\"postgres\","
	            "\"MasterUsername\":\"a\",\"MasterUserPassword\":\"secret123\"}",
	            NULL),
	       0, "a standalone instance");
	expect_err(rds_failover_db_cluster, "{\"DBClusterIdentifier\":\"nope\"}", ERR_RDS_DB_CLUSTER_NOT_FOUND, "failover: no cluster");
	expect_err(rds_failover_db_cluster, "{\"DBClusterIdentifier\":\"my-sql\"}", ERR_RDS_INVALID_DB_CLUSTER_STATE, "failover: no readers");
	expect_err(rds_failover_db_cluster, "{\"DBClusterIdentifier\":\"mycluster\",\"TargetDBInstanceIdentifier\":\"solo\"}",
	           ERR_RDS_INVALID_DB_INSTANCE_STATE, "failover: target not a member");
	expect_err(rds_failover_db_cluster, "{\"DBClusterIdentifier\":\"mycluster\",\"TargetDBInstanceIdentifier\":\"ghost\"}",
	           ERR_RDS_DB_INSTANCE_NOT_FOUND, "failover: target missing");
	expect_err(rds_failover_db_cluster, "{\"DBClusterIdentifier\":\"mycluster\",\"TargetDBInstanceIdentifier\":\"w1\"}",
	           ERR_RDS_INVALID_DB_INSTANCE_STATE, "failover: target is the writer");
	expect_err(rds_failover_db_cluster, "{\"DBClusterIdentifier\":\"mycluster\",\"TargetDBInstanceIdentifier\":\"-x\"}",
	           ERR_INVALID_PARAMETER_VALUE, "failover: bad target identifier");
	is_str(members("mycluster"), "w1*,r1,r2", "failed failovers changed nothing");

	json_t *out = NULL;
	is_int(call(rds_failover_db_cluster, "{\"DBClusterIdentifier\":\"MYCLUSTER\"}", &out), 0, "failover to the best reader");
	is_str(sget(json_object_get(out, "DBCluster"), "Status"), "failing-over", "failing-over");
	json_decref(out);
	is_str(members("mycluster"), "w1,r1,r2*", "tier 0 reader promoted, old writer a reader");
	char w[64] = "";
	ok(rds_cluster_writer(S, ACCT, REGION, "mycluster", w) == 1 && strcmp(w, "r2") == 0, "rds_cluster_writer: r2");
	expect_err(rds_failover_db_cluster, "{\"DBClusterIdentifier\":\"mycluster\"}", ERR_RDS_INVALID_DB_CLUSTER_STATE,
	           "no failover while failing over");
	expect_err(rds_modify_db_cluster, "{\"DBClusterIdentifier\":\"mycluster\",\"DeletionProtection\":true}",
	           ERR_RDS_INVALID_DB_CLUSTER_STATE, "no modify while failing over");
	is_int(rds_cluster_set_status(S, ACCT, REGION, "mycluster", "available", &E), 0, "runtime reports available");
	json_t *c = cluster("mycluster");
	is_str(sget(c, "Status"), "available", "available again");
	json_decref(c);
	ok(rds_cluster_set_status(S, ACCT, REGION, "nope", "available", &E) == -1 && E.code == ERR_RDS_DB_CLUSTER_NOT_FOUND,
	   "set_status of a missing cluster");

	is_int(call(rds_failover_db_cluster, "{\"DBClusterIdentifier\":\"mycluster\",\"TargetDBInstanceIdentifier\":\"R1\"}", NULL), 0,
	       "failover to a chosen reader");
	is_str(members("mycluster"), "w1,r1*,r2", "chosen reader promoted");
	is_int(rds_cluster_set_status(S, ACCT, REGION, "mycluster", "available", &E), 0, "available");

	/* Readers whose server is still starting cannot take over. */
	struct rds_instance_hooks h = {.start = start_hook};
	rds_set_instance_hooks(&h);
	is_int(call(rds_create_db_cluster, "{\"DBClusterIdentifier\":\"slow\"," PGC "}", NULL), 0, "cluster slow");
	is_int(add_instance("slow-w", "slow", -1), 0, "writer (creating)");
	is_int(add_instance("slow-r", "slow", -1), 0, "reader (creating)");
	rds_set_instance_hooks(NULL);
	is_str(members("slow"), "slow-w*,slow-r", "members while creating");
	expect_err(rds_failover_db_cluster, "{\"DBClusterIdentifier\":\"slow\"}", ERR_RDS_INVALID_DB_CLUSTER_STATE,
	           "no available reader");
	expect_err(rds_failover_db_cluster, "{\"DBClusterIdentifier\":\"slow\",\"TargetDBInstanceIdentifier\":\"slow-r\"}",
	           ERR_RDS_INVALID_DB_INSTANCE_STATE, "target still creating");
	is_int(rds_instance_set_status(S, ACCT, REGION, "slow-r", "available", &E), 0, "reader up");
	is_int(call(rds_failover_db_cluster, "{\"DBClusterIdentifier\":\"slow\"}", NULL), 0, "failover once the reader is up");
	is_str(members("slow"), "slow-w,slow-r*", "slow-r writes");
	is_int(rds_cluster_set_status(S, ACCT, REGION, "slow", "available", &E), 0, "slow available");
}

static void test_modify(void)
{
	json_t *out = NULL;
	expect_err(rds_modify_db_cluster, "{\"DBClusterIdentifier\":\"nope\"}", ERR_RDS_DB_CLUSTER_NOT_FOUND, "modify missing");
	expect_err(rds_modify_db_cluster, "{\"DBClusterIdentifier\":\"mycluster\",\"MasterUserPassword\":\"short\"}",
	           ERR_INVALID_PARAMETER_VALUE, "modify: short password");
	expect_err(rds_modify_db_cluster, "{\"DBClusterIdentifier\":\"mycluster\",\"ManageMasterUserPassword\":true}",
	           ERR_INVALID_PARAMETER_COMBINATION, "modify: managed password");
	expect_err(rds_modify_db_cluster, "{\"DBClusterIdentifier\":\"mycluster\",\"Port\":5433}", ERR_INVALID_PARAMETER_COMBINATION,
	           "modify: port change refused");
	expect_err(rds_modify_db_cluster, "{\"DBClusterIdentifier\":\"mycluster\",\"BackupRetentionPeriod\":36}",
	           ERR_INVALID_PARAMETER_VALUE, "modify: backup retention 36");
	expect_err(rds_modify_db_cluster, "{\"DBClusterIdentifier\":\"mycluster\",\"NewDBClusterIdentifier\":\"a_b\"}",
	           ERR_INVALID_PARAMETER_VALUE, "modify: bad new identifier");
	expect_err(rds_modify_db_cluster, "{\"DBClusterIdentifier\":\"mycluster\",\"NewDBClusterIdentifier\":\"My-SQL\"}",
	           ERR_RDS_DB_CLUSTER_EXISTS, "rename onto another cluster");
	is_int(call(rds_modify_db_cluster,
	            "{\"DBClusterIdentifier\":\"mycluster\",\"EnableIAMDatabaseAuthentication\":false,\"MasterUserPassword\":\"newpass123\","
	            "\"Port\":5432,\"BackupRetentionPeriod\":7}",
	            &out),
	       0, "modify IAM, password, backups");
	json_t *c = json_object_get(out, "DBCluster");
	ok(json_is_false(json_object_get(c, "IAMDatabaseAuthenticationEnabled")), "IAM off");
	is_str(sget(json_object_get(c, "PendingModifiedValues"), "MasterUserPassword"), "****", "password change shown masked");
	is_int(json_integer_value(json_object_get(c, "BackupRetentionPeriod")), 7, "backups 7 days");
	json_decref(out);
	is_int(q1("SELECT count(*) FROM rds_clusters WHERE id = 'mycluster' AND master_password = 'newpass123'"), 1, "password stored");
	is_int(q1("SELECT count(*) FROM rds_instances WHERE json_extract(doc, '$.DBClusterIdentifier') = 'mycluster' "
	          "AND json_extract(doc, '$.IAMDatabaseAuthenticationEnabled') = 0"),
	       3, "IAM auth off in every member");
	json_t *d = instance("r1");
	ok(json_is_false(json_object_get(d, "IAMDatabaseAuthenticationEnabled")), "member document is valid JSON boolean false");
	json_decref(d);

	c = cluster("mycluster");
	char rid[64];
	snprintf(rid, sizeof rid, "%s", sget(c, "DbClusterResourceId"));
	json_decref(c);
	is_int(call(rds_modify_db_cluster, "{\"DBClusterIdentifier\":\"mycluster\",\"NewDBClusterIdentifier\":\"Renamed\",\"ApplyImmediately\":true}",
	            &out),
	       0, "rename");
	c = json_object_get(out, "DBCluster");
	is_str(sget(c, "DBClusterIdentifier"), "renamed", "new identifier");
	is_str(sget(c, "DBClusterArn"), "arn:aws:rds:" REGION ":" ACCT ":cluster:renamed", "new ARN");
	is_str(sget(c, "DbClusterResourceId"), rid, "resource id kept");
	ok(sget(c, "Endpoint") && sget(c, "ReaderEndpoint") && strcmp(sget(c, "Endpoint"), sget(c, "ReaderEndpoint")) != 0,
	   "still two endpoints");
	is_int((int)json_array_size(json_object_get(c, "TagList")), 1, "tags kept");
	json_decref(out);
	expect_err(rds_describe_db_clusters, "{\"DBClusterIdentifier\":\"mycluster\"}", ERR_RDS_DB_CLUSTER_NOT_FOUND, "old name gone");
	is_int(q1("SELECT count(*) FROM rds_endpoints WHERE kind LIKE 'cluster%' AND owner = 'mycluster'"), 0, "old endpoints freed");
	is_int(q1("SELECT count(*) FROM rds_endpoints WHERE owner = 'renamed' AND (dns LIKE 'renamed.cluster-%' OR dns LIKE 'renamed.cluster-ro-%')"),
	       2, "endpoints under the new name");
	is_int(q1("SELECT count(*) FROM rds_instances WHERE json_extract(doc, '$.DBClusterIdentifier') = 'renamed'"), 3,
	       "members follow the rename");
	is_str(members("renamed"), "w1,r1*,r2", "members kept");
}

static void test_describe_tags(void)
{
	json_t *out = NULL;
	is_int(call(rds_describe_db_clusters, "{\"DBClusterIdentifier\":\"arn:aws:rds:" REGION ":" ACCT ":cluster:Renamed\"}", &out), 0,
	       "describe by ARN");
	is_int((int)json_array_size(json_object_get(out, "DBClusters")), 1, "one by ARN");
	json_decref(out);
	expect_err(rds_describe_db_clusters, "{\"DBClusterIdentifier\":\"arn:aws:rds:eu-west-1:" ACCT ":cluster:renamed\"}",
	           ERR_RDS_DB_CLUSTER_NOT_FOUND, "ARN of another region");
	expect_err(rds_describe_db_clusters, "{\"DBClusterIdentifier\":\"nope\"}", ERR_RDS_DB_CLUSTER_NOT_FOUND, "describe missing");
	expect_err(rds_describe_db_clusters, "{\"MaxRecords\":19}", ERR_INVALID_PARAMETER_VALUE, "MaxRecords 19");
	expect_err(rds_describe_db_clusters, "{\"MaxRecords\":101}", ERR_INVALID_PARAMETER_VALUE, "MaxRecords 101");
	expect_err(rds_describe_db_clusters, "{\"Filters\":[{\"Name\":\"db-instance-id\",\"Values\":[\"x\"]}]}",
	           ERR_INVALID_PARAMETER_VALUE, "unknown filter");
	expect_err(rds_describe_db_clusters, "{\"Filters\":[{\"Name\":\"engine\",\"Values\":[]}]}", ERR_INVALID_PARAMETER_VALUE,
	           "filter without values");
	is_int(call(rds_describe_db_clusters, "{\"Filters\":[{\"Name\":\"engine\",\"Values\":[\"aurora-mysql\"]}]}", &out), 0,
	       "filter engine");
	json_t *l = json_object_get(out, "DBClusters");
	ok(json_array_size(l) == 1 && strcmp(sget(json_array_get(l, 0), "DBClusterIdentifier"), "my-sql") == 0, "only my-sql");
	json_decref(out);
	json_t *c = cluster("renamed");
	char q[512];
	snprintf(q, sizeof q, "{\"Filters\":[{\"Name\":\"db-cluster-resource-id\",\"Values\":[\"%s\"]}]}", sget(c, "DbClusterResourceId"));
	json_decref(c);
	is_int(call(rds_describe_db_clusters, q, &out), 0, "filter resource id");
	l = json_object_get(out, "DBClusters");
	ok(json_array_size(l) == 1 && strcmp(sget(json_array_get(l, 0), "DBClusterIdentifier"), "renamed") == 0, "only renamed");
	json_decref(out);
	is_int(call(rds_describe_db_clusters, "{\"Filters\":[{\"Name\":\"db-cluster-id\",\"Values\":[\"RENAMED\",\"arn:aws:rds:" REGION ":" ACCT ":cluster:slow\"]}]}",
	            &out),
	       0, "filter db-cluster-id by name and ARN");
	is_int((int)json_array_size(json_object_get(out, "DBClusters")), 2, "two");
	json_decref(out);
	is_int(call(rds_describe_db_clusters, "{\"DBClusterIdentifier\":\"renamed\",\"Filters\":[{\"Name\":\"engine\",\"Values\":[\"aurora-mysql\"]}]}",
	            &out),
	       0, "identifier and a filter that excludes it");
	is_int((int)json_array_size(json_object_get(out, "DBClusters")), 0, "none");
	json_decref(out);

	for (int i = 0; i < 22; i++) {
		snprintf(q, sizeof q, "{\"DBClusterIdentifier\":\"page%02d\"," PGC "}", i);
		if (call(rds_create_db_cluster, q, NULL) != 0)
			ok(0, "create page%02d: %s", i, E.msg);
	}
	/* 25 clusters: my-sql, page00..21, renamed, slow */
	is_int(call(rds_describe_db_clusters, "{\"MaxRecords\":20}", &out), 0, "page 1");
	is_int((int)json_array_size(json_object_get(out, "DBClusters")), 20, "20 on page 1");
	const char *m = sget(out, "Marker");
	ok(m != NULL, "marker");
	snprintf(q, sizeof q, "{\"MaxRecords\":20,\"Marker\":\"%s\"}", m ? m : "");
	json_decref(out);
	is_int(call(rds_describe_db_clusters, q, &out), 0, "page 2");
	l = json_object_get(out, "DBClusters");
	is_int((int)json_array_size(l), 5, "5 on page 2");
	is_str(sget(json_array_get(l, 4), "DBClusterIdentifier"), "slow", "sorted by identifier");
	ok(sget(out, "Marker") == NULL, "no marker at the end");
	json_decref(out);

	const char *arn = "\"arn:aws:rds:" REGION ":" ACCT ":cluster:renamed\"";
	snprintf(q, sizeof q, "{\"ResourceName\":%s,\"Tags\":[{\"Key\":\"team\",\"Value\":\"a\"},{\"Key\":\"env\",\"Value\":\"prod\"}]}", arn);
	is_int(call(rds_add_tags_to_resource, q, NULL), 0, "add tags by cluster ARN");
	snprintf(q, sizeof q, "{\"ResourceName\":%s,\"TagKeys\":[\"team\"]}", arn);
	is_int(call(rds_remove_tags_from_resource, q, NULL), 0, "remove tag");
	snprintf(q, sizeof q, "{\"ResourceName\":%s}", arn);
	is_int(call(rds_list_tags_for_resource, q, &out), 0, "list tags");
	json_t *tl = json_object_get(out, "TagList");
	ok(json_array_size(tl) == 1 && strcmp(sget(json_array_get(tl, 0), "Value"), "prod") == 0, "env=prod only");
	json_decref(out);
	c = cluster("renamed");
	tl = json_object_get(c, "TagList");
	ok(json_array_size(tl) == 1 && strcmp(sget(json_array_get(tl, 0), "Key"), "env") == 0, "TagList in DescribeDBClusters");
	json_decref(c);
	expect_err(rds_list_tags_for_resource, "{\"ResourceName\":\"arn:aws:rds:" REGION ":" ACCT ":cluster:mycluster\"}",
	           ERR_RDS_DB_CLUSTER_NOT_FOUND, "tags of the old ARN");
}

static void test_delete(void)
{
	json_t *out = NULL;
	expect_err(rds_delete_db_cluster, "{\"DBClusterIdentifier\":\"renamed\"}", ERR_INVALID_PARAMETER_COMBINATION,
	           "final snapshot required");
	expect_err(rds_delete_db_cluster, "{\"DBClusterIdentifier\":\"renamed\",\"SkipFinalSnapshot\":true,\"FinalDBSnapshotIdentifier\":\"s1\"}",
	           ERR_INVALID_PARAMETER_COMBINATION, "skip and a final snapshot");
	expect_err(rds_delete_db_cluster, "{\"DBClusterIdentifier\":\"renamed\",\"FinalDBSnapshotIdentifier\":\"s--1\"}",
	           ERR_INVALID_PARAMETER_VALUE, "bad snapshot identifier");
	expect_err(rds_delete_db_cluster, "{\"DBClusterIdentifier\":\"nope\",\"SkipFinalSnapshot\":true}", ERR_RDS_DB_CLUSTER_NOT_FOUND,
	           "delete missing");
	expect_err(rds_delete_db_cluster, "{\"DBClusterIdentifier\":\"renamed\",\"SkipFinalSnapshot\":true}",
	           ERR_RDS_INVALID_DB_CLUSTER_STATE, "members still present");
	expect_err(rds_delete_db_cluster, "{\"DBClusterIdentifier\":\"my-sql\",\"SkipFinalSnapshot\":true}",
	           ERR_INVALID_PARAMETER_COMBINATION, "deletion protection");
	is_int(call(rds_modify_db_cluster, "{\"DBClusterIdentifier\":\"my-sql\",\"DeletionProtection\":false}", NULL), 0,
	       "protection off");

	/* Members: w1 (tier 1), r1* (tier 2), r2 (tier 0). */
	is_int(del_instance("r1"), 0, "delete the writer");
	is_str(members("renamed"), "w1,r2*", "lowest tier reader takes over");
	is_int(del_instance("w1"), 0, "delete a reader");
	is_str(members("renamed"), "r2*", "writer stays");
	json_t *c = cluster("renamed");
	ok(json_is_false(json_object_get(c, "MultiAZ")), "no reader left: not Multi-AZ");
	json_decref(c);
	is_int(del_instance("r2"), 0, "delete the last member");
	is_str(members("renamed"), "", "no members");
	char w[64];
	is_int(rds_cluster_writer(S, ACCT, REGION, "renamed", w), 0, "no writer");

	is_int(call(rds_delete_db_cluster, "{\"DBClusterIdentifier\":\"Renamed\",\"FinalDBSnapshotIdentifier\":\"final-1\"}", &out), 0,
	       "delete with a final snapshot name");
	is_str(sget(json_object_get(out, "DBCluster"), "Status"), "deleting", "deleting");
	json_decref(out);
	expect_err(rds_describe_db_clusters, "{\"DBClusterIdentifier\":\"renamed\"}", ERR_RDS_DB_CLUSTER_NOT_FOUND, "gone");
	is_int(q1("SELECT count(*) FROM rds_endpoints WHERE owner = 'renamed'"), 0, "endpoints freed");
	is_int(call(rds_delete_db_cluster, "{\"DBClusterIdentifier\":\"my-sql\",\"SkipFinalSnapshot\":true}", NULL), 0, "delete my-sql");
}

int main(void)
{
	if (store_open(&S, NULL, &E) < 0)
		return 1;
	C = (struct emu_call){.store = S, .account = ACCT, .region = REGION, .principal_arn = "arn:aws:iam::" ACCT ":root",
	                      .request_id = "req", .now = 1700000000.0};

	static const char *const ops[] = {"CreateDBCluster", "DescribeDBClusters", "ModifyDBCluster", "DeleteDBCluster",
	                                  "FailoverDBCluster"};
	for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
		const struct api_op *op = rds_op_find(ops[i], strlen(ops[i]));
		ok(op != NULL && strncmp(op->iam_action, "rds:", 4) == 0 && strcmp(op->iam_action + 4, ops[i]) == 0, "op %s", ops[i]);
	}
	for (size_t i = 1; i < rds_ops_count; i++)
		ok(strcmp(rds_ops[i - 1].name, rds_ops[i].name) < 0, "ops sorted at %zu", i);
	char res[256] = "";
	json_t *in = json_pack("{s:s}", "DBClusterIdentifier", "MyCluster");
	rds_authz_resource(&C, in, res, sizeof res);
	is_str(res, "arn:aws:rds:" REGION ":" ACCT ":cluster:mycluster", "authorized on the cluster ARN");
	json_decref(in);
	in = json_pack("{s:s, s:s}", "DBClusterIdentifier", "c", "DBInstanceIdentifier", "I1");
	rds_authz_resource(&C, in, res, sizeof res);
	is_str(res, "arn:aws:rds:" REGION ":" ACCT ":db:i1", "a member instance authorizes on itself");
	json_decref(in);

	test_create();
	test_membership();
	test_failover();
	test_modify();
	test_describe_tags();
	test_delete();

	/* robustness: wrong types everywhere */
	op_fn fns[] = {rds_create_db_cluster, rds_describe_db_clusters, rds_modify_db_cluster, rds_delete_db_cluster,
	               rds_failover_db_cluster};
	for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
		json_t *o = NULL;
		json_t *bad = json_pack("{s:i, s:i, s:i, s:i, s:s, s:i, s:i}", "DBClusterIdentifier", 1, "Tags", 2, "Filters", 3,
		                        "AvailabilityZones", 4, "Engine", "aurora-postgresql", "Port", 5, "MaxRecords", 6);
		fns[i](&C, bad, &o, &E);
		json_decref(o);
		json_decref(bad);
	}
	ok(1, "ill-typed input survived");
	store_close(S);
	return done_testing();
}
