/* images/tiny/clock.c - see clock.h. */
#include "images/tiny/clock.h"
#include "images/tiny/io.h"
#include "images/tiny/util.h"
#include "vmm/platform.h"

#define KVM_CPUID_SIGNATURE   0x40000000u
#define KVM_CPUID_FEATURES    0x40000001u
#define KVM_FEATURE_CLOCKSRC2 (1u << 3)
#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01u
#define TCLOCK_TSC_GUESS_MHZ  2000u  /* no better source: timers are only approximate */
#define TCLOCK_VERSION_TRIES  16u

/* Layout fixed by KVM (struct pvclock_vcpu_time_info). */
struct pvclock_info {
	uint32_t version;
	uint32_t pad0;
	uint64_t tsc_timestamp;
	uint64_t system_time;
	uint32_t tsc_to_system_mul;
	int8_t tsc_shift;
	uint8_t flags;
	uint8_t pad[2];
} __attribute__((packed));

static void tclock_wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}

static bool tclock_have_kvmclock(void)
{
	uint32_t a, b, c, d;

	io_cpuid(KVM_CPUID_SIGNATURE, &a, &b, &c, &d);
	/* "KVMKVMKVM\0\0\0" in ebx, ecx, edx */
	if (b != 0x4b4d564bu || c != 0x564b4d56u || d != 0x4du || a < KVM_CPUID_FEATURES)
		return false;
	io_cpuid(KVM_CPUID_FEATURES, &a, &b, &c, &d);
	return (a & KVM_FEATURE_CLOCKSRC2) != 0;
}

void tclock_init(struct tclock *c, bool pv, void *kvm_page)
{
	c->kvm = NULL;
	c->tsc0 = io_rdtsc();
	if (pv) {
		c->src = TCLOCK_PV;
		return;
	}
	if (kvm_page && tclock_have_kvmclock()) {
		memset(kvm_page, 0, sizeof(struct pvclock_info));
		tclock_wrmsr(MSR_KVM_SYSTEM_TIME_NEW, (uint64_t)(uintptr_t)kvm_page | 1);
		c->kvm = kvm_page;
		/* The hypervisor fills it in before we run again. */
		if (c->kvm->tsc_to_system_mul) {
			c->src = TCLOCK_KVM;
			return;
		}
		c->kvm = NULL;
	}
	c->src = TCLOCK_TSC;
}

uint64_t tclock_us(const struct tclock *c)
{
	uint32_t lo, hi, ver;
	uint64_t delta, ns = 0;
	unsigned int i;

	switch (c->src) {
	case TCLOCK_PV:
		lo = io_inl(PLAT_PV_CLOCK_LO);
		hi = io_inl(PLAT_PV_CLOCK_HI);
		return ((uint64_t)hi << 32) | lo;
	case TCLOCK_KVM:
		for (i = 0; i < TCLOCK_VERSION_TRIES; i++) {
			ver = c->kvm->version;
			barrier();
			delta = io_rdtsc() - c->kvm->tsc_timestamp;
			if (c->kvm->tsc_shift >= 0)
				delta <<= c->kvm->tsc_shift;
			else
				delta >>= -c->kvm->tsc_shift;
			ns = c->kvm->system_time +
			     (uint64_t)(((unsigned __int128)delta * c->kvm->tsc_to_system_mul) >> 32);
			barrier();
			if (!(ver & 1) && ver == c->kvm->version)
				break;
		}
		return ns / 1000;
	case TCLOCK_TSC:
	default:
		return (io_rdtsc() - c->tsc0) / TCLOCK_TSC_GUESS_MHZ;
	}
}

const char *tclock_name(const struct tclock *c)
{
	return c->src == TCLOCK_PV ? "pv" : c->src == TCLOCK_KVM ? "kvmclock" : "tsc (guessed rate)";
}
