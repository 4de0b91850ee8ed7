/*
 * store.c owns the SQLite connection, the statement cache, savepoint
 * nesting and migrations.  It may call schema.c and log.c only.
 * Durability: WAL with synchronous=NORMAL survives a killed process (every
 * committed transaction is in the WAL in the OS page cache before the
 * commit returns); it is FULL only against power loss, which is out of
 * scope for a developer tool and costs an fsync per write.
 */
#include "emu/store.h"

#include "emu/log.h"
#include "emu/schema.h"
#include "emu/util.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define STMT_SLOTS 512

struct stmt_slot {
	const char *sql;
	sqlite3_stmt *st;
};

struct store {
	sqlite3 *db;
	int depth;
	struct stmt_slot slots[STMT_SLOTS];
};

static int sq_err(struct store *s, struct emu_err *err, const char *what)
{
	log_error("store", "%s: %s", what, sqlite3_errmsg(s->db));
	return emu_err_set(err, ERR_INTERNAL, "internal storage error");
}

int store_exec(struct store *s, const char *sql, struct emu_err *err)
{
	char *msg = NULL;
	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		log_error("store", "exec failed: %s", msg ? msg : "?");
		sqlite3_free(msg);
		return emu_err_set(err, ERR_INTERNAL, "internal storage error");
	}
	return 0;
}

int store_fail(struct store *s, struct emu_err *err) { return sq_err(s, err, "statement failed"); }

static int migrate(struct store *s, struct emu_err *err)
{
	sqlite3_stmt *st;
	int ver = 0;
	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return sq_err(s, err, "user_version");
	if (sqlite3_step(st) == SQLITE_ROW)
		ver = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (ver > schema_count())
		return emu_err_set(err, ERR_INTERNAL,
		                   "state was written by a newer rdsemu (schema %d > %d); refusing to open", ver,
		                   schema_count());
	if (ver == schema_count())
		return 0;
	if (store_exec(s, "BEGIN IMMEDIATE", err) < 0)
		return -1;
	for (int i = ver; i < schema_count(); i++) {
		if (store_exec(s, schema_migration(i), err) < 0)
			goto fail;
		log_info("store", "applied schema migration %d", i + 1);
	}
	char sql[64];
	snprintf(sql, sizeof sql, "PRAGMA user_version = %d", schema_count());
	if (store_exec(s, sql, err) < 0 || store_exec(s, "COMMIT", err) < 0)
		goto fail;
	return 0;
fail:
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

int store_open(struct store **out, const char *dir, struct emu_err *err)
{
	struct store *s = util_xcalloc(1, sizeof *s);
	char path[4096];
	if (dir) {
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			free(s);
			return emu_err_set(err, ERR_INTERNAL, "cannot create state dir %s: %s", dir, strerror(errno));
		}
		snprintf(path, sizeof path, "%s/rdsemu.db", dir);
	} else {
		snprintf(path, sizeof path, ":memory:");
	}
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
	if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
		emu_err_set(err, ERR_INTERNAL, "cannot open %s: %s", path, s->db ? sqlite3_errmsg(s->db) : "?");
		sqlite3_close(s->db);
		free(s);
		return -1;
	}
	sqlite3_busy_timeout(s->db, 2000);
	const char *pragmas = dir ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
	                            "PRAGMA temp_store=MEMORY;"
	                          : "PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;";
	if (store_exec(s, pragmas, err) < 0 || migrate(s, err) < 0) {
		sqlite3_close(s->db);
		free(s);
		return -1;
	}
	*out = s;
	return 0;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	for (int i = 0; i < STMT_SLOTS; i++)
		if (s->slots[i].st)
			sqlite3_finalize(s->slots[i].st);
	sqlite3_close(s->db);
	free(s);
}

sqlite3 *store_db(struct store *s) { return s->db; }

sqlite3_stmt *store_prep(struct store *s, const char *sql)
{
	size_t h = ((uintptr_t)sql >> 3) % STMT_SLOTS;
	for (size_t i = 0; i < STMT_SLOTS; i++) {
		struct stmt_slot *slot = &s->slots[(h + i) % STMT_SLOTS];
		if (slot->sql == sql) {
			sqlite3_reset(slot->st);
			sqlite3_clear_bindings(slot->st);
			return slot->st;
		}
		if (!slot->sql) {
			if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &slot->st, NULL) != SQLITE_OK) {
				log_error("store", "prepare failed: %s: %s", sqlite3_errmsg(s->db), sql);
				slot->st = NULL;
				return NULL;
			}
			slot->sql = sql;
			return slot->st;
		}
	}
	/* Cache full (should not happen): prepare uncached would leak; refuse. */
	log_error("store", "statement cache full");
	return NULL;
}

/* Savepoint statements are cached like any other: parsing them on every
 * call showed up in profiles of the GetSecretValue path. */
static int run_cached(struct store *s, const char *sql)
{
	sqlite3_stmt *st = store_prep(s, sql);
	if (!st)
		return -1;
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		log_error("store", "%s: %s", sql, sqlite3_errmsg(s->db));
		return -1;
	}
	return 0;
}

int store_begin(struct store *s)
{
	if (run_cached(s, "SAVEPOINT sp") < 0)
		return -1;
	s->depth++;
	return 0;
}

static unsigned long touches = 1;

void store_touch(void)
{
	touches++;
}

unsigned long store_touches(void)
{
	return touches;
}

int store_commit(struct store *s)
{
	if (s->depth <= 0)
		return -1;
	if (run_cached(s, "RELEASE sp") < 0) {
		store_rollback(s);
		return -1;
	}
	s->depth--;
	return 0;
}

void store_rollback(struct store *s)
{
	if (s->depth <= 0)
		return;
	run_cached(s, "ROLLBACK TO sp");
	run_cached(s, "RELEASE sp");
	s->depth--;
}

int store_reset(struct store *s, struct emu_err *err)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db,
	                       "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'",
	                       -1, &st, NULL) != SQLITE_OK)
		return sq_err(s, err, "list tables");
	if (store_begin(s) < 0) {
		sqlite3_finalize(st);
		return sq_err(s, err, "begin");
	}
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		char sql[256];
		snprintf(sql, sizeof sql, "DELETE FROM \"%s\"", (const char *)sqlite3_column_text(st, 0));
		if (store_exec(s, sql, err) < 0) {
			sqlite3_finalize(st);
			store_rollback(s);
			return -1;
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		store_rollback(s);
		return sq_err(s, err, "reset");
	}
	if (store_commit(s) < 0)
		return sq_err(s, err, "commit");
	return 0;
}

int store_schema_version(struct store *s)
{
	sqlite3_stmt *st;
	int v = -1;
	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	}
	return v;
}

int store_bind_text(sqlite3_stmt *st, int idx, const char *v)
{
	if (!v)
		return sqlite3_bind_null(st, idx);
	return sqlite3_bind_text(st, idx, v, -1, SQLITE_TRANSIENT);
}

const char *store_col_text(sqlite3_stmt *st, int idx)
{
	if (sqlite3_column_type(st, idx) == SQLITE_NULL)
		return NULL;
	return (const char *)sqlite3_column_text(st, idx);
}

int store_finish_json(struct store *s, int rc, json_t **out, struct emu_err *err)
{
	if (rc < 0) {
		store_rollback(s);
		json_decref(*out);
		*out = NULL;
		return -1;
	}
	if (store_commit(s) < 0) {
		json_decref(*out);
		*out = NULL;
		return emu_err_set(err, ERR_INTERNAL, "internal storage error");
	}
	return 0;
}
