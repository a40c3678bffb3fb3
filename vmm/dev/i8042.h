/* vmm/dev/i8042.h - the PS/2 keyboard controller (pure model: no I/O).
 *
 * Enough for Linux's i8042 and atkbd drivers to probe a keyboard (controller
 * self test 0xaa -> 0x55, command byte 0x20/0x60, port tests, keyboard
 * reset/ACK/ID), no auxiliary (mouse) device, CPU reset through command 0xfe
 * (or output port bit 0), and Ctrl-Alt-Del injection as Firecracker's
 * SendCtrlAltDel does: make codes of scancode set 2 (set 1 when the guest
 * turned on the controller's translation) raised on IRQ 1.
 * Unit-tested in tests/unit/test_i8042.c.
 */
#ifndef VMM_DEV_I8042_H
#define VMM_DEV_I8042_H

#include <stdbool.h>
#include <stdint.h>

#define I8042_OFF_DATA 0   /* port 0x60 */
#define I8042_OFF_CMD  4   /* port 0x64 */

#define I8042_STR_OBF     0x01
#define I8042_STR_SYS     0x04
#define I8042_STR_CMDDAT  0x08
#define I8042_STR_KEYLOCK 0x10
#define I8042_STR_AUXDATA 0x20

#define I8042_CTR_KBDINT  0x01
#define I8042_CTR_AUXINT  0x02
#define I8042_CTR_SYS     0x04
#define I8042_CTR_KBDDIS  0x10
#define I8042_CTR_AUXDIS  0x20
#define I8042_CTR_XLATE   0x40

#define I8042_QUEUE 32

struct i8042_ops {
	void (*irq)(void *opaque, int level);  /* IRQ 1 */
	void (*reset)(void *opaque);           /* CPU reset requested */
};

struct i8042 {
	const struct i8042_ops *ops;
	void *opaque;
	uint8_t status;
	uint8_t ctr;             /* controller command byte ("RAM" byte 0) */
	uint8_t outport;
	uint8_t pending_cmd;     /* controller command awaiting its data byte, 0 = none */
	uint8_t kbd_pending;     /* keyboard command awaiting its parameter, 0 = none */
	uint8_t scancode_set;
	bool kbd_enabled;        /* keyboard scanning (0xf4/0xf5) */
	uint8_t out;             /* output buffer, valid when status & OBF */
	uint16_t queue[I8042_QUEUE]; /* bit 8: byte comes from the aux port */
	unsigned int q_head, q_len;
	int irq_level;
};

void i8042_init(struct i8042 *c, const struct i8042_ops *ops, void *opaque);
void i8042_reset(struct i8042 *c);
uint8_t i8042_read(struct i8042 *c, unsigned int off);
void i8042_write(struct i8042 *c, unsigned int off, uint8_t val);
/* Queue Ctrl, Alt, Del key presses.  Returns 0 or -ENOSPC (queue full). */
int i8042_ctrl_alt_del(struct i8042 *c);

#endif
