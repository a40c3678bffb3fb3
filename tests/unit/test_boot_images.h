/* tests/unit/test_boot_images.h - synthetic kernels for the boot loader
 * tests: a bzImage header with a protected-mode payload, ELF64/ELF32 files
 * with PT_LOAD segments and an optional PVH note, and temp-file helpers.
 * Everything is built in memory; nothing depends on a downloaded kernel.
 * Header-only (static functions) so each test binary stays standalone. */
#ifndef TESTS_UNIT_TEST_BOOT_IMAGES_H
#define TESTS_UNIT_TEST_BOOT_IMAGES_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/boot/bootutil.h"

/* ---- bzImage ---- */

struct tbz {
	unsigned int setup_sects;   /* as written in the header (0 means 4) */
	uint16_t version;
	uint8_t loadflags;
	uint16_t xloadflags;
	uint8_t relocatable;
	uint32_t kernel_alignment;
	uint64_t pref_address;
	uint32_t init_size;
	uint32_t cmdline_size;
	uint32_t initrd_addr_max;
	uint32_t pm_size;           /* multiple of 16 */
	uint32_t hdr_end;           /* 0x202 + jump byte */
};

static inline struct tbz tbz_default(void)
{
	return (struct tbz){
		.setup_sects = 4, .version = 0x020f, .loadflags = 0x01, .xloadflags = 0x1,
		.relocatable = 1, .kernel_alignment = 0x200000, .pref_address = 0x1000000,
		.init_size = 0x800000, .cmdline_size = 2047, .initrd_addr_max = 0x7fffffff,
		.pm_size = 0x4000, .hdr_end = 0x26c,
	};
}

/* malloc'd image of *len bytes; caller frees. */
static inline uint8_t *tbz_build(const struct tbz *c, size_t *len)
{
	unsigned int sects = c->setup_sects ? c->setup_sects : 4;
	size_t setup = (sects + 1) * 512;
	uint8_t *b;

	*len = setup + c->pm_size;
	b = calloc(1, *len);
	b[0x1f1] = (uint8_t)c->setup_sects;
	bootu_wr32(b + 0x1f4, c->pm_size / 16);
	bootu_wr16(b + 0x1fe, 0xaa55);
	b[0x200] = 0xeb;
	b[0x201] = (uint8_t)(c->hdr_end - 0x202);
	memcpy(b + 0x202, "HdrS", 4);
	bootu_wr16(b + 0x206, c->version);
	b[0x211] = c->loadflags;
	bootu_wr32(b + 0x214, 0x100000);
	bootu_wr32(b + 0x22c, c->initrd_addr_max);
	bootu_wr32(b + 0x230, c->kernel_alignment);
	b[0x234] = c->relocatable;
	bootu_wr16(b + 0x236, c->xloadflags);
	bootu_wr32(b + 0x238, c->cmdline_size);
	bootu_wr64(b + 0x258, c->pref_address);
	bootu_wr32(b + 0x260, c->init_size);
	for (size_t i = setup; i < *len; i++)
		b[i] = (uint8_t)(i * 7 + 1);
	return b;
}

/* ---- ELF ---- */

struct tseg {
	uint64_t paddr, vaddr, filesz, memsz;
};

struct telf {
	bool is64;
	uint16_t machine;           /* 0: the right one for the class */
	uint64_t entry;
	unsigned int nr_segs;
	struct tseg segs[4];
	unsigned int pvh_size;      /* 0: no note, else 4 or 8 (or a bad size) */
	uint64_t pvh_entry;
	bool pvh_in_section;        /* put the note in a SHT_NOTE section, not PT_NOTE */
	bool other_note_first;      /* a "GNU" note before Xen's */
};

static inline struct telf telf_default64(void)
{
	return (struct telf){
		.is64 = true, .entry = 0x200000, .nr_segs = 2,
		.segs = { { 0x200000, 0x200000, 0x3000, 0x3000 },
			  { 0x204000, 0x204000, 0x1000, 0x5000 } },
	};
}

