/*
 * Unit tests for the RDS Proxy control plane (emu/rds_proxy.c) on an
 * in-memory store: proxies (defaults, validation, quota, rename, delete
 * with its children), the default target group and its pool settings,
 * targets of instances and clusters with their health (and the data
 * plane's hook), custom and default endpoints, endpoint addresses,
 * pagination, and tags through the generic tagging operations.  Clusters
 * and their member instances are inserted as rows.
 */
#include "api/rds.h"
#include "emu/rds.h"
#include "emu/rds_endpoint.h"
#include "emu/store.h"
#include "tests/unit/tap.h"

#include <stdlib.h>
#include <string.h>

#define ACCT "123456789012"
#define SUBNETS "\"VpcSubnetIds\":[\"subnet-a\",\"subnet-b\"]"
#define ROLE "\"RoleArn\":\"arn:aws:iam::123456789012:role/ProxyRole\""
#define AUTH "\"Auth\":[{\"SecretArn\":\"arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf\"}]"
#define PGPROXY "\"EngineFamily\":\"POSTGRESQL\"," ROLE "," SUBNETS "," AUTH

typedef int (*op_fn)(struct emu_call *, json_t *, json_t **, struct emu_err *);

static struct store *S;
static struct emu_call C;
static struct emu_err E;
static int changes;

static void on_change(void *ctx)
{
	(void)ctx;
	changes++;
}

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

/* Runs fn and returns its output (NULL, reported, on failure). */
static json_t *must(op_fn fn, const char *json, const char *what)
{
	json_t *out = NULL;
	int rc = call(fn, json, &out);
	ok(rc == 0 && out, "%s%s%s", what, rc ? ": " : "", rc ? E.msg : "");
	return out;
}

static const char *sget(json_t *o, const char *k1, const char *k2)
{
	json_t *v = json_object_get(o, k1);
	if (k2)
		v = json_object_get(v, k2);
	return json_string_value(v);
}

static long long iget(json_t *o, const char *k1, const char *k2)
{
	return json_integer_value(json_object_get(json_object_get(o, k1), k2));
}

static bool all_hex(const char *s, size_t n)
{
	size_t i = 0;
	for (; s && s[i] && strchr("0123456789abcdef", s[i]); i++)
		;
	return s && i == n && s[i] == '\0';
}

static long long q(const char *sql)
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

static void sql(const char *text)
{
	char *msg = NULL;
	if (sqlite3_exec(store_db(S), text, NULL, NULL, &msg) != SQLITE_OK) {
		fprintf(stderr, "sql: %s\n", msg ? msg : "?");
		abort();
	}
}

/* The RDS_INSTANCE target of id in a list, or NULL. */
static json_t *find_target(json_t *targets, const char *id)
{
	size_t i;
	json_t *t;
	json_array_foreach(targets, i, t) {
		if (strcmp(sget(t, "RdsResourceId", NULL), id) == 0 && strcmp(sget(t, "Type", NULL), "RDS_INSTANCE") == 0)
			return t;
	}
	return NULL;
}

/* The Role of the RDS_INSTANCE target of id, or NULL. */
static const char *role_of(json_t *targets, const char *id)
{
	return sget(find_target(targets, id), "Role", NULL);
}

static int hook_calls;
static int health_hook(void *ctx, const json_t *proxy, const json_t *target, json_t **health)
{
	(void)ctx;
	hook_calls++;
	if (strcmp(json_string_value(json_object_get(proxy, "DBProxyName")), "P1") != 0)
		return -1;
	(void)target;
	*health = json_pack("{s:s, s:s, s:s}", "State", "UNAVAILABLE", "Reason", "CONNECTION_FAILED", "Description", "hooked");
	return 0;
}

#define PG_INSTANCE "\"DBInstanceClass\":\"db.t3.micro\",\"MasterUsername\":\"admin1\",\"MasterUserPassword\":\"secret123\""

