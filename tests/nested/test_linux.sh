#!/usr/bin/env bash
# tests/nested/test_linux.sh - haneul-vmm boots Debian's stock cloud kernel
# with real KVM (one outer VM, see tests/nested/linux_cases.sh for the cases
# and docs/testing-nested.md), then volumes, hot attach/detach, the NIC in
# a VPC, vsock + haneul-agent, flush-then-kill and hibernate/resume of a
# busy guest (devices_cases.sh), all in the same outer boot.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.sh"
cases=(bzimage_1vcpu_poweroff bzimage_2vcpu_poweroff reboot_same_process
       shutdown_ctrl_alt_del elf_vmlinux_boot bad_kernel_file
       root_volume_boot vsock_agent_ready http_via_tap detach_guest_sees_it agent_vsock_shutdown
       hot_attach_seen reattach_same_bytes flush_then_kill
       hibernate_resume_linux hibernate_heavy_writes_acked)
mkdir -p "$BUILD"
if [ ! -x "$VMM" ]; then
	for c in "${cases[@]}"; do skip "$c" "$VMM not built (make)"; done
	exit 0
fi
nested_prepare "${cases[@]}" || exit 0
files=(--file "$HANEUL_ROOT/tests/nested/linux_cases.sh:bin/linux_cases.sh"
       --file "$HANEUL_ROOT/tests/nested/devices_cases.sh:bin/devices_cases.sh")
# Host-side tools for devices_cases.sh (it SKIPs its cases when one is missing).
for t in nested/nestctl bench/iotool haneul-net; do
	[ -x "$BUILD/$t" ] || make -s -C "$HANEUL_ROOT" O="$O" "$O/$t" >/dev/null 2>&1 || true
	[ -x "$BUILD/$t" ] && files+=(--file "$BUILD/$t:bin/${t##*/}")
done
dbgfs=$(command -v debugfs || echo /usr/sbin/debugfs)
[ -x "$dbgfs" ] && files+=(--file "$dbgfs:bin/debugfs")
if [ ! -x "$BUILD/bench/bootwatch" ]; then
	make -s -C "$HANEUL_ROOT" O="$O" "$O/bench/bootwatch" >/dev/null 2>&1 || true
fi
[ -x "$BUILD/bench/bootwatch" ] && files+=(--file "$BUILD/bench/bootwatch:bin/bootwatch")

O=$O "$HANEUL_ROOT/tests/nested/harness.sh" --timeout 900 "${files[@]}" -- \
	'sh /haneul/bin/linux_cases.sh; sh /haneul/bin/devices_cases.sh'
rc=$?
if [ "$rc" -ne 0 ]; then
	fail nested_harness "harness exit status $rc (outer console: $BUILD/nested/console.log)"
fi
