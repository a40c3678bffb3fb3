/* lb/http.c - strict HTTP/1.1 head and body-framing parser (see http.h). */
#include "lb/http.h"

#include <string.h>
#include <strings.h>

/* RFC 9110 tchar */
static bool is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_vchar_or_obs(unsigned char c)
{
	return (c >= 0x21 && c != 0x7f);
}

bool http_name_is(const struct http_hdr *h, const char *name)
{
	size_t n = strlen(name);

	return h->name_len == n && strncasecmp(h->name, name, n) == 0;
}

const struct http_hdr *http_find(const struct http_msg *m, const char *name)
{
	for (size_t i = 0; i < m->nhdr; i++)
		if (http_name_is(&m->hdr[i], name))
			return &m->hdr[i];
	return NULL;
}

/* Find the CRLF ending the line that starts at p (end = buffer end).
 * Returns the line length (CR excluded), -1 when incomplete, -2 on a bare LF
 * or a lone CR. */
static ssize_t line_end(const char *p, const char *end)
{
	const char *q = p;

	while (q < end) {
		if (*q == '\n')
			return -2;
		if (*q == '\r') {
			if (q + 1 == end)
				return -1;
			return q[1] == '\n' ? q - p : -2;
		}
		q++;
	}
	return -1;
}

static bool eq_token(const char *p, size_t n, const char *tok)
{
	return strlen(tok) == n && strncasecmp(p, tok, n) == 0;
}

/* Content-Length: 1*DIGIT, at most 15 digits (no sign, no list). */
static int parse_cl(const char *p, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > 15)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	*out = v;
	return 0;
}

/* Walk a comma-separated Connection value for close / keep-alive. */
static void conn_tokens(struct http_msg *m, const char *p, size_t n, bool *ka)
{
	size_t i = 0;

	while (i < n) {
		size_t s, e;

		while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == ','))
			i++;
		s = i;
		while (i < n && p[i] != ',')
			i++;
		e = i;
		while (e > s && (p[e - 1] == ' ' || p[e - 1] == '\t'))
			e--;
		if (eq_token(p + s, e - s, "close"))
			m->conn_close = true;
		else if (eq_token(p + s, e - s, "keep-alive"))
			*ka = true;
	}
}

/* Headers from p to end; fills m.  err is the status for malformed input.
 * Returns bytes consumed through the blank line, 0 incomplete, -status. */
static ssize_t parse_headers(const char *start, const char *p, const char *end,
			     const struct http_limits *lim, struct http_msg *m, int err,
			     bool *ka, int *ncl, int *nte, bool *te_bad, bool *te_chunked)
{
	size_t max_headers = lim->max_headers < HTTP_MAX_HEADERS_CAP ? lim->max_headers
								     : HTTP_MAX_HEADERS_CAP;

	for (;;) {
		ssize_t ll = line_end(p, end);
		const char *colon, *v, *ve;
		struct http_hdr *h;

		if (ll == -2)
			return -err;
		if (ll == -1)
			return 0;
		if (ll == 0)
			return (p + 2) - start;
		if (*p == ' ' || *p == '\t')
			return -err; /* obs-fold */
		colon = memchr(p, ':', (size_t)ll);
		if (!colon || colon == p)
			return -err;
		for (const char *q = p; q < colon; q++)
			if (!is_tchar((unsigned char)*q))
				return -err; /* includes whitespace before ':' */
		if (m->nhdr >= max_headers)
			return -431;
		v = colon + 1;
		ve = p + ll;
		while (v < ve && (*v == ' ' || *v == '\t'))
			v++;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		for (const char *q = v; q < ve; q++)
			if (!is_vchar_or_obs((unsigned char)*q) && *q != ' ' && *q != '\t')
				return -err;
		h = &m->hdr[m->nhdr++];
		h->name = p;
		h->name_len = (size_t)(colon - p);
		h->value = v;
		h->value_len = (size_t)(ve - v);
		if (http_name_is(h, "content-length")) {
			uint64_t cl;

			if (++*ncl > 1 || parse_cl(h->value, h->value_len, &cl) < 0)
				return -err;
			m->content_length = cl;
		} else if (http_name_is(h, "transfer-encoding")) {
			(*nte)++;
			if (eq_token(h->value, h->value_len, "chunked"))
				*te_chunked = true;
			else
				*te_bad = true;
		} else if (http_name_is(h, "connection")) {
			conn_tokens(m, h->value, h->value_len, ka);
		}
		p += ll + 2;
	}
}

static const char *method_end(const char *p, const char *e)
{
	while (p < e && is_tchar((unsigned char)*p))
		p++;
	return p;
}

ssize_t http_parse_request(const char *buf, size_t len, const struct http_limits *lim,
			   struct http_msg *m)
{
	const char *end, *p, *sp1, *sp2, *le;
	size_t scan = len;
	ssize_t ll, hl;
	bool ka = false, te_bad = false, te_chunked = false;
	int ncl = 0, nte = 0;

