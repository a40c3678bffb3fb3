/* tests/unit/test_vnet.c - virtio-net: --net parsing, feature/offload
 * negotiation, transmit header checks, and the device itself driven by a
 * fake driver over a SOCK_SEQPACKET socketpair standing in for the tap
 * (transmit, receive, mergeable buffers, back-pressure, a broken ring). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/if_tun.h>

#include "tests/unit/fake_driver.h"
#include "vmm/virtio/vnet.h"

#define F(b) (1ull << (b))

static void test_parse_arg(void **state)
{
	struct vnet_cfg c;
	char err[200];
	uint8_t m[6];

	(void)state;
	assert_int_equal(vnet_parse_arg("tap=tap0", &c, err, sizeof(err)), 0);
	assert_string_equal(c.tap, "tap0");
	assert_string_equal(c.netns, "");
	assert_false(c.has_mac);
	netaddr_default_mac("tap0", m);
	assert_memory_equal(c.mac, m, 6); /* stable default */
	assert_int_equal(vnet_parse_arg("mac=02:00:00:00:00:01,tap=t1,netns=haneul-vpc-1", &c, err,
					sizeof(err)), 0);
	assert_true(c.has_mac);
	assert_int_equal(c.mac[5], 1);
	assert_string_equal(c.netns, "haneul-vpc-1");
	assert_int_equal(vnet_parse_arg("", &c, err, sizeof(err)), -EINVAL);
	assert_int_equal(vnet_parse_arg("tap0", &c, err, sizeof(err)), -EINVAL);
	assert_int_equal(vnet_parse_arg("tap=toolonginterfacename", &c, err, sizeof(err)), -EINVAL);
	assert_int_equal(vnet_parse_arg("tap=a,tap=b", &c, err, sizeof(err)), -EINVAL);
	assert_int_equal(vnet_parse_arg("tap=a,mac=ff:ff:ff:ff:ff:ff", &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "mac"));
	assert_int_equal(vnet_parse_arg("tap=a,netns=a/b", &c, err, sizeof(err)), -EINVAL);
	assert_int_equal(vnet_parse_arg("tap=a,queues=4", &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "queues"));
	assert_int_equal(vnet_parse_arg("netns=x", &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "missing tap"));
}

static void test_features_and_offloads(void **state)
{
	uint64_t base = F(VIRTIO_NET_F_MAC) | F(VIRTIO_NET_F_STATUS) | F(VIRTIO_NET_F_MRG_RXBUF);

	(void)state;
	assert_int_equal(vnet_features(false, false), base);
	assert_int_equal(vnet_features(false, true), base); /* TSO needs CSUM */
	assert_int_equal(vnet_features(true, false),
			 base | F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_GUEST_CSUM));
	uint64_t all = vnet_features(true, true);
	assert_true(all & F(VIRTIO_NET_F_HOST_TSO4));
	assert_true(all & F(VIRTIO_NET_F_HOST_TSO6));
	assert_true(all & F(VIRTIO_NET_F_GUEST_TSO4));
	assert_true(all & F(VIRTIO_NET_F_GUEST_TSO6));
	assert_false(all & F(VIRTIO_NET_F_HOST_ECN));
	assert_false(all & F(VIRTIO_NET_F_CTRL_VQ));

	assert_int_equal(vnet_tun_offloads(0), 0);
	assert_int_equal(vnet_tun_offloads(F(VIRTIO_NET_F_GUEST_TSO4)), 0); /* no CSUM: nothing */
	assert_int_equal(vnet_tun_offloads(F(VIRTIO_NET_F_GUEST_CSUM)), TUN_F_CSUM);
	assert_int_equal(vnet_tun_offloads(F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_TSO4) |
					   F(VIRTIO_NET_F_GUEST_TSO6)),
			 TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6);
	/* Host-side features say nothing about what the guest receives. */
	assert_int_equal(vnet_tun_offloads(F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_HOST_TSO4)), 0);
}

