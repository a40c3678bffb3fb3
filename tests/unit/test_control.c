/* tests/unit/test_control.c - control request parsing (vmm/control.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/control.h"
#include "vmm/dev/console.h"

static int parse(const char *s, struct ctl_req *r, char *err)
{
	return ctl_parse(s, strlen(s), r, err, 160);
}

static void expect_error(const char *line, const char *substr)
{
	struct ctl_req r;
	char err[160] = "";

	assert_int_equal(parse(line, &r, err), -EINVAL);
	if (!strstr(err, substr))
		fail_msg("line %s: error '%s' lacks '%s'", line, err, substr);
}

static void test_each_command(void **state)
{
	static const struct { const char *line; enum ctl_cmd cmd; } ok[] = {
		{ "{\"cmd\":\"status\"}", CTL_STATUS },
		{ "{\"cmd\":\"pause\"}", CTL_PAUSE },
		{ "{\"cmd\":\"resume\"}", CTL_RESUME },
		{ "{\"cmd\":\"shutdown\"}", CTL_SHUTDOWN },
		{ "{\"cmd\":\"reboot\"}", CTL_REBOOT },
		{ "{\"cmd\":\"console\"}", CTL_CONSOLE },
		{ "{\"cmd\":\"metrics\"}", CTL_METRICS },
		{ "  { \"cmd\" : \"status\" }  \r", CTL_STATUS },
	};
	struct ctl_req r;
	char err[160];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(parse(ok[i].line, &r, err), 0);
		assert_int_equal(r.cmd, ok[i].cmd);
		assert_string_not_equal(ctl_cmd_name(r.cmd), "?");
	}
	assert_int_equal(parse("{\"cmd\":\"console\"}", &r, err), 0);
	assert_int_equal(r.bytes, CONSOLE_RING_SIZE);
	assert_false(r.has_timeout);
	assert_false(r.force);
}

static void test_fields(void **state)
{
	struct ctl_req r;
	char err[160];

	assert_int_equal(parse("{\"cmd\":\"shutdown\",\"timeout\":2.5,\"force\":false}", &r, err), 0);
	assert_true(r.has_timeout);
	assert_true(r.timeout_s > 2.49 && r.timeout_s < 2.51);
	assert_false(r.force);
	assert_int_equal(parse("{\"cmd\":\"reboot\",\"force\":true,\"timeout\":0}", &r, err), 0);
	assert_true(r.force);
	assert_true(r.has_timeout);
	assert_int_equal(parse("{\"cmd\":\"console\",\"bytes\":100}", &r, err), 0);
	assert_int_equal(r.bytes, 100);
	assert_int_equal(parse("{\"cmd\":\"console\",\"bytes\":65536}", &r, err), 0);
}

static void test_malformed(void **state)
{
	expect_error("", "malformed");
	expect_error("{", "malformed");
	expect_error("not json", "malformed");
	expect_error("{\"cmd\":\"status\"} x", "trailing");
	expect_error("{\"cmd\":\"status\"}{}", "trailing");
	expect_error("[1,2]", "object");
	expect_error("\"status\"", "object");
	expect_error("{}", "missing \"cmd\"");
	expect_error("{\"cmd\":7}", "must be a string");
	expect_error("{\"cmd\":null}", "must be a string");
	expect_error("{\"cmd\":\"explode\"}", "unknown command");
}

static void test_wrong_types_and_ranges(void **state)
{
	expect_error("{\"cmd\":\"shutdown\",\"timeout\":\"5\"}", "number");
	expect_error("{\"cmd\":\"shutdown\",\"timeout\":-1}", "between");
	expect_error("{\"cmd\":\"shutdown\",\"timeout\":1e9}", "between");
	expect_error("{\"cmd\":\"shutdown\",\"force\":1}", "true or false");
	expect_error("{\"cmd\":\"console\",\"bytes\":0}", "between");
	expect_error("{\"cmd\":\"console\",\"bytes\":65537}", "between");
	expect_error("{\"cmd\":\"console\",\"bytes\":1.5}", "integer");
	expect_error("{\"cmd\":\"console\",\"bytes\":99999999999999999999}", "");
	expect_error("{\"cmd\":\"status\",\"timeout\":1}", "unknown field");
	expect_error("{\"cmd\":\"pause\",\"extra\":true}", "unknown field");
}

static void test_nul_and_long_line(void **state)
{
	struct ctl_req r;
	char err[160];
	const char nul[] = "{\"cmd\":\"status\"}\0";
	size_t n = CTL_LINE_MAX + 1;
	char *big = malloc(n);

	assert_int_equal(ctl_parse(nul, sizeof(nul) - 1, &r, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "NUL"));
	assert_non_null(big);
	memset(big, ' ', n);
	assert_int_equal(ctl_parse(big, n, &r, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "longer"));
	free(big);
}

static void test_error_reply(void **state)
{
	char *s = ctl_error_reply("bad \"thing\"\n");

	assert_non_null(s);
	assert_string_equal(s, "{\"ok\":false,\"error\":\"bad \\\"thing\\\"\\n\"}");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_command),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_wrong_types_and_ranges),
		cmocka_unit_test(test_nul_and_long_line),
		cmocka_unit_test(test_error_reply),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
