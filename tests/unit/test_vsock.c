/* tests/unit/test_vsock.c - the virtio-vsock device driven by a fake
 * driver (the guest side) against real Unix sockets (the host side):
 * host-initiated CONNECT handshake, refused and garbage handshakes,
 * guest-initiated connections, credit flow control both ways, resets for
 * unknown connections and malformed packets, SHUTDOWN/RST teardown. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "tests/unit/fake_driver.h"
#include "vmm/virtio/vsock.h"

#define RXQ 0
#define TXQ 1
#define GUEST_CID 3
#define RXBUF (VSOCK_HDR_SIZE + 4096)

struct env {
	struct fake_drv f;
	struct virtio_dev *d;
	char dir[64], uds[128];
	uint64_t rx_gpa[FD_QNUM];
};

static void rx_post(struct env *e)
{
	uint64_t g;
	uint16_t h = fd_add_in(&e->f, RXQ, RXBUF, &g);

	e->rx_gpa[h] = g;
}

static struct env *env_new(void)
{
	struct env *e = calloc(1, sizeof(*e));
	struct vsock_cfg cfg = { .cid = GUEST_CID };
	char err[200];

	assert_non_null(e);
	snprintf(e->dir, sizeof(e->dir), "/tmp/haneul-vsock-XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	snprintf(e->uds, sizeof(e->uds), "%s/v.sock", e->dir);
	memcpy(cfg.uds, e->uds, strlen(e->uds) + 1);
	assert_int_equal(fd_mem_init(&e->f), 0);
	e->d = vsock_new(&cfg, &e->f.mem, err, sizeof(err));
	assert_non_null(e->d);
	assert_int_equal(fd_start(&e->f, e->d, 0), 0);
	/* Descriptors are handed out round-robin: at most 16 buffers out. */
	for (int i = 0; i < 16; i++)
		rx_post(e);
	fd_kick(&e->f, RXQ);
	return e;
}

static void env_free(struct env *e)
{
	virtio_dev_free(e->d);
	assert_int_equal(access(e->uds, F_OK), -1); /* the socket file is gone */
	rmdir(e->dir);
	mem_free(&e->f.mem);
	free(e);
}

static void send_pkt(struct env *e, uint32_t src_port, uint32_t dst_port, uint16_t op,
		     uint32_t flags, uint32_t buf_alloc, uint32_t fwd_cnt, const void *data,
		     uint32_t len, uint16_t type, uint64_t src_cid)
{
	uint8_t buf[VSOCK_HDR_SIZE + 256];
	struct vsock_hdr h = { .src_cid = src_cid, .dst_cid = VSOCK_HOST_CID, .src_port = src_port,
			       .dst_port = dst_port, .len = len, .type = type, .op = op,
			       .flags = flags, .buf_alloc = buf_alloc, .fwd_cnt = fwd_cnt };
	uint32_t id, l;

	assert_true(len <= 256);
	vsock_hdr_encode(&h, buf);
	if (len)
		memcpy(buf + VSOCK_HDR_SIZE, data, len);
	fd_add_out(&e->f, TXQ, buf, VSOCK_HDR_SIZE + len);
	fd_kick(&e->f, TXQ);
	assert_int_equal(fd_wait_used(&e->f, TXQ, &id, &l, 2000), 1);
}

static void send_op(struct env *e, uint32_t src, uint32_t dst, uint16_t op, uint32_t flags,
		    uint32_t buf_alloc, uint32_t fwd_cnt, const void *data, uint32_t len)
{
	send_pkt(e, src, dst, op, flags, buf_alloc, fwd_cnt, data, len, VIRTIO_VSOCK_TYPE_STREAM,
		 GUEST_CID);
}

