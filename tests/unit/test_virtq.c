/* tests/unit/test_virtq.c - the split virtqueue (vmm/virtio/virtq.c) against
 * well-formed and hostile rings: good chains, loops, buffers outside RAM,
 * overflowing lengths, indirect tables, ordering, EVENT_IDX arithmetic. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/mem.h"
#include "vmm/virtio/virtio.h"

#define QN     16
#define DESC   0x10000ull
#define AVAIL  0x11000ull
#define USED   0x12000ull
#define BUF    0x20000ull
#define TABLE  0x30000ull

struct fx {
	struct guest_mem gm;
	struct virtq q;
	struct virtq_chain c;
	struct vring_desc *d;
	struct vring_avail *a;
	struct vring_used *u;
};

static int setup(void **state)
{
	static struct fx f;

	memset(&f, 0, sizeof(f));
	assert_int_equal(mem_init(&f.gm, 16ull << 20), 0);
	f.q.num_max = 256;
	virtq_reset(&f.q);
	f.q.num = QN;
	f.q.desc_gpa = DESC;
	f.q.avail_gpa = AVAIL;
	f.q.used_gpa = USED;
	assert_int_equal(virtq_map(&f.q, &f.gm, false, true), 0);
	f.d = mem_ptr(&f.gm, DESC, 16 * QN);
	f.a = mem_ptr(&f.gm, AVAIL, 6 + 2 * QN);
	f.u = mem_ptr(&f.gm, USED, 6 + 8 * QN);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	mem_free(&f->gm);
	return 0;
}

static void desc(struct fx *f, unsigned int i, uint64_t addr, uint32_t len, uint16_t flags,
		 uint16_t next)
{
	f->d[i] = (struct vring_desc){ addr, len, flags, next };
}

static void offer(struct fx *f, uint16_t head)
{
	f->a->ring[f->a->idx % QN] = head;
	f->a->idx++;
}

static void test_map_checks(void **state)
{
	struct fx *f = *state;
	struct virtq q = { .num_max = 256 };

	virtq_reset(&q);
	q.num = 3; /* not a power of 2 */
	assert_int_equal(virtq_map(&q, &f->gm, false, false), -EINVAL);
	q.num = 512; /* above num_max */
	assert_int_equal(virtq_map(&q, &f->gm, false, false), -EINVAL);
	q.num = 16;
	q.desc_gpa = DESC + 8; /* misaligned */
	assert_int_equal(virtq_map(&q, &f->gm, false, false), -EINVAL);
	q.desc_gpa = 0xfffff000ull; /* in the MMIO hole: not RAM */
	assert_int_equal(virtq_map(&q, &f->gm, false, false), -EFAULT);
	q.desc_gpa = (16ull << 20) - 16 * 8; /* ring runs past the end of RAM */
	assert_int_equal(virtq_map(&q, &f->gm, false, false), -EFAULT);
	assert_false(q.ready);
}

