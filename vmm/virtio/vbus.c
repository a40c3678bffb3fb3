/* vmm/virtio/vbus.c - virtio-mmio slots, KVM wiring and ACPI hotplug
 * (see vbus.h and docs/virtio.md).
 */
#include "vmm/virtio/vbus.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <json-c/json.h>

#include "common/log.h"
#include "vmm/virtio/vsnap.h"

static uint32_t slot_gsi(unsigned int i)
{
	return PLAT_VIRTIO_GSI_BASE + i % PLAT_VIRTIO_GSI_COUNT;
}

static uint64_t slot_addr(unsigned int i)
{
	return PLAT_VIRTIO_MMIO_BASE + (uint64_t)i * PLAT_VIRTIO_MMIO_STRIDE;
}

static void signal_fd(int fd)
{
	uint64_t one = 1;

	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("vbus: eventfd write: %s", strerror(errno));
}

/* ---- KVM hooks ---- */

static int kvm_vm_ioctl(struct kvm *k, unsigned long req, void *arg)
{
	if (!k || k->vm_fd < 0)
		return -ENODEV;
	return k->ops->ioctl(k->vm_fd, req, arg) < 0 ? -errno : 0;
}

static int host_ioeventfd(void *opaque, uint64_t addr, uint32_t datamatch, int fd, bool assign)
{
	struct vbus *b = opaque;
	struct kvm_ioeventfd io = {
		.datamatch = datamatch, .addr = addr, .len = 4, .fd = fd,
		.flags = KVM_IOEVENTFD_FLAG_DATAMATCH | (assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN),
	};

	return kvm_vm_ioctl(b->kvm, KVM_IOEVENTFD, &io);
}

static const struct vmmio_host_ops vbus_host_ops = { .ioeventfd = host_ioeventfd };

static int bind_irqfd(struct vbus *b, int fd, uint32_t gsi, bool on)
{
	struct kvm_irqfd irq = { .fd = (uint32_t)fd, .gsi = gsi,
				 .flags = on ? 0 : KVM_IRQFD_FLAG_DEASSIGN };

	return kvm_vm_ioctl(b->kvm, KVM_IRQFD, &irq);
}

static void slot_irq(struct vbus *b, unsigned int i, bool on)
{
	struct vbus_slot *s = &b->slots[i];
	int r;

	if (b->irqfd_on[i] == on || !b->kvm)
		return;
	r = bind_irqfd(b, s->dev->irq_fd, slot_gsi(i), on);
	if (r < 0) {
		log_warn("vbus: irqfd slot %u GSI %u: %s", i, slot_gsi(i), strerror(-r));
		return;
	}
	b->irqfd_on[i] = on;
}

/* ---- setup ---- */

int vbus_init(struct vbus *b, const struct guest_mem *mem)
{
	memset(b, 0, sizeof(*b));
	b->mem = mem;
	b->ged_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	b->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (b->ged_fd < 0 || b->event_fd < 0) {
		int r = -errno;

		if (b->ged_fd >= 0)
			close(b->ged_fd);
		if (b->event_fd >= 0)
			close(b->event_fd);
		return r;
	}
	pthread_rwlock_init(&b->lock, NULL);
	return 0;
}

/* Take the device out of slot i and free it.  wrlock held. */
static void slot_clear(struct vbus *b, unsigned int i, bool unbind)
{
	struct vbus_slot *s = &b->slots[i];

	if (s->dev) {
		if (unbind)
			slot_irq(b, i, false);
		vmmio_reset(&s->mmio, unbind && b->kvm);
		virtio_dev_free(s->dev);
	}
	b->irqfd_on[i] = false;
	memset(s, 0, sizeof(*s));
}

void vbus_free(struct vbus *b)
{
	pthread_rwlock_wrlock(&b->lock);
	for (unsigned int i = 0; i < PLAT_VIRTIO_MMIO_SLOTS; i++)
		slot_clear(b, i, b->kvm != NULL);
	pthread_rwlock_unlock(&b->lock);
	pthread_rwlock_destroy(&b->lock);
	close(b->ged_fd);
	close(b->event_fd);
}

