# images/linux: Debian's stock cloud kernel + a busybox test initramfs.
# `make linux-image` downloads (once, into ~/.cache/haneul) and builds
# $(O)/images/linux/{vmlinuz,vmlinux,initrd.img}.  Not part of `make`: it
# needs the package registry the first time.  The script itself skips the
# work when its outputs are newer than its inputs.
linux-image:
	O=$(O) images/linux/build.sh $(O)/images/linux

.PHONY: linux-image
