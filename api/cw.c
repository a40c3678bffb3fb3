/* api/cw.c - CloudWatch: measured metrics and their API (see cw.h). */
#include "api/cw.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/elbv2.h"
#include "api/jdoc.h"
#include "api/vmsup.h"
#include "api/xml.h"
#include "common/log.h"

int cw_parse_time(const char *s, time_t *out)
{
	struct tm tm;
	const char *p;
	char *end;
	long off = 0;

	if (!s || !*s)
		return -EINVAL;
	if (strspn(s, "0123456789.") == strlen(s)) {
		double d = strtod(s, &end);

		if (*end || d < 0 || d > 1e11)
			return -EINVAL;
		*out = (time_t)d;
		return 0;
	}
	memset(&tm, 0, sizeof(tm));
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p) {
		memset(&tm, 0, sizeof(tm));
		p = strptime(s, "%Y-%m-%d", &tm);
		if (!p)
			return -EINVAL;
	}
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int h, m;

		if (sscanf(p + 1, "%2d:%2d", &h, &m) != 2)
			return -EINVAL;
		off = (h * 3600L + m * 60L) * (*p == '+' ? 1 : -1);
		p += 6;
	}
	if (*p)
		return -EINVAL;
	*out = timegm(&tm) - off;
	return 0;
}

int cw_put(struct store *st, const char *ns, const char *metric, const char *dims, time_t ts, double value,
	   const char *unit)
{
	sqlite3_stmt *s = store_prepare(st, "INSERT INTO cw_data(ns, metric, dims, ts, value, unit) VALUES (?,?,?,?,?,?)");
	int r;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, ns, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, metric, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, dims, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, (int64_t)ts);
	sqlite3_bind_double(s, 5, value);
	sqlite3_bind_text(s, 6, unit, -1, SQLITE_STATIC);
	r = sqlite3_step(s);
	sqlite3_finalize(s);
	return r == SQLITE_DONE ? 0 : -EIO;
}

int cw_latest(struct store *st, const char *ns, const char *metric, const char *dims, int n, double *v, time_t *ts)
{
	sqlite3_stmt *s = store_prepare(st, "SELECT value, ts FROM cw_data WHERE ns = ? AND metric = ? AND dims = ? "
					    "ORDER BY ts DESC LIMIT ?");
	int k = 0;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, ns, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, metric, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, dims, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 4, n);
	while (k < n && sqlite3_step(s) == SQLITE_ROW) {
		v[k] = sqlite3_column_double(s, 0);
		if (ts)
			ts[k] = (time_t)sqlite3_column_int64(s, 1);
		k++;
	}
	sqlite3_finalize(s);
	return k;
}

/* ---- collection ---------------------------------------------------------------------- */

/* The run-queue wait (ns) of the thread of VMM pid whose CPU time is
 * closest to cpu_ns, i.e. of that vCPU's thread (haneul-vmm does not name
 * its threads): /proc/PID/task/TID/schedstat is "run_ns wait_ns slices". */
static int64_t vcpu_wait_ns(long pid, int64_t cpu_ns)
{
	char path[96];
	DIR *d;
	struct dirent *de;
	int64_t best_wait = 0, best_diff = INT64_MAX;

	snprintf(path, sizeof(path), "/proc/%ld/task", pid);
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		long long run, wait;
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/task/%.20s/schedstat", pid, de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fscanf(f, "%lld %lld", &run, &wait) == 2 && llabs(run - cpu_ns) < best_diff) {
			best_diff = llabs(run - cpu_ns);
			best_wait = wait;
		}
		fclose(f);
	}
	closedir(d);
	return best_wait;
}

/* CPU of every running instance: one datapoint each.  CPUUtilization is the
 * vCPU threads' demand over wall time: the CPU time they got plus the time
 * they were runnable but waiting for a host CPU (schedstat), so that on an
 * overcommitted host a saturated guest reads ~100 %, as it would on a host
 * that gave it its vCPU (docs/asg.md). */
