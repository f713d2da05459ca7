/* Tests for secure memory (src/core/secmem.c): allocation is zeroed, copies
 * are exact, freeing NULL is harmless, and comparison is by content. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "iotvault/secmem.h"

static int setup(void **state)
{
	(void)state;
	return secmem_init() == 0 ? 0 : -1;
}

static int all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;
	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

static void test_init_idempotent(void **state)
{
	(void)state;
	/* every module may call it; a second call is not an error */
	assert_int_equal(secmem_init(), 0);
	assert_int_equal(secmem_init(), 0);
}

static void test_secbuf_new_zeroed(void **state)
{
	static const size_t sizes[] = {1, 15, 16, 17, 32, 4095, 4096, 4097, 65536};
	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct secbuf *b = secbuf_new(sizes[i]);
		assert_non_null(b);
		assert_non_null(b->data);
		assert_int_equal(b->len, sizes[i]);
		assert_true(all_zero(b->data, b->len));
		/* the whole length is writable */
		memset(b->data, 0x5a, b->len);
		assert_int_equal(b->data[b->len - 1], 0x5a);
		secbuf_free(b);
	}
}

static void test_secbuf_new_empty(void **state)
{
	struct secbuf *b;
	(void)state;
	b = secbuf_new(0);
	assert_non_null(b);
	assert_int_equal(b->len, 0);
	/* never NULL, so callers need no special case for empty secrets */
	assert_non_null(b->data);
	secbuf_free(b);
}

static void test_secbuf_dup(void **state)
{
	uint8_t src[48];
	struct secbuf *b;
	(void)state;

	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(0xa0 ^ i);
	b = secbuf_dup(src, sizeof(src));
	assert_non_null(b);
	assert_int_equal(b->len, sizeof(src));
	assert_ptr_not_equal(b->data, src);
	assert_memory_equal(b->data, src, sizeof(src));
	/* a copy, not an alias */
	src[0] ^= 0xff;
	assert_int_equal(b->data[0], 0xa0);
	secbuf_free(b);

	b = secbuf_dup(src, 0);
	assert_non_null(b);
	assert_int_equal(b->len, 0);
	secbuf_free(b);
	b = secbuf_dup(NULL, 0);
	assert_non_null(b);
	secbuf_free(b);
}

static void test_free_null(void **state)
{
	(void)state;
	secbuf_free(NULL);
	secmem_free(NULL);
}

static void test_secmem_alloc(void **state)
{
	uint8_t *p;
	(void)state;
	p = secmem_alloc(100);
	assert_non_null(p);
	assert_true(all_zero(p, 100));
	memset(p, 0xff, 100);
	secmem_free(p);
}

static void test_secmem_wipe(void **state)
{
	uint8_t buf[40];
	(void)state;
	memset(buf, 0xcc, sizeof(buf));
	secmem_wipe(buf + 4, 32);
	assert_int_equal(buf[3], 0xcc);
	assert_true(all_zero(buf + 4, 32));
	assert_int_equal(buf[36], 0xcc);
	secmem_wipe(buf, 0);
	assert_int_equal(buf[0], 0xcc);
}

static void test_secmem_equal(void **state)
{
	uint8_t a[32], b[32];
	(void)state;

	for (size_t i = 0; i < sizeof(a); i++)
		a[i] = b[i] = (uint8_t)(i * 7);
	assert_int_equal(secmem_equal(a, b, sizeof(a)), 0);
	assert_int_equal(secmem_equal(a, a, sizeof(a)), 0);
	assert_int_equal(secmem_equal(a, b, 0), 0);

	/* a difference in any byte, or any bit, is seen */
	for (size_t i = 0; i < sizeof(a) * 8; i++) {
		b[i / 8] ^= (uint8_t)(1u << (i % 8));
		assert_int_not_equal(secmem_equal(a, b, sizeof(a)), 0);
		/* outside the compared length it does not matter */
		if (i / 8 >= 16)
			assert_int_equal(secmem_equal(a, b, 16), 0);
		b[i / 8] ^= (uint8_t)(1u << (i % 8));
	}

	/* works on secbufs, the way keys are compared */
	{
		struct secbuf *x = secbuf_dup(a, sizeof(a));
		struct secbuf *y = secbuf_dup(a, sizeof(a));
		assert_non_null(x);
		assert_non_null(y);
		assert_int_equal(secmem_equal(x->data, y->data, x->len), 0);
		y->data[31] ^= 1;
		assert_int_not_equal(secmem_equal(x->data, y->data, x->len), 0);
		secbuf_free(x);
		secbuf_free(y);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_init_idempotent, setup),
		cmocka_unit_test_setup(test_secbuf_new_zeroed, setup),
		cmocka_unit_test_setup(test_secbuf_new_empty, setup),
		cmocka_unit_test_setup(test_secbuf_dup, setup),
		cmocka_unit_test_setup(test_free_null, setup),
		cmocka_unit_test_setup(test_secmem_alloc, setup),
		cmocka_unit_test_setup(test_secmem_wipe, setup),
		cmocka_unit_test_setup(test_secmem_equal, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
