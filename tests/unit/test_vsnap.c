/* tests/unit/test_vsnap.c - virtio devices in a hibernate snapshot
 * (vmm/virtio/vsnap.c, vmmio_snap_get/set, virtio_dev_freeze): records
 * round-trip exactly, every truncation and every out-of-range value is
 * refused, a live device's transport state moves to a new device that
 * then carries on where the old one stopped, a mismatched device is
 * refused and left reset, a frozen device runs nothing, and a drive that
 * is missing or changed size is refused without being touched. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "vmm/mem.h"
#include "vmm/virtio/blk.h"
#include "vmm/virtio/mmio.h"
#include "vmm/virtio/rng.h"
#include "vmm/virtio/vsnap.h"

#define BASE  0xd0000000ull
#define DESC  0x10000ull
#define AVAIL 0x11000ull
#define USED  0x12000ull
#define BUF   0x20000ull

/* ---------------------------------------------------------- pure ---- */

static void sample_transport(struct vsnap_transport *t)
{
	memset(t, 0, sizeof(*t));
	t->device_id = VIRTIO_ID_NET;
	t->nr_queues = 3;
	t->offered = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_RING_F_EVENT_IDX) | 0x25;
	t->driver_features = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_RING_F_EVENT_IDX) | 0x20;
	t->status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
		    VIRTIO_STATUS_DRIVER_OK;
	t->isr = VIRTIO_ISR_QUEUE;
	t->config_generation = 7;
	t->dev_features_sel = 1;
	t->drv_features_sel = 1;
	t->queue_sel = 2;
	t->config_len = 12;
	for (unsigned int i = 0; i < 12; i++)
		t->config[i] = (uint8_t)(0xa0 + i);
	t->q[0] = (struct vsnap_queue){ 256, 128, true, 0x100000, 0x101000, 0x102000, 65530, 65520,
					65519, true };
	t->q[1] = (struct vsnap_queue){ 256, 256, true, 0x110000, 0x111000, 0x112000, 3, 3, 2, false };
	t->q[2] = (struct vsnap_queue){ 16, 16, false, 0, 0, 0, 0, 0, 0, false };
}

static int tr_decode(const struct snap_buf *b, struct vsnap_transport *t)
{
	struct snap_rd r;
	char err[160];
	int e;

	snap_rd_init(&r, b->data, b->len);
	e = vsnap_transport_get(&r, t, err, sizeof(err));
	if (e == 0 && !snap_rd_done(&r))
		e = -EINVAL;
	return e;
}

