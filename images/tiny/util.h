/* images/tiny/util.h - small freestanding helpers shared by the tiny guest's
 * files: byte order, bounded string helpers, compiler barriers.  Everything
 * here is inline and touches no global state. */
#ifndef IMAGES_TINY_UTIL_H
#define IMAGES_TINY_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Provided by tiny.c (the compiler may also emit calls to them). */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);

/* Orders our stores to shared (device-visible) memory against each other and
 * against the MMIO write that follows.  x86 keeps stores in order and loads
 * in order, so a compiler barrier is all a polled driver needs. */
#define barrier() __asm__ volatile("" ::: "memory")

static inline uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t get_be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline bool mem_eq(const void *a, const void *b, size_t n)
{
	const uint8_t *x = a, *y = b;

	for (size_t i = 0; i < n; i++)
		if (x[i] != y[i])
			return false;
	return true;
}

/* Length of s, at most max. */
static inline size_t str_nlen(const char *s, size_t max)
{
	size_t n = 0;

	while (n < max && s[n])
		n++;
	return n;
}

/* Does s (n bytes, not NUL-terminated) start with the NUL-terminated p? */
static inline bool starts_with(const char *s, size_t n, const char *p)
{
	size_t i;

	for (i = 0; p[i]; i++)
		if (i >= n || s[i] != p[i])
			return false;
	return true;
}

/* Writes the decimal form of v at d (room for 20 digits); returns the length. */
static inline size_t fmt_u64(char *d, uint64_t v)
{
	char buf[20];
	size_t i = sizeof(buf), n;

	do {
		buf[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	n = sizeof(buf) - i;
	memcpy(d, buf + i, n);
	return n;
}

#endif