	memset(m, 0, offsetof(struct http_msg, hdr));
	m->body = HTTP_BODY_NONE;
	if (scan > lim->max_head)
		scan = lim->max_head;
	end = buf + scan;
	/* RFC 9112 §2.2: a server SHOULD ignore at least one empty line before
	 * the request line; we ignore exactly one CRLF (keep-alive clients). */
	p = buf;
	if (scan >= 2 && p[0] == '\r' && p[1] == '\n')
		p += 2;
	ll = line_end(p, end);
	if (ll == -2)
		return -400;
	if (ll == -1)
		return len >= lim->max_head ? -431 : 0;
	le = p + ll;
	sp1 = method_end(p, le);
	if (sp1 == p || sp1 >= le || *sp1 != ' ')
		return -400;
	m->method = p;
	m->method_len = (size_t)(sp1 - p);
	sp2 = sp1 + 1;
	while (sp2 < le && *sp2 != ' ') {
		if (!is_vchar_or_obs((unsigned char)*sp2))
			return -400;
		sp2++;
	}
	if (sp2 == sp1 + 1 || sp2 >= le)
		return -400;
	m->target = sp1 + 1;
	m->target_len = (size_t)(sp2 - m->target);
	if (m->target[0] == '/') {
		const char *q = memchr(m->target, '?', m->target_len);

		m->path = m->target;
		m->path_len = q ? (size_t)(q - m->target) : m->target_len;
		if (q) {
			m->query = q + 1;
			m->query_len = m->target_len - m->path_len - 1;
		}
	} else if (m->target_len == 1 && m->target[0] == '*' &&
		   eq_token(m->method, m->method_len, "OPTIONS")) {
		m->path = m->target;
		m->path_len = 1;
	} else {
		return -400; /* absolute-form / authority-form: not a forward proxy */
	}
	if (le - (sp2 + 1) != 8 || memcmp(sp2 + 1, "HTTP/", 5) != 0 || sp2[7] != '.' ||
	    sp2[6] < '0' || sp2[6] > '9' || sp2[8] < '0' || sp2[8] > '9')
		return -400;
	if (sp2[6] != '1' || (sp2[8] != '0' && sp2[8] != '1'))
		return -505;
	m->minor = sp2[8] - '0';
	hl = parse_headers(buf, le + 2, end, lim, m, 400, &ka, &ncl, &nte, &te_bad, &te_chunked);
	if (hl < 0)
		return hl;
	if (hl == 0)
		return len >= lim->max_head ? -431 : 0;
	if (nte > 0) {
		if (ncl > 0 || nte > 1 || m->minor == 0)
			return -400;
		if (te_bad || !te_chunked)
			return -501;
		m->body = HTTP_BODY_CHUNKED;
	} else if (ncl == 1) {
		m->body = m->content_length ? HTTP_BODY_LENGTH : HTTP_BODY_NONE;
	}
	for (size_t i = 0; i < m->nhdr; i++) {
		const struct http_hdr *h = &m->hdr[i];

		if (http_name_is(h, "host")) {
			if (m->host)
				return -400;
			m->host = h->value;
			m->host_len = h->value_len;
		} else if (http_name_is(h, "expect") && eq_token(h->value, h->value_len, "100-continue")) {
			m->expect_continue = true;
		}
	}
	if (m->minor == 1 && !m->host)
		return -400;
	m->keep_alive = m->minor == 1 ? !m->conn_close : (ka && !m->conn_close);
	m->head_len = (size_t)hl;
	return hl;
}

ssize_t http_parse_response(const char *buf, size_t len, const struct http_limits *lim,
			    bool head_req, struct http_msg *m)
{
	const char *end, *p = buf;
	size_t scan = len;
	ssize_t ll, hl;
	bool ka = false, te_bad = false, te_chunked = false;
	int ncl = 0, nte = 0;

	memset(m, 0, offsetof(struct http_msg, hdr));
	if (scan > lim->max_head)
		scan = lim->max_head;
	end = buf + scan;
	ll = line_end(p, end);
	if (ll == -2)
		return -502;
	if (ll == -1)
		return len >= lim->max_head ? -502 : 0;
	if (ll < 12 || memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') || p[8] != ' ' ||
	    p[9] < '1' || p[9] > '5' || p[10] < '0' || p[10] > '9' || p[11] < '0' || p[11] > '9' ||
	    (ll > 12 && p[12] != ' '))
		return -502;
	m->minor = p[7] - '0';
	m->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	hl = parse_headers(buf, p + ll + 2, end, lim, m, 502, &ka, &ncl, &nte, &te_bad, &te_chunked);
	if (hl < 0)
		return hl == -431 ? -502 : hl;
	if (hl == 0)
		return len >= lim->max_head ? -502 : 0;
	if (head_req || (m->status >= 100 && m->status < 200) || m->status == 204 ||
	    m->status == 304) {
		m->body = HTTP_BODY_NONE;
	} else if (nte > 0) {
		if (ncl > 0 || nte > 1 || te_bad)
			return -502;
		m->body = HTTP_BODY_CHUNKED;
	} else if (ncl == 1) {
		m->body = m->content_length ? HTTP_BODY_LENGTH : HTTP_BODY_NONE;
	} else {
		m->body = HTTP_BODY_EOF;
	}
	m->keep_alive = m->minor == 1 ? !m->conn_close : (ka && !m->conn_close);
	if (m->body == HTTP_BODY_EOF)
		m->keep_alive = false;
	m->head_len = (size_t)hl;
	return hl;
}

