/* vmm/virtio/vbus.h - the virtio-mmio slots of a VM, their KVM wiring
 * (irqfd per slot, ioeventfd per queue), their ACPI description and the
 * hotplug controller that lets devices come and go while the guest runs.
 *
 * Layout and interrupts: vmm/platform.h (PLAT_VIRTIO_*, PLAT_HOTPLUG_*).
 * Every slot is described in the DSDT at boot, present or not; a slot's
 * _STA reads the PRESENT register, and the Generic Event Device's _EVT
 * sends Notify(VRnn, 1) (device check: appeared) or Notify(VRnn, 3) (eject
 * request) for the slots named in the INSERTED / EJECTREQ registers.  The
 * guest answers an eject request by removing its driver and calling
 * VRnn._EJ0, which writes the slot number to EJECT: only then is the device
 * freed (its backend closed, its file unlocked).  docs/virtio.md.
 *
 * Threads: vbus_add/vbus_remove/vbus_vm_* run on the main thread;
 * vbus_mmio() runs on vCPU threads.  The slot table is under b->lock
 * (a rwlock: vCPUs read, the main thread changes it).
 */
#ifndef VMM_VIRTIO_VBUS_H
#define VMM_VIRTIO_VBUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/boot/boot.h"
#include "vmm/kvm.h"
#include "vmm/mem.h"
#include "vmm/platform.h"
#include "vmm/snap.h"
#include "vmm/virtio/mmio.h"
#include "vmm/virtio/virtio.h"

#define VBUS_ID_MAX 64

enum vbus_slot_state {
	VBUS_EMPTY = 0,
	VBUS_PRESENT,       /* the guest sees it */
	VBUS_EJECTING,      /* eject requested, waiting for the guest's _EJ0 */
	VBUS_DEAD,          /* forced out: backend gone, requests fail, waiting for _EJ0/reboot */
};

struct vbus_slot {
	enum vbus_slot_state state;
	struct virtio_dev *dev;
	char id[VBUS_ID_MAX];        /* user-visible id (volume id, "rng0", "net0") */
	bool pinned;                 /* refuses a detach without force (the root drive) */
	bool eject_done;             /* the guest let go (atomic; vbus_process frees it) */
	struct vmmio mmio;
};

struct vbus {
	const struct guest_mem *mem;
	struct kvm *kvm;             /* the current KVM VM; NULL between reboots */
	pthread_rwlock_t lock;       /* slots[] and the registers below */
	struct vbus_slot slots[PLAT_VIRTIO_MMIO_SLOTS];
	uint32_t inserted, ejectreq; /* hotplug registers (pending bits) */
	int ged_fd;                  /* eventfd, irqfd'd to PLAT_HOTPLUG_GSI */
	int event_fd;                /* eventfd: a slot finished ejecting (main loop polls) */
	void (*used_cb)(void *opaque); /* given to every device (virtio_dev.used_cb) */
	void *used_opaque;
	unsigned int nr_irqfd_slots;
	bool irqfd_on[PLAT_VIRTIO_MMIO_SLOTS];
	bool ged_irqfd_on;
};

/* Empty bus.  0 or -errno. vbus_free() frees every device still on it. */
int vbus_init(struct vbus *b, const struct guest_mem *mem);
void vbus_free(struct vbus *b);

/* Put an initialized device (virtio_dev_init done) in the lowest free slot.
 * The bus owns it from now on (also on failure: it is freed).  `id` must
 * be unique on the bus.  `hotplug`: the guest is running, tell it.
 * Returns the slot (>= 0) or -errno with err filled: -EEXIST (duplicate
 * id), -ENOSPC (no free slot). */
int vbus_add(struct vbus *b, struct virtio_dev *d, const char *id, bool pinned, bool hotplug,
	     char *err, size_t errlen);

/* Ask the guest to let go of device `id`.  force: the backend is freed
 * now (file closed and unlocked) instead of waiting for the guest; the slot
 * stays reserved until the guest lets go or reboots.  A device the driver
 * never started (no DRIVER_OK) is removed at once.  0 = removed, 1 = eject requested (the guest will
 * finish it), -ENOENT (unknown id), -EPERM (pinned and not force),
 * -EBUSY (already being detached; use force) with err filled. */
int vbus_remove(struct vbus *b, const char *id, bool force, char *err, size_t errlen);

/* Main thread, when event_fd is readable: free the devices the guest has
 * let go of (reset after an eject request, or _EJ0). */
void vbus_process(struct vbus *b);

/* Slot of `id` or -ENOENT. */
int vbus_find(struct vbus *b, const char *id);

/* The boot loader's view: every slot (present or not) plus the hotplug
 * controller.  Fills `out` (PLAT_VIRTIO_MMIO_SLOTS entries). */
void vbus_boot_desc(const struct vbus *b, struct boot_virtio_mmio *out, unsigned int *n,
		    struct boot_hotplug *hp);

/* A KVM VM was created: bind irqfds (and nothing else: queues start
 * unready).  0 or -errno. */
int vbus_vm_created(struct vbus *b, struct kvm *kvm);
/* The KVM VM is gone (reboot): reset every device; drop EJECTING/DEAD
 * slots (the guest that held them is gone). */
void vbus_vm_destroyed(struct vbus *b);

/* MMIO access from a vCPU: returns true when addr belongs to the bus. */
bool vbus_mmio(struct vbus *b, uint64_t addr, void *data, unsigned int len, bool is_write);

/* Append a JSON array of the devices to `o` (json-c object) under "devices". */
struct json_object;
void vbus_describe(struct vbus *b, struct json_object *o);

/* ---- hibernate (docs/hibernate.md, vmm/virtio/vsnap.h) ---- */

/* Can every device be saved (re-created in a new process)?  0, or
 * -EOPNOTSUPP with err naming the one that cannot.  Main thread. */
int vbus_snap_check(struct vbus *b, char *err, size_t errlen);
/* With every vCPU parked: finish what the guest let go of (vbus_process),
 * then freeze every device (virtio_dev_freeze: its worker stops, requests
 * in flight are completed or given back, volumes fdatasync'd).  0, or
 * -errno with err filled and everything thawed again. */
int vbus_freeze(struct vbus *b, char *err, size_t errlen);
/* A hibernate failed after vbus_freeze: every device runs again. */
void vbus_thaw(struct vbus *b);
/* The snapshot's device entries: VBUS/0 (dev = b) and VDEV/slot for each
 * slot in use (dev = &b->slots[slot]).  `out` has room for
 * 1 + PLAT_VIRTIO_MMIO_SLOTS entries; returns how many were filled.
 * Saving needs the devices frozen; restoring applies the transport state
 * to the devices vbus_snap_create() made from the same snapshot. */
unsigned int vbus_snap_devs(struct vbus *b, struct snap_dev *out);
/* --resume, before the KVM VM exists: re-create every slot from the
 * snapshot's VBUS and VDEV sections (drives re-opened and re-locked after
 * their size is checked, taps re-opened, the vsock socket listened on),
 * each in the slot it had.  0, or -errno with err filled (devices made so
 * far stay on the bus; vbus_free() frees them). */
int vbus_snap_create(struct vbus *b, const struct snap_file *f, char *err, size_t errlen);
/* After the restore, before the vCPUs run: look at every ready queue of
 * every live device (a kick may have been lost between the save and the
 * stop) and raise the interrupt of any device whose InterruptStatus is
 * set.  Main thread. */
void vbus_snap_resumed(struct vbus *b);

#endif
