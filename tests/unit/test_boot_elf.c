/* tests/unit/test_boot_elf.c - ELF64/ELF32 parsing and loading: entries
 * (64-bit e_entry, PVH note of 4 or 8 bytes in PT_NOTE or SHT_NOTE),
 * segments outside the file or RAM, overflow, truncation. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>

#include "tests/unit/test_boot_images.h"
#include "vmm/boot/elf.h"
#include "vmm/mem.h"

static int parse(const struct telf *c, struct elf_info *ei, char *err, size_t errlen)
{
	size_t len;
	uint8_t *img = telf_build(c, &len, NULL, NULL);
	int rc = elf_parse(img, len, ei, err, errlen);

	free(img);
	return rc;
}

static void test_elf64_entry(void **state)
{
	struct telf c = telf_default64();
	struct elf_info ei;
	char err[256] = "";

	(void)state;
	assert_int_equal(parse(&c, &ei, err, sizeof(err)), 0);
	assert_true(ei.is64);
	assert_true(ei.has_entry64);
	assert_int_equal(ei.entry64, 0x200000);
	assert_false(ei.has_pvh);
	assert_int_equal(ei.nr_segs, 2);
	assert_int_equal(ei.start, 0x200000);
	assert_int_equal(ei.end, 0x209000);
}

static void test_elf64_virtual_entry_translated(void **state)
{
	struct telf c = telf_default64();
	struct elf_info ei;

	(void)state;
	c.segs[0].vaddr = 0xffffffff80200000ULL;
	c.entry = 0xffffffff80200100ULL;
	assert_int_equal(parse(&c, &ei, NULL, 0), 0);
	assert_true(ei.has_entry64);
	assert_int_equal(ei.entry64, 0x200100);
}

static void test_pvh_note_4_and_8_bytes(void **state)
{
	struct telf c = telf_default64();
	struct elf_info ei;

	(void)state;
	c.pvh_size = 4;
	c.pvh_entry = 0x200040;
	assert_int_equal(parse(&c, &ei, NULL, 0), 0);
	assert_true(ei.has_pvh);
	assert_int_equal(ei.pvh_entry, 0x200040);
	assert_true(ei.has_entry64);

	c.pvh_size = 8;
	c.pvh_entry = 0x200080;
	assert_int_equal(parse(&c, &ei, NULL, 0), 0);
	assert_true(ei.has_pvh);
	assert_int_equal(ei.pvh_entry, 0x200080);

	c.other_note_first = true;
	assert_int_equal(parse(&c, &ei, NULL, 0), 0);
	assert_true(ei.has_pvh);
	assert_int_equal(ei.pvh_entry, 0x200080);
}

static void test_pvh_note_in_section(void **state)
{
	struct telf c = telf_default64();
	struct elf_info ei;

	(void)state;
	c.pvh_size = 4;
	c.pvh_entry = 0x2000c0;
	c.pvh_in_section = true;
	assert_int_equal(parse(&c, &ei, NULL, 0), 0);
	assert_true(ei.has_pvh);
	assert_int_equal(ei.pvh_entry, 0x2000c0);
}

static void test_pvh_note_bad_size(void **state)
{
	struct telf c = telf_default64();
	struct elf_info ei;
	char err[256] = "";

	(void)state;
	c.pvh_size = 2;
	assert_int_equal(parse(&c, &ei, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "PVH"));
}

static void test_pvh_entry_outside_segments_unusable(void **state)
{
	struct telf c = telf_default64();
	struct elf_info ei;
	char err[256] = "";

	(void)state;
	c.pvh_size = 8;
	c.pvh_entry = 0x100000000ULL;        /* not a 32-bit address */
	assert_int_equal(parse(&c, &ei, NULL, 0), 0);
	assert_false(ei.has_pvh);
	c.pvh_entry = 0x800000;              /* not in any segment */
	c.entry = 0x900000;                  /* neither is the 64-bit entry */
	assert_int_equal(parse(&c, &ei, err, sizeof(err)), -ENOEXEC);
	assert_non_null(strstr(err, "no usable entry"));
}

static void test_elf32_pvh_only(void **state)
{
	struct telf c = telf_default64();
	struct elf_info ei;
	char err[256] = "";

	(void)state;
	c.is64 = false;
	c.pvh_size = 4;
	c.pvh_entry = 0x200010;
	assert_int_equal(parse(&c, &ei, err, sizeof(err)), 0);
	assert_false(ei.is64);
	assert_false(ei.has_entry64);
	assert_true(ei.has_pvh);
	assert_int_equal(ei.pvh_entry, 0x200010);
	assert_int_equal(ei.end, 0x209000);

	c.pvh_size = 0;                      /* ELF32 without a note: nothing to enter */
	assert_int_equal(parse(&c, &ei, err, sizeof(err)), -ENOEXEC);
	assert_non_null(strstr(err, "ELF32"));
}

