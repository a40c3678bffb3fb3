/* images/tiny/tiny.c - the haneul tiny guest: banner, boot time, readiness
 * marker, then a serial command loop that sleeps in the VMM (PV IDLE port)
 * whenever no input is pending.
 *
 * Rules this file lives by (see docs/tiny.md):
 *  - no interrupts, no exceptions, no IDT: the local nested KVM cannot
 *    deliver them to a 64-bit CPL 0 guest;
 *  - few instructions: at CPL 0 each one is emulated locally (~1 us);
 *  - no mutable globals and no .bss to clear: all state is in `struct tiny`
 *    on the stack, so a reboot (the VMM restarting us) starts clean and a
 *    hibernate snapshot carries it.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/platform.h"
#include "images/tiny/io.h"
#include "images/tiny/uart.h"

#define TINY_VERSION "1"
#define TINY_LINE_MAX 128             /* input line, including the NUL */
#define TINY_COMPUTE_MAX 1000000ull   /* compute N: N <= this (sieve fits the scratch area) */
#define TINY_DEBUG_EXIT_PORT 0xf4     /* QEMU isa-debug-exit */
#define TINY_ALL_ONES 0xffffffffu     /* what a read of a port nobody emulates returns */

enum tiny_boot_mode { TINY_BOOT_ELF64 = 0, TINY_BOOT_PVH = 1 };

struct tiny {
	struct uart uart;
	enum tiny_boot_mode mode;
	bool pv;                   /* haneul PV ports present (CLOCK answers) */
	uint64_t count;            /* the `count` command's counter */
	char line[TINY_LINE_MAX];
	size_t len;                /* bytes in line (no NUL until submitted) */
	bool overflow;             /* this line grew past TINY_LINE_MAX - 1: discard it */
	bool last_cr;              /* previous byte was '\r' (swallow a following '\n') */
};

/* Linker-script symbols: the scratch area reserved after the stack. */
extern uint8_t tiny_scratch[], tiny_scratch_end[];

void tiny_main(enum tiny_boot_mode mode) __attribute__((noreturn));

/* The compiler may emit calls to these for struct copies or zeroing. */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);

void *memset(void *d, int c, size_t n)
{
	void *r = d;

	__asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
	return r;
}

void *memcpy(void *d, const void *s, size_t n)
{
	void *r = d;

	__asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
	return r;
}

/* Microseconds since the VMM process started, or false without PV ports.
 * Reading CLOCK_LO latches the high half for CLOCK_HI. */
static bool tiny_clock_us(const struct tiny *t, uint64_t *us)
{
	uint32_t lo, hi;

	if (!t->pv)
		return false;
	lo = io_inl(PLAT_PV_CLOCK_LO);
	hi = io_inl(PLAT_PV_CLOCK_HI);
	*us = ((uint64_t)hi << 32) | lo;
	return true;
}

static void tiny_say(struct tiny *t, const char *s)
{
	uart_puts(&t->uart, s);
	uart_nl(&t->uart);
}

