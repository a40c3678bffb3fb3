/* lb/config.c - the configuration document: parse + validate (pure), apply
 * (certificates, registry, publish), the target registry and the reports
 * of the control socket.  Schema: docs/lb.md. */
#include <arpa/inet.h>
#include <errno.h>
#include <json-c/json.h>
#include <openssl/ssl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/netaddr.h"
#include "lb/lb.h"
#include "lb/nsock.h"

uint64_t lb_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- freeing ------------------------------------------------------------ */

static void strv_free(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void action_free(struct lb_action *a)
{
	free(a->tgs);
	free(a->r_protocol);
	free(a->r_host);
	free(a->r_port);
	free(a->r_path);
	free(a->r_query);
	free(a->content_type);
	free(a->body);
}

static void target_free(struct lb_target *t)
{
	free(t->key);
	free(t->tg_name);
	free(t->id);
	free(t->netns);
	free(t);
}

void lb_target_put(struct lb_target *t)
{
	if (t && __atomic_sub_fetch(&t->refs, 1, __ATOMIC_ACQ_REL) == 0)
		target_free(t);
}

/* Stats objects: refs under lb->reg_lock when registered; a parsed-only
 * snapshot has private ones (refs 1, not on a list). */
static void config_free(struct lb_config *cfg)
{
	for (size_t i = 0; i < cfg->nlisteners; i++) {
		struct lb_listener *l = &cfg->listeners[i];

		for (size_t r = 0; r < l->nrules; r++) {
			for (size_t c = 0; c < l->rules[r].nconds; c++) {
				struct lb_cond *cd = &l->rules[r].conds[c];

				free(cd->header_name);
				strv_free(cd->values, cd->nvalues);
				strv_free(cd->keys, cd->nvalues);
			}
			free(l->rules[r].conds);
			action_free(&l->rules[r].action);
		}
		free(l->rules);
		action_free(&l->def);
		if (l->ssl)
			SSL_CTX_free(l->ssl);
		if (l->st && __atomic_sub_fetch(&l->st->refs, 1, __ATOMIC_ACQ_REL) == 0) {
			free(l->st->name);
			free(l->st);
		}
		free(l->lb_name);
		free(l->key);
		free(l->cert);
		free(l->keyfile);
	}
	free(cfg->listeners);
	for (size_t i = 0; i < cfg->ntgs; i++) {
		struct lb_tg *tg = &cfg->tgs[i];

		for (size_t t = 0; t < tg->ntargets; t++)
			lb_target_put(tg->targets[t]);
		free(tg->targets);
		if (tg->st && __atomic_sub_fetch(&tg->st->refs, 1, __ATOMIC_ACQ_REL) == 0) {
			free(tg->st->name);
			free(tg->st);
		}
		free(tg->name);
	}
	free(cfg->tgs);
	free(cfg->json);
	free(cfg);
}

void lb_config_get(struct lb_config *cfg)
{
	__atomic_add_fetch(&cfg->refs, 1, __ATOMIC_RELAXED);
}

void lb_config_put(struct lb_config *cfg)
{
	if (cfg && __atomic_sub_fetch(&cfg->refs, 1, __ATOMIC_ACQ_REL) == 0)
		config_free(cfg);
}

struct lb_config *lb_current(struct lb *lb)
{
	struct lb_config *c;

	pthread_mutex_lock(&lb->cfg_lock);
	c = lb->cfg;
	if (c)
		lb_config_get(c);
	pthread_mutex_unlock(&lb->cfg_lock);
	return c;
}

/* ---- parsing -------------------------------------------------------------- */

struct perr {
	char *buf;
	size_t len;
};

static int fail(struct perr *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct perr *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->buf, e->len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static json_object *jget(json_object *o, const char *k)
{
	json_object *v = NULL;

	return json_object_object_get_ex(o, k, &v) ? v : NULL;
}

/* Optional string member: *out = strdup or NULL.  -EINVAL if not a string. */
static int jstr(json_object *o, const char *k, char **out, struct perr *e, const char *ctx)
{
	json_object *v = jget(o, k);

	*out = NULL;
	if (!v)
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return fail(e, "%s: \"%s\" must be a string", ctx, k);
	*out = strdup(json_object_get_string(v));
	return *out ? 0 : -ENOMEM;
}

/* Optional number member in [lo, hi]; keeps *out when absent. */
static int jnum(json_object *o, const char *k, double lo, double hi, double *out,
		struct perr *e, const char *ctx)
{
	json_object *v = jget(o, k);
	double d;

	if (!v)
		return 0;
	if (json_object_is_type(v, json_type_int))
		d = (double)json_object_get_int64(v);
	else if (json_object_is_type(v, json_type_double))
		d = json_object_get_double(v);
	else if (json_object_is_type(v, json_type_string)) {
		char *end;

		d = strtod(json_object_get_string(v), &end);
		if (*end || end == json_object_get_string(v))
			return fail(e, "%s: \"%s\" must be a number", ctx, k);
	} else
		return fail(e, "%s: \"%s\" must be a number", ctx, k);
	if (!(d >= lo && d <= hi))
		return fail(e, "%s: \"%s\" must be in %g..%g", ctx, k, lo, hi);
	*out = d;
	return 0;
}

static json_object *jarr(json_object *o, const char *k, struct perr *e, const char *ctx, int *r)
{
	json_object *v = jget(o, k);

	*r = 0;
	if (v && !json_object_is_type(v, json_type_array)) {
		*r = fail(e, "%s: \"%s\" must be an array", ctx, k);
		return NULL;
	}
	return v;
}

static int parse_proto(const char *s, enum lb_proto *p)
{
	if (!s || strcasecmp(s, "HTTP") == 0)
		*p = LB_PROTO_HTTP;
	else if (strcasecmp(s, "HTTPS") == 0)
		*p = LB_PROTO_HTTPS;
	else if (strcasecmp(s, "TCP") == 0)
		*p = LB_PROTO_TCP;
	else
		return -EINVAL;
	return 0;
}

static int parse_hc(json_object *o, struct lb_hc *hc, bool nlb, struct perr *e, const char *ctx)
{
	char *s = NULL;
	double d;
	int r = 0;
	json_object *v;

	lb_hc_defaults(hc, nlb);
	if (!o)
		return 0;
	if (!json_object_is_type(o, json_type_object))
		return fail(e, "%s: health_check must be an object", ctx);
	if ((v = jget(o, "enabled")))
		hc->enabled = json_object_get_boolean(v);
	if ((r = jstr(o, "protocol", &s, e, ctx)))
		return r;
	if (s) {
		if (strcasecmp(s, "HTTP") == 0)
			hc->proto = LB_HC_HTTP;
		else if (strcasecmp(s, "TCP") == 0)
			hc->proto = LB_HC_TCP;
		else
			r = fail(e, "%s: health_check protocol must be HTTP or TCP", ctx);
		free(s);
		if (r)
			return r;
		if (hc->proto == LB_HC_HTTP && nlb)
			hc->match_hi[0] = 399;
	}
	v = jget(o, "port");
	if (v && !(json_object_is_type(v, json_type_string) &&
		   strcmp(json_object_get_string(v), "traffic-port") == 0)) {
		d = 0;
		if ((r = jnum(o, "port", 1, 65535, &d, e, ctx)))
			return r;
		hc->port = (uint16_t)d;
	}
	if ((r = jstr(o, "path", &s, e, ctx)))
		return r;
	if (s) {
		if (s[0] != '/' || strlen(s) >= sizeof(hc->path) || strpbrk(s, " \r\n\t"))
			r = fail(e, "%s: health_check path must start with / (max 255, no spaces)", ctx);
		else
			snprintf(hc->path, sizeof(hc->path), "%s", s);
		free(s);
		if (r)
			return r;
	}
	d = hc->interval_ms / 1000.0;
	if ((r = jnum(o, "interval", 0.05, 300, &d, e, ctx)))
		return r;
	hc->interval_ms = (unsigned)(d * 1000);
	d = hc->timeout_ms / 1000.0;
	if ((r = jnum(o, "timeout", 0.05, 120, &d, e, ctx)))
		return r;
	hc->timeout_ms = (unsigned)(d * 1000);
	d = hc->healthy_threshold;
	if ((r = jnum(o, "healthy_threshold", 1, 10, &d, e, ctx)))
		return r;
	hc->healthy_threshold = (unsigned)d;
	d = hc->unhealthy_threshold;
	if ((r = jnum(o, "unhealthy_threshold", 1, 10, &d, e, ctx)))
		return r;
	hc->unhealthy_threshold = (unsigned)d;
	if ((r = jstr(o, "matcher", &s, e, ctx)))
		return r;
	if (s) {
		if (lb_hc_parse_matcher(hc, s) < 0)
			r = fail(e, "%s: bad matcher \"%s\" (e.g. \"200\", \"200,202\", \"200-299\")", ctx, s);
		free(s);
	}
	return r;
}

static int parse_tg(json_object *o, struct lb_tg *tg, struct perr *e)
{
	char ctx[LB_NAME_MAX + 32], *s = NULL;
	json_object *arr, *v;
	double d;
	int r;
	size_t n;

	if (!json_object_is_type(o, json_type_object))
		return fail(e, "target_groups: each must be an object");
	if ((r = jstr(o, "name", &tg->name, e, "target group")))
		return r;
	if (!tg->name || !*tg->name || strlen(tg->name) > LB_NAME_MAX)
		return fail(e, "target group: \"name\" (1..%d characters) is required", LB_NAME_MAX);
	snprintf(ctx, sizeof(ctx), "target group %s", tg->name);
	if ((r = jstr(o, "protocol", &s, e, ctx)))
		return r;
	r = parse_proto(s, &tg->proto);
	free(s);
	if (r)
		return fail(e, "%s: protocol must be HTTP, HTTPS or TCP", ctx);
	if (tg->proto == LB_PROTO_HTTPS)
		return fail(e, "%s: HTTPS to targets is not supported (use HTTP)", ctx);
	d = 80;
	if ((r = jnum(o, "port", 1, 65535, &d, e, ctx)))
		return r;
	tg->port = (uint16_t)d;
	if ((r = jstr(o, "algorithm", &s, e, ctx)))
		return r;
	tg->algo = LB_ALGO_ROUND_ROBIN;
	if (s && strcmp(s, "source_hash") == 0)
		tg->algo = LB_ALGO_SOURCE_HASH;
	else if (s && strcmp(s, "round_robin") != 0)
		r = fail(e, "%s: algorithm must be round_robin or source_hash", ctx);
	free(s);
	if (r)
		return r;
	d = 300;
	if ((r = jnum(o, "deregistration_delay", 0, 3600, &d, e, ctx)))
		return r;
	tg->dereg_delay_s = (unsigned)d;
	if ((r = parse_hc(jget(o, "health_check"), &tg->hc, tg->proto == LB_PROTO_TCP, e, ctx)))
		return r;
	tg->st = calloc(1, sizeof(*tg->st));
	if (!tg->st || !(tg->st->name = strdup(tg->name)))
		return -ENOMEM;
	tg->st->refs = 1;
	arr = jarr(o, "targets", e, ctx, &r);
	if (r)
		return r;
	n = arr ? json_object_array_length(arr) : 0;
	if (n > 4096)
		return fail(e, "%s: at most 4096 targets", ctx);
	tg->targets = calloc(n ? n : 1, sizeof(*tg->targets));
	if (!tg->targets)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_object *to = json_object_array_get_idx(arr, i);
		struct lb_target *t;
		char *ip = NULL, key[512];

		if (!json_object_is_type(to, json_type_object))
			return fail(e, "%s: targets must be objects", ctx);
		t = calloc(1, sizeof(*t));
		if (!t)
			return -ENOMEM;
		t->refs = 1;
		tg->targets[tg->ntargets++] = t;
		if ((r = jstr(to, "ip", &ip, e, ctx)))
			return r;
		t->addr.sin_family = AF_INET;
		if (!ip || inet_pton(AF_INET, ip, &t->addr.sin_addr) != 1) {
			free(ip);
			return fail(e, "%s: target \"ip\" must be an IPv4 address", ctx);
		}
		inet_ntop(AF_INET, &t->addr.sin_addr, t->ip, sizeof(t->ip));
		free(ip);
		d = tg->port;
		if ((r = jnum(to, "port", 1, 65535, &d, e, ctx)))
			return r;
		t->port = (uint16_t)d;
		t->addr.sin_port = htons(t->port);
		if ((r = jstr(to, "netns", &t->netns, e, ctx)) || (r = jstr(to, "id", &t->id, e, ctx)))
			return r;
		if (!t->netns && !(t->netns = strdup("")))
			return -ENOMEM;
		if (*t->netns && !netaddr_valid_nsname(t->netns))
			return fail(e, "%s: bad netns name \"%s\"", ctx, t->netns);
		if (!t->id && !(t->id = strdup(t->ip)))
			return -ENOMEM;
		snprintf(key, sizeof(key), "%s|%s:%u|%s", tg->name, t->ip, t->port, t->netns);
		t->key = strdup(key);
		t->tg_name = strdup(tg->name);
		if (!t->key || !t->tg_name)
			return -ENOMEM;
		for (size_t j = 0; j + 1 < tg->ntargets; j++)
			if (strcmp(tg->targets[j]->key, key) == 0)
				return fail(e, "%s: target %s:%u listed twice", ctx, t->ip, t->port);
		t->hc = tg->hc;
		t->dereg_delay_s = tg->dereg_delay_s;
		lb_hstate_init(&t->hs, &t->hc);
		t->state = (int)t->hs.state;
	}
	(void)v;
	return 0;
}

static struct lb_tg *find_tg(struct lb_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->ntgs; i++)
		if (strcmp(cfg->tgs[i].name, name) == 0)
			return &cfg->tgs[i];
	return NULL;
}

