/* api/ec2_net.c - the default VPC, instance taps and the public-address
 * forwarder (see ec2_net.h). */
#include "api/ec2_net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/netaddr.h"
#include "common/netns.h"

#define FWD_MAX   256
#define FWD_PORT  80

struct listener {
	int fd;
	uint32_t pub, priv;
};

struct ec2_net {
	char vpc[NETADDR_NSNAME_MAX + 1];
	char cidr_s[NETADDR_CIDR_STRLEN];
	pthread_mutex_t vpc_mu;
	int vpc_state;            /* 0 unknown, 1 ready, -1 failed (logged once) */
	struct netaddr_cidr cidr;
	uint32_t gateway;
	/* forwarder */
	pthread_t thread;
	int efd;
	pthread_mutex_t mu;
	bool stop;
	struct ec2_fwd_map want[FWD_MAX];
	size_t n_want;
	bool dirty;
	struct listener l[FWD_MAX]; /* owned by the thread */
	size_t n_l;
};

void ec2_net_tap_name(const char *id, char out[16])
{
	snprintf(out, 16, "hnt%08x", netaddr_hash(id));
}

static void *fwd_main(void *arg);

void ec2_net_new(const char *data_dir, const char *cidr, struct ec2_net **out)
{
	struct ec2_net *n;

	*out = NULL;
	if (geteuid() != 0) {
		log_warn("ec2: not root: instances get no network (no VPC namespace, no public addresses)");
		return;
	}
	n = calloc(1, sizeof(*n));
	if (!n)
		return;
	snprintf(n->vpc, sizeof(n->vpc), "hn-%08x", netaddr_hash(data_dir));
	if (netaddr_parse_cidr(cidr, &n->cidr, NULL)) {
		free(n);
		return;
	}
	n->gateway = netaddr_gateway(&n->cidr);
	snprintf(n->cidr_s, sizeof(n->cidr_s), "%s", cidr);
	/* The namespace itself is made by the first instance that needs it
	 * (vpc_ready), so a haneuld that never runs one leaves nothing. */
	n->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	pthread_mutex_init(&n->mu, NULL);
	if (n->efd < 0 || pthread_create(&n->thread, NULL, fwd_main, n)) {
		log_warn("ec2: cannot start the public-address forwarder");
		if (n->efd >= 0)
			close(n->efd);
		pthread_mutex_destroy(&n->mu);
		free(n);
		return;
	}
	pthread_mutex_init(&n->vpc_mu, NULL);
	*out = n;
}

bool ec2_net_enabled(const struct ec2_net *n)
{
	return n != NULL;
}

void ec2_net_free(struct ec2_net *n)
{
	uint64_t one = 1;

	if (!n)
		return;
	pthread_mutex_lock(&n->mu);
	n->stop = true;
	pthread_mutex_unlock(&n->mu);
	if (write(n->efd, &one, sizeof(one)) < 0) { /* the thread still sees stop */ }
	pthread_join(n->thread, NULL);
	close(n->efd);
	pthread_mutex_destroy(&n->mu);
	pthread_mutex_destroy(&n->vpc_mu);
	/* The namespace stays: VMMs that outlive haneuld keep using it. */
	free(n);
}

/* Looks up (and with create, creates) the VPC namespace once.  0 or -errno. */
static int vpc_ready(struct ec2_net *n, bool create)
{
	struct netns_vpc *info;
	char err[256] = "";
	int r;

	pthread_mutex_lock(&n->vpc_mu);
	if (n->vpc_state) {
		r = n->vpc_state > 0 ? 0 : -ENODEV;
		pthread_mutex_unlock(&n->vpc_mu);
		return r;
	}
	info = malloc(sizeof(*info)); /* big: a tap name table */
	r = info ? netns_vpc_info(n->vpc, info, err, sizeof(err)) : -ENOMEM;
	if (r == -ENOENT && !create) {
		free(info);
		pthread_mutex_unlock(&n->vpc_mu);
		return r;
	}
	if (r == -ENOENT)
		r = netns_vpc_create(n->vpc, n->cidr_s, info, err, sizeof(err));
	free(info);
	if (r) {
		log_warn("ec2: VPC namespace %s (%s): %s: instances get no network", n->vpc, n->cidr_s, err);
		n->vpc_state = -1;
	} else {
		log_info("ec2: default VPC in network namespace %s (%s)", n->vpc, n->cidr_s);
		n->vpc_state = 1;
	}
	pthread_mutex_unlock(&n->vpc_mu);
	return r;
}

int ec2_net_instance(struct ec2_net *n, const char *id, const char *private_ip, char *net_arg, size_t net_len,
		     char *cmdline_arg, size_t cmd_len)
{
	char tap[16], gw[NETADDR_IPV4_STRLEN], err[256] = "";
	uint8_t mac[6];
	char macs[NETADDR_MAC_STRLEN];
	int r;

	if (!n)
		return -ENODEV;
	r = vpc_ready(n, true);
	if (r)
		return r;
	ec2_net_tap_name(id, tap);
	r = netns_tap_create(n->vpc, tap, err, sizeof(err));
	if (r && r != -EEXIST) {
		log_warn("ec2: %s: tap %s in %s: %s", id, tap, n->vpc, err);
		return r;
	}
	netaddr_default_mac(id, mac);
	snprintf(net_arg, net_len, "tap=%s,netns=%s,mac=%s", tap, n->vpc, netaddr_format_mac(mac, macs));
	snprintf(cmdline_arg, cmd_len, "ip=%s/%u gw=%s", private_ip, n->cidr.prefix, netaddr_format_ipv4(n->gateway, gw));
	return 0;
}

