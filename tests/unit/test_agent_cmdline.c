/* tests/unit/test_agent_cmdline.c - instance metadata from the kernel
 * command line (agent/kcmdline.c): arguments, quoting, base64, limits. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/kcmdline.h"

static void test_instance_id(void **state)
{
	struct kcmd_meta m = { 0 };

	(void)state;
	assert_int_equal(kcmd_parse("console=ttyS0 haneul.instance_id=i-0abc123 panic=-1\n", &m), 0);
	assert_string_equal(m.instance_id, "i-0abc123");
	assert_null(m.user_data);
	kcmd_meta_free(&m);
	/* Absent: empty. Later wins. */
	assert_int_equal(kcmd_parse("quiet", &m), 0);
	assert_string_equal(m.instance_id, "");
	assert_int_equal(kcmd_parse("haneul.instance_id=i-1 haneul.instance_id=i-2", &m), 0);
	assert_string_equal(m.instance_id, "i-2");
	kcmd_meta_free(&m);
	/* Not a prefix match on other names. */
	assert_int_equal(kcmd_parse("xhaneul.instance_id=i-1 haneul.instance_idx=i-2", &m), 0);
	assert_string_equal(m.instance_id, "");
	kcmd_meta_free(&m);
}

static void test_bad_values_are_ignored(void **state)
{
	struct kcmd_meta m = { 0 };
	char longid[96];

	(void)state;
	assert_int_equal(kcmd_parse("haneul.instance_id=i-ok haneul.instance_id=i/../x", &m), -EINVAL);
	assert_string_equal(m.instance_id, "i-ok"); /* the good one stays */
	assert_non_null(strstr(m.error, "haneul.instance_id"));
	kcmd_meta_free(&m);
	assert_int_equal(kcmd_parse("haneul.instance_id=", &m), -EINVAL);
	snprintf(longid, sizeof(longid), "haneul.instance_id=%065d", 1);
	assert_int_equal(kcmd_parse(longid, &m), -EINVAL);
	assert_string_equal(m.instance_id, "");
	assert_int_equal(kcmd_parse("haneul.user_data=@@@@ haneul.instance_id=i-9", &m), -EINVAL);
	assert_null(m.user_data);
	assert_string_equal(m.instance_id, "i-9");
	assert_int_equal(kcmd_parse("haneul.user_data_file=relative/path", &m), -EINVAL);
	assert_string_equal(m.user_data_file, "");
	kcmd_meta_free(&m);
}

static void test_quotes(void **state)
{
	struct kcmd_meta m = { 0 };

	(void)state;
	assert_int_equal(kcmd_parse("a=\"x y\" haneul.instance_id=\"i-q\"\tb", &m), 0);
	assert_string_equal(m.instance_id, "i-q");
	kcmd_meta_free(&m);
	/* A quoted space does not end the argument: the id would contain it. */
	assert_int_equal(kcmd_parse("\"haneul.instance_id=i-a b\"", &m), -EINVAL);
	kcmd_meta_free(&m);
}

static void test_user_data(void **state)
{
	struct kcmd_meta m = { 0 };

	(void)state;
	assert_int_equal(kcmd_parse("haneul.user_data=IyEvYmluL3NoCmVjaG8gaGkK", &m), 0);
	assert_int_equal(m.user_data_len, 18);
	assert_memory_equal(m.user_data, "#!/bin/sh\necho hi\n", 18);
	kcmd_meta_free(&m);
	/* Unpadded is accepted, padding too. */
	assert_int_equal(kcmd_parse("haneul.user_data=aGk", &m), 0);
	assert_memory_equal(m.user_data, "hi", 2);
	kcmd_meta_free(&m);
	assert_int_equal(kcmd_parse("haneul.user_data=aGk=", &m), 0);
	assert_int_equal(m.user_data_len, 2);
	kcmd_meta_free(&m);
	/* Empty user data is user data of length 0. */
	assert_int_equal(kcmd_parse("haneul.user_data=", &m), 0);
	assert_non_null(m.user_data);
	assert_int_equal(m.user_data_len, 0);
	kcmd_meta_free(&m);
}

