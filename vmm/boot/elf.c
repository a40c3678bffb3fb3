/* vmm/boot/elf.c - see elf.h.  Headers are decoded field by field from the
 * byte buffer (no casts), so a file of any length and alignment is safe. */
#include "vmm/boot/elf.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "vmm/boot/bootutil.h"
#include "vmm/platform.h"

#define EI_CLASS     4
#define EI_DATA      5
#define EI_VERSION   6
#define ELFCLASS32   1
#define ELFCLASS64   2
#define ELFDATA2LSB  1
#define ET_EXEC      2
#define EM_386       3
#define EM_X86_64    62
#define PT_LOAD      1
#define PT_NOTE      4
#define SHT_NOTE     7
#define PN_XNUM      0xffff

/* Class-dependent header layout, so one walker serves ELF32 and ELF64. */
struct elf_layout {
	size_t ehsize, phentsize, shentsize;
};

static const struct elf_layout elf32_layout = { 52, 32, 40 };
static const struct elf_layout elf64_layout = { 64, 56, 64 };

struct elf_phdr {
	uint32_t type;
	uint64_t offset, vaddr, paddr, filesz, memsz, align;
};

static void phdr_decode(const uint8_t *p, bool is64, struct elf_phdr *ph)
{
	ph->type = bootu_rd32(p);
	if (is64) {
		ph->offset = bootu_rd64(p + 8);
		ph->vaddr = bootu_rd64(p + 16);
		ph->paddr = bootu_rd64(p + 24);
		ph->filesz = bootu_rd64(p + 32);
		ph->memsz = bootu_rd64(p + 40);
		ph->align = bootu_rd64(p + 48);
	} else {
		ph->offset = bootu_rd32(p + 4);
		ph->vaddr = bootu_rd32(p + 8);
		ph->paddr = bootu_rd32(p + 12);
		ph->filesz = bootu_rd32(p + 16);
		ph->memsz = bootu_rd32(p + 20);
		ph->align = bootu_rd32(p + 28);
	}
}

/* Is [off, off + size) inside a file of `len` bytes?  Overflow-proof. */
static bool in_file(uint64_t off, uint64_t size, size_t len)
{
	return off <= len && size <= len - off;
}

bool elf_probe(const uint8_t *img, size_t len)
{
	return len >= 4 && memcmp(img, "\x7f" "ELF", 4) == 0;
}

/* Walk the notes in img[off, off + size) for Xen's PHYS32_ENTRY.  Returns
 * 1 when found (value in *entry), 0 when absent, -EINVAL for a malformed
 * PVH note (wrong size).  `align` is the note alignment (4, or 8 for
 * 8-aligned note segments). */
static int find_pvh_note(const uint8_t *img, uint64_t off, uint64_t size,
			 uint64_t align, uint64_t *entry)
{
	uint64_t pos = 0;

	while (size - pos >= 12) {
		const uint8_t *n = img + off + pos;
		uint64_t namesz = bootu_rd32(n), descsz = bootu_rd32(n + 4);
		uint32_t type = bootu_rd32(n + 8);
		uint64_t name_len = bootu_align_up(namesz, align);
		uint64_t desc_len = bootu_align_up(descsz, align);

		/* namesz/descsz are < 2^32, so these sums cannot overflow. */
		if (12 + name_len + desc_len > size - pos)
			return 0; /* truncated note: stop, nothing trusted from it */
		if (namesz == 4 && memcmp(n + 12, "Xen", 4) == 0 &&
		    type == XEN_ELFNOTE_PHYS32_ENTRY) {
			const uint8_t *d = n + 12 + name_len;

			if (descsz == 4)
				*entry = bootu_rd32(d);
			else if (descsz == 8)
				*entry = bootu_rd64(d);
			else
				return -EINVAL;
			return 1;
		}
		pos += 12 + name_len + desc_len;
	}
	return 0;
}

static int scan_section_notes(const uint8_t *img, size_t len, bool is64,
			      const struct elf_layout *lay, uint64_t *entry)
{
	uint64_t shoff = is64 ? bootu_rd64(img + 40) : bootu_rd32(img + 32);
	uint16_t shentsize = bootu_rd16(img + (is64 ? 58 : 46));
	uint16_t shnum = bootu_rd16(img + (is64 ? 60 : 48));

	/* Sections are optional (stripped files): a bad table is just no notes. */
	if (shoff == 0 || shnum == 0 || shnum > ELF_MAX_SHNUM || shentsize != lay->shentsize ||
	    !in_file(shoff, (uint64_t)shnum * shentsize, len))
		return 0;
	for (unsigned int i = 0; i < shnum; i++) {
		const uint8_t *s = img + shoff + (uint64_t)i * shentsize;
		uint64_t off = is64 ? bootu_rd64(s + 24) : bootu_rd32(s + 16);
		uint64_t size = is64 ? bootu_rd64(s + 32) : bootu_rd32(s + 20);
		uint64_t align = is64 ? bootu_rd64(s + 48) : bootu_rd32(s + 32);
		int rc;

		if (bootu_rd32(s + 4) != SHT_NOTE || !in_file(off, size, len))
			continue;
		rc = find_pvh_note(img, off, size, align == 8 ? 8 : 4, entry);
		if (rc)
			return rc;
	}
	return 0;
}

