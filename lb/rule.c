/* lb/rule.c - rule matching and target choice (see rule.h). */
#include "lb/rule.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool ch_eq(char a, char b, bool icase)
{
	return icase ? tolower((unsigned char)a) == tolower((unsigned char)b) : a == b;
}

bool lb_wildcard(const char *pat, const char *s, size_t n, bool icase)
{
	const char *star = NULL;
	size_t i = 0, star_i = 0;

	while (i < n) {
		if (*pat == '*') {
			star = pat++;
			star_i = i;
		} else if (*pat && (*pat == '?' || ch_eq(*pat, s[i], icase))) {
			pat++;
			i++;
		} else if (star) {
			pat = star + 1;
			i = ++star_i;
		} else {
			return false;
		}
	}
	while (*pat == '*')
		pat++;
	return *pat == '\0';
}

void lb_reqctx_init(struct lb_reqctx *rc, const struct http_msg *m, struct in_addr src,
		    bool https, uint16_t port)
{
	memset(rc, 0, sizeof(*rc));
	rc->m = m;
	rc->src = src;
	rc->https = https;
	rc->port = port;
	rc->host = "";
	if (m->host) {
		size_t n = m->host_len;

		/* strip ":port" (IPv6 literals keep their brackets) */
		for (size_t i = n; i > 0; i--) {
			if (m->host[i - 1] == ']')
				break;
			if (m->host[i - 1] == ':') {
				n = i - 1;
				break;
			}
		}
		rc->host = m->host;
		rc->host_len = n;
	}
}

static bool query_match(const struct lb_cond *c, size_t vi, const struct lb_reqctx *rc)
{
	const char *q = rc->m->query, *end = q ? q + rc->m->query_len : NULL;

	while (q && q < end) {
		const char *amp = memchr(q, '&', (size_t)(end - q));
		const char *pe = amp ? amp : end;
		const char *eq = memchr(q, '=', (size_t)(pe - q));
		const char *ke = eq ? eq : pe;
		const char *v = eq ? eq + 1 : pe;

		if ((!c->keys[vi] || lb_wildcard(c->keys[vi], q, (size_t)(ke - q), true)) &&
		    lb_wildcard(c->values[vi], v, (size_t)(pe - v), true))
			return true;
		q = amp ? amp + 1 : end;
	}
	return false;
}

static bool source_match(const char *cidr, struct in_addr src)
{
	char buf[32];
	char *slash;
	struct in_addr a;
	int bits = 32;
	uint32_t mask;

	snprintf(buf, sizeof(buf), "%s", cidr);
	slash = strchr(buf, '/');
	if (slash) {
		*slash = '\0';
		bits = atoi(slash + 1);
	}
	if (inet_pton(AF_INET, buf, &a) != 1 || bits < 0 || bits > 32)
		return false;
	mask = bits == 0 ? 0 : htonl(~0u << (32 - bits));
	return (a.s_addr & mask) == (src.s_addr & mask);
}

bool lb_cond_match(const struct lb_cond *c, const struct lb_reqctx *rc)
{
	const struct http_msg *m = rc->m;

	for (size_t i = 0; i < c->nvalues; i++) {
		switch (c->field) {
		case LB_COND_HOST:
			if (lb_wildcard(c->values[i], rc->host, rc->host_len, true))
				return true;
			break;
		case LB_COND_PATH:
			if (lb_wildcard(c->values[i], m->path, m->path_len, false))
				return true;
			break;
		case LB_COND_METHOD:
			if (strlen(c->values[i]) == m->method_len &&
			    memcmp(c->values[i], m->method, m->method_len) == 0)
				return true;
			break;
		case LB_COND_HEADER:
			for (size_t h = 0; h < m->nhdr; h++)
				if (http_name_is(&m->hdr[h], c->header_name) &&
				    lb_wildcard(c->values[i], m->hdr[h].value, m->hdr[h].value_len, true))
					return true;
			break;
		case LB_COND_QUERY:
			if (query_match(c, i, rc))
				return true;
			break;
		case LB_COND_SOURCE_IP:
			if (source_match(c->values[i], rc->src))
				return true;
			break;
		}
	}
	return false;
}

const struct lb_action *lb_rules_eval(const struct lb_listener *l, const struct lb_reqctx *rc)
{
	for (size_t r = 0; r < l->nrules; r++) {
		const struct lb_rule *rule = &l->rules[r];
		size_t c;

		for (c = 0; c < rule->nconds; c++)
			if (!lb_cond_match(&rule->conds[c], rc))
				break;
		if (c == rule->nconds)
			return &rule->action;
	}
	return &l->def;
}

