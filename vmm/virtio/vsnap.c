/* vmm/virtio/vsnap.c - virtio snapshot records (see vsnap.h).  Pure except
 * vsnap_dev_new(), which opens the backends. */
#include "vmm/virtio/vsnap.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vmm/virtio/blk.h"
#include "vmm/virtio/rng.h"
#include "vmm/virtio/vsock.h"

#define STATUS_KNOWN (VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DRIVER_OK | \
		      VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED)

static int bad(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static bool pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

/* ---- transport ---- */

void vsnap_transport_put(struct snap_buf *b, const struct vsnap_transport *t)
{
	snap_put_u32(b, t->device_id);
	snap_put_u32(b, t->nr_queues);
	snap_put_u64(b, t->offered);
	snap_put_u64(b, t->driver_features);
	snap_put_u32(b, t->status);
	snap_put_u32(b, t->isr);
	snap_put_u32(b, t->config_generation);
	snap_put_u32(b, t->dev_features_sel);
	snap_put_u32(b, t->drv_features_sel);
	snap_put_u32(b, t->queue_sel);
	snap_put_u32(b, t->config_len);
	snap_put(b, t->config, t->config_len <= VIRTIO_CONFIG_MAX ? t->config_len : 0);
	for (uint32_t i = 0; i < t->nr_queues && i < VIRTIO_MAX_QUEUES; i++) {
		const struct vsnap_queue *q = &t->q[i];

		snap_put_u32(b, q->num_max);
		snap_put_u32(b, q->num);
		snap_put_u8(b, q->ready);
		snap_put_u64(b, q->desc);
		snap_put_u64(b, q->avail);
		snap_put_u64(b, q->used);
		snap_put_u32(b, q->last_avail);
		snap_put_u32(b, q->used_idx);
		snap_put_u32(b, q->signalled_used);
		snap_put_u8(b, q->signalled_valid);
	}
}

static int queue_get(struct snap_rd *r, struct vsnap_queue *q, uint32_t i, char *err, size_t errlen)
{
	uint32_t num_max, num, la, ui, su;
	uint8_t ready, sv;

	num_max = snap_get_u32(r);
	num = snap_get_u32(r);
	ready = snap_get_u8(r);
	q->desc = snap_get_u64(r);
	q->avail = snap_get_u64(r);
	q->used = snap_get_u64(r);
	la = snap_get_u32(r);
	ui = snap_get_u32(r);
	su = snap_get_u32(r);
	sv = snap_get_u8(r);
	if (r->bad)
		return bad(err, errlen, "queue %" PRIu32 ": truncated", i);
	if (!pow2(num_max) || num_max > VIRTQ_MAX_SIZE || num > 0xffff || ready > 1 || sv > 1 ||
	    la > 0xffff || ui > 0xffff || su > 0xffff)
		return bad(err, errlen, "queue %" PRIu32 ": size or index out of range", i);
	q->num_max = (uint16_t)num_max;
	q->num = (uint16_t)num;
	q->ready = ready;
	q->last_avail = (uint16_t)la;
	q->used_idx = (uint16_t)ui;
	q->signalled_used = (uint16_t)su;
	q->signalled_valid = sv;
	if (!q->ready)
		return 0;
	/* The rules QueueReady applies to a live driver (virtq_map). */
	if (!pow2(q->num) || q->num > q->num_max || (q->desc & 15) || (q->avail & 1) || (q->used & 3))
		return bad(err, errlen, "queue %" PRIu32 ": bad size or ring alignment", i);
	/* Chains taken and not yet given back: never more than the ring holds. */
	if ((uint16_t)(q->last_avail - q->used_idx) > q->num)
		return bad(err, errlen, "queue %" PRIu32 ": %u chains in flight in a ring of %u", i,
			   (unsigned int)(uint16_t)(q->last_avail - q->used_idx), q->num);
	return 0;
}

int vsnap_transport_get(struct snap_rd *r, struct vsnap_transport *t, char *err, size_t errlen)
{
	memset(t, 0, sizeof(*t));
	t->device_id = snap_get_u32(r);
	t->nr_queues = snap_get_u32(r);
	t->offered = snap_get_u64(r);
	t->driver_features = snap_get_u64(r);
	t->status = snap_get_u32(r);
	t->isr = snap_get_u32(r);
	t->config_generation = snap_get_u32(r);
	t->dev_features_sel = snap_get_u32(r);
	t->drv_features_sel = snap_get_u32(r);
	t->queue_sel = snap_get_u32(r);
	t->config_len = snap_get_u32(r);
	if (r->bad)
		return bad(err, errlen, "transport state truncated");
	if (t->nr_queues < 1 || t->nr_queues > VIRTIO_MAX_QUEUES || t->config_len > VIRTIO_CONFIG_MAX)
		return bad(err, errlen, "transport state: %" PRIu32 " queues, %" PRIu32
			   " config bytes", t->nr_queues, t->config_len);
	if (t->status & ~(uint32_t)STATUS_KNOWN)
		return bad(err, errlen, "transport state: unknown status bits 0x%" PRIx32, t->status);
	if (t->driver_features & ~t->offered)
		return bad(err, errlen, "transport state: driver features 0x%" PRIx64
			   " were never offered", t->driver_features & ~t->offered);
	if ((t->status & VIRTIO_STATUS_FEATURES_OK) &&
	    !(t->driver_features & (1ull << VIRTIO_F_VERSION_1)))
		return bad(err, errlen, "transport state: FEATURES_OK without VERSION_1");
	if ((t->status & VIRTIO_STATUS_DRIVER_OK) && !(t->status & VIRTIO_STATUS_FEATURES_OK))
		return bad(err, errlen, "transport state: DRIVER_OK without FEATURES_OK");
	if (t->isr & ~(uint32_t)(VIRTIO_ISR_QUEUE | VIRTIO_ISR_CONFIG))
		return bad(err, errlen, "transport state: InterruptStatus 0x%" PRIx32, t->isr);
	if (!snap_get(r, t->config, t->config_len))
		return bad(err, errlen, "transport state truncated");
	for (uint32_t i = 0; i < t->nr_queues; i++) {
		int e = queue_get(r, &t->q[i], i, err, errlen);

		if (e < 0)
			return e;
	}
	return 0;
}

/* ---- device configuration ---- */

static void devcfg_put(struct snap_buf *b, const struct vsnap_devcfg *c)
{
	snap_put_u32(b, c->device_id);
	switch (c->device_id) {
	case VIRTIO_ID_BLOCK:
		snap_put_str(b, c->path);
		snap_put_str(b, c->serial);
		snap_put_u8(b, c->readonly);
		snap_put_u64(b, c->size);
		break;
	case VIRTIO_ID_NET:
		snap_put_str(b, c->net.tap);
		snap_put_str(b, c->net.netns);
		snap_put(b, c->net.mac, 6);
		snap_put_u8(b, c->csum);
		snap_put_u8(b, c->tso);
		break;
	case VIRTIO_ID_VSOCK:
		snap_put_u64(b, c->vsock.cid);
		snap_put_str(b, c->vsock.uds);
		break;
	default:
		break;   /* rng: nothing */
	}
}

/* Copy a string of at most max bytes (checked by snap_get_str) into dst. */
static bool take_str(struct snap_rd *r, char *dst, size_t max, bool empty_ok)
{
	char *s = snap_get_str(r, max);
	bool ok = s && (empty_ok || *s);

	if (ok)
		memcpy(dst, s, strlen(s) + 1);
	else
		r->bad = true;
	free(s);
	return ok;
}

static int devcfg_get(struct snap_rd *r, struct vsnap_devcfg *c, char *err, size_t errlen)
{
	uint8_t a, b2;

	memset(c, 0, sizeof(*c));
	c->device_id = snap_get_u32(r);
	switch (c->device_id) {
	case VIRTIO_ID_BLOCK:
		take_str(r, c->path, VSNAP_PATH_MAX, false);
		take_str(r, c->serial, VSNAP_ID_MAX, false);
		a = snap_get_u8(r);
		c->size = snap_get_u64(r);
		if (r->bad || a > 1 || c->size < VBLK_SECTOR)
			return bad(err, errlen, "drive record malformed");
		c->readonly = a;
		return 0;
	case VIRTIO_ID_NET:
		take_str(r, c->net.tap, NETADDR_IFNAME_MAX, false);
		take_str(r, c->net.netns, NETADDR_NSNAME_MAX, true);
		snap_get(r, c->net.mac, 6);
		a = snap_get_u8(r);
		b2 = snap_get_u8(r);
		if (r->bad || a > 1 || b2 > 1 || !netaddr_valid_ifname(c->net.tap) ||
		    (c->net.netns[0] && !netaddr_valid_nsname(c->net.netns)) || (c->net.mac[0] & 1))
			return bad(err, errlen, "network interface record malformed");
		c->net.has_mac = true;
		c->csum = a;
		c->tso = b2;
		return 0;
	case VIRTIO_ID_VSOCK:
		c->vsock.cid = snap_get_u64(r);
		take_str(r, c->vsock.uds, VSOCK_UDS_PATH_MAX, false);
		if (r->bad || c->vsock.cid < 3 || c->vsock.cid > 0xffffffffull)
			return bad(err, errlen, "vsock record malformed");
		return 0;
	case VIRTIO_ID_RNG:
		return r->bad ? bad(err, errlen, "device record truncated") : 0;
	default:
		return bad(err, errlen, "unknown virtio device id %" PRIu32, c->device_id);
	}
}

/* ---- slot ---- */

void vsnap_slot_put(struct snap_buf *b, const struct vsnap_slot *s)
{
	snap_put_u32(b, VSNAP_LAYOUT);
	snap_put_u32(b, s->state);
	snap_put_u8(b, s->pinned);
	snap_put_str(b, s->id);
	if (s->state == VSNAP_DEAD)
		return;
	devcfg_put(b, &s->cfg);
	vsnap_transport_put(b, &s->tr);
}

int vsnap_slot_get(const uint8_t *p, size_t len, struct vsnap_slot *s, char *err, size_t errlen)
{
	struct snap_rd r;
	uint8_t pin;
	int e;

	memset(s, 0, sizeof(*s));
	snap_rd_init(&r, p, len);
	if (snap_get_u32(&r) != VSNAP_LAYOUT)
		return bad(err, errlen, "unknown layout (or truncated)");
	s->state = snap_get_u32(&r);
	pin = snap_get_u8(&r);
	take_str(&r, s->id, VSNAP_ID_MAX, false);
	if (r.bad || pin > 1 || s->state < VSNAP_PRESENT || s->state > VSNAP_DEAD)
		return bad(err, errlen, "slot record malformed");
	s->pinned = pin;
	if (s->state != VSNAP_DEAD) {
		if ((e = devcfg_get(&r, &s->cfg, err, errlen)) < 0)
			return e;
		if ((e = vsnap_transport_get(&r, &s->tr, err, errlen)) < 0)
			return e;
		if (s->tr.device_id != s->cfg.device_id)
			return bad(err, errlen, "transport is for device %" PRIu32 ", record for %" PRIu32,
				   s->tr.device_id, s->cfg.device_id);
	}
	if (!snap_rd_done(&r))
		return bad(err, errlen, "%zu bytes after the slot record", len - r.off);
	return 0;
}

/* ---- bus ---- */

void vsnap_bus_put(struct snap_buf *b, const struct vsnap_bus *v)
{
	snap_put_u32(b, VSNAP_LAYOUT);
	snap_put_u32(b, v->inserted);
	snap_put_u32(b, v->ejectreq);
	snap_put_u32(b, v->slots);
}

int vsnap_bus_get(const uint8_t *p, size_t len, unsigned int nr_slots, struct vsnap_bus *v,
		  char *err, size_t errlen)
{
	uint32_t mask = nr_slots >= 32 ? 0xffffffffu : (1u << nr_slots) - 1;
	struct snap_rd r;

	memset(v, 0, sizeof(*v));
	snap_rd_init(&r, p, len);
	if (snap_get_u32(&r) != VSNAP_LAYOUT)
		return bad(err, errlen, "unknown layout (or truncated)");
	v->inserted = snap_get_u32(&r);
	v->ejectreq = snap_get_u32(&r);
	v->slots = snap_get_u32(&r);
	if (!snap_rd_done(&r) || ((v->inserted | v->ejectreq | v->slots) & ~mask))
		return bad(err, errlen, "bus record malformed or names slots beyond %u", nr_slots);
	return 0;
}

/* ---- re-creating a device ---- */

struct virtio_dev *vsnap_dev_new(const struct vsnap_devcfg *c, const char *id,
				 const struct guest_mem *mem, char *err, size_t errlen)
{
	struct virtio_dev *d;
	unsigned int index = 0;
	struct stat st;

	switch (c->device_id) {
	case VIRTIO_ID_BLOCK: {
		struct vblk_cfg bc = { .file = c->path, .id = c->serial, .readonly = c->readonly };

		/* Checked before the file is opened read-write: a missing or
		 * replaced volume is refused with nothing touched. */
		if (stat(c->path, &st) < 0) {
			snprintf(err, errlen, "drive %s: %s: %s (the volume the guest was "
				 "hibernated with is missing)", c->serial, c->path, strerror(errno));
			return NULL;
		}
		if (S_ISREG(st.st_mode) && (uint64_t)st.st_size != c->size) {
			snprintf(err, errlen, "drive %s: %s is %lld bytes, the guest was hibernated "
				 "with %" PRIu64 " (a different volume?)", c->serial, c->path,
				 (long long)st.st_size, c->size);
			errno = EINVAL;
			return NULL;
		}
		d = vblk_new(&bc, mem, err, errlen);
		if (d && VBLK_SECTOR * ((const struct virtio_blk_config *)d->config)->capacity !=
			 (c->size & ~(VBLK_SECTOR - 1))) {
			snprintf(err, errlen, "drive %s: %s has a different size than at hibernate",
				 c->serial, c->path);
			virtio_dev_free(d);
			errno = EINVAL;
			return NULL;
		}
		return d;
	}
	case VIRTIO_ID_NET:
		/* "net<N>" names the device in logs, as at boot. */
		if (sscanf(id, "net%u", &index) != 1 || index >= VNET_MAX_NICS)
			index = 0;
		return vnet_new(&c->net, index, mem, err, errlen);
	case VIRTIO_ID_VSOCK:
		return vsock_new(&c->vsock, mem, err, errlen);
	case VIRTIO_ID_RNG:
		d = vrng_new(mem);
		if (!d)
			snprintf(err, errlen, "virtio-rng: %s", strerror(errno));
		return d;
	default:
		snprintf(err, errlen, "unknown virtio device id %" PRIu32, c->device_id);
		errno = EINVAL;
		return NULL;
	}
}
