/*
 * secrets_list.c owns the Secrets Manager listing operations: ListSecrets
 * (filters, sort, pagination), ListSecretVersionIds and
 * BatchGetSecretValue (aws-behaviour.md 5.2, 5.6), and the opaque
 * NextToken they share.
 *
 * May call: secrets.c (secrets_int.h), store, util.  Invariants: a
 * NextToken is bound to the listing that produced it (account, region,
 * operation, filters, sort); any other token is InvalidNextTokenException.
 * Listings read a snapshot and page through it by offset.
 */
#include "emu/secrets_int.h"

#include "emu/buf.h"
#include "emu/util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- NextToken ------------------------------------------------------------------ */

static void token_mac(const char *what, size_t off, char out[17])
{
	struct buf b;
	buf_init(&b, 0);
	buf_printf(&b, "rdsemu-nexttoken-v1|%s|%zu", what, off);
	char hex[65];
	util_sha256_hex(buf_cstr(&b), b.len, hex);
	buf_free(&b);
	memcpy(out, hex, 16);
	out[16] = '\0';
}

char *secrets_token_make(const char *what, size_t off)
{
	char mac[17], *t = util_xcalloc(40, 1);
	token_mac(what, off, mac);
	snprintf(t, 40, "%s%08zx", mac, off);
	return t;
}

int secrets_token_parse(const char *token, const char *what, size_t *off, struct emu_err *err)
{
	if (!token || strlen(token) != 24)
		return emu_err_set(err, ERR_SM_INVALID_NEXT_TOKEN, NULL);
	for (int i = 0; i < 24; i++)
		if (!isxdigit((unsigned char)token[i]))
			return emu_err_set(err, ERR_SM_INVALID_NEXT_TOKEN, NULL);
	size_t o = (size_t)strtoul(token + 16, NULL, 16);
	char mac[17];
	token_mac(what, o, mac);
	if (strncmp(mac, token, 16) != 0)
		return emu_err_set(err, ERR_SM_INVALID_NEXT_TOKEN, NULL);
	*off = o;
	return 0;
}

/* ---- filters ------------------------------------------------------------------------ */

static const char *const filter_keys[] = {"description", "name", "tag-key", "tag-value", "primary-region",
                                          "owning-service", "all"};

int secrets_in_filters(json_t *in, json_t **out, struct emu_err *err)
{
	*out = NULL;
	json_t *f = json_object_get(in, "Filters");
	if (!f || json_is_null(f))
		return 0;
	if (!json_is_array(f))
		return emu_err_set(err, ERR_SERIALIZATION, "Unexpected value type for member Filters: expected a list.");
	if (json_array_size(f) > 10)
		return emu_err_set(err, ERR_VALIDATION,
		                   "1 validation error detected: Value at 'filters' failed to satisfy constraint: "
		                   "Member must have length less than or equal to 10");
	size_t i;
	json_t *e;
	json_array_foreach(f, i, e) {
		const char *key;
		json_t *vals;
		if (!json_is_object(e))
			return emu_err_set(err, ERR_SERIALIZATION, "Unexpected value type for member Filters: expected a "
			                                           "list of filters.");
		if (secrets_in_str(e, "Key", true, 1, 64, &key, err) < 0 ||
		    secrets_in_strlist(e, "Values", true, 1, 10, 1, 512, &vals, err) < 0)
			return -1;
		bool known = false;
		for (size_t k = 0; k < ARRAY_LEN(filter_keys); k++)
			known |= strcmp(key, filter_keys[k]) == 0;
		if (!known)
			return emu_err_set(err, ERR_VALIDATION,
			                   "1 validation error detected: Value '%.64s' at 'filters.%zu.member.key' failed to "
			                   "satisfy constraint: Member must satisfy enum value set: [all, name, tag-key, "
			                   "description, tag-value, owning-service, primary-region]",
			                   key, i + 1);
	}
	*out = f;
	return 0;
}

