/* tests/unit/test_cpuid.c - CPUID normalization (vmm/cpuid.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/cpuid.h"

#define CAP 64

struct table {
	struct kvm_cpuid_entry2 e[CAP];
	unsigned int n;
};

static void add(struct table *t, uint32_t fn, uint32_t idx, uint32_t flags,
		uint32_t a, uint32_t b, uint32_t c, uint32_t d)
{
	struct kvm_cpuid_entry2 *x = &t->e[t->n++];

	memset(x, 0, sizeof(*x));
	x->function = fn;
	x->index = idx;
	x->flags = flags;
	x->eax = a;
	x->ebx = b;
	x->ecx = c;
	x->edx = d;
}

static void vendor(struct table *t, const char *v, uint32_t max)
{
	uint32_t b, c, d;

	memcpy(&b, v, 4);
	memcpy(&d, v + 4, 4);
	memcpy(&c, v + 8, 4);
	add(t, 0, 0, 0, max, b, c, d);
}

/* A plausible Intel table as KVM_GET_SUPPORTED_CPUID gives it. */
static void intel_table(struct table *t)
{
	const uint32_t sig = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;

	memset(t, 0, sizeof(*t));
	vendor(t, "GenuineIntel", 0xd);
	add(t, 1, 0, 0, 0x806ec, 0x00ff0800 | (7u << 24), 0x20, 1u << 9);
	add(t, 4, 0, sig, 0x1c004121, 0, 0, 0); /* L1d */
	add(t, 4, 1, sig, 0x1c004122, 0, 0, 0); /* L1i */
	add(t, 4, 2, sig, 0x1c004143, 0, 0, 0); /* L2 */
	add(t, 4, 3, sig, 0x1c03c163, 0, 0, 0); /* L3 */
	add(t, 4, 4, sig, 0, 0, 0, 0);
	add(t, 0xa, 0, 0, 0x07300402, 0, 0, 0x603);
	add(t, 0xb, 0, sig, 1, 2, 0x100, 7);     /* host topology to be replaced */
	add(t, 0xb, 1, sig, 4, 8, 0x201, 7);
	add(t, 0xb, 5, sig, 9, 9, 9, 9);         /* junk subleaf that must go */
	add(t, 0x40000000, 0, 0, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x4d);
	add(t, 0x80000000, 0, 0, 0x80000008, 0, 0, 0);
	add(t, 0x80000001, 0, 0, 0, 0, 0x121, 0x2c100800);
	add(t, 0x80000008, 0, 0, 0x3027, 0, 0, 0);
}

static void amd_table(struct table *t)
{
	const uint32_t sig = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;

	memset(t, 0, sizeof(*t));
	vendor(t, "AuthenticAMD", 0xd);
	add(t, 1, 0, 0, 0x663, 0x800, 0x80000000, 0x078bfbfd);
	add(t, 0x80000000, 0, 0, 0x8000001e, 0, 0, 0);
	add(t, 0x80000001, 0, 0, 0, 0, 0x4 | (1u << 22), 0);
	add(t, 0x80000008, 0, 0, 0x3028, 0, 0x7003, 0);
	add(t, 0x8000001d, 0, sig, 0x121, 0, 0, 0);
	add(t, 0x8000001d, 1, sig, 0x163, 0, 0, 0);
	add(t, 0x8000001e, 0, 0, 5, 0x105, 0x300, 0);
}

static struct kvm_cpuid_entry2 *get(struct table *t, uint32_t fn, uint32_t idx)
{
	struct kvm_cpuid_entry2 *x = cpuid_find(t->e, t->n, fn, idx);

	assert_non_null(x);
	return x;
}

static void test_vendor_and_order(void **state)
{
	struct table t;

	intel_table(&t);
	assert_int_equal(cpuid_vendor(t.e, t.n), CPUID_VENDOR_INTEL);
	amd_table(&t);
	assert_int_equal(cpuid_vendor(t.e, t.n), CPUID_VENDOR_AMD);
	assert_int_equal(cpuid_order(1), 0);
	assert_int_equal(cpuid_order(2), 1);
	assert_int_equal(cpuid_order(3), 2);
	assert_int_equal(cpuid_order(32), 5);
	assert_int_equal(cpuid_order(33), 6);
}

