/* tests/unit/test_agent_http.c - haneul-agent's HTTP request parser, router
 * and response writer (agent/ahttp.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/ahttp.h"

static int parse(const char *s, struct ahttp_req *r)
{
	return ahttp_parse(s, strlen(s), r);
}

static void test_simple_get(void **state)
{
	struct ahttp_req r;
	const char *s = "GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\n";

	(void)state;
	assert_int_equal(parse(s, &r), (int)(strstr(s, "\r\n\r\n") - s + 4));
	assert_int_equal(r.method, AHTTP_GET);
	assert_string_equal(r.target, "/health");
	assert_int_equal(r.minor, 1);
	assert_true(r.keep_alive);
	assert_int_equal(r.content_length, 0);
}

static void test_incomplete_needs_more(void **state)
{
	struct ahttp_req r;
	const char *full = "GET / HTTP/1.1\r\nHost: a\r\nUser-Agent: t\r\n\r\n";

	(void)state;
	/* Every proper prefix is "need more", never an error. */
	for (size_t n = 0; n < strlen(full); n++)
		assert_int_equal(ahttp_parse(full, n, &r), 0);
	assert_int_equal(ahttp_parse(full, strlen(full), &r), (int)strlen(full));
}

static void test_bare_lf_and_leading_empty_lines(void **state)
{
	struct ahttp_req r;

	(void)state;
	assert_int_equal(parse("GET / HTTP/1.1\nHost: a\n\n", &r), 24);
	assert_int_equal(parse("\r\n\r\nGET / HTTP/1.0\r\n\r\n", &r), 22);
	assert_int_equal(r.minor, 0);
}

