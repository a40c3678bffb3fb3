/* common/netns.c - VPC namespaces, bridges, taps and host links over
 * netlink (libnl-route-3) and /dev/net/tun (see netns.h). */
#include "common/netns.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>

#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>

#include "common/nsenter.h"

/* libnl error -> -errno (libnl has no public reverse map). */
static int nlerr(int e)
{
	switch (e < 0 ? -e : e) {
	case NLE_EXIST: return -EEXIST;
	case NLE_OBJ_NOTFOUND:
	case NLE_NODEV: return -ENODEV;
	case NLE_PERM: return -EPERM;
	case NLE_NOACCESS: return -EACCES;
	case NLE_NOMEM: return -ENOMEM;
	case NLE_BUSY: return -EBUSY;
	case NLE_INVAL:
	case NLE_RANGE: return -EINVAL;
	case NLE_OPNOTSUPP: return -EOPNOTSUPP;
	default: return -EIO;
	}
}

#define FAIL(r_, ...) do { snprintf(err, errlen, __VA_ARGS__); r = (r_); goto out; } while (0)

void netns_host_link_name(const char *vpc, char *buf)
{
	snprintf(buf, NETADDR_IFNAME_MAX + 1, "hn%08x", netaddr_hash(vpc));
}

static void ns_path(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", NSENTER_RUN_DIR, name);
}

/* A netlink route socket in the calling thread's namespace (vpc NULL) or
 * inside VPC.  Caller frees with nl_socket_free(). */
static int sock_open(const char *vpc, struct nl_sock **out)
{
	struct nl_sock *sk;
	int saved = -1, r;

	if (vpc) {
		r = nsenter_enter(vpc, &saved);
		if (r < 0)
			return r;
	}
	sk = nl_socket_alloc();
	if (!sk) {
		r = -ENOMEM;
	} else {
		r = nl_connect(sk, NETLINK_ROUTE);
		if (r < 0) {
			nl_socket_free(sk);
			sk = NULL;
			r = nlerr(r);
		}
	}
	if (vpc && nsenter_restore(saved) < 0 && r == 0) {
		/* Cannot get back: this thread is lost in the namespace. */
		abort();
	}
	*out = sk;
	return r;
}

static int link_ifindex(struct nl_sock *sk, const char *name)
{
	struct rtnl_link *l;
	int r = rtnl_link_get_kernel(sk, 0, name, &l);

	if (r < 0)
		return nlerr(r);
	r = rtnl_link_get_ifindex(l);
	rtnl_link_put(l);
	return r;
}

static int link_up(struct nl_sock *sk, const char *name)
{
	struct rtnl_link *l, *chg;
	int r = rtnl_link_get_kernel(sk, 0, name, &l);

	if (r < 0)
		return nlerr(r);
	chg = rtnl_link_alloc();
	if (!chg) {
		rtnl_link_put(l);
		return -ENOMEM;
	}
	rtnl_link_set_flags(chg, IFF_UP);
	r = rtnl_link_change(sk, l, chg, 0);
	rtnl_link_put(chg);
	rtnl_link_put(l);
	return r < 0 ? nlerr(r) : 0;
}

static int link_delete(struct nl_sock *sk, const char *name)
{
	struct rtnl_link *l = rtnl_link_alloc();
	int r;

	if (!l)
		return -ENOMEM;
	rtnl_link_set_name(l, name);
	r = rtnl_link_delete(sk, l);
	rtnl_link_put(l);
	return r < 0 ? nlerr(r) : 0;
}

static struct nl_addr *v4(uint32_t a, int prefix)
{
	uint32_t be = htonl(a);
	struct nl_addr *na = nl_addr_build(AF_INET, &be, 4);

	if (na)
		nl_addr_set_prefixlen(na, prefix);
	return na;
}

static int addr_add(struct nl_sock *sk, int ifindex, uint32_t a, int prefix)
{
	struct rtnl_addr *ra = rtnl_addr_alloc();
	struct nl_addr *na = v4(a, prefix);
	int r = -ENOMEM;

	if (ra && na) {
		rtnl_addr_set_ifindex(ra, ifindex);
		rtnl_addr_set_family(ra, AF_INET);
		r = rtnl_addr_set_local(ra, na);
		rtnl_addr_set_prefixlen(ra, prefix);
		if (r == 0)
			r = rtnl_addr_add(sk, ra, 0);
		r = r < 0 ? nlerr(r) : 0;
	}
	if (na)
		nl_addr_put(na);
	if (ra)
		rtnl_addr_put(ra);
	return r;
}

