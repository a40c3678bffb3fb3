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
#include "images/tiny/clock.h"
#include "images/tiny/http.h"
#include "images/tiny/io.h"
#include "images/tiny/net.h"
#include "images/tiny/uart.h"
#include "images/tiny/util.h"
#include "images/tiny/vblk.h"
#include "images/tiny/virtio.h"
#include "images/tiny/vnet.h"

#define TINY_VERSION "2"
#define TINY_LINE_MAX 128             /* input line, including the NUL */
#define TINY_COMPUTE_MAX 1000000ull   /* compute N: N <= this (sieve fits the scratch area) */
#define TINY_DEBUG_EXIT_PORT 0xf4     /* QEMU isa-debug-exit */
#define TINY_ALL_ONES 0xffffffffu     /* what a read of a port nobody emulates returns */
#define TINY_CMDLINE_MAX 2048         /* bytes of the kernel command line we keep (x86 Linux's limit) */
#define TINY_ID_MAX 64                /* haneul.instance_id= value */
#define TINY_NET_IDLE_MS 1000u        /* longest PV IDLE nap while the network is up */
#define ZP_CMD_LINE_PTR 0x228         /* struct boot_params offsets */
#define ZP_EXT_CMD_LINE_PTR 0x0c8
#define PVH_MAGIC 0x336ec578u         /* struct hvm_start_info */
#define PVH_CMDLINE_PADDR 0x18

/* Where virtio-mmio devices may be.  haneul-vmm: the PLAT_VIRTIO_MMIO_*
 * slots of vmm/platform.h; QEMU -M microvm: 0xfeb00000 + n * 0x200. */
#define QEMU_MICROVM_VIRTIO_BASE  0xfeb00000u
#define QEMU_MICROVM_VIRTIO_SIZE  0x200u
#define QEMU_MICROVM_VIRTIO_SLOTS 24u

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

	struct tclock clock;
	struct dma_area dma;       /* the .dma area of tiny.ld */
	char cmdline[TINY_CMDLINE_MAX];
	char instance_id[TINY_ID_MAX];
	uint32_t ip, mask, gw;     /* from ip= / gw= (host byte order); ip 0 = none */
	bool have_blk, have_net, net_up;
	struct vblk blk;
	struct vnet nic;
	struct http_ctx http;
	struct netstack net;
};

/* Linker-script symbols: the scratch area reserved after the stack. */
extern uint8_t tiny_scratch[], tiny_scratch_end[];
extern uint8_t tiny_dma[], tiny_dma_end[];

/* boot: the zero page (elf64 entry, %rsi) or hvm_start_info (PVH, %ebx). */
void tiny_main(enum tiny_boot_mode mode, uint64_t boot) __attribute__((noreturn));

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

/* ---- kernel command line: ip=, gw=, haneul.instance_id= ---- */

/* Copies the command line the boot protocol names into t->cmdline. */
static void tiny_read_cmdline(struct tiny *t, uint64_t boot)
{
	uint64_t p = 0;
	const char *src;
	size_t n;

	t->cmdline[0] = '\0';
	if (!boot || boot >= 0x100000000ull)
		return;
	if (t->mode == TINY_BOOT_PVH) {
		if (*(const uint32_t *)(uintptr_t)boot != PVH_MAGIC)
			return;
		p = *(const uint64_t *)(uintptr_t)(boot + PVH_CMDLINE_PADDR);
	} else {
		p = *(const uint32_t *)(uintptr_t)(boot + ZP_CMD_LINE_PTR) |
		    ((uint64_t)*(const uint32_t *)(uintptr_t)(boot + ZP_EXT_CMD_LINE_PTR) << 32);
	}
	if (!p || p >= 0x100000000ull - TINY_CMDLINE_MAX)
		return; /* none, or outside what our page tables map */
	src = (const char *)(uintptr_t)p;
	n = str_nlen(src, TINY_CMDLINE_MAX - 1);
	memcpy(t->cmdline, src, n);
	t->cmdline[n] = '\0';
}

