/* vmm/boot/acpi.c - see acpi.h.  Tables are assembled in a host buffer the
 * size of the ACPI area, checksummed, then copied into the guest at once. */
#include "vmm/boot/acpi.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/boot/bootutil.h"
#include "vmm/platform.h"

#define ACPI_AREA_SIZE   (PLAT_ACPI_END - PLAT_ACPI_ADDR)
#define ACPI_HDR_LEN     36
#define RSDP_LEN         36
#define OEM_ID           "HANEUL"     /* 6 bytes */
#define OEM_TABLE_ID     "HANEULVM"   /* 8 bytes */
#define CREATOR_ID       "HNUL"
#define ACPI_XSDT_ENTRIES 2          /* FADT, MADT (the DSDT hangs off the FADT) */
#define GAS_SYSTEM_IO    1
#define ACPI_RTC_PORT    0x70         /* vmm/dev/rtc.h RTC_PORT_INDEX, 0x71 data */
#define GAS_ACCESS_BYTE  1

/* ---- a bump allocator over the host copy of the ACPI area ---- */

struct acpi_area {
	uint8_t *buf;    /* ACPI_AREA_SIZE bytes, zeroed */
	size_t used;
};

/* Offset of a new 16-byte aligned table of `len` bytes, or -1 if it does
 * not fit. */
static long area_alloc(struct acpi_area *a, size_t len)
{
	size_t off = (a->used + 15) & ~(size_t)15;

	if (len > ACPI_AREA_SIZE || off > ACPI_AREA_SIZE - len)
		return -1;
	a->used = off + len;
	return (long)off;
}

static void table_header(uint8_t *t, const char sig[4], uint32_t len, uint8_t rev)
{
	memcpy(t, sig, 4);
	bootu_wr32(t + 4, len);
	t[8] = rev;
	/* t[9]: checksum, set last by table_finish() */
	memcpy(t + 10, OEM_ID, 6);
	memcpy(t + 16, OEM_TABLE_ID, 8);
	bootu_wr32(t + 24, 1);              /* OEM revision */
	memcpy(t + 28, CREATOR_ID, 4);
	bootu_wr32(t + 32, 1);              /* creator revision */
}

static void table_finish(uint8_t *t)
{
	t[9] = 0;
	t[9] = bootu_checksum(t, bootu_rd32(t + 4));
}

/* Generic Address Structure: a byte-wide I/O port. */
static void gas_io8(uint8_t *g, uint16_t port)
{
	g[0] = GAS_SYSTEM_IO;
	g[1] = 8;                   /* register bit width */
	g[2] = 0;                   /* bit offset */
	g[3] = GAS_ACCESS_BYTE;
	bootu_wr64(g + 4, port);
}

/* ---- AML, hand-encoded (ACPI 6.5 chapter 20) ---- */

#define AML_ZERO        0x00
#define AML_ONE         0x01
#define AML_NAME        0x08
#define AML_BYTEPREFIX  0x0a
#define AML_WORDPREFIX  0x0b
#define AML_DWORDPREFIX 0x0c
#define AML_STRINGPREFIX 0x0d
#define AML_SCOPE       0x10
#define AML_BUFFER      0x11
#define AML_PACKAGE     0x12
#define AML_EXTPREFIX   0x5b
#define AML_DEVICE      0x82   /* after AML_EXTPREFIX */
#define AML_ROOTCHAR    0x5c   /* '\' */
#define AML_OPREGION    0x80   /* after AML_EXTPREFIX */
#define AML_FIELD       0x81   /* after AML_EXTPREFIX */
#define AML_METHOD      0x14
#define AML_LOCAL0      0x60
#define AML_LOCAL1      0x61
#define AML_STORE       0x70
#define AML_AND         0x7b
#define AML_OR          0x7d
#define AML_NOTIFY      0x86
#define AML_IF          0xa0
#define AML_RETURN      0xa4
#define AML_PKG_RESERVE 4      /* longest PkgLength encoding */

