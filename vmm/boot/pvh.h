/* vmm/boot/pvh.h - the PVH boot ABI (Xen's start_info.h, also used by
 * Linux's arch/x86/platform/pvh and QEMU microvm): struct hvm_start_info at
 * PLAT_PVH_INFO_ADDR with the initrd as module 0, the command line, the
 * RSDP and the memory map (version 1) at PLAT_PVH_MEMMAP_ADDR. */
#ifndef VMM_BOOT_PVH_H
#define VMM_BOOT_PVH_H

#include <stdint.h>

#include "vmm/boot/e820.h"
#include "vmm/mem.h"

#define HVM_START_MAGIC_VALUE 0x336ec578u
#define PVH_MODLIST_ADDR      (PLAT_PVH_INFO_ADDR + 0x40) /* one hvm_modlist_entry */

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;     /* version 1 */
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;             /* e820 types */
	uint32_t reserved;
};

struct pvh_setup {
	uint64_t cmdline_gpa;
	uint64_t initrd_gpa;       /* 0: no module */
	uint64_t initrd_size;
	uint64_t rsdp_gpa;
	const struct e820_entry *e820;
	unsigned int nr_e820;
};

/* Write hvm_start_info, the module list and the memory map into gm.
 * Returns 0 or -EFAULT / -EINVAL (map too large for its slot). */
int pvh_write(const struct guest_mem *gm, const struct pvh_setup *s);

#endif
