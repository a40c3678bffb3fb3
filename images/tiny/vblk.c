/* images/tiny/vblk.c - see vblk.h.  Each request is a three-descriptor
 * chain (header, data, status) on descriptors 0..2, completed by polling the
 * used ring: a short spin (the VMM usually answers within microseconds),
 * then PV IDLE naps of 1 ms so a slow backend does not cost a host core. */
#include "images/tiny/vblk.h"
#include "images/tiny/io.h"
#include "images/tiny/util.h"
#include "vmm/platform.h"

#define VIRTIO_BLK_F_RO    5
#define VIRTIO_BLK_F_FLUSH 9

#define VIRTIO_BLK_T_IN     0
#define VIRTIO_BLK_T_OUT    1
#define VIRTIO_BLK_T_FLUSH  4
#define VIRTIO_BLK_T_GET_ID 8

#define VIRTIO_BLK_S_OK 0
#define VBLK_STATUS_NONE 0xff    /* what we put there before submitting */

#define VBLK_SPIN 2000u
#define VBLK_TIMEOUT_US 10000000ull /* 10 s */

struct vblk_req {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
	uint8_t status;
} __attribute__((packed));

int vblk_init(struct vblk *b, const struct vdev *found, struct dma_area *dma,
	      const struct tclock *clock, bool pv)
{
	int r;

	b->dev = *found;
	b->clock = clock;
	b->pv = pv;
	r = virtio_negotiate(&b->dev, (1ull << VIRTIO_BLK_F_RO) | (1ull << VIRTIO_BLK_F_FLUSH));
	if (r < 0)
		return r;
	b->ro = b->dev.features & (1ull << VIRTIO_BLK_F_RO);
	b->flush = b->dev.features & (1ull << VIRTIO_BLK_F_FLUSH);
	b->capacity = virtio_cfg64(&b->dev, 0);
	b->req = dma_alloc(dma, sizeof(*b->req), 16);
	b->buf = dma_alloc(dma, VBLK_SECTOR, VBLK_SECTOR);
	if (!b->req || !b->buf) {
		virtio_fail(&b->dev);
		return -3;
	}
	r = virtio_vq_init(&b->dev, &b->q, 0, 4, dma);
	if (r < 0 || b->q.size < 4) {
		virtio_fail(&b->dev);
		return -4;
	}
	virtio_driver_ok(&b->dev);
	return 0;
}

/* Submits header [+ data of len bytes, device-writable if `in`] + status;
 * waits for completion. */
static int vblk_do(struct vblk *b, uint32_t type, uint64_t sector, uint32_t len, bool in)
{
	volatile struct vring_desc *d = b->q.desc;
	uint16_t id = 0, st;
	uint32_t ulen;
	uint64_t start = 0;
	unsigned int i;

	b->req->type = type;
	b->req->reserved = 0;
	b->req->sector = sector;
	b->req->status = VBLK_STATUS_NONE;
	d[0].addr = (uintptr_t)b->req;
	d[0].len = 16;
	d[0].flags = VRING_DESC_F_NEXT;
	d[0].next = 1;
	st = 1;
	if (len) {
		d[1].addr = (uintptr_t)b->buf;
		d[1].len = len;
		d[1].flags = VRING_DESC_F_NEXT | (in ? VRING_DESC_F_WRITE : 0);
		d[1].next = 2;
		st = 2;
	}
	d[st].addr = (uintptr_t)&b->req->status;
	d[st].len = 1;
	d[st].flags = VRING_DESC_F_WRITE;
	d[st].next = 0;
	vq_push(&b->q, 0);
	vq_kick(&b->q);
	for (i = 0;; i++) {
		if (vq_pop(&b->q, &id, &ulen))
			break;
		if (i < VBLK_SPIN) {
			io_pause();
			continue;
		}
		if (i == VBLK_SPIN)
			start = tclock_us(b->clock);
		else if (tclock_us(b->clock) - start > VBLK_TIMEOUT_US)
			return -3;
		if (b->pv)
			io_outl(PLAT_PV_IDLE, 1);
		else
			io_pause();
	}
	if (id != 0)
		return -2;
	return b->req->status == VIRTIO_BLK_S_OK ? 0 : -2;
}

int vblk_read(struct vblk *b, uint64_t sector)
{
	if (sector >= b->capacity)
		return -1;
	return vblk_do(b, VIRTIO_BLK_T_IN, sector, VBLK_SECTOR, true);
}

int vblk_write(struct vblk *b, uint64_t sector)
{
	if (sector >= b->capacity || b->ro)
		return -1;
	return vblk_do(b, VIRTIO_BLK_T_OUT, sector, VBLK_SECTOR, false);
}

int vblk_flush(struct vblk *b)
{
	if (!b->flush)
		return 0; /* no volatile write cache: writes are already stable */
	return vblk_do(b, VIRTIO_BLK_T_FLUSH, 0, 0, false);
}

int vblk_serial(struct vblk *b, char *out)
{
	int r;

	memset(b->buf, 0, VBLK_SERIAL_LEN);
	r = vblk_do(b, VIRTIO_BLK_T_GET_ID, 0, VBLK_SERIAL_LEN, true);
	if (r < 0) {
		out[0] = '\0';
		return r;
	}
	memcpy(out, b->buf, VBLK_SERIAL_LEN);
	out[VBLK_SERIAL_LEN] = '\0';
	return 0;
}
