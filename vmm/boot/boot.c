/* vmm/boot/boot.c - boot_load(): read the kernel and initrd (bounded reads),
 * pick the format and entry, check every range against guest RAM, then lay
 * out everything at the addresses of vmm/platform.h.  Validation happens
 * before the first write into the guest, so a refused kernel leaves gm as
 * it was except in the rare I/O error while reading the initrd. */
#include "vmm/boot/boot.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/boot/acpi.h"
#include "vmm/boot/bootparams.h"
#include "vmm/boot/bootutil.h"
#include "vmm/boot/bzimage.h"
#include "vmm/boot/cpu_setup.h"
#include "vmm/boot/e820.h"
#include "vmm/boot/elf.h"
#include "vmm/boot/mptable.h"
#include "vmm/boot/pvh.h"
#include "vmm/platform.h"

/* ELF kernels carry no cmdline_size: use x86 Linux's COMMAND_LINE_SIZE
 * (2048 with the NUL), the most the kernel copies. */
#define BOOT_ELF_CMDLINE_MAX 2047
#define PAGE_SIZE_4K         0x1000ULL

/* Everything decided before the first write into the guest. */
struct boot_plan {
	bool is_bz;
	struct bzimage_info bz;
	struct elf_info elf;
	enum boot_mode mode;
	uint64_t entry;
	uint64_t kernel_start, kernel_end;
	uint64_t cmdline_max;          /* longest accepted command line (no NUL) */
	uint64_t initrd_limit;         /* initrd must end at or below this */
	uint64_t initrd_gpa, initrd_size;
	const char *format;
};

/* Read exactly `len` bytes from fd into dst.  0, -errno, or -EIO when the
 * file ends early (it changed since fstat). */
static int read_full(int fd, uint8_t *dst, uint64_t len)
{
	while (len) {
		ssize_t n = read(fd, dst, len > (1u << 30) ? (1u << 30) : (size_t)len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		dst += n;
		len -= (uint64_t)n;
	}
	return 0;
}

/* Open `path` as a regular, non-empty file of at most `max` bytes.
 * Returns the fd (caller closes) or -errno with the reason in err. */
static int open_bounded(const char *what, const char *path, uint64_t max, uint64_t *size,
			char *err, size_t errlen)
{
	struct stat st;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		return bootu_err(err, errlen, rc, "%s: %s: %s", what, path, strerror(-rc));
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		bootu_err(err, errlen, rc, "%s: %s: %s", what, path, strerror(-rc));
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = bootu_err(err, errlen, -EINVAL, "%s: %s: not a regular file", what, path);
		goto out_close;
	}
	if (st.st_size == 0) {
		rc = bootu_err(err, errlen, -EINVAL, "%s: %s: empty file", what, path);
		goto out_close;
	}
	if ((uint64_t)st.st_size > max) {
		rc = bootu_err(err, errlen, -EFBIG, "%s: %s: %" PRIu64 " MiB is larger than guest RAM (%"
			       PRIu64 " MiB)", what, path, (uint64_t)st.st_size >> 20, max >> 20);
		goto out_close;
	}
	*size = (uint64_t)st.st_size;
	return fd;
out_close:
	close(fd);
	return rc;
}

/* Read the kernel into a malloc'd buffer the caller frees. */
static int read_kernel(const char *path, uint64_t max, uint8_t **buf, size_t *len,
		       char *err, size_t errlen)
{
	uint64_t size;
	int fd, rc;

	fd = open_bounded("kernel", path, max, &size, err, errlen);
	if (fd < 0)
		return fd;
	*buf = malloc(size);
	if (!*buf) {
		rc = bootu_err(err, errlen, -ENOMEM, "kernel: out of memory for %" PRIu64 " bytes", size);
		goto out_close;
	}
	rc = read_full(fd, *buf, size);
	if (rc) {
		bootu_err(err, errlen, rc, "kernel: %s: %s", path,
			  rc == -EIO ? "file shrank while reading" : strerror(-rc));
		free(*buf);
		*buf = NULL;
		goto out_close;
	}
	*len = size;
out_close:
	close(fd);
	return rc;
}