static void test_tx_hdr_check(void **state)
{
	struct virtio_net_hdr_v1 h;
	uint64_t csum = F(VIRTIO_NET_F_CSUM), tso = csum | F(VIRTIO_NET_F_HOST_TSO4);

	(void)state;
	memset(&h, 0, sizeof(h));
	h.num_buffers = 7;
	assert_int_equal(vnet_tx_hdr_check(&h, 0, 60), 0);
	assert_int_equal(h.num_buffers, 0);
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.csum_start = 34;
	h.csum_offset = 16;
	assert_int_equal(vnet_tx_hdr_check(&h, 0, 100), -EINVAL);   /* CSUM not negotiated */
	assert_int_equal(vnet_tx_hdr_check(&h, csum, 100), 0);
	assert_int_equal(vnet_tx_hdr_check(&h, csum, 51), -EINVAL); /* offset past the frame */
	h.flags = 0x80;
	assert_int_equal(vnet_tx_hdr_check(&h, csum, 100), -EINVAL); /* unknown flag */
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	h.gso_size = 1448;
	assert_int_equal(vnet_tx_hdr_check(&h, csum, 100), -EINVAL); /* no HOST_TSO4 */
	assert_int_equal(vnet_tx_hdr_check(&h, tso, 100), 0);
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
	assert_int_equal(vnet_tx_hdr_check(&h, tso, 100), -EINVAL);
	h.gso_type = VIRTIO_NET_HDR_GSO_UDP;
	assert_int_equal(vnet_tx_hdr_check(&h, tso | F(VIRTIO_NET_F_HOST_UFO), 100), -EINVAL);
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN;
	assert_int_equal(vnet_tx_hdr_check(&h, tso, 100), -EINVAL);
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	h.gso_size = 0;
	assert_int_equal(vnet_tx_hdr_check(&h, tso, 100), -EINVAL);
	h.gso_size = 1448;
	h.flags = 0;
	assert_int_equal(vnet_tx_hdr_check(&h, tso, 100), -EINVAL); /* GSO without csum */
}

/* ---- device ---- */

struct env {
	struct fake_drv f;
	int host;                 /* our end of the "tap" */
	struct virtio_dev *d;
};

static const uint8_t MAC[6] = { 0x02, 0, 0, 0, 0, 0x11 };

static struct env *env_new(uint64_t features)
{
	struct env *e = calloc(1, sizeof(*e));
	int sv[2];
	char err[200];

