/*
 * rotation.c owns the rotation runner: the child processes that play the
 * rotation Lambda, their pipes, pidfds and timeout timers, and the 1 s
 * timer that looks for due work.  What to run and what a result means is
 * the domain's business (secrets_jobs_due / secrets_job_done in
 * emu/secrets_rot.c); this file only runs one step at a time per secret.
 *
 * May call: secrets (job bookkeeping, Lambda registry), store (one read of
 * access_keys for the child's credentials), loop, clock, log, buf, util.
 *
 * Invariants: nothing here blocks the loop (posix_spawn, non-blocking
 * pipes, a pidfd on the loop for the exit); a child runs in its own
 * process group and is SIGKILLed as a group on timeout, cancel or
 * shutdown; captured output is capped (OUT_CAP per stream) and goes to the
 * log; at most MAX_RUNNING children at once, at most one per secret.
 */
#include "emu/rotation.h"

#include "emu/buf.h"
#include "emu/clock.h"
#include "emu/log.h"
#include "emu/loop.h"
#include "emu/secrets.h"
#include "emu/store.h"
#include "emu/util.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define MAX_RUNNING 8
#define OUT_CAP 16384
#define TICK_MS 1000

struct child {
	bool used, timed_out, cancelled;
	struct secrets_job job;
	pid_t pid;
	int pidfd, out_fd, err_fd;
	struct buf out, errb;
	long long timer;
	long long started_ms;
};

static struct {
	bool up;
	struct loop *loop;
	struct store *store;
	char *endpoint;
	long long tick, kick;
	struct child kids[MAX_RUNNING];
} R;

static void run_due(void);

/* ---- output capture ---------------------------------------------------------------------- */

static void drain(int fd, struct buf *b)
{
	char chunk[4096];
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof chunk);
		if (n <= 0)
			return;
		size_t room = b->len < OUT_CAP ? OUT_CAP - b->len : 0;
		buf_put(b, chunk, (size_t)n < room ? (size_t)n : room);
	}
}

static void close_stream(int *fd)
{
	if (*fd >= 0) {
		loop_del_fd(R.loop, *fd);
		close(*fd);
		*fd = -1;
	}
}

