/* lb/health.h - target health as ALB/NLB report it: settings, the pure state
 * machine (unit-tested in tests/unit/test_lb_health.c) and the checker
 * thread (lb/health.c) that runs HTTP/TCP checks from the target's network
 * namespace.
 *
 * States and reasons (DescribeTargetHealth words):
 *   initial    Elb.RegistrationInProgress (no check finished yet),
 *              Elb.InitialHealthChecking (checks running, threshold not met)
 *   healthy    (no reason)
 *   unhealthy  Target.ResponseCodeMismatch / Target.Timeout /
 *              Target.FailedHealthChecks (connection refused, reset, bad reply)
 *   unused     Target.NotInUse (no listener forwards to the group)
 *   draining   Target.DeregistrationInProgress
 *   unavailable Target.HealthCheckDisabled
 */
#ifndef LB_HEALTH_H
#define LB_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum lb_hc_proto { LB_HC_HTTP = 0, LB_HC_TCP, LB_HC_HTTPS };

#define LB_MATCHER_MAX 16

struct lb_hc {
	bool enabled;
	enum lb_hc_proto proto;
	uint16_t port;        /* 0 = traffic-port */
	char path[256];
	unsigned interval_ms, timeout_ms;
	unsigned healthy_threshold, unhealthy_threshold;
	size_t nmatch;
	uint16_t match_lo[LB_MATCHER_MAX], match_hi[LB_MATCHER_MAX];
};

enum lb_hstate_e {
	LB_TS_INITIAL = 0, LB_TS_HEALTHY, LB_TS_UNHEALTHY, LB_TS_UNUSED, LB_TS_DRAINING,
	LB_TS_UNAVAILABLE,
};

enum lb_hreason {
	LB_R_NONE = 0, LB_R_REGISTRATION_IN_PROGRESS, LB_R_INITIAL_HEALTH_CHECKING,
	LB_R_RESPONSE_CODE_MISMATCH, LB_R_TIMEOUT, LB_R_FAILED_HEALTH_CHECKS, LB_R_NOT_REGISTERED,
	LB_R_NOT_IN_USE, LB_R_DEREGISTRATION_IN_PROGRESS, LB_R_HEALTH_CHECK_DISABLED,
};

/* The outcome of one check. */
enum lb_hc_result { LB_HC_OK = 0, LB_HC_MISMATCH, LB_HC_TIMEOUT, LB_HC_FAILED };

struct lb_hstate {
	enum lb_hstate_e state;
	enum lb_hreason reason;
	unsigned ok_streak, fail_streak;
	int last_code;        /* last HTTP status seen (0 = none) */
};

/* Defaults of a target group by protocol (AWS-API.md §4). */
void lb_hc_defaults(struct lb_hc *hc, bool network_lb);

/* Matcher "200", "200,202", "200-299" (ALB syntax).  0 or -EINVAL. */
int lb_hc_parse_matcher(struct lb_hc *hc, const char *s);
bool lb_hc_match(const struct lb_hc *hc, int code);

/* A freshly registered target. */
void lb_hstate_init(struct lb_hstate *hs, const struct lb_hc *hc);
/* The first check started. */
void lb_hstate_checking(struct lb_hstate *hs);
/* Fold one check result in; returns true when the state changed. */
bool lb_hstate_update(struct lb_hstate *hs, const struct lb_hc *hc, enum lb_hc_result r);

const char *lb_hstate_name(enum lb_hstate_e s);
const char *lb_hreason_code(enum lb_hreason r);       /* NULL for none */
const char *lb_hreason_description(enum lb_hreason r);

/* Checker thread (health.c).  Started once; it walks lb->targets every
 * 50 ms and checks those that are due.  lb_health_stop joins it. */
struct lb;
int lb_health_start(struct lb *lb);
void lb_health_stop(struct lb *lb);

#endif
