/* vmm/virtio/vsock.c - virtio-vsock, hybrid Unix-socket host side (see vsock.h).
 *
 * Everything runs on the device's worker thread: queue kicks, and one
 * watched epoll fd that holds the listening socket, every connection's
 * Unix socket, a timerfd (handshake/connect deadlines) and an eventfd
 * (transport reset requests).  A connection's socket is in the epoll set
 * only while the device wants something from it (level-triggered: EPOLLIN
 * when the guest has credit and receive buffers, EPOLLOUT when guest data
 * waits for the host), so nothing spins while the guest is slow.
 */
#include "vmm/virtio/vsock.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>

#include "common/log.h"
#include "vmm/virtio/vsnap.h"

#define RXQ 0
#define TXQ 1
#define EVQ 2
#define RST_QUEUE_MAX 64
#define DATA_BUDGET 16      /* RW packets per readable socket per round */
#define TICK_MS 100
#define FIRST_HOST_PORT 0x40000000u

enum conn_state {
	C_HANDSHAKE,     /* host client connected, CONNECT line not read yet */
	C_CONNECTING,    /* REQUEST for the guest queued/sent, waiting for RESPONSE */
	C_ESTABLISHED,
};

struct conn {
	enum conn_state state;
	uint32_t local_port, peer_port;   /* host side, guest side */
	int fd;                           /* host Unix socket; -1 once gone */
	uint32_t ep_events;               /* registered events; 0 = not in the epoll set */
	uint64_t deadline_ns;             /* handshake/connect deadline; 0 = none */

	char line[VSOCK_CONNECT_LINE_MAX];
	size_t line_len;
	uint8_t early[VSOCK_CONNECT_LINE_MAX]; /* host bytes after the CONNECT line */
	size_t early_len;

	/* Control packets owed to the guest. */
	bool need_request, need_response, need_credit, need_rst;
	uint32_t need_shutdown;           /* VIRTIO_VSOCK_SHUTDOWN_* flags to send */

	/* host -> guest credit */
	uint32_t peer_buf_alloc, peer_fwd_cnt, tx_cnt;
	/* guest -> host: received, forwarded to the socket, last fwd_cnt told */
	uint32_t rx_cnt, fwd_cnt, fwd_sent;
	uint8_t *buf;                     /* ring of VSOCK_BUF_ALLOC, lazily allocated */
	uint32_t buf_head, buf_len;       /* invariant: buf_len == rx_cnt - fwd_cnt */

	bool host_eof;                    /* host will send no more */
	bool peer_shut_send, peer_shut_rcv;
};

struct vsock {
	struct virtio_dev vdev;
	char name[16];
	struct vsock_cfg cfg;
	int listen_fd, ep_fd, timer_fd, reset_fd;
	int watch;
	bool timer_armed;

	struct conn *conns[VSOCK_MAX_CONNS];
	unsigned int nconns;
	uint32_t next_port;

	struct { uint32_t local, peer; } rsts[RST_QUEUE_MAX];
	unsigned int nrsts;

	bool rx_starved;                  /* RX queue empty: wait for a kick */
	bool rx_spare;                    /* rx_chain holds a popped, unused chain */
	uint32_t rx_spare_epoch;          /* ... popped in this RXQ epoch */
	bool rx_pushed;                   /* pushed since the last notify */
	bool event_pending;               /* TRANSPORT_RESET owed to the guest */
	struct virtq_chain rx_chain, tx_chain, ev_chain;

	uint64_t conns_total, rsts_sent, pkts_dropped;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- connections ---- */

static struct conn *conn_find(struct vsock *vs, uint32_t local, uint32_t peer)
{
	for (unsigned int i = 0; i < vs->nconns; i++) {
		struct conn *c = vs->conns[i];

		if (c->state != C_HANDSHAKE && c->local_port == local && c->peer_port == peer)
			return c;
	}
	return NULL;
}

static bool conn_alive(struct vsock *vs, const struct conn *c)
{
	for (unsigned int i = 0; i < vs->nconns; i++)
		if (vs->conns[i] == c)
			return true;
	return false;
}

static struct conn *conn_new(struct vsock *vs, int fd)
{
	struct conn *c;

	if (vs->nconns >= VSOCK_MAX_CONNS)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->fd = fd;
	vs->conns[vs->nconns++] = c;
	vs->conns_total++;
	return c;
}

static void conn_close_host(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd); /* also leaves the epoll set */
	c->fd = -1;
	c->ep_events = 0;
}

static void conn_free(struct vsock *vs, struct conn *c)
{
	for (unsigned int i = 0; i < vs->nconns; i++) {
		if (vs->conns[i] == c) {
			vs->conns[i] = vs->conns[--vs->nconns];
			break;
		}
	}
	conn_close_host(c);
	free(c->buf);
	free(c);
}

