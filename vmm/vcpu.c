/* vmm/vcpu.c - vCPU creation and boot state (see vcpu.h).  The boot MSR set,
 * LAPIC LINT setup and FPU defaults follow Firecracker's arch/x86_64
 * (regs.rs, msr.rs, interrupts.rs) and what a PC BIOS leaves behind. */
#include "vmm/vcpu.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common/log.h"
#include "vmm/cpuid.h"

#define MSR_IA32_TSC            0x00000010
#define MSR_IA32_SYSENTER_CS    0x00000174
#define MSR_IA32_SYSENTER_ESP   0x00000175
#define MSR_IA32_SYSENTER_EIP   0x00000176
#define MSR_IA32_MISC_ENABLE    0x000001a0
#define MSR_MTRR_DEF_TYPE       0x000002ff
#define MSR_STAR                0xc0000081
#define MSR_LSTAR               0xc0000082
#define MSR_CSTAR               0xc0000083
#define MSR_SYSCALL_MASK        0xc0000084
#define MSR_KERNEL_GS_BASE      0xc0000102

#define MISC_ENABLE_FAST_STRING 0x1
#define MTRR_ENABLE             0x800
#define MTRR_TYPE_WB            0x6

#define APIC_LVT0               0x350
#define APIC_LVT1               0x360
#define APIC_MODE_NMI           0x4
#define APIC_MODE_EXTINT        0x7

static const char *const exit_names[VCPU_EXIT_REASONS] = {
	[KVM_EXIT_UNKNOWN] = "unknown",
	[KVM_EXIT_EXCEPTION] = "exception",
	[KVM_EXIT_IO] = "io",
	[KVM_EXIT_HYPERCALL] = "hypercall",
	[KVM_EXIT_DEBUG] = "debug",
	[KVM_EXIT_HLT] = "hlt",
	[KVM_EXIT_MMIO] = "mmio",
	[KVM_EXIT_IRQ_WINDOW_OPEN] = "irq_window_open",
	[KVM_EXIT_SHUTDOWN] = "shutdown",
	[KVM_EXIT_FAIL_ENTRY] = "fail_entry",
	[KVM_EXIT_INTR] = "intr",
	[KVM_EXIT_SET_TPR] = "set_tpr",
	[KVM_EXIT_TPR_ACCESS] = "tpr_access",
	[KVM_EXIT_NMI] = "nmi",
	[KVM_EXIT_INTERNAL_ERROR] = "internal_error",
	[KVM_EXIT_SYSTEM_EVENT] = "system_event",
	[KVM_EXIT_IOAPIC_EOI] = "ioapic_eoi",
	[KVM_EXIT_HYPERV] = "hyperv",
	[KVM_EXIT_X86_RDMSR] = "rdmsr",
	[KVM_EXIT_X86_WRMSR] = "wrmsr",
	[KVM_EXIT_DIRTY_RING_FULL] = "dirty_ring_full",
	[KVM_EXIT_X86_BUS_LOCK] = "bus_lock",
};

const char *vcpu_exit_name(unsigned int reason)
{
	if (reason == VCPU_EXIT_EINTR)
		return "kick";
	return reason < VCPU_EXIT_REASONS ? exit_names[reason] : NULL;
}

static int vio(struct kvm *k, int fd, unsigned long req, void *arg)
{
	int r = k->ops->ioctl(fd, req, arg);

	return r < 0 ? -errno : r;
}

static bool msr_known(const struct kvm_msr_list *l, uint32_t idx)
{
	if (!l)
		return true;
	for (uint32_t i = 0; i < l->nmsrs; i++)
		if (l->indices[i] == idx)
			return true;
	return false;
}

