/*
 * Owning, capped byte buffer with a sticky failure bit, and a read cursor
 * whose getters are bounds-checked.  Writers never check each append: once
 * an append fails (cap reached, out of memory) every later append is a
 * no-op and the owner checks buf.failed once at the end.  A cursor getter
 * returns false when the bytes are not there and then consumes nothing.
 */
#ifndef EMU_BUF_H
#define EMU_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
	char *data;   /* NUL-terminated when len > 0 or after buf_cstr */
	size_t len;
	size_t cap;
	size_t limit; /* hard cap on len; 0 = SIZE_MAX/2 */
	bool failed;
};

void buf_init(struct buf *b, size_t limit);
void buf_free(struct buf *b);
/* Free after wiping the bytes (passwords, secret values, keys). */
void buf_free_secret(struct buf *b);
void buf_reset(struct buf *b);
bool buf_put(struct buf *b, const void *p, size_t n);
bool buf_puts(struct buf *b, const char *s);
bool buf_putc(struct buf *b, char c);
bool buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s with the characters XML text and attributes need escaped. */
bool buf_put_xml(struct buf *b, const char *s);
/* Always returns a NUL-terminated string ("" for an empty or failed buffer). */
const char *buf_cstr(struct buf *b);
/* Hands the allocation to the caller (NUL-terminated); the buffer is reset. */
char *buf_steal(struct buf *b, size_t *len);

struct cursor {
	const uint8_t *p;
	size_t len;
	size_t pos;
};

void cursor_init(struct cursor *c, const void *p, size_t len);
size_t cursor_left(const struct cursor *c);
__attribute__((warn_unused_result)) bool cursor_u8(struct cursor *c, uint8_t *out);
__attribute__((warn_unused_result)) bool cursor_be16(struct cursor *c, uint16_t *out);
__attribute__((warn_unused_result)) bool cursor_be32(struct cursor *c, uint32_t *out);
__attribute__((warn_unused_result)) bool cursor_le16(struct cursor *c, uint16_t *out);
__attribute__((warn_unused_result)) bool cursor_le24(struct cursor *c, uint32_t *out);
__attribute__((warn_unused_result)) bool cursor_le32(struct cursor *c, uint32_t *out);
__attribute__((warn_unused_result)) bool cursor_bytes(struct cursor *c, size_t n, const uint8_t **out);
/* A NUL-terminated string inside the buffer; *out points into it. */
__attribute__((warn_unused_result)) bool cursor_cstr(struct cursor *c, const char **out, size_t *len);

#endif
