/*
 * cloudtrail.c: the CloudTrail operation table (JSON 1.1, target prefix
 * com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101).  Only
 * LookupEvents, over rdsemu's audit trail (emu/audit.c).
 */
#include "api/api.h"
#include "emu/audit.h"

#include <string.h>

const struct api_op ct_ops[] = {
	{"LookupEvents", audit_lookup_events, "cloudtrail:LookupEvents", false},
};
const size_t ct_ops_count = sizeof ct_ops / sizeof ct_ops[0];

const struct api_op *ct_op_find(const char *name, size_t len)
{
	for (size_t i = 0; i < ct_ops_count; i++)
		if (strlen(ct_ops[i].name) == len && memcmp(ct_ops[i].name, name, len) == 0)
			return &ct_ops[i];
	return NULL;
}