struct cand {
	long long id;
	char *name, *desc, *primary, *owner;
	double created, accessed, changed;
	json_t *tag_keys, *tag_vals; /* arrays of strings */
};

static bool pfx(const char *s, const char *p, bool ci)
{
	size_t n = strlen(p);
	return s && (ci ? strncasecmp(s, p, n) == 0 : strncmp(s, p, n) == 0);
}

/* Case-insensitive prefix of the whole string or of any word in it
 * (words split at characters other than letters and digits). */
static bool word_pfx(const char *s, const char *p)
{
	if (!s)
		return false;
	if (pfx(s, p, true))
		return true;
	for (const char *q = s; *q; q++)
		if (!isalnum((unsigned char)q[0]) && q[1] && isalnum((unsigned char)q[1]) && pfx(q + 1, p, true))
			return true;
	return false;
}

static bool any_pfx(json_t *arr, const char *p, bool words)
{
	size_t i;
	json_t *e;
	json_array_foreach(arr, i, e) if (words ? word_pfx(json_string_value(e), p) : pfx(json_string_value(e), p, false))
		return true;
	return false;
}

/* `all`: every word of the value must prefix-match (case-insensitively) a
 * word of some attribute.  [E] The exact semantics are undocumented. */
static bool match_all(const struct cand *c, const char *v)
{
	char *copy = util_strdup(v), *save = NULL;
	bool okall = true, any = false;
	for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
		any = true;
		if (!(word_pfx(c->name, w) || word_pfx(c->desc, w) || word_pfx(c->primary, w) || word_pfx(c->owner, w) ||
		      any_pfx(c->tag_keys, w, true) || any_pfx(c->tag_vals, w, true))) {
			okall = false;
			break;
		}
	}
	free(copy);
	return okall && any;
}

static bool match_value(const struct cand *c, const char *key, const char *value)
{
	bool neg = value[0] == '!';
	const char *v = neg ? value + 1 : value;
	bool hit;
	if (strcmp(key, "name") == 0)
		hit = pfx(c->name, v, false);
	else if (strcmp(key, "description") == 0)
		/* [M] says a case-insensitive prefix match; moto observed word
		 * matching [E]: both are accepted. */
		hit = word_pfx(c->desc, v);
	else if (strcmp(key, "tag-key") == 0)
		hit = any_pfx(c->tag_keys, v, false);
	else if (strcmp(key, "tag-value") == 0)
		hit = any_pfx(c->tag_vals, v, false);
	else if (strcmp(key, "primary-region") == 0)
		hit = pfx(c->primary, v, false);
	else if (strcmp(key, "owning-service") == 0)
		hit = pfx(c->owner, v, false);
	else
		hit = match_all(c, v);
	/* "!v" matches the secrets for which v matches no attribute value
	 * (AWS's example: tag-key "!Environment" = no tag key starting with
	 * Environment). */
	return neg ? !hit : hit;
}

/* AND across filters, OR across the values of one filter. */
static bool match(const struct cand *c, json_t *filters)
{
	size_t i, j;
	json_t *f, *v;
	json_array_foreach(filters, i, f) {
		const char *key = json_string_value(json_object_get(f, "Key"));
		bool one = false;
		json_array_foreach(json_object_get(f, "Values"), j, v) if (match_value(c, key, json_string_value(v))) {
			one = true;
			break;
		}
		if (!one)
			return false;
	}
	return true;
}

struct sort_spec {
	const char *key;
	bool asc;
};

static int cmp_d(double a, double b) { return a < b ? -1 : a > b ? 1 : 0; }

