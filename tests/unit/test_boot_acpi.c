/* tests/unit/test_boot_acpi.c - ACPI tables (checksums, FADT fields, DSDT
 * _S5_ and devices, MADT CPUs) and the MP table, for 1, 2 and 32 vCPUs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/boot/acpi.h"
#include "vmm/boot/bootutil.h"
#include "vmm/boot/mptable.h"
#include "vmm/mem.h"
#include "vmm/platform.h"

static const uint8_t *gp(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	const uint8_t *p = mem_ptr(gm, gpa, len);

	assert_non_null(p);
	return p;
}

/* A table at gpa: inside the ACPI area, checksum correct; returns it. */
static const uint8_t *table_at(const struct guest_mem *gm, uint64_t gpa, const char *sig)
{
	const uint8_t *t = gp(gm, gpa, 36);
	uint32_t len = bootu_rd32(t + 4);

	assert_memory_equal(t, sig, 4);
	assert_true(gpa >= PLAT_ACPI_ADDR && gpa + len <= PLAT_ACPI_END);
	assert_int_equal(bootu_sum8(gp(gm, gpa, len), len), 0);
	return t;
}

struct tables {
	const uint8_t *rsdp, *xsdt, *fadt, *dsdt, *madt;
};

static void find_tables(const struct guest_mem *gm, uint64_t rsdp_gpa, struct tables *t)
{
	uint32_t n;

	assert_int_equal(rsdp_gpa, PLAT_ACPI_ADDR);
	t->rsdp = gp(gm, rsdp_gpa, 36);
	assert_memory_equal(t->rsdp, "RSD PTR ", 8);
	assert_int_equal(t->rsdp[15], 2);
	assert_int_equal(bootu_sum8(t->rsdp, 20), 0);
	assert_int_equal(bootu_sum8(t->rsdp, 36), 0);
	assert_int_equal(bootu_rd32(t->rsdp + 20), 36);
	t->xsdt = table_at(gm, bootu_rd64(t->rsdp + 24), "XSDT");
	n = (bootu_rd32(t->xsdt + 4) - 36) / 8;
	t->fadt = t->madt = NULL;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t a = bootu_rd64(t->xsdt + 36 + 8 * i);
		const uint8_t *h = gp(gm, a, 4);

		if (!memcmp(h, "FACP", 4))
			t->fadt = table_at(gm, a, "FACP");
		else if (!memcmp(h, "APIC", 4))
			t->madt = table_at(gm, a, "APIC");
		else
			fail_msg("unexpected table %.4s", (const char *)h);
	}
	assert_non_null(t->fadt);
	assert_non_null(t->madt);
	t->dsdt = table_at(gm, bootu_rd64(t->fadt + ACPI_FADT_OFF_X_DSDT), "DSDT");
}

static bool contains(const uint8_t *hay, size_t n, const void *needle, size_t m)
{
	return memmem(hay, n, needle, m) != NULL;
}

static size_t count(const uint8_t *hay, size_t n, const void *needle, size_t m)
{
	size_t c = 0;

	for (const uint8_t *p = hay; (p = memmem(p, n - (size_t)(p - hay), needle, m)); p++)
		c++;
	return c;
}

static void check_gas_io(const uint8_t *g, uint16_t port)
{
	assert_int_equal(g[0], 1);          /* SystemIO */
	assert_int_equal(g[1], 8);
	assert_int_equal(g[3], 1);          /* byte access */
	assert_int_equal(bootu_rd64(g + 4), port);
}