static void test_proxies(void)
{
	json_t *out = must(rds_create_db_proxy, "{\"DBProxyName\":\"P1\"," PGPROXY ",\"Tags\":[{\"Key\":\"env\",\"Value\":\"dev\"}]}",
	                   "create POSTGRESQL proxy");
	json_t *p = json_object_get(out, "DBProxy");
	char arn[256];
	snprintf(arn, sizeof arn, "%s", sget(p, "DBProxyArn", NULL) ? sget(p, "DBProxyArn", NULL) : "");
#define PRX_PREFIX "arn:aws:rds:us-east-1:" ACCT ":db-proxy:prx-"
	ok(strncmp(arn, PRX_PREFIX, strlen(PRX_PREFIX)) == 0 && all_hex(arn + strlen(PRX_PREFIX), 17), "proxy ARN %s", arn);
	is_str(sget(p, "DBProxyName", NULL), "P1", "name kept as given");
	is_str(sget(p, "Status", NULL), "available", "available at once");
	is_str(sget(p, "EngineFamily", NULL), "POSTGRESQL", "family");
	is_str(sget(p, "DefaultAuthScheme", NULL), "NONE", "DefaultAuthScheme NONE");
	is_int(json_integer_value(json_object_get(p, "IdleClientTimeout")), 1800, "IdleClientTimeout default");
	ok(json_is_false(json_object_get(p, "RequireTLS")) && json_is_false(json_object_get(p, "DebugLogging")),
	   "RequireTLS and DebugLogging false");
	json_t *a = json_array_get(json_object_get(p, "Auth"), 0);
	is_str(sget(a, "AuthScheme", NULL), "SECRETS", "AuthScheme default");
	is_str(sget(a, "IAMAuth", NULL), "DISABLED", "IAMAuth default");
	is_str(sget(a, "ClientPasswordAuthType", NULL), "POSTGRES_SCRAM_SHA_256", "PostgreSQL password auth default");
	ok(sget(p, "VpcId", NULL) && strncmp(sget(p, "VpcId", NULL), "vpc-", 4) == 0, "VpcId");
	ok(json_array_size(json_object_get(p, "VpcSecurityGroupIds")) == 1 &&
	   strncmp(json_string_value(json_array_get(json_object_get(p, "VpcSecurityGroupIds"), 0)), "sg-", 3) == 0,
	   "default security group");
	is_int(json_array_size(json_object_get(p, "VpcSubnetIds")), 2, "subnets kept");
	is_str(sget(p, "EndpointNetworkType", NULL), "IPV4", "EndpointNetworkType default");
	ok(json_object_get(p, "TagList") == NULL, "no TagList in DBProxy");
	is_str(sget(p, "Endpoint", NULL), "127.0.0.2", "default endpoint gets the first loopback address");
	ok(json_is_number(json_object_get(p, "CreatedDate")), "CreatedDate");
	char addr[64];
	int port = 0;
	char id[32];
	snprintf(id, sizeof id, "%s", strrchr(arn, ':') ? strrchr(arn, ':') + 1 : "");
	ok(rds_endpoint_listen(S, RDS_EP_KIND_PROXY, ACCT, "us-east-1", id, addr, &port) == 1 && port == 5432,
	   "proxy listens on 5432");
	json_decref(out);

	out = must(rds_create_db_proxy, "{\"DBProxyName\":\"m1\",\"EngineFamily\":\"MYSQL\"," ROLE "," SUBNETS "," AUTH "}",
	           "create MYSQL proxy");
	p = json_object_get(out, "DBProxy");
	is_str(sget(json_array_get(json_object_get(p, "Auth"), 0), "ClientPasswordAuthType", NULL),
	       "MYSQL_CACHING_SHA2_PASSWORD", "MySQL password auth default");
	is_str(sget(p, "Endpoint", NULL), "127.0.0.3", "second proxy, next address");
	json_decref(out);
	out = must(rds_create_db_proxy,
	           "{\"DBProxyName\":\"s1\",\"EngineFamily\":\"SQLSERVER\"," ROLE "," SUBNETS ","
	           "\"Auth\":[{\"SecretArn\":\"arn:aws:secretsmanager:us-east-1:123456789012:secret:x\",\"IAMAuth\":\"ENABLED\"}]}",
	           "create SQLSERVER proxy with IAMAuth ENABLED");
	is_str(sget(json_array_get(json_object_get(json_object_get(out, "DBProxy"), "Auth"), 0), "ClientPasswordAuthType", NULL),
	       "SQL_SERVER_AUTHENTICATION", "SQL Server password auth default");
	json_decref(out);
	out = must(rds_describe_db_proxy_target_groups, "{\"DBProxyName\":\"s1\"}", "describe SQL Server target group");
	json_t *pool = json_object_get(json_array_get(json_object_get(out, "TargetGroups"), 0), "ConnectionPoolConfig");
	ok(json_integer_value(json_object_get(pool, "MaxConnectionsPercent")) == 10 &&
	   json_integer_value(json_object_get(pool, "MaxIdleConnectionsPercent")) == 5, "SQL Server pool defaults 10/5");
	json_decref(out);
	out = must(rds_create_db_proxy,
	           "{\"DBProxyName\":\"iam1\",\"EngineFamily\":\"POSTGRESQL\",\"DefaultAuthScheme\":\"IAM_AUTH\"," ROLE "," SUBNETS
	           ",\"IdleClientTimeout\":28800,\"RequireTLS\":true}",
	           "IAM_AUTH proxy needs no Auth");
	p = json_object_get(out, "DBProxy");
	ok(json_array_size(json_object_get(p, "Auth")) == 0 && json_is_true(json_object_get(p, "RequireTLS")) &&
	   json_integer_value(json_object_get(p, "IdleClientTimeout")) == 28800, "IAM_AUTH proxy settings");
	json_decref(out);

	expect_err(rds_create_db_proxy, "{\"DBProxyName\":\"p1\"," PGPROXY "}", ERR_RDS_DB_PROXY_EXISTS,
	           "duplicate name (case-insensitive)");
	expect_err(rds_create_db_proxy, "{\"DBProxyName\":\"1p\"," PGPROXY "}", ERR_INVALID_PARAMETER_VALUE, "leading digit");
	expect_err(rds_create_db_proxy, "{\"DBProxyName\":\"a--b\"," PGPROXY "}", ERR_INVALID_PARAMETER_VALUE, "double hyphen");
	expect_err(rds_create_db_proxy, "{\"DBProxyName\":\"x\",\"EngineFamily\":\"ORACLE\"," ROLE "," SUBNETS "," AUTH "}",
	           ERR_INVALID_PARAMETER_VALUE, "unknown family");
	expect_err(rds_create_db_proxy, "{\"DBProxyName\":\"x\",\"EngineFamily\":\"postgresql\"," ROLE "," SUBNETS "," AUTH "}",
	           ERR_INVALID_PARAMETER_VALUE, "family is case-sensitive");
	expect_err(rds_create_db_proxy, "{\"DBProxyName\":\"x\"," PGPROXY ",\"IdleClientTimeout\":0}", ERR_INVALID_PARAMETER_VALUE,
	           "IdleClientTimeout 0");
	expect_err(rds_create_db_proxy, "{\"DBProxyName\":\"x\"," PGPROXY ",\"IdleClientTimeout\":28801}",
	           ERR_INVALID_PARAMETER_VALUE, "IdleClientTimeout 28801");
	expect_err(rds_create_db_proxy, "{\"DBProxyName\":\"x\",\"EngineFamily\":\"POSTGRESQL\"," ROLE "," SUBNETS "}",
	           ERR_INVALID_PARAMETER_COMBINATION, "no Auth without IAM_AUTH");
	expect_err(rds_create_db_proxy, "{\"DBProxyName\":\"x\"," PGPROXY ",\"DefaultAuthScheme\":\"KERBEROS\"}",
	           ERR_INVALID_PARAMETER_VALUE, "bad DefaultAuthScheme");
	expect_err(rds_create_db_proxy,
	           "{\"DBProxyName\":\"x\",\"EngineFamily\":\"POSTGRESQL\"," ROLE "," SUBNETS ",\"Auth\":[{\"AuthScheme\":\"SECRETS\"}]}",
	           ERR_INVALID_PARAMETER_VALUE, "SecretArn required");
	expect_err(rds_create_db_proxy,
	           "{\"DBProxyName\":\"x\",\"EngineFamily\":\"POSTGRESQL\"," ROLE "," SUBNETS
	           ",\"Auth\":[{\"SecretArn\":\"arn:aws:secretsmanager:us-east-1:1:secret:x\",\"IAMAuth\":\"ENABLED\"}]}",
	           ERR_INVALID_PARAMETER_VALUE, "IAMAuth ENABLED only for SQL Server");
	expect_err(rds_create_db_proxy,
	           "{\"DBProxyName\":\"x\",\"EngineFamily\":\"POSTGRESQL\"," ROLE "," SUBNETS
	           ",\"Auth\":[{\"SecretArn\":\"arn:aws:secretsmanager:us-east-1:1:secret:x\",\"IAMAuth\":\"MAYBE\"}]}",
	           ERR_INVALID_PARAMETER_VALUE, "bad IAMAuth");
	expect_err(rds_create_db_proxy,
	           "{\"DBProxyName\":\"x\",\"EngineFamily\":\"POSTGRESQL\"," ROLE "," SUBNETS
	           ",\"Auth\":[{\"SecretArn\":\"arn:aws:secretsmanager:us-east-1:1:secret:x\","
	           "\"ClientPasswordAuthType\":\"MYSQL_NATIVE_PASSWORD\"}]}",
	           ERR_INVALID_PARAMETER_COMBINATION, "MySQL password auth on a PostgreSQL proxy");
	expect_err(rds_create_db_proxy,
	           "{\"DBProxyName\":\"x\",\"EngineFamily\":\"POSTGRESQL\"," ROLE "," AUTH ",\"VpcSubnetIds\":[]}",
	           ERR_RDS_INVALID_SUBNET, "no subnets");
	expect_err(rds_create_db_proxy,
	           "{\"DBProxyName\":\"x\",\"EngineFamily\":\"POSTGRESQL\"," ROLE "," AUTH ",\"VpcSubnetIds\":[\"net-1\"]}",
	           ERR_RDS_INVALID_SUBNET, "malformed subnet");
	expect_err(rds_create_db_proxy, "{\"DBProxyName\":\"x\"," PGPROXY ",\"EndpointNetworkType\":\"IPV5\"}",
	           ERR_INVALID_PARAMETER_VALUE, "bad EndpointNetworkType");
	is_int(q("SELECT count(*) FROM rds_proxies"), 4, "failed creates leave no rows");
	is_int(q("SELECT count(*) FROM rds_endpoints"), 4, "failed creates leave no addresses");

	out = must(rds_describe_db_proxies, "{\"DBProxyName\":\"P1\"}", "describe by name");
	p = json_array_get(json_object_get(out, "DBProxies"), 0);
	ok(json_array_size(json_object_get(out, "DBProxies")) == 1 && json_object_get(p, "TagList") == NULL &&
	   strcmp(sget(p, "DBProxyName", NULL), "P1") == 0, "one proxy, no TagList");
	json_decref(out);
	out = must(rds_describe_db_proxies, "{}", "describe all");
	json_t *list = json_object_get(out, "DBProxies");
	ok(json_array_size(list) == 4 && strcmp(sget(json_array_get(list, 0), "DBProxyName", NULL), "iam1") == 0 &&
	   json_object_get(out, "Marker") == NULL, "all four, by name, no marker");
	json_decref(out);
	expect_err(rds_describe_db_proxies, "{\"DBProxyName\":\"nope\"}", ERR_RDS_DB_PROXY_NOT_FOUND, "describe missing");
	expect_err(rds_describe_db_proxies, "{\"MaxRecords\":10}", ERR_INVALID_PARAMETER_VALUE, "MaxRecords 10");
	expect_err(rds_describe_db_proxies, "{\"Marker\":\"abc\"}", ERR_INVALID_PARAMETER_VALUE, "bad marker");
	out = must(rds_describe_db_proxies, "{\"Filters\":[{\"Name\":\"x\",\"Values\":[\"y\"]}]}", "filters ignored");
	is_int(json_array_size(json_object_get(out, "DBProxies")), 4, "filters do not filter");
	json_decref(out);

	char proxy_arn[256];
	is_int(rds_proxy_arn(S, ACCT, "us-east-1", "p1", proxy_arn), 1, "rds_proxy_arn finds p1");
	is_str(proxy_arn, arn, "rds_proxy_arn value");
	is_int(rds_proxy_arn(S, ACCT, "us-east-1", "zz", proxy_arn), 0, "rds_proxy_arn: unknown");
	is_int(rds_proxy_arn(S, ACCT, "eu-west-1", "p1", proxy_arn), 0, "rds_proxy_arn: other region");
}

