/* vmm/boot/e820.h - the guest's physical memory map, as the zero page's
 * e820 table and the PVH memmap both describe it.
 *
 *   [0, 0x9fc00)              RAM       (PLAT_MPTABLE_ADDR: the EBDA starts there)
 *   [0x9fc00, 0x100000)       reserved  (EBDA with the MP table, VGA hole, BIOS area with ACPI)
 *   [1 MiB, low RAM end)      RAM       (low RAM end = min(size, MEM_HOLE_START))
 *   [4 GiB, 4 GiB + rest)     RAM       (only when size > MEM_HOLE_START)
 *
 * The MMIO hole [MEM_HOLE_START, 4 GiB) is left out (a gap, not "reserved"):
 * Linux then offers the gap to devices ("available for PCI devices") and
 * the LAPIC/IOAPIC/virtio-mmio ranges are claimed from ACPI. */
#ifndef VMM_BOOT_E820_H
#define VMM_BOOT_E820_H

#include <stdint.h>

#include "vmm/mem.h"

#define E820_TYPE_RAM      1
#define E820_TYPE_RESERVED 2
#define E820_MAX_ENTRIES   8   /* we never need more than 4 */

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};

/* Fill out[0..max) with the map of `gm`; returns the number of entries or
 * -EINVAL if `max` is too small or gm is smaller than 1 MiB. */
int e820_build(const struct guest_mem *gm, struct e820_entry *out, unsigned int max);

/* End of the RAM that starts at 1 MiB (exclusive): where the kernel,
 * the initrd and everything the loader places above 1 MiB must end. */
uint64_t e820_low_ram_end(const struct guest_mem *gm);

#endif
