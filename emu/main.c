/*
 * main.c: the rdsemu command.  Owns process start-up and shutdown: config,
 * store, built-in identities, fixtures, the event loop, signals, the HTTP
 * server, the rotation runner and the janitor.  The only file of emu/ that
 * may call api/ (and later wire/).
 */
#include "api/auth.h"
#include "api/authz.h"
#include "api/http.h"
#include "emu/audit.h"
#include "emu/clock.h"
#include "emu/config.h"
#include "emu/engines.h"
#include "emu/fixtures.h"
#include "emu/kms.h"
#include "emu/log.h"
#include "emu/loop.h"
#include "emu/rds.h"
#include "emu/rds_endpoint.h"
#include "emu/rotation.h"
#include "emu/secrets.h"
#include "emu/store.h"
#include "emu/sts.h"
#include "emu/util.h"
#include "api/tokencheck.h"
#include "wire/pgproxy.h"
#include "wire/runtime.h"
#include "wire/tls.h"
#include "wire/token.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#define RDSEMU_VERSION "0.1.0"

struct app {
	struct emu_config cfg;
	struct store *store;
	struct loop *loop;
	struct http_server *http;
	struct http_env env;
	int sigfd;
	int stopping;
	char db_root[PATH_MAX + 8]; /* database servers' data (a temp dir with --ephemeral) */
	bool db_root_temp;
};

static void usage(void)
{
	fputs("rdsemu " RDSEMU_VERSION " - a local emulator of the AWS path from Lambda to RDS:\n"
	      "Secrets Manager, STS, IAM with policy evaluation, RDS IAM auth tokens (and, as they\n"
	      "land, KMS, the RDS control plane and the RDS Proxy data plane), answering unmodified\n"
	      "AWS SDKs and the AWS CLI.\n"
	      "\n"
	      "Usage:\n"
	      "  rdsemu serve [options]   start the emulator (see: rdsemu serve --help)\n"
	      "  rdsemu token [options]   print an RDS IAM auth token (see: rdsemu token --help)\n"
	      "  rdsemu version           print the version\n"
	      "  rdsemu help              this text\n"
	      "\n"
	      "Quick start:\n"
	      "  rdsemu serve --ephemeral --fixtures fixtures/default.json\n"
	      "  export AWS_ENDPOINT_URL=http://localhost:4566 AWS_ACCESS_KEY_ID=test \\\n"
	      "         AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1\n"
	      "  aws secretsmanager get-secret-value --secret-id rdsemu/patternB/app\n",
	      stdout);
}

static int load_startup_fixtures(struct app *a, struct emu_err *err)
{
	struct fixture_defaults d = {a->cfg.account_id, a->cfg.region};
	for (int i = 0; i < a->cfg.nfixtures; i++) {
		if (fixtures_load_file(a->store, &d, a->cfg.fixtures[i], err) < 0)
			return -1;
		log_info("main", "loaded fixtures %s", a->cfg.fixtures[i]);
	}
	return 0;
}

static int app_reset(void *ud, struct emu_err *err)
{
	struct app *a = ud;
	rotation_cancel_all();
	audit_flush(a->store);
	if (store_reset(a->store, err) < 0)
		return -1;
	auth_cache_clear();
	authz_cache_clear();
	clock_set_offset(0);
	rds_changed(); /* the runtime winds down servers and listeners of the old state */
	pgproxy_forget_stats();
	if (auth_seed_builtin(a->store, &a->cfg, err) < 0 || load_startup_fixtures(a, err) < 0)
		return -1;
	log_info("main", "state reset");
	return 0;
}

static int app_load_fixture(void *ud, json_t *doc, struct emu_err *err)
{
	struct app *a = ud;
	struct fixture_defaults d = {a->cfg.account_id, a->cfg.region};
	int rc = fixtures_load_doc(a->store, &d, doc, err);
	if (rc == 0)
		rotation_kick();
	return rc;
}

