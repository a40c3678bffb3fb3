/* agent/asys.h - virtio-mmio devices in the guest's sysfs.
 *
 * Why: on hot detach haneul-vmm asks the guest (ACPI eject request) to let
 * go of a virtio-mmio disk, and Linux 6.1 does not unregister the platform
 * device that ACPI created, so the agent unbinds it from the virtio-mmio
 * driver (docs/virtio.md).  SYSFS is "/sys" in the guest and a fake tree in
 * tests. */
#ifndef AGENT_ASYS_H
#define AGENT_ASYS_H

#include "agent/actl.h"

#define ASYS_MAX_DEVICES 64

struct asys_vdev {
	char name[ACTL_NAME_MAX + 1];   /* platform device, e.g. "LNRO0005:01" */
	char virtio[32];                /* "virtio3", or "" */
	int device_id;                  /* virtio device id (2 = block), -1 unknown */
	char block[32];                 /* "vdb", or "" */
	char serial[ACTL_NAME_MAX + 1]; /* the block device's serial (haneul: volume id), or "" */
};

/* Devices bound to the virtio-mmio driver, sorted by name.  Returns how
 * many were written to OUT (at most MAX), or -errno when the driver's
 * directory cannot be read (-ENOENT: virtio_mmio not loaded). */
int asys_virtio_list(const char *sysfs, struct asys_vdev *out, int max);

/* Writes NAME to <sysfs>/bus/platform/drivers/virtio-mmio/unbind.
 * 0, -EINVAL (bad name), -ENOENT (not bound to virtio-mmio), or -errno of the write. */
int asys_virtio_unbind(const char *sysfs, const char *name);

/* The platform device whose disk has serial SERIAL, into NAME.  0 or -ENOENT. */
int asys_virtio_find_serial(const char *sysfs, const char *serial, char name[ACTL_NAME_MAX + 1]);

#endif
