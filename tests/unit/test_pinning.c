/*
 * Unit tests of the RDS Proxy pinning rules (wire/pinning.h): every case of
 * fixtures/pinning/postgres.tsv (run from the repository root; format in
 * its head), that every rule and reason is exercised by it, the 16 KB
 * boundary (built here: 16384 bytes do not pin, 16385 do), Parse
 * messages, lengths that stop short of the text, and the reason texts with
 * their digests, two of them exactly as AWS logged them for PostgreSQL.
 */
#include "wire/pinning.h"
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIXTURE "fixtures/pinning/postgres.tsv"
#define SESSION_TEXT                                                                                               \
	"SQL changed session settings that the proxy doesn't track. Consider moving session configuration to "     \
	"the proxy's initialization query. Digest: \""

/* Undoes the fixture's escapes (\n \t \r \\) in place; returns the length. */
static size_t unescape(char *s)
{
	size_t o = 0;
	for (size_t i = 0; s[i]; i++) {
		char c = s[i];
		if (c == '\\' && s[i + 1]) {
			char n = s[i + 1];
			char r = n == 'n' ? '\n' : n == 't' ? '\t' : n == 'r' ? '\r' : n == '\\' ? '\\' : 0;
			if (r) {
				s[o++] = r;
				i++;
				continue;
			}
		}
		s[o++] = c;
	}
	s[o] = '\0';
	return o;
}

static void test_fixture(void)
{
	size_t nrules;
	const struct pin_rule *rules = pin_rules(&nrules);
	size_t *rule_hits = calloc(nrules, sizeof *rule_hits);
	size_t reason_hits[PIN_REASON_COUNT] = {0};
	FILE *f = fopen(FIXTURE, "r");
	ok(f != NULL, "fixture %s opens", FIXTURE);
	if (!f || !rule_hits) {
		free(rule_hits);
		if (f)
			fclose(f);
		return;
	}
	char line[4096];
	size_t cases = 0, lineno = 0;
	while (fgets(line, sizeof line, f)) {
		lineno++;
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		char *tab = strchr(line, '\t');
		ok(tab != NULL && !strchr(tab + 1, '\t'), "line %zu has two columns", lineno);
		if (!tab)
			continue;
		*tab = '\0';
		char *want = tab + 1;
		char shown[64]; /* the case as written (escaped, one line), for the TAP description */
		size_t sn = strlen(line) < sizeof shown - 1 ? strlen(line) : sizeof shown - 1;
		memcpy(shown, line, sn);
		shown[sn] = '\0';
		size_t len = unescape(line);
		/* An exact-size copy, so ASan sees any read past the end. */
		char *sql = malloc(len ? len : 1);
		memcpy(sql, line, len);
		const struct pin_rule *rule = pin_match_query(sql, len);
		enum pin_reason got = pin_classify_query(sql, len);
		is_str(pin_reason_id(got), want, "line %zu: %s", lineno, shown);
		ok((rule ? rule->reason : PIN_NONE) == got, "line %zu: the rule gives the reason", lineno);
		if (rule)
			rule_hits[rule - rules]++;
		reason_hits[got]++;
		cases++;
		free(sql);
	}
	fclose(f);
	ok(cases >= 120, "%zu fixture cases", cases);
	ok(reason_hits[PIN_NONE] >= 40, "%zu cases that do not pin", reason_hits[PIN_NONE]);
	for (int r = PIN_SET; r < PIN_REASON_COUNT; r++)
		ok(reason_hits[r] > 0, "the fixture has a case for %s (%zu)", pin_reason_id((enum pin_reason)r),
		   reason_hits[r]);
	for (size_t i = 0; i < nrules; i++)
		if (rules[i].reason != PIN_NONE && (rules[i].match == PIN_BY_STATEMENT || rules[i].match == PIN_BY_CALL))
			ok(rule_hits[i] > 0, "rule %zu (%s) is exercised by the fixture", i, rules[i].pattern);
	free(rule_hits);
}