static int cand_cmp(const void *pa, const void *pb, void *ud)
{
	const struct cand *a = pa, *b = pb;
	const struct sort_spec *sp = ud;
	int c;
	if (strcmp(sp->key, "name") == 0)
		c = strcmp(a->name, b->name);
	else if (strcmp(sp->key, "last-accessed-date") == 0)
		c = cmp_d(a->accessed, b->accessed);
	else if (strcmp(sp->key, "last-changed-date") == 0)
		c = cmp_d(a->changed, b->changed);
	else
		c = cmp_d(a->created, b->created);
	if (c == 0)
		c = a->id < b->id ? -1 : a->id > b->id;
	return sp->asc ? c : -c;
}

int secrets_select(struct store *s, const char *account, const char *region, json_t *filters, bool include_deleted,
                   const char *sort_by, bool asc, long long **ids, size_t *n, struct emu_err *err)
{
	*ids = NULL;
	*n = 0;
	sqlite3_stmt *st = store_prep(s, "SELECT id, name, description, coalesce(primary_region, region), owning_service, "
	                                 "created, coalesce(last_accessed, 0), coalesce(last_changed, created), "
	                                 "deleted_date FROM secrets WHERE account = ?1 AND region = ?2");
	if (!st)
		return store_fail(s, err);
	store_bind_text(st, 1, account);
	store_bind_text(st, 2, region);
	struct cand *cs = NULL;
	size_t nc = 0, cap = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!include_deleted && sqlite3_column_type(st, 8) != SQLITE_NULL)
			continue;
		if (nc == cap) {
			cap = cap ? cap * 2 : 64;
			struct cand *ncs = realloc(cs, cap * sizeof *cs);
			if (!ncs)
				abort();
			cs = ncs;
		}
		struct cand *c = &cs[nc++];
		memset(c, 0, sizeof *c);
		c->id = sqlite3_column_int64(st, 0);
		c->name = util_strdup((const char *)sqlite3_column_text(st, 1));
		c->desc = store_col_text(st, 2) ? util_strdup(store_col_text(st, 2)) : NULL;
		c->primary = util_strdup((const char *)sqlite3_column_text(st, 3));
		c->owner = store_col_text(st, 4) ? util_strdup(store_col_text(st, 4)) : NULL;
		c->created = sqlite3_column_double(st, 5);
		c->accessed = sqlite3_column_double(st, 6);
		c->changed = sqlite3_column_double(st, 7);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		rc = store_fail(s, err);
		goto out;
	}
	size_t kept = 0;
	for (size_t i = 0; i < nc; i++) {
		struct cand *c = &cs[i];
		if (json_array_size(filters)) {
			c->tag_keys = json_array();
			c->tag_vals = json_array();
			sqlite3_stmt *t = store_prep(s, "SELECT key, value FROM secret_tags WHERE secret_id = ?1");
			if (!t) {
				rc = store_fail(s, err);
				goto out;
			}
			sqlite3_bind_int64(t, 1, c->id);
			while (sqlite3_step(t) == SQLITE_ROW) {
				json_array_append_new(c->tag_keys, json_string((const char *)sqlite3_column_text(t, 0)));
				json_array_append_new(c->tag_vals, json_string((const char *)sqlite3_column_text(t, 1)));
			}
			sqlite3_reset(t);
			if (!match(c, filters))
				continue;
		}
		if (kept != i) {
			struct cand tmp = cs[kept];
			cs[kept] = *c;
			*c = tmp;
		}
		kept++;
	}
	struct sort_spec sp = {sort_by ? sort_by : "created-date", asc};
	if (kept > 1)
		qsort_r(cs, kept, sizeof *cs, cand_cmp, &sp);
	*ids = util_xcalloc(kept ? kept : 1, sizeof **ids);
	for (size_t i = 0; i < kept; i++)
		(*ids)[i] = cs[i].id;
	*n = kept;
	rc = 0;
out:
	for (size_t i = 0; i < nc; i++) {
		free(cs[i].name);
		free(cs[i].desc);
		free(cs[i].primary);
		free(cs[i].owner);
		json_decref(cs[i].tag_keys);
		json_decref(cs[i].tag_vals);
	}
	free(cs);
	return rc;
}