/* Dotted quad at *s (advanced past it); false if malformed. */
static bool tiny_parse_ip(const char **s, uint32_t *ip)
{
	uint32_t v = 0, part;
	const char *p = *s;

	for (int i = 0; i < 4; i++) {
		if (*p < '0' || *p > '9')
			return false;
		for (part = 0; *p >= '0' && *p <= '9'; p++) {
			part = part * 10 + (uint32_t)(*p - '0');
			if (part > 255)
				return false;
		}
		v = (v << 8) | part;
		if (i < 3 && *p++ != '.')
			return false;
	}
	*s = p;
	*ip = v;
	return true;
}

static uint32_t tiny_prefix_mask(unsigned int bits)
{
	return bits == 0 ? 0 : 0xffffffffu << (32 - bits);
}

/* ip=A.B.C.D[/NN] (default /24) or the kernel's
 * ip=CLIENT:SERVER:GW:NETMASK:...; gw=A.B.C.D; haneul.instance_id=ID. */
static void tiny_parse_cmdline(struct tiny *t)
{
	const char *p = t->cmdline, *v;
	uint32_t a;
	size_t n;

	t->ip = t->gw = 0;
	t->mask = tiny_prefix_mask(24);
	memcpy(t->instance_id, "i-unknown", 10);
	while (*p) {
		while (*p == ' ')
			p++;
		if (starts_with(p, TINY_CMDLINE_MAX, "ip=")) {
			v = p + 3;
			if (tiny_parse_ip(&v, &a)) {
				t->ip = a;
				if (*v == '/') {
					unsigned int bits = 0;

					for (v++; *v >= '0' && *v <= '9' && bits <= 32; v++)
						bits = bits * 10 + (unsigned int)(*v - '0');
					if (bits >= 1 && bits <= 30)
						t->mask = tiny_prefix_mask(bits);
				} else if (*v == ':') { /* CLIENT:SERVER:GW:NETMASK */
					v++;
					while (*v && *v != ':' && *v != ' ')
						v++;
					if (*v == ':' && (v++, tiny_parse_ip(&v, &a)))
						t->gw = a;
					if (*v == ':' && (v++, tiny_parse_ip(&v, &a)) && a)
						t->mask = a;
				}
			}
		} else if (starts_with(p, TINY_CMDLINE_MAX, "gw=")) {
			v = p + 3;
			if (tiny_parse_ip(&v, &a))
				t->gw = a;
		} else if (starts_with(p, TINY_CMDLINE_MAX, "haneul.instance_id=")) {
			v = p + 19;
			for (n = 0; v[n] > ' ' && v[n] < 0x7f && n < TINY_ID_MAX - 1; n++)
				t->instance_id[n] = v[n];
			if (n)
				t->instance_id[n] = '\0';
		}
		while (*p && *p != ' ')
			p++;
	}
}

/* ---- printing helpers ---- */

static void tiny_put_hex(struct tiny *t, uint64_t v, unsigned int digits)
{
	static const char hex[] = "0123456789abcdef";
	char b[16];

	if (digits > 16)
		digits = 16;
	for (unsigned int i = 0; i < digits; i++)
		b[i] = hex[(v >> (4 * (digits - 1 - i))) & 0xf];
	uart_write(&t->uart, b, digits);
}

static void tiny_put_ip(struct tiny *t, uint32_t ip)
{
	for (int i = 3; i >= 0; i--) {
		uart_put_u64(&t->uart, (ip >> (8 * i)) & 0xff);
		if (i)
			uart_write(&t->uart, ".", 1);
	}
}

static void tiny_put_mac(struct tiny *t, const uint8_t *mac)
{
	for (int i = 0; i < 6; i++) {
		tiny_put_hex(t, mac[i], 2);
		if (i < 5)
			uart_write(&t->uart, ":", 1);
	}
}