/* Reset the connection: the guest gets an RST, the host its EOF. */
static void conn_reset(struct conn *c)
{
	conn_close_host(c);
	c->need_rst = true;
	c->need_request = c->need_response = c->need_credit = false;
	c->need_shutdown = 0;
	c->deadline_ns = 0;
}

static uint32_t conn_credit(const struct conn *c)
{
	return vsock_peer_credit(c->peer_buf_alloc, c->peer_fwd_cnt, c->tx_cnt);
}

static uint32_t conn_want(const struct vsock *vs, const struct conn *c)
{
	uint32_t ev = 0;

	if (c->fd < 0 || c->need_rst)
		return 0;
	if (c->state == C_HANDSHAKE)
		return EPOLLIN;
	if (c->state == C_ESTABLISHED && !c->need_response && !c->host_eof && !c->peer_shut_rcv &&
	    !vs->rx_starved && conn_credit(c) > 0)
		ev |= EPOLLIN;
	if (c->buf_len)
		ev |= EPOLLOUT;
	return ev;
}

static void conn_update(struct vsock *vs, struct conn *c)
{
	uint32_t want = conn_want(vs, c);
	struct epoll_event e = { .events = want, .data.ptr = c };
	int op;

	if (want == c->ep_events)
		return;
	op = !c->ep_events ? EPOLL_CTL_ADD : !want ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
	if (epoll_ctl(vs->ep_fd, op, c->fd, &e) < 0) {
		log_warn("%s: epoll_ctl: %s", vs->name, strerror(errno));
		return;
	}
	c->ep_events = want;
}

static void update_all(struct vsock *vs)
{
	bool deadlines = false;

	for (unsigned int i = 0; i < vs->nconns; i++) {
		conn_update(vs, vs->conns[i]);
		deadlines = deadlines || vs->conns[i]->deadline_ns;
	}
	if (deadlines != vs->timer_armed) {
		struct itimerspec its = { { 0, 0 }, { 0, 0 } };

		if (deadlines) {
			its.it_interval.tv_nsec = TICK_MS * 1000000L;
			its.it_value = its.it_interval;
		}
		timerfd_settime(vs->timer_fd, 0, &its, NULL);
		vs->timer_armed = deadlines;
	}
}

static uint32_t alloc_port(struct vsock *vs)
{
	for (;;) {
		uint32_t p = vs->next_port++;
		bool used = false;

		if (vs->next_port < FIRST_HOST_PORT)
			vs->next_port = FIRST_HOST_PORT;
		for (unsigned int i = 0; i < vs->nconns && !used; i++)
			used = vs->conns[i]->state != C_HANDSHAKE && vs->conns[i]->local_port == p;
		if (!used)
			return p;
	}
}

/* ---- guest receive queue ---- */

/* A receive chain that can take a header, or NULL (queue empty: starved). */
static struct virtq_chain *rx_get(struct vsock *vs)
{
	struct virtq *q = &vs->vdev.vqs[RXQ];
	struct virtq_chain *c = &vs->rx_chain;

	if (vs->rx_spare) {
		vs->rx_spare = false;
		/* Not if the driver re-created the queue since (QueueReady 0
		 * then 1, no reset): the chain is the old ring's. */
		if (q->ready && vs->rx_spare_epoch == q->epoch)
			return c;
	}
	if (vs->rx_starved || !q->ready)
		return NULL;
	for (;;) {
		int r = virtq_pop(q, c);

		if (r < 0) {
			virtio_dev_set_needs_reset(&vs->vdev, "vsock: receive ring broken");
			vs->rx_starved = true;
			return NULL;
		}
		if (r == 0) {
			if (virtq_enable_notify(q))
				continue;
			vs->rx_starved = true;
			return NULL;
		}
		if (c->nr_out == 0 && c->in_len >= VSOCK_HDR_SIZE) {
			vs->rx_spare_epoch = q->epoch; /* if it is kept as the spare */
			return c;
		}
		/* A buffer too small for a header: give it back unused. */
		virtq_push(q, c->head, 0);
		vs->rx_pushed = true;
	}
}

static void rx_push(struct vsock *vs, struct virtq_chain *c, uint32_t len)
{
	virtq_push(&vs->vdev.vqs[RXQ], c->head, len);
	vs->rx_pushed = true;
}

static void rx_notify(struct vsock *vs)
{
	if (vs->rx_pushed) {
		vs->rx_pushed = false;
		virtio_dev_notify_queue(&vs->vdev, &vs->vdev.vqs[RXQ]);
	}
}

