# images/linux: Debian's stock cloud kernel + a busybox initramfs and an ext4
# root volume (docs/testing-nested.md).  `make linux-image` downloads (once,
# into ~/.cache/haneul) and builds $(O)/images/linux/{vmlinuz,vmlinux,
# initrd.img,rootfs.ext4}.  Not part of `make`: it needs the package registry
# the first time.  The script itself skips the work when its outputs are
# newer than its inputs.  The guest carries haneul-agent and bench/io's
# iotool, so they are built first.
linux-image: $(O)/haneul-agent $(O)/bench/iotool
	O=$(O) images/linux/build.sh $(O)/images/linux

# nestctl: the Unix-socket client the nested tests run in the outer VM.
$(O)/nested/nestctl: tests/nested/nestctl.c
	@mkdir -p $(@D)
	$(CC) $(filter-out -fsanitize=%,$(CFLAGS)) -static $< -o $@

EXTRA_ALL += $(O)/nested/nestctl

.PHONY: linux-image