static int parse_status(json_object *o, const char *k, int lo, int hi, int defl, int *out,
			struct perr *e, const char *ctx)
{
	json_object *v = jget(o, k);
	const char *s;
	int x;

	*out = defl;
	if (!v)
		return 0;
	if (json_object_is_type(v, json_type_int)) {
		x = json_object_get_int(v);
	} else if (json_object_is_type(v, json_type_string)) {
		s = json_object_get_string(v);
		if (strncmp(s, "HTTP_", 5) == 0)
			s += 5;
		if (strlen(s) != 3 || strspn(s, "0123456789") != 3)
			return fail(e, "%s: bad %s", ctx, k);
		x = atoi(s);
	} else {
		return fail(e, "%s: bad %s", ctx, k);
	}
	if (x < lo || x > hi)
		return fail(e, "%s: %s must be %d..%d", ctx, k, lo, hi);
	*out = x;
	return 0;
}

static int parse_action(json_object *arr_or_obj, struct lb_action *a, struct lb_config *cfg,
			bool tcp, struct perr *e, const char *ctx)
{
	json_object *o = arr_or_obj, *tgs;
	char *type = NULL, *s = NULL;
	int r = 0;

	if (o && json_object_is_type(o, json_type_array)) {
		if (json_object_array_length(o) != 1)
			return fail(e, "%s: exactly one action is supported", ctx);
		o = json_object_array_get_idx(o, 0);
	}
	if (!o || !json_object_is_type(o, json_type_object))
		return fail(e, "%s: an action object is required", ctx);
	if ((r = jstr(o, "type", &type, e, ctx)))
		return r;
	if (!type) {
		return fail(e, "%s: action \"type\" is required", ctx);
	} else if (strcmp(type, "forward") == 0) {
		a->type = LB_ACT_FORWARD;
	} else if (strcmp(type, "redirect") == 0) {
		a->type = LB_ACT_REDIRECT;
	} else if (strcmp(type, "fixed-response") == 0) {
		a->type = LB_ACT_FIXED;
	} else {
		r = fail(e, "%s: unknown action type \"%s\"", ctx, type);
	}
	free(type);
	if (r)
		return r;
	if (tcp && a->type != LB_ACT_FORWARD)
		return fail(e, "%s: TCP listeners only forward", ctx);
	switch (a->type) {
	case LB_ACT_FORWARD:
		if ((r = jstr(o, "target_group", &s, e, ctx)))
			return r;
		tgs = jget(o, "target_groups");
		if (s) {
			a->tgs = calloc(1, sizeof(*a->tgs));
			if (!a->tgs) {
				free(s);
				return -ENOMEM;
			}
			a->ntg = 1;
			a->tgs[0].tg = find_tg(cfg, s);
			a->tgs[0].weight = 1;
			if (!a->tgs[0].tg)
				r = fail(e, "%s: no target group \"%s\"", ctx, s);
			free(s);
			if (r)
				return r;
		} else if (tgs && json_object_is_type(tgs, json_type_array) &&
			   json_object_array_length(tgs) > 0 && json_object_array_length(tgs) <= 5) {
			size_t n = json_object_array_length(tgs);

			a->tgs = calloc(n, sizeof(*a->tgs));
			if (!a->tgs)
				return -ENOMEM;
			for (size_t i = 0; i < n; i++) {
				json_object *w = json_object_array_get_idx(tgs, i);
				double wt = 1;

				if (!json_object_is_type(w, json_type_object))
					return fail(e, "%s: target_groups entries are objects", ctx);
				if ((r = jstr(w, "name", &s, e, ctx)))
					return r;
				if ((r = jnum(w, "weight", 0, 999, &wt, e, ctx))) {
					free(s);
					return r;
				}
				a->tgs[i].tg = s ? find_tg(cfg, s) : NULL;
				if (!a->tgs[i].tg)
					r = fail(e, "%s: no target group \"%s\"", ctx, s ? s : "(none)");
				free(s);
				if (r)
					return r;
				a->tgs[i].weight = (unsigned)wt;
				a->total_weight += (unsigned)wt;
				a->ntg++;
			}
		} else {
			return fail(e, "%s: forward needs \"target_group\" or \"target_groups\" (1..5)", ctx);
		}
		for (size_t i = 0; i < a->ntg; i++) {
			bool tg_tcp = a->tgs[i].tg->proto == LB_PROTO_TCP;

			if (tg_tcp != tcp)
				return fail(e, "%s: target group %s has protocol %s for a %s listener", ctx,
					    a->tgs[i].tg->name, tg_tcp ? "TCP" : "HTTP", tcp ? "TCP" : "HTTP(S)");
			a->tgs[i].tg->in_use = true;
		}
		if (a->ntg == 1 && !a->total_weight)
			a->total_weight = a->tgs[0].weight;
		return 0;
	case LB_ACT_REDIRECT:
		if ((r = jstr(o, "protocol", &a->r_protocol, e, ctx)) ||
		    (r = jstr(o, "host", &a->r_host, e, ctx)) ||
		    (r = jstr(o, "port", &a->r_port, e, ctx)) ||
		    (r = jstr(o, "path", &a->r_path, e, ctx)) ||
		    (r = jstr(o, "query", &a->r_query, e, ctx)))
			return r;
		if ((r = parse_status(o, "status_code", 301, 302, 301, &a->status, e, ctx)))
			return r;
		if (a->r_path && a->r_path[0] != '/')
			return fail(e, "%s: redirect path must start with /", ctx);
		if (a->r_protocol && strcasecmp(a->r_protocol, "HTTP") &&
		    strcasecmp(a->r_protocol, "HTTPS") && strcmp(a->r_protocol, "#{protocol}"))
			return fail(e, "%s: redirect protocol must be HTTP, HTTPS or #{protocol}", ctx);
		for (const char *c = a->r_host; c && *c; c++)
			if (*c == '\r' || *c == '\n')
				return fail(e, "%s: control characters in redirect", ctx);
		return 0;
	case LB_ACT_FIXED:
		if ((r = parse_status(o, "status_code", 200, 599, 200, &a->status, e, ctx)) ||
		    (r = jstr(o, "content_type", &a->content_type, e, ctx)) ||
		    (r = jstr(o, "message_body", &a->body, e, ctx)))
			return r;
		if (a->body && strlen(a->body) > 1024)
			return fail(e, "%s: message_body is at most 1024 bytes", ctx);
		if (a->content_type && strpbrk(a->content_type, "\r\n"))
			return fail(e, "%s: bad content_type", ctx);
		return 0;
	}
	return 0;
}

