/* lb/main.c - haneul-lb: the load balancer data plane (docs/lb.md).
 *
 *   haneul-lb [--control PATH] [--config FILE] [--workers N] [-v|-q]
 *
 * The main thread serves the control socket and finishes draining targets;
 * workers proxy; one thread runs health checks.  SIGTERM/SIGINT stop it. */
#include <errno.h>
#include <getopt.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"
#include "lb/ctl.h"
#include "lb/lb.h"
#include "lb/nsock.h"

struct ctl_client {
	int fd;
	char *buf;
	size_t len, cap;
	struct ctl_client *next;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: haneul-lb [--control PATH] [--config FILE] [--workers N] [-v|-q]\n");
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *p = NULL;
	size_t n = 0, cap = 0;

	if (!f)
		return NULL;
	for (;;) {
		size_t r;

		if (cap - n < 65536) {
			char *np = realloc(p, cap + 65536 + 1);

			if (!np) {
				free(p);
				fclose(f);
				return NULL;
			}
			p = np;
			cap += 65536;
		}
		r = fread(p + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	fclose(f);
	p[n] = '\0';
	return p;
}

static int ctl_listen(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, probe;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe >= 0) {
		if (connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(probe);
			return -EADDRINUSE; /* a live haneul-lb */
		}
		close(probe);
	}
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	chmod(path, 0600);
	return fd;
}

/* Write all of p (the reply), waiting at most a few seconds for a slow reader. */
static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t r = send(fd, p, n, MSG_NOSIGNAL);