static void expect_refused(struct telf *c, int rc_want, const char *what)
{
	struct elf_info ei;
	char err[256] = "";
	int rc = parse(c, &ei, err, sizeof(err));

	if (rc != rc_want)
		fail_msg("%s: rc %d, want %d (%s)", what, rc, rc_want, err);
	assert_true(strncmp(err, "kernel: ", 8) == 0);
}

static void test_ident_checks(void **state)
{
	struct telf c;

	(void)state;
	c = telf_default64(); c.machine = 3;     /* ELF64 i386 */
	expect_refused(&c, -ENOEXEC, "machine");
	c = telf_default64(); c.nr_segs = 0;
	expect_refused(&c, -ENOEXEC, "no PT_LOAD");
	c = telf_default64(); c.segs[0].memsz = 0x1000; /* filesz 0x3000 > memsz */
	expect_refused(&c, -EINVAL, "filesz > memsz");
	c = telf_default64(); c.segs[1].paddr = UINT64_MAX - 0x100;
	expect_refused(&c, -EINVAL, "paddr + memsz overflow");
}

/* Patch a built image's fields to reach the paths a builder cannot. */
static void test_patched_headers(void **state)
{
	struct telf c = telf_default64();
	struct elf_info ei;
	size_t len, phoff;
	uint8_t *img = telf_build(&c, &len, &phoff, NULL), *m = malloc(len);
	char err[256];

	(void)state;
#define RESET() memcpy(m, img, len)
#define REFUSED(want) assert_int_equal(elf_parse(m, len, &ei, err, sizeof(err)), (want))
	RESET(); m[5] = 2;                       REFUSED(-ENOEXEC); /* big-endian */
	RESET(); m[4] = 3;                       REFUSED(-ENOEXEC); /* class */
	RESET(); bootu_wr16(m + 16, 3);          REFUSED(-ENOEXEC); /* ET_DYN */
	RESET(); bootu_wr16(m + 54, 32);         REFUSED(-ENOEXEC); /* phentsize */
	RESET(); bootu_wr16(m + 56, 0xffff);     REFUSED(-ENOEXEC); /* PN_XNUM */
	RESET(); bootu_wr64(m + 32, len);        REFUSED(-ENOEXEC); /* phdrs past EOF */
	RESET(); bootu_wr64(m + 32, UINT64_MAX - 8); REFUSED(-ENOEXEC);
	/* segment 0 data outside the file */
	RESET(); bootu_wr64(m + phoff + 8, len - 0x10);      REFUSED(-ENOEXEC);
	/* p_offset + p_filesz wraps around 2^64 */
	RESET(); bootu_wr64(m + phoff + 8, UINT64_MAX - 0x10); REFUSED(-ENOEXEC);
	RESET(); bootu_wr64(m + phoff + 32, UINT64_MAX);     REFUSED(-ENOEXEC);
	RESET();
	assert_int_equal(elf_parse(m, len, &ei, err, sizeof(err)), 0);
#undef RESET
#undef REFUSED
	free(m);
	free(img);
}

static void test_every_truncation_refused(void **state)
{
	struct telf c = telf_default64();
	struct elf_info ei;
	size_t len;
	uint8_t *img;
	char err[256];

	(void)state;
	c.pvh_size = 8;
	c.pvh_entry = 0x200000;
	c.segs[0].filesz = c.segs[0].memsz = 0x100;
	c.segs[1].filesz = 0x80;
	img = telf_build(&c, &len, NULL, NULL);
	assert_int_equal(elf_parse(img, len, &ei, err, sizeof(err)), 0);
	for (size_t n = 0; n < len; n++) {
		uint8_t *cut = malloc(n ? n : 1);
		int rc;

		memcpy(cut, img, n);
		err[0] = '\0';
		rc = elf_parse(cut, n, &ei, err, sizeof(err));
		if (rc != -ENOEXEC)
			fail_msg("prefix of %zu bytes: rc %d (%s)", n, rc, err);
		assert_true(err[0] != '\0');
		free(cut);
	}
	free(img);
}