/* The segment holding physical address `pa`, or NULL. */
static const struct elf_seg *seg_by_paddr(const struct elf_info *ei, uint64_t pa)
{
	for (unsigned int i = 0; i < ei->nr_segs; i++) {
		const struct elf_seg *s = &ei->segs[i];

		if (pa >= s->paddr && pa - s->paddr < s->memsz)
			return s;
	}
	return NULL;
}

static void pick_entry64(const uint8_t *img, struct elf_info *ei)
{
	uint64_t e = bootu_rd64(img + 24);

	if (!ei->is64) {
		snprintf(ei->no64_why, sizeof(ei->no64_why), "ELF32 file");
		return;
	}
	if (e == 0) {
		snprintf(ei->no64_why, sizeof(ei->no64_why), "e_entry is 0");
		return;
	}
	if (seg_by_paddr(ei, e)) {
		ei->has_entry64 = true;
		ei->entry64 = e;
		return;
	}
	for (unsigned int i = 0; i < ei->nr_segs; i++) {
		const struct elf_seg *s = &ei->segs[i];

		if (e >= s->vaddr && e - s->vaddr < s->memsz) {
			ei->has_entry64 = true;
			ei->entry64 = s->paddr + (e - s->vaddr);
			return;
		}
	}
	snprintf(ei->no64_why, sizeof(ei->no64_why),
		 "e_entry 0x%" PRIx64 " is in no PT_LOAD segment", e);
}