static void test_quota(void)
{
	C.region = "eu-west-1";
	char body[512];
	int made = 0;
	for (int i = 0; i < 20; i++) {
		snprintf(body, sizeof body, "{\"DBProxyName\":\"q%d\"," PGPROXY "}", i);
		made += call(rds_create_db_proxy, body, NULL) == 0;
	}
	is_int(made, 20, "20 proxies in a region");
	expect_err(rds_create_db_proxy, "{\"DBProxyName\":\"q20\"," PGPROXY "}", ERR_RDS_DB_PROXY_QUOTA, "21st proxy");
	json_t *out = must(rds_describe_db_proxies, "{\"MaxRecords\":20}", "page of 20");
	ok(json_array_size(json_object_get(out, "DBProxies")) == 20 && !json_object_get(out, "Marker"), "exactly one page");
	json_decref(out);
	C.region = "us-east-1";
	out = must(rds_describe_db_proxies, "{}", "other region unaffected");
	is_int(json_array_size(json_object_get(out, "DBProxies")), 4, "four in us-east-1");
	json_decref(out);
}

static void test_target_groups(void)
{
	json_t *out = must(rds_describe_db_proxy_target_groups, "{\"DBProxyName\":\"p1\"}", "describe target groups");
	json_t *tg = json_array_get(json_object_get(out, "TargetGroups"), 0);
	is_str(sget(tg, "TargetGroupName", NULL), "default", "group named default");
	is_str(sget(tg, "DBProxyName", NULL), "P1", "group's proxy name");
	ok(json_is_true(json_object_get(tg, "IsDefault")) && strcmp(sget(tg, "Status", NULL), "available") == 0, "default, available");
	const char *arn = sget(tg, "TargetGroupArn", NULL);
#define TG_PREFIX "arn:aws:rds:us-east-1:" ACCT ":target-group:prx-tg-"
	ok(arn && strncmp(arn, TG_PREFIX, strlen(TG_PREFIX)) == 0 && all_hex(arn + strlen(TG_PREFIX), 17),
	   "target group ARN %s", arn ? arn : "");
	ok(iget(tg, "ConnectionPoolConfig", "MaxConnectionsPercent") == 100 &&
	   iget(tg, "ConnectionPoolConfig", "MaxIdleConnectionsPercent") == 50 &&
	   iget(tg, "ConnectionPoolConfig", "ConnectionBorrowTimeout") == 120 &&
	   json_array_size(json_object_get(json_object_get(tg, "ConnectionPoolConfig"), "SessionPinningFilters")) == 0,
	   "pool defaults 100/50/120/[]");
	ok(json_object_get(tg, "TagList") == NULL, "no TagList in DBProxyTargetGroup");
	json_decref(out);
	expect_err(rds_describe_db_proxy_target_groups, "{\"DBProxyName\":\"p1\",\"TargetGroupName\":\"other\"}",
	           ERR_RDS_DB_PROXY_TARGET_GROUP_NOT_FOUND, "unknown target group");
	expect_err(rds_describe_db_proxy_target_groups, "{\"DBProxyName\":\"nope\"}", ERR_RDS_DB_PROXY_NOT_FOUND,
	           "target groups of a missing proxy");

	out = must(rds_modify_db_proxy_target_group,
	           "{\"DBProxyName\":\"p1\",\"TargetGroupName\":\"default\",\"ConnectionPoolConfig\":{\"MaxConnectionsPercent\":90}}",
	           "modify MaxConnectionsPercent");
	tg = json_object_get(out, "DBProxyTargetGroup");
	ok(iget(tg, "ConnectionPoolConfig", "MaxConnectionsPercent") == 90 &&
	   iget(tg, "ConnectionPoolConfig", "MaxIdleConnectionsPercent") == 45 &&
	   iget(tg, "ConnectionPoolConfig", "ConnectionBorrowTimeout") == 120, "90, idle half, borrow kept");
	json_decref(out);
	out = must(rds_modify_db_proxy_target_group,
	           "{\"DBProxyName\":\"p1\",\"TargetGroupName\":\"default\",\"NewName\":\"default\",\"ConnectionPoolConfig\":"
	           "{\"MaxConnectionsPercent\":80,\"MaxIdleConnectionsPercent\":0,\"ConnectionBorrowTimeout\":0,\"InitQuery\":\"SET x=1\"}}",
	           "modify all");
	tg = json_object_get(out, "DBProxyTargetGroup");
	ok(iget(tg, "ConnectionPoolConfig", "MaxConnectionsPercent") == 80 &&
	   iget(tg, "ConnectionPoolConfig", "MaxIdleConnectionsPercent") == 0 &&
	   iget(tg, "ConnectionPoolConfig", "ConnectionBorrowTimeout") == 0 &&
	   strcmp(sget(json_object_get(tg, "ConnectionPoolConfig"), "InitQuery", NULL), "SET x=1") == 0,
	   "80/0/0 and InitQuery");
	json_decref(out);
	out = must(rds_modify_db_proxy_target_group,
	           "{\"DBProxyName\":\"p1\",\"TargetGroupName\":\"default\",\"ConnectionPoolConfig\":{\"ConnectionBorrowTimeout\":3600}}",
	           "only borrow timeout");
	tg = json_object_get(out, "DBProxyTargetGroup");
	ok(iget(tg, "ConnectionPoolConfig", "MaxConnectionsPercent") == 80 &&
	   iget(tg, "ConnectionPoolConfig", "MaxIdleConnectionsPercent") == 0 &&
	   iget(tg, "ConnectionPoolConfig", "ConnectionBorrowTimeout") == 3600, "other fields unchanged");
	json_decref(out);
#define MTG "{\"DBProxyName\":\"p1\",\"TargetGroupName\":\"default\",\"ConnectionPoolConfig\":"
	expect_err(rds_modify_db_proxy_target_group, MTG "{\"MaxConnectionsPercent\":0}}", ERR_INVALID_PARAMETER_VALUE, "max 0");
	expect_err(rds_modify_db_proxy_target_group, MTG "{\"MaxConnectionsPercent\":101}}", ERR_INVALID_PARAMETER_VALUE, "max 101");
	expect_err(rds_modify_db_proxy_target_group, MTG "{\"MaxConnectionsPercent\":40,\"MaxIdleConnectionsPercent\":41}}",
	           ERR_INVALID_PARAMETER_VALUE, "idle above max");
	expect_err(rds_modify_db_proxy_target_group, MTG "{\"MaxIdleConnectionsPercent\":10}}", ERR_INVALID_PARAMETER_COMBINATION,
	           "idle without max");
	expect_err(rds_modify_db_proxy_target_group, MTG "{\"ConnectionBorrowTimeout\":3601}}", ERR_INVALID_PARAMETER_VALUE,
	           "borrow 3601");
	expect_err(rds_modify_db_proxy_target_group, MTG "{\"ConnectionBorrowTimeout\":-1}}", ERR_INVALID_PARAMETER_VALUE,
	           "borrow -1");
	expect_err(rds_modify_db_proxy_target_group, MTG "{\"SessionPinningFilters\":[\"EXCLUDE_VARIABLE_SETS\"]}}",
	           ERR_INVALID_PARAMETER_COMBINATION, "pinning filters on PostgreSQL");
	expect_err(rds_modify_db_proxy_target_group,
	           "{\"DBProxyName\":\"m1\",\"TargetGroupName\":\"default\",\"ConnectionPoolConfig\":{\"SessionPinningFilters\":[\"X\"]}}",
	           ERR_INVALID_PARAMETER_VALUE, "unknown pinning filter");
	expect_err(rds_modify_db_proxy_target_group, "{\"DBProxyName\":\"p1\",\"TargetGroupName\":\"default\",\"NewName\":\"other\"}",
	           ERR_INVALID_PARAMETER_VALUE, "default cannot be renamed");
	expect_err(rds_modify_db_proxy_target_group, "{\"DBProxyName\":\"p1\",\"TargetGroupName\":\"tg2\"}",
	           ERR_RDS_DB_PROXY_TARGET_GROUP_NOT_FOUND, "modify unknown group");
	expect_err(rds_modify_db_proxy_target_group, "{\"DBProxyName\":\"nope\",\"TargetGroupName\":\"default\"}",
	           ERR_RDS_DB_PROXY_NOT_FOUND, "modify group of missing proxy");
	out = must(rds_modify_db_proxy_target_group,
	           "{\"DBProxyName\":\"m1\",\"TargetGroupName\":\"default\",\"ConnectionPoolConfig\":{\"SessionPinningFilters\":[\"EXCLUDE_VARIABLE_SETS\"]}}",
	           "pinning filter on MySQL");
	is_str(json_string_value(json_array_get(
		       json_object_get(json_object_get(json_object_get(out, "DBProxyTargetGroup"), "ConnectionPoolConfig"),
		                       "SessionPinningFilters"), 0)),
	       "EXCLUDE_VARIABLE_SETS", "filter stored");
	json_decref(out);
}

