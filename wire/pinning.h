/*
 * RDS Proxy session pinning for PostgreSQL (aws-behaviour.md 3.6-3.7), pure:
 * which client SQL pins a session to its backend connection, and the reason
 * text AWS logs when it does.  The proxy core calls pin_classify_query on
 * every simple Query ('Q') and pin_classify_parse on every Parse, and pins
 * the session until the client disconnects when the answer is not PIN_NONE.
 * No I/O, no allocation, no state between calls.
 *
 * The rules are one table of data (pin_rules): statement patterns over the
 * leading keywords, function names that pin when called, the 16 KB limit and
 * the named Parse.  Matching runs on tokens of a small PostgreSQL lexer, so
 * words inside string literals, quoted identifiers, comments and
 * dollar-quoted function bodies never pin.
 *
 * Choices where AWS does not say (each is argued in pinning.c's opening
 * comment):
 * - Length: the whole Query/Parse text (without its terminating NUL) pins
 *   when it is larger than PIN_MAX_QUERY bytes; exactly 16384 does not.
 * - Every SET and RESET pins, SET LOCAL, SET TRANSACTION and SET SESSION
 *   CHARACTERISTICS included; set_config() pins whatever its is_local.
 * - Any DECLARE pins (AWS: "declaring cursors"), WITH HOLD or not.
 * - LISTEN pins; UNLISTEN and NOTIFY do not.  PREPARE TRANSACTION does not.
 * - Session-level advisory lock functions pin, unlock ones included; the
 *   transaction-level pg_(try_)advisory_xact_lock(_shared) do not.
 * - nextval, setval, currval and lastval pin, unqualified or qualified by
 *   pg_catalog; a same-named function in another schema does not.
 * - CREATE [OR REPLACE] FUNCTION/PROCEDURE never pins: its body runs later.
 * - Named Parse (non-empty statement name) pins; an unnamed one is judged by
 *   its text like a Query.
 */
#ifndef WIRE_PINNING_H
#define WIRE_PINNING_H

#include <stdbool.h>
#include <stddef.h>

#define PIN_MAX_QUERY 16384 /* bytes of query text that do not pin; one more pins */
#define PIN_DIGEST_MAX 1024 /* bytes of normalised SQL in a digest before "..." */
#define PIN_TEXT_MAX 1280   /* a buffer of this size always holds pin_reason_text's output */

/* Why a session is pinned.  The order is stable (metrics may index by it). */
enum pin_reason {
	PIN_NONE = 0,       /* does not pin */
	PIN_TOO_LONG,       /* text over PIN_MAX_QUERY bytes */
	PIN_NAMED_PARSE,    /* Parse of a named prepared statement */
	PIN_SET,            /* SET ..., RESET ... */
	PIN_SET_CONFIG,     /* a set_config() call */
	PIN_PREPARE,        /* PREPARE, EXECUTE, DEALLOCATE */
	PIN_DISCARD,        /* DISCARD ALL | PLANS | SEQUENCES | TEMP */
	PIN_TEMP_OBJECT,    /* a temporary table, sequence or view is created */
	PIN_DECLARE_CURSOR, /* DECLARE ... CURSOR */
	PIN_LISTEN,         /* LISTEN channel */
	PIN_LOAD,           /* LOAD 'library' */
	PIN_SEQUENCE_FN,    /* nextval, setval, currval, lastval */
	PIN_ADVISORY_LOCK,  /* session-level advisory lock functions */
	PIN_REASON_COUNT
};

/* How a rule matches. */
enum pin_match {
	PIN_BY_LENGTH,    /* the text is longer than PIN_MAX_QUERY bytes */
	PIN_BY_PARSE,     /* a Parse message with a statement name */
	PIN_BY_STATEMENT, /* a statement's leading tokens match pattern */
	PIN_BY_CALL       /* a statement calls one of pattern's '|'-separated functions */
};

/*
 * One rule.  Statement patterns are words separated by single spaces, each
 * matching the next token (see pinning.c for the whole syntax):
 *   a|b      an unquoted keyword, any case (or a one-character punctuation)
 *   [a b]    an optional sequence
 *   !a|b     the next token is not one of these (consumes nothing)
 *   ...      any tokens (at most once per pattern)
 *   @pg_temp the schema qualifier "pg_temp." (or pg_temp_N.)
 *   @name    a relation name: a quoted identifier or a non-reserved word
 * Rules are tried in table order and the first that matches a statement
 * decides; a rule with reason PIN_NONE exempts the statement.
 */
struct pin_rule {
	enum pin_reason reason;
	enum pin_match match;
	const char *pattern;  /* PIN_BY_STATEMENT / PIN_BY_CALL; NULL otherwise */
	const char *id;       /* short reason name: "set", "too_long", ... ("none" for exemptions) */
	const char *log_text; /* AWS's log reason text (before any digest) */
	bool digest;          /* the log text is followed by Digest: "<normalised SQL>". */
	const char *source;   /* where the rule comes from */
};

/* The rule table and its length. */
const struct pin_rule *pin_rules(size_t *n);

/* The short name of a reason ("none", "set", ...); "" for a value out of range. */
const char *pin_reason_id(enum pin_reason r);

/* Classify a simple-protocol query string (len bytes, not necessarily
 * NUL-terminated; may hold several statements separated by ';'). */
enum pin_reason pin_classify_query(const char *sql, size_t len);

/* Classify a Parse message: a named statement (non-NULL, non-empty
 * stmt_name) pins; otherwise the text's rules apply as for a Query. */
enum pin_reason pin_classify_parse(const char *stmt_name, const char *sql, size_t len);

/* The same, returning the rule that matched (NULL when nothing pins). */
const struct pin_rule *pin_match_query(const char *sql, size_t len);
const struct pin_rule *pin_match_parse(const char *stmt_name, const char *sql, size_t len);

/*
 * Writes AWS's reason text for r into out (cap bytes, always NUL-terminated
 * when cap > 0; out may be NULL when cap is 0), snprintf-style: returns the
 * full length, which is below PIN_TEXT_MAX.  Reasons found in SQL end with the digest of sql: the whole
 * text with constants replaced by $1, $2, ... (numbered after any $n already
 * in it), keywords and unquoted names in lower case, comments dropped,
 * whitespace collapsed, capped at PIN_DIGEST_MAX bytes (then "..."), printable
 * ASCII or valid UTF-8 only.  PIN_NONE and values out of range give "".
 */
size_t pin_reason_text(enum pin_reason r, const char *sql, size_t len, char *out, size_t cap);

#endif
