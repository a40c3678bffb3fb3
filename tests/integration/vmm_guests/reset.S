/* A guest that prints "R" on COM1 and resets through the ACPI reset
 * register, forever: every boot is one reboot of haneul-vmm. */
	.code64
	.globl _start
_start:
	mov $0x3f8, %dx
	mov $'R', %al
	out %al, %dx
	mov $0x602, %dx
	mov $1, %al
	out %al, %dx
1:	jmp 1b