/* Next packet to the guest: 1 with header and payload (up to 4096), 0 on timeout. */
static int recv_pkt(struct env *e, struct vsock_hdr *h, uint8_t *payload, unsigned int ms)
{
	uint32_t id, len;

	if (!fd_wait_used(&e->f, RXQ, &id, &len, ms))
		return 0;
	assert_true(id < FD_QNUM);
	assert_true(len >= VSOCK_HDR_SIZE);
	vsock_hdr_decode(fd_ptr(&e->f, e->rx_gpa[id], VSOCK_HDR_SIZE), h);
	assert_int_equal(h->src_cid, VSOCK_HOST_CID);
	assert_int_equal(h->dst_cid, GUEST_CID);
	assert_int_equal(h->type, VIRTIO_VSOCK_TYPE_STREAM);
	assert_int_equal(len, VSOCK_HDR_SIZE + h->len);
	if (payload && h->len)
		memcpy(payload, fd_ptr(&e->f, e->rx_gpa[id] + VSOCK_HDR_SIZE, h->len), h->len);
	rx_post(e);
	fd_kick(&e->f, RXQ);
	return 1;
}

static int uds_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct timeval tv = { 2, 0 };

	assert_true(fd >= 0);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static void host_write(int fd, const char *s)
{
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

/* Read exactly n bytes (2 s timeout). */
static void host_read(int fd, char *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);

		assert_true(r > 0);
		got += (size_t)r;
	}
	buf[n] = '\0';
}

/* Host connects and asks for guest port; returns fd and the REQUEST seen. */
static int host_connect(struct env *e, uint32_t port, struct vsock_hdr *req)
{
	char line[40];
	int fd = uds_connect(e->uds);

	snprintf(line, sizeof(line), "CONNECT %u\n", port);
	host_write(fd, line);
	assert_int_equal(recv_pkt(e, req, NULL, 2000), 1);
	assert_int_equal(req->op, VIRTIO_VSOCK_OP_REQUEST);
	assert_int_equal(req->dst_port, port);
	assert_true(req->src_port >= 0x40000000u);
	assert_int_equal(req->buf_alloc, VSOCK_BUF_ALLOC);
	return fd;
}

static void test_host_initiated_stream(void **state)
{
	struct env *e = env_new();
	struct vsock_hdr h, req;
	uint8_t data[4096];
	char buf[64], want[32];
	int fd;

	(void)state;
	fd = host_connect(e, 1234, &req);
	send_op(e, 1234, req.src_port, VIRTIO_VSOCK_OP_RESPONSE, 0, 65536, 0, NULL, 0);
	snprintf(want, sizeof(want), "OK %u\n", req.src_port);
	host_read(fd, buf, strlen(want));
	assert_string_equal(buf, want);

	host_write(fd, "ping");
	assert_int_equal(recv_pkt(e, &h, data, 2000), 1);
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_RW);
	assert_int_equal(h.len, 4);
	assert_memory_equal(data, "ping", 4);
	assert_int_equal(h.src_port, req.src_port);
	assert_int_equal(h.dst_port, 1234);

	send_op(e, 1234, req.src_port, VIRTIO_VSOCK_OP_RW, 0, 65536, 4, "pong!", 5);
	host_read(fd, buf, 5);
	assert_string_equal(buf, "pong!");

	/* The guest closes: the host sees EOF, the guest gets the final RST. */
	send_op(e, 1234, req.src_port, VIRTIO_VSOCK_OP_SHUTDOWN,
		VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND, 65536, 4, NULL, 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), 0);
	for (;;) { /* a CREDIT_UPDATE may come first */
		assert_int_equal(recv_pkt(e, &h, NULL, 2000), 1);
		if (h.op != VIRTIO_VSOCK_OP_CREDIT_UPDATE)
			break;
	}
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_RST);
	close(fd);
	env_free(e);
}

