/* vmm/boot/acpi.h - the ACPI tables a stock Linux needs to find its CPUs,
 * its devices, and to power off and reboot: RSDP (rev 2) at PLAT_ACPI_ADDR,
 * then XSDT, FADT (6.5, hardware-reduced), DSDT and MADT, 16-byte aligned,
 * all inside [PLAT_ACPI_ADDR, PLAT_ACPI_END).  docs/boot.md explains the
 * choices (no legacy PIC, no interrupt source overrides). */
#ifndef VMM_BOOT_ACPI_H
#define VMM_BOOT_ACPI_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/boot/boot.h"
#include "vmm/mem.h"

#define ACPI_IOAPIC_PINS 24        /* KVM's in-kernel IOAPIC */

/* FADT offsets and flags that tests and the docs refer to. */
#define ACPI_FADT_LEN            276
#define ACPI_FADT_OFF_SCI_INT    46
#define ACPI_FADT_OFF_BOOT_ARCH  109
#define ACPI_FADT_OFF_FLAGS      112
#define ACPI_FADT_OFF_RESET_REG  116
#define ACPI_FADT_OFF_RESET_VAL  128
#define ACPI_FADT_OFF_MINOR      131
#define ACPI_FADT_OFF_X_DSDT     140
#define ACPI_FADT_OFF_SLEEP_CTL  244
#define ACPI_FADT_OFF_SLEEP_STS  256
#define ACPI_FADT_OFF_HV_VENDOR  268
#define ACPI_FADT_RESET_REG_SUP  (1u << 10)
#define ACPI_FADT_HW_REDUCED     (1u << 20)
#define ACPI_FADT_PWR_BUTTON     (1u << 4)
#define ACPI_FADT_SLP_BUTTON     (1u << 5)
#define ACPI_BOOT_ARCH_8042      (1u << 1)
#define ACPI_BOOT_ARCH_NO_VGA    (1u << 2)
#define ACPI_BOOT_ARCH_NO_CMOS_RTC (1u << 5)

struct acpi_cfg {
	unsigned int nr_vcpus;                     /* 1..BOOT_MAX_VCPUS */
	const struct boot_virtio_mmio *virtio_mmio;
	unsigned int nr_virtio_mmio;
	const struct boot_hotplug *hotplug;        /* NULL: no _STA/_EJ0, no GED */
};

/* Build the tables and write them to gm at PLAT_ACPI_ADDR.  *rsdp_gpa
 * receives the RSDP's address.  Returns 0 or -errno with a reason
 * (-EINVAL for a bad cfg, -E2BIG if they would not fit, -EFAULT if the
 * area is not RAM). */
int acpi_write(const struct guest_mem *gm, const struct acpi_cfg *cfg,
	       uint64_t *rsdp_gpa, char *err, size_t errlen);

#endif