static int set_boot_msrs(struct vcpu *v, struct kvm *k, const struct vcpu_setup *s)
{
	static const struct { uint32_t index; uint64_t data; } boot[] = {
		{ MSR_IA32_SYSENTER_CS, 0 }, { MSR_IA32_SYSENTER_ESP, 0 },
		{ MSR_IA32_SYSENTER_EIP, 0 }, { MSR_STAR, 0 }, { MSR_CSTAR, 0 },
		{ MSR_KERNEL_GS_BASE, 0 }, { MSR_SYSCALL_MASK, 0 }, { MSR_LSTAR, 0 },
		{ MSR_IA32_TSC, 0 },
		{ MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING },
		/* Everything write-back unless the guest programs MTRRs itself. */
		{ MSR_MTRR_DEF_TYPE, MTRR_ENABLE | MTRR_TYPE_WB },
	};
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[sizeof(boot) / sizeof(boot[0])];
	} m;
	int r;

	memset(&m, 0, sizeof(m));
	for (size_t i = 0; i < sizeof(boot) / sizeof(boot[0]); i++) {
		if (!msr_known(s->msr_list, boot[i].index)) {
			log_debug("vcpu %u: KVM does not list MSR 0x%x; not set", v->index, boot[i].index);
			continue;
		}
		m.e[m.hdr.nmsrs].index = boot[i].index;
		m.e[m.hdr.nmsrs].data = boot[i].data;
		m.hdr.nmsrs++;
	}
	r = vio(k, v->fd, KVM_SET_MSRS, &m);
	if (r < 0)
		return r;
	if ((uint32_t)r != m.hdr.nmsrs) {
		log_warn("vcpu %u: KVM_SET_MSRS set %d of %u boot MSRs (first refused: 0x%x)",
			 v->index, r, m.hdr.nmsrs, m.e[r].index);
	}
	return 0;
}

static int set_lapic_lints(struct vcpu *v, struct kvm *k)
{
	struct kvm_lapic_state la;
	uint32_t reg;
	int r;

	r = vio(k, v->fd, KVM_GET_LAPIC, &la);
	if (r < 0)
		return r;
	/* LINT0 = ExtINT (the 8259 behind it), LINT1 = NMI, as a BIOS sets
	 * them for virtual-wire mode (Intel MP spec 3.6.2.2). */
	memcpy(&reg, &la.regs[APIC_LVT0], 4);
	reg = (reg & ~0x700u) | (APIC_MODE_EXTINT << 8);
	memcpy(&la.regs[APIC_LVT0], &reg, 4);
	memcpy(&reg, &la.regs[APIC_LVT1], 4);
	reg = (reg & ~0x700u) | (APIC_MODE_NMI << 8);
	memcpy(&la.regs[APIC_LVT1], &reg, 4);
	return vio(k, v->fd, KVM_SET_LAPIC, &la);
}

static int set_cpuid(struct vcpu *v, struct kvm *k, const struct vcpu_setup *s)
{
	unsigned int cap = s->cpuid->nent + CPUID_EXTRA_ENTRIES;
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + cap * sizeof(c->entries[0]));
	struct cpuid_topo t = { .vcpu_index = v->index, .nr_vcpus = s->nr_vcpus,
				.tsc_deadline = s->tsc_deadline };
	unsigned int nent = s->cpuid->nent;
	int r;

	if (!c)
		return -ENOMEM;
	memcpy(c->entries, s->cpuid->entries, nent * sizeof(c->entries[0]));
	r = cpuid_normalize(c->entries, &nent, cap, &t);
	if (r == 0) {
		c->nent = nent;
		r = vio(k, v->fd, KVM_SET_CPUID2, c);
	}
	free(c);
	return r;
}

static int set_bsp_regs(struct vcpu *v, struct kvm *k, const struct vcpu_setup *s)
{
	struct kvm_sregs sr, dflt;
	struct kvm_regs regs = *s->bsp_regs;
	int r;

	r = vio(k, v->fd, KVM_GET_SREGS, &dflt);
	if (r < 0)
		return r;
	/* Segments, descriptor tables and control registers come from the
	 * loader; the APIC base and pending interrupts stay KVM's. */
	sr = *s->bsp_sregs;
	sr.apic_base = dflt.apic_base;
	sr.cr8 = dflt.cr8;
	memcpy(sr.interrupt_bitmap, dflt.interrupt_bitmap, sizeof(sr.interrupt_bitmap));
	r = vio(k, v->fd, KVM_SET_SREGS, &sr);
	if (r < 0)
		return r;
	if (!(regs.rflags & 2))
		regs.rflags |= 2; /* reserved bit 1 is always set */
	return vio(k, v->fd, KVM_SET_REGS, &regs);
}

