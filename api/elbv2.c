/* api/elbv2.c - the ELBv2 API over haneul-lb (see elbv2.h, docs/elbv2.md).
 *
 * Every resource is a row of elb_res (arn, kind, name, parent, doc) whose doc
 * is a JSON object in haneul-lb's own vocabulary where one exists (health
 * check, conditions, redirect and fixed-response fields), so building the
 * data-plane configuration is a walk over the rows.  Registered targets are
 * rows of elb_targets.  Instance targets become the instance's private
 * address inside the default VPC's namespace while the instance is running. */
#include "api/elbv2.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <sys/random.h>

#include "api/iam_cert.h"
#include "api/jdoc.h"
#include "api/stubs.h"
#include "api/xml.h"
#include "common/log.h"
#include "common/netaddr.h"

#define ELB_MAX_LBS 50
#define ELB_MAX_TGS 100
#define ELB_MAX_TARGETS 100   /* per target group */

/* ---- small helpers ------------------------------------------------------------------- */

static void rand_hex(char *out, size_t nhex)
{
	static const char hx[] = "0123456789abcdef";
	unsigned char b[32];

	if (nhex > 64)
		nhex = 64;
	if (getrandom(b, (nhex + 1) / 2, 0) < 0)
		memset(b, 0x5a, sizeof(b));
	for (size_t i = 0; i < nhex; i++)
		out[i] = hx[(b[i / 2] >> ((i & 1) ? 0 : 4)) & 15];
	out[nhex] = '\0';
}

/* Parses a decimal integer parameter in [lo, hi]; absent leaves *out.
 * 0, or -1 after a ValidationError. */
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
		return api_error(req, 400, "ValidationError",
				 "1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: "
				 "Member must have value between %ld and %ld", v, name, lo, hi);
	*out = x;
	return 0;
}

/* AWS names: 1..32 of [A-Za-z0-9-], not starting or ending with '-'. */
static bool name_ok(const char *n)
{
	size_t l = n ? strlen(n) : 0;

	if (l < 1 || l > 32 || n[0] == '-' || n[l - 1] == '-')
		return false;
	return strspn(n, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-") == l;
}

/* ---- the store ----------------------------------------------------------------------- */

/* The doc of arn (of kind), or NULL (not found / error: *err). */
static json_object *doc_get(struct store *st, const char *kind, const char *arn, int *err)
{
	sqlite3_stmt *s = store_prepare(st, "SELECT doc FROM elb_res WHERE arn = ? AND kind = ?");
	json_object *o = NULL;
	int r;

	*err = 0;
	if (!s) {
		*err = -EIO;
		return NULL;
	}
	sqlite3_bind_text(s, 1, arn ? arn : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, kind, -1, SQLITE_STATIC);
	r = sqlite3_step(s);
	if (r == SQLITE_ROW)
		o = json_tokener_parse(store_col(s, 0));
	else if (r != SQLITE_DONE)
		*err = -EIO;
	sqlite3_finalize(s);
	return o;
}

/* All docs of kind (with parent, unless NULL), oldest first, as a new array. */
static json_object *docs_all(struct store *st, const char *kind, const char *parent, int *err)
{
	sqlite3_stmt *s = store_prepare(st, parent ? "SELECT doc FROM elb_res WHERE kind = ? AND parent = ? ORDER BY rowid"
						   : "SELECT doc FROM elb_res WHERE kind = ? ORDER BY rowid");
	json_object *a = json_object_new_array();
	int r;

	*err = 0;
	if (!s) {
		*err = -EIO;
		return a;
	}
	sqlite3_bind_text(s, 1, kind, -1, SQLITE_STATIC);
	if (parent)
		sqlite3_bind_text(s, 2, parent, -1, SQLITE_STATIC);
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		json_object *o = json_tokener_parse(store_col(s, 0));

		if (o)
			json_object_array_add(a, o);
	}
	if (r != SQLITE_DONE)
		*err = -EIO;
	sqlite3_finalize(s);
	return a;
}

static int doc_put(struct store *st, const char *kind, json_object *doc, const char *parent)
{
	sqlite3_stmt *s = store_prepare(st, "INSERT OR REPLACE INTO elb_res(arn, kind, name, parent, doc) "
					    "VALUES (?,?,?,?,?)");
	int r;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, jstr(doc, "arn"), -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, jstr(doc, "name"), -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, parent, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE), -1, SQLITE_TRANSIENT);
	r = sqlite3_step(s);
	sqlite3_finalize(s);
	return r == SQLITE_DONE ? 0 : -EIO;
}

static int count_kind(struct store *st, const char *kind)
{
	sqlite3_stmt *s = store_prepare(st, "SELECT count(*) FROM elb_res WHERE kind = ?");
	int n = -1;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, kind, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return n;
}

/* ---- the data-plane configuration ------------------------------------------------------ */

static json_object *lb_actions(struct store *st, json_object *acts)
{
	json_object *out = json_object_new_array();
	size_t n = acts ? json_object_array_length(acts) : 0;

	for (size_t i = 0; i < n; i++) {
		json_object *a = json_object_array_get_idx(acts, i), *o = json_object_new_object();
		const char *type = jstr(a, "type");

		json_object_object_add(o, "type", json_object_new_string(type ? type : "forward"));
		if (type && strcmp(type, "forward") == 0) {
			json_object *tgs = jobj(a, "tgs"), *arr = json_object_new_array();

			for (size_t j = 0; tgs && j < json_object_array_length(tgs); j++) {
				json_object *t = json_object_array_get_idx(tgs, j), *e = json_object_new_object();
				char name[160] = "";

				elbv2_tg_name(NULL, jstr(t, "arn"), name, sizeof(name));
				(void)st;
				json_object_object_add(e, "name", json_object_new_string(name));
				json_object_object_add(e, "weight", json_object_new_int((int)jint(t, "weight", 1)));
				json_object_array_add(arr, e);
			}
			json_object_object_add(o, "target_groups", arr);
		} else if (type) {
			json_object_object_foreach(a, k, v) {
				if (strcmp(k, "type"))
					json_object_object_add(o, k, json_object_get(v));
			}
		}
		json_object_array_add(out, o);
	}
	return out;
}

/* The whole haneul-lb document from the store (inside a transaction). */
static json_object *build_config(struct elbv2 *x, int *err)
{
	struct store *st = &x->api->store;
	json_object *cfg = json_object_new_object(), *tgs, *lbs, *otgs = json_object_new_array(),
		    *olbs = json_object_new_array();
	sqlite3_stmt *s = NULL;
	int e2 = 0, cert_err = 0;

	tgs = docs_all(st, "tg", NULL, err);
	lbs = docs_all(st, "lb", NULL, &e2);
	if (!*err)
		*err = e2;
	s = store_prepare(st, "SELECT t.id, t.port, i.private_ip, i.state FROM elb_targets t "
			      "LEFT JOIN ec2_instances i ON i.id = t.id WHERE t.tg_arn = ? ORDER BY t.rowid");
	if (!s)
		*err = -EIO;
	for (size_t i = 0; !*err && i < json_object_array_length(tgs); i++) {
		json_object *tg = json_object_array_get_idx(tgs, i), *o = json_object_new_object(),
			    *hc = jobj(tg, "hc"), *targets = json_object_new_array(), *attrs = jobj(tg, "attrs");
		bool tcp = strcmp(jstr(tg, "protocol") ? jstr(tg, "protocol") : "", "TCP") == 0;
		const char *dd = jstr(attrs, "deregistration_delay.timeout_seconds");

		json_object_object_add(o, "name", json_object_new_string(jstr(tg, "name")));
		json_object_object_add(o, "protocol", json_object_new_string(tcp ? "TCP" : "HTTP"));
		json_object_object_add(o, "port", json_object_new_int((int)jint(tg, "port", 80)));
		json_object_object_add(o, "algorithm", json_object_new_string(tcp ? "source_hash" : "round_robin"));
		json_object_object_add(o, "deregistration_delay", json_object_new_int(dd ? atoi(dd) : 300));
		json_object_object_add(o, "health_check", json_object_get(hc));
		sqlite3_reset(s);
		sqlite3_bind_text(s, 1, jstr(tg, "arn"), -1, SQLITE_STATIC);
		while (sqlite3_step(s) == SQLITE_ROW) {
			const char *id = store_col(s, 0), *pip = store_col(s, 2), *state = store_col(s, 3);
			json_object *t;
			uint32_t a;

			if (strncmp(id, "i-", 2) == 0) {
				if (strcmp(state, "running") || !*pip)
					continue; /* reported as unused / Target.InvalidState */
				t = json_object_new_object();
				json_object_object_add(t, "ip", json_object_new_string(pip));
				json_object_object_add(t, "netns", json_object_new_string(x->netns));
			} else {
				if (netaddr_parse_ipv4(id, &a))
					continue;
				t = json_object_new_object();
				json_object_object_add(t, "ip", json_object_new_string(id));
				/* Addresses of the loopback range are host targets (labs, tests);
				 * any other is inside the VPC. */
				json_object_object_add(t, "netns",
						       json_object_new_string((a >> 24) == 127 ? "" : x->netns));
			}
			json_object_object_add(t, "id", json_object_new_string(id));
			json_object_object_add(t, "port", json_object_new_int(sqlite3_column_int(s, 1)));
			json_object_array_add(targets, t);
		}
		json_object_object_add(o, "targets", targets);
		json_object_array_add(otgs, o);
	}
	for (size_t i = 0; !*err && i < json_object_array_length(lbs); i++) {
		json_object *lb = json_object_array_get_idx(lbs, i), *o = json_object_new_object(),
			    *ls, *ols = json_object_new_array();
		const char *it = jstr(jobj(lb, "attrs"), "idle_timeout.timeout_seconds");

		json_object_object_add(o, "name", json_object_new_string(jstr(lb, "name")));
		json_object_object_add(o, "type", json_object_new_string(jstr(lb, "type")));
		json_object_object_add(o, "idle_timeout", json_object_new_int(it ? atoi(it) : 60));
		ls = docs_all(st, "listener", jstr(lb, "arn"), err);
		for (size_t j = 0; !*err && j < json_object_array_length(ls); j++) {
			json_object *l = json_object_array_get_idx(ls, j), *ol = json_object_new_object(),
				    *rules, *orules = json_object_new_array();

			json_object_object_add(ol, "protocol", json_object_new_string(jstr(l, "protocol")));
			json_object_object_add(ol, "address", json_object_new_string(jstr(lb, "address")));
			json_object_object_add(ol, "port", json_object_new_int((int)jint(l, "port", 80)));
			if (jstr(l, "certificate")) {
				char crt[PATH_MAX], key[PATH_MAX];
				/* The key file is written when a listener uses it.  Any
				 * failure (logged) is -EIO: -EINVAL means haneul-lb refused. */
				int cerr = iam_cert_files(x->api, jstr(l, "certificate"), crt, sizeof(crt), key, sizeof(key));

				json_object_object_add(ol, "certificate", json_object_new_string(cerr ? "" : crt));
				json_object_object_add(ol, "key", json_object_new_string(cerr ? "" : key));
				if (cerr)
					cert_err = -EIO;
			}
			json_object_object_add(ol, "default_actions", lb_actions(st, jobj(l, "actions")));
			rules = docs_all(st, "rule", jstr(l, "arn"), err);
			for (size_t k = 0; k < json_object_array_length(rules); k++) {
				json_object *r = json_object_array_get_idx(rules, k), *orl = json_object_new_object();

				json_object_object_add(orl, "priority", json_object_new_int((int)jint(r, "priority", 1)));
				json_object_object_add(orl, "conditions", json_object_get(jobj(r, "conditions")));
				json_object_object_add(orl, "actions", lb_actions(st, jobj(r, "actions")));
				json_object_array_add(orules, orl);
			}
			json_object_put(rules);
			if (cert_err && !*err)
				*err = cert_err;
			json_object_object_add(ol, "rules", orules);
			json_object_array_add(ols, ol);
		}
		json_object_put(ls);
		json_object_object_add(o, "listeners", ols);
		json_object_array_add(olbs, o);
	}
	sqlite3_finalize(s);
	json_object_put(tgs);
	json_object_put(lbs);
	json_object_object_add(cfg, "target_groups", otgs);
	json_object_object_add(cfg, "load_balancers", olbs);
	return cfg;
}

/* Applies cfg if it differs from the last accepted one (or force).  0; -EINVAL
 * with msg when haneul-lb refused it; other -errno when it could not be asked. */
static int apply_config(struct elbv2 *x, json_object *cfg, bool force, char *msg, size_t msglen)
{
	const char *doc = json_object_to_json_string_ext(cfg, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	struct json_object *reply = NULL, *req;
	bool fresh = false;
	int err;

	msg[0] = '\0';
	if (!x->lb_enabled)
		return 0;
	pthread_mutex_lock(&x->mu);
	err = lbsup_ensure(&x->lb, &fresh);
	if (err) {
		pthread_mutex_unlock(&x->mu);
		return err;
	}
	if (fresh) {
		free(x->applied);
		x->applied = NULL;
	}
	if (!force && x->applied && strcmp(x->applied, doc) == 0) {
		pthread_mutex_unlock(&x->mu);
		return 0;
	}
	req = json_object_new_object();
	json_object_object_add(req, "cmd", json_object_new_string("apply"));
	json_object_object_add(req, "config", json_object_get(cfg));
	err = lbsup_call(&x->lb, json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE), 5000, &reply);
	json_object_put(req);
	if (err == -EREMOTEIO) {
		snprintf(msg, msglen, "%s", jstr(reply, "error") ? jstr(reply, "error") : "refused");
		err = -EINVAL;
	} else if (!err) {
		free(x->applied);
		x->applied = strdup(doc);
	} else {
		free(x->applied); /* unknown state: push again next time */
		x->applied = NULL;
	}
	pthread_mutex_unlock(&x->mu);
	json_object_put(reply);
	return err;
}

