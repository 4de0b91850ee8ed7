/*
 * http.c owns the libmicrohttpd daemon (external epoll mode on our loop),
 * per-request state (raw URI, capped body, request id), routing, and the
 * rendering of every response and error for the JSON 1.1 and Query
 * protocols.  It calls auth (who), the body decoders, the model validator,
 * the service operation tables (what) and admin.  It never touches the
 * store itself except through those.
 *
 * Request flow (JSON protocol): route by X-Amz-Target -> authenticate
 * (SigV4, 5-minute window) -> decode body -> validate against the service
 * model -> operation -> render.  Query protocol: parse form/query ->
 * authenticate (15-minute window) -> Action lookup in the service named by
 * the credential scope.
 */
#include "api/http.h"

#include "api/admin.h"
#include "api/api.h"
#include "api/auth.h"
#include "api/authz.h"
#include "api/iam.h"
#include "api/rds.h"
#include "api/jsonreq.h"
#include "api/query.h"
#include "api/sigv4.h"
#include "api/sts.h"
#include "api/xmlout.h"
#include "emu/audit.h"
#include "emu/buf.h"
#include "emu/call.h"
#include "emu/clock.h"
#include "emu/log.h"
#include "emu/loop.h"
#include "emu/model.h"
#include "emu/store.h"
#include "emu/util.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#define MAX_HEADERS 128
#define JSON_WINDOW_S 300
#define QUERY_WINDOW_S 900

struct http_server {
	struct MHD_Daemon *d;
	struct loop *loop;
	struct http_env *env;
	int epfd;
	int port;
};

enum proto { PROTO_JSON, PROTO_QUERY, PROTO_ADMIN };

/* Per-request state: created by the URI log callback (before headers are
 * parsed) and freed by the completion callback. */
struct req {
	char *uri;          /* raw request target as received */
	struct buf body;
	bool started;
	bool too_large;
	long long t0_us;
	char id[37];
};

struct hdr_collect {
	struct sigv4_header h[MAX_HEADERS];
	size_t n;
	bool overflow;
};

static long long now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void *uri_cb(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct http_server *h = cls;
	struct req *r = util_xcalloc(1, sizeof *r);
	r->uri = util_strdup(uri);
	buf_init(&r->body, h->env->cfg->max_body);
	r->t0_us = now_us();
	util_request_id(r->id);
	return r;
}

static void completed_cb(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode t)
{
	struct req *r = *con_cls;
	if (!r)
		return;
	buf_free_secret(&r->body);
	free(r->uri);
	free(r);
	*con_cls = NULL;
}

static enum MHD_Result collect_hdr(void *cls, enum MHD_ValueKind kind, const char *k, const char *v)
{
	struct hdr_collect *hc = cls;
	if (hc->n >= MAX_HEADERS) {
		hc->overflow = true;
		return MHD_NO;
	}
	hc->h[hc->n++] = (struct sigv4_header){k, strlen(k), v ? v : "", v ? strlen(v) : 0};
	return MHD_YES;
}

static int send_resp(struct MHD_Connection *c, struct req *r, int status, const char *ctype, char *body, size_t len)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", ctype);
	MHD_add_response_header(resp, "x-amzn-RequestId", r->id);
	MHD_add_response_header(resp, "x-amz-request-id", r->id);
	enum MHD_Result rc = MHD_queue_response(c, (unsigned)status, resp);
	MHD_destroy_response(resp);
	return rc;
}

static int send_json(struct MHD_Connection *c, struct req *r, int status, json_t *body)
{
	char *s = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(13));
	if (!s)
		s = util_strdup("{}");
	return send_resp(c, r, status, "application/x-amz-json-1.1", s, strlen(s));
}

static int send_json_error(struct MHD_Connection *c, struct req *r, const struct emu_err *e)
{
	json_t *o = json_object();
	json_object_set_new(o, "__type", json_string(emu_err_json_type(e->code)));
	json_object_set_new(o, "message", json_string(e->msg[0] ? e->msg : emu_err_default_msg(e->code)));
	int rc = send_json(c, r, emu_err_json_status(e->code), o);
	json_decref(o);
	return rc;
}

