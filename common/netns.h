/* common/netns.h - instance networking: one network namespace per VPC with a
 * bridge (the subnet's gateway), one tap per instance on that bridge, and a
 * veth link that gives the host a route to the subnet through the namespace
 * only.  Built on libnl-route-3 (netlink) and /dev/net/tun; no `ip` commands.
 * See docs/networking.md.
 *
 *   host namespace                 namespace NAME (/run/netns/NAME)
 *   hn<8 hex digits> 169.254.a.b+1/30 <--veth--> hnup0 169.254.a.b+2/30
 *   route SUBNET via +2                    hnbr0 GATEWAY/prefix (bridge)
 *                                            +-- tap per instance (vnet_hdr,
 *                                                persistent, opened by haneul-vmm)
 *
 * Every function takes err/errlen for a one-line reason and returns 0 or
 * -errno.  They need CAP_NET_ADMIN and CAP_SYS_ADMIN (mounts under /run).
 * Not thread-safe with respect to each other for the same VPC name.
 */
#ifndef COMMON_NETNS_H
#define COMMON_NETNS_H

#include <stddef.h>
#include <stdint.h>

#include "common/netaddr.h"

#define NETNS_BRIDGE   "hnbr0"   /* inside the namespace */
#define NETNS_UPLINK   "hnup0"   /* namespace end of the host veth */
#define NETNS_MAX_TAPS 256       /* reported by netns_vpc_info (more are allowed) */

struct netns_vpc {
	char name[NETADDR_NSNAME_MAX + 1];
	struct netaddr_cidr subnet;
	uint32_t gateway;                       /* on the bridge */
	char host_link[NETADDR_IFNAME_MAX + 1]; /* host end of the veth ("" if missing) */
	uint32_t host_addr, ns_addr;            /* link /30 ends (0 if unknown) */
	unsigned int nr_taps;                   /* taps on the bridge (first NETNS_MAX_TAPS named) */
	char taps[NETNS_MAX_TAPS][NETADDR_IFNAME_MAX + 1];
};

/* The host-side veth name for VPC NAME: "hn" + 8 hex digits of its hash
 * (interface names are at most 15 bytes; VPC names up to 64).  buf holds
 * NETADDR_IFNAME_MAX + 1 bytes. */
void netns_host_link_name(const char *vpc, char *buf);

/* Create namespace NAME with the bridge at the subnet's gateway (CIDR such
 * as "10.77.0.0/24"; host bits are ignored), IPv4 forwarding on, loopback
 * up, and the host veth + route.  -EEXIST when NAME exists.  On error
 * everything created so far is removed.  *out (may be NULL) is filled. */
int netns_vpc_create(const char *name, const char *cidr, struct netns_vpc *out, char *err,
		     size_t errlen);

/* Remove the taps and bridge inside NAME, the host veth, and the namespace
 * mount.  A process still holding a tap fd (a running VMM) keeps the
 * namespace object alive, without interfaces, until it closes it.
 * -ENOENT when there is no such namespace. */
int netns_vpc_delete(const char *name, char *err, size_t errlen);

/* Read back what the kernel has for VPC NAME.  -ENOENT: no namespace;
 * -ENODEV: a namespace without the haneul bridge (not a VPC). */
int netns_vpc_info(const char *name, struct netns_vpc *out, char *err, size_t errlen);

/* Names of the VPC namespaces (those with the haneul bridge), sorted.
 * *names is malloc'd (caller frees), *n entries. */
int netns_vpc_list(char (**names)[NETADDR_NSNAME_MAX + 1], size_t *n, char *err, size_t errlen);

/* A persistent tap TAP (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR) inside VPC,
 * on its bridge, up.  haneul-vmm opens it with --net tap=TAP,netns=VPC.
 * -EEXIST when an interface of that name exists there. */
int netns_tap_create(const char *vpc, const char *tap, char *err, size_t errlen);

/* Delete TAP inside VPC (even while a VMM has it open: its fd then fails).
 * -ENODEV when there is no such interface. */
int netns_tap_delete(const char *vpc, const char *tap, char *err, size_t errlen);

#endif