int elbv2_sync(struct api *api)
{
	struct elbv2 *x = api->elbv2;
	json_object *cfg;
	char msg[256];
	int err, n;

	if (!x || !x->lb_enabled)
		return 0;
	if (store_tx_begin(&api->store, false))
		return -EIO;
	/* haneul-lb runs while there is something for it to do: started with the
	 * first load balancer or target group, stopped after the last one goes
	 * (so an account without load balancers leaves no process behind). */
	n = count_kind(&api->store, "lb") + count_kind(&api->store, "tg");
	if (n == 0) {
		store_tx_end(&api->store, false);
		pthread_mutex_lock(&x->mu);
		if (lbsup_stop(&x->lb))
			log_info("lb: no load balancers or target groups: haneul-lb stopped");
		free(x->applied);
		x->applied = NULL;
		pthread_mutex_unlock(&x->mu);
		return 0;
	}
	cfg = build_config(x, &err);
	store_tx_end(&api->store, false);
	if (!err) {
		err = apply_config(x, cfg, false, msg, sizeof(msg));
		if (err == -EINVAL)
			log_warn("lb: haneul-lb refused the configuration: %s", msg);
	}
	json_object_put(cfg);
	return err;
}

/* Inside the handler's write transaction, before the commit: push the new
 * configuration; when haneul-lb refuses it the handler fails (and rolls
 * back).  An unreachable haneul-lb is not the caller's problem: the fleet
 * thread restarts it and pushes the configuration again. */
static int commit_config(struct api_req *req)
{
	struct elbv2 *x = req->api->elbv2;
	json_object *cfg;
	char msg[256];
	int err;

	if (!x->lb_enabled)
		return 0;
	cfg = build_config(x, &err);
	if (!err)
		err = apply_config(x, cfg, false, msg, sizeof(msg));
	json_object_put(cfg);
	if (err == -EINVAL)
		return api_error(req, 400, "ValidationError", "The load balancer configuration was refused: %s", msg);
	if (err == -EIO)
		return api_internal(req);
	if (err)
		log_warn("lb: haneul-lb not reachable (%s); the fleet thread will retry", strerror(-err));
	return 0;
}

/* Ends the handler's transaction: commit_config, then commit; -1 after an error. */
static int finish(struct api_req *req)
{
	struct store *st = &req->api->store;

	if (commit_config(req)) {
		store_tx_end(st, false);
		if (req->api->elbv2->lb_enabled)
			elbv2_sync(req->api); /* haneul-lb back to the stored state */
		return -1;
	}
	if (store_tx_end(st, true))
		return api_internal(req);
	return 0;
}

/* ---- rendering ------------------------------------------------------------------------ */

static void xml_lb(struct api_req *req, json_object *lb)
{
	struct strbuf *b = &req->out;
	json_object *azs = jobj(lb, "azs"), *sgs = jobj(lb, "sgs");
	char t[32];
	bool app = strcmp(jstr(lb, "type"), "application") == 0;

	sb_puts(b, "<member>");
	xml_elem(b, "LoadBalancerArn", jstr(lb, "arn"));
	xml_elem(b, "DNSName", jstr(lb, "dns"));
	xml_elem(b, "CanonicalHostedZoneId", app ? "ZHANEULALB0001" : "ZHANEULNLB0001");
	api_format_time((time_t)jint(lb, "created", 0), t);
	xml_elem(b, "CreatedTime", t);
	xml_elem(b, "LoadBalancerName", jstr(lb, "name"));
	xml_elem(b, "Scheme", jstr(lb, "scheme"));
	xml_elem(b, "VpcId", jstr(lb, "vpc"));
	sb_puts(b, "<State>");
	xml_elem(b, "Code", req->api->elbv2->lb_enabled && !req->api->elbv2->applied ? "provisioning" : "active");
	sb_puts(b, "</State>");
	xml_elem(b, "Type", jstr(lb, "type"));
	sb_puts(b, "<AvailabilityZones>");
	for (size_t i = 0; azs && i < json_object_array_length(azs); i++) {
		json_object *z = json_object_array_get_idx(azs, i);

		sb_puts(b, "<member>");
		xml_elem(b, "ZoneName", jstr(z, "zone"));
		xml_elem(b, "SubnetId", jstr(z, "subnet"));
		sb_puts(b, "<LoadBalancerAddresses><member>");
		xml_elem(b, "IpAddress", jstr(lb, "address"));
		sb_puts(b, "</member></LoadBalancerAddresses></member>");
	}
	sb_puts(b, "</AvailabilityZones>");
	if (app) {
		sb_puts(b, "<SecurityGroups>");
		for (size_t i = 0; sgs && i < json_object_array_length(sgs); i++)
			xml_elem(b, "member", json_object_get_string(json_object_array_get_idx(sgs, i)));
		sb_puts(b, "</SecurityGroups>");
	}
	xml_elem(b, "IpAddressType", "ipv4");
	sb_puts(b, "</member>");
}

