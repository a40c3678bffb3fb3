/* tests/unit/test_boot_bzimage.c - bzImage header parsing and loading with
 * synthetic images: layout, every header check, every truncation. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>

#include "tests/unit/test_boot_images.h"
#include "vmm/boot/bzimage.h"
#include "vmm/mem.h"

static int parse(const struct tbz *c, struct bzimage_info *bi, char *err, size_t errlen)
{
	size_t len;
	uint8_t *img = tbz_build(c, &len);
	int rc = bzimage_parse(img, len, bi, err, errlen);

	free(img);
	return rc;
}

static void test_default_layout(void **state)
{
	struct tbz c = tbz_default();
	struct bzimage_info bi;
	char err[256] = "";

	(void)state;
	assert_int_equal(parse(&c, &bi, err, sizeof(err)), 0);
	assert_int_equal(bi.version, 0x020f);
	assert_int_equal(bi.setup_size, 5 * 512);
	assert_int_equal(bi.pm_offset, 5 * 512);
	assert_int_equal(bi.pm_size, 0x4000);
	assert_int_equal(bi.load_addr, 0x100000);
	assert_int_equal(bi.entry64, 0x100200);
	/* relocatable: max(align_up(1 MiB, 2 MiB), pref 16 MiB) */
	assert_int_equal(bi.run_start, 0x1000000);
	assert_int_equal(bi.run_end, 0x1800000);
	assert_int_equal(bi.kernel_start, 0x100000);
	assert_int_equal(bi.kernel_end, 0x1800000);
	assert_int_equal(bi.hdr_len, 0x26c - 0x1f1);
	assert_int_equal(bi.cmdline_size, 2047);
	assert_int_equal(bi.initrd_addr_max, 0x7fffffff);
}

static void test_setup_sects_zero_means_four(void **state)
{
	struct tbz c = tbz_default();
	struct bzimage_info bi;

	(void)state;
	c.setup_sects = 0;
	assert_int_equal(parse(&c, &bi, NULL, 0), 0);
	assert_int_equal(bi.setup_size, 5 * 512);
	c.setup_sects = 30;
	assert_int_equal(parse(&c, &bi, NULL, 0), 0);
	assert_int_equal(bi.setup_size, 31 * 512);
	assert_int_equal(bi.pm_offset, 31 * 512);
}

static void test_decompression_range(void **state)
{
	struct tbz c = tbz_default();
	struct bzimage_info bi;

	(void)state;
	/* Not relocatable: runs at pref_address whatever the alignment. */
	c.relocatable = 0;
	c.pref_address = 0x400000;
	assert_int_equal(parse(&c, &bi, NULL, 0), 0);
	assert_int_equal(bi.run_start, 0x400000);
	/* Relocatable with pref below the aligned load address. */
	c.relocatable = 1;
	c.pref_address = 0x100000;
	c.kernel_alignment = 0x200000;
	assert_int_equal(parse(&c, &bi, NULL, 0), 0);
	assert_int_equal(bi.run_start, 0x200000);
	assert_int_equal(bi.run_end, 0x200000 + c.init_size);
	/* A payload larger than init_size still counts in kernel_end. */
	c.relocatable = 0;
	c.init_size = 0x1000;
	c.pm_size = 0x20000;
	assert_int_equal(parse(&c, &bi, NULL, 0), 0);
	assert_int_equal(bi.kernel_end, 0x100000 + 0x20000);
}

static void expect_refused(const struct tbz *c, int rc_want, const char *what)
{
	struct bzimage_info bi;
	char err[256] = "";
	int rc = parse(c, &bi, err, sizeof(err));

	if (rc != rc_want)
		fail_msg("%s: rc %d, want %d (%s)", what, rc, rc_want, err);
	assert_true(strncmp(err, "kernel: ", 8) == 0);
	assert_null(strchr(err, '\n'));
}

static void test_header_checks(void **state)
{
	struct tbz c;

	(void)state;
	c = tbz_default(); c.version = 0x0205;
	expect_refused(&c, -ENOEXEC, "protocol 2.05");
	c = tbz_default(); c.version = 0x020b; /* 2.06..2.11: no xloadflags */
	expect_refused(&c, -ENOEXEC, "protocol 2.11");
	c = tbz_default(); c.xloadflags = 0x2;
	expect_refused(&c, -ENOEXEC, "no XLF_KERNEL_64");
	c = tbz_default(); c.loadflags = 0;
	expect_refused(&c, -ENOEXEC, "zImage");
	c = tbz_default(); c.kernel_alignment = 0;
	expect_refused(&c, -EINVAL, "alignment 0");
	c = tbz_default(); c.kernel_alignment = 0x300000;
	expect_refused(&c, -EINVAL, "alignment not a power of two");
	c = tbz_default(); c.kernel_alignment = 0x80000000u;
	expect_refused(&c, -EINVAL, "alignment 2 GiB");
	c = tbz_default(); c.init_size = 0;
	expect_refused(&c, -EINVAL, "init_size 0");
	c = tbz_default(); c.pref_address = 1ULL << 40;
	expect_refused(&c, -EINVAL, "pref_address above 4 GiB");
	c = tbz_default(); c.pm_size = 0;
	expect_refused(&c, -ENOEXEC, "syssize 0");
	c = tbz_default(); c.hdr_end = 0x230;
	expect_refused(&c, -ENOEXEC, "header shorter than 2.06");
	c = tbz_default(); c.hdr_end = 0x250;
	expect_refused(&c, -ENOEXEC, "header shorter than 2.10");
}

