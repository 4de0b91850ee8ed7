/*
 * Unit tests for api/query.c: form decoding edge cases and limits, and
 * query_to_json against (a) bodies botocore's QuerySerializer made for every
 * STS operation (fixtures/query/sts.jsonl, from
 * scripts/make_query_samples.py: body plus the JSON form expected) and
 * (b) a hand-made model with what STS lacks: locationName lists
 * (Tags.Tag.1.Key), nested lists, flattened lists, maps, nested structures,
 * every scalar type, MissingParameter.
 */
#include "api/query.h"
#include "emu/model.h"
#include "tests/unit/tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct emu_err err;

/* Whether s is valid UTF-8 (jansson refuses anything else). */
static bool utf8ok(const char *s)
{
	json_t *j = json_string(s);
	json_decref(j);
	return j != NULL;
}

static int parse(const char *s, struct query_params *q)
{
	emu_err_clear(&err);
	return query_parse(s, strlen(s), q, &err);
}

static void test_parse(void)
{
	struct query_params q;
	ok(parse("", &q) == 0 && q.n == 0 && q.v == NULL, "empty input");
	ok(parse("a=1&b=2", &q) == 0 && q.n == 2, "two pairs");
	is_str(q.v[0].key, "a", "key 1");
	is_str(q.v[1].value, "2", "value 2");
	query_free(&q);
	ok(q.n == 0 && q.v == NULL, "free resets");
	query_free(&q);

	ok(parse("a+b=c+d%20e%2B", &q) == 0 && q.n == 1, "plus and percent");
	is_str(q.v[0].key, "a b", "'+' in a key is a space");
	is_str(q.v[0].value, "c d e+", "'+' is a space, %%2B a plus");
	query_free(&q);
	ok(parse("%41%42=%7e%c3%A9", &q) == 0, "hex of either case");
	is_str(q.v[0].key, "AB", "decoded key");
	is_str(q.v[0].value, "~\xc3\xa9", "decoded value");
	query_free(&q);
	ok(parse("a&b=&c==d", &q) == 0 && q.n == 3, "bare key, empty value, '=' in value");
	is_str(q.v[0].value, "", "bare key has an empty value");
	is_str(q.v[1].value, "", "k= has an empty value");
	is_str(q.v[2].value, "=d", "only the first '=' splits");
	query_free(&q);
	ok(parse("&&a=1&&=x&=&", &q) == 0 && q.n == 1, "empty pairs and empty keys are skipped");
	query_free(&q);
	ok(query_parse("a=1&b=2", 3, &q, &err) == 0 && q.n == 1 && strcmp(q.v[0].value, "1") == 0, "length bound");
	query_free(&q);
	ok(parse("a=1&a=2&b=3", &q) == 0, "duplicates kept");
	is_str(query_get(&q, "a"), "1", "query_get: the first wins");
	ok(query_get(&q, "c") == NULL, "query_get: absent");
	ok(query_get(NULL, "a") == NULL, "query_get: no params");
	query_free(&q);

	static const char *const bad[] = {"a=%4", "a=%", "a=%zz", "a=%g1", "%00=1", "a=b%00", "a=1&b=%4&c=3", "a=%%41"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ok(parse(bad[i], &q) < 0 && err.code == ERR_SERIALIZATION && q.n == 0 && q.v == NULL, "malformed: %s",
		   bad[i]);
		ok(strcmp(emu_err_query_code(err.code), "MalformedQueryString") == 0, "  Query code MalformedQueryString");
	}
	ok(query_parse("a=b\0c", 5, &q, &err) < 0 && err.code == ERR_SERIALIZATION, "raw NUL byte");

	/* limits */
	char *buf = malloc(QUERY_MAX_VALUE * 3 + 64);
	if (!buf)
		abort();
	for (int n = 1000; n <= 1001; n++) {
		size_t o = 0;
		for (int i = 0; i < n; i++)
			o += (size_t)sprintf(buf + o, "%sk%d=v", i ? "&" : "", i);
		int rc = query_parse(buf, o, &q, &err);
		if (n == 1000)
			ok(rc == 0 && q.n == 1000, "1000 pairs");
		else
			ok(rc < 0 && err.code == ERR_SERIALIZATION, "1001 pairs rejected");
		query_free(&q);
	}
	for (size_t n = QUERY_MAX_KEY; n <= QUERY_MAX_KEY + 1; n++) {
		size_t o = 0;
		for (size_t i = 0; i < n; i++)
			o += (size_t)sprintf(buf + o, "%%41");
		o += (size_t)sprintf(buf + o, "=v");
		int rc = query_parse(buf, o, &q, &err);
		ok(n == QUERY_MAX_KEY ? rc == 0 && strlen(q.v[0].key) == n : rc < 0, "decoded key of %zu bytes", n);
		query_free(&q);
	}
	for (size_t n = QUERY_MAX_VALUE; n <= QUERY_MAX_VALUE + 1; n++) {
		memcpy(buf, "k=", 2);
		memset(buf + 2, 'x', n);
		int rc = query_parse(buf, n + 2, &q, &err);
		ok(n == QUERY_MAX_VALUE ? rc == 0 && strlen(q.v[0].value) == n : rc < 0 && err.code == ERR_SERIALIZATION,
		   "value of %zu bytes", n);
		query_free(&q);
	}
	memset(buf, 'x', 3 * QUERY_MAX_KEY + 3);
	ok(query_parse(buf, 3 * QUERY_MAX_KEY + 3, &q, &err) < 0, "long raw key rejected before decoding");
	free(buf);
	ok(query_parse("a", QUERY_MAX_INPUT + 1, &q, &err) < 0 && err.code == ERR_REQUEST_TOO_LARGE, "input too large");
}

