/* A hostile virtio-blk driver (slot 0 = the first --drive, vmm/platform.h):
 * it sets the queue up properly, then offers garbage chains - a buffer
 * outside guest RAM, a descriptor loop, a 4 GiB length - and after each one
 * prints 'N' on COM1 if the device reports DEVICE_NEEDS_RESET ('x' if not).
 * Then it resets the device, sends a well-formed GET_ID request and prints
 * the serial and "S<status>", so the test sees the device still works, and
 * powers off.  64-bit, CPL 0, polls (PV IDLE between polls, no interrupts). */
	.code64
	.globl _start
	.set VIO, 0xd0000000
	.set DESC, 0x300000
	.set AVAIL, 0x301000
	.set USED, 0x302000

.macro DESCR idx, addr, len, flags, next
	movabs $\addr, %rax
	mov %rax, DESC + 16 * \idx
	movl $\len, DESC + 16 * \idx + 8
	movw $\flags, DESC + 16 * \idx + 12
	movw $\next, DESC + 16 * \idx + 14
.endm

_start:
	mov $VIO, %ebx
	/* 1: a buffer in the MMIO hole, not RAM */
	call setup
	DESCR 0, 0xfffff000, 0x1000, 2, 0
	call submit
	call wait_nr
	/* 2: a descriptor loop 0 -> 1 -> 0 */
	call setup
	DESCR 0, 0x303000, 16, 1, 1
	DESCR 1, 0x303000, 16, 1, 0
	call submit
	call wait_nr
	/* 3: a 4 GiB - 1 byte buffer */
	call setup
	DESCR 0, 0x303000, 0xffffffff, 2, 0
	call submit
	call wait_nr
	/* 4: a good GET_ID request after a reset */
	call setup
	movl $8, 0x303000            /* type = VIRTIO_BLK_T_GET_ID */
	movl $0, 0x303004
	movq $0, 0x303008
	DESCR 0, 0x303000, 16, 1, 1
	DESCR 1, 0x304000, 20, 3, 2
	DESCR 2, 0x305000, 1, 2, 0
	movb $0xff, 0x305000
	call submit
	mov $400, %ecx
1:	cmpw $1, USED + 2
	je 2f
	call idle
	dec %ecx
	jnz 1b
2:	mov $0x3f8, %dx
	mov $' ', %al
	out %al, %dx
	mov $0x304000, %esi
	mov $20, %ecx
3:	mov (%rsi), %al
	test %al, %al
	jz 4f
	out %al, %dx
	inc %esi
	dec %ecx
	jnz 3b
4:	mov $' ', %al
	out %al, %dx
	mov $'S', %al
	out %al, %dx
	mov 0x305000, %al
	add $'0', %al
	out %al, %dx
	mov $'\n', %al
	out %al, %dx
	mov $0x600, %dx              /* ACPI S5: power off */
	mov $0x34, %al
	out %al, %dx
5:	hlt
	jmp 5b

/* Reset, negotiate VERSION_1, one queue of 8 at DESC/AVAIL/USED, DRIVER_OK. */
setup:
	movl $0, 0x70(%rbx)
	movl $3, 0x70(%rbx)
	movl $1, 0x24(%rbx)
	movl $1, 0x20(%rbx)
	movl $0, 0x24(%rbx)
	movl $0, 0x20(%rbx)
	movl $0xb, 0x70(%rbx)
	movl $0, 0x30(%rbx)
	movl $8, 0x38(%rbx)
	movl $DESC, 0x80(%rbx)
	movl $0, 0x84(%rbx)
	movl $AVAIL, 0x90(%rbx)
	movl $0, 0x94(%rbx)
	movl $USED, 0xa0(%rbx)
	movl $0, 0xa4(%rbx)
	movw $0, AVAIL
	movw $0, AVAIL + 2
	movw $0, USED + 2
	movl $1, 0x44(%rbx)
	movl $0xf, 0x70(%rbx)
	ret

/* Offer head 0 and kick queue 0. */
submit:
	movw $0, AVAIL + 4
	movw $1, AVAIL + 2
	movl $0, 0x50(%rbx)
	ret

idle:
	push %rax
	push %rdx
	mov $0x610, %dx
	mov $5, %eax
	out %eax, %dx
	pop %rdx
	pop %rax
	ret

wait_nr:
	mov $400, %ecx
1:	mov 0x70(%rbx), %eax
	test $0x40, %eax
	jnz 2f
	call idle
	dec %ecx
	jnz 1b
	mov $'x', %al
	jmp 3f
2:	mov $'N', %al
3:	mov $0x3f8, %dx
	out %al, %dx
	ret
