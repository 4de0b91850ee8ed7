/*
 * pinning.c owns the PostgreSQL session-pinning rules of RDS Proxy
 * (aws-behaviour.md 3.6-3.7): a table of rules, a small SQL lexer to match
 * them on, a statement splitter, and the digest AWS quotes in its log.
 *
 * May call: libc (string.h) only.  No I/O, no allocation, no globals with
 * state; the rule table is const data.
 *
 * Invariants:
 * - Nothing is read at or past len; the text need not be NUL-terminated and
 *   may hold any bytes.  Every byte is one token's or a blank's, whatever its
 *   value.  An unterminated quote or comment runs to the end of the text.
 * - Time is linear in len: each token is lexed a bounded number of times
 *   (once by the splitter, once per rule that scans, a few times by the
 *   patterns' lookahead), the closing-tag search of a dollar quote compares
 *   each byte at most once, and a text over PIN_MAX_QUERY bytes is not lexed
 *   at all by the classifier.  Recursion depth is bounded by PAT_MAX.
 * - The lexer follows PostgreSQL's scan.l with standard_conforming_strings
 *   on (the default since 9.1, and RDS's): '...' doubles its quotes and
 *   treats backslash as a letter; E'...' also takes backslash escapes; B, X,
 *   N and U& prefixes make ordinary strings, U&"..." a quoted identifier;
 *   "..." doubles its quotes; $tag$...$tag$ (tag optional, not starting
 *   with a digit) is a string; $1 is a parameter; -- and nested slash-star
 *   comments are blanks; an identifier may contain '$' and bytes >= 0x80,
 *   so "a$$b" is one word, not a dollar quote.
 * - Statements split at ';' as psql splits them: a semicolon inside
 *   BEGIN ... END of CREATE [OR REPLACE] FUNCTION/PROCEDURE (an SQL-standard
 *   body, PostgreSQL 14+) does not end the statement; BEGIN, CASE and END
 *   are counted the way psqlscan.l counts them.
 * - Keywords match unquoted words only, without case (ASCII).  Function
 *   names also match a quoted identifier spelled exactly ("nextval" is
 *   nextval to PostgreSQL; "NEXTVAL" is another function).
 *
 * Choices where AWS does not say:
 * - Length: AWS pins "a statement larger than 16 KB" and logs "exceeded the
 *   16384 byte limit", so the limit is > 16384 bytes, measured on the
 *   Query/Parse text as sent (several statements together, no NUL): the
 *   proxy sees messages, not statements.  It is checked before anything else
 *   (the log reason then has no digest).
 * - SET: "Using SET commands" has no exemption on PostgreSQL, and SET LOCAL
 *   is documented not exempt, so every statement starting with SET pins:
 *   SET LOCAL, SET SESSION, SET TRANSACTION, SET SESSION CHARACTERISTICS
 *   (observed pinning JDBC's setTransactionIsolation), SET ROLE, SET
 *   CONSTRAINTS, SET TIME ZONE, SET NAMES.  RESET (any form) pins too:
 *   item 10, "resetting a parameter to its default".  SET inside other
 *   statements (UPDATE ... SET, ALTER ROLE ... SET, CREATE FUNCTION ... SET)
 *   does not.  set_config() pins even with is_local = true, like SET LOCAL.
 * - Prepared statements: PREPARE, EXECUTE and DEALLOCATE pin.  PREPARE
 *   TRANSACTION is two-phase commit, not a prepared statement: the prepared
 *   transaction leaves the session, so it does not pin (nor does COMMIT
 *   PREPARED).  DISCARD in every form pins, with its own reason.
 * - Temporary objects: CREATE [OR REPLACE] [GLOBAL|LOCAL] TEMP|TEMPORARY
 *   (whatever follows: PostgreSQL allows only TABLE, SEQUENCE and VIEW);
 *   CREATE ... TABLE|SEQUENCE|VIEW pg_temp.name (a temporary object too);
 *   SELECT ... INTO [GLOBAL|LOCAL] TEMP|TEMPORARY [TABLE] name and SELECT ...
 *   INTO [TABLE] pg_temp.name (also after WITH); EXPLAIN ... CREATE TEMP.
 *   UNLOGGED is not temporary.
 * - Cursors: AWS says "declaring cursors", so every DECLARE pins, not only
 *   WITH HOLD ones (a cursor without HOLD dies with its transaction, but AWS
 *   draws no such line).  FETCH, MOVE and CLOSE do not pin.
 * - LISTEN pins.  UNLISTEN only drops registrations (a session that had
 *   any was pinned by its LISTEN), so it does not pin; nor does NOTIFY or
 *   pg_notify().  LOAD pins.
 * - Sequences: nextval, setval, currval and lastval calls pin ("functions
 *   such as nextval and setval"; currval and lastval read what nextval left
 *   in the session).  Implicit calls (serial and identity defaults) are not
 *   visible in the text and do not pin.  A mention that is not a call
 *   (a column named nextval, nextval_count) does not pin; one in a DDL
 *   expression (DEFAULT nextval('s')) does, erring towards pinning.
 * - Advisory locks: "interacting with locks using functions such as
 *   pg_advisory_lock and pg_try_advisory_lock" pins for the session-level
 *   lock and unlock functions (unlock included: asyncpg's reset query,
 *   which starts with pg_advisory_unlock_all(), is a documented pin
 *   trigger).  The transaction-level pg_(try_)advisory_xact_lock(_shared)
 *   release at transaction end, which the proxy waits for anyway, so they
 *   do not pin.
 * - Function calls are looked for in every statement except CREATE [OR
 *   REPLACE] FUNCTION/PROCEDURE, whose body (dollar-quoted, quoted, BEGIN
 *   ATOMIC or RETURN expr) runs later, inside the function, where AWS does
 *   not look ("stored procedures and functions do not pin").  DO blocks
 *   are strings and never pin.  A call qualified by a schema other than
 *   pg_catalog is another function and does not pin.
 * - Order: the first statement that pins gives the reason; within a
 *   statement the first rule in table order.  Statements after an
 *   unterminated quote are inside it (PostgreSQL rejects the whole message).
 * - Log text: AWS's texts are known for the 16 KB limit ("The connection
 *   ran a SQL query which exceeded the 16384 byte limit."), the Parse
 *   message ("A parse message was detected.") and session settings ("SQL
 *   changed session settings that the proxy doesn't track. ... Digest:
 *   "<normalised SQL>"."), the last observed for SET (prisma-engines#1692)
 *   and SET SESSION CHARACTERISTICS (prisma#5866).  Every SQL rule uses that
 *   text; texts for the other reasons were not found.
 * - Digest: AWS's PostgreSQL digests look like libpg_query's normalisation
 *   lowered and with blanks collapsed: "set search_path = $1; set names
 *   $2;" for SET search_path = "public"; SET NAMES 'UTF8'; and "set session
 *   characteristics as transaction isolation level $1 uncommitted" (the
 *   grammar makes READ UNCOMMITTED a constant located at READ).  This file
 *   approximates that without a grammar: literals, numbers (with a unary
 *   minus), TRUE/FALSE/NULL (not after IS or NOT), the values of SET, and
 *   the first word of SET TRANSACTION's modes become $n, numbered after the
 *   highest $n in the text; comments are dropped; the whole text is the
 *   digest, not just the pinning statement.  Bytes that are not printable
 *   ASCII or valid UTF-8 become '?'.
 */