static void test_instance_targets(void)
{
	json_t *out = must(rds_create_db_instance, "{\"DBInstanceIdentifier\":\"db1\",\"Engine\":\"postgres\"," PG_INSTANCE "}",
	                   "create postgres instance");
	char inst_addr[256];
	snprintf(inst_addr, sizeof inst_addr, "%s", sget(json_object_get(out, "DBInstance"), "Endpoint", "Address"));
	json_decref(out);
	json_decref(must(rds_create_db_instance, "{\"DBInstanceIdentifier\":\"my1\",\"Engine\":\"mysql\"," PG_INSTANCE "}",
	                 "create mysql instance"));

	out = must(rds_describe_db_proxy_targets, "{\"DBProxyName\":\"p1\"}", "no targets yet");
	is_int(json_array_size(json_object_get(out, "Targets")), 0, "empty Targets");
	json_decref(out);
	out = must(rds_register_db_proxy_targets, "{\"DBProxyName\":\"p1\",\"DBInstanceIdentifiers\":[\"DB1\"]}",
	           "register instance");
	json_t *t = json_array_get(json_object_get(out, "DBProxyTargets"), 0);
	is_int(json_array_size(json_object_get(out, "DBProxyTargets")), 1, "one target");
	is_str(sget(t, "Type", NULL), "RDS_INSTANCE", "type");
	is_str(sget(t, "RdsResourceId", NULL), "db1", "RdsResourceId is the identifier");
	is_str(sget(t, "TargetArn", NULL), "arn:aws:rds:us-east-1:" ACCT ":db:db1", "TargetArn");
	is_str(sget(t, "Endpoint", NULL), inst_addr, "Endpoint is the instance's address");
	is_int(json_integer_value(json_object_get(t, "Port")), 5432, "Port");
	is_str(sget(t, "Role", NULL), "READ_WRITE", "Role");
	is_str(sget(t, "TargetHealth", "State"), "REGISTERING", "new target is REGISTERING");
	json_decref(out);

	out = must(rds_describe_db_proxy_targets, "{\"DBProxyName\":\"p1\",\"TargetGroupName\":\"default\"}", "describe targets");
	t = json_array_get(json_object_get(out, "Targets"), 0);
	is_str(sget(t, "TargetHealth", "State"), "AVAILABLE", "available instance -> AVAILABLE");
	ok(sget(t, "TargetHealth", "Description") == NULL, "no Description when AVAILABLE");
	json_decref(out);

	expect_err(rds_register_db_proxy_targets, "{\"DBProxyName\":\"p1\",\"DBInstanceIdentifiers\":[\"db1\"]}",
	           ERR_RDS_DB_PROXY_TARGET_EXISTS, "register twice");
	expect_err(rds_register_db_proxy_targets, "{\"DBProxyName\":\"iam1\",\"DBInstanceIdentifiers\":[\"nope\"]}",
	           ERR_RDS_DB_INSTANCE_NOT_FOUND, "missing instance");
	expect_err(rds_register_db_proxy_targets, "{\"DBProxyName\":\"iam1\",\"DBInstanceIdentifiers\":[\"my1\"]}",
	           ERR_INVALID_PARAMETER_COMBINATION, "mysql behind a POSTGRESQL proxy");
	expect_err(rds_register_db_proxy_targets, "{\"DBProxyName\":\"iam1\"}", ERR_INVALID_PARAMETER_COMBINATION,
	           "no database");
	expect_err(rds_register_db_proxy_targets, "{\"DBProxyName\":\"iam1\",\"DBInstanceIdentifiers\":[\"db1\",\"my1\"]}",
	           ERR_INVALID_PARAMETER_COMBINATION, "two databases");
	expect_err(rds_register_db_proxy_targets, "{\"DBProxyName\":\"iam1\",\"TargetGroupName\":\"x\",\"DBInstanceIdentifiers\":[\"db1\"]}",
	           ERR_RDS_DB_PROXY_TARGET_GROUP_NOT_FOUND, "register into unknown group");
	expect_err(rds_register_db_proxy_targets, "{\"DBProxyName\":\"nope\",\"DBInstanceIdentifiers\":[\"db1\"]}",
	           ERR_RDS_DB_PROXY_NOT_FOUND, "register with missing proxy");
	expect_err(rds_describe_db_proxy_targets, "{\"DBProxyName\":\"nope\"}", ERR_RDS_DB_PROXY_NOT_FOUND,
	           "targets of missing proxy");
	expect_err(rds_describe_db_proxy_targets, "{\"DBProxyName\":\"p1\",\"TargetGroupName\":\"x\"}",
	           ERR_RDS_DB_PROXY_TARGET_GROUP_NOT_FOUND, "targets of unknown group");
	is_int(rds_instance_set_status(S, ACCT, "us-east-1", "my1", "deleting", &E), 0, "my1 deleting");
	expect_err(rds_register_db_proxy_targets, "{\"DBProxyName\":\"m1\",\"DBInstanceIdentifiers\":[\"my1\"]}",
	           ERR_RDS_INVALID_DB_INSTANCE_STATE, "deleting instance");
	is_int(rds_instance_set_status(S, ACCT, "us-east-1", "my1", "available", &E), 0, "my1 available");
	json_decref(must(rds_register_db_proxy_targets, "{\"DBProxyName\":\"m1\",\"DBInstanceIdentifiers\":[\"my1\"]}",
	                 "mysql behind a MYSQL proxy"));
	out = must(rds_describe_db_proxy_targets, "{\"DBProxyName\":\"m1\"}", "mysql target");
	is_int(json_integer_value(json_object_get(json_array_get(json_object_get(out, "Targets"), 0), "Port")), 3306,
	       "mysql target port");
	json_decref(out);

	/* Health follows the instance's status and the proxy's credentials. */
	is_int(rds_instance_set_status(S, ACCT, "us-east-1", "db1", "rebooting", &E), 0, "db1 rebooting");
	out = must(rds_describe_db_proxy_targets, "{\"DBProxyName\":\"p1\"}", "targets while rebooting");
	t = json_array_get(json_object_get(out, "Targets"), 0);
	ok(strcmp(sget(t, "TargetHealth", "State"), "UNAVAILABLE") == 0 &&
	   strcmp(sget(t, "TargetHealth", "Reason"), "UNREACHABLE") == 0 &&
	   strstr(sget(t, "TargetHealth", "Description"), "rebooting") != NULL,
	   "UNAVAILABLE / UNREACHABLE naming the status");
	json_decref(out);
	is_int(rds_instance_set_status(S, ACCT, "us-east-1", "db1", "available", &E), 0, "db1 available again");
	json_decref(must(rds_modify_db_proxy, "{\"DBProxyName\":\"p1\",\"Auth\":[]}", "clear Auth"));
	out = must(rds_describe_db_proxy_targets, "{\"DBProxyName\":\"p1\"}", "targets without credentials");
	t = json_array_get(json_object_get(out, "Targets"), 0);
	ok(strcmp(sget(t, "TargetHealth", "State"), "UNAVAILABLE") == 0 &&
	   strcmp(sget(t, "TargetHealth", "Reason"), "AUTH_FAILURE") == 0 &&
	   strcmp(sget(t, "TargetHealth", "Description"), "Proxy does not have any registered credentials") == 0,
	   "AUTH_FAILURE without credentials");
	json_decref(out);
	json_decref(must(rds_modify_db_proxy, "{\"DBProxyName\":\"p1\",\"DefaultAuthScheme\":\"IAM_AUTH\"}", "IAM_AUTH"));
	out = must(rds_describe_db_proxy_targets, "{\"DBProxyName\":\"p1\"}", "targets with end-to-end IAM");
	is_str(sget(json_array_get(json_object_get(out, "Targets"), 0), "TargetHealth", "State"), "AVAILABLE",
	       "IAM_AUTH needs no secrets");
	json_decref(out);
	json_decref(must(rds_modify_db_proxy, "{\"DBProxyName\":\"p1\",\"DefaultAuthScheme\":\"NONE\"," AUTH "}",
	                 "restore Auth"));

	rds_set_target_health_hook(health_hook, NULL);
	out = must(rds_describe_db_proxy_targets, "{\"DBProxyName\":\"p1\"}", "targets with the hook");
	t = json_array_get(json_object_get(out, "Targets"), 0);
	is_str(sget(t, "TargetHealth", "Reason"), "CONNECTION_FAILED", "hook's health used");
	is_str(sget(t, "TargetHealth", "Description"), "hooked", "hook's description");
	json_decref(out);
	out = must(rds_describe_db_proxy_targets, "{\"DBProxyName\":\"m1\"}", "hook declines");
	is_str(sget(json_array_get(json_object_get(out, "Targets"), 0), "TargetHealth", "State"), "AVAILABLE",
	       "default health when the hook returns -1");
	json_decref(out);
	is_int(hook_calls, 2, "hook called once per instance target");
	rds_set_target_health_hook(NULL, NULL);

	expect_err(rds_deregister_db_proxy_targets, "{\"DBProxyName\":\"m1\",\"DBInstanceIdentifiers\":[\"db1\"]}",
	           ERR_RDS_DB_PROXY_TARGET_NOT_FOUND, "deregister what is not registered");
	expect_err(rds_deregister_db_proxy_targets, "{\"DBProxyName\":\"m1\",\"DBClusterIdentifiers\":[\"my1\"]}",
	           ERR_RDS_DB_PROXY_TARGET_NOT_FOUND, "instance named as a cluster");
	expect_err(rds_deregister_db_proxy_targets, "{\"DBProxyName\":\"nope\",\"DBInstanceIdentifiers\":[\"db1\"]}",
	           ERR_RDS_DB_PROXY_NOT_FOUND, "deregister with missing proxy");
	expect_err(rds_deregister_db_proxy_targets, "{\"DBProxyName\":\"m1\",\"TargetGroupName\":\"x\",\"DBInstanceIdentifiers\":[\"my1\"]}",
	           ERR_RDS_DB_PROXY_TARGET_GROUP_NOT_FOUND, "deregister from unknown group");
	out = must(rds_deregister_db_proxy_targets, "{\"DBProxyName\":\"m1\",\"DBInstanceIdentifiers\":[\"MY1\"]}",
	           "deregister instance");
	ok(json_is_object(out) && json_object_size(out) == 0, "empty result");
	json_decref(out);
	out = must(rds_describe_db_proxy_targets, "{\"DBProxyName\":\"m1\"}", "after deregister");
	is_int(json_array_size(json_object_get(out, "Targets")), 0, "no targets");
	json_decref(out);
}

