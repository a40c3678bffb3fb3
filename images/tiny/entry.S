/* images/tiny/entry.S - the tiny guest's two entry points, its boot GDT and
 * its page tables.
 *
 * tiny_entry64 (ELF e_entry): haneul-vmm's default ELF path.  Long mode,
 *   paging on with the first 4 GiB identity mapped by the VMM, flat
 *   CS=0x8/DS=0x10, %rsi = zero page.  Nothing to set up but a stack.
 * tiny_entry_pvh (ELF note XEN_ELFNOTE_PHYS32_ENTRY): QEMU -M microvm, or
 *   haneul-vmm with PVH preferred.  32-bit protected mode, paging off,
 *   %ebx = hvm_start_info.  Loads our GDT and page tables, enters long mode.
 *
 * Everything here runs at CPL 0, which the local nested KVM emulates one
 * instruction at a time, so the tables are static data (no loops to build
 * them) and the paths are straight lines.  No IDT: the guest never takes an
 * interrupt or an exception.
 */

#define BOOT_MODE_ELF64 0
#define BOOT_MODE_PVH   1

#define SEL_CODE64 0x08
#define SEL_DATA   0x10

#define CR0_PE   0x00000001
#define CR0_PG   0x80000000
#define CR4_PAE  0x00000020
#define MSR_EFER 0xc0000080
#define EFER_LME 0x00000100

/* ---- PVH ELF note: name "Xen", type 18 (XEN_ELFNOTE_PHYS32_ENTRY) ----
 * 4-byte aligned like every ELF note (the PT_NOTE segment has p_align 4,
 * which QEMU also uses to find the descriptor); the descriptor is a 64-bit
 * physical address, as in Linux's vmlinux. */
	.section .note.Xen, "a", @note
	.balign 4
	.long 4            /* n_namesz: "Xen\0" */
	.long 8            /* n_descsz */
	.long 18           /* n_type: XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.balign 4
	.quad tiny_entry_pvh
	.balign 4

	.section .text.entry, "ax"

/* ---- 32-bit PVH entry ---- */
	.code32
	.globl tiny_entry_pvh
tiny_entry_pvh:
	cli
	lgdt	tiny_gdt_desc
	movl	$CR4_PAE, %eax
	movl	%eax, %cr4
	movl	$tiny_pml4, %eax
	movl	%eax, %cr3
	movl	$MSR_EFER, %ecx
	movl	$EFER_LME, %eax
	xorl	%edx, %edx
	wrmsr
	movl	$(CR0_PG | CR0_PE), %eax
	movl	%eax, %cr0
	ljmp	$SEL_CODE64, $1f
	.code64
1:	movl	$SEL_DATA, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	movl	$BOOT_MODE_PVH, %edi
	movl	%ebx, %esi              /* hvm_start_info (zero-extended) */
	jmp	2f

/* ---- 64-bit entry (e_entry) ---- */
	.globl tiny_entry64
tiny_entry64:
	cli
	movl	$BOOT_MODE_ELF64, %edi  /* %rsi: zero page, kept for tiny_main */
2:	movl	$tiny_stack_top, %esp
	call	tiny_main
3:	cli
	hlt
	jmp	3b

	.section .rodata.boot, "a"
	.balign 8
tiny_gdt:
	.quad 0                       /* null */
	.quad 0x00af9a000000ffff      /* 0x08: 64-bit code, DPL 0 */
	.quad 0x00cf92000000ffff      /* 0x10: flat data */
tiny_gdt_end:
	.balign 8
	.word 0
tiny_gdt_desc:
	.word tiny_gdt_end - tiny_gdt - 1
	.long tiny_gdt

/* ---- Page tables for the PVH path: the first 4 GiB identity mapped with
 * 2 MiB pages (the image is low; virtio-mmio windows sit just below 4 GiB,
 * so the last GiB is mapped cache-disabled: PCD|PWT). */
	.section .data.pagetables, "aw"
	.balign 4096
tiny_pml4:
	.quad tiny_pdpt + 0x3         /* present | writable */
	.fill 511, 8, 0
tiny_pdpt:
	.quad tiny_pd + 0x3
	.quad tiny_pd + 0x1000 + 0x3
	.quad tiny_pd + 0x2000 + 0x3
	.quad tiny_pd + 0x3000 + 0x3
	.fill 508, 8, 0
tiny_pd:
	.set i, 0
	.rept 1536
	.quad (i << 21) + 0x83        /* present | writable | 2 MiB page */
	.set i, i + 1
	.endr
	.rept 512
	.quad (i << 21) + 0x9b        /* ... | PWT | PCD: MMIO lives here */
	.set i, i + 1
	.endr

	.section .note.GNU-stack, "", @progbits
