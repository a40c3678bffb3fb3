/* vmm/boot/bzimage.c - see bzimage.h. */
#include "vmm/boot/bzimage.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "vmm/boot/bootparams.h"
#include "vmm/boot/bootutil.h"
#include "vmm/platform.h"

/* Offsets into the file (== offsets into the zero page). */
#define OFF_SETUP_SECTS   0x1f1
#define OFF_SYSSIZE       0x1f4
#define OFF_BOOT_FLAG     0x1fe
#define OFF_JUMP_LEN      0x201  /* second byte of the jump: header length - 0x202 */
#define OFF_HEADER        0x202
#define OFF_VERSION       0x206
#define OFF_LOADFLAGS     0x211
#define OFF_INITRD_MAX    0x22c
#define OFF_KERNEL_ALIGN  0x230
#define OFF_RELOCATABLE   0x234
#define OFF_XLOADFLAGS    0x236
#define OFF_CMDLINE_SIZE  0x238
#define OFF_PREF_ADDRESS  0x258
#define OFF_INIT_SIZE     0x260
#define HDR_END_2_06      0x23c  /* a 2.06 header ends after cmdline_size */
#define HDR_END_2_10      0x264  /* ... a 2.10 one after init_size */

bool bzimage_probe(const uint8_t *img, size_t len)
{
	return len >= OFF_HEADER + 4 && bootu_rd16(img + OFF_BOOT_FLAG) == BP_BOOT_FLAG &&
	       bootu_rd32(img + OFF_HEADER) == BP_HDR_MAGIC;
}

