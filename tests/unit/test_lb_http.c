/* tests/unit/test_lb_http.c - lb/http.c: the strict request parser
 * (including request smuggling shapes), responses and body framing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "lb/http.h"

static const struct http_limits lim = { 8192, 100 };

static ssize_t req(const char *s, struct http_msg *m)
{
	return http_parse_request(s, strlen(s), &lim, m);
}

static void test_simple_get(void **st)
{
	struct http_msg m;
	const char *s = "GET /a/b?x=1&y=2 HTTP/1.1\r\nHost: example.com:8080\r\nX-A:  v  \r\n\r\nNEXT";

	(void)st;
	assert_int_equal(req(s, &m), (ssize_t)(strlen(s) - 4));
	assert_int_equal(m.method_len, 3);
	assert_memory_equal(m.path, "/a/b", 4);
	assert_int_equal(m.path_len, 4);
	assert_int_equal(m.query_len, 7);
	assert_memory_equal(m.query, "x=1&y=2", 7);
	assert_int_equal(m.nhdr, 2);
	assert_int_equal(m.hdr[1].value_len, 1); /* OWS trimmed */
	assert_true(m.keep_alive);
	assert_int_equal(m.body, HTTP_BODY_NONE);
	assert_int_equal(m.host_len, strlen("example.com:8080"));
}

static void test_incomplete_and_limits(void **st)
{
	struct http_msg m;
	char big[9000];

	(void)st;
	assert_int_equal(req("GET / HTTP/1.1\r\nHost: a\r\n", &m), 0);
	assert_int_equal(req("GET / HTT", &m), 0);
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET /", 5);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(req(big, &m), -431);
	{
		char many[8000];
		size_t n = (size_t)snprintf(many, sizeof(many), "GET / HTTP/1.1\r\nHost: a\r\n");

		for (int i = 0; i < 120; i++)
			n += (size_t)snprintf(many + n, sizeof(many) - n, "X%d: y\r\n", i);
		snprintf(many + n, sizeof(many) - n, "\r\n");
		assert_int_equal(req(many, &m), -431);
	}
}