static void xml_tg(struct api_req *req, json_object *tg)
{
	struct strbuf *b = &req->out;
	json_object *hc = jobj(tg, "hc"), *lbs;
	struct store *st = &req->api->store;
	sqlite3_stmt *s;
	const char *port = jstr(hc, "port");

	sb_puts(b, "<member>");
	xml_elem(b, "TargetGroupArn", jstr(tg, "arn"));
	xml_elem(b, "TargetGroupName", jstr(tg, "name"));
	xml_elem(b, "Protocol", jstr(tg, "protocol"));
	xml_elemf(b, "Port", "%d", (int)jint(tg, "port", 80));
	xml_elem(b, "VpcId", jstr(tg, "vpc"));
	xml_elem(b, "HealthCheckProtocol", jstr(hc, "protocol"));
	if (port)
		xml_elem(b, "HealthCheckPort", port);
	else
		xml_elemf(b, "HealthCheckPort", "%d", (int)jint(hc, "port", 80));
	xml_elem(b, "HealthCheckEnabled", json_object_get_boolean(jobj(hc, "enabled")) ? "true" : "false");
	xml_elemf(b, "HealthCheckIntervalSeconds", "%d", (int)jint(hc, "interval", 30));
	xml_elemf(b, "HealthCheckTimeoutSeconds", "%d", (int)jint(hc, "timeout", 6));
	xml_elemf(b, "HealthyThresholdCount", "%d", (int)jint(hc, "healthy_threshold", 5));
	xml_elemf(b, "UnhealthyThresholdCount", "%d", (int)jint(hc, "unhealthy_threshold", 2));
	if (jstr(hc, "path"))
		xml_elem(b, "HealthCheckPath", jstr(hc, "path"));
	if (jstr(hc, "matcher")) {
		sb_puts(b, "<Matcher>");
		xml_elem(b, "HttpCode", jstr(hc, "matcher"));
		sb_puts(b, "</Matcher>");
	}
	/* The load balancers whose listeners or rules forward to it. */
	sb_puts(b, "<LoadBalancerArns>");
	s = store_prepare(st, "SELECT DISTINCT l.parent FROM elb_res l WHERE l.kind = 'listener' AND "
			      "(instr(l.doc, ?) > 0 OR EXISTS (SELECT 1 FROM elb_res r WHERE r.kind = 'rule' AND "
			      "r.parent = l.arn AND instr(r.doc, ?) > 0))");
	if (s) {
		char q[300];

		snprintf(q, sizeof(q), "\"%s\"", jstr(tg, "arn"));
		sqlite3_bind_text(s, 1, q, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(s, 2, q, -1, SQLITE_TRANSIENT);
		while (sqlite3_step(s) == SQLITE_ROW)
			xml_elem(b, "member", store_col(s, 0));
		sqlite3_finalize(s);
	}
	sb_puts(b, "</LoadBalancerArns>");
	xml_elem(b, "TargetType", jstr(tg, "target_type"));
	xml_elem(b, "ProtocolVersion", strcmp(jstr(tg, "protocol"), "TCP") ? "HTTP1" : NULL);
	xml_elem(b, "IpAddressType", "ipv4");
	sb_puts(b, "</member>");
	(void)lbs;
}

static void xml_actions(struct strbuf *b, const char *wrap, json_object *acts)
{
	sb_printf(b, "<%s>", wrap);
	for (size_t i = 0; acts && i < json_object_array_length(acts); i++) {
		json_object *a = json_object_array_get_idx(acts, i), *tgs = jobj(a, "tgs");
		const char *type = jstr(a, "type");

		sb_puts(b, "<member>");
		xml_elem(b, "Type", type);
		if (strcmp(type, "forward") == 0) {
			if (tgs && json_object_array_length(tgs) == 1)
				xml_elem(b, "TargetGroupArn", jstr(json_object_array_get_idx(tgs, 0), "arn"));
			sb_puts(b, "<ForwardConfig><TargetGroups>");
			for (size_t j = 0; tgs && j < json_object_array_length(tgs); j++) {
				json_object *t = json_object_array_get_idx(tgs, j);

				sb_puts(b, "<member>");
				xml_elem(b, "TargetGroupArn", jstr(t, "arn"));
				xml_elemf(b, "Weight", "%d", (int)jint(t, "weight", 1));
				sb_puts(b, "</member>");
			}
			sb_puts(b, "</TargetGroups><TargetGroupStickinessConfig><Enabled>false</Enabled>"
				   "</TargetGroupStickinessConfig></ForwardConfig>");
		} else if (strcmp(type, "redirect") == 0) {
			sb_puts(b, "<RedirectConfig>");
			xml_elem(b, "Protocol", jstr(a, "protocol") ? jstr(a, "protocol") : "#{protocol}");
			xml_elem(b, "Port", jstr(a, "port") ? jstr(a, "port") : "#{port}");
			xml_elem(b, "Host", jstr(a, "host") ? jstr(a, "host") : "#{host}");
			xml_elem(b, "Path", jstr(a, "path") ? jstr(a, "path") : "/#{path}");
			xml_elem(b, "Query", jstr(a, "query") ? jstr(a, "query") : "#{query}");
			xml_elem(b, "StatusCode", jstr(a, "status_code"));
			sb_puts(b, "</RedirectConfig>");
		} else {
			sb_puts(b, "<FixedResponseConfig>");
			if (jstr(a, "message_body"))
				xml_elem(b, "MessageBody", jstr(a, "message_body"));
			xml_elem(b, "StatusCode", jstr(a, "status_code"));
			if (jstr(a, "content_type"))
				xml_elem(b, "ContentType", jstr(a, "content_type"));
			sb_puts(b, "</FixedResponseConfig>");
		}
		xml_elemf(b, "Order", "%zu", i + 1);
		sb_puts(b, "</member>");
	}
	sb_printf(b, "</%s>", wrap);
}

static void xml_listener(struct api_req *req, json_object *l)
{
	struct strbuf *b = &req->out;

	sb_puts(b, "<member>");
	xml_elem(b, "ListenerArn", jstr(l, "arn"));
	xml_elem(b, "LoadBalancerArn", jstr(l, "lb"));
	xml_elemf(b, "Port", "%d", (int)jint(l, "port", 80));
	xml_elem(b, "Protocol", jstr(l, "protocol"));
	if (jstr(l, "certificate")) {
		sb_puts(b, "<Certificates><member>");
		xml_elem(b, "CertificateArn", jstr(l, "certificate"));
		sb_puts(b, "</member></Certificates>");
		xml_elem(b, "SslPolicy", jstr(l, "ssl_policy"));
	}
	xml_actions(b, "DefaultActions", jobj(l, "actions"));
	sb_puts(b, "</member>");
}

static const struct {
	const char *field, *config;
} cond_configs[] = {
	{ "host-header", "HostHeaderConfig" },         { "path-pattern", "PathPatternConfig" },
	{ "http-header", "HttpHeaderConfig" },         { "http-request-method", "HttpRequestMethodConfig" },
	{ "query-string", "QueryStringConfig" },       { "source-ip", "SourceIpConfig" },
};

static void xml_rule(struct api_req *req, json_object *r, json_object *default_actions)
{
	struct strbuf *b = &req->out;
	json_object *conds = jobj(r, "conditions");

	sb_puts(b, "<member>");
	xml_elem(b, "RuleArn", jstr(r, "arn"));
	if (default_actions)
		xml_elem(b, "Priority", "default");
	else
		xml_elemf(b, "Priority", "%d", (int)jint(r, "priority", 1));
	sb_puts(b, "<Conditions>");
	for (size_t i = 0; conds && i < json_object_array_length(conds); i++) {
		json_object *c = json_object_array_get_idx(conds, i), *vals = jobj(c, "values");
		const char *f = jstr(c, "field"), *cfg = NULL;
		bool qs = strcmp(f, "query-string") == 0;

		for (size_t k = 0; k < sizeof(cond_configs) / sizeof(cond_configs[0]); k++)
			if (strcmp(cond_configs[k].field, f) == 0)
				cfg = cond_configs[k].config;
		sb_puts(b, "<member>");
		xml_elem(b, "Field", f);
		if (!strcmp(f, "host-header") || !strcmp(f, "path-pattern")) {
			sb_puts(b, "<Values>");
			for (size_t j = 0; j < json_object_array_length(vals); j++)
				xml_elem(b, "member", json_object_get_string(json_object_array_get_idx(vals, j)));
			sb_puts(b, "</Values>");
		}
		sb_printf(b, "<%s>", cfg);
		if (jstr(c, "header_name"))
			xml_elem(b, "HttpHeaderName", jstr(c, "header_name"));
		sb_puts(b, "<Values>");
		for (size_t j = 0; j < json_object_array_length(vals); j++) {
			json_object *v = json_object_array_get_idx(vals, j);

			if (qs) {
				sb_puts(b, "<member>");
				if (jstr(v, "key"))
					xml_elem(b, "Key", jstr(v, "key"));
				xml_elem(b, "Value", jstr(v, "value"));
				sb_puts(b, "</member>");
			} else {
				xml_elem(b, "member", json_object_get_string(v));
			}
		}
		sb_printf(b, "</Values></%s>", cfg);
		sb_puts(b, "</member>");
	}
	sb_puts(b, "</Conditions>");
	xml_actions(b, "Actions", default_actions ? default_actions : jobj(r, "actions"));
	xml_elem(b, "IsDefault", default_actions ? "true" : "false");
	sb_puts(b, "</member>");
}

/* ---- request parsing ------------------------------------------------------------------ */

/* "P.member.N" values into a new JSON array of strings (NULL on none). */
/* xml_rule() for a rule that is not the default one. */
static void xml_rule_only(struct api_req *req, json_object *r)
{
	xml_rule(req, r, NULL);
}

static json_object *str_list(struct api_req *req, const char *prefix, int *count)
{
	unsigned *idx = NULL;
	int n = query_list_indices(&req->params, prefix, &idx);
	json_object *a;

	*count = n < 0 ? 0 : n;
	if (n <= 0) {
		free(idx);
		return NULL;
	}
	a = json_object_new_array();
	for (int i = 0; i < n; i++) {
		const char *v = query_list_get(&req->params, prefix, idx[i], NULL);

		if (v)
			json_object_array_add(a, json_object_new_string(v));
	}
	free(idx);
	return a;
}

/* Actions from "P.member.N...": a new array or NULL after an error. */
static json_object *parse_actions(struct api_req *req, const char *prefix, bool network)
{
	struct store *st = &req->api->store;
	unsigned *idx = NULL;
	int n = query_list_indices(&req->params, prefix, &idx), err;
	json_object *out = json_object_new_array();
	char p[160];

	if (n <= 0) {
		api_error(req, 400, "ValidationError", "An action must be specified");
		goto fail;
	}
	if (n > 1) {
		api_error(req, 400, "TooManyActions", "haneul supports exactly one action (forward, redirect or "
			  "fixed-response) per listener or rule");
		goto fail;
	}
	for (int i = 0; i < n; i++) {
		const char *type = query_list_get(&req->params, prefix, idx[i], "Type");
		json_object *a = json_object_new_object();

		json_object_array_add(out, a);
		if (!type) {
			api_error(req, 400, "ValidationError", "An action type must be specified");
			goto fail;
		}
		json_object_object_add(a, "type", json_object_new_string(type));
		if (strcmp(type, "forward") == 0) {
			json_object *tgs = json_object_new_array();
			const char *one = query_list_get(&req->params, prefix, idx[i], "TargetGroupArn");
			unsigned *ti = NULL;
			int tn;

			json_object_object_add(a, "tgs", tgs);
			snprintf(p, sizeof(p), "%s.%u.ForwardConfig.TargetGroups.member", prefix, idx[i]);
			tn = query_list_indices(&req->params, p, &ti);
			if (one) {
				json_object *t = json_object_new_object();

				json_object_object_add(t, "arn", json_object_new_string(one));
				json_object_object_add(t, "weight", json_object_new_int(1));
				json_object_array_add(tgs, t);
			}
			for (int j = 0; j < tn && !one; j++) {
				json_object *t = json_object_new_object();
				const char *arn = query_list_get(&req->params, p, ti[j], "TargetGroupArn"),
					   *w = query_list_get(&req->params, p, ti[j], "Weight");
				int wi = w ? atoi(w) : 1;

				json_object_array_add(tgs, t);
				if (!arn || wi < 0 || wi > 999) {
					free(ti);
					api_error(req, 400, "ValidationError",
						  "Each target group needs a TargetGroupArn and a Weight of 0..999");
					goto fail;
				}
				json_object_object_add(t, "arn", json_object_new_string(arn));
				json_object_object_add(t, "weight", json_object_new_int(wi));
			}
			free(ti);
			if (json_object_array_length(tgs) == 0 || json_object_array_length(tgs) > 5) {
				api_error(req, 400, "ValidationError", "A forward action needs 1..5 target groups");
				goto fail;
			}
			for (size_t j = 0; j < json_object_array_length(tgs); j++) {
				const char *arn = jstr(json_object_array_get_idx(tgs, j), "arn");
				json_object *tg = doc_get(st, "tg", arn, &err);
				bool tcp = tg && strcmp(jstr(tg, "protocol"), "TCP") == 0;

				json_object_put(tg);
				if (err) {
					api_internal(req);
					goto fail;
				}
				if (!tg) {
					api_error(req, 400, "TargetGroupNotFound", "Target groups '%s' not found", arn);
					goto fail;
				}
				if (tcp != network) {
					api_error(req, 400, "IncompatibleProtocols",
						  "The protocol of target group '%s' is not compatible with the listener", arn);
					goto fail;
				}
			}
		} else if (strcmp(type, "redirect") == 0 && !network) {
			static const char *const f[][2] = { { "Protocol", "protocol" }, { "Port", "port" },
							     { "Host", "host" },         { "Path", "path" },
							     { "Query", "query" },       { "StatusCode", "status_code" } };

			for (size_t k = 0; k < 6; k++) {
				snprintf(p, sizeof(p), "RedirectConfig.%s", f[k][0]);
				const char *v = query_list_get(&req->params, prefix, idx[i], p);

				if (v)
					json_object_object_add(a, f[k][1], json_object_new_string(v));
			}
			if (!jstr(a, "status_code")) {
				api_error(req, 400, "ValidationError", "A redirect action needs a StatusCode");
				goto fail;
			}
		} else if (strcmp(type, "fixed-response") == 0 && !network) {
			static const char *const f[][2] = { { "FixedResponseConfig.StatusCode", "status_code" },
							     { "FixedResponseConfig.ContentType", "content_type" },
							     { "FixedResponseConfig.MessageBody", "message_body" } };

			for (size_t k = 0; k < 3; k++) {
				const char *v = query_list_get(&req->params, prefix, idx[i], f[k][0]);

				if (v)
					json_object_object_add(a, f[k][1], json_object_new_string(v));
			}
			if (!jstr(a, "status_code")) {
				api_error(req, 400, "ValidationError", "A fixed-response action needs a StatusCode");
				goto fail;
			}
		} else {
			api_error(req, 400, "InvalidConfigurationRequest",
				  "The action type '%s' is not supported %s", type,
				  network ? "by network load balancers" : "by haneul");
			goto fail;
		}
	}
	free(idx);
	return out;
fail:
	free(idx);
	json_object_put(out);
	return NULL;
}

/* Conditions in haneul-lb's form; NULL after an error. */
static json_object *parse_conditions(struct api_req *req)
{
	unsigned *idx = NULL;
	int n = query_list_indices(&req->params, "Conditions.member", &idx), cnt;
	json_object *out = json_object_new_array();
	char p[160];

	if (n < 1 || n > 5) {
		api_error(req, 400, "ValidationError", "A rule needs 1..5 conditions");
		goto fail;
	}
	for (int i = 0; i < n; i++) {
		const char *f = query_list_get(&req->params, "Conditions.member", idx[i], "Field"), *cfg = NULL;
		json_object *c = json_object_new_object(), *vals = NULL;

		json_object_array_add(out, c);
		for (size_t k = 0; f && k < sizeof(cond_configs) / sizeof(cond_configs[0]); k++)
			if (strcmp(cond_configs[k].field, f) == 0)
				cfg = cond_configs[k].config;
		if (!cfg) {
			api_error(req, 400, "ValidationError", "Condition field '%s' is not valid", f ? f : "");
			goto fail;
		}
		json_object_object_add(c, "field", json_object_new_string(f));
		if (strcmp(f, "query-string") == 0) {
			unsigned *qi = NULL;
			int qn;

			snprintf(p, sizeof(p), "Conditions.member.%u.QueryStringConfig.Values.member", idx[i]);
			qn = query_list_indices(&req->params, p, &qi);
			vals = json_object_new_array();
			for (int j = 0; j < qn; j++) {
				json_object *kv = json_object_new_object();
				const char *k = query_list_get(&req->params, p, qi[j], "Key"),
					   *v = query_list_get(&req->params, p, qi[j], "Value");

				if (k)
					json_object_object_add(kv, "key", json_object_new_string(k));
				json_object_object_add(kv, "value", json_object_new_string(v ? v : ""));
				json_object_array_add(vals, kv);
			}
			free(qi);
		} else {
			snprintf(p, sizeof(p), "Conditions.member.%u.%s.Values.member", idx[i], cfg);
			vals = str_list(req, p, &cnt);
			if (!vals) {
				snprintf(p, sizeof(p), "Conditions.member.%u.Values.member", idx[i]);
				vals = str_list(req, p, &cnt);
			}
			if (strcmp(f, "http-header") == 0) {
				snprintf(p, sizeof(p), "Conditions.member.%u.HttpHeaderConfig.HttpHeaderName", idx[i]);
				if (!api_param(req, p)) {
					json_object_put(vals);
					api_error(req, 400, "ValidationError", "An http-header condition needs HttpHeaderName");
					goto fail;
				}
				json_object_object_add(c, "header_name", json_object_new_string(api_param(req, p)));
			}
		}
		if (!vals || json_object_array_length(vals) < 1 || json_object_array_length(vals) > 10) {
			json_object_put(vals);
			api_error(req, 400, "ValidationError", "A '%s' condition needs 1..10 values", f);
			goto fail;
		}
		json_object_object_add(c, "values", vals);
	}
	free(idx);
	return out;
fail:
	free(idx);
	json_object_put(out);
	return NULL;
}

/* ---- load balancers ------------------------------------------------------------------- */

/* Whether some socket on this host listens on address a (host order):
 * another haneuld's haneul-lb would share a port with SO_REUSEPORT. */
static bool host_listens_on(uint32_t a)
{
	FILE *f = fopen("/proc/net/tcp", "r");
	char line[256];
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned int la, lp, ra, rp, st;

		if (sscanf(line, " %*d: %8X:%4X %8X:%4X %2X", &la, &lp, &ra, &rp, &st) == 5 && st == 0x0a)
			found = ntohl(la) == a;
	}
	fclose(f);
	return found;
}

/* The lowest free address of the pool from a point that depends on the data
 * dir, so that two haneulds on one host do not pick the same one. */
static int alloc_address(struct elbv2 *x, struct store *st, char out[16])
{
	struct netaddr_cidr c;
	uint32_t base, used[ELB_MAX_LBS + 1];
	size_t n = 0;
	sqlite3_stmt *s = store_prepare(st, "SELECT doc FROM elb_res WHERE kind = 'lb'");

	if (!s)
		return -EIO;
	while (sqlite3_step(s) == SQLITE_ROW && n < ELB_MAX_LBS) {
		json_object *o = json_tokener_parse(store_col(s, 0));

		if (o && jstr(o, "address") && netaddr_parse_ipv4(jstr(o, "address"), &used[n]) == 0)
			n++;
		json_object_put(o);
	}
	sqlite3_finalize(s);
	netaddr_parse_cidr(ELB_ADDR_POOL, &c, &base);
	for (uint32_t k = 0, span = netaddr_broadcast(&c) - c.net - 1; k < span; k++) {
		uint32_t a = c.net + 1 + (netaddr_hash(x->api->data_dir) % 256 * 256 + k) % span;
		bool taken = (a & 0xff) == 0 || (a & 0xff) == 0xff;

		for (size_t i = 0; i < n && !taken; i++)
			taken = used[i] == a;
		if (!taken && !host_listens_on(a)) {
			netaddr_format_ipv4(a, out);
			return 0;
		}
	}
	return -ENOSPC;
}

static int page(struct api_req *req, size_t total, size_t *from, size_t *to);
static void next_marker(struct api_req *req, size_t to, size_t total);

/* Opens a transaction (write or not) and loads the kind document arn.  The
 * document (the caller puts it) with the transaction still open, or NULL with
 * it closed and the reply set: InternalFailure, or code with "<what> '<arn>'
 * not found" when there is no such document. */
static json_object *tx_doc_get(struct api_req *req, bool write, const char *kind, const char *arn, const char *code,
			       const char *what)
{
	struct store *st = &req->api->store;
	json_object *doc;
	int err;

	if (store_tx_begin(st, write)) {
		api_internal(req);
		return NULL;
	}
	doc = doc_get(st, kind, arn, &err);
	if (err || !doc) {
		store_tx_end(st, false);
		if (err)
			api_internal(req);
		else
			api_error(req, 400, code, "%s '%s' not found", what, arn);
		return NULL;
	}
	return doc;
}