static void test_good_chain(void **state)
{
	struct fx *f = *state;

	assert_int_equal(virtq_pop(&f->q, &f->c), 0); /* empty */
	desc(f, 0, BUF, 16, VRING_DESC_F_NEXT, 5);
	desc(f, 5, BUF + 512, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
	desc(f, 2, BUF + 4096, 1, VRING_DESC_F_WRITE, 0);
	offer(f, 0);
	assert_int_equal(virtq_pop(&f->q, &f->c), 1);
	assert_int_equal(f->c.head, 0);
	assert_int_equal(f->c.nr_out, 1);
	assert_int_equal(f->c.nr_in, 2);
	assert_int_equal(f->c.out_len, 16);
	assert_int_equal(f->c.in_len, 513);
	assert_ptr_equal(f->c.iov[0].iov_base, mem_ptr(&f->gm, BUF, 16));
	assert_ptr_equal(f->c.iov[2].iov_base, mem_ptr(&f->gm, BUF + 4096, 1));
	assert_int_equal(virtq_pop(&f->q, &f->c), 0);
	virtq_push(&f->q, 0, 513);
	assert_int_equal(f->u->idx, 1);
	assert_int_equal(f->u->ring[0].id, 0);
	assert_int_equal(f->u->ring[0].len, 513);
}

static void test_loop(void **state)
{
	struct fx *f = *state;

	desc(f, 0, BUF, 16, VRING_DESC_F_NEXT, 1);
	desc(f, 1, BUF, 16, VRING_DESC_F_NEXT, 0);
	offer(f, 0);
	assert_int_equal(virtq_pop(&f->q, &f->c), -ELOOP);
}

static void test_self_loop_and_long_chain(void **state)
{
	struct fx *f = *state;

	desc(f, 3, BUF, 16, VRING_DESC_F_NEXT, 3);
	offer(f, 3);
	assert_int_equal(virtq_pop(&f->q, &f->c), -ELOOP);
}

static void test_next_out_of_range(void **state)
{
	struct fx *f = *state;

	desc(f, 0, BUF, 16, VRING_DESC_F_NEXT, QN);
	offer(f, 0);
	assert_int_equal(virtq_pop(&f->q, &f->c), -ELOOP);
}

static void test_head_out_of_range(void **state)
{
	struct fx *f = *state;

	offer(f, QN + 7);
	assert_int_equal(virtq_pop(&f->q, &f->c), -EINVAL);
}

static void test_avail_idx_jump(void **state)
{
	struct fx *f = *state;

	desc(f, 0, BUF, 16, 0, 0);
	f->a->idx = QN + 1; /* more than the ring holds */
	assert_int_equal(virtq_pop(&f->q, &f->c), -EINVAL);
}

static void test_buffer_outside_ram(void **state)
{
	struct fx *f = *state;

	desc(f, 0, 0xc0000000ull, 16, 0, 0); /* MMIO hole */
	offer(f, 0);
	assert_int_equal(virtq_pop(&f->q, &f->c), -EFAULT);
	desc(f, 0, (16ull << 20) - 8, 16, 0, 0); /* straddles the end of RAM */
	f->q.last_avail = 0;
	f->a->idx = 1;
	assert_int_equal(virtq_pop(&f->q, &f->c), -EFAULT);
	desc(f, 0, UINT64_MAX - 4, 16, 0, 0); /* address + length wraps */
	f->q.last_avail = 0;
	assert_int_equal(virtq_pop(&f->q, &f->c), -EFAULT);
}

static void test_overflowing_lengths(void **state)
{
	struct fx *f = *state;

	/* 16 writable buffers of 15 MiB... would be 240 MiB: fine.  Use an
	 * indirect table of 300 x 15 MiB = 4.4 GiB: must stop at 4 GiB. */
	struct vring_desc *t = mem_ptr(&f->gm, TABLE, 300 * 16);

	for (int i = 0; i < 300; i++)
		t[i] = (struct vring_desc){ 0x100000, 15u << 20, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT,
					    (uint16_t)(i + 1) };
	t[299].flags = VRING_DESC_F_WRITE;
	desc(f, 0, TABLE, 300 * 16, VRING_DESC_F_INDIRECT, 0);
	offer(f, 0);
	assert_int_equal(virtq_pop(&f->q, &f->c), -EOVERFLOW);
}

static void test_read_after_write(void **state)
{
	struct fx *f = *state;

	desc(f, 0, BUF, 1, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	desc(f, 1, BUF, 16, 0, 0);
	offer(f, 0);
	assert_int_equal(virtq_pop(&f->q, &f->c), -EINVAL);
}

static void test_indirect(void **state)
{
	struct fx *f = *state;
	struct vring_desc *t = mem_ptr(&f->gm, TABLE, 4 * 16);

	t[0] = (struct vring_desc){ BUF, 16, VRING_DESC_F_NEXT, 2 };
	t[2] = (struct vring_desc){ BUF + 512, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1 };
	t[1] = (struct vring_desc){ BUF + 4096, 1, VRING_DESC_F_WRITE, 0 };
	desc(f, 4, TABLE, 4 * 16, VRING_DESC_F_INDIRECT, 0);
	offer(f, 4);
	assert_int_equal(virtq_pop(&f->q, &f->c), 1);
	assert_int_equal(f->c.head, 4);
	assert_int_equal(f->c.nr_out, 1);
	assert_int_equal(f->c.nr_in, 2);
	assert_int_equal(f->c.in_len, 513);
}

/* 2.7.5.3.2: the device ignores WRITE on the descriptor naming the table
 * (the table's own flags say which buffers are writable). */
static void test_indirect_write_flag_ignored(void **state)
{
	struct fx *f = *state;
	struct vring_desc *t = mem_ptr(&f->gm, TABLE, 2 * 16);

	t[0] = (struct vring_desc){ BUF, 16, VRING_DESC_F_NEXT, 1 };
	t[1] = (struct vring_desc){ BUF + 512, 64, VRING_DESC_F_WRITE, 0 };
	desc(f, 3, TABLE, 2 * 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_WRITE, 0);
	offer(f, 3);
	assert_int_equal(virtq_pop(&f->q, &f->c), 1);
	assert_int_equal(f->c.nr_out, 1);
	assert_int_equal(f->c.nr_in, 1);
	assert_int_equal(f->c.in_len, 64);
}

/* The epoch tells a device that its held chains belong to old rings. */
static void test_epoch(void **state)
{
	struct fx *f = *state;
	uint32_t e0 = f->q.epoch;

	assert_true(e0 >= 1);           /* setup mapped it once */
	f->q.ready = false;             /* QueueReady = 0, then 1 again */
	assert_int_equal(virtq_map(&f->q, &f->gm, false, true), 0);
	assert_int_equal(f->q.epoch, e0 + 1);
	virtq_reset(&f->q);             /* a device reset keeps counting */
	assert_int_equal(f->q.epoch, e0 + 1);
	assert_false(f->q.ready);
}

static void test_indirect_hostile(void **state)
{
	struct fx *f = *state;
	struct vring_desc *t = mem_ptr(&f->gm, TABLE, 4 * 16);

	/* Nested indirect table. */
	t[0] = (struct vring_desc){ TABLE, 64, VRING_DESC_F_INDIRECT, 0 };
	desc(f, 0, TABLE, 64, VRING_DESC_F_INDIRECT, 0);
	offer(f, 0);
	assert_int_equal(virtq_pop(&f->q, &f->c), -EINVAL);
	/* Length not a multiple of 16. */
	f->q.last_avail = 0;
	desc(f, 0, TABLE, 20, VRING_DESC_F_INDIRECT, 0);
	assert_int_equal(virtq_pop(&f->q, &f->c), -EINVAL);
	/* Table outside RAM. */
	desc(f, 0, 0xf0000000ull, 64, VRING_DESC_F_INDIRECT, 0);
	assert_int_equal(virtq_pop(&f->q, &f->c), -EFAULT);
	/* Loop inside the table. */
	t[0] = (struct vring_desc){ BUF, 16, VRING_DESC_F_NEXT, 1 };
	t[1] = (struct vring_desc){ BUF, 16, VRING_DESC_F_NEXT, 0 };
	desc(f, 0, TABLE, 64, VRING_DESC_F_INDIRECT, 0);
	assert_int_equal(virtq_pop(&f->q, &f->c), -ELOOP);
	/* next beyond the table. */
	t[1] = (struct vring_desc){ BUF, 16, VRING_DESC_F_NEXT, 9 };
	assert_int_equal(virtq_pop(&f->q, &f->c), -ELOOP);
	/* INDIRECT not negotiated. */
	t[1] = (struct vring_desc){ BUF, 16, 0, 0 };
	f->q.indirect = false;
	assert_int_equal(virtq_pop(&f->q, &f->c), -EINVAL);
}

static void test_event_idx_math(void **state)
{
	(void)state;
	/* Linux's vring_need_event: notify when event is in [old, new). */
	assert_true(virtq_need_event(0, 1, 0));
	assert_false(virtq_need_event(1, 1, 0));
	assert_true(virtq_need_event(5, 10, 3));
	assert_false(virtq_need_event(10, 10, 3));
	assert_false(virtq_need_event(2, 10, 3));
	/* Wrap-around of the 16-bit indices. */
	assert_true(virtq_need_event(0xffff, 2, 0xfffe));
	assert_false(virtq_need_event(3, 2, 0xfffe));
}

static void test_notify_rules(void **state)
{
	struct fx *f = *state;

	/* Without EVENT_IDX: the NO_INTERRUPT flag decides. */
	virtq_push(&f->q, 0, 0);
	assert_true(virtq_need_notify(&f->q));
	f->a->flags = VRING_AVAIL_F_NO_INTERRUPT;
	virtq_push(&f->q, 0, 0);
	assert_false(virtq_need_notify(&f->q));
	/* With EVENT_IDX: used_event (after avail->ring[num]) decides. */
	f->q.event_idx = true;
	f->q.signalled_valid = false;
	f->a->flags = 0;
	f->a->ring[QN] = 5; /* interrupt me when used idx passes 5 */
	virtq_push(&f->q, 0, 0); /* used idx 3 */
	assert_true(virtq_need_notify(&f->q)); /* first time: always */
	virtq_push(&f->q, 0, 0); /* 4 */
	assert_false(virtq_need_notify(&f->q));
	virtq_push(&f->q, 0, 0); /* 5 */
	virtq_push(&f->q, 0, 0); /* 6: crossed used_event 5 */
	assert_true(virtq_need_notify(&f->q));
	/* avail_event is written by enable_notify. */
	f->q.last_avail = 7;
	f->a->idx = 7;
	assert_false(virtq_enable_notify(&f->q));
	assert_int_equal(*(uint16_t *)&f->u->ring[QN], 7);
	f->a->idx = 8;
	assert_true(virtq_enable_notify(&f->q));
}

static void test_iov_copy(void **state)
{
	uint8_t a[3], b[5], out[8];
	struct iovec iov[2] = { { a, 3 }, { b, 5 } };

	(void)state;
	assert_int_equal(virtq_iov_write(iov, 2, 2, "hello!", 6), 6);
	assert_int_equal(virtq_iov_read(iov, 2, 2, out, 8), 6);
	assert_memory_equal(out, "hello!", 6);
	assert_int_equal(virtq_iov_read(iov, 2, 9, out, 8), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_map_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_good_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_self_loop_and_long_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_next_out_of_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_head_out_of_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_avail_idx_jump, setup, teardown),
		cmocka_unit_test_setup_teardown(test_buffer_outside_ram, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overflowing_lengths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_after_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indirect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indirect_hostile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indirect_write_flag_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_epoch, setup, teardown),
		cmocka_unit_test(test_event_idx_math),
		cmocka_unit_test_setup_teardown(test_notify_rules, setup, teardown),
		cmocka_unit_test(test_iov_copy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
