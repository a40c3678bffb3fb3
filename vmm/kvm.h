/* vmm/kvm.h - the KVM system and VM file descriptors: opening /dev/kvm,
 * checking the API version and every capability haneul-vmm relies on,
 * creating the VM with its in-kernel irqchip and PIT, and the memory slots.
 *
 * Every ioctl/open goes through `struct kvm_ops` so unit tests can inject
 * failures (tests/unit/test_kvm.c); production code passes kvm_sys_ops().
 */
#ifndef VMM_KVM_H
#define VMM_KVM_H

#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>

#include "vmm/mem.h"

struct kvm_ops {
	int (*open)(const char *path, int flags);
	int (*ioctl)(int fd, unsigned long req, void *arg); /* returns -1 + errno like ioctl(2) */
	int (*close)(int fd);
};

/* The real system calls. */
const struct kvm_ops *kvm_sys_ops(void);

struct kvm {
	const struct kvm_ops *ops;
	int sys_fd;              /* /dev/kvm, -1 when closed */
	int vm_fd;               /* -1 when no VM */
	int run_size;            /* KVM_GET_VCPU_MMAP_SIZE */
	int max_vcpus;           /* KVM_CAP_MAX_VCPUS (or NR_VCPUS) */
	int tsc_deadline;        /* KVM_CAP_TSC_DEADLINE_TIMER */
};

/* A capability the VMM cannot work without, and why. Constant table. */
struct kvm_cap_req {
	int cap;
	const char *name;
	const char *why;
};
extern const struct kvm_cap_req kvm_required_caps[];
extern const size_t kvm_nr_required_caps;

/* Open `path` (normally "/dev/kvm"), check KVM_GET_API_VERSION == 12 and
 * every capability in kvm_required_caps.  On failure returns -errno and writes
 * one human line into err (e.g. "/dev/kvm: no such device: is the kvm module
 * loaded?").  kvm_close() undoes it. */
int kvm_open(struct kvm *k, const struct kvm_ops *ops, const char *path,
	     char *err, size_t errlen);

/* Create the VM: TSS and identity-map addresses (vmm/platform.h), in-kernel
 * IRQ chip, PIT2 with a dummy speaker, one memory slot per region of gm.
 * Returns 0 or -errno with err filled.  kvm_destroy_vm() undoes it. */
int kvm_create_vm(struct kvm *k, const struct guest_mem *gm, char *err, size_t errlen);
void kvm_destroy_vm(struct kvm *k);
void kvm_close(struct kvm *k);

/* Drive an ISA IRQ line of the in-kernel PIC/IOAPIC (level 0 or 1). */
int kvm_irq_line(struct kvm *k, unsigned int irq, int level);

/* The supported CPUID table.  On success *out is a malloc'd struct (caller
 * frees) with room for `extra` more entries beyond nent. */
int kvm_supported_cpuid(struct kvm *k, unsigned int extra, struct kvm_cpuid2 **out);

/* The MSR indices KVM can save/restore (KVM_GET_MSR_INDEX_LIST); malloc'd,
 * caller frees. */
int kvm_msr_index_list(struct kvm *k, struct kvm_msr_list **out);

#endif
