/*
 * config.c owns struct emu_config: defaults, the JSON config file, RDSEMU_*
 * environment variables and the `serve` flags, applied in that order.  It
 * may call jansson and log.c.  Every value is validated here, so the rest
 * of the process can trust it.
 */
#include "emu/config.h"

#include "emu/log.h"
#include "emu/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *config_auth_name(enum auth_mode m) { return m == AUTH_PERMISSIVE ? "permissive" : "enforce"; }

void config_usage_serve(void)
{
	fputs("Usage: rdsemu serve [options]\n"
	      "\n"
	      "Starts the emulator: every AWS API (Secrets Manager, STS, IAM, CloudTrail LookupEvents;\n"
	      "KMS and RDS as they land) on one HTTP port, state in SQLite.\n"
	      "\n"
	      "Options (each also from a config file key of the same name, or RDSEMU_<NAME> in the\n"
	      "environment, upper-case with '-' as '_'; flags win over the environment, which wins\n"
	      "over the file):\n"
	      "  --listen ADDR         address to bind (default 127.0.0.1; 0.0.0.0 for all)\n"
	      "  --port N              HTTP port for every AWS API (default 4566)\n"
	      "  --region R            default region for fixtures (default us-east-1); requests use\n"
	      "                        the region of their SigV4 credential scope\n"
	      "  --account-id ID       default account, 12 digits (default 000000000000)\n"
	      "  --auth MODE           enforce (default): SigV4 verified against known keys; the\n"
	      "                        built-in key test/test is the default account's admin.\n"
	      "                        permissive: any access key is accepted as that admin\n"
	      "  --state-dir DIR       keep state in DIR/rdsemu.db (default ./.rdsemu)\n"
	      "  --ephemeral           keep state in memory only\n"
	      "  --fixtures FILE       load a fixture file at start and on reset (repeatable;\n"
	      "                        RDSEMU_FIXTURES takes a ':'-separated list)\n"
	      "  --config FILE         JSON config file, e.g. {\"port\": 4566, \"auth\": \"enforce\"}\n"
	      "  --log-level LEVEL     error, warn, info (default), debug\n"
	      "  --audit-log FILE      append the audit trail (every authentication and authorization\n"
	      "                        decision) as JSON lines; default STATE-DIR/audit.jsonl, none\n"
	      "                        with --ephemeral (GET /_rdsemu/audit always works)\n"
	      "  --max-body BYTES      largest API request body accepted (default 1048576)\n"
	      "  --databases on|off    run real PostgreSQL/MariaDB servers behind DB instances (default on;\n"
	      "                        off: the RDS API without servers)\n"
	      "  --endpoint-host ADDR  put every RDS endpoint on ADDR (e.g. 127.0.0.1), each at its own\n"
	      "                        port from --endpoint-port-base (default 15432); default: one\n"
	      "                        loopback address 127.0.0.N per endpoint at the engine's port\n"
	      "  --endpoint-names address|dns  what Describe* reports as an endpoint's address: the\n"
	      "                        listen address (default) or the AWS-style DNS name (then map the\n"
	      "                        names yourself: GET /_rdsemu/hosts gives /etc/hosts lines)\n"
	      "  -h, --help            this text\n"
	      "\n"
	      "Point clients at it:\n"
	      "  export AWS_ENDPOINT_URL=http://localhost:4566 AWS_ACCESS_KEY_ID=test \\\n"
	      "         AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1\n"
	      "  aws secretsmanager list-secrets\n"
	      "\n"
	      "Admin endpoints: GET /_rdsemu/health, POST /_rdsemu/reset, POST /_rdsemu/fixtures,\n"
	      "POST /_rdsemu/clock, and the reset paths of moto (/moto-api/reset) and LocalStack\n"
	      "(/_localstack/state/reset).\n",
	      stdout);
}

static void defaults(struct emu_config *c)
{
	memset(c, 0, sizeof *c);
	snprintf(c->listen, sizeof c->listen, "127.0.0.1");
	c->port = 4566;
	snprintf(c->region, sizeof c->region, "us-east-1");
	snprintf(c->account_id, sizeof c->account_id, "000000000000");
	c->auth = AUTH_ENFORCE;
	snprintf(c->state_dir, sizeof c->state_dir, ".rdsemu");
	c->log_level = LOG_LVL_INFO;
	c->max_body = 1 << 20;
	c->max_connections = 4096;
	c->endpoint_port_base = 15432;
	c->databases = true;
}

static bool truthy(const char *v)
{
	return !(strcmp(v, "0") == 0 || strcmp(v, "false") == 0 || strcmp(v, "no") == 0 || strcmp(v, "off") == 0);
}

static bool valid_region(const char *r)
{
	size_t n = strlen(r);
	if (n < 4 || n > 31)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((r[i] >= 'a' && r[i] <= 'z') || (r[i] >= '0' && r[i] <= '9') || r[i] == '-'))
			return false;
	return true;
}