static void check_vcpus(unsigned int nr)
{
	struct guest_mem gm;
	struct tables t;
	uint64_t rsdp = 0;
	char err[256] = "";
	const uint8_t *e, *end;
	unsigned int lapics = 0, ioapics = 0, isos = 0;
	static const uint8_t s5[] = { 0x08, '_', 'S', '5', '_', 0x12, 0x07, 0x04,
				      0x0a, 0x05, 0x00, 0x00, 0x00 };

	assert_int_equal(mem_init(&gm, 16ULL << 20), 0);
	assert_int_equal(acpi_write(&gm, &(struct acpi_cfg){ .nr_vcpus = nr }, &rsdp,
				    err, sizeof(err)), 0);
	find_tables(&gm, rsdp, &t);

	/* FADT */
	assert_int_equal(bootu_rd32(t.fadt + 4), ACPI_FADT_LEN);
	assert_int_equal(t.fadt[8], 6);
	assert_int_equal(t.fadt[ACPI_FADT_OFF_MINOR], 5);
	assert_true(bootu_rd32(t.fadt + ACPI_FADT_OFF_FLAGS) & ACPI_FADT_HW_REDUCED);
	assert_true(bootu_rd32(t.fadt + ACPI_FADT_OFF_FLAGS) & ACPI_FADT_RESET_REG_SUP);
	assert_true(bootu_rd16(t.fadt + ACPI_FADT_OFF_BOOT_ARCH) & ACPI_BOOT_ARCH_8042);
	assert_int_equal(bootu_rd16(t.fadt + ACPI_FADT_OFF_SCI_INT), PLAT_ACPI_SCI_IRQ);
	check_gas_io(t.fadt + ACPI_FADT_OFF_RESET_REG, PLAT_ACPI_RESET_PORT);
	assert_int_equal(t.fadt[ACPI_FADT_OFF_RESET_VAL], PLAT_ACPI_RESET_VALUE);
	check_gas_io(t.fadt + ACPI_FADT_OFF_SLEEP_CTL, PLAT_ACPI_SLEEP_CTRL);
	check_gas_io(t.fadt + ACPI_FADT_OFF_SLEEP_STS, PLAT_ACPI_SLEEP_STATUS);

	/* DSDT: the _S5_ package and the legacy devices */
	assert_true(contains(t.dsdt, bootu_rd32(t.dsdt + 4), s5, sizeof(s5)));
	assert_true(contains(t.dsdt, bootu_rd32(t.dsdt + 4), "COM1", 4));
	assert_true(contains(t.dsdt, bootu_rd32(t.dsdt + 4), "\x0c\x41\xd0\x05\x01", 5));
	assert_true(contains(t.dsdt, bootu_rd32(t.dsdt + 4), "\x0c\x41\xd0\x03\x03", 5));

	/* MADT */
	assert_int_equal(bootu_rd32(t.madt + 36), PLAT_LAPIC_ADDR);
	assert_int_equal(bootu_rd32(t.madt + 40) & 1, 1);     /* PCAT_COMPAT */
	end = t.madt + bootu_rd32(t.madt + 4);
	for (e = t.madt + 44; e < end; e += e[1]) {
		assert_true(e[1] >= 2 && e + e[1] <= end);
		switch (e[0]) {
		case 0:
			assert_int_equal(e[2], lapics);           /* UID */
			assert_int_equal(e[3], lapics);           /* APIC id = index */
			assert_int_equal(bootu_rd32(e + 4), 1);   /* enabled */
			lapics++;
			break;
		case 1:
			assert_int_equal(e[2], nr);
			assert_int_equal(bootu_rd32(e + 4), PLAT_IOAPIC_ADDR);
			assert_int_equal(bootu_rd32(e + 8), 0);
			ioapics++;
			break;
		case 2:
			isos++;
			break;
		}
	}
	assert_ptr_equal(e, end);
	assert_int_equal(lapics, nr);
	assert_int_equal(ioapics, 1);
	assert_int_equal(isos, 0);       /* identity routing, see docs/boot.md */
	mem_free(&gm);
}

static void test_acpi_1_vcpu(void **state) { (void)state; check_vcpus(1); }
static void test_acpi_2_vcpus(void **state) { (void)state; check_vcpus(2); }
static void test_acpi_32_vcpus(void **state) { (void)state; check_vcpus(32); }

static void test_acpi_virtio_mmio_devices(void **state)
{
	struct boot_virtio_mmio devs[BOOT_MAX_VIRTIO_MMIO];
	struct guest_mem gm;
	struct tables t;
	uint64_t rsdp = 0;
	char err[256] = "";
	uint8_t mem32[12] = { 0x86, 0x09, 0x00, 0x01 }, irq[9] = { 0x89, 0x06, 0x00, 0x03, 0x01 };
	uint32_t dlen;

	(void)state;
	for (unsigned int i = 0; i < BOOT_MAX_VIRTIO_MMIO; i++)
		devs[i] = (struct boot_virtio_mmio){ 0xd0000000ULL + i * 0x1000, 0x200, 5 + i % 18 };
	assert_int_equal(mem_init(&gm, 16ULL << 20), 0);
	assert_int_equal(acpi_write(&gm, &(struct acpi_cfg){ .nr_vcpus = 4,
		.virtio_mmio = devs, .nr_virtio_mmio = BOOT_MAX_VIRTIO_MMIO }, &rsdp,
		err, sizeof(err)), 0);
	find_tables(&gm, rsdp, &t);
	dlen = bootu_rd32(t.dsdt + 4);
	assert_int_equal(count(t.dsdt, dlen, "LNRO0005", 8), BOOT_MAX_VIRTIO_MMIO);
	assert_true(contains(t.dsdt, dlen, "VR31", 4));
	bootu_wr32(mem32 + 4, 0xd001f000);
	bootu_wr32(mem32 + 8, 0x200);
	assert_true(contains(t.dsdt, dlen, mem32, sizeof(mem32)));
	bootu_wr32(irq + 5, 5 + 31 % 18);
	assert_true(contains(t.dsdt, dlen, irq, sizeof(irq)));
	/* The \_SB scope follows the 13-byte _S5_ and runs to the end; with 32
	 * devices its PkgLength takes 2 bytes (lead byte bits 7-6 = 01). */
	{
		const uint8_t *sc = t.dsdt + 36 + 13;
		uint32_t pkg;

		assert_int_equal(sc[0], 0x10);
		assert_int_equal(sc[1] >> 6, 1);
		pkg = (sc[1] & 0xf) | (uint32_t)sc[2] << 4;
		assert_int_equal(pkg, dlen - 36 - 13 - 1);
		assert_memory_equal(sc + 3, "\\_SB_", 5);
	}
	mem_free(&gm);
}

