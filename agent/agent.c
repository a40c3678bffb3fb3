/* agent/agent.c - haneul-agent's single-threaded epoll loop.  Threads exist
 * only for /burn (one detached worker per burn, reporting back through a
 * pipe), so a burn never stalls the loop. */
#include "agent/agent.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/reboot.h>
#include <linux/vm_sockets.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/utsname.h>

#include <json-c/json.h>

#include "agent/actl.h"
#include "agent/ahttp.h"
#include "agent/asys.h"
#include "agent/kcmdline.h"
#include "common/log.h"
#include "common/strbuf.h"

#define WRITE_TIMEOUT_MS    10000  /* no write progress */
#define CONNECT_TIMEOUT_MS  5000
#define POWER_FALLBACK_MS   30000
#define OUT_MAX             (256 * 1024)

enum tag { TAG_SIG = 1, TAG_HTTP_LISTEN, TAG_CTL_LISTEN, TAG_BURN, TAG_CONN = 0x100 };

enum conn_kind { CONN_HTTP, CONN_CTL, CONN_READY };
enum power_act { POWER_NONE_PENDING, POWER_OFF, POWER_REBOOT };

struct conn {
	int fd;
	int slot;
	enum conn_kind kind;
	unsigned gen;
	bool connecting;      /* READY: non-blocking connect in progress */
	bool busy;            /* HTTP: a burn runs for the current request */
	bool close_after;     /* close once `out` is flushed */
	bool burn_head_only, burn_keep_alive;
	enum power_act power_after; /* run once `out` is flushed */
	uint32_t events;      /* epoll mask now registered */
	size_t in_len;
	size_t discard;       /* HTTP body bytes still to drop */
	int64_t req_start;    /* first byte of the pending request / line */
	int64_t last_io;
	int64_t connect_start;
	struct strbuf out;
	size_t out_off;
	char in[AHTTP_HEAD_MAX];
};

struct burn_msg {
	int slot;
	unsigned gen;
	int ms;
};

struct burn_job {
	int fd;
	struct burn_msg msg;
};