/* After a change in the open write transaction: commits it (finish()) and
 * answers <wrap>doc</wrap> rendered by xml.  Puts doc.  0 or -1. */
static int finish_one(struct api_req *req, json_object *doc, const char *wrap,
		      void (*xml)(struct api_req *, json_object *))
{
	if (finish(req)) {
		json_object_put(doc);
		return -1;
	}
	sb_printf(&req->out, "<%s>", wrap);
	xml(req, doc);
	sb_printf(&req->out, "</%s>", wrap);
	json_object_put(doc);
	return 0;
}

/* Answers one page (Marker/PageSize) of sel as <wrap>...</wrap> rendered by
 * xml, with NextMarker when more remain.  0, or -1 with the error reply set. */
static int write_page(struct api_req *req, json_object *sel, const char *wrap,
		      void (*xml)(struct api_req *, json_object *))
{
	size_t from, to, total = json_object_array_length(sel);

	if (page(req, total, &from, &to))
		return -1;
	sb_printf(&req->out, "<%s>", wrap);
	for (size_t i = from; i < to; i++)
		xml(req, json_object_array_get_idx(sel, i));
	sb_printf(&req->out, "</%s>", wrap);
	next_marker(req, to, total);
	return 0;
}

static int h_create_lb(struct api_req *req)
{
	struct store *st = &req->api->store;
	const char *name = api_param_required(req, "Name"), *type = api_param(req, "Type"),
		   *scheme = api_param(req, "Scheme");
	json_object *lb = NULL, *subnets = NULL, *azs = json_object_new_array(), *sgs;
	char arn[256], id[20], addr[16], dns[200], vpc[64] = "";
	int nsub = 0, nsg, err;
	bool network;
	sqlite3_stmt *s;

	if (!name) {
		json_object_put(azs);
		return -1;
	}
	type = type ? type : "application";
	scheme = scheme ? scheme : "internet-facing";
	network = strcmp(type, "network") == 0;
	if (!network && strcmp(type, "application")) {
		json_object_put(azs);
		return api_error(req, 400, "ValidationError", "Load balancer type '%s' is not supported "
				 "(application or network)", type);
	}
	if (!name_ok(name) || strncasecmp(name, "internal-", 9) == 0) {
		json_object_put(azs);
		return api_error(req, 400, "ValidationError", "Load balancer name '%s' is not valid: 1-32 "
				 "alphanumeric characters or hyphens, not beginning or ending with a hyphen", name);
	}
	if (strcmp(scheme, "internet-facing") && strcmp(scheme, "internal")) {
		json_object_put(azs);
		return api_error(req, 400, "ValidationError", "Scheme must be internet-facing or internal");
	}
	subnets = str_list(req, "Subnets.member", &nsub);
	if (!subnets) {
		unsigned *mi = NULL;
		int mn = query_list_indices(&req->params, "SubnetMappings.member", &mi);

		subnets = json_object_new_array();
		for (int i = 0; i < mn; i++) {
			const char *v = query_list_get(&req->params, "SubnetMappings.member", mi[i], "SubnetId");

			if (v)
				json_object_array_add(subnets, json_object_new_string(v));
		}
		free(mi);
		nsub = (int)json_object_array_length(subnets);
	}
	sgs = str_list(req, "SecurityGroups.member", &nsg);
	if (!sgs)
		sgs = json_object_new_array();
	if (store_tx_begin(st, true)) {
		err = api_internal(req);
		goto out;
	}
	err = store_exists(st, "SELECT 1 FROM elb_res WHERE kind = 'lb' AND name = ?", name, NULL);
	if (err) {
		err = err < 0 ? api_internal(req)
			      : api_error(req, 400, "DuplicateLoadBalancerName", "A load balancer with the same name '%s' "
					  "exists, but with different settings", name);
		goto fail_tx;
	}
	if (count_kind(st, "lb") >= ELB_MAX_LBS) {
		err = api_error(req, 400, "TooManyLoadBalancers", "The quota for the number of load balancers "
				"(%d) has been reached", ELB_MAX_LBS);
		goto fail_tx;
	}
	if (nsub < (network ? 1 : 2)) {
		err = api_error(req, 400, "ValidationError", network ? "At least one subnet must be specified" :
				"At least two subnets in two different Availability Zones must be specified");
		goto fail_tx;
	}
	s = store_prepare(st, "SELECT vpc_id, az FROM ec2_subnets WHERE id = ?");
	for (int i = 0; s && i < nsub; i++) {
		const char *sub = json_object_get_string(json_object_array_get_idx(subnets, i));
		json_object *z;

		sqlite3_reset(s);
		sqlite3_bind_text(s, 1, sub, -1, SQLITE_STATIC);
		if (sqlite3_step(s) != SQLITE_ROW) {
			sqlite3_finalize(s);
			err = api_error(req, 400, "SubnetNotFound", "The subnet ID '%s' is not valid", sub);
			goto fail_tx;
		}
		for (size_t k = 0; k < json_object_array_length(azs); k++)
			if (strcmp(jstr(json_object_array_get_idx(azs, k), "zone"), store_col(s, 1)) == 0) {
				sqlite3_finalize(s);
				err = api_error(req, 400, "InvalidConfigurationRequest",
						"You cannot specify multiple subnets in the same Availability Zone");
				goto fail_tx;
			}
		snprintf(vpc, sizeof(vpc), "%s", store_col(s, 0));
		z = json_object_new_object();
		json_object_object_add(z, "zone", json_object_new_string(store_col(s, 1)));
		json_object_object_add(z, "subnet", json_object_new_string(sub));
		json_object_array_add(azs, z);
	}
	if (!s) {
		err = api_internal(req);
		goto fail_tx;
	}
	sqlite3_finalize(s);
	err = alloc_address(req->api->elbv2, st, addr);
	if (err) {
		err = err == -ENOSPC ? api_error(req, 400, "TooManyLoadBalancers", "No listener address left")
				     : api_internal(req);
		goto fail_tx;
	}
	rand_hex(id, 16);
	snprintf(arn, sizeof(arn), "arn:aws:elasticloadbalancing:%s:%s:loadbalancer/%s/%s/%s", req->api->region,
		 req->api->account_id, network ? "net" : "app", name, id);
	/* The DNS name is informational (nothing resolves it here); the address
	 * is in AvailabilityZones[].LoadBalancerAddresses. */
	snprintf(dns, sizeof(dns), "%s%s-%.10s.elb.%s.haneul.internal", strcmp(scheme, "internal") ? "" : "internal-",
		 name, id, req->api->region);
	lb = json_object_new_object();
	json_object_object_add(lb, "arn", json_object_new_string(arn));
	json_object_object_add(lb, "name", json_object_new_string(name));
	json_object_object_add(lb, "type", json_object_new_string(type));
	json_object_object_add(lb, "scheme", json_object_new_string(scheme));
	json_object_object_add(lb, "address", json_object_new_string(addr));
	json_object_object_add(lb, "dns", json_object_new_string(dns));
	json_object_object_add(lb, "vpc", json_object_new_string(vpc));
	json_object_object_add(lb, "azs", json_object_get(azs));
	json_object_object_add(lb, "sgs", json_object_get(sgs));
	json_object_object_add(lb, "created", json_object_new_int64(req->api->now()));
	json_object_object_add(lb, "attrs", json_object_new_object());
	if (doc_put(st, "lb", lb, NULL)) {
		err = api_internal(req);
		goto fail_tx;
	}
	err = finish(req);
	if (!err) {
		sb_puts(&req->out, "<LoadBalancers>");
		xml_lb(req, lb);
		sb_puts(&req->out, "</LoadBalancers>");
		log_info("elbv2: load balancer %s (%s) on %s", name, type, addr);
	}
	goto out;
fail_tx:
	store_tx_end(st, false);
out:
	json_object_put(lb);
	json_object_put(azs);
	json_object_put(sgs);
	json_object_put(subnets);
	return err ? -1 : 0;
}

/* Pagination over an array of docs: Marker = index. */
static int page(struct api_req *req, size_t total, size_t *from, size_t *to)
{
	long ps = 400, mk = 0;

	if (int_param(req, "PageSize", 1, 400, &ps))
		return -1;
	if (api_param(req, "Marker")) {
		char *end;

		mk = strtol(api_param(req, "Marker"), &end, 10);
		if (*end || mk < 0 || (size_t)mk > total)
			return api_error(req, 400, "ValidationError", "Invalid Marker");
	}
	*from = (size_t)mk;
	*to = *from + (size_t)ps < total ? *from + (size_t)ps : total;
	return 0;
}

static void next_marker(struct api_req *req, size_t to, size_t total)
{
	if (to < total)
		xml_elemf(&req->out, "NextMarker", "%zu", to);
}

/* Filters docs by a list of ARNs / names; NotFound for any missing one. */
static json_object *select_docs(struct api_req *req, json_object *all, const char *arn_list, const char *name_list,
				const char *notfound_code, const char *what)
{
	int na = 0, nn = 0;
	json_object *arns = str_list(req, arn_list, &na), *names = name_list ? str_list(req, name_list, &nn) : NULL,
		    *want = arns ? arns : names, *out;
	const char *key = arns ? "arn" : "name";

	if (!want)
		return json_object_get(all);
	out = json_object_new_array();
	for (size_t i = 0; i < json_object_array_length(want); i++) {
		const char *w = json_object_get_string(json_object_array_get_idx(want, i));
		bool found = false;

		for (size_t j = 0; j < json_object_array_length(all) && !found; j++) {
			json_object *d = json_object_array_get_idx(all, j);

			if (jstr(d, key) && strcmp(jstr(d, key), w) == 0) {
				json_object_array_add(out, json_object_get(d));
				found = true;
			}
		}
		if (!found) {
			api_error(req, 400, notfound_code, "%s '%s' not found", what, w);
			json_object_put(out);
			out = NULL;
			break;
		}
	}
	json_object_put(arns);
	json_object_put(names);
	return out;
}

static int h_describe_lbs(struct api_req *req)
{
	struct store *st = &req->api->store;
	json_object *all, *sel;
	int err;

	if (store_tx_begin(st, false))
		return api_internal(req);
	all = docs_all(st, "lb", NULL, &err);
	if (err) {
		store_tx_end(st, false);
		json_object_put(all);
		return api_internal(req);
	}
	sel = select_docs(req, all, "LoadBalancerArns.member", "Names.member", "LoadBalancerNotFound",
			  "Load balancers");
	json_object_put(all);
	err = !sel || write_page(req, sel, "LoadBalancers", xml_lb) ? -1 : 0;
	store_tx_end(st, false);
	json_object_put(sel);
	return err;
}

static int h_delete_lb(struct api_req *req)
{
	struct store *st = &req->api->store;
	const char *arn = api_param_required(req, "LoadBalancerArn");
	json_object *lb;
	int err;

	if (!arn)
		return -1;
	if (store_tx_begin(st, true))
		return api_internal(req);
	lb = doc_get(st, "lb", arn, &err);
	if (err || !lb) {
		store_tx_end(st, false);
		/* Deleting a load balancer that does not exist succeeds (AWS). */
		return err ? api_internal(req) : 0;
	}
	if (strcmp(jstr(jobj(lb, "attrs"), "deletion_protection.enabled") ? jstr(jobj(lb, "attrs"),
		   "deletion_protection.enabled") : "false", "true") == 0) {
		json_object_put(lb);
		store_tx_end(st, false);
		return api_error(req, 400, "OperationNotPermitted", "Load balancer '%s' cannot be deleted because "
				 "deletion protection is enabled", arn);
	}
	json_object_put(lb);
	if (store_exec(st, "DELETE FROM elb_res WHERE kind = 'rule' AND parent IN (SELECT arn FROM elb_res WHERE "
		      "kind = 'listener' AND parent = ?)", arn, NULL) ||
	    store_exec(st, "DELETE FROM elb_res WHERE kind = 'listener' AND parent = ?", arn, NULL) ||
	    store_exec(st, "DELETE FROM elb_res WHERE arn = ?", arn, NULL)) {
		store_tx_end(st, false);
		return api_internal(req);
	}
	return finish(req);
}

static const char *const lb_attr_keys[] = { "idle_timeout.timeout_seconds", "deletion_protection.enabled",
					    "routing.http2.enabled", "access_logs.s3.enabled",
					    "load_balancing.cross_zone.enabled" };
static const char *const lb_attr_defaults[] = { "60", "false", "true", "false", "true" };

static void xml_attrs(struct api_req *req, json_object *attrs, const char *const *keys, const char *const *defs,
		      size_t n)
{
	sb_puts(&req->out, "<Attributes>");
	for (size_t i = 0; i < n; i++) {
		sb_puts(&req->out, "<member>");
		xml_elem(&req->out, "Key", keys[i]);
		xml_elem(&req->out, "Value", jstr(attrs, keys[i]) ? jstr(attrs, keys[i]) : defs[i]);
		sb_puts(&req->out, "</member>");
	}
	sb_puts(&req->out, "</Attributes>");
}