static void hdr_for(const struct vsock *vs, struct vsock_hdr *h, uint32_t local, uint32_t peer,
		    uint16_t op, uint32_t flags, uint32_t len, uint32_t fwd_cnt)
{
	*h = (struct vsock_hdr){
		.src_cid = VSOCK_HOST_CID, .dst_cid = vs->cfg.cid,
		.src_port = local, .dst_port = peer, .len = len,
		.type = VIRTIO_VSOCK_TYPE_STREAM, .op = op, .flags = flags,
		.buf_alloc = VSOCK_BUF_ALLOC, .fwd_cnt = fwd_cnt,
	};
}

/* Send one control packet.  true when sent, false when starved. */
static bool rx_send_ctl(struct vsock *vs, uint32_t local, uint32_t peer, uint16_t op,
			uint32_t flags, struct conn *conn)
{
	struct virtq_chain *c = rx_get(vs);
	struct vsock_hdr h;
	uint8_t wire[VSOCK_HDR_SIZE];

	if (!c)
		return false;
	hdr_for(vs, &h, local, peer, op, flags, 0, conn ? conn->fwd_cnt : 0);
	if (conn)
		conn->fwd_sent = conn->fwd_cnt;
	vsock_hdr_encode(&h, wire);
	virtq_iov_write(c->iov, c->nr_in, 0, wire, sizeof(wire));
	rx_push(vs, c, VSOCK_HDR_SIZE);
	if (op == VIRTIO_VSOCK_OP_RST)
		vs->rsts_sent++;
	return true;
}

static void rst_enqueue(struct vsock *vs, uint32_t local, uint32_t peer)
{
	if (vs->nrsts >= RST_QUEUE_MAX) {
		vs->pkts_dropped++; /* the guest's connect times out instead */
		return;
	}
	vs->rsts[vs->nrsts].local = local;
	vs->rsts[vs->nrsts++].peer = peer;
}

/* Send what connections owe the guest, in order: RST, REQUEST, RESPONSE,
 * SHUTDOWN, CREDIT_UPDATE.  Stops when the receive queue runs dry. */
static void rx_flush_ctl(struct vsock *vs)
{
	while (vs->nrsts) {
		if (!rx_send_ctl(vs, vs->rsts[0].local, vs->rsts[0].peer, VIRTIO_VSOCK_OP_RST, 0, NULL))
			return;
		memmove(&vs->rsts[0], &vs->rsts[1], --vs->nrsts * sizeof(vs->rsts[0]));
	}
	for (unsigned int i = 0; i < vs->nconns;) {
		struct conn *c = vs->conns[i];

		if (c->need_rst) {
			if (!rx_send_ctl(vs, c->local_port, c->peer_port, VIRTIO_VSOCK_OP_RST, 0, c))
				return;
			conn_free(vs, c); /* conns[i] is now another connection */
			continue;
		}
		if (c->need_request) {
			if (!rx_send_ctl(vs, c->local_port, c->peer_port, VIRTIO_VSOCK_OP_REQUEST, 0, c))
				return;
			c->need_request = false;
		}
		if (c->need_response) {
			if (!rx_send_ctl(vs, c->local_port, c->peer_port, VIRTIO_VSOCK_OP_RESPONSE, 0, c))
				return;
			c->need_response = false;
		}
		if (c->need_shutdown) {
			if (!rx_send_ctl(vs, c->local_port, c->peer_port, VIRTIO_VSOCK_OP_SHUTDOWN,
					 c->need_shutdown, c))
				return;
			c->need_shutdown = 0;
		}
		if (c->need_credit) {
			if (!rx_send_ctl(vs, c->local_port, c->peer_port, VIRTIO_VSOCK_OP_CREDIT_UPDATE,
					 0, c))
				return;
			c->need_credit = false;
		}
		i++;
	}
}

/* Both directions finished: close with an RST once the guest's data is out. */
static void conn_maybe_done(struct conn *c)
{
	if (c->need_rst || c->buf_len)
		return;
	if (c->peer_shut_send && (c->peer_shut_rcv || c->host_eof))
		conn_reset(c);
}

