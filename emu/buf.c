/*
 * buf.c owns struct buf and struct cursor.  No I/O; OpenSSL only for
 * OPENSSL_cleanse.  Invariant: data[len] == '\0' whenever data != NULL.
 */
#include "emu/buf.h"

#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b, size_t limit)
{
	memset(b, 0, sizeof *b);
	b->limit = limit ? limit : SIZE_MAX / 2;
}

void buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
	b->failed = false;
}

void buf_free_secret(struct buf *b)
{
	if (b->data)
		OPENSSL_cleanse(b->data, b->cap);
	buf_free(b);
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	b->failed = false;
	if (b->data)
		b->data[0] = '\0';
}

static bool reserve(struct buf *b, size_t extra)
{
	if (b->failed)
		return false;
	if (extra > b->limit - b->len) {
		b->failed = true;
		return false;
	}
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return true;
	size_t ncap = b->cap ? b->cap : 64;
	while (ncap < need)
		ncap *= 2;
	char *n = realloc(b->data, ncap);
	if (!n) {
		b->failed = true;
		return false;
	}
	b->data = n;
	b->cap = ncap;
	return true;
}

bool buf_put(struct buf *b, const void *p, size_t n)
{
	if (!reserve(b, n))
		return false;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return true;
}

bool buf_puts(struct buf *b, const char *s) { return buf_put(b, s, strlen(s)); }
bool buf_putc(struct buf *b, char c) { return buf_put(b, &c, 1); }

bool buf_printf(struct buf *b, const char *fmt, ...)
{
	if (b->failed)
		return false;
	va_list ap;
	va_start(ap, fmt);
	char tmp[256];
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = true;
		return false;
	}
	if ((size_t)n < sizeof tmp)
		return buf_put(b, tmp, (size_t)n);
	if (!reserve(b, (size_t)n))
		return false;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return true;
}

bool buf_put_xml(struct buf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': buf_puts(b, "&lt;"); break;
		case '>': buf_puts(b, "&gt;"); break;
		case '&': buf_puts(b, "&amp;"); break;
		case '"': buf_puts(b, "&quot;"); break;
		case '\'': buf_puts(b, "&apos;"); break;
		case '\r': buf_puts(b, "&#13;"); break;
		default: buf_putc(b, *s);
		}
	}
	return !b->failed;
}

const char *buf_cstr(struct buf *b)
{
	if (!b->data || b->failed)
		return "";
	return b->data;
}

char *buf_steal(struct buf *b, size_t *len)
{
	if (!b->data)
		buf_put(b, "", 0);
	char *d = b->data;
	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	b->failed = false;
	return d;
}

void cursor_init(struct cursor *c, const void *p, size_t len)
{
	c->p = p;
	c->len = len;
	c->pos = 0;
}

size_t cursor_left(const struct cursor *c) { return c->len - c->pos; }

bool cursor_bytes(struct cursor *c, size_t n, const uint8_t **out)
{
	if (cursor_left(c) < n)
		return false;
	*out = c->p + c->pos;
	c->pos += n;
	return true;
}

bool cursor_u8(struct cursor *c, uint8_t *out)
{
	const uint8_t *p;
	if (!cursor_bytes(c, 1, &p))
		return false;
	*out = p[0];
	return true;
}

bool cursor_be16(struct cursor *c, uint16_t *out)
{
	const uint8_t *p;
	if (!cursor_bytes(c, 2, &p))
		return false;
	*out = (uint16_t)((p[0] << 8) | p[1]);
	return true;
}

bool cursor_be32(struct cursor *c, uint32_t *out)
{
	const uint8_t *p;
	if (!cursor_bytes(c, 4, &p))
		return false;
	*out = ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
	return true;
}

bool cursor_le16(struct cursor *c, uint16_t *out)
{
	const uint8_t *p;
	if (!cursor_bytes(c, 2, &p))
		return false;
	*out = (uint16_t)(p[0] | (p[1] << 8));
	return true;
}

bool cursor_le24(struct cursor *c, uint32_t *out)
{
	const uint8_t *p;
	if (!cursor_bytes(c, 3, &p))
		return false;
	*out = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16);
	return true;
}

bool cursor_le32(struct cursor *c, uint32_t *out)
{
	const uint8_t *p;
	if (!cursor_bytes(c, 4, &p))
		return false;
	*out = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
	return true;
}

bool cursor_cstr(struct cursor *c, const char **out, size_t *len)
{
	const uint8_t *start = c->p + c->pos;
	const uint8_t *nul = memchr(start, 0, cursor_left(c));
	if (!nul)
		return false;
	size_t n = (size_t)(nul - start);
	*out = (const char *)start;
	if (len)
		*len = n;
	c->pos += n + 1;
	return true;
}
