/*
 * Service models as data: every operation's input and output shape,
 * generated from botocore's models by scripts/gen_model.py
 * (emu/model_<svc>.c), and the generic validator that checks a decoded JSON
 * request against them the way AWS's JSON-protocol front end (coral) does.
 *
 * A service is a set of flat arrays indexed by small integers: shapes,
 * structure members, enum values, patterns (compiled by the generator into
 * a few NFA instructions over code-point ranges).  The same tables carry
 * the Query-protocol names (locationName, list member names) that
 * api/query.c uses to turn form parameters into the same JSON form, and
 * that api/xmlout.c uses to render results as Query XML (botocore's
 * QuerySerializer and QueryParser use the same names both ways).  Shapes
 * reachable only from an output carry type and names, no constraints.
 *
 * Request values as seen by handlers (JSON protocol and after query_to_json):
 * structures and maps are JSON objects keyed by member name, lists are
 * arrays, strings are strings, integers/longs are JSON integers, floats and
 * doubles numbers, booleans true/false, timestamps epoch seconds (number),
 * blobs base64 strings.
 */
#ifndef EMU_MODEL_H
#define EMU_MODEL_H

#include "emu/err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum model_type {
	MODEL_STRUCTURE = 1,
	MODEL_LIST,
	MODEL_MAP,
	MODEL_STRING,
	MODEL_INTEGER,   /* 32-bit */
	MODEL_LONG,      /* 64-bit */
	MODEL_FLOAT,
	MODEL_DOUBLE,
	MODEL_BOOLEAN,
	MODEL_TIMESTAMP,
	MODEL_BLOB,
};

/* struct model_shape.flags */
#define MODEL_F_SENSITIVE 0x01 /* never echoed in messages */
#define MODEL_F_FLATTENED 0x02 /* Query: list/map without the member/entry level */
#define MODEL_F_HAS_MIN 0x04
#define MODEL_F_HAS_MAX 0x08

/* struct model_member.flags */
#define MODEL_M_REQUIRED 0x01
#define MODEL_M_IDEMPOTENCY_TOKEN 0x02 /* SDKs fill in a UUID when absent */

/* Longest pattern program the generator emits (instructions). */
#define MODEL_RE_MAX_INST 1024

enum model_re_op {
	MODEL_RE_CLASS = 1, /* consume one code point in ranges[x .. x+y) */
	MODEL_RE_SPLIT,     /* continue at x and at y */
	MODEL_RE_JMP,       /* continue at x */
	MODEL_RE_BOL,       /* at the start of the value */
	MODEL_RE_EOL,       /* at the end of the value */
	MODEL_RE_MATCH,
};

struct model_re_inst {
	uint8_t op;
	uint16_t x, y; /* CLASS: first range, count; SPLIT/JMP: targets within the pattern */
};

struct model_re_range {
	uint32_t lo, hi; /* code points, inclusive */
};

struct model_pattern {
	const char *source; /* as in the model; quoted in messages */
	uint16_t first;     /* first instruction in svc->insts */
	uint16_t ninst;     /* 0 = not checkable: never fails */
};

struct model_member {
	const char *name;       /* JSON key, member name: "SecretId" */
	const char *query_name; /* Query-protocol name (locationName): "SecretId"; also the
	                         * XML element name in responses (for a flattened list with
	                         * a member locationName: that name, repeated) */
	const char *path_name;  /* coral's name in messages: "secretId" */
	uint32_t shape;
	uint8_t flags;          /* MODEL_M_* */
};

struct model_shape {
	const char *name;       /* model shape name, for diagnostics */
	uint8_t type;           /* enum model_type */
	uint8_t flags;          /* MODEL_F_* */
	int64_t min, max;       /* string/blob length, list/map count, number value (see flags) */
	uint32_t members;       /* structure: first member in svc->members */
	uint32_t nmembers;
	uint32_t item;          /* list: element shape; map: key shape */
	uint32_t value;         /* map: value shape */
	const char *item_name;  /* Query: list element name ("member", a locationName, or
	                         * NULL when flattened); map key name ("key") */
	const char *value_name; /* Query: map value name ("value") */
	uint32_t enums;         /* string: first value in svc->enums */
	uint32_t nenum;
	int32_t pattern;        /* string: index into svc->patterns, -1 = none */
};

struct model_op {
	const char *name;
	int32_t input; /* shape index, -1 = no input */
};

/* The response side of an operation, in an array parallel to the ops
 * (same index), so tables written by hand without it stay valid. */
struct model_result {
	int32_t shape;       /* output shape index, -1 = no output */
	const char *wrapper; /* Query: the model's resultWrapper ("AssumeRoleResult"); NULL = none */
};

