/* vmm/cpuid.c - CPUID normalization (see cpuid.h).  The leaf layouts follow
 * the Intel SDM vol. 2A "CPUID" and AMD APM vol. 3 appendix E; the choices
 * match what Firecracker's and QEMU's x86 CPUID code present to Linux. */
#include "vmm/cpuid.h"

#include <errno.h>
#include <string.h>

#define LEAF1_ECX_VMX        (1u << 5)
#define LEAF1_ECX_TSC_DL     (1u << 24)
#define LEAF1_ECX_HYPERVISOR (1u << 31)
#define LEAF1_EDX_HTT        (1u << 28)
#define EXT1_ECX_CMP_LEGACY  (1u << 1)
#define EXT1_ECX_SVM         (1u << 2)
#define EXT1_ECX_TOPOEXT     (1u << 22)

struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid_entry2 *e, unsigned int nent,
				    uint32_t function, uint32_t index)
{
	for (unsigned int i = 0; i < nent; i++) {
		if (e[i].function != function)
			continue;
		if ((e[i].flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) && e[i].index != index)
			continue;
		return &e[i];
	}
	return NULL;
}

enum cpuid_vendor cpuid_vendor(struct kvm_cpuid_entry2 *e, unsigned int nent)
{
	struct kvm_cpuid_entry2 *l0 = cpuid_find(e, nent, 0, 0);
	char v[13];

	if (!l0)
		return CPUID_VENDOR_OTHER;
	memcpy(v, &l0->ebx, 4);
	memcpy(v + 4, &l0->edx, 4);
	memcpy(v + 8, &l0->ecx, 4);
	v[12] = '\0';
	if (!strcmp(v, "GenuineIntel"))
		return CPUID_VENDOR_INTEL;
	if (!strcmp(v, "AuthenticAMD") || !strcmp(v, "HygonGenuine"))
		return CPUID_VENDOR_AMD;
	return CPUID_VENDOR_OTHER;
}

unsigned int cpuid_order(unsigned int n)
{
	unsigned int s = 0;

	while ((1u << s) < n)
		s++;
	return s;
}

static uint32_t max_leaf(struct kvm_cpuid_entry2 *e, unsigned int nent, uint32_t base)
{
	struct kvm_cpuid_entry2 *l = cpuid_find(e, nent, base, 0);

	return l ? l->eax : 0;
}

/* Entry for (function, index) with a significant index, appended if absent. */
static struct kvm_cpuid_entry2 *get_indexed(struct kvm_cpuid_entry2 *e, unsigned int *nent,
					    unsigned int cap, uint32_t function, uint32_t index)
{
	for (unsigned int i = 0; i < *nent; i++)
		if (e[i].function == function && e[i].index == index)
			return &e[i];
	if (*nent >= cap)
		return NULL;
	memset(&e[*nent], 0, sizeof(e[0]));
	e[*nent].function = function;
	e[*nent].index = index;
	return &e[(*nent)++];
}

/* Leaf 0xb / 0x1f: level 0 = SMT (1 thread per core), level 1 = core
 * (nr_vcpus cores), level 2 = invalid, terminating the enumeration. */
static int set_ext_topology(struct kvm_cpuid_entry2 *e, unsigned int *nent, unsigned int cap,
			    uint32_t leaf, const struct cpuid_topo *t)
{
	for (uint32_t sub = 0; sub < 3; sub++) {
		struct kvm_cpuid_entry2 *x = get_indexed(e, nent, cap, leaf, sub);

		if (!x)
			return -ENOSPC;
		x->flags |= KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
		x->edx = t->vcpu_index;
		switch (sub) {
		case 0:
			x->eax = 0;              /* no SMT bits in the APIC id */
			x->ebx = 1;
			x->ecx = (1u << 8) | sub; /* type 1: SMT */
			break;
		case 1:
			x->eax = cpuid_order(t->nr_vcpus);
			x->ebx = t->nr_vcpus;
			x->ecx = (2u << 8) | sub; /* type 2: core */
			break;
		default:
			x->eax = 0;
			x->ebx = 0;
			x->ecx = sub;             /* type 0: invalid */
			break;
		}
	}
	/* Drop higher subleaves KVM may have passed through from the host. */
	for (unsigned int i = 0; i < *nent;) {
		if (e[i].function == leaf && e[i].index >= 3) {
			e[i] = e[--(*nent)];
			continue;
		}
		i++;
	}
	return 0;
}