static void on_output(struct loop *l, int fd, uint32_t events, void *ud)
{
	struct child *k = ud;
	bool is_out = fd == k->out_fd;
	struct buf *b = is_out ? &k->out : &k->errb;
	char chunk[4096];
	ssize_t n = read(fd, chunk, sizeof chunk);
	if (n > 0) {
		size_t room = b->len < OUT_CAP ? OUT_CAP - b->len : 0;
		buf_put(b, chunk, (size_t)n < room ? (size_t)n : room);
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	close_stream(is_out ? &k->out_fd : &k->err_fd);
}

static void log_stream(const struct child *k, const char *name, struct buf *b)
{
	if (b->len == 0)
		return;
	const char *s = buf_cstr(b);
	char ctx[64];
	snprintf(ctx, sizeof ctx, "lambda:%s", secrets_step_name(k->job.step));
	while (*s) {
		const char *nl = strchr(s, '\n');
		int len = nl ? (int)(nl - s) : (int)strlen(s);
		log_info(ctx, "%s %s: %.*s", k->job.arn, name, len, s);
		s += len + (nl ? 1 : 0);
	}
	if (b->len >= OUT_CAP)
		log_info(ctx, "%s %s: [output truncated at %d bytes]", k->job.arn, name, OUT_CAP);
}

/* ---- child lifecycle ------------------------------------------------------------------------ */

static void child_release(struct child *k)
{
	close_stream(&k->out_fd);
	close_stream(&k->err_fd);
	if (k->pidfd >= 0) {
		loop_del_fd(R.loop, k->pidfd);
		close(k->pidfd);
		k->pidfd = -1;
	}
	if (k->timer > 0)
		loop_del_timer(R.loop, k->timer);
	k->timer = 0;
	buf_free(&k->out);
	buf_free(&k->errb);
	k->used = false;
}

static void kill_group(struct child *k)
{
	if (k->pid > 0) {
		kill(-k->pid, SIGKILL);
		kill(k->pid, SIGKILL);
	}
}

/* Kills and reaps a child without recording a result. */
static void child_abort(struct child *k)
{
	kill_group(k);
	if (k->pid > 0)
		while (waitpid(k->pid, NULL, 0) < 0 && errno == EINTR)
			;
	k->pid = 0;
	child_release(k);
}

static void record(const struct secrets_job *job, bool ok, const char *why)
{
	struct emu_err err;
	emu_err_clear(&err);
	bool more = false;
	if (secrets_job_done(R.store, job, ok, why, clock_now(), &more, &err) < 0)
		log_error("rotation", "%s: cannot record the result of %s: %s", job->arn, secrets_step_name(job->step),
		          err.msg);
	if (more)
		rotation_kick();
}

static void on_exit_fd(struct loop *l, int fd, uint32_t events, void *ud)
{
	struct child *k = ud;
	int status = 0;
	pid_t r = waitpid(k->pid, &status, WNOHANG);
	if (r == 0 || (r < 0 && errno == EINTR))
		return;
	k->pid = 0;
	if (k->out_fd >= 0)
		drain(k->out_fd, &k->out);
	if (k->err_fd >= 0)
		drain(k->err_fd, &k->errb);
	log_stream(k, "stdout", &k->out);
	log_stream(k, "stderr", &k->errb);
	struct secrets_job job = k->job;
	bool timed_out = k->timed_out, cancelled = k->cancelled;
	long long ms = clock_mono_ms() - k->started_ms;
	child_release(k);

	char why[160];
	bool ok = false;
	if (r < 0)
		snprintf(why, sizeof why, "cannot reap the process: %s", strerror(errno));
	else if (timed_out)
		snprintf(why, sizeof why, "timed out after %lld ms", ms);
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		ok = true;
	else if (WIFEXITED(status))
		snprintf(why, sizeof why, "exit status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(why, sizeof why, "killed by signal %d", WTERMSIG(status));
	else
		snprintf(why, sizeof why, "ended abnormally");
	if (cancelled) {
		log_info("rotation", "%s: %s stopped: the rotation was cancelled", job.arn, secrets_step_name(job.step));
	} else {
		/* A failure is logged by the domain with what happens next. */
		if (ok)
			log_info("rotation", "%s: %s succeeded in %lld ms", job.arn, secrets_step_name(job.step), ms);
		record(&job, ok, ok ? NULL : why);
	}
	rotation_kick();
}

static void on_timeout(struct loop *l, long long id, void *ud)
{
	struct child *k = ud;
	k->timer = 0;
	k->timed_out = true;
	log_warn("rotation", "%s: %s timed out; killing process group %d", k->job.arn, secrets_step_name(k->job.step),
	         (int)k->pid);
	kill_group(k);
}

/* ---- spawning -------------------------------------------------------------------------------------- */

struct envv {
	char **v;
	size_t n, cap;
};

static void env_put(struct envv *e, const char *name, const char *value)
{
	size_t nl = strlen(name);
	for (size_t i = 0; i < e->n; i++) {
		if (strncmp(e->v[i], name, nl) == 0 && e->v[i][nl] == '=') {
			free(e->v[i]);
			e->v[i] = e->v[--e->n];
		}
	}
	if (e->n + 2 > e->cap) {
		e->cap = e->cap ? e->cap * 2 : 64;
		char **nv = realloc(e->v, e->cap * sizeof *nv);
		if (!nv)
			abort();
		e->v = nv;
	}
	char *kv = util_xcalloc(nl + strlen(value) + 2, 1);
	sprintf(kv, "%s=%s", name, value);
	e->v[e->n++] = kv;
	e->v[e->n] = NULL;
}

static void env_free(struct envv *e)
{
	for (size_t i = 0; i < e->n; i++) {
		OPENSSL_cleanse(e->v[i], strlen(e->v[i]));
		free(e->v[i]);
	}
	free(e->v);
}

/* The process environment minus everything that would point the child at
 * other credentials, regions or endpoints. */
static bool inherited(const char *kv)
{
	static const char *const drop[] = {"AWS_", "SECRETS_MANAGER_ENDPOINT=", "RDSEMU_LAMBDA_EVENT=", "_HANDLER=",
	                                   "LAMBDA_"};
	for (size_t i = 0; i < ARRAY_LEN(drop); i++)
		if (util_has_prefix(kv, drop[i]))
			return false;
	return strchr(kv, '=') != NULL;
}

static void credentials(const char *account, char id[128], char key[128], char token[2048])
{
	snprintf(id, 128, "test");
	snprintf(key, 128, "test");
	token[0] = '\0';
	sqlite3_stmt *st = store_prep(R.store, "SELECT access_key_id, secret_access_key, session_token FROM access_keys "
	                                       "WHERE account = ?1 AND status = 'Active' AND "
	                                       "(expires IS NULL OR expires > ?2) "
	                                       "ORDER BY (session_token IS NOT NULL), created LIMIT 1");
	if (!st)
		return;
	store_bind_text(st, 1, account);
	sqlite3_bind_double(st, 2, clock_now());
	if (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(id, 128, "%s", (const char *)sqlite3_column_text(st, 0));
		snprintf(key, 128, "%s", (const char *)sqlite3_column_text(st, 1));
		if (store_col_text(st, 2))
			snprintf(token, 2048, "%s", store_col_text(st, 2));
	} else {
		log_warn("rotation", "account %s has no active access key; the rotation function gets test/test", account);
	}
	sqlite3_reset(st);
}

static void build_env(struct envv *e, const struct secrets_job *job, const char *event, json_t *lambda_env,
                      int timeout)
{
	memset(e, 0, sizeof *e);
	for (char **p = environ; p && *p; p++) {
		if (!inherited(*p))
			continue;
		const char *eq = strchr(*p, '=');
		char name[256];
		if ((size_t)(eq - *p) >= sizeof name)
			continue;
		snprintf(name, sizeof name, "%.*s", (int)(eq - *p), *p);
		env_put(e, name, eq + 1);
	}
	char id[128], key[128], token[2048], num[32];
	credentials(job->account, id, key, token);
	env_put(e, "AWS_ENDPOINT_URL", R.endpoint);
	env_put(e, "SECRETS_MANAGER_ENDPOINT", R.endpoint);
	env_put(e, "AWS_REGION", job->region);
	env_put(e, "AWS_DEFAULT_REGION", job->region);
	env_put(e, "AWS_ACCESS_KEY_ID", id);
	env_put(e, "AWS_SECRET_ACCESS_KEY", key);
	if (token[0])
		env_put(e, "AWS_SESSION_TOKEN", token);
	env_put(e, "AWS_EC2_METADATA_DISABLED", "true");
	const char *fn = strstr(job->lambda_arn, ":function:");
	char name[256];
	snprintf(name, sizeof name, "%.200s", fn ? fn + 10 : job->lambda_arn);
	char *colon = strchr(name, ':');
	if (colon)
		*colon = '\0';
	env_put(e, "AWS_LAMBDA_FUNCTION_NAME", name);
	env_put(e, "RDSEMU_LAMBDA_ARN", job->lambda_arn);
	snprintf(num, sizeof num, "%d", timeout);
	env_put(e, "RDSEMU_LAMBDA_TIMEOUT", num);
	env_put(e, "RDSEMU_LAMBDA_EVENT", event);
	OPENSSL_cleanse(key, sizeof key);
	OPENSSL_cleanse(token, sizeof token);
	const char *k;
	json_t *v;
	json_object_foreach(lambda_env, k, v) if (json_is_string(v)) env_put(e, k, json_string_value(v));
}

static bool nonblock(int fd) { return fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == 0; }

/* Starts job->step in a free slot; on any failure records a failed step. */
static void start(struct child *k, const struct secrets_job *job)
{
	json_t *argvj = NULL, *envj = NULL;
	int timeout = 30;
	struct emu_err err;
	emu_err_clear(&err);
	if (secrets_lambda_get(R.store, job->lambda_arn, &argvj, &envj, &timeout, &err) < 0 || !json_is_array(argvj) ||
	    json_array_size(argvj) == 0) {
		json_decref(argvj);
		json_decref(envj);
		record(job, false, "the rotation Lambda function is not registered");
		return;
	}
	json_t *ev = json_pack("{s:s, s:s, s:s, s:s}", "Step", secrets_step_name(job->step), "SecretId", job->arn,
	                       "ClientRequestToken", job->version_id, "RotationToken", job->rotation_token);
	char *event = json_dumps(ev, JSON_COMPACT);
	json_decref(ev);

	size_t argc = json_array_size(argvj);
	char **argv = util_xcalloc(argc + 1, sizeof *argv);
	for (size_t i = 0; i < argc; i++)
		argv[i] = (char *)json_string_value(json_array_get(argvj, i));
	struct envv env;
	build_env(&env, job, event, json_is_object(envj) ? envj : NULL, timeout);

	int in[2] = {-1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1};
	pid_t pid = 0;
	int rc = -1, pidfd = -1;
	char why[200] = "";
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
		snprintf(why, sizeof why, "pipe: %s", strerror(errno));
		goto out;
	}
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
	sigset_t none, dfl;
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE);
	sigaddset(&dfl, SIGINT);
	sigaddset(&dfl, SIGTERM);
	sigaddset(&dfl, SIGCHLD);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &dfl);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	int serr = posix_spawnp(&pid, argv[0], &fa, &at, argv, env.v);
	if (serr != 0) {
		snprintf(why, sizeof why, "cannot start %s: %s", argv[0], strerror(serr));
		pid = 0;
		goto out;
	}
	close(in[0]);
	close(out[1]);
	close(errp[1]);
	in[0] = out[1] = errp[1] = -1;
	/* The event is small (< pipe buffer): one write, then EOF. */
	size_t elen = strlen(event);
	if (write(in[1], event, elen) != (ssize_t)elen)
		log_warn("rotation", "%s: could not write the whole event to the function's stdin", job->arn);
	close(in[1]);
	in[1] = -1;
	pidfd = pidfd_open(pid, 0);
	if (pidfd < 0) {
		snprintf(why, sizeof why, "pidfd_open: %s", strerror(errno));
		goto out;
	}
	memset(k, 0, sizeof *k);
	k->used = true;
	k->job = *job;
	k->pid = pid;
	k->pidfd = pidfd;
	k->out_fd = out[0];
	k->err_fd = errp[0];
	buf_init(&k->out, 0);
	buf_init(&k->errb, 0);
	k->started_ms = clock_mono_ms();
	out[0] = errp[0] = -1;
	if (!nonblock(k->out_fd) || !nonblock(k->err_fd) ||
	    loop_add_fd(R.loop, k->pidfd, EPOLLIN, on_exit_fd, k) < 0 ||
	    loop_add_fd(R.loop, k->out_fd, EPOLLIN, on_output, k) < 0 ||
	    loop_add_fd(R.loop, k->err_fd, EPOLLIN, on_output, k) < 0) {
		snprintf(why, sizeof why, "cannot watch the process: %s", strerror(errno));
		child_abort(k);
		pid = 0;
		goto out;
	}
	k->timer = loop_add_timer(R.loop, (long long)timeout * 1000, on_timeout, k);
	log_info("rotation", "%s: running %s (version %s) with %s, pid %d, timeout %d s", job->arn,
	         secrets_step_name(job->step), job->version_id, job->lambda_arn, (int)pid, timeout);
	rc = 0;
out:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	if (rc < 0 && pid > 0) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	env_free(&env);
	free(argv);
	OPENSSL_cleanse(event, strlen(event));
	free(event);
	json_decref(argvj);
	json_decref(envj);
	if (rc < 0)
		record(job, false, why);
}

/* ---- scheduling ------------------------------------------------------------------------------------- */

static void run_due(void)
{
	if (!R.up)
		return;
	/* A running step whose rotation was cancelled or whose secret was
	 * deleted is killed (its exit is then not recorded). */
	for (int i = 0; i < MAX_RUNNING; i++) {
		struct child *k = &R.kids[i];
		if (k->used && !k->cancelled && !secrets_job_current(R.store, k->job.secret_id, k->job.version_id)) {
			k->cancelled = true;
			kill_group(k);
		}
	}
	struct secrets_job jobs[32];
	int n = 0;
	struct emu_err err;
	emu_err_clear(&err);
	if (secrets_jobs_due(R.store, clock_now(), jobs, (int)ARRAY_LEN(jobs), &n, &err) < 0) {
		log_error("rotation", "cannot read due rotations: %s", err.msg);
		return;
	}
	for (int j = 0; j < n; j++) {
		int free_slot = -1;
		bool busy = false;
		for (int i = 0; i < MAX_RUNNING; i++) {
			if (R.kids[i].used && R.kids[i].job.secret_id == jobs[j].secret_id)
				busy = true;
			else if (!R.kids[i].used && free_slot < 0)
				free_slot = i;
		}
		if (busy)
			continue;
		if (free_slot < 0)
			break;
		start(&R.kids[free_slot], &jobs[j]);
	}
}

