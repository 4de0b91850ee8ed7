/*
 * Fuzz harness for the rotation schedule parser (RotationRules.
 * ScheduleExpression: rate()/cron(), untrusted API input).  The input is the
 * expression; when it validates, its next firing times are computed from a
 * few starting points and must move forward.  Never crash, hang or leak.
 */
#include "emu/secrets.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	char *expr = malloc(size + 1);
	if (!expr)
		return 0;
	memcpy(expr, data, size);
	expr[size] = '\0';
	struct emu_err err;
	emu_err_clear(&err);
	if (secrets_schedule_check(expr, &err) == 0) {
		static const double starts[] = {0, 1700000000.5, 4102444800.0};
		for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++) {
			double n = secrets_schedule_next(expr, starts[i]);
			if (n >= 0 && n <= starts[i])
				abort(); /* a next firing must lie strictly after its start */
		}
	} else if (err.code == ERR_OK || !memchr(err.msg, '\0', sizeof err.msg)) {
		abort();
	}
	free(expr);
	return 0;
}
