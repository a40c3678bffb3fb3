/* api/asg.c - EC2 Auto Scaling and the fleet thread (see asg.h). */
#include "api/asg.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>

#include <json-c/json.h>

#include "api/cw.h"
#include "api/ec2_int.h"
#include "api/jdoc.h"
#include "api/ec2_lt.h"
#include "api/elbv2.h"
#include "api/stubs.h"
#include "api/xml.h"
#include "common/log.h"

/* ---- pure helpers ------------------------------------------------------------------- */

int asg_tt_capacity(int n, double metric, double target)
{
	double c;

	if (target <= 0 || n < 0 || metric < 0)
		return n;
	c = ceil((double)n * metric / target - 1e-9);
	return c < 0 ? 0 : c > 1000 ? 1000 : (int)c;
}

int asg_pick_launch_az(const int *counts, int n)
{
	int best = -1;

	for (int i = 0; i < n; i++)
		if (best < 0 || counts[i] < counts[best])
			best = i;
	return best;
}

int asg_pick_scale_in(const struct asg_member *m, int n)
{
	int best_az = -1, best_count = -1, pick = -1;

	for (int i = 0; i < n; i++) {
		int cnt = 0;

		if (m[i].protected_)
			continue;
		for (int j = 0; j < n; j++)
			cnt += strcmp(m[j].az, m[i].az) == 0;
		if (cnt > best_count || (cnt == best_count && strcmp(m[i].az, m[best_az].az) < 0)) {
			best_count = cnt;
			best_az = i;
		}
	}
	if (best_az < 0)
		return -1;
	for (int i = 0; i < n; i++)
		if (!m[i].protected_ && strcmp(m[i].az, m[best_az].az) == 0 &&
		    (pick < 0 || m[i].launched < m[pick].launched))
			pick = i;
	return pick;
}

/* ---- helpers ------------------------------------------------------------------------ */

static int64_t now_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void uuid(char out[37])
{
	unsigned char b[16];

	if (getrandom(b, sizeof(b), 0) < 0)
		memset(b, 0x42, sizeof(b));
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
		 b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

static void iso_now(char out[32])
{
	time_t t = time(NULL);

	api_format_time(t, out);
}

static json_object *group_get(struct store *st, const char *name, int *err)
{
	sqlite3_stmt *s = store_prepare(st, "SELECT doc FROM asg_groups WHERE name = ?");
	json_object *o = NULL;
	int r;

	*err = 0;
	if (!s) {
		*err = -EIO;
		return NULL;
	}
	sqlite3_bind_text(s, 1, name ? name : "", -1, SQLITE_STATIC);
	r = sqlite3_step(s);
	if (r == SQLITE_ROW)
		o = json_tokener_parse(store_col(s, 0));
	else if (r != SQLITE_DONE)
		*err = -EIO;
	sqlite3_finalize(s);
	return o;
}

static int group_put(struct store *st, json_object *g)
{
	sqlite3_stmt *s = store_prepare(st, "INSERT INTO asg_groups(name, doc, created) VALUES (?1, ?2, ?3) "
					    "ON CONFLICT(name) DO UPDATE SET doc = ?2");
	int r;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, jstr(g, "name"), -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, json_object_to_json_string_ext(g, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE), -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 3, jint(g, "created", 0));
	r = sqlite3_step(s);
	sqlite3_finalize(s);
	return r == SQLITE_DONE ? 0 : -EIO;
}

/* A new activity (InProgress); id_out 37 bytes. */
static int activity_add(struct store *st, const char *grp, const char *desc, const char *cause, const char *status,
			int progress, char *id_out)
{
	sqlite3_stmt *s = store_prepare(st, "INSERT INTO asg_activities(id, grp, description, cause, start_ms, status, "
					    "progress) VALUES (?,?,?,?,?,?,?)");
	char id[37];
	int r;

	if (!s)
		return -EIO;
	uuid(id);
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, grp, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, desc, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, cause, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, now_ms());
	sqlite3_bind_text(s, 6, status, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 7, progress);
	r = sqlite3_step(s);
	sqlite3_finalize(s);
	if (id_out)
		memcpy(id_out, id, 37);
	return r == SQLITE_DONE ? 0 : -EIO;
}

static int activity_end(struct store *st, const char *id, const char *status, const char *msg)
{
	sqlite3_stmt *s;
	int r;

	if (!id || !*id)
		return 0;
	s = store_prepare(st, "UPDATE asg_activities SET status = ?, progress = 100, end_ms = ?, status_msg = ? "
			      "WHERE id = ? AND end_ms IS NULL");
	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, status, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, now_ms());
	sqlite3_bind_text(s, 3, msg, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, id, -1, SQLITE_STATIC);
	r = sqlite3_step(s);
	sqlite3_finalize(s);
	return r == SQLITE_DONE ? 0 : -EIO;
}

static int activity_status(struct store *st, const char *id, const char *status, int progress)
{
	sqlite3_stmt *s = store_prepare(st, "UPDATE asg_activities SET status = ?, progress = ? WHERE id = ? AND end_ms "
					    "IS NULL");
	int r;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, status, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, progress);
	sqlite3_bind_text(s, 3, id, -1, SQLITE_STATIC);
	r = sqlite3_step(s);
	sqlite3_finalize(s);
	return r == SQLITE_DONE ? 0 : -EIO;
}

/* Records why the desired capacity changed: the first sentence of the next
 * activities' causes ("At T a user request ... changing the desired capacity
 * from A to B."). */
static void set_desired(json_object *g, int desired, const char *why)
{
	char t[32], cause[600];
	int old = (int)jint(g, "desired", 0);

	iso_now(t);
	if (old != desired) {
		snprintf(cause, sizeof(cause), "At %s %s changing the desired capacity from %d to %d.", t, why, old,
			 desired);
		json_object_object_add(g, "cause", json_object_new_string(cause));
		json_object_object_add(g, "cause_from", json_object_new_int(old));
	}
	json_object_object_add(g, "desired", json_object_new_int(desired));
}

/* ---- internal EC2 calls ---------------------------------------------------------------- */

/* Runs an EC2 handler as the Auto Scaling service-linked role would.
 * params: "Key=Value" strings.  0 with the result XML in out, or -1 with
 * the error message in err. */
static int ec2_call(struct api *api, const char *action, int (*h)(struct api_req *), json_object *params,
		    struct strbuf *out, char *err, size_t errlen)
{
	struct api_req req;
	int r;

	memset(&req, 0, sizeof(req));
	req.api = api;
	req.svc = api_find_service(api, "ec2");
	req.action = action;
	query_init(&req.params);
	sb_init(&req.out);
	sb_init(&req.err_msg);
	snprintf(req.who.account, sizeof(req.who.account), "%s", api->account_id);
	snprintf(req.who.arn, sizeof(req.who.arn),
		 "arn:aws:iam::%s:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling",
		 api->account_id);
	snprintf(req.request_id, sizeof(req.request_id), "autoscaling");
	r = 0;
	json_object_object_foreach(params, k, v) {
		if (query_add(&req.params, k, json_object_get_string(v)))
			r = -1;
	}
	if (!r && req.svc)
		r = h(&req);
	else
		r = -1;
	if (r)
		snprintf(err, errlen, "%s: %s", req.err_code[0] ? req.err_code : "InternalError",
			 sb_cstr(&req.err_msg));
	else
		sb_append(out, req.out.p ? req.out.p : "", req.out.len);
	query_free(&req.params);
	sb_free(&req.out);
	sb_free(&req.err_msg);
	return r;
}

/* ---- reconcile ------------------------------------------------------------------------- */

struct member {
	char id[32], az[40], lifecycle[24], health[16], activity[40], ec2_state[24];
	long launched, in_service, drain_until;
	bool protected_, exists;
};

static int load_members(struct store *st, const char *grp, struct member *m, int max)
{
	sqlite3_stmt *s = store_prepare(st, "SELECT a.id, a.az, a.lifecycle, a.health, a.protected, a.launched, "
					    "a.in_service, a.drain_until, a.activity, i.state FROM asg_instances a "
					    "LEFT JOIN ec2_instances i ON i.id = a.id WHERE a.grp = ? ORDER BY a.launched");
	int n = 0;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, grp, -1, SQLITE_STATIC);
	while (n < max && sqlite3_step(s) == SQLITE_ROW) {
		struct member *x = &m[n++];

		memset(x, 0, sizeof(*x));
		snprintf(x->id, sizeof(x->id), "%s", store_col(s, 0));
		snprintf(x->az, sizeof(x->az), "%s", store_col(s, 1));
		snprintf(x->lifecycle, sizeof(x->lifecycle), "%s", store_col(s, 2));
		snprintf(x->health, sizeof(x->health), "%s", store_col(s, 3));
		x->protected_ = sqlite3_column_int(s, 4) != 0;
		x->launched = (long)sqlite3_column_int64(s, 5);
		x->in_service = (long)sqlite3_column_int64(s, 6);
		x->drain_until = (long)sqlite3_column_int64(s, 7);
		snprintf(x->activity, sizeof(x->activity), "%s", store_col(s, 8));
		x->exists = sqlite3_column_type(s, 9) != SQLITE_NULL;
		snprintf(x->ec2_state, sizeof(x->ec2_state), "%s", store_col(s, 9));
	}
	sqlite3_finalize(s);
	return n;
}

static int member_update(struct store *st, const struct member *x)
{
	sqlite3_stmt *s = store_prepare(st, "UPDATE asg_instances SET lifecycle = ?, health = ?, in_service = ?, "
					    "drain_until = ?, activity = ? WHERE id = ?");
	int r;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, x->lifecycle, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, x->health, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, x->in_service);
	sqlite3_bind_int64(s, 4, x->drain_until);
	sqlite3_bind_text(s, 5, x->activity, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, x->id, -1, SQLITE_STATIC);
	r = sqlite3_step(s);
	sqlite3_finalize(s);
	return r == SQLITE_DONE ? 0 : -EIO;
}

static void set_targets(struct api *api, json_object *g, const char *id, bool reg)
{
	json_object *tgs = jobj(g, "tgs");

	for (size_t i = 0; tgs && i < json_object_array_length(tgs); i++)
		elbv2_target_set(api, json_object_get_string(json_object_array_get_idx(tgs, i)), id, reg);
}

/* The group's longest deregistration delay (seconds). */
static long drain_delay(struct api *api, json_object *g)
{
	json_object *tgs = jobj(g, "tgs");
	long best = 0;

	for (size_t i = 0; tgs && i < json_object_array_length(tgs); i++) {
		sqlite3_stmt *s = store_prepare(&api->store, "SELECT doc FROM elb_res WHERE arn = ?");

		if (!s)
			continue;
		sqlite3_bind_text(s, 1, json_object_get_string(json_object_array_get_idx(tgs, i)), -1, SQLITE_STATIC);
		if (sqlite3_step(s) == SQLITE_ROW) {
			json_object *d = json_tokener_parse(store_col(s, 0));
			const char *v = jstr(jobj(d, "attrs"), "deregistration_delay.timeout_seconds");
			long x = v ? atol(v) : 300;

			best = x > best ? x : best;
			json_object_put(d);
		}
		sqlite3_finalize(s);
	}
	return best;
}

