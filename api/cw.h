/* api/cw.h - CloudWatch metrics (service "monitoring", 2010-08-01, query
 * protocol): haneul measures them itself and serves GetMetricStatistics and
 * ListMetrics (docs/asg.md).
 *
 *   AWS/EC2 CPUUtilization {InstanceId}          vCPU threads' CPU time plus run-queue
 *                                                 wait (schedstat) over wall time
 *   AWS/EC2 CPUUtilization {AutoScalingGroupName} mean over the group's
 *                                                 InService instances past warmup
 *   AWS/ApplicationELB (AWS/NetworkELB for NLBs) RequestCount {LoadBalancer},
 *       {TargetGroup, LoadBalancer}; RequestCountPerTarget {TargetGroup}
 *
 * One datapoint per metric per period (default 60 s, --metric-period / the
 * HANEUL_METRIC_PERIOD environment variable for labs), from differences of
 * the VMMs' and haneul-lb's cumulative counters. */
#ifndef API_CW_H
#define API_CW_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "api/api.h"

#define CW_MAX_INSTANCES 256
#define CW_KEEP_S (3 * 3600)

struct cw_inst_sample {
	char id[32];
	int64_t cpu_ns;      /* vCPU threads' CPU time + run-queue wait */
	int64_t wall_us;     /* the VMM's uptime_us */
	unsigned vcpus;
};

struct cw_count_sample {
	char key[200];       /* target group name */
	int64_t requests;
};

struct cw {
	struct api *api;
	unsigned period_s;
	time_t next;                            /* start of the next period to collect */
	struct cw_inst_sample inst[CW_MAX_INSTANCES];
	size_t n_inst;
	struct cw_count_sample tg[128];
	size_t n_tg;
};

extern const struct api_service cw_service;

int cw_new(struct api *api, unsigned period_s);
void cw_free(struct api *api);
/* Called about every second by the fleet thread: when a period ended,
 * collects one datapoint per metric and returns true. */
bool cw_tick(struct api *api, time_t now);

/* Inside a write transaction: one datapoint. dims is "Name=Value" pairs joined
 * by '&', sorted by name (cw_dims()). */
int cw_put(struct store *st, const char *ns, const char *metric, const char *dims, time_t ts, double value,
	   const char *unit);
/* The last n datapoints (newest first) of a metric into v; the count. Inside a transaction. */
int cw_latest(struct store *st, const char *ns, const char *metric, const char *dims, int n, double *v,
	      time_t *ts);

/* "2026-11-30T08:00:00Z", "...00.000Z", "+00:00" offsets, or seconds since the epoch.  0 or -EINVAL. */
int cw_parse_time(const char *s, time_t *out);

#endif
