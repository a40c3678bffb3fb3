/* vmm/ctlsock.c - control socket transport (see ctlsock.h). */
#include "vmm/ctlsock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"
#include "vmm/control.h"

int ctlsock_open(struct ctlsock *cs, const char *path, ctlsock_handler h, void *opaque,
		 char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int r;

	memset(cs, 0, sizeof(*cs));
	cs->listen_fd = -1;
	for (int i = 0; i < CTLSOCK_MAX_CLIENTS; i++)
		cs->clients[i].fd = -1;
	cs->handler = h;
	cs->opaque = opaque;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "--control %s: path longer than %zu bytes", path,
			 sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	/* Replace a stale socket, never another kind of file. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "--control %s: exists and is not a socket", path);
			return -EEXIST;
		}
		unlink(path);
	}
	cs->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (cs->listen_fd < 0) {
		r = -errno;
		snprintf(err, errlen, "control socket: %s", strerror(errno));
		return r;
	}
	if (bind(cs->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(cs->listen_fd, 8) < 0) {
		r = -errno;
		snprintf(err, errlen, "--control %s: %s", path, strerror(errno));
		goto close_fd;
	}
	cs->path = strdup(path);
	if (!cs->path) {
		r = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		unlink(path);
		goto close_fd;
	}
	return 0;

close_fd:
	close(cs->listen_fd);
	cs->listen_fd = -1;
	return r;
}

static void client_drop(struct ctlsock_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->in);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

void ctlsock_close(struct ctlsock *cs)
{
	for (int i = 0; i < CTLSOCK_MAX_CLIENTS; i++)
		if (cs->clients[i].fd >= 0)
			client_drop(&cs->clients[i]);
	if (cs->listen_fd >= 0)
		close(cs->listen_fd);
	cs->listen_fd = -1;
	if (cs->path)
		unlink(cs->path);
	free(cs->path);
	cs->path = NULL;
}

size_t ctlsock_pollfds(const struct ctlsock *cs, struct pollfd *pfd, size_t max)
{
	size_t n = 0;

	if (cs->listen_fd < 0 || max == 0)
		return 0;
	pfd[n++] = (struct pollfd){ .fd = cs->listen_fd, .events = POLLIN };
	for (int i = 0; i < CTLSOCK_MAX_CLIENTS && n < max; i++) {
		const struct ctlsock_client *c = &cs->clients[i];

		if (c->fd < 0)
			continue;
		pfd[n++] = (struct pollfd){ .fd = c->fd,
					    .events = (short)(POLLIN | (c->out_len ? POLLOUT : 0)) };
	}
	return n;
}

/* Append `len` bytes to the client's output; -ENOBUFS past CTLSOCK_OUT_MAX. */
static int out_append(struct ctlsock_client *c, const char *s, size_t len)
{
	if (c->out_len + len > CTLSOCK_OUT_MAX)
		return -ENOBUFS;
	if (c->out_len + len > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		char *p;

		while (cap < c->out_len + len)
			cap *= 2;
		p = realloc(c->out, cap);
		if (!p)
			return -ENOMEM;
		c->out = p;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, s, len);
	c->out_len += len;
	return 0;
}

static int reply(struct ctlsock_client *c, char *msg)
{
	int r;

	if (!msg)
		msg = strdup("{\"ok\":false,\"error\":\"out of memory\"}");
	if (!msg)
		return -ENOMEM;
	r = out_append(c, msg, strlen(msg));
	if (!r)
		r = out_append(c, "\n", 1);
	free(msg);
	return r;
}

static int flush_out(struct ctlsock_client *c)
{
	while (c->out_len) {
		ssize_t w = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (w <= 0)
			return -EPIPE;
		memmove(c->out, c->out + w, c->out_len - (size_t)w);
		c->out_len -= (size_t)w;
	}
	return 0;
}

static int handle_input(struct ctlsock *cs, struct ctlsock_client *c)
{
	char buf[16384];
	ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0)
		return -EPIPE;
	for (ssize_t i = 0; i < n; i++) {
		char ch = buf[i];

		if (c->discarding) {
			if (ch == '\n')
				c->discarding = false;
			continue;
		}
		if (ch == '\n') {
			size_t len = c->in_len;

			c->in_len = 0;
			if (len && c->in[len - 1] == '\r')
				len--;
			if (reply(c, cs->handler(cs->opaque, c->in, len)) < 0)
				return -ENOBUFS;
			continue;
		}
		if (c->in_len >= CTL_LINE_MAX) {
			char msg[96];

			snprintf(msg, sizeof(msg), "request line longer than %u bytes", CTL_LINE_MAX);
			c->in_len = 0;
			c->discarding = true;
			if (reply(c, ctl_error_reply(msg)) < 0)
				return -ENOBUFS;
			continue;
		}
		c->in[c->in_len++] = ch;
	}
	return 0;
}

static void accept_clients(struct ctlsock *cs)
{
	for (;;) {
		int fd = accept4(cs->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct ctlsock_client *c = NULL;

		if (fd < 0)
			return;
		for (int i = 0; i < CTLSOCK_MAX_CLIENTS; i++)
			if (cs->clients[i].fd < 0) {
				c = &cs->clients[i];
				break;
			}
		if (!c) {
			static const char busy[] = "{\"ok\":false,\"error\":\"too many control clients\"}\n";

			(void)!send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
			close(fd);
			continue;
		}
		c->in = malloc(CTL_LINE_MAX + 1);
		if (!c->in) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->in_len = 0;
		c->discarding = false;
	}
}

void ctlsock_dispatch(struct ctlsock *cs, const struct pollfd *pfd, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct ctlsock_client *c = NULL;

		if (!pfd[i].revents)
			continue;
		if (pfd[i].fd == cs->listen_fd) {
			accept_clients(cs);
			continue;
		}
		for (int j = 0; j < CTLSOCK_MAX_CLIENTS; j++)
			if (cs->clients[j].fd == pfd[i].fd)
				c = &cs->clients[j];
		if (!c)
			continue;
		if ((pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) && handle_input(cs, c) < 0) {
			/* Peer gone (or flooding us): send what we can, then drop. */
			(void)flush_out(c);
			client_drop(c);
			continue;
		}
		if (flush_out(c) < 0)
			client_drop(c);
	}
}
