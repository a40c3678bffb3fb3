/* images/tiny/virtio.c - see virtio.h.  Register offsets: virtio 1.x
 * specification, 4.2.2 (MMIO device register layout). */
#include "images/tiny/virtio.h"
#include "images/tiny/util.h"

#define VM_MAGIC          0x000
#define VM_VERSION        0x004
#define VM_DEVICE_ID      0x008
#define VM_DEV_FEATURES   0x010
#define VM_DEV_FEAT_SEL   0x014
#define VM_DRV_FEATURES   0x020
#define VM_DRV_FEAT_SEL   0x024
#define VM_QUEUE_SEL      0x030
#define VM_QUEUE_NUM_MAX  0x034
#define VM_QUEUE_NUM      0x038
#define VM_QUEUE_READY    0x044
#define VM_QUEUE_NOTIFY   0x050
#define VM_STATUS         0x070
#define VM_QUEUE_DESC_LO  0x080
#define VM_QUEUE_DESC_HI  0x084
#define VM_QUEUE_AVAIL_LO 0x090
#define VM_QUEUE_AVAIL_HI 0x094
#define VM_QUEUE_USED_LO  0x0a0
#define VM_QUEUE_USED_HI  0x0a4
#define VM_CONFIG         0x100

#define VIRTIO_MAGIC 0x74726976u /* "virt" */

#define ST_ACKNOWLEDGE 1u
#define ST_DRIVER      2u
#define ST_DRIVER_OK   4u
#define ST_FEATURES_OK 8u
#define ST_FAILED      128u

#define VRING_AVAIL_F_NO_INTERRUPT 1

static uint32_t rd32(struct vdev *d, unsigned int off)
{
	return *(volatile uint32_t *)(d->base + off);
}

static void wr32(struct vdev *d, unsigned int off, uint32_t v)
{
	barrier();
	*(volatile uint32_t *)(d->base + off) = v;
}

void *dma_alloc(struct dma_area *a, size_t n, size_t align)
{
	uintptr_t p = ((uintptr_t)a->next + align - 1) & ~(uintptr_t)(align - 1);

	if (p > (uintptr_t)a->end || n > (uintptr_t)a->end - p)
		return NULL;
	a->next = (uint8_t *)(p + n);
	memset((void *)p, 0, n);
	return (void *)p;
}

bool virtio_probe(struct vdev *dev, uintptr_t base)
{
	dev->base = (volatile uint8_t *)base;
	dev->features = 0;
	dev->device_id = 0;
	if (rd32(dev, VM_MAGIC) != VIRTIO_MAGIC || rd32(dev, VM_VERSION) != 2)
		return false;
	dev->device_id = rd32(dev, VM_DEVICE_ID);
	return dev->device_id != 0;
}

int virtio_negotiate(struct vdev *dev, uint64_t want)
{
	uint64_t have;

	wr32(dev, VM_STATUS, 0); /* reset */
	wr32(dev, VM_STATUS, ST_ACKNOWLEDGE);
	wr32(dev, VM_STATUS, ST_ACKNOWLEDGE | ST_DRIVER);
	wr32(dev, VM_DEV_FEAT_SEL, 0);
	have = rd32(dev, VM_DEV_FEATURES);
	wr32(dev, VM_DEV_FEAT_SEL, 1);
	have |= (uint64_t)rd32(dev, VM_DEV_FEATURES) << 32;
	if (!(have & (1ull << VIRTIO_F_VERSION_1))) {
		virtio_fail(dev);
		return -1;
	}
	dev->features = have & (want | (1ull << VIRTIO_F_VERSION_1));
	wr32(dev, VM_DRV_FEAT_SEL, 0);
	wr32(dev, VM_DRV_FEATURES, (uint32_t)dev->features);
	wr32(dev, VM_DRV_FEAT_SEL, 1);
	wr32(dev, VM_DRV_FEATURES, (uint32_t)(dev->features >> 32));
	wr32(dev, VM_STATUS, ST_ACKNOWLEDGE | ST_DRIVER | ST_FEATURES_OK);
	if (!(rd32(dev, VM_STATUS) & ST_FEATURES_OK)) {
		virtio_fail(dev);
		return -2;
	}
	return 0;
}