/* Starts taking x out of service: deregistered from the target groups, then
 * terminated once they drained it (reconcile). */
static void begin_terminate(struct api *api, json_object *g, struct member *x, const char *cause, time_t now)
{
	char desc[128], act[40] = "";

	snprintf(desc, sizeof(desc), "Terminating EC2 instance: %s", x->id);
	activity_add(&api->store, jstr(g, "name"), desc, cause, jobj(g, "tgs") && json_object_array_length(jobj(g, "tgs"))
				? "WaitingForELBConnectionDraining" : "InProgress", 50, act);
	set_targets(api, g, x->id, false);
	snprintf(x->lifecycle, sizeof(x->lifecycle), "Terminating");
	snprintf(x->activity, sizeof(x->activity), "%s", act);
	x->drain_until = (long)now + drain_delay(api, g);
	member_update(&api->store, x);
	log_info("asg: %s: terminating %s", jstr(g, "name"), x->id);
}

static void launch_one(struct api *api, json_object *g, const char *az, const char *subnet, int from, int to)
{
	struct store *st = &api->store;
	const char *name = jstr(g, "name");
	json_object *data = NULL, *params = json_object_new_object();
	char ltid[32], ltname[136], err[512] = "", cause[1200], desc[200], t[32], act[40], id[32] = "";
	struct strbuf out = STRBUF_INIT;
	int ver = 0, e;

	if (store_tx_begin(st, false)) {
		json_object_put(params);
		return;
	}
	e = ec2_lt_resolve(st, jstr(g, "lt_id"), jstr(g, "lt_name"), jstr(g, "lt_version"), ltid, ltname, &ver, &data);
	store_tx_end(st, false);
	if (!e) {
		json_object_object_foreach(data, k, v) {
			if (strncmp(k, "Placement.", 10) && strncmp(k, "NetworkInterface", 16))
				json_object_object_add(params, k, json_object_get(v));
		}
		json_object_object_add(params, "SubnetId", json_object_new_string(subnet));
		json_object_object_add(params, "MinCount", json_object_new_string("1"));
		json_object_object_add(params, "MaxCount", json_object_new_string("1"));
		if (ec2_call(api, "RunInstances", ec2_h_RunInstances, params, &out, err, sizeof(err)) == 0) {
			const char *p = strstr(sb_cstr(&out), "<instanceId>");

			if (p)
				snprintf(id, sizeof(id), "%.*s", (int)strcspn(p + 12, "<"), p + 12);
		}
	} else {
		snprintf(err, sizeof(err), "The launch template for the group could not be used (%s)",
			 e == -ENOENT ? "it does not exist" : "no such version");
	}
	iso_now(t);
	snprintf(cause, sizeof(cause), "%s%sAt %s an instance was started in response to a difference between desired "
		 "and actual capacity, increasing the capacity from %d to %d.", jstr(g, "cause") ? jstr(g, "cause") : "",
		 jstr(g, "cause") ? "  " : "", t, from, to);
	if (store_tx_begin(st, true) == 0) {
		if (*id) {
			sqlite3_stmt *s = store_prepare(st, "INSERT INTO asg_instances(id, grp, az, lifecycle, health, "
							    "protected, launched, lt_id, lt_version) VALUES (?,?,?,'Pending',"
							    "'Healthy',?,?,?,?)");
			char v[16];

			snprintf(v, sizeof(v), "%d", ver);
			snprintf(desc, sizeof(desc), "Launching a new EC2 instance: %s", id);
			activity_add(st, name, desc, cause, "PreInService", 30, act);
			if (s) {
				sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
				sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
				sqlite3_bind_text(s, 3, az, -1, SQLITE_STATIC);
				sqlite3_bind_int(s, 4, json_object_get_boolean(jobj(g, "protect_new")));
				sqlite3_bind_int64(s, 5, (int64_t)time(NULL));
				sqlite3_bind_text(s, 6, ltid, -1, SQLITE_STATIC);
				sqlite3_bind_text(s, 7, v, -1, SQLITE_STATIC);
				sqlite3_step(s);
				sqlite3_finalize(s);
			}
			store_exec(st, "UPDATE asg_instances SET activity = ? WHERE id = ?", act, id);
			store_exec(st, "INSERT OR REPLACE INTO ec2_tags(resource_id, key, value) VALUES (?, "
				     "'aws:autoscaling:groupName', ?)", id, name);
			log_info("asg: %s: launched %s in %s", name, id, az);
		} else {
			snprintf(desc, sizeof(desc), "Launching a new EC2 instance.  Status Reason: %.90s", err);
			activity_add(st, name, desc, cause, "Failed", 100, act);
			activity_end(st, act, "Failed", err);
			log_warn("asg: %s: launch failed: %s", name, err);
		}
		store_tx_end(st, true);
	}
	sb_free(&out);
	json_object_put(params);
	json_object_put(data);
}

static void terminate_ec2(struct api *api, const char *id)
{
	json_object *p = json_object_new_object();
	struct strbuf out = STRBUF_INIT;
	char err[256];

	json_object_object_add(p, "InstanceId.1", json_object_new_string(id));
	if (ec2_call(api, "TerminateInstances", ec2_h_TerminateInstances, p, &out, err, sizeof(err)))
		log_warn("asg: terminate %s: %s", id, err);
	sb_free(&out);
	json_object_put(p);
}

/* The group's subnets with their AZs. */
static int group_subnets(struct api *api, json_object *g, char (*sub)[40], char (*az)[40], int max)
{
	json_object *subs = jobj(g, "subnets");
	int n = 0;

	for (size_t i = 0; subs && i < json_object_array_length(subs) && n < max; i++) {
		sqlite3_stmt *s = store_prepare(&api->store, "SELECT az FROM ec2_subnets WHERE id = ?");

		if (!s)
			continue;
		sqlite3_bind_text(s, 1, json_object_get_string(json_object_array_get_idx(subs, i)), -1, SQLITE_STATIC);
		if (sqlite3_step(s) == SQLITE_ROW) {
			snprintf(sub[n], 40, "%s", json_object_get_string(json_object_array_get_idx(subs, i)));
			snprintf(az[n], 40, "%s", store_col(s, 0));
			n++;
		}
		sqlite3_finalize(s);
	}
	return n;
}

static long group_warmup(json_object *g, json_object *policy)
{
	long w = policy ? (long)jint(policy, "warmup", -1) : -1;

	if (w < 0)
		w = (long)jint(g, "warmup", -1);
	if (w < 0)
		w = (long)jint(g, "cooldown", 300);
	return w;
}

/* Group metrics and target tracking for a finished period. */
static void evaluate(struct api *api, json_object *g, struct member *m, int n, time_t now)
{
	struct store *st = &api->store;
	const char *name = jstr(g, "name");
	sqlite3_stmt *s;
	char dims[300];
	double sum = 0;
	int counted = 0, busy = 0;
	time_t ts = 0;

	/* ASG CPU: mean of the InService instances that finished warming up. */
	for (int i = 0; i < n; i++) {
		double v;
		time_t t;

		if (strcmp(m[i].lifecycle, "InService")) {
			busy += strcmp(m[i].lifecycle, "Pending") == 0;
			continue;
		}
		if (m[i].in_service + group_warmup(g, NULL) > now) {
			busy++;
			continue;
		}
		snprintf(dims, sizeof(dims), "InstanceId=%s", m[i].id);
		if (cw_latest(st, "AWS/EC2", "CPUUtilization", dims, 1, &v, &t) == 1 && now - t <= 3 * 60 * 60) {
			if (t > ts)
				ts = t;
			sum += v;
			counted++;
		}
	}
	snprintf(dims, sizeof(dims), "AutoScalingGroupName=%s", name);
	if (counted)
		cw_put(st, "AWS/EC2", "CPUUtilization", dims, ts, sum / counted, "Percent");

	s = store_prepare(st, "SELECT name, doc FROM asg_policies WHERE grp = ?");
	if (!s)
		return;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	while (sqlite3_step(s) == SQLITE_ROW) {
		json_object *p = json_tokener_parse(store_col(s, 1));
		const char *type = jstr(p, "type"), *mt = jstr(p, "metric");
		double v[ASG_LOW_POINTS], target = p ? json_object_get_double(jobj(p, "target")) : 0;
		int k, cap, desired = (int)jint(g, "desired", 0), nin = 0, newcap = -1;
		bool high = false, low = false;
		char why[400];

		if (!p || !type || strcmp(type, "TargetTrackingScaling") || !mt || target <= 0) {
			json_object_put(p);
			continue;
		}
		for (int i = 0; i < n; i++)
			nin += strcmp(m[i].lifecycle, "InService") == 0 && m[i].in_service + group_warmup(g, p) <= now;
		if (strcmp(mt, "ALBRequestCountPerTarget") == 0) {
			const char *rl = jstr(p, "label"), *tg = rl ? strstr(rl, "/targetgroup/") : NULL;

			snprintf(dims, sizeof(dims), "TargetGroup=%s", tg ? tg + 1 : "");
			k = cw_latest(st, "AWS/ApplicationELB", "RequestCountPerTarget", dims, ASG_LOW_POINTS, v, NULL);
		} else {
			snprintf(dims, sizeof(dims), "AutoScalingGroupName=%s", name);
			k = counted ? cw_latest(st, "AWS/EC2", "CPUUtilization", dims, ASG_LOW_POINTS, v, NULL) : 0;
		}
		if (k >= ASG_HIGH_POINTS) {
			high = true;
			for (int i = 0; i < ASG_HIGH_POINTS; i++)
				high = high && v[i] > target;
		}
		if (k >= ASG_LOW_POINTS) {
			low = true;
			for (int i = 0; i < ASG_LOW_POINTS; i++)
				low = low && v[i] < 0.9 * target;
		}
		cap = nin ? nin : desired;
		if (high) {
			newcap = asg_tt_capacity(cap, v[0], target);
			if (newcap > (int)jint(g, "max", 0))
				newcap = (int)jint(g, "max", 0);
			if (newcap <= desired)
				newcap = -1;
			snprintf(why, sizeof(why), "a monitor alarm TargetTracking-%s-AlarmHigh-%s in state ALARM triggered "
				 "policy %s", name, jstr(p, "alarm_id") ? jstr(p, "alarm_id") : "", jstr(p, "name"));
		} else if (low && !busy && !json_object_get_boolean(jobj(p, "disable_scale_in"))) {
			newcap = asg_tt_capacity(cap, v[0], target);
			if (newcap < (int)jint(g, "min", 0))
				newcap = (int)jint(g, "min", 0);
			if (newcap >= desired)
				newcap = -1;
			snprintf(why, sizeof(why), "a monitor alarm TargetTracking-%s-AlarmLow-%s in state ALARM triggered "
				 "policy %s", name, jstr(p, "alarm_id") ? jstr(p, "alarm_id") : "", jstr(p, "name"));
		}
		if (newcap >= 0) {
			log_info("asg: %s: policy %s: %s %.1f (target %.1f) -> desired %d -> %d", name, jstr(p, "name"),
				 mt, v[0], target, desired, newcap);
			set_desired(g, newcap, why);
			json_object_object_add(g, "last_scale", json_object_new_int64((int64_t)now));
			group_put(st, g);
		}
		json_object_put(p);
	}
	sqlite3_finalize(s);
}

