/* vmm/dev/i8042.c - PS/2 controller + keyboard model (see i8042.h).  Command
 * set from the IBM PS/2 technical reference as used by Linux's
 * drivers/input/serio/i8042.c and drivers/input/keyboard/atkbd.c; the
 * Ctrl-Alt-Del sequence matches Firecracker's devices/legacy/i8042.rs. */
#include "vmm/dev/i8042.h"

#include <errno.h>
#include <string.h>

#define KBD_ACK   0xfa
#define KBD_BAT   0xaa
#define KBD_ECHO  0xee
#define QUEUE_AUX 0x100

static void update_irq(struct i8042 *c)
{
	int level = (c->status & I8042_STR_OBF) && !(c->status & I8042_STR_AUXDATA) &&
		    (c->ctr & I8042_CTR_KBDINT);

	if (level != c->irq_level) {
		c->irq_level = level;
		if (c->ops && c->ops->irq)
			c->ops->irq(c->opaque, level);
	}
}

/* Move the next queued byte into the output buffer when it is free. */
static void pump(struct i8042 *c)
{
	if (!(c->status & I8042_STR_OBF) && c->q_len) {
		uint16_t e = c->queue[c->q_head];

		c->out = (uint8_t)e;
		c->q_head = (c->q_head + 1) % I8042_QUEUE;
		c->q_len--;
		c->status |= I8042_STR_OBF;
		if (e & QUEUE_AUX)
			c->status |= I8042_STR_AUXDATA;
		else
			c->status &= ~I8042_STR_AUXDATA;
	}
	update_irq(c);
}

static int push_entry(struct i8042 *c, uint16_t e)
{
	if (c->q_len >= I8042_QUEUE)
		return -ENOSPC;
	c->queue[(c->q_head + c->q_len) % I8042_QUEUE] = e;
	c->q_len++;
	return 0;
}

static int push(struct i8042 *c, uint8_t b)
{
	return push_entry(c, b);
}

void i8042_init(struct i8042 *c, const struct i8042_ops *ops, void *opaque)
{
	memset(c, 0, sizeof(*c));
	c->ops = ops;
	c->opaque = opaque;
	i8042_reset(c);
}

void i8042_reset(struct i8042 *c)
{
	c->status = I8042_STR_SYS | I8042_STR_KEYLOCK;
	c->ctr = I8042_CTR_KBDINT | I8042_CTR_SYS | I8042_CTR_AUXDIS;
	c->outport = 0x03; /* reset line high (not in reset), A20 enabled */
	c->pending_cmd = 0;
	c->kbd_pending = 0;
	c->scancode_set = 2;
	c->kbd_enabled = true;
	c->q_head = c->q_len = 0;
	update_irq(c);
}

static void request_reset(struct i8042 *c)
{
	if (c->ops && c->ops->reset)
		c->ops->reset(c->opaque);
}

/* A byte the guest sends to the keyboard itself (data port, no pending
 * controller command).  Every command is acknowledged with 0xfa. */
static void kbd_write(struct i8042 *c, uint8_t v)
{
	if (c->kbd_pending) {
		uint8_t cmd = c->kbd_pending;

		c->kbd_pending = 0;
		push(c, KBD_ACK);
		if (cmd == 0xf0) {
			if (v == 0)
				push(c, c->scancode_set);
			else if (v <= 3)
				c->scancode_set = v;
		}
		return;
	}
	switch (v) {
	case 0xed: /* set LEDs */
	case 0xf0: /* get/set scancode set */
	case 0xf3: /* typematic rate */
		c->kbd_pending = v;
		push(c, KBD_ACK);
		break;
	case 0xee:
		push(c, KBD_ECHO);
		break;
	case 0xf2: /* identify: MF2 keyboard, 0xab 0x83 (0x41 when translated) */
		push(c, KBD_ACK);
		push(c, 0xab);
		push(c, (c->ctr & I8042_CTR_XLATE) ? 0x41 : 0x83);
		break;
	case 0xf4:
		c->kbd_enabled = true;
		push(c, KBD_ACK);
		break;
	case 0xf5: /* disable scanning, restore defaults */
		c->kbd_enabled = false;
		c->scancode_set = 2;
		push(c, KBD_ACK);
		break;
	case 0xf6:
		c->kbd_enabled = true;
		c->scancode_set = 2;
		push(c, KBD_ACK);
		break;
	case 0xff: /* reset: ACK, then basic assurance test passed */
		c->kbd_enabled = true;
		c->scancode_set = 2;
		push(c, KBD_ACK);
		push(c, KBD_BAT);
		break;
	default:
		push(c, KBD_ACK);
		break;
	}
}

