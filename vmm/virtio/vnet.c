/* vmm/virtio/vnet.c - virtio-net over a tap (see vnet.h). */
#include "vmm/virtio/vnet.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_tun.h>
#include <json-c/json.h>

#include "common/log.h"
#include "vmm/virtio/tap.h"
#include "vmm/virtio/vsnap.h"

#define RXQ 0
#define TXQ 1
#define HDR_LEN TAP_VNET_HDR_LEN
/* Largest frame a tap hands over: 64 KiB GSO payload + headers. */
#define RX_BUF_SIZE (HDR_LEN + 65536 + 256)
#define RX_BUDGET 64      /* frames per tap wake-up, so TX is not starved */
#define HDR_IOV_MAX 12    /* a 12-byte header spans at most 12 buffers */

_Static_assert(sizeof(struct virtio_net_hdr_v1) == HDR_LEN, "v1 net header is 12 bytes");

struct vnet {
	struct virtio_dev vdev;        /* first: container_of by cast */
	char name[16];
	struct tap tap;
	char netns[NETADDR_NSNAME_MAX + 1]; /* where the tap lives ("" = ours) */
	bool is_tap;                   /* false for test fds: no TUNSETOFFLOAD */
	int tap_watch;
	bool rx_paused;                /* tap not polled: no guest buffers */
	bool tap_dead;

	/* One received frame on its way into the guest. */
	uint8_t *rxbuf;
	size_t rx_len, rx_off;
	bool rx_pending;
	unsigned int rx_nheads;
	uint32_t rx_epoch;             /* RXQ's epoch when rx_heads were taken */
	uint16_t rx_heads[VIRTQ_MAX_SIZE];
	uint32_t rx_lens[VIRTQ_MAX_SIZE];
	struct iovec rx_hdr_iov[HDR_IOV_MAX]; /* where num_buffers goes (first chain) */
	unsigned int rx_hdr_niov;

	struct virtq_chain rx_chain, tx_chain;
	struct iovec tx_iov[VIRTQ_CHAIN_MAX + 1];

	/* Counters (worker thread writes, describe reads: relaxed atomics). */
	uint64_t rx_packets, rx_bytes, rx_dropped, tx_packets, tx_bytes, tx_dropped;
};

/* ---- pure parts ---- */

static int parse_kv(char *tok, char **key, char **val)
{
	char *eq = strchr(tok, '=');

	if (!eq)
		return -EINVAL;
	*eq = '\0';
	*key = tok;
	*val = eq + 1;
	return 0;
}

int vnet_parse_arg(const char *arg, struct vnet_cfg *cfg, char *err, size_t errlen)
{
	char *dup, *save = NULL, *tok, *k, *v;
	int r = -EINVAL;

	memset(cfg, 0, sizeof(*cfg));
	if (!arg || !*arg) {
		snprintf(err, errlen, "expected tap=NAME[,mac=MAC][,netns=NS]");
		return -EINVAL;
	}
	dup = strdup(arg);
	if (!dup) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (parse_kv(tok, &k, &v) < 0) {
			snprintf(err, errlen, "'%s': expected key=value (tap=, mac=, netns=)", tok);
			goto out;
		}
		if (!strcmp(k, "tap")) {
			if (cfg->tap[0] || !netaddr_valid_ifname(v)) {
				snprintf(err, errlen, "tap '%s': an interface name of 1..15 bytes "
					 "without '/', ':' or spaces, given once", v);
				goto out;
			}
			memcpy(cfg->tap, v, strlen(v) + 1);
		} else if (!strcmp(k, "mac")) {
			if (cfg->has_mac || netaddr_parse_mac(v, cfg->mac) < 0) {
				snprintf(err, errlen, "mac '%s': expected a unicast address like "
					 "02:00:00:00:00:01, given once", v);
				goto out;
			}
			cfg->has_mac = true;
		} else if (!strcmp(k, "netns")) {
			if (cfg->netns[0] || !netaddr_valid_nsname(v)) {
				snprintf(err, errlen, "netns '%s': a namespace name (1..64 of "
					 "[A-Za-z0-9_.-]) under /run/netns, given once", v);
				goto out;
			}
			memcpy(cfg->netns, v, strlen(v) + 1);
		} else {
			snprintf(err, errlen, "unknown key '%s' (expected tap, mac, netns)", k);
			goto out;
		}
	}
	if (!cfg->tap[0]) {
		snprintf(err, errlen, "missing tap=NAME");
		goto out;
	}
	if (!cfg->has_mac)
		netaddr_default_mac(cfg->tap, cfg->mac);
	r = 0;
