/* tests/unit/fake_driver.h - a minimal virtio driver for device tests: it
 * owns a small guest memory, lays out split rings, makes a device live
 * (features, DRIVER_OK) without a transport, adds buffer chains, kicks
 * (as an ioeventfd would) and waits for used entries written by the
 * device's worker thread.  Header-only; include from one test file. */
#ifndef TESTS_UNIT_FAKE_DRIVER_H
#define TESTS_UNIT_FAKE_DRIVER_H

#include <poll.h>
#include <string.h>
#include <time.h>
#include <linux/virtio_ring.h>

#include "vmm/mem.h"
#include "vmm/virtio/virtio.h"

#define FD_QNUM 64
#define FD_RING_BASE 0x10000ull
#define FD_RING_STRIDE 0x10000ull
#define FD_BUF_BASE 0x100000ull

struct fd_queue {
	uint64_t desc, avail, used;
	uint16_t avail_idx, used_seen, next_desc;
	uint16_t num;                  /* min(FD_QNUM, QueueNumMax) */
};

struct fake_drv {
	struct guest_mem mem;
	struct virtio_dev *d;
	struct fd_queue q[VIRTIO_MAX_QUEUES];
	uint64_t buf_next;
};

static inline void *fd_ptr(struct fake_drv *f, uint64_t gpa, uint64_t len)
{
	return mem_ptr(&f->mem, gpa, len);
}

static inline int fd_mem_init(struct fake_drv *f)
{
	memset(f, 0, sizeof(*f));
	f->buf_next = FD_BUF_BASE;
	return mem_init(&f->mem, 16ull << 20);
}

/* Map every queue and go live with `features` (VERSION_1 added). */
static inline int fd_start(struct fake_drv *f, struct virtio_dev *d, uint64_t features)
{
	int r = 0;

	f->d = d;
	pthread_mutex_lock(&d->lock);
	d->driver_features = (features | (1ull << VIRTIO_F_VERSION_1)) & d->offered;
	for (unsigned int i = 0; i < d->nr_queues && r == 0; i++) {
		struct virtq *q = &d->vqs[i];
		uint64_t base = FD_RING_BASE + i * FD_RING_STRIDE;

		f->q[i] = (struct fd_queue){ base, base + 0x4000, base + 0x8000, 0, 0, 0,
					     q->num_max < FD_QNUM ? q->num_max : FD_QNUM };
		q->num = f->q[i].num;
		q->desc_gpa = f->q[i].desc;
		q->avail_gpa = f->q[i].avail;
		q->used_gpa = f->q[i].used;
		r = virtq_map(q, &f->mem, false, false);
	}
	d->status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK;
	if (r == 0 && d->ops->activate)
		r = d->ops->activate(d);
	if (r == 0)
		d->status |= VIRTIO_STATUS_DRIVER_OK;
	pthread_mutex_unlock(&d->lock);
	virtio_dev_wake(d);
	return r;
}

/* Guest buffer of len bytes (never reused). */
static inline uint64_t fd_alloc(struct fake_drv *f, uint64_t len)
{
	uint64_t g = f->buf_next;

	f->buf_next += (len + 63) & ~63ull;
	return g;
}

/* Add a chain: `nout` readable buffers then `nin` writable ones.
 * Returns the head; *in_gpa (may be NULL) gets the first writable buffer. */
static inline uint16_t fd_add(struct fake_drv *f, unsigned int qi, const uint64_t *gpa,
			      const uint32_t *len, unsigned int nout, unsigned int nin)
{
	struct fd_queue *fq = &f->q[qi];
	struct vring_desc *desc = fd_ptr(f, fq->desc, 16 * FD_QNUM);
	struct vring_avail *avail = fd_ptr(f, fq->avail, 4 + 2 * FD_QNUM + 2);
	uint16_t head = fq->next_desc % fq->num, idx = head;

	for (unsigned int i = 0; i < nout + nin; i++) {
		uint16_t next = (uint16_t)((idx + 1) % fq->num);

		desc[idx].addr = gpa[i];
		desc[idx].len = len[i];
		desc[idx].flags = (uint16_t)((i >= nout ? VRING_DESC_F_WRITE : 0) |
					     (i + 1 < nout + nin ? VRING_DESC_F_NEXT : 0));
		desc[idx].next = next;
		idx = next;
	}
	fq->next_desc = (uint16_t)(fq->next_desc + nout + nin);
	avail->ring[fq->avail_idx % fq->num] = head;
	__atomic_store_n(&avail->idx, ++fq->avail_idx, __ATOMIC_RELEASE);
	return head;
}

/* One readable buffer holding data. */
static inline uint16_t fd_add_out(struct fake_drv *f, unsigned int qi, const void *data, uint32_t len)
{
	uint64_t g = fd_alloc(f, len);
	memcpy(fd_ptr(f, g, len), data, len);
	return fd_add(f, qi, &g, &len, 1, 0);
}

/* One writable buffer of len bytes; *gpa gets its address. */
static inline uint16_t fd_add_in(struct fake_drv *f, unsigned int qi, uint32_t len, uint64_t *gpa)
{
	uint64_t g = fd_alloc(f, len);

	memset(fd_ptr(f, g, len), 0xee, len);
	if (gpa)
		*gpa = g;
	return fd_add(f, qi, &g, &len, 0, 1);
}

static inline void fd_kick(struct fake_drv *f, unsigned int qi)
{
	virtio_dev_kick(f->d, qi);
}

static inline uint64_t fd_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Wait for the next used entry of queue qi: 1 with id and len filled, 0 on timeout. */
static inline int fd_wait_used(struct fake_drv *f, unsigned int qi, uint32_t *id, uint32_t *len,
			       unsigned int timeout_ms)
{
	struct fd_queue *fq = &f->q[qi];
	struct vring_used *used = fd_ptr(f, fq->used, 4 + 8 * FD_QNUM + 2);
	uint64_t end = fd_ms() + timeout_ms;

	for (;;) {
		if (__atomic_load_n(&used->idx, __ATOMIC_ACQUIRE) != fq->used_seen) {
			struct vring_used_elem *e = &used->ring[fq->used_seen % fq->num];

			*id = e->id;
			*len = e->len;
			fq->used_seen++;
			return 1;
		}
		if (fd_ms() >= end)
			return 0;
		poll(NULL, 0, 2);
	}
}

static inline uint32_t fd_status(struct fake_drv *f)
{
	uint32_t s;

	pthread_mutex_lock(&f->d->lock);
	s = f->d->status;
	pthread_mutex_unlock(&f->d->lock);
	return s;
}

#endif