static void reconcile_group(struct api *api, const char *name, json_object *health, time_t now, bool new_period)
{
	struct store *st = &api->store;
	struct member m[ASG_MAX_SIZE * 2 + 8];
	char subs[8][40], azs[8][40], t[32], cause[900];
	char (*to_terminate)[32] = NULL;
	int n, nsub, live = 0, desired, nterm = 0, err;
	json_object *g;

	(void)health;
	if (store_tx_begin(st, true))
		return;
	g = group_get(st, name, &err);
	if (!g) {
		store_tx_end(st, false);
		return;
	}
	n = load_members(st, name, m, (int)(sizeof(m) / sizeof(m[0])));
	nsub = group_subnets(api, g, subs, azs, 8);
	to_terminate = calloc((size_t)(n > 0 ? n : 1), 32);
	desired = (int)jint(g, "desired", 0);
	iso_now(t);
	for (int i = 0; i < n && to_terminate; i++) {
		struct member *x = &m[i];
		bool ec2_bad = !x->exists || !strcmp(x->ec2_state, "terminated") || !strcmp(x->ec2_state, "shutting-down") ||
			       !strcmp(x->ec2_state, "stopped") || !strcmp(x->ec2_state, "stopping");

		if (!strcmp(x->lifecycle, "Terminating")) {
			/* Drained (or the delay ran out): terminate; gone: done. */
			if (!x->exists || !strcmp(x->ec2_state, "terminated")) {
				activity_end(st, x->activity, "Successful", NULL);
				store_exec(st, "DELETE FROM asg_instances WHERE id = ?", x->id, NULL);
				continue;
			}
			if (strcmp(x->ec2_state, "shutting-down")) {
				bool draining = false;
				json_object *tgs = jobj(g, "tgs");

				for (size_t k = 0; tgs && k < json_object_array_length(tgs) && now < x->drain_until; k++) {
					char state[16];

					store_tx_end(st, true); /* haneul-lb is asked outside the lock */
					elbv2_target_state(api, json_object_get_string(json_object_array_get_idx(tgs, k)),
							   x->id, state);
					draining = draining || strcmp(state, "draining") == 0;
					if (store_tx_begin(st, true)) {
						free(to_terminate);
						json_object_put(g);
						return;
					}
				}
				if (!draining) {
					activity_status(st, x->activity, "InProgress", 75);
					snprintf(to_terminate[nterm++], 32, "%s", x->id);
				}
			}
			continue;
		}
		live++;
		if (!strcmp(x->lifecycle, "Pending") && !strcmp(x->ec2_state, "running")) {
			snprintf(x->lifecycle, sizeof(x->lifecycle), "InService");
			x->in_service = (long)now;
			set_targets(api, g, x->id, true);
			activity_end(st, x->activity, "Successful", NULL);
			x->activity[0] = '\0';
			member_update(st, x);
			continue;
		}
		/* Health checks. */
		if (ec2_bad && (strcmp(x->lifecycle, "Pending") || !x->exists || strcmp(x->ec2_state, "pending"))) {
			snprintf(x->health, sizeof(x->health), "Unhealthy");
			snprintf(cause, sizeof(cause), "At %s an instance was taken out of service in response to an EC2 "
				 "health check indicating it has been terminated or stopped.", t);
			activity_end(st, x->activity, "Failed", "The instance stopped before it was in service");
			begin_terminate(api, g, x, cause, now);
			live--;
			continue;
		}
		if (!strcmp(x->lifecycle, "InService") && strcmp(jstr(g, "hc_type"), "ELB") == 0 &&
		    x->in_service + jint(g, "grace", 0) <= now) {
			json_object *tgs = jobj(g, "tgs");
			bool bad = false;

			for (size_t k = 0; tgs && k < json_object_array_length(tgs) && health; k++) {
				json_object *hg = jobj(health, "target_groups");
				char tgname[160] = "";

				elbv2_tg_name(api, json_object_get_string(json_object_array_get_idx(tgs, k)), tgname,
					      sizeof(tgname));
				for (size_t a = 0; hg && a < json_object_array_length(hg); a++) {
					json_object *gg = json_object_array_get_idx(hg, a), *tl = jobj(gg, "targets");

					if (!jstr(gg, "name") || strcmp(jstr(gg, "name"), tgname))
						continue;
					for (size_t b = 0; tl && b < json_object_array_length(tl); b++) {
						json_object *tt = json_object_array_get_idx(tl, b);

						if (jstr(tt, "id") && !strcmp(jstr(tt, "id"), x->id) && jstr(tt, "state") &&
						    !strcmp(jstr(tt, "state"), "unhealthy"))
							bad = true;
					}
				}
			}
			if (bad) {
				snprintf(x->health, sizeof(x->health), "Unhealthy");
				snprintf(cause, sizeof(cause), "At %s an instance was taken out of service in response to "
					 "an ELB system health check failure.", t);
				begin_terminate(api, g, x, cause, now);
				live--;
				continue;
			}
		}
	}
	/* Capacity. */
	if (live > desired) {
		struct asg_member am[ASG_MAX_SIZE * 2 + 8];
		int idx[ASG_MAX_SIZE * 2 + 8], na = 0, from = live;

		while (live > desired) {
			int pick;

			na = 0;
			for (int i = 0; i < n; i++)
				if (strcmp(m[i].lifecycle, "Terminating")) {
					am[na] = (struct asg_member){ m[i].az, m[i].launched, m[i].protected_ };
					idx[na++] = i;
				}
			pick = asg_pick_scale_in(am, na);
			if (pick < 0)
				break; /* every instance is protected from scale-in */
			snprintf(cause, sizeof(cause), "%s%sAt %s an instance was taken out of service in response to a "
				 "difference between desired and actual capacity, shrinking the capacity from %d to %d.  "
				 "At %s instance %s was selected for termination.", jstr(g, "cause") ? jstr(g, "cause") : "",
				 jstr(g, "cause") ? "  " : "", t, from, desired, t, m[idx[pick]].id);
			begin_terminate(api, g, &m[idx[pick]], cause, now);
			live--;
		}
	}
	if (new_period)
		evaluate(api, g, m, n, now);
	desired = (int)jint(g, "desired", 0);
	store_tx_end(st, true);
	for (int i = 0; i < nterm; i++)
		terminate_ec2(api, to_terminate[i]);
	free(to_terminate);
	/* Launch what is missing, each into the AZ with the fewest instances. */
	if (live < desired && nsub > 0 && !jstr(g, "status")) {
		int counts[8] = { 0 }, from = live;

		for (int i = 0; i < n; i++)
			for (int k = 0; k < nsub; k++)
				if (strcmp(m[i].lifecycle, "Terminating") && !strcmp(m[i].az, azs[k]))
					counts[k]++;
		for (; live < desired; live++) {
			int k = asg_pick_launch_az(counts, nsub);

			launch_one(api, g, azs[k], subs[k], from, desired);
			counts[k]++;
		}
	}
	/* A group being deleted goes once its instances are gone. */
	if (jstr(g, "status") && n == 0 && store_tx_begin(st, true) == 0) {
		store_exec(st, "DELETE FROM asg_policies WHERE grp = ?", name, NULL);
		store_exec(st, "DELETE FROM asg_activities WHERE grp = ?", name, NULL);
		store_exec(st, "DELETE FROM asg_groups WHERE name = ?", name, NULL);
		store_tx_end(st, true);
		log_info("asg: %s deleted", name);
	}
	json_object_put(g);
}

void asg_round(struct api *api, time_t now, bool new_period)
{
	struct store *st = &api->store;
	char names[ASG_MAX_GROUPS][256];
	int n = 0;
	json_object *health = NULL;
	sqlite3_stmt *s;

	if (store_tx_begin(st, false))
		return;
	s = store_prepare(st, "SELECT name FROM asg_groups ORDER BY created");
	while (s && n < ASG_MAX_GROUPS && sqlite3_step(s) == SQLITE_ROW)
		snprintf(names[n++], sizeof(names[0]), "%s", store_col(s, 0));
	sqlite3_finalize(s);
	store_tx_end(st, false);
	if (n && api->elbv2 && api->elbv2->lb_enabled &&
	    lbsup_call(&api->elbv2->lb, "{\"cmd\":\"health\"}", 3000, &health)) {
		json_object_put(health);
		health = NULL;
	}
	for (int i = 0; i < n; i++)
		reconcile_group(api, names[i], health, now, new_period);
	json_object_put(health);
}

static void *fleet_main(void *arg)
{
	struct asg *a = arg;
	struct api *api = a->api;

	log_info("fleet: thread started (metric period %u s)", api->cw ? api->cw->period_s : 0);
	for (;;) {
		struct timespec dl;
		time_t now;
		bool np;

		pthread_mutex_lock(&a->mu);
		if (a->stop) {
			pthread_mutex_unlock(&a->mu);
			break;
		}
		a->kicks = 0;
		pthread_mutex_unlock(&a->mu);
		now = time(NULL);
		np = cw_tick(api, now);
		asg_round(api, now, np);
		elbv2_sync(api);
		pthread_mutex_lock(&a->mu);
		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_sec += 1;
		while (!a->stop && !a->kicks)
			if (pthread_cond_timedwait(&a->cv, &a->mu, &dl) == ETIMEDOUT)
				break;
		pthread_mutex_unlock(&a->mu);
	}
	return NULL;
}

void asg_kick(struct api *api)
{
	struct asg *a = api->asg;

	if (!a)
		return;
	pthread_mutex_lock(&a->mu);
	a->kicks++;
	pthread_cond_signal(&a->cv);
	pthread_mutex_unlock(&a->mu);
}

/* ---- the API ------------------------------------------------------------------------------ */

static int int_param(struct api_req *req, const char *name, long lo, long hi, long *out)
{
	const char *v = api_param(req, name);
	char *end;
	long x;

	if (!v)
		return 0;
	errno = 0;
	x = strtol(v, &end, 10);
	if (!*v || *end || errno || x < lo || x > hi)
		return api_error(req, 400, "ValidationError", "1 validation error detected: Value '%s' at '%s' failed "
				 "to satisfy constraint: Member must have value between %ld and %ld", v, name, lo, hi);
	*out = x;
	return 0;
}

