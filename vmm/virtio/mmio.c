/* vmm/virtio/mmio.c - virtio-mmio version 2 register model (see mmio.h). */
#include "vmm/virtio/mmio.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "vmm/virtio/vsnap.h"

void vmmio_init(struct vmmio *m, uint64_t base, struct virtio_dev *d,
		const struct vmmio_host_ops *host, void *host_opaque)
{
	memset(m, 0, sizeof(*m));
	m->base = base;
	m->dev = d;
	m->host = host;
	m->host_opaque = host_opaque;
}

static struct virtq *sel_queue(struct vmmio *m)
{
	return m->queue_sel < m->dev->nr_queues ? &m->dev->vqs[m->queue_sel] : NULL;
}

static void bind_notify(struct vmmio *m, unsigned int qi, bool on)
{
	int r;

	if (m->ioeventfd_on[qi] == on || !m->host || !m->host->ioeventfd)
		return;
	r = m->host->ioeventfd(m->host_opaque, m->base + VMMIO_QUEUE_NOTIFY, qi,
			       m->dev->kick_fd[qi], on);
	if (r < 0) {
		/* Not fatal: notifies then trap and are forwarded by hand. */
		log_warn("virtio %s: ioeventfd for queue %u %s: %s", m->dev->name, qi,
			 on ? "bind" : "unbind", strerror(-r));
		return;
	}
	m->ioeventfd_on[qi] = on;
}

void vmmio_reset(struct vmmio *m, bool unbind)
{
	struct virtio_dev *d = m->dev;

	pthread_mutex_lock(&d->lock);
	virtio_dev_reset_locked(d);
	for (unsigned int i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		if (unbind)
			bind_notify(m, i, false);
		m->ioeventfd_on[i] = false;
	}
	m->dev_features_sel = m->drv_features_sel = m->queue_sel = 0;
	pthread_mutex_unlock(&d->lock);
}

/* Status writes (virtio 1.2, 2.1 and 3.1.1).  dev->lock held. */
static void write_status(struct vmmio *m, uint32_t val)
{
	struct virtio_dev *d = m->dev;
	uint32_t old = d->status, set;

	if (val == 0) {
		virtio_dev_reset_locked(d);
		for (unsigned int i = 0; i < VIRTIO_MAX_QUEUES; i++)
			bind_notify(m, i, false);
		m->dev_features_sel = m->drv_features_sel = m->queue_sel = 0;
		return;
	}
	val &= 0xff & ~VIRTIO_STATUS_NEEDS_RESET;   /* NEEDS_RESET is the device's bit */
	if ((val & old & 0xff & ~VIRTIO_STATUS_NEEDS_RESET) !=
	    (old & 0xff & ~VIRTIO_STATUS_NEEDS_RESET))
		return;   /* clearing bits without a reset: not allowed, ignored */
	set = val & ~old;
	if (set & VIRTIO_STATUS_FEATURES_OK) {
		/* Only features we offered, and never without VERSION_1
		 * (no legacy interface here). */
		if ((d->driver_features & ~d->offered) ||
		    !(d->driver_features & (1ull << VIRTIO_F_VERSION_1)) ||
		    (old & VIRTIO_STATUS_DRIVER_OK))
			set &= ~VIRTIO_STATUS_FEATURES_OK;
	}
	if (set & VIRTIO_STATUS_DRIVER_OK) {
		if (!((old | set) & VIRTIO_STATUS_FEATURES_OK)) {
			d->status |= set & ~VIRTIO_STATUS_DRIVER_OK;
			virtio_dev_set_needs_reset_locked(d, "DRIVER_OK without FEATURES_OK");
			return;
		}
		d->status |= set;
		if (d->ops->activate) {
			virtio_dev_quiesce_locked(d);
			int r = d->ops->activate(d);

			if (r < 0) {
				virtio_dev_set_needs_reset_locked(d, "activation failed");
				return;
			}
		}
		virtio_dev_wake(d);
		/* Buffers may already be waiting (the driver filled the rings
		 * before DRIVER_OK): look at every ready queue once. */
		for (unsigned int i = 0; i < d->nr_queues; i++)
			if (d->vqs[i].ready)
				virtio_dev_kick(d, i);
		return;
	}
	d->status |= set;
}

