#!/usr/bin/env bash
# bench/boot/run.sh - boot time and memory overhead of haneul-vmm against
# QEMU -M microvm, side by side (see docs/testing-nested.md).  Not a test:
# it prints figures and ratios, it asserts nothing.
#
#   RUNS=5 VCPUS=2 MEM_MIB=256 bench/boot/run.sh
#
# 1. Nested (tests/nested/harness.sh, real KVM inside QEMU TCG): Debian's
#    cloud kernel + the images/linux initramfs; time from VMM process start
#    to the line "haneul-ready linux ..."; RSS minus guest RAM touched.
#    haneul-vmm boots the bzImage (vmlinuz); QEMU microvm the ELF vmlinux
#    through its PVH note (QEMU_KERNEL=vmlinuz to give it the bzImage;
#    QEMU_MACHINE=microvm,rtc=off to drop the RTC whose probe costs Linux
#    ~2.5 s there; CMDLINE_EXTRA="initcall_blacklist=cmos_init" skips
#    that probe in both guests).
# 2. Local /dev/kvm: the tiny guest (build/images/tiny/tiny.elf) under both.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
O=${O:-build}
case "$O" in /*) ;; *) O=$root/$O ;; esac
RUNS=${RUNS:-5} VCPUS=${VCPUS:-2} MEM_MIB=${MEM_MIB:-256}
BW=$O/bench/bootwatch VMM=$O/haneul-vmm TINY=$O/images/tiny/tiny.elf
out=$O/bench/boot
mkdir -p "$out"

for f in "$BW" "$VMM"; do
	[ -x "$f" ] || { echo "bench/boot: $f missing (make bench-boot builds it)" >&2; exit 1; }
done
command -v qemu-system-x86_64 >/dev/null || { echo "bench/boot: qemu-system-x86_64 missing (apt-get install -y qemu-system-x86)" >&2; exit 1; }

# median of the numbers on stdin (empty -> "-")
median() { sort -n | awk '{ v[NR] = $1 } END { if (!NR) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# field KEY: the value of KEY=... in each line of stdin
field() { sed -n "s/.*[ ]$1=\\([0-9.]*\\).*/\\1/p"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b }'; }
ms() { awk -v u="$1" 'BEGIN { if (u == "-") print "-"; else printf "%.1f", u / 1000 }'; }
mib() { awk -v k="$1" 'BEGIN { if (k == "-") print "-"; else printf "%.1f", k / 1024 }'; }

# ---- 1. nested Linux ----
echo "bench/boot: nested Linux boots: $RUNS runs each, $VCPUS vCPUs, $MEM_MIB MiB (outer VM under TCG, a few minutes)" >&2
nested=$out/nested.txt
O=$O "$root/tests/nested/harness.sh" --timeout $((120 + RUNS * 80)) \
	--file "$here/nested.sh:bin/bench-nested.sh" --file "$BW:bin/bootwatch" -- \
	"RUNS=$RUNS VCPUS=$VCPUS MEM_MIB=$MEM_MIB QEMU_KERNEL=${QEMU_KERNEL:-vmlinux} QEMU_MACHINE=${QEMU_MACHINE:-microvm} CMDLINE_EXTRA='${CMDLINE_EXTRA:-}' sh /haneul/bin/bench-nested.sh" >"$nested" 2>&1
hrc=$?
grep -v '^BENCH ' "$nested" | sed 's/^/  | /' >&2
[ "$hrc" = 0 ] || echo "bench/boot: nested run ended with status $hrc (console: $O/nested/console.log)" >&2

# haneul's RSS overhead: metrics JSON when it has rss/guest fields, else smaps.
haneul_over() {
	grep "^BENCH haneul .* rc=0 " "$nested" | while read -r l; do
		rss=$(echo "$l" | sed -n 's/.*"rss_bytes": *\([0-9]*\).*/\1/p')
		g=$(echo "$l" | sed -n 's/.*"guest_resident_bytes": *\([0-9]*\).*/\1/p')
		if [ -n "$rss" ] && [ -n "$g" ]; then
			echo $(( (rss - g) / 1024 ))
		else
			r=$(echo "$l" | field rss_kb) g=$(echo "$l" | field guest_rss_kb)
			[ -n "$r" ] && [ -n "$g" ] && echo $((r - g))
		fi
	done
}
qemu_over() {
	grep "^BENCH qemu .* rc=0 " "$nested" | while read -r l; do
		r=$(echo "$l" | field rss_kb) g=$(echo "$l" | field guest_rss_kb)
		[ -n "$r" ] && [ -n "$g" ] && echo $((r - g))
	done
}
h_ready=$(grep '^BENCH haneul .* rc=0 ' "$nested" | field ready_us | median)
q_ready=$(grep '^BENCH qemu .* rc=0 ' "$nested" | field ready_us | median)
h_n=$(grep -c '^BENCH haneul .* rc=0 ' "$nested")
q_n=$(grep -c '^BENCH qemu .* rc=0 ' "$nested")
h_rss=$(grep '^BENCH haneul .* rc=0 ' "$nested" | field rss_kb | median)
q_rss=$(grep '^BENCH qemu .* rc=0 ' "$nested" | field rss_kb | median)
h_over=$(haneul_over | median)
q_over=$(qemu_over | median)

