/* vmm/ctlsock.h - the control socket's transport: a Unix stream listener,
 * up to CTLSOCK_MAX_CLIENTS clients, newline framing (one request per line,
 * at most CTL_LINE_MAX bytes), non-blocking replies with a bounded output
 * buffer.  The owner's event loop polls the fds ctlsock_pollfds() gives and
 * calls ctlsock_dispatch(); each complete line goes to the handler, whose
 * malloc'd reply (no newline) is sent back followed by "\n".
 */
#ifndef VMM_CTLSOCK_H
#define VMM_CTLSOCK_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>

#define CTLSOCK_MAX_CLIENTS 16
#define CTLSOCK_OUT_MAX     (4u << 20) /* a client that does not read is dropped */

/* Returns the reply (malloc'd, caller of the handler frees) or NULL when out of memory. */
typedef char *(*ctlsock_handler)(void *opaque, const char *line, size_t len);

struct ctlsock_client {
	int fd;
	char *in;            /* CTL_LINE_MAX + 1 bytes */
	size_t in_len;
	bool discarding;     /* inside an over-long line: drop until newline */
	char *out;
	size_t out_len, out_cap;
};

struct ctlsock {
	int listen_fd;
	char *path;
	ctlsock_handler handler;
	void *opaque;
	struct ctlsock_client clients[CTLSOCK_MAX_CLIENTS];
};

/* Bind and listen on `path` (a stale socket file is replaced).  Returns 0 or
 * -errno with err filled. ctlsock_close() unlinks the path. */
int ctlsock_open(struct ctlsock *cs, const char *path, ctlsock_handler h, void *opaque,
		 char *err, size_t errlen);
void ctlsock_close(struct ctlsock *cs);
/* Fill up to `max` pollfds; returns how many. */
size_t ctlsock_pollfds(const struct ctlsock *cs, struct pollfd *pfd, size_t max);
/* Handle the revents of the pollfds ctlsock_pollfds() filled. */
void ctlsock_dispatch(struct ctlsock *cs, const struct pollfd *pfd, size_t n);

#endif
