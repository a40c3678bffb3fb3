/* vmm/virtio/vnet.h - virtio-net on a tap device.
 *
 * Two queues (0 receive, 1 transmit), no control queue.  Offered: MAC,
 * STATUS (link up), MRG_RXBUF; and, only when the tap takes them
 * (TUNSETOFFLOAD / vnet headers), CSUM + HOST_TSO4/6 (the guest may send
 * partial checksums and TSO frames: the tap's kernel side finishes them)
 * and GUEST_CSUM + GUEST_TSO4/6 (the tap may hand us such frames: the
 * guest accepts them).  After DRIVER_OK the tap is told exactly what the
 * driver accepted, so the kernel checksums/segments whatever the guest
 * cannot take.
 *
 * Receive: one frame at a time is read from the tap into a bounce buffer
 * and copied into the guest's buffers (several chains with MRG_RXBUF).
 * When the guest has no buffers the tap is no longer polled (at most one
 * frame waits here); the kernel's tap queue holds or drops the rest.
 * Transmit: on a queue kick (ioeventfd, worker thread) each chain is
 * written to the tap with writev() straight from guest memory, after its
 * header has been copied out and checked.  docs/networking.md.
 */
#ifndef VMM_VIRTIO_VNET_H
#define VMM_VIRTIO_VNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/virtio_net.h>

#include "common/netaddr.h"
#include "vmm/mem.h"
#include "vmm/virtio/virtio.h"

#define VNET_MAX_NICS   8
#define VNET_QUEUE_SIZE 256

/* --net tap=NAME[,mac=xx:xx:xx:xx:xx:xx][,netns=NS] */
struct vnet_cfg {
	char tap[NETADDR_IFNAME_MAX + 1];
	char netns[NETADDR_NSNAME_MAX + 1];   /* "" = the VMM's own namespace */
	uint8_t mac[6];
	bool has_mac;                         /* else netaddr_default_mac(tap) */
};

/* Parse one --net value.  0 or -EINVAL with a one-line reason in err. */
int vnet_parse_arg(const char *arg, struct vnet_cfg *cfg, char *err, size_t errlen);

/* Device features to offer for a tap that takes checksum offload (csum)
 * and TSO (tso).  Pure. */
uint64_t vnet_features(bool csum, bool tso);

/* TUN_F_* receive offloads matching the driver's accepted features. Pure. */
unsigned int vnet_tun_offloads(uint64_t driver_features);

/* Check the header of a frame the guest sends against the negotiated
 * features: NEEDS_CSUM needs CSUM (and csum_start/offset inside the
 * frame of `frame_len` bytes), a GSO type needs HOST_TSO4/6 (ECN needs
 * HOST_ECN, which is never offered), UDP/unknown GSO types are refused.
 * Clears num_buffers.  0 or -EINVAL (drop the frame). Pure. */
int vnet_tx_hdr_check(struct virtio_net_hdr_v1 *h, uint64_t features, uint64_t frame_len);

/* A virtio-net device on `cfg`'s tap, initialized (virtio_dev_init) and
 * ready for vbus_add().  `index` names it "net<index>".  NULL with errno
 * set and err filled. */
struct virtio_dev *vnet_new(const struct vnet_cfg *cfg, unsigned int index,
			    const struct guest_mem *mem, char *err, size_t errlen);

/* The same over an already open fd that behaves like a tap with a 12-byte
 * vnet header (one frame per read/write): for tests, with a SOCK_SEQPACKET
 * socketpair.  Takes ownership of fd. */
struct virtio_dev *vnet_new_fd(int fd, const char *name, const uint8_t mac[6], bool csum,
			       bool tso, const struct guest_mem *mem, char *err, size_t errlen);

#endif
