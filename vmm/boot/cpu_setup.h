/* vmm/boot/cpu_setup.h - what the boot vCPU needs in memory and in its
 * registers: the boot GDT at PLAT_GDT_ADDR and the identity page tables at
 * PLAT_PML4_ADDR (written by cpu_setup_write), and boot_bsp_regs() (boot.h).
 *
 * GDT (PLAT_GDT_ADDR):
 *   0x00 null
 *   0x08 64-bit code   (L=1, D=0, DPL 0)         LINUX64 CS
 *   0x10 data          (flat 4 GiB, D/B=1)        all data segments
 *   0x18 32-bit code   (flat 4 GiB, D=1)          PVH32 CS
 *   0x20 TSS           (16-byte system descriptor, base 0, limit 0x67, busy)
 * Page tables: PML4[0] -> PDPT, PDPT[0..3] -> 4 PDs of 512 2-MiB pages,
 * identity-mapping [0, 4 GiB) (MMIO hole included, for the LAPIC/IOAPIC).
 */
#ifndef VMM_BOOT_CPU_SETUP_H
#define VMM_BOOT_CPU_SETUP_H

#include <stdint.h>

#include "vmm/mem.h"

#define BOOT_SEL_CODE64 0x08
#define BOOT_SEL_DATA   0x10
#define BOOT_SEL_CODE32 0x18
#define BOOT_SEL_TSS    0x20
#define BOOT_GDT_ENTRIES 6      /* the TSS takes two slots */

#define BOOT_CR0_PE   (1ULL << 0)
#define BOOT_CR0_ET   (1ULL << 4)
#define BOOT_CR0_PG   (1ULL << 31)
#define BOOT_CR4_PAE  (1ULL << 5)
#define BOOT_EFER_LME (1ULL << 8)
#define BOOT_EFER_LMA (1ULL << 10)

#define BOOT_PTE_P    (1ULL << 0)
#define BOOT_PTE_RW   (1ULL << 1)
#define BOOT_PTE_PS   (1ULL << 7)
#define BOOT_NR_PDS   4

/* The 8-byte GDT descriptors, as written to guest memory. */
void cpu_setup_gdt(uint64_t gdt[BOOT_GDT_ENTRIES]);

/* Write the GDT, an empty IDT slot and the page tables into gm.
 * 0 or -EFAULT (guest smaller than the boot area). */
int cpu_setup_write(const struct guest_mem *gm);

#endif
