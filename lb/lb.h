/* lb/lb.h - haneul-lb's shared model: the configuration snapshot (immutable
 * once applied, reference-counted, swapped atomically), the targets that
 * outlive snapshots (health, counters, draining, per-worker idle pools), and
 * the process context.  docs/lb.md describes the JSON schema and threads.
 *
 * Threads: main (control socket, drain bookkeeping), N workers (one epoll
 * loop each, SO_REUSEPORT listeners), one health checker, one socket factory
 * per network namespace (lb/nsock.h).  No mutable globals: everything hangs
 * off struct lb.
 */
#ifndef LB_LB_H
#define LB_LB_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lb/health.h"
#include "lb/http.h"

#define LB_MAX_WORKERS 64
#define LB_NAME_MAX    128

struct ssl_ctx_st;
struct lb_tg;
struct lb_uconn;

enum lb_proto { LB_PROTO_HTTP = 0, LB_PROTO_HTTPS, LB_PROTO_TCP };
enum lb_algo { LB_ALGO_ROUND_ROBIN = 0, LB_ALGO_SOURCE_HASH, LB_ALGO_LEAST_OUTSTANDING };

enum lb_cond_field {
	LB_COND_HOST = 0, LB_COND_PATH, LB_COND_HEADER, LB_COND_METHOD, LB_COND_QUERY,
	LB_COND_SOURCE_IP,
};

struct lb_cond {
	enum lb_cond_field field;
	char *header_name;  /* LB_COND_HEADER */
	size_t nvalues;
	char **values;      /* patterns; SOURCE_IP: "a.b.c.d/n" */
	char **keys;        /* LB_COND_QUERY: key pattern per value, NULL entry = any key */
};

enum lb_action_type { LB_ACT_FORWARD = 0, LB_ACT_REDIRECT, LB_ACT_FIXED };

struct lb_fwd_tg {
	struct lb_tg *tg;   /* points into the same snapshot */
	unsigned weight;    /* 0..999 as ALB */
};

struct lb_action {
	enum lb_action_type type;
	size_t ntg;
	struct lb_fwd_tg *tgs;
	unsigned total_weight;
	/* redirect: each NULL = "#{same}"; status 301/302 */
	char *r_protocol, *r_host, *r_port, *r_path, *r_query;
	/* fixed-response and redirect */
	int status;
	char *content_type, *body;
};

struct lb_rule {
	int priority;       /* 1..50000, lowest first */
	size_t nconds;
	struct lb_cond *conds;
	struct lb_action action;
};

struct lb_listener {
	char *lb_name;
	char *key;          /* "ADDR:PORT": a worker's listening socket identity */
	enum lb_proto proto;
	struct sockaddr_in addr;
	uint16_t port;
	char *cert, *keyfile;
	struct ssl_ctx_st *ssl;    /* HTTPS: owned by the snapshot */
	size_t nrules;
	struct lb_rule *rules;     /* sorted by priority */
	struct lb_action def;      /* default action */
	unsigned idle_timeout_ms;  /* the load balancer's idle timeout */
	struct lb_lbstat *st;      /* persistent counters of the load balancer */
};

/* Counters that live across snapshots (keyed by name in the registry). */
struct lb_lbstat {
	char *name;
	int refs;
	uint64_t requests, elb_4xx, elb_5xx, target_5xx, active_conns;
	struct lb_lbstat *next;
};

struct lb_tgstat {
	char *name;
	int refs;
	uint64_t requests, rr, no_target;
	struct lb_tgstat *next;
};

/* A registered target of one target group.  Reference-counted: the registry,
 * every snapshot listing it, every session using it and every pooled
 * connection to it hold one.  Health fields are written by the health thread
 * under lb->reg_lock; workers read `routable`/`state` atomically. */