static json_object *str_list(struct api_req *req, const char *prefix)
{
	unsigned *idx = NULL;
	int n = query_list_indices(&req->params, prefix, &idx);
	json_object *a = json_object_new_array();

	for (int i = 0; i < n; i++) {
		const char *v = query_list_get(&req->params, prefix, idx[i], NULL);

		if (v)
			json_object_array_add(a, json_object_new_string(v));
	}
	free(idx);
	return a;
}

static bool asg_name_ok(const char *n)
{
	size_t l = n ? strlen(n) : 0;

	if (l < 1 || l > 255)
		return false;
	for (size_t i = 0; i < l; i++)
		if ((unsigned char)n[i] < 0x20 || n[i] == ':')
			return false;
	return true;
}

/* Group settings from the request onto g (create: all, update: those given).
 * -1 after an error (inside the caller's write transaction). */
static int apply_settings(struct api_req *req, json_object *g, bool create)
{
	struct store *st = &req->api->store;
	long min = jint(g, "min", 0), max = jint(g, "max", 0), desired = jint(g, "desired", -1),
	     cooldown = jint(g, "cooldown", 300), grace = jint(g, "grace", 0), warmup = jint(g, "warmup", -1);
	const char *hct = api_param(req, "HealthCheckType"), *vpcz = api_param(req, "VPCZoneIdentifier"),
		   *ltid = api_param(req, "LaunchTemplate.LaunchTemplateId"),
		   *ltname = api_param(req, "LaunchTemplate.LaunchTemplateName"),
		   *ltver = api_param(req, "LaunchTemplate.Version"), *pn = api_param(req, "NewInstancesProtectedFromScaleIn");
	bool desired_given = api_param(req, "DesiredCapacity") != NULL;
	json_object *tgs, *azs;
	unsigned *tmp = NULL;

	if (int_param(req, "MinSize", 0, ASG_MAX_SIZE, &min) || int_param(req, "MaxSize", 0, ASG_MAX_SIZE, &max) ||
	    int_param(req, "DesiredCapacity", 0, ASG_MAX_SIZE, &desired) ||
	    int_param(req, "DefaultCooldown", 0, 86400, &cooldown) ||
	    int_param(req, "HealthCheckGracePeriod", 0, 86400, &grace) ||
	    int_param(req, "DefaultInstanceWarmup", -1, 86400, &warmup))
		return -1;
	if (create && (!api_param(req, "MinSize") || !api_param(req, "MaxSize")))
		return api_error(req, 400, "ValidationError", "MinSize and MaxSize are required");
	if (min > max)
		return api_error(req, 400, "ValidationError", "Max bound, %ld, must be greater than or equal to min bound, "
				 "%ld", max, min);
	if (!desired_given && (create || desired < min || desired > max))
		desired = desired < min ? min : desired > max ? max : desired;
	if (desired < min || desired > max)
		return api_error(req, 400, "ValidationError", "Desired capacity:%ld must be between the specified min "
				 "size:%ld and max size:%ld", desired, min, max);
	if (hct) {
		if (strcmp(hct, "EC2") && strcmp(hct, "ELB"))
			return api_error(req, 400, "ValidationError", "Health check type '%s' is not valid (EC2 or ELB)", hct);
		json_object_object_add(g, "hc_type", json_object_new_string(hct));
	} else if (create) {
		json_object_object_add(g, "hc_type", json_object_new_string("EC2"));
	}
	if (ltid || ltname) {
		char id[32], name[136];
		json_object *data = NULL;
		int ver, e = ec2_lt_resolve(st, ltid, ltname, ltver, id, name, &ver, &data);

		json_object_put(data);
		if (e == -EIO)
			return api_internal(req);
		if (e)
			return api_error(req, 400, "ValidationError", "You must use a valid fully-formed launch template. "
					 "The specified launch template, with template %s %s, does not exist.",
					 ltid ? "ID" : "name", ltid ? ltid : ltname);
		json_object_object_add(g, "lt_id", json_object_new_string(id));
		json_object_object_add(g, "lt_name", json_object_new_string(name));
		json_object_object_add(g, "lt_version", json_object_new_string(ltver ? ltver : "$Default"));
	} else if (create) {
		if (api_param(req, "LaunchConfigurationName") || api_param(req, "MixedInstancesPolicy.LaunchTemplate."
									      "LaunchTemplateSpecification.LaunchTemplateName"))
			return api_error(req, 400, "ValidationError", "haneul supports launch templates only "
					 "(LaunchTemplate.LaunchTemplateName or LaunchTemplateId)");
		return api_error(req, 400, "ValidationError", "Valid requests must contain either LaunchTemplate, "
				 "LaunchConfigurationName, InstanceId or MixedInstancesPolicy parameter.");
	}
	if (vpcz) {
		json_object *subs = json_object_new_array();
		char *copy = strdup(vpcz), *save = NULL;

		azs = json_object_new_array();
		for (char *tok = copy ? strtok_r(copy, ", ", &save) : NULL; tok; tok = strtok_r(NULL, ", ", &save)) {
			sqlite3_stmt *s = store_prepare(st, "SELECT az FROM ec2_subnets WHERE id = ?");
			bool ok = false;

			if (s) {
				sqlite3_bind_text(s, 1, tok, -1, SQLITE_STATIC);
				if (sqlite3_step(s) == SQLITE_ROW) {
					ok = true;
					json_object_array_add(azs, json_object_new_string(store_col(s, 0)));
				}
				sqlite3_finalize(s);
			}
			if (!ok) {
				api_error(req, 400, "ValidationError", "The subnet ID '%s' does not exist", tok);
				free(copy);
				json_object_put(subs);
				json_object_put(azs);
				return -1;
			}
			json_object_array_add(subs, json_object_new_string(tok));
		}
		free(copy);
		if (json_object_array_length(subs) == 0 || json_object_array_length(subs) > 8) {
			json_object_put(subs);
			json_object_put(azs);
			return api_error(req, 400, "ValidationError", "VPCZoneIdentifier needs 1..8 subnets");
		}
		json_object_object_add(g, "subnets", subs);
		json_object_object_add(g, "azs", azs);
	} else if (create) {
		/* AvailabilityZones: the default subnets of those zones. */
		json_object *want = str_list(req, "AvailabilityZones.member"), *subs = json_object_new_array();

		azs = json_object_new_array();
		for (size_t i = 0; i < json_object_array_length(want); i++) {
			sqlite3_stmt *s = store_prepare(st, "SELECT id FROM ec2_subnets WHERE az = ? AND default_for_az = 1");

			if (s) {
				sqlite3_bind_text(s, 1, json_object_get_string(json_object_array_get_idx(want, i)), -1,
						  SQLITE_STATIC);
				if (sqlite3_step(s) == SQLITE_ROW) {
					json_object_array_add(subs, json_object_new_string(store_col(s, 0)));
					json_object_array_add(azs, json_object_get(json_object_array_get_idx(want, i)));
				}
				sqlite3_finalize(s);
			}
		}
		json_object_put(want);
		if (json_object_array_length(subs) == 0) {
			json_object_put(subs);
			json_object_put(azs);
			return api_error(req, 400, "ValidationError", "At least one Availability Zone or VPC Subnet is "
					 "required.");
		}
		json_object_object_add(g, "subnets", subs);
		json_object_object_add(g, "azs", azs);
	}
	if (query_list_indices(&req->params, "TargetGroupARNs.member", &tmp) > 0 || create) {
		tgs = str_list(req, "TargetGroupARNs.member");
		for (size_t i = 0; i < json_object_array_length(tgs); i++)
			if (!elbv2_tg_exists(req->api, json_object_get_string(json_object_array_get_idx(tgs, i)))) {
				api_error(req, 400, "ValidationError", "Provided Target Groups may not be valid. Please ensure "
					  "they exist and try again: %s",
					  json_object_get_string(json_object_array_get_idx(tgs, i)));
				json_object_put(tgs);
				free(tmp);
				return -1;
			}
		json_object_object_add(g, "tgs", tgs);
	}
	free(tmp);
	if (pn)
		json_object_object_add(g, "protect_new", json_object_new_boolean(strcmp(pn, "true") == 0));
	json_object_object_add(g, "min", json_object_new_int((int)min));
	json_object_object_add(g, "max", json_object_new_int((int)max));
	json_object_object_add(g, "cooldown", json_object_new_int((int)cooldown));
	json_object_object_add(g, "grace", json_object_new_int((int)grace));
	json_object_object_add(g, "warmup", json_object_new_int((int)warmup));
	if (create) {
		json_object_object_add(g, "desired", json_object_new_int(0));
		set_desired(g, (int)desired, "a user request created an AutoScalingGroup");
	} else if (desired != jint(g, "desired", 0)) {
		char why[200];

		snprintf(why, sizeof(why), "a user request update of AutoScalingGroup constraints to min: %ld, max: %ld, "
			 "desired: %ld", min, max, desired);
		set_desired(g, (int)desired, why);
	}
	return 0;
}

static int h_create_group(struct api_req *req)
{
	struct store *st = &req->api->store;
	const char *name = api_param_required(req, "AutoScalingGroupName");
	json_object *g, *old;
	char arn[400], id[37];
	int err, cnt = 0;
	sqlite3_stmt *s;

	if (!name)
		return -1;
	if (!asg_name_ok(name))
		return api_error(req, 400, "ValidationError", "AutoScalingGroupName must be 1..255 characters without ':'");
	if (store_tx_begin(st, true))
		return api_internal(req);
	old = group_get(st, name, &err);
	if (old || err) {
		json_object_put(old);
		store_tx_end(st, false);
		return err ? api_internal(req) : api_error(req, 400, "AlreadyExists", "AutoScalingGroup by this name "
							  "already exists - A group with the name %s already exists", name);
	}
	s = store_prepare(st, "SELECT count(*) FROM asg_groups");
	if (s && sqlite3_step(s) == SQLITE_ROW)
		cnt = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	if (cnt >= ASG_MAX_GROUPS) {
		store_tx_end(st, false);
		return api_error(req, 400, "LimitExceeded", "You have reached your quota of %d Auto Scaling groups",
				 ASG_MAX_GROUPS);
	}
	g = json_object_new_object();
	uuid(id);
	snprintf(arn, sizeof(arn), "arn:aws:autoscaling:%s:%s:autoScalingGroup:%s:autoScalingGroupName/%s",
		 req->api->region, req->api->account_id, id, name);
	json_object_object_add(g, "name", json_object_new_string(name));
	json_object_object_add(g, "arn", json_object_new_string(arn));
	json_object_object_add(g, "created", json_object_new_int64((int64_t)req->api->now()));
	if (apply_settings(req, g, true) || group_put(st, g)) {
		if (!req->err_status)
			api_internal(req);
		store_tx_end(st, false);
		json_object_put(g);
		return -1;
	}
	json_object_put(g);
	if (store_tx_end(st, true))
		return api_internal(req);
	asg_kick(req->api);
	return 0;
}

/* Loads the group of AutoScalingGroupName inside a write/read transaction;
 * NULL after an error (transaction ended). */