/* A line of fixtures/query/sts.jsonl: {"op", "body", "params"}. */
static void test_sts_fixtures(void)
{
	FILE *f = fopen("fixtures/query/sts.jsonl", "r");
	ok(f != NULL, "open fixtures/query/sts.jsonl");
	if (!f)
		return;
	char *line = NULL;
	size_t cap = 0;
	int lines = 0;
	while (getline(&line, &cap, f) > 0) {
		json_error_t je;
		json_t *fx = json_loads(line, 0, &je);
		const char *op = json_string_value(json_object_get(fx, "op"));
		const char *body = json_string_value(json_object_get(fx, "body"));
		json_t *want = json_object_get(fx, "params");
		if (!op || !body || !want) {
			ok(0, "fixture line %d readable", lines + 1);
			json_decref(fx);
			continue;
		}
		lines++;
		struct query_params q;
		json_t *got = NULL;
		ok(parse(body, &q) == 0, "%s: parse", op);
		is_str(query_get(&q, "Action"), op, "  Action");
		is_str(query_get(&q, "Version"), "2011-06-15", "  Version");
		emu_err_clear(&err);
		ok(query_to_json(&model_sts, op, &q, &got, &err) == 0, "  to_json");
		ok(json_equal(got, want), "  same as botocore's input");
		if (!json_equal(got, want)) {
			char *g = json_dumps(got, JSON_SORT_KEYS), *w = json_dumps(want, JSON_SORT_KEYS);
			printf("#   got:  %s\n#   want: %s\n", g, w);
			free(g);
			free(w);
		}
		ok(model_validate(&model_sts, op, got, &err) == 0, "  passes model_validate");
		json_decref(got);
		json_decref(fx);
		query_free(&q);
	}
	free(line);
	fclose(f);
	ok(lines >= 2 * 11, "a full and a minimal request per STS operation (%d)", lines);

	/* STS leaves required members to model_validate (coral's ValidationError) */
	struct query_params q;
	json_t *got = NULL;
	parse("Action=AssumeRole&Version=2011-06-15&RoleSessionName=s1", &q);
	ok(query_to_json(&model_sts, "AssumeRole", &q, &got, &err) == 0, "STS: no MissingParameter");
	ok(model_validate(&model_sts, "AssumeRole", got, &err) < 0 && err.code == ERR_VALIDATION, "  but a ValidationError");
	is_str(err.msg, "1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null",
	       "  message");
	is_str(emu_err_query_code(err.code), "ValidationError", "  Query code");
	json_decref(got);
	query_free(&q);
	parse("Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fdemo&RoleSessionName=bad%20name&DurationSeconds=60", &q);
	ok(query_to_json(&model_sts, "AssumeRole", &q, &got, &err) == 0, "STS AssumeRole with bad values");
	ok(model_validate(&model_sts, "AssumeRole", got, &err) < 0, "  rejected by model_validate");
	is_str(err.msg,
	       "2 validation errors detected: "
	       "Value 'bad name' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*; "
	       "Value '60' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900",
	       "  message");
	json_decref(got);
	query_free(&q);
	parse("Action=GetCallerIdentity&Version=2011-06-15", &q);
	ok(query_to_json(&model_sts, "GetCallerIdentity", &q, &got, &err) == 0 && json_object_size(got) == 0,
	   "GetCallerIdentity: {}");
	json_decref(got);
	ok(query_to_json(&model_sts, "NoSuchAction", &q, &got, &err) < 0 && err.code == ERR_UNKNOWN_OPERATION && got == NULL,
	   "unknown action");
	is_str(err.msg, "Could not find operation NoSuchAction for version 2011-06-15", "  message");
	ok(query_to_json(&model_sts, "Assume\xc3", &q, &got, &err) < 0 && utf8ok(err.msg), "unknown action, invalid UTF-8");
	query_free(&q);
}