/* Hotplug (vmm/virtio/vbus.c): every slot in a container with _STA/_EJ0,
 * the GED with _EVT, the register fields; and iasl accepts the AML. */
static void test_acpi_virtio_hotplug(void **state)
{
	struct boot_virtio_mmio devs[PLAT_VIRTIO_MMIO_SLOTS];
	struct boot_hotplug hp = { PLAT_HOTPLUG_ADDR, PLAT_HOTPLUG_GSI };
	struct guest_mem gm;
	struct tables t;
	uint64_t rsdp = 0;
	char err[256] = "";
	uint32_t dlen;

	(void)state;
	for (unsigned int i = 0; i < PLAT_VIRTIO_MMIO_SLOTS; i++)
		devs[i] = (struct boot_virtio_mmio){ PLAT_VIRTIO_MMIO_BASE + i * 0x1000, 0x1000,
						     PLAT_VIRTIO_GSI_BASE + i % PLAT_VIRTIO_GSI_COUNT };
	assert_int_equal(mem_init(&gm, 16ULL << 20), 0);
	assert_int_equal(acpi_write(&gm, &(struct acpi_cfg){ .nr_vcpus = 2, .virtio_mmio = devs,
		.nr_virtio_mmio = PLAT_VIRTIO_MMIO_SLOTS, .hotplug = &hp }, &rsdp, err, sizeof(err)), 0);
	find_tables(&gm, rsdp, &t);
	dlen = bootu_rd32(t.dsdt + 4);
	assert_int_equal(count(t.dsdt, dlen, "LNRO0005", 8), PLAT_VIRTIO_MMIO_SLOTS);
	assert_int_equal(count(t.dsdt, dlen, "_STA", 4), PLAT_VIRTIO_MMIO_SLOTS);
	assert_int_equal(count(t.dsdt, dlen, "_EJ0", 4), PLAT_VIRTIO_MMIO_SLOTS);
	assert_true(contains(t.dsdt, dlen, "ACPI0013", 8));
	assert_true(contains(t.dsdt, dlen, "ACPI0004", 8));
	assert_true(contains(t.dsdt, dlen, "_EVT", 4));
	assert_true(contains(t.dsdt, dlen, "HPPR", 4));
	/* iasl, when installed, must disassemble it without errors. */
	if (system("command -v iasl >/dev/null 2>&1") == 0) {
		FILE *fp = fopen("/tmp/haneul-test-dsdt.aml", "wb");
		int rc;

		assert_non_null(fp);
		assert_int_equal(fwrite(t.dsdt, 1, dlen, fp), dlen);
		fclose(fp);
		rc = system("cd /tmp && iasl -d haneul-test-dsdt.aml >/tmp/haneul-test-iasl.log 2>&1 && "
			    "! grep -qiE '^(Error|Warning)' /tmp/haneul-test-iasl.log && "
			    "grep -q 'ACPI0013' haneul-test-dsdt.dsl && grep -q 'Notify (VIOC, Zero)' "
			    "haneul-test-dsdt.dsl");
		assert_int_equal(rc, 0);
	}
	/* A register block above 4 GiB or a GSI beyond the IOAPIC: refused. */
	hp.gsi = 24;
	assert_int_equal(acpi_write(&gm, &(struct acpi_cfg){ .nr_vcpus = 2, .virtio_mmio = devs,
		.nr_virtio_mmio = 1, .hotplug = &hp }, &rsdp, err, sizeof(err)), -EINVAL);
	mem_free(&gm);
}