static int parse_cond(json_object *o, struct lb_cond *c, struct perr *e, const char *ctx)
{
	static const struct { const char *name; enum lb_cond_field f; } fields[] = {
		{ "host-header", LB_COND_HOST }, { "path-pattern", LB_COND_PATH },
		{ "http-header", LB_COND_HEADER }, { "http-request-method", LB_COND_METHOD },
		{ "query-string", LB_COND_QUERY }, { "source-ip", LB_COND_SOURCE_IP },
	};
	json_object *vals;
	char *f = NULL;
	size_t i, n;
	int r;

	if (!json_object_is_type(o, json_type_object))
		return fail(e, "%s: conditions are objects", ctx);
	if ((r = jstr(o, "field", &f, e, ctx)))
		return r;
	for (i = 0; f && i < sizeof(fields) / sizeof(fields[0]); i++)
		if (strcmp(f, fields[i].name) == 0)
			break;
	if (!f || i == sizeof(fields) / sizeof(fields[0])) {
		r = fail(e, "%s: unknown condition field \"%s\"", ctx, f ? f : "(none)");
		free(f);
		return r;
	}
	free(f);
	c->field = fields[i].f;
	if (c->field == LB_COND_HEADER) {
		if ((r = jstr(o, "header_name", &c->header_name, e, ctx)))
			return r;
		if (!c->header_name || !*c->header_name)
			return fail(e, "%s: http-header needs header_name", ctx);
	}
	vals = jarr(o, "values", e, ctx, &r);
	if (r)
		return r;
	n = vals ? json_object_array_length(vals) : 0;
	if (n == 0 || n > 10)
		return fail(e, "%s: a condition needs 1..10 values", ctx);
	c->values = calloc(n, sizeof(char *));
	c->keys = calloc(n, sizeof(char *));
	if (!c->values || !c->keys)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(vals, i);

		c->nvalues++;
		if (c->field == LB_COND_QUERY) {
			if (!json_object_is_type(v, json_type_object))
				return fail(e, "%s: query-string values are {\"key\":..,\"value\":..}", ctx);
			if ((r = jstr(v, "key", &c->keys[i], e, ctx)) ||
			    (r = jstr(v, "value", &c->values[i], e, ctx)))
				return r;
			if (!c->values[i])
				return fail(e, "%s: query-string value is required", ctx);
		} else {
			if (!json_object_is_type(v, json_type_string))
				return fail(e, "%s: condition values are strings", ctx);
			c->values[i] = strdup(json_object_get_string(v));
			if (!c->values[i])
				return -ENOMEM;
			if (strlen(c->values[i]) > 128)
				return fail(e, "%s: condition value longer than 128", ctx);
		}
	}
	return 0;
}

