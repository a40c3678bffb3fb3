#!/usr/bin/env bash
# bench/io/run.sh - block I/O inside a Linux guest, haneul-vmm against QEMU
# -M microvm with virtio-blk on the same raw file, in one nested outer VM
# (tests/nested/harness.sh; see docs/testing-nested.md).  Not a test: it
# prints figures and ratios and asserts nothing.
#
#   RUNS=3 MIB=64 SECS=4 bench/io/run.sh        (make bench-io)
#
# Both VMMs: buffered host I/O on the same file (haneul: preadv/pwritev on
# its worker thread, FLUSH = fdatasync; QEMU: cache=writeback, aio=threads,
# the same semantics), O_DIRECT inside the guest (bench/io/iotool): 1 MiB
# sequential write (+ fdatasync) and read, 4 KiB random read and write at
# queue depth 1.  The file lives in the outer VM's tmpfs (it has no disk),
# so the figures measure the virtio path and the VMM, not a disk.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
O=${O:-build}
case "$O" in /*) ;; *) O=$root/$O ;; esac
RUNS=${RUNS:-3} MIB=${MIB:-64} SECS=${SECS:-4}
out=$O/bench/io
mkdir -p "$out"
for f in "$O/haneul-vmm" "$O/bench/iotool" "$O/images/linux/initrd.img"; do
	[ -e "$f" ] || { echo "bench/io: $f missing (make bench-io builds it)" >&2; exit 1; }
done
command -v qemu-system-x86_64 >/dev/null || { echo "bench/io: qemu-system-x86_64 missing (apt-get install -y qemu-system-x86)" >&2; exit 1; }

echo "bench/io: $RUNS runs each, $MIB MiB sequential, ${SECS}s per random test (outer VM under TCG, a few minutes)" >&2
raw=$out/nested.txt
[ -n "${REPORT_ONLY:-}" ] || HANEUL_HARNESS_LOG=$out/console.log O=$O "$root/tests/nested/harness.sh" --timeout $((120 + RUNS * 240)) \
	--file "$here/nested.sh:bin/bench-io-nested.sh" -- \
	"RUNS=$RUNS MIB=$MIB SECS=$SECS sh /haneul/bin/bench-io-nested.sh" >"$raw" 2>&1
hrc=$?
grep -v '^BENCH ' "$raw" | sed 's/^/  | /' >&2
[ "$hrc" = 0 ] || echo "bench/io: nested run ended with status $hrc (console: $out/console.log)" >&2

median() { sort -n | awk '{ v[NR] = $1 } END { if (!NR) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f\n", a / b }'; }
get() { grep "^BENCH $1 [0-9]* $2 " "$raw" | sed -n "s/.* $3=\([0-9.]*\).*/\1/p" | median; }

# Per-op: the medians of each VMM, and the median of the per-run ratios
# (run i of haneul-vmm against run i of QEMU, started back to back): under
# TCG on a shared host the load changes from minute to minute, and adjacent
# pairs see the most similar conditions.
pair_ratios() { # OP FIELD
	local i=1 h q
	while [ "$i" -le "$RUNS" ]; do
		h=$(grep "^BENCH haneul $i $1 " "$raw" | sed -n "s/.* $2=\([0-9.]*\).*/\1/p")
		q=$(grep "^BENCH qemu $i $1 " "$raw" | sed -n "s/.* $2=\([0-9.]*\).*/\1/p")
		[ -n "$h" ] && [ -n "$q" ] && ratio "$h" "$q"
		i=$((i + 1))
	done
}
printf '%-10s %16s %16s %14s %16s\n' op haneul-vmm qemu-microvm "median ratio" "per-run ratios"
for op in seqwrite seqread randread randwrite; do
	case $op in seq*) f=mbps u=MB/s ;; *) f=iops u=IOPS ;; esac
	h=$(get haneul $op $f) q=$(get qemu $op $f)
	rs=$(pair_ratios $op $f)
	printf '%-10s %11s %-4s %11s %-4s %14s %16s\n' $op "$h" $u "$q" $u \
		"$(echo "$rs" | grep . | median)" "$(echo $rs | tr ' ' ,)"
done
echo "(haneul-vmm / QEMU, higher = haneul-vmm faster; raw lines in $raw)"
