/*
 * engines.c owns the RDS engine matrix (two static tables and the switch
 * between them).  May call: libc only.  Invariants: both tables list the
 * same engines in the same order and differ only in what is allowed; the
 * switch is process-wide and read on the loop thread.
 */
#include "emu/engines.h"

#include <stdlib.h>
#include <string.h>

#define PG ENGINE_FAMILY_POSTGRESQL
#define MY ENGINE_FAMILY_MYSQL
#define SS ENGINE_FAMILY_SQLSERVER
#define NOFAM ENGINE_FAMILY_NONE
#define SPG ENGINE_SERVER_POSTGRES
#define SMA ENGINE_SERVER_MARIADB
#define SNO ENGINE_SERVER_NONE

/* AWS today: IAM database authentication for MariaDB, MySQL, PostgreSQL and
 * Aurora only (not Db2, Oracle, SQL Server, RDS Custom: RDS user guide,
 * "Supported Regions and DB engines for IAM database authentication");
 * RDS Proxy for the MYSQL, POSTGRESQL and SQLSERVER families (section 3.1).
 * name, family, port, iam, proxy, multi_az, aurora, server, version */
static const struct engine_info engines_aws[] = {
	{"postgres", PG, 5432, true, true, true, false, SPG, "16.3"},
	{"aurora-postgresql", PG, 5432, true, true, true, true, SPG, "16.2"},
	{"mysql", MY, 3306, true, true, true, false, SMA, "8.0.39"},
	{"aurora-mysql", MY, 3306, true, true, true, true, SMA, "8.0.mysql_aurora.3.07.1"},
	{"mariadb", MY, 3306, true, true, true, false, SMA, "10.11.9"},
	{"sqlserver-ee", SS, 1433, false, true, true, false, SNO, "16.00.4135.4.v1"},
	{"sqlserver-se", SS, 1433, false, true, true, false, SNO, "16.00.4135.4.v1"},
	{"sqlserver-ex", SS, 1433, false, true, false, false, SNO, "16.00.4135.4.v1"},
	{"sqlserver-web", SS, 1433, false, true, false, false, SNO, "16.00.4135.4.v1"},
	{"oracle-ee", NOFAM, 1521, false, false, true, false, SNO, "19.0.0.0.ru-2024-07.rur-2024-07.r1"},
	{"oracle-ee-cdb", NOFAM, 1521, false, false, true, false, SNO, "19.0.0.0.ru-2024-07.rur-2024-07.r1"},
	{"oracle-se2", NOFAM, 1521, false, false, true, false, SNO, "19.0.0.0.ru-2024-07.rur-2024-07.r1"},
	{"oracle-se2-cdb", NOFAM, 1521, false, false, true, false, SNO, "19.0.0.0.ru-2024-07.rur-2024-07.r1"},
	{"custom-oracle-ee", NOFAM, 1521, false, false, false, false, SNO, "19.my_cev1"},
	{"custom-oracle-ee-cdb", NOFAM, 1521, false, false, false, false, SNO, "19.my_cev1"},
	{"custom-sqlserver-ee", SS, 1433, false, false, true, false, SNO, "15.00.4073.23.v1"},
	{"custom-sqlserver-se", SS, 1433, false, false, true, false, SNO, "15.00.4073.23.v1"},
	{"custom-sqlserver-web", SS, 1433, false, false, false, false, SNO, "15.00.4073.23.v1"},
	{"db2-se", NOFAM, 50000, false, false, true, false, SNO, "11.5.9.0.sb00000000.r1"},
	{"db2-ae", NOFAM, 50000, false, false, true, false, SNO, "11.5.9.0.sb00000000.r1"},
};