static void test_random_bytes(void **state)
{
	struct telf c = telf_default64();
	struct elf_info ei;
	size_t len;
	uint8_t *img;
	uint32_t seed = 777;

	(void)state;
	c.pvh_size = 4;
	c.pvh_entry = 0x200000;
	c.pvh_in_section = true;
	img = telf_build(&c, &len, NULL, NULL);
	for (int iter = 0; iter < 20000; iter++) {
		uint8_t *m = malloc(len);

		memcpy(m, img, len);
		for (int k = 0; k < 3; k++) {
			seed = seed * 1103515245 + 12345;
			m[(seed >> 8) % 0x100 < 0xe0 ? (seed >> 8) % 0xe0 : (seed >> 8) % len] =
				(uint8_t)(seed >> 20);
		}
		if (elf_parse(m, len, &ei, NULL, 0) == 0) {
			for (unsigned int i = 0; i < ei.nr_segs; i++)
				assert_true(ei.segs[i].offset + ei.segs[i].filesz <= len);
			assert_true(ei.has_entry64 || ei.has_pvh);
		}
		free(m);
	}
	free(img);
}

static void test_load_segments_and_bss(void **state)
{
	struct telf c = telf_default64();
	struct elf_info ei;
	struct guest_mem gm;
	size_t len, seg_off;
	uint8_t *img = telf_build(&c, &len, NULL, &seg_off), *bss;
	char err[256];

	(void)state;
	assert_int_equal(mem_init(&gm, 16ULL << 20), 0);
	/* dirty the bss area: the loader must zero p_memsz - p_filesz */
	memset(mem_ptr(&gm, 0x205000, 0x4000), 0xee, 0x4000);
	assert_int_equal(elf_parse(img, len, &ei, err, sizeof(err)), 0);
	assert_int_equal(elf_load(&gm, img, len, &ei, err, sizeof(err)), 0);
	assert_memory_equal(mem_ptr(&gm, 0x200000, 0x3000), img + seg_off, 0x3000);
	assert_memory_equal(mem_ptr(&gm, 0x204000, 0x1000), img + seg_off + 0x3000, 0x1000);
	bss = mem_ptr(&gm, 0x205000, 0x4000);
	for (size_t i = 0; i < 0x4000; i++)
		assert_int_equal(bss[i], 0);
	mem_free(&gm);
	free(img);
}

static void expect_load_refused(struct telf *c, uint64_t ram, int rc_want, const char *what)
{
	struct elf_info ei;
	struct guest_mem gm;
	size_t len;
	uint8_t *img = telf_build(c, &len, NULL, NULL);
	char err[256] = "";
	int rc;

	assert_int_equal(mem_init(&gm, ram), 0);
	assert_int_equal(elf_parse(img, len, &ei, err, sizeof(err)), 0);
	rc = elf_load(&gm, img, len, &ei, err, sizeof(err));
	if (rc != rc_want)
		fail_msg("%s: rc %d, want %d (%s)", what, rc, rc_want, err);
	/* checked before writing: segment 0 was not copied either */
	assert_int_equal(*(uint8_t *)mem_ptr(&gm, 0x200000, 1), 0);
	mem_free(&gm);
	free(img);
}

static void test_load_out_of_ram(void **state)
{
	struct telf c;

	(void)state;
	c = telf_default64(); c.segs[1].paddr = 0xfff000;       /* crosses 16 MiB */
	expect_load_refused(&c, 16ULL << 20, -ENOMEM, "past the end of RAM");
	c = telf_default64(); c.segs[1].paddr = 0xc0000000;     /* in the MMIO hole */
	expect_load_refused(&c, 5ULL << 30, -ENOMEM, "in the hole");
	c = telf_default64(); c.segs[1].paddr = 0xbffff000;     /* straddles the hole */
	expect_load_refused(&c, 5ULL << 30, -ENOMEM, "across the hole");
	c = telf_default64(); c.segs[1].paddr = 0x8000;         /* over the boot area */
	expect_load_refused(&c, 16ULL << 20, -EINVAL, "below 1 MiB");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_elf64_entry),
		cmocka_unit_test(test_elf64_virtual_entry_translated),
		cmocka_unit_test(test_pvh_note_4_and_8_bytes),
		cmocka_unit_test(test_pvh_note_in_section),
		cmocka_unit_test(test_pvh_note_bad_size),
		cmocka_unit_test(test_pvh_entry_outside_segments_unusable),
		cmocka_unit_test(test_elf32_pvh_only),
		cmocka_unit_test(test_ident_checks),
		cmocka_unit_test(test_patched_headers),
		cmocka_unit_test(test_every_truncation_refused),
		cmocka_unit_test(test_random_bytes),
		cmocka_unit_test(test_load_segments_and_bss),
		cmocka_unit_test(test_load_out_of_ram),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
