/* lb/health.c - target health: the state machine (pure) and the checker
 * thread (see health.h). */
#include "lb/health.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "lb/lb.h"
#include "lb/nsock.h"

void lb_hc_defaults(struct lb_hc *hc, bool network_lb)
{
	memset(hc, 0, sizeof(*hc));
	hc->enabled = true;
	hc->proto = network_lb ? LB_HC_TCP : LB_HC_HTTP;
	snprintf(hc->path, sizeof(hc->path), "/");
	hc->interval_ms = 30000;
	hc->timeout_ms = network_lb ? 10000 : 6000;
	hc->healthy_threshold = 5;
	hc->unhealthy_threshold = 2;
	hc->nmatch = 1;
	hc->match_lo[0] = 200;
	hc->match_hi[0] = network_lb ? 399 : 200;
}

static int parse_code(const char **p)
{
	int v = 0, n = 0;

	while (**p >= '0' && **p <= '9' && n < 4) {
		v = v * 10 + (**p - '0');
		(*p)++;
		n++;
	}
	return n == 3 && v >= 100 && v <= 599 ? v : -1;
}

int lb_hc_parse_matcher(struct lb_hc *hc, const char *s)
{
	size_t n = 0;
	const char *p = s;

	for (;;) {
		int lo = parse_code(&p), hi = lo;

		if (lo < 0)
			return -EINVAL;
		if (*p == '-') {
			p++;
			hi = parse_code(&p);
			if (hi < lo)
				return -EINVAL;
		}
		if (n >= LB_MATCHER_MAX)
			return -EINVAL;
		hc->match_lo[n] = (uint16_t)lo;
		hc->match_hi[n] = (uint16_t)hi;
		n++;
		if (*p == '\0')
			break;
		if (*p++ != ',')
			return -EINVAL;
	}
	hc->nmatch = n;
	return 0;
}

bool lb_hc_match(const struct lb_hc *hc, int code)
{
	for (size_t i = 0; i < hc->nmatch; i++)
		if (code >= hc->match_lo[i] && code <= hc->match_hi[i])
			return true;
	return false;
}

void lb_hstate_init(struct lb_hstate *hs, const struct lb_hc *hc)
{
	memset(hs, 0, sizeof(*hs));
	if (!hc->enabled) {
		hs->state = LB_TS_UNAVAILABLE;
		hs->reason = LB_R_HEALTH_CHECK_DISABLED;
		return;
	}
	hs->state = LB_TS_INITIAL;
	hs->reason = LB_R_REGISTRATION_IN_PROGRESS;
}

void lb_hstate_checking(struct lb_hstate *hs)
{
	if (hs->state == LB_TS_INITIAL && hs->reason == LB_R_REGISTRATION_IN_PROGRESS)
		hs->reason = LB_R_INITIAL_HEALTH_CHECKING;
}

static enum lb_hreason fail_reason(enum lb_hc_result r)
{
	switch (r) {
	case LB_HC_MISMATCH: return LB_R_RESPONSE_CODE_MISMATCH;
	case LB_HC_TIMEOUT:  return LB_R_TIMEOUT;
	default:             return LB_R_FAILED_HEALTH_CHECKS;
	}
}

bool lb_hstate_update(struct lb_hstate *hs, const struct lb_hc *hc, enum lb_hc_result r)
{
	enum lb_hstate_e before = hs->state;
	enum lb_hreason rbefore = hs->reason;

	if (hs->state == LB_TS_UNAVAILABLE || hs->state == LB_TS_DRAINING)
		return false;
	lb_hstate_checking(hs);
	if (r == LB_HC_OK) {
		hs->ok_streak++;
		hs->fail_streak = 0;
		if (hs->state != LB_TS_HEALTHY && hs->ok_streak >= hc->healthy_threshold) {
			hs->state = LB_TS_HEALTHY;
			hs->reason = LB_R_NONE;
		}
	} else {
		hs->fail_streak++;
		hs->ok_streak = 0;
		if (hs->state == LB_TS_UNHEALTHY)
			hs->reason = fail_reason(r); /* the latest cause */
		else if (hs->fail_streak >= hc->unhealthy_threshold) {
			hs->state = LB_TS_UNHEALTHY;
			hs->reason = fail_reason(r);
		}
	}
	return before != hs->state || rbefore != hs->reason;
}

const char *lb_hstate_name(enum lb_hstate_e s)
{
	static const char *const n[] = {
		[LB_TS_INITIAL] = "initial", [LB_TS_HEALTHY] = "healthy",
		[LB_TS_UNHEALTHY] = "unhealthy", [LB_TS_UNUSED] = "unused",
		[LB_TS_DRAINING] = "draining", [LB_TS_UNAVAILABLE] = "unavailable",
	};

	return (unsigned)s < sizeof(n) / sizeof(n[0]) ? n[s] : "unknown";
}

