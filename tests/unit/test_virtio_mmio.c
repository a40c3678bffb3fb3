/* tests/unit/test_virtio_mmio.c - the virtio-mmio register model
 * (vmm/virtio/mmio.c) driven like Linux's virtio_mmio driver, over a real
 * device (virtio-rng, with its worker thread), with a fake ioeventfd host. */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "vmm/mem.h"
#include "vmm/virtio/mmio.h"
#include "vmm/virtio/rng.h"

#define BASE  0xd0000000ull
#define DESC  0x10000ull
#define AVAIL 0x11000ull
#define USED  0x12000ull
#define BUF   0x20000ull

struct fake_host {
	int binds, unbinds;
	uint64_t addr;
	uint32_t datamatch;
};

static int fake_ioeventfd(void *opaque, uint64_t addr, uint32_t dm, int fd, bool assign)
{
	struct fake_host *h = opaque;

	h->addr = addr;
	h->datamatch = dm;
	if (assign)
		h->binds++;
	else
		h->unbinds++;
	return 0;
}

static const struct vmmio_host_ops fake_ops = { .ioeventfd = fake_ioeventfd };

struct fx {
	struct guest_mem gm;
	struct vmmio m;
	struct virtio_dev *d;
	struct fake_host host;
};

static uint32_t rd(struct fx *f, uint64_t off)
{
	uint32_t v;

	vmmio_read(&f->m, off, &v, 4);
	return v;
}

static void wr(struct fx *f, uint64_t off, uint32_t v)
{
	vmmio_write(&f->m, off, &v, 4);
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
	mem_free(&f->gm);
	return 0;
}