static void test_table(void)
{
	size_t n;
	const struct pin_rule *rules = pin_rules(&n);
	ok(n >= 15, "%zu rules", n);
	for (size_t i = 0; i < n; i++) {
		const struct pin_rule *r = &rules[i];
		is_str(r->id, pin_reason_id(r->reason), "rule %zu: id is its reason's", i);
		ok((r->pattern != NULL) == (r->match == PIN_BY_STATEMENT || r->match == PIN_BY_CALL),
		   "rule %zu: a pattern exactly when it matches SQL", i);
		ok(r->log_text && r->source && r->log_text[strlen(r->log_text) - 1] == '.', "rule %zu: texts", i);
		for (size_t j = 0; j < i; j++)
			if (rules[j].reason == r->reason && r->reason != PIN_NONE)
				ok(rules[j].log_text == r->log_text && rules[j].digest == r->digest,
				   "rules %zu and %zu of one reason log alike", j, i);
	}
	for (int a = 0; a < PIN_REASON_COUNT; a++)
		for (int b = 0; b < a; b++)
			if (strcmp(pin_reason_id((enum pin_reason)a), pin_reason_id((enum pin_reason)b)) == 0)
				ok(0, "reason ids %d and %d differ", a, b);
	is_str(pin_reason_id(PIN_REASON_COUNT), "", "an out-of-range reason has no id");
	is_str(pin_reason_id((enum pin_reason)-1), "", "a negative reason has no id");
}

/* A buffer of exactly n bytes: prefix, then filler inside a string literal
 * ("SELECT '...'" style when quoted), so only the length can pin. */
static char *make_sql(const char *prefix, size_t n)
{
	char *s = malloc(n);
	size_t p = strlen(prefix);
	memcpy(s, prefix, p);
	memset(s + p, 'a', n - p - 1);
	s[n - 1] = '\'';
	return s;
}

static void test_length(void)
{
	char *a = make_sql("SELECT '", PIN_MAX_QUERY);
	char *b = make_sql("SELECT '", PIN_MAX_QUERY + 1);
	is_int(pin_classify_query(a, PIN_MAX_QUERY), PIN_NONE, "16384 bytes do not pin");
	is_int(pin_classify_query(b, PIN_MAX_QUERY + 1), PIN_TOO_LONG, "16385 bytes pin");
	is_int(pin_classify_parse(NULL, a, PIN_MAX_QUERY), PIN_NONE, "Parse: 16384 bytes do not pin");
	is_int(pin_classify_parse("", b, PIN_MAX_QUERY + 1), PIN_TOO_LONG, "Parse: 16385 bytes pin");
	is_int(pin_classify_parse("S_1", b, PIN_MAX_QUERY + 1), PIN_NAMED_PARSE, "a named Parse says so first");
	free(a);
	free(b);
	a = make_sql("SET application_name = '", PIN_MAX_QUERY);
	b = make_sql("SET application_name = '", PIN_MAX_QUERY + 1);
	is_int(pin_classify_query(a, PIN_MAX_QUERY), PIN_SET, "a 16384-byte SET pins as SET");
	is_int(pin_classify_query(b, PIN_MAX_QUERY + 1), PIN_TOO_LONG, "a 16385-byte SET pins for its length");
	free(a);
	free(b);
	/* Several short statements count together. */
	size_t n = PIN_MAX_QUERY + 1;
	char *m = malloc(n);
	for (size_t i = 0; i < n; i++)
		m[i] = (i % 10 == 9) ? ';' : "SELECT 1 "[i % 10];
	is_int(pin_classify_query(m, n), PIN_TOO_LONG, "16385 bytes of short statements pin");
	is_int(pin_classify_query(m, n - 1), PIN_NONE, "16384 bytes of short statements do not");
	free(m);
}

