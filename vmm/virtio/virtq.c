/* vmm/virtio/virtq.c - split virtqueues (virtio 1.2, 2.7), device side.
 *
 * Everything the driver wrote is untrusted: each descriptor is copied out
 * of guest memory once and checked before use, every buffer is mapped with
 * mem_ptr(), chains are bounded by the queue size (direct) and by the
 * table length (indirect), so loops end.  See virtio.h for the contract.
 */
#include "vmm/virtio/virtio.h"

#include <errno.h>
#include <string.h>

/* Little-endian host (x86-64): the ring fields are used as they are. */
static inline uint16_t rd16(const volatile uint16_t *p)
{
	return __atomic_load_n((const uint16_t *)p, __ATOMIC_ACQUIRE);
}

void virtq_reset(struct virtq *q)
{
	unsigned int index = q->index;
	uint16_t num_max = q->num_max;
	uint32_t epoch = q->epoch;

	memset(q, 0, sizeof(*q));
	q->index = index;
	q->num_max = num_max;
	q->epoch = epoch;   /* survives resets: see virtio.h */
	q->num = num_max;   /* QueueNum reads back QueueNumMax after reset */
}

int virtq_map(struct virtq *q, const struct guest_mem *mem, bool event_idx, bool indirect)
{
	uint64_t n = q->num;

	q->ready = false;
	if (n == 0 || n > q->num_max || (n & (n - 1)))
		return -EINVAL;
	if ((q->desc_gpa & 15) || (q->avail_gpa & 1) || (q->used_gpa & 3))
		return -EINVAL;
	/* avail: flags, idx, ring[n], used_event; used: flags, idx, ring[n], avail_event */
	q->desc = mem_ptr(mem, q->desc_gpa, 16 * n);
	q->avail = mem_ptr(mem, q->avail_gpa, 4 + 2 * n + 2);
	q->used = mem_ptr(mem, q->used_gpa, 4 + 8 * n + 2);
	if (!q->desc || !q->avail || !q->used) {
		q->desc = NULL;
		q->avail = NULL;
		q->used = NULL;
		return -EFAULT;
	}
	q->mem = mem;
	q->event_idx = event_idx;
	q->indirect = indirect;
	q->last_avail = 0;
	q->used_idx = 0;
	q->signalled_valid = false;
	q->epoch++;
	q->ready = true;
	return 0;
}

/* Append one checked buffer to the chain. */
static int chain_add(struct virtq *q, struct virtq_chain *c, const struct vring_desc *d,
		     unsigned int *total)
{
	bool write = d->flags & VRING_DESC_F_WRITE;
	void *p;

	if (++*total > VIRTQ_CHAIN_MAX)
		return -E2BIG;
	/* Readable buffers first, then writable: a readable one after a
	 * writable one breaks the layout every device relies on. */
	if (!write && c->nr_in)
		return -EINVAL;
	p = mem_ptr(q->mem, d->addr, d->len);
	if (!p)
		return -EFAULT;
	if (write) {
		if (c->in_len + d->len >= (1ull << 32))
			return -EOVERFLOW;
		c->in_len += d->len;
		c->iov[c->nr_out + c->nr_in++] = (struct iovec){ p, d->len };
	} else {
		if (c->out_len + d->len >= (1ull << 32))
			return -EOVERFLOW;
		c->out_len += d->len;
		c->iov[c->nr_out++] = (struct iovec){ p, d->len };
	}
	return 0;
}

/* Walk an indirect table (one descriptor of the main chain). */
static int walk_indirect(struct virtq *q, struct virtq_chain *c, const struct vring_desc *ind,
			 unsigned int *total)
{
	const struct vring_desc *table;
	uint32_t n, i, steps = 0;
	int r;

	/* VRING_DESC_F_WRITE on the descriptor that points at the table means
	 * nothing: "the device MUST ignore the write-only flag" there (virtio
	 * 1.2, 2.7.5.3.2).  Refusing it would reset a conforming driver. */
	if (!q->indirect || (ind->flags & VRING_DESC_F_NEXT))
		return -EINVAL;
	if (ind->len == 0 || ind->len % sizeof(struct vring_desc))
		return -EINVAL;
	n = ind->len / sizeof(struct vring_desc);
	if (n > VIRTQ_CHAIN_MAX)
		return -E2BIG;
	table = mem_ptr(q->mem, ind->addr, ind->len);
	if (!table)
		return -EFAULT;
	i = 0;
	for (;;) {
		struct vring_desc d;

		memcpy(&d, (const void *)&table[i], sizeof(d)); /* read once */
		if (d.flags & VRING_DESC_F_INDIRECT)
			return -EINVAL;   /* no nested tables (2.7.5.3.1) */
		r = chain_add(q, c, &d, total);
		if (r < 0)
			return r;
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		if (d.next >= n || ++steps >= n)
			return -ELOOP;    /* out of the table, or more steps than entries */
		i = d.next;
	}
}

