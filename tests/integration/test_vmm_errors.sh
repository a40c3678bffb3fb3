#!/usr/bin/env bash
# haneul-vmm refuses bad kernel files and bad arguments: non-zero exit, a
# clear message on stderr naming the problem, no hang (every run under
# timeout), and no guest started.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/_common.sh"

KERNEL_CASES=(kernel_empty kernel_random_bytes kernel_truncated_elf_header kernel_truncated_elf_segments
	kernel_elf32_class kernel_missing kernel_directory)
ARG_CASES=(args_mem_1M args_mem_garbage args_vcpus_0 args_vcpus_33 args_vcpus_garbage args_no_kernel
	args_unknown_option)

if [ ! -x "$VMM" ]; then
	for c in "${KERNEL_CASES[@]}" "${ARG_CASES[@]}"; do skip "$c" "$VMM not built"; done
	exit 0
fi
T=$(tmpdir_new)
trap 'rm -rf "$T"' EXIT

# expect_refusal NAME REGEX ARGS... : the VMM must exit non-zero (not by
# timeout) and say something matching REGEX (case-insensitive) on stderr.
expect_refusal() {
	local name=$1 rx=$2 want_rc=${WANT_RC:-} rc err
	shift 2
	timeout -k 5 20 "$VMM" "$@" </dev/null >"$T/out" 2>"$T/err"
	rc=$?
	err=$(head -c 400 "$T/err" | tr '\n' ' ')
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then fail "$name" "hung (killed by timeout)"
	elif [ "$rc" -eq 0 ]; then fail "$name" "exit status 0; stderr: $err"
	elif [ -n "$want_rc" ] && [ "$rc" -ne "$want_rc" ]; then fail "$name" "exit status $rc, want $want_rc (usage error); stderr: $err"
	elif ! grep -Eiq -- "$rx" "$T/err"; then fail "$name" "exit $rc but stderr does not match /$rx/: $err"
	elif grep -q 'haneul-ready' "$T/out"; then fail "$name" "a guest ran"
	else pass "$name"; echo "# $name: exit $rc: $err"
	fi
}

: >"$T/empty"
head -c 65536 /dev/urandom >"$T/random"
if [ -f "$TINY_ELF" ]; then
	head -c 64 "$TINY_ELF" >"$T/trunc_hdr"         # ELF header, program headers cut off
	head -c 5000 "$TINY_ELF" >"$T/trunc_seg"       # headers intact, PT_LOAD data cut off
	cp "$TINY_ELF" "$T/elf32"; printf '\001' | dd of="$T/elf32" bs=1 seek=4 conv=notrunc status=none
fi
mkdir "$T/dir"

if ! have_kvm; then
	for c in "${KERNEL_CASES[@]}"; do skip "$c" "$KVM_WHY"; done
elif [ ! -f "$TINY_ELF" ]; then
	for c in "${KERNEL_CASES[@]}"; do skip "$c" "$TINY_ELF not built"; done
else
	K=(--vcpus 1 --mem 64M --kernel)
	expect_refusal kernel_empty 'kernel' "${K[@]}" "$T/empty"
	expect_refusal kernel_random_bytes 'kernel' "${K[@]}" "$T/random"
	expect_refusal kernel_truncated_elf_header 'kernel' "${K[@]}" "$T/trunc_hdr"
	expect_refusal kernel_truncated_elf_segments 'kernel' "${K[@]}" "$T/trunc_seg"
	expect_refusal kernel_elf32_class 'kernel' "${K[@]}" "$T/elf32"
	expect_refusal kernel_missing 'kernel|no such file' "${K[@]}" "$T/does-not-exist"
	expect_refusal kernel_directory 'kernel|directory' "${K[@]}" "$T/dir"
fi

# Argument errors are found before /dev/kvm is touched: no KVM needed.
# haneul-vmm --help: "exit status ... 2 usage".
KF=${TINY_ELF}
export WANT_RC=2
expect_refusal args_mem_1M 'mem' --kernel "$KF" --vcpus 1 --mem 1M
expect_refusal args_mem_garbage 'mem' --kernel "$KF" --vcpus 1 --mem 12Q
expect_refusal args_vcpus_0 'vcpus' --kernel "$KF" --vcpus 0 --mem 64M
expect_refusal args_vcpus_33 'vcpus' --kernel "$KF" --vcpus 33 --mem 64M
expect_refusal args_vcpus_garbage 'vcpus' --kernel "$KF" --vcpus two --mem 64M
expect_refusal args_no_kernel 'kernel' --vcpus 1 --mem 64M
expect_refusal args_unknown_option 'bogus|unrecognized|unknown|usage' --kernel "$KF" --vcpus 1 --mem 64M --bogus
