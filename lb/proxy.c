/* lb/proxy.c - the workers: one epoll loop per thread, SO_REUSEPORT
 * listeners, L7 (HTTP/1.1, HTTPS) sessions with per-target idle pools, L4
 * passthrough with splice(2), timeouts on a timer wheel.
 *
 * Sockets other than listeners are edge-triggered and registered once for
 * IN|OUT|RDHUP: a side's `rd`/`wr` flags remember readiness and are cleared
 * only when the kernel says EAGAIN (or a short plain read), so no
 * epoll_ctl(MOD) is ever needed.  Everything runs on the worker that
 * accepted the connection; the only shared state is the configuration
 * snapshot (read-only), target objects (atomics) and the namespace socket
 * factories (lb/nsock.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/strbuf.h"
#include "lb/http.h"
#include "lb/lb.h"
#include "lb/nsock.h"
#include "lb/rule.h"
#include "lb/wheel.h"

#define BUF_SZ      16384u
#define PIPE_CAP    65536u
#define POOL_MAX    64        /* idle connections per target per worker */
#define POOL_IDLE_MS 30000u   /* below common backend keep-alive timeouts */

enum fdkind { K_LISTEN = 1, K_NOTIFY, K_CLIENT, K_UP, K_L4 };

struct buf {
	char *p;            /* BUF_SZ bytes, allocated on first use */
	uint32_t s, e;      /* unread bytes are p[s..e) */
};

struct wlisten {
	uint8_t kind;       /* K_LISTEN */
	int fd;
	char key[32];
	const struct lb_listener *l;   /* in w->cfg */
	struct wlisten *next;
};

struct sess;

struct lb_uconn {
	uint8_t kind;       /* K_UP */
	int fd;
	bool rd, wr, rdhup, connecting;
	struct lb_target *t;           /* reference */
	struct sess *s;                /* NULL while idle */
	struct buf in;
	struct lb_uconn *inext, **iprev;  /* t->idle[w] */
	struct lb_uconn *wnext, **wprev;  /* w->idle */
	uint64_t idle_since;
};

enum phase { P_HANDSHAKE, P_HEAD, P_FORWARD, P_CLOSE };

struct sess {
	uint8_t kind;       /* K_CLIENT */
	struct lb_worker *w;
	int fd;
	bool rd, wr, rdhup, eof;
	SSL *ssl;
	struct sockaddr_in peer;
	char lkey[32];
	bool https;
	uint16_t lport;
	enum phase phase;
	struct buf in;
	struct strbuf out;  /* to the client: generated responses, response heads */
	size_t out_off;
	bool close_after;
	bool head_started;
	/* the request being forwarded */
	struct http_body reqb;
	uint64_t req_pending;          /* body bytes at in.s ready for the target */
	bool req_done, body_started, head_req, client_ka;
	int minor;
	struct lb_uconn *u;
	bool u_reused, retried;
	struct lb_target *t;           /* reference while forwarding */
	struct strbuf uout;            /* request head to the target */
	size_t uout_off;
	bool resp_head_done, resp_any;
	struct http_body respb;
	uint64_t resp_pending;
	bool resp_ka;
	uint64_t deadline;
	struct wtimer tm;
	struct sess *next, **pprev;
};

struct l4;
struct l4side {
	uint8_t kind;       /* K_L4 */
	struct l4 *s;
	int fd;
	bool rd, wr, eof, shut, connecting;
	int pipe[2];        /* data read from this side, to the other */
	size_t inpipe;
};

struct l4 {
	struct lb_worker *w;
	struct l4side c, u;
	struct lb_target *t;
	uint64_t deadline;
	unsigned idle_ms;
	struct wtimer tm;
	struct l4 *next, **pprev;
};

struct lb_worker {
	struct lb *lb;
	size_t idx;
	pthread_t th;
	int epfd;
	uint8_t notify_kind;
	int evfd;
	struct lb_config *cfg;
	struct wlisten *wls;
	struct wheel wh;
	uint64_t now;
	uint32_t rnd;
	struct lb_uconn *idle;
	struct sess *sessions;
	struct l4 *l4s;
	uint64_t last_sweep;
	/* objects closed during an epoll batch: a later event of the same
	 * batch may still point at them, so they are freed after it (kind 0 =
	 * dead, skipped by the dispatcher) */
	void **graves;
	size_t ngraves, capgraves;
};

static void bury(struct lb_worker *w, void *p)
{
	if (w->ngraves == w->capgraves) {
		size_t nc = w->capgraves ? w->capgraves * 2 : 64;
		void **ng = realloc(w->graves, nc * sizeof(*ng));

		if (!ng) {
			/* cannot defer: leak rather than risk a use after free */
			return;
		}
		w->graves = ng;
		w->capgraves = nc;
	}
	w->graves[w->ngraves++] = p;
}

static void graves_free(struct lb_worker *w)
{
	for (size_t i = 0; i < w->ngraves; i++)
		free(w->graves[i]);
	w->ngraves = 0;
}

static uint32_t xrand(struct lb_worker *w)
{
	uint32_t x = w->rnd;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return w->rnd = x;
}

static uint32_t addr_hash(const struct sockaddr_in *a)
{
	uint32_t h = 2166136261u, v = a->sin_addr.s_addr;

	for (int i = 0; i < 4; i++) {
		h ^= (v >> (8 * i)) & 0xff;
		h *= 16777619u;
	}
	return h;
}

static int ep_add(struct lb_worker *w, int fd, void *ptr, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = ptr };

	return epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static bool buf_alloc(struct buf *b)
{
	if (!b->p)
		b->p = malloc(BUF_SZ);
	return b->p != NULL;
}

static void buf_compact(struct buf *b)
{
	if (b->s == b->e) {
		b->s = b->e = 0;
	} else if (b->e == BUF_SZ && b->s > 0) {
		memmove(b->p, b->p + b->s, b->e - b->s);
		b->e -= b->s;
		b->s = 0;
	}
}