/* Attributes.member.N.Key/Value into attrs (validated by check). */
static int parse_attrs(struct api_req *req, json_object *attrs, const char *const *keys, size_t nkeys,
		       int (*check)(struct api_req *req, const char *k, const char *v))
{
	unsigned *idx = NULL;
	int n = query_list_indices(&req->params, "Attributes.member", &idx);

	if (n <= 0) {
		free(idx);
		return api_error(req, 400, "ValidationError", "Attributes must be specified");
	}
	for (int i = 0; i < n; i++) {
		const char *k = query_list_get(&req->params, "Attributes.member", idx[i], "Key"),
			   *v = query_list_get(&req->params, "Attributes.member", idx[i], "Value");
		bool known = false;

		for (size_t j = 0; k && j < nkeys; j++)
			known = known || strcmp(keys[j], k) == 0;
		if (!known || !v) {
			free(idx);
			return api_error(req, 400, "InvalidConfigurationRequest", "Attribute key '%s' is not recognized",
					 k ? k : "");
		}
		if (check(req, k, v)) {
			free(idx);
			return -1;
		}
		json_object_object_add(attrs, k, json_object_new_string(v));
	}
	free(idx);
	return 0;
}

static int range_check(struct api_req *req, const char *k, const char *v, long lo, long hi)
{
	char *end;
	long x = strtol(v, &end, 10);

	if (!*v || *end || x < lo || x > hi)
		return api_error(req, 400, "InvalidConfigurationRequest", "The value of '%s' must be %ld..%ld", k, lo,
				 hi);
	return 0;
}

static int bool_check(struct api_req *req, const char *k, const char *v)
{
	if (strcmp(v, "true") && strcmp(v, "false"))
		return api_error(req, 400, "InvalidConfigurationRequest", "The value of '%s' must be true or false", k);
	return 0;
}

static int lb_attr_check(struct api_req *req, const char *k, const char *v)
{
	if (strcmp(k, "idle_timeout.timeout_seconds") == 0)
		return range_check(req, k, v, 1, 4000);
	return bool_check(req, k, v);
}

static int h_lb_attrs(struct api_req *req, bool modify)
{
	struct store *st = &req->api->store;
	const char *arn = api_param_required(req, "LoadBalancerArn");
	json_object *lb, *attrs;

	if (!arn)
		return -1;
	lb = tx_doc_get(req, modify, "lb", arn, "LoadBalancerNotFound", "Load balancer");
	if (!lb)
		return -1;
	attrs = jobj(lb, "attrs");
	if (modify && (parse_attrs(req, attrs, lb_attr_keys, 5, lb_attr_check) || doc_put(st, "lb", lb, NULL) ||
		       finish(req))) {
		if (!req->err_status) {
			store_tx_end(st, false);
			api_internal(req);
		} else if (st->db && !sqlite3_get_autocommit(st->db)) {
			store_tx_end(st, false);
		}
		json_object_put(lb);
		return -1;
	}
	if (!modify)
		store_tx_end(st, false);
	xml_attrs(req, attrs, lb_attr_keys, lb_attr_defaults, 5);
	json_object_put(lb);
	return 0;
}

static int h_describe_lb_attrs(struct api_req *req) { return h_lb_attrs(req, false); }
static int h_modify_lb_attrs(struct api_req *req) { return h_lb_attrs(req, true); }

/* ---- target groups -------------------------------------------------------------------- */

/* Health-check settings from the request into hc (defaults already there). */
static int parse_hc(struct api_req *req, json_object *hc, bool tcp)
{
	long interval = jint(hc, "interval", 30), timeout = jint(hc, "timeout", tcp ? 10 : 6),
	     healthy = jint(hc, "healthy_threshold", 5), unhealthy = jint(hc, "unhealthy_threshold", 2);
	const char *proto = api_param(req, "HealthCheckProtocol"), *port = api_param(req, "HealthCheckPort"),
		   *path = api_param(req, "HealthCheckPath"), *en = api_param(req, "HealthCheckEnabled"),
		   *matcher = api_param(req, "Matcher.HttpCode");

	if (int_param(req, "HealthCheckIntervalSeconds", 5, 300, &interval) ||
	    int_param(req, "HealthCheckTimeoutSeconds", 2, 120, &timeout) ||
	    int_param(req, "HealthyThresholdCount", 2, 10, &healthy) ||
	    int_param(req, "UnhealthyThresholdCount", 2, 10, &unhealthy))
		return -1;
	if (timeout >= interval && !api_param(req, "HealthCheckTimeoutSeconds"))
		timeout = interval - 1 < 2 ? 2 : interval - 1; /* a default timeout follows a short interval */
	if (timeout >= interval)
		return api_error(req, 400, "ValidationError", "Health check interval must be greater than the timeout.");
	if (proto) {
		if (strcmp(proto, "HTTP") && strcmp(proto, "TCP"))
			return api_error(req, 400, "ValidationError", "Health check protocol '%s' is not supported "
					 "(HTTP or TCP)", proto);
		if (!tcp && strcmp(proto, "TCP") == 0)
			return api_error(req, 400, "ValidationError", "Health check protocol TCP is not supported for "
					 "target groups with the HTTP protocol");
		json_object_object_add(hc, "protocol", json_object_new_string(proto));
	}
	if (port) {
		char *end;
		long p = strtol(port, &end, 10);

		if (strcmp(port, "traffic-port") && (*end || p < 1 || p > 65535))
			return api_error(req, 400, "ValidationError", "Health check port '%s' is not valid", port);
		json_object_object_add(hc, "port", json_object_new_string(port));
	}
	if (path) {
		if (path[0] != '/' || strlen(path) > 1024 || strpbrk(path, " \r\n"))
			return api_error(req, 400, "ValidationError", "Health check path must begin with '/' and be at "
					 "most 1024 characters");
		json_object_object_add(hc, "path", json_object_new_string(path));
	}
	if (en) {
		if (bool_check(req, "HealthCheckEnabled", en))
			return -1;
		json_object_object_add(hc, "enabled", json_object_new_boolean(strcmp(en, "true") == 0));
	}
	if (matcher) {
		if (strlen(matcher) > 64 || strspn(matcher, "0123456789,-") != strlen(matcher) ||
		    atoi(matcher) < 200 || atoi(matcher) > 499)
			return api_error(req, 400, "ValidationError", "Health check matcher HTTP code '%s' must be "
					 "within '200-499'", matcher);
		json_object_object_add(hc, "matcher", json_object_new_string(matcher));
	}
	json_object_object_add(hc, "interval", json_object_new_int((int)interval));
	json_object_object_add(hc, "timeout", json_object_new_int((int)timeout));
	json_object_object_add(hc, "healthy_threshold", json_object_new_int((int)healthy));
	json_object_object_add(hc, "unhealthy_threshold", json_object_new_int((int)unhealthy));
	if (strcmp(jstr(hc, "protocol"), "TCP") == 0) {
		json_object_object_del(hc, "path");
		json_object_object_del(hc, "matcher");
	} else {
		if (!jstr(hc, "path"))
			json_object_object_add(hc, "path", json_object_new_string("/"));
		if (!jstr(hc, "matcher"))
			json_object_object_add(hc, "matcher", json_object_new_string(tcp ? "200-399" : "200"));
	}
	return 0;
}

static int h_create_tg(struct api_req *req)
{
	struct store *st = &req->api->store;
	const char *name = api_param_required(req, "Name"), *proto = api_param(req, "Protocol"),
		   *vpc = api_param(req, "VpcId"), *tt = api_param(req, "TargetType");
	json_object *tg = NULL, *hc, *old;
	long port = 0;
	char arn[256], id[20];
	bool tcp;
	int err;

	if (!name)
		return -1;
	tt = tt ? tt : "instance";
	if (!name_ok(name))
		return api_error(req, 400, "ValidationError", "Target group name '%s' is not valid: 1-32 alphanumeric "
				 "characters or hyphens, not beginning or ending with a hyphen", name);
	if (strcmp(tt, "instance") && strcmp(tt, "ip"))
		return api_error(req, 400, "ValidationError", "Target type '%s' is not supported (instance or ip)", tt);
	if (!proto || !vpc)
		return api_error(req, 400, "ValidationError", "A protocol, port and VPC ID are required for target "
				 "groups of type '%s'", tt);
	if (strcmp(proto, "HTTP") && strcmp(proto, "TCP"))
		return api_error(req, 400, "ValidationError", "Protocol '%s' is not supported (HTTP or TCP)", proto);
	tcp = strcmp(proto, "TCP") == 0;
	if (!api_param(req, "Port"))
		return api_error(req, 400, "ValidationError", "A port is required for target groups of type '%s'", tt);
	if (int_param(req, "Port", 1, 65535, &port))
		return -1;
	hc = json_object_new_object();
	json_object_object_add(hc, "enabled", json_object_new_boolean(1));
	json_object_object_add(hc, "protocol", json_object_new_string(tcp ? "TCP" : "HTTP"));
	json_object_object_add(hc, "port", json_object_new_string("traffic-port"));
	if (parse_hc(req, hc, tcp)) {
		json_object_put(hc);
		return -1;
	}
	if (store_tx_begin(st, true)) {
		json_object_put(hc);
		return api_internal(req);
	}
	err = store_exists(st, "SELECT 1 FROM ec2_vpcs WHERE id = ?", vpc, NULL);
	if (err <= 0) {
		json_object_put(hc);
		store_tx_end(st, false);
		return err < 0 ? api_internal(req)
			       : api_error(req, 400, "ValidationError", "The VPC ID '%s' is not found", vpc);
	}
	{
		sqlite3_stmt *s = store_prepare(st, "SELECT doc FROM elb_res WHERE kind = 'tg' AND name = ?");

		old = NULL;
		if (s) {
			sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
			if (sqlite3_step(s) == SQLITE_ROW)
				old = json_tokener_parse(store_col(s, 0));
			sqlite3_finalize(s);
		}
	}
	if (old) {
		/* Same settings: AWS answers the existing group. */
		bool same = strcmp(jstr(old, "protocol"), proto) == 0 && jint(old, "port", 0) == port &&
			    strcmp(jstr(old, "vpc"), vpc) == 0;

		store_tx_end(st, false);
		json_object_put(hc);
		if (!same) {
			json_object_put(old);
			return api_error(req, 400, "DuplicateTargetGroupName", "A target group with the same name '%s' "
					 "exists, but with different settings", name);
		}
		sb_puts(&req->out, "<TargetGroups>");
		xml_tg(req, old);
		sb_puts(&req->out, "</TargetGroups>");
		json_object_put(old);
		return 0;
	}
	if (count_kind(st, "tg") >= ELB_MAX_TGS) {
		json_object_put(hc);
		store_tx_end(st, false);
		return api_error(req, 400, "TooManyTargetGroups", "The quota for the number of target groups (%d) has "
				 "been reached", ELB_MAX_TGS);
	}
	rand_hex(id, 16);
	snprintf(arn, sizeof(arn), "arn:aws:elasticloadbalancing:%s:%s:targetgroup/%s/%s", req->api->region,
		 req->api->account_id, name, id);
	tg = json_object_new_object();
	json_object_object_add(tg, "arn", json_object_new_string(arn));
	json_object_object_add(tg, "name", json_object_new_string(name));
	json_object_object_add(tg, "protocol", json_object_new_string(proto));
	json_object_object_add(tg, "port", json_object_new_int((int)port));
	json_object_object_add(tg, "vpc", json_object_new_string(vpc));
	json_object_object_add(tg, "target_type", json_object_new_string(tt));
	json_object_object_add(tg, "hc", hc);
	json_object_object_add(tg, "attrs", json_object_new_object());
	json_object_object_add(tg, "created", json_object_new_int64(req->api->now()));
	if (doc_put(st, "tg", tg, NULL)) {
		store_tx_end(st, false);
		json_object_put(tg);
		return api_internal(req);
	}
	return finish_one(req, tg, "TargetGroups", xml_tg);
}

static int h_describe_tgs(struct api_req *req)
{
	struct store *st = &req->api->store;
	const char *lb = api_param(req, "LoadBalancerArn");
	json_object *all, *sel;
	size_t from, to;
	int err;

	if (store_tx_begin(st, false))
		return api_internal(req);
	all = docs_all(st, "tg", NULL, &err);
	if (err) {
		store_tx_end(st, false);
		json_object_put(all);
		return api_internal(req);
	}
	sel = select_docs(req, all, "TargetGroupArns.member", "Names.member", "TargetGroupNotFound",
			  "Target groups");
	json_object_put(all);
	if (!sel || page(req, json_object_array_length(sel), &from, &to)) {
		store_tx_end(st, false);
		json_object_put(sel);
		return -1;
	}
	sb_puts(&req->out, "<TargetGroups>");
	for (size_t i = from; i < to; i++) {
		json_object *tg = json_object_array_get_idx(sel, i);
		size_t mark = req->out.len;

		xml_tg(req, tg);
		if (lb) {
			/* Only those forwarded to by that load balancer. */
			char needle[300];

			snprintf(needle, sizeof(needle), "<member>%s</member>", lb);
			if (!strstr(sb_cstr(&req->out) + mark, needle))
				req->out.len = mark;
		}
	}
	sb_puts(&req->out, "</TargetGroups>");
	next_marker(req, to, json_object_array_length(sel));
	store_tx_end(st, false);
	json_object_put(sel);
	return 0;
}