/* Layout: ehdr | phdrs | notes | segment data (in order) | shdrs. */
static inline uint8_t *telf_build(const struct telf *c, size_t *len,
				  size_t *phoff_out, size_t *seg_off_out)
{
	size_t eh = c->is64 ? 64 : 52, phe = c->is64 ? 56 : 32, she = c->is64 ? 64 : 40;
	unsigned int nph = c->nr_segs + (c->pvh_size && !c->pvh_in_section ? 1 : 0);
	size_t phoff = eh, noff = phoff + nph * phe, nlen = 0, off, shoff, seg_off;
	uint8_t note[64] = { 0 };
	uint8_t *b;

	if (c->other_note_first) {              /* namesz 4 "GNU", descsz 4, type 1 */
		bootu_wr32(note, 4);
		bootu_wr32(note + 4, 4);
		bootu_wr32(note + 8, 1);
		memcpy(note + 12, "GNU", 4);
		nlen = 20;
	}
	if (c->pvh_size) {
		bootu_wr32(note + nlen, 4);
		bootu_wr32(note + nlen + 4, c->pvh_size);
		bootu_wr32(note + nlen + 8, 18);
		memcpy(note + nlen + 12, "Xen", 4);
		if (c->pvh_size == 8)
			bootu_wr64(note + nlen + 16, c->pvh_entry);
		else
			bootu_wr32(note + nlen + 16, (uint32_t)c->pvh_entry);
		nlen += 16 + ((c->pvh_size + 3) & ~3u);
	}
	off = noff + nlen;
	off = (off + 15) & ~(size_t)15;
	seg_off = off;
	if (seg_off_out)
		*seg_off_out = off;
	for (unsigned int i = 0; i < c->nr_segs; i++)
		off += c->segs[i].filesz;
	shoff = off;
	*len = shoff + (c->pvh_in_section ? 2 * she : 0);
	b = calloc(1, *len);

	memcpy(b, "\x7f" "ELF", 4);
	b[4] = c->is64 ? 2 : 1;
	b[5] = 1;
	b[6] = 1;
	bootu_wr16(b + 16, 2);                  /* ET_EXEC */
	bootu_wr16(b + 18, c->machine ? c->machine : (c->is64 ? 62 : 3));
	bootu_wr32(b + 20, 1);
	if (c->is64) {
		bootu_wr64(b + 24, c->entry);
		bootu_wr64(b + 32, phoff);
		bootu_wr64(b + 40, c->pvh_in_section ? shoff : 0);
		bootu_wr16(b + 52, 64);
		bootu_wr16(b + 54, 56);
		bootu_wr16(b + 56, (uint16_t)nph);
		bootu_wr16(b + 58, 64);
		bootu_wr16(b + 60, c->pvh_in_section ? 2 : 0);
	} else {
		bootu_wr32(b + 24, (uint32_t)c->entry);
		bootu_wr32(b + 28, (uint32_t)phoff);
		bootu_wr32(b + 32, c->pvh_in_section ? (uint32_t)shoff : 0);
		bootu_wr16(b + 40, 52);
		bootu_wr16(b + 42, 32);
		bootu_wr16(b + 44, (uint16_t)nph);
		bootu_wr16(b + 46, 40);
		bootu_wr16(b + 48, c->pvh_in_section ? 2 : 0);
	}
	memcpy(b + noff, note, nlen);

	off = seg_off;
	for (unsigned int i = 0; i < nph; i++) {
		uint8_t *p = b + phoff + i * phe;
		bool is_note = i == c->nr_segs;
		const struct tseg *s = is_note ? NULL : &c->segs[i];
		uint64_t o = is_note ? noff : off, fs = is_note ? nlen : s->filesz;
		uint64_t pa = is_note ? 0 : s->paddr, va = is_note ? 0 : s->vaddr;
		uint64_t ms = is_note ? nlen : s->memsz;

		if (c->is64) {
			bootu_wr32(p, is_note ? 4 : 1);
			bootu_wr64(p + 8, o);
			bootu_wr64(p + 16, va);
			bootu_wr64(p + 24, pa);
			bootu_wr64(p + 32, fs);
			bootu_wr64(p + 40, ms);
			bootu_wr64(p + 48, 4);
		} else {
			bootu_wr32(p, is_note ? 4 : 1);
			bootu_wr32(p + 4, (uint32_t)o);
			bootu_wr32(p + 8, (uint32_t)va);
			bootu_wr32(p + 12, (uint32_t)pa);
			bootu_wr32(p + 16, (uint32_t)fs);
			bootu_wr32(p + 20, (uint32_t)ms);
			bootu_wr32(p + 28, 4);
		}
		if (!is_note) {
			for (uint64_t k = 0; k < s->filesz; k++)
				b[off + k] = (uint8_t)(k * 13 + i + 1);
			off += s->filesz;
		}
	}
	if (c->pvh_in_section) {                /* [0] SHT_NULL, [1] SHT_NOTE */
		uint8_t *s = b + shoff + she;

		bootu_wr32(s + 4, 7);
		if (c->is64) {
			bootu_wr64(s + 24, noff);
			bootu_wr64(s + 32, nlen);
			bootu_wr64(s + 48, 4);
		} else {
			bootu_wr32(s + 16, (uint32_t)noff);
			bootu_wr32(s + 20, (uint32_t)nlen);
			bootu_wr32(s + 32, 4);
		}
	}
	if (phoff_out)
		*phoff_out = phoff;
	return b;
}

/* ---- temp files ---- */

/* Write buf to a new temp file; returns its malloc'd path (caller unlinks
 * and frees). */
static inline char *tfile_write(const void *buf, size_t len)
{
	char *path = strdup("/tmp/haneul-boot-test.XXXXXX");
	int fd = mkstemp(path);

	if (fd < 0) {
		free(path);
		return NULL;
	}
	if (len && write(fd, buf, len) != (ssize_t)len) {
		close(fd);
		unlink(path);
		free(path);
		return NULL;
	}
	close(fd);
	return path;
}

static inline void tfile_free(char *path)
{
	if (path) {
		unlink(path);
		free(path);
	}
}

#endif
