/* vmm/dev/uart.h - 8250/16550A UART register model (pure: no I/O, no
 * locks).  The owner serializes calls, and receives transmitted bytes and
 * IRQ line changes through uart_ops.  Transmission is instantaneous (THR
 * and the shift register are empty again right after a write), so THRE
 * interrupts follow every write as on a fast real UART.
 * Unit-tested in tests/unit/test_uart.c.
 */
#ifndef VMM_DEV_UART_H
#define VMM_DEV_UART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Register offsets. */
#define UART_RBR 0  /* read, DLAB=0 */
#define UART_THR 0  /* write, DLAB=0 */
#define UART_DLL 0  /* DLAB=1 */
#define UART_IER 1  /* DLAB=0 */
#define UART_DLM 1  /* DLAB=1 */
#define UART_IIR 2  /* read */
#define UART_FCR 2  /* write */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define UART_IER_RDI  0x01
#define UART_IER_THRI 0x02
#define UART_IER_RLSI 0x04
#define UART_IER_MSI  0x08

#define UART_IIR_NO_INT 0x01
#define UART_IIR_MSI    0x00
#define UART_IIR_THRI   0x02
#define UART_IIR_RDI    0x04
#define UART_IIR_RLSI   0x06
#define UART_IIR_FIFO   0xc0

#define UART_FCR_ENABLE  0x01
#define UART_FCR_CLR_RX  0x02
#define UART_FCR_CLR_TX  0x04

#define UART_LCR_DLAB 0x80

#define UART_MCR_DTR  0x01
#define UART_MCR_RTS  0x02
#define UART_MCR_OUT1 0x04
#define UART_MCR_OUT2 0x08
#define UART_MCR_LOOP 0x10

#define UART_LSR_DR   0x01
#define UART_LSR_OE   0x02
#define UART_LSR_BI   0x10
#define UART_LSR_THRE 0x20
#define UART_LSR_TEMT 0x40

#define UART_MSR_DCTS 0x01
#define UART_MSR_DDSR 0x02
#define UART_MSR_TERI 0x04
#define UART_MSR_DDCD 0x08
#define UART_MSR_CTS  0x10
#define UART_MSR_DSR  0x20
#define UART_MSR_RI   0x40
#define UART_MSR_DCD  0x80

/* Receive buffer.  A real 16550A has 16 bytes; a larger one loses no input
 * typed or pasted while the guest is busy, and the guest cannot tell. */
#define UART_RX_CAP 1024

struct uart_ops {
	void (*tx)(void *opaque, uint8_t byte);
	void (*irq)(void *opaque, int level);
};

struct uart {
	const struct uart_ops *ops;
	void *opaque;
	uint8_t ier, lcr, mcr, lsr, msr, scr, dll, dlm, fcr;
	bool thr_ipending;   /* THRE interrupt pending (cleared by an IIR read) */
	int irq_level;       /* last level given to ops->irq */
	uint8_t rx[UART_RX_CAP];
	size_t rx_head, rx_len;
	uint64_t tx_bytes, rx_bytes;
};

void uart_init(struct uart *u, const struct uart_ops *ops, void *opaque);
/* Power-on state (also on guest reboot); lowers the IRQ line. */
void uart_reset(struct uart *u);
uint8_t uart_read(struct uart *u, unsigned int off);
void uart_write(struct uart *u, unsigned int off, uint8_t val);
/* Bytes from the host console; returns how many were accepted. */
size_t uart_receive(struct uart *u, const uint8_t *buf, size_t len);
size_t uart_rx_space(const struct uart *u);
bool uart_rx_pending(const struct uart *u);
uint8_t uart_iir(const struct uart *u);

#endif