static int find_locked(struct vbus *b, const char *id)
{
	for (unsigned int i = 0; i < PLAT_VIRTIO_MMIO_SLOTS; i++)
		if (b->slots[i].state != VBUS_EMPTY && !strcmp(b->slots[i].id, id))
			return (int)i;
	return -ENOENT;
}

int vbus_find(struct vbus *b, const char *id)
{
	int r;

	pthread_rwlock_rdlock(&b->lock);
	r = find_locked(b, id);
	pthread_rwlock_unlock(&b->lock);
	return r;
}

static void ged_notify(struct vbus *b)
{
	if (b->kvm && b->ged_irqfd_on)
		signal_fd(b->ged_fd);
}

/* Put d in slot `slot` (empty) with `state`.  wrlock held. */
static void slot_place(struct vbus *b, unsigned int slot, struct virtio_dev *d, const char *id,
		       bool pinned, enum vbus_slot_state state)
{
	struct vbus_slot *s = &b->slots[slot];

	s->dev = d;
	snprintf(s->id, sizeof(s->id), "%s", id);
	s->pinned = pinned;
	s->eject_done = false;
	if (d) {
		d->used_cb = b->used_cb;
		d->used_opaque = b->used_opaque;
		vmmio_init(&s->mmio, slot_addr(slot), d, &vbus_host_ops, b);
		slot_irq(b, slot, true);
	}
	s->state = state;
}

int vbus_add(struct vbus *b, struct virtio_dev *d, const char *id, bool pinned, bool hotplug,
	     char *err, size_t errlen)
{
	int slot = -ENOSPC;

	if (!id || !*id || strlen(id) >= VBUS_ID_MAX) {
		snprintf(err, errlen, "device id must be 1..%d characters", VBUS_ID_MAX - 1);
		virtio_dev_free(d);
		return -EINVAL;
	}
	pthread_rwlock_wrlock(&b->lock);
	if (find_locked(b, id) >= 0) {
		pthread_rwlock_unlock(&b->lock);
		snprintf(err, errlen, "id '%s' is already attached", id);
		virtio_dev_free(d);
		return -EEXIST;
	}
	for (unsigned int i = 0; i < PLAT_VIRTIO_MMIO_SLOTS; i++) {
		if (b->slots[i].state == VBUS_EMPTY) {
			slot = (int)i;
			break;
		}
	}
	if (slot < 0) {
		pthread_rwlock_unlock(&b->lock);
		snprintf(err, errlen, "no free virtio slot (all %d in use or still detaching)",
			 PLAT_VIRTIO_MMIO_SLOTS);
		virtio_dev_free(d);
		return -ENOSPC;
	}
	slot_place(b, (unsigned int)slot, d, id, pinned, VBUS_PRESENT);
	if (hotplug) {
		__atomic_fetch_or(&b->inserted, 1u << slot, __ATOMIC_SEQ_CST);
		ged_notify(b);
	}
	pthread_rwlock_unlock(&b->lock);
	log_info("virtio %s: '%s' in slot %d (0x%llx, GSI %u)%s", d->name, id, slot,
		 (unsigned long long)slot_addr((unsigned int)slot), slot_gsi((unsigned int)slot),
		 hotplug ? ", hot-plugged" : "");
	return slot;
}

