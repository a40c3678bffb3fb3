/* vmm/boot/bootutil.h - small helpers shared by the boot loader modules:
 * little-endian field access on byte buffers (file images and guest tables
 * are never accessed through casts, so alignment and endianness are explicit),
 * checksums, alignment and the one-line error formatter. */
#ifndef VMM_BOOT_BOOTUTIL_H
#define VMM_BOOT_BOOTUTIL_H

#include <stddef.h>
#include <stdint.h>

static inline uint16_t bootu_rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t bootu_rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline uint64_t bootu_rd64(const uint8_t *p)
{
	return (uint64_t)bootu_rd32(p) | (uint64_t)bootu_rd32(p + 4) << 32;
}

static inline void bootu_wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void bootu_wr32(uint8_t *p, uint32_t v)
{
	bootu_wr16(p, (uint16_t)v);
	bootu_wr16(p + 2, (uint16_t)(v >> 16));
}

static inline void bootu_wr64(uint8_t *p, uint64_t v)
{
	bootu_wr32(p, (uint32_t)v);
	bootu_wr32(p + 4, (uint32_t)(v >> 32));
}

/* Round up to a power-of-two `a`; returns 0 on overflow (callers treat 0
 * as "does not fit"). */
static inline uint64_t bootu_align_up(uint64_t v, uint64_t a)
{
	if (v > UINT64_MAX - (a - 1))
		return 0;
	return (v + a - 1) & ~(a - 1);
}

static inline uint64_t bootu_align_down(uint64_t v, uint64_t a)
{
	return v & ~(a - 1);
}

/* The byte that makes the 8-bit sum of p[0..len) zero, assuming the
 * checksum byte itself is currently 0 (ACPI and MP table rule). */
uint8_t bootu_checksum(const uint8_t *p, size_t len);

/* 8-bit sum of p[0..len): 0 for a table with a correct checksum. */
uint8_t bootu_sum8(const uint8_t *p, size_t len);

/* snprintf into err (if non-NULL) and return `rc` (a -errno): lets error
 * paths read `return bootu_err(err, errlen, -EINVAL, "kernel: ...")`. */
int bootu_err(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
