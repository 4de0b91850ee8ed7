/*
 * Fuzz harness for api/query.c: the input is a form-urlencoded body; it is
 * parsed and, when it parses, converted for every STS operation and the
 * result validated with emu/model.c.  It must never crash, leak or read out
 * of bounds; every error must carry a code and a valid UTF-8 message; the
 * pairs must be NUL-free and within the limits.  Seeds: fixtures/fuzz/query
 * (fixtures/query/make_samples.py).
 */
#include "api/query.h"
#include "emu/model.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct emu_err *err)
{
	size_t n = strnlen(err->msg, sizeof err->msg);
	if (err->code == ERR_OK || n >= sizeof err->msg)
		abort();
	json_t *s = json_stringn(err->msg, n);
	if (!s)
		abort();
	json_decref(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct emu_err err;
	struct query_params q;
	emu_err_clear(&err);
	if (query_parse((const char *)data, size, &q, &err) < 0) {
		check(&err);
		if (q.n || q.v)
			abort();
		return 0;
	}
	if (q.n > QUERY_MAX_PARAMS)
		abort();
	for (size_t i = 0; i < q.n; i++) {
		if (!q.v[i].key[0] || strlen(q.v[i].key) > QUERY_MAX_KEY || strlen(q.v[i].value) > QUERY_MAX_VALUE)
			abort();
		if (query_get(&q, q.v[i].key) == NULL)
			abort();
	}
	for (size_t i = 0; i < model_sts.nops; i++) {
		json_t *out = NULL;
		emu_err_clear(&err);
		if (query_to_json(&model_sts, model_sts.ops[i].name, &q, &out, &err) < 0) {
			check(&err);
			if (out)
				abort();
			continue;
		}
		emu_err_clear(&err);
		if (model_validate(&model_sts, model_sts.ops[i].name, out, &err) < 0)
			check(&err);
		json_decref(out);
	}
	query_free(&q);
	return 0;
}
