/* vmm/boot/e820.c - see e820.h. */
#include "vmm/boot/e820.h"

#include <errno.h>

#include "vmm/platform.h"

uint64_t e820_low_ram_end(const struct guest_mem *gm)
{
	return gm->nr_regions ? gm->regions[0].size : 0;
}

int e820_build(const struct guest_mem *gm, struct e820_entry *out, unsigned int max)
{
	uint64_t low_end = e820_low_ram_end(gm);
	unsigned int n = 0;

	if (max < 2 + gm->nr_regions || low_end <= PLAT_HIMEM_ADDR)
		return -EINVAL;
	out[n++] = (struct e820_entry){ 0, PLAT_MPTABLE_ADDR, E820_TYPE_RAM };
	out[n++] = (struct e820_entry){ PLAT_MPTABLE_ADDR,
		PLAT_HIMEM_ADDR - PLAT_MPTABLE_ADDR, E820_TYPE_RESERVED };
	out[n++] = (struct e820_entry){ PLAT_HIMEM_ADDR, low_end - PLAT_HIMEM_ADDR,
		E820_TYPE_RAM };
	for (unsigned int i = 1; i < gm->nr_regions; i++)
		out[n++] = (struct e820_entry){ gm->regions[i].gpa, gm->regions[i].size,
			E820_TYPE_RAM };
	return (int)n;
}
