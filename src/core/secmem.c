/* The secure-memory module: libsodium-guarded allocations for key material. */
#include "iotvault/secmem.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

int secmem_init(void)
{
	return sodium_init() < 0 ? IV_ERR_CRYPTO : 0;
}

struct secbuf *secbuf_new(size_t len)
{
	/* the handle (pointer and length) is not secret: plain heap, saving a
	 * guarded allocation (about ten system calls) per secret */
	struct secbuf *buf = malloc(sizeof(*buf));
	if (buf == NULL)
		return NULL;
	/* sodium_malloc(0) is legal but keep one byte so data is never NULL */
	buf->data = sodium_malloc(len ? len : 1);
	if (buf->data == NULL) {
		free(buf);
		return NULL;
	}
	sodium_memzero(buf->data, len ? len : 1);
	buf->len = len;
	return buf;
}

struct secbuf *secbuf_dup(const uint8_t *data, size_t len)
{
	struct secbuf *buf = secbuf_new(len);
	if (buf != NULL && len)
		memcpy(buf->data, data, len);
	return buf;
}

void secbuf_free(struct secbuf *buf)
{
	if (buf == NULL)
		return;
	sodium_free(buf->data); /* sodium_free wipes before unmapping */
	free(buf);
}

void *secmem_alloc(size_t len)
{
	void *p = sodium_malloc(len);
	if (p != NULL)
		sodium_memzero(p, len);
	return p;
}

void secmem_free(void *ptr)
{
	if (ptr != NULL)
		sodium_free(ptr);
}

void secmem_wipe(void *ptr, size_t len)
{
	sodium_memzero(ptr, len);
}

int secmem_equal(const void *a, const void *b, size_t len)
{
	return sodium_memcmp(a, b, len) == 0 ? 0 : -1;
}