#include "wire/pinning.h"

#include <string.h>

#define TEXT_LONG "The connection ran a SQL query which exceeded the 16384 byte limit."
#define TEXT_PARSE "A parse message was detected."
#define TEXT_SESSION                                                                                               \
	"SQL changed session settings that the proxy doesn't track. Consider moving session configuration to "     \
	"the proxy's initialization query."
#define DIGEST_OPEN " Digest: \""
#define DIGEST_CLOSE "\"."
#define ELLIPSIS "..."
#define PAT_MAX 24      /* elements in one pattern */
#define PARAM_MAX 1000000000UL /* $n numbers saturate here */

_Static_assert(sizeof TEXT_SESSION - 1 + sizeof DIGEST_OPEN - 1 + PIN_DIGEST_MAX + sizeof ELLIPSIS - 1 +
                       sizeof DIGEST_CLOSE - 1 <
                   PIN_TEXT_MAX,
               "PIN_TEXT_MAX holds the longest reason text");

/* ---- the rules ---------------------------------------------------------- */

#define SQLRULE(r, m, p, id, src) {r, m, p, id, TEXT_SESSION, true, src}

static const struct pin_rule RULES[] = {
	{PIN_TOO_LONG, PIN_BY_LENGTH, NULL, "too_long", TEXT_LONG, false, "3.7 general: text larger than 16 KB"},
	{PIN_NAMED_PARSE, PIN_BY_PARSE, NULL, "named_parse", TEXT_PARSE, false, "3.6: named Parse (safe choice)"},
	SQLRULE(PIN_SET, PIN_BY_STATEMENT, "set", "set", "3.7 PostgreSQL 1, 10"),
	SQLRULE(PIN_SET, PIN_BY_STATEMENT, "reset", "set", "3.7 PostgreSQL 10: resetting a parameter"),
	SQLRULE(PIN_PREPARE, PIN_BY_STATEMENT, "prepare !transaction", "prepare", "3.7 PostgreSQL 2"),
	SQLRULE(PIN_PREPARE, PIN_BY_STATEMENT, "execute", "prepare", "3.7 PostgreSQL 2"),
	SQLRULE(PIN_PREPARE, PIN_BY_STATEMENT, "deallocate", "prepare", "3.7 PostgreSQL 2"),
	SQLRULE(PIN_DISCARD, PIN_BY_STATEMENT, "discard", "discard", "3.7 PostgreSQL 2, 5"),
	SQLRULE(PIN_TEMP_OBJECT, PIN_BY_STATEMENT, "create [or replace] [global|local] temp|temporary", "temp_object",
	        "3.7 PostgreSQL 3"),
	SQLRULE(PIN_TEMP_OBJECT, PIN_BY_STATEMENT,
	        "create [or replace] [unlogged] [recursive] table|sequence|view [if not exists] @pg_temp", "temp_object",
	        "3.7 PostgreSQL 3: an object created in pg_temp is temporary"),
	SQLRULE(PIN_TEMP_OBJECT, PIN_BY_STATEMENT, "select|with ... into [global|local] temp|temporary [table] @name",
	        "temp_object", "3.7 PostgreSQL 3: SELECT INTO creates a table"),
	SQLRULE(PIN_TEMP_OBJECT, PIN_BY_STATEMENT, "select|with ... into [table] @pg_temp", "temp_object",
	        "3.7 PostgreSQL 3: SELECT INTO creates a table"),
	SQLRULE(PIN_TEMP_OBJECT, PIN_BY_STATEMENT, "explain ... create [global|local] temp|temporary", "temp_object",
	        "3.7 PostgreSQL 3: EXPLAIN ANALYZE runs CREATE TABLE AS"),
	SQLRULE(PIN_DECLARE_CURSOR, PIN_BY_STATEMENT, "declare", "declare_cursor", "3.7 PostgreSQL 4"),
	SQLRULE(PIN_LISTEN, PIN_BY_STATEMENT, "listen", "listen", "3.7 PostgreSQL 6"),
	SQLRULE(PIN_LOAD, PIN_BY_STATEMENT, "load", "load", "3.7 PostgreSQL 7"),
	SQLRULE(PIN_NONE, PIN_BY_STATEMENT, "create [or replace] function|procedure", "none",
	        "3.7: stored procedures and functions do not pin"),
	SQLRULE(PIN_SET_CONFIG, PIN_BY_CALL, "set_config", "set_config", "3.7 PostgreSQL 10"),
	SQLRULE(PIN_SEQUENCE_FN, PIN_BY_CALL, "nextval|setval|currval|lastval", "sequence_fn", "3.7 PostgreSQL 8"),
	SQLRULE(PIN_ADVISORY_LOCK, PIN_BY_CALL,
	        "pg_advisory_lock|pg_advisory_lock_shared|pg_try_advisory_lock|pg_try_advisory_lock_shared|"
	        "pg_advisory_unlock|pg_advisory_unlock_shared|pg_advisory_unlock_all",
	        "advisory_lock", "3.7 PostgreSQL 9"),
};