static void collect_cpu(struct cw *c, time_t ts)
{
	struct api *api = c->api;
	struct store *st = &api->store;
	char (*ids)[32] = calloc(CW_MAX_INSTANCES, 32);
	struct cw_inst_sample *now = calloc(CW_MAX_INSTANCES, sizeof(*now));
	double *pct = calloc(CW_MAX_INSTANCES, sizeof(double));
	bool *have = calloc(CW_MAX_INSTANCES, sizeof(bool));
	size_t n = 0, m = 0;
	sqlite3_stmt *s;

	if (!ids || !now || !pct || !have)
		goto out;
	if (store_tx_begin(st, false))
		goto out;
	s = store_prepare(st, "SELECT id FROM ec2_instances WHERE state = 'running' ORDER BY seq");
	while (s && sqlite3_step(s) == SQLITE_ROW && n < CW_MAX_INSTANCES)
		snprintf(ids[n++], 32, "%s", store_col(s, 0));
	sqlite3_finalize(s);
	store_tx_end(st, false);
	/* The VMMs are asked outside the store lock. */
	for (size_t i = 0; i < n; i++) {
		char dir[PATH_MAX + 64];
		json_object *r = NULL, *vcpus;
		struct cw_inst_sample *x = &now[m];

		snprintf(dir, sizeof(dir), "%s/ec2/%s", api->data_dir, ids[i]);
		if (vmsup_ctl(dir, "{\"cmd\":\"metrics\"}", 1000, &r)) {
			json_object_put(r);
			continue;
		}
		snprintf(x->id, sizeof(x->id), "%s", ids[i]);
		x->wall_us = json_object_get_int64(jobj(r, "uptime_us"));
		vcpus = jobj(r, "vcpus");
		x->vcpus = vcpus ? (unsigned)json_object_array_length(vcpus) : 0;
		{
			char pf[PATH_MAX + 128];
			long pid = 0;
			FILE *f;

			snprintf(pf, sizeof(pf), "%s/vmm.pid", dir);
			f = fopen(pf, "r");
			if (f) {
				if (fscanf(f, "%ld", &pid) != 1)
					pid = 0;
				fclose(f);
			}
			for (size_t k = 0; k < x->vcpus; k++) {
				int64_t ns = json_object_get_int64(jobj(json_object_array_get_idx(vcpus, k), "cpu_ns"));

				x->cpu_ns += ns > 0 ? ns : 0;
				if (ns > 0 && pid > 1)
					x->cpu_ns += vcpu_wait_ns(pid, ns);
			}
		}
		json_object_put(r);
		if (!x->vcpus)
			continue;
		/* Against the previous sample of the same VMM (a VMM that restarted
		 * has a smaller uptime: no datapoint this period). */
		for (size_t k = 0; k < c->n_inst; k++) {
			const struct cw_inst_sample *p = &c->inst[k];

			if (strcmp(p->id, x->id) || x->wall_us <= p->wall_us || x->cpu_ns < p->cpu_ns)
				continue;
			pct[m] = 100.0 * (double)(x->cpu_ns - p->cpu_ns) /
				 ((double)(x->wall_us - p->wall_us) * 1000.0 * x->vcpus);
			if (pct[m] > 100.0)
				pct[m] = 100.0;
			have[m] = true;
		}
		m++;
	}
	memcpy(c->inst, now, m * sizeof(*now));
	c->n_inst = m;
	if (store_tx_begin(st, true))
		goto out;
	for (size_t i = 0; i < m; i++) {
		char dims[64];

		if (!have[i])
			continue;
		snprintf(dims, sizeof(dims), "InstanceId=%s", now[i].id);
		cw_put(st, "AWS/EC2", "CPUUtilization", dims, ts, pct[i], "Percent");
	}
	store_tx_end(st, true);
out:
	free(ids);
	free(now);
	free(pct);
	free(have);
}

/* "targetgroup/NAME/ID" and "app/NAME/ID" dimension values from ARNs. */
static const char *arn_tail(const char *arn, const char *marker)
{
	const char *p = arn ? strstr(arn, marker) : NULL;

	return p ? p + strlen(marker) : NULL;
}