static const char *query_ns(const char *service)
{
	if (strcmp(service, "sts") == 0)
		return model_sts.xml_namespace;
	if (strcmp(service, "iam") == 0)
		return model_iam.xml_namespace;
	return "http://rds.amazonaws.com/doc/2014-10-31/";
}

static int send_query_error(struct MHD_Connection *c, struct req *r, const char *service, const struct emu_err *e)
{
	struct buf b;
	buf_init(&b, 0);
	int status = emu_err_query_status(e->code);
	buf_printf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse xmlns=\"%s\">\n  <Error>\n    <Type>%s</Type>\n"
	               "    <Code>",
	           query_ns(service), status >= 500 ? "Receiver" : "Sender");
	buf_put_xml(&b, emu_err_query_code(e->code));
	buf_puts(&b, "</Code>\n    <Message>");
	buf_put_xml(&b, e->msg[0] ? e->msg : emu_err_default_msg(e->code));
	buf_printf(&b, "</Message>\n  </Error>\n  <RequestId>%s</RequestId>\n</ErrorResponse>\n", r->id);
	size_t len;
	char *s = buf_steal(&b, &len);
	return send_resp(c, r, status, "text/xml", s, len);
}

static void log_req(struct req *r, const char *method, const char *what, const char *akid, int status,
                    const struct emu_err *e)
{
	long long us = now_us() - r->t0_us;
	if (e && e->code != ERR_OK)
		log_info(r->id, "%s %s key=%s -> %d %s (%lld us)", method, what, akid && *akid ? akid : "-", status,
		         emu_err_json_type(e->code), us);
	else
		log_info(r->id, "%s %s key=%s -> %d (%lld us)", method, what, akid && *akid ? akid : "-", status, us);
}

static void split_uri(const char *uri, char *path, size_t pathsz, const char **query)
{
	const char *q = strchr(uri, '?');
	size_t n = q ? (size_t)(q - uri) : strlen(uri);
	if (n >= pathsz)
		n = pathsz - 1;
	memcpy(path, uri, n);
	path[n] = '\0';
	*query = q ? q + 1 : "";
}

static const char *hdr(struct hdr_collect *hc, const char *name)
{
	for (size_t i = 0; i < hc->n; i++)
		if (strcasecmp(hc->h[i].name, name) == 0)
			return hc->h[i].value;
	return NULL;
}

/* ---- JSON 1.1 protocol ------------------------------------------------ */

struct json_service {
	const char *prefix;   /* X-Amz-Target prefix before '.' */
	const char *signing;  /* SigV4 service name */
	const struct api_op *(*find)(const char *name, size_t len);
	const struct model_service *model;
	const char *event_source; /* CloudTrail eventSource */
};

static const struct json_service json_services[] = {
	{"secretsmanager", "secretsmanager", sm_op_find, &model_sm, "secretsmanager.amazonaws.com"},
	{"TrentService", "kms", kms_op_find, &model_kms, "kms.amazonaws.com"},
	{"com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101", "cloudtrail", ct_op_find, &model_cloudtrail,
	 "cloudtrail.amazonaws.com"},
};

static bool auth_failure(enum emu_err_code c)
{
	return c == ERR_MISSING_AUTH || c == ERR_INCOMPLETE_SIGNATURE || c == ERR_UNRECOGNIZED_CLIENT ||
	       c == ERR_INVALID_SIGNATURE || c == ERR_EXPIRED_TOKEN;
}

static const char *peer_ip(struct MHD_Connection *c, char *buf, size_t cap)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	buf[0] = '\0';
	if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)ci->client_addr)->sin_addr, buf,
		          (socklen_t)cap);
	return buf;
}

/* One audit event per API request: who, what, on which resource, and the
 * decision (Unauthenticated / Deny / Allow) with its reason. */