static void on_signal(struct loop *l, int fd, uint32_t events, void *ud)
{
	struct app *a = ud;
	struct signalfd_siginfo si;
	while (read(fd, &si, sizeof si) == (ssize_t)sizeof si) {
		if (si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM) {
			log_info("main", "received %s, shutting down", si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
			a->stopping = 1;
			loop_stop(l);
		}
	}
}

/* Audit events are written in batches: a storm of logins does not pay a
 * SQLite transaction each (readers of the trail flush first). */
#define AUDIT_BATCH_MS 20
#define AUDIT_BATCH_MAX 256
static long long flush_audit(struct loop *l, void *ud)
{
	struct app *a = ud;
	size_t n;
	long long since = audit_pending_since(&n), wait = -1;
	if (since >= 0) {
		long long age = clock_mono_ms() - since;
		if (age >= AUDIT_BATCH_MS || n >= AUDIT_BATCH_MAX)
			audit_flush(a->store);
		else
			wait = AUDIT_BATCH_MS - age;
	}
	runtime_sync(false);
	return wait;
}

/* ---- the proxy data plane's hooks (wire/ reaches api/ and emu/ through these) ---- */

static int proxy_verify_token(void *ud, const struct pgproxy_token *t, char *principal, size_t cap,
                              struct emu_err *err)
{
	struct app *a = ud;
	struct tokencheck_login_req q = {.token = t->token, .token_len = t->len, .user = t->user, .region = t->region,
	                                 .resource_id = t->resource_id, .hosts = t->hosts, .n_hosts = t->n_hosts,
	                                 .port = t->port};
	return tokencheck_login(a->store, &a->cfg, &q, principal, cap, err);
}

/* The proxy's role session (the service assumes the proxy's RoleArn): the
 * role must exist and trust rds.amazonaws.com, as for the real service.
 * principal gets the session's ARN. */
static int proxy_session(struct app *a, const char *account, const char *role_arn, char *principal, size_t cap,
                         struct emu_err *err)
{
	const char *role = strstr(role_arn ? role_arn : "", ":role/");
	const char *name = role ? strrchr(role, '/') + 1 : NULL;
	if (!name || !*name)
		return emu_err_set(err, ERR_ACCESS_DENIED, "the proxy has no role");
	if (authz_service_may_assume(a->store, "rds.amazonaws.com", role_arn, clock_now(), err) < 0)
		return -1;
	snprintf(principal, cap, "arn:aws:sts::%s:assumed-role/%.128s/rdsemu-proxy", account, name);
	return 0;
}

/* The proxy reads its secrets as its role session: the role's policies,
 * the secret's resource policy and the KMS key's rules apply. */
static int proxy_read_secret(void *ud, const char *account, const char *region, const char *role_arn,
                             const char *secret_arn, char **value, char *version, struct emu_err *err)
{
	struct app *a = ud;
	char principal[600], rid[37];
	if (proxy_session(a, account, role_arn, principal, sizeof principal, err) < 0)
		return -1;
	util_request_id(rid);
	struct emu_call call = {.store = a->store, .account = account, .region = region, .principal_arn = principal,
	                        .user_id = account, .request_id = rid, .now = clock_now(),
	                        .action = "secretsmanager:GetSecretValue"};
	json_t *in = json_pack("{s:s}", "SecretId", secret_arn), *out = NULL;
	int rc = sm_get_secret_value(&call, in, &out, err);
	json_decref(in);
	const char *v = json_string_value(json_object_get(out, "SecretString"));
	if (rc == 0 && !v)
		rc = emu_err_set(err, ERR_VALIDATION, "the secret has no SecretString");
	if (rc == 0) {
		*value = util_strdup(v);
		snprintf(version, 96, "%s", json_string_value(json_object_get(out, "VersionId")));
	}
	if (v)
		OPENSSL_cleanse((char *)v, strlen(v));
	json_decref(out);
	return rc;
}

/* End-to-end IAM: the proxy's role (an assumed-role session, as above)
 * needs rds-db:connect on the database user, as the real proxy does. */
static int proxy_role_may_connect(void *ud, const char *account, const char *region, const char *role_arn,
                                  const char *resource_id, const char *db_user, struct emu_err *err)
{
	struct app *a = ud;
	char principal[600], arn[1024], rid[37];
	if (proxy_session(a, account, role_arn, principal, sizeof principal, err) < 0)
		return -1;
	token_resource_arn(region, account, resource_id, db_user, arn, sizeof arn);
	util_request_id(rid);
	struct emu_call call = {.store = a->store, .account = account, .region = region, .principal_arn = principal,
	                        .user_id = account, .request_id = rid, .now = clock_now(), .action = "rds-db:connect"};
	return authz_check(&call, "rds-db:connect", arn, NULL, NULL, err);
}

static void proxy_audit(void *ud, const char *account, const char *region, const char *proxy, const char *user,
                        const char *source, const char *principal, bool ok, const char *reason)
{
	(void)ud;
	char resource[300];
	snprintf(resource, sizeof resource, "%s/%s", proxy, user);
	struct audit_event ev = {.time = clock_wall(), .event_source = "rds-db.amazonaws.com", .event_name = "connect",
	                         .account = account, .region = region, .principal_arn = principal && *principal ? principal : NULL,
	                         .resource_type = "AWS::RDS::DBProxy", .resource = resource, .source_ip = source,
	                         .decision = ok ? "Allow" : "Deny", .error_code = ok ? NULL : "AccessDenied",
	                         .reason = reason};
	audit_record(&ev);
}

/* Can a user other than the owner reach path (x for others on every ancestor)? */
static bool others_can_traverse(const char *path)
{
	char p[PATH_MAX];
	snprintf(p, sizeof p, "%s", path);
	for (;;) {
		struct stat st;
		if (stat(p, &st) < 0 || !(st.st_mode & S_IXOTH))
			return false;
		char *slash = strrchr(p, '/');
		if (!slash || slash == p)
			return true;
		*slash = '\0';
	}
}

/* Where database servers keep their data: STATE-DIR/db, or a fresh temp dir. */
static int db_root_init(struct app *a, struct emu_err *err)
{
	if (!a->cfg.ephemeral) {
		char real[PATH_MAX];
		if (!realpath(a->cfg.state_dir, real))
			return emu_err_set(err, ERR_INTERNAL, "state dir %s: %s", a->cfg.state_dir, strerror(errno));
		snprintf(a->db_root, sizeof a->db_root, "%s/db", real);
		if (geteuid() != 0 || others_can_traverse(real))
			return 0;
		/* As root the servers run as an unprivileged user, who cannot reach
		 * a state dir under a private directory (/root, pytest's tmp dirs):
		 * their data goes to /var/tmp instead, one dir per state dir. */
		char hex[65];
		util_sha256_hex(real, strlen(real), hex);
		snprintf(a->db_root, sizeof a->db_root, "/var/tmp/rdsemu-db-%.16s", hex);
		char link[PATH_MAX + 8];
		snprintf(link, sizeof link, "%s/db", real);
		if (symlink(a->db_root, link) < 0 && errno != EEXIST)
			log_warn("main", "cannot link %s to %s: %s", link, a->db_root, strerror(errno));
		log_info("main", "database servers keep their data in %s (the state dir is not reachable for their user)",
		         a->db_root);
		return 0;
	}
	snprintf(a->db_root, sizeof a->db_root, "/tmp/rdsemu-db-XXXXXX");
	if (!mkdtemp(a->db_root))
		return emu_err_set(err, ERR_INTERNAL, "cannot create a temp dir for database servers: %s", strerror(errno));
	a->db_root_temp = true;
	return 0;
}

static void janitor(struct loop *l, long long id, void *ud)
{
	struct app *a = ud;
	secrets_purge_due(a->store, clock_now());
	kms_purge_due(a->store, clock_now());
	runtime_sync(true);
	if (!a->stopping)
		loop_add_timer(l, 1000, janitor, a);
}

static int serve(int argc, char **argv)
{
	struct app a;
	memset(&a, 0, sizeof a);
	a.sigfd = -1;
	struct emu_err err;
	emu_err_clear(&err);
	long long t0 = clock_mono_ms();
	int rc = config_load(&a.cfg, argc, argv, &err);
	if (rc == 1)
		return 0;
	if (rc < 0) {
		fprintf(stderr, "rdsemu: %s\n", err.msg);
		return 2;
	}
	log_set_level((enum log_level)a.cfg.log_level);
	signal(SIGPIPE, SIG_IGN);

	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);

	int status = 1;
	if (store_open(&a.store, a.cfg.ephemeral ? NULL : a.cfg.state_dir, &err) < 0) {
		fprintf(stderr, "rdsemu: %s\n", err.msg);
		goto out;
	}
	if (engines_init_from_env() < 0) {
		fprintf(stderr, "rdsemu: RDSEMU_ENGINE_MATRIX must be aws (default) or strict\n");
		goto out;
	}
	if (kms_init(a.store, a.cfg.ephemeral ? NULL : a.cfg.state_dir, &err) < 0) {
		fprintf(stderr, "rdsemu: %s\n", err.msg);
		goto out;
	}
	static const struct secrets_hooks hooks = {.authorize = authz_secret, .kms_check = authz_kms};
	secrets_set_hooks(&hooks);
	static const struct sts_hooks shooks = {.may_assume = authz_may_assume};
	sts_set_hooks(&shooks);
	a.loop = loop_new();
	if (!a.loop) {
		fprintf(stderr, "rdsemu: cannot set up the event loop\n");
		goto out;
	}
	if ((a.cfg.databases && db_root_init(&a, &err) < 0) ||
	    runtime_init(a.loop, a.store, a.cfg.databases ? a.db_root : NULL, &err) < 0) {
		fprintf(stderr, "rdsemu: %s\n", err.msg);
		goto out;
	}
	if (tls_init(a.cfg.ephemeral ? NULL : a.cfg.state_dir, &err) < 0 || pgproxy_init(a.loop, a.store) < 0) {
		fprintf(stderr, "rdsemu: %s\n", err.msg);
		goto out;
	}
	pgproxy_set_hooks(&(struct pgproxy_hooks){.verify_token = proxy_verify_token, .read_secret = proxy_read_secret,
	                                          .role_may_connect = proxy_role_may_connect, .audit = proxy_audit,
	                                          .ud = &a});
	runtime_enable_proxies();
	rds_endpoint_configure(&(struct rds_endpoint_config){
		.dns_names = a.cfg.endpoint_dns,
		.fixed_host = a.cfg.endpoint_host[0] ? a.cfg.endpoint_host : NULL,
		.port_base = a.cfg.endpoint_port_base});
	if (auth_seed_builtin(a.store, &a.cfg, &err) < 0 || load_startup_fixtures(&a, &err) < 0) {
		fprintf(stderr, "rdsemu: %s\n", err.msg);
		goto out;
	}
	a.sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (a.sigfd < 0 || loop_add_fd(a.loop, a.sigfd, EPOLLIN, on_signal, &a) < 0) {
		fprintf(stderr, "rdsemu: cannot set up the event loop: %s\n", strerror(errno));
		goto out;
	}
	a.env = (struct http_env){.store = a.store, .cfg = &a.cfg, .reset = app_reset, .load_fixture = app_load_fixture,
	                          .ca_pem = tls_ca_pem, .proxy_metrics = pgproxy_metrics, .ud = &a};
	if (http_start(&a.http, a.loop, &a.env, &err) < 0) {
		fprintf(stderr, "rdsemu: %s\n", err.msg);
		goto out;
	}
	char url[128];
	snprintf(url, sizeof url, "http://%s:%d",
	         strcmp(a.cfg.listen, "0.0.0.0") == 0 ? "127.0.0.1" : a.cfg.listen, http_port(a.http));
	if (rotation_init(a.loop, a.store, url) < 0) {
		fprintf(stderr, "rdsemu: cannot start the rotation runner\n");
		goto out;
	}
	runtime_sync(true);
	loop_add_timer(a.loop, 1000, janitor, &a);
	loop_add_before_sleep(a.loop, flush_audit, &a);
	if (!a.cfg.ephemeral || a.cfg.audit_log[0]) {
		char path[1100];
		if (a.cfg.audit_log[0])
			snprintf(path, sizeof path, "%s", a.cfg.audit_log);
		else
			snprintf(path, sizeof path, "%s/audit.jsonl", a.cfg.state_dir);
		if (audit_set_log(path, &err) < 0) {
			fprintf(stderr, "rdsemu: %s\n", err.msg);
			goto out;
		}
	}
	log_info("main", "rdsemu %s listening on %s (auth %s, account %s, region %s, state %s) ready in %lld ms",
	         RDSEMU_VERSION, url, config_auth_name(a.cfg.auth), a.cfg.account_id, a.cfg.region,
	         a.cfg.ephemeral ? "in memory" : a.cfg.state_dir, clock_mono_ms() - t0);
	if (loop_run(a.loop) < 0) {
		fprintf(stderr, "rdsemu: event loop failed: %s\n", strerror(errno));
		goto out;
	}
	status = 0;
out:
	runtime_shutdown(); /* runs the loop while servers stop: before the HTTP server goes */
	pgproxy_shutdown();
	tls_shutdown();
	rotation_shutdown();
	http_stop(a.http);
	if (a.db_root_temp)
		util_remove_tree(a.db_root);
	if (a.store)
		audit_flush(a.store);
	audit_shutdown();
	authz_cache_clear();
	kms_shutdown();
	if (a.sigfd >= 0)
		close(a.sigfd);
	loop_free(a.loop);
	store_close(a.store);
	config_free(&a.cfg);
	if (status == 0)
		log_info("main", "stopped");
	return status;
}