const char *lb_hreason_code(enum lb_hreason r)
{
	switch (r) {
	case LB_R_REGISTRATION_IN_PROGRESS:   return "Elb.RegistrationInProgress";
	case LB_R_INITIAL_HEALTH_CHECKING:    return "Elb.InitialHealthChecking";
	case LB_R_RESPONSE_CODE_MISMATCH:     return "Target.ResponseCodeMismatch";
	case LB_R_TIMEOUT:                    return "Target.Timeout";
	case LB_R_FAILED_HEALTH_CHECKS:       return "Target.FailedHealthChecks";
	case LB_R_NOT_REGISTERED:             return "Target.NotRegistered";
	case LB_R_NOT_IN_USE:                 return "Target.NotInUse";
	case LB_R_DEREGISTRATION_IN_PROGRESS: return "Target.DeregistrationInProgress";
	case LB_R_HEALTH_CHECK_DISABLED:      return "Target.HealthCheckDisabled";
	default:                              return NULL;
	}
}

const char *lb_hreason_description(enum lb_hreason r)
{
	switch (r) {
	case LB_R_REGISTRATION_IN_PROGRESS:   return "Target registration is in progress";
	case LB_R_INITIAL_HEALTH_CHECKING:    return "Initial health checks in progress";
	case LB_R_RESPONSE_CODE_MISMATCH:     return "Health checks failed with these codes";
	case LB_R_TIMEOUT:                    return "Request timed out";
	case LB_R_FAILED_HEALTH_CHECKS:       return "Health checks failed";
	case LB_R_NOT_REGISTERED:             return "Target is not registered to the target group";
	case LB_R_NOT_IN_USE:                 return "Target group is not configured to receive traffic from the load balancer";
	case LB_R_DEREGISTRATION_IN_PROGRESS: return "Target deregistration is in progress";
	case LB_R_HEALTH_CHECK_DISABLED:      return "Health checks disabled";
	default:                              return NULL;
	}
}

/* ---- checker thread ---------------------------------------------------- */

struct hcheck {
	struct lb_target *t;   /* reference */
	int fd;
	uint64_t deadline;
	bool connected;
	size_t sent, reqlen, got;
	char req[512];
	char resp[64];
	struct hcheck *next;
};

struct lb_health_thread {
	pthread_t th;
	int epfd;
	struct hcheck *checks;
};

static void hc_finish(struct lb *lb, struct hcheck *c, enum lb_hc_result r, int code)
{
	struct lb_target *t = c->t;

	pthread_mutex_lock(&lb->reg_lock);
	if (code)
		t->hs.last_code = code;
	if (lb_hstate_update(&t->hs, &t->hc, r))
		log_info("target %s: %s%s%s", t->key, lb_hstate_name(t->hs.state),
			 t->hs.reason ? " " : "", t->hs.reason ? lb_hreason_code(t->hs.reason) : "");
	__atomic_store_n(&t->state, (int)t->hs.state, __ATOMIC_RELAXED);
	t->checking = false;
	pthread_mutex_unlock(&lb->reg_lock);
	close(c->fd);
	c->fd = -1;
	lb_target_put(t);
	c->t = NULL;
}

/* Advance one check after a readiness event or a timeout.  Returns true
 * when the check is over. */
static bool hc_step(struct lb *lb, struct hcheck *c, uint64_t now)
{
	struct lb_target *t = c->t;
	ssize_t n;

	if (now >= c->deadline) {
		hc_finish(lb, c, LB_HC_TIMEOUT, 0);
		return true;
	}
	if (!c->connected) {
		int err = 0;
		socklen_t el = sizeof(err);

		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err) {
			hc_finish(lb, c, LB_HC_FAILED, 0);
			return true;
		}
		{
			struct sockaddr_in peer;
			socklen_t pl = sizeof(peer);

			if (getpeername(c->fd, (struct sockaddr *)&peer, &pl) < 0)
				return false; /* still connecting */
		}
		c->connected = true;
		if (t->hc.proto == LB_HC_TCP) {
			hc_finish(lb, c, LB_HC_OK, 0);
			return true;
		}
	}
	while (c->sent < c->reqlen) {
		n = send(c->fd, c->req + c->sent, c->reqlen - c->sent, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == ENOTCONN)
				return false;
			hc_finish(lb, c, LB_HC_FAILED, 0);
			return true;
		}
		c->sent += (size_t)n;
	}
	for (;;) {
		n = recv(c->fd, c->resp + c->got, sizeof(c->resp) - 1 - c->got, 0);
		if (n < 0) {
			if (errno == EAGAIN)
				return false;
			hc_finish(lb, c, LB_HC_FAILED, 0);
			return true;
		}
		c->got += (size_t)n;
		if (c->got >= 12 || n == 0)
			break;
	}
	c->resp[c->got] = '\0';
	if (c->got >= 12 && memcmp(c->resp, "HTTP/1.", 7) == 0 && c->resp[8] == ' ') {
		int code = atoi(c->resp + 9);

		hc_finish(lb, c, lb_hc_match(&t->hc, code) ? LB_HC_OK : LB_HC_MISMATCH, code);
	} else {
		hc_finish(lb, c, LB_HC_FAILED, 0);
	}
	return true;
}

