/*
 * jsonreq.c owns the decoding of JSON-protocol request bodies.  It calls
 * jansson and emu/err only.
 *
 * Invariants: jansson only ever sees a body that a linear pre-scan has found
 * within the limits of jsonreq.h (depth, string length, item count), so a
 * hostile body can neither recurse deeply nor make many allocations; error
 * messages name the problem, never the bytes (a malformed body may carry a
 * secret).
 */
#include "api/jsonreq.h"

#include <stdbool.h>
#include <string.h>

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/*
 * One pass over the raw bytes, tracking only whether we are inside a
 * string: depth of [ and {, length of each string token, and a count of
 * items (commas plus containers bound the number of values).  It does not
 * validate JSON; jansson does that afterwards.
 */
static int prescan(const char *p, size_t len, struct emu_err *err)
{
	size_t depth = 0, items = 0, slen = 0;
	bool in_str = false, esc = false;
	for (size_t i = 0; i < len; i++) {
		char c = p[i];
		if (in_str) {
			if (!esc && c == '"') {
				in_str = false;
				continue;
			}
			esc = !esc && c == '\\';
			if (++slen > JSONREQ_MAX_STRING)
				return emu_err_set(err, ERR_SERIALIZATION, "A string in the request is longer than %u bytes",
						   JSONREQ_MAX_STRING);
			continue;
		}
		switch (c) {
		case '"':
			in_str = true;
			slen = 0;
			break;
		case '[':
		case '{':
			if (++depth > JSONREQ_MAX_DEPTH)
				return emu_err_set(err, ERR_SERIALIZATION, "The request is nested deeper than %d levels",
						   JSONREQ_MAX_DEPTH);
			items++;
			break;
		case ']':
		case '}':
			if (depth > 0)
				depth--;
			break;
		case ',':
			items++;
			break;
		default:
			break;
		}
		if (items > JSONREQ_MAX_ITEMS)
			return emu_err_set(err, ERR_SERIALIZATION, "The request has more than %d elements",
					   JSONREQ_MAX_ITEMS);
	}
	return 0;
}

/* A short, fixed description of a jansson error (never its text, which
 * quotes the input). */
static const char *describe(const json_error_t *je)
{
	switch (json_error_code(je)) {
	case json_error_premature_end_of_input:
		return "Unexpected end of input";
	case json_error_end_of_input_expected:
		return "Unexpected data after the JSON value";
	case json_error_invalid_utf8:
		return "Invalid UTF-8 in the request";
	case json_error_null_character:
	case json_error_null_byte_in_key:
		return "NUL characters are not accepted";
	case json_error_numeric_overflow:
		return "Number out of range";
	case json_error_duplicate_key:
		return "Duplicate key";
	case json_error_invalid_syntax:
	case json_error_invalid_format:
	case json_error_wrong_type:
		return "Invalid JSON";
	default:
		return "Malformed JSON";
	}
}

int jsonreq_decode(const char *body, size_t len, json_t **out, struct emu_err *err)
{
	*out = NULL;
	if (len > JSONREQ_MAX_BODY)
		return emu_err_set(err, ERR_REQUEST_TOO_LARGE, NULL);
	size_t i = 0;
	while (i < len && is_ws(body[i]))
		i++;
	if (i == len) {
		*out = json_object();
		if (!*out)
			return emu_err_set(err, ERR_INTERNAL, NULL);
		return 0;
	}
	if (prescan(body, len, err) < 0)
		return -1;
	json_error_t je;
	json_t *root = json_loadb(body, len, JSON_DECODE_ANY, &je);
	if (!root)
		return emu_err_set(err, ERR_SERIALIZATION, "%s", describe(&je));
	if (!json_is_object(root)) {
		bool arr = json_is_array(root);
		json_decref(root);
		return emu_err_set(err, ERR_SERIALIZATION, "%s",
				   arr ? "Start of list found where not expected" : "The request body must be a JSON object");
	}
	*out = root;
	return 0;
}