/* The original pattern design: IAM auth and proxy only for PostgreSQL and MySQL (RDS and Aurora). */
static const struct engine_info engines_strict_tab[] = {
	{"postgres", PG, 5432, true, true, true, false, SPG, "16.3"},
	{"aurora-postgresql", PG, 5432, true, true, true, true, SPG, "16.2"},
	{"mysql", MY, 3306, true, true, true, false, SMA, "8.0.39"},
	{"aurora-mysql", MY, 3306, true, true, true, true, SMA, "8.0.mysql_aurora.3.07.1"},
	{"mariadb", MY, 3306, false, false, true, false, SMA, "10.11.9"},
	{"sqlserver-ee", SS, 1433, false, false, true, false, SNO, "16.00.4135.4.v1"},
	{"sqlserver-se", SS, 1433, false, false, true, false, SNO, "16.00.4135.4.v1"},
	{"sqlserver-ex", SS, 1433, false, false, false, false, SNO, "16.00.4135.4.v1"},
	{"sqlserver-web", SS, 1433, false, false, false, false, SNO, "16.00.4135.4.v1"},
	{"oracle-ee", NOFAM, 1521, false, false, true, false, SNO, "19.0.0.0.ru-2024-07.rur-2024-07.r1"},
	{"oracle-ee-cdb", NOFAM, 1521, false, false, true, false, SNO, "19.0.0.0.ru-2024-07.rur-2024-07.r1"},
	{"oracle-se2", NOFAM, 1521, false, false, true, false, SNO, "19.0.0.0.ru-2024-07.rur-2024-07.r1"},
	{"oracle-se2-cdb", NOFAM, 1521, false, false, true, false, SNO, "19.0.0.0.ru-2024-07.rur-2024-07.r1"},
	{"custom-oracle-ee", NOFAM, 1521, false, false, false, false, SNO, "19.my_cev1"},
	{"custom-oracle-ee-cdb", NOFAM, 1521, false, false, false, false, SNO, "19.my_cev1"},
	{"custom-sqlserver-ee", SS, 1433, false, false, true, false, SNO, "15.00.4073.23.v1"},
	{"custom-sqlserver-se", SS, 1433, false, false, true, false, SNO, "15.00.4073.23.v1"},
	{"custom-sqlserver-web", SS, 1433, false, false, false, false, SNO, "15.00.4073.23.v1"},
	{"db2-se", NOFAM, 50000, false, false, true, false, SNO, "11.5.9.0.sb00000000.r1"},
	{"db2-ae", NOFAM, 50000, false, false, true, false, SNO, "11.5.9.0.sb00000000.r1"},
};

_Static_assert(sizeof engines_aws == sizeof engines_strict_tab, "engine tables differ in length");

#define NENGINES (sizeof engines_aws / sizeof engines_aws[0])

static bool strict_mode;

void engines_set_strict(bool strict) { strict_mode = strict; }
bool engines_strict(void) { return strict_mode; }

const struct engine_info *engines_find(const char *engine)
{
	if (!engine)
		return NULL;
	const struct engine_info *t = strict_mode ? engines_strict_tab : engines_aws;
	for (size_t i = 0; i < NENGINES; i++)
		if (strcmp(t[i].name, engine) == 0)
			return &t[i];
	return NULL;
}

const char *engines_family_name(enum engine_family f)
{
	switch (f) {
	case ENGINE_FAMILY_POSTGRESQL: return "POSTGRESQL";
	case ENGINE_FAMILY_MYSQL: return "MYSQL";
	case ENGINE_FAMILY_SQLSERVER: return "SQLSERVER";
	case ENGINE_FAMILY_NONE: break;
	}
	return NULL;
}

int engines_init_from_env(void)
{
	const char *v = getenv("RDSEMU_ENGINE_MATRIX");
	if (!v || !*v || strcmp(v, "aws") == 0) {
		strict_mode = false;
		return 0;
	}
	if (strcmp(v, "strict") == 0) {
		strict_mode = true;
		return 0;
	}
	return -1;
}

const char *engines_list(void)
{
	static char buf[512];
	if (!buf[0]) {
		size_t off = 0;
		for (size_t i = 0; i < NENGINES; i++) {
			size_t l = strlen(engines_aws[i].name);
			if (off + l + 3 >= sizeof buf)
				break;
			if (off) {
				buf[off++] = ',';
				buf[off++] = ' ';
			}
			memcpy(buf + off, engines_aws[i].name, l);
			off += l;
			buf[off] = '\0';
		}
	}
	return buf;
}
