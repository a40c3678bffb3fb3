/* vmm/dev/rtc.c - CMOS clock (see rtc.h). */
#include "vmm/dev/rtc.h"

#include <string.h>

#define REG_A 0x0a
#define REG_B 0x0b
#define REG_C 0x0c
#define REG_D 0x0d
#define REG_B_24H 0x02
#define REG_B_BIN 0x04

void rtc_init(struct rtc *r)
{
	memset(r, 0, sizeof(*r));
	r->ram[REG_A] = 0x26;       /* 32.768 kHz base, 1024 Hz rate, UIP clear */
	r->ram[REG_B] = REG_B_24H;  /* BCD, 24-hour */
	r->ram[REG_D] = 0x80;       /* valid RAM and time */
}

static uint8_t enc(const struct rtc *r, int v)
{
	if (r->ram[REG_B] & REG_B_BIN)
		return (uint8_t)v;
	return (uint8_t)(((v / 10) << 4) | (v % 10));
}

uint8_t rtc_read(struct rtc *r, unsigned int off, time_t now)
{
	struct tm tm;
	unsigned int reg = r->index & 0x7f;

	if (off == 0)
		return 0xff; /* the index port is write-only */
	gmtime_r(&now, &tm);
	switch (reg) {
	case 0x00: return enc(r, tm.tm_sec);
	case 0x02: return enc(r, tm.tm_min);
	case 0x04: return enc(r, tm.tm_hour);
	case 0x06: return enc(r, tm.tm_wday + 1);
	case 0x07: return enc(r, tm.tm_mday);
	case 0x08: return enc(r, tm.tm_mon + 1);
	case 0x09: return enc(r, tm.tm_year % 100);
	case 0x32: return enc(r, 19 + tm.tm_year / 100); /* century */
	case REG_A: return r->ram[REG_A] & 0x7f;        /* never "update in progress" */
	case REG_C: return 0;                           /* no interrupt flags */
	case REG_D: return 0x80;
	default: return r->ram[reg];
	}
}

void rtc_write(struct rtc *r, unsigned int off, uint8_t val)
{
	unsigned int reg;

	if (off == 0) {
		r->index = val;
		return;
	}
	reg = r->index & 0x7f;
	/* Time registers follow the host clock; C and D are read-only. */
	if (reg <= 0x09 || reg == REG_C || reg == REG_D || reg == 0x32)
		return;
	if (reg == REG_B)
		val &= REG_B_24H | REG_B_BIN; /* no interrupts, no daylight saving */
	r->ram[reg] = val;
}
