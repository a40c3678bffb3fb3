/* tests/unit/test_boot.c - boot_load() end to end with synthetic kernels:
 * e820 for 16 MiB / 1 GiB / 3 GiB / 5 GiB guests, the zero page, PVH start
 * info, initrd placement, command-line limits, every refused input, the
 * GDT, the page tables and boot_bsp_regs(). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "tests/unit/test_boot_images.h"
#include "vmm/boot/boot.h"
#include "vmm/boot/bootparams.h"
#include "vmm/boot/cpu_setup.h"
#include "vmm/boot/e820.h"
#include "vmm/boot/pvh.h"
#include "vmm/mem.h"
#include "vmm/platform.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

/* A bzImage small enough for a 16 MiB guest: runs at 2 MiB, 4 MiB init. */
static struct tbz small_bz(void)
{
	struct tbz c = tbz_default();

	c.pref_address = 0x200000;
	c.init_size = 0x400000;
	return c;
}

static char *bz_file(const struct tbz *c)
{
	size_t len;
	uint8_t *img = tbz_build(c, &len);
	char *path = tfile_write(img, len);

	free(img);
	assert_non_null(path);
	return path;
}

static char *elf_file(const struct telf *c)
{
	size_t len;
	uint8_t *img = telf_build(c, &len, NULL, NULL);
	char *path = tfile_write(img, len);

	free(img);
	assert_non_null(path);
	return path;
}

/* A sparse file of `size` bytes whose first byte is `fill`. */
static char *sized_file(uint64_t size)
{
	char *path = tfile_write("I", 1);

	assert_non_null(path);
	assert_int_equal(truncate(path, (off_t)size), 0);
	return path;
}