static void on_tick(struct loop *l, long long id, void *ud)
{
	R.tick = 0;
	run_due();
	if (R.up)
		R.tick = loop_add_timer(R.loop, TICK_MS, on_tick, NULL);
}

static void on_kick(struct loop *l, long long id, void *ud)
{
	R.kick = 0;
	run_due();
}

void rotation_kick(void)
{
	if (R.up && R.kick == 0)
		R.kick = loop_add_timer(R.loop, 0, on_kick, NULL);
}

int rotation_init(struct loop *l, struct store *s, const char *endpoint_url)
{
	if (R.up)
		return -1;
	memset(&R, 0, sizeof R);
	for (int i = 0; i < MAX_RUNNING; i++)
		R.kids[i].pidfd = R.kids[i].out_fd = R.kids[i].err_fd = -1;
	R.loop = l;
	R.store = s;
	R.endpoint = util_strdup(endpoint_url);
	R.up = true;
	R.tick = loop_add_timer(l, TICK_MS, on_tick, NULL);
	if (R.tick < 0) {
		free(R.endpoint);
		R.up = false;
		return -1;
	}
	rotation_kick(); /* resume work left by a previous run */
	return 0;
}

void rotation_cancel_all(void)
{
	if (!R.up)
		return;
	for (int i = 0; i < MAX_RUNNING; i++)
		if (R.kids[i].used)
			child_abort(&R.kids[i]);
}

void rotation_shutdown(void)
{
	if (!R.up)
		return;
	rotation_cancel_all();
	if (R.tick > 0)
		loop_del_timer(R.loop, R.tick);
	if (R.kick > 0)
		loop_del_timer(R.loop, R.kick);
	free(R.endpoint);
	memset(&R, 0, sizeof R);
}