static void collect_requests(struct cw *c, time_t ts)
{
	struct api *api = c->api;
	struct store *st = &api->store;
	json_object *stats = NULL, *tgs;
	struct cw_count_sample now[128];
	size_t m = 0;

	if (elbv2_stats(api, &stats)) {
		json_object_put(stats);
		return;
	}
	tgs = jobj(stats, "target_groups");
	if (store_tx_begin(st, true)) {
		json_object_put(stats);
		return;
	}
	for (size_t i = 0; tgs && i < json_object_array_length(tgs) && m < 128; i++) {
		json_object *g = json_object_array_get_idx(tgs, i), *targets = jobj(g, "targets");
		const char *name = json_object_get_string(jobj(g, "name"));
		int64_t req = json_object_get_int64(jobj(g, "requests"));
		sqlite3_stmt *s;
		char tgarn[300] = "", dims[600];
		bool tcp = false;

		if (!name)
			continue;
		snprintf(now[m].key, sizeof(now[m].key), "%s", name);
		now[m].requests = req;
		m++;
		s = store_prepare(st, "SELECT arn, instr(doc, '\"protocol\":\"TCP\"') FROM elb_res WHERE kind = 'tg' "
				      "AND name = ?");
		if (s) {
			sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
			if (sqlite3_step(s) == SQLITE_ROW) {
				snprintf(tgarn, sizeof(tgarn), "%s", store_col(s, 0));
				tcp = sqlite3_column_int(s, 1) > 0;
			}
			sqlite3_finalize(s);
		}
		if (!*tgarn || tcp)
			continue;
		for (size_t k = 0; k < c->n_tg; k++) {
			size_t nt = targets ? json_object_array_length(targets) : 0;
			double d;

			if (strcmp(c->tg[k].key, name) || req < c->tg[k].requests)
				continue;
			d = (double)(req - c->tg[k].requests);
			snprintf(dims, sizeof(dims), "TargetGroup=targetgroup/%s", arn_tail(tgarn, ":targetgroup/"));
			cw_put(st, "AWS/ApplicationELB", "RequestCount", dims, ts, d, "Count");
			cw_put(st, "AWS/ApplicationELB", "RequestCountPerTarget", dims, ts, nt ? d / (double)nt : 0.0,
			       "Count");
		}
	}
	/* Per load balancer. */
	{
		json_object *lbs = jobj(stats, "load_balancers");

		for (size_t i = 0; lbs && i < json_object_array_length(lbs) && m < 128; i++) {
			json_object *l = json_object_array_get_idx(lbs, i);
			const char *name = json_object_get_string(jobj(l, "name"));
			int64_t req = json_object_get_int64(jobj(l, "requests"));
			sqlite3_stmt *s;
			char key[200], lbarn[300] = "", dims[600];

			if (!name)
				continue;
			snprintf(key, sizeof(key), "lb:%s", name);
			snprintf(now[m].key, sizeof(now[m].key), "%s", key);
			now[m].requests = req;
			m++;
			s = store_prepare(st, "SELECT arn FROM elb_res WHERE kind = 'lb' AND name = ?");
			if (s) {
				sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
				if (sqlite3_step(s) == SQLITE_ROW)
					snprintf(lbarn, sizeof(lbarn), "%s", store_col(s, 0));
				sqlite3_finalize(s);
			}
			if (!*lbarn || !strstr(lbarn, ":loadbalancer/app/"))
				continue;
			for (size_t k = 0; k < c->n_tg; k++) {
				if (strcmp(c->tg[k].key, key) || req < c->tg[k].requests)
					continue;
				snprintf(dims, sizeof(dims), "LoadBalancer=%s", arn_tail(lbarn, ":loadbalancer/"));
				cw_put(st, "AWS/ApplicationELB", "RequestCount", dims, ts,
				       (double)(req - c->tg[k].requests), "Count");
			}
		}
	}
	store_tx_end(st, true);
	memcpy(c->tg, now, m * sizeof(now[0]));
	c->n_tg = m;
	json_object_put(stats);
}

