/* tests/unit/test_snap.c - the hibernate snapshot format (vmm/snap.c) and
 * the legacy device sections (vmm/snap_dev.c): round trips, every
 * truncation, bit flips, version and garbage refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/dev/i8042.h"
#include "vmm/dev/rtc.h"
#include "vmm/dev/uart.h"
#include "vmm/snap.h"
#include "vmm/snap_dev.h"

static void test_crc32c_vectors(void **state)
{
	uint8_t buf[4096 + 16];

	(void)state;
	assert_int_equal(snap_crc32c(0, "123456789", 9), 0xe3069283u);
	assert_int_equal(snap_crc32c(0, "", 0), 0);
	memset(buf, 0, 32);
	assert_int_equal(snap_crc32c(0, buf, 32), 0x8a9136aau); /* RFC 3720 B.4 */
	memset(buf, 0xff, 32);
	assert_int_equal(snap_crc32c(0, buf, 32), 0x62a8ab43u);
	/* Incremental == one shot, at every split and misalignment. */
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 131 + 7);
	for (size_t off = 0; off < 9; off++) {
		uint32_t whole = snap_crc32c(0, buf + off, 4096);

		for (size_t cut = 0; cut <= 4096; cut += 509)
			assert_int_equal(snap_crc32c(snap_crc32c(0, buf + off, cut), buf + off + cut, 4096 - cut),
					 whole);
	}
}

/* A small valid file: META, two raw sections, an empty one. */
static void build(struct snap_buf *b)
{
	struct snap_meta m = { .mem_size = 64 << 20, .nr_vcpus = 2, .pv_clock_us = 123,
			       .ready_us = 7, .boot_format = "elf64", .kernel = (char *)"/k",
			       .cmdline = (char *)"c" };
	size_t s;

	memset(b, 0, sizeof(*b));
	snap_file_begin(b, 1000);
	s = snap_section_begin(b, SNAP_TAG_META, 0);
	snap_meta_put(b, &m);
	snap_section_end(b, s);
	snap_section_raw(b, SNAP_TAG_REGS, 0, "abcdefghij", 10);
	snap_section_raw(b, SNAP_TAG_REGS, 1, "0123456789abcdef", 16);
	snap_section_raw(b, SNAP_TAG_PV, 0, NULL, 0);
	assert_int_equal(snap_file_end(b), 0);
}

static void test_parse_round_trip(void **state)
{
	struct snap_buf b;
	struct snap_file f;
	struct snap_meta m;
	const struct snap_section *s;
	char err[256], tn[5];

	(void)state;
	build(&b);
	assert_int_equal(b.len % 8, 0);
	assert_int_equal(snap_parse(b.data, b.len, &f, err, sizeof(err)), 0);
	assert_int_equal(f.nr, 4);
	assert_int_equal(f.version, SNAP_VERSION);
	assert_int_equal(f.realtime_ns, 1000);
	s = snap_find(&f, SNAP_TAG_REGS, 1);
	assert_non_null(s);
	assert_int_equal(s->len, 16);
	assert_memory_equal(s->data, "0123456789abcdef", 16);
	assert_null(snap_find(&f, SNAP_TAG_REGS, 2));
	assert_int_equal(snap_find(&f, SNAP_TAG_PV, 0)->len, 0);
	assert_string_equal(snap_tag_name(SNAP_TAG_REGS, tn), "REGS");
	assert_int_equal(snap_meta_get(snap_find(&f, SNAP_TAG_META, 0), &m, err, sizeof(err)), 0);
	assert_int_equal(m.mem_size, 64 << 20);
	assert_int_equal(m.nr_vcpus, 2);
	assert_int_equal(m.pv_clock_us, 123);
	assert_string_equal(m.kernel, "/k");
	assert_null(m.initrd);
	assert_string_equal(m.cmdline, "c");
	assert_string_equal(m.boot_format, "elf64");
	snap_meta_free(&m);
	snap_file_free(&f);
	snap_buf_free(&b);
}