static json_object *group_of(struct api_req *req, bool write)
{
	struct store *st = &req->api->store;
	const char *name = api_param_required(req, "AutoScalingGroupName");
	json_object *g;
	int err;

	if (!name)
		return NULL;
	if (store_tx_begin(st, write)) {
		api_internal(req);
		return NULL;
	}
	g = group_get(st, name, &err);
	if (!g) {
		store_tx_end(st, false);
		if (err)
			api_internal(req);
		else
			api_error(req, 400, "ValidationError", "AutoScalingGroup name not found - no such group: %s", name);
	}
	return g;
}

static int save_and_kick(struct api_req *req, json_object *g)
{
	struct store *st = &req->api->store;

	if (group_put(st, g)) {
		store_tx_end(st, false);
		json_object_put(g);
		return api_internal(req);
	}
	json_object_put(g);
	if (store_tx_end(st, true))
		return api_internal(req);
	asg_kick(req->api);
	return 0;
}

static int h_update_group(struct api_req *req)
{
	json_object *g = group_of(req, true);

	if (!g)
		return -1;
	if (jstr(g, "status")) {
		store_tx_end(&req->api->store, false);
		json_object_put(g);
		return api_error(req, 400, "ScalingActivityInProgress", "The group is being deleted");
	}
	if (apply_settings(req, g, false)) {
		if (!req->err_status)
			api_internal(req);
		store_tx_end(&req->api->store, false);
		json_object_put(g);
		return -1;
	}
	return save_and_kick(req, g);
}

static int h_set_desired(struct api_req *req)
{
	json_object *g = group_of(req, true);
	long d = -1;
	const char *hc = api_param(req, "HonorCooldown");

	if (!g)
		return -1;
	if (!api_param(req, "DesiredCapacity") || int_param(req, "DesiredCapacity", 0, 100000, &d)) {
		if (!req->err_status)
			api_error(req, 400, "ValidationError", "DesiredCapacity is required");
		goto fail;
	}
	if (d > jint(g, "max", 0)) {
		api_error(req, 400, "ValidationError", "New SetDesiredCapacity value %ld is above max value %d for the "
			  "AutoScalingGroup.", d, (int)jint(g, "max", 0));
		goto fail;
	}
	if (d < jint(g, "min", 0)) {
		api_error(req, 400, "ValidationError", "New SetDesiredCapacity value %ld is below min value %d for the "
			  "AutoScalingGroup.", d, (int)jint(g, "min", 0));
		goto fail;
	}
	if (hc && strcmp(hc, "true") == 0 && jint(g, "last_scale", 0) + jint(g, "cooldown", 300) > req->api->now()) {
		api_error(req, 400, "ScalingActivityInProgress", "Scaling activity is in progress and blocks this action "
			  "(the group is in its cooldown)");
		goto fail;
	}
	set_desired(g, (int)d, "a user request explicitly set group desired capacity");
	json_object_object_add(g, "last_scale", json_object_new_int64((int64_t)req->api->now()));
	return save_and_kick(req, g);
fail:
	store_tx_end(&req->api->store, false);
	json_object_put(g);
	return -1;
}

static int h_delete_group(struct api_req *req)
{
	struct store *st = &req->api->store;
	const char *force = api_param(req, "ForceDelete");
	json_object *g = group_of(req, true);
	sqlite3_stmt *s;
	int n = 0;

	if (!g)
		return -1;
	s = store_prepare(st, "SELECT count(*) FROM asg_instances WHERE grp = ?");
	if (s) {
		sqlite3_bind_text(s, 1, jstr(g, "name"), -1, SQLITE_STATIC);
		if (sqlite3_step(s) == SQLITE_ROW)
			n = sqlite3_column_int(s, 0);
		sqlite3_finalize(s);
	}
	if (n > 0 && !(force && strcmp(force, "true") == 0)) {
		store_tx_end(st, false);
		json_object_put(g);
		return api_error(req, 400, "ResourceInUse", "You cannot delete an AutoScalingGroup while there are "
				 "instances or pending Spot instance request(s) still in the group.");
	}
	json_object_object_add(g, "status", json_object_new_string("Delete in progress"));
	json_object_object_add(g, "min", json_object_new_int(0));
	json_object_object_add(g, "max", json_object_new_int(0));
	set_desired(g, 0, "a user request deleted the AutoScalingGroup");
	return save_and_kick(req, g);
}

static void xml_lt_spec(struct strbuf *b, const char *id, const char *name, const char *ver)
{
	sb_puts(b, "<LaunchTemplate>");
	xml_elem(b, "LaunchTemplateId", id);
	xml_elem(b, "LaunchTemplateName", name);
	xml_elem(b, "Version", ver);
	sb_puts(b, "</LaunchTemplate>");
}

static void xml_group(struct api_req *req, json_object *g)
{
	struct store *st = &req->api->store;
	struct strbuf *b = &req->out;
	json_object *azs = jobj(g, "azs"), *tgs = jobj(g, "tgs"), *subs = jobj(g, "subnets");
	char t[32];
	sqlite3_stmt *s;

	sb_puts(b, "<member>");
	xml_elem(b, "AutoScalingGroupName", jstr(g, "name"));
	xml_elem(b, "AutoScalingGroupARN", jstr(g, "arn"));
	xml_lt_spec(b, jstr(g, "lt_id"), jstr(g, "lt_name"), jstr(g, "lt_version"));
	xml_elemf(b, "MinSize", "%d", (int)jint(g, "min", 0));
	xml_elemf(b, "MaxSize", "%d", (int)jint(g, "max", 0));
	xml_elemf(b, "DesiredCapacity", "%d", (int)jint(g, "desired", 0));
	xml_elemf(b, "DefaultCooldown", "%d", (int)jint(g, "cooldown", 300));
	sb_puts(b, "<AvailabilityZones>");
	for (size_t i = 0; azs && i < json_object_array_length(azs); i++) {
		const char *az = json_object_get_string(json_object_array_get_idx(azs, i));
		bool dup = false;

		for (size_t k = 0; k < i; k++)
			dup = dup || strcmp(az, json_object_get_string(json_object_array_get_idx(azs, k))) == 0;
		if (!dup)
			xml_elem(b, "member", az);
	}
	sb_puts(b, "</AvailabilityZones><LoadBalancerNames/><TargetGroupARNs>");
	for (size_t i = 0; tgs && i < json_object_array_length(tgs); i++)
		xml_elem(b, "member", json_object_get_string(json_object_array_get_idx(tgs, i)));
	sb_puts(b, "</TargetGroupARNs>");
	xml_elem(b, "HealthCheckType", jstr(g, "hc_type"));
	xml_elemf(b, "HealthCheckGracePeriod", "%d", (int)jint(g, "grace", 0));
	sb_puts(b, "<Instances>");
	s = store_prepare(st, "SELECT a.id, a.az, a.lifecycle, a.health, a.protected, a.lt_id, a.lt_version, i.type "
			      "FROM asg_instances a LEFT JOIN ec2_instances i ON i.id = a.id WHERE a.grp = ? "
			      "ORDER BY a.launched");
	if (s) {
		sqlite3_bind_text(s, 1, jstr(g, "name"), -1, SQLITE_STATIC);
		while (sqlite3_step(s) == SQLITE_ROW) {
			sb_puts(b, "<member>");
			xml_elem(b, "InstanceId", store_col(s, 0));
			if (*store_col(s, 7))
				xml_elem(b, "InstanceType", store_col(s, 7));
			xml_elem(b, "AvailabilityZone", store_col(s, 1));
			xml_elem(b, "LifecycleState", store_col(s, 2));
			xml_elem(b, "HealthStatus", store_col(s, 3));
			xml_lt_spec(b, store_col(s, 5), jstr(g, "lt_name"), store_col(s, 6));
			xml_elem(b, "ProtectedFromScaleIn", sqlite3_column_int(s, 4) ? "true" : "false");
			sb_puts(b, "</member>");
		}
		sqlite3_finalize(s);
	}
	sb_puts(b, "</Instances>");
	api_format_time((time_t)jint(g, "created", 0), t);
	xml_elem(b, "CreatedTime", t);
	sb_puts(b, "<SuspendedProcesses/>");
	{
		struct strbuf z = STRBUF_INIT;

		for (size_t i = 0; subs && i < json_object_array_length(subs); i++)
			sb_printf(&z, "%s%s", i ? "," : "", json_object_get_string(json_object_array_get_idx(subs, i)));
		xml_elem(b, "VPCZoneIdentifier", sb_cstr(&z));
		sb_free(&z);
	}
	sb_puts(b, "<EnabledMetrics/><Tags/><TerminationPolicies><member>Default</member></TerminationPolicies>");
	xml_elem(b, "NewInstancesProtectedFromScaleIn",
		 json_object_get_boolean(jobj(g, "protect_new")) ? "true" : "false");
	if (jstr(g, "status"))
		xml_elem(b, "Status", jstr(g, "status"));
	if (jint(g, "warmup", -1) >= 0)
		xml_elemf(b, "DefaultInstanceWarmup", "%d", (int)jint(g, "warmup", -1));
	sb_puts(b, "</member>");
}

static int h_describe_groups(struct api_req *req)
{
	struct store *st = &req->api->store;
	json_object *want = str_list(req, "AutoScalingGroupNames.member");
	long maxr = 50, skip = 0, i = 0, shown = 0;
	const char *tok = api_param(req, "NextToken");
	sqlite3_stmt *s;

	if (int_param(req, "MaxRecords", 1, 100, &maxr)) {
		json_object_put(want);
		return -1;
	}
	if (tok)
		skip = atol(tok);
	if (store_tx_begin(st, false)) {
		json_object_put(want);
		return api_internal(req);
	}
	s = store_prepare(st, "SELECT doc FROM asg_groups ORDER BY created, name");
	sb_puts(&req->out, "<AutoScalingGroups>");
	while (s && sqlite3_step(s) == SQLITE_ROW) {
		json_object *g = json_tokener_parse(store_col(s, 0));
		bool keep = json_object_array_length(want) == 0;

		for (size_t k = 0; g && k < json_object_array_length(want); k++)
			keep = keep || strcmp(json_object_get_string(json_object_array_get_idx(want, k)), jstr(g, "name")) == 0;
		if (g && keep) {
			if (i >= skip && shown < maxr) {
				xml_group(req, g);
				shown++;
			}
			i++;
		}
		json_object_put(g);
	}
	sb_puts(&req->out, "</AutoScalingGroups>");
	if (i > skip + shown)
		xml_elemf(&req->out, "NextToken", "%ld", skip + shown);
	sqlite3_finalize(s);
	store_tx_end(st, false);
	json_object_put(want);
	return s ? 0 : api_internal(req);
}

