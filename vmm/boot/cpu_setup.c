/* vmm/boot/cpu_setup.c - see cpu_setup.h; boot_bsp_regs() of boot.h. */
#include "vmm/boot/cpu_setup.h"

#include <errno.h>
#include <string.h>

#include "vmm/boot/boot.h"
#include "vmm/platform.h"

_Static_assert(PLAT_GDT_ADDR + BOOT_GDT_ENTRIES * 8 <= PLAT_IDT_ADDR, "GDT runs into the IDT");
_Static_assert(PLAT_PD_ADDR + BOOT_NR_PDS * 0x1000 <= PLAT_CMDLINE_ADDR, "PDs run into the cmdline");

/* Access byte and flags nibble of a code/data descriptor. */
#define DESC_ACC_CODE   0x9b   /* present, DPL 0, S=1, execute/read, accessed */
#define DESC_ACC_DATA   0x93   /* present, DPL 0, S=1, read/write, accessed */
#define DESC_ACC_TSS    0x8b   /* present, DPL 0, S=0, busy 64-bit (or 32-bit) TSS */
#define DESC_FL_G       0x8
#define DESC_FL_DB      0x4
#define DESC_FL_L       0x2
#define TSS_LIMIT       0x67

static uint64_t gdt_entry(uint8_t access, uint8_t flags, uint32_t base, uint32_t limit)
{
	return ((uint64_t)(base & 0xff000000) << 32) | ((uint64_t)(flags & 0xf) << 52) |
	       ((uint64_t)(limit & 0x000f0000) << 32) | ((uint64_t)access << 40) |
	       ((uint64_t)(base & 0x00ffffff) << 16) | (limit & 0xffff);
}

void cpu_setup_gdt(uint64_t gdt[BOOT_GDT_ENTRIES])
{
	gdt[0] = 0;
	gdt[1] = gdt_entry(DESC_ACC_CODE, DESC_FL_G | DESC_FL_L, 0, 0xfffff);
	gdt[2] = gdt_entry(DESC_ACC_DATA, DESC_FL_G | DESC_FL_DB, 0, 0xfffff);
	gdt[3] = gdt_entry(DESC_ACC_CODE, DESC_FL_G | DESC_FL_DB, 0, 0xfffff);
	/* A long-mode TSS descriptor is 16 bytes; the upper half holds base
	 * bits 63:32 (0).  TR must be a valid busy TSS for VM entry; nothing
	 * reads the TSS itself before the kernel loads its own. */
	gdt[4] = gdt_entry(DESC_ACC_TSS, 0, 0, TSS_LIMIT);
	gdt[5] = 0;
}

int cpu_setup_write(const struct guest_mem *gm)
{
	uint64_t gdt[BOOT_GDT_ENTRIES], *pml4, *pdpt, *pd;
	int rc;

	cpu_setup_gdt(gdt);
	rc = mem_write(gm, PLAT_GDT_ADDR, gdt, sizeof(gdt));
	if (rc)
		return rc;
	pml4 = mem_ptr(gm, PLAT_PML4_ADDR, 0x1000);
	pdpt = mem_ptr(gm, PLAT_PDPT_ADDR, 0x1000);
	pd = mem_ptr(gm, PLAT_PD_ADDR, BOOT_NR_PDS * 0x1000);
	if (!pml4 || !pdpt || !pd || !mem_ptr(gm, PLAT_IDT_ADDR, 8))
		return -EFAULT;
	memset(pml4, 0, 0x1000);
	memset(pdpt, 0, 0x1000);
	pml4[0] = PLAT_PDPT_ADDR | BOOT_PTE_P | BOOT_PTE_RW;
	for (uint64_t i = 0; i < BOOT_NR_PDS; i++)
		pdpt[i] = (PLAT_PD_ADDR + i * 0x1000) | BOOT_PTE_P | BOOT_PTE_RW;
	for (uint64_t i = 0; i < BOOT_NR_PDS * 512; i++)
		pd[i] = (i << 21) | BOOT_PTE_P | BOOT_PTE_RW | BOOT_PTE_PS;
	return 0;
}

static struct kvm_segment seg_flat(uint16_t sel, uint8_t type, bool code64, bool db)
{
	return (struct kvm_segment){
		.base = 0, .limit = 0xffffffff, .selector = sel, .type = type,
		.present = 1, .dpl = 0, .db = db, .s = 1, .l = code64, .g = 1,
	};
}

void boot_bsp_regs(const struct boot_info *bi, struct kvm_regs *regs,
		   struct kvm_sregs *sregs)
{
	bool lm = bi->mode == BOOT_MODE_LINUX64;
	struct kvm_segment data = seg_flat(BOOT_SEL_DATA, 0x3, false, true);

	memset(regs, 0, sizeof(*regs));
	memset(sregs, 0, sizeof(*sregs));

	regs->rflags = 0x2;             /* bit 1 is reserved-one; IF off */
	regs->rip = bi->entry;
	regs->rsp = PLAT_BOOT_STACK_ADDR;
	regs->rbp = PLAT_BOOT_STACK_ADDR;
	if (lm)
		regs->rsi = bi->params_gpa;   /* struct boot_params */
	else
		regs->rbx = bi->params_gpa;   /* struct hvm_start_info */

	sregs->cs = lm ? seg_flat(BOOT_SEL_CODE64, 0xb, true, false) :
			 seg_flat(BOOT_SEL_CODE32, 0xb, false, true);
	sregs->ds = sregs->es = sregs->fs = sregs->gs = sregs->ss = data;
	sregs->tr = (struct kvm_segment){
		.base = 0, .limit = TSS_LIMIT, .selector = BOOT_SEL_TSS, .type = 0xb,
		.present = 1, .s = 0,
	};
	sregs->ldt = (struct kvm_segment){ .type = 0x2, .unusable = 1 };
	sregs->gdt.base = PLAT_GDT_ADDR;
	sregs->gdt.limit = BOOT_GDT_ENTRIES * 8 - 1;
	sregs->idt.base = PLAT_IDT_ADDR;
	sregs->idt.limit = 0;

	if (lm) {
		sregs->cr0 = BOOT_CR0_PE | BOOT_CR0_ET | BOOT_CR0_PG;
		sregs->cr3 = PLAT_PML4_ADDR;
		sregs->cr4 = BOOT_CR4_PAE;
		sregs->efer = BOOT_EFER_LME | BOOT_EFER_LMA;
	} else {
		sregs->cr0 = BOOT_CR0_PE;   /* paging off, EFER 0 */
	}
}
