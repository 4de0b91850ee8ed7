/*
 * STS operation table (api/sts.c) for the Query dispatcher in api/http.c.
 */
#ifndef API_STS_H
#define API_STS_H

#include "api/api.h"

#include <stddef.h>

/* Operation by exact name (len bytes, need not be NUL-terminated); NULL if
 * the emulator does not implement it (the model may still know it). */
const struct api_op *sts_op_find(const char *name, size_t len);
extern const struct api_op sts_ops[];
extern const size_t sts_ops_count;

#endif