struct agent {
	const struct agent_config *cfg;
	int ep, sig_fd, http_fd, ctl_fd, burn_rd, burn_wr;
	struct conn *conns[AGENT_MAX_CONNS];
	unsigned gen_next;
	int n_ctl, burns;
	struct kcmd_meta meta;
	char instance_id[KCMD_ID_MAX + 1];
	char boot_id[64];
	char kernel[65];
	/* readiness */
	int ready_slot;             /* -1: no connection */
	int64_t ready_next;         /* when to connect next; 0: not scheduled */
	int64_t fail_backoff, drop_backoff, ready_up_since;
	unsigned ready_seq;
	bool ready_fail_logged;
	/* control listener */
	int64_t ctl_retry;
	bool ctl_fail_logged;
	/* power */
	enum power_act power_pending;
	int64_t power_fallback;
	bool stop;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads a small text file into BUF (NUL-terminated, trailing newline cut). */
static int read_text(const char *path, char *buf, size_t cap)
{
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	buf[0] = '\0';
	if (fd < 0)
		return -errno;
	n = read(fd, buf, cap - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return 0;
}

static double uptime_s(void)
{
	char buf[64];

	if (read_text("/proc/uptime", buf, sizeof(buf)))
		return 0;
	return strtod(buf, NULL);
}

static void fill_info(struct agent *a, struct actl_info *info)
{
	memset(info, 0, sizeof(*info));
	info->instance_id = a->instance_id;
	info->boot_id = a->boot_id;
	info->kernel = a->kernel;
	info->uptime = uptime_s();
	info->nproc = sysconf(_SC_NPROCESSORS_ONLN);
	info->http_port = a->cfg->http_port;
	info->user_data = a->meta.user_data;
	info->user_data_len = a->meta.user_data_len;
	info->seq = a->ready_seq;
}

/* ---- connections ---- */

static uint32_t conn_want(const struct conn *c)
{
	size_t cap = c->kind == CONN_HTTP ? AHTTP_HEAD_MAX : ACTL_LINE_MAX + 1;

	if (c->connecting)
		return EPOLLOUT;
	if (c->out.len > c->out_off)
		return EPOLLOUT;
	if (c->busy || c->close_after || c->in_len >= cap)
		return 0;
	return EPOLLIN;
}

/* epoll data of a connection: its generation too, so that an event still
 * queued for a connection closed earlier in the same batch is not taken for
 * a new one in the same slot. */
static uint64_t conn_tag(const struct conn *c)
{
	return (uint64_t)c->gen << 32 | (uint64_t)(TAG_CONN + c->slot);
}

static void conn_update(struct agent *a, struct conn *c)
{
	uint32_t want = conn_want(c);
	struct epoll_event ev = { .events = want, .data.u64 = conn_tag(c) };

	if (want == c->events)
		return;
	if (epoll_ctl(a->ep, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->events = want;
	else
		log_warn("epoll_ctl: %s", strerror(errno));
}

/* Takes ownership of FD.  NULL (FD closed) when the table is full or no memory. */
static struct conn *conn_new(struct agent *a, int fd, enum conn_kind kind, uint32_t events)
{
	struct epoll_event ev = { .events = events };
	struct conn *c;
	int slot;

	for (slot = 0; slot < AGENT_MAX_CONNS && a->conns[slot]; slot++)
		;
	if (slot == AGENT_MAX_CONNS)
		goto err_close;
	c = calloc(1, sizeof(*c));
	if (!c)
		goto err_close;
	c->fd = fd;
	c->slot = slot;
	c->kind = kind;
	c->gen = ++a->gen_next;
	c->events = events;
	c->last_io = now_ms();
	sb_init(&c->out);
	ev.data.u64 = conn_tag(c);
	if (epoll_ctl(a->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		free(c);
		goto err_close;
	}
	a->conns[slot] = c;
	if (kind == CONN_CTL)
		a->n_ctl++;
	return c;
err_close:
	close(fd);
	return NULL;
}

static void power_start(struct agent *a, enum power_act act);

static void ready_schedule(struct agent *a, int64_t delay)
{
	a->ready_next = now_ms() + delay;
}

static void conn_close(struct agent *a, struct conn *c)
{
	int64_t now = now_ms();

	if (c->power_after != POWER_NONE_PENDING)
		power_start(a, c->power_after);
	epoll_ctl(a->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	if (c->kind == CONN_CTL)
		a->n_ctl--;
	if (c->kind == CONN_READY && !a->stop) {
		a->ready_slot = -1;
		if (c->connecting) {
			ready_schedule(a, a->fail_backoff);
			a->fail_backoff = a->fail_backoff * 2 > 5000 ? 5000 : a->fail_backoff * 2;
		} else {
			/* A host that keeps dropping us is not hammered; one that
			 * held the connection a while gets a quick reconnect. */
			if (now - a->ready_up_since >= 10000)
				a->drop_backoff = 1000;
			log_info("vsock: host closed the ready connection; reconnecting in %lld ms",
				 (long long)a->drop_backoff);
			ready_schedule(a, a->drop_backoff);
			a->drop_backoff = a->drop_backoff * 2 > 30000 ? 30000 : a->drop_backoff * 2;
		}
	}
	a->conns[c->slot] = NULL;
	sb_free(&c->out);
	free(c);
}

/* Sends what is queued.  0 (maybe partially sent), or -1 when C was closed. */
static int conn_flush(struct agent *a, struct conn *c)
{
	while (c->out.len > c->out_off) {
		ssize_t n = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			conn_close(a, c);
			return -1;
		}
		c->out_off += (size_t)n;
		c->last_io = now_ms();
	}
	if (c->out.len == c->out_off) {
		sb_reset(&c->out);
		c->out_off = 0;
		if (c->power_after != POWER_NONE_PENDING) {
			enum power_act act = c->power_after;

			c->power_after = POWER_NONE_PENDING;
			power_start(a, act);
		}
		if (c->close_after) {
			conn_close(a, c);
			return -1;
		}
	}
	return 0;
}

static void conn_consume(struct conn *c, size_t n)
{
	memmove(c->in, c->in + n, c->in_len - n);
	c->in_len -= n;
}

/* Queues a complete HTTP response. */
static void http_queue(struct conn *c, int status, const char *body, size_t body_len,
		       bool head_only, bool keep_alive)
{
	char buf[1024];
	size_t n = ahttp_format(buf, sizeof(buf), status, body, body_len, head_only, keep_alive);

	if (!n) {
		n = ahttp_format(buf, sizeof(buf), 500, "", 0, false, false);
		keep_alive = false;
	}
	sb_append(&c->out, buf, n);
	if (!keep_alive)
		c->close_after = true;
}

static void *burn_main(void *arg)
{
	struct burn_job *job = arg;
	struct timespec t0, t;
	int64_t want = (int64_t)job->msg.ms * 1000000;
	volatile uint64_t sink = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((int64_t)(t.tv_sec - t0.tv_sec) * 1000000000 + (t.tv_nsec - t0.tv_nsec) >= want)
			break;
		for (int i = 0; i < 20000; i++)
			sink += (uint64_t)i * 2654435761u;
	}
	/* 12 bytes < PIPE_BUF: atomic; the pipe has room for every worker. */
	while (write(job->fd, &job->msg, sizeof(job->msg)) < 0 && errno == EINTR)
		;
	free(job);
	return NULL;
}

static int burn_start(struct agent *a, struct conn *c, int ms)
{
	struct burn_job *job;
	pthread_attr_t attr;
	pthread_t tid;
	int rc;

	if (a->burns >= AGENT_MAX_BURNS)
		return -EBUSY;
	job = malloc(sizeof(*job));
	if (!job)
		return -ENOMEM;
	job->fd = a->burn_wr;
	job->msg.slot = c->slot;
	job->msg.gen = c->gen;
	job->msg.ms = ms;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	rc = pthread_create(&tid, &attr, burn_main, job);
	pthread_attr_destroy(&attr);
	if (rc) {
		free(job);
		return -rc;
	}
	a->burns++;
	return 0;
}

/* Serves complete requests in C's input, one response in flight at a time. */
static void http_process(struct agent *a, struct conn *c)
{
	while (!c->busy && !c->close_after && c->out.len == c->out_off) {
		struct ahttp_req req;
		struct ahttp_route rt;
		bool head_only;
		int rc;

		if (c->discard) {
			size_t d = c->discard < c->in_len ? c->discard : c->in_len;

			conn_consume(c, d);
			c->discard -= d;
			if (c->discard)
				break;
			c->req_start = now_ms();
		}
		if (!c->in_len)
			break;
		rc = ahttp_parse(c->in, c->in_len, &req);
		if (rc == 0)
			break;
		if (rc < 0) {
			const char *why = ahttp_reason(-rc);
			char body[64];
			int bl = snprintf(body, sizeof(body), "%s\n", why);

			http_queue(c, -rc, body, (size_t)bl, false, false);
			break;
		}
		conn_consume(c, (size_t)rc);
		c->discard = req.content_length;
		c->req_start = now_ms();
		head_only = req.method == AHTTP_HEAD;
		ahttp_route(&req, &rt);
		if (rt.burn_ms >= 0) {
			rc = burn_start(a, c, rt.burn_ms);
			if (rc == 0) {
				c->busy = true;
				c->burn_head_only = head_only;
				c->burn_keep_alive = req.keep_alive;
				break;
			}
			http_queue(c, 503, "busy\n", 5, head_only, req.keep_alive);
		} else if (rt.body) {
			http_queue(c, rt.status, rt.body, strlen(rt.body), head_only, req.keep_alive);
		} else {
			char body[KCMD_ID_MAX + 2];
			int bl = snprintf(body, sizeof(body), "%s\n", a->instance_id);

			http_queue(c, rt.status, body, (size_t)bl, head_only, req.keep_alive);
		}
		if (conn_flush(a, c) < 0)
			return;
	}
	conn_update(a, c);
}

static void burn_done(struct agent *a)
{
	struct burn_msg m;

	while (read(a->burn_rd, &m, sizeof(m)) == (ssize_t)sizeof(m)) {
		struct conn *c;
		char body[48];
		int bl;

		a->burns--;
		if (m.slot < 0 || m.slot >= AGENT_MAX_CONNS)
			continue;
		c = a->conns[m.slot];
		if (!c || c->gen != m.gen || !c->busy)
			continue; /* the client went away meanwhile */
		c->busy = false;
		bl = snprintf(body, sizeof(body), "burned %d ms\n", m.ms);
		http_queue(c, 200, body, (size_t)bl, c->burn_head_only, c->burn_keep_alive);
		if (conn_flush(a, c) == 0)
			http_process(a, c);
	}
}

/* ---- power ---- */

static void power_direct(enum power_act act)
{
	sync();
	if (reboot(act == POWER_REBOOT ? RB_AUTOBOOT : RB_POWER_OFF) < 0)
		log_err("reboot(2): %s", strerror(errno));
}

static void power_start(struct agent *a, enum power_act act)
{
	const char *what = act == POWER_REBOOT ? "reboot" : "power off";
	char comm[32];
	int sig = 0;

	if (a->power_pending != POWER_NONE_PENDING)
		return;
	a->power_pending = act;
	if (a->cfg->power == AGENT_POWER_NONE) {
		log_info("would %s now (--power none)", what);
		a->power_pending = POWER_NONE_PENDING;
		return;
	}
	log_info("%s requested by the host", what);
	sync();
	if (a->cfg->power == AGENT_POWER_DIRECT || getpid() == 1) {
		power_direct(act);
		return;
	}
	read_text("/proc/1/comm", comm, sizeof(comm));
	if (!strcmp(comm, "systemd"))
		sig = act == POWER_REBOOT ? SIGRTMIN + 5 : SIGRTMIN + 4;
	else if (!strcmp(comm, "init") || !strcmp(comm, "busybox"))
		sig = act == POWER_REBOOT ? SIGTERM : SIGUSR2;
	if (!sig || kill(1, sig) < 0) {
		power_direct(act);
		return;
	}
	/* If init does not take us down, do it ourselves. */
	a->power_fallback = now_ms() + POWER_FALLBACK_MS;
}

/* ---- control protocol ---- */

static char *virtio_devices_reply(struct agent *a)
{
	struct asys_vdev *v = calloc(ASYS_MAX_DEVICES, sizeof(*v));
	struct json_object *o, *arr;
	int n;

	if (!v)
		return NULL;
	n = asys_virtio_list(a->cfg->sysfs, v, ASYS_MAX_DEVICES);
	if (n < 0) {
		free(v);
		return actl_error_reply(n == -ENOENT ? "virtio-mmio driver not loaded"
						     : "cannot read the virtio-mmio driver in sysfs");
	}
	o = json_object_new_object();
	arr = json_object_new_array();
	for (int i = 0; o && arr && i < n; i++) {
		struct json_object *d = json_object_new_object();

		if (!d)
			break;
		json_object_object_add(d, "device", json_object_new_string(v[i].name));
		json_object_object_add(d, "virtio", json_object_new_string(v[i].virtio));
		json_object_object_add(d, "type", json_object_new_int(v[i].device_id));
		json_object_object_add(d, "block", v[i].block[0] ? json_object_new_string(v[i].block) : NULL);
		json_object_object_add(d, "serial", v[i].serial[0] ? json_object_new_string(v[i].serial) : NULL);
		json_object_array_add(arr, d);
	}
	free(v);
	if (!o || !arr) {
		json_object_put(o);
		json_object_put(arr);
		return NULL;
	}
	json_object_object_add(o, "devices", arr);
	return actl_ok_reply(o);
}

static char *unbind_reply(struct agent *a, const struct actl_req *req)
{
	char name[ACTL_NAME_MAX + 1], msg[160];
	int rc;

	if (req->serial[0]) {
		rc = asys_virtio_find_serial(a->cfg->sysfs, req->serial, name);
		if (rc) {
			snprintf(msg, sizeof(msg), "no virtio-mmio disk with serial %s", req->serial);
			return actl_error_reply(msg);
		}
	} else {
		strcpy(name, req->device);
	}
	rc = asys_virtio_unbind(a->cfg->sysfs, name);
	if (rc == -ENOENT) {
		snprintf(msg, sizeof(msg), "%s is not bound to virtio-mmio", name);
		return actl_error_reply(msg);
	}
	if (rc) {
		snprintf(msg, sizeof(msg), "unbind %s: %s", name, strerror(-rc));
		return actl_error_reply(msg);
	}
	log_info("unbound virtio-mmio device %s", name);
	return actl_unbind_reply(name);
}

/* Handles one request line; queues exactly one reply line. */
static void ctl_line(struct agent *a, struct conn *c, const char *line, size_t len)
{
	struct actl_info info;
	struct actl_req req;
	char err[160];
	char *reply = NULL;

	if (actl_parse(line, len, &req, err, sizeof(err))) {
		reply = actl_error_reply(err);
	} else {
		switch (req.cmd) {
		case ACTL_PING:
			reply = actl_ping_reply(uptime_s());
			break;
		case ACTL_METADATA:
			fill_info(a, &info);
			reply = actl_metadata_reply(&info);
			break;
		case ACTL_SHUTDOWN:
		case ACTL_REBOOT:
			if (a->power_pending != POWER_NONE_PENDING) {
				reply = actl_error_reply("a shutdown or reboot is already under way");
				break;
			}
			reply = actl_action_reply(req.cmd == ACTL_REBOOT ? "reboot" : "poweroff");
			/* After the reply is out (or the host hangs up). */
			c->power_after = req.cmd == ACTL_REBOOT ? POWER_REBOOT : POWER_OFF;
			break;
		case ACTL_VIRTIO_DEVICES:
			reply = virtio_devices_reply(a);
			break;
		case ACTL_UNBIND_VIRTIO:
			reply = unbind_reply(a, &req);
			break;
		}
	}
	if (!reply) {
		c->close_after = true; /* out of memory: nothing sensible to say */
		return;
	}
	sb_puts(&c->out, reply);
	free(reply);
}

static void ctl_process(struct agent *a, struct conn *c)
{
	for (;;) {
		char *nl = memchr(c->in, '\n', c->in_len);
		size_t n;

		if (c->out.len - c->out_off > OUT_MAX)
			break;
		if (!nl) {
			if (c->in_len > ACTL_LINE_MAX) {
				char *r = actl_error_reply("line too long (max 4096 bytes)");

				if (r)
					sb_puts(&c->out, r);
				free(r);
				c->close_after = true;
				c->in_len = 0;
			}
			break;
		}
		n = (size_t)(nl - c->in);
		if (n && c->in[n - 1] == '\r')
			n--;
		if (n)
			ctl_line(a, c, c->in, n);
		conn_consume(c, (size_t)(nl - c->in) + 1);
		c->req_start = now_ms();
	}
	if (conn_flush(a, c) == 0)
		conn_update(a, c);
}

/* ---- readiness ---- */

static int sock_path(char *buf, size_t cap, const char *base, const char *mid, unsigned port)
{
	int n = snprintf(buf, cap, "%s%s%u", base, mid, port);

	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

static void ready_connect(struct agent *a)
{
	const struct agent_config *cfg = a->cfg;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct sockaddr_vm svm = { .svm_family = AF_VSOCK };
	struct sockaddr *sa;
	socklen_t salen;
	struct conn *c;
	int fd, rc;

	a->ready_next = 0;
	if (cfg->unix_base) {
		if (sock_path(sun.sun_path, sizeof(sun.sun_path), cfg->unix_base, "_", cfg->ready_port)) {
			log_err("--vsock-unix path too long");
			return;
		}
		sa = (struct sockaddr *)&sun;
		salen = sizeof(sun);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	} else {
		svm.svm_cid = cfg->host_cid;
		svm.svm_port = cfg->ready_port;
		sa = (struct sockaddr *)&svm;
		salen = sizeof(svm);
		fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	}
	if (fd < 0) {
		rc = -errno;
		goto err;
	}
	if (connect(fd, sa, salen) < 0 && errno != EINPROGRESS) {
		rc = -errno;
		close(fd);
		goto err;
	}
	c = conn_new(a, fd, CONN_READY, EPOLLOUT);
	if (!c) {
		rc = -ENOMEM;
		goto err;
	}
	c->connecting = true;
	c->connect_start = now_ms();
	a->ready_slot = c->slot;
	return;
err:
	if (!a->ready_fail_logged)
		log_info("vsock: cannot reach the host on port %u yet (%s); retrying with backoff",
			 cfg->ready_port, strerror(-rc));
	a->ready_fail_logged = true;
	ready_schedule(a, a->fail_backoff);
	a->fail_backoff = a->fail_backoff * 2 > 5000 ? 5000 : a->fail_backoff * 2;
}

/* The non-blocking connect finished (EPOLLOUT). */
static void ready_connected(struct agent *a, struct conn *c)
{
	struct actl_info info;
	socklen_t sl = sizeof(int);
	int err = 0;
	char *line;

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &sl) < 0)
		err = errno;
	if (err) {
		if (!a->ready_fail_logged)
			log_info("vsock: cannot reach the host on port %u yet (%s); retrying with backoff",
				 a->cfg->ready_port, strerror(err));
		a->ready_fail_logged = true;
		conn_close(a, c);
		return;
	}
	c->connecting = false;
	a->ready_fail_logged = false;
	a->fail_backoff = 100;
	a->ready_up_since = now_ms();
	a->ready_seq++;
	fill_info(a, &info);
	line = actl_ready_line(&info);
	if (!line) {
		conn_close(a, c);
		return;
	}
	sb_puts(&c->out, line);
	free(line);
	log_info("vsock: announced ready to the host (seq %u)", a->ready_seq);
	if (conn_flush(a, c) == 0)
		conn_update(a, c);
}

/* ---- listeners ---- */

static void ctl_listen(struct agent *a)
{
	const struct agent_config *cfg = a->cfg;
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = TAG_CTL_LISTEN };
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct sockaddr_vm svm = { .svm_family = AF_VSOCK };
	int fd = -1, rc;

	a->ctl_retry = 0;
	if (cfg->unix_base) {
		if (sock_path(sun.sun_path, sizeof(sun.sun_path), cfg->unix_base, ".agent_", cfg->ctl_port)) {
			rc = -ENAMETOOLONG;
			goto err;
		}
		unlink(sun.sun_path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
			goto err_errno;
	} else {
		svm.svm_cid = VMADDR_CID_ANY;
		svm.svm_port = cfg->ctl_port;
		fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&svm, sizeof(svm)) < 0)
			goto err_errno;
	}
	if (listen(fd, 16) < 0 || epoll_ctl(a->ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		goto err_errno;
	a->ctl_fd = fd;
	log_info("vsock: control channel listening on port %u", cfg->ctl_port);
	return;
err_errno:
	rc = -errno;
	if (fd >= 0)
		close(fd);
err:
	if (!a->ctl_fail_logged)
		log_warn("vsock: cannot listen on port %u (%s); retrying every 2 s", cfg->ctl_port,
			 strerror(-rc));
	a->ctl_fail_logged = true;
	a->ctl_retry = now_ms() + 2000;
}

static void accept_all(struct agent *a, int lfd, enum conn_kind kind)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct conn *c;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_warn("accept: %s", strerror(errno));
			return;
		}
		if (kind == CONN_CTL && a->n_ctl >= AGENT_MAX_CTL) {
			close(fd);
			continue;
		}
		if (kind == CONN_HTTP) {
			int one = 1;

			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		}
		/* Table full: closed at once, so a flood cannot starve the listen queue. */
		c = conn_new(a, fd, kind, EPOLLIN);
		if (c)
			c->req_start = c->last_io;
	}
}