static unsigned int tiny_mask_bits(uint32_t mask)
{
	unsigned int n = 0;

	while (mask & 0x80000000u) {
		n++;
		mask <<= 1;
	}
	return n;
}

/* ---- virtio devices ---- */

static void tiny_attach(struct tiny *t, uintptr_t base)
{
	struct vdev d;
	int r;

	if (!virtio_probe(&d, base))
		return;
	if (d.device_id == VIRTIO_ID_BLOCK && !t->have_blk) {
		char serial[VBLK_SERIAL_LEN + 1];

		r = vblk_init(&t->blk, &d, &t->dma, &t->clock, t->pv);
		uart_puts(&t->uart, "virtio: blk at 0x");
		tiny_put_hex(t, base, 8);
		if (r < 0) {
			uart_puts(&t->uart, " failed: ");
			uart_put_u64(&t->uart, (uint64_t)-r);
			uart_nl(&t->uart);
			return;
		}
		t->have_blk = true;
		uart_puts(&t->uart, " capacity ");
		uart_put_u64(&t->uart, t->blk.capacity);
		uart_puts(&t->uart, " sectors serial ");
		uart_puts(&t->uart, vblk_serial(&t->blk, serial) == 0 && serial[0] ? serial : "(none)");
		uart_puts(&t->uart, t->blk.ro ? " ro" : " rw");
		uart_nl(&t->uart);
	} else if (d.device_id == VIRTIO_ID_NET && !t->have_net) {
		r = vnet_init(&t->nic, &d, &t->dma);
		uart_puts(&t->uart, "virtio: net at 0x");
		tiny_put_hex(t, base, 8);
		if (r < 0) {
			uart_puts(&t->uart, " failed: ");
			uart_put_u64(&t->uart, (uint64_t)-r);
			uart_nl(&t->uart);
			return;
		}
		t->have_net = true;
		uart_puts(&t->uart, " mac ");
		tiny_put_mac(t, t->nic.mac);
		uart_nl(&t->uart);
	}
}

static void tiny_probe(struct tiny *t)
{
	unsigned int i;

	t->have_blk = t->have_net = false;
	if (t->pv) {
		/* haneul-vmm: its slots only.  Each probe is an MMIO exit, so the
		 * hotplug controller's PRESENT bitmap (one read) says which slots
		 * to look at; all ones = no controller, probe every slot. */
		uint32_t present = *(volatile uint32_t *)(uintptr_t)PLAT_HOTPLUG_ADDR;

		for (i = 0; i < PLAT_VIRTIO_MMIO_SLOTS; i++)
			if (present & (1u << i))
				tiny_attach(t, (uintptr_t)(PLAT_VIRTIO_MMIO_BASE +
							   (uint64_t)i * PLAT_VIRTIO_MMIO_STRIDE));
		return;
	}
	for (i = 0; i < QEMU_MICROVM_VIRTIO_SLOTS; i++)
		tiny_attach(t, QEMU_MICROVM_VIRTIO_BASE + i * QEMU_MICROVM_VIRTIO_SIZE);
}

static void tiny_net_start(struct tiny *t)
{
	t->http.instance_id = t->instance_id;
	t->http.clock = &t->clock;
	t->http.requests = 0;
	t->http.burned_ms = 0;
	t->net_up = false;
	if (!t->have_net)
		return;
	if (!t->ip) {
		tiny_say(t, "net: no ip= on the command line: network stays down");
		return;
	}
	net_init(&t->net, &t->nic, &t->http, t->ip, t->mask, t->gw, tclock_us(&t->clock));
	t->net_up = true;
	uart_puts(&t->uart, "net: ip ");
	tiny_put_ip(t, t->ip);
	uart_puts(&t->uart, "/");
	uart_put_u64(&t->uart, tiny_mask_bits(t->mask));
	uart_puts(&t->uart, " gw ");
	tiny_put_ip(t, t->gw);
	uart_puts(&t->uart, " instance ");
	uart_puts(&t->uart, t->instance_id);
	uart_puts(&t->uart, " http :80 clock ");
	uart_puts(&t->uart, tclock_name(&t->clock));
	uart_nl(&t->uart);
}

