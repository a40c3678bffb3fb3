/* vmm/boot/bootparams.c - see bootparams.h. */
#include "vmm/boot/bootparams.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

/* The layout is an ABI: fail the build, not the guest, if it drifts. */
_Static_assert(sizeof(struct boot_params) == 4096, "zero page is one page");
_Static_assert(offsetof(struct boot_params, acpi_rsdp_addr) == 0x070, "acpi_rsdp_addr");
_Static_assert(offsetof(struct boot_params, ext_ramdisk_image) == 0x0c0, "ext_ramdisk_image");
_Static_assert(offsetof(struct boot_params, cc_blob_address) == 0x13c, "cc_blob_address");
_Static_assert(offsetof(struct boot_params, e820_entries) == 0x1e8, "e820_entries");
_Static_assert(offsetof(struct boot_params, sentinel) == 0x1ef, "sentinel");
_Static_assert(offsetof(struct boot_params, hdr) == BP_HDR_OFFSET, "hdr");
_Static_assert(offsetof(struct boot_params, hdr.header) == 0x202, "hdr.header");
_Static_assert(offsetof(struct boot_params, hdr.type_of_loader) == 0x210, "type_of_loader");
_Static_assert(offsetof(struct boot_params, hdr.cmd_line_ptr) == 0x228, "cmd_line_ptr");
_Static_assert(offsetof(struct boot_params, hdr.xloadflags) == 0x236, "xloadflags");
_Static_assert(offsetof(struct boot_params, hdr.pref_address) == 0x258, "pref_address");
_Static_assert(offsetof(struct boot_params, hdr.kernel_info_offset) == 0x268, "kernel_info");
_Static_assert(offsetof(struct boot_params, edd_mbr_sig_buffer) == 0x290, "edd_mbr_sig");
_Static_assert(offsetof(struct boot_params, e820_table) == 0x2d0, "e820_table");
_Static_assert(offsetof(struct boot_params, eddbuf) == 0xd00, "eddbuf");

int bootparams_fill(struct boot_params *bp, const struct bp_setup *s)
{
	if (s->nr_e820 > BP_E820_MAX || s->hdr_len > BP_HDR_END_MAX - BP_HDR_OFFSET)
		return -EINVAL;

	if (s->hdr_src) {
		/* Copy exactly the header the kernel declared (0x202 + byte at
		 * 0x201); fields past it stay 0 as boot.rst asks. */
		memcpy((uint8_t *)bp + BP_HDR_OFFSET, s->hdr_src, s->hdr_len);
		bp->hdr.code32_start = (uint32_t)s->kernel_load;
		/* The 64-bit entry never runs the real-mode setup code, so the
		 * setup heap (heap_end_ptr/CAN_USE_HEAP) is left as the file
		 * has it; LOADED_HIGH was checked by the parser. */
	} else {
		/* ELF vmlinux: no header in the file.  startup_64 reads only
		 * boot_params, and sanitize_boot_params() keeps everything
		 * because sentinel is 0. */
		bp->hdr.boot_flag = BP_BOOT_FLAG;
		bp->hdr.header = BP_HDR_MAGIC;
		bp->hdr.kernel_alignment = 0x1000000;
	}
	bp->hdr.type_of_loader = BP_LOADER_UNDEFINED;
	bp->hdr.cmd_line_ptr = (uint32_t)s->cmdline_gpa;
	bp->ext_cmd_line_ptr = (uint32_t)(s->cmdline_gpa >> 32);
	bp->hdr.cmdline_size = s->cmdline_size;
	bp->hdr.ramdisk_image = (uint32_t)s->initrd_gpa;
	bp->hdr.ramdisk_size = (uint32_t)s->initrd_size;
	bp->ext_ramdisk_image = (uint32_t)(s->initrd_gpa >> 32);
	bp->ext_ramdisk_size = (uint32_t)(s->initrd_size >> 32);
	/* acpi_rsdp_addr exists from protocol 2.14; older kernels had padding
	 * there and find the RSDP by scanning 0xe0000-0xfffff instead. */
	if (!s->hdr_src || s->version >= 0x020e)
		bp->acpi_rsdp_addr = s->rsdp_gpa;

	bp->e820_entries = (uint8_t)s->nr_e820;
	for (unsigned int i = 0; i < s->nr_e820; i++) {
		bp->e820_table[i].addr = s->e820[i].addr;
		bp->e820_table[i].size = s->e820[i].size;
		bp->e820_table[i].type = s->e820[i].type;
	}
	return 0;
}