static void audit_api(struct MHD_Connection *c, struct req *r, const char *source, const char *op_name,
                      bool read_only, const struct auth_principal *who, const char *resource,
                      const struct emu_err *e)
{
	char ip[64];
	const char *decision = "Allow";
	if (e && e->code != ERR_OK)
		decision = auth_failure(e->code) ? "Unauthenticated" : e->code == ERR_ACCESS_DENIED ? "Deny" : "Allow";
	struct audit_event ev = {
		.time = clock_now(),
		.event_source = source,
		.event_name = op_name,
		.account = who->account,
		.region = who->region,
		.principal_arn = who->arn,
		.access_key_id = who->access_key_id,
		.resource_type = resource ? "AWS::SecretsManager::Secret" : NULL,
		.resource = resource,
		.request_id = r->id,
		.source_ip = peer_ip(c, ip, sizeof ip),
		.user_agent = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "User-Agent"),
		.read_only = read_only,
		.decision = decision,
		.error_code = e && e->code != ERR_OK ? emu_err_json_type(e->code) : NULL,
		.reason = e && e->code != ERR_OK ? e->msg : NULL,
	};
	audit_record(&ev);
}

static const char *resource_of(json_t *in, json_t *out)
{
	const char *keys[] = {"ARN", "SecretId", "Name"};
	for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
		json_t *v = json_object_get(i == 0 ? out : in, keys[i]);
		if (json_is_string(v))
			return json_string_value(v);
	}
	return NULL;
}

/*
 * Authorization of one operation.  Secret-scoped Secrets Manager operations
 * are authorized by the domain when it resolves the secret (it knows the ARN
 * and resource policy): they only get call->action set here.  Every other
 * operation is authorized here, on the resource its input names (IAM users,
 * roles, policies; the ARN a new secret will have) or "*".
 */
static bool sm_dispatch_level(const char *op)
{
	static const char *const ops[] = {"ListSecrets", "GetRandomPassword", "BatchGetSecretValue", "CreateSecret",
	                                  "ValidateResourcePolicy"};
	for (size_t i = 0; i < ARRAY_LEN(ops); i++)
		if (strcmp(ops[i], op) == 0)
			return true;
	return false;
}

/* Condition keys a Secrets Manager request carries (service authorization
 * reference: aws:RequestTag/KEY, aws:TagKeys, secretsmanager:Name, ...). */
static json_t *sm_request_cond(json_t *in)
{
	json_t *c = json_object();
	static const char *const plain[][2] = {
		{"Name", "secretsmanager:Name"},
		{"Description", "secretsmanager:Description"},
		{"KmsKeyId", "secretsmanager:KmsKeyId"},
		{"VersionId", "secretsmanager:VersionId"},
		{"VersionStage", "secretsmanager:VersionStage"},
		{"RotationLambdaARN", "secretsmanager:RotationLambdaARN"},
		{"SecretId", "secretsmanager:SecretId"},
	};
	for (size_t i = 0; i < ARRAY_LEN(plain); i++) {
		json_t *v = json_object_get(in, plain[i][0]);
		if (json_is_string(v))
			json_object_set_new(c, plain[i][1], json_pack("[O]", v));
	}
	json_t *b = json_object_get(in, "ForceDeleteWithoutRecovery");
	if (json_is_boolean(b))
		json_object_set_new(c, "secretsmanager:ForceDeleteWithoutRecovery", json_pack("[s]", json_is_true(b) ? "true" : "false"));
	b = json_object_get(in, "BlockPublicPolicy");
	if (json_is_boolean(b))
		json_object_set_new(c, "secretsmanager:BlockPublicPolicy", json_pack("[s]", json_is_true(b) ? "true" : "false"));
	json_t *tags = json_object_get(in, "Tags"), *t;
	size_t i;
	if (json_is_array(tags)) {
		json_t *keys = json_array();
		json_array_foreach(tags, i, t) {
			const char *k = json_string_value(json_object_get(t, "Key"));
			const char *v = json_string_value(json_object_get(t, "Value"));
			if (!k)
				continue;
			json_array_append_new(keys, json_string(k));
			char name[200];
			snprintf(name, sizeof name, "aws:RequestTag/%.128s", k);
			json_object_set_new(c, name, json_pack("[s]", v ? v : ""));
		}
		json_object_set_new(c, "aws:TagKeys", keys);
	}
	json_t *tk = json_object_get(in, "TagKeys");
	if (json_is_array(tk))
		json_object_set(c, "aws:TagKeys", tk);
	return c;
}