static int http_listen(struct agent *a)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = TAG_HTTP_LISTEN };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int fd, one = 1;

	sin.sin_port = htons((uint16_t)a->cfg->http_port);
	sin.sin_addr.s_addr = a->cfg->http_addr;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, 128) < 0 ||
	    epoll_ctl(a->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	a->http_fd = fd;
	return 0;
}

/* ---- the loop ---- */

static void conn_readable(struct agent *a, struct conn *c)
{
	size_t cap = c->kind == CONN_HTTP ? AHTTP_HEAD_MAX : ACTL_LINE_MAX + 1;
	ssize_t n;

	if (c->in_len >= cap)
		return;
	n = recv(c->fd, c->in + c->in_len, cap - c->in_len, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(a, c);
		return;
	}
	if (c->in_len == 0 && !c->discard)
		c->req_start = now_ms();
	c->in_len += (size_t)n;
	c->last_io = now_ms();
	if (c->kind == CONN_HTTP)
		http_process(a, c);
	else
		ctl_process(a, c);
}

static void conn_event(struct agent *a, struct conn *c, uint32_t events)
{
	if (c->connecting) {
		ready_connected(a, c);
		return;
	}
	if (events & (EPOLLERR | EPOLLHUP) && !(events & EPOLLIN)) {
		conn_close(a, c);
		return;
	}
	if (events & EPOLLOUT) {
		if (conn_flush(a, c) < 0)
			return;
		if (c->kind == CONN_HTTP)
			http_process(a, c);
		else
			ctl_process(a, c);
		return;
	}
	if (events & EPOLLIN)
		conn_readable(a, c);
}