bool cw_tick(struct api *api, time_t now)
{
	struct cw *c = api->cw;
	time_t ts;

	if (!c)
		return false;
	if (!c->next) {
		/* First call: baseline samples, the first datapoint one period later. */
		c->next = now - now % c->period_s + c->period_s;
		collect_cpu(c, 0);
		collect_requests(c, 0);
		if (store_tx_begin(&api->store, true) == 0) {
			/* (baseline "datapoints" at ts 0 are not kept) */
			sqlite3_stmt *s = store_prepare(&api->store, "DELETE FROM cw_data WHERE ts = 0 OR ts < ?");

			if (s) {
				sqlite3_bind_int64(s, 1, (int64_t)(now - CW_KEEP_S));
				sqlite3_step(s);
				sqlite3_finalize(s);
			}
			store_tx_end(&api->store, true);
		}
		return false;
	}
	if (now < c->next)
		return false;
	ts = c->next - c->period_s;
	collect_cpu(c, ts);
	collect_requests(c, ts);
	c->next += c->period_s;
	if (c->next <= now)
		c->next = now - now % c->period_s + c->period_s;
	if (ts % 600 < c->period_s && store_tx_begin(&api->store, true) == 0) {
		sqlite3_stmt *s = store_prepare(&api->store, "DELETE FROM cw_data WHERE ts < ?");

		if (s) {
			sqlite3_bind_int64(s, 1, (int64_t)(now - CW_KEEP_S));
			sqlite3_step(s);
			sqlite3_finalize(s);
		}
		store_tx_end(&api->store, true);
	}
	return true;
}

/* ---- the API -------------------------------------------------------------------------- */

struct dim {
	const char *name, *value;
};

static int dim_cmp(const void *a, const void *b)
{
	return strcmp(((const struct dim *)a)->name, ((const struct dim *)b)->name);
}

/* Dimensions.member.N into canonical "A=x&B=y" (sorted); -1 after an error. */
static int parse_dims(struct api_req *req, struct strbuf *out, bool need_values, struct dim *d, int *nd)
{
	unsigned *idx = NULL;
	int n = query_list_indices(&req->params, "Dimensions.member", &idx);

	*nd = 0;
	if (n < 0 || n > 30) {
		free(idx);
		return api_error(req, 400, "InvalidParameterValue", "At most 30 dimensions");
	}
	for (int i = 0; i < n; i++) {
		d[i].name = query_list_get(&req->params, "Dimensions.member", idx[i], "Name");
		d[i].value = query_list_get(&req->params, "Dimensions.member", idx[i], "Value");
		if (!d[i].name || (need_values && !d[i].value)) {
			free(idx);
			return api_error(req, 400, "InvalidParameterValue", "A dimension needs a Name%s",
					 need_values ? " and a Value" : "");
		}
	}
	free(idx);
	qsort(d, (size_t)n, sizeof(*d), dim_cmp);
	for (int i = 0; i < n; i++)
		sb_printf(out, "%s%s=%s", i ? "&" : "", d[i].name, d[i].value ? d[i].value : "");
	*nd = n;
	return 0;
}

static void xml_dims(struct strbuf *b, const char *dims)
{
	char *copy = strdup(dims), *save = NULL, *tok;

	sb_puts(b, "<Dimensions>");
	for (tok = copy ? strtok_r(copy, "&", &save) : NULL; tok; tok = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(tok, '=');

		if (!eq)
			continue;
		*eq = '\0';
		sb_puts(b, "<member>");
		xml_elem(b, "Name", tok);
		xml_elem(b, "Value", eq + 1);
		sb_puts(b, "</member>");
	}
	sb_puts(b, "</Dimensions>");
	free(copy);
}

