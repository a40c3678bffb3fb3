/* vmm/boot/elf.h - ELF kernels: ELF64 x86-64 (vmlinux, the tiny guest) and
 * ELF32 i386 with a PVH note.
 *
 * PT_LOAD segments are loaded at p_paddr.  Entry points:
 *  - 64-bit: e_entry of an ELF64 x86-64 file, taken as a physical address
 *    when it lies in a segment's physical range (vmlinux links ENTRY to
 *    phys_startup_64), else translated through the segment that contains it
 *    virtually.  Entered in long mode with %rsi = zero page.
 *  - PVH: the XEN_ELFNOTE_PHYS32_ENTRY note (owner "Xen", type 18, a 4- or
 *    8-byte value) in a PT_NOTE segment or, failing that, a SHT_NOTE
 *    section.  Entered in 32-bit protected mode with %ebx = hvm_start_info.
 */
#ifndef VMM_BOOT_ELF_H
#define VMM_BOOT_ELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/mem.h"

#define ELF_MAX_SEGS  32          /* PT_LOAD segments we accept */
#define ELF_MAX_PHNUM 256         /* program headers we are willing to walk */
#define ELF_MAX_SHNUM 4096        /* section headers likewise */
#define XEN_ELFNOTE_PHYS32_ENTRY 18

struct elf_seg {
	uint64_t paddr;
	uint64_t vaddr;
	uint64_t offset;
	uint64_t filesz;
	uint64_t memsz;
};

struct elf_info {
	bool is64;                /* ELFCLASS64 x86-64 (else ELFCLASS32 i386) */
	bool has_entry64;         /* a usable 64-bit entry */
	uint64_t entry64;         /* physical */
	bool has_pvh;             /* a usable PVH note */
	uint64_t pvh_entry;       /* physical, < 4 GiB */
	unsigned int nr_segs;
	struct elf_seg segs[ELF_MAX_SEGS];
	uint64_t start;           /* lowest p_paddr of a PT_LOAD */
	uint64_t end;             /* highest p_paddr + p_memsz */
	char no64_why[64];        /* why has_entry64 is false (for the error message) */
};

/* "\x7fELF" at the start?  Safe on any length. */
bool elf_probe(const uint8_t *img, size_t len);

/* Validate img[0..len) and collect its loadable segments and entries.
 * Every header, segment and note is bounds-checked against the file and
 * against overflow; nothing is read outside img.  Returns 0 or -errno with
 * a reason in err: -ENOEXEC for a file that is not a loadable x86 ELF
 * (bad ident/machine/type, truncated headers, segment outside the file,
 * no entry we can use), -EINVAL for inconsistent values. */
int elf_parse(const uint8_t *img, size_t len, struct elf_info *ei,
	      char *err, size_t errlen);

/* Copy every PT_LOAD segment to p_paddr and zero its p_memsz - p_filesz
 * tail.  Each segment must lie in RAM at or above PLAT_HIMEM_ADDR (the boot
 * structures live below); checked for all segments before the first byte
 * is written.  -ENOMEM with a reason otherwise. */
int elf_load(const struct guest_mem *gm, const uint8_t *img, size_t len,
	     const struct elf_info *ei, char *err, size_t errlen);

#endif
