/* vmm/boot/mptable.c - see mptable.h. */
#include "vmm/boot/mptable.h"

#include <errno.h>
#include <string.h>

#include "vmm/boot/boot.h"
#include "vmm/boot/bootutil.h"
#include "vmm/platform.h"

#define MPF_LEN        16
#define MPC_HDR_LEN    44
#define MPC_CPU_LEN    20
#define MPC_ENTRY_LEN  8    /* bus, ioapic, intsrc, lintsrc */
#define MP_SPEC_REV    4    /* 1.4 */
#define APIC_VERSION   0x14 /* integrated xAPIC */
#define IOAPIC_VERSION 0x11

enum { MP_PROCESSOR = 0, MP_BUS, MP_IOAPIC, MP_INTSRC, MP_LINTSRC };
enum { MP_INT = 0, MP_NMI = 1, MP_EXTINT = 3 };

size_t mptable_size(unsigned int nr_vcpus)
{
	return MPF_LEN + MPC_HDR_LEN + (size_t)nr_vcpus * MPC_CPU_LEN +
	       (2 + MPTABLE_IRQS + 2) * MPC_ENTRY_LEN;
}

int mptable_write(const struct guest_mem *gm, unsigned int nr_vcpus)
{
	uint8_t buf[MPF_LEN + MPC_HDR_LEN + BOOT_MAX_VCPUS * MPC_CPU_LEN +
		    (2 + MPTABLE_IRQS + 2) * MPC_ENTRY_LEN];
	uint8_t *mpf = buf, *mpc = buf + MPF_LEN, *e;
	size_t len = mptable_size(nr_vcpus);
	uint8_t ioapic_id = (uint8_t)nr_vcpus;
	uint16_t count = 0;

	if (nr_vcpus < 1 || nr_vcpus > BOOT_MAX_VCPUS)
		return -EINVAL;
	if (PLAT_MPTABLE_ADDR + len > PLAT_EBDA_END)
		return -E2BIG;
	memset(buf, 0, sizeof(buf));

	e = mpc + MPC_HDR_LEN;
	for (unsigned int i = 0; i < nr_vcpus; i++, e += MPC_CPU_LEN, count++) {
		e[0] = MP_PROCESSOR;
		e[1] = (uint8_t)i;                       /* local APIC id */
		e[2] = APIC_VERSION;
		e[3] = (uint8_t)(0x01 | (i == 0 ? 0x02 : 0)); /* enabled, BSP */
		bootu_wr32(e + 4, 0x600);                /* signature: family 6 */
		bootu_wr32(e + 8, 0x201);                /* features: FPU, APIC */
	}
	e[0] = MP_BUS;
	e[1] = 0;
	memcpy(e + 2, "ISA   ", 6);
	e += MPC_ENTRY_LEN, count++;

	e[0] = MP_IOAPIC;
	e[1] = ioapic_id;
	e[2] = IOAPIC_VERSION;
	e[3] = 0x01;                                     /* usable */
	bootu_wr32(e + 4, (uint32_t)PLAT_IOAPIC_ADDR);
	e += MPC_ENTRY_LEN, count++;

	for (unsigned int irq = 0; irq < MPTABLE_IRQS; irq++, e += MPC_ENTRY_LEN, count++) {
		e[0] = MP_INTSRC;
		e[1] = MP_INT;
		bootu_wr16(e + 2, 0);                    /* conforming polarity/trigger */
		e[4] = 0;                                /* source bus: ISA */
		e[5] = (uint8_t)irq;
		e[6] = ioapic_id;
		e[7] = (uint8_t)irq;                     /* pin n: KVM's default routing */
	}
	e[0] = MP_LINTSRC;
	e[1] = MP_EXTINT;
	e[6] = 0xff;                                     /* all local APICs */
	e[7] = 0;                                        /* LINT0 */
	e += MPC_ENTRY_LEN, count++;
	e[0] = MP_LINTSRC;
	e[1] = MP_NMI;
	e[6] = 0xff;
	e[7] = 1;                                        /* LINT1 */
	count++;

	memcpy(mpc, "PCMP", 4);
	bootu_wr16(mpc + 4, (uint16_t)(len - MPF_LEN));  /* base table length */
	mpc[6] = MP_SPEC_REV;
	memcpy(mpc + 8, "HANEUL  ", 8);                  /* OEM id */
	memcpy(mpc + 16, "HANEUL-VMM  ", 12);            /* product id */
	bootu_wr16(mpc + 34, count);
	bootu_wr32(mpc + 36, (uint32_t)PLAT_LAPIC_ADDR);
	mpc[7] = bootu_checksum(mpc, len - MPF_LEN);

	memcpy(mpf, "_MP_", 4);
	bootu_wr32(mpf + 4, (uint32_t)(PLAT_MPTABLE_ADDR + MPF_LEN)); /* config table */
	mpf[8] = 1;                                      /* length in 16-byte units */
	mpf[9] = MP_SPEC_REV;
	/* feature bytes 0: a configuration table is present, virtual-wire mode */
	mpf[10] = bootu_checksum(mpf, MPF_LEN);

	return mem_write(gm, PLAT_MPTABLE_ADDR, buf, len);
}
