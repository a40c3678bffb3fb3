/* vmm/boot/pvh.c - see pvh.h. */
#include "vmm/boot/pvh.h"

#include <errno.h>

#include "vmm/platform.h"

_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info v1 is 56 bytes");
_Static_assert(sizeof(struct hvm_modlist_entry) == 32, "hvm_modlist_entry");
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "hvm_memmap_table_entry");
_Static_assert(PVH_MODLIST_ADDR >= PLAT_PVH_INFO_ADDR + sizeof(struct hvm_start_info) &&
	       PVH_MODLIST_ADDR + sizeof(struct hvm_modlist_entry) <= PLAT_PVH_MEMMAP_ADDR,
	       "module list sits between start_info and the memmap");

#define PVH_MEMMAP_MAX ((PLAT_ZERO_PAGE_ADDR - PLAT_PVH_MEMMAP_ADDR) / \
			sizeof(struct hvm_memmap_table_entry))

int pvh_write(const struct guest_mem *gm, const struct pvh_setup *s)
{
	struct hvm_start_info si = {
		.magic = HVM_START_MAGIC_VALUE,
		.version = 1,
		.cmdline_paddr = s->cmdline_gpa,
		.rsdp_paddr = s->rsdp_gpa,
		.memmap_paddr = PLAT_PVH_MEMMAP_ADDR,
		.memmap_entries = s->nr_e820,
	};
	int rc;

	if (s->nr_e820 > PVH_MEMMAP_MAX)
		return -EINVAL;
	if (s->initrd_gpa) {
		struct hvm_modlist_entry mod = { .paddr = s->initrd_gpa, .size = s->initrd_size };

		si.nr_modules = 1;
		si.modlist_paddr = PVH_MODLIST_ADDR;
		rc = mem_write(gm, PVH_MODLIST_ADDR, &mod, sizeof(mod));
		if (rc)
			return rc;
	}
	for (unsigned int i = 0; i < s->nr_e820; i++) {
		struct hvm_memmap_table_entry e = {
			.addr = s->e820[i].addr, .size = s->e820[i].size, .type = s->e820[i].type };

		rc = mem_write(gm, PLAT_PVH_MEMMAP_ADDR + i * sizeof(e), &e, sizeof(e));
		if (rc)
			return rc;
	}
	return mem_write(gm, PLAT_PVH_INFO_ADDR, &si, sizeof(si));
}