enum {
	CH_SIZE = 0, CH_EXT, CH_SIZE_LF, CH_DATA, CH_DATA_CR, CH_DATA_LF,
	CH_TRAILER_START, CH_TRAILER, CH_TRAILER_LF, CH_FINAL_LF,
};

#define CH_LINE_MAX 4096u
#define CH_TRAILERS_MAX (8u * 1024)

void http_body_init(struct http_body *b, enum http_body_kind kind, uint64_t length)
{
	memset(b, 0, sizeof(*b));
	b->kind = kind;
	b->remaining = length;
	b->done = kind == HTTP_BODY_NONE || (kind == HTTP_BODY_LENGTH && length == 0);
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

ssize_t http_body_feed(struct http_body *b, const char *p, size_t n)
{
	size_t i = 0;

	if (b->done)
		return 0;
	switch (b->kind) {
	case HTTP_BODY_NONE:
		b->done = true;
		return 0;
	case HTTP_BODY_EOF:
		return (ssize_t)n;
	case HTTP_BODY_LENGTH:
		i = n < b->remaining ? n : (size_t)b->remaining;
		b->remaining -= i;
		b->done = b->remaining == 0;
		return (ssize_t)i;
	case HTTP_BODY_CHUNKED:
		break;
	}
	while (i < n && !b->done) {
		char c = p[i];
		int h;

		switch (b->state) {
		case CH_SIZE:
			h = hexval(c);
			if (h >= 0) {
				if (++b->digits > 15)
					return -1;
				b->remaining = b->remaining * 16 + (uint64_t)h;
			} else if (b->digits == 0) {
				return -1;
			} else if (c == ';' || c == ' ' || c == '\t') {
				b->state = CH_EXT;
				b->line = 0;
			} else if (c == '\r') {
				b->state = CH_SIZE_LF;
			} else {
				return -1;
			}
			i++;
			break;
		case CH_EXT:
			if (c == '\r')
				b->state = CH_SIZE_LF;
			else if (c == '\n' || ((unsigned char)c < 0x20 && c != '\t'))
				return -1;
			else if (++b->line > CH_LINE_MAX)
				return -1;
			i++;
			break;
		case CH_SIZE_LF:
			if (c != '\n')
				return -1;
			i++;
			b->digits = 0;
			b->state = b->remaining ? CH_DATA : CH_TRAILER_START;
			break;
		case CH_DATA: {
			size_t take = n - i;

			if (take > b->remaining)
				take = (size_t)b->remaining;
			b->remaining -= take;
			i += take;
			if (!b->remaining)
				b->state = CH_DATA_CR;
			break;
		}
		case CH_DATA_CR:
			if (c != '\r')
				return -1;
			b->state = CH_DATA_LF;
			i++;
			break;
		case CH_DATA_LF:
			if (c != '\n')
				return -1;
			b->state = CH_SIZE;
			i++;
			break;
		case CH_TRAILER_START:
			if (c == '\r') {
				b->state = CH_FINAL_LF;
			} else if (c == '\n' || c == ' ' || c == '\t') {
				return -1;
			} else {
				b->state = CH_TRAILER;
				b->line = 1;
			}
			if (++b->trailer_bytes > CH_TRAILERS_MAX)
				return -1;
			i++;
			break;
		case CH_TRAILER:
			if (c == '\r')
				b->state = CH_TRAILER_LF;
			else if (c == '\n')
				return -1;
			if (++b->trailer_bytes > CH_TRAILERS_MAX)
				return -1;
			i++;
			break;
		case CH_TRAILER_LF:
			if (c != '\n')
				return -1;
			b->state = CH_TRAILER_START;
			i++;
			break;
		case CH_FINAL_LF:
			if (c != '\n')
				return -1;
			b->done = true;
			i++;
			break;
		default:
			return -1;
		}
	}
	return (ssize_t)i;
}

const char *http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 408: return "Request Timeout";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Status";
	}
}
