/* tests/unit/test_uart.c - 16550A register model (vmm/dev/uart.c), driven the
 * way Linux's 8250 driver probes and uses it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/dev/uart.h"

struct sink {
	uint8_t tx[4096];
	size_t ntx;
	int level;
	int edges; /* rising edges */
};

static void tx(void *o, uint8_t b)
{
	struct sink *s = o;

	s->tx[s->ntx++] = b;
}

static void irq(void *o, int level)
{
	struct sink *s = o;

	if (level && !s->level)
		s->edges++;
	s->level = level;
}

static const struct uart_ops ops = { .tx = tx, .irq = irq };

static void setup(struct uart *u, struct sink *s)
{
	memset(s, 0, sizeof(*s));
	uart_init(u, &ops, s);
}

static void test_reset_state(void **state)
{
	struct uart u;
	struct sink s;

	setup(&u, &s);
	assert_int_equal(uart_read(&u, UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
	assert_int_equal(uart_read(&u, UART_IIR), UART_IIR_NO_INT);
	assert_int_equal(uart_read(&u, UART_IER), 0);
	assert_int_equal(s.level, 0);
}

/* drivers/tty/serial/8250/8250_port.c autoconfig(). */
static void test_linux_autoconfig(void **state)
{
	struct uart u;
	struct sink s;

	setup(&u, &s);
	uart_write(&u, UART_IER, 0);
	assert_int_equal(uart_read(&u, UART_IER) & 0x0f, 0);
	uart_write(&u, UART_IER, 0xff);
	assert_int_equal(uart_read(&u, UART_IER), 0x0f); /* only the low nibble, no UUE */
	uart_write(&u, UART_IER, 0);
	/* Loopback check: MCR = LOOP | OUT2 | RTS -> MSR high nibble 0x90. */
	uart_write(&u, UART_MCR, UART_MCR_LOOP | 0x0a);
	assert_int_equal(uart_read(&u, UART_MSR) & 0xf0, 0x90);
	uart_write(&u, UART_MCR, 0);
	/* FIFO: IIR bits 7:6 = 11 means 16550A. */
	uart_write(&u, UART_FCR, UART_FCR_ENABLE);
	assert_int_equal(uart_read(&u, UART_IIR) >> 6, 3);
	uart_write(&u, UART_FCR, 0);
	assert_int_equal(uart_read(&u, UART_IIR) >> 6, 0);
	/* Scratch register. */
	uart_write(&u, UART_SCR, 0xa5);
	assert_int_equal(uart_read(&u, UART_SCR), 0xa5);
}

static void test_divisor_latch(void **state)
{
	struct uart u;
	struct sink s;

	setup(&u, &s);
	uart_write(&u, UART_LCR, UART_LCR_DLAB | 3);
	uart_write(&u, UART_DLL, 0x01);
	uart_write(&u, UART_DLM, 0x02);
	assert_int_equal(uart_read(&u, UART_DLL), 0x01);
	assert_int_equal(uart_read(&u, UART_DLM), 0x02);
	assert_int_equal(s.ntx, 0);            /* DLL writes are not output */
	uart_write(&u, UART_LCR, 3);
	assert_int_equal(uart_read(&u, UART_IER), 0);
	assert_int_equal(uart_read(&u, UART_LCR), 3);
}

static void test_tx_and_thre_interrupt(void **state)
{
	struct uart u;
	struct sink s;

	setup(&u, &s);
	uart_write(&u, UART_THR, 'h');
	uart_write(&u, UART_THR, 'i');
	assert_int_equal(s.ntx, 2);
	assert_memory_equal(s.tx, "hi", 2);
	assert_int_equal(s.level, 0);          /* THRI not enabled: no interrupt */
	/* Linux startup: enabling THRI with THR empty must raise THRE. */
	uart_write(&u, UART_IER, UART_IER_THRI);
	assert_int_equal(s.level, 1);
	assert_int_equal(uart_read(&u, UART_IIR) & 0x0f, UART_IIR_THRI);
	/* Reading IIR acknowledged it: line low, IIR says none. */
	assert_int_equal(s.level, 0);
	assert_int_equal(uart_read(&u, UART_IIR) & 0x0f, UART_IIR_NO_INT);
	/* Each write is a new THRE event: a new rising edge. */
	uart_write(&u, UART_THR, 'x');
	assert_int_equal(s.level, 1);
	assert_int_equal(s.edges, 2);
	uart_write(&u, UART_IER, 0);
	assert_int_equal(s.level, 0);
	/* Re-enable: THRE asserted again (UART_BUG_THRE test). */
	uart_write(&u, UART_IER, UART_IER_THRI);
	assert_int_equal(uart_read(&u, UART_IIR) & 0x0f, UART_IIR_THRI);
}

static void test_rx_and_priority(void **state)
{
	struct uart u;
	struct sink s;
	const uint8_t in[] = "ab";

	setup(&u, &s);
	uart_write(&u, UART_IER, UART_IER_RDI | UART_IER_THRI);
	assert_int_equal(uart_receive(&u, in, 2), 2);
	assert_true(uart_rx_pending(&u));
	assert_int_equal(s.level, 1);
	/* RX data outranks THRE. */
	assert_int_equal(uart_read(&u, UART_IIR) & 0x0f, UART_IIR_RDI);
	assert_true(uart_read(&u, UART_LSR) & UART_LSR_DR);
	assert_int_equal(uart_read(&u, UART_RBR), 'a');
	assert_int_equal(uart_read(&u, UART_RBR), 'b');
	assert_false(uart_read(&u, UART_LSR) & UART_LSR_DR);
	/* Then the THRE that was pending all along. */
	assert_int_equal(uart_read(&u, UART_IIR) & 0x0f, UART_IIR_THRI);
	assert_int_equal(uart_read(&u, UART_IIR) & 0x0f, UART_IIR_NO_INT);
	assert_int_equal(s.level, 0);
	assert_int_equal(uart_read(&u, UART_RBR), 0); /* empty reads 0 */
}

static void test_rx_overflow_and_fifo_clear(void **state)
{
	struct uart u;
	struct sink s;
	static uint8_t big[UART_RX_CAP + 10];

	setup(&u, &s);
	assert_int_equal(uart_receive(&u, big, sizeof(big)), UART_RX_CAP);
	assert_int_equal(uart_rx_space(&u), 0);
	uart_write(&u, UART_FCR, UART_FCR_ENABLE | UART_FCR_CLR_RX);
	assert_false(uart_rx_pending(&u));
	assert_int_equal(uart_rx_space(&u), UART_RX_CAP);
}

static void test_loopback(void **state)
{
	struct uart u;
	struct sink s;

	setup(&u, &s);
	uart_write(&u, UART_MCR, UART_MCR_LOOP);
	uart_write(&u, UART_THR, 'Z');
	assert_int_equal(s.ntx, 0);            /* not on the wire */
	assert_int_equal(uart_read(&u, UART_RBR), 'Z');
	/* Host input is not received while in loopback. */
	assert_int_equal(uart_receive(&u, (const uint8_t *)"q", 1), 0);
	/* Modem lines: DTR->DSR, OUT1->RI, with delta bits. */
	uart_write(&u, UART_MCR, UART_MCR_LOOP | UART_MCR_DTR | UART_MCR_OUT1);
	uint8_t msr = uart_read(&u, UART_MSR);
	assert_true(msr & UART_MSR_DSR);
	assert_true(msr & UART_MSR_RI);
	assert_true(msr & UART_MSR_DDSR);
	assert_int_equal(uart_read(&u, UART_MSR) & 0x0f, 0); /* deltas cleared by the read */
	uart_write(&u, UART_MCR, 0);
	assert_int_equal(uart_read(&u, UART_MSR) & 0xf0,
			 UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS);
	assert_int_equal(uart_receive(&u, (const uint8_t *)"q", 1), 1);
}

static void test_msi_interrupt(void **state)
{
	struct uart u;
	struct sink s;

	setup(&u, &s);
	uart_write(&u, UART_MCR, UART_MCR_LOOP);
	uart_write(&u, UART_IER, UART_IER_MSI);
	uart_write(&u, UART_MCR, UART_MCR_LOOP | UART_MCR_RTS);
	assert_int_equal(s.level, 1);
	assert_int_equal(uart_read(&u, UART_IIR) & 0x0f, UART_IIR_MSI);
	uart_read(&u, UART_MSR);
	assert_int_equal(s.level, 0);
}

static void test_reset_lowers_irq(void **state)
{
	struct uart u;
	struct sink s;

	setup(&u, &s);
	uart_write(&u, UART_IER, UART_IER_THRI);
	assert_int_equal(s.level, 1);
	uart_receive(&u, (const uint8_t *)"x", 1);
	uart_reset(&u);
	assert_int_equal(s.level, 0);
	assert_false(uart_rx_pending(&u));
	assert_int_equal(uart_read(&u, UART_IER), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reset_state),
		cmocka_unit_test(test_linux_autoconfig),
		cmocka_unit_test(test_divisor_latch),
		cmocka_unit_test(test_tx_and_thre_interrupt),
		cmocka_unit_test(test_rx_and_priority),
		cmocka_unit_test(test_rx_overflow_and_fifo_clear),
		cmocka_unit_test(test_loopback),
		cmocka_unit_test(test_msi_interrupt),
		cmocka_unit_test(test_reset_lowers_irq),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