#define CLUSTER_DOC(w1, r1)                                                                                    \
	"{\"DBClusterIdentifier\":\"cl1\",\"Engine\":\"aurora-postgresql\",\"Status\":\"available\","      \
	"\"DBClusterArn\":\"arn:aws:rds:us-east-1:" ACCT ":cluster:cl1\",\"Port\":5432,\"DBClusterMembers\":["   \
	"{\"DBInstanceIdentifier\":\"w1\",\"IsClusterWriter\":" w1 "},"                                       \
	"{\"DBInstanceIdentifier\":\"r1\",\"IsClusterWriter\":" r1 "}]}"

#define MEMBER(id, n)                                                                                          \
	"INSERT INTO rds_instances(account, region, id, created, doc, arn) VALUES ('" ACCT "', 'us-east-1', '" id   \
	"', 0, '{\"DBInstanceIdentifier\":\"" id "\",\"Engine\":\"aurora-postgresql\",\"DBInstanceStatus\":"     \
	"\"available\",\"DBClusterIdentifier\":\"cl1\",\"DBInstanceArn\":\"arn:aws:rds:us-east-1:" ACCT ":db:" id \
	"\",\"Endpoint\":{\"Address\":\"127.0.1." n "\",\"Port\":5432}}', 'arn:aws:rds:us-east-1:" ACCT ":db:" id "');"

static void test_cluster_targets(void)
{
	sql("INSERT INTO rds_clusters(account, region, id, arn, created, doc) VALUES ('" ACCT "', 'us-east-1', 'cl1', "
	    "'arn:aws:rds:us-east-1:" ACCT ":cluster:cl1', 0, '" CLUSTER_DOC("true", "false") "');" MEMBER("w1", "1")
	        MEMBER("r1", "2"));
	json_decref(must(rds_create_db_proxy, "{\"DBProxyName\":\"c1\"," PGPROXY "}", "proxy for the cluster"));
	expect_err(rds_register_db_proxy_targets, "{\"DBProxyName\":\"c1\",\"DBClusterIdentifiers\":[\"nope\"]}",
	           ERR_RDS_DB_CLUSTER_NOT_FOUND, "missing cluster");
	expect_err(rds_register_db_proxy_targets, "{\"DBProxyName\":\"c1\",\"DBInstanceIdentifiers\":[\"w1\"]}",
	           ERR_INVALID_PARAMETER_COMBINATION, "cluster member as an instance");
	expect_err(rds_register_db_proxy_targets, "{\"DBProxyName\":\"m1\",\"DBClusterIdentifiers\":[\"cl1\"]}",
	           ERR_INVALID_PARAMETER_COMBINATION, "aurora-postgresql behind a MYSQL proxy");
	sql("UPDATE rds_clusters SET doc = json_set(doc, '$.Status', 'modifying') WHERE id = 'cl1'");
	expect_err(rds_register_db_proxy_targets, "{\"DBProxyName\":\"c1\",\"DBClusterIdentifiers\":[\"cl1\"]}",
	           ERR_RDS_INVALID_DB_CLUSTER_STATE, "cluster not available");
	sql("UPDATE rds_clusters SET doc = json_set(doc, '$.Status', 'available') WHERE id = 'cl1'");
	json_t *out = must(rds_register_db_proxy_targets, "{\"DBProxyName\":\"c1\",\"DBClusterIdentifiers\":[\"CL1\"]}",
	                   "register cluster");
	json_t *list = json_object_get(out, "DBProxyTargets");
	is_int(json_array_size(list), 3, "tracked cluster + 2 members");
	json_t *tc = json_array_get(list, 0);
	ok(strcmp(sget(tc, "Type", NULL), "TRACKED_CLUSTER") == 0 && json_integer_value(json_object_get(tc, "Port")) == 0 &&
	   !json_object_get(tc, "Endpoint") && strcmp(sget(tc, "RdsResourceId", NULL), "cl1") == 0 &&
	   strcmp(sget(tc, "TargetArn", NULL), "arn:aws:rds:us-east-1:" ACCT ":cluster:cl1") == 0,
	   "TRACKED_CLUSTER target");
	json_decref(out);
	out = must(rds_describe_db_proxy_targets, "{\"DBProxyName\":\"c1\"}", "describe cluster targets");
	list = json_object_get(out, "Targets");
	is_str(role_of(list, "w1"), "READ_WRITE", "writer READ_WRITE");
	is_str(role_of(list, "r1"), "READ_ONLY", "reader READ_ONLY");
	json_t *r1 = find_target(list, "r1");
	ok(r1 && strcmp(sget(r1, "TrackedClusterId", NULL), "cl1") == 0 &&
	   strcmp(sget(r1, "Endpoint", NULL), "127.0.1.2") == 0 &&
	   strcmp(sget(r1, "TargetHealth", "State"), "AVAILABLE") == 0, "member target fields");
	json_decref(out);

	/* Failover: roles follow the cluster's members. */
	sql("UPDATE rds_clusters SET doc = '" CLUSTER_DOC("false", "true") "' WHERE id = 'cl1'");
	out = must(rds_describe_db_proxy_targets, "{\"DBProxyName\":\"c1\"}", "after failover");
	list = json_object_get(out, "Targets");
	is_str(role_of(list, "w1"), "READ_ONLY", "old writer READ_ONLY");
	is_str(role_of(list, "r1"), "READ_WRITE", "new writer READ_WRITE");
	json_decref(out);

	/* Membership is tracked: a member added after registration is a target. */
	sql(MEMBER("r2", "3") "UPDATE rds_clusters SET doc = json_insert(doc, '$.DBClusterMembers[#]', "
	    "json('{\"DBInstanceIdentifier\":\"r2\",\"IsClusterWriter\":false}')) WHERE id = 'cl1'");
	out = must(rds_describe_db_proxy_targets, "{\"DBProxyName\":\"c1\"}", "after a member joined");
	list = json_object_get(out, "Targets");
	is_int(json_array_size(list), 4, "tracked cluster + 3 members");
	is_str(role_of(list, "r2"), "READ_ONLY", "the new reader is a READ_ONLY target");
	json_decref(out);
	sql("UPDATE rds_clusters SET doc = json_remove(doc, '$.DBClusterMembers[2]') WHERE id = 'cl1'");

	out = must(rds_create_db_proxy_endpoint,
	           "{\"DBProxyName\":\"c1\",\"DBProxyEndpointName\":\"ro\",\"TargetRole\":\"READ_ONLY\"," SUBNETS "}",
	           "READ_ONLY endpoint on an Aurora cluster with a reader");
	is_str(sget(json_object_get(out, "DBProxyEndpoint"), "TargetRole", NULL), "READ_ONLY", "TargetRole");
	json_decref(out);
	expect_err(rds_create_db_proxy_endpoint,
	           "{\"DBProxyName\":\"p1\",\"DBProxyEndpointName\":\"ro2\",\"TargetRole\":\"READ_ONLY\"," SUBNETS "}",
	           ERR_INVALID_PARAMETER_COMBINATION, "READ_ONLY on an instance proxy");
	expect_err(rds_create_db_proxy_endpoint,
	           "{\"DBProxyName\":\"s1\",\"DBProxyEndpointName\":\"ro2\",\"TargetRole\":\"READ_ONLY\"," SUBNETS "}",
	           ERR_INVALID_PARAMETER_COMBINATION, "READ_ONLY on SQL Server");
	expect_err(rds_create_db_proxy_endpoint,
	           "{\"DBProxyName\":\"c1\",\"DBProxyEndpointName\":\"ro2\",\"TargetRole\":\"WRITE_ONLY\"," SUBNETS "}",
	           ERR_INVALID_PARAMETER_VALUE, "bad TargetRole");

	expect_err(rds_deregister_db_proxy_targets, "{\"DBProxyName\":\"c1\",\"DBInstanceIdentifiers\":[\"r1\"]}",
	           ERR_RDS_DB_PROXY_TARGET_NOT_FOUND, "a tracked member is not an instance target");
	json_decref(must(rds_deregister_db_proxy_targets, "{\"DBProxyName\":\"c1\",\"DBClusterIdentifiers\":[\"cl1\"]}",
	                 "deregister cluster"));
	is_int(q("SELECT count(*) FROM rds_proxy_targets t JOIN rds_proxies p USING(proxy_id) WHERE p.name = 'c1'"), 0,
	       "cluster and member targets gone");
	expect_err(rds_deregister_db_proxy_targets, "{\"DBProxyName\":\"c1\",\"DBClusterIdentifiers\":[\"cl1\"]}",
	           ERR_RDS_DB_PROXY_TARGET_NOT_FOUND, "deregister cluster twice");
}

