/* common/netaddr.h - pure helpers for instance networking: IPv4 and CIDR
 * parsing/formatting, address allocation inside a VPC subnet and in the
 * host<->namespace link pool, MAC addresses, interface and namespace names.
 * No I/O: shared by common/netns.c, haneul-vmm (--net) and the control plane,
 * and unit-tested in tests/unit/test_netaddr.c.
 *
 * Addresses are uint32_t in host byte order (10.77.0.1 == 0x0a4d0001).
 */
#ifndef COMMON_NETADDR_H
#define COMMON_NETADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NETADDR_IPV4_STRLEN 16    /* "255.255.255.255" + NUL */
#define NETADDR_CIDR_STRLEN 20    /* + "/32" */
#define NETADDR_MAC_STRLEN  18    /* "02:00:00:00:00:01" + NUL */
#define NETADDR_IFNAME_MAX  15    /* IFNAMSIZ - 1 */
#define NETADDR_NSNAME_MAX  64

/* A VPC subnet may be /8 ../28 (AWS allows /16../28; wider is allowed for
 * private test setups).  The first four addresses and the last one are
 * reserved, as in AWS: network, gateway (.1, the bridge), .2 (DNS), .3. */
#define NETADDR_SUBNET_MIN_PREFIX 8
#define NETADDR_SUBNET_MAX_PREFIX 28
#define NETADDR_RESERVED_LOW 4

/* The host<->namespace links are /30s carved from 169.254.64.0/18
 * (link-local; 4096 VPCs on one host).  .1 of a /30 is the host end, .2
 * the namespace end. */
#define NETADDR_LINK_POOL      0xa9fe4000u /* 169.254.64.0 */
#define NETADDR_LINK_POOL_LEN  18

struct netaddr_cidr {
	uint32_t net;      /* network address (host bits zero) */
	uint8_t prefix;    /* 0..32 */
};

/* Dotted quad, exactly four decimal fields 0..255 (no leading '+', no
 * octal, no trailing data).  0 or -EINVAL. */
int netaddr_parse_ipv4(const char *s, uint32_t *out);
/* buf must hold NETADDR_IPV4_STRLEN bytes; returns buf. */
char *netaddr_format_ipv4(uint32_t a, char *buf);

/* "A.B.C.D/N".  *host (may be NULL) gets A.B.C.D as written; out->net has
 * the host bits cleared.  0 or -EINVAL. */
int netaddr_parse_cidr(const char *s, struct netaddr_cidr *out, uint32_t *host);
/* buf: NETADDR_CIDR_STRLEN bytes. */
char *netaddr_format_cidr(const struct netaddr_cidr *c, char *buf);

uint32_t netaddr_mask(uint8_t prefix);
bool netaddr_contains(const struct netaddr_cidr *c, uint32_t a);
uint32_t netaddr_broadcast(const struct netaddr_cidr *c);
/* The VPC gateway (the bridge address): network + 1. */
uint32_t netaddr_gateway(const struct netaddr_cidr *c);

/* Check a VPC subnet: prefix within NETADDR_SUBNET_{MIN,MAX}_PREFIX and not
 * inside 127/8, 0/8, 169.254/16 or multicast.  0 or -EINVAL with the reason
 * in err. */
int netaddr_check_subnet(const struct netaddr_cidr *c, char *err, size_t errlen);

/* The lowest instance address in c that is not reserved and not in
 * used[0..nused).  0 or -ENOSPC. */
int netaddr_alloc_host(const struct netaddr_cidr *c, const uint32_t *used, size_t nused,
		       uint32_t *out);

/* The lowest /30 in the link pool none of whose addresses is in
 * used[0..nused) (the addresses configured on the host).  *host_end gets
 * .1, *ns_end .2.  0 or -ENOSPC. */
int netaddr_alloc_link(const uint32_t *used, size_t nused, uint32_t *host_end, uint32_t *ns_end);

/* "xx:xx:xx:xx:xx:xx" (hex, either case).  A multicast address (low bit of
 * the first octet) or all-zero is not a NIC address: -EINVAL. */
int netaddr_parse_mac(const char *s, uint8_t mac[6]);
char *netaddr_format_mac(const uint8_t mac[6], char *buf);
/* A stable locally administered unicast MAC (02:xx:...) derived from a
 * string (e.g. the tap name), for a NIC given no mac=. */
void netaddr_default_mac(const char *seed, uint8_t mac[6]);

/* Linux interface name: 1..15 bytes, no '/', ':', whitespace or control
 * bytes, not "." or "..".  Namespace name (a file under /run/netns):
 * 1..64 bytes of [A-Za-z0-9_.-], not "." or "..".  true when valid. */
bool netaddr_valid_ifname(const char *s);
bool netaddr_valid_nsname(const char *s);

/* 32-bit FNV-1a, used to derive short interface names from long VPC names. */
uint32_t netaddr_hash(const char *s);

#endif
