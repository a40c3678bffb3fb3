/* lb/rule.h - listener rule evaluation and target choice (pure: no I/O;
 * tests/unit/test_lb_rule.c).
 *
 * Rules are tried by priority (lowest first); a rule matches when all of its
 * conditions match, a condition when any of its values matches (ALB).
 * Patterns: '*' any run of characters, '?' one character; host-header,
 * http-header and query-string compare case-insensitively, path-pattern and
 * http-request-method case-sensitively.  query-string values are compared
 * as they appear on the wire (no percent-decoding).
 */
#ifndef LB_RULE_H
#define LB_RULE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/strbuf.h"
#include "lb/http.h"
#include "lb/lb.h"

struct lb_reqctx {
	const struct http_msg *m;
	const char *host;      /* Host without its port ("" when absent) */
	size_t host_len;
	struct in_addr src;    /* client address */
	bool https;
	uint16_t port;         /* listener port */
};

/* '*' and '?' wildcard match of s[0..n) against NUL-terminated pat. */
bool lb_wildcard(const char *pat, const char *s, size_t n, bool icase);

void lb_reqctx_init(struct lb_reqctx *rc, const struct http_msg *m, struct in_addr src,
		    bool https, uint16_t port);
bool lb_cond_match(const struct lb_cond *c, const struct lb_reqctx *rc);
/* The action of the first matching rule, or the listener's default. */
const struct lb_action *lb_rules_eval(const struct lb_listener *l, const struct lb_reqctx *rc);

/* Weighted choice among a forward action's groups: rnd is any 32-bit value
 * (uniform); groups of weight 0 are never chosen.  NULL when all are 0. */
struct lb_tg *lb_fwd_pick(const struct lb_action *a, uint32_t rnd);

/* Target choice in a group: healthy targets that are not draining; when none
 * is healthy, every registered target that is not draining (fail open, as
 * ALB).  Round robin uses the group's counter, source hash uses hash.
 * Returns a borrowed pointer (the caller takes a reference) or NULL (no
 * target: 503). */
struct lb_target *lb_tg_pick(struct lb_tg *tg, uint32_t hash);

/* Location for a redirect action with #{protocol} #{host} #{port} #{path}
 * (without its leading '/') and #{query} substituted.  0 or -ENOMEM. */
int lb_redirect_location(const struct lb_action *a, const struct lb_reqctx *rc,
			 struct strbuf *out);

#endif