struct aml {
	uint8_t *p;
	size_t len, cap;
	bool overflow;   /* sticky: checked once at the end */
};

static void aml_bytes(struct aml *a, const void *b, size_t n)
{
	if (a->overflow || n > a->cap - a->len) {
		a->overflow = true;
		return;
	}
	memcpy(a->p + a->len, b, n);
	a->len += n;
}

static void aml_byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

/* NameSeg: exactly four characters [A-Z0-9_]. */
static void aml_nameseg(struct aml *a, const char name[4])
{
	aml_bytes(a, name, 4);
}

/* Integer: ZeroOp/OneOp or the shortest Byte/Word/DWord constant. */
static void aml_int(struct aml *a, uint32_t v)
{
	uint8_t b[4];

	if (v <= 1) {
		aml_byte(a, v ? AML_ONE : AML_ZERO);
	} else if (v <= 0xff) {
		aml_byte(a, AML_BYTEPREFIX);
		aml_byte(a, (uint8_t)v);
	} else if (v <= 0xffff) {
		aml_byte(a, AML_WORDPREFIX);
		bootu_wr16(b, (uint16_t)v);
		aml_bytes(a, b, 2);
	} else {
		aml_byte(a, AML_DWORDPREFIX);
		bootu_wr32(b, v);
		aml_bytes(a, b, 4);
	}
}

/* Open a PkgLength-prefixed body: reserve the longest encoding and
 * return where it starts; aml_pkg_end() shrinks it to fit. */
static size_t aml_pkg_begin(struct aml *a)
{
	static const uint8_t zero[AML_PKG_RESERVE];
	size_t at = a->len;

	aml_bytes(a, zero, sizeof(zero));
	return at;
}

/* PkgLength counts itself: 1 byte up to 63 in total, else a lead byte
 * (bits 7-6: following byte count, bits 3-0: low nibble) and 1..3 more
 * bytes with the next 8 bits each. */