static int h_list_metrics(struct api_req *req)
{
	struct store *st = &req->api->store;
	const char *ns = api_param(req, "Namespace"), *metric = api_param(req, "MetricName");
	struct strbuf dims = STRBUF_INIT;
	struct dim d[30];
	sqlite3_stmt *s;
	int nd;

	if (parse_dims(req, &dims, false, d, &nd)) {
		sb_free(&dims);
		return -1;
	}
	if (store_tx_begin(st, false)) {
		sb_free(&dims);
		return api_internal(req);
	}
	s = store_prepare(st, "SELECT DISTINCT ns, metric, dims FROM cw_data WHERE (?1 IS NULL OR ns = ?1) AND "
			      "(?2 IS NULL OR metric = ?2) ORDER BY ns, metric, dims");
	if (!s) {
		store_tx_end(st, false);
		sb_free(&dims);
		return api_internal(req);
	}
	if (ns)
		sqlite3_bind_text(s, 1, ns, -1, SQLITE_STATIC);
	if (metric)
		sqlite3_bind_text(s, 2, metric, -1, SQLITE_STATIC);
	sb_puts(&req->out, "<Metrics>");
	while (sqlite3_step(s) == SQLITE_ROW) {
		const char *have = store_col(s, 2);
		bool keep = true;

		for (int i = 0; i < nd && keep; i++) {
			char pat[600];
			const char *p;
			size_t l;

			l = (size_t)snprintf(pat, sizeof(pat), "%s=%s", d[i].name, d[i].value ? d[i].value : "");
			p = strstr(have, pat);
			keep = p && (p == have || p[-1] == '&') &&
			       (!d[i].value || p[l] == '\0' || p[l] == '&');
		}
		if (!keep)
			continue;
		sb_puts(&req->out, "<member>");
		xml_elem(&req->out, "Namespace", store_col(s, 0));
		xml_elem(&req->out, "MetricName", store_col(s, 1));
		xml_dims(&req->out, have);
		sb_puts(&req->out, "</member>");
	}
	sb_puts(&req->out, "</Metrics>");
	sqlite3_finalize(s);
	store_tx_end(st, false);
	sb_free(&dims);
	return 0;
}

#define CW_MAX_BUCKETS 1440

struct bucket {
	double sum, min, max;
	long n;
	char unit[16];
};