/* Deterministic cache parameters (Intel leaf 4, AMD leaf 0x8000001d): EAX
 * bits 25:14 = logical CPUs sharing the cache - 1; leaf 4 also has bits
 * 31:26 = cores per package - 1. */
static void set_cache_sharing(struct kvm_cpuid_entry2 *e, unsigned int nent, uint32_t leaf,
			      const struct cpuid_topo *t)
{
	for (unsigned int i = 0; i < nent; i++) {
		uint32_t level, sharing;

		if (e[i].function != leaf || (e[i].eax & 0x1f) == 0)
			continue;
		level = (e[i].eax >> 5) & 7;
		sharing = level >= 3 ? t->nr_vcpus - 1 : 0;
		e[i].eax &= ~(0xfffu << 14);
		e[i].eax |= (sharing & 0xfff) << 14;
		if (leaf == 4) {
			e[i].eax &= ~(0x3fu << 26);
			e[i].eax |= ((t->nr_vcpus - 1) & 0x3f) << 26;
		}
	}
}

int cpuid_normalize(struct kvm_cpuid_entry2 *e, unsigned int *nent,
		    unsigned int cap, const struct cpuid_topo *t)
{
	enum cpuid_vendor vendor;
	struct kvm_cpuid_entry2 *x;
	uint32_t maxb, maxe;
	int r;

	if (!t->nr_vcpus || t->nr_vcpus > 255 || t->vcpu_index >= t->nr_vcpus || *nent > cap)
		return -EINVAL;
	vendor = cpuid_vendor(e, *nent);
	maxb = max_leaf(e, *nent, 0);
	maxe = max_leaf(e, *nent, 0x80000000);

	x = cpuid_find(e, *nent, 1, 0);
	if (x) {
		x->ebx &= 0x0000ffff;
		x->ebx |= t->vcpu_index << 24;       /* initial APIC id */
		x->ebx |= (t->nr_vcpus & 0xff) << 16; /* logical processors per package */
		if (t->nr_vcpus > 1)
			x->edx |= LEAF1_EDX_HTT;
		else
			x->edx &= ~LEAF1_EDX_HTT;
		x->ecx |= LEAF1_ECX_HYPERVISOR;
		x->ecx &= ~LEAF1_ECX_VMX;
		if (t->tsc_deadline)
			x->ecx |= LEAF1_ECX_TSC_DL;
	}
	if (maxb >= 4)
		set_cache_sharing(e, *nent, 4, t);
	/* No architectural PMU: a guest kernel must not program counters KVM
	 * may not virtualize (and they would leak host activity). */
	x = cpuid_find(e, *nent, 0xa, 0);
	if (x)
		x->eax = x->ebx = x->ecx = x->edx = 0;
	if (maxb >= 0xb) {
		r = set_ext_topology(e, nent, cap, 0xb, t);
		if (r)
			return r;
	}
	if (maxb >= 0x1f && cpuid_find(e, *nent, 0x1f, 0)) {
		r = set_ext_topology(e, nent, cap, 0x1f, t);
		if (r)
			return r;
	}

	x = cpuid_find(e, *nent, 0x80000001, 0);
	if (x) {
		x->ecx &= ~EXT1_ECX_SVM;
		if (vendor == CPUID_VENDOR_AMD) {
			if (t->nr_vcpus > 1)
				x->ecx |= EXT1_ECX_CMP_LEGACY;
			else
				x->ecx &= ~EXT1_ECX_CMP_LEGACY;
		}
	}
	if (vendor == CPUID_VENDOR_AMD) {
		x = maxe >= 0x80000008 ? cpuid_find(e, *nent, 0x80000008, 0) : NULL;
		if (x) {
			/* NC = cores - 1, ApicIdCoreIdSize = bits of core id. */
			x->ecx &= ~0xf0ffu;
			x->ecx |= (t->nr_vcpus - 1) & 0xff;
			x->ecx |= cpuid_order(t->nr_vcpus) << 12;
		}
		if (maxe >= 0x8000001d)
			set_cache_sharing(e, *nent, 0x8000001d, t);
		x = maxe >= 0x8000001e ? cpuid_find(e, *nent, 0x8000001e, 0) : NULL;
		if (x) {
			x->eax = t->vcpu_index;           /* extended APIC id */
			x->ebx = t->vcpu_index & 0xff;    /* core id, 1 thread per core */
			x->ecx = 0;                       /* node 0, one node */
			x->edx = 0;
		}
	}
	return 0;
}
