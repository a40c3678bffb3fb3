/* vmm/virtio/vsock_proto.c - pure virtio-vsock helpers (see vsock_proto.h). */
#include "vmm/virtio/vsock_proto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(struct virtio_vsock_hdr) == VSOCK_HDR_SIZE, "vsock header size");

static uint64_t get_le(const uint8_t *p, unsigned int n)
{
	uint64_t v = 0;

	for (unsigned int i = n; i-- > 0;)
		v = v << 8 | p[i];
	return v;
}

static void put_le(uint8_t *p, uint64_t v, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

/* Field offsets of struct virtio_vsock_hdr (packed). */
enum { O_SRC_CID = 0, O_DST_CID = 8, O_SRC_PORT = 16, O_DST_PORT = 20, O_LEN = 24,
       O_TYPE = 28, O_OP = 30, O_FLAGS = 32, O_BUF_ALLOC = 36, O_FWD_CNT = 40 };

void vsock_hdr_decode(const void *wire, struct vsock_hdr *h)
{
	const uint8_t *p = wire;

	h->src_cid = get_le(p + O_SRC_CID, 8);
	h->dst_cid = get_le(p + O_DST_CID, 8);
	h->src_port = (uint32_t)get_le(p + O_SRC_PORT, 4);
	h->dst_port = (uint32_t)get_le(p + O_DST_PORT, 4);
	h->len = (uint32_t)get_le(p + O_LEN, 4);
	h->type = (uint16_t)get_le(p + O_TYPE, 2);
	h->op = (uint16_t)get_le(p + O_OP, 2);
	h->flags = (uint32_t)get_le(p + O_FLAGS, 4);
	h->buf_alloc = (uint32_t)get_le(p + O_BUF_ALLOC, 4);
	h->fwd_cnt = (uint32_t)get_le(p + O_FWD_CNT, 4);
}

void vsock_hdr_encode(const struct vsock_hdr *h, void *wire)
{
	uint8_t *p = wire;

	put_le(p + O_SRC_CID, h->src_cid, 8);
	put_le(p + O_DST_CID, h->dst_cid, 8);
	put_le(p + O_SRC_PORT, h->src_port, 4);
	put_le(p + O_DST_PORT, h->dst_port, 4);
	put_le(p + O_LEN, h->len, 4);
	put_le(p + O_TYPE, h->type, 2);
	put_le(p + O_OP, h->op, 2);
	put_le(p + O_FLAGS, h->flags, 4);
	put_le(p + O_BUF_ALLOC, h->buf_alloc, 4);
	put_le(p + O_FWD_CNT, h->fwd_cnt, 4);
}

enum vsock_verdict vsock_hdr_check(const struct vsock_hdr *h, uint64_t guest_cid, uint64_t avail,
				   const char **why)
{
	const char *w = NULL;
	enum vsock_verdict v = VSOCK_PKT_OK;

	if (h->src_cid != guest_cid) {
		w = "source CID is not the guest's";
		v = VSOCK_PKT_DROP;
	} else if (h->dst_cid != VSOCK_HOST_CID) {
		w = "destination CID is not the host";
		v = VSOCK_PKT_DROP;
	} else if (h->op == VIRTIO_VSOCK_OP_RST) {
		/* Never answer a reset with a reset. */
		if (h->type != VIRTIO_VSOCK_TYPE_STREAM || h->len) {
			w = "malformed RST";
			v = VSOCK_PKT_DROP;
		}
	} else if (h->type != VIRTIO_VSOCK_TYPE_STREAM) {
		w = "socket type is not STREAM";
		v = VSOCK_PKT_RST;
	} else if (h->op < VIRTIO_VSOCK_OP_REQUEST || h->op > VIRTIO_VSOCK_OP_CREDIT_REQUEST) {
		w = "unknown op";
		v = VSOCK_PKT_RST;
	} else if (h->op == VIRTIO_VSOCK_OP_RW) {
		if (h->len == 0) {
			w = "empty RW";
			v = VSOCK_PKT_RST;
		} else if (h->len > avail || h->len > VSOCK_MAX_PKT_PAYLOAD) {
			w = "RW length beyond the buffer";
			v = VSOCK_PKT_RST;
		}
	} else if (h->len) {
		w = "payload on a control packet";
		v = VSOCK_PKT_RST;
	}
	if (why)
		*why = w;
	return v;
}

uint32_t vsock_peer_credit(uint32_t peer_buf_alloc, uint32_t peer_fwd_cnt, uint32_t tx_cnt)
{
	uint32_t in_flight = tx_cnt - peer_fwd_cnt;

	return in_flight >= peer_buf_alloc ? 0 : peer_buf_alloc - in_flight;
}

bool vsock_rx_fits(uint32_t buf_alloc, uint32_t rx_cnt, uint32_t fwd_cnt, uint32_t len)
{
	uint32_t used = rx_cnt - fwd_cnt;

	return used <= buf_alloc && len <= buf_alloc - used;
}

int vsock_parse_connect(const char *buf, size_t len, uint32_t *port, size_t *consumed)
{
	static const char kw[] = "CONNECT ";
	const size_t kwlen = sizeof(kw) - 1;
	uint64_t v = 0;
	size_t i, nd = 0;

	/* The prefix so far must match. */
	for (i = 0; i < len && i < kwlen; i++)
		if (buf[i] != kw[i])
			return -EINVAL;
	for (; i < len; i++) {
		char c = buf[i];

		if (c == '\n') {
			if (nd == 0)
				return -EINVAL;
			*port = (uint32_t)v;
			*consumed = i + 1;
			return 1;
		}
		if (c < '0' || c > '9' || (nd == 1 && v == 0))
			return -EINVAL; /* not a digit, or a leading zero */
		v = v * 10 + (uint64_t)(c - '0');
		if (++nd > 10 || v > 0xffffffffull)
			return -EINVAL;
	}
	if (len >= VSOCK_CONNECT_LINE_MAX)
		return -EINVAL;
	return 0;
}

int vsock_parse_arg(const char *arg, struct vsock_cfg *cfg, char *err, size_t errlen)
{
	char *dup, *save = NULL, *tok;
	bool have_cid = false, have_uds = false;
	int r = -EINVAL;

	memset(cfg, 0, sizeof(*cfg));
	if (!arg || !*arg) {
		snprintf(err, errlen, "expected cid=N,uds=PATH");
		return -EINVAL;
	}
	dup = strdup(arg);
	if (!dup) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '='), *end;

		if (!eq) {
			snprintf(err, errlen, "'%s': expected key=value (cid=N,uds=PATH)", tok);
			goto out;
		}
		*eq++ = '\0';
		if (!strcmp(tok, "cid")) {
			unsigned long long v;

			errno = 0;
			v = strtoull(eq, &end, 10);
			if (have_cid || *eq < '0' || *eq > '9' || *end || errno || v < 3 ||
			    v > 0xfffffffeull) {
				snprintf(err, errlen, "cid '%s': must be a number from 3 to 4294967294%s",
					 eq, have_cid ? " (given once)" : "");
				goto out;
			}
			cfg->cid = v;
			have_cid = true;
		} else if (!strcmp(tok, "uds")) {
			if (have_uds || !*eq || strlen(eq) > VSOCK_UDS_PATH_MAX) {
				snprintf(err, errlen, "uds: a path of 1..%u bytes, given once",
					 VSOCK_UDS_PATH_MAX);
				goto out;
			}
			memcpy(cfg->uds, eq, strlen(eq) + 1);
			have_uds = true;
		} else {
			snprintf(err, errlen, "unknown key '%s' (expected cid, uds)", tok);
			goto out;
		}
	}
	if (!have_cid || !have_uds) {
		snprintf(err, errlen, "missing %s", !have_cid ? "cid=N" : "uds=PATH");
		goto out;
	}
	r = 0;
out:
	free(dup);
	return r;
}