/* Every IPv4 address configured in the socket's namespace; *list malloc'd. */
static int addr_list(struct nl_sock *sk, uint32_t **list, size_t *n)
{
	struct nl_cache *cache;
	struct nl_object *o;
	size_t cap = 0;
	int r = rtnl_addr_alloc_cache(sk, &cache);

	*list = NULL;
	*n = 0;
	if (r < 0)
		return nlerr(r);
	for (o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct nl_addr *loc = rtnl_addr_get_local((struct rtnl_addr *)o);
		uint32_t be;

		if (!loc || nl_addr_get_family(loc) != AF_INET)
			continue;
		if (*n == cap) {
			uint32_t *p = realloc(*list, (cap = cap ? cap * 2 : 64) * sizeof(*p));

			if (!p) {
				r = -ENOMEM;
				break;
			}
			*list = p;
		}
		memcpy(&be, nl_addr_get_binary_addr(loc), 4);
		(*list)[(*n)++] = ntohl(be);
	}
	nl_cache_free(cache);
	if (r < 0) {
		free(*list);
		*list = NULL;
		*n = 0;
	}
	return r;
}

/* First IPv4 address (and prefix) on link ifindex, or -ENOENT. */
static int link_addr(struct nl_sock *sk, int ifindex, uint32_t *a, uint8_t *prefix)
{
	struct nl_cache *cache;
	struct nl_object *o;
	int r = rtnl_addr_alloc_cache(sk, &cache);

	if (r < 0)
		return nlerr(r);
	r = -ENOENT;
	for (o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_addr *ra = (struct rtnl_addr *)o;
		struct nl_addr *loc = rtnl_addr_get_local(ra);
		uint32_t be;

		if (!loc || nl_addr_get_family(loc) != AF_INET || rtnl_addr_get_ifindex(ra) != ifindex)
			continue;
		memcpy(&be, nl_addr_get_binary_addr(loc), 4);
		*a = ntohl(be);
		*prefix = (uint8_t)rtnl_addr_get_prefixlen(ra);
		r = 0;
		break;
	}
	nl_cache_free(cache);
	return r;
}

static int route_add(struct nl_sock *sk, const struct netaddr_cidr *dst, uint32_t gw, int ifindex)
{
	struct rtnl_route *rt = rtnl_route_alloc();
	struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
	struct nl_addr *d = v4(dst->net, dst->prefix), *g = v4(gw, 32);
	int r = -ENOMEM;

	if (!rt || !nh || !d || !g)
		goto out;
	rtnl_route_set_family(rt, AF_INET);
	rtnl_route_set_table(rt, RT_TABLE_MAIN);
	rtnl_route_set_protocol(rt, RTPROT_STATIC);
	rtnl_route_set_scope(rt, RT_SCOPE_UNIVERSE);
	rtnl_route_set_dst(rt, d);
	rtnl_route_nh_set_ifindex(nh, ifindex);
	rtnl_route_nh_set_gateway(nh, g);
	rtnl_route_add_nexthop(rt, nh);
	nh = NULL; /* the route owns it now */
	r = rtnl_route_add(sk, rt, NLM_F_CREATE | NLM_F_EXCL);
	r = r < 0 ? nlerr(r) : 0;
out:
	if (d)
		nl_addr_put(d);
	if (g)
		nl_addr_put(g);
	if (nh)
		rtnl_route_nh_free(nh);
	if (rt)
		rtnl_route_put(rt);
	return r;
}

/* Write "1\n" to a sysctl file while inside VPC (per-namespace sysctls
 * resolve against the opener's namespace). */
static int ns_sysctl_on(const char *vpc, const char *path)
{
	int saved, fd, r;

	r = nsenter_enter(vpc, &saved);
	if (r < 0)
		return r;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		r = -errno;
	else if (write(fd, "1\n", 2) != 2)
		r = -errno;
	if (fd >= 0)
		close(fd);
	if (nsenter_restore(saved) < 0)
		abort();
	return r;
}

/* ---- namespace files, the way `ip netns add` makes them ---- */