/* Host -> guest: RW packets from the socket while credit and buffers last. */
static void conn_read_host(struct vsock *vs, struct conn *c)
{
	for (int budget = DATA_BUDGET; budget > 0 && c->fd >= 0; budget--) {
		struct iovec iov[VIRTQ_CHAIN_MAX];
		struct virtq_chain *ch;
		uint32_t room = conn_credit(c), n = 0;
		unsigned int k = 0;
		uint64_t left;
		struct vsock_hdr h;
		uint8_t wire[VSOCK_HDR_SIZE];
		ssize_t got;

		if (!room || c->host_eof || c->peer_shut_rcv || c->state != C_ESTABLISHED ||
		    c->need_response)
			break;
		ch = rx_get(vs);
		if (!ch)
			break;
		left = ch->in_len - VSOCK_HDR_SIZE;
		if (left > room)
			left = room;
		if (left > VSOCK_MAX_PKT_PAYLOAD)
			left = VSOCK_MAX_PKT_PAYLOAD;
		if (left == 0) {
			vs->rx_spare = true;
			break;
		}
		if (c->early_len) {
			n = (uint32_t)(c->early_len < left ? c->early_len : left);
			virtq_iov_write(ch->iov, ch->nr_in, VSOCK_HDR_SIZE, c->early, n);
			memmove(c->early, c->early + n, c->early_len - n);
			c->early_len -= n;
		} else {
			/* Read straight into the guest buffer, after the header. */
			size_t off = VSOCK_HDR_SIZE;

			for (unsigned int i = 0; i < ch->nr_in && left; i++) {
				size_t l = ch->iov[i].iov_len;

				if (off >= l) {
					off -= l;
					continue;
				}
				l -= off;
				if (l > left)
					l = (size_t)left;
				iov[k].iov_base = (uint8_t *)ch->iov[i].iov_base + off;
				iov[k++].iov_len = l;
				left -= l;
				off = 0;
			}
			got = readv(c->fd, iov, (int)k);
			if (got <= 0) {
				vs->rx_spare = true; /* keep the chain for the next packet */
				if (got == 0) {
					c->host_eof = true;
					c->need_shutdown |= VIRTIO_VSOCK_SHUTDOWN_SEND;
					conn_maybe_done(c);
				} else if (errno != EAGAIN && errno != EINTR) {
					conn_reset(c);
				}
				break;
			}
			n = (uint32_t)got;
		}
		hdr_for(vs, &h, c->local_port, c->peer_port, VIRTIO_VSOCK_OP_RW, 0, n, c->fwd_cnt);
		c->fwd_sent = c->fwd_cnt;
		vsock_hdr_encode(&h, wire);
		virtq_iov_write(ch->iov, ch->nr_in, 0, wire, sizeof(wire));
		rx_push(vs, ch, VSOCK_HDR_SIZE + n);
		c->tx_cnt += n;
	}
}

/* ---- guest -> host data ---- */

static void credit_check(struct conn *c)
{
	/* Free space as the guest last heard of it (rx_cnt - fwd_sent bytes
	 * in use).  When that drops below one full packet the guest may stall:
	 * tell it what has been forwarded since (Linux's rule, too).  Every
	 * packet we send carries fwd_cnt anyway. */
	uint32_t seen_free = VSOCK_BUF_ALLOC - (c->rx_cnt - c->fwd_sent);

	if (c->fwd_cnt != c->fwd_sent && seen_free < VSOCK_MAX_PKT_PAYLOAD)
		c->need_credit = true;
}

/* Write the ring to the host socket.  Resets on a dead socket. */
static void conn_drain(struct conn *c)
{
	while (c->buf_len && c->fd >= 0) {
		uint32_t seg = VSOCK_BUF_ALLOC - c->buf_head;
		ssize_t w;

		if (seg > c->buf_len)
			seg = c->buf_len;
		w = write(c->fd, c->buf + c->buf_head, seg);
		if (w < 0) {
			if (errno != EAGAIN && errno != EINTR)
				conn_reset(c);
			break;
		}
		c->buf_head = (c->buf_head + (uint32_t)w) % VSOCK_BUF_ALLOC;
		c->buf_len -= (uint32_t)w;
		c->fwd_cnt += (uint32_t)w;
	}
	if (!c->buf_len && c->fd >= 0) {
		free(c->buf);
		c->buf = NULL;
		c->buf_head = 0;
		if (c->peer_shut_send)
			shutdown(c->fd, SHUT_WR);
	}
	credit_check(c);
	conn_maybe_done(c);
}

/* An RW packet: payload is `len` bytes at offset VSOCK_HDR_SIZE of the
 * chain's readable buffers (checked by vsock_hdr_check). */
