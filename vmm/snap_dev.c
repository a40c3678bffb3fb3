/* vmm/snap_dev.c - legacy device sections (see snap_dev.h).  Every payload
 * starts with a u32 layout version so a device can grow fields later. */
#include "vmm/snap_dev.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmm/dev/i8042.h"
#include "vmm/dev/rtc.h"
#include "vmm/dev/uart.h"

#define DEV_LAYOUT 1u

static int dev_bad(const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s section malformed or out of range", what);
	return -EINVAL;
}

/* ---- UART ---- */

static void uart_save(void *dev, struct snap_buf *b)
{
	const struct uart *u = dev;

	snap_put_u32(b, DEV_LAYOUT);
	snap_put_u8(b, u->ier);
	snap_put_u8(b, u->lcr);
	snap_put_u8(b, u->mcr);
	snap_put_u8(b, u->lsr);
	snap_put_u8(b, u->msr);
	snap_put_u8(b, u->scr);
	snap_put_u8(b, u->dll);
	snap_put_u8(b, u->dlm);
	snap_put_u8(b, u->fcr);
	snap_put_u8(b, u->thr_ipending);
	snap_put_u8(b, (uint8_t)u->irq_level);
	snap_put_u64(b, u->tx_bytes);
	snap_put_u64(b, u->rx_bytes);
	/* The receive buffer in order, oldest byte first. */
	snap_put_u32(b, (uint32_t)u->rx_len);
	for (size_t i = 0; i < u->rx_len; i++)
		snap_put_u8(b, u->rx[(u->rx_head + i) % UART_RX_CAP]);
}

static int uart_restore(void *dev, const uint8_t *p, size_t len, char *err, size_t errlen)
{
	struct uart *u = dev, t = *u;
	struct snap_rd r;
	uint8_t thr, lvl;
	uint32_t n;

	snap_rd_init(&r, p, len);
	if (snap_get_u32(&r) != DEV_LAYOUT)
		return dev_bad("UART", err, errlen);
	t.ier = snap_get_u8(&r);
	t.lcr = snap_get_u8(&r);
	t.mcr = snap_get_u8(&r);
	t.lsr = snap_get_u8(&r);
	t.msr = snap_get_u8(&r);
	t.scr = snap_get_u8(&r);
	t.dll = snap_get_u8(&r);
	t.dlm = snap_get_u8(&r);
	t.fcr = snap_get_u8(&r);
	thr = snap_get_u8(&r);
	lvl = snap_get_u8(&r);
	t.tx_bytes = snap_get_u64(&r);
	t.rx_bytes = snap_get_u64(&r);
	n = snap_get_u32(&r);
	if (r.bad || thr > 1 || lvl > 1 || n > UART_RX_CAP || (t.ier & 0xf0))
		return dev_bad("UART", err, errlen);
	t.thr_ipending = thr;
	t.irq_level = lvl;
	t.rx_head = 0;
	t.rx_len = n;
	snap_get(&r, t.rx, n);
	if (!snap_rd_done(&r))
		return dev_bad("UART", err, errlen);
	*u = t;
	return 0;
}

const struct snap_dev_ops snap_uart_ops = {
	.name = "uart", .tag = SNAP_TAG_UART, .save = uart_save, .restore = uart_restore,
};

/* ---- i8042 ---- */

static void kbd_save(void *dev, struct snap_buf *b)
{
	const struct i8042 *c = dev;

	snap_put_u32(b, DEV_LAYOUT);
	snap_put_u8(b, c->status);
	snap_put_u8(b, c->ctr);
	snap_put_u8(b, c->outport);
	snap_put_u8(b, c->pending_cmd);
	snap_put_u8(b, c->kbd_pending);
	snap_put_u8(b, c->scancode_set);
	snap_put_u8(b, c->kbd_enabled);
	snap_put_u8(b, c->out);
	snap_put_u8(b, (uint8_t)c->irq_level);
	snap_put_u32(b, c->q_len);
	for (unsigned int i = 0; i < c->q_len; i++) {
		uint16_t v = c->queue[(c->q_head + i) % I8042_QUEUE];

		snap_put_u8(b, (uint8_t)v);
		snap_put_u8(b, (uint8_t)(v >> 8));
	}
}

