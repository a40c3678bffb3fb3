/* api/asg.h - EC2 Auto Scaling (autoscaling, 2011-01-01) and the fleet
 * thread (docs/asg.md).
 *
 * The handlers only record what was asked (groups, desired capacity,
 * policies, protection) and wake the fleet thread.  The fleet thread, once a
 * second: keeps haneul-lb's configuration in step (elbv2_sync), collects
 * metrics when a period ended (cw_tick), and reconciles every group:
 * instance lifecycle (Pending -> InService -> Terminating), EC2 and ELB
 * health checks after the grace period, replacement, launching into the AZ
 * with the fewest instances, scale-in of the oldest unprotected instance of
 * the fullest AZ after its target groups drained it, target-tracking
 * evaluation, and the scaling activities with AWS's wording. */
#ifndef API_ASG_H
#define API_ASG_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "api/api.h"

#define ASG_MAX_GROUPS 20
#define ASG_MAX_SIZE 20             /* MaxSize (the host runs them all) */
#define ASG_HIGH_POINTS 3           /* target tracking: datapoints above target to scale out */
#define ASG_LOW_POINTS 15           /* ... below 90 % of target to scale in */

struct asg_config {
	bool run;                   /* start the fleet thread */
};

struct asg {
	struct api *api;
	pthread_t thread;
	bool running, stop;
	unsigned kicks;
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

extern const struct api_service asg_service;

int asg_new(struct api *api, const struct asg_config *cfg);
/* Starts the fleet thread (elbv2_sync, cw_tick, groups). 0 or -errno. */
int asg_start(struct api *api);
/* Stops the thread and frees api->asg (instances and haneul-lb keep running). */
void asg_free(struct api *api);
void asg_kick(struct api *api);

/* One reconcile round (the fleet thread's body; tests call it). */
void asg_round(struct api *api, time_t now, bool new_period);

/* Pure helpers (unit-tested). */
/* Target tracking: the capacity that brings metric (measured over n
 * instances) to target, ceil(n * metric / target), at least 0. */
int asg_tt_capacity(int n, double metric, double target);
/* Index of the AZ (of n, counts[i] instances each) to launch into: the fewest,
 * first in order on ties. */
int asg_pick_launch_az(const int *counts, int n);

struct asg_member {
	const char *az;
	long launched;
	bool protected_;
};
/* The instance to scale in: the oldest unprotected instance of the AZ with
 * the most instances (among AZs that have an unprotected one); -1 if none. */
int asg_pick_scale_in(const struct asg_member *m, int n);

#endif