static void token_usage(void)
{
	fputs("Usage: rdsemu token --host HOST --user USER [--port N] [--region R]\n"
	      "                    [--access-key-id K --secret-access-key S [--session-token T]] [--expires S]\n"
	      "\n"
	      "Prints an RDS IAM database authentication token, the same string\n"
	      "`aws rds generate-db-auth-token` makes (a SigV4 presigned URL for rds-db,\n"
	      "valid 15 minutes), for shells without an AWS SDK.  Made offline; rdsemu\n"
	      "need not run.  Credentials and region default to AWS_ACCESS_KEY_ID,\n"
	      "AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and AWS_REGION/AWS_DEFAULT_REGION;\n"
	      "the port defaults to 5432.\n"
	      "\n"
	      "  PGPASSWORD=$(rdsemu token --host db.example --user app) psql \"host=db.example user=app sslmode=require\"\n",
	      stdout);
}

static int cmd_token(int argc, char **argv)
{
	const char *host = NULL, *user = NULL, *region = NULL, *akid = getenv("AWS_ACCESS_KEY_ID");
	const char *secret = getenv("AWS_SECRET_ACCESS_KEY"), *session = getenv("AWS_SESSION_TOKEN");
	long port = 5432, expires = 900;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			token_usage();
			return 0;
		}
		if (!v || strncmp(a, "--", 2) != 0) {
			fprintf(stderr, "rdsemu token: bad argument '%s' (see rdsemu token --help)\n", a);
			return 2;
		}
		i++;
		if (strcmp(a, "--host") == 0 || strcmp(a, "--hostname") == 0)
			host = v;
		else if (strcmp(a, "--user") == 0 || strcmp(a, "--username") == 0)
			user = v;
		else if (strcmp(a, "--region") == 0)
			region = v;
		else if (strcmp(a, "--access-key-id") == 0)
			akid = v;
		else if (strcmp(a, "--secret-access-key") == 0)
			secret = v;
		else if (strcmp(a, "--session-token") == 0)
			session = v;
		else if (strcmp(a, "--port") == 0)
			port = strtol(v, NULL, 10);
		else if (strcmp(a, "--expires") == 0)
			expires = strtol(v, NULL, 10);
		else {
			fprintf(stderr, "rdsemu token: unknown option '%s' (see rdsemu token --help)\n", a);
			return 2;
		}
	}
	if (!region)
		region = getenv("AWS_REGION");
	if (!region)
		region = getenv("AWS_DEFAULT_REGION");
	if (!region)
		region = "us-east-1";
	if (!host || !user) {
		fputs("rdsemu token: --host and --user are required (see rdsemu token --help)\n", stderr);
		return 2;
	}
	if (!akid || !secret) {
		fputs("rdsemu token: no credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or pass "
		      "--access-key-id/--secret-access-key\n",
		      stderr);
		return 2;
	}
	if (port < 1 || port > 65535 || expires < 1 || expires > 900) {
		fputs("rdsemu token: --port must be 1-65535 and --expires 1-900\n", stderr);
		return 2;
	}
	struct buf out;
	buf_init(&out, TOKEN_MAX_LEN);
	struct emu_err err;
	emu_err_clear(&err);
	if (token_generate(host, (int)port, user, region, akid, secret, session && *session ? session : NULL,
	                   clock_wall(), (int)expires, &out, &err) < 0) {
		fprintf(stderr, "rdsemu token: %s\n", err.msg);
		buf_free_secret(&out);
		return 2;
	}
	puts(buf_cstr(&out));
	buf_free_secret(&out);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage();
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
		puts("rdsemu " RDSEMU_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "serve") == 0)
		return serve(argc - 2, argv + 2);
	if (strcmp(argv[1], "token") == 0)
		return cmd_token(argc - 2, argv + 2);
	fprintf(stderr, "rdsemu: unknown command '%s'\n\n", argv[1]);
	usage();
	return 2;
}