/* Start a check of t (reg_lock held; t referenced for the check). */
static struct hcheck *hc_start(struct lb *lb, struct lb_target *t, uint64_t now)
{
	struct lb_health_thread *h = lb->health;
	struct hcheck *c = calloc(1, sizeof(*c));
	struct sockaddr_in sa = t->addr;
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLET };
	int fd;

	if (!c)
		return NULL;
	fd = nsock_socket(lb->nsock, t->netns);
	c->t = t;
	c->fd = fd;
	c->deadline = now + t->hc.timeout_ms;
	if (t->hc.port)
		sa.sin_port = htons(t->hc.port);
	c->reqlen = (size_t)snprintf(c->req, sizeof(c->req),
				     "GET %s HTTP/1.1\r\nHost: %s:%u\r\nUser-Agent: ELB-HealthChecker/2.0\r\n"
				     "Accept: */*\r\nConnection: close\r\n\r\n",
				     t->hc.path, t->ip, ntohs(sa.sin_port));
	lb_target_get(t);
	t->checking = true;
	lb_hstate_checking(&t->hs);
	if (fd < 0 || (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS)) {
		c->deadline = 0; /* fails on the first step */
		if (fd < 0) {
			c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0); /* placeholder to close */
		}
	}
	ev.data.ptr = c;
	if (c->fd >= 0 && c->deadline)
		epoll_ctl(h->epfd, EPOLL_CTL_ADD, c->fd, &ev);
	c->next = h->checks;
	h->checks = c;
	return c;
}

static void *health_main(void *arg)
{
	struct lb *lb = arg;
	struct lb_health_thread *h = lb->health;
	struct epoll_event evs[64];

	while (!__atomic_load_n(&lb->stop, __ATOMIC_RELAXED)) {
		int n = epoll_wait(h->epfd, evs, 64, 50);
		uint64_t now = lb_now_ms();
		struct hcheck **pp;

		for (int i = 0; i < n; i++) {
			struct hcheck *c = evs[i].data.ptr;

			if (c->t && hc_step(lb, c, now))
				c->deadline = 0;
		}
		/* due checks */
		pthread_mutex_lock(&lb->reg_lock);
		for (struct lb_target *t = lb->targets; t; t = t->next) {
			if (t->checking || !t->hc.enabled || t->draining || now < t->next_check_ms)
				continue;
			t->next_check_ms = now + t->hc.interval_ms;
			hc_start(lb, t, now);
		}
		pthread_mutex_unlock(&lb->reg_lock);
		/* timeouts and immediate failures; reap finished checks */
		for (pp = &h->checks; *pp;) {
			struct hcheck *c = *pp;

			if (c->t && now >= c->deadline)
				hc_step(lb, c, now);
			if (!c->t) {
				*pp = c->next;
				free(c);
			} else {
				pp = &c->next;
			}
		}
	}
	while (h->checks) {
		struct hcheck *c = h->checks;

		h->checks = c->next;
		if (c->t) {
			close(c->fd);
			pthread_mutex_lock(&lb->reg_lock);
			c->t->checking = false;
			pthread_mutex_unlock(&lb->reg_lock);
			lb_target_put(c->t);
		}
		free(c);
	}
	return NULL;
}

int lb_health_start(struct lb *lb)
{
	struct lb_health_thread *h = calloc(1, sizeof(*h));
	int r;

	if (!h)
		return -ENOMEM;
	h->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (h->epfd < 0) {
		r = -errno;
		free(h);
		return r;
	}
	lb->health = h;
	r = -pthread_create(&h->th, NULL, health_main, lb);
	if (r < 0) {
		close(h->epfd);
		free(h);
		lb->health = NULL;
	}
	return r;
}

void lb_health_stop(struct lb *lb)
{
	struct lb_health_thread *h = lb->health;

	if (!h)
		return;
	pthread_join(h->th, NULL);
	close(h->epfd);
	free(h);
	lb->health = NULL;
}
