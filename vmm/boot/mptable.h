/* vmm/boot/mptable.h - Intel MultiProcessor Specification 1.4 table in the
 * EBDA (PLAT_MPTABLE_ADDR), the CPU/IRQ description for kernels booted with
 * acpi=off (and built with CONFIG_X86_MPPARSE; Debian's cloud kernel is not).
 *
 * Floating pointer, then the configuration table: one processor entry per
 * vCPU (APIC id = index, vCPU 0 the BSP), bus 0 "ISA", the IOAPIC (id
 * nr_vcpus), I/O interrupt entries ISA IRQ n -> IOAPIC pin n for n = 0..15
 * (KVM's default GSI routing), LINT0 = ExtINT and LINT1 = NMI. */
#ifndef VMM_BOOT_MPTABLE_H
#define VMM_BOOT_MPTABLE_H

#include <stddef.h>

#include "vmm/mem.h"

#define MPTABLE_IRQS 16

/* Bytes the table takes for `nr_vcpus` (floating pointer included). */
size_t mptable_size(unsigned int nr_vcpus);

/* Write the table for 1..BOOT_MAX_VCPUS vCPUs.  0, -EINVAL (vCPU count),
 * -E2BIG (does not fit below PLAT_EBDA_END) or -EFAULT. */
int mptable_write(const struct guest_mem *gm, unsigned int nr_vcpus);

#endif