int elf_parse(const uint8_t *img, size_t len, struct elf_info *ei,
	      char *err, size_t errlen)
{
	const struct elf_layout *lay;
	uint64_t phoff, pvh = 0;
	uint16_t type, machine, phentsize, phnum;
	bool pvh_found = false;
	int rc;

	memset(ei, 0, sizeof(*ei));
	if (!elf_probe(img, len))
		return bootu_err(err, errlen, -ENOEXEC, "kernel: not an ELF file");
	if (len < 16)
		return bootu_err(err, errlen, -ENOEXEC, "kernel: ELF header truncated (%zu bytes)", len);
	if (img[EI_CLASS] == ELFCLASS64) {
		ei->is64 = true;
		lay = &elf64_layout;
	} else if (img[EI_CLASS] == ELFCLASS32) {
		lay = &elf32_layout;
	} else {
		return bootu_err(err, errlen, -ENOEXEC, "kernel: ELF class %u unknown", img[EI_CLASS]);
	}
	if (img[EI_DATA] != ELFDATA2LSB || img[EI_VERSION] != 1)
		return bootu_err(err, errlen, -ENOEXEC,
				 "kernel: not a little-endian ELF version 1 file");
	if (len < lay->ehsize)
		return bootu_err(err, errlen, -ENOEXEC, "kernel: ELF header truncated (%zu bytes)", len);

	type = bootu_rd16(img + 16);
	machine = bootu_rd16(img + 18);
	if (machine != (ei->is64 ? EM_X86_64 : EM_386))
		return bootu_err(err, errlen, -ENOEXEC, "kernel: ELF%s for machine %u, not %s",
				 ei->is64 ? "64" : "32", machine, ei->is64 ? "x86-64" : "i386");
	if (type != ET_EXEC)
		return bootu_err(err, errlen, -ENOEXEC,
				 "kernel: ELF type %u is not an executable (ET_EXEC)", type);

	phoff = ei->is64 ? bootu_rd64(img + 32) : bootu_rd32(img + 28);
	phentsize = bootu_rd16(img + (ei->is64 ? 54 : 42));
	phnum = bootu_rd16(img + (ei->is64 ? 56 : 44));
	if (phnum == 0 || phnum == PN_XNUM || phnum > ELF_MAX_PHNUM)
		return bootu_err(err, errlen, -ENOEXEC, "kernel: ELF has %u program headers", phnum);
	if (phentsize != lay->phentsize)
		return bootu_err(err, errlen, -ENOEXEC, "kernel: ELF e_phentsize %u, expected %zu",
				 phentsize, lay->phentsize);
	if (!in_file(phoff, (uint64_t)phnum * phentsize, len))
		return bootu_err(err, errlen, -ENOEXEC,
				 "kernel: ELF program headers (0x%" PRIx64 " + %u) outside the file",
				 phoff, phnum * phentsize);

	ei->start = UINT64_MAX;
	for (unsigned int i = 0; i < phnum; i++) {
		struct elf_phdr ph;

		phdr_decode(img + phoff + (uint64_t)i * phentsize, ei->is64, &ph);
		if (ph.type == PT_NOTE && !pvh_found && in_file(ph.offset, ph.filesz, len)) {
			rc = find_pvh_note(img, ph.offset, ph.filesz, ph.align == 8 ? 8 : 4, &pvh);
			if (rc < 0)
				return bootu_err(err, errlen, -EINVAL,
						 "kernel: PVH entry note has a bad size (not 4 or 8)");
			pvh_found = rc > 0;
		}
		if (ph.type != PT_LOAD || ph.memsz == 0)
			continue;
		if (!in_file(ph.offset, ph.filesz, len))
			return bootu_err(err, errlen, -ENOEXEC,
					 "kernel: segment %u (offset 0x%" PRIx64 ", size 0x%" PRIx64
					 ") is outside the file (%zu bytes)", i, ph.offset, ph.filesz, len);
		if (ph.filesz > ph.memsz)
			return bootu_err(err, errlen, -EINVAL,
					 "kernel: segment %u has p_filesz > p_memsz", i);
		if (ph.memsz > UINT64_MAX - ph.paddr || ph.memsz > UINT64_MAX - ph.vaddr)
			return bootu_err(err, errlen, -EINVAL,
					 "kernel: segment %u address range overflows", i);
		if (ei->nr_segs == ELF_MAX_SEGS)
			return bootu_err(err, errlen, -ENOEXEC,
					 "kernel: more than %u PT_LOAD segments", ELF_MAX_SEGS);
		ei->segs[ei->nr_segs++] = (struct elf_seg){
			.paddr = ph.paddr, .vaddr = ph.vaddr, .offset = ph.offset,
			.filesz = ph.filesz, .memsz = ph.memsz };
		if (ph.paddr < ei->start)
			ei->start = ph.paddr;
		if (ph.paddr + ph.memsz > ei->end)
			ei->end = ph.paddr + ph.memsz;
	}
	if (ei->nr_segs == 0)
		return bootu_err(err, errlen, -ENOEXEC, "kernel: ELF has no loadable segment");

	if (!pvh_found) {
		rc = scan_section_notes(img, len, ei->is64, lay, &pvh);
		if (rc < 0)
			return bootu_err(err, errlen, -EINVAL,
					 "kernel: PVH entry note has a bad size (not 4 or 8)");
		pvh_found = rc > 0;
	}
	if (pvh_found && pvh < MEM_4G && seg_by_paddr(ei, pvh)) {
		ei->has_pvh = true;
		ei->pvh_entry = pvh;
	}

	pick_entry64(img, ei);
	if (!ei->has_entry64 && !ei->has_pvh)
		return bootu_err(err, errlen, -ENOEXEC,
				 "kernel: ELF has no usable entry (64-bit: %s; PVH: %s)",
				 ei->no64_why, pvh_found ? "note outside the loaded segments" : "no note");
	return 0;
}

int elf_load(const struct guest_mem *gm, const uint8_t *img, size_t len,
	     const struct elf_info *ei, char *err, size_t errlen)
{
	for (unsigned int i = 0; i < ei->nr_segs; i++) {
		const struct elf_seg *s = &ei->segs[i];

		if (!in_file(s->offset, s->filesz, len) || s->filesz > s->memsz)
			return bootu_err(err, errlen, -EINVAL, "kernel: layout does not match the file");
		if (s->paddr < PLAT_HIMEM_ADDR)
			return bootu_err(err, errlen, -EINVAL,
					 "kernel: segment at 0x%" PRIx64 " overlaps the boot area below 1 MiB",
					 s->paddr);
		if (!mem_ptr(gm, s->paddr, s->memsz))
			return bootu_err(err, errlen, -ENOMEM,
					 "kernel: segment [0x%" PRIx64 ", 0x%" PRIx64 ") is outside guest RAM",
					 s->paddr, s->paddr + s->memsz);
	}
	for (unsigned int i = 0; i < ei->nr_segs; i++) {
		const struct elf_seg *s = &ei->segs[i];
		uint8_t *dst = mem_ptr(gm, s->paddr, s->memsz);

		memcpy(dst, img + s->offset, s->filesz);
		memset(dst + s->filesz, 0, s->memsz - s->filesz);
	}
	return 0;
}
