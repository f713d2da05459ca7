/* Secure memory for key material: every key, data key, password and plaintext
 * secret lives in a secbuf, which is allocated with sodium_malloc (guard pages,
 * mlock, canary) and wiped when freed. This module is the only place allowed
 * to allocate key material (scripts/lint.sh enforces it). */
#ifndef IOTVAULT_SECMEM_H
#define IOTVAULT_SECMEM_H

#include <stddef.h>
#include <stdint.h>

#include "iotvault/errors.h"

struct secbuf {
	uint8_t *data;
	size_t len;
};

/* Initialises libsodium; call once before anything else. Returns 0 or IV_ERR_CRYPTO. */
int secmem_init(void) IV_WUR;
/* Allocates LEN bytes (zeroed) of guarded, locked memory. NULL on failure. */
struct secbuf *secbuf_new(size_t len);
/* Allocates and copies. */
struct secbuf *secbuf_dup(const uint8_t *data, size_t len);
/* Wipes and frees; NULL is a no-op. */
void secbuf_free(struct secbuf *buf);
/* Raw guarded memory for structures holding key schedules (Nettle contexts). */
void *secmem_alloc(size_t len);
void secmem_free(void *ptr);
/* Wipes memory that is not a secbuf (stack copies, I/O buffers). */
void secmem_wipe(void *ptr, size_t len);
/* Constant-time comparison; returns 0 when equal. */
int secmem_equal(const void *a, const void *b, size_t len) IV_WUR;

#endif