static bool valid_account(const char *a)
{
	if (strlen(a) != 12)
		return false;
	for (int i = 0; i < 12; i++)
		if (a[i] < '0' || a[i] > '9')
			return false;
	return true;
}

static int parse_long(const char *v, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < lo || n > hi)
		return -1;
	*out = n;
	return 0;
}

static int add_fixture(struct emu_config *c, const char *path, struct emu_err *err)
{
	if (c->nfixtures >= CONFIG_MAX_FIXTURES)
		return emu_err_set(err, ERR_VALIDATION, "too many fixture files (max %d)", CONFIG_MAX_FIXTURES);
	c->fixtures[c->nfixtures++] = util_strdup(path);
	return 0;
}

/* Applies one setting by its long name; `src` names the source in errors. */
static int set(struct emu_config *c, const char *name, const char *v, const char *src, struct emu_err *err)
{
	long n;
	if (strcmp(name, "listen") == 0) {
		if (strlen(v) >= sizeof c->listen || !*v)
			return emu_err_set(err, ERR_VALIDATION, "%s: bad listen address '%.64s'", src, v);
		snprintf(c->listen, sizeof c->listen, "%s", v);
	} else if (strcmp(name, "port") == 0) {
		if (parse_long(v, 0, 65535, &n) < 0)
			return emu_err_set(err, ERR_VALIDATION, "%s: port must be 0-65535, got '%.32s'", src, v);
		c->port = (int)n;
	} else if (strcmp(name, "region") == 0) {
		if (!valid_region(v))
			return emu_err_set(err, ERR_VALIDATION, "%s: bad region '%.32s'", src, v);
		snprintf(c->region, sizeof c->region, "%s", v);
	} else if (strcmp(name, "account-id") == 0) {
		if (!valid_account(v))
			return emu_err_set(err, ERR_VALIDATION, "%s: account id must be 12 digits, got '%.32s'", src, v);
		snprintf(c->account_id, sizeof c->account_id, "%s", v);
	} else if (strcmp(name, "auth") == 0) {
		if (strcmp(v, "enforce") == 0)
			c->auth = AUTH_ENFORCE;
		else if (strcmp(v, "permissive") == 0)
			c->auth = AUTH_PERMISSIVE;
		else
			return emu_err_set(err, ERR_VALIDATION, "%s: auth must be enforce or permissive, got '%.32s'", src, v);
	} else if (strcmp(name, "state-dir") == 0) {
		if (strlen(v) >= sizeof c->state_dir || !*v)
			return emu_err_set(err, ERR_VALIDATION, "%s: bad state dir", src);
		snprintf(c->state_dir, sizeof c->state_dir, "%s", v);
		c->ephemeral = false;
	} else if (strcmp(name, "ephemeral") == 0) {
		c->ephemeral = truthy(v);
	} else if (strcmp(name, "databases") == 0) {
		c->databases = truthy(v);
	} else if (strcmp(name, "endpoint-host") == 0) {
		struct in_addr ia;
		if (*v && inet_pton(AF_INET, v, &ia) != 1)
			return emu_err_set(err, ERR_VALIDATION, "%s: endpoint-host must be an IPv4 address, got '%.64s'", src, v);
		snprintf(c->endpoint_host, sizeof c->endpoint_host, "%s", v);
	} else if (strcmp(name, "endpoint-port-base") == 0) {
		if (parse_long(v, 1024, 65000, &n) < 0)
			return emu_err_set(err, ERR_VALIDATION, "%s: endpoint-port-base must be 1024..65000", src);
		c->endpoint_port_base = (int)n;
	} else if (strcmp(name, "endpoint-names") == 0) {
		if (strcmp(v, "address") != 0 && strcmp(v, "dns") != 0)
			return emu_err_set(err, ERR_VALIDATION, "%s: endpoint-names must be address or dns", src);
		c->endpoint_dns = strcmp(v, "dns") == 0;
	} else if (strcmp(name, "fixtures") == 0) {
		return add_fixture(c, v, err);
	} else if (strcmp(name, "log-level") == 0) {
		int l = log_level_parse(v);
		if (l < 0)
			return emu_err_set(err, ERR_VALIDATION, "%s: log level must be error, warn, info or debug", src);
		c->log_level = l;
	} else if (strcmp(name, "max-body") == 0) {
		if (parse_long(v, 1024, 64L << 20, &n) < 0)
			return emu_err_set(err, ERR_VALIDATION, "%s: max-body must be 1024..67108864", src);
		c->max_body = (size_t)n;
	} else if (strcmp(name, "audit-log") == 0) {
		if (strlen(v) >= sizeof c->audit_log)
			return emu_err_set(err, ERR_VALIDATION, "%s: audit log path too long", src);
		snprintf(c->audit_log, sizeof c->audit_log, "%s", v);
	} else if (strcmp(name, "config") == 0) {
		/* handled before everything else */
	} else {
		return emu_err_set(err, ERR_VALIDATION, "%s: unknown setting '%.64s' (see rdsemu serve --help)", src, name);
	}
	return 0;
}