static int h_modify_tg(struct api_req *req)
{
	struct store *st = &req->api->store;
	const char *arn = api_param_required(req, "TargetGroupArn");
	json_object *tg;

	if (!arn)
		return -1;
	tg = tx_doc_get(req, true, "tg", arn, "TargetGroupNotFound", "Target groups");
	if (!tg)
		return -1;
	if (parse_hc(req, jobj(tg, "hc"), strcmp(jstr(tg, "protocol"), "TCP") == 0)) {
		store_tx_end(st, false);
		json_object_put(tg);
		return -1;
	}
	if (doc_put(st, "tg", tg, NULL)) {
		store_tx_end(st, false);
		json_object_put(tg);
		return api_internal(req);
	}
	return finish_one(req, tg, "TargetGroups", xml_tg);
}

static int h_delete_tg(struct api_req *req)
{
	struct store *st = &req->api->store;
	const char *arn = api_param_required(req, "TargetGroupArn");
	char q[300];
	int used;

	if (!arn)
		return -1;
	if (store_tx_begin(st, true))
		return api_internal(req);
	snprintf(q, sizeof(q), "\"%s\"", arn);
	used = store_exists(st, "SELECT 1 FROM elb_res WHERE kind IN ('listener','rule') AND instr(doc, ?) > 0", q, NULL);
	if (used == 0)
		used = store_exists(st, "SELECT 1 FROM asg_groups WHERE instr(doc, ?) > 0", q, NULL);
	if (used) {
		store_tx_end(st, false);
		return used < 0 ? api_internal(req)
				: api_error(req, 400, "ResourceInUse", "Target group '%s' is currently in use by a "
					    "listener, a rule or an Auto Scaling group", arn);
	}
	if (store_exec(st, "DELETE FROM elb_targets WHERE tg_arn = ?", arn, NULL) ||
	    store_exec(st, "DELETE FROM elb_res WHERE kind = 'tg' AND arn = ?", arn, NULL)) {
		store_tx_end(st, false);
		return api_internal(req);
	}
	return finish(req);
}

static const char *const tg_attr_keys[] = { "deregistration_delay.timeout_seconds", "stickiness.enabled",
					    "stickiness.type", "load_balancing.algorithm.type",
					    "slow_start.duration_seconds" };
static const char *const tg_attr_defaults[] = { "300", "false", "lb_cookie", "round_robin", "0" };

static int tg_attr_check(struct api_req *req, const char *k, const char *v)
{
	if (strcmp(k, "deregistration_delay.timeout_seconds") == 0)
		return range_check(req, k, v, 0, 3600);
	if (strcmp(k, "stickiness.enabled") == 0) {
		if (bool_check(req, k, v))
			return -1;
		if (strcmp(v, "true") == 0)
			return api_error(req, 400, "InvalidConfigurationRequest", "Stickiness is not supported by haneul");
		return 0;
	}
	if (strcmp(k, "slow_start.duration_seconds") == 0)
		return strcmp(v, "0") ? api_error(req, 400, "InvalidConfigurationRequest",
						  "Slow start is not supported by haneul") : 0;
	if (strcmp(k, "load_balancing.algorithm.type") == 0 && strcmp(v, "round_robin"))
		return api_error(req, 400, "InvalidConfigurationRequest", "Only round_robin is supported");
	if (strcmp(k, "stickiness.type") == 0 && strcmp(v, "lb_cookie") && strcmp(v, "source_ip"))
		return api_error(req, 400, "InvalidConfigurationRequest", "Bad stickiness.type");
	return 0;
}

static int h_tg_attrs(struct api_req *req, bool modify)
{
	struct store *st = &req->api->store;
	const char *arn = api_param_required(req, "TargetGroupArn");
	json_object *tg;

	if (!arn)
		return -1;
	tg = tx_doc_get(req, modify, "tg", arn, "TargetGroupNotFound", "Target groups");
	if (!tg)
		return -1;
	if (modify) {
		if (parse_attrs(req, jobj(tg, "attrs"), tg_attr_keys, 5, tg_attr_check)) {
			store_tx_end(st, false);
			json_object_put(tg);
			return -1;
		}
		if (doc_put(st, "tg", tg, NULL)) {
			store_tx_end(st, false);
			json_object_put(tg);
			return api_internal(req);
		}
		if (finish(req)) {
			json_object_put(tg);
			return -1;
		}
	} else {
		store_tx_end(st, false);
	}
	xml_attrs(req, jobj(tg, "attrs"), tg_attr_keys, tg_attr_defaults, 5);
	json_object_put(tg);
	return 0;
}

static int h_describe_tg_attrs(struct api_req *req) { return h_tg_attrs(req, false); }
static int h_modify_tg_attrs(struct api_req *req) { return h_tg_attrs(req, true); }

/* ---- targets -------------------------------------------------------------------------- */

int elbv2_target_set(struct api *api, const char *tg_arn, const char *id, bool registered)
{
	struct store *st = &api->store;
	json_object *tg;
	sqlite3_stmt *s;
	int err, r;

	tg = doc_get(st, "tg", tg_arn, &err);
	if (err || !tg)
		return err ? err : -ENOENT;
	s = store_prepare(st, registered ? "INSERT OR IGNORE INTO elb_targets(tg_arn, id, port) VALUES (?,?,?)"
					 : "DELETE FROM elb_targets WHERE tg_arn = ? AND id = ? AND port = ?");
	if (!s) {
		json_object_put(tg);
		return -EIO;
	}
	sqlite3_bind_text(s, 1, tg_arn, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 3, (int)jint(tg, "port", 80));
	r = sqlite3_step(s);
	sqlite3_finalize(s);
	json_object_put(tg);
	return r == SQLITE_DONE ? 0 : -EIO;
}

bool elbv2_tg_exists(struct api *api, const char *tg_arn)
{
	return store_exists(&api->store, "SELECT 1 FROM elb_res WHERE kind = 'tg' AND arn = ?", tg_arn, NULL) == 1;
}

int elbv2_tg_name(struct api *api, const char *tg_arn, char *name, size_t n)
{
	/* The name is the ARN's "targetgroup/NAME/ID" middle part. */
	const char *p = tg_arn ? strstr(tg_arn, ":targetgroup/") : NULL, *e;

	(void)api;
	if (!p)
		return -ENOENT;
	p += 13;
	e = strchr(p, '/');
	if (!e)
		return -ENOENT;
	snprintf(name, n, "%.*s", (int)(e - p), p);
	return 0;
}

struct tgt {
	char id[64];
	long port;
	char az[40];
};

/* Targets.member.N: ids and ports (port default: the group's). */
static int parse_targets(struct api_req *req, long defport, struct tgt **out, int *count)
{
	unsigned *idx = NULL;
	int n = query_list_indices(&req->params, "Targets.member", &idx);
	struct tgt *v;

	*out = NULL;
	*count = 0;
	if (n < 0 || n > ELB_MAX_TARGETS) {
		free(idx);
		return api_error(req, 400, "TooManyTargets", "At most %d targets per call", ELB_MAX_TARGETS);
	}
	v = calloc((size_t)n + 1, sizeof(*v));
	if (!v) {
		free(idx);
		return api_internal(req);
	}
	for (int i = 0; i < n; i++) {
		const char *id = query_list_get(&req->params, "Targets.member", idx[i], "Id"),
			   *port = query_list_get(&req->params, "Targets.member", idx[i], "Port");
		char *end;

		if (!id || strlen(id) >= sizeof(v[i].id)) {
			free(idx);
			free(v);
			return api_error(req, 400, "ValidationError", "A target needs an Id");
		}
		snprintf(v[i].id, sizeof(v[i].id), "%s", id);
		v[i].port = defport;
		if (port) {
			v[i].port = strtol(port, &end, 10);
			if (*end || v[i].port < 1 || v[i].port > 65535) {
				free(idx);
				free(v);
				return api_error(req, 400, "ValidationError", "Target port '%s' must be 1..65535", port);
			}
		}
	}
	free(idx);
	*out = v;
	*count = n;
	return 0;
}

static int h_targets(struct api_req *req, bool reg)
{
	struct store *st = &req->api->store;
	const char *arn = api_param_required(req, "TargetGroupArn");
	struct tgt *t = NULL;
	json_object *tg;
	sqlite3_stmt *s = NULL;
	int n, err;
	bool ip;

	if (!arn)
		return -1;
	tg = tx_doc_get(req, true, "tg", arn, "TargetGroupNotFound", "Target groups");
	if (!tg)
		return -1;
	ip = strcmp(jstr(tg, "target_type"), "ip") == 0;
	if (parse_targets(req, jint(tg, "port", 80), &t, &n))
		goto fail;
	if (n == 0) {
		api_error(req, 400, "ValidationError", "Targets must be specified");
		goto fail;
	}
	for (int i = 0; i < n; i++) {
		uint32_t a;

		if (reg && ip && netaddr_parse_ipv4(t[i].id, &a)) {
			api_error(req, 400, "ValidationError", "The IP address '%s' is not a valid IPv4 address", t[i].id);
			goto fail;
		}
		if (reg && !ip) {
			s = store_prepare(st, "SELECT state FROM ec2_instances WHERE id = ?");
			if (!s) {
				api_internal(req);
				goto fail;
			}
			sqlite3_bind_text(s, 1, t[i].id, -1, SQLITE_STATIC);
			if (sqlite3_step(s) != SQLITE_ROW) {
				sqlite3_finalize(s);
				api_error(req, 400, "InvalidTarget", "The following targets are not valid instances: '%s'",
					  t[i].id);
				goto fail;
			}
			if (strcmp(store_col(s, 0), "running")) {
				api_error(req, 400, "InvalidTarget", "The following targets are not in a running state and "
					  "cannot be registered: '%s'", t[i].id);
				sqlite3_finalize(s);
				goto fail;
			}
			sqlite3_finalize(s);
		}
		s = store_prepare(st, reg ? "INSERT OR IGNORE INTO elb_targets(tg_arn, id, port) VALUES (?,?,?)"
					  : "DELETE FROM elb_targets WHERE tg_arn = ? AND id = ? AND port = ?");
		if (!s) {
			api_internal(req);
			goto fail;
		}
		sqlite3_bind_text(s, 1, arn, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, t[i].id, -1, SQLITE_STATIC);
		sqlite3_bind_int(s, 3, (int)t[i].port);
		err = sqlite3_step(s) == SQLITE_DONE ? 0 : -EIO;
		sqlite3_finalize(s);
		if (err) {
			api_internal(req);
			goto fail;
		}
	}
	if (reg) {
		sqlite3_stmt *c = store_prepare(st, "SELECT count(*) FROM elb_targets WHERE tg_arn = ?");
		int cnt = 0;

		if (c) {
			sqlite3_bind_text(c, 1, arn, -1, SQLITE_STATIC);
			if (sqlite3_step(c) == SQLITE_ROW)
				cnt = sqlite3_column_int(c, 0);
			sqlite3_finalize(c);
		}
		if (cnt > ELB_MAX_TARGETS) {
			api_error(req, 400, "TooManyTargets", "A target group holds at most %d targets", ELB_MAX_TARGETS);
			goto fail;
		}
	}
	free(t);
	json_object_put(tg);
	return finish(req);
fail:
	free(t);
	json_object_put(tg);
	store_tx_end(st, false);
	return -1;
}

static int h_register(struct api_req *req) { return h_targets(req, true); }
static int h_deregister(struct api_req *req) { return h_targets(req, false); }

/* haneul-lb's view of one group ({"targets":[...]} of {"cmd":"health"}), or NULL. */
static json_object *lb_health_of(json_object *health, const char *tg_name)
{
	json_object *tgs = jobj(health, "target_groups");

	for (size_t i = 0; tgs && i < json_object_array_length(tgs); i++) {
		json_object *g = json_object_array_get_idx(tgs, i);

		if (jstr(g, "name") && strcmp(jstr(g, "name"), tg_name) == 0)
			return jobj(g, "targets");
	}
	return NULL;
}

static json_object *lb_target_of(json_object *targets, const char *id, long port)
{
	for (size_t i = 0; targets && i < json_object_array_length(targets); i++) {
		json_object *t = json_object_array_get_idx(targets, i);

		if (jstr(t, "id") && strcmp(jstr(t, "id"), id) == 0 && jint(t, "port", 0) == port)
			return t;
	}
	return NULL;
}

static json_object *lb_health(struct elbv2 *x)
{
	json_object *r = NULL;

	if (!x->lb_enabled || lbsup_call(&x->lb, "{\"cmd\":\"health\"}", 3000, &r)) {
		json_object_put(r);
		return NULL;
	}
	return r;
}

int elbv2_target_state(struct api *api, const char *tg_arn, const char *id, char state[16])
{
	json_object *h = lb_health(api->elbv2), *targets, *t = NULL;
	char name[160];

	snprintf(state, 16, "unused");
	if (!h)
		return -ECONNREFUSED;
	if (elbv2_tg_name(api, tg_arn, name, sizeof(name)) == 0) {
		targets = lb_health_of(h, name);
		for (size_t i = 0; targets && i < json_object_array_length(targets) && !t; i++)
			if (jstr(json_object_array_get_idx(targets, i), "id") &&
			    strcmp(jstr(json_object_array_get_idx(targets, i), "id"), id) == 0)
				t = json_object_array_get_idx(targets, i);
		if (t && jstr(t, "state"))
			snprintf(state, 16, "%s", jstr(t, "state"));
	}
	json_object_put(h);
	return 0;
}

int elbv2_stats(struct api *api, struct json_object **reply)
{
	struct elbv2 *x = api->elbv2;

	*reply = NULL;
	if (!x || !x->lb_enabled)
		return -ENOTCONN;
	return lbsup_call(&x->lb, "{\"cmd\":\"stats\"}", 3000, reply);
}