#define N_RULES (sizeof RULES / sizeof RULES[0])

static const char *const REASON_IDS[PIN_REASON_COUNT] = {
	[PIN_NONE] = "none",
	[PIN_TOO_LONG] = "too_long",
	[PIN_NAMED_PARSE] = "named_parse",
	[PIN_SET] = "set",
	[PIN_SET_CONFIG] = "set_config",
	[PIN_PREPARE] = "prepare",
	[PIN_DISCARD] = "discard",
	[PIN_TEMP_OBJECT] = "temp_object",
	[PIN_DECLARE_CURSOR] = "declare_cursor",
	[PIN_LISTEN] = "listen",
	[PIN_LOAD] = "load",
	[PIN_SEQUENCE_FN] = "sequence_fn",
	[PIN_ADVISORY_LOCK] = "advisory_lock",
};

/* Words that cannot be a relation name after SELECT ... INTO TEMP (reserved
 * in PostgreSQL's grammar, or what follows INSERT INTO temp). */
static const char NOT_A_NAME[] = "from|where|group|having|order|limit|offset|union|intersect|except|window|for|"
                                 "fetch|into|table|values|select|default|as|on|returning";

/* Words after which '-' is a sign, not a subtraction (for the digest). */
static const char UNARY_AFTER[] = "select|where|and|or|not|when|then|else|return|returning|limit|offset|by|between|"
                                  "values|like|is";

/* ---- bytes -------------------------------------------------------------- */

