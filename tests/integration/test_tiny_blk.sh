#!/usr/bin/env bash
# The tiny guest's virtio-blk driver on the local /dev/kvm: write + flush a
# sector, check the host image file, power off, boot again, read it back.
# Under QEMU -M microvm (*_under_qemu) and under haneul-vmm once it has
# --drive (*_under_haneul).  Cases: tests/integration/tiny_net.py (blk).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/_common.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
CASES="tiny_blk_write_flush_read tiny_blk_host_image_has_guest_write tiny_blk_read_back_after_reboot"

skip_all() {
	local c
	for c in $CASES; do skip "${c}_under_$1" "$2"; done
}

why=""
if ! have_kvm; then why=$KVM_WHY
elif [ ! -f "$TINY_ELF" ]; then why="$TINY_ELF not built"
elif [ ! -x "$PY" ]; then why="$PY missing"
fi
if [ -n "$why" ]; then skip_all qemu "$why"; skip_all haneul "$why"; exit 0; fi

if command -v qemu-system-x86_64 >/dev/null; then
	timeout -k 5 180 "$PY" "$HERE/tiny_net.py" blk qemu
else
	skip_all qemu "qemu-system-x86_64 not installed (apt-get install qemu-system-x86)"
fi

if [ ! -x "$VMM" ]; then
	skip_all haneul "$VMM not built"
elif ! "$VMM" --help 2>&1 | grep -q -- '--drive'; then
	skip_all haneul "haneul-vmm has no --drive option yet (virtio-blk not wired in)"
else
	timeout -k 5 180 "$PY" "$HERE/tiny_net.py" blk haneul
fi
exit 0