static int run_dir_ready(void)
{
	if (mkdir(NSENTER_RUN_DIR, 0755) < 0 && errno != EEXIST)
		return -errno;
	/* Make /run/netns a shared mount point (bind it onto itself first if
	 * it is not a mount point), so namespace mounts made later propagate
	 * into mount namespaces cloned from this one - as iproute2 does. */
	if (mount("", NSENTER_RUN_DIR, "none", MS_SHARED | MS_REC, NULL) == 0)
		return 0;
	if (errno != EINVAL)
		return -errno;
	if (mount(NSENTER_RUN_DIR, NSENTER_RUN_DIR, "none", MS_BIND | MS_REC, NULL) < 0)
		return -errno;
	if (mount("", NSENTER_RUN_DIR, "none", MS_SHARED | MS_REC, NULL) < 0)
		return -errno;
	return 0;
}

struct ns_make {
	const char *path;
	int r;
};

/* Runs on a short-lived thread: unshare(CLONE_NEWNET) moves only this
 * thread into the new namespace, and the bind mount keeps it alive after
 * the thread ends. */
static void *ns_make_thread(void *arg)
{
	struct ns_make *m = arg;

	if (unshare(CLONE_NEWNET) < 0)
		m->r = -errno;
	else if (mount("/proc/thread-self/ns/net", m->path, "none", MS_BIND, NULL) < 0)
		m->r = -errno;
	else
		m->r = 0;
	return NULL;
}