static void write_queue_ready(struct vmmio *m, struct virtq *q, uint32_t val)
{
	struct virtio_dev *d = m->dev;
	int r;

	if (val == (uint32_t)q->ready)
		return;
	virtio_dev_quiesce_locked(d);
	if (!val) {
		bind_notify(m, q->index, false);
		q->ready = false;
		return;
	}
	r = virtq_map(q, d->mem, virtio_has_feature(d, VIRTIO_RING_F_EVENT_IDX),
		      virtio_has_feature(d, VIRTIO_RING_F_INDIRECT_DESC));
	if (r < 0) {
		virtio_dev_set_needs_reset_locked(d, r == -EFAULT ? "queue rings outside guest RAM"
					    : "bad queue size or ring alignment");
		return;
	}
	bind_notify(m, q->index, true);
}

static uint32_t read_reg(struct vmmio *m, uint64_t off)
{
	struct virtio_dev *d = m->dev;
	struct virtq *q = sel_queue(m);

	switch (off) {
	case VMMIO_MAGIC_VALUE: return VMMIO_MAGIC;
	case VMMIO_VERSION_REG: return VMMIO_VERSION;
	case VMMIO_DEVICE_ID: return d->device_id;
	case VMMIO_VENDOR_ID_REG: return VMMIO_VENDOR_ID;
	case VMMIO_DEVICE_FEATURES:
		return m->dev_features_sel < 2 ? (uint32_t)(d->offered >> (32 * m->dev_features_sel)) : 0;
	case VMMIO_QUEUE_NUM_MAX: return q ? q->num_max : 0;
	case VMMIO_QUEUE_NUM: return q ? q->num : 0;
	case VMMIO_QUEUE_READY: return q ? q->ready : 0;
	case VMMIO_INTERRUPT_STATUS: return __atomic_load_n(&d->isr, __ATOMIC_SEQ_CST);
	case VMMIO_STATUS: return d->status;
	case VMMIO_QUEUE_DESC_LOW: return q ? (uint32_t)q->desc_gpa : 0;
	case VMMIO_QUEUE_DESC_HIGH: return q ? (uint32_t)(q->desc_gpa >> 32) : 0;
	case VMMIO_QUEUE_AVAIL_LOW: return q ? (uint32_t)q->avail_gpa : 0;
	case VMMIO_QUEUE_AVAIL_HIGH: return q ? (uint32_t)(q->avail_gpa >> 32) : 0;
	case VMMIO_QUEUE_USED_LOW: return q ? (uint32_t)q->used_gpa : 0;
	case VMMIO_QUEUE_USED_HIGH: return q ? (uint32_t)(q->used_gpa >> 32) : 0;
	case VMMIO_SHM_LEN_LOW:
	case VMMIO_SHM_LEN_HIGH:
		return 0xffffffffu;   /* no shared memory regions */
	case VMMIO_CONFIG_GENERATION:
		return __atomic_load_n(&d->config_generation, __ATOMIC_SEQ_CST);
	default:
		return 0;
	}
}

static void set_addr(uint64_t *a, bool high, uint32_t v)
{
	*a = high ? (*a & 0xffffffffull) | ((uint64_t)v << 32) : (*a & ~0xffffffffull) | v;
}

