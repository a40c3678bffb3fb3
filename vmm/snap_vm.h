/* vmm/snap_vm.h - hibernate: collecting a paused VM's state into a snapshot
 * directory, and validating and restoring one in a new process.  The file
 * format is vmm/snap.h; the order and the crash-safety argument are in
 * docs/hibernate.md.
 */
#ifndef VMM_SNAP_VM_H
#define VMM_SNAP_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>

#include "vmm/kvm.h"
#include "vmm/mem.h"
#include "vmm/snap.h"
#include "vmm/vcpu.h"

/* What the saver works on.  Owned by vm.c; every vCPU must be parked out of
 * KVM_RUN (with pending I/O completed) for the whole call. */
struct snap_vm {
	struct kvm *kvm;
	const struct guest_mem *mem;
	struct vcpu *vcpus;
	unsigned int nr_vcpus;
	const struct snap_dev *devs;
	unsigned int nr_devs;
	int mem_src_fd;            /* file guest RAM is MAP_PRIVATE'd from (a resumed VM), or -1 */
	/* The CPUID each vCPU was given (saved, rather than KVM_GET_CPUID2,
	 * because KVM may report more than it was told, and the resume check
	 * compares like with like): a resumed VM's come from `src`, a booted
	 * VM's are `supported` normalized as vcpu.c does. */
	const struct snap_image *src;
	const struct kvm_cpuid2 *supported;
};

/* Save everything into `dir` (which must exist).  On success the new
 * snapshot is durable (files and directory fsync'd) and any older one in
 * dir is gone; on failure dir holds the previous snapshot (if any)
 * unchanged, plus perhaps a temporary file the next save removes.
 * Returns 0 or -errno with err filled.  Nothing in the VM changes.
 * Debug hook: HANEUL_HIBERNATE_STAGE_DELAY_MS=N prints
 * "haneul-vmm: hibernate stage NAME" on stderr and sleeps N ms after each
 * stage (tests kill -9 there). */
int snap_save(const struct snap_vm *sv, const struct snap_meta *meta, const char *dir,
	      char *err, size_t errlen);

/* A snapshot read from disk and validated (format, every checksum, sizes,
 * the memory file's presence and size, the kernel/initrd it names).  No
 * file is modified by anything here. */
struct snap_image {
	uint8_t *buf;              /* the whole state file */
	size_t len;
	struct snap_file file;
	struct snap_meta meta;
	struct snap_memt memt;
	int mem_fd;                /* the memory file, read-only */
};

int snap_open(const char *dir, struct snap_image *img, char *err, size_t errlen);
void snap_close(struct snap_image *img);

/* Can this host run it?  vCPU count, XSAVE size, optional KVM state, and
 * CPUID: every vCPU's saved CPUID must be a subset of this host's
 * KVM_GET_SUPPORTED_CPUID (normalized like vcpu.c does).  0 or -ENOTSUP. */
int snap_check_host(const struct snap_image *img, struct kvm *k,
		    const struct kvm_cpuid2 *supported, char *err, size_t errlen);

/* Replace gm's anonymous mapping with a MAP_PRIVATE (copy-on-write) mapping
 * of the memory file: nothing is read now; pages come in on first touch. */
int snap_map_memory(const struct snap_image *img, struct guest_mem *gm, char *err, size_t errlen);

/* KVM_CREATE_VCPU + kvm_run mapping only (state comes from the snapshot);
 * vcpu_destroy() undoes it. */
int snap_vcpu_create(struct vcpu *v, struct kvm *k, unsigned int index, char *err, size_t errlen);

/* Put vCPU v's saved state back, in the order KVM needs: CPUID, sregs,
 * regs, MSRs, XSAVE/FPU, XCRs, LAPIC (then the TSC-deadline MSR again),
 * events, MP state, debug registers. */
int snap_restore_vcpu(const struct snap_image *img, struct kvm *k, struct vcpu *v,
		      char *err, size_t errlen);

/* PIC master/slave, IOAPIC, PIT; then kvmclock = saved + wall time spent
 * hibernated (so the guest's wall clock is right again). */
int snap_restore_vm(const struct snap_image *img, struct kvm *k, char *err, size_t errlen);

/* Every registered device gets its section; a device section nobody
 * claims, or a device without one, refuses the snapshot. */
int snap_restore_devs(const struct snap_image *img, const struct snap_dev *devs,
		      unsigned int nr, char *err, size_t errlen);

/* Read the memory file (pread, not the guest mapping) and check each
 * chunk's CRC32C.  Returns 0, -EBADMSG with *bad_chunk set, -ECANCELED when
 * *stop became true, or another -errno.  Used before starting the vCPUs
 * (--verify-memory) or on a background thread. */
int snap_verify_memory(const struct snap_image *img, const volatile bool *stop,
		       uint32_t *bad_chunk);

#endif