static int h_describe_instances(struct api_req *req)
{
	struct store *st = &req->api->store;
	json_object *want = str_list(req, "InstanceIds.member");
	sqlite3_stmt *s;

	if (store_tx_begin(st, false)) {
		json_object_put(want);
		return api_internal(req);
	}
	s = store_prepare(st, "SELECT a.id, a.grp, a.az, a.lifecycle, a.health, a.protected, a.lt_id, a.lt_version, "
			      "i.type FROM asg_instances a LEFT JOIN ec2_instances i ON i.id = a.id ORDER BY a.launched");
	sb_puts(&req->out, "<AutoScalingInstances>");
	while (s && sqlite3_step(s) == SQLITE_ROW) {
		bool keep = json_object_array_length(want) == 0;

		for (size_t k = 0; k < json_object_array_length(want); k++)
			keep = keep || strcmp(json_object_get_string(json_object_array_get_idx(want, k)), store_col(s, 0)) == 0;
		if (!keep)
			continue;
		sb_puts(&req->out, "<member>");
		xml_elem(&req->out, "InstanceId", store_col(s, 0));
		xml_elem(&req->out, "InstanceType", store_col(s, 8));
		xml_elem(&req->out, "AutoScalingGroupName", store_col(s, 1));
		xml_elem(&req->out, "AvailabilityZone", store_col(s, 2));
		xml_elem(&req->out, "LifecycleState", store_col(s, 3));
		xml_elem(&req->out, "HealthStatus", strcmp(store_col(s, 4), "Healthy") ? "UNHEALTHY" : "HEALTHY");
		xml_lt_spec(&req->out, store_col(s, 6), NULL, store_col(s, 7));
		xml_elem(&req->out, "ProtectedFromScaleIn", sqlite3_column_int(s, 5) ? "true" : "false");
		sb_puts(&req->out, "</member>");
	}
	sb_puts(&req->out, "</AutoScalingInstances>");
	sqlite3_finalize(s);
	store_tx_end(st, false);
	json_object_put(want);
	return s ? 0 : api_internal(req);
}

static int h_set_protection(struct api_req *req)
{
	struct store *st = &req->api->store;
	json_object *ids = str_list(req, "InstanceIds.member"), *g;
	const char *p = api_param(req, "ProtectedFromScaleIn");

	if (!p || (strcmp(p, "true") && strcmp(p, "false"))) {
		json_object_put(ids);
		return api_error(req, 400, "ValidationError", "ProtectedFromScaleIn must be true or false");
	}
	if (json_object_array_length(ids) == 0 || json_object_array_length(ids) > 50) {
		json_object_put(ids);
		return api_error(req, 400, "ValidationError", "InstanceIds needs 1..50 instance IDs");
	}
	g = group_of(req, true);
	if (!g) {
		json_object_put(ids);
		return -1;
	}
	for (size_t i = 0; i < json_object_array_length(ids); i++) {
		const char *id = json_object_get_string(json_object_array_get_idx(ids, i));
		sqlite3_stmt *s = store_prepare(st, "UPDATE asg_instances SET protected = ? WHERE id = ? AND grp = ?");
		int ch = 0;

		if (s) {
			sqlite3_bind_int(s, 1, strcmp(p, "true") == 0);
			sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
			sqlite3_bind_text(s, 3, jstr(g, "name"), -1, SQLITE_STATIC);
			if (sqlite3_step(s) == SQLITE_DONE)
				ch = sqlite3_changes(st->db);
			sqlite3_finalize(s);
		}
		if (!ch) {
			api_error(req, 400, "ValidationError", "The instance %s is not part of Auto Scaling group %s.", id,
				  jstr(g, "name"));
			store_tx_end(st, false);
			json_object_put(ids);
			json_object_put(g);
			return -1;
		}
	}
	json_object_put(ids);
	json_object_put(g);
	if (store_tx_end(st, true))
		return api_internal(req);
	return 0;
}

static int h_terminate_in_group(struct api_req *req)
{
	struct store *st = &req->api->store;
	const char *id = api_param_required(req, "InstanceId"), *dec = api_param(req, "ShouldDecrementDesiredCapacity");
	struct member m[ASG_MAX_SIZE * 2 + 8];
	char grp[256] = "", t[32], cause[600];
	json_object *g;
	sqlite3_stmt *s;
	int n, err;

	if (!id)
		return -1;
	if (!dec || (strcmp(dec, "true") && strcmp(dec, "false")))
		return api_error(req, 400, "ValidationError", "ShouldDecrementDesiredCapacity must be true or false");
	if (store_tx_begin(st, true))
		return api_internal(req);
	s = store_prepare(st, "SELECT grp FROM asg_instances WHERE id = ?");
	if (s) {
		sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
		if (sqlite3_step(s) == SQLITE_ROW)
			snprintf(grp, sizeof(grp), "%s", store_col(s, 0));
		sqlite3_finalize(s);
	}
	g = *grp ? group_get(st, grp, &err) : NULL;
	if (!g) {
		store_tx_end(st, false);
		return api_error(req, 400, "ValidationError", "Instance Id not found - No managed instance found for "
				 "instance ID: %s", id);
	}
	n = load_members(st, grp, m, (int)(sizeof(m) / sizeof(m[0])));
	for (int i = 0; i < n; i++) {
		if (strcmp(m[i].id, id) || !strcmp(m[i].lifecycle, "Terminating"))
			continue;
		if (strcmp(dec, "true") == 0) {
			int d = (int)jint(g, "desired", 0) - 1;

			if (d < jint(g, "min", 0)) {
				store_tx_end(st, false);
				json_object_put(g);
				return api_error(req, 400, "ValidationError", "Currently, desiredSize equals minSize (%d). "
						 "Terminating instance without replacement will violate group's min size "
						 "constraint. Either set shouldDecrementDesiredCapacity flag to false or lower "
						 "group's min size.", (int)jint(g, "min", 0));
			}
			json_object_object_add(g, "desired", json_object_new_int(d));
			json_object_object_del(g, "cause");
			group_put(st, g);
		}
		iso_now(t);
		snprintf(cause, sizeof(cause), "At %s instance %s was taken out of service in response to a user request%s.",
			 t, id, strcmp(dec, "true") == 0 ? ", shrinking the capacity" : "");
		begin_terminate(req->api, g, &m[i], cause, req->api->now());
	}
	sb_puts(&req->out, "<Activity>");
	s = store_prepare(st, "SELECT id, description, cause, start_ms, status, progress FROM asg_activities WHERE grp = ? "
			      "ORDER BY seq DESC LIMIT 1");
	if (s) {
		sqlite3_bind_text(s, 1, grp, -1, SQLITE_STATIC);
		if (sqlite3_step(s) == SQLITE_ROW) {
			xml_elem(&req->out, "ActivityId", store_col(s, 0));
			xml_elem(&req->out, "AutoScalingGroupName", grp);
			xml_elem(&req->out, "Description", store_col(s, 1));
			xml_elem(&req->out, "Cause", store_col(s, 2));
			api_format_time((time_t)(sqlite3_column_int64(s, 3) / 1000), t);
			xml_elem(&req->out, "StartTime", t);
			xml_elem(&req->out, "StatusCode", store_col(s, 4));
			xml_elemf(&req->out, "Progress", "%d", sqlite3_column_int(s, 5));
		}
		sqlite3_finalize(s);
	}
	sb_puts(&req->out, "</Activity>");
	json_object_put(g);
	if (store_tx_end(st, true))
		return api_internal(req);
	asg_kick(req->api);
	return 0;
}