static int rule_cmp(const void *a, const void *b)
{
	return ((const struct lb_rule *)a)->priority - ((const struct lb_rule *)b)->priority;
}

static int parse_listener(json_object *lbo, const char *lbname, bool nlb, unsigned idle_ms,
			  json_object *o, struct lb_listener *l, struct lb_config *cfg, struct perr *e)
{
	char ctx[LB_NAME_MAX + 64], *s = NULL, key[64];
	json_object *rules;
	double d = 0;
	int r;
	size_t n;

	snprintf(ctx, sizeof(ctx), "load balancer %s listener", lbname);
	if (!json_object_is_type(o, json_type_object))
		return fail(e, "%s: must be an object", ctx);
	l->lb_name = strdup(lbname);
	if (!l->lb_name)
		return -ENOMEM;
	l->idle_timeout_ms = idle_ms;
	if ((r = jstr(o, "protocol", &s, e, ctx)))
		return r;
	r = parse_proto(s, &l->proto);
	free(s);
	if (r)
		return fail(e, "%s: protocol must be HTTP, HTTPS or TCP", ctx);
	if (nlb != (l->proto == LB_PROTO_TCP))
		return fail(e, "%s: %s", ctx, nlb ? "network load balancers take TCP listeners"
						  : "application load balancers take HTTP/HTTPS listeners");
	if ((r = jstr(o, "address", &s, e, ctx)))
		return r;
	l->addr.sin_family = AF_INET;
	if (!s || inet_pton(AF_INET, s, &l->addr.sin_addr) != 1) {
		free(s);
		return fail(e, "%s: \"address\" must be an IPv4 address", ctx);
	}
	free(s);
	if (!jget(o, "port"))
		return fail(e, "%s: \"port\" is required", ctx);
	if ((r = jnum(o, "port", 1, 65535, &d, e, ctx)))
		return r;
	l->port = (uint16_t)d;
	l->addr.sin_port = htons(l->port);
	inet_ntop(AF_INET, &l->addr.sin_addr, key, sizeof(key));
	snprintf(key + strlen(key), sizeof(key) - strlen(key), ":%u", l->port);
	snprintf(ctx, sizeof(ctx), "listener %s", key);
	l->key = strdup(key);
	if (!l->key)
		return -ENOMEM;
	if (l->proto == LB_PROTO_HTTPS) {
		if ((r = jstr(o, "certificate", &l->cert, e, ctx)) ||
		    (r = jstr(o, "key", &l->keyfile, e, ctx)))
			return r;
		if (!l->cert || !l->keyfile)
			return fail(e, "%s: HTTPS needs \"certificate\" and \"key\" (PEM files)", ctx);
	}
	if ((r = parse_action(jget(o, "default_actions") ? jget(o, "default_actions")
							  : jget(o, "default_action"),
			      &l->def, cfg, nlb, e, ctx)))
		return r;
	rules = jarr(o, "rules", e, ctx, &r);
	if (r)
		return r;
	n = rules ? json_object_array_length(rules) : 0;
	if (n && nlb)
		return fail(e, "%s: TCP listeners have no rules", ctx);
	if (n > 100)
		return fail(e, "%s: at most 100 rules", ctx);
	l->rules = calloc(n ? n : 1, sizeof(*l->rules));
	if (!l->rules)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_object *ro = json_object_array_get_idx(rules, i), *conds;
		struct lb_rule *ru = &l->rules[i];
		char rctx[LB_NAME_MAX + 96];

		l->nrules++;
		if (!json_object_is_type(ro, json_type_object))
			return fail(e, "%s: rules are objects", ctx);
		d = 0;
		if ((r = jnum(ro, "priority", 1, 50000, &d, e, ctx)))
			return r;
		if (d == 0)
			return fail(e, "%s: a rule needs \"priority\" 1..50000", ctx);
		ru->priority = (int)d;
		for (size_t j = 0; j < i; j++)
			if (l->rules[j].priority == ru->priority)
				return fail(e, "%s: priority %d used twice", ctx, ru->priority);
		snprintf(rctx, sizeof(rctx), "%s rule %d", ctx, ru->priority);
		conds = jarr(ro, "conditions", e, rctx, &r);
		if (r)
			return r;
		if (!conds || json_object_array_length(conds) == 0 || json_object_array_length(conds) > 5)
			return fail(e, "%s: 1..5 conditions", rctx);
		ru->conds = calloc(json_object_array_length(conds), sizeof(*ru->conds));
		if (!ru->conds)
			return -ENOMEM;
		for (size_t c = 0; c < json_object_array_length(conds); c++) {
			ru->nconds++;
			if ((r = parse_cond(json_object_array_get_idx(conds, c), &ru->conds[c], e, rctx)))
				return r;
		}
		if ((r = parse_action(jget(ro, "actions") ? jget(ro, "actions") : jget(ro, "action"),
				      &ru->action, cfg, false, e, rctx)))
			return r;
	}
	qsort(l->rules, l->nrules, sizeof(*l->rules), rule_cmp);
	(void)lbo;
	return 0;
}