static bool all_zero(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	const uint8_t *p = mem_ptr(gm, gpa, len);

	for (uint64_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/* ---- e820 ---- */

static void check_e820(uint64_t size, const struct e820_entry *want, int n)
{
	struct guest_mem gm;
	struct e820_entry e[E820_MAX_ENTRIES];

	assert_int_equal(mem_init(&gm, size), 0);
	assert_int_equal(e820_build(&gm, e, E820_MAX_ENTRIES), n);
	for (int i = 0; i < n; i++) {
		assert_int_equal(e[i].addr, want[i].addr);
		assert_int_equal(e[i].size, want[i].size);
		assert_int_equal(e[i].type, want[i].type);
	}
	assert_int_equal(e820_build(&gm, e, 2), -EINVAL);
	mem_free(&gm);
}

static void test_e820_maps(void **state)
{
	(void)state;
	check_e820(16 * MiB, (const struct e820_entry[]){
		{ 0, 0x9fc00, 1 }, { 0x9fc00, 0x60400, 2 }, { MiB, 15 * MiB, 1 } }, 3);
	check_e820(GiB, (const struct e820_entry[]){
		{ 0, 0x9fc00, 1 }, { 0x9fc00, 0x60400, 2 }, { MiB, GiB - MiB, 1 } }, 3);
	check_e820(3 * GiB, (const struct e820_entry[]){
		{ 0, 0x9fc00, 1 }, { 0x9fc00, 0x60400, 2 }, { MiB, 3 * GiB - MiB, 1 } }, 3);
	check_e820(5 * GiB, (const struct e820_entry[]){
		{ 0, 0x9fc00, 1 }, { 0x9fc00, 0x60400, 2 }, { MiB, 3 * GiB - MiB, 1 },
		{ 4 * GiB, 2 * GiB, 1 } }, 4);
}

/* ---- bzImage end to end ---- */

static void check_bz_guest(uint64_t size, int nr_e820)
{
	struct tbz c = small_bz();
	char *kpath = bz_file(&c), *ipath = sized_file(3 * MiB + 100);
	struct guest_mem gm;
	struct boot_info bi;
	struct boot_opts o = { .kernel_path = kpath, .initrd_path = ipath,
			       .cmdline = "console=ttyS0 panic=-1", .nr_vcpus = 2 };
	const struct boot_params *bp;
	uint64_t low_end = size < MEM_HOLE_START ? size : MEM_HOLE_START, limit;
	char err[256] = "";

	assert_int_equal(mem_init(&gm, size), 0);
	if (boot_load(&gm, &o, &bi, err, sizeof(err)))
		fail_msg("boot_load: %s", err);
	assert_int_equal(bi.mode, BOOT_MODE_LINUX64);
	assert_string_equal(bi.format, "bzImage");
	assert_int_equal(bi.entry, 0x100200);
	assert_int_equal(bi.params_gpa, PLAT_ZERO_PAGE_ADDR);
	assert_int_equal(bi.kernel_start, 0x100000);
	assert_int_equal(bi.kernel_end, 0x600000);
	assert_int_equal(bi.rsdp_gpa, PLAT_ACPI_ADDR);

	/* initrd: highest page-aligned spot below min(initrd_addr_max + 1, low RAM) */
	limit = low_end < 0x80000000ULL ? low_end : 0x80000000ULL;
	assert_int_equal(bi.initrd_size, 3 * MiB + 100);
	assert_int_equal(bi.initrd_gpa, (limit - bi.initrd_size) & ~0xfffULL);
	assert_true(bi.initrd_gpa >= bi.kernel_end);
	assert_int_equal(*(uint8_t *)mem_ptr(&gm, bi.initrd_gpa, 1), 'I');

	bp = mem_ptr(&gm, PLAT_ZERO_PAGE_ADDR, sizeof(*bp));
	assert_int_equal(bp->hdr.header, BP_HDR_MAGIC);
	assert_int_equal(bp->hdr.boot_flag, 0xaa55);
	assert_int_equal(bp->hdr.version, 0x020f);
	assert_int_equal(bp->hdr.setup_sects, 4);
	assert_int_equal(bp->hdr.type_of_loader, 0xff);
	assert_int_equal(bp->hdr.loadflags & BP_LOADED_HIGH, BP_LOADED_HIGH);
	assert_int_equal(bp->hdr.cmd_line_ptr, PLAT_CMDLINE_ADDR);
	assert_int_equal(bp->hdr.cmdline_size, 2047);
	assert_int_equal(bp->hdr.ramdisk_image, bi.initrd_gpa);
	assert_int_equal(bp->hdr.ramdisk_size, bi.initrd_size);
	assert_int_equal(bp->hdr.code32_start, 0x100000);
	assert_int_equal(bp->hdr.pref_address, 0x200000);
	assert_int_equal(bp->hdr.init_size, 0x400000);
	assert_int_equal(bp->acpi_rsdp_addr, PLAT_ACPI_ADDR);
	assert_int_equal(bp->sentinel, 0);
	assert_int_equal(bp->ext_ramdisk_image, 0);
	assert_string_equal((const char *)mem_ptr(&gm, PLAT_CMDLINE_ADDR, 1),
			    "console=ttyS0 panic=-1");
	assert_int_equal(bp->e820_entries, nr_e820);
	assert_int_equal(bp->e820_table[2].addr, MiB);
	assert_int_equal(bp->e820_table[2].size, low_end - MiB);
	if (nr_e820 == 4) {
		assert_int_equal(bp->e820_table[3].addr, 4 * GiB);
		assert_int_equal(bp->e820_table[3].type, 1);
	}
	/* The payload is at 1 MiB, the ACPI RSDP and MP table are in place. */
	assert_memory_equal(mem_ptr(&gm, PLAT_ACPI_ADDR, 8), "RSD PTR ", 8);
	assert_memory_equal(mem_ptr(&gm, PLAT_MPTABLE_ADDR, 4), "_MP_", 4);
	mem_free(&gm);
	tfile_free(kpath);
	tfile_free(ipath);
}

static void test_bz_16m(void **state) { (void)state; check_bz_guest(16 * MiB, 3); }
static void test_bz_1g(void **state) { (void)state; check_bz_guest(GiB, 3); }
static void test_bz_3g(void **state) { (void)state; check_bz_guest(3 * GiB, 3); }
static void test_bz_5g(void **state) { (void)state; check_bz_guest(5 * GiB, 4); }

static void test_bz_old_protocol_no_rsdp_field(void **state)
{
	struct tbz c = small_bz();
	char *kpath;
	struct guest_mem gm;
	struct boot_info bi;
	char err[256] = "";
	const struct boot_params *bp;

	(void)state;
	c.version = 0x020c;          /* 2.12: 64-bit entry, no acpi_rsdp_addr */
	kpath = bz_file(&c);
	assert_int_equal(mem_init(&gm, 16 * MiB), 0);
	assert_int_equal(boot_load(&gm, &(struct boot_opts){ .kernel_path = kpath, .nr_vcpus = 1 },
				   &bi, err, sizeof(err)), 0);
	bp = mem_ptr(&gm, PLAT_ZERO_PAGE_ADDR, sizeof(*bp));
	assert_int_equal(bp->acpi_rsdp_addr, 0);     /* padding before 2.14 */
	assert_int_equal(bp->hdr.ramdisk_image, 0);
	assert_int_equal(bi.initrd_gpa, 0);
	assert_string_equal((const char *)mem_ptr(&gm, PLAT_CMDLINE_ADDR, 1), "");
	mem_free(&gm);
	tfile_free(kpath);
}

/* ---- ELF / PVH end to end ---- */

static void test_elf_default_64_and_prefer_pvh(void **state)
{
	struct telf c = telf_default64();
	char *kpath, *ipath = sized_file(MiB);
	struct guest_mem gm;
	struct boot_info bi;
	struct boot_opts o = { .nr_vcpus = 4, .cmdline = "x" };
	const struct hvm_start_info *si;
	const struct hvm_memmap_table_entry *mm;
	const struct hvm_modlist_entry *mod;
	const struct boot_params *bp;
	char err[256] = "";

	(void)state;
	c.pvh_size = 4;
	c.pvh_entry = 0x200040;
	kpath = elf_file(&c);
	o.kernel_path = kpath;
	o.initrd_path = ipath;

	assert_int_equal(mem_init(&gm, 5 * GiB), 0);
	assert_int_equal(boot_load(&gm, &o, &bi, err, sizeof(err)), 0);
	assert_int_equal(bi.mode, BOOT_MODE_LINUX64);
	assert_string_equal(bi.format, "elf64");
	assert_int_equal(bi.entry, 0x200000);
	assert_int_equal(bi.kernel_start, 0x200000);
	assert_int_equal(bi.kernel_end, 0x209000);
	/* ELF: initrd at the top of low RAM (no initrd_addr_max) */
	assert_int_equal(bi.initrd_gpa, MEM_HOLE_START - MiB);
	bp = mem_ptr(&gm, PLAT_ZERO_PAGE_ADDR, sizeof(*bp));
	assert_int_equal(bp->hdr.header, BP_HDR_MAGIC);
	assert_int_equal(bp->hdr.boot_flag, 0xaa55);
	assert_int_equal(bp->hdr.type_of_loader, 0xff);
	assert_int_equal(bp->hdr.ramdisk_image, MEM_HOLE_START - MiB);
	assert_int_equal(bp->acpi_rsdp_addr, PLAT_ACPI_ADDR);
	assert_int_equal(bp->e820_entries, 4);
	mem_free(&gm);

	o.prefer_pvh = true;
	assert_int_equal(mem_init(&gm, 5 * GiB), 0);
	assert_int_equal(boot_load(&gm, &o, &bi, err, sizeof(err)), 0);
	assert_int_equal(bi.mode, BOOT_MODE_PVH32);
	assert_string_equal(bi.format, "elf-pvh");
	assert_int_equal(bi.entry, 0x200040);
	assert_int_equal(bi.params_gpa, PLAT_PVH_INFO_ADDR);
	si = mem_ptr(&gm, PLAT_PVH_INFO_ADDR, sizeof(*si));
	assert_int_equal(si->magic, 0x336ec578);
	assert_int_equal(si->version, 1);
	assert_int_equal(si->nr_modules, 1);
	assert_int_equal(si->cmdline_paddr, PLAT_CMDLINE_ADDR);
	assert_int_equal(si->rsdp_paddr, PLAT_ACPI_ADDR);
	assert_int_equal(si->memmap_paddr, PLAT_PVH_MEMMAP_ADDR);
	assert_int_equal(si->memmap_entries, 4);
	mod = mem_ptr(&gm, si->modlist_paddr, sizeof(*mod));
	assert_int_equal(mod->paddr, bi.initrd_gpa);
	assert_int_equal(mod->size, MiB);
	mm = mem_ptr(&gm, PLAT_PVH_MEMMAP_ADDR, 4 * sizeof(*mm));
	assert_int_equal(mm[0].addr, 0);
	assert_int_equal(mm[0].size, 0x9fc00);
	assert_int_equal(mm[1].type, 2);
	assert_int_equal(mm[2].size, MEM_HOLE_START - MiB);
	assert_int_equal(mm[3].addr, 4 * GiB);
	assert_int_equal(mm[3].size, 2 * GiB);
	assert_true(all_zero(&gm, PLAT_ZERO_PAGE_ADDR, 4096));  /* no zero page for PVH */
	mem_free(&gm);
	tfile_free(kpath);
	tfile_free(ipath);
}

static void test_elf32_pvh_without_prefer(void **state)
{
	struct telf c = telf_default64();
	char *kpath;
	struct guest_mem gm;
	struct boot_info bi;
	char err[256] = "";
	const struct hvm_start_info *si;

	(void)state;
	c.is64 = false;
	c.pvh_size = 4;
	c.pvh_entry = 0x200010;
	kpath = elf_file(&c);
	assert_int_equal(mem_init(&gm, 16 * MiB), 0);
	assert_int_equal(boot_load(&gm, &(struct boot_opts){ .kernel_path = kpath, .nr_vcpus = 1 },
				   &bi, err, sizeof(err)), 0);
	assert_int_equal(bi.mode, BOOT_MODE_PVH32);
	assert_int_equal(bi.entry, 0x200010);
	si = mem_ptr(&gm, PLAT_PVH_INFO_ADDR, sizeof(*si));
	assert_int_equal(si->nr_modules, 0);
	assert_int_equal(si->modlist_paddr, 0);
	assert_int_equal(si->memmap_entries, 3);
	mem_free(&gm);
	tfile_free(kpath);
}

/* ---- initrd placement ---- */

static void test_initrd_below_kernel_when_above_is_full(void **state)
{
	struct telf c = telf_default64();
	char *kpath, *ipath = sized_file(8 * MiB);
	struct guest_mem gm;
	struct boot_info bi;
	char err[256] = "";

	(void)state;
	c.entry = 0x3000000;
	c.nr_segs = 1;
	c.segs[0] = (struct tseg){ 0x3000000, 0x3000000, 0x1000, 0xf00000 };
	kpath = elf_file(&c);
	assert_int_equal(mem_init(&gm, 64 * MiB), 0);
	assert_int_equal(boot_load(&gm, &(struct boot_opts){ .kernel_path = kpath,
				   .initrd_path = ipath, .nr_vcpus = 1 }, &bi, err, sizeof(err)), 0);
	assert_int_equal(bi.initrd_gpa, 0x3000000 - 8 * MiB);
	mem_free(&gm);
	tfile_free(kpath);
	tfile_free(ipath);
}

static void test_initrd_too_big(void **state)
{
	struct tbz c = small_bz();
	char *kpath = bz_file(&c), *ipath = sized_file(11 * MiB), *huge = sized_file(17 * MiB);
	struct guest_mem gm;
	struct boot_info bi;
	char err[256] = "";

	(void)state;
	assert_int_equal(mem_init(&gm, 16 * MiB), 0);
	/* kernel [1 MiB, 6 MiB) leaves 10 MiB above it */
	assert_int_equal(boot_load(&gm, &(struct boot_opts){ .kernel_path = kpath,
				   .initrd_path = ipath, .nr_vcpus = 1 }, &bi, err, sizeof(err)), -ENOMEM);
	assert_non_null(strstr(err, "initrd: "));
	assert_non_null(strstr(err, "does not fit"));
	assert_true(all_zero(&gm, 0, 16 * MiB));        /* refused before any write */
	assert_int_equal(boot_load(&gm, &(struct boot_opts){ .kernel_path = kpath,
				   .initrd_path = huge, .nr_vcpus = 1 }, &bi, err, sizeof(err)), -EFBIG);
	assert_non_null(strstr(err, "larger than guest RAM"));
	mem_free(&gm);
	tfile_free(kpath);
	tfile_free(ipath);
	tfile_free(huge);
}

static void test_initrd_respects_initrd_addr_max(void **state)
{
	struct tbz c = small_bz();
	char *kpath, *ipath = sized_file(MiB);
	struct guest_mem gm;
	struct boot_info bi;
	char err[256] = "";

	(void)state;
	c.initrd_addr_max = 0x9fffff;     /* must end at or below 10 MiB */
	kpath = bz_file(&c);
	assert_int_equal(mem_init(&gm, GiB), 0);
	assert_int_equal(boot_load(&gm, &(struct boot_opts){ .kernel_path = kpath,
				   .initrd_path = ipath, .nr_vcpus = 1 }, &bi, err, sizeof(err)), 0);
	assert_int_equal(bi.initrd_gpa, 0x900000);
	c.initrd_addr_max = 0x5fffff;     /* only room inside the kernel: refused */
	tfile_free(kpath);
	kpath = bz_file(&c);
	mem_free(&gm);
	assert_int_equal(mem_init(&gm, GiB), 0);
	assert_int_equal(boot_load(&gm, &(struct boot_opts){ .kernel_path = kpath,
				   .initrd_path = ipath, .nr_vcpus = 1 }, &bi, err, sizeof(err)), -ENOMEM);
	mem_free(&gm);
	tfile_free(kpath);
	tfile_free(ipath);
}

/* ---- command line ---- */

static void test_cmdline_limits(void **state)
{
	struct tbz c = small_bz();
	struct telf e = telf_default64();
	char *kpath, *epath = elf_file(&e), *line = malloc(PLAT_CMDLINE_MAX + 10);
	struct guest_mem gm;
	struct boot_info bi;
	char err[256] = "";

	(void)state;
	c.cmdline_size = 100;
	kpath = bz_file(&c);
	assert_int_equal(mem_init(&gm, 16 * MiB), 0);
	memset(line, 'a', 100);
	line[100] = '\0';
	assert_int_equal(boot_load(&gm, &(struct boot_opts){ .kernel_path = kpath,
				   .cmdline = line, .nr_vcpus = 1 }, &bi, err, sizeof(err)), 0);
	assert_int_equal(strlen(mem_ptr(&gm, PLAT_CMDLINE_ADDR, 1)), 100);
	mem_free(&gm);
	line[100] = 'a';
	line[101] = '\0';
	assert_int_equal(mem_init(&gm, 16 * MiB), 0);
	assert_int_equal(boot_load(&gm, &(struct boot_opts){ .kernel_path = kpath,
				   .cmdline = line, .nr_vcpus = 1 }, &bi, err, sizeof(err)), -E2BIG);
	assert_non_null(strstr(err, "cmdline: 101 bytes"));
	assert_true(all_zero(&gm, 0, 16 * MiB));

	/* ELF: Linux's COMMAND_LINE_SIZE (2048 with the NUL) */
	memset(line, 'b', 2047);
	line[2047] = '\0';
	assert_int_equal(boot_load(&gm, &(struct boot_opts){ .kernel_path = epath,
				   .cmdline = line, .nr_vcpus = 1 }, &bi, err, sizeof(err)), 0);
	line[2047] = 'b';
	line[2048] = '\0';
	assert_int_equal(boot_load(&gm, &(struct boot_opts){ .kernel_path = epath,
				   .cmdline = line, .nr_vcpus = 1 }, &bi, err, sizeof(err)), -E2BIG);
	/* longer than the platform's slot, with a kernel that claims more */
	tfile_free(kpath);
	c.cmdline_size = 0x100000;
	kpath = bz_file(&c);
	memset(line, 'c', PLAT_CMDLINE_MAX + 5);
	line[PLAT_CMDLINE_MAX + 5] = '\0';
	assert_int_equal(boot_load(&gm, &(struct boot_opts){ .kernel_path = kpath,
				   .cmdline = line, .nr_vcpus = 1 }, &bi, err, sizeof(err)), -E2BIG);
	line[PLAT_CMDLINE_MAX - 1] = '\0';
	assert_int_equal(boot_load(&gm, &(struct boot_opts){ .kernel_path = kpath,
				   .cmdline = line, .nr_vcpus = 1 }, &bi, err, sizeof(err)), 0);
	assert_int_equal(*(uint8_t *)mem_ptr(&gm, PLAT_CMDLINE_ADDR + PLAT_CMDLINE_MAX - 1, 1), 0);
	mem_free(&gm);
	free(line);
	tfile_free(kpath);
	tfile_free(epath);
}

/* ---- refused inputs ---- */

static void expect_error(const struct boot_opts *o, uint64_t ram, int rc_want, const char *msg)
{
	struct guest_mem gm;
	struct boot_info bi;
	char err[256] = "";
	int rc;

	assert_int_equal(mem_init(&gm, ram), 0);
	rc = boot_load(&gm, o, &bi, err, sizeof(err));
	if (rc != rc_want || !strstr(err, msg))
		fail_msg("rc %d (want %d), err '%s' (want '%s')", rc, rc_want, err, msg);
	assert_null(strchr(err, '\n'));
	assert_true(all_zero(&gm, 0, 16 * MiB));
	mem_free(&gm);
}

static void test_refused_inputs(void **state)
{
	struct tbz c = small_bz();
	char *kpath = bz_file(&c), *empty = tfile_write("", 0);
	char *garbage = tfile_write("this is not a kernel, just some text that is long enough "
				    "to not be called small .........................", 100);
	char *big = sized_file(16 * MiB + 4096), *tiny = tfile_write("\x7f" "EL", 3);
	char *dir = strdup("/tmp");

	(void)state;
	expect_error(&(struct boot_opts){ .kernel_path = "/nonexistent/vmlinuz", .nr_vcpus = 1 },
		     16 * MiB, -ENOENT, "kernel: /nonexistent/vmlinuz: No such file");
	expect_error(&(struct boot_opts){ .kernel_path = empty, .nr_vcpus = 1 },
		     16 * MiB, -EINVAL, "empty file");
	expect_error(&(struct boot_opts){ .kernel_path = dir, .nr_vcpus = 1 },
		     16 * MiB, -EINVAL, "not a regular file");
	expect_error(&(struct boot_opts){ .kernel_path = garbage, .nr_vcpus = 1 },
		     16 * MiB, -ENOEXEC, "file too small");
	expect_error(&(struct boot_opts){ .kernel_path = tiny, .nr_vcpus = 1 },
		     16 * MiB, -ENOEXEC, "kernel: ");
	expect_error(&(struct boot_opts){ .kernel_path = big, .nr_vcpus = 1 },
		     16 * MiB, -EFBIG, "larger than guest RAM");
	expect_error(&(struct boot_opts){ .kernel_path = kpath, .nr_vcpus = 0 },
		     16 * MiB, -EINVAL, "vcpus: 0");
	expect_error(&(struct boot_opts){ .kernel_path = kpath, .nr_vcpus = 33 },
		     16 * MiB, -EINVAL, "vcpus: 33");
	expect_error(&(struct boot_opts){ .kernel_path = NULL, .nr_vcpus = 1 },
		     16 * MiB, -EINVAL, "no kernel");
	expect_error(&(struct boot_opts){ .kernel_path = kpath, .initrd_path = "/nonexistent/i",
		     .nr_vcpus = 1 }, 16 * MiB, -ENOENT, "initrd: /nonexistent/i");
	expect_error(&(struct boot_opts){ .kernel_path = kpath, .initrd_path = empty,
		     .nr_vcpus = 1 }, 16 * MiB, -EINVAL, "initrd: ");
	c.init_size = 0x2000000;
	tfile_free(kpath);
	kpath = bz_file(&c);
	expect_error(&(struct boot_opts){ .kernel_path = kpath, .nr_vcpus = 1 },
		     16 * MiB, -ENOMEM, "kernel: needs");
	tfile_free(kpath);
	tfile_free(empty);
	tfile_free(garbage);
	tfile_free(big);
	tfile_free(tiny);
	free(dir);
}

/* ---- CPU state ---- */

/* Walk the identity tables like the MMU (4-level, 2 MiB pages). */
static bool translate(const struct guest_mem *gm, uint64_t va, uint64_t *pa)
{
	const uint64_t *pml4 = mem_ptr(gm, PLAT_PML4_ADDR, 4096), *pdpt, *pd;
	uint64_t e;

	e = pml4[(va >> 39) & 511];
	if (!(e & BOOT_PTE_P))
		return false;
	pdpt = mem_ptr(gm, e & ~0xfffULL, 4096);
	e = pdpt[(va >> 30) & 511];
	if (!(e & BOOT_PTE_P))
		return false;
	pd = mem_ptr(gm, e & ~0xfffULL, 4096);
	e = pd[(va >> 21) & 511];
	if (!(e & BOOT_PTE_P) || !(e & BOOT_PTE_PS) || !(e & BOOT_PTE_RW))
		return false;
	*pa = (e & ~0x1fffffULL & 0x000ffffffffff000ULL) | (va & 0x1fffff);
	return true;
}

static void test_page_tables_identity_4g(void **state)
{
	static const uint64_t probes[] = { 0, 0x1234, 0x100200, 0x1fffff, 0x200000, 0x3fffffff,
		0x40000000, 0xbfffffff, 0xc0000000, 0xfee00000, 0xffffffff };
	struct guest_mem gm;
	uint64_t pa;

	(void)state;
	assert_int_equal(mem_init(&gm, 16 * MiB), 0);
	assert_int_equal(cpu_setup_write(&gm), 0);
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		assert_true(translate(&gm, probes[i], &pa));
		assert_int_equal(pa, probes[i]);
	}
	assert_false(translate(&gm, 0x100000000ULL, &pa));    /* only the first 4 GiB */
	assert_false(translate(&gm, 0x8000000000ULL, &pa));
	/* the tables live where platform.h says (0x9000..0xefff) */
	assert_int_equal(*(uint64_t *)mem_ptr(&gm, PLAT_PML4_ADDR, 8), PLAT_PDPT_ADDR | 3);
	assert_int_equal(*(uint64_t *)mem_ptr(&gm, PLAT_PD_ADDR + 3 * 4096 + 511 * 8, 8),
			 0xffe00000ULL | 0x83);
	mem_free(&gm);
}

/* A GDT descriptor's attributes must match the cached segment KVM gets. */
static void check_seg_vs_gdt(const uint64_t *gdt, const struct kvm_segment *s)
{
	uint64_t d = gdt[s->selector >> 3];

	assert_int_equal((d >> 40) & 0xf, s->type);
	assert_int_equal((d >> 44) & 1, s->s);
	assert_int_equal((d >> 47) & 1, s->present);
	assert_int_equal((d >> 53) & 1, s->l);
	assert_int_equal((d >> 54) & 1, s->db);
	assert_int_equal((d >> 55) & 1, s->g);
}

static void test_bsp_regs_linux64(void **state)
{
	struct boot_info bi = { .mode = BOOT_MODE_LINUX64, .entry = 0x100200,
				.params_gpa = PLAT_ZERO_PAGE_ADDR };
	struct kvm_regs r;
	struct kvm_sregs s;
	struct guest_mem gm;
	const uint64_t *gdt;

	(void)state;
	boot_bsp_regs(&bi, &r, &s);
	assert_int_equal(r.rip, 0x100200);
	assert_int_equal(r.rsi, PLAT_ZERO_PAGE_ADDR);
	assert_int_equal(r.rsp, PLAT_BOOT_STACK_ADDR);
	assert_int_equal(r.rflags, 0x2);
	assert_int_equal(s.cr0, 0x80000011ULL);                 /* PE | ET | PG */
	assert_int_equal(s.cr3, PLAT_PML4_ADDR);
	assert_int_equal(s.cr4, 0x20);                          /* PAE */
	assert_int_equal(s.efer, 0x500);                        /* LME | LMA */
	assert_int_equal(s.cs.selector, 0x8);
	assert_int_equal(s.cs.l, 1);
	assert_int_equal(s.cs.db, 0);
	assert_int_equal(s.ds.selector, 0x10);
	assert_int_equal(s.ss.selector, 0x10);
	assert_int_equal(s.fs.selector, 0x10);
	assert_int_equal(s.gs.selector, 0x10);
	assert_int_equal(s.es.selector, 0x10);
	assert_int_equal(s.tr.selector, 0x20);
	assert_int_equal(s.tr.type, 11);                        /* busy TSS */
	assert_int_equal(s.tr.present, 1);
	assert_int_equal(s.ldt.unusable, 1);
	assert_int_equal(s.gdt.base, PLAT_GDT_ADDR);
	assert_int_equal(s.gdt.limit, 6 * 8 - 1);
	assert_int_equal(s.idt.base, PLAT_IDT_ADDR);
	assert_int_equal(s.idt.limit, 0);

	assert_int_equal(mem_init(&gm, 16 * MiB), 0);
	assert_int_equal(cpu_setup_write(&gm), 0);
	gdt = mem_ptr(&gm, PLAT_GDT_ADDR, 6 * 8);
	assert_int_equal(gdt[0], 0);
	check_seg_vs_gdt(gdt, &s.cs);
	check_seg_vs_gdt(gdt, &s.ds);
	check_seg_vs_gdt(gdt, &s.tr);
	assert_int_equal(gdt[5], 0);                            /* TSS upper half */
	mem_free(&gm);
}

static void test_bsp_regs_pvh32(void **state)
{
	struct boot_info bi = { .mode = BOOT_MODE_PVH32, .entry = 0x1000850,
				.params_gpa = PLAT_PVH_INFO_ADDR };
	struct kvm_regs r;
	struct kvm_sregs s;
	uint64_t gdt[BOOT_GDT_ENTRIES];

	(void)state;
	boot_bsp_regs(&bi, &r, &s);
	assert_int_equal(r.rip, 0x1000850);
	assert_int_equal(r.rbx, PLAT_PVH_INFO_ADDR);
	assert_int_equal(r.rsi, 0);
	assert_int_equal(r.rflags, 0x2);
	assert_int_equal(s.cr0, 0x1);                           /* PE only: paging off */
	assert_int_equal(s.cr4, 0);
	assert_int_equal(s.efer, 0);
	assert_int_equal(s.cs.selector, 0x18);
	assert_int_equal(s.cs.db, 1);
	assert_int_equal(s.cs.l, 0);
	assert_int_equal(s.cs.limit, 0xffffffff);
	assert_int_equal(s.ds.selector, 0x10);
	assert_int_equal(s.ss.db, 1);
	cpu_setup_gdt(gdt);
	check_seg_vs_gdt(gdt, &s.cs);
	check_seg_vs_gdt(gdt, &s.ss);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_e820_maps),
		cmocka_unit_test(test_bz_16m),
		cmocka_unit_test(test_bz_1g),
		cmocka_unit_test(test_bz_3g),
		cmocka_unit_test(test_bz_5g),
		cmocka_unit_test(test_bz_old_protocol_no_rsdp_field),
		cmocka_unit_test(test_elf_default_64_and_prefer_pvh),
		cmocka_unit_test(test_elf32_pvh_without_prefer),
		cmocka_unit_test(test_initrd_below_kernel_when_above_is_full),
		cmocka_unit_test(test_initrd_too_big),
		cmocka_unit_test(test_initrd_respects_initrd_addr_max),
		cmocka_unit_test(test_cmdline_limits),
		cmocka_unit_test(test_refused_inputs),
		cmocka_unit_test(test_page_tables_identity_4g),
		cmocka_unit_test(test_bsp_regs_linux64),
		cmocka_unit_test(test_bsp_regs_pvh32),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
