/*
 * The IAM operation table (api/iam.c) for the Query dispatcher: IAM is a
 * global service (one endpoint, signing name "iam", region us-east-1 in
 * the credential scope); the domain ignores the region and scopes by the
 * caller's account.
 */
#ifndef API_IAM_H
#define API_IAM_H

#include "api/api.h"

#include <stddef.h>

/* Operation by exact name (len bytes, need not be NUL-terminated), or NULL. */
const struct api_op *iam_op_find(const char *name, size_t len);
extern const struct api_op iam_ops[];
extern const size_t iam_ops_count;

#endif