static void test_b64(void **state)
{
	unsigned char out[64];
	char enc[64];
	size_t n;

	(void)state;
	static const char *const bad[] = { "a", "a===", "ab=c", "a b", "ab\n", "=abc", "aGk==", "aGl=",
					   "ab*d" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (kcmd_b64_decode(bad[i], strlen(bad[i]), out, sizeof(out), &n) != -EINVAL)
			fail_msg("accepted '%s'", bad[i]);
	}
	assert_int_equal(kcmd_b64_decode("aGVsbG8=", 8, out, 4, &n), -EMSGSIZE);
	assert_int_equal(kcmd_b64_decode("aGVsbG8=", 8, out, 5, &n), 0);
	assert_int_equal(n, 5);
	/* Round trip over every length up to 40 and every byte value. */
	for (size_t len = 0; len <= 40; len++) {
		unsigned char in[40];

		for (size_t i = 0; i < len; i++)
			in[i] = (unsigned char)(i * 37 + len * 11);
		kcmd_b64_encode(in, len, enc);
		assert_int_equal(strlen(enc), kcmd_b64_len(len));
		assert_int_equal(kcmd_b64_decode(enc, strlen(enc), out, sizeof(out), &n), 0);
		assert_int_equal(n, len);
		assert_memory_equal(out, in, len);
	}
}

static void test_user_data_limits(void **state)
{
	struct kcmd_meta m = { 0 };
	size_t raw = KCMD_USER_DATA_MAX + 3;
	unsigned char *data = calloc(1, raw);
	char *enc = malloc(kcmd_b64_len(raw) + 32);
	char *line = malloc(kcmd_b64_len(raw) + 64);

	(void)state;
	assert_non_null(data);
	assert_non_null(enc);
	assert_non_null(line);
	/* The command line itself is bounded. */
	memset(line, 'x', KCMD_CMDLINE_MAX + 1);
	line[KCMD_CMDLINE_MAX + 1] = '\0';
	assert_int_equal(kcmd_parse(line, &m), -E2BIG);
	line[KCMD_CMDLINE_MAX] = '\0';
	assert_int_equal(kcmd_parse(line, &m), 0);
	/* 16 KiB decoded fits in the API but not in a command line: the file form. */
	kcmd_b64_encode(data, 3000, enc);
	sprintf(line, "haneul.user_data=%s", enc);
	assert_int_equal(kcmd_parse(line, &m), 0);
	assert_int_equal(m.user_data_len, 3000);
	kcmd_meta_free(&m);
	free(data);
	free(enc);
	free(line);
}

static void test_user_data_file(void **state)
{
	char path[] = "/tmp/haneul-agent-ud.XXXXXX";
	struct kcmd_meta m = { 0 };
	char arg[128];
	char *big;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "#cloud\n", 7), 7);
	snprintf(arg, sizeof(arg), "haneul.user_data_file=%s", path);
	assert_int_equal(kcmd_parse(arg, &m), 0);
	assert_string_equal(m.user_data_file, path);
	assert_int_equal(kcmd_load_user_data_file(&m), 0);
	assert_int_equal(m.user_data_len, 7);
	assert_memory_equal(m.user_data, "#cloud\n", 7);
	kcmd_meta_free(&m);
	/* Over the limit: refused. */
	big = calloc(1, KCMD_USER_DATA_MAX + 1);
	assert_non_null(big);
	assert_int_equal(pwrite(fd, big, KCMD_USER_DATA_MAX + 1, 0), KCMD_USER_DATA_MAX + 1);
	assert_int_equal(kcmd_parse(arg, &m), 0);
	assert_int_equal(kcmd_load_user_data_file(&m), -EFBIG);
	assert_null(m.user_data);
	/* Exactly the limit: fine. */
	assert_int_equal(ftruncate(fd, KCMD_USER_DATA_MAX), 0);
	assert_int_equal(kcmd_load_user_data_file(&m), 0);
	assert_int_equal(m.user_data_len, KCMD_USER_DATA_MAX);
	kcmd_meta_free(&m);
	/* Missing file. */
	unlink(path);
	assert_int_equal(kcmd_parse(arg, &m), 0);
	assert_int_equal(kcmd_load_user_data_file(&m), -ENOENT);
	kcmd_meta_free(&m);
	/* A directory is not user data. */
	assert_int_equal(kcmd_parse("haneul.user_data_file=/tmp", &m), 0);
	assert_int_equal(kcmd_load_user_data_file(&m), -EINVAL);
	kcmd_meta_free(&m);
	close(fd);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_instance_id),
		cmocka_unit_test(test_bad_values_are_ignored),
		cmocka_unit_test(test_quotes),
		cmocka_unit_test(test_user_data),
		cmocka_unit_test(test_b64),
		cmocka_unit_test(test_user_data_limits),
		cmocka_unit_test(test_user_data_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
