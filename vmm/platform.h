/* vmm/platform.h - the haneul virtual platform: where things live in the
 * guest's physical address space and I/O port space.  This is the contract
 * between the boot loader (vmm/boot/), the devices (vmm/dev/), and the guests
 * (images/tiny/, images/linux/).  Change it only together with all of them.
 */
#ifndef VMM_PLATFORM_H
#define VMM_PLATFORM_H

/* ---- Guest physical layout of boot structures (all below 1 MiB) ---- */
#define PLAT_GDT_ADDR        0x500ULL     /* boot GDT: null, code64 (0x8), data (0x10), code32 (0x18), tss (0x20) */
#define PLAT_IDT_ADDR        0x530ULL     /* empty IDT (limit 0); after the 16-byte TSS descriptor */
#define PLAT_PVH_INFO_ADDR   0x6000ULL    /* struct hvm_start_info for PVH entry */
#define PLAT_PVH_MEMMAP_ADDR 0x6100ULL    /* hvm_memmap_table_entry[] for PVH */
#define PLAT_ZERO_PAGE_ADDR  0x7000ULL    /* struct boot_params ("zero page") */
#define PLAT_BOOT_STACK_ADDR 0x8ff0ULL    /* initial RSP/ESP */
#define PLAT_PML4_ADDR       0x9000ULL    /* identity page tables for 64-bit entry: */
#define PLAT_PDPT_ADDR       0xa000ULL    /*   PML4 -> PDPT -> 4 PDs of 2 MiB pages,  */
#define PLAT_PD_ADDR         0xb000ULL    /*   first 4 GiB identity mapped (0xb000-0xefff) */
#define PLAT_CMDLINE_ADDR    0x20000ULL
#define PLAT_CMDLINE_MAX     0x10000ULL   /* 64 KiB, including the NUL */
#define PLAT_MPTABLE_ADDR    0x9fc00ULL   /* EBDA: MP floating pointer + table */
#define PLAT_EBDA_END        0xa0000ULL   /* RAM in e820 ends here; 0xa0000-0xfffff reserved */
#define PLAT_ACPI_ADDR       0xe0000ULL   /* RSDP (16-aligned, BIOS area), then XSDT, FADT, DSDT, MADT */
#define PLAT_ACPI_END        0x100000ULL
#define PLAT_HIMEM_ADDR      0x100000ULL  /* bzImage protected-mode kernel loads here */
#define PLAT_RESET_VECTOR_ADDR 0xffff0ULL /* F000:FFF0: a 16-byte stub that writes the ACPI
                                             reset register (Linux's BOOT_BIOS reboot jumps here) */

/* ---- MMIO (inside the 32-bit hole, see vmm/mem.h) ---- */
#define PLAT_IOAPIC_ADDR     0xfec00000ULL
#define PLAT_LAPIC_ADDR      0xfee00000ULL
#define PLAT_TSS_ADDR        0xfffbd000ULL /* KVM_SET_TSS_ADDR (3 pages) */
#define PLAT_IDENTITY_MAP    0xfffbc000ULL /* KVM_SET_IDENTITY_MAP_ADDR (1 page) */

/* ---- virtio-mmio slots and their hotplug controller (vmm/virtio/vbus.c) ----
 * PLAT_VIRTIO_MMIO_SLOTS transports of PLAT_VIRTIO_MMIO_STRIDE bytes each
 * from PLAT_VIRTIO_MMIO_BASE (inside the 32-bit hole).  Every slot is in the
 * DSDT from boot (LNRO0005, _STA from the hotplug PRESENT register), so a
 * device can appear and disappear at run time.  Slot n interrupts on GSI
 * PLAT_VIRTIO_GSI_BASE + n % PLAT_VIRTIO_GSI_COUNT: IOAPIC pins 16..22, above
 * every legacy ISA IRQ; slots 7.. share a pin with a lower slot (edge,
 * Linux's virtio-mmio requests its IRQ shared).  Pin 23 is the ACPI
 * Generic Event Device (ACPI0013) that tells the guest about hotplug. */
#define PLAT_VIRTIO_MMIO_BASE   0xd0000000ULL
#define PLAT_VIRTIO_MMIO_STRIDE 0x1000ULL
#define PLAT_VIRTIO_MMIO_SLOTS  16
#define PLAT_VIRTIO_GSI_BASE    16
#define PLAT_VIRTIO_GSI_COUNT   7
/* Hotplug controller: 32-bit registers, MMIO.
 *  +0x0 PRESENT  r : bit n = slot n holds a device (_STA of VRnn)
 *  +0x4 INSERTED r : bit n = slot n got a device since the last read (read clears)
 *  +0x8 EJECTREQ r : bit n = the host asks the guest to eject slot n (read clears)
 *  +0xc EJECT    w : the guest has let go of slot n (_EJ0 writes n) */
#define PLAT_HOTPLUG_ADDR       0xd0100000ULL
#define PLAT_HOTPLUG_SIZE       0x10ULL
#define PLAT_HOTPLUG_GSI        23

/* ---- I/O ports ---- */
#define PLAT_COM1_PORT       0x3f8        /* 8250/16550A UART, 8 ports */
#define PLAT_COM1_IRQ        4
#define PLAT_I8042_DATA      0x60
#define PLAT_I8042_CMD       0x64         /* write 0xfe: CPU reset (reboot) */
#define PLAT_I8042_IRQ       1

/* ACPI hardware-reduced sleep and reset registers (named in the FADT).
 * Linux `poweroff` writes (SLP_TYP=5 << 2 | SLP_EN) to the sleep control
 * register; `reboot` writes PLAT_ACPI_RESET_VALUE to the reset register. */
#define PLAT_ACPI_SLEEP_CTRL   0x600      /* 1 byte, write */
#define PLAT_ACPI_SLEEP_STATUS 0x601      /* 1 byte, read: WAK_STS (bit 7) */
#define PLAT_ACPI_RESET_PORT   0x602      /* 1 byte, write */
#define PLAT_ACPI_RESET_VALUE  0x01
#define PLAT_ACPI_SLP_EN       0x20       /* bit 5 of the sleep control register */
#define PLAT_ACPI_S5_TYP       5          /* SLP_TYP value in the DSDT's _S5_ package */
#define PLAT_ACPI_SCI_IRQ      9

/* haneul paravirtual ports, for guests that take no interrupts (the tiny guest).
 * All are 32-bit `in`/`out`.
 *  IDLE   out: sleep this vCPU until console input is pending, an event is
 *              pending, a virtio device has added buffers to a used ring
 *              (any queue, even with VRING_AVAIL_F_NO_INTERRUPT set: the
 *              tiny guest polls its virtqueues and takes no interrupts), or
 *              the value (milliseconds, 0 = no limit) elapses.
 *              The VMM waits on its own fds; an idle guest costs no CPU.
 *  EVENTS in:  pending events, cleared by the read: bit 0 = graceful shutdown
 *              requested (control "shutdown"), bit 1 = reboot requested.
 *  CLOCK  in:  microseconds since the VMM process started; reading CLOCK_LO
 *              latches the high half for the next CLOCK_HI read.
 *  READY  out: the guest says it is ready (value ignored); recorded in status
 *              and metrics as the time to readiness. */
#define PLAT_PV_IDLE         0x610
#define PLAT_PV_EVENTS       0x614
#define PLAT_PV_CLOCK_LO     0x618
#define PLAT_PV_CLOCK_HI     0x61c
#define PLAT_PV_READY        0x620
#define PLAT_PV_EV_SHUTDOWN  (1u << 0)
#define PLAT_PV_EV_REBOOT    (1u << 1)

#endif