static void test_endpoints(void)
{
	json_t *out = must(rds_create_db_proxy_endpoint,
	                   "{\"DBProxyName\":\"p1\",\"DBProxyEndpointName\":\"Ep1\"," SUBNETS ","
	                   "\"Tags\":[{\"Key\":\"team\",\"Value\":\"a\"}]}",
	                   "create endpoint");
	json_t *e = json_object_get(out, "DBProxyEndpoint");
	const char *arn = sget(e, "DBProxyEndpointArn", NULL);
#define EP_PREFIX "arn:aws:rds:us-east-1:" ACCT ":db-proxy-endpoint:prx-endpoint-"
	ok(arn && strncmp(arn, EP_PREFIX, strlen(EP_PREFIX)) == 0 && all_hex(arn + strlen(EP_PREFIX), 17), "endpoint ARN %s",
	   arn ? arn : "");
	is_str(sget(e, "DBProxyEndpointName", NULL), "Ep1", "endpoint name kept");
	is_str(sget(e, "DBProxyName", NULL), "P1", "endpoint's proxy");
	is_str(sget(e, "Status", NULL), "available", "endpoint available");
	is_str(sget(e, "TargetRole", NULL), "READ_WRITE", "TargetRole default");
	ok(json_is_false(json_object_get(e, "IsDefault")) && !json_object_get(e, "TagList"), "not default, no TagList");
	ok(json_array_size(json_object_get(e, "VpcSecurityGroupIds")) == 1, "proxy's security groups by default");
	char addr[64];
	snprintf(addr, sizeof addr, "%s", sget(e, "Endpoint", NULL) ? sget(e, "Endpoint", NULL) : "");
	ok(strncmp(addr, "127.0.0.", 8) == 0 && strcmp(addr, "127.0.0.2") != 0, "endpoint address %s", addr);
	is_int(q("SELECT count(DISTINCT addr) = count(*) FROM rds_endpoints"), 1, "every endpoint has its own address");
	is_int(q("SELECT count(*) FROM rds_endpoints WHERE kind = 'proxy-endpoint' AND port = 5432 AND dns LIKE "
	         "'Ep1.endpoint.proxy-____________.us-east-1.rds.amazonaws.com'"),
	       1, "endpoint DNS name and port");
	char ep_arn[256];
	snprintf(ep_arn, sizeof ep_arn, "%s", arn ? arn : "");
	json_decref(out);

	expect_err(rds_create_db_proxy_endpoint, "{\"DBProxyName\":\"m1\",\"DBProxyEndpointName\":\"EP1\"," SUBNETS "}",
	           ERR_RDS_DB_PROXY_ENDPOINT_EXISTS, "endpoint names unique in the region");
	expect_err(rds_create_db_proxy_endpoint, "{\"DBProxyName\":\"p1\",\"DBProxyEndpointName\":\"default\"," SUBNETS "}",
	           ERR_INVALID_PARAMETER_VALUE, "name default reserved");
	expect_err(rds_create_db_proxy_endpoint, "{\"DBProxyName\":\"p1\",\"DBProxyEndpointName\":\"e-\"," SUBNETS "}",
	           ERR_INVALID_PARAMETER_VALUE, "bad endpoint name");
	expect_err(rds_create_db_proxy_endpoint, "{\"DBProxyName\":\"nope\",\"DBProxyEndpointName\":\"e2\"," SUBNETS "}",
	           ERR_RDS_DB_PROXY_NOT_FOUND, "endpoint of a missing proxy");
	expect_err(rds_create_db_proxy_endpoint, "{\"DBProxyName\":\"p1\",\"DBProxyEndpointName\":\"e2\",\"VpcSubnetIds\":[]}",
	           ERR_RDS_INVALID_SUBNET, "endpoint without subnets");

	/* 20 custom endpoints per proxy; 25 in the region for paging. */
	char body[256];
	int made = 0;
	for (int i = 2; i <= 20; i++) {
		snprintf(body, sizeof body, "{\"DBProxyName\":\"p1\",\"DBProxyEndpointName\":\"e%02d\"," SUBNETS "}", i);
		made += call(rds_create_db_proxy_endpoint, body, NULL) == 0;
	}
	is_int(made, 19, "19 more endpoints");
	expect_err(rds_create_db_proxy_endpoint, "{\"DBProxyName\":\"p1\",\"DBProxyEndpointName\":\"e21\"," SUBNETS "}",
	           ERR_RDS_DB_PROXY_ENDPOINT_QUOTA, "21st custom endpoint");
	for (int i = 0; i < 4; i++) {
		snprintf(body, sizeof body, "{\"DBProxyName\":\"m1\",\"DBProxyEndpointName\":\"m%02d\"," SUBNETS "}", i);
		made += call(rds_create_db_proxy_endpoint, body, NULL) == 0;
	}
	is_int(made, 23, "4 endpoints on m1");
	is_int(q("SELECT count(DISTINCT addr) FROM rds_endpoints"), q("SELECT count(*) FROM rds_endpoints"),
	       "addresses distinct");
	is_int(q("SELECT count(*) FROM rds_endpoints WHERE kind = 'proxy-endpoint' AND port = 3306"), 4,
	       "MySQL endpoints on 3306");

	out = must(rds_describe_db_proxy_endpoints, "{\"DBProxyName\":\"p1\"}", "endpoints of p1");
	json_t *list = json_object_get(out, "DBProxyEndpoints");
	ok(json_array_size(list) == 20 && strcmp(sget(json_array_get(list, 0), "DBProxyEndpointName", NULL), "e02") == 0 &&
	   !json_object_get(json_array_get(list, 0), "TagList"), "20 custom endpoints, default not listed");
	json_decref(out);
	out = must(rds_describe_db_proxy_endpoints, "{\"MaxRecords\":20}", "page 1");
	ok(json_array_size(json_object_get(out, "DBProxyEndpoints")) == 20 && sget(out, "Marker", NULL), "20 and a marker");
	char next[300];
	snprintf(next, sizeof next, "{\"MaxRecords\":20,\"Marker\":\"%s\"}", sget(out, "Marker", NULL) ? sget(out, "Marker", NULL) : "");
	json_decref(out);
	out = must(rds_describe_db_proxy_endpoints, next, "page 2");
	ok(json_array_size(json_object_get(out, "DBProxyEndpoints")) == 5 && !sget(out, "Marker", NULL), "5 more, no marker");
	json_decref(out);
	expect_err(rds_describe_db_proxy_endpoints, "{\"Marker\":\"999\"}", ERR_INVALID_PARAMETER_VALUE, "marker past the end");

	out = must(rds_describe_db_proxy_endpoints, "{\"DBProxyEndpointName\":\"ep1\"}", "endpoint by name");
	is_str(sget(json_array_get(json_object_get(out, "DBProxyEndpoints"), 0), "DBProxyEndpointArn", NULL), ep_arn,
	       "found case-insensitively");
	json_decref(out);
	out = must(rds_describe_db_proxy_endpoints, "{\"DBProxyName\":\"p1\",\"DBProxyEndpointName\":\"default\"}",
	           "default endpoint by name");
	e = json_array_get(json_object_get(out, "DBProxyEndpoints"), 0);
	ok(json_is_true(json_object_get(e, "IsDefault")) && strcmp(sget(e, "Endpoint", NULL), "127.0.0.2") == 0 &&
	   strcmp(sget(e, "TargetRole", NULL), "READ_WRITE") == 0 && strcmp(sget(e, "DBProxyName", NULL), "P1") == 0,
	   "default endpoint is the proxy's");
	json_decref(out);
	out = must(rds_describe_db_proxy_endpoints, "{\"DBProxyEndpointName\":\"default\"}", "every default endpoint");
	is_int(json_array_size(json_object_get(out, "DBProxyEndpoints")), 5, "one per proxy");
	json_decref(out);
	expect_err(rds_describe_db_proxy_endpoints, "{\"DBProxyEndpointName\":\"nope\"}", ERR_RDS_DB_PROXY_ENDPOINT_NOT_FOUND,
	           "missing endpoint");
	expect_err(rds_describe_db_proxy_endpoints, "{\"DBProxyName\":\"m1\",\"DBProxyEndpointName\":\"ep1\"}",
	           ERR_RDS_DB_PROXY_ENDPOINT_NOT_FOUND, "endpoint of another proxy");
	expect_err(rds_describe_db_proxy_endpoints, "{\"DBProxyName\":\"nope\"}", ERR_RDS_DB_PROXY_NOT_FOUND,
	           "endpoints of a missing proxy");

	out = must(rds_modify_db_proxy_endpoint,
	           "{\"DBProxyEndpointName\":\"ep1\",\"NewDBProxyEndpointName\":\"ep-one\",\"VpcSecurityGroupIds\":[\"sg-1\",\"sg-2\"]}",
	           "rename endpoint");
	e = json_object_get(out, "DBProxyEndpoint");
	ok(strcmp(sget(e, "DBProxyEndpointName", NULL), "ep-one") == 0 && strcmp(sget(e, "Endpoint", NULL), addr) == 0 &&
	   json_array_size(json_object_get(e, "VpcSecurityGroupIds")) == 2 && !json_object_get(e, "TagList"),
	   "renamed, security groups replaced");
	json_decref(out);
	is_int(q("SELECT count(*) FROM rds_endpoints WHERE dns LIKE 'ep-one.endpoint.proxy-%'"), 1, "DNS name follows");
	is_int(q("SELECT count(*) FROM rds_proxy_endpoints WHERE name = 'ep-one'"), 1, "row renamed");
	expect_err(rds_modify_db_proxy_endpoint, "{\"DBProxyEndpointName\":\"ep-one\",\"NewDBProxyEndpointName\":\"E02\"}",
	           ERR_RDS_DB_PROXY_ENDPOINT_EXISTS, "rename onto another endpoint");
	expect_err(rds_modify_db_proxy_endpoint, "{\"DBProxyEndpointName\":\"ep-one\",\"NewDBProxyEndpointName\":\"default\"}",
	           ERR_INVALID_PARAMETER_VALUE, "rename to default");
	expect_err(rds_modify_db_proxy_endpoint, "{\"DBProxyEndpointName\":\"default\"}", ERR_RDS_INVALID_DB_PROXY_ENDPOINT_STATE,
	           "modify the default endpoint");
	expect_err(rds_modify_db_proxy_endpoint, "{\"DBProxyEndpointName\":\"ep1\"}", ERR_RDS_DB_PROXY_ENDPOINT_NOT_FOUND,
	           "old name gone");
	json_decref(must(rds_modify_db_proxy_endpoint, "{\"DBProxyEndpointName\":\"ep-one\",\"NewDBProxyEndpointName\":\"EP-ONE\"}",
	                 "rename changing only case"));

	/* Tags by ARN for all three kinds. */
	char tagreq[512];
	snprintf(tagreq, sizeof tagreq, "{\"ResourceName\":\"%s\"}", ep_arn);
	out = must(rds_list_tags_for_resource, tagreq, "endpoint tags");
	is_str(sget(json_array_get(json_object_get(out, "TagList"), 0), "Key", NULL), "team", "endpoint tag from create");
	json_decref(out);
	snprintf(tagreq, sizeof tagreq, "{\"ResourceName\":\"%s\",\"Tags\":[{\"Key\":\"k\",\"Value\":\"v\"}]}", ep_arn);
	is_int(call(rds_add_tags_to_resource, tagreq, NULL), 0, "tag endpoint");
	snprintf(tagreq, sizeof tagreq, "{\"ResourceName\":\"%s\",\"TagKeys\":[\"team\"]}", ep_arn);
	is_int(call(rds_remove_tags_from_resource, tagreq, NULL), 0, "untag endpoint");
	snprintf(tagreq, sizeof tagreq, "{\"ResourceName\":\"%s\"}", ep_arn);
	out = must(rds_list_tags_for_resource, tagreq, "endpoint tags again");
	ok(json_array_size(json_object_get(out, "TagList")) == 1 &&
	   strcmp(sget(json_array_get(json_object_get(out, "TagList"), 0), "Key", NULL), "k") == 0, "one tag k");
	json_decref(out);

	expect_err(rds_delete_db_proxy_endpoint, "{\"DBProxyEndpointName\":\"default\"}", ERR_RDS_INVALID_DB_PROXY_ENDPOINT_STATE,
	           "delete the default endpoint");
	expect_err(rds_delete_db_proxy_endpoint, "{\"DBProxyEndpointName\":\"nope\"}", ERR_RDS_DB_PROXY_ENDPOINT_NOT_FOUND,
	           "delete missing endpoint");
	long long before = q("SELECT count(*) FROM rds_endpoints");
	out = must(rds_delete_db_proxy_endpoint, "{\"DBProxyEndpointName\":\"ep-one\"}", "delete endpoint");
	is_str(sget(json_object_get(out, "DBProxyEndpoint"), "Status", NULL), "deleting", "status deleting");
	json_decref(out);
	is_int(q("SELECT count(*) FROM rds_endpoints"), before - 1, "address freed");
	expect_err(rds_list_tags_for_resource, tagreq, ERR_RDS_DB_PROXY_ENDPOINT_NOT_FOUND, "tags of a deleted endpoint");
	out = must(rds_create_db_proxy_endpoint, "{\"DBProxyName\":\"p1\",\"DBProxyEndpointName\":\"e21\"," SUBNETS "}",
	           "a slot is free again");
	json_decref(out);
}

