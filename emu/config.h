/*
 * Settings of the process.  Precedence, lowest first: built-in defaults,
 * the config file (--config FILE or RDSEMU_CONFIG; JSON object whose keys
 * are the long flag names), RDSEMU_* environment variables, command-line
 * flags.  Fixture files accumulate across all three sources.
 */
#ifndef EMU_CONFIG_H
#define EMU_CONFIG_H

#include "emu/err.h"

#include <stdbool.h>
#include <stddef.h>

enum auth_mode { AUTH_ENFORCE, AUTH_PERMISSIVE };

#define CONFIG_MAX_FIXTURES 32

struct emu_config {
	char listen[64];
	int port;
	char region[32];
	char account_id[13];
	enum auth_mode auth;
	char state_dir[1024];
	bool ephemeral;
	char *fixtures[CONFIG_MAX_FIXTURES];
	int nfixtures;
	int log_level;          /* enum log_level */
	size_t max_body;        /* bytes accepted in one API request body */
	int max_connections;
	char config_file[1024];
	char audit_log[1024];   /* JSON lines file; default <state-dir>/audit.jsonl, none when ephemeral */
	char endpoint_host[64]; /* "" = 127.0.0.N per RDS endpoint; else every endpoint on this host */
	int endpoint_port_base; /* with endpoint_host: first port */
	bool endpoint_dns;      /* Describe* reports AWS-style DNS names instead of addresses */
	bool databases;         /* run real database servers behind DB instances */
};

/* Fills c from defaults, file, environment and argv (argv[0] = program,
 * argv[1] = "serve" already consumed by the caller: pass the rest).
 * Returns 0, 1 when help was printed (caller exits 0), or -1 with err. */
int config_load(struct emu_config *c, int argc, char **argv, struct emu_err *err);
void config_free(struct emu_config *c);
void config_usage_serve(void);
const char *config_auth_name(enum auth_mode m);

#endif