void ec2_net_instance_gone(struct ec2_net *n, const char *id)
{
	char tap[16], err[256];

	if (!n || vpc_ready(n, false))
		return;
	ec2_net_tap_name(id, tap);
	netns_tap_delete(n->vpc, tap, err, sizeof(err));
}

void ec2_net_forward(struct ec2_net *n, const struct ec2_fwd_map *maps, size_t count)
{
	uint64_t one = 1;

	if (!n)
		return;
	if (count > FWD_MAX)
		count = FWD_MAX;
	pthread_mutex_lock(&n->mu);
	if (count != n->n_want || memcmp(maps, n->want, count * sizeof(*maps))) {
		memcpy(n->want, maps, count * sizeof(*maps));
		n->n_want = count;
		n->dirty = true;
	}
	pthread_mutex_unlock(&n->mu);
	if (n->dirty && write(n->efd, &one, sizeof(one)) < 0) { /* already signalled */ }
}

/* ---- forwarder ---------------------------------------------------------------- */

struct conn {
	int a, b;
	uint32_t priv;
};

/* Relays one client connection to the instance; a thread per connection:
 * public-address traffic to test/demo guests is light, and this keeps the
 * relay obviously correct (half-close passed on in both directions). */
static void *conn_main(void *arg)
{
	struct conn *c = arg;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(FWD_PORT) };
	struct timeval tv = { 5, 0 };
	bool a_open = true, b_open = true;
	char buf[16384];

	sa.sin_addr.s_addr = htonl(c->priv);
	c->b = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->b < 0)
		goto out;
	setsockopt(c->b, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(c->b, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto out;
	while (a_open || b_open) {
		struct pollfd p[2] = { { a_open ? c->a : -1, POLLIN, 0 }, { b_open ? c->b : -1, POLLIN, 0 } };
		int i;

		if (poll(p, 2, 60000) <= 0)
			break; /* idle a minute: drop it */
		for (i = 0; i < 2; i++) {
			int from = i ? c->b : c->a, to = i ? c->a : c->b;
			ssize_t r, w, off;

			if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			r = read(from, buf, sizeof(buf));
			if (r <= 0) {
				shutdown(to, SHUT_WR);
				if (i)
					b_open = false;
				else
					a_open = false;
				continue;
			}
			for (off = 0; off < r; off += w) {
				w = send(to, buf + off, (size_t)(r - off), MSG_NOSIGNAL);
				if (w <= 0)
					goto out;
			}
		}
	}
out:
	if (c->b >= 0)
		close(c->b);
	close(c->a);
	free(c);
	return NULL;
}

static int listen_on(uint32_t pub)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(FWD_PORT) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), one = 1;

	if (fd < 0)
		return -errno;
	sa.sin_addr.s_addr = htonl(pub);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

/* Opens and closes listeners to match n->want (thread only). */
static void reconcile(struct ec2_net *n)
{
	struct ec2_fwd_map want[FWD_MAX];
	size_t nw, i, j;

	pthread_mutex_lock(&n->mu);
	nw = n->n_want;
	memcpy(want, n->want, nw * sizeof(*want));
	n->dirty = false;
	pthread_mutex_unlock(&n->mu);
	for (i = 0; i < n->n_l;) {
		bool keep = false;

		for (j = 0; j < nw && !keep; j++)
			keep = want[j].public_ip == n->l[i].pub && want[j].private_ip == n->l[i].priv;
		if (keep) {
			i++;
			continue;
		}
		close(n->l[i].fd);
		n->l[i] = n->l[--n->n_l];
	}
	for (j = 0; j < nw; j++) {
		bool have = false;
		int fd;

		for (i = 0; i < n->n_l && !have; i++)
			have = n->l[i].pub == want[j].public_ip;
		if (have || n->n_l == FWD_MAX)
			continue;
		fd = listen_on(want[j].public_ip);
		if (fd < 0) {
			char a[NETADDR_IPV4_STRLEN];

			log_warn("ec2: cannot listen on %s:%d: %s", netaddr_format_ipv4(want[j].public_ip, a), FWD_PORT,
				 strerror(-fd));
			continue;
		}
		n->l[n->n_l++] = (struct listener){ fd, want[j].public_ip, want[j].private_ip };
	}
}

static void *fwd_main(void *arg)
{
	struct ec2_net *n = arg;
	struct pollfd p[FWD_MAX + 1];

	for (;;) {
		size_t i, cnt;
		bool stop;

		pthread_mutex_lock(&n->mu);
		stop = n->stop;
		pthread_mutex_unlock(&n->mu);
		if (stop)
			break;
		reconcile(n);
		p[0] = (struct pollfd){ n->efd, POLLIN, 0 };
		for (i = 0; i < n->n_l; i++)
			p[i + 1] = (struct pollfd){ n->l[i].fd, POLLIN, 0 };
		cnt = n->n_l + 1;
		if (poll(p, cnt, 1000) < 0)
			continue;
		if (p[0].revents & POLLIN) {
			uint64_t v;

			if (read(n->efd, &v, sizeof(v)) < 0) { /* nothing pending */ }
		}
		for (i = 1; i < cnt; i++) {
			struct conn *c;
			pthread_t t;
			pthread_attr_t at;
			int fd;

			if (!(p[i].revents & POLLIN))
				continue;
			fd = accept4(p[i].fd, NULL, NULL, SOCK_CLOEXEC);
			if (fd < 0)
				continue;
			c = calloc(1, sizeof(*c));
			if (!c) {
				close(fd);
				continue;
			}
			c->a = fd;
			c->b = -1;
			c->priv = n->l[i - 1].priv;
			pthread_attr_init(&at);
			pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
			if (pthread_create(&t, &at, conn_main, c)) {
				close(fd);
				free(c);
			}
			pthread_attr_destroy(&at);
		}
	}
	while (n->n_l)
		close(n->l[--n->n_l].fd);
	return NULL;
}