static void test_connect_line_with_data_and_host_eof(void **state)
{
	struct env *e = env_new();
	struct vsock_hdr h;
	uint8_t data[4096];
	char buf[64];
	int fd = uds_connect(e->uds);

	(void)state;
	/* The first bytes of the stream may come in the same write. */
	host_write(fd, "CONNECT 80\nGET /");
	assert_int_equal(recv_pkt(e, &h, NULL, 2000), 1);
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_REQUEST);
	send_op(e, 80, h.src_port, VIRTIO_VSOCK_OP_RESPONSE, 0, 65536, 0, NULL, 0);
	host_read(fd, buf, 3 + (h.src_port >= 1000000000u ? 10 : 0) + 1);
	assert_int_equal(recv_pkt(e, &h, data, 2000), 1);
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_RW);
	assert_int_equal(h.len, 5);
	assert_memory_equal(data, "GET /", 5);
	/* Host half-closes: the guest gets SHUTDOWN(SEND). */
	shutdown(fd, SHUT_WR);
	assert_int_equal(recv_pkt(e, &h, NULL, 2000), 1);
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_SHUTDOWN);
	assert_int_equal(h.flags, VIRTIO_VSOCK_SHUTDOWN_SEND);
	close(fd);
	env_free(e);
}

static void test_handshake_refused(void **state)
{
	struct env *e = env_new();
	struct vsock_hdr h, req;
	char buf[64];
	int fd;

	(void)state;
	/* Garbage: an error line and EOF, nothing reaches the guest. */
	fd = uds_connect(e->uds);
	host_write(fd, "HELLO 1234\n");
	host_read(fd, buf, strlen("ERR expected CONNECT <port>\n"));
	assert_string_equal(buf, "ERR expected CONNECT <port>\n");
	assert_int_equal(read(fd, buf, sizeof(buf)), 0);
	close(fd);
	assert_int_equal(recv_pkt(e, &h, NULL, 100), 0);

	/* The guest has no listener: RST, the host gets EOF without OK. */
	fd = host_connect(e, 99, &req);
	send_op(e, 99, req.src_port, VIRTIO_VSOCK_OP_RST, 0, 0, 0, NULL, 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), 0);
	close(fd);

	/* The guest does not answer at all: closed after the connect timeout,
	 * and the guest is told (RST). */
	fd = host_connect(e, 98, &req);
	assert_int_equal(read(fd, buf, sizeof(buf)), 0); /* within SO_RCVTIMEO 2 s... */
	assert_int_equal(recv_pkt(e, &h, NULL, 2000), 1);
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(h.dst_port, 98);
	close(fd);

	/* The device still works afterwards. */
	fd = host_connect(e, 1, &req);
	close(fd);
	env_free(e);
}

static int listen_at(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memcpy(sa.sun_path, path, strlen(path) + 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 4), 0);
	return fd;
}

static void test_guest_initiated(void **state)
{
	struct env *e = env_new();
	struct vsock_hdr h;
	uint8_t data[4096];
	char path[160], buf[16];
	int lfd, afd;
	struct timeval tv = { 2, 0 };

	(void)state;
	snprintf(path, sizeof(path), "%s_5000", e->uds);
	lfd = listen_at(path);
	send_op(e, 777, 5000, VIRTIO_VSOCK_OP_REQUEST, 0, 65536, 0, NULL, 0);
	afd = accept(lfd, NULL, NULL);
	assert_true(afd >= 0);
	setsockopt(afd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(recv_pkt(e, &h, NULL, 2000), 1);
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_RESPONSE);
	assert_int_equal(h.src_port, 5000);
	assert_int_equal(h.dst_port, 777);
	send_op(e, 777, 5000, VIRTIO_VSOCK_OP_RW, 0, 65536, 0, "hi", 2);
	host_read(afd, buf, 2);
	assert_string_equal(buf, "hi");
	host_write(afd, "yo");
	assert_int_equal(recv_pkt(e, &h, data, 2000), 1);
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_RW);
	assert_memory_equal(data, "yo", 2);
	/* The host process goes away: the guest gets SHUTDOWN, then (after
	 * the guest shuts down too) an RST. */
	close(afd);
	assert_int_equal(recv_pkt(e, &h, NULL, 2000), 1);
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_SHUTDOWN);
	send_op(e, 777, 5000, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_SEND, 65536, 0, NULL, 0);
	assert_int_equal(recv_pkt(e, &h, NULL, 2000), 1);
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_RST);

	/* Nobody listens on port 5001: RST. */
	send_op(e, 778, 5001, VIRTIO_VSOCK_OP_REQUEST, 0, 65536, 0, NULL, 0);
	assert_int_equal(recv_pkt(e, &h, NULL, 2000), 1);
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(h.dst_port, 778);
	assert_int_equal(h.src_port, 5001);
	close(lfd);
	unlink(path);
	env_free(e);
}

