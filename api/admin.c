/*
 * admin.c owns the admin endpoints.  Thin: each route decodes its body,
 * calls the process's reset/fixture hooks or the clock, and renders JSON.
 *
 *   GET  /_rdsemu/health               200 {"status":"ok",...} once serving
 *   POST /_rdsemu/reset                wipe state, re-seed, reload start-up fixtures
 *   POST /_rdsemu/fixtures             load the fixture document in the body
 *   POST /_rdsemu/token/explain        why an RDS IAM auth token would be accepted or refused, check by check
 *   GET  /_rdsemu/audit                the newest 1000 audit events, CloudTrail records as JSON lines
 *   GET  /_rdsemu/clock                {"now":..., "offset_seconds":...}
 *   POST /_rdsemu/clock                {"offset_seconds": N} or {"advance_seconds": N}
 *   GET  /_rdsemu/ca.pem               the local CA certificate (PEM) the database endpoints' TLS chains to
 *   GET  /_rdsemu/proxy/metrics        RDS Proxy metrics per proxy (CloudWatch names), JSON
 *   GET  /_rdsemu/metrics              the same in Prometheus text format
 *   POST /moto-api/reset               moto's reset (answers {"status": "ok"})
 *   POST /_localstack/state/reset      LocalStack's reset (also .../state/<service>/reset)
 *   GET  /_localstack/health           LocalStack-shaped health
 */
#include "api/admin.h"

#include <stdlib.h>

#include "api/auth.h"
#include "api/tokencheck.h"
#include "emu/audit.h"
#include "emu/clock.h"
#include "emu/log.h"
#include "emu/store.h"
#include "emu/util.h"

#include <jansson.h>
#include <string.h>

static void put_json(struct buf *out, json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(13));
	buf_puts(out, s ? s : "{}");
	free(s);
	json_decref(j);
}

static void fail(struct buf *out, int *status, int code, const char *type, const char *msg)
{
	*status = code;
	put_json(out, json_pack("{s:s,s:s}", "__type", type, "message", msg));
}

static void do_reset(struct http_env *env, int *status, struct buf *out)
{
	struct emu_err e;
	emu_err_clear(&e);
	if (env->reset(env->ud, &e) < 0) {
		fail(out, status, 500, "InternalServiceError", e.msg);
		return;
	}
	put_json(out, json_pack("{s:s}", "status", "ok"));
}

static json_t *parse_body(const char *body, size_t len, int *status, struct buf *out)
{
	json_error_t je;
	json_t *j = body && len ? json_loadb(body, len, JSON_REJECT_DUPLICATES, &je) : NULL;
	if (!j || !json_is_object(j)) {
		char msg[256];
		snprintf(msg, sizeof msg, "body must be a JSON object%s%s", j ? "" : ": ", j ? "" : (body ? je.text : "empty"));
		json_decref(j);
		fail(out, status, 400, "SerializationException", msg);
		return NULL;
	}
	return j;
}

