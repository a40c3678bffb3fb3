/* vmm/mem.c - guest RAM mapping and bounds-checked access. */
#include "vmm/mem.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int mem_init(struct guest_mem *gm, uint64_t size)
{
	void *p;
	uint64_t lo;

	memset(gm, 0, sizeof(*gm));
	if (size < MEM_MIN_SIZE || size > MEM_MAX_SIZE || (size & 0xfff))
		return -EINVAL;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	/* Guest RAM is a good candidate for THP and must not be inherited by
	 * children (the VMM may spawn helpers). Failures are harmless. */
	(void)madvise(p, size, MADV_DONTFORK);

	gm->base = p;
	gm->size = size;
	lo = size < MEM_HOLE_START ? size : MEM_HOLE_START;
	gm->regions[0] = (struct mem_region){ .gpa = 0, .size = lo, .hva = p };
	gm->nr_regions = 1;
	if (size > lo) {
		gm->regions[1] = (struct mem_region){
			.gpa = MEM_4G, .size = size - lo, .hva = (uint8_t *)p + lo };
		gm->nr_regions = 2;
	}
	return 0;
}

void mem_free(struct guest_mem *gm)
{
	if (gm->base)
		munmap(gm->base, gm->size);
	memset(gm, 0, sizeof(*gm));
}

void *mem_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	for (unsigned int i = 0; i < gm->nr_regions; i++) {
		const struct mem_region *r = &gm->regions[i];

		if (gpa < r->gpa)
			continue;
		uint64_t off = gpa - r->gpa;
		/* Written so neither side can overflow. */
		if (off > r->size || len > r->size - off)
			continue;
		return r->hva + off;
	}
	return NULL;
}

int mem_write(const struct guest_mem *gm, uint64_t gpa, const void *src, uint64_t len)
{
	void *p = mem_ptr(gm, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(p, src, len);
	return 0;
}

int mem_read(const struct guest_mem *gm, uint64_t gpa, void *dst, uint64_t len)
{
	const void *p = mem_ptr(gm, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(dst, p, len);
	return 0;
}

int mem_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned int shift = 0;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	switch (toupper((unsigned char)*end)) {
	case '\0': break;
	case 'K': shift = 10; end++; break;
	case 'M': shift = 20; end++; break;
	case 'G': shift = 30; end++; break;
	default: return -EINVAL;
	}
	if (*end == 'i' || *end == 'B')
		end += (*end == 'i' && end[1] == 'B') ? 2 : 1;
	if (*end != '\0' || v > (UINT64_MAX >> shift))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}