static void test_transport_round_trip(void **state)
{
	struct vsnap_transport a, b;
	struct snap_buf buf = { 0 };

	(void)state;
	sample_transport(&a);
	vsnap_transport_put(&buf, &a);
	assert_false(buf.oom);
	assert_int_equal(tr_decode(&buf, &b), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	/* Every truncation is refused. */
	for (size_t cut = 0; cut < buf.len; cut++) {
		struct snap_buf s = { .data = buf.data, .len = cut };

		assert_int_equal(tr_decode(&s, &b), -EINVAL);
	}
	snap_buf_free(&buf);
}

/* Each mutation of a good record must be refused by the decoder. */
static void test_transport_bad_values(void **state)
{
	struct vsnap_transport t, out;
	int cases = 0;

	(void)state;
	for (int k = 0; k < 16; k++) {
		struct snap_buf buf = { 0 };

		sample_transport(&t);
		switch (k) {
		case 0: t.nr_queues = 0; break;
		case 1: t.nr_queues = VIRTIO_MAX_QUEUES + 1; break;
		case 2: t.status |= 0x10; break;                       /* unknown status bit */
		case 3: t.driver_features |= 1ull << 40; break;        /* never offered */
		case 4: t.driver_features &= ~(1ull << VIRTIO_F_VERSION_1); break;
		case 5: t.status &= ~VIRTIO_STATUS_FEATURES_OK; break; /* DRIVER_OK alone */
		case 6: t.isr = 4; break;
		case 7: t.config_len = VIRTIO_CONFIG_MAX + 1; break;
		case 8: t.q[0].num = 100; break;                       /* not a power of 2 */
		case 9: t.q[0].num = 512; break;                       /* above QueueNumMax */
		case 10: t.q[0].desc |= 8; break;                      /* misaligned rings */
		case 11: t.q[0].avail |= 1; break;
		case 12: t.q[0].used |= 2; break;
		case 13: t.q[2].num_max = 24; break;
		case 14: t.q[1].last_avail = (uint16_t)(t.q[1].used_idx + 257); break; /* > ring */
		case 15: t.q[1].num_max = 2048; break;
		}
		vsnap_transport_put(&buf, &t);
		assert_int_equal(tr_decode(&buf, &out), -EINVAL);
		snap_buf_free(&buf);
		cases++;
	}
	assert_int_equal(cases, 16);
}

static void sample_slot(struct vsnap_slot *s, uint32_t id)
{
	memset(s, 0, sizeof(*s));
	s->state = VSNAP_PRESENT;
	sample_transport(&s->tr);
	s->tr.device_id = id;
	s->cfg.device_id = id;
	switch (id) {
	case VIRTIO_ID_BLOCK:
		snprintf(s->id, sizeof(s->id), "vol-0abc");
		snprintf(s->cfg.path, sizeof(s->cfg.path), "/var/lib/haneul/vol-0abc.img");
		snprintf(s->cfg.serial, sizeof(s->cfg.serial), "vol-0abc");
		s->cfg.readonly = true;
		s->cfg.size = 8ull << 30;
		s->pinned = true;
		break;
	case VIRTIO_ID_NET:
		snprintf(s->id, sizeof(s->id), "net1");
		snprintf(s->cfg.net.tap, sizeof(s->cfg.net.tap), "tap-i0abc");
		snprintf(s->cfg.net.netns, sizeof(s->cfg.net.netns), "haneul-vpc-1");
		memcpy(s->cfg.net.mac, "\x02\x00\x0a\x0b\x0c\x0d", 6);
		s->cfg.net.has_mac = true;
		s->cfg.csum = true;
		break;
	case VIRTIO_ID_VSOCK:
		snprintf(s->id, sizeof(s->id), "vsock0");
		s->cfg.vsock.cid = 42;
		snprintf(s->cfg.vsock.uds, sizeof(s->cfg.vsock.uds), "/run/haneul/i-1/vsock.sock");
		break;
	default:
		snprintf(s->id, sizeof(s->id), "rng0");
		break;
	}
}

static void test_slot_round_trip_and_truncation(void **state)
{
	static const uint32_t ids[] = { VIRTIO_ID_BLOCK, VIRTIO_ID_NET, VIRTIO_ID_VSOCK, VIRTIO_ID_RNG, 0 };
	struct vsnap_slot *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	char err[200];

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		struct snap_buf buf = { 0 };

		if (ids[i]) {
			sample_slot(a, ids[i]);
		} else {
			memset(a, 0, sizeof(*a));
			a->state = VSNAP_DEAD;
			snprintf(a->id, sizeof(a->id), "vol-gone");
		}
		vsnap_slot_put(&buf, a);
		assert_int_equal(vsnap_slot_get(buf.data, buf.len, b, err, sizeof(err)), 0);
		assert_int_equal(b->state, a->state);
		assert_int_equal(b->pinned, a->pinned);
		assert_string_equal(b->id, a->id);
		assert_memory_equal(&b->cfg, &a->cfg, sizeof(a->cfg));
		assert_memory_equal(&b->tr, &a->tr, sizeof(a->tr));
		for (size_t cut = 0; cut < buf.len; cut++)
			assert_int_equal(vsnap_slot_get(buf.data, cut, b, err, sizeof(err)), -EINVAL);
		/* A byte too many. */
		snap_put_u8(&buf, 0);
		assert_int_equal(vsnap_slot_get(buf.data, buf.len, b, err, sizeof(err)), -EINVAL);
		snap_buf_free(&buf);
	}
	free(a);
	free(b);
}

