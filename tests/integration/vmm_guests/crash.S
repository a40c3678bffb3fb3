/* A guest that prints "hi" on COM1 and then executes int3 with no IDT:
 * KVM reports an emulation failure (local PVM) or a triple fault, so
 * haneul-vmm must either exit 3 "guest crashed" or reset; the test only
 * accepts the crash path when the first boot cannot continue. */
	.code64
	.globl _start
_start:
	mov $0x3f8, %dx
	mov $'h', %al
	out %al, %dx
	mov $'i', %al
	out %al, %dx
	mov $'\n', %al
	out %al, %dx
	int3
	hlt