static void test_keep_alive_rules(void **state)
{
	struct ahttp_req r;

	(void)state;
	assert_true(parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n", &r) > 0);
	assert_true(r.keep_alive);
	assert_true(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", &r) > 0);
	assert_false(r.keep_alive);
	assert_true(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, CLOSE\r\n\r\n", &r) > 0);
	assert_false(r.keep_alive);
	assert_true(parse("GET / HTTP/1.0\r\n\r\n", &r) > 0);
	assert_false(r.keep_alive);
	assert_true(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &r) > 0);
	assert_true(r.keep_alive);
	assert_true(parse("HEAD / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", &r) > 0);
	assert_false(r.keep_alive);
	assert_int_equal(r.method, AHTTP_HEAD);
}

static void test_malformed_is_400(void **state)
{
	static const char *const bad[] = {
		"GET  / HTTP/1.1\r\nHost: a\r\n\r\n",          /* two spaces */
		"GET / HTTP/1.1 \r\nHost: a\r\n\r\n",          /* trailing space */
		"GET /\r\n\r\n",                               /* HTTP/0.9 */
		"GET x HTTP/1.1\r\nHost: a\r\n\r\n",           /* not origin-form */
		"G(T / HTTP/1.1\r\nHost: a\r\n\r\n",           /* not a token */
		"GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost : a\r\n\r\n",          /* space before colon */
		"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",/* obs-fold */
		"GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n",        /* bare CR */
		"GET / HTTP/1.1\r\nHost: a\r\nX: \x01\r\n\r\n",/* control byte */
		"GET / HTTP/1.1\r\n\r\n",                      /* no Host in 1.1 */
		"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",/* two Hosts */
		"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n",
		"GET / HTTP/x.1\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\r\nNoColon\r\n\r\n",
		"GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n",
	};
	struct ahttp_req r;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = parse(bad[i], &r);

		if (rc != -400)
			fail_msg("case %zu: %d", i, rc);
	}
}

static void test_limits(void **state)
{
	struct ahttp_req r;
	char *big = malloc(AHTTP_HEAD_MAX + 64);
	size_t n;

	(void)state;
	assert_non_null(big);
	/* A head that does not end within AHTTP_HEAD_MAX bytes: 431. */
	n = (size_t)sprintf(big, "GET / HTTP/1.1\r\nHost: a\r\nX-Big: ");
	memset(big + n, 'a', AHTTP_HEAD_MAX + 10 - n);
	assert_int_equal(ahttp_parse(big, AHTTP_HEAD_MAX + 10, &r), -431);
	assert_int_equal(ahttp_parse(big, AHTTP_HEAD_MAX, &r), -431);
	assert_int_equal(ahttp_parse(big, AHTTP_HEAD_MAX - 1, &r), 0);
	/* Too many fields: 431. */
	n = (size_t)sprintf(big, "GET / HTTP/1.1\r\nHost: a\r\n");
	for (int i = 0; i < AHTTP_HEADERS_MAX; i++)
		n += (size_t)sprintf(big + n, "X%d: y\r\n", i);
	n += (size_t)sprintf(big + n, "\r\n");
	assert_int_equal(ahttp_parse(big, n, &r), -431);
	/* A long target: 414. */
	n = (size_t)sprintf(big, "GET /");
	memset(big + n, 'p', AHTTP_TARGET_MAX);
	n += AHTTP_TARGET_MAX;
	n += (size_t)sprintf(big + n, " HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(ahttp_parse(big, n, &r), -414);
	free(big);
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 65537\r\n\r\n", &r), -413);
	assert_true(parse("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 65536\r\n\r\n", &r) > 0);
	assert_int_equal(r.content_length, 65536);
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", &r), -501);
	assert_int_equal(parse("GET / HTTP/2.0\r\nHost: a\r\n\r\n", &r), -505);
	assert_int_equal(parse("GET / HTTP/1.2\r\nHost: a\r\n\r\n", &r), -505);
}

static void route(const char *method_target, struct ahttp_route *rt)
{
	char buf[256];
	struct ahttp_req r;

	snprintf(buf, sizeof(buf), "%s HTTP/1.1\r\nHost: a\r\n\r\n", method_target);
	assert_true(parse(buf, &r) > 0);
	ahttp_route(&r, rt);
}

static void test_routes(void **state)
{
	struct ahttp_route rt;

	(void)state;
	route("GET /", &rt);
	assert_int_equal(rt.status, 200);
	assert_null(rt.body); /* the instance id */
	assert_int_equal(rt.burn_ms, -1);
	route("GET /?x=1", &rt);
	assert_int_equal(rt.status, 200);
	route("HEAD /health", &rt);
	assert_int_equal(rt.status, 200);
	assert_string_equal(rt.body, "ok\n");
	route("GET /burn?ms=200", &rt);
	assert_int_equal(rt.status, 200);
	assert_int_equal(rt.burn_ms, 200);
	route("GET /burn?a=b&ms=60000", &rt);
	assert_int_equal(rt.burn_ms, 60000);
	route("GET /burn?ms=0", &rt);
	assert_int_equal(rt.burn_ms, 0);
	static const char *const bad_burn[] = { "GET /burn", "GET /burn?ms=", "GET /burn?ms=60001",
						"GET /burn?ms=-1", "GET /burn?ms=1e3", "GET /burn?ms=999999",
						"GET /burn?ms=12a", "GET /burn?msx=1" };
	for (size_t i = 0; i < sizeof(bad_burn) / sizeof(bad_burn[0]); i++) {
		route(bad_burn[i], &rt);
		assert_int_equal(rt.status, 400);
		assert_int_equal(rt.burn_ms, -1);
	}
	route("GET /nope", &rt);
	assert_int_equal(rt.status, 404);
	route("GET /healthz", &rt);
	assert_int_equal(rt.status, 404);
	route("POST /", &rt);
	assert_int_equal(rt.status, 405);
	route("DELETE /health", &rt);
	assert_int_equal(rt.status, 405);
}

static void test_format(void **state)
{
	char out[512];
	size_t n;

	(void)state;
	n = ahttp_format(out, sizeof(out), 200, "ok\n", 3, false, true);
	assert_true(n > 0);
	out[n] = '\0';
	assert_non_null(strstr(out, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(out, "Content-Length: 3\r\n"));
	assert_non_null(strstr(out, "Connection: keep-alive\r\n\r\nok\n"));
	n = ahttp_format(out, sizeof(out), 405, "x", 1, true, false);
	out[n] = '\0';
	assert_non_null(strstr(out, "Allow: GET, HEAD\r\n"));
	assert_non_null(strstr(out, "Content-Length: 1\r\n"));
	assert_non_null(strstr(out, "Connection: close\r\n\r\n"));
	assert_int_equal(out[n - 1], '\n'); /* HEAD: no body after the blank line */
	assert_int_equal(ahttp_format(out, 40, 200, "ok\n", 3, false, true), 0);
	assert_string_equal(ahttp_reason(431), "Request Header Fields Too Large");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple_get),
		cmocka_unit_test(test_incomplete_needs_more),
		cmocka_unit_test(test_bare_lf_and_leading_empty_lines),
		cmocka_unit_test(test_keep_alive_rules),
		cmocka_unit_test(test_malformed_is_400),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
