/* tests/fuzz/fuzz_boot.c - libFuzzer target for the kernel parsers: the
 * input is taken as a kernel file; bzImage and ELF headers are parsed and,
 * when accepted, loaded into a 64 MiB guest (every write goes through
 * mem_ptr, so ASan flags anything outside the mapping or the input).
 * Build: make fuzz (clang); run: build/fuzz/tests/fuzz/fuzz_boot CORPUS/ */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "vmm/boot/bzimage.h"
#include "vmm/boot/elf.h"
#include "vmm/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bzimage_info bz;
	struct elf_info *ei;
	struct guest_mem gm;
	char err[256];

	/* An exact-size copy: reads past `size` hit the redzone. */
	uint8_t *img = malloc(size ? size : 1);

	if (!img)
		return 0;
	for (size_t i = 0; i < size; i++)
		img[i] = data[i];
	ei = malloc(sizeof(*ei));
	if (!ei || mem_init(&gm, 64ULL << 20))
		goto out;
	if (bzimage_parse(img, size, &bz, err, sizeof(err)) == 0)
		(void)bzimage_load(&gm, img, size, &bz, err, sizeof(err));
	if (elf_parse(img, size, ei, err, sizeof(err)) == 0)
		(void)elf_load(&gm, img, size, ei, err, sizeof(err));
	mem_free(&gm);
out:
	free(ei);
	free(img);
	return 0;
}
