/* common/netaddr.c - pure IPv4/CIDR/MAC/name helpers (see netaddr.h). */
#include "common/netaddr.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* One decimal field 0..max without sign or leading zeros ("0" itself is
 * fine).  Advances *sp past it. */
static int parse_dec(const char **sp, unsigned int max, unsigned int *out)
{
	const char *s = *sp;
	unsigned int v = 0;
	int n = 0;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	if (s[0] == '0' && s[1] >= '0' && s[1] <= '9')
		return -EINVAL; /* "010" would be octal to inet_aton: refuse */
	while (*s >= '0' && *s <= '9') {
		v = v * 10 + (unsigned int)(*s - '0');
		if (++n > 3 || v > max)
			return -EINVAL;
		s++;
	}
	*out = v;
	*sp = s;
	return 0;
}

static int parse_ipv4_prefix(const char **sp, uint32_t *out)
{
	uint32_t a = 0;

	for (int i = 0; i < 4; i++) {
		unsigned int v;

		if (i && *(*sp)++ != '.')
			return -EINVAL;
		if (parse_dec(sp, 255, &v) < 0)
			return -EINVAL;
		a = a << 8 | v;
	}
	*out = a;
	return 0;
}

int netaddr_parse_ipv4(const char *s, uint32_t *out)
{
	uint32_t a;

	if (!s || parse_ipv4_prefix(&s, &a) < 0 || *s)
		return -EINVAL;
	*out = a;
	return 0;
}

char *netaddr_format_ipv4(uint32_t a, char *buf)
{
	snprintf(buf, NETADDR_IPV4_STRLEN, "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff,
		 (a >> 8) & 0xff, a & 0xff);
	return buf;
}

uint32_t netaddr_mask(uint8_t prefix)
{
	return prefix == 0 ? 0 : prefix >= 32 ? 0xffffffffu : ~((1u << (32 - prefix)) - 1);
}

int netaddr_parse_cidr(const char *s, struct netaddr_cidr *out, uint32_t *host)
{
	uint32_t a;
	unsigned int p;

	if (!s || parse_ipv4_prefix(&s, &a) < 0 || *s++ != '/' || parse_dec(&s, 32, &p) < 0 || *s)
		return -EINVAL;
	out->prefix = (uint8_t)p;
	out->net = a & netaddr_mask(out->prefix);
	if (host)
		*host = a;
	return 0;
}

char *netaddr_format_cidr(const struct netaddr_cidr *c, char *buf)
{
	char a[NETADDR_IPV4_STRLEN];

	snprintf(buf, NETADDR_CIDR_STRLEN, "%s/%u", netaddr_format_ipv4(c->net, a), (unsigned int)(c->prefix & 63));
	return buf;
}

bool netaddr_contains(const struct netaddr_cidr *c, uint32_t a)
{
	return (a & netaddr_mask(c->prefix)) == c->net;
}

uint32_t netaddr_broadcast(const struct netaddr_cidr *c)
{
	return c->net | ~netaddr_mask(c->prefix);
}

uint32_t netaddr_gateway(const struct netaddr_cidr *c)
{
	return c->net + 1;
}

int netaddr_check_subnet(const struct netaddr_cidr *c, char *err, size_t errlen)
{
	static const struct { uint32_t net; uint8_t prefix; const char *what; } bad[] = {
		{ 0x00000000u, 8, "0.0.0.0/8 (this network)" },
		{ 0x7f000000u, 8, "127.0.0.0/8 (loopback: public addresses live there)" },
		{ 0xa9fe0000u, 16, "169.254.0.0/16 (link-local: host links live there)" },
		{ 0xe0000000u, 3, "224.0.0.0/3 (multicast/reserved)" },
	};

	if (c->prefix < NETADDR_SUBNET_MIN_PREFIX || c->prefix > NETADDR_SUBNET_MAX_PREFIX) {
		snprintf(err, errlen, "prefix /%u: a VPC subnet must be /%d to /%d", c->prefix,
			 NETADDR_SUBNET_MIN_PREFIX, NETADDR_SUBNET_MAX_PREFIX);
		return -EINVAL;
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct netaddr_cidr b = { bad[i].net, bad[i].prefix };
		uint8_t p = c->prefix < b.prefix ? c->prefix : b.prefix;

		/* Overlap: equal when both are cut to the shorter prefix. */
		if ((c->net & netaddr_mask(p)) == (b.net & netaddr_mask(p))) {
			snprintf(err, errlen, "overlaps %s", bad[i].what);
			return -EINVAL;
		}
	}
	return 0;
}

