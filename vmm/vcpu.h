/* vmm/vcpu.h - one virtual CPU: its KVM fd and kvm_run mapping, and the
 * architectural state it starts with (CPUID, boot MSRs, LAPIC LINT0/LINT1,
 * FPU, registers for the boot vCPU; application processors wait for
 * INIT/SIPI).  The run loop itself lives in vm.c.
 */
#ifndef VMM_VCPU_H
#define VMM_VCPU_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <linux/kvm.h>

#include "vmm/kvm.h"

#define VCPU_MAX 32
#define VCPU_EXIT_REASONS 64           /* counters for KVM_EXIT_* below this */
#define VCPU_EXIT_EINTR VCPU_EXIT_REASONS /* KVM_RUN interrupted by a kick */

struct vm;

struct vcpu {
	struct vm *vm;
	unsigned int index;          /* also the APIC id */
	int fd;                      /* -1 when not created */
	struct kvm_run *run;         /* mmap of fd, run_size bytes */
	size_t run_size;
	pthread_t thread;
	bool thread_started;
	clockid_t cpu_clock;         /* the thread's CPU-time clock */
	bool has_cpu_clock;
	uint32_t clock_hi_latch;     /* PV CLOCK_HI value latched by CLOCK_LO */
	/* Written by the vCPU thread only; read racily by metrics (counters). */
	uint64_t exits[VCPU_EXIT_REASONS + 1];
};

/* What every vCPU gets at creation. */
struct vcpu_setup {
	const struct kvm_cpuid2 *cpuid;        /* KVM_GET_SUPPORTED_CPUID result */
	const struct kvm_msr_list *msr_list;   /* MSRs KVM knows, to skip unknown boot MSRs */
	unsigned int nr_vcpus;
	bool tsc_deadline;
	const struct kvm_regs *bsp_regs;       /* for index 0 */
	const struct kvm_sregs *bsp_sregs;     /* for index 0 (merged with KVM's defaults) */
};

/* Create vCPU `index` of k's VM and configure it.  Returns 0 or -errno with
 * err filled; vcpu_destroy() undoes a partial creation too. */
int vcpu_create(struct vcpu *v, struct kvm *k, unsigned int index, const struct vcpu_setup *s,
		char *err, size_t errlen);
void vcpu_destroy(struct vcpu *v, struct kvm *k);

/* A short name for KVM_EXIT_* `reason` ("io", "mmio", "shutdown", ...), or NULL. */
const char *vcpu_exit_name(unsigned int reason);

/* Log the vCPU's registers at error level (used when the guest crashes). */
void vcpu_log_state(struct vcpu *v, struct kvm *k);

#endif