static int ns_create(const char *name)
{
	char path[PATH_MAX];
	struct ns_make m = { path, 0 };
	pthread_t t;
	int fd, r;

	r = run_dir_ready();
	if (r < 0)
		return r;
	ns_path(name, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	close(fd);
	r = pthread_create(&t, NULL, ns_make_thread, &m);
	if (r != 0) {
		unlink(path);
		return -r;
	}
	pthread_join(t, NULL);
	if (m.r < 0)
		unlink(path);
	return m.r;
}

static int ns_remove(const char *name)
{
	char path[PATH_MAX];

	ns_path(name, path, sizeof(path));
	if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
		return -errno;
	if (unlink(path) < 0)
		return -errno;
	return 0;
}

/* ---- VPCs ---- */

int netns_vpc_create(const char *name, const char *cidr, struct netns_vpc *out, char *err,
		     size_t errlen)
{
	struct nl_sock *hsk = NULL, *nsk = NULL;
	struct rtnl_link *veth = NULL, *peer = NULL;
	struct netaddr_cidr sub;
	char hl[NETADDR_IFNAME_MAX + 1], why[128];
	uint32_t *used = NULL, host_end = 0, ns_end = 0;
	size_t nused = 0;
	bool ns_made = false, veth_made = false;
	int nsfd = -1, r, ifi;

	if (!netaddr_valid_nsname(name))
		FAIL(-EINVAL, "VPC name '%s': use 1..64 of [A-Za-z0-9_.-]", name ? name : "");
	if (netaddr_parse_cidr(cidr, &sub, NULL) < 0)
		FAIL(-EINVAL, "subnet '%s': not an IPv4 CIDR like 10.77.0.0/24", cidr ? cidr : "");
	if (netaddr_check_subnet(&sub, why, sizeof(why)) < 0)
		FAIL(-EINVAL, "subnet '%s': %s", cidr, why);
	netns_host_link_name(name, hl);

	r = sock_open(NULL, &hsk);
	if (r < 0)
		FAIL(r, "netlink: %s", strerror(-r));
	if (link_ifindex(hsk, hl) > 0)
		FAIL(-EEXIST, "host link %s (for VPC %s) already exists", hl, name);
	r = ns_create(name);
	if (r == -EEXIST)
		FAIL(r, "VPC namespace %s already exists", name);
	if (r < 0)
		FAIL(r, "creating namespace %s: %s", name, strerror(-r));
	ns_made = true;

	/* Inside: loopback, bridge at the gateway, forwarding. */
	r = sock_open(name, &nsk);
	if (r < 0)
		FAIL(r, "netlink in %s: %s", name, strerror(-r));
	r = link_up(nsk, "lo");
	if (r < 0)
		FAIL(r, "lo up in %s: %s", name, strerror(-r));
	r = rtnl_link_bridge_add(nsk, NETNS_BRIDGE);
	if (r < 0)
		FAIL(nlerr(r), "bridge %s in %s: %s", NETNS_BRIDGE, name, nl_geterror(r));
	ifi = link_ifindex(nsk, NETNS_BRIDGE);
	if (ifi < 0)
		FAIL(ifi, "bridge %s vanished: %s", NETNS_BRIDGE, strerror(-ifi));
	r = addr_add(nsk, ifi, netaddr_gateway(&sub), sub.prefix);
	if (r < 0)
		FAIL(r, "gateway address on %s: %s", NETNS_BRIDGE, strerror(-r));
	r = link_up(nsk, NETNS_BRIDGE);
	if (r < 0)
		FAIL(r, "%s up: %s", NETNS_BRIDGE, strerror(-r));
	r = ns_sysctl_on(name, "/proc/sys/net/ipv4/ip_forward");
	if (r < 0)
		FAIL(r, "ip_forward in %s: %s", name, strerror(-r));

	/* The host link: a /30 from the pool that no host address uses. */
	r = addr_list(hsk, &used, &nused);
	if (r < 0)
		FAIL(r, "listing host addresses: %s", strerror(-r));
	r = netaddr_alloc_link(used, nused, &host_end, &ns_end);
	if (r < 0)
		FAIL(r, "no free /30 left in the host link pool 169.254.64.0/18");
	nsfd = nsenter_open(name);
	if (nsfd < 0)
		FAIL(nsfd, "opening namespace %s: %s", name, strerror(-nsfd));
	veth = rtnl_link_veth_alloc();
	if (!veth)
		FAIL(-ENOMEM, "out of memory");
	rtnl_link_set_name(veth, hl);
	peer = rtnl_link_veth_get_peer(veth);
	rtnl_link_set_name(peer, NETNS_UPLINK);
	rtnl_link_set_ns_fd(peer, nsfd);
	r = rtnl_link_add(hsk, veth, NLM_F_CREATE | NLM_F_EXCL);
	if (r < 0)
		FAIL(nlerr(r), "veth %s <-> %s:%s: %s", hl, name, NETNS_UPLINK, nl_geterror(r));
	veth_made = true;
	ifi = link_ifindex(hsk, hl);
	if (ifi < 0)
		FAIL(ifi, "host link %s vanished", hl);
	r = addr_add(hsk, ifi, host_end, 30);
	if (r < 0)
		FAIL(r, "address on %s: %s", hl, strerror(-r));
	r = link_up(hsk, hl);
	if (r < 0)
		FAIL(r, "%s up: %s", hl, strerror(-r));
	r = link_ifindex(nsk, NETNS_UPLINK);
	if (r < 0)
		FAIL(r, "%s missing in %s: %s", NETNS_UPLINK, name, strerror(-r));
	r = addr_add(nsk, r, ns_end, 30);
	if (r < 0)
		FAIL(r, "address on %s: %s", NETNS_UPLINK, strerror(-r));
	r = link_up(nsk, NETNS_UPLINK);
	if (r < 0)
		FAIL(r, "%s up: %s", NETNS_UPLINK, strerror(-r));
	r = route_add(hsk, &sub, ns_end, ifi);
	if (r < 0) {
		char c[NETADDR_CIDR_STRLEN];

		FAIL(r, "host route to %s: %s%s", netaddr_format_cidr(&sub, c), strerror(-r),
		     r == -EEXIST ? " (another VPC on this host uses that subnet)" : "");
	}
	if (out) {
		memset(out, 0, sizeof(*out));
		snprintf(out->name, sizeof(out->name), "%s", name);
		out->subnet = sub;
		out->gateway = netaddr_gateway(&sub);
		memcpy(out->host_link, hl, sizeof(hl));
		out->host_addr = host_end;
		out->ns_addr = ns_end;
	}
	r = 0;
out:
	if (peer)
		rtnl_link_put(peer);
	if (veth)
		rtnl_link_veth_release(veth);
	if (nsfd >= 0)
		close(nsfd);
	free(used);
	if (r < 0 && veth_made && hsk)
		link_delete(hsk, hl);
	if (nsk)
		nl_socket_free(nsk);
	if (hsk)
		nl_socket_free(hsk);
	if (r < 0 && ns_made)
		ns_remove(name);
	return r;
}

/* Taps (every link enslaved to the bridge) of the VPC behind sk. */
static int bridge_ports(struct nl_sock *sk, int br, struct netns_vpc *v)
{
	struct nl_cache *cache;
	struct nl_object *o;
	int r = rtnl_link_alloc_cache(sk, AF_UNSPEC, &cache);

	if (r < 0)
		return nlerr(r);
	v->nr_taps = 0;
	for (o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_link *l = (struct rtnl_link *)o;

		if (rtnl_link_get_master(l) != br)
			continue;
		if (v->nr_taps < NETNS_MAX_TAPS)
			snprintf(v->taps[v->nr_taps], sizeof(v->taps[0]), "%s", rtnl_link_get_name(l));
		v->nr_taps++;
	}
	nl_cache_free(cache);
	return 0;
}

int netns_vpc_info(const char *name, struct netns_vpc *out, char *err, size_t errlen)
{
	struct nl_sock *hsk = NULL, *nsk = NULL;
	uint32_t a;
	uint8_t p;
	int r, br, ifi;

	memset(out, 0, sizeof(*out));
	if (!netaddr_valid_nsname(name))
		FAIL(-EINVAL, "VPC name '%s' is not valid", name ? name : "");
	r = sock_open(name, &nsk);
	if (r == -ENOENT)
		FAIL(r, "no VPC namespace %s", name);
	if (r < 0)
		FAIL(r, "namespace %s: %s", name, strerror(-r));
	br = link_ifindex(nsk, NETNS_BRIDGE);
	if (br < 0)
		FAIL(-ENODEV, "namespace %s has no %s: not a haneul VPC", name, NETNS_BRIDGE);
	snprintf(out->name, sizeof(out->name), "%s", name);
	if (link_addr(nsk, br, &a, &p) == 0) {
		out->gateway = a;
		out->subnet.prefix = p;
		out->subnet.net = a & netaddr_mask(p);
	}
	ifi = link_ifindex(nsk, NETNS_UPLINK);
	if (ifi > 0 && link_addr(nsk, ifi, &a, &p) == 0)
		out->ns_addr = a;
	r = bridge_ports(nsk, br, out);
	if (r < 0)
		FAIL(r, "listing ports of %s: %s", NETNS_BRIDGE, strerror(-r));
	r = sock_open(NULL, &hsk);
	if (r < 0)
		FAIL(r, "netlink: %s", strerror(-r));
	netns_host_link_name(name, out->host_link);
	ifi = link_ifindex(hsk, out->host_link);
	if (ifi < 0)
		out->host_link[0] = '\0';
	else if (link_addr(hsk, ifi, &a, &p) == 0)
		out->host_addr = a;
	r = 0;
out:
	if (nsk)
		nl_socket_free(nsk);
	if (hsk)
		nl_socket_free(hsk);
	return r;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(a, b);
}

int netns_vpc_list(char (**names)[NETADDR_NSNAME_MAX + 1], size_t *n, char *err, size_t errlen)
{
	char (*v)[NETADDR_NSNAME_MAX + 1] = NULL;
	size_t cap = 0;
	struct dirent *de;
	DIR *d;
	int r = 0;

	*names = NULL;
	*n = 0;
	d = opendir(NSENTER_RUN_DIR);
	if (!d)
		return errno == ENOENT ? 0 : (snprintf(err, errlen, "%s: %s", NSENTER_RUN_DIR,
						      strerror(errno)), -errno);
	while ((de = readdir(d))) {
		struct nl_sock *sk;

		if (!netaddr_valid_nsname(de->d_name) || de->d_name[0] == '.')
			continue;
		if (sock_open(de->d_name, &sk) < 0)
			continue; /* a stale file, or not a namespace */
		if (link_ifindex(sk, NETNS_BRIDGE) > 0) {
			if (*n == cap) {
				void *p = realloc(v, (cap = cap ? cap * 2 : 16) * sizeof(*v));

				if (!p) {
					nl_socket_free(sk);
					snprintf(err, errlen, "out of memory");
					r = -ENOMEM;
					break;
				}
				v = p;
			}
			/* valid_nsname bounded the length */
			memcpy(v[*n], de->d_name, strlen(de->d_name) + 1);
			(*n)++;
		}
		nl_socket_free(sk);
	}
	closedir(d);
	if (r < 0) {
		free(v);
		*n = 0;
		return r;
	}
	if (*n)
		qsort(v, *n, sizeof(*v), cmp_names);
	*names = v;
	return 0;
}

int netns_vpc_delete(const char *name, char *err, size_t errlen)
{
	struct nl_sock *hsk = NULL, *nsk = NULL;
	struct netns_vpc *v = NULL;
	char hl[NETADDR_IFNAME_MAX + 1];
	int r, br;

	if (!netaddr_valid_nsname(name))
		FAIL(-EINVAL, "VPC name '%s' is not valid", name ? name : "");
	r = sock_open(name, &nsk);
	if (r == -ENOENT)
		FAIL(r, "no VPC namespace %s", name);
	if (r < 0)
		FAIL(r, "namespace %s: %s", name, strerror(-r));
	/* Interfaces first, so none outlives the mount even while a VMM
	 * still holds a tap fd (which pins the namespace object). */
	br = link_ifindex(nsk, NETNS_BRIDGE);
	if (br > 0) {
		v = calloc(1, sizeof(*v));
		if (!v)
			FAIL(-ENOMEM, "out of memory");
		if (bridge_ports(nsk, br, v) == 0)
			for (unsigned int i = 0; i < v->nr_taps && i < NETNS_MAX_TAPS; i++)
				link_delete(nsk, v->taps[i]);
		link_delete(nsk, NETNS_BRIDGE);
	}
	link_delete(nsk, NETNS_UPLINK); /* takes the host end with it */
	r = sock_open(NULL, &hsk);
	if (r == 0) {
		netns_host_link_name(name, hl);
		link_delete(hsk, hl); /* in case the pair was half-made */
	}
	r = ns_remove(name);
	if (r < 0)
		FAIL(r, "removing %s/%s: %s", NSENTER_RUN_DIR, name, strerror(-r));
out:
	free(v);
	if (nsk)
		nl_socket_free(nsk);
	if (hsk)
		nl_socket_free(hsk);
	return r;
}

/* ---- taps ---- */

int netns_tap_create(const char *vpc, const char *tap, char *err, size_t errlen)
{
	struct nl_sock *nsk = NULL;
	struct ifreq ifr;
	int saved = -1, fd = -1, r, br, ifi;
	bool made = false;

	if (!netaddr_valid_ifname(tap))
		FAIL(-EINVAL, "tap name '%s': 1..15 bytes, no '/', ':' or spaces", tap ? tap : "");
	r = sock_open(vpc, &nsk);
	if (r == -ENOENT || r == -EINVAL)
		FAIL(r, "no VPC namespace '%s'", vpc ? vpc : "");
	if (r < 0)
		FAIL(r, "namespace %s: %s", vpc, strerror(-r));
	br = link_ifindex(nsk, NETNS_BRIDGE);
	if (br < 0)
		FAIL(-ENODEV, "namespace %s has no %s: not a haneul VPC", vpc, NETNS_BRIDGE);
	if (link_ifindex(nsk, tap) > 0)
		FAIL(-EEXIST, "interface %s already exists in %s", tap, vpc);

	/* /dev/net/tun makes the tap in the opener's namespace. */
	r = nsenter_enter(vpc, &saved);
	if (r < 0)
		FAIL(r, "entering %s: %s", vpc, strerror(-r));
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
	} else {
		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", tap);
		ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
		if (ioctl(fd, TUNSETIFF, &ifr) < 0)
			r = -errno;
		else if (ioctl(fd, TUNSETPERSIST, 1) < 0)
			r = -errno;
		else
			made = true;
	}
	if (nsenter_restore(saved) < 0)
		abort();
	if (r < 0)
		FAIL(r, "creating tap %s: %s", tap, strerror(-r));
	ifi = link_ifindex(nsk, tap);
	if (ifi < 0)
		FAIL(ifi, "tap %s vanished", tap);
	r = rtnl_link_enslave_ifindex(nsk, br, ifi);
	if (r < 0)
		FAIL(nlerr(r), "adding %s to %s: %s", tap, NETNS_BRIDGE, nl_geterror(r));
	r = link_up(nsk, tap);
	if (r < 0)
		FAIL(r, "%s up: %s", tap, strerror(-r));
out:
	if (r < 0 && made)
		ioctl(fd, TUNSETPERSIST, 0); /* goes away on close */
	if (fd >= 0)
		close(fd);
	if (nsk)
		nl_socket_free(nsk);
	return r;
}

int netns_tap_delete(const char *vpc, const char *tap, char *err, size_t errlen)
{
	struct nl_sock *nsk = NULL;
	int r;

	if (!netaddr_valid_ifname(tap))
		FAIL(-EINVAL, "tap name '%s' is not valid", tap ? tap : "");
	if (!strcmp(tap, NETNS_BRIDGE) || !strcmp(tap, NETNS_UPLINK) || !strcmp(tap, "lo"))
		FAIL(-EINVAL, "%s is not a tap", tap);
	r = sock_open(vpc, &nsk);
	if (r == -ENOENT || r == -EINVAL)
		FAIL(r, "no VPC namespace '%s'", vpc ? vpc : "");
	if (r < 0)
		FAIL(r, "namespace %s: %s", vpc, strerror(-r));
	r = link_delete(nsk, tap);
	if (r == -ENODEV)
		FAIL(r, "no interface %s in %s", tap, vpc);
	if (r < 0)
		FAIL(r, "deleting %s: %s", tap, strerror(-r));
out:
	if (nsk)
		nl_socket_free(nsk);
	return r;
}