static int kbd_restore(void *dev, const uint8_t *p, size_t len, char *err, size_t errlen)
{
	struct i8042 *c = dev, t = *c;
	struct snap_rd r;
	uint8_t en, lvl;

	snap_rd_init(&r, p, len);
	if (snap_get_u32(&r) != DEV_LAYOUT)
		return dev_bad("i8042", err, errlen);
	t.status = snap_get_u8(&r);
	t.ctr = snap_get_u8(&r);
	t.outport = snap_get_u8(&r);
	t.pending_cmd = snap_get_u8(&r);
	t.kbd_pending = snap_get_u8(&r);
	t.scancode_set = snap_get_u8(&r);
	en = snap_get_u8(&r);
	t.out = snap_get_u8(&r);
	lvl = snap_get_u8(&r);
	t.q_len = snap_get_u32(&r);
	if (r.bad || en > 1 || lvl > 1 || t.q_len > I8042_QUEUE || t.scancode_set < 1 ||
	    t.scancode_set > 3)
		return dev_bad("i8042", err, errlen);
	t.kbd_enabled = en;
	t.irq_level = lvl;
	t.q_head = 0;
	for (unsigned int i = 0; i < t.q_len; i++) {
		uint16_t v = snap_get_u8(&r);

		v |= (uint16_t)(snap_get_u8(&r) << 8);
		if (v > 0x1ff)
			return dev_bad("i8042", err, errlen);
		t.queue[i] = v;
	}
	if (!snap_rd_done(&r))
		return dev_bad("i8042", err, errlen);
	*c = t;
	return 0;
}

const struct snap_dev_ops snap_i8042_ops = {
	.name = "i8042", .tag = SNAP_TAG_KBD, .save = kbd_save, .restore = kbd_restore,
};

/* ---- RTC ---- */

static void rtc_save(void *dev, struct snap_buf *b)
{
	const struct rtc *c = dev;

	snap_put_u32(b, DEV_LAYOUT);
	snap_put_u8(b, c->index);
	snap_put(b, c->ram, sizeof(c->ram));
}

static int rtc_restore(void *dev, const uint8_t *p, size_t len, char *err, size_t errlen)
{
	struct rtc *c = dev, t;
	struct snap_rd r;

	snap_rd_init(&r, p, len);
	if (snap_get_u32(&r) != DEV_LAYOUT)
		return dev_bad("RTC", err, errlen);
	t.index = snap_get_u8(&r);
	snap_get(&r, t.ram, sizeof(t.ram));
	if (!snap_rd_done(&r))
		return dev_bad("RTC", err, errlen);
	*c = t;
	return 0;
}

const struct snap_dev_ops snap_rtc_ops = {
	.name = "rtc", .tag = SNAP_TAG_RTC, .save = rtc_save, .restore = rtc_restore,
};

/* ---- PV ports ---- */

static void pv_save(void *dev, struct snap_buf *b)
{
	const struct snap_pv *s = dev;

	snap_put_u32(b, DEV_LAYOUT);
	snap_put_u32(b, s->events);
	snap_put_u32(b, s->nr_vcpus);
	for (uint32_t i = 0; i < s->nr_vcpus && i < SNAP_PV_MAX_VCPUS; i++)
		snap_put_u32(b, s->clock_hi_latch[i]);
}

static int pv_restore(void *dev, const uint8_t *p, size_t len, char *err, size_t errlen)
{
	struct snap_pv *s = dev, t;
	struct snap_rd r;

	memset(&t, 0, sizeof(t));
	snap_rd_init(&r, p, len);
	if (snap_get_u32(&r) != DEV_LAYOUT)
		return dev_bad("PV", err, errlen);
	t.events = snap_get_u32(&r);
	t.nr_vcpus = snap_get_u32(&r);
	if (r.bad || t.nr_vcpus > SNAP_PV_MAX_VCPUS || (s->nr_vcpus && t.nr_vcpus != s->nr_vcpus))
		return dev_bad("PV", err, errlen);
	for (uint32_t i = 0; i < t.nr_vcpus; i++)
		t.clock_hi_latch[i] = snap_get_u32(&r);
	if (!snap_rd_done(&r))
		return dev_bad("PV", err, errlen);
	*s = t;
	return 0;
}

const struct snap_dev_ops snap_pv_ops = {
	.name = "pv", .tag = SNAP_TAG_PV, .save = pv_save, .restore = pv_restore,
};