static void write_reg(struct vmmio *m, uint64_t off, uint32_t val)
{
	struct virtio_dev *d = m->dev;
	struct virtq *q = sel_queue(m);
	bool qcfg = q && !q->ready;   /* queue registers are writable only while not ready */

	switch (off) {
	case VMMIO_DEVICE_FEATURES_SEL: m->dev_features_sel = val; break;
	case VMMIO_DRIVER_FEATURES_SEL: m->drv_features_sel = val; break;
	case VMMIO_DRIVER_FEATURES:
		if (m->drv_features_sel < 2 && !(d->status & VIRTIO_STATUS_FEATURES_OK))
			set_addr(&d->driver_features, m->drv_features_sel == 1, val);
		break;
	case VMMIO_QUEUE_SEL: m->queue_sel = val; break;
	case VMMIO_QUEUE_NUM:
		if (qcfg)
			q->num = val > 0xffff ? 0 : (uint16_t)val; /* checked when made ready */
		break;
	case VMMIO_QUEUE_READY:
		if (q)
			write_queue_ready(m, q, val & 1);
		break;
	case VMMIO_QUEUE_NOTIFY:
		/* An ioeventfd catches the common case; this is the rest. */
		m->trapped_notifies++;
		virtio_dev_kick(d, val & 0xffff);
		break;
	case VMMIO_INTERRUPT_ACK:
		__atomic_fetch_and(&d->isr, ~val, __ATOMIC_SEQ_CST);
		break;
	case VMMIO_STATUS: write_status(m, val); break;
	case VMMIO_QUEUE_DESC_LOW: case VMMIO_QUEUE_DESC_HIGH:
		if (qcfg)
			set_addr(&q->desc_gpa, off == VMMIO_QUEUE_DESC_HIGH, val);
		break;
	case VMMIO_QUEUE_AVAIL_LOW: case VMMIO_QUEUE_AVAIL_HIGH:
		if (qcfg)
			set_addr(&q->avail_gpa, off == VMMIO_QUEUE_AVAIL_HIGH, val);
		break;
	case VMMIO_QUEUE_USED_LOW: case VMMIO_QUEUE_USED_HIGH:
		if (qcfg)
			set_addr(&q->used_gpa, off == VMMIO_QUEUE_USED_HIGH, val);
		break;
	default:
		break;   /* read-only or unknown: ignored */
	}
}

void vmmio_read(struct vmmio *m, uint64_t off, void *data, unsigned int len)
{
	struct virtio_dev *d = m->dev;
	uint32_t v;

	memset(data, 0, len);
	if (len != 1 && len != 2 && len != 4 && len != 8)
		return;
	pthread_mutex_lock(&d->lock);
	if (off >= VMMIO_CONFIG) {
		uint64_t c = off - VMMIO_CONFIG;

		if (c < d->config_len && len <= d->config_len - c) {
			if (d->ops->config_read)
				d->ops->config_read(d, (uint32_t)c, data, len);
			else
				memcpy(data, d->config + c, len);
		}
	} else if (len == 4 && !(off & 3)) {
		v = read_reg(m, off);
		memcpy(data, &v, 4);
	}
	pthread_mutex_unlock(&d->lock);
}

void vmmio_write(struct vmmio *m, uint64_t off, const void *data, unsigned int len)
{
	struct virtio_dev *d = m->dev;
	uint32_t v;

	if (len != 1 && len != 2 && len != 4 && len != 8)
		return;
	pthread_mutex_lock(&d->lock);
	if (off >= VMMIO_CONFIG) {
		uint64_t c = off - VMMIO_CONFIG;

		if (c < d->config_len && len <= d->config_len - c && d->ops->config_write)
			d->ops->config_write(d, (uint32_t)c, data, len);
	} else if (len == 4 && !(off & 3)) {
		memcpy(&v, data, 4);
		write_reg(m, off, v);
	}
	pthread_mutex_unlock(&d->lock);
}

/* ---- hibernate ---- */

void vmmio_snap_get(struct vmmio *m, struct vsnap_transport *t)
{
	struct virtio_dev *d = m->dev;

	memset(t, 0, sizeof(*t));
	pthread_mutex_lock(&d->lock);
	t->device_id = d->device_id;
	t->nr_queues = d->nr_queues;
	t->offered = d->offered;
	t->driver_features = d->driver_features;
	t->status = d->status;
	t->isr = __atomic_load_n(&d->isr, __ATOMIC_SEQ_CST);
	t->config_generation = __atomic_load_n(&d->config_generation, __ATOMIC_SEQ_CST);
	t->dev_features_sel = m->dev_features_sel;
	t->drv_features_sel = m->drv_features_sel;
	t->queue_sel = m->queue_sel;
	t->config_len = d->config_len;
	memcpy(t->config, d->config, d->config_len);
	for (unsigned int i = 0; i < d->nr_queues; i++) {
		const struct virtq *q = &d->vqs[i];

		t->q[i] = (struct vsnap_queue){
			.num_max = q->num_max, .num = q->num, .ready = q->ready,
			.desc = q->desc_gpa, .avail = q->avail_gpa, .used = q->used_gpa,
			.last_avail = q->last_avail, .used_idx = q->used_idx,
			.signalled_used = q->signalled_used, .signalled_valid = q->signalled_valid,
		};
	}
	pthread_mutex_unlock(&d->lock);
}

