/*
 * The store: one SQLite database (WAL) under the state dir, or in memory
 * with --ephemeral.  Called on the loop thread only.  Prepared statements
 * are cached by the address of their SQL text (pass string literals).
 * Transactions nest through savepoints: store_begin/store_commit/
 * store_rollback pairs may be used inside each other.
 */
#ifndef EMU_STORE_H
#define EMU_STORE_H

#include "emu/err.h"

#include <sqlite3.h>
#include <stdbool.h>

struct store;

/* dir == NULL: in-memory database. */
int store_open(struct store **out, const char *dir, struct emu_err *err);
void store_close(struct store *s);
sqlite3 *store_db(struct store *s);
/* A cached, reset statement for sql (a string literal); NULL on error (logged). */
sqlite3_stmt *store_prep(struct store *s, const char *sql);
int store_begin(struct store *s);
int store_commit(struct store *s);
void store_rollback(struct store *s);
/* Deletes every row of every table (schema kept). */
int store_reset(struct store *s, struct emu_err *err);
int store_schema_version(struct store *s);
/* Helpers for the common cases; all return -1 and fill err (ERR_INTERNAL) on SQLite errors. */
int store_exec(struct store *s, const char *sql, struct emu_err *err);
/* Reports an SQLite failure of stmt as ERR_INTERNAL. */
int store_fail(struct store *s, struct emu_err *err);
/* Bind text or NULL. */
int store_bind_text(sqlite3_stmt *st, int idx, const char *v);
/* Column text or NULL (valid until the next step/reset). */
const char *store_col_text(sqlite3_stmt *st, int idx);
struct json_t;
/* Ends the savepoint of a JSON domain operation: commits when rc == 0,
 * else rolls back; on any failure drops *out.  Returns 0 or -1 (err set
 * for a failed commit; kept from the operation otherwise). */
int store_finish_json(struct store *s, int rc, struct json_t **out, struct emu_err *err);

/* A counter bumped each time the HTTP server has answered a request (an API
 * call or an admin action may have changed anything).  Data-plane caches of
 * what the store said (a proxy's settings, the secrets it read) are valid
 * while it stays the same. */
void store_touch(void);
unsigned long store_touches(void);

#endif