static void test_slot_bad_records(void **state)
{
	struct vsnap_slot *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	char err[200];

	(void)state;
	for (int k = 0; k < 7; k++) {
		struct snap_buf buf = { 0 };

		sample_slot(a, k < 3 ? VIRTIO_ID_BLOCK : VIRTIO_ID_NET);
		switch (k) {
		case 0: a->state = 4; break;
		case 1: a->cfg.path[0] = '\0'; break;                  /* no drive path */
		case 2: a->tr.device_id = VIRTIO_ID_NET; break;        /* transport of another kind */
		case 3: snprintf(a->cfg.net.tap, sizeof(a->cfg.net.tap), "a/b"); break;
		case 4: a->cfg.net.mac[0] = 0x01; break;               /* multicast MAC */
		case 5: a->cfg.device_id = a->tr.device_id = 99; break;
		case 6: snprintf(a->cfg.net.netns, sizeof(a->cfg.net.netns), "../etc"); break;
		}
		vsnap_slot_put(&buf, a);
		assert_int_equal(vsnap_slot_get(buf.data, buf.len, b, err, sizeof(err)), -EINVAL);
		assert_true(err[0] != '\0');
		snap_buf_free(&buf);
	}
	/* Unknown layout version. */
	{
		struct snap_buf buf = { 0 };

		sample_slot(a, VIRTIO_ID_RNG);
		vsnap_slot_put(&buf, a);
		buf.data[0] = 2;
		assert_int_equal(vsnap_slot_get(buf.data, buf.len, b, err, sizeof(err)), -EINVAL);
		snap_buf_free(&buf);
	}
	free(a);
	free(b);
}

