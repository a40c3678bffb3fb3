# bench/: side-by-side benchmarks (not run by `make test`).
# `make bench-boot`: bench/boot/run.sh (needs `make linux-image` and QEMU).
$(O)/bench/bootwatch: bench/boot/bootwatch.c
	@mkdir -p $(@D)
	$(CC) $(filter-out -fsanitize=%,$(CFLAGS)) -static $< -o $@

bench-boot: $(O)/haneul-vmm $(O)/bench/bootwatch $(O)/images/tiny/tiny.elf linux-image
	O=$(O) bench/boot/run.sh

.PHONY: bench-boot

# bootwatch is also what the nested tests use to count markers and speak to
# the control socket inside the outer VM, so `make` builds it.
EXTRA_ALL += $(O)/bench/bootwatch