	assert_non_null(e);
	assert_int_equal(fd_mem_init(&e->f), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	e->host = sv[1];
	e->d = vnet_new_fd(sv[0], "nettest", MAC, true, true, &e->f.mem, err, sizeof(err));
	assert_non_null(e->d);
	assert_int_equal(fd_start(&e->f, e->d, features), 0);
	return e;
}

static void env_free(struct env *e)
{
	virtio_dev_free(e->d);
	close(e->host);
	mem_free(&e->f.mem);
	free(e);
}

static void test_config_space(void **state)
{
	struct env *e = env_new(0);

	(void)state;
	assert_memory_equal(e->d->config, MAC, 6);
	assert_int_equal(e->d->config[6], VIRTIO_NET_S_LINK_UP);
	assert_true(e->d->offered & F(VIRTIO_NET_F_MAC));
	assert_true(e->d->offered & F(VIRTIO_NET_F_GUEST_TSO4));
	env_free(e);
}

static void test_transmit(void **state)
{
	struct env *e = env_new(F(VIRTIO_NET_F_CSUM));
	uint8_t pkt[12 + 60], got[200];
	uint64_t g[2];
	uint32_t l[2], id, len;

	(void)state;
	memset(pkt, 0, 12);
	for (int i = 12; i < (int)sizeof(pkt); i++)
		pkt[i] = (uint8_t)i;
	/* Header and frame in two descriptors. */
	g[0] = fd_alloc(&e->f, 12);
	g[1] = fd_alloc(&e->f, 60);
	memcpy(fd_ptr(&e->f, g[0], 12), pkt, 12);
	memcpy(fd_ptr(&e->f, g[1], 60), pkt + 12, 60);
	l[0] = 12;
	l[1] = 60;
	uint16_t head = fd_add(&e->f, 1, g, l, 2, 0);
	fd_kick(&e->f, 1);
	assert_int_equal(fd_wait_used(&e->f, 1, &id, &len, 2000), 1);
	assert_int_equal(id, head);
	assert_int_equal(recv(e->host, got, sizeof(got), MSG_DONTWAIT), sizeof(pkt));
	assert_memory_equal(got, pkt, sizeof(pkt));

	/* A header asking for TSO that was never negotiated: dropped. */
	((struct virtio_net_hdr_v1 *)pkt)->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	((struct virtio_net_hdr_v1 *)pkt)->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	((struct virtio_net_hdr_v1 *)pkt)->gso_size = 1000;
	head = fd_add_out(&e->f, 1, pkt, sizeof(pkt));
	fd_kick(&e->f, 1);
	assert_int_equal(fd_wait_used(&e->f, 1, &id, &len, 2000), 1);
	assert_int_equal(id, head);
	assert_int_equal(recv(e->host, got, sizeof(got), MSG_DONTWAIT), -1);
	/* Too short to hold a header: dropped, not fatal. */
	head = fd_add_out(&e->f, 1, pkt, 8);
	fd_kick(&e->f, 1);
	assert_int_equal(fd_wait_used(&e->f, 1, &id, &len, 2000), 1);
	assert_int_equal(id, head);
	assert_false(fd_status(&e->f) & VIRTIO_STATUS_NEEDS_RESET);
	env_free(e);
}

static void send_frame(int fd, size_t payload, uint8_t seed)
{
	uint8_t buf[12 + 4096];

	memset(buf, 0, 12);
	for (size_t i = 0; i < payload; i++)
		buf[12 + i] = (uint8_t)(seed + i);
	assert_int_equal(send(fd, buf, 12 + payload, 0), (ssize_t)(12 + payload));
}

static void check_frame(struct env *e, uint64_t gpa, size_t payload, uint8_t seed,
			uint16_t num_buffers)
{
	const uint8_t *p = fd_ptr(&e->f, gpa, 12 + payload);

	assert_int_equal(p[10] | p[11] << 8, num_buffers);
	for (size_t i = 0; i < payload; i++)
		assert_int_equal(p[12 + i], (uint8_t)(seed + i));
}

static void test_receive_and_backpressure(void **state)
{
	struct env *e = env_new(0);  /* no MRG_RXBUF: one buffer per frame */
	uint64_t g[4];
	uint32_t id, len;
	uint16_t h[4];

	(void)state;
	/* Frames arrive before any buffer: nothing is lost or spun on. */
	send_frame(e->host, 100, 1);
	send_frame(e->host, 200, 2);
	send_frame(e->host, 300, 3);
	poll(NULL, 0, 100);
	assert_int_equal(fd_wait_used(&e->f, 0, &id, &len, 50), 0);
	for (int i = 0; i < 3; i++)
		h[i] = fd_add_in(&e->f, 0, 1526, &g[i]);
	fd_kick(&e->f, 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(fd_wait_used(&e->f, 0, &id, &len, 2000), 1);
		assert_int_equal(id, h[i]);
		assert_int_equal(len, 12 + 100 * (i + 1));
		check_frame(e, g[i], 100 * (i + 1), (uint8_t)(i + 1), 1);
	}
	/* A buffer too small for the frame (and no MRG_RXBUF): frame dropped,
	 * buffer returned unused, device still fine. */
	h[0] = fd_add_in(&e->f, 0, 64, &g[0]);
	fd_kick(&e->f, 0);
	send_frame(e->host, 500, 9);
	assert_int_equal(fd_wait_used(&e->f, 0, &id, &len, 2000), 1);
	assert_int_equal(id, h[0]);
	assert_int_equal(len, 0);
	assert_false(fd_status(&e->f) & VIRTIO_STATUS_NEEDS_RESET);
	env_free(e);
}

static void test_receive_mergeable(void **state)
{
	struct env *e = env_new(F(VIRTIO_NET_F_MRG_RXBUF));
	uint64_t g[4];
	uint32_t id = 0, len = 0, lens[3];
	uint16_t h[4];
	uint8_t whole[12 + 1200];

	(void)state;
	for (int i = 0; i < 4; i++)
		h[i] = fd_add_in(&e->f, 0, 512, &g[i]);
	fd_kick(&e->f, 0);
	send_frame(e->host, 1200, 5);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(fd_wait_used(&e->f, 0, &id, &len, 2000), 1);
		assert_int_equal(id, h[i]);
		lens[i] = len;
		memcpy(whole + 512 * i, fd_ptr(&e->f, g[i], len), len);
	}
	assert_int_equal(lens[0], 512);
	assert_int_equal(lens[1], 512);
	assert_int_equal(lens[2], 12 + 1200 - 1024);
	assert_int_equal(whole[10] | whole[11] << 8, 3); /* num_buffers */
	for (int i = 0; i < 1200; i++)
		assert_int_equal(whole[12 + i], (uint8_t)(5 + i));
	env_free(e);
}