static void xml_thd(struct strbuf *b, const char *id, long port, const char *hc_port, const char *az,
		    const char *state, const char *reason, const char *desc)
{
	sb_puts(b, "<member><Target>");
	xml_elem(b, "Id", id);
	xml_elemf(b, "Port", "%ld", port);
	if (az && *az)
		xml_elem(b, "AvailabilityZone", az);
	sb_puts(b, "</Target>");
	xml_elem(b, "HealthCheckPort", hc_port);
	sb_puts(b, "<TargetHealth>");
	xml_elem(b, "State", state);
	if (reason)
		xml_elem(b, "Reason", reason);
	if (desc)
		xml_elem(b, "Description", desc);
	sb_puts(b, "</TargetHealth></member>");
}

static int h_describe_health(struct api_req *req)
{
	struct store *st = &req->api->store;
	const char *arn = api_param_required(req, "TargetGroupArn");
	struct tgt *want = NULL, *reg = NULL;
	json_object *tg, *health, *targets;
	char name[160], hcport[16], (*istate)[16] = NULL;
	int nwant = 0, nreg = 0;
	sqlite3_stmt *s;

	if (!arn)
		return -1;
	tg = tx_doc_get(req, false, "tg", arn, "TargetGroupNotFound", "Target groups");
	if (!tg)
		return -1;
	if (parse_targets(req, jint(tg, "port", 80), &want, &nwant)) {
		store_tx_end(st, false);
		json_object_put(tg);
		return -1;
	}
	s = store_prepare(st, "SELECT t.id, t.port, i.az, i.state FROM elb_targets t LEFT JOIN ec2_instances i "
			      "ON i.id = t.id WHERE t.tg_arn = ? ORDER BY t.rowid");
	reg = calloc(ELB_MAX_TARGETS + 1, sizeof(*reg));
	istate = calloc(ELB_MAX_TARGETS + 1, sizeof(*istate));
	if (s && reg && istate) {
		sqlite3_bind_text(s, 1, arn, -1, SQLITE_STATIC);
		while (sqlite3_step(s) == SQLITE_ROW && nreg < ELB_MAX_TARGETS) {
			snprintf(reg[nreg].id, sizeof(reg[nreg].id), "%s", store_col(s, 0));
			reg[nreg].port = sqlite3_column_int(s, 1);
			snprintf(reg[nreg].az, sizeof(reg[nreg].az), "%s", store_col(s, 2));
			snprintf(istate[nreg], 16, "%s", sqlite3_column_type(s, 3) == SQLITE_NULL ? "" : store_col(s, 3));
			nreg++;
		}
	}
	sqlite3_finalize(s);
	store_tx_end(st, false);
	if (!s || !reg || !istate) {
		free(want);
		free(reg);
		free(istate);
		json_object_put(tg);
		return api_internal(req);
	}
	/* haneul-lb is asked outside the store lock. */
	health = lb_health(req->api->elbv2);
	snprintf(name, sizeof(name), "%s", jstr(tg, "name"));
	targets = lb_health_of(health, name);
	sb_puts(&req->out, "<TargetHealthDescriptions>");
	for (int i = 0; i < (nwant ? nwant : nreg); i++) {
		const struct tgt *t = nwant ? &want[i] : &reg[i];
		const char *hp = jstr(jobj(tg, "hc"), "port");
		json_object *lt = lb_target_of(targets, t->id, t->port);
		int r = -1;

		for (int k = 0; k < nreg && r < 0; k++)
			if (strcmp(reg[k].id, t->id) == 0 && reg[k].port == t->port)
				r = k;
		snprintf(hcport, sizeof(hcport), "%ld", t->port);
		if (hp && strcmp(hp, "traffic-port"))
			snprintf(hcport, sizeof(hcport), "%s", hp);
		if (r < 0) {
			if (lt && jstr(lt, "state") && strcmp(jstr(lt, "state"), "draining") == 0)
				xml_thd(&req->out, t->id, t->port, hcport, NULL, "draining", "Target.DeregistrationInProgress",
					"Target deregistration is in progress");
			else
				xml_thd(&req->out, t->id, t->port, hcport, NULL, "unused", "Target.NotRegistered",
					"Target is not registered to the target group");
		} else if (strncmp(t->id, "i-", 2) == 0 && strcmp(istate[r], "running")) {
			xml_thd(&req->out, t->id, t->port, hcport, reg[r].az, "unused", "Target.InvalidState",
				"Target is in the stopped or terminated state");
		} else if (lt && jstr(lt, "state")) {
			const char *state = jstr(lt, "state");

			xml_thd(&req->out, t->id, t->port, hcport, reg[r].az, state,
				strcmp(state, "healthy") ? jstr(lt, "reason") : NULL,
				strcmp(state, "healthy") ? jstr(lt, "description") : NULL);
		} else {
			xml_thd(&req->out, t->id, t->port, hcport, reg[r].az, "initial", "Elb.RegistrationInProgress",
				"Target registration is in progress");
		}
	}
	/* Deregistered targets still draining, when the whole group is asked for. */
	for (size_t i = 0; !nwant && targets && i < json_object_array_length(targets); i++) {
		json_object *lt = json_object_array_get_idx(targets, i);
		bool known = false;

		for (int k = 0; k < nreg && !known; k++)
			known = strcmp(reg[k].id, jstr(lt, "id") ? jstr(lt, "id") : "") == 0 &&
				reg[k].port == jint(lt, "port", 0);
		if (!known && jstr(lt, "state") && strcmp(jstr(lt, "state"), "draining") == 0) {
			snprintf(hcport, sizeof(hcport), "%ld", (long)jint(lt, "port", 0));
			xml_thd(&req->out, jstr(lt, "id"), (long)jint(lt, "port", 0), hcport, NULL, "draining",
				"Target.DeregistrationInProgress", "Target deregistration is in progress");
		}
	}
	sb_puts(&req->out, "</TargetHealthDescriptions>");
	json_object_put(health);
	json_object_put(tg);
	free(want);
	free(reg);
	free(istate);
	return 0;
}

/* ---- listeners and rules ---------------------------------------------------------------- */

/* ELBSecurityPolicy-* names AWS accepts for ALB HTTPS listeners; haneul-lb
 * applies its own TLS settings (docs/elbv2.md), the name is recorded. */
static const char *const ssl_policies[] = {
	"ELBSecurityPolicy-2016-08", "ELBSecurityPolicy-TLS-1-0-2015-04", "ELBSecurityPolicy-TLS-1-1-2017-01",
	"ELBSecurityPolicy-TLS-1-2-2017-01", "ELBSecurityPolicy-TLS-1-2-Ext-2018-06", "ELBSecurityPolicy-FS-2018-06",
	"ELBSecurityPolicy-FS-1-1-2019-08", "ELBSecurityPolicy-FS-1-2-2019-08", "ELBSecurityPolicy-FS-1-2-Res-2019-08",
	"ELBSecurityPolicy-FS-1-2-Res-2020-10", "ELBSecurityPolicy-2015-05", "ELBSecurityPolicy-TLS13-1-2-2021-06",
	"ELBSecurityPolicy-TLS13-1-2-Res-2021-06", "ELBSecurityPolicy-TLS13-1-2-Ext1-2021-06",
	"ELBSecurityPolicy-TLS13-1-2-Ext2-2021-06", "ELBSecurityPolicy-TLS13-1-1-2021-06",
	"ELBSecurityPolicy-TLS13-1-0-2021-06", "ELBSecurityPolicy-TLS13-1-3-2021-06",
};

/* Inside the write transaction: the certificate and SSL policy of listener l
 * for protocol proto from Certificates.member.1.CertificateArn / SslPolicy
 * (kept from l when absent); an HTTP or TCP listener drops them.  0 or -1
 * after api_error(). */
static int parse_tls(struct api_req *req, const char *proto, json_object *l)
{
	const char *cert = api_param(req, "Certificates.member.1.CertificateArn"), *pol = api_param(req, "SslPolicy");
	size_t i;
	int e;

	if (strcmp(proto, "HTTPS") != 0) {
		if (cert || pol)
			return api_error(req, 400, "ValidationError",
					 "Certificates and SslPolicy apply only to HTTPS listeners");
		json_object_object_del(l, "certificate");
		json_object_object_del(l, "ssl_policy");
		return 0;
	}
	if (!cert)
		cert = jstr(l, "certificate");
	if (!cert)
		return api_error(req, 400, "ValidationError", "A certificate must be specified for HTTPS listeners");
	e = iam_cert_exists(req->api, cert);
	if (e != 1)
		return e < 0 ? api_internal(req) : api_error(req, 400, "CertificateNotFound", "Certificate '%s' not found", cert);
	if (!pol)
		pol = jstr(l, "ssl_policy") ? jstr(l, "ssl_policy") : "ELBSecurityPolicy-2016-08";
	for (i = 0; i < sizeof(ssl_policies) / sizeof(ssl_policies[0]); i++)
		if (strcmp(pol, ssl_policies[i]) == 0)
			break;
	if (i == sizeof(ssl_policies) / sizeof(ssl_policies[0]))
		return api_error(req, 400, "SSLPolicyNotFound", "SSL policy '%s' not found", pol);
	json_object_object_add(l, "certificate", json_object_new_string(cert));
	json_object_object_add(l, "ssl_policy", json_object_new_string(pol));
	return 0;
}

static int h_create_listener(struct api_req *req)
{
	struct store *st = &req->api->store;
	const char *lb_arn = api_param_required(req, "LoadBalancerArn"), *proto = api_param(req, "Protocol");
	json_object *lb = NULL, *l = NULL, *acts = NULL, *ls;
	char arn[400], id[20];
	long port = 0;
	bool network;
	int err;

	if (!lb_arn)
		return -1;
	if (!api_param(req, "Port"))
		return api_error(req, 400, "ValidationError", "A listener port must be specified");
	if (int_param(req, "Port", 1, 65535, &port))
		return -1;
	lb = tx_doc_get(req, true, "lb", lb_arn, "LoadBalancerNotFound", "Load balancers");
	if (!lb)
		return -1;
	network = strcmp(jstr(lb, "type"), "network") == 0;
	proto = proto ? proto : (network ? "TCP" : "HTTP");
	if (network ? strcmp(proto, "TCP") != 0 : strcmp(proto, "HTTP") && strcmp(proto, "HTTPS")) {
		err = api_error(req, 400, "UnsupportedProtocol", "Protocol '%s' is not supported for %s load balancers "
				"(%s)", proto, network ? "network" : "application",
				network ? "TCP only" : "HTTP or HTTPS");
		goto fail;
	}
	ls = docs_all(st, "listener", lb_arn, &err);
	for (size_t i = 0; i < json_object_array_length(ls); i++)
		if (jint(json_object_array_get_idx(ls, i), "port", 0) == port) {
			json_object_put(ls);
			err = api_error(req, 400, "DuplicateListener", "A listener already exists on port %ld", port);
			goto fail;
		}
	if (json_object_array_length(ls) >= 50) {
		json_object_put(ls);
		err = api_error(req, 400, "TooManyListeners", "A load balancer has at most 50 listeners");
		goto fail;
	}
	json_object_put(ls);
	acts = parse_actions(req, "DefaultActions.member", network);
	if (!acts)
		goto fail;
	rand_hex(id, 16);
	{
		const char *p = strstr(jstr(lb, "arn"), ":loadbalancer/");

		snprintf(arn, sizeof(arn), "arn:aws:elasticloadbalancing:%s:%s:listener/%s/%s", req->api->region,
			 req->api->account_id, p ? p + 14 : "", id);
	}
	l = json_object_new_object();
	json_object_object_add(l, "arn", json_object_new_string(arn));
	json_object_object_add(l, "lb", json_object_new_string(lb_arn));
	json_object_object_add(l, "protocol", json_object_new_string(proto));
	json_object_object_add(l, "port", json_object_new_int((int)port));
	json_object_object_add(l, "actions", acts);
	if (parse_tls(req, proto, l))
		goto fail;
	if (doc_put(st, "listener", l, lb_arn)) {
		api_internal(req);
		goto fail;
	}
	json_object_put(lb);
	return finish_one(req, l, "Listeners", xml_listener);
fail:
	store_tx_end(st, false);
	json_object_put(lb);
	json_object_put(l);
	return -1;
}

static int h_describe_listeners(struct api_req *req)
{
	struct store *st = &req->api->store;
	const char *lb = api_param(req, "LoadBalancerArn");
	json_object *all, *sel;
	int err;

	if (store_tx_begin(st, false))
		return api_internal(req);
	if (lb && store_exists(st, "SELECT 1 FROM elb_res WHERE kind = 'lb' AND arn = ?", lb, NULL) != 1) {
		store_tx_end(st, false);
		return api_error(req, 400, "LoadBalancerNotFound", "Load balancers '%s' not found", lb);
	}
	all = docs_all(st, "listener", lb, &err);
	store_tx_end(st, false);
	if (err) {
		json_object_put(all);
		return api_internal(req);
	}
	sel = select_docs(req, all, "ListenerArns.member", NULL, "ListenerNotFound", "Listeners");
	json_object_put(all);
	err = !sel || write_page(req, sel, "Listeners", xml_listener) ? -1 : 0;
	json_object_put(sel);
	return err;
}