int virtq_pop(struct virtq *q, struct virtq_chain *c)
{
	uint16_t avail_idx, head, i, steps = 0;
	unsigned int total = 0;
	int r;

	avail_idx = rd16(&q->avail->idx);
	if (avail_idx == q->last_avail)
		return 0;
	if ((uint16_t)(avail_idx - q->last_avail) > q->num)
		return -EINVAL;   /* the driver claims more buffers than the ring holds */
	/* rd16 has acquire ordering: the ring entry is read after idx. */
	head = __atomic_load_n(&q->avail->ring[q->last_avail & (q->num - 1)], __ATOMIC_RELAXED);
	if (head >= q->num)
		return -EINVAL;
	c->head = head;
	c->nr_out = c->nr_in = 0;
	c->out_len = c->in_len = 0;
	i = head;
	for (;;) {
		struct vring_desc d;

		memcpy(&d, (const void *)&q->desc[i], sizeof(d)); /* read once */
		if (d.flags & VRING_DESC_F_INDIRECT)
			r = walk_indirect(q, c, &d, &total);
		else
			r = chain_add(q, c, &d, &total);
		if (r < 0)
			return r;
		if (!(d.flags & VRING_DESC_F_NEXT) || (d.flags & VRING_DESC_F_INDIRECT))
			break;
		if (d.next >= q->num || ++steps >= q->num)
			return -ELOOP;
		i = d.next;
	}
	q->last_avail++;
	return 1;
}

void virtq_unpop(struct virtq *q, uint16_t n)
{
	q->last_avail = (uint16_t)(q->last_avail - n);
}

void virtq_push(struct virtq *q, uint16_t head, uint32_t len)
{
	struct vring_used_elem *e = &q->used->ring[q->used_idx & (q->num - 1)];

	e->id = head;
	e->len = len;
	q->used_idx++;
	/* The element is visible before the index that publishes it. */
	__atomic_store_n(&q->used->idx, q->used_idx, __ATOMIC_RELEASE);
}

bool virtq_need_notify(struct virtq *q)
{
	uint16_t old, cur = q->used_idx;
	bool valid = q->signalled_valid;

	/* Our used->idx store must be visible before we read the driver's
	 * flags / used_event (the driver does the mirror-image check). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	old = q->signalled_used;
	q->signalled_used = cur;
	q->signalled_valid = true;
	if (!q->event_idx)
		return !(rd16(&q->avail->flags) & VRING_AVAIL_F_NO_INTERRUPT);
	if (!valid)
		return true;
	/* used_event lives right after avail->ring[num]. */
	return virtq_need_event(rd16(&q->avail->ring[q->num]), cur, old);
}

bool virtq_enable_notify(struct virtq *q)
{
	if (q->event_idx)    /* avail_event: the 16 bits right after used->ring[num] */
		__atomic_store_n((uint16_t *)&q->used->ring[q->num], q->last_avail, __ATOMIC_RELAXED);
	else
		__atomic_store_n(&q->used->flags, 0, __ATOMIC_RELAXED);
	/* Publish the request before looking at avail->idx again. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return rd16(&q->avail->idx) != q->last_avail;
}

void virtq_disable_notify(struct virtq *q)
{
	if (!q->event_idx)
		__atomic_store_n(&q->used->flags, VRING_USED_F_NO_NOTIFY, __ATOMIC_RELAXED);
}

size_t virtq_iov_read(const struct iovec *iov, unsigned int n, size_t off, void *dst, size_t len)
{
	uint8_t *d = dst;
	size_t done = 0;

	for (unsigned int i = 0; i < n && done < len; i++) {
		size_t l = iov[i].iov_len, k;

		if (off >= l) {
			off -= l;
			continue;
		}
		k = l - off < len - done ? l - off : len - done;
		memcpy(d + done, (const uint8_t *)iov[i].iov_base + off, k);
		done += k;
		off = 0;
	}
	return done;
}

size_t virtq_iov_write(const struct iovec *iov, unsigned int n, size_t off, const void *src,
		       size_t len)
{
	const uint8_t *s = src;
	size_t done = 0;

	for (unsigned int i = 0; i < n && done < len; i++) {
		size_t l = iov[i].iov_len, k;

		if (off >= l) {
			off -= l;
			continue;
		}
		k = l - off < len - done ? l - off : len - done;
		memcpy((uint8_t *)iov[i].iov_base + off, s + done, k);
		done += k;
		off = 0;
	}
	return done;
}
