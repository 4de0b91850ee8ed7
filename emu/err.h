/*
 * Errors: a code from the one table (err_table.h) plus a rendered message.
 * Fallible functions return -1 and fill a struct emu_err once, at the
 * origin; callers only propagate.  Messages never contain secret values.
 */
#ifndef EMU_ERR_H
#define EMU_ERR_H

#include <stddef.h>

enum emu_err_code {
	ERR_OK = 0,
#define X(sym, jtype, qcode, jstatus, qstatus, sqlstate, myerrno, msg) ERR_##sym,
#include "emu/err_table.h"
#undef X
	ERR__COUNT
};

#define EMU_ERR_MSG_MAX 1024

struct emu_err {
	enum emu_err_code code;
	char msg[EMU_ERR_MSG_MAX];
};

/* Sets code and message (printf format; NULL fmt = the table's default
 * message).  Always returns -1 so callers can `return emu_err_set(...)`. */
int emu_err_set(struct emu_err *e, enum emu_err_code code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void emu_err_clear(struct emu_err *e);

const char *emu_err_json_type(enum emu_err_code code);
const char *emu_err_query_code(enum emu_err_code code);
int emu_err_json_status(enum emu_err_code code);
int emu_err_query_status(enum emu_err_code code);
const char *emu_err_sqlstate(enum emu_err_code code);
int emu_err_mysql_errno(enum emu_err_code code);
const char *emu_err_default_msg(enum emu_err_code code);
const char *emu_err_name(enum emu_err_code code);

#endif
