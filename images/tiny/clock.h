/* images/tiny/clock.h - microseconds for timers and /burn, without
 * interrupts: haneul's PV CLOCK port when present, else KVM's pvclock
 * (kvmclock MSR, what QEMU offers), else the raw TSC at a guessed rate. */
#ifndef IMAGES_TINY_CLOCK_H
#define IMAGES_TINY_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

enum tclock_src { TCLOCK_PV = 0, TCLOCK_KVM, TCLOCK_TSC };

struct pvclock_info;

struct tclock {
	enum tclock_src src;
	volatile struct pvclock_info *kvm; /* TCLOCK_KVM: 32 bytes the hypervisor updates */
	uint64_t tsc0;                     /* TCLOCK_TSC: TSC at init */
};

/* pv: haneul PV ports present.  kvm_page: 32 bytes of guest memory, 4-byte
 * aligned, not crossing a page, reserved for the kvmclock structure. */
void tclock_init(struct tclock *c, bool pv, void *kvm_page);
uint64_t tclock_us(const struct tclock *c);
const char *tclock_name(const struct tclock *c);

#endif