static void conn_write_host(struct vsock *vs, struct conn *c, const struct virtq_chain *ch,
			    uint32_t len)
{
	struct iovec iov[VIRTQ_CHAIN_MAX];
	uint32_t done = 0;
	unsigned int k = 0;
	size_t off = VSOCK_HDR_SIZE, left = len;

	if (c->peer_shut_send || !vsock_rx_fits(VSOCK_BUF_ALLOC, c->rx_cnt, c->fwd_cnt, len)) {
		log_debug("%s: port %u: guest sent beyond its credit or after SHUTDOWN: reset",
			  vs->name, c->local_port);
		conn_reset(c);
		return;
	}
	c->rx_cnt += len;
	if (c->fd < 0)
		return;
	for (unsigned int i = 0; i < ch->nr_out && left; i++) {
		size_t l = ch->iov[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		l -= off;
		if (l > left)
			l = left;
		iov[k].iov_base = (uint8_t *)ch->iov[i].iov_base + off;
		iov[k++].iov_len = l;
		left -= l;
		off = 0;
	}
	if (!c->buf_len) {
		ssize_t w = writev(c->fd, iov, (int)k);

		if (w < 0 && errno != EAGAIN && errno != EINTR) {
			conn_reset(c);
			return;
		}
		done = w > 0 ? (uint32_t)w : 0;
		c->fwd_cnt += done;
	}
	if (done < len) {
		/* The host is slower than the guest: keep the rest (bounded by
		 * the credit we gave, checked above). */
		uint32_t rest = len - done, tail;

		if (!c->buf) {
			c->buf = malloc(VSOCK_BUF_ALLOC);
			if (!c->buf) {
				conn_reset(c);
				return;
			}
			c->buf_head = 0;
		}
		tail = (c->buf_head + c->buf_len) % VSOCK_BUF_ALLOC;
		for (uint32_t copied = 0; copied < rest;) {
			uint32_t seg = VSOCK_BUF_ALLOC - tail;

			if (seg > rest - copied)
				seg = rest - copied;
			virtq_iov_read(iov, k, done + copied, c->buf + tail, seg);
			copied += seg;
			tail = (tail + seg) % VSOCK_BUF_ALLOC;
		}
		c->buf_len += rest;
	}
	credit_check(c);
}

/* ---- guest transmit queue ---- */

static void guest_connect(struct vsock *vs, const struct vsock_hdr *h)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct conn *c;
	int fd, n;

	n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%" PRIu32, vs->cfg.uds, h->dst_port);
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path) || vs->nconns >= VSOCK_MAX_CONNS) {
		rst_enqueue(vs, h->dst_port, h->src_port);
		return;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		log_debug("%s: guest connect to host port %u (%s): %s", vs->name, h->dst_port,
			  sa.sun_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		rst_enqueue(vs, h->dst_port, h->src_port);
		return;
	}
	c = conn_new(vs, fd);
	if (!c) {
		close(fd);
		rst_enqueue(vs, h->dst_port, h->src_port);
		return;
	}
	c->state = C_ESTABLISHED;
	c->local_port = h->dst_port;
	c->peer_port = h->src_port;
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	c->need_response = true;
}

static void tx_packet(struct vsock *vs, const struct virtq_chain *ch)
{
	uint8_t wire[VSOCK_HDR_SIZE];
	struct vsock_hdr h;
	struct conn *c;
	const char *why;
	enum vsock_verdict v;

	if (ch->out_len < VSOCK_HDR_SIZE ||
	    virtq_iov_read(ch->iov, ch->nr_out, 0, wire, sizeof(wire)) != sizeof(wire)) {
		vs->pkts_dropped++;
		return;
	}
	vsock_hdr_decode(wire, &h);
	v = vsock_hdr_check(&h, vs->cfg.cid, ch->out_len - VSOCK_HDR_SIZE, &why);
	if (v != VSOCK_PKT_OK) {
		log_debug("%s: packet op %u from port %u: %s", vs->name, h.op, h.src_port, why);
		vs->pkts_dropped++;
		if (v == VSOCK_PKT_RST) {
			c = conn_find(vs, h.dst_port, h.src_port);
			if (c)
				conn_reset(c);
			else
				rst_enqueue(vs, h.dst_port, h.src_port);
		}
		return;
	}
	c = conn_find(vs, h.dst_port, h.src_port);
	if (h.op == VIRTIO_VSOCK_OP_REQUEST) {
		if (c)
			conn_reset(c); /* a second REQUEST on a live connection */
		else
			guest_connect(vs, &h);
		return;
	}
	if (!c || c->need_rst) {
		if (!c && h.op != VIRTIO_VSOCK_OP_RST)
			rst_enqueue(vs, h.dst_port, h.src_port);
		return;
	}
	c->peer_buf_alloc = h.buf_alloc;
	c->peer_fwd_cnt = h.fwd_cnt;
	switch (h.op) {
	case VIRTIO_VSOCK_OP_RESPONSE:
		if (c->state != C_CONNECTING) {
			conn_reset(c);
		} else {
			char ok[32];
			int n = snprintf(ok, sizeof(ok), "OK %" PRIu32 "\n", c->local_port);

			c->state = C_ESTABLISHED;
			c->deadline_ns = 0;
			/* A fresh socket's buffer takes a short line. */
			if (c->fd < 0 || write(c->fd, ok, (size_t)n) != n)
				conn_reset(c);
		}
		break;
	case VIRTIO_VSOCK_OP_RST:
		conn_free(vs, c); /* the guest is gone: no answer */
		break;
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		if (h.flags & VIRTIO_VSOCK_SHUTDOWN_RCV)
			c->peer_shut_rcv = true;
		if (h.flags & VIRTIO_VSOCK_SHUTDOWN_SEND) {
			c->peer_shut_send = true;
			if (!c->buf_len && c->fd >= 0)
				shutdown(c->fd, SHUT_WR);
		}
		conn_maybe_done(c);
		break;
	case VIRTIO_VSOCK_OP_RW:
		if (c->state != C_ESTABLISHED)
			conn_reset(c);
		else
			conn_write_host(vs, c, ch, h.len);
		break;
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
		break; /* taken above */
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		c->need_credit = true;
		break;
	}
}