static void test_bad_magic(void **state)
{
	struct tbz c = tbz_default();
	struct bzimage_info bi;
	size_t len;
	uint8_t *img = tbz_build(&c, &len);
	char err[256];

	(void)state;
	assert_true(bzimage_probe(img, len));
	img[0x202] = 'X';
	assert_false(bzimage_probe(img, len));
	assert_int_equal(bzimage_parse(img, len, &bi, err, sizeof(err)), -ENOEXEC);
	img[0x202] = 'H';
	img[0x1fe] = 0;
	assert_int_equal(bzimage_parse(img, len, &bi, err, sizeof(err)), -ENOEXEC);
	free(img);
}

/* Every prefix of a valid image is refused, and reads stay inside it:
 * each prefix is copied to an exact-size heap block, so ASan catches any
 * read past its end. */
static void test_every_truncation_refused(void **state)
{
	struct tbz c = tbz_default();
	struct bzimage_info bi;
	size_t len;
	uint8_t *img;
	char err[256];

	(void)state;
	c.pm_size = 0x400;
	img = tbz_build(&c, &len);
	assert_int_equal(bzimage_parse(img, len, &bi, err, sizeof(err)), 0);
	for (size_t n = 0; n < len; n++) {
		uint8_t *cut = malloc(n ? n : 1);
		int rc;

		memcpy(cut, img, n);
		err[0] = '\0';
		rc = bzimage_parse(cut, n, &bi, err, sizeof(err));
		if (rc != -ENOEXEC)
			fail_msg("prefix of %zu bytes: rc %d (%s)", n, rc, err);
		assert_true(err[0] != '\0');
		free(cut);
	}
	free(img);
}

/* Random header bytes: never a crash or an out-of-bounds read, and any
 * accepted image has a consistent layout. */
static void test_random_headers(void **state)
{
	struct tbz c = tbz_default();
	struct bzimage_info bi;
	size_t len;
	uint8_t *img = tbz_build(&c, &len);
	uint32_t seed = 12345;

	(void)state;
	for (int iter = 0; iter < 20000; iter++) {
		uint8_t *m = malloc(len);

		memcpy(m, img, len);
		for (int k = 0; k < 4; k++) {
			seed = seed * 1103515245 + 12345;
			m[0x1f1 + (seed >> 8) % (0x270 - 0x1f1)] = (uint8_t)(seed >> 20);
		}
		if (bzimage_parse(m, len, &bi, NULL, 0) == 0) {
			assert_true(bi.pm_offset + bi.pm_size <= len);
			assert_true(bi.kernel_start <= bi.load_addr);
			assert_true(bi.kernel_end >= bi.load_addr + bi.pm_size);
			assert_true(bi.kernel_end >= bi.run_end);
		}
		free(m);
	}
	free(img);
}

static void test_load_copies_payload(void **state)
{
	struct tbz c = tbz_default();
	struct bzimage_info bi;
	struct guest_mem gm;
	size_t len;
	uint8_t *img = tbz_build(&c, &len);
	char err[256];

	(void)state;
	assert_int_equal(mem_init(&gm, 64ULL << 20), 0);
	assert_int_equal(bzimage_parse(img, len, &bi, err, sizeof(err)), 0);
	assert_int_equal(bzimage_load(&gm, img, len, &bi, err, sizeof(err)), 0);
	assert_memory_equal(mem_ptr(&gm, 0x100000, c.pm_size), img + bi.setup_size, c.pm_size);
	/* the setup code is not loaded: the byte before 1 MiB is untouched */
	assert_int_equal(*(uint8_t *)mem_ptr(&gm, 0xfffff, 1), 0);
	mem_free(&gm);
	free(img);
}

static void test_load_refuses_kernel_larger_than_ram(void **state)
{
	struct tbz c = tbz_default();
	struct bzimage_info bi;
	struct guest_mem gm;
	size_t len;
	uint8_t *img;
	char err[256] = "";

	(void)state;
	c.init_size = 0x1000000;           /* runs at 16 MiB, needs 32 MiB */
	img = tbz_build(&c, &len);
	assert_int_equal(mem_init(&gm, 16ULL << 20), 0);
	assert_int_equal(bzimage_parse(img, len, &bi, err, sizeof(err)), 0);
	assert_int_equal(bzimage_load(&gm, img, len, &bi, err, sizeof(err)), -ENOMEM);
	assert_non_null(strstr(err, "kernel: needs RAM"));
	/* nothing was written */
	assert_int_equal(*(uint8_t *)mem_ptr(&gm, 0x100000, 1), 0);
	mem_free(&gm);
	free(img);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_layout),
		cmocka_unit_test(test_setup_sects_zero_means_four),
		cmocka_unit_test(test_decompression_range),
		cmocka_unit_test(test_header_checks),
		cmocka_unit_test(test_bad_magic),
		cmocka_unit_test(test_every_truncation_refused),
		cmocka_unit_test(test_random_headers),
		cmocka_unit_test(test_load_copies_payload),
		cmocka_unit_test(test_load_refuses_kernel_larger_than_ram),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