static void test_every_truncation_refused(void **state)
{
	struct snap_buf b;
	struct snap_file f;
	char err[256];

	(void)state;
	build(&b);
	for (size_t n = 0; n < b.len; n++) {
		uint8_t *copy = malloc(n ? n : 1); /* exact size: ASan sees over-reads */

		memcpy(copy, b.data, n);
		assert_true(snap_parse(copy, n, &f, err, sizeof(err)) < 0);
		assert_null(f.secs);
		free(copy);
	}
	snap_buf_free(&b);
}

static void test_every_bit_flip_refused(void **state)
{
	struct snap_buf b;
	struct snap_file f;
	char err[256];

	(void)state;
	build(&b);
	for (size_t i = 0; i < b.len; i++) {
		for (int bit = 0; bit < 8; bit += 3) {
			int r;

			b.data[i] ^= (uint8_t)(1u << bit);
			r = snap_parse(b.data, b.len, &f, err, sizeof(err));
			/* Header bytes 40..59 are reserved but checksummed. */
			assert_true(r < 0);
			b.data[i] ^= (uint8_t)(1u << bit);
		}
	}
	assert_int_equal(snap_parse(b.data, b.len, &f, err, sizeof(err)), 0);
	snap_file_free(&f);
	snap_buf_free(&b);
}

static void put_hdr_crc(uint8_t *p)
{
	uint32_t c = snap_crc32c(0, p, 60);

	memcpy(p + 60, &c, 4);
}

static void test_version_and_structure(void **state)
{
	struct snap_buf b, d = { 0 };
	struct snap_file f;
	char err[256];
	uint32_t v = 2;

	(void)state;
	build(&b);
	memcpy(b.data + 8, &v, 4);
	put_hdr_crc(b.data);
	assert_int_equal(snap_parse(b.data, b.len, &f, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "version 2"));
	snap_buf_free(&b);
	/* Too many sections claimed. */
	build(&b);
	v = 3;
	memcpy(b.data + 24, &v, 4);
	put_hdr_crc(b.data);
	assert_int_equal(snap_parse(b.data, b.len, &f, err, sizeof(err)), -EINVAL);
	snap_buf_free(&b);
	/* Duplicate (tag, instance). */
	snap_file_begin(&d, 0);
	snap_section_raw(&d, SNAP_TAG_REGS, 0, "x", 1);
	snap_section_raw(&d, SNAP_TAG_REGS, 0, "y", 1);
	assert_int_equal(snap_file_end(&d), 0);
	assert_int_equal(snap_parse(d.data, d.len, &f, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "twice"));
	snap_buf_free(&d);
	/* Garbage. */
	{
		uint8_t g[512];

		for (size_t i = 0; i < sizeof(g); i++)
			g[i] = (uint8_t)(i * 37 + 11);
		assert_int_equal(snap_parse(g, sizeof(g), &f, err, sizeof(err)), -EINVAL);
		memcpy(g, SNAP_MAGIC, 8);
		assert_true(snap_parse(g, sizeof(g), &f, err, sizeof(err)) < 0);
	}
}

