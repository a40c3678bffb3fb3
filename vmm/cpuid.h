/* vmm/cpuid.h - turning KVM_GET_SUPPORTED_CPUID into the CPUID one vCPU sees.
 * Pure functions (no ioctls), unit-tested in tests/unit/test_cpuid.c.
 *
 * Topology presented: one socket, `nr_vcpus` cores, one thread per core,
 * APIC id = vCPU index.  Also: hypervisor bit set, KVM signature leaves kept,
 * no architectural PMU (leaf 0xa zeroed), no nested virtualization (VMX/SVM
 * cleared), TSC-deadline timer advertised when KVM supports it.
 */
#ifndef VMM_CPUID_H
#define VMM_CPUID_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/kvm.h>

struct cpuid_topo {
	unsigned int vcpu_index;   /* 0..nr_vcpus-1, also the APIC id */
	unsigned int nr_vcpus;     /* 1..32 */
	bool tsc_deadline;         /* KVM_CAP_TSC_DEADLINE_TIMER */
};

enum cpuid_vendor { CPUID_VENDOR_OTHER = 0, CPUID_VENDOR_INTEL, CPUID_VENDOR_AMD };

/* Room cpuid_normalize() may need beyond the supported table's entries. */
#define CPUID_EXTRA_ENTRIES 8

/* Find the entry for (function, index); index is ignored for leaves without
 * KVM_CPUID_FLAG_SIGNIFCANT_INDEX.  NULL when absent. */
struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid_entry2 *e, unsigned int nent,
				    uint32_t function, uint32_t index);

enum cpuid_vendor cpuid_vendor(struct kvm_cpuid_entry2 *e, unsigned int nent);

/* Smallest s with (1 << s) >= n. */
unsigned int cpuid_order(unsigned int n);

/* Rewrite entries[0..*nent) in place for vCPU t->vcpu_index; may append
 * entries (leaf 0xb/0x1f subleaves) up to `cap`.  Returns 0, -EINVAL for a
 * bad topology, -ENOSPC when cap is too small. */
int cpuid_normalize(struct kvm_cpuid_entry2 *entries, unsigned int *nent,
		    unsigned int cap, const struct cpuid_topo *t);

#endif