/* The connection's deadline, or 0 for none. */
static int64_t conn_deadline(const struct agent *a, const struct conn *c)
{
	if (c->connecting)
		return c->connect_start + CONNECT_TIMEOUT_MS;
	if (c->out.len > c->out_off)
		return c->last_io + WRITE_TIMEOUT_MS;
	if (c->busy)
		return 0;
	if (c->kind == CONN_HTTP) {
		if (c->in_len || c->discard)
			return c->req_start + a->cfg->header_timeout_ms;
		return c->last_io + a->cfg->idle_timeout_ms;
	}
	return c->in_len ? c->req_start + a->cfg->header_timeout_ms : 0;
}

static void conn_timeout(struct agent *a, struct conn *c)
{
	if (c->kind == CONN_HTTP && (c->in_len || c->discard) && c->out.len == c->out_off) {
		/* A request that never finished: say so, then close. */
		http_queue(c, 408, "Request Timeout\n", 16, false, false);
		c->in_len = 0;
		c->discard = 0;
		c->last_io = now_ms();
		if (conn_flush(a, c) == 0)
			conn_update(a, c);
		return;
	}
	conn_close(a, c);
}

static int64_t timers(struct agent *a)
{
	int64_t now = now_ms(), next = -1;

	for (int i = 0; i < AGENT_MAX_CONNS; i++) {
		struct conn *c = a->conns[i];
		int64_t d;

		if (!c || !(d = conn_deadline(a, c)))
			continue;
		if (d <= now) {
			conn_timeout(a, c);
			continue;
		}
		if (next < 0 || d < next)
			next = d;
	}
	if (a->cfg->vsock && a->ready_slot < 0 && a->ready_next && a->ready_next <= now)
		ready_connect(a);
	if (a->cfg->vsock && a->ctl_fd < 0 && a->ctl_retry && a->ctl_retry <= now)
		ctl_listen(a);
	if (a->power_fallback && a->power_fallback <= now) {
		log_warn("init did not act within %d s; calling reboot(2) directly",
			 POWER_FALLBACK_MS / 1000);
		a->power_fallback = 0;
		power_direct(a->power_pending);
	}
	for (int64_t t = 0, k = 0; k < 3; k++) {
		t = k == 0 ? a->ready_next : k == 1 ? a->ctl_retry : a->power_fallback;
		if (t && (next < 0 || t < next))
			next = t;
	}
	if (next < 0)
		return -1;
	now = now_ms();
	return next <= now ? 0 : next - now;
}