void admin_handle(struct http_env *env, const char *method, const char *path, const char *body, size_t len,
                  int *status, struct buf *out)
{
	bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
	*status = 200;
	if (strcmp(path, "/_rdsemu/health") == 0 || strcmp(path, "/_localstack/health") == 0) {
		if (!get && strcmp(method, "HEAD") != 0)
			goto method;
		json_t *svc = json_pack("{s:s,s:s,s:s,s:s}", "secretsmanager", "running", "sts", "running", "iam", "running",
		                         "cloudtrail", "running");
		if (strcmp(path, "/_localstack/health") == 0) {
			put_json(out, json_pack("{s:o,s:s,s:s}", "services", svc, "edition", "rdsemu", "version", "0.1.0"));
			return;
		}
		put_json(out, json_pack("{s:s,s:s,s:o,s:s,s:s,s:s,s:b,s:i}", "status", "ok", "version", "0.1.0",
		                        "services", svc, "auth", config_auth_name(env->cfg->auth), "account_id",
		                        env->cfg->account_id, "region", env->cfg->region, "ephemeral",
		                        env->cfg->ephemeral, "schema", store_schema_version(env->store)));
		return;
	}
	if (strcmp(path, "/_rdsemu/reset") == 0 || strcmp(path, "/moto-api/reset") == 0 ||
	    strcmp(path, "/_localstack/state/reset") == 0 ||
	    (util_has_prefix(path, "/_localstack/state/") && util_has_suffix(path, "/reset"))) {
		if (!post)
			goto method;
		do_reset(env, status, out);
		return;
	}
	if (strcmp(path, "/_rdsemu/fixtures") == 0) {
		if (!post)
			goto method;
		json_t *doc = parse_body(body, len, status, out);
		if (!doc)
			return;
		struct emu_err e;
		emu_err_clear(&e);
		int rc = env->load_fixture(env->ud, doc, &e);
		json_decref(doc);
		if (rc < 0) {
			fail(out, status, emu_err_json_status(e.code), emu_err_json_type(e.code), e.msg);
			return;
		}
		auth_cache_clear();
		put_json(out, json_pack("{s:s}", "status", "ok"));
		return;
	}
	if (strcmp(path, "/_rdsemu/token/explain") == 0) {
		if (!post)
			goto method;
		json_t *req = parse_body(body, len, status, out);
		if (!req)
			return;
		json_t *res = NULL;
		struct emu_err e;
		emu_err_clear(&e);
		int rc = tokencheck_explain(env->store, env->cfg, req, &res, &e);
		json_decref(req);
		if (rc < 0) {
			fail(out, status, 400, emu_err_json_type(e.code), e.msg);
			return;
		}
		put_json(out, res);
		return;
	}
	if (strcmp(path, "/_rdsemu/audit") == 0) {
		if (!get)
			goto method;
		struct emu_err e;
		emu_err_clear(&e);
		audit_flush(env->store);
		if (audit_dump_jsonl(env->store, NULL, 1000, out, &e) < 0)
			fail(out, status, 500, "InternalServiceError", e.msg);
		return;
	}
	if (strcmp(path, "/_rdsemu/clock") == 0) {
		if (post) {
			json_t *j = parse_body(body, len, status, out);
			if (!j)
				return;
			json_t *off = json_object_get(j, "offset_seconds"), *adv = json_object_get(j, "advance_seconds");
			if (off && json_is_number(off)) {
				clock_set_offset(json_number_value(off));
			} else if (adv && json_is_number(adv)) {
				clock_set_offset(clock_offset() + json_number_value(adv));
			} else {
				json_decref(j);
				fail(out, status, 400, "ValidationException", "give offset_seconds or advance_seconds (a number)");
				return;
			}
			json_decref(j);
			log_info("admin", "domain clock offset now %.3f s", clock_offset());
		} else if (!get) {
			goto method;
		}
		char iso[25];
		clock_fmt_iso(clock_now(), iso);
		put_json(out, json_pack("{s:f,s:s,s:f}", "now", clock_now(), "now_iso", iso, "offset_seconds", clock_offset()));
		return;
	}
	if (strcmp(path, "/_rdsemu/ca.pem") == 0) {
		if (!get)
			goto method;
		const char *pem = env->ca_pem ? env->ca_pem() : NULL;
		if (!pem) {
			fail(out, status, 404, "ResourceNotFoundException", "no local CA: TLS is not initialised");
			return;
		}
		buf_puts(out, pem); /* http.c: Content-Type application/x-pem-file for this path */
		return;
	}
	if (strcmp(path, "/_rdsemu/proxy/metrics") == 0 || strcmp(path, "/_rdsemu/metrics") == 0) {
		if (!get)
			goto method;
		char *m = env->proxy_metrics ? env->proxy_metrics(path[9] == 'p' ? "json" : "prometheus") : NULL;
		if (!m) {
			fail(out, status, 404, "ResourceNotFoundException", "no proxy data plane");
			return;
		}
		buf_puts(out, m); /* http.c: text/plain for /_rdsemu/metrics */
		free(m);
		return;
	}
	fail(out, status, 404, "ResourceNotFoundException", "no such admin endpoint");
	return;
method:
	fail(out, status, 405, "MethodNotAllowed", "method not allowed on this admin endpoint");
}
