/* vmm/kvm.c - /dev/kvm, capability checks, VM creation, memory slots. */
#include "vmm/kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vmm/platform.h"

static int sys_open(const char *path, int flags)
{
	return open(path, flags);
}

static int sys_ioctl(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg);
}

static int sys_close(int fd)
{
	return close(fd);
}

static const struct kvm_ops kvm_real_ops = {
	.open = sys_open, .ioctl = sys_ioctl, .close = sys_close,
};

const struct kvm_ops *kvm_sys_ops(void)
{
	return &kvm_real_ops;
}

const struct kvm_cap_req kvm_required_caps[] = {
	{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP", "in-kernel PIC/IOAPIC/LAPIC" },
	{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY", "guest RAM from a host mapping" },
	{ KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR", "real-mode TSS placement" },
	{ KVM_CAP_SET_IDENTITY_MAP_ADDR, "KVM_CAP_SET_IDENTITY_MAP_ADDR", "identity map page placement" },
	{ KVM_CAP_PIT2, "KVM_CAP_PIT2", "in-kernel i8254 timer" },
	{ KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD", "device doorbells" },
	{ KVM_CAP_IRQFD, "KVM_CAP_IRQFD", "device interrupts" },
	{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID", "KVM_GET_SUPPORTED_CPUID / KVM_SET_CPUID2" },
	{ KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE", "parking application processors until SIPI" },
	{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT", "kicking vCPUs out of KVM_RUN" },
	{ KVM_CAP_SIGNAL_MSI, "KVM_CAP_SIGNAL_MSI", "message-signalled interrupts" },
};
const size_t kvm_nr_required_caps = sizeof(kvm_required_caps) / sizeof(kvm_required_caps[0]);

static int kio(struct kvm *k, int fd, unsigned long req, void *arg)
{
	int r = k->ops->ioctl(fd, req, arg);

	return r < 0 ? -errno : r;
}

static int check_ext(struct kvm *k, int cap)
{
	return kio(k, k->sys_fd, KVM_CHECK_EXTENSION, (void *)(uintptr_t)cap);
}

int kvm_open(struct kvm *k, const struct kvm_ops *ops, const char *path,
	     char *err, size_t errlen)
{
	int r;

	memset(k, 0, sizeof(*k));
	k->ops = ops ? ops : &kvm_real_ops;
	k->vm_fd = -1;
	k->sys_fd = k->ops->open(path, O_RDWR | O_CLOEXEC);
	if (k->sys_fd < 0) {
		r = -errno;
		if (r == -ENOENT || r == -ENODEV || r == -ENXIO)
			snprintf(err, errlen, "%s: %s: is the kvm module loaded and the CPU's virtualization enabled?",
				 path, strerror(-r));
		else if (r == -EACCES || r == -EPERM)
			snprintf(err, errlen, "%s: %s: run as root or join the group that owns %s (usually 'kvm')",
				 path, strerror(-r), path);
		else
			snprintf(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	r = kio(k, k->sys_fd, KVM_GET_API_VERSION, NULL);
	if (r < 0) {
		snprintf(err, errlen, "%s: KVM_GET_API_VERSION failed: %s", path, strerror(-r));
		goto close_sys;
	}
	if (r != KVM_API_VERSION) {
		snprintf(err, errlen, "%s: KVM API version %d, need %d", path, r, KVM_API_VERSION);
		r = -ENOTSUP;
		goto close_sys;
	}
	for (size_t i = 0; i < kvm_nr_required_caps; i++) {
		r = check_ext(k, kvm_required_caps[i].cap);
		if (r <= 0) {
			snprintf(err, errlen, "%s: missing capability %s (needed for %s)",
				 path, kvm_required_caps[i].name, kvm_required_caps[i].why);
			r = -ENOTSUP;
			goto close_sys;
		}
	}
	r = kio(k, k->sys_fd, KVM_GET_VCPU_MMAP_SIZE, NULL);
	if (r < (int)sizeof(struct kvm_run)) {
		snprintf(err, errlen, "%s: KVM_GET_VCPU_MMAP_SIZE: bad size %d", path, r);
		r = r < 0 ? r : -EINVAL;
		goto close_sys;
	}
	k->run_size = r;
	r = check_ext(k, KVM_CAP_MAX_VCPUS);
	if (r <= 0)
		r = check_ext(k, KVM_CAP_NR_VCPUS);
	k->max_vcpus = r > 0 ? r : 4; /* KVM's documented default when unreported */
	k->tsc_deadline = check_ext(k, KVM_CAP_TSC_DEADLINE_TIMER) > 0;
	return 0;

close_sys:
	k->ops->close(k->sys_fd);
	k->sys_fd = -1;
	return r;
}

int kvm_create_vm(struct kvm *k, const struct guest_mem *gm, char *err, size_t errlen)
{
	uint64_t ident = PLAT_IDENTITY_MAP;
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	int r;

	r = kio(k, k->sys_fd, KVM_CREATE_VM, NULL);
	if (r < 0) {
		snprintf(err, errlen, "KVM_CREATE_VM: %s", strerror(-r));
		return r;
	}
	k->vm_fd = r;
	/* Both must precede vCPU creation (Intel real-mode emulation needs them). */
	r = kio(k, k->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &ident);
	if (r < 0) {
		snprintf(err, errlen, "KVM_SET_IDENTITY_MAP_ADDR: %s", strerror(-r));
		goto destroy;
	}
	r = kio(k, k->vm_fd, KVM_SET_TSS_ADDR, (void *)(uintptr_t)PLAT_TSS_ADDR);
	if (r < 0) {
		snprintf(err, errlen, "KVM_SET_TSS_ADDR: %s", strerror(-r));
		goto destroy;
	}
	r = kio(k, k->vm_fd, KVM_CREATE_IRQCHIP, NULL);
	if (r < 0) {
		snprintf(err, errlen, "KVM_CREATE_IRQCHIP: %s", strerror(-r));
		goto destroy;
	}
	r = kio(k, k->vm_fd, KVM_CREATE_PIT2, &pit);
	if (r < 0) {
		snprintf(err, errlen, "KVM_CREATE_PIT2: %s", strerror(-r));
		goto destroy;
	}
	for (unsigned int i = 0; i < gm->nr_regions; i++) {
		struct kvm_userspace_memory_region mr = {
			.slot = i,
			.guest_phys_addr = gm->regions[i].gpa,
			.memory_size = gm->regions[i].size,
			.userspace_addr = (uint64_t)(uintptr_t)gm->regions[i].hva,
		};

		r = kio(k, k->vm_fd, KVM_SET_USER_MEMORY_REGION, &mr);
		if (r < 0) {
			snprintf(err, errlen, "KVM_SET_USER_MEMORY_REGION slot %u (0x%llx+0x%llx): %s", i,
				 (unsigned long long)mr.guest_phys_addr,
				 (unsigned long long)mr.memory_size, strerror(-r));
			goto destroy;
		}
	}
	return 0;

destroy:
	kvm_destroy_vm(k);
	return r;
}

void kvm_destroy_vm(struct kvm *k)
{
	if (k->vm_fd >= 0)
		k->ops->close(k->vm_fd);
	k->vm_fd = -1;
}

void kvm_close(struct kvm *k)
{
	kvm_destroy_vm(k);
	if (k->sys_fd >= 0)
		k->ops->close(k->sys_fd);
	k->sys_fd = -1;
}

int kvm_irq_line(struct kvm *k, unsigned int irq, int level)
{
	struct kvm_irq_level l = { .irq = irq, .level = level };

	return kio(k, k->vm_fd, KVM_IRQ_LINE, &l);
}

int kvm_supported_cpuid(struct kvm *k, unsigned int extra, struct kvm_cpuid2 **out)
{
	unsigned int n = 64;

	*out = NULL;
	for (;;) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + (n + extra) * sizeof(c->entries[0]));
		int r;

		if (!c)
			return -ENOMEM;
		c->nent = n;
		r = kio(k, k->sys_fd, KVM_GET_SUPPORTED_CPUID, c);
		if (r == 0) {
			*out = c;
			return 0;
		}
		free(c);
		if (r != -E2BIG || n >= 4096)
			return r;
		n *= 2;
	}
}

int kvm_msr_index_list(struct kvm *k, struct kvm_msr_list **out)
{
	struct kvm_msr_list probe = { .nmsrs = 0 };
	struct kvm_msr_list *l;
	int r;

	*out = NULL;
	r = kio(k, k->sys_fd, KVM_GET_MSR_INDEX_LIST, &probe);
	if (r < 0 && r != -E2BIG)
		return r;
	if (probe.nmsrs == 0 || probe.nmsrs > 65536)
		return -EINVAL;
	l = calloc(1, sizeof(*l) + probe.nmsrs * sizeof(l->indices[0]));
	if (!l)
		return -ENOMEM;
	l->nmsrs = probe.nmsrs;
	r = kio(k, k->sys_fd, KVM_GET_MSR_INDEX_LIST, l);
	if (r < 0) {
		free(l);
		return r;
	}
	*out = l;
	return 0;
}
