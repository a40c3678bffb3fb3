/* vmm/dev/rtc.h - a read-mostly MC146818 CMOS RTC at ports 0x70/0x71: the
 * wall clock (UTC, BCD, 24 h) with "update in progress" always clear and
 * the "valid RAM and time" bit set, so a guest kernel that reads the CMOS
 * clock (rather than kvmclock) gets a sane time and no warning.  No alarm
 * or periodic interrupts.  Pure: the caller passes the current time.
 */
#ifndef VMM_DEV_RTC_H
#define VMM_DEV_RTC_H

#include <stdint.h>
#include <time.h>

#define RTC_PORT_INDEX 0x70
#define RTC_PORT_DATA  0x71

struct rtc {
	uint8_t index;          /* selected register, bit 7 = NMI mask */
	uint8_t ram[128];       /* CMOS RAM the guest may write (status regs, scratch) */
};

void rtc_init(struct rtc *r);
uint8_t rtc_read(struct rtc *r, unsigned int off, time_t now);
void rtc_write(struct rtc *r, unsigned int off, uint8_t val);

#endif