/* Hand-made Query model (see the file comment). */
enum { S_ROOT, S_STR, S_INT, S_LONG, S_BOOL, S_DBL, S_TS, S_BLOB, S_TAGS, S_TAG, S_FILTERS, S_FILTER,
       S_IDS, S_FLAT, S_ATTRS, S_CONFIG, S_SECRET, S_VALUES, S_NSHAPES };
static const struct model_member q_members[] = {
	/* Root: 0..13 */
	{"Name", "Name", "name", S_STR, MODEL_M_REQUIRED},
	{"Count", "Count", "count", S_INT, 0},
	{"Big", "Big", "big", S_LONG, 0},
	{"Flag", "Flag", "flag", S_BOOL, 0},
	{"Ratio", "Ratio", "ratio", S_DBL, 0},
	{"When", "When", "when", S_TS, 0},
	{"Data", "Data", "data", S_BLOB, 0},
	{"Tags", "Tags", "tags", S_TAGS, 0},
	{"Filters", "Filters", "filters", S_FILTERS, 0},
	{"Ids", "Ids", "ids", S_IDS, 0},
	{"Flat", "Item", "flat", S_FLAT, 0},
	{"Attrs", "Attrs", "attrs", S_ATTRS, 0},
	{"Config", "Config", "config", S_CONFIG, 0},
	{"Secret", "Secret", "secret", S_SECRET, 0},
	/* Tag: 14..15 */
	{"Key", "Key", "key", S_STR, MODEL_M_REQUIRED},
	{"Value", "Value", "value", S_STR, 0},
	/* Filter: 16..17 */
	{"Name", "Name", "name", S_STR, 0},
	{"Values", "Values", "values", S_VALUES, 0},
	/* Config: 18..19 */
	{"Max", "Max", "max", S_INT, 0},
	{"Pins", "Pins", "pins", S_IDS, 0},
};
static const struct model_shape q_shapes[S_NSHAPES] = {
	[S_ROOT] = {.name = "Root", .type = MODEL_STRUCTURE, .members = 0, .nmembers = 14, .pattern = -1},
	[S_STR] = {.name = "Str", .type = MODEL_STRING, .pattern = -1},
	[S_INT] = {.name = "Int", .type = MODEL_INTEGER, .pattern = -1},
	[S_LONG] = {.name = "Long", .type = MODEL_LONG, .pattern = -1},
	[S_BOOL] = {.name = "Bool", .type = MODEL_BOOLEAN, .pattern = -1},
	[S_DBL] = {.name = "Dbl", .type = MODEL_DOUBLE, .pattern = -1},
	[S_TS] = {.name = "Ts", .type = MODEL_TIMESTAMP, .pattern = -1},
	[S_BLOB] = {.name = "Blob", .type = MODEL_BLOB, .pattern = -1},
	[S_TAGS] = {.name = "TagList", .type = MODEL_LIST, .item = S_TAG, .item_name = "Tag", .pattern = -1},
	[S_TAG] = {.name = "Tag", .type = MODEL_STRUCTURE, .members = 14, .nmembers = 2, .pattern = -1},
	[S_FILTERS] = {.name = "FilterList", .type = MODEL_LIST, .item = S_FILTER, .item_name = "Filter", .pattern = -1},
	[S_FILTER] = {.name = "Filter", .type = MODEL_STRUCTURE, .members = 16, .nmembers = 2, .pattern = -1},
	[S_IDS] = {.name = "Ids", .type = MODEL_LIST, .item = S_STR, .item_name = "member", .pattern = -1},
	[S_FLAT] = {.name = "Flat", .type = MODEL_LIST, .flags = MODEL_F_FLATTENED, .item = S_STR, .item_name = "Item", .pattern = -1},
	[S_ATTRS] = {.name = "Attrs", .type = MODEL_MAP, .item = S_STR, .value = S_STR, .item_name = "key", .value_name = "value", .pattern = -1},
	[S_CONFIG] = {.name = "Config", .type = MODEL_STRUCTURE, .members = 18, .nmembers = 2, .pattern = -1},
	[S_SECRET] = {.name = "Secret", .type = MODEL_INTEGER, .flags = MODEL_F_SENSITIVE, .pattern = -1},
	[S_VALUES] = {.name = "Values", .type = MODEL_LIST, .item = S_STR, .item_name = "Value", .pattern = -1},
};
static const struct model_op q_ops[] = {{"Empty", -1}, {"Op", S_ROOT}};
static const struct model_service q_svc = {
	.name = "qtest", .api_version = "2020-01-01", .protocol = MODEL_PROTO_QUERY,
	.flags = MODEL_SVC_QUERY_MISSING_PARAMETER, .ops = q_ops, .nops = 2, .shapes = q_shapes,
	.nshapes = S_NSHAPES, .members = q_members,
};