int vcpu_create(struct vcpu *v, struct kvm *k, unsigned int index, const struct vcpu_setup *s,
		char *err, size_t errlen)
{
	struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };
	struct kvm_mp_state mp;
	const char *step;
	void *p;
	int r;

	memset(v, 0, sizeof(*v));
	v->fd = -1;
	v->index = index;
	step = "KVM_CREATE_VCPU";
	r = vio(k, k->vm_fd, KVM_CREATE_VCPU, (void *)(uintptr_t)index);
	if (r < 0)
		goto fail;
	v->fd = r;
	step = "mmap kvm_run";
	p = mmap(NULL, (size_t)k->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (p == MAP_FAILED) {
		r = -errno;
		goto fail;
	}
	v->run = p;
	v->run_size = (size_t)k->run_size;
	step = "KVM_SET_CPUID2";
	r = set_cpuid(v, k, s);
	if (r < 0)
		goto fail;
	step = "KVM_SET_MSRS";
	r = set_boot_msrs(v, k, s);
	if (r < 0)
		goto fail;
	step = "KVM_SET_FPU";
	r = vio(k, v->fd, KVM_SET_FPU, &fpu);
	if (r < 0)
		goto fail;
	step = "KVM_GET/SET_LAPIC";
	r = set_lapic_lints(v, k);
	if (r < 0)
		goto fail;
	if (index == 0) {
		step = "boot registers";
		r = set_bsp_regs(v, k, s);
		if (r < 0)
			goto fail;
		mp.mp_state = KVM_MP_STATE_RUNNABLE;
	} else {
		/* Wait in the in-kernel LAPIC for the guest's INIT/SIPI. */
		mp.mp_state = KVM_MP_STATE_UNINITIALIZED;
	}
	step = "KVM_SET_MP_STATE";
	r = vio(k, v->fd, KVM_SET_MP_STATE, &mp);
	if (r < 0)
		goto fail;
	return 0;

fail:
	snprintf(err, errlen, "vcpu %u: %s: %s", index, step, strerror(-r));
	return r;
}

void vcpu_destroy(struct vcpu *v, struct kvm *k)
{
	if (v->run)
		munmap(v->run, v->run_size);
	v->run = NULL;
	if (v->fd >= 0)
		k->ops->close(v->fd);
	v->fd = -1;
}

void vcpu_log_state(struct vcpu *v, struct kvm *k)
{
	struct kvm_regs r;
	struct kvm_sregs s;

	if (vio(k, v->fd, KVM_GET_REGS, &r) < 0 || vio(k, v->fd, KVM_GET_SREGS, &s) < 0) {
		log_err("vcpu %u: cannot read registers: %s", v->index, strerror(errno));
		return;
	}
	log_err("vcpu %u: rip=%016llx rsp=%016llx rflags=%016llx", v->index, r.rip, r.rsp, r.rflags);
	log_err("vcpu %u: rax=%016llx rbx=%016llx rcx=%016llx rdx=%016llx", v->index,
		r.rax, r.rbx, r.rcx, r.rdx);
	log_err("vcpu %u: rsi=%016llx rdi=%016llx rbp=%016llx r8=%016llx", v->index,
		r.rsi, r.rdi, r.rbp, r.r8);
	log_err("vcpu %u: cs=%04x/%016llx ss=%04x ds=%04x cr0=%016llx cr3=%016llx cr4=%016llx efer=%llx",
		v->index, s.cs.selector, s.cs.base, s.ss.selector, s.ds.selector, s.cr0, s.cr3,
		s.cr4, s.efer);
}