out:
	free(dup);
	return r;
}

uint64_t vnet_features(bool csum, bool tso)
{
	uint64_t f = (1ull << VIRTIO_NET_F_MAC) | (1ull << VIRTIO_NET_F_STATUS) |
		     (1ull << VIRTIO_NET_F_MRG_RXBUF);

	/* The spec's dependencies: TSO needs the matching CSUM feature. */
	if (csum)
		f |= (1ull << VIRTIO_NET_F_CSUM) | (1ull << VIRTIO_NET_F_GUEST_CSUM);
	if (csum && tso)
		f |= (1ull << VIRTIO_NET_F_HOST_TSO4) | (1ull << VIRTIO_NET_F_HOST_TSO6) |
		     (1ull << VIRTIO_NET_F_GUEST_TSO4) | (1ull << VIRTIO_NET_F_GUEST_TSO6);
	return f;
}

unsigned int vnet_tun_offloads(uint64_t df)
{
	unsigned int t = 0;

	if (!(df & (1ull << VIRTIO_NET_F_GUEST_CSUM)))
		return 0; /* no partial checksums, hence no TSO either */
	t |= TUN_F_CSUM;
	if (df & (1ull << VIRTIO_NET_F_GUEST_TSO4))
		t |= TUN_F_TSO4;
	if (df & (1ull << VIRTIO_NET_F_GUEST_TSO6))
		t |= TUN_F_TSO6;
	return t;
}

int vnet_tx_hdr_check(struct virtio_net_hdr_v1 *h, uint64_t f, uint64_t frame_len)
{
	uint8_t gso = h->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;

	h->num_buffers = 0;
	if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		if (!(f & (1ull << VIRTIO_NET_F_CSUM)))
			return -EINVAL;
		if ((uint64_t)h->csum_start + h->csum_offset + 2 > frame_len)
			return -EINVAL;
	}
	if (h->flags & ~(uint8_t)(VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID))
		return -EINVAL;
	if (h->gso_type & VIRTIO_NET_HDR_GSO_ECN)
		return -EINVAL; /* HOST_ECN is never offered */
	switch (gso) {
	case VIRTIO_NET_HDR_GSO_NONE:
		return 0;
	case VIRTIO_NET_HDR_GSO_TCPV4:
		if (!(f & (1ull << VIRTIO_NET_F_HOST_TSO4)))
			return -EINVAL;
		break;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		if (!(f & (1ull << VIRTIO_NET_F_HOST_TSO6)))
			return -EINVAL;
		break;
	default:
		return -EINVAL;
	}
	/* GSO frames must also ask for the checksum and carry a segment size. */
	if (!(h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) || h->gso_size == 0)
		return -EINVAL;
	return 0;
}

/* ---- device ---- */

static struct vnet *to_vnet(struct virtio_dev *d)
{
	return d->priv;
}

static void count(uint64_t *c, uint64_t n)
{
	__atomic_fetch_add(c, n, __ATOMIC_RELAXED);
}

/* Build iovecs for the first `len` bytes of [iov, iov+n). */
static unsigned int iov_head(const struct iovec *iov, unsigned int n, size_t len,
			     struct iovec *out, unsigned int max)
{
	unsigned int k = 0;

	for (unsigned int i = 0; i < n && len && k < max; i++) {
		size_t l = iov[i].iov_len < len ? iov[i].iov_len : len;

		if (!l)
			continue;
		out[k].iov_base = iov[i].iov_base;
		out[k++].iov_len = l;
		len -= l;
	}
	return k;
}

/* Build iovecs for [iov, iov+n) minus its first `off` bytes. */
static unsigned int iov_tail(const struct iovec *iov, unsigned int n, size_t off,
			     struct iovec *out, unsigned int max)
{
	unsigned int k = 0;