/* What a NextToken is bound to: the operation and every input that shapes the listing. */
static char *listing_id(const char *op, const struct emu_call *call, json_t *filters, const char *extra)
{
	char *f = filters ? json_dumps(filters, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	struct buf b;
	buf_init(&b, 0);
	buf_printf(&b, "%s|%s|%s|%s|%s", op, call->account, call->region, f ? f : "", extra ? extra : "");
	free(f);
	char *r = buf_steal(&b, NULL);
	buf_free(&b);
	return r ? r : util_strdup("");
}

/* ---- ListSecrets --------------------------------------------------------------------------- */

static int list_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	struct store *s = call->store;
	bool deleted;
	long long max = 100;
	const char *token, *order, *by;
	json_t *filters;
	if (secrets_in_bool(in, "IncludePlannedDeletion", false, &deleted, NULL, err) < 0 ||
	    secrets_in_int(in, "MaxResults", 1, 100, &max, NULL, err) < 0 ||
	    secrets_in_str(in, "NextToken", false, 1, 4096, &token, err) < 0 ||
	    secrets_in_str(in, "SortOrder", false, 1, 16, &order, err) < 0 ||
	    secrets_in_str(in, "SortBy", false, 1, 32, &by, err) < 0 || secrets_in_filters(in, &filters, err) < 0)
		return -1;
	if (order && strcmp(order, "asc") != 0 && strcmp(order, "desc") != 0)
		return emu_err_set(err, ERR_VALIDATION,
		                   "1 validation error detected: Value '%.16s' at 'sortOrder' failed to satisfy "
		                   "constraint: Member must satisfy enum value set: [asc, desc]",
		                   order);
	if (by && strcmp(by, "created-date") != 0 && strcmp(by, "last-accessed-date") != 0 &&
	    strcmp(by, "last-changed-date") != 0 && strcmp(by, "name") != 0)
		return emu_err_set(err, ERR_VALIDATION,
		                   "1 validation error detected: Value '%.32s' at 'sortBy' failed to satisfy constraint: "
		                   "Member must satisfy enum value set: [created-date, last-accessed-date, "
		                   "last-changed-date, name]",
		                   by);
	/* [?] The default direction is undocumented: newest first (desc). */
	bool asc = order && strcmp(order, "asc") == 0;
	char extra[96];
	snprintf(extra, sizeof extra, "%d|%s|%d", deleted, by ? by : "", asc);
	char *what = listing_id("ListSecrets", call, filters, extra);
	size_t off = 0, n = 0;
	long long *ids = NULL;
	int rc = -1;
	if (token && secrets_token_parse(token, what, &off, err) < 0)
		goto out;
	if (secrets_select(s, call->account, call->region, filters, deleted, by, asc, &ids, &n, err) < 0)
		goto out;
	json_t *list = json_array();
	*out = json_object();
	json_object_set_new(*out, "SecretList", list);
	size_t i;
	for (i = off; i < n && i < off + (size_t)max; i++) {
		struct sm_secret r;
		json_t *e;
		if (secrets_load_id(s, ids[i], &r, err) < 0)
			goto out;
		rc = secrets_render(s, &r, true, &e, err);
		secrets_row_free(&r);
		if (rc < 0)
			goto out;
		json_array_append_new(list, e);
	}
	if (i < n) {
		char *t = secrets_token_make(what, i);
		json_object_set_new(*out, "NextToken", json_string(t));
		free(t);
	}
	rc = 0;
out:
	free(ids);
	free(what);
	return rc;
}
SECRETS_TX_OP(sm_list_secrets, list_impl)

/* ---- ListSecretVersionIds ------------------------------------------------------------------------ */

