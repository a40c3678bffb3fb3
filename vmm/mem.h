/* vmm/mem.h - guest physical memory: one anonymous mapping, split around the
 * 32-bit MMIO hole.
 *
 * Layout (guest physical):
 *   [0, min(size, MEM_HOLE_START))              RAM, slot 0
 *   [MEM_HOLE_START, 4 GiB)                     MMIO hole (no RAM; LAPIC, IOAPIC, devices)
 *   [4 GiB, 4 GiB + size - MEM_HOLE_START)      RAM, slot 1 (only when size > MEM_HOLE_START)
 *
 * The host mapping is MAP_NORESERVE | MAP_PRIVATE | MAP_ANONYMOUS: no page is
 * touched (or counted in RSS) before the guest or the loader touches it.
 */
#ifndef VMM_MEM_H
#define VMM_MEM_H

#include <stddef.h>
#include <stdint.h>

#define MEM_MIN_SIZE   (16ULL << 20)
#define MEM_MAX_SIZE   (64ULL << 30)
#define MEM_HOLE_START 0xC0000000ULL   /* 3 GiB: start of the 32-bit MMIO hole */
#define MEM_4G         0x100000000ULL

struct mem_region {
	uint64_t gpa;    /* guest physical start */
	uint64_t size;   /* bytes */
	uint8_t *hva;    /* host address of gpa */
};

struct guest_mem {
	uint8_t *base;           /* the whole host mapping (munmap'd by mem_free) */
	uint64_t size;           /* RAM bytes (sum of regions) */
	unsigned int nr_regions; /* 1 or 2 */
	struct mem_region regions[2];
};

/* Map `size` bytes of guest RAM (MEM_MIN_SIZE..MEM_MAX_SIZE, multiple of 4 KiB).
 * Returns 0 or -errno (-EINVAL for a bad size). mem_free() undoes it. */
int mem_init(struct guest_mem *gm, uint64_t size);
void mem_free(struct guest_mem *gm);

/* Host pointer for [gpa, gpa+len) if the whole range is RAM inside one region,
 * else NULL. Every access on behalf of the guest or of an untrusted file goes
 * through this (bounds before trust). len 0 is allowed. */
void *mem_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len);

/* Copy helpers built on mem_ptr(): 0 or -EFAULT when the range is not RAM. */
int mem_write(const struct guest_mem *gm, uint64_t gpa, const void *src, uint64_t len);
int mem_read(const struct guest_mem *gm, uint64_t gpa, void *dst, uint64_t len);

/* Parse a size like "256M", "2G", "16777216", "512K" into bytes.
 * Returns 0 or -EINVAL. */
int mem_parse_size(const char *s, uint64_t *out);

#endif