static void tx_run(struct vsock *vs, struct virtq *q)
{
	struct virtq_chain *ch = &vs->tx_chain;
	bool pushed = false;

	for (;;) {
		int r = virtq_pop(q, ch);

		if (r < 0) {
			virtio_dev_set_needs_reset(&vs->vdev, "vsock: transmit ring broken");
			return;
		}
		if (r == 0) {
			if (virtq_enable_notify(q))
				continue;
			break;
		}
		tx_packet(vs, ch);
		virtq_push(q, ch->head, 0);
		pushed = true;
	}
	if (pushed)
		virtio_dev_notify_queue(&vs->vdev, q);
}

/* ---- events ---- */

static void ev_flush(struct vsock *vs)
{
	struct virtq *q = &vs->vdev.vqs[EVQ];
	struct virtq_chain *c = &vs->ev_chain;
	uint8_t ev[4] = { VIRTIO_VSOCK_EVENT_TRANSPORT_RESET, 0, 0, 0 };
	int r;

	if (!vs->event_pending || !q->ready)
		return;
	r = virtq_pop(q, c);
	if (r < 0) {
		virtio_dev_set_needs_reset(&vs->vdev, "vsock: event ring broken");
		return;
	}
	if (r == 0)
		return; /* sent when the driver adds an event buffer (kick) */
	if (c->nr_out == 0 && c->in_len >= sizeof(ev)) {
		virtq_iov_write(c->iov, c->nr_in, 0, ev, sizeof(ev));
		virtq_push(q, c->head, sizeof(ev));
		vs->event_pending = false;
	} else {
		virtq_push(q, c->head, 0);
	}
	virtio_dev_notify_queue(&vs->vdev, q);
}

static void drop_all(struct vsock *vs)
{
	while (vs->nconns)
		conn_free(vs, vs->conns[0]);
	vs->nrsts = 0;
	vs->rx_spare = false;
	vs->rx_starved = false;
	vs->rx_pushed = false;
}

/* ---- host side: listener, handshake, timers ---- */

static void on_accept(struct vsock *vs)
{
	for (int i = 0; i < 16; i++) {
		int fd = accept4(vs->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct conn *c;

		if (fd < 0)
			return;
		c = conn_new(vs, fd);
		if (!c) {
			log_warn("%s: %u connections: refusing another", vs->name, VSOCK_MAX_CONNS);
			close(fd);
			continue;
		}
		c->state = C_HANDSHAKE;
		c->deadline_ns = now_ns() + VSOCK_HANDSHAKE_MS * 1000000ull;
	}
}

static void on_handshake(struct vsock *vs, struct conn *c)
{
	ssize_t n = read(c->fd, c->line + c->line_len, sizeof(c->line) - c->line_len);
	uint32_t port;
	size_t used;
	int r;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_free(vs, c);
		return;
	}
	c->line_len += (size_t)n;
	r = vsock_parse_connect(c->line, c->line_len, &port, &used);
	if (r == 0)
		return;
	if (r < 0) {
		static const char msg[] = "ERR expected CONNECT <port>\n";

		log_debug("%s: host client sent no CONNECT line: closed", vs->name);
		if (write(c->fd, msg, sizeof(msg) - 1) < 0) {
			/* closing anyway */
		}
		conn_free(vs, c);
		return;
	}
	c->early_len = c->line_len - used;
	memcpy(c->early, c->line + used, c->early_len);
	c->state = C_CONNECTING;
	c->local_port = alloc_port(vs);
	c->peer_port = port;
	c->need_request = true;
	c->deadline_ns = now_ns() + VSOCK_CONNECT_MS * 1000000ull;
}

