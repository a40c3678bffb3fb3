/* tests/unit/test_vsock_proto.c - virtio-vsock pure parts: header wire
 * format and validation, credit arithmetic (with counter wrap-around), the
 * CONNECT handshake parser, --vsock parsing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "vmm/virtio/vsock_proto.h"

static struct vsock_hdr good_hdr(uint16_t op, uint32_t len)
{
	return (struct vsock_hdr){ .src_cid = 3, .dst_cid = 2, .src_port = 1000, .dst_port = 52,
				   .len = len, .type = VIRTIO_VSOCK_TYPE_STREAM, .op = op,
				   .buf_alloc = 262144, .fwd_cnt = 7 };
}

static void test_hdr_wire(void **state)
{
	struct vsock_hdr h = good_hdr(VIRTIO_VSOCK_OP_RW, 5), back;
	struct virtio_vsock_hdr w;

	(void)state;
	h.src_cid = 0x1122334455667788ull;
	h.flags = 0xa0b0c0d0;
	vsock_hdr_encode(&h, &w);
	/* x86 is little-endian: the kernel's struct reads the same values. */
	assert_int_equal(w.src_cid, 0x1122334455667788ull);
	assert_int_equal(w.dst_port, 52);
	assert_int_equal(w.op, VIRTIO_VSOCK_OP_RW);
	assert_int_equal(w.buf_alloc, 262144);
	assert_int_equal(w.flags, 0xa0b0c0d0);
	vsock_hdr_decode(&w, &back);
	assert_int_equal(back.src_cid, h.src_cid);
	assert_int_equal(back.dst_cid, h.dst_cid);
	assert_int_equal(back.src_port, h.src_port);
	assert_int_equal(back.dst_port, h.dst_port);
	assert_int_equal(back.len, h.len);
	assert_int_equal(back.type, h.type);
	assert_int_equal(back.op, h.op);
	assert_int_equal(back.flags, h.flags);
	assert_int_equal(back.buf_alloc, h.buf_alloc);
	assert_int_equal(back.fwd_cnt, h.fwd_cnt);
}

static void test_hdr_check(void **state)
{
	struct vsock_hdr h;
	const char *why;

	(void)state;
	h = good_hdr(VIRTIO_VSOCK_OP_REQUEST, 0);
	assert_int_equal(vsock_hdr_check(&h, 3, 0, &why), VSOCK_PKT_OK);
	h = good_hdr(VIRTIO_VSOCK_OP_RW, 100);
	assert_int_equal(vsock_hdr_check(&h, 3, 100, &why), VSOCK_PKT_OK);
	assert_int_equal(vsock_hdr_check(&h, 3, 99, &why), VSOCK_PKT_RST);  /* len beyond buffer */
	assert_non_null(why);
	h.len = 0;
	assert_int_equal(vsock_hdr_check(&h, 3, 10, &why), VSOCK_PKT_RST);  /* empty RW */
	h = good_hdr(VIRTIO_VSOCK_OP_RW, VSOCK_MAX_PKT_PAYLOAD + 1);
	assert_int_equal(vsock_hdr_check(&h, 3, 1u << 20, &why), VSOCK_PKT_RST);
	/* Spoofed source, or not for the host: dropped without an answer. */
	h = good_hdr(VIRTIO_VSOCK_OP_REQUEST, 0);
	assert_int_equal(vsock_hdr_check(&h, 4, 0, &why), VSOCK_PKT_DROP);
	h.dst_cid = 5;
	assert_int_equal(vsock_hdr_check(&h, 3, 0, &why), VSOCK_PKT_DROP);
	/* Wrong type, unknown op, payload on control: RST. */
	h = good_hdr(VIRTIO_VSOCK_OP_REQUEST, 0);
	h.type = VIRTIO_VSOCK_TYPE_SEQPACKET;
	assert_int_equal(vsock_hdr_check(&h, 3, 0, &why), VSOCK_PKT_RST);
	h = good_hdr(0, 0);
	assert_int_equal(vsock_hdr_check(&h, 3, 0, &why), VSOCK_PKT_RST);
	h = good_hdr(8, 0);
	assert_int_equal(vsock_hdr_check(&h, 3, 0, &why), VSOCK_PKT_RST);
	h = good_hdr(VIRTIO_VSOCK_OP_CREDIT_UPDATE, 4);
	assert_int_equal(vsock_hdr_check(&h, 3, 4, &why), VSOCK_PKT_RST);
	/* Never an RST for an RST. */
	h = good_hdr(VIRTIO_VSOCK_OP_RST, 0);
	assert_int_equal(vsock_hdr_check(&h, 3, 0, &why), VSOCK_PKT_OK);
	h.len = 3;
	assert_int_equal(vsock_hdr_check(&h, 3, 3, &why), VSOCK_PKT_DROP);
	h = good_hdr(VIRTIO_VSOCK_OP_RST, 0);
	h.type = 9;
	assert_int_equal(vsock_hdr_check(&h, 3, 0, &why), VSOCK_PKT_DROP);
}