static bool tiny_streq(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

/* Decimal, no sign, no overflow past `max`; the whole string must be digits. */
static bool tiny_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		if (v > (max - (uint64_t)(*s - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return true;
}

/* Sum of the primes below n (n <= TINY_COMPUTE_MAX): sieve of odd numbers,
 * one bit per odd number in the scratch area.  Bit i stands for 2i+1. */
static uint64_t tiny_sum_primes_below(uint64_t n)
{
	uint64_t *bits = (uint64_t *)tiny_scratch;
	uint64_t nbits, words, i, j, sum;

	if (n <= 2)
		return 0;
	sum = 2;
	nbits = n / 2;                /* odd numbers 1, 3, ..., < n */
	words = (nbits + 63) / 64;
	for (i = 0; i < words; i++)
		bits[i] = 0;
	for (i = 1; (2 * i + 1) * (2 * i + 1) < n; i++) {
		uint64_t p = 2 * i + 1;

		if (bits[i / 64] & (1ull << (i % 64)))
			continue;
		for (j = (p * p) / 2; j < nbits; j += p)
			bits[j / 64] |= 1ull << (j % 64);
	}
	for (i = 1; i < nbits; i++)
		if (!(bits[i / 64] & (1ull << (i % 64))))
			sum += 2 * i + 1;
	return sum;
}

static __attribute__((noreturn)) void tiny_poweroff(struct tiny *t)
{
	tiny_say(t, "tiny: powering off");
	/* haneul-vmm: ACPI hardware-reduced sleep control, S5. */
	io_outb(PLAT_ACPI_SLEEP_CTRL, (PLAT_ACPI_S5_TYP << 2) | PLAT_ACPI_SLP_EN);
	/* Still running: no such port (QEMU microvm).  isa-debug-exit makes
	 * QEMU exit with status (0 << 1) | 1 = 1. */
	io_outl(TINY_DEBUG_EXIT_PORT, 0);
	tiny_say(t, "tiny: poweroff did not stop the machine; halting");
	io_halt_forever();
}

static __attribute__((noreturn)) void tiny_reboot(struct tiny *t)
{
	static const struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) no_idt = { 0, 0 };

	tiny_say(t, "tiny: rebooting");
	io_outb(PLAT_ACPI_RESET_PORT, PLAT_ACPI_RESET_VALUE);
	io_outb(PLAT_I8042_CMD, 0xfe);
	/* Last resort on machines with neither: a triple fault resets a PC.
	 * (The local nested KVM reports an emulation failure instead.) */
	__asm__ volatile("lidt %0; int3" : : "m"(no_idt));
	io_halt_forever();
}

static void tiny_help(struct tiny *t)
{
	tiny_say(t, "commands:");
	tiny_say(t, "  echo TEXT    print TEXT");
	tiny_say(t, "  compute N    sum of the primes below N (N <= 1000000)");
	tiny_say(t, "  count        add one to a counter and print it");
	tiny_say(t, "  uptime       microseconds since the VMM started (PV clock)");
	tiny_say(t, "  poweroff     ACPI S5 (QEMU: isa-debug-exit)");
	tiny_say(t, "  reboot       ACPI reset register, then i8042 reset");
	tiny_say(t, "  help         this list");
}

/* Run one submitted line (NUL-terminated, printable ASCII only). */
static void tiny_run(struct tiny *t, char *line)
{
	char *cmd = line, *arg;
	uint64_t v;

	while (*cmd == ' ')
		cmd++;
	if (!*cmd)
		return;
	for (arg = cmd; *arg && *arg != ' '; arg++)
		;
	if (*arg)
		*arg++ = '\0';

	if (tiny_streq(cmd, "echo")) {
		tiny_say(t, arg);
	} else if (tiny_streq(cmd, "compute")) {
		while (*arg == ' ')
			arg++;
		for (line = arg; *line && *line != ' '; line++)
			;
		*line = '\0'; /* ignore anything after N */
		if (!tiny_parse_u64(arg, TINY_COMPUTE_MAX, &v)) {
			tiny_say(t, "tiny: usage: compute N (0 <= N <= 1000000)");
			return;
		}
		uart_puts(&t->uart, "compute ");
		uart_put_u64(&t->uart, v);
		uart_puts(&t->uart, " = ");
		uart_put_u64(&t->uart, tiny_sum_primes_below(v));
		uart_nl(&t->uart);
	} else if (tiny_streq(cmd, "count")) {
		t->count++;
		uart_puts(&t->uart, "count = ");
		uart_put_u64(&t->uart, t->count);
		uart_nl(&t->uart);
	} else if (tiny_streq(cmd, "uptime")) {
		if (tiny_clock_us(t, &v)) {
			uart_puts(&t->uart, "uptime_us = ");
			uart_put_u64(&t->uart, v);
			uart_nl(&t->uart);
		} else {
			uart_puts(&t->uart, "uptime_us = n/a (no PV clock), tsc = ");
			uart_put_u64(&t->uart, io_rdtsc());
			uart_nl(&t->uart);
		}
	} else if (tiny_streq(cmd, "poweroff")) {
		tiny_poweroff(t);
	} else if (tiny_streq(cmd, "reboot")) {
		tiny_reboot(t);
	} else if (tiny_streq(cmd, "help")) {
		tiny_help(t);
	} else {
		uart_puts(&t->uart, "tiny: unknown command '");
		uart_puts(&t->uart, cmd);
		tiny_say(t, "' (try help)");
	}
}

/* Feed one received byte to the line editor; runs the line on Enter.
 * Anything that is not printable ASCII, Tab, Backspace/DEL, CR or LF is
 * dropped; a line longer than the buffer is discarded whole. */
static void tiny_input(struct tiny *t, int c)
{
	bool cr = c == '\r';
	char ch;

	if (c == '\n' && t->last_cr) {
		t->last_cr = false;
		return;
	}
	t->last_cr = cr;
	if (cr || c == '\n') {
		uart_nl(&t->uart);
		if (t->overflow) {
			tiny_say(t, "tiny: line too long (max 127 bytes), ignored");
		} else {
			t->line[t->len] = '\0';
			tiny_run(t, t->line);
		}
		t->len = 0;
		t->overflow = false;
		uart_puts(&t->uart, "tiny> ");
		return;
	}
	if (c == 0x08 || c == 0x7f) {
		if (t->len > 0 && !t->overflow) {
			t->len--;
			uart_write(&t->uart, "\b \b", 3);
		}
		return;
	}
	if (c == '\t')
		c = ' ';
	if (c < 0x20 || c > 0x7e)
		return;
	if (t->overflow)
		return;
	if (t->len >= TINY_LINE_MAX - 1) {
		t->overflow = true;
		return;
	}
	ch = (char)c;
	t->line[t->len++] = ch;
	uart_write(&t->uart, &ch, 1);
}

/* Sleep in the VMM until input or an event is pending, then act on events. */
static void tiny_idle(struct tiny *t)
{
	uint32_t ev;

	if (!t->pv) {
		/* No PV ports (QEMU): nothing to sleep on without interrupts. */
		io_pause();
		return;
	}
	io_outl(PLAT_PV_IDLE, 0);
	ev = io_inl(PLAT_PV_EVENTS);
	if (ev & PLAT_PV_EV_SHUTDOWN) {
		uart_nl(&t->uart);
		tiny_say(t, "tiny: shutdown requested");
		tiny_poweroff(t);
	}
	if (ev & PLAT_PV_EV_REBOOT) {
		uart_nl(&t->uart);
		tiny_say(t, "tiny: reboot requested");
		tiny_reboot(t);
	}
}

void tiny_main(enum tiny_boot_mode mode)
{
	struct tiny t;
	uint64_t boot_us = 0;
	int c;

	t.mode = mode;
	t.count = 0;
	t.len = 0;
	t.overflow = false;
	t.last_cr = false;
	uart_init(&t.uart, PLAT_COM1_PORT); /* first: it resets the receive FIFO */
	/* Without the haneul PV ports a read floats to all ones; CLOCK_HI can
	 * never legitimately be that (2^32 * 2^32 us). */
	t.pv = io_inl(PLAT_PV_CLOCK_HI) != TINY_ALL_ONES;

	uart_nl(&t.uart);
	uart_puts(&t.uart, "haneul tiny guest " TINY_VERSION " (entry ");
	uart_puts(&t.uart, mode == TINY_BOOT_PVH ? "pvh" : "elf64");
	uart_puts(&t.uart, t.pv ? ", haneul pv ports" : ", no pv ports");
	uart_puts(&t.uart, t.uart.burst > 1 ? ", uart fifo)" : ", uart no fifo)");
	uart_nl(&t.uart);

	if (tiny_clock_us(&t, &boot_us)) {
		uart_puts(&t.uart, "tiny: boot time ");
		uart_put_u64(&t.uart, boot_us);
		tiny_say(&t, " us since VMM start (pv clock)");
	} else {
		uart_puts(&t.uart, "tiny: boot time n/a (no pv clock), tsc = ");
		uart_put_u64(&t.uart, io_rdtsc());
		uart_nl(&t.uart);
	}
	uart_puts(&t.uart, "haneul-ready tiny boot_us=");
	uart_put_u64(&t.uart, boot_us);
	uart_nl(&t.uart);
	if (t.pv)
		io_outl(PLAT_PV_READY, 1);
	uart_puts(&t.uart, "tiny> ");

	for (;;) {
		c = uart_getc(&t.uart);
		if (c >= 0)
			tiny_input(&t, c);
		else
			tiny_idle(&t);
	}
}