static int same_device(const struct virtio_dev *d, const struct vsnap_transport *t,
		       char *err, size_t errlen)
{
	if (t->device_id != d->device_id || t->nr_queues != d->nr_queues) {
		snprintf(err, errlen, "saved as device %" PRIu32 " with %" PRIu32 " queues, now %" PRIu32
			 " with %u", t->device_id, t->nr_queues, d->device_id, d->nr_queues);
		return -EINVAL;
	}
	for (unsigned int i = 0; i < d->nr_queues; i++) {
		if (t->q[i].num_max != d->vqs[i].num_max) {
			snprintf(err, errlen, "queue %u: QueueNumMax %u at save, %u now", i,
				 t->q[i].num_max, d->vqs[i].num_max);
			return -EINVAL;
		}
	}
	if (t->driver_features & ~d->offered) {
		snprintf(err, errlen, "the guest negotiated features 0x%" PRIx64 " this device no "
			 "longer offers", t->driver_features & ~d->offered);
		return -EINVAL;
	}
	/* The guest has read the config space (capacity, MAC, CID): it must
	 * find the same values. */
	if (!d->ops->config_read &&
	    (t->config_len != d->config_len || memcmp(t->config, d->config, d->config_len))) {
		snprintf(err, errlen, "device configuration differs from the one the guest saw");
		return -EINVAL;
	}
	return 0;
}

int vmmio_snap_set(struct vmmio *m, const struct vsnap_transport *t, char *err, size_t errlen)
{
	struct virtio_dev *d = m->dev;
	bool event_idx = (t->driver_features >> VIRTIO_RING_F_EVENT_IDX) & 1;
	bool indirect = (t->driver_features >> VIRTIO_RING_F_INDIRECT_DESC) & 1;
	int r;

	if ((r = same_device(d, t, err, errlen)) < 0)
		return r;
	pthread_mutex_lock(&d->lock);
	virtio_dev_quiesce_locked(d);
	d->driver_features = t->driver_features;
	for (unsigned int i = 0; i < d->nr_queues; i++) {
		const struct vsnap_queue *sq = &t->q[i];
		struct virtq *q = &d->vqs[i];

		virtq_reset(q);
		q->num = sq->num;
		q->desc_gpa = sq->desc;
		q->avail_gpa = sq->avail;
		q->used_gpa = sq->used;
		if (sq->ready) {
			r = virtq_map(q, d->mem, event_idx, indirect);
			if (r < 0) {
				snprintf(err, errlen, "queue %u: %s", i, r == -EFAULT ?
					 "rings outside guest RAM" : "bad size or ring alignment");
				virtio_dev_reset_locked(d);
				pthread_mutex_unlock(&d->lock);
				return -EINVAL;
			}
		}
		q->last_avail = sq->last_avail;
		q->used_idx = sq->used_idx;
		q->signalled_used = sq->signalled_used;
		q->signalled_valid = sq->signalled_valid;
	}
	d->status = t->status;
	__atomic_store_n(&d->isr, t->isr, __ATOMIC_SEQ_CST);
	__atomic_store_n(&d->config_generation, t->config_generation, __ATOMIC_SEQ_CST);
	m->dev_features_sel = t->dev_features_sel;
	m->drv_features_sel = t->drv_features_sel;
	m->queue_sel = t->queue_sel;
	for (unsigned int i = 0; i < d->nr_queues; i++)
		if (d->vqs[i].ready)
			bind_notify(m, i, true);
	if (d->ops->restored)
		d->ops->restored(d);
	pthread_mutex_unlock(&d->lock);
	return 0;
}
