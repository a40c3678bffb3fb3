/* vmm/virtio/tap.h - open a tap device for virtio-net, optionally inside a
 * named network namespace, and find out which offloads it takes.
 *
 * The tap is opened with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR and a 12-byte
 * vnet header (struct virtio_net_hdr_mrg_rxbuf, the VIRTIO_F_VERSION_1
 * layout), non-blocking.  An existing (persistent) tap of that name is
 * attached; otherwise the kernel creates a transient one that disappears
 * with the VMM.
 */
#ifndef VMM_VIRTIO_TAP_H
#define VMM_VIRTIO_TAP_H

#include <stdbool.h>
#include <stddef.h>

#define TAP_VNET_HDR_LEN 12

struct tap {
	int fd;
	char name[16];
	bool offload_csum;   /* TUNSETOFFLOAD accepted TUN_F_CSUM */
	bool offload_tso;    /* ... and TUN_F_TSO4 | TUN_F_TSO6 */
};

/* Open tap `name` (inside /run/netns/`netns` when netns is non-NULL).
 * 0 or -errno with a one-line reason in err.  tap_close() undoes it. */
int tap_open(struct tap *t, const char *name, const char *netns, char *err, size_t errlen);
void tap_close(struct tap *t);

/* Tell the tap what the guest accepts on receive (TUN_F_* bits).  0 or -errno. */
int tap_set_offload(struct tap *t, unsigned int tun_flags);

#endif