static void test_credit_flow(void **state)
{
	struct env *e = env_new();
	struct vsock_hdr h, req;
	uint8_t data[4096];
	char big[100];
	int fd;

	(void)state;
	fd = host_connect(e, 7, &req);
	/* The guest has room for 10 bytes only. */
	send_op(e, 7, req.src_port, VIRTIO_VSOCK_OP_RESPONSE, 0, 10, 0, NULL, 0);
	memset(big, 'x', sizeof(big));
	host_read(fd, (char[40]){ 0 }, 3 + 10 + 1); /* "OK 10737418xx\n" */
	assert_int_equal(write(fd, big, sizeof(big)), (ssize_t)sizeof(big));
	assert_int_equal(recv_pkt(e, &h, data, 2000), 1);
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_RW);
	assert_int_equal(h.len, 10);
	assert_int_equal(recv_pkt(e, &h, data, 150), 0); /* no credit, nothing more */
	/* The guest consumed them: 10 more may come. */
	send_op(e, 7, req.src_port, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, 10, 10, NULL, 0);
	assert_int_equal(recv_pkt(e, &h, data, 2000), 1);
	assert_int_equal(h.len, 10);
	/* CREDIT_REQUEST is answered with our buffer and counter. */
	send_op(e, 7, req.src_port, VIRTIO_VSOCK_OP_CREDIT_REQUEST, 0, 0, 20, NULL, 0);
	assert_int_equal(recv_pkt(e, &h, NULL, 2000), 1);
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
	assert_int_equal(h.buf_alloc, VSOCK_BUF_ALLOC);
	close(fd);
	env_free(e);
}

static void test_bad_packets(void **state)
{
	struct env *e = env_new();
	struct vsock_hdr h;
	uint32_t id, len;

	(void)state;
	/* Data for a connection that does not exist: RST. */
	send_op(e, 40, 41, VIRTIO_VSOCK_OP_RW, 0, 65536, 0, "zz", 2);
	assert_int_equal(recv_pkt(e, &h, NULL, 2000), 1);
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(h.dst_port, 40);
	/* SEQPACKET is not offered: RST. */
	send_pkt(e, 42, 43, VIRTIO_VSOCK_OP_REQUEST, 0, 0, 0, NULL, 0, VIRTIO_VSOCK_TYPE_SEQPACKET,
		 GUEST_CID);
	assert_int_equal(recv_pkt(e, &h, NULL, 2000), 1);
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_RST);
	/* A spoofed source CID, or an RST for nothing: no answer. */
	send_pkt(e, 44, 45, VIRTIO_VSOCK_OP_REQUEST, 0, 0, 0, NULL, 0, VIRTIO_VSOCK_TYPE_STREAM, 9);
	send_op(e, 46, 47, VIRTIO_VSOCK_OP_RST, 0, 0, 0, NULL, 0);
	assert_int_equal(recv_pkt(e, &h, NULL, 150), 0);
	/* A header cut short: dropped; the device stays usable. */
	fd_add_out(&e->f, TXQ, "short", 5);
	fd_kick(&e->f, TXQ);
	assert_int_equal(fd_wait_used(&e->f, TXQ, &id, &len, 2000), 1);
	assert_false(fd_status(&e->f) & VIRTIO_STATUS_NEEDS_RESET);
	env_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_host_initiated_stream),
		cmocka_unit_test(test_connect_line_with_data_and_host_eof),
		cmocka_unit_test(test_handshake_refused),
		cmocka_unit_test(test_guest_initiated),
		cmocka_unit_test(test_credit_flow),
		cmocka_unit_test(test_bad_packets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