static void test_credit(void **state)
{
	(void)state;
	assert_int_equal(vsock_peer_credit(1000, 0, 0), 1000);
	assert_int_equal(vsock_peer_credit(1000, 200, 700), 500);
	assert_int_equal(vsock_peer_credit(1000, 0, 1000), 0);
	/* Counters wrap at 2^32. */
	assert_int_equal(vsock_peer_credit(1000, 0xfffffff0u, 0x10u), 1000 - 0x20);
	/* A peer acknowledging more than we sent gets no credit (not 4 GiB). */
	assert_int_equal(vsock_peer_credit(1000, 500, 100), 0);
	/* The peer shrank its buffer below what is in flight. */
	assert_int_equal(vsock_peer_credit(100, 0, 500), 0);

	assert_true(vsock_rx_fits(1000, 0, 0, 1000));
	assert_false(vsock_rx_fits(1000, 0, 0, 1001));
	assert_true(vsock_rx_fits(1000, 900, 400, 500));
	assert_false(vsock_rx_fits(1000, 900, 400, 501));
	assert_true(vsock_rx_fits(1000, 0x10, 0xfffffff0u, 1000 - 0x20));
	assert_false(vsock_rx_fits(1000, 0x10, 0xfffffff0u, 1000 - 0x1f));
	assert_false(vsock_rx_fits(1000, 2000, 0, 0)); /* already beyond */
}

static void test_connect_parser(void **state)
{
	uint32_t port = 0;
	size_t used = 0;

	(void)state;
	assert_int_equal(vsock_parse_connect("CONNECT 52\n", 11, &port, &used), 1);
	assert_int_equal(port, 52);
	assert_int_equal(used, 11);
	/* Data after the line is not consumed. */
	assert_int_equal(vsock_parse_connect("CONNECT 0\nGET /", 15, &port, &used), 1);
	assert_int_equal(port, 0);
	assert_int_equal(used, 10);
	assert_int_equal(vsock_parse_connect("CONNECT 4294967295\n", 19, &port, &used), 1);
	assert_int_equal(port, 4294967295u);
	/* Incomplete, but fine so far. */
	assert_int_equal(vsock_parse_connect("", 0, &port, &used), 0);
	assert_int_equal(vsock_parse_connect("CONN", 4, &port, &used), 0);
	assert_int_equal(vsock_parse_connect("CONNECT 5", 9, &port, &used), 0);
	/* Garbage. */
	static const char *const bad[] = { "GET / HTTP/1.1\n", "connect 52\n", "CONNECT\n",
					   "CONNECT \n", "CONNECT  52\n", "CONNECT 052\n",
					   "CONNECT 4294967296\n", "CONNECT 52 \n", "CONNECT -1\n",
					   "CONNECT 52\r\n", "CONNECT 12345678901\n" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(vsock_parse_connect(bad[i], strlen(bad[i]), &port, &used), -EINVAL);
	/* No newline within the line limit. */
	char longl[64];
	memset(longl, 'x', sizeof(longl));
	memcpy(longl, "CONNECT 1", 9);
	assert_int_equal(vsock_parse_connect(longl, sizeof(longl), &port, &used), -EINVAL);
}

static void test_parse_arg(void **state)
{
	struct vsock_cfg c;
	char err[160];

	(void)state;
	assert_int_equal(vsock_parse_arg("cid=3,uds=/tmp/v.sock", &c, err, sizeof(err)), 0);
	assert_int_equal(c.cid, 3);
	assert_string_equal(c.uds, "/tmp/v.sock");
	assert_int_equal(vsock_parse_arg("uds=/x,cid=4294967294", &c, err, sizeof(err)), 0);
	assert_int_equal(c.cid, 4294967294ull);
	assert_int_equal(vsock_parse_arg("cid=2,uds=/x", &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "cid"));
	assert_int_equal(vsock_parse_arg("cid=4294967295,uds=/x", &c, err, sizeof(err)), -EINVAL);
	assert_int_equal(vsock_parse_arg("cid=3x,uds=/x", &c, err, sizeof(err)), -EINVAL);
	assert_int_equal(vsock_parse_arg("cid=3", &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "uds"));
	assert_int_equal(vsock_parse_arg("uds=/x", &c, err, sizeof(err)), -EINVAL);
	assert_int_equal(vsock_parse_arg("cid=3,uds=/x,port=5", &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "port"));
	assert_int_equal(vsock_parse_arg("cid=3,cid=4,uds=/x", &c, err, sizeof(err)), -EINVAL);
	assert_int_equal(vsock_parse_arg("", &c, err, sizeof(err)), -EINVAL);
	assert_int_equal(vsock_parse_arg("cid=3,uds=", &c, err, sizeof(err)), -EINVAL);
	char lng[200] = "cid=3,uds=/";
	memset(lng + 11, 'a', 150);
	lng[161] = '\0';
	assert_int_equal(vsock_parse_arg(lng, &c, err, sizeof(err)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hdr_wire),
		cmocka_unit_test(test_hdr_check),
		cmocka_unit_test(test_credit),
		cmocka_unit_test(test_connect_parser),
		cmocka_unit_test(test_parse_arg),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