static void ms_time(int64_t ms, char out[64])
{
	struct tm tm;
	time_t t = (time_t)(ms / 1000);

	gmtime_r(&t, &tm);
	snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		 tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

static int h_describe_activities(struct api_req *req)
{
	struct store *st = &req->api->store;
	const char *grp = api_param(req, "AutoScalingGroupName"), *tok = api_param(req, "NextToken");
	json_object *ids = str_list(req, "ActivityIds.member");
	long maxr = 100, after = tok ? atol(tok) : 0, shown = 0, last = 0;
	sqlite3_stmt *s;
	bool more = false;

	if (int_param(req, "MaxRecords", 1, 100, &maxr)) {
		json_object_put(ids);
		return -1;
	}
	if (store_tx_begin(st, false)) {
		json_object_put(ids);
		return api_internal(req);
	}
	s = store_prepare(st, "SELECT a.seq, a.id, a.grp, a.description, a.cause, a.start_ms, a.end_ms, a.status, "
			      "a.progress, a.status_msg, g.doc FROM asg_activities a LEFT JOIN asg_groups g ON "
			      "g.name = a.grp WHERE (?1 IS NULL OR a.grp = ?1) AND (?2 = 0 OR a.seq < ?2) "
			      "ORDER BY a.seq DESC");
	sb_puts(&req->out, "<Activities>");
	if (s) {
		if (grp)
			sqlite3_bind_text(s, 1, grp, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, after);
		while (sqlite3_step(s) == SQLITE_ROW) {
			char t[64];
			bool keep = json_object_array_length(ids) == 0;
			json_object *g;

			for (size_t k = 0; k < json_object_array_length(ids); k++)
				keep = keep || strcmp(json_object_get_string(json_object_array_get_idx(ids, k)), store_col(s, 1)) == 0;
			if (!keep)
				continue;
			if (shown >= maxr) {
				more = true;
				break;
			}
			g = json_tokener_parse(store_col(s, 10));
			sb_puts(&req->out, "<member>");
			xml_elem(&req->out, "ActivityId", store_col(s, 1));
			xml_elem(&req->out, "AutoScalingGroupName", store_col(s, 2));
			xml_elem(&req->out, "Description", store_col(s, 3));
			xml_elem(&req->out, "Cause", store_col(s, 4));
			ms_time(sqlite3_column_int64(s, 5), t);
			xml_elem(&req->out, "StartTime", t);
			if (sqlite3_column_type(s, 6) != SQLITE_NULL) {
				ms_time(sqlite3_column_int64(s, 6), t);
				xml_elem(&req->out, "EndTime", t);
			}
			xml_elem(&req->out, "StatusCode", store_col(s, 7));
			if (sqlite3_column_type(s, 9) != SQLITE_NULL)
				xml_elem(&req->out, "StatusMessage", store_col(s, 9));
			xml_elemf(&req->out, "Progress", "%d", sqlite3_column_int(s, 8));
			xml_elem(&req->out, "Details", "{\"Subnet ID\":\"\",\"Availability Zone\":\"\"}");
			if (g)
				xml_elem(&req->out, "AutoScalingGroupARN", jstr(g, "arn"));
			sb_puts(&req->out, "</member>");
			json_object_put(g);
			last = sqlite3_column_int64(s, 0);
			shown++;
		}
		sqlite3_finalize(s);
	}
	sb_puts(&req->out, "</Activities>");
	if (more)
		xml_elemf(&req->out, "NextToken", "%ld", last);
	store_tx_end(st, false);
	json_object_put(ids);
	return s ? 0 : api_internal(req);
}

/* ---- policies ----------------------------------------------------------------------------- */

static const char *const adj_types[] = { "ChangeInCapacity", "ExactCapacity", "PercentChangeInCapacity" };

static int h_put_policy(struct api_req *req)
{
	struct store *st = &req->api->store;
	const char *pname = api_param_required(req, "PolicyName"), *type = api_param(req, "PolicyType"),
		   *adj = api_param(req, "AdjustmentType");
	json_object *g, *p = json_object_new_object(), *steps;
	char arn[600], id[37], alarm[37];
	long sa = 0, cooldown = -1, warmup = -1, mam = 0;
	sqlite3_stmt *s;
	int r;

	if (!pname) {
		json_object_put(p);
		return -1;
	}
	type = type ? type : "SimpleScaling";
	if (strlen(pname) > 255) {
		json_object_put(p);
		return api_error(req, 400, "ValidationError", "PolicyName is at most 255 characters");
	}
	if (int_param(req, "ScalingAdjustment", -100000, 100000, &sa) || int_param(req, "Cooldown", 0, 86400, &cooldown) ||
	    int_param(req, "EstimatedInstanceWarmup", 0, 86400, &warmup) ||
	    int_param(req, "MinAdjustmentMagnitude", 1, 100000, &mam)) {
		json_object_put(p);
		return -1;
	}
	json_object_object_add(p, "name", json_object_new_string(pname));
	json_object_object_add(p, "type", json_object_new_string(type));
	json_object_object_add(p, "warmup", json_object_new_int((int)warmup));
	if (strcmp(type, "TargetTrackingScaling") == 0) {
		const char *mt = api_param(req, "TargetTrackingConfiguration.PredefinedMetricSpecification."
					   "PredefinedMetricType"),
			   *label = api_param(req, "TargetTrackingConfiguration.PredefinedMetricSpecification.ResourceLabel"),
			   *tv = api_param(req, "TargetTrackingConfiguration.TargetValue"),
			   *dsi = api_param(req, "TargetTrackingConfiguration.DisableScaleIn");
		char *end = NULL;
		double target = tv ? strtod(tv, &end) : 0;

		if (!tv || !end || *end || !(target > 0) || target > 1e9) {
			json_object_put(p);
			return api_error(req, 400, "ValidationError", "TargetTrackingConfiguration.TargetValue must be a "
					 "positive number");
		}
		if (api_param(req, "TargetTrackingConfiguration.CustomizedMetricSpecification.MetricName") ||
		    !mt || (strcmp(mt, "ASGAverageCPUUtilization") && strcmp(mt, "ALBRequestCountPerTarget"))) {
			json_object_put(p);
			return api_error(req, 400, "ValidationError", "haneul supports the predefined metrics "
					 "ASGAverageCPUUtilization and ALBRequestCountPerTarget");
		}
		if (strcmp(mt, "ALBRequestCountPerTarget") == 0 &&
		    (!label || !strstr(label, "/targetgroup/") || strncmp(label, "app/", 4))) {
			json_object_put(p);
			return api_error(req, 400, "ValidationError", "ResourceLabel must be app/<lb-name>/<lb-id>/"
					 "targetgroup/<tg-name>/<tg-id> for ALBRequestCountPerTarget");
		}
		json_object_object_add(p, "metric", json_object_new_string(mt));
		if (label)
			json_object_object_add(p, "label", json_object_new_string(label));
		json_object_object_add(p, "target", json_object_new_double(target));
		json_object_object_add(p, "disable_scale_in", json_object_new_boolean(dsi && !strcmp(dsi, "true")));
		uuid(alarm);
		json_object_object_add(p, "alarm_id", json_object_new_string(alarm));
	} else if (!strcmp(type, "SimpleScaling") || !strcmp(type, "StepScaling")) {
		bool known = false;

		for (size_t i = 0; adj && i < 3; i++)
			known = known || strcmp(adj, adj_types[i]) == 0;
		if (!known) {
			json_object_put(p);
			return api_error(req, 400, "ValidationError", "AdjustmentType must be ChangeInCapacity, "
					 "ExactCapacity or PercentChangeInCapacity");
		}
		json_object_object_add(p, "adjustment_type", json_object_new_string(adj));
		json_object_object_add(p, "min_magnitude", json_object_new_int((int)mam));
		if (!strcmp(type, "SimpleScaling")) {
			if (!api_param(req, "ScalingAdjustment")) {
				json_object_put(p);
				return api_error(req, 400, "ValidationError", "ScalingAdjustment is required for simple "
						 "scaling policies");
			}
			json_object_object_add(p, "adjustment", json_object_new_int((int)sa));
			json_object_object_add(p, "cooldown", json_object_new_int((int)cooldown));
		} else {
			unsigned *idx = NULL;
			int n = query_list_indices(&req->params, "StepAdjustments.member", &idx);

			steps = json_object_new_array();
			for (int i = 0; i < n; i++) {
				json_object *st1 = json_object_new_object();
				const char *lo = query_list_get(&req->params, "StepAdjustments.member", idx[i],
								"MetricIntervalLowerBound"),
					   *hi = query_list_get(&req->params, "StepAdjustments.member", idx[i],
								"MetricIntervalUpperBound"),
					   *ad = query_list_get(&req->params, "StepAdjustments.member", idx[i],
								"ScalingAdjustment");

				if (!ad || (!lo && !hi)) {
					free(idx);
					json_object_put(st1);
					json_object_put(steps);
					json_object_put(p);
					return api_error(req, 400, "ValidationError", "Each step adjustment needs a "
							 "ScalingAdjustment and a bound");
				}
				if (lo)
					json_object_object_add(st1, "lo", json_object_new_double(atof(lo)));
				if (hi)
					json_object_object_add(st1, "hi", json_object_new_double(atof(hi)));
				json_object_object_add(st1, "adj", json_object_new_int(atoi(ad)));
				json_object_array_add(steps, st1);
			}
			free(idx);
			if (n <= 0) {
				json_object_put(steps);
				json_object_put(p);
				return api_error(req, 400, "ValidationError", "StepAdjustments are required for step "
						 "scaling policies");
			}
			json_object_object_add(p, "steps", steps);
		}
	} else {
		json_object_put(p);
		return api_error(req, 400, "ValidationError", "PolicyType '%s' is not supported (SimpleScaling, "
				 "StepScaling, TargetTrackingScaling)", type);
	}
	g = group_of(req, true);
	if (!g) {
		json_object_put(p);
		return -1;
	}
	uuid(id);
	snprintf(arn, sizeof(arn), "arn:aws:autoscaling:%s:%s:scalingPolicy:%s:autoScalingGroupName/%s:policyName/%s",
		 req->api->region, req->api->account_id, id, jstr(g, "name"), pname);
	/* Replacing a policy keeps its ARN. */
	s = store_prepare(st, "SELECT arn FROM asg_policies WHERE grp = ? AND name = ?");
	if (s) {
		sqlite3_bind_text(s, 1, jstr(g, "name"), -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, pname, -1, SQLITE_STATIC);
		if (sqlite3_step(s) == SQLITE_ROW)
			snprintf(arn, sizeof(arn), "%s", store_col(s, 0));
		sqlite3_finalize(s);
	}
	json_object_object_add(p, "arn", json_object_new_string(arn));
	s = store_prepare(st, "INSERT OR REPLACE INTO asg_policies(arn, grp, name, doc) VALUES (?,?,?,?)");
	r = -1;
	if (s) {
		sqlite3_bind_text(s, 1, arn, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, jstr(g, "name"), -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 3, pname, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 4, json_object_to_json_string_ext(p, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE), -1, SQLITE_TRANSIENT);
		r = sqlite3_step(s);
		sqlite3_finalize(s);
	}
	if (r != SQLITE_DONE || store_tx_end(st, true)) {
		if (r != SQLITE_DONE)
			store_tx_end(st, false);
		json_object_put(g);
		json_object_put(p);
		return api_internal(req);
	}
	xml_elem(&req->out, "PolicyARN", arn);
	sb_puts(&req->out, "<Alarms>");
	if (jstr(p, "alarm_id")) {
		static const char *const hl[] = { "AlarmHigh", "AlarmLow" };

		for (int i = 0; i < 2; i++) {
			sb_puts(&req->out, "<member>");
			xml_elemf(&req->out, "AlarmName", "TargetTracking-%s-%s-%s", jstr(g, "name"), hl[i], jstr(p, "alarm_id"));
			xml_elemf(&req->out, "AlarmARN", "arn:aws:cloudwatch:%s:%s:alarm:TargetTracking-%s-%s-%s",
				  req->api->region, req->api->account_id, jstr(g, "name"), hl[i], jstr(p, "alarm_id"));
			sb_puts(&req->out, "</member>");
		}
	}
	sb_puts(&req->out, "</Alarms>");
	json_object_put(g);
	json_object_put(p);
	return 0;
}

static void xml_policy(struct api_req *req, const char *grp, json_object *p)
{
	struct strbuf *b = &req->out;
	const char *type = jstr(p, "type");

	sb_puts(b, "<member>");
	xml_elem(b, "AutoScalingGroupName", grp);
	xml_elem(b, "PolicyName", jstr(p, "name"));
	xml_elem(b, "PolicyARN", jstr(p, "arn"));
	xml_elem(b, "PolicyType", type);
	if (jstr(p, "adjustment_type"))
		xml_elem(b, "AdjustmentType", jstr(p, "adjustment_type"));
	if (!strcmp(type, "SimpleScaling")) {
		xml_elemf(b, "ScalingAdjustment", "%d", (int)jint(p, "adjustment", 0));
		if (jint(p, "cooldown", -1) >= 0)
			xml_elemf(b, "Cooldown", "%d", (int)jint(p, "cooldown", 0));
	}
	if (!strcmp(type, "StepScaling")) {
		json_object *steps = jobj(p, "steps");

		sb_puts(b, "<StepAdjustments>");
		for (size_t i = 0; steps && i < json_object_array_length(steps); i++) {
			json_object *s1 = json_object_array_get_idx(steps, i);

			sb_puts(b, "<member>");
			if (jobj(s1, "lo"))
				xml_elemf(b, "MetricIntervalLowerBound", "%g", json_object_get_double(jobj(s1, "lo")));
			if (jobj(s1, "hi"))
				xml_elemf(b, "MetricIntervalUpperBound", "%g", json_object_get_double(jobj(s1, "hi")));
			xml_elemf(b, "ScalingAdjustment", "%d", (int)jint(s1, "adj", 0));
			sb_puts(b, "</member>");
		}
		sb_puts(b, "</StepAdjustments>");
		xml_elem(b, "MetricAggregationType", "Average");
	}
	if (jint(p, "warmup", -1) >= 0)
		xml_elemf(b, "EstimatedInstanceWarmup", "%d", (int)jint(p, "warmup", 0));
	sb_puts(b, "<Alarms>");
	if (jstr(p, "alarm_id")) {
		static const char *const hl[] = { "AlarmHigh", "AlarmLow" };

		for (int i = 0; i < 2; i++) {
			sb_puts(b, "<member>");
			xml_elemf(b, "AlarmName", "TargetTracking-%s-%s-%s", grp, hl[i], jstr(p, "alarm_id"));
			xml_elemf(b, "AlarmARN", "arn:aws:cloudwatch:%s:%s:alarm:TargetTracking-%s-%s-%s", req->api->region,
				  req->api->account_id, grp, hl[i], jstr(p, "alarm_id"));
			sb_puts(b, "</member>");
		}
	}
	sb_puts(b, "</Alarms>");
	if (!strcmp(type, "TargetTrackingScaling")) {
		sb_puts(b, "<TargetTrackingConfiguration><PredefinedMetricSpecification>");
		xml_elem(b, "PredefinedMetricType", jstr(p, "metric"));
		if (jstr(p, "label"))
			xml_elem(b, "ResourceLabel", jstr(p, "label"));
		sb_puts(b, "</PredefinedMetricSpecification>");
		xml_elemf(b, "TargetValue", "%g", json_object_get_double(jobj(p, "target")));
		xml_elem(b, "DisableScaleIn", json_object_get_boolean(jobj(p, "disable_scale_in")) ? "true" : "false");
		sb_puts(b, "</TargetTrackingConfiguration>");
	}
	xml_elem(b, "Enabled", "true");
	sb_puts(b, "</member>");
}

static int h_describe_policies(struct api_req *req)
{
	struct store *st = &req->api->store;
	const char *grp = api_param(req, "AutoScalingGroupName");
	json_object *names = str_list(req, "PolicyNames.member"), *types = str_list(req, "PolicyTypes.member");
	sqlite3_stmt *s;

	if (store_tx_begin(st, false)) {
		json_object_put(names);
		json_object_put(types);
		return api_internal(req);
	}
	s = store_prepare(st, "SELECT grp, name, arn, doc FROM asg_policies WHERE (?1 IS NULL OR grp = ?1) ORDER BY "
			      "grp, name");
	sb_puts(&req->out, "<ScalingPolicies>");
	if (s) {
		if (grp)
			sqlite3_bind_text(s, 1, grp, -1, SQLITE_STATIC);
		while (sqlite3_step(s) == SQLITE_ROW) {
			json_object *p = json_tokener_parse(store_col(s, 3));
			bool kn = json_object_array_length(names) == 0, kt = json_object_array_length(types) == 0;

			for (size_t k = 0; k < json_object_array_length(names); k++) {
				const char *w = json_object_get_string(json_object_array_get_idx(names, k));

				kn = kn || !strcmp(w, store_col(s, 1)) || !strcmp(w, store_col(s, 2));
			}
			for (size_t k = 0; p && k < json_object_array_length(types); k++)
				kt = kt || !strcmp(json_object_get_string(json_object_array_get_idx(types, k)), jstr(p, "type"));
			if (p && kn && kt)
				xml_policy(req, store_col(s, 0), p);
			json_object_put(p);
		}
		sqlite3_finalize(s);
	}
	sb_puts(&req->out, "</ScalingPolicies>");
	store_tx_end(st, false);
	json_object_put(names);
	json_object_put(types);
	return s ? 0 : api_internal(req);
}

static int h_delete_policy(struct api_req *req)
{
	struct store *st = &req->api->store;
	const char *pname = api_param_required(req, "PolicyName"), *grp = api_param(req, "AutoScalingGroupName");
	sqlite3_stmt *s;
	int ch = 0;

	if (!pname)
		return -1;
	if (store_tx_begin(st, true))
		return api_internal(req);
	s = store_prepare(st, "DELETE FROM asg_policies WHERE arn = ?1 OR (name = ?1 AND grp = ?2)");
	if (s) {
		sqlite3_bind_text(s, 1, pname, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, grp ? grp : "", -1, SQLITE_STATIC);
		if (sqlite3_step(s) == SQLITE_DONE)
			ch = sqlite3_changes(st->db);
		sqlite3_finalize(s);
	}
	if (!ch) {
		store_tx_end(st, false);
		return api_error(req, 400, "ValidationError", "Policy %s not found", pname);
	}
	if (store_tx_end(st, true))
		return api_internal(req);
	return 0;
}

/* Simple and step policies run when executed (ExecutePolicy; haneul has no
 * CloudWatch alarms to trigger them). */
static int h_execute_policy(struct api_req *req)
{
	struct store *st = &req->api->store;
	const char *pname = api_param_required(req, "PolicyName"), *grp = api_param(req, "AutoScalingGroupName"),
		   *hc = api_param(req, "HonorCooldown"), *mv = api_param(req, "MetricValue"),
		   *bt = api_param(req, "BreachThreshold");
	json_object *p = NULL, *g;
	char gname[256] = "", why[600];
	sqlite3_stmt *s;
	int cur, adj = 0, nd, err;
	const char *at;

	if (!pname)
		return -1;
	if (store_tx_begin(st, true))
		return api_internal(req);
	s = store_prepare(st, "SELECT grp, doc FROM asg_policies WHERE arn = ?1 OR (name = ?1 AND grp = ?2)");
	if (s) {
		sqlite3_bind_text(s, 1, pname, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, grp ? grp : "", -1, SQLITE_STATIC);
		if (sqlite3_step(s) == SQLITE_ROW) {
			snprintf(gname, sizeof(gname), "%s", store_col(s, 0));
			p = json_tokener_parse(store_col(s, 1));
		}
		sqlite3_finalize(s);
	}
	g = p ? group_get(st, gname, &err) : NULL;
	if (!g) {
		store_tx_end(st, false);
		json_object_put(p);
		return api_error(req, 400, "ValidationError", "Policy %s not found", pname);
	}
	if (!strcmp(jstr(p, "type"), "TargetTrackingScaling")) {
		api_error(req, 400, "ValidationError", "ExecutePolicy is not supported for a target tracking policy.");
		goto fail;
	}
	if (!strcmp(jstr(p, "type"), "StepScaling")) {
		json_object *steps = jobj(p, "steps");
		double d;
		bool found = false;

		if (!mv || !bt) {
			api_error(req, 400, "ValidationError", "MetricValue and BreachThreshold are required for step "
				  "scaling policies");
			goto fail;
		}
		d = atof(mv) - atof(bt);
		for (size_t i = 0; steps && i < json_object_array_length(steps) && !found; i++) {
			json_object *s1 = json_object_array_get_idx(steps, i);
			bool lo_ok = !jobj(s1, "lo") || d >= json_object_get_double(jobj(s1, "lo")),
			     hi_ok = !jobj(s1, "hi") || d < json_object_get_double(jobj(s1, "hi"));

			if (lo_ok && hi_ok) {
				adj = (int)jint(s1, "adj", 0);
				found = true;
			}
		}
		if (!found) {
			api_error(req, 400, "ValidationError", "The metric value %s is not in any step of policy %s", mv, pname);
			goto fail;
		}
	} else {
		long cd = jint(p, "cooldown", -1) >= 0 ? (long)jint(p, "cooldown", 0) : (long)jint(g, "cooldown", 300);

		adj = (int)jint(p, "adjustment", 0);
		if (hc && !strcmp(hc, "true") && jint(g, "last_scale", 0) + cd > req->api->now()) {
			api_error(req, 400, "ScalingActivityInProgress", "Scaling activity is in progress and blocks this "
				  "action (the group is in its cooldown)");
			goto fail;
		}
	}
	cur = (int)jint(g, "desired", 0);
	at = jstr(p, "adjustment_type");
	if (!strcmp(at, "ExactCapacity")) {
		nd = adj;
	} else if (!strcmp(at, "PercentChangeInCapacity")) {
		int ch = (int)((double)cur * adj / 100.0);

		if (ch == 0 && adj)
			ch = adj > 0 ? 1 : -1;
		if (jint(p, "min_magnitude", 0) && abs(ch) < jint(p, "min_magnitude", 0))
			ch = (int)(ch > 0 ? jint(p, "min_magnitude", 0) : -jint(p, "min_magnitude", 0));
		nd = cur + ch;
	} else {
		nd = cur + adj;
	}
	nd = nd < jint(g, "min", 0) ? (int)jint(g, "min", 0) : nd > jint(g, "max", 0) ? (int)jint(g, "max", 0) : nd;
	snprintf(why, sizeof(why), "a user request executed policy %s", jstr(p, "name"));
	set_desired(g, nd, why);
	json_object_object_add(g, "last_scale", json_object_new_int64((int64_t)req->api->now()));
	json_object_put(p);
	return save_and_kick(req, g);
fail:
	store_tx_end(st, false);
	json_object_put(p);
	json_object_put(g);
	return -1;
}

#define NR API_ACT_NO_RESULT
static const struct api_action actions[] = {
	{ "CreateAutoScalingGroup", h_create_group, NR, NULL },
	{ "UpdateAutoScalingGroup", h_update_group, NR, NULL },
	{ "DeleteAutoScalingGroup", h_delete_group, NR, NULL },
	{ "DescribeAutoScalingGroups", h_describe_groups, 0, NULL },
	{ "DescribeAutoScalingInstances", h_describe_instances, 0, NULL },
	{ "SetDesiredCapacity", h_set_desired, NR, NULL },
	{ "SetInstanceProtection", h_set_protection, 0, NULL },
	{ "TerminateInstanceInAutoScalingGroup", h_terminate_in_group, 0, NULL },
	{ "DescribeScalingActivities", h_describe_activities, 0, NULL },
	{ "PutScalingPolicy", h_put_policy, 0, NULL },
	{ "DescribePolicies", h_describe_policies, 0, NULL },
	{ "DeletePolicy", h_delete_policy, NR, NULL },
	{ "ExecutePolicy", h_execute_policy, NR, NULL },
};
#undef NR

const struct api_service asg_service = {
	.name = "autoscaling", .prefix = "autoscaling", .version = "2011-01-01",
	.xmlns = "http://autoscaling.amazonaws.com/doc/2011-01-01/", .proto = API_PROTO_QUERY,
	.actions = actions, .n_actions = sizeof(actions) / sizeof(actions[0]),
};

int asg_new(struct api *api, const struct asg_config *cfg)
{
	struct asg *a = calloc(1, sizeof(*a));

	if (!a)
		return -ENOMEM;
	(void)cfg;
	a->api = api;
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cv, NULL);
	api->asg = a;
	return api_register_service(api, &asg_service);
}

int asg_start(struct api *api)
{
	struct asg *a = api->asg;
	int err;

	if (!a)
		return 0;
	err = -pthread_create(&a->thread, NULL, fleet_main, a);
	if (!err)
		a->running = true;
	return err;
}

void asg_free(struct api *api)
{
	struct asg *a = api->asg;

	if (!a)
		return;
	if (a->running) {
		pthread_mutex_lock(&a->mu);
		a->stop = true;
		pthread_cond_signal(&a->cv);
		pthread_mutex_unlock(&a->mu);
		pthread_join(a->thread, NULL);
	}
	api->asg = NULL;
	api_register_service(api, &autoscaling_stub_service);
	pthread_cond_destroy(&a->cv);
	pthread_mutex_destroy(&a->mu);
	free(a);
}
