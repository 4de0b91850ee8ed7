/*
 * Fuzz harness for api/jsonreq.c and emu/model.c: the input is a JSON
 * request body; it is decoded and, when it decodes, validated against the
 * input of every Secrets Manager operation.  It must never crash, leak or
 * read out of bounds, and every error must carry a code and a message that
 * is valid UTF-8 (jansson could not render it otherwise) and fits the
 * error buffer.  Seeds: fixtures/fuzz/jsonreq (fixtures/query/make_samples.py).
 */
#include "api/jsonreq.h"
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
	json_t *in = NULL;
	emu_err_clear(&err);
	if (jsonreq_decode((const char *)data, size, &in, &err) < 0) {
		check(&err);
		if (in)
			abort();
		return 0;
	}
	if (!json_is_object(in))
		abort();
	for (size_t i = 0; i < model_sm.nops; i++) {
		emu_err_clear(&err);
		if (model_validate(&model_sm, model_sm.ops[i].name, in, &err) < 0) {
			check(&err);
			if (err.code != ERR_VALIDATION && err.code != ERR_SERIALIZATION)
				abort();
		}
	}
	json_decref(in);
	return 0;
}