static int plan_kernel(const uint8_t *img, size_t len, const struct boot_opts *o,
		       uint64_t low_end, struct boot_plan *p, char *err, size_t errlen)
{
	int rc;

	if (bzimage_probe(img, len)) {
		rc = bzimage_parse(img, len, &p->bz, err, errlen);
		if (rc)
			return rc;
		p->is_bz = true;
		p->format = "bzImage";
		p->mode = BOOT_MODE_LINUX64;
		p->entry = p->bz.entry64;
		p->kernel_start = p->bz.kernel_start;
		p->kernel_end = p->bz.kernel_end;
		p->cmdline_max = p->bz.cmdline_size;
		p->initrd_limit = (uint64_t)p->bz.initrd_addr_max + 1;
	} else if (elf_probe(img, len)) {
		rc = elf_parse(img, len, &p->elf, err, errlen);
		if (rc)
			return rc;
		if (p->elf.has_pvh && (o->prefer_pvh || !p->elf.has_entry64)) {
			p->mode = BOOT_MODE_PVH32;
			p->entry = p->elf.pvh_entry;
			p->format = "elf-pvh";
		} else {
			p->mode = BOOT_MODE_LINUX64;
			p->entry = p->elf.entry64;
			p->format = "elf64";
		}
		p->kernel_start = p->elf.start;
		p->kernel_end = p->elf.end;
		p->cmdline_max = BOOT_ELF_CMDLINE_MAX;
		p->initrd_limit = low_end;
	} else if (len < 0x206) {
		return bootu_err(err, errlen, -ENOEXEC,
				 "kernel: file too small (%zu bytes) to be a bzImage or ELF", len);
	} else {
		return bootu_err(err, errlen, -ENOEXEC, "kernel: not a bzImage or ELF64 file");
	}
	if (p->cmdline_max > PLAT_CMDLINE_MAX - 1)
		p->cmdline_max = PLAT_CMDLINE_MAX - 1;
	if (p->initrd_limit > low_end)
		p->initrd_limit = low_end;
	if (p->kernel_start < PLAT_HIMEM_ADDR || p->kernel_end > low_end)
		return bootu_err(err, errlen, -ENOMEM,
				 "kernel: needs [0x%" PRIx64 ", 0x%" PRIx64 ") (%" PRIu64
				 " MiB), guest RAM from 1 MiB ends at 0x%" PRIx64 " (%" PRIu64 " MiB)",
				 p->kernel_start, p->kernel_end, (p->kernel_end + 0xfffff) >> 20,
				 low_end, low_end >> 20);
	return 0;
}

/* Highest page-aligned spot for `size` bytes in [PLAT_HIMEM_ADDR, limit)
 * that does not overlap the kernel: above it if possible, else below. */
static int place_initrd(struct boot_plan *p, uint64_t size, char *err, size_t errlen)
{
	uint64_t limit = p->initrd_limit, gpa;

	if (size <= limit) {
		gpa = bootu_align_down(limit - size, PAGE_SIZE_4K);
		if (gpa >= p->kernel_end) {
			p->initrd_gpa = gpa;
			p->initrd_size = size;
			return 0;
		}
	}
	if (size <= p->kernel_start) {
		gpa = bootu_align_down(p->kernel_start - size, PAGE_SIZE_4K);
		if (gpa >= PLAT_HIMEM_ADDR && gpa + size <= limit) {
			p->initrd_gpa = gpa;
			p->initrd_size = size;
			return 0;
		}
	}
	return bootu_err(err, errlen, -ENOMEM,
			 "initrd: %" PRIu64 " MiB does not fit below 0x%" PRIx64
			 " without overlapping the kernel [0x%" PRIx64 ", 0x%" PRIx64 ")",
			 (size + 0xfffff) >> 20, limit - 1, p->kernel_start, p->kernel_end);
}