static void test_bus_record(void **state)
{
	struct vsnap_bus a = { .inserted = 0x4, .ejectreq = 0x8, .slots = 0x1f }, b;
	struct snap_buf buf = { 0 };
	char err[120];

	(void)state;
	vsnap_bus_put(&buf, &a);
	assert_int_equal(vsnap_bus_get(buf.data, buf.len, 16, &b, err, sizeof(err)), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	for (size_t cut = 0; cut < buf.len; cut++)
		assert_int_equal(vsnap_bus_get(buf.data, cut, 16, &b, err, sizeof(err)), -EINVAL);
	snap_buf_free(&buf);
	a.slots = 1u << 16;   /* a slot this bus does not have */
	vsnap_bus_put(&buf, &a);
	assert_int_equal(vsnap_bus_get(buf.data, buf.len, 16, &b, err, sizeof(err)), -EINVAL);
	snap_buf_free(&buf);
}

/* ------------------------------------------------- live devices ---- */

struct fake_host {
	int binds;
};

static int fake_ioeventfd(void *opaque, uint64_t addr, uint32_t dm, int fd, bool assign)
{
	struct fake_host *h = opaque;

	if (assign)
		h->binds++;
	return 0;
}

static const struct vmmio_host_ops fake_ops = { .ioeventfd = fake_ioeventfd };

struct fx {
	struct guest_mem gm;
	struct vmmio m, m2;
	struct virtio_dev *d, *d2;
	struct fake_host host, host2;
};

static uint32_t rd(struct vmmio *m, uint64_t off)
{
	uint32_t v;

	vmmio_read(m, off, &v, 4);
	return v;
}

static void wr(struct vmmio *m, uint64_t off, uint32_t v)
{
	vmmio_write(m, off, &v, 4);
}

static int setup(void **state)
{
	static struct fx f;

	memset(&f, 0, sizeof(f));
	assert_int_equal(mem_init(&f.gm, 16ull << 20), 0);
	f.d = vrng_new(&f.gm);
	assert_non_null(f.d);
	vmmio_init(&f.m, BASE, f.d, &fake_ops, &f.host);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	virtio_dev_free(f->d);
	if (f->d2)
		virtio_dev_free(f->d2);
	mem_free(&f->gm);
	return 0;
}

/* Linux's virtio_mmio probe, one queue of 8, DRIVER_OK. */
static void go_live(struct vmmio *m)
{
	wr(m, VMMIO_STATUS, 0);
	wr(m, VMMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	wr(m, VMMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	wr(m, VMMIO_DRIVER_FEATURES_SEL, 1);
	wr(m, VMMIO_DRIVER_FEATURES, 1);   /* VERSION_1 */
	wr(m, VMMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			    VIRTIO_STATUS_FEATURES_OK);
	wr(m, VMMIO_QUEUE_SEL, 0);
	wr(m, VMMIO_QUEUE_NUM, 8);
	wr(m, VMMIO_QUEUE_DESC_LOW, (uint32_t)DESC);
	wr(m, VMMIO_QUEUE_AVAIL_LOW, (uint32_t)AVAIL);
	wr(m, VMMIO_QUEUE_USED_LOW, (uint32_t)USED);
	wr(m, VMMIO_QUEUE_READY, 1);
	wr(m, VMMIO_STATUS, rd(m, VMMIO_STATUS) | VIRTIO_STATUS_DRIVER_OK);
}

/* Post request n (descriptor n % 8, 16 bytes at BUF + 64 n). */
static void post(struct fx *f, uint16_t n)
{
	struct vring_desc *d = mem_ptr(&f->gm, DESC, 16 * 8);
	struct vring_avail *a = mem_ptr(&f->gm, AVAIL, 6 + 16);

	d[n % 8] = (struct vring_desc){ BUF + 64ull * n, 16, VRING_DESC_F_WRITE, 0 };
	a->ring[n % 8] = n % 8;
	__atomic_store_n(&a->idx, (uint16_t)(n + 1), __ATOMIC_RELEASE);
}

static uint16_t used_idx(struct fx *f)
{
	struct vring_used *u = mem_ptr(&f->gm, USED, 6 + 64);

	return __atomic_load_n(&u->idx, __ATOMIC_ACQUIRE);
}

static bool wait_used(struct fx *f, uint16_t want, int ms)
{
	for (int i = 0; i < ms / 5; i++) {
		if (used_idx(f) == want)
			return true;
		usleep(5000);
	}
	return used_idx(f) == want;
}

static void test_live_round_trip(void **state)
{
	struct fx *f = *state;
	struct vsnap_slot *v = calloc(1, sizeof(*v)), *w = calloc(1, sizeof(*w));
	struct snap_buf buf = { 0 };
	char err[200];

	go_live(&f->m);
	post(f, 0);
	wr(&f->m, VMMIO_QUEUE_NOTIFY, 0);
	assert_true(wait_used(f, 1, 2000));
	post(f, 1);
	wr(&f->m, VMMIO_QUEUE_NOTIFY, 0);
	assert_true(wait_used(f, 2, 2000));

	/* Save: freeze, capture, encode; then a new device (a new process)
	 * over the same guest memory gets it. */
	assert_int_equal(virtio_dev_freeze(f->d), 0);
	v->state = VSNAP_PRESENT;
	snprintf(v->id, sizeof(v->id), "rng0");
	v->cfg.device_id = f->d->device_id;
	f->d->ops->snap_cfg(f->d, &v->cfg);
	vmmio_snap_get(&f->m, &v->tr);
	assert_int_equal(v->tr.q[0].last_avail, 2);
	assert_int_equal(v->tr.q[0].used_idx, 2);
	vsnap_slot_put(&buf, v);
	assert_int_equal(vsnap_slot_get(buf.data, buf.len, w, err, sizeof(err)), 0);
	f->d2 = vsnap_dev_new(&w->cfg, w->id, &f->gm, err, sizeof(err));
	assert_non_null(f->d2);
	vmmio_init(&f->m2, BASE, f->d2, &fake_ops, &f->host2);
	assert_int_equal(vmmio_snap_set(&f->m2, &w->tr, err, sizeof(err)), 0);
	assert_int_equal(rd(&f->m2, VMMIO_STATUS), rd(&f->m, VMMIO_STATUS));
	assert_int_equal(rd(&f->m2, VMMIO_QUEUE_READY), 1);
	assert_int_equal(rd(&f->m2, VMMIO_QUEUE_NUM), 8);
	assert_int_equal(rd(&f->m2, VMMIO_QUEUE_DESC_LOW), (uint32_t)DESC);
	assert_int_equal(rd(&f->m2, VMMIO_INTERRUPT_STATUS), rd(&f->m, VMMIO_INTERRUPT_STATUS));
	assert_int_equal(f->host2.binds, 1);   /* the ioeventfd is back */

	/* The guest posts a request meanwhile: the old (frozen) device never
	 * takes it, the new one carries on at index 2 (not 0). */
	post(f, 2);
	wr(&f->m, VMMIO_QUEUE_NOTIFY, 0);
	usleep(50000);
	assert_int_equal(used_idx(f), 2);
	virtio_dev_kick(f->d2, 0);
	assert_true(wait_used(f, 3, 2000));
	snap_buf_free(&buf);
	free(v);
	free(w);
}

static void test_live_mismatch_refused(void **state)
{
	struct fx *f = *state;
	struct vsnap_transport t, bad;
	char err[200];

	go_live(&f->m);
	assert_int_equal(virtio_dev_freeze(f->d), 0);
	vmmio_snap_get(&f->m, &t);
	f->d2 = vrng_new(&f->gm);
	assert_non_null(f->d2);
	vmmio_init(&f->m2, BASE, f->d2, &fake_ops, &f->host2);
	for (int k = 0; k < 5; k++) {
		bad = t;
		switch (k) {
		case 0: bad.device_id = VIRTIO_ID_BLOCK; break;
		case 1: bad.q[0].num_max = 128; break;
		case 2: bad.driver_features |= 1ull << 3; bad.offered |= 1ull << 3; break;
		case 3: bad.q[0].desc = 64ull << 20; break;          /* rings outside RAM */
		case 4: bad.config_len = 4; break;                   /* rng has no config space */
		}
		err[0] = '\0';
		assert_int_equal(vmmio_snap_set(&f->m2, &bad, err, sizeof(err)), -EINVAL);
		assert_true(err[0] != '\0');
		assert_int_equal(rd(&f->m2, VMMIO_STATUS), 0);
		assert_int_equal(rd(&f->m2, VMMIO_QUEUE_READY), 0);
	}
	assert_int_equal(vmmio_snap_set(&f->m2, &t, err, sizeof(err)), 0);
	assert_int_equal(rd(&f->m2, VMMIO_QUEUE_READY), 1);
}

static void test_freeze_and_thaw(void **state)
{
	struct fx *f = *state;

	go_live(&f->m);
	assert_int_equal(virtio_dev_freeze(f->d), 0);
	post(f, 0);
	wr(&f->m, VMMIO_QUEUE_NOTIFY, 0);
	usleep(100000);
	assert_int_equal(used_idx(f), 0);    /* frozen: nothing runs */
	virtio_dev_thaw(f->d);                /* a failed hibernate: the kick is not lost */
	assert_true(wait_used(f, 1, 2000));
	virtio_dev_thaw(f->d);                /* harmless when not frozen */
	post(f, 1);
	wr(&f->m, VMMIO_QUEUE_NOTIFY, 0);
	assert_true(wait_used(f, 2, 2000));
}

/* A drive that is gone or has another size is refused before it is
 * opened for writing; the file stays as it was. */
static void test_drive_checked(void **state)
{
	struct fx *f = *state;
	char path[] = "/tmp/haneul-vsnap-XXXXXX", err[300];
	struct vsnap_devcfg c;
	struct virtio_dev *d;
	struct stat st0, st1;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1 << 20), 0);
	assert_int_equal(pwrite(fd, "data", 4, 512), 4);
	close(fd);
	assert_int_equal(stat(path, &st0), 0);
	memset(&c, 0, sizeof(c));
	c.device_id = VIRTIO_ID_BLOCK;
	snprintf(c.path, sizeof(c.path), "%s", path);
	snprintf(c.serial, sizeof(c.serial), "vol-t");
	c.size = 2 << 20;
	d = vsnap_dev_new(&c, "vol-t", &f->gm, err, sizeof(err));
	assert_null(d);
	assert_non_null(strstr(err, "different volume"));
	c.size = 1 << 20;
	d = vsnap_dev_new(&c, "vol-t", &f->gm, err, sizeof(err));
	assert_non_null(d);
	virtio_dev_free(d);
	assert_int_equal(stat(path, &st1), 0);
	assert_int_equal(st1.st_size, st0.st_size);
	assert_int_equal(st1.st_mtim.tv_sec, st0.st_mtim.tv_sec);
	assert_int_equal(st1.st_mtim.tv_nsec, st0.st_mtim.tv_nsec);
	unlink(path);
	d = vsnap_dev_new(&c, "vol-t", &f->gm, err, sizeof(err));
	assert_null(d);
	assert_non_null(strstr(err, "missing"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_transport_round_trip),
		cmocka_unit_test(test_transport_bad_values),
		cmocka_unit_test(test_slot_round_trip_and_truncation),
		cmocka_unit_test(test_slot_bad_records),
		cmocka_unit_test(test_bus_record),
		cmocka_unit_test_setup_teardown(test_live_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_live_mismatch_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_freeze_and_thaw, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drive_checked, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