		if (r < 0) {
			struct pollfd pf = { .fd = fd, .events = POLLOUT };

			if (errno != EAGAIN || poll(&pf, 1, 5000) <= 0)
				return -1;
			continue;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Read what is there; handle complete lines.  -1: close the client. */
static int ctl_client_read(struct lb *lb, struct ctl_client *c)
{
	for (;;) {
		ssize_t r;
		char *nl;

		if (c->cap - c->len < 4096) {
			size_t ncap = c->cap ? c->cap * 2 : 8192;
			char *nb;

			if (ncap > LB_CTL_LINE_MAX + 1)
				return -1;
			nb = realloc(c->buf, ncap);
			if (!nb)
				return -1;
			c->buf = nb;
			c->cap = ncap;
		}
		r = recv(c->fd, c->buf + c->len, c->cap - c->len - 1, 0);
		if (r == 0)
			return -1;
		if (r < 0)
			return errno == EAGAIN ? 0 : -1;
		c->len += (size_t)r;
		c->buf[c->len] = '\0';
		while ((nl = memchr(c->buf, '\n', c->len))) {
			char *reply;
			size_t ll = (size_t)(nl - c->buf);
			int w;

			*nl = '\0';
			if (ll == 0 || (ll == 1 && c->buf[0] == '\r')) {
				memmove(c->buf, nl + 1, c->len - ll - 1);
				c->len -= ll + 1;
				continue;
			}
			reply = lb_ctl_handle(lb, c->buf);
			if (!reply)
				return -1;
			w = write_all(c->fd, reply, strlen(reply));
			if (!w)
				w = write_all(c->fd, "\n", 1);
			free(reply);
			if (w < 0)
				return -1;
			memmove(c->buf, nl + 1, c->len - ll - 1);
			c->len -= ll + 1;
		}
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "control", required_argument, NULL, 'c' },
		{ "config", required_argument, NULL, 'f' },
		{ "workers", required_argument, NULL, 'w' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ctl_path = NULL, *cfg_path = NULL;
	long nworkers = 1;
	enum log_level lvl = LOG_INFO;
	struct lb lb;
	struct ctl_client *clients = NULL;
	int opt, rc = 1, ctl_fd = -1, sfd = -1, epfd = -1, r;
	sigset_t ss;
	char err[512];

	while ((opt = getopt_long(argc, argv, "c:f:w:vqh", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': ctl_path = optarg; break;
		case 'f': cfg_path = optarg; break;
		case 'w': {
			char *end;

			nworkers = strtol(optarg, &end, 10);
			if (*end || nworkers < 1 || nworkers > LB_MAX_WORKERS) {
				fprintf(stderr, "haneul-lb: --workers must be 1..%d\n", LB_MAX_WORKERS);
				return 2;
			}
			break;
		}
		case 'v': lvl = LOG_DEBUG; break;
		case 'q': lvl = LOG_WARN; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc || (!ctl_path && !cfg_path)) {
		usage(stderr);
		return 2;
	}
	log_init("haneul-lb", lvl);
	memset(&lb, 0, sizeof(lb));
	pthread_mutex_init(&lb.cfg_lock, NULL);
	pthread_mutex_init(&lb.reg_lock, NULL);
	OPENSSL_init_ssl(0, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&ss);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &ss, NULL); /* threads inherit the mask */
	lb.nsock = nsock_new();
	if (!lb.nsock)
		goto out;
	if ((r = lb_workers_start(&lb, (size_t)nworkers)) < 0) {
		log_err("workers: %s", strerror(-r));
		goto out_workers;
	}
	if ((r = lb_health_start(&lb)) < 0) {
		log_err("health checker: %s", strerror(-r));
		goto out_workers;
	}
	if (cfg_path) {
		char *text = read_file(cfg_path);
		struct lb_config *cfg;

		if (!text) {
			log_err("%s: %s", cfg_path, strerror(errno));
			goto out_health;
		}
		cfg = lb_config_parse(text, err, sizeof(err));
		free(text);
		if (!cfg || lb_apply(&lb, cfg, err, sizeof(err)) < 0) {
			log_err("%s: %s", cfg_path, err);
			lb_config_put(cfg);
			goto out_health;
		}
		lb_config_put(cfg);
	}
	sfd = signalfd(-1, &ss, SFD_NONBLOCK | SFD_CLOEXEC);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (sfd < 0 || epfd < 0)
		goto out_health;
	{
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &sfd };

		epoll_ctl(epfd, EPOLL_CTL_ADD, sfd, &ev);
	}
	if (ctl_path) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &ctl_fd };

		ctl_fd = ctl_listen(ctl_path);
		if (ctl_fd < 0) {
			log_err("control socket %s: %s", ctl_path, strerror(-ctl_fd));
			goto out_health;
		}
		epoll_ctl(epfd, EPOLL_CTL_ADD, ctl_fd, &ev);
	}
	log_info("ready: %ld worker(s)%s%s", nworkers, ctl_path ? ", control " : "",
		 ctl_path ? ctl_path : "");
	for (;;) {
		struct epoll_event evs[16];
		int n = epoll_wait(epfd, evs, 16, 100);
		bool stop = false;

		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;

			if (p == &sfd) {
				stop = true;
			} else if (p == &ctl_fd) {
				int fd = accept4(ctl_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
				struct ctl_client *c;
				struct epoll_event ev = { .events = EPOLLIN };

				if (fd < 0)
					continue;
				c = calloc(1, sizeof(*c));
				if (!c) {
					close(fd);
					continue;
				}
				c->fd = fd;
				ev.data.ptr = c;
				epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
				c->next = clients;
				clients = c;
			} else {
				struct ctl_client *c = p, **pp;

				if (ctl_client_read(&lb, c) < 0) {
					for (pp = &clients; *pp != c; pp = &(*pp)->next)
						;
					*pp = c->next;
					close(c->fd);
					free(c->buf);
					free(c);
				}
			}
		}
		lb_drain_tick(&lb, lb_now_ms());
		if (stop)
			break;
	}
	log_info("stopping");
	rc = 0;
out_health:
	__atomic_store_n(&lb.stop, 1, __ATOMIC_RELAXED);
	lb_health_stop(&lb);
out_workers:
	__atomic_store_n(&lb.stop, 1, __ATOMIC_RELAXED);
	lb_workers_stop(&lb);
	while (clients) {
		struct ctl_client *c = clients;

		clients = c->next;
		close(c->fd);
		free(c->buf);
		free(c);
	}
	if (ctl_fd >= 0) {
		close(ctl_fd);
		unlink(ctl_path);
	}
	if (sfd >= 0)
		close(sfd);
	if (epfd >= 0)
		close(epfd);
	lb_config_put(lb.cfg);
	lb.cfg = NULL;
	lb_registry_free(&lb);
	nsock_free(lb.nsock);
out:
	pthread_mutex_destroy(&lb.cfg_lock);
	pthread_mutex_destroy(&lb.reg_lock);
	return rc;
}
