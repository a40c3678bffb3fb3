# images/tiny: the freestanding tiny guest, build/images/tiny/tiny.elf.
# Its own flags: no libc, no SSE, no red zone, no sanitizers (SANITIZE and
# EXTRA_CFLAGS are for host binaries, never for guest code).
TINY_ELF  := $(O)/images/tiny/tiny.elf
TINY_OBJS := $(addprefix $(O)/images/tiny/,entry.o uart.o tiny.o clock.o virtio.o vblk.o vnet.o \
	net.o http.o)
TINY_CFLAGS := -std=gnu11 -O2 -g $(WARN) -I. \
	-ffreestanding -nostdlib -fno-builtin -fno-pic -fno-pie -mcmodel=small \
	-mno-red-zone -mno-sse -mno-mmx -mgeneral-regs-only \
	-fno-stack-protector -fcf-protection=none -fno-asynchronous-unwind-tables \
	-fno-strict-aliasing
TINY_LDFLAGS := -nostdlib -static -no-pie -Wl,--build-id=none \
	-Wl,-z,max-page-size=4096 -Wl,-z,noexecstack -Wl,--no-warn-rwx-segments

$(O)/images/tiny/%.o: images/tiny/%.c
	@mkdir -p $(@D)
	$(CC) $(TINY_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(O)/images/tiny/%.o: images/tiny/%.S
	@mkdir -p $(@D)
	$(CC) $(TINY_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(TINY_ELF): $(TINY_OBJS) images/tiny/tiny.ld
	$(CC) $(TINY_CFLAGS) $(TINY_LDFLAGS) -T images/tiny/tiny.ld $(TINY_OBJS) -o $@

EXTRA_ALL += $(TINY_ELF)

tiny: $(TINY_ELF)
.PHONY: tiny
