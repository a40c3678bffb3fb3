/* images/tiny/uart.c - polled COM1.  Every register access is a VM exit, so
 * the transmitter is filled a FIFO's worth at a time after one THRE check
 * instead of checking before every byte. */
#include "images/tiny/uart.h"
#include "images/tiny/io.h"

#define UART_RBR 0 /* read */
#define UART_THR 0 /* write */
#define UART_DLL 0 /* with DLAB */
#define UART_IER 1
#define UART_DLM 1 /* with DLAB */
#define UART_IIR 2 /* read */
#define UART_FCR 2 /* write */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5

#define LCR_8N1    0x03
#define LCR_DLAB   0x80
#define FCR_ENABLE 0x07  /* enable + clear both FIFOs */
#define IIR_FIFO   0xc0
#define MCR_DTR_RTS 0x03 /* OUT2 stays off: no IRQ line to the PIC */
#define LSR_DR     0x01
#define LSR_THRE   0x20
#define UART_FIFO_LEN 16
/* A UART that never reports THRE must not hang the guest: after this many
 * polls we write anyway (an emulated UART takes the byte regardless). */
#define THRE_SPIN_MAX 100000u

void uart_init(struct uart *u, uint16_t base)
{
	u->base = base;
	io_outb(base + UART_IER, 0);
	io_outb(base + UART_LCR, LCR_DLAB);
	io_outb(base + UART_DLL, 1); /* 115200 baud */
	io_outb(base + UART_DLM, 0);
	io_outb(base + UART_LCR, LCR_8N1);
	io_outb(base + UART_FCR, FCR_ENABLE);
	io_outb(base + UART_MCR, MCR_DTR_RTS);
	u->burst = (io_inb(base + UART_IIR) & IIR_FIFO) == IIR_FIFO ? UART_FIFO_LEN : 1;
	u->room = 0;
}

static void uart_wait_thre(struct uart *u)
{
	unsigned int i;

	for (i = 0; i < THRE_SPIN_MAX; i++)
		if (io_inb(u->base + UART_LSR) & LSR_THRE)
			break;
	u->room = u->burst;
}

void uart_write(struct uart *u, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (u->room == 0)
			uart_wait_thre(u);
		io_outb(u->base + UART_THR, (uint8_t)s[i]);
		u->room--;
	}
}

void uart_puts(struct uart *u, const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	uart_write(u, s, n);
}

void uart_nl(struct uart *u)
{
	uart_write(u, "\r\n", 2);
}

void uart_put_u64(struct uart *u, uint64_t v)
{
	char buf[20];
	size_t i = sizeof(buf);

	do {
		buf[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	uart_write(u, buf + i, sizeof(buf) - i);
}

int uart_getc(struct uart *u)
{
	if (!(io_inb(u->base + UART_LSR) & LSR_DR))
		return -1;
	/* Reading RBR drains a byte; the transmitter state is unaffected. */
	return io_inb(u->base + UART_RBR);
}
