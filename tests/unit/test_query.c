/* tests/unit/test_query.c - form/query parsing, encoding, AWS list flattening. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "api/query.h"

static void test_parse_form(void **state)
{
	struct query q;
	const char *body = "Action=CreateUser&Version=2010-05-08&UserName=a%2Bb+c&Empty=&Flag&&Tail%3D=x%3Dy";

	(void)state;
	query_init(&q);
	assert_int_equal(query_parse(&q, body, strlen(body), QUERY_PLUS_IS_SPACE), 0);
	assert_int_equal(q.n, 6);
	assert_string_equal(query_get(&q, "Action"), "CreateUser");
	assert_string_equal(query_get(&q, "UserName"), "a+b c");
	assert_string_equal(query_get(&q, "Empty"), "");
	assert_string_equal(query_get(&q, "Flag"), "");
	assert_string_equal(query_get(&q, "Tail="), "x=y");
	assert_null(query_get(&q, "Missing"));
	query_free(&q);
}

static void test_plus_literal_in_raw_mode(void **state)
{
	struct query q;

	(void)state;
	query_init(&q);
	assert_int_equal(query_parse(&q, "k=a+b", 5, 0), 0);
	assert_string_equal(query_get(&q, "k"), "a+b");
	query_free(&q);
}

static void test_parse_errors_leave_nothing(void **state)
{
	static const char *const bad[] = { "a=%", "a=%4", "a=%zz", "=v", "a=%00", "a=1&%G0=2" };
	struct query q;
	size_t i;

	(void)state;
	query_init(&q);
	assert_int_equal(query_parse(&q, "keep=1", 6, 0), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(query_parse(&q, bad[i], strlen(bad[i]), QUERY_PLUS_IS_SPACE), -EINVAL);
		assert_int_equal(q.n, 1);
	}
	query_free(&q);
}

static void test_too_many_params(void **state)
{
	struct strbuf b = STRBUF_INIT;
	struct query q;
	int i;

	(void)state;
	for (i = 0; i <= QUERY_MAX_PARAMS; i++)
		sb_printf(&b, "k%d=v&", i);
	query_init(&q);
	assert_int_equal(query_parse(&q, b.p, b.len, 0), -E2BIG);
	assert_int_equal(q.n, 0);
	query_free(&q);
	sb_free(&b);
}

static void test_uri_encode(void **state)
{
	struct strbuf b = STRBUF_INIT;
	const char *s = "a b*c:/~é";

	(void)state;
	query_uri_encode(&b, s, strlen(s), false);
	assert_string_equal(b.p, "a%20b%2Ac%3A%2F~%C3%A9");
	sb_reset(&b);
	query_uri_encode(&b, s, strlen(s), true);
	assert_string_equal(b.p, "a%20b%2Ac%3A/~%C3%A9");
	sb_free(&b);
}

/* The captured awscli shapes of AWS-API.md section 1. */
static void test_list_flattening(void **state)
{
	const char *body = "Action=RegisterTargets&Targets.member.2.Id=i-2&Targets.member.1.Id=i-1&Targets.member.1.Port=80"
			   "&Targets.member.10.Id=i-10&Subnets.member.1=subnet-a&Subnets.member.2=subnet-b"
			   "&InstanceId.1=i-x&InstanceId.2=i-y&Filter.1.Name=tag%3AName&Filter.1.Value.1=web1";
	struct query q;
	unsigned *idx;
	int n;

	(void)state;
	query_init(&q);
	assert_int_equal(query_parse(&q, body, strlen(body), QUERY_PLUS_IS_SPACE), 0);
	n = query_list_indices(&q, "Targets.member", &idx);
	assert_int_equal(n, 3);
	assert_int_equal(idx[0], 1);
	assert_int_equal(idx[1], 2);
	assert_int_equal(idx[2], 10);
	assert_string_equal(query_list_get(&q, "Targets.member", 1, "Port"), "80");
	assert_string_equal(query_list_get(&q, "Targets.member", 10, "Id"), "i-10");
	assert_null(query_list_get(&q, "Targets.member", 2, "Port"));
	free(idx);
	n = query_list_indices(&q, "Subnets.member", &idx);
	assert_int_equal(n, 2);
	assert_string_equal(query_list_get(&q, "Subnets.member", idx[1], NULL), "subnet-b");
	free(idx);
	n = query_list_indices(&q, "InstanceId", &idx); /* EC2 style, no .member */
	assert_int_equal(n, 2);
	free(idx);
	assert_string_equal(query_list_get(&q, "Filter", 1, "Name"), "tag:Name");
	assert_string_equal(query_list_get(&q, "Filter.1.Value", 1, NULL), "web1");
	n = query_list_indices(&q, "Nothing", &idx);
	assert_int_equal(n, 0);
	free(idx);
	query_free(&q);
}

static void test_list_bad_index(void **state)
{
	struct query q;
	unsigned *idx;

	(void)state;
	query_init(&q);
	assert_int_equal(query_parse(&q, "L.member.0=x", 12, 0), 0);
	assert_int_equal(query_list_indices(&q, "L.member", &idx), -EINVAL);
	query_free(&q);
	query_init(&q);
	assert_int_equal(query_parse(&q, "L.member.1x=x", 13, 0), 0);
	assert_int_equal(query_list_indices(&q, "L.member", &idx), -EINVAL);
	query_free(&q);
	query_init(&q);
	assert_int_equal(query_parse(&q, "L.member.99999999=x", 19, 0), 0);
	assert_int_equal(query_list_indices(&q, "L.member", &idx), -EINVAL);
	query_free(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_form),
		cmocka_unit_test(test_plus_literal_in_raw_mode),
		cmocka_unit_test(test_parse_errors_leave_nothing),
		cmocka_unit_test(test_too_many_params),
		cmocka_unit_test(test_uri_encode),
		cmocka_unit_test(test_list_flattening),
		cmocka_unit_test(test_list_bad_index),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