static int write_boot_params(const struct guest_mem *gm, const struct boot_plan *p,
			     const uint8_t *img, uint64_t rsdp, const struct e820_entry *e820,
			     unsigned int nr_e820)
{
	struct bp_setup s = {
		.cmdline_gpa = PLAT_CMDLINE_ADDR,
		.cmdline_size = (uint32_t)p->cmdline_max,
		.initrd_gpa = p->initrd_gpa,
		.initrd_size = p->initrd_size,
		.rsdp_gpa = rsdp,
		.e820 = e820,
		.nr_e820 = nr_e820,
	};
	struct boot_params *bp = mem_ptr(gm, PLAT_ZERO_PAGE_ADDR, sizeof(*bp));

	if (!bp)
		return -EFAULT;
	if (p->is_bz) {
		s.hdr_src = img + BP_HDR_OFFSET;
		s.hdr_len = p->bz.hdr_len;
		s.version = p->bz.version;
		s.kernel_load = p->bz.load_addr;
		s.cmdline_size = p->bz.cmdline_size;
	}
	memset(bp, 0, sizeof(*bp));
	return bootparams_fill(bp, &s);
}

int boot_load(struct guest_mem *gm, const struct boot_opts *o,
	      struct boot_info *out, char *err, size_t errlen)
{
	struct boot_plan plan = { 0 };
	struct e820_entry e820[E820_MAX_ENTRIES];
	const char *cmdline;
	uint8_t *img = NULL;
	size_t img_len = 0, cmdline_len;
	uint64_t low_end = e820_low_ram_end(gm), rsdp = 0, initrd_size = 0;
	int rc, nr_e820, initrd_fd = -1;

	if (err && errlen)
		err[0] = '\0';
	if (!o || !o->kernel_path || !out)
		return bootu_err(err, errlen, -EINVAL, "kernel: no kernel path given");
	if (o->nr_vcpus < 1 || o->nr_vcpus > BOOT_MAX_VCPUS)
		return bootu_err(err, errlen, -EINVAL, "vcpus: %u is not in 1..%u",
				 o->nr_vcpus, BOOT_MAX_VCPUS);
	nr_e820 = e820_build(gm, e820, E820_MAX_ENTRIES);
	if (nr_e820 < 0 || !mem_ptr(gm, 0, PLAT_HIMEM_ADDR))
		return bootu_err(err, errlen, -EINVAL, "memory: guest RAM too small for the boot area");
	cmdline = o->cmdline ? o->cmdline : "";
	cmdline_len = strnlen(cmdline, PLAT_CMDLINE_MAX);

	rc = read_kernel(o->kernel_path, gm->size, &img, &img_len, err, errlen);
	if (rc)
		return rc;
	rc = plan_kernel(img, img_len, o, low_end, &plan, err, errlen);
	if (rc)
		goto out_free;
	if (cmdline_len > plan.cmdline_max) {
		rc = bootu_err(err, errlen, -E2BIG,
			       "cmdline: %zu%s bytes is longer than the kernel accepts (%" PRIu64 ")",
			       cmdline_len, cmdline_len == PLAT_CMDLINE_MAX ? "+" : "",
			       plan.cmdline_max);
		goto out_free;
	}
	if (o->initrd_path) {
		rc = open_bounded("initrd", o->initrd_path, gm->size, &initrd_size, err, errlen);
		if (rc < 0)
			goto out_free;
		initrd_fd = rc;
		rc = place_initrd(&plan, initrd_size, err, errlen);
		if (rc)
			goto out_close;
	}