/* ---- idle pools ------------------------------------------------------------ */

static void uconn_free(struct lb_worker *w, struct lb_uconn *u)
{
	if (u->iprev) {
		*u->iprev = u->inext;
		if (u->inext)
			u->inext->iprev = u->iprev;
	}
	if (u->wprev) {
		*u->wprev = u->wnext;
		if (u->wnext)
			u->wnext->wprev = u->wprev;
	}
	if (u->fd >= 0)
		close(u->fd);
	lb_target_put(u->t);
	free(u->in.p);
	u->kind = 0;
	bury(w, u);
}

static size_t pool_len(struct lb_uconn *h)
{
	size_t n = 0;

	for (; h; h = h->inext)
		n++;
	return n;
}

static void pool_put(struct lb_worker *w, struct lb_uconn *u)
{
	struct lb_uconn **ih = &u->t->idle[w->idx];

	if (u->in.s != u->in.e || pool_len(*ih) >= POOL_MAX ||
	    __atomic_load_n(&u->t->draining, __ATOMIC_RELAXED)) {
		uconn_free(w, u);
		return;
	}
	u->s = NULL;
	u->in.s = u->in.e = 0;
	u->idle_since = w->now;
	u->inext = *ih;
	if (*ih)
		(*ih)->iprev = &u->inext;
	*ih = u;
	u->iprev = ih;
	u->wnext = w->idle;
	if (w->idle)
		w->idle->wprev = &u->wnext;
	w->idle = u;
	u->wprev = &w->idle;
}

static struct lb_uconn *pool_get(struct lb_worker *w, struct lb_target *t)
{
	struct lb_uconn *u = t->idle[w->idx];

	if (!u)
		return NULL;
	*u->iprev = u->inext;
	if (u->inext)
		u->inext->iprev = u->iprev;
	u->iprev = NULL;
	u->inext = NULL;
	*u->wprev = u->wnext;
	if (u->wnext)
		u->wnext->wprev = u->wprev;
	u->wprev = NULL;
	u->wnext = NULL;
	return u;
}

static void pool_sweep(struct lb_worker *w)
{
	struct lb_uconn *u = w->idle, *nx;

	for (; u; u = nx) {
		nx = u->wnext;
		if (w->now - u->idle_since > POOL_IDLE_MS ||
		    __atomic_load_n(&u->t->draining, __ATOMIC_RELAXED))
			uconn_free(w, u);
	}
}

static struct lb_uconn *uconn_connect(struct lb_worker *w, struct lb_target *t, int *err)
{
	struct lb_uconn *u = calloc(1, sizeof(*u));
	int fd, one = 1;

	if (!u) {
		*err = -ENOMEM;
		return NULL;
	}
	u->kind = K_UP;
	fd = nsock_socket(w->lb->nsock, t->netns);
	if (fd < 0) {
		*err = fd;
		free(u);
		return NULL;
	}
	u->fd = fd;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)&t->addr, sizeof(t->addr)) < 0) {
		if (errno != EINPROGRESS) {
			*err = -errno;
			close(fd);
			free(u);
			return NULL;
		}
		u->connecting = true;
	} else {
		u->wr = true;
	}
	if ((*err = ep_add(w, fd, u, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET)) < 0) {
		close(fd);
		free(u);
		return NULL;
	}
	lb_target_get(t);
	u->t = t;
	return u;
}

/* ---- client I/O (plain or TLS) ------------------------------------------------ */

static ssize_t c_read(struct sess *s, char *p, size_t n)
{
	ssize_t r;
	int e;

	if (!s->ssl) {
		r = read(s->fd, p, n);
		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR) {
				s->rd = false;
				return -EAGAIN;
			}
			return -errno;
		}
		if ((size_t)r < n && !s->rdhup)
			s->rd = false;
		return r;
	}
	ERR_clear_error();
	r = SSL_read(s->ssl, p, (int)n);
	if (r > 0)
		return r;
	e = SSL_get_error(s->ssl, (int)r);
	if (e == SSL_ERROR_WANT_READ) {
		s->rd = false;
		return -EAGAIN;
	}
	if (e == SSL_ERROR_WANT_WRITE) {
		s->wr = false;
		return -EAGAIN;
	}
	return e == SSL_ERROR_ZERO_RETURN ? 0 : -EIO;
}

static ssize_t c_write(struct sess *s, const char *p, size_t n)
{
	ssize_t r;
	int e;

	if (!s->ssl) {
		r = send(s->fd, p, n, MSG_NOSIGNAL);
		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR) {
				s->wr = false;
				return -EAGAIN;
			}
			return -errno;
		}
		return r;
	}
	ERR_clear_error();
	r = SSL_write(s->ssl, p, (int)n);
	if (r > 0)
		return r;
	e = SSL_get_error(s->ssl, (int)r);
	if (e == SSL_ERROR_WANT_WRITE) {
		s->wr = false;
		return -EAGAIN;
	}
	if (e == SSL_ERROR_WANT_READ) {
		s->rd = false;
		return -EAGAIN;
	}
	return -EIO;
}

/* ---- sessions ---------------------------------------------------------------- */

static void sess_timer(struct wtimer *tm, uint64_t now);

static void sess_deadline(struct sess *s, uint64_t at)
{
	s->deadline = at;
	if (!wheel_armed(&s->tm) || at < s->tm.at)
		wheel_add(&s->w->wh, &s->tm, at);
}

static const struct lb_listener *sess_listener(struct sess *s)
{
	struct lb_config *cfg = s->w->cfg;

	for (size_t i = 0; cfg && i < cfg->nlisteners; i++)
		if (strcmp(cfg->listeners[i].key, s->lkey) == 0)
			return &cfg->listeners[i];
	return NULL;
}

static unsigned sess_idle_ms(struct sess *s)
{
	const struct lb_listener *l = sess_listener(s);

	return l ? l->idle_timeout_ms : 60000u;
}

