/*
 * Admin endpoints under /_rdsemu/, plus the reset paths of moto and
 * LocalStack so existing test harnesses can point at rdsemu unchanged.
 */
#ifndef API_ADMIN_H
#define API_ADMIN_H

#include "api/http.h"
#include "emu/buf.h"

/* Handles one admin request; fills *status and a JSON body in out. */
void admin_handle(struct http_env *env, const char *method, const char *path, const char *body, size_t len,
                  int *status, struct buf *out);

#endif
