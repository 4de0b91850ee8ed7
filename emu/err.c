/*
 * err.c owns the rendering of the error table's rows into lookups.
 * It calls nothing but libc; every other module raises through it.
 */
#include "emu/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct row {
	const char *name, *jtype, *qcode, *sqlstate, *msg;
	int jstatus, qstatus, myerrno;
};

static const struct row rows[ERR__COUNT] = {
	[ERR_OK] = {"OK", "", "", "", "", 200, 200, 0},
#define X(sym, jt, qc, js, qs, ss, me, m) [ERR_##sym] = {#sym, jt, qc, ss, m, js, qs, me},
#include "emu/err_table.h"
#undef X
};

static const struct row *row_of(enum emu_err_code c)
{
	if ((int)c < 0 || c >= ERR__COUNT)
		return &rows[ERR_INTERNAL];
	return &rows[c];
}

int emu_err_set(struct emu_err *e, enum emu_err_code code, const char *fmt, ...)
{
	if (!e)
		return -1;
	e->code = code;
	if (!fmt) {
		snprintf(e->msg, sizeof e->msg, "%s", row_of(code)->msg);
		return -1;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	return -1;
}

void emu_err_clear(struct emu_err *e)
{
	e->code = ERR_OK;
	e->msg[0] = '\0';
}

const char *emu_err_json_type(enum emu_err_code c) { return row_of(c)->jtype; }
const char *emu_err_query_code(enum emu_err_code c) { return row_of(c)->qcode; }
int emu_err_json_status(enum emu_err_code c) { return row_of(c)->jstatus; }
int emu_err_query_status(enum emu_err_code c) { return row_of(c)->qstatus; }
const char *emu_err_sqlstate(enum emu_err_code c) { return row_of(c)->sqlstate; }
int emu_err_mysql_errno(enum emu_err_code c) { return row_of(c)->myerrno; }
const char *emu_err_default_msg(enum emu_err_code c) { return row_of(c)->msg; }
const char *emu_err_name(enum emu_err_code c) { return row_of(c)->name; }