struct lb_config *lb_config_parse(const char *json, char *err, size_t errlen)
{
	struct perr e = { err, errlen };
	struct json_tokener *tok;
	json_object *root, *tgs, *lbs, *st;
	struct lb_config *cfg;
	enum json_tokener_error jerr;
	size_t n, nl = 0;
	int r = 0;
	double d;

	snprintf(err, errlen, "out of memory");
	tok = json_tokener_new_ex(64);
	if (!tok)
		return NULL;
	root = json_tokener_parse_ex(tok, json, (int)strlen(json));
	jerr = json_tokener_get_error(tok);
	json_tokener_free(tok);
	if (!root || jerr != json_tokener_success) {
		snprintf(err, errlen, "config is not valid JSON: %s", json_tokener_error_desc(jerr));
		json_object_put(root);
		return NULL;
	}
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		goto out_json;
	cfg->refs = 1;
	cfg->header_timeout_ms = 10000;
	cfg->connect_timeout_ms = 5000;
	cfg->limits.max_head = HTTP_DEFAULT_MAX_HEAD;
	cfg->limits.max_headers = HTTP_DEFAULT_MAX_HEADERS;
	if (!json_object_is_type(root, json_type_object)) {
		r = fail(&e, "config must be a JSON object");
		goto fail;
	}
	if (!(cfg->json = strdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN))))
		goto fail_nomem;
	st = jget(root, "settings");
	if (st) {
		d = cfg->header_timeout_ms / 1000.0;
		if ((r = jnum(st, "header_timeout", 0.1, 3600, &d, &e, "settings")))
			goto fail;
		cfg->header_timeout_ms = (unsigned)(d * 1000);
		d = cfg->connect_timeout_ms / 1000.0;
		if ((r = jnum(st, "connect_timeout", 0.1, 3600, &d, &e, "settings")))
			goto fail;
		cfg->connect_timeout_ms = (unsigned)(d * 1000);
		d = (double)cfg->limits.max_head;
		if ((r = jnum(st, "max_header_bytes", 1024, 65536, &d, &e, "settings")))
			goto fail;
		cfg->limits.max_head = (size_t)d;
		d = (double)cfg->limits.max_headers;
		if ((r = jnum(st, "max_headers", 1, HTTP_MAX_HEADERS_CAP, &d, &e, "settings")))
			goto fail;
		cfg->limits.max_headers = (size_t)d;
	}
	tgs = jarr(root, "target_groups", &e, "config", &r);
	if (r)
		goto fail;
	n = tgs ? json_object_array_length(tgs) : 0;
	cfg->tgs = calloc(n ? n : 1, sizeof(*cfg->tgs));
	if (!cfg->tgs)
		goto fail_nomem;
	for (size_t i = 0; i < n; i++) {
		cfg->ntgs++;
		if ((r = parse_tg(json_object_array_get_idx(tgs, i), &cfg->tgs[i], &e)))
			goto fail;
		for (size_t j = 0; j < i; j++)
			if (strcmp(cfg->tgs[j].name, cfg->tgs[i].name) == 0) {
				r = fail(&e, "target group %s defined twice", cfg->tgs[i].name);
				goto fail;
			}
	}
	lbs = jarr(root, "load_balancers", &e, "config", &r);
	if (r)
		goto fail;
	n = lbs ? json_object_array_length(lbs) : 0;
	for (size_t i = 0; i < n; i++) {
		json_object *lo = json_object_array_get_idx(lbs, i), *ls;

		if (!json_object_is_type(lo, json_type_object) ||
		    ((ls = jget(lo, "listeners")) && !json_object_is_type(ls, json_type_array))) {
			r = fail(&e, "load_balancers: objects with a \"listeners\" array");
			goto fail;
		}
		nl += ls ? json_object_array_length(ls) : 0;
	}
	cfg->listeners = calloc(nl ? nl : 1, sizeof(*cfg->listeners));
	if (!cfg->listeners)
		goto fail_nomem;
	for (size_t i = 0; i < n; i++) {
		json_object *lo = json_object_array_get_idx(lbs, i), *ls = jget(lo, "listeners");
		char *name = NULL, *type = NULL;
		bool nlb = false;

		if ((r = jstr(lo, "name", &name, &e, "load balancer")))
			goto fail;
		if (!name || !*name || strlen(name) > LB_NAME_MAX) {
			free(name);
			r = fail(&e, "load balancer: \"name\" (1..%d characters) is required", LB_NAME_MAX);
			goto fail;
		}
		if ((r = jstr(lo, "type", &type, &e, "load balancer"))) {
			free(name);
			goto fail;
		}
		if (type && strcmp(type, "network") == 0)
			nlb = true;
		else if (type && strcmp(type, "application") != 0)
			r = fail(&e, "load balancer %s: type must be application or network", name);
		free(type);
		d = 60;
		if (!r)
			r = jnum(lo, "idle_timeout", 1, 4000, &d, &e, name);
		for (size_t j = 0; !r && ls && j < json_object_array_length(ls); j++) {
			struct lb_listener *l = &cfg->listeners[cfg->nlisteners++];

			r = parse_listener(lo, name, nlb, (unsigned)(d * 1000), json_object_array_get_idx(ls, j),
					   l, cfg, &e);
			for (size_t k = 0; !r && k + 1 < cfg->nlisteners; k++)
				if (strcmp(cfg->listeners[k].key, l->key) == 0)
					r = fail(&e, "listener %s defined twice", l->key);
		}
		for (size_t j = 0; !r && j < i; j++) {
			json_object *po = json_object_array_get_idx(lbs, j);
			const char *pn = json_object_get_string(jget(po, "name"));

			if (pn && strcmp(pn, name) == 0)
				r = fail(&e, "load balancer %s defined twice", name);
		}
		free(name);
		if (r)
			goto fail;
	}
	for (size_t i = 0; i < cfg->nlisteners; i++) {
		struct lb_listener *l = &cfg->listeners[i];

		l->st = calloc(1, sizeof(*l->st));
		if (!l->st || !(l->st->name = strdup(l->lb_name)))
			goto fail_nomem;
		l->st->refs = 1;
	}
	for (size_t i = 0; i < cfg->ntgs; i++)
		for (size_t t = 0; t < cfg->tgs[i].ntargets; t++)
			cfg->tgs[i].targets[t]->in_use = cfg->tgs[i].in_use;
	json_object_put(root);
	return cfg;

