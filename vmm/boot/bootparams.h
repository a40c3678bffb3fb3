/* vmm/boot/bootparams.h - the Linux x86 "zero page" (struct boot_params) and
 * its setup header, laid out as in the kernel's
 * arch/x86/include/uapi/asm/bootparam.h (offsets asserted in bootparams.c),
 * and how the loader fills it for the 64-bit entry.
 * Documentation/x86/boot.rst and zero-page.rst are the contract. */
#ifndef VMM_BOOT_BOOTPARAMS_H
#define VMM_BOOT_BOOTPARAMS_H

#include <stdint.h>

#include "vmm/boot/e820.h"

#define BP_HDR_OFFSET        0x1f1  /* setup header inside the zero page and the bzImage */
#define BP_HDR_END_MAX       0x290  /* header (+ its padding) never extends past this */
#define BP_HDR_MAGIC         0x53726448u /* "HdrS" at 0x202 */
#define BP_BOOT_FLAG         0xaa55
#define BP_LOADER_UNDEFINED  0xff   /* type_of_loader: "no assigned id" */
#define BP_LOADED_HIGH       0x01   /* loadflags */
#define BP_CAN_USE_HEAP      0x80
#define BP_XLF_KERNEL_64     0x01   /* xloadflags: has the 64-bit entry at +0x200 */
#define BP_XLF_CAN_BE_LOADED_ABOVE_4G 0x02
#define BP_E820_MAX          128    /* E820_MAX_ENTRIES_ZEROPAGE */

struct bp_e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));

struct setup_header {
	uint8_t  setup_sects;        /* 0x1f1 */
	uint16_t root_flags;
	uint32_t syssize;
	uint16_t ram_size;
	uint16_t vid_mode;
	uint16_t root_dev;
	uint16_t boot_flag;          /* 0x1fe */
	uint16_t jump;               /* 0x200 */
	uint32_t header;             /* 0x202 */
	uint16_t version;            /* 0x206 */
	uint32_t realmode_swtch;
	uint16_t start_sys_seg;
	uint16_t kernel_version;
	uint8_t  type_of_loader;     /* 0x210 */
	uint8_t  loadflags;          /* 0x211 */
	uint16_t setup_move_size;
	uint32_t code32_start;       /* 0x214 */
	uint32_t ramdisk_image;      /* 0x218 */
	uint32_t ramdisk_size;       /* 0x21c */
	uint32_t bootsect_kludge;
	uint16_t heap_end_ptr;       /* 0x224 */
	uint8_t  ext_loader_ver;
	uint8_t  ext_loader_type;
	uint32_t cmd_line_ptr;       /* 0x228 */
	uint32_t initrd_addr_max;    /* 0x22c */
	uint32_t kernel_alignment;   /* 0x230 */
	uint8_t  relocatable_kernel; /* 0x234 */
	uint8_t  min_alignment;
	uint16_t xloadflags;         /* 0x236 */
	uint32_t cmdline_size;       /* 0x238 */
	uint32_t hardware_subarch;
	uint64_t hardware_subarch_data;
	uint32_t payload_offset;
	uint32_t payload_length;
	uint64_t setup_data;         /* 0x250 */
	uint64_t pref_address;       /* 0x258 */
	uint32_t init_size;          /* 0x260 */
	uint32_t handover_offset;
	uint32_t kernel_info_offset; /* 0x268 */
} __attribute__((packed));

struct boot_params {
	uint8_t  screen_info[0x40];            /* 0x000 */
	uint8_t  apm_bios_info[0x14];          /* 0x040 */
	uint8_t  _pad2[4];
	uint64_t tboot_addr;                   /* 0x058 */
	uint8_t  ist_info[0x10];               /* 0x060 */
	uint64_t acpi_rsdp_addr;               /* 0x070 (protocol 2.14) */
	uint8_t  _pad3[8];
	uint8_t  hd0_info[16];
	uint8_t  hd1_info[16];
	uint8_t  sys_desc_table[0x10];         /* 0x0a0 */
	uint8_t  olpc_ofw_header[0x10];        /* 0x0b0 */
	uint32_t ext_ramdisk_image;            /* 0x0c0 */
	uint32_t ext_ramdisk_size;
	uint32_t ext_cmd_line_ptr;
	uint8_t  _pad4[112];
	uint32_t cc_blob_address;              /* 0x13c */
	uint8_t  edid_info[0x80];              /* 0x140 */
	uint8_t  efi_info[0x20];               /* 0x1c0 */
	uint32_t alt_mem_k;                    /* 0x1e0 */
	uint32_t scratch;
	uint8_t  e820_entries;                 /* 0x1e8 */
	uint8_t  eddbuf_entries;
	uint8_t  edd_mbr_sig_buf_entries;
	uint8_t  kbd_status;
	uint8_t  secure_boot;
	uint8_t  _pad5[2];
	uint8_t  sentinel;                     /* 0x1ef: must stay 0 */
	uint8_t  _pad6[1];
	struct setup_header hdr;               /* 0x1f1 */
	uint8_t  _pad7[BP_HDR_END_MAX - BP_HDR_OFFSET - sizeof(struct setup_header)];
	uint32_t edd_mbr_sig_buffer[16];       /* 0x290 */
	struct bp_e820_entry e820_table[BP_E820_MAX]; /* 0x2d0 */
	uint8_t  _pad8[48];
	uint8_t  eddbuf[0x1ec];                /* 0xd00 */
	uint8_t  _pad9[276];
} __attribute__((packed));

/* What the loader knows when it fills the zero page. */
struct bp_setup {
	const uint8_t *hdr_src;   /* bzImage: file bytes from 0x1f1; NULL for ELF */
	uint32_t hdr_len;         /* bytes to copy from hdr_src (<= 0x290 - 0x1f1) */
	uint16_t version;         /* bzImage protocol version (0 for ELF) */
	uint64_t kernel_load;     /* bzImage: where the protected-mode part sits */
	uint64_t cmdline_gpa;
	uint32_t cmdline_size;    /* max length the kernel accepts (excl. NUL) */
	uint64_t initrd_gpa;      /* 0: none */
	uint64_t initrd_size;
	uint64_t rsdp_gpa;
	const struct e820_entry *e820;
	unsigned int nr_e820;
};

/* Fill `bp` (zeroed by the caller) for the 64-bit entry.  For a bzImage the
 * setup header is copied from the file first, then the loader's fields are
 * set (type_of_loader, cmd_line_ptr, ramdisk_*, code32_start); for an ELF
 * vmlinux a minimal header is synthesised (boot_flag, "HdrS", loader id).
 * Returns 0, or -EINVAL when the e820 map does not fit or hdr_len is too
 * large.  Pure: touches only *bp. */
int bootparams_fill(struct boot_params *bp, const struct bp_setup *s);

#endif
