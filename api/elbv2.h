/* api/elbv2.h - the ELBv2 service (elasticloadbalancing, 2015-12-01) over
 * haneul-lb (docs/elbv2.md).
 *
 * Load balancers, target groups, listeners, rules and registered targets
 * live in the store; haneul-lb runs them.  After every change the whole
 * haneul-lb configuration is rebuilt from the store (inside the same
 * transaction) and applied atomically: a configuration haneul-lb refuses
 * rolls the change back.  elbv2_sync() (called by the fleet thread every
 * second) re-applies it when instance states changed, and restarts or
 * re-adopts haneul-lb. */
#ifndef API_ELBV2_H
#define API_ELBV2_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "api/api.h"
#include "api/lbsup.h"

#define ELB_ADDR_POOL "127.101.0.0/16" /* listener addresses ("public", loopback) */

struct elbv2 {
	struct api *api;
	struct lbsup lb;
	bool lb_enabled;          /* false: API only (unit tests, no binary) */
	pthread_mutex_t mu;       /* applied */
	char *applied;            /* the configuration haneul-lb last accepted */
	char netns[32];           /* the default VPC's namespace (api/ec2_net.c's name) */
};

struct elbv2_config {
	const char *lb_bin;       /* haneul-lb; NULL: do not run one */
	unsigned workers;
};

extern const struct api_service elbv2_service;

int elbv2_new(struct api *api, const struct elbv2_config *cfg);
void elbv2_free(struct api *api);

/* Rebuilds the configuration and applies it when it changed (or haneul-lb
 * was restarted).  Takes the store lock.  0 or -errno. */
int elbv2_sync(struct api *api);

/* For Auto Scaling: (de)register an instance with a target group by ARN,
 * inside the caller's write transaction (the caller syncs afterwards).
 * 0, -ENOENT (no such group) or -EIO. */
int elbv2_target_set(struct api *api, const char *tg_arn, const char *instance_id, bool registered);
/* Whether a target group exists (inside a transaction). */
bool elbv2_tg_exists(struct api *api, const char *tg_arn);

/* haneul-lb's health of instance id in target group tg_arn: "healthy",
 * "unhealthy", "initial", "draining", "unused" (into state, 16 bytes). 0 or -errno. */
int elbv2_target_state(struct api *api, const char *tg_arn, const char *instance_id, char state[16]);

/* haneul-lb's cumulative counters ({"cmd":"stats"}); *reply is put by the caller. */
int elbv2_stats(struct api *api, struct json_object **reply);
/* Name of a target group / load balancer from its ARN (inside a transaction),
 * and the "targetgroup/NAME/ID" dimension value CloudWatch uses. */
int elbv2_tg_name(struct api *api, const char *tg_arn, char *name, size_t n);

#endif
