/* tests/unit/test_i8042.c - PS/2 controller model (vmm/dev/i8042.c), driven
 * the way Linux's i8042/atkbd drivers probe it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/dev/i8042.h"

struct sink {
	int level, edges, resets;
};

static void irq(void *o, int level)
{
	struct sink *s = o;

	if (level && !s->level)
		s->edges++;
	s->level = level;
}

static void reset(void *o)
{
	((struct sink *)o)->resets++;
}

static const struct i8042_ops ops = { .irq = irq, .reset = reset };

static void setup(struct i8042 *c, struct sink *s)
{
	memset(s, 0, sizeof(*s));
	i8042_init(c, &ops, s);
}

static int read_byte(struct i8042 *c)
{
	if (!(i8042_read(c, I8042_OFF_CMD) & I8042_STR_OBF))
		return -1;
	return i8042_read(c, I8042_OFF_DATA);
}

static void test_self_test_and_ctr(void **state)
{
	struct i8042 c;
	struct sink s;
	int ctr;

	setup(&c, &s);
	assert_int_equal(read_byte(&c), -1);             /* flush finds nothing */
	i8042_write(&c, I8042_OFF_CMD, 0x20);
	ctr = read_byte(&c);
	assert_true(ctr & I8042_CTR_KBDINT);
	assert_int_equal(s.edges, 1);                    /* KBDINT on: replies raise IRQ 1 */
	assert_int_equal(s.level, 0);                    /* and the read lowered it */
	/* Linux disables interrupts while probing. */
	i8042_write(&c, I8042_OFF_CMD, 0x60);
	i8042_write(&c, I8042_OFF_DATA, (uint8_t)(ctr & ~I8042_CTR_KBDINT));
	i8042_write(&c, I8042_OFF_CMD, 0xaa);
	assert_int_equal(read_byte(&c), 0x55);
	assert_int_equal(s.edges, 1);
	i8042_write(&c, I8042_OFF_CMD, 0xab);
	assert_int_equal(read_byte(&c), 0x00);
	i8042_write(&c, I8042_OFF_CMD, 0x20);
	assert_int_equal(read_byte(&c), (ctr & ~I8042_CTR_KBDINT) | I8042_CTR_AUXDIS);
}

static void test_no_aux_port(void **state)
{
	struct i8042 c;
	struct sink s;

	setup(&c, &s);
	i8042_write(&c, I8042_OFF_CMD, 0xd3);           /* AUX loopback */
	i8042_write(&c, I8042_OFF_DATA, 0x5a);
	assert_true(i8042_read(&c, I8042_OFF_CMD) & I8042_STR_AUXDATA);
	assert_int_not_equal(read_byte(&c), 0x5a);      /* loop test fails at once */
	assert_false(i8042_read(&c, I8042_OFF_CMD) & I8042_STR_AUXDATA);
	assert_int_equal(s.edges, 0);                   /* aux data is not IRQ 1 */
	i8042_write(&c, I8042_OFF_CMD, 0xa9);           /* AUX test */
	int r = read_byte(&c);
	assert_true(r != 0 && r != 0xfa && r != 0xff);  /* Linux: no AUX port */
	i8042_write(&c, I8042_OFF_CMD, 0xa8);
	i8042_write(&c, I8042_OFF_CMD, 0x20);
	assert_true(read_byte(&c) & I8042_CTR_AUXDIS);
}

static void test_keyboard_probe(void **state)
{
	struct i8042 c;
	struct sink s;

	setup(&c, &s);
	i8042_write(&c, I8042_OFF_DATA, 0xff);          /* reset */
	assert_int_equal(read_byte(&c), 0xfa);
	assert_int_equal(read_byte(&c), 0xaa);
	i8042_write(&c, I8042_OFF_DATA, 0xf2);          /* get ID */
	assert_int_equal(read_byte(&c), 0xfa);
	assert_int_equal(read_byte(&c), 0xab);
	assert_int_equal(read_byte(&c), 0x83);
	i8042_write(&c, I8042_OFF_DATA, 0xed);          /* LEDs + parameter */
	assert_int_equal(read_byte(&c), 0xfa);
	i8042_write(&c, I8042_OFF_DATA, 0x07);
	assert_int_equal(read_byte(&c), 0xfa);
	i8042_write(&c, I8042_OFF_DATA, 0xf0);          /* query scancode set */
	assert_int_equal(read_byte(&c), 0xfa);
	i8042_write(&c, I8042_OFF_DATA, 0x00);
	assert_int_equal(read_byte(&c), 0xfa);
	assert_int_equal(read_byte(&c), 2);
	i8042_write(&c, I8042_OFF_DATA, 0xee);
	assert_int_equal(read_byte(&c), 0xee);
	assert_int_equal(read_byte(&c), -1);
}

static void test_reset_commands(void **state)
{
	struct i8042 c;
	struct sink s;

	setup(&c, &s);
	i8042_write(&c, I8042_OFF_CMD, 0xff);           /* pulse nothing */
	assert_int_equal(s.resets, 0);
	i8042_write(&c, I8042_OFF_CMD, 0xfe);
	assert_int_equal(s.resets, 1);
	i8042_write(&c, I8042_OFF_CMD, 0xd1);           /* output port, bit 0 low */
	i8042_write(&c, I8042_OFF_DATA, 0x02);
	assert_int_equal(s.resets, 2);
	i8042_write(&c, I8042_OFF_CMD, 0xd0);
	assert_int_equal(read_byte(&c), 0x02);
}

static void test_ctrl_alt_del_set2(void **state)
{
	struct i8042 c;
	struct sink s;
	const int want[] = { 0x14, 0x11, 0xe0, 0x71 };

	setup(&c, &s);
	assert_int_equal(i8042_ctrl_alt_del(&c), 0);
	assert_int_equal(s.level, 1);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(s.level, 1);          /* one interrupt per byte */
		assert_int_equal(read_byte(&c), want[i]);
	}
	assert_int_equal(s.edges, 4);
	assert_int_equal(s.level, 0);
	assert_int_equal(read_byte(&c), -1);
}

static void test_ctrl_alt_del_translated_and_full(void **state)
{
	struct i8042 c;
	struct sink s;
	int n = 0;

	setup(&c, &s);
	i8042_write(&c, I8042_OFF_CMD, 0x60);
	i8042_write(&c, I8042_OFF_DATA, I8042_CTR_KBDINT | I8042_CTR_XLATE);
	assert_int_equal(i8042_ctrl_alt_del(&c), 0);
	assert_int_equal(read_byte(&c), 0x1d);
	assert_int_equal(read_byte(&c), 0x38);
	assert_int_equal(read_byte(&c), 0xe0);
	assert_int_equal(read_byte(&c), 0x53);
	while (i8042_ctrl_alt_del(&c) == 0)
		n++;
	assert_true(n >= 7 && n <= 8);
	assert_int_equal(i8042_ctrl_alt_del(&c), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_self_test_and_ctr),
		cmocka_unit_test(test_no_aux_port),
		cmocka_unit_test(test_keyboard_probe),
		cmocka_unit_test(test_reset_commands),
		cmocka_unit_test(test_ctrl_alt_del_set2),
		cmocka_unit_test(test_ctrl_alt_del_translated_and_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