struct lb_target {
	char *key;           /* "TG|IP:PORT|NETNS" */
	char *tg_name, *id, *netns; /* netns "" = host namespace */
	char ip[INET_ADDRSTRLEN];
	uint16_t port;
	struct sockaddr_in addr;
	int refs;            /* atomic */
	struct lb_hc hc;     /* copy of the group's settings (reg_lock) */
	struct lb_hstate hs; /* reg_lock */
	uint64_t next_check_ms; /* reg_lock */
	bool checking;       /* reg_lock */
	bool in_use;         /* some listener forwards to the group (reg_lock) */
	int state;           /* atomic copy of hs.state for workers */
	bool draining;       /* atomic */
	uint64_t drain_deadline_ms;
	uint64_t seen_gen;    /* last snapshot listing it (reg_lock) */
	unsigned dereg_delay_s;
	uint64_t requests;   /* atomic */
	int64_t active;      /* atomic: requests in flight */
	struct lb_uconn *idle[LB_MAX_WORKERS]; /* worker i only */
	struct lb_target *next; /* registry list */
};

struct lb_tg {
	char *name;
	enum lb_proto proto;
	uint16_t port;
	enum lb_algo algo;
	unsigned dereg_delay_s;
	struct lb_hc hc;
	size_t ntargets;
	struct lb_target **targets; /* references */
	struct lb_tgstat *st;
	bool in_use;
};

struct lb_config {
	int refs;           /* atomic */
	uint64_t gen;
	size_t nlisteners;
	struct lb_listener *listeners;
	size_t ntgs;
	struct lb_tg *tgs;
	unsigned header_timeout_ms;
	unsigned connect_timeout_ms;
	struct http_limits limits;
	char *json;         /* the document as applied (for get-config) */
};

struct lb_worker;
struct nsock;
struct lb_health_thread;

struct lb {
	pthread_mutex_t cfg_lock;   /* cfg pointer and its generation */
	struct lb_config *cfg;
	uint64_t gen;
	pthread_mutex_t reg_lock;   /* targets, stats lists */
	struct lb_target *targets;
	struct lb_tgstat *tgstats;
	struct lb_lbstat *lbstats;
	size_t nworkers;
	struct lb_worker *workers;
	struct lb_health_thread *health;
	struct nsock *nsock;
	int stop;                   /* atomic */
};

static inline uint64_t lb_atomic_add(uint64_t *p, uint64_t v)
{
	return __atomic_add_fetch(p, v, __ATOMIC_RELAXED);
}

/* config.c ------------------------------------------------------------- */

/* Parse and validate a configuration document.  Pure (no registry, files
 * or sockets): targets get fresh objects with refs = 1.  Returns a snapshot
 * (caller owns one reference) or NULL with a one-line reason in err. */
struct lb_config *lb_config_parse(const char *json, char *err, size_t errlen);

/* Make a parsed snapshot live-ready: load HTTPS certificates, swap its
 * targets/stats for the registry's objects with the same keys (so health,
 * counters and pools carry over), and start the socket factories of its
 * namespaces.  Then publish it, mark targets no longer present as draining,
 * and tell workers and the health thread.  0 or -errno with err set; on
 * error nothing changed. */
int lb_apply(struct lb *lb, struct lb_config *cfg, char *err, size_t errlen);

void lb_config_get(struct lb_config *cfg);
void lb_config_put(struct lb_config *cfg);
/* A reference to the current snapshot (NULL before the first apply). */
struct lb_config *lb_current(struct lb *lb);

void lb_target_put(struct lb_target *t);
static inline void lb_target_get(struct lb_target *t)
{
	__atomic_add_fetch(&t->refs, 1, __ATOMIC_RELAXED);
}

/* Main-thread housekeeping: finish draining targets whose in-flight count
 * reached 0 or whose delay ran out. */
void lb_drain_tick(struct lb *lb, uint64_t now_ms);

uint64_t lb_now_ms(void);

/* proxy.c: the workers. */
int lb_workers_start(struct lb *lb, size_t n);
void lb_workers_notify(struct lb *lb);  /* a new snapshot is published */
void lb_workers_stop(struct lb *lb);    /* after lb->stop is set */

/* Reports for the control socket (JSON text, malloc'd, caller frees). */
char *lb_health_report(struct lb *lb);
char *lb_stats_report(struct lb *lb);

void lb_registry_free(struct lb *lb);

#endif