/* Release the target of the current request; the upstream connection goes
 * back to the pool when reusable. */
static void sess_release_upstream(struct sess *s, bool reusable)
{
	struct lb_uconn *u = s->u;

	s->u = NULL;
	if (u) {
		if (reusable)
			pool_put(s->w, u);
		else
			uconn_free(s->w, u);
	}
	if (s->t) {
		__atomic_sub_fetch(&s->t->active, 1, __ATOMIC_RELEASE);
		lb_target_put(s->t);
		s->t = NULL;
	}
}

static void sess_free(struct sess *s)
{
	struct lb_worker *w = s->w;
	const struct lb_listener *l = sess_listener(s);

	(void)l;
	sess_release_upstream(s, false);
	wheel_del(&w->wh, &s->tm);
	if (s->pprev) {
		*s->pprev = s->next;
		if (s->next)
			s->next->pprev = s->pprev;
	}
	if (s->ssl)
		SSL_free(s->ssl);
	close(s->fd);
	free(s->in.p);
	sb_free(&s->out);
	sb_free(&s->uout);
	s->kind = 0;
	bury(w, s);
}

static void count_status(struct sess *s, int status, bool generated)
{
	const struct lb_listener *l = sess_listener(s);

	if (!l)
		return;
	if (generated && status >= 500)
		lb_atomic_add(&l->st->elb_5xx, 1);
	else if (generated && status >= 400)
		lb_atomic_add(&l->st->elb_4xx, 1);
	else if (!generated && status >= 500)
		lb_atomic_add(&l->st->target_5xx, 1);
}

/* Queue a generated response.  close: the connection ends after it. */
static void respond(struct sess *s, int status, const char *ctype, const char *body,
		    const char *location, bool close)
{
	size_t blen = body ? strlen(body) : 0;

	if (close || !s->client_ka)
		s->close_after = true;
	sb_printf(&s->out, "HTTP/1.1 %d %s\r\nServer: haneul-lb\r\nContent-Length: %zu\r\n", status,
		  http_reason(status), blen);
	if (blen || ctype)
		sb_printf(&s->out, "Content-Type: %s\r\n", ctype ? ctype : "text/plain; charset=utf-8");
	if (location)
		sb_printf(&s->out, "Location: %s\r\n", location);
	sb_printf(&s->out, "Connection: %s\r\n\r\n", s->close_after ? "close" : "keep-alive");
	if (blen && !s->head_req)
		sb_append(&s->out, body, blen);
	count_status(s, status, true);
}

static void respond_error(struct sess *s, int status)
{
	char body[96];

	snprintf(body, sizeof(body), "%d %s\n", status, http_reason(status));
	respond(s, status, "text/plain; charset=utf-8", body, NULL, true);
	s->phase = P_CLOSE;
}

static bool skip_req_header(const struct http_hdr *h)
{
	static const char *const hop[] = {
		"connection", "keep-alive", "proxy-connection", "upgrade", "te",
		"x-forwarded-for", "x-forwarded-proto", "x-forwarded-port",
	};

	for (size_t i = 0; i < sizeof(hop) / sizeof(hop[0]); i++)
		if (http_name_is(h, hop[i]))
			return true;
	return false;
}

static void build_upstream_head(struct sess *s, const struct http_msg *m)
{
	char ip[INET_ADDRSTRLEN];
	struct strbuf *o = &s->uout;
	bool xff = false;

	sb_reset(o);
	s->uout_off = 0;
	inet_ntop(AF_INET, &s->peer.sin_addr, ip, sizeof(ip));
	sb_append(o, m->method, m->method_len);
	sb_putc(o, ' ');
	sb_append(o, m->target, m->target_len);
	sb_printf(o, " HTTP/1.%d\r\n", m->minor);
	for (size_t i = 0; i < m->nhdr; i++) {
		const struct http_hdr *h = &m->hdr[i];

		if (http_name_is(h, "x-forwarded-for")) {
			sb_puts(o, xff ? ", " : "X-Forwarded-For: ");
			sb_append(o, h->value, h->value_len);
			xff = true;
			continue;
		}
		if (skip_req_header(h))
			continue;
		sb_append(o, h->name, h->name_len);
		sb_puts(o, ": ");
		sb_append(o, h->value, h->value_len);
		sb_puts(o, "\r\n");
	}
	/* RFC 7239 order: the existing list, then this hop's client */
	if (xff)
		sb_printf(o, ", %s\r\n", ip);
	else
		sb_printf(o, "X-Forwarded-For: %s\r\n", ip);
	sb_printf(o, "X-Forwarded-Proto: %s\r\nX-Forwarded-Port: %u\r\n\r\n",
		  s->https ? "https" : "http", s->lport);
}

static int start_upstream(struct sess *s, bool fresh)
{
	struct lb_worker *w = s->w;
	struct lb_uconn *u = fresh ? NULL : pool_get(w, s->t);
	int err = 0;

	s->u_reused = u != NULL;
	if (!u)
		u = uconn_connect(w, s->t, &err);
	if (!u)
		return err;
	u->s = s;
	if (s->u_reused)
		u->wr = true;
	s->u = u;
	sess_deadline(s, w->now + (u->connecting ? w->cfg->connect_timeout_ms : sess_idle_ms(s)));
	return 0;
}