/* query_to_json of body for Op: returns the error code; *out on success. */
static enum emu_err_code conv(const char *body, json_t **out)
{
	struct query_params q;
	*out = NULL;
	if (parse(body, &q) < 0)
		return err.code;
	int rc = query_to_json(&q_svc, "Op", &q, out, &err);
	query_free(&q);
	return rc < 0 ? err.code : ERR_OK;
}

static void expect(const char *body, const char *want_json)
{
	json_t *got = NULL, *want = json_loads(want_json, 0, NULL);
	ok(want != NULL, "expectation parses: %s", want_json);
	is_int(conv(body, &got), ERR_OK, "%s", body);
	ok(json_equal(got, want), "  gives %s", want_json);
	if (!json_equal(got, want)) {
		char *g = json_dumps(got, JSON_SORT_KEYS);
		printf("#   got: %s\n", g ? g : "(null)");
		free(g);
	}
	json_decref(got);
	json_decref(want);
}

static void reject(const char *body, enum emu_err_code code, const char *msg)
{
	json_t *got = NULL;
	is_int(conv(body, &got), code, "%s rejected", body);
	ok(got == NULL, "  no output");
	if (msg)
		is_str(err.msg, msg, "  message");
}

static void test_handmade(void)
{
	expect("Action=Op&Version=2020-01-01&Name=n&Count=-5&Big=9007199254740993&Flag=TRUE&Ratio=2.5"
	       "&When=2024-01-02T03:04:05.5Z&Data=AAE%3D"
	       "&Tags.Tag.2.Key=b&Tags.Tag.1.Key=a&Tags.Tag.1.Value=x"
	       "&Filters.Filter.1.Name=f&Filters.Filter.1.Values.Value.2=v2&Filters.Filter.1.Values.Value.1=v1"
	       "&Ids=&Item.1=i1&Item.2=i2&Attrs.entry.1.key=k&Attrs.entry.1.value=v&Attrs.entry.2.value=orphan"
	       "&Config.Max=3&Config.Pins.member.1=p&Unknown=1&Tags.Tag.1.Nope=1&X-Amz-Signature=abc",
	       "{\"Name\":\"n\",\"Count\":-5,\"Big\":9007199254740993,\"Flag\":true,\"Ratio\":2.5,"
	       "\"When\":1704164645.5,\"Data\":\"AAE=\",\"Tags\":[{\"Key\":\"a\",\"Value\":\"x\"},{\"Key\":\"b\"}],"
	       "\"Filters\":[{\"Name\":\"f\",\"Values\":[\"v1\",\"v2\"]}],\"Ids\":[],\"Flat\":[\"i1\",\"i2\"],"
	       "\"Attrs\":{\"k\":\"v\"},\"Config\":{\"Max\":3,\"Pins\":[\"p\"]}}");
	expect("Name=a&Name=b", "{\"Name\":\"a\"}");
	expect("Name=n&Ids=x", "{\"Name\":\"n\"}");
	expect("Name=n&Ids.member.1=a&Ids=", "{\"Name\":\"n\",\"Ids\":[\"a\"]}");
	expect("Name=n&Ids=&Ids.member.1=a", "{\"Name\":\"n\",\"Ids\":[\"a\"]}");
	expect("Name=n&Ids.member.10=c&Ids.member.2=b&Ids.member.999=d&Ids.member.2=dup", "{\"Name\":\"n\",\"Ids\":[\"b\",\"c\",\"d\"]}");
	expect("Name=n&Ids.member.0=a&Ids.member.01=b&Ids.member.x=c&Ids.Item.1=d&Ids.member=e", "{\"Name\":\"n\"}");
	expect("Name=n&Config=x&Config.Max=1&Flat.1=no", "{\"Name\":\"n\",\"Config\":{\"Max\":1}}");
	expect("Name=n&Flag=false&Flag=true&When=1704164645&Ratio=-1e3",
	       "{\"Name\":\"n\",\"Flag\":false,\"When\":1704164645,\"Ratio\":-1000.0}");
	expect("Name=n&When=2024-01-02T03:04:05%2B01:00", "{\"Name\":\"n\",\"When\":1704161045}");
	expect("Name=n&When=2024-02-29T00:00:00", "{\"Name\":\"n\",\"When\":1709164800}");
	expect("Name=&Attrs=", "{\"Name\":\"\",\"Attrs\":{}}");
	expect("Name=n&Attrs.entry.1.key=a&Attrs.entry.1.value=1&Attrs.entry.2.key=a&Attrs.entry.2.value=2&Attrs.entry.3.key=b",
	       "{\"Name\":\"n\",\"Attrs\":{\"a\":\"1\"}}");

	reject("Name=n&Count=abc", ERR_INVALID_PARAMETER_VALUE, "Invalid value for parameter Count: 'abc' is not a valid integer");
	reject("Name=n&Count=2147483648", ERR_INVALID_PARAMETER_VALUE,
	       "Invalid value for parameter Count: '2147483648' is not a valid integer");
	reject("Name=n&Count=", ERR_INVALID_PARAMETER_VALUE, "Invalid value for parameter Count: '' is not a valid integer");
	reject("Name=n&Count=+", ERR_INVALID_PARAMETER_VALUE, NULL);
	reject("Name=n&Count=%201", ERR_INVALID_PARAMETER_VALUE, NULL);
	reject("Name=n&Big=9223372036854775808", ERR_INVALID_PARAMETER_VALUE,
	       "Invalid value for parameter Big: '9223372036854775808' is not a valid long integer");
	reject("Name=n&Flag=yes", ERR_INVALID_PARAMETER_VALUE,
	       "Invalid value for parameter Flag: 'yes' is not a boolean (true or false)");
	reject("Name=n&Ratio=nan", ERR_INVALID_PARAMETER_VALUE, NULL);
	reject("Name=n&Ratio=1e999", ERR_INVALID_PARAMETER_VALUE, NULL);
	reject("Name=n&When=2024-13-01T00:00:00Z", ERR_INVALID_PARAMETER_VALUE,
	       "Invalid value for parameter When: '2024-13-01T00:00:00Z' is not an ISO 8601 timestamp");
	reject("Name=n&When=2023-02-29T00:00:00Z", ERR_INVALID_PARAMETER_VALUE, NULL);
	reject("Name=n&When=2024-01-01T00:00:00Zjunk", ERR_INVALID_PARAMETER_VALUE, NULL);
	reject("Name=n&Secret=abc", ERR_INVALID_PARAMETER_VALUE, "Invalid value for parameter Secret: not a valid integer");
	reject("Name=n&Config.Max=%01%02", ERR_INVALID_PARAMETER_VALUE,
	       "Invalid value for parameter Config.Max: '\?\?' is not a valid integer");
	reject("Name=n&Tags.Tag.1001.Key=a", ERR_INVALID_PARAMETER_VALUE,
	       "Invalid value for parameter Tags.Tag.1001.Key: element numbers run from 1 to 1000");
	reject("Name=n&Ids.member.99999999999999=a", ERR_INVALID_PARAMETER_VALUE, NULL);
	reject("Name=%ff", ERR_SERIALIZATION, "The value of parameter Name is not valid UTF-8");
	reject("Name=%ed%a0%80", ERR_SERIALIZATION, NULL); /* a surrogate */
	reject("Name=%c0%af", ERR_SERIALIZATION, NULL);    /* overlong */
	reject("Count=1", ERR_MISSING_PARAMETER, "The request must contain the parameter Name");
	reject("Name=n&Tags.Tag.1.Key=a&Tags.Tag.2.Value=x", ERR_MISSING_PARAMETER,
	       "The request must contain the parameter Tags.Tag.2.Key");
	is_str(emu_err_query_code(ERR_MISSING_PARAMETER), "MissingParameter", "Query code MissingParameter");
	is_str(emu_err_query_code(ERR_INVALID_PARAMETER_VALUE), "InvalidParameterValue", "Query code InvalidParameterValue");

	/* long keys and values are quoted briefly, as valid UTF-8 */
	char body[4096] = "Name=n&Count=";
	for (int i = 0; i < 100; i++)
		strcat(body, "%e2%82%ac");
	json_t *got = NULL;
	is_int(conv(body, &got), ERR_INVALID_PARAMETER_VALUE, "long bad value");
	ok(strlen(err.msg) < 160 && utf8ok(err.msg), "  quoted briefly, valid UTF-8: %s", err.msg);

	struct query_params q = {0};
	ok(query_to_json(&q_svc, "Empty", &q, &got, &err) == 0 && json_object_size(got) == 0, "operation without input");
	json_decref(got);
	ok(query_to_json(&q_svc, "Empty", NULL, &got, &err) == 0, "no params at all");
	json_decref(got);
}

int main(void)
{
	test_parse();
	test_sts_fixtures();
	test_handmade();
	return done_testing();
}