static int h_modify_listener(struct api_req *req)
{
	struct store *st = &req->api->store;
	const char *arn = api_param_required(req, "ListenerArn"), *proto = api_param(req, "Protocol");
	json_object *l, *lb = NULL, *acts, *ls;
	long port;
	bool network;
	int err;

	if (!arn)
		return -1;
	l = tx_doc_get(req, true, "listener", arn, "ListenerNotFound", "Listeners");
	if (!l)
		return -1;
	lb = doc_get(st, "lb", jstr(l, "lb"), &err);
	network = lb && strcmp(jstr(lb, "type"), "network") == 0;
	port = jint(l, "port", 80);
	if (int_param(req, "Port", 1, 65535, &port))
		goto fail;
	if (proto && (network ? strcmp(proto, "TCP") : strcmp(proto, "HTTP") && strcmp(proto, "HTTPS"))) {
		api_error(req, 400, "UnsupportedProtocol", "Protocol '%s' is not supported", proto);
		goto fail;
	}
	if (proto)
		json_object_object_add(l, "protocol", json_object_new_string(proto));
	if (parse_tls(req, jstr(l, "protocol"), l))
		goto fail;
	ls = docs_all(st, "listener", jstr(l, "lb"), &err);
	for (size_t i = 0; i < json_object_array_length(ls); i++) {
		json_object *o = json_object_array_get_idx(ls, i);

		if (jint(o, "port", 0) == port && strcmp(jstr(o, "arn"), arn)) {
			json_object_put(ls);
			api_error(req, 400, "DuplicateListener", "A listener already exists on port %ld", port);
			goto fail;
		}
	}
	json_object_put(ls);
	json_object_object_add(l, "port", json_object_new_int((int)port));
	if (query_list_indices(&req->params, "DefaultActions.member", &(unsigned *){ NULL }) > 0) {
		acts = parse_actions(req, "DefaultActions.member", network);
		if (!acts)
			goto fail;
		json_object_object_add(l, "actions", acts);
	}
	if (doc_put(st, "listener", l, jstr(l, "lb"))) {
		api_internal(req);
		goto fail;
	}
	json_object_put(lb);
	return finish_one(req, l, "Listeners", xml_listener);
fail:
	store_tx_end(st, false);
	json_object_put(l);
	json_object_put(lb);
	return -1;
}

static int h_delete_listener(struct api_req *req)
{
	struct store *st = &req->api->store;
	const char *arn = api_param_required(req, "ListenerArn");
	int e;

	if (!arn)
		return -1;
	if (store_tx_begin(st, true))
		return api_internal(req);
	e = store_exists(st, "SELECT 1 FROM elb_res WHERE kind = 'listener' AND arn = ?", arn, NULL);
	if (e != 1) {
		store_tx_end(st, false);
		return e < 0 ? api_internal(req) : api_error(req, 400, "ListenerNotFound", "Listener '%s' not found", arn);
	}
	if (store_exec(st, "DELETE FROM elb_res WHERE kind = 'rule' AND parent = ?", arn, NULL) ||
	    store_exec(st, "DELETE FROM elb_res WHERE arn = ?", arn, NULL)) {
		store_tx_end(st, false);
		return api_internal(req);
	}
	return finish(req);
}

static int h_create_rule(struct api_req *req)
{
	struct store *st = &req->api->store;
	const char *larn = api_param_required(req, "ListenerArn");
	json_object *l = NULL, *r = NULL, *conds = NULL, *acts = NULL, *rules, *lb = NULL;
	long prio = 0;
	char arn[480], id[20];
	int err;

	if (!larn)
		return -1;
	if (!api_param(req, "Priority"))
		return api_error(req, 400, "ValidationError", "A rule priority must be specified");
	if (int_param(req, "Priority", 1, 50000, &prio))
		return -1;
	l = tx_doc_get(req, true, "listener", larn, "ListenerNotFound", "Listeners");
	if (!l)
		return -1;
	lb = doc_get(st, "lb", jstr(l, "lb"), &err);
	if (lb && strcmp(jstr(lb, "type"), "network") == 0) {
		api_error(req, 400, "InvalidConfigurationRequest", "Rules are supported by application load balancers only");
		goto fail;
	}
	rules = docs_all(st, "rule", larn, &err);
	for (size_t i = 0; i < json_object_array_length(rules); i++)
		if (jint(json_object_array_get_idx(rules, i), "priority", 0) == prio) {
			json_object_put(rules);
			api_error(req, 400, "PriorityInUse", "Priority '%ld' is currently in use", prio);
			goto fail;
		}
	if (json_object_array_length(rules) >= 100) {
		json_object_put(rules);
		api_error(req, 400, "TooManyRules", "A listener has at most 100 rules");
		goto fail;
	}
	json_object_put(rules);
	conds = parse_conditions(req);
	if (!conds)
		goto fail;
	acts = parse_actions(req, "Actions.member", false);
	if (!acts)
		goto fail;
	rand_hex(id, 16);
	{
		const char *p = strstr(larn, ":listener/");

		snprintf(arn, sizeof(arn), "arn:aws:elasticloadbalancing:%s:%s:listener-rule/%s/%s", req->api->region,
			 req->api->account_id, p ? p + 10 : "", id);
	}
	r = json_object_new_object();
	json_object_object_add(r, "arn", json_object_new_string(arn));
	json_object_object_add(r, "listener", json_object_new_string(larn));
	json_object_object_add(r, "priority", json_object_new_int((int)prio));
	json_object_object_add(r, "conditions", conds);
	json_object_object_add(r, "actions", acts);
	conds = acts = NULL;
	if (doc_put(st, "rule", r, larn)) {
		api_internal(req);
		goto fail;
	}
	json_object_put(l);
	json_object_put(lb);
	return finish_one(req, r, "Rules", xml_rule_only);
fail:
	store_tx_end(st, false);
	json_object_put(l);
	json_object_put(lb);
	json_object_put(r);
	json_object_put(conds);
	json_object_put(acts);
	return -1;
}

static int h_describe_rules(struct api_req *req)
{
	struct store *st = &req->api->store;
	const char *larn = api_param(req, "ListenerArn");
	json_object *all, *sel, *l = NULL;
	int err, n;

	if (store_tx_begin(st, false))
		return api_internal(req);
	if (larn) {
		l = doc_get(st, "listener", larn, &err);
		if (!l) {
			store_tx_end(st, false);
			return api_error(req, 400, "ListenerNotFound", "Listeners '%s' not found", larn);
		}
	}
	all = docs_all(st, "rule", larn, &err);
	store_tx_end(st, false);
	sel = select_docs(req, all, "RuleArns.member", NULL, "RuleNotFound", "Rules");
	json_object_put(all);
	if (!sel) {
		json_object_put(l);
		return -1;
	}
	n = (int)json_object_array_length(sel);
	sb_puts(&req->out, "<Rules>");
	/* By priority, then the listener's default rule. */
	for (int p = 0; p < n; p++) {
		int best = -1;

		for (int i = 0; i < n; i++) {
			json_object *r = json_object_array_get_idx(sel, i);

			if (jint(r, "priority", 0) < 0)
				continue;
			if (best < 0 || jint(r, "priority", 0) < jint(json_object_array_get_idx(sel, best), "priority", 0))
				best = i;
		}
		xml_rule(req, json_object_array_get_idx(sel, best), NULL);
		json_object_object_add(json_object_array_get_idx(sel, best), "priority", json_object_new_int(-1));
	}
	if (l && !api_param(req, "RuleArns.member.1")) {
		json_object *d = json_object_new_object();
		char darn[480];
		const char *p = strstr(larn, ":listener/");

		snprintf(darn, sizeof(darn), "arn:aws:elasticloadbalancing:%s:%s:listener-rule/%s/default",
			 req->api->region, req->api->account_id, p ? p + 10 : "");
		json_object_object_add(d, "arn", json_object_new_string(darn));
		xml_rule(req, d, jobj(l, "actions"));
		json_object_put(d);
	}
	sb_puts(&req->out, "</Rules>");
	json_object_put(sel);
	json_object_put(l);
	return 0;
}

static int h_modify_rule(struct api_req *req)
{
	struct store *st = &req->api->store;
	const char *arn = api_param_required(req, "RuleArn");
	json_object *r, *c, *a;
	unsigned *tmp = NULL;

	if (!arn)
		return -1;
	r = tx_doc_get(req, true, "rule", arn, "RuleNotFound", "Rules");
	if (!r)
		return -1;
	if (query_list_indices(&req->params, "Conditions.member", &tmp) > 0) {
		c = parse_conditions(req);
		if (!c)
			goto fail;
		json_object_object_add(r, "conditions", c);
	}
	free(tmp);
	tmp = NULL;
	if (query_list_indices(&req->params, "Actions.member", &tmp) > 0) {
		a = parse_actions(req, "Actions.member", false);
		if (!a)
			goto fail;
		json_object_object_add(r, "actions", a);
	}
	free(tmp);
	tmp = NULL;
	if (doc_put(st, "rule", r, jstr(r, "listener"))) {
		api_internal(req);
		goto fail;
	}
	return finish_one(req, r, "Rules", xml_rule_only);
fail:
	free(tmp);
	store_tx_end(st, false);
	json_object_put(r);
	return -1;
}

static int h_delete_rule(struct api_req *req)
{
	struct store *st = &req->api->store;
	const char *arn = api_param_required(req, "RuleArn");
	int e;

	if (!arn)
		return -1;
	if (strstr(arn, "/default"))
		return api_error(req, 400, "OperationNotPermitted", "The default rule cannot be deleted");
	if (store_tx_begin(st, true))
		return api_internal(req);
	e = store_exists(st, "SELECT 1 FROM elb_res WHERE kind = 'rule' AND arn = ?", arn, NULL);
	if (e != 1) {
		store_tx_end(st, false);
		return e < 0 ? api_internal(req) : api_error(req, 400, "RuleNotFound", "Rules '%s' not found", arn);
	}
	if (store_exec(st, "DELETE FROM elb_res WHERE arn = ?", arn, NULL)) {
		store_tx_end(st, false);
		return api_internal(req);
	}
	return finish(req);
}

/* ---- the service ---------------------------------------------------------------------- */

#define NR API_ACT_NO_RESULT
static const struct api_action actions[] = {
	{ "CreateLoadBalancer", h_create_lb, 0, NULL },
	{ "DescribeLoadBalancers", h_describe_lbs, 0, NULL },
	{ "DeleteLoadBalancer", h_delete_lb, 0, NULL },
	{ "DescribeLoadBalancerAttributes", h_describe_lb_attrs, 0, NULL },
	{ "ModifyLoadBalancerAttributes", h_modify_lb_attrs, 0, NULL },
	{ "CreateTargetGroup", h_create_tg, 0, NULL },
	{ "DescribeTargetGroups", h_describe_tgs, 0, NULL },
	{ "ModifyTargetGroup", h_modify_tg, 0, NULL },
	{ "DeleteTargetGroup", h_delete_tg, 0, NULL },
	{ "DescribeTargetGroupAttributes", h_describe_tg_attrs, 0, NULL },
	{ "ModifyTargetGroupAttributes", h_modify_tg_attrs, 0, NULL },
	{ "RegisterTargets", h_register, 0, NULL },
	{ "DeregisterTargets", h_deregister, 0, NULL },
	{ "DescribeTargetHealth", h_describe_health, 0, NULL },
	{ "CreateListener", h_create_listener, 0, NULL },
	{ "DescribeListeners", h_describe_listeners, 0, NULL },
	{ "ModifyListener", h_modify_listener, 0, NULL },
	{ "DeleteListener", h_delete_listener, 0, NULL },
	{ "CreateRule", h_create_rule, 0, NULL },
	{ "DescribeRules", h_describe_rules, 0, NULL },
	{ "ModifyRule", h_modify_rule, 0, NULL },
	{ "DeleteRule", h_delete_rule, 0, NULL },
};
#undef NR

const struct api_service elbv2_service = {
	.name = "elasticloadbalancing", .prefix = "elasticloadbalancing", .version = "2015-12-01",
	.xmlns = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/", .proto = API_PROTO_QUERY,
	.actions = actions, .n_actions = sizeof(actions) / sizeof(actions[0]),
};

int elbv2_new(struct api *api, const struct elbv2_config *cfg)
{
	struct elbv2 *x = calloc(1, sizeof(*x));
	int err;

	if (!x)
		return -ENOMEM;
	x->api = api;
	pthread_mutex_init(&x->mu, NULL);
	/* The default VPC's namespace, named as api/ec2_net.c names it. */
	snprintf(x->netns, sizeof(x->netns), "hn-%08x", netaddr_hash(api->data_dir));
	if (cfg && cfg->lb_bin) {
		err = lbsup_init(&x->lb, cfg->lb_bin, api->data_dir, cfg->workers);
		if (err) {
			log_err("elbv2: %s/lb: %s", api->data_dir, strerror(-err));
			pthread_mutex_destroy(&x->mu);
			free(x);
			return err;
		}
		x->lb_enabled = true;
	}
	api->elbv2 = x;
	return api_register_service(api, &elbv2_service);
}

void elbv2_free(struct api *api)
{
	struct elbv2 *x = api->elbv2;

	if (!x)
		return;
	api->elbv2 = NULL;
	api_register_service(api, &elbv2_stub_service);
	pthread_mutex_destroy(&x->mu);
	free(x->applied);
	free(x);
}