static void test_modify_delete(void)
{
	char arn[256], id[64];
	rds_proxy_arn(S, ACCT, "us-east-1", "p1", arn);
	snprintf(id, sizeof id, "%s", strrchr(arn, ':') + 1);
	char addr[64];
	int port;
	json_t *out = must(rds_modify_db_proxy,
	                   "{\"DBProxyName\":\"p1\",\"NewDBProxyName\":\"p1-renamed\",\"IdleClientTimeout\":60,"
	                   "\"RequireTLS\":true,\"DebugLogging\":true,\"SecurityGroups\":[\"sg-9\"],"
	                   "\"RoleArn\":\"arn:aws:iam::123456789012:role/Other\"}",
	                   "rename and modify proxy");
	json_t *p = json_object_get(out, "DBProxy");
	ok(strcmp(sget(p, "DBProxyName", NULL), "p1-renamed") == 0 && strcmp(sget(p, "DBProxyArn", NULL), arn) == 0 &&
	   json_integer_value(json_object_get(p, "IdleClientTimeout")) == 60 && json_is_true(json_object_get(p, "RequireTLS")) &&
	   json_is_true(json_object_get(p, "DebugLogging")) &&
	   strcmp(json_string_value(json_array_get(json_object_get(p, "VpcSecurityGroupIds"), 0)), "sg-9") == 0 &&
	   strcmp(sget(p, "RoleArn", NULL), "arn:aws:iam::123456789012:role/Other") == 0 && !json_object_get(p, "TagList"),
	   "modified fields, ARN kept");
	is_str(sget(p, "Endpoint", NULL), "127.0.0.2", "address kept across rename");
	ok(json_array_size(json_object_get(p, "Auth")) == 1, "Auth kept when not given");
	json_decref(out);
	ok(rds_endpoint_listen(S, RDS_EP_KIND_PROXY, ACCT, "us-east-1", id, addr, &port) == 1 && strcmp(addr, "127.0.0.2") == 0,
	   "listen address kept");
	is_int(q("SELECT count(*) FROM rds_endpoints WHERE kind = 'proxy' AND dns LIKE 'p1-renamed.proxy-%.us-east-1.rds.amazonaws.com'"),
	       1, "DNS name follows the rename");
	is_int(q("SELECT count(*) FROM rds_proxy_target_groups WHERE json_extract(doc, '$.DBProxyName') = 'p1-renamed'"), 1,
	       "target group's proxy name");
	is_int(q("SELECT count(*) FROM rds_proxy_endpoints WHERE json_extract(doc, '$.DBProxyName') = 'p1-renamed'"), 20,
	       "endpoints' proxy name");
	expect_err(rds_describe_db_proxies, "{\"DBProxyName\":\"p1\"}", ERR_RDS_DB_PROXY_NOT_FOUND, "old name gone");
	expect_err(rds_modify_db_proxy, "{\"DBProxyName\":\"p1-renamed\",\"NewDBProxyName\":\"M1\"}", ERR_RDS_DB_PROXY_EXISTS,
	           "rename onto another proxy");
	expect_err(rds_modify_db_proxy, "{\"DBProxyName\":\"p1-renamed\",\"NewDBProxyName\":\"x--y\"}",
	           ERR_INVALID_PARAMETER_VALUE, "rename to a bad name");
	expect_err(rds_modify_db_proxy, "{\"DBProxyName\":\"p1-renamed\",\"IdleClientTimeout\":28801}",
	           ERR_INVALID_PARAMETER_VALUE, "IdleClientTimeout range on modify");
	expect_err(rds_modify_db_proxy, "{\"DBProxyName\":\"p1-renamed\",\"DefaultAuthScheme\":\"X\"}",
	           ERR_INVALID_PARAMETER_VALUE, "DefaultAuthScheme on modify");
	expect_err(rds_modify_db_proxy, "{\"DBProxyName\":\"p1-renamed\",\"Auth\":[{\"SecretArn\":\"arn:x:y:z:1:a:bcdefghijk\","
	                                "\"ClientPasswordAuthType\":\"SQL_SERVER_AUTHENTICATION\"}]}",
	           ERR_INVALID_PARAMETER_COMBINATION, "SQL Server auth on a PostgreSQL proxy");
	expect_err(rds_modify_db_proxy, "{\"DBProxyName\":\"nope\"}", ERR_RDS_DB_PROXY_NOT_FOUND, "modify missing proxy");
	json_decref(must(rds_modify_db_proxy, "{\"DBProxyName\":\"p1-renamed\",\"NewDBProxyName\":\"P1-Renamed\"}",
	                 "rename changing only case"));

	/* Tags on proxy and target group, by ARN. */
	char req[512];
	snprintf(req, sizeof req, "{\"ResourceName\":\"%s\"}", arn);
	out = must(rds_list_tags_for_resource, req, "proxy tags");
	ok(json_array_size(json_object_get(out, "TagList")) == 1 &&
	   strcmp(sget(json_array_get(json_object_get(out, "TagList"), 0), "Value", NULL), "dev") == 0, "Tags of create kept");
	json_decref(out);
	out = must(rds_describe_db_proxy_target_groups, "{\"DBProxyName\":\"p1-renamed\"}", "target group after rename");
	json_t *tg = json_array_get(json_object_get(out, "TargetGroups"), 0);
	is_str(sget(tg, "DBProxyName", NULL), "P1-Renamed", "group shows the new name");
	snprintf(req, sizeof req, "{\"ResourceName\":\"%s\",\"Tags\":[{\"Key\":\"tg\",\"Value\":\"1\"}]}",
	         sget(tg, "TargetGroupArn", NULL));
	json_decref(out);
	is_int(call(rds_add_tags_to_resource, req, NULL), 0, "tag target group");
	is_int(q("SELECT count(*) FROM rds_proxy_target_groups WHERE json_extract(doc, '$.TagList[0].Key') = 'tg'"), 1,
	       "group's tag stored");
	out = must(rds_describe_db_proxy_target_groups, "{\"DBProxyName\":\"p1-renamed\"}", "group hides tags");
	ok(!json_object_get(json_array_get(json_object_get(out, "TargetGroups"), 0), "TagList"), "no TagList");
	json_decref(out);

	/* Delete takes the group, targets, endpoints and addresses along. */
	long long eps = q("SELECT count(*) FROM rds_endpoints");
	int before = changes;
	out = must(rds_delete_db_proxy, "{\"DBProxyName\":\"p1-renamed\"}", "delete proxy");
	is_str(sget(json_object_get(out, "DBProxy"), "Status", NULL), "deleting", "status deleting");
	json_decref(out);
	is_int(changes, before + 1, "rds_changed called");
	char check[512];
	snprintf(check, sizeof check, "SELECT (SELECT count(*) FROM rds_proxy_target_groups WHERE proxy_id = '%s') + "
	         "(SELECT count(*) FROM rds_proxy_targets WHERE proxy_id = '%s') + "
	         "(SELECT count(*) FROM rds_proxy_endpoints WHERE proxy_id = '%s')", id, id, id);
	is_int(q(check), 0, "children deleted");
	is_int(q("SELECT count(*) FROM rds_endpoints"), eps - 21, "21 addresses freed");
	ok(rds_endpoint_listen(S, RDS_EP_KIND_PROXY, ACCT, "us-east-1", id, addr, &port) == 0, "proxy address freed");
	expect_err(rds_delete_db_proxy, "{\"DBProxyName\":\"p1-renamed\"}", ERR_RDS_DB_PROXY_NOT_FOUND, "delete twice");
	snprintf(req, sizeof req, "{\"ResourceName\":\"%s\"}", arn);
	expect_err(rds_list_tags_for_resource, req, ERR_RDS_DB_PROXY_NOT_FOUND, "tags of a deleted proxy");
	out = must(rds_create_db_proxy, "{\"DBProxyName\":\"p1\"," PGPROXY "}", "name free again");
	is_str(sget(json_object_get(out, "DBProxy"), "Endpoint", NULL), "127.0.0.2", "lowest address reused");
	json_decref(out);
}