static void test_parse_and_bounds(void)
{
	const char *set = "SET x = 1";
	is_int(pin_classify_parse("S_1", "SELECT 1", 8), PIN_NAMED_PARSE, "a named Parse pins");
	is_int(pin_classify_parse("", "SELECT 1", 8), PIN_NONE, "the unnamed Parse of a SELECT does not");
	is_int(pin_classify_parse(NULL, "SELECT 1", 8), PIN_NONE, "a NULL name is the unnamed statement");
	is_int(pin_classify_parse("", set, strlen(set)), PIN_SET, "the unnamed Parse of a SET pins as SET");
	is_int(pin_classify_parse("", "SELECT nextval($1)", 18), PIN_SEQUENCE_FN, "Parse text with nextval");
	is_int(pin_classify_query(NULL, 0), PIN_NONE, "no text");
	is_int(pin_classify_query(NULL, 5), PIN_NONE, "a NULL text");
	is_int(pin_classify_query("", 0), PIN_NONE, "an empty text");
	/* len, not the NUL, ends the text. */
	const char both[] = {'S', 'E', 'L', 'E', 'C', 'T', ' ', '1', ';', 'S', 'E', 'T', ' ', 'x', '=', '1'};
	is_int(pin_classify_query(both, 9), PIN_NONE, "a length that stops before the SET");
	is_int(pin_classify_query(both, sizeof both), PIN_SET, "the whole unterminated buffer");
	is_int(pin_classify_query("SET x = 1", 2), PIN_NONE, "\"SE\" is not SET");
	is_int(pin_classify_query("SELECT 1\0; SET x = 1", 20), PIN_SET, "a NUL byte is just a byte");
	const char dq[] = {'S', 'E', 'L', 'E', 'C', 'T', ' ', '$', 'a', '$', ' ', '$', 'a'};
	is_int(pin_classify_query(dq, sizeof dq), PIN_NONE, "an unterminated dollar quote at the very end");
	const char ec[] = {'S', 'E', 'L', 'E', 'C', 'T', ' ', 'E', '\'', '\\'};
	is_int(pin_classify_query(ec, sizeof ec), PIN_NONE, "an E string ending in a backslash");
	const char cm[] = {'S', 'E', 'T', ' ', '/', '*', '*'};
	is_int(pin_classify_query(cm, sizeof cm), PIN_SET, "SET then an unterminated comment");
}

/* pin_reason_text for r and sql, into a full-size buffer. */
static const char *text(enum pin_reason r, const char *sql, char *buf)
{
	size_t n = pin_reason_text(r, sql, sql ? strlen(sql) : 0, buf, PIN_TEXT_MAX);
	ok(n == strlen(buf) && n < PIN_TEXT_MAX, "text length %zu", n);
	return buf;
}

static void digest_is(enum pin_reason r, const char *sql, const char *want)
{
	char buf[PIN_TEXT_MAX], exp[PIN_TEXT_MAX], shown[64];
	size_t n = 0;
	for (; sql[n] && n < sizeof shown - 1; n++) /* one line for TAP */
		shown[n] = (unsigned char)sql[n] < 0x20 ? ' ' : sql[n];
	shown[n] = '\0';
	snprintf(exp, sizeof exp, SESSION_TEXT "%s\".", want);
	is_str(text(r, sql, buf), exp, "digest of %s", shown);
}

