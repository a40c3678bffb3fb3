/* vmm/virtio/mmio.h - the virtio-mmio transport, version 2 (virtio 1.x,
 * modern only), as a register model over a struct virtio_dev.
 *
 * vmmio_read/vmmio_write are called from vCPU threads for accesses inside
 * the slot's window (offset from its base).  Registers are 32-bit; other
 * widths read 0 and are ignored, except in config space (0x100+), which
 * takes 1/2/4/8-byte accesses inside dev->config_len.  Every driver value is
 * checked: QueueSel beyond nr_queues, QueueNum above QueueNumMax or not a
 * power of 2, queue registers written while the queue is ready, features
 * the device never offered, status bits cleared without a reset - all are
 * ignored (or fail FEATURES_OK / set NEEDS_RESET), never trusted.
 *
 * QueueNotify: when a queue becomes ready the transport asks the host
 * (host_ops->ioeventfd) to bind dev->kick_fd[q] to base + 0x50 with
 * datamatch q, so KVM signals the worker without exiting to user space.
 * A notify that still reaches vmmio_write (no ioeventfd, other value) is
 * forwarded to the worker by hand.
 */
#ifndef VMM_VIRTIO_MMIO_H
#define VMM_VIRTIO_MMIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/virtio/virtio.h"

#define VMMIO_MAGIC        0x74726976u   /* "virt" */
#define VMMIO_VERSION      2u
#define VMMIO_VENDOR_ID    0x4c554e48u   /* "HNUL" */

/* Register offsets (virtio 1.2, 4.2.2). */
#define VMMIO_MAGIC_VALUE        0x000
#define VMMIO_VERSION_REG        0x004
#define VMMIO_DEVICE_ID          0x008
#define VMMIO_VENDOR_ID_REG      0x00c
#define VMMIO_DEVICE_FEATURES    0x010
#define VMMIO_DEVICE_FEATURES_SEL 0x014
#define VMMIO_DRIVER_FEATURES    0x020
#define VMMIO_DRIVER_FEATURES_SEL 0x024
#define VMMIO_QUEUE_SEL          0x030
#define VMMIO_QUEUE_NUM_MAX      0x034
#define VMMIO_QUEUE_NUM          0x038
#define VMMIO_QUEUE_READY        0x044
#define VMMIO_QUEUE_NOTIFY       0x050
#define VMMIO_INTERRUPT_STATUS   0x060
#define VMMIO_INTERRUPT_ACK      0x064
#define VMMIO_STATUS             0x070
#define VMMIO_QUEUE_DESC_LOW     0x080
#define VMMIO_QUEUE_DESC_HIGH    0x084
#define VMMIO_QUEUE_AVAIL_LOW    0x090
#define VMMIO_QUEUE_AVAIL_HIGH   0x094
#define VMMIO_QUEUE_USED_LOW     0x0a0
#define VMMIO_QUEUE_USED_HIGH    0x0a4
#define VMMIO_SHM_SEL            0x0ac
#define VMMIO_SHM_LEN_LOW        0x0b0
#define VMMIO_SHM_LEN_HIGH       0x0b4
#define VMMIO_SHM_BASE_LOW       0x0b8
#define VMMIO_SHM_BASE_HIGH      0x0bc
#define VMMIO_CONFIG_GENERATION  0x0fc
#define VMMIO_CONFIG             0x100

/* Host hooks (KVM in the VMM, fakes in unit tests). */
struct vmmio_host_ops {
	/* Bind (assign) or unbind `fd` to a 4-byte write of `datamatch` at
	 * guest physical `addr`.  0 or -errno (the transport then falls back
	 * to trapped notifies). */
	int (*ioeventfd)(void *opaque, uint64_t addr, uint32_t datamatch, int fd, bool assign);
};

struct vmmio {
	uint64_t base;                   /* guest physical address of register 0 */
	struct virtio_dev *dev;
	const struct vmmio_host_ops *host;
	void *host_opaque;
	/* Driver-selected indices (dev->lock protects). */
	uint32_t dev_features_sel, drv_features_sel, queue_sel;
	bool ioeventfd_on[VIRTIO_MAX_QUEUES];
	uint64_t trapped_notifies;       /* notifies that exited to user space */
};

void vmmio_init(struct vmmio *m, uint64_t base, struct virtio_dev *d,
		const struct vmmio_host_ops *host, void *host_opaque);
/* `len` is 1, 2, 4 or 8; off is relative to m->base. */
void vmmio_read(struct vmmio *m, uint64_t off, void *data, unsigned int len);
void vmmio_write(struct vmmio *m, uint64_t off, const void *data, unsigned int len);
/* Hibernate (vmm/virtio/vsnap.h).  get: the transport's whole state into
 * t (device frozen: virtio_dev_freeze).  set: apply a checked record
 * (vsnap_transport_get) to this freshly created device: it must be the
 * same kind of device (id, queues, QueueNumMax, config space) and still
 * offer every feature the driver accepted; ready queues are mapped
 * (rings inside guest RAM) and get their ioeventfds.  0, or -EINVAL with
 * err filled and the device reset (nothing half-applied). */
struct vsnap_transport;
void vmmio_snap_get(struct vmmio *m, struct vsnap_transport *t);
int vmmio_snap_set(struct vmmio *m, const struct vsnap_transport *t, char *err, size_t errlen);

/* Reset the device and transport (VM reboot, detach): queues off, ioeventfds
 * unbound if `unbind` (false when the KVM VM they lived on is already gone). */
void vmmio_reset(struct vmmio *m, bool unbind);

#endif
