/* tests/unit/test_netaddr.c - the pure instance-networking helpers: IPv4
 * and CIDR parsing, subnet checks, address allocation, MACs, names. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "common/netaddr.h"

static void test_ipv4_parse(void **state)
{
	uint32_t a;
	char buf[NETADDR_IPV4_STRLEN];

	(void)state;
	assert_int_equal(netaddr_parse_ipv4("10.77.0.1", &a), 0);
	assert_int_equal(a, 0x0a4d0001);
	assert_string_equal(netaddr_format_ipv4(a, buf), "10.77.0.1");
	assert_int_equal(netaddr_parse_ipv4("0.0.0.0", &a), 0);
	assert_int_equal(netaddr_parse_ipv4("255.255.255.255", &a), 0);
	assert_int_equal(a, 0xffffffffu);
	static const char *const bad[] = { "", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4 ",
					   "01.2.3.4", "1..2.3", "+1.2.3.4", "1.2.3.4/8", "a.b.c.d",
					   "1.2.3.1000" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(netaddr_parse_ipv4(bad[i], &a), -EINVAL);
	assert_int_equal(netaddr_parse_ipv4(NULL, &a), -EINVAL);
}

static void test_cidr_parse(void **state)
{
	struct netaddr_cidr c;
	uint32_t host;
	char buf[NETADDR_CIDR_STRLEN];

	(void)state;
	assert_int_equal(netaddr_parse_cidr("10.77.0.9/24", &c, &host), 0);
	assert_int_equal(c.net, 0x0a4d0000);
	assert_int_equal(c.prefix, 24);
	assert_int_equal(host, 0x0a4d0009);
	assert_string_equal(netaddr_format_cidr(&c, buf), "10.77.0.0/24");
	assert_int_equal(netaddr_parse_cidr("0.0.0.0/0", &c, NULL), 0);
	assert_int_equal(c.net, 0);
	assert_int_equal(netaddr_parse_cidr("255.255.255.255/32", &c, NULL), 0);
	assert_string_equal(netaddr_format_cidr(&c, buf), "255.255.255.255/32");
	assert_int_equal(netaddr_parse_cidr("10.0.0.0/33", &c, NULL), -EINVAL);
	assert_int_equal(netaddr_parse_cidr("10.0.0.0/", &c, NULL), -EINVAL);
	assert_int_equal(netaddr_parse_cidr("10.0.0.0", &c, NULL), -EINVAL);
	assert_int_equal(netaddr_parse_cidr("10.0.0.0/024", &c, NULL), -EINVAL);
	assert_int_equal(netaddr_parse_cidr("10.0.0.0/24x", &c, NULL), -EINVAL);
}

static void test_mask_contains_broadcast(void **state)
{
	struct netaddr_cidr c = { 0x0a4d0000, 24 };

	(void)state;
	assert_int_equal(netaddr_mask(0), 0);
	assert_int_equal(netaddr_mask(24), 0xffffff00u);
	assert_int_equal(netaddr_mask(32), 0xffffffffu);
	assert_true(netaddr_contains(&c, 0x0a4d00ff));
	assert_false(netaddr_contains(&c, 0x0a4d0100));
	assert_int_equal(netaddr_broadcast(&c), 0x0a4d00ff);
	assert_int_equal(netaddr_gateway(&c), 0x0a4d0001);
}

static void test_check_subnet(void **state)
{
	struct netaddr_cidr c;
	char err[128];

	(void)state;
	assert_int_equal(netaddr_parse_cidr("10.77.0.0/24", &c, NULL), 0);
	assert_int_equal(netaddr_check_subnet(&c, err, sizeof(err)), 0);
	assert_int_equal(netaddr_parse_cidr("172.16.0.0/16", &c, NULL), 0);
	assert_int_equal(netaddr_check_subnet(&c, err, sizeof(err)), 0);
	assert_int_equal(netaddr_parse_cidr("10.0.0.0/29", &c, NULL), 0);
	assert_int_equal(netaddr_check_subnet(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "/29"));
	assert_int_equal(netaddr_parse_cidr("10.0.0.0/7", &c, NULL), 0);
	assert_int_equal(netaddr_check_subnet(&c, err, sizeof(err)), -EINVAL);
	assert_int_equal(netaddr_parse_cidr("127.1.0.0/16", &c, NULL), 0);
	assert_int_equal(netaddr_check_subnet(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "loopback"));
	assert_int_equal(netaddr_parse_cidr("169.254.64.0/24", &c, NULL), 0);
	assert_int_equal(netaddr_check_subnet(&c, err, sizeof(err)), -EINVAL);
	/* A wide subnet that contains the link-local range overlaps it too. */
	assert_int_equal(netaddr_parse_cidr("168.0.0.0/8", &c, NULL), 0);
	assert_int_equal(netaddr_check_subnet(&c, err, sizeof(err)), 0);
	assert_int_equal(netaddr_parse_cidr("169.0.0.0/8", &c, NULL), 0);
	assert_int_equal(netaddr_check_subnet(&c, err, sizeof(err)), -EINVAL);
	assert_int_equal(netaddr_parse_cidr("230.0.0.0/16", &c, NULL), 0);
	assert_int_equal(netaddr_check_subnet(&c, err, sizeof(err)), -EINVAL);
}