static int authorize_op(struct emu_call *call, const char *signing, const struct api_op *op, json_t *in,
                        struct emu_err *e)
{
	/* GetCallerIdentity and GetSessionToken need no permission (an explicit
	 * Deny does not block them); AssumeRole is authorized by the STS domain
	 * against the role's trust policy, which it loads. */
	if (strcmp(op->iam_action, "sts:GetCallerIdentity") == 0 || strcmp(op->iam_action, "sts:GetSessionToken") == 0 ||
	    strcmp(op->iam_action, "sts:AssumeRole") == 0)
		return 0;
	char res[1200] = "*";
	const char *v;
	if (strcmp(signing, "secretsmanager") == 0) {
		call->cond = sm_request_cond(in);
		if (!sm_dispatch_level(op->name)) {
			call->action = op->iam_action;
			return 0;
		}
		if (strcmp(op->name, "CreateSecret") == 0 && (v = json_string_value(json_object_get(in, "Name"))))
			snprintf(res, sizeof res, "arn:aws:secretsmanager:%s:%s:secret:%.512s", call->region, call->account, v);
	} else if (strcmp(signing, "iam") == 0) {
		if ((v = json_string_value(json_object_get(in, "PolicyArn"))))
			snprintf(res, sizeof res, "%.1100s", v);
		else if ((v = json_string_value(json_object_get(in, "RoleName"))))
			snprintf(res, sizeof res, "arn:aws:iam::%s:role/%.128s", call->account, v);
		else if ((v = json_string_value(json_object_get(in, "UserName"))))
			snprintf(res, sizeof res, "arn:aws:iam::%s:user/%.128s", call->account, v);
	} else if (strcmp(signing, "sts") == 0) {
		if ((v = json_string_value(json_object_get(in, "RoleArn"))))
			snprintf(res, sizeof res, "%.1100s", v);
	} else if (strcmp(signing, "rds") == 0) {
		rds_authz_resource(call, in, res, sizeof res);
	} else if (strcmp(signing, "kms") == 0) {
		/* A key named by ARN or id is the resource; an alias is resolved by
		 * KMS itself, so it is authorized here on "*". */
		if ((v = json_string_value(json_object_get(in, "KeyId")))) {
			if (util_has_prefix(v, "arn:aws:kms:") && strstr(v, ":key/"))
				snprintf(res, sizeof res, "%.1100s", v);
			else if (!util_has_prefix(v, "alias/") && !util_has_prefix(v, "arn:"))
				snprintf(res, sizeof res, "arn:aws:kms:%s:%s:key/%.64s", call->region, call->account, v);
		}
	}
	return authz_check(call, op->iam_action, res, NULL, NULL, e);
}

/* The call context of an authenticated request, its authorization, and the
 * operation itself (shared by the JSON and Query protocols). */
static int run_op(struct http_server *h, struct MHD_Connection *c, struct req *r, const struct auth_principal *who,
                  const char *signing, const struct api_op *op, json_t *in, json_t **out, struct emu_err *e)
{
	char ip[64];
	struct emu_call call = {
		.store = h->env->store,
		.account = who->account,
		.region = who->region,
		.principal_arn = who->arn,
		.user_id = who->user_id,
		.access_key_id = who->access_key_id,
		.request_id = r->id,
		.now = clock_now(),
		.source_ip = peer_ip(c, ip, sizeof ip),
	};
	int rc = authorize_op(&call, signing, op, in, e);
	if (rc == 0)
		rc = op->fn(&call, in, out, e);
	json_decref(call.cond);
	return rc;
}

static int handle_json(struct http_server *h, struct MHD_Connection *c, struct req *r, const char *method,
                       struct sigv4_request *sreq, const char *target)
{
	struct emu_err e;
	emu_err_clear(&e);
	const char *dot = strrchr(target, '.');
	const struct json_service *svc = NULL;
	for (size_t i = 0; dot && i < ARRAY_LEN(json_services); i++)
		if (strlen(json_services[i].prefix) == (size_t)(dot - target) &&
		    strncmp(json_services[i].prefix, target, (size_t)(dot - target)) == 0)
			svc = &json_services[i];
	struct auth_principal who;
	memset(&who, 0, sizeof who);
	json_t *in = NULL, *out = NULL;
	const struct api_op *op = NULL;
	int rc;