/* ---- blk / net commands ---- */

static void tiny_blk_err(struct tiny *t, const char *what, int r)
{
	uart_puts(&t->uart, "blk: ");
	uart_puts(&t->uart, what);
	uart_puts(&t->uart, r == -1 ? " failed: sector out of range or read-only"
			  : r == -3 ? " failed: timeout" : " failed: device error");
	uart_nl(&t->uart);
}

/* Next space-separated word of *p (NUL-terminated in place). */
static char *tiny_word(char **p)
{
	char *w = *p, *e;

	while (*w == ' ')
		w++;
	for (e = w; *e && *e != ' '; e++)
		;
	if (*e)
		*e++ = '\0';
	*p = e;
	return w;
}

static void tiny_cmd_blk(struct tiny *t, char *arg)
{
	char *sub = tiny_word(&arg), *num, serial[VBLK_SERIAL_LEN + 1];
	uint64_t sector;
	size_t n, i;
	int r;

	if (!t->have_blk) {
		tiny_say(t, "blk: no virtio-blk device");
		return;
	}
	if (tiny_streq(sub, "info")) {
		r = vblk_serial(&t->blk, serial);
		uart_puts(&t->uart, "blk: capacity=");
		uart_put_u64(&t->uart, t->blk.capacity);
		uart_puts(&t->uart, " sectors ro=");
		uart_puts(&t->uart, t->blk.ro ? "1" : "0");
		uart_puts(&t->uart, " flush=");
		uart_puts(&t->uart, t->blk.flush ? "1" : "0");
		uart_puts(&t->uart, " serial=");
		uart_puts(&t->uart, r == 0 ? serial : "");
		uart_nl(&t->uart);
		return;
	}
	num = tiny_word(&arg);
	if ((!tiny_streq(sub, "read") && !tiny_streq(sub, "write")) ||
	    !tiny_parse_u64(num, ~0ull, &sector)) {
		tiny_say(t, "blk: usage: blk info | blk read SECTOR | blk write SECTOR TEXT");
		return;
	}
	if (tiny_streq(sub, "read")) {
		r = vblk_read(&t->blk, sector);
		if (r < 0) {
			tiny_blk_err(t, "read", r);
			return;
		}
		uart_puts(&t->uart, "blk read ");
		uart_put_u64(&t->uart, sector);
		uart_puts(&t->uart, ": ");
		for (i = 0; i < VBLK_SECTOR && t->blk.buf[i]; i++) {
			uint8_t c = t->blk.buf[i];

			if (c >= 0x20 && c < 0x7f && c != '\\') {
				uart_write(&t->uart, (const char *)&t->blk.buf[i], 1);
			} else {
				uart_puts(&t->uart, "\\x");
				tiny_put_hex(t, c, 2);
			}
		}
		uart_nl(&t->uart);
		return;
	}
	while (*arg == ' ')
		arg++;
	n = str_nlen(arg, VBLK_SECTOR);
	memset(t->blk.buf, 0, VBLK_SECTOR);
	memcpy(t->blk.buf, arg, n);
	r = vblk_write(&t->blk, sector);
	if (r == 0)
		r = vblk_flush(&t->blk);
	if (r < 0) {
		tiny_blk_err(t, "write", r);
		return;
	}
	uart_puts(&t->uart, "blk write ");
	uart_put_u64(&t->uart, sector);
	uart_puts(&t->uart, " ok (");
	uart_put_u64(&t->uart, n);
	tiny_say(t, t->blk.flush ? " bytes, flushed)" : " bytes, no write cache)");
}