enum model_protocol {
	MODEL_PROTO_JSON = 1,
	MODEL_PROTO_QUERY,
};

/* struct model_service.flags */
/* Query: a missing required parameter is MissingParameter ("The request must
 * contain the parameter X", RDS/EC2 style), checked by query_to_json; without
 * the flag it is left to model_validate (coral's ValidationError, STS/IAM). */
#define MODEL_SVC_QUERY_MISSING_PARAMETER 0x01
/* Query responses show timestamps with milliseconds ("...:33.452Z", RDS);
 * without the flag, whole seconds ("...:33Z", STS and IAM). */
#define MODEL_SVC_XML_TIMESTAMP_MILLIS 0x02

struct model_service {
	const char *name;        /* botocore service name: "secretsmanager" */
	const char *api_version; /* "2017-10-17" */
	const char *xml_namespace; /* Query: "https://sts.amazonaws.com/doc/2011-06-15/"; JSON: NULL */
	uint8_t protocol;        /* enum model_protocol */
	uint8_t flags;           /* MODEL_SVC_* */
	const struct model_op *ops; /* sorted by name */
	size_t nops;
	const struct model_result *results; /* parallel to ops; NULL = no outputs known */
	const struct model_shape *shapes;
	size_t nshapes;
	const struct model_member *members;
	const char *const *enums;
	const struct model_pattern *patterns;
	size_t npatterns;
	const struct model_re_inst *insts;
	const struct model_re_range *ranges;
};

/* Generated tables (emu/model_<svc>.c). */
extern const struct model_service model_sm;  /* Secrets Manager, JSON 1.1 */
extern const struct model_service model_sts; /* STS, Query */
extern const struct model_service model_iam; /* IAM, Query */
extern const struct model_service model_rds; /* RDS, Query */
extern const struct model_service model_cloudtrail; /* CloudTrail, JSON 1.1 (LookupEvents) */
extern const struct model_service model_kms; /* KMS, JSON 1.1 */

/* Operation by exact name (len bytes, need not be NUL-terminated); NULL if
 * the service has no such operation. */
const struct model_op *model_op_find(const struct model_service *svc, const char *name, size_t len);

/* The input shape of an operation, NULL when it takes no input. */
const struct model_shape *model_op_input(const struct model_service *svc, const struct model_op *op);

/* The output shape of an operation (op from svc->ops), NULL when it has no
 * output. */
const struct model_shape *model_op_output(const struct model_service *svc, const struct model_op *op);

/* The Query result wrapper element of an operation ("AssumeRoleResult"),
 * NULL when the model names none (no output, or a JSON service). */
const char *model_op_result_wrapper(const struct model_service *svc, const struct model_op *op);

/*
 * Checks a decoded JSON request against the input shape of `op`, as coral
 * does for the AWS JSON protocol:
 *  - the root or a member of the wrong JSON type -> ERR_SERIALIZATION with
 *    coral's texts ("STRING_VALUE can not be converted to an Integer",
 *    "Start of structure or map found where not expected.", "Start of list
 *    found where not expected", "Expected null" for a scalar where a
 *    structure belongs, "Expected list or null", bad base64 ...); a type
 *    error anywhere wins over every constraint violation;
 *  - otherwise every constraint violation, in model order, depth first ->
 *    ERR_VALIDATION: "N validation error(s) detected: Value 'v' at 'path'
 *    failed to satisfy constraint: Member must ...; Value ..."
 *    (path: lowerCamel member names, "tags.1.member.key" inside lists);
 *    values of sensitive shapes are never shown ("Value at 'secretString'");
 *  - null members count as absent; unknown members are ignored.
 * Unknown operation -> ERR_UNKNOWN_OPERATION.  `in` is not modified.
 */
int model_validate(const struct model_service *svc, const char *op, json_t *in, struct emu_err *err);

/* The same for one shape (index into svc->shapes); `path` is the coral
 * path of the value ("" for a request root). */
int model_validate_shape(const struct model_service *svc, uint32_t shape, const char *path, json_t *in,
			 struct emu_err *err);

/* Full match of a UTF-8 string against pattern `idx` of svc (true for an
 * unchecked pattern).  Linear time; no allocation. */
bool model_pattern_match(const struct model_service *svc, int32_t idx, const char *s, size_t len);

/* Number of code points in valid UTF-8 (invalid bytes count one each). */
size_t model_utf8_len(const char *s, size_t len);

/* Decoded length of strict, padded base64 (RFC 4648 alphabet), or -1 with
 * ERR_SERIALIZATION and coral's message when s is not valid base64. */
int model_base64_len(const char *s, size_t len, size_t *out, struct emu_err *err);

#endif
