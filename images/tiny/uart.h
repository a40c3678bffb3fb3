/* images/tiny/uart.h - polled 8250/16550A driver for COM1 (no interrupts). */
#ifndef IMAGES_TINY_UART_H
#define IMAGES_TINY_UART_H

#include <stddef.h>
#include <stdint.h>

struct uart {
	uint16_t base;       /* I/O port of THR/RBR */
	unsigned int burst;  /* bytes we may write per THRE wait: 16 with a FIFO, else 1 */
	unsigned int room;   /* bytes left in the current burst */
};

/* Program 115200 8N1, interrupts off, FIFO on if the UART has one.
 * Enabling the FIFO drops input received before it (16550 semantics), so
 * senders wait for the readiness marker. */
void uart_init(struct uart *u, uint16_t base);
void uart_write(struct uart *u, const char *s, size_t n);
void uart_puts(struct uart *u, const char *s);
/* Newline as the terminal wants it ("\r\n"). */
void uart_nl(struct uart *u);
void uart_put_u64(struct uart *u, uint64_t v);
/* Next received byte, or -1 when none is pending (one `in` when empty). */
int uart_getc(struct uart *u);

#endif
