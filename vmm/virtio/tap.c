/* vmm/virtio/tap.c - tap devices for virtio-net (see tap.h). */
#include "vmm/virtio/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <net/if.h>
#include <linux/if_tun.h>

#include "common/netaddr.h"
#include "common/nsenter.h"

int tap_open(struct tap *t, const char *name, const char *netns, char *err, size_t errlen)
{
	struct ifreq ifr;
	int saved = -1, hdr = TAP_VNET_HDR_LEN, r = 0;
	unsigned int feat = 0;

	t->fd = -1;
	t->offload_csum = t->offload_tso = false;
	if (!netaddr_valid_ifname(name)) {
		snprintf(err, errlen, "tap name '%s': 1..15 bytes, no '/', ':' or spaces", name);
		return -EINVAL;
	}
	snprintf(t->name, sizeof(t->name), "%s", name);
	if (netns) {
		r = nsenter_enter(netns, &saved);
		if (r < 0) {
			snprintf(err, errlen, "network namespace '%s': %s%s", netns, strerror(-r),
				 r == -ENOENT ? " (create it with haneul-net vpc-create)" : "");
			return r;
		}
	}
	/* /dev/net/tun attaches to (or creates) the tap of the opener's namespace. */
	t->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (t->fd < 0) {
		r = -errno;
		snprintf(err, errlen, "/dev/net/tun: %s", strerror(-r));
	}
	if (netns && nsenter_restore(saved) < 0) {
		/* This thread would stay in the wrong namespace: give up loudly. */
		snprintf(err, errlen, "cannot return from network namespace '%s'", netns);
		r = -EIO;
	}
	if (r < 0)
		goto close_fd;
	if (ioctl(t->fd, TUNGETFEATURES, &feat) == 0 && !(feat & IFF_VNET_HDR)) {
		snprintf(err, errlen, "tap %s: this kernel's tun has no IFF_VNET_HDR", name);
		r = -EOPNOTSUPP;
		goto close_fd;
	}
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, t->name, strlen(t->name));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(t->fd, TUNSETIFF, &ifr) < 0) {
		r = -errno;
		snprintf(err, errlen, "tap %s%s%s: TUNSETIFF: %s%s", name, netns ? " in " : "",
			 netns ? netns : "", strerror(-r),
			 r == -EBUSY ? " (another process has it open)"
			 : r == -EINVAL ? " (a non-tap interface has that name)"
			 : r == -EPERM ? " (needs CAP_NET_ADMIN)" : "");
		goto close_fd;
	}
	if (ioctl(t->fd, TUNSETVNETHDRSZ, &hdr) < 0) {
		r = -errno;
		snprintf(err, errlen, "tap %s: TUNSETVNETHDRSZ %d: %s", name, hdr, strerror(-r));
		goto close_fd;
	}
	/* Probe the receive offloads; start with none until the guest says. */
	if (ioctl(t->fd, TUNSETOFFLOAD, TUN_F_CSUM) == 0) {
		t->offload_csum = true;
		if (ioctl(t->fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) == 0)
			t->offload_tso = true;
	}
	ioctl(t->fd, TUNSETOFFLOAD, 0);
	return 0;

close_fd:
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	return r;
}

void tap_close(struct tap *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
}

int tap_set_offload(struct tap *t, unsigned int tun_flags)
{
	return ioctl(t->fd, TUNSETOFFLOAD, tun_flags) < 0 ? -errno : 0;
}
