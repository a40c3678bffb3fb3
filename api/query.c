/* api/query.c - form/query parsing and RFC 3986 encoding (see query.h). */
#include "api/query.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void query_init(struct query *q)
{
	q->v = NULL;
	q->n = q->cap = 0;
}

static void query_truncate(struct query *q, size_t n)
{
	while (q->n > n) {
		q->n--;
		free(q->v[q->n].key);
		free(q->v[q->n].val);
	}
}

void query_free(struct query *q)
{
	query_truncate(q, 0);
	free(q->v);
	query_init(q);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int query_url_decode(const char *in, size_t n, bool plus_is_space, struct strbuf *out)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char c = in[i];

		if (c == '%') {
			int hi, lo;

			if (n - i < 3)
				return -EINVAL;
			hi = hexval(in[i + 1]);
			lo = hexval(in[i + 2]);
			if (hi < 0 || lo < 0)
				return -EINVAL;
			c = (char)(hi << 4 | lo);
			i += 2;
		} else if (c == '+' && plus_is_space) {
			c = ' ';
		}
		if (c == '\0')
			return -EINVAL;
		sb_putc(out, c);
	}
	return sb_oom(out) ? -ENOMEM : 0;
}

void query_uri_encode(struct strbuf *out, const char *s, size_t n, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~' || (c == '/' && keep_slash)) {
			sb_putc(out, (char)c);
		} else {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };

			sb_append(out, e, 3);
		}
	}
}

int query_add(struct query *q, const char *key, const char *val)
{
	char *k, *v;

	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 16;
		struct query_param *nv = realloc(q->v, cap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		q->v = nv;
		q->cap = cap;
	}
	k = strdup(key);
	v = strdup(val);
	if (!k || !v) {
		free(k);
		free(v);
		return -ENOMEM;
	}
	q->v[q->n].key = k;
	q->v[q->n].val = v;
	q->n++;
	return 0;
}

int query_parse(struct query *q, const char *s, size_t len, unsigned flags)
{
	bool plus = flags & QUERY_PLUS_IS_SPACE;
	size_t start_n = q->n, pos = 0;
	struct strbuf k = STRBUF_INIT, v = STRBUF_INIT;
	int err = 0;

	while (pos < len) {
		const char *seg = s + pos, *amp, *eq;
		size_t seg_len, klen;

		amp = memchr(seg, '&', len - pos);
		seg_len = amp ? (size_t)(amp - seg) : len - pos;
		pos += seg_len + (amp ? 1 : 0);
		if (seg_len == 0)
			continue; /* "a=1&&b=2" and a trailing '&' are harmless */
		eq = memchr(seg, '=', seg_len);
		klen = eq ? (size_t)(eq - seg) : seg_len;
		if (klen == 0) {
			err = -EINVAL;
			goto out;
		}
		if (q->n - start_n >= QUERY_MAX_PARAMS) {
			err = -E2BIG;
			goto out;
		}
		sb_reset(&k);
		sb_reset(&v);
		err = query_url_decode(seg, klen, plus, &k);
		if (!err && eq)
			err = query_url_decode(eq + 1, seg_len - klen - 1, plus, &v);
		if (err)
			goto out;
		err = query_add(q, sb_cstr(&k), sb_cstr(&v));
		if (err)
			goto out;
	}
out:
	if (err)
		query_truncate(q, start_n);
	sb_free(&k);
	sb_free(&v);
	return err;
}

const char *query_get(const struct query *q, const char *key)
{
	size_t i;

	for (i = 0; i < q->n; i++)
		if (strcmp(q->v[i].key, key) == 0)
			return q->v[i].val;
	return NULL;
}

static int cmp_unsigned(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

	return x < y ? -1 : x > y;
}

int query_list_indices(const struct query *q, const char *prefix, unsigned **out)
{
	size_t plen = strlen(prefix), i, n = 0, w;
	unsigned *idx;

	*out = NULL;
	idx = malloc((q->n ? q->n : 1) * sizeof(*idx));
	if (!idx)
		return -ENOMEM;
	for (i = 0; i < q->n; i++) {
		const char *k = q->v[i].key, *d;
		unsigned long val = 0;

		if (strncmp(k, prefix, plen) != 0 || k[plen] != '.')
			continue;
		d = k + plen + 1;
		if (*d < '1' || *d > '9')
			goto bad;
		while (*d >= '0' && *d <= '9') {
			val = val * 10 + (unsigned long)(*d - '0');
			if (val >= 1000000)
				goto bad;
			d++;
		}
		if (*d != '\0' && *d != '.')
			goto bad;
		idx[n++] = (unsigned)val;
	}
	qsort(idx, n, sizeof(*idx), cmp_unsigned);
	for (i = 0, w = 0; i < n; i++)
		if (w == 0 || idx[w - 1] != idx[i])
			idx[w++] = idx[i];
	*out = idx;
	return (int)w;
bad:
	free(idx);
	return -EINVAL;
}

const char *query_list_get(const struct query *q, const char *prefix, unsigned n, const char *field)
{
	char key[512];
	int len;

	if (field)
		len = snprintf(key, sizeof(key), "%s.%u.%s", prefix, n, field);
	else
		len = snprintf(key, sizeof(key), "%s.%u", prefix, n);
	if (len < 0 || (size_t)len >= sizeof(key))
		return NULL;
	return query_get(q, key);
}