static int versions_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	struct store *s = call->store;
	const char *id, *token;
	long long max = 100;
	bool deprecated;
	struct sm_secret r;
	if (secrets_in_str(in, "SecretId", true, 1, 2048, &id, err) < 0 ||
	    secrets_in_int(in, "MaxResults", 1, 100, &max, NULL, err) < 0 ||
	    secrets_in_str(in, "NextToken", false, 1, 4096, &token, err) < 0 ||
	    secrets_in_bool(in, "IncludeDeprecated", false, &deprecated, NULL, err) < 0 ||
	    secrets_find(call, id, &r, err) < 0)
		return -1;
	char extra[2200];
	snprintf(extra, sizeof extra, "%s|%d", r.arn, deprecated);
	char *what = listing_id("ListSecretVersionIds", call, NULL, extra);
	size_t off = 0;
	int rc = -1;
	if (token && secrets_token_parse(token, what, &off, err) < 0)
		goto out;
	/* [?] Order: newest first. */
	sqlite3_stmt *st = store_prep(
		s, "SELECT v.version_id, v.created, v.last_accessed, v.kms_key_ids FROM secret_versions v "
		   "WHERE v.secret_id = ?1 AND (?2 OR EXISTS (SELECT 1 FROM secret_stages st WHERE "
		   "st.secret_id = v.secret_id AND st.version_id = v.version_id)) "
		   "ORDER BY v.created DESC, v.version_id LIMIT ?3 OFFSET ?4");
	if (!st) {
		store_fail(s, err);
		goto out;
	}
	sqlite3_bind_int64(st, 1, r.id);
	sqlite3_bind_int(st, 2, deprecated);
	sqlite3_bind_int64(st, 3, max + 1);
	sqlite3_bind_int64(st, 4, (long long)off);
	json_t *list = json_array();
	*out = json_object();
	json_object_set_new(*out, "Versions", list);
	long long got = 0;
	int src;
	bool more = false;
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		if (got == max) {
			more = true;
			break;
		}
		got++;
		const char *vid = (const char *)sqlite3_column_text(st, 0);
		json_t *e = json_object();
		json_object_set_new(e, "VersionId", json_string(vid));
		json_t *stages = secrets_version_stages(s, r.id, vid);
		if (json_array_size(stages))
			json_object_set_new(e, "VersionStages", stages);
		else
			json_decref(stages);
		if (sqlite3_column_type(st, 2) != SQLITE_NULL)
			json_object_set_new(e, "LastAccessedDate", secrets_ts(sqlite3_column_double(st, 2)));
		json_object_set_new(e, "CreatedDate", secrets_ts(sqlite3_column_double(st, 1)));
		const char *k = store_col_text(st, 3);
		json_t *kj = k ? json_loads(k, 0, NULL) : NULL;
		if (json_is_array(kj))
			json_object_set_new(e, "KmsKeyIds", kj);
		else
			json_decref(kj);
		json_array_append_new(list, e);
	}
	sqlite3_reset(st);
	if (src != SQLITE_ROW && src != SQLITE_DONE) {
		store_fail(s, err);
		goto out;
	}
	if (more) {
		char *t = secrets_token_make(what, off + (size_t)got);
		json_object_set_new(*out, "NextToken", json_string(t));
		free(t);
	}
	json_object_set_new(*out, "ARN", json_string(r.arn));
	json_object_set_new(*out, "Name", json_string(r.name));
	rc = 0;
out:
	free(what);
	secrets_row_free(&r);
	return rc;
}
SECRETS_TX_OP(sm_list_secret_version_ids, versions_impl)

/* ---- BatchGetSecretValue ---------------------------------------------------------------------------- */

/* Reads AWSCURRENT of one secret into values[], or a per-secret failure into
 * errors[]; only storage failures fail the whole call. */
