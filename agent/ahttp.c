/* agent/ahttp.c - see ahttp.h.  Strict where being lenient would let a
 * request mean two things (RFC 9112 sections 3, 5, 6.3, 9.3). */
#include "agent/ahttp.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Request line: method SP origin-form SP HTTP-version.  0 or -status. */
static int parse_request_line(const char *l, size_t n, struct ahttp_req *req)
{
	size_t i = 0, m, t0, tl;
	const char *v;

	while (i < n && is_tchar((unsigned char)l[i]))
		i++;
	m = i;
	if (m == 0 || i >= n || l[i] != ' ')
		return -400;
	if (m == 3 && !memcmp(l, "GET", 3))
		req->method = AHTTP_GET;
	else if (m == 4 && !memcmp(l, "HEAD", 4))
		req->method = AHTTP_HEAD;
	else
		req->method = AHTTP_OTHER;
	t0 = ++i;
	while (i < n && l[i] != ' ') {
		unsigned char c = (unsigned char)l[i];

		if (c < 0x21 || c > 0x7e)
			return -400;
		i++;
	}
	tl = i - t0;
	if (tl == 0 || i >= n)
		return -400;
	if (l[t0] != '/')
		return -400;
	if (tl > AHTTP_TARGET_MAX)
		return -414;
	memcpy(req->target, l + t0, tl);
	req->target[tl] = '\0';
	i++;
	if (n - i != 8)
		return -400;
	v = l + i;
	if (memcmp(v, "HTTP/", 5) || !is_digit(v[5]) || v[6] != '.' || !is_digit(v[7]))
		return -400;
	if (v[5] != '1' || (v[7] != '0' && v[7] != '1'))
		return -505;
	req->minor = v[7] - '0';
	return 0;
}

/* Does the comma-separated list V (N bytes) hold the token TOK (any case)? */
static bool list_has(const char *v, size_t n, const char *tok)
{
	size_t tl = strlen(tok), i = 0;

	while (i < n) {
		size_t s, e;

		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		s = i;
		while (i < n && v[i] != ',')
			i++;
		e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e - s == tl && !strncasecmp(v + s, tok, tl))
			return true;
	}
	return false;
}

struct hdr_state {
	bool conn_close, conn_keep, has_cl;
};

/* One header field line.  0 or -status. */
static int parse_header(const char *l, size_t n, struct ahttp_req *req, struct hdr_state *hs)
{
	size_t i = 0, vs, ve;

	if (l[0] == ' ' || l[0] == '\t')
		return -400; /* obs-fold */
	while (i < n && is_tchar((unsigned char)l[i]))
		i++;
	if (i == 0 || i >= n || l[i] != ':')
		return -400; /* also: whitespace between name and colon */
	vs = i + 1;
	while (vs < n && (l[vs] == ' ' || l[vs] == '\t'))
		vs++;
	ve = n;
	while (ve > vs && (l[ve - 1] == ' ' || l[ve - 1] == '\t'))
		ve--;
	for (size_t k = vs; k < ve; k++) {
		unsigned char c = (unsigned char)l[k];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return -400;
	}
	if (i == 4 && !strncasecmp(l, "host", 4)) {
		if (req->has_host)
			return -400;
		req->has_host = true;
	} else if (i == 10 && !strncasecmp(l, "connection", 10)) {
		if (list_has(l + vs, ve - vs, "close"))
			hs->conn_close = true;
		if (list_has(l + vs, ve - vs, "keep-alive"))
			hs->conn_keep = true;
	} else if (i == 14 && !strncasecmp(l, "content-length", 14)) {
		size_t v = 0;

		if (hs->has_cl || ve == vs)
			return -400;
		hs->has_cl = true;
		for (size_t k = vs; k < ve; k++) {
			if (!is_digit(l[k]))
				return -400;
			v = v * 10 + (size_t)(l[k] - '0');
			if (v > AHTTP_BODY_MAX)
				return -413;
		}
		req->content_length = v;
	} else if (i == 17 && !strncasecmp(l, "transfer-encoding", 17)) {
		return -501;
	}
	return 0;
}