static void test_leaf1(void **state)
{
	struct table t;
	struct cpuid_topo topo = { .vcpu_index = 3, .nr_vcpus = 4, .tsc_deadline = true };
	struct kvm_cpuid_entry2 *x;

	intel_table(&t);
	assert_int_equal(cpuid_normalize(t.e, &t.n, CAP, &topo), 0);
	x = get(&t, 1, 0);
	assert_int_equal(x->ebx >> 24, 3);            /* initial APIC id */
	assert_int_equal((x->ebx >> 16) & 0xff, 4);   /* logical count */
	assert_int_equal(x->ebx & 0xffff, 0x0800);    /* CLFLUSH size kept */
	assert_true(x->edx & (1u << 28));             /* HTT */
	assert_true(x->ecx & (1u << 31));             /* hypervisor */
	assert_false(x->ecx & (1u << 5));             /* no VMX */
	assert_true(x->ecx & (1u << 24));             /* TSC deadline */
	assert_true(x->edx & (1u << 9));              /* APIC kept */
}

static void test_single_vcpu_no_htt(void **state)
{
	struct table t;
	struct cpuid_topo topo = { .vcpu_index = 0, .nr_vcpus = 1 };

	intel_table(&t);
	get(&t, 1, 0)->edx |= 1u << 28;
	assert_int_equal(cpuid_normalize(t.e, &t.n, CAP, &topo), 0);
	assert_false(get(&t, 1, 0)->edx & (1u << 28));
	assert_int_equal((get(&t, 1, 0)->ebx >> 16) & 0xff, 1);
	assert_false(get(&t, 1, 0)->ecx & (1u << 24)); /* no TSC deadline unless KVM has it */
}

static void test_pmu_zeroed_kvm_leaves_kept(void **state)
{
	struct table t;
	struct cpuid_topo topo = { .vcpu_index = 0, .nr_vcpus = 2 };
	struct kvm_cpuid_entry2 *x;

	intel_table(&t);
	assert_int_equal(cpuid_normalize(t.e, &t.n, CAP, &topo), 0);
	x = get(&t, 0xa, 0);
	assert_int_equal(x->eax | x->ebx | x->ecx | x->edx, 0);
	x = get(&t, 0x40000000, 0);
	assert_int_equal(x->ebx, 0x4b4d564b);         /* "KVMK" */
	assert_int_equal(x->eax, 0x40000001);
}

static void test_leaf4_cache_sharing(void **state)
{
	struct table t;
	struct cpuid_topo topo = { .vcpu_index = 1, .nr_vcpus = 6 };

	intel_table(&t);
	assert_int_equal(cpuid_normalize(t.e, &t.n, CAP, &topo), 0);
	for (uint32_t i = 0; i < 4; i++) {
		uint32_t eax = get(&t, 4, i)->eax;
		uint32_t level = (eax >> 5) & 7;

		assert_int_equal(eax >> 26, 5);                        /* cores - 1 */
		assert_int_equal((eax >> 14) & 0xfff, level == 3 ? 5 : 0);
		assert_int_equal(eax & 0x3fff, get(&t, 4, i)->eax & 0x3fff);
	}
	assert_int_equal(get(&t, 4, 4)->eax, 0);                       /* terminator untouched */
}

static void test_leaf_b_topology(void **state)
{
	struct table t;
	struct cpuid_topo topo = { .vcpu_index = 5, .nr_vcpus = 8 };
	struct kvm_cpuid_entry2 *x;

	intel_table(&t);
	assert_int_equal(cpuid_normalize(t.e, &t.n, CAP, &topo), 0);
	x = get(&t, 0xb, 0);
	assert_int_equal(x->eax, 0);
	assert_int_equal(x->ebx, 1);
	assert_int_equal(x->ecx, 0x100);
	assert_int_equal(x->edx, 5);
	x = get(&t, 0xb, 1);
	assert_int_equal(x->eax, 3);
	assert_int_equal(x->ebx, 8);
	assert_int_equal(x->ecx, 0x201);
	assert_int_equal(x->edx, 5);
	x = get(&t, 0xb, 2);                       /* appended terminator */
	assert_int_equal(x->ecx & 0xff00, 0);
	assert_int_equal(x->ebx, 0);
	assert_true(x->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX);
	for (unsigned int i = 0; i < t.n; i++)
		assert_false(t.e[i].function == 0xb && t.e[i].index >= 3);
	/* Leaf 0x1f is absent on this table and must stay absent. */
	for (unsigned int i = 0; i < t.n; i++)
		assert_int_not_equal(t.e[i].function, 0x1f);
}