struct lb_tg *lb_fwd_pick(const struct lb_action *a, uint32_t rnd)
{
	uint32_t x;

	if (a->ntg == 1)
		return a->tgs[0].weight || a->total_weight == 0 ? a->tgs[0].tg : NULL;
	if (a->total_weight == 0)
		return NULL;
	x = rnd % a->total_weight;
	for (size_t i = 0; i < a->ntg; i++) {
		if (x < a->tgs[i].weight)
			return a->tgs[i].tg;
		x -= a->tgs[i].weight;
	}
	return NULL;
}

struct lb_target *lb_tg_pick(struct lb_tg *tg, uint32_t hash)
{
	size_t healthy = 0, alive = 0, k;
	bool use_healthy;
	uint64_t pick;

	for (size_t i = 0; i < tg->ntargets; i++) {
		struct lb_target *t = tg->targets[i];

		if (__atomic_load_n(&t->draining, __ATOMIC_RELAXED))
			continue;
		alive++;
		if (__atomic_load_n(&t->state, __ATOMIC_RELAXED) == LB_TS_HEALTHY)
			healthy++;
	}
	if (!alive)
		return NULL;
	use_healthy = healthy > 0;
	k = use_healthy ? healthy : alive;
	if (tg->algo == LB_ALGO_SOURCE_HASH)
		pick = hash % k;
	else
		pick = (__atomic_fetch_add(&tg->st->rr, 1, __ATOMIC_RELAXED)) % k;
	for (size_t i = 0; i < tg->ntargets; i++) {
		struct lb_target *t = tg->targets[i];

		if (__atomic_load_n(&t->draining, __ATOMIC_RELAXED))
			continue;
		if (use_healthy && __atomic_load_n(&t->state, __ATOMIC_RELAXED) != LB_TS_HEALTHY)
			continue;
		if (pick-- == 0)
			return t;
	}
	return NULL;
}

/* Expand one redirect component: NULL means "#{name}" itself. */
static void expand(struct strbuf *o, const char *tmpl, const char *defl, const struct lb_reqctx *rc)
{
	const char *p = tmpl ? tmpl : defl;
	const struct http_msg *m = rc->m;
	char port[8];

	snprintf(port, sizeof(port), "%u", rc->port);
	while (*p) {
		if (strncmp(p, "#{protocol}", 11) == 0) {
			sb_puts(o, rc->https ? "https" : "http");
			p += 11;
		} else if (strncmp(p, "#{host}", 7) == 0) {
			sb_append(o, rc->host, rc->host_len);
			p += 7;
		} else if (strncmp(p, "#{port}", 7) == 0) {
			sb_puts(o, port);
			p += 7;
		} else if (strncmp(p, "#{path}", 7) == 0) {
			if (m->path_len > 0 && m->path[0] == '/')
				sb_append(o, m->path + 1, m->path_len - 1);
			p += 7;
		} else if (strncmp(p, "#{query}", 8) == 0) {
			sb_append(o, m->query ? m->query : "", m->query ? m->query_len : 0);
			p += 8;
		} else {
			sb_putc(o, *p++);
		}
	}
}

int lb_redirect_location(const struct lb_action *a, const struct lb_reqctx *rc,
			 struct strbuf *out)
{
	struct strbuf proto = STRBUF_INIT, port = STRBUF_INIT, q = STRBUF_INIT;
	int r = 0;

	expand(&proto, a->r_protocol, "#{protocol}", rc);
	expand(&port, a->r_port, "#{port}", rc);
	for (size_t i = 0; i < proto.len; i++)
		proto.p[i] = (char)tolower((unsigned char)proto.p[i]);
	sb_append(out, proto.p ? proto.p : "", proto.len);
	sb_puts(out, "://");
	expand(out, a->r_host, "#{host}", rc);
	/* the default port of the scheme is left out, as ALB does */
	if (!((strcmp(sb_cstr(&proto), "http") == 0 && strcmp(sb_cstr(&port), "80") == 0) ||
	      (strcmp(sb_cstr(&proto), "https") == 0 && strcmp(sb_cstr(&port), "443") == 0))) {
		sb_putc(out, ':');
		sb_append(out, port.p ? port.p : "", port.len);
	}
	expand(out, a->r_path, "/#{path}", rc);
	expand(&q, a->r_query, "#{query}", rc);
	if (q.len) {
		sb_putc(out, '?');
		sb_append(out, q.p, q.len);
	}
	if (sb_oom(out) || sb_oom(&proto) || sb_oom(&port) || sb_oom(&q))
		r = -ENOMEM;
	sb_free(&proto);
	sb_free(&port);
	sb_free(&q);
	return r;
}