	for (unsigned int i = 0; i < n && k < max; i++) {
		size_t l = iov[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		out[k].iov_base = (uint8_t *)iov[i].iov_base + off;
		out[k++].iov_len = l - off;
		off = 0;
	}
	return k;
}

static void rx_forget(struct vnet *vn)
{
	vn->rx_pending = false;
	vn->rx_len = vn->rx_off = 0;
	vn->rx_nheads = 0;
	vn->rx_hdr_niov = 0;
}

/* Give back every chain taken for the current frame, unused, and drop it. */
static void rx_drop(struct vnet *vn, struct virtq *q)
{
	for (unsigned int i = 0; i < vn->rx_nheads; i++)
		virtq_push(q, vn->rx_heads[i], 0);
	count(&vn->rx_dropped, 1);
	rx_forget(vn);
}

/* Move the pending frame into the guest.  1: delivered (or dropped),
 * 0: out of guest buffers (frame kept), -1: ring broken (device marked). */
static int rx_deliver(struct vnet *vn, struct virtq *q)
{
	bool mrg = virtio_has_feature(&vn->vdev, VIRTIO_NET_F_MRG_RXBUF);
	struct virtq_chain *c = &vn->rx_chain;

	while (vn->rx_off < vn->rx_len) {
		const struct iovec *in;
		size_t n;
		int r = virtq_pop(q, c);

		if (r < 0) {
			virtio_dev_set_needs_reset(&vn->vdev, "net: receive ring broken");
			rx_forget(vn);
			return -1;
		}
		if (r == 0) {
			if (virtq_enable_notify(q))
				continue;
			return 0;
		}
		in = &c->iov[c->nr_out];
		if (c->nr_out || (vn->rx_nheads == 0 && c->in_len < HDR_LEN) ||
		    (!mrg && c->in_len < vn->rx_len)) {
			/* A buffer that cannot take what the spec says it must:
			 * the frame is dropped, the buffers go back unused. */
			vn->rx_heads[vn->rx_nheads++] = c->head;
			rx_drop(vn, q);
			return 1;
		}
		n = vn->rx_len - vn->rx_off;
		if (n > c->in_len)
			n = (size_t)c->in_len;
		if (vn->rx_nheads == 0)
			vn->rx_hdr_niov = iov_head(in, c->nr_in, HDR_LEN, vn->rx_hdr_iov, HDR_IOV_MAX);
		virtq_iov_write(in, c->nr_in, 0, vn->rxbuf + vn->rx_off, n);
		vn->rx_epoch = q->epoch;
		vn->rx_heads[vn->rx_nheads] = c->head;
		vn->rx_lens[vn->rx_nheads++] = (uint32_t)n;
		vn->rx_off += n;
		if (vn->rx_off < vn->rx_len && vn->rx_nheads >= q->num) {
			/* Every buffer of the ring and still no room. */
			rx_drop(vn, q);
			return 1;
		}
	}
	{
		uint16_t nb = (uint16_t)vn->rx_nheads; /* little-endian host */

		virtq_iov_write(vn->rx_hdr_iov, vn->rx_hdr_niov, offsetof(struct virtio_net_hdr_v1,
			       num_buffers), &nb, sizeof(nb));
	}
	for (unsigned int i = 0; i < vn->rx_nheads; i++)
		virtq_push(q, vn->rx_heads[i], vn->rx_lens[i]);
	count(&vn->rx_packets, 1);
	count(&vn->rx_bytes, vn->rx_len - HDR_LEN);
	rx_forget(vn);
	return 1;
}

static void rx_pause(struct vnet *vn, bool pause)
{
	if (vn->rx_paused == pause)
		return;
	vn->rx_paused = pause;
	virtio_dev_watch_set(&vn->vdev, vn->tap_watch, pause ? 0 : POLLIN);
}

/* Read frames from the tap into the guest until the tap is empty, the
 * guest is out of buffers (pause the tap) or the budget is spent. */
static void rx_run(struct vnet *vn)
{
	struct virtq *q = &vn->vdev.vqs[RXQ];
	bool pushed = false;
	int r;

	if (!q->ready || vn->tap_dead)
		return;
	if (vn->rx_nheads && vn->rx_epoch != q->epoch) {
		/* The driver disabled RXQ and set it up again (no device reset)
		 * while a frame was half delivered: those chains belong to the
		 * old rings.  Neither push their heads nor write num_buffers
		 * through rx_hdr_iov (maybe freed guest memory now): drop. */
		count(&vn->rx_dropped, 1);
		rx_forget(vn);
	}
	for (int budget = RX_BUDGET; budget > 0; budget--) {
		if (!vn->rx_pending) {
			ssize_t n = read(vn->tap.fd, vn->rxbuf, RX_BUF_SIZE);

			if (n < 0) {
				if (errno != EAGAIN && errno != EINTR) {
					log_err("%s: tap %s: read: %s; no more receive", vn->name,
						vn->tap.name, strerror(errno));
					vn->tap_dead = true;
					rx_pause(vn, true);
				} else {
					/* Tap empty, nothing pending: watch it again.  The
					 * pause is for "frame waiting, no buffers"; it must
					 * not outlive that frame when a reset or a new ring
					 * dropped it. */
					rx_pause(vn, false);
				}
				break;
			}
			if ((size_t)n <= HDR_LEN) {
				count(&vn->rx_dropped, 1);
				continue;
			}
			vn->rx_len = (size_t)n;
			vn->rx_off = 0;
			vn->rx_pending = true;
			/* Without MRG_RXBUF the field is still there (VERSION_1): 1. */
			((struct virtio_net_hdr_v1 *)vn->rxbuf)->num_buffers = 1;
		}
		r = rx_deliver(vn, q);
		if (r < 0)
			return;
		if (r == 0) {
			rx_pause(vn, true);
			break;
		}
		pushed = true;
		rx_pause(vn, false);
	}
	if (pushed)
		virtio_dev_notify_queue(&vn->vdev, q);
}

static void on_tap(struct virtio_dev *d, int fd, short revents, void *opaque)
{
	struct vnet *vn = opaque;

	if (revents & (POLLERR | POLLHUP | POLLNVAL)) {
		log_err("%s: tap %s: poll error; no more receive", vn->name, vn->tap.name);
		vn->tap_dead = true;
		rx_pause(vn, true);
		return;
	}
	rx_run(vn);
}

static void tx_run(struct vnet *vn, struct virtq *q)
{
	struct virtq_chain *c = &vn->tx_chain;
	struct virtio_net_hdr_v1 hdr;
	struct iovec *iov;
	bool pushed = false;

	for (;;) {
		unsigned int n;
		ssize_t w;
		int r = virtq_pop(q, c);

		if (r < 0) {
			virtio_dev_set_needs_reset(&vn->vdev, "net: transmit ring broken");
			return;
		}
		if (r == 0) {
			if (virtq_enable_notify(q))
				continue;
			break;
		}
		pushed = true;
		/* Copy the header out before judging it: the guest may change it. */
		if (c->out_len <= HDR_LEN || c->out_len > RX_BUF_SIZE ||
		    virtq_iov_read(c->iov, c->nr_out, 0, &hdr, HDR_LEN) != HDR_LEN ||
		    vnet_tx_hdr_check(&hdr, vn->vdev.driver_features, c->out_len - HDR_LEN) < 0 ||
		    vn->tap_dead) {
			count(&vn->tx_dropped, 1);
			virtq_push(q, c->head, 0);
			continue;
		}
		iov = vn->tx_iov;
		iov[0].iov_base = &hdr;
		iov[0].iov_len = HDR_LEN;
		n = iov_tail(c->iov, c->nr_out, HDR_LEN, iov + 1, VIRTQ_CHAIN_MAX) + 1;
		/* More pieces than writev takes (IOV_MAX 1024): drop, never truncate. */
		w = n <= 1024 ? writev(vn->tap.fd, iov, (int)n) : -1;
		if (w < 0) {
			/* EAGAIN (tap queue full), EINVAL (kernel refused the header),
			 * EIO (tap down): a NIC drops the frame too. */
			count(&vn->tx_dropped, 1);
		} else {
			count(&vn->tx_packets, 1);
			count(&vn->tx_bytes, c->out_len - HDR_LEN);
		}
		virtq_push(q, c->head, 0);
	}
	if (pushed)
		virtio_dev_notify_queue(&vn->vdev, q);
}

static void vnet_queue_notify(struct virtio_dev *d, struct virtq *q)
{
	struct vnet *vn = to_vnet(d);

	if (q->index == TXQ) {
		tx_run(vn, q);
	} else if (q->index == RXQ) {
		/* New receive buffers: finish the waiting frame, poll the tap again. */
		rx_run(vn);
	}
}

static int vnet_activate(struct virtio_dev *d)
{
	struct vnet *vn = to_vnet(d);
	unsigned int t = vnet_tun_offloads(d->driver_features);

	if (vn->is_tap && tap_set_offload(&vn->tap, t) < 0)
		log_warn("%s: TUNSETOFFLOAD 0x%x: %s", vn->name, t, strerror(errno));
	rx_forget(vn);
	return 0;
}

static void vnet_reset(struct virtio_dev *d)
{
	struct vnet *vn = to_vnet(d);

	/* Chains taken from the old rings are forgotten with them. */
	rx_forget(vn);
	if (vn->is_tap)
		tap_set_offload(&vn->tap, 0);
	/* A paused tap watch stays paused: the driver's first receive kick
	 * after it re-initializes resumes it (rx_run). */
}

static void vnet_free(struct virtio_dev *d)
{
	struct vnet *vn = to_vnet(d);

	tap_close(&vn->tap);
	free(vn->rxbuf);
	free(vn);
}

static void put_u64(struct json_object *o, const char *k, const uint64_t *v)
{
	json_object_object_add(o, k, json_object_new_int64(
		(int64_t)__atomic_load_n(v, __ATOMIC_RELAXED)));
}

static void vnet_describe(struct virtio_dev *d, struct json_object *o)
{
	struct vnet *vn = to_vnet(d);
	char mac[NETADDR_MAC_STRLEN];

	json_object_object_add(o, "tap", json_object_new_string(vn->tap.name));
	json_object_object_add(o, "mac", json_object_new_string(netaddr_format_mac(d->config, mac)));
	json_object_object_add(o, "link", json_object_new_string(vn->tap_dead ? "down" : "up"));
	put_u64(o, "rx_packets", &vn->rx_packets);
	put_u64(o, "rx_bytes", &vn->rx_bytes);
	put_u64(o, "rx_dropped", &vn->rx_dropped);
	put_u64(o, "tx_packets", &vn->tx_packets);
	put_u64(o, "tx_bytes", &vn->tx_bytes);
	put_u64(o, "tx_dropped", &vn->tx_dropped);
}

/* Hibernate: a frame half copied into the guest's receive buffers is
 * dropped (a packet in flight is lost, as on a real NIC); its chains go
 * back to the ring untouched so the resumed device takes them again. */
static int vnet_quiesce(struct virtio_dev *d)
{
	struct vnet *vn = to_vnet(d);

	if (vn->rx_nheads)
		virtq_unpop(&d->vqs[RXQ], (uint16_t)vn->rx_nheads);
	if (vn->rx_pending)
		count(&vn->rx_dropped, 1);
	rx_forget(vn);
	return 0;
}

static void vnet_snap_cfg(struct virtio_dev *d, struct vsnap_devcfg *c)
{
	struct vnet *vn = to_vnet(d);

	snprintf(c->net.tap, sizeof(c->net.tap), "%s", vn->tap.name);
	snprintf(c->net.netns, sizeof(c->net.netns), "%s", vn->netns);
	memcpy(c->net.mac, ((const struct virtio_net_config *)d->config)->mac, 6);
	c->net.has_mac = true;
	c->csum = vn->tap.offload_csum;
	c->tso = vn->tap.offload_tso;
}

/* After a resume: the new tap is told what the driver accepted (what
 * activate() did in the old process); receive starts over. */
static void vnet_restored(struct virtio_dev *d)
{
	struct vnet *vn = to_vnet(d);

	rx_forget(vn);
	if (vn->is_tap && (d->status & VIRTIO_STATUS_DRIVER_OK)) {
		unsigned int t = vnet_tun_offloads(d->driver_features);

		if (tap_set_offload(&vn->tap, t) < 0)
			log_warn("%s: TUNSETOFFLOAD 0x%x: %s", vn->name, t, strerror(errno));
	}
}

static const struct virtio_dev_ops vnet_ops = {
	.snap_cfg = vnet_snap_cfg,
	.quiesce = vnet_quiesce,
	.restored = vnet_restored,
	.activate = vnet_activate,
	.reset = vnet_reset,
	.queue_notify = vnet_queue_notify,
	.free = vnet_free,
	.describe = vnet_describe,
};

/* Takes the open tap in *t (closed on failure). */
static struct virtio_dev *vnet_create(struct tap *t, bool is_tap, const char *name,
				      const uint8_t mac[6], const struct guest_mem *mem,
				      char *err, size_t errlen)
{
	struct virtio_net_config *cfg;
	struct vnet *vn = calloc(1, sizeof(*vn));
	int r;

	if (!vn || !(vn->rxbuf = malloc(RX_BUF_SIZE))) {
		snprintf(err, errlen, "out of memory");
		r = -ENOMEM;
		goto free_vn;
	}
	vn->tap = *t;
	vn->is_tap = is_tap;
	snprintf(vn->name, sizeof(vn->name), "%s", name);
	vn->vdev.name = vn->name;
	vn->vdev.device_id = VIRTIO_ID_NET;
	vn->vdev.host_features = vnet_features(t->offload_csum, t->offload_tso);
	vn->vdev.nr_queues = 2;
	vn->vdev.queue_max[RXQ] = VNET_QUEUE_SIZE;
	vn->vdev.queue_max[TXQ] = VNET_QUEUE_SIZE;
	vn->vdev.config_len = sizeof(struct virtio_net_config) < 12 ? sizeof(struct virtio_net_config)
							       : 12; /* mac, status, pairs, mtu */
	cfg = (struct virtio_net_config *)vn->vdev.config;
	memcpy(cfg->mac, mac, 6);
	cfg->status = VIRTIO_NET_S_LINK_UP;
	cfg->max_virtqueue_pairs = 1;
	cfg->mtu = 1500;
	vn->vdev.ops = &vnet_ops;
	vn->vdev.priv = vn;
	r = virtio_dev_init(&vn->vdev, mem);
	if (r < 0) {
		snprintf(err, errlen, "%s: virtio device: %s", name, strerror(-r));
		goto free_vn;
	}
	/* After init (which clears the watches), before the bus. */
	r = virtio_dev_watch_fd(&vn->vdev, t->fd, POLLIN, on_tap, vn);
	if (r < 0) {
		snprintf(err, errlen, "%s: watching the tap: %s", name, strerror(-r));
		virtio_dev_free(&vn->vdev); /* frees vn and closes the tap */
		errno = -r;
		return NULL;
	}
	vn->tap_watch = r;
	return &vn->vdev;

free_vn:
	tap_close(t);
	if (vn)
		free(vn->rxbuf);
	free(vn);
	errno = -r;
	return NULL;
}

struct virtio_dev *vnet_new(const struct vnet_cfg *cfg, unsigned int index,
			    const struct guest_mem *mem, char *err, size_t errlen)
{
	struct virtio_dev *d;
	struct tap t;
	char name[16];
	int r;

	r = tap_open(&t, cfg->tap, cfg->netns[0] ? cfg->netns : NULL, err, errlen);
	if (r < 0) {
		errno = -r;
		return NULL;
	}
	snprintf(name, sizeof(name), "net%u", index);
	d = vnet_create(&t, true, name, cfg->mac, mem, err, errlen);
	if (d)
		snprintf(to_vnet(d)->netns, sizeof(to_vnet(d)->netns), "%s", cfg->netns);
	return d;
}

struct virtio_dev *vnet_new_fd(int fd, const char *name, const uint8_t mac[6], bool csum,
			       bool tso, const struct guest_mem *mem, char *err, size_t errlen)
{
	struct tap t = { .fd = fd, .offload_csum = csum, .offload_tso = tso };

	snprintf(t.name, sizeof(t.name), "%s", name);
	return vnet_create(&t, false, name, mac, mem, err, errlen);
}
