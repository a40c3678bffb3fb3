/* tests/unit/test_console.c - console ring and bounded log (vmm/dev/console.c),
 * plus the port I/O bus (vmm/iobus.c) and CMOS clock (vmm/dev/rtc.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "vmm/dev/console.h"
#include "vmm/dev/rtc.h"
#include "vmm/iobus.h"

static void test_ring_tail(void **state)
{
	struct console *c = calloc(1, sizeof(*c));
	uint8_t out[16];

	assert_non_null(c);
	assert_int_equal(console_ring_tail(c, sizeof(out), out), 0);
	console_ring_put(c, (const uint8_t *)"hello ", 6);
	console_ring_put(c, (const uint8_t *)"world", 5);
	assert_int_equal(console_ring_tail(c, 5, out), 5);
	assert_memory_equal(out, "world", 5);
	assert_int_equal(console_ring_tail(c, sizeof(out), out), 11);
	assert_memory_equal(out, "hello world", 11);
	free(c);
}

static void test_ring_keeps_last_64k(void **state)
{
	struct console *c = calloc(1, sizeof(*c));
	size_t n = CONSOLE_RING_SIZE + 1000;
	uint8_t *in = malloc(n), *out = malloc(CONSOLE_RING_SIZE);

	assert_non_null(c);
	assert_non_null(in);
	assert_non_null(out);
	for (size_t i = 0; i < n; i++)
		in[i] = (uint8_t)(i * 7);
	/* Odd-sized pieces so writes straddle the wrap point. */
	for (size_t off = 0; off < n; off += 333)
		console_ring_put(c, in + off, n - off < 333 ? n - off : 333);
	assert_int_equal(c->total, n);
	assert_int_equal(console_ring_tail(c, CONSOLE_RING_SIZE + 5, out), CONSOLE_RING_SIZE);
	assert_memory_equal(out, in + 1000, CONSOLE_RING_SIZE);
	/* One write bigger than the ring. */
	console_ring_put(c, in, n);
	assert_int_equal(console_ring_tail(c, CONSOLE_RING_SIZE, out), CONSOLE_RING_SIZE);
	assert_memory_equal(out, in + 1000, CONSOLE_RING_SIZE);
	assert_int_equal(c->total, 2 * n);
	free(in);
	free(out);
	free(c);
}

static void test_log_bounded(void **state)
{
	struct console *c = calloc(1, sizeof(*c));
	char path[] = "/tmp/haneul-console-test-XXXXXX";
	int fd = mkstemp(path);
	struct console_cfg cfg = { .log_path = path, .log_max = 1000, .out_fd = -1, .in_fd = -1 };
	char err[128];
	uint8_t buf[100];
	struct stat st;

	assert_true(fd >= 0);
	close(fd);
	assert_non_null(c);
	assert_int_equal(console_open(c, &cfg, err, sizeof(err)), 0);
	memset(buf, 'x', sizeof(buf));
	for (int i = 0; i < 95; i++)
		console_write(c, buf, sizeof(buf));
	assert_int_equal(stat(path, &st), 0);
	assert_true(st.st_size <= 1000);
	assert_true(st.st_size > 0);
	assert_true(c->log_wraps >= 9);
	assert_int_equal(c->total, 9500);
	console_close(c);
	console_close(c);
	unlink(path);
	/* An unwritable path is a clear error. */
	cfg.log_path = "/nonexistent-dir/x.log";
	assert_int_equal(console_open(c, &cfg, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent-dir/x.log"));
	free(c);
}

static uint32_t last_out;

static uint32_t dev_in(void *o, uint16_t off, unsigned int size, unsigned int vcpu)
{
	return 0x12345600u | off;
}

static void dev_out(void *o, uint16_t off, unsigned int size, uint32_t val, unsigned int vcpu)
{
	last_out = val | ((uint32_t)off << 24);
}

static void test_iobus(void **state)
{
	struct iobus b;
	struct iobus_dev d = { "d", 0x3f8, 8, NULL, dev_in, dev_out };
	struct iobus_dev overlap = { "o", 0x3ff, 2, NULL, NULL, NULL };
	struct iobus_dev wrap = { "w", 0xffff, 2, NULL, NULL, NULL };

	iobus_init(&b);
	assert_int_equal(iobus_register(&b, &d), 0);
	assert_int_equal(iobus_register(&b, &overlap), -EEXIST);
	assert_int_equal(iobus_register(&b, &wrap), -EINVAL);
	assert_int_equal(iobus_in(&b, 0x3fa, 1, 0), 0x02);
	assert_int_equal(iobus_in(&b, 0x3fa, 4, 0), 0x12345602u);
	assert_int_equal(iobus_in(&b, 0x400, 1, 0), 0xff);      /* nobody: all-ones */
	assert_int_equal(iobus_in(&b, 0x400, 2, 0), 0xffff);
	assert_int_equal(iobus_in(&b, 0x400, 4, 0), 0xffffffffu);
	iobus_out(&b, 0x3f9, 1, 0x1ab, 0);
	assert_int_equal(last_out, 0x010000ab);
	iobus_out(&b, 0x500, 1, 0x1, 0);                         /* ignored */
	assert_int_equal(last_out, 0x010000ab);
	for (int i = 1; i < IOBUS_MAX_DEVS; i++) {
		struct iobus_dev e = { "e", (uint16_t)(0x1000 + i * 4), 4, NULL, NULL, NULL };

		assert_int_equal(iobus_register(&b, &e), 0);
	}
	struct iobus_dev more = { "m", 0x9000, 1, NULL, NULL, NULL };
	assert_int_equal(iobus_register(&b, &more), -ENOSPC);
}

static void test_rtc(void **state)
{
	struct rtc r;
	time_t t = 1700000000; /* 2023-11-14 22:13:20 UTC, a Tuesday */

	rtc_init(&r);
	rtc_write(&r, 0, 0x0a);
	assert_false(rtc_read(&r, 1, t) & 0x80);               /* never "update in progress" */
	rtc_write(&r, 0, 0x0d);
	assert_int_equal(rtc_read(&r, 1, t), 0x80);             /* valid */
	rtc_write(&r, 0, 0x00);
	assert_int_equal(rtc_read(&r, 1, t), 0x20);             /* BCD seconds */
	rtc_write(&r, 0, 0x04);
	assert_int_equal(rtc_read(&r, 1, t), 0x22);
	rtc_write(&r, 0, 0x09);
	assert_int_equal(rtc_read(&r, 1, t), 0x23);
	rtc_write(&r, 0, 0x32);
	assert_int_equal(rtc_read(&r, 1, t), 0x20);
	rtc_write(&r, 0, 0x0b);
	rtc_write(&r, 1, 0x06);                                  /* binary mode */
	rtc_write(&r, 0, 0x04);
	assert_int_equal(rtc_read(&r, 1, t), 22);
	rtc_write(&r, 0, 0x40);
	rtc_write(&r, 1, 0x5a);                                  /* CMOS RAM */
	assert_int_equal(rtc_read(&r, 1, t), 0x5a);
	assert_int_equal(rtc_read(&r, 0, t), 0xff);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring_tail),
		cmocka_unit_test(test_ring_keeps_last_64k),
		cmocka_unit_test(test_log_bounded),
		cmocka_unit_test(test_iobus),
		cmocka_unit_test(test_rtc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
