/* lb/http.h - strict HTTP/1.1 message parsing for haneul-lb (pure: no I/O).
 *
 * The parser never copies: every pointer in struct http_msg points into the
 * caller's buffer and is valid as long as that buffer is.  It refuses what a
 * smuggling attack needs (RFC 9112 §6.3, §11.2): both Content-Length and
 * Transfer-Encoding, repeated or malformed Content-Length, a transfer coding
 * other than a lone "chunked", bare LF line ends, obsolete line folding,
 * whitespace before a header colon, control bytes.  Such a request gets a
 * 4xx from the proxy and is never forwarded.  Unit tests:
 * tests/unit/test_lb_http.c; fuzz: tests/fuzz/fuzz_lb_http.c.
 */
#ifndef LB_HTTP_H
#define LB_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HTTP_MAX_HEADERS_CAP 128      /* hard cap of struct http_msg */
#define HTTP_DEFAULT_MAX_HEAD (8u * 1024)
#define HTTP_DEFAULT_MAX_HEADERS 100u

struct http_limits {
	size_t max_head;     /* request line + headers + blank line, bytes */
	size_t max_headers;  /* <= HTTP_MAX_HEADERS_CAP */
};

struct http_hdr {
	const char *name, *value;
	size_t name_len, value_len;
};

enum http_body_kind { HTTP_BODY_NONE = 0, HTTP_BODY_LENGTH, HTTP_BODY_CHUNKED, HTTP_BODY_EOF };

struct http_msg {
	/* request: method + target; response: status + reason */
	const char *method, *target, *path, *query;
	size_t method_len, target_len, path_len, query_len; /* query: after '?', may be 0 */
	int status;
	int minor;                  /* HTTP/1.<minor>: 0 or 1 */
	enum http_body_kind body;
	uint64_t content_length;    /* HTTP_BODY_LENGTH */
	bool keep_alive;            /* after this message, per version + Connection */
	bool conn_close;            /* Connection: close seen */
	bool expect_continue;
	const char *host;           /* request Host value (NULL when absent) */
	size_t host_len;
	size_t head_len;            /* bytes of the head, final CRLF included */
	size_t nhdr;
	struct http_hdr hdr[HTTP_MAX_HEADERS_CAP]; /* last: the parser clears only what is before */
};

/* Parse a request head at the start of buf[0..len).  Returns the head length
 * (> 0) with *m filled, 0 when more bytes are needed (and len is still below
 * the limit), or -STATUS for the error response to send: -400 malformed or
 * ambiguous framing, -431 head too large / too many headers, -501 a transfer
 * coding we do not implement, -505 an HTTP version other than 1.0/1.1. */
ssize_t http_parse_request(const char *buf, size_t len, const struct http_limits *lim,
			   struct http_msg *m);

/* Parse a response head (from a target).  head_req says the request was HEAD
 * (no body whatever the headers say).  Same results; errors are -502. */
ssize_t http_parse_response(const char *buf, size_t len, const struct http_limits *lim,
			    bool head_req, struct http_msg *m);

/* Find header NAME (case-insensitive); NULL when absent. */
const struct http_hdr *http_find(const struct http_msg *m, const char *name);
bool http_name_is(const struct http_hdr *h, const char *name);

/* Incremental body framing: tells how many of the bytes that follow a head
 * belong to the message, so a body is forwarded as it is (chunked framing
 * included) while the proxy knows where it ends. */
struct http_body {
	enum http_body_kind kind;
	uint64_t remaining;   /* LENGTH: bytes left; CHUNKED: bytes left in the chunk */
	int state;            /* chunked parser state */
	unsigned digits;      /* hex digits in the chunk-size */
	size_t line;          /* bytes in the current extension/trailer line */
	size_t trailer_bytes;
	bool done;
};

void http_body_init(struct http_body *b, enum http_body_kind kind, uint64_t length);
/* Consume up to n bytes of p.  Returns how many belong to the message (the
 * rest is the next message) or -1 on a framing error.  b->done turns true at
 * the end of the message (never for HTTP_BODY_EOF). */
ssize_t http_body_feed(struct http_body *b, const char *p, size_t n);

/* Reason phrase for the status codes the proxy generates. */
const char *http_reason(int status);

#endif