static void tiny_cmd_net(struct tiny *t)
{
	const struct net_stats *st = &t->net.st;

	if (!t->have_net) {
		tiny_say(t, "net: no virtio-net device");
		return;
	}
	uart_puts(&t->uart, "net: mac=");
	tiny_put_mac(t, t->nic.mac);
	uart_puts(&t->uart, " ip=");
	tiny_put_ip(t, t->ip);
	uart_puts(&t->uart, "/");
	uart_put_u64(&t->uart, tiny_mask_bits(t->mask));
	uart_puts(&t->uart, " up=");
	uart_puts(&t->uart, t->net_up ? "1" : "0");
	uart_puts(&t->uart, " rx=");
	uart_put_u64(&t->uart, t->nic.rx_frames);
	uart_puts(&t->uart, " tx=");
	uart_put_u64(&t->uart, t->nic.tx_frames);
	uart_puts(&t->uart, " icmp_echo=");
	uart_put_u64(&t->uart, st->icmp_echo);
	uart_puts(&t->uart, " tcp_open=");
	uart_put_u64(&t->uart, t->net_up ? net_tcp_open(&t->net) : 0);
	uart_puts(&t->uart, " accepted=");
	uart_put_u64(&t->uart, st->tcp_accepted);
	uart_puts(&t->uart, " rst_sent=");
	uart_put_u64(&t->uart, st->tcp_rst_sent);
	uart_puts(&t->uart, " retransmits=");
	uart_put_u64(&t->uart, st->tcp_retransmits);
	uart_puts(&t->uart, " bad=");
	uart_put_u64(&t->uart, st->tcp_bad);
	uart_puts(&t->uart, " http=");
	uart_put_u64(&t->uart, t->http.requests);
	uart_nl(&t->uart);
}

/* `userdata`: the haneul.user_data= argument as given (haneuld passes EC2's
 * UserData there, base64), so a test can check the bytes arrived. */
static void tiny_cmd_userdata(struct tiny *t)
{
	const char *p = t->cmdline;
	size_t n;

	while (*p) {
		while (*p == ' ')
			p++;
		if (starts_with(p, TINY_CMDLINE_MAX, "haneul.user_data=")) {
			p += 17;
			for (n = 0; p[n] && p[n] != ' '; n++)
				;
			uart_puts(&t->uart, "userdata: ");
			uart_write(&t->uart, p, n);
			uart_nl(&t->uart);
			return;
		}
		while (*p && *p != ' ')
			p++;
	}
	tiny_say(t, "userdata: none");
}