int virtio_vq_init(struct vdev *dev, struct vq *q, uint16_t index, uint16_t size, struct dma_area *dma)
{
	uint32_t max;
	uintptr_t d, a, u;

	wr32(dev, VM_QUEUE_SEL, index);
	if (rd32(dev, VM_QUEUE_READY))
		return -1;
	max = rd32(dev, VM_QUEUE_NUM_MAX);
	if (max == 0)
		return -2;
	if (size > max)
		size = (uint16_t)max;
	if (size > VQ_MAX_SIZE)
		size = VQ_MAX_SIZE;
	while (size & (size - 1)) /* split rings want a power of two */
		size &= (uint16_t)(size - 1);
	q->desc = dma_alloc(dma, sizeof(struct vring_desc) * VQ_MAX_SIZE, 16);
	q->avail = dma_alloc(dma, sizeof(struct vring_avail), 2);
	q->used = dma_alloc(dma, sizeof(struct vring_used), 4);
	if (!q->desc || !q->avail || !q->used)
		return -3;
	q->dev = dev;
	q->index = index;
	q->size = size;
	q->avail_idx = 0;
	q->used_idx = 0;
	q->avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	d = (uintptr_t)q->desc;
	a = (uintptr_t)q->avail;
	u = (uintptr_t)q->used;
	wr32(dev, VM_QUEUE_NUM, size);
	wr32(dev, VM_QUEUE_DESC_LO, (uint32_t)d);
	wr32(dev, VM_QUEUE_DESC_HI, (uint32_t)((uint64_t)d >> 32));
	wr32(dev, VM_QUEUE_AVAIL_LO, (uint32_t)a);
	wr32(dev, VM_QUEUE_AVAIL_HI, (uint32_t)((uint64_t)a >> 32));
	wr32(dev, VM_QUEUE_USED_LO, (uint32_t)u);
	wr32(dev, VM_QUEUE_USED_HI, (uint32_t)((uint64_t)u >> 32));
	wr32(dev, VM_QUEUE_READY, 1);
	return 0;
}

void virtio_driver_ok(struct vdev *dev)
{
	wr32(dev, VM_STATUS, ST_ACKNOWLEDGE | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK);
}

void virtio_fail(struct vdev *dev)
{
	wr32(dev, VM_STATUS, rd32(dev, VM_STATUS) | ST_FAILED);
}

uint32_t virtio_status(struct vdev *dev)
{
	return rd32(dev, VM_STATUS);
}

uint8_t virtio_cfg8(struct vdev *dev, unsigned int off)
{
	return *(volatile uint8_t *)(dev->base + VM_CONFIG + off);
}

uint32_t virtio_cfg32(struct vdev *dev, unsigned int off)
{
	return rd32(dev, VM_CONFIG + off);
}

uint64_t virtio_cfg64(struct vdev *dev, unsigned int off)
{
	uint32_t lo, hi;

	lo = rd32(dev, VM_CONFIG + off);
	hi = rd32(dev, VM_CONFIG + off + 4);
	return ((uint64_t)hi << 32) | lo;
}

void vq_push(struct vq *q, uint16_t id)
{
	q->avail->ring[q->avail_idx & (q->size - 1)] = id;
	barrier();
	q->avail_idx++;
	q->avail->idx = q->avail_idx;
}

void vq_kick(struct vq *q)
{
	wr32(q->dev, VM_QUEUE_NOTIFY, q->index);
}

bool vq_pop(struct vq *q, uint16_t *id, uint32_t *len)
{
	volatile struct vring_used_elem *e;

	if (q->used->idx == q->used_idx)
		return false;
	barrier();
	e = &q->used->ring[q->used_idx & (q->size - 1)];
	*id = (uint16_t)e->id;
	*len = e->len;
	q->used_idx++;
	return true;
}