static bool is_blank(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static bool ident_start(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

static bool ident_cont(unsigned char c) { return ident_start(c) || is_digit(c) || c == '$'; }

static unsigned char lower(unsigned char c) { return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c; }

/* Length of the valid UTF-8 sequence at p (avail bytes), 0 if none. */
static size_t utf8_len(const unsigned char *p, size_t avail)
{
	size_t n;
	unsigned long cp;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2, cp = p[0] & 0x1fu;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3, cp = p[0] & 0x0fu;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4, cp = p[0] & 0x07u;
	else
		return 0;
	if (avail < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3fu);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

/* ---- lexer -------------------------------------------------------------- */

enum tok_kind { TK_END, TK_WORD, TK_QIDENT, TK_STRING, TK_NUMBER, TK_PARAM, TK_PUNCT };

struct tok {
	enum tok_kind kind;
	size_t start, len;  /* the token's bytes in the text, quotes and prefixes included */
	bool space_before;  /* a blank or a comment precedes it */
};

/* A position in s[0, end); copied by value to look ahead. */
struct lexer {
	const unsigned char *s;
	size_t end;
	size_t pos;
};

/* Skips blanks and comments; true if there were any. */
static bool skip_blank(struct lexer *lx)
{
	const unsigned char *s = lx->s;
	size_t p = lx->pos, end = lx->end;
	bool any = false;
	while (p < end) {
		if (is_blank(s[p])) {
			p++;
		} else if (s[p] == '-' && p + 1 < end && s[p + 1] == '-') {
			p += 2;
			while (p < end && s[p] != '\n' && s[p] != '\r')
				p++;
		} else if (s[p] == '/' && p + 1 < end && s[p + 1] == '*') {
			size_t depth = 1; /* comments nest */
			p += 2;
			while (p < end && depth > 0) {
				if (s[p] == '/' && p + 1 < end && s[p + 1] == '*')
					depth++, p += 2;
				else if (s[p] == '*' && p + 1 < end && s[p + 1] == '/')
					depth--, p += 2;
				else
					p++;
			}
		} else {
			break;
		}
		any = true;
	}
	lx->pos = p;
	return any;
}

/* From just after an opening quote q: the position after the closing one
 * (a doubled q belongs to the body; with backslash set, '\' escapes the
 * next byte), or end. */
static size_t scan_quoted(const unsigned char *s, size_t p, size_t end, unsigned char q, bool backslash)
{
	while (p < end) {
		unsigned char c = s[p++];
		if (backslash && c == '\\') {
			if (p < end)
				p++;
		} else if (c == q) {
			if (p < end && s[p] == q)
				p++;
			else
				return p;
		}
	}
	return end;
}

/* At a '$' that is not a parameter: the end of the dollar quote that starts
 * here, or 0 if none does.  The closing tag is looked for only at '$'
 * bytes, and since a tag holds no '$', each comparison stops at the next
 * '$': every byte is compared at most once. */
static size_t scan_dollar(const unsigned char *s, size_t p, size_t end)
{
	size_t t = p + 1;
	if (t < end && ident_start(s[t]))
		while (t < end && (ident_start(s[t]) || is_digit(s[t])))
			t++;
	if (t >= end || s[t] != '$')
		return 0;
	size_t taglen = t + 1 - p; /* "$tag$" */
	for (size_t q = t + 1; q < end; q++) {
		if (s[q] != '$' || end - q < taglen)
			continue;
		size_t i = 1;
		while (i < taglen && s[q + i] == s[p + i])
			i++;
		if (i == taglen)
			return q + taglen;
	}
	return end;
}

static struct tok next_token(struct lexer *lx)
{
	struct tok t = {TK_END, 0, 0, false};
	t.space_before = skip_blank(lx);
	const unsigned char *s = lx->s;
	size_t p = lx->pos, end = lx->end;
	t.start = p;
	if (p >= end) {
		t.start = end;
		return t;
	}
	unsigned char c = s[p];
	unsigned char c1 = p + 1 < end ? s[p + 1] : 0, c2 = p + 2 < end ? s[p + 2] : 0;
	size_t dq;
	if (c == '\'') {
		t.kind = TK_STRING, p = scan_quoted(s, p + 1, end, '\'', false);
	} else if (c == '"') {
		t.kind = TK_QIDENT, p = scan_quoted(s, p + 1, end, '"', false);
	} else if ((c == 'e' || c == 'E') && c1 == '\'') {
		t.kind = TK_STRING, p = scan_quoted(s, p + 2, end, '\'', true);
	} else if ((c == 'b' || c == 'B' || c == 'x' || c == 'X' || c == 'n' || c == 'N') && c1 == '\'') {
		t.kind = TK_STRING, p = scan_quoted(s, p + 2, end, '\'', false);
	} else if ((c == 'u' || c == 'U') && c1 == '&' && (c2 == '\'' || c2 == '"')) {
		t.kind = c2 == '"' ? TK_QIDENT : TK_STRING, p = scan_quoted(s, p + 3, end, c2, false);
	} else if (ident_start(c)) {
		t.kind = TK_WORD;
		while (p < end && ident_cont(s[p]))
			p++;
	} else if (is_digit(c) || (c == '.' && is_digit(c1))) {
		/* Digits, letters, '_' and '.' (1.5e3, 0x1F, 1_000), and a sign
		 * after a decimal exponent. */
		bool hex = c == '0' && (c1 == 'x' || c1 == 'X');
		t.kind = TK_NUMBER;
		p++;
		while (p < end) {
			unsigned char d = s[p];
			if (is_digit(d) || d == '.' || d == '_' || (d < 0x80 && ident_start(d)))
				p++;
			else if ((d == '+' || d == '-') && !hex && (s[p - 1] == 'e' || s[p - 1] == 'E') && p + 1 < end &&
			         is_digit(s[p + 1]))
				p++;
			else
				break;
		}
	} else if (c == '$' && is_digit(c1)) {
		t.kind = TK_PARAM;
		p++;
		while (p < end && is_digit(s[p]))
			p++;
	} else if (c == '$' && (dq = scan_dollar(s, p, end)) > 0) {
		t.kind = TK_STRING, p = dq;
	} else {
		t.kind = TK_PUNCT, p++;
	}
	t.len = p - t.start;
	lx->pos = p;
	return t;
}

static bool is_punct(const unsigned char *s, const struct tok *t, char c)
{
	return t->kind == TK_PUNCT && s[t->start] == (unsigned char)c;
}

/* Is t the word w (wn bytes, lower case)?  Unquoted words compare without
 * case; with quoted set, a quoted identifier spelled exactly matches too. */
static bool tok_is(const unsigned char *s, const struct tok *t, const char *w, size_t wn, bool quoted)
{
	if (t->kind == TK_WORD && t->len == wn) {
		for (size_t i = 0; i < wn; i++)
			if (lower(s[t->start + i]) != (unsigned char)w[i])
				return false;
		return true;
	}
	return quoted && t->kind == TK_QIDENT && t->len == wn + 2 && s[t->start + t->len - 1] == '"' &&
	       memcmp(s + t->start + 1, w, wn) == 0;
}

static bool word_is(const unsigned char *s, const struct tok *t, const char *w)
{
	return tok_is(s, t, w, strlen(w), false);
}

/* Is t one of alts ("a|b|c", n bytes)?  A one-byte alternative that is not
 * a letter matches that punctuation. */
static bool tok_in(const unsigned char *s, const struct tok *t, const char *alts, size_t n, bool quoted)
{
	size_t i = 0;
	while (i < n) {
		const char *bar = memchr(alts + i, '|', n - i);
		size_t j = bar ? (size_t)(bar - alts) : n;
		if (j - i == 1 && !ident_start((unsigned char)alts[i])) {
			if (is_punct(s, t, alts[i]))
				return true;
		} else if (tok_is(s, t, alts + i, j - i, quoted)) {
			return true;
		}
		i = j + 1;
	}
	return false;
}

/* pg_temp, or pg_temp_<digits>, as a schema name. */
static bool is_temp_schema(const unsigned char *s, const struct tok *t)
{
	size_t b = t->start, n = t->len;
	if (t->kind == TK_QIDENT) {
		if (n < 2 || s[b + n - 1] != '"')
			return false;
		b++, n -= 2;
	} else if (t->kind != TK_WORD) {
		return false;
	}
	static const char P[] = "pg_temp";
	if (n < sizeof P - 1)
		return false;
	for (size_t i = 0; i < sizeof P - 1; i++)
		if ((t->kind == TK_WORD ? lower(s[b + i]) : s[b + i]) != (unsigned char)P[i])
			return false;
	if (n == sizeof P - 1)
		return true;
	if (s[b + sizeof P - 1] != '_' || n == sizeof P)
		return false;
	for (size_t i = sizeof P; i < n; i++)
		if (!is_digit(s[b + i]))
			return false;
	return true;
}

/* ---- patterns ----------------------------------------------------------- */

enum el_kind { EL_WORDS, EL_NOT, EL_OPT, EL_OPT_END, EL_SKIP, EL_TEMP_SCHEMA, EL_NAME };

struct el {
	enum el_kind kind;
	const char *text; /* EL_WORDS, EL_NOT: the alternatives */
	size_t n;
	size_t jump;      /* EL_OPT: index of its EL_OPT_END */
};

struct pat {
	struct el el[PAT_MAX];
	size_t n;
	bool ok;
};

static bool pat_push(struct pat *pt, enum el_kind k, const char *text, size_t n)
{
	if (pt->n >= PAT_MAX)
		return false;
	pt->el[pt->n++] = (struct el){k, text, n, 0};
	return true;
}

/* Parses a pattern (syntax in pinning.h); ok is false for a malformed one,
 * which then matches nothing. */
static void pat_parse(const char *src, struct pat *pt)
{
	pt->n = 0;
	pt->ok = false;
	size_t open = PAT_MAX, skips = 0;
	const char *p = src;
	while (*p) {
		const char *e = strchr(p, ' ');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		bool close = false;
		if (n > 0 && p[0] == '[') {
			if (open != PAT_MAX || !pat_push(pt, EL_OPT, NULL, 0))
				return;
			open = pt->n - 1;
			p++, n--;
		}
		if (n > 0 && p[n - 1] == ']')
			close = true, n--;
		bool fine;
		if (n == 3 && memcmp(p, "...", 3) == 0)
			fine = open == PAT_MAX && skips++ == 0 && pat_push(pt, EL_SKIP, NULL, 0);
		else if (n == 8 && memcmp(p, "@pg_temp", 8) == 0)
			fine = pat_push(pt, EL_TEMP_SCHEMA, NULL, 0);
		else if (n == 5 && memcmp(p, "@name", 5) == 0)
			fine = pat_push(pt, EL_NAME, NULL, 0);
		else if (n > 1 && p[0] == '!')
			fine = pat_push(pt, EL_NOT, p + 1, n - 1);
		else
			fine = n > 0 && p[0] != '@' && pat_push(pt, EL_WORDS, p, n);
		if (!fine)
			return;
		if (close) {
			if (open == PAT_MAX || !pat_push(pt, EL_OPT_END, NULL, 0))
				return;
			pt->el[open].jump = pt->n - 1;
			open = PAT_MAX;
		}
		p += n + (close ? 1 : 0) + (e ? 1 : 0);
		if (e && !*p)
			return; /* a trailing space */
	}
	pt->ok = pt->n > 0 && open == PAT_MAX;
}

/* Do the elements from i on match the tokens from lx on?  Backtracks over
 * optional groups; EL_SKIP tries every later position (once per pattern). */
static bool pat_match(const struct pat *pt, size_t i, struct lexer lx)
{
	const unsigned char *s = lx.s;
	if (i == pt->n)
		return true;
	const struct el *e = &pt->el[i];
	struct tok t;
	switch (e->kind) {
	case EL_OPT:
		return pat_match(pt, i + 1, lx) || pat_match(pt, e->jump + 1, lx);
	case EL_OPT_END:
		return pat_match(pt, i + 1, lx);
	case EL_NOT: {
		struct lexer ahead = lx;
		t = next_token(&ahead);
		return !tok_in(s, &t, e->text, e->n, false) && pat_match(pt, i + 1, lx);
	}
	case EL_WORDS:
		t = next_token(&lx);
		return tok_in(s, &t, e->text, e->n, false) && pat_match(pt, i + 1, lx);
	case EL_SKIP:
		for (;;) {
			if (pat_match(pt, i + 1, lx))
				return true;
			if (next_token(&lx).kind == TK_END)
				return false;
		}
	case EL_TEMP_SCHEMA:
		t = next_token(&lx);
		if (!is_temp_schema(s, &t))
			return false;
		t = next_token(&lx);
		return is_punct(s, &t, '.') && pat_match(pt, i + 1, lx);
	case EL_NAME:
		t = next_token(&lx);
		return (t.kind == TK_QIDENT || (t.kind == TK_WORD && !tok_in(s, &t, NOT_A_NAME, sizeof NOT_A_NAME - 1, false))) &&
		       pat_match(pt, i + 1, lx);
	}
	return false;
}

/* Does the statement call one of names ("a|b")?  A call is the name (a
 * word, or a quoted identifier spelled exactly), unqualified or qualified
 * by pg_catalog, followed by '('.  Names are compared only before a '(',
 * so the scan costs one lexing of the statement. */
static bool match_call(const char *names, struct lexer lx)
{
	const unsigned char *s = lx.s;
	size_t nn = strlen(names);
	struct tok p1 = {TK_END, 0, 0, false}, p2 = p1, p3 = p1; /* the tokens before t */
	for (struct tok t = next_token(&lx); t.kind != TK_END; t = next_token(&lx)) {
		if (is_punct(s, &t, '(') && (p1.kind == TK_WORD || p1.kind == TK_QIDENT) && tok_in(s, &p1, names, nn, true) &&
		    (!is_punct(s, &p2, '.') || tok_is(s, &p3, "pg_catalog", 10, true)))
			return true;
		p3 = p2, p2 = p1, p1 = t;
	}
	return false;
}

/* ---- statements --------------------------------------------------------- */

struct splitter {
	const unsigned char *s;
	size_t len, pos;
	bool done;
};

/* psqlscan.l's marks for the first words of CREATE [OR REPLACE]
 * FUNCTION|PROCEDURE. */
static char routine_mark(const unsigned char *s, const struct tok *t)
{
	static const char *const W[] = {"create", "function", "procedure", "or", "replace"};
	for (size_t i = 0; i < sizeof W / sizeof W[0]; i++)
		if (word_is(s, t, W[i]))
			return W[i][0];
	return 0;
}

/* The next statement's byte range [*a, *b); false when there is none left. */
static bool next_statement(struct splitter *sp, size_t *a, size_t *b)
{
	if (sp->done)
		return false;
	struct lexer lx = {sp->s, sp->len, sp->pos};
	char mark[4] = {0, 0, 0, 0};
	size_t words = 0, parens = 0, begins = 0;
	for (;;) {
		struct tok t = next_token(&lx);
		if (t.kind == TK_END) {
			*a = sp->pos, *b = sp->len;
			sp->done = true;
			return true;
		}
		if (t.kind == TK_PUNCT) {
			unsigned char c = sp->s[t.start];
			if (c == ';' && begins == 0) {
				*a = sp->pos, *b = t.start;
				sp->pos = t.start + 1;
				return true;
			}
			if (c == '(')
				parens++;
			else if (c == ')' && parens > 0)
				parens--;
			continue;
		}
		if (t.kind != TK_WORD)
			continue;
		if (words < 4)
			mark[words] = routine_mark(sp->s, &t);
		words++;
		bool routine = mark[0] == 'c' && (mark[1] == 'f' || mark[1] == 'p' ||
		                                  (mark[1] == 'o' && mark[2] == 'r' && (mark[3] == 'f' || mark[3] == 'p')));
		if (!routine || parens > 0)
			continue;
		if (word_is(sp->s, &t, "begin"))
			begins++;
		else if (word_is(sp->s, &t, "case") && begins > 0)
			begins++; /* CASE also ends with END */
		else if (word_is(sp->s, &t, "end") && begins > 0)
			begins--;
	}
}

/* The first rule that matches s[a, b), or NULL. */
static const struct pin_rule *match_statement(const unsigned char *s, size_t a, size_t b, const struct pat *pats)
{
	struct lexer lx = {s, b, a};
	struct lexer probe = lx;
	if (next_token(&probe).kind == TK_END)
		return NULL; /* an empty statement */
	for (size_t r = 0; r < N_RULES; r++) {
		bool hit = false;
		if (RULES[r].match == PIN_BY_STATEMENT)
			hit = pats[r].ok && pat_match(&pats[r], 0, lx);
		else if (RULES[r].match == PIN_BY_CALL)
			hit = match_call(RULES[r].pattern, lx);
		if (hit)
			return &RULES[r];
	}
	return NULL;
}

static const struct pin_rule *rule_by(enum pin_match m)
{
	for (size_t r = 0; r < N_RULES; r++)
		if (RULES[r].match == m)
			return &RULES[r];
	return NULL;
}

/* ---- API ---------------------------------------------------------------- */

const struct pin_rule *pin_rules(size_t *n)
{
	if (n)
		*n = N_RULES;
	return RULES;
}

const char *pin_reason_id(enum pin_reason r)
{
	return (unsigned)r < PIN_REASON_COUNT ? REASON_IDS[r] : "";
}

const struct pin_rule *pin_match_query(const char *sql, size_t len)
{
	if (len > PIN_MAX_QUERY)
		return rule_by(PIN_BY_LENGTH);
	if (!sql || len == 0)
		return NULL;
	struct pat pats[N_RULES];
	for (size_t r = 0; r < N_RULES; r++) {
		pats[r].ok = false;
		if (RULES[r].match == PIN_BY_STATEMENT)
			pat_parse(RULES[r].pattern, &pats[r]);
	}
	struct splitter sp = {(const unsigned char *)sql, len, 0, false};
	size_t a, b;
	while (next_statement(&sp, &a, &b)) {
		const struct pin_rule *rule = match_statement(sp.s, a, b, pats);
		if (rule && rule->reason != PIN_NONE)
			return rule;
	}
	return NULL;
}

const struct pin_rule *pin_match_parse(const char *stmt_name, const char *sql, size_t len)
{
	if (stmt_name && stmt_name[0])
		return rule_by(PIN_BY_PARSE);
	return pin_match_query(sql, len);
}

enum pin_reason pin_classify_query(const char *sql, size_t len)
{
	const struct pin_rule *r = pin_match_query(sql, len);
	return r ? r->reason : PIN_NONE;
}

enum pin_reason pin_classify_parse(const char *stmt_name, const char *sql, size_t len)
{
	const struct pin_rule *r = pin_match_parse(stmt_name, sql, len);
	return r ? r->reason : PIN_NONE;
}

/* ---- reason text and digest --------------------------------------------- */

/* snprintf-style output: len counts every byte, those that fit are stored. */
struct out {
	char *buf;
	size_t cap, len;
};

static void put(struct out *o, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++, o->len++)
		if (o->len + 1 < o->cap)
			o->buf[o->len] = p[i];
}

/* The digest goes out in units (a character, a placeholder) and stops
 * before the first unit that would pass PIN_DIGEST_MAX. */
struct digest {
	struct out *o;
	size_t used;
	bool full;
	unsigned long next_param;
};

static void unit(struct digest *d, const char *p, size_t n)
{
	if (d->full)
		return;
	if (d->used + n > PIN_DIGEST_MAX) {
		d->full = true;
		return;
	}
	put(d->o, p, n);
	d->used += n;
}

/* The token's bytes, lowered if fold, unprintable ones as '?'. */
static void copy_tok(struct digest *d, const unsigned char *s, const struct tok *t, bool fold)
{
	size_t i = t->start, end = t->start + t->len;
	while (i < end) {
		unsigned char c = s[i];
		if (c >= 0x80) {
			size_t n = utf8_len(s + i, end - i);
			unit(d, n ? (const char *)s + i : "?", n ? n : 1);
			i += n ? n : 1;
			continue;
		}
		char ch = (char)(c >= 0x20 && c < 0x7f ? (fold ? lower(c) : c) : '?');
		unit(d, &ch, 1);
		i++;
	}
}

static void placeholder(struct digest *d)
{
	char b[24];
	size_t n = sizeof b;
	unsigned long v = ++d->next_param;
	do
		b[--n] = (char)('0' + v % 10);
	while ((v /= 10) > 0);
	b[--n] = '$';
	unit(d, b + n, sizeof b - n);
}

/* Where a SET statement is, for the digest. */
enum set_mode {
	SM_OFF,    /* not a SET statement, or nothing left to replace */
	SM_START,  /* after SET [SESSION|LOCAL] */
	SM_NAME,   /* the variable's name */
	SM_VALUES, /* after TO or '=': every value is a constant */
	SM_TXN     /* transaction modes: the first word of each is a constant */
};

static enum set_mode set_start(const unsigned char *s, const struct tok *t)
{
	static const char *const VALUE_NEXT[] = {"authorization", "names", "schema", "role", "zone"};
	if (word_is(s, t, "session") || word_is(s, t, "local") || word_is(s, t, "time"))
		return SM_START;
	for (size_t i = 0; i < sizeof VALUE_NEXT / sizeof VALUE_NEXT[0]; i++)
		if (word_is(s, t, VALUE_NEXT[i]))
			return SM_VALUES;
	if (word_is(s, t, "transaction") || word_is(s, t, "characteristics"))
		return SM_TXN;
	if (word_is(s, t, "constraints") || word_is(s, t, "xml"))
		return SM_OFF;
	return SM_NAME;
}

/* Is t a constant in mode m, given the word before it? */
static bool is_constant(const unsigned char *s, const struct tok *t, const struct tok *prev, enum set_mode m)
{
	if (t->kind == TK_STRING || t->kind == TK_NUMBER)
		return true;
	if (m == SM_VALUES)
		return t->kind == TK_QIDENT || (t->kind == TK_WORD && !word_is(s, t, "default") && !word_is(s, t, "local"));
	if (t->kind != TK_WORD)
		return false;
	if (m == SM_TXN) {
		if (word_is(s, t, "read"))
			return !word_is(s, prev, "repeatable");
		if (word_is(s, t, "deferrable"))
			return !word_is(s, prev, "not");
		return word_is(s, t, "repeatable") || word_is(s, t, "serializable") || word_is(s, t, "not");
	}
	if (word_is(s, t, "true") || word_is(s, t, "false") || word_is(s, t, "null"))
		return !word_is(s, prev, "is") && !word_is(s, prev, "not");
	return false;
}

static void write_digest(struct digest *d, const unsigned char *s, size_t len)
{
	struct lexer lx = {s, len, 0};
	unsigned long top = 0; /* the highest $n already in the text */
	for (struct tok t = next_token(&lx); t.kind != TK_END; t = next_token(&lx)) {
		if (t.kind != TK_PARAM)
			continue;
		unsigned long v = 0;
		for (size_t i = 1; i < t.len; i++)
			v = v >= PARAM_MAX / 10 ? PARAM_MAX : v * 10 + (unsigned long)(s[t.start + i] - '0');
		if (v > top)
			top = v;
	}
	d->next_param = top;

	lx.pos = 0;
	enum set_mode mode = SM_OFF;
	bool first = true, stmt_start = true;
	struct tok prev = {TK_END, 0, 0, false};
	for (struct tok t = next_token(&lx); t.kind != TK_END && !d->full; t = next_token(&lx)) {
		if (!first && t.space_before)
			unit(d, " ", 1);
		first = false;
		if (stmt_start) {
			mode = word_is(s, &t, "set") ? SM_START : SM_OFF;
			stmt_start = false;
			copy_tok(d, s, &t, true);
			prev = t;
			continue;
		}
		if (is_punct(s, &t, ';')) {
			unit(d, ";", 1);
			stmt_start = true;
			continue;
		}
		if (mode == SM_START || mode == SM_NAME) {
			/* SET's own words and the variable's name stay. */
			if (mode == SM_START)
				mode = t.kind == TK_QIDENT ? SM_NAME : set_start(s, &t);
			else if (word_is(s, &t, "to") || is_punct(s, &t, '='))
				mode = SM_VALUES;
			else if (word_is(s, &t, "from"))
				mode = SM_OFF;
			copy_tok(d, s, &t, t.kind == TK_WORD);
			prev = t;
			continue;
		}
		/* A unary minus before a number belongs to the constant. */
		if (is_punct(s, &t, '-') &&
		    (mode == SM_VALUES || (prev.kind == TK_WORD && tok_in(s, &prev, UNARY_AFTER, sizeof UNARY_AFTER - 1, false)) ||
		     (prev.kind == TK_PUNCT && !is_punct(s, &prev, ')') && !is_punct(s, &prev, ']')))) {
			struct lexer ahead = lx;
			struct tok n = next_token(&ahead);
			if (n.kind == TK_NUMBER && !n.space_before) {
				placeholder(d);
				lx = ahead;
				prev = n;
				continue;
			}
		}
		if (is_constant(s, &t, &prev, mode))
			placeholder(d);
		else
			copy_tok(d, s, &t, t.kind == TK_WORD);
		prev = t;
	}
}

size_t pin_reason_text(enum pin_reason r, const char *sql, size_t len, char *out, size_t cap)
{
	struct out o = {out, cap, 0};
	const struct pin_rule *rule = NULL;
	for (size_t i = 0; i < N_RULES && r != PIN_NONE; i++)
		if (RULES[i].reason == r) {
			rule = &RULES[i];
			break;
		}
	if (rule) {
		put(&o, rule->log_text, strlen(rule->log_text));
		if (rule->digest) {
			struct digest d = {&o, 0, false, 0};
			put(&o, DIGEST_OPEN, sizeof DIGEST_OPEN - 1);
			if (sql)
				write_digest(&d, (const unsigned char *)sql, len);
			if (d.full)
				put(&o, ELLIPSIS, sizeof ELLIPSIS - 1);
			put(&o, DIGEST_CLOSE, sizeof DIGEST_CLOSE - 1);
		}
	}
	if (cap > 0)
		out[o.len < cap ? o.len : cap - 1] = '\0';
	return o.len;
}