static int h_get_metric_statistics(struct api_req *req)
{
	struct store *st = &req->api->store;
	const char *ns = api_param_required(req, "Namespace"), *metric = ns ? api_param_required(req, "MetricName") : NULL,
		   *st_s = metric ? api_param_required(req, "StartTime") : NULL,
		   *en_s = st_s ? api_param_required(req, "EndTime") : NULL, *pe = en_s ? api_param_required(req, "Period") : NULL,
		   *want_unit = api_param(req, "Unit");
	struct strbuf dims = STRBUF_INIT;
	static const char *const stat_names[] = { "Average", "Sum", "Minimum", "Maximum", "SampleCount" };
	bool want[5] = { false };
	struct bucket *b = NULL;
	struct dim d[30];
	time_t start, end;
	long period, nb;
	unsigned *idx = NULL;
	sqlite3_stmt *s;
	int nd, n;
	char *e;

	if (!pe)
		return -1;
	period = strtol(pe, &e, 10);
	if (*e || period < 1 || period > 86400 * 7)
		return api_error(req, 400, "InvalidParameterValue", "The parameter Period must be a positive number of "
				 "seconds");
	if (cw_parse_time(st_s, &start) || cw_parse_time(en_s, &end))
		return api_error(req, 400, "InvalidParameterValue", "StartTime and EndTime must be ISO 8601 timestamps");
	if (end <= start)
		return api_error(req, 400, "InvalidParameterCombination", "The parameter StartTime must be less than "
				 "the parameter EndTime.");
	nb = (long)((end - start + period - 1) / period);
	if (nb > CW_MAX_BUCKETS)
		return api_error(req, 400, "InvalidParameterCombination", "You have requested up to %ld datapoints, "
				 "which exceeds the limit of %d.", nb, CW_MAX_BUCKETS);
	n = query_list_indices(&req->params, "Statistics.member", &idx);
	for (int i = 0; i < n; i++) {
		const char *v = query_list_get(&req->params, "Statistics.member", idx[i], NULL);
		bool ok = false;

		for (int k = 0; k < 5; k++)
			if (v && strcmp(v, stat_names[k]) == 0)
				want[k] = ok = true;
		if (!ok) {
			free(idx);
			return api_error(req, 400, "InvalidParameterValue", "The parameter Statistics.member.%d must be "
					 "one of Average, Sum, Minimum, Maximum, SampleCount", i + 1);
		}
	}
	free(idx);
	if (n <= 0 && !api_param(req, "ExtendedStatistics.member.1"))
		return api_error(req, 400, "MissingParameter", "Must specify either Statistics or ExtendedStatistics");
	if (parse_dims(req, &dims, true, d, &nd)) {
		sb_free(&dims);
		return -1;
	}
	b = calloc((size_t)nb, sizeof(*b));
	if (!b || store_tx_begin(st, false)) {
		free(b);
		sb_free(&dims);
		return api_internal(req);
	}
	s = store_prepare(st, "SELECT ts, value, unit FROM cw_data WHERE ns = ? AND metric = ? AND dims = ? AND "
			      "ts >= ? AND ts < ? ORDER BY ts");
	if (s) {
		sqlite3_bind_text(s, 1, ns, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, metric, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 3, sb_cstr(&dims), -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 4, (int64_t)start);
		sqlite3_bind_int64(s, 5, (int64_t)end);
		while (sqlite3_step(s) == SQLITE_ROW) {
			long k = (long)((sqlite3_column_int64(s, 0) - start) / period);
			double v = sqlite3_column_double(s, 1);
			struct bucket *x;

			if (k < 0 || k >= nb || (want_unit && strcmp(want_unit, store_col(s, 2))))
				continue;
			x = &b[k];
			if (!x->n || v < x->min)
				x->min = v;
			if (!x->n || v > x->max)
				x->max = v;
			x->sum += v;
			x->n++;
			snprintf(x->unit, sizeof(x->unit), "%s", store_col(s, 2));
		}
		sqlite3_finalize(s);
	}
	store_tx_end(st, false);
	if (!s) {
		free(b);
		sb_free(&dims);
		return api_internal(req);
	}
	xml_elem(&req->out, "Label", metric);
	sb_puts(&req->out, "<Datapoints>");
	for (long k = 0; k < nb; k++) {
		char t[32];
		double v[5];

		if (!b[k].n)
			continue;
		v[0] = b[k].sum / (double)b[k].n;
		v[1] = b[k].sum;
		v[2] = b[k].min;
		v[3] = b[k].max;
		v[4] = (double)b[k].n;
		sb_puts(&req->out, "<member>");
		api_format_time(start + (time_t)(k * period), t);
		xml_elem(&req->out, "Timestamp", t);
		for (int i = 0; i < 5; i++)
			if (want[i])
				xml_elemf(&req->out, stat_names[i], "%.6g", v[i]);
		xml_elem(&req->out, "Unit", b[k].unit);
		sb_puts(&req->out, "</member>");
	}
	sb_puts(&req->out, "</Datapoints>");
	free(b);
	sb_free(&dims);
	return 0;
}

static const struct api_action actions[] = {
	{ "ListMetrics", h_list_metrics, 0, NULL },
	{ "GetMetricStatistics", h_get_metric_statistics, 0, NULL },
};

const struct api_service cw_service = {
	.name = "monitoring", .prefix = "cloudwatch", .version = "2010-08-01",
	.xmlns = "http://monitoring.amazonaws.com/doc/2010-08-01/", .proto = API_PROTO_QUERY,
	.actions = actions, .n_actions = sizeof(actions) / sizeof(actions[0]),
};

int cw_new(struct api *api, unsigned period_s)
{
	struct cw *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->api = api;
	c->period_s = period_s ? period_s : 60;
	api->cw = c;
	return api_register_service(api, &cw_service);
}

void cw_free(struct api *api)
{
	free(api->cw);
	api->cw = NULL;
}
