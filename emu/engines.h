/*
 * The RDS engine matrix as data: for each engine name the proxy engine
 * family, default port, and what the engine allows (IAM database
 * authentication, RDS Proxy, Multi-AZ), and which local server backs it.
 *
 * Two tables: the default says what AWS allows today (aws-behaviour.md
 * section 3.1); the strict table is the original pattern design's (no IAM
 * database auth and no proxy for MariaDB, SQL Server, Oracle, RDS Custom).
 * Switch: engines_set_strict(true), or environment RDSEMU_ENGINE_MATRIX=strict
 * read by engines_init_from_env() (the lead wires it into config/main).
 */
#ifndef EMU_ENGINES_H
#define EMU_ENGINES_H

#include <stdbool.h>

enum engine_family { ENGINE_FAMILY_NONE = 0, ENGINE_FAMILY_POSTGRESQL, ENGINE_FAMILY_MYSQL, ENGINE_FAMILY_SQLSERVER };

/* Which local server a started instance runs on (none: control plane only). */
enum engine_server { ENGINE_SERVER_NONE = 0, ENGINE_SERVER_POSTGRES, ENGINE_SERVER_MARIADB };

struct engine_info {
	const char *name;            /* "postgres" */
	enum engine_family family;
	int port;                    /* default port */
	bool iam_auth;               /* EnableIAMDatabaseAuthentication allowed */
	bool proxy;                  /* may sit behind RDS Proxy */
	bool multi_az;               /* MultiAZ allowed */
	bool aurora;                 /* cluster engine (instances belong to a cluster) */
	enum engine_server server;
	const char *default_version; /* EngineVersion when none is given */
};

/* The row for engine (exact, lower case as AWS spells it), or NULL. */
const struct engine_info *engines_find(const char *engine);
/* "POSTGRESQL", "MYSQL", "SQLSERVER" or NULL. */
const char *engines_family_name(enum engine_family f);
void engines_set_strict(bool strict);
bool engines_strict(void);
/* Reads RDSEMU_ENGINE_MATRIX ("strict" or "aws"/unset); 0, or -1 on another value. */
int engines_init_from_env(void);
/* Comma-separated names of the engines (for error texts); static storage. */
const char *engines_list(void);

#endif
