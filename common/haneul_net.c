/* common/haneul_net.c - haneul-net: the instance-networking helpers
 * (common/netns.h) from the command line, for tests and operators, so that
 * scripts need not shell out to `ip`.  Not part of libcommon.a.
 *
 *   haneul-net vpc-create NAME CIDR | vpc-delete NAME | info NAME | list
 *   haneul-net tap-create VPC TAP | tap-delete VPC TAP
 *   haneul-net exec VPC CMD [ARG...]
 *
 * Exit status: 0 done, 1 failed (one line on stderr), 2 usage; exec: the
 * command's own status, 127 when it cannot be run.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/netaddr.h"
#include "common/netns.h"
#include "common/nsenter.h"

static int usage(FILE *f, int status)
{
	fprintf(f,
		"usage: haneul-net vpc-create NAME CIDR   namespace NAME, bridge %s at CIDR's .1,\n"
		"                                         host link + route to CIDR\n"
		"       haneul-net vpc-delete NAME        taps, bridge, host link, namespace\n"
		"       haneul-net tap-create VPC TAP     persistent vnet_hdr tap on the bridge\n"
		"       haneul-net tap-delete VPC TAP\n"
		"       haneul-net info NAME              one VPC, key=value lines\n"
		"       haneul-net list                   VPC namespaces on this host\n"
		"       haneul-net exec VPC CMD [ARG...]  run CMD inside the VPC namespace\n",
		NETNS_BRIDGE);
	return status;
}

static void print_info(const struct netns_vpc *v)
{
	char c[NETADDR_CIDR_STRLEN], a[NETADDR_IPV4_STRLEN];

	printf("name=%s\n", v->name);
	printf("subnet=%s\n", netaddr_format_cidr(&v->subnet, c));
	printf("gateway=%s\n", netaddr_format_ipv4(v->gateway, a));
	printf("bridge=%s\n", NETNS_BRIDGE);
	printf("host_link=%s\n", v->host_link);
	printf("host_addr=%s\n", netaddr_format_ipv4(v->host_addr, a));
	printf("ns_addr=%s\n", netaddr_format_ipv4(v->ns_addr, a));
	printf("taps=");
	for (unsigned int i = 0; i < v->nr_taps && i < NETNS_MAX_TAPS; i++)
		printf("%s%s", i ? "," : "", v->taps[i]);
	printf("\n");
}

static int fail(const char *err, int r)
{
	fprintf(stderr, "haneul-net: %s\n", err[0] ? err : strerror(-r));
	return 1;
}

int main(int argc, char **argv)
{
	char err[256] = "";
	const char *cmd = argc > 1 ? argv[1] : "";
	struct netns_vpc *v;
	int r;

	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help"))
		return usage(stdout, 0);
	if (!strcmp(cmd, "vpc-create") && argc == 4) {
		v = calloc(1, sizeof(*v));
		if (!v)
			return fail("out of memory", -ENOMEM);
		r = netns_vpc_create(argv[2], argv[3], v, err, sizeof(err));
		if (r == 0)
			print_info(v);
		free(v);
		return r < 0 ? fail(err, r) : 0;
	}
	if (!strcmp(cmd, "vpc-delete") && argc == 3) {
		r = netns_vpc_delete(argv[2], err, sizeof(err));
		return r < 0 ? fail(err, r) : 0;
	}
	if (!strcmp(cmd, "tap-create") && argc == 4) {
		r = netns_tap_create(argv[2], argv[3], err, sizeof(err));
		return r < 0 ? fail(err, r) : 0;
	}
	if (!strcmp(cmd, "tap-delete") && argc == 4) {
		r = netns_tap_delete(argv[2], argv[3], err, sizeof(err));
		return r < 0 ? fail(err, r) : 0;
	}
	if (!strcmp(cmd, "info") && argc == 3) {
		v = calloc(1, sizeof(*v));
		if (!v)
			return fail("out of memory", -ENOMEM);
		r = netns_vpc_info(argv[2], v, err, sizeof(err));
		if (r == 0)
			print_info(v);
		free(v);
		return r < 0 ? fail(err, r) : 0;
	}
	if (!strcmp(cmd, "list") && argc == 2) {
		char (*names)[NETADDR_NSNAME_MAX + 1];
		size_t n;

		r = netns_vpc_list(&names, &n, err, sizeof(err));
		if (r < 0)
			return fail(err, r);
		v = calloc(1, sizeof(*v));
		for (size_t i = 0; v && i < n; i++) {
			char c[NETADDR_CIDR_STRLEN];

			if (netns_vpc_info(names[i], v, err, sizeof(err)) < 0)
				continue;
			printf("%s %s taps=%u host_link=%s\n", v->name,
			       netaddr_format_cidr(&v->subnet, c), v->nr_taps, v->host_link);
		}
		free(v);
		free(names);
		return 0;
	}
	if (!strcmp(cmd, "exec") && argc >= 4) {
		int saved;

		r = nsenter_enter(argv[2], &saved);
		if (r < 0) {
			snprintf(err, sizeof(err), "entering VPC namespace '%s': %s", argv[2],
				 strerror(-r));
			return fail(err, r);
		}
		close(saved);
		execvp(argv[3], &argv[3]);
		snprintf(err, sizeof(err), "%s: %s", argv[3], strerror(errno));
		fail(err, -errno);
		return 127; /* as a shell says "command not found" */
	}
	return usage(stderr, 2);
}