static void ctrl_command(struct i8042 *c, uint8_t cmd)
{
	switch (cmd) {
	case 0x20: /* read command byte */
		push(c, c->ctr);
		break;
	case 0x60: /* write command byte */
	case 0xd1: /* write output port */
	case 0xd2: /* write keyboard output buffer */
	case 0xd3: /* write aux output buffer */
	case 0xd4: /* write to aux device */
		c->pending_cmd = cmd;
		break;
	case 0xa7: /* disable aux port */
		c->ctr |= I8042_CTR_AUXDIS;
		break;
	case 0xa8: /* enable aux port: there is none, it stays disabled */
		break;
	case 0xa9: /* aux interface test: 0x02 = clock line stuck, i.e. no port */
		push(c, 0x02);
		break;
	case 0xaa: /* controller self test */
		c->status |= I8042_STR_SYS;
		push(c, 0x55);
		break;
	case 0xab: /* keyboard interface test: no error */
		push(c, 0x00);
		break;
	case 0xad:
		c->ctr |= I8042_CTR_KBDDIS;
		break;
	case 0xae:
		c->ctr &= ~I8042_CTR_KBDDIS;
		break;
	case 0xc0: /* read input port */
		push(c, 0x00);
		break;
	case 0xd0: /* read output port */
		push(c, c->outport);
		break;
	case 0xe0: /* read test inputs */
		push(c, 0x00);
		break;
	default:
		/* 0xf0-0xff pulse output port bits low for 6 us; bit 0 is the
		 * CPU reset line (0xfe is the classic "keyboard reset"). */
		if (cmd >= 0xf0 && !(cmd & 1))
			request_reset(c);
		break;
	}
}

static void ctrl_data(struct i8042 *c, uint8_t cmd, uint8_t v)
{
	switch (cmd) {
	case 0x60:
		/* No aux device: keep its disable bit set so probes see no port. */
		c->ctr = v | I8042_CTR_AUXDIS;
		c->ctr &= ~I8042_CTR_AUXINT;
		if (v & I8042_CTR_SYS)
			c->status |= I8042_STR_SYS;
		else
			c->status &= ~I8042_STR_SYS;
		break;
	case 0xd1:
		c->outport = v;
		if (!(v & 1))
			request_reset(c);
		break;
	case 0xd2:
		push(c, v);
		break;
	case 0xd3:
		/* The loopback byte of a missing aux port never comes back
		 * intact (it does come back as aux data, so Linux reads it and
		 * leaves nothing stale); Linux then runs the aux test (0xa9)
		 * and gives up on the port. */
		push_entry(c, QUEUE_AUX | (uint8_t)~v);
		break;
	case 0xd4:
		break; /* no aux device */
	}
}

uint8_t i8042_read(struct i8042 *c, unsigned int off)
{
	uint8_t v;

	if (off == I8042_OFF_CMD)
		return c->status;
	if (off != I8042_OFF_DATA)
		return 0xff;
	v = c->out;
	if (c->status & I8042_STR_OBF) {
		c->status &= ~(I8042_STR_OBF | I8042_STR_AUXDATA);
		update_irq(c); /* lower IRQ 1 so the next byte is a new edge */
	}
	pump(c);
	return v;
}

void i8042_write(struct i8042 *c, unsigned int off, uint8_t val)
{
	if (off == I8042_OFF_CMD) {
		c->status |= I8042_STR_CMDDAT;
		c->pending_cmd = 0;
		ctrl_command(c, val);
	} else if (off == I8042_OFF_DATA) {
		uint8_t cmd = c->pending_cmd;

		c->status &= ~I8042_STR_CMDDAT;
		c->pending_cmd = 0;
		if (cmd)
			ctrl_data(c, cmd, val);
		else
			kbd_write(c, val);
	}
	pump(c);
}

int i8042_ctrl_alt_del(struct i8042 *c)
{
	/* Make codes: Ctrl, Alt, Del (extended). */
	static const uint8_t set2[] = { 0x14, 0x11, 0xe0, 0x71 };
	static const uint8_t set1[] = { 0x1d, 0x38, 0xe0, 0x53 };
	const uint8_t *codes = (c->ctr & I8042_CTR_XLATE) ? set1 : set2;

	if (I8042_QUEUE - c->q_len < sizeof(set2))
		return -ENOSPC;
	for (unsigned int i = 0; i < sizeof(set2); i++)
		push(c, codes[i]);
	pump(c);
	return 0;
}