	/* ---- from here on, write into the guest ---- */
	rc = plan.is_bz ? bzimage_load(gm, img, img_len, &plan.bz, err, errlen) :
			  elf_load(gm, img, img_len, &plan.elf, err, errlen);
	if (rc)
		goto out_close;
	rc = acpi_write(gm, &(struct acpi_cfg){ .nr_vcpus = o->nr_vcpus,
			.virtio_mmio = o->virtio_mmio, .nr_virtio_mmio = o->nr_virtio_mmio,
			.hotplug = o->hotplug },
			&rsdp, err, errlen);
	if (rc)
		goto out_close;
	rc = mptable_write(gm, o->nr_vcpus);
	if (rc) {
		bootu_err(err, errlen, rc, "mptable: cannot write the MP table");
		goto out_close;
	}
	/* Linux on a hardware-reduced ACPI platform without EFI picks BOOT_EFI
	 * as its reboot method (reboot_init(): efi_reboot_required()), which
	 * does nothing and falls through to BOOT_BIOS: machine_real_restart()
	 * jumps to the BIOS reset vector F000:FFF0 in real mode.  There is no
	 * BIOS here, so put a stub at the vector that does what a firmware
	 * reset does: write the ACPI reset register (then halt).  It lies in
	 * the last 16 bytes of the ACPI area, far beyond the tables. */
	{
		static const uint8_t reset_stub[] = {
			0xb0, PLAT_ACPI_RESET_VALUE,           /* mov al, RESET_VALUE */
			0xba, PLAT_ACPI_RESET_PORT & 0xff,
			(PLAT_ACPI_RESET_PORT >> 8) & 0xff,    /* mov dx, RESET_PORT */
			0xee,                                  /* out dx, al */
			0xf4,                                  /* 1: hlt */
			0xeb, 0xfd,                            /* jmp 1b */
		};
		rc = mem_write(gm, PLAT_RESET_VECTOR_ADDR, reset_stub, sizeof(reset_stub));
		if (rc) {
			bootu_err(err, errlen, rc, "boot: cannot write the reset vector stub");
			goto out_close;
		}
	}
	rc = mem_write(gm, PLAT_CMDLINE_ADDR, cmdline, cmdline_len + 1);
	if (!rc)
		rc = cpu_setup_write(gm);
	if (!rc && plan.mode == BOOT_MODE_LINUX64)
		rc = write_boot_params(gm, &plan, img, rsdp, e820, (unsigned int)nr_e820);
	if (!rc && plan.mode == BOOT_MODE_PVH32)
		rc = pvh_write(gm, &(struct pvh_setup){ .cmdline_gpa = PLAT_CMDLINE_ADDR,
			       .initrd_gpa = plan.initrd_gpa, .initrd_size = plan.initrd_size,
			       .rsdp_gpa = rsdp, .e820 = e820, .nr_e820 = (unsigned int)nr_e820 });
	if (rc) {
		bootu_err(err, errlen, rc, "boot: cannot write the boot structures");
		goto out_close;
	}
	if (initrd_fd >= 0) {
		/* Straight into guest RAM: no second copy of a large initrd. */
		rc = read_full(initrd_fd, mem_ptr(gm, plan.initrd_gpa, plan.initrd_size),
			       plan.initrd_size);
		if (rc) {
			bootu_err(err, errlen, rc, "initrd: %s: %s", o->initrd_path,
				  rc == -EIO ? "file shrank while reading" : strerror(-rc));
			goto out_close;
		}
	}

	memset(out, 0, sizeof(*out));
	out->mode = plan.mode;
	out->entry = plan.entry;
	out->params_gpa = plan.mode == BOOT_MODE_LINUX64 ? PLAT_ZERO_PAGE_ADDR : PLAT_PVH_INFO_ADDR;
	out->kernel_start = plan.kernel_start;
	out->kernel_end = plan.kernel_end;
	out->initrd_gpa = plan.initrd_gpa;
	out->initrd_size = plan.initrd_size;
	out->rsdp_gpa = rsdp;
	out->cmdline_gpa = PLAT_CMDLINE_ADDR;
	snprintf(out->format, sizeof(out->format), "%s", plan.format);
out_close:
	if (initrd_fd >= 0)
		close(initrd_fd);
out_free:
	free(img);
	return rc;
}
