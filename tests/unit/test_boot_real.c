/* tests/unit/test_boot_real.c - the loader against the real Debian cloud
 * kernel when images/linux/build.sh has produced it ($O/images/linux:
 * vmlinuz = LZ4 bzImage, vmlinux = the ELF inside it, initrd.img).  Skipped
 * (loudly, counted) when those files are absent: the other boot tests use
 * synthetic images and need no download. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/boot/boot.h"
#include "vmm/boot/bootparams.h"
#include "vmm/mem.h"
#include "vmm/platform.h"

static bool image_path(const char *name, char *out, size_t len)
{
	const char *o = getenv("O"), *root = getenv("HANEUL_ROOT");

	if (!o)
		o = "build";
	if (o[0] == '/')
		snprintf(out, len, "%s/images/linux/%s", o, name);
	else
		snprintf(out, len, "%s/%s/images/linux/%s", root ? root : ".", o, name);
	return access(out, R_OK) == 0;
}

static void load_real(const char *kernel, bool prefer_pvh, const char *fmt_want,
		      enum boot_mode mode_want)
{
	char kpath[PATH_MAX], ipath[PATH_MAX], err[256] = "";
	struct guest_mem gm;
	struct boot_info bi;
	bool have_initrd;

	if (!image_path(kernel, kpath, sizeof(kpath))) {
		print_message("SKIP: %s not built (run images/linux/build.sh)\n", kpath);
		skip();
	}
	have_initrd = image_path("initrd.img", ipath, sizeof(ipath));
	assert_int_equal(mem_init(&gm, 512ULL << 20), 0);
	if (boot_load(&gm, &(struct boot_opts){ .kernel_path = kpath,
		      .initrd_path = have_initrd ? ipath : NULL, .cmdline = "console=ttyS0 panic=-1",
		      .nr_vcpus = 2, .prefer_pvh = prefer_pvh }, &bi, err, sizeof(err)))
		fail_msg("%s: %s", kpath, err);
	print_message("%s: format=%s entry=0x%llx kernel=[0x%llx,0x%llx) initrd=0x%llx+0x%llx\n",
		      kernel, bi.format, (unsigned long long)bi.entry,
		      (unsigned long long)bi.kernel_start, (unsigned long long)bi.kernel_end,
		      (unsigned long long)bi.initrd_gpa, (unsigned long long)bi.initrd_size);
	assert_string_equal(bi.format, fmt_want);
	assert_int_equal(bi.mode, mode_want);
	assert_true(bi.entry >= bi.kernel_start && bi.entry < bi.kernel_end);
	if (have_initrd)
		assert_true(bi.initrd_gpa >= bi.kernel_end);
	mem_free(&gm);
}

static void test_real_bzimage(void **state)
{
	(void)state;
	load_real("vmlinuz", false, "bzImage", BOOT_MODE_LINUX64);
}

static void test_real_vmlinux_64(void **state)
{
	(void)state;
	load_real("vmlinux", false, "elf64", BOOT_MODE_LINUX64);
}

static void test_real_vmlinux_pvh(void **state)
{
	(void)state;
	load_real("vmlinux", true, "elf-pvh", BOOT_MODE_PVH32);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_bzimage),
		cmocka_unit_test(test_real_vmlinux_64),
		cmocka_unit_test(test_real_vmlinux_pvh),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