static void test_text(void)
{
	char buf[PIN_TEXT_MAX];
	is_str(text(PIN_TOO_LONG, "SELECT 1", buf), "The connection ran a SQL query which exceeded the 16384 byte limit.",
	       "the 16 KB text (AWS)");
	is_str(text(PIN_NAMED_PARSE, NULL, buf), "A parse message was detected.", "the Parse text (AWS)");
	is_str(text(PIN_NONE, "SET x = 1", buf), "", "PIN_NONE has no text");
	is_str(text(PIN_REASON_COUNT, "SET x = 1", buf), "", "nor has a value out of range");

	/* As AWS logged them (prisma-engines#1692; prisma#5866 with pgjdbc). */
	digest_is(PIN_SET, "SET search_path = \"public\";\n        SET NAMES 'UTF8';",
	          "set search_path = $1; set names $2;");
	digest_is(PIN_SET, "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ UNCOMMITTED",
	          "set session characteristics as transaction isolation level $1 uncommitted");

	digest_is(PIN_SET, "SET LOCAL statement_timeout = '5s'", "set local statement_timeout = $1");
	digest_is(PIN_SET, "SET search_path TO DEFAULT", "set search_path to default");
	digest_is(PIN_SET, "SET search_path TO \"$user\", public", "set search_path to $1, $2");
	digest_is(PIN_SET, "SET TIME ZONE 'UTC'", "set time zone $1");
	digest_is(PIN_SET, "SET TIME ZONE LOCAL", "set time zone local");
	digest_is(PIN_SET, "set extra_float_digits = -3", "set extra_float_digits = $1");
	digest_is(PIN_SET, "SET \"MyApp\".x TO on", "set \"MyApp\".x to $1");
	digest_is(PIN_SET, "SET ROLE admin", "set role $1");
	digest_is(PIN_SET, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY, NOT DEFERRABLE",
	          "set transaction isolation level $1 read, $2 only, $3 deferrable");
	digest_is(PIN_SET, "SET CONSTRAINTS ALL DEFERRED", "set constraints all deferred");
	digest_is(PIN_SET, "RESET ALL", "reset all");
	digest_is(PIN_SET, "SET x = 1;", "set x = $1;");
	digest_is(PIN_SEQUENCE_FN, "SELECT nextval('s') FROM t WHERE id = -1 AND x IS NOT NULL AND y = NULL",
	          "select nextval($1) from t where id = $2 and x is not null and y = $3");
	digest_is(PIN_SEQUENCE_FN, "SELECT a - 1, -2.5e-3, $1 FROM t WHERE b = $2 AND c = setval('s', 10)",
	          "select a - $3, $4, $1 from t where b = $2 and c = setval($5, $6)");
	digest_is(PIN_SET_CONFIG, "  SELECT  set_config( 'a' , E'b\\'c', false ) -- trailing\n",
	          "select set_config( $1 , $2, $3 )");
	digest_is(PIN_TEMP_OBJECT, "CREATE TEMP TABLE t (a int NOT NULL DEFAULT 0, b text) /* c */ ON COMMIT DROP",
	          "create temp table t (a int not null default $1, b text) on commit drop");
	digest_is(PIN_LISTEN, "LISTEN \"Jobs\"", "listen \"Jobs\"");
	digest_is(PIN_LOAD, "LOAD 'auto_explain'", "load $1");
	digest_is(PIN_ADVISORY_LOCK, "SELECT pg_advisory_lock(x'1F'::int, $$k$$::regclass::int)",
	          "select pg_advisory_lock($1::int, $2::regclass::int)");
	digest_is(PIN_PREPARE, "PREPARE q (int) AS SELECT $1 + 1", "prepare q (int) as select $1 + $2");
	digest_is(PIN_DECLARE_CURSOR, "DECLARE c CURSOR WITH HOLD FOR SELECT true",
	          "declare c cursor with hold for select $1");
	digest_is(PIN_DISCARD, "DISCARD ALL", "discard all");
	digest_is(PIN_SEQUENCE_FN, "SELECT nextval(\"caf\xc3\xa9\x01\xff\")", "select nextval(\"caf\xc3\xa9??\")");
	digest_is(PIN_SEQUENCE_FN, "SELECT \xc3\xa9T\xe2\x82", "select \xc3\xa9t??");
	digest_is(PIN_SET, "", "");

	/* snprintf semantics. */
	char small[10];
	size_t full = pin_reason_text(PIN_NAMED_PARSE, NULL, 0, small, sizeof small);
	is_int(full, strlen("A parse message was detected."), "the full length is returned");
	is_str(small, "A parse m", "and what fits is written, NUL-terminated");
	is_int(pin_reason_text(PIN_SET, "SET x = 1", 9, NULL, 0), strlen(SESSION_TEXT "set x = $1\"."),
	       "cap 0 only counts");

	/* The digest is capped at PIN_DIGEST_MAX bytes, then "...". */
	size_t n = 20 + 600 * 8;
	char *big = malloc(n + 1);
	strcpy(big, "SELECT nextval('s')");
	for (size_t i = strlen(big); i + 8 <= n; i += 8)
		memcpy(big + i, " +  1000", 8);
	big[n - (n - 19) % 8] = '\0';
	size_t len = pin_reason_text(PIN_SEQUENCE_FN, big, strlen(big), buf, sizeof buf);
	const char *dig = strstr(buf, "Digest: \"");
	ok(len < PIN_TEXT_MAX && len == strlen(buf), "a long digest fits PIN_TEXT_MAX (%zu)", len);
	ok(dig && strcmp(buf + len - 5, "...\".") == 0, "it ends with ...");
	ok(dig && strlen(dig + 9) - 5 <= PIN_DIGEST_MAX && strlen(dig + 9) - 5 > PIN_DIGEST_MAX - 8,
	   "it holds up to %d bytes of SQL", PIN_DIGEST_MAX);
	ok(dig && strncmp(dig + 9, "select nextval($1) + $2 + $3", 28) == 0, "and starts as normalised");
	free(big);
}

int main(void)
{
	test_fixture();
	test_table();
	test_length();
	test_parse_and_bounds();
	test_text();
	return done_testing();
}