fail_nomem:
	snprintf(err, errlen, "out of memory");
fail:
	if (r == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	lb_config_put(cfg);
out_json:
	json_object_put(root);
	return NULL;
}

/* ---- apply ------------------------------------------------------------------ */

static int load_ssl(struct lb_listener *l, struct perr *e)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (!ctx)
		return fail(e, "listener %s: SSL_CTX_new failed", l->key);
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				      SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_use_certificate_chain_file(ctx, l->cert) != 1) {
		SSL_CTX_free(ctx);
		return fail(e, "listener %s: cannot load certificate %s", l->key, l->cert);
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, l->keyfile, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		SSL_CTX_free(ctx);
		return fail(e, "listener %s: cannot load key %s (or it does not match)", l->key,
			    l->keyfile);
	}
	l->ssl = ctx;
	return 0;
}

static bool listener_live(struct lb_config *cur, const char *key)
{
	if (!cur)
		return false;
	for (size_t i = 0; i < cur->nlisteners; i++)
		if (strcmp(cur->listeners[i].key, key) == 0)
			return true;
	return false;
}

static int test_bind(const struct lb_listener *l, struct perr *e)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, r = 0;

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&l->addr, sizeof(l->addr)) < 0) {
		r = -errno;
		fail(e, "listener %s: cannot bind: %s", l->key, strerror(errno));
	}
	close(fd);
	return r;
}