# ---- 2. local tiny guest ----
t_h=- t_q=- t_hn=0 t_qn=0 t_hrss=- t_qrss=-
if [ -f "$TINY" ] && [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
	: >"$out/tiny.txt"
	for i in $(seq "$RUNS"); do
		echo "haneul $i $("$BW" --timeout 30 --marker 'haneul-ready tiny' --log "$out/tiny-haneul.log" --stop term -- \
			"$VMM" --kernel "$TINY" --vcpus 1 --mem 64M | tr '\n' ' ')" >>"$out/tiny.txt"
		echo "qemu $i $("$BW" --timeout 30 --marker 'haneul-ready tiny' --log "$out/tiny-qemu.log" --stop term -- \
			qemu-system-x86_64 -M microvm -enable-kvm -cpu qemu64 -m 64M -smp 1 -nodefaults \
			-no-user-config -display none -serial stdio -no-reboot \
			-device isa-debug-exit,iobase=0xf4,iosize=0x04 -kernel "$TINY" | tr '\n' ' ')" >>"$out/tiny.txt"
	done
	t_h=$(grep '^haneul ' "$out/tiny.txt" | sed 's/^/ /' | field ready_us | median)
	t_q=$(grep '^qemu ' "$out/tiny.txt" | sed 's/^/ /' | field ready_us | median)
	t_hn=$(grep '^haneul ' "$out/tiny.txt" | grep -c ready_us=)
	t_qn=$(grep '^qemu ' "$out/tiny.txt" | grep -c ready_us=)
	t_hrss=$(grep '^haneul ' "$out/tiny.txt" | sed 's/^/ /' | field hwm_kb | median)
	t_qrss=$(grep '^qemu ' "$out/tiny.txt" | sed 's/^/ /' | field hwm_kb | median)
else
	echo "bench/boot: tiny part skipped (no $TINY or no usable /dev/kvm)" >&2
fi

printf '\n%-44s %12s %12s %8s\n' "boot benchmark (medians)" "haneul-vmm" "qemu-microvm" "ratio"
printf '%-44s %12s %12s %8s\n' "nested Linux: start -> haneul-ready (ms)" "$(ms "$h_ready")" "$(ms "$q_ready")" "$(ratio "$h_ready" "$q_ready")"
printf '%-44s %12s %12s %8s\n' "nested Linux: RSS at ready (MiB)" "$(mib "$h_rss")" "$(mib "$q_rss")" "$(ratio "$h_rss" "$q_rss")"
printf '%-44s %12s %12s %8s\n' "nested Linux: RSS - guest RAM touched (MiB)" "$(mib "$h_over")" "$(mib "$q_over")" "$(ratio "$h_over" "$q_over")"
printf '%-44s %12s %12s %8s\n' "local tiny: start -> haneul-ready (ms)" "$(ms "$t_h")" "$(ms "$t_q")" "$(ratio "$t_h" "$t_q")"
printf '%-44s %12s %12s %8s\n' "local tiny: peak RSS (MiB)" "$(mib "$t_hrss")" "$(mib "$t_qrss")" "$(ratio "$t_hrss" "$t_qrss")"
printf 'runs ok: nested haneul %s/%s, qemu %s/%s; tiny haneul %s/%s, qemu %s/%s\n' \
	"$h_n" "$RUNS" "$q_n" "$RUNS" "$t_hn" "$RUNS" "$t_qn" "$RUNS"
echo "nested kernels: haneul-vmm vmlinuz (bzImage), qemu -M ${QEMU_MACHINE:-microvm} ${QEMU_KERNEL:-vmlinux}; extra cmdline: '${CMDLINE_EXTRA:-}'; raw lines: $nested"
