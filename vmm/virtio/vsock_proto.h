/* vmm/virtio/vsock_proto.h - the pure parts of virtio-vsock (virtio 1.2,
 * 5.10) as haneul uses them: packet header checks, credit arithmetic, the
 * Firecracker-style "CONNECT <port>\n" handshake of the host Unix socket,
 * and the --vsock option.  No I/O; tests/unit/test_vsock_proto.c.
 */
#ifndef VMM_VIRTIO_VSOCK_PROTO_H
#define VMM_VIRTIO_VSOCK_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/virtio_vsock.h>

#define VSOCK_HOST_CID       2u
#define VSOCK_HDR_SIZE       44u   /* sizeof(struct virtio_vsock_hdr), packed */
#define VSOCK_MAX_PKT_PAYLOAD (64u * 1024) /* most payload in one packet we accept/send */
#define VSOCK_CONNECT_LINE_MAX 32u /* "CONNECT 4294967295\n" is 19 bytes */
#define VSOCK_UDS_PATH_MAX   96u   /* PATH + "_4294967295" must fit sockaddr_un */

/* Host-order copy of struct virtio_vsock_hdr (which is little-endian). */
struct vsock_hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port;
	uint32_t len;
	uint16_t type, op;
	uint32_t flags;
	uint32_t buf_alloc, fwd_cnt;
};

/* Wire <-> host order.  `wire` is VSOCK_HDR_SIZE bytes. */
void vsock_hdr_decode(const void *wire, struct vsock_hdr *h);
void vsock_hdr_encode(const struct vsock_hdr *h, void *wire);

/* What to do with a packet the guest put on its TX queue. */
enum vsock_verdict {
	VSOCK_PKT_OK = 0,     /* well-formed: dispatch on op */
	VSOCK_PKT_DROP,       /* not for us or malformed beyond answering: drop silently */
	VSOCK_PKT_RST,        /* answer with RST (unknown op, wrong type, bad length) */
};

/* Check a header against the guest's CID and the payload bytes the chain
 * really carries (`avail` = device-readable bytes after the header).
 * Rules: src_cid must be the guest's, dst_cid the host's (else DROP);
 * op RST is never answered (DROP when malformed); type must be STREAM,
 * op known, len == 0 except for RW, RW len 1..min(avail, VSOCK_MAX_PKT_PAYLOAD)
 * (else RST).  *why (may be NULL) gets a static reason when not OK. */
enum vsock_verdict vsock_hdr_check(const struct vsock_hdr *h, uint64_t guest_cid, uint64_t avail,
				   const char **why);

/* Bytes we may still send to a peer that advertised buf_alloc/fwd_cnt when
 * we have sent tx_cnt bytes in total (u32 wrap-around arithmetic, as the
 * spec's counters are).  0 when the peer over-acknowledged (fwd_cnt ahead
 * of tx_cnt) or is full. */
uint32_t vsock_peer_credit(uint32_t peer_buf_alloc, uint32_t peer_fwd_cnt, uint32_t tx_cnt);

/* Does a packet of `len` bytes from the peer fit in our buffer: we
 * advertised buf_alloc, have received rx_cnt bytes and forwarded fwd_cnt
 * of them?  A peer that sends beyond its credit is reset. */
bool vsock_rx_fits(uint32_t buf_alloc, uint32_t rx_cnt, uint32_t fwd_cnt, uint32_t len);

/* Parse the handshake a host client writes on the vsock Unix socket:
 * "CONNECT <port>\n", port decimal 0..4294967295 without sign or leading
 * zeros, one space.  Returns 1 with *port and *consumed (bytes up to and
 * including the newline) when complete, 0 when more bytes are needed (no
 * newline yet and nothing wrong so far), -EINVAL for anything else,
 * including a line longer than VSOCK_CONNECT_LINE_MAX. */
int vsock_parse_connect(const char *buf, size_t len, uint32_t *port, size_t *consumed);

/* --vsock cid=N,uds=PATH.  cid 3..0xfffffffe (0-2 are reserved, -1 is
 * "any"); PATH non-empty, at most VSOCK_UDS_PATH_MAX bytes.  0 or -EINVAL
 * with a one-line reason in err. */
struct vsock_cfg {
	uint64_t cid;
	char uds[VSOCK_UDS_PATH_MAX + 1];
};
int vsock_parse_arg(const char *arg, struct vsock_cfg *cfg, char *err, size_t errlen);

#endif