static void on_tick(struct vsock *vs)
{
	uint64_t n, t = now_ns();

	if (read(vs->timer_fd, &n, sizeof(n)) < 0) {
		/* spurious */
	}
	for (unsigned int i = 0; i < vs->nconns;) {
		struct conn *c = vs->conns[i];

		if (c->deadline_ns && t >= c->deadline_ns) {
			if (c->state == C_HANDSHAKE) {
				conn_free(vs, c);
				continue;
			}
			log_debug("%s: guest did not answer a connect to port %u", vs->name,
				  c->peer_port);
			conn_reset(c);
		}
		i++;
	}
}

static void on_reset_request(struct vsock *vs)
{
	uint64_t n;

	if (read(vs->reset_fd, &n, sizeof(n)) < 0)
		return;
	drop_all(vs);
	vs->event_pending = true;
	ev_flush(vs);
}

/* After anything changed: owed control packets, readiness, notify. */
static void settle(struct vsock *vs)
{
	/* Bytes that came with the CONNECT line are not in the socket any
	 * more: no readiness event will announce them. */
	for (unsigned int i = 0; i < vs->nconns; i++) {
		struct conn *c = vs->conns[i];

		if (c->early_len && c->state == C_ESTABLISHED && !c->need_rst)
			conn_read_host(vs, c);
	}
	rx_flush_ctl(vs);
	update_all(vs);
	rx_notify(vs);
}

static void on_epoll(struct virtio_dev *d, int fd, short revents, void *opaque)
{
	struct vsock *vs = opaque;
	struct epoll_event evs[32];
	int n = epoll_wait(vs->ep_fd, evs, 32, 0);

	for (int i = 0; i < n; i++) {
		void *p = evs[i].data.ptr;
		struct conn *c;

		if (p == &vs->listen_fd) {
			on_accept(vs);
		} else if (p == &vs->timer_fd) {
			on_tick(vs);
		} else if (p == &vs->reset_fd) {
			on_reset_request(vs);
		} else {
			c = p;
			if (!conn_alive(vs, c) || c->fd < 0)
				continue;
			if (c->state == C_HANDSHAKE) {
				on_handshake(vs, c);
				continue;
			}
			if (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
				conn_drain(c);
			if (c->fd >= 0 && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
				conn_read_host(vs, c);
		}
	}
	settle(vs);
}

static void vsock_queue_notify(struct virtio_dev *d, struct virtq *q)
{
	struct vsock *vs = d->priv;

	if (q->index == TXQ) {
		tx_run(vs, q);
	} else if (q->index == RXQ) {
		vs->rx_starved = false; /* new buffers: readiness is recomputed below */
	} else if (q->index == EVQ) {
		ev_flush(vs);
	}
	settle(vs);
}

static int vsock_activate(struct virtio_dev *d)
{
	struct vsock *vs = d->priv;

	vs->rx_starved = false;
	return 0;
}

static void vsock_reset(struct virtio_dev *d)
{
	/* The guest's sockets are gone with its driver: so are ours. */
	drop_all(d->priv);
	((struct vsock *)d->priv)->event_pending = false;
}

static void vsock_free(struct virtio_dev *d)
{
	struct vsock *vs = d->priv;

	drop_all(vs);
	if (vs->listen_fd >= 0) {
		close(vs->listen_fd);
		unlink(vs->cfg.uds);
	}
	if (vs->timer_fd >= 0)
		close(vs->timer_fd);
	if (vs->reset_fd >= 0)
		close(vs->reset_fd);
	if (vs->ep_fd >= 0)
		close(vs->ep_fd);
	free(vs);
}

static void vsock_describe(struct virtio_dev *d, struct json_object *o)
{
	struct vsock *vs = d->priv;

	/* Main thread: only the fixed facts (the rest is the worker's). */
	json_object_object_add(o, "cid", json_object_new_int64((int64_t)vs->cfg.cid));
	json_object_object_add(o, "uds", json_object_new_string(vs->cfg.uds));
}

void vsock_transport_reset(struct virtio_dev *d)
{
	struct vsock *vs = d->priv;
	uint64_t one = 1;

	if (write(vs->reset_fd, &one, sizeof(one)) < 0)
		log_warn("%s: transport reset: %s", vs->name, strerror(errno));
}

/* Hibernate: a receive chain taken but not filled goes back to the ring.
 * Connections are not saved: they cannot survive the process (restored
 * below tells the guest). */
static int vsock_quiesce(struct virtio_dev *d)
{
	struct vsock *vs = d->priv;

	if (vs->rx_spare) {
		virtq_unpop(&d->vqs[RXQ], 1);
		vs->rx_spare = false;
	}
	rx_notify(vs);
	return 0;
}

static void vsock_snap_cfg(struct virtio_dev *d, struct vsnap_devcfg *c)
{
	c->vsock = ((struct vsock *)d->priv)->cfg;
}

/* After a resume: the guest's connections are gone with the old process;
 * VIRTIO_VSOCK_EVENT_TRANSPORT_RESET makes its driver drop them cleanly
 * (sent by the worker as soon as the event queue has a buffer). */
static void vsock_restored(struct virtio_dev *d)
{
	if (d->status & VIRTIO_STATUS_DRIVER_OK)
		vsock_transport_reset(d);
}

static const struct virtio_dev_ops vsock_ops = {
	.snap_cfg = vsock_snap_cfg,
	.quiesce = vsock_quiesce,
	.restored = vsock_restored,
	.activate = vsock_activate,
	.reset = vsock_reset,
	.queue_notify = vsock_queue_notify,
	.free = vsock_free,
	.describe = vsock_describe,
};

/* Listen on path; replace a stale socket file nobody answers on. */
static int listen_uds(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, r;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "--vsock uds '%s': path too long", path);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (lstat(path, &st) == 0) {
		int probe;

		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "--vsock uds '%s': exists and is not a socket", path);
			return -EEXIST;
		}
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(probe);
			snprintf(err, errlen, "--vsock uds '%s': another process listens there",
				 path);
			return -EADDRINUSE;
		}
		if (probe >= 0)
			close(probe);
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0) {
		r = -errno;
		snprintf(err, errlen, "--vsock uds '%s': %s", path, strerror(-r));
		if (fd >= 0)
			close(fd);
		return r;
	}
	return fd;
}

