#!/usr/bin/env bash
# tests/nested/test_linux.sh - haneul-vmm boots Debian's stock cloud kernel
# with real KVM (one outer VM, see tests/nested/linux_cases.sh for the cases
# and docs/testing-nested.md).  About 1 minute.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.sh"
cases=(bzimage_1vcpu_poweroff bzimage_2vcpu_poweroff reboot_same_process
       shutdown_ctrl_alt_del elf_vmlinux_boot bad_kernel_file)
mkdir -p "$BUILD"
if [ ! -x "$VMM" ]; then
	for c in "${cases[@]}"; do skip "$c" "$VMM not built (make)"; done
	exit 0
fi
nested_prepare "${cases[@]}" || exit 0
files=(--file "$HANEUL_ROOT/tests/nested/linux_cases.sh:bin/linux_cases.sh")
if [ ! -x "$BUILD/bench/bootwatch" ]; then
	make -s -C "$HANEUL_ROOT" O="$O" "$O/bench/bootwatch" >/dev/null 2>&1 || true
fi
[ -x "$BUILD/bench/bootwatch" ] && files+=(--file "$BUILD/bench/bootwatch:bin/bootwatch")

O=$O "$HANEUL_ROOT/tests/nested/harness.sh" --timeout 600 "${files[@]}" -- 'sh /haneul/bin/linux_cases.sh'
rc=$?
if [ "$rc" -ne 0 ]; then
	fail nested_harness "harness exit status $rc (outer console: $BUILD/nested/console.log)"
fi
