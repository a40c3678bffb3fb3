/* vmm/snap_dev.h - snapshot sections of the legacy devices: 16550A UART,
 * i8042, CMOS RTC and the haneul PV ports (struct snap_dev_ops, see
 * vmm/snap.h).  Pure: they only (de)serialize the models' state; restore
 * validates every field before it changes the device and never calls the
 * device's callbacks (the IRQ line levels live in the in-kernel irqchip,
 * which is restored separately).  Unit-tested in tests/unit/test_snap.c.
 */
#ifndef VMM_SNAP_DEV_H
#define VMM_SNAP_DEV_H

#include <stdint.h>

#include "vmm/snap.h"

/* dev = struct uart * / struct i8042 * / struct rtc * */
extern const struct snap_dev_ops snap_uart_ops;
extern const struct snap_dev_ops snap_i8042_ops;
extern const struct snap_dev_ops snap_rtc_ops;

#define SNAP_PV_MAX_VCPUS 32

/* The PV ports' state that is not in META (dev = struct snap_pv *): pending
 * events and each vCPU's latched CLOCK_HI. */
struct snap_pv {
	uint32_t events;
	uint32_t nr_vcpus;
	uint32_t clock_hi_latch[SNAP_PV_MAX_VCPUS];
};
extern const struct snap_dev_ops snap_pv_ops;

#endif