static int batch_one(struct emu_call *call, const char *label, const struct sm_secret *r, json_t *values,
                     json_t *errors, struct emu_err *err)
{
	struct emu_err e;
	emu_err_clear(&e);
	json_t *v = NULL;
	const struct secrets_hooks *h = secrets_hooks_get();
	int rc = secrets_check_not_deleted(r, &e);
	if (rc == 0 && h->authorize)
		rc = secrets_authorize(call, "secretsmanager:GetSecretValue", r, &e);
	if (rc == 0)
		rc = secrets_value_read(call, r, NULL, NULL, &v, &e);
	if (rc == 0) {
		json_array_append_new(values, v);
		return 0;
	}
	if (e.code == ERR_INTERNAL) {
		*err = e;
		return -1;
	}
	json_t *x = json_object();
	json_object_set_new(x, "SecretId", json_string(label));
	json_object_set_new(x, "ErrorCode", json_string(emu_err_json_type(e.code)));
	json_object_set_new(x, "Message", json_string(e.msg));
	json_array_append_new(errors, x);
	return 0;
}

static int batch_impl(struct emu_call *call, json_t *in, json_t **out, struct emu_err *err)
{
	json_t *ids, *filters;
	const char *token;
	long long max = 20;
	bool has_max;
	if (secrets_in_strlist(in, "SecretIdList", false, 1, 20, 1, 2048, &ids, err) < 0 ||
	    secrets_in_filters(in, &filters, err) < 0 ||
	    secrets_in_int(in, "MaxResults", 1, 20, &max, &has_max, err) < 0 ||
	    secrets_in_str(in, "NextToken", false, 1, 4096, &token, err) < 0)
		return -1;
	/* [E] texts for the two exclusivity rules ([M]). */
	if ((ids != NULL) == (filters != NULL))
		return emu_err_set(err, ERR_SM_INVALID_PARAMETER,
		                   "Either 'SecretIdList' or 'Filters' must be provided, but not both.");
	if (has_max && !filters)
		return emu_err_set(err, ERR_SM_INVALID_PARAMETER,
		                   "'Filters' not specified. 'Filters' must also be specified when 'MaxResults' is "
		                   "provided.");
	json_t *values = json_array(), *errors = json_array();
	*out = json_object();
	json_object_set_new(*out, "SecretValues", values);
	json_object_set_new(*out, "Errors", errors);
	if (ids) {
		size_t i;
		json_t *e;
		json_array_foreach(ids, i, e) {
			const char *id = json_string_value(e);
			struct sm_secret r;
			struct emu_err fe;
			emu_err_clear(&fe);
			if (secrets_find(call, id, &r, &fe) < 0) {
				if (fe.code == ERR_INTERNAL) {
					*err = fe;
					return -1;
				}
				json_t *x = json_object();
				json_object_set_new(x, "SecretId", json_string(id));
				json_object_set_new(x, "ErrorCode", json_string(emu_err_json_type(fe.code)));
				json_object_set_new(x, "Message", json_string(fe.msg));
				json_array_append_new(errors, x);
				continue;
			}
			int rc = batch_one(call, id, &r, values, errors, err);
			secrets_row_free(&r);
			if (rc < 0)
				return -1;
		}
		return 0;
	}
	char *what = listing_id("BatchGetSecretValue", call, filters, NULL);
	size_t off = 0, n = 0;
	long long *sel = NULL;
	int rc = -1;
	if (token && secrets_token_parse(token, what, &off, err) < 0)
		goto out;
	if (secrets_select(call->store, call->account, call->region, filters, false, NULL, false, &sel, &n, err) < 0)
		goto out;
	size_t i;
	for (i = off; i < n && i < off + (size_t)max; i++) {
		struct sm_secret r;
		if (secrets_load_id(call->store, sel[i], &r, err) < 0)
			goto out;
		int brc = batch_one(call, r.name, &r, values, errors, err);
		secrets_row_free(&r);
		if (brc < 0)
			goto out;
	}
	if (i < n) {
		char *t = secrets_token_make(what, i);
		json_object_set_new(*out, "NextToken", json_string(t));
		free(t);
	}
	rc = 0;
out:
	free(sel);
	free(what);
	return rc;
}
SECRETS_TX_OP(sm_batch_get_secret_value, batch_impl)