static void aml_pkg_end(struct aml *a, size_t at)
{
	size_t body, total, n;

	if (a->overflow)
		return;
	body = a->len - at - AML_PKG_RESERVE;
	for (n = 1; n <= 4; n++) {
		total = body + n;
		if ((n == 1 && total <= 0x3f) || (n > 1 && total < (1ul << (4 + 8 * (n - 1)))))
			break;
	}
	if (n > 4) {
		a->overflow = true;
		return;
	}
	if (n == 1) {
		a->p[at] = (uint8_t)total;
	} else {
		a->p[at] = (uint8_t)(((n - 1) << 6) | (total & 0xf));
		for (size_t i = 1; i < n; i++)
			a->p[at + i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
	}
	memmove(a->p + at + n, a->p + at + AML_PKG_RESERVE, body);
	a->len -= AML_PKG_RESERVE - n;
}

/* EISAID("PNP0501"): three 5-bit letters and four hex digits, stored as
 * the big-endian 32-bit value (0x41d00501 -> bytes 41 d0 05 01). */
static void aml_eisaid(struct aml *a, const char id[7])
{
	uint32_t v = (uint32_t)(id[0] - 0x40) << 26 | (uint32_t)(id[1] - 0x40) << 21 |
		     (uint32_t)(id[2] - 0x40) << 16;
	uint8_t b[4];

	for (int i = 3; i < 7; i++) {
		char c = id[i];

		v |= (uint32_t)(c <= '9' ? c - '0' : c - 'A' + 10) << (4 * (6 - i));
	}
	aml_byte(a, AML_DWORDPREFIX);
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
	aml_bytes(a, b, 4);
}

static void aml_string(struct aml *a, const char *s)
{
	aml_byte(a, AML_STRINGPREFIX);
	aml_bytes(a, s, strlen(s) + 1);
}

/* Name(_CRS, ResourceTemplate(){ res[0..n) EndTag }): a Buffer whose
 * BufferSize counts the descriptors and the 2-byte end tag. */
static void aml_crs(struct aml *a, const uint8_t *res, size_t n)
{
	static const uint8_t end_tag[2] = { 0x79, 0x00 }; /* checksum 0: "valid" */
	size_t pkg;

	aml_byte(a, AML_NAME);
	aml_nameseg(a, "_CRS");
	aml_byte(a, AML_BUFFER);
	pkg = aml_pkg_begin(a);
	aml_int(a, (uint32_t)(n + sizeof(end_tag)));
	aml_bytes(a, res, n);
	aml_bytes(a, end_tag, sizeof(end_tag));
	aml_pkg_end(a, pkg);
}

/* Resource descriptors (ACPI 6.5 section 6.4). */
static size_t res_io(uint8_t *r, uint16_t port, uint8_t len)
{
	r[0] = 0x47;             /* small item, I/O port, 7 bytes follow */
	r[1] = 0x01;             /* 16-bit decode */
	bootu_wr16(r + 2, port); /* minimum */
	bootu_wr16(r + 4, port); /* maximum */
	r[6] = 1;                /* alignment */
	r[7] = len;
	return 8;
}

static size_t res_irq_noflags(uint8_t *r, unsigned int irq)
{
	r[0] = 0x22;             /* small item, IRQ, 2 bytes: edge, active high */
	bootu_wr16(r + 1, (uint16_t)(1u << irq));
	return 3;
}

static size_t res_mem32_fixed(uint8_t *r, uint32_t base, uint32_t len)
{
	r[0] = 0x86;             /* large item, 32-bit fixed memory range */
	bootu_wr16(r + 1, 9);
	r[3] = 0x01;             /* read/write */
	bootu_wr32(r + 4, base);
	bootu_wr32(r + 8, len);
	return 12;
}

static size_t res_ext_irq(uint8_t *r, uint32_t gsi)
{
	r[0] = 0x89;             /* large item, extended interrupt */
	bootu_wr16(r + 1, 6);
	r[3] = 0x03;             /* consumer | edge; active high, exclusive */
	r[4] = 1;                /* one interrupt number */
	bootu_wr32(r + 5, gsi);
	return 9;
}

static void aml_device_begin(struct aml *a, const char name[4], size_t *pkg)
{
	aml_byte(a, AML_EXTPREFIX);
	aml_byte(a, AML_DEVICE);
	*pkg = aml_pkg_begin(a);
	aml_nameseg(a, name);
}

static void aml_method_begin(struct aml *a, const char name[4], uint8_t flags, size_t *pkg)
{
	aml_byte(a, AML_METHOD);
	*pkg = aml_pkg_begin(a);
	aml_nameseg(a, name);
	aml_byte(a, flags);          /* bits 0-2: argument count, bit 3: serialized */
}

/* Hotplug registers (boot.h, struct boot_hotplug):
 *   OperationRegion (HPRG, SystemMemory, reg_addr, 16)
 *   Field (HPRG, DWordAcc, NoLock, Preserve) { HPPR, 32, HPIN, 32, HPEJ, 32, HPEX, 32 } */
static void aml_hotplug_regs(struct aml *a, const struct boot_hotplug *hp)
{
	static const char fields[4][4] = { { 'H', 'P', 'P', 'R' }, { 'H', 'P', 'I', 'N' },
					   { 'H', 'P', 'E', 'J' }, { 'H', 'P', 'E', 'X' } };
	size_t pkg;

	aml_byte(a, AML_EXTPREFIX);
	aml_byte(a, AML_OPREGION);
	aml_nameseg(a, "HPRG");
	aml_byte(a, 0x00);           /* SystemMemory */
	aml_int(a, (uint32_t)hp->reg_addr);
	aml_int(a, 16);
	aml_byte(a, AML_EXTPREFIX);
	aml_byte(a, AML_FIELD);
	pkg = aml_pkg_begin(a);
	aml_nameseg(a, "HPRG");
	aml_byte(a, 0x03);           /* DWordAcc, NoLock, Preserve */
	for (int i = 0; i < 4; i++) {
		aml_nameseg(a, fields[i]);
		aml_byte(a, 32);     /* field width in bits (a 1-byte PkgLength) */
	}
	aml_pkg_end(a, pkg);
}

/* Per slot n with hotplug:
 *   Method (_STA) { If (And (HPPR, 1 << n)) { Return (0x0F) } Return (Zero) }
 *   Method (_EJ0, 1) { Store (n, HPEX) } */
static void aml_slot_methods(struct aml *a, unsigned int n)
{
	size_t m, i;

	aml_method_begin(a, "_STA", 0, &m);
	aml_byte(a, AML_IF);
	i = aml_pkg_begin(a);
	aml_byte(a, AML_AND);
	aml_nameseg(a, "HPPR");
	aml_int(a, 1u << n);
	aml_byte(a, AML_ZERO);       /* no target */
	aml_byte(a, AML_RETURN);
	aml_int(a, 0x0f);            /* present, enabled, shown, functioning */
	aml_pkg_end(a, i);
	aml_byte(a, AML_RETURN);
	aml_byte(a, AML_ZERO);
	aml_pkg_end(a, m);

	aml_method_begin(a, "_EJ0", 1, &m);
	aml_byte(a, AML_STORE);
	aml_int(a, n);
	aml_nameseg(a, "HPEX");
	aml_pkg_end(a, m);
}

/* The Generic Event Device (evged.c in Linux):
 *   Device (GED_) { _HID "ACPI0013", _UID 0, _CRS { Interrupt (Edge, High) {gsi} }
 *     Method (_EVT, 1, Serialized) {
 *       Store (HPIN, Local0)  Store (HPEJ, Local1)        // read-to-clear
 *       If (Or (Local0, Local1)) { Notify (VIOC, 0) }     // bus check
 *   } }
 * A bus check on the container makes Linux re-read every child's _STA:
 * new ones are enumerated (the virtio-mmio driver probes them), vanished
 * ones are trimmed.  Notify on a LNRO0005 device itself would do nothing:
 * Linux only acts on hotplug notifications for objects with a scan
 * handler, and the container (ACPI0004) has one. */
static void aml_ged(struct aml *a, const struct boot_hotplug *hp)
{
	uint8_t res[16];
	size_t dev, m, i, n;

	aml_device_begin(a, "GED_", &dev);
	aml_byte(a, AML_NAME);
	aml_nameseg(a, "_HID");
	aml_string(a, "ACPI0013");
	aml_byte(a, AML_NAME);
	aml_nameseg(a, "_UID");
	aml_int(a, 0);
	n = res_ext_irq(res, hp->gsi);
	aml_crs(a, res, n);
	aml_method_begin(a, "_EVT", 0x08 | 1, &m);
	aml_byte(a, AML_STORE);
	aml_nameseg(a, "HPIN");
	aml_byte(a, AML_LOCAL0);
	aml_byte(a, AML_STORE);
	aml_nameseg(a, "HPEJ");
	aml_byte(a, AML_LOCAL1);
	aml_byte(a, AML_IF);
	i = aml_pkg_begin(a);
	aml_byte(a, AML_OR);
	aml_byte(a, AML_LOCAL0);
	aml_byte(a, AML_LOCAL1);
	aml_byte(a, AML_ZERO);
	aml_byte(a, AML_NOTIFY);
	aml_nameseg(a, "VIOC");
	aml_byte(a, AML_ZERO);       /* 0: bus check */
	aml_pkg_end(a, i);
	aml_pkg_end(a, m);
	aml_pkg_end(a, dev);
}

/* The DSDT body.  In ASL:
 *
 *   Name (_S5, Package () { 5, 0, 0, 0 })      // SLP_TYP for poweroff
 *   Scope (\_SB) {
 *     Device (COM1) { _HID EisaId("PNP0501"), _UID 1,
 *                     _CRS { IO(0x3f8, len 8), IRQNoFlags {4} } }
 *     Device (PS2K) { _HID EisaId("PNP0303"),
 *                     _CRS { IO(0x60, 1), IO(0x64, 1), IRQNoFlags {1} } }
 *     Device (RTC_) { _HID EisaId("PNP0B00"), _CRS { IO(0x70, 2) } } // no IRQ: none wired
 *     Device (VRnn) { _HID "LNRO0005", _UID nn, _CCA 1,          // per virtio-mmio
 *                     _CRS { Memory32Fixed(RW, base, size),
 *                            Interrupt(ResourceConsumer, Edge, ActiveHigh, Exclusive) {gsi} } }
 *   }
 */
static void dsdt_body(struct aml *a, const struct acpi_cfg *cfg)
{
	/* 08 '_S5_' 12 07 04 0a 05 00 00 00:
	 * NameOp, NameSeg, PackageOp, PkgLength 7 (itself + NumElements +
	 * 5 bytes of elements), NumElements 4, BytePrefix 5, Zero, Zero, Zero.
	 * Linux's acpi_sleep_prepare(S5) reads element 0 as SLP_TYPa and
	 * writes (5 << 2) | SLP_EN to the FADT's sleep control register. */
	static const uint8_t s5[] = { AML_NAME, '_', 'S', '5', '_', AML_PACKAGE, 0x07, 0x04,
				      AML_BYTEPREFIX, PLAT_ACPI_S5_TYP, AML_ZERO, AML_ZERO, AML_ZERO };
	uint8_t res[64];
	size_t scope, dev, n;

	aml_bytes(a, s5, sizeof(s5));

	aml_byte(a, AML_SCOPE);
	scope = aml_pkg_begin(a);
	aml_byte(a, AML_ROOTCHAR);
	aml_nameseg(a, "_SB_");

	aml_device_begin(a, "COM1", &dev);
	aml_byte(a, AML_NAME);
	aml_nameseg(a, "_HID");
	aml_eisaid(a, "PNP0501");
	aml_byte(a, AML_NAME);
	aml_nameseg(a, "_UID");
	aml_int(a, 1);
	n = res_io(res, PLAT_COM1_PORT, 8);
	n += res_irq_noflags(res + n, PLAT_COM1_IRQ);
	aml_crs(a, res, n);
	aml_pkg_end(a, dev);

	aml_device_begin(a, "PS2K", &dev);
	aml_byte(a, AML_NAME);
	aml_nameseg(a, "_HID");
	aml_eisaid(a, "PNP0303");
	n = res_io(res, PLAT_I8042_DATA, 1);
	n += res_io(res + n, PLAT_I8042_CMD, 1);
	n += res_irq_noflags(res + n, PLAT_I8042_IRQ);
	aml_crs(a, res, n);
	aml_pkg_end(a, dev);

	/* Without a legacy PIC, rtc_cmos only binds through PNP; with no IRQ
	 * listed it runs without alarm interrupts, which the RTC lacks. */
	aml_device_begin(a, "RTC_", &dev);
	aml_byte(a, AML_NAME);
	aml_nameseg(a, "_HID");
	aml_eisaid(a, "PNP0B00");
	n = res_io(res, ACPI_RTC_PORT, 2);
	aml_crs(a, res, n);
	aml_pkg_end(a, dev);

	/* With hotplug, the virtio devices live in a container (ACPI0004)
	 * that the GED bus-checks; every slot is there from boot and its
	 * _STA says whether a device is plugged in. */
	size_t vioc = 0;

	if (cfg->hotplug) {
		aml_hotplug_regs(a, cfg->hotplug);
		aml_ged(a, cfg->hotplug);
		aml_device_begin(a, "VIOC", &vioc);
		aml_byte(a, AML_NAME);
		aml_nameseg(a, "_HID");
		aml_string(a, "ACPI0004");
		aml_byte(a, AML_NAME);
		aml_nameseg(a, "_UID");
		aml_int(a, 0);
	}
	for (unsigned int i = 0; i < cfg->nr_virtio_mmio; i++) {
		const struct boot_virtio_mmio *v = &cfg->virtio_mmio[i];
		char name[4] = { 'V', 'R', (char)('0' + i / 10), (char)('0' + i % 10) };

		aml_device_begin(a, name, &dev);
		aml_byte(a, AML_NAME);
		aml_nameseg(a, "_HID");
		aml_string(a, "LNRO0005");
		aml_byte(a, AML_NAME);
		aml_nameseg(a, "_UID");
		aml_int(a, i);
		aml_byte(a, AML_NAME);
		aml_nameseg(a, "_CCA");
		aml_int(a, 1);
		n = res_mem32_fixed(res, (uint32_t)v->addr, (uint32_t)v->size);
		n += res_ext_irq(res + n, v->gsi);
		aml_crs(a, res, n);
		if (cfg->hotplug)
			aml_slot_methods(a, i);
		aml_pkg_end(a, dev);
	}
	if (cfg->hotplug)
		aml_pkg_end(a, vioc);
	aml_pkg_end(a, scope);
}

/* ---- the tables ---- */

static int build_dsdt(struct acpi_area *area, const struct acpi_cfg *cfg, long *off)
{
	struct aml a;
	long o = area_alloc(area, ACPI_HDR_LEN);

	if (o < 0)
		return -E2BIG;
	a = (struct aml){ .p = area->buf + o + ACPI_HDR_LEN,
			  .cap = ACPI_AREA_SIZE - (size_t)o - ACPI_HDR_LEN };
	dsdt_body(&a, cfg);
	if (a.overflow)
		return -E2BIG;
	area->used += a.len;
	table_header(area->buf + o, "DSDT", (uint32_t)(ACPI_HDR_LEN + a.len), 2);
	table_finish(area->buf + o);
	*off = o;
	return 0;
}

static int build_fadt(struct acpi_area *area, uint64_t dsdt_gpa, long *off)
{
	long o = area_alloc(area, ACPI_FADT_LEN);
	uint8_t *f;

	if (o < 0)
		return -E2BIG;
	f = area->buf + o;
	table_header(f, "FACP", ACPI_FADT_LEN, 6);
	bootu_wr16(f + ACPI_FADT_OFF_SCI_INT, PLAT_ACPI_SCI_IRQ);
	/* IA-PC boot architecture: an 8042 is present (Linux keeps its i8042
	 * probe), no VGA.  The CMOS RTC is present (vmm/dev/rtc.c). */
	bootu_wr16(f + ACPI_FADT_OFF_BOOT_ARCH, ACPI_BOOT_ARCH_8042 | ACPI_BOOT_ARCH_NO_VGA);
	/* Hardware-reduced: no PM1/GPE blocks, no SCI, no legacy PIC; sleep
	 * and reset go through the registers below.  The power and sleep
	 * buttons are not fixed-feature buttons. */
	bootu_wr32(f + ACPI_FADT_OFF_FLAGS, ACPI_FADT_HW_REDUCED | ACPI_FADT_RESET_REG_SUP |
		   ACPI_FADT_PWR_BUTTON | ACPI_FADT_SLP_BUTTON);
	gas_io8(f + ACPI_FADT_OFF_RESET_REG, PLAT_ACPI_RESET_PORT);
	f[ACPI_FADT_OFF_RESET_VAL] = PLAT_ACPI_RESET_VALUE;
	f[ACPI_FADT_OFF_MINOR] = 5;        /* FADT 6.5 */
	bootu_wr64(f + ACPI_FADT_OFF_X_DSDT, dsdt_gpa);
	gas_io8(f + ACPI_FADT_OFF_SLEEP_CTL, PLAT_ACPI_SLEEP_CTRL);
	gas_io8(f + ACPI_FADT_OFF_SLEEP_STS, PLAT_ACPI_SLEEP_STATUS);
	memcpy(f + ACPI_FADT_OFF_HV_VENDOR, "HANEULVM", 8);
	table_finish(f);
	*off = o;
	return 0;
}

/* MADT: local APIC address and PCAT_COMPAT, then one Processor Local APIC
 * per vCPU (UID = APIC id = index, enabled), the IOAPIC (id nr_vcpus,
 * GSI base 0) and a Local APIC NMI on LINT1 for all processors.  No
 * Interrupt Source Overrides: KVM's default routing sends GSI n to IOAPIC
 * pin n, and with a hardware-reduced FADT Linux has no legacy PIC, does not
 * use the PIT and never runs check_timer (docs/boot.md). */
static int build_madt(struct acpi_area *area, unsigned int nr_vcpus, long *off)
{
	size_t len = ACPI_HDR_LEN + 8 + 8 * nr_vcpus + 12 + 6;
	long o = area_alloc(area, len);
	uint8_t *m, *e;

	if (o < 0)
		return -E2BIG;
	m = area->buf + o;
	table_header(m, "APIC", (uint32_t)len, 5);
	bootu_wr32(m + 36, (uint32_t)PLAT_LAPIC_ADDR);
	bootu_wr32(m + 40, 1);                 /* PCAT_COMPAT */
	e = m + 44;
	for (unsigned int i = 0; i < nr_vcpus; i++, e += 8) {
		e[0] = 0;                      /* Processor Local APIC */
		e[1] = 8;
		e[2] = (uint8_t)i;             /* ACPI processor UID */
		e[3] = (uint8_t)i;             /* APIC id */
		bootu_wr32(e + 4, 1);          /* enabled */
	}
	e[0] = 1;                              /* I/O APIC */
	e[1] = 12;
	e[2] = (uint8_t)nr_vcpus;              /* IOAPIC id, after the CPUs' */
	e[3] = 0;
	bootu_wr32(e + 4, (uint32_t)PLAT_IOAPIC_ADDR);
	bootu_wr32(e + 8, 0);                  /* GSI base */
	e += 12;
	e[0] = 4;                              /* Local APIC NMI */
	e[1] = 6;
	e[2] = 0xff;                           /* all processors */
	bootu_wr16(e + 3, 0);                  /* bus-conforming polarity/trigger */
	e[5] = 1;                              /* LINT1 */
	table_finish(m);
	*off = o;
	return 0;
}

/* The XSDT goes into a slot reserved before the tables it lists. */
static void fill_xsdt(uint8_t *t, const uint64_t *tables, unsigned int n)
{
	table_header(t, "XSDT", (uint32_t)(ACPI_HDR_LEN + 8 * n), 1);
	for (unsigned int i = 0; i < n; i++)
		bootu_wr64(t + ACPI_HDR_LEN + 8 * i, tables[i]);
	table_finish(t);
}

static void build_rsdp(uint8_t *r, uint64_t xsdt_gpa)
{
	memcpy(r, "RSD PTR ", 8);
	memcpy(r + 9, OEM_ID, 6);
	r[15] = 2;                             /* revision: ACPI 2.0+ */
	bootu_wr32(r + 16, 0);                 /* no RSDT: XSDT only */
	bootu_wr32(r + 20, RSDP_LEN);
	bootu_wr64(r + 24, xsdt_gpa);
	r[8] = bootu_checksum(r, 20);          /* ACPI 1.0 part */
	r[32] = bootu_checksum(r, RSDP_LEN);   /* whole structure */
}

static int check_cfg(const struct acpi_cfg *cfg, char *err, size_t errlen)
{
	if (cfg->nr_vcpus < 1 || cfg->nr_vcpus > BOOT_MAX_VCPUS)
		return bootu_err(err, errlen, -EINVAL, "vcpus: %u is not in 1..%u",
				 cfg->nr_vcpus, BOOT_MAX_VCPUS);
	if (cfg->nr_virtio_mmio > BOOT_MAX_VIRTIO_MMIO ||
	    (cfg->nr_virtio_mmio && !cfg->virtio_mmio))
		return bootu_err(err, errlen, -EINVAL, "virtio-mmio: %u devices (max %u)",
				 cfg->nr_virtio_mmio, BOOT_MAX_VIRTIO_MMIO);
	if (cfg->hotplug && (cfg->nr_virtio_mmio > 32 || cfg->hotplug->reg_addr > MEM_4G - 16 ||
			     cfg->hotplug->gsi >= ACPI_IOAPIC_PINS))
		return bootu_err(err, errlen, -EINVAL,
				 "virtio-mmio hotplug: registers at 0x%llx or GSI %u unusable",
				 (unsigned long long)cfg->hotplug->reg_addr, cfg->hotplug->gsi);
	for (unsigned int i = 0; i < cfg->nr_virtio_mmio; i++) {
		const struct boot_virtio_mmio *v = &cfg->virtio_mmio[i];

		if (v->size == 0 || v->size > MEM_4G || v->addr > MEM_4G - v->size ||
		    v->gsi >= ACPI_IOAPIC_PINS)
			return bootu_err(err, errlen, -EINVAL,
					 "virtio-mmio %u: range 0x%llx+0x%llx or GSI %u unusable "
					 "(must be below 4 GiB, GSI < %u)", i,
					 (unsigned long long)v->addr, (unsigned long long)v->size,
					 v->gsi, ACPI_IOAPIC_PINS);
	}
	return 0;
}

int acpi_write(const struct guest_mem *gm, const struct acpi_cfg *cfg,
	       uint64_t *rsdp_gpa, char *err, size_t errlen)
{
	struct acpi_area area = { 0 };
	long rsdp, xsdt, fadt, dsdt, madt;
	uint64_t tables[ACPI_XSDT_ENTRIES];
	int rc;

	rc = check_cfg(cfg, err, errlen);
	if (rc)
		return rc;
	if (!mem_ptr(gm, PLAT_ACPI_ADDR, ACPI_AREA_SIZE))
		return bootu_err(err, errlen, -EFAULT, "acpi: table area is not guest RAM");
	area.buf = calloc(1, ACPI_AREA_SIZE);
	if (!area.buf)
		return bootu_err(err, errlen, -ENOMEM, "acpi: out of memory");

	/* RSDP first, at PLAT_ACPI_ADDR: 16-aligned inside 0xe0000-0xfffff, so
	 * a kernel that scans for it (acpi_rsdp_addr unset) finds it too. */
	rsdp = area_alloc(&area, RSDP_LEN);
	xsdt = area_alloc(&area, ACPI_HDR_LEN + 8 * ACPI_XSDT_ENTRIES);
	rc = rsdp < 0 || xsdt < 0 ? -E2BIG : 0;
	if (!rc)
		rc = build_dsdt(&area, cfg, &dsdt);
	if (!rc)
		rc = build_fadt(&area, PLAT_ACPI_ADDR + (uint64_t)dsdt, &fadt);
	if (!rc)
		rc = build_madt(&area, cfg->nr_vcpus, &madt);
	if (rc) {
		bootu_err(err, errlen, rc, "acpi: tables do not fit in 0x%llx-0x%llx",
			  PLAT_ACPI_ADDR, PLAT_ACPI_END);
		goto out_free;
	}
	tables[0] = PLAT_ACPI_ADDR + (uint64_t)fadt;
	tables[1] = PLAT_ACPI_ADDR + (uint64_t)madt;
	fill_xsdt(area.buf + xsdt, tables, ACPI_XSDT_ENTRIES);
	build_rsdp(area.buf + rsdp, PLAT_ACPI_ADDR + (uint64_t)xsdt);

	rc = mem_write(gm, PLAT_ACPI_ADDR, area.buf, ACPI_AREA_SIZE);
	if (rc) {
		bootu_err(err, errlen, rc, "acpi: cannot write the tables");
		goto out_free;
	}
	*rsdp_gpa = PLAT_ACPI_ADDR + (uint64_t)rsdp;
out_free:
	free(area.buf);
	return rc;
}
