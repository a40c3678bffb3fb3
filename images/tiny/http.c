/* images/tiny/http.c - see http.h.  Routes: GET|HEAD /  (instance id),
 * /health ("ok"), /burn?ms=N (spin N ms, N <= HTTP_BURN_MAX_MS); 400 for a
 * malformed request line or head, 405 for other methods, 404 otherwise. */
#include "images/tiny/http.h"
#include "images/tiny/io.h"
#include "images/tiny/util.h"

struct sbuf {
	char *p;
	size_t n, cap;
};

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
	if (n > b->cap - b->n)
		n = b->cap - b->n;
	memcpy(b->p + b->n, s, n);
	b->n += n;
}

static void sb_puts(struct sbuf *b, const char *s)
{
	sb_put(b, s, str_nlen(s, b->cap));
}

static void sb_u64(struct sbuf *b, uint64_t v)
{
	char d[20];

	sb_put(b, d, fmt_u64(d, v));
}

static size_t http_reply(struct http_ctx *h, char *out, size_t cap, unsigned int code,
			 const char *reason, const char *body, size_t body_len, bool head)
{
	struct sbuf b = { out, 0, cap };

	h->requests++;
	sb_puts(&b, "HTTP/1.1 ");
	sb_u64(&b, code);
	sb_puts(&b, " ");
	sb_puts(&b, reason);
	sb_puts(&b, "\r\nServer: haneul-tiny\r\nContent-Type: text/plain\r\nContent-Length: ");
	sb_u64(&b, body_len);
	if (code == 405)
		sb_puts(&b, "\r\nAllow: GET, HEAD");
	sb_puts(&b, "\r\nConnection: close\r\n\r\n");
	if (!head)
		sb_put(&b, body, body_len);
	return b.n;
}

static size_t http_simple(struct http_ctx *h, char *out, size_t cap, unsigned int code,
			  const char *reason, bool head)
{
	char body[48];
	size_t n = str_nlen(reason, sizeof(body) - 1);

	memcpy(body, reason, n);
	body[n++] = '\n';
	return http_reply(h, out, cap, code, reason, body, n, head);
}

/* Where the head ends (index just past the blank line), or 0. */
static size_t http_head_end(const char *r, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (r[i] != '\n')
			continue;
		if (r[i + 1] == '\n')
			return i + 2;
		if (r[i + 1] == '\r' && i + 2 < len && r[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

static void http_burn(struct http_ctx *h, uint64_t ms)
{
	uint64_t start = tclock_us(h->clock), end = start + ms * 1000;

	/* Bounded: the clock advances, and ms <= HTTP_BURN_MAX_MS. */
	while (tclock_us(h->clock) < end)
		io_pause();
	h->burned_ms += ms;
}

size_t http_handle(struct http_ctx *h, const char *r, size_t len, bool final, char *out, size_t cap)
{
	size_t end = http_head_end(r, len), i, m, t, tlen, p;
	bool head = false;
	uint64_t ms = 0;
	char body[96];

	if (!end)
		return final ? http_simple(h, out, cap, 400, "Bad Request", false) : 0;
	/* Request line: METHOD SP TARGET SP HTTP/1.x (CR)LF */
	for (m = 0; m < end && r[m] >= 'A' && r[m] <= 'Z'; m++)
		;
	if (m == 0 || m >= end || r[m] != ' ')
		return http_simple(h, out, cap, 400, "Bad Request", false);
	t = m + 1;
	for (i = t; i < end && r[i] > ' ' && r[i] < 0x7f; i++)
		;
	tlen = i - t;
	if (tlen == 0 || r[t] != '/' || i >= end || r[i] != ' ')
		return http_simple(h, out, cap, 400, "Bad Request", false);
	i++;
	if (end - i < 9 || !starts_with(r + i, end - i, "HTTP/1.") || (r[i + 7] != '0' && r[i + 7] != '1') ||
	    !(r[i + 8] == '\n' || (r[i + 8] == '\r' && end - i > 9 && r[i + 9] == '\n')))
		return http_simple(h, out, cap, 400, "Bad Request", false);
	if (m == 4 && starts_with(r, m, "HEAD"))
		head = true;
	else if (!(m == 3 && starts_with(r, m, "GET")))
		return http_simple(h, out, cap, 405, "Method Not Allowed", false);

	for (p = 0; p < tlen && r[t + p] != '?'; p++)
		;
	if (p == 1) {
		size_t n = str_nlen(h->instance_id, sizeof(body) - 1);

		memcpy(body, h->instance_id, n);
		body[n++] = '\n';
		return http_reply(h, out, cap, 200, "OK", body, n, head);
	}
	if (p == 7 && starts_with(r + t, p, "/health"))
		return http_reply(h, out, cap, 200, "OK", "ok\n", 3, head);
	if (p == 5 && starts_with(r + t, p, "/burn")) {
		/* exactly ?ms=N, N decimal, at most HTTP_BURN_MAX_MS */
		size_t q = t + p, qe = t + tlen, n;

		if (qe - q < 5 || !starts_with(r + q, qe - q, "?ms="))
			return http_simple(h, out, cap, 400, "Bad Request", head);
		for (q += 4; q < qe; q++) {
			if (r[q] < '0' || r[q] > '9')
				return http_simple(h, out, cap, 400, "Bad Request", head);
			ms = ms * 10 + (uint64_t)(r[q] - '0');
			if (ms > HTTP_BURN_MAX_MS)
				return http_simple(h, out, cap, 400, "Bad Request", head);
		}
		http_burn(h, ms);
		n = 0;
		memcpy(body, "burned ", 7);
		n = 7 + fmt_u64(body + 7, ms);
		memcpy(body + n, " ms\n", 4);
		n += 4;
		return http_reply(h, out, cap, 200, "OK", body, n, head);
	}
	return http_simple(h, out, cap, 404, "Not Found", head);
}