static void test_acpi_refuses_bad_cfg(void **state)
{
	struct boot_virtio_mmio dev = { 0xd0000000ULL, 0x200, 24 };
	struct guest_mem gm;
	uint64_t rsdp = 0;
	char err[256] = "";

	(void)state;
	assert_int_equal(mem_init(&gm, 16ULL << 20), 0);
	assert_int_equal(acpi_write(&gm, &(struct acpi_cfg){ .nr_vcpus = 0 }, &rsdp,
				    err, sizeof(err)), -EINVAL);
	assert_int_equal(acpi_write(&gm, &(struct acpi_cfg){ .nr_vcpus = 33 }, &rsdp,
				    err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "vcpus"));
	assert_int_equal(acpi_write(&gm, &(struct acpi_cfg){ .nr_vcpus = 1, .virtio_mmio = &dev,
				    .nr_virtio_mmio = 1 }, &rsdp, err, sizeof(err)), -EINVAL);
	dev = (struct boot_virtio_mmio){ 0xfffff000ULL, 0x2000, 5 };
	assert_int_equal(acpi_write(&gm, &(struct acpi_cfg){ .nr_vcpus = 1, .virtio_mmio = &dev,
				    .nr_virtio_mmio = 1 }, &rsdp, err, sizeof(err)), -EINVAL);
	assert_int_equal(acpi_write(&gm, &(struct acpi_cfg){ .nr_vcpus = 1, .virtio_mmio = &dev,
				    .nr_virtio_mmio = 33 }, &rsdp, err, sizeof(err)), -EINVAL);
	/* nothing written */
	assert_int_equal(*gp(&gm, PLAT_ACPI_ADDR, 1), 0);
	mem_free(&gm);
}

static void check_mptable(unsigned int nr)
{
	struct guest_mem gm;
	const uint8_t *mpf, *mpc, *e;
	unsigned int cpus = 0, intsrc = 0, lint = 0, buses = 0, ioapics = 0;
	uint16_t len, n;

	assert_int_equal(mem_init(&gm, 16ULL << 20), 0);
	assert_int_equal(mptable_write(&gm, nr), 0);
	mpf = gp(&gm, PLAT_MPTABLE_ADDR, 16);
	assert_memory_equal(mpf, "_MP_", 4);
	assert_int_equal(mpf[8], 1);
	assert_int_equal(mpf[9], 4);
	assert_int_equal(bootu_sum8(mpf, 16), 0);
	mpc = gp(&gm, bootu_rd32(mpf + 4), 44);
	assert_memory_equal(mpc, "PCMP", 4);
	len = bootu_rd16(mpc + 4);
	n = bootu_rd16(mpc + 34);
	assert_true(bootu_rd32(mpf + 4) + len <= PLAT_EBDA_END);
	assert_int_equal(16 + len, mptable_size(nr));
	assert_int_equal(bootu_sum8(gp(&gm, bootu_rd32(mpf + 4), len), len), 0);
	assert_int_equal(bootu_rd32(mpc + 36), PLAT_LAPIC_ADDR);
	e = mpc + 44;
	for (unsigned int i = 0; i < n; i++) {
		switch (e[0]) {
		case 0:
			assert_int_equal(e[1], cpus);
			assert_int_equal(e[3], cpus == 0 ? 3 : 1);   /* enabled (+BSP) */
			cpus++;
			e += 20;
			continue;
		case 1: buses++; assert_memory_equal(e + 2, "ISA   ", 6); break;
		case 2: ioapics++; assert_int_equal(e[1], nr);
			assert_int_equal(bootu_rd32(e + 4), PLAT_IOAPIC_ADDR); break;
		case 3:
			assert_int_equal(e[5], intsrc);   /* IRQ n ... */
			assert_int_equal(e[7], intsrc);   /* ... -> pin n */
			assert_int_equal(e[6], nr);
			intsrc++;
			break;
		case 4:
			assert_int_equal(e[1], lint == 0 ? 3 : 1); /* ExtINT, NMI */
			assert_int_equal(e[7], lint);
			lint++;
			break;
		default:
			fail_msg("entry type %u", e[0]);
		}
		e += 8;
	}
	assert_ptr_equal(e, mpc + len);
	assert_int_equal(cpus, nr);
	assert_int_equal(buses, 1);
	assert_int_equal(ioapics, 1);
	assert_int_equal(intsrc, MPTABLE_IRQS);
	assert_int_equal(lint, 2);
	mem_free(&gm);
}

static void test_mptable(void **state)
{
	struct guest_mem gm;

	(void)state;
	check_mptable(1);
	check_mptable(2);
	check_mptable(32);
	assert_int_equal(mem_init(&gm, 16ULL << 20), 0);
	assert_int_equal(mptable_write(&gm, 0), -EINVAL);
	assert_int_equal(mptable_write(&gm, 33), -EINVAL);
	mem_free(&gm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_acpi_1_vcpu),
		cmocka_unit_test(test_acpi_2_vcpus),
		cmocka_unit_test(test_acpi_32_vcpus),
		cmocka_unit_test(test_acpi_virtio_mmio_devices),
		cmocka_unit_test(test_acpi_virtio_hotplug),
		cmocka_unit_test(test_acpi_refuses_bad_cfg),
		cmocka_unit_test(test_mptable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