/* The driver disables RXQ (QueueReady = 0) while a frame is half
 * delivered and sets it up again on new rings without a device reset:
 * the device must neither push the old ring's heads into the new ring nor
 * write num_buffers into the old (maybe freed, reused) buffer. */
static void test_rx_queue_recreated_midframe(void **state)
{
	struct env *e = env_new(F(VIRTIO_NET_F_MRG_RXBUF));
	struct virtq *q = &e->d->vqs[0];
	const uint64_t nbase = 0x40000ull; /* free: rings use 0x10000-0x2ffff */
	uint64_t g[2], ng;
	uint32_t id = 0, len = 0;
	uint16_t taken = 0, nh;

	(void)state;
	for (int i = 0; i < 2; i++)
		fd_add_in(&e->f, 0, 512, &g[i]);
	fd_kick(&e->f, 0);
	send_frame(e->host, 1200, 5);     /* needs 3 buffers: 2 taken, then stuck */
	for (int i = 0; i < 400 && taken < 2; i++) {
		poll(NULL, 0, 5);
		pthread_mutex_lock(&e->d->lock);
		taken = q->last_avail;
		pthread_mutex_unlock(&e->d->lock);
	}
	assert_int_equal(taken, 2);
	assert_int_equal(fd_wait_used(&e->f, 0, &id, &len, 50), 0);

	/* QueueReady = 0, new rings, QueueReady = 1 (what mmio.c does). */
	pthread_mutex_lock(&e->d->lock);
	virtio_dev_quiesce_locked(e->d);
	q->ready = false;
	memset(fd_ptr(&e->f, nbase, 0xc000), 0, 0xc000);
	q->desc_gpa = nbase;
	q->avail_gpa = nbase + 0x4000;
	q->used_gpa = nbase + 0x8000;
	assert_int_equal(virtq_map(q, &e->f.mem, false, false), 0);
	pthread_mutex_unlock(&e->d->lock);
	e->f.q[0] = (struct fd_queue){ nbase, nbase + 0x4000, nbase + 0x8000, 0, 0, 8, e->f.q[0].num };
	memset(fd_ptr(&e->f, g[0], 512), 0x55, 512); /* the guest reused the old buffer */

	nh = fd_add_in(&e->f, 0, 512, &ng);
	fd_kick(&e->f, 0);
	send_frame(e->host, 100, 7);
	assert_int_equal(fd_wait_used(&e->f, 0, &id, &len, 2000), 1);
	assert_int_equal(id, nh);          /* not an old head (0 or 1) */
	assert_int_equal(len, 12 + 100);   /* the new frame, whole */
	assert_int_equal(fd_wait_used(&e->f, 0, &id, &len, 100), 0);
	check_frame(e, ng, 100, 7, 1);
	for (int i = 0; i < 512; i++)
		assert_int_equal(((uint8_t *)fd_ptr(&e->f, g[0], 512))[i], 0x55);
	assert_false(fd_status(&e->f) & VIRTIO_STATUS_NEEDS_RESET);
	env_free(e);
}

static void test_broken_ring_needs_reset(void **state)
{
	struct env *e = env_new(0);
	uint64_t g = 0x7ffff000ull;  /* far outside the 16 MiB of RAM */
	uint32_t l = 4096, id, len;

	(void)state;
	fd_add(&e->f, 1, &g, &l, 1, 0);
	fd_kick(&e->f, 1);
	for (int i = 0; i < 200 && !(fd_status(&e->f) & VIRTIO_STATUS_NEEDS_RESET); i++)
		poll(NULL, 0, 5);
	assert_true(fd_status(&e->f) & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(fd_wait_used(&e->f, 1, &id, &len, 20), 0);
	env_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_arg),
		cmocka_unit_test(test_features_and_offloads),
		cmocka_unit_test(test_tx_hdr_check),
		cmocka_unit_test(test_config_space),
		cmocka_unit_test(test_transmit),
		cmocka_unit_test(test_receive_and_backpressure),
		cmocka_unit_test(test_receive_mergeable),
		cmocka_unit_test(test_rx_queue_recreated_midframe),
		cmocka_unit_test(test_broken_ring_needs_reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