static void test_leaf_1f_when_present(void **state)
{
	struct table t;
	struct cpuid_topo topo = { .vcpu_index = 0, .nr_vcpus = 3 };

	intel_table(&t);
	t.e[0].eax = 0x1f;
	add(&t, 0x1f, 0, KVM_CPUID_FLAG_SIGNIFCANT_INDEX, 1, 2, 0x100, 0);
	assert_int_equal(cpuid_normalize(t.e, &t.n, CAP, &topo), 0);
	assert_int_equal(get(&t, 0x1f, 1)->ebx, 3);
	assert_int_equal(get(&t, 0x1f, 1)->eax, 2);
	assert_int_equal(get(&t, 0x1f, 0)->ebx, 1);
}

static void test_amd_topology(void **state)
{
	struct table t;
	struct cpuid_topo topo = { .vcpu_index = 2, .nr_vcpus = 4 };
	struct kvm_cpuid_entry2 *x;

	amd_table(&t);
	assert_int_equal(cpuid_normalize(t.e, &t.n, CAP, &topo), 0);
	x = get(&t, 0x80000001, 0);
	assert_true(x->ecx & (1u << 1));   /* CmpLegacy */
	assert_false(x->ecx & (1u << 2));  /* no SVM */
	x = get(&t, 0x80000008, 0);
	assert_int_equal(x->ecx & 0xff, 3);
	assert_int_equal((x->ecx >> 12) & 0xf, 2);
	x = get(&t, 0x8000001e, 0);
	assert_int_equal(x->eax, 2);
	assert_int_equal(x->ebx, 2);
	assert_int_equal(x->ecx, 0);
	assert_int_equal((get(&t, 0x8000001d, 0)->eax >> 14) & 0xfff, 0);
	assert_int_equal((get(&t, 0x8000001d, 1)->eax >> 14) & 0xfff, 3);
	x = get(&t, 1, 0);
	assert_int_equal(x->ebx >> 24, 2);
	assert_true(x->ecx & (1u << 31));
}

static void test_bad_topology_and_no_space(void **state)
{
	struct table t;
	struct cpuid_topo bad = { .vcpu_index = 4, .nr_vcpus = 4 };
	struct cpuid_topo none = { .vcpu_index = 0, .nr_vcpus = 0 };
	struct cpuid_topo ok = { .vcpu_index = 0, .nr_vcpus = 2 };
	unsigned int n;

	intel_table(&t);
	assert_int_equal(cpuid_normalize(t.e, &t.n, CAP, &bad), -EINVAL);
	assert_int_equal(cpuid_normalize(t.e, &t.n, CAP, &none), -EINVAL);
	n = t.n;
	/* Subleaf 2 of leaf 0xb must be appended: no room. */
	assert_int_equal(cpuid_normalize(t.e, &n, n, &ok), -ENOSPC);
}

static void test_32_vcpus(void **state)
{
	struct table t;

	for (unsigned int i = 0; i < 32; i++) {
		struct cpuid_topo topo = { .vcpu_index = i, .nr_vcpus = 32 };

		intel_table(&t);
		assert_int_equal(cpuid_normalize(t.e, &t.n, CAP, &topo), 0);
		assert_int_equal(get(&t, 1, 0)->ebx >> 24, i);
		assert_int_equal(get(&t, 0xb, 1)->eax, 5);
		assert_int_equal(get(&t, 0xb, 1)->ebx, 32);
		assert_int_equal(get(&t, 0xb, 0)->edx, i);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vendor_and_order),
		cmocka_unit_test(test_leaf1),
		cmocka_unit_test(test_single_vcpu_no_htt),
		cmocka_unit_test(test_pmu_zeroed_kvm_leaves_kept),
		cmocka_unit_test(test_leaf4_cache_sharing),
		cmocka_unit_test(test_leaf_b_topology),
		cmocka_unit_test(test_leaf_1f_when_present),
		cmocka_unit_test(test_amd_topology),
		cmocka_unit_test(test_bad_topology_and_no_space),
		cmocka_unit_test(test_32_vcpus),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
