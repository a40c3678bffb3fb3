/* vmm/boot/bzimage.h - Linux bzImage (boot protocol >= 2.06 with the 64-bit
 * entry, XLF_KERNEL_64).  The protected-mode part is loaded at 1 MiB
 * (PLAT_HIMEM_ADDR) and entered at +0x200 (startup_64); the real-mode setup
 * code is never run, only its header is copied into the zero page.
 *
 * Where the kernel decompresses itself matters for RAM sizing and initrd
 * placement: arch/x86/boot/compressed/head_64.S runs the decompressor in
 * [run_start, run_start + init_size) with
 *   run_start = max(align_up(load address, kernel_alignment), pref_address)
 * for a relocatable kernel, and pref_address (LOAD_PHYSICAL_ADDR) otherwise.
 * bzimage_parse() reports that range so the loader can check it fits in
 * low RAM and keep the initrd out of it. */
#ifndef VMM_BOOT_BZIMAGE_H
#define VMM_BOOT_BZIMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/mem.h"

#define BZ_ENTRY64_OFFSET 0x200

struct bzimage_info {
	uint16_t version;          /* boot protocol, e.g. 0x020f */
	uint32_t setup_size;       /* boot sector + setup, bytes ((setup_sects + 1) * 512) */
	uint32_t hdr_len;          /* setup header bytes from 0x1f1 to copy into the zero page */
	uint64_t pm_offset;        /* protected-mode part: file offset ... */
	uint64_t pm_size;          /* ... and size (syssize * 16) */
	uint64_t load_addr;        /* guest address of the protected-mode part */
	uint64_t entry64;          /* load_addr + 0x200 */
	uint64_t run_start;        /* decompression buffer, see above */
	uint64_t run_end;
	uint64_t kernel_start;     /* everything the kernel occupies before it runs */
	uint64_t kernel_end;       /*   = [load_addr, max(load + pm_size, run_end)) */
	uint32_t initrd_addr_max;  /* highest byte address the initrd may occupy */
	uint32_t cmdline_size;     /* longest command line, excluding the NUL */
	uint8_t  loadflags;
	uint16_t xloadflags;
};

/* Does the buffer look like a bzImage (boot flag 0xaa55 and "HdrS")?
 * Safe on any length. */
bool bzimage_probe(const uint8_t *img, size_t len);

/* Validate the header of img[0..len) and compute the layout for a load at
 * PLAT_HIMEM_ADDR.  Reads only inside img.  Returns 0 or -errno with a
 * one-line reason ("kernel: ...") in err: -ENOEXEC for a file that is not a
 * usable bzImage (bad magic, protocol too old, no 64-bit entry, truncated),
 * -EINVAL for inconsistent header values. */
int bzimage_parse(const uint8_t *img, size_t len, struct bzimage_info *bi,
		  char *err, size_t errlen);

/* Copy the protected-mode part into gm after checking that the whole
 * kernel range [kernel_start, kernel_end) is RAM.  -ENOMEM with a reason
 * when it does not fit. */
int bzimage_load(const struct guest_mem *gm, const uint8_t *img, size_t len,
		 const struct bzimage_info *bi, char *err, size_t errlen);

#endif