int vbus_remove(struct vbus *b, const char *id, bool force, char *err, size_t errlen)
{
	struct vbus_slot *s;
	uint32_t status;
	int i;

	pthread_rwlock_wrlock(&b->lock);
	i = find_locked(b, id);
	if (i < 0) {
		pthread_rwlock_unlock(&b->lock);
		snprintf(err, errlen, "no device with id '%s'", id);
		return -ENOENT;
	}
	s = &b->slots[i];
	if (s->pinned && !force) {
		pthread_rwlock_unlock(&b->lock);
		snprintf(err, errlen, "'%s' is the root drive; detaching it needs \"force\":true", id);
		return -EPERM;
	}
	if (s->state != VBUS_PRESENT && !force) {
		pthread_rwlock_unlock(&b->lock);
		snprintf(err, errlen, "'%s' is already being detached; use \"force\":true", id);
		return -EBUSY;
	}
	pthread_mutex_lock(&s->dev->lock);
	status = s->dev->status;
	pthread_mutex_unlock(&s->dev->lock);
	if (!(status & VIRTIO_STATUS_DRIVER_OK) || !b->kvm) {
		/* No driver uses it: gone at once; tell the guest so its ACPI
		 * view (and a half-probed driver) follows. */
		slot_clear(b, (unsigned int)i, true);
		__atomic_fetch_or(&b->ejectreq, 1u << i, __ATOMIC_SEQ_CST);
		ged_notify(b);
		pthread_rwlock_unlock(&b->lock);
		log_info("vbus: '%s' removed from slot %d", id, i);
		return 0;
	}
	if (force) {
		/* The backend goes now (file closed and unlocked); the slot
		 * stays reserved until the guest lets go or reboots, so a new
		 * device never lands under a driver still bound to it. */
		slot_irq(b, (unsigned int)i, false);
		vmmio_reset(&s->mmio, true);
		virtio_dev_free(s->dev);
		s->dev = NULL;
		s->state = VBUS_DEAD;
	} else {
		s->state = VBUS_EJECTING;
	}
	__atomic_fetch_or(&b->ejectreq, 1u << i, __ATOMIC_SEQ_CST);
	ged_notify(b);
	pthread_rwlock_unlock(&b->lock);
	log_info("vbus: '%s' (slot %d): eject requested%s", id, i, force ? " (forced)" : "");
	return 1;
}