	if (strcmp(method, "POST") != 0) {
		emu_err_set(&e, ERR_UNKNOWN_OPERATION, "Only POST is supported for this protocol.");
		goto fail;
	}
	/* Before authentication: the body was not kept whole, so its signature
	 * cannot be checked, and a signature error would blame the credentials. */
	if (r->too_large) {
		emu_err_set(&e, ERR_REQUEST_TOO_LARGE, NULL);
		goto fail;
	}
	if (auth_request(h->env->store, h->env->cfg, sreq, JSON_WINDOW_S, svc ? svc->signing : NULL, &who, &e) < 0)
		goto fail;
	op = svc ? svc->find(dot + 1, strlen(dot + 1)) : NULL;
	if (!op) {
		emu_err_set(&e, ERR_UNKNOWN_OPERATION, NULL);
		goto fail;
	}
	if (jsonreq_decode(r->body.data ? r->body.data : "", r->body.len, &in, &e) < 0)
		goto fail;
	if (model_validate(svc->model, op->name, in, &e) < 0)
		goto fail;
	if (run_op(h, c, r, &who, svc->signing, op, in, &out, &e) < 0)
		goto fail;
	if (!out)
		out = json_object();
	audit_api(c, r, svc->event_source, op->name, !op->write, &who, resource_of(in, out), NULL);
	json_decref(in);
	rc = send_json(c, r, 200, out);
	json_decref(out);
	log_req(r, method, target, who.access_key_id, 200, NULL);
	return rc;
fail:
	/* Unauthenticated requests are audited too: they are the decisions a
	 * misconfiguration hunt most needs to see. */
	audit_api(c, r, svc ? svc->event_source : "unknown", op ? op->name : (dot ? dot + 1 : target),
	          op ? !op->write : true, &who, resource_of(in, out), &e);
	json_decref(in);
	json_decref(out);
	if (e.code == ERR_INTERNAL)
		log_error(r->id, "%s failed: %s", target, e.msg);
	log_req(r, method, target, who.access_key_id, emu_err_json_status(e.code), &e);
	return send_json_error(c, r, &e);
}

/* ---- Query protocol ---------------------------------------------------- */

static void clean_copy(char *dst, size_t cap, const char *src)
{
	size_t i = 0;
	for (; src[i] && i + 1 < cap; i++)
		dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '?';
	dst[i] = '\0';
}

struct query_service {
	const char *signing; /* SigV4 service name in the credential scope */
	const struct api_op *(*find)(const char *name, size_t len);
	const struct model_service *model;
};

static const struct query_service query_services[] = {
	{"sts", sts_op_find, &model_sts},
	{"iam", iam_op_find, &model_iam},
	{"rds", rds_op_find, &model_rds},
};

static const struct query_service *query_service_of(const char *signing)
{
	for (size_t i = 0; i < ARRAY_LEN(query_services); i++)
		if (strcmp(query_services[i].signing, signing) == 0)
			return &query_services[i];
	return NULL;
}

static int handle_query(struct http_server *h, struct MHD_Connection *c, struct req *r, const char *method,
                        struct sigv4_request *sreq, const char *query)
{
	struct emu_err e;
	emu_err_clear(&e);
	struct query_params qp;
	memset(&qp, 0, sizeof qp);
	struct auth_principal who;
	memset(&who, 0, sizeof who);
	char service[64] = "rds";
	const char *src = strcmp(method, "GET") == 0 ? query : (r->body.data ? r->body.data : "");
	size_t srclen = strcmp(method, "GET") == 0 ? strlen(query) : r->body.len;
	char what[160] = "?";
	json_t *in = NULL, *out = NULL;
	const struct api_op *op = NULL;