/* A request head is in s->in: route it.  m points into s->in. */
static void sess_route(struct sess *s, const struct http_msg *m)
{
	struct lb_worker *w = s->w;
	const struct lb_listener *l = sess_listener(s);
	const struct lb_action *a;
	struct lb_reqctx rc;
	struct lb_tg *tg;
	struct lb_target *t;
	int r;

	s->head_req = m->method_len == 4 && memcmp(m->method, "HEAD", 4) == 0;
	s->client_ka = m->keep_alive;
	s->minor = m->minor;
	http_body_init(&s->reqb, m->body, m->content_length);
	if (!l) { /* listener removed since this connection was accepted */
		s->in.s += (uint32_t)m->head_len;
		respond_error(s, 503);
		return;
	}
	lb_atomic_add(&l->st->requests, 1);
	lb_reqctx_init(&rc, m, s->peer.sin_addr, s->https, s->lport);
	a = lb_rules_eval(l, &rc);
	if (a->type != LB_ACT_FORWARD) {
		bool body = !s->reqb.done;

		if (a->type == LB_ACT_FIXED) {
			respond(s, a->status, a->content_type, a->body, NULL, body);
		} else {
			struct strbuf loc = STRBUF_INIT;

			if (lb_redirect_location(a, &rc, &loc) < 0) {
				sb_free(&loc);
				s->in.s += (uint32_t)m->head_len;
				respond_error(s, 500);
				return;
			}
			respond(s, a->status, NULL, NULL, sb_cstr(&loc), body);
			sb_free(&loc);
		}
		s->in.s += (uint32_t)m->head_len;
		s->phase = s->close_after ? P_CLOSE : P_HEAD;
		s->head_started = false;
		return;
	}
	tg = lb_fwd_pick(a, xrand(w));
	t = tg ? lb_tg_pick(tg, addr_hash(&s->peer)) : NULL;
	if (!t) {
		if (tg)
			lb_atomic_add(&tg->st->no_target, 1);
		s->in.s += (uint32_t)m->head_len;
		respond_error(s, 503);
		return;
	}
	lb_atomic_add(&tg->st->requests, 1);
	lb_atomic_add(&t->requests, 1);
	lb_target_get(t);
	__atomic_add_fetch(&t->active, 1, __ATOMIC_ACQUIRE);
	s->t = t;
	build_upstream_head(s, m);
	s->in.s += (uint32_t)m->head_len;
	s->req_pending = 0;
	s->req_done = false;
	s->body_started = false;
	s->resp_head_done = false;
	s->resp_any = false;
	s->resp_pending = 0;
	s->retried = false;
	s->phase = P_FORWARD;
	if (sb_oom(&s->uout)) {
		sess_release_upstream(s, false);
		respond_error(s, 500);
		return;
	}
	r = start_upstream(s, false);
	if (r < 0) {
		log_debug("connect %s: %s", t->key, strerror(-r));
		sess_release_upstream(s, false);
		respond_error(s, 502);
	}
}

/* The target failed before the response was complete. */
static void up_fail(struct sess *s, int status)
{
	if (!s->resp_any && s->u_reused && !s->body_started && !s->retried) {
		/* a pooled connection the target had closed: once more, fresh */
		uconn_free(s->w, s->u);
		s->u = NULL;
		s->retried = true;
		s->uout_off = 0;
		if (start_upstream(s, true) == 0)
			return;
	}
	if (!s->resp_head_done && s->out.len == s->out_off) {
		sess_release_upstream(s, false);
		sb_reset(&s->out);
		s->out_off = 0;
		respond_error(s, status);
		return;
	}
	sess_release_upstream(s, false);
	s->phase = P_CLOSE;
	s->close_after = true;
	sb_reset(&s->out); /* truncated response: the client sees the close */
	s->out_off = 0;
}

static bool skip_resp_header(const struct http_hdr *h)
{
	return http_name_is(h, "connection") || http_name_is(h, "keep-alive") ||
	       http_name_is(h, "proxy-connection");
}

/* Parse the response head in u->in; false when more bytes are needed. */
static bool parse_response(struct sess *s)
{
	struct lb_uconn *u = s->u;
	struct http_msg *m = malloc(sizeof(*m));
	const struct http_limits lim = { BUF_SZ, HTTP_MAX_HEADERS_CAP };
	ssize_t r;

	if (!m) {
		up_fail(s, 502);
		return false;
	}
	r = http_parse_response(u->in.p + u->in.s, u->in.e - u->in.s, &lim, s->head_req, m);
	if (r == 0) {
		free(m);
		return false;
	}
	if (r < 0 || m->status == 101) {
		free(m);
		log_debug("target %s: malformed response", s->t->key);
		s->resp_any = true; /* not a stale pool connection: no retry */
		up_fail(s, 502);
		return false;
	}
	/* the status line, then headers but hop-by-hop ones */
	{
		const char *eol = memchr(u->in.p + u->in.s, '\r', (size_t)r);

		sb_append(&s->out, u->in.p + u->in.s, (size_t)(eol - (u->in.p + u->in.s)) + 2);
	}
	for (size_t i = 0; i < m->nhdr; i++) {
		if (skip_resp_header(&m->hdr[i]))
			continue;
		sb_append(&s->out, m->hdr[i].name, m->hdr[i].name_len);
		sb_puts(&s->out, ": ");
		sb_append(&s->out, m->hdr[i].value, m->hdr[i].value_len);
		sb_puts(&s->out, "\r\n");
	}
	u->in.s += (uint32_t)r;
	if (m->status >= 100 && m->status < 200) {
		sb_puts(&s->out, "\r\n"); /* interim (100 Continue): the final one follows */
		free(m);
		return true;
	}
	s->resp_ka = m->keep_alive;
	if (!s->client_ka || m->body == HTTP_BODY_EOF)
		s->close_after = true;
	if (s->close_after)
		sb_puts(&s->out, "Connection: close\r\n\r\n");
	else if (s->minor == 0)
		sb_puts(&s->out, "Connection: keep-alive\r\n\r\n");
	else
		sb_puts(&s->out, "\r\n");
	count_status(s, m->status, false);
	http_body_init(&s->respb, m->body, m->content_length);
	s->resp_head_done = true;
	free(m);
	return true;
}

static void sess_forward_done(struct sess *s)
{
	bool reuse = s->resp_ka && s->req_done && s->u && s->u->in.s == s->u->in.e;

	if (!s->req_done)
		s->close_after = true; /* the rest of the request body is unread */
	sess_release_upstream(s, reuse);
	s->head_started = false;
	s->phase = s->close_after ? P_CLOSE : P_HEAD;
	if (s->phase == P_HEAD)
		sess_deadline(s, s->w->now + sess_idle_ms(s));
}

