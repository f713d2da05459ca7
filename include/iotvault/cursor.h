/* One bounds-checked reader and writer for every byte format iotvault parses
 * or builds. Nothing indexes a wire buffer by hand. A failed read or write
 * leaves the cursor unchanged and returns IV_ERR_TRUNCATED / IV_ERR_TOO_LARGE. */
#ifndef IOTVAULT_CURSOR_H
#define IOTVAULT_CURSOR_H

#include <stddef.h>
#include <stdint.h>

#include "iotvault/errors.h"

struct cursor {
	const uint8_t *data;
	size_t len;
	size_t pos;
};

struct writer {
	uint8_t *data;
	size_t cap;
	size_t len;
};

void cursor_init(struct cursor *c, const uint8_t *data, size_t len);
size_t cursor_remaining(const struct cursor *c);
int cursor_read_u8(struct cursor *c, uint8_t *out) IV_WUR;
int cursor_read_u16le(struct cursor *c, uint16_t *out) IV_WUR;
int cursor_read_u16be(struct cursor *c, uint16_t *out) IV_WUR;
int cursor_read_u24le(struct cursor *c, uint32_t *out) IV_WUR;
int cursor_read_u32le(struct cursor *c, uint32_t *out) IV_WUR;
int cursor_read_u32be(struct cursor *c, uint32_t *out) IV_WUR;
int cursor_read_u64be(struct cursor *c, uint64_t *out) IV_WUR;
int cursor_read_bytes(struct cursor *c, uint8_t *out, size_t n) IV_WUR;
/* Points *out into the buffer without copying. */
int cursor_view(struct cursor *c, const uint8_t **out, size_t n) IV_WUR;
/* Succeeds only when every byte has been consumed. */
int cursor_expect_end(const struct cursor *c) IV_WUR;

void writer_init(struct writer *w, uint8_t *buf, size_t cap);
int writer_put_u8(struct writer *w, uint8_t v) IV_WUR;
int writer_put_u16le(struct writer *w, uint16_t v) IV_WUR;
int writer_put_u16be(struct writer *w, uint16_t v) IV_WUR;
int writer_put_u24le(struct writer *w, uint32_t v) IV_WUR;
int writer_put_u32le(struct writer *w, uint32_t v) IV_WUR;
int writer_put_u32be(struct writer *w, uint32_t v) IV_WUR;
int writer_put_u64be(struct writer *w, uint64_t v) IV_WUR;
int writer_put_bytes(struct writer *w, const void *data, size_t n) IV_WUR;
/* u32be length followed by the bytes: an unambiguous field encoding for MACs. */
int writer_put_field(struct writer *w, const void *data, size_t n) IV_WUR;
int writer_put_string_field(struct writer *w, const char *s) IV_WUR;

#endif
