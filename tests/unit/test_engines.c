/* Unit tests for emu/engines.c: the default (AWS today) and strict matrices. */
#include "emu/engines.h"
#include "tests/unit/tap.h"

#include <stdlib.h>

int main(void)
{
	const struct engine_info *e = engines_find("postgres");
	ok(e && e->family == ENGINE_FAMILY_POSTGRESQL && e->port == 5432 && e->iam_auth && e->proxy, "postgres");
	ok(e && e->server == ENGINE_SERVER_POSTGRES, "postgres backed by postgres");
	e = engines_find("aurora-mysql");
	ok(e && e->family == ENGINE_FAMILY_MYSQL && e->port == 3306 && e->aurora, "aurora-mysql");
	e = engines_find("mariadb");
	ok(e && e->iam_auth && e->proxy && e->server == ENGINE_SERVER_MARIADB, "mariadb allows IAM and proxy today");
	e = engines_find("sqlserver-ex");
	ok(e && e->family == ENGINE_FAMILY_SQLSERVER && e->port == 1433 && !e->multi_az, "sqlserver-ex no Multi-AZ");
	e = engines_find("oracle-ee");
	ok(e && e->family == ENGINE_FAMILY_NONE && !e->proxy && !e->iam_auth, "oracle: neither IAM nor proxy");
	e = engines_find("sqlserver-ee");
	ok(e && !e->iam_auth && e->proxy, "sqlserver: proxy yes, IAM database auth no");
	e = engines_find("custom-oracle-ee");
	ok(e && !e->iam_auth && !e->proxy, "RDS Custom: neither");
	ok(engines_find("Postgres") == NULL && engines_find("nosuch") == NULL && engines_find(NULL) == NULL,
	   "unknown and wrong case refused");
	is_str(engines_family_name(ENGINE_FAMILY_SQLSERVER), "SQLSERVER", "family name");
	ok(engines_family_name(ENGINE_FAMILY_NONE) == NULL, "no family");

	engines_set_strict(true);
	ok(engines_strict(), "strict on");
	e = engines_find("mariadb");
	ok(e && !e->iam_auth && !e->proxy, "strict: mariadb neither");
	e = engines_find("sqlserver-se");
	ok(e && !e->iam_auth && !e->proxy, "strict: sqlserver neither");
	e = engines_find("oracle-se2");
	ok(e && !e->iam_auth && !e->proxy, "strict: oracle neither");
	e = engines_find("mysql");
	ok(e && e->iam_auth && e->proxy, "strict: mysql still both");
	engines_set_strict(false);

	setenv("RDSEMU_ENGINE_MATRIX", "strict", 1);
	is_int(engines_init_from_env(), 0, "env strict");
	ok(engines_strict(), "env switched to strict");
	setenv("RDSEMU_ENGINE_MATRIX", "bogus", 1);
	is_int(engines_init_from_env(), -1, "env bogus refused");
	unsetenv("RDSEMU_ENGINE_MATRIX");
	is_int(engines_init_from_env(), 0, "env unset");
	ok(!engines_strict(), "default matrix");
	ok(strstr(engines_list(), "postgres, aurora-postgresql") != NULL, "engine list");
	return done_testing();
}