static void test_alloc_host(void **state)
{
	struct netaddr_cidr c = { 0x0a4d0000, 24 }, small = { 0x0a4d0000, 28 };
	uint32_t used[300], a;
	size_t n = 0;

	(void)state;
	/* .0 network, .1 gateway, .2 DNS, .3 reserved: first instance is .4 */
	assert_int_equal(netaddr_alloc_host(&c, NULL, 0, &a), 0);
	assert_int_equal(a, 0x0a4d0004);
	used[n++] = 0x0a4d0004;
	used[n++] = 0x0a4d0006;
	assert_int_equal(netaddr_alloc_host(&c, used, n, &a), 0);
	assert_int_equal(a, 0x0a4d0005);
	/* A /28 has .4 ... .14 (broadcast .15 reserved): 11 addresses. */
	n = 0;
	for (uint32_t h = 4; h < 15; h++)
		used[n++] = small.net + h;
	assert_int_equal(netaddr_alloc_host(&small, used, n - 1, &a), 0);
	assert_int_equal(a, small.net + 14);
	assert_int_equal(netaddr_alloc_host(&small, used, n, &a), -ENOSPC);
}

static void test_alloc_link(void **state)
{
	uint32_t used[8], h, ns;

	(void)state;
	assert_int_equal(netaddr_alloc_link(NULL, 0, &h, &ns), 0);
	assert_int_equal(h, NETADDR_LINK_POOL + 1);
	assert_int_equal(ns, NETADDR_LINK_POOL + 2);
	/* Any address of a /30 in use takes the whole /30. */
	used[0] = NETADDR_LINK_POOL + 1;
	used[1] = NETADDR_LINK_POOL + 7;
	used[2] = 0x0a000001;
	assert_int_equal(netaddr_alloc_link(used, 3, &h, &ns), 0);
	assert_int_equal(h, NETADDR_LINK_POOL + 9);
	assert_int_equal(ns, NETADDR_LINK_POOL + 10);
}

static void test_mac(void **state)
{
	uint8_t m[6], m2[6];
	char buf[NETADDR_MAC_STRLEN];

	(void)state;
	assert_int_equal(netaddr_parse_mac("02:00:00:00:00:01", m), 0);
	assert_string_equal(netaddr_format_mac(m, buf), "02:00:00:00:00:01");
	assert_int_equal(netaddr_parse_mac("52:54:AB:cd:eF:99", m), 0);
	assert_int_equal(m[2], 0xab);
	assert_int_equal(netaddr_parse_mac("01:00:5e:00:00:01", m), -EINVAL); /* multicast */
	assert_int_equal(netaddr_parse_mac("00:00:00:00:00:00", m), -EINVAL);
	assert_int_equal(netaddr_parse_mac("02:00:00:00:00", m), -EINVAL);
	assert_int_equal(netaddr_parse_mac("02-00-00-00-00-01", m), -EINVAL);
	assert_int_equal(netaddr_parse_mac("02:00:00:00:00:0g", m), -EINVAL);
	assert_int_equal(netaddr_parse_mac("02:00:00:00:00:011", m), -EINVAL);
	netaddr_default_mac("tap0", m);
	netaddr_default_mac("tap0", m2);
	assert_memory_equal(m, m2, 6);
	assert_int_equal(m[0], 0x02); /* locally administered unicast */
	netaddr_default_mac("tap1", m2);
	assert_memory_not_equal(m, m2, 6);
}

static void test_names(void **state)
{
	(void)state;
	assert_true(netaddr_valid_ifname("tap0"));
	assert_true(netaddr_valid_ifname("hn0123456789abc")); /* 15 */
	assert_false(netaddr_valid_ifname("hn0123456789abcd"));
	assert_false(netaddr_valid_ifname(""));
	assert_false(netaddr_valid_ifname("a/b"));
	assert_false(netaddr_valid_ifname("a:b"));
	assert_false(netaddr_valid_ifname("a b"));
	assert_false(netaddr_valid_ifname(".."));
	assert_false(netaddr_valid_ifname(NULL));
	assert_true(netaddr_valid_nsname("haneul-vpc-0abc_1.x"));
	assert_false(netaddr_valid_nsname("../etc"));
	assert_false(netaddr_valid_nsname("a/b"));
	assert_false(netaddr_valid_nsname("."));
	assert_false(netaddr_valid_nsname(""));
	char long_name[80];
	memset(long_name, 'a', 65);
	long_name[65] = '\0';
	assert_false(netaddr_valid_nsname(long_name));
	long_name[64] = '\0';
	assert_true(netaddr_valid_nsname(long_name));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4_parse),
		cmocka_unit_test(test_cidr_parse),
		cmocka_unit_test(test_mask_contains_broadcast),
		cmocka_unit_test(test_check_subnet),
		cmocka_unit_test(test_alloc_host),
		cmocka_unit_test(test_alloc_link),
		cmocka_unit_test(test_mac),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