/* Make all the progress possible; frees s when it is over. */
static void sess_run(struct sess *s)
{
	struct lb_worker *w = s->w;
	bool activity = false;

	for (int iter = 0; iter < 256; iter++) {
		bool prog = false;
		ssize_t n;

		if (s->phase == P_HANDSHAKE) {
			int r, e;

			if (!s->rd && !s->wr)
				break;
			ERR_clear_error();
			r = SSL_accept(s->ssl);
			if (r == 1) {
				s->phase = P_HEAD;
				prog = true;
			} else {
				e = SSL_get_error(s->ssl, r);
				if (e == SSL_ERROR_WANT_READ)
					s->rd = false;
				else if (e == SSL_ERROR_WANT_WRITE)
					s->wr = false;
				else
					goto dead;
				break;
			}
		}
		/* 1. bytes to the client: generated/response head, then body */
		while (s->wr && s->out_off < s->out.len) {
			n = c_write(s, s->out.p + s->out_off, s->out.len - s->out_off);
			if (n == -EAGAIN)
				break;
			if (n < 0)
				goto dead;
			s->out_off += (size_t)n;
			prog = true;
		}
		if (s->out_off == s->out.len && s->out.len) {
			sb_reset(&s->out);
			s->out_off = 0;
		}
		if (s->phase == P_FORWARD && s->resp_head_done && s->out.len == 0) {
			struct lb_uconn *u = s->u;

			while (s->wr && s->resp_pending) {
				n = c_write(s, u->in.p + u->in.s, (size_t)s->resp_pending);
				if (n == -EAGAIN)
					break;
				if (n < 0)
					goto dead;
				u->in.s += (uint32_t)n;
				s->resp_pending -= (uint64_t)n;
				prog = true;
			}
			buf_compact(&u->in);
		}
		/* 2. bytes to the target: request head, then body */
		if (s->phase == P_FORWARD && s->u && !s->u->connecting && s->u->wr) {
			struct lb_uconn *u = s->u;

			while (u->wr && s->uout_off < s->uout.len) {
				n = send(u->fd, s->uout.p + s->uout_off, s->uout.len - s->uout_off, MSG_NOSIGNAL);
				if (n < 0) {
					if (errno == EAGAIN) {
						u->wr = false;
						break;
					}
					up_fail(s, 502);
					goto next;
				}
				s->uout_off += (size_t)n;
				prog = true;
			}
			while (u->wr && s->uout_off == s->uout.len && s->req_pending) {
				n = send(u->fd, s->in.p + s->in.s, (size_t)s->req_pending, MSG_NOSIGNAL);
				if (n < 0) {
					if (errno == EAGAIN) {
						u->wr = false;
						break;
					}
					up_fail(s, 502);
					goto next;
				}
				s->body_started = true;
				s->in.s += (uint32_t)n;
				s->req_pending -= (uint64_t)n;
				prog = true;
			}
			if (s->uout_off == s->uout.len && !s->req_pending && s->reqb.done)
				s->req_done = true;
		}
		/* 3. read from the client */
		if (s->rd && (s->phase == P_HEAD || (s->phase == P_FORWARD && !s->reqb.done)) &&
		    buf_alloc(&s->in)) {
			buf_compact(&s->in);
			if (s->in.e < BUF_SZ) {
				n = c_read(s, s->in.p + s->in.e, BUF_SZ - s->in.e);
				if (n > 0) {
					s->in.e += (uint32_t)n;
					prog = true;
					activity = true;
					if (s->phase == P_HEAD && !s->head_started) {
						s->head_started = true;
						sess_deadline(s, w->now + w->cfg->header_timeout_ms);
					}
				} else if (n == 0 || (n < 0 && n != -EAGAIN)) {
					s->eof = true;
					s->rd = false;
					if (s->phase == P_HEAD && s->in.s == s->in.e)
						goto dead;
					if (s->phase == P_HEAD || n < 0) {
						goto dead;
					}
					/* EOF inside a request body: abandon the request */
					goto dead;
				}
			}
		}
		/* 4. read from the target */
		if (s->phase == P_FORWARD && s->u && s->u->rd && buf_alloc(&s->u->in)) {
			struct lb_uconn *u = s->u;

			buf_compact(&u->in);
			if (u->in.e < BUF_SZ) {
				n = read(u->fd, u->in.p + u->in.e, BUF_SZ - u->in.e);
				if (n > 0) {
					if ((size_t)n < BUF_SZ - u->in.e && !u->rdhup)
						u->rd = false;
					u->in.e += (uint32_t)n;
					s->resp_any = true;
					prog = true;
					activity = true;
				} else if (n < 0 && errno == EAGAIN) {
					u->rd = false;
				} else {
					/* EOF or error */
					u->rd = false;
					if (s->resp_head_done && s->respb.kind == HTTP_BODY_EOF && n == 0) {
						s->respb.done = true;
						s->resp_ka = false;
					} else if (!s->resp_head_done) {
						up_fail(s, 502);
						goto next;
					} else {
						goto dead; /* truncated response */
					}
				}
			}
		}
		/* 5. parse */
		if (s->phase == P_HEAD && s->in.e > s->in.s && s->out.len == 0) {
			struct http_msg *m = malloc(sizeof(*m));
			ssize_t r;

			if (!m)
				goto dead;
			r = http_parse_request(s->in.p + s->in.s, s->in.e - s->in.s, &w->cfg->limits, m);
			if (r > 0) {
				sess_route(s, m);
				prog = true;
			} else if (r < 0) {
				log_debug("client: bad request (%zd): %.*s", -r,
					  (int)(s->in.e - s->in.s > 200 ? 200 : s->in.e - s->in.s), s->in.p + s->in.s);
				s->client_ka = false;
				s->head_req = false;
				respond_error(s, (int)-r);
				s->in.s = s->in.e; /* nothing of it goes anywhere */
				prog = true;
			} else if (s->in.e - s->in.s >= BUF_SZ) {
				respond_error(s, 431);
				prog = true;
			}
			free(m);
		}
		if (s->phase == P_FORWARD && !s->reqb.done) {
			uint32_t from = s->in.s + (uint32_t)s->req_pending;

			if (s->in.e > from) {
				n = http_body_feed(&s->reqb, s->in.p + from, s->in.e - from);
				if (n < 0) {
					/* bad chunked framing mid-body: the target saw a
					 * partial request; both connections end */
					goto dead;
				}
				s->req_pending += (uint64_t)n;
				if (n)
					prog = true;
			}
		}
		if (s->phase == P_FORWARD && s->u && !s->resp_head_done && s->u->in.e > s->u->in.s) {
			if (parse_response(s))
				prog = true;
		}
		if (s->phase == P_FORWARD && s->resp_head_done && !s->respb.done) {
			struct lb_uconn *u = s->u;
			uint32_t from = u->in.s + (uint32_t)s->resp_pending;

			if (u->in.e > from) {
				n = http_body_feed(&s->respb, u->in.p + from, u->in.e - from);
				if (n < 0)
					goto dead;
				s->resp_pending += (uint64_t)n;
				if (n)
					prog = true;
			}
		}
		/* 6. the exchange is over when the response is out */
		if (s->phase == P_FORWARD && s->resp_head_done && s->respb.done && !s->resp_pending &&
		    s->out.len == 0) {
			if (s->u && s->u->in.s != s->u->in.e)
				s->resp_ka = false; /* bytes after the response: not reusable */
			sess_forward_done(s);
			prog = true;
		}
		if (s->phase == P_CLOSE && s->out.len == 0)
			goto dead;
next:
		if (s->phase == P_CLOSE && s->out.len == 0)
			goto dead;
		if (!prog)
			break;
	}
	if (activity && s->phase == P_FORWARD)
		sess_deadline(s, w->now + sess_idle_ms(s));
	return;
dead:
	sess_free(s);
}