int main(void)
{
	if (store_open(&S, NULL, &E) < 0)
		return 1;
	C = (struct emu_call){.store = S, .account = ACCT, .region = "us-east-1", .principal_arn = "arn:aws:iam::" ACCT ":root",
	                      .request_id = "req", .now = 1700000000.0};
	rds_endpoint_configure(NULL);
	rds_set_change_hook(on_change, NULL);

	static const char *const ops[] = {"CreateDBProxy", "CreateDBProxyEndpoint", "DeleteDBProxy", "DeleteDBProxyEndpoint",
	                                  "DeregisterDBProxyTargets", "DescribeDBProxies", "DescribeDBProxyEndpoints",
	                                  "DescribeDBProxyTargetGroups", "DescribeDBProxyTargets", "ModifyDBProxy",
	                                  "ModifyDBProxyEndpoint", "ModifyDBProxyTargetGroup", "RegisterDBProxyTargets"};
	for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
		const struct api_op *op = rds_op_find(ops[i], strlen(ops[i]));
		ok(op && strncmp(op->iam_action, "rds:", 4) == 0 && strcmp(op->iam_action + 4, ops[i]) == 0 &&
		   op->write == (strncmp(ops[i], "Describe", 8) != 0), "op table: %s", ops[i]);
	}
	for (size_t i = 1; i < rds_ops_count; i++)
		ok(strcmp(rds_ops[i - 1].name, rds_ops[i].name) < 0, "ops sorted at %zu", i);

	test_proxies();
	ok(changes == 4, "one change per successful create (%d)", changes);
	test_quota();
	test_target_groups();
	test_instance_targets();
	test_cluster_targets();
	test_endpoints();
	test_modify_delete();
	store_close(S);
	return done_testing();
}