static void test_bodies(void **st)
{
	struct http_msg m;

	(void)st;
	assert_true(req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\n", &m) > 0);
	assert_int_equal(m.body, HTTP_BODY_LENGTH);
	assert_int_equal(m.content_length, 12);
	assert_true(req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", &m) > 0);
	assert_int_equal(m.body, HTTP_BODY_CHUNKED);
	assert_true(req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: CHUNKED\r\n\r\n", &m) > 0);
	assert_true(req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", &m) > 0);
	assert_int_equal(m.body, HTTP_BODY_NONE);
}

/* Request smuggling shapes: never forwarded. */
static void test_smuggling(void **st)
{
	struct http_msg m;

	(void)st;
	/* CL + TE */
	assert_int_equal(req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", &m), -400);
	assert_int_equal(req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", &m), -400);
	/* duplicate CL, even equal */
	assert_int_equal(req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", &m), -400);
	/* CL lists, signs, junk */
	assert_int_equal(req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n", &m), -400);
	assert_int_equal(req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", &m), -400);
	assert_int_equal(req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n", &m), -400);
	assert_int_equal(req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", &m), -400);
	/* TE variants */
	assert_int_equal(req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", &m), -501);
	assert_int_equal(req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", &m), -400);
	assert_int_equal(req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", &m), -501);
	assert_int_equal(req("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", &m), -400);
	/* whitespace before colon, obs-fold, bare LF, CR in value */
	assert_int_equal(req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n", &m), -400);
	assert_int_equal(req("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", &m), -400);
	assert_int_equal(req("GET / HTTP/1.1\nHost: a\n\n", &m), -400);
	assert_int_equal(req("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", &m), -400);
	assert_int_equal(req("GET / HTTP/1.1\r\nHost: a\r\nX: a\x01\r\n\r\n", &m), -400);
	/* two Host headers, none in 1.1 */
	assert_int_equal(req("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", &m), -400);
	assert_int_equal(req("GET / HTTP/1.1\r\n\r\n", &m), -400);
}

static void test_request_line(void **st)
{
	struct http_msg m;

	(void)st;
	assert_int_equal(req("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", &m), -400);
	assert_int_equal(req("GET http://x/ HTTP/1.1\r\nHost: a\r\n\r\n", &m), -400);
	assert_int_equal(req("G(T / HTTP/1.1\r\nHost: a\r\n\r\n", &m), -400);
	assert_int_equal(req("GET / HTTP/2.0\r\nHost: a\r\n\r\n", &m), -505);
	assert_int_equal(req("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", &m), -400);
	assert_int_equal(req("GET / http/1.1\r\nHost: a\r\n\r\n", &m), -400);
	assert_true(req("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", &m) > 0);
	assert_true(req("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", &m) > 0);
	assert_true(req("GET / HTTP/1.0\r\n\r\n", &m) > 0);
	assert_false(m.keep_alive);
	assert_true(req("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &m) > 0);
	assert_true(m.keep_alive);
	assert_true(req("GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, close\r\n\r\n", &m) > 0);
	assert_false(m.keep_alive);
}

static void test_response(void **st)
{
	struct http_msg m;
	const char *r1 = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
	const char *r2 = "HTTP/1.1 204 No Content\r\n\r\n";
	const char *r3 = "HTTP/1.0 200 OK\r\n\r\n";
	const char *r4 = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n";

	(void)st;
	assert_int_equal(http_parse_response(r1, strlen(r1), &lim, false, &m), (ssize_t)strlen(r1) - 3);
	assert_int_equal(m.status, 200);
	assert_int_equal(m.body, HTTP_BODY_LENGTH);
	assert_true(m.keep_alive);
	assert_true(http_parse_response(r1, strlen(r1), &lim, true, &m) > 0);
	assert_int_equal(m.body, HTTP_BODY_NONE); /* HEAD */
	assert_true(http_parse_response(r2, strlen(r2), &lim, false, &m) > 0);
	assert_int_equal(m.body, HTTP_BODY_NONE);
	assert_true(http_parse_response(r3, strlen(r3), &lim, false, &m) > 0);
	assert_int_equal(m.body, HTTP_BODY_EOF);
	assert_false(m.keep_alive);
	assert_int_equal(http_parse_response(r4, strlen(r4), &lim, false, &m), -502);
	assert_int_equal(http_parse_response("HTTP/1.1 2000 OK\r\n\r\n", 20, &lim, false, &m), -502);
}

static void test_chunked(void **st)
{
	struct http_body b;
	const char *s = "5;ext=1\r\nhello\r\na\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\nNEXT";
	size_t n = strlen(s);

	(void)st;
	http_body_init(&b, HTTP_BODY_CHUNKED, 0);
	assert_int_equal(http_body_feed(&b, s, n), (ssize_t)(n - 4));
	assert_true(b.done);
	/* byte by byte gives the same answer */
	http_body_init(&b, HTTP_BODY_CHUNKED, 0);
	for (size_t i = 0; i < n - 4; i++) {
		assert_false(b.done);
		assert_int_equal(http_body_feed(&b, s + i, 1), 1);
	}
	assert_true(b.done);
	assert_int_equal(http_body_feed(&b, "NEXT", 4), 0);
	/* errors */
	http_body_init(&b, HTTP_BODY_CHUNKED, 0);
	assert_int_equal(http_body_feed(&b, "zz\r\n", 4), -1);
	http_body_init(&b, HTTP_BODY_CHUNKED, 0);
	assert_int_equal(http_body_feed(&b, "3\r\nabcX", 7), -1);
	http_body_init(&b, HTTP_BODY_CHUNKED, 0);
	assert_int_equal(http_body_feed(&b, "ffffffffffffffff1\r\n", 19), -1);
	http_body_init(&b, HTTP_BODY_CHUNKED, 0);
	assert_int_equal(http_body_feed(&b, "3\nabc", 5), -1);
	/* content-length */
	http_body_init(&b, HTTP_BODY_LENGTH, 5);
	assert_int_equal(http_body_feed(&b, "abc", 3), 3);
	assert_false(b.done);
	assert_int_equal(http_body_feed(&b, "defgh", 5), 2);
	assert_true(b.done);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple_get),
		cmocka_unit_test(test_incomplete_and_limits),
		cmocka_unit_test(test_bodies),
		cmocka_unit_test(test_smuggling),
		cmocka_unit_test(test_request_line),
		cmocka_unit_test(test_response),
		cmocka_unit_test(test_chunked),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