/* Swap parsed stats/targets for registered ones (reg_lock held). */
static void bind_registry(struct lb *lb, struct lb_config *cfg, uint64_t gen)
{
	for (size_t i = 0; i < cfg->nlisteners; i++) {
		struct lb_listener *l = &cfg->listeners[i];
		struct lb_lbstat *s;

		for (s = lb->lbstats; s; s = s->next)
			if (strcmp(s->name, l->st->name) == 0)
				break;
		if (s) {
			free(l->st->name);
			free(l->st);
			__atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
			l->st = s;
		} else {
			__atomic_add_fetch(&l->st->refs, 1, __ATOMIC_RELAXED); /* the registry's */
			l->st->next = lb->lbstats;
			lb->lbstats = l->st;
		}
	}
	for (size_t i = 0; i < cfg->ntgs; i++) {
		struct lb_tg *tg = &cfg->tgs[i];
		struct lb_tgstat *s;

		for (s = lb->tgstats; s; s = s->next)
			if (strcmp(s->name, tg->st->name) == 0)
				break;
		if (s) {
			free(tg->st->name);
			free(tg->st);
			__atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
			tg->st = s;
		} else {
			__atomic_add_fetch(&tg->st->refs, 1, __ATOMIC_RELAXED);
			tg->st->next = lb->tgstats;
			lb->tgstats = tg->st;
		}
		for (size_t k = 0; k < tg->ntargets; k++) {
			struct lb_target *nt = tg->targets[k], *t;

			for (t = lb->targets; t; t = t->next)
				if (strcmp(t->key, nt->key) == 0)
					break;
			if (t) {
				bool hc_changed = memcmp(&t->hc, &nt->hc, sizeof(t->hc)) != 0;

				if (t->draining || hc_changed) {
					/* registered again or new checks: start over */
					lb_hstate_init(&t->hs, &nt->hc);
					t->next_check_ms = 0;
					__atomic_store_n(&t->state, (int)t->hs.state, __ATOMIC_RELAXED);
					__atomic_store_n(&t->draining, false, __ATOMIC_RELAXED);
				}
				t->hc = nt->hc;
				t->dereg_delay_s = nt->dereg_delay_s;
				free(t->id);
				t->id = nt->id;
				nt->id = NULL;
				lb_target_get(t);
				lb_target_put(nt);
				tg->targets[k] = t;
			} else {
				lb_target_get(nt); /* the registry's */
				nt->next = lb->targets;
				lb->targets = nt;
				t = nt;
			}
			t->in_use = tg->in_use;
			t->seen_gen = gen;
		}
	}
}

int lb_apply(struct lb *lb, struct lb_config *cfg, char *err, size_t errlen)
{
	struct perr e = { err, errlen };
	struct lb_config *old;
	uint64_t now = lb_now_ms(), gen;
	int r;

	pthread_mutex_lock(&lb->cfg_lock); /* one apply at a time; workers only read cfg */
	old = lb->cfg;
	for (size_t i = 0; i < cfg->nlisteners; i++) {
		struct lb_listener *l = &cfg->listeners[i];

		if (l->proto == LB_PROTO_HTTPS && (r = load_ssl(l, &e)) < 0)
			goto unlock;
		if (!listener_live(old, l->key) && (r = test_bind(l, &e)) < 0)
			goto unlock;
	}
	for (size_t i = 0; i < cfg->ntgs; i++)
		for (size_t k = 0; k < cfg->tgs[i].ntargets; k++)
			if ((r = nsock_prepare(lb->nsock, cfg->tgs[i].targets[k]->netns)) < 0) {
				fail(&e, "cannot start socket factory: %s", strerror(-r));
				goto unlock;
			}
	gen = ++lb->gen;
	cfg->gen = gen;
	pthread_mutex_lock(&lb->reg_lock);
	bind_registry(lb, cfg, gen);
	/* targets that are not in this snapshot start draining */
	for (struct lb_target *t = lb->targets; t; t = t->next) {
		if (t->seen_gen == gen || t->draining)
			continue;
		t->hs.state = LB_TS_DRAINING;
		t->hs.reason = LB_R_DEREGISTRATION_IN_PROGRESS;
		__atomic_store_n(&t->state, (int)LB_TS_DRAINING, __ATOMIC_RELAXED);
		__atomic_store_n(&t->draining, true, __ATOMIC_RELEASE);
		t->drain_deadline_ms = now + (uint64_t)t->dereg_delay_s * 1000u;
		log_info("target %s: draining (%us)", t->key, t->dereg_delay_s);
	}
	pthread_mutex_unlock(&lb->reg_lock);
	lb_config_get(cfg);
	lb->cfg = cfg;
	r = 0;
unlock:
	pthread_mutex_unlock(&lb->cfg_lock);
	if (r == 0) {
		lb_workers_notify(lb);
		lb_config_put(old);
		log_info("config %llu applied: %zu listeners, %zu target groups",
			 (unsigned long long)gen, cfg->nlisteners, cfg->ntgs);
	}
	return r;
}