void vbus_process(struct vbus *b)
{
	uint64_t v;

	if (read(b->event_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_warn("vbus: eventfd read: %s", strerror(errno));
	pthread_rwlock_wrlock(&b->lock);
	for (unsigned int i = 0; i < PLAT_VIRTIO_MMIO_SLOTS; i++) {
		struct vbus_slot *s = &b->slots[i];

		if ((s->state == VBUS_EJECTING || s->state == VBUS_DEAD) &&
		    __atomic_load_n(&s->eject_done, __ATOMIC_SEQ_CST)) {
			log_info("vbus: '%s' (slot %u) detached by the guest", s->id, i);
			slot_clear(b, i, true);
		}
	}
	pthread_rwlock_unlock(&b->lock);
}

void vbus_boot_desc(const struct vbus *b, struct boot_virtio_mmio *out, unsigned int *n,
		    struct boot_hotplug *hp)
{
	for (unsigned int i = 0; i < PLAT_VIRTIO_MMIO_SLOTS; i++)
		out[i] = (struct boot_virtio_mmio){ slot_addr(i), PLAT_VIRTIO_MMIO_STRIDE, slot_gsi(i) };
	*n = PLAT_VIRTIO_MMIO_SLOTS;
	hp->reg_addr = PLAT_HOTPLUG_ADDR;
	hp->gsi = PLAT_HOTPLUG_GSI;
}

int vbus_vm_created(struct vbus *b, struct kvm *kvm)
{
	int r;

	pthread_rwlock_wrlock(&b->lock);
	b->kvm = kvm;
	r = bind_irqfd(b, b->ged_fd, PLAT_HOTPLUG_GSI, true);
	b->ged_irqfd_on = r == 0;
	for (unsigned int i = 0; r == 0 && i < PLAT_VIRTIO_MMIO_SLOTS; i++)
		if (b->slots[i].dev)
			slot_irq(b, i, true);
	/* Devices present now are found by the boot scan: nothing pending. */
	b->inserted = b->ejectreq = 0;
	pthread_rwlock_unlock(&b->lock);
	return r;
}

void vbus_vm_destroyed(struct vbus *b)
{
	pthread_rwlock_wrlock(&b->lock);
	b->kvm = NULL;              /* irqfds and ioeventfds died with the VM */
	b->ged_irqfd_on = false;
	for (unsigned int i = 0; i < PLAT_VIRTIO_MMIO_SLOTS; i++) {
		struct vbus_slot *s = &b->slots[i];

		b->irqfd_on[i] = false;
		if (s->state == VBUS_EJECTING || s->state == VBUS_DEAD) {
			log_info("vbus: '%s' (slot %u) detached by the reset", s->id, i);
			slot_clear(b, i, false);
		} else if (s->dev) {
			vmmio_reset(&s->mmio, false);
		}
	}
	pthread_rwlock_unlock(&b->lock);
}

/* ---- guest accesses ---- */

static uint32_t present_bits(struct vbus *b)
{
	uint32_t p = 0;

	for (unsigned int i = 0; i < PLAT_VIRTIO_MMIO_SLOTS; i++)
		if (b->slots[i].state == VBUS_PRESENT)
			p |= 1u << i;
	return p;
}

static void hotplug_access(struct vbus *b, uint64_t off, void *data, unsigned int len,
			   bool is_write)
{
	uint32_t v = 0;

	if (len != 4 || (off & 3)) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	if (!is_write) {
		switch (off) {
		case 0x0: v = present_bits(b); break;
		case 0x4: v = __atomic_exchange_n(&b->inserted, 0, __ATOMIC_SEQ_CST); break;
		case 0x8: v = __atomic_exchange_n(&b->ejectreq, 0, __ATOMIC_SEQ_CST); break;
		default: break;
		}
		memcpy(data, &v, 4);
		return;
	}
	memcpy(&v, data, 4);
	if (off == 0xc && v < PLAT_VIRTIO_MMIO_SLOTS) {
		struct vbus_slot *s = &b->slots[v];

		if (s->state == VBUS_EJECTING || s->state == VBUS_DEAD) {
			__atomic_store_n(&s->eject_done, true, __ATOMIC_SEQ_CST);
			signal_fd(b->event_fd);
		}
	}
}

/* An empty (or dead) slot: a virtio-mmio placeholder (device id 0), which
 * drivers must ignore; writes are dropped. */
static void placeholder_read(uint64_t off, void *data, unsigned int len)
{
	uint32_t v = 0;

	memset(data, 0, len);
	if (len != 4)
		return;
	if (off == VMMIO_MAGIC_VALUE)
		v = VMMIO_MAGIC;
	else if (off == VMMIO_VERSION_REG)
		v = VMMIO_VERSION;
	else if (off == VMMIO_VENDOR_ID_REG)
		v = VMMIO_VENDOR_ID;
	memcpy(data, &v, 4);
}

bool vbus_mmio(struct vbus *b, uint64_t addr, void *data, unsigned int len, bool is_write)
{
	const uint64_t end = PLAT_VIRTIO_MMIO_BASE + PLAT_VIRTIO_MMIO_SLOTS * PLAT_VIRTIO_MMIO_STRIDE;

	if (addr >= PLAT_HOTPLUG_ADDR && addr - PLAT_HOTPLUG_ADDR < PLAT_HOTPLUG_SIZE) {
		pthread_rwlock_rdlock(&b->lock);
		hotplug_access(b, addr - PLAT_HOTPLUG_ADDR, data, len, is_write);
		pthread_rwlock_unlock(&b->lock);
		return true;
	}
	if (addr < PLAT_VIRTIO_MMIO_BASE || addr >= end)
		return false;
	unsigned int i = (unsigned int)((addr - PLAT_VIRTIO_MMIO_BASE) / PLAT_VIRTIO_MMIO_STRIDE);
	uint64_t off = (addr - PLAT_VIRTIO_MMIO_BASE) % PLAT_VIRTIO_MMIO_STRIDE;
	struct vbus_slot *s = &b->slots[i];

	pthread_rwlock_rdlock(&b->lock);
	if (!s->dev) {
		if (!is_write)
			placeholder_read(off, data, len);
		else if (s->state == VBUS_DEAD && off == VMMIO_STATUS && len == 4 &&
			 !*(const uint32_t *)data) {
			/* The guest's driver reset a force-detached device: it has let go. */
			__atomic_store_n(&s->eject_done, true, __ATOMIC_SEQ_CST);
			signal_fd(b->event_fd);
		}
	} else if (is_write) {
		vmmio_write(&s->mmio, off, data, len);
		if (s->state == VBUS_EJECTING && off == VMMIO_STATUS && len == 4 &&
		    !*(const uint32_t *)data) {
			/* Every Linux virtio driver resets its device in remove():
			 * the guest has let go of the ejected device. */
			__atomic_store_n(&s->eject_done, true, __ATOMIC_SEQ_CST);
			signal_fd(b->event_fd);
		}
	} else {
		vmmio_read(&s->mmio, off, data, len);
	}
	pthread_rwlock_unlock(&b->lock);
	return true;
}

static const char *state_name(enum vbus_slot_state st)
{
	switch (st) {
	case VBUS_PRESENT: return "attached";
	case VBUS_EJECTING: return "detaching";
	case VBUS_DEAD: return "detaching-forced";
	default: return "empty";
	}
}

void vbus_describe(struct vbus *b, struct json_object *o)
{
	json_object *arr = json_object_new_array();

	pthread_rwlock_rdlock(&b->lock);
	for (unsigned int i = 0; i < PLAT_VIRTIO_MMIO_SLOTS; i++) {
		struct vbus_slot *s = &b->slots[i];
		json_object *d;

		if (s->state == VBUS_EMPTY)
			continue;
		d = json_object_new_object();
		json_object_object_add(d, "id", json_object_new_string(s->id));
		json_object_object_add(d, "slot", json_object_new_int((int)i));
		json_object_object_add(d, "state", json_object_new_string(state_name(s->state)));
		json_object_object_add(d, "mmio", json_object_new_int64((int64_t)slot_addr(i)));
		json_object_object_add(d, "gsi", json_object_new_int((int)slot_gsi(i)));
		if (s->dev) {
			pthread_mutex_lock(&s->dev->lock);
			json_object_object_add(d, "device_id", json_object_new_int((int)s->dev->device_id));
			json_object_object_add(d, "driver_status", json_object_new_int((int)s->dev->status));
			json_object_object_add(d, "needs_reset", json_object_new_boolean(
				(s->dev->status & VIRTIO_STATUS_NEEDS_RESET) != 0));
			json_object_object_add(d, "kicks", json_object_new_int64(
				(int64_t)__atomic_load_n(&s->dev->kicks, __ATOMIC_RELAXED)));
			json_object_object_add(d, "interrupts", json_object_new_int64(
				(int64_t)__atomic_load_n(&s->dev->irqs, __ATOMIC_RELAXED)));
			if (s->dev->ops->describe)
				s->dev->ops->describe(s->dev, d);
			pthread_mutex_unlock(&s->dev->lock);
		}
		json_object_array_add(arr, d);
	}
	pthread_rwlock_unlock(&b->lock);
	json_object_object_add(o, "devices", arr);
}

/* ---- hibernate ---- */

int vbus_snap_check(struct vbus *b, char *err, size_t errlen)
{
	int r = 0;

	pthread_rwlock_rdlock(&b->lock);
	for (unsigned int i = 0; i < PLAT_VIRTIO_MMIO_SLOTS && r == 0; i++) {
		struct vbus_slot *s = &b->slots[i];

		if (s->dev && !s->dev->ops->snap_cfg) {
			snprintf(err, errlen, "virtio device '%s' cannot be saved (no way to re-create "
				 "it in a new process)", s->id);
			r = -EOPNOTSUPP;
		}
	}
	pthread_rwlock_unlock(&b->lock);
	return r;
}

void vbus_thaw(struct vbus *b)
{
	pthread_rwlock_rdlock(&b->lock);
	for (unsigned int i = 0; i < PLAT_VIRTIO_MMIO_SLOTS; i++)
		if (b->slots[i].dev)
			virtio_dev_thaw(b->slots[i].dev);
	pthread_rwlock_unlock(&b->lock);
}

int vbus_freeze(struct vbus *b, char *err, size_t errlen)
{
	int r = 0;

	/* A slot the guest has let go of is freed now rather than saved. */
	vbus_process(b);
	pthread_rwlock_rdlock(&b->lock);
	for (unsigned int i = 0; i < PLAT_VIRTIO_MMIO_SLOTS && r == 0; i++) {
		struct vbus_slot *s = &b->slots[i];

		if (!s->dev)
			continue;
		r = virtio_dev_freeze(s->dev);
		if (r < 0)
			snprintf(err, errlen, "virtio device '%s': %s", s->id, strerror(-r));
	}
	pthread_rwlock_unlock(&b->lock);
	if (r < 0)
		vbus_thaw(b);
	return r;
}

static uint32_t used_slots(struct vbus *b)
{
	uint32_t m = 0;

	for (unsigned int i = 0; i < PLAT_VIRTIO_MMIO_SLOTS; i++)
		if (b->slots[i].state != VBUS_EMPTY)
			m |= 1u << i;
	return m;
}

static void bus_save(void *dev, struct snap_buf *out)
{
	struct vbus *b = dev;
	struct vsnap_bus v;

	pthread_rwlock_rdlock(&b->lock);
	v.inserted = __atomic_load_n(&b->inserted, __ATOMIC_SEQ_CST);
	v.ejectreq = __atomic_load_n(&b->ejectreq, __ATOMIC_SEQ_CST);
	v.slots = used_slots(b);
	pthread_rwlock_unlock(&b->lock);
	vsnap_bus_put(out, &v);
}

static int bus_restore(void *dev, const uint8_t *p, size_t len, char *err, size_t errlen)
{
	struct vbus *b = dev;
	struct vsnap_bus v;
	int r = vsnap_bus_get(p, len, PLAT_VIRTIO_MMIO_SLOTS, &v, err, errlen);

	if (r < 0)
		return r;
	pthread_rwlock_wrlock(&b->lock);
	if (v.slots != used_slots(b)) {
		pthread_rwlock_unlock(&b->lock);
		snprintf(err, errlen, "slots in use 0x%x, the snapshot says 0x%x", used_slots(b), v.slots);
		return -EINVAL;
	}
	/* Hotplug events the guest had not collected yet. */
	b->inserted = v.inserted;
	b->ejectreq = v.ejectreq;
	pthread_rwlock_unlock(&b->lock);
	return 0;
}

static const struct snap_dev_ops vbus_snap_ops = {
	.name = "virtio-bus", .tag = SNAP_TAG_VBUS, .save = bus_save, .restore = bus_restore,
};

static uint32_t state_to_snap(enum vbus_slot_state st)
{
	return st == VBUS_EJECTING ? VSNAP_EJECTING : st == VBUS_DEAD ? VSNAP_DEAD : VSNAP_PRESENT;
}

static void slot_save(void *dev, struct snap_buf *out)
{
	struct vbus_slot *s = dev;
	struct vsnap_slot *v = calloc(1, sizeof(*v));

	if (!v) {
		out->oom = true;   /* the save fails: "out of memory" */
		return;
	}
	v->state = state_to_snap(s->state);
	v->pinned = s->pinned;
	snprintf(v->id, sizeof(v->id), "%s", s->id);
	if (s->dev && v->state != VSNAP_DEAD) {
		v->cfg.device_id = s->dev->device_id;
		s->dev->ops->snap_cfg(s->dev, &v->cfg);   /* vbus_snap_check: present */
		vmmio_snap_get(&s->mmio, &v->tr);
	} else {
		v->state = VSNAP_DEAD;
	}
	vsnap_slot_put(out, v);
	free(v);
}

static int slot_restore(void *dev, const uint8_t *p, size_t len, char *err, size_t errlen)
{
	struct vbus_slot *s = dev;
	struct vsnap_slot *v = malloc(sizeof(*v));
	int r;

	if (!v) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r = vsnap_slot_get(p, len, v, err, errlen);
	if (r == 0 && (strcmp(v->id, s->id) || v->state != state_to_snap(s->state) ||
		       v->pinned != s->pinned || (v->state != VSNAP_DEAD && !s->dev))) {
		snprintf(err, errlen, "slot '%s' does not match the device made for it", s->id);
		r = -EINVAL;
	}
	if (r == 0 && s->dev)
		r = vmmio_snap_set(&s->mmio, &v->tr, err, errlen);
	free(v);
	return r;
}

static const struct snap_dev_ops vbus_slot_snap_ops = {
	.name = "virtio-slot", .tag = SNAP_TAG_VDEV, .save = slot_save, .restore = slot_restore,
};

unsigned int vbus_snap_devs(struct vbus *b, struct snap_dev *out)
{
	unsigned int n = 0;

	out[n++] = (struct snap_dev){ &vbus_snap_ops, b, 0 };
	for (unsigned int i = 0; i < PLAT_VIRTIO_MMIO_SLOTS; i++)
		if (b->slots[i].state != VBUS_EMPTY)
			out[n++] = (struct snap_dev){ &vbus_slot_snap_ops, &b->slots[i], i };
	return n;
}

int vbus_snap_create(struct vbus *b, const struct snap_file *f, char *err, size_t errlen)
{
	const struct snap_section *sec = snap_find(f, SNAP_TAG_VBUS, 0);
	struct vsnap_slot *v;
	struct vsnap_bus bus;
	char why[256];
	int r;

	if (!sec) {
		snprintf(err, errlen, "snapshot has no virtio bus section (VBUS)");
		return -EINVAL;
	}
	r = vsnap_bus_get(sec->data, (size_t)sec->len, PLAT_VIRTIO_MMIO_SLOTS, &bus, why, sizeof(why));
	if (r < 0) {
		snprintf(err, errlen, "virtio bus section: %s", why);
		return r;
	}
	v = malloc(sizeof(*v));
	if (!v) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (unsigned int i = 0; i < PLAT_VIRTIO_MMIO_SLOTS && r == 0; i++) {
		struct virtio_dev *d = NULL;
		enum vbus_slot_state st;

		if (!(bus.slots & (1u << i)))
			continue;
		sec = snap_find(f, SNAP_TAG_VDEV, i);
		if (!sec) {
			snprintf(err, errlen, "virtio slot %u: no VDEV section", i);
			r = -EINVAL;
			break;
		}
		r = vsnap_slot_get(sec->data, (size_t)sec->len, v, why, sizeof(why));
		if (r < 0) {
			snprintf(err, errlen, "virtio slot %u: %s", i, why);
			break;
		}
		pthread_rwlock_rdlock(&b->lock);
		r = find_locked(b, v->id) >= 0 || b->slots[i].state != VBUS_EMPTY ? -EEXIST : 0;
		pthread_rwlock_unlock(&b->lock);
		if (r < 0) {
			snprintf(err, errlen, "virtio slot %u: id '%s' or the slot is taken twice", i, v->id);
			r = -EINVAL;
			break;
		}
		if (v->state != VSNAP_DEAD) {
			d = vsnap_dev_new(&v->cfg, v->id, b->mem, why, sizeof(why));
			if (!d) {
				r = errno ? -errno : -EINVAL;
				snprintf(err, errlen, "%s", why);
				break;
			}
		}
		st = v->state == VSNAP_EJECTING ? VBUS_EJECTING : v->state == VSNAP_DEAD ? VBUS_DEAD
										     : VBUS_PRESENT;
		pthread_rwlock_wrlock(&b->lock);
		slot_place(b, i, d, v->id, v->pinned, st);
		pthread_rwlock_unlock(&b->lock);
		log_info("virtio: '%s' back in slot %u%s", v->id, i,
			 st == VBUS_PRESENT ? "" : st == VBUS_EJECTING ? " (detaching)" : " (detached, reserved)");
	}
	free(v);
	return r;
}

void vbus_snap_resumed(struct vbus *b)
{
	pthread_rwlock_rdlock(&b->lock);
	for (unsigned int i = 0; i < PLAT_VIRTIO_MMIO_SLOTS; i++) {
		struct virtio_dev *d = b->slots[i].dev;

		if (!d)
			continue;
		pthread_mutex_lock(&d->lock);
		if (virtio_dev_live_locked(d))
			for (unsigned int q = 0; q < d->nr_queues; q++)
				if (d->vqs[q].ready)
					virtio_dev_kick(d, q);
		if (__atomic_load_n(&d->isr, __ATOMIC_SEQ_CST))
			signal_fd(d->irq_fd);
		pthread_mutex_unlock(&d->lock);
		virtio_dev_wake(d);
	}
	pthread_rwlock_unlock(&b->lock);
}