static int load_file(struct emu_config *c, const char *path, struct emu_err *err)
{
	json_error_t je;
	json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return emu_err_set(err, ERR_VALIDATION, "config %s: %s (line %d)", path, je.text, je.line);
	if (!json_is_object(root)) {
		json_decref(root);
		return emu_err_set(err, ERR_VALIDATION, "config %s: must be a JSON object", path);
	}
	const char *k;
	json_t *v;
	int rc = 0;
	json_object_foreach(root, k, v) {
		char val[1100];
		if (json_is_array(v) && strcmp(k, "fixtures") == 0) {
			size_t i;
			json_t *e;
			json_array_foreach(v, i, e) {
				if (!json_is_string(e) || set(c, k, json_string_value(e), path, err) < 0) {
					rc = -1;
					if (!json_is_string(e))
						emu_err_set(err, ERR_VALIDATION, "config %s: fixtures must be strings", path);
					break;
				}
			}
		} else if (json_is_string(v)) {
			rc = set(c, k, json_string_value(v), path, err);
		} else if (json_is_integer(v)) {
			snprintf(val, sizeof val, "%lld", (long long)json_integer_value(v));
			rc = set(c, k, val, path, err);
		} else if (json_is_boolean(v)) {
			rc = set(c, k, json_is_true(v) ? "true" : "false", path, err);
		} else {
			rc = emu_err_set(err, ERR_VALIDATION, "config %s: bad value for '%s'", path, k);
		}
		if (rc < 0)
			break;
	}
	json_decref(root);
	return rc;
}

static int load_env(struct emu_config *c, struct emu_err *err)
{
	static const char *names[] = {"listen", "port", "region", "account-id", "auth", "state-dir",
	                              "ephemeral", "log-level", "max-body", "audit-log", "databases",
	                              "endpoint-host", "endpoint-port-base", "endpoint-names"};
	for (size_t i = 0; i < ARRAY_LEN(names); i++) {
		char env[64] = "RDSEMU_";
		size_t p = strlen(env);
		for (const char *s = names[i]; *s && p < sizeof env - 1; s++)
			env[p++] = *s == '-' ? '_' : (char)(*s >= 'a' && *s <= 'z' ? *s - 32 : *s);
		env[p] = '\0';
		const char *v = getenv(env);
		if (v && *v && set(c, names[i], v, env, err) < 0)
			return -1;
	}
	const char *fx = getenv("RDSEMU_FIXTURES");
	if (fx && *fx) {
		char *copy = util_strdup(fx), *save = NULL;
		for (char *t = strtok_r(copy, ":", &save); t; t = strtok_r(NULL, ":", &save))
			if (add_fixture(c, t, err) < 0) {
				free(copy);
				return -1;
			}
		free(copy);
	}
	return 0;
}

int config_load(struct emu_config *c, int argc, char **argv, struct emu_err *err)
{
	defaults(c);
	const char *file = getenv("RDSEMU_CONFIG");
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			file = argv[i + 1];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			file = argv[i] + 9;
	}
	if (file && *file) {
		snprintf(c->config_file, sizeof c->config_file, "%s", file);
		if (load_file(c, file, err) < 0)
			goto fail;
	}
	if (load_env(c, err) < 0)
		goto fail;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			config_usage_serve();
			config_free(c);
			return 1;
		}
		if (strncmp(a, "--", 2) != 0) {
			emu_err_set(err, ERR_VALIDATION, "unexpected argument '%.64s' (see rdsemu serve --help)", a);
			goto fail;
		}
		char name[64];
		const char *val = NULL;
		const char *eq = strchr(a + 2, '=');
		size_t nl = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
		if (nl >= sizeof name) {
			emu_err_set(err, ERR_VALIDATION, "unknown option '%.64s'", a);
			goto fail;
		}
		memcpy(name, a + 2, nl);
		name[nl] = '\0';
		if (strcmp(name, "ephemeral") == 0 && !eq) {
			c->ephemeral = true;
			continue;
		}
		if (eq) {
			val = eq + 1;
		} else if (i + 1 < argc) {
			val = argv[++i];
		} else {
			emu_err_set(err, ERR_VALIDATION, "option --%s needs a value", name);
			goto fail;
		}
		char src[80];
		snprintf(src, sizeof src, "--%s", name);
		if (set(c, name, val, src, err) < 0)
			goto fail;
	}
	return 0;
fail:
	config_free(c);
	return -1;
}

void config_free(struct emu_config *c)
{
	for (int i = 0; i < c->nfixtures; i++)
		free(c->fixtures[i]);
	c->nfixtures = 0;
}
