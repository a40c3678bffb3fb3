#!/usr/bin/env bash
# The tiny guest's PVH entry under QEMU -M microvm on the local /dev/kvm
# (independent of haneul-vmm).  Case in tiny_cases.py (qemu).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/_common.sh"
if ! have_kvm; then skip qemu_microvm_pvh_boot "$KVM_WHY"; exit 0; fi
if ! command -v qemu-system-x86_64 >/dev/null; then
	skip qemu_microvm_pvh_boot "qemu-system-x86_64 not installed (apt-get install qemu-system-x86)"; exit 0
fi
if [ ! -f "$TINY_ELF" ]; then skip qemu_microvm_pvh_boot "$TINY_ELF not built"; exit 0; fi
exec "$PY" "$(dirname "$0")/tiny_cases.py" qemu "$@"
