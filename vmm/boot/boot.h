/* vmm/boot/boot.h - loading a Linux x86-64 kernel (or the tiny guest) into
 * guest memory and describing how to enter it.
 *
 * Formats: bzImage (boot protocol >= 2.06, 64-bit entry at startup_64 = load
 * address + 0x200), ELF64 vmlinux (64-bit entry e_entry) and ELF with a PVH
 * note (XEN_ELFNOTE_PHYS32_ENTRY, 32-bit protected-mode entry, %ebx =
 * hvm_start_info).  The loader also writes the command line, the zero page
 * with its e820 map (or hvm_start_info + memmap for PVH), ACPI tables
 * (RSDP/XSDT/FADT/DSDT/MADT) and an MP table naming every vCPU, the boot GDT
 * and the identity page tables: everything at the addresses of vmm/platform.h.
 */
#ifndef VMM_BOOT_BOOT_H
#define VMM_BOOT_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>

#include "vmm/mem.h"

enum boot_mode {
	BOOT_MODE_LINUX64 = 1, /* long mode, paging on, %rsi = zero page */
	BOOT_MODE_PVH32,       /* 32-bit protected mode, paging off, %ebx = hvm_start_info */
};

#define BOOT_MAX_VCPUS      32
#define BOOT_MAX_VIRTIO_MMIO 32

/* A virtio-mmio device the guest must discover through ACPI: Debian's
 * kernel has no CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES, and with a hardware-
 * reduced FADT there is no legacy PIC, so device IRQs are only routed when
 * a DSDT device (_HID "LNRO0005", Memory32Fixed + Interrupt) names them. */
struct boot_virtio_mmio {
	uint64_t addr;            /* MMIO base, below 4 GiB (typically in the hole) */
	uint64_t size;            /* bytes, e.g. 0x200 */
	uint32_t gsi;             /* IOAPIC pin (0..23), edge-triggered, active high */
};

/* Optional ACPI hotplug of those devices (vmm/virtio/vbus.h): every device
 * gets _STA (bit n of the 32-bit PRESENT register at reg_addr) and _EJ0
 * (writes n to reg_addr + 0xc), and a Generic Event Device (ACPI0013) on
 * `gsi` whose _EVT notifies the devices named by INSERTED (+0x4, device
 * check) and EJECTREQ (+0x8, eject request).  Register layout:
 * PLAT_HOTPLUG_* in vmm/platform.h. */
struct boot_hotplug {
	uint64_t reg_addr;        /* below 4 GiB */
	uint32_t gsi;             /* IOAPIC pin (0..23), edge-triggered, active high */
};

struct boot_opts {
	const char *kernel_path;  /* required */
	const char *initrd_path;  /* NULL: no initrd */
	const char *cmdline;      /* NULL: "" */
	unsigned int nr_vcpus;    /* 1..32 */
	bool prefer_pvh;          /* ELF with both entries: take PVH (default: 64-bit) */
	/* Optional: devices described in the DSDT (NULL/0: none). */
	const struct boot_virtio_mmio *virtio_mmio;
	unsigned int nr_virtio_mmio; /* 0..BOOT_MAX_VIRTIO_MMIO */
	const struct boot_hotplug *hotplug; /* NULL: devices always present, no GED */
};

struct boot_info {
	enum boot_mode mode;
	uint64_t entry;          /* guest physical address of the entry point */
	uint64_t params_gpa;     /* zero page (LINUX64) or hvm_start_info (PVH32) */
	uint64_t kernel_start;   /* guest physical range the kernel image occupies */
	uint64_t kernel_end;
	uint64_t initrd_gpa;     /* 0 when no initrd */
	uint64_t initrd_size;
	char format[16];         /* "bzImage", "elf64", "elf-pvh": for logs and status */
	uint64_t rsdp_gpa;       /* ACPI RSDP (PLAT_ACPI_ADDR) */
	uint64_t cmdline_gpa;    /* PLAT_CMDLINE_ADDR */
};

/* Read the files named in `o` and lay out everything in `gm` (which must be
 * zeroed, as a fresh mem_init() mapping is).  On failure returns -errno and
 * writes a one-line human reason into err (e.g. "kernel: not a bzImage or
 * ELF64 file", "initrd: 300 MiB does not fit below 0x37ffffff"); nothing
 * outside gm is changed. */
int boot_load(struct guest_mem *gm, const struct boot_opts *o,
	      struct boot_info *out, char *err, size_t errlen);

/* Registers the boot vCPU (APIC id 0) starts with for `bi`.  Pure function.
 * Application processors are started by the guest itself (INIT/SIPI through
 * the in-kernel LAPIC) and need nothing from here. */
void boot_bsp_regs(const struct boot_info *bi, struct kvm_regs *regs,
		   struct kvm_sregs *sregs);

#endif