int bzimage_parse(const uint8_t *img, size_t len, struct bzimage_info *bi,
		  char *err, size_t errlen)
{
	uint32_t hdr_end, setup_sects, syssize, align, init_size;
	uint64_t pref;

	memset(bi, 0, sizeof(*bi));
	if (!bzimage_probe(img, len))
		return bootu_err(err, errlen, -ENOEXEC,
				 "kernel: not a bzImage (no 0xaa55/HdrS header)");
	if (len < OFF_VERSION + 2)
		return bootu_err(err, errlen, -ENOEXEC,
				 "kernel: bzImage truncated in its setup header (%zu bytes)", len);
	bi->version = bootu_rd16(img + OFF_VERSION);
	if (bi->version < 0x0206)
		return bootu_err(err, errlen, -ENOEXEC,
				 "kernel: boot protocol %u.%02u too old (need >= 2.06)",
				 bi->version >> 8, bi->version & 0xff);

	/* The header is as long as the kernel says; everything we read from it
	 * must lie inside both that length and the file. */
	hdr_end = OFF_HEADER + img[OFF_JUMP_LEN];
	if (hdr_end < HDR_END_2_06)
		return bootu_err(err, errlen, -ENOEXEC,
				 "kernel: setup header ends at 0x%x, too short for protocol 2.06",
				 hdr_end);
	if (hdr_end > len)
		return bootu_err(err, errlen, -ENOEXEC,
				 "kernel: bzImage truncated in its setup header (%zu bytes)", len);
	bi->hdr_len = (hdr_end < BP_HDR_END_MAX ? hdr_end : BP_HDR_END_MAX) - BP_HDR_OFFSET;

	setup_sects = img[OFF_SETUP_SECTS];
	if (setup_sects == 0)
		setup_sects = 4; /* boot.rst: 0 means 4 */
	bi->setup_size = (setup_sects + 1) * 512;
	if (bi->setup_size > len)
		return bootu_err(err, errlen, -ENOEXEC,
				 "kernel: bzImage truncated: setup needs %u bytes, file has %zu",
				 bi->setup_size, len);
	if (hdr_end > bi->setup_size)
		return bootu_err(err, errlen, -EINVAL,
				 "kernel: setup header (0x%x) extends past the setup code (0x%x)",
				 hdr_end, bi->setup_size);

	bi->loadflags = img[OFF_LOADFLAGS];
	if (!(bi->loadflags & BP_LOADED_HIGH))
		return bootu_err(err, errlen, -ENOEXEC,
				 "kernel: zImage (not LOADED_HIGH) is not supported");
	bi->xloadflags = hdr_end >= OFF_XLOADFLAGS + 2 && bi->version >= 0x020c ?
			 bootu_rd16(img + OFF_XLOADFLAGS) : 0;
	if (!(bi->xloadflags & BP_XLF_KERNEL_64))
		return bootu_err(err, errlen, -ENOEXEC,
				 "kernel: bzImage is not 64-bit capable (protocol %u.%02u, no XLF_KERNEL_64)",
				 bi->version >> 8, bi->version & 0xff);
	/* XLF_KERNEL_64 exists from 2.12, so the 2.10 fields are there. */
	if (hdr_end < HDR_END_2_10)
		return bootu_err(err, errlen, -ENOEXEC,
				 "kernel: setup header ends at 0x%x, too short for protocol %u.%02u",
				 hdr_end, bi->version >> 8, bi->version & 0xff);

	syssize = bootu_rd32(img + OFF_SYSSIZE);
	bi->pm_offset = bi->setup_size;
	bi->pm_size = (uint64_t)syssize * 16;
	if (syssize == 0 || bi->pm_size > len - bi->setup_size)
		return bootu_err(err, errlen, -ENOEXEC,
				 "kernel: bzImage truncated: protected-mode part needs %" PRIu64
				 " bytes after the setup, file has %zu", bi->pm_size,
				 len - bi->setup_size);

	bi->initrd_addr_max = bootu_rd32(img + OFF_INITRD_MAX);
	bi->cmdline_size = bootu_rd32(img + OFF_CMDLINE_SIZE);
	align = bootu_rd32(img + OFF_KERNEL_ALIGN);
	pref = bootu_rd64(img + OFF_PREF_ADDRESS);
	init_size = bootu_rd32(img + OFF_INIT_SIZE);
	if (align == 0 || (align & (align - 1)) || align > (1u << 30))
		return bootu_err(err, errlen, -EINVAL,
				 "kernel: kernel_alignment 0x%x is not a power of two <= 1 GiB", align);
	if (init_size == 0 || pref >= MEM_4G)
		return bootu_err(err, errlen, -EINVAL,
				 "kernel: bad init_size 0x%x / pref_address 0x%" PRIx64,
				 init_size, pref);

	bi->load_addr = PLAT_HIMEM_ADDR;
	bi->entry64 = bi->load_addr + BZ_ENTRY64_OFFSET;
	if (img[OFF_RELOCATABLE]) {
		bi->run_start = bootu_align_up(bi->load_addr, align);
		if (bi->run_start < pref)
			bi->run_start = pref;
	} else {
		bi->run_start = pref;
	}
	bi->run_end = bi->run_start + init_size; /* < 4 GiB + 4 GiB: no overflow */
	bi->kernel_start = bi->load_addr;
	bi->kernel_end = bi->load_addr + bi->pm_size;
	if (bi->run_start < bi->kernel_start)
		bi->kernel_start = bi->run_start;
	if (bi->run_end > bi->kernel_end)
		bi->kernel_end = bi->run_end;
	return 0;
}

int bzimage_load(const struct guest_mem *gm, const uint8_t *img, size_t len,
		 const struct bzimage_info *bi, char *err, size_t errlen)
{
	uint8_t *dst;

	if (bi->pm_offset > len || bi->pm_size > len - bi->pm_offset)
		return bootu_err(err, errlen, -EINVAL, "kernel: layout does not match the file");
	if (bi->kernel_start < PLAT_HIMEM_ADDR ||
	    !mem_ptr(gm, bi->kernel_start, bi->kernel_end - bi->kernel_start))
		return bootu_err(err, errlen, -ENOMEM,
				 "kernel: needs RAM at [0x%" PRIx64 ", 0x%" PRIx64
				 ") (%" PRIu64 " MiB) to decompress, guest RAM below 3 GiB ends at 0x%" PRIx64,
				 bi->kernel_start, bi->kernel_end, (bi->kernel_end + (1 << 20) - 1) >> 20,
				 gm->nr_regions ? gm->regions[0].size : 0);
	dst = mem_ptr(gm, bi->load_addr, bi->pm_size);
	if (!dst)
		return bootu_err(err, errlen, -ENOMEM, "kernel: does not fit in guest RAM");
	memcpy(dst, img + bi->pm_offset, bi->pm_size);
	return 0;
}
