/*
 * Decoding of AWS JSON-protocol request bodies (Secrets Manager, KMS) into
 * a jansson object, with limits checked before jansson sees the bytes.
 */
#ifndef API_JSONREQ_H
#define API_JSONREQ_H

#include "emu/err.h"

#include <jansson.h>
#include <stddef.h>

#define JSONREQ_MAX_BODY (4u << 20)   /* bytes; the HTTP layer caps bodies lower */
#define JSONREQ_MAX_DEPTH 32          /* nested objects/arrays */
#define JSONREQ_MAX_STRING (1u << 20) /* bytes of one string or key, as sent */
#define JSONREQ_MAX_ITEMS 10000       /* object members + array elements, in total */

/*
 * Parses body into *out (a new reference to a JSON object; the caller
 * json_decref()s it).  An empty or all-whitespace body is {}.  Errors
 * (ERR_SERIALIZATION, *out = NULL): malformed JSON, a root that is not an
 * object ("Start of list found where not expected" for an array), a limit
 * exceeded, invalid UTF-8, \u0000 in a string, integers beyond 64 bits.
 * Duplicate keys: the last one wins (what coral's Jackson parser does).
 * Messages never quote the body.
 */
int jsonreq_decode(const char *body, size_t len, json_t **out, struct emu_err *err);

#endif
