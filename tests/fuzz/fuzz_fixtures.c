/*
 * Fuzz harness for the fixture loader (emu/fixtures.c), which reads JSON
 * from files and from the admin endpoint: the input is a fixture document,
 * loaded into a fresh in-memory store through the same domain functions as
 * the API.  Never crash or leak; a failed load must leave no rows behind
 * (one transaction per document).
 */
#include "emu/fixtures.h"
#include "emu/log.h"
#include "emu/store.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static long long rows(struct store *s)
{
	sqlite3_stmt *st;
	long long n = -1;
	if (sqlite3_prepare_v2(store_db(s),
	                       "SELECT (SELECT count(*) FROM secrets) + (SELECT count(*) FROM lambdas) +"
	                       " (SELECT count(*) FROM access_keys) + (SELECT count(*) FROM rds_instances) +"
	                       " (SELECT count(*) FROM rds_clusters) + (SELECT count(*) FROM rds_proxies) +"
	                       " (SELECT count(*) FROM rds_endpoints)",
	                       -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			n = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	log_set_level(LOG_LVL_ERROR);
	json_error_t je;
	json_t *doc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je);
	if (!doc)
		return 0;
	struct store *s = NULL;
	struct emu_err err;
	emu_err_clear(&err);
	if (store_open(&s, NULL, &err) < 0)
		abort();
	struct fixture_defaults d = {"000000000000", "us-east-1"};
	long long before = rows(s);
	if (fixtures_load_doc(s, &d, doc, &err) < 0 && rows(s) != before)
		abort(); /* a failed document must not leave half of itself */
	json_decref(doc);
	store_close(s);
	return 0;
}
