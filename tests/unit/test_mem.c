/* tests/unit/test_mem.c - guest memory: sizes, the 32-bit hole split,
 * bounds-checked access at every edge, size parsing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "vmm/mem.h"

static void test_init_rejects_bad_sizes(void **state)
{
	struct guest_mem gm;

	(void)state;
	assert_int_equal(mem_init(&gm, 0), -EINVAL);
	assert_int_equal(mem_init(&gm, MEM_MIN_SIZE - 4096), -EINVAL);
	assert_int_equal(mem_init(&gm, MEM_MIN_SIZE + 1), -EINVAL);
	assert_int_equal(mem_init(&gm, MEM_MAX_SIZE + 4096), -EINVAL);
	assert_null(gm.base);
	mem_free(&gm); /* freeing a failed init is harmless */
}

static void test_small_guest_one_region(void **state)
{
	struct guest_mem gm;

	(void)state;
	assert_int_equal(mem_init(&gm, 16ULL << 20), 0);
	assert_int_equal(gm.nr_regions, 1);
	assert_int_equal(gm.size, 16ULL << 20);
	assert_int_equal(gm.regions[0].gpa, 0);
	assert_int_equal(gm.regions[0].size, 16ULL << 20);
	assert_ptr_equal(gm.regions[0].hva, gm.base);
	mem_free(&gm);
	assert_null(gm.base);
}

static void test_exactly_hole_start_one_region(void **state)
{
	struct guest_mem gm;

	(void)state;
	assert_int_equal(mem_init(&gm, MEM_HOLE_START), 0);
	assert_int_equal(gm.nr_regions, 1);
	assert_non_null(mem_ptr(&gm, MEM_HOLE_START - 1, 1));
	assert_null(mem_ptr(&gm, MEM_HOLE_START, 1));
	assert_null(mem_ptr(&gm, MEM_4G, 1));
	mem_free(&gm);
}

static void test_large_guest_splits_around_hole(void **state)
{
	struct guest_mem gm;
	uint8_t *lo_end, *hi;

	(void)state;
	assert_int_equal(mem_init(&gm, 5ULL << 30), 0);
	assert_int_equal(gm.nr_regions, 2);
	assert_int_equal(gm.regions[0].size, MEM_HOLE_START);
	assert_int_equal(gm.regions[1].gpa, MEM_4G);
	assert_int_equal(gm.regions[1].size, (5ULL << 30) - MEM_HOLE_START);
	lo_end = mem_ptr(&gm, MEM_HOLE_START - 1, 1);
	hi = mem_ptr(&gm, MEM_4G, 1);
	assert_non_null(lo_end);
	assert_non_null(hi);
	/* Host memory is contiguous: the hole costs no host address space. */
	assert_ptr_equal(lo_end + 1, hi);
	/* Nothing in the hole, nothing across it, nothing past the end. */
	assert_null(mem_ptr(&gm, MEM_HOLE_START, 1));
	assert_null(mem_ptr(&gm, 0xfee00000ULL, 4));
	assert_null(mem_ptr(&gm, MEM_HOLE_START - 1, 2));
	assert_null(mem_ptr(&gm, MEM_4G - 1, 2));
	assert_non_null(mem_ptr(&gm, MEM_4G + gm.regions[1].size - 1, 1));
	assert_null(mem_ptr(&gm, MEM_4G + gm.regions[1].size, 1));
	mem_free(&gm);
}

static void test_ptr_edges_and_overflow(void **state)
{
	struct guest_mem gm;
	uint64_t sz = 16ULL << 20;

	(void)state;
	assert_int_equal(mem_init(&gm, sz), 0);
	assert_ptr_equal(mem_ptr(&gm, 0, sz), gm.base);
	assert_null(mem_ptr(&gm, 0, sz + 1));
	assert_null(mem_ptr(&gm, 1, sz));
	assert_non_null(mem_ptr(&gm, sz - 1, 1));
	assert_null(mem_ptr(&gm, sz, 1));
	assert_non_null(mem_ptr(&gm, sz, 0));          /* empty range at the end */
	assert_null(mem_ptr(&gm, sz + 1, 0));
	/* gpa + len wrapping around 2^64 must not pass. */
	assert_null(mem_ptr(&gm, 16, UINT64_MAX));
	assert_null(mem_ptr(&gm, UINT64_MAX, 2));
	assert_null(mem_ptr(&gm, UINT64_MAX - 4095, 4096));
	mem_free(&gm);
}

static void test_read_write(void **state)
{
	struct guest_mem gm;
	uint8_t in[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, out[8] = { 0 };

	(void)state;
	assert_int_equal(mem_init(&gm, 16ULL << 20), 0);
	assert_int_equal(mem_write(&gm, 0x1000, in, sizeof(in)), 0);
	assert_int_equal(mem_read(&gm, 0x1000, out, sizeof(out)), 0);
	assert_memory_equal(in, out, sizeof(in));
	assert_int_equal(gm.base[0x1000 + 7], 8);
	assert_int_equal(mem_write(&gm, (16ULL << 20) - 4, in, 8), -EFAULT);
	assert_int_equal(mem_read(&gm, (16ULL << 20) - 4, out, 8), -EFAULT);
	/* A refused write changes nothing. */
	assert_int_equal(gm.base[(16ULL << 20) - 1], 0);
	mem_free(&gm);
}

static void test_fresh_memory_is_zero(void **state)
{
	struct guest_mem gm;
	const uint8_t *p;

	(void)state;
	assert_int_equal(mem_init(&gm, 64ULL << 20), 0);
	p = mem_ptr(&gm, 0, 64ULL << 20);
	for (uint64_t off = 0; off < (64ULL << 20); off += 1 << 20)
		assert_int_equal(p[off], 0);
	mem_free(&gm);
}

static void test_parse_size(void **state)
{
	static const struct { const char *s; uint64_t v; } ok[] = {
		{ "16777216", 16777216 }, { "512K", 512ULL << 10 }, { "256M", 256ULL << 20 },
		{ "2G", 2ULL << 30 }, { "2g", 2ULL << 30 }, { "1MiB", 1ULL << 20 },
		{ "1MB", 1ULL << 20 }, { "0", 0 },
	};
	static const char *const bad[] = {
		"", "M", "-1M", " 1M", "1T", "1M ", "1MiBx", "1.5G", "0x10", "abc",
		"18446744073709551616", "17179869184G", "1iB", "1B",
	};
	uint64_t v;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		v = 1;
		assert_int_equal(mem_parse_size(ok[i].s, &v), 0);
		assert_int_equal(v, ok[i].v);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 7;
		if (mem_parse_size(bad[i], &v) != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
		assert_int_equal(v, 7);
	}
	assert_int_equal(mem_parse_size(NULL, &v), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_rejects_bad_sizes),
		cmocka_unit_test(test_small_guest_one_region),
		cmocka_unit_test(test_exactly_hole_start_one_region),
		cmocka_unit_test(test_large_guest_splits_around_hole),
		cmocka_unit_test(test_ptr_edges_and_overflow),
		cmocka_unit_test(test_read_write),
		cmocka_unit_test(test_fresh_memory_is_zero),
		cmocka_unit_test(test_parse_size),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
