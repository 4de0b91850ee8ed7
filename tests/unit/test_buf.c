/* Unit tests for emu/buf.c: sticky failure, caps, cursor bounds. */
#include "emu/buf.h"
#include "tests/unit/tap.h"

int main(void)
{
	struct buf b;
	buf_init(&b, 8);
	ok(buf_puts(&b, "abcd"), "append within cap");
	ok(!buf_puts(&b, "efghi"), "append over cap fails");
	ok(b.failed, "failure is sticky");
	ok(!buf_puts(&b, "x"), "later appends are no-ops");
	is_str(buf_cstr(&b), "", "failed buffer reads as empty");
	buf_free(&b);

	buf_init(&b, 0);
	buf_printf(&b, "%s-%d", "x", 42);
	buf_put_xml(&b, "<a&'\">");
	is_str(buf_cstr(&b), "x-42&lt;a&amp;&apos;&quot;&gt;", "printf and xml escape");
	for (int i = 0; i < 1000; i++)
		buf_printf(&b, "%0200d", i);
	is_int(b.len, 30 + 200000, "long printf grows");
	buf_free(&b);

	const unsigned char pkt[] = {0, 0, 0, 8, 'a', 'b', 0, 7};
	struct cursor c;
	cursor_init(&c, pkt, sizeof pkt);
	uint32_t v32;
	ok(cursor_be32(&c, &v32) && v32 == 8, "be32");
	const char *s;
	size_t sl;
	ok(cursor_cstr(&c, &s, &sl) && sl == 2 && strcmp(s, "ab") == 0, "cstr");
	uint16_t v16;
	ok(!cursor_be16(&c, &v16) && c.pos == 7, "be16 with one byte left refused, nothing consumed");
	uint8_t v8;
	ok(cursor_u8(&c, &v8) && v8 == 7, "last byte");
	ok(!cursor_u8(&c, &v8), "read past end refused");
	cursor_init(&c, "abc", 3);
	ok(!cursor_cstr(&c, &s, &sl) && c.pos == 0, "unterminated cstr consumes nothing");
	return done_testing();
}