	if (r->too_large) {
		emu_err_set(&e, ERR_REQUEST_TOO_LARGE, NULL);
		goto fail;
	}
	if (query_parse(src, srclen, &qp, &e) < 0)
		goto fail;
	const char *action = query_get(&qp, "Action");
	const char *version = query_get(&qp, "Version");
	snprintf(what, sizeof what, "%s", action ? action : "(no Action)");
	int arc = auth_request(h->env->store, h->env->cfg, sreq, QUERY_WINDOW_S, NULL, &who, &e);
	if (who.service[0])
		snprintf(service, sizeof service, "%s", who.service);
	if (arc < 0)
		goto fail;
	const struct query_service *svc = query_service_of(who.service);
	op = svc && action ? svc->find(action, strlen(action)) : NULL;
	if (!action) {
		emu_err_set(&e, ERR_MISSING_PARAMETER, "The request must contain the parameter Action");
		goto fail;
	}
	if (!op) {
		/* User text echoed in an error is capped and kept to printable ASCII. */
		char act[65], ver[33];
		clean_copy(act, sizeof act, action);
		clean_copy(ver, sizeof ver, version ? version : "NO_VERSION_SPECIFIED");
		emu_err_set(&e, ERR_UNKNOWN_OPERATION, "Could not find operation %s for version %s", act, ver);
		goto fail;
	}
	if (query_to_json(svc->model, op->name, &qp, &in, &e) < 0 || model_validate(svc->model, op->name, in, &e) < 0)
		goto fail;
	if (run_op(h, c, r, &who, svc->signing, op, in, &out, &e) < 0)
		goto fail;
	if (!out)
		out = json_object();
	struct buf b;
	buf_init(&b, 8 << 20);
	if (xmlout_render(svc->model, op->name, out, r->id, &b, &e) < 0) {
		buf_free(&b);
		goto fail;
	}
	char evsrc[96];
	snprintf(evsrc, sizeof evsrc, "%s.amazonaws.com", service);
	audit_api(c, r, evsrc, op->name, !op->write, &who, NULL, NULL);
	json_decref(in);
	json_decref(out);
	query_free(&qp);
	log_req(r, method, what, who.access_key_id, 200, NULL);
	size_t len;
	char *xml = buf_steal(&b, &len);
	return send_resp(c, r, 200, "text/xml", xml, len);
fail:
	json_decref(in);
	json_decref(out);
	query_free(&qp);
	{
		char fsrc[96];
		snprintf(fsrc, sizeof fsrc, "%s.amazonaws.com", service);
		audit_api(c, r, fsrc, op ? op->name : what, op ? !op->write : true, &who, NULL, &e);
		if (e.code == ERR_INTERNAL)
			log_error(r->id, "%s failed: %s", what, e.msg);
		log_req(r, method, what, who.access_key_id, emu_err_query_status(e.code), &e);
		return send_query_error(c, r, service, &e);
	}
}

/* ---- dispatch ---------------------------------------------------------- */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	struct http_server *h = cls;
	struct req *r = *con_cls;
	if (!r)
		return MHD_NO; /* URI callback always runs first; be safe */
	if (!r->started) {
		r->started = true;
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
		if (cl && strtoull(cl, NULL, 10) > h->env->cfg->max_body)
			r->too_large = true; /* the body is drained and the request answered 413 */
		return MHD_YES;
	}
	if (*upload_size) {
		if (!r->too_large && !buf_put(&r->body, upload, *upload_size))
			r->too_large = true;
		*upload_size = 0;
		return MHD_YES;
	}

	char path[1024];
	const char *query;
	split_uri(r->uri, path, sizeof path, &query);
	store_touch(); /* whatever this request changes, data-plane caches re-read it */

	if (util_has_prefix(path, "/_rdsemu/") || util_has_prefix(path, "/moto-api/") ||
	    util_has_prefix(path, "/_localstack/")) {
		int status = 200;
		struct buf out;
		buf_init(&out, 0);
		admin_handle(h->env, method, path, r->too_large ? NULL : r->body.data, r->body.len, &status, &out);
		size_t len;
		char *s = buf_steal(&out, &len);
		log_req(r, method, path, NULL, status, NULL);
		const char *type = status != 200                              ? "application/json"
		                   : strcmp(path, "/_rdsemu/ca.pem") == 0     ? "application/x-pem-file"
		                   : strcmp(path, "/_rdsemu/metrics") == 0    ? "text/plain; version=0.0.4"
		                                                              : "application/json";
		return send_resp(c, r, status, type, s, len) ? MHD_YES : MHD_NO;
	}

	struct hdr_collect hc;
	hc.n = 0;
	hc.overflow = false;
	MHD_get_connection_values(c, MHD_HEADER_KIND, collect_hdr, &hc);
	struct sigv4_request sreq = {
		.method = method,
		.path = path,
		.query = query,
		.headers = hc.h,
		.nheaders = hc.n,
		.body = r->body.data ? r->body.data : "",
		.body_len = r->body.len,
	};
	const char *target = hdr(&hc, "X-Amz-Target");
	int rc;
	if (hc.overflow) {
		struct emu_err e;
		emu_err_set(&e, ERR_INCOMPLETE_SIGNATURE, "Too many headers.");
		rc = send_json_error(c, r, &e);
	} else if (target) {
		rc = handle_json(h, c, r, method, &sreq, target);
	} else if (strcmp(path, "/") == 0 && (strcmp(method, "POST") == 0 || strcmp(method, "GET") == 0)) {
		rc = handle_query(h, c, r, method, &sreq, query);
	} else {
		struct emu_err e;
		emu_err_set(&e, ERR_NOT_FOUND_ROUTE, "No AWS API or admin endpoint at %.200s", path);
		log_req(r, method, path, NULL, 404, &e);
		rc = send_json_error(c, r, &e);
	}
	return rc ? MHD_YES : MHD_NO;
}

