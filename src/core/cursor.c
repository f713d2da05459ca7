/* Bounds-checked byte reader and writer (see include/iotvault/cursor.h). */
#include "iotvault/cursor.h"

#include <string.h>

void cursor_init(struct cursor *c, const uint8_t *data, size_t len)
{
	c->data = data;
	c->len = data ? len : 0;
	c->pos = 0;
}

size_t cursor_remaining(const struct cursor *c) { return c->len - c->pos; }

int cursor_view(struct cursor *c, const uint8_t **out, size_t n)
{
	if (n > cursor_remaining(c))
		return IV_ERR_TRUNCATED;
	*out = c->data + c->pos;
	c->pos += n;
	return 0;
}

int cursor_read_bytes(struct cursor *c, uint8_t *out, size_t n)
{
	const uint8_t *p;
	int r = cursor_view(c, &p, n);
	if (r == 0 && n)
		memcpy(out, p, n);
	return r;
}

static int read_uint(struct cursor *c, size_t n, int little, uint64_t *out)
{
	const uint8_t *p;
	uint64_t v = 0;
	int r = cursor_view(c, &p, n);
	if (r)
		return r;
	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)p[little ? i : n - 1 - i] << (8 * i);
	*out = v;
	return 0;
}

#define READER(fn, type, n, little)                    \
	int fn(struct cursor *c, type *out)            \
	{                                              \
		uint64_t v;                            \
		int r = read_uint(c, (n), (little), &v); \
		if (r == 0)                            \
			*out = (type)v;                \
		return r;                              \
	}

READER(cursor_read_u8, uint8_t, 1, 1)
READER(cursor_read_u16le, uint16_t, 2, 1)
READER(cursor_read_u16be, uint16_t, 2, 0)
READER(cursor_read_u24le, uint32_t, 3, 1)
READER(cursor_read_u32le, uint32_t, 4, 1)
READER(cursor_read_u32be, uint32_t, 4, 0)
READER(cursor_read_u64be, uint64_t, 8, 0)

int cursor_expect_end(const struct cursor *c)
{
	return cursor_remaining(c) == 0 ? 0 : IV_ERR_INVALID;
}

void writer_init(struct writer *w, uint8_t *buf, size_t cap)
{
	w->data = buf;
	w->cap = buf ? cap : 0;
	w->len = 0;
}

int writer_put_bytes(struct writer *w, const void *data, size_t n)
{
	if (n > w->cap - w->len)
		return IV_ERR_TOO_LARGE;
	if (n)
		memcpy(w->data + w->len, data, n);
	w->len += n;
	return 0;
}

static int put_uint(struct writer *w, uint64_t v, size_t n, int little)
{
	uint8_t b[8];
	for (size_t i = 0; i < n; i++)
		b[little ? i : n - 1 - i] = (uint8_t)(v >> (8 * i));
	return writer_put_bytes(w, b, n);
}

int writer_put_u8(struct writer *w, uint8_t v) { return put_uint(w, v, 1, 1); }
int writer_put_u16le(struct writer *w, uint16_t v) { return put_uint(w, v, 2, 1); }
int writer_put_u16be(struct writer *w, uint16_t v) { return put_uint(w, v, 2, 0); }
int writer_put_u24le(struct writer *w, uint32_t v) { return put_uint(w, v & 0xffffffu, 3, 1); }
int writer_put_u32le(struct writer *w, uint32_t v) { return put_uint(w, v, 4, 1); }
int writer_put_u32be(struct writer *w, uint32_t v) { return put_uint(w, v, 4, 0); }
int writer_put_u64be(struct writer *w, uint64_t v) { return put_uint(w, v, 8, 0); }

int writer_put_field(struct writer *w, const void *data, size_t n)
{
	size_t saved = w->len;
	int r;
	if (n > UINT32_MAX)
		return IV_ERR_TOO_LARGE;
	if ((r = writer_put_u32be(w, (uint32_t)n)) != 0 || (r = writer_put_bytes(w, data, n)) != 0)
		w->len = saved;
	return r;
}

int writer_put_string_field(struct writer *w, const char *s)
{
	return writer_put_field(w, s ? s : "", s ? strlen(s) : 0);
}
