/*
 * AWS Query protocol requests (RDS, STS, IAM): decoding of
 * application/x-www-form-urlencoded bodies and URL query strings into
 * key/value pairs, and conversion of those pairs into the JSON form that
 * JSON-protocol handlers receive, driven by the service model (emu/model.h).
 */
#ifndef API_QUERY_H
#define API_QUERY_H

#include "emu/err.h"
#include "emu/model.h"

#include <jansson.h>
#include <stddef.h>

#define QUERY_MAX_INPUT (4u << 20) /* bytes of encoded input */
#define QUERY_MAX_PARAMS 1000      /* pairs */
#define QUERY_MAX_KEY 512          /* bytes of a decoded key */
#define QUERY_MAX_VALUE (1u << 20) /* bytes of a decoded value */
#define QUERY_MAX_INDEX 1000       /* list index / map entry number (from 1) */

struct query_param {
	char *key;   /* decoded, NUL-terminated, non-empty */
	char *value; /* decoded, NUL-terminated ("" for "Key=" and "Key") */
};

struct query_params {
	struct query_param *v; /* in input order */
	size_t n;
};

/*
 * Decodes "k=v&k2=v2" ('+' is a space, %XX a byte; both keys and values).
 * Empty pairs ("&&") and pairs with an empty key are skipped; "k" alone is
 * k="".  Errors (ERR_SERIALIZATION, Query code MalformedQueryString): a '%'
 * not followed by two hex digits, %00 or a raw NUL, more than
 * QUERY_MAX_PARAMS pairs, a key or value over its limit; input over
 * QUERY_MAX_INPUT is ERR_REQUEST_TOO_LARGE.  *out is
 * initialised first and is empty after an error.  Values may be any bytes
 * but NUL (UTF-8 is checked by query_to_json, where it matters).
 */
int query_parse(const char *s, size_t len, struct query_params *out, struct emu_err *err);

/* Value of the first pair named key, or NULL. */
const char *query_get(const struct query_params *q, const char *key);

void query_free(struct query_params *q);

/*
 * Builds the JSON request of operation `op` (*out: new object, caller
 * decrefs) from Query parameters, following the model's input shape and
 * botocore's QuerySerializer layout:
 *   Name=v                         scalar member (Query name = locationName)
 *   A.B=v                          member B of structure member A
 *   L.member.1=v, L.Tag.1.Key=v    list elements (element name from the
 *                                  model; flattened lists: L.1=v), n from 1
 *   L=                             empty list
 *   M.entry.1.key=k&M.entry.1.value=v   maps (flattened: M.1.key=...)
 * Values are converted per the model: integers/longs (decimal), booleans
 * (true/false, any case), floats/doubles, timestamps (ISO 8601, or epoch
 * seconds, to epoch seconds), strings (must be UTF-8), blobs (kept as
 * base64 text).  List elements are ordered by index; gaps close up.
 * Ignored: Action, Version, parameters the shape does not name (SigV4
 * presign parameters among them), and a non-empty value given to a list,
 * map or structure itself.  The first of duplicate keys wins.
 * Errors: unknown operation (ERR_UNKNOWN_OPERATION), a value that does not
 * convert (ERR_INVALID_PARAMETER_VALUE: "Invalid value for parameter
 * <Key>: ..."), an index over QUERY_MAX_INDEX (same), invalid UTF-8
 * (ERR_SERIALIZATION), and, for services flagged
 * MODEL_SVC_QUERY_MISSING_PARAMETER, a missing required member
 * (ERR_MISSING_PARAMETER: "The request must contain the parameter <Key>").
 * Constraints (lengths, patterns, enums, ranges) are model_validate's job.
 */
int query_to_json(const struct model_service *svc, const char *op, const struct query_params *q, json_t **out,
		  struct emu_err *err);

#endif