/* Linux's virtio_mmio probe + virtio core feature negotiation. */
static void negotiate(struct fx *f)
{
	wr(f, VMMIO_STATUS, 0);
	wr(f, VMMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	wr(f, VMMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	wr(f, VMMIO_DRIVER_FEATURES_SEL, 0);
	wr(f, VMMIO_DRIVER_FEATURES, 0);
	wr(f, VMMIO_DRIVER_FEATURES_SEL, 1);
	wr(f, VMMIO_DRIVER_FEATURES, 1); /* VERSION_1 */
	wr(f, VMMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			    VIRTIO_STATUS_FEATURES_OK);
}

static void setup_queue(struct fx *f, uint32_t num)
{
	wr(f, VMMIO_QUEUE_SEL, 0);
	wr(f, VMMIO_QUEUE_NUM, num);
	wr(f, VMMIO_QUEUE_DESC_LOW, (uint32_t)DESC);
	wr(f, VMMIO_QUEUE_DESC_HIGH, 0);
	wr(f, VMMIO_QUEUE_AVAIL_LOW, (uint32_t)AVAIL);
	wr(f, VMMIO_QUEUE_AVAIL_HIGH, 0);
	wr(f, VMMIO_QUEUE_USED_LOW, (uint32_t)USED);
	wr(f, VMMIO_QUEUE_USED_HIGH, 0);
	wr(f, VMMIO_QUEUE_READY, 1);
}

static bool wait_for(volatile uint16_t *p, uint16_t want)
{
	for (int i = 0; i < 400; i++) {
		if (__atomic_load_n(p, __ATOMIC_ACQUIRE) == want)
			return true;
		usleep(5000);
	}
	return false;
}

static void test_identity_and_features(void **state)
{
	struct fx *f = *state;
	uint8_t b = 0xee;

	assert_int_equal(rd(f, VMMIO_MAGIC_VALUE), VMMIO_MAGIC);
	assert_int_equal(rd(f, VMMIO_VERSION_REG), 2);
	assert_int_equal(rd(f, VMMIO_DEVICE_ID), VIRTIO_ID_RNG);
	wr(f, VMMIO_DEVICE_FEATURES_SEL, 1);
	assert_true(rd(f, VMMIO_DEVICE_FEATURES) & 1); /* VERSION_1 = bit 32 */
	wr(f, VMMIO_DEVICE_FEATURES_SEL, 7);
	assert_int_equal(rd(f, VMMIO_DEVICE_FEATURES), 0);
	/* Narrow register accesses read 0 and are ignored. */
	vmmio_read(&f->m, VMMIO_MAGIC_VALUE, &b, 1);
	assert_int_equal(b, 0);
	/* A driver without VERSION_1 (legacy) does not get FEATURES_OK. */
	wr(f, VMMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	wr(f, VMMIO_DRIVER_FEATURES_SEL, 1);
	wr(f, VMMIO_DRIVER_FEATURES, 0);
	wr(f, VMMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			    VIRTIO_STATUS_FEATURES_OK);
	assert_false(rd(f, VMMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK);
	/* Features never offered: refused too. */
	wr(f, VMMIO_DRIVER_FEATURES, 1 | 0x80000000u);
	wr(f, VMMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			    VIRTIO_STATUS_FEATURES_OK);
	assert_false(rd(f, VMMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK);
	negotiate(f);
	assert_true(rd(f, VMMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK);
	/* Clearing bits without a reset is ignored. */
	wr(f, VMMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	assert_int_equal(rd(f, VMMIO_STATUS), VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
					      VIRTIO_STATUS_FEATURES_OK);
	/* Queue registers of a queue that does not exist. */
	wr(f, VMMIO_QUEUE_SEL, 5);
	assert_int_equal(rd(f, VMMIO_QUEUE_NUM_MAX), 0);
	wr(f, VMMIO_QUEUE_READY, 1);
	assert_int_equal(rd(f, VMMIO_QUEUE_READY), 0);
}

static void test_request_roundtrip(void **state)
{
	struct fx *f = *state;
	struct vring_desc *d = mem_ptr(&f->gm, DESC, 16 * 8);
	struct vring_avail *a = mem_ptr(&f->gm, AVAIL, 6 + 16);
	struct vring_used *u = mem_ptr(&f->gm, USED, 6 + 64);
	uint8_t *buf = mem_ptr(&f->gm, BUF, 32);
	uint64_t v;

	negotiate(f);
	assert_int_equal(rd(f, VMMIO_QUEUE_NUM_MAX), VRNG_QUEUE_SIZE);
	setup_queue(f, 8);
	assert_int_equal(rd(f, VMMIO_QUEUE_READY), 1);
	assert_int_equal(f->host.binds, 1);
	assert_int_equal(f->host.addr, BASE + VMMIO_QUEUE_NOTIFY);
	assert_int_equal(f->host.datamatch, 0);
	/* Queue registers are frozen while ready. */
	wr(f, VMMIO_QUEUE_NUM, 2);
	assert_int_equal(rd(f, VMMIO_QUEUE_NUM), 8);
	wr(f, VMMIO_STATUS, rd(f, VMMIO_STATUS) | VIRTIO_STATUS_DRIVER_OK);

	d[0] = (struct vring_desc){ BUF, 32, VRING_DESC_F_WRITE, 0 };
	a->ring[0] = 0;
	__atomic_store_n(&a->idx, 1, __ATOMIC_RELEASE);
	wr(f, VMMIO_QUEUE_NOTIFY, 0); /* trapped notify: forwarded to the worker */
	assert_true(wait_for(&u->idx, 1));
	assert_int_equal(u->ring[0].id, 0);
	assert_int_equal(u->ring[0].len, 32);
	(void)buf;
	assert_true(rd(f, VMMIO_INTERRUPT_STATUS) & VIRTIO_ISR_QUEUE);
	assert_int_equal(read(f->d->irq_fd, &v, 8), 8);
	wr(f, VMMIO_INTERRUPT_ACK, VIRTIO_ISR_QUEUE);
	assert_int_equal(rd(f, VMMIO_INTERRUPT_STATUS), 0);

	/* Reset: queues off, the ioeventfd unbound. */
	wr(f, VMMIO_STATUS, 0);
	assert_int_equal(rd(f, VMMIO_STATUS), 0);
	assert_int_equal(rd(f, VMMIO_QUEUE_READY), 0);
	assert_int_equal(f->host.unbinds, 1);
}

static void test_hostile_chain_needs_reset(void **state)
{
	struct fx *f = *state;
	struct vring_desc *d = mem_ptr(&f->gm, DESC, 16 * 8);
	struct vring_avail *a = mem_ptr(&f->gm, AVAIL, 6 + 16);
	struct vring_used *u = mem_ptr(&f->gm, USED, 6 + 64);
	uint32_t gen;

	negotiate(f);
	setup_queue(f, 8);
	wr(f, VMMIO_STATUS, rd(f, VMMIO_STATUS) | VIRTIO_STATUS_DRIVER_OK);
	gen = rd(f, VMMIO_CONFIG_GENERATION);
	d[0] = (struct vring_desc){ 0xfffff000ull, 4096, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 0 };
	a->ring[0] = 0;
	__atomic_store_n(&a->idx, 1, __ATOMIC_RELEASE);
	wr(f, VMMIO_QUEUE_NOTIFY, 0);
	for (int i = 0; i < 400 && !(rd(f, VMMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET); i++)
		usleep(5000);
	assert_true(rd(f, VMMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	assert_true(rd(f, VMMIO_INTERRUPT_STATUS) & VIRTIO_ISR_CONFIG);
	assert_int_not_equal(rd(f, VMMIO_CONFIG_GENERATION), gen);
	assert_int_equal(u->idx, 0); /* nothing was completed */
	/* The driver cannot clear NEEDS_RESET except by a reset. */
	wr(f, VMMIO_STATUS, rd(f, VMMIO_STATUS) & ~VIRTIO_STATUS_NEEDS_RESET);
	assert_true(rd(f, VMMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	wr(f, VMMIO_STATUS, 0);
	assert_int_equal(rd(f, VMMIO_STATUS), 0);
}

static void test_bad_queue_config(void **state)
{
	struct fx *f = *state;

	negotiate(f);
	setup_queue(f, 3); /* not a power of 2 */
	assert_int_equal(rd(f, VMMIO_QUEUE_READY), 0);
	assert_true(rd(f, VMMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	wr(f, VMMIO_STATUS, 0);
	negotiate(f);
	wr(f, VMMIO_QUEUE_SEL, 0);
	wr(f, VMMIO_QUEUE_NUM, 8);
	wr(f, VMMIO_QUEUE_DESC_LOW, 0xfff00000u); /* not RAM */
	wr(f, VMMIO_QUEUE_READY, 1);
	assert_int_equal(rd(f, VMMIO_QUEUE_READY), 0);
	assert_true(rd(f, VMMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	/* DRIVER_OK without FEATURES_OK. */
	wr(f, VMMIO_STATUS, 0);
	wr(f, VMMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DRIVER_OK);
	assert_true(rd(f, VMMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	/* No shared memory regions; config space of rng is empty. */
	assert_int_equal(rd(f, VMMIO_SHM_LEN_LOW), 0xffffffffu);
	assert_int_equal(rd(f, VMMIO_CONFIG), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_identity_and_features, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_chain_needs_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_queue_config, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