static int setup(struct agent *a)
{
	const struct agent_config *cfg = a->cfg;
	struct epoll_event ev = { .events = EPOLLIN };
	char *cmdline = malloc(KCMD_CMDLINE_MAX + 1);
	struct utsname un;
	int pfd[2], rc;
	sigset_t ss;

	if (!cmdline)
		return -ENOMEM;
	rc = read_text(cfg->cmdline_path, cmdline, KCMD_CMDLINE_MAX + 1);
	if (rc)
		log_warn("%s: %s (no instance metadata)", cfg->cmdline_path, strerror(-rc));
	rc = kcmd_parse(cmdline, &a->meta);
	free(cmdline);
	if (rc == -ENOMEM)
		return rc;
	if (rc == -EINVAL)
		log_warn("kernel command line: %s (ignored)", a->meta.error);
	else if (rc)
		log_warn("kernel command line: %s (ignored)", strerror(-rc));
	rc = kcmd_load_user_data_file(&a->meta);
	if (rc)
		log_warn("%s: %s (no user data)", a->meta.user_data_file, strerror(-rc));
	snprintf(a->instance_id, sizeof(a->instance_id), "%s",
		 cfg->instance_id ? cfg->instance_id
				  : a->meta.instance_id[0] ? a->meta.instance_id : "i-unknown");
	read_text("/proc/sys/kernel/random/boot_id", a->boot_id, sizeof(a->boot_id));
	if (uname(&un) == 0)
		snprintf(a->kernel, sizeof(a->kernel), "%s", un.release);

	a->ep = epoll_create1(EPOLL_CLOEXEC);
	if (a->ep < 0)
		return -errno;
	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	if (sigprocmask(SIG_BLOCK, &ss, NULL) < 0)
		return -errno;
	a->sig_fd = signalfd(-1, &ss, SFD_NONBLOCK | SFD_CLOEXEC);
	if (a->sig_fd < 0)
		return -errno;
	ev.data.u64 = TAG_SIG;
	if (epoll_ctl(a->ep, EPOLL_CTL_ADD, a->sig_fd, &ev) < 0)
		return -errno;
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	a->burn_rd = pfd[0];
	a->burn_wr = pfd[1];
	fcntl(a->burn_rd, F_SETFL, O_NONBLOCK);
	ev.data.u64 = TAG_BURN;
	if (epoll_ctl(a->ep, EPOLL_CTL_ADD, a->burn_rd, &ev) < 0)
		return -errno;
	if (cfg->http_port) {
		rc = http_listen(a);
		if (rc) {
			log_err("cannot listen on TCP port %d: %s", cfg->http_port, strerror(-rc));
			return rc;
		}
	}
	if (cfg->vsock) {
		ctl_listen(a);
		ready_connect(a);
	}
	log_info("instance %s: HTTP on port %d, vsock %s", a->instance_id, cfg->http_port,
		 cfg->vsock ? (cfg->unix_base ? "over Unix sockets (test)" : "on") : "off");
	return 0;
}

