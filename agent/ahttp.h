/* agent/ahttp.h - the agent's HTTP/1.1 request parser, router and response
 * writer (pure; the sockets are agent/agent.c's).
 *
 * Written by hand: the agent is a static binary inside the guest and serves
 * three fixed GET endpoints; libmicrohttpd would add a thread model and a
 * dependency the initramfs would have to carry, for less control over the
 * limits below. */
#ifndef AGENT_AHTTP_H
#define AGENT_AHTTP_H

#include <stdbool.h>
#include <stddef.h>

#define AHTTP_HEAD_MAX    8192   /* request line + headers + blank line; more = 431 */
#define AHTTP_TARGET_MAX  1024   /* request target; more = 414 */
#define AHTTP_HEADERS_MAX 64     /* header fields; more = 431 */
#define AHTTP_BODY_MAX    65536  /* a request body is read and discarded up to this; more = 413 */
#define AHTTP_BURN_MAX_MS 60000

enum ahttp_method { AHTTP_GET, AHTTP_HEAD, AHTTP_OTHER };

struct ahttp_req {
	enum ahttp_method method;
	char target[AHTTP_TARGET_MAX + 1];   /* NUL-terminated, starts with '/' */
	int minor;                           /* HTTP/1.<minor>: 0 or 1 */
	bool keep_alive;                     /* after this request */
	bool has_host;
	size_t content_length;               /* body bytes that follow the head */
};

/* Parses the request head at the start of BUF (LEN bytes).  Lines end in
 * CRLF (a bare LF is accepted, RFC 9112 2.2); the head ends with an empty line.
 * Returns the head's length (> 0) when complete, 0 when more bytes are needed
 * (and LEN < AHTTP_HEAD_MAX), or the HTTP status to answer with before
 * closing, negated:
 *   -400 malformed (request line, header syntax, obs-fold, bare CR, bad or
 *        duplicate Content-Length, HTTP/1.1 without Host),
 *   -414 target over AHTTP_TARGET_MAX, -431 head over AHTTP_HEAD_MAX or too
 *   many fields, -413 body over AHTTP_BODY_MAX, -501 Transfer-Encoding,
 *   -505 an HTTP version other than 1.0/1.1. */
int ahttp_parse(const char *buf, size_t len, struct ahttp_req *req);

/* What to do with a parsed request. */
struct ahttp_route {
	int status;          /* 200, 400, 404, 405 */
	int burn_ms;         /* >= 0: burn this long first (status 200), then answer */
	const char *body;    /* static text, or NULL for instance_id + "\n" */
};

/* GET/HEAD /            -> 200, the instance id and a newline
 * GET/HEAD /health      -> 200 "ok\n"
 * GET/HEAD /burn?ms=N   -> burn N ms (0..AHTTP_BURN_MAX_MS, decimal) then 200;
 *                          a missing/bad/out-of-range ms -> 400
 * other methods -> 405, other paths -> 404.  The query is ignored elsewhere. */
void ahttp_route(const struct ahttp_req *req, struct ahttp_route *out);

const char *ahttp_reason(int status);

/* Writes a complete response (head and, unless HEAD_ONLY, the body) into
 * OUT.  Returns its length, or 0 when CAP is too small. */
size_t ahttp_format(char *out, size_t cap, int status, const char *body, size_t body_len,
		    bool head_only, bool keep_alive);

#endif
