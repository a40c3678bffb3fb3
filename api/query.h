/* api/query.h - application/x-www-form-urlencoded and URL query parsing,
 * RFC 3986 encoding, and the AWS Query "flattened" list helpers.
 *
 * Parsed keys and values are decoded, NUL-terminated copies owned by the
 * struct query.  A value that decodes to an embedded NUL, a '%' not followed
 * by two hex digits, an empty key or more than QUERY_MAX_PARAMS pairs make
 * the whole input invalid: nothing is half-parsed. */
#ifndef API_QUERY_H
#define API_QUERY_H

#include <stdbool.h>
#include <stddef.h>

#include "common/strbuf.h"

#define QUERY_MAX_PARAMS 4096

struct query_param {
	char *key;
	char *val;
};

struct query {
	struct query_param *v;
	size_t n;
	size_t cap;
};

/* Flags for query_parse(). */
#define QUERY_PLUS_IS_SPACE 0x1 /* form bodies: '+' means ' ' (RFC 1866) */

void query_init(struct query *q);
void query_free(struct query *q);
/* Appends the pairs of s[0..len) to q.  Returns 0, -EINVAL (malformed),
 * -E2BIG (too many pairs) or -ENOMEM; on error q keeps only what it had before. */
int query_parse(struct query *q, const char *s, size_t len, unsigned flags);
/* Adds one decoded pair (copies).  0 or -ENOMEM. */
int query_add(struct query *q, const char *key, const char *val);
/* First value for key, or NULL. */
const char *query_get(const struct query *q, const char *key);

/* Percent-decode in[0..n) into out.  0, -EINVAL on a bad escape or a decoded NUL. */
int query_url_decode(const char *in, size_t n, bool plus_is_space, struct strbuf *out);
/* RFC 3986 encode: everything but A-Z a-z 0-9 - _ . ~ (and '/' if keep_slash)
 * becomes %XX with upper-case hex, as SigV4 requires. */
void query_uri_encode(struct strbuf *out, const char *s, size_t n, bool keep_slash);

/* AWS Query list helpers.  For prefix "Subnets.member" the list items are the
 * keys "Subnets.member.N" (N = 1, 2, ...) and, for lists of structures, keys
 * "Subnets.member.N.Field".  query_list_indices() stores the distinct N found
 * (sorted ascending, no duplicates) into a malloc'd array the caller frees.
 * Returns the count (>= 0) or -ENOMEM / -EINVAL (an index that is not a
 * positive decimal number below 1000000). */
int query_list_indices(const struct query *q, const char *prefix, unsigned **out);
/* Value of "prefix.N" or "prefix.N.field" (field may be NULL). */
const char *query_list_get(const struct query *q, const char *prefix, unsigned n, const char *field);

#endif
