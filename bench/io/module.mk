# bench/io: block throughput and IOPS inside a Linux guest, haneul-vmm vs
# QEMU -M microvm on the same file, in one nested outer VM (bench/io/run.sh).
# iotool is static and also goes into the Linux guest image (images/linux).
$(O)/bench/iotool: bench/io/iotool.c
	@mkdir -p $(@D)
	$(CC) $(filter-out -fsanitize=%,$(CFLAGS)) -static $< -o $@

EXTRA_ALL += $(O)/bench/iotool

bench-io: $(O)/haneul-vmm $(O)/bench/iotool $(O)/nested/nestctl linux-image
	O=$(O) bench/io/run.sh

.PHONY: bench-io