static void sess_timer(struct wtimer *tm, uint64_t now)
{
	struct sess *s = (struct sess *)((char *)tm - offsetof(struct sess, tm));

	if (now < s->deadline) {
		wheel_add(&s->w->wh, &s->tm, s->deadline);
		return;
	}
	if (s->phase == P_HEAD && s->head_started) {
		s->client_ka = false;
		respond_error(s, 408);
		sess_deadline(s, now + 1000);
		sess_run(s);
		return;
	}
	if (s->phase == P_FORWARD && !s->resp_head_done && s->out.len == 0) {
		sess_release_upstream(s, false);
		respond_error(s, 504);
		sess_deadline(s, now + 1000);
		sess_run(s);
		return;
	}
	sess_free(s);
}

static void sess_new(struct lb_worker *w, int fd, const struct sockaddr_in *peer,
		     const struct wlisten *wl)
{
	struct sess *s = calloc(1, sizeof(*s));
	int one = 1;

	if (!s) {
		close(fd);
		return;
	}
	s->kind = K_CLIENT;
	s->w = w;
	s->fd = fd;
	s->peer = *peer;
	snprintf(s->lkey, sizeof(s->lkey), "%s", wl->key);
	s->https = wl->l->proto == LB_PROTO_HTTPS;
	s->lport = wl->l->port;
	s->rd = s->wr = true;
	s->client_ka = true;
	s->phase = P_HEAD;
	s->tm.fire = sess_timer;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (s->https) {
		s->ssl = SSL_new(wl->l->ssl);
		if (!s->ssl || SSL_set_fd(s->ssl, fd) != 1) {
			if (s->ssl)
				SSL_free(s->ssl);
			close(fd);
			free(s);
			return;
		}
		s->phase = P_HANDSHAKE;
	}
	if (ep_add(w, fd, s, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) < 0) {
		if (s->ssl)
			SSL_free(s->ssl);
		close(fd);
		free(s);
		return;
	}
	s->next = w->sessions;
	if (w->sessions)
		w->sessions->pprev = &s->next;
	w->sessions = s;
	s->pprev = &w->sessions;
	sess_deadline(s, w->now + (s->https ? w->cfg->header_timeout_ms : wl->l->idle_timeout_ms));
	sess_run(s);
}

/* ---- L4 ------------------------------------------------------------------------ */

static void l4_free(struct l4 *s)
{
	struct l4side *sd[2] = { &s->c, &s->u };

	wheel_del(&s->w->wh, &s->tm);
	for (int i = 0; i < 2; i++) {
		if (sd[i]->fd >= 0)
			close(sd[i]->fd);
		if (sd[i]->pipe[0] >= 0)
			close(sd[i]->pipe[0]);
		if (sd[i]->pipe[1] >= 0)
			close(sd[i]->pipe[1]);
	}
	if (s->t) {
		__atomic_sub_fetch(&s->t->active, 1, __ATOMIC_RELEASE);
		lb_target_put(s->t);
	}
	if (s->pprev) {
		*s->pprev = s->next;
		if (s->next)
			s->next->pprev = s->pprev;
	}
	s->c.kind = s->u.kind = 0;
	bury(s->w, s);
}

