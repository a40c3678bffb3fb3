/* vmm/virtio/vsnap.h - virtio devices in a hibernate snapshot (issue 5).
 *
 * Two kinds of sections (format: vmm/snap.h, docs/hibernate.md):
 *   VBUS/0     the hotplug controller: INSERTED / EJECTREQ pending bits and
 *              the bitmap of slots in use (each has a VDEV section)
 *   VDEV/slot  one virtio-mmio slot: its state (attached, detaching,
 *              detaching-forced), id and root pin; then, unless the backend
 *              is gone, what re-creates the device in a new process
 *              (struct vsnap_devcfg: drive path/size/readonly, tap/netns/
 *              MAC/offloads, vsock CID/socket) and the transport state
 *              (struct vsnap_transport: status, features, feature and
 *              queue selectors, InterruptStatus, ConfigGeneration, config
 *              space, per queue size/ready/ring addresses/last_avail/used
 *              idx/EVENT_IDX shadow).
 * Every payload starts with a u32 layout version.  The decoders here are
 * pure and check every field before anything uses it (the same rules the
 * transport applies to a live driver: a power-of-2 queue size inside
 * QueueNumMax, aligned rings, only offered features, VERSION_1 with
 * FEATURES_OK, DRIVER_OK only after FEATURES_OK, known status bits);
 * tests/unit/test_vsnap.c, tests/fuzz/ (via snap).
 *
 * The live side (freeze, capture, re-create, apply) is in vbus.c/mmio.c:
 * vbus.h.
 */
#ifndef VMM_VIRTIO_VSNAP_H
#define VMM_VIRTIO_VSNAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/mem.h"
#include "vmm/snap.h"
#include "vmm/virtio/virtio.h"
#include "vmm/virtio/vnet.h"
#include "vmm/virtio/vsock_proto.h"

#define VSNAP_LAYOUT    1u
#define VSNAP_PATH_MAX  4095u
#define VSNAP_ID_MAX    63u       /* VBUS_ID_MAX - 1 */
#define VSNAP_SLOTS     32u       /* most slots a VBUS bitmap can name */

struct vsnap_queue {
	uint16_t num_max, num;
	bool ready;
	uint64_t desc, avail, used;
	uint16_t last_avail, used_idx, signalled_used;
	bool signalled_valid;
};

struct vsnap_transport {
	uint32_t device_id;
	uint32_t nr_queues;
	uint64_t offered, driver_features;
	uint32_t status, isr, config_generation;
	uint32_t dev_features_sel, drv_features_sel, queue_sel;
	uint32_t config_len;
	uint8_t config[VIRTIO_CONFIG_MAX];
	struct vsnap_queue q[VIRTIO_MAX_QUEUES];
};

/* What re-creates a device in a new process (by device_id; the other
 * members are zero). */
struct vsnap_devcfg {
	uint32_t device_id;
	/* VIRTIO_ID_BLOCK: the drive (id = the volume id / serial) */
	char path[VSNAP_PATH_MAX + 1];
	char serial[VSNAP_ID_MAX + 1];
	bool readonly;
	uint64_t size;                  /* bytes at save: must match on resume */
	/* VIRTIO_ID_NET: tap, netns, MAC; offloads the device offered */
	struct vnet_cfg net;
	bool csum, tso;
	/* VIRTIO_ID_VSOCK */
	struct vsock_cfg vsock;
};

enum vsnap_slot_state {
	VSNAP_PRESENT = 1,    /* VBUS_PRESENT */
	VSNAP_EJECTING = 2,   /* VBUS_EJECTING: the guest was asked to let go */
	VSNAP_DEAD = 3,       /* VBUS_DEAD: backend gone, slot reserved (no device below) */
};

struct vsnap_slot {
	uint32_t state;                 /* enum vsnap_slot_state */
	bool pinned;
	char id[VSNAP_ID_MAX + 1];
	struct vsnap_devcfg cfg;        /* not for VSNAP_DEAD */
	struct vsnap_transport tr;      /* not for VSNAP_DEAD */
};

struct vsnap_bus {
	uint32_t inserted, ejectreq;    /* hotplug registers: pending bits */
	uint32_t slots;                 /* bit n: slot n has a VDEV section */
};

void vsnap_transport_put(struct snap_buf *b, const struct vsnap_transport *t);
/* Read and check one transport record from r.  0, or -EINVAL with err. */
int vsnap_transport_get(struct snap_rd *r, struct vsnap_transport *t, char *err, size_t errlen);

/* A whole VDEV payload.  get: 0 or -EINVAL with err (s is then undefined). */
void vsnap_slot_put(struct snap_buf *b, const struct vsnap_slot *s);
int vsnap_slot_get(const uint8_t *p, size_t len, struct vsnap_slot *s, char *err, size_t errlen);

void vsnap_bus_put(struct snap_buf *b, const struct vsnap_bus *v);
int vsnap_bus_get(const uint8_t *p, size_t len, unsigned int nr_slots, struct vsnap_bus *v,
		  char *err, size_t errlen);

/* Re-create the device `c` describes (not yet on a bus; `id` is the
 * slot's id, for names in logs).  A drive must exist with exactly c->size
 * bytes before it is opened (and locked) again; nothing is written to any
 * file.  Whether the new device still offers what the driver negotiated
 * is checked when the transport state is applied (vmmio_snap_set).  NULL
 * with errno set and err filled. */
struct virtio_dev *vsnap_dev_new(const struct vsnap_devcfg *c, const char *id,
				 const struct guest_mem *mem, char *err, size_t errlen);

#endif
