/* tests/unit/test_kvm.c - KVM setup error paths (vmm/kvm.c) through an
 * injected ioctl layer: each failure gives its own clear message, a
 * non-zero result, and no leaked fd. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/kvm.h"
#include "vmm/platform.h"

static struct fake {
	int open_errno;
	int api_version;
	int missing_cap;            /* -1 = none missing (KVM_CAP_IRQCHIP is 0) */
	unsigned long fail_req;     /* ioctl that fails with EINVAL, 0 = none */
	int open_fds;
	uint64_t tss, ident;
	unsigned int slots;
	struct kvm_userspace_memory_region regions[4];
	uint32_t pit_flags;
} fk;

static int f_open(const char *path, int flags)
{
	if (fk.open_errno) {
		errno = fk.open_errno;
		return -1;
	}
	fk.open_fds++;
	return 3;
}

static int f_close(int fd)
{
	fk.open_fds--;
	return 0;
}

static int f_ioctl(int fd, unsigned long req, void *arg)
{
	if (req == fk.fail_req) {
		errno = EINVAL;
		return -1;
	}
	switch (req) {
	case KVM_GET_API_VERSION:
		return fk.api_version;
	case KVM_CHECK_EXTENSION:
		if ((int)(uintptr_t)arg == fk.missing_cap)
			return 0;
		if ((uintptr_t)arg == KVM_CAP_MAX_VCPUS)
			return 288;
		return 1;
	case KVM_GET_VCPU_MMAP_SIZE:
		return 12288;
	case KVM_CREATE_VM:
		fk.open_fds++;
		return 4;
	case KVM_SET_TSS_ADDR:
		fk.tss = (uintptr_t)arg;
		return 0;
	case KVM_SET_IDENTITY_MAP_ADDR:
		fk.ident = *(uint64_t *)arg;
		return 0;
	case KVM_CREATE_PIT2:
		fk.pit_flags = ((struct kvm_pit_config *)arg)->flags;
		return 0;
	case KVM_SET_USER_MEMORY_REGION:
		fk.regions[fk.slots++] = *(struct kvm_userspace_memory_region *)arg;
		return 0;
	default:
		return 0;
	}
}

static const struct kvm_ops fake_ops = { .open = f_open, .ioctl = f_ioctl, .close = f_close };

static int reset(void **state)
{
	memset(&fk, 0, sizeof(fk));
	fk.api_version = KVM_API_VERSION;
	fk.missing_cap = -1;
	return 0;
}

static void test_open_ok(void **state)
{
	struct kvm k;
	char err[256] = "";

	assert_int_equal(kvm_open(&k, &fake_ops, "/dev/kvm", err, sizeof(err)), 0);
	assert_int_equal(k.run_size, 12288);
	assert_int_equal(k.max_vcpus, 288);
	kvm_close(&k);
	assert_int_equal(fk.open_fds, 0);
}

static void test_no_device(void **state)
{
	struct kvm k;
	char err[256] = "";

	fk.open_errno = ENOENT;
	assert_int_equal(kvm_open(&k, &fake_ops, "/dev/kvm", err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "/dev/kvm"));
	assert_non_null(strstr(err, "kvm module"));
	assert_int_equal(k.sys_fd, -1);
}

static void test_no_permission(void **state)
{
	struct kvm k;
	char err[256] = "";

	fk.open_errno = EACCES;
	assert_int_equal(kvm_open(&k, &fake_ops, "/dev/kvm", err, sizeof(err)), -EACCES);
	assert_non_null(strstr(err, "Permission denied"));
	assert_non_null(strstr(err, "group"));
}

static void test_bad_api_version(void **state)
{
	struct kvm k;
	char err[256] = "";

	fk.api_version = 11;
	assert_true(kvm_open(&k, &fake_ops, "/dev/kvm", err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "API version 11, need 12"));
	assert_int_equal(fk.open_fds, 0);
}