static void test_meta_and_memt_validation(void **state)
{
	struct snap_meta m = { .mem_size = 12345, .nr_vcpus = 1, .boot_format = "x" }, out;
	struct snap_memt t = { .mem_size = 5 << 20, .nr_chunks = 3, .name = "mem-0123456789abcdef",
			       .data_bytes = 4096 }, t2;
	uint8_t kind[3] = { 0, 1, 0 };
	uint32_t crc[3] = { 0, 0xdeadbeef, 0 };
	struct snap_buf b = { 0 };
	struct snap_section s;
	char err[256];

	(void)state;
	snap_meta_put(&b, &m);
	s = (struct snap_section){ .data = b.data, .len = b.len };
	assert_int_equal(snap_meta_get(&s, &out, err, sizeof(err)), -EINVAL); /* size not 4K */
	snap_buf_free(&b);
	m.mem_size = 16 << 20;
	m.nr_vcpus = 33;
	snap_meta_put(&b, &m);
	s = (struct snap_section){ .data = b.data, .len = b.len };
	assert_int_equal(snap_meta_get(&s, &out, err, sizeof(err)), -EINVAL);
	snap_buf_free(&b);

	t.kind = kind;
	t.crc = crc;
	snap_memt_put(&b, &t);
	s = (struct snap_section){ .data = b.data, .len = b.len };
	assert_int_equal(snap_memt_get(&s, &t2, err, sizeof(err)), 0);
	assert_int_equal(t2.nr_chunks, 3);
	assert_int_equal(t2.crc[1], 0xdeadbeef);
	assert_string_equal(t2.name, "mem-0123456789abcdef");
	snap_memt_free(&t2);
	for (size_t n = 0; n < b.len; n++) {
		s.len = n;
		assert_true(snap_memt_get(&s, &t2, err, sizeof(err)) < 0);
	}
	snap_buf_free(&b);
	crc[0] = 1; /* a zero chunk with a checksum */
	snap_memt_put(&b, &t);
	s = (struct snap_section){ .data = b.data, .len = b.len };
	assert_int_equal(snap_memt_get(&s, &t2, err, sizeof(err)), -EINVAL);
	snap_buf_free(&b);
	crc[0] = 0;
	snprintf(t.name, sizeof(t.name), "../../etc/passwd");
	snap_memt_put(&b, &t);
	s = (struct snap_section){ .data = b.data, .len = b.len };
	assert_int_equal(snap_memt_get(&s, &t2, err, sizeof(err)), -EINVAL);
	snap_buf_free(&b);
	assert_true(snap_mem_name_ok("mem-0123456789abcdef"));
	assert_false(snap_mem_name_ok("mem-0123456789abcdeF"));
	assert_false(snap_mem_name_ok("mem-0123456789abcde"));
	assert_false(snap_mem_name_ok("state"));
}

static void nop_tx(void *o, uint8_t b) { (void)o; (void)b; }
static void nop_irq(void *o, int l) { (void)o; (void)l; }
static void nop_reset(void *o) { (void)o; }
static const struct uart_ops uops = { .tx = nop_tx, .irq = nop_irq };
static const struct i8042_ops kops = { .irq = nop_irq, .reset = nop_reset };