struct virtio_dev *vsock_new(const struct vsock_cfg *cfg, const struct guest_mem *mem,
			     char *err, size_t errlen)
{
	struct vsock *vs = calloc(1, sizeof(*vs));
	struct epoll_event e;
	int r;

	if (!vs) {
		snprintf(err, errlen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	vs->cfg = *cfg;
	vs->vdev.priv = vs; /* vsock_free() on the error path needs it */
	vs->listen_fd = vs->ep_fd = vs->timer_fd = vs->reset_fd = -1;
	vs->next_port = FIRST_HOST_PORT;
	snprintf(vs->name, sizeof(vs->name), "vsock0");
	r = listen_uds(cfg->uds, err, errlen);
	if (r < 0)
		goto fail;
	vs->listen_fd = r;
	vs->ep_fd = epoll_create1(EPOLL_CLOEXEC);
	vs->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	vs->reset_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (vs->ep_fd < 0 || vs->timer_fd < 0 || vs->reset_fd < 0) {
		r = -errno;
		snprintf(err, errlen, "vsock: epoll/timerfd/eventfd: %s", strerror(-r));
		goto fail;
	}
	e = (struct epoll_event){ .events = EPOLLIN, .data.ptr = &vs->listen_fd };
	if (epoll_ctl(vs->ep_fd, EPOLL_CTL_ADD, vs->listen_fd, &e) < 0)
		goto fail_errno;
	e.data.ptr = &vs->timer_fd;
	if (epoll_ctl(vs->ep_fd, EPOLL_CTL_ADD, vs->timer_fd, &e) < 0)
		goto fail_errno;
	e.data.ptr = &vs->reset_fd;
	if (epoll_ctl(vs->ep_fd, EPOLL_CTL_ADD, vs->reset_fd, &e) < 0)
		goto fail_errno;

	vs->vdev.name = vs->name;
	vs->vdev.device_id = VIRTIO_ID_VSOCK;
	vs->vdev.host_features = 0; /* stream sockets only */
	vs->vdev.nr_queues = 3;
	vs->vdev.queue_max[RXQ] = VSOCK_QUEUE_SIZE;
	vs->vdev.queue_max[TXQ] = VSOCK_QUEUE_SIZE;
	vs->vdev.queue_max[EVQ] = 16;
	vs->vdev.config_len = 8;
	for (int i = 0; i < 8; i++)
		vs->vdev.config[i] = (uint8_t)(cfg->cid >> (8 * i)); /* le64 guest_cid */
	vs->vdev.ops = &vsock_ops;
	vs->vdev.priv = vs;
	r = virtio_dev_init(&vs->vdev, mem);
	if (r < 0) {
		snprintf(err, errlen, "vsock: virtio device: %s", strerror(-r));
		goto fail;
	}
	r = virtio_dev_watch_fd(&vs->vdev, vs->ep_fd, POLLIN, on_epoll, vs);
	if (r < 0) {
		snprintf(err, errlen, "vsock: watching: %s", strerror(-r));
		virtio_dev_free(&vs->vdev); /* frees vs */
		errno = -r;
		return NULL;
	}
	vs->watch = r;
	return &vs->vdev;

fail_errno:
	r = -errno;
	snprintf(err, errlen, "vsock: epoll_ctl: %s", strerror(-r));
fail:
	vsock_free(&vs->vdev);
	errno = -r;
	return NULL;
}
