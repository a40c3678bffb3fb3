/* images/tiny/virtio.h - polled virtio-mmio (version 2, "modern") transport
 * and split virtqueues for the tiny guest.  No interrupts: the driver sets
 * VRING_AVAIL_F_NO_INTERRUPT and watches used->idx. */
#ifndef IMAGES_TINY_VIRTIO_H
#define IMAGES_TINY_VIRTIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VIRTIO_ID_NET   1
#define VIRTIO_ID_BLOCK 2

#define VIRTIO_F_VERSION_1 32

#define VQ_MAX_SIZE 16           /* descriptors per queue we use */

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};
#define VRING_DESC_F_NEXT  1
#define VRING_DESC_F_WRITE 2

struct vring_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[VQ_MAX_SIZE];
};

struct vring_used_elem {
	uint32_t id;
	uint32_t len;
};

struct vring_used {
	uint16_t flags;
	uint16_t idx;
	struct vring_used_elem ring[VQ_MAX_SIZE];
};

struct vdev {
	volatile uint8_t *base;   /* the MMIO window */
	uint32_t device_id;
	uint64_t features;        /* negotiated */
};

struct vq {
	struct vdev *dev;
	uint16_t index;           /* queue number */
	uint16_t size;            /* descriptors (power of two, <= VQ_MAX_SIZE) */
	volatile struct vring_desc *desc;
	volatile struct vring_avail *avail;
	volatile struct vring_used *used;
	uint16_t avail_idx;       /* our shadow of avail->idx */
	uint16_t used_idx;        /* next used entry we have not consumed */
};

/* Carves device memory out of a fixed area (linker-reserved, see tiny.ld). */
struct dma_area {
	uint8_t *next;
	uint8_t *end;
};

/* `n` bytes aligned to `align` (a power of two), zeroed; NULL when full. */
void *dma_alloc(struct dma_area *a, size_t n, size_t align);

/* Is there a modern virtio-mmio device at `base`?  Fills dev (device id 0 =
 * an empty slot, returned as false).  One or two MMIO reads. */
bool virtio_probe(struct vdev *dev, uintptr_t base);

/* Reset, ACKNOWLEDGE|DRIVER, offer `want` & device features (VERSION_1 is
 * required), FEATURES_OK.  0 or a negative code (-1 no VERSION_1, -2 device
 * refused the features). */
int virtio_negotiate(struct vdev *dev, uint64_t want);
/* Sets up queue `index` with up to `size` descriptors in dma memory. */
int virtio_vq_init(struct vdev *dev, struct vq *q, uint16_t index, uint16_t size, struct dma_area *dma);
void virtio_driver_ok(struct vdev *dev);
/* Marks the device FAILED (driver gives up on it). */
void virtio_fail(struct vdev *dev);
uint32_t virtio_status(struct vdev *dev);
/* Device-specific configuration space, byte offset off. */
uint8_t virtio_cfg8(struct vdev *dev, unsigned int off);
uint32_t virtio_cfg32(struct vdev *dev, unsigned int off);
uint64_t virtio_cfg64(struct vdev *dev, unsigned int off);

/* Publishes descriptor chain head `id` in the avail ring (no notify). */
void vq_push(struct vq *q, uint16_t id);
/* Tells the device about pushed buffers (one MMIO write). */
void vq_kick(struct vq *q);
/* Next completed chain: true and id/len, or false when none is pending. */
bool vq_pop(struct vq *q, uint16_t *id, uint32_t *len);

#endif