static void test_devices_round_trip(void **state)
{
	struct uart u, u2;
	struct i8042 k, k2;
	struct rtc r, r2;
	struct snap_pv pv = { .events = 3, .nr_vcpus = 2, .clock_hi_latch = { 5, 6 } }, pv2;
	struct snap_buf b = { 0 };
	char err[256];

	(void)state;
	uart_init(&u, &uops, NULL);
	uart_write(&u, UART_LCR, 0x03);
	uart_write(&u, UART_IER, UART_IER_RDI);
	uart_write(&u, UART_FCR, UART_FCR_ENABLE);
	uart_write(&u, UART_SCR, 0x5a);
	uart_receive(&u, (const uint8_t *)"hello", 5);
	(void)uart_read(&u, UART_RBR); /* 'h' consumed: head != 0 */
	snap_uart_ops.save(&u, &b);
	uart_init(&u2, &uops, NULL);
	assert_int_equal(snap_uart_ops.restore(&u2, b.data, b.len, err, sizeof(err)), 0);
	assert_int_equal(u2.ier, UART_IER_RDI);
	assert_int_equal(u2.scr, 0x5a);
	assert_int_equal(u2.rx_len, 4);
	assert_int_equal(uart_read(&u2, UART_RBR), 'e');
	assert_ptr_equal(u2.ops, &uops);
	/* Every truncation and a bad length are refused, the device unchanged. */
	for (size_t n = 0; n < b.len; n++) {
		struct uart before = u2;

		assert_int_equal(snap_uart_ops.restore(&u2, b.data, n, err, sizeof(err)), -EINVAL);
		assert_memory_equal(&before, &u2, sizeof(u2));
	}
	snap_buf_free(&b);

	i8042_init(&k, &kops, NULL);
	i8042_write(&k, I8042_OFF_CMD, 0x60);
	i8042_write(&k, I8042_OFF_DATA, 0x47);
	assert_int_equal(i8042_ctrl_alt_del(&k), 0);
	snap_i8042_ops.save(&k, &b);
	i8042_init(&k2, &kops, NULL);
	assert_int_equal(snap_i8042_ops.restore(&k2, b.data, b.len, err, sizeof(err)), 0);
	assert_int_equal(k2.ctr, k.ctr);
	assert_int_equal(k2.status, k.status);
	assert_int_equal(k2.q_len, k.q_len);
	for (unsigned int i = 0; i < k.q_len; i++)
		assert_int_equal(k2.queue[i], k.queue[(k.q_head + i) % I8042_QUEUE]);
	b.data[4 + 5] = 9; /* scancode set 9 */
	assert_int_equal(snap_i8042_ops.restore(&k2, b.data, b.len, err, sizeof(err)), -EINVAL);
	snap_buf_free(&b);

	rtc_init(&r);
	rtc_write(&r, 0, 0x0b);
	rtc_write(&r, 1, 0x06);
	snap_rtc_ops.save(&r, &b);
	rtc_init(&r2);
	assert_int_equal(snap_rtc_ops.restore(&r2, b.data, b.len, err, sizeof(err)), 0);
	assert_memory_equal(&r, &r2, sizeof(r));
	assert_int_equal(snap_rtc_ops.restore(&r2, b.data, b.len - 1, err, sizeof(err)), -EINVAL);
	snap_buf_free(&b);

	snap_pv_ops.save(&pv, &b);
	memset(&pv2, 0, sizeof(pv2));
	pv2.nr_vcpus = 2;
	assert_int_equal(snap_pv_ops.restore(&pv2, b.data, b.len, err, sizeof(err)), 0);
	assert_memory_equal(&pv, &pv2, sizeof(pv));
	pv2.nr_vcpus = 3; /* the VM has another vCPU count */
	assert_int_equal(snap_pv_ops.restore(&pv2, b.data, b.len, err, sizeof(err)), -EINVAL);
	snap_buf_free(&b);
}

static void test_cpuid_subset(void **state)
{
	struct kvm_cpuid_entry2 host[3] = {
		{ .function = 0, .ebx = 0x68747541, .ecx = 0x444d4163, .edx = 0x69746e65 },
		{ .function = 1, .ecx = 0x80202001, .edx = 0x078bfbff },
		{ .function = 7, .index = 0, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .ebx = 0x219c07ab },
	};
	struct kvm_cpuid_entry2 saved[3];
	char err[256];

	(void)state;
	memcpy(saved, host, sizeof(host));
	saved[1].ecx &= ~1u;
	assert_int_equal(snap_cpuid_check(saved, 3, host, 3, err, sizeof(err)), 0);
	saved[2].ebx |= 1u << 30; /* a feature this host lacks */
	assert_int_equal(snap_cpuid_check(saved, 3, host, 3, err, sizeof(err)), -ENOTSUP);
	assert_non_null(strstr(err, "0x7.0 ebx bit 30"));
	memcpy(saved, host, sizeof(host));
	saved[0].ebx = 0x756e6547; /* "Genu" */
	assert_int_equal(snap_cpuid_check(saved, 3, host, 3, err, sizeof(err)), -ENOTSUP);
	assert_non_null(strstr(err, "vendor"));
	/* A leaf the host lacks entirely. */
	memcpy(saved, host, sizeof(host));
	assert_int_equal(snap_cpuid_check(saved, 3, host, 2, err, sizeof(err)), -ENOTSUP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c_vectors),
		cmocka_unit_test(test_parse_round_trip),
		cmocka_unit_test(test_every_truncation_refused),
		cmocka_unit_test(test_every_bit_flip_refused),
		cmocka_unit_test(test_version_and_structure),
		cmocka_unit_test(test_meta_and_memt_validation),
		cmocka_unit_test(test_devices_round_trip),
		cmocka_unit_test(test_cpuid_subset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