static void test_each_missing_cap(void **state)
{
	for (size_t i = 0; i < kvm_nr_required_caps; i++) {
		struct kvm k;
		char err[256] = "";

		reset(state);
		fk.missing_cap = kvm_required_caps[i].cap;
		assert_true(kvm_open(&k, &fake_ops, "/dev/kvm", err, sizeof(err)) < 0);
		if (!strstr(err, kvm_required_caps[i].name))
			fail_msg("missing %s: message '%s'", kvm_required_caps[i].name, err);
		assert_non_null(strstr(err, "missing capability"));
		assert_int_equal(fk.open_fds, 0);
	}
	assert_true(kvm_nr_required_caps >= 8);
}

static void test_create_vm_layout(void **state)
{
	struct kvm k;
	struct guest_mem gm = {
		.size = 4ull << 30, .nr_regions = 2,
		.regions = { { 0, 3ull << 30, (uint8_t *)0x10000000 },
			     { 1ull << 32, 1ull << 30, (uint8_t *)0xd0000000 } },
	};
	char err[256] = "";

	assert_int_equal(kvm_open(&k, &fake_ops, "/dev/kvm", err, sizeof(err)), 0);
	assert_int_equal(kvm_create_vm(&k, &gm, err, sizeof(err)), 0);
	assert_int_equal(fk.tss, PLAT_TSS_ADDR);
	assert_int_equal(fk.ident, PLAT_IDENTITY_MAP);
	assert_int_equal(fk.pit_flags, KVM_PIT_SPEAKER_DUMMY);
	assert_int_equal(fk.slots, 2);
	assert_int_equal(fk.regions[1].slot, 1);
	assert_int_equal(fk.regions[1].guest_phys_addr, 1ull << 32);
	assert_int_equal(fk.regions[1].userspace_addr, 0xd0000000);
	kvm_close(&k);
	assert_int_equal(fk.open_fds, 0);
}

static void test_create_vm_failures(void **state)
{
	static const struct { unsigned long req; const char *msg; } fails[] = {
		{ KVM_CREATE_VM, "KVM_CREATE_VM" },
		{ KVM_SET_TSS_ADDR, "KVM_SET_TSS_ADDR" },
		{ KVM_SET_IDENTITY_MAP_ADDR, "KVM_SET_IDENTITY_MAP_ADDR" },
		{ KVM_CREATE_IRQCHIP, "KVM_CREATE_IRQCHIP" },
		{ KVM_CREATE_PIT2, "KVM_CREATE_PIT2" },
		{ KVM_SET_USER_MEMORY_REGION, "KVM_SET_USER_MEMORY_REGION" },
	};
	struct guest_mem gm = { .size = 16 << 20, .nr_regions = 1,
				.regions = { { 0, 16 << 20, (uint8_t *)0x10000000 } } };

	for (size_t i = 0; i < sizeof(fails) / sizeof(fails[0]); i++) {
		struct kvm k;
		char err[256] = "";

		reset(state);
		assert_int_equal(kvm_open(&k, &fake_ops, "/dev/kvm", err, sizeof(err)), 0);
		fk.fail_req = fails[i].req;
		assert_int_equal(kvm_create_vm(&k, &gm, err, sizeof(err)), -EINVAL);
		if (!strstr(err, fails[i].msg))
			fail_msg("failing %s: message '%s'", fails[i].msg, err);
		assert_int_equal(k.vm_fd, -1);
		kvm_close(&k);
		assert_int_equal(fk.open_fds, 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_open_ok, reset),
		cmocka_unit_test_setup(test_no_device, reset),
		cmocka_unit_test_setup(test_no_permission, reset),
		cmocka_unit_test_setup(test_bad_api_version, reset),
		cmocka_unit_test_setup(test_each_missing_cap, reset),
		cmocka_unit_test_setup(test_create_vm_layout, reset),
		cmocka_unit_test_setup(test_create_vm_failures, reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