void lb_drain_tick(struct lb *lb, uint64_t now_ms)
{
	struct lb_target **pp, *done = NULL;

	pthread_mutex_lock(&lb->reg_lock);
	for (pp = &lb->targets; *pp;) {
		struct lb_target *t = *pp;

		if (t->draining && !t->checking &&
		    (__atomic_load_n(&t->active, __ATOMIC_ACQUIRE) <= 0 || now_ms >= t->drain_deadline_ms)) {
			*pp = t->next;
			t->next = done;
			done = t;
			log_info("target %s: deregistered", t->key);
		} else {
			pp = &t->next;
		}
	}
	pthread_mutex_unlock(&lb->reg_lock);
	while (done) {
		struct lb_target *t = done;

		done = t->next;
		lb_target_put(t);
	}
}

void lb_registry_free(struct lb *lb)
{
	while (lb->targets) {
		struct lb_target *t = lb->targets;

		lb->targets = t->next;
		lb_target_put(t);
	}
	while (lb->tgstats) {
		struct lb_tgstat *s = lb->tgstats;

		lb->tgstats = s->next;
		if (__atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) == 0) {
			free(s->name);
			free(s);
		}
	}
	while (lb->lbstats) {
		struct lb_lbstat *s = lb->lbstats;

		lb->lbstats = s->next;
		if (__atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) == 0) {
			free(s->name);
			free(s);
		}
	}
}

/* ---- reports ------------------------------------------------------------- */

static json_object *target_json(const struct lb_target *t, bool tg_in_use, bool stats)
{
	json_object *o = json_object_new_object();
	enum lb_hstate_e st = t->hs.state;
	enum lb_hreason rs = t->hs.reason;
	uint16_t hp = t->hc.port ? t->hc.port : t->port;

	if (!t->draining && !tg_in_use) {
		st = LB_TS_UNUSED;
		rs = LB_R_NOT_IN_USE;
	}
	json_object_object_add(o, "id", json_object_new_string(t->id ? t->id : t->ip));
	json_object_object_add(o, "ip", json_object_new_string(t->ip));
	json_object_object_add(o, "port", json_object_new_int(t->port));
	json_object_object_add(o, "netns", json_object_new_string(t->netns));
	if (stats) {
		json_object_object_add(o, "requests",
				       json_object_new_int64((int64_t)__atomic_load_n(&t->requests, __ATOMIC_RELAXED)));
		json_object_object_add(o, "active",
				       json_object_new_int64(__atomic_load_n(&t->active, __ATOMIC_RELAXED)));
		return o;
	}
	json_object_object_add(o, "health_check_port", json_object_new_int(hp));
	json_object_object_add(o, "state", json_object_new_string(lb_hstate_name(st)));
	json_object_object_add(o, "reason", lb_hreason_code(rs) ? json_object_new_string(lb_hreason_code(rs)) : NULL);
	json_object_object_add(o, "description", lb_hreason_description(rs)
				? json_object_new_string(lb_hreason_description(rs)) : NULL);
	if (rs == LB_R_RESPONSE_CODE_MISMATCH && t->hs.last_code) {
		char d[96];

		snprintf(d, sizeof(d), "Health checks failed with these codes: [%d]", t->hs.last_code);
		json_object_object_add(o, "description", json_object_new_string(d));
	}
	return o;
}

static char *report(struct lb *lb, bool stats)
{
	json_object *root = json_object_new_object(), *arr = json_object_new_array();
	struct lb_config *cfg = lb_current(lb);
	char *out;

	json_object_object_add(root, "ok", json_object_new_boolean(1));
	pthread_mutex_lock(&lb->reg_lock);
	for (size_t i = 0; cfg && i < cfg->ntgs; i++) {
		struct lb_tg *tg = &cfg->tgs[i];
		json_object *g = json_object_new_object(), *ts = json_object_new_array();

		json_object_object_add(g, "name", json_object_new_string(tg->name));
		if (stats) {
			json_object_object_add(g, "requests", json_object_new_int64(
				(int64_t)__atomic_load_n(&tg->st->requests, __ATOMIC_RELAXED)));
			json_object_object_add(g, "no_target", json_object_new_int64(
				(int64_t)__atomic_load_n(&tg->st->no_target, __ATOMIC_RELAXED)));
		}
		for (size_t k = 0; k < tg->ntargets; k++)
			json_object_array_add(ts, target_json(tg->targets[k], tg->in_use, stats));
		/* draining targets of this group (no longer in the snapshot) */
		for (struct lb_target *t = lb->targets; t; t = t->next)
			if (t->draining && strcmp(t->tg_name, tg->name) == 0)
				json_object_array_add(ts, target_json(t, true, stats));
		json_object_object_add(g, "targets", ts);
		json_object_array_add(arr, g);
	}
	json_object_object_add(root, "target_groups", arr);
	if (stats) {
		json_object *lbs = json_object_new_array();

		for (struct lb_lbstat *s = lb->lbstats; s; s = s->next) {
			json_object *o = json_object_new_object();

			json_object_object_add(o, "name", json_object_new_string(s->name));
			json_object_object_add(o, "requests", json_object_new_int64(
				(int64_t)__atomic_load_n(&s->requests, __ATOMIC_RELAXED)));
			json_object_object_add(o, "elb_4xx", json_object_new_int64(
				(int64_t)__atomic_load_n(&s->elb_4xx, __ATOMIC_RELAXED)));
			json_object_object_add(o, "elb_5xx", json_object_new_int64(
				(int64_t)__atomic_load_n(&s->elb_5xx, __ATOMIC_RELAXED)));
			json_object_object_add(o, "active_connections", json_object_new_int64(
				(int64_t)__atomic_load_n(&s->active_conns, __ATOMIC_RELAXED)));
			json_object_array_add(lbs, o);
		}
		json_object_object_add(root, "load_balancers", lbs);
	}
	pthread_mutex_unlock(&lb->reg_lock);
	lb_config_put(cfg);
	out = strdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
	json_object_put(root);
	return out;
}

char *lb_health_report(struct lb *lb)
{
	return report(lb, false);
}

char *lb_stats_report(struct lb *lb)
{
	return report(lb, true);
}