int ahttp_parse(const char *buf, size_t len, struct ahttp_req *req)
{
	struct hdr_state hs = { false, false, false };
	size_t pos = 0, scan = len < AHTTP_HEAD_MAX ? len : AHTTP_HEAD_MAX;
	bool have_line = false;
	int nhdr = 0, rc;

	memset(req, 0, sizeof(*req));
	for (;;) {
		const char *l = buf + pos, *nl = memchr(l, '\n', scan - pos);
		size_t n;

		if (!nl)
			return len >= AHTTP_HEAD_MAX ? -431 : 0;
		n = (size_t)(nl - l);
		pos += n + 1;
		if (n && l[n - 1] == '\r')
			n--;
		if (memchr(l, '\r', n) || memchr(l, '\0', n))
			return -400;
		if (!have_line) {
			/* RFC 9112 2.2: ignore empty lines before the request line. */
			if (n == 0)
				continue;
			rc = parse_request_line(l, n, req);
			if (rc)
				return rc;
			have_line = true;
			continue;
		}
		if (n == 0)
			break;
		if (++nhdr > AHTTP_HEADERS_MAX)
			return -431;
		rc = parse_header(l, n, req, &hs);
		if (rc)
			return rc;
	}
	if (req->minor == 1 && !req->has_host)
		return -400;
	if (req->minor == 1)
		req->keep_alive = !hs.conn_close;
	else
		req->keep_alive = hs.conn_keep && !hs.conn_close;
	return (int)pos;
}

/* "ms=N" in QUERY (N bytes, '&'-separated): 0 and *MS, or -1. */
static int burn_ms(const char *q, size_t n, int *ms)
{
	size_t i = 0;

	while (i < n) {
		size_t s = i, e;

		while (i < n && q[i] != '&')
			i++;
		e = i++;
		if (e - s >= 3 && !memcmp(q + s, "ms=", 3)) {
			long v = 0;

			s += 3;
			if (s == e || e - s > 5)
				return -1;
			for (size_t k = s; k < e; k++) {
				if (!is_digit(q[k]))
					return -1;
				v = v * 10 + (q[k] - '0');
			}
			if (v > AHTTP_BURN_MAX_MS)
				return -1;
			*ms = (int)v;
			return 0;
		}
	}
	return -1;
}

void ahttp_route(const struct ahttp_req *req, struct ahttp_route *out)
{
	const char *t = req->target, *q = strchr(t, '?');
	size_t pl = q ? (size_t)(q - t) : strlen(t);

	out->burn_ms = -1;
	out->body = NULL;
	out->status = 200;
	if (req->method == AHTTP_OTHER) {
		out->status = 405;
		out->body = "method not allowed\n";
		return;
	}
	if (pl == 1 && t[0] == '/')
		return;
	if (pl == 7 && !memcmp(t, "/health", 7)) {
		out->body = "ok\n";
		return;
	}
	if (pl == 5 && !memcmp(t, "/burn", 5)) {
		int ms;

		if (!q || burn_ms(q + 1, strlen(q + 1), &ms) < 0) {
			out->status = 400;
			out->body = "burn: need ms=0..60000\n";
			return;
		}
		out->burn_ms = ms;
		return;
	}
	out->status = 404;
	out->body = "not found\n";
}

const char *ahttp_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

size_t ahttp_format(char *out, size_t cap, int status, const char *body, size_t body_len,
		    bool head_only, bool keep_alive)
{
	int n = snprintf(out, cap,
			 "HTTP/1.1 %d %s\r\n"
			 "Server: haneul-agent\r\n"
			 "Content-Type: text/plain; charset=utf-8\r\n"
			 "Content-Length: %zu\r\n"
			 "%s"
			 "Connection: %s\r\n\r\n",
			 status, ahttp_reason(status), body_len,
			 status == 405 ? "Allow: GET, HEAD\r\n" : "",
			 keep_alive ? "keep-alive" : "close");

	if (n < 0 || (size_t)n >= cap)
		return 0;
	if (head_only)
		return (size_t)n;
	if ((size_t)n + body_len > cap)
		return 0;
	memcpy(out + n, body, body_len);
	return (size_t)n + body_len;
}