/* Move src -> pipe -> dst.  Returns 1 progress, 0 none, -1 dead. */
static int l4_dir(struct l4side *src, struct l4side *dst)
{
	int prog = 0;
	ssize_t n;

	if (!src->eof && src->rd && src->inpipe < PIPE_CAP) {
		n = splice(src->fd, NULL, src->pipe[1], NULL, PIPE_CAP - src->inpipe,
			   SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
		if (n > 0) {
			src->inpipe += (size_t)n;
			prog = 1;
		} else if (n == 0) {
			src->eof = true;
			prog = 1;
		} else if (errno == EAGAIN) {
			src->rd = false;
		} else {
			return -1;
		}
	}
	if (src->inpipe && dst->wr && !dst->connecting) {
		n = splice(src->pipe[0], NULL, dst->fd, NULL, src->inpipe,
			   SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
		if (n > 0) {
			src->inpipe -= (size_t)n;
			src->rd = true; /* the pipe had room again: retry the read side */
			prog = 1;
		} else if (n < 0 && errno == EAGAIN) {
			dst->wr = false;
		} else {
			return -1;
		}
	}
	if (src->eof && !src->inpipe && !dst->shut && !dst->connecting) {
		shutdown(dst->fd, SHUT_WR);
		dst->shut = true;
		prog = 1;
	}
	return prog;
}

static void l4_run(struct l4 *s)
{
	bool any = false;

	if (s->u.connecting) {
		int err = 0;
		socklen_t el = sizeof(err);

		if (!s->u.wr)
			return;
		if (getsockopt(s->u.fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err) {
			l4_free(s);
			return;
		}
		s->u.connecting = false;
	}
	for (int i = 0; i < 64; i++) {
		int a = l4_dir(&s->c, &s->u), b;

		if (a < 0)
			goto dead;
		b = l4_dir(&s->u, &s->c);
		if (b < 0)
			goto dead;
		if (!a && !b)
			break;
		any = true;
	}
	if (s->c.shut && s->u.shut)
		goto dead;
	if (any) {
		s->deadline = s->w->now + s->idle_ms;
		if (!wheel_armed(&s->tm))
			wheel_add(&s->w->wh, &s->tm, s->deadline);
	}
	return;
dead:
	l4_free(s);
}

static void l4_timer(struct wtimer *tm, uint64_t now)
{
	struct l4 *s = (struct l4 *)((char *)tm - offsetof(struct l4, tm));

	if (now < s->deadline) {
		wheel_add(&s->w->wh, &s->tm, s->deadline);
		return;
	}
	l4_free(s);
}

static void l4_new(struct lb_worker *w, int fd, const struct sockaddr_in *peer,
		   const struct wlisten *wl)
{
	struct l4 *s = calloc(1, sizeof(*s));
	const struct lb_action *a = &wl->l->def;
	struct lb_tg *tg;
	struct lb_target *t;
	int ufd;

	if (!s) {
		close(fd);
		return;
	}
	s->w = w;
	s->c.fd = fd;
	s->u.fd = -1;
	s->c.pipe[0] = s->c.pipe[1] = s->u.pipe[0] = s->u.pipe[1] = -1;
	s->c.kind = s->u.kind = K_L4;
	s->c.s = s->u.s = s;
	s->c.rd = s->c.wr = true;
	s->idle_ms = wl->l->idle_timeout_ms;
	s->tm.fire = l4_timer;
	lb_atomic_add(&wl->l->st->requests, 1);
	tg = lb_fwd_pick(a, xrand(w));
	t = tg ? lb_tg_pick(tg, addr_hash(peer)) : NULL;
	if (!t) {
		if (tg)
			lb_atomic_add(&tg->st->no_target, 1);
		goto fail;
	}
	lb_atomic_add(&tg->st->requests, 1);
	lb_atomic_add(&t->requests, 1);
	lb_target_get(t);
	__atomic_add_fetch(&t->active, 1, __ATOMIC_ACQUIRE);
	s->t = t;
	if (pipe2(s->c.pipe, O_NONBLOCK | O_CLOEXEC) < 0 || pipe2(s->u.pipe, O_NONBLOCK | O_CLOEXEC) < 0)
		goto fail;
	ufd = nsock_socket(w->lb->nsock, t->netns);
	if (ufd < 0)
		goto fail;
	s->u.fd = ufd;
	{
		int one = 1;

		/* passthrough: the client's own segmentation, no Nagle delay added */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		setsockopt(ufd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	if (connect(ufd, (const struct sockaddr *)&t->addr, sizeof(t->addr)) < 0) {
		if (errno != EINPROGRESS)
			goto fail;
		s->u.connecting = true;
	} else {
		s->u.wr = true;
	}
	if (ep_add(w, fd, &s->c, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) < 0 ||
	    ep_add(w, ufd, &s->u, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) < 0)
		goto fail;
	s->next = w->l4s;
	if (w->l4s)
		w->l4s->pprev = &s->next;
	w->l4s = s;
	s->pprev = &w->l4s;
	s->deadline = w->now + (s->u.connecting ? w->cfg->connect_timeout_ms : s->idle_ms);
	wheel_add(&w->wh, &s->tm, s->deadline);
	if (!s->u.connecting)
		l4_run(s);
	return;
fail:
	l4_free(s); /* NLB: the client sees a reset/close */
}

/* ---- listeners and the loop -------------------------------------------------------- */

static int listen_socket(const struct lb_listener *l)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&l->addr, sizeof(l->addr)) < 0 || listen(fd, 4096) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

static void reconcile(struct lb_worker *w)
{
	struct lb_config *cfg = lb_current(w->lb), *old = w->cfg;
	struct wlisten **pp;

	if (!cfg)
		return;
	for (pp = &w->wls; *pp;) {
		struct wlisten *wl = *pp;
		const struct lb_listener *l = NULL;

		for (size_t i = 0; i < cfg->nlisteners; i++)
			if (strcmp(cfg->listeners[i].key, wl->key) == 0)
				l = &cfg->listeners[i];
		if (l) {
			wl->l = l;
			pp = &wl->next;
		} else {
			*pp = wl->next;
			close(wl->fd);
			free(wl);
		}
	}
	for (size_t i = 0; i < cfg->nlisteners; i++) {
		const struct lb_listener *l = &cfg->listeners[i];
		struct wlisten *wl;
		int fd;

		for (wl = w->wls; wl; wl = wl->next)
			if (wl->l == l)
				break;
		if (wl)
			continue;
		fd = listen_socket(l);
		if (fd < 0) {
			log_err("worker %zu: listener %s: %s", w->idx, l->key, strerror(-fd));
			continue;
		}
		wl = calloc(1, sizeof(*wl));
		if (!wl) {
			close(fd);
			continue;
		}
		wl->kind = K_LISTEN;
		wl->fd = fd;
		wl->l = l;
		snprintf(wl->key, sizeof(wl->key), "%s", l->key);
		if (ep_add(w, fd, wl, EPOLLIN) < 0) {
			close(fd);
			free(wl);
			continue;
		}
		wl->next = w->wls;
		w->wls = wl;
	}
	w->cfg = cfg;
	lb_config_put(old);
}

static void do_accept(struct lb_worker *w, struct wlisten *wl)
{
	for (int i = 0; i < 64; i++) {
		struct sockaddr_in peer;
		socklen_t pl = sizeof(peer);
		int fd = accept4(wl->fd, (struct sockaddr *)&peer, &pl, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return;
		if (peer.sin_family != AF_INET) {
			close(fd);
			continue;
		}
		if (wl->l->proto == LB_PROTO_TCP)
			l4_new(w, fd, &peer, wl);
		else
			sess_new(w, fd, &peer, wl);
	}
}

static void *worker_main(void *arg)
{
	struct lb_worker *w = arg;
	struct epoll_event evs[256];

	w->now = lb_now_ms();
	wheel_init(&w->wh, w->now);
	reconcile(w);
	while (!__atomic_load_n(&w->lb->stop, __ATOMIC_RELAXED)) {
		int n = epoll_wait(w->epfd, evs, 256, w->wh.armed ? (int)WHEEL_TICK_MS : 1000);

		w->now = lb_now_ms();
		for (int i = 0; i < n; i++) {
			uint8_t kind = *(uint8_t *)evs[i].data.ptr;
			uint32_t e = evs[i].events;

			switch (kind) {
			case 0: /* closed earlier in this batch */
				break;
			case K_LISTEN:
				do_accept(w, evs[i].data.ptr);
				break;
			case K_NOTIFY: {
				uint64_t v;

				if (read(w->evfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
					log_warn("worker %zu: eventfd: %s", w->idx, strerror(errno));
				reconcile(w);
				break;
			}
			case K_CLIENT: {
				struct sess *s = evs[i].data.ptr;

				if (e & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP))
					s->rd = true;
				if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR))
					s->wr = true;
				if (e & (EPOLLRDHUP | EPOLLHUP))
					s->rdhup = true;
				if (s->ssl)
					s->rd = s->wr = true;
				sess_run(s);
				break;
			}
			case K_UP: {
				struct lb_uconn *u = evs[i].data.ptr;

				if (!u->s) { /* idle: the target closed it or sent junk */
					uconn_free(w, u);
					break;
				}
				if (e & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP))
					u->rd = true;
				if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR))
					u->wr = true;
				if (e & (EPOLLRDHUP | EPOLLHUP))
					u->rdhup = true;
				if (u->connecting && (e & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
					int err = 0;
					socklen_t el = sizeof(err);

					u->connecting = false;
					if (getsockopt(u->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err) {
						struct sess *s = u->s;

						log_debug("connect %s: %s", u->t->key, strerror(err));
						s->resp_any = false;
						up_fail(s, 502);
						sess_run(s);
						break;
					}
					sess_deadline(u->s, w->now + sess_idle_ms(u->s));
				}
				sess_run(u->s);
				break;
			}
			case K_L4: {
				struct l4side *sd = evs[i].data.ptr;

				if (e & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP))
					sd->rd = true;
				if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR))
					sd->wr = true;
				l4_run(sd->s);
				break;
			}
			}
		}
		graves_free(w);
		wheel_run(&w->wh, w->now);
		if (w->now - w->last_sweep >= 1000) {
			w->last_sweep = w->now;
			pool_sweep(w);
		}
	}
	while (w->sessions)
		sess_free(w->sessions);
	while (w->l4s)
		l4_free(w->l4s);
	while (w->idle)
		uconn_free(w, w->idle);
	while (w->wls) {
		struct wlisten *wl = w->wls;

		w->wls = wl->next;
		close(wl->fd);
		free(wl);
	}
	graves_free(w);
	free(w->graves);
	w->graves = NULL;
	lb_config_put(w->cfg);
	w->cfg = NULL;
	return NULL;
}