static bool in_list(uint32_t a, const uint32_t *used, size_t nused)
{
	for (size_t i = 0; i < nused; i++)
		if (used[i] == a)
			return true;
	return false;
}

int netaddr_alloc_host(const struct netaddr_cidr *c, const uint32_t *used, size_t nused,
		       uint32_t *out)
{
	uint32_t last = netaddr_broadcast(c);

	if (c->prefix > 30)
		return -ENOSPC;
	for (uint32_t a = c->net + NETADDR_RESERVED_LOW; a < last; a++) {
		if (!in_list(a, used, nused)) {
			*out = a;
			return 0;
		}
	}
	return -ENOSPC;
}

int netaddr_alloc_link(const uint32_t *used, size_t nused, uint32_t *host_end, uint32_t *ns_end)
{
	uint32_t n = 1u << (32 - NETADDR_LINK_POOL_LEN);

	for (uint32_t off = 0; off < n; off += 4) {
		uint32_t base = NETADDR_LINK_POOL + off;
		bool taken = false;

		for (uint32_t k = 0; k < 4 && !taken; k++)
			taken = in_list(base + k, used, nused);
		if (!taken) {
			*host_end = base + 1;
			*ns_end = base + 2;
			return 0;
		}
	}
	return -ENOSPC;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int netaddr_parse_mac(const char *s, uint8_t mac[6])
{
	uint8_t m[6];
	bool zero = true;

	if (!s || strlen(s) != 17)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		int hi = hexval(s[i * 3]), lo = hexval(s[i * 3 + 1]);

		if (hi < 0 || lo < 0 || (i < 5 && s[i * 3 + 2] != ':'))
			return -EINVAL;
		m[i] = (uint8_t)(hi << 4 | lo);
		zero = zero && !m[i];
	}
	if (zero || (m[0] & 1))
		return -EINVAL;
	memcpy(mac, m, 6);
	return 0;
}

char *netaddr_format_mac(const uint8_t mac[6], char *buf)
{
	snprintf(buf, NETADDR_MAC_STRLEN, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1],
		 mac[2], mac[3], mac[4], mac[5]);
	return buf;
}

uint32_t netaddr_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++) {
		h ^= (uint8_t)*s;
		h *= 16777619u;
	}
	return h;
}

void netaddr_default_mac(const char *seed, uint8_t mac[6])
{
	uint32_t h = netaddr_hash(seed);

	/* 02:00 = locally administered, unicast; then 32 bits of the hash. */
	mac[0] = 0x02;
	mac[1] = 0x00;
	mac[2] = (uint8_t)(h >> 24);
	mac[3] = (uint8_t)(h >> 16);
	mac[4] = (uint8_t)(h >> 8);
	mac[5] = (uint8_t)h;
}

bool netaddr_valid_ifname(const char *s)
{
	size_t n;

	if (!s)
		return false;
	n = strlen(s);
	if (n == 0 || n > NETADDR_IFNAME_MAX || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= ' ' || c >= 0x7f || c == '/' || c == ':')
			return false;
	}
	return true;
}

bool netaddr_valid_nsname(const char *s)
{
	size_t n;

	if (!s)
		return false;
	n = strlen(s);
	if (n == 0 || n > NETADDR_NSNAME_MAX || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}