static void on_epoll(struct loop *l, int fd, uint32_t events, void *ud)
{
	struct http_server *h = ud;
	MHD_run(h->d);
}

static long long before_sleep(struct loop *l, void *ud)
{
	struct http_server *h = ud;
	MHD_UNSIGNED_LONG_LONG t;
	if (MHD_get_timeout(h->d, &t) == MHD_YES) {
		if (t == 0)
			MHD_run(h->d);
		return (long long)t;
	}
	return -1;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	vsnprintf(msg, sizeof msg, fmt, ap);
	log_debug("http", "%s", msg);
}

int http_start(struct http_server **out, struct loop *l, struct http_env *env, struct emu_err *err)
{
	struct http_server *h = util_xcalloc(1, sizeof *h);
	h->loop = l;
	h->env = env;
	struct sockaddr_in sin;
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)env->cfg->port);
	const char *addr = env->cfg->listen;
	if (strcmp(addr, "localhost") == 0)
		addr = "127.0.0.1";
	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1) {
		free(h);
		return emu_err_set(err, ERR_VALIDATION, "--listen %s is not an IPv4 address", env->cfg->listen);
	}
	h->d = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_TURBO | MHD_USE_ERROR_LOG | MHD_USE_SUPPRESS_DATE_NO_CLOCK, 0, NULL, NULL,
	                        on_request, h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin,
	                        MHD_OPTION_URI_LOG_CALLBACK, uri_cb, h, MHD_OPTION_NOTIFY_COMPLETED, completed_cb, h,
	                        MHD_OPTION_CONNECTION_LIMIT, (unsigned)env->cfg->max_connections,
	                        MHD_OPTION_CONNECTION_TIMEOUT, 120u, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	                        (size_t)32 * 1024, MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
	                        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_END);
	if (!h->d) {
		free(h);
		return emu_err_set(err, ERR_INTERNAL, "cannot listen on %s:%d (in use?)", env->cfg->listen, env->cfg->port);
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
	const union MHD_DaemonInfo *pi = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
	h->epfd = di ? di->epoll_fd : -1;
	h->port = pi ? pi->port : env->cfg->port;
	if (h->epfd < 0 || loop_add_fd(l, h->epfd, EPOLLIN, on_epoll, h) < 0) {
		MHD_stop_daemon(h->d);
		free(h);
		return emu_err_set(err, ERR_INTERNAL, "cannot attach the HTTP server to the event loop");
	}
	loop_add_before_sleep(l, before_sleep, h);
	*out = h;
	return 0;
}

void http_stop(struct http_server *h)
{
	if (!h)
		return;
	loop_del_fd(h->loop, h->epfd);
	MHD_stop_daemon(h->d);
	free(h);
}

int http_port(const struct http_server *h) { return h->port; }