static void tiny_help(struct tiny *t)
{
	tiny_say(t, "commands:");
	tiny_say(t, "  echo TEXT    print TEXT");
	tiny_say(t, "  compute N    sum of the primes below N (N <= 1000000)");
	tiny_say(t, "  count        add one to a counter and print it");
	tiny_say(t, "  fill MB      dirty MB MiB of RAM above 16 MiB (benchmarks)");
	tiny_say(t, "  uptime       microseconds since the VMM started (PV clock)");
	tiny_say(t, "  poweroff     ACPI S5 (QEMU: isa-debug-exit)");
	tiny_say(t, "  reboot       ACPI reset register, then i8042 reset");
	tiny_say(t, "  blk info | blk read SECTOR | blk write SECTOR TEXT   virtio-blk (write flushes)");
	tiny_say(t, "  net          virtio-net address and counters");
	tiny_say(t, "  cmdline      the kernel command line and the instance id");
	tiny_say(t, "  userdata     the haneul.user_data= value (EC2 user data, base64)");
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
	} else if (tiny_streq(cmd, "fill")) {
		/* bench/hibernate: dirty MB MiB of RAM from 16 MiB up, one
		 * word per 4 KiB page (few emulated instructions, every page
		 * non-zero).  The caller makes sure the guest has that RAM. */
		while (*arg == ' ')
			arg++;
		if (!tiny_parse_u64(arg, 1008, &v)) {
			tiny_say(t, "tiny: usage: fill MB (0 <= MB <= 1008)");
			return;
		}
		for (uint64_t a = 16ull << 20; a < (16ull << 20) + (v << 20); a += 4096)
			*(volatile uint64_t *)(uintptr_t)a = a | 1;
		uart_puts(&t->uart, "fill ");
		uart_put_u64(&t->uart, v);
		tiny_say(t, " MiB done");
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
	} else if (tiny_streq(cmd, "blk")) {
		tiny_cmd_blk(t, arg);
	} else if (tiny_streq(cmd, "cmdline")) {
		uart_puts(&t->uart, "cmdline: ");
		tiny_say(t, t->cmdline);
		uart_puts(&t->uart, "instance_id: ");
		tiny_say(t, t->instance_id);
	} else if (tiny_streq(cmd, "userdata")) {
		tiny_cmd_userdata(t);
	} else if (tiny_streq(cmd, "net")) {
		tiny_cmd_net(t);
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

/* Sleep in the VMM until input or an event is pending (or ms elapse;
 * 0 = no limit), then act on events. */
static void tiny_idle(struct tiny *t, uint32_t ms)
{
	uint32_t ev;

	if (!t->pv) {
		/* No PV ports (QEMU): nothing to sleep on without interrupts. */
		io_pause();
		return;
	}
	io_outl(PLAT_PV_IDLE, ms);
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

/* How long to nap: until the next network timer, at most TINY_NET_IDLE_MS
 * (the VMM also wakes us for a packet); 0 = until input or an event. */
static uint32_t tiny_idle_ms(struct tiny *t, uint64_t now, uint64_t next)
{
	uint64_t ms;

	if (!t->net_up)
		return 0;
	if (!next)
		return TINY_NET_IDLE_MS;
	if (next <= now)
		return 1;
	ms = (next - now + 999) / 1000;
	return ms > TINY_NET_IDLE_MS ? TINY_NET_IDLE_MS : (uint32_t)ms;
}

void tiny_main(enum tiny_boot_mode mode, uint64_t boot)
{
	struct tiny t;
	uint64_t boot_us = 0, now = 0, next = 0;
	bool busy;
	int c;

	t.mode = mode;
	t.count = 0;
	t.len = 0;
	t.overflow = false;
	t.last_cr = false;
	t.net_up = false;
	uart_init(&t.uart, PLAT_COM1_PORT); /* first: it resets the receive FIFO */
	/* Without the haneul PV ports a read floats to all ones; CLOCK_HI can
	 * never legitimately be that (2^32 * 2^32 us). */
	t.pv = io_inl(PLAT_PV_CLOCK_HI) != TINY_ALL_ONES;
	t.dma.next = tiny_dma;
	t.dma.end = tiny_dma_end;
	tclock_init(&t.clock, t.pv, dma_alloc(&t.dma, 64, 64));

	uart_nl(&t.uart);
	uart_puts(&t.uart, "haneul tiny guest " TINY_VERSION " (entry ");
	uart_puts(&t.uart, mode == TINY_BOOT_PVH ? "pvh" : "elf64");
	uart_puts(&t.uart, t.pv ? ", haneul pv ports" : ", no pv ports");
	uart_puts(&t.uart, t.uart.burst > 1 ? ", uart fifo)" : ", uart no fifo)");
	uart_nl(&t.uart);

	tiny_read_cmdline(&t, boot);
	tiny_parse_cmdline(&t);
	tiny_probe(&t);
	tiny_net_start(&t);

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
		busy = false;
		c = uart_getc(&t.uart);
		if (c >= 0) {
			tiny_input(&t, c);
			busy = true;
		}
		if (t.net_up) {
			now = tclock_us(&t.clock);
			busy |= net_poll(&t.net, now);
			next = net_timers(&t.net, now);
		}
		if (!busy)
			tiny_idle(&t, tiny_idle_ms(&t, now, next));
	}
}