int lb_workers_start(struct lb *lb, size_t n)
{
	if (n == 0 || n > LB_MAX_WORKERS)
		return -EINVAL;
	lb->workers = calloc(n, sizeof(*lb->workers));
	if (!lb->workers)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct lb_worker *w = &lb->workers[i];
		int r;

		w->lb = lb;
		w->idx = i;
		w->rnd = 0x9e3779b9u * (uint32_t)(i + 1);
		w->notify_kind = K_NOTIFY;
		w->epfd = epoll_create1(EPOLL_CLOEXEC);
		w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (w->epfd < 0 || w->evfd < 0 || ep_add(w, w->evfd, &w->notify_kind, EPOLLIN) < 0)
			return -errno;
		r = -pthread_create(&w->th, NULL, worker_main, w);
		if (r < 0)
			return r;
		lb->nworkers = i + 1;
	}
	return 0;
}

void lb_workers_notify(struct lb *lb)
{
	uint64_t one = 1;

	for (size_t i = 0; i < lb->nworkers; i++)
		if (write(lb->workers[i].evfd, &one, sizeof(one)) < 0)
			log_warn("worker %zu: notify: %s", i, strerror(errno));
}

void lb_workers_stop(struct lb *lb)
{
	lb_workers_notify(lb);
	for (size_t i = 0; i < lb->nworkers; i++) {
		pthread_join(lb->workers[i].th, NULL);
		close(lb->workers[i].epfd);
		close(lb->workers[i].evfd);
	}
	free(lb->workers);
	lb->workers = NULL;
	lb->nworkers = 0;
}
