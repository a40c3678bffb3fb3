/* vmm/dev/uart.c - 16550A register model (see uart.h).  Semantics follow the
 * National Semiconductor PC16550D data sheet and what Linux's 8250 driver
 * probes for (autoconfig: IER low nibble writable, loopback MSR mapping,
 * IIR FIFO bits; startup: THRE re-asserted when THRI is enabled). */
#include "vmm/dev/uart.h"

#include <string.h>

void uart_init(struct uart *u, const struct uart_ops *ops, void *opaque)
{
	memset(u, 0, sizeof(*u));
	u->ops = ops;
	u->opaque = opaque;
	uart_reset(u);
}

static void update_irq(struct uart *u)
{
	int level = !(uart_iir(u) & UART_IIR_NO_INT);

	if (level != u->irq_level) {
		u->irq_level = level;
		if (u->ops && u->ops->irq)
			u->ops->irq(u->opaque, level);
	}
}

void uart_reset(struct uart *u)
{
	u->ier = 0;
	u->lcr = 0;
	u->mcr = UART_MCR_OUT2;
	u->lsr = UART_LSR_THRE | UART_LSR_TEMT;
	/* No modem: carrier, data set ready and clear to send all asserted. */
	u->msr = UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS;
	u->scr = 0;
	u->dll = 0x0c; /* 9600 baud */
	u->dlm = 0;
	u->fcr = 0;
	u->thr_ipending = false;
	u->rx_head = u->rx_len = 0;
	update_irq(u);
}

uint8_t uart_iir(const struct uart *u)
{
	uint8_t fifo = (u->fcr & UART_FCR_ENABLE) ? UART_IIR_FIFO : 0;

	if ((u->ier & UART_IER_RLSI) && (u->lsr & (UART_LSR_OE | UART_LSR_BI)))
		return fifo | UART_IIR_RLSI;
	if ((u->ier & UART_IER_RDI) && u->rx_len)
		return fifo | UART_IIR_RDI;
	if ((u->ier & UART_IER_THRI) && u->thr_ipending)
		return fifo | UART_IIR_THRI;
	if ((u->ier & UART_IER_MSI) && (u->msr & 0x0f))
		return fifo | UART_IIR_MSI;
	return fifo | UART_IIR_NO_INT;
}

static void rx_push(struct uart *u, uint8_t b)
{
	if (u->rx_len >= UART_RX_CAP) {
		u->lsr |= UART_LSR_OE;
		return;
	}
	u->rx[(u->rx_head + u->rx_len) % UART_RX_CAP] = b;
	u->rx_len++;
	u->rx_bytes++;
}

/* Modem status as seen in loopback: outputs wired back to inputs. */
static void loopback_msr(struct uart *u)
{
	uint8_t m = 0, delta;

	if (u->mcr & UART_MCR_RTS)
		m |= UART_MSR_CTS;
	if (u->mcr & UART_MCR_DTR)
		m |= UART_MSR_DSR;
	if (u->mcr & UART_MCR_OUT1)
		m |= UART_MSR_RI;
	if (u->mcr & UART_MCR_OUT2)
		m |= UART_MSR_DCD;
	delta = (m ^ u->msr) & 0xf0;
	/* Delta bits: CTS, DSR, DCD change; RI only on its trailing edge. */
	u->msr = (u->msr & 0x0f) | m;
	if (delta & UART_MSR_CTS)
		u->msr |= UART_MSR_DCTS;
	if (delta & UART_MSR_DSR)
		u->msr |= UART_MSR_DDSR;
	if (delta & UART_MSR_DCD)
		u->msr |= UART_MSR_DDCD;
	if ((delta & UART_MSR_RI) && !(m & UART_MSR_RI))
		u->msr |= UART_MSR_TERI;
}

uint8_t uart_read(struct uart *u, unsigned int off)
{
	uint8_t v = 0xff;

	switch (off & 7) {
	case UART_RBR:
		if (u->lcr & UART_LCR_DLAB) {
			v = u->dll;
			break;
		}
		v = 0;
		if (u->rx_len) {
			v = u->rx[u->rx_head];
			u->rx_head = (u->rx_head + 1) % UART_RX_CAP;
			u->rx_len--;
		}
		break;
	case UART_IER:
		v = (u->lcr & UART_LCR_DLAB) ? u->dlm : u->ier;
		break;
	case UART_IIR:
		v = uart_iir(u);
		/* Reading IIR while THRE is the reported source acknowledges it. */
		if ((v & 0x0f) == UART_IIR_THRI)
			u->thr_ipending = false;
		break;
	case UART_LCR:
		v = u->lcr;
		break;
	case UART_MCR:
		v = u->mcr;
		break;
	case UART_LSR:
		v = u->lsr | (u->rx_len ? UART_LSR_DR : 0);
		u->lsr &= ~(UART_LSR_OE | UART_LSR_BI);
		break;
	case UART_MSR:
		v = u->msr;
		u->msr &= 0xf0;
		break;
	case UART_SCR:
		v = u->scr;
		break;
	}
	update_irq(u);
	return v;
}

void uart_write(struct uart *u, unsigned int off, uint8_t val)
{
	switch (off & 7) {
	case UART_THR:
		if (u->lcr & UART_LCR_DLAB) {
			u->dll = val;
			break;
		}
		if (u->mcr & UART_MCR_LOOP) {
			rx_push(u, val);
		} else {
			u->tx_bytes++;
			if (u->ops && u->ops->tx)
				u->ops->tx(u->opaque, val);
		}
		/* Sent at once: THR empty again, and that is a new THRE event. */
		u->lsr |= UART_LSR_THRE | UART_LSR_TEMT;
		u->thr_ipending = true;
		break;
	case UART_IER:
		if (u->lcr & UART_LCR_DLAB) {
			u->dlm = val;
			break;
		}
		/* Enabling THRI while THR is empty raises THRE again (Linux's
		 * 8250 startup tests for exactly this, UART_BUG_THRE/TXEN). */
		if ((val & UART_IER_THRI) && !(u->ier & UART_IER_THRI))
			u->thr_ipending = true;
		u->ier = val & 0x0f;
		break;
	case UART_FCR:
		if (val & UART_FCR_CLR_RX) {
			u->rx_head = u->rx_len = 0;
			u->lsr &= ~UART_LSR_OE;
		}
		/* Changing the FIFO enable bit clears both FIFOs. */
		if ((val ^ u->fcr) & UART_FCR_ENABLE)
			u->rx_head = u->rx_len = 0;
		u->fcr = val & 0xc9;
		break;
	case UART_LCR:
		u->lcr = val;
		break;
	case UART_MCR:
		u->mcr = val & 0x1f;
		if (u->mcr & UART_MCR_LOOP)
			loopback_msr(u);
		else
			u->msr = (u->msr & 0x0f) | UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS;
		break;
	case UART_LSR:
		break; /* read-only (factory test only) */
	case UART_MSR:
		break;
	case UART_SCR:
		u->scr = val;
		break;
	}
	update_irq(u);
}

size_t uart_receive(struct uart *u, const uint8_t *buf, size_t len)
{
	size_t n = 0;

	/* In loopback the receiver is disconnected from the line. */
	if (u->mcr & UART_MCR_LOOP)
		return 0;
	while (n < len && u->rx_len < UART_RX_CAP)
		rx_push(u, buf[n++]);
	update_irq(u);
	return n;
}

size_t uart_rx_space(const struct uart *u)
{
	return (u->mcr & UART_MCR_LOOP) ? 0 : UART_RX_CAP - u->rx_len;
}

bool uart_rx_pending(const struct uart *u)
{
	return u->rx_len > 0;
}
