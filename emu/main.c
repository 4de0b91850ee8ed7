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
#include "emu/fixtures.h"
#include "emu/log.h"
#include "emu/loop.h"
#include "emu/rotation.h"
#include "emu/secrets.h"
#include "emu/store.h"
#include "emu/sts.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
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
};

static void usage(void)
{
	fputs("rdsemu " RDSEMU_VERSION " - a local emulator of the AWS path from Lambda to RDS:\n"
	      "Secrets Manager (and, as they land, STS, IAM, KMS, the RDS control plane and the\n"
	      "RDS Proxy data plane), answering unmodified AWS SDKs and the AWS CLI.\n"
	      "\n"
	      "Usage:\n"
	      "  rdsemu serve [options]   start the emulator (see: rdsemu serve --help)\n"
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

static long long flush_audit(struct loop *l, void *ud)
{
	struct app *a = ud;
	audit_flush(a->store);
	return -1;
}

static void janitor(struct loop *l, long long id, void *ud)
{
	struct app *a = ud;
	secrets_purge_due(a->store, clock_now());
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
	static const struct secrets_hooks hooks = {.authorize = authz_secret};
	secrets_set_hooks(&hooks);
	static const struct sts_hooks shooks = {.may_assume = authz_may_assume};
	sts_set_hooks(&shooks);
	if (auth_seed_builtin(a.store, &a.cfg, &err) < 0 || load_startup_fixtures(&a, &err) < 0) {
		fprintf(stderr, "rdsemu: %s\n", err.msg);
		goto out;
	}
	a.loop = loop_new();
	a.sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (!a.loop || a.sigfd < 0 || loop_add_fd(a.loop, a.sigfd, EPOLLIN, on_signal, &a) < 0) {
		fprintf(stderr, "rdsemu: cannot set up the event loop: %s\n", strerror(errno));
		goto out;
	}
	a.env = (struct http_env){.store = a.store, .cfg = &a.cfg, .reset = app_reset, .load_fixture = app_load_fixture,
	                          .ud = &a};
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
	rotation_shutdown();
	http_stop(a.http);
	if (a.store)
		audit_flush(a.store);
	audit_shutdown();
	authz_cache_clear();
	if (a.sigfd >= 0)
		close(a.sigfd);
	loop_free(a.loop);
	store_close(a.store);
	config_free(&a.cfg);
	if (status == 0)
		log_info("main", "stopped");
	return status;
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
	fprintf(stderr, "rdsemu: unknown command '%s'\n\n", argv[1]);
	usage();
	return 2;
}