int agent_run(const struct agent_config *cfg)
{
	struct agent *a = calloc(1, sizeof(*a));
	struct epoll_event evs[64];
	int ret = 1;

	if (!a) {
		log_err("out of memory");
		return 1;
	}
	a->cfg = cfg;
	a->ep = a->sig_fd = a->http_fd = a->ctl_fd = a->burn_rd = a->burn_wr = -1;
	a->ready_slot = -1;
	a->fail_backoff = 100;
	a->drop_backoff = 1000;
	signal(SIGPIPE, SIG_IGN);
	if (setup(a))
		goto out;
	if (cfg->notify_fd >= 0) {
		while (write(cfg->notify_fd, "1", 1) < 0 && errno == EINTR)
			;
		close(cfg->notify_fd);
	}
	while (!a->stop) {
		int64_t t = timers(a);
		int n = epoll_wait(a->ep, evs, 64, t < 0 ? -1 : (int)(t > 60000 ? 60000 : t));

		if (n < 0 && errno != EINTR) {
			log_err("epoll_wait: %s", strerror(errno));
			goto out;
		}
		for (int i = 0; i < n; i++) {
			uint64_t tag = evs[i].data.u64;

			if (tag == TAG_SIG) {
				struct signalfd_siginfo si;

				if (read(a->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
					log_info("signal %u: exiting", si.ssi_signo);
					a->stop = true;
				}
			} else if (tag == TAG_HTTP_LISTEN) {
				accept_all(a, a->http_fd, CONN_HTTP);
			} else if (tag == TAG_CTL_LISTEN) {
				accept_all(a, a->ctl_fd, CONN_CTL);
			} else if (tag == TAG_BURN) {
				burn_done(a);
			} else if ((uint32_t)tag >= TAG_CONN && (uint32_t)tag < TAG_CONN + AGENT_MAX_CONNS) {
				struct conn *c = a->conns[(uint32_t)tag - TAG_CONN];

				if (c && c->gen == (unsigned)(tag >> 32))
					conn_event(a, c, evs[i].events);
			}
		}
	}
	ret = 0;
out:
	a->stop = true;
	for (int i = 0; i < AGENT_MAX_CONNS; i++) {
		if (a->conns[i]) {
			a->conns[i]->power_after = POWER_NONE_PENDING;
			conn_close(a, a->conns[i]);
		}
	}
	if (a->cfg->unix_base && a->ctl_fd >= 0) {
		char p[108];

		if (!sock_path(p, sizeof(p), cfg->unix_base, ".agent_", cfg->ctl_port))
			unlink(p);
	}
	/* Burn workers may still write to burn_wr: the process exits right after, so
	 * the pipe is left open rather than closed under them. */
	if (a->http_fd >= 0)
		close(a->http_fd);
	if (a->ctl_fd >= 0)
		close(a->ctl_fd);
	if (a->sig_fd >= 0)
		close(a->sig_fd);
	if (a->ep >= 0)
		close(a->ep);
	kcmd_meta_free(&a->meta);
	free(a);
	return ret;
}
